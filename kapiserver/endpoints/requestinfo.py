"""
RequestInfo: what a request asks for, read off its method, path and query as
upstream's RequestInfoFactory does (verb, API prefix, group, version,
namespace, resource, name, subresource, and the rest of the path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote_to_bytes

# Path steps after a namespace's name that are subresources of that namespace,
# not resources inside it.
_NAMESPACE_SUBRESOURCES = frozenset(("status", "finalize"))

_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
          "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    """Frozen: one RequestInfo is shared by every request of the same method, path and watch parameter."""
    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    rest: tuple[str, ...] = ()   # after name/subresource (proxy paths)


def is_true(values: Optional[list[bytes]]) -> bool:
    """Query booleans as apimachinery reads them: absent, "0" and "false" are
    false; anything else (even "" and "True") is true."""
    if not values:
        return False
    value = values[0].decode("utf-8", "replace")
    return value != "0" and value.lower() != "false"


def request_info(method: str, path: str, args: dict[bytes, list[bytes]]) -> RequestInfo:
    lower_verb = method.lower()
    parts = tuple(path.strip("/").split("/")) if path.strip("/") else ()
    if len(parts) < 2 or parts[0] not in ("api", "apis"):
        return RequestInfo(False, path, lower_verb, parts=parts)
    api_prefix, api_group, current = parts[0], "", parts[1:]
    if api_prefix == "apis":
        if len(current) < 2:
            # /apis/{group}: group discovery.
            return RequestInfo(False, path, lower_verb, parts=parts)
        api_group, current = current[0], current[1:]
    api_version, current = current[0], current[1:]
    if not current:
        return RequestInfo(False, path, lower_verb, parts=parts)
    verb = _VERBS.get(method, lower_verb)
    if current[0] == "watch":
        # The deprecated /watch/ path prefix.
        verb, current = "watch", current[1:]
        if not current:
            return RequestInfo(False, path, lower_verb, parts=parts)
    namespace = ""
    if current[0] == "namespaces" and len(current) > 1:
        namespace = current[1]
        if len(current) > 2 and current[2] not in _NAMESPACE_SUBRESOURCES:
            current = current[2:]
    name = current[1] if len(current) > 1 else ""
    if not name:
        verb = {"get": "list", "delete": "deletecollection"}.get(verb, verb)
        # ?watch=1 makes a list a watch; a named GET stays a GET (its watch is the /watch/ path's, or a
        # fieldSelector on metadata.name), as upstream's RequestInfoFactory reads it.
        if verb == "list" and is_true(args.get(b"watch")):
            verb = "watch"
    return RequestInfo(True, path, verb, api_prefix=api_prefix, api_group=api_group, api_version=api_version,
                       namespace=namespace, resource=current[0], name=name,
                       subresource=current[2] if len(current) > 2 else "", parts=parts, rest=current[3:])


# Where a request keeps its parsed RequestInfo (see request_info_of).
_PARSED = "_kapi_request_info"
# RequestInfos already read, by method, path and watch parameter (all a RequestInfo is read from), shared by
# the requests that have them: a RequestInfo is frozen.  Forgotten all at once past the limit.
_READ: dict = {}
READ_LIMIT = 4096


def request_info_of(request) -> RequestInfo:
    """The RequestInfo of a twisted.web request, parsed on first use and kept on the request:
    the runtime's long-running check and the API root read the same one."""
    info = getattr(request, _PARSED, None)
    if info is None:
        watch = request.args.get(b"watch")
        key = (request.method, request.path, watch[0] if watch else None)
        info = _READ.get(key)
        if info is None:
            # Methods are ASCII tokens; latin-1 reads any byte rather than failing on it.
            # The path as Go's url.URL.Path holds it, percent-decoded (the Python client sends system:node
            # as system%3Anode), before it is split.
            path = request.path
            if b"%" in path:
                path = unquote_to_bytes(path)
            info = request_info(request.method.decode("latin-1"), path.decode("utf-8", "replace"), request.args)
            if len(_READ) >= READ_LIMIT:
                _READ.clear()
            _READ[key] = info
        setattr(request, _PARSED, info)
    return info

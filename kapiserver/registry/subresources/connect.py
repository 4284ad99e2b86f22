"""
The connect subresources (pods exec, attach, portforward, proxy; services and nodes
proxy): the options object each is admitted with, read from the request's query as
upstream's connecters' NewConnectOptions and parameter decoding give it, and the
CONNECT Attributes carrying it.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from ..attributes import CONNECT, DISCARD, Attributes, GroupVersionKind, GroupVersionResource

# (resource, subresource) -> the kind of its options object (core/v1).
OPTIONS_KINDS = {("pods", "exec"): "PodExecOptions", ("pods", "attach"): "PodAttachOptions",
                 ("pods", "portforward"): "PodPortForwardOptions", ("pods", "proxy"): "PodProxyOptions",
                 ("services", "proxy"): "ServiceProxyOptions", ("nodes", "proxy"): "NodeProxyOptions"}
_STREAM_FLAGS = ("stdin", "stdout", "stderr", "tty")


def _flag(values: Sequence[str]) -> bool:
    # Go's query-parameter conversion to bool: only "0" and "false" are false.
    return bool(values) and values[0] != "0" and values[0].lower() != "false"


def connect_options(resource: str, subresource: str, query: Mapping[str, Sequence[str]],
                    rest: Sequence[str] = (), trailing_slash: bool = False) -> Optional[dict]:
    """The options object (PodExecOptions, ...) of a connect request, as JSON; None when
    ``resource/subresource`` is not a connect subresource.  ``rest`` is the path after the
    subresource (a proxy's path)."""
    kind = OPTIONS_KINDS.get((resource, subresource))
    if kind is None:
        return None
    options: dict = {"kind": kind, "apiVersion": "v1"}
    if subresource in ("exec", "attach"):
        for flag in _STREAM_FLAGS:
            if _flag(query.get(flag) or ()):
                options[flag] = True
        container = (query.get("container") or [""])[0]
        if container:
            options["container"] = container
        if subresource == "exec":
            options["command"] = list(query.get("command") or ()) or None
    elif subresource == "portforward":
        ports = [int(p) for p in query.get("ports") or () if p.strip().isdigit()]
        if ports:
            options["ports"] = ports
    else:
        path = "/".join(rest)
        if path and not path.startswith("/"):
            path = "/" + path
        if trailing_slash and not path.endswith("/"):
            path += "/"
        if path:
            options["path"] = path
    return options


def connect_attributes(info, subresource: str, namespace: str, name: str, options: dict,
                       user_info=None, record=DISCARD) -> Attributes:
    """The CONNECT Attributes of a request on ``info``'s ``subresource``: the options object is the object."""
    return Attributes(CONNECT, GroupVersionKind(info.group, info.version, options["kind"]),
                      GroupVersionResource(info.group, info.version, info.resource), subresource, name,
                      namespace or "", options, user_info=user_info, record=record)

"""What the apiserver decides about a pod's stream subresources before it asks the kubelet: which container
a request means (upstream's validateContainer in pkg/registry/core/pod/strategy.go), the PodLogOptions of a
pods/log request (the query's conversion, a 400 when a value does not convert, then ValidatePodLogOptions'
422), the kubelet's containerLogs query made from them, and a kubelet's error answer turned into the Status
upstream's GenericHttpResponseChecker makes of it."""

from __future__ import annotations

import calendar
import re
from typing import Mapping, Optional, Sequence
from urllib.parse import urlencode

from . import errors
from .gojson import go_quote
from .meta import rfc3339

_INT = re.compile(r"[+-]?[0-9]+\Z")
_INT64 = (-(1 << 63), (1 << 63) - 1)
RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"


def pod_containers(pod: dict) -> list:
    """The names of the pod's containers in podutil.VisitContainers' order: init, regular, ephemeral."""
    spec = pod.get("spec") or {}
    return [c.get("name", "") for kind in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(kind) or []]


def choose_container(pod: dict, name: str) -> str:
    """The container a log, exec or attach request means: the one named (which must be one of the pod's, of any
    kind), else the pod's only regular container; a 400 otherwise."""
    pod_name = pod["metadata"]["name"]
    if name:
        if name not in pod_containers(pod):
            raise errors.bad_request(f"container {name} is not valid for pod {pod_name}")
        return name
    regular = (pod.get("spec") or {}).get("containers") or []
    if len(regular) == 1:
        return regular[0].get("name", "")
    if not regular:
        raise errors.bad_request(f"a container name must be specified for pod {pod_name}")
    # Go's %s of a []string: the names in brackets, space-separated.
    raise errors.bad_request(f"a container name must be specified for pod {pod_name}, "
                             f"choose one of: [{' '.join(pod_containers(pod))}]")


def _go_bool(values: Sequence[str]) -> bool:
    # runtime.Convert_Slice_string_To_bool: only "0" and (any case) "false" are false.
    return bool(values) and values[0] != "0" and values[0].lower() != "false"


def _go_int64(values: Sequence[str]) -> int:
    text = values[0]
    if not _INT.match(text):
        raise errors.bad_request(f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise errors.bad_request(f"strconv.ParseInt: parsing {go_quote(text)}: value out of range")
    return value


def log_options(name: str, query: Mapping[str, Sequence[str]]) -> dict:
    """The PodLogOptions of a pods/log request on pod ``name``, as JSON (only the fields given).  A value that
    does not convert is a 400 with Go's conversion error; options that do not validate, the 422 of
    PodLogOptions with each field's error."""
    options: dict = {}
    container = query.get("container") or []
    if container and container[0]:
        options["container"] = container[0]
    for flag in ("follow", "previous", "timestamps", "insecureSkipTLSVerifyBackend"):
        if _go_bool(query.get(flag) or []):
            options[flag] = True
    for field in ("sinceSeconds", "tailLines", "limitBytes"):
        if query.get(field):
            options[field] = _go_int64(query[field])
    since_time = query.get("sinceTime")
    if since_time:
        text = since_time[0]
        # metav1.Time's query parameter: empty or "null" is the zero time, anything else RFC 3339.
        options["sinceTime"] = "0001-01-01T00:00:00Z" if text in ("", "null") else rfc3339(parse_rfc3339(text) // 1)
    problems = []
    if options.get("tailLines", 0) < 0:
        problems.append(errors.invalid("tailLines", options["tailLines"], "must be greater than or equal to 0"))
    if "limitBytes" in options and options["limitBytes"] < 1:
        problems.append(errors.invalid("limitBytes", options["limitBytes"], "must be greater than 0"))
    if "sinceSeconds" in options and "sinceTime" in options:
        problems.append(errors.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif options.get("sinceSeconds", 1) < 1:
        problems.append(errors.invalid("sinceSeconds", options["sinceSeconds"], "must be greater than 0"))
    if problems:
        raise errors.invalid_object("", "PodLogOptions", name, problems)
    return options


def kubelet_log_query(options: dict) -> str:
    """The query of the kubelet's /containerLogs request: the options the kubelet reads, keys sorted (Go's
    url.Values.Encode)."""
    params = {}
    for flag in ("follow", "previous", "timestamps"):
        if options.get(flag):
            params[flag] = "true"
    for field in ("sinceSeconds", "sinceTime", "tailLines", "limitBytes"):
        if field in options:
            params[field] = str(options[field])
    return urlencode(sorted(params.items()))


# How much of an error answer's body is read (upstream's response checker's maxReadLength).
MAX_READ_LENGTH = 50000


def kubelet_error(code: int, body: bytes, resource: str, name: str) -> errors.StatusError:
    """The Status of a kubelet's answer outside 200-206 (GenericHttpResponseChecker): a 400 its body as a
    BadRequest's message, a 500 an InternalError, anything else a generic error of that code about the pod.
    A body that is already a Status (kapiserver's kube-node answers with one) gives its message."""
    text = body[:MAX_READ_LENGTH].decode("utf-8", "replace")
    if text.startswith("{"):
        try:
            from . import codec
            decoded = codec.loads(text)
            if isinstance(decoded, dict) and decoded.get("kind") == "Status" and "message" in decoded:
                text = decoded["message"]
        except ValueError:
            pass
    if code == 400:
        return errors.bad_request(text)
    if code == 500:
        return errors.internal_error(text)
    return generic_error(code, text, resource, name)


# NewGenericServerResponse's reason and message by code; others: InternalError from 500 up, else Unknown.
_GENERIC = {400: ("BadRequest", "the server rejected our request for an unknown reason"),
            401: ("Unauthorized", "the server has asked for the client to provide credentials"),
            404: ("NotFound", "the server could not find the requested resource"),
            405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
            409: ("Conflict", "the server reported a conflict"),
            422: ("Invalid", "the server rejected our request due to an error in our request"),
            429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
            503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
            504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                             "processing the request")}


def generic_error(code: int, text: str, resource: str, name: str) -> errors.StatusError:
    """apimachinery's NewGenericServerResponse as the response checker calls it: no verb (hence the message's
    "( pods/log NAME)"), the resource as the details' kind, no causes."""
    if code == 403:
        reason, message = "Forbidden", text
    elif code == 406:
        reason = "NotAcceptable"
        message = text if text and text != "unknown" else \
            "the server was unable to respond with a content type that the client supports"
    elif code == 415:
        reason, message = "UnsupportedMediaType", text
    elif code in _GENERIC:
        reason, message = _GENERIC[code]
    elif code >= 500:
        reason, message = "InternalError", f"an error on the server ({go_quote(text)}) has prevented the request " \
                                           f"from succeeding"
    else:
        reason, message = "", f"the server responded with the status code {code} but did not return more information"
    details = {"name": name, "kind": resource} if name else {"kind": resource}
    return errors.StatusError(code, reason, f"{message} ( {resource} {name})" if name else f"{message} ( {resource})",
                              details)


# -- Go's time.Parse with the RFC 3339 layout ------------------------------------------------------------------
# (layout element, kind) in order; the kinds: a literal, or a number of fixed or at most two digits.
_LAYOUT = (("2006", "year"), ("-", None), ("01", "month"), ("-", None), ("02", "day"), ("T", None),
           ("15", "hour"), (":", None), ("04", "minute"), (":", None), ("05", "second"), ("Z07:00", "zone"))


def _parse_error(value: str, rest: str, element: str) -> errors.StatusError:
    return errors.bad_request(f"parsing time {go_quote(value)} as {go_quote(RFC3339_LAYOUT)}: cannot parse "
                              f"{go_quote(rest)} as {go_quote(element)}")


def _range_error(value: str, what: str) -> errors.StatusError:
    return errors.bad_request(f"parsing time {go_quote(value)}: {what} out of range")


def _number(rest: str, fixed: bool):
    if not rest[:1].isdigit():
        return None, rest
    if not rest[1:2].isdigit():
        return (None, rest) if fixed else (int(rest[0]), rest[1:])
    return int(rest[:2]), rest[2:]


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 time; a 400 with Go's time.Parse error when it is not one."""
    rest, fields, offset = value, {}, 0
    for element, kind in _LAYOUT:
        if kind is None:
            if not rest.startswith(element):
                raise _parse_error(value, rest, element)
            rest = rest[len(element):]
        elif kind == "year":
            if len(rest) < 4 or not rest[:4].isdigit():
                raise _parse_error(value, rest, element)
            fields["year"], rest = int(rest[:4]), rest[4:]
        elif kind == "zone":
            if rest.startswith("Z"):
                rest = rest[1:]
                continue
            if len(rest) < 6 or rest[3] != ":" or rest[0] not in "+-" or not (rest[1:3] + rest[4:6]).isdigit():
                raise _parse_error(value, rest, element)
            offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
            rest = rest[6:]
        else:
            number, after = _number(rest, fixed=kind not in ("hour",))
            if number is None:
                raise _parse_error(value, rest, element)
            limits = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
            low, high = limits[kind]
            if not low <= number <= high:
                raise _range_error(value, kind)
            fields[kind], rest = number, after
            if kind == "second" and len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit():
                digits = 1
                while digits < len(rest) and rest[digits].isdigit():
                    digits += 1
                fields["fraction"], rest = float("0." + rest[1:digits]), rest[digits:]
    if rest:
        raise errors.bad_request(f"parsing time {go_quote(value)}: extra text: {go_quote(rest)}")
    year, month, day = fields["year"], fields["month"], fields["day"]
    if day > calendar.monthrange(year, month)[1]:
        raise _range_error(value, "day")
    return (calendar.timegm((year, month, day, fields["hour"], fields["minute"], fields["second"]))
            + fields.get("fraction", 0.0) - offset)


def log_path(namespace: str, name: str, container: str, options: Optional[dict]) -> str:
    """The kubelet's containerLogs path and query for ``options``."""
    from urllib.parse import quote
    query = kubelet_log_query(options or {})
    return f"/containerLogs/{quote(namespace)}/{quote(name)}/{quote(container)}" + (f"?{query}" if query else "")


def unscheduled(pod: dict, subresource: str, query: Mapping[str, Sequence[str]]) -> bool:
    """A stream request on a pod bound to no node: the container is checked first (log, exec, attach); a log
    then has nothing to read (True: upstream answers 204 No Content), the others are a 400."""
    if subresource in ("log", "exec", "attach"):
        choose_container(pod, (query.get("container") or [""])[0])
    if subresource == "log":
        return True
    raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")

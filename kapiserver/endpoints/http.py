"""Writing responses: objects, Status errors, and the headers every API answer carries."""

from __future__ import annotations

import functools
import traceback

from twisted.logger import Logger
from twisted.web.http import NO_BODY_CODES, HTTPChannel

from ..listener import call_each
from ..machinery import codec, errors
from ..machinery.errors import StatusError

log = Logger()


# What every API answer carries unless its handler said otherwise (as upstream's).
CACHE_CONTROL = b"no-cache, private"


def set_common_headers(request, content_type: str) -> None:
    request.setHeader(b"Content-Type", content_type.encode())
    if not request.responseHeaders.hasHeader(b"Cache-Control"):
        request.setHeader(b"Cache-Control", CACHE_CONTROL)


def when_finished(request, callback) -> None:
    """Call ``callback(result)`` once ``request`` has been answered (result None) or its client has gone (a
    Failure), as ``request.notifyFinish().addBoth(callback)`` would. The callbacks run in the order they were
    given; one that raises is logged and does not stop the others. The API's requests (listener.RawBodyRequest)
    keep them themselves; any other (twisted.web's own) shares one notifyFinish Deferred among the layers that
    ask (a request's limits, flow control, metrics and root each do)."""
    on_finish = getattr(request, "on_finish", None)
    if on_finish is not None:
        on_finish(callback)
        return
    callbacks = getattr(request, "_kapi_when_finished", None)
    if callbacks is None:
        callbacks = request._kapi_when_finished = []
        request.notifyFinish().addBoth(_finished, callbacks)
    callbacks.append(callback)


def _finished(result, callbacks: list) -> None:
    call_each(callbacks, result)
    callbacks.clear()


def write_bytes(request, code: int, content_type: str, body: bytes) -> None:
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(code)
    if not _write_whole(request, content_type, body):
        set_common_headers(request, content_type)
        request.setHeader(b"Content-Length", str(len(body)).encode())
        if request.method != b"HEAD":
            request.write(body)
    request.finish()


# A body past this size goes to a connection that can send it behind its head without joining the two
# (listener.FlushingConnection.write_parts); a smaller one is joined to its head and written once.
BIG_BODY = 64 * 1024

# Headers write_bytes sets itself: a response that already has one of these goes twisted.web's way.
_OWN_HEADERS = frozenset((b"Content-Type", b"Content-Length", b"Transfer-Encoding"))


def _write_whole(request, content_type: str, body: bytes) -> bool:
    """An HTTP/1.x answer in one write: the status line, the headers set so far, Content-Type, Cache-Control
    (unless set), Content-Length, then the body, the bytes twisted.web's Request.write would send (in the same
    order) without building them piece by piece. False, having written nothing, where twisted.web must: an
    HTTP/2 stream, a HEAD request or a code without a body, a response encoder, headers already sent, or one
    of the headers above already set."""
    if (getattr(type(getattr(request, "channel", None)), "writeHeaders", None) is not HTTPChannel.writeHeaders
            or request.startedWriting or request.method == b"HEAD" or request.code in NO_BODY_CODES
            or getattr(request, "_encoder", None) is not None or request.lastModified is not None
            or request.etag is not None or request.cookies):
        return False
    head = [request.clientproto, b" %d " % request.code, request.code_message, b"\r\n"]
    cache_control = True
    for name, values in request.responseHeaders.getAllRawHeaders():
        if name in _OWN_HEADERS:
            return False
        if name == b"Cache-Control":
            cache_control = False
        for value in values:
            head += (name, b": ", value, b"\r\n")
    head += (b"Content-Type: ", _header_value(content_type), b"\r\n")
    if cache_control:
        head += (b"Cache-Control: ", CACHE_CONTROL, b"\r\n")
    head.append(b"Content-Length: %d\r\n\r\n" % len(body))
    request.startedWriting = 1
    request.sentLength = len(body)
    transport = request.channel.transport
    # The connection's own class, asked rather than the object: a TLS layer passes unknown attributes on to the
    # TCP connection beneath it, whose write_parts would send the bytes around the encryption.
    if len(body) > BIG_BODY and getattr(type(transport), "write_parts", None) is not None:
        transport.write_parts(b"".join(head), body)      # a big body is not copied behind its head
    else:
        head.append(body)
        request.channel.write(b"".join(head))
    return True


@functools.lru_cache(maxsize=64)
def _header_value(value: str) -> bytes:
    # What twisted.web's Headers makes of a header value: UTF-8, with line breaks made spaces.
    return b" ".join(value.encode().splitlines())


def write_status(request, error: StatusError) -> None:
    write_bytes(request, error.code, "application/json", codec.encode(error.to_status()))


def write_failure(request, exc: BaseException) -> None:
    """An error from a handler: a Status error as it is, anything else a 500 (a bug)."""
    if isinstance(exc, StatusError):
        write_status(request, exc)
        return
    from ..storage import Unavailable
    if isinstance(exc, Unavailable):
        # Storage cannot be reached: fail fast, and say so without its addresses.
        log.warn("storage unavailable serving {method} {path}: {error}", method=request.method,
                 path=request.path, error=str(exc))
        write_status(request, errors.service_unavailable("the storage backend is unavailable; try again later"))
        return
    log.error("internal error serving {method} {path}: {tb}", method=request.method, path=request.path,
              tb="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    write_status(request, errors.internal_error(f"{type(exc).__name__}: {exc}"))


def read_body(request, max_bytes: int) -> bytes:
    request.content.seek(0)
    body = request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise errors.request_entity_too_large("limit is %d" % max_bytes)
    return body


def query(request, name: str, default: str = "") -> str:
    values = request.args.get(name.encode())
    if not values:
        return default
    return values[0].decode("utf-8", "replace")


def query_int(request, name: str, default=None):
    text = query(request, name)
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f'invalid value "{text}" for query parameter {name}: must be an integer') \
            from None

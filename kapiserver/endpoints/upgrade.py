"""Taking a connection over from twisted.web once a request asks to switch protocols (WebSocket,
SPDY/3.1) or to be relayed byte for byte to a node: after this, the connection belongs to the
protocol given and twisted.web's channel no longer reads or writes it."""

from __future__ import annotations

from twisted.protocols.policies import ProtocolWrapper


def request_head(request, path: bytes = None, extra_headers=(), drop=()) -> bytes:
    """The request line and headers as the client sent them (path and headers rewritable)."""
    lines = [request.method + b" " + (path if path is not None else request.uri) + b" HTTP/1.1"]
    dropped = {d.lower() for d in drop} | {name.lower() for name, _ in extra_headers}
    for name, values in request.requestHeaders.getAllRawHeaders():
        if name.lower() in dropped:
            continue
        for value in values:
            lines.append(name + b": " + value)
    for name, value in extra_headers:
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def hijack(request, protocol, replay: bytes = b"") -> None:
    """Give the request's connection to `protocol`: `replay` first, then any bytes the channel had buffered."""
    channel = request.channel
    transport = channel.transport
    channel.setTimeout(None)
    buffered = b"".join(getattr(channel, "_dataBuffer", []) or [])
    if hasattr(channel, "_dataBuffer"):
        channel._dataBuffer = []
    try:
        transport.unregisterProducer()
    except (RuntimeError, AttributeError):
        pass
    channel.transport = None
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = protocol
    else:
        transport.protocol = protocol
    # twisted.web marks the request finished so it neither times out nor writes a response.
    request.finished = True
    protocol.makeConnection(transport)
    resume = getattr(transport, "resumeProducing", None)
    if resume is not None:
        resume()
    if replay or buffered:
        protocol.dataReceived(replay + buffered)


def header_values(request, name: bytes) -> list:
    """Every value of a header, comma lists split, as Go's header parsing sees them."""
    out = []
    for value in request.requestHeaders.getRawHeaders(name) or []:
        out.extend(v.strip().decode("latin-1") for v in value.split(b",") if v.strip())
    return out


def is_upgrade_request(request) -> bool:
    """Whether the request asks to upgrade its connection, as upstream's httpstream.IsUpgradeRequest decides it:
    a Connection header mentioning "upgrade" (an Upgrade header alone is no upgrade request)."""
    return any(b"upgrade" in value.lower() for value in request.requestHeaders.getRawHeaders(b"connection") or ())


def wants_upgrade(request, protocol: str) -> bool:
    """Whether the request is an upgrade request (is_upgrade_request) naming ``protocol`` in its Upgrade header,
    as upstream's wsstream.IsWebSocketRequest decides it for "websocket"."""
    upgrades = [v.lower() for v in header_values(request, b"upgrade")]
    return is_upgrade_request(request) and protocol.lower() in upgrades

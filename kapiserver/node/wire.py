"""The kubelet's streaming wire protocols: exec/attach over channel WebSockets (v5..v1.channel.k8s.io)
and over SPDY/3.1; port-forward over SPDY/3.1 (plain, or tunnelled in a WebSocket as kubectl 1.32
does first) and over v4 channel WebSockets (the Python client)."""

from __future__ import annotations

import json
import struct
from typing import Dict, List, Optional

from twisted.internet import protocol
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from ..endpoints import spdy
from ..endpoints.upgrade import hijack
from ..endpoints.websocket import Session

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                     "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_CHANNEL = {"stdout": STDOUT, "stderr": STDERR}
PORT_FORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"


# The most bytes of a stream one channel frame carries: the kubelet copies a stream through a 32 KiB buffer and
# sends each read as one WebSocket message, so a client may hold a message to 64 KiB (httpx-ws's default limit
# refuses a 65,537-byte one).
CHANNEL_CHUNK = 32 * 1024


def send_channel(ws, channel: int, data: bytes) -> None:
    """``data`` on ``channel`` as messages of at most CHANNEL_CHUNK bytes of it each."""
    head = bytes([channel])
    for at in range(0, len(data), CHANNEL_CHUNK):
        ws.send(head + data[at:at + CHANNEL_CHUNK])


class ChannelExec(Session):
    """exec/attach over a channel WebSocket: one byte of channel, then the payload."""
    protocols = CHANNEL_PROTOCOLS

    def __init__(self, make_run):
        self.make_run = make_run
        self.ws = None
        self.run = None
        self.version = None

    def opened(self, ws, protocol):
        self.ws = ws
        self.version = protocol
        self.run = self.make_run(self)
        self.run.start()

    # the sink
    def write(self, name: str, data: bytes) -> None:
        if self.ws is not None and data:
            send_channel(self.ws, _CHANNEL[name], data)

    def finish(self, status: dict) -> None:
        if self.ws is None:
            return
        if self.version in (None, "channel.k8s.io", "v2.channel.k8s.io"):
            # The oldest protocols carry only an error text, and nothing on success.
            if status.get("status") != "Success":
                self.ws.send(bytes([ERROR]) + status.get("message", "").encode())
        else:
            self.ws.send(bytes([ERROR]) + json.dumps(status).encode())
        self.ws.close(1000)

    # from the client
    def message(self, payload: bytes, binary: bool) -> None:
        if not payload or self.run is None:
            return
        channel, data = payload[0], payload[1:]
        if channel == STDIN:
            self.run.write_stdin(data)
        elif channel == RESIZE:
            self.run.resize(data)
        elif channel == CLOSE and data[:1] == bytes([STDIN]):
            self.run.close_stdin()

    def closed(self) -> None:
        if self.run is not None:
            self.run.stop()


class _Raw(protocol.Protocol):
    """A connection that hands its bytes and its end to two callbacks (a taken-over
    client connection feeding a SPDY session, or a pod port being forwarded)."""

    def __init__(self, on_data, on_lost):
        self.on_data = on_data
        self.on_lost = on_lost

    def dataReceived(self, data):
        self.on_data(data)

    def connectionLost(self, reason=None):
        self.on_lost()


def serve_spdy(request, chosen_protocol: Optional[str], on_stream, on_close) -> spdy.Session:
    """Answer a SPDY/3.1 upgrade and run a session over the connection."""
    raw = _Raw(lambda data: session.data_received(data), lambda: session.close())
    session = spdy.Session(lambda data: raw.transport.write(data), on_stream, on_close)
    hijack(request, raw)
    head = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    if chosen_protocol:
        head += b"X-Stream-Protocol-Version: " + chosen_protocol.encode() + b"\r\n"
    raw.transport.write(head + b"\r\n")
    session.transport = raw.transport
    return session


class SPDYExec:
    """exec/attach over SPDY: wait for the streams the query asked for, then run."""

    def __init__(self, make_run, stdin: bool, stdout: bool, stderr: bool, tty: bool, version: str):
        self.make_run = make_run
        self.expected = 1 + stdin + stdout + (stderr and not tty) + (tty and version != "channel.k8s.io")
        self.streams: Dict[str, spdy.Stream] = {}
        self.run = None
        self.session = None
        self.version = version

    def on_stream(self, stream: spdy.Stream) -> None:
        stream.reply()
        self.streams[stream.type] = stream
        if stream.type == "stdin":
            stream.on_data = lambda data: self.run and self.run.write_stdin(data)
            stream.on_remote_close = lambda: self.run and self.run.close_stdin()
        elif stream.type == "resize":
            buffer = [b""]

            def resize(data):
                buffer[0] += data
                while b"\n" in buffer[0]:
                    line, buffer[0] = buffer[0].split(b"\n", 1)
                    self.run and self.run.resize(line)
            stream.on_data = resize
        if len(self.streams) >= self.expected and self.run is None:
            self.run = self.make_run(self)
            self.run.start()

    def write(self, name: str, data: bytes) -> None:
        stream = self.streams.get(name)
        if stream is not None and data:
            stream.write(data)

    def finish(self, status: dict) -> None:
        error = self.streams.get("error")
        if error is not None:
            if self.version in ("v4.channel.k8s.io", "v5.channel.k8s.io"):
                error.write(json.dumps(status).encode())
            elif status.get("status") != "Success":
                error.write(status.get("message", "").encode())
        for name in ("stdout", "stderr", "error"):
            if name in self.streams:
                self.streams[name].close()

    def on_close(self) -> None:
        if self.run is not None:
            self.run.stop()


class SPDYPortForward:
    """port-forward streams: a pair (error, data) per request id; data is relayed to the pod's port."""

    def __init__(self, reactor, host: str):
        self.reactor = reactor
        self.host = host
        self.pairs: Dict[str, Dict[str, spdy.Stream]] = {}

    def on_stream(self, stream: spdy.Stream) -> None:
        stream.reply()
        request_id = stream.headers.get("requestid", str(stream.id))
        pair = self.pairs.setdefault(request_id, {})
        pair[stream.type] = stream
        if stream.type == "data":
            self._connect(stream, pair)

    def _connect(self, data: spdy.Stream, pair):
        try:
            port = int(data.headers.get("port", ""))
        except ValueError:
            self._error(pair, f"invalid port {data.headers.get('port')!r}")
            return
        pending: List[bytes] = []
        state = {"conn": None, "client_done": False, "lost": False}

        def client_data(chunk):
            if state["lost"]:
                return
            if state["conn"] is not None:
                state["conn"].transport.write(chunk)
            else:
                pending.append(chunk)

        def client_closed():
            # The client is done sending: half-close towards the pod, which still may answer.
            state["client_done"] = True
            # The pod may have closed first: its connection is gone, with nothing left to half-close.
            if state["conn"] is not None and not state["lost"]:
                state["conn"].transport.loseWriteConnection()
        data.on_data = client_data
        data.on_remote_close = client_closed
        data.on_reset = lambda: state["conn"] is not None and not state["lost"] and \
            state["conn"].transport.loseConnection()

        def lost():
            state["lost"] = True
            data.close()
            error = pair.get("error")
            if error is not None:
                error.close()
            self.pairs = {k: v for k, v in self.pairs.items() if v is not pair}
        conn = _Raw(data.write, lost)
        d = connectProtocol(TCP4ClientEndpoint(self.reactor, self.host, port, timeout=10), conn)

        def connected(_):
            state["conn"] = conn
            for chunk in pending:
                conn.transport.write(chunk)
            pending.clear()
            if state["client_done"]:
                client_closed()

        def failed(failure):
            self._error(pair, f"error forwarding port {port} to pod: failed to connect to "
                              f"{self.host}:{port}: {failure.getErrorMessage()}")
            data.close()
        d.addCallbacks(connected, failed)

    def _error(self, pair, message: str):
        error = pair.get("error")
        if error is not None:
            error.write(message.encode())
            error.close()

    def on_close(self):
        pass


class TunnelledSPDY(Session):
    """kubectl's port-forward over WebSocket: the binary messages carry a SPDY/3.1 byte stream
    (empty messages included, which are not the end of it)."""
    protocols = (PORT_FORWARD_TUNNEL,)

    def __init__(self, handler):
        self.handler = handler
        self.session = None

    def opened(self, ws, protocol):
        self.session = spdy.Session(ws.send, self.handler.on_stream, self.handler.on_close)

    def message(self, payload, binary):
        if self.session is not None and payload:
            self.session.data_received(payload)

    def closed(self):
        if self.session is not None:
            self.session.close()


class ChannelPortForward(Session):
    """The Python client's port-forward: v4 channels, a data and an error channel per port."""
    protocols = ("v4.channel.k8s.io",)

    def __init__(self, reactor, host: str, ports: List[int]):
        self.reactor = reactor
        self.host = host
        self.ports = ports
        self.conns = {}
        self.pending: Dict[int, List[bytes]] = {}
        self.finished = set()
        self.ws = None

    def opened(self, ws, protocol):
        self.ws = ws
        for index, port in enumerate(self.ports):
            prefix = struct.pack("<H", port)
            ws.send(bytes([2 * index]) + prefix)
            ws.send(bytes([2 * index + 1]) + prefix)
            self._connect(index, port)

    def _connect(self, index, port):
        self.pending[index] = []
        conn = _Raw(lambda data: send_channel(self.ws, 2 * index, data), lambda: self._lost(index))
        d = connectProtocol(TCP4ClientEndpoint(self.reactor, self.host, port, timeout=10), conn)

        def connected(_):
            self.conns[index] = conn
            for chunk in self.pending.pop(index, []):
                conn.transport.write(chunk)

        def failed(failure):
            self.ws.send(bytes([2 * index + 1]) + f"error forwarding port {port} to pod: "
                         f"{failure.getErrorMessage()}".encode())
            self.pending.pop(index, None)
            self._lost(index)
        d.addCallbacks(connected, failed)

    def _lost(self, index):
        # One connection per port per WebSocket, as the kubelet's channel port-forward has it: when
        # every port's connection has ended, the WebSocket ends too (the client's sockets see EOF).
        self.conns.pop(index, None)
        self.finished.add(index)
        if len(self.finished) == len(self.ports) and self.ws is not None:
            self.ws.close(1000)

    def message(self, payload, binary):
        if not payload:
            return
        channel, data = payload[0], payload[1:]
        if channel % 2 or channel // 2 >= len(self.ports):
            return
        index = channel // 2
        if index in self.conns:
            self.conns[index].transport.write(data)
        elif index in self.pending:
            self.pending[index].append(data)

    def closed(self):
        for conn in list(self.conns.values()):
            conn.transport.loseConnection()

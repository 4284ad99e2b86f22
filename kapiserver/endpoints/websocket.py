"""WebSocket (RFC 6455, via autobahn) for the streaming subresources: a request taken over from
twisted.web is handed to an autobahn server protocol, which calls a session with its messages."""

from __future__ import annotations

from typing import Optional, Sequence

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

from .upgrade import hijack, request_head

_factory = None


def _server_factory() -> WebSocketServerFactory:
    global _factory
    if _factory is None:
        _factory = WebSocketServerFactory()
        # Large tar streams (kubectl cp) arrive as big messages; clients ping us, we need not ping them.
        _factory.setProtocolOptions(maxFramePayloadSize=0, maxMessagePayloadSize=0,
                                    openHandshakeTimeout=30, closeHandshakeTimeout=5,
                                    autoPingInterval=0, failByDrop=False)
    return _factory


class Session:
    """What a WebSocket session does: pick a subprotocol, then react to messages."""
    protocols: Sequence[str] = ()

    def choose(self, offered: Sequence[str]) -> Optional[str]:
        for protocol in self.protocols:
            if protocol in offered:
                return protocol
        return None

    def opened(self, ws: "SessionProtocol", protocol: Optional[str]) -> None:
        pass

    def message(self, payload: bytes, binary: bool) -> None:
        pass

    def closed(self) -> None:
        pass


class SessionProtocol(WebSocketServerProtocol):
    session: Session = None
    chosen: Optional[str] = None

    def onConnect(self, request):
        self.chosen = self.session.choose(request.protocols)
        return self.chosen

    def onOpen(self):
        self.session.opened(self, self.chosen)

    def onMessage(self, payload, isBinary):
        self.session.message(payload, isBinary)

    def onClose(self, wasClean, code, reason):
        session, self.session = self.session, Session()
        if session is not None:
            session.closed()

    def send(self, payload: bytes) -> None:
        if self.state == self.STATE_OPEN:
            self.sendMessage(payload, isBinary=True)

    def close(self, code: int = 1000) -> None:
        if self.state == self.STATE_OPEN:
            self.sendClose(code=code)


def serve_websocket(request, session: Session) -> None:
    """Answer the upgrade and run `session` over the request's connection."""
    protocol = SessionProtocol()
    protocol.factory = _server_factory()
    protocol.session = session
    hijack(request, protocol, replay=request_head(request))

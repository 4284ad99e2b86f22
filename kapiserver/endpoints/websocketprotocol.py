"""The autobahn side of endpoints/websocket.py: the server protocol that hands a session its messages."""

from __future__ import annotations

from typing import Optional

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

_factory = None


def server_factory() -> WebSocketServerFactory:
    global _factory
    if _factory is None:
        _factory = WebSocketServerFactory()
        # Large tar streams (kubectl cp) arrive as big messages; clients ping us, we need not ping them.
        _factory.setProtocolOptions(maxFramePayloadSize=0, maxMessagePayloadSize=0,
                                    openHandshakeTimeout=30, closeHandshakeTimeout=5,
                                    autoPingInterval=0, failByDrop=False)
    return _factory


class SessionProtocol(WebSocketServerProtocol):
    session = None   # the websocket.Session this connection serves
    chosen: Optional[str] = None

    def onConnect(self, request):
        self.chosen = self.session.choose(request.protocols)
        return self.chosen

    def onOpen(self):
        self.session.opened(self, self.chosen)

    def onMessage(self, payload, isBinary):
        if self.session is not None:
            self.session.message(payload, isBinary)

    def onClose(self, wasClean, code, reason):
        session, self.session = self.session, None
        if session is not None:
            session.closed()

    def send(self, payload: bytes, binary: bool = True) -> None:
        """Sends one message while the connection is open (a closing one takes no more)."""
        if self.state == self.STATE_OPEN:
            self.sendMessage(payload, isBinary=binary)

    def close(self, code: int = 1000) -> None:
        if self.state == self.STATE_OPEN:
            self.sendClose(code=code)

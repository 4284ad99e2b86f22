"""WebSocket (RFC 6455, via autobahn) for the streaming subresources: a request taken over from
twisted.web is handed to an autobahn server protocol, which calls a session with its messages.

autobahn is imported with the first upgrade (websocketprotocol.py), not at start: it is a fifth of the
server's import time."""

from __future__ import annotations

from typing import Optional, Sequence

from .upgrade import hijack, request_head


class Session:
    """What a WebSocket session does: pick a subprotocol, then react to messages."""
    protocols: Sequence[str] = ()

    def choose(self, offered: Sequence[str]) -> Optional[str]:
        for protocol in self.protocols:
            if protocol in offered:
                return protocol
        return None

    def opened(self, ws, protocol: Optional[str]) -> None:
        """`ws` is the open connection (websocketprotocol.SessionProtocol): `send(payload)`, `close(code)`."""

    def message(self, payload: bytes, binary: bool) -> None:
        pass

    def closed(self) -> None:
        pass


def serve_websocket(request, session: Session) -> None:
    """Answer the upgrade and run `session` over the request's connection."""
    from .websocketprotocol import SessionProtocol, server_factory
    protocol = SessionProtocol()
    protocol.factory = server_factory()
    protocol.session = session
    hijack(request, protocol, replay=request_head(request))

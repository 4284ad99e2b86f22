"""What goes out on a WebSocket whose closing handshake has begun: nothing, and no error for the sender
(a watch event or a log chunk arriving after the client's close frame)."""

from __future__ import annotations

from kapiserver.endpoints.watch import WebSocketTransport
from kapiserver.endpoints.websocketprotocol import SessionProtocol


class _Recording(SessionProtocol):
    def __init__(self, state):
        super().__init__()
        self.state = state
        self.sent = []

    def sendMessage(self, payload, isBinary=False, **_):
        self.sent.append((payload, isBinary))


def test_a_watch_sends_text_messages_while_open_and_nothing_once_closing():
    transport = WebSocketTransport(request=None)
    transport.ws = _Recording(SessionProtocol.STATE_OPEN)
    transport.send([b'{"type":"ADDED"}\n'])
    assert transport.ws.sent == [(b'{"type":"ADDED"}\n', False)]
    closing = transport.ws = _Recording(SessionProtocol.STATE_CLOSING)
    transport.send([b'{"type":"MODIFIED"}\n'])      # raised autobahn's Disconnected before
    assert closing.sent == []

"""HTTP/2 on the secure port: when TLS's ALPN settles on "h2" (kubectl and every client-go program ask
for it first), the connection is served by Twisted's HTTP/2 stack instead of the HTTP/1.1 channel.

Twisted's own switch builds its HTTP/2 connection with the h2 library's defaults; this one builds it with
upstream's limits instead: as many concurrent streams as --http2-max-streams-per-connection allows (Go's
250 when the flag is 0, since client-go multiplexes watches and requests on one connection), the same
1 MiB header limit as HTTP/1.1, and Go's idle timeout, which spares a connection with a stream open.
"""

from __future__ import annotations

import h2.settings
import priority
from h2.settings import SettingCodes
from twisted.web import http
from twisted.web._http2 import H2Connection

GO_DEFAULT_MAX_STREAMS = 250
_HEADER_LIST_BYTES = 1 << 20


# DATA frames one connection sends per reactor turn before letting other work run.
FRAMES_PER_TURN = 64


class _TurnRecorder:
    """Stands in for the reactor while frames are sent: Twisted's send loop asks for its next turn with
    callLater(0, ...); the request is noted instead, and the loop goes on in the same turn."""

    def __init__(self, noted: list, reactor):
        self.noted = noted
        self.reactor = reactor

    def seconds(self) -> float:
        return self.reactor.seconds()

    def callLater(self, delay, f, *args, **kwargs):
        self.noted.append((f, args, kwargs))


class StreamTurns:
    """What Twisted's send loop asks of the priority library's tree (insert, block, unblock, remove, next),
    without priorities: the streams with data to send take turns, a frame each, in the order they became ready,
    as Go's HTTP/2 server schedules by default (and RFC 9113 deprecates the priority signals).  The tree popped
    every blocked stream for each frame it scheduled and rebuilt its heap whenever a stream ended: with a
    controller manager's 90 idle watches on one connection that was most of a busy apiserver's long turns.
    Here each call is O(1)."""

    def __init__(self):
        self._streams: set = set()
        self._ready: dict = {}      # the unblocked streams, in turn order (dicts keep insertion order)

    def _known(self, stream_id: int) -> None:
        if stream_id not in self._streams:
            raise priority.MissingStreamError(f"Stream {stream_id} not in tree")

    def insert_stream(self, stream_id: int, depends_on=None, weight: int = 16, exclusive: bool = False) -> None:
        if stream_id in self._streams:
            raise priority.DuplicateStreamError(f"Stream {stream_id} already in tree")
        self._streams.add(stream_id)
        self._ready[stream_id] = None

    def reprioritize(self, stream_id: int, depends_on=None, weight: int = 16, exclusive: bool = False) -> None:
        self._known(stream_id)

    def remove_stream(self, stream_id: int) -> None:
        self._known(stream_id)
        self._streams.discard(stream_id)
        self._ready.pop(stream_id, None)

    def block(self, stream_id: int) -> None:
        self._known(stream_id)
        self._ready.pop(stream_id, None)

    def unblock(self, stream_id: int) -> None:
        self._known(stream_id)
        self._ready.setdefault(stream_id, None)

    def __iter__(self):
        return self

    def __next__(self) -> int:
        if not self._ready:
            raise priority.DeadlockError("No unblocked streams to schedule.")
        stream_id = next(iter(self._ready))
        del self._ready[stream_id]
        self._ready[stream_id] = None       # to the back of the turn
        return stream_id



class LocalAddressOnce:
    """A channel that asks its socket for the two addresses once: twisted.web's Request asks for both in its
    constructor, at every request (every stream, over HTTP/2), and asking is a system call (the local address)
    or a new address object (the peer's); a connection's addresses never change."""
    _kapi_host = None
    _kapi_peer = None

    def getHost(self):
        host = self._kapi_host
        if host is None:
            host = self._kapi_host = super().getHost()
        return host

    def getPeer(self):
        peer = self._kapi_peer
        if peer is None:
            peer = self._kapi_peer = super().getPeer()
        return peer


class APIServerH2Connection(LocalAddressOnce, H2Connection):
    """An HTTP/2 connection announcing upstream's stream and header limits in its first SETTINGS frame."""

    def __init__(self, reactor=None, max_streams: int = GO_DEFAULT_MAX_STREAMS):
        super().__init__(reactor)
        # Replaced before connectionMade sends the initial SETTINGS: values set on the h2 library's
        # existing settings would only apply once the client acknowledged a second frame.
        self.conn.local_settings = h2.settings.Settings(client=False, initial_values={
            SettingCodes.MAX_CONCURRENT_STREAMS: max_streams,
            SettingCodes.MAX_HEADER_LIST_SIZE: _HEADER_LIST_BYTES,
        })
        self.priority = StreamTurns()

    def _sendPrioritisedData(self, *args):
        # Twisted's loop sends one DATA frame (one queued write: one watch event) and then waits for the next
        # reactor turn.  On a busy reactor that throttled a connection's watches to one event per turn, and a
        # controller manager's pod watch fell minutes behind.  Here a turn sends up to FRAMES_PER_TURN frames
        # (still in priority order, still stopping when the transport pushes back or nothing is left).
        reactor, again = self._reactor, []
        self._reactor = _TurnRecorder(again, reactor)
        try:
            for _ in range(FRAMES_PER_TURN):
                again.clear()
                super()._sendPrioritisedData(*args)
                if not again:
                    break       # waiting on a Deferred: no data, or the transport is full
        finally:
            self._reactor = reactor
        if again:
            reactor.callLater(0, self._sendPrioritisedData)

    def timeoutConnection(self):
        # An idle timeout, as Go's: a connection with a stream open (a watch with nothing to say) is not idle.
        if self.streams:
            self.setTimeout(self.timeOut)
            return
        return super().timeoutConnection()


class NegotiatedChannel(http._GenericHTTPChannelProtocol):
    """HTTP/1.1 by default; HTTP/2 once the first bytes arrive on a TLS connection whose ALPN chose h2."""

    def __init__(self, http11_channel, max_streams: int = GO_DEFAULT_MAX_STREAMS):
        super().__init__(http11_channel)
        self._h2_max_streams = max_streams

    def dataReceived(self, data):
        if self._negotiatedProtocol is None:
            chosen = getattr(self._channel.transport, "negotiatedProtocol", None) or b"http/1.1"
            if chosen == b"h2":
                self._serve_http2()
            self._negotiatedProtocol = chosen
        return self._channel.dataReceived(data)

    def _serve_http2(self) -> None:
        old = self._channel
        # The HTTP/1.1 channel stops being the transport's producer and stops its idle timer.
        producer = old._networkProducer
        producer.unregisterProducer()
        old.setTimeout(None)
        stop_header_timer = getattr(old, "stop_header_timer", None)
        if stop_header_timer is not None:
            stop_header_timer()
        # The Site's reactor, so an injected reactor drives HTTP/2's timers too.
        channel = APIServerH2Connection(getattr(self._factory, "reactor", None), self._h2_max_streams)
        channel.requestFactory = self._requestFactory
        channel.site = self._site
        channel.factory = self._factory
        channel.timeOut = self._timeOut
        channel.callLater = self._callLater
        self._channel = channel
        channel.makeConnection(old.transport)
        producer.registerProducer(channel, True)


def channel_factory(http11_channel_class, max_streams: int = 0):
    """What Site.protocol should be: builds a NegotiatedChannel around a fresh HTTP/1.1 channel."""
    streams = max_streams if max_streams > 0 else GO_DEFAULT_MAX_STREAMS
    return lambda: NegotiatedChannel(http11_channel_class(), streams)

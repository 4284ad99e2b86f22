"""SPDY/3.1 framing as kubectl's spdystream speaks it: compressed header blocks with the protocol
dictionary, stream replies, data and FIN, PING echo."""

import struct
import zlib

from kapiserver.endpoints import spdy


class Client:
    """The client half: builds frames the way a SPDY/3.1 client does."""

    def __init__(self):
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)

    def syn_stream(self, stream_id, headers, fin=False):
        block = self.deflate.compress(spdy.encode_headers(headers)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        body = struct.pack(">IIH", stream_id, 0, 0) + block
        return spdy.control_frame(spdy.SYN_STREAM, spdy.FLAG_FIN if fin else 0, body)

    def frames(self, data):
        out = []
        while data:
            word, length_flags = struct.unpack_from(">II", data, 0)
            length = length_flags & 0xFFFFFF
            body, data = data[8:8 + length], data[8 + length:]
            if word & 0x80000000:
                kind = word & 0xFFFF
                if kind == spdy.SYN_REPLY:
                    body = (struct.unpack_from(">I", body)[0], spdy.decode_headers(self.inflate.decompress(body[4:])))
                out.append(("control", kind, length_flags >> 24, body))
            else:
                out.append(("data", word, length_flags >> 24, body))
        return out


def test_dictionary_is_the_spdy3_one():
    """The header dictionary has the specified size and the adler32 a SPDY/3 peer announces."""
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options")
    assert spdy.DICTIONARY.endswith(b",*,enq=0.")


def test_streams_reply_data_fin_and_ping():
    """A SYN_STREAM is announced with its headers; reply, data and FIN reach the client; pings are echoed."""
    sent, opened = [], []
    session = spdy.Session(sent.append, opened.append)
    client = Client()
    session.data_received(client.syn_stream(1, {"streamtype": "error"}) + client.syn_stream(3, {"streamtype": "stdout"}))
    assert [s.type for s in opened] == ["error", "stdout"]
    received = []
    opened[1].on_data = received.append
    opened[1].reply()
    opened[1].write(b"hello")
    opened[1].close()
    frames = client.frames(b"".join(sent))
    assert frames[0][:2] == ("control", spdy.SYN_REPLY) and frames[0][3][0] == 3
    assert frames[1] == ("data", 3, 0, b"hello")
    assert frames[2] == ("data", 3, spdy.FLAG_FIN, b"")
    sent.clear()
    # Data split across reads still arrives whole, and the window is given back.
    frame = spdy.data_frame(3, 0, b"abc")
    session.data_received(frame[:5])
    session.data_received(frame[5:] + spdy.control_frame(spdy.PING, 0, struct.pack(">I", 7)))
    assert received == [b"abc"]
    kinds = [f[1] for f in client.frames(b"".join(sent))]
    assert kinds == [spdy.WINDOW_UPDATE, spdy.WINDOW_UPDATE, spdy.PING]


def test_remote_fin_and_goaway():
    """A FIN from the client half-closes the stream; GOAWAY closes the session and resets its streams."""
    opened, closed, reset = [], [], []
    session = spdy.Session(lambda data: None, opened.append, lambda: closed.append(True))
    client = Client()
    session.data_received(client.syn_stream(1, {"streamtype": "stdin"}))
    opened[0].on_remote_close = lambda: closed.append("fin")
    opened[0].on_reset = lambda: reset.append(True)
    session.data_received(spdy.data_frame(1, spdy.FLAG_FIN, b""))
    session.data_received(spdy.control_frame(spdy.GOAWAY, 0, struct.pack(">II", 0, 0)))
    assert closed == ["fin", True] and reset == [True] and session.closed


def test_throttle_spreads_writes_over_seconds():
    """--max-connection-bytes-per-sec: a second's budget is written at once, the rest in later seconds
    while the source is paused; the end waits for the queue."""
    from twisted.internet import task
    from kapiserver.endpoints.streams import Throttle

    class Source:
        paused = False

        def pauseProducing(self):
            self.paused = True

        def resumeProducing(self):
            self.paused = False
    clock, source, written, ended = task.Clock(), Source(), [], []
    throttle = Throttle(clock, 1000)
    throttle.send(b"a" * 2500, written.append, source)
    throttle.when_drained(lambda: ended.append(True))
    assert written == [b"a" * 1000] and source.paused and not ended
    clock.advance(1)
    assert len(b"".join(written)) == 2000 and source.paused
    clock.advance(1)
    assert len(b"".join(written)) == 2500 and not source.paused and ended == [True]

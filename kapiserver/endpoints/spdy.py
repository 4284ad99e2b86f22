"""SPDY/3.1 framing, server side, as kubectl's SPDY streams (exec, attach, cp, port-forward) use it:
streams opened by the client with SYN_STREAM and named by their headers, data both ways, FIN
half-closes, PING echoed.  Header blocks are zlib-compressed with the protocol's fixed dictionary."""

from __future__ import annotations

import struct
import zlib
from typing import Callable, Dict

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_CANCEL = 5
RST_PROTOCOL_ERROR = 1
_MAX_DATA = 32 * 1024


def _dictionary() -> bytes:
    # The SPDY/3 header dictionary (spec section 2.6.10.1): length-prefixed words, then a plain tail.
    words = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
             "accept-ranges age allow authorization cache-control connection content-base "
             "content-encoding content-language content-length content-location content-md5 "
             "content-range content-type date etag expect expires from host if-match if-modified-since "
             "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
             "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
             "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status "
             "200_OK version HTTP/1.1 url public set-cookie keep-alive origin").split(" ")
    out = b"".join(struct.pack(">I", len(w)) + w.replace("_", " ").encode() for w in words)
    tail = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
            "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
            "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
            "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
            "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
            "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
    return out + tail.encode()


DICTIONARY = _dictionary()


def encode_headers(headers: Dict[str, str]) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_headers(block: bytes) -> Dict[str, str]:
    count, = struct.unpack_from(">I", block, 0)
    offset, out = 4, {}
    for _ in range(count):
        n, = struct.unpack_from(">I", block, offset)
        name = block[offset + 4:offset + 4 + n].decode("latin-1")
        offset += 4 + n
        v, = struct.unpack_from(">I", block, offset)
        out[name] = block[offset + 4:offset + 4 + v].decode("latin-1")
        offset += 4 + v
    return out


def control_frame(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | 3, kind, (flags << 24) | len(body)) + body


def data_frame(stream_id: int, flags: int, data: bytes) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class Stream:
    def __init__(self, session: "Session", stream_id: int, headers: Dict[str, str]):
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.remote_closed = False
        self.local_closed = False
        self.on_data: Callable[[bytes], None] = lambda data: None
        self.on_remote_close: Callable[[], None] = lambda: None
        self.on_reset: Callable[[], None] = lambda: None

    @property
    def type(self) -> str:
        return self.headers.get("streamtype", "")

    def reply(self) -> None:
        self.session.send_control(SYN_REPLY, 0, struct.pack(">I", self.id) + self.session.compress({}))

    def write(self, data: bytes) -> None:
        if self.local_closed or self.session.closed:
            return
        for start in range(0, len(data), _MAX_DATA):
            self.session.write(data_frame(self.id, 0, data[start:start + _MAX_DATA]))

    def close(self) -> None:
        """Half-close: FIN on our side."""
        if self.local_closed or self.session.closed:
            return
        self.local_closed = True
        self.session.write(data_frame(self.id, FLAG_FIN, b""))

    def reset(self, status: int = RST_CANCEL) -> None:
        self.local_closed = self.remote_closed = True
        self.session.send_control(RST_STREAM, 0, struct.pack(">II", self.id, status))


class Session:
    """One SPDY/3.1 connection.  `write` sends bytes to the peer; `on_stream` is told of each new
    stream (call stream.reply() to accept it); `on_close` when the peer goes away."""

    def __init__(self, write: Callable[[bytes], None], on_stream: Callable[[Stream], None],
                 on_close: Callable[[], None] = lambda: None):
        self.write = write
        self.on_stream = on_stream
        self.on_close = on_close
        self.streams: Dict[int, Stream] = {}
        self._buffer = b""
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)
        self.closed = False

    def compress(self, headers: Dict[str, str]) -> bytes:
        return self._deflate.compress(encode_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def send_control(self, kind: int, flags: int, body: bytes) -> None:
        if not self.closed:
            self.write(control_frame(kind, flags, body))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 8 and not self.closed:
            word, length_flags = struct.unpack_from(">II", self._buffer, 0)
            length = length_flags & 0xFFFFFF
            flags = length_flags >> 24
            if len(self._buffer) < 8 + length:
                return
            body, self._buffer = self._buffer[8:8 + length], self._buffer[8 + length:]
            if word & 0x80000000:
                self._control(word & 0xFFFF, flags, body)
            else:
                self._data(word & 0x7FFFFFFF, flags, body)

    def _control(self, kind: int, flags: int, body: bytes) -> None:
        if kind == SYN_STREAM:
            stream_id, = struct.unpack_from(">I", body, 0)
            headers = decode_headers(self._inflate.decompress(body[10:]))
            stream = Stream(self, stream_id & 0x7FFFFFFF, headers)
            self.streams[stream.id] = stream
            if flags & FLAG_FIN:
                stream.remote_closed = True
            self.on_stream(stream)
        elif kind in (SYN_REPLY, HEADERS):
            self._inflate.decompress(body[4:])
        elif kind == RST_STREAM:
            stream_id, _ = struct.unpack_from(">II", body, 0)
            stream = self.streams.pop(stream_id & 0x7FFFFFFF, None)
            if stream is not None:
                stream.local_closed = stream.remote_closed = True
                stream.on_reset()
        elif kind == PING:
            self.send_control(PING, 0, body)
        elif kind == GOAWAY:
            self.close()

    def _data(self, stream_id: int, flags: int, body: bytes) -> None:
        stream = self.streams.get(stream_id)
        if body:
            # Give the window back as soon as the data is taken (we buffer nothing ourselves).
            self.send_control(WINDOW_UPDATE, 0, struct.pack(">II", stream_id, len(body)))
            self.send_control(WINDOW_UPDATE, 0, struct.pack(">II", 0, len(body)))
        if stream is None:
            return
        if body:
            stream.on_data(body)
        if flags & FLAG_FIN and not stream.remote_closed:
            stream.remote_closed = True
            stream.on_remote_close()

    def goaway(self) -> None:
        self.send_control(GOAWAY, 0, struct.pack(">II", 0, 0))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for stream in list(self.streams.values()):
            stream.on_reset()
        self.on_close()

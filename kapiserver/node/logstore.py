"""Container logs kept per container instance: one file per (container, restart), each line stamped
with the time it was written, and live followers for `follow=true`."""

from __future__ import annotations

import datetime
import os
from collections import deque
from typing import Any, Callable, List, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from ..pool import in_pool


def now_stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(
        "Z", "000Z")


def parse_stamp(text: str) -> float:
    text = text.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    else:
        text += ".0"
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# A FallbackToLogsOnError termination message: the kubelet's last 80 lines, at most 2048 bytes.  An instance keeps
# that many of its last records in memory and makes the message from them, not from a file that may not hold them
# yet.
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048


def strip_stamp(record: bytes) -> bytes:
    """A stored record without its timestamp."""
    return record.split(b" ", 1)[1] if b" " in record else record


class ContainerLog:
    """The log of one container instance.  Lines are stored as `<RFC3339Nano> <line>\n`.

    The file is opened, written and closed in ``clock``'s thread pool, one operation at a time, each write taking
    every record stamped since the last (none of it on the reactor thread); followers get each record at once.
    ``size`` counts the bytes stamped so far; ``flushed()`` says when the file holds them.  Without a pool (a
    test's clock, or none) each operation is done at once."""

    def __init__(self, path: str, clock=None):
        self.path = path
        self._clock = clock
        self._partial = b""
        self.followers: List[Callable[[bytes], None]] = []
        self.closed = False
        self.size = 0                   # bytes stamped so far
        self._closers: List[Callable[[], None]] = []
        self._pending: List[bytes] = []
        self._last: deque = deque(maxlen=FALLBACK_LINES)
        self._file = None
        self._busy = False
        self._written = 0               # bytes the file holds
        self._lost = False              # the file could not be opened: records go to followers only
        self._waiters: List[tuple[int, Deferred]] = []
        # A new instance's log starts empty: a file left by an instance of the same number (before kube-node
        # restarted, when the count starts again) is not this one's.
        self._run(lambda: open(path, "wb"), self._opened)

    def write(self, data: bytes) -> None:
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line + b"\n")

    def _emit(self, line: bytes) -> None:
        record = now_stamp().encode() + b" " + line
        self.size += len(record)
        self._last.append(record)
        if not self._lost:
            self._pending.append(record)
            self._next()
        for follower in list(self.followers):
            follower(record)

    def tail(self, lines: int = FALLBACK_LINES, limit: int = FALLBACK_BYTES) -> bytes:
        """The last ``lines`` lines (at most FALLBACK_LINES), at most ``limit`` bytes of them, without their
        stamps."""
        records = list(self._last)[-lines:] if lines > 0 else []
        return b"".join(strip_stamp(record) for record in records)[-limit:]

    def flushed(self) -> Deferred:
        """Fires once the file holds every record stamped until now."""
        wanted = self.size
        if self._written >= wanted or self._lost:
            return succeed(None)
        waiter: Deferred = Deferred()
        self._waiters.append((wanted, waiter))
        return waiter

    def close(self) -> None:
        if self.closed:
            return
        if self._partial:
            # A last line without a newline still belongs to the log, as a kubelet keeps it.
            self._emit(self._partial)
            self._partial = b""
        self.closed = True
        self._next()
        for closer in self._closers:
            closer()
        self.followers.clear()
        self._closers.clear()

    # -- the file, in the pool ------------------------------------------------------------------------------
    def _run(self, job: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self._busy = True

        def done(result):
            self._busy = False
            if isinstance(result, Failure):
                # A log that cannot be written (the disk full, the directory gone) loses those lines, as a
                # kubelet's runtime drops them; followers had them.
                self._written = self.size - sum(len(record) for record in self._pending)
                if self._file is None:
                    self._lost, self._pending = True, []
            else:
                then(result)
            self._wake()
            self._next()
        in_pool(self._clock, job).addBoth(done)

    def _opened(self, file) -> None:
        self._file = file

    def _next(self) -> None:
        """The next operation, unless one is under way: the records stamped meanwhile in one write, or, the
        log closed and everything written, closing the file."""
        if self._busy or self._file is None:
            return
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            file = self._file

            def write():
                file.write(data)
                file.flush()
            self._run(write, lambda _: self._advance(len(data)))
        elif self.closed:
            file, self._file = self._file, None
            self._run(file.close, lambda _: None)

    def _advance(self, written: int) -> None:
        self._written += written

    def _wake(self) -> None:
        ready = [w for w in self._waiters if w[0] <= self._written or self._file is None or self._lost]
        if ready:
            self._waiters = [w for w in self._waiters if w not in ready]
            for _, waiter in ready:
                waiter.callback(None)

    def follow(self, on_record: Callable[[bytes], None], on_close: Callable[[], None]) -> Callable[[], None]:
        self.followers.append(on_record)
        self._closers.append(on_close)

        def stop():
            if on_record in self.followers:
                self.followers.remove(on_record)
            if on_close in self._closers:
                self._closers.remove(on_close)
        return stop


def read_records(path: str, size: Optional[int] = None) -> List[bytes]:
    """The stamped lines of a log file (of a running or an earlier container instance), its first ``size``
    bytes when given.  Blocking: the kubelet API calls it in the thread pool."""
    try:
        with open(path, "rb") as f:
            return f.read(-1 if size is None else size).splitlines(keepends=True)
    except OSError:
        return []


class LogOptions:
    """The query of a containerLogs request, as pods/log takes it."""

    def __init__(self, follow=False, timestamps=False, tail_lines: Optional[int] = None,
                 since_seconds: Optional[int] = None, since_time: Optional[str] = None,
                 limit_bytes: Optional[int] = None, previous=False):
        self.follow = follow
        self.timestamps = timestamps
        self.tail_lines = tail_lines
        self.since_seconds = since_seconds
        self.since_time = since_time
        self.limit_bytes = limit_bytes
        self.previous = previous

    def since(self, now: float) -> Optional[float]:
        if self.since_seconds is not None:
            return now - self.since_seconds
        if self.since_time:
            return parse_stamp(self.since_time)
        return None

    def render(self, record: bytes) -> bytes:
        if self.timestamps:
            return record
        return strip_stamp(record)

    def select(self, records: List[bytes], now: float) -> List[bytes]:
        since = self.since(now)
        if since is not None:
            records = [r for r in records if parse_stamp(r.split(b" ", 1)[0].decode()) >= since]
        if self.tail_lines is not None:
            records = records[-self.tail_lines:] if self.tail_lines > 0 else []
        return records


def ensure_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path

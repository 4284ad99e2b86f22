"""Container logs kept per container instance: one file per (container, restart), each line stamped
with the time it was written, and live followers for `follow=true`."""

from __future__ import annotations

import datetime
import os
from typing import Callable, List, Optional


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


class ContainerLog:
    """The log of one container instance.  Lines are stored as `<RFC3339Nano> <line>\\n`."""

    def __init__(self, path: str):
        self.path = path
        self._partial = b""
        self.followers: List[Callable[[bytes], None]] = []
        self.closed = False
        self.size = 0                   # bytes written to the file so far
        self._closers: List[Callable[[], None]] = []
        # A new instance's log starts empty: a file left by an instance of the same number (before kube-node
        # restarted, when the count starts again) is not this one's.
        self._file = open(path, "wb")

    def write(self, data: bytes) -> None:
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line + b"\n")

    def _emit(self, line: bytes) -> None:
        record = now_stamp().encode() + b" " + line
        self._file.write(record)
        self.size += len(record)
        self._file.flush()
        for follower in list(self.followers):
            follower(record)

    def close(self) -> None:
        if self.closed:
            return
        if self._partial:
            # A last line without a newline still belongs to the log, as a kubelet keeps it.
            self._emit(self._partial)
            self._partial = b""
        self.closed = True
        self._file.close()
        for closer in self._closers:
            closer()
        self.followers.clear()
        self._closers.clear()

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
        return record.split(b" ", 1)[1] if b" " in record else record

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

"""A child process whose output lines a test waits for, and the processes left behind it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time


class Watched:
    """`argv` running with its stdout and stderr read line by line into `lines`."""

    def __init__(self, argv, cwd=None, env=None, stdin=subprocess.DEVNULL):
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=stdin, text=True, errors="replace")
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate, timeout: float) -> str:
        """The first line (from those seen so far, or still to come) for which `predicate` holds."""
        for line in self.lines:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such line within {timeout} s; the output:\n" + "\n".join(self.lines))
            if line is None:
                raise AssertionError("the process ended; its output:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if predicate(line):
                return line

    def stop(self, timeout: float, signum=signal.SIGTERM) -> int:
        """`signum` (None: none), and the exit status; the rest of the output is read into `lines`."""
        if signum is not None:
            self.process.send_signal(signum)
        code = self.process.wait(timeout)
        while True:
            line = self._queue.get(timeout=5)
            if line is None:
                return code
            self.lines.append(line)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def processes_mentioning(text: str) -> list[str]:
    """The command lines of this machine's processes that contain `text`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def not_yet(what: str = "not yet"):
    """For a check handed to eventually(): not there yet."""
    raise AssertionError(what)


def eventually(check, timeout: float, interval: float = 0.25):
    """`check()`'s value once it stops raising AssertionError (or KeyError, IndexError, TypeError,
    StopIteration: a state not there yet); its last such error after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, KeyError, IndexError, TypeError, StopIteration):
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)

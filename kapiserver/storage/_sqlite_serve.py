"""
The SQLite store's database process (``main()`` with the arguments FD PATH SYNCHRONOUS [LOCK_FD], started
by ``_sqlite_process.DatabaseProcess``): reads calls from its end of a socket pair,
``(method name, args)`` pickled in frames of a 4-byte length and the pickle, runs each on its Database in
turn and answers ``(True, result)`` or ``(False, error)``: a storage error as itself, anything else as
Unavailable with its text.  Both ends are processes of one installation and the socket pair is theirs alone,
so pickle is trusted here.  Nothing of Twisted is imported: the process starts in a few tens of milliseconds.

It ignores SIGINT and SIGTERM (a terminal's Ctrl-C or a service manager signals the whole group): it ends when
its parent closes the database or the socket, and on Linux dies with its parent (kill -9 included).
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
from struct import Struct
from typing import Any

from .interface import StorageError, Unavailable

_LENGTH = Struct("!I")


def dumps(value: Any) -> bytes:
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _serve(sock: socket.socket, db: Any) -> None:
    reader = sock.makefile("rb", buffering=1 << 16)
    while True:
        head = reader.read(4)
        if len(head) < 4:
            return
        (length,) = _LENGTH.unpack(head)
        frame = reader.read(length)
        if len(frame) < length:     # the parent went mid-frame
            return
        name, args = pickle.loads(frame)
        try:
            answer: tuple = (True, getattr(db, name)(*args))
        except StorageError as e:
            answer = (False, e)
        except Exception as e:     # noqa: BLE001 - told to the parent, which logs it
            answer = (False, Unavailable(f"sqlite: {type(e).__name__}: {e}"))
        data = dumps(answer)
        sock.sendall(_LENGTH.pack(len(data)) + data)
        if name == "close":
            return


def _die_with_parent() -> None:
    """Linux: be killed when the parent dies (as a database thread would have died with it: SQLite's journal
    keeps the file whole), so the data dir's lock goes at once, not after the batch in hand.  A parent gone
    before this took is seen as the socket's end."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    from . import _sqlite_db

    fd, path, synchronous = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if len(sys.argv) > 4:
        _sqlite_db.adopt_lock(path, int(sys.argv[4]))
    sock = socket.socket(fileno=fd)
    db = _sqlite_db.Database(path, synchronous, owner_pid=os.getppid())
    try:
        _serve(sock, db)
    finally:
        db.close()
        os._exit(0)

"""A non-zero exit status for a server whose start failed under `twistd`.

`twistd` runs the reactor and, once it has stopped, ends with status 0 whatever stopped it: a supervisor could
not tell a server that failed to start from one stopped by SIGTERM.  `exit_at_end(status)` makes the process
end with ``status`` instead, once twistd has finished its own clean-up (pid file removed, logs flushed): an
atexit handler, registered when called and so run before those registered earlier, that flushes what is left
and leaves with os._exit.  `python -m kapiserver` returns its status itself and does not need this.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Callable, Optional

_status: Optional[int] = None


def exit_at_end(status: int = 1) -> None:
    """Make the interpreter's exit end the process with ``status`` (the first non-zero one asked for wins)."""
    global _status
    if _status is None:
        _status = status
        atexit.register(_exit)


def _exit() -> None:
    logging.shutdown()
    exit_now(_status)


def exit_now(status: int) -> None:
    """End the process with ``status`` at once, what the standard streams hold written first."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)


def exit_after_shutdown(reactor, failed: Callable[[], bool], status: int = 1) -> None:
    """Once the reactor has shut down, if ``failed()`` is true, end the process with ``status`` (exit_at_end)."""
    reactor.addSystemEventTrigger("after", "shutdown", lambda: failed() and exit_at_end(status))


def load_or_exit(what: str, load: Callable[[], object]) -> object:
    """``load()``'s result; any error from it (a file that cannot be read or parsed) ends the command at once
    with status 1 and one line, ``what: error``, rather than a traceback.  For a twistd plugin's makeService,
    which runs before the reactor (and before twistd daemonizes)."""
    try:
        return load()
    except Exception as e:
        raise SystemExit(f"{what}: {e}") from None

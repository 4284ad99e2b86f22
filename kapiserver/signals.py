"""
What a daemon does with a SIGTERM or SIGINT that comes while it is stopping already.

twistd's handlers stop the reactor at each signal, and at a repeat log a ReactorNotRunning traceback (the
reactor is stopping) and go on. Two policies replace that, each put before twistd's handlers once the reactor
runs (twistd installs them as it starts the reactor):

- ``exit_on_second``, the apiserver's and the other daemons' (``serving``), as upstream's: the first signal
  stops it gracefully, a second ends the process at once with status 1 (for whoever will not wait for the
  shutdown to finish);
- ``first_only``, that of a daemon kube-cluster supervises: a repeat is ignored, since it is no one's
  impatience but systemd signalling every process of a service while kube-cluster signals its children;
  ending at once would cut their orderly stop short. It takes precedence over ``exit_on_second`` in the same
  process.
"""

from __future__ import annotations

import signal
from typing import Callable

from twisted.logger import Logger

from . import exitstatus

log = Logger()

# Whether the process is a kube-cluster child (first_only), whichever policy was asked for first.
_supervised = False


def first_only(reactor) -> None:
    """Once ``reactor`` runs, its SIGTERM handler hears the first SIGTERM only."""
    global _supervised
    _supervised = True
    reactor.callWhenRunning(_pass_first, (signal.SIGTERM,))


def exit_on_second(reactor, exit: Callable[[int], None] = None) -> None:
    """Once ``reactor`` runs, the first SIGTERM or SIGINT goes to its handler and a second ends the process
    with status 1 (``exit``, exitstatus.exit_now by default); not in a process that ``first_only`` governs."""
    reactor.callWhenRunning(lambda: None if _supervised else _pass_first(
        (signal.SIGTERM, signal.SIGINT), exit or exitstatus.exit_now))


def serving(make_service):
    """A daemon tap's ``make_service`` as twistd's (kube-scheduler, kube-controller-manager, kube-node): its
    process exits at a second signal, as upstream's daemons do (``exit_on_second``); in its own process only, as
    gcpolicy.serving."""
    def make_exiting_on_second(options, *args, **kwargs):
        service = make_service(options, *args, **kwargs)
        from twisted.internet import reactor
        exit_on_second(reactor)
        return service
    return make_exiting_on_second


def _pass_first(signums: tuple, on_repeat: Callable[[int], None] = None) -> None:
    """Put a handler before each of ``signums``' (where one is set) that passes it the first of these signals
    only, and calls ``on_repeat(1)`` at a later one (if given)."""
    received: list[int] = []
    for signum in signums:
        handler = signal.getsignal(signum)
        if not callable(handler):
            continue

        def first(number, frame, handler=handler):
            if not received:
                received.append(number)
                handler(number, frame)
            elif on_repeat is not None:
                log.warn("Received {signal} while shutting down: exiting now", signal=signal.Signals(number).name)
                on_repeat(1)
        signal.signal(signum, first)

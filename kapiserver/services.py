"""The pieces a daemon's service tree is made of, beyond twisted.application's own:

- `SequentialService`: children start one after another, each once the one before it is ready, and stop in
  the reverse order, each once the one after it has stopped (a MultiService stops them all at once);
- `ControllerService`: one controller (an object with start() and stop()), built anew at every start;
- `ElectedService`: children that run only while this process holds a leader-election Lease;
- `Periodic`: twisted's TimerService for asynchronous work, its first run part of the start.

A child's startService may return a Deferred: SequentialService starts the next child once it fires, and a
failure in it fails the whole start.  Where a callable may return a Deferred, a coroutine does as well.
A leaf: it imports nothing from kapiserver.
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.application import service
from twisted.application.internet import TimerService
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred, succeed
from twisted.logger import Logger

log = Logger()
# How long a controller's stop may take before the exit goes on without it (an unreachable store).
STOP_TIMEOUT = 5.0


class SequentialService(service.MultiService):
    """A MultiService whose children start in order, each once the one before it has started, and stop in
    reverse order, each once the one after it has stopped.  startService and stopService return Deferreds."""

    def add(self, child: service.IService) -> service.IService:
        """Add ``child`` after the children already here; returns it."""
        child.setServiceParent(self)
        return child

    def startService(self) -> Deferred:
        service.Service.startService(self)
        return self._start_children()

    def stopService(self) -> Deferred:
        service.Service.stopService(self)
        return self._stop_children()

    def _start_children(self) -> Deferred:
        return ensureDeferred(self._start_in_order())

    async def _start_in_order(self) -> None:
        for child in list(self):
            if not self.running:
                return      # stopped while starting: the stop has seen to the children started so far
            await maybeDeferred(child.startService)

    def _stop_children(self) -> Deferred:
        return ensureDeferred(self._stop_in_reverse())

    async def _stop_in_reverse(self) -> None:
        for child in reversed(list(self)):
            if child.running:
                try:
                    await maybeDeferred(child.stopService)
                except Exception:
                    log.failure("stopping {child} failed", child=child.name or type(child).__name__)


class ControllerService(service.Service):
    """Runs one controller: ``make()`` builds it each time the service starts (nothing is carried over from
    an earlier term), then its ``start()`` runs, if it has one; stopping calls its ``stop()``, bounded by
    STOP_TIMEOUT.  Either may return a Deferred or a coroutine.

    startService's Deferred fires once the controller has started.  With ``wait_for`` (a callable returning
    a Deferred) the controller starts in the background once that fires, holding up no later service.
    """

    def __init__(self, make: Callable, clock, wait_for: Optional[Callable[[], Deferred]] = None):
        self.make = make
        self.clock = clock
        self.wait_for = wait_for
        self.controller = None

    def startService(self) -> Deferred:
        super().startService()
        self.controller = controller = self.make()
        if self.wait_for is None:
            return self._start(controller)
        d = self.wait_for()
        d.addCallback(lambda _: self._start(controller) if controller is self.controller else None)
        d.addErrback(lambda f: log.failure("{controller} failed to start", f, controller=_name(controller)))
        return succeed(None)

    @staticmethod
    def _start(controller) -> Deferred:
        start = getattr(controller, "start", None)
        return maybeDeferred(start) if start is not None else succeed(None)

    def stopService(self) -> Deferred:
        super().stopService()
        controller, self.controller = self.controller, None
        if controller is None:
            return succeed(None)
        d = maybeDeferred(controller.stop)
        d.addTimeout(STOP_TIMEOUT, self.clock)
        d.addErrback(lambda f: log.failure("stopping {controller} failed", f, controller=_name(controller)))
        return d


def _name(controller) -> str:
    return type(controller).__name__


class ElectedService(SequentialService):
    """Children that run only while this process leads: started (in order) on winning the election,
    stopped on losing it, and the campaign ended when this service stops.

    ``make_elector(on_started_leading, on_stopped_leading)`` builds the elector when the service starts: its
    ``start()`` campaigns (returning once the first attempt is settled) and its ``stop()`` ends the campaign,
    calling ``on_stopped_leading`` if leading.
    """

    def __init__(self, make_elector: Callable):
        super().__init__()
        self.make_elector = make_elector
        self.elector = None
        self._children_stopped = succeed(None)

    def startService(self) -> Deferred:
        service.Service.startService(self)
        self.elector = self.make_elector(self._start_children, self._stopped_leading)
        return maybeDeferred(self.elector.start)

    def _stopped_leading(self) -> None:
        self._children_stopped = self._stop_children()

    def stopService(self) -> Deferred:
        service.Service.stopService(self)
        d = maybeDeferred(self.elector.stop)
        d.addCallback(lambda _: self._children_stopped)
        return d


class Periodic(TimerService):
    """twisted's TimerService for asynchronous work: ``work()`` (returning a Deferred or a coroutine) runs
    when the service starts and then every ``step`` seconds, never two runs at once.

    startService returns the first run's Deferred, so the services after this one start once it is done and
    a failure in it fails the start; a later failure is logged and the loop goes on.
    """

    def __init__(self, step: float, work: Callable, clock=None):
        super().__init__(step, self._run)
        self.work = work
        self.clock = clock
        self._first: Optional[Deferred] = None

    def startService(self) -> Deferred:
        self._first = first = Deferred()
        super().startService()      # the first run begins here
        return first

    def stopService(self) -> Deferred:
        """Fires once a run in flight has finished, or after STOP_TIMEOUT seconds (storage not answering)."""
        stopped = Deferred()

        def done(_=None):
            if timer.active():
                timer.cancel()
            if not stopped.called:
                stopped.callback(None)
        timer = self._loop.clock.callLater(STOP_TIMEOUT, done)
        super().stopService().addBoth(done)
        return stopped

    def _run(self) -> Deferred:
        d = maybeDeferred(self.work)
        first, self._first = self._first, None
        if first is not None:
            d.addCallbacks(first.callback, first.errback)   # the first run's failure fails the start
        else:
            d.addErrback(lambda f: log.failure("periodic work failed", f))   # and the loop goes on
        return d

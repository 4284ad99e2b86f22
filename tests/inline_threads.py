"""A test reactor whose thread pool runs each call at once on the calling thread (deferToThreadPool's answer
then arrives before it returns), with a task.Clock's time; it counts the calls."""

from __future__ import annotations

from twisted.internet import task
from twisted.python.failure import Failure


class InlineThreadsClock(task.Clock):
    def __init__(self):
        super().__init__()
        self.thread_calls = 0

    def getThreadPool(self):
        return self

    def callInThreadWithCallback(self, on_result, f, *args, **kwargs):
        self.thread_calls += 1
        _answer(on_result, f, args, kwargs)

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class HeldThreadsClock(task.Clock):
    """A test reactor whose thread pool keeps each call until ``run_held`` runs them (deferToThreadPool's answer
    arrives then), with a task.Clock's time: what the reactor does meanwhile is what it does while a thread works."""

    def __init__(self):
        super().__init__()
        self.held = []
        self.in_thread = False      # True while run_held runs the calls (what a thread of the pool would run)

    def getThreadPool(self):
        return self

    def callInThreadWithCallback(self, on_result, f, *args, **kwargs):
        self.held.append((on_result, f, args, kwargs))

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)

    def run_held(self) -> int:
        """Runs the calls held so far (not those they lead to); how many."""
        held, self.held = self.held, []
        for on_result, f, args, kwargs in held:
            self.in_thread = True
            try:
                outcome = _outcome(f, args, kwargs)
            finally:
                self.in_thread = False
            on_result(*outcome)
        return len(held)

    def settle(self) -> None:
        """Runs what is held, and what that leads to, until nothing is."""
        while self.held:
            self.run_held()
            self.advance(0)


def _outcome(f, args, kwargs) -> tuple:
    """(True, ``f``'s result) or (False, its failure): what a thread pool hands callInThreadWithCallback's
    ``on_result``."""
    try:
        return True, f(*args, **kwargs)
    except Exception:
        return False, Failure()


def _answer(on_result, f, args, kwargs) -> None:
    on_result(*_outcome(f, args, kwargs))

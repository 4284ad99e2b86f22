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
        try:
            result = f(*args, **kwargs)
        except Exception:
            on_result(False, Failure())
        else:
            on_result(True, result)

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)

"""in_pool: work in the reactor's thread pool, or at once where the clock has none (a test's task.Clock)."""

from __future__ import annotations

from twisted.internet import task

from kapiserver.pool import in_pool
from tests.inline_threads import HeldThreadsClock


def test_work_goes_to_the_pool_and_its_answer_comes_back():
    clock = HeldThreadsClock()
    d = in_pool(clock, lambda a, b: a + b, 2, 3)
    assert not d.called and len(clock.held) == 1
    clock.run_held()
    assert d.result == 5


def test_without_a_pool_it_is_done_at_once_and_a_failure_is_the_deferred_s():
    clock = task.Clock()
    assert in_pool(clock, lambda: "now").result == "now"
    failed = in_pool(clock, lambda: 1 / 0)
    errors = []
    failed.addErrback(errors.append)
    assert errors and errors[0].check(ZeroDivisionError)

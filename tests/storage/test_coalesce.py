"""RevisionCoalescer: the current-revision reads of one reactor turn share a round trip, and each read is answered
by a request that started after it arrived (so it sees every write acknowledged before it).  The reactor turn is
a task.Clock's ``advance(0)``."""

from __future__ import annotations

from twisted.internet import task
from twisted.internet.defer import Deferred, succeed

from kapiserver.storage.coalesce import RevisionCoalescer


class Fetches:
    """A fetch whose requests the test answers by hand."""

    def __init__(self):
        self.requests: list[Deferred] = []

    def __call__(self) -> Deferred:
        d: Deferred = Deferred()
        self.requests.append(d)
        return d


def fired(d: Deferred):
    out = []
    d.addBoth(out.append)
    return out


def two_requests_in_flight():
    """A read, its turn's request sent, then a second read arriving after it and its own request sent:
    (fetch, first read's results, second read's results)."""
    clock, fetch = task.Clock(), Fetches()
    coalescer = RevisionCoalescer(fetch, clock)
    first = fired(coalescer.current())
    clock.advance(0)
    # Arrives after the first request was sent: that answer may predate its arrival.
    second = fired(coalescer.current())
    clock.advance(0)
    return fetch, first, second


def test_reads_of_one_turn_share_one_request_sent_after_they_arrived():
    clock, fetch = task.Clock(), Fetches()
    coalescer = RevisionCoalescer(fetch, clock)
    reads = [fired(coalescer.current()) for _ in range(5)]
    assert fetch.requests == [], "no request before the turn ends: a read arriving now may still join"
    clock.advance(0)
    assert len(fetch.requests) == 1
    fetch.requests[0].callback(10)
    assert reads == [[10]] * 5 and coalescer.requests == 1


def test_a_read_arriving_while_a_request_is_in_flight_waits_for_the_next_one():
    fetch, first, later = two_requests_in_flight()
    assert len(fetch.requests) == 2, "the next request goes at once, in flight with the first"
    fetch.requests[0].callback(10)
    assert first == [10] and later == [], "a read must not take an answer from a request older than itself"
    fetch.requests[1].callback(12)
    assert later == [12]


def test_answers_may_come_in_any_order():
    fetch, first, second = two_requests_in_flight()
    fetch.requests[1].callback(12)
    assert second == [12] and first == []
    fetch.requests[0].callback(11)
    assert first == [11]


def test_a_caller_reading_again_from_its_callback_waits_for_a_newer_request():
    clock, fetch = task.Clock(), Fetches()
    coalescer = RevisionCoalescer(fetch, clock)
    seen = []

    def reread(revision):
        seen.append(revision)
        if len(seen) == 1:
            coalescer.current().addCallback(reread)
    coalescer.current().addCallback(reread)
    clock.advance(0)
    fetch.requests[0].callback(7)
    assert seen == [7] and len(fetch.requests) == 1
    clock.advance(0)
    assert len(fetch.requests) == 2
    fetch.requests[1].callback(8)
    assert seen == [7, 8]


def test_a_failed_request_fails_its_readers_only():
    fetch, first, second = two_requests_in_flight()
    fetch.requests[0].errback(RuntimeError("etcd away"))
    assert first and first[0].check(RuntimeError)
    assert second == []
    fetch.requests[1].callback(9)
    assert second == [9]


def test_a_fetch_that_answers_at_once_or_raises():
    clock = task.Clock()
    coalescer = RevisionCoalescer(lambda: succeed(5), clock)
    out = fired(coalescer.current())
    clock.advance(0)
    assert out == [5]

    def broken():
        raise ValueError("no")
    out = fired(RevisionCoalescer(broken, clock).current())
    clock.advance(0)
    assert out and out[0].check(ValueError)

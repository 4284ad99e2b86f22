"""RevisionCoalescer: concurrent current-revision reads share round trips, and each read is answered by a
request that started after it arrived (so it sees every write acknowledged before it)."""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed

from kapiserver.storage.coalesce import RevisionCoalescer


class Fetches:
    """A fetch whose requests the test answers by hand, in order."""

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


def test_reads_arriving_while_a_request_is_in_flight_wait_for_the_next_one():
    fetch = Fetches()
    coalescer = RevisionCoalescer(fetch)
    first = fired(coalescer.current())
    assert len(fetch.requests) == 1
    # Arrive while the first request is in flight: its answer may predate their arrival.
    later = [fired(coalescer.current()) for _ in range(5)]
    assert len(fetch.requests) == 1
    fetch.requests[0].callback(10)
    assert first == [10]
    assert all(out == [] for out in later), "a read must not take an answer from a request older than itself"
    assert len(fetch.requests) == 2     # the next request started at once, for all five
    fetch.requests[1].callback(12)
    assert [out for out in later] == [[12]] * 5
    assert coalescer.requests == 2


def test_a_read_after_an_answer_starts_a_new_request():
    fetch = Fetches()
    coalescer = RevisionCoalescer(fetch)
    out = fired(coalescer.current())
    fetch.requests[0].callback(3)
    assert out == [3]
    again = fired(coalescer.current())
    assert len(fetch.requests) == 2 and again == []
    fetch.requests[1].callback(4)
    assert again == [4]


def test_a_caller_reading_again_from_its_callback_waits_for_a_newer_request():
    fetch = Fetches()
    coalescer = RevisionCoalescer(fetch)
    seen = []

    def reread(revision):
        seen.append(revision)
        if len(seen) == 1:
            coalescer.current().addCallback(reread)
    coalescer.current().addCallback(reread)
    fetch.requests[0].callback(7)
    assert seen == [7] and len(fetch.requests) == 2
    fetch.requests[1].callback(8)
    assert seen == [7, 8]


def test_a_failed_request_fails_its_readers_only():
    fetch = Fetches()
    coalescer = RevisionCoalescer(fetch)
    first = fired(coalescer.current())
    second = fired(coalescer.current())
    fetch.requests[0].errback(RuntimeError("etcd away"))
    assert first and first[0].check(RuntimeError)
    assert second == [] and len(fetch.requests) == 2
    fetch.requests[1].callback(9)
    assert second == [9]


def test_a_fetch_that_answers_at_once_or_raises():
    coalescer = RevisionCoalescer(lambda: succeed(5))
    assert fired(coalescer.current()) == [5]
    assert fired(coalescer.current()) == [5]

    def broken():
        raise ValueError("no")
    out = fired(RevisionCoalescer(broken).current())
    assert out and out[0].check(ValueError)

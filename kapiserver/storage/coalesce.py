"""
Coalesced reads of storage's current revision.

A consistent read asks storage for its current revision (one etcd round trip) and then
serves from the watch cache once the cache has reached it.  Under load many such reads
arrive together; ``RevisionCoalescer`` lets them share round trips without giving up
linearizability: a read must see every write acknowledged before it started, so it may
only use an answer from a request that *started after it arrived*.  A read arriving
while a request is in flight therefore waits for the next request, which starts as soon
as the one in flight ends and answers every read that arrived meanwhile.  At most one
request is in flight; a read waits at most two round trips, and N reads arriving
together cost two requests instead of N.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure


class RevisionCoalescer:
    """``current()`` -> Deferred[int], sharing calls of ``fetch`` (-> Deferred[int]) among the
    callers as above.  A failed fetch fails every caller that was waiting for it."""

    def __init__(self, fetch: Callable[[], Deferred]):
        self._fetch = fetch
        self._in_flight = False
        self._next: list[Deferred] = []     # arrived while a request was in flight
        self.requests = 0                   # how many requests were made (for tests and metrics)

    def current(self) -> Deferred:
        d: Deferred = Deferred()
        self._next.append(d)
        if not self._in_flight:
            self._start()
        return d

    def _start(self) -> None:
        waiting, self._next = self._next, []
        self._in_flight = True
        self.requests += 1
        try:
            request = self._fetch()
        except Exception:
            request = fail()
        request.addBoth(self._done, waiting)

    def _done(self, result, waiting: list[Deferred]) -> None:
        # Returns None: the failure, if any, goes to the callers and is not left unhandled here.
        self._in_flight = False
        # The next request starts before the callers run: a caller that reads again at once
        # waits for a request made after its own arrival, as it must.
        if self._next:
            self._start()
        for d in waiting:
            if isinstance(result, Failure):
                d.errback(result)
            else:
                d.callback(result)

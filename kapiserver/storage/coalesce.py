"""
Coalesced reads of storage's current revision.

A consistent read asks storage for its current revision (one etcd round trip) and then
serves from the watch cache once the cache has reached it.  Under load many such reads
arrive together; ``RevisionCoalescer`` lets them share round trips without giving up
linearizability: a read must see every write acknowledged before it started, so it may
only use an answer from a request that *started after it arrived*.  Reads therefore
never join a request already sent: the reads arriving in one turn of the reactor (all
the requests read from the sockets that were ready together) share one request, sent
when that turn ends, and a read arriving after that waits for the next turn's.  Requests
of successive turns may be in flight together (etcd's connections are pipelined), so a
read waits one round trip, not the rest of someone else's.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred, fail
from twisted.python.failure import Failure


class RevisionCoalescer:
    """``current()`` -> Deferred[int], sharing calls of ``fetch`` (-> Deferred[int]) among the
    callers of one reactor turn (``clock.callLater(0)`` ends it).  A failed fetch fails every
    caller that was waiting for it."""

    def __init__(self, fetch: Callable[[], Deferred], clock: Any):
        self._fetch = fetch
        self._clock = clock
        self._batch: Optional[list[Deferred]] = None     # waiting for the request not sent yet
        self.requests = 0                   # how many requests were made (for tests and metrics)

    def current(self) -> Deferred:
        d: Deferred = Deferred()
        if self._batch is None:
            self._batch = []
            self._clock.callLater(0, self._send)
        self._batch.append(d)
        return d

    def _send(self) -> None:
        batch, self._batch = self._batch, None
        self.requests += 1
        try:
            request = self._fetch()
        except Exception:
            request = fail()
        request.addBoth(self._answer, batch)

    @staticmethod
    def _answer(result: Any, batch: list[Deferred]) -> None:
        # Returns None: a failure goes to the callers, not left unhandled here.
        for d in batch:
            if isinstance(result, Failure):
                d.errback(result)
            else:
                d.callback(result)

"""API Priority and Fairness dispatching: the seats of each priority level, its queues with shuffle
sharding, and the wait limit of a queued request, all on an injected clock.

Approximations of upstream: a level's limit is its nominal concurrency (no borrowing or lending
between levels), every request takes one seat (no work estimation), and a level's non-empty queues take
turns (round robin) instead of upstream's virtual-time fair queuing."""

from __future__ import annotations

import hashlib
import math
from collections import deque
from typing import Optional

from twisted.internet.defer import Deferred, succeed

DEFAULT_QUEUING = {"queues": 64, "handSize": 8, "queueLengthLimit": 50}


class Waiter:
    def __init__(self, queue: "Queue", schema: str):
        self.queue = queue
        self.schema = schema
        self.deferred: Deferred = Deferred()
        self.timer = None


class Queue:
    def __init__(self, index: int):
        self.index = index
        self.waiting: deque[Waiter] = deque()
        self.executing = 0


class PriorityLevel:
    """One PriorityLevelConfiguration's dispatching state (kept across configuration changes)."""

    def __init__(self, name: str):
        self.name = name
        self.uid = ""
        self.exempt = False
        self.shares = 0
        self.limit = 0
        self.queuing: Optional[dict] = None     # None: limitResponse Reject
        self.queues: list[Queue] = []
        self.next_queue = 0         # round robin among the queues with requests waiting
        self.executing = 0

    def configure(self, obj: dict) -> None:
        spec = obj.get("spec") or {}
        self.uid = obj["metadata"].get("uid", "")
        self.exempt = spec.get("type") == "Exempt"
        section = (spec.get("exempt") if self.exempt else spec.get("limited")) or {}
        self.shares = int(section.get("nominalConcurrencyShares") or 0)
        response = section.get("limitResponse") or {}
        if self.exempt or response.get("type") != "Queue":
            self.queuing = None
        else:
            self.queuing = dict(DEFAULT_QUEUING, **(response.get("queuing") or {}))
        wanted = self.queuing["queues"] if self.queuing else 0
        if len(self.queues) != wanted:
            # Requests already queued stay in their queues until dispatched or timed out.
            self.queues = self.queues[:wanted] + [Queue(i) for i in range(len(self.queues), wanted)]

    def waiting(self) -> int:
        return sum(len(q.waiting) for q in self.queues)


def deal_hand(flow: str, deck: int, hand: int) -> list[int]:
    """Shuffle sharding: ``hand`` distinct queue indices out of ``deck``, from the flow's hash."""
    value = int.from_bytes(hashlib.sha256(flow.encode()).digest()[:8], "big")
    remaining = list(range(deck))
    picked = []
    for _ in range(min(hand, deck)):
        value, index = divmod(value, len(remaining))
        picked.append(remaining.pop(index))
    return picked


class Dispatcher:
    """Admits requests to priority levels: at once while a seat is free, else queued (or rejected)."""

    def __init__(self, clock, server_concurrency: int = 600, wait_limit: float = 15.0):
        self.clock = clock
        self.server_concurrency = server_concurrency
        self.wait_limit = wait_limit
        self.levels: dict[str, PriorityLevel] = {}
        # For the apiserver_flowcontrol_* metrics, by (priority level, FlowSchema): requests dispatched,
        # executing and waiting, and by (priority level, FlowSchema, reason) those rejected.
        self.dispatched: dict[tuple, int] = {}
        self.executing: dict[tuple, int] = {}
        self.inqueue: dict[tuple, int] = {}
        self.rejected: dict[tuple, int] = {}

    def configure(self, levels: list[dict]) -> None:
        seen = set()
        for obj in levels:
            name = obj["metadata"]["name"]
            seen.add(name)
            self.levels.setdefault(name, PriorityLevel(name)).configure(obj)
        for name in list(self.levels):
            level = self.levels[name]
            if name not in seen and not level.executing and not level.waiting():
                del self.levels[name]
        total = sum(level.shares for level in self.levels.values()) or 1
        for level in self.levels.values():
            level.limit = max(1, math.ceil(self.server_concurrency * level.shares / total))
            self._dispatch(level)

    def admit(self, name: str, flow: str, wait_limit: Optional[float] = None, schema: str = "") -> Deferred:
        """A Deferred firing with a release function once the request may run, or with None when it is
        rejected (no seat and no queue room, or it waited too long)."""
        level = self.levels[name]
        if level.exempt:
            return succeed(self._start(level, None, schema))      # counted, never limited
        if level.executing < level.limit and not level.waiting():
            return succeed(self._start(level, None, schema))
        if level.queuing is None:
            return succeed(self._reject(level, schema, "concurrency-limit"))
        hand = deal_hand(flow, len(level.queues), level.queuing["handSize"])
        queue = min((level.queues[i] for i in hand), key=lambda q: (len(q.waiting) + q.executing, q.index))
        if len(queue.waiting) >= level.queuing["queueLengthLimit"]:
            return succeed(self._reject(level, schema, "queue-full"))
        waiter = Waiter(queue, schema)
        queue.waiting.append(waiter)
        _add(self.inqueue, (name, schema), 1)
        limit = self.wait_limit if wait_limit is None else wait_limit
        waiter.timer = self.clock.callLater(limit, self._time_out, level, waiter)
        return waiter.deferred

    def cancel(self, name: str, deferred: Deferred) -> None:
        """The client went away while queued: forget its place (its wait ends as a rejection)."""
        level = self.levels.get(name)
        for queue in level.queues if level else ():
            for waiter in list(queue.waiting):
                if waiter.deferred is deferred:
                    queue.waiting.remove(waiter)
                    _add(self.inqueue, (name, waiter.schema), -1)
                    if waiter.timer.active():
                        waiter.timer.cancel()
                    waiter.deferred.callback(self._reject(level, waiter.schema, "cancelled"))

    def _time_out(self, level: PriorityLevel, waiter: Waiter) -> None:
        if waiter in waiter.queue.waiting:
            waiter.queue.waiting.remove(waiter)
            _add(self.inqueue, (level.name, waiter.schema), -1)
            waiter.deferred.callback(self._reject(level, waiter.schema, "time-out"))

    def _reject(self, level: PriorityLevel, schema: str, reason: str) -> None:
        _add(self.rejected, (level.name, schema, reason), 1)
        return None

    def _start(self, level: PriorityLevel, queue: Optional[Queue], schema: str):
        level.executing += 1
        key = (level.name, schema)
        _add(self.dispatched, key, 1)
        _add(self.executing, key, 1)
        if queue is not None:
            queue.executing += 1
        done = []

        def release() -> None:
            if done:
                return
            done.append(True)
            level.executing -= 1
            _add(self.executing, key, -1)
            if queue is not None:
                queue.executing -= 1
            self._dispatch(level)
        return release

    def _dispatch(self, level: PriorityLevel) -> None:
        while level.executing < level.limit:
            count_ = len(level.queues)
            queue = next((level.queues[(level.next_queue + i) % count_] for i in range(count_)
                          if level.queues[(level.next_queue + i) % count_].waiting), None)
            if queue is None:
                return
            level.next_queue = (queue.index + 1) % count_
            waiter = queue.waiting.popleft()
            if waiter.timer is not None and waiter.timer.active():
                waiter.timer.cancel()
            _add(self.inqueue, (level.name, waiter.schema), -1)
            waiter.deferred.callback(self._start(level, queue, waiter.schema))


def _add(counts: dict, key: tuple, delta: int) -> None:
    counts[key] = counts.get(key, 0) + delta

"""API Priority and Fairness dispatching, all on an injected clock:

- each priority level has a nominal concurrency limit (its share of the server's seats), a lower bound (what
  it keeps of them: nominal less lendablePercent) and an upper bound (nominal plus borrowingLimitPercent, or
  the whole server); every 10 s the seats are shared out again by each level's smoothed seat demand
  (average plus standard deviation of seats in use and waiting over the period, smoothed with a factor of
  0.977), as upstream's borrowing does: the fair fraction that makes the allocations sum to the server's
  seats, each clamped to its level's bounds;
- a request takes ``seats`` seats (its work estimate: one, or more for a LIST of many objects, at most the
  level's maximum: 15 % of its nominal limit, at most its nominal limit over its hand size, between 1 and 10);
- a level's queues are served in virtual-time order (the queue whose next request would start earliest in
  the level's virtual time, each request advancing its queue by its seats), with shuffle sharding of flows
  to queues and upstream's queue length and wait limits; a request at a queue's head that does not fit the
  free seats waits for them (the queue is not skipped);
- Retry-After on a rejection follows upstream's dropped-requests tracker: doubled (to 32 s) when a level
  dropped at least three times its value in its last Retry-After seconds, else brought down one by one.

Approximations of upstream: a request's seats are held for its whole execution (no "final seats" with
additional latency for the watch notifications a write causes), and a queue's virtual time advances by seats
alone (upstream's by seats times an estimated duration that it corrects when the request finishes)."""

from __future__ import annotations

import hashlib
import math
from collections import deque
from typing import Callable, Optional

from twisted.internet.defer import Deferred, succeed

DEFAULT_QUEUING = {"queues": 64, "handSize": 8, "queueLengthLimit": 50}
BORROWING_PERIOD = 10.0
SMOOTHING = 0.977
MAX_SEATS_PERCENT = 0.15
MAX_SEATS_LIMIT = 10
MAX_RETRY_AFTER = 32


class Waiter:
    def __init__(self, queue: "Queue", schema: str, seats: int):
        self.queue = queue
        self.schema = schema
        self.seats = seats
        self.deferred: Deferred = Deferred()
        self.timer = None


class Queue:
    def __init__(self, index: int):
        self.index = index
        self.waiting: deque[Waiter] = deque()
        self.executing = 0          # requests
        self.seats = 0              # seats in use
        self.next_r = 0.0           # virtual time at which its head would start


class SeatDemand:
    """The time-weighted average, standard deviation and high watermark of a level's seat demand (seats in
    use plus seats waiting) over a period, and its smoothed value across periods."""

    def __init__(self, now: float):
        self.value = 0.0
        self.since = now
        self.start = now
        self.integral = 0.0
        self.square = 0.0
        self.high = 0.0
        self.smoothed = 0.0

    def set(self, value: float, now: float) -> None:
        elapsed = now - self.since
        self.integral += self.value * elapsed
        self.square += self.value * self.value * elapsed
        self.value = value
        self.since = now
        self.high = max(self.high, value)

    def period(self, now: float) -> tuple[float, float]:
        """End the period: (high watermark, smoothed demand); the next period starts now."""
        self.set(self.value, now)
        length = now - self.start
        average = self.integral / length if length > 0 else self.value
        variance = self.square / length - average * average if length > 0 else 0.0
        envelope = average + math.sqrt(max(variance, 0.0))
        self.smoothed = max(envelope, SMOOTHING * self.smoothed + (1 - SMOOTHING) * envelope)
        high = self.high
        self.start, self.integral, self.square, self.high = now, 0.0, 0.0, self.value
        return high, self.smoothed


class DroppedRequests:
    """Upstream's Retry-After for one level: requests dropped per second over the last 32 s."""

    def __init__(self):
        self.history: list[list[int]] = []   # [second, count]
        self.retry_after = 1
        self.raised_at = 0

    def record(self, now: float) -> None:
        second = int(now)
        if self.history and self.history[-1][0] == second:
            self.history[-1][1] += 1
            return
        self._update(second)
        self.history.append([second, 1])
        self.history = [h for h in self.history if second - h[0] <= MAX_RETRY_AFTER]

    def _update(self, second: int) -> None:
        dropped = sum(count for at, count in self.history if at < second and second - at <= self.retry_after)
        if second - self.raised_at >= self.retry_after and dropped >= 3 * self.retry_after:
            self.retry_after = min(self.retry_after * 2, MAX_RETRY_AFTER)
            self.raised_at = second
        elif dropped < self.retry_after and self.retry_after > 1:
            self.retry_after -= 1


class PriorityLevel:
    """One PriorityLevelConfiguration's dispatching state (kept across configuration changes)."""

    def __init__(self, name: str, now: float):
        self.name = name
        self.uid = ""
        self.exempt = False
        self.shares = 0
        self.lendable_percent = 0
        self.borrowing_percent: Optional[int] = None
        self.nominal = 0
        self.lower = 0              # nominal less what it lends
        self.upper = 0              # nominal plus what it may borrow
        self.limit = 0              # its current concurrency limit, in seats
        self.max_seats = MAX_SEATS_LIMIT
        self.queuing: Optional[dict] = None     # None: limitResponse Reject
        self.queues: list[Queue] = []
        self.virtual = 0.0          # the level's virtual time
        self.executing = 0          # requests
        self.seats = 0              # seats in use
        self.demand = SeatDemand(now)
        self.dropped = DroppedRequests()
        self.configured = False

    def configure(self, obj: dict) -> None:
        spec = obj.get("spec") or {}
        self.uid = obj["metadata"].get("uid", "")
        self.exempt = spec.get("type") == "Exempt"
        section = (spec.get("exempt") if self.exempt else spec.get("limited")) or {}
        self.shares = int(section.get("nominalConcurrencyShares") or 0)
        self.lendable_percent = int(section.get("lendablePercent") or 0)
        borrowing = section.get("borrowingLimitPercent")
        self.borrowing_percent = None if borrowing is None else int(borrowing)
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

    def waiting_seats(self) -> int:
        return sum(w.seats for q in self.queues for w in q.waiting)


def deal_hand(flow: str, deck: int, hand: int) -> list[int]:
    """Shuffle sharding: ``hand`` distinct queue indices out of ``deck``, from the flow's hash."""
    value = int.from_bytes(hashlib.sha256(flow.encode()).digest()[:8], "big")
    remaining = list(range(deck))
    picked = []
    for _ in range(min(hand, deck)):
        value, index = divmod(value, len(remaining))
        picked.append(remaining.pop(index))
    return picked


def allocate(total: float, items: list[tuple[float, float, float]]) -> list[float]:
    """Upstream's concurrency allocation: for (lower, upper, target) items, allocations clamp(f * target,
    lower, upper) summing to ``total``, for the one fair fraction f that does it (bounds alone where they
    cannot)."""
    if not items:
        return []
    if total <= sum(lo for lo, _, _ in items):
        return [lo for lo, _, _ in items]
    if total >= sum(hi for _, hi, _ in items):
        return [hi for _, hi, _ in items]

    def given(fraction: float) -> list[float]:
        return [min(hi, max(lo, fraction * max(target, 0.001))) for lo, hi, target in items]
    low, high = 0.0, 1.0
    while sum(given(high)) < total:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        if sum(given(middle)) < total:
            low = middle
        else:
            high = middle
    return given(high)


class Dispatcher:
    """Admits requests to priority levels: at once while their seats are free, else queued (or rejected)."""

    def __init__(self, clock, server_concurrency: int = 600, wait_limit: float = 15.0):
        self.clock = clock
        self.server_concurrency = server_concurrency
        self.wait_limit = wait_limit
        self.levels: dict[str, PriorityLevel] = {}
        self.nominal_sum = 0
        self._rebalancing = None
        # For the apiserver_flowcontrol_* metrics, by (priority level, FlowSchema): requests dispatched,
        # executing and waiting, and by (priority level, FlowSchema, reason) those rejected.
        self.dispatched: dict[tuple, int] = {}
        self.executing: dict[tuple, int] = {}
        self.inqueue: dict[tuple, int] = {}
        self.rejected: dict[tuple, int] = {}
        # Requests waiting in any queue of any level: while none is, no level's queues need looking at.
        self._queued = 0

    # -- configuration and borrowing ---------------------------------------------------------------------
    def configure(self, levels: list[dict]) -> None:
        now = self.clock.seconds()
        seen = set()
        for obj in levels:
            name = obj["metadata"]["name"]
            seen.add(name)
            self.levels.setdefault(name, PriorityLevel(name, now)).configure(obj)
        for name in list(self.levels):
            level = self.levels[name]
            if name not in seen and not level.executing and not level.waiting():
                del self.levels[name]
        total = sum(level.shares for level in self.levels.values()) or 1
        for level in self.levels.values():
            level.nominal = math.ceil(self.server_concurrency * level.shares / total)
            lendable = round(level.nominal * level.lendable_percent / 100)
            borrowing = self.server_concurrency if level.borrowing_percent is None else \
                round(level.nominal * level.borrowing_percent / 100)
            level.lower = level.nominal - lendable
            level.upper = level.nominal + borrowing
            if level.queuing:
                level.max_seats = int(max(1, min(math.ceil(level.nominal * MAX_SEATS_PERCENT),
                                                 level.nominal // level.queuing["handSize"])))
            else:
                level.max_seats = MAX_SEATS_LIMIT
            level.max_seats = min(level.max_seats, MAX_SEATS_LIMIT)
            if not level.configured:
                level.limit = max(1, level.nominal - lendable // 2)
                level.configured = True
        self.nominal_sum = sum(level.nominal for level in self.levels.values())
        self.rebalance(end_period=False)
        if self._rebalancing is None:
            self._rebalancing = self.clock.callLater(BORROWING_PERIOD, self._periodically)

    def stop(self) -> None:
        if self._rebalancing is not None and self._rebalancing.active():
            self._rebalancing.cancel()
        self._rebalancing = None

    def _periodically(self) -> None:
        self._rebalancing = None
        self.rebalance()
        self._rebalancing = self.clock.callLater(BORROWING_PERIOD, self._periodically)

    def rebalance(self, end_period: bool = True) -> None:
        """Share the server's seats out by each level's recent seat demand, within its bounds."""
        now = self.clock.seconds()
        names, items = [], []
        for name, level in self.levels.items():
            if end_period:
                high, smoothed = level.demand.period(now)
            else:
                high, smoothed = level.demand.high, level.demand.smoothed
            lower = max(level.lower, min(level.nominal, high))
            names.append(name)
            items.append((lower, max(level.upper, lower), max(lower, smoothed)))
        for name, allocation in zip(names, allocate(self.nominal_sum, items)):
            level = self.levels[name]
            level.limit = max(1, round(allocation)) if not level.exempt else round(allocation)
            self._dispatch(level)

    def _note_demand(self, level: PriorityLevel) -> None:
        level.demand.set(level.seats + (level.waiting_seats() if self._queued else 0), self.clock.seconds())

    # -- requests -------------------------------------------------------------------------------------------
    def max_seats(self, name: str) -> int:
        level = self.levels.get(name)
        return level.max_seats if level is not None else MAX_SEATS_LIMIT

    def retry_after(self, name: str) -> int:
        level = self.levels.get(name)
        return level.dropped.retry_after if level is not None else 1

    def start_now(self, name: str, schema: str = "", seats: int = 1) -> Optional[Callable[[], None]]:
        """The release function of a seat taken at once (an exempt level's, counted but never limited, or one
        free with nobody queued before it); None when the request would have to queue or be rejected, which
        admit then decides."""
        level = self.levels[name]
        seats = max(1, min(seats, level.max_seats))
        if level.exempt or (not (self._queued and level.waiting()) and self._fits(level, seats)):
            return self._start(level, None, schema, seats)
        return None

    def admit(self, name: str, flow: str, wait_limit: Optional[float] = None, schema: str = "",
              seats: int = 1) -> Deferred:
        """A Deferred firing with a release function once the request may run, or with None when it is
        rejected (no seat and no queue room, or it waited too long)."""
        release = self.start_now(name, schema, seats)
        if release is not None:
            return succeed(release)
        level = self.levels[name]
        seats = max(1, min(seats, level.max_seats))
        if level.queuing is None:
            return succeed(self._reject(level, schema, "concurrency-limit"))
        hand = deal_hand(flow, len(level.queues), level.queuing["handSize"])
        queue = min((level.queues[i] for i in hand),
                    key=lambda q: (sum(w.seats for w in q.waiting) + q.seats, q.index))
        if len(queue.waiting) >= level.queuing["queueLengthLimit"]:
            return succeed(self._reject(level, schema, "queue-full"))
        if not queue.waiting and not queue.executing:
            queue.next_r = max(queue.next_r, level.virtual)
        waiter = Waiter(queue, schema, seats)
        queue.waiting.append(waiter)
        self._queued += 1
        _add(self.inqueue, (name, schema), 1)
        self._note_demand(level)
        limit = self.wait_limit if wait_limit is None else wait_limit
        waiter.timer = self.clock.callLater(limit, self._time_out, level, waiter)
        return waiter.deferred

    @staticmethod
    def _fits(level: PriorityLevel, seats: int) -> bool:
        # A request wider than the whole limit runs alone rather than never.
        return level.seats + seats <= level.limit or level.seats == 0

    def cancel(self, name: str, deferred: Deferred) -> None:
        """The client went away while queued: forget its place (its wait ends as a rejection)."""
        level = self.levels.get(name)
        for queue in level.queues if level else ():
            for waiter in list(queue.waiting):
                if waiter.deferred is deferred:
                    queue.waiting.remove(waiter)
                    self._queued -= 1
                    _add(self.inqueue, (name, waiter.schema), -1)
                    if waiter.timer.active():
                        waiter.timer.cancel()
                    self._note_demand(level)
                    waiter.deferred.callback(self._reject(level, waiter.schema, "cancelled"))
                    self._dispatch(level)

    def _time_out(self, level: PriorityLevel, waiter: Waiter) -> None:
        if waiter in waiter.queue.waiting:
            waiter.queue.waiting.remove(waiter)
            self._queued -= 1
            _add(self.inqueue, (level.name, waiter.schema), -1)
            self._note_demand(level)
            waiter.deferred.callback(self._reject(level, waiter.schema, "time-out"))
            self._dispatch(level)

    def _reject(self, level: PriorityLevel, schema: str, reason: str) -> None:
        _add(self.rejected, (level.name, schema, reason), 1)
        level.dropped.record(self.clock.seconds())
        return None

    def _start(self, level: PriorityLevel, queue: Optional[Queue], schema: str, seats: int) -> Callable[[], None]:
        level.executing += 1
        level.seats += seats
        key = (level.name, schema)
        _add(self.dispatched, key, 1)
        _add(self.executing, key, 1)
        if queue is not None:
            queue.executing += 1
            queue.seats += seats
        self._note_demand(level)
        done = []

        def release() -> None:
            if done:
                return
            done.append(True)
            level.executing -= 1
            level.seats -= seats
            _add(self.executing, key, -1)
            if queue is not None:
                queue.executing -= 1
                queue.seats -= seats
            self._note_demand(level)
            self._dispatch(level)
        return release

    def _dispatch(self, level: PriorityLevel) -> None:
        while self._queued:
            candidates = [q for q in level.queues if q.waiting]
            if not candidates:
                return
            queue = min(candidates, key=lambda q: (q.next_r, q.index))
            waiter = queue.waiting[0]
            if not self._fits(level, waiter.seats):
                return
            queue.waiting.popleft()
            self._queued -= 1
            level.virtual = max(level.virtual, queue.next_r)
            queue.next_r += waiter.seats
            if waiter.timer is not None and waiter.timer.active():
                waiter.timer.cancel()
            _add(self.inqueue, (level.name, waiter.schema), -1)
            waiter.deferred.callback(self._start(level, queue, waiter.schema, waiter.seats))


def _add(counts: dict, key: tuple, delta: int) -> None:
    counts[key] = counts.get(key, 0) + delta

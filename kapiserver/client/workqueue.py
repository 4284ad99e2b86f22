"""client-go's rate-limited work queue, on the reactor: a key waiting is queued once; a key being processed is
never handed to a second worker (added again meanwhile, it is queued when ``done``); ``add_rate_limited``
waits the rate limiter's delay; ``forget`` ends an item's backoff."""

from __future__ import annotations

from collections import deque
from typing import Any, Awaitable, Callable, Dict, Hashable, Set

from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

log = Logger()


class ItemExponentialFailureRateLimiter:
    """base * 2^failures per item, capped (client-go: 5 ms to 1000 s)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0):
        self.base = base
        self.cap = cap
        self.failures: Dict[Hashable, int] = {}

    def when(self, item) -> float:
        failures = self.failures.get(item, 0)
        self.failures[item] = failures + 1
        return min(self.base * (2 ** failures), self.cap)

    def num_requeues(self, item) -> int:
        return self.failures.get(item, 0)

    def forget(self, item) -> None:
        self.failures.pop(item, None)


class BucketRateLimiter:
    """An overall token bucket: ``qps`` tokens a second, ``burst`` at most (client-go: 10 qps, burst 100)."""

    def __init__(self, clock, qps: float = 10.0, burst: int = 100):
        self.clock = clock
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = None

    def when(self, item) -> float:
        now = self.clock.seconds()
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.qps)
        self.last = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.qps

    def num_requeues(self, item) -> int:
        return 0

    def forget(self, item) -> None:
        pass


class MaxOfRateLimiter:
    def __init__(self, *limiters):
        self.limiters = limiters

    def when(self, item) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def num_requeues(self, item) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)

    def forget(self, item) -> None:
        for limiter in self.limiters:
            limiter.forget(item)


def default_controller_rate_limiter(clock) -> MaxOfRateLimiter:
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(clock, 10.0, 100))


class RateLimitingQueue:
    def __init__(self, clock=None, name: str = "", rate_limiter=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.name = name
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(clock)
        self._queue: deque = deque()
        self._dirty: Set[Hashable] = set()
        self._processing: Set[Hashable] = set()
        self._waiting: Dict[Hashable, Any] = {}     # key -> the DelayedCall that adds it
        self._getters: deque = deque()
        self._shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, item: Hashable) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._hand_out()

    def add_after(self, item: Hashable, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        due = self.clock.seconds() + delay
        pending = self._waiting.get(item)
        if pending is not None and pending.active():
            if pending.getTime() <= due:
                return  # an earlier add is already waiting
            pending.cancel()
        self._waiting[item] = self.clock.callLater(delay, self._due, item)

    def _due(self, item) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: Hashable) -> None:
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: Hashable) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.rate_limiter.num_requeues(item)

    def get(self) -> Deferred:
        """The next item to process (it is then being processed until ``done``); None once shut down."""
        d = Deferred()
        self._getters.append(d)
        self._hand_out()
        return d

    def _hand_out(self) -> None:
        while self._getters and self._queue:
            item = self._queue.popleft()
            self._dirty.discard(item)
            self._processing.add(item)
            self._getters.popleft().callback(item)
        if self._shutting_down and not self._queue:
            while self._getters:
                self._getters.popleft().callback(None)

    def done(self, item: Hashable) -> None:
        self._processing.discard(item)
        if item in self._dirty and not self._shutting_down:
            self._queue.append(item)
            self._hand_out()

    def shutdown(self) -> None:
        self._shutting_down = True
        for call in self._waiting.values():
            if call.active():
                call.cancel()
        self._waiting.clear()
        self._queue.clear()
        self._dirty.clear()
        self._hand_out()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down


def run_workers(queue: RateLimitingQueue, workers: int, sync: Callable[[Hashable], Awaitable[None]],
                name: str = "") -> Deferred:
    """``workers`` loops taking keys from ``queue`` and syncing them; a failed sync is retried rate-limited.
    Fires when the queue is shut down and every loop has finished its key."""
    async def worker() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            try:
                await sync(item)
            except Exception as e:
                if not queue.shutting_down:
                    log.info("{name}: error syncing {item!r}: {error}; retrying", name=name or queue.name,
                             item=item, error=_describe(e))
                    queue.add_rate_limited(item)
            else:
                queue.forget(item)
            finally:
                queue.done(item)
    return DeferredList([Deferred.fromCoroutine(worker()) for _ in range(max(1, workers))],
                        consumeErrors=True)


def _describe(error: Exception) -> str:
    message = getattr(error, "message", None)
    return f"{type(error).__name__}: {message}" if message else repr(error)


__all__ = ["RateLimitingQueue", "run_workers", "default_controller_rate_limiter"]

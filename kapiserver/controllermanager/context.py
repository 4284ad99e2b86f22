"""What every controller is given: the client, the shared informers, the clock, the flags, event recorders;
and the shape of a controller that works keys off a rate-limited queue."""

from __future__ import annotations

from typing import Dict, Optional

from twisted.internet.defer import Deferred

from ..client.cache import meta_namespace_key
from ..client.events import EventRecorder
from ..client.informer import SharedInformer, SharedInformerFactory
from ..client.rest import Client
from ..client.workqueue import RateLimitingQueue, run_workers


class ControllerContext:
    def __init__(self, client: Client, informers: SharedInformerFactory, clock, options: Optional[dict] = None,
                 host: Optional[str] = None):
        self.client = client
        self.informers = informers
        self.clock = clock
        self.options: dict = dict(options or {})
        self.host = host
        self._recorders: Dict[str, EventRecorder] = {}

    def recorder(self, component: str) -> EventRecorder:
        """The EventRecorder writing events as ``component`` (upstream's reporting controller name)."""
        recorder = self._recorders.get(component)
        if recorder is None:
            recorder = self._recorders[component] = EventRecorder(self.client, component, self.host, self.clock)
        return recorder

    def option(self, name: str, default=None):
        value = self.options.get(name)
        return default if value is None else value


class QueueController:
    """A level-triggered controller: informer handlers enqueue keys; ``workers`` loops call ``sync(key)``, which
    reads the informers' caches and writes the difference; a failed sync is retried rate-limited."""

    name = ""
    workers_option: Optional[str] = None     # the --concurrent-*-syncs flag that sets the worker count
    default_workers = 1

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.queue = RateLimitingQueue(ctx.clock, self.name, self.rate_limiter(ctx.clock))
        self.synced_informers: list[SharedInformer] = []
        self._workers: Optional[Deferred] = None

    def rate_limiter(self, clock):
        """The queue's rate limiter: client-go's default controller one unless a controller says otherwise."""
        return None

    def informer(self, resource, **selectors) -> SharedInformer:
        informer = self.ctx.informers.informer(resource, **selectors)
        self.synced_informers.append(informer)
        return informer

    @property
    def workers(self) -> int:
        if self.workers_option:
            return int(self.ctx.option(self.workers_option, self.default_workers))
        return self.default_workers

    def enqueue(self, obj: dict) -> None:
        self.queue.add(meta_namespace_key(obj))

    async def run(self) -> None:
        await self.ctx.informers.wait_for_cache_sync(*self.synced_informers)
        self._workers = run_workers(self.queue, self.workers, self.sync, self.name)

    def stop(self) -> None:
        self.queue.shutdown()

    async def sync(self, key: str) -> None:
        raise NotImplementedError

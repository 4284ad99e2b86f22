"""Shared informers: one reflector and one Indexer per (resource, namespace, selectors), shared by every
controller of a process, calling each handler on add, update and delete (client-go's SharedIndexInformer and
SharedInformerFactory).  Handlers run on the reactor, in order; they should only enqueue keys."""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Tuple

from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from .cache import Indexer, meta_namespace_key
from .reflector import Reflector
from .resources import Resource
from .rest import Client

log = Logger()


class _Handler:
    def __init__(self, on_add, on_update, on_delete, resync_period):
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete
        self.resync_period = resync_period
        self.call = None

    def call_safely(self, func, *args) -> None:
        if func is None:
            return
        try:
            func(*args)
        except Exception:
            log.failure("informer event handler failed")


class SharedInformer:
    def __init__(self, client: Client, resource: Resource, clock, namespace: Optional[str] = None,
                 label_selector: Optional[str] = None, field_selector: Optional[str] = None,
                 default_resync: float = 0, random=None, watch_list: bool = False,
                 transform: Optional[Callable[[dict], dict]] = None, consistent_pages: bool = False):
        """``transform``: applied to each object before the cache keeps it and handlers see it (client-go's
        SetTransform; kube-controller-manager's informers drop managedFields with ``drop_managed_fields``).
        ``consistent_pages``: the reflector's lists are read in pages (see Reflector)."""
        self.resource = resource
        self.transform = transform
        self.clock = clock
        self.indexer = Indexer(meta_namespace_key)
        self.default_resync = default_resync
        self._handlers: List[_Handler] = []
        self._synced = False
        self._sync_waiters: List[Deferred] = []
        self._started = False
        self.reflector = Reflector(client, resource, self._replace, self._event, clock, namespace,
                                   label_selector, field_selector, random=random, use_watch_list=watch_list,
                                   transform=transform, consistent_pages=consistent_pages)

    # -- the public side -------------------------------------------------------------------------------
    def add_event_handler(self, on_add: Callable[[dict], None] = None,
                          on_update: Callable[[dict, dict], None] = None,
                          on_delete: Callable[[dict], None] = None, resync_period: Optional[float] = None) -> None:
        handler = _Handler(on_add, on_update, on_delete,
                           self.default_resync if resync_period is None else resync_period)
        self._handlers.append(handler)
        if self._synced:
            for obj in self.indexer.list():
                handler.call_safely(handler.on_add, obj)
        if self._started:
            self._schedule_resync(handler)

    def has_synced(self) -> bool:
        return self._synced

    def wait_for_sync(self) -> Deferred:
        if self._synced:
            return _fired()
        d = Deferred()
        self._sync_waiters.append(d)
        return d

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.reflector.start()
        for handler in self._handlers:
            self._schedule_resync(handler)

    def stop(self) -> None:
        self._started = False
        self.reflector.stop()
        for handler in self._handlers:
            if handler.call is not None and handler.call.active():
                handler.call.cancel()
            handler.call = None

    # -- resync: every object handed to the handler again as an update ------------------------------------
    def _schedule_resync(self, handler: _Handler) -> None:
        if handler.resync_period and handler.resync_period > 0:
            handler.call = self.clock.callLater(handler.resync_period, self._resync, handler)

    def _resync(self, handler: _Handler) -> None:
        handler.call = None
        if not self._started:
            return
        if self._synced:
            for obj in self.indexer.list():
                handler.call_safely(handler.on_update, obj, obj)
        self._schedule_resync(handler)

    # -- the reflector's side -----------------------------------------------------------------------------
    def _replace(self, items: list, resource_version: str) -> None:
        seen = set()
        for obj in items:
            key = self.indexer.key_func(obj)
            seen.add(key)
            old = self.indexer.add(obj)
            for handler in self._handlers:
                if old is None:
                    handler.call_safely(handler.on_add, obj)
                else:
                    handler.call_safely(handler.on_update, old, obj)
        for key in [k for k in self.indexer.keys() if k not in seen]:
            old = self.indexer.get(key)
            self.indexer.delete(old)
            for handler in self._handlers:
                handler.call_safely(handler.on_delete, old)
        if not self._synced:
            self._synced = True
            waiters, self._sync_waiters = self._sync_waiters, []
            for d in waiters:
                d.callback(None)

    def _event(self, kind: str, obj: dict) -> None:
        if kind in ("ADDED", "MODIFIED"):
            old = self.indexer.add(obj)
            for handler in self._handlers:
                if old is None:
                    handler.call_safely(handler.on_add, obj)
                else:
                    handler.call_safely(handler.on_update, old, obj)
        elif kind == "DELETED":
            old = self.indexer.delete(obj)
            for handler in self._handlers:
                handler.call_safely(handler.on_delete, obj if obj.get("metadata") else old)


def drop_managed_fields(obj: dict) -> dict:
    """``obj`` without metadata.managedFields, which no controller reads (what kube-controller-manager's
    informers keep since 1.27: its transform drops them)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        del metadata["managedFields"]
    return obj


def _fired() -> Deferred:
    d = Deferred()
    d.callback(None)
    return d


class SharedInformerFactory:
    """The informers of one process: ``informer(resource, ...)`` gives every caller the same one."""

    def __init__(self, client: Client, clock=None, resync_period: float = 0, random=None,
                 watch_list: Optional[bool] = None, transform: Optional[Callable[[dict], dict]] = None):
        """``watch_list``: reflectors sync by watch-list (sendInitialEvents) rather than list+watch; None
        reads the environment variable KUBE_FEATURE_WatchListClient ("true"/"false", client-go's way to set
        its feature gates), off when unset, as in upstream 1.32."""
        if watch_list is None:
            watch_list = os.environ.get("KUBE_FEATURE_WatchListClient", "").lower() == "true"
        self.watch_list = watch_list
        if clock is None:
            from twisted.internet import reactor as clock
        self.client = client
        self.clock = clock
        self.resync_period = resync_period
        self.random = random
        self.transform = transform
        self._informers: Dict[Tuple, SharedInformer] = {}
        self._started = False

    def informer(self, resource: Resource, namespace: Optional[str] = None, label_selector: Optional[str] = None,
                 field_selector: Optional[str] = None) -> SharedInformer:
        key = (resource, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(self.client, resource, self.clock, namespace, label_selector, field_selector,
                                      self.resync_period, self.random, self.watch_list, self.transform)
            self._informers[key] = informer
            if self._started:
                informer.start()
        return informer

    def start(self) -> None:
        self._started = True
        for informer in list(self._informers.values()):
            informer.start()

    async def wait_for_cache_sync(self, *informers: SharedInformer) -> None:
        await DeferredList([i.wait_for_sync() for i in (informers or list(self._informers.values()))])

    def stop(self) -> None:
        self._started = False
        for informer in self._informers.values():
            informer.stop()

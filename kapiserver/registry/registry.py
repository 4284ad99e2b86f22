"""
The Registry: one Store per served resource, built from the catalogue and the
strategies, sharing one clock and one storage, except the resources that
--etcd-servers-overrides gives their own (``storage_overrides``).
"""

from __future__ import annotations

from typing import Mapping, Optional

from twisted.internet.defer import Deferred, DeferredList, ensureDeferred

from ..storage import Storage
from . import core
from .allocator import node_port_allocator, service_ip_allocator
from .attributes import Attributes
from .catalog import Catalog, ResourceInfo
from .store import Store
from .strategy import Strategy


class Registry:
    def __init__(self, storage: Storage, clock, catalog: Optional[Catalog] = None, prefix: bytes = b"/registry",
                 service_cluster_ip_range=None, service_node_port_range=(30000, 32767),
                 watch_cache: bool = False, watch_cache_sizes=None, default_watch_cache_size: int = 100,
                 admission=None, storage_overrides: Optional[Mapping[tuple[str, str], Storage]] = None,
                 delete_collection_workers: int = 1):
        import ipaddress
        # How many objects one deletecollection deletes at once (--delete-collection-workers).
        self.delete_collection_workers = max(1, delete_collection_workers)
        # One watch cache per served resource when on (the server turns it on from
        # --watch-cache; bare registries in tests read storage directly).
        self.watch_cache = watch_cache
        self.watch_cache_sizes = dict(watch_cache_sizes or {})
        self.default_watch_cache_size = default_watch_cache_size
        self.storage = storage
        # (storage group, resource) -> the storage of that resource (--etcd-servers-overrides).
        self.storage_overrides = dict(storage_overrides or {})
        self.clock = clock
        self.catalog = catalog or Catalog()
        self.prefix = prefix.rstrip(b"/")
        network = service_cluster_ip_range or ipaddress.ip_network("10.0.0.0/24")
        self.service_ips = service_ip_allocator(storage, self.prefix, network)
        self.node_ports = node_port_allocator(storage, self.prefix, *service_node_port_range)
        self.stores: dict[tuple[str, str, str], Store] = {}
        # Component schemas of custom resources for the OpenAPI documents, and a
        # counter bumped whenever the served resources change.
        self.openapi_schemas: dict[str, dict] = {}
        # Who the request being served is for (authentication.k8s.io UserInfo as a dict); the
        # server injects the authentication layer's answer, strategies that record the
        # requester (CertificateSigningRequests) ask it.
        self.request_user = lambda: {}
        self.generation = 0
        # The admission chain (an attributes.Admission: admit, then validate) every Store's writes pass; the server
        # sets it once it is built (the chain reads namespaces and quotas through this registry).
        self.admission = admission
        for info in self.catalog.all():
            self.add(info)

    async def admit(self, attributes: Attributes) -> None:
        """The mutating phase of admission for one write of a Store (or a connect), if there is a chain."""
        if self.admission is not None:
            await self.admission.admit(attributes)

    async def validate(self, attributes: Attributes) -> None:
        """The validating phase, after the Store's own validation."""
        if self.admission is not None:
            await self.admission.validate(attributes)

    def strategy_for(self, info: ResourceInfo) -> Strategy:
        key = (info.storage_gv[0], info.storage_key)
        if key == ("", "pods"):
            return core.PodStrategy(info, self.clock)
        if key == ("", "secrets"):
            return core.SecretStrategy(info)
        if key == ("", "namespaces"):
            return core.NamespaceStrategy(info)
        if key == ("", "services"):
            return core.ServiceStrategy(info, self.service_ips, self.node_ports)
        if key == ("", "persistentvolumes"):
            return core.PersistentVolumeStrategy(info, self.clock)
        if key == ("", "persistentvolumeclaims"):
            return core.PersistentVolumeClaimStrategy(info)
        if key == ("", "nodes"):
            return core.NodeStrategy(info)
        if key == ("certificates.k8s.io", "certificatesigningrequests"):
            from .certificates import CertificateSigningRequestStrategy
            return CertificateSigningRequestStrategy(info, lambda: self.request_user(), self.clock)
        if key == ("apps", "daemonsets"):
            from .apps import DaemonSetStrategy
            return DaemonSetStrategy(info)
        if key == ("apps", "statefulsets"):
            from .apps import StatefulSetStrategy
            return StatefulSetStrategy(info)
        if key == ("apps", "deployments"):
            from .apps import DeploymentStrategy
            return DeploymentStrategy(info)
        if key == ("batch", "jobs"):
            from .batch import JobStrategy
            return JobStrategy(info)
        if key == ("scheduling.k8s.io", "priorityclasses"):
            from .scheduling import PriorityClassStrategy
            return PriorityClassStrategy(info)
        if key == ("admissionregistration.k8s.io", "validatingadmissionpolicies"):
            from .admissionregistration import ValidatingAdmissionPolicyStrategy
            return ValidatingAdmissionPolicyStrategy(info)
        if key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            from .crd import CustomResourceDefinitionStrategy
            return CustomResourceDefinitionStrategy(info, self.clock, crds=lambda: self.store(
                "apiextensions.k8s.io", "v1", "customresourcedefinitions"))
        return Strategy(info)

    def key_root(self, info: ResourceInfo, builtin: bool = True) -> bytes:
        group, _ = info.storage_gv
        if builtin:
            return self.prefix + b"/" + info.storage_key.encode()
        return self.prefix + b"/" + group.encode() + b"/" + info.storage_key.encode()

    def storage_for(self, info: ResourceInfo) -> Storage:
        """The storage holding ``info``'s objects: its override's, or the default."""
        return self.storage_overrides.get((info.storage_gv[0], info.storage_key), self.storage)

    @property
    def storages(self) -> list[Storage]:
        """Every storage the registry uses, the default first."""
        storages = [self.storage]
        for storage in self.storage_overrides.values():
            if all(storage is not known for known in storages):
                storages.append(storage)
        return storages

    def add(self, info: ResourceInfo, strategy: Optional[Strategy] = None, builtin: bool = True) -> Store:
        store = Store(info, strategy or self.strategy_for(info), self.storage_for(info), self.clock,
                      self.key_root(info, builtin), admission=self, builtin=builtin,
                      watch_cache_size=self.watch_cache_size(info), resource_name=self._resource_name(info))
        store.delete_collection_workers = self.delete_collection_workers
        store.reads.start()
        self.stores[(info.group, info.version, info.resource)] = store
        return store

    @staticmethod
    def _resource_name(info: ResourceInfo) -> str:
        return f"{info.resource}.{info.group}" if info.group else info.resource

    def watch_cache_size(self, info: ResourceInfo) -> int:
        """The window size for ``info``'s watch cache; 0 means no cache
        (--watch-cache=false, or resource#0 in --watch-cache-sizes)."""
        if not self.watch_cache:
            return 0
        return self.watch_cache_sizes.get(self._resource_name(info), self.default_watch_cache_size)

    def stop_watch_caches(self) -> None:
        """Ends every store's reads: the watch caches' storage watches, and every watch served."""
        for store in self.stores.values():
            store.reads.stop()

    async def watches_caught_up(self, timeout: float) -> bool:
        """Whether every watch cache has handed its watchers every event storage had committed when asked,
        within ``timeout`` seconds."""
        results = await DeferredList([ensureDeferred(store.reads.caught_up(timeout))
                                      for store in self.stores.values()])
        return all(ok and value for ok, value in results)

    def watch_count(self) -> int:
        """How many watches are served, from the caches and from storage."""
        return sum(store.reads.watch_count() for store in self.stores.values())

    def watch_caches_filled(self) -> Deferred:
        """Fires once every watch cache has filled from storage (or given up waiting); at once without
        caches."""
        return DeferredList([store.reads.filled() for store in self.stores.values()])

    def remove(self, group: str, version: str, resource: str) -> None:
        store = self.stores.pop((group, version, resource), None)
        if store is not None:
            store.reads.stop()     # its storage watch, and its watchers' responses

    def store(self, group: str, version: str, resource: str) -> Store:
        return self.stores[(group, version, resource)]

    def lookup(self, group: str, version: str, resource: str) -> Optional[Store]:
        return self.stores.get((group, version, resource))

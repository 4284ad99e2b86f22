"""
The endpoints of the ``kubernetes`` Service: which apiservers it leads to
(upstream's ``--endpoint-reconciler-type``).

``lease`` (the default): every apiserver keeps a lease under
``<etcd-prefix>/masterleases/`` and renews it on each reconcile (every 10 s);
the Endpoints hold the sorted addresses of the live leases.  Upstream gives
each key an etcd lease of 15 s; the storage interface has no TTLs, so the
value (an Endpoints object, as upstream stores) carries its expiry time in the
annotation ``kapiserver.io/lease-expiry`` (RFC 3339, the writer's clock), and
an entry found expired is deleted and counted as absent.  On a graceful stop
the apiserver deletes its own lease and reconciles once more.  On the embedded
store (SQLite), which one process holds, no lease is written: the Endpoints
are this apiserver, as a lease would make them.

Upstream assumes every apiserver serves on one port, and names a lease by IP
alone.  kapiserver's replicas on one host share their IP but not their port,
so a lease is named ``<ip>`` on upstream's default port 6443 and
``<ip>_<port>`` on any other, and every replica computes the same answer from
the same leases: the port is the one most live leases serve on (the lowest on
a tie), and the addresses are those of the leases on that port.  Replicas
agree, so the Endpoints and the Service's targetPort are written only when
the set of live apiservers changes.

``master-count``: upstream's older behaviour; each apiserver adds its own
address and, beyond ``--apiserver-count`` addresses, drops the ones after its
own.  ``none``: the Endpoints are left alone.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from twisted.internet.defer import DeferredLock
from twisted.logger import Logger

from ..machinery import codec, meta
from ..machinery.errors import StatusError
from ..storage.interface import Conflict, KeyExists, KeyNotFound

log = Logger()

RECONCILER_TYPES = ("master-count", "lease", "none")
LEASE_TTL = 15.0          # upstream's DefaultEndpointReconcilerTTL
LEASES_KEY = b"/masterleases/"
EXPIRY_ANNOTATION = "kapiserver.io/lease-expiry"
DEFAULT_PORT = 6443
SERVICE_NAME = "kubernetes"
SKIP_MIRROR = {"endpointslice.kubernetes.io/skip-mirror": "true"}


@dataclass(frozen=True, order=True)
class MasterLease:
    """One live apiserver as its lease records it."""

    ip: str
    port: int
    expires: float


def lease_name(ip: str, port: int) -> str:
    """The lease's key below ``masterleases/``: upstream's (the IP) on port 6443."""
    return ip if port == DEFAULT_PORT else f"{ip}_{port}"


class MasterLeases:
    """The leases of live apiservers, kept through the storage interface directly."""

    def __init__(self, storage, prefix: bytes, clock, ttl: float = LEASE_TTL):
        self.storage = storage
        self.base = prefix.rstrip(b"/") + LEASES_KEY
        self.clock = clock
        self.ttl = ttl

    def key(self, ip: str, port: int) -> bytes:
        return self.base + lease_name(ip, port).encode()

    async def update(self, ip: str, port: int) -> None:
        """Write or renew the lease of ``ip``:``port`` until now + ttl."""
        key = self.key(ip, port)
        kv = await self.storage.get(key)
        generation = 1
        if kv is not None:
            try:
                generation = int(codec.loads(kv.value)["metadata"].get("generation", 0)) + 1
            except (ValueError, TypeError, KeyError, AttributeError):
                pass   # a value not written by kapiserver: overwritten below
        value = codec.dumps({
            "kind": "Endpoints", "apiVersion": "v1",
            "metadata": {"name": lease_name(ip, port), "generation": generation, "creationTimestamp": None,
                         "annotations": {EXPIRY_ANNOTATION: meta.rfc3339_micro(self.clock.seconds() + self.ttl)}},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": port, "protocol": "TCP"}]}],
        })
        try:
            if kv is None:
                await self.storage.create(key, value)
            else:
                await self.storage.update(key, value, kv.mod_revision)
        except (KeyExists, Conflict):
            # Another writer of this very key (a restart racing its predecessor): the next renewal wins.
            pass

    async def list(self) -> list[MasterLease]:
        """The live leases in (ip, port) order; expired ones are deleted on the way."""
        now = self.clock.seconds()
        result = await self.storage.range(self.base)
        live = []
        for kv in result.kvs:
            lease = _decode(kv.value)
            if lease is None:
                continue   # not ours to judge (an upstream apiserver's, expiring by its own etcd lease)
            if lease.expires <= now:
                try:
                    await self.storage.delete(kv.key, expected_mod_revision=kv.mod_revision)
                except (KeyNotFound, Conflict):
                    pass   # renewed or removed meanwhile
                continue
            live.append(lease)
        return sorted(live)

    async def remove(self, ip: str, port: int) -> None:
        """Delete the lease of ``ip``:``port`` if it is there."""
        try:
            await self.storage.delete(self.key(ip, port))
        except KeyNotFound:
            pass


class SoleLease:
    """The leases on the embedded store, which one process holds exclusively: this apiserver is the only
    live one, so nothing is written (a write at start or stop would also put every watch cache's window
    past the revision a client resumes its watch from across a restart)."""

    def __init__(self, ip: str, port: int):
        self.lease = MasterLease(ip, port, math.inf)

    async def update(self, ip: str, port: int) -> None:
        pass

    async def list(self) -> list[MasterLease]:
        return [self.lease]

    async def remove(self, ip: str, port: int) -> None:
        pass


def _decode(value: bytes) -> Optional[MasterLease]:
    try:
        obj = codec.loads(value)
        subset = obj["subsets"][0]
        ip = subset["addresses"][0]["ip"]
        ports = subset.get("ports") or [{"port": DEFAULT_PORT}]
        return MasterLease(ip, int(ports[0]["port"]),
                           meta.parse_time(obj["metadata"]["annotations"][EXPIRY_ANNOTATION]))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def agreed_endpoints(leases: list[MasterLease]) -> tuple[list[str], int]:
    """(sorted addresses, port) for the Endpoints: the port most leases serve on, lowest on a tie,
    and the addresses of the leases on it."""
    counts = Counter(lease.port for lease in leases)
    port = min(counts, key=lambda p: (-counts[p], p))
    return sorted({lease.ip for lease in leases if lease.port == port}), port


def endpoint_ports(port: int) -> list[dict]:
    return [{"name": "https", "port": port, "protocol": "TCP"}]


class EndpointsWriter:
    """Writes the ``kubernetes`` Endpoints and EndpointSlice, only when they differ from what is wanted."""

    def __init__(self, registry, namespace: str, address_type: str):
        self.endpoints = registry.store("", "v1", "endpoints")
        self.slices = registry.store("discovery.k8s.io", "v1", "endpointslices")
        self.namespace = namespace
        self.address_type = address_type

    async def get_endpoints(self) -> Optional[dict]:
        return await _get(self.endpoints, self.namespace)

    async def sync(self, subsets: list[dict]) -> None:
        await self._write(self.endpoints, {"metadata": {"labels": dict(SKIP_MIRROR)}, "subsets": subsets},
                          lambda old: old.get("subsets") != subsets
                          or not _has_labels(old, SKIP_MIRROR))
        addresses = [a["ip"] for s in subsets for a in s.get("addresses") or []
                     if _family(a["ip"]) == self.address_type]
        ports = subsets[0]["ports"] if subsets else []
        labels = {"kubernetes.io/service-name": SERVICE_NAME}
        wanted = {"metadata": {"labels": labels}, "addressType": self.address_type,
                  "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in addresses],
                  "ports": ports}
        await self._write(self.slices, wanted,
                          lambda old: any(old.get(f) != wanted[f] for f in ("addressType", "endpoints", "ports"))
                          or not _has_labels(old, labels))

    async def _write(self, store, wanted: dict, differs) -> None:
        old = await _get(store, self.namespace)
        if old is None:
            obj = dict(wanted, metadata=dict(wanted["metadata"], name=SERVICE_NAME, namespace=self.namespace))
            try:
                await store.create(self.namespace, obj)
                return
            except StatusError as e:
                if e.code != 409:
                    raise
                old = await _get(store, self.namespace)
        if old is None or not differs(old):
            return
        if old.get("addressType", self.address_type) != self.address_type:
            # addressType is immutable: a slice of the other family is replaced.
            await store.delete(self.namespace, SERVICE_NAME)
            await self._write(store, wanted, differs)
            return

        def update(current):
            current.setdefault("metadata", {}).setdefault("labels", {}).update(wanted["metadata"]["labels"])
            for field, value in wanted.items():
                if field != "metadata":
                    current[field] = value
            return current
        log.warn("Resetting endpoints for master service {name} to {value}", name=SERVICE_NAME,
                 value=wanted.get("subsets", wanted.get("endpoints")))
        await store.update(self.namespace, SERVICE_NAME, update)


async def _get(store, namespace):
    try:
        return await store.get(namespace, SERVICE_NAME)
    except StatusError as e:
        if e.code != 404:
            raise
        return None


def _has_labels(obj: dict, labels: dict) -> bool:
    have = (obj.get("metadata") or {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


def _family(ip: str) -> str:
    return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"


class LeaseEndpointReconciler:
    """``--endpoint-reconciler-type=lease``."""

    def __init__(self, leases: MasterLeases, writer: EndpointsWriter, ip: str, port: int):
        self.leases = leases
        self.writer = writer
        self.ip = ip
        self.port = port
        self._lock = DeferredLock()
        self._stopped = False

    async def reconcile(self) -> Optional[int]:
        """Renew this apiserver's lease and bring the Endpoints in line with the live leases; the port
        they carry (the Service's targetPort), or None when stopped or nothing could be decided."""
        await self._lock.acquire()
        try:
            if self._stopped:
                return None
            # Renewed first, whatever happens below, so that the others count this apiserver.
            await self.leases.update(self.ip, self.port)
            return await self._sync()
        finally:
            self._lock.release()

    async def _sync(self) -> Optional[int]:
        live = await self.leases.list()
        if not live:
            log.error("No API server addresses were listed in storage; refusing to erase all endpoints "
                      "for the kubernetes Service")
            return None
        addresses, port = agreed_endpoints(live)
        await self.writer.sync([{"addresses": [{"ip": ip} for ip in addresses], "ports": endpoint_ports(port)}])
        return port

    async def stop(self) -> Optional[int]:
        """Stop reconciling, delete this apiserver's lease and reconcile the Endpoints without it; the
        port they now carry (None when none is left or already stopped)."""
        await self._lock.acquire()
        try:
            if self._stopped:
                return None
            self._stopped = True
            await self.leases.remove(self.ip, self.port)
            return await self._sync()
        finally:
            self._lock.release()


class MasterCountEndpointReconciler:
    """``--endpoint-reconciler-type=master-count``: at most ``count`` addresses, this apiserver's always."""

    def __init__(self, writer: EndpointsWriter, ip: str, port: int, count: int):
        self.writer = writer
        self.ip = ip
        self.port = port
        self.count = count
        self._stopped = False

    async def reconcile(self) -> Optional[int]:
        if self._stopped:
            return None
        existing = await self.writer.get_endpoints()
        subsets = (existing or {}).get("subsets") or []
        ips = [a["ip"] for a in subsets[0].get("addresses") or []] if len(subsets) == 1 else []
        ips = sorted(set(ips) | {self.ip})
        if len(ips) > self.count:
            # Drop the addresses following this one (wrapping around): each apiserver trims its
            # successors, so the set converges on the live ones.
            mine = ips.index(self.ip)
            keep = {ips[(mine - i) % len(ips)] for i in range(self.count)}
            ips = [ip for ip in ips if ip in keep]
        await self.writer.sync([{"addresses": [{"ip": ip} for ip in ips], "ports": endpoint_ports(self.port)}])
        return self.port

    async def stop(self) -> None:
        """Stop reconciling and take this apiserver's address out of the Endpoints."""
        self._stopped = True
        existing = await self.writer.get_endpoints()
        subsets = (existing or {}).get("subsets") or []
        if len(subsets) != 1:
            return
        addresses = [a for a in subsets[0].get("addresses") or [] if a.get("ip") != self.ip]
        await self.writer.sync([dict(subsets[0], addresses=addresses)] if addresses else [])


class NoneEndpointReconciler:
    """``--endpoint-reconciler-type=none``: the Endpoints are someone else's."""

    async def reconcile(self) -> Optional[int]:
        return None

    async def stop(self) -> None:
        pass


def new_endpoint_reconciler(kind: str, registry, clock, namespace: str, ip: str, port: int,
                            address_type: str = "IPv4", apiserver_count: int = 1, ttl: float = LEASE_TTL,
                            shared_storage: bool = True):
    """The reconciler ``--endpoint-reconciler-type=kind`` asks for; ``shared_storage`` is False on the
    embedded store, where no other apiserver can be."""
    if kind == "none":
        return NoneEndpointReconciler()
    writer = EndpointsWriter(registry, namespace, address_type)
    if kind == "master-count":
        return MasterCountEndpointReconciler(writer, ip, port, apiserver_count)
    if kind == "lease":
        leases = MasterLeases(registry.storage, registry.prefix, clock, ttl) if shared_storage \
            else SoleLease(ip, port)
        return LeaseEndpointReconciler(leases, writer, ip, port)
    raise ValueError(f"unknown endpoint reconciler type {kind!r}")

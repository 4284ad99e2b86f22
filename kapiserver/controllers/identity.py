"""
API server identity (upstream's APIServerIdentity, on by default in 1.32):
every apiserver keeps a Lease ``kube-system/apiserver-<hash>`` labelled
``apiserver.kubernetes.io/identity=kube-apiserver`` and
``kubernetes.io/hostname=<hostname>``, renews it every 10 s with a one-hour
duration, and deletes other apiservers' identity leases once they have expired.

The id is upstream's: "apiserver-" and the lower-case, unpadded base32 of the
first 16 bytes of SHA-256 over the length-prefixed hostname and
"kube-apiserver".  Upstream gives every apiserver on one host the same id (a
second one takes the lease over); here the serving address is hashed in as a
third field, so replicas on one host keep their own leases.  An apiserver
serving upstream's default address (0.0.0.0:6443) has upstream's id exactly:
no other process on the host can listen on that port.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery import meta
from ..machinery.errors import StatusError
from ..machinery.selectors import parse_label_selector
from ..registry.options import DeleteOptions, ListOptions

log = Logger()

NAMESPACE = "kube-system"
IDENTITY_LABEL = "apiserver.kubernetes.io/identity"
HOSTNAME_LABEL = "kubernetes.io/hostname"
COMPONENT = "kube-apiserver"
LEASE_DURATION_SECONDS = 3600
RENEW_INTERVAL = 10.0
GC_PERIOD = 3600.0
# Upstream's default secure serving: the one address whose id needs no third field.
DEFAULT_SERVING = ("0.0.0.0", 6443)


def _length_prefixed(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def apiserver_id(hostname: str, serving: Optional[tuple[str, int]] = DEFAULT_SERVING) -> str:
    """The identity lease name of the apiserver on ``hostname`` serving at ``serving``
    (bind address, port); upstream's value for the default address."""
    data = _length_prefixed(hostname) + _length_prefixed(COMPONENT)
    if serving != DEFAULT_SERVING:
        where = f"{serving[0]}:{serving[1]}" if serving else uuid.uuid4().hex
        data += _length_prefixed(where)
    digest = hashlib.sha256(data).digest()[:16]
    return "apiserver-" + base64.b32encode(digest).decode().rstrip("=").lower()


def serving_address(config) -> Optional[tuple[str, int]]:
    """Where this apiserver listens: the secure port, else the insecure one, else None."""
    if config.secure_port:
        return (config.bind_address, config.secure_port)
    if config.insecure_port:
        return (config.insecure_bind_address, config.insecure_port)
    return None


def holder_identity(lease_name: str) -> str:
    """A holder identity unique to this process, as upstream forms it (``<id>_<uuid>``)."""
    return f"{lease_name}_{uuid.uuid4()}"


def is_expired(lease: dict, now: float) -> bool:
    """Upstream's test: no renewTime, no duration, or renewTime + duration already past."""
    spec = lease.get("spec") or {}
    renew, duration = spec.get("renewTime"), spec.get("leaseDurationSeconds")
    if not renew or duration is None:
        return True
    try:
        return meta.parse_time(renew) + duration < now
    except ValueError:
        return True


class IdentityLeaseController:
    """Keeps this apiserver's identity lease fresh and collects the expired ones of others."""

    def __init__(self, registry, clock, lease_name: str, holder: str, hostname: str,
                 lease_duration: int = LEASE_DURATION_SECONDS, renew_interval: float = RENEW_INTERVAL,
                 gc_period: float = GC_PERIOD, namespace: str = NAMESPACE):
        self.leases = registry.store("coordination.k8s.io", "v1", "leases")
        self.clock = clock
        self.lease_name = lease_name
        self.holder = holder
        self.hostname = hostname
        self.lease_duration = int(lease_duration)
        self.renew_interval = renew_interval
        self.gc_period = gc_period
        self.namespace = namespace
        self._calls: dict[str, object] = {}
        self._running = False
        self._stopped = False

    async def start(self) -> None:
        """Write the lease and collect expired ones once now, then keep doing both (not after stop())."""
        if self._stopped:
            return
        self._running = True
        await self._guarded(self.heartbeat, "identity lease heartbeat")
        await self._guarded(self.collect, "identity lease garbage collection")
        self._schedule("heartbeat", self.renew_interval, self.heartbeat)
        self._schedule("collect", self.gc_period, self.collect)

    def stop(self) -> None:
        self._running = False
        self._stopped = True
        for call in self._calls.values():
            if call.active():
                call.cancel()
        self._calls.clear()

    def _schedule(self, what: str, interval: float, work) -> None:
        def run():
            d = Deferred.fromCoroutine(self._guarded(work, f"identity lease {what}"))
            d.addBoth(lambda _: self._schedule(what, interval, work))
        if self._running:
            self._calls[what] = self.clock.callLater(interval, run)

    async def _guarded(self, work, what: str) -> None:
        try:
            await work()
        except Exception:
            if self._stopped:
                return      # stopped meanwhile (the apiserver shutting down, its storage closing under the call)
            # The next round tries again; a failed heartbeat must not stop the apiserver.
            log.failure("{what} failed", what=what)

    def _labelled(self, lease: dict) -> dict:
        labels = lease.setdefault("metadata", {}).setdefault("labels", {})
        labels[IDENTITY_LABEL] = COMPONENT
        labels[HOSTNAME_LABEL] = self.hostname
        return lease

    async def heartbeat(self) -> dict:
        """Create or renew this apiserver's lease; the lease as stored."""
        now = meta.rfc3339_micro(self.clock.seconds())

        def renew(old: Optional[dict]) -> dict:
            if old is None:
                return self._labelled({
                    "metadata": {"name": self.lease_name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.holder, "leaseDurationSeconds": self.lease_duration,
                             "renewTime": now}})
            spec = old.setdefault("spec", {})
            # A restarted apiserver (same id, new process) takes its lease over with its own holder.
            spec["holderIdentity"] = self.holder
            spec["leaseDurationSeconds"] = self.lease_duration
            spec["renewTime"] = now
            return self._labelled(old)
        lease, _ = await self.leases.update(self.namespace, self.lease_name, renew, allow_create=True)
        return lease

    async def collect(self) -> list[str]:
        """Delete every expired kube-apiserver identity lease; the names deleted."""
        selector = parse_label_selector(f"{IDENTITY_LABEL}={COMPONENT}")
        items, _ = await self.leases.list(self.namespace, ListOptions(label_selector=selector))
        deleted = []
        for lease in items:
            if not is_expired(lease, self.clock.seconds()):
                continue
            name = lease["metadata"]["name"]
            try:
                # Read it again: the listing may be older than a renewal.
                current = await self.leases.get(self.namespace, name)
                if not is_expired(current, self.clock.seconds()):
                    continue
                await self.leases.delete(self.namespace, name, DeleteOptions(
                    precondition_resource_version=current["metadata"]["resourceVersion"]))
                deleted.append(name)
                log.info("Deleted expired apiserver identity lease {name}", name=name)
            except StatusError as e:
                # Gone already (another apiserver collected it) or renewed meanwhile.
                if e.code not in (404, 409):
                    raise
        return deleted

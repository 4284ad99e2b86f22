"""
Bootstrap: what every cluster has from the start, kept in place by the
apiserver itself — the system namespaces, and the ``kubernetes`` service with
its endpoints pointing at the live apiservers (see endpointreconciler); and,
once at start, the system priority classes.
"""

from __future__ import annotations

import ipaddress

from twisted.logger import Logger

from ..machinery.errors import StatusError
from .endpointreconciler import new_endpoint_reconciler

log = Logger()

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RECONCILE_INTERVAL = 10.0


class BootstrapController:
    def __init__(self, registry, master_namespace: str, advertise_address: str, port: int,
                 service_network, endpoint_reconciler_type: str = "lease", apiserver_count: int = 1,
                 clock=None, shared_storage: bool = True):
        """``clock`` (IReactorTime) dates the master leases, the global reactor when None;
        ``shared_storage`` is False on the embedded store (no other apiserver can share it)."""
        if clock is None:
            from twisted.internet import reactor as clock
        self.registry = registry
        self.master_namespace = master_namespace
        self.advertise_address = advertise_address
        self.port = port
        service_ip = ipaddress.ip_address(int(service_network.network_address) + 1)
        self.service_ip = str(service_ip)
        self.endpoints = new_endpoint_reconciler(
            endpoint_reconciler_type, registry, clock, master_namespace, advertise_address, port,
            address_type="IPv6" if service_ip.version == 6 else "IPv4", apiserver_count=apiserver_count,
            shared_storage=shared_storage)
        self._stopped = False

    async def reconcile(self) -> None:
        if self._stopped:
            return
        namespaces = self.registry.store("", "v1", "namespaces")
        for name in dict.fromkeys(SYSTEM_NAMESPACES + (self.master_namespace,)):
            await _ensure(namespaces, None, {"metadata": {"name": name}})
        # The endpoints first: the Service's targetPort follows the port the replicas agreed on.
        port = await self.endpoints.reconcile()
        if self._stopped:
            return   # stopped meanwhile: stop() has set the Service for the apiservers that remain
        await self._ensure_service(port or self.port)

    async def stop(self) -> None:
        """On a graceful shutdown: no more reconciling, and this apiserver out of the endpoints."""
        self._stopped = True
        port = await self.endpoints.stop()
        if port is not None and port != self.port:
            # The survivors' port: the Service changes with the Endpoints, not a reconcile later.
            await self._ensure_service(port)

    async def _ensure_service(self, target_port: int) -> None:
        services = self.registry.store("", "v1", "services")
        service = {
            "metadata": {"name": "kubernetes", "namespace": self.master_namespace,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": self.service_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": target_port}]},
        }
        existing = await _ensure(services, self.master_namespace, service)
        if existing is not None:
            ports = (existing.get("spec") or {}).get("ports") or []
            if [p.get("targetPort") for p in ports] != [target_port]:
                def update(old):
                    old["spec"]["ports"] = service["spec"]["ports"]
                    return old
                await services.update(self.master_namespace, "kubernetes", update)


async def ensure_system_priority_classes(registry) -> None:
    """Upstream's scheduling/bootstrap-system-priority-classes hook: the system priority classes exist
    (missing ones are created; existing ones are left as they are)."""
    from ..registry.validation.groups import SYSTEM_PRIORITY_CLASSES
    store = registry.lookup("scheduling.k8s.io", "v1", "priorityclasses")
    if store is None:
        return   # scheduling.k8s.io/v1 turned off by --runtime-config
    for name, value, description in SYSTEM_PRIORITY_CLASSES:
        await _ensure(store, None, {"metadata": {"name": name}, "value": value, "description": description})


async def _ensure(store, namespace, obj):
    """Create ``obj`` unless it exists; the existing object, or None when created."""
    name = obj["metadata"]["name"]
    try:
        return await store.get(namespace, name)
    except StatusError as e:
        if e.code != 404:
            raise
    try:
        await store.create(namespace, obj)
    except StatusError as e:
        if e.code != 409:
            raise
        return await store.get(namespace, name)
    return None

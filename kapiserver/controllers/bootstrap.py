"""
Bootstrap: what every cluster has from the start, kept in place by the
apiserver itself — the system namespaces, and the ``kubernetes`` service with
its endpoints pointing at this apiserver.
"""

from __future__ import annotations

import ipaddress

from twisted.logger import Logger

from ..machinery.errors import StatusError

log = Logger()

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RECONCILE_INTERVAL = 10.0


class BootstrapController:
    def __init__(self, registry, master_namespace: str, advertise_address: str, port: int,
                 service_network):
        self.registry = registry
        self.master_namespace = master_namespace
        self.advertise_address = advertise_address
        self.port = port
        self.service_ip = str(ipaddress.ip_address(int(service_network.network_address) + 1))

    async def reconcile(self) -> None:
        namespaces = self.registry.store("", "v1", "namespaces")
        for name in dict.fromkeys(SYSTEM_NAMESPACES + (self.master_namespace,)):
            await _ensure(namespaces, None, {"metadata": {"name": name}})
        await self._ensure_service()
        await self._ensure_endpoints()

    async def _ensure_service(self) -> None:
        services = self.registry.store("", "v1", "services")
        service = {
            "metadata": {"name": "kubernetes", "namespace": self.master_namespace,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": self.service_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": self.port}]},
        }
        existing = await _ensure(services, self.master_namespace, service)
        if existing is not None:
            ports = (existing.get("spec") or {}).get("ports") or []
            if [p.get("targetPort") for p in ports] != [self.port]:
                def update(old):
                    old["spec"]["ports"] = service["spec"]["ports"]
                    return old
                await services.update(self.master_namespace, "kubernetes", update)

    async def _ensure_endpoints(self) -> None:
        subsets = [{"addresses": [{"ip": self.advertise_address}],
                    "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}]}]
        endpoints = self.registry.store("", "v1", "endpoints")
        obj = {"metadata": {"name": "kubernetes", "namespace": self.master_namespace,
                            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
               "subsets": subsets}
        existing = await _ensure(endpoints, self.master_namespace, obj)
        if existing is not None and existing.get("subsets") != subsets:
            def update(old):
                old["subsets"] = subsets
                return old
            await endpoints.update(self.master_namespace, "kubernetes", update)
        slices = self.registry.store("discovery.k8s.io", "v1", "endpointslices")
        slice_ = {"metadata": {"name": "kubernetes", "namespace": self.master_namespace,
                               "labels": {"kubernetes.io/service-name": "kubernetes"}},
                  "addressType": "IPv4",
                  "endpoints": [{"addresses": [self.advertise_address], "conditions": {"ready": True}}],
                  "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}]}
        existing = await _ensure(slices, self.master_namespace, slice_)
        if existing is not None and (existing.get("endpoints") != slice_["endpoints"]
                                     or existing.get("ports") != slice_["ports"]):
            def update(old):
                old["endpoints"], old["ports"] = slice_["endpoints"], slice_["ports"]
                return old
            await slices.update(self.master_namespace, "kubernetes", update)


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

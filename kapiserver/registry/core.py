"""Strategies of the core/v1 resources whose behaviour differs from the default."""

from __future__ import annotations

import base64
import copy
import time

from ..machinery import errors, meta
from ..machinery.errors import invalid
from ..machinery.jsoncopy import json_copy
from .allocator import DryRunAllocator
from .strategy import OwnPreconditions, Strategy
from .validation import pod as pod_validation
from .validation import service as service_validation
from .validation._util import go_strings, invalid_go
from .validation.meta import kube_finalizers, object_meta_update


class PodStrategy(Strategy):
    def __init__(self, info, clock=None):
        super().__init__(info)
        self.clock = clock

    def reset_status(self, obj: dict) -> None:
        from .defaults import pod_qos_class
        obj["status"] = status = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
        if (obj.get("spec") or {}).get("schedulingGates") and self.clock is not None:
            # Upstream's applySchedulingGatedCondition: a gated pod says why it waits (kubectl's STATUS
            # SchedulingGated).
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                                     "lastTransitionTime": meta.rfc3339(self.clock.seconds()),
                                     "reason": "SchedulingGated",
                                     "message": "Scheduling is blocked due to non-empty scheduling gates"}]

    @staticmethod
    def default_grace_period(obj: dict) -> int:
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        # An unscheduled pod, or one that has finished, has nothing to wait for.
        if not spec.get("nodeName") or phase in ("Failed", "Succeeded"):
            return 0
        grace = spec.get("terminationGracePeriodSeconds")
        return 30 if grace is None else int(grace)

    graceful_delete = True

    def check_graceful_delete(self, obj: dict, grace_period):
        default = self.default_grace_period(obj)
        if default == 0:
            return 0
        if grace_period is None:
            return default
        # A negative period is taken as one second, as upstream's delete path takes it.
        return 1 if int(grace_period) < 0 else int(grace_period)

    def prepare_for_subresource_update(self, subresource: str, new: dict, old: dict) -> None:
        status = new.get("status")
        super().prepare_for_subresource_update(subresource, new, old)
        if subresource == "binding" and status is not None:
            # A binding records the PodScheduled condition besides the node, as upstream's binding REST.
            new["status"] = status

    def prepare_for_status_update(self, new: dict, old: dict) -> None:
        super().prepare_for_status_update(new, old)
        # Upstream's podStatusStrategy backfills the QoS class (immutable, set on create) when a writer drops it.
        status = new.get("status")
        old_qos = (old.get("status") or {}).get("qosClass")
        if isinstance(status, dict) and not status.get("qosClass") and old_qos:
            status["qosClass"] = old_qos

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list:
        # A binding sets spec.nodeName, which no ordinary pod update may change; upstream's
        # binding REST writes it without update validation (it checks the Binding itself).
        if subresource == "binding":
            return []
        if subresource == "ephemeralcontainers":
            # Upstream's podEphemeralContainersStrategy validates the change of ephemeral containers alone.
            return pod_validation.validate_pod_ephemeral_containers_update(new, old)
        return super().validate_subresource_update(subresource, new, old)


class SecretStrategy(Strategy):
    def default(self, obj: dict) -> None:
        super().default(obj)
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.setdefault("data", {})
            if data is None:
                data = obj["data"] = {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()


class NamespaceStrategy(OwnPreconditions, Strategy):
    """Namespaces start Active with the "kubernetes" finalizer, which the
    namespace controller removes (through /finalize) once the namespace is empty."""

    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        obj.setdefault("spec", {})
        finalizers = obj["spec"].get("finalizers") or []
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        obj["spec"]["finalizers"] = finalizers
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers changes only through /finalize.
        new["spec"] = json_copy(old.get("spec") or {})
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = new["metadata"]["name"]

    def prepare_for_finalize(self, new: dict, old: dict) -> None:
        """/finalize writes the spec and the metadata sent; only the status stays as it was (upstream's
        namespaceFinalizeStrategy), and the name label is set as on every write (its Canonicalize)."""
        spec = new.get("spec") or {}
        status = json_copy(old.get("status") or {})
        for field in list(new):
            if field not in ("metadata", "apiVersion", "kind"):
                del new[field]
        new["spec"] = {"finalizers": list(spec.get("finalizers") or [])} if spec.get("finalizers") else {}
        new["status"] = status
        labels = new["metadata"].get("labels")
        if not isinstance(labels, dict):
            labels = new["metadata"]["labels"] = {}
        labels["kubernetes.io/metadata.name"] = new["metadata"]["name"]

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list:
        """/status: upstream's ValidateNamespaceStatusUpdate, the metadata update and a phase that agrees with
        the deletionTimestamp; /finalize: ValidateNamespaceFinalizeUpdate, the metadata update and each of
        spec.finalizers a finalizer name."""
        errs = object_meta_update(new.get("metadata"), old.get("metadata"))
        if subresource == "status":
            return errs + _namespace_phase(new)
        if subresource == "finalize":
            return errs + kube_finalizers((new.get("spec") or {}).get("finalizers"), "spec.finalizers")
        return super().validate_subresource_update(subresource, new, old)

    def pending_finalizers(self, obj: dict) -> bool:
        return super().pending_finalizers(obj) or bool((obj.get("spec") or {}).get("finalizers"))

    def prepare_for_delete(self, obj: dict) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"
        # Upstream's namespace storage marks a namespace with a deletionTimestamp alone.
        obj["metadata"].pop("deletionGracePeriodSeconds", None)


def _namespace_phase(namespace: dict) -> list:
    """A namespace is Active until it is being deleted, Terminating from then on."""
    phase = (namespace.get("status") or {}).get("phase") or ""
    if not namespace["metadata"].get("deletionTimestamp"):
        if phase != "Active":
            return [invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
    elif phase != "Terminating":
        return [invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")]
    return []


class ServiceStrategy(Strategy):
    """Services take a cluster IP (unless headless or ExternalName), node ports (NodePort and LoadBalancer
    types) and a health check node port (LoadBalancer with externalTrafficPolicy Local) from the allocators,
    and give them back when their type no longer needs them (upstream's service storage and alloc.go)."""

    def __init__(self, info, ip_allocator, port_allocator):
        super().__init__(info)
        self.ips = ip_allocator
        self.ports = port_allocator

    @property
    def family(self) -> str:
        return getattr(self.ips, "family", "IPv4")

    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"loadBalancer": {}}

    def _field_error(self, obj, error):
        return errors.invalid_object("", "Service", obj["metadata"].get("name", ""), [error])

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("clusterIP") and not spec.get("clusterIPs"):
            # An old client's clusterIP alone stands for clusterIPs too (upstream's normalizeClusterIPs).
            spec["clusterIPs"] = [spec["clusterIP"]]

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if not isinstance(spec, dict):
            return
        service_validation.patch_allocated_values(spec, old_spec)
        service_validation.normalize_cluster_ips(spec, old_spec)
        service_validation.drop_type_dependent_fields(spec, old_spec)
        if spec.get("type") != "LoadBalancer" and (new.get("status") or {}).get("loadBalancer"):
            # A Service that is not a load balancer has none to report (upstream clears it on every update).
            new["status"] = dict(new.get("status") or {}, loadBalancer={})
        if spec.get("type") != "ExternalName" and old_spec.get("type") != "ExternalName" and \
                spec.get("clusterIPs") == old_spec.get("clusterIPs"):
            # A whole object sent without the families the server set keeps them (allocateUpdate's
            # initIPFamilyFields infers them again from the same clusterIPs, and defaults the policy).
            if not spec.get("ipFamilies") and old_spec.get("ipFamilies"):
                spec["ipFamilies"] = json_copy(old_spec["ipFamilies"])
            if spec.get("ipFamilyPolicy") is None and old_spec.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]

    async def begin_create(self, obj: dict, dry_run: bool):
        return await self._begin(obj, obj.setdefault("spec", {}), None, dry_run)

    async def begin_update(self, new: dict, old: dict, dry_run: bool):
        return await self._begin(new, new.setdefault("spec", {}), old.get("spec") or {}, dry_run)

    async def _begin(self, obj: dict, spec: dict, old_spec: "dict | None", dry_run: bool):
        """Upstream's allocateCreate/allocateUpdate, before the object is validated: what the allocator refuses
        outright (the only errors then), then the cluster IPs (on create, or leaving ExternalName), node ports and
        health check node port the Service needs and ``old_spec`` does not hold; a dry run takes nothing.  What
        gives back what was taken (everything, if any of it fails)."""
        early = service_validation.allocation_errors(spec, self.family)
        if early:
            raise errors.invalid_object("", "Service", obj["metadata"].get("name", ""), early)
        allocator = self._dry_run() if dry_run else self
        taken_ips: list = []
        taken_ports: list = []

        async def revert() -> None:
            for ip in taken_ips:
                await self.ips.release(ip)
            for port in taken_ports:
                await self.ports.release(port)
        try:
            if old_spec is None or (old_spec.get("type") == "ExternalName" and spec.get("type") != "ExternalName"):
                await allocator._allocate_cluster_ips(obj, spec, taken_ips)
            await allocator._allocate_node_ports(obj, spec, old_spec, taken_ports)
            await allocator._allocate_health_check(spec, old_spec, obj, taken_ports)
        except BaseException:
            if not dry_run:
                await revert()
            raise
        return None if dry_run else revert

    async def _allocate_cluster_ips(self, obj, spec, taken):
        if spec.get("type") == "ExternalName":
            return
        ip = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
        if ip == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        elif ip:
            if not self.ips.contains(ip):
                raise self._field_error(obj, invalid_go(
                    "spec.clusterIPs", go_strings([ip]),
                    f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                    f"The range of valid IPs is {self.ips.describe_range}"))
            if not await self.ips.allocate(ip, _owner(obj)):
                raise self._field_error(obj, invalid_go(
                    "spec.clusterIPs", go_strings([ip]),
                    f"failed to allocate IP {ip}: provided IP is already allocated"))
            taken.append(ip)
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        else:
            ip = await self.ips.allocate_next(_owner(obj))
            taken.append(ip)
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        if ip == "None" and not spec.get("selector"):
            # Headless and selectorless: its endpoints are the user's, of either family, so upstream asks
            # for both by default, on a single-stack cluster too.
            spec.setdefault("ipFamilyPolicy", "RequireDualStack")
            families = list(spec.get("ipFamilies") or [self.family])
            if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = families
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = [self.family]
        if spec.get("ipFamilyPolicy") is None:
            spec["ipFamilyPolicy"] = "SingleStack"

    async def _allocate_node_ports(self, obj, spec, old_spec, taken):
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
            return
        # A LoadBalancer with allocateLoadBalancerNodePorts false takes only the node ports asked for.
        allocate_new = not (spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False)
        old_ports = {str(p.get("nodePort")) for p in (old_spec or {}).get("ports") or [] if p.get("nodePort")}
        by_port: dict = {}
        for index, port in enumerate(spec.get("ports") or []):
            node_port = port.get("nodePort")
            if not node_port and str(port.get("port")) in by_port:
                # The same port number under another protocol shares its node port (upstream's initNodePorts).
                port["nodePort"] = by_port[str(port.get("port"))]
                continue
            if node_port:
                by_port.setdefault(str(port.get("port")), node_port)
                if str(node_port) in old_ports or str(node_port) in taken:
                    continue
                if not self.ports.contains(str(node_port)):
                    raise self._field_error(obj, errors.invalid(
                        f"spec.ports[{index}].nodePort", node_port,
                        f"provided port is not in the valid range. The range of valid ports is "
                        f"{self.ports.describe_range}"))
                if not await self.ports.allocate(str(node_port), _owner(obj)):
                    raise self._field_error(obj, errors.invalid(
                        f"spec.ports[{index}].nodePort", node_port, "provided port is already allocated"))
                taken.append(str(node_port))
            elif allocate_new:
                value = await self.ports.allocate_next(_owner(obj))
                port["nodePort"] = int(value)
                by_port[str(port.get("port"))] = int(value)
                taken.append(value)

    async def _allocate_health_check(self, spec, old_spec, obj, taken):
        """LoadBalancer with externalTrafficPolicy Local: a health check node port, the one asked for or any
        (upstream's allocHealthCheckNodePort, whose failure is an internal error)."""
        if not service_validation.needs_health_check(spec):
            return
        wanted = spec.get("healthCheckNodePort") or 0
        if old_spec is not None and service_validation.needs_health_check(old_spec) and \
                wanted == (old_spec.get("healthCheckNodePort") or 0):
            return
        if wanted:
            problem = None
            if not self.ports.contains(str(wanted)):
                problem = (f"provided port is not in the valid range. The range of valid ports is "
                           f"{self.ports.describe_range}")
            elif not await self.ports.allocate(str(wanted), _owner(obj)):
                problem = "provided port is already allocated"
            if problem:
                raise errors.internal_error(f"failed to allocate requested HealthCheck NodePort {wanted}: {problem}")
            taken.append(str(wanted))
        else:
            value = await self.ports.allocate_next(_owner(obj))
            spec["healthCheckNodePort"] = int(value)
            taken.append(value)

    def _dry_run(self) -> "ServiceStrategy":
        """This strategy with allocators that take nothing."""
        dry = copy.copy(self)
        dry.ips, dry.ports = DryRunAllocator(self.ips), DryRunAllocator(self.ports)
        return dry

    async def after_update(self, new: dict, old: dict) -> None:
        # What the old object held and the new one does not is given back, once the new one is written.
        await self._release_beyond(old.get("spec") or {}, new.get("spec") or {})

    async def _release_beyond(self, spec: dict, kept_spec: dict) -> None:
        """Release the cluster IPs and node ports of ``spec`` that ``kept_spec`` does not hold."""
        kept_ips = set(_cluster_ips_of(kept_spec))
        for ip in _cluster_ips_of(spec):
            if ip not in kept_ips:
                await self.ips.release(ip)
        kept = {str(port) for port in _node_ports_of(kept_spec)}
        for port in _node_ports_of(spec):
            if str(port) not in kept:
                await self.ports.release(str(port))

    async def after_delete(self, obj: dict) -> None:
        spec = obj.get("spec") or {}
        for ip in _cluster_ips_of(spec):
            await self.ips.release(ip)
        for port in _node_ports_of(spec):
            await self.ports.release(str(port))


def _node_ports_of(spec: dict) -> list:
    """The node ports a Service holds, each once (ports of two protocols may share one)."""
    ports = [p.get("nodePort") for p in spec.get("ports") or []] + [spec.get("healthCheckNodePort")]
    return list(dict.fromkeys(port for port in ports if port))


def _cluster_ips_of(spec: dict) -> list:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip and ip != "None"]


def _owner(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class PersistentVolumeStrategy(Strategy):
    """A volume starts Pending; each change of its phase through /status stamps lastPhaseTransitionTime
    (PersistentVolumeLastPhaseTransitionTime, GA in 1.31), unless the writer set a new time itself."""

    def __init__(self, info, clock=None):
        super().__init__(info)
        self.clock = clock

    def _now(self) -> str:
        return meta.rfc3339(self.clock.seconds() if self.clock is not None else time.time())

    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": self._now()}

    def prepare_for_status_update(self, new: dict, old: dict) -> None:
        super().prepare_for_status_update(new, old)
        status, old_status = new.get("status"), old.get("status") or {}
        if not isinstance(status, dict):
            return
        stamped, old_stamped = status.get("lastPhaseTransitionTime"), old_status.get("lastPhaseTransitionTime")
        if status.get("phase") == old_status.get("phase"):
            if stamped is None and old_stamped is not None:
                status["lastPhaseTransitionTime"] = old_stamped
        elif stamped is None or stamped == old_stamped:
            status["lastPhaseTransitionTime"] = self._now()


class PersistentVolumeClaimStrategy(Strategy):
    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"phase": "Pending"}


class NodeStrategy(Strategy):
    def reset_status(self, obj: dict) -> None:
        # Nodes register with their status (the kubelet writes it on create).
        obj.setdefault("status", {})

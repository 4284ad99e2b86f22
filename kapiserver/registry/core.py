"""Strategies of the core/v1 resources whose behaviour differs from the default."""

from __future__ import annotations

import base64

from ..machinery import errors, meta
from ..machinery.errors import invalid
from ..machinery.jsoncopy import json_copy
from .strategy import OwnPreconditions, Strategy
from .validation import pod as pod_validation
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
    """Services take a cluster IP (unless headless or ExternalName) and node
    ports (NodePort and LoadBalancer types) from the allocators."""

    def __init__(self, info, ip_allocator, port_allocator):
        super().__init__(info)
        self.ips = ip_allocator
        self.ports = port_allocator

    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"loadBalancer": {}}

    def _field_error(self, obj, error):
        return errors.invalid_object("", "Service", obj["metadata"].get("name", ""), [error])

    async def before_create(self, obj: dict) -> None:
        spec = obj.setdefault("spec", {})
        taken_ip = None
        taken_ports = []
        try:
            if spec.get("type") != "ExternalName":
                ip = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
                if ip == "None":
                    spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
                elif ip:
                    if not self.ips.contains(ip):
                        raise self._field_error(obj, errors.invalid(
                            "spec.clusterIPs", [ip],
                            f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                            f"The range of valid IPs is {self.ips.describe_range}"))
                    if not await self.ips.allocate(ip, _owner(obj)):
                        raise self._field_error(obj, errors.invalid(
                            "spec.clusterIPs", [ip], f"failed to allocate IP {ip}: provided IP is already allocated"))
                    taken_ip = ip
                    spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
                else:
                    taken_ip = await self.ips.allocate_next(_owner(obj))
                    spec["clusterIP"], spec["clusterIPs"] = taken_ip, [taken_ip]
                if ip == "None" and not spec.get("selector"):
                    # Headless and selectorless: its endpoints are the user's, of either family, so upstream asks
                    # for both by default, on a single-stack cluster too.
                    spec.setdefault("ipFamilyPolicy", "RequireDualStack")
                    families = list(spec.get("ipFamilies") or ["IPv4"])
                    if len(families) < 2 and spec["ipFamilyPolicy"] == "RequireDualStack":
                        families.append("IPv6" if families[0] == "IPv4" else "IPv4")
                    spec["ipFamilies"] = families
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
            taken_ports = await self._allocate_node_ports(obj, spec, old_spec=None)
        except BaseException:
            if taken_ip:
                await self.ips.release(taken_ip)
            for port in taken_ports:
                await self.ports.release(port)
            raise

    async def _allocate_node_ports(self, obj, spec, old_spec):
        taken = []
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
            return taken
        old_ports = {str(p.get("nodePort")) for p in (old_spec or {}).get("ports") or [] if p.get("nodePort")}
        for index, port in enumerate(spec.get("ports") or []):
            node_port = port.get("nodePort")
            if node_port:
                if str(node_port) in old_ports:
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
            else:
                value = await self.ports.allocate_next(_owner(obj))
                port["nodePort"] = int(value)
                taken.append(value)
        return taken

    async def create_failed(self, obj: dict) -> None:
        await self.after_delete(obj)

    async def before_update(self, new: dict, old: dict) -> None:
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        if old_spec.get("clusterIP") and spec.get("type") != "ExternalName":
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        await self._allocate_node_ports(new, spec, old_spec)
        kept = {str(p.get("nodePort")) for p in spec.get("ports") or [] if p.get("nodePort")}
        for port in old_spec.get("ports") or []:
            if port.get("nodePort") and str(port["nodePort"]) not in kept:
                await self.ports.release(str(port["nodePort"]))

    async def after_delete(self, obj: dict) -> None:
        spec = obj.get("spec") or {}
        for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
            if ip and ip != "None":
                await self.ips.release(ip)
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                await self.ports.release(str(port["nodePort"]))


def _owner(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class PersistentVolumeStrategy(Strategy):
    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"phase": "Pending"}


class PersistentVolumeClaimStrategy(Strategy):
    def reset_status(self, obj: dict) -> None:
        obj["status"] = {"phase": "Pending"}


class NodeStrategy(Strategy):
    def reset_status(self, obj: dict) -> None:
        # Nodes register with their status (the kubelet writes it on create).
        obj.setdefault("status", {})

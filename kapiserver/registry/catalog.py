"""
The catalogue of built-in resources: what discovery, OpenAPI, routing and the
generic Store need to know of each (group, version, resource).

Data only.  Behaviour per resource lives in its strategy.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Optional

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list")
CREATE_ONLY = ("create",)
GET_PATCH_UPDATE = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""          # of the subresource's kind, when it differs from the parent's
    version: str = ""


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    resource: str            # plural, lower case
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    singular: str = ""
    # Where the objects are stored: resources served in several group-versions
    # share one storage (and one storage version).
    storage_group: Optional[str] = None
    storage_version: Optional[str] = None
    storage_resource: Optional[str] = None
    # A deprecated version's Warning, sent with every request to it (None: not deprecated).
    deprecation_warning: Optional[str] = None
    # A CRD's accepted listKind, when it is not the kind + "List" every built-in list is.
    custom_list_kind: str = ""
    # The verbs discovery lists where they are not ``verbs`` (a terminating CRD's resource: no more writes are
    # offered, though its finalizers' updates are still served).
    discovery_verbs: Optional[tuple[str, ...]] = None

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.custom_list_kind or self.kind + "List"

    @property
    def storage_gv(self) -> tuple[str, str]:
        return (self.storage_group if self.storage_group is not None else self.group,
                self.storage_version or self.version)

    @property
    def storage_key(self) -> str:
        """The resource's name in the storage key space (shared by every
        group-version serving the same objects)."""
        return self.storage_resource or self.resource

    def subresource(self, name: str) -> Optional[Subresource]:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    @property
    def storage_version_hash(self) -> str:
        group, version = self.storage_gv
        gvk = f"{group}/{version}/{self.kind}"
        return base64.b64encode(hashlib.sha256(gvk.encode()).digest()[:8]).decode()


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, GET_PATCH_UPDATE)


SCALE = Subresource("scale", "Scale", GET_PATCH_UPDATE, "autoscaling", "v1")
PROXY_VERBS = ("create", "delete", "get", "patch", "update")
CONNECT = ("create", "get")


def _r(group, version, resource, kind, namespaced=True, **kw) -> ResourceInfo:
    return ResourceInfo(group, version, resource, kind, namespaced, **kw)


BUILTIN: tuple[ResourceInfo, ...] = (
    # core/v1
    _r("", "v1", "bindings", "Binding", verbs=CREATE_ONLY),
    _r("", "v1", "componentstatuses", "ComponentStatus", False, verbs=READ_VERBS, short_names=("cs",),
       deprecation_warning="v1 ComponentStatus is deprecated in v1.19+"),
    _r("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _r("", "v1", "endpoints", "Endpoints", short_names=("ep",), singular="endpoints"),
    _r("", "v1", "events", "Event", short_names=("ev",)),
    _r("", "v1", "limitranges", "LimitRange", short_names=("limits",)),
    _r("", "v1", "namespaces", "Namespace", False,
       verbs=("create", "delete", "get", "list", "patch", "update", "watch"), short_names=("ns",),
       subresources=(Subresource("finalize", "Namespace", ("update",)), _status("Namespace"))),
    _r("", "v1", "nodes", "Node", False, short_names=("no",),
       subresources=(Subresource("proxy", "NodeProxyOptions", PROXY_VERBS), _status("Node"))),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",),
       subresources=(_status("PersistentVolumeClaim"),)),
    _r("", "v1", "persistentvolumes", "PersistentVolume", False, short_names=("pv",),
       subresources=(_status("PersistentVolume"),)),
    _r("", "v1", "pods", "Pod", short_names=("po",), categories=("all",), subresources=(
        Subresource("attach", "PodAttachOptions", CONNECT),
        Subresource("binding", "Binding", CREATE_ONLY),
        Subresource("ephemeralcontainers", "Pod", GET_PATCH_UPDATE),
        Subresource("eviction", "Eviction", CREATE_ONLY, "policy", "v1"),
        Subresource("exec", "PodExecOptions", CONNECT),
        Subresource("log", "Pod", ("get",)),
        Subresource("portforward", "PodPortForwardOptions", CONNECT),
        Subresource("proxy", "PodProxyOptions", PROXY_VERBS),
        _status("Pod"),
    )),
    _r("", "v1", "podtemplates", "PodTemplate"),
    _r("", "v1", "replicationcontrollers", "ReplicationController", short_names=("rc",),
       categories=("all",), subresources=(SCALE, _status("ReplicationController"))),
    _r("", "v1", "resourcequotas", "ResourceQuota", short_names=("quota",),
       subresources=(_status("ResourceQuota"),)),
    _r("", "v1", "secrets", "Secret"),
    _r("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), subresources=(
        Subresource("token", "TokenRequest", CREATE_ONLY, "authentication.k8s.io", "v1"),)),
    _r("", "v1", "services", "Service", short_names=("svc",), categories=("all",), subresources=(
        Subresource("proxy", "ServiceProxyOptions", PROXY_VERBS), _status("Service"))),
    # apps/v1
    _r("apps", "v1", "controllerrevisions", "ControllerRevision"),
    _r("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=("all",),
       subresources=(_status("DaemonSet"),)),
    _r("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",),
       subresources=(SCALE, _status("Deployment"))),
    _r("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=("all",),
       subresources=(SCALE, _status("ReplicaSet"))),
    _r("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), categories=("all",),
       subresources=(SCALE, _status("StatefulSet"))),
    # apiextensions.k8s.io/v1
    _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       short_names=("crd", "crds"), categories=("api-extensions",),
       subresources=(_status("CustomResourceDefinition"),)),
    # authentication / authorization: create-only reviews
    _r("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=CREATE_ONLY),
    _r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview",
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False,
       verbs=CREATE_ONLY),
    # autoscaling: one storage (v2) served as v1 and v2
    _r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short_names=("hpa",),
       categories=("all",), subresources=(_status("HorizontalPodAutoscaler"),)),
    _r("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short_names=("hpa",),
       categories=("all",), subresources=(_status("HorizontalPodAutoscaler"),), storage_version="v2"),
    # batch/v1
    _r("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=("all",),
       subresources=(_status("CronJob"),)),
    _r("batch", "v1", "jobs", "Job", categories=("all",), subresources=(_status("Job"),)),
    # certificates.k8s.io/v1
    _r("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False,
       short_names=("csr",), subresources=(
           Subresource("approval", "CertificateSigningRequest", GET_PATCH_UPDATE),
           _status("CertificateSigningRequest"))),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "leases", "Lease"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    # events.k8s.io/v1: the same objects as core/v1 events
    _r("events.k8s.io", "v1", "events", "Event", short_names=("ev",), storage_group="",
       storage_version="v1"),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",),
       subresources=(_status("Ingress"),)),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    # node.k8s.io/v1
    _r("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    # policy/v1
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",),
       subresources=(_status("PodDisruptionBudget"),)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    # scheduling.k8s.io/v1
    _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short_names=("pc",)),
    # flowcontrol.apiserver.k8s.io/v1: API Priority and Fairness's configuration (stored; the bootstrap objects
    # kept by controllers/apf.py)
    _r("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", False,
       subresources=(_status("FlowSchema"),)),
    _r("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration", False,
       subresources=(_status("PriorityLevelConfiguration"),)),
    # apiregistration.k8s.io/v1: the aggregator's APIServices (the local ones the apiserver registers itself)
    _r("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, categories=("api-extensions",),
       subresources=(_status("APIService"),)),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    _r("storage.k8s.io", "v1", "csinodes", "CSINode", False),
    _r("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity"),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short_names=("sc",)),
    _r("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False,
       subresources=(_status("VolumeAttachment"),)),
    # admissionregistration.k8s.io/v1
    _r("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
       False, categories=("api-extensions",)),
    _r("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
       False, categories=("api-extensions",)),
    _r("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy",
       False, categories=("api-extensions",), subresources=(_status("ValidatingAdmissionPolicy"),)),
    _r("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
       "ValidatingAdmissionPolicyBinding", False, categories=("api-extensions",)),
)

# The preferred version of each group comes first in this list.
GROUP_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("v1",)),
    # The aggregator lists its own group before every other (in /apis and in aggregated discovery alike).
    ("apiregistration.k8s.io", ("v1",)),
    ("apps", ("v1",)),
    ("events.k8s.io", ("v1",)),
    ("authentication.k8s.io", ("v1",)),
    ("authorization.k8s.io", ("v1",)),
    ("autoscaling", ("v2", "v1")),
    ("batch", ("v1",)),
    ("certificates.k8s.io", ("v1",)),
    ("networking.k8s.io", ("v1",)),
    ("policy", ("v1",)),
    ("rbac.authorization.k8s.io", ("v1",)),
    ("storage.k8s.io", ("v1",)),
    ("admissionregistration.k8s.io", ("v1",)),
    ("apiextensions.k8s.io", ("v1",)),
    ("scheduling.k8s.io", ("v1",)),
    ("coordination.k8s.io", ("v1",)),
    ("node.k8s.io", ("v1",)),
    ("discovery.k8s.io", ("v1",)),
    ("flowcontrol.apiserver.k8s.io", ("v1",)),
)


def enabled_builtin(runtime_config) -> tuple[ResourceInfo, ...]:
    """The built-in resources left on by ``--runtime-config`` ("api/all=false",
    "apps/v1=false", "api/ga=true", ...).  Unknown group-versions are refused,
    as upstream refuses them."""
    known = {(i.group, i.version) for i in BUILTIN}
    default = True
    for key in ("api/all", "api/ga"):
        if key in runtime_config:
            default = runtime_config[key]
    switches = {}
    for key, value in runtime_config.items():
        if key in ("api/all", "api/ga", "api/beta", "api/alpha", "api/legacy"):
            if key == "api/legacy":
                switches[("", "v1")] = value
            continue
        group, _, version = key.rpartition("/")
        if group == "api":
            group = ""
        if (group, version) not in known:
            raise ValueError(f"--runtime-config: unknown api groups {key}")
        switches[(group, version)] = value
    return tuple(i for i in BUILTIN if switches.get((i.group, i.version), default))


class Catalog:
    """The resources being served, indexed for lookup.  CRDs add to it at run time."""

    def __init__(self, resources=BUILTIN, groups=GROUP_ORDER):
        served = {(i.group, i.version) for i in resources}
        self.groups: list[tuple[str, list[str]]] = [
            (g, [v for v in vs if (g, v) in served]) for g, vs in groups]
        self.groups = [(g, vs) for g, vs in self.groups if vs]
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        for info in resources:
            self.add(info)

    def add(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.resource)] = info
        for group, versions in self.groups:
            if group == info.group:
                if info.version not in versions:
                    versions.append(info.version)
                break
        else:
            self.groups.append((info.group, [info.version]))

    def remove(self, group: str, version: str, resource: str) -> None:
        self._by_gvr.pop((group, version, resource), None)
        if not self.resources(group, version):
            for entry in self.groups:
                if entry[0] == group and version in entry[1]:
                    entry[1].remove(version)
            self.groups = [(g, vs) for g, vs in self.groups if vs]

    def lookup(self, group: str, version: str, resource: str) -> Optional[ResourceInfo]:
        return self._by_gvr.get((group, version, resource))

    def resources(self, group: str, version: str) -> list[ResourceInfo]:
        return sorted((i for (g, v, _), i in self._by_gvr.items() if g == group and v == version),
                      key=lambda i: i.resource)

    def versions(self, group: str) -> list[str]:
        for g, versions in self.groups:
            if g == group:
                return list(versions)
        return []

    def all(self) -> list[ResourceInfo]:
        return list(self._by_gvr.values())

    def snapshot(self) -> "Catalog":
        """A copy, which what is added to or removed from this one later leaves as it is (the resources' infos
        shared: they never change)."""
        return Catalog(self.all(), [(group, list(versions)) for group, versions in self.groups])

"""The controllers kube-controller-manager knows, under upstream's canonical names (and the older names
upstream still accepts as aliases), and --controllers' selection."""

from __future__ import annotations

import importlib
from typing import Callable, Dict, List

# canonical name -> "module:function" (relative to this package); the function takes a ControllerContext and
# returns a controller with run() and stop().
CONTROLLERS: Dict[str, str] = {
    "serviceaccount-controller": "serviceaccount:start_serviceaccount_controller",
    "serviceaccount-token-controller": "serviceaccounttoken:start_tokens_controller",
    "root-ca-certificate-publisher-controller": "rootcacertpublisher:start_root_ca_publisher",
    # -- namespace, garbage collector, RBAC aggregation, quota, ttl
    "namespace-controller": "namespace:start_namespace_controller",
    "garbage-collector-controller": "garbagecollector:start_garbage_collector_controller",
    "clusterrole-aggregation-controller": "clusterroleaggregation:start_clusterrole_aggregation_controller",
    "resourcequota-controller": "resourcequota:start_resourcequota_controller",
    "ttl-controller": "ttl:start_ttl_controller",

    # -- replicasets, replication controllers, deployments
    "replicaset-controller": "replicaset:start_replicaset_controller",
    "replicationcontroller-controller": "replication:start_replication_controller",
    "deployment-controller": "deployment:start_deployment_controller",

    # -- statefulsets, daemonsets, disruption budgets
    "statefulset-controller": "statefulset:start_statefulset_controller",
    "daemonset-controller": "daemonset:start_daemonset_controller",
    "disruption-controller": "disruption:start_disruption_controller",

    # -- jobs, cronjobs, ttl-after-finished, pod garbage collection
    "job-controller": "job:start_job_controller",
    "cronjob-controller": "cronjob:start_cronjob_controller",
    "ttl-after-finished-controller": "ttlafterfinished:start_ttl_after_finished_controller",
    "pod-garbage-collector-controller": "podgc:start_pod_gc_controller",

    # -- endpoints, endpointslices, mirroring
    "endpoints-controller": "endpoints:start_endpoints_controller",
    "endpointslice-controller": "endpointslice:start_endpointslice_controller",
    "endpointslice-mirroring-controller": "endpointslicemirroring:start_endpointslice_mirroring_controller",

    # -- nodes, taint eviction, certificates, volumes
    "node-lifecycle-controller": "nodelifecycle:start_node_lifecycle_controller",
    "taint-eviction-controller": "tainteviction:start_taint_eviction_controller",
    "certificatesigningrequest-signing-controller": "csrsigning:start_csr_signing_controller",
    "certificatesigningrequest-approving-controller": "csrapproving:start_csr_approving_controller",
    "certificatesigningrequest-cleaner-controller": "csrcleaner:start_csr_cleaner_controller",
    "persistentvolume-binder-controller": "pvbinder:start_persistent_volume_binder_controller",
    "persistentvolumeclaim-protection-controller": "pvcprotection:start_pvc_protection_controller",
    "persistentvolume-protection-controller": "pvprotection:start_pv_protection_controller",
    "ephemeral-volume-controller": "ephemeralvolume:start_ephemeral_volume_controller",

    # -- autoscaling
    "horizontal-pod-autoscaler-controller": "horizontal:start_horizontal_pod_autoscaler_controller",

}
# Upstream's older names for its controllers, still accepted by --controllers.
ALIASES: Dict[str, str] = {
    "serviceaccount-token": "serviceaccount-token-controller",
    "endpoint": "endpoints-controller",
    "endpointslice": "endpointslice-controller",
    "endpointslicemirroring": "endpointslice-mirroring-controller",
    "replicationcontroller": "replicationcontroller-controller",
    "podgc": "pod-garbage-collector-controller",
    "resourcequota": "resourcequota-controller",
    "namespace": "namespace-controller",
    "serviceaccount": "serviceaccount-controller",
    "garbagecollector": "garbage-collector-controller",
    "daemonset": "daemonset-controller",
    "job": "job-controller",
    "deployment": "deployment-controller",
    "replicaset": "replicaset-controller",
    "horizontalpodautoscaling": "horizontal-pod-autoscaler-controller",
    "disruption": "disruption-controller",
    "statefulset": "statefulset-controller",
    "cronjob": "cronjob-controller",
    "csrsigning": "certificatesigningrequest-signing-controller",
    "csrapproving": "certificatesigningrequest-approving-controller",
    "csrcleaner": "certificatesigningrequest-cleaner-controller",
    "ttl": "ttl-controller",
    "bootstrapsigner": "bootstrap-signer-controller",
    "tokencleaner": "token-cleaner-controller",
    "nodeipam": "node-ipam-controller",
    "nodelifecycle": "node-lifecycle-controller",
    "persistentvolume-binder": "persistentvolume-binder-controller",
    "attachdetach": "persistentvolume-attach-detach-controller",
    "persistentvolume-expander": "persistentvolume-expander-controller",
    "clusterrole-aggregation": "clusterrole-aggregation-controller",
    "pvc-protection": "persistentvolumeclaim-protection-controller",
    "pv-protection": "persistentvolume-protection-controller",
    "ttl-after-finished": "ttl-after-finished-controller",
    "root-ca-cert-publisher": "root-ca-certificate-publisher-controller",
    "ephemeral-volume": "ephemeral-volume-controller",
    "storage-version-gc": "storageversion-garbage-collector-controller",
    "resourceclaim": "resourceclaim-controller",
    "legacy-service-account-token-cleaner": "legacy-serviceaccount-token-cleaner-controller",
    "validatingadmissionpolicy-status": "validatingadmissionpolicy-status-controller",
}
# Upstream's controllers that are off unless named (`--controllers=*,bootstrap-signer-controller`).
DISABLED_BY_DEFAULT = frozenset({"bootstrap-signer-controller", "token-cleaner-controller"})
KNOWN = frozenset(CONTROLLERS) | frozenset(ALIASES.values())


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def selected(spec: List[str]) -> List[str]:
    """The controllers ``--controllers`` turns on, in CONTROLLERS' order: ``*`` is every one on by default,
    ``name`` adds one, ``-name`` takes one away (aliases count as their controller)."""
    enabled, disabled = set(), set()
    everything = False
    for item in spec:
        off = item.startswith("-")
        name = item[1:] if off else item
        if name == "*":
            everything = True
            continue
        name = canonical(name)
        if name not in KNOWN:
            raise ValueError(f'"{item.lstrip("-")}" is not in the list of known controllers')
        (disabled if off else enabled).add(name)
    return [name for name in CONTROLLERS if name not in disabled and
            (name in enabled or (everything and name not in DISABLED_BY_DEFAULT))]


def starter(name: str) -> Callable:
    module, _, function = CONTROLLERS[name].partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)

"""
Per-type defaulting of built-in objects, as upstream's SetObjectDefaults_<Kind>.

``apply_defaults`` mutates a JSON-shaped object in place and is idempotent, so it may
run on every decode (request bodies and objects read back from storage, as upstream
does).  Kinds with no upstream defaulter (ConfigMap, ServiceAccount, Event, Lease,
ResourceQuota, ControllerRevision, PodDisruptionBudget, Ingress, Role, ClusterRole,
CertificateSigningRequest, the reviews ...) are left as they are.

Beyond the defaulters proper, what Go always writes is filled in too: embedded
ObjectMeta in templates gets ``creationTimestamp: null``, containers ``resources: {}``,
resource-list quantities their canonical form, and statuses their zero shape
(:mod:`.shape`), because clients compare against a Go apiserver's output.

Deliberately not here (strategy or REST work upstream): pod status.phase/qosClass
(see :func:`pod.pod_qos_class`), the namespace "kubernetes" finalizer, a job's
generated selector, service cluster IPs/ipFamilies/ipFamilyPolicy.
"""

from __future__ import annotations

from . import apps, batch, core, groups
from .pod import pod_qos_class
from .shape import fill_zero_fields, zero_status

__all__ = ["apply_defaults", "pod_qos_class", "zero_status"]

_BY_GROUP = {"": core.DEFAULTERS, "apps": apps.DEFAULTERS, "batch": batch.DEFAULTERS}


def apply_defaults(group: str, version: str, kind: str, obj: dict) -> None:
    """Apply the defaults upstream applies to ``group/version, Kind=kind`` objects."""
    if not isinstance(obj, dict):
        return
    defaulter = _BY_GROUP.get(group, {}).get(kind)
    if defaulter is None:
        defaulter = groups.DEFAULTERS.get((group, version, kind)) or groups.DEFAULTERS.get((group, "*", kind))
    if defaulter is not None:
        defaulter(obj)
    fill_zero_fields(group, version, kind, obj)

"""
Per-type validation of built-in objects, as upstream's pkg/apis/*/validation and
apimachinery's ObjectMeta rules, with upstream's field paths and messages.

``validate(group, version, kind, obj, old, namespaced)`` returns the FieldErrors of a
create (``old`` is None) or an update.  Objects are validated after defaulting and
after the strategy's prepare step, as upstream does.
"""

from __future__ import annotations

from typing import Optional

from ...machinery.errors import FieldError
from ...machinery import names
from ...machinery.names import name_rule, validate_name
from . import admissionregistration, apps, autoscaling, batch, core, events, groups, networking, pod, rbac, service
from . import meta as _meta
from . import persistentvolume

__all__ = ["validate", "status_rule", "validate_name", "name_rule"]

# Create-only kinds that are never stored and whose metadata upstream does not check.
_UNCHECKED = {
    ("authentication.k8s.io", "TokenReview"), ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"), ("", "ComponentStatus"),
}


def _creator(group: str, kind: str):
    if group == "":
        if kind == "Pod":
            return pod.validate_pod
        return core.CREATE.get(kind) or service.CREATE.get(kind)
    if group == "apps":
        return apps.CREATE.get(kind)
    if group == "batch":
        return batch.CREATE.get(kind)
    if group == "networking.k8s.io":
        return networking.CREATE.get(kind)
    if group == "rbac.authorization.k8s.io":
        return rbac.CREATE.get(kind)
    if group == admissionregistration.GROUP:
        return admissionregistration.CREATE.get((group, kind))
    if group == "autoscaling":
        return autoscaling.CREATE.get(kind)
    return groups.CREATE.get((group, kind))


def _updater(group: str, kind: str):
    if group == "":
        if kind == "Pod":
            return lambda new, old, namespaced: pod.validate_pod_update(new, old)
        if kind == "Event":
            return events.validate_core_event_update
        return core.UPDATE.get(kind) or service.UPDATE.get(kind)
    if group == "apps":
        return apps.UPDATE.get(kind)
    if group == "batch":
        return batch.UPDATE.get(kind)
    if group == "networking.k8s.io":
        return networking.UPDATE.get(kind)
    if group == "rbac.authorization.k8s.io":
        return rbac.UPDATE.get(kind)
    if group == admissionregistration.GROUP:
        return admissionregistration.UPDATE.get((group, kind))
    if group == "autoscaling":
        return autoscaling.UPDATE.get(kind)
    return groups.UPDATE.get((group, kind))


def validate(group: str, version: str, kind: str, obj: dict, old: Optional[dict],
             namespaced: bool) -> list[FieldError]:
    """The validation errors of ``obj`` (a create when ``old`` is None, else an update)."""
    if not isinstance(obj, dict):
        return []
    if (group, kind) in _UNCHECKED:
        return []
    create = _creator(group, kind)
    if create is None:
        rule = names.RULES[name_rule(group, kind)]

        def create(o: dict, ns: bool) -> list[FieldError]:
            return _meta.object_meta(o.get("metadata"), ns, rule)
    if old is None:
        return create(obj, namespaced)
    update = _updater(group, kind)
    if update is not None:
        return update(obj, old, namespaced)
    # The common shape of upstream's ValidateXUpdate: metadata update rules, then the
    # object's own rules on the new object.
    errs = _meta.object_meta_update(obj.get("metadata"), old.get("metadata"))
    return errs + [e for e in create(obj, namespaced) if not e.field.startswith("metadata.")]


# What a write through /status is judged by where upstream's status strategy has rules of its own (the spec is
# not judged again); any other resource's status write is judged as its update.
_STATUS = {
    ("", "pods"): pod.validate_pod_status_update,
    ("", "persistentvolumes"): persistentvolume.validate_persistent_volume_status_update,
    ("", "persistentvolumeclaims"): persistentvolume.validate_persistent_volume_claim_status_update,
    ("", "resourcequotas"): core.validate_resource_quota_status_update,
    ("batch", "jobs"): batch.validate_job_status_update,
    ("autoscaling", "horizontalpodautoscalers"): autoscaling.validate_hpa_status_update,
    ("networking.k8s.io", "ingresses"): networking.validate_ingress_status_update,
}


def status_rule(group: str, resource: str):
    """``rule(new, old, namespaced)`` for writes through the resource's /status, or None."""
    return _STATUS.get((group, resource))

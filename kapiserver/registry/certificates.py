"""Strategies of certificates.k8s.io resources."""

from __future__ import annotations

from ..machinery import meta
from ..machinery.jsoncopy import json_copy
from .defaults._util import go_order
from .strategy import Strategy
from .validation import certificates as csr_validation

# Go's field order of CertificateSigningRequestSpec and of a condition, which upstream writes whatever order the
# request's JSON had.
_SPEC_FIELDS = ("request", "signerName", "expirationSeconds", "usages", "username", "uid", "groups", "extra")
_CONDITION_FIELDS = ("type", "status", "reason", "message", "lastUpdateTime", "lastTransitionTime")


class CertificateSigningRequestStrategy(Strategy):
    """A CSR records who asked for it: spec.username, uid, groups and extra come from
    the requesting user, whatever the body said (upstream's PrepareForCreate)."""

    def __init__(self, info, request_user, clock=None):
        super().__init__(info)
        self.request_user = request_user
        self.clock = clock

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        for field in ("username", "uid", "groups", "extra"):
            spec.pop(field, None)
        user = self.request_user() or {}
        for field in ("username", "uid", "groups", "extra"):
            if user.get(field):
                spec[field] = user[field]
        go_order(spec, _SPEC_FIELDS)

    def _condition_times(self, new: dict, old: dict) -> None:
        """Conditions written without times get them, as upstream's strategy fills them: lastUpdateTime now,
        lastTransitionTime that of the first old condition of the same type and status having one, else now;
        the status and its conditions are then in Go's field order."""
        status = new.get("status")
        if not isinstance(status, dict):
            return
        now = meta.rfc3339(self.clock.seconds()) if self.clock is not None else None
        before = [c for c in (old.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
        for condition in status.get("conditions") or []:
            if not isinstance(condition, dict):
                continue
            if now is not None and not condition.get("lastUpdateTime"):
                condition["lastUpdateTime"] = now
            if now is not None and not condition.get("lastTransitionTime"):
                condition["lastTransitionTime"] = next(
                    (c["lastTransitionTime"] for c in before if c.get("type") == condition.get("type") and
                     c.get("status") == condition.get("status") and c.get("lastTransitionTime")), now)
            go_order(condition, _CONDITION_FIELDS)
        go_order(status, ("conditions", "certificate"))

    def prepare_for_status_update(self, new: dict, old: dict) -> None:
        """/status writes the certificate and the conditions but for the Approved and Denied ones: where the
        new object has as many of a type as the old, the old ones stand (upstream's
        preserveConditionInstances); a write that adds or removes one is refused by validation."""
        super().prepare_for_status_update(new, old)
        for kind in ("Approved", "Denied"):
            _keep_condition_instances(new, old, kind)
        self._condition_times(new, old)

    def prepare_for_approval(self, new: dict, old: dict) -> None:
        super().prepare_for_approval(new, old)
        self._condition_times(new, old)

    def prepare_for_update(self, new: dict, old: dict) -> None:
        """A request is immutable once made: an update of the object changes its metadata only, the whole spec
        (not just who asked) and the status staying as stored (upstream's PrepareForUpdate)."""
        super().prepare_for_update(new, old)
        if "spec" in old:
            new["spec"] = json_copy(old["spec"])
        else:
            new.pop("spec", None)

    def validate_subresource_update(self, subresource: str, new: dict, old: dict) -> list:
        """Upstream's status and approval strategies validate as an update does, /status allowed to set the
        certificate and /approval the Approved and Denied conditions."""
        if subresource in ("status", "approval"):
            return csr_validation.validate_csr_update(new, old, False, subresource)
        return super().validate_subresource_update(subresource, new, old)


def _keep_condition_instances(new: dict, old: dict, kind: str) -> None:
    """The old conditions of type ``kind`` take the places of the new ones, when there are as many."""
    conditions = (new.get("status") or {}).get("conditions")
    if not isinstance(conditions, list):
        return
    places = [i for i, c in enumerate(conditions) if isinstance(c, dict) and c.get("type") == kind]
    before = [c for c in (old.get("status") or {}).get("conditions") or [] if c.get("type") == kind]
    if len(places) == len(before):
        for i, condition in zip(places, before):
            conditions[i] = json_copy(condition)

"""Strategies of certificates.k8s.io resources."""

from __future__ import annotations

from .strategy import Strategy


class CertificateSigningRequestStrategy(Strategy):
    """A CSR records who asked for it: spec.username, uid, groups and extra come from
    the requesting user, whatever the body said (upstream's PrepareForCreate)."""

    def __init__(self, info, request_user):
        super().__init__(info)
        self.request_user = request_user

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        for field in ("username", "uid", "groups", "extra"):
            spec.pop(field, None)
        user = self.request_user() or {}
        for field in ("username", "uid", "groups", "extra"):
            if user.get(field):
                spec[field] = user[field]

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        for field in ("username", "uid", "groups", "extra"):
            if field in old_spec:
                spec[field] = old_spec[field]
            else:
                spec.pop(field, None)

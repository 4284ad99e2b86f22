"""Strategies of batch/v1 resources whose behaviour differs from the default."""

from __future__ import annotations

from ..machinery.errors import FieldError
from .strategy import Strategy

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"


def generate_selector(job: dict) -> None:
    """Unless spec.manualSelector, a job selects its pods by its own uid, and its
    template carries the labels that match (with the legacy label names too)."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    meta = job["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name", "")
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    labels = template_meta.get("labels") or {}
    labels.update({CONTROLLER_UID: uid, JOB_NAME: name, LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name})
    template_meta["labels"] = labels
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}


class JobStrategy(Strategy):
    def validate(self, obj: dict) -> list[FieldError]:
        generate_selector(obj)
        return super().validate(obj)

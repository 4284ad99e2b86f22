"""Strategies of batch/v1 resources whose behaviour differs from the default."""

from __future__ import annotations

from ..machinery.errors import FieldError
from .defaults import batch as _defaults
from .defaults._util import go_order
from .strategy import Strategy
from .validation.batch import CONTROLLER_UID, JOB_NAME, LEGACY_CONTROLLER_UID, LEGACY_JOB_NAME


def _map_at(parent: dict, key: str) -> dict:
    """``parent[key]``, made an empty map where it is none."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def generate_selector(job: dict) -> None:
    """Unless spec.manualSelector, a job selects its pods by its own uid: its template gets the job-name and
    controller-uid labels (legacy and batch.kubernetes.io names) it lacks, and its selector's matchLabels the
    batch.kubernetes.io/controller-uid it lacks.  What the client set is kept: a conflict fails validation."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector") is True:
        return
    meta = job["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name", "")
    labels = _map_at(_map_at(_map_at(spec, "template"), "metadata"), "labels")
    for key, value in ((LEGACY_JOB_NAME, name), (JOB_NAME, name), (LEGACY_CONTROLLER_UID, uid),
                       (CONTROLLER_UID, uid)):
        labels.setdefault(key, value)
    _sort_in_place(labels)
    if not meta.get("labels"):
        # Upstream's defaulting gives a job without labels its template's when the stored job is read back (the
        # generated ones by then): every answer shows them.
        meta["labels"] = dict(labels)
    match_labels = _map_at(_map_at(spec, "selector"), "matchLabels")
    match_labels.setdefault(CONTROLLER_UID, uid)
    _sort_in_place(match_labels)
    go_order(spec, _defaults.JOB_SPEC)


def _sort_in_place(labels: dict) -> None:
    """Go writes a map's keys sorted; the dict stays the same object (the job's own labels may be it)."""
    ordered = sorted(labels.items())
    labels.clear()
    labels.update(ordered)


class JobStrategy(Strategy):
    def validate(self, obj: dict) -> list[FieldError]:
        generate_selector(obj)
        return super().validate(obj)

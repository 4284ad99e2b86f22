"""
Printers for apps/v1: deployments, replicasets, statefulsets, daemonsets, controllerrevisions.

Upstream takes some descriptions from retired versions (extensions/v1beta1, apps/v1beta1);
where their text differs from apps/v1's it comes from _retired.
"""

from __future__ import annotations

from datetime import datetime

from ...machinery import errors
from ...machinery.selectors import format_label_selector, format_labels, label_selector_from_dict
from . import _base as b


def _template_cells(obj: dict) -> tuple[str, str]:
    return b.layout_containers(b.get(obj, "spec.template.spec.containers"))


def _deployment_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Ready", "string", "Number of the pod with ready state"),
        b.column("Up-to-date", "string", b.doc("apps.v1.DeploymentStatus", "updatedReplicas")),
        b.column("Available", "string", b.doc("apps.v1.DeploymentStatus", "availableReplicas")),
        b.age_column(),
        *b.container_columns(),
        b.column("Selector", "string", b.doc("extensions.v1beta1.DeploymentSpec", "selector"), 1),
    ]


def _deployment_cells(deploy: dict, now: datetime) -> list:
    status = deploy.get("status") or {}
    try:
        selector = str(label_selector_from_dict(b.get(deploy, "spec.selector")))
    except errors.StatusError:
        selector = "<invalid>"
    names, images = _template_cells(deploy)
    return [b.name(deploy), f"{b.int_cell(status.get('readyReplicas'))}/{_replicas(deploy)}",
            b.int_cell(status.get("updatedReplicas")), b.int_cell(status.get("availableReplicas")),
            b.age(deploy, now), names, images, selector]


def _replicas(obj: dict) -> int:
    value = b.get(obj, "spec.replicas")
    return 1 if value is None else int(value)  # unset defaults to 1


def _replica_set_columns() -> list[dict]:
    return [
        b.name_column(),
        b.column("Desired", "integer", b.doc("apps.v1.ReplicaSetSpec", "replicas")),
        b.column("Current", "integer", b.doc("apps.v1.ReplicaSetStatus", "replicas")),
        b.column("Ready", "integer", b.doc("extensions.v1beta1.ReplicaSetStatus", "readyReplicas")),
        b.age_column(),
        *b.container_columns(),
        b.column("Selector", "string", b.doc("extensions.v1beta1.ReplicaSetSpec", "selector"), 1),
    ]


def _replica_set_cells(rs: dict, now: datetime) -> list:
    names, images = _template_cells(rs)
    return [b.name(rs), _replicas(rs), b.int_cell(b.get(rs, "status.replicas")),
            b.int_cell(b.get(rs, "status.readyReplicas")), b.age(rs, now), names, images,
            format_label_selector(b.get(rs, "spec.selector"))]


def _stateful_set_columns() -> list[dict]:
    return [b.name_column(), b.column("Ready", "string", "Number of the pod with ready state"),
            b.age_column(), *b.container_columns()]


def _stateful_set_cells(sts: dict, now: datetime) -> list:
    names, images = _template_cells(sts)
    return [b.name(sts), f"{b.int_cell(b.get(sts, 'status.readyReplicas'))}/{_replicas(sts)}",
            b.age(sts, now), names, images]


def _daemon_set_columns() -> list[dict]:
    status = "apps.v1.DaemonSetStatus"
    return [
        b.name_column(),
        b.column("Desired", "integer", b.doc(status, "desiredNumberScheduled")),
        b.column("Current", "integer", b.doc(status, "currentNumberScheduled")),
        b.column("Ready", "integer", b.doc("extensions.v1beta1.DaemonSetStatus", "numberReady")),
        b.column("Up-to-date", "integer", b.doc(status, "updatedNumberScheduled")),
        b.column("Available", "integer", b.doc(status, "numberAvailable")),
        b.column("Node Selector", "string", b.doc("core.v1.PodSpec", "nodeSelector")),
        b.age_column(),
        *b.container_columns(),
        b.column("Selector", "string", b.doc("extensions.v1beta1.DaemonSetSpec", "selector"), 1),
    ]


def _daemon_set_cells(ds: dict, now: datetime) -> list:
    status = ds.get("status") or {}
    names, images = _template_cells(ds)
    return [b.name(ds), b.int_cell(status.get("desiredNumberScheduled")),
            b.int_cell(status.get("currentNumberScheduled")), b.int_cell(status.get("numberReady")),
            b.int_cell(status.get("updatedNumberScheduled")), b.int_cell(status.get("numberAvailable")),
            format_labels(b.get(ds, "spec.template.spec.nodeSelector")), b.age(ds, now), names, images,
            format_label_selector(b.get(ds, "spec.selector"))]


def controller_name(obj: dict) -> str:
    """``<kind>.<group>/<name>`` of the controlling owner, lower-cased, or ``<none>``."""
    ref = b.controller_of(obj)
    if ref is None:
        return "<none>"
    api_version = ref.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    kind = ref.get("kind", "")
    group_kind = f"{kind}.{group}" if group else kind
    if not group_kind:
        return ref.get("name", "")
    return group_kind.lower() + "/" + ref.get("name", "")


def _controller_revision_cells(rev: dict, now: datetime) -> list:
    return [b.name(rev), controller_name(rev), int(rev.get("revision") or 0), b.age(rev, now)]


PRINTERS = {
    ("apps", "deployments"): b.Printer(_deployment_columns, _deployment_cells),
    ("apps", "replicasets"): b.Printer(_replica_set_columns, _replica_set_cells),
    ("apps", "statefulsets"): b.Printer(_stateful_set_columns, _stateful_set_cells),
    ("apps", "daemonsets"): b.Printer(_daemon_set_columns, _daemon_set_cells),
    ("apps", "controllerrevisions"): b.Printer(
        lambda: [b.name_column(), b.column("Controller", "string", "Controller of the object"),
                 b.column("Revision", "string", b.doc("apps.v1beta1.ControllerRevision", "revision")),
                 b.age_column()],
        _controller_revision_cells),
}

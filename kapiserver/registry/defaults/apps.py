"""Defaults of the apps/v1 kinds (pkg/apis/apps/v1/defaults.go)."""

from __future__ import annotations

from . import pod as _pod
from ._util import go_order, items, set_if_empty, set_if_nil, sub, template_metadata

# The Go structs' field order (encoding/json writes a struct's fields in it, whatever order the client sent).
DEPLOYMENT_SPEC = ("replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit",
                   "paused", "rollbackTo", "progressDeadlineSeconds")
REPLICA_SET_SPEC = ("replicas", "minReadySeconds", "selector", "template")
DAEMON_SET_SPEC = ("selector", "template", "updateStrategy", "minReadySeconds", "templateGeneration",
                   "revisionHistoryLimit")
STATEFUL_SET_SPEC = ("replicas", "selector", "template", "volumeClaimTemplates", "serviceName",
                     "podManagementPolicy", "updateStrategy", "revisionHistoryLimit", "minReadySeconds",
                     "persistentVolumeClaimRetentionPolicy", "ordinals")
STRATEGY = ("type", "rollingUpdate")
ROLLING_UPDATE = ("maxUnavailable", "maxSurge")
TEMPLATE = ("metadata", "spec")


def _template(spec: dict) -> None:
    # The template is a non-pointer struct: defaulted (and written) even when absent.
    _pod.pod_template(sub(spec, "template"))
    go_order(spec["template"], TEMPLATE)


def deployment(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_nil(spec, "replicas", 1)
    strategy = sub(spec, "strategy")
    set_if_empty(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = sub(strategy, "rollingUpdate")
        set_if_nil(rolling, "maxUnavailable", "25%")
        set_if_nil(rolling, "maxSurge", "25%")
        go_order(rolling, ROLLING_UPDATE)
    go_order(strategy, STRATEGY)
    set_if_nil(spec, "revisionHistoryLimit", 10)
    set_if_nil(spec, "progressDeadlineSeconds", 600)
    _template(spec)
    go_order(spec, DEPLOYMENT_SPEC)


def daemon_set(obj: dict) -> None:
    spec = sub(obj, "spec")
    strategy = sub(spec, "updateStrategy")
    set_if_empty(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = sub(strategy, "rollingUpdate")
        set_if_nil(rolling, "maxUnavailable", 1)
        set_if_nil(rolling, "maxSurge", 0)
        go_order(rolling, ROLLING_UPDATE)
    go_order(strategy, STRATEGY)
    set_if_nil(spec, "revisionHistoryLimit", 10)
    _template(spec)
    go_order(spec, DAEMON_SET_SPEC)


def stateful_set(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_empty(spec, "podManagementPolicy", "OrderedReady")
    strategy = sub(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    # MaxUnavailableStatefulSet is alpha (off) in 1.32: only the partition is defaulted.
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        set_if_nil(strategy["rollingUpdate"], "partition", 0)
        go_order(strategy["rollingUpdate"], ("partition", "maxUnavailable"))
    go_order(strategy, STRATEGY)
    retention = sub(spec, "persistentVolumeClaimRetentionPolicy")
    set_if_empty(retention, "whenDeleted", "Retain")
    set_if_empty(retention, "whenScaled", "Retain")
    go_order(retention, ("whenDeleted", "whenScaled"))
    set_if_nil(spec, "replicas", 1)
    set_if_nil(spec, "revisionHistoryLimit", 10)
    _template(spec)
    for claim in items(spec, "volumeClaimTemplates"):
        template_metadata(claim)
        _pod.pvc_spec(sub(claim, "spec"))
        set_if_empty(sub(claim, "status"), "phase", "Pending")
    go_order(spec, STATEFUL_SET_SPEC)


def replica_set(obj: dict) -> None:
    spec = sub(obj, "spec")
    set_if_nil(spec, "replicas", 1)
    _template(spec)
    go_order(spec, REPLICA_SET_SPEC)


DEFAULTERS = {
    "Deployment": deployment,
    "DaemonSet": daemon_set,
    "StatefulSet": stateful_set,
    "ReplicaSet": replica_set,
}

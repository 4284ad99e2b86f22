"""DefaultTolerationSeconds: new pods tolerate not-ready and unreachable for 300 s; toleration merging."""

from __future__ import annotations

from kapiserver.admission.tolerations import DefaultTolerationSeconds, merge_tolerations

from .conftest import call, drive, store

PODS = store("pods", "Pod")
NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}


def pod(tolerations=None) -> dict:
    spec = {"containers": [{"name": "c", "image": "i"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def test_both_tolerations_are_added():
    """A pod without tolerations gets both, not-ready first."""
    obj = pod()
    drive(call(DefaultTolerationSeconds(), "create", PODS, obj, None))
    assert obj["spec"]["tolerations"] == [NOT_READY, UNREACHABLE]


def test_an_existing_toleration_is_kept():
    """A pod tolerating not-ready itself (NoExecute or every effect) gets only the unreachable one."""
    own = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 10}
    obj = pod([own])
    drive(call(DefaultTolerationSeconds(), "create", PODS, obj, None))
    assert obj["spec"]["tolerations"] == [own, UNREACHABLE]


def test_tolerate_everything_adds_nothing():
    """An empty-key Exists toleration covers both taints."""
    obj = pod([{"operator": "Exists"}])
    drive(call(DefaultTolerationSeconds(), "create", PODS, obj, None))
    assert obj["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_updates_are_untouched():
    """Only creates get the defaults."""
    obj = pod()
    drive(call(DefaultTolerationSeconds(), "update", PODS, obj, pod()))
    assert "tolerations" not in obj["spec"]


def test_merge_keeps_the_wider_toleration():
    """Merging drops duplicates and tolerations another one covers."""
    narrow = {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}
    wide = {"key": "k", "operator": "Exists"}
    assert merge_tolerations([narrow], [wide]) == [wide]
    assert merge_tolerations([narrow], [dict(narrow)]) == [narrow]
    other = {"key": "x", "operator": "Exists", "effect": "NoExecute"}
    assert merge_tolerations([narrow], [other]) == [narrow, other]

"""RuntimeClass: pods take their RuntimeClass's overhead and scheduling; unknown classes are refused."""

from __future__ import annotations

import pytest

from kapiserver.admission.runtimeclass import RuntimeClass
from kapiserver.machinery.errors import StatusError

from .conftest import FakeRegistry, call, drive, store

PODS = store("pods", "Pod")
GVISOR = {"metadata": {"name": "gvisor"}, "handler": "runsc",
          "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
          "scheduling": {"nodeSelector": {"runtime": "gvisor"},
                         "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}}
PLAIN = {"metadata": {"name": "plain"}, "handler": "runc"}


def pod(**spec) -> dict:
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}


def plugin() -> RuntimeClass:
    return RuntimeClass(FakeRegistry(runtimeclasses=[GVISOR, PLAIN]))


def test_overhead_and_scheduling_are_applied():
    """The class's podFixed becomes spec.overhead; its nodeSelector and tolerations join the pod's."""
    obj = pod(runtimeClassName="gvisor", nodeSelector={"disk": "ssd"},
              tolerations=[{"key": "a", "operator": "Exists"}])
    drive(call(plugin(), "create", PODS, obj, None))
    spec = obj["spec"]
    assert spec["overhead"] == {"cpu": "250m", "memory": "120Mi"}
    assert spec["nodeSelector"] == {"disk": "ssd", "runtime": "gvisor"}
    assert spec["tolerations"] == [{"key": "a", "operator": "Exists"},
                                   {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]


def test_a_class_without_overhead_or_scheduling_changes_nothing():
    """A RuntimeClass with neither leaves the pod as it was."""
    obj = pod(runtimeClassName="plain")
    drive(call(plugin(), "create", PODS, obj, None))
    assert obj["spec"] == pod(runtimeClassName="plain")["spec"]


def test_unknown_class_is_forbidden():
    """A RuntimeClass that does not exist is upstream's 403."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(runtimeClassName="kata"), None))
    e = info.value
    assert (e.code, e.reason) == (403, "Forbidden")
    assert e.message == 'pods "p" is forbidden: pod rejected: RuntimeClass "kata" not found'


def test_conflicting_node_selector_is_forbidden():
    """A pod selecting another value for one of the class's nodeSelector keys is refused."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(runtimeClassName="gvisor", nodeSelector={"runtime": "runc"}), None))
    assert info.value.message == 'pods "p" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[runtime] = ' \
                                 'gvisor; pod.spec.nodeSelector[runtime] = runc'


def test_overhead_must_match_the_class():
    """An overhead equal by value passes; another one, or one without a class overhead, is refused."""
    drive(call(plugin(), "create", PODS, pod(runtimeClassName="gvisor", overhead={"cpu": "0.25", "memory": "120Mi"}),
               None))
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(runtimeClassName="gvisor", overhead={"cpu": "1"}), None))
    assert info.value.message == "pods \"p\" is forbidden: pod rejected: Pod's Overhead doesn't match " \
                                 "RuntimeClass's defined Overhead"
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(runtimeClassName="plain", overhead={"cpu": "1"}), None))
    assert info.value.message == 'pods "p" is forbidden: pod rejected: Pod Overhead set without corresponding ' \
                                 'RuntimeClass defined Overhead'

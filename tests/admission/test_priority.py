"""Priority: pods take the value and preemption policy of their PriorityClass; one globalDefault class."""

from __future__ import annotations

import pytest

from kapiserver.admission.priority import Priority
from kapiserver.machinery.errors import StatusError

from .conftest import FakeRegistry, call, drive, store

PODS = store("pods", "Pod")
CLASSES = store("priorityclasses", "PriorityClass", group="scheduling.k8s.io", namespaced=False)


def priority_class(name, value, global_default=False, policy="PreemptLowerPriority") -> dict:
    return {"metadata": {"name": name}, "value": value, "globalDefault": global_default, "preemptionPolicy": policy}


SYSTEM = [priority_class("system-node-critical", 2000001000), priority_class("system-cluster-critical", 2000000000)]


def pod(**spec) -> dict:
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}


def plugin(*classes) -> Priority:
    return Priority(FakeRegistry(priorityclasses=SYSTEM + list(classes)))


def test_named_class_resolves_to_priority_and_policy():
    """spec.priorityClassName gives spec.priority and spec.preemptionPolicy from the class."""
    obj = pod(priorityClassName="low")
    drive(call(plugin(priority_class("low", 10, policy="Never")), "create", PODS, obj, None))
    assert (obj["spec"]["priority"], obj["spec"]["preemptionPolicy"]) == (10, "Never")


def test_system_class_resolves_in_any_namespace():
    """The bootstrapped system classes resolve like any other, outside kube-system too."""
    obj = pod(priorityClassName="system-node-critical")
    drive(call(plugin(), "create", PODS, obj, None))
    assert obj["spec"]["priority"] == 2000001000


def test_no_class_and_no_default_is_zero():
    """A pod naming no class without a globalDefault class gets priority 0 and PreemptLowerPriority."""
    obj = pod()
    drive(call(plugin(), "create", PODS, obj, None))
    assert (obj["spec"]["priority"], obj["spec"]["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in obj["spec"]


def test_no_class_takes_the_global_default():
    """The globalDefault class (the lowest, if several) names the pod's class and gives its values."""
    obj = pod()
    drive(call(plugin(priority_class("a", 50, True), priority_class("b", 40, True, "Never")), "create", PODS, obj,
               None))
    assert (obj["spec"]["priorityClassName"], obj["spec"]["priority"], obj["spec"]["preemptionPolicy"]) == \
        ("b", 40, "Never")


def test_unknown_class_is_forbidden():
    """A class that does not exist is upstream's 403."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(priorityClassName="nope"), None))
    e = info.value
    assert (e.code, e.reason, e.details) == (403, "Forbidden", {"name": "p", "kind": "pods"})
    assert e.message == 'pods "p" is forbidden: no PriorityClass with name nope was found'


def test_a_priority_given_that_differs_is_forbidden():
    """A pod may not set spec.priority to another value than its class gives; the same value passes."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(priority=7), None))
    assert info.value.message == 'pods "p" is forbidden: the integer value of priority (7) must not be provided ' \
                                 'in pod spec; priority admission controller computed 0 from the given ' \
                                 'PriorityClass name'
    drive(call(plugin(), "create", PODS, pod(priority=0), None))


def test_a_policy_given_that_differs_is_forbidden():
    """A pod may not set spec.preemptionPolicy to another value than its class gives."""
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, pod(preemptionPolicy="Never"), None))
    assert info.value.message == 'pods "p" is forbidden: the string value of PreemptionPolicy (Never) must not ' \
                                 'be provided in pod spec; priority admission controller computed ' \
                                 'PreemptLowerPriority from the given PriorityClass name'


def test_generated_name_names_the_refusal():
    """A pod with only generateName is named by it in the refusal, as admission.NewForbidden does."""
    obj = pod(priorityClassName="nope")
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    with pytest.raises(StatusError) as info:
        drive(call(plugin(), "create", PODS, obj, None))
    assert info.value.message.startswith('pods "web-" is forbidden: ')


def test_update_keeps_the_stored_priority():
    """An update leaving priority and preemptionPolicy out keeps the stored ones."""
    old = pod(priority=5, preemptionPolicy="Never")
    new = pod()
    drive(call(plugin(), "update", PODS, new, old))
    assert (new["spec"]["priority"], new["spec"]["preemptionPolicy"]) == (5, "Never")


def test_only_one_global_default():
    """A second globalDefault class is refused on create and on update; the default itself may be updated."""
    existing = priority_class("first", 10, True)
    with pytest.raises(StatusError) as info:
        drive(call(plugin(existing), "create", CLASSES, priority_class("second", 20, True), None))
    e = info.value
    assert e.message == 'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already ' \
                        'marked as default. Only one default can exist'
    assert e.details == {"name": "second", "group": "scheduling.k8s.io", "kind": "priorityclasses"}
    with pytest.raises(StatusError):
        drive(call(plugin(existing, priority_class("other", 1)), "update", CLASSES,
                   priority_class("other", 1, True), priority_class("other", 1)))
    drive(call(plugin(existing), "update", CLASSES, priority_class("first", 10, True), existing))
    drive(call(plugin(existing), "create", CLASSES, priority_class("plain", 20), None))


def test_deletes_pass():
    """A delete (no new object) is not the plugin's."""
    drive(call(plugin(), "delete", PODS, None, pod()))

"""ValidatePodUpdate's rules for a running pod: what an update may change (images, a lowered
activeDeadlineSeconds, added tolerations, removed scheduling gates) and how it refuses the rest."""

from __future__ import annotations

from kapiserver.machinery.jsoncopy import json_copy
from kapiserver.registry.defaults import pod as pod_defaults
from kapiserver.registry.validation import pod as pod_validation


def make_pod(**spec) -> dict:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web", "namespace": "default", "resourceVersion": "5", "uid": "u-1",
                        "creationTimestamp": "2024-01-01T00:00:00Z"},
           "spec": dict({"containers": [{"name": "web", "image": "nginx"}]}, **spec)}
    pod_defaults.pod(pod)
    return pod


def messages(new: dict, old: dict) -> list[str]:
    return [str(e) for e in pod_validation.validate_pod_update(new, old)]


def test_adding_a_container_is_one_forbidden():
    """A new container (kubectl edit adding a sidecar) gets upstream's one Forbidden, not the spec diff."""
    old = make_pod()
    new = json_copy(old)
    new["spec"]["containers"].append({"name": "side", "image": "busybox", "imagePullPolicy": "Always",
                                      "terminationMessagePath": "/dev/termination-log",
                                      "terminationMessagePolicy": "File"})
    assert messages(new, old) == ["spec.containers: Forbidden: pod updates may not add or remove containers"]
    new = json_copy(old)
    new["spec"]["initContainers"] = json_copy(new["spec"]["containers"])
    new["spec"]["initContainers"][0]["name"] = "init"
    assert messages(new, old) == ["spec.initContainers: Forbidden: pod updates may not add or remove containers"]


def test_image_changes_are_allowed_and_checked():
    """kubectl set image: a new image passes; an image with surrounding whitespace is refused."""
    old = make_pod()
    new = json_copy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.25"
    assert messages(new, old) == []
    new["spec"]["containers"][0]["image"] = " nginx"
    assert messages(new, old) == [
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace',
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace']


def test_an_env_change_is_the_forbidden_diff():
    """Any other change (a container's env) is the Forbidden that lists the fields an update may change."""
    old = make_pod()
    new = json_copy(old)
    new["spec"]["containers"][0]["env"] = [{"name": "X", "value": "1"}]
    [message] = messages(new, old)
    assert message.startswith("spec: Forbidden: " + pod_validation.UPDATE_FORBIDDEN + "\n  core.PodSpec{\n")


def test_tolerations_may_be_added_and_their_seconds_changed():
    """Tolerations: additions pass, a changed tolerationSeconds passes, a changed or removed one is the
    toleration Forbidden (not the spec diff)."""
    base = {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
    old = make_pod(tolerations=[base])
    new = json_copy(old)
    new["spec"]["tolerations"].append({"key": "other", "operator": "Exists"})
    assert messages(new, old) == []
    new = json_copy(old)
    new["spec"]["tolerations"][0]["tolerationSeconds"] = 60
    assert messages(new, old) == []
    new = json_copy(old)
    new["spec"]["tolerations"][0]["effect"] = "NoSchedule"
    new["spec"]["tolerations"][0].pop("tolerationSeconds")
    assert messages(new, old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
    new = json_copy(old)
    new["spec"]["tolerations"] = []
    assert messages(new, old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]


def test_scheduling_gates_may_only_be_removed():
    """A gate removed passes; a gate added is refused at its name."""
    old = make_pod(schedulingGates=[{"name": "a"}, {"name": "b"}])
    new = json_copy(old)
    new["spec"]["schedulingGates"] = [{"name": "b"}]
    assert messages(new, old) == []
    new["spec"]["schedulingGates"] = [{"name": "b"}, {"name": "c"}]
    assert messages(new, old) == [
        "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'c'"]


def test_active_deadline_rules():
    """activeDeadlineSeconds may be set or lowered, not raised nor removed."""
    old = make_pod(activeDeadlineSeconds=100)
    new = json_copy(old)
    new["spec"]["activeDeadlineSeconds"] = 50
    assert messages(new, old) == []
    new["spec"]["activeDeadlineSeconds"] = 200
    assert messages(new, old) == [
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]
    del new["spec"]["activeDeadlineSeconds"]
    assert messages(new, old) == [
        'spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive integer to nil value']


def test_negative_grace_period_may_become_one():
    """terminationGracePeriodSeconds may go from negative to 1, not to anything else."""
    old = make_pod(terminationGracePeriodSeconds=-1)
    new = json_copy(old)
    new["spec"]["terminationGracePeriodSeconds"] = 1
    assert messages(new, old) == []
    new["spec"]["terminationGracePeriodSeconds"] = 5
    assert len(messages(new, old)) == 1

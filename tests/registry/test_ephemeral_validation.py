"""pods/ephemeralcontainers as upstream's podEphemeralContainersStrategy validates it
(ValidatePodEphemeralContainersUpdate, validateEphemeralContainers): an ephemeral container is added with the
rules of any container and of its own kind, and once there is neither removed nor changed; an ordinary pod
update does not touch them at all."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources import rest_for
from kapiserver.registry.validation import pod as pod_validation

from tests.controllers.conftest import run

DEBUGGER = {"name": "debugger", "image": "busybox", "targetContainerName": "c", "stdin": True, "tty": True}


@pytest.fixture
def pods(store_registry):
    store = store_registry.store("", "v1", "pods")
    run(store.create("default", {"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"name": "web", "namespace": "default"},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}],
                                          "initContainers": [{"name": "setup", "image": "busybox"}]}}))
    return store


def set_ephemeral(pods, containers):
    """The pod's ephemeral containers set to ``containers`` through the subresource."""
    def change(old):
        old["spec"]["ephemeralContainers"] = containers
        return old
    return run(rest_for(pods, "ephemeralcontainers").update("default", "web", change, WriteOptions()))


def refused(pods, containers) -> list[str]:
    with pytest.raises(StatusError) as e:
        set_ephemeral(pods, containers)
    assert e.value.code == 422 and e.value.reason == "Invalid"
    return [f"{c['field']}: {c['message']}" for c in e.value.details["causes"]]


def test_kubectl_debug_adds_an_ephemeral_container(pods):
    """What `kubectl debug --target` sends: one container with an image, aimed at an existing container."""
    written = set_ephemeral(pods, [DEBUGGER])
    assert [c["name"] for c in written["spec"]["ephemeralContainers"]] == ["debugger"]
    second = dict(DEBUGGER, name="second", targetContainerName="")
    assert len(set_ephemeral(pods, [written["spec"]["ephemeralContainers"][0], second])["spec"][
        "ephemeralContainers"]) == 2


def test_each_ephemeral_container_follows_its_rules(pods):
    """Workload fields are refused, names are unique across all containers, the target exists, an image is
    required, subPath mounts are refused."""
    assert refused(pods, [dict(DEBUGGER, ports=[{"containerPort": 80}])]) == [
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container"]
    assert refused(pods, [dict(DEBUGGER, name="c"), dict(DEBUGGER, name="setup")]) == [
        'spec.ephemeralContainers[0].name: Duplicate value: "c"',
        'spec.ephemeralContainers[1].name: Duplicate value: "setup"']
    assert refused(pods, [dict(DEBUGGER, targetContainerName="nope")]) == [
        'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"']
    assert refused(pods, [{"name": "debugger"}]) == ["spec.ephemeralContainers[0].image: Required value"]
    assert refused(pods, [dict(DEBUGGER, resources={"limits": {"cpu": "1"}}, livenessProbe={
        "exec": {"command": ["true"]}}, lifecycle={})]) == [
        "spec.ephemeralContainers[0].resources: Forbidden: cannot be set for an Ephemeral Container",
        "spec.ephemeralContainers[0].livenessProbe: Forbidden: cannot be set for an Ephemeral Container",
        "spec.ephemeralContainers[0].lifecycle: Forbidden: cannot be set for an Ephemeral Container"]


def test_existing_ephemeral_containers_are_neither_removed_nor_changed(pods):
    written = set_ephemeral(pods, [DEBUGGER])["spec"]["ephemeralContainers"][0]
    assert refused(pods, []) == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be removed\n']
    changed = refused(pods, [dict(written, image="alpine")])
    assert len(changed) == 1 and changed[0].startswith(
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be changed\n')
    # matched by name: another order is no change
    second = set_ephemeral(pods, [written, dict(DEBUGGER, name="second")])["spec"]["ephemeralContainers"]
    assert [c["name"] for c in set_ephemeral(pods, second[::-1])["spec"]["ephemeralContainers"]] == [
        "second", "debugger"]


def test_a_pod_update_may_not_change_ephemeral_containers(pods):
    """Only the subresource writes them: a pod update that does is refused like any other spec change."""
    def add(old):
        old["spec"]["ephemeralContainers"] = [DEBUGGER]
        return old
    with pytest.raises(StatusError) as e:
        run(pods.update("default", "web", add))
    assert e.value.code == 422 and "spec: Forbidden: pod updates may not change fields" in e.value.message


    def empty(old):
        old["spec"]["ephemeralContainers"] = []
        old["metadata"]["labels"] = {"updated": "yes"}
        return old
    assert run(pods.update("default", "web", empty))[0]["metadata"]["labels"] == {"updated": "yes"}


def test_static_pods_take_no_ephemeral_containers():
    old = {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1",
                        "annotations": {"kubernetes.io/config.mirror": "x"}},
           "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "nginx", "terminationMessagePolicy": "File",
                                                     "imagePullPolicy": "Always"}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}
    new = {**old, "spec": dict(old["spec"], ephemeralContainers=[dict(DEBUGGER, terminationMessagePolicy="File",
                                                                     imagePullPolicy="Always")])}
    errors = pod_validation.validate_pod_ephemeral_containers_update(new, old)
    assert [(e.field, e.body) for e in errors] == [
        ("", "Forbidden: static pods do not support ephemeral containers")]


def test_pod_create_checks_ephemeral_containers_before_refusing_them():
    """ValidatePodSpec checks the ephemeral containers of any pod; a create then refuses them all."""
    obj = {"metadata": {"name": "web", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx", "terminationMessagePolicy": "File",
                                    "imagePullPolicy": "Always"}], "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                    "ephemeralContainers": [dict(DEBUGGER, name="c", terminationMessagePolicy="File",
                                                 imagePullPolicy="Always")]}}
    assert [str(e) for e in pod_validation.validate_pod(obj, True)] == [
        'spec.ephemeralContainers[0].name: Duplicate value: "c"',
        "spec.ephemeralContainers: Forbidden: cannot be set on create"]

"""LimitRanger as upstream's plugin: defaults noted in the kubernetes.io/limit-ranger annotation, init
containers defaulted and judged, min/max/ratio messages in upstream's words, Pod items over init containers
and sidecars, PersistentVolumeClaim storage bounds, one LimitRange's violations at a time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kapiserver.admission.limitranger import ANNOTATION, LimitRanger
from kapiserver.machinery.errors import StatusError

from .conftest import call, drive, store

PODS = store("pods", "Pod")
CLAIMS = store("persistentvolumeclaims", "PersistentVolumeClaim")


class _Ranges:
    def __init__(self, ranges):
        self.ranges = ranges

    async def list(self, namespace, options):
        return [r for r in self.ranges if r["metadata"]["namespace"] == namespace], "1", None


def plugin(*limit_lists) -> LimitRanger:
    ranges = [{"metadata": {"name": f"lr{i}", "namespace": "ns"}, "spec": {"limits": limits}}
              for i, limits in enumerate(limit_lists)]
    return LimitRanger(SimpleNamespace(store=lambda group, version, resource: _Ranges(ranges)))


def container(name, requests=None, limits=None, **extra):
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "i", "resources": resources, **extra}


def pod(containers, init=None):
    spec = {"containers": containers}
    if init:
        spec["initContainers"] = init
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


def refused(lr, obj, target=PODS, operation="create", old=None) -> str:
    with pytest.raises(StatusError) as info:
        drive(call(lr, operation, target, obj, old))
    assert info.value.code == 403
    return info.value.message


def test_defaults_are_noted_in_the_annotation():
    """Defaults reach containers and init containers, and the annotation lists what was set."""
    lr = plugin([{"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}, "defaultRequest": {"cpu": "500m"}}])
    obj = pod([container("a", limits={"cpu": "1"})], init=[container("i")])
    drive(call(lr, "create", PODS, obj, None))
    assert obj["spec"]["initContainers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"},
                                                             "requests": {"cpu": "500m"}}
    assert obj["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container a; memory limit for container a; "
        "cpu request for init container i; cpu, memory limit for init container i")


def test_nothing_set_means_no_annotation():
    """A pod that already has every default gets no annotation."""
    lr = plugin([{"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "1"}}])
    obj = pod([container("a", requests={"cpu": "1"}, limits={"cpu": "1"})])
    drive(call(lr, "create", PODS, obj, None))
    assert "annotations" not in obj["metadata"]


def test_container_messages():
    """Upstream's words for max, min (of request and of limit) and the ratio, quantities in canonical form."""
    lr = plugin([{"type": "Container", "max": {"cpu": "1"}}])
    assert refused(lr, pod([container("a", limits={"cpu": "2000m"})])) == (
        'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2')
    lr = plugin([{"type": "Container", "min": {"memory": "1Gi"}}])
    assert refused(lr, pod([container("a", requests={"memory": "2Gi"}, limits={"memory": "512Mi"})])) == (
        'pods "p" is forbidden: minimum memory usage per Container is 1Gi, but limit is 512Mi')
    lr = plugin([{"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}])
    assert refused(lr, pod([container("a", limits={"cpu": "1"})])) == (
        'pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but no request is specified '
        "or request is 0")
    assert refused(lr, pod([container("a", requests={"cpu": "100m"}, limits={"cpu": "300m"})])) == (
        'pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000')


def test_init_containers_are_judged():
    """Container items apply to init containers too."""
    lr = plugin([{"type": "Container", "max": {"cpu": "1"}}])
    assert refused(lr, pod([container("a", limits={"cpu": "1"})], init=[container("i", limits={"cpu": "3"})])) == (
        'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 3')


def test_pod_items_count_init_containers_and_sidecars():
    """A Pod item sees containers summed, an init container at its peak, and sidecars added to both."""
    lr = plugin([{"type": "Pod", "max": {"memory": "2Gi"}}])
    assert refused(lr, pod([container("a", limits={"memory": "1Gi"}), container("b", limits={"memory": "1Gi"})],
                           init=[container("s", limits={"memory": "512Mi"}, restartPolicy="Always")])) == (
        'pods "p" is forbidden: maximum memory usage per Pod is 2Gi, but limit is 2560Mi')
    assert refused(lr, pod([container("a", limits={"memory": "1Gi"})],
                           init=[container("i", limits={"memory": "3Gi"})])) == (
        'pods "p" is forbidden: maximum memory usage per Pod is 2Gi, but limit is 3Gi')
    drive(call(lr, "create", PODS, pod([container("a", limits={"memory": "1Gi"})],
                                       init=[container("i", limits={"memory": "2Gi"})]), None))


def test_first_range_with_violations_is_reported_alone():
    """Each LimitRange is judged on its own; the violations of one are joined as an aggregate."""
    lr = plugin([{"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}}], [{"type": "Container",
                                                                                  "max": {"cpu": "500m"}}])
    message = refused(lr, pod([container("a", limits={"cpu": "2", "memory": "2Gi"})]))
    assert message == ('pods "p" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
                       "maximum memory usage per Container is 1Gi, but limit is 2Gi]")


def test_claim_storage_bounds():
    """PersistentVolumeClaim items bound the storage requested, on create and on update."""
    lr = plugin([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "5Gi"}}])

    def claim(size):
        return {"metadata": {"name": "c", "namespace": "ns"},
                "spec": {"resources": {"requests": {"storage": size}}}}
    assert refused(lr, claim("10Gi"), CLAIMS) == (
        'persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, '
        "but request is 10Gi")
    assert refused(lr, claim("500Mi"), CLAIMS, "update", claim("1Gi")) == (
        'persistentvolumeclaims "c" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, '
        "but request is 500Mi")
    drive(call(lr, "create", CLAIMS, claim("2Gi"), None))


def test_pod_updates_are_left_alone():
    """Pods are judged on create only."""
    lr = plugin([{"type": "Container", "max": {"cpu": "1"}}])
    obj = pod([container("a", limits={"cpu": "2"})])
    drive(call(lr, "update", PODS, obj, obj))

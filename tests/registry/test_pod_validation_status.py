"""pods/status judged by upstream's ValidatePodStatusUpdate (not by the spec-update rules): condition types,
node and QoS class unchanged, terminated containers that may not restart stay terminated, pod and host IPs."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources import rest_for

from tests.controllers.conftest import run


@pytest.fixture
def pods(store_registry):
    store = store_registry.store("", "v1", "pods")
    run(store.create("default", {"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"name": "job", "namespace": "default"},
                                 "spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox"}]}}))
    return store


def set_status(pods, **status):
    def change(old):
        old["status"].update(status)
        return old
    return run(rest_for(pods, "status").update("default", "job", change, WriteOptions()))


def refused(pods, **status) -> list[str]:
    with pytest.raises(StatusError) as e:
        set_status(pods, **status)
    assert e.value.code == 422
    return [f"{c['field']}: {c['message']}" for c in e.value.details["causes"]]


def test_a_kubelet_status_passes(pods):
    """What a kubelet writes: phase, IPs of both families, conditions, container statuses."""
    written = set_status(pods, phase="Running", podIP="10.0.0.5", podIPs=[{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
                         hostIP="192.168.1.2", hostIPs=[{"ip": "192.168.1.2"}],
                         conditions=[{"type": "Ready", "status": "True"}, {"type": "example.com/gate",
                                                                             "status": "True"}],
                         containerStatuses=[{"name": "c", "state": {"terminated": {"exitCode": 0}}}])
    assert written["status"]["phase"] == "Running"


def test_status_rules(pods):
    """Bad condition types, a changed qosClass and bad pod IPs are refused with upstream's paths."""
    assert refused(pods, conditions=[{"type": "bad type!", "status": "True"}]) == [
        "metadata.conditions[0].Type: Invalid value: \"bad type!\": name part must consist of alphanumeric "
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
    assert refused(pods, qosClass="Guaranteed") == [
        'status.qosClass: Invalid value: "Guaranteed": field is immutable']
    assert refused(pods, podIPs=[{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}]) == [
        'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.1"}, core.PodIP{IP:"10.0.0.1"}}: '
        'may specify no more than one IP for each IP family',
        'status.podIPs[1]: Duplicate value: core.PodIP{IP:"10.0.0.1"}']
    assert refused(pods, podIPs=[{"ip": "nope"}]) == [
        'status.podIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']


def test_terminated_container_stays_terminated(pods):
    """With restartPolicy Never, a terminated container may not be reported running again."""
    set_status(pods, containerStatuses=[{"name": "c", "state": {"terminated": {"exitCode": 0}}}])
    assert refused(pods, containerStatuses=[{"name": "c", "state": {"running": {}}}]) == [
        "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"]


def test_status_without_qos_class_keeps_it(pods):
    """A writer that drops status.qosClass (old kubelets) gets the old one back, as upstream backfills it."""
    def replace(old):
        old["status"] = {"phase": "Running"}
        return old
    written = run(rest_for(pods, "status").update("default", "job", replace, WriteOptions()))
    assert written["status"]["qosClass"] == "BestEffort"

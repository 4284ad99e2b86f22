"""The remote APIServices' Available condition, from each of upstream's reasons, rechecked on the injected
clock; and the extension-apiserver-authentication ConfigMap."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import reactor

from kapiserver.controllers.apiserviceavailability import APIServiceAvailability
from kapiserver.controllers.extensionauth import NAME, NAMESPACE, ExtensionAuthentication
from kapiserver.endpoints.aggregator import RemoteAPIServices

from .conftest import run

APISERVICES = ("apiregistration.k8s.io", "v1", "apiservices")


@pytest.fixture
def wardle(registry):
    for name in ("wardle", "kube-system"):
        run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": name}}))
    run(registry.store(*APISERVICES).create(None, {
        "metadata": {"name": "v1alpha1.wardle.example.com"},
        "spec": {"group": "wardle.example.com", "version": "v1alpha1", "groupPriorityMinimum": 1000,
                 "versionPriority": 15, "insecureSkipTLSVerify": True,
                 "service": {"namespace": "wardle", "name": "api", "port": 443}}}))
    return registry


def available(registry) -> dict:
    apiservice = run(registry.store(*APISERVICES).get(None, "v1alpha1.wardle.example.com"))
    return next(c for c in apiservice["status"]["conditions"] if c["type"] == "Available")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_missing_piece_has_its_reason(wardle, clock):
    controller = APIServiceAvailability(wardle, clock, lambda: None)
    run(controller.sync())
    assert available(wardle) == {"type": "Available", "status": "False", "lastTransitionTime": "2027-01-15T08:00:00Z",
                                 "reason": "ServiceNotFound", "message": 'service/api in "wardle" is not present'}
    services = wardle.store("", "v1", "services")
    run(services.create("wardle", {"metadata": {"name": "api"},
                                   "spec": {"ports": [{"name": "https", "port": 8443}]}}))
    run(controller.sync())
    assert (available(wardle)["reason"], available(wardle)["message"]) == \
        ("ServicePortError", 'service/api in "wardle" is not listening on port 443')
    run(services.update("wardle", "api", lambda old: dict(old, spec=dict(
        old["spec"], ports=[{"name": "https", "port": 443, "targetPort": 8443}]))))
    run(controller.sync())
    assert (available(wardle)["reason"], available(wardle)["message"]) == \
        ("EndpointsNotFound", 'cannot find endpoints for service/api in "wardle"')
    run(wardle.store("", "v1", "endpoints").create("wardle", {
        "metadata": {"name": "api"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                  "ports": [{"name": "other", "port": 8443}]}]}))
    run(controller.sync())
    assert (available(wardle)["reason"], available(wardle)["message"]) == \
        ("MissingEndpoints", 'endpoints for service/api in "wardle" have no addresses with port name "https"')
    # The condition's transition time stays while its status does.
    assert available(wardle)["lastTransitionTime"] == "2027-01-15T08:00:00Z"


def test_an_unanswered_discovery_check_fails(wardle):
    port = closed_port()
    run(wardle.store("", "v1", "services").create("wardle", {
        "metadata": {"name": "api"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}}))
    run(wardle.store("", "v1", "endpoints").create("wardle", {
        "metadata": {"name": "api"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                  "ports": [{"name": "https", "port": port}]}]}))
    remote = RemoteAPIServices(wardle, reactor)
    run(APIServiceAvailability(wardle, reactor, lambda: remote).sync())
    condition = available(wardle)
    assert (condition["status"], condition["reason"]) == ("False", "FailedDiscoveryCheck")
    assert condition["message"].startswith(
        f"failing or missing response from https://127.0.0.1:{port}/apis/wardle.example.com/v1alpha1: ")


def test_a_worker_checks_for_its_own_aggregator_and_leaves_the_condition_to_the_primary(wardle, clock):
    """writes_status=False (a --workers worker): every check still runs and keeps this process's aggregator
    current (an unreachable APIService's discovery forgotten), and no Available condition is written."""
    forgotten = []
    remote = type("Remote", (), {"forget": lambda self, group, version: forgotten.append((group, version))})()
    run(APIServiceAvailability(wardle, clock, lambda: remote, writes_status=False).sync())
    apiservice = run(wardle.store(*APISERVICES).get(None, "v1alpha1.wardle.example.com"))
    assert not (apiservice.get("status") or {}).get("conditions")
    assert forgotten == [("wardle.example.com", "v1alpha1")]
    run(APIServiceAvailability(wardle, clock, lambda: remote).sync())
    assert available(wardle)["reason"] == "ServiceNotFound"


def test_the_check_repeats_on_the_clock(wardle, clock):
    controller = APIServiceAvailability(wardle, clock, lambda: None, interval=30)
    checked = []
    controller.sync = lambda: checked.append(clock.seconds()) or _done()
    run(controller.start())
    assert checked and set(checked) == {1_800_000_000.0}   # at start (and for the watches' first events)
    del checked[:]
    clock.advance(30)
    clock.advance(30)
    controller.stop()
    clock.advance(30)
    assert checked == [1_800_000_030.0, 1_800_000_060.0]


async def _done():
    return None


def test_the_configmap_is_created_merged_and_left_alone_when_unchanged(wardle, clock):
    configmaps = wardle.store("", "v1", "configmaps")
    run(configmaps.create(NAMESPACE, {"metadata": {"name": NAME}, "data": {"mine": "kept"}}))
    controller = ExtensionAuthentication(wardle, clock, lambda: {"requestheader-allowed-names": '["a"]'})
    run(controller.ensure())
    first = run(configmaps.get(NAMESPACE, NAME))
    assert first["data"] == {"mine": "kept", "requestheader-allowed-names": '["a"]'}
    run(controller.ensure())
    assert run(configmaps.get(NAMESPACE, NAME))["metadata"]["resourceVersion"] == \
        first["metadata"]["resourceVersion"]

"""A write to an Ingress's /status is judged by upstream's status rules: the load balancer's addresses."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from tests.controllers.conftest import run


@pytest.fixture
def ingresses(store_registry):
    store = store_registry.store("networking.k8s.io", "v1", "ingresses")
    run(store.create("default", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                 "metadata": {"name": "web", "namespace": "default"},
                                 "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}))
    return store


def write_status(store, balancer):
    def update(obj):
        obj = dict(obj)
        obj["status"] = {"loadBalancer": {"ingress": balancer}}
        return obj
    return run(store.update("default", "web", update, subresource="status"))[0]


def test_status_accepts_addresses(ingresses):
    """An IP and a DNS hostname are written."""
    out = write_status(ingresses, [{"ip": "10.0.0.1"}, {"hostname": "lb.example.com"}])
    assert out["status"]["loadBalancer"]["ingress"] == [{"ip": "10.0.0.1"}, {"hostname": "lb.example.com"}]


def test_status_refuses_bad_addresses(ingresses):
    """An ip that is no IP, and a hostname that is an IP, are 422s naming the entry."""
    with pytest.raises(StatusError) as caught:
        write_status(ingresses, [{"ip": "not-an-ip"}, {"hostname": "10.0.0.2"}])
    status = caught.value.to_status()
    assert status["code"] == 422
    assert [c["field"] for c in status["details"]["causes"]] == [
        "status.loadBalancer.ingress[0].ip", "status.loadBalancer.ingress[1].hostname"]
    assert status["details"]["causes"][0]["message"] == (
        'Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')

"""componentstatuses as upstream 1.32 serves them: scheduler and controller-manager (kube-scheduler's and
kube-controller-manager's secure healthz probed at 127.0.0.1:10259 and :10257) and etcd-0, with upstream's HTTP
prober's words; the deprecation warning and the Table kept."""

from __future__ import annotations

import pytest
from twisted.internet import defer, protocol, reactor
from twisted.web import resource, server

from kapiserver.endpoints import reviews
from kapiserver import httpprobe
from tests.controllers.conftest import run
from tests.endpoints.inprocess import served

CS = "/api/v1/componentstatuses"
WARNING = '299 - "v1 ComponentStatus is deprecated in v1.19+"'


def refused(port: int) -> str:
    return f'Get "https://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: connection refused'


@pytest.fixture
def call(monkeypatch):
    """The in-process API (its reactor a task.Clock): the probes answered as a healthy scheduler and a
    controller-manager that is not listening."""
    asked = []

    def http_get(reactor, action, host, port, timeout, any_status=False):
        asked.append((action.get("scheme"), host, port, action.get("path")))
        return defer.succeed((True, "ok") if port == 10259 else (False, refused(port)))
    monkeypatch.setattr(httpprobe, "http_get", http_get)
    call = served()
    call.asked = asked
    return call


def test_the_list_names_scheduler_controller_manager_and_etcd(call):
    answer = call("GET", CS)
    assert (answer.code, answer.warnings) == (200, [WARNING])
    assert answer.body["kind"] == "ComponentStatusList"
    assert answer.body["items"] == [
        {"metadata": {"name": "scheduler"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]},
        {"metadata": {"name": "controller-manager"},
         "conditions": [{"type": "Healthy", "status": "False", "message": refused(10257)}]},
        {"metadata": {"name": "etcd-0"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}]
    assert sorted(call.asked) == [("HTTPS", "127.0.0.1", 10257, "/healthz"), ("HTTPS", "127.0.0.1", 10259, "/healthz")]


def test_get_probes_the_one_named_and_an_unknown_one_is_upstreams_plain_error(call):
    answer = call("GET", f"{CS}/controller-manager")
    assert (answer.code, answer.body["metadata"], answer.body["conditions"][0]["status"]) == (
        200, {"name": "controller-manager"}, "False")
    assert call.asked == [("HTTPS", "127.0.0.1", 10257, "/healthz")]
    assert call("GET", f"{CS}/etcd-0").body["conditions"][0]["message"] == "ok"
    answer = call("GET", f"{CS}/nope")
    assert (answer.code, answer.body) == (500, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Failure", "message": "Component not found: nope",
                                                "code": 500})


class _Healthz(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        if request.path == b"/healthz":
            return b"ok"
        request.setResponseCode(404)
        return b""


def test_a_healthz_probed_for_real_over_https(tmp_path):
    """Against the global reactor: a healthz served over TLS with a certificate no one trusts is Healthy with its
    body; a closed port is Unhealthy with Go's client error as the message (no error, as upstream's prober counts a
    failed request a failure, not an error); a healthz answering 500 is upstream's statuscode message."""
    from twisted.internet import ssl

    from kapiserver.node.pki import ensure_serving_certificate
    from kapiserver.tlskeys import certificate_options
    cert, key = ensure_serving_certificate(str(tmp_path), "somewhere-else")
    with open(cert, "rb") as c, open(key, "rb") as k:
        options = ssl.CertificateOptions(**certificate_options(c.read(), k.read()))

    class _Broken(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setResponseCode(500)
            return b"[-]poststarthook failed"
    good = reactor.listenSSL(0, server.Site(_Healthz()), options, interface="127.0.0.1")
    bad = reactor.listenSSL(0, server.Site(_Broken()), options, interface="127.0.0.1")
    closed = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
    closed_port = closed.getHost().port
    run(closed.stopListening())
    try:
        assert run(reviews._healthz_condition(reactor, good.getHost().port)) == \
            {"type": "Healthy", "status": "True", "message": "ok"}
        assert run(reviews._healthz_condition(reactor, bad.getHost().port)) == \
            {"type": "Healthy", "status": "False", "message": "HTTP probe failed with statuscode: 500"}
        assert run(reviews._healthz_condition(reactor, closed_port)) == \
            {"type": "Healthy", "status": "False", "message": refused(closed_port)}
    finally:
        run(good.stopListening())
        run(bad.stopListening())

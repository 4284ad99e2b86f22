"""Probes against real things on the global reactor (turned by hand): an HTTP server, a closed port, a gRPC
health server over h2, and a real container process whose liveness probe fails, so it is restarted."""

from __future__ import annotations

import struct

import pytest
from twisted.internet import protocol, reactor
from twisted.internet.process import reapAllProcesses
from twisted.web import resource, server

from kapiserver.node import probes
from kapiserver.node.runner import PodWorker
from tests.controllers.conftest import run, run_until


class _Pages(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        if request.path == b"/healthz":
            return b"ok:" + (request.getHeader(b"x-probe") or b"")
        request.setResponseCode(500)
        return b"broken"


class _Health(protocol.Protocol):
    """A gRPC health server over cleartext h2: SERVING for "" and "good", NOT_SERVING for anything else."""

    def connectionMade(self):
        import h2.config
        import h2.connection
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())
        self.body = b""

    def dataReceived(self, data):
        import h2.events
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                self.body += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                service = self.body[7:].decode()
                status = 1 if service in ("", "good") else 2
                message = bytes([0x08, status])
                self.conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                self.conn.send_data(event.stream_id, b"\x00" + struct.pack(">I", len(message)) + message)
                self.conn.send_headers(event.stream_id, [("grpc-status", "0")], end_stream=True)
        self.transport.write(self.conn.data_to_send())


@pytest.fixture
def ports():
    web = reactor.listenTCP(0, server.Site(_Pages()), interface="127.0.0.1")
    grpc = reactor.listenTCP(0, protocol.Factory.forProtocol(_Health), interface="127.0.0.1")
    closed = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
    closed_port = closed.getHost().port
    run(closed.stopListening())
    yield web.getHost().port, grpc.getHost().port, closed_port
    run(web.stopListening())
    run(grpc.stopListening())


def test_http_tcp_and_grpc_probes_against_real_servers(ports):
    """httpGet: 2xx/3xx succeed (headers sent), others fail with "HTTP probe failed with statuscode: N";
    tcpSocket: an open port succeeds, a closed one fails with Go's dial error; grpc: SERVING succeeds."""
    web, grpc, closed = ports
    ok = run(probes.http_get(reactor, {"path": "/healthz", "httpHeaders": [{"name": "X-Probe", "value": "v"}]},
                             "127.0.0.1", web, 2))
    assert ok == (True, "ok:v")
    assert run(probes.http_get(reactor, {"path": "/other"}, "127.0.0.1", web, 2)) == \
        (False, "HTTP probe failed with statuscode: 500")
    refused = run(probes.http_get(reactor, {"path": "/"}, "127.0.0.1", closed, 2))
    assert refused == (False, f'Get "http://127.0.0.1:{closed}/": dial tcp 127.0.0.1:{closed}: connect: '
                              f'connection refused')
    assert run(probes.tcp_connect(reactor, "127.0.0.1", web, 2)) == (True, "")
    assert run(probes.tcp_connect(reactor, "127.0.0.1", closed, 2)) == \
        (False, f"dial tcp 127.0.0.1:{closed}: connect: connection refused")
    assert run(probes.grpc_check(reactor, {"port": grpc}, "127.0.0.1", 2)) == (True, "")
    assert run(probes.grpc_check(reactor, {"port": grpc, "service": "bad"}, "127.0.0.1", 2)) == \
        (False, 'service unhealthy (responded with "NOT_SERVING")')


def test_https_probe_does_not_verify_the_certificate(tmp_path):
    """scheme HTTPS reaches a server whose certificate no one trusts (upstream's prober does not verify)."""
    from twisted.internet import ssl

    from kapiserver.node.pki import ensure_serving_certificate
    from kapiserver.tlskeys import certificate_options
    cert, key = ensure_serving_certificate(str(tmp_path), "somewhere-else")
    with open(cert, "rb") as c, open(key, "rb") as k:
        options = ssl.CertificateOptions(**certificate_options(c.read(), k.read()))
    port = reactor.listenSSL(0, server.Site(_Pages()), options, interface="127.0.0.1")
    try:
        assert run(probes.http_get(reactor, {"path": "/healthz", "scheme": "HTTPS"}, "127.0.0.1",
                                   port.getHost().port, 5)) == (True, "ok:")
    finally:
        run(port.stopListening())


def test_a_real_container_failing_its_liveness_probe_is_restarted(tmp_path, ports):
    """A real process: its readiness tcpSocket probe makes it ready, its failing liveness exec probe (run with
    the container's environment) gets it killed and started again."""
    web = ports[0]
    events = []

    class Recorder:
        def event(self, obj, type_, reason, message, field_path=None):
            events.append((reason, message))
    spec = {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo up; exec sleep 30"],
            "env": [{"name": "VERDICT", "value": "sick"}],
            "readinessProbe": {"tcpSocket": {"port": web}, "periodSeconds": 1},
            "livenessProbe": {"exec": {"command": ["sh", "-c", "echo $VERDICT; exit 1"]}, "initialDelaySeconds": 1,
                              "periodSeconds": 1, "failureThreshold": 2}}
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-real"},
           "spec": {"containers": [spec], "terminationGracePeriodSeconds": 5}}
    worker = PodWorker(reactor, pod, str(tmp_path / "pod"), lambda w: None, {"PATH": "/usr/bin:/bin"},
                       recorder=Recorder())
    worker.start()
    container = worker.containers[0]
    try:
        run_until(lambda: container.ready, timeout=20, also=reapAllProcesses)
        run_until(lambda: container.restart_count >= 1 and container.running, timeout=30, also=reapAllProcesses)
    finally:
        stopped = worker.kill(0)
        run_until(lambda: stopped.called, timeout=20, also=reapAllProcesses)
    assert ("Unhealthy", "Liveness probe failed: sick\n") in events
    assert ("Killing", "Container c failed liveness probe, will be restarted") in events
    assert container.last_state["terminated"]["exitCode"] in (137, 143)


def test_http_hooks_any_answer_succeeds_no_answer_fails(tmp_path, ports):
    """An httpGet postStart hook answered (even 500) succeeds; one that cannot connect posts FailedPostStartHook
    (upstream's hook error kept on the container, out of the event) and the container is killed."""
    web, _, closed = ports
    events = []

    class Recorder:
        def event(self, obj, type_, reason, message, field_path=None):
            events.append((reason, message))

    def pod(name, port):
        spec = {"name": "c", "image": "busybox", "command": ["sleep", "30"],
                "lifecycle": {"postStart": {"httpGet": {"path": "/broken", "port": port}}}}
        return PodWorker(reactor, {"metadata": {"name": name, "namespace": "ns", "uid": name},
                                   "spec": {"containers": [spec], "restartPolicy": "Never",
                                            "terminationGracePeriodSeconds": 1}},
                         str(tmp_path / name), lambda w: None, {"PATH": "/usr/bin:/bin"}, recorder=Recorder())
    good, bad = pod("good", web), pod("bad", closed)
    good.start()
    bad.start()
    try:
        run_until(lambda: "terminated" in bad.containers[0].state, timeout=20, also=reapAllProcesses)
    finally:
        for worker in (good, bad):
            stopped = worker.kill(0)
            run_until(lambda: stopped.called, timeout=20, also=reapAllProcesses)
    failed = [message for reason, message in events if reason == "FailedPostStartHook"]
    assert failed == ["PostStartHook failed"]
    assert bad.containers[0].hook_error == (
        f'HTTP lifecycle hook (/broken) for Container "c" in Pod "bad_ns(bad)" failed - error: '
        f'Get "http://127.0.0.1:{closed}/broken": dial tcp 127.0.0.1:{closed}: connect: connection refused')
    assert ("Killing", "FailedPostStartHook") in events

"""
HTTP/2 on the secure port: ALPN offers h2 and http/1.1; kubectl (client-go) picks h2, a raw h2 client
multiplexes requests and watches on one connection with upstream's stream limit, and clients that only
speak HTTP/1.1 are served as before.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import h2.connection
import h2.config
import h2.events
import pytest

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary


class Secure:
    def __init__(self, server: APIServerProcess, port: int, home):
        self.server, self.port, self.home = server, port, home
        admin = json.loads((server.data_dir / "admin.kubeconfig").read_text())
        self.ca = base64.b64decode(admin["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        user = admin["users"][0]["user"]
        self.cert, self.key = home / "admin.crt", home / "admin.key"
        self.cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        self.key.write_bytes(base64.b64decode(user["client-key-data"]))

    def tls_socket(self, protocols=("h2", "http/1.1")) -> ssl.SSLSocket:
        context = ssl.create_default_context(cadata=self.ca)
        context.load_cert_chain(self.cert, self.key)
        context.set_alpn_protocols(list(protocols))
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return context.wrap_socket(sock, server_hostname="localhost")


class H2Client:
    """A small blocking HTTP/2 client over one TLS connection, on the h2 library."""

    def __init__(self, sock: ssl.SSLSocket):
        self.sock = sock
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.responses: dict[int, dict] = {}
        self.settings: dict = {}
        self.ping_acks: list[bytes] = []

    def start(self, method: str, path: str, body: bytes = b"", headers=()) -> int:
        stream = self.conn.get_next_available_stream_id()
        request_headers = [(":method", method), (":path", path), (":scheme", "https"),
                           (":authority", "localhost"), *headers]
        if body:
            request_headers.append(("content-length", str(len(body))))
        self.conn.send_headers(stream, request_headers, end_stream=not body)
        if body:
            self.conn.send_data(stream, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        self.responses[stream] = {"status": None, "headers": {}, "body": b"", "ended": False, "reset": False}
        return stream

    def pump(self, until, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; streams: {self.responses}")
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("the server closed the connection")
            for event in self.conn.receive_data(data):
                self._handle(event)
            self.sock.sendall(self.conn.data_to_send())

    def _handle(self, event) -> None:
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.settings.update({code: change.new_value for code, change in event.changed_settings.items()})
        if isinstance(event, h2.events.PingAckReceived):
            self.ping_acks.append(event.ping_data)
        response = self.responses.get(getattr(event, "stream_id", None))
        if response is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            headers = dict(event.headers)
            response["status"] = int(headers.pop(":status"))
            response["headers"] = headers
        elif isinstance(event, h2.events.DataReceived):
            response["body"] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            response["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            response["reset"] = True

    def request(self, method: str, path: str, body: bytes = b"", headers=()) -> dict:
        stream = self.start(method, path, body, headers)
        self.pump(lambda: self.responses[stream]["ended"] or self.responses[stream]["reset"])
        return self.responses[stream]

    def reset(self, stream: int) -> None:
        self.conn.reset_stream(stream)
        self.sock.sendall(self.conn.data_to_send())


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    base = tmp_path_factory.mktemp("http2")
    port = free_port()
    server = APIServerProcess(base / "data", args=(f"--secure-port={port}", "--bind-address=127.0.0.1")).start()
    yield Secure(server, port, base)
    server.stop()


def test_alpn_selects_h2_with_upstream_stream_limit(secure):
    """A client offering h2 gets it, with Go's 250 concurrent streams and a 1 MiB header list announced."""
    sock = secure.tls_socket()
    assert sock.selected_alpn_protocol() == "h2"
    client = H2Client(sock)
    response = client.request("GET", "/version")
    assert response["status"] == 200
    assert json.loads(response["body"])["gitVersion"].startswith("v1.32")
    assert client.settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 250
    assert client.settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 1 << 20


def test_client_certificate_authenticates_over_h2(secure):
    """x509 authentication reads the client certificate of an HTTP/2 connection."""
    client = H2Client(secure.tls_socket())
    review = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode()
    response = client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review,
                              headers=[("content-type", "application/json")])
    assert response["status"] == 201, response
    user = json.loads(response["body"])["status"]["userInfo"]
    assert user["username"] == "kubernetes-admin" and "system:masters" in user["groups"]


def test_many_watches_and_requests_share_one_connection(secure):
    """More watches than the h2 library's default of 100 run at once on one connection, each gets its
    event, and resetting them leaves the connection serving."""
    client = H2Client(secure.tls_socket())
    listed = json.loads(client.request("GET", "/api/v1/namespaces/default/configmaps")["body"])
    rv = listed["metadata"]["resourceVersion"]
    watches = [client.start("GET", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
                                   f"&fieldSelector=metadata.name%3Dmultiplexed&timeoutSeconds=60")
               for _ in range(120)]
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "multiplexed"},
                       "data": {"k": "v"}}).encode()
    created = client.request("POST", "/api/v1/namespaces/default/configmaps", body,
                             headers=[("content-type", "application/json")])
    assert created["status"] == 201, created
    client.pump(lambda: all(b"\n" in client.responses[s]["body"] for s in watches), timeout=20)
    for stream in watches:
        event = json.loads(client.responses[stream]["body"].split(b"\n")[0])
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "multiplexed"
        assert client.responses[stream]["status"] == 200 and not client.responses[stream]["ended"]
        client.reset(stream)
    again = client.request("GET", "/api/v1/namespaces/default/configmaps/multiplexed")
    assert again["status"] == 200 and json.loads(again["body"])["data"] == {"k": "v"}


def test_ping_is_answered_while_a_watch_is_open(secure):
    """client-go's HTTP/2 health check: a PING on a connection carrying a watch is acknowledged."""
    client = H2Client(secure.tls_socket())
    watch = client.start("GET", "/api/v1/namespaces?watch=1&timeoutSeconds=30")
    client.pump(lambda: client.responses[watch]["status"] == 200)
    client.conn.ping(b"kapiping")
    client.sock.sendall(client.conn.data_to_send())
    client.pump(lambda: client.ping_acks == [b"kapiping"])
    client.reset(watch)


def test_watch_timeout_ends_the_stream(secure):
    """A watch's timeoutSeconds ends its HTTP/2 stream cleanly."""
    client = H2Client(secure.tls_socket())
    started = time.monotonic()
    response = client.request("GET", "/api/v1/namespaces?watch=1&timeoutSeconds=1")
    assert response["status"] == 200 and response["ended"]
    assert time.monotonic() - started < 8
    types = {json.loads(line)["type"] for line in response["body"].splitlines()}
    assert types == {"ADDED"}


def test_errors_are_status_objects_over_h2(secure):
    """A 404 over HTTP/2 is the same Status object as over HTTP/1.1."""
    client = H2Client(secure.tls_socket())
    response = client.request("GET", "/api/v1/namespaces/default/configmaps/absent")
    assert response["status"] == 404
    status = json.loads(response["body"])
    assert status["reason"] == "NotFound" and status["message"] == 'configmaps "absent" not found'


def test_http11_only_clients_are_still_served(secure):
    """A client offering only http/1.1 gets it, as the Python client does."""
    sock = secure.tls_socket(protocols=("http/1.1",))
    assert sock.selected_alpn_protocol() == "http/1.1"
    sock.sendall(b"GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b'"gitVersion"' in data


def test_kubectl_speaks_http2(secure, monkeypatch):
    """kubectl negotiates HTTP/2 (Go's http2 debug log shows its frames) and works over it, watches too."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    kc = Kubectl(binary, secure.server, secure.home)
    kc.kubeconfig.write_text((secure.server.data_dir / "admin.kubeconfig").read_text())
    monkeypatch.setenv("GODEBUG", "http2debug=1")
    result = kc("get", "namespace", "default", "-o", "name")
    assert result.stdout == "namespace/default\n"
    assert "http2: Transport" in result.stderr or "http2: Framer" in result.stderr, result.stderr[-2000:]
    monkeypatch.delenv("GODEBUG")
    watcher = kc.popen("get", "configmaps", "--watch", "-o", "name", "--request-timeout=30s")
    try:
        time.sleep(1.0)
        kc("create", "configmap", "watched-over-h2", "--from-literal=a=b")
        deadline = time.monotonic() + 30
        seen = ""
        os.set_blocking(watcher.stdout.fileno(), False)
        while "configmap/watched-over-h2" not in seen and time.monotonic() < deadline:
            chunk = watcher.stdout.read()
            seen += chunk.decode() if isinstance(chunk, bytes) else (chunk or "")
            time.sleep(0.1)
        assert "configmap/watched-over-h2" in seen
    finally:
        watcher.kill()
        watcher.wait()


def test_max_streams_flag(tmp_path):
    """--http2-max-streams-per-connection is what the server announces."""
    port = free_port()
    server = APIServerProcess(tmp_path / "data", args=(f"--secure-port={port}", "--bind-address=127.0.0.1",
                                                       "--http2-max-streams-per-connection=7")).start()
    try:
        secure = Secure(server, port, tmp_path)
        client = H2Client(secure.tls_socket())
        assert client.request("GET", "/healthz")["body"] == b"ok"
        assert client.settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 7
    finally:
        server.stop()


def test_negative_max_streams_is_refused(tmp_path):
    """A negative --http2-max-streams-per-connection stops startup with upstream's message."""
    result = subprocess.run([sys.executable, "-m", "kapiserver", f"--data-dir={tmp_path}",
                             "--http2-max-streams-per-connection=-1"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "--http2-max-streams-per-connection can not be negative" in result.stderr + result.stdout

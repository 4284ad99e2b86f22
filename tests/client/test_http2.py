"""The client over HTTP/2 against a real apiserver's secure port: one multiplexed connection for requests and
watches, fallback to HTTP/1.1, GOAWAY and a lost connection."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, gatherResults

from kapiserver.client.http2 import H2ConnectionLost
from kapiserver.client.resources import CONFIG_MAPS, NAMESPACES
from kapiserver.client.rest import APIError, client_from_kubeconfig
from tests.client.conftest import run, run_until
from tests.conformance.support import unique
from tests.e2e.conftest import APIServerProcess, free_port


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    base = tmp_path_factory.mktemp("client-h2")
    port = free_port()
    server = APIServerProcess(base / "data", args=(f"--secure-port={port}", "--bind-address=127.0.0.1")).start()
    yield server
    server.stop()


def _client(secure, **kwargs):
    return client_from_kubeconfig(str(secure.data_dir / "admin.kubeconfig"), user_agent="kapiserver-tests",
                                  **kwargs)


@pytest.fixture
def h2client(secure):
    client = _client(secure)
    yield client
    run(client.close())


def _cm(name, namespace, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": data or {}}


def _namespace(client) -> str:
    name = unique("h2")
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def test_rest_verbs_over_one_h2_connection(h2client):
    """GET, LIST, CREATE, PATCH, DELETE and a Status error all travel as streams of one HTTP/2 connection."""
    ns = _namespace(h2client)
    created = run(h2client.create(CONFIG_MAPS, _cm("a", ns, {"k": "v"})))
    assert created["metadata"]["uid"]
    assert run(h2client.get(CONFIG_MAPS, "a", ns))["data"] == {"k": "v"}
    assert run(h2client.patch(CONFIG_MAPS, "a", {"data": {"k": "w"}}, ns))["data"] == {"k": "w"}
    assert [i["metadata"]["name"] for i in run(h2client.list(CONFIG_MAPS, ns, field_selector="metadata.name=a"))
            ["items"]] == ["a"]
    run(h2client.delete(CONFIG_MAPS, "a", ns))
    with pytest.raises(APIError) as refused:
        run(h2client.get(CONFIG_MAPS, "a", ns))
    assert (refused.value.code, refused.value.reason) == (404, "NotFound")
    assert h2client.protocol == "h2"
    assert h2client.h2.connections == 1


def test_watch_and_many_concurrent_requests_share_the_connection(h2client):
    """A watch gets its events while 300 requests (more than the server's 250 streams) run at once, all on
    the one connection."""
    ns = _namespace(h2client)
    listed = run(h2client.list(CONFIG_MAPS, ns))
    events = []
    watch = h2client.watch(CONFIG_MAPS, lambda t, o: events.append((t, o["metadata"]["name"])), ns,
                           listed["metadata"]["resourceVersion"], field_selector="metadata.name=w")
    results = run(gatherResults([Deferred.fromCoroutine(h2client.get(NAMESPACES, ns)) for _ in range(300)]),
                  timeout=60)
    assert {r["metadata"]["name"] for r in results} == {ns}
    run(h2client.create(CONFIG_MAPS, _cm("w", ns)))
    run(h2client.delete(CONFIG_MAPS, "w", ns))
    run_until(lambda: len(events) >= 2)
    assert events[:2] == [("ADDED", "w"), ("DELETED", "w")]
    watch.cancel()
    run(watch.done)
    assert h2client.h2.connections == 1
    assert run(h2client.get(NAMESPACES, ns))["metadata"]["name"] == ns


def test_a_refused_watch_errbacks_with_the_status(h2client):
    """A watch the server refuses ends with its Status, over HTTP/2 as over HTTP/1.1."""
    watch = h2client.watch(CONFIG_MAPS, lambda t, o: None, "default", field_selector="spec.bogus=1")
    failures = []
    watch.done.addErrback(failures.append)
    run_until(lambda: watch.done.called)
    assert failures and (failures[0].value.code, failures[0].value.reason) == (400, "BadRequest")


def test_http11_is_forced_by_the_option(secure):
    """http2=False keeps the client on HTTP/1.1 connections."""
    client = _client(secure, http2=False)
    try:
        assert client.h2 is None and client.protocol == "http/1.1"
        assert run(client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
    finally:
        run(client.close())


def test_server_closing_the_connection_ends_the_watch_and_the_next_request_redials(h2client):
    """When the connection goes, an open watch ends with an error (its reflector re-watches) and the next
    request dials a new connection."""
    run(h2client.get(NAMESPACES, "default"))
    watch = h2client.watch(NAMESPACES, lambda t, o: None, timeout_seconds=60)
    run_until(lambda: watch._stream is not None)
    h2client.h2._conn.transport.abortConnection()
    failures = []
    watch.done.addErrback(failures.append)
    run_until(lambda: watch.done.called)
    assert failures and failures[0].check(H2ConnectionLost)
    assert run(h2client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
    assert h2client.h2.connections == 2


def test_goaway_lets_open_streams_finish_and_new_requests_use_a_new_connection(h2client):
    """After the server's GOAWAY the watch it covers still delivers, and new requests dial anew."""
    ns = _namespace(h2client)
    listed = run(h2client.list(CONFIG_MAPS, ns))
    events = []
    watch = h2client.watch(CONFIG_MAPS, lambda t, o: events.append(t), ns, listed["metadata"]["resourceVersion"],
                           field_selector="metadata.name=after-goaway")
    run_until(lambda: watch._stream is not None)
    first = h2client.h2._conn
    # As if the server had sent GOAWAY covering every stream opened so far.
    import h2.events
    goaway = h2.events.ConnectionTerminated()
    goaway.error_code, goaway.last_stream_id = 0, first.conn.highest_outbound_stream_id
    first._goaway(goaway)
    assert not first.usable
    run(h2client.create(CONFIG_MAPS, _cm("after-goaway", ns)))
    run_until(lambda: events == ["ADDED"])
    assert h2client.h2._conn is not first and h2client.h2.connections == 2
    watch.cancel()
    run(watch.done)
    run_until(lambda: first.lost.called)


def test_a_server_without_h2_is_used_over_http11():
    """When ALPN does not choose h2, the client falls back to HTTP/1.1 for good."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime
    from twisted.internet import reactor, ssl
    from twisted.web import resource, server

    from kapiserver.client.kubeconfig import KubeconfigTLS
    from kapiserver.client.rest import Client

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))

    class Namespace(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"content-type", b"application/json")
            return b'{"kind": "Namespace", "metadata": {"name": "default"}}'

    class HTTP11Site(server.Site):
        def acceptableProtocols(self):   # what ALPN offers: no h2
            return [b"http/1.1"]

    options = ssl.CertificateOptions(privateKey=key, certificate=cert)
    port = reactor.listenSSL(0, HTTP11Site(Namespace()), options, interface="127.0.0.1")
    client = Client(f"https://127.0.0.1:{port.getHost().port}", reactor=reactor,
                    tls=KubeconfigTLS(None, None, None, insecure=True))
    try:
        assert client.protocol == "h2"  # not known before the first handshake
        assert run(client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
        assert client.protocol == "http/1.1" and client.h2 is None
        assert run(client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
    finally:
        run(client.close())
        run(port.stopListening())


def test_a_body_larger_than_the_flow_control_window_is_sent(h2client):
    """A 300 KB ConfigMap (more than HTTP/2's initial 64 KiB window) is written and read back whole."""
    ns = _namespace(h2client)
    blob = "x" * 300_000
    run(h2client.create(CONFIG_MAPS, _cm("big", ns, {"blob": blob})))
    assert run(h2client.get(CONFIG_MAPS, "big", ns))["data"]["blob"] == blob


def test_cancelling_a_request_resets_its_stream_and_the_connection_goes_on(h2client):
    """A cancelled request fails with CancelledError; the connection keeps serving the next ones."""
    from twisted.internet.defer import CancelledError
    run(h2client.get(NAMESPACES, "default"))
    pending = Deferred.fromCoroutine(h2client.request("GET", "/api/v1/namespaces?watch=1&timeoutSeconds=30"))
    pending.cancel()
    failures = []
    pending.addErrback(failures.append)
    assert failures and failures[0].check(CancelledError)
    assert run(h2client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
    assert h2client.h2.connections == 1 and not h2client.h2._conn._streams


def test_exhausted_stream_ids_move_requests_to_a_new_connection(h2client):
    """Once a connection has used its 2^31 stream ids, requests go to a new one and the old one closes."""
    run(h2client.get(NAMESPACES, "default"))
    first = h2client.h2._conn
    first.conn.highest_outbound_stream_id = 2 ** 31 - 1
    assert run(h2client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
    assert h2client.h2.connections == 2 and h2client.h2._conn is not first
    run_until(lambda: first.lost.called)


def test_an_apiserver_restart_ends_the_watch_and_the_client_reconnects(secure, h2client):
    """The apiserver stopping ends an open watch; once it is back the same Client dials a new connection.
    (Last in this module: it restarts the module's apiserver.)"""
    run(h2client.get(NAMESPACES, "default"))
    watch = h2client.watch(NAMESPACES, lambda t, o: None, timeout_seconds=60)
    run_until(lambda: watch._stream is not None)
    secure.stop()
    ended = []
    watch.done.addBoth(ended.append)
    run_until(lambda: bool(ended), timeout=20)
    secure.start()
    assert run(h2client.get(NAMESPACES, "default"))["metadata"]["name"] == "default"
    assert h2client.h2.connections == 2 and h2client.protocol == "h2"

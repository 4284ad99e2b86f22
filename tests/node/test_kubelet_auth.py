"""The kubelet API's authentication, authorization and serving flags (kapiserver.node.auth, tap, pki)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import treq
from cryptography import x509
from OpenSSL import crypto
from treq.testing import StubTreq
from twisted.internet import defer, task
from twisted.python import usage

from kapiserver.auth import certs
from kapiserver.auth.user import UserInfo
from kapiserver.node.auth import (KubeletAuth, KubeletAuthenticator, NodeAttributes,
                                  SubjectAccessReviewAuthorizer, TokenReviewAuthenticator, forbidden_body,
                                  request_attributes)
from kapiserver.node.kubeletapi import KubeletAPI
from kapiserver.node.tap import Options

ALICE = UserInfo("alice", groups=["devs", "system:authenticated"])


def _subresources(method, path, fine_grained=False):
    return [(a.verb, a.subresource) for a in request_attributes(ALICE, method, path, "n1", fine_grained)]


# -- attributes ---------------------------------------------------------------------------------------

def test_verbs_follow_the_http_method():
    """GET get, POST create, PUT update, PATCH patch, DELETE delete; other methods have no verb."""
    verbs = {m: _subresources(m, "/pods")[0][0] for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")}
    assert verbs == {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete",
                     "HEAD": ""}


def test_subresources_follow_the_path():
    """/stats, /metrics, /logs and /checkpoint (and below) have their own subresource; everything else,
    the streaming endpoints and container logs included, is nodes/proxy."""
    cases = {"/stats/summary": "stats", "/stats": "stats", "/metrics": "metrics", "/metrics/cadvisor": "metrics",
             "/logs/syslog": "log", "/logs/": "log", "/checkpoint/ns/p/c": "checkpoint",
             "/containerLogs/ns/p/c": "proxy", "/exec/ns/p/c": "proxy", "/portForward/ns/p": "proxy",
             "/pods": "proxy", "/healthz": "proxy", "/logsmore": "proxy", "/statsx": "proxy"}
    assert {path: _subresources("GET", path)[0][1] for path in cases} == cases
    assert all(len(_subresources("GET", path)) == 1 for path in cases)


def test_fine_grained_paths_are_tried_before_proxy():
    """With KubeletFineGrainedAuthz, /pods, /runningpods, /healthz and /configz ask their own subresource
    first and nodes/proxy second."""
    assert _subresources("GET", "/pods", True) == [("get", "pods"), ("get", "proxy")]
    assert _subresources("GET", "/runningpods/", True) == [("get", "pods"), ("get", "proxy")]
    assert _subresources("GET", "/healthz/syncloop", True) == [("get", "healthz"), ("get", "proxy")]
    assert _subresources("GET", "/configz", True) == [("get", "configz"), ("get", "proxy")]
    assert _subresources("GET", "/stats/summary", True) == [("get", "stats")]


def test_forbidden_body_names_user_verb_and_every_subresource():
    """The 403 text is upstream's, with Go's %v of the subresource list and a trailing newline."""
    assert forbidden_body(request_attributes(ALICE, "POST", "/exec/a/b/c", "n1")) == \
        b"Forbidden (user=alice, verb=create, resource=nodes, subresource(s)=[proxy])\n"
    assert forbidden_body(request_attributes(ALICE, "GET", "/pods", "n1", True)) == \
        b"Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[pods proxy])\n"


def test_review_spec_carries_the_user_and_the_node_attributes():
    """The SubjectAccessReview asks about nodes/<subresource> of this node, version v1, core group (omitted)."""
    user = UserInfo("bob", "uid-1", ["g"], {"k": ["v"]})
    spec = NodeAttributes(user, "get", "log", "n1", "/logs/x").review_spec()
    assert spec == {"user": "bob", "uid": "uid-1", "groups": ["g"], "extra": {"k": ["v"]},
                    "resourceAttributes": {"verb": "get", "version": "v1", "resource": "nodes",
                                           "subresource": "log", "name": "n1"}}


# -- the filter in front of the kubelet API -----------------------------------------------------------

class FakeAgent:
    node_name = "n1"
    workers: dict = {}

    def worker(self, namespace, name):
        return None


class FakeReviews:
    """The API server's review endpoints: answers from `decide`, optionally held until `release()`."""

    def __init__(self, decide, hold=False):
        self.decide = decide
        self.hold = hold
        self.sent = []
        self.pending = []

    def create(self, resource, body):
        path = resource.path()
        self.sent.append((path, body))
        try:
            answer = defer.succeed(self.decide(path, body))
        except Exception as e:
            answer = defer.fail(e)
        if not self.hold:
            return answer
        d = defer.Deferred()
        self.pending.append((d, answer))
        return d

    def release(self):
        pending, self.pending = self.pending, []
        for d, answer in pending:
            answer.chainDeferred(d)


def _sar(allowed_users=(), tokens=None, error=None):
    def decide(path, body):
        if error:
            raise error
        if path.endswith("tokenreviews"):
            user = (tokens or {}).get(body["spec"]["token"])
            return {"status": {"authenticated": True, "user": user} if user else {}}
        return {"status": {"allowed": body["spec"].get("user") in allowed_users}}
    return decide


def _get(auth, path="/pods", headers=None, method="GET", hold: FakeReviews = None):
    """(status code, body, content type) of one request to a KubeletAPI behind `auth`."""
    stub = StubTreq(KubeletAPI(task.Clock(), FakeAgent(), auth))
    results = []
    d = stub.request(method, f"http://node{path}", headers=headers or {})
    d.addCallback(lambda r: treq.content(r).addCallback(
        lambda body: (r.code, body, (r.headers.getRawHeaders(b"content-type") or [b""])[0])))
    d.addBoth(results.append)
    stub.flush()
    if hold is not None:
        while hold.pending:  # the TokenReview, then the SubjectAccessReview
            assert not results, "answered before the webhook did"
            hold.release()
            stub.flush()
    assert results, "no response"
    if not isinstance(results[0], tuple):
        results[0].raiseException()
    return results[0]


def test_the_default_filter_lets_every_request_through():
    """Anonymous allowed and AlwaysAllow (no flags) serve requests with no credentials, as before."""
    assert _get(None, "/healthz") == (200, b"ok", b"text/plain")
    assert _get(KubeletAuth("n1"), "/pods")[0] == 200


def test_no_credentials_without_anonymous_auth_is_401():
    """--anonymous-auth=false: a request with nothing to authenticate is 401 with the body Unauthorized."""
    auth = KubeletAuth("n1", KubeletAuthenticator(anonymous=False))
    assert _get(auth, "/healthz") == (401, b"Unauthorized", b"text/plain; charset=utf-8")


def test_webhook_authorization_refuses_and_admits():
    """The SubjectAccessReview's answer decides: denied is 403 with upstream's body, allowed is served;
    the answer comes after the response is held for the webhook."""
    reviews = FakeReviews(_sar(allowed_users={"good"}, tokens={"t-good": {"username": "good"},
                                                                "t-bad": {"username": "bad"}}), hold=True)
    clock = task.Clock()
    auth = KubeletAuth("n1", KubeletAuthenticator(tokens=TokenReviewAuthenticator(reviews, clock.seconds)),
                       SubjectAccessReviewAuthorizer(reviews, clock.seconds))
    code, body, kind = _get(auth, "/pods", {"Authorization": "Bearer t-bad"}, hold=reviews)
    assert (code, body) == (403, b"Forbidden (user=bad, verb=get, resource=nodes, subresource(s)=[proxy])\n")
    assert kind == b"text/plain; charset=utf-8"
    assert _get(auth, "/pods", {"Authorization": "Bearer t-good"}, hold=reviews)[0] == 200
    review = reviews.sent[-1][1]
    assert reviews.sent[-1][0] == "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    assert review["kind"] == "SubjectAccessReview" and review["spec"]["groups"] == ["system:authenticated"]


def test_bad_bearer_token_is_401_even_when_anonymous_is_allowed():
    """Credentials that do not check out are not downgraded to system:anonymous."""
    reviews = FakeReviews(_sar(tokens={}))
    auth = KubeletAuth("n1", KubeletAuthenticator(tokens=TokenReviewAuthenticator(reviews, task.Clock().seconds)))
    assert _get(auth, "/pods", {"Authorization": "Bearer nope"})[:2] == (401, b"Unauthorized")
    assert reviews.sent[0][1] == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                  "spec": {"token": "nope"}}


def test_tokens_are_ignored_without_the_token_webhook():
    """Without --authentication-token-webhook a bearer token is not looked at: the request is anonymous."""
    reviews = FakeReviews(_sar())
    auth = KubeletAuth("n1", KubeletAuthenticator(), SubjectAccessReviewAuthorizer(reviews, task.Clock().seconds))
    assert _get(auth, "/pods", {"Authorization": "Bearer whatever"})[:2] == \
        (403, b"Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[proxy])\n")
    assert reviews.sent[0][1]["spec"]["groups"] == ["system:unauthenticated"]


def test_webhook_errors_fail_closed():
    """A TokenReview that cannot be made is 401; a SubjectAccessReview that cannot be made is 500 with
    upstream's Authorization error text."""
    broken = FakeReviews(_sar(error=RuntimeError("connection refused")))
    clock = task.Clock()
    auth = KubeletAuth("n1", KubeletAuthenticator(tokens=TokenReviewAuthenticator(broken, clock.seconds)))
    assert _get(auth, "/pods", {"Authorization": "Bearer t"})[:2] == (401, b"Unauthorized")
    auth = KubeletAuth("n1", KubeletAuthenticator(), SubjectAccessReviewAuthorizer(broken, clock.seconds))
    assert _get(auth, "/containerLogs/a/b/c", method="GET")[:2] == \
        (500, b"Authorization error (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)")


def test_webhook_answers_are_cached_for_their_ttls():
    """Allowed answers are kept for the authorized TTL, denied ones for the unauthorized TTL, tokens for
    the token TTL; after that the API server is asked again."""
    clock = task.Clock()
    reviews = FakeReviews(_sar(allowed_users={"alice"}))
    authorizer = SubjectAccessReviewAuthorizer(reviews, clock.seconds, authorized_ttl=300, unauthorized_ttl=30)

    def ask(user):
        return defer.ensureDeferred(authorizer.authorize(
            NodeAttributes(UserInfo(user), "get", "proxy", "n1", "/pods")))
    for user in ("alice", "mallory", "alice", "mallory"):
        ask(user)
    assert len(reviews.sent) == 2
    clock.advance(31)
    ask("alice"), ask("mallory")
    assert [b["spec"]["user"] for _, b in reviews.sent[2:]] == ["mallory"]
    clock.advance(300)
    ask("alice")
    assert len(reviews.sent) == 4
    tokens = TokenReviewAuthenticator(FakeReviews(_sar(tokens={"t": {"username": "u"}})), clock.seconds, ttl=120)
    first = []
    defer.ensureDeferred(tokens.authenticate("t")).addCallback(first.append)
    defer.ensureDeferred(tokens.authenticate("t")).addCallback(first.append)
    assert [u.name for u in first] == ["u", "u"] and len(tokens.client.sent) == 1


# -- x509 ---------------------------------------------------------------------------------------------

def _tls_request(cert):
    """A request whose TLS connection presented `cert` (or none)."""
    peer = crypto.X509.from_cryptography(cert) if cert is not None else None
    transport = SimpleNamespace(getPeerCertificate=lambda: peer)
    return SimpleNamespace(transport=transport, channel=None, getHeader=lambda name: None)


def _authenticate(authenticator, request):
    out = []
    defer.ensureDeferred(authenticator.authenticate(request)).addBoth(out.append)
    return out[0]


def test_client_certificates_from_the_client_ca_are_users():
    """A certificate signed by --client-ca-file is its CN with its Os as groups (plus system:authenticated);
    one from another CA is a 401 even with anonymous allowed; without a client CA certificates are ignored."""
    ca, ca_key = certs.new_ca("kubelet-client-ca")
    other, other_key = certs.new_ca("other")
    good, _ = certs.sign_certificate(ca, ca_key, "apiserver", ["system:masters"], client=True)
    stranger, _ = certs.sign_certificate(other, other_key, "apiserver", client=True)
    user = _authenticate(KubeletAuthenticator([ca]), _tls_request(good))
    assert (user.name, user.groups) == ("apiserver", ["system:masters", "system:authenticated"])
    assert _authenticate(KubeletAuthenticator([ca]), _tls_request(stranger)) is None
    assert _authenticate(KubeletAuthenticator(), _tls_request(good)).name == "system:anonymous"
    assert _authenticate(KubeletAuthenticator([ca], anonymous=False), _tls_request(None)) is None


# -- flags --------------------------------------------------------------------------------------------

def _options(*args):
    options = Options()
    options.parseOptions(["--kubeconfig=k", *args])
    return options


def test_plain_http_unless_security_is_asked_for():
    """No TLS or auth flag: plain HTTP with the kubelet's open defaults; any of them, or --serve-https,
    turns HTTPS on; --serve-https=false with one of them is refused."""
    plain = _options("--root-dir=/r")
    assert (plain["serve-https"], plain["anonymous-auth"], plain["authorization-mode"]) == (False, True, "AlwaysAllow")
    assert plain["cert-dir"] == "/r/pki"
    for flags in (["--client-ca-file=ca.pem"], ["--authorization-mode=Webhook"], ["--anonymous-auth=false"],
                  ["--authentication-token-webhook"], ["--tls-cert-file=c", "--tls-private-key-file=k"],
                  ["--serve-https"], ["--cert-dir=/p"]):
        assert _options(*flags)["serve-https"] is True, flags
    with pytest.raises(usage.UsageError, match="contradicts --client-ca-file"):
        _options("--serve-https=false", "--client-ca-file=ca.pem")
    assert _options("--serve-https=false", "--anonymous-auth=true")["serve-https"] is False


def test_flag_values_are_checked():
    """Modes, booleans, durations, TLS versions and the certificate/key pair are validated at parse time."""
    options = _options("--authentication-token-webhook-cache-ttl=10s", "--authentication-token-webhook=true")
    assert options["authentication-token-webhook-cache-ttl"] == 10.0
    assert options["authorization-webhook-cache-authorized-ttl"] == 300.0
    assert options["authorization-webhook-cache-unauthorized-ttl"] == 30.0
    for bad in (["--authorization-mode=RBAC"], ["--anonymous-auth=maybe"], ["--tls-cert-file=c"],
                ["--authorization-webhook-cache-authorized-ttl=5"], ["--tls-min-version=TLS9"],
                ["--tls-cipher-suites=NOPE"]):
        with pytest.raises(usage.UsageError):
            _options(*bad)


def test_self_signed_serving_certificate_is_generated_once(tmp_path):
    """Without --tls-cert-file, HTTPS generates kubelet.crt/kubelet.key into --cert-dir (the certificate
    naming the node, the host and the address) and reuses them on the next start."""
    from kapiserver.node.tap import kubelet_endpoint
    options = _options(f"--root-dir={tmp_path}", "--serve-https", "--node-name=n1", "--address=127.0.0.1")
    endpoint = kubelet_endpoint(options, task.Clock())
    assert endpoint.tls_options is not None
    chain = certs.load_certificates(str(tmp_path / "pki" / "kubelet.crt"))
    names = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "n1" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert chain[0].issuer == chain[1].subject and chain[1].subject.rfc4514_string().startswith("CN=n1-ca@")
    before = (tmp_path / "pki" / "kubelet.crt").read_bytes()
    kubelet_endpoint(options, task.Clock())
    assert (tmp_path / "pki" / "kubelet.crt").read_bytes() == before
    assert kubelet_endpoint(_options(), task.Clock()).tls_options is None


def _handshake(client_options, serving_cert, serving_key) -> bool:
    """Whether a TLS handshake from `client_options` to a server with this certificate succeeds (in memory)."""
    from twisted.internet import ssl
    from twisted.internet.interfaces import IHandshakeListener
    from twisted.internet.protocol import Factory, Protocol
    from twisted.protocols.tls import TLSMemoryBIOFactory
    from twisted.test.iosim import connectedServerAndClient
    from zope.interface import implementer
    done = []

    @implementer(IHandshakeListener)
    class Listener(Protocol):
        def handshakeCompleted(self):
            done.append(True)
    server_options = ssl.CertificateOptions(privateKey=serving_key, certificate=serving_cert)
    server = TLSMemoryBIOFactory(server_options, False, Factory.forProtocol(Protocol))
    client = TLSMemoryBIOFactory(client_options, True, Factory.forProtocol(Listener))
    _, _, pump = connectedServerAndClient(lambda: server.buildProtocol(None), lambda: client.buildProtocol(None))
    pump.flush()
    return bool(done)


def _kubelet_tls_options(tmp_path, ca_certificates=()):
    from kapiserver.kubelet.client import KubeletClient, KubeletConfig, tls_options
    config = KubeletConfig(https=True)
    if ca_certificates:
        (tmp_path / "ca.crt").write_bytes(b"".join(certs.cert_pem(c) for c in ca_certificates))
        config.certificate_authority = str(tmp_path / "ca.crt")
    return tls_options("127.0.0.1", *KubeletClient(None, config, None).tls_files.read())


def test_kubelet_client_verifies_only_with_a_certificate_authority(tmp_path):
    """Without --kubelet-certificate-authority the apiserver's kubelet client accepts a self-signed kubelet
    (as upstream); with one it refuses a kubelet certificate from another CA."""
    own, own_key = certs.new_ca("kubelet-self")
    serving = certs.sign_certificate(own, own_key, "n1", hosts=["127.0.0.1"])
    assert _handshake(_kubelet_tls_options(tmp_path), *serving)
    assert not _handshake(_kubelet_tls_options(tmp_path, [certs.new_ca("cluster")[0]]), *serving)


def test_kubelet_client_trusts_every_certificate_of_the_bundle(tmp_path):
    """A --kubelet-certificate-authority bundle of two CAs trusts a kubelet certificate signed by either."""
    old, old_key = certs.new_ca("old")
    new, new_key = certs.new_ca("new")
    for ca, key in ((old, old_key), (new, new_key)):
        serving = certs.sign_certificate(ca, key, "n1", hosts=["127.0.0.1"])
        assert _handshake(_kubelet_tls_options(tmp_path, [old, new]), *serving)


def test_kubelet_client_certificate_files_it_cannot_read_fail_the_dial_as_a_status(tmp_path):
    """A --kubelet-certificate-authority file that is gone (or not PEM) fails the exec, log or proxy it was
    for with a 500 Status saying so, as a dial that fails does, rather than an exception out of the handler."""
    from twisted.internet.protocol import Protocol

    from kapiserver.kubelet.client import KubeletClient, KubeletConfig
    from kapiserver.machinery.errors import StatusError
    from tests.inline_threads import InlineThreadsClock

    (tmp_path / "bad.crt").write_bytes(b"not a certificate")
    for ca in (tmp_path / "gone.crt", tmp_path / "bad.crt"):
        client = KubeletClient(InlineThreadsClock(), KubeletConfig(https=True, certificate_authority=str(ca)), None)
        failures = []
        defer.ensureDeferred(client.dial("127.0.0.1", 10250, Protocol())).addErrback(failures.append)
        error = failures[0].value
        assert isinstance(error, StatusError) and error.code == 500
        assert error.message.startswith("Internal error occurred: error dialing backend: ")

"""Service-account JWTs, the generated certificates, client-certificate verification and token files."""

import asyncio
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from kapiserver.auth import authn, certs, jwt


def test_jwt_round_trip_rsa_and_ecdsa():
    """Tokens signed with RSA or ECDSA verify with the matching public key and no other."""
    for key in (certs.new_key(), ec.generate_private_key(ec.SECP256R1())):
        claims = jwt.bound_claims("https://issuer", ["api"], "team", "robot", "uid-1", 600, now=1000)
        token = jwt.sign(claims, key)
        assert jwt.verify(token, [key.public_key()]) == claims
        assert jwt.verify(token, [certs.new_key().public_key()]) is None
        head, body, signature = token.split(".")
        assert jwt.verify(f"{head}.{body}x.{signature}", [key.public_key()]) is None


def test_bound_claims():
    """Bound tokens carry upstream's claims: sub, aud, exp = iat + seconds, the kubernetes.io claim."""
    claims = jwt.bound_claims("iss", ["a"], "ns", "sa", "u", 3600, pod={"name": "p", "uid": "pu"}, now=10)
    assert claims["sub"] == "system:serviceaccount:ns:sa" and claims["aud"] == ["a"]
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (10, 10, 3610)
    assert claims["kubernetes.io"] == {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "u"},
                                       "pod": {"name": "p", "uid": "pu"}}
    # What else a token is bound to (a pod's node, a secret, a node), each uid left out when empty, and the
    # warning time of an extended token, keyed in the sorted order go-jose writes.
    claims = jwt.bound_claims("iss", ["a"], "ns", "sa", "", 3600, now=10, pod={"name": "p", "uid": "pu"},
                              node={"name": "n", "uid": ""}, warn_after=3607)
    assert list(claims["kubernetes.io"].items()) == [
        ("namespace", "ns"), ("node", {"name": "n"}), ("pod", {"name": "p", "uid": "pu"}),
        ("serviceaccount", {"name": "sa"}), ("warnafter", 3617)]
    claims = jwt.bound_claims("iss", ["a"], "ns", "sa", "u", 3600, now=10, secret={"name": "s", "uid": "su"})
    assert claims["kubernetes.io"]["secret"] == {"name": "s", "uid": "su"}


def test_service_account_authentication_checks_expiry_and_issuer():
    """A valid token is the service account; expired tokens and foreign issuers are nobody."""
    key = certs.new_key()
    sa = authn.ServiceAccountTokens([key.public_key()], key, ["iss"], ["iss"], lookup=False)
    authenticator = authn.Authenticator(service_accounts=sa, clock=lambda: 5000)
    good = jwt.sign(jwt.bound_claims("iss", ["iss"], "ns", "robot", "u", 3600, now=4000), key)
    user = asyncio.run(authenticator.authenticate_token(good))
    assert user.name == "system:serviceaccount:ns:robot"
    assert user.groups == ["system:serviceaccounts", "system:serviceaccounts:ns"]
    expired = jwt.sign(jwt.bound_claims("iss", ["iss"], "ns", "robot", "u", 600, now=1000), key)
    assert asyncio.run(authenticator.authenticate_token(expired)) is None
    foreign = jwt.sign(jwt.bound_claims("other", ["iss"], "ns", "robot", "u", 3600, now=4000), key)
    assert asyncio.run(authenticator.authenticate_token(foreign)) is None
    wrong_audience = jwt.sign(jwt.bound_claims("iss", ["elsewhere"], "ns", "robot", "u", 3600, now=4000), key)
    assert asyncio.run(authenticator.authenticate_token(wrong_audience)) is None


def test_self_signed_certificates(tmp_path):
    """The generated serving certificate covers the hosts and is kept across restarts; the CA too."""
    hosts = certs.serving_hosts("10.1.2.3", "10.0.0.1")
    paths = certs.ensure_self_signed(str(tmp_path), hosts)
    cert = certs.load_certificates(str(paths[2]))[0]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes.default.svc"} <= set(names.get_values_for_type(x509.DNSName))
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"10.1.2.3", "10.0.0.1", "127.0.0.1"}
    before = paths[2].read_bytes()
    certs.ensure_self_signed(str(tmp_path), hosts)
    assert paths[2].read_bytes() == before
    ca_before = paths[0].read_bytes()
    certs.ensure_self_signed(str(tmp_path), certs.serving_hosts("10.9.9.9", "10.0.0.1"))
    assert paths[2].read_bytes() != before and paths[0].read_bytes() == ca_before
    assert (paths[1].stat().st_mode & 0o777) == 0o600


def _strict_handshake(cert_file: str, key_file: str, ca_pem: bytes, host: str = "localhost") -> None:
    """A TLS handshake in memory between a server with these files and a client that trusts ``ca_pem`` and
    verifies in X.509 strict mode, as Python 3.13's default context does (raises SSLError if it refuses)."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cadata=ca_pem.decode())
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    pipes = [(ssl.MemoryBIO(), ssl.MemoryBIO()) for _ in range(2)]
    client = client_context.wrap_bio(pipes[0][0], pipes[0][1], server_hostname=host)
    server = server_context.wrap_bio(pipes[1][0], pipes[1][1], server_side=True)
    done = [False, False]
    for _ in range(10):
        for i, end in enumerate((client, server)):
            if not done[i]:
                try:
                    end.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
        pipes[1][0].write(pipes[0][1].read())
        pipes[0][0].write(pipes[1][1].read())
        if all(done):
            return
    raise AssertionError("the handshake did not finish")


def without_authority_key_identifier(cert_pem: bytes, ca_key) -> bytes:
    """The certificate as a start before this server wrote Authority Key Identifiers issued it."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    builder = x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer) \
        .public_key(cert.public_key()).serial_number(cert.serial_number) \
        .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc)
    for extension in cert.extensions:
        if not isinstance(extension.value, x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(extension.value, extension.critical)
    return certs.cert_pem(builder.sign(ca_key, hashes.SHA256()))


def test_issued_certificates_pass_strict_verification(tmp_path):
    """The serving certificate names its CA's key (Authority Key Identifier), which X.509 strict verification
    (Python 3.13's default TLS context: the Python clients', httpx's, aiohttp's) requires; one issued before
    that, without it, is reissued at the next start, the CA kept."""
    ca_path, ca_key_path, cert_path, key_path = certs.ensure_self_signed(
        str(tmp_path), certs.serving_hosts("10.1.2.3", "10.0.0.1"))
    _strict_handshake(str(cert_path), str(key_path), ca_path.read_bytes())
    ca = certs.load_certificates(str(ca_path))[0]
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    leaf = certs.load_certificates(str(cert_path))[0]
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest

    cert_path.write_bytes(without_authority_key_identifier(certs.cert_pem(leaf), certs.load_key(str(ca_key_path)))
                          + ca_path.read_bytes())
    with pytest.raises(ssl.SSLError, match="Authority Key Identifier"):
        _strict_handshake(str(cert_path), str(key_path), ca_path.read_bytes())
    ca_before = ca_path.read_bytes()
    certs.ensure_self_signed(str(tmp_path), certs.serving_hosts("10.1.2.3", "10.0.0.1"))
    assert ca_path.read_bytes() == ca_before
    _strict_handshake(str(cert_path), str(key_path), ca_before)


def test_client_certificate_verification():
    """Client certificates must come from a trusted CA and be for client auth; CN and O become the user."""
    ca, ca_key = certs.new_ca("ca")
    client, _ = certs.sign_certificate(ca, ca_key, "carol", ["qa"], client=True)
    assert certs.verify_client_certificate(client, [ca]) is None
    other, other_key = certs.new_ca("ca")  # same subject, different key
    assert certs.verify_client_certificate(client, [other]) == "x509: certificate signed by unknown authority"
    server, _ = certs.sign_certificate(ca, ca_key, "srv", hosts=["localhost"])
    assert "incompatible key usage" in certs.verify_client_certificate(server, [ca])
    user = authn.user_from_certificate(client)
    assert (user.name, user.groups) == ("carol", ["qa"])
    assert user.extra[authn.CREDENTIAL_ID][0].startswith("X509SHA256=")


def test_a_certificates_user_is_read_once_and_each_request_gets_its_own():
    """CN, O and the credential id are read once per certificate; every request gets a UserInfo of its own (what
    one request's handling does to it never reaches another's)."""
    ca, ca_key = certs.new_ca("ca")
    erin, _ = certs.sign_certificate(ca, ca_key, "erin", ["dev", "ops"], client=True)
    frank, _ = certs.sign_certificate(ca, ca_key, "frank", client=True)
    before = authn._certificate_identity.cache_info()
    first = authn.user_from_certificate(erin)
    first.groups.append("system:authenticated")
    again = authn.user_from_certificate(erin)
    after = authn._certificate_identity.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert (again.name, again.groups) == ("erin", ["dev", "ops"]) and again is not first
    assert again.extra == {authn.CREDENTIAL_ID: first.extra[authn.CREDENTIAL_ID]}
    other = authn.user_from_certificate(frank)
    assert (other.name, other.groups) == ("frank", [])
    assert other.extra[authn.CREDENTIAL_ID] != again.extra[authn.CREDENTIAL_ID]


def test_a_certificates_signature_is_checked_once_and_its_validity_at_every_request():
    """The issuer's signature is remembered per (certificate, roots); the validity period is not: a certificate
    that expires while its client stays connected is refused from then on."""
    import datetime
    ca, ca_key = certs.new_ca("ca")
    client, _ = certs.sign_certificate(ca, ca_key, "dave", client=True, days=1)
    before = certs._chain_error.cache_info()
    assert certs.verify_client_certificate(client, [ca]) is None
    assert certs.verify_client_certificate(client, [ca]) is None
    after = certs._chain_error.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    later = client.not_valid_after_utc + datetime.timedelta(seconds=1)
    assert certs.verify_client_certificate(client, [ca], now=later) == \
        "x509: certificate has expired or is not yet valid"
    other, _ = certs.new_ca("ca")
    assert certs.verify_client_certificate(client, [other]) == "x509: certificate signed by unknown authority"

def test_token_file(tmp_path):
    """token,user,uid,"groups" lines; short lines are refused with their line number."""
    path = tmp_path / "tokens.csv"
    path.write_text('t1,alice,1,"a,b"\n\nt2,bob,2\n')
    users = authn.read_user_csv(str(path), "token")
    assert (users["t1"].name, users["t1"].groups, users["t2"].groups) == ("alice", ["a", "b"], [])
    path.write_text("t1,alice\n")
    with pytest.raises(ValueError, match="line 1"):
        authn.read_user_csv(str(path), "token")

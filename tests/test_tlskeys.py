"""TLS contexts made from PEM files hand pyOpenSSL cryptography's objects, never its deprecated X509 and PKey
(whose use in Context.use_certificate/use_privatekey pyOpenSSL warns it will drop)."""

from __future__ import annotations

import datetime
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from twisted.internet import ssl

from kapiserver.auth.tls import serving_options
from kapiserver.client.kubeconfig import KubeconfigTLS
from kapiserver.tlskeys import certificate_options


def _pair(name: str, key, issuer=None, issuer_key=None, ca: bool = False):
    """A certificate for ``key`` (self-signed without an issuer); ``ca``: a CA's (basic constraints)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
               .not_valid_after(now + datetime.timedelta(days=1)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key, form) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


@pytest.mark.parametrize("key, form", [
    (rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL),   # RSA PRIVATE KEY
    (ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.TraditionalOpenSSL),  # EC PRIVATE KEY
    (ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8),               # PRIVATE KEY
])
def test_certificate_options_load_every_pem_key_form(key, form):
    cert = _pair("leaf", key)
    options = certificate_options(_pem(cert), _key_pem(key, form))
    assert options["certificate"] == cert
    assert options["privateKey"].public_key().public_numbers() == key.public_key().public_numbers()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        ssl.CertificateOptions(**options).getContext()      # the key matches the certificate (check_privatekey)


def test_certificate_options_refuse_what_is_not_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ValueError):
        certificate_options(b"not a certificate", _key_pem(key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(ValueError):
        certificate_options(_pem(_pair("leaf", key)), b"not a key")


def test_serving_options_carry_the_chain_without_deprecated_objects(tmp_path):
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _pair("ca", ca_key)
    leaf = _pair("leaf", leaf_key, ca, ca_key)
    (tmp_path / "tls.crt").write_bytes(_pem(leaf) + _pem(ca))
    (tmp_path / "tls.key").write_bytes(_key_pem(leaf_key, serialization.PrivateFormat.PKCS8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        options = serving_options(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))
        options.getContext()
        KubeconfigTLS(_pem(ca), _pem(leaf), _key_pem(leaf_key, serialization.PrivateFormat.PKCS8),
                      insecure=False).creatorForNetloc(b"leaf", 443)
    assert options.certificate == leaf and options.extraCertChain == [ca]
    (tmp_path / "empty.crt").write_bytes(b"")
    with pytest.raises(ValueError):
        serving_options(str(tmp_path / "empty.crt"), str(tmp_path / "tls.key"))


def test_certificate_options_send_the_chain_after_the_leaf():
    """A client certificate file holding the leaf and its intermediate: the leaf is the certificate, the
    intermediate goes along (as Go's tls.X509KeyPair sends the whole chain)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _pair("intermediate", ca_key, ca=True)
    leaf = _pair("client", key, issuer=ca, issuer_key=ca_key)
    options = certificate_options(_pem(leaf) + _pem(ca), _key_pem(key, serialization.PrivateFormat.PKCS8))
    assert options["certificate"] == leaf and options["extraCertChain"] == [ca]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        ssl.CertificateOptions(**options).getContext()


def test_trust_root_trusts_every_ca_of_a_bundle():
    """A CA file of two CAs (one being rotated out): a server certificate signed by either is trusted, in
    either order of the bundle; one signed by neither is not."""
    from OpenSSL import SSL, crypto

    from kapiserver.tlskeys import trust_root

    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    one, two, other = (_pair(name, k, ca=True) for name, k in zip(("one", "two", "other"), keys))
    server_key = ec.generate_private_key(ec.SECP256R1())

    def verifies(bundle: bytes, issuer, issuer_key) -> bool:
        context = SSL.Context(SSL.TLS_METHOD)
        trust_root(bundle)._addCACertsToContext(context)
        leaf = _pair("server", server_key, issuer=issuer, issuer_key=issuer_key)
        try:
            crypto.X509StoreContext(context.get_cert_store(), crypto.X509.from_cryptography(leaf)).verify_certificate()
        except crypto.X509StoreContextError:
            return False
        return True

    for bundle in (_pem(one) + _pem(two), _pem(two) + _pem(one)):
        assert verifies(bundle, one, keys[0]) and verifies(bundle, two, keys[1])
        assert not verifies(bundle, other, keys[2])
    with pytest.raises(ValueError):
        trust_root(b"no certificate here")


def test_client_files_are_read_in_a_thread_and_again_after_five_minutes(tmp_path):
    """A client's certificate files are read off the reactor thread, kept, and read again once five minutes
    have passed (client-go's reload of a client certificate file): a rotated certificate is then used."""
    from twisted.internet.defer import Deferred

    from kapiserver.tlskeys import ClientFiles
    from tests.inline_threads import InlineThreadsClock

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _pair("ca", ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.PrivateFormat.PKCS8
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, pem,
                                                         serialization.NoEncryption()))
    first, second = _pair("first", key, ca, ca_key), _pair("second", key, ca, ca_key)
    (tmp_path / "tls.crt").write_bytes(first.public_bytes(serialization.Encoding.PEM))
    files = ClientFiles(str(tmp_path / "ca.crt"), str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))
    reactor = InlineThreadsClock()

    def material():
        out = []
        Deferred.fromCoroutine(files.material(reactor)).addCallback(out.append)
        return out[0]

    trust, client = material()
    assert trust is not None and client["certificate"] == first and reactor.thread_calls == 1
    (tmp_path / "tls.crt").write_bytes(second.public_bytes(serialization.Encoding.PEM))
    reactor.advance(ClientFiles.RELOAD_SECONDS - 1)
    assert material()[1]["certificate"] == first and reactor.thread_calls == 1
    reactor.advance(1)
    assert material()[1]["certificate"] == second and reactor.thread_calls == 2
    assert ClientFiles().read() == (None, {})


def test_client_files_read_once_for_callers_that_come_while_it_is_under_way(tmp_path):
    """Connections that want the files while a read is under way share that read's answer (or its error);
    a later caller after an error tries again."""
    from twisted.internet.defer import Deferred

    from kapiserver.tlskeys import ClientFiles
    from tests.inline_threads import HeldThreadsClock

    ca_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ca.crt").write_bytes(_pair("ca", ca_key).public_bytes(serialization.Encoding.PEM))
    files = ClientFiles(str(tmp_path / "ca.crt"))
    reactor = HeldThreadsClock()
    answers, errors = [], []
    for _ in range(3):
        Deferred.fromCoroutine(files.material(reactor)).addCallbacks(answers.append, errors.append)
    assert reactor.run_held() == 1 and not reactor.held
    assert len(answers) == 3 and answers[0][0] is not None and answers[0] is answers[1] is answers[2]

    missing = ClientFiles(str(tmp_path / "none.crt"))
    for _ in range(2):
        Deferred.fromCoroutine(missing.material(reactor)).addCallbacks(answers.append, errors.append)
    assert reactor.run_held() == 1
    assert len(errors) == 2 and all(e.check(FileNotFoundError) for e in errors)
    Deferred.fromCoroutine(missing.material(reactor)).addCallbacks(answers.append, errors.append)
    assert reactor.run_held() == 1 and len(errors) == 3

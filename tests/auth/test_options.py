"""The security flags as kube-apiserver parses them."""

import pytest
from twisted.python import usage

from kapiserver.tap import Options


def parse(*args):
    options = Options()
    options.parseOptions(["--data-dir=/tmp/x", *args])
    return options.server_config.security


def error(*args):
    with pytest.raises(usage.UsageError) as info:
        parse(*args)
    return str(info.value)


def test_anonymous_turned_off_by_always_allow():
    """As upstream, AlwaysAllow turns anonymous requests off; RBAC keeps them."""
    assert parse().anonymous_auth is False
    assert parse("--authorization-mode=RBAC").anonymous_auth is True
    assert parse("--authorization-mode=RBAC", "--anonymous-auth=false").anonymous_auth is False


def test_cert_dir_defaults_under_data_dir():
    """Generated certificates go to pki under --data-dir unless --cert-dir says otherwise."""
    assert parse().cert_dir == "/tmp/x/pki"
    assert parse("--cert-dir=/tmp/certs").cert_dir == "/tmp/certs"


def test_lists_accumulate():
    """--authorization-mode and --service-account-issuer are comma lists that may be repeated."""
    config = parse("--authorization-mode=Node", "--authorization-mode=RBAC", "--service-account-issuer=a,b")
    assert config.authorization_modes == ("Node", "RBAC") and config.service_account_issuers == ("a", "b")


@pytest.mark.parametrize("args, fragment", [
    (("--authorization-mode=Magic",), "authorization-mode 'Magic' is not a valid mode"),
    (("--authorization-mode=ABAC",), "needs --authorization-policy-file"),
    (("--tls-min-version=VersionTLS99",), "unknown tls version"),
    (("--tls-cipher-suites=TLS_NOPE",), "Cipher suite TLS_NOPE not supported or doesn't exist"),
    (("--enable-admission-plugins=Bogus",), 'enable-admission-plugins plugin "Bogus" is unknown'),
    (("--token-auth-file=/nonexistent/tokens",), "no such file"),
    (("--anonymous-auth=maybe",), 'invalid argument "maybe" for "--anonymous-auth" flag'),
])
def test_bad_values_are_refused(args, fragment):
    """Unusable security flags are refused at start-up, naming the flag."""
    assert fragment in error(*args)

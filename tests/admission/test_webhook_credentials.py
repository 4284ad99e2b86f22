"""WebhookAdmissionConfiguration: the kubeconfig users whose credentials admission webhooks are called with."""

from __future__ import annotations

import base64
import json

import pytest

from kapiserver.admission.config import AdmissionConfigError
from kapiserver.admission.webhooks import AdmissionWebhooks, credentials_for, parse_configuration, webhook_target

from .conftest import FakeRegistry


def kubeconfig(tmp_path, users: dict, current=None) -> str:
    document = {"apiVersion": "v1", "kind": "Config",
                "users": [{"name": name, "user": user} for name, user in users.items()]}
    if current:
        document["contexts"] = [{"name": "c", "context": {"cluster": "x", "user": current}}]
        document["current-context"] = "c"
    path = tmp_path / "webhooks.kubeconfig"
    path.write_text(json.dumps(document))
    return str(path)


def configuration(path: str, kind="WebhookAdmissionConfiguration") -> dict:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": kind, "kubeConfigFile": path}


def test_lookup_order(tmp_path):
    """Exact host:port first, then *.suffix wildcards, then the name without :443, then *."""
    parsed = parse_configuration(configuration(kubeconfig(tmp_path, {
        "hook.team.svc:8443": {"token": "exact"}, "*.team.svc:8443": {"token": "wild-port"},
        "*.svc": {"token": "any-service"}, "10.0.0.1": {"token": "no-port"}, "*": {"token": "default"}})))
    assert credentials_for(parsed, "hook.team.svc:8443")["token"] == "exact"
    assert credentials_for(parsed, "other.team.svc:8443")["token"] == "wild-port"
    assert credentials_for(parsed, "other.ns.svc:443")["token"] == "any-service"
    assert credentials_for(parsed, "10.0.0.1:443")["token"] == "no-port"
    assert credentials_for(parsed, "10.0.0.1:8443")["token"] == "default"


def test_current_context_then_anonymous(tmp_path):
    """With no name matching and no *, the current context's user is used; without one, no credentials."""
    parsed = parse_configuration(configuration(kubeconfig(tmp_path, {"me": {"token": "t"}}, current="me")))
    assert credentials_for(parsed, "elsewhere:443") == {"token": "t"}
    assert credentials_for(parse_configuration(configuration(kubeconfig(tmp_path, {"x": {}}))), "h:443") == {}
    assert credentials_for(None, "h:443") == {}


def test_webhook_target_defaults_the_port():
    """A URL without a port is host:443; a service URL keeps its port."""
    assert webhook_target("https://hooks.example.com/validate") == "hooks.example.com:443"
    assert webhook_target("https://hook.team.svc:8443/x") == "hook.team.svc:8443"


def test_clients_carry_the_credentials(tmp_path):
    """The client built for a webhook presents the matching user's token, basic auth or certificate."""
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "client.crt").write_bytes(pem)
    parsed = parse_configuration(configuration(kubeconfig(tmp_path, {
        "token.example.com:443": {"token": "secret"},
        "basic.example.com:443": {"username": "u", "password": "p"},
        "cert.example.com:443": {"client-certificate": "client.crt",
                                 "client-key-data": base64.b64encode(b"KEY").decode()}})))
    hooks = AdmissionWebhooks(FakeRegistry())
    validating = hooks.validating.configure(parsed)
    assert validating._client({"url": "https://token.example.com/v"}).token == "secret"
    assert validating._client({"url": "https://basic.example.com/v"}).basic_auth == ("u", "p")
    captured = {}
    import kapiserver.auth.webhook as webhook_module
    original = webhook_module.WebhookClient.__init__

    def spy(self, url, ca_pem=None, client_cert=None, client_key=None, **kwargs):
        captured.update(cert=client_cert, key=client_key)
        original(self, url, ca_pem, None, None, **kwargs)
    webhook_module.WebhookClient.__init__ = spy
    try:
        validating._client({"url": "https://cert.example.com/v"})
    finally:
        webhook_module.WebhookClient.__init__ = original
    assert captured == {"cert": pem, "key": b"KEY"}
    assert hooks.mutating._client({"url": "https://token.example.com/v"}).token == ""  # its own configuration


@pytest.mark.parametrize("make, message", [
    (lambda tmp: configuration("relative.kubeconfig"),
     'kubeConfigFile: Invalid value: "relative.kubeconfig": must be an absolute file path'),
    (lambda tmp: configuration(str(tmp / "missing")), "stat {tmp}/missing: no such file or directory"),
    (lambda tmp: configuration("/x", kind="Other"), 'no kind "Other" is registered for version '
                                                   '"apiserver.config.k8s.io/v1"'),
])
def test_invalid_configurations(tmp_path, make, message):
    """A relative or missing kubeConfigFile and an unknown kind are refused at startup."""
    with pytest.raises(AdmissionConfigError) as info:
        parse_configuration(make(tmp_path))
    assert str(info.value).startswith(message.format(tmp=tmp_path))


def test_files_are_read_when_the_configuration_is(tmp_path):
    """tokenFile and certificate files are read at startup (relative to the kubeconfig), so calling a
    webhook reads no file; a file that is missing stops startup."""
    (tmp_path / "hook.token").write_text("from-file\n")
    parsed = parse_configuration(configuration(kubeconfig(tmp_path, {"*": {"tokenFile": "hook.token"}})))
    (tmp_path / "hook.token").unlink()
    assert credentials_for(parsed, "any:443") == {"token": "from-file"}
    with pytest.raises(AdmissionConfigError) as info:
        parse_configuration(configuration(kubeconfig(tmp_path, {"*": {"tokenFile": "hook.token"}})))
    assert str(info.value) == f"open {tmp_path}/hook.token: no such file or directory"

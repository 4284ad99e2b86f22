"""The cluster's CA, certificates and kubeconfigs in --data-dir."""

from __future__ import annotations

import json

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kapiserver.auth import certs
from kapiserver.cluster import pki
from tests.auth.test_tokens_and_certs import without_authority_key_identifier

SERVER = "https://127.0.0.1:6443"


def user_of(path):
    """(CN, [O...], issuer) of the client certificate in the kubeconfig at `path`."""
    server, ca, cert_pem, key_pem = pki.read_kubeconfig(path)
    cert = x509.load_pem_x509_certificate(cert_pem)
    identity = pki.identity_of(cert)
    key = serialization.load_pem_private_key(key_pem, None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    return identity.user, list(identity.groups), cert.issuer


def test_each_kubeconfig_carries_its_component_identity(tmp_path):
    """admin is kubernetes-admin in system:masters; the controller manager and scheduler are their system users;
    node-i is system:node:node-i in system:nodes; every certificate is signed by the cluster CA."""
    files = pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1", "node-2"])
    ca = certs.load_certificates(str(files.ca_cert))[0]
    assert user_of(files.admin) == ("kubernetes-admin", ["system:masters"], ca.subject)
    assert user_of(files.controller_manager) == ("system:kube-controller-manager", [], ca.subject)
    assert user_of(files.scheduler) == ("system:kube-scheduler", [], ca.subject)
    assert user_of(files.nodes["node-1"]) == ("system:node:node-1", ["system:nodes"], ca.subject)
    assert user_of(files.nodes["node-2"]) == ("system:node:node-2", ["system:nodes"], ca.subject)
    assert files.admin == tmp_path / "admin.kubeconfig"
    config = json.loads(files.admin.read_text())
    assert config["clusters"][0]["cluster"]["server"] == SERVER
    assert (files.admin.stat().st_mode & 0o077) == 0, "credentials are readable by their owner only"
    for path in [files.controller_manager, files.scheduler, *files.nodes.values()]:
        assert certs.verify_client_certificate(
            x509.load_pem_x509_certificate(pki.read_kubeconfig(path)[2]), [ca]) is None


def test_the_apiserver_files_verify_against_the_ca(tmp_path):
    """The serving certificate covers 127.0.0.1 and the kubernetes Service's names; the kubelet client
    certificate is the apiserver's, in system:masters; sa.pub is sa.key's public half."""
    files = pki.ensure_cluster_pki(tmp_path, SERVER, [])
    serving = certs.load_certificates(str(files.serving_cert))[0]
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", pki.SERVICE_IP}
    kubelet_client = certs.load_certificates(str(files.kubelet_client_cert))[0]
    assert pki.identity_of(kubelet_client) == pki.KUBELET_CLIENT
    public = certs.load_key(str(files.sa_key)).public_key()
    assert serialization.load_pem_public_key(files.sa_pub.read_bytes()).public_numbers() == \
        public.public_numbers()


def test_a_restart_keeps_every_key_and_certificate(tmp_path):
    """Made again over an existing data dir, nothing changes: same CA, same keys, same kubeconfig files."""
    first = pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    second = pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    after = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert first == second
    assert before == after


def test_a_new_port_rewrites_only_the_server(tmp_path):
    """With another apiserver port, each kubeconfig names the new server but keeps its credentials."""
    files = pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    before = pki.read_kubeconfig(files.nodes["node-1"])
    pki.ensure_cluster_pki(tmp_path, "https://127.0.0.1:7443", ["node-1"])
    after = pki.read_kubeconfig(files.nodes["node-1"])
    assert after[0] == "https://127.0.0.1:7443"
    assert after[1:] == before[1:]


def test_a_foreign_or_damaged_kubeconfig_is_issued_anew(tmp_path):
    """A kubeconfig whose certificate is for someone else, or that cannot be read, gets new credentials."""
    files = pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    admin = pki.read_kubeconfig(files.admin)
    files.scheduler.write_bytes(files.admin.read_bytes())          # the admin's credentials, wrongly placed
    files.nodes["node-1"].write_text("{not json")
    pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    assert user_of(files.scheduler)[:2] == ("system:kube-scheduler", [])
    assert user_of(files.nodes["node-1"])[:2] == ("system:node:node-1", ["system:nodes"])
    assert pki.read_kubeconfig(files.admin) == admin


def test_every_certificate_names_its_authority_and_older_ones_are_issued_anew(tmp_path):
    """Each certificate carries the CA's key identifier (X.509 strict verifiers, Python 3.13's default, refuse
    one without); a kubeconfig's or the kubelet client's certificate from before that is issued anew, the
    CA kept."""
    files = pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    ca = certs.load_certificates(str(files.ca_cert))[0]
    ca_key = certs.load_key(str(files.ca_key))
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def authority(cert_pem: bytes) -> bytes:
        cert = x509.load_pem_x509_certificate(cert_pem)
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    kubeconfigs = [files.admin, files.controller_manager, files.scheduler, files.nodes["node-1"]]
    for path in kubeconfigs:
        assert authority(pki.read_kubeconfig(path)[2]) == ski
    for path in (files.serving_cert, files.kubelet_client_cert):
        assert authority(path.read_bytes()) == ski

    server, ca_pem, cert_pem, key_pem = pki.read_kubeconfig(files.scheduler)
    certs.write_kubeconfig(str(files.scheduler), server, ca_pem, without_authority_key_identifier(cert_pem, ca_key),
                           key_pem, "system:kube-scheduler")
    files.kubelet_client_cert.write_bytes(
        without_authority_key_identifier(files.kubelet_client_cert.read_bytes(), ca_key))
    ca_before = files.ca_cert.read_bytes()
    pki.ensure_cluster_pki(tmp_path, SERVER, ["node-1"])
    assert authority(pki.read_kubeconfig(files.scheduler)[2]) == ski
    assert authority(files.kubelet_client_cert.read_bytes()) == ski
    assert user_of(files.scheduler)[:2] == ("system:kube-scheduler", [])
    assert files.ca_cert.read_bytes() == ca_before

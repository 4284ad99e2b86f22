"""
The secure port end to end: kubectl over TLS with the generated admin
kubeconfig, client certificates, static tokens and service-account tokens;
RBAC denying what was not granted, with upstream's messages; impersonation;
the audit log.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request

import pytest

from kapiserver.auth import certs

from tests.conformance.support import default_service_account

from .conftest import APIServerProcess, Kubectl, free_port, kubectl_binary

TOKENS = 'admin-token,root,1,"system:masters"\nbob-token,bob,2,"devs"\nalice-token,alice,3\n'


class SecureServer:
    def __init__(self, server: APIServerProcess, port: int, home):
        self.server, self.port, self.home = server, port, home
        self.url = f"https://127.0.0.1:{port}"
        self.admin = json.loads((server.data_dir / "admin.kubeconfig").read_text())
        self.ca_pem = base64.b64decode(self.admin["clusters"][0]["cluster"]["certificate-authority-data"])

    def kubeconfig(self, name: str, user: dict) -> Kubectl:
        """A kubectl whose kubeconfig trusts the generated CA and presents ``user``."""
        home = self.home / name
        home.mkdir(exist_ok=True)
        k = Kubectl(kubectl_binary(), self.server, home)
        k.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "k",
            "clusters": [{"name": "k", "cluster": {"server": self.url, "certificate-authority-data":
                                                   base64.b64encode(self.ca_pem).decode()}}],
            "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
            "users": [{"name": "u", "user": user}]}))
        return k

    def request(self, method: str, path: str, token: str = "", body=None):
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = json.dumps(body).encode() if body is not None else None
        if data:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=context, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    if not kubectl_binary():
        pytest.skip("kubectl is not installed on this machine")
    base = tmp_path_factory.mktemp("secure")
    (base / "tokens.csv").write_text(TOKENS)
    port = free_port()
    server = APIServerProcess(base / "data", args=(
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--authorization-mode=Node,RBAC",
        f"--token-auth-file={base / 'tokens.csv'}", f"--audit-log-path={base / 'audit.log'}",
        "--enable-admission-plugins=NodeRestriction")).start()
    yield SecureServer(server, port, base)
    server.stop()


@pytest.fixture(scope="module")
def admin(secure):
    home = secure.home / "admin"
    home.mkdir()
    k = Kubectl(kubectl_binary(), secure.server, home)
    k.kubeconfig.write_text((secure.server.data_dir / "admin.kubeconfig").read_text())
    k("create", "namespace", "team")
    k("create", "role", "pod-reader", "-n", "team", "--verb=get,list,watch", "--resource=pods")
    k("create", "rolebinding", "bob-reads-pods", "-n", "team", "--role=pod-reader", "--user=bob")
    return k


@pytest.fixture(scope="module")
def bob(secure, admin):
    return secure.kubeconfig("bob", {"token": "bob-token"})


def test_admin_kubeconfig_works_over_tls(admin):
    """The generated admin.kubeconfig reaches the secure port and is system:masters by its certificate."""
    assert "team" in admin("get", "ns").stdout
    who = admin("auth", "whoami", "-o", "json")
    user = json.loads(who.stdout)["status"]["userInfo"]
    assert user["username"] == "kubernetes-admin"
    assert user["groups"] == ["system:masters", "system:authenticated"]


def test_bad_token_is_401_and_no_credentials_is_anonymous(secure, admin):
    """A token nobody knows is 401 Unauthorized; no credentials is system:anonymous, forbidden by RBAC."""
    code, status = secure.request("GET", "/api/v1/namespaces", token="nope")
    assert (code, status["reason"], status["message"]) == (401, "Unauthorized", "Unauthorized")
    code, status = secure.request("GET", "/api/v1/namespaces")
    assert code == 403
    assert status["message"] == ('namespaces is forbidden: User "system:anonymous" cannot list resource '
                                 '"namespaces" in API group "" at the cluster scope')
    assert secure.request("GET", "/version")[0] == 200


def test_rbac_matrix(bob):
    """bob may read pods in team only: not secrets there, not pods elsewhere, not namespaces."""
    assert bob("get", "pods", "-n", "team").returncode == 0
    denied = bob("get", "secrets", "-n", "team", check=False)
    assert denied.returncode != 0
    assert ('secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the '
            'namespace "team"') in denied.stderr
    denied = bob("get", "pods", "-n", "default", check=False)
    assert 'User "bob" cannot list resource "pods" in API group "" in the namespace "default"' in denied.stderr
    denied = bob("get", "namespaces", check=False)
    assert 'cannot list resource "namespaces" in API group "" at the cluster scope' in denied.stderr


def test_rbac_forbids_escalation(bob, admin):
    """bob cannot bind himself to edit, nor write a role with more than he holds; can-i tells the truth."""
    denied = bob("create", "rolebinding", "mine", "-n", "team", "--clusterrole=edit", "--user=bob", check=False)
    assert denied.returncode != 0 and "rolebindings" in denied.stderr
    admin("create", "role", "role-writer", "-n", "team", "--verb=create,get",
          "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io")
    admin("create", "rolebinding", "bob-writes-roles", "-n", "team", "--role=role-writer", "--user=bob")
    denied = bob("create", "role", "more", "-n", "team", "--verb=get", "--resource=secrets", check=False)
    assert ('roles.rbac.authorization.k8s.io "more" is forbidden: user "bob" (groups=["devs" '
            '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}') in denied.stderr
    # A role within what bob holds is fine.
    bob("create", "role", "less", "-n", "team", "--verb=get", "--resource=pods")
    assert bob("auth", "can-i", "list", "pods", "-n", "team").stdout.strip() == "yes"
    no = bob("auth", "can-i", "get", "secrets", "-n", "team", check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    rules = bob("auth", "can-i", "--list", "-n", "team").stdout
    assert "pods" in rules and "secrets" not in rules


def test_static_token_user_and_groups(secure):
    """A --token-auth-file user is its name, uid and groups plus system:authenticated."""
    who = json.loads(secure.kubeconfig("root", {"token": "admin-token"})("auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"] == {"username": "root", "uid": "1",
                                         "groups": ["system:masters", "system:authenticated"]}


def test_client_certificate_users(secure, tmp_path):
    """A certificate from the CA is its CN and O groups; one from another CA is 401."""
    ca_cert = certs.load_certificates(str(secure.server.data_dir / "pki" / "ca.crt"))[0]
    ca_key = certs.load_key(str(secure.server.data_dir / "pki" / "ca.key"))
    cert, key = certs.sign_certificate(ca_cert, ca_key, "carol", ["qa", "ops"], client=True)
    carol = secure.kubeconfig("carol", {
        "client-certificate-data": base64.b64encode(certs.cert_pem(cert)).decode(),
        "client-key-data": base64.b64encode(certs.key_pem(key)).decode()})
    user = json.loads(carol("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert (user["username"], user["groups"]) == ("carol", ["qa", "ops", "system:authenticated"])
    other_ca, other_key = certs.new_ca("elsewhere")
    cert, key = certs.sign_certificate(other_ca, other_key, "mallory", ["system:masters"], client=True)
    mallory = secure.kubeconfig("mallory", {
        "client-certificate-data": base64.b64encode(certs.cert_pem(cert)).decode(),
        "client-key-data": base64.b64encode(certs.key_pem(key)).decode()})
    result = mallory("get", "ns", check=False)
    assert result.returncode != 0 and "You must be logged in to the server" in result.stderr


def test_service_account_token(secure, admin):
    """kubectl create token gives a JWT that is the service account; deleting the account revokes it."""
    admin("create", "serviceaccount", "robot", "-n", "team")
    token = admin("create", "token", "robot", "-n", "team").stdout.strip()
    assert token.count(".") == 2
    robot = secure.kubeconfig("robot", {"token": token})
    user = json.loads(robot("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:team:robot"
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]
    denied = robot("get", "pods", "-n", "team", check=False)
    assert 'User "system:serviceaccount:team:robot" cannot list resource "pods"' in denied.stderr
    admin("delete", "serviceaccount", "robot", "-n", "team")
    result = robot("get", "pods", "-n", "team", check=False)
    assert "You must be logged in to the server" in result.stderr


def test_impersonation(admin, bob):
    """kubectl --as acts as the user when impersonation is allowed; bob may not impersonate."""
    assert admin("auth", "whoami", "--as=bob", "-o", "json", check=True).stdout.count('"bob"') == 1
    assert admin("get", "pods", "-n", "team", "--as=bob").returncode == 0
    denied = admin("get", "pods", "-n", "default", "--as=bob", check=False)
    assert 'User "bob" cannot list resource "pods"' in denied.stderr
    # bob's own discovery first (kubectl caches it): as alice even discovery is refused, and kubectl then
    # reports only that ("unknown", as against upstream's apiserver), not the refusal of the request itself.
    assert bob("get", "pods", "-n", "team").returncode == 0
    denied = bob("get", "pods", "-n", "team", "--as=alice", check=False)
    assert ('users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at '
            'the cluster scope') in denied.stderr


def test_insecure_port_still_needs_nothing(secure, admin):
    """The insecure port keeps serving without credentials as system:unsecured."""
    status, body = secure.server.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                         {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert status == 201 and body["status"]["userInfo"]["username"] == "system:unsecured"


def test_audit_log_has_one_event_per_request(secure, admin):
    """Each request on the secure port is one audit Event with its user, verb and code."""
    lines = (secure.home / "audit.log").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert all(e["kind"] == "Event" and e["level"] == "Metadata" for e in events)
    creates = [e for e in events if e["verb"] == "create" and e.get("objectRef", {}).get("name") == "team"
               or (e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "namespaces")]
    assert creates and creates[0]["user"]["username"] == "kubernetes-admin"
    assert creates[0]["responseStatus"]["code"] == 201


def test_every_response_has_an_audit_id_that_its_audit_event_carries(secure, admin):
    """As upstream's audit-init filter: the client's Audit-ID is echoed (else a new UUID is), a 401 has one too,
    and the request's audit Event has it as its auditID."""
    import time
    import uuid
    context = ssl.create_default_context(cadata=secure.ca_pem.decode())

    def audit_id(headers: dict) -> str:
        req = urllib.request.Request(secure.url + "/api/v1/namespaces/team", headers=headers)
        try:
            with urllib.request.urlopen(req, context=context, timeout=10) as response:
                return response.headers["Audit-Id"]
        except urllib.error.HTTPError as e:
            return e.headers["Audit-Id"]
    assert audit_id({"Audit-ID": "mine-1234"}) == "mine-1234"
    assert uuid.UUID(audit_id({})).version == 4
    assert uuid.UUID(audit_id({"Authorization": "Bearer nope"})).version == 4    # 401
    deadline = time.monotonic() + 30
    while not any(json.loads(line)["auditID"] == "mine-1234"
                  for line in (secure.home / "audit.log").read_text().splitlines()):
        assert time.monotonic() < deadline, "no audit event with the request's Audit-ID"
        time.sleep(0.1)


def test_resource_quota_exceeded_is_403(secure, admin):
    """A create past a ResourceQuota's hard limit is 403 in upstream's words; status tracks usage."""
    import time
    admin("create", "namespace", "quoted")
    default_service_account(secure.server, "quoted")    # ServiceAccount admission would refuse the pod first
    admin("create", "quota", "small", "-n", "quoted", "--hard=configmaps=2,requests.cpu=1")
    # The apiserver's embedded root-ca publisher writes kube-root-ca.crt, the namespace's second configmap.
    deadline = time.monotonic() + 30
    while admin("get", "configmap", "kube-root-ca.crt", "-n", "quoted", check=False).returncode != 0:
        assert time.monotonic() < deadline, "kube-root-ca.crt was not published"
        time.sleep(0.1)
    admin("create", "configmap", "one", "-n", "quoted")
    denied = admin("create", "configmap", "three", "-n", "quoted", check=False)
    assert ('configmaps "three" is forbidden: exceeded quota: small, requested: configmaps=1, used: '
            'configmaps=2, limited: configmaps=2') in denied.stderr
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "quoted"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    denied = admin("create", "-f", "-", input=json.dumps(pod), check=False)
    assert 'pods "p" is forbidden: failed quota: small: must specify requests.cpu for: c' in denied.stderr
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1500m"}}
    denied = admin("create", "-f", "-", input=json.dumps(pod), check=False)
    assert ('exceeded quota: small, requested: requests.cpu=1500m, used: requests.cpu=0, limited: '
            'requests.cpu=1') in denied.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = admin.json("get", "quota", "small", "-n", "quoted").get("status") or {}
        if status.get("used", {}).get("configmaps") == "2":
            break
        time.sleep(0.1)
    assert status == {"hard": {"configmaps": "2", "requests.cpu": "1"},
                      "used": {"configmaps": "2", "requests.cpu": "0"}}


def test_limit_range_defaults_and_maximum(secure, admin):
    """Containers take a LimitRange's defaults; a limit above its max is 403 in upstream's words."""
    api = secure.server
    api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "limited"}})
    default_service_account(api, "limited")
    status, _ = api.request("POST", "/api/v1/namespaces/limited/limitranges", {
        "metadata": {"name": "lr"}, "spec": {"limits": [{
            "type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"},
            "max": {"cpu": "1"}}]}})
    assert status == 201
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    status, body = api.request("POST", "/api/v1/namespaces/limited/pods", pod)
    assert status == 201
    assert body["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "250m"}}
    pod["metadata"]["name"] = "big"
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2"}}
    status, body = api.request("POST", "/api/v1/namespaces/limited/pods", pod)
    assert (status, body["message"]) == (403, 'pods "big" is forbidden: maximum cpu usage per Container is 1, '
                                              'but limit is 2')


def test_node_authorizer_and_node_restriction(secure, admin):
    """A kubelet reads only secrets its pods use, and changes only its own Node and mirror pods."""
    api = secure.server
    for name in ("used", "unused"):
        api.request("POST", "/api/v1/namespaces/team/secrets", {"metadata": {"name": name}})
    for name in ("n1", "n2"):
        api.request("POST", "/api/v1/nodes", {"metadata": {"name": name}})
    status, body = api.request("POST", "/api/v1/namespaces/team/pods", {
        "metadata": {"name": "on-n1"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}],
                                                "volumes": [{"name": "v", "secret": {"secretName": "used"}}]}})
    assert status == 201, body
    ca_cert = certs.load_certificates(str(secure.server.data_dir / "pki" / "ca.crt"))[0]
    ca_key = certs.load_key(str(secure.server.data_dir / "pki" / "ca.key"))
    cert, key = certs.sign_certificate(ca_cert, ca_key, "system:node:n1", ["system:nodes"], client=True)
    kubelet = secure.kubeconfig("kubelet", {
        "client-certificate-data": base64.b64encode(certs.cert_pem(cert)).decode(),
        "client-key-data": base64.b64encode(certs.key_pem(key)).decode()})
    assert kubelet("get", "secret", "used", "-n", "team").returncode == 0
    denied = kubelet("get", "secret", "unused", "-n", "team", check=False)
    assert ('secrets "unused" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" '
            "in the namespace \"team\": no relationship found between node 'n1' and this object") in denied.stderr
    assert kubelet("get", "pods", "-A").returncode == 0
    kubelet("label", "node", "n1", "ready=yes")
    denied = kubelet("label", "node", "n2", "ready=yes", check=False)
    assert 'node "n1" is not allowed to modify node "n2"' in denied.stderr
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sneaky", "namespace": "team"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}}
    denied = kubelet("create", "-f", "-", input=json.dumps(pod), check=False)
    assert "node \"n1\" can only create mirror pods" in denied.stderr


APPROVER_RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-writer}
rules:
- apiGroups: [certificates.k8s.io]
  resources: [certificatesigningrequests, certificatesigningrequests/approval]
  verbs: [create, get, list, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-writes-csrs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: csr-writer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
"""
SIGNER_APPROVER_RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: example-approver}
rules:
- apiGroups: [certificates.k8s.io]
  resources: [signers]
  resourceNames: [example.com/*]
  verbs: [approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-approves-example}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: example-approver}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
"""


def test_certificate_approval_needs_approve_on_the_signer(admin, bob):
    """CertificateApproval: approving a CSR needs "approve" on its signer (or its domain's wildcard)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    admin("apply", "-f", "-", input=APPROVER_RBAC)
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "bob")])).sign(ec.generate_private_key(ec.SECP256R1()),
                                                               hashes.SHA256())
    bob("create", "-f", "-", input=json.dumps({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "bobs"},
        "spec": {"request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
                 "signerName": "example.com/signer", "usages": ["client auth"]}}))
    denied = bob("certificate", "approve", "bobs", check=False)
    assert denied.returncode != 0
    assert ('certificatesigningrequests.certificates.k8s.io "bobs" is forbidden: user not permitted to approve '
            'requests with signerName "example.com/signer"') in denied.stderr
    admin("apply", "-f", "-", input=SIGNER_APPROVER_RBAC)
    bob("certificate", "approve", "bobs")
    assert [c["type"] for c in admin.json("get", "csr", "bobs")["status"]["conditions"]] == ["Approved"]

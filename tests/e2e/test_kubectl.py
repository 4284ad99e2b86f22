"""kubectl 1.32 against a running kapiserver: the everyday commands, end to end."""

from __future__ import annotations

import json
import os

import pytest

from tests.cluster.processes import Watched
from tests.conformance.support import default_service_account

from .conftest import APIServerProcess, Kubectl, kubectl_binary
from .manifests import MULTI_KIND


def test_apply_multi_kind_manifest(kubectl):
    """Applying a manifest of many kinds creates each object, and applying again changes nothing."""
    result = kubectl("apply", "-f", "-", input=MULTI_KIND.format(ns="multi"))
    for line in ("namespace/multi created", "deployment.apps/web created", "service/web created",
                 "statefulset.apps/db created", "horizontalpodautoscaler.autoscaling/web created",
                 "storageclass.storage.k8s.io/multi-fast created", "ingress.networking.k8s.io/web created"):
        assert line in result.stdout
    again = kubectl("apply", "-f", "-", input=MULTI_KIND.format(ns="multi"))
    assert "deployment.apps/web unchanged" in again.stdout
    secret = kubectl.json("get", "secret", "creds", "-n", "multi")
    assert secret["data"] == {"password": "aHVudGVyMg=="}
    assert "stringData" not in secret


def test_get_table_wide_yaml_json(kubectl):
    """kubectl get prints upstream's columns, -o wide adds the wide ones, -o yaml/json give the object."""
    kubectl("apply", "-f", "-", input=MULTI_KIND.format(ns="tables"))
    pods = kubectl("get", "pods", "-n", "tables").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods[1].split()[:4] == ["solo", "0/1", "Pending", "0"]
    wide = kubectl("get", "pods", "-n", "tables", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[:8] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED"]
    deploys = kubectl("get", "deploy", "-n", "tables").stdout.splitlines()
    assert deploys[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploys[1].split()[:4] == ["web", "0/2", "0", "0"]
    services = kubectl("get", "svc", "web", "-n", "tables").stdout.splitlines()
    assert services[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert services[1].split()[1] == "ClusterIP" and services[1].split()[4] == "80/TCP"
    as_yaml = kubectl("get", "deploy", "web", "-n", "tables", "-o", "yaml").stdout
    assert "kind: Deployment" in as_yaml and "maxSurge: 25%" in as_yaml
    pod = kubectl.json("get", "pod", "solo", "-n", "tables")
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    assert pod["status"]["phase"] == "Pending"


def test_label_annotate_and_three_patch_types(kubectl):
    """label, annotate and the json, merge and strategic patch types all change what they should."""
    kubectl("apply", "-f", "-", input=MULTI_KIND.format(ns="patching"))
    kubectl("label", "deploy", "web", "tier=frontend", "-n", "patching")
    kubectl("annotate", "deploy", "web", "owner=team-a", "-n", "patching")
    kubectl("patch", "deploy", "web", "-n", "patching", "--type=json",
            "-p", '[{"op":"replace","path":"/spec/replicas","value":4}]')
    kubectl("patch", "deploy", "web", "-n", "patching", "--type=merge", "-p", '{"spec":{"paused":true}}')
    kubectl("patch", "deploy", "web", "-n", "patching",
            "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}')
    deploy = kubectl.json("get", "deploy", "web", "-n", "patching")
    assert deploy["metadata"]["labels"]["tier"] == "frontend"
    assert deploy["metadata"]["annotations"]["owner"] == "team-a"
    assert deploy["spec"]["replicas"] == 4 and deploy["spec"]["paused"] is True
    containers = deploy["spec"]["template"]["spec"]["containers"]
    # Strategic merge: the container named nginx changed, the sidecar kept.
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.28"), ("sidecar", "busybox:1.36")]
    # Created at 1; the annotation, the json, merge and strategic patches each move it on (upstream's deployment
    # strategy counts an annotation change, which its replica sets copy); the label does not.
    assert deploy["metadata"]["generation"] == 5
    kubectl("label", "deploy", "web", "tier-", "-n", "patching")
    assert "tier" not in kubectl.json("get", "deploy", "web", "-n", "patching")["metadata"]["labels"]
    kubectl("set", "image", "deploy/web", "sidecar=busybox:1.37", "-n", "patching")
    images = [c["image"] for c in kubectl.json("get", "deploy", "web", "-n", "patching")
              ["spec"]["template"]["spec"]["containers"]]
    assert images == ["nginx:1.28", "busybox:1.37"]


def test_scale(kubectl):
    """kubectl scale goes through the scale subresource and changes spec.replicas."""
    kubectl("apply", "-f", "-", input=MULTI_KIND.format(ns="scaling"))
    assert "scaled" in kubectl("scale", "deploy/web", "--replicas=7", "-n", "scaling").stdout
    assert kubectl.json("get", "deploy", "web", "-n", "scaling")["spec"]["replicas"] == 7
    kubectl("scale", "statefulset/db", "--replicas=3", "--current-replicas=1", "-n", "scaling")
    assert kubectl.json("get", "sts", "db", "-n", "scaling")["spec"]["replicas"] == 3


def test_replace_with_stale_resource_version_conflicts(kubectl, tmp_path):
    """A replace carrying an old resourceVersion is refused with upstream's 409 Conflict."""
    kubectl("create", "configmap", "stale", "--from-literal=a=1")
    old = kubectl("get", "cm", "stale", "-o", "yaml").stdout
    kubectl("label", "cm", "stale", "touched=yes")
    path = tmp_path / "old.yaml"
    path.write_text(old)
    result = kubectl("replace", "-f", str(path), check=False)
    assert result.returncode != 0
    assert ('Error from server (Conflict): error when replacing "%s": Operation cannot be fulfilled on '
            'configmaps "stale": the object has been modified; please apply your changes to the latest '
            'version and try again' % path) in result.stderr


def test_create_twice_already_exists(kubectl):
    """Creating the same object twice gives AlreadyExists."""
    kubectl("create", "configmap", "twice", "--from-literal=a=1")
    result = kubectl("create", "configmap", "twice", "--from-literal=a=1", check=False)
    assert result.returncode == 1
    assert 'configmaps "twice" already exists' in result.stderr


def test_generate_name(kubectl):
    """An object with generateName gets a name of that prefix and five random characters."""
    result = kubectl("create", "-f", "-", "-o", "name", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}))
    name = result.stdout.strip().split("/")[1]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5


def test_finalizer_holds_delete(kubectl):
    """A finalizer keeps a deleted object (with a deletionTimestamp) until the finalizer is removed."""
    kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
    kubectl("delete", "cm", "held", "--wait=false")
    held = kubectl.json("get", "cm", "held")
    assert held["metadata"]["deletionTimestamp"]
    kubectl("patch", "cm", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    result = kubectl("get", "cm", "held", check=False)
    assert result.returncode == 1 and 'configmaps "held" not found' in result.stderr


def test_delete_with_selector(kubectl):
    """kubectl delete -l removes only the labelled objects."""
    for name, group in (("a1", "one"), ("a2", "one"), ("b1", "two")):
        kubectl("create", "configmap", name, "-n", "default")
        kubectl("label", "cm", name, f"group={group}", "-n", "default")
    out = kubectl("delete", "cm", "-l", "group=one", "-n", "default").stdout
    assert 'configmap "a1" deleted' in out and 'configmap "a2" deleted' in out
    left = kubectl("get", "cm", "-l", "group", "-n", "default", "-o", "name").stdout.split()
    assert left == ["configmap/b1"]


def test_namespace_deletion_removes_content(kubectl):
    """Deleting a namespace deletes what is in it, then the namespace itself."""
    kubectl("create", "namespace", "doomed")
    kubectl("create", "configmap", "x", "-n", "doomed")
    kubectl("create", "deployment", "d", "--image=nginx", "-n", "doomed")
    kubectl("delete", "namespace", "doomed", "--timeout=60s")
    result = kubectl("get", "namespace", "doomed", check=False)
    assert 'namespaces "doomed" not found' in result.stderr
    refused = kubectl("create", "configmap", "y", "-n", "doomed", check=False)
    assert 'namespaces "doomed" not found' in refused.stderr


def test_get_watch_sees_added_modified_deleted(kubectl):
    """kubectl get -w prints the object as it is added, modified and deleted."""
    kubectl("create", "namespace", "watching")
    # A sentinel in the initial list shows the watch is set up (from the list's resourceVersion, so every
    # later change comes through), however long kubectl takes to start.
    kubectl("create", "configmap", "sentinel", "-n", "watching")
    env = dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(kubectl.kubeconfig.parent))
    watcher = Watched([kubectl.binary, f"--cache-dir={kubectl.cache_dir}", "get", "configmaps", "-n", "watching",
                       "-w", "--output-watch-events", "--request-timeout=60s"], env=env)
    try:
        watcher.wait_for(lambda line: line.split()[:2] == ["ADDED", "sentinel"], timeout=30)
        kubectl("create", "configmap", "w", "-n", "watching")
        kubectl("label", "configmap", "w", "x=y", "-n", "watching")
        kubectl("delete", "configmap", "w", "-n", "watching")
        watcher.wait_for(lambda line: line.split()[:2] == ["DELETED", "w"], timeout=30)
    finally:
        watcher.kill()
    events = [line.split()[0] for line in watcher.lines if line.split()[1:2] == ["w"]]
    assert events == ["ADDED", "MODIFIED", "DELETED"], "\n".join(watcher.lines)


def test_imperative_creates_send_protobuf(kubectl):
    """kubectl create <kind> (protobuf bodies) works for the common generators."""
    kubectl("create", "namespace", "imperative")
    kubectl("create", "deployment", "d", "--image=nginx:1.27", "--replicas=2", "-n", "imperative")
    kubectl("create", "secret", "generic", "s", "--from-literal=k=v", "-n", "imperative")
    kubectl("create", "service", "clusterip", "svc", "--tcp=80:8080", "-n", "imperative")
    kubectl("create", "job", "j", "--image=busybox", "-n", "imperative")
    kubectl("create", "serviceaccount", "sa", "-n", "imperative")
    kubectl("create", "role", "r", "--verb=get", "--resource=pods", "-n", "imperative")
    deploy = kubectl.json("get", "deploy", "d", "-n", "imperative")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    svc = kubectl.json("get", "svc", "svc", "-n", "imperative")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert kubectl.json("get", "secret", "s", "-n", "imperative")["data"] == {"k": "dg=="}


def test_certificate_signing_request_records_requester_and_approval(kubectl):
    """A CSR's requester comes from the request's user, and kubectl certificate approve sets Approved."""
    import base64
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "carol")])).sign(key, hashes.SHA256())
    kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "carol"},
        "spec": {"request": base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode(),
                 "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
                 "username": "forged"}}))
    kubectl("certificate", "approve", "carol")
    obj = kubectl.json("get", "csr", "carol")
    assert obj["spec"]["username"] == "system:unsecured"          # the insecure port's user, not the body's
    assert [c["type"] for c in obj["status"]["conditions"]] == ["Approved"]
    row = kubectl("get", "csr", "carol").stdout.splitlines()[1].split()
    assert row[3] == "system:unsecured" and row[-1] == "Approved"


ADMISSION_FIXTURES = """
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: gold}
value: 1000
preemptionPolicy: Never
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: sandboxed}
handler: runsc
overhead: {podFixed: {cpu: 100m}}
scheduling: {nodeSelector: {sandbox: "true"}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/disks
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: example.com/ingress}
---
apiVersion: v1
kind: Namespace
metadata: {name: admitted}
"""


def _create_refused(kubectl, manifest: dict) -> str:
    result = kubectl("create", "-f", "-", input=json.dumps(manifest), check=False)
    assert result.returncode != 0
    return result.stderr


def test_default_admission_plugins_change_what_is_created(kubectl):
    """The default plugins act on created objects: Priority, RuntimeClass and DefaultTolerationSeconds on pods,
    DefaultStorageClass and PersistentVolumeClaimResize on claims, DefaultIngressClass on ingresses,
    CertificateSubjectRestriction on CSRs."""
    kubectl("apply", "-f", "-", input=ADMISSION_FIXTURES)
    default_service_account(kubectl.server, "admitted")    # ServiceAccount admission refuses pods until then
    container = [{"name": "c", "image": "nginx"}]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fast", "namespace": "admitted"},
           "spec": {"containers": container, "priorityClassName": "gold", "runtimeClassName": "sandboxed"}}
    kubectl("create", "-f", "-", input=json.dumps(pod))
    spec = kubectl.json("get", "pod", "fast", "-n", "admitted")["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "Never")
    assert spec["overhead"] == {"cpu": "100m"} and spec["nodeSelector"] == {"sandbox": "true"}
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]
    kubectl("run", "plain", "--image=nginx", "-n", "admitted")
    spec = kubectl.json("get", "pod", "plain", "-n", "admitted")["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    stderr = _create_refused(kubectl, {**pod, "metadata": {"name": "lost", "namespace": "admitted"},
                                       "spec": {"containers": container, "priorityClassName": "nope"}})
    assert 'pods "lost" is forbidden: no PriorityClass with name nope was found' in stderr
    stderr = _create_refused(kubectl, {**pod, "metadata": {"name": "lost", "namespace": "admitted"},
                                       "spec": {"containers": container, "runtimeClassName": "kata"}})
    assert 'pods "lost" is forbidden: pod rejected: RuntimeClass "kata" not found' in stderr
    default_class = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "first"},
                     "value": 1, "globalDefault": True}
    kubectl("create", "-f", "-", input=json.dumps(default_class))
    stderr = _create_refused(kubectl, {**default_class, "metadata": {"name": "second"}})
    assert ('priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already marked as '
            'default. Only one default can exist') in stderr
    kubectl("delete", "priorityclass", "first")

    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data", "namespace": "admitted"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    kubectl("create", "-f", "-", input=json.dumps(claim))
    created = kubectl.json("get", "pvc", "data", "-n", "admitted")
    assert created["spec"]["storageClassName"] == "standard"
    kubectl("patch", "pvc", "data", "-n", "admitted", "--subresource=status", "--type=merge",
            "-p", '{"status":{"phase":"Bound"}}')
    grown = kubectl("patch", "pvc", "data", "-n", "admitted", "--type=merge",
                    "-p", '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}', check=False)
    assert grown.returncode != 0
    assert ('persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the '
            'storageclass that provisions the pvc must support resize') in grown.stderr

    kubectl("create", "ingress", "web", "-n", "admitted", "--rule=example.com/=web:80")
    assert kubectl.json("get", "ingress", "web", "-n", "admitted")["spec"]["ingressClassName"] == "nginx"

    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(ec.generate_private_key(
        ec.SECP256R1()), hashes.SHA256())
    stderr = _create_refused(kubectl, {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "root"},
        "spec": {"request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
                 "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}})
    assert ('certificatesigningrequests.certificates.k8s.io "root" is forbidden: use of '
            'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed') in stderr


def test_opt_in_plugins_that_need_controllers(tmp_path):
    """TaintNodesByCondition and StorageObjectInUseProtection, upstream defaults that are opt-in here until
    controllers remove what they add: a new node is tainted not-ready, a new claim gets its protection
    finalizer."""
    binary = kubectl_binary()
    if not binary:
        pytest.skip("kubectl is not installed on this machine")
    server = APIServerProcess(tmp_path / "data", args=(
        "--enable-admission-plugins=TaintNodesByCondition,StorageObjectInUseProtection",)).start()
    try:
        (tmp_path / "kubectl").mkdir()
        kubectl = Kubectl(binary, server, tmp_path / "kubectl")
        kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node",
                                                       "metadata": {"name": "worker-1"}}))
        assert kubectl.json("get", "node", "worker-1")["spec"]["taints"] == [
            {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
        kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        assert kubectl.json("get", "pvc", "data")["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    finally:
        server.stop()

"""Dynamic admission webhooks: upstream's "Admission webhook, ..." conformance entries and the two
"... create and update ... webhook configuration with matchConditions" ones.

Upstream's e2e tests deploy agnhost's webhook server in the cluster; here a local HTTPS server (``Backend``)
answers on the same paths the way those endpoints do for what the tests need: it denies configmaps, pods,
custom resources and CRDs carrying an offending key, label or container name, mutates configmaps, pods and
custom resources in stages, always denies, always allows after five seconds, or never answers.  Every test has
its own namespace, labelled with the test's name, and its webhooks select only that label, so tests do not see
each other's webhooks; each configuration also carries upstream's "is ready" marker webhook, probed through a
second, markers namespace before the test relies on the configuration."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.e2e.httpsjson import JSONHandler, serve_https

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
RESOURCES = {"validating": "validatingwebhookconfigurations", "mutating": "mutatingwebhookconfigurations"}
KINDS = {"validating": "ValidatingWebhookConfiguration", "mutating": "MutatingWebhookConfiguration"}


# --- the webhook server --------------------------------------------------------------------------------------

def json_patch(operations) -> dict:
    return {"patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(operations).encode()).decode()}


def deny(message=None, reason=None) -> dict:
    return {"allowed": False, "status": {k: v for k, v in (("message", message), ("reason", reason)) if v}}


def subject(request) -> dict:
    """The object a request is about: the old one for a deletion."""
    return (request.get("oldObject") if request["operation"] == "DELETE" else request.get("object")) or {}


def offending_data(request, what) -> dict:
    """Refuse creating or updating an object whose data has webhook-e2e-test: webhook-disallow, and deleting
    one whose data has webhook-e2e-test: webhook-nondeletable."""
    value = (subject(request).get("data") or {}).get("webhook-e2e-test")
    if value == "webhook-disallow" and request["operation"] in ("CREATE", "UPDATE"):
        return deny(reason="the configmap contains unwanted key and value" if what == "configmap"
                    else "the custom resource contains unwanted data")
    if value == "webhook-nondeletable" and request["operation"] == "DELETE":
        return deny(reason=f"the {what} cannot be deleted because it contains unwanted key and value")
    return {"allowed": True}


def staged_mutation(request) -> dict:
    """Add data key mutation-stage-1 to an object that has mutation-start, or mutation-stage-2 to one that
    already has mutation-stage-1."""
    data = (request.get("object") or {}).get("data") or {}
    if data.get("mutation-stage-1") == "yes":
        return {"allowed": True, **json_patch([{"op": "add", "path": "/data/mutation-stage-2", "value": "yes"}])}
    if data.get("mutation-start") == "yes":
        return {"allowed": True, **json_patch([{"op": "add", "path": "/data/mutation-stage-1", "value": "yes"}])}
    return {"allowed": True}


class Backend(JSONHandler):
    """Answers AdmissionReviews by path; remembers every request it got, by path."""

    calls: list = []
    released = threading.Event()    # set when the module's tests are done: lets a hanging answer return

    def do_POST(self):
        request = self.read_json()["request"]
        path = self.path.split("?")[0]
        self.calls.append((path, request))
        answer = getattr(self, "answer_" + path.strip("/").replace("/", "_").replace("-", "_"), None)
        if answer is None:
            self.send_error(404)
            return
        response = answer(request)
        try:
            self.reply_json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                             "response": {"uid": request["uid"], **response}})
        except OSError:
            pass    # the server gave up on us (a timeout test)

    def answer_always_deny(self, request):
        return deny(message="this webhook denies all requests")

    def answer_always_allow_delay_5s(self, request):
        time.sleep(5)
        return {"allowed": True}

    def answer_add_label(self, request):
        if (request["object"].get("metadata") or {}).get("labels"):
            return {"allowed": True, **json_patch([
                {"op": "add", "path": "/metadata/labels/added-label", "value": "yes"}])}
        return {"allowed": True, **json_patch([
            {"op": "add", "path": "/metadata/labels", "value": {"added-label": "yes"}}])}

    def answer_pods(self, request):
        pod = request["object"]
        problems = []
        label = (pod["metadata"].get("labels") or {}).get("webhook-e2e-test")
        if label == "webhook-disallow":
            problems.append("the pod contains unwanted label;")
        if label == "wait-forever":
            self.released.wait(120)
            problems.append("the pod response should not be sent;")
        if any("webhook-disallow" in c["name"] for c in pod["spec"].get("containers") or []):
            problems.append("the pod contains unwanted container name;")
        return deny(message=" ".join(problems)) if problems else {"allowed": True}

    def answer_pods_attach(self, request):
        options = request.get("object") or {}
        if request.get("name") == "to-be-attached-pod" and request.get("subResource") == "attach" \
                and options.get("stdin") and options.get("container") == "container1":
            return deny(message="attaching to pod 'to-be-attached-pod' is not allowed")
        return {"allowed": True}

    def answer_mutating_pods(self, request):
        pod = request["object"]
        if pod["metadata"].get("name") != "webhook-to-be-mutated" or any(
                c["name"] == "webhook-added-init-container" for c in pod["spec"].get("initContainers") or []):
            return {"allowed": True}
        return {"allowed": True, **json_patch([{"op": "add", "path": "/spec/initContainers", "value": [
            {"image": "webhook-added-image", "name": "webhook-added-init-container", "resources": {}}]}])}

    def answer_configmaps(self, request):
        return offending_data(request, "configmap")

    def answer_mutating_configmaps(self, request):
        return staged_mutation(request)

    def answer_custom_resource(self, request):
        return offending_data(request, "custom resource")

    def answer_mutating_custom_resource(self, request):
        return staged_mutation(request)

    def answer_crd(self, request):
        labels = request["object"]["metadata"].get("labels") or {}
        if labels.get("webhook-e2e-test") == "webhook-disallow":
            return deny(message="the crd contains unwanted label")
        return {"allowed": True}


class WebhookServer:
    def __init__(self, server, ca: bytes):
        self.server = server
        self.ca = base64.b64encode(ca).decode()
        self.base = f"https://127.0.0.1:{server.server_address[1]}"

    def client_config(self, path, ca=True):
        config = {"url": self.base + path}
        if ca:
            config["caBundle"] = self.ca
        return config


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    server, ca = serve_https(Backend, tmp_path_factory.mktemp("webhook-backend"))
    yield WebhookServer(server, ca)
    Backend.released.set()
    server.shutdown()


# --- talking to the API server -------------------------------------------------------------------------------

def call(apiserver, method, path, body=None, content_type="application/json", timeout=60):
    """(status, decoded body) of one request, waiting up to ``timeout`` (webhooks can take 10 s to time out)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(apiserver.url + path, data=data, method=method,
                                     headers={"Content-Type": content_type} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def eventually(condition, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)


def rule(operations, resources, group="", versions=("v1",)):
    return {"operations": list(operations), "apiGroups": [group], "apiVersions": list(versions),
            "resources": list(resources)}


class Scenario:
    """One test's namespace (labelled with the test's label), markers namespace and webhook configurations."""

    def __init__(self, apiserver, backend: WebhookServer, label: str):
        self.apiserver, self.backend, self.label = apiserver, backend, label
        self.namespace, self.markers = label, f"{label}-markers"
        self.configurations = []
        self.create_namespace(self.namespace, {label: "true"})
        self.create_namespace(self.markers, {f"{label}-markers": "true"})

    def request(self, method, path, body=None, **kwargs):
        return call(self.apiserver, method, path, body, **kwargs)

    def create_namespace(self, name, labels):
        status, body = self.request("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
        assert status == 201, body

    def webhook(self, name, path, rules, ca=True, **fields):
        """A webhook calling the backend at ``path``, selecting this test's namespace unless told otherwise."""
        hook = {"name": name, "clientConfig": self.backend.client_config(path, ca), "rules": rules,
                "sideEffects": "None", "admissionReviewVersions": ["v1", "v1beta1"],
                "namespaceSelector": {"matchLabels": {self.label: "true"}}, **fields}
        return {key: value for key, value in hook.items() if value is not None}

    def marker(self):
        """Upstream's "is the configuration ready" webhook: denies configmaps labelled with the test's label in
        the markers namespace."""
        return self.webhook("is-webhook-configuration-ready.k8s.io", "/always-deny",
                            [rule(["CREATE"], ["configmaps"])], failurePolicy="Ignore",
                            namespaceSelector={"matchLabels": {f"{self.label}-markers": "true"}},
                            objectSelector={"matchLabels": {self.label: "true"}})

    def configuration(self, kind, name, webhooks, labels=None, marker=True):
        metadata = {"name": name, **({"labels": labels} if labels else {})}
        return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": KINDS[kind], "metadata": metadata,
                "webhooks": webhooks + ([self.marker()] if marker else [])}

    def register(self, kind, name, webhooks, labels=None, marker=True, wait=True):
        self.configurations.append((kind, name))
        status, body = self.request("POST", f"{ADMISSION}/{RESOURCES[kind]}",
                                    self.configuration(kind, name, webhooks, labels, marker))
        assert status == 201, body
        if wait and marker:
            self.wait_ready()
        return body

    def unregister(self, kind, name):
        status, body = self.request("DELETE", f"{ADMISSION}/{RESOURCES[kind]}/{name}")
        assert status == 200, body

    def wait_ready(self):
        """Send marker configmaps until one is denied: the configuration is then in force."""
        def denied():
            status, body = self.request("POST", f"/api/v1/namespaces/{self.markers}/configmaps", {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": str(uuid.uuid4()), "labels": {self.label: "true"}}})
            if status == 201:
                self.request("DELETE", f"/api/v1/namespaces/{self.markers}/configmaps/{body['metadata']['name']}")
                return False
            assert "denied" in body["message"], body
            return True
        eventually(denied)

    def configmaps(self, namespace=None):
        return f"/api/v1/namespaces/{namespace or self.namespace}/configmaps"

    def create_configmap(self, name, data, namespace=None):
        return self.request("POST", self.configmaps(namespace), {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})

    def cleanup(self):
        for kind, name in reversed(self.configurations):
            self.request("DELETE", f"{ADMISSION}/{RESOURCES[kind]}/{name}")


@pytest.fixture
def scenario(apiserver, backend):
    made = []

    def make(label):
        made.append(Scenario(apiserver, backend, label))
        return made[-1]
    yield make
    for each in made:
        each.cleanup()


def deny_configmap_webhook(s: Scenario):
    return s.webhook("deny-unwanted-configmap-data.k8s.io", "/configmaps",
                     [rule(["CREATE", "UPDATE", "DELETE"], ["configmaps"])],
                     namespaceSelector={"matchLabels": {s.label: "true"}, "matchExpressions": [
                         {"key": "skip-webhook-admission", "operator": "NotIn", "values": ["yes"]}]})


def mutate_configmap_webhook(s: Scenario, stage: int):
    return s.webhook(f"adding-configmap-data-stage-{stage}.k8s.io", "/mutating-configmaps",
                     [rule(["CREATE"], ["configmaps"])])


def noncompliant_configmap_denied(s: Scenario) -> bool:
    """Create a configmap with offending data: True if denied, False (and deleted) if created."""
    name = str(uuid.uuid4())
    status, body = s.create_configmap(name, {"webhook-e2e-test": "webhook-disallow"})
    if status == 201:
        assert s.request("DELETE", f"{s.configmaps()}/{name}")[0] == 200
        return False
    assert status == 400 and "denied" in body["message"], body
    return True


def to_be_mutated_configmap_mutated(s: Scenario) -> bool:
    name = str(uuid.uuid4())
    status, created = s.create_configmap(name, {"mutation-start": "yes"})
    assert status == 201, created
    assert s.request("DELETE", f"{s.configmaps()}/{name}")[0] == 200
    return "mutation-stage-1" in created["data"]


def create_crd(s: Scenario, group, versions, plural="e2e-test-crds", kind="E2eTestCrd", labels=None):
    """Create a namespaced CRD and wait until its first version is served."""
    metadata = {"name": f"{plural}.{group}", **({"labels": labels} if labels else {})}
    status, body = s.request("POST", CRDS, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": metadata,
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "listKind": kind + "List"},
                 "versions": versions}})
    if status != 201:
        return status, body
    collection = f"/apis/{group}/{versions[0]['name']}/namespaces/{s.namespace}/{plural}"
    eventually(lambda: s.request("GET", collection)[0] == 200)
    return status, body


def open_schema():
    return {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}


def custom_resources(s: Scenario, group, version="v1", plural="e2e-test-crds"):
    return f"/apis/{group}/{version}/namespaces/{s.namespace}/{plural}"


def custom_resource(group, name, data, version="v1", kind="E2eTestCrd"):
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name}, "data": data}


def delete_crd(s: Scenario, group, plural="e2e-test-crds"):
    s.request("DELETE", f"{CRDS}/{plural}.{group}")


# --- the entries ---------------------------------------------------------------------------------------------

def test_admission_webhook_discovery_document(apiserver):
    """Admission webhook, discovery document: the admissionregistration.k8s.io group and its v1 version MUST be
    in the /apis discovery document, and mutatingwebhookconfigurations and validatingwebhookconfigurations MUST
    be in /apis/admissionregistration.k8s.io/v1."""
    status, groups = call(apiserver, "GET", "/apis")
    assert status == 200
    group, = [g for g in groups["groups"] if g["name"] == "admissionregistration.k8s.io"]
    assert "v1" in [v["version"] for v in group["versions"]]
    status, group = call(apiserver, "GET", "/apis/admissionregistration.k8s.io")
    assert status == 200 and group["name"] == "admissionregistration.k8s.io"
    assert "v1" in [v["version"] for v in group["versions"]]
    status, resources = call(apiserver, "GET", "/apis/admissionregistration.k8s.io/v1")
    assert status == 200 and resources["groupVersion"] == "admissionregistration.k8s.io/v1"
    names = [r["name"] for r in resources["resources"]]
    assert "mutatingwebhookconfigurations" in names and "validatingwebhookconfigurations" in names


def test_admission_webhook_deny_create(scenario):
    """Admission webhook, deny create: creating non-compliant pods and configmaps, or updating and patching a
    compliant configmap to a non-compliant one, MUST be denied; a pod whose webhook hangs MUST fail with a
    webhook timeout and not be created; a non-compliant configmap in a namespace the webhook's namespace
    selector leaves out MUST be allowed."""
    s = scenario("webhook-deny-create")
    fail_open = s.webhook("fail-open.k8s.io", "/configmaps", [rule(["CREATE"], ["configmaps"])], ca=False,
                          failurePolicy="Ignore")
    s.register("validating", "webhook-deny-create", [
        s.webhook("deny-unwanted-pod-container-name-and-label.k8s.io", "/pods", [rule(["CREATE"], ["pods"])]),
        deny_configmap_webhook(s), fail_open])
    pods = f"/api/v1/namespaces/{s.namespace}/pods"

    status, body = s.request("POST", pods, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "disallowed-pod", "labels": {"webhook-e2e-test": "webhook-disallow"}},
        "spec": {"containers": [{"name": "webhook-disallow", "image": "registry.k8s.io/pause:3.10"}]}})
    assert status == 400, body
    assert "the pod contains unwanted container name" in body["message"]
    assert "the pod contains unwanted label" in body["message"]

    status, body = s.request("POST", pods, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "hanging-pod", "labels": {"webhook-e2e-test": "wait-forever"}},
        "spec": {"containers": [{"name": "wait-forever", "image": "registry.k8s.io/pause:3.10"}]}})
    assert status == 500 and body["reason"] == "InternalError", body
    assert "webhook" in body["message"] and "deadline" in body["message"]
    assert s.request("GET", f"{pods}/hanging-pod")[0] == 404

    status, body = s.create_configmap("disallowed-configmap", {"webhook-e2e-test": "webhook-disallow"})
    assert status == 400 and body["message"] == ('admission webhook "deny-unwanted-configmap-data.k8s.io" denied '
                                                 'the request: the configmap contains unwanted key and value'), body
    assert body["reason"] == "the configmap contains unwanted key and value"    # the webhook's, as it gave it

    status, allowed = s.create_configmap("allowed-configmap", {"admit": "this"})
    assert status == 201, allowed
    allowed["data"]["webhook-e2e-test"] = "webhook-disallow"
    status, body = s.request("PUT", f"{s.configmaps()}/allowed-configmap", allowed)
    assert status == 400 and "the configmap contains unwanted key and value" in body["message"], body
    status, body = s.request("PATCH", f"{s.configmaps()}/allowed-configmap",
                             {"data": {"webhook-e2e-test": "webhook-disallow"}},
                             content_type="application/strategic-merge-patch+json")
    assert status == 400 and "the configmap contains unwanted key and value" in body["message"], body

    exempted = f"{s.label}-exempted"
    s.create_namespace(exempted, {"skip-webhook-admission": "yes", s.label: "true"})
    status, body = s.create_configmap("disallowed-configmap", {"webhook-e2e-test": "webhook-disallow"}, exempted)
    assert status == 201, body


def test_admission_webhook_deny_attach(scenario, kubectl):
    """Admission webhook, deny attach: with a webhook denying connections to a pod's attach subresource,
    attempts to attach MUST be denied."""
    s = scenario("webhook-deny-attach")
    s.register("validating", "webhook-deny-attach", [
        s.webhook("deny-attaching-pod.k8s.io", "/pods/attach", [rule(["CONNECT"], ["pods/attach"])])])
    pods = f"/api/v1/namespaces/{s.namespace}/pods"
    status, body = s.request("POST", pods, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "to-be-attached-pod"},
        "spec": {"containers": [{"name": "container1", "image": "registry.k8s.io/pause:3.10"}]}})
    assert status == 201, body
    # Upstream waits for a kubelet to run the pod; the webhook is called before any kubelet is reached, so
    # recording the pod as running (what its kubelet would report) is all attaching needs here.
    status, body = s.request("PATCH", f"{pods}/to-be-attached-pod/status", {"status": {"phase": "Running"}},
                             content_type="application/merge-patch+json")
    assert status == 200, body
    result = kubectl("attach", f"--namespace={s.namespace}", "to-be-attached-pod", "-i", "-c=container1",
                     check=False, input="")
    assert result.returncode != 0
    assert "attaching to pod 'to-be-attached-pod' is not allowed" in result.stderr, result.stderr


def test_admission_webhook_deny_custom_resource_create_and_delete(scenario):
    """Admission webhook, deny custom resource create and delete: with a webhook denying creation, update and
    deletion of custom resources, such attempts MUST be denied."""
    s = scenario("webhook-deny-cr")
    group = "webhook-deny-cr.example.com"
    status, body = create_crd(s, group, [{"name": "v1", "served": True, "storage": True, "schema": open_schema()}])
    assert status == 201, body
    try:
        s.register("validating", "webhook-deny-cr", [
            s.webhook("deny-unwanted-custom-resource-data.k8s.io", "/custom-resource",
                      [rule(["CREATE", "UPDATE", "DELETE"], ["e2e-test-crds"], group, ["v1"])])])
        collection = custom_resources(s, group)

        status, body = s.request("POST", collection, custom_resource(
            group, "cr-instance-1", {"webhook-e2e-test": "webhook-disallow"}))
        assert status == 400 and "the custom resource contains unwanted data" in body["message"], body

        status, created = s.request("POST", collection, custom_resource(
            group, "cr-instance-2", {"webhook-e2e-test": "webhook-nondeletable"}))
        assert status == 201, created
        created["data"]["webhook-e2e-test"] = "webhook-disallow"
        status, body = s.request("PUT", f"{collection}/cr-instance-2", created)
        assert status == 400 and "the custom resource contains unwanted data" in body["message"], body
        status, body = s.request("DELETE", f"{collection}/cr-instance-2")
        assert status == 400, body
        assert "the custom resource cannot be deleted because it contains unwanted key and value" in body["message"]

        status, current = s.request("GET", f"{collection}/cr-instance-2")
        current["data"]["webhook-e2e-test"] = "webhook-allow"
        status, body = s.request("PUT", f"{collection}/cr-instance-2", current)
        assert status == 200, body
        status, body = s.request("DELETE", f"{collection}/cr-instance-2")
        assert status == 200, body
    finally:
        s.cleanup()
        delete_crd(s, group)


def test_admission_webhook_deny_custom_resource_definition(scenario):
    """Admission webhook, deny custom resource definition: with a webhook denying custom resource definition
    creation, creating one MUST be denied."""
    s = scenario("webhook-deny-crd")
    s.register("validating", "webhook-deny-crd", [
        s.webhook("deny-crd-with-unwanted-label.k8s.io", "/crd",
                  [rule(["CREATE"], ["customresourcedefinitions"], "apiextensions.k8s.io", ["*"])],
                  namespaceSelector=None, objectSelector={"matchLabels": {s.label: "true"}})])
    group = "webhook-deny-crd.example.com"
    status, body = create_crd(s, group, [{"name": "v1", "served": True, "storage": True, "schema": open_schema()}],
                              labels={s.label: "true", "webhook-e2e-test": "webhook-disallow"})
    assert status == 400 and "the crd contains unwanted label" in body["message"], body
    assert s.request("GET", f"{CRDS}/e2e-test-crds.{group}")[0] == 404


def test_admission_webhook_fail_closed(scenario):
    """Admission webhook, fail closed: with a fail-closed webhook that cannot be called (no CA bundle), every
    operation it covers MUST be denied."""
    s = scenario("webhook-fail-closed")
    s.register("validating", "webhook-fail-closed", [
        s.webhook("fail-closed.k8s.io", "/configmaps", [rule(["CREATE"], ["configmaps"])], ca=False,
                  failurePolicy="Fail",
                  namespaceSelector={"matchLabels": {s.label: "true"}, "matchExpressions": [
                      {"key": "fail-closed-webhook", "operator": "In", "values": ["yes"]}]})])
    failing = f"{s.label}-namespace"
    s.create_namespace(failing, {"fail-closed-webhook": "yes", s.label: "true"})
    status, body = s.create_configmap("foo", {}, failing)
    assert status == 500 and body["reason"] == "InternalError", body
    assert 'failed calling webhook "fail-closed.k8s.io"' in body["message"]


def test_admission_webhook_ordered_mutation(scenario):
    """Admission webhook, ordered mutation: of two mutating webhooks, the first adding a key when a configmap
    has mutation-start and the second when it has the first's key, both keys MUST be added."""
    s = scenario("webhook-ordered-mutation")
    s.register("mutating", "webhook-ordered-mutation", [mutate_configmap_webhook(s, 1), mutate_configmap_webhook(s, 2)])
    status, created = s.create_configmap("to-be-mutated", {"mutation-start": "yes"})
    assert status == 201, created
    assert created["data"] == {"mutation-start": "yes", "mutation-stage-1": "yes", "mutation-stage-2": "yes"}


def test_admission_webhook_mutation_with_defaulting(scenario):
    """Admission webhook, mutation with defaulting: the init container a mutating webhook adds to a pod MUST be
    there, with its terminationMessagePolicy defaulted."""
    s = scenario("webhook-mutate-pod")
    s.register("mutating", "webhook-mutate-pod", [
        s.webhook("adding-init-container.k8s.io", "/mutating-pods", [rule(["CREATE"], ["pods"])])])
    status, pod = s.request("POST", f"/api/v1/namespaces/{s.namespace}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "webhook-to-be-mutated"},
        "spec": {"containers": [{"name": "example", "image": "registry.k8s.io/pause:3.10"}]}})
    assert status == 201, pod
    init, = pod["spec"]["initContainers"]
    assert init["name"] == "webhook-added-init-container"
    assert init["terminationMessagePolicy"] == "File"


def test_admission_webhook_admission_control_not_allowed_on_webhook_configuration_objects(scenario):
    """Admission webhook, admission control not allowed on webhook configuration objects: with webhooks that
    mutate webhook configurations and deny their deletion, creating and deleting a webhook configuration MUST
    both be allowed, and it MUST NOT be mutated."""
    s = scenario("webhook-config-objects")
    configurations = [rule(["DELETE"], ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
                           "admissionregistration.k8s.io", ["*"])]
    s.register("validating", "webhook-config-objects-blocking", [
        s.webhook("deny-webhook-configuration-deletions.k8s.io", "/always-deny", configurations,
                  failurePolicy="Fail")])
    configurations = [dict(configurations[0], operations=["CREATE"])]
    s.register("mutating", "webhook-config-objects-blocking", [
        s.webhook("add-label-to-webhook-configurations.k8s.io", "/add-label", configurations,
                  failurePolicy="Fail")])
    before = len(Backend.calls)

    for kind in ("validating", "mutating"):
        dummy = s.webhook(f"dummy-{kind}-webhook.k8s.io", "", [rule(["CREATE"], ["invalid"])], ca=False,
                          failurePolicy="Ignore")
        created = s.register(kind, "webhook-config-objects", [dummy])
        assert (created["metadata"].get("labels") or {}).get("added-label") != "yes"
        s.unregister(kind, "webhook-config-objects")
    assert [path for path, request in Backend.calls[before:]
            if request["resource"]["resource"].endswith("webhookconfigurations")] == []


def test_admission_webhook_mutate_custom_resource(scenario):
    """Admission webhook, mutate custom resource: a custom resource a mutating webhook covers MUST be mutated
    on creation."""
    s = scenario("webhook-mutate-cr")
    group = "webhook-mutate-cr.example.com"
    status, body = create_crd(s, group, [{"name": "v1", "served": True, "storage": True, "schema": open_schema()}])
    assert status == 201, body
    try:
        register_custom_resource_mutation(s, group, ["v1"])
        status, created = s.request("POST", custom_resources(s, group), custom_resource(
            group, "cr-instance-1", {"mutation-start": "yes"}))
        assert status == 201, created
        assert created["data"] == {"mutation-start": "yes", "mutation-stage-1": "yes", "mutation-stage-2": "yes"}
    finally:
        s.cleanup()
        delete_crd(s, group)


def register_custom_resource_mutation(s: Scenario, group, versions):
    s.register("mutating", s.label, [
        s.webhook("mutate-custom-resource-data-stage-1.k8s.io", "/mutating-custom-resource",
                  [rule(["CREATE", "UPDATE"], ["e2e-test-crds"], group, versions)]),
        s.webhook("mutate-custom-resource-data-stage-2.k8s.io", "/mutating-custom-resource",
                  [rule(["CREATE"], ["e2e-test-crds"], group, versions)])])


def test_admission_webhook_mutate_custom_resource_with_different_stored_version(scenario):
    """Admission webhook, mutate custom resource with different stored version: after a custom resource is
    created under storage version v1 and the definition is patched to store v2, patching the custom resource
    with a new field MUST succeed (and the mutating webhooks still apply)."""
    s = scenario("webhook-mutate-cr-versions")
    group = "webhook-mutate-cr-versions.example.com"
    status, body = create_crd(s, group, [
        {"name": "v1", "served": True, "storage": True, "schema": open_schema()},
        {"name": "v2", "served": True, "storage": False, "schema": open_schema()}])
    assert status == 201, body
    try:
        register_custom_resource_mutation(s, group, ["v1", "v2"])
        status, created = s.request("POST", custom_resources(s, group), custom_resource(
            group, "cr-instance-1", {"mutation-start": "yes"}))
        assert status == 201, created

        status, body = s.request("PATCH", f"{CRDS}/e2e-test-crds.{group}", {"spec": {"versions": [
            {"name": "v1", "storage": False, "served": True, "schema": open_schema()},
            {"name": "v2", "storage": True, "served": True, "schema": open_schema()}]}},
            content_type="application/strategic-merge-patch+json")
        assert status == 200, body

        status, patched = s.request("PATCH", f"{custom_resources(s, group, 'v2')}/cr-instance-1",
                                    [{"op": "add", "path": "/dummy", "value": "test"}],
                                    content_type="application/json-patch+json")
        assert status == 200, patched
        assert patched["data"] == {"mutation-start": "yes", "mutation-stage-1": "yes", "mutation-stage-2": "yes"}
        assert patched["dummy"] == "test"
    finally:
        s.cleanup()
        delete_crd(s, group)


def test_admission_webhook_mutate_custom_resource_with_pruning(scenario):
    """Admission webhook, mutate custom resource with pruning: of the data keys mutating webhooks add to a
    custom resource, the one in the definition's schema MUST be present and the one outside it MUST NOT."""
    s = scenario("webhook-mutate-cr-pruning")
    group = "webhook-mutate-cr-pruning.example.com"
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"data": {"type": "object", "properties": {
        "mutation-start": {"type": "string"}, "mutation-stage-1": {"type": "string"}}}}}}
    status, body = create_crd(s, group, [{"name": "v1", "served": True, "storage": True, "schema": schema},
                                         {"name": "v2", "served": True, "storage": False, "schema": schema}])
    assert status == 201, body
    try:
        register_custom_resource_mutation(s, group, ["v1", "v2"])
        status, created = s.request("POST", custom_resources(s, group), custom_resource(
            group, "cr-instance-1", {"mutation-start": "yes"}))
        assert status == 201, created
        assert created["data"] == {"mutation-start": "yes", "mutation-stage-1": "yes"}
    finally:
        s.cleanup()
        delete_crd(s, group)


def test_admission_webhook_honor_timeout(scenario):
    """Admission webhook, honor timeout: with a webhook answering after 5 s, a request MUST time out when the
    webhook's timeout is shorter and its failure policy Fail; it MUST NOT fail under policy Ignore, nor with a
    10 s timeout, nor with the timeout left to its default (10 s)."""
    s = scenario("webhook-honor-timeout")

    def slow(policy, timeout):
        hook = s.webhook("allow-configmap-with-delay-webhook.k8s.io", "/always-allow-delay-5s",
                         [rule(["CREATE"], ["configmaps"])], failurePolicy=policy)
        if timeout is not None:
            hook["timeoutSeconds"] = timeout
        s.register("validating", "webhook-honor-timeout", [hook])

    def allowed():
        status, body = s.create_configmap("e2e-test-slow-webhook-configmap", {})
        assert status == 201, body
        assert s.request("DELETE", f"{s.configmaps()}/e2e-test-slow-webhook-configmap")[0] == 200

    slow("Fail", 1)
    started = time.monotonic()
    status, body = s.create_configmap("e2e-test-slow-webhook-configmap", {})
    assert time.monotonic() - started < 4.5
    assert status == 500, body
    assert "context deadline exceeded" in body["message"] or "timeout" in body["message"]
    assert "/always-allow-delay-5s?timeout=1s" in body["message"]
    s.unregister("validating", "webhook-honor-timeout")

    for policy, timeout in (("Ignore", 1), ("Fail", 10), ("Fail", None)):
        slow(policy, timeout)
        allowed()
        s.unregister("validating", "webhook-honor-timeout")


def test_admission_webhook_update_validating_webhook(scenario):
    """Admission webhook, update validating webhook: once the webhook is updated not to apply to create, it
    MUST NOT deny a create; once patched to apply to create again, it MUST deny it."""
    s = scenario("webhook-update-validating")
    s.register("validating", "webhook-update-validating", [deny_configmap_webhook(s)])
    path = f"{ADMISSION}/validatingwebhookconfigurations/webhook-update-validating"
    eventually(lambda: noncompliant_configmap_denied(s))

    status, configuration = s.request("GET", path)
    configuration["webhooks"][0]["rules"][0]["operations"] = ["UPDATE"]
    status, body = s.request("PUT", path, configuration)
    assert status == 200, body
    eventually(lambda: not noncompliant_configmap_denied(s))

    status, body = s.request("PATCH", path, [{"op": "replace", "path": "/webhooks/0/rules/0/operations",
                                              "value": ["CREATE"]}], content_type="application/json-patch+json")
    assert status == 200, body
    eventually(lambda: noncompliant_configmap_denied(s))


def test_admission_webhook_update_mutating_webhook(scenario):
    """Admission webhook, update mutating webhook: once the webhook is updated not to apply to create, it MUST
    NOT mutate a created object; once patched to apply to create again, it MUST mutate it."""
    s = scenario("webhook-update-mutating")
    s.register("mutating", "webhook-update-mutating", [mutate_configmap_webhook(s, 1)])
    path = f"{ADMISSION}/mutatingwebhookconfigurations/webhook-update-mutating"

    status, configuration = s.request("GET", path)
    configuration["webhooks"][0]["rules"][0]["operations"] = ["UPDATE"]
    status, body = s.request("PUT", path, configuration)
    assert status == 200, body
    eventually(lambda: not to_be_mutated_configmap_mutated(s))

    status, body = s.request("PATCH", path, [{"op": "replace", "path": "/webhooks/0/rules/0/operations",
                                              "value": ["CREATE"]}], content_type="application/json-patch+json")
    assert status == 200, body
    eventually(lambda: to_be_mutated_configmap_mutated(s))


def register_ten(s: Scenario, kind, webhook):
    """Ten configurations sharing a fresh label; returns its selector."""
    selector = f"e2e-list-test-uuid={uuid.uuid4()}"
    key, value = selector.split("=")
    for i in range(10):
        s.register(kind, f"{s.label}-{i}", [webhook], labels={key: value}, wait=False)
    status, listed = s.request("GET", f"{ADMISSION}/{RESOURCES[kind]}?labelSelector={selector}")
    assert status == 200 and len(listed["items"]) == 10, listed
    s.wait_ready()
    return selector


def test_admission_webhook_list_validating_webhooks(scenario):
    """Admission webhook, list validating webhooks: ten labelled validating configurations MUST all be listed
    by their label and MUST deny a non-compliant create; after deleting them as a collection by that label, the
    create MUST NOT be denied."""
    s = scenario("webhook-list-validating")
    selector = register_ten(s, "validating", deny_configmap_webhook(s))
    eventually(lambda: noncompliant_configmap_denied(s))
    status, body = s.request("DELETE", f"{ADMISSION}/validatingwebhookconfigurations?labelSelector={selector}")
    assert status == 200, body
    eventually(lambda: not noncompliant_configmap_denied(s))
    assert s.request("GET", f"{ADMISSION}/validatingwebhookconfigurations?labelSelector={selector}")[1]["items"] == []


def test_admission_webhook_list_mutating_webhooks(scenario):
    """Admission webhook, list mutating webhooks: ten labelled mutating configurations MUST all be listed by
    their label and MUST mutate a created object; after deleting them as a collection by that label, a created
    object MUST NOT be mutated."""
    s = scenario("webhook-list-mutating")
    selector = register_ten(s, "mutating", mutate_configmap_webhook(s, 1))
    eventually(lambda: to_be_mutated_configmap_mutated(s))
    status, body = s.request("DELETE", f"{ADMISSION}/mutatingwebhookconfigurations?labelSelector={selector}")
    assert status == 200, body
    eventually(lambda: not to_be_mutated_configmap_mutated(s))
    assert s.request("GET", f"{ADMISSION}/mutatingwebhookconfigurations?labelSelector={selector}")[1]["items"] == []


def create_and_update_match_conditions(s: Scenario, kind, webhook):
    initial = [{"name": "expression-1", "expression": "object.metadata.namespace == 'production'"}]
    webhook["matchConditions"] = initial
    s.register(kind, s.label, [webhook], wait=False)
    path = f"{ADMISSION}/{RESOURCES[kind]}/{s.label}"
    status, configuration = s.request("GET", path)
    assert status == 200 and configuration["webhooks"][0]["matchConditions"] == initial
    updated = initial + [{"name": "expression-2", "expression": "object.metadata.namespace == 'staging'"}]
    configuration["webhooks"][0]["matchConditions"] = updated
    status, body = s.request("PUT", path, configuration)
    assert status == 200, body
    status, configuration = s.request("GET", path)
    assert status == 200 and configuration["webhooks"][0]["matchConditions"] == updated
    s.unregister(kind, s.label)


def test_validating_admission_webhook_create_and_update_validating_webhook_configuration_with_matchconditions(
        scenario):
    """Validating Admission webhook, create and update validating webhook configuration with matchConditions:
    the matchConditions of a created configuration MUST be stored, and after an update the retrieved
    configuration MUST have the updated ones."""
    s = scenario("webhook-validating-conditions")
    create_and_update_match_conditions(s, "validating", s.webhook(
        "validation-webhook-with-match-conditions.k8s.io", "/always-deny", [rule(["CREATE"], ["configmaps"])],
        matchPolicy="Equivalent"))


def test_mutating_admission_webhook_create_and_update_mutating_webhook_configuration_with_matchconditions(
        scenario):
    """Mutating Admission webhook, create and update mutating webhook configuration with matchConditions: the
    matchConditions of a created configuration MUST be stored, and after an update the retrieved configuration
    MUST have the updated ones."""
    s = scenario("webhook-mutating-conditions")
    create_and_update_match_conditions(s, "mutating", s.webhook(
        "adding-configmap-data.k8s.io", "/mutating-configmaps", [rule(["CREATE"], ["configmaps"])]))

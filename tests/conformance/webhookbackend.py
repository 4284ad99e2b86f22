"""A local stand-in for agnhost's webhook server, and a test's webhook scenario, for the conformance tests of
dynamic admission webhooks (test_admission_webhooks.py).

``Backend`` answers AdmissionReviews on the paths agnhost's endpoints have, the way they do for what upstream's
e2e tests need: it denies configmaps, pods, custom resources and CRDs carrying an offending key, label or
container name, mutates configmaps, pods and custom resources in stages, always denies, always allows after
five seconds, or never answers.  A ``Scenario`` is one test's namespace (labelled with the test's name, which
its webhooks select, so tests do not see each other's webhooks), a markers namespace, and the webhook
configurations it registered, deleted when the test ends; each configuration carries upstream's "is ready"
marker webhook, probed through the markers namespace before the test relies on the configuration."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import ClassVar

from tests.conformance.support import CRDS, default_service_account, wait_for
from tests.e2e.conftest import http_request
from tests.e2e.httpsjson import JSONHandler, serve_https

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
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

    calls: ClassVar[list] = []
    released: ClassVar[threading.Event] = threading.Event()    # set when the module's tests are done: lets a hanging answer return

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
    """The running Backend: where webhooks reach it, and the CA bundle that trusts it."""

    def __init__(self, server, ca: bytes):
        self.server = server
        self.ca = base64.b64encode(ca).decode()
        self.base = f"https://127.0.0.1:{server.server_address[1]}"

    def client_config(self, path, ca=True):
        config = {"url": self.base + path}
        if ca:
            config["caBundle"] = self.ca
        return config

    @classmethod
    def start(cls, directory) -> WebhookServer:
        """Serve ``Backend`` over TLS (certificate and key written into ``directory``)."""
        Backend.released.clear()
        return cls(*serve_https(Backend, directory))

    def stop(self) -> None:
        Backend.released.set()
        self.server.shutdown()


# --- talking to the API server -------------------------------------------------------------------------------

def call(apiserver, method, path, body=None, content_type="application/json", timeout=60):
    """(status, decoded body) of one request, waiting up to ``timeout`` (webhooks can take 10 s to time out)."""
    return http_request(apiserver.url + path, method, body, {"Content-Type": content_type}, timeout=timeout)


def eventually(condition, timeout=30.0, interval=0.1):
    wait_for(condition, timeout=timeout, interval=interval)


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
        default_service_account(self.apiserver, name)    # the tests' pods are refused until it exists

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

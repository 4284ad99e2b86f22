"""Admission in upstream's order: mutating admission, then defaulting and validation, then validating
admission.  So what a mutating webhook or LimitRanger adds is defaulted, pruned and validated like the rest of
the object ("Admission webhook, mutation with defaulting", "Admission webhook, mutate custom resource with
pruning", "LimitRange, resources")."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.conformance.support import CRDS, default_service_account, wait_for
from tests.e2e.httpsjson import JSONHandler, serve_https

HOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class Mutator(JSONHandler):
    """Adds an init container to pods and an unknown field to custom resources."""

    def do_POST(self):
        request = self.read_json()["request"]
        if request["kind"]["kind"] == "Pod":
            patch = [{"op": "add", "path": "/spec/initContainers",
                      "value": [{"name": "webhook-added-init-container", "image": "busybox"}]}]
        else:
            patch = [{"op": "add", "path": "/spec/webhookAdded", "value": "should be pruned"}]
        self.reply_json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {
            "uid": request["uid"], "allowed": True, "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode()}})


@pytest.fixture(scope="module")
def mutator(tmp_path_factory):
    server, ca = serve_https(Mutator, tmp_path_factory.mktemp("mutator"))
    yield f"https://127.0.0.1:{server.server_address[1]}/mutate", base64.b64encode(ca).decode()
    server.shutdown()


def hook(apiserver, name, url_and_ca, rule, namespace_label):
    url, ca = url_and_ca
    status, body = apiserver.request("POST", HOOKS, {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{"name": f"{name}.example.com", "clientConfig": {"url": url, "caBundle": ca},
                      "rules": [rule], "sideEffects": "None", "admissionReviewVersions": ["v1"],
                      "namespaceSelector": {"matchLabels": {namespace_label: "true"}}}]})
    assert status == 201, body


def namespace(apiserver, name, label):
    status, body = apiserver.request("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {label: "true"}}})
    assert status == 201, body


def test_mutation_with_defaulting(apiserver, mutator):
    """An init container a mutating webhook adds gets the defaults any container gets."""
    namespace(apiserver, "mutate-pods", "mutate-pods")
    default_service_account(apiserver, "mutate-pods")
    hook(apiserver, "add-init", mutator, {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                          "resources": ["pods"]}, "mutate-pods")
    status, created = apiserver.request("POST", "/api/v1/namespaces/mutate-pods/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert status == 201, created
    init, = created["spec"]["initContainers"]
    assert init["name"] == "webhook-added-init-container"
    assert init["terminationMessagePolicy"] == "File" and init["imagePullPolicy"] == "Always"
    assert init["terminationMessagePath"] == "/dev/termination-log"


def test_mutate_custom_resource_with_pruning(apiserver, mutator):
    """A field a mutating webhook adds outside the custom resource's schema is pruned before storage."""
    group = "pruning.example.com"
    status, body = apiserver.request("POST", CRDS, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced", "names": {"plural": "gadgets", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {
                         "size": {"type": "string"}}}}}}}]}})
    assert status == 201, body
    namespace(apiserver, "mutate-crs", "mutate-crs")
    hook(apiserver, "add-field", mutator, {"operations": ["CREATE"], "apiGroups": [group], "apiVersions": ["v1"],
                                           "resources": ["gadgets"]}, "mutate-crs")
    path = f"/apis/{group}/v1/namespaces/mutate-crs/gadgets"
    deadline = time.monotonic() + 30
    while apiserver.request("GET", path)[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    status, created = apiserver.request("POST", path, {"apiVersion": f"{group}/v1", "kind": "Gadget",
                                                       "metadata": {"name": "g"}, "spec": {"size": "big"}})
    assert status == 201, created
    assert created["spec"] == {"size": "big"}
    assert apiserver.request("GET", path + "/g")[1]["spec"] == {"size": "big"}


def test_limitrange_defaults_are_validated(apiserver):
    """A LimitRange's default limit below what a pod requests makes the pod invalid (422), as upstream
    validates the pod after LimitRanger filled in the defaults."""
    status, body = apiserver.request("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "limits"}})
    assert status == 201, body
    default_service_account(apiserver, "limits")
    status, body = apiserver.request("POST", "/api/v1/namespaces/limits/limitranges", {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "200m"}, "defaultRequest": {"cpu": "100m"},
                             "max": {"cpu": "1"}}]}})
    assert status == 201, body
    status, body = apiserver.request("POST", "/api/v1/namespaces/limits/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "greedy"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "300m"}}}]}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["message"] == \
        'Invalid value: "300m": must be less than or equal to cpu limit of 200m'
    status, body = apiserver.request("POST", "/api/v1/namespaces/limits/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "modest"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert status == 201 and body["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "200m"}, "requests": {"cpu": "100m"}}


class Recorder(JSONHandler):
    """Allows everything and keeps each AdmissionRequest."""

    requests: list = []

    def do_POST(self):
        request = self.read_json()["request"]
        Recorder.requests.append(request)
        self.reply_json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "response": {"uid": request["uid"], "allowed": True}})


def test_admission_requests_carry_dry_run_and_the_operations_options(apiserver, tmp_path):
    """As upstream: dryRun is the request's, and options is its CreateOptions, UpdateOptions or DeleteOptions."""
    server, ca = serve_https(Recorder, tmp_path)
    try:
        namespace(apiserver, "recorded", "recorded")
        status, body = apiserver.request(
                "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "recorder"},
            "webhooks": [{"name": "recorder.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                          "clientConfig": {"url": f"https://127.0.0.1:{server.server_address[1]}/",
                                           "caBundle": base64.b64encode(ca).decode()},
                          "rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": ["configmaps"]}],
                          "namespaceSelector": {"matchLabels": {"recorded": "true"}}}]})
        assert status == 201, body
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
        path = "/api/v1/namespaces/recorded/configmaps"

        def in_force():    # the configuration reaches the webhook admission through a watch: a moment later
            probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}}
            assert apiserver.request("POST", path + "?dryRun=All", probe)[0] == 201
            return any(r["name"] == "probe" for r in Recorder.requests)
        wait_for(in_force, what="the webhook in force")
        assert apiserver.request("POST", path + "?dryRun=All&fieldManager=me", cm)[0] == 201
        assert apiserver.request("POST", path, cm)[0] == 201
        assert apiserver.request("DELETE", path + "/c", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                         "propagationPolicy": "Background"})[0] == 200
        # (The root CA publisher's kube-root-ca.crt, written into the namespace meanwhile, is recorded too.)
        dry, real, deleted = [r for r in Recorder.requests if r["name"] == "c"]
        assert dry["dryRun"] is True and dry["options"] == {
            "kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"], "fieldManager": "me"}
        assert real["dryRun"] is False and real["options"]["kind"] == "CreateOptions"
        assert "dryRun" not in real["options"]
        assert deleted["operation"] == "DELETE" and deleted["options"] == {
            "kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Background"}
    finally:
        apiserver.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/recorder")
        server.shutdown()

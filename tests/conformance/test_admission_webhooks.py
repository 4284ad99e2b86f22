"""Dynamic admission webhooks: upstream's "Admission webhook, ..." conformance entries and the two
"... create and update ... webhook configuration with matchConditions" ones.

Upstream's e2e tests deploy agnhost's webhook server in the cluster; here webhookbackend.Backend, a local HTTPS
server, answers on the same paths the way those endpoints do, and each test works in its own webhook
Scenario (namespace, markers namespace, configurations deleted at the end)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conformance.webhookbackend import (
    ADMISSION,
    CRDS,
    RESOURCES,
    Backend,
    Scenario,
    WebhookServer,
    call,
    create_crd,
    custom_resource,
    custom_resources,
    delete_crd,
    deny_configmap_webhook,
    eventually,
    mutate_configmap_webhook,
    noncompliant_configmap_denied,
    open_schema,
    rule,
    to_be_mutated_configmap_mutated,
)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    server = WebhookServer.start(tmp_path_factory.mktemp("webhook-backend"))
    yield server
    server.stop()


@pytest.fixture
def scenario(apiserver, backend):
    """Make a test's Scenario by its label; its webhook configurations are deleted when the test ends."""
    made = []

    def make(label):
        made.append(Scenario(apiserver, backend, label))
        return made[-1]
    yield make
    for each in made:
        each.cleanup()


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
    assert "/pods?timeout=10s" in body["message"]   # the default timeout, as the call's URL tells it
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
        assert status == 200 and current["data"] == {"webhook-e2e-test": "webhook-nondeletable"}, current
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
    assert 'failed calling webhook "fail-closed.k8s.io"' in body["message"], body
    # Without the caBundle the webhook's certificate cannot be verified; told in Go's words, as upstream.
    assert body["message"].endswith(
        ": tls: failed to verify certificate: x509: certificate signed by unknown authority"), body


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
    assert body["message"].endswith("context deadline exceeded")
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

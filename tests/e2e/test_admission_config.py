"""
--admission-control-config-file on a running server, through the official
Python client: ResourceQuota's limitedResources, PodNodeSelector's merge,
EventRateLimit's 429, the credentials a WebhookAdmissionConfiguration's
kubeconfig presents to a webhook served by the test, and a bad file stopping
startup with one line.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import sys

import pytest


from tests.conformance.support import wait_for

from .conftest import APIServerProcess
from .httpsjson import JSONHandler, serve_https

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

AUTHORIZATIONS: list = []


class _Webhook(JSONHandler):
    """Allows every AdmissionReview and remembers the Authorization header it came with."""

    def do_POST(self):
        body = self.read_json()
        AUTHORIZATIONS.append(self.headers.get("Authorization"))
        self.reply_json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "response": {"uid": body["request"]["uid"], "allowed": True}})


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    server, ca_pem = serve_https(_Webhook, tmp_path_factory.mktemp("admission-webhook"), hosts=("127.0.0.1",))
    yield f"127.0.0.1:{server.server_address[1]}", ca_pem
    server.shutdown()


@pytest.fixture(scope="module")
def configured(webhook, tmp_path_factory):
    host_port, _ = webhook
    base = tmp_path_factory.mktemp("admission-config")
    (base / "webhooks.kubeconfig").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "users": [{"name": host_port, "user": {"token": "hook-secret"}},
                  {"name": "*", "user": {"token": "wrong-one"}}]}))
    (base / "podnodeselector.yaml").write_text("podNodeSelectorPluginConfig:\n"
                                               "  clusterDefaultNodeSelector: region=eu\n")
    (base / "admission.yaml").write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration", "plugins": [
            {"name": "ResourceQuota", "configuration": {
                "apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
                "limitedResources": [{"resource": "pods", "matchContains": ["requests.cpu"]}]}},
            {"name": "PodNodeSelector", "path": "podnodeselector.yaml"},
            {"name": "EventRateLimit", "configuration": {
                "apiVersion": "eventratelimit.admission.k8s.io/v1alpha1", "kind": "Configuration",
                "limits": [{"type": "Namespace", "qps": 1, "burst": 3}]}},
            {"name": "ValidatingAdmissionWebhook", "configuration": {
                "apiVersion": "apiserver.config.k8s.io/v1", "kind": "WebhookAdmissionConfiguration",
                "kubeConfigFile": str(base / "webhooks.kubeconfig")}},
        ]}))
    server = APIServerProcess(base / "data", args=(
        "--enable-admission-plugins=PodNodeSelector,EventRateLimit",
        f"--admission-control-config-file={base / 'admission.yaml'}")).start()
    configuration = client.Configuration()
    configuration.host = server.url
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api), api, base
    server.stop()


def _namespace(core, name, annotations=None, labels=None):
    """``name``, created, once it has its default ServiceAccount (ServiceAccount admission refuses its pods
    until the controller has made it)."""
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, annotations=annotations, labels=labels)))

    def account():
        try:
            return core.read_namespaced_service_account("default", name)
        except ApiException as e:
            if e.status != 404:
                raise
            return None
    wait_for(account, what=f"the default ServiceAccount of {name}")


def _pod(name, cpu=None, node_selector=None):
    resources = client.V1ResourceRequirements(requests={"cpu": cpu}) if cpu else None
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="busybox", resources=resources)],
        node_selector=node_selector))


def test_limited_resources_need_a_covering_quota(configured):
    """CPU-requesting pods are refused where no quota limits requests.cpu, and admitted once one does."""
    core, _, _ = configured
    _namespace(core, "limited")
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod("limited", _pod("hungry", cpu="100m"))
    body = json.loads(info.value.body)
    assert (info.value.status, body["reason"], body["message"]) == (
        403, "Forbidden", 'pods "hungry" is forbidden: insufficient quota to consume: requests.cpu')
    core.create_namespaced_pod("limited", _pod("modest"))  # no CPU asked, nothing limited consumed
    core.create_namespaced_resource_quota("limited", client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="cpu"), spec=client.V1ResourceQuotaSpec(hard={"requests.cpu": "1"})))
    assert core.create_namespaced_pod("limited", _pod("hungry", cpu="100m")).metadata.name == "hungry"


def test_pod_node_selector_merges_and_refuses_conflicts(configured):
    """The namespace annotation (else the configured cluster default) joins the pod's nodeSelector."""
    core, _, _ = configured
    _namespace(core, "ssd-only", annotations={"scheduler.alpha.kubernetes.io/node-selector": "disk=ssd"})
    _namespace(core, "anywhere")
    created = core.create_namespaced_pod("ssd-only", _pod("p", node_selector={"app": "web"}))
    assert created.spec.node_selector == {"disk": "ssd", "app": "web"}
    assert core.create_namespaced_pod("anywhere", _pod("p")).spec.node_selector == {"region": "eu"}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod("ssd-only", _pod("q", node_selector={"disk": "hdd"}))
    assert info.value.status == 403
    assert json.loads(info.value.body)["message"] == ('pods "q" is forbidden: pod node label selector conflicts '
                                                      'with its namespace node label selector')


def test_event_rate_limit_answers_429(configured):
    """Past the namespace's burst, events are refused with 429 and upstream's message."""
    core, api, _ = configured
    _namespace(core, "storm")
    outcomes = []
    for i in range(5):
        event = client.CoreV1Event(metadata=client.V1ObjectMeta(name=f"e{i}"), involved_object=client.V1ObjectReference(
            kind="Pod", name="p", namespace="storm"), reason="Tested", message="m", type="Normal")
        try:
            core.create_namespaced_event("storm", event)
            outcomes.append(201)
        except ApiException as e:
            outcomes.append((e.status, json.loads(e.body)["message"]))
    assert outcomes[:3] == [201, 201, 201]
    assert (429, "Too many requests: limit reached on type Namespace for key storm") in outcomes[3:]


def test_webhook_is_called_with_the_kubeconfig_credentials(configured, webhook):
    """The validating webhook receives the bearer token of the kubeconfig user named by its host:port."""
    core, api, _ = configured
    host_port, ca_pem = webhook
    client.AdmissionregistrationV1Api(api).create_validating_webhook_configuration(
        client.V1ValidatingWebhookConfiguration(
            metadata=client.V1ObjectMeta(name="check"),
            webhooks=[client.V1ValidatingWebhook(
                name="check.example.com", side_effects="None", admission_review_versions=["v1"],
                client_config=client.AdmissionregistrationV1WebhookClientConfig(
                    url=f"https://{host_port}/check", ca_bundle=base64.b64encode(ca_pem).decode()),
                namespace_selector=client.V1LabelSelector(match_labels={"hooks": "on"}),
                rules=[client.V1RuleWithOperations(operations=["CREATE"], api_groups=[""], api_versions=["v1"],
                                                   resources=["configmaps"])])]))
    _namespace(core, "hooked", labels={"hooks": "on"})
    # The apiserver's root CA publisher creates kube-root-ca.crt there too (through the webhook): let it first.
    deadline = time.monotonic() + 30
    while not any(cm.metadata.name == "kube-root-ca.crt" for cm in core.list_namespaced_config_map("hooked").items):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    AUTHORIZATIONS.clear()
    core.create_namespaced_config_map("hooked", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    assert AUTHORIZATIONS == ["Bearer hook-secret"]


def test_bad_file_stops_startup_with_one_line(tmp_path):
    """An unusable configuration makes kube-apiserver exit non-zero, saying why in one line, no traceback."""
    (tmp_path / "admission.yaml").write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: Nope\n")
    done = subprocess.run([sys.executable, "-m", "kapiserver", f"--data-dir={tmp_path / 'data'}",
                           f"--admission-control-config-file={tmp_path / 'admission.yaml'}"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert 'no kind "Nope" is registered for version "apiserver.config.k8s.io/v1"' in done.stderr
    assert "Traceback" not in done.stderr + done.stdout

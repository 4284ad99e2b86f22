"""A mutating webhook that injects a container (a sidecar injector) against the server's default admission chain:
the webhook's change makes the whole mutating phase run again, so ServiceAccount admission mounts the pod's token
into the injected container too, and the in-tree plugins' second run adds nothing twice (upstream's reinvocation
handler)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from .conftest import APIServerProcess
from .httpsjson import JSONHandler, serve_https


class _Injector(JSONHandler):
    def do_POST(self):
        review = self.read_json()
        request = review["request"]
        response = {"uid": request["uid"], "allowed": True}
        if "sidecar" not in [c["name"] for c in request["object"]["spec"]["containers"]]:
            patch = [{"op": "add", "path": "/spec/containers/-", "value": {"name": "sidecar", "image": "busybox"}}]
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        self.reply_json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    base = tmp_path_factory.mktemp("injector")
    server, ca = serve_https(_Injector, base)
    api = APIServerProcess(base / "data").start()
    yield api, f"https://127.0.0.1:{server.server_address[1]}/inject", ca
    api.stop()
    server.shutdown()


def test_an_injected_container_gets_what_the_in_tree_plugins_give(injected):
    api, url, ca = injected
    hook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "inject"}, "webhooks": [{
                "name": "inject.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca).decode()},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["pods"]}]}]}
    assert api.request("POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", hook)[0] == 201
    deadline = time.monotonic() + 30
    while api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] != 200:
        assert time.monotonic() < deadline, "no default service account"
        time.sleep(0.05)
    status, pod = api.request("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}], "priorityClassName": "system-cluster-critical"}})
    assert status == 201, pod
    spec = pod["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app", "sidecar"]
    [volume] = [v["name"] for v in spec["volumes"]]
    for container in spec["containers"]:
        assert [m["name"] for m in container["volumeMounts"]] == [volume], container
    assert [t["key"] for t in spec["tolerations"]] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    assert spec["priority"] == 2000000000

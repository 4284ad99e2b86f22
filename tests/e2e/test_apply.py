"""Server-side apply and managedFields end to end: kubectl apply --server-side, kubectl diff, the Python client."""

from __future__ import annotations

import json
import time

import pytest

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
  labels:
    app: {name}
{extra_labels}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: nginx
        image: {image}
        ports:
        - containerPort: 80
"""

APPLY = {"Content-Type": "application/apply-patch+yaml"}

WIDGETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.ssa.example.com"},
    "spec": {"group": "ssa.example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "size": {"type": "integer"},
                     "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                     "ports": {"type": "array", "x-kubernetes-list-type": "map",
                               "x-kubernetes-list-map-keys": ["name"],
                               "items": {"type": "object", "required": ["name"], "properties": {
                                   "name": {"type": "string"}, "port": {"type": "integer"}}}}}}}}}}]}}


def deployment(name, replicas=2, image="nginx:1.27", extra_labels=""):
    return DEPLOYMENT.format(name=name, replicas=replicas, image=image, extra_labels=extra_labels)


def managers(obj):
    return {(e.get("manager", ""), e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def test_apply_server_side_creates_then_updates(kubectl):
    """apply --server-side creates the object owned by kubectl (Apply), and a second apply updates it."""
    first = kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-web"))
    assert "deployment.apps/ssa-web serverside-applied" in first.stdout
    obj = kubectl.json("get", "deploy", "ssa-web", "--show-managed-fields")
    entry = managers(obj)[("kubectl", "Apply")]
    assert entry["apiVersion"] == "apps/v1" and entry["fieldsType"] == "FieldsV1" and entry["time"]
    fields = entry["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["."] == {} and "f:image" in container
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-web", replicas=3, image="nginx:1.28"))
    obj = kubectl.json("get", "deploy", "ssa-web")
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    again = kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-web", replicas=3, image="nginx:1.28"))
    assert "serverside-applied" in again.stdout
    assert kubectl.json("get", "deploy", "ssa-web")["metadata"]["resourceVersion"] == \
        obj["metadata"]["resourceVersion"]


def test_conflict_with_an_updater_and_force(kubectl):
    """A field another manager set by an update is a 409 conflict naming it; --force-conflicts takes the field."""
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-conflict"))
    kubectl("patch", "deploy", "ssa-conflict", "--type=merge", "-p", '{"spec":{"replicas":4}}')
    obj = kubectl.json("get", "deploy", "ssa-conflict", "--show-managed-fields")
    assert managers(obj)[("kubectl-patch", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managers(obj)[("kubectl", "Apply")]["fieldsV1"]["f:spec"]
    failed = kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-conflict", replicas=6), check=False)
    assert failed.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas' \
        in failed.stderr
    assert kubectl.json("get", "deploy", "ssa-conflict")["spec"]["replicas"] == 4
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=deployment("ssa-conflict", replicas=6))
    obj = kubectl.json("get", "deploy", "ssa-conflict", "--show-managed-fields")
    assert obj["spec"]["replicas"] == 6
    assert ("kubectl-patch", "Update") not in managers(obj)
    assert managers(obj)[("kubectl", "Apply")]["fieldsV1"]["f:spec"]["f:replicas"] == {}


def test_conflict_between_two_appliers(apiserver, kubectl):
    """Two appliers of one field with different values conflict; with the same value they share it."""
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-two"))
    path = "/apis/apps/v1/namespaces/default/deployments/ssa-two?fieldManager=other"
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-two"},
              "spec": {"replicas": 5}}
    status, body = apiserver.request("PATCH", path, json.dumps(config).encode(), APPLY)
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert body["details"]["causes"] == [{"type": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                                          "field": ".spec.replicas"}]
    config["spec"]["replicas"] = 2
    status, body = apiserver.request("PATCH", path, json.dumps(config).encode(), APPLY)
    assert status == 200
    owners = managers(body)
    assert owners[("other", "Apply")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert owners[("kubectl", "Apply")]["fieldsV1"]["f:spec"]["f:replicas"] == {}


def test_fields_dropped_from_the_config_are_removed(kubectl):
    """A field the applier stops applying is removed unless another manager owns it too."""
    kubectl("apply", "--server-side", "-f", "-",
            input=deployment("ssa-prune", extra_labels="    tier: web\n    team: a"))
    kubectl("label", "deploy", "ssa-prune", "team=b", "--overwrite")
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-prune"))
    labels = kubectl.json("get", "deploy", "ssa-prune")["metadata"]["labels"]
    assert labels == {"app": "ssa-prune", "team": "b"}


def test_kubectl_diff_is_a_dry_run(kubectl):
    """kubectl diff --server-side shows the change an apply would make and changes nothing."""
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-diff"))
    before = kubectl.json("get", "deploy", "ssa-diff")
    result = kubectl("diff", "--server-side", "-f", "-", input=deployment("ssa-diff", replicas=7), check=False)
    assert result.returncode == 1, result.stderr
    assert "-  replicas: 2" in result.stdout and "+  replicas: 7" in result.stdout
    none = kubectl("diff", "--server-side", "-f", "-", input=deployment("ssa-diff"), check=False)
    assert none.returncode == 0, none.stdout + none.stderr
    client_side = kubectl("diff", "-f", "-", input=deployment("ssa-diff", replicas=7), check=False)
    assert client_side.returncode == 1 and "+  replicas: 7" in client_side.stdout
    after = kubectl.json("get", "deploy", "ssa-diff")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_updates_are_recorded_with_their_manager(apiserver, kubectl):
    """create and update record an Update entry, named by fieldManager or else by the User-Agent."""
    kubectl("create", "configmap", "ssa-cm", "--from-literal=a=1")
    obj = kubectl.json("get", "cm", "ssa-cm", "--show-managed-fields")
    entry = managers(obj)[("kubectl-create", "Update")]
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    status, body = apiserver.request("PATCH", "/api/v1/namespaces/default/configmaps/ssa-cm",
                                     b'{"data":{"b":"2"}}', {"Content-Type": "application/merge-patch+json",
                                                             "User-Agent": "my-controller/1.0 (linux)"})
    assert status == 200
    assert managers(body)[("my-controller", "Update")]["fieldsV1"] == {"f:data": {"f:b": {}}}


def test_managed_fields_in_a_request_are_honoured(apiserver, kubectl):
    """managedFields: [] clears them; invalid managedFields are replaced by the live ones."""
    kubectl("create", "configmap", "ssa-reset", "--from-literal=a=1")
    path = "/api/v1/namespaces/default/configmaps/ssa-reset"
    merge = {"Content-Type": "application/merge-patch+json"}
    status, body = apiserver.request("PATCH", path, b'{"metadata":{"managedFields":[{"manager":"x",'
                                     b'"operation":"Update","fieldsType":"Bogus","fieldsV1":{}}]}}', merge)
    assert status == 200 and [e["manager"] for e in body["metadata"]["managedFields"]] == ["kubectl-create"]
    status, body = apiserver.request("PATCH", path, b'{"metadata":{"managedFields":[]}}', merge)
    assert status == 200 and "managedFields" not in body["metadata"]


def test_apply_without_field_manager_is_invalid(apiserver):
    """An apply without fieldManager is upstream's 422 on PatchOptions; force on another patch type too."""
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-nofm"}, "data": {"a": "1"}}
    status, body = apiserver.request("PATCH", "/api/v1/namespaces/default/configmaps/ssa-nofm",
                                     json.dumps(config).encode(), APPLY)
    assert status == 422 and body["message"] == \
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    status, body = apiserver.request("PATCH", "/api/v1/namespaces/default/configmaps/ssa-nofm?force=true",
                                     b"{}", {"Content-Type": "application/merge-patch+json"})
    assert status == 422 and "force: Forbidden: may not be specified for non-apply patch" in body["message"]
    status, body = apiserver.request("PATCH", "/api/v1/namespaces/default/configmaps/ssa-nofm?fieldManager=m",
                                     b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa-nofm\n"
                                     b"  managedFields: [{manager: x}]\n", APPLY)
    assert status == 400 and body["message"] == "metadata.managedFields must be nil"


def test_python_client_apply(apiserver, k8s):
    """The Python client's apply-patch content type and DynamicClient.server_side_apply create and update."""
    kubernetes = pytest.importorskip("kubernetes")
    core = kubernetes.client.CoreV1Api(k8s)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-py"}, "data": {"a": "1", "b": "2"}}
    created = core.patch_namespaced_config_map("ssa-py", "default", body, field_manager="py",
                                               _content_type="application/apply-patch+yaml")
    assert created.data == {"a": "1", "b": "2"}
    assert created.metadata.managed_fields[0].manager == "py"
    assert created.metadata.managed_fields[0].operation == "Apply"
    body["data"] = {"a": "3"}
    updated = core.patch_namespaced_config_map("ssa-py", "default", body, field_manager="py",
                                               _content_type="application/apply-patch+yaml")
    assert updated.data == {"a": "3"}
    dynamic = kubernetes.dynamic.DynamicClient(k8s)
    api = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    result = api.server_side_apply(body={"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "ssa-dyn", "namespace": "default"},
                                         "data": {"x": "y"}}, namespace="default", field_manager="dyn")
    assert result.data.x == "y"
    assert result.metadata.managedFields[0].manager == "dyn"


def test_custom_resource_lists_merge_per_list_type(apiserver, kubectl):
    """A custom resource's list-type map merges by key and list-type set by value between two appliers."""
    kubectl("apply", "-f", "-", input=json.dumps(WIDGETS_CRD))
    path = "/apis/ssa.example.com/v1/namespaces/default/widgets/w1?fieldManager="
    base = {"apiVersion": "ssa.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    deadline = time.monotonic() + 30
    while True:
        status, body = apiserver.request("PATCH", path + "a", json.dumps(dict(base, spec={
            "size": 1, "tags": ["x"], "ports": [{"name": "http", "port": 80}]})).encode(), APPLY)
        if status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 201, body
    status, body = apiserver.request("PATCH", path + "b", json.dumps(dict(base, spec={
        "tags": ["y"], "ports": [{"name": "https", "port": 443}]})).encode(), APPLY)
    assert status == 200, body
    assert body["spec"]["tags"] == ["x", "y"]
    assert body["spec"]["ports"] == [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    owned = managers(body)[("b", "Apply")]["fieldsV1"]["f:spec"]
    assert owned == {"f:ports": {'k:{"name":"https"}': {".": {}, "f:name": {}, "f:port": {}}},
                     "f:tags": {'v:"y"': {}}}
    status, body = apiserver.request("PATCH", path + "a", json.dumps(dict(base, spec={
        "size": 1, "tags": []})).encode(), APPLY)
    assert status == 200, body
    assert body["spec"]["tags"] == ["y"] and body["spec"]["ports"] == [{"name": "https", "port": 443}]


def test_upgrade_from_client_side_apply(kubectl):
    """After a client-side apply, apply --server-side by kubectl changes the fields it set without conflicts,
    and keeps the last-applied annotation in step."""
    kubectl("apply", "-f", "-", input=deployment("ssa-upgrade"))
    obj = kubectl.json("get", "deploy", "ssa-upgrade", "--show-managed-fields")
    assert ("kubectl-client-side-apply", "Update") in managers(obj)
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-upgrade", replicas=4))
    obj = kubectl.json("get", "deploy", "ssa-upgrade", "--show-managed-fields")
    assert obj["spec"]["replicas"] == 4
    assert managers(obj)[("kubectl", "Apply")]["fieldsV1"]["f:spec"]["f:replicas"] == {}
    last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 4


def test_first_apply_to_an_untracked_object(apiserver, kubectl):
    """Fields of an object without managedFields belong to before-first-apply, and an apply conflicts with them."""
    kubectl("create", "configmap", "ssa-untracked", "--from-literal=a=1")
    path = "/api/v1/namespaces/default/configmaps/ssa-untracked"
    status, body = apiserver.request("PATCH", path, b'{"metadata":{"managedFields":[]}}',
                                     {"Content-Type": "application/merge-patch+json"})
    assert status == 200 and "managedFields" not in body["metadata"]
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-untracked"}, "data": {"a": "2"}}
    status, body = apiserver.request("PATCH", path + "?fieldManager=tool", json.dumps(config).encode(), APPLY)
    assert status == 409
    assert body["message"] == \
        'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a'


def test_apply_through_the_status_subresource(apiserver, kubectl):
    """An apply to /status changes and owns only the status, in an entry marked with the subresource."""
    kubectl("apply", "--server-side", "-f", "-", input=deployment("ssa-status"))
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa-status"},
              "spec": {"replicas": 9}, "status": {"observedGeneration": 1}}
    status, body = apiserver.request(
        "PATCH", "/apis/apps/v1/namespaces/default/deployments/ssa-status/status?fieldManager=ctl",
        json.dumps(config).encode(), APPLY)
    assert status == 200, body
    assert body["spec"]["replicas"] == 2 and body["status"]["observedGeneration"] == 1
    (entry,) = [e for e in body["metadata"]["managedFields"] if e["manager"] == "ctl"]
    assert entry["operation"] == "Apply" and entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}}}


def test_apply_of_an_undeclared_field_is_refused(kubectl):
    """kubectl apply --server-side of a field the schema lacks fails as upstream, even without validation."""
    manifest = deployment("ssa-bogus").replace("  replicas: 2\n", "  replicas: 2\n  bogus: 1\n")
    failed = kubectl("apply", "--server-side", "--validate=false", "-f", "-", input=manifest, check=False)
    assert failed.returncode != 0
    assert "failed to create typed patch object (default/ssa-bogus; apps/v1, Kind=Deployment): " \
           ".spec.bogus: field not declared in schema" in failed.stderr


def test_field_manager_is_validated(apiserver):
    """A fieldManager longer than 128 bytes is refused with upstream's 422 on the verb's options."""
    status, body = apiserver.request("POST", "/api/v1/namespaces/default/configmaps?fieldManager=" + "m" * 129,
                                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-long"}})
    assert status == 422
    assert body["message"] == \
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes'


def test_server_dry_run_apply_changes_nothing(kubectl):
    """apply --server-side --dry-run=server answers with the result and stores nothing."""
    result = kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=deployment("ssa-dry"))
    assert "deployment.apps/ssa-dry serverside-applied (server dry run)" in result.stdout
    missing = kubectl("get", "deploy", "ssa-dry", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_kubectl_server_side_apply_of_a_custom_resource(kubectl):
    """kubectl apply --server-side creates and updates a custom resource, pruning what the config drops."""
    kubectl("apply", "-f", "-", input=json.dumps(WIDGETS_CRD))
    widget = {"apiVersion": "ssa.example.com/v1", "kind": "Widget", "metadata": {"name": "w2", "namespace": "default"},
              "spec": {"size": 2, "tags": ["a", "b"]}}
    deadline = time.monotonic() + 30
    while True:
        result = kubectl("apply", "--server-side", "-f", "-", input=json.dumps(widget), check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "widget.ssa.example.com/w2 serverside-applied" in result.stdout, result.stderr
    widget["spec"] = {"tags": ["b"]}
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(widget))
    obj = kubectl.json("get", "widget", "w2", "--show-managed-fields")
    assert obj["spec"] == {"tags": ["b"]}
    assert managers(obj)[("kubectl", "Apply")]["fieldsV1"] == {"f:spec": {"f:tags": {'v:"b"': {}}}}


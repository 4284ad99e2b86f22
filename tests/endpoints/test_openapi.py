"""The /openapi/v3 index and documents, and the /openapi/v2 document."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time

import pytest

from kapiserver.endpoints import openapi
from kapiserver.machinery import codec
from kapiserver.registry.catalog import Catalog, ResourceInfo, Subresource

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
CRD_SCHEMA = {
    "com.example.stable.v1.CronTab": {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
            "spec": {"type": "object", "properties": {"cronSpec": {"type": "string", "description": "When."}}},
        },
        "x-kubernetes-group-version-kind": [{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}],
    },
}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


def _doc(catalog, path, **kw) -> dict:
    body, _ = openapi.openapi_v3_document(catalog, path, **kw)
    return codec.loads(body)


def _operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def _patch_for(doc, gvk):
    for path, method, op in _operations(doc):
        if method == "patch" and op.get("x-kubernetes-group-version-kind") == gvk:
            return path, op
    return None, None


def _all_params(item, op):
    return [p["name"] for p in item.get("parameters", []) + op.get("parameters", [])]


def _assert_refs_resolve(doc, prefix="#/components/schemas/", where=("components", "schemas")):
    defs = doc
    for key in where:
        defs = defs[key]
    missing = set()

    def walk(value):
        if isinstance(value, dict):
            for key, sub in value.items():
                if key == "$ref" and isinstance(sub, str):
                    # (a "$ref" whose value is a schema is a property named $ref: JSONSchemaProps has one)
                    assert sub.startswith(prefix), sub
                    if sub[len(prefix):] not in defs:
                        missing.add(sub)
                else:
                    walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(doc)
    assert not missing


def test_index_lists_every_group_version(catalog):
    """The index names api, apis, version, every group and every served group-version, with hash URLs."""
    index = openapi.openapi_v3_index(catalog)
    paths = index["paths"]
    assert list(paths) == sorted(paths)
    for group, versions in catalog.groups:
        for version in versions:
            assert (f"apis/{group}/{version}" if group else f"api/{version}") in paths
        if group:
            assert f"apis/{group}" in paths
    assert {"api", "apis", "version", "api/v1", "apis/apps/v1", "apis/autoscaling/v1"} <= set(paths)
    body, digest = openapi.openapi_v3_document(catalog, "api/v1")
    assert paths["api/v1"] == {"serverRelativeURL": f"/openapi/v3/api/v1?hash={digest}"}
    assert digest == hashlib.sha512(body).hexdigest().upper()


def test_every_document_is_closed_and_patchable(catalog):
    """Every listed document resolves all its refs, and every patchable resource has a PATCH op with
    its GVK and the dryRun/fieldManager/fieldValidation/force query parameters (what kubectl checks)."""
    for path in openapi.openapi_v3_index(catalog)["paths"]:
        doc = _doc(catalog, path)
        assert doc["openapi"] == "3.0.0"
        assert doc["info"] == {"title": "Kubernetes", "version": "v1.32.4"}
        _assert_refs_resolve(doc)
        gv = path.split("/")[1:] if path.startswith("api/") else path.split("/")[1:]
        if path.startswith("api/"):
            group, version = "", gv[0]
        elif path.startswith("apis/") and len(gv) == 2:
            group, version = gv
        else:
            continue
        for info in catalog.resources(group, version):
            if "patch" not in info.verbs:
                continue
            gvk = {"group": group, "version": version, "kind": info.kind}
            item_path, op = _patch_for(doc, gvk)
            assert op is not None, (path, info.kind)
            params = _all_params(doc["paths"][item_path], op)
            assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= set(params)
            assert op["x-kubernetes-action"] == "patch"


def test_pod_paths_and_operations(catalog):
    """api/v1 carries upstream's pod paths, operation ids, actions and patch content types."""
    doc = _doc(catalog, "api/v1")
    paths = doc["paths"]
    for path in ("/api/v1/", "/api/v1/pods", "/api/v1/watch/pods", "/api/v1/namespaces/{namespace}/pods",
                 "/api/v1/namespaces/{namespace}/pods/{name}", "/api/v1/namespaces/{namespace}/pods/{name}/status",
                 "/api/v1/namespaces/{namespace}/pods/{name}/log", "/api/v1/namespaces/{namespace}/pods/{name}/exec",
                 "/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}",
                 "/api/v1/watch/namespaces/{namespace}/pods/{name}"):
        assert path in paths, path
    collection = paths["/api/v1/namespaces/{namespace}/pods"]
    assert collection["get"]["operationId"] == "listCoreV1NamespacedPod"
    assert collection["post"]["operationId"] == "createCoreV1NamespacedPod"
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert [p["name"] for p in collection["parameters"]] == ["namespace", "pretty"]
    assert "watch" in [p["name"] for p in collection["get"]["parameters"]]
    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert item["patch"]["operationId"] == "patchCoreV1NamespacedPod"
    assert sorted(item["patch"]["requestBody"]["content"]) == [
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json"]
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Pod"}
    assert paths["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    exec_item = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert exec_item["get"]["operationId"] == "connectCoreV1GetNamespacedPodExec"
    assert exec_item["post"]["x-kubernetes-action"] == "connect"
    assert {"command", "container", "stdin", "tty"} <= {p["name"] for p in exec_item["parameters"]}
    eviction = paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
    assert eviction["x-kubernetes-group-version-kind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert "io.k8s.api.policy.v1.Eviction" in doc["components"]["schemas"]
    status = paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]
    assert status["get"]["operationId"] == "readCoreV1NamespacedPodStatus"
    assert "put" in status and "patch" in status


def test_schemas_keep_patch_directives(catalog):
    """The Pod schema in api/v1 keeps the strategic-merge directives kubectl apply relies on."""
    schemas = _doc(catalog, "api/v1")["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert schemas["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}]


def test_deployments_scale_and_tags(catalog):
    """apps/v1 has deployments with the autoscaling/v1 Scale subresource and apps_v1 tags."""
    doc = _doc(catalog, "apis/apps/v1")
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"]["operationId"] == "readAppsV1NamespacedDeploymentScale"
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "version": "v1",
                                                                 "kind": "Scale"}
    assert scale["get"]["tags"] == ["apps_v1"]
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    assert "io.k8s.api.core.v1.Pod" not in doc["components"]["schemas"]  # only what apps/v1 reaches


def test_operation_ids_for_dotted_groups(catalog):
    """Operation ids and tags camel-case dotted group names without their .k8s.io suffix."""
    doc = _doc(catalog, "apis/rbac.authorization.k8s.io/v1")
    item = doc["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]
    assert item["patch"]["operationId"] == "patchRbacAuthorizationV1ClusterRole"
    assert item["patch"]["tags"] == ["rbacAuthorization_v1"]
    reviews = _doc(catalog, "apis/authorization.k8s.io/v1")["paths"]
    assert reviews["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]["post"]["operationId"] == \
        "createAuthorizationV1SelfSubjectAccessReview"


def test_group_and_root_documents(catalog):
    """The apis/<group>, api, apis and version documents describe their one discovery operation."""
    group = _doc(catalog, "apis/apps")
    assert group["paths"]["/apis/apps/"]["get"]["operationId"] == "getAppsAPIGroup"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup" in group["components"]["schemas"]
    assert _doc(catalog, "api")["paths"]["/api/"]["get"]["operationId"] == "getCoreAPIVersions"
    assert _doc(catalog, "apis")["paths"]["/apis/"]["get"]["operationId"] == "getAPIVersions"
    assert "io.k8s.apimachinery.pkg.version.Info" in _doc(catalog, "version")["components"]["schemas"]


def test_unknown_documents(catalog):
    """Paths that are not served give None (the handler answers 404)."""
    for path in ("apis/apps/v1beta1", "apis/nope.example.com", "apis/nope.example.com/v1", "api/v2", "logs", ""):
        assert openapi.openapi_v3_document(catalog, path) is None


def test_custom_resource_document(catalog):
    """A CRD group-version gets its own document: its extra schema, a synthesized list schema, and no
    strategic merge patch (kubectl then uses a merge patch for it)."""
    catalog.add(ResourceInfo("stable.example.com", "v1", "crontabs", "CronTab", True, subresources=(
        Subresource("status", "CronTab", ("get", "patch", "update")),
        Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1"))))
    assert "apis/stable.example.com/v1" in openapi.openapi_v3_index(catalog, extra_schemas=CRD_SCHEMA)["paths"]
    doc = _doc(catalog, "apis/stable.example.com/v1", extra_schemas=CRD_SCHEMA)
    _assert_refs_resolve(doc)
    schemas = doc["components"]["schemas"]
    assert schemas["com.example.stable.v1.CronTab"] == CRD_SCHEMA["com.example.stable.v1.CronTab"]
    assert "com.example.stable.v1.CronTabList" in schemas
    item = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
    assert item["patch"]["operationId"] == "patchStableExampleComV1NamespacedCronTab"
    assert "application/strategic-merge-patch+json" not in item["patch"]["requestBody"]["content"]
    assert "application/vnd.kubernetes.protobuf" not in item["get"]["responses"]["200"]["content"]
    scale = doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale"]
    assert "application/strategic-merge-patch+json" not in scale["patch"]["requestBody"]["content"]


def test_custom_resource_without_schema_still_documented(catalog):
    """A resource whose kind has no schema gets a permissive one, so its document stays complete."""
    catalog.add(ResourceInfo("x.example.com", "v1alpha1", "gadgets", "Gadget", False))
    doc = _doc(catalog, "apis/x.example.com/v1alpha1")
    _assert_refs_resolve(doc)
    gadget = doc["components"]["schemas"]["com.example.x.v1alpha1.Gadget"]
    assert gadget["x-kubernetes-preserve-unknown-fields"] is True
    _, op = _patch_for(doc, {"group": "x.example.com", "version": "v1alpha1", "kind": "Gadget"})
    assert op is not None


def test_documents_change_only_with_their_group_version(catalog):
    """Adding a CRD leaves other documents' hashes alone and a changed schema changes its own hash."""
    before = openapi.openapi_v3_index(catalog)["paths"]
    catalog.add(ResourceInfo("stable.example.com", "v1", "crontabs", "CronTab", True))
    after = openapi.openapi_v3_index(catalog, extra_schemas=CRD_SCHEMA)["paths"]
    assert after["api/v1"] == before["api/v1"]
    changed = {name: dict(value, description="changed") for name, value in CRD_SCHEMA.items()}
    again = openapi.openapi_v3_index(catalog, extra_schemas=changed)["paths"]
    assert again["apis/stable.example.com/v1"] != after["apis/stable.example.com/v1"]


def test_index_is_fast_once_warm(catalog):
    """With documents cached, rebuilding the index takes a few milliseconds."""
    openapi.openapi_v3_index(catalog)
    start = time.perf_counter()
    openapi.openapi_v3_index(catalog)
    assert time.perf_counter() - start < 0.02


def test_openapi_v2_document(catalog):
    """The Swagger 2.0 document has every group-version's paths and resolvable definitions."""
    doc = codec.loads(openapi.openapi_v2_document(catalog))
    assert doc["swagger"] == "2.0"
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in doc["paths"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments" in doc["paths"]
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert patch["parameters"][0] == {"name": "body", "in": "body", "required": True,
                                      "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
    _assert_refs_resolve(doc, "#/definitions/", ("definitions",))


@pytest.mark.skipif(not shutil.which(KUBECTL), reason="kubectl 1.32 not installed")
def test_kubectl_explain_and_create_validation(catalog, tmp_path):
    """A real kubectl explains pods.spec.containers and, validating strictly, creates a pod: it found
    the PATCH operation with fieldValidation and so sent fieldValidation=Strict."""
    from kubectl_server import serve

    server, url = serve(catalog)
    try:
        (tmp_path / "kubeconfig").write_text("")
        (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\n"
                                           "spec:\n  containers:\n  - name: c\n    image: busybox\n")
        env = dict(os.environ, KUBECONFIG=str(tmp_path / "kubeconfig"))
        base = [KUBECTL, "--server", url, "--cache-dir", str(tmp_path / "cache")]
        explained = subprocess.run(base + ["explain", "pods.spec.containers"], capture_output=True, text=True,
                                   env=env, timeout=60)
        assert explained.returncode == 0, explained.stderr
        assert "FIELD: containers <[]Container>" in explained.stdout
        created = subprocess.run(base + ["create", "-f", str(tmp_path / "pod.yaml")], capture_output=True,
                                 text=True, env=env, timeout=60)
        assert created.returncode == 0, created.stderr
        assert "pod/p created" in created.stdout
        posts = [path for method, path, _ in server.requests if method == "POST"]
        assert posts == ["/api/v1/namespaces/default/pods?fieldManager=kubectl-create&fieldValidation=Strict"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not shutil.which(KUBECTL), reason="kubectl 1.32 not installed")
def test_kubectl_apply_picks_patch_type_from_the_document(catalog, tmp_path):
    """kubectl apply on an existing object sends a strategic merge patch for a built-in kind and a
    merge patch for a CRD, as it reads from each document's PATCH content types."""
    from kubectl_server import serve

    catalog.add(ResourceInfo("stable.example.com", "v1", "crontabs", "CronTab", True))
    server, url = serve(catalog, CRD_SCHEMA)
    try:
        (tmp_path / "kubeconfig").write_text("")
        env = dict(os.environ, KUBECONFIG=str(tmp_path / "kubeconfig"))
        base = [KUBECTL, "--server", url, "--cache-dir", str(tmp_path / "cache")]
        manifests = {
            "deployment": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: default\n"
                          "spec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
                          "    spec:\n      containers:\n      - name: c\n        image: busybox%s\n",
            "crontab": "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: x\n"
                       "  namespace: default\nspec:\n  cronSpec: a%s\n",
        }
        for name, text in manifests.items():
            for revision in ("", "2"):
                (tmp_path / f"{name}.yaml").write_text(text % revision)
                applied = subprocess.run(base + ["apply", "-f", str(tmp_path / f"{name}.yaml")],
                                         capture_output=True, text=True, env=env, timeout=60)
                assert applied.returncode == 0, applied.stderr
        patches = [(path.split("?")[0], ctype) for method, path, ctype in server.requests if method == "PATCH"]
        assert patches == [
            ("/apis/apps/v1/namespaces/default/deployments/d", "application/strategic-merge-patch+json"),
            ("/apis/stable.example.com/v1/namespaces/default/crontabs/x", "application/merge-patch+json"),
        ]
    finally:
        server.shutdown()
        server.server_close()


def test_patch_parameters_stay_on_a_lone_patch_operation(catalog):
    """Even where PATCH is a path's only operation, its fieldValidation stays on the operation,
    where kubectl looks for it (shared parameters otherwise move up to the path)."""
    catalog.add(ResourceInfo("x.example.com", "v1", "knobs", "Knob", False, verbs=("patch",)))
    doc = _doc(catalog, "apis/x.example.com/v1")
    item = doc["paths"]["/apis/x.example.com/v1/knobs/{name}"]
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= {p["name"] for p in item["patch"]["parameters"]}
    assert [p["name"] for p in item["parameters"]] == ["name", "pretty"]


def test_documents_are_built_in_a_thread_from_a_snapshot():
    """/openapi/v2 and /openapi/v3 are built in the reactor's thread pool: the request waits while others are
    answered, and the document is the catalog as it was when asked, whatever was added meanwhile."""
    import json

    from treq.testing import StubTreq

    from kapiserver import runtime
    from kapiserver.endpoints.api import APIContext
    from kapiserver.endpoints.root import APIRoot
    from kapiserver.registry.registry import Registry
    from kapiserver.storage.memory import MemoryStorage
    from tests.inline_threads import HeldThreadsClock

    reactor = HeldThreadsClock()
    registry = Registry(MemoryStorage(reactor), reactor, watch_cache=True)
    reactor.advance(0)
    client = StubTreq(runtime.RuntimeLimits(APIRoot(APIContext(registry, reactor, reactor)), reactor,
                                            request_timeout=60))

    def get(path):
        answered = []
        client.get("http://api" + path, headers={"Accept": "application/json"}).addCallback(answered.append)
        client.flush()
        reactor.advance(0)
        return answered

    def body(answered):
        client.content(answered[0]).addCallback(answered.append)
        client.flush()
        return json.loads(answered[-1])

    v2, index = get("/openapi/v2"), get("/openapi/v3")
    assert v2 == [] and index == [] and len(reactor.held) == 2
    version = get("/version")
    assert version and version[0].code == 200
    registry.catalog.add(ResourceInfo("stable.example.com", "v1", "crontabs", "CronTab", True))
    registry.openapi_schemas.update(CRD_SCHEMA)
    assert reactor.run_held() == 2
    client.flush()
    reactor.advance(0)
    assert v2[0].code == 200 and index[0].code == 200
    assert not any("crontabs" in path for path in body(v2)["paths"])
    assert "apis/stable.example.com/v1" not in body(index)["paths"]
    again = get("/openapi/v2")
    reactor.run_held()
    client.flush()
    reactor.advance(0)
    assert any("crontabs" in path for path in body(again)["paths"])
    missing = get("/openapi/v3/apis/nothing.example.com/v1")
    reactor.run_held()
    client.flush()
    reactor.advance(0)
    assert missing[0].code == 404

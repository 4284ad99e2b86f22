"""CustomResourceDefinitions with kubectl and the Python client: served at once, schema-checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CRD = (Path(__file__).parent / "crontab-crd.yaml").read_text()


@pytest.fixture(scope="module")
def crontabs(kubectl):
    kubectl("apply", "-f", "-", input=CRD)
    return kubectl


def test_crd_is_established_and_served_at_once(crontabs):
    """Right after the CRD is created its kind can be created, listed and explained."""
    crd = crontabs.json("get", "crd", "crontabs.stable.example.com")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["listKind"] == "CronTabList"
    crontabs("apply", "--validate=false", "-f", "-", input=json.dumps({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c1"},
        "spec": {"cronSpec": "*/5 * * * *", "image": "img", "unknownField": 1}}))
    obj = crontabs.json("get", "ct", "c1")
    assert obj["spec"] == {"cronSpec": "*/5 * * * *", "image": "img", "replicas": 1}   # pruned, defaulted
    table = crontabs("get", "crontabs").stdout.splitlines()
    assert table[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert table[1].split()[:3] == ["c1", "*/5", "*"]
    explained = crontabs("explain", "crontab.spec.cronSpec").stdout
    assert "the schedule" in explained
    assert "crontab.stable.example.com/c1" in crontabs("get", "all").stdout


def test_unknown_fields_under_field_validation(crontabs):
    """Strict refuses fields the schema does not declare (400, strict decoding error); Warn warns and prunes."""
    body = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "strict"},
            "spec": {"cronSpec": "1 * * * *", "foo": 1, "bar": {"x": 1}}}
    result = crontabs("apply", "-f", "-", check=False, input=json.dumps(body))
    assert result.returncode == 1
    assert ('CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
            'unknown field "spec.bar", unknown field "spec.foo"') in result.stderr
    status, refused = crontabs.server.request(
        "POST", "/apis/stable.example.com/v1/namespaces/default/crontabs?fieldValidation=Strict", body)
    assert status == 400 and refused["reason"] == "BadRequest"
    result = crontabs("apply", "--validate=warn", "-f", "-", input=json.dumps(body))
    assert 'Warning: unknown field "spec.foo"' in result.stderr
    assert crontabs.json("get", "ct", "strict")["spec"] == {"cronSpec": "1 * * * *", "replicas": 1}
    status, refused = crontabs.server.request(
        "PATCH", "/apis/stable.example.com/v1/namespaces/default/crontabs/strict?fieldValidation=Strict",
        b'{"spec":{"foo":2}}', {"Content-Type": "application/merge-patch+json"})
    # As a built-in's: the patch handler's 422 of the field "patch", showing the patched object as an
    # unstructured map writes it (keys sorted).
    assert status == 422 and refused["details"]["causes"][0]["field"] == "patch"
    assert refused["message"].startswith(' "" is invalid: patch: Invalid value: "{\\"apiVersion\\":')
    assert refused["message"].endswith('strict decoding error: unknown field "spec.foo"')
    result = crontabs("apply", "--server-side", "-f", "-", check=False, input=json.dumps(
        dict(body, metadata={"name": "ssa"})))
    assert result.returncode == 1
    assert ("failed to create typed patch object (default/ssa; stable.example.com/v1, Kind=CronTab): errors:\n"
            "  .spec.bar: field not declared in schema\n  .spec.foo: field not declared in schema") in result.stderr


def test_schema_violations_are_422_with_causes(crontabs):
    """A custom resource breaking its schema is refused with field causes."""
    result = crontabs("apply", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "bad"},
        "spec": {"replicas": 50}}))
    assert result.returncode == 1
    assert "spec.cronSpec: Required value" in result.stderr
    assert "spec.replicas: Invalid value: 50: spec.replicas in body should be less than or equal to 10" \
        in result.stderr


def test_status_subresource_and_generation(crontabs):
    """Spec changes bump generation; status changes only through /status."""
    crontabs("apply", "-f", "-", input=json.dumps({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c2"},
        "spec": {"cronSpec": "1 * * * *"}}))
    crontabs("patch", "ct", "c2", "--type=merge", "-p", '{"spec":{"replicas":2},"status":{"replicas":9}}')
    obj = crontabs.json("get", "ct", "c2")
    assert obj["metadata"]["generation"] == 2 and "status" not in obj
    crontabs("patch", "ct", "c2", "--subresource=status", "--type=merge", "-p", '{"status":{"replicas":2}}')
    obj = crontabs.json("get", "ct", "c2")
    assert obj["status"] == {"replicas": 2} and obj["metadata"]["generation"] == 2


def test_python_client_custom_objects(crontabs, k8s):
    """CustomObjectsApi creates, merge-patches and lists custom objects."""
    from kubernetes import client
    api = client.CustomObjectsApi(k8s)
    api.create_namespaced_custom_object("stable.example.com", "v1", "default", "crontabs", {
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "py"},
        "spec": {"cronSpec": "2 * * * *"}})
    api.patch_namespaced_custom_object("stable.example.com", "v1", "default", "crontabs", "py",
                                       {"spec": {"image": "new"}})
    listed = api.list_namespaced_custom_object("stable.example.com", "v1", "default", "crontabs")
    assert listed["kind"] == "CronTabList"
    item = next(i for i in listed["items"] if i["metadata"]["name"] == "py")
    assert item["kind"] == "CronTab" and item["spec"]["image"] == "new"


def test_deleting_the_crd_removes_its_objects(kubectl):
    """Deleting a CRD deletes its custom resources, then the CRD, and the kind is no longer served."""
    crd = CRD.replace("crontabs.stable.example.com", "crontabs.doomed.example.com").replace(
        "group: stable.example.com", "group: doomed.example.com")
    kubectl("apply", "-f", "-", input=crd)
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "doomed.example.com/v1", "kind": "CronTab", "metadata": {"name": "x"},
        "spec": {"cronSpec": "3 * * * *"}}))
    kubectl("delete", "crd", "crontabs.doomed.example.com", "--timeout=60s")
    status, _ = kubectl.server.request("GET", "/apis/doomed.example.com/v1/namespaces/default/crontabs")
    assert status == 404
    kubectl("apply", "-f", "-", input=crd)
    status, listed = kubectl.server.request("GET", "/apis/doomed.example.com/v1/namespaces/default/crontabs")
    assert status == 200 and listed["items"] == []


def test_scale_subresource_of_a_custom_resource(crontabs):
    """kubectl scale works on a CRD with a scale subresource, through its specReplicasPath."""
    crontabs("apply", "-f", "-", input=json.dumps({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "scaled"},
        "spec": {"cronSpec": "4 * * * *"}}))
    crontabs("scale", "crontabs.stable.example.com/scaled", "--replicas=4")
    assert crontabs.json("get", "crontabs.stable.example.com", "scaled")["spec"]["replicas"] == 4
    status, scale = crontabs.server.request(
        "GET", "/apis/stable.example.com/v1/namespaces/default/crontabs/scaled/scale")
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"] == {"replicas": 4}


def _names_crd(plural: str, kind: str, list_kind: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.names.example.com"},
            "spec": {"group": "names.example.com", "scope": "Namespaced",
                     "names": {"plural": plural, "kind": kind, "listKind": list_kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


def test_a_crd_whose_kind_is_taken_waits_for_it(apiserver):
    """Over HTTP: a second CRD of the group claiming the first's kind is NamesAccepted False (KindConflict), not
    Established, and its resource is 404 while the first's is served; once the first is deleted its names are
    accepted and it is served."""
    import time
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    status, _ = apiserver.request("POST", crds, _names_crd("gadgets", "Gadget", "GadgetList"))
    assert status == 201
    status, second = apiserver.request("POST", crds, _names_crd("doohickeys", "Gadget", "DoohickeyList"))
    assert status == 201
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in second["status"]["conditions"]] == [
        ("NamesAccepted", "False", "KindConflict", '"Gadget" is already in use'),
        ("Established", "False", "NotAccepted", "not all names are accepted")]
    # Its singular, "gadget" from its kind, is the first's too: not accepted either (the kind, checked later,
    # names the reason).
    assert second["status"]["acceptedNames"] == {"plural": "doohickeys", "kind": "", "listKind": "DoohickeyList"}
    assert apiserver.request("GET", "/apis/names.example.com/v1/namespaces/default/gadgets")[0] == 200
    status, missing = apiserver.request("GET", "/apis/names.example.com/v1/namespaces/default/doohickeys")
    assert (status, missing["reason"]) == (404, "NotFound")
    _, resources = apiserver.request("GET", "/apis/names.example.com/v1")
    assert [r["name"] for r in resources["resources"]] == ["gadgets"]

    assert apiserver.request("DELETE", crds + "/gadgets.names.example.com")[0] == 200
    deadline = time.monotonic() + 30
    while True:
        _, second = apiserver.request("GET", crds + "/doohickeys.names.example.com")
        conditions = {c["type"]: (c["status"], c["reason"]) for c in second["status"]["conditions"]}
        if conditions["Established"][0] == "True" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}
    assert second["status"]["acceptedNames"]["kind"] == "Gadget"
    status, listed = apiserver.request("GET", "/apis/names.example.com/v1/namespaces/default/doohickeys")
    assert (status, listed["kind"]) == (200, "DoohickeyList")


def test_an_update_of_a_custom_resource_or_its_crd_must_name_its_resource_version(crontabs):
    """Custom resources, CRDs and PodDisruptionBudgets refuse an unconditional update (upstream's strategies
    disallow it): a PUT without a resourceVersion is a 422; with it, or a ConfigMap without it, goes through."""
    crontabs("apply", "-f", "-", input=json.dumps({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c-put"},
        "spec": {"cronSpec": "1 * * * *"}}))
    crontab = crontabs.json("get", "crontabs.stable.example.com", "c-put")
    unversioned = {**crontab, "metadata": {"name": "c-put", "namespace": "default"},
                   "spec": {"cronSpec": "2 * * * *"}}
    refused = crontabs("replace", "--raw", "/apis/stable.example.com/v1/namespaces/default/crontabs/c-put",
                       "-f", "-", input=json.dumps(unversioned), check=False)
    # kubectl words the 422 from its details (the resource as the kind), as it does upstream's.
    assert refused.returncode != 0
    assert ('The crontabs "c-put" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an '
            'update') in refused.stderr
    crd = crontabs.json("get", "crd", "crontabs.stable.example.com")
    del crd["metadata"]["resourceVersion"]
    refused = crontabs("replace", "--raw", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                       "crontabs.stable.example.com", "-f", "-", input=json.dumps(crd), check=False)
    assert refused.returncode != 0 and "must be specified for an update" in refused.stderr
    crontabs("replace", "-f", "-", input=json.dumps({**crontab, "spec": {"cronSpec": "3 * * * *"}}))
    assert crontabs.json("get", "crontabs.stable.example.com", "c-put")["spec"]["cronSpec"] == "3 * * * *"
    crontabs("create", "configmap", "c-put")
    configmap = crontabs.json("get", "configmap", "c-put")
    del configmap["metadata"]["resourceVersion"]
    crontabs("replace", "--raw", "/api/v1/namespaces/default/configmaps/c-put", "-f", "-",
             input=json.dumps({**configmap, "data": {"a": "b"}}))

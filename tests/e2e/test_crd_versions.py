"""A CRD with several versions and conversion strategy None: one storage version, served in every version."""

from __future__ import annotations

import json

import pytest


def _schema(**fields):
    return {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {name: {"type": "string"} for name in fields}}}}}


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "things.mv.example.com"},
    "spec": {"group": "mv.example.com", "scope": "Namespaced",
             "names": {"plural": "things", "kind": "Thing"}, "conversion": {"strategy": "None"},
             "versions": [
                 {"name": "v1alpha1", "served": True, "storage": False, "schema": _schema(a=1)},
                 {"name": "v1beta1", "served": True, "storage": True, "schema": _schema(a=1, b=1),
                  "additionalPrinterColumns": [{"name": "Beta", "type": "string", "jsonPath": ".spec.b"}]},
                 {"name": "v1", "served": True, "storage": False, "schema": _schema(a=1, c=1),
                  "additionalPrinterColumns": [{"name": "Alpha", "type": "string", "jsonPath": ".spec.a"}]}]}}
PATH = "/apis/mv.example.com/{}/namespaces/default/things"


@pytest.fixture(scope="module")
def things(kubectl):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    # --validate=false: spec.c is unknown to v1beta1 and pruned, not refused.
    kubectl("apply", "--validate=false", "-f", "-", input=json.dumps({
        "apiVersion": "mv.example.com/v1beta1", "kind": "Thing", "metadata": {"name": "t1"},
        "spec": {"a": "x", "b": "y", "c": "z"}}))
    return kubectl


def test_preferred_version_is_by_kube_aware_priority(things):
    """Discovery lists v1, v1beta1, v1alpha1 in that order and prefers v1, whatever the CRD's order."""
    status, group = things.server.request("GET", "/apis/mv.example.com")
    assert status == 200
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha1"]
    assert group["preferredVersion"]["version"] == "v1"


def test_created_in_one_version_read_in_every_version(things):
    """An object written in v1beta1 reads in v1 and v1alpha1 with only apiVersion changed (and their own pruning)."""
    reads = {}
    for version in ("v1", "v1beta1", "v1alpha1"):
        status, obj = things.server.request("GET", PATH.format(version) + "/t1")
        assert status == 200 and obj["apiVersion"] == f"mv.example.com/{version}"
        reads[version] = obj
        status, listed = things.server.request("GET", PATH.format(version))
        assert [(i["apiVersion"], i["metadata"]["name"]) for i in listed["items"]] == \
            [(f"mv.example.com/{version}", "t1")]
    assert reads["v1beta1"]["spec"] == {"a": "x", "b": "y"}
    assert reads["v1"]["spec"] == {"a": "x"} and reads["v1alpha1"]["spec"] == {"a": "x"}
    assert reads["v1"]["metadata"]["uid"] == reads["v1beta1"]["metadata"]["uid"]


def test_write_in_a_non_storage_version_loses_what_storage_cannot_hold(things):
    """Created in v1, an object is stored in v1beta1: its v1-only field is gone, also from the response."""
    status, created = things.server.request("POST", PATH.format("v1"), {
        "apiVersion": "mv.example.com/v1", "kind": "Thing", "metadata": {"name": "t2"},
        "spec": {"a": "p", "c": "q"}})
    assert status == 201 and created["apiVersion"] == "mv.example.com/v1" and created["spec"] == {"a": "p"}
    status, obj = things.server.request("GET", PATH.format("v1beta1") + "/t2")
    assert obj["apiVersion"] == "mv.example.com/v1beta1" and obj["spec"] == {"a": "p"}
    crd = things.json("get", "crd", "things.mv.example.com")
    assert crd["status"]["storedVersions"] == ["v1beta1"]


def test_kubectl_uses_the_preferred_version_and_its_columns(things):
    """kubectl get reads the preferred version (v1) and prints v1's printer columns."""
    table = things("get", "things").stdout.splitlines()
    assert table[0].split() == ["NAME", "ALPHA"]
    assert ["t1", "x"] in [line.split() for line in table[1:]]
    assert things.json("get", "thing", "t1")["apiVersion"] == "mv.example.com/v1"
    beta = things("get", "things.v1beta1.mv.example.com").stdout.splitlines()
    assert beta[0].split() == ["NAME", "BETA"]


def test_changing_the_storage_version_records_stored_versions(things):
    """Moving storage to v1 keeps v1beta1 in status.storedVersions and stores new writes as v1."""
    crd = json.loads(json.dumps(CRD))
    for version in crd["spec"]["versions"]:
        version["storage"] = version["name"] == "v1"
    things("apply", "-f", "-", input=json.dumps(crd))
    stored = things.json("get", "crd", "things.mv.example.com")["status"]["storedVersions"]
    assert stored == ["v1beta1", "v1"]
    things("apply", "-f", "-", input=json.dumps({
        "apiVersion": "mv.example.com/v1", "kind": "Thing", "metadata": {"name": "t3"}, "spec": {"c": "kept"}}))
    status, obj = things.server.request("GET", PATH.format("v1") + "/t3")
    assert obj["spec"] == {"c": "kept"}

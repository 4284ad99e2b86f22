"""CRD schemas published in /openapi/v2 as the [sig-api-machinery] CustomResourcePublishOpenAPI entries
check them: each served version's definition appears (with the CRD's schema), follows renames and stops
being served, and kubectl creates, applies and explains custom resources from it."""

from __future__ import annotations

import json
import re
import uuid

import yaml

from tests.conformance.support import CRDS, JSON_PATCH, ok, wait_for


SCHEMA_FOO = yaml.safe_load("""
description: Foo CRD for Testing
type: object
properties:
  spec:
    type: object
    description: Specification of Foo
    properties:
      bars:
        description: List of Bars and their specs.
        type: array
        items:
          type: object
          required: [name]
          properties:
            name: {description: Name of Bar., type: string}
            age: {description: Age of Bar., type: string}
            feeling: {description: Whether Bar is feeling great., type: string, enum: [Great, Down]}
            bazs: {description: List of Bazs., items: {type: string}, type: array}
  status:
    description: Status of Foo
    type: object
    properties:
      bars:
        description: List of Bars and their statuses.
        type: array
        items:
          type: object
          properties:
            name: {description: Name of Bar., type: string}
            available: {description: Whether the Bar is installed., type: boolean}
            quxType: {description: Indicates to external qux type., pattern: in-tree|out-of-tree, type: string}
""")

WALDO_BODY = """
type: object
properties:
  spec:
    description: Specification of Waldo
    type: object
    {extra}properties:
      dummy: {{description: Dummy property., type: object}}
  status:
    description: Status of Waldo
    type: object
    properties:
      bars:
        description: List of Bars and their statuses.
        type: array
        items: {{type: object}}
"""
SCHEMA_WALDO = yaml.safe_load("description: Waldo CRD for Testing" + WALDO_BODY.format(extra=""))
SCHEMA_PRESERVE_ROOT = yaml.safe_load("description: preserve-unknown-properties at root for Testing\n"
                                      "x-kubernetes-preserve-unknown-fields: true" + WALDO_BODY.format(extra=""))
SCHEMA_PRESERVE_NESTED = yaml.safe_load("description: preserve-unknown-properties in nested field for Testing" +
                                        WALDO_BODY.format(extra="x-kubernetes-preserve-unknown-fields: true\n    "))


def rest_friendly(group, version, kind):
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


class PublishedCRD:
    def __init__(self, server, schema, group_suffix, versions, check_schema=True):
        self.server = server
        suffix = uuid.uuid4().hex[:5]
        stem = f"e2e-test-crd-publish-openapi-{suffix}-crd"
        self.group = f"crd-publish-openapi-test-{group_suffix}.example.com"
        self.plural, self.kind = stem + "s", "E" + stem[1:]
        self.name = f"{self.plural}.{self.group}"
        openapi = schema if schema is not None else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        self.versions = list(versions)
        ok(server.request("POST", CRDS, {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": self.name},
            "spec": {"group": self.group, "scope": "Namespaced",
                     "names": {"plural": self.plural, "singular": stem, "kind": self.kind,
                               "listKind": self.kind + "List"},
                     "versions": [{"name": v, "served": True, "storage": i == 0,
                                   "schema": {"openAPIV3Schema": openapi}} for i, v in enumerate(versions)]}}))
        expect = (schema if schema is not None else {"type": "object"}) if check_schema else None
        for version in versions:
            wait_definition(server, self.definition(version), expect)

    def definition(self, version):
        return rest_friendly(self.group, version, self.kind)

    def meta(self, name):
        return f'"kind":"{self.kind}","apiVersion":"{self.group}/{self.versions[0]}","metadata":{{"name":"{name}"}}'

    def cleanup(self):
        ok(self.server.request("DELETE", f"{CRDS}/{self.name}"))
        for version in self.versions:
            wait_definition_gone(self.server, self.definition(version))


def definitions(server):
    status, spec = server.request("GET", "/openapi/v2", headers={"Accept": "application/json"})
    assert status == 200, status
    return spec["definitions"]


def published(definition):
    """The definition without what the server adds to a CRD's schema (metadata, apiVersion, kind, GVK)."""
    d = json.loads(json.dumps(definition))
    for prop in ("metadata", "apiVersion", "kind"):
        d.get("properties", {}).pop(prop, None)
    if not d.get("properties"):
        d.pop("properties", None)
    d.pop("x-kubernetes-group-version-kind", None)
    return d


def wait_definition(server, name, schema=None):
    seen = []

    def present():
        found = definitions(server).get(name)
        seen[:] = [found]
        return found is not None and (schema is None or published(found) == schema)
    try:
        wait_for(present, timeout=30, interval=0.5, what=f"definition {name}")
    except AssertionError:
        shown = published(seen[0]) if seen and seen[0] else None
        raise AssertionError(f"definitions[{name!r}] not served as expected; expected {schema}, got {shown}") \
            from None


def wait_definition_gone(server, name):
    wait_for(lambda: name not in definitions(server), timeout=30, interval=0.5, what=f"{name} to be removed")


def explain(kubectl, what, pattern):
    out = kubectl("explain", what).stdout
    assert re.search(pattern, out, re.S), f"kubectl explain {what}:\n{out}\ndoes not match {pattern}"


def create_and_apply(kubectl, crd, ns, body, name):
    for verb in ("create", "apply"):
        kubectl(f"--namespace={ns}", verb, "-f", "-", input=body)
        kubectl(f"--namespace={ns}", "delete", crd.plural, name)


def test_custom_resource_openapi_publish_with_validation_schema(apiserver, kubectl, namespace):
    """Custom Resource OpenAPI Publish, with validation schema"""
    crd = PublishedCRD(apiserver, SCHEMA_FOO, "foo", ["v1"])
    valid = '{%s,"spec":{"bars":[{"name":"test-bar"}]}}' % crd.meta("test-foo")
    create_and_apply(kubectl, crd, namespace, valid, "test-foo")
    explain(kubectl, crd.plural, r"DESCRIPTION:.*Foo CRD for Testing.*FIELDS:.*apiVersion.*<string>.*"
                                 r"APIVersion defines.*spec.*<Object>.*Specification of Foo")
    explain(kubectl, crd.plural + ".metadata", r"DESCRIPTION:.*Standard object's metadata.*FIELDS:.*"
                                               r"creationTimestamp.*<string>.*CreationTimestamp is a timestamp")
    explain(kubectl, crd.plural + ".spec", r"DESCRIPTION:.*Specification of Foo.*FIELDS:.*bars.*<\[\]Object>.*"
                                           r"List of Bars and their specs")
    explain(kubectl, crd.plural + ".spec.bars", r"(FIELD|RESOURCE):.*bars.*<\[\]Object>.*DESCRIPTION:.*List of Bars and "
                                                r"their specs.*FIELDS:.*bazs.*<\[\]string>.*List of Bazs.*name.*"
                                                r"<string>.*Name of Bar")
    missing = kubectl("explain", crd.plural + ".spec.bars2", check=False)
    assert missing.returncode != 0 and 'field "bars2" does not exist' in missing.stderr, missing
    crd.cleanup()


def test_custom_resource_openapi_publish_with_x_kubernetes_preserve_unknown_fields_in_object(
        apiserver, kubectl, namespace):
    """Custom Resource OpenAPI Publish, with x-kubernetes-preserve-unknown-fields in object"""
    # The e2e test only waits for the definition (upstream's v2 conversion keeps the extension) and reads it
    # through kubectl explain.
    crd = PublishedCRD(apiserver, None, "empty", ["v1"], check_schema=False)
    create_and_apply(kubectl, crd, namespace, '{%s,"a":{"b":[{"c":"d"}]}}' % crd.meta("test-cr"), "test-cr")
    explain(kubectl, crd.plural, r"DESCRIPTION:.*<empty>")
    crd.cleanup()


def test_custom_resource_openapi_publish_with_x_kubernetes_preserve_unknown_fields_at_root(
        apiserver, kubectl, namespace):
    """Custom Resource OpenAPI Publish, with x-kubernetes-preserve-unknown-fields at root"""
    crd = PublishedCRD(apiserver, SCHEMA_PRESERVE_ROOT, "unknown-at-root", ["v1"], check_schema=False)
    create_and_apply(kubectl, crd, namespace, '{%s,"a":{"b":[{"c":"d"}]}}' % crd.meta("test-cr"), "test-cr")
    explain(kubectl, crd.plural, rf"KIND:.*{crd.kind}")
    crd.cleanup()


def test_custom_resource_openapi_publish_with_x_kubernetes_preserve_unknown_fields_in_embedded_object(
        apiserver, kubectl, namespace):
    """Custom Resource OpenAPI Publish, with x-kubernetes-preserve-unknown-fields in embedded object"""
    crd = PublishedCRD(apiserver, SCHEMA_PRESERVE_NESTED, "unknown-in-nested", ["v1"], check_schema=False)
    body = '{%s,"spec":{"a":null,"b":[{"c":"d"}]}}' % crd.meta("test-cr")
    create_and_apply(kubectl, crd, namespace, body, "test-cr")
    explain(kubectl, crd.plural, r"DESCRIPTION:.*preserve-unknown-properties in nested field for Testing")
    crd.cleanup()


def test_custom_resource_openapi_publish_varying_groups(apiserver):
    """Custom Resource OpenAPI Publish, varying groups"""
    foo = PublishedCRD(apiserver, SCHEMA_FOO, "foo", ["v1"])
    waldo = PublishedCRD(apiserver, SCHEMA_WALDO, "waldo", ["v1beta1"])
    assert foo.group != waldo.group
    wait_definition(apiserver, waldo.definition("v1beta1"), SCHEMA_WALDO)
    wait_definition(apiserver, foo.definition("v1"), SCHEMA_FOO)
    foo.cleanup()
    waldo.cleanup()


def test_custom_resource_openapi_publish_varying_versions(apiserver):
    """Custom Resource OpenAPI Publish, varying versions"""
    multi = PublishedCRD(apiserver, SCHEMA_FOO, "multi-ver", ["v2", "v3"])
    wait_definition(apiserver, multi.definition("v3"), SCHEMA_FOO)
    wait_definition(apiserver, multi.definition("v2"), SCHEMA_FOO)
    multi.cleanup()
    foo = PublishedCRD(apiserver, SCHEMA_FOO, "common-group", ["v4"])
    waldo = PublishedCRD(apiserver, SCHEMA_WALDO, "common-group", ["v5"])
    assert foo.group == waldo.group
    wait_definition(apiserver, waldo.definition("v5"), SCHEMA_WALDO)
    wait_definition(apiserver, foo.definition("v4"), SCHEMA_FOO)
    foo.cleanup()
    waldo.cleanup()


def test_custom_resource_openapi_publish_varying_kinds(apiserver):
    """Custom Resource OpenAPI Publish, varying kinds"""
    foo = PublishedCRD(apiserver, SCHEMA_FOO, "common-group", ["v6"])
    waldo = PublishedCRD(apiserver, SCHEMA_WALDO, "common-group", ["v6"])
    assert foo.group == waldo.group
    wait_definition(apiserver, waldo.definition("v6"), SCHEMA_WALDO)
    wait_definition(apiserver, foo.definition("v6"), SCHEMA_FOO)
    foo.cleanup()
    waldo.cleanup()


def test_custom_resource_openapi_publish_version_rename(apiserver):
    """Custom Resource OpenAPI Publish, version rename"""
    multi = PublishedCRD(apiserver, SCHEMA_FOO, "multi-ver", ["v2", "v3"])
    ok(apiserver.request("PATCH", f"{CRDS}/{multi.name}", [
        {"op": "test", "path": "/spec/versions/1/name", "value": "v3"},
        {"op": "replace", "path": "/spec/versions/1/name", "value": "v4"}], headers=JSON_PATCH))
    wait_definition(apiserver, multi.definition("v4"), SCHEMA_FOO)
    wait_definition_gone(apiserver, multi.definition("v3"))
    wait_definition(apiserver, multi.definition("v2"), SCHEMA_FOO)
    multi.versions = ["v2", "v4"]
    multi.cleanup()


def test_custom_resource_openapi_publish_stop_serving_version(apiserver):
    """Custom Resource OpenAPI Publish, stop serving version"""
    crd = PublishedCRD(apiserver, SCHEMA_FOO, "multi-to-single-ver", ["v5", "v6alpha1"])
    current = ok(apiserver.request("GET", f"{CRDS}/{crd.name}"))
    current["spec"]["versions"][1]["served"] = False
    ok(apiserver.request("PUT", f"{CRDS}/{crd.name}", current))
    wait_definition_gone(apiserver, crd.definition("v6alpha1"))
    wait_definition(apiserver, crd.definition("v5"), SCHEMA_FOO)
    crd.versions = ["v5"]
    crd.cleanup()


"""The served OpenAPI documents give a field typed with a Go ``+enum`` string type the ``enum`` of its values, as
upstream's (kubectl explain prints them in an ENUM block); the table of those fields is generated from the Go
sources (enum_fields.py)."""

from __future__ import annotations

import os

import pytest

from kapiserver.endpoints import openapi
from kapiserver.machinery import codec, enum_fields, schema
from kapiserver.registry.catalog import Catalog

MIRRORS = "/work/.mirror"
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]


@pytest.fixture(scope="module")
def v3_core() -> dict:
    body, _ = openapi.openapi_v3_document(Catalog(), "api/v1")
    return codec.loads(body)["components"]["schemas"]


@pytest.fixture(scope="module")
def v2() -> dict:
    return codec.loads(openapi.openapi_v2_document(Catalog()))["definitions"]


def test_v3_document_lists_the_image_pull_policies(v3_core):
    container = v3_core["io.k8s.api.core.v1.Container"]["properties"]
    assert container["imagePullPolicy"]["enum"] == PULL_POLICIES
    assert container["imagePullPolicy"]["type"] == "string"
    service = v3_core["io.k8s.api.core.v1.ServiceSpec"]["properties"]
    assert service["type"]["enum"] == ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    # A slice of an enum type: the values are on its items.
    assert service["ipFamilies"]["items"]["enum"] == ["", "IPv4", "IPv6"]
    assert "enum" not in service["ipFamilies"]
    # A map to an enum type: on its values.
    statuses = v3_core["io.k8s.api.core.v1.PersistentVolumeClaimStatus"]["properties"]["allocatedResourceStatuses"]
    assert "NodeResizePending" in statuses["additionalProperties"]["enum"]
    assert "enum" not in statuses
    # Fields of no enum type keep none.
    assert "enum" not in v3_core["io.k8s.api.core.v1.Container"]["properties"]["image"]


def test_v3_group_documents_carry_them_too():
    body, _ = openapi.openapi_v3_document(Catalog(), "apis/apps/v1")
    schemas = codec.loads(body)["components"]["schemas"]
    assert schemas["io.k8s.api.apps.v1.DeploymentStrategy"]["properties"]["type"]["enum"] == \
        ["Recreate", "RollingUpdate"]
    assert schemas["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"]["enum"] == PULL_POLICIES


def test_v2_document_lists_the_image_pull_policies(v2):
    assert v2["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"]["enum"] == PULL_POLICIES
    assert v2["io.k8s.api.core.v1.PodSpec"]["properties"]["restartPolicy"]["enum"] == ["Always", "Never", "OnFailure"]
    assert v2["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ipFamilies"]["items"]["enum"] == ["", "IPv4", "IPv6"]


def test_v2_protobuf_encodes_them():
    from kapiserver.endpoints.openapi_proto import encode_document
    body = openapi.openapi_v2_document(Catalog())
    assert b"IfNotPresent" in encode_document(codec.loads(body))


def test_the_definitions_the_server_validates_with_keep_no_enum():
    """Only the served documents get the enums: the definitions (validation, defaulting, pruning) and schema's
    OpenAPI forms are left as they were, so no value is refused for them."""
    assert "enum" not in schema.definitions()["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"]
    for converted in (schema.openapi_v3_schemas(), schema.openapi_v2_definitions()):
        assert "enum" not in converted["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"]
        assert "enum" not in converted["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ipFamilies"]["items"]


def test_table_agrees_with_the_openapi_types():
    """Every field listed is a string property of its definition, an array of strings (the values then belong
    to its items) or a map of strings (to its values); values are sorted and unique."""
    definitions = schema.openapi_v2_definitions()
    for name, fields in enum_fields.FIELDS.items():
        for field, values in fields.items():
            node = definitions[name]["properties"][field]
            inner = {"array": "items", "object": "additionalProperties"}.get(node.get("type"))
            assert (node if inner is None else node[inner]).get("type") == "string", (name, field)
            assert list(values) == sorted(set(values)), (name, field)


@pytest.mark.skipif(not all(os.path.isdir(f"{MIRRORS}/kubernetes+{repo}/repo") for repo in
                            ("api", "apimachinery", "apiextensions-apiserver", "kube-aggregator")),
                    reason="needs the mirrored Go sources the table is read from")
def test_table_is_what_the_generator_reads_from_the_go_sources():
    """The committed table is exactly what _generate_enums.py reads (no hand edits), with nothing it could not
    read (a constant's value, an enum without constants)."""
    from kapiserver.machinery import _generate_enums as generator
    table, warnings = generator.enum_fields(schema.definitions(), generator.EnumPackages(MIRRORS, enum_fields.TAG))
    assert warnings == []
    assert {name: {field: tuple(values) for field, values in fields.items()} for name, fields in table.items()} \
        == enum_fields.FIELDS
    assert generator.render(table, enum_fields.TAG) == open(enum_fields.__file__).read()
    assert table["io.k8s.api.core.v1.Container"]["imagePullPolicy"] == ["Always", "IfNotPresent", "Never"]

"""/openapi/v2 as gnostic's protobuf Document, read back with our own wire reader."""

from __future__ import annotations

import struct

import yaml

from kapiserver.endpoints import openapi, openapi_proto
from kapiserver.machinery import codec
from kapiserver.machinery.protobuf.wire import fields
from kapiserver.registry.catalog import Catalog


def message(data) -> dict[int, list]:
    out: dict[int, list] = {}
    for number, _, value in fields(data):
        out.setdefault(number, []).append(value)
    return out


def text(value) -> str:
    return bytes(value).decode()


def named(data, field=1) -> dict[str, memoryview]:
    """A message of repeated Named* pairs (name 1, value 2) as a dict."""
    return {text(message(pair)[1][0]): message(pair)[2][0] for pair in message(data).get(field, [])}


def test_document_header_paths_definitions_and_security():
    catalog = Catalog()
    document = codec.loads(openapi.openapi_v2_document(catalog))
    encoded = openapi.openapi_v2_protobuf(catalog)
    assert openapi.openapi_v2_protobuf(catalog) is encoded       # encoded once per document
    top = message(encoded)
    assert text(top[1][0]) == "2.0"
    info = message(top[2][0])
    assert (text(info[1][0]), text(info[2][0])) == ("Kubernetes", document["info"]["version"])
    # Definitions: every one, in document order, with its group-version-kind extension as YAML.
    definitions = named(top[9][0])
    assert list(definitions) == list(document["definitions"])
    config_map = message(definitions["io.k8s.api.core.v1.ConfigMap"])
    assert text(config_map[4][0]) == document["definitions"]["io.k8s.api.core.v1.ConfigMap"]["description"]
    extensions = {text(message(e)[1][0]): message(message(e)[2][0]) for e in config_map[31]}
    assert yaml.safe_load(text(extensions["x-kubernetes-group-version-kind"][2][0])) == \
        [{"group": "", "kind": "ConfigMap", "version": "v1"}]
    properties = named(config_map[25][0])
    assert list(properties) == list(document["definitions"]["io.k8s.api.core.v1.ConfigMap"]["properties"])
    data = message(properties["data"])
    assert [text(t) for t in message(data[22][0])[1]] == ["object"]
    additional = message(message(data[21][0])[1][0])        # additionalProperties: a Schema
    assert [text(t) for t in message(additional[22][0])[1]] == ["string"]
    # Paths: one NamedPathItem per path; an operation with its id and its query parameters.
    paths = message(top[8][0])
    items = {text(message(p)[1][0]): message(message(p)[2][0]) for p in paths[2]}
    assert list(items) == list(document["paths"])
    get = message(items["/api/v1/namespaces/{namespace}/configmaps/{name}"][2][0])
    assert text(get[5][0]) == document["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["get"][
        "operationId"]
    # Security: the BearerToken apiKey scheme and its requirement.
    scheme = message(named(top[13][0])["BearerToken"])
    api_key = message(scheme[2][0])
    assert (text(api_key[1][0]), text(api_key[2][0]), text(api_key[3][0])) == ("apiKey", "authorization", "header")
    assert list(named(top[12][0])) == ["BearerToken"]


def test_parameters_by_kind_and_references():
    """Body parameters, query parameters and $refs each take their branch of the oneofs."""
    operation = {"parameters": [
        {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/X"}},
        {"name": "limit", "in": "query", "type": "integer", "uniqueItems": True},
        {"$ref": "#/parameters/pretty"}],
        "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/X"}}, "401": {
            "description": "Unauthorized"}}}
    top = message(openapi_proto.encode("Operation", operation))
    body, query, ref = (message(p) for p in top[8])
    body_parameter = message(message(body[1][0])[1][0])
    assert text(body_parameter[2][0]) == "body" and body_parameter[4] == [1]
    assert text(message(body_parameter[5][0])[1][0]) == "#/definitions/X"
    limit = message(message(message(query[1][0])[2][0])[3][0])
    assert (text(limit[4][0]), text(limit[6][0]), limit[20]) == ("limit", "integer", [1])
    assert text(message(ref[2][0])[1][0]) == "#/parameters/pretty"
    responses = {text(message(r)[1][0]): message(message(r)[2][0]) for r in message(top[9][0])[1]}
    assert list(responses) == ["200", "401"]
    ok = message(responses["200"][1][0])
    assert text(ok[1][0]) == "OK" and text(message(message(ok[2][0])[1][0])[1][0]) == "#/definitions/X"


def test_numbers_and_free_values():
    schema = {"type": "integer", "maximum": 2.5, "maxLength": 7, "default": {"a": [1, "x"]}, "enum": ["p", "q"],
              "additionalProperties": False}
    top = message(openapi_proto.encode("Schema", schema))
    assert struct.unpack("<d", top[7][0].to_bytes(8, "little"))[0] == 2.5
    assert top[11] == [7]
    assert yaml.safe_load(text(message(top[5][0])[2][0])) == {"a": [1, "x"]}
    assert [yaml.safe_load(text(message(e)[2][0])) for e in top[20]] == ["p", "q"]
    assert message(top[21][0]) == {2: [0]}

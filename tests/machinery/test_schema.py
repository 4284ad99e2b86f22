"""Schema access: the upstream definitions, node navigation, and the OpenAPI forms."""

from __future__ import annotations

import subprocess
import sys

from kapiserver.machinery import schema


def test_import_does_not_load_definitions():
    """Importing the module reads nothing, so server startup does not pay for the 1.3 MB file."""
    code = ("import kapiserver.machinery.schema as s; "
            "print(s._loaded is None, 'kubernetes_validate' in __import__('sys').modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_definitions_loaded_once():
    """definitions() returns the same dict on every call."""
    assert schema.definitions() is schema.definitions()
    assert "io.k8s.api.core.v1.Pod" in schema.definitions()


def test_definition_name_for_gvk():
    """GVKs resolve through x-kubernetes-group-version-kind; unknown ones give None."""
    assert schema.definition_name_for("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert schema.definition_name_for("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert schema.definition_name_for("", "v1", "Status") == "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    assert schema.definition_name_for("example.com", "v1", "Widget") is None
    assert schema.node_for("example.com", "v1", "Widget") is None


def test_pod_container_name_path():
    """Pod -> spec -> containers -> items -> name follows refs down to a string."""
    pod = schema.node_for("", "v1", "Pod")
    spec = pod.field("spec")
    assert spec.name == "io.k8s.api.core.v1.PodSpec"
    assert spec.type == "object"
    containers = spec.field("containers")
    assert containers.type == "array"
    container = containers.items()
    assert container.name == "io.k8s.api.core.v1.Container"
    assert container.field("name").type == "string"
    assert "name" in container.required
    assert "image" in container.properties
    assert pod.walk("spec", "containers", "[]", "name").type == "string"
    assert pod.field("nope") is None
    assert pod.walk("spec", "nope", "name") is None


def test_patch_metadata_of_lists():
    """Patch strategy, merge key and list-type extensions are read from the field."""
    pod = schema.node_for("", "v1", "Pod")
    containers = pod.walk("spec", "containers")
    assert containers.patch_strategy == "merge"
    assert containers.patch_merge_key == "name"
    assert containers.list_type == "map"
    assert containers.list_map_keys == ["name"]
    volumes = pod.walk("spec", "volumes")
    assert volumes.patch_strategy == "merge,retainKeys"
    assert pod.walk("spec", "containers", "[]", "env").patch_merge_key == "name"
    assert pod.walk("spec", "containers", "[]", "ports").patch_merge_key == "containerPort"
    service_ports = schema.node_for("", "v1", "Service").walk("spec", "ports")
    assert service_ports.patch_merge_key == "port"
    assert service_ports.list_map_keys == ["port", "protocol"]
    assert pod.walk("metadata", "finalizers").patch_strategy == "merge"
    assert pod.walk("metadata", "finalizers").patch_merge_key is None


def test_patch_strategy_on_a_ref_field():
    """Extensions beside a $ref (Deployment.spec.strategy) belong to the field, not the type."""
    strategy = schema.node_for("apps", "v1", "Deployment").walk("spec", "strategy")
    assert strategy.patch_strategy == "retainKeys"
    assert strategy.name == "io.k8s.api.apps.v1.DeploymentStrategy"
    assert strategy.type == "object"
    assert strategy.description.startswith("The deployment strategy")


def test_map_values():
    """Maps expose their value schema through values(); child() falls back to it."""
    pod = schema.node_for("", "v1", "Pod")
    labels = pod.walk("metadata", "labels")
    assert labels.type == "object"
    assert labels.values().type == "string"
    assert labels.child("app").type == "string"
    assert pod.walk("metadata", "labels", "{}").type == "string"
    assert pod.walk("spec", "containers", "[]", "resources", "limits", "{}").name == \
        "io.k8s.apimachinery.pkg.api.resource.Quantity"


def test_nullable_types_are_plain():
    """["integer", "null"] reads as "integer"; formats are kept."""
    port = schema.node_for("", "v1", "Pod").walk("spec", "containers", "[]", "ports", "[]", "containerPort")
    assert port.type == "integer"
    assert port.format == "int32"
    assert schema.node_for("", "v1", "Pod").walk("metadata", "creationTimestamp").format == "date-time"


def test_int_or_string_and_free_form():
    """IntOrString and the free-form JSON types are recognised."""
    probe_port = schema.node_for("", "v1", "Pod").walk(
        "spec", "containers", "[]", "livenessProbe", "httpGet", "port")
    assert probe_port.int_or_string
    assert probe_port.type is None
    assert probe_port.format == "int-or-string"
    name = schema.node_for("", "v1", "Pod").walk("metadata", "name")
    assert not name.int_or_string
    assert not name.preserve_unknown
    fields = schema.node_for("", "v1", "Pod").walk("metadata", "managedFields", "[]", "fieldsV1")
    assert fields.preserve_unknown


def test_map_type_and_gvks():
    """x-kubernetes-map-type and the GVK list are exposed."""
    selector = schema.node_for("apps", "v1", "Deployment").walk("spec", "selector")
    assert selector.map_type == "atomic"
    assert {"group": "apps", "version": "v1", "kind": "Deployment"} in \
        schema.node_for("apps", "v1", "Deployment").group_version_kinds


def _all_refs(documents: dict) -> set[str]:
    refs: set[str] = set()
    for definition in documents.values():
        refs.update(schema.iter_refs(definition))
    return refs


def test_v3_refs_resolve_within_the_set():
    """Every ref of the v3 schemas points at #/components/schemas/<name> that exists."""
    v3 = schema.openapi_v3_schemas()
    refs = _all_refs(v3)
    assert refs
    prefix = "#/components/schemas/"
    assert all(ref.startswith(prefix) for ref in refs)
    assert {ref[len(prefix):] for ref in refs} <= set(v3)


def test_v2_refs_resolve_within_the_set():
    """Every ref of the v2 definitions points at #/definitions/<name> that exists."""
    v2 = schema.openapi_v2_definitions()
    refs = _all_refs(v2)
    assert all(ref.startswith("#/definitions/") for ref in refs)
    assert {ref[len("#/definitions/"):] for ref in refs} <= set(v2)


def test_v3_shape_of_pod():
    """v3: plain types, refs with a description wrapped in allOf, extensions kept, no kind enums."""
    pod = schema.openapi_v3_schemas()["io.k8s.api.core.v1.Pod"]
    assert pod["type"] == "object"
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["kind"] == {"description": pod["properties"]["kind"]["description"],
                                         "type": "string"}
    metadata = pod["properties"]["metadata"]
    assert metadata["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert "$ref" not in metadata
    assert metadata["description"].startswith("Standard object's metadata")
    containers = schema.openapi_v3_schemas()["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["type"] == "array"


def test_v2_keeps_ref_siblings():
    """v2 keeps description beside $ref, as upstream's swagger does."""
    pod = schema.openapi_v2_definitions()["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["metadata"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert "description" in pod["properties"]["metadata"]


def test_special_scalars():
    """IntOrString and Quantity get upstream's OpenAPI shape in each version."""
    v3 = schema.openapi_v3_schemas()
    v2 = schema.openapi_v2_definitions()
    ios = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    assert v3[ios]["format"] == "int-or-string"
    assert v3[ios]["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert v2[ios]["type"] == "string" and v2[ios]["format"] == "int-or-string"
    quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
    assert v3[quantity]["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert v2[quantity]["type"] == "string"


def test_no_null_types_anywhere_in_v3():
    """OpenAPI 3.0 has no null type: none survives the conversion."""
    def walk(value):
        if isinstance(value, dict):
            declared = value.get("type")
            assert declared != "null" and not isinstance(declared, list), value
            for key, sub in value.items():
                if key not in ("enum", "x-kubernetes-group-version-kind", "required"):
                    walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(schema.openapi_v3_schemas())


def test_conversion_cached_and_source_untouched():
    """The conversion is computed once and leaves the raw definitions as loaded."""
    assert schema.openapi_v3_schemas() is schema.openapi_v3_schemas()
    raw = schema.definitions()["io.k8s.api.core.v1.Pod"]
    assert raw["properties"]["metadata"]["$ref"].startswith("#/$defs/")
    assert raw["properties"]["kind"]["enum"] == ["Pod"]

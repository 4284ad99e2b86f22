"""
Regenerate the message tables in ``tables/`` (a development tool, never imported by the server).

Field numbers, wire types and pointer-ness are facts of the wire format.  This
script reads them from the FileDescriptorProtos that every Go program built on
k8s.io/api carries (gzip-compressed, registered by the generated code), so a
kubectl binary of the wanted minor version is the source:

    python -m kapiserver.machinery.protobuf._generate /path/to/kubectl.1.32

The JSON side (each field's JSON name, ``omitempty``, ``inline``) comes from
the Go struct tags that the same binary keeps for reflection; where a struct is
not found there, from the upstream OpenAPI definitions shipped by
kubernetes_validate (properties, required), which also say which messages are kinds.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap

from ._gobinary import GoBinary, json_fields

# The generated.proto files served by a 1.32 apiserver that we decode: GA
# group-versions plus apimachinery's shared messages.
SOURCES = {
    "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto": "meta_v1",
    "k8s.io/apimachinery/pkg/runtime/generated.proto": "runtime",
    "k8s.io/apimachinery/pkg/runtime/schema/generated.proto": "runtime_schema",
    "k8s.io/apimachinery/pkg/api/resource/generated.proto": "resource",
    "k8s.io/apimachinery/pkg/util/intstr/generated.proto": "intstr",
    "k8s.io/api/core/v1/generated.proto": "core_v1",
    "k8s.io/api/admissionregistration/v1/generated.proto": "admissionregistration_v1",
    "k8s.io/api/apps/v1/generated.proto": "apps_v1",
    "k8s.io/api/authentication/v1/generated.proto": "authentication_v1",
    "k8s.io/api/authorization/v1/generated.proto": "authorization_v1",
    "k8s.io/api/autoscaling/v1/generated.proto": "autoscaling_v1",
    "k8s.io/api/autoscaling/v2/generated.proto": "autoscaling_v2",
    "k8s.io/api/batch/v1/generated.proto": "batch_v1",
    "k8s.io/api/certificates/v1/generated.proto": "certificates_v1",
    "k8s.io/api/coordination/v1/generated.proto": "coordination_v1",
    "k8s.io/api/discovery/v1/generated.proto": "discovery_v1",
    "k8s.io/api/events/v1/generated.proto": "events_v1",
    "k8s.io/api/flowcontrol/v1/generated.proto": "flowcontrol_v1",
    "k8s.io/api/networking/v1/generated.proto": "networking_v1",
    "k8s.io/api/node/v1/generated.proto": "node_v1",
    "k8s.io/api/policy/v1/generated.proto": "policy_v1",
    "k8s.io/api/rbac/v1/generated.proto": "rbac_v1",
    "k8s.io/api/scheduling/v1/generated.proto": "scheduling_v1",
    "k8s.io/api/storage/v1/generated.proto": "storage_v1",
}

# descriptor.proto numbers
_SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
            8: "bool", 9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64",
            17: "sint32", 18: "sint64"}
_MESSAGE = 11
_BYTES = 12
_REPEATED = 3
_GOGO_NULLABLE = 65001
_MAP_ENTRY = 7

# Messages whose JSON form is not an object: the decoder renders them itself.
_OPAQUE = {"meta.v1.Time", "meta.v1.MicroTime", "meta.v1.Duration", "meta.v1.FieldsV1",
           "resource.Quantity", "intstr.IntOrString", "runtime.RawExtension"}


def short_name(full: str) -> str:
    """``.k8s.io.api.core.v1.Pod`` -> ``core.v1.Pod``; apimachinery packages lose their path."""
    full = full.lstrip(".")
    for prefix, short in (("k8s.io.apimachinery.pkg.apis.meta.v1.", "meta.v1."),
                          ("k8s.io.apimachinery.pkg.runtime.schema.", "schema."),
                          ("k8s.io.apimachinery.pkg.runtime.", "runtime."),
                          ("k8s.io.apimachinery.pkg.api.resource.", "resource."),
                          ("k8s.io.apimachinery.pkg.util.intstr.", "intstr."),
                          ("k8s.io.api.", "")):
        if full.startswith(prefix):
            return short + full[len(prefix):]
    raise ValueError(full)


def openapi_name(short: str) -> str:
    package, _, name = short.rpartition(".")
    if package.startswith(("meta.", "runtime", "schema", "resource", "intstr")):
        path = {"meta.v1": "apis.meta.v1", "runtime": "runtime", "schema": "runtime.schema",
                "resource": "api.resource", "intstr": "util.intstr"}[package]
        return f"io.k8s.apimachinery.pkg.{path}.{name}"
    return f"io.k8s.api.{package}.{name}"


class Generator:
    def __init__(self, files: dict, definitions: dict, structs: dict):
        self.messages = {}
        self.go_types = {}   # proto full name -> Go struct fields by proto number
        for info in files.values():
            self.messages.update(info["messages"])
            go_name = info["go_package"].rpartition("/")[2]
            for full in info["messages"]:
                fields = structs.get((info["go_package"], f"{go_name}.{full.rpartition('.')[2]}"))
                if fields is not None:
                    self.go_types[full] = json_fields(fields)
        self.definitions = definitions
        self.warnings: list[str] = []

    def type_of(self, field: dict, package: str) -> str:
        if field["type"] != _MESSAGE:
            return _SCALARS[field["type"]]
        target = self.messages[field["type_name"]]
        if target["options"].get(_MAP_ENTRY):
            key, value = sorted(target["fields"], key=lambda f: f["number"])
            return f"map<{self.type_of(key, package)},{self.type_of(value, package)}>"
        name = short_name(field["type_name"])
        own, _, bare = name.rpartition(".")
        return bare if own == package else name

    def is_list_wrapper(self, full: str) -> bool:
        """A Go named slice type (``type ExtraValue []string``): a message of one repeated ``items``."""
        fields = self.messages[full]["fields"]
        return (len(fields) == 1 and fields[0]["name"] == "items" and fields[0]["label"] == _REPEATED
                and openapi_name(short_name(full)) not in self.definitions)

    def spec(self, full: str) -> str:
        short = short_name(full)
        package = short.rpartition(".")[0]
        schema = self.definitions.get(openapi_name(short), {})
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        go_fields = self.go_types.get(full)
        if go_fields is None and not self.is_list_wrapper(full):
            self.warnings.append(f"{short}: no Go struct tags; JSON names and omitempty guessed from OpenAPI")
        parts = []
        for field in sorted(self.messages[full]["fields"], key=lambda f: f["number"]):
            type_name = self.type_of(field, package)
            repeated = field["label"] == _REPEATED
            flags = "*" if repeated and not type_name.startswith("map<") else ""
            if go_fields is not None and field["number"] in go_fields:
                name, omitempty, inline = go_fields[field["number"]]
                if name in ("", "-"):   # inlined, or a special type's own raw field
                    name = field["name"]
            else:
                name, omitempty, inline = self.guess_json(short, field, properties, required)
            if inline:
                flags += "^"
            nullable = field["options"].get(_GOGO_NULLABLE, 1) != 0
            if repeated:  # slices and maps (maps are repeated entries on the wire)
                always = not omitempty            # Go prints a nil slice or map as null
            elif field["type"] == _MESSAGE:
                always = not nullable             # Go never omits a struct value
            else:
                pointer = nullable and field["type"] != _BYTES
                always = not pointer and not omitempty
                if pointer:
                    flags += "?"
            if always and not inline:
                flags += "!"
            parts.append(f"{field['number']} {name} {type_name}{flags}")
        return "; ".join(parts)

    def guess_json(self, short: str, field: dict, properties: dict, required: set) -> tuple[str, bool, bool]:
        """(JSON name, omitempty, inline) from the OpenAPI definition, for structs the binary lacks."""
        name = field["name"]
        if properties and name not in properties:
            # go-to-protobuf derives a few proto names from the Go name (uID, aPIGroup, Webhooks)
            name = next((p for p in properties if p.lower() == name.lower()), name)
        inline = bool(field["type"] == _MESSAGE and properties and name not in properties
                      and short not in _OPAQUE)
        return name, name not in required, inline

    def module(self, proto: str, package_name: str, files: dict) -> str:
        info = files[proto]
        package = short_name("." + info["package"] + ".X").rpartition(".")[0]
        lines = [f'"""Message tables of {proto} (generated by _generate.py; do not edit)."""', "",
                 f'PACKAGE = "{package}"', "", "MESSAGES = {"]
        lists, kinds = [], []
        for full, message in sorted(info["messages"].items()):
            if message["options"].get(_MAP_ENTRY):
                continue
            name = short_name(full).rpartition(".")[2]
            if self.is_list_wrapper(full):
                lists.append(name)
            if "x-kubernetes-group-version-kind" in self.definitions.get(openapi_name(short_name(full)), {}):
                kinds.append(name)
            body = self.spec(full)
            if len(body) + len(name) < 100:
                lines.append(f'    "{name}": "{body}",')
                continue
            chunks = textwrap.wrap(body, 100, break_long_words=False, break_on_hyphens=False,
                                   drop_whitespace=False)
            lines.append(f'    "{name}": (')
            lines.extend(f'        "{c}"' for c in chunks)
            lines[-1] += "),"
        lines.append("}")
        lines.append("")
        lines.append("# Go named slice types: the JSON form is the bare list of items.")
        lines.append("LISTS = frozenset({" + ", ".join(f'"{n}"' for n in sorted(lists)) + "})")
        lines.append("")
        lines.append("# The messages that are API kinds (may stand at the top of a request body).")
        if kinds:
            lines.append("KINDS = frozenset({")
            lines.extend(textwrap.wrap(", ".join(f'"{k}"' for k in kinds) + ",", 104, initial_indent="    ",
                                       subsequent_indent="    ", break_on_hyphens=False))
            lines.append("})")
        else:
            lines.append("KINDS = frozenset()")
        return "\n".join(lines) + "\n"


def generate(binary: str, out_dir: str) -> list[str]:
    """Write one table module per entry of SOURCES into ``out_dir``; returns the warnings."""
    import kubernetes_validate

    schema_path = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema",
                               "v1.32.0-local", "_definitions.json")
    with open(schema_path) as schema:
        definitions = json.load(schema)["$defs"]
    go_binary = GoBinary(binary)
    files = go_binary.descriptors()
    generator = Generator(files, definitions, go_binary.structs())
    os.makedirs(out_dir, exist_ok=True)
    for proto, module in SOURCES.items():
        with open(os.path.join(out_dir, module + ".py"), "w") as out:
            out.write(generator.module(proto, module, files))
    return generator.warnings


def main(argv: list[str]) -> None:
    for warning in generate(argv[1], os.path.join(os.path.dirname(__file__), "tables")):
        print("warning:", warning, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)

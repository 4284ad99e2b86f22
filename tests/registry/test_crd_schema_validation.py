"""A CRD version's schema checked as apiextensions checks it: structural, and using only what a CRD schema may
(registry.validation.crdschema, through validate_crd): upstream's paths and messages."""

from __future__ import annotations

from kapiserver.registry.crd import validate_crd

AT = "spec.versions[0].schema.openAPIV3Schema"


def crd(schema: dict, **spec) -> dict:
    return {"metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}], **spec}}


def errors(schema: dict, old: dict | None = None, **spec) -> list[str]:
    return [str(e) for e in validate_crd(crd(schema, **spec), old)]


def with_spec(spec: dict) -> dict:
    return {"type": "object", "properties": {"spec": spec}}


def test_every_node_has_a_type():
    """A property, an array's items and the root need a type, unless int-or-string or preserving unknown
    fields; an array needs items; the root is an object."""
    assert errors({"properties": {}}) == [f"{AT}.type: Required value: must not be empty at the root"]
    assert errors({"type": "array", "items": {"type": "string"}}) == [
        f'{AT}.type: Invalid value: "array": must be object at the root']
    assert errors(with_spec({"properties": {"a": {"type": "string"}}})) == [
        f"{AT}.properties[spec].type: Required value: must not be empty for specified object fields"]
    assert errors(with_spec({"type": "array", "items": {"description": "x"}})) == [
        f"{AT}.properties[spec].items.type: Required value: must not be empty for specified array items"]
    assert errors(with_spec({"type": "array"})) == [f"{AT}.properties[spec].items: Required value: must be specified"]
    assert errors(with_spec({"x-kubernetes-int-or-string": True})) == []
    assert errors(with_spec({"x-kubernetes-preserve-unknown-fields": True})) == []


def test_root_metadata_kind_and_additional_properties():
    """At the root: no additionalProperties, metadata says nothing but its type and name/generateName, kind
    and apiVersion are strings."""
    assert errors({"type": "object", "additionalProperties": {"type": "string"}}) == [
        f"{AT}.additionalProperties: Forbidden: must not be used at the root"]
    assert errors({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20}}}}}) == []
    assert errors({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "labels": {"type": "object"}}}}}) == [
        f"{AT}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
        "metadata is implicitly specified"]
    assert errors({"type": "object", "properties": {"kind": {"type": "integer"}}}) == [
        f'{AT}.properties[kind].type: Invalid value: "integer": must be string']


def test_value_validations_are_not_structure():
    """anyOf/allOf/oneOf/not carry validations only (no type, description, default, x-kubernetes-*), never name
    metadata, and every property they name at the root is specified outside them (sorted as upstream sorts)."""
    assert errors({"type": "object", "properties": {"a": {"type": "string"}},
                   "anyOf": [{"properties": {"a": {"type": "string", "description": "d"}, "b": {}}}]}) == [
        f"{AT}.anyOf[0].properties[a].description: Forbidden: must be empty to be structural",
        f"{AT}.anyOf[0].properties[a].type: Forbidden: must be empty to be structural",
        f"{AT}.properties[b]: Required value: because it is defined in {AT}.anyOf[0].properties[b]"]
    int_or_string = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert errors(with_spec(int_or_string)) == []
    assert errors(with_spec({"type": "object", "allOf": [{"x-kubernetes-validations": [{"rule": "true"}]}]})) == [
        f"{AT}.properties[spec].allOf[0].x-kubernetes-validations: Forbidden: must be empty to be structural"]


def test_what_a_crd_schema_may_not_use():
    """uniqueItems, $ref, additionalProperties beside properties, a type OpenAPI lacks, preserve-unknown-fields
    false: each refused with upstream's words."""
    assert errors(with_spec({"type": "array", "uniqueItems": True, "items": {"type": "string"}})) == [
        f"{AT}.properties[spec].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime "
        "complexity becomes quadratic"]
    assert errors(with_spec({"type": "object", "properties": {"a": {"type": "string"}},
                             "additionalProperties": {"type": "string"}})) == [
        f"{AT}.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual "
        "exclusive"]
    assert errors(with_spec({"type": "object", "$ref": "#/definitions/x"})) == [
        f"{AT}.properties[spec].$ref: Forbidden: $ref is not supported"]
    assert errors(with_spec({"type": "text"})) == [
        f'{AT}.properties[spec].type: Unsupported value: "text": supported values: "array", "boolean", "integer", '
        '"number", "object", "string"']
    assert errors(with_spec({"type": "object", "x-kubernetes-preserve-unknown-fields": False})) == [
        f"{AT}.properties[spec].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"]


def test_list_and_map_types():
    """A map list's keys: present, named properties of object items, scalar, required or defaulted; a set's
    object items atomic; list and map types only on arrays and objects."""
    items = {"type": "object", "properties": {"k": {"type": "string"}, "o": {"type": "object"}}}
    assert errors(with_spec({"type": "array", "x-kubernetes-list-type": "map", "items": items})) == [
        f"{AT}.properties[spec].x-kubernetes-list-map-keys: Required value: must not be empty if "
        "x-kubernetes-list-type is map"]
    assert errors(with_spec({"type": "array", "x-kubernetes-list-type": "map",
                             "x-kubernetes-list-map-keys": ["k", "nope"], "items": items})) == [
        f'{AT}.properties[spec].x-kubernetes-list-map-keys: Invalid value: []string{{"k", "nope"}}: entries must '
        "all be names of item properties",
        f"{AT}.properties[spec].items.properties[k].default: Required value: this property is in "
        "x-kubernetes-list-map-keys, so it must have a default or be a required property"]
    assert errors(with_spec({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                             "items": {**items, "required": ["k"]}})) == []
    assert errors(with_spec({"type": "array", "x-kubernetes-list-type": "set", "items": items})) == [
        f'{AT}.properties[spec].items.x-kubernetes-map-type: Invalid value: "null": must be atomic as item of a list '
        "with x-kubernetes-list-type=set"]
    assert errors(with_spec({"type": "object", "x-kubernetes-list-type": "bag"})) == [
        f'{AT}.properties[spec].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified',
        f'{AT}.properties[spec].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", '
        '"map"']


def test_non_structural_schema_keeps_its_rules_uncompiled_and_an_unchanged_schema_is_kept():
    """Rules are compiled only in a structural schema (as upstream); an update leaving a version's schema as it
    was (a CRD stored before these checks) is not judged again; preserveUnknownFields may not be set true."""
    bad = {"type": "object", "properties": {"spec": {"properties": {}, "x-kubernetes-validations": [
        {"rule": "self.nope"}]}}}
    assert errors(bad) == [f"{AT}.properties[spec].type: Required value: must not be empty for specified object "
                           "fields"]
    assert errors(bad, old=crd(bad)) == []
    assert errors({"type": "object"}, preserveUnknownFields=True) == [
        "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields "
        "to true in spec.versions[*].schema instead"]


def test_defaults_are_pruned_and_valid():
    """A default holds no field its schema would prune and validates against its schema, at its own path; none
    may be set in the top-level metadata."""
    assert errors(with_spec({"type": "object", "properties": {"a": {"type": "integer", "default": "abc"}}})) == [
        f'{AT}.properties[spec].properties[a].default: Invalid value: "string": {AT}.properties[spec].properties[a]'
        '.default in body must be of type integer: "string"']
    assert errors(with_spec({"type": "object", "properties": {"a": {"type": "integer", "maximum": 2,
                                                                    "default": 3}}})) == [
        f"{AT}.properties[spec].properties[a].default: Invalid value: 3: {AT}.properties[spec].properties[a].default "
        "in body should be less than or equal to 2"]
    assert errors(with_spec({"type": "object", "default": {"zz": 1}, "properties": {"a": {"type": "integer"}}})) == [
        f'{AT}.properties[spec].default: Invalid value: map[string]interface {{}}{{"zz":1}}: must not have unknown '
        "fields"]
    assert errors(with_spec({"type": "object", "default": {"a": 1}, "properties": {"a": {"type": "integer"}}})) == []
    assert errors({"type": "object", "properties": {"metadata": {"type": "object", "default": {"name": "x"}}}}) == [
        f"{AT}.properties[metadata].default: Forbidden: must not be set in top-level metadata"]


def test_defaults_are_held_to_their_rules():
    """A default that its node's x-kubernetes-validations refuse (transition rules seeing it as its own old value)
    makes the CRD invalid at <path>.default; a rule that does not compile is refused as such, not run."""
    even = {"type": "integer", "default": 7, "x-kubernetes-validations": [
        {"rule": "self % 2 == 0", "message": "must be even"}, {"rule": "self >= oldSelf", "message": "grows"}]}
    assert errors(with_spec({"type": "object", "properties": {"n": even}})) == [
        f'{AT}.properties[spec].properties[n].default: Invalid value: "integer": must be even']
    assert errors(with_spec({"type": "object", "properties": {"n": {**even, "default": 8}}})) == []
    pair = {"type": "object", "default": {"min": 5, "max": 1}, "properties": {
        "min": {"type": "integer"}, "max": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": "min above max"}]}
    assert errors(with_spec(pair)) == [f'{AT}.properties[spec].default: Invalid value: "object": min above max']


def test_defaults_are_held_to_their_rules_whatever_else_is_wrong():
    """Upstream runs the defaults' rules (ValidateDefaults) before it looks at what the schema may use and before it
    compiles any rule: a default's rule error is listed first, beside any schema error elsewhere; and since a
    default's error keeps every rule from being compiled, a rule that does not compile is reported at the default
    it judges ('rule compile error'), and one elsewhere not at all."""
    at = f"{AT}.properties[spec].properties"
    even = {"type": "integer", "default": 7, "x-kubernetes-validations": [
        {"rule": "self % 2 == 0", "message": "must be even"}]}
    unique = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert errors(with_spec({"type": "object", "properties": {"n": even, "tags": unique}})) == [
        f'{at}[n].default: Invalid value: "integer": must be even',
        f"{at}[tags].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes "
        "quadratic"]
    broken_elsewhere = {"type": "string", "x-kubernetes-validations": [{"rule": "self.size( > 1"}]}
    assert errors(with_spec({"type": "object", "properties": {"n": even, "s": broken_elsewhere}})) == [
        f'{at}[n].default: Invalid value: "integer": must be even']
    broken = {"type": "integer", "default": 8, "x-kubernetes-validations": [{"rule": "self.nope"}]}
    assert errors(with_spec({"type": "object", "properties": {"n": broken}})) == [
        f'{at}[n].default: Invalid value: "integer": rule compile error: compilation failed: ERROR: <input>:1:5: '
        "type 'int' does not support field selection\n | self.nope\n | ....^"]
    not_bool = {"type": "integer", "default": 8, "x-kubernetes-validations": [{"rule": "self + 1"}]}
    assert errors(with_spec({"type": "object", "properties": {"n": not_bool}})) == [
        f'{at}[n].default: Invalid value: "integer": rule compile error: cel expression must evaluate to a bool']
    # A default its schema refuses is not run through its rules; the other defaults still are.
    assert errors(with_spec({"type": "object", "properties": {"n": even, "m": {**even, "maximum": 2}}})) == [
        f'{at}[n].default: Invalid value: "integer": must be even',
        f"{at}[m].default: Invalid value: 7: {at}[m].default in body should be less than or equal to 2"]


def _with_status(schema: dict) -> dict:
    obj = crd(schema)
    obj["spec"]["versions"][0]["subresources"] = {"status": {}}
    return obj


def test_the_root_with_the_status_subresource_says_only_what_survives_taking_status_out():
    """With the status subresource enabled, the root may set only upstream's allowedFieldsAtRootSchema, and be an
    object: the first other field set (in upstream's field order) is refused, with the root schema as the value;
    unset and zero values (false, "") do not count.  Without the subresource none of this applies."""
    allowed = {"type": "object", "description": "d", "required": ["spec"], "properties": {"spec": {"type": "object"}},
               "x-kubernetes-validations": [{"rule": "true"}], "x-kubernetes-preserve-unknown-fields": True,
               "nullable": False, "x-kubernetes-embedded-resource": False, "title": ""}
    assert [str(e) for e in validate_crd(_with_status(allowed))] == []
    fields = ("[Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength "
              "Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example "
              "XPreserveUnknownFields XValidations]")
    for extra in ({"maxProperties": 3}, {"x-kubernetes-map-type": "atomic"}, {"enum": []},
                  {"anyOf": [{"required": ["spec"]}]}):
        schema = {"type": "object", **extra}
        found = validate_crd(_with_status(schema))
        assert found[0].field == AT and found[0].reason == "FieldValueInvalid", extra
        assert found[0].body.startswith("Invalid value: map[string]interface {}{") and found[0].body.endswith(
            f": only {fields} fields are allowed at the root of the schema if the status subresource is enabled")
        assert not any("status subresource" in e for e in errors(schema))      # without the subresource
    # The type, checked where upstream's order meets it: before nullable, after id.
    assert [str(e) for e in validate_crd(_with_status({"type": "array", "items": {"type": "string"},
                                                       "maxProperties": 1}))][0] == (
        f'{AT}.type: Invalid value: "array": only "object" is allowed as the type at the root of the schema if the '
        "status subresource is enabled")


def test_a_nullable_root_is_refused():
    assert errors({"type": "object", "nullable": True}) == [
        f"{AT}.nullable: Forbidden: nullable cannot be true at the root"]


def test_rules_are_compiled_where_no_schema_error_lies_at_or_below_them():
    """A schema error of what a CRD schema may use (not a structural one) keeps the rules at and above it from
    being compiled, not the others'; every schema error comes before every rule's."""
    schema = with_spec({"type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "string"}, "uniqueItems": True,
              "x-kubernetes-validations": [{"rule": "self.nope"}]},
        "b": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size( > 1"}]}},
        "x-kubernetes-validations": [{"rule": "self.missing == 1"}]})
    found = errors(schema)
    assert found[0] == (f"{AT}.properties[spec].properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to "
                        "true since the runtime complexity becomes quadratic")
    assert len(found) == 2 and found[1].startswith(
        f"{AT}.properties[spec].properties[b].x-kubernetes-validations[0].rule: Invalid value: ")
    assert "Syntax error" in found[1]
    # A structural error keeps every rule from being compiled.
    schema["properties"]["spec"]["properties"]["c"] = {"description": "no type"}
    assert not any("x-kubernetes-validations" in e for e in errors(schema))


def test_a_schema_error_keeps_from_compiling_the_rules_of_the_node_that_reports_it():
    """Upstream compiles a node's rules unless a schema error was reported in checking it or the nodes below it: an
    error a list reports at its items' path (a set's items not atomic, a map list's key neither required nor
    defaulted) keeps the list's rules from compiling, and its ancestors', not the items' or the key's."""
    at = f"{AT}.properties[spec].properties"

    def rule(source: str) -> str:
        return (f'apiextensions.ValidationRule{{Rule:"{source}", Message:"", MessageExpression:"", '
                "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}")

    items = {"type": "object", "properties": {"a": {"type": "string"}},
             "x-kubernetes-validations": [{"rule": "self.a.nope"}]}
    listed = {"type": "array", "x-kubernetes-list-type": "set", "items": items,
              "x-kubernetes-validations": [{"rule": "self.nope"}]}
    assert errors(with_spec({"type": "object", "properties": {"s": listed}})) == [
        f'{at}[s].items.x-kubernetes-map-type: Invalid value: "null": must be atomic as item of a list with '
        "x-kubernetes-list-type=set",
        f"{at}[s].items.x-kubernetes-validations[0].rule: Invalid value: {rule('self.a.nope')}: compilation "
        "failed: ERROR: <input>:1:7: type 'string' does not support field selection\n | self.a.nope\n | ......^"]
    key = {"type": "string", "x-kubernetes-validations": [{"rule": "self.nope"}]}
    mapped = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
              "x-kubernetes-validations": [{"rule": "self.nope"}],
              "items": {"type": "object", "properties": {"k": key}}}
    assert errors(with_spec({"type": "object", "properties": {"m": mapped}})) == [
        f"{at}[m].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so "
        "it must have a default or be a required property",
        f"{at}[m].items.properties[k].x-kubernetes-validations[0].rule: Invalid value: {rule('self.nope')}: "
        "compilation failed: ERROR: <input>:1:5: type 'string' does not support field selection\n | self.nope\n"
        " | ....^"]


def test_each_rule_entry_has_a_rule_and_a_one_line_message():
    """An entry's own shape is a schema error (so its node's rules are not compiled): one error per entry, the
    first of upstream's checks that fails."""
    at = f"{AT}.properties[spec].x-kubernetes-validations"
    found = errors(with_spec({"type": "object", "x-kubernetes-validations": [
        {"rule": "  "}, {"rule": "true", "message": "  "}, {"rule": "true", "message": "two\nlines"},
        {"rule": "self.a ==\n1"}, {"rule": "self.nope", "message": "fine"}]}))
    assert found == [
        f"{at}[0].rule: Required value: rule is not specified",
        f'{at}[1].message: Invalid value: "  ": message must be non-empty if specified',
        f'{at}[2].message: Invalid value: "two\\nlines": message must not contain line breaks',
        f"{at}[3].message: Required value: message must be specified if rule contains line breaks"]


def test_a_rule_entrys_message_expression_reason_and_field_path_are_schema_errors():
    """As upstream checks an entry beside its rule and message (each check of its own, so one entry may have
    several): a messageExpression not blank, a known reason, a fieldPath not blank, on one line and naming a field
    of the node.  Schema errors all: listed with the others, whatever is wrong elsewhere, and keeping their node's
    rules from being compiled."""
    at = f"{AT}.properties[spec].x-kubernetes-validations"
    entries = [{"rule": "true", "messageExpression": "  "}, {"rule": "true", "reason": "FieldValueOther"},
               {"rule": "true", "fieldPath": " "}, {"rule": "true", "fieldPath": ".a\n"},
               {"rule": "true", "fieldPath": ".b"}, {"rule": "true", "fieldPath": ".a"},
               {"rule": "self.nope == 1"}]
    spec = {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-validations": entries}
    expected = [
        f"{at}[0].messageExpression: Required value: messageExpression must be non-empty if specified",
        f'{at}[1].reason: Unsupported value: "FieldValueOther": supported values: "FieldValueDuplicate", '
        '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"',
        f'{at}[2].fieldPath: Invalid value: " ": fieldPath must be non-empty if specified',
        f'{at}[2].fieldPath: Invalid value: " ": fieldPath must be a valid path',
        f'{at}[3].fieldPath: Invalid value: ".a\\n": fieldPath must not contain line breaks',
        f'{at}[3].fieldPath: Invalid value: ".a\\n": fieldPath must be a valid path',
        f'{at}[4].fieldPath: Invalid value: ".b": fieldPath must be a valid path']
    assert errors(with_spec(spec)) == expected
    untyped = {"description": "no type"}
    assert errors(with_spec({**spec, "properties": {"a": {"type": "string"}, "c": untyped}})) == [
        f"{AT}.properties[spec].properties[c].type: Required value: must not be empty for specified object fields",
        *expected]


def test_a_schema_judged_again_is_answered_from_memory(monkeypatch):
    """The same schema created again (a fixture's CRD, an operator's at each start) gets the same errors without
    being judged again, and so does a version whose schema is an error-free other's; another schema, the same
    with errors at another version's path, one past the memory's size, or one whose JSON cannot be written (an
    integer past 64 bits) is judged."""
    from kapiserver.registry import crd as crd_module
    judged = []
    judge = crd_module._judge_schema
    monkeypatch.setattr(crd_module, "_judge_schema", lambda schema, at: judged.append(at) or judge(schema, at))
    monkeypatch.setattr(crd_module, "_JUDGED", type(crd_module._JUDGED)())
    bad = {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": [
        {"rule": "self.missing > 1"}]}}}
    first = errors(bad)
    assert first and errors(bad) == first and len(judged) == 1
    assert errors(dict(bad, description="another")) == first and len(judged) == 2
    assert errors({"type": "object"}) == [] and len(judged) == 3

    def two_versions(schema):
        two = crd(schema)
        two["spec"]["versions"].append(dict(two["spec"]["versions"][0], name="v2", storage=False))
        return validate_crd(two)
    assert len(two_versions(bad)) == 2 * len(first) and judged[3:] == [AT.replace("[0]", "[1]")]
    good = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}},
                                                      "x-kubernetes-validations": [{"rule": "self.n > 1"}]}}}
    del judged[:]
    assert two_versions(good) == [] and judged == [AT]
    del judged[:]
    for i in range(crd_module._JUDGED_LIMIT):
        errors({"type": "object", "description": str(i)})
    errors(good)
    assert judged[-1] == AT and len(judged) == crd_module._JUDGED_LIMIT + 1
    del judged[:]
    huge = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 2 ** 70}}}
    errors(huge)
    errors(huge)
    assert len(judged) == 2

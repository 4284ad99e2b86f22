"""A CRD's versions, names and storedVersions checked as apiextensions validation does: paths and messages."""

from __future__ import annotations

import json

from kapiserver.registry.crd import deprecation_warning, validate_crd
from kapiserver.registry.validation.apiextensions import stored_versions

SCHEMA = {"openAPIV3Schema": {"type": "object"}}


def crd(versions: list[dict], **names) -> dict:
    return {"metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
                               **names},
                     "versions": versions}}


def version(name: str = "v1", storage: bool = True, **fields) -> dict:
    return {"name": name, "served": True, "storage": storage, "schema": SCHEMA, **fields}


def messages(obj: dict) -> list[str]:
    return [str(e) for e in validate_crd(obj)]


def test_deprecation_warning_only_on_deprecated_versions_and_printable():
    """deprecationWarning: refused on a version not deprecated, past 256 bytes, empty, or with a non-printable
    character (its byte offset named)."""
    path = "spec.versions[0].deprecationWarning"
    assert messages(crd([version(deprecationWarning="old")])) == [
        f'{path}: Invalid value: "old": can only be set for deprecated versions']
    assert messages(crd([version(deprecated=True, deprecationWarning="x" * 257)])) == [
        f'{path}: Invalid value: "{"x" * 257}": must be <= 256 characters long']
    assert messages(crd([version(deprecated=True, deprecationWarning="")])) == [
        f'{path}: Invalid value: "": must not be an empty string']
    assert messages(crd([version(deprecated=True, deprecationWarning="é\tb")])) == [
        f'{path}: Invalid value: "é\\tb": must only contain printable UTF-8 characters; non-printable character '
        "found at index 2"]
    assert messages(crd([version(deprecated=True, deprecationWarning="use v2 instead")])) == []


def test_printer_columns_name_a_known_type_and_format():
    """additionalPrinterColumns: the type and format among upstream's lists, the JSON path a simple one."""
    columns = [{"name": "A", "type": "float", "jsonPath": ".spec.a"},
               {"name": "B", "type": "integer", "format": "uint8", "jsonPath": "spec.b"},
               {"type": "string", "jsonPath": ".spec.c"}]
    path = "spec.versions[0].additionalPrinterColumns"
    assert messages(crd([version(additionalPrinterColumns=columns)])) == [
        f'{path}[0].type: Invalid value: "float": must be one of boolean,date,integer,number,string',
        f'{path}[1].format: Invalid value: "uint8": must be one of '
        "byte,date,date-time,double,float,int32,int64,password",
        f'{path}[1].JSONPath: Invalid value: "spec.b": must be a simple json path starting with .',
        f"{path}[2].name: Required value"]


def test_scale_paths_lie_under_spec_and_status():
    """The scale subresource's replicas paths lie under .spec. and .status., its selector path under either."""
    scale = {"specReplicasPath": ".status.replicas", "statusReplicasPath": "status.replicas",
             "labelSelectorPath": ".metadata.labels"}
    path = "spec.versions[0].subresources.scale"
    assert messages(crd([version(subresources={"scale": scale})])) == [
        f'{path}.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec',
        f'{path}.statusReplicasPath: Invalid value: "status.replicas": must be a simple json path starting with .',
        f'{path}.labelSelectorPath: Invalid value: ".metadata.labels": should be a json path under either .spec '
        "or .status"]
    assert messages(crd([version(subresources={"scale": {}})])) == [
        f"{path}.specReplicasPath: Required value", f"{path}.statusReplicasPath: Required value"]


def test_names_are_dns1035_labels():
    """shortNames and categories are DNS-1035 labels; kind and listKind may have mixed case and differ."""
    label = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
             "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
             "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    assert messages(crd([version()], shortNames=["wd", "W_D"], categories=["all", "1st"],
                        listKind="Widget")) == [
        f'spec.names.shortNames[1]: Invalid value: "W_D": {label}',
        'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same',
        f'spec.names.categories[1]: Invalid value: "1st": {label}']
    assert messages(crd([version()], kind="Wid.get", listKind="Wid.getList")) == [
        f'spec.names.kind: Invalid value: "Wid.get": may have mixed case, but should otherwise match: {label}',
        f'spec.names.listKind: Invalid value: "Wid.getList": may have mixed case, but should otherwise match: '
        f"{label}"]


def test_stored_versions_stay_in_spec_versions():
    """Every stored version appears in spec.versions, the storage version among them, and there is one."""
    obj = crd([version("v2")])
    obj["status"] = {"storedVersions": ["v1", "v2"]}
    assert [str(e) for e in stored_versions(obj)] == [
        'status.storedVersions[0]: Invalid value: "v1": must appear in spec.versions']
    obj["status"] = {"storedVersions": []}
    assert [str(e) for e in stored_versions(obj)] == [
        "status.storedVersions: Invalid value: []string{}: must have at least one stored version"]


def test_default_deprecation_warning_names_the_best_newer_version():
    """Upstream's default text names the highest-priority served, non-deprecated version above the deprecated one."""
    spec = {"group": "example.com", "names": {"kind": "Widget"}, "versions": [
        {"name": "v1alpha1", "served": True, "deprecated": True}, {"name": "v1beta1", "served": True},
        {"name": "v1", "served": True}, {"name": "v2", "served": False}, {"name": "v1beta2", "served": True,
                                                                            "deprecated": True}]}
    versions = spec["versions"]
    assert deprecation_warning(spec, versions[0]) == \
        "example.com/v1alpha1 Widget is deprecated; use example.com/v1 Widget"
    assert deprecation_warning(spec, versions[1]) is None
    assert deprecation_warning({**spec, "versions": versions[:1]}, versions[0]) == \
        "example.com/v1alpha1 Widget is deprecated"
    assert deprecation_warning(spec, {"name": "v1", "deprecated": True, "deprecationWarning": "gone soon"}) == \
        "gone soon"


def test_a_storage_version_without_a_name_is_refused_not_a_crash(store_registry):
    """A storage version with no name (or ``versions: [null]``) is 422 Invalid naming the name, not a DNS-1035
    label, as upstream, whose status then holds the storedVersion ""."""
    import pytest

    from kapiserver.machinery.errors import StatusError
    from tests.controllers.conftest import run

    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           **crd([{"served": True, "storage": True, "schema": SCHEMA}])}
    with pytest.raises(StatusError) as raised:
        run(store_registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions").create(None, obj))
    assert raised.value.code == 422
    assert "spec.versions[0].name: Invalid value: \"\": a DNS-1035 label must consist of" in raised.value.message


def test_a_status_write_judges_the_accepted_names_not_the_spec():
    """As upstream's status strategy: a write through /status is checked for its metadata and accepted names only,
    so a CRD stored before a check was tightened (here a rule the type checker now refuses) still gets its
    conditions; so does a write of the CRD itself that leaves the version's schema as it was, while a new CRD
    with that schema is refused."""
    from kapiserver.registry.catalog import enabled_builtin
    from kapiserver.registry.crd import CustomResourceDefinitionStrategy
    info = next(i for i in enabled_builtin({}) if i.resource == "customresourcedefinitions")
    strategy = CustomResourceDefinitionStrategy(info, clock=None)
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"n": {"type": "integer"}},
                                  "x-kubernetes-validations": [{"rule": "self.n > 'x'"}]}}
    old = crd([version(schema=schema)])
    old["metadata"].update(resourceVersion="1", uid="u", creationTimestamp="2026-12-07T00:00:00Z", generation=1)
    old["status"] = {"storedVersions": ["v1"], "acceptedNames": {"plural": "widgets", "kind": "Widget"}}
    new = json.loads(json.dumps(old))
    new["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    assert strategy.validate_subresource_update("status", new, old) == []
    assert not any("x-kubernetes-validations" in e.field for e in strategy.validate_update(new, old))
    assert any("found no matching overload for '_>_'" in str(e) for e in validate_crd(new))
    new["status"]["acceptedNames"]["plural"] = "Widgets"
    assert [e.field for e in strategy.validate_subresource_update("status", new, old)] == [
        "status.acceptedNames.plural"]


def test_rule_cost_past_the_limit_is_kept_on_an_update_that_leaves_its_schema_unchanged():
    """A rule estimated past the per-rule limit refuses a CRD, and an update that changes the version's schema; an
    update that leaves that version's schema as it was keeps it (upstream's ratcheting of stored CRDs)."""
    ports = {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}}
    spec = {"type": "object", "properties": {"ports": ports},
            "x-kubernetes-validations": [{"rule": "self.ports.map(p, p.port).all(x, x > 0)"}]}

    def stored(**more) -> dict:
        schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": {**spec, **more}}}}
        return crd([version(schema=schema)])

    path = "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    refused = [f"{path}: Forbidden: estimated rule cost exceeds budget by factor of 2.0x (try simplifying the rule, "
               "or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"]
    assert messages(stored()) == refused
    assert [str(e) for e in validate_crd(stored(), stored())] == []
    assert [str(e) for e in validate_crd(stored(description="changed"), stored())] == refused
    bounded = {**ports, "maxItems": 100}
    assert messages(stored(properties={"ports": bounded})) == []


def test_a_missing_scope_is_named_as_go_names_an_empty_string():
    obj = crd([version()])
    del obj["spec"]["scope"]
    assert messages(obj) == ['spec.scope: Unsupported value: "": supported values: "Cluster", "Namespaced"']
    obj["spec"]["scope"] = "Galaxy"
    assert messages(obj) == ['spec.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"']


def test_a_crd_stored_before_a_check_can_still_be_updated():
    """A version whose schema an update leaves as it was is not judged again, whatever kapiserver now refuses in
    it (a rule, a root field beside the status subresource): its finalizer can be removed, its labels changed.
    Enabling the status subresource judges the root again; changing the schema judges all of it."""
    schema = {"openAPIV3Schema": {"type": "object", "maxProperties": 5, "properties": {"spec": {
        "type": "object", "x-kubernetes-validations": [{"rule": "has(self)"}]}}}}
    stored = crd([version(schema=schema, subresources={"status": {}})])
    refused = messages(stored)
    assert len(refused) == 2 and "status subresource is enabled" in refused[0] and "has() macro" in refused[1]
    updated = json.loads(json.dumps(stored))
    updated["metadata"]["finalizers"] = []
    assert validate_crd(updated, stored) == []
    without_status = crd([version(schema=schema)])
    assert [str(e) for e in validate_crd(stored, without_status)] == refused[:1]
    changed = json.loads(json.dumps(stored))
    changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "changed"
    assert [e.field for e in validate_crd(changed, stored)] == [e.field for e in validate_crd(stored)]


def test_version_names_are_dns_1035_labels_and_unique(store_registry):
    """A version's name is a path segment: "v1.0" and "V_3" are refused as upstream refuses them (DNS-1035), and
    two versions of one name are one error about the list."""
    import pytest

    from kapiserver.machinery.errors import StatusError
    from tests.controllers.conftest import run

    store = store_registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           **crd([{"name": "v1.0", "served": True, "storage": True, "schema": SCHEMA},
                  {"name": "V_3", "served": True, "storage": False, "schema": SCHEMA}])}
    with pytest.raises(StatusError) as raised:
        run(store.create(None, obj))
    assert raised.value.code == 422
    fields = [(c["field"], c["message"].split(" must consist")[0]) for c in raised.value.details["causes"]]
    assert fields == [("spec.versions[0].name", 'Invalid value: "v1.0": a DNS-1035 label'),
                      ("spec.versions[1].name", 'Invalid value: "V_3": a DNS-1035 label')], fields
    twice = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
             **crd([{"name": "v1", "served": True, "storage": True, "schema": SCHEMA},
                    {"name": "v1", "served": True, "storage": False, "schema": SCHEMA}])}
    with pytest.raises(StatusError) as raised:
        run(store.create(None, twice))
    assert [c["message"] for c in raised.value.details["causes"]] == [
        'Invalid value: "": must contain unique version names']

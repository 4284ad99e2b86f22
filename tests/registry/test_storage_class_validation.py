"""StorageClass validation as upstream's pkg/apis/storage/validation and the StorageClass strategy:
allowedTopologies checked, and an update's errors listed after the create rules'."""

from __future__ import annotations

import copy

from kapiserver.registry.defaults import apply_defaults
from kapiserver.registry.validation import validate


def storage_class(**fields):
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast",
                                                                                    "resourceVersion": "1"},
            "provisioner": "example.com/disks"}
    body.update(fields)
    return body


def errors(obj, old=None):
    obj = copy.deepcopy(obj)
    apply_defaults("storage.k8s.io", "v1", "StorageClass", obj)
    if old is not None:
        old = copy.deepcopy(old)
        apply_defaults("storage.k8s.io", "v1", "StorageClass", old)
    return [str(e) for e in validate("storage.k8s.io", "v1", "StorageClass", obj, old, False)]


def zone(*values, key="topology.kubernetes.io/zone"):
    return {"key": key, "values": list(values)}


def test_allowed_topologies_need_values_and_keys_once_each():
    """A requirement needs values, none twice, and a valid label key used once per term."""
    assert errors(storage_class(allowedTopologies=[{"matchLabelExpressions": [zone()]}])) == [
        "allowedTopologies[0].matchLabelExpressions[0].values: Required value"]
    assert errors(storage_class(allowedTopologies=[{"matchLabelExpressions": [zone("a", "b", "a"), zone("c")]}])) == [
        'allowedTopologies[0].matchLabelExpressions[0].values[2]: Duplicate value: "a"',
        'allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value: "topology.kubernetes.io/zone"']
    assert errors(storage_class(allowedTopologies=[{"matchLabelExpressions": [zone("a", key="bad key")]}])) == [
        'allowedTopologies[0].matchLabelExpressions[0].key: Invalid value: "bad key": name part must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
        "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
    assert errors(storage_class(allowedTopologies=[{"matchLabelExpressions": [zone("a", "b")]},
                                                   {"matchLabelExpressions": [zone("c")]}])) == []


def test_a_repeated_or_empty_term_is_a_duplicate():
    """A term with the keys and value sets of an earlier one is a duplicate; so is a term without requirements,
    once per term of the list, as upstream's comparison list starts with that many empty terms."""
    one = {"matchLabelExpressions": [zone("a", "b")]}
    assert errors(storage_class(allowedTopologies=[one, {"matchLabelExpressions": [zone("b", "a")]}])) == [
        'allowedTopologies[1].matchLabelExpressions: Duplicate value: ""']
    assert errors(storage_class(allowedTopologies=[one, {}])) == [
        'allowedTopologies[1].matchLabelExpressions: Duplicate value: ""'] * 2


def test_update_lists_the_create_rules_first():
    """As upstream's strategy ValidateUpdate: ValidateStorageClass's errors, then ValidateStorageClassUpdate's."""
    old = storage_class()
    new = storage_class(provisioner="bad provisioner")
    found = errors(new, old)
    assert found[0].startswith('provisioner: Invalid value: "bad provisioner"')
    assert found[-1] == "provisioner: Forbidden: updates to provisioner are forbidden."

"""Decoding JSON into built-in types: type errors, unknown fields, nulls."""

import pytest

from kapiserver.machinery import schema, typed
from kapiserver.machinery.errors import StatusError

POD = schema.node_for("", "v1", "Pod")
CONFIGMAP = schema.node_for("", "v1", "ConfigMap")


def test_unknown_fields_are_dropped_and_reported():
    """Fields a type does not have are removed and their paths returned."""
    obj, unknown = typed.decode({"metadata": {"name": "x", "foo": 1},
                                 "spec": {"containers": [{"name": "c", "image": "i", "bogus": 2}]}},
                                POD, "Pod", "v1")
    assert obj == {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    assert unknown == ["metadata.foo", "spec.containers[0].bogus"]     # indexed, as upstream names it


def test_wrong_json_type_is_a_bad_request_as_upstream_words_it():
    """A number where a string belongs is a 400 naming the Go field and type."""
    with pytest.raises(StatusError) as raised:
        typed.decode({"data": {"a": 1}}, CONFIGMAP, "ConfigMap", "v1")
    assert raised.value.code == 400
    assert raised.value.message == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
                                    'unmarshal number into Go struct field ConfigMap.data[a] of type string')


def test_nulls_mean_absent_and_int_or_string_takes_both():
    """A null struct field is dropped; intstr fields take numbers and strings."""
    obj, _ = typed.decode({"metadata": {"name": "x", "labels": None}}, CONFIGMAP, "ConfigMap", "v1")
    assert obj == {"metadata": {"name": "x"}}
    service = schema.node_for("", "v1", "Service")
    for target in (8080, "http"):
        obj, _ = typed.decode({"spec": {"ports": [{"port": 80, "targetPort": target}]}}, service, "Service", "v1")
        assert obj["spec"]["ports"][0]["targetPort"] == target
    with pytest.raises(StatusError):
        typed.decode({"spec": {"ports": [{"port": 80, "targetPort": True}]}}, service, "Service", "v1")


def test_a_null_list_item_is_its_go_zero_value():
    """A null item of a list of structs or strings decodes as Go's zero value (``{}``, ``""``), so a CRD's
    ``versions: [null]`` reaches validation (spec.versions[0].name: Required value) instead of a 500."""
    crd = schema.node_for("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    obj, _ = typed.decode({"spec": {"versions": [None, {"name": "v1"}], "names": {"shortNames": [None]}}},
                          crd, "CustomResourceDefinition", "v1")
    assert obj == {"spec": {"versions": [{}, {"name": "v1"}], "names": {"shortNames": [""]}}}


def test_an_integer_out_of_its_go_range_is_a_bad_request():
    """A number past int32 (replicas) or int64 (generation) is a 400 quoting the number, as Go's decoder."""
    deployment = schema.node_for("apps", "v1", "Deployment")
    with pytest.raises(StatusError) as raised:
        typed.decode({"spec": {"replicas": 2 ** 31}}, deployment, "Deployment", "v1")
    assert raised.value.code == 400
    assert raised.value.message == ('Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
                                    'unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas '
                                    'of type int32')
    with pytest.raises(StatusError):
        typed.decode({"metadata": {"generation": 2 ** 63}}, CONFIGMAP, "ConfigMap", "v1")
    assert typed.decode({"metadata": {"generation": 2 ** 63 - 1}}, CONFIGMAP, "ConfigMap", "v1")[0] == \
        {"metadata": {"generation": 2 ** 63 - 1}}

"""The 422 of any kind as upstream's NewInvalid makes it: an error the validators report twice (ValidateLabels
words a bad value on the map's path, so two keys with the same bad value give the same error) is listed once in
the message (ErrorList.ToAggregate) and twice in the causes."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError

from tests.controllers.conftest import run

LABEL_VALUE = ("Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, "
               "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
               "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def refused(registry, resource, obj) -> StatusError:
    with pytest.raises(StatusError) as error:
        run(registry.store("", "v1", resource).create("default", obj))
    assert error.value.code == 422
    return error.value


def test_a_config_map_error_repeated_is_listed_once_and_caused_twice(store_registry):
    error = refused(store_registry, "configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "labels": {"a": "-x", "b": "-x"}}})
    assert error.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'ConfigMap "c" is invalid: metadata.labels: {LABEL_VALUE}', "reason": "Invalid",
        "details": {"name": "c", "kind": "ConfigMap", "causes": [
            {"reason": "FieldValueInvalid", "message": LABEL_VALUE, "field": "metadata.labels"},
            {"reason": "FieldValueInvalid", "message": LABEL_VALUE, "field": "metadata.labels"}]},
        "code": 422}


def test_a_pod_error_repeated_among_others_is_listed_once(store_registry):
    error = refused(store_registry, "pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"a": "-x", "b": "-x"}},
        "spec": {"containers": [{"name": "c", "image": "i"}], "nodeSelector": {"a": "-x", "b": "-x"}}})
    assert error.message == (f'Pod "p" is invalid: [metadata.labels: {LABEL_VALUE}, '
                             f'spec.nodeSelector: {LABEL_VALUE}]')
    assert [(c["field"], c["message"]) for c in error.details["causes"]] == [
        ("metadata.labels", LABEL_VALUE), ("metadata.labels", LABEL_VALUE),
        ("spec.nodeSelector", LABEL_VALUE), ("spec.nodeSelector", LABEL_VALUE)]


def test_supported_once_reports_each_member_at_its_index_in_order():
    """_util.supported_once: NotSupported then Duplicate for each member, as the loops it replaced did."""
    from kapiserver.registry.validation._util import supported_once
    assert [str(e) for e in supported_once(["IPv4", "IPv5", "IPv4", "IPv5"], "spec.ipFamilies",
                                           ("IPv4", "IPv6"))] == [
        'spec.ipFamilies[1]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
        'spec.ipFamilies[2]: Duplicate value: "IPv4"',
        'spec.ipFamilies[3]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
        'spec.ipFamilies[3]: Duplicate value: "IPv5"']

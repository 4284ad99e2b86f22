"""A CRD whose schema names string formats: its custom resources are refused (422 Invalid) when a string
is not of its format, with upstream's message, and created when it is."""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.controllers.crd import CRDController
from kapiserver.machinery.errors import StatusError

from tests.controllers.conftest import run

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "probes.formats.example.com"},
       "spec": {"group": "formats.example.com", "scope": "Namespaced",
                "names": {"plural": "probes", "singular": "probe", "kind": "Probe", "listKind": "ProbeList"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"status": {"type": "object", "properties": {
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                        "target": {"type": "string", "format": "uri"},
                        "note": {"type": "string", "format": "int-or-whatever"}}}}}}}]}}


@pytest.fixture
def probes(store_registry):
    CRDController(store_registry, reactor)       # serves what the CRD defines once it is written
    run(store_registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions").create(None, CRD))
    return store_registry.store("formats.example.com", "v1", "probes")


def probe(name, **status):
    return {"apiVersion": "formats.example.com/v1", "kind": "Probe",
            "metadata": {"name": name, "namespace": "default"}, "status": status}


def test_a_string_not_of_its_format_is_refused_with_upstreams_message(probes):
    """A date-time that is not one is 422 Invalid: FieldValueTypeInvalid, the format named as written; values
    of their formats are created, and a format apiextensions does not know is not checked."""
    with pytest.raises(StatusError) as error:
        run(probes.create("default", probe("bad", lastTransitionTime="bad", target="not a uri")))
    assert (error.value.code, error.value.reason) == (422, "Invalid")
    assert error.value.details["causes"] == [
        {"reason": "FieldValueTypeInvalid", "field": "status.lastTransitionTime",
         "message": 'Invalid value: "bad": status.lastTransitionTime in body must be of type date-time: "bad"'},
        {"reason": "FieldValueTypeInvalid", "field": "status.target",
         "message": 'Invalid value: "not a uri": status.target in body must be of type uri: "not a uri"'}]
    assert error.value.message.startswith('Probe.formats.example.com "bad" is invalid: [status.lastTransitionTime: '
                                          'Invalid value: "bad": status.lastTransitionTime in body must be of type '
                                          'date-time: "bad", ')
    made = run(probes.create("default", probe("good", lastTransitionTime="2024-05-01T10:00:00Z",
                                              target="https://example.com/x", note="a format not known")))
    assert made["status"]["lastTransitionTime"] == "2024-05-01T10:00:00Z"

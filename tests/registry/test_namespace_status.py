"""namespaces/status and namespaces/finalize through the generic Store, as upstream's namespaceStatusStrategy
and namespaceFinalizeStrategy treat them: the phase written through /status agrees with the
deletionTimestamp (ValidateNamespaceStatusUpdate); /finalize keeps only the old status, taking the spec and
the metadata sent (ValidateNamespaceFinalizeUpdate checks each finalizer)."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import WriteOptions
from kapiserver.registry.subresources.status import finalize

from tests.controllers.conftest import run


@pytest.fixture
def namespaces(store_registry):
    store = store_registry.store("", "v1", "namespaces")
    run(store.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
    return store


def write_status(store, phase):
    def update(old):
        old["status"] = {"phase": phase}
        return old
    return run(store.update(None, "team", update, subresource="status"))[0]


def refused(call) -> str:
    with pytest.raises(StatusError) as e:
        call()
    assert e.value.code == 422 and e.value.reason == "Invalid"
    return e.value.message


def test_status_phase_follows_the_deletion_timestamp(namespaces):
    """A live namespace is Active; one being deleted is Terminating; /status may not say otherwise."""
    assert refused(lambda: write_status(namespaces, "Terminating")) == (
        'Namespace "team" is invalid: status.Phase: Invalid value: "Terminating": may only be \'Active\' if '
        '`deletionTimestamp` is empty')
    assert write_status(namespaces, "Active")["status"]["phase"] == "Active"
    run(namespaces.delete(None, "team"))
    assert refused(lambda: write_status(namespaces, "Active")).endswith(
        'status.Phase: Invalid value: "Active": may only be \'Terminating\' if `deletionTimestamp` is not empty')
    assert write_status(namespaces, "Terminating")["status"]["phase"] == "Terminating"


def test_finalize_takes_the_metadata_sent_and_keeps_the_status(namespaces):
    body = run(namespaces.get(None, "team"))
    body["metadata"]["labels"] = {"team": "a"}
    body["metadata"]["annotations"] = {"note": "finalized"}
    body["spec"]["finalizers"] = ["kubernetes", "example.com/cleanup"]
    body["status"] = {"phase": "Terminating"}
    written = run(finalize(namespaces, None, "team", body, WriteOptions()))
    assert written["metadata"]["labels"] == {"team": "a", "kubernetes.io/metadata.name": "team"}
    assert written["metadata"]["annotations"] == {"note": "finalized"}
    assert written["spec"]["finalizers"] == ["kubernetes", "example.com/cleanup"]
    assert written["status"] == {"phase": "Active"}


def test_finalize_checks_each_finalizer_name(namespaces):
    body = run(namespaces.get(None, "team"))
    body["spec"]["finalizers"] = ["kubernetes", "nope"]
    assert refused(lambda: run(finalize(namespaces, None, "team", body, WriteOptions()))).endswith(
        'spec.finalizers[1]: Invalid value: "nope": name is neither a standard finalizer name nor is it fully '
        'qualified')

"""generateName in the generic Store: a generated name that is taken is generated again (upstream
1.32's RetryGenerateName), up to eight names in all."""

from __future__ import annotations

import pytest

from kapiserver.machinery import meta
from kapiserver.machinery.errors import StatusError

from tests.controllers.conftest import run


@pytest.fixture
def configmaps(store_registry):
    store = store_registry.store("", "v1", "configmaps")
    run(store.create("default", {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "cm-taken", "namespace": "default"}}))
    return store


def generated(monkeypatch, names):
    """Make meta.generate_name hand out ``names`` in turn."""
    given = iter(names)
    monkeypatch.setattr(meta, "generate_name", lambda base: base + next(given))


def test_a_taken_generated_name_is_generated_again(configmaps, monkeypatch):
    """The first generated name is taken: the create succeeds under the next one."""
    generated(monkeypatch, ["taken", "fresh"])
    made = run(configmaps.create("default", {"metadata": {"generateName": "cm-"}, "data": {"a": "b"}}))
    assert made["metadata"]["name"] == "cm-fresh" and made["data"] == {"a": "b"}


def test_eight_taken_names_are_a_conflict(configmaps, monkeypatch):
    """After eight taken names the create fails with 409 AlreadyExists, naming the last one."""
    generated(monkeypatch, ["taken"] * 8)
    with pytest.raises(StatusError) as error:
        run(configmaps.create("default", {"metadata": {"generateName": "cm-"}}))
    assert (error.value.code, error.value.reason) == (409, "AlreadyExists")
    assert error.value.message == 'configmaps "cm-taken" already exists'


def test_a_given_name_is_not_retried(configmaps, monkeypatch):
    """With a name of its own, a create of an existing object is 409 at once, generateName or not."""
    generated(monkeypatch, [])
    with pytest.raises(StatusError) as error:
        run(configmaps.create("default", {"metadata": {"name": "cm-taken", "generateName": "cm-"}}))
    assert error.value.reason == "AlreadyExists"

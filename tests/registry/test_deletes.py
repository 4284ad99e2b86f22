"""Deletes in the generic Store as upstream's store answers them: a failed precondition's 409 (BeforeDelete's
words, the kind named; namespaces' and CRDs' own storage words theirs), the generation bumped when an object is
first marked for deletion, a pod's shortened grace period moving its deadline by the difference, a terminating
namespace without a deletionGracePeriodSeconds, a deletecollection with a limit deleting one page, and a PUT
naming another namespace refused before its object is looked up."""

from __future__ import annotations

import pytest

from kapiserver.machinery import meta
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import DeleteOptions, ListOptions

from tests.controllers.conftest import run


def _failed(call) -> StatusError:
    with pytest.raises(StatusError) as error:
        run(call)
    return error.value


def _configmap(name, **meta_fields):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default",
                                                                   **meta_fields}}


def _deployment(name, **meta_fields):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", **meta_fields},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def test_a_failed_precondition_names_the_kind_in_before_deletes_words(store_registry):
    configmaps = store_registry.store("", "v1", "configmaps")
    made = run(configmaps.create("default", _configmap("pre")))
    uid, version = made["metadata"]["uid"], made["metadata"]["resourceVersion"]
    error = _failed(configmaps.delete("default", "pre", DeleteOptions(precondition_uid="abc")))
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == (f'Operation cannot be fulfilled on ConfigMap "pre": the UID in the precondition (abc) '
                             f'does not match the UID in record ({uid}). The object might have been deleted and '
                             f'then recreated')
    assert error.details == {"name": "pre", "kind": "ConfigMap"}
    error = _failed(configmaps.delete("default", "pre", DeleteOptions(precondition_resource_version="1")))
    assert error.message == (f'Operation cannot be fulfilled on ConfigMap "pre": the ResourceVersion in the '
                             f'precondition (1) does not match the ResourceVersion in record ({version}). The '
                             f'object might have been modified')
    deployments = store_registry.store("apps", "v1", "deployments")
    run(deployments.create("default", _deployment("pre")))
    error = _failed(deployments.delete("default", "pre", DeleteOptions(precondition_uid="abc")))
    assert error.message.startswith('Operation cannot be fulfilled on Deployment.apps "pre": the UID')
    assert error.details == {"name": "pre", "group": "apps", "kind": "Deployment"}
    run(configmaps.delete("default", "pre", DeleteOptions(precondition_uid=uid, precondition_resource_version=version)))


def test_namespaces_word_a_failed_precondition_their_own_way(store_registry):
    namespaces = store_registry.store("", "v1", "namespaces")
    made = run(namespaces.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pre"}}))
    error = _failed(namespaces.delete(None, "pre", DeleteOptions(precondition_uid="abc")))
    assert error.message == ('Operation cannot be fulfilled on namespaces "pre": Precondition failed: UID in '
                             f'precondition: abc, UID in object meta: {made["metadata"]["uid"]}')
    assert error.details == {"name": "pre", "kind": "namespaces"}


def test_a_terminating_namespace_has_a_deletion_timestamp_alone(store_registry):
    namespaces = store_registry.store("", "v1", "namespaces")
    run(namespaces.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}}))
    marked, deleted = run(namespaces.delete(None, "going"))
    assert not deleted and marked["status"]["phase"] == "Terminating"
    assert marked["metadata"]["deletionTimestamp"] and "deletionGracePeriodSeconds" not in marked["metadata"]
    assert "deletionGracePeriodSeconds" not in run(namespaces.get(None, "going"))["metadata"]


def test_the_generation_is_bumped_once_when_an_object_is_marked_for_deletion(store_registry):
    """An object held by a finalizer, or deleted in the foreground, gets generation + 1 when first marked (its
    controllers see a change), not again on a later delete; one without a generation gets none."""
    deployments = store_registry.store("apps", "v1", "deployments")
    run(deployments.create("default", _deployment("held", finalizers=["example.com/hold"])))
    run(deployments.create("default", _deployment("fore")))
    for name, options in (("held", DeleteOptions()), ("fore", DeleteOptions(propagation_policy="Foreground"))):
        assert run(deployments.get("default", name))["metadata"]["generation"] == 1
        marked, deleted = run(deployments.delete("default", name, options))
        assert not deleted and marked["metadata"]["generation"] == 2
        assert run(deployments.get("default", name))["metadata"]["generation"] == 2
        again, _ = run(deployments.delete("default", name, options))
        assert again["metadata"]["generation"] == 2
    configmaps = store_registry.store("", "v1", "configmaps")
    run(configmaps.create("default", _configmap("held", finalizers=["example.com/hold"])))
    marked, _ = run(configmaps.delete("default", "held"))
    assert "generation" not in marked["metadata"]


def test_a_shorter_grace_period_moves_the_deadline_by_the_difference(store_registry, monkeypatch):
    """A pod on a node deleted with 30 s, then with 10 s: the deadline set first, 20 s earlier (upstream's
    BeforeDelete), however long after the first delete the second comes; a longer one changes nothing."""
    pods = store_registry.store("", "v1", "pods")
    run(pods.create("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}}))
    first, _ = run(pods.delete("default", "p", DeleteOptions(grace_period_seconds=30)))
    deadline = meta.parse_time(first["metadata"]["deletionTimestamp"])
    assert first["metadata"]["deletionGracePeriodSeconds"] == 30
    later = pods.now() + 7
    monkeypatch.setattr(pods, "now", lambda: later)
    shorter, deleted = run(pods.delete("default", "p", DeleteOptions(grace_period_seconds=10)))
    assert not deleted and shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    assert meta.parse_time(shorter["metadata"]["deletionTimestamp"]) == deadline - 20
    longer, _ = run(pods.delete("default", "p", DeleteOptions(grace_period_seconds=20)))
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 10
    assert longer["metadata"]["deletionTimestamp"] == shorter["metadata"]["deletionTimestamp"]


def test_a_deletecollection_with_a_limit_deletes_one_page_and_answers_it(store_registry):
    """limit=2 of five: those two go, the answer is them as listed with the continue token for the rest;
    following it deletes the next page; without a limit the rest go at once."""
    configmaps = store_registry.store("", "v1", "configmaps")
    for i in range(5):
        run(configmaps.create("default", _configmap(f"dc-{i}", finalizers=["example.com/hold"] if i == 0 else [])))
    names = lambda: sorted(i["metadata"]["name"] for i in run(configmaps.list("default", ListOptions()))[0])  # noqa
    page, list_meta = run(configmaps.delete_collection("default", ListOptions(limit=2), DeleteOptions()))
    assert [i["metadata"]["name"] for i in page] == ["dc-0", "dc-1"]
    assert "deletionTimestamp" not in page[0]["metadata"]       # as listed, before its delete
    assert list_meta.get("continue")
    assert names() == ["dc-0", "dc-2", "dc-3", "dc-4"]         # dc-0 held by its finalizer
    page, list_meta = run(configmaps.delete_collection(
        "default", ListOptions(limit=2, continue_token=list_meta["continue"]), DeleteOptions()))
    assert [i["metadata"]["name"] for i in page] == ["dc-2", "dc-3"]
    rest, list_meta = run(configmaps.delete_collection("default", ListOptions(), DeleteOptions()))
    assert [i["metadata"]["name"] for i in rest] == ["dc-0", "dc-4"] and not list_meta.get("continue")
    assert names() == ["dc-0"]


def test_a_put_naming_another_namespace_is_refused_before_its_object_is_looked_up(store_registry):
    configmaps = store_registry.store("", "v1", "configmaps")
    for name in ("absent", "present"):
        if name == "present":
            run(configmaps.create("default", _configmap(name)))
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "other"}}
        error = _failed(configmaps.update("default", name, lambda old, body=body: body))
        assert (error.code, error.message) == (
            400, "the namespace of the provided object does not match the namespace sent on the request")



def _pod(name, node=""):
    spec = {"containers": [{"name": "c", "image": "nginx"}], **({"nodeName": node} if node else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def test_a_pod_that_goes_at_once_is_marked_first(store_registry):
    """An unscheduled pod goes at once, but as upstream's graceful delete takes it: first marked (deletionTimestamp,
    deletionGracePeriodSeconds 0), which a watch sees as MODIFIED, then deleted; the answer carries the mark."""
    from tests.controllers.conftest import run_until
    pods = store_registry.store("", "v1", "pods")
    made = run(pods.create("default", _pod("now")))
    seen = []
    def heard(kind, obj):
        seen.append((kind, obj["metadata"].get("deletionGracePeriodSeconds")))
    watch = run(pods.watch_events("default", ListOptions(resource_version=made["metadata"]["resourceVersion"]), heard))
    gone, deleted = run(pods.delete("default", "now"))
    assert deleted and gone["metadata"]["deletionGracePeriodSeconds"] == 0 and gone["metadata"]["deletionTimestamp"]
    run_until(lambda: len(seen) >= 2, 10)
    watch.cancel()
    assert seen == [("MODIFIED", 0), ("DELETED", 0)]


def test_a_dry_run_delete_answers_the_marked_pod_and_changes_nothing(store_registry):
    pods = store_registry.store("", "v1", "pods")
    made = run(pods.create("default", _pod("dry", node="n1")))
    marked, deleted = run(pods.delete("default", "dry", DeleteOptions(dry_run=True)))
    assert not deleted and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"]
    stored = run(pods.get("default", "dry"))
    assert "deletionTimestamp" not in stored["metadata"]
    assert stored["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_a_pods_grace_period_cut_to_nothing_is_marked_then_deleted(store_registry):
    """A pod on a node waiting out 30 s, deleted again with gracePeriodSeconds=0: its deadline moved back by 30 s
    and its grace period 0 in the answer, and it is gone; a negative period is taken as one second."""
    pods = store_registry.store("", "v1", "pods")
    run(pods.create("default", _pod("cut", node="n1")))
    first, _ = run(pods.delete("default", "cut"))
    gone, deleted = run(pods.delete("default", "cut", DeleteOptions(grace_period_seconds=0)))
    assert deleted and gone["metadata"]["deletionGracePeriodSeconds"] == 0
    assert meta.parse_time(gone["metadata"]["deletionTimestamp"]) == \
        meta.parse_time(first["metadata"]["deletionTimestamp"]) - 30
    run(pods.create("default", _pod("negative", node="n1")))
    marked, deleted = run(pods.delete("default", "negative", DeleteOptions(grace_period_seconds=-5)))
    assert not deleted and marked["metadata"]["deletionGracePeriodSeconds"] == 1


def test_delete_collection_workers_delete_at_once_and_report_the_first_failure(store_registry, monkeypatch):
    """With several workers (--delete-collection-workers) every listed object is tried, up to that many at once;
    one that fails is the answer, the others gone all the same, as upstream's workers go on with the rest."""
    configmaps = store_registry.store("", "v1", "configmaps")
    configmaps.delete_collection_workers = 4
    for i in range(6):
        run(configmaps.create("default", _configmap(f"w-{i}")))
    listed, _ = run(configmaps.delete_collection("default", ListOptions(), DeleteOptions()))
    assert len(listed) == 6 and run(configmaps.list("default", ListOptions()))[0] == []
    for i in range(5):
        run(configmaps.create("default", _configmap(f"w-{i}")))
    delete = configmaps.delete

    async def refusing(namespace, name, options, collection=False):
        if name == "w-1":
            raise StatusError(409, "Conflict", "refused")
        return await delete(namespace, name, options, collection=collection)
    monkeypatch.setattr(configmaps, "delete", refusing)
    error = _failed(configmaps.delete_collection("default", ListOptions(), DeleteOptions()))
    assert (error.code, error.message) == (409, "refused")
    assert [i["metadata"]["name"] for i in run(configmaps.list("default", ListOptions()))[0]] == ["w-1"]


def test_the_registry_hands_its_stores_the_delete_collection_workers(tmp_path):
    from twisted.internet import reactor

    from kapiserver.registry.registry import Registry
    from kapiserver.storage.memory import MemoryStorage
    registry = Registry(MemoryStorage(reactor), reactor, delete_collection_workers=3)
    assert registry.store("", "v1", "configmaps").delete_collection_workers == 3


def test_a_pod_disruption_budget_must_be_updated_at_its_resource_version(store_registry):
    """PodDisruptionBudgets refuse an unconditional update, as upstream's strategy: 422 naming the resource, the
    missing version shown as Go's uint64 0; with the version it goes through."""
    budgets = store_registry.store("policy", "v1", "poddisruptionbudgets")
    made = run(budgets.create("default", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                          "metadata": {"name": "pdb"}, "spec": {"minAvailable": 1}}))
    bare = {**made, "metadata": {"name": "pdb", "namespace": "default"}, "spec": {"minAvailable": 2}}
    error = _failed(budgets.update("default", "pdb", lambda old: bare))
    assert (error.code, error.message) == (422, 'poddisruptionbudgets.policy "pdb" is invalid: '
                                                'metadata.resourceVersion: Invalid value: 0x0: must be specified for '
                                                'an update')
    assert error.details["kind"] == "poddisruptionbudgets" and error.details["group"] == "policy"
    versioned = {**bare, "metadata": {**bare["metadata"], "resourceVersion": made["metadata"]["resourceVersion"]}}
    updated, _ = run(budgets.update("default", "pdb", lambda old: versioned))
    assert updated["spec"]["minAvailable"] == 2

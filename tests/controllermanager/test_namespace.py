"""namespace-controller against a real apiserver that finalizes no namespace itself (--embedded-controllers=):
content deleted across resources (custom ones included), the deletion conditions as upstream words them,
the ``kubernetes`` finalizer taken off last."""

from __future__ import annotations

import pytest

from kapiserver.client.resources import CONFIG_MAPS, NAMESPACES, PODS, REPLICATION_CONTROLLERS, SECRETS, Resource
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.namespace import ConditionUpdater, NamespaceController, deletion_conditions
from kapiserver.controllermanager.discovery import APIResource, Discovery
from tests.controllers.conftest import settle
from tests.controllermanager.conftest import WITHOUT_NAMESPACE_AND_GC, eventually, run
from tests.conformance.support import unique
from tests.e2e.conftest import APIServerProcess

APISERVICES = Resource("apiregistration.k8s.io", "v1", "apiservices", "APIService", False)


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "data", args=(WITHOUT_NAMESPACE_AND_GC,))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def namespaces(controllers):
    return controllers("namespace-controller", namespace_deletion_grace_period=0)


def gone(client, name):
    try:
        run(client.get(NAMESPACES, name))
        return False
    except APIError as e:
        return e.code == 404


def create_namespace(client) -> str:
    name = unique("nsc")
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def test_content_is_deleted_then_the_namespace_goes(client, namespaces):
    """Every namespaced resource's objects go (pods, configmaps, secrets, a ReplicationController, which would
    orphan by default: deleted in the background, it needs no garbage collector), then the kubernetes finalizer,
    then the namespace."""
    name = create_namespace(client)
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "a", "namespace": name}}))
    run(client.create(SECRETS, {"metadata": {"name": "s", "namespace": name}}))
    run(client.create(PODS, {"metadata": {"name": "p", "namespace": name},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    run(client.create(REPLICATION_CONTROLLERS, {"metadata": {"name": "rc", "namespace": name}, "spec": {
        "replicas": 0, "selector": {"a": "b"},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
    run(client.delete(NAMESPACES, name))
    eventually(lambda: gone(client, name))


def test_finalizer_held_content_keeps_the_namespace_with_conditions(client, namespaces):
    """Content held by a finalizer keeps the namespace Terminating with NamespaceContentRemaining and
    NamespaceFinalizersRemaining True in upstream's words; once released, the namespace goes."""
    name = create_namespace(client)
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "held", "namespace": name,
                                                 "finalizers": ["example.com/hold"]}}))
    run(client.delete(NAMESPACES, name))

    def conditions():
        found = deletion_conditions(run(client.get(NAMESPACES, name)))
        return found if found.get("NamespaceContentRemaining", {}).get("status") == "True" else None
    found = eventually(conditions)
    assert found["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert found["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: configmaps. has 1 resource instances"
    assert found["NamespaceFinalizersRemaining"] == {**found["NamespaceFinalizersRemaining"], "status": "True",
                                                     "reason": "SomeFinalizerRemain", "message":
                                                     "Some finalizers are remaining: example.com/hold in 1 "
                                                     "resource instances"}
    assert found["NamespaceDeletionDiscoveryFailure"]["reason"] == "ResourcesDiscovered"
    assert found["NamespaceDeletionContentFailure"]["status"] == "False"
    namespace = run(client.get(NAMESPACES, name))
    assert namespace["status"]["phase"] == "Terminating" and namespace["spec"]["finalizers"] == ["kubernetes"]
    run(client.patch(CONFIG_MAPS, "held", {"metadata": {"finalizers": None}}, name))
    eventually(lambda: gone(client, name), timeout=20)


def test_discovery_failure_is_reported_and_blocks_finalization(client, namespaces):
    """An aggregated API that cannot be discovered sets NamespaceDeletionDiscoveryFailure (DiscoveryFailed) and the
    namespace waits; once the APIService is gone, the namespace is finalized."""
    name = create_namespace(client)
    run(client.create(APISERVICES, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                                    "metadata": {"name": "v1.broken.example.com"},
                                    "spec": {"group": "broken.example.com", "version": "v1",
                                             "service": {"namespace": "default", "name": "nowhere"},
                                             "groupPriorityMinimum": 100, "versionPriority": 10,
                                             "insecureSkipTLSVerify": True}}))
    try:
        run(client.delete(NAMESPACES, name))

        def failure():
            c = deletion_conditions(run(client.get(NAMESPACES, name))).get("NamespaceDeletionDiscoveryFailure")
            return c if c and c["status"] == "True" else None
        condition = eventually(failure)
        assert condition["reason"] == "DiscoveryFailed"
        assert condition["message"].startswith("Discovery failed for some groups, 1 failing: unable to retrieve the "
                                               "complete list of server APIs: broken.example.com/v1: ")
        settle(0.3)
        assert not gone(client, name)
    finally:
        run(client.delete(APISERVICES, "v1.broken.example.com"))
    eventually(lambda: gone(client, name), timeout=30)


def test_condition_updater_keeps_transition_times_of_unchanged_status():
    """A condition whose status stays keeps its lastTransitionTime when its message changes; a new one is set on a
    change of status (upstream's updateConditions)."""
    first = ConditionUpdater(0)
    first.content_totals({"configmaps.": 2}, {})
    status: dict = {}
    assert first.apply(status)
    second = ConditionUpdater(100)
    second.content_totals({"configmaps.": 1}, {})
    assert second.apply(status)
    remaining = next(c for c in status["conditions"] if c["type"] == "NamespaceContentRemaining")
    assert remaining["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
    assert remaining["lastTransitionTime"] == "1970-01-01T00:00:00Z"
    third = ConditionUpdater(200)
    third.content_errors.append("boom")
    assert third.apply(status)
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["NamespaceContentRemaining"]["status"] == "False"
    assert by_type["NamespaceContentRemaining"]["lastTransitionTime"] == "1970-01-01T00:03:20Z"
    assert by_type["NamespaceDeletionContentFailure"]["message"] == \
        "Failed to delete all resource types, 1 remaining: boom"
    again = ConditionUpdater(300)
    again.content_errors.append("boom")
    assert not again.apply(status), "the same outcome again changes nothing"


def test_discovery_failure_message_is_upstreams():
    """ErrGroupDiscoveryFailed's text, groups sorted."""
    found = Discovery(failed={"b.example.com/v1": "the server is currently unable to handle the request",
                              "a.example.com/v1": "boom"})
    assert found.failure_message() == ("unable to retrieve the complete list of server APIs: a.example.com/v1: boom, "
                                       "b.example.com/v1: the server is currently unable to handle the request")


def test_kubectl_delete_namespace_waits_until_it_is_gone(client, namespaces, kubectl):
    """`kubectl delete namespace` (which waits) returns once the controller has emptied and finalized it."""
    name = create_namespace(client)
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "a", "namespace": name}}))
    process = kubectl.popen("delete", "namespace", name, "--timeout=30s")
    eventually(lambda: process.poll() is not None, timeout=30)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert f'namespace "{name}" deleted' in out
    assert gone(client, name)


def test_running_pods_are_deleted_gracefully_and_the_namespace_follows(client, namespaces, simulated_nodes):
    """Pods running on a node are deleted with their grace period; once the node has confirmed, the namespace
    goes (the controller looks again sooner than upstream's estimate, backing off)."""
    simulated_nodes("ns-node")
    name = create_namespace(client)
    for i in range(3):
        run(client.create(PODS, {"metadata": {"name": f"p{i}", "namespace": name}, "spec": {
            "nodeName": "ns-node", "containers": [{"name": "c", "image": "busybox"}]}}))
    eventually(lambda: all(p["status"].get("phase") == "Running" for p in run(client.list(PODS, name))["items"]))
    run(client.delete(NAMESPACES, name))
    eventually(lambda: gone(client, name), timeout=20)


def test_a_pod_past_its_grace_period_is_a_content_failure(client, namespaces):
    """A pod whose node never confirms its deletion holds the namespace: while its grace period runs from the
    namespace's deletion that is a wait, after it upstream's NamespaceDeletionContentFailure (ContentDeletionFailed,
    the unexpected items named by group, version and resource); once the pod goes, so does the namespace."""
    name = create_namespace(client)
    run(client.create(PODS, {"metadata": {"name": "stuck", "namespace": name}, "spec": {
        "nodeName": "no-such-node", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox"}]}}))
    run(client.delete(NAMESPACES, name))

    def failure():
        c = deletion_conditions(run(client.get(NAMESPACES, name))).get("NamespaceDeletionContentFailure")
        return c if c and c["status"] == "True" else None
    condition = eventually(failure, timeout=20)
    assert condition["reason"] == "ContentDeletionFailed"
    assert condition["message"] == ("Failed to delete all resource types, 1 remaining: unexpected items still "
                                    f"remain in namespace: {name} for gvr: /v1, Resource=pods")
    run(client.delete(PODS, "stuck", name, grace_period_seconds=0))
    eventually(lambda: gone(client, name), timeout=30)


def test_content_goes_even_once_the_kubernetes_finalizer_is_gone(client, namespaces):
    """Upstream's finalized(): a namespace whose only finalizer is another's (``kubernetes`` taken off through
    /finalize before its deletion) still has its content deleted; it stays until that finalizer goes."""
    name = create_namespace(client)
    namespace = run(client.get(NAMESPACES, name))
    namespace["spec"]["finalizers"] = ["example.com/keep"]
    run(client.update(NAMESPACES, namespace, subresource="finalize"))
    run(client.create(CONFIG_MAPS, {"metadata": {"name": "a", "namespace": name}}))
    run(client.delete(NAMESPACES, name))
    eventually(lambda: not [c for c in run(client.list(CONFIG_MAPS, name))["items"]
                            if c["metadata"]["name"] == "a"])
    namespace = run(client.get(NAMESPACES, name))
    assert namespace["spec"]["finalizers"] == ["example.com/keep"]
    namespace["spec"]["finalizers"] = []
    run(client.update(NAMESPACES, namespace, subresource="finalize"))
    eventually(lambda: gone(client, name))


def test_finalize_leaves_the_other_finalizers_sorted(client, namespaces):
    """Upstream's finalizeNamespace: the finalizers other than ``kubernetes`` are written back sorted, each once."""
    name = create_namespace(client)
    namespace = run(client.get(NAMESPACES, name))
    namespace["spec"]["finalizers"] = ["kubernetes", "z.example.com/b", "a.example.com/a"]
    run(client.update(NAMESPACES, namespace, subresource="finalize"))
    run(client.delete(NAMESPACES, name))
    eventually(lambda: "kubernetes" not in run(client.get(NAMESPACES, name))["spec"]["finalizers"])
    namespace = run(client.get(NAMESPACES, name))
    assert namespace["spec"]["finalizers"] == ["a.example.com/a", "z.example.com/b"]
    namespace["spec"]["finalizers"] = []
    run(client.update(NAMESPACES, namespace, subresource="finalize"))
    eventually(lambda: gone(client, name))


class FakeClient:
    """What delete_resource_content asks of its clients: a collection that answers ``collection`` (an APIError
    code, or None for success) to a deletecollection, ``items`` to a list, and each delete recorded."""

    def __init__(self, items, collection=None):
        self.items, self.collection, self.deleted = list(items), collection, []

    async def request(self, method, path, body=None):
        if self.collection:
            raise APIError(self.collection, {"reason": "MethodNotAllowed", "message": "not served"})
        self.items = []

    async def list(self, resource, namespace):
        return {"items": [{"metadata": {"name": n}} for n in self.items]}

    async def delete(self, resource, name, namespace, **options):
        self.deleted.append(name)
        self.items.remove(name)


def deleter(client):
    from twisted.internet.task import Clock
    controller = object.__new__(NamespaceController)
    controller.client = controller.metadata_client = client
    controller.clock = Clock()
    return controller


@pytest.mark.parametrize("code", [404, 405])
def test_a_deletecollection_not_served_falls_back_to_deleting_each_item(code):
    """Upstream's deleteAllContentForGroupVersionResource: a deletecollection that discovery offers but the server
    refuses as not found or not allowed is done as a list and a delete of each item, then the rest is counted."""
    widgets = Resource("example.com", "v1", "widgets", "Widget", True)
    client = FakeClient(["a", "b"], collection=code)
    api_resource = APIResource(widgets, frozenset({"list", "delete", "deletecollection"}))
    assert run(deleter(client).delete_resource_content(api_resource, "ns", 0.0)) == (0.0, 0, {})
    assert client.deleted == ["a", "b"]


def test_a_resource_without_list_is_still_deleted_as_a_collection(monkeypatch):
    """Discovery's delete verb is what makes a resource deletable (upstream's filter); with deletecollection and
    no list, the collection is deleted and nothing can be counted."""
    import kapiserver.controllermanager.namespace as module
    widgets = Resource("example.com", "v1", "widgets", "Widget", True)
    client = FakeClient(["a"])
    api_resource = APIResource(widgets, frozenset({"delete", "deletecollection"}))

    async def discover(_client):
        return Discovery(resources=[api_resource])

    async def write_conditions(name, updater):
        return None
    monkeypatch.setattr(module, "discover", discover)
    controller = deleter(client)
    controller._write_conditions = write_conditions
    namespace = {"metadata": {"name": "ns", "deletionTimestamp": "1970-01-01T00:00:00Z"}}
    assert run(controller.delete_all_content(namespace)) == 0
    assert client.items == []


def test_a_failing_deletion_is_retried_at_least_every_minute():
    """Upstream's nsControllerRateLimiter: backing off from 5 ms, capped at 60 s (not client-go's 1000 s)."""
    from twisted.internet.task import Clock
    limiter = NamespaceController.rate_limiter(None, Clock())
    delays = [limiter.when("ns") for _ in range(20)]
    assert delays[0] == 0.005 and max(delays) == 60.0


def test_a_collection_deleted_is_not_deleted_again_item_by_item():
    """A deletecollection the server served is the whole deletion: what is still listed after it (objects held by
    finalizers) is counted as remaining, not deleted one by one, whatever the collection's answer body was."""
    class Held(FakeClient):
        async def request(self, method, path, body=None):
            return None     # served; the items stay, held by their finalizers

    widgets = Resource("example.com", "v1", "widgets", "Widget", True)
    client = Held(["a", "b"])
    api_resource = APIResource(widgets, frozenset({"list", "delete", "deletecollection"}))
    wait, remaining, _ = run(deleter(client).delete_resource_content(api_resource, "ns", 0.0))
    assert remaining == 2
    assert client.deleted == []

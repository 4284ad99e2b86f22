"""A CRD's deletion as apiextensions runs it (the Terminating condition through its reasons, no new custom
resources meanwhile), and the watches of its custom resources ending when what serves them is torn down."""

from __future__ import annotations

from tests.conformance.support import Watch, ok, wait_for

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GROUP = "termination.example.com"
HOLD = "example.com/hold"
MERGE = {"Content-Type": "application/merge-patch+json"}


def crd(plural: str, kind: str, **metadata) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}", **metadata},
            "spec": {"group": GROUP, "scope": "Namespaced", "names": {"plural": plural, "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def served(server, body: dict) -> str:
    ok(server.request("POST", CRDS, body), 201)
    path = f"/apis/{GROUP}/v1/namespaces/default/{body['spec']['names']['plural']}"
    wait_for(lambda: server.request("GET", path)[0] == 200, what=f"{path} to be served")
    return path


def cr(kind: str, name: str, **metadata) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name, **metadata}}


def terminating(server, name: str) -> dict:
    conditions = ok(server.request("GET", f"{CRDS}/{name}"))["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Terminating")


def test_deletion_walks_the_terminating_condition_and_refuses_creates(apiserver):
    """A deleted CRD is Terminating (InstanceDeletionPending, then InstanceDeletionInProgress while an instance
    holds on), refuses new instances with a 405, and once they are gone reads InstanceDeletionCompleted (False)
    and gives up its cleanup finalizer."""
    path = served(apiserver, crd("holds", "Hold", finalizers=[HOLD]))
    name = f"holds.{GROUP}"
    ok(apiserver.request("POST", path, cr("Hold", "stuck", finalizers=[HOLD])), 201)

    marked = ok(apiserver.request("DELETE", f"{CRDS}/{name}"))
    pending = next(c for c in marked["status"]["conditions"] if c["type"] == "Terminating")
    assert (pending["status"], pending["reason"], pending["message"]) == (
        "True", "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon")
    assert "customresourcecleanup.apiextensions.k8s.io" in marked["metadata"]["finalizers"]

    wait_for(lambda: terminating(apiserver, name)["reason"] == "InstanceDeletionInProgress",
             what="InstanceDeletionInProgress")
    progress = terminating(apiserver, name)
    assert (progress["status"], progress["message"]) == ("True", "CustomResource deletion is in progress")

    # Discovery offers what is left of the resource (the finalizers' updates are still served).
    resources = ok(apiserver.request("GET", f"/apis/{GROUP}/v1"))["resources"]
    assert next(r for r in resources if r["name"] == "holds")["verbs"] == [
        "delete", "deletecollection", "get", "list", "watch"]

    status, body = apiserver.request("POST", path, cr("Hold", "late"))
    assert status == 405
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "create not allowed while custom resource definition is terminating",
                    "reason": "MethodNotAllowed", "details": {"group": GROUP, "kind": "holds"}, "code": 405}

    # A merge patch: the cleanup marks the instance deleted meanwhile, which a PUT of what was read would meet.
    ok(apiserver.request("PATCH", f"{path}/stuck", b'{"metadata":{"finalizers":null}}', MERGE))
    wait_for(lambda: terminating(apiserver, name)["reason"] == "InstanceDeletionCompleted",
             what="InstanceDeletionCompleted")
    done = ok(apiserver.request("GET", f"{CRDS}/{name}"))
    condition = terminating(apiserver, name)
    assert (condition["status"], condition["message"]) == ("False", "removed all instances")
    assert done["metadata"]["finalizers"] == [HOLD]
    established = next(c for c in done["status"]["conditions"] if c["type"] == "Established")
    assert established["status"] == "True"

    ok(apiserver.request("PATCH", f"{CRDS}/{name}", b'{"metadata":{"finalizers":null}}', MERGE))
    wait_for(lambda: apiserver.request("GET", f"{CRDS}/{name}")[0] == 404, what="the CRD to go")


def test_a_label_on_the_crd_keeps_its_watches(apiserver):
    """A change of the CRD that leaves its spec and accepted names alone serves on with the same storage: an
    open watch of its custom resources goes on."""
    path = served(apiserver, crd("labels", "Label"))
    name = f"labels.{GROUP}"
    with Watch(apiserver, f"{path}?watch=true") as watch:
        current = ok(apiserver.request("GET", f"{CRDS}/{name}"))
        current["metadata"]["labels"] = {"touched": "yes"}
        ok(apiserver.request("PUT", f"{CRDS}/{name}", current))
        watch.expect_nothing(1.0)
        ok(apiserver.request("POST", path, cr("Label", "after")), 201)
        event = watch.next()
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "after"
    ok(apiserver.request("DELETE", f"{CRDS}/{name}"))


def until_end(watch: Watch) -> list[dict]:
    """The events a watch delivers before its stream ends (queue.Empty if it does not end in time)."""
    events = []
    while True:
        event = watch.events.get(timeout=15)
        if event is None:
            return events
        events.append(event)


def test_a_spec_change_ends_the_watches(apiserver):
    """A change of the CRD's spec tears down its storage, as upstream's: an open watch of its custom resources
    ends, and a new one is served."""
    path = served(apiserver, crd("specs", "Spec"))
    name = f"specs.{GROUP}"
    with Watch(apiserver, f"{path}?watch=true") as watch:
        current = ok(apiserver.request("GET", f"{CRDS}/{name}"))
        current["spec"]["names"]["shortNames"] = ["sp"]
        ok(apiserver.request("PUT", f"{CRDS}/{name}", current))
        assert until_end(watch) == []
    ok(apiserver.request("DELETE", f"{CRDS}/{name}"))


def test_deleting_the_crd_ends_the_watches(apiserver):
    """A watch opened before the CRD's deletion ends with it, and so never hears of a CRD of the same name made
    afterwards."""
    path = served(apiserver, crd("gones", "Gone"))
    name = f"gones.{GROUP}"
    with Watch(apiserver, f"{path}?watch=true") as watch:
        ok(apiserver.request("DELETE", f"{CRDS}/{name}"))
        wait_for(lambda: apiserver.request("GET", f"{CRDS}/{name}")[0] == 404, what="the CRD to go")
        served(apiserver, crd("gones", "Gone"))
        ok(apiserver.request("POST", path, cr("Gone", "again")), 201)
        assert until_end(watch) == []
    ok(apiserver.request("DELETE", f"{CRDS}/{name}"))

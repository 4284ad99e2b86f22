"""A CRD's deletion as apiextensions runs it: the Terminating condition through its reasons, and no new custom
resources meanwhile."""

from __future__ import annotations

from tests.conformance.support import ok, wait_for

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

"""A custom resource's subresources as upstream's crdHandler routes them, through the HTTP handlers in process: one
its CRD does not define (a status or scale) is a NotFound for the object itself, not the generic 404."""

from __future__ import annotations

import pytest

from kapiserver.controllers.crd import CRDController
from tests.endpoints.inprocess import served

GADGETS = "/apis/ex.com/v1/namespaces/default/gadgets"


def crd(plural: str, kind: str, **version) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.ex.com"},
            "spec": {"group": "ex.com", "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": kind + "List"},
                     "versions": [{"name": "v1", "served": True, "storage": True, **version,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


@pytest.fixture
def api():
    call = served(lambda registry, clock: CRDController(registry, clock))  # serves what a CRD defines once written

    def ask(method, path, body=None):
        """(code, decoded body); a PATCH is a merge patch."""
        answer = call(method, path, body, "application/merge-patch+json" if method == "PATCH" else "application/json")
        return answer.code, answer.body

    for definition in (crd("gadgets", "Gadget"), crd("widgets", "Widget", subresources={"status": {}})):
        assert ask("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", definition)[0] == 201
    return ask


def test_subresource_the_crd_does_not_define_is_the_objects_not_found(api):
    """Status or scale writes and reads of a custom resource whose CRD has neither: NotFound naming the object
    (its group and resource in the details), whether the object exists or not."""
    code, gadget = api("POST", GADGETS, {"apiVersion": "ex.com/v1", "kind": "Gadget", "metadata": {"name": "g1"}})
    assert code == 201
    for method, path, body in (("PUT", "g1/status", gadget), ("PATCH", "g1/status", {"status": {"a": 1}}),
                               ("GET", "g1/status", None), ("GET", "g1/scale", None), ("GET", "gone/status", None)):
        name = path.split("/")[0]
        code, status = api(method, f"{GADGETS}/{path}", body)
        assert code == 404, (method, path)
        assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": f'gadgets.ex.com "{name}" not found', "reason": "NotFound",
                          "details": {"name": name, "group": "ex.com", "kind": "gadgets"}, "code": 404}


def test_defined_status_and_built_in_subresources_are_unchanged(api):
    """A CRD's own status subresource is served; a built-in resource's unknown subresource stays the generic
    404 (nothing is routed there)."""
    widgets = "/apis/ex.com/v1/namespaces/default/widgets"
    code, widget = api("POST", widgets, {"apiVersion": "ex.com/v1", "kind": "Widget", "metadata": {"name": "w1"}})
    assert code == 201
    widget["status"] = {"ready": True}
    code, written = api("PUT", f"{widgets}/w1/status", widget)
    assert code == 200 and written["status"] == {"ready": True}
    code, status = api("GET", "/api/v1/namespaces/default/configmaps/c1/status")
    assert (code, status["message"], status["details"]) == (404, "the server could not find the requested resource",
                                                            {})

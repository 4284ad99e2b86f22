"""The apps strategies: a DaemonSet's deprecated.daemonset.template.generation annotation, as upstream's apps/v1
conversion writes it from the template generation its strategy keeps (1 on create, one more when the pod template
changes, the server's on update whatever the client sends); a StatefulSet's maxUnavailable behind its gate."""

from __future__ import annotations

from tests.endpoints.inprocess import served

PATH = "/apis/apps/v1/namespaces/default/daemonsets"
ANNOTATION = "deprecated.daemonset.template.generation"


def daemon_set(image: str = "nginx:1") -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
            "spec": {"selector": {"matchLabels": {"app": "ds"}},
                     "template": {"metadata": {"labels": {"app": "ds"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def generation(obj: dict) -> str:
    return obj["metadata"]["annotations"][ANNOTATION]


def test_the_template_generation_moves_with_the_template_only():
    call = served()
    created = call("POST", PATH, daemon_set())
    assert created.code == 201 and generation(created.body) == "1"
    patched = call("PATCH", PATH + "/ds", {"spec": {"minReadySeconds": 5}}, "application/merge-patch+json")
    assert (patched.body["metadata"]["generation"], generation(patched.body)) == (2, "1")
    patched = call("PATCH", PATH + "/ds", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "nginx:2"}]}}}}, "application/strategic-merge-patch+json")
    assert (patched.body["metadata"]["generation"], generation(patched.body)) == (3, "2")
    # A client's own value does not stick on update.
    mine = call("PATCH", PATH + "/ds", {"metadata": {"annotations": {ANNOTATION: "9"}}},
                "application/merge-patch+json")
    assert generation(mine.body) == "2"


def test_a_stateful_sets_max_unavailable_is_dropped_while_its_gate_is_off():
    """MaxUnavailableStatefulSet is alpha in 1.32: a new set loses rollingUpdate.maxUnavailable, an update adds
    none, and a set stored with it keeps it (upstream's dropStatefulSetDisabledFields)."""
    call = served()
    path = "/apis/apps/v1/namespaces/default/statefulsets"
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ss"},
            "spec": {"serviceName": "ss", "selector": {"matchLabels": {"app": "ss"}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
                     "template": {"metadata": {"labels": {"app": "ss"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    created = call("POST", path, body)
    assert created.code == 201
    assert created.body["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 0}
    patched = call("PATCH", path + "/ss", {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 3}}}},
                   "application/merge-patch+json")
    assert patched.body["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 0}

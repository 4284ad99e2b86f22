"""pods/binding as upstream 1.32's BindingREST answers it, through the HTTP handlers in process: the Binding
validated (ValidatePodBinding's aggregate, a 500) and named as the URL names it, its uid and resourceVersion
kept as preconditions, a dry run binding nothing, and setPodHostAndAnnotations' refusals and PodScheduled
condition (podutil.UpdatePodCondition)."""

from __future__ import annotations

from tests.endpoints.test_subresource_eviction import PODS, api  # noqa: F401 (the fixture)


def pending_pod(api, name, conditions=None, **spec) -> dict:  # noqa: F811
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}
    created = api("POST", PODS, pod)
    assert created.code == 201, created.body
    if conditions is None:
        return created.body
    created.body["status"] = {"phase": "Pending", "conditions": conditions}
    written = api("PUT", f"{PODS}/{name}/status", created.body)
    assert written.code == 200, written.body
    return written.body


def binding(name, node="n1", **metadata) -> dict:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, **metadata},
            "target": {"kind": "Node", "name": node}}


def bind(api, name, body=None, query=""):  # noqa: F811
    return api("POST", f"{PODS}/{name}/binding{query}", body if body is not None else binding(name))


def node_of(api, name):  # noqa: F811
    return api("GET", f"{PODS}/{name}").body["spec"].get("nodeName")


def test_unschedulable_condition_is_replaced_by_the_binding(api):  # noqa: F811
    """The scheduler writes PodScheduled=False (Unschedulable) and binds later: the binding's PodScheduled=True
    takes that condition's place (its reason and message gone), not a second one beside it."""
    pending_pod(api, "p1", [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": "0/1 nodes are available", "lastTransitionTime": "2020-01-01T00:00:00Z"}])
    answer = bind(api, "p1")
    assert answer.code == 201 and answer.body["status"] == "Success"
    pod = api("GET", f"{PODS}/p1").body
    assert pod["spec"]["nodeName"] == "n1"
    assert pod["status"]["conditions"] == [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                            "lastTransitionTime": "1970-01-01T00:00:00Z"}]


def test_gated_pod_is_not_bound(api):  # noqa: F811
    """A pod with schedulingGates is refused with a 409 on pods/binding."""
    pending_pod(api, "g1", schedulingGates=[{"name": "example.com/wait"}])
    answer = bind(api, "g1")
    assert answer.code == 409
    assert answer.body["message"] == \
        'Operation cannot be fulfilled on pods/binding "g1": pod g1 has non-empty .spec.schedulingGates'
    assert answer.body["details"] == {"name": "g1", "kind": "pods/binding"}
    assert node_of(api, "g1") is None


def test_already_bound_is_a_conflict_on_pods_binding(api):  # noqa: F811
    """assignPod answers setPodHostAndAnnotations' own refusals as conflicts on pods/binding."""
    pending_pod(api, "b1")
    assert bind(api, "b1").code == 201
    answer = bind(api, "b1", binding("b1", "n2"))
    assert answer.code == 409
    assert answer.body["message"] == \
        'Operation cannot be fulfilled on pods/binding "b1": pod b1 is already assigned to node "n1"'
    assert answer.body["details"] == {"name": "b1", "kind": "pods/binding"}


def test_dry_run_binds_nothing(api):  # noqa: F811
    pending_pod(api, "d1")
    assert bind(api, "d1", query="?dryRun=All").code == 201
    assert node_of(api, "d1") is None


def test_binding_uid_and_resource_version_are_preconditions(api):  # noqa: F811
    """The Binding's own metadata.uid and resourceVersion are kept (PreserveRequestObjectMetaSystemFields...) and
    checked by storage: a pod failing one is a 409 on pods in the storage error's words."""
    pod = pending_pod(api, "c1")
    uid, version = pod["metadata"]["uid"], pod["metadata"]["resourceVersion"]
    answer = bind(api, "c1", binding("c1", uid="not-it"))
    assert answer.code == 409
    assert answer.body["message"] == (
        'Operation cannot be fulfilled on pods "c1": StorageError: invalid object, Code: 4, '
        f'Key: /registry/pods/default/c1, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: '
        f'UID in precondition: not-it, UID in object meta: {uid}')
    assert answer.body["details"] == {"name": "c1", "kind": "pods"}
    answer = bind(api, "c1", binding("c1", resourceVersion="1"))
    assert answer.code == 409
    assert answer.body["message"].endswith(
        f"Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: {version}")
    assert node_of(api, "c1") is None
    assert bind(api, "c1", binding("c1", uid=uid, resourceVersion=version)).code == 201
    assert node_of(api, "c1") == "n1"


def test_invalid_binding_is_an_aggregate_500(api):  # noqa: F811
    """ValidatePodBinding's errors are returned as an aggregate, which upstream writes as a 500 without a
    reason."""
    pending_pod(api, "x1")
    cases = [({"kind": "Pod", "name": "n1"}, 'target.kind: Unsupported value: "Pod": supported values: "Node", '
                                             '"<empty>"'),
             ({"kind": "Node"}, "target.name: Required value"),
             ({"kind": "Pod"}, '[target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>", '
                               'target.name: Required value]')]
    for target, message in cases:
        answer = bind(api, "x1", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "x1"},
                                  "target": target})
        assert answer.code == 500
        assert answer.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": message, "code": 500}
    assert bind(api, "x1", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "x1"},
                            "target": {"name": "n1"}}).code == 201


def test_binding_must_name_the_pod(api):  # noqa: F811
    pending_pod(api, "m1")
    for body in ({"apiVersion": "v1", "kind": "Binding", "target": {"name": "n1"}}, binding("other")):
        answer = bind(api, "m1", body)
        assert (answer.code, answer.body["message"]) == (400, "name in URL does not match name in Binding object")
    assert node_of(api, "m1") is None


def test_binding_body_of_another_kind_is_not_decoded(api):  # noqa: F811
    pending_pod(api, "k1")
    answer = bind(api, "k1", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "k1"}})
    assert (answer.code, answer.body["message"]) == (
        400, 'Pod in version "v1" cannot be handled as a Binding: converting (v1.Pod) to (core.Binding): '
             'unknown conversion')
    assert node_of(api, "k1") is None


def test_the_bindings_resource_takes_the_create_s_options(api):  # noqa: F811
    """POST .../bindings (the older way to bind) honours ?dryRun as pods/binding does, and its options are checked
    before its body is read, as every create's are."""
    pending_pod(api, "b2")
    answer = api("POST", "/api/v1/namespaces/default/bindings?dryRun=All", binding("b2"))
    assert answer.code == 201 and node_of(api, "b2") is None
    refused = api("POST", "/api/v1/namespaces/default/bindings?dryRun=Bogus", "not an object")
    assert refused.code == 422 and "dryRun" in refused.body["message"]
    assert api("POST", "/api/v1/namespaces/default/bindings", binding("b2")).code == 201
    assert node_of(api, "b2") == "n1"

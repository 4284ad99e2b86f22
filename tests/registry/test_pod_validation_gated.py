"""A pod gated before an update (spec.schedulingGates) may, as upstream 1.32's ValidatePodUpdate allows, gain
nodeSelector keys and requirements in its required node affinity's terms (what a queueing controller such as
Kueue does when it lets the pod go); nothing more, and not on a pod that was not gated."""

from __future__ import annotations

import copy

from kapiserver.registry.validation.pod import validate_pod_update

TERMS = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
A = {"key": "a", "operator": "In", "values": ["x"]}
B = {"key": "b", "operator": "Exists"}


def pod(gated=True, **spec):
    out = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "default", "resourceVersion": "1", "uid": "u"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "terminationMessagePolicy": "File",
                                    "imagePullPolicy": "Always"}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                    **spec}}
    if gated:
        out["spec"]["schedulingGates"] = [{"name": "kueue.x-k8s.io/admission"}]
    return out


def affinity(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(t)} for t in terms]}}}


def errors(old, new):
    return [str(e) for e in validate_pod_update(new, old)]


def test_the_gate_removed_and_a_node_selector_added_in_one_update():
    old = pod(nodeSelector={"a": "b"})
    new = copy.deepcopy(old)
    del new["spec"]["schedulingGates"]
    new["spec"]["nodeSelector"] = {"a": "b", "cloud.provider.com/flavor": "big"}
    assert errors(old, new) == []
    assert errors(pod(), pod(nodeSelector={"c": "d"})) == []


def test_a_node_selector_key_changed_or_removed_is_refused():
    assert errors(pod(nodeSelector={"a": "b"}), pod(nodeSelector={"c": "d", "a": "z"})) == [
        'spec.nodeSelector: Invalid value: {"a":"z","c":"d"}: only additions to spec.nodeSelector are allowed '
        "(no mutations or deletions)"]


def test_node_affinity_requirements_may_be_added_to_existing_terms_only():
    assert errors(pod(affinity=affinity([A])), pod(affinity=affinity([A, B]))) == []
    assert errors(pod(), pod(affinity=affinity([B]))) == []
    assert errors(pod(affinity=affinity([A])), pod(affinity=affinity([B]))) == [
        f'{TERMS}[0]: Invalid value: {{"MatchExpressions":[{{"Key":"b","Operator":"Exists","Values":null}}],'
        '"MatchFields":null}: only additions are allowed (no mutations or deletions)']
    assert errors(pod(affinity=affinity([A])), pod(affinity=affinity([A], [B]))) == [
        f'{TERMS}: Invalid value: [{{"MatchExpressions":[{{"Key":"a","Operator":"In","Values":["x"]}}],'
        '"MatchFields":null},{"MatchExpressions":[{"Key":"b","Operator":"Exists","Values":null}],'
        '"MatchFields":null}]: no additions/deletions to non-empty NodeSelectorTerms list are allowed']


def test_other_changes_of_a_gated_pod_and_any_change_of_an_ungated_one_stay_forbidden():
    changed = errors(pod(nodeSelector={"a": "b"}), pod(nodeSelector={"a": "b", "c": "d"}, hostname="h"))
    assert len(changed) == 1 and changed[0].startswith("spec: Forbidden: pod updates may not change fields")
    refused = errors(pod(gated=False), pod(gated=False, nodeSelector={"c": "d"}))
    assert len(refused) == 1 and refused[0].startswith("spec: Forbidden: pod updates may not change fields")


def test_an_ephemeral_container_judged_with_the_pods_host_users():
    """procMount Unmasked needs hostUsers false: an ephemeral container in such a pod may use it, as a regular one
    may (the pod's hostUsers is passed to every container's checks)."""
    from kapiserver.registry.validation.pod import pod_spec
    spec = pod(gated=False, hostUsers=False)["spec"]
    spec["ephemeralContainers"] = [{"name": "debug", "image": "busybox", "terminationMessagePolicy": "File",
                                    "imagePullPolicy": "Always", "securityContext": {"procMount": "Unmasked"}}]
    assert [str(e) for e in pod_spec(spec, "spec", is_pod=True)] == []
    spec["hostUsers"] = True
    assert [str(e) for e in pod_spec(spec, "spec", is_pod=True)] == [
        'spec.ephemeralContainers[0].securityContext.procMount: Invalid value: "Unmasked": `hostUsers` must be false '
        "to use `Unmasked`"]

"""daemonset-controller against a real apiserver, with simulated nodes that bind a daemon pod only when its
node affinity names them."""


from kapiserver.client.resources import CONTROLLER_REVISIONS, DAEMON_SETS, EVENTS, NODES, PODS
from kapiserver.controllermanager.daemonset import new_daemon_pod, surge_and_unavailable
from kapiserver.controllermanager.nodeaffinity import DAEMON_TOLERATIONS, should_run, target_node_name
from tests.controllermanager.conftest import eventually, run


def daemon_set(name, image="nginx:1", pod_spec=None, **spec):
    labels = {"app": name}
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}
    body["spec"].update(spec)
    body["spec"]["template"]["spec"].update(pod_spec or {})
    return body


def live_pods(client, namespace):
    return [p for p in run(client.list(PODS, namespace))["items"] if not p["metadata"].get("deletionTimestamp")]


def status(client, namespace, name):
    return run(client.get(DAEMON_SETS, name, namespace)).get("status") or {}


def node(name, labels=None, taints=None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_eligibility_by_selector_affinity_and_taints():
    """nodeSelector and required affinity must fit; untolerated NoSchedule keeps new pods off, NoExecute evicts;
    the daemon tolerations cover the node condition taints."""
    spec = {"nodeSelector": {"disk": "ssd"}, "tolerations": list(DAEMON_TOLERATIONS)}
    assert should_run(spec, node("a", {"disk": "ssd"})) == (True, True)
    assert should_run(spec, node("a", {"disk": "hdd"})) == (False, False)
    ssd = {"disk": "ssd"}
    assert should_run(spec, node("a", ssd, [{"key": "x", "effect": "NoSchedule"}])) == (False, True)
    assert should_run(spec, node("a", ssd, [{"key": "x", "effect": "NoExecute"}])) == (False, False)
    assert should_run(spec, node("a", ssd, [{"key": "x", "effect": "PreferNoSchedule"}])) == (True, True)
    assert should_run(spec, node("a", ssd, [{"key": "node.kubernetes.io/unschedulable",
                                             "effect": "NoSchedule"}])) == (True, True)
    assert should_run(spec, node("a", ssd, [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])) == \
        (True, True)
    affinity = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}}
    assert should_run(affinity, node("a", {"zone": "z1"}))[0] and not should_run(affinity, node("a"))[0]


def test_daemon_pod_shape():
    """A daemon pod is generated from the set's name, pinned by a matchFields term, tolerates the node
    condition taints, and carries the revision hash."""
    ds = daemon_set("agent", pod_spec={"hostNetwork": True})
    ds["metadata"].update(namespace="ns", uid="u", generation=3)
    pod = new_daemon_pod(ds, "node-1", "abc")
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "abc",
                                         "pod-template-generation": "3"}
    assert target_node_name(pod) == "node-1" and "nodeName" not in pod["spec"]
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert "node.kubernetes.io/network-unavailable" in keys and len(keys) == 7


def test_daemon_tolerations_are_added_or_updated_in_place():
    """AddOrUpdateTolerationInPodSpec: the template's own toleration of a daemon taint (same key, operator, value
    and effect) is replaced where it stands; one differing in operator or value stays, the daemon one appended."""
    own = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 30},
           {"key": "dedicated", "operator": "Exists"},
           {"key": "node.kubernetes.io/unreachable", "operator": "Equal", "value": "x", "effect": "NoExecute"}]
    ds = daemon_set("agent", pod_spec={"tolerations": own})
    ds["metadata"].update(namespace="ns", uid="u")
    tolerations = new_daemon_pod(ds, "node-1", "abc")["spec"]["tolerations"]
    assert tolerations[:3] == [DAEMON_TOLERATIONS[0], own[1], own[2]]
    assert tolerations[3:] == DAEMON_TOLERATIONS[1:]


def test_daemon_pod_node_affinity_is_replaced_by_the_node_name_term():
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the template's required terms give way to one matchFields term
    naming the node; preferred terms stay."""
    zone = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}
    preferred = [{"weight": 1, "preference": zone}]
    ds = daemon_set("agent", pod_spec={"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [zone, {"matchFields": [
            {"key": "metadata.name", "operator": "NotIn", "values": ["x"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred}}})
    ds["metadata"].update(namespace="ns", uid="u")
    affinity = new_daemon_pod(ds, "node-1", "abc")["spec"]["affinity"]["nodeAffinity"]
    assert affinity == {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": preferred}


def test_rolling_update_budgets():
    """maxUnavailable and maxSurge scale against the eligible nodes, rounding up; both zero means one."""
    ds = daemon_set("x", updateStrategy={"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}})
    assert surge_and_unavailable(ds, 5) == (0, 2)
    ds["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": "10%"}
    assert surge_and_unavailable(ds, 5) == (1, 0)
    ds["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": 0}
    assert surge_and_unavailable(ds, 5) == (0, 1)


def test_one_pod_per_node_none_on_a_tainted_node(controllers, nodes, client, namespace):
    """Two schedulable nodes get one pod each, bound to the node their affinity names; a node tainted
    NoSchedule gets none; status counts them."""
    nodes("ds-a", "ds-b", "ds-c")
    run(client.patch(NODES, "ds-c", {"spec": {"taints": [{"key": "dedicated", "value": "x",
                                                          "effect": "NoSchedule"}]}}))
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("agent"), namespace))
    eventually(lambda: status(client, namespace, "agent").get("numberAvailable") == 2)
    pods = live_pods(client, namespace)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["ds-a", "ds-b"]
    assert all(target_node_name({"spec": {"affinity": p["spec"]["affinity"]}}) == p["spec"]["nodeName"]
               for p in pods)
    st = status(client, namespace, "agent")
    assert st == {**st, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2,
                  "updatedNumberScheduled": 2, "numberMisscheduled": 0, "observedGeneration": 1}
    eventually(lambda: sorted(e["message"] for e in run(client.list(EVENTS, namespace))["items"]
                              if e["reason"] == "SuccessfulCreate") ==
               sorted(f"Created pod: {p['metadata']['name']}" for p in pods))
    # Tolerating the taint puts a pod there too.
    run(client.patch(DAEMON_SETS, "agent", {"spec": {"template": {"spec": {"tolerations": [
        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}}}}, namespace))
    eventually(lambda: sorted(p["spec"].get("nodeName", "") for p in live_pods(client, namespace)) ==
               ["ds-a", "ds-b", "ds-c"] and status(client, namespace, "agent").get("updatedNumberScheduled") == 3)


def test_node_selection_follows_node_labels(controllers, nodes, client, namespace):
    """A pod starts on a node once it is labelled to match the nodeSelector, and goes when the label changes."""
    nodes("ds-sel")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("sel", pod_spec={"nodeSelector": {"color": "blue"}}), namespace))
    eventually(lambda: status(client, namespace, "sel").get("observedGeneration") == 1)
    assert live_pods(client, namespace) == []
    run(client.patch(NODES, "ds-sel", {"metadata": {"labels": {"color": "blue"}}}))
    eventually(lambda: status(client, namespace, "sel").get("numberAvailable") == 1)
    run(client.patch(NODES, "ds-sel", {"metadata": {"labels": {"color": "green"}}}))
    eventually(lambda: live_pods(client, namespace) == [] and
               status(client, namespace, "sel").get("desiredNumberScheduled") == 0)


def test_failed_pod_is_replaced(controllers, nodes, client, namespace):
    """A daemon pod that failed is deleted, with a FailedDaemonPod event, and made again."""
    nodes("ds-f")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("fail"), namespace))
    pod = eventually(lambda: [p for p in live_pods(client, namespace) if p.get("status", {}).get("phase") ==
                              "Running"])[0]
    run(client.patch(PODS, pod["metadata"]["name"], {"status": {"phase": "Failed"}}, namespace,
                     subresource="status"))
    eventually(lambda: [p["metadata"]["name"] for p in live_pods(client, namespace)
                        if p["status"].get("phase") == "Running"] not in ([], [pod["metadata"]["name"]]))
    eventually(lambda: {"FailedDaemonPod", "SuccessfulDelete"} <= {e["reason"] for e in run(client.list(
        EVENTS, namespace))["items"]})


def test_rolling_update_and_rollback(controllers, nodes, client, namespace):
    """A template change replaces every pod within maxUnavailable; going back to the first template reuses its
    ControllerRevision, renumbered."""
    nodes("ds-r1", "ds-r2")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("roll"), namespace))
    eventually(lambda: status(client, namespace, "roll").get("numberAvailable") == 2)
    first = {p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(client, namespace)}
    run(client.patch(DAEMON_SETS, "roll", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2"}]}}}}, namespace, patch_type="strategic"))

    def images():
        return sorted(p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace))
    eventually(lambda: images() == ["nginx:2", "nginx:2"] and
               status(client, namespace, "roll").get("updatedNumberScheduled") == 2 and
               status(client, namespace, "roll").get("numberAvailable") == 2)
    revisions = sorted(run(client.list(CONTROLLER_REVISIONS, namespace))["items"], key=lambda r: r["revision"])
    assert [r["revision"] for r in revisions] == [1, 2]
    assert {revisions[0]["metadata"]["labels"]["controller-revision-hash"]} == first
    run(client.patch(DAEMON_SETS, "roll", {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1"}]}}}}, namespace, patch_type="strategic"))
    eventually(lambda: images() == ["nginx:1", "nginx:1"] and
               status(client, namespace, "roll").get("numberAvailable") == 2)
    revisions = {r["metadata"]["name"]: r["revision"] for r in run(client.list(CONTROLLER_REVISIONS,
                                                                               namespace))["items"]}
    assert sorted(revisions.values()) == [2, 3]
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(client, namespace)} == first


def test_surge_starts_the_new_pod_before_deleting_the_old(controllers, nodes, client, namespace):
    """With maxSurge 1 and maxUnavailable 0, the old pod goes only once its replacement on the node is ready."""
    nodes("ds-s1")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("surge", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}), namespace))
    eventually(lambda: status(client, namespace, "surge").get("numberAvailable") == 1)
    old = live_pods(client, namespace)[0]["metadata"]["name"]
    seen = []

    def event(kind, pod):
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])
        seen.append((kind, pod["metadata"]["name"], ready, bool(pod["metadata"].get("deletionTimestamp"))))
    watch = client.watch(PODS, event, namespace=namespace)
    run(client.patch(DAEMON_SETS, "surge", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}, namespace))
    eventually(lambda: [p["metadata"]["labels"].get("v") for p in live_pods(client, namespace)] == ["2"])
    watch.cancel()
    new = live_pods(client, namespace)[0]["metadata"]["name"]
    new_ready = next(i for i, e in enumerate(seen) if e[1] == new and e[2])
    old_deleting = next(i for i, e in enumerate(seen) if e[1] == old and (e[3] or e[0] == "DELETED"))
    assert new_ready < old_deleting
    eventually(lambda: [e["message"] for e in run(client.list(EVENTS, namespace))["items"]
                        if e["reason"] == "SuccessfulDelete"] == [f"Deleted pod: {old}"])


def test_on_delete_waits(controllers, nodes, client, namespace):
    """With OnDelete a template change replaces a pod only once it has been deleted."""
    nodes("ds-od")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("od", updateStrategy={"type": "OnDelete"}), namespace))
    eventually(lambda: status(client, namespace, "od").get("numberAvailable") == 1)
    run(client.patch(DAEMON_SETS, "od", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}, namespace))
    eventually(lambda: status(client, namespace, "od").get("observedGeneration") == 2)
    pod = live_pods(client, namespace)[0]
    assert "v" not in pod["metadata"]["labels"]
    assert status(client, namespace, "od").get("updatedNumberScheduled", 0) == 0
    run(client.delete(PODS, pod["metadata"]["name"], namespace))
    eventually(lambda: [p["metadata"]["labels"].get("v") for p in live_pods(client, namespace)] == ["2"])


def test_kubectl_rollout_status_history_and_undo(controllers, nodes, client, namespace, kubectl):
    """kubectl reads the rollout from the DaemonSet's status and its ControllerRevisions: rollout status
    finishes, rollout history lists both revisions, rollout undo brings the first template back."""
    from tests.controllermanager.test_disruption import _kubectl
    nodes("ds-k1", "ds-k2")
    controllers("daemonset-controller")
    run(client.create(DAEMON_SETS, daemon_set("kd"), namespace))
    code, output = _kubectl(kubectl, "rollout", "status", "daemonset/kd", "-n", namespace, "--timeout=60s")
    assert code == 0 and 'daemon set "kd" successfully rolled out' in output, output
    run(client.patch(DAEMON_SETS, "kd", {"metadata": {"annotations": {"kubernetes.io/change-cause": "to v2"}},
                                         "spec": {"template": {"spec": {"containers": [
                                             {"name": "app", "image": "nginx:2"}]}}}}, namespace,
                     patch_type="strategic"))
    code, output = _kubectl(kubectl, "rollout", "status", "daemonset/kd", "-n", namespace, "--timeout=60s")
    assert code == 0 and "successfully rolled out" in output, output
    code, output = _kubectl(kubectl, "rollout", "history", "daemonset/kd", "-n", namespace)
    rows = [line.split(None, 1) for line in output.splitlines()[2:] if line.strip()]
    # The revision carries the set's annotations, so the change cause shows.
    assert code == 0 and rows == [["1", "<none>"], ["2", "to v2"]], output
    code, output = _kubectl(kubectl, "rollout", "undo", "daemonset/kd", "-n", namespace)
    assert code == 0 and "rolled back" in output, output
    eventually(lambda: sorted(p["spec"]["containers"][0]["image"] for p in live_pods(client, namespace)) ==
               ["nginx:1", "nginx:1"] and status(client, namespace, "kd").get("updatedNumberScheduled") == 2)


def test_a_set_made_again_adopts_the_revisions_and_pods_orphaned_by_the_old_one(controllers, nodes, client,
                                                                                namespace):
    """After the set is deleted with its dependents orphaned, the same set made again adopts the orphaned
    ControllerRevision (controlledHistories) as its current one: no hash collision, no new revision, and the
    pods it adopts are up to date, so none is replaced."""
    nodes("ds-or1")
    controllers("daemonset-controller", "garbage-collector-controller")
    run(client.create(DAEMON_SETS, daemon_set("orph"), namespace))
    eventually(lambda: status(client, namespace, "orph").get("numberAvailable") == 1)
    [revision] = run(client.list(CONTROLLER_REVISIONS, namespace))["items"]
    [pod] = live_pods(client, namespace)
    run(client.delete(DAEMON_SETS, "orph", namespace, propagation_policy="Orphan"))
    eventually(lambda: not run(client.list(DAEMON_SETS, namespace))["items"] and
               not run(client.get(CONTROLLER_REVISIONS, revision["metadata"]["name"], namespace))["metadata"]
               .get("ownerReferences"))
    ds = run(client.create(DAEMON_SETS, daemon_set("orph"), namespace))
    eventually(lambda: status(client, namespace, "orph").get("observedGeneration") == 1 and
               status(client, namespace, "orph").get("updatedNumberScheduled") == 1)
    revisions = run(client.list(CONTROLLER_REVISIONS, namespace))["items"]
    assert [r["metadata"]["name"] for r in revisions] == [revision["metadata"]["name"]]
    assert revisions[0]["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
    assert not status(client, namespace, "orph").get("collisionCount")
    assert [p["metadata"]["uid"] for p in live_pods(client, namespace)] == [pod["metadata"]["uid"]]


def test_only_unbound_pods_of_a_missing_node_are_deleted():
    """getUnscheduledPodsWithoutNode: a pod pinned to a node that no longer exists is deleted while unbound; one
    already bound there is left to the pod garbage collector."""
    from kapiserver.controllermanager.daemonset import DaemonSetsController
    controller = DaemonSetsController.__new__(DaemonSetsController)
    calls = []

    async def sync_nodes(key, ds, delete, create, hash_):
        calls.append(([p["metadata"]["name"] for p in delete], create))
    controller._sync_nodes = sync_nodes
    ds = daemon_set("agent")
    ds["metadata"].update(namespace="ns", uid="u")
    unbound = new_daemon_pod(ds, "gone", "abc")
    unbound["metadata"]["name"] = "agent-unbound"
    bound = new_daemon_pod(ds, "gone", "abc")
    bound["metadata"]["name"] = "agent-bound"
    bound["spec"]["nodeName"] = "gone"
    run(controller._manage("ns/agent", ds, [], "abc", [unbound, bound]))
    assert calls == [(["agent-unbound"], [])]


def test_status_keeps_observed_generation_while_expectations_are_unmet():
    """syncDaemonSet: while its earlier creations and deletions are unobserved the controller writes the counts
    only; observedGeneration stays at the generation last acted on."""
    from kapiserver.controllermanager.daemonset import DaemonSetsController

    class Index:
        def by_index(self, index, value):
            return []

    class Informer:
        indexer = Index()

    class Clock:
        def seconds(self):
            return 1000.0
    controller = DaemonSetsController.__new__(DaemonSetsController)
    controller.pods, controller.clock = Informer(), Clock()
    ds = daemon_set("agent")
    ds["metadata"].update(namespace="ns", uid="u", generation=3)
    ds["status"] = {"observedGeneration": 2}
    nodes = [node("n1")]
    assert controller.status_of(ds, nodes, "abc", observed=False)["observedGeneration"] == 2
    st = controller.status_of(ds, nodes, "abc")
    assert st["observedGeneration"] == 3 and st["desiredNumberScheduled"] == 1 and st["numberUnavailable"] == 1


def test_a_pod_of_the_current_template_generation_is_updated_whatever_its_hash():
    """IsPodUpdated: a pod counts as updated when its controller-revision-hash is the current one, or its
    pod-template-generation is the set's (a pod whose hash another revision name gave it is not replaced)."""
    from kapiserver.controllermanager.daemonset import is_updated, split_updated
    ds = daemon_set("agent")
    ds["metadata"].update(namespace="ns", uid="u", annotations={"deprecated.daemonset.template.generation": "4"})
    pod = new_daemon_pod(ds, "n1", "other-hash")
    pod["metadata"].update(name="agent-1", creationTimestamp="2024-01-01T00:00:00Z")
    assert is_updated(pod, "abc", "4") and not is_updated(pod, "abc", "5") and is_updated(pod, "other-hash")
    assert split_updated([pod], "abc", "4") == (pod, None)

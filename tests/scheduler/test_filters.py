"""The default profile's filter plugins, one node at a time, and the FailedScheduling message they make."""

from __future__ import annotations

import pytest

from kapiserver.scheduler.framework import CycleState, FitError
from kapiserver.scheduler.resources import pod_requests
from tests.scheduler.objects import cluster, framework, node, pod

CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def fit_error(nodes, p, pods=(), **listers) -> str:
    with pytest.raises(FitError) as raised:
        framework(**listers).schedule(p, cluster(nodes, pods).snapshot())
    return str(raised.value)


def host(nodes, p, pods=(), seed=0, **listers) -> str:
    return framework(seed, **listers).schedule(p, cluster(nodes, pods).snapshot()).suggested_host


def test_fit_error_message_counts_and_sorts_reasons():
    """Reasons are counted per node and sorted as strings: upstream's FitError.Error."""
    nodes = [node("cp", taints=[CONTROL_PLANE]), node("a", cpu="1"), node("b", cpu="1")]
    assert fit_error(nodes, pod("big", cpu="2")) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu.")


def test_node_name():
    """A pod naming a node fits only there."""
    assert fit_error([node("a")], pod("p", nodeName="b")) == (
        "0/1 nodes are available: 1 node(s) didn't match the requested node name.")


def test_node_unschedulable_and_its_toleration():
    """A cordoned node takes only pods tolerating node.kubernetes.io/unschedulable."""
    nodes = [node("a", unschedulable=True)]
    assert fit_error(nodes, pod("p")) == "0/1 nodes are available: 1 node(s) were unschedulable."
    tolerant = pod("q", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                      "effect": "NoSchedule"}])
    assert host(nodes, tolerant) == "a"


def test_taints_no_schedule_and_no_execute_need_tolerations():
    """NoSchedule and NoExecute taints keep out pods without a matching toleration; PreferNoSchedule does not."""
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
    assert fit_error([node("a", taints=[taint])], pod("p")) == (
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.")
    equal = pod("q", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}])
    assert host([node("a", taints=[taint])], equal) == "a"
    wrong_value = pod("r", tolerations=[{"key": "dedicated", "value": "cpu"}])
    with pytest.raises(FitError):
        framework().schedule(wrong_value, cluster([node("a", taints=[taint])]).snapshot())
    exists_all = pod("s", tolerations=[{"operator": "Exists"}])
    assert host([node("a", taints=[taint])], exists_all) == "a"
    prefer = {"key": "k", "effect": "PreferNoSchedule"}
    assert host([node("a", taints=[prefer])], pod("t")) == "a"


def test_node_selector_and_required_node_affinity():
    """nodeSelector and every operator of required nodeSelectorTerms (ORed terms, ANDed expressions)."""
    nodes = [node("a", labels={"disk": "ssd", "gen": "3"}), node("b", labels={"disk": "hdd", "gen": "5"})]
    assert host(nodes, pod("p", nodeSelector={"disk": "ssd"})) == "a"
    assert fit_error(nodes, pod("q", nodeSelector={"disk": "nvme"})) == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")

    def affinity(*terms):
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}
    cases = [
        ({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}, "b"),
        ({"matchExpressions": [{"key": "gen", "operator": "Lt", "values": ["4"]}]}, "a"),
        ({"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}, "b"),
        ({"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd", "x"]},
                               {"key": "gen", "operator": "Exists"}]}, "a"),
        ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}, "b"),
    ]
    for term, expected in cases:
        assert host(nodes, pod("r", affinity=affinity(term))) == expected, term
    missing = {"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}, {"key": "disk", "operator": "In",
                                                                                    "values": ["hdd"]}]}
    assert host(nodes, pod("s", affinity=affinity(missing))) == "b"
    assert fit_error(nodes, pod("t", affinity=affinity({}))) == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.")


def test_match_fields_narrow_the_nodes_tried():
    """Terms naming nodes by metadata.name leave the other nodes out at PreFilter, as upstream reports them."""
    nodes = [node("a", cpu="1"), node("b"), node("c")]
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}
    p = pod("p", cpu="2", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                                     {"nodeSelectorTerms": [term]}}})
    assert fit_error(nodes, p) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_resources_count_init_containers_overhead_and_pods():
    """Requests: the larger of the containers' sum and any init container, plus overhead; and a pod count."""
    p = pod("p", cpu="500m", memory="1Gi", overhead={"cpu": "250m"},
            initContainers=[{"name": "i", "image": "x", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}}])
    assert pod_requests(p) == {"cpu": 2250, "memory": 2 ** 30}
    sidecar = pod("s", cpu="1", initContainers=[
        {"name": "side", "image": "x", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
        {"name": "init", "image": "x", "resources": {"requests": {"cpu": "1"}}}])
    assert pod_requests(sidecar) == {"cpu": 1500}
    assert fit_error([node("a", cpu="2")], p) == "0/1 nodes are available: 1 Insufficient cpu."
    full = node("a", pods="1")
    assert fit_error([full], pod("q"), pods=[pod("running", node_name="a")]) == (
        "0/1 nodes are available: 1 Too many pods.")
    crowded = [pod("r1", cpu="3", memory="7Gi", node_name="a")]
    assert fit_error([node("a")], pod("x", cpu="2", memory="2Gi"), pods=crowded) == (
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.")
    assert fit_error([node("a")], pod("gpu", **{"containers": [
        {"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}]})) == (
        "0/1 nodes are available: 1 Insufficient example.com/gpu.")


def test_host_ports():
    """A hostPort in use on a node (same protocol, same or wildcard IP) rules the node out."""
    nodes = [node("a"), node("b")]
    taken = [pod("web", node_name="a", host_port=8080)]
    assert host(nodes, pod("p", host_port=8080), pods=taken) == "b"
    assert fit_error([node("a")], pod("q", host_port=8080), pods=taken) == (
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.")
    udp = pod("u", host_port=8080)
    udp["spec"]["containers"][0]["ports"][0]["protocol"] = "UDP"
    assert host([node("a")], udp, pods=taken) == "a"


def zone_nodes():
    return [node("a1", labels={"zone": "a"}), node("a2", labels={"zone": "a"}), node("b1", labels={"zone": "b"})]


def test_topology_spread_do_not_schedule():
    """maxSkew over a topologyKey's domains; nodes without the key are out with "(missing required label)"."""
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    placed = [pod("w1", node_name="a1", labels={"app": "web"})]
    p = pod("w2", labels={"app": "web"}, topologySpreadConstraints=spread)
    assert host(zone_nodes(), p, pods=placed) == "b1"
    placed.append(pod("w3", node_name="b1", labels={"app": "web"}))
    placed.append(pod("w4", node_name="a2", labels={"app": "web"}))
    # zone a has 2, zone b has 1: only zone b keeps the skew within 1
    assert host(zone_nodes(), pod("w5", labels={"app": "web"}, topologySpreadConstraints=spread),
                pods=placed) == "b1"
    assert fit_error([node("x"), zone_nodes()[0]], pod("w7", labels={"app": "web"}, topologySpreadConstraints=[
        {**spread[0], "minDomains": 2}]), pods=placed) == (
        "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
        "1 node(s) didn't match pod topology spread constraints (missing required label).")


def test_topology_spread_min_domains():
    """With fewer domains than minDomains the global minimum counts as 0."""
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 3,
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    placed = [pod("w1", node_name="a1", labels={"app": "web"}), pod("w2", node_name="b1", labels={"app": "web"})]
    assert fit_error(zone_nodes(), pod("w3", labels={"app": "web"}, topologySpreadConstraints=spread),
                     pods=placed) == "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints."


def affinity_term(labels, key="zone"):
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key}


def test_pod_affinity_required():
    """A pod with required affinity goes where a matching pod runs in the same domain; the first of a
    series that matches its own terms may go anywhere."""
    placed = [pod("db", node_name="b1", labels={"app": "db"})]
    p = pod("web", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        affinity_term({"app": "db"})]}})
    assert host(zone_nodes(), p, pods=placed) == "b1"
    assert fit_error(zone_nodes(), p) == "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."
    first = pod("first", labels={"app": "db"}, affinity={"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "db"})]}})
    assert host(zone_nodes(), first) in {"a1", "a2", "b1"}


def test_pod_anti_affinity_both_ways():
    """The pod's own required anti-affinity, and existing pods' anti-affinity against it."""
    placed = [pod("db", node_name="b1", labels={"app": "db"})]
    p = pod("db2", labels={"app": "db"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "db"})]}})
    assert host(zone_nodes(), p, pods=placed) in {"a1", "a2"}
    assert fit_error([zone_nodes()[2]], p, pods=placed) == (
        "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.")
    guard = pod("guard", node_name="a1", labels={"app": "guard"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [affinity_term({"app": "web"})]}})
    assert host(zone_nodes(), pod("web", labels={"app": "web"}), pods=[guard]) == "b1"
    assert fit_error(zone_nodes()[:2], pod("web", labels={"app": "web"}), pods=[guard]) == (
        "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.")
    other_namespace = pod("web", namespace="other", labels={"app": "web"})
    assert host(zone_nodes()[:1], other_namespace, pods=[guard]) == "a1"


def test_volume_binding():
    """A bound claim's volume restricts the nodes; an unbound Immediate claim keeps the pod pending."""
    done = {"pv.kubernetes.io/bind-completed": "yes"}
    claims = {("default", "data"): {"metadata": {"name": "data", "namespace": "default", "annotations": done},
                                    "spec": {"volumeName": "pv1"}},
              ("default", "wait"): {"metadata": {"name": "wait", "namespace": "default"}, "spec": {}},
              ("default", "named"): {"metadata": {"name": "named", "namespace": "default"},
                                     "spec": {"volumeName": "pv1"}}}
    volumes = {"pv1": {"metadata": {"name": "pv1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]}}}}}
    listers = {"get_claim": lambda ns, name: claims.get((ns, name)), "get_volume": volumes.get}

    def with_claim(name):
        return pod("p", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": name}}])
    assert host(zone_nodes(), with_claim("data"), **listers) == "b1"
    assert fit_error(zone_nodes()[:2], with_claim("data"), **listers) == (
        "0/2 nodes are available: 2 node(s) had volume node affinity conflict.")
    assert fit_error(zone_nodes(), with_claim("wait"), **listers) == (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    # A claim naming its volume is bound only once the PV controller says so (bind-completed), as upstream's
    # isPVCFullyBound: until then it counts as an unbound immediate one.
    assert fit_error(zone_nodes(), with_claim("named"), **listers) == (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    assert fit_error(zone_nodes(), with_claim("gone"), **listers) == (
        '0/3 nodes are available: persistentvolumeclaim "gone" not found.')


def test_volume_binding_claim_states():
    """A Lost claim, and an ephemeral volume whose claim is not there yet, keep the pod pending in
    upstream's words."""
    lost = {"metadata": {"name": "old", "namespace": "default"}, "spec": {"volumeName": "gone"},
            "status": {"phase": "Lost"}}
    listers = {"get_claim": lambda ns, name: lost if name == "old" else None}
    p = pod("p", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "old"}}])
    assert fit_error(zone_nodes(), p, **listers) == (
        '0/3 nodes are available: persistentvolumeclaim "old" bound to non-existent persistentvolume "gone".')
    e = pod("e", volumes=[{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}])
    assert fit_error(zone_nodes(), e, **listers) == (
        '0/3 nodes are available: waiting for ephemeral volume controller to create the persistentvolumeclaim '
        '"e-scratch".')


def test_no_nodes_at_all():
    """An empty cluster: upstream's ErrNoNodesAvailable, not a FitError."""
    from kapiserver.scheduler.framework import NoNodesAvailable
    with pytest.raises(NoNodesAvailable, match="^no nodes available to schedule pods$"):
        framework().schedule(pod("p"), cluster([]).snapshot())


def test_topology_spread_empty_selector_counts_no_pod():
    """A constraint with labelSelector {} counts no placed pod (upstream's countPodsMatchSelector), so its
    skew is never more than the pod itself: every node with the key passes."""
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {}}]
    placed = [pod("w1", node_name="a1"), pod("w2", node_name="a2"), pod("w3", node_name="a1")]
    feasible, _ = framework().find_nodes_that_fit(CycleState(), pod("p", topologySpreadConstraints=spread),
                                                  cluster(zone_nodes(), placed).snapshot())
    assert sorted(n.name for n in feasible) == ["a1", "a2", "b1"]


def test_plugins_narrowing_the_nodes_count_as_rejecting():
    """A plugin whose PreFilter left nodes out is among the pod's unschedulable plugins (upstream's
    pluginsWithNodes), so a node added or relabelled brings the pod back; a pod naming a node that does not
    exist waits for one rather than being retried on every backoff."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["later"]}]}
    p = pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                            {"nodeSelectorTerms": [term]}}})
    with pytest.raises(FitError) as raised:
        framework().schedule(p, cluster([node("a"), node("b")]).snapshot())
    assert str(raised.value) == "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    assert raised.value.diagnosis.unschedulable_plugins == {"NodeAffinity"}


def test_local_volumes_narrow_the_nodes_tried():
    """Bound volumes whose nodeAffinity names nodes by kubernetes.io/hostname In leave the other nodes out at
    PreFilter (upstream's VolumeBinding PreFilterResult); volumes naming no node in common, or none in common
    with the pod's matchFields, reject the pod at PreFilter in upstream's words."""
    def local(name, host_name):
        return {"metadata": {"name": name}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [host_name]}]}]}}}}
    volumes = {"pv-b1": local("pv-b1", "b1"), "pv-a1": local("pv-a1", "a1")}
    claims = {name: {"metadata": {"name": name, "namespace": "default",
                                  "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                     "spec": {"volumeName": f"pv-{name}"}}
              for name in ("b1", "a1")}
    listers = {"get_claim": lambda ns, name: claims.get(name), "get_volume": volumes.get}

    def with_claims(*names, **spec):
        return pod("p", volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": n}}
                                 for i, n in enumerate(names)], **spec)
    assert host(zone_nodes(), with_claims("b1"), **listers) == "b1"
    assert fit_error(zone_nodes()[:2], with_claims("b1"), **listers) == (
        "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [VolumeBinding].")
    with pytest.raises(FitError) as raised:
        framework(**listers).schedule(with_claims("a1", "b1"), cluster(zone_nodes()).snapshot())
    assert str(raised.value) == "0/3 nodes are available: node(s) didn't satisfy plugin VolumeBinding."
    assert raised.value.diagnosis.unschedulable_plugins == {"VolumeBinding"}
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a1"]}]}
    pinned = with_claims("b1", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}})
    with pytest.raises(FitError) as raised:
        framework(**listers).schedule(pinned, cluster(zone_nodes()).snapshot())
    assert str(raised.value) == (
        "0/3 nodes are available: node(s) didn't satisfy plugin(s) [NodeAffinity VolumeBinding] simultaneously.")
    assert raised.value.diagnosis.unschedulable_plugins == {"NodeAffinity", "VolumeBinding"}


def test_volume_zone():
    """A bound volume labelled with zones ("a__c": a or c) keeps the pod to nodes in them, the beta label
    matched against the node's GA one; nodes with no zone or region label at all pass; a claim bound to a
    volume that does not exist rejects the pod at PreFilter (upstream's VolumeZone)."""
    volumes = {"pv-z": {"metadata": {"name": "pv-z", "labels": {"topology.kubernetes.io/zone": "b__c"}},
                        "spec": {}},
               "pv-beta": {"metadata": {"name": "pv-beta", "labels": {"failure-domain.beta.kubernetes.io/zone": "a"}},
                           "spec": {}}}
    claims = {"z": "pv-z", "beta": "pv-beta", "ghost": "pv-ghost"}
    done = {"pv.kubernetes.io/bind-completed": "yes"}
    listers = {"get_claim": lambda ns, name: {"metadata": {"name": name, "namespace": ns, "annotations": done},
                                              "spec": {"volumeName": claims[name]}} if name in claims else None,
               "get_volume": volumes.get}

    def with_claim(name):
        return pod("p", volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": name}}])

    def zoned(name, zone):
        return node(name, labels={"topology.kubernetes.io/zone": zone})
    nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b")]
    assert host(nodes, with_claim("z"), **listers) == "b1"
    assert fit_error(nodes[:2], with_claim("z"), **listers) == (
        "0/2 nodes are available: 2 node(s) had no available volume zone.")
    assert host([zoned("b1", "b"), node("plain")], with_claim("beta"), **listers) == "plain"
    assert host([zoned("b1", "b"), zoned("a1", "a")], with_claim("beta"), **listers) == "a1"
    assert fit_error(nodes, with_claim("ghost"), **listers) == (
        '0/3 nodes are available: persistentvolume "pv-ghost" not found.')


def test_read_write_once_pod_claim_serves_one_pod():
    """A ReadWriteOncePod claim in use by a placed pod rejects every node for another pod naming it
    (upstream's VolumeRestrictions); a ReadWriteOnce claim does not."""
    claims = {name: {"metadata": {"name": name, "namespace": "default",
                                  "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                     "spec": {"accessModes": [mode], "volumeName": f"pv-{name}"}}
              for name, mode in (("solo", "ReadWriteOncePod"), ("shared", "ReadWriteOnce"))}
    listers = {"get_claim": lambda ns, name: claims.get(name),
               "get_volume": lambda name: {"metadata": {"name": name}, "spec": {}}}

    def with_claim(name, claim, **kw):
        return pod(name, volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": claim}}], **kw)
    assert host(zone_nodes(), with_claim("first", "solo"), **listers) in {"a1", "a2", "b1"}
    placed = [with_claim("first", "solo", node_name="a1"), with_claim("other", "shared", node_name="a1")]
    assert fit_error(zone_nodes(), with_claim("second", "solo"), pods=placed, **listers) == (
        "0/3 nodes are available: 3 node has pod using PersistentVolumeClaim with the same name and "
        "ReadWriteOncePod access mode.")
    assert host(zone_nodes(), with_claim("again", "shared"), pods=placed, **listers) in {"a1", "a2", "b1"}


def test_inline_disk_conflict():
    """The same GCE persistent disk on a node twice conflicts unless both mount it read-only."""
    def with_disk(name, read_only=False, **kw):
        return pod(name, volumes=[{"name": "d", "gcePersistentDisk": {"pdName": "disk-1", "readOnly": read_only}}],
                   **kw)
    placed = [with_disk("holder", node_name="a1")]
    assert host(zone_nodes()[:2], with_disk("p"), pods=placed) == "a2"
    assert fit_error(zone_nodes()[:1], with_disk("p"), pods=placed) == (
        "0/1 nodes are available: 1 node(s) had no available disk.")
    readers = [with_disk("holder", read_only=True, node_name="a1")]
    assert host(zone_nodes()[:1], with_disk("p", read_only=True), pods=readers) == "a1"


def test_profile_added_node_affinity():
    """A profile's NodeAffinity addedAffinity (node affinity per scheduling profile) binds every pod of the
    profile: nodes its required terms do not match are "scheduler-enforced" rejections; its preferred terms
    score."""
    import random

    from kapiserver.scheduler.framework import Framework
    from kapiserver.scheduler.plugins import profile_plugins
    added = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "scheduler-profile", "operator": "In", "values": ["foo"]}]}]},
             "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {"matchExpressions": [
                 {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}
    plugins, weights = profile_plugins({"schedulerName": "foo-scheduler", "pluginConfig": [
        {"name": "NodeAffinity", "args": {"addedAffinity": added}}]})
    fw = Framework(plugins, weights, rand=random.Random(0))
    nodes = [node("plain"), node("foo", labels={"scheduler-profile": "foo"}),
             node("foo-ssd", labels={"scheduler-profile": "foo", "disk": "ssd"})]
    for _ in range(5):
        assert fw.schedule(pod("p"), cluster(nodes).snapshot()).suggested_host == "foo-ssd"
    with pytest.raises(FitError) as raised:
        fw.schedule(pod("p"), cluster(nodes[:1]).snapshot())
    assert str(raised.value) == "0/1 nodes are available: 1 node(s) didn't match scheduler-enforced node affinity."


def test_profile_ignored_extended_resources():
    """NodeResourcesFit args ignoredResources and ignoredResourceGroups: those extended resources are not
    checked by the filter (an extender or device plugin accounts for them); others still are."""
    import random

    from kapiserver.scheduler.framework import Framework
    from kapiserver.scheduler.plugins import profile_plugins

    def wants(*names):
        return pod("p", **{"containers": [{"name": "c", "image": "x", "resources": {"requests": {
            n: "1" for n in names}}}]})

    def framework_with(args):
        plugins, weights = profile_plugins({"pluginConfig": [{"name": "NodeResourcesFit", "args": args}]})
        return Framework(plugins, weights, rand=random.Random(0))
    by_name = framework_with({"ignoredResources": ["example.com/gpu"]})
    assert by_name.schedule(wants("example.com/gpu"), cluster([node("a")]).snapshot()).suggested_host == "a"
    with pytest.raises(FitError, match="1 Insufficient vendor.io/fpga"):
        by_name.schedule(wants("example.com/gpu", "vendor.io/fpga"), cluster([node("a")]).snapshot())
    by_group = framework_with({"ignoredResourceGroups": ["vendor.io"]})
    assert by_group.schedule(wants("vendor.io/fpga"), cluster([node("a")]).snapshot()).suggested_host == "a"
    with pytest.raises(ValueError, match="can't contain '/'"):
        framework_with({"ignoredResourceGroups": ["vendor.io/fpga"]})

"""resourcequota-controller's counting against upstream's evaluators (pkg/quota/v1/evaluator/core: pods.go,
services.go, persistent_volume_claims.go) and pkg/controller/resourcequota/resource_quota_controller.go, in
process: calculate_status over given objects."""

from __future__ import annotations

from kapiserver.controllermanager.resourcequota import calculate_status


def pod(name, requests=None, limits=None, init_containers=(), status=None, metadata=None, **spec):
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    body = {"containers": [{"name": "c", "image": "i", "resources": resources}], **spec}
    if init_containers:
        body["initContainers"] = list(init_containers)
    return {"metadata": {"name": name, "namespace": "ns", **(metadata or {})}, "spec": body,
            "status": status or {"phase": "Running"}}


def quota(hard, scopes=None, expressions=None):
    spec = {"hard": hard}
    if scopes:
        spec["scopes"] = scopes
    if expressions:
        spec["scopeSelector"] = {"matchExpressions": expressions}
    return {"metadata": {"name": "q", "namespace": "ns"}, "spec": spec}


def used(q, objects):
    """status.used of ``q`` over ``objects`` (by (group, resource))."""
    return calculate_status(q, lambda target: objects.get(target, []))["used"]


def pods_used(q, pods):
    return used(q, {("", "pods"): pods})


def test_priority_class_does_not_exist_selects_pods_without_a_class():
    """PriorityClass DoesNotExist selects the pods naming no class (upstream matches an empty label set for them);
    NotIn selects them too, In never does."""
    pods = [pod("plain"), pod("high", priorityClassName="high"), pod("low", priorityClassName="low")]
    count = {"pods": "10"}
    assert pods_used(quota(count, expressions=[{"scopeName": "PriorityClass", "operator": "DoesNotExist"}]),
                     pods) == {"pods": "1"}
    assert pods_used(quota(count, expressions=[{"scopeName": "PriorityClass", "operator": "NotIn",
                                                "values": ["high"]}]), pods) == {"pods": "2"}
    assert pods_used(quota(count, expressions=[{"scopeName": "PriorityClass", "operator": "In",
                                                "values": ["high", ""]}]), pods) == {"pods": "1"}


def test_best_effort_is_the_qos_class_so_only_cpu_and_memory_count():
    """A pod requesting only ephemeral-storage or an extended resource is still BestEffort."""
    pods = [pod("storage", requests={"ephemeral-storage": "1Gi"}, limits={"ephemeral-storage": "1Gi"}),
            pod("dongle", requests={"example.com/dongle": "1"}, limits={"example.com/dongle": "1"}),
            pod("cpu", requests={"cpu": "100m"})]
    assert pods_used(quota({"pods": "10"}, scopes=["BestEffort"]), pods) == {"pods": "2"}
    assert pods_used(quota({"pods": "10"}, scopes=["NotBestEffort"]), pods) == {"pods": "1"}


def test_cross_namespace_pod_affinity_includes_preferred_terms():
    """A preferred (anti-)affinity term naming namespaces or a namespaceSelector is cross-namespace too."""
    preferred = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "namespaceSelector": {}}}]}}
    local = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "podAffinityTerm": {"topologyKey": "zone"}}]}}
    pods = [pod("cross", affinity=preferred), pod("local", affinity=local)]
    assert pods_used(quota({"pods": "10"}, scopes=["CrossNamespacePodAffinity"]), pods) == {"pods": "1"}


def test_sidecars_and_overhead_count_in_compute_usage():
    """Requests: containers plus sidecars (restartPolicy Always init containers), or an init container with the
    sidecars started before it when larger, plus the pod overhead; limits get the overhead only where set."""
    sidecar = {"name": "proxy", "image": "i", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}
    setup = {"name": "setup", "image": "i", "resources": {"requests": {"cpu": "1500m", "memory": "64Mi"}}}
    p = pod("p", requests={"cpu": "1", "memory": "128Mi"}, limits={"cpu": "2"}, init_containers=[sidecar, setup],
            overhead={"cpu": "250m", "memory": "32Mi"})
    hard = {k: "100" for k in ("requests.cpu", "limits.cpu", "requests.memory", "limits.memory")}
    assert pods_used(quota(hard), [p]) == {"requests.cpu": "2750m", "limits.cpu": "2250m",
                                           "requests.memory": "160Mi", "limits.memory": "0"}


def test_hugepages_count_under_both_names():
    """A hugepages-2Mi request counts in hugepages-2Mi and in requests.hugepages-2Mi."""
    p = pod("p", requests={"hugepages-2Mi": "4Mi", "memory": "1Gi"}, limits={"hugepages-2Mi": "4Mi", "memory": "1Gi"})
    assert pods_used(quota({"hugepages-2Mi": "1Gi", "requests.hugepages-2Mi": "1Gi"}), [p]) == {
        "hugepages-2Mi": "4Mi", "requests.hugepages-2Mi": "4Mi"}


def test_a_pod_deleted_past_its_grace_period_no_longer_counts():
    """A pod stuck terminating past deletionTimestamp + grace counts in count/pods only; one still within its
    grace period counts in full."""
    stuck = pod("stuck", requests={"cpu": "1"}, metadata={"deletionTimestamp": "2020-01-01T00:00:00Z",
                                                          "deletionGracePeriodSeconds": 30})
    leaving = pod("leaving", requests={"cpu": "2"}, metadata={"deletionTimestamp": "2999-01-01T00:00:00Z",
                                                              "deletionGracePeriodSeconds": 30})
    assert pods_used(quota({"pods": "10", "count/pods": "10", "requests.cpu": "10"}), [stuck, leaving]) == {
        "pods": "1", "count/pods": "2", "requests.cpu": "2"}


def test_load_balancers_without_node_ports_count_only_the_ports_asked_for():
    """allocateLoadBalancerNodePorts: false: only ports with an explicit nodePort count in services.nodeports."""
    def service(name, kind, ports, **spec):
        return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"type": kind, "ports": ports, **spec}}
    services = [service("lb", "LoadBalancer", [{"port": 80, "nodePort": 30080}, {"port": 443}],
                        allocateLoadBalancerNodePorts=False),
                service("np", "NodePort", [{"port": 80}, {"port": 81}]), service("ip", "ClusterIP", [{"port": 80}])]
    assert used(quota({"services.nodeports": "10", "services.loadbalancers": "10"}), {("", "services"): services}) == {
        "services.nodeports": "3", "services.loadbalancers": "1"}


def test_claims_are_charged_their_allocated_storage_and_beta_class():
    """A claim is charged what was allocated for it when that is more than its request (a resize under way),
    rounded up to whole bytes; the beta storage-class annotation names its class before spec.storageClassName."""
    def claim(name, storage, allocated=None, annotations=None, storage_class="gold"):
        body = {"metadata": {"name": name, "namespace": "ns", "annotations": annotations or {}},
                "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": storage}}}}
        if allocated:
            body["status"] = {"allocatedResources": {"storage": allocated}}
        return body
    claims = [claim("growing", "1Gi", allocated="2Gi"), claim("shrunk", "3Gi", allocated="1Gi"),
              claim("beta", "1Gi", annotations={"volume.beta.kubernetes.io/storage-class": "silver"}),
              claim("fraction", "1500m", storage_class="")]
    hard = {"requests.storage": "100Gi", "gold.storageclass.storage.k8s.io/requests.storage": "100Gi",
            "silver.storageclass.storage.k8s.io/persistentvolumeclaims": "10"}
    assert used(quota(hard), {("", "persistentvolumeclaims"): claims}) == {
        "requests.storage": str(6 * 2 ** 30 + 2), "gold.storageclass.storage.k8s.io/requests.storage": "5Gi",
        "silver.storageclass.storage.k8s.io/persistentvolumeclaims": "1"}


def test_the_grace_period_is_judged_by_the_controllers_clock():
    """``now`` is the controller's clock, not the wall clock: a pod whose deletion's grace ended an hour ago by a
    simulated clock counts in count/pods only."""
    import calendar
    deleted = calendar.timegm((2030, 1, 1, 0, 0, 0))
    stuck = pod("stuck", requests={"cpu": "1"}, metadata={"deletionTimestamp": "2030-01-01T00:00:00Z",
                                                          "deletionGracePeriodSeconds": 30})
    q = quota({"pods": "5", "count/pods": "5", "requests.cpu": "5"})
    status = calculate_status(q, lambda target: [stuck] if target == ("", "pods") else [], deleted + 3600)
    assert status["used"] == {"pods": "0", "count/pods": "1", "requests.cpu": "0"}
    status = calculate_status(q, lambda target: [stuck] if target == ("", "pods") else [], deleted)
    assert status["used"] == {"pods": "1", "count/pods": "1", "requests.cpu": "1"}

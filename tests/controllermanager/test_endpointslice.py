"""endpointslice-controller: a Service's EndpointSlices follow its pods (conditions ready/serving/terminating,
node, zone, hostname), are labelled and owned as upstream's, hold at most --max-endpoints-per-slice endpoints,
come back when deleted and go with their Service; and the reconciler's packing."""

from kapiserver.client.cache import Indexer
from kapiserver.client.resources import ENDPOINT_SLICES, PODS, SERVICES
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.endpointslicereconciler import Reconciler, SliceWriteError, endpoint_key
from kapiserver.machinery.errors import aggregate
from kapiserver.controllermanager.endpointsliceutil import EndpointSliceTracker
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.networkhelpers import pod, running_ip, service, set_ready, slice_endpoints, slices_of

WEB = {"app": "web"}
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def _create(client, namespace, obj, resource=PODS):
    return run(client.create(resource, obj, namespace))


def test_slices_follow_pods_with_their_conditions(controllers, simulated_nodes, client, namespace):
    """Endpoints appear ready with node and zone, turn not ready, then terminating, then go; an empty Service
    keeps one placeholder slice."""
    simulated_nodes("net-z", schedule=True, labels={"topology.kubernetes.io/zone": "zone-a"})
    controllers("endpointslice-controller")
    svc = _create(client, namespace, {**service("web", WEB, [{"name": "http", "port": 80, "targetPort": "http"}]),
                                      "metadata": {"name": "web", "labels": {"tier": "front"}}}, SERVICES)
    _create(client, namespace, pod("web-1", WEB, [("http", 8080)]))
    held = pod("web-2", WEB, [("http", 8080)])
    held["metadata"]["finalizers"] = ["example.com/hold"]
    _create(client, namespace, held)
    ips = {n: eventually(lambda n=n: running_ip(client, namespace, n)) for n in ("web-1", "web-2")}
    slices = eventually(lambda: (s := slices_of(client, namespace, "web")) and len(slice_endpoints(s)) == 2 and s)
    assert len(slices) == 1
    endpoint_slice = slices[0]
    meta = endpoint_slice["metadata"]
    assert meta["name"].startswith("web-") and meta["generateName"] == "web-"
    assert meta["labels"] == {"kubernetes.io/service-name": "web", MANAGED_BY: "endpointslice-controller.k8s.io",
                              "tier": "front"}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                        "uid": svc["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert "endpoints.kubernetes.io/last-change-trigger-time" in meta["annotations"]
    assert endpoint_slice["addressType"] == "IPv4"
    assert endpoint_slice["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    first = slice_endpoints(slices)["web-1"]
    assert first["addresses"] == [ips["web-1"]] and first["nodeName"] == "net-z" and first["zone"] == "zone-a"
    assert first["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert first["targetRef"]["kind"] == "Pod" and first["targetRef"]["name"] == "web-1"

    set_ready(client, namespace, "web-1", False)
    eventually(lambda: slice_endpoints(slices_of(client, namespace, "web"))["web-1"]["conditions"] ==
               {"ready": False, "serving": False, "terminating": False})
    run(client.delete(PODS, "web-2", namespace))
    eventually(lambda: slice_endpoints(slices_of(client, namespace, "web"))["web-2"]["conditions"] ==
               {"ready": False, "serving": True, "terminating": True})
    run(client.patch(PODS, "web-2", {"metadata": {"finalizers": None}}, namespace))
    run(client.delete(PODS, "web-1", namespace))
    placeholder = eventually(lambda: (s := slices_of(client, namespace, "web")) and not slice_endpoints(s) and s)
    assert len(placeholder) == 1 and not placeholder[0].get("ports")


def test_slices_hold_at_most_max_endpoints_and_come_back_when_deleted(controllers, simulated_nodes, client,
                                                                       namespace):
    """With --max-endpoints-per-slice=2, five pods make three slices; a slice deleted by hand is made again."""
    simulated_nodes("net-a", schedule=True)
    controllers("endpointslice-controller", max_endpoints_per_slice=2)
    _create(client, namespace, service("web", WEB, [{"port": 80, "targetPort": 8080}]), SERVICES)
    for i in range(5):
        _create(client, namespace, pod(f"web-{i}", WEB, [8080]))
    slices = eventually(lambda: (s := slices_of(client, namespace, "web")) and len(slice_endpoints(s)) == 5 and s)
    assert sorted(len(s["endpoints"]) for s in slices) == [1, 2, 2]
    victim = next(s for s in slices if len(s["endpoints"]) == 2)
    run(client.delete(ENDPOINT_SLICES, victim["metadata"]["name"], namespace))
    again = eventually(lambda: (s := slices_of(client, namespace, "web")) and len(slice_endpoints(s)) == 5 and
                       victim["metadata"]["name"] not in [x["metadata"]["name"] for x in s] and s)
    assert all(len(s["endpoints"]) <= 2 for s in again)
    assert sum(len(s["endpoints"]) for s in again) == 5


def test_headless_and_deleted_services(controllers, simulated_nodes, client, namespace):
    """A headless Service's slices carry hostnames and the headless label; a deleted Service's slices are
    garbage collected; a Service without a selector gets none from this controller."""
    simulated_nodes("net-a", schedule=True)
    controllers("endpointslice-controller")
    _create(client, namespace, service("db", {"app": "db"}, [], clusterIP="None"), SERVICES)
    _create(client, namespace, service("manual", None, [{"port": 80}]), SERVICES)
    _create(client, namespace, pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"))
    slices = eventually(lambda: (s := slices_of(client, namespace, "db")) and slice_endpoints(s) and s)
    assert slices[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert slice_endpoints(slices)["db-0"]["hostname"] == "db-0"
    assert not slices[0].get("ports")
    run(client.delete(SERVICES, "db", namespace))
    eventually(lambda: slices_of(client, namespace, "db") == [], timeout=30)
    assert slices_of(client, namespace, "manual") == []


def _pods(n, start=0):
    return [{"metadata": {"name": f"p{i}", "namespace": "ns", "uid": f"u{i}", "labels": WEB},
             "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
             "status": {"phase": "Running", "podIP": f"10.0.0.{i}", "podIPs": [{"ip": f"10.0.0.{i}"}],
                        "conditions": [{"type": "Ready", "status": "True"}]}} for i in range(start, start + n)]


def _reconciler(max_per_slice):
    nodes = Indexer()
    nodes.add({"metadata": {"name": "n1"}})
    return Reconciler(None, nodes, max_per_slice, EndpointSliceTracker(), "endpointslice-controller.k8s.io")


SVC = {"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid"},
       "spec": {"selector": WEB, "clusterIP": "10.0.0.200", "ipFamilies": ["IPv4"],
                "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}


def _existing(reconciler, name, pods):
    plan, _ = reconciler.plan(SVC, pods, [])
    endpoint_slice = plan.create[0]
    endpoint_slice["metadata"]["name"] = name
    return endpoint_slice


def test_reconciler_fills_the_unchanged_slice_closest_to_full():
    """New endpoints go into the unchanged slice they fill closest to full, not into a new slice."""
    reconciler = _reconciler(5)
    pods = _pods(6)
    fuller, emptier = _existing(reconciler, "a", pods[:3]), _existing(reconciler, "b", pods[3:4])
    plan, problems = reconciler.plan(SVC, pods, [fuller, emptier])
    assert problems == [] and plan.create == [] and plan.delete == []
    assert [s["metadata"]["name"] for s in plan.update] == ["a"]
    assert len(plan.update[0]["endpoints"]) == 5


def test_reconciler_refills_slices_it_updates_and_deletes_empty_ones():
    """A slice losing endpoints is refilled with the new ones; a slice left empty is deleted; pods on unknown
    nodes are skipped and reported."""
    reconciler = _reconciler(3)
    pods = _pods(6)
    a, b = _existing(reconciler, "a", pods[:3]), _existing(reconciler, "b", pods[3:4])
    stray = _pods(1, 9)[0]
    stray["spec"]["nodeName"] = "gone"
    plan, problems = reconciler.plan(SVC, pods[1:3] + pods[4:6] + [stray], [a, b])
    assert [s["metadata"]["name"] for s in plan.update] == ["a"] and plan.delete == [b]
    assert [e["targetRef"]["name"] for e in plan.update[0]["endpoints"]] == ["p1", "p2", "p4"]
    assert [[e["targetRef"]["name"] for e in s["endpoints"]] for s in plan.create] == [["p5"]]
    assert problems == ["skipping Pod p9 for Service ns/web: Node gone Not Found"]
    assert endpoint_key(plan.create[0]["endpoints"][0]) == (("10.0.0.5",), "", "ns", "p5")


def test_target_ports_resolve_by_number_name_protocol_and_sidecar():
    """A numeric targetPort is taken as is; a named one is the container port of that name and protocol,
    sidecars (restartable init containers) included; otherwise the pod has no such port."""
    from kapiserver.controllermanager.endpointsliceutil import find_port
    target = {"spec": {"containers": [{"name": "c", "ports": [{"name": "dns", "containerPort": 53,
                                                                 "protocol": "UDP"}]}],
                       "initContainers": [{"name": "proxy", "restartPolicy": "Always",
                                           "ports": [{"name": "proxy", "containerPort": 15001}]},
                                          {"name": "setup", "ports": [{"name": "setup", "containerPort": 1}]}]}}
    assert find_port(target, {"port": 80, "targetPort": 8080}) == 8080
    assert find_port(target, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(target, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None
    assert find_port(target, {"port": 1, "targetPort": "proxy", "protocol": "TCP"}) == 15001
    assert find_port(target, {"port": 1, "targetPort": "setup", "protocol": "TCP"}) is None


def test_trigger_time_is_the_earliest_change_not_yet_synced():
    """The first sync reports the Service's creation; then the earliest new pod Ready transition, or none."""
    from kapiserver.controllermanager.endpointsliceutil import TriggerTimeTracker, format_trigger_time
    tracker = TriggerTimeTracker()
    svc = {"metadata": {"name": "web", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"}}

    def ready_at(name, stamp):
        return {"metadata": {"name": name}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": stamp}]}}
    first = tracker.compute("ns", svc, [ready_at("a", "2026-01-01T00:00:05Z")])
    assert format_trigger_time(first) == "2026-01-01T00:00:00Z"
    assert tracker.compute("ns", svc, [ready_at("a", "2026-01-01T00:00:05Z")]) is None
    later = tracker.compute("ns", svc, [ready_at("a", "2026-01-01T00:00:09Z"), ready_at("b", "2026-01-01T00:00:07Z")])
    assert format_trigger_time(later) == "2026-01-01T00:00:07Z"
    assert format_trigger_time(1.25) == "1970-01-01T00:00:01.25Z"


def test_prefer_close_traffic_distribution_sets_zone_hints():
    """trafficDistribution PreferClose gives every ready endpoint a hint for its zone, rewriting an unchanged slice
    without them; without it, hints are removed again (upstream's trafficdist)."""
    nodes = Indexer()
    nodes.add({"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "zone-a"}}})
    reconciler = Reconciler(None, nodes, 100, EndpointSliceTracker(), "endpointslice-controller.k8s.io")
    pods = _pods(2)
    pods[1]["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    close = {**SVC, "spec": {**SVC["spec"], "trafficDistribution": "PreferClose"}}

    plan, _ = reconciler.plan(close, pods, [])
    assert [e.get("hints") for e in plan.create[0]["endpoints"]] == [{"forZones": [{"name": "zone-a"}]}, None]

    plain, _ = reconciler.plan(SVC, pods, [])
    existing = {**plain.create[0], "metadata": {**plain.create[0]["metadata"], "name": "web-a"}}
    assert all("hints" not in e for e in existing["endpoints"])
    plan, _ = reconciler.plan(close, pods, [existing])
    assert [s["metadata"]["name"] for s in plan.update] == ["web-a"] and not plan.create
    assert plan.update[0]["endpoints"][0]["hints"] == {"forZones": [{"name": "zone-a"}]}
    assert "hints" not in existing["endpoints"][0]                     # the cached slice is not changed

    hinted = plan.update[0]
    plan, _ = reconciler.plan(close, pods, [hinted])
    assert not plan.create and not plan.update and not plan.delete
    plan, _ = reconciler.plan(SVC, pods, [hinted])
    assert [s["metadata"]["name"] for s in plan.update] == ["web-a"]
    assert all("hints" not in e for e in plan.update[0]["endpoints"])


class _RefusingClient:
    async def create(self, resource, obj, namespace=None):
        raise APIError(403, {"reason": "Forbidden", "message": "endpointslices is forbidden: no"})


def test_failed_writes_and_problems_read_as_upstreams_errors():
    """A failed write says what it was for (upstream's reconciler wraps it), and several problems read as one
    aggregate error: one alone as it is, more between brackets."""
    reconciler = _reconciler(100)
    reconciler.client = _RefusingClient()
    plan, _ = reconciler.plan(SVC, _pods(1), [])
    try:
        run(reconciler.finalize(SVC, plan, None))
    except SliceWriteError as e:
        assert str(e) == "failed to create EndpointSlice for Service ns/web: endpointslices is forbidden: no"
    else:
        raise AssertionError("the refused create went unnoticed")
    assert aggregate(["one"]) == "one"
    assert aggregate(["one", "two", "one"]) == "[one, two]"


def _tracked_slice(generation, resource_version):
    return {"metadata": {"name": "web-a", "namespace": "ns", "uid": "s1", "generation": generation,
                         "resourceVersion": str(resource_version), "labels": {"kubernetes.io/service-name": "web"}}}


def test_tracker_compares_generations():
    """The tracker goes by metadata.generation, as upstream's: a slice someone else only annotated (a newer
    resourceVersion, the same generation) neither syncs the Service nor looks stale; a newer generation syncs,
    an older one in the cache is stale."""
    tracker = EndpointSliceTracker()
    tracker.update(_tracked_slice(2, 10))
    assert not tracker.should_sync(_tracked_slice(2, 11))
    assert tracker.should_sync(_tracked_slice(3, 12))
    assert not tracker.stale_slices(SVC, [_tracked_slice(2, 11)])
    assert tracker.stale_slices(SVC, [_tracked_slice(1, 9)])


def test_pod_ips_are_written_canonically():
    """A pod IP is parsed and printed back into the slice, as upstream's getEndpointAddresses does."""
    pods = _pods(1)
    pods[0]["status"]["podIPs"] = [{"ip": "FD00:0::5"}]
    six = {**SVC, "spec": {**SVC["spec"], "clusterIP": "fd00::200", "ipFamilies": ["IPv6"]}}
    plan, _ = _reconciler(100).plan(six, pods, [])
    assert [e["addresses"] for e in plan.create[0]["endpoints"]] == [["fd00::5"]]


class _RefusingEverythingClient(_RefusingClient):
    def __init__(self):
        self.deletes = []

    async def update(self, resource, obj):
        raise APIError(409, {"reason": "Conflict", "message": "the object has been modified"})

    async def delete(self, resource, name, namespace=None):
        self.deletes.append(name)


def test_every_write_is_tried_and_the_failures_reported_together():
    """As upstream's finalize: a failed create does not stop the update and the delete after it; the error holds
    each failure, its text their aggregate."""
    from kapiserver.controllermanager.endpointslicereconciler import Plan
    reconciler = _reconciler(100)
    client = reconciler.client = _RefusingEverythingClient()
    slice_ = {"metadata": {"name": "web-x", "namespace": "ns"}, "addressType": "IPv4", "endpoints": []}
    plan = Plan()
    plan.create = [dict(slice_, metadata={"generateName": "web-", "namespace": "ns"})]
    plan.update = [dict(slice_, metadata={"name": "web-u", "namespace": "ns", "uid": "u-u", "generation": 1})]
    plan.delete = [dict(slice_, metadata={"name": "web-d", "namespace": "ns", "uid": "u-d", "generation": 1})]
    try:
        run(reconciler.finalize(SVC, plan, None))
    except SliceWriteError as e:
        assert e.failures == ["failed to create EndpointSlice for Service ns/web: endpointslices is forbidden: no",
                              "failed to update web-u EndpointSlice for Service ns/web: the object has been modified"]
        assert str(e) == "[" + ", ".join(e.failures) + "]"
    else:
        raise AssertionError("the failed writes went unnoticed")
    assert client.deletes == ["web-d"]


def test_a_null_hint_is_no_hint():
    """Without trafficDistribution, only a slice whose endpoints carry hints is rewritten to drop them; an endpoint
    with ``hints: null`` has none (upstream's Hints != nil)."""
    from kapiserver.controllermanager.endpointslicereconciler import reconcile_hints
    unchanged = [{"metadata": {"name": "web-a"}, "endpoints": [{"addresses": ["10.0.0.1"], "hints": None}]}]
    assert reconcile_hints(SVC, [], [], unchanged) == []
    unchanged[0]["endpoints"][0]["hints"] = {"forZones": [{"name": "a"}]}
    [rewritten] = reconcile_hints(SVC, [], [], unchanged)
    assert "hints" not in rewritten["endpoints"][0]

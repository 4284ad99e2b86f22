"""endpoints-controller: a Service's Endpoints follow its pods (created, not ready, terminating, deleted), with
ports resolved from targetPorts, hostnames for headless Services, upstream's labels and annotations; and the
canonical packing and truncation of subsets."""

import time

from kapiserver.client.resources import ENDPOINTS, PODS, SERVICES
from kapiserver.controllermanager.endpoints import MAX_CAPACITY, repack_subsets, truncate
from kapiserver.machinery.meta import parse_time
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.networkhelpers import (addresses, endpoints_of, pod, running_ip, service,
                                                     set_ready, slice_endpoints, slices_of)

WEB = {"app": "web"}


def _create(client, namespace, obj, resource=PODS):
    return run(client.create(resource, obj, namespace))


def test_endpoints_follow_pods_through_readiness_and_deletion(controllers, simulated_nodes, client, namespace):
    """Pods join as ready addresses on their resolved ports, move to notReadyAddresses when not ready, leave when
    deleted; the Endpoints go with their Service."""
    simulated_nodes("net-a", schedule=True)
    controllers("endpoints-controller")
    svc = _create(client, namespace, {**service("web", WEB, [
        {"name": "http", "port": 80, "targetPort": "http"}, {"name": "metrics", "port": 9000, "targetPort": 9090}]),
        "metadata": {"name": "web", "labels": {"tier": "front"}}}, SERVICES)
    empty = eventually(lambda: endpoints_of(client, namespace, "web"))
    assert not empty.get("subsets")
    assert empty["metadata"]["labels"] == {"tier": "front"}
    # The first sync of a Service stamps the Service's creation as the trigger time.
    assert parse_time(empty["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]) == \
        parse_time(svc["metadata"]["creationTimestamp"])
    for name, port in (("web-1", 8080), ("web-2", 8081)):
        _create(client, namespace, pod(name, WEB, [("http", port)]))
    ips = {n: eventually(lambda n=n: running_ip(client, namespace, n)) for n in ("web-1", "web-2")}
    ready = eventually(lambda: (e := endpoints_of(client, namespace, "web")) and len(addresses(e)) == 2 and e)
    assert addresses(ready) == ips
    # Named target ports differ per pod: repacked, the shared port is one subset of both pods, the named port
    # one subset per pod.
    layout = sorted((sorted(a["targetRef"]["name"] for a in s["addresses"]),
                     [(p["name"], p["port"], p["protocol"]) for p in s["ports"]]) for s in ready["subsets"])
    assert layout == [(["web-1"], [("http", 8080, "TCP")]), (["web-1", "web-2"], [("metrics", 9090, "TCP")]),
                      (["web-2"], [("http", 8081, "TCP")])]
    address = next(a for s in ready["subsets"] for a in s["addresses"] if a["targetRef"]["name"] == "web-1")
    assert address["nodeName"] == "net-a"
    assert address["targetRef"]["kind"] == "Pod" and address["targetRef"]["namespace"] == namespace
    assert "service.kubernetes.io/headless" not in ready["metadata"]["labels"]

    set_ready(client, namespace, "web-1", False)
    moved = eventually(lambda: (e := endpoints_of(client, namespace, "web")) and
                       addresses(e, "notReadyAddresses") == {"web-1": ips["web-1"]} and e)
    assert addresses(moved) == {"web-2": ips["web-2"]}

    run(client.delete(PODS, "web-2", namespace))
    gone = eventually(lambda: (e := endpoints_of(client, namespace, "web")) and "web-2" not in addresses(e) and e)
    assert addresses(gone) == {} and addresses(gone, "notReadyAddresses") == {"web-1": ips["web-1"]}

    run(client.delete(SERVICES, "web", namespace))
    eventually(lambda: endpoints_of(client, namespace, "web") is None)


def test_terminating_pods_leave_unless_not_ready_addresses_are_published(controllers, simulated_nodes, client,
                                                                          namespace):
    """A terminating pod leaves a Service's Endpoints, but stays in one that publishes not-ready addresses."""
    simulated_nodes("net-a", schedule=True)
    controllers("endpoints-controller")
    _create(client, namespace, service("plain", WEB, [{"port": 80, "targetPort": 8080}]), SERVICES)
    _create(client, namespace, service("published", WEB, [{"port": 80, "targetPort": 8080}],
                                       publishNotReadyAddresses=True), SERVICES)
    held = pod("held", WEB, [8080])
    held["metadata"]["finalizers"] = ["example.com/hold"]
    _create(client, namespace, held)
    eventually(lambda: len(addresses(endpoints_of(client, namespace, "plain"))) == 1)
    run(client.delete(PODS, "held", namespace))
    eventually(lambda: addresses(endpoints_of(client, namespace, "plain")) == {} and
               not addresses(endpoints_of(client, namespace, "plain"), "notReadyAddresses"))
    # publishNotReadyAddresses keeps a terminating pod, as a ready address.
    assert list(addresses(endpoints_of(client, namespace, "published"))) == ["held"]
    run(client.patch(PODS, "held", {"metadata": {"finalizers": None}}, namespace))


def test_headless_service_gets_hostnames_and_the_headless_label(controllers, simulated_nodes, client, namespace):
    """A headless Service's Endpoints are labelled headless and give the hostname of pods whose subdomain names it."""
    simulated_nodes("net-a", schedule=True)
    controllers("endpoints-controller")
    _create(client, namespace, service("db", {"app": "db"}, [], clusterIP="None"), SERVICES)
    _create(client, namespace, pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"))
    _create(client, namespace, pod("db-x", {"app": "db"}, hostname="db-x", subdomain="other"))
    endpoints = eventually(lambda: (e := endpoints_of(client, namespace, "db")) and len(addresses(e)) == 2 and e)
    assert endpoints["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    # A headless Service without ports keeps its addresses in one portless subset.
    assert len(endpoints["subsets"]) == 1 and not endpoints["subsets"][0].get("ports")
    hostnames = {a["targetRef"]["name"]: a.get("hostname") for a in endpoints["subsets"][0]["addresses"]}
    assert hostnames == {"db-0": "db-0", "db-x": None}


def test_no_write_when_nothing_changed_and_selectorless_endpoints_are_left_alone(controllers, simulated_nodes,
                                                                                 client, namespace):
    """Endpoints without a Service go at start; no write happens for changes that leave the endpoints as they are;
    Endpoints of a Service without a selector are never touched."""
    simulated_nodes("net-a", schedule=True)
    _create(client, namespace, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "orphan"},
                                "subsets": [{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"port": 1}]}]},
            ENDPOINTS)
    _create(client, namespace, service("manual", None, [{"port": 80}]), SERVICES)
    manual = _create(client, namespace, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual"},
                                         "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]},
                     ENDPOINTS)
    _create(client, namespace, service("web", WEB, [{"port": 80, "targetPort": 8080}]), SERVICES)
    _create(client, namespace, pod("web-1", WEB, [8080]))
    controllers("endpoints-controller")
    # Endpoints without a Service are cleaned up once the controller starts.
    eventually(lambda: endpoints_of(client, namespace, "orphan") is None)
    settled = eventually(lambda: (e := endpoints_of(client, namespace, "web")) and addresses(e) and e)
    # Changes that do not touch the endpoints (a pod's annotation, the Service's) write nothing.
    run(client.patch(PODS, "web-1", {"metadata": {"annotations": {"touched": "yes"}}}, namespace))
    run(client.patch(SERVICES, "web", {"metadata": {"annotations": {"touched": "yes"}}}, namespace))
    run(client.patch(SERVICES, "manual", {"metadata": {"annotations": {"touched": "yes"}}}, namespace))
    deadline = time.monotonic() + 1.0
    eventually(lambda: time.monotonic() > deadline)
    assert endpoints_of(client, namespace, "web")["metadata"]["resourceVersion"] == \
        settled["metadata"]["resourceVersion"]
    assert endpoints_of(client, namespace, "manual")["metadata"]["resourceVersion"] == \
        manual["metadata"]["resourceVersion"]
    # A label change on the Service is one.
    run(client.patch(SERVICES, "web", {"metadata": {"labels": {"new": "label"}}}, namespace))
    eventually(lambda: endpoints_of(client, namespace, "web")["metadata"]["labels"] == {"new": "label"})


def test_kubectl_shows_the_endpoints(controllers, simulated_nodes, client, namespace, kubectl):
    """kubectl get endpoints reads the Endpoints; kubectl describe service (1.32) reads the EndpointSlices."""
    simulated_nodes("net-a", schedule=True)
    controllers("endpoints-controller", "endpointslice-controller")
    _create(client, namespace, service("web", WEB, [{"port": 80, "targetPort": 8080}]), SERVICES)
    _create(client, namespace, pod("web-1", WEB, [8080]))
    ip = eventually(lambda: running_ip(client, namespace, "web-1"))
    eventually(lambda: addresses(endpoints_of(client, namespace, "web")))
    listed = kubectl("-n", namespace, "get", "endpoints", "web").stdout
    assert f"{ip}:8080" in listed, listed
    eventually(lambda: slice_endpoints(slices_of(client, namespace, "web")))
    described = kubectl("-n", namespace, "describe", "service", "web").stdout
    assert f"{ip}:8080" in described.split("Endpoints:", 1)[1].splitlines()[0], described
    sliced = kubectl("-n", namespace, "get", "endpointslices", "-l", "kubernetes.io/service-name=web").stdout
    assert "IPv4" in sliced and "8080" in sliced and ip in sliced, sliced


def _address(i, ready=True):
    return {"ip": f"10.0.{i // 250}.{i % 250}", "targetRef": {"kind": "Pod", "name": f"p{i}", "uid": f"u{i}"}}


def test_repack_merges_subsets_and_not_ready_wins():
    """Repacking groups addresses by the ports they offer, not ready on a port winning over ready."""
    http, metrics = {"name": "http", "port": 80, "protocol": "TCP"}, {"name": "m", "port": 90, "protocol": "TCP"}
    a, b = _address(2), _address(1)
    packed = repack_subsets([{"addresses": [a], "ports": [http]}, {"addresses": [b], "ports": [http]},
                             {"addresses": [a], "ports": [metrics]}, {"notReadyAddresses": [b], "ports": [metrics]},
                             {"notReadyAddresses": [a], "ports": [http]}])
    # http: a not ready (not ready wins), b ready; metrics: a ready, b not ready -- two different groups.
    assert packed == sorted(packed, key=lambda s: (s.get("addresses") or s["notReadyAddresses"])[0]["ip"].encode())
    groups = {tuple(p["name"] for p in s["ports"]): s for s in packed}
    assert groups[("http",)] == {"addresses": [b], "notReadyAddresses": [a], "ports": [http]}
    assert groups[("m",)] == {"addresses": [a], "notReadyAddresses": [b], "ports": [metrics]}
    same = repack_subsets([{"addresses": [a], "ports": [metrics]}, {"addresses": [b, a], "ports": [http]},
                           {"addresses": [b], "ports": [metrics]}])
    assert same == [{"addresses": [b, a], "ports": [http, metrics]}]     # sorted by IP bytes: 10.0.0.1 first


def test_truncation_keeps_ready_addresses_in_proportion():
    """Over 1000 addresses, not-ready ones are cut first, shared among subsets in proportion."""
    subsets = [{"addresses": [_address(i) for i in range(800)], "notReadyAddresses": [_address(900 + i)
                                                                                      for i in range(300)]},
               {"addresses": [_address(2000 + i) for i in range(100)], "notReadyAddresses": [_address(3000 + i)
                                                                                             for i in range(200)]}]
    assert truncate(subsets)
    assert sum(len(s.get("addresses", [])) + len(s.get("notReadyAddresses", [])) for s in subsets) == MAX_CAPACITY
    assert [len(s["addresses"]) for s in subsets] == [800, 100]
    # 100 not-ready slots shared 300:200 (rounded up, the last subset gets what is left).
    assert [len(s["notReadyAddresses"]) for s in subsets] == [60, 40]
    assert not truncate([{"addresses": [_address(i) for i in range(10)]}])


class _RecordingClient:
    def __init__(self):
        self.created = []

    async def create(self, resource, obj, namespace=None):
        self.created.append(obj)
        return obj


def test_over_capacity_endpoints_are_truncated_and_annotated():
    """Above 1000 addresses the Endpoints written hold 1000, annotated endpoints.kubernetes.io/over-capacity."""
    from twisted.internet.task import Clock

    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    from kapiserver.controllermanager.endpoints import EndpointsController
    fake = _RecordingClient()
    clock = Clock()
    controller = EndpointsController(ControllerContext(fake, SharedInformerFactory(fake, clock), clock))
    svc = {"metadata": {"name": "big", "namespace": "ns", "labels": {"a": "b"}},
           "spec": {"clusterIP": "10.0.0.9", "selector": WEB}}
    subsets = [{"addresses": [_address(i) for i in range(1001)], "ports": [{"port": 80, "protocol": "TCP"}]}]
    run(controller._write(svc, None, subsets, None))
    written = fake.created[0]
    assert written["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}
    assert written["metadata"]["labels"] == {"a": "b"}
    assert len(written["subsets"][0]["addresses"]) == MAX_CAPACITY

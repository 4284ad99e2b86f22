"""endpointslice-mirroring-controller: the Endpoints of a Service without a selector are mirrored into
EndpointSlices through create, update and delete; skip-mirror, selectors and missing Services stop it; invalid
and surplus addresses are skipped with upstream's events."""

from kapiserver.client.resources import ENDPOINTS, EVENTS, SERVICES
from kapiserver.controllermanager.endpointslicemirroring import MirroringReconciler
from kapiserver.controllermanager.endpointsliceutil import EndpointSliceTracker
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.networkhelpers import service, slices_of

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def _endpoints(name, subsets, labels=None, annotations=None):
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
            "subsets": subsets}


def _ips(slices):
    return sorted(a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"])


def test_custom_endpoints_are_mirrored_through_create_update_and_delete(controllers, client, namespace):
    """A selector-less Service's Endpoints become one slice per subset, kept in step, deleted with them."""
    controllers("endpointslice-mirroring-controller")
    run(client.create(SERVICES, service("custom", None, [{"name": "http", "port": 80}]), namespace))
    endpoints = run(client.create(ENDPOINTS, _endpoints("custom", [
        {"addresses": [{"ip": "10.1.2.3", "nodeName": "n1", "hostname": "one"}],
         "notReadyAddresses": [{"ip": "10.1.2.4"}], "ports": [{"name": "http", "port": 8080}]},
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"name": "http", "port": 8080}]}],
        labels={"team": "a"}, annotations={"note": "kept", "kubectl.kubernetes.io/last-applied-configuration": "{}"}),
        namespace))
    slices = eventually(lambda: (s := slices_of(client, namespace, "custom")) and len(s) == 2 and s)
    by_type = {s["addressType"]: s for s in slices}
    ipv4 = by_type["IPv4"]
    assert ipv4["metadata"]["labels"] == {"team": "a", "kubernetes.io/service-name": "custom",
                                          MANAGED_BY: "endpointslicemirroring-controller.k8s.io"}
    assert ipv4["metadata"]["annotations"] == {"note": "kept"}
    assert ipv4["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert ipv4["metadata"]["ownerReferences"][0]["uid"] == endpoints["metadata"]["uid"]
    assert ipv4["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert {e["addresses"][0]: (e["conditions"], e.get("nodeName"), e.get("hostname"))
            for e in ipv4["endpoints"]} == {"10.1.2.3": ({"ready": True}, "n1", "one"),
                                            "10.1.2.4": ({"ready": False}, None, None)}
    assert _ips([by_type["IPv6"]]) == ["fd00::1"]

    current = run(client.get(ENDPOINTS, "custom", namespace))
    current["subsets"] = [{"addresses": [{"ip": "10.2.3.4"}], "ports": [{"name": "http", "port": 8080}]}]
    run(client.update(ENDPOINTS, current))
    updated = eventually(lambda: (s := slices_of(client, namespace, "custom")) and _ips(s) == ["10.2.3.4"] and s)
    assert [s["metadata"]["name"] for s in updated] == [ipv4["metadata"]["name"]]   # the same slice, updated

    run(client.delete(ENDPOINTS, "custom", namespace))
    eventually(lambda: slices_of(client, namespace, "custom") == [])


def test_what_is_not_mirrored(controllers, client, namespace):
    """skip-mirror Endpoints, Endpoints of a Service with a selector and Endpoints without a Service are not
    mirrored; giving the Service a selector removes its mirrored slices."""
    controllers("endpointslice-mirroring-controller")
    subsets = [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]
    for name in ("skipped", "selected", "mirrored"):
        run(client.create(SERVICES, service(name, {"app": name} if name == "selected" else None, [{"port": 80}]),
                          namespace))
    run(client.create(ENDPOINTS, _endpoints("skipped", subsets, {"endpointslice.kubernetes.io/skip-mirror": "true"}),
                      namespace))
    run(client.create(ENDPOINTS, _endpoints("selected", subsets), namespace))
    run(client.create(ENDPOINTS, _endpoints("lonely", subsets), namespace))
    run(client.create(ENDPOINTS, _endpoints("mirrored", subsets), namespace))
    eventually(lambda: len(slices_of(client, namespace, "mirrored")) == 1)
    assert [slices_of(client, namespace, n) for n in ("skipped", "selected", "lonely")] == [[], [], []]
    run(client.patch(SERVICES, "mirrored", {"spec": {"selector": {"app": "now"}}}, namespace))
    eventually(lambda: slices_of(client, namespace, "mirrored") == [])


def test_surplus_addresses_are_skipped_with_an_event(controllers, client, namespace):
    """Addresses past --mirroring-max-endpoints-per-subset are left out, with a Warning event."""
    controllers("endpointslice-mirroring-controller", mirroring_max_endpoints_per_subset=2)
    run(client.create(SERVICES, service("many", None, [{"port": 80}]), namespace))
    run(client.create(ENDPOINTS, _endpoints("many", [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
         "ports": [{"port": 80}]}]), namespace))
    eventually(lambda: _ips(slices_of(client, namespace, "many")) == ["10.0.0.1", "10.0.0.2"])
    reasons = eventually(lambda: (r := {e["reason"]: e["message"] for e in run(client.list(EVENTS, namespace))["items"]
                                        if e["involvedObject"].get("name") == "many"}) and r)
    assert reasons == {"TooManyAddressesToMirror": "A max of 2 addresses can be mirrored to EndpointSlices per "
                                                   "Endpoints subset. 2 addresses were skipped"}


class _Recorder:
    def __init__(self):
        self.events = []

    def eventf(self, obj, type_, reason, fmt, *args):
        self.events.append(reason)


def test_unchanged_endpoints_plan_no_writes():
    """A mirrored slice already matching its Endpoints (endpoints, labels, annotations) is left as it is."""
    reconciler = MirroringReconciler(None, _Recorder(), EndpointSliceTracker(), 1000)
    endpoints = {"metadata": {"name": "e", "namespace": "ns", "uid": "u", "labels": {"a": "b"}},
                 "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}
    first = reconciler.plan(endpoints, [])
    assert len(first.create) == 1 and not first.update and not first.delete
    existing = {**first.create[0], "metadata": {**first.create[0]["metadata"], "name": "e-abc"}}
    again = reconciler.plan(endpoints, [existing])
    assert not again.create and not again.update and not again.delete
    endpoints["metadata"]["labels"] = {"a": "c"}
    relabelled = reconciler.plan(endpoints, [existing])
    assert [s["metadata"]["name"] for s in relabelled.update] == ["e-abc"]


def test_invalid_ips_are_skipped_with_an_event():
    """An address that is no IP is not mirrored, and an InvalidIPAddress event says how many were skipped."""
    recorder = _Recorder()
    reconciler = MirroringReconciler(None, recorder, EndpointSliceTracker(), 1000)
    endpoints = {"metadata": {"name": "e", "namespace": "ns", "uid": "u"},
                 "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "bogus"}], "ports": [{"port": 80}]}]}
    plan = reconciler.plan(endpoints, [])
    assert [[e["addresses"] for e in s["endpoints"]] for s in plan.create] == [[["10.0.0.1"]]]
    assert recorder.events == ["InvalidIPAddress"]


def test_subsets_are_repacked_before_mirroring():
    """An address listed in two subsets with different ports is one endpoint of one slice offering both ports
    (upstream repacks the subsets to their canonical layout first); not ready in any subset wins."""
    reconciler = MirroringReconciler(None, _Recorder(), EndpointSliceTracker(), 1000)
    endpoints = {"metadata": {"name": "e", "namespace": "ns", "uid": "u"},
                 "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "a", "port": 8080}]},
                             {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "b", "port": 8082}]}]}
    plan = reconciler.plan(endpoints, [])
    assert [(sorted(p["name"] for p in s["ports"]), [e["addresses"] for e in s["endpoints"]])
            for s in plan.create if s["endpoints"]] == [(["a", "b"], [["10.0.0.1"]])]

    endpoints["subsets"] = [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "a", "port": 8080}]},
                            {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "a", "port": 8080}]}]
    plan = reconciler.plan(endpoints, [])
    assert [[e["conditions"] for e in s["endpoints"]] for s in plan.create] == [[{"ready": False}]]


def test_addresses_are_read_as_upstream_parses_ips():
    """IPs are parsed as upstream's ParseIPSloppy: IPv4 octets with leading zeros and IPv4-mapped IPv6 addresses
    are IPv4 addresses, IPv6 is written back in its canonical form; none of them is invalid."""
    recorder = _Recorder()
    reconciler = MirroringReconciler(None, recorder, EndpointSliceTracker(), 1000)
    endpoints = {"metadata": {"name": "e", "namespace": "ns", "uid": "u"},
                 "subsets": [{"addresses": [{"ip": "010.9.0.2"}, {"ip": "::ffff:10.9.0.3"}, {"ip": "FD00:0::5"}],
                              "ports": [{"port": 80}]}]}
    plan = reconciler.plan(endpoints, [])
    assert {s["addressType"]: sorted(e["addresses"][0] for e in s["endpoints"]) for s in plan.create} == \
        {"IPv4": ["10.9.0.2", "10.9.0.3"], "IPv6": ["fd00::5"]}
    assert recorder.events == []

"""API Priority and Fairness on an in-process server: classification by the bootstrap FlowSchemas (the
X-Kubernetes-PF-* headers), 429 from a saturated Reject level, queuing until a seat frees or the wait
limit passes (on a task.Clock), and watches holding no seat once started."""

from __future__ import annotations

import json

import pytest
from treq.testing import StubTreq
from twisted.internet import task
from twisted.internet.defer import ensureDeferred

from kapiserver import runtime
from kapiserver.auth.authz import AlwaysAllow
from kapiserver.auth.filters import Security
from kapiserver.auth.user import UserInfo
from kapiserver.endpoints import apfmetrics
from kapiserver.endpoints.apf import FLOW_SCHEMA_UID, PRIORITY_LEVEL_UID, FlowControl
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry import apfbootstrap
from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage


GROUP, VERSION = "flowcontrol.apiserver.k8s.io", "v1"


class HeaderAuthenticator:
    """The user named by X-User, in the groups of X-Groups (comma-separated)."""

    async def authenticate(self, request):
        name = (request.getHeader(b"x-user") or b"someone").decode()
        groups = [g for g in (request.getHeader(b"x-groups") or b"").decode().split(",") if g]
        return UserInfo(name, groups=groups + ["system:authenticated"])


class Server:
    def __init__(self, concurrency: int = 600):
        self.clock = task.Clock()
        self.registry = Registry(MemoryStorage(self.clock), self.clock, watch_cache=False)
        self.run(self._bootstrap())
        context = APIContext(self.registry, self.clock, self.clock)
        self.flow = FlowControl(self.registry, self.clock, concurrency, request_timeout=60)
        self.run(self.flow.start())
        assert self.flow.ready
        context.flow_control = self.flow
        context.metrics.add_family_source(lambda: apfmetrics.families(self.flow.dispatcher))
        root = APIRoot(context, security=Security(HeaderAuthenticator(), AlwaysAllow()))
        self.client = StubTreq(runtime.RuntimeLimits(root, self.clock, request_timeout=60))

    def flow_context(self):
        context = APIContext(self.registry, self.clock, self.clock)
        context.flow_control = self.flow
        return context

    def store(self, resource):
        return self.registry.lookup(GROUP, VERSION, resource)

    def run(self, coroutine):
        results = []
        ensureDeferred(coroutine).addBoth(results.append)
        self.clock.advance(0)     # the watches deliver what was written
        [result] = results
        if isinstance(result, Exception) or hasattr(result, "raiseException"):
            result.raiseException()
        return result

    async def _bootstrap(self):
        for name in apfbootstrap.MANDATORY_PRIORITY_LEVELS + apfbootstrap.SUGGESTED_PRIORITY_LEVELS:
            await self.store("prioritylevelconfigurations").create(None, apfbootstrap.priority_level(name))
        for name in apfbootstrap.MANDATORY_FLOW_SCHEMAS + apfbootstrap.SUGGESTED_FLOW_SCHEMAS:
            await self.store("flowschemas").create(None, apfbootstrap.flow_schema(name))

    def uid(self, resource, name):
        return self.run(self.store(resource).get(None, name))["metadata"]["uid"]

    def start(self, url, user="someone", groups=(), method="GET"):
        """Send a request; returns the list its response lands in (empty while it waits)."""
        responses = []
        headers = {"X-User": [user], "X-Groups": [",".join(groups)]}
        self.client.request(method, "http://k" + url, headers=headers).addCallback(responses.append)
        self.client.flush()
        return responses

    def body(self, response):
        bodies = []
        self.client.content(response).addCallback(bodies.append)
        self.client.flush()
        return bodies[0]

    def get(self, url, user="someone", groups=()):
        [response] = self.start(url, user, groups)
        return response

    def add_level(self, name, response):
        """A level with one share that neither lends nor borrows (so its own seats are what it has)."""
        self.run(self.store("prioritylevelconfigurations").create(None, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "PriorityLevelConfiguration", "metadata": {"name": name},
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "lendablePercent": 0,
                                                    "borrowingLimitPercent": 0, "limitResponse": response}}}))

    def add_schema(self, name, level, user, method="ByUser"):
        self.run(self.store("flowschemas").create(None, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "FlowSchema", "metadata": {"name": name},
            "spec": {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": 100,
                     "distinguisherMethod": {"type": method},
                     "rules": [{"subjects": [{"kind": "User", "user": {"name": user}}],
                                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                                   "namespaces": ["*"], "clusterScope": True}]}]}}))


@pytest.fixture
def server():
    return Server()


def classified(server, response):
    headers = response.headers
    return (headers.getRawHeaders(FLOW_SCHEMA_UID.decode())[0], headers.getRawHeaders(PRIORITY_LEVEL_UID.decode())[0])


@pytest.mark.parametrize("user, groups, path, schema, level", [
    ("admin", ["system:masters"], "/api/v1/namespaces", "exempt", "exempt"),
    ("system:serviceaccount:kube-system:replicaset-controller", ["system:serviceaccounts"],
     "/api/v1/namespaces/default/pods", "kube-system-service-accounts", "workload-high"),
    ("system:serviceaccount:team:builder", ["system:serviceaccounts"], "/api/v1/namespaces/team/pods",
     "service-accounts", "workload-low"),
    ("alice", [], "/api/v1/namespaces/default/configmaps", "global-default", "global-default"),
    ("system:node:n1", ["system:nodes"], "/api/v1/nodes/n1/status", "system-node-high", "node-high"),
    ("system:node:n1", ["system:nodes"], "/api/v1/namespaces/default/configmaps", "system-nodes", "system"),
    ("system:kube-scheduler", [], "/api/v1/namespaces/default/pods", "kube-scheduler", "workload-high"),
    ("alice", [], "/healthz", "probes", "exempt"),
    ("alice", [], "/version", "global-default", "global-default"),
])
def test_requests_are_classified_by_the_bootstrap_flowschemas(server, user, groups, path, schema, level):
    """Every response names the matched FlowSchema's and priority level's UIDs."""
    response = server.get(path, user, groups)
    assert response.code in (200, 404)
    assert classified(server, response) == (server.uid("flowschemas", schema),
                                            server.uid("prioritylevelconfigurations", level))


def test_a_new_flowschema_is_used_as_soon_as_it_is_written(server):
    server.add_level("tiny", {"type": "Reject"})
    server.add_schema("bob-only", "tiny", "bob")
    response = server.get("/api/v1/namespaces/default/configmaps", "bob")
    assert response.code == 200
    assert classified(server, response) == (server.uid("flowschemas", "bob-only"),
                                            server.uid("prioritylevelconfigurations", "tiny"))
    server.run(server.store("flowschemas").delete(None, "bob-only"))
    response = server.get("/api/v1/namespaces/default/configmaps", "bob")
    assert classified(server, response)[0] == server.uid("flowschemas", "global-default")


def test_a_saturated_reject_level_answers_429_as_upstream():
    server = Server(concurrency=1)
    server.add_level("tiny", {"type": "Reject"})
    server.add_schema("bob-only", "tiny", "bob")
    assert server.flow.dispatcher.levels["tiny"].limit == 1
    release = server.run(_held(server.flow.dispatcher.admit("tiny", "someone else")))
    response = server.get("/api/v1/namespaces/default/configmaps", "bob")
    assert response.code == 429
    assert response.headers.getRawHeaders("Retry-After") == ["1"]
    assert response.headers.getRawHeaders("Content-Type") == ["text/plain; charset=utf-8"]
    assert server.body(response) == b"Too many requests, please try again later.\n"
    assert classified(server, response)[1] == server.uid("prioritylevelconfigurations", "tiny")
    # Other levels are not affected, and the exempt one never is.
    assert server.get("/api/v1/namespaces", "alice").code == 200
    assert server.get("/api/v1/namespaces", "admin", ["system:masters"]).code == 200
    release()
    assert server.get("/api/v1/namespaces/default/configmaps", "bob").code == 200


def test_a_queued_request_runs_when_a_seat_frees_and_times_out_after_a_quarter_of_its_timeout():
    server = Server(concurrency=1)
    server.add_level("tiny", {"type": "Queue", "queuing": {"queues": 4, "handSize": 1, "queueLengthLimit": 1}})
    server.add_schema("bob-only", "tiny", "bob")
    release = server.run(_held(server.flow.dispatcher.admit("tiny", "other")))
    waiting = server.start("/api/v1/namespaces/default/configmaps", "bob")
    assert waiting == []
    # bob's queue (of length 1) is full: his next request is rejected at once.
    assert server.get("/api/v1/namespaces/default/configmaps", "bob").code == 429
    release()
    server.client.flush()
    [response] = waiting
    assert response.code == 200
    json.loads(server.body(response))

    release = server.run(_held(server.flow.dispatcher.admit("tiny", "other")))
    waiting = server.start("/api/v1/namespaces/default/configmaps", "bob")
    server.clock.advance(14.9)
    server.client.flush()
    assert waiting == []
    server.clock.advance(0.1)
    server.client.flush()
    [response] = waiting
    assert response.code == 429 and server.body(response) == b"Too many requests, please try again later.\n"
    assert server.flow.dispatcher.levels["tiny"].executing == 1
    release()
    assert server.flow.dispatcher.levels["tiny"].executing == 0


def test_a_watch_gives_its_seat_back_once_started():
    server = Server(concurrency=1)
    server.add_level("tiny", {"type": "Reject"})
    server.add_schema("bob-only", "tiny", "bob")
    watching = server.start("/api/v1/namespaces/default/configmaps?watch=true", "bob")
    assert watching and watching[0].code == 200
    assert classified(server, watching[0])[1] == server.uid("prioritylevelconfigurations", "tiny")
    assert server.flow.dispatcher.levels["tiny"].executing == 0
    assert server.get("/api/v1/namespaces/default/configmaps", "bob").code == 200


async def _held(deferred):
    release = await deferred
    assert release is not None
    return release


def test_a_client_gone_while_queued_gives_back_its_place_and_holds_no_seat():
    server = Server(concurrency=1)
    server.add_level("tiny", {"type": "Queue", "queuing": {"queues": 1, "handSize": 1, "queueLengthLimit": 5}})
    release = server.run(_held(server.flow.dispatcher.admit("tiny", "other")))
    level = server.flow.dispatcher.levels["tiny"]
    queued = server.flow.dispatcher.admit("tiny", "bob")
    assert level.waiting() == 1
    server.flow.dispatcher.cancel("tiny", queued)
    assert level.waiting() == 0 and queued.called and queued.result is None
    release()
    assert level.executing == 0


def test_queues_take_turns_so_a_flooding_flow_does_not_starve_another():
    from kapiserver.endpoints.apfqueue import Dispatcher, deal_hand
    clock = task.Clock()
    dispatcher = Dispatcher(clock, server_concurrency=1, wait_limit=15)
    dispatcher.configure([{"metadata": {"name": "pl", "uid": "u"}, "spec": {"type": "Limited", "limited": {
        "nominalConcurrencyShares": 1, "limitResponse": {"type": "Queue", "queuing": {
            "queues": 8, "handSize": 1, "queueLengthLimit": 10}}}}}])
    polite = next(f"polite-{i}" for i in range(100) if deal_hand(f"polite-{i}", 8, 1) != deal_hand("flood", 8, 1))
    order, releases = [], []

    def started(release, who):
        order.append(who)
        releases.append(release)
    dispatcher.admit("pl", "flood").addCallback(started, "flood")
    for who in ["flood"] * 3 + ["polite"]:
        dispatcher.admit("pl", "flood" if who == "flood" else polite).addCallback(started, who)
    while releases:
        releases.pop()()
    # The first ran at once; of the queued, polite's queue gets its turn within the first two, not last.
    assert order[0] == "flood" and "polite" in order[1:3] and len(order) == 5
    # The wait limit: a request still queued when it passes is rejected, the others are not touched.
    hold = dispatcher.admit("pl", "x").result
    late = dispatcher.admit("pl", "flood")
    clock.advance(14.999)
    assert not late.called
    clock.advance(0.001)
    assert late.result is None and dispatcher.rejected == {("pl", "", "time-out"): 1}
    hold()


def test_debug_dumps_list_the_priority_levels_and_their_queues():
    server = Server(concurrency=1)
    server.add_level("tiny", {"type": "Queue", "queuing": {"queues": 2, "handSize": 1, "queueLengthLimit": 5}})
    server.add_schema("bob-only", "tiny", "bob")
    release = server.run(_held(server.flow.dispatcher.admit("tiny", "other")))
    waiting = server.start("/api/v1/namespaces/default/configmaps", "bob")
    assert waiting == []
    response = server.get("/debug/api_priority_and_fairness/dump_priority_levels", "admin", ["system:masters"])
    assert response.code == 200
    lines = server.body(response).decode().splitlines()
    assert lines[0] == ("PriorityLevelName, ActiveQueues, IsIdle, IsQuiescing, WaitingRequests, "
                        "ExecutingRequests")
    rows = {line.split(",")[0].strip(): line for line in lines[1:]}
    assert rows["exempt"] == "exempt,            <none>,       <none>, <none>,      <none>,          <none>"
    assert rows["tiny"] == "tiny,              1,            false,  false,       1,               1"
    assert rows["catch-all"].split() == ["catch-all,", "0,", "true,", "false,", "0,", "0"]
    queues = server.body(server.get("/debug/api_priority_and_fairness/dump_queues", "admin",
                                    ["system:masters"])).decode().splitlines()
    assert queues[0].split() == ["PriorityLevelName,", "Index,", "PendingRequests,", "ExecutingRequests,",
                                 "SeatsInUse,", "NextDispatchR,", "InitialSeatsSum,", "MaxSeatsSum,", "TotalWorkSum"]
    tiny = [line.replace(",", "").split() for line in queues if line.startswith("tiny,")]
    assert sorted(row[2] for row in tiny) == ["0", "1"]
    release()
    server.client.flush()
    assert waiting[0].code == 200
    assert server.get("/debug/api_priority_and_fairness/dump_requestz", "admin", ["system:masters"]).code == 404


def test_flowcontrol_metrics_count_dispatched_executing_and_rejected_requests():
    server = Server(concurrency=1)
    server.add_level("tiny", {"type": "Reject"})
    server.add_schema("bob-only", "tiny", "bob")
    assert server.get("/api/v1/namespaces/default/configmaps", "bob").code == 200
    release = server.run(_held(server.flow.dispatcher.admit("tiny", "other", schema="bob-only")))
    assert server.get("/api/v1/namespaces/default/configmaps", "bob").code == 429
    text = server.body(server.get("/metrics", "admin", ["system:masters"])).decode()
    assert ('# HELP apiserver_flowcontrol_rejected_requests_total [BETA] Number of requests rejected by API '
            'Priority and Fairness subsystem\n# TYPE apiserver_flowcontrol_rejected_requests_total counter\n'
            'apiserver_flowcontrol_rejected_requests_total{flow_schema="bob-only",priority_level="tiny",'
            'reason="concurrency-limit"} 1.0\n') in text
    assert 'apiserver_flowcontrol_dispatched_requests_total{flow_schema="bob-only",priority_level="tiny"} 2.0' in text
    assert 'apiserver_flowcontrol_current_executing_requests{flow_schema="bob-only",priority_level="tiny"} 1.0' in text
    assert 'apiserver_flowcontrol_nominal_limit_seats{priority_level="tiny"} 1.0' in text
    assert text.index("apiserver_current_inflight_requests") < text.index("apiserver_flowcontrol_") < \
        text.index("apiserver_request_duration_seconds")
    release()


def test_the_flag_turns_flow_control_off_and_the_max_inflight_limits_back_on():
    from kapiserver.flags import OptionError
    from kapiserver.kubelet.options import parse_node_access
    assert parse_node_access({}).enable_priority_and_fairness is True
    assert parse_node_access({"enable-priority-and-fairness": "false"}).enable_priority_and_fairness is False
    with pytest.raises(OptionError):
        parse_node_access({"enable-priority-and-fairness": "maybe"})
    server = Server()
    site = runtime.wrap_site(type("Site", (), {})(), APIRoot(server.flow_context()), server.clock, None)
    assert (site.resource.max_inflight, site.resource.max_mutating_inflight) == (0, 0)
    site = runtime.wrap_site(type("Site", (), {})(), APIRoot(APIContext(server.registry, server.clock,
                                                                        server.clock)), server.clock, None)
    assert (site.resource.max_inflight, site.resource.max_mutating_inflight) == (400, 200)


def test_a_watch_that_ends_with_an_error_is_started_again_from_a_fresh_list(server):
    schemas = server.registry.lookup(GROUP, VERSION, "flowschemas")
    server.flow._event(schemas, server.flow.schemas, "ERROR", {"kind": "Status", "code": 410})
    server.add_level("tiny", {"type": "Reject"})
    server.add_schema("bob-only", "tiny", "bob")
    server.clock.advance(0)
    response = server.get("/api/v1/namespaces/default/configmaps", "bob")
    assert classified(server, response)[0] == server.uid("flowschemas", "bob-only")
    assert len(server.flow._watches) == 2


def _level(name, shares, lendable=0, borrowing=None, queues=8, hand=1, length=50):
    limited = {"nominalConcurrencyShares": shares, "lendablePercent": lendable,
               "limitResponse": {"type": "Queue", "queuing": {"queues": queues, "handSize": hand,
                                                               "queueLengthLimit": length}}}
    if borrowing is not None:
        limited["borrowingLimitPercent"] = borrowing
    return {"metadata": {"name": name, "uid": name}, "spec": {"type": "Limited", "limited": limited}}


def test_a_busy_level_borrows_the_seats_an_idle_one_lends_within_its_bounds():
    """Every 10 s the seats are shared out again by demand: a busy level grows up to its upper bound with
    what an idle one lends (its lendablePercent), and gives them back when the other needs them."""
    from kapiserver.endpoints.apfqueue import Dispatcher
    clock = task.Clock()
    dispatcher = Dispatcher(clock, server_concurrency=20, wait_limit=60)
    dispatcher.configure([_level("busy", 1, borrowing=50), _level("idle", 1, lendable=50)])
    busy, idle = dispatcher.levels["busy"], dispatcher.levels["idle"]
    assert (busy.nominal, busy.lower, busy.upper) == (10, 10, 15)
    assert (idle.nominal, idle.lower, idle.upper) == (10, 5, 30)
    # Shared at once by (no) demand: the idle level keeps its lower bound and the rest goes by the fair
    # fraction of nominal targets (10 and 5), as upstream's allocation does at configuration.
    assert (busy.limit, idle.limit) == (13, 7)
    held = [dispatcher.admit("busy", f"flow-{i}") for i in range(30)]
    assert sum(1 for d in held if d.called) == 13
    clock.advance(10)
    assert (busy.limit, idle.limit) == (15, 5)
    assert sum(1 for d in held if d.called) == 15
    # The idle level gets busy: its lower bound is kept at once, the rest comes back at the next period.
    mine = [dispatcher.admit("idle", f"flow-{i}") for i in range(10)]
    assert sum(1 for d in mine if d.called) == 5
    clock.advance(10)
    assert idle.limit == 10 and busy.limit == 10
    for d in held + mine:
        if d.called and d.result:
            d.result()


def test_a_wide_request_takes_its_seats_and_waits_for_them():
    """A LIST's estimated seats (at most the level's maximum) are held while it runs; a queued one waits
    until that many are free."""
    from kapiserver.endpoints.apfqueue import Dispatcher
    clock = task.Clock()
    dispatcher = Dispatcher(clock, server_concurrency=40, wait_limit=60)
    dispatcher.configure([_level("pl", 1, borrowing=0)])
    level = dispatcher.levels["pl"]
    assert (level.limit, level.max_seats) == (40, 6)       # 15 % of 40, rounded up
    first = dispatcher.admit("pl", "a", seats=100)
    assert first.called and level.seats == 6
    others = [dispatcher.admit("pl", f"b{i}", seats=1) for i in range(34)]
    assert all(d.called for d in others) and level.seats == 40
    wide = dispatcher.admit("pl", "c", seats=6)
    assert not wide.called
    for d in others[:5]:
        d.result()
    assert not wide.called
    others[5].result()
    assert wide.called and level.seats == 40


def test_retry_after_grows_while_a_level_keeps_dropping_requests():
    from kapiserver.endpoints.apfqueue import DroppedRequests
    dropped = DroppedRequests()
    for second in range(3):
        for _ in range(5):
            dropped.record(100 + second)
    assert dropped.retry_after == 2
    for second in range(3, 12):
        for _ in range(10):
            dropped.record(100 + second)
    assert dropped.retry_after > 2
    high = dropped.retry_after
    dropped.record(200)
    dropped.record(260)
    assert dropped.retry_after < high


def test_a_list_takes_a_seat_per_hundred_objects_it_goes_through():
    """Upstream's list work estimator: from the watch cache every stored object counts; paged from storage
    twice the page; with a selector the whole collection plus the page; a named list or a plain watch one."""
    from types import SimpleNamespace
    from kapiserver.endpoints.apf import FlowControl
    from kapiserver.endpoints.requestinfo import RequestInfo

    class Registry:
        def lookup(self, group, version, resource):
            count = {"configmaps": 250}.get(resource)
            return SimpleNamespace(reads=SimpleNamespace(object_count=lambda: count))
    flow = FlowControl(Registry(), task.Clock())

    def seats(verb, resource="configmaps", name="", **query):
        request = SimpleNamespace(args={k.encode(): [v.encode()] for k, v in query.items()})
        return flow.seats(request, RequestInfo(is_resource_request=True, path="/", verb=verb, api_version="v1",
                                               resource=resource, name=name))
    assert seats("list") == 3                                   # 250 from the cache
    assert seats("list", limit="50") == 1                       # 2 x 50 from storage
    assert seats("list", limit="100") == 2
    assert seats("list", limit="100", resourceVersion="0") == 3  # served from the cache
    assert seats("list", limit="100", labelSelector="a=b") == 4  # 250 + 100
    assert seats("list", resource="secrets") == 1               # count unknown
    assert seats("get", name="x") == 1 and seats("list", name="x") == 1
    assert seats("watch") == 1 and seats("watch", sendInitialEvents="true") == 3


def test_a_free_seat_is_taken_at_once_and_a_full_level_leaves_it_to_admit():
    """start_now gives a release while the level has a seat and nobody waits; with the level full it gives
    None (admit then queues), and once the queue holds a request a freed seat goes to it, not to start_now."""
    from kapiserver.endpoints.apfqueue import Dispatcher
    dispatcher = Dispatcher(task.Clock(), server_concurrency=1, wait_limit=15)
    dispatcher.configure([{"metadata": {"name": "pl", "uid": "u"}, "spec": {"type": "Limited", "limited": {
        "nominalConcurrencyShares": 1, "limitResponse": {"type": "Queue", "queuing": {
            "queues": 1, "handSize": 1, "queueLengthLimit": 10}}}}}])
    first = dispatcher.start_now("pl", "s")
    assert first is not None and dispatcher.executing == {("pl", "s"): 1}
    assert dispatcher.start_now("pl", "s") is None
    queued = dispatcher.admit("pl", "someone", schema="s")
    assert not queued.called
    first()
    assert queued.called and dispatcher.start_now("pl", "s") is None     # the queued one has the seat
    queued.result()
    assert dispatcher.start_now("pl", "s") is not None

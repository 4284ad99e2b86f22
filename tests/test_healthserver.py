"""The daemons' health endpoints (kapiserver.healthserver), as k8s.io/apiserver's healthz handler answers: the
root paths' bodies and codes, ?verbose, ?exclude, the per-check paths; the checks kube-scheduler and
kube-controller-manager register (leaderElection timed by task.Clock, shutdown, sched-handler-sync, one per
controller).  The daemons' processes are tests/scheduler/test_secure_port.py's."""

from __future__ import annotations

import copy

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.web.test.requesthelper import DummyRequest

from kapiserver import healthserver
from kapiserver.client.leaderelection import LeaderElector
from kapiserver.controllermanager import manager as cm
from kapiserver.machinery.errors import StatusError
from kapiserver.scheduler.service import SchedulerService


def render(resource, uri: bytes, method: bytes = b"GET"):
    """(code, body, headers) of ``resource``'s answer to ``uri`` (path and query)."""
    path = uri.partition(b"?")[0]
    request = DummyRequest(path.lstrip(b"/").split(b"/"))
    request.uri, request.path, request.method = uri, path, method
    body = resource.render(request)
    headers = {name.decode().lower(): values[0].decode()
               for name, values in request.responseHeaders.getAllRawHeaders()}
    return request.responseCode or 200, body.decode(), headers


def failing(name: str, reason: str = "broken"):
    def check():
        raise RuntimeError(reason)
    return healthserver.HealthCheck(name, check)


ALL = ["/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*"]


def test_default_endpoints_are_ping():
    """With no checks given each root path runs ping: "ok", or with ?verbose its line and "<path> check
    passed"; text/plain, nosniff, and upstream's Cache-Control."""
    resource = healthserver.HealthResource()
    for kind in ("healthz", "livez", "readyz"):
        code, body, headers = render(resource, f"/{kind}".encode())
        assert (code, body) == (200, "ok")
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-cache, private"
        assert render(resource, f"/{kind}?verbose".encode())[:2] == (200, f"[+]ping ok\n{kind} check passed\n")
    # Any value of verbose is verbose, as the key's presence decides upstream.
    assert render(resource, b"/healthz?verbose=false")[1] == "[+]ping ok\nhealthz check passed\n"


def test_a_failing_check_fails_the_path_verbosely_and_withholds_its_reason():
    """A failure is a 500 listing every check whatever the query, the reason withheld in the body and logged."""
    endpoint = healthserver.HealthEndpoint("/readyz", [healthserver.PING, failing("shutdown", "going away"),
                                                       healthserver.named_ping("later")])
    resource = healthserver.HealthResource(ALL, [endpoint])
    events: list = []
    globalLogPublisher.addObserver(events.append)
    try:
        for uri in (b"/readyz", b"/readyz?verbose"):
            code, body, headers = render(resource, uri)
            assert code == 500
            assert body == "[+]ping ok\n[-]shutdown failed: reason withheld\n[+]later ok\nreadyz check failed\n"
            assert headers["content-type"] == "text/plain; charset=utf-8"
            assert headers["x-content-type-options"] == "nosniff"
    finally:
        globalLogPublisher.removeObserver(events.append)
    logged = [formatEvent(e) for e in events if "check failed" in e.get("log_format", "")]
    assert logged and "[-]shutdown failed: going away" in logged[0]


def test_exclude_skips_checks_and_warns_of_unknown_names():
    """?exclude= (repeatable) passes over a check, "excluded: ok"; names matching none are listed (sorted,
    quoted) in a warn line; excluding the failing check makes the path pass."""
    endpoint = healthserver.HealthEndpoint("/healthz", [healthserver.PING, failing("leaderElection")])
    resource = healthserver.HealthResource(ALL, [endpoint])
    assert render(resource, b"/healthz?exclude=leaderElection")[:2] == (200, "ok")
    code, body, _ = render(resource, b"/healthz?exclude=leaderElection&verbose&exclude=zz&exclude=aa")
    assert (code, body) == (200, '[+]ping ok\n[+]leaderElection excluded: ok\n'
                                 'warn: some health checks cannot be excluded: no matches for "aa","zz"\n'
                                 'healthz check passed\n')
    code, body, _ = render(resource, b"/healthz?exclude=ping&exclude=nothing")
    assert (code, body) == (500, '[+]ping excluded: ok\n[-]leaderElection failed: reason withheld\n'
                                 'warn: some health checks cannot be excluded: no matches for "nothing"\n'
                                 'healthz check failed\n')


def test_each_check_has_its_own_path():
    """/<path>/<name>: "ok", or a 500 giving the reason; a name not registered (or the bare "/healthz/") is a
    404; an endpoint without check paths (the controller manager's) serves its root alone."""
    endpoint = healthserver.HealthEndpoint("/healthz", [healthserver.PING, failing("leaderElection", "lapsed")])
    resource = healthserver.HealthResource(ALL, [endpoint, healthserver.HealthEndpoint("/livez")])
    code, body, headers = render(resource, b"/healthz/ping")
    assert (code, body, headers["content-type"]) == (200, "ok", "text/plain; charset=utf-8")
    assert "x-content-type-options" not in headers
    code, body, headers = render(resource, b"/healthz/leaderElection?exclude=leaderElection")
    assert (code, body) == (500, "internal server error: lapsed\n")
    assert headers["x-content-type-options"] == "nosniff"
    assert render(resource, b"/livez/ping")[:2] == (200, "ok")
    for uri in (b"/healthz/nothing", b"/healthz/", b"/livez/leaderElection", b"/readyz"):
        assert render(resource, uri)[:2] == (404, "404 page not found\n")
    only_root = healthserver.HealthResource(ALL, [healthserver.HealthEndpoint("/healthz", check_paths=False)])
    assert render(only_root, b"/healthz")[:2] == (200, "ok")
    assert render(only_root, b"/healthz/ping")[:2] == (404, "404 page not found\n")


def test_paths_not_always_allowed_are_forbidden():
    """The default --authorization-always-allow-paths name the root paths exactly: a check's own path is then
    forbidden to the anonymous user, as upstream's with no authorizer."""
    resource = healthserver.HealthResource()
    code, body, headers = render(resource, b"/healthz/ping")
    assert code == 403 and '"message":"forbidden: User \\"system:anonymous\\" cannot get path \\"/healthz/ping\\""' \
        in body
    assert headers["cache-control"] == "no-cache, private"


def test_endpoint_add_keeps_one_check_per_name():
    """Checks added later join the endpoint (ping no longer runs once there are any); a name already there is
    kept once."""
    endpoint = healthserver.HealthEndpoint("/healthz")
    assert endpoint.names() == ["ping"]
    endpoint.add(healthserver.named_ping("a-controller"), healthserver.named_ping("b-controller"))
    endpoint.add(healthserver.named_ping("a-controller"))
    assert endpoint.names() == ["a-controller", "b-controller"]


def test_shutdown_check_fails_once_stopping():
    shutdown = healthserver.ShutdownCheck()
    shutdown.startService()
    shutdown.check()
    shutdown.stopService()
    with pytest.raises(RuntimeError, match="^process is shutting down$"):
        shutdown.check()


class MemoryLeases:
    """Leases in a dict, answering at once; every call fails while ``broken`` (the apiserver out of reach)."""

    def __init__(self):
        self.leases: dict = {}
        self.version = 0
        self.broken = False

    def _reachable(self):
        if self.broken:
            raise ConnectionError("apiserver unreachable")

    def _stored(self, lease: dict) -> dict:
        self.version += 1
        lease["metadata"]["resourceVersion"] = str(self.version)
        self.leases[(lease["metadata"]["namespace"], lease["metadata"]["name"])] = copy.deepcopy(lease)
        return lease

    async def get(self, namespace, name):
        self._reachable()
        if (namespace, name) not in self.leases:
            raise StatusError(404, "NotFound", "not found")
        return copy.deepcopy(self.leases[(namespace, name)])

    async def create(self, namespace, lease):
        self._reachable()
        if (namespace, lease["metadata"]["name"]) in self.leases:
            raise StatusError(409, "AlreadyExists", "exists")
        return self._stored(copy.deepcopy(lease))

    async def update(self, namespace, name, update, allow_create=False):
        self._reachable()
        current = self.leases[(namespace, name)]
        new = update(copy.deepcopy(current))
        if new["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise StatusError(409, "Conflict", "modified")
        return self._stored(new), False


def elector(leases, clock, identity="me"):
    return LeaderElector(leases, clock, identity, "kube-scheduler", jitter=0.0)


def test_leader_election_check_fails_a_leader_that_stopped_renewing():
    """Passes before the election and while renewing; once renewals fail it still passes for the lease duration
    (15 s) plus the 20 s tolerance after the last renewal seen (the elector itself stops leading at its 10 s
    renew deadline), then fails with client-go's words; a successful renewal makes it pass again."""
    clock, leases = Clock(), MemoryLeases()
    check = healthserver.LeaderElectionCheck()
    assert check.name == "leaderElection" and check.tolerance == 20.0
    check.check()
    candidate = elector(leases, clock)
    check.set_leader_election(candidate)
    Deferred.fromCoroutine(candidate.start())
    assert candidate.leading
    for _ in range(30):
        clock.advance(1)
        check.check()
    leases.broken = True
    clock.advance(12)
    assert not candidate.leading         # stopped at its renew deadline; still the lease's holder as last seen
    renewed = 30.0                       # the last successful round (every 2 s, the retry period)
    clock.advance(renewed + 35 - clock.seconds())
    check.check()
    clock.advance(0.5)
    with pytest.raises(RuntimeError, match="^failed election to renew leadership on lease kube-scheduler$"):
        check.check()
    leases.broken = False
    clock.advance(2)
    assert candidate.leading
    check.check()


def test_leader_election_check_passes_a_standby():
    """A candidate that sees another holder passes however long the lease stays with it."""
    clock, leases = Clock(), MemoryLeases()
    leader, standby = elector(leases, clock, "leader"), elector(leases, clock, "standby")
    Deferred.fromCoroutine(leader.start())
    Deferred.fromCoroutine(standby.start())
    assert leader.leading and not standby.leading
    check = healthserver.LeaderElectionCheck()
    check.set_leader_election(standby)
    for _ in range(100):
        clock.advance(1)
        check.check()


def test_scheduler_health_endpoints():
    """kube-scheduler's: /healthz leaderElection, /livez ping, /readyz leaderElection, shutdown,
    sched-handler-sync; without leader election /healthz is ping and /readyz has no leaderElection.
    sched-handler-sync fails until the informers have synced."""
    shutdown = healthserver.ShutdownCheck()
    scheduler = SchedulerService(Clock(), None, {"leader-elect": True})
    endpoints = {e.path: e.names() for e in scheduler.health_endpoints(shutdown)}
    assert endpoints == {"/healthz": ["leaderElection"], "/livez": ["ping"],
                         "/readyz": ["leaderElection", "shutdown", "sched-handler-sync"]}
    scheduler = SchedulerService(Clock(), None, {"leader-elect": False})
    resource = healthserver.HealthResource(ALL, scheduler.health_endpoints(shutdown))
    assert render(resource, b"/healthz?verbose")[:2] == (200, "[+]ping ok\nhealthz check passed\n")
    assert render(resource, b"/readyz?verbose")[:2] == (
        500, "[+]shutdown ok\n[-]sched-handler-sync failed: reason withheld\nreadyz check failed\n")
    assert render(resource, b"/readyz/sched-handler-sync")[:2] == (
        500, "internal server error: waiting for handlers to sync\n")
    scheduler.handlers_synced = True
    assert render(resource, b"/readyz?verbose")[:2] == (
        200, "[+]shutdown ok\n[+]sched-handler-sync ok\nreadyz check passed\n")


class _Controller:
    def __init__(self, skipped=False):
        if skipped:
            self.skipped = True

    async def run(self):
        return None

    def stop(self):
        return None


class _Informers:
    def __init__(self, *args, **kwargs):
        pass

    def start(self):
        pass

    def stop(self):
        pass


def test_controller_manager_registers_a_check_per_started_controller(monkeypatch):
    """/healthz: leaderElection, then once the controllers are started one ping check named after each, those
    skipped for want of configuration left out; leading again adds none twice.  No other path."""
    monkeypatch.setattr(cm, "SharedInformerFactory", _Informers)
    signing = "certificatesigningrequest-signing-controller"
    monkeypatch.setattr(cm.registry, "starter", lambda name: lambda ctx: _Controller(skipped=name == signing))
    names = ["ttl-controller", signing, "job-controller"]
    service = cm.ControllerManagerService(Clock(), None, names, {"leader-elect": True})
    (healthz,) = service.health_endpoints(healthserver.ShutdownCheck())
    assert (healthz.path, healthz.check_paths, healthz.names()) == ("/healthz", False, ["leaderElection"])
    for _ in range(2):
        Deferred.fromCoroutine(service.lead())
        service.follow()
    assert healthz.names() == ["leaderElection", "ttl-controller", "job-controller"]
    without = cm.ControllerManagerService(Clock(), None, ["ttl-controller"], {"leader-elect": False})
    assert without.healthz.names() == ["ping"]
    Deferred.fromCoroutine(without.lead())
    assert without.healthz.names() == ["ttl-controller"]

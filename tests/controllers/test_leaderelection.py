"""Lease-based leader election (client-go's rules) on a real registry, timed by task.Clock."""

from __future__ import annotations

import random
import re

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from kapiserver.client.leaderelection import LeaderElector
from kapiserver.machinery import meta
from kapiserver.registry.options import ListOptions

from .conftest import START, run, run_until

NAME = "controllers"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class FlakyLeases:
    """The leases Store, failing every call while ``broken`` (storage out of reach)."""

    def __init__(self, store):
        self.store = store
        self.broken = False
        self.hanging = False

    def __getattr__(self, name):
        method = getattr(self.store, name)

        async def call(*args, **kwargs):
            if self.broken:
                raise ConnectionError("storage unreachable")
            if self.hanging:
                return await Deferred()     # never answers
            return await method(*args, **kwargs)
        return call


class Candidate:
    """An elector plus a log of its start/stop callbacks."""

    def __init__(self, leases, clock, identity, **kwargs):
        self.events: list[str] = []
        kwargs.setdefault("jitter", 0.0)
        self.elector = LeaderElector(leases, clock, identity, NAME,
                                     on_started_leading=lambda: self.events.append("started"),
                                     on_stopped_leading=lambda: self.events.append("stopped"), **kwargs)

    @property
    def leading(self):
        return self.elector.leading


@pytest.fixture
def leases(registry):
    run(registry.store("", "v1", "namespaces").create(None, {"metadata": {"name": "kube-system"}}))
    return FlakyLeases(registry.store("coordination.k8s.io", "v1", "leases"))


def lease(leases):
    return run(leases.store.get("kube-system", NAME))


def idle(*candidates) -> bool:
    return all(c.elector._inflight is None for c in candidates)


def advance(clock, seconds, *candidates, check=None):
    """Move the clock one second at a time, letting each round's storage calls finish."""
    for _ in range(int(seconds)):
        clock.advance(1)
        run_until(lambda: idle(*candidates))
        if check is not None:
            check()


def test_free_lease_is_acquired_at_once(leases, clock):
    """The first candidate creates the lease in its first round: holder, 15 s, MicroTimes, no transitions."""
    a = Candidate(leases, clock, "a")
    run(a.elector.start())
    assert a.leading and a.events == ["started"]
    spec = lease(leases)["spec"]
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert MICRO_TIME.match(spec["acquireTime"]) and spec["acquireTime"] == spec["renewTime"]
    assert meta.parse_time(spec["renewTime"]) == START


def test_leader_renews_every_retry_period(leases, clock):
    """The leader rewrites renewTime every 2 s, keeping acquireTime and leaseTransitions."""
    a = Candidate(leases, clock, "a")
    run(a.elector.start())
    first = lease(leases)["spec"]
    advance(clock, 2, a)
    spec = lease(leases)["spec"]
    assert meta.parse_time(spec["renewTime"]) == START + 2
    assert spec["acquireTime"] == first["acquireTime"] and spec["leaseTransitions"] == 0
    advance(clock, 20, a)
    assert meta.parse_time(lease(leases)["spec"]["renewTime"]) == START + 22
    assert a.leading and a.events == ["started"]


def test_candidate_waits_while_the_leader_renews(leases, clock):
    """A second candidate never takes a lease whose holder keeps renewing it."""
    a, b = Candidate(leases, clock, "a"), Candidate(leases, clock, "b")
    run(a.elector.start())
    run(b.elector.start())
    assert not b.leading and b.elector.observed_holder == "a"
    advance(clock, 60, a, b)
    assert a.leading and not b.leading and b.events == []
    assert lease(leases)["spec"]["holderIdentity"] == "a"


def test_takeover_after_expiry(leases, clock):
    """Once the holder stops renewing, another candidate takes over 15 s after it last saw a change."""
    crashed = LeaderElector(leases, clock, "a", NAME, jitter=0.0)
    assert run(crashed.try_acquire_or_renew())       # one round, then silence: a crashed leader
    acquired = lease(leases)["spec"]["acquireTime"]
    b = Candidate(leases, clock, "b")
    run(b.elector.start())
    assert not b.leading
    advance(clock, 14, b)
    assert not b.leading
    advance(clock, 2, b)
    assert b.leading and b.events == ["started"]
    spec = lease(leases)["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert spec["acquireTime"] != acquired and spec["acquireTime"] == spec["renewTime"]


def test_two_candidates_never_both_lead(leases, clock):
    """Two candidates started together, with jitter, through a leader's storage outage: at most one leads."""
    rng = random.Random(7)
    a = Candidate(leases, clock, "a", jitter=1.2, random=rng.random)
    b = Candidate(leases, clock, "b", jitter=1.2, random=rng.random)
    both = [Deferred.fromCoroutine(a.elector.start()), Deferred.fromCoroutine(b.elector.start())]
    for d in both:
        run(d)
    assert [a.leading, b.leading].count(True) == 1, "exactly one wins the race to create the lease"
    leader, follower = (a, b) if a.leading else (b, a)

    def at_most_one():
        assert not (a.leading and b.leading)
    advance(clock, 30, a, b, check=at_most_one)
    assert leader.leading and not follower.leading
    # The leader loses its storage; the follower must not lead before the leader has stopped.
    flaky = FlakyLeases(leases.store)
    leader.elector.leases = flaky
    flaky.broken = True
    advance(clock, 30, a, b, check=at_most_one)
    assert follower.leading and not leader.leading
    assert leader.events == ["started", "stopped"]
    flaky.broken = False
    advance(clock, 30, a, b, check=at_most_one)
    assert follower.leading and not leader.leading


def test_leader_stops_when_it_sees_another_holder(leases, clock):
    """A leader that finds someone else in the lease stops leading at once, not at its renew deadline."""
    a = Candidate(leases, clock, "a")
    run(a.elector.start())

    def usurp(old):
        old["spec"]["holderIdentity"] = "intruder"
        old["spec"]["renewTime"] = meta.rfc3339_micro(clock.seconds())
        return old
    run(leases.store.update("kube-system", NAME, usurp))
    advance(clock, 2, a)
    assert not a.leading and a.events == ["started", "stopped"]
    advance(clock, 10, a)
    assert not a.leading and lease(leases)["spec"]["holderIdentity"] == "intruder"


def test_leader_stops_at_its_renew_deadline(leases, clock):
    """A leader that cannot renew keeps leading until 10 s after its last renewal, then stops."""
    a = Candidate(leases, clock, "a")
    run(a.elector.start())
    leases.broken = True
    advance(clock, 8, a)
    assert a.leading
    advance(clock, 2, a)
    assert not a.leading and a.events == ["started", "stopped"]
    leases.broken = False
    advance(clock, 2, a)
    assert a.leading and a.events == ["started", "stopped", "started"], "its own lease is taken back"


def test_stop_leaves_the_lease_to_expire(leases, clock):
    """Stopping a leader stops its controllers; by default (as kube-controller-manager) the lease keeps its
    holder, and another candidate waits for it to expire."""
    a, b = Candidate(leases, clock, "a"), Candidate(leases, clock, "b")
    run(a.elector.start())
    run(b.elector.start())
    run(a.elector.stop())
    assert a.events == ["started", "stopped"] and not a.leading
    assert lease(leases)["spec"]["holderIdentity"] == "a"
    advance(clock, 14, b)
    assert not b.leading
    advance(clock, 3, b)
    assert b.leading


def test_stop_releases_the_lease_with_release_on_cancel(leases, clock):
    """With release_on_cancel, stopping a leader clears the holder, so another candidate leads at once."""
    a, b = Candidate(leases, clock, "a", release_on_cancel=True), Candidate(leases, clock, "b")
    run(a.elector.start())
    run(b.elector.start())
    run(a.elector.stop())
    assert a.events == ["started", "stopped"] and not a.leading
    spec = lease(leases)["spec"]
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1 and spec["leaseTransitions"] == 0
    advance(clock, 3, b)
    assert b.leading
    spec = lease(leases)["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1 and spec["leaseDurationSeconds"] == 15


def test_leader_stops_at_its_renew_deadline_while_storage_hangs(leases, clock):
    """Rounds that storage never answers still end leading 10 s after the last renewal, and campaigning goes on."""
    a = Candidate(leases, clock, "a")
    run(a.elector.start())
    leases.hanging = True
    clock.advance(2)
    clock.advance(7)
    assert a.leading
    clock.advance(1)
    assert not a.leading and a.events == ["started", "stopped"]
    leases.hanging = False
    clock.advance(2)       # the hung round times out at 12 s; the next one runs
    run_until(lambda: idle(a))
    advance(clock, 3, a)
    assert a.leading and a.events == ["started", "stopped", "started"]


def test_stop_does_not_wait_long_for_a_hung_round(leases, clock):
    """A round stuck on unresponsive storage holds a stop up for 2 s of the clock at most."""
    a = Candidate(leases, clock, "a")
    run(a.elector.start())
    leases.hanging = True
    clock.advance(2)
    assert a.elector._inflight is not None
    stopped = a.elector.stop()
    assert not stopped.called
    clock.advance(2)
    assert stopped.called and not a.leading and a.events == ["started", "stopped"]


def test_stopped_candidate_does_not_campaign(leases, clock):
    """A candidate stopped before it won never takes the lease afterwards."""
    crashed = LeaderElector(leases, clock, "a", NAME)
    run(crashed.try_acquire_or_renew())
    b = Candidate(leases, clock, "b")
    run(b.elector.start())
    run(b.elector.stop())
    advance(clock, 40, b)
    assert not b.leading and b.events == [] and lease(leases)["spec"]["holderIdentity"] == "a"


def test_restarted_apiserver_takes_over_its_predecessors_lease(leases, clock):
    """A new process of the same apiserver takes the lease its old process held at once; a stranger waits."""
    old = LeaderElector(leases, clock, "apiserver-x_old", NAME)
    run(old.try_acquire_or_renew())
    stranger = Candidate(leases, clock, "apiserver-y_1", predecessor_prefix="apiserver-y_")
    run(stranger.elector.start())
    assert not stranger.leading
    restarted = Candidate(leases, clock, "apiserver-x_new", predecessor_prefix="apiserver-x_")
    run(restarted.elector.start())
    assert restarted.leading
    spec = lease(leases)["spec"]
    assert spec["holderIdentity"] == "apiserver-x_new" and spec["leaseTransitions"] == 1


def test_controllers_started_before_start_returns(leases, clock):
    """start() returns once a free lease is won and the leader's (asynchronous) start hook has finished."""
    started = []

    async def start_controllers():
        await leases.store.list("kube-system", ListOptions())
        started.append(True)
    elector = LeaderElector(leases, clock, "a", NAME, on_started_leading=start_controllers)
    run(elector.start())
    assert started == [True]


def test_timings_are_checked():
    """leaseDuration must exceed renewDeadline, which must exceed retryPeriod times the jitter factor."""
    with pytest.raises(ValueError):
        LeaderElector(None, Clock(), "a", NAME, lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError):
        LeaderElector(None, Clock(), "a", NAME, renew_deadline=2, retry_period=2)

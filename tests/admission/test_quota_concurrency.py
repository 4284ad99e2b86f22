"""ResourceQuota admission under concurrent creates: each create is charged to the quotas' status.used, written
with the resourceVersion it was read at, so creates racing in one namespace never take more than the quota
has left; usage comes back after deletes for the apiserver alone (no resourcequota controller)."""

from __future__ import annotations

import pytest
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred, DeferredList

from kapiserver.admission import quota as quota_module
from kapiserver.admission.chain import AdmissionChain
from kapiserver.admission.quota import ResourceQuotaAdmission
from kapiserver.machinery.errors import StatusError
from kapiserver.registry.options import ListOptions
from tests.controllers.conftest import run, run_until

from .conftest import FakeRegistry, call, drive, store


def quota(name, hard) -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": "team"},
            "spec": {"hard": hard}}


def pod(name) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}


@pytest.fixture
def quota_registry(registry):  # noqa: F811 (tests.controllers.conftest's fixture, through .conftest)
    """The SQLite registry with a chain of the ResourceQuota plugin alone; the plugin is ``.quota_plugin``."""
    registry.quota_plugin = ResourceQuotaAdmission(registry, reactor)
    registry.admission = AdmissionChain([registry.quota_plugin])
    return registry


def create_all(store_, objects) -> tuple[list, list]:
    """Create every object at once; (the created, the StatusErrors of the refused)."""
    outcomes = run(DeferredList([Deferred.fromCoroutine(store_.create("team", o)) for o in objects],
                                consumeErrors=True), timeout=30)
    created = [result for ok, result in outcomes if ok]
    refused = [result.value for ok, result in outcomes if not ok]
    assert all(isinstance(e, StatusError) for e in refused), refused
    return created, refused


def names(registry, resource="pods") -> list[str]:
    items = run(registry.store("", "v1", resource).list("team", ListOptions()))[0]
    return sorted(o["metadata"]["name"] for o in items)


def used(registry, name) -> dict:
    return (run(registry.store("", "v1", "resourcequotas").get("team", name)).get("status") or {}).get("used")


def test_ten_concurrent_pod_creates_against_three_pods(quota_registry):
    """Ten pods created at once against ``pods: 3``: exactly three are admitted, the other seven are refused
    with upstream's message, and status.used says 3."""
    run(quota_registry.store("", "v1", "resourcequotas").create("team", quota("pods", {"pods": "3"})))
    created, refused = create_all(quota_registry.store("", "v1", "pods"), [pod(f"p{i}") for i in range(10)])
    assert len(created) == 3 and len(names(quota_registry)) == 3
    assert len(refused) == 7
    for error in refused:
        assert (error.code, error.reason) == (403, "Forbidden")
        assert error.message.endswith(" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, "
                                      "limited: pods=3"), error.message
    assert used(quota_registry, "pods") == {"pods": "3"}


def test_one_existing_and_two_at_once_against_two(quota_registry):
    """The RC case: one pod exists under ``pods: 2`` and two more are created at once; one is admitted."""
    run(quota_registry.store("", "v1", "resourcequotas").create("team", quota("pods", {"pods": "2"})))
    pods = quota_registry.store("", "v1", "pods")
    run(pods.create("team", pod("first")))
    created, refused = create_all(pods, [pod("second"), pod("third")])
    assert (len(created), len(refused)) == (1, 1)
    assert refused[0].message.endswith("exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2")
    assert len(names(quota_registry)) == 2


def test_two_quotas_in_a_namespace_both_hold(quota_registry):
    """With two quotas (``pods: 5`` and ``count/pods: 3``), ten creates at once admit three; the tighter quota
    refuses the rest and both quotas' status.used say 3."""
    quotas = quota_registry.store("", "v1", "resourcequotas")
    run(quotas.create("team", quota("loose", {"pods": "5"})))
    run(quotas.create("team", quota("tight", {"count/pods": "3"})))
    created, refused = create_all(quota_registry.store("", "v1", "pods"), [pod(f"p{i}") for i in range(10)])
    assert len(created) == 3 and len(names(quota_registry)) == 3
    for error in refused:
        assert error.message.endswith("exceeded quota: tight, requested: count/pods=1, used: count/pods=3, "
                                      "limited: count/pods=3"), error.message
    run_until(lambda: used(quota_registry, "loose") == {"pods": "3"} and
              used(quota_registry, "tight") == {"count/pods": "3"})


def test_two_quotas_where_the_first_runs_out(quota_registry):
    """``a: pods 2`` runs out before ``b: pods 4``: two admitted, the rest refused naming ``a``; ``b`` is charged
    only for what was admitted (a charge that a later quota refused is given back)."""
    quotas = quota_registry.store("", "v1", "resourcequotas")
    run(quotas.create("team", quota("a", {"pods": "2"})))
    run(quotas.create("team", quota("b", {"pods": "4"})))
    created, refused = create_all(quota_registry.store("", "v1", "pods"), [pod(f"p{i}") for i in range(6)])
    assert (len(created), len(refused)) == (2, 4)
    assert all("exceeded quota: a, requested: pods=1, used: pods=2, limited: pods=2" in e.message for e in refused)
    assert used(quota_registry, "a") == {"pods": "2"}
    run_until(lambda: used(quota_registry, "b") == {"pods": "2"})


def test_usage_comes_back_after_deletes(quota_registry):
    """The apiserver alone (no resourcequota controller): pods deleted give their usage back, so new creates
    are admitted again up to the limit."""
    run(quota_registry.store("", "v1", "resourcequotas").create("team", quota("pods", {"pods": "3"})))
    pods = quota_registry.store("", "v1", "pods")
    created, _ = create_all(pods, [pod(f"p{i}") for i in range(5)])
    assert len(created) == 3
    for obj in created[:2]:
        run(pods.delete("team", obj["metadata"]["name"]))
    run_until(lambda: used(quota_registry, "pods") == {"pods": "1"})
    created, refused = create_all(pods, [pod(f"q{i}") for i in range(5)])
    assert (len(created), len(refused)) == (2, 3)
    assert len(names(quota_registry)) == 3


def test_a_create_that_fails_after_admission_is_given_back(quota_registry):
    """A create charged by admission that storage then refuses (its name is taken) is counted until its charge
    expires, and given back then."""
    plugin = quota_registry.quota_plugin
    plugin.reactor = clock = task.Clock()
    run(quota_registry.store("", "v1", "resourcequotas").create("team", quota("pods", {"pods": "2"})))
    pods = quota_registry.store("", "v1", "pods")
    run(pods.create("team", pod("taken")))
    with pytest.raises(StatusError) as info:
        run(pods.create("team", pod("taken")))
    assert info.value.reason == "AlreadyExists"
    assert used(quota_registry, "pods") == {"pods": "2"}
    clock.advance(plugin.PENDING_SECONDS + 1)
    run_until(lambda: used(quota_registry, "pods") == {"pods": "1"})


def test_dry_run_and_uncovered_creates_write_no_status(quota_registry):
    """A dry-run create is checked but not charged, and a create no quota covers writes no quota status."""
    from kapiserver.registry.options import WriteOptions
    quotas = quota_registry.store("", "v1", "resourcequotas")
    run(quotas.create("team", quota("pods", {"pods": "1"})))
    run(quota_registry.quota_plugin.recompute("team"))
    before = run(quotas.get("team", "pods"))["metadata"]["resourceVersion"]
    run(quota_registry.store("", "v1", "pods").create("team", pod("dry"), WriteOptions(dry_run=True)))
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team"}}
    run(quota_registry.store("", "v1", "configmaps").create("team", configmap))
    assert run(quotas.get("team", "pods"))["metadata"]["resourceVersion"] == before


class RacedRegistry(FakeRegistry):
    """Quotas whose first status write loses to a charge from elsewhere (another apiserver), which lands first
    and leaves status.used at 2 under a newer resourceVersion."""

    raced = False

    def store(self, group, version, resource):
        objects = super().store(group, version, resource)
        if resource != "resourcequotas":
            return objects
        registry, write = self, objects.update

        async def update(namespace, name, fn, **kw):
            if not registry.raced:
                registry.raced = True
                stored = objects.items[name]
                objects.items[name] = dict(stored, status={"hard": {"pods": "3"}, "used": {"pods": "2"}},
                                           metadata=dict(stored["metadata"], resourceVersion="2"))
            return await write(namespace, name, fn, **kw)
        objects.update = update
        return objects


def test_a_charge_conflicting_with_another_writer_reads_again():
    """A status write that meets a newer resourceVersion is tried again on the quota read afresh, and charges
    on top of what the other writer charged; the next create then finds the quota full."""
    team_quota = quota("pods", {"pods": "3"})
    team_quota["metadata"]["resourceVersion"] = "1"
    team_quota["status"] = {"hard": {"pods": "3"}, "used": {"pods": "1"}}
    fake = RacedRegistry(quotas=[team_quota])
    plugin = ResourceQuotaAdmission(fake, task.Clock())
    drive(call(plugin, "create", store("pods", "Pod"), pod("p"), None))
    assert fake.raced and fake.quotas["pods"]["status"]["used"] == {"pods": "3"}
    with pytest.raises(StatusError) as info:
        drive(call(plugin, "create", store("pods", "Pod"), pod("q"), None))
    assert info.value.message.endswith("exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3")


def test_status_written_by_a_charge_sets_off_no_recount():
    """The plugin's own status writes pass through admission but schedule nothing; a status written by anyone
    else is recounted."""
    fake = FakeRegistry(quotas=[quota("pods", {"pods": "3"})])
    clock = task.Clock()
    plugin = ResourceQuotaAdmission(fake, clock)
    quotas = store("resourcequotas", "ResourceQuota")
    token = quota_module._OWN_WRITE.set(True)
    try:
        drive(call(plugin, "update", quotas, quota("pods", {"pods": "3"}), quota("pods", {"pods": "3"}),
                   subresource="status"))
    finally:
        quota_module._OWN_WRITE.reset(token)
    assert clock.getDelayedCalls() == []
    drive(call(plugin, "update", quotas, quota("pods", {"pods": "3"}), quota("pods", {"pods": "3"}),
               subresource="status"))
    assert len(clock.getDelayedCalls()) == 1


def test_charges_through_the_store_recount_nothing(quota_registry):
    """Charges written through the real Store (and so through admission) set off no recount: only the quota's
    creation does."""
    from tests.controllers.conftest import settle
    plugin = quota_registry.quota_plugin
    recounts = []
    plugin._start_recount = lambda namespace, *landing: recounts.append(namespace)
    run(quota_registry.store("", "v1", "resourcequotas").create("team", quota("pods", {"pods": "3"})))
    create_all(quota_registry.store("", "v1", "pods"), [pod(f"p{i}") for i in range(5)])
    settle(0.2)
    assert recounts == ["team"]
    assert used(quota_registry, "pods") == {"pods": "3"}


def test_pending_charges_share_one_expiry_timer():
    """Charges in one namespace share one expiry timer; when they expire unseen (their creates never landed),
    a recount gives them back and nothing stays scheduled."""
    team_quota = quota("pods", {"pods": "10"})
    team_quota["status"] = {"hard": {"pods": "10"}, "used": {"pods": "0"}}
    fake = FakeRegistry(quotas=[team_quota])
    clock = task.Clock()
    plugin = ResourceQuotaAdmission(fake, clock)
    for i in range(3):
        drive(call(plugin, "create", store("pods", "Pod"), pod(f"p{i}"), None))
        clock.advance(1)
    assert fake.quotas["pods"]["status"]["used"] == {"pods": "3"}
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(plugin.PENDING_SECONDS)
    assert fake.quotas["pods"]["status"]["used"] == {"pods": "0"}
    assert clock.getDelayedCalls() == []


def test_a_quota_whose_write_lands_late_is_still_counted():
    """The recount a new quota asks for runs shortly after it is admitted; when storage has not stored the quota
    by then (a slow disk, a loaded machine), recounts go on, later each time, until they see it."""
    fake = FakeRegistry()
    clock = task.Clock()
    plugin = ResourceQuotaAdmission(fake, clock)
    team_quota = quota("pods", {"pods": "3"})
    drive(call(plugin, "create", store("resourcequotas", "ResourceQuota"), team_quota, None))
    clock.advance(plugin.RECOUNT_DELAY)           # the first recount: the quota is not stored yet
    clock.advance(plugin.RECOUNT_DELAY * 2)       # nor at the second
    assert fake.quotas == {}
    fake.quotas["pods"] = dict(team_quota, metadata=dict(team_quota["metadata"], resourceVersion="7"))
    clock.advance(plugin.RECOUNT_DELAY * 4)
    assert fake.quotas["pods"]["status"] == {"hard": {"pods": "3"}, "used": {"pods": "0"}}
    clock.advance(plugin.LANDING_WAIT * 2)
    assert clock.getDelayedCalls() == []          # seen: no more recounts


def test_recounts_for_a_quota_that_never_lands_stop():
    fake = FakeRegistry()
    clock = task.Clock()
    plugin = ResourceQuotaAdmission(fake, clock)
    drive(call(plugin, "create", store("resourcequotas", "ResourceQuota"), quota("pods", {"pods": "3"}), None))
    clock.pump([1.0] * int(plugin.LANDING_WAIT * 4))
    assert clock.getDelayedCalls() == [] and fake.quotas == {}

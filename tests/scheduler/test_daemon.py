"""The scheduler end to end: a real apiserver, three fake nodes created through the API, the scheduler in
this process binding pods, writing events and conditions, preempting, and leaving other schedulers' pods."""

from __future__ import annotations

from kapiserver.client.resources import PODS, PRIORITY_CLASSES
from tests.conformance.support import unique
from tests.scheduler.conftest import create_pod, events_for, eventually, finish_terminating_pods, node_of, run


def test_pod_is_bound_with_a_scheduled_event(client, scheduler, namespace):
    """An ordinary pod is bound to an untainted node, with the Scheduled event from default-scheduler."""
    create_pod(client, namespace, "plain", cpu="100m")
    node = eventually(lambda: node_of(client, namespace, "plain"))
    assert node in ("sched-a", "sched-b")
    [event] = eventually(lambda: events_for(client, namespace, "plain", "Scheduled"))
    assert event["type"] == "Normal" and event["reportingComponent"] == "default-scheduler"
    assert event["message"] == f"Successfully assigned {namespace}/plain to {node}"
    assert event["involvedObject"]["kind"] == "Pod"


def test_node_selector_is_honoured(client, scheduler, namespace):
    """nodeSelector disk=ssd: only sched-a has the label."""
    for i in range(3):
        create_pod(client, namespace, f"ssd-{i}", nodeSelector={"disk": "ssd"})
    for i in range(3):
        assert eventually(lambda: node_of(client, namespace, f"ssd-{i}")) == "sched-a"


def test_unschedulable_pod_gets_event_and_condition(client, scheduler, namespace):
    """A pod too big for every node: FailedScheduling with upstream's message, PodScheduled=False."""
    create_pod(client, namespace, "huge", cpu="3")
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
               "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
               "scheduling.")
    [event] = eventually(lambda: events_for(client, namespace, "huge", "FailedScheduling"))
    assert event["type"] == "Warning" and event["message"] == message
    assert event["reportingComponent"] == "default-scheduler"

    def condition():
        status = run(client.get(PODS, "huge", namespace))["status"]
        return next((c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"), None)
    found = eventually(condition)
    assert (found["status"], found["reason"], found["message"]) == ("False", "Unschedulable", message)
    assert node_of(client, namespace, "huge") is None


def test_taint_is_avoided_and_tolerated(client, scheduler, namespace):
    """Only a pod tolerating the control-plane taint may land on sched-cp; it needs its 4 cpus."""
    create_pod(client, namespace, "tolerant", cpu="3",
               tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}])
    assert eventually(lambda: node_of(client, namespace, "tolerant")) == "sched-cp"


def test_waiting_pod_is_scheduled_when_a_node_appears(client, scheduler, namespace, nodes):
    """An unschedulable pod is retried when a node it fits is added (a Node/Add cluster event)."""
    create_pod(client, namespace, "wants-gpu", nodeSelector={"accelerator": "gpu"})
    eventually(lambda: events_for(client, namespace, "wants-gpu", "FailedScheduling"))
    from tests.scheduler.conftest import fake_node
    from kapiserver.client.resources import NODES
    name = unique("sched-gpu")
    run(client.create(NODES, fake_node(name, labels={"accelerator": "gpu"})))
    try:
        assert eventually(lambda: node_of(client, namespace, "wants-gpu")) == name
    finally:
        run(client.delete(NODES, name))


def test_other_scheduler_name_is_left_alone(client, scheduler, namespace):
    """A pod for another scheduler stays unbound, without events from us."""
    from tests.controllers.conftest import settle
    create_pod(client, namespace, "theirs", schedulerName="other-scheduler")
    create_pod(client, namespace, "ours")
    eventually(lambda: node_of(client, namespace, "ours"))
    settle(0.5)
    assert node_of(client, namespace, "theirs") is None
    assert events_for(client, namespace, "theirs") == []


def test_preemption_evicts_a_lower_priority_pod(client, scheduler, namespace):
    """A high-priority pod that fits nowhere evicts a low-priority one: DisruptionTarget condition,
    Preempted event, nominatedNodeName, then bound there once the victim is gone."""
    high = unique("high")
    run(client.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                         "metadata": {"name": high}, "value": 1000}))
    try:
        create_pod(client, namespace, "low", cpu="1500m", nodeSelector={"disk": "ssd"})
        assert eventually(lambda: node_of(client, namespace, "low")) == "sched-a"
        low_uid = run(client.get(PODS, "low", namespace))["metadata"]["uid"]
        create_pod(client, namespace, "vip", cpu="1500m", priorityClassName=high, nodeSelector={"disk": "ssd"})
        vip = eventually(lambda: run(client.get(PODS, "vip", namespace))
                         if run(client.get(PODS, "vip", namespace))["status"].get("nominatedNodeName") else None)
        assert vip["status"]["nominatedNodeName"] == "sched-a"
        victim = run(client.get(PODS, "low", namespace))
        assert victim["metadata"].get("deletionTimestamp")
        [target] = [c for c in victim["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert (target["reason"], target["message"]) == (
            "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")
        [preempted] = eventually(lambda: events_for(client, namespace, "low", "Preempted"))
        assert preempted["message"] == f"Preempted by pod {vip['metadata']['uid']} on node sched-a"
        assert preempted["involvedObject"]["uid"] == low_uid
        assert eventually(lambda: node_of(client, namespace, "vip"),
                          also=lambda: finish_terminating_pods(client, namespace)) == "sched-a"
    finally:
        run(client.delete(PRIORITY_CLASSES, high))


def test_a_second_profile_schedules_its_own_pods(client, scheduler, namespace):
    """A scheduler whose profile is "batch-scheduler" binds that profile's pods, with events from it."""
    import random

    from twisted.internet import reactor

    from kapiserver.scheduler.scheduler import Scheduler
    batch = Scheduler(client, reactor, rand=random.Random(1), scheduler_names=("batch-scheduler",))
    run(batch.run())
    try:
        create_pod(client, namespace, "batch-job", schedulerName="batch-scheduler")
        assert eventually(lambda: node_of(client, namespace, "batch-job")) in ("sched-a", "sched-b")
        [event] = eventually(lambda: events_for(client, namespace, "batch-job", "Scheduled"))
        assert event["message"].startswith(f"Successfully assigned {namespace}/batch-job to ")
    finally:
        batch.stop()


def test_leader_election_one_scheduler_at_a_time(client, nodes):
    """Two kube-scheduler services on one Lease: one leads and schedules, the other waits and takes over
    once the leader has stopped and the lease has run out."""
    import time

    from twisted.internet import reactor

    from kapiserver.client.resources import LEASES
    from kapiserver.scheduler.service import SchedulerService
    options = {"leader-elect": True, "leader-elect-lease-duration": 3.0, "leader-elect-renew-deadline": 2.0,
               "leader-elect-retry-period": 1.0, "leader-elect-resource-name": unique("kube-scheduler")}
    first, second = SchedulerService(reactor, client, options), SchedulerService(reactor, client, options)
    first.startService()
    eventually(lambda: first.scheduler is not None)
    second.startService()
    try:
        deadline = time.monotonic() + 1.5
        eventually(lambda: time.monotonic() > deadline)
        assert second.scheduler is None
        lease = run(client.get(LEASES, options["leader-elect-resource-name"], "kube-system"))
        assert lease["spec"]["holderIdentity"] == first.identity
        first.scheduler.stop()
        first.scheduler = None
        run(first.elector.stop())
        eventually(lambda: second.scheduler is not None, timeout=15)
    finally:
        for service in (first, second):
            if service.scheduler is not None:
                service.scheduler.stop()
                service.scheduler = None
            if service.elector is not None:
                run(service.elector.stop())

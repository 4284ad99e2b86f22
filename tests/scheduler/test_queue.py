"""The scheduling queue on a task.Clock: order, backoff, unschedulable pods and the events that move them."""

from __future__ import annotations

from twisted.internet.task import Clock

from kapiserver.scheduler.queue import SchedulingQueue
from tests.scheduler.objects import pod

EVENTS = {"NodeResourcesFit": {"Node/Add", "AssignedPod/Delete"}, "TaintToleration": {"Node/UpdateNodeTaint"}}


def queue():
    clock = Clock()
    clock.advance(1000)
    q = SchedulingQueue(clock, plugin_events=EVENTS)
    return q, clock


def popped(q):
    found = []
    q.pop().addCallback(found.append)
    return found[0] if found else None


def test_active_queue_orders_by_priority_then_time():
    """Higher priority first; equal priority in the order the pods arrived."""
    q, clock = queue()
    q.add(pod("low", priority=1))
    clock.advance(1)
    q.add(pod("high", priority=10))
    clock.advance(1)
    q.add(pod("low2", priority=1))
    assert [popped(q).pod["metadata"]["name"] for _ in range(3)] == ["high", "low", "low2"]


def test_pop_waits_for_a_pod():
    """pop() on an empty queue fires when a pod arrives, and with None when the queue closes."""
    q, clock = queue()
    found = []
    q.pop().addCallback(found.append)
    assert found == []
    q.add(pod("p"))
    assert found[0].pod["metadata"]["name"] == "p"
    q.pop().addCallback(found.append)
    q.close()
    assert found[1] is None


def test_backoff_doubles_from_one_to_ten_seconds():
    """1 s after the first attempt, doubling per attempt, at most 10 s."""
    q, clock = queue()
    q.add(pod("p"))
    info = popped(q)
    durations = []
    for attempts in range(1, 7):
        info.attempts = attempts
        durations.append(q.backoff_duration(info))
    assert durations == [1, 2, 4, 8, 10, 10]


def test_error_goes_to_backoff_then_active():
    """A pod that failed without a rejecting plugin waits out its backoff, then is flushed to activeQ."""
    q, clock = queue()
    q.run()
    q.add(pod("p"))
    info = popped(q)
    q.add_unschedulable_if_not_present(info)
    assert info.uid in q.backoff
    clock.advance(0.5)
    assert info.uid in q.backoff
    clock.advance(1)
    assert info.uid in q.active
    q.close()


def test_unschedulable_moves_on_a_registered_event_only():
    """A pod NodeResourcesFit rejected moves on Node/Add, not on Node/UpdateNodeTaint."""
    q, clock = queue()
    q.add(pod("p"))
    info = popped(q)
    info.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable_if_not_present(info)
    assert info.uid in q.unschedulable
    q.move_all_to_active_or_backoff("Node/UpdateNodeTaint")
    assert info.uid in q.unschedulable
    clock.advance(5)
    q.move_all_to_active_or_backoff("Node/Add")
    assert info.uid in q.active


def test_moved_pod_still_backing_off_goes_to_backoff():
    """An event right after the failure moves the pod to backoffQ, not activeQ."""
    q, clock = queue()
    q.add(pod("p"))
    info = popped(q)
    info.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable_if_not_present(info)
    q.move_all_to_active_or_backoff("AssignedPod/Delete")
    assert info.uid in q.backoff


def test_event_during_the_attempt_is_not_lost():
    """An event arriving while the pod is being scheduled sends the failed pod to backoffQ."""
    q, clock = queue()
    q.add(pod("p"))
    info = popped(q)
    q.move_all_to_active_or_backoff("Node/Add")
    info.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable_if_not_present(info)
    assert info.uid in q.backoff


def test_unschedulable_pods_flushed_after_five_minutes():
    """A pod left in unschedulablePods more than 5 minutes goes back whatever happened."""
    q, clock = queue()
    q.run()
    q.add(pod("p"))
    info = popped(q)
    info.unschedulable_plugins = {"TaintToleration"}
    q.add_unschedulable_if_not_present(info)
    clock.pump([30] * 10)
    assert info.uid in q.unschedulable
    clock.pump([30] * 2)
    assert info.uid in q.active
    q.close()


def test_pod_updates():
    """An unschedulable pod's own update moves it only when a rejecting plugin cares (upstream 1.32's
    QueueingHints): a status-only change or new labels leave a pod TaintToleration rejected waiting, a
    toleration added moves it; delete removes it."""
    q, clock = hinted_queue()
    p = pod("p")
    info = rejected(q, p, "TaintToleration")
    status_only = {**p, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled"}]},
                   "metadata": {**p["metadata"], "resourceVersion": "9"}}
    q.update(p, status_only)
    assert info.uid in q.unschedulable
    relabelled = {**status_only, "metadata": {**status_only["metadata"], "labels": {"x": "y"}}}
    clock.advance(20)
    q.update(status_only, relabelled)
    assert info.uid in q.unschedulable
    tolerant = {**relabelled, "spec": {**relabelled["spec"], "tolerations": [{"key": "k", "operator": "Exists"}]}}
    q.update(relabelled, tolerant)
    assert info.uid in q.active
    q.delete(tolerant)
    assert len(q) == 0


def test_pod_toleration_update_and_node_unschedulable():
    """A pod NodeUnschedulable rejected moves when its update makes it tolerate cordoned nodes, not for
    another toleration."""
    q, clock = hinted_queue()
    p = pod("p")
    info = rejected(q, p, "NodeUnschedulable")
    clock.advance(20)
    other = {**p, "spec": {**p["spec"], "tolerations": [{"key": "k", "operator": "Exists"}]}}
    q.update(p, other)
    assert info.uid in q.unschedulable
    cordons = {**other, "spec": {**other["spec"], "tolerations": other["spec"]["tolerations"] + [
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}}
    q.update(other, cordons)
    assert info.uid in q.active


def test_nominator():
    """Nominated pods are listed by node; a nomination survives an update that does not carry it."""
    q, clock = queue()
    p = pod("p", priority=5)
    q.nominator.add(p, "n1")
    assert [i.name for i in q.nominator.nominated_pods_for_node("n1")] == ["p"]
    q.nominator.update(p, {**p, "metadata": {**p["metadata"], "resourceVersion": "2"}})
    assert q.nominator.nominated_node(p) == "n1"
    q.nominator.delete(p)
    assert q.nominator.nominated_pods_for_node("n1") == []


def test_scheduling_gates_hold_a_pod_until_removed():
    """A pod with schedulingGates is not tried; the update removing the last gate queues it."""
    q, clock = queue()
    gated = pod("g", schedulingGates=[{"name": "example.com/wait"}])
    q.add(gated)
    found = []
    q.pop().addCallback(found.append)
    assert found == [] and len(q) == 1
    relabelled = {**gated, "metadata": {**gated["metadata"], "labels": {"x": "y"}}}
    q.update(gated, relabelled)
    assert found == []
    opened = {**relabelled, "spec": {**relabelled["spec"], "schedulingGates": []}}
    q.update(relabelled, opened)
    assert found[0].pod is opened and len(q) == 0


def hinted_queue():
    """A queue with the default plugins' events and queueing hints, as the scheduler builds it."""
    from kapiserver.scheduler.plugins import default_plugins
    clock = Clock()
    clock.advance(1000)
    plugins = default_plugins()
    q = SchedulingQueue(clock, plugin_events={p.name: p.events for p in plugins},
                        plugin_hints={p.name: p.queueing_hint for p in plugins if hasattr(p, "queueing_hint")})
    return q, clock


def rejected(q, p, *plugins):
    q.add(p)
    info = popped(q)
    info.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(info)
    return info


def test_queueing_hints_requeue_only_when_the_node_may_help():
    """Upstream's QueueingHints (on by default in 1.32): a node added or changed moves a pod its rejecting
    plugin says it may help (a matching label, a tolerated taint, room for its requests), and leaves the
    others waiting; an event in flight is judged the same way."""
    from tests.scheduler.objects import node
    q, clock = hinted_queue()
    wants_ssd = rejected(q, pod("ssd", nodeSelector={"disk": "ssd"}), "NodeAffinity")
    big = rejected(q, pod("big", cpu="6"), "NodeResourcesFit")
    clock.advance(20)
    q.move_all_to_active_or_backoff("Node/Add", None, node("plain", cpu="4"))
    assert wants_ssd.uid in q.unschedulable and big.uid in q.unschedulable
    q.move_all_to_active_or_backoff("Node/Add", None, node("fast", labels={"disk": "ssd"}))
    assert wants_ssd.uid in q.active and big.uid in q.unschedulable
    small, grown = node("n", cpu="4"), node("n", cpu="8")
    q.move_all_to_active_or_backoff("Node/UpdateNodeAllocatable", small, grown)
    assert big.uid in q.active

    tainted = node("t", taints=[{"key": "k", "effect": "NoSchedule"}])
    intolerant = rejected(q, pod("intolerant"), "TaintToleration")
    clock.advance(20)
    relabelled = {**tainted, "metadata": {**tainted["metadata"], "labels": {"x": "y"}}}
    q.move_all_to_active_or_backoff("Node/UpdateNodeTaint", tainted, relabelled)
    assert intolerant.uid in q.unschedulable
    q.move_all_to_active_or_backoff("Node/UpdateNodeTaint", tainted, node("t"))
    assert intolerant.uid in q.active

    q, clock = hinted_queue()
    q.add(pod("flying", nodeSelector={"disk": "ssd"}))
    flying = popped(q)
    q.move_all_to_active_or_backoff("Node/Add", None, node("plain2"))
    flying.unschedulable_plugins = {"NodeAffinity"}
    q.add_unschedulable_if_not_present(flying)
    assert flying.uid in q.unschedulable


def test_queueing_hint_of_a_deleted_pod_for_host_ports():
    """A deleted pod frees a hostPort only for pods asking for that port."""
    q, clock = hinted_queue()
    wants_80 = rejected(q, pod("p", host_port=80), "NodePorts")
    clock.advance(20)
    q.move_all_to_active_or_backoff("AssignedPod/Delete", pod("other", node_name="a", host_port=81), None)
    assert wants_80.uid in q.unschedulable
    q.move_all_to_active_or_backoff("AssignedPod/Delete", pod("holder", node_name="a", host_port=80), None)
    assert wants_80.uid in q.active


def test_topology_spread_queueing_hints():
    """A pod PodTopologySpread rejected moves on a placed pod of its namespace added or deleted matching
    its constraint's selector, or on a node with the constraint's key; not on other pods or keyless
    nodes."""
    from tests.scheduler.objects import node
    q, clock = hinted_queue()
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    info = rejected(q, pod("w", labels={"app": "web"}, topologySpreadConstraints=spread), "PodTopologySpread")
    clock.advance(20)
    q.move_all_to_active_or_backoff("AssignedPod/Add", None, pod("db", node_name="a", labels={"app": "db"}))
    q.move_all_to_active_or_backoff("AssignedPod/Delete", pod("elsewhere", namespace="other", node_name="a",
                                                              labels={"app": "web"}), None)
    q.move_all_to_active_or_backoff("Node/Add", None, node("keyless"))
    assert info.uid in q.unschedulable
    q.move_all_to_active_or_backoff("AssignedPod/Delete", pod("w0", node_name="a", labels={"app": "web"}), None)
    assert info.uid in q.active
    q.delete(info.pod)
    again = rejected(q, pod("w2", labels={"app": "web"}, topologySpreadConstraints=spread), "PodTopologySpread")
    assert again.pod["metadata"]["name"] == "w2" and again.uid in q.unschedulable
    clock.advance(20)
    q.move_all_to_active_or_backoff("Node/Add", None, node("zoned", labels={"zone": "c"}))
    assert again.uid in q.active


def test_each_profile_hints_with_its_own_plugins():
    """The queue asks the pod's own profile's plugins for hints: a node lacking a resource that profile
    ignores still moves its pod, while the default profile's pod waits."""
    import random

    from kapiserver.scheduler.scheduler import Scheduler
    from tests.scheduler.objects import node
    s = Scheduler(object(), Clock(), rand=random.Random(0), profiles=[
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "lenient", "pluginConfig": [{"name": "NodeResourcesFit",
                                                       "args": {"ignoredResources": ["example.com/gpu"]}}]}])
    q = s.queue

    def gpu_pod(name, scheduler_name):
        return pod(name, scheduler_name=scheduler_name, **{"containers": [
            {"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}]})
    strict = rejected(q, gpu_pod("strict", "default-scheduler"), "NodeResourcesFit")
    lenient = rejected(q, gpu_pod("lenient", "lenient"), "NodeResourcesFit")
    q.clock.advance(20)
    q.move_all_to_active_or_backoff("Node/Add", None, node("plain"))
    assert strict.uid in q.unschedulable and lenient.uid in q.active


def test_a_raising_queueing_hint_is_logged_and_queues_the_pod(monkeypatch):
    """A queueing hint that raises moves the pod on all the same (upstream's Queue on error), and the error is
    logged naming the plugin and the pod."""
    from twisted.logger import Logger

    from kapiserver.scheduler import queue as queue_module
    logged = []
    monkeypatch.setattr(queue_module, "log", Logger(observer=logged.append), raising=False)
    clock = Clock()
    clock.advance(1000)
    q = SchedulingQueue(clock, plugin_events=EVENTS, plugin_hints={"NodeResourcesFit": lambda *args: 1 / 0})
    info = rejected(q, pod("p"), "NodeResourcesFit")
    assert info.uid in q.unschedulable
    clock.advance(20)
    q.move_all_to_active_or_backoff("Node/Add", None, {"metadata": {"name": "n"}})
    assert info.uid in q.active
    [event] = logged
    assert event["log_failure"].check(ZeroDivisionError)
    assert (event["plugin"], event["pod"], event["event"]) == ("NodeResourcesFit", "default/p", "Node/Add")

"""The scheduling queue, as upstream's PriorityQueue keeps pods waiting to be scheduled.

Rules:

- activeQ holds pods ready to be tried, highest spec.priority first, then the earliest queued.
- A pod that failed waits out its backoff before it is tried again: 1 s after its first attempt, doubling
  with each attempt up to 10 s.  backoffQ holds pods still waiting; every second the ones whose backoff
  has passed move to activeQ.
- A pod no node could take goes to unschedulablePods, remembering the plugins that rejected it.  It leaves
  when a cluster event that one of those plugins registered happens (a node added or changed, an assigned
  pod deleted, a claim bound...) and, for a plugin with a queueing hint, the hint says the event may help
  this pod (the node added matches its node affinity, tolerates... as upstream's QueueingHints, on by
  default in 1.32), to backoffQ if its backoff has not passed yet, else to activeQ; or after 5 minutes
  there, whatever happened.
- A pod being scheduled ("in flight") that fails after an event its rejecting plugins care about arrived
  during its attempt goes to backoffQ instead of unschedulablePods, so the event is not lost.
- A pod with spec.schedulingGates waits aside (gated) until an update removes the last gate.
- An update of an unschedulable pod itself ("UnscheduledPod/UpdatePodToleration", "/UpdatePodLabel",
  "/UpdatePodScaleDown", or "/Update" for any other change) moves it only as a cluster event would: when a
  rejecting plugin registered that event and its hint agrees (upstream 1.32 with QueueingHints).
- The nominator remembers which node each pod was nominated to by preemption, so other pods leave it the
  room its victims free.

Time comes from the injected clock; ``run()`` starts the periodic flushes and ``stop()`` ends them.
"""

from __future__ import annotations

import itertools
from typing import Callable, Mapping, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from .cache import PodInfo, pod_key
from .resources import pod_requests

log = Logger()

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE_PODS = 300.0
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0

# Events that move every unschedulable pod whatever rejected it.
UNSCHEDULABLE_TIMEOUT = "UnschedulableTimeout"
FORCE_ACTIVATE = "ForceActivate"


def pod_uid(pod: Mapping) -> str:
    return (pod.get("metadata") or {}).get("uid") or pod_key(pod)


class QueuedPodInfo:
    """A pod in the queue with its scheduling history (framework.QueuedPodInfo)."""

    def __init__(self, pod: Mapping, now: float):
        self.pod = pod
        self.timestamp = now                     # when it last entered the queue
        self.initial_attempt_timestamp: Optional[float] = None
        self.attempts = 0
        self.unschedulable_plugins: set[str] = set()

    @property
    def uid(self) -> str:
        return pod_uid(self.pod)

    @property
    def priority(self) -> int:
        priority = (self.pod.get("spec") or {}).get("priority")
        return priority if isinstance(priority, int) else 0

    def __repr__(self) -> str:
        return f"QueuedPodInfo({pod_key(self.pod)}, attempts={self.attempts})"


def _stripped(pod: Mapping) -> dict:
    """What isPodUpdated compares: the pod without its status and bookkeeping metadata."""
    metadata = {k: v for k, v in (pod.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation", "managedFields")}
    return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": metadata}


def is_pod_updated(old: Mapping, new: Mapping) -> bool:
    return _stripped(old) != _stripped(new)


def pod_update_events(old: Mapping, new: Mapping) -> list[str]:
    """PodSchedulingPropertiesChange for a pod not yet scheduled: what its update changed that a plugin
    may care about, or "UnscheduledPod/Update" for anything else."""
    events = []
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        events.append("UnscheduledPod/UpdatePodLabel")
    before, after = pod_requests(old), pod_requests(new)
    if any(after.get(name, 0) < value for name, value in before.items()):
        events.append("UnscheduledPod/UpdatePodScaleDown")
    # Tolerations may only be added: a new count is a change.
    if len((old.get("spec") or {}).get("tolerations") or []) != len((new.get("spec") or {}).get("tolerations") or []):
        events.append("UnscheduledPod/UpdatePodToleration")
    return events or ["UnscheduledPod/Update"]


def is_gated(pod: Mapping) -> bool:
    """The SchedulingGates plugin's PreEnqueue: a pod with gates is not tried."""
    return bool((pod.get("spec") or {}).get("schedulingGates"))


class Nominator:
    """Pods nominated to nodes by preemption (status.nominatedNodeName), by node."""

    def __init__(self):
        self._node_of: dict[str, str] = {}
        self._pods: dict[str, dict[str, PodInfo]] = {}

    def add(self, pod: Mapping, node_name: Optional[str] = None) -> None:
        self.delete(pod)
        node_name = node_name or (pod.get("status") or {}).get("nominatedNodeName")
        if not node_name:
            return
        info = PodInfo(pod)
        self._node_of[info.uid] = node_name
        self._pods.setdefault(node_name, {})[info.uid] = info

    def delete(self, pod: Mapping) -> None:
        uid = pod_uid(pod)
        node_name = self._node_of.pop(uid, None)
        if node_name is not None:
            self._pods.get(node_name, {}).pop(uid, None)

    def update(self, old: Mapping, new: Mapping) -> None:
        # An update that does not name a node keeps the nomination the scheduler made (upstream's rule:
        # the informer may not have seen the status write yet).
        node_name = (new.get("status") or {}).get("nominatedNodeName") or self._node_of.get(pod_uid(old))
        self.add(new, node_name)

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self._pods.get(node_name, {}).values())

    def nominated_node(self, pod: Mapping) -> Optional[str]:
        return self._node_of.get(pod_uid(pod))


class SchedulingQueue:
    def __init__(self, clock, initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 max_in_unschedulable: float = MAX_IN_UNSCHEDULABLE_PODS, plugin_events: Mapping = None,
                 plugin_hints: Optional[Mapping[str, Callable]] = None,
                 profile_hints: Optional[Mapping[str, Mapping[str, Callable]]] = None):
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        # plugin name -> the cluster events after which a pod it rejected may fit
        self.plugin_events = dict(plugin_events or {})
        # plugin name -> hint(event, pod, old, new): whether that event may make the pod it rejected fit
        self.plugin_hints = dict(plugin_hints or {})
        # schedulerName -> that profile's own hints (its plugins as configured), ahead of plugin_hints
        self.profile_hints = {name: dict(hints) for name, hints in (profile_hints or {}).items()}
        self.active: dict[str, QueuedPodInfo] = {}
        self.backoff: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.gated: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, QueuedPodInfo] = {}
        self._in_flight_events: dict[str, list[tuple]] = {}    # uid -> (event, old, new) seen meanwhile
        self.nominator = Nominator()
        self.scheduling_cycle = 0
        self._order = itertools.count()
        self._seq: dict[str, int] = {}
        self._waiters: list[Deferred] = []
        self._calls = []
        self.closed = False

    # --- the periodic flushes -------------------------------------------------------------------

    def run(self) -> None:
        self._every(BACKOFF_FLUSH_PERIOD, self.flush_backoff_completed)
        self._every(UNSCHEDULABLE_FLUSH_PERIOD, self.flush_unschedulable_left_over)

    def _every(self, period: float, func) -> None:
        def tick():
            func()
            if not self.closed:
                self._calls.append(self.clock.callLater(period, tick))
        self._calls.append(self.clock.callLater(period, tick))

    def close(self) -> None:
        """Stop the flushes; a pop waiting fires with None."""
        self.closed = True
        for call in self._calls:
            if call.active():
                call.cancel()
        self._calls = []
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    # --- adding and popping ---------------------------------------------------------------------

    def _to_active(self, info: QueuedPodInfo) -> None:
        self._seq[info.uid] = next(self._order)
        self.active[info.uid] = info
        if self._waiters:
            self._waiters.pop(0).callback(self._pop())

    def _remove(self, uid: str) -> Optional[QueuedPodInfo]:
        for queue in (self.active, self.backoff, self.unschedulable, self.gated):
            if uid in queue:
                return queue.pop(uid)
        return None

    def add(self, pod: Mapping) -> None:
        """A new pod waiting for a node."""
        uid = pod_uid(pod)
        if uid in self.in_flight:
            return
        info = self._remove(uid) or QueuedPodInfo(pod, self.clock.seconds())
        info.pod = pod
        info.timestamp = self.clock.seconds()
        self.nominator.add(pod)
        if is_gated(pod):
            self.gated[uid] = info
            return
        self._to_active(info)

    def _pop(self) -> QueuedPodInfo:
        uid = min(self.active, key=lambda u: (-self.active[u].priority, self.active[u].timestamp, self._seq[u]))
        info = self.active.pop(uid)
        info.attempts += 1
        if info.initial_attempt_timestamp is None:
            info.initial_attempt_timestamp = self.clock.seconds()
        self.scheduling_cycle += 1
        self.in_flight[uid] = info
        self._in_flight_events[uid] = []
        return info

    def pop(self) -> Deferred:
        """The next pod to schedule (a Deferred firing when there is one, or with None once closed)."""
        if self.closed:
            d = Deferred()
            d.callback(None)
            return d
        d = Deferred()
        if self.active:
            d.callback(self._pop())
        else:
            self._waiters.append(d)
        return d

    def done(self, uid: str) -> None:
        """The pod's attempt is over (bound, or put back in the queue)."""
        self.in_flight.pop(uid, None)
        self._in_flight_events.pop(uid, None)

    # --- failures -------------------------------------------------------------------------------

    def backoff_duration(self, info: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, info.attempts):
            duration *= 2
            if duration > self.max_backoff:
                return self.max_backoff
        return duration

    def backoff_expiry(self, info: QueuedPodInfo) -> float:
        return info.timestamp + self.backoff_duration(info)

    def is_backing_off(self, info: QueuedPodInfo) -> bool:
        return self.backoff_expiry(info) > self.clock.seconds()

    def add_unschedulable_if_not_present(self, info: QueuedPodInfo, pod: Optional[Mapping] = None) -> None:
        """Put a pod whose attempt failed back: to backoffQ if nothing says it cannot fit (an error) or
        if an event that may help arrived during its attempt, else to unschedulablePods."""
        uid = info.uid
        events = self._in_flight_events.get(uid, [])
        self.done(uid)
        if uid in self.active or uid in self.backoff or uid in self.unschedulable:
            return
        if pod is not None:
            info.pod = pod
        info.timestamp = self.clock.seconds()
        if not info.unschedulable_plugins or any(self._helps(info, *e) for e in events):
            self.backoff[uid] = info
        else:
            self.unschedulable[uid] = info

    def _helps(self, info: QueuedPodInfo, event: str, old=None, new=None) -> bool:
        """isPodWorthRequeuing: a rejecting plugin registered the event, and its hint (if it has one) says
        the event may make the pod fit; a hint that raises is logged and counts as yes, so no pod is
        stranded."""
        if event in (UNSCHEDULABLE_TIMEOUT, FORCE_ACTIVATE) or not info.unschedulable_plugins:
            return True
        profile = self.profile_hints.get((info.pod.get("spec") or {}).get("schedulerName") or "default-scheduler")
        for plugin in info.unschedulable_plugins:
            if event not in self.plugin_events.get(plugin, ()):
                continue
            hint = profile.get(plugin) if profile is not None else self.plugin_hints.get(plugin)
            if hint is None:
                return True
            try:
                if hint(event, info.pod, old, new):
                    return True
            except Exception:
                # As upstream: the error is logged and the pod queued, so that it is not stranded.
                log.failure("QueueingHintFn returns error: event {event}, plugin {plugin}, pod {pod}",
                            event=event, plugin=plugin, pod=pod_key(info.pod))
                return True
        return False

    def flush_backoff_completed(self) -> None:
        for uid, info in sorted(self.backoff.items(), key=lambda item: self.backoff_expiry(item[1])):
            if not self.is_backing_off(info):
                del self.backoff[uid]
                self._to_active(info)

    def flush_unschedulable_left_over(self) -> None:
        now = self.clock.seconds()
        stale = [i for i in self.unschedulable.values() if now - i.timestamp > self.max_in_unschedulable]
        self._move(stale, UNSCHEDULABLE_TIMEOUT)

    def move_all_to_active_or_backoff(self, event: str, old=None, new=None) -> None:
        """A cluster event ("Node/Add", "AssignedPod/Delete", ...) with the object before and after it (None
        for an add's before and a delete's after): the unschedulable pods it may help move on; pods in
        flight remember it."""
        for events in self._in_flight_events.values():
            events.append((event, old, new))
        self._move(list(self.unschedulable.values()), event, old, new)

    def _move(self, infos, event: str, old=None, new=None) -> None:
        for info in infos:
            if not self._helps(info, event, old, new):
                continue
            del self.unschedulable[info.uid]
            if self.is_backing_off(info):
                self.backoff[info.uid] = info
            else:
                self._to_active(info)

    # --- the pods' own changes ------------------------------------------------------------------

    def update(self, old: Mapping, new: Mapping) -> None:
        uid = pod_uid(new)
        self.nominator.update(old, new)
        if uid in self.in_flight:
            self.in_flight[uid].pod = new
            if is_pod_updated(old, new):
                self._in_flight_events[uid].extend((event, old, new) for event in pod_update_events(old, new))
            return
        if uid in self.gated:
            if is_gated(new):
                self.gated[uid].pod = new
            else:
                info = self.gated.pop(uid)
                info.pod = new
                self._to_active(info)
            return
        for queue in (self.active, self.backoff):
            if uid in queue:
                queue[uid].pod = new
                return
        if uid in self.unschedulable:
            info = self.unschedulable[uid]
            info.pod = new
            if is_pod_updated(old, new):
                for event in pod_update_events(old, new):
                    if uid in self.unschedulable:
                        self._move([info], event, old, new)
            return
        self.add(new)

    def delete(self, pod: Mapping) -> None:
        uid = pod_uid(pod)
        self.nominator.delete(pod)
        self._remove(uid)
        self.done(uid)

    def pending_pods(self) -> list[Mapping]:
        return [i.pod for q in (self.active, self.backoff, self.unschedulable, self.gated) for i in q.values()]

    def __len__(self) -> int:
        return len(self.active) + len(self.backoff) + len(self.unschedulable) + len(self.gated)

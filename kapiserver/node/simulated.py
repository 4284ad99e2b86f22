"""Simulated nodes: each registers a Node and renews its Lease like kube-node, and reports every pod bound to
it as started (Running and Ready, a pod IP) at once or after ``start_delay``; with ``run_seconds`` set (or a
pod's annotation), a Never/OnFailure pod's containers "exit" after that long, so Jobs complete; deletions finish
at once.  No process runs: for tests of controllers and the scheduler, and for benchmarks, as kwok does
upstream.  Any number of nodes share one pod watch and one heartbeat timer (SimulatedNodes), so a thousand
nodes cost about what one does plus their pods."""

from __future__ import annotations

import ipaddress
import itertools
from typing import Dict, List, Optional

from twisted.application import service
from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore
from twisted.logger import Logger

from ..client.events import EventRecorder
from ..client.informer import SharedInformerFactory
from ..client.resources import LEASES, NODES, PODS
from ..client.rest import APIError, Client
from ..client.workqueue import RateLimitingQueue, run_workers
from ..machinery import meta
from .agent import LEASE_SECONDS, node_object
from .nodeevents import NodeEvents

log = Logger()
# Exit codes a container may ask for with the annotation, to simulate failures (Jobs' backoff).
EXIT_CODE_ANNOTATION = "kapiserver.io/simulated-exit-code"
RUN_SECONDS_ANNOTATION = "kapiserver.io/simulated-run-seconds"
LEASE_RENEW_SECONDS = 10.0
NODE_STATUS_SECONDS = 300.0
EVENT_WRITES = 1        # a fleet's node events on their way at once: registering 1,000 nodes records 5,000


class SimulatedNodes:
    """Any number of simulated nodes sharing one pod informer (one watch), one work queue and one heartbeat
    timer: each node's Lease is renewed every LEASE_RENEW_SECONDS (the renewals spread over the interval) and its
    status written every NODE_STATUS_SECONDS, as a kubelet with an unchanged status does."""

    def __init__(self, client: Client, names: List[str], clock, address: str = "127.0.0.1",
                 capacity: Optional[Dict[str, str]] = None, labels: Optional[Dict[str, str]] = None,
                 pod_cidr: str = "10.244.0.0/24", run_seconds: Optional[float] = None, schedule: bool = False,
                 start_delay: float = 0.0, ready_delay: float = 0.0, workers: Optional[int] = None,
                 heartbeat_client: Optional[Client] = None):
        self.client = client
        # Registration, Leases and node status on a connection of their own when given one: on HTTP/2 one
        # connection is one FIFO of streams, and a thousand nodes' renewals queued on a slow server held the pods'
        # status writes behind them (kubelets each have their own connection).
        self.heartbeat_client = heartbeat_client or client
        self.names = list(names)
        self._members = set(self.names)
        self.clock = clock
        self.address = address
        self.capacity = capacity
        self.labels = labels or {}
        self.run_seconds = run_seconds
        self.start_delay = start_delay
        self.ready_delay = ready_delay
        # Pod IPs from pod_cidr, in turn (again from the start once all were given: no pod IP is reserved).
        self._ips = itertools.cycle(str(ip) for ip in itertools.islice(ipaddress.ip_network(pod_cidr).hosts(), 1,
                                                                         None))
        self.informers = SharedInformerFactory(client, clock)
        selector = f"spec.nodeName={self.names[0]}" if len(self.names) == 1 else "spec.nodeName!="
        self.pods = self.informers.informer(PODS, field_selector=selector)
        self.queue = RateLimitingQueue(clock, f"node {self.names[0]}" if len(self.names) == 1 else
                                       f"{len(self.names)} simulated nodes")
        self.pods.add_event_handler(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new),
                                    on_delete=self._forget)
        # The Nodes as the server has them: one the node lifecycle controller marked Ready Unknown (a Lease
        # renewed late) has its status written again at once, as a kubelet's status loop does when the Node it
        # reads differs from what it reports.
        self.node_watch = self.informers.informer(
            NODES, field_selector=f"metadata.name={self.names[0]}" if len(self.names) == 1 else None)
        self.node_watch.add_event_handler(on_add=self._node_seen, on_update=lambda old, new: self._node_seen(new))
        self._workers = workers or (4 if len(self.names) == 1 else 16)
        self.unbound = None
        if schedule:
            # A scheduler of its own, as kube-node --schedule: pods of the default scheduler with no node, bound
            # in turn to the nodes a required node affinity allows.
            self.unbound = self.informers.informer(PODS, field_selector="spec.nodeName=")
            self.unbound.add_event_handler(on_add=self._bind_later, on_update=lambda old, new: self._bind_later(new))
        self._next_node = 0
        self._started_at: Dict[str, float] = {}
        self._timers: Dict[str, object] = {}       # uid: the pending start or exit of a pod
        self._leases: Dict[str, dict] = {}
        self._tick = None
        self._ticks = 0
        self._in_flight: set = set()          # ("lease" | "status", node name) being written
        self.skipped_heartbeats = 0
        self.nodes: Dict[str, dict] = {}
        # The kubelet's events about each Node (Starting, NodeHasSufficientMemory..., NodeReady on registration;
        # NodeNotSchedulable / NodeSchedulable on cordon / uncordon; NodeReady again after Ready Unknown), written
        # one at a time in the background, those of a registration once it is done: written beside it, a
        # thousand nodes' 5,000 events made their registration take half again as long.
        self._event_writes = _EventWrites(EVENT_WRITES)
        self._node_events: Dict[str, NodeEvents] = {}

    def _enqueue(self, pod: dict) -> None:
        _slim(pod)
        if (pod.get("spec") or {}).get("nodeName") in self._members:
            self.queue.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))

    def _forget(self, pod) -> None:
        pod = getattr(pod, "obj", pod)       # a tombstone carries the last state
        uid = ((pod or {}).get("metadata") or {}).get("uid")
        self._started_at.pop(uid, None)
        timer = self._timers.pop(uid, None)
        if timer is not None and timer.active():
            timer.cancel()

    def _bind_later(self, pod: dict) -> None:
        self.queue.add(("bind", pod["metadata"]["namespace"], pod["metadata"]["name"]))

    async def _bind(self, namespace: str, name: str) -> None:
        pod = self.unbound.indexer.get_by_key(namespace, name)
        spec = (pod or {}).get("spec") or {}
        if pod is None or spec.get("nodeName") or pod["metadata"].get("deletionTimestamp") or \
                spec.get("schedulingGates") or spec.get("schedulerName", "default-scheduler") != "default-scheduler":
            return
        for i in range(len(self.names)):
            node = self.names[(self._next_node + i) % len(self.names)]
            if _node_name_allowed(spec, node):
                self._next_node = (self._next_node + i + 1) % len(self.names)
                break
        else:
            return
        try:
            await self.client.create(PODS, {"apiVersion": "v1", "kind": "Binding",
                                            "metadata": {"name": name, "namespace": namespace},
                                            "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                                     namespace=namespace, name=name, subresource="binding")
        except APIError as e:
            if e.code not in (404, 409):
                raise

    async def start(self) -> None:
        # The heartbeat runs from the start (for the nodes registered so far): registering a thousand nodes on a
        # busy server may take longer than the node monitor's grace period.
        self._tick = self.clock.callLater(self._tick_seconds(), self._beat)
        await self.register()
        self.informers.start()
        await self.informers.wait_for_cache_sync()
        run_workers(self.queue, self._workers, self.sync, self.queue.name)

    def stop(self) -> None:
        self.queue.shutdown()
        self.informers.stop()
        for call in [self._tick, *self._timers.values()]:
            if call is not None and call.active():
                call.cancel()
        self._timers.clear()

    def _tick_seconds(self) -> float:
        # One tick per node and interval at most, and at least one a second for a fleet.
        return LEASE_RENEW_SECONDS if len(self.names) < 10 else LEASE_RENEW_SECONDS / 10

    def _beat(self) -> None:
        """One tick: renew the Leases of the nodes whose turn it is (each node once per LEASE_RENEW_SECONDS), and
        write the status of those whose NODE_STATUS_SECONDS came."""
        slots = max(1, round(LEASE_RENEW_SECONDS / self._tick_seconds()))
        slot = self._ticks % slots
        status_turn = (self._ticks // slots) % max(1, round(NODE_STATUS_SECONDS / LEASE_RENEW_SECONDS))
        self._ticks += 1
        for i in range(slot, len(self.names), slots):
            name = self.names[i]
            if name not in self.nodes:
                continue        # not registered yet
            self._once(("lease", name), self._renew, "lease renewal failed")
            if (i // slots) % max(1, round(NODE_STATUS_SECONDS / LEASE_RENEW_SECONDS)) == status_turn:
                self._once(("status", name), self._report_status, "status not written")
        self._tick = self.clock.callLater(self._tick_seconds(), self._beat)

    def events(self, name: str) -> NodeEvents:
        """The node's event recorder (source host the node's name), made when first asked for."""
        events = self._node_events.get(name)
        if events is None:
            recorder = EventRecorder(self.client, "kubelet", host=name, clock=self.clock)
            events = self._node_events[name] = NodeEvents(recorder, name, limit=self._event_writes)
        return events

    def _node_seen(self, node: dict) -> None:
        name = node["metadata"]["name"]
        if name not in self._members or name not in self.nodes:
            return
        self.events(name).schedulable(node)
        ready = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if ready.get("Ready") != "True":
            self.nodes[name] = node         # transitions from the server's view
            self._once(("status", name), self._report_status, "status not written")

    def _once(self, key: tuple, write, failed: str) -> None:
        """Start a node's heartbeat write unless its previous one is still in flight: as a kubelet's loops, one
        at a time (on a slow server, a renewal overlapping the one before would carry its stale
        resourceVersion and conflict, and the conflicts' re-reads add to the load)."""
        if key in self._in_flight:
            self.skipped_heartbeats += 1
            return
        self._in_flight.add(key)
        d = Deferred.fromCoroutine(write(key[1]))
        d.addErrback(lambda f: log.info("node {name}: {failed}: {e}", name=key[1], failed=failed,
                                        e=f.getErrorMessage()))
        d.addBoth(lambda _: self._in_flight.discard(key))

    def _wanted(self, name: str) -> dict:
        wanted = node_object(name, self.address, 10250, self.clock.seconds(), self._figures)
        wanted["metadata"]["labels"].update(self.labels)
        wanted["metadata"]["labels"]["kubernetes.io/hostname"] = name
        if self.capacity:
            wanted["status"]["capacity"] = dict(self.capacity)
            wanted["status"]["allocatable"] = dict(self.capacity)
        return wanted

    async def register(self, names: Optional[List[str]] = None) -> None:
        """Create (or bring up to date) the Node and Lease of each node, a few at a time."""
        from . import hoststatus
        self._figures = hoststatus.read_host()
        pending = list(names or self.names)
        # The events recorded meanwhile wait for the registration to be done.
        self._event_writes.hold()
        try:
            await self._register_all(pending)
        finally:
            self._event_writes.release()

    async def _register_all(self, pending: List[str]) -> None:

        async def one_by_one():
            while pending:
                name = pending.pop()
                await self._register(name)
                self._in_flight.add(("lease", name))        # the heartbeat leaves it to us
                try:
                    await self._renew(name)
                finally:
                    self._in_flight.discard(("lease", name))
        await DeferredList([Deferred.fromCoroutine(one_by_one()) for _ in range(min(16, len(pending)))],
                           fireOnOneErrback=True, consumeErrors=True).addErrback(lambda f: f.value.subFailure)

    async def _register(self, name: str) -> None:
        wanted = self._wanted(name)
        previous: list = []
        try:
            self.nodes[name] = await self.heartbeat_client.create(NODES, wanted)
        except APIError as e:
            if e.code != 409:
                raise
            current = await self.heartbeat_client.get(NODES, name)
            previous = (current.get("status") or {}).get("conditions") or []
            current["status"] = wanted["status"]
            self.nodes[name] = await self.heartbeat_client.update(NODES, current, subresource="status")
        # As a kubelet starting: Starting, each pressure condition, NodeReady unless the Node was Ready already.
        events = self.events(name)
        events.starting()
        events.conditions(previous, (self.nodes[name].get("status") or {}).get("conditions") or [], first=True)
        events.schedulable(self.nodes[name])

    async def _report_status(self, name: str) -> None:
        stamp = meta.rfc3339(self.clock.seconds())
        conditions = [dict(c, lastHeartbeatTime=stamp) for c in self._wanted(name)["status"]["conditions"]]
        before = {c["type"]: c for c in ((self.nodes.get(name) or {}).get("status") or {}).get("conditions") or []}
        for condition in conditions:
            old = before.get(condition["type"])
            if old and old.get("status") == condition["status"] and old.get("lastTransitionTime"):
                condition["lastTransitionTime"] = old["lastTransitionTime"]
        self.nodes[name] = await self.heartbeat_client.patch(NODES, name, {"status": {"conditions": conditions}},
                                                   patch_type="strategic", subresource="status")
        # NodeReady (and the pressure conditions) again once a Node the node controller marked Unknown is
        # reported; an unchanged report records nothing.
        self.events(name).conditions(list(before.values()), conditions)

    async def _renew(self, name: str) -> None:
        stamp = meta.rfc3339_micro(self.clock.seconds())
        lease = self._leases.get(name)
        if lease is None:
            try:
                lease = await self.heartbeat_client.get(LEASES, name, "kube-node-lease")
            except APIError as e:
                if e.code != 404:
                    raise
                self._leases[name] = await self.heartbeat_client.create(LEASES, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": "kube-node-lease"},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": stamp}})
                return
        lease["spec"]["renewTime"] = stamp
        try:
            self._leases[name] = await self.heartbeat_client.update(LEASES, lease)
        except APIError:
            self._leases.pop(name, None)      # changed or gone: read again next time
            raise

    async def renew_lease(self) -> None:
        """Renew every node's Lease now."""
        for name in self.names:
            await self._renew(name)

    async def sync(self, key) -> None:
        if key[0] == "bind":
            await self._bind(key[1], key[2])
            return
        namespace, name = key
        pod = self.pods.indexer.get_by_key(namespace, name)
        if pod is None:
            return
        uid = pod["metadata"]["uid"]
        if pod["metadata"].get("deletionTimestamp"):
            self._forget(pod)
            try:
                await self.client.delete(PODS, name, namespace, grace_period_seconds=0, preconditions={"uid": uid})
            except APIError as e:
                if e.code not in (404, 409):
                    raise
            return
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed") or uid in self._timers:
            return
        if status.get("phase") == "Running" and uid in self._started_at:
            await self._follow_gates(pod)
            return
        if self.start_delay > 0 and uid not in self._started_at:
            self._started_at[uid] = -1.0          # starting
            self._timers[uid] = self.clock.callLater(self.start_delay, self._start_later, pod)
            return
        await self._report_running(pod)

    def _start_later(self, pod: dict) -> None:
        self._timers.pop(pod["metadata"]["uid"], None)
        current = self.pods.indexer.get_by_key(pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"] or \
                current["metadata"].get("deletionTimestamp"):
            return
        d = Deferred.fromCoroutine(self._report_running(current))
        d.addErrback(lambda f: (log.info("pod {name}: not started: {e}", name=pod["metadata"]["name"],
                                         e=f.getErrorMessage()), self._started_at.pop(pod["metadata"]["uid"], None),
                                self._enqueue(current)))

    async def _report_running(self, pod: dict, ready: Optional[bool] = None) -> None:
        """Running; Ready too unless a ready delay is set (then Ready follows after it: `ready` True)."""
        now = self.clock.seconds()
        uid = pod["metadata"]["uid"]
        if ready is None:
            ready = self.ready_delay <= 0
            self._started_at[uid] = now
        stamp = meta.rfc3339(now)
        started = meta.rfc3339(self._started_at.get(uid) if (self._started_at.get(uid) or 0) > 0 else now)
        spec = pod.get("spec") or {}
        flag = "True" if ready else "False"
        gated = readiness_gates(pod) if ready else None
        status = {
            "phase": "Running", "hostIP": self.address, "hostIPs": [{"ip": self.address}],
            "podIP": (pod.get("status") or {}).get("podIP") or next(self._ips),
            "startTime": started, "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort"),
            "conditions": [_condition("PodReadyToStartContainers", started), _condition("Initialized", started),
                           _condition("Ready", stamp, flag, None if ready else "ContainersNotReady"),
                           _condition("ContainersReady", stamp, flag, None if ready else "ContainersNotReady"),
                           _condition("PodScheduled", started)],
            "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                                   "containerID": f"kapiserver://{uid}-{c['name']}", "ready": ready,
                                   "started": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": started}}} for c in spec.get("containers") or []],
        }
        status["podIPs"] = [{"ip": status["podIP"]}]
        if gated:
            status["conditions"][2] = _condition("Ready", stamp, "False", "ReadinessGatesNotReady", gated)
        await self.client.patch(PODS, pod["metadata"]["name"], {"status": status}, pod["metadata"]["namespace"],
                                 patch_type="strategic", subresource="status")
        if not ready:
            self._timers[uid] = self.clock.callLater(self.ready_delay, self._ready_later, pod)
            return
        annotations = pod["metadata"].get("annotations") or {}
        run_for = annotations.get(RUN_SECONDS_ANNOTATION, self.run_seconds)
        if run_for is not None and spec.get("restartPolicy") in ("Never", "OnFailure"):
            code = int(annotations.get(EXIT_CODE_ANNOTATION, 0))
            self._timers[uid] = self.clock.callLater(float(run_for), self._exit, pod, code)

    async def _follow_gates(self, pod: dict) -> None:
        """A running pod's Ready as its readiness gates have it (another writer sets their conditions), as the
        kubelet's status manager works it out again on each update of the pod."""
        if not (pod.get("spec") or {}).get("readinessGates"):
            return
        unmet = readiness_gates(pod)
        ready = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
        if (ready.get("status") == "True") == (unmet is None) and ready.get("message") == unmet:
            return
        stamp = meta.rfc3339(self.clock.seconds())
        condition = _condition("Ready", stamp) if unmet is None else \
            _condition("Ready", stamp, "False", "ReadinessGatesNotReady", unmet)
        if ready.get("status") == condition["status"] and ready.get("lastTransitionTime"):
            condition["lastTransitionTime"] = ready["lastTransitionTime"]
        await self.client.patch(PODS, pod["metadata"]["name"], {"status": {"conditions": [condition]}},
                                pod["metadata"]["namespace"], patch_type="strategic", subresource="status")

    def _ready_later(self, pod: dict) -> None:
        self._timers.pop(pod["metadata"]["uid"], None)
        current = self.pods.indexer.get_by_key(pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"] or \
                current["metadata"].get("deletionTimestamp"):
            return
        d = Deferred.fromCoroutine(self._report_running(current, ready=True))
        d.addErrback(lambda f: log.info("pod {name}: not reported ready: {e}", name=pod["metadata"]["name"],
                                        e=f.getErrorMessage()))

    def _exit(self, pod: dict, code: int) -> None:
        self._timers.pop(pod["metadata"]["uid"], None)
        stamp = meta.rfc3339(self.clock.seconds())
        containers = [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                       "started": False, "restartCount": 0, "containerID": f"kapiserver://{pod['metadata']['uid']}",
                       "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                                "startedAt": stamp, "finishedAt": stamp}}}
                      for c in (pod.get("spec") or {}).get("containers") or []]
        status = {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": containers,
                  "conditions": [_condition("Ready", stamp, "False", "PodCompleted"),
                                 _condition("ContainersReady", stamp, "False", "PodCompleted")]}
        d = self.client.patch(PODS, pod["metadata"]["name"], {"status": status}, pod["metadata"]["namespace"],
                              patch_type="strategic", subresource="status")
        Deferred.fromCoroutine(d).addErrback(lambda f: None)


class _EventWrites:
    """Writes run `at_once` at a time; while held (by one or more holders), none starts: they wait, in order."""

    def __init__(self, at_once: int):
        self.semaphore = DeferredSemaphore(at_once)
        self.holders = 0
        self.waiting: list = []

    def run(self, write, *args) -> Deferred:
        if not self.holders:
            return self.semaphore.run(write, *args)
        d: Deferred = Deferred()
        self.waiting.append((d, write, args))
        return d

    def hold(self) -> None:
        self.holders += 1

    def release(self) -> None:
        self.holders -= 1
        if not self.holders:
            waiting, self.waiting = self.waiting, []
            for d, write, args in waiting:
                self.semaphore.run(write, *args).chainDeferred(d)


class SimulatedNode(SimulatedNodes):
    """One simulated node (its informer watches only the pods bound to it)."""

    def __init__(self, client: Client, name: str, clock, **options):
        super().__init__(client, [name], clock, **options)
        self.name = name

    @property
    def node(self) -> Optional[dict]:
        return self.nodes.get(self.name)


def _slim(pod: dict) -> None:
    """Keep of a cached pod only what a simulated node reads (the cache holds the very dict), so that tens of
    thousands of pods take a fraction of the memory: no managedFields, the spec's node, restart policy and
    containers' names and images, the status's phase, pod IP and QoS class; with readiness gates, those and the
    conditions they name (and Ready)."""
    metadata = pod.get("metadata") or {}
    metadata.pop("managedFields", None)
    spec = pod.get("spec") or {}
    slim = {k: spec[k] for k in ("nodeName", "restartPolicy", "readinessGates") if k in spec}
    slim["containers"] = [{"name": c.get("name"), "image": c.get("image", "")} for c in spec.get("containers") or []]
    pod["spec"] = slim
    status = pod.get("status") or {}
    kept = {k: status[k] for k in ("phase", "podIP", "qosClass") if k in status}
    gates = {gate.get("conditionType") for gate in slim.get("readinessGates") or []}
    if gates:
        # What the readiness gates read, and the Ready this node reported.
        kept["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") in gates | {"Ready"}]
    pod["status"] = kept


def _condition(kind: str, stamp: str, status: str = "True", reason: Optional[str] = None,
               message: Optional[str] = None) -> dict:
    condition = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": stamp}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def readiness_gates(pod: dict) -> Optional[str]:
    """Why the pod's readiness gates keep it from Ready (upstream's message for the first unmet one), or None."""
    conditions = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType")
        if kind not in conditions:
            return f'corresponding condition of pod readiness gate "{kind}" does not exist.'
        if conditions[kind].get("status") != "True":
            return f'the status of pod readiness gate "{kind}" is not "True", but {conditions[kind].get("status")}'
    return None


def _node_name_allowed(spec: dict, node: str) -> bool:
    """A required node affinity term naming nodes by ``matchFields metadata.name In`` (as DaemonSet pods carry)
    lets this node bind the pod only if one such term names it; other terms are left to a real scheduler."""
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    named = [[f for f in term.get("matchFields") or [] if f.get("key") == "metadata.name"] for term in terms]
    if not any(named):
        return True
    return any(fields and all(f.get("operator") == "In" and node in (f.get("values") or []) for f in fields)
               for fields in named)


class SimulatedNodeService(service.Service):
    """`kube-node --simulated` or `--simulate N`: simulated nodes for the life of the process (one SimulatedNode,
    or N SimulatedNodes sharing one watch); registration is retried while the API server is away."""

    def __init__(self, client: Client, names, clock, **options):
        names = [names] if isinstance(names, str) else list(names)
        self.node = SimulatedNode(client, names[0], clock, **options) if len(names) == 1 else \
            SimulatedNodes(client, names, clock, **options)
        self.clock = clock
        self._retry = None

    def startService(self):
        super().startService()
        self._start()

    def _start(self) -> None:
        self._retry = None

        def failed(failure):
            log.info("simulated nodes: {error}; retrying", error=failure.getErrorMessage())
            if self.running:
                self._retry = self.clock.callLater(1, self._start)
        Deferred.fromCoroutine(self.node.start()).addErrback(failed)

    def stopService(self):
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self.node.stop()

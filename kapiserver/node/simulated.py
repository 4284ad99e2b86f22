"""A simulated node: registers a Node and renews its Lease like kube-node, and reports every pod bound to it
as started at once (Running and Ready, a pod IP; with ``run_seconds`` set, containers "exit 0" after that
long, so Jobs complete), and finishes deletions at once.  No process runs: for tests of controllers and the
scheduler, and for benchmarks, as kwok does upstream."""

from __future__ import annotations

import ipaddress
import itertools
from typing import Dict, Optional

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..client.informer import SharedInformerFactory
from ..client.resources import LEASES, NODES, PODS
from ..client.rest import APIError, Client
from ..client.workqueue import RateLimitingQueue, run_workers
from ..machinery import meta
from .agent import LEASE_SECONDS, node_object

log = Logger()
# Exit codes a container may ask for with the annotation, to simulate failures (Jobs' backoff).
EXIT_CODE_ANNOTATION = "kapiserver.io/simulated-exit-code"
RUN_SECONDS_ANNOTATION = "kapiserver.io/simulated-run-seconds"


class SimulatedNode:
    def __init__(self, client: Client, name: str, clock, address: str = "127.0.0.1",
                 capacity: Optional[Dict[str, str]] = None, labels: Optional[Dict[str, str]] = None,
                 pod_cidr: str = "10.244.0.0/24", run_seconds: Optional[float] = None, schedule: bool = False):
        self.client = client
        self.name = name
        self.clock = clock
        self.address = address
        self.capacity = capacity
        self.labels = labels or {}
        self.run_seconds = run_seconds
        self._ips = (str(ip) for ip in itertools.islice(ipaddress.ip_network(pod_cidr).hosts(), 1, None))
        self.informers = SharedInformerFactory(client, clock)
        self.pods = self.informers.informer(PODS, field_selector=f"spec.nodeName={name}")
        self.queue = RateLimitingQueue(clock, f"node {name}")
        self.pods.add_event_handler(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new))
        if schedule:
            # A one-node scheduler, as kube-node --schedule: pods of the default scheduler with no node.
            self.unbound = self.informers.informer(PODS, field_selector="spec.nodeName=")
            self.unbound.add_event_handler(on_add=self._bind_later, on_update=lambda old, new: self._bind_later(new))
        self._started_at: Dict[str, float] = {}
        self._exits: Dict[str, object] = {}
        self._heartbeat = None
        self.node: Optional[dict] = None

    def _enqueue(self, pod: dict) -> None:
        self.queue.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))

    def _bind_later(self, pod: dict) -> None:
        self.queue.add(("bind", pod["metadata"]["namespace"], pod["metadata"]["name"]))

    async def _bind(self, namespace: str, name: str) -> None:
        pod = self.unbound.indexer.get_by_key(namespace, name)
        spec = (pod or {}).get("spec") or {}
        if pod is None or spec.get("nodeName") or pod["metadata"].get("deletionTimestamp") or \
                spec.get("schedulingGates") or spec.get("schedulerName", "default-scheduler") != "default-scheduler":
            return
        if not _node_name_allowed(spec, self.name):
            return
        try:
            await self.client.create(PODS, {"apiVersion": "v1", "kind": "Binding",
                                            "metadata": {"name": name, "namespace": namespace},
                                            "target": {"apiVersion": "v1", "kind": "Node", "name": self.name}},
                                     namespace=namespace, name=name, subresource="binding")
        except APIError as e:
            if e.code not in (404, 409):
                raise

    async def start(self) -> None:
        await self.register()
        self.informers.start()
        await self.informers.wait_for_cache_sync()
        run_workers(self.queue, 4, self.sync, f"node {self.name}")
        self._heartbeat = self.clock.callLater(10, self._beat)

    def stop(self) -> None:
        self.queue.shutdown()
        self.informers.stop()
        for call in [self._heartbeat, *self._exits.values()]:
            if call is not None and call.active():
                call.cancel()

    def _beat(self) -> None:
        d = Deferred.fromCoroutine(self.renew_lease())
        d.addErrback(lambda f: log.info("node {name}: lease renewal failed: {e}", name=self.name,
                                        e=f.getErrorMessage()))
        self._heartbeat = self.clock.callLater(10, self._beat)

    async def register(self) -> None:
        wanted = node_object(self.name, self.address, 10250, self.clock.seconds())
        wanted["metadata"]["labels"].update(self.labels)
        wanted["metadata"]["labels"]["kubernetes.io/hostname"] = self.name
        if self.capacity:
            wanted["status"]["capacity"] = dict(self.capacity)
            wanted["status"]["allocatable"] = dict(self.capacity)
        try:
            self.node = await self.client.create(NODES, wanted)
        except APIError as e:
            if e.code != 409:
                raise
            current = await self.client.get(NODES, self.name)
            current["status"] = wanted["status"]
            self.node = await self.client.update(NODES, current, subresource="status")
        await self.renew_lease()

    async def renew_lease(self) -> None:
        stamp = meta.rfc3339_micro(self.clock.seconds())
        try:
            lease = await self.client.get(LEASES, self.name, "kube-node-lease")
        except APIError as e:
            if e.code != 404:
                raise
            await self.client.create(LEASES, {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": stamp}})
            return
        lease["spec"]["renewTime"] = stamp
        await self.client.update(LEASES, lease)

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
            try:
                await self.client.delete(PODS, name, namespace, grace_period_seconds=0, preconditions={"uid": uid})
            except APIError as e:
                if e.code not in (404, 409):
                    raise
            return
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        if status.get("phase") == "Running" and uid in self._started_at:
            return
        await self._report_running(pod)

    async def _report_running(self, pod: dict) -> None:
        now = self.clock.seconds()
        stamp = meta.rfc3339(now)
        uid = pod["metadata"]["uid"]
        self._started_at[uid] = now
        spec = pod.get("spec") or {}
        status = {
            "phase": "Running", "hostIP": self.address, "hostIPs": [{"ip": self.address}],
            "podIP": (pod.get("status") or {}).get("podIP") or next(self._ips),
            "startTime": stamp, "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort"),
            "conditions": [_condition(t, stamp) for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                                                          "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "",
                                   "containerID": f"kapiserver://{uid}-{c['name']}", "ready": True,
                                   "started": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": stamp}}} for c in spec.get("containers") or []],
        }
        status["podIPs"] = [{"ip": status["podIP"]}]
        await self.client.patch(PODS, pod["metadata"]["name"], {"status": status}, pod["metadata"]["namespace"],
                                 patch_type="strategic", subresource="status")
        annotations = pod["metadata"].get("annotations") or {}
        run_for = annotations.get(RUN_SECONDS_ANNOTATION, self.run_seconds)
        if run_for is not None and spec.get("restartPolicy") in ("Never", "OnFailure"):
            code = int(annotations.get(EXIT_CODE_ANNOTATION, 0))
            self._exits[uid] = self.clock.callLater(float(run_for), self._exit, pod, code)

    def _exit(self, pod: dict, code: int) -> None:
        self._exits.pop(pod["metadata"]["uid"], None)
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


def _condition(kind: str, stamp: str, status: str = "True", reason: Optional[str] = None) -> dict:
    condition = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": stamp}
    if reason:
        condition["reason"] = reason
    return condition


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
    """`kube-node --simulated`: a SimulatedNode for the life of the process; registration is retried while the
    API server is away."""

    def __init__(self, client: Client, name: str, clock, **options):
        self.node = SimulatedNode(client, name, clock, **options)
        self.clock = clock
        self._retry = None

    def startService(self):
        super().startService()
        self._start()

    def _start(self) -> None:
        self._retry = None

        def failed(failure):
            log.info("node {name}: {error}; retrying", name=self.node.name, error=failure.getErrorMessage())
            if self.running:
                self._retry = self.clock.callLater(1, self._start)
        Deferred.fromCoroutine(self.node.start()).addErrback(failed)

    def stopService(self):
        super().stopService()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self.node.stop()

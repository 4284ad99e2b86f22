"""The node agent's control loops: register the Node with a complete status, renew its Lease in
kube-node-lease, bind unscheduled pods (with --schedule), and run the pods bound to this node."""

from __future__ import annotations

import os
import platform
import signal
import socket
import uuid
from typing import Dict, Optional
from urllib.parse import urlsplit

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery import meta
from ..pool import in_pool
from ..client.events import EventRecorder
from ..client.resources import CONFIG_MAPS, ENDPOINTS, LEASES, NODES, PODS, SECRETS, SERVICE_ACCOUNTS, SERVICES
from ..client.rest import APIError, Client
from . import hoststatus, volumes
from .nodeevents import NodeEvents
from .environment import CONFIG_ERROR_REASON, Sources
from .runner import HostDirs, PodWorker, leftover_processes

log = Logger()
LEASE_SECONDS = 40
NODE_STATUS_REPORT_SECONDS = 300.0
STATUS_RETRY_FIRST, STATUS_RETRY_MAX = 1.0, 30.0     # a pod whose status write failed is tried again after


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            pass
    return uuid.uuid4().hex


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return uuid.uuid4().hex


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def node_object(name: str, address: str, kubelet_port: int, now: float,
                figures: Optional[hoststatus.HostFigures] = None) -> dict:
    """A Node as a kubelet registers it: addresses, capacity and allocatable from the host, nodeInfo and
    conditions all present."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    figures = figures or hoststatus.read_host()
    stamp = meta.rfc3339(now)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch}},
        "spec": {},
        "status": {
            "capacity": hoststatus.capacity(figures), "allocatable": hoststatus.allocatable(figures),
            "conditions": hoststatus.conditions(hoststatus.pressures(figures), stamp),
            "addresses": [{"type": "InternalIP", "address": address},
                          {"type": "Hostname", "address": socket.gethostname()}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "nodeInfo": {"machineID": _machine_id(), "systemUUID": _machine_id(), "bootID": _boot_id(),
                         "kernelVersion": platform.release(), "osImage": _os_image(),
                         "containerRuntimeVersion": "kapiserver://0.1.0", "kubeletVersion": "v1.32.0",
                         "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": arch},
            "images": [],
        },
    }


def node_conditions(heartbeat: str, transition: str) -> list:
    """The conditions of a node under no pressure, all with the given times."""
    out = hoststatus.conditions({}, heartbeat)
    for condition in out:
        condition["lastTransitionTime"] = transition
    return out


_OWN_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")


def _without_heartbeats(status: dict) -> list:
    """What of a Node's status counts as a change: all but the conditions' heartbeat times."""
    conditions = sorted(({k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions")
                         or [] if c.get("type") in _OWN_CONDITIONS), key=lambda c: c.get("type", ""))
    return [conditions] + [status.get(k) for k in ("capacity", "allocatable", "addresses", "daemonEndpoints",
                                                    "nodeInfo")]


class NodeAgent(service.Service):
    """Register, heartbeat, schedule and run pods; every loop tolerates a server that is away."""

    def __init__(self, reactor, client: Client, node_name: str, address: str, kubelet_port: int,
                 state_dir: str, schedule: bool = False, sync_interval: float = 0.5,
                 lease_interval: float = 10.0, config_sync_interval: float = 10.0,
                 recorder: Optional[EventRecorder] = None):
        self.reactor = reactor
        self.client = client
        self.node_name = node_name
        self.address = address
        self.kubelet_port = kubelet_port
        self.state_dir = state_dir
        self.schedule = schedule
        self.sync_interval = sync_interval
        self.lease_interval = lease_interval
        self.workers: Dict[str, PodWorker] = {}
        # The kubelet's events (Pulled, Created, Started, Killing, BackOff, Unhealthy...) about its pods.
        self.recorder = recorder or EventRecorder(client, "kubelet", host=node_name, clock=reactor)
        # Its events about the Node (Starting, NodeHasSufficientMemory..., NodeReady, NodeNotSchedulable...).
        self.node_events = NodeEvents(self.recorder, node_name)
        self._announced = False          # Starting and the first conditions recorded
        self._timers = []
        self._dirty = set()
        self._removed = set()      # uids of pods whose deletion this agent finished without a worker
        self.host_dirs = HostDirs()
        self._node: Optional[dict] = None
        self._lease: Optional[dict] = None
        self._reported_at: Optional[float] = None
        self._retry_at: Dict[str, float] = {}      # uid: when a pod whose status write failed is tried again
        self._failures: Dict[str, int] = {}
        self.registered = Deferred()
        self.env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
        self.config_sync_interval = config_sync_interval
        self.tokens = volumes.TokenManager(self._token_request, reactor.seconds)

    def startService(self):
        super().startService()
        self._stop_leftovers()
        self._loop(self._register_and_lease, self.lease_interval)
        self._loop(self._sync, self.sync_interval)
        self._loop(self._resync, self.config_sync_interval)

    def stopService(self):
        super().stopService()
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        waits = [worker.kill(0).addBoth(lambda _, worker=worker: self._release(worker))
                 for worker in self.workers.values()]
        from twisted.internet.defer import DeferredList
        return DeferredList(waits)

    def _stop_leftovers(self):
        # An agent that was killed leaves its containers running, orphaned: this one cannot adopt them, and
        # would start its pods' containers a second time beside them, so they are stopped first.
        leftovers = leftover_processes(os.path.join(self.state_dir, "pods"))
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if leftovers:
            log.info("stopped {count} container processes left by an earlier agent", count=len(leftovers))

    def _loop(self, work, interval):
        def run():
            if not self.running:
                return
            d = Deferred.fromCoroutine(work())
            d.addErrback(lambda f: log.warn("node agent: {error}", error=f.getErrorMessage()))
            d.addBoth(lambda _: self.running and self._timers.append(self.reactor.callLater(interval, run)))
        self._timers.append(self.reactor.callLater(0, run))

    # -- Node and Lease ---------------------------------------------------------------------------
    async def _register_and_lease(self):
        """Every lease interval (10 s, upstream's nodeStatusUpdateFrequency): the Node's status from the host,
        written when it changed or every NODE_STATUS_REPORT_SECONDS (upstream's nodeStatusReportFrequency),
        then the Lease renewed."""
        now = self.reactor.seconds()
        stamp = meta.rfc3339(now)
        root = self.state_dir if os.path.isdir(self.state_dir) else "/"
        figures = await self._blocking(lambda: hoststatus.read_host(root))     # scans /proc: not on the reactor
        # The Node as the server's cache has it (the node lifecycle controller may have set Ready Unknown): as
        # upstream's kubelet reads it for a status update, at resourceVersion "0"; the strategic patch below
        # carries no resourceVersion, so a cache a moment behind costs nothing.
        try:
            self._node = await self.client.get(NODES, self.node_name, resource_version="0")
        except APIError as e:
            if e.code != 404:
                raise
            self._node = await self.client.create(
                NODES, node_object(self.node_name, self.address, self.kubelet_port, now, figures))
            self._reported_at = now
            self._lease = None
            self._record_node_events([], self._node)
        else:
            status = node_object(self.node_name, self.address, self.kubelet_port, now, figures)["status"]
            previous = (self._node.get("status") or {}).get("conditions") or []
            status["conditions"] = hoststatus.conditions(hoststatus.pressures(figures), stamp, previous)
            read = self._node
            if self._reported_at is None or now - self._reported_at >= NODE_STATUS_REPORT_SECONDS or \
                    _without_heartbeats(status) != _without_heartbeats(self._node.get("status") or {}):
                try:
                    # Strategic: conditions merge by type, so others' conditions (NetworkUnavailable) stay.
                    self._node = await self.client.patch(NODES, self.node_name, {"status": status},
                                                         patch_type="strategic", subresource="status")
                except APIError as e:
                    if e.code == 404:      # the Node was deleted: register it again next time
                        self._lease = None
                    raise
                self._reported_at = now
            self._record_node_events(previous, dict(read, status=dict(read.get("status") or {}, **status)))
        await self._renew_lease(self._node)
        if not self.registered.called:
            self.registered.callback(self._node)

    def _record_node_events(self, previous: list, node: dict) -> None:
        """Once the Node's status is written: on this agent's first report Starting and each pressure condition,
        then what changed since the server's conditions `previous` (NodeReady...), and a cordon or uncordon
        seen in the Node's spec.  Written in the background: nothing here waits for them."""
        first = not self._announced
        if first:
            self._announced = True
            self.node_events.starting()
        self.node_events.conditions(previous, (node.get("status") or {}).get("conditions") or [], first=first)
        self.node_events.schedulable(node)

    async def _renew_lease(self, node: dict):
        renew = meta.rfc3339_micro(self.reactor.seconds())
        lease = self._lease
        if lease is None:
            try:
                lease = await self.client.get(LEASES, self.node_name, "kube-node-lease")
            except APIError as e:
                if e.code != 404:
                    raise
                self._lease = await self.client.create(LEASES, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.node_name, "namespace": "kube-node-lease", "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                         "uid": node["metadata"]["uid"]}]},
                    "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_SECONDS,
                             "renewTime": renew}})
                return
        lease["spec"]["renewTime"] = renew
        lease["spec"]["holderIdentity"] = self.node_name
        try:
            self._lease = await self.client.update(LEASES, lease)
        except APIError:
            self._lease = None     # read again next time (changed or deleted meanwhile)
            raise

    # -- pods -------------------------------------------------------------------------------------
    async def _sync(self):
        if not self.registered.called:
            return
        # With --schedule every pod is looked at (unbound ones get bound); otherwise only this node's.
        selector = None if self.schedule else f"spec.nodeName={self.node_name}"
        pods = await self.client.list(PODS, field_selector=selector)
        items = pods.get("items") or []
        if self.schedule:
            for pod in items:
                spec = pod.get("spec") or {}
                if not spec.get("nodeName") and not pod["metadata"].get("deletionTimestamp") and \
                        not spec.get("schedulingGates") and \
                        spec.get("schedulerName", "default-scheduler") == "default-scheduler":
                    await self._bind(pod)
        mine = {p["metadata"]["uid"]: p for p in items if (p.get("spec") or {}).get("nodeName") == self.node_name}
        self._removed &= set(mine)
        for uid, pod in mine.items():
            # One pod's failure (a refused write, a 409) is logged and that pod tried again later: it never
            # stops the others.
            try:
                await self._sync_pod(uid, pod)
            except Exception as e:  # noqa: BLE001 - any error of one pod is that pod's only
                log.warn("pod {ns}/{name}: sync failed: {error}", ns=pod["metadata"].get("namespace"),
                         name=pod["metadata"].get("name"), error=e)
        for uid in list(self.workers):
            if uid not in mine:
                worker = self.workers.pop(uid)
                self.tokens.forget(uid)
                if not worker.terminating:
                    worker.kill(0).addBoth(lambda _, worker=worker: self._release(worker))
        now = self.reactor.seconds()
        for uid in list(self._dirty):
            if self._retry_at.get(uid, 0) > now:
                continue
            self._dirty.discard(uid)
            worker = self.workers.get(uid)
            if worker is not None and not worker.terminating:
                try:
                    await self._write_status(worker)
                except Exception as e:  # noqa: BLE001
                    failures = self._failures[uid] = self._failures.get(uid, 0) + 1
                    delay = min(STATUS_RETRY_MAX, STATUS_RETRY_FIRST * 2 ** (failures - 1))
                    self._retry_at[uid] = now + delay
                    log.warn("pod {ns}/{name}: status not written ({error}); trying again in {delay:.0f} s",
                             ns=worker.namespace, name=worker.name, error=e, delay=delay)
                else:
                    self._failures.pop(uid, None)
                    self._retry_at.pop(uid, None)
        for uid in [uid for uid in self._retry_at if uid not in self.workers]:
            self._retry_at.pop(uid, None)
            self._failures.pop(uid, None)

    async def _sync_pod(self, uid: str, pod: dict):
        worker = self.workers.get(uid)
        if worker is None and pod["metadata"].get("deletionTimestamp"):
            # Marked for deletion with nothing of it running here (deleted while this agent was away):
            # nothing is left to stop, so the deletion is finished, as the kubelet's status manager does.
            if uid not in self._removed:
                await self._remove(pod["metadata"]["name"], pod["metadata"].get("namespace", "default"), uid)
                self._removed.add(uid)
        elif worker is None and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            await self._start(pod)
        elif worker is not None:
            worker.pod = pod
            worker.sync_deadline()
            if pod["metadata"].get("deletionTimestamp") and not worker.terminating:
                self._terminate(worker, pod["metadata"].get("deletionGracePeriodSeconds") or 0)
            worker.sync_ephemeral()

    async def _bind(self, pod):
        name, namespace = pod["metadata"]["name"], pod["metadata"].get("namespace", "default")
        try:
            await self.client.create(PODS, {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name}},
                namespace=namespace, name=name, subresource="binding")
            pod["spec"]["nodeName"] = self.node_name
        except APIError as e:
            log.info("binding {ns}/{name} failed: {error}", ns=namespace, name=name, error=e)

    async def _read_sources(self, pod, cache: Optional[dict] = None) -> Sources:
        """What the pod's environment and volumes need from the apiserver: its ConfigMaps and Secrets (None
        for one that does not exist), the Services of its namespace and the master service, where that leads,
        and the Node's allocatable.  `cache` keeps what one resync pass read, for the pods after."""
        cache = {} if cache is None else cache

        async def read(key, how):
            if key not in cache:
                cache[key] = await how()
            return cache[key]
        config_maps, secrets = set(), set()
        spec = pod.get("spec") or {}
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []) + \
                (spec.get("ephemeralContainers") or []):
            for source in container.get("envFrom") or []:
                if source.get("configMapRef"):
                    config_maps.add(source["configMapRef"].get("name", ""))
                if source.get("secretRef"):
                    secrets.add(source["secretRef"].get("name", ""))
            for item in container.get("env") or []:
                source = item.get("valueFrom") or {}
                if source.get("configMapKeyRef"):
                    config_maps.add(source["configMapKeyRef"].get("name", ""))
                if source.get("secretKeyRef"):
                    secrets.add(source["secretKeyRef"].get("name", ""))
        for volume in spec.get("volumes") or []:
            if volume.get("configMap"):
                config_maps.add(volume["configMap"].get("name", ""))
            if volume.get("secret"):
                secrets.add(volume["secret"].get("secretName", ""))
            for source in (volume.get("projected") or {}).get("sources") or []:
                if source.get("configMap"):
                    config_maps.add(source["configMap"].get("name", ""))
                if source.get("secret"):
                    secrets.add(source["secret"].get("name", ""))
        namespace = pod["metadata"].get("namespace", "default")
        sources = Sources(allocatable=self._allocatable())
        for kind, names, into in ((CONFIG_MAPS, config_maps, sources.config_maps),
                                  (SECRETS, secrets, sources.secrets)):
            for name in sorted(names - {""}):
                into[name] = await read((kind.plural, namespace, name),
                                        lambda: self._get_or_none(kind, name, namespace))
        if spec.get("enableServiceLinks") is not False:
            listed = await read(("services", namespace), lambda: self.client.list(SERVICES, namespace))
            sources.services = list(listed.get("items") or [])
        master = await read(("services", "default", "kubernetes"),
                            lambda: self._get_or_none(SERVICES, "kubernetes", "default"))
        if master is not None:
            sources.services.append(master)
        sources.master = await read(("master",), self._master_address)
        return sources

    async def _get_or_none(self, resource, name, namespace):
        try:
            return await self.client.get(resource, name, namespace)
        except APIError as e:
            if e.code != 404:
                raise
            return None

    def _allocatable(self) -> dict:
        node = getattr(self.registered, "result", None)
        return dict(((node or {}).get("status") or {}).get("allocatable") or {}) if isinstance(node, dict) else {}

    async def _master_address(self):
        """Where the `kubernetes` Service leads, for pods on a host no proxy routes its cluster IP on: the
        apiserver this agent talks to when that is HTTPS, else the address and secure port the Service's
        Endpoints name."""
        url = urlsplit(self.client.server)
        if url.scheme == "https" and url.hostname:
            return url.hostname, url.port or 443
        try:
            endpoints = await self._get_or_none(ENDPOINTS, "kubernetes", "default")
        except APIError:
            return None
        for subset in (endpoints or {}).get("subsets") or []:
            addresses, ports = subset.get("addresses") or [], subset.get("ports") or []
            if addresses and ports:
                port = next((p for p in ports if p.get("name") == "https"), ports[0])
                return addresses[0].get("ip"), int(port.get("port"))
        return None

    async def _start(self, pod):
        uid = pod["metadata"]["uid"]
        try:
            sources = await self._read_sources(pod)
        except APIError as e:
            # Tried again on the next sync; the other pods go on.
            log.info("pod {ns}/{name}: reading its sources failed: {error}", ns=pod["metadata"].get("namespace"),
                     name=pod["metadata"].get("name"), error=e)
            return
        directory = os.path.join(self.state_dir, "pods", uid)
        worker = PodWorker(self.reactor, pod, directory, self._changed, self.env, sources, self.address,
                           self.host_dirs, recorder=self.recorder)
        worker.base_env = dict(worker.base_env, KUBE_VOLUMES_DIR=os.path.join(worker.directory, "volumes"))
        self.workers[uid] = worker
        await self._setup(worker)

    async def _setup(self, worker: PodWorker):
        """Write the pod's volumes; start its containers once every volume could be set up (until then they
        wait in ContainerCreating, as upstream's do on FailedMount)."""
        # The pod sync (a new pod) and the resync may both get here for one pod: one writer at a time.
        lock = worker.volume_lock
        await lock.acquire()
        try:
            await self._setup_locked(worker)
        finally:
            lock.release()

    async def _setup_locked(self, worker: PodWorker):
        errors = await self._write_volumes(worker)
        for error in errors:
            # Each failed try posts FailedMount, as upstream's volume manager does on each retry; the
            # recorder makes the repeats one Event with a growing count.
            worker.event("Warning", "FailedMount", error)
        if errors:
            if errors != worker.volume_errors:
                log.info("pod {ns}/{name}: {errors}", ns=worker.namespace, name=worker.name,
                         errors="; ".join(errors))
            worker.volume_errors = errors
            self._changed(worker)
            return
        worker.volume_errors = []
        if worker.terminating:
            return
        if not worker.started:
            worker.started = True
            worker.start()
            return
        for container in worker.containers:
            # Containers whose ConfigMap or Secret was missing try again with what was just read.
            if (container.state.get("waiting") or {}).get("reason") == CONFIG_ERROR_REASON and \
                    not container.stopping:
                container.start()

    async def _write_volumes(self, worker: PodWorker) -> list:
        """Each volume's payload written atomically (in a thread); the FailedMount messages of those that
        could not be built (they keep what they had)."""
        pod = worker.pod
        tokens, errors = {}, []
        for key in volumes.token_requests(pod):
            try:
                tokens[key] = await self.tokens.token(key)
            except (APIError, KeyError) as e:
                if isinstance(e, APIError) and e.code == 503:
                    # An apiserver without a service-account signing key (no secure port) issues no tokens:
                    # the volume goes without its token file rather than keep the pod from starting.
                    tokens[key] = None
                if str(e) != worker.token_error:
                    worker.token_error = str(e)
                    log.info("pod {ns}/{name}: token request failed: {error}", ns=worker.namespace,
                             name=worker.name, error=e)
        payloads = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            try:
                payloads[volume["name"]] = volumes.volume_payload(volume, pod, worker.sources, tokens,
                                                                  [worker.host_ip], [worker.host_ip])
            except volumes.VolumeError as e:
                errors.append(str(e))
        base = os.path.join(worker.directory, "volumes")
        memory = {v["name"]: (v.get("emptyDir") or {}).get("sizeLimit")
                  for v in (pod.get("spec") or {}).get("volumes") or [] if volumes.memory_backed(v)}

        def write():
            failed = []
            for name, payload in payloads.items():
                target = os.path.join(base, name)
                try:
                    if name in memory:
                        volumes.mount_tmpfs(target, memory[name])
                    elif payload is None:
                        os.makedirs(target, exist_ok=True)
                    else:
                        volumes.write_atomically(target, payload)
                except OSError as e:
                    failed.append(f'MountVolume.SetUp failed for volume "{name}" : {e}')
            return failed
        return errors + await self._blocking(write)

    def _blocking(self, work) -> Deferred:
        """`work` in the reactor's thread pool (called at once with a reactor that has none, as in tests)."""
        return in_pool(self.reactor, work)

    def _release(self, worker: PodWorker) -> Deferred:
        """What the pod's volumes hold on the host (tmpfs mounts) is let go: its containers have stopped."""
        path = os.path.join(self.state_dir, "pods", worker.uid, "volumes")
        return self._blocking(lambda: volumes.unmount_all(path))

    async def _resync(self):
        """Read each running pod's sources again, so changed ConfigMaps, Secrets and Services and renewed
        tokens reach its volumes (and its containers' next start), and retry what waited for them."""
        cache: dict = {}
        for uid, worker in list(self.workers.items()):
            if worker.terminating or worker.status().get("phase") in ("Succeeded", "Failed"):
                continue
            try:
                worker.sources = await self._read_sources(worker.pod, cache)
                await self._setup(worker)
            except APIError as e:
                log.info("pod {ns}/{name}: resync failed: {error}", ns=worker.namespace, name=worker.name,
                         error=e)

    async def _token_request(self, namespace: str, account: str, body: dict) -> dict:
        return await self.client.create(SERVICE_ACCOUNTS, body, namespace, subresource="token", name=account)

    def _changed(self, worker: PodWorker):
        self._dirty.add(worker.uid)

    async def _write_status(self, worker: PodWorker):
        status = worker.status()
        status.setdefault("qosClass", hoststatus.qos_class(getattr(worker, "pod", None) or {}))
        try:
            worker.pod = await self.client.patch(PODS, worker.name, {"status": status}, worker.namespace,
                                                 subresource="status")
        except APIError as e:
            if e.code != 404:
                self._dirty.add(worker.uid)
                raise
            self._dirty.discard(worker.uid)

    async def _remove(self, name: str, namespace: str, uid: str):
        """The pod's deletion finished (grace period 0), this very pod only."""
        try:
            await self.client.delete(PODS, name, namespace, grace_period_seconds=0, preconditions={"uid": uid})
        except APIError as e:
            if e.code not in (404, 409):
                raise

    def _terminate(self, worker: PodWorker, grace: int):
        d = worker.kill(grace)

        async def remove():
            await self._release(worker)
            # The stopped containers (terminal phase, Ready False) are reported before the pod goes, as
            # upstream's status manager does, so watchers see them (`kubectl wait --for=condition=Ready=false`).
            try:
                await self._write_status(worker)
            except APIError as e:
                log.info("pod {ns}/{name}: final status not written: {error}", ns=worker.namespace,
                         name=worker.name, error=e)
            await self._remove(worker.name, worker.namespace, worker.uid)
            self.workers.pop(worker.uid, None)
            self.tokens.forget(worker.uid)
        d.addCallback(lambda _: Deferred.fromCoroutine(remove()))
        d.addErrback(lambda f: log.warn("removing pod failed: {error}", error=f.getErrorMessage()))

    def worker(self, namespace: str, name: str) -> Optional[PodWorker]:
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == name:
                return worker
        return None


"""The node agent's control loops: register the Node with a complete status, renew its Lease in
kube-node-lease, bind unscheduled pods (with --schedule), and run the pods bound to this node."""

from __future__ import annotations

import os
import platform
import signal
import socket
import uuid
from typing import Dict, Optional

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery import meta
from ..client.resources import CONFIG_MAPS, LEASES, NODES, PODS, SECRETS
from ..client.events import EventRecorder
from ..client.rest import APIError, Client
from .runner import HostDirs, PodWorker, leftover_processes

log = Logger()
LEASE_SECONDS = 40


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


def _memory_kib() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 4 * 1024 * 1024


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def node_object(name: str, address: str, kubelet_port: int, now: float) -> dict:
    """A Node as a kubelet registers it: addresses, capacity, nodeInfo and conditions all present."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    capacity = {"cpu": str(os.cpu_count() or 1), "memory": f"{_memory_kib()}Ki", "pods": "110",
                "ephemeral-storage": "10Gi", "hugepages-2Mi": "0", "hugepages-1Gi": "0"}
    stamp = meta.rfc3339(now)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch}},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "conditions": node_conditions(stamp, stamp),
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
    def cond(kind, status, reason, message):
        return {"type": kind, "status": status, "lastHeartbeatTime": heartbeat,
                "lastTransitionTime": transition, "reason": reason, "message": message}
    return [cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")]


class NodeAgent(service.Service):
    """Register, heartbeat, schedule and run pods; every loop tolerates a server that is away."""

    def __init__(self, reactor, client: Client, node_name: str, address: str, kubelet_port: int,
                 state_dir: str, schedule: bool = False, sync_interval: float = 0.5,
                 lease_interval: float = 10.0, recorder: Optional[EventRecorder] = None):
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
        self._timers = []
        self._dirty = set()
        self._removed = set()      # uids of pods whose deletion this agent finished without a worker
        self.host_dirs = HostDirs()
        self._registered_at = None
        self.registered = Deferred()
        self.env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                    "KUBERNETES_SERVICE_HOST": address}

    def startService(self):
        super().startService()
        self._stop_leftovers()
        self._loop(self._register_and_lease, self.lease_interval)
        self._loop(self._sync, self.sync_interval)

    def stopService(self):
        super().stopService()
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        waits = [worker.kill(0) for worker in self.workers.values()]
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
        now = self.reactor.seconds()
        wanted = node_object(self.node_name, self.address, self.kubelet_port, now)
        try:
            current = await self.client.get(NODES, self.node_name)
        except APIError as e:
            if e.code != 404:
                raise
            current = await self.client.create(NODES, wanted)
        else:
            transition = self._registered_at or meta.rfc3339(now)
            wanted["status"]["conditions"] = node_conditions(meta.rfc3339(now), transition)
            current["status"] = wanted["status"]
            current = await self.client.update(NODES, current, subresource="status")
        if self._registered_at is None:
            self._registered_at = meta.rfc3339(now)
        await self._renew_lease(current)
        if not self.registered.called:
            self.registered.callback(current)

    async def _renew_lease(self, node: dict):
        renew = meta.rfc3339_micro(self.reactor.seconds())
        try:
            lease = await self.client.get(LEASES, self.node_name, "kube-node-lease")
        except APIError as e:
            if e.code != 404:
                raise
            await self.client.create(LEASES, {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": "kube-node-lease", "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                     "uid": node["metadata"]["uid"]}]},
                "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_SECONDS,
                         "renewTime": renew}})
            return
        lease["spec"]["renewTime"] = renew
        lease["spec"]["holderIdentity"] = self.node_name
        await self.client.update(LEASES, lease)

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
        for uid in list(self.workers):
            if uid not in mine:
                worker = self.workers.pop(uid)
                if not worker.terminating:
                    worker.kill(0)
        for uid in list(self._dirty):
            self._dirty.discard(uid)
            worker = self.workers.get(uid)
            if worker is not None and not worker.terminating:
                await self._write_status(worker)

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

    async def _resolve(self, pod) -> dict:
        """The configMaps and secrets a pod's env refers to, read before its containers start."""
        wanted = set()
        for container in (pod.get("spec") or {}).get("containers") or []:
            for source in container.get("envFrom") or []:
                if source.get("configMapRef"):
                    wanted.add(("configmaps", source["configMapRef"].get("name")))
                if source.get("secretRef"):
                    wanted.add(("secrets", source["secretRef"].get("name")))
            for item in container.get("env") or []:
                source = item.get("valueFrom") or {}
                if source.get("configMapKeyRef"):
                    wanted.add(("configmaps", source["configMapKeyRef"].get("name")))
                if source.get("secretKeyRef"):
                    wanted.add(("secrets", source["secretKeyRef"].get("name")))
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            if volume.get("configMap"):
                wanted.add(("configmaps", volume["configMap"].get("name")))
            if volume.get("secret"):
                wanted.add(("secrets", volume["secret"].get("secretName")))
            for source in (volume.get("projected") or {}).get("sources") or []:
                if source.get("configMap"):
                    wanted.add(("configmaps", source["configMap"].get("name")))
                if source.get("secret"):
                    wanted.add(("secrets", source["secret"].get("name")))
        resolved = {}
        namespace = pod["metadata"].get("namespace", "default")
        import base64
        for kind, name in wanted:
            try:
                obj = await self.client.get(CONFIG_MAPS if kind == "configmaps" else SECRETS, name, namespace)
            except APIError:
                continue
            data = dict(obj.get("data") or {})
            if kind == "secrets":
                data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}
            resolved[(kind, name)] = data
        return resolved

    async def _start(self, pod):
        uid = pod["metadata"]["uid"]
        resolved = await self._resolve(pod)
        directory = os.path.join(self.state_dir, "pods", uid)
        worker = PodWorker(self.reactor, pod, directory, self._changed, self.env, resolved, self.address,
                           self.host_dirs, recorder=self.recorder)
        self.workers[uid] = worker
        self._materialize_volumes(worker, pod)
        worker.start()

    def _materialize_volumes(self, worker, pod):
        """emptyDir, configMap, secret and downwardAPI volumes as files under the pod's directory
        (volumes/<name>); containers find them through $KUBE_VOLUMES_DIR."""
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            path = os.path.join(worker.directory, "volumes", volume["name"])
            os.makedirs(path, exist_ok=True)
            files = {}
            if volume.get("configMap"):
                files = self._keyed(worker, "configmaps", volume["configMap"].get("name"), volume["configMap"])
            elif volume.get("secret"):
                files = self._keyed(worker, "secrets", volume["secret"].get("secretName"), volume["secret"])
            elif volume.get("downwardAPI"):
                for item in volume["downwardAPI"].get("items") or []:
                    field = (item.get("fieldRef") or {}).get("fieldPath", "")
                    if field in ("metadata.labels", "metadata.annotations"):
                        values = pod["metadata"].get(field.split(".")[1]) or {}
                        files[item["path"]] = "".join(f'{k}="{v}"\n' for k, v in sorted(values.items()))
                    else:
                        value = worker.field(field)
                        if value is not None:
                            files[item["path"]] = value
            for relative, content in files.items():
                target = os.path.normpath(os.path.join(path, relative))
                if not target.startswith(path + os.sep):
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w") as f:
                    f.write(content)
        self.env_for(worker)

    def env_for(self, worker):
        worker.base_env = dict(worker.base_env, KUBE_VOLUMES_DIR=os.path.join(worker.directory, "volumes"))

    @staticmethod
    def _keyed(worker, kind, name, source) -> dict:
        data = worker.resolved.get((kind, name)) or {}
        items = source.get("items")
        if items:
            return {item["path"]: data[item["key"]] for item in items if item.get("key") in data}
        return dict(data)

    def _changed(self, worker: PodWorker):
        self._dirty.add(worker.uid)

    async def _write_status(self, worker: PodWorker):
        try:
            worker.pod = await self.client.patch(PODS, worker.name, {"status": worker.status()}, worker.namespace,
                                                 subresource="status")
        except APIError as e:
            if e.code != 404:
                self._dirty.add(worker.uid)
                raise

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
            # The stopped containers (terminal phase, Ready False) are reported before the pod goes, as
            # upstream's status manager does, so watchers see them (`kubectl wait --for=condition=Ready=false`).
            try:
                await self._write_status(worker)
            except APIError as e:
                log.info("pod {ns}/{name}: final status not written: {error}", ns=worker.namespace,
                         name=worker.name, error=e)
            await self._remove(worker.name, worker.namespace, worker.uid)
            self.workers.pop(worker.uid, None)
        d.addCallback(lambda _: Deferred.fromCoroutine(remove()))
        d.addErrback(lambda f: log.warn("removing pod failed: {error}", error=f.getErrorMessage()))

    def worker(self, namespace: str, name: str) -> Optional[PodWorker]:
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == name:
                return worker
        return None


"""Pods as host processes: each container's command runs with the host's own tools (an image cannot
be pulled here), in its own session so that signals reach everything it started.  Restart policy,
exit codes and the pod's phase, conditions and containerStatuses follow what a kubelet reports."""

from __future__ import annotations

import os
import re
import shutil
import signal
from typing import Callable, Dict, List, Optional, Set

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from ..machinery import meta
from . import images
from .logstore import ContainerLog, ensure_dir

log = Logger()
_SETSID = shutil.which("setsid")
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")
# What a pause image runs (kapiserver.node.images maps images to host programs).
IDLE_COMMAND = ["sleep", "infinity"]


_UNSHARE = shutil.which("unshare")
# Bind-mounts the pod's volumes at their mountPaths, then becomes the container's command.
_MOUNT_SCRIPT = ('set -e; while [ "$1" != "--" ]; do mkdir -p "$2"; mount --bind "$1" "$2"; '
                 'if [ "$3" = ro ]; then mount -o remount,bind,ro "$2"; fi; shift 3; done; shift; exec "$@"')


def can_mount() -> bool:
    """Volumes go to their mountPath only where a private mount namespace is possible (root, unshare)."""
    return os.geteuid() == 0 and _UNSHARE is not None


def mount_namespace_argv(mounts) -> List[str]:
    """The argv prefix that runs a command in a private mount namespace with `mounts` bound in place:
    (source, target, read_only) triples."""
    args = [_UNSHARE, "--mount", "--propagation", "private", "--", "sh", "-c", _MOUNT_SCRIPT, "mount-volumes"]
    for source, target, read_only in mounts:
        args += [source, target, "ro" if read_only else "rw"]
    return args + ["--"]


def expand(text: str, env: Dict[str, str]) -> str:
    """$(VAR) references as the kubelet expands them in command, args and env values."""
    def one(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)
    return _VAR_REF.sub(one, text)


def leftover_processes(pods_dir: str) -> List[int]:
    """The pids of processes still running containers that an earlier agent on this root directory started
    (their environment names a volumes directory under `pods_dir`), found in /proc: not this agent's
    children, so it can neither watch nor stop them as containers."""
    prefix = ("KUBE_VOLUMES_DIR=" + os.path.join(os.path.abspath(pods_dir), "")).encode()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(prefix) for item in environ):
            found.append(int(entry))
    return found


class _ContainerProcess(protocol.ProcessProtocol):
    def __init__(self, container: "Container"):
        self.container = container

    def outReceived(self, data):
        self.container.output(data)

    errReceived = outReceived

    def processEnded(self, reason):
        code = getattr(reason.value, "exitCode", None)
        sig = getattr(reason.value, "signal", None)
        if code is None:
            code = 128 + (sig or 9)
        self.container.exited(code, sig)


class Container:
    """One container of a pod: the process of its current instance, its state and its logs."""

    def __init__(self, pod: "PodWorker", spec: dict):
        self.pod = pod
        self.spec = spec
        self.name = spec["name"]
        self.restart_count = 0
        self.state: dict = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict = {}
        self.transport = None
        self.log: Optional[ContainerLog] = None
        self.previous_log_path: Optional[str] = None
        self.stdin_listeners: List[Callable[[bytes], None]] = []
        self._restart = None
        self.stopping = False
        self._exit_waiters: List[Deferred] = []

    @property
    def running(self) -> bool:
        return "running" in self.state

    def log_path(self, instance: int) -> str:
        return os.path.join(self.pod.directory, "logs", f"{self.name}-{instance}.log")

    def start(self) -> None:
        self._restart = None
        if self.stopping:
            return
        env = self.pod.environment(self.spec)
        argv = [expand(a, env) for a in (self.spec.get("command") or []) + (self.spec.get("args") or [])]
        if not self.spec.get("command"):
            argv = images.command_for(self, argv)    # the image's stand-in on the host (kapiserver.node.images)
            if argv is None:
                return
        executable = shutil.which(argv[0], path=env.get("PATH")) if "/" not in argv[0] else argv[0]
        ensure_dir(os.path.dirname(self.log_path(0)))
        if self.log is not None:
            self.previous_log_path = self.log.path
        self.log = ContainerLog(self.log_path(self.restart_count))
        cwd = self.spec.get("workingDir") or self.pod.directory
        if not os.path.isdir(cwd):
            cwd = self.pod.directory
        if executable is None:
            message = (f'failed to create containerd task: exec: "{argv[0]}": executable file not found '
                       f'in $PATH')
            self.log.close()
            self._terminate_state(128, None, reason="StartError", message=message)
            self.pod.changed()
            self._maybe_restart(128)
            return
        argv = [executable] + argv[1:]
        mounts = self.pod.mounts_for(self.spec)
        if mounts:
            argv = mount_namespace_argv(mounts) + argv
        if _SETSID:
            argv = [_SETSID] + argv
        executable = argv[0]
        self.started_at = meta.rfc3339(self.pod.reactor.seconds())
        self.transport = self.pod.reactor.spawnProcess(
            _ContainerProcess(self), executable, argv, env=env, path=cwd,
            childFDs={0: "w", 1: "r", 2: "r"})
        if not self.spec.get("stdin"):
            self.transport.closeStdin()
        self.state = {"running": {"startedAt": self.started_at}}
        self.pod.changed()

    def output(self, data: bytes) -> None:
        if self.log is not None:
            self.log.write(data)

    def write_stdin(self, data: bytes) -> None:
        if self.transport is not None and self.spec.get("stdin"):
            self.transport.write(data)

    def close_stdin(self) -> None:
        if self.transport is not None and self.spec.get("stdinOnce"):
            self.transport.closeStdin()

    def _terminate_state(self, code: int, sig, reason=None, message=None) -> None:
        finished = meta.rfc3339(self.pod.reactor.seconds())
        terminated = {"exitCode": code, "reason": reason or ("Completed" if code == 0 else "Error"),
                      "startedAt": getattr(self, "started_at", finished), "finishedAt": finished,
                      "containerID": self.container_id()}
        if sig:
            terminated["signal"] = sig
        if message:
            terminated["message"] = message
        self.state = {"terminated": terminated}

    def exited(self, code: int, sig) -> None:
        self.transport = None
        if self.log is not None:
            self.log.close()
        self._terminate_state(code, sig)
        waiters, self._exit_waiters = self._exit_waiters, []
        for waiter in waiters:
            waiter.callback(code)
        self.pod.changed()
        self._maybe_restart(code)

    def _maybe_restart(self, code: int) -> None:
        policy = self.pod.restart_policy
        if self.stopping or policy == "Never" or (policy == "OnFailure" and code == 0):
            return
        delay = min(10.0, 0.5 * (2 ** self.restart_count))
        self.last_state = self.state
        self.restart_count += 1
        if self.restart_count > 1:
            self.state = {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": f"back-off restarting failed container {self.name}"}}
        self._restart = self.pod.reactor.callLater(delay, self.start)

    def container_id(self) -> str:
        return f"kapiserver://{self.pod.uid}-{self.name}-{self.restart_count}"

    def wait_exit(self) -> Deferred:
        d = Deferred()
        if self.transport is None:
            d.callback(None)
        else:
            self._exit_waiters.append(d)
        return d

    def signal(self, name: str) -> None:
        if self.transport is None or self.transport.pid is None:
            return
        sig = getattr(signal, f"SIG{name}")
        try:
            if _SETSID:
                os.killpg(self.transport.pid, sig)
            else:
                os.kill(self.transport.pid, sig)
        except OSError:
            pass

    def stop(self) -> Deferred:
        self.stopping = True
        if self._restart is not None and self._restart.active():
            self._restart.cancel()
        self.signal("TERM")
        return self.wait_exit()

    def status(self) -> dict:
        out = {"name": self.name, "image": self.spec.get("image", ""), "imageID": "",
               "ready": self.running, "started": self.running, "restartCount": self.restart_count,
               "state": self.state, "lastState": self.last_state}
        if self.running or "terminated" in self.state:
            out["containerID"] = self.container_id()
        return out


class HostDirs:
    """The mountPath directories made on the host for pods' volumes (the mount script creates a missing one),
    shared by every pod of a node: one goes once no pod mounting at or under it is left, since removing it
    earlier would detach the same path's mounts of pods still running, and one made again by a pod that found
    it existing while another was leaving is still known."""

    def __init__(self):
        self.created: Set[str] = set()
        self.users: Dict[str, Set[str]] = {}

    def use(self, uid: str, target: str) -> None:
        path = os.path.normpath(target)
        self.users.setdefault(path, set()).add(uid)
        while path != "/" and not os.path.exists(path):
            self.created.add(path)
            path = os.path.dirname(path)

    def release(self, uid: str) -> None:
        """The pod ``uid`` mounts nothing any more: remove what no other pod needs."""
        self.users = {path: users - {uid} for path, users in self.users.items() if users - {uid}}
        busy = set()
        for path in self.users:
            while path != "/" and path not in busy:
                busy.add(path)
                path = os.path.dirname(path)
        for path in sorted(self.created - busy, key=len, reverse=True):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            self.created.discard(path)


class PodWorker:
    """The containers of one pod on this node."""

    def __init__(self, reactor, pod: dict, directory: str, on_change: Callable[["PodWorker"], None],
                 environment: Dict[str, str], resolved: Optional[dict] = None, host_ip="127.0.0.1",
                 host_dirs: Optional[HostDirs] = None):
        self.reactor = reactor
        self.pod = pod
        self.uid = pod["metadata"]["uid"]
        self.namespace = pod["metadata"].get("namespace", "default")
        self.name = pod["metadata"]["name"]
        self.directory = ensure_dir(directory)
        self.on_change = on_change
        self.base_env = environment
        self.resolved = resolved or {}
        self.host_ip = host_ip
        self.restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        self.containers = [Container(self, c) for c in (pod.get("spec") or {}).get("containers") or []]
        self.start_time = meta.rfc3339(reactor.seconds())
        self.terminating = False
        self.host_dirs = host_dirs if host_dirs is not None else HostDirs()

    def container(self, name: Optional[str]) -> Optional[Container]:
        if not name:
            return self.containers[0] if self.containers else None
        return next((c for c in self.containers if c.name == name), None)

    def environment(self, spec: dict) -> Dict[str, str]:
        env = dict(self.base_env)
        env["HOSTNAME"] = self.name
        for source in spec.get("envFrom") or []:
            ref = source.get("configMapRef") or source.get("secretRef")
            if ref:
                kind = "configmaps" if "configMapRef" in source else "secrets"
                for key, value in (self.resolved.get((kind, ref.get("name"))) or {}).items():
                    env[(source.get("prefix") or "") + key] = value
        for item in spec.get("env") or []:
            if "value" in item or not item.get("valueFrom"):
                env[item["name"]] = expand(str(item.get("value") or ""), env)
                continue
            source = item["valueFrom"]
            value = None
            if "fieldRef" in source:
                value = self.field(source["fieldRef"].get("fieldPath", ""))
            elif "configMapKeyRef" in source or "secretKeyRef" in source:
                kind = "configmaps" if "configMapKeyRef" in source else "secrets"
                ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
                value = (self.resolved.get((kind, ref.get("name"))) or {}).get(ref.get("key"))
            if value is not None:
                env[item["name"]] = value
        return env

    def field(self, path: str) -> Optional[str]:
        metadata = self.pod["metadata"]
        simple = {"metadata.name": self.name, "metadata.namespace": self.namespace,
                  "metadata.uid": self.uid, "spec.nodeName": self.pod["spec"].get("nodeName"),
                  "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName"),
                  "status.podIP": self.host_ip, "status.hostIP": self.host_ip}
        if path in simple:
            return simple[path]
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
        if match:
            return (metadata.get(match.group(1)) or {}).get(match.group(2))
        return None

    def mounts_for(self, spec: dict) -> List[tuple]:
        """(volume directory, mountPath, readOnly) of a container's volumeMounts, when mounting is possible."""
        if not can_mount():
            return []
        names = {v["name"] for v in (self.pod.get("spec") or {}).get("volumes") or []}
        out = []
        for mount in spec.get("volumeMounts") or []:
            if mount.get("name") in names and mount.get("mountPath", "").startswith("/"):
                source = os.path.join(self.directory, "volumes", mount["name"], mount.get("subPath") or "")
                out.append((source.rstrip("/") or source, mount["mountPath"], bool(mount.get("readOnly"))))
                self.host_dirs.use(self.uid, mount["mountPath"])
        return out

    def remove_created_dirs(self) -> None:
        self.host_dirs.release(self.uid)

    def namespace_pid(self, container: "Container") -> Optional[int]:
        """The pid whose mount namespace a command run "in" the container must enter, if it has its own."""
        if container.transport is None or not self.mounts_for(container.spec):
            return None
        return container.transport.pid

    def start(self) -> None:
        for container in self.containers:
            container.start()

    def changed(self) -> None:
        self.on_change(self)

    def kill(self, grace: float) -> Deferred:
        """SIGTERM every container, SIGKILL what is left after the grace period."""
        self.terminating = True
        waits = [c.stop() for c in self.containers]
        timer = self.reactor.callLater(max(grace, 0), lambda: [c.signal("KILL") for c in self.containers])
        from twisted.internet.defer import gatherResults
        d = gatherResults(waits)

        def done(result):
            if timer.active():
                timer.cancel()
            self.remove_created_dirs()
            return result
        return d.addBoth(done)

    def status(self) -> dict:
        statuses = [c.status() for c in self.containers]
        states = [s["state"] for s in statuses]
        restarting = any(c._restart is not None and c._restart.active() for c in self.containers)
        if all("terminated" in s for s in states) and not restarting and states:
            codes = [s["terminated"]["exitCode"] for s in states]
            phase = "Succeeded" if all(code == 0 for code in codes) else "Failed"
        elif any("running" in s for s in states) or restarting or \
                any(c.restart_count for c in self.containers):
            phase = "Running"
        else:
            phase = "Pending"
        ready = bool(statuses) and all(s["ready"] for s in statuses)
        now = meta.rfc3339(self.reactor.seconds())
        previous = {c["type"]: c for c in (self.pod.get("status") or {}).get("conditions") or []}

        def condition(kind, value, reason=None):
            status = "True" if value else "False"
            old = previous.get(kind)
            since = old["lastTransitionTime"] if old and old.get("status") == status and \
                old.get("lastTransitionTime") else now
            out = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
            if reason and not value:
                out["reason"] = reason
            return out
        conditions = [
            condition("PodReadyToStartContainers", True),
            condition("Initialized", True),
            condition("Ready", ready, "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"),
            condition("ContainersReady", ready,
                      "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"),
            condition("PodScheduled", True),
        ]
        return {"phase": phase, "conditions": conditions, "hostIP": self.host_ip,
                "hostIPs": [{"ip": self.host_ip}], "podIP": self.host_ip, "podIPs": [{"ip": self.host_ip}],
                "startTime": self.start_time, "containerStatuses": statuses}

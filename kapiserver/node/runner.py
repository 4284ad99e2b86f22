"""Pods as host processes: each container's command runs with the host's own tools (an image cannot
be pulled here), in its own session so that signals reach everything it started.  Restart policy,
exit codes and the pod's phase, conditions and containerStatuses follow what a kubelet reports."""

from __future__ import annotations

import json
import os
import shutil
import signal
from typing import Callable, Dict, List, Optional, Set

from twisted.internet import protocol
from twisted.internet.defer import Deferred, DeferredLock, gatherResults, succeed
from twisted.logger import Logger

from ..machinery import meta
from . import environment as environment_
from . import podstatus
from .environment import ContainerConfigError, expand  # noqa: F401 (expand: re-exported)
from . import images
from .logstore import ContainerLog, ensure_dir
from .probes import Prober, http_get, resolve_port, run_action, run_exec

log = Logger()
_SETSID = shutil.which("setsid")
_NSENTER = shutil.which("nsenter")
BACKOFF = (10.0, 300.0)            # the kubelet's crash-loop back-off: initial and cap, in seconds
MINIMUM_GRACE = 2.0                # SIGKILL comes at least this long after a preStop hook
DEFAULT_GRACE = 30
MAX_TERMINATION_MESSAGE = 4096
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


_UNSHARE = shutil.which("unshare")
# The shell that mounts a pod's volumes before it becomes the container's command: bash where there is one,
# as dash (many hosts' sh) drops variables whose names are not shell identifiers (`data-1` from envFrom).
_MOUNT_SHELL = shutil.which("bash") or "sh"
# Bind-mounts the pod's volumes at their mountPaths, then becomes the container's command.
_MOUNT_SCRIPT = ('set -e; while [ "$1" != "--" ]; do mkdir -p "$2"; mount --bind "$1" "$2"; '
                 'if [ "$3" = ro ]; then mount -o remount,bind,ro "$2"; fi; shift 3; done; shift; exec "$@"')


def can_mount() -> bool:
    """Volumes go to their mountPath only where a private mount namespace is possible (root, unshare)."""
    return os.geteuid() == 0 and _UNSHARE is not None


def mount_namespace_argv(mounts) -> List[str]:
    """The argv prefix that runs a command in a private mount namespace with `mounts` bound in place:
    (source, target, read_only) triples."""
    args = [_UNSHARE, "--mount", "--propagation", "private", "--", _MOUNT_SHELL, "-c", _MOUNT_SCRIPT,
            "mount-volumes"]
    for source, target, read_only in mounts:
        args += [source, target, "ro" if read_only else "rw"]
    return args + ["--"]


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


def go_duration(seconds: float) -> str:
    """Seconds as Go prints a time.Duration of whole seconds: 10s, 1m20s, 5m0s."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{seconds}s"


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class Container:
    """One container of a pod (``kind`` "containers" or "initContainers"): the process of its current
    instance, its state, probes, back-off and logs.

    Restarts follow the kubelet: the first restart of a failed container is immediate, each next one waits
    a back-off that starts at ``pod.backoff[0]`` (10 s) and doubles up to ``pod.backoff[1]`` (5 min), waiting
    in state CrashLoopBackOff; an instance that ran twice the cap (10 min) resets it."""

    def __init__(self, pod: "PodWorker", spec: dict, kind: str = "containers"):
        self.pod = pod
        self.spec = spec
        self.kind = kind
        self.name = spec["name"]
        self.sidecar = kind == "initContainers" and spec.get("restartPolicy") == "Always"
        self.restart_count = 0
        self.instances = 0              # the instances started by this agent
        self.ran_before = False         # an agent before this one ran an instance (its restartCount goes on)
        initializing = pod_has_init(pod) and kind != "ephemeralContainers"
        self.state: dict = {"waiting": {"reason": "PodInitializing" if initializing else "ContainerCreating"}}
        self.last_state: dict = {}
        self.transport = None
        self.log: Optional[ContainerLog] = None
        self.previous_log_path: Optional[str] = None
        self.ended_log_path: Optional[str] = None     # the log of an instance an earlier agent saw end for good
        self.stdin_listeners: List[Callable[[bytes], None]] = []
        self._restart = None
        self._kill_timer = None
        self.stopping = False           # stopped for good: the pod terminates
        self.succeeded = False          # an init container that exited 0
        self.started = False            # running, and its startup probe (if any) succeeded
        self.ready_probe: Optional[bool] = None
        self.probers: Dict[str, Prober] = {}
        self.backoff: Optional[float] = None
        self.backoff_updated = 0.0
        self._restart_reason: Optional[str] = None     # the kubelet stops this instance to restart it
        self.hook_error: Optional[str] = None          # why this instance's postStart hook failed
        self._killing = False
        self._exit_waiters: List[Deferred] = []
        self.termination_path: Optional[str] = None

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def field_path(self) -> str:
        return f"spec.{self.kind}{{{self.name}}}"

    @property
    def policy(self) -> str:
        """The restart policy that applies to this container."""
        if self.kind == "initContainers":
            if self.sidecar:
                return "Always"
            return "Never" if self.pod.restart_policy == "Never" else "OnFailure"
        if self.kind == "ephemeralContainers":
            return "Never"
        return self.pod.restart_policy

    @property
    def restart_pending(self) -> bool:
        return self._restart is not None and self._restart.active()

    def event(self, type_: str, reason: str, message: str) -> None:
        self.pod.event(type_, reason, message, self.field_path)

    def log_path(self, instance: int) -> str:
        return os.path.join(self.pod.directory, "logs", f"{self.name}-{instance}.log")

    def command(self, argv: List[str]):
        """How a command runs "in" this container (exec probes and hooks): (argv, env, cwd), or the
        runtime's error text when the executable is not found."""
        env = self.pod.environment(self.spec)
        cwd = self.spec.get("workingDir") or self.pod.directory
        if not os.path.isdir(cwd):
            cwd = self.pod.directory
        if not argv:
            return "command is required"
        executable = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
        if executable is None:
            return (f'OCI runtime exec failed: exec failed: unable to start container process: exec: '
                    f'"{argv[0]}": executable file not found in $PATH: unknown')
        argv = [executable] + list(argv[1:])
        pid = self.pod.namespace_pid(self)
        if pid is not None and _NSENTER is not None:
            argv = [_NSENTER, f"--target={pid}", "--mount", "--wd=" + cwd, "--"] + argv
        return argv, env, cwd

    def _termination_file(self, env: Dict[str, str]) -> str:
        """A fresh file standing for terminationMessagePath for this instance; the process finds it in
        $KUBE_TERMINATION_MESSAGE_PATH, and the path named in the spec is rewritten to it in command and args
        (a host process cannot be given the file at /dev/termination-log)."""
        path = os.path.join(self.pod.directory, "termination", f"{self.name}-{self.restart_count}")
        ensure_dir(os.path.dirname(path))
        with open(path, "wb"):
            pass
        env["KUBE_TERMINATION_MESSAGE_PATH"] = path
        return path

    def start(self) -> None:
        self._restart = None
        if self.stopping or self.pod.terminating or self.pod.deadline_exceeded:
            return
        skipped: list = []
        try:
            env = self.pod.environment(self.spec, skipped)
        except ContainerConfigError as e:
            # Retried when the node agent has read the pod's ConfigMaps and Secrets again; the event again
            # each time, as upstream's (the recorder counts the repeats on one Event).
            self.state = {"waiting": {"reason": e.reason, "message": e.message}}
            self.event("Warning", "Failed", f"Error: {e.message}")
            self.pod.changed()
            return
        for kind, source, keys in skipped:
            self.pod.event("Warning", "InvalidEnvironmentVariableNames",
                           environment_.skipped_keys_message(kind, source, keys))
        if not self.spec.get("command") and not self.spec.get("args") and \
                not images.known(self.spec.get("image") or ""):
            images.pull_failed(self)        # an image with no stand-in here: as a pull that failed
            return
        if self.instances or self.ran_before:
            self.restart_count += 1
        self.instances += 1
        self.ran_before = False
        self._restart_reason = None
        self._killing = False
        self.hook_error = None
        if "terminated" in self.state:
            self.last_state = self.state
        self.termination_path = self._termination_file(env)
        declared = self.spec.get("terminationMessagePath") or "/dev/termination-log"
        words = [a.replace(declared, self.termination_path) for a in
                 (self.spec.get("command") or []) + (self.spec.get("args") or [])]
        argv = [expand(a, env) for a in words]
        if not self.spec.get("command"):
            argv = images.command_for(self, argv)    # the image's stand-in on the host (kapiserver.node.images)
        else:
            argv = images.with_entrypoint(self.spec, argv)
        executable = shutil.which(argv[0], path=env.get("PATH")) if "/" not in argv[0] else argv[0]
        ensure_dir(os.path.dirname(self.log_path(0)))
        if self.log is not None:
            self.previous_log_path = self.log.path
        self.log = ContainerLog(self.log_path(self.restart_count), self.pod.reactor)
        cwd = self.spec.get("workingDir") or self.pod.directory
        if not os.path.isdir(cwd):
            cwd = self.pod.directory
        self.image_events()
        if executable is None:
            message = (f'failed to create containerd task: exec: "{argv[0]}": executable file not found '
                       f'in $PATH')
            self.log.close()
            self._terminate_state(128, None, reason="StartError", message=message)
            self.event("Warning", "Failed", f"Error: {message}")
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
        self.started_seconds = self.pod.reactor.seconds()
        self.event("Normal", "Created", f"Created container {self.name}")
        self.transport = self.pod.reactor.spawnProcess(
            _ContainerProcess(self), executable, argv, env=env, path=cwd,
            childFDs={0: "w", 1: "r", 2: "r"})
        if not self.spec.get("stdin"):
            self.transport.closeStdin()
        self.state = {"running": {"startedAt": self.started_at}}
        self.event("Normal", "Started", f"Started container {self.name}")
        self._post_start()
        self._start_probes()
        self.pod.changed()

    def image_events(self) -> None:
        image = self.spec.get("image", "")
        self.event("Normal", "Pulled", f'Container image "{image}" already present on machine')

    # -- probes --------------------------------------------------------------------------------------------
    def _start_probes(self) -> None:
        self.ready_probe = None
        self.started = self.spec.get("startupProbe") is None
        if self.kind == "ephemeralContainers" or (self.kind == "initContainers" and not self.sidecar):
            return
        if not self.started:
            self._prober("Startup").start()
        else:
            self._after_startup()

    def _after_startup(self) -> None:
        since = self.pod.reactor.seconds() - self.started_seconds
        for kind in ("Liveness", "Readiness"):
            if self.spec.get(f"{kind.lower()}Probe") is not None:
                self._prober(kind).start(since)

    def _prober(self, kind: str) -> Prober:
        spec = self.spec[f"{kind.lower()}Probe"]
        instance = self.instances

        def run(timeout):
            return run_action(self.pod.reactor, spec, self, timeout)

        def result(ok):
            if instance != self.instances or not self.running:
                return
            self.on_probe_result(kind, ok)

        def failed(output):
            if instance == self.instances and self.running:
                self.event("Warning", "Unhealthy", f"{kind} probe failed: {output}")

        def errored(output):
            if instance == self.instances and self.running:
                self.event("Warning", "Unhealthy", f"{kind} probe errored and resulted in unknown state: {output}")
        prober = self.probers[kind] = Prober(self.pod.reactor, kind, spec, run, result, failed, errored)
        return prober

    def on_probe_result(self, kind: str, ok: bool) -> None:
        if kind == "Readiness":
            self.ready_probe = ok
            self.pod.changed()
        elif kind == "Startup" and ok:
            self.started = True
            self._after_startup()
            self.pod.changed()
            self.pod.advance()
        elif not ok:
            # A failed liveness or startup probe: the kubelet kills the container, to be restarted (unless
            # the pod's restartPolicy is Never).
            message = f"Container {self.name} failed {kind.lower()} probe"
            if self.policy != "Never":
                message += ", will be restarted"
            self._restart_reason = kind
            grace = self.spec[f"{kind.lower()}Probe"].get("terminationGracePeriodSeconds")
            self.stop_instance(self.pod.grace_period() if grace is None else grace, message)

    def _stop_probes(self) -> None:
        for prober in self.probers.values():
            prober.stop()
        self.probers = {}

    # -- hooks ---------------------------------------------------------------------------------------------
    def _run_hook(self, which: str, timeout: float) -> Optional[Deferred]:
        """Run the lifecycle handler ``which`` ("postStart", "preStop"); fires with upstream's error message,
        or None when it succeeded.  An httpGet hook fails only when no answer comes (any status will do)."""
        handler = (self.spec.get("lifecycle") or {}).get(which)
        if not handler:
            return None
        reactor = self.pod.reactor
        name, pod = _go_quote(self.name), _go_quote(self.pod.format())
        if handler.get("exec") is not None:
            command = (handler["exec"] or {}).get("command") or []
            prepared = self.command(command)
            d = succeed((None, prepared)) if isinstance(prepared, str) else \
                run_exec(reactor, *prepared, timeout, command)

            def ran(result):
                code, output = result
                if code == 0:
                    return None
                error = output if code is None else f"command '{' '.join(command)}' exited with {code}: {output}"
                return (f"Exec lifecycle hook ([{' '.join(command)}]) for Container {name} in Pod {pod} failed - "
                        f"error: {error}, message: {_go_quote(output if code is not None else '')}")
            return d.addCallback(ran)
        if handler.get("httpGet") is not None:
            action = handler["httpGet"]
            try:
                port = resolve_port(action.get("port"), self.spec)
            except ValueError as e:
                d = succeed((False, str(e)))
            else:
                d = http_get(reactor, action, self.pod.host_ip, port, timeout, any_status=True)
            return d.addCallback(lambda result: None if result[0] else (
                f"HTTP lifecycle hook ({action.get('path', '')}) for Container {name} in Pod {pod} failed - "
                f"error: {result[1]}"))
        return run_action(reactor, handler, self, timeout).addCallback(
            lambda result: None if result[0] else f"Cannot run handler: {result[1]}")

    def _post_start(self) -> None:
        instance = self.instances
        d = self._run_hook("postStart", 365 * 86400)
        if d is None:
            return

        def done(error):
            if error is None or instance != self.instances or not self.running:
                return
            # As upstream's kubelet: the event says only that the hook failed (what the hook printed may hold
            # secrets); the error goes to the log and, until the restart, to the container's waiting state.
            log.info("pod {pod}: container {name}: {error}", pod=self.pod.format(), name=self.name, error=error)
            self.hook_error = error
            self.event("Warning", "FailedPostStartHook", "PostStartHook failed")
            self.stop_instance(self.pod.grace_period(), "FailedPostStartHook")
        d.addCallback(done)

    # -- stopping ------------------------------------------------------------------------------------------
    def stop_instance(self, grace: float, message: Optional[str] = None) -> Deferred:
        """The kubelet's killContainer: the preStop hook (within ``grace`` seconds), SIGTERM, and SIGKILL
        once the grace period is over (at least 2 s after a preStop hook)."""
        self._stop_probes()
        if self.transport is None:
            return succeed(None)
        exited = self.wait_exit()
        if self._killing:
            return exited
        self._killing = True
        self.event("Normal", "Killing", message or f"Stopping container {self.name}")
        began = self.pod.reactor.seconds()
        hook = self._run_hook("preStop", grace) if grace > 0 else None

        def terminate(error=None):
            if error:
                log.info("pod {pod}: container {name}: {error}", pod=self.pod.format(), name=self.name, error=error)
                self.event("Warning", "FailedPreStopHook", "PreStopHook failed")
            if self.transport is None:
                return
            remaining = grace - (self.pod.reactor.seconds() - began)
            if hook is not None:
                remaining = max(remaining, MINIMUM_GRACE)
            self.signal("TERM")
            self._kill_timer = self.pod.reactor.callLater(max(remaining, 0), self.signal, "KILL")
        if hook is None:
            terminate()
        else:
            hook.addCallback(terminate)
        return exited

    def stop(self, grace: float = 0) -> Deferred:
        """Stop for good (the pod terminates): no restart follows."""
        self.stopping = True
        self.cancel_restart()
        return self.stop_instance(grace)

    def cancel_restart(self) -> None:
        if self._restart is not None and self._restart.active():
            self._restart.cancel()
        self._restart = None

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
        # No "signal": a kubelet learns a container's end over CRI, which gives the exit code (128 + the signal
        # for one killed by a signal) and never the signal itself.
        if message:
            terminated["message"] = message
        self.state = {"terminated": terminated}

    def termination_message(self, code: int) -> Optional[str]:
        """What the container wrote to its terminationMessagePath (at most 4096 bytes) or, with
        FallbackToLogsOnError after a failure, the end of its log (80 lines, 2048 bytes)."""
        text = b""
        if self.termination_path:
            try:
                with open(self.termination_path, "rb") as f:
                    text = f.read(MAX_TERMINATION_MESSAGE)
            except OSError:
                pass
        if not text and code != 0 and self.log is not None and \
                self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            text = self.log.tail()
        return text.decode("utf-8", "replace") if text else None

    def exited(self, code: int, sig) -> None:
        self.transport = None
        if self._kill_timer is not None and self._kill_timer.active():
            self._kill_timer.cancel()
        self._stop_probes()
        self.started = False
        self.ready_probe = None
        if self.log is not None:
            self.log.close()
        self._terminate_state(code, sig, message=self.termination_message(code))
        if self.kind == "initContainers" and not self.sidecar and code == 0:
            self.succeeded = True
        waiters, self._exit_waiters = self._exit_waiters, []
        for waiter in waiters:
            waiter.callback(code)
        self._maybe_restart(code)
        self.pod.changed()
        self.pod.container_exited(self)

    def may_restart(self, code: int) -> bool:
        """Whether an instance that exited with ``code`` is followed by another (the restart policy's say)."""
        policy = self.policy
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    def take_over_ended(self, reported: dict) -> None:
        """An instance the agent before this one saw end for good (terminated, and the policy restarts it not):
        it stays ended, as a kubelet finds it in its runtime's records, rather than running again (the pod's
        status may not take a terminated container back to running)."""
        terminated = (reported.get("state") or {}).get("terminated")
        if not isinstance(terminated, dict) or not isinstance(terminated.get("exitCode"), int) or \
                self.may_restart(terminated["exitCode"]):
            return
        self.state = {"terminated": terminated}
        last_state = reported.get("lastState")
        self.last_state = last_state if isinstance(last_state, dict) else {}
        self.instances = 1
        self.ran_before = False
        self.succeeded = self.kind == "initContainers" and not self.sidecar and terminated["exitCode"] == 0
        self.ended_log_path = self.log_path(self.restart_count)

    def _maybe_restart(self, code: int) -> None:
        if self.stopping or self.pod.terminating or self.pod.deadline_exceeded or self.succeeded:
            return
        if self._restart_reason is not None:
            # Stopped by the kubelet after a failed probe: started again at once, unless the policy is Never.
            if self.policy != "Never":
                self._restart = self.pod.reactor.callLater(0, self.start)
            return
        if not self.may_restart(code):
            return
        now = self.pod.reactor.seconds()
        initial, cap = self.pod.backoff
        if self.backoff is None or now - self.backoff_updated > 2 * cap:
            self.backoff, self.backoff_updated = initial, now
            if self.hook_error is not None:
                # Upstream's kubelet reports the failed start (its reason cache) until the container runs again.
                self.last_state = self.state
                self.state = {"waiting": {"reason": "PostStartHookError", "message": self.hook_error}}
            self._restart = self.pod.reactor.callLater(0, self.start)
            return
        self.last_state = self.state
        self.state = {"waiting": {"reason": "CrashLoopBackOff", "message": (
            f"back-off {go_duration(self.backoff)} restarting failed container={self.name} "
            f"pod={self.pod.format()}")}}
        self.event("Warning", "BackOff", f"Back-off restarting failed container {self.name} in pod "
                                         f"{self.pod.format()}")
        self._restart = self.pod.reactor.callLater(self.backoff, self._restart_after_backoff)

    def _restart_after_backoff(self) -> None:
        self.backoff = min(self.backoff * 2, self.pod.backoff[1])
        self.backoff_updated = self.pod.reactor.seconds()
        self.start()

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
        signal_process(self.transport, name)

    @property
    def ready(self) -> bool:
        if self.kind == "initContainers" and not self.sidecar:
            return self.succeeded and "terminated" in self.state
        if not self.running or not self.started:
            return False
        return self.ready_probe is True if self.spec.get("readinessProbe") is not None else True

    def status(self) -> dict:
        out = {"name": self.name, "image": self.spec.get("image", ""), "imageID": "",
               "ready": self.ready, "started": self.running and self.started, "restartCount": self.restart_count,
               "state": self.state, "lastState": self.last_state}
        if self.running or "terminated" in self.state:
            out["containerID"] = self.container_id()
        return out


def signal_process(transport, name: str) -> None:
    """Signal a container's process and everything it started (its session, with setsid)."""
    sig = getattr(signal, f"SIG{name}")
    if _SETSID:
        try:
            os.killpg(transport.pid, sig)
            return
        except OSError:
            pass        # just spawned, not yet in a session of its own: the process itself
    try:
        os.kill(transport.pid, sig)
    except OSError:
        pass


def pod_has_init(pod: "PodWorker") -> bool:
    return bool((pod.pod.get("spec") or {}).get("initContainers"))


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
                 host_dirs: Optional[HostDirs] = None, recorder=None, backoff=BACKOFF):
        self.reactor = reactor
        self.pod = pod
        self.uid = pod["metadata"]["uid"]
        self.namespace = pod["metadata"].get("namespace", "default")
        self.name = pod["metadata"]["name"]
        self.directory = ensure_dir(directory)
        self.on_change = on_change
        self.base_env = environment
        # What the pod's environment and volumes read from the apiserver (an environment.Sources).
        self.sources = resolved if isinstance(resolved, environment_.Sources) else environment_.Sources()
        self.host_ip = host_ip
        self.restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        self.recorder = recorder
        self.backoff = backoff
        self.init_containers = [Container(self, c, "initContainers")
                                for c in (pod.get("spec") or {}).get("initContainers") or []]
        self.ephemeral_containers: List[Container] = []
        self.containers = [Container(self, c) for c in (pod.get("spec") or {}).get("containers") or []]
        self._count_earlier_instances(pod.get("status") or {})
        # startTime (and so activeDeadlineSeconds) counts from the first time a kubelet took the pod on.
        self.started_seconds = reactor.seconds()
        try:
            self.started_seconds = meta.parse_time((pod.get("status") or {}).get("startTime") or "")
        except (TypeError, ValueError):
            pass
        self.start_time = meta.rfc3339(self.started_seconds)
        self.terminating = False
        self.deadline_exceeded = False
        self._deadline = None
        self._deadline_seconds = None
        self.host_dirs = host_dirs if host_dirs is not None else HostDirs()
        # The node agent's setup of the pod's volumes: one writer at a time; the containers start once the
        # volumes could all be set up (until then, the FailedMount messages), and a failing token request is
        # logged once per distinct error.
        self.volume_lock = DeferredLock()
        self.started = False
        self.volume_errors: List[str] = []
        self.token_error: Optional[str] = None

    def _count_earlier_instances(self, status: dict) -> None:
        """A pod this node ran before the agent restarted: its containers' instances go on counting from the
        restartCount it reported (the predecessor's instances were stopped; the next is a restart), as a
        kubelet counts from the runtime's record of the containers it ran."""
        reported = {(kind, s.get("name")): s for kind, key in (("containers", "containerStatuses"),
                                                                ("initContainers", "initContainerStatuses"))
                    for s in status.get(key) or () if isinstance(s, dict)}
        for container in self.init_containers + self.containers:
            earlier = reported.get((container.kind, container.name))
            if earlier and earlier.get("containerID") and isinstance(earlier.get("restartCount"), int):
                container.restart_count = earlier["restartCount"]
                container.ran_before = True
                container.take_over_ended(earlier)

    def container(self, name: Optional[str]) -> Optional[Container]:
        if not name:
            return self.containers[0] if self.containers else None
        return next((c for c in self.containers + self.init_containers + self.ephemeral_containers
                     if c.name == name), None)

    def format(self) -> str:
        """The pod as the kubelet names it in messages: name_namespace(uid)."""
        return f"{self.name}_{self.namespace}({self.uid})"

    def event(self, type_: str, reason: str, message: str, field_path: Optional[str] = None) -> None:
        """An event about this pod (or one of its containers) from the kubelet, if a recorder was given."""
        if self.recorder is None:
            return
        reference = {"kind": "Pod", "apiVersion": "v1", "metadata": self.pod["metadata"]}
        self.recorder.event(reference, type_, reason, message, field_path=field_path)

    def grace_period(self) -> float:
        value = (self.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return DEFAULT_GRACE if value is None else value

    def environment(self, spec: dict, skipped: Optional[list] = None) -> Dict[str, str]:
        base = dict(self.base_env, HOSTNAME=self.name)
        return environment_.container_environment(self.pod, spec, self.sources, base, [self.host_ip], [self.host_ip],
                                                  skipped)

    def field(self, path: str) -> Optional[str]:
        return environment_.field_value(self.pod, path, [self.host_ip], [self.host_ip])

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
        root = images.document_root(spec)
        if root is not None and all(os.path.normpath(target) != root for _source, target, _ro in out):
            # The stand-in's pages at the image's document root, as the image has them (kapiserver.node.images).
            source = images.html_dir(self.directory, spec.get("name") or "")
            os.makedirs(source, exist_ok=True)
            out.append((source, root, False))
            self.host_dirs.use(self.uid, root)
        return out

    def remove_created_dirs(self) -> None:
        self.host_dirs.release(self.uid)

    def namespace_pid(self, container: "Container") -> Optional[int]:
        """The pid whose mount namespace a command run "in" the container must enter, if it has its own."""
        if container.transport is None or not self.mounts_for(container.spec):
            return None
        return container.transport.pid

    def start(self) -> None:
        self.started = True
        self.sync_deadline()
        self.advance()
        self.sync_ephemeral()

    def sync_deadline(self) -> None:
        """(Re)arm the activeDeadlineSeconds timer from the pod's spec, which an update may set or shorten
        while the pod runs (upstream's "Pods, ActiveDeadlineSeconds" conformance test does)."""
        deadline = (self.pod.get("spec") or {}).get("activeDeadlineSeconds")
        if self.terminating or self.deadline_exceeded or deadline == self._deadline_seconds:
            return
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline, self._deadline_seconds = None, deadline
        if deadline is not None:
            self._deadline = self.reactor.callLater(
                max(0.0, self.started_seconds + deadline - self.reactor.seconds()), self._deadline_exceeded)

    def sync_ephemeral(self) -> None:
        """Start the ephemeral containers (`kubectl debug`) added to the pod since: each runs once (never
        restarted, no probes or hooks), beside the others."""
        if self.terminating or self.deadline_exceeded:
            return
        known = {c.name for c in self.ephemeral_containers}
        for spec in (self.pod.get("spec") or {}).get("ephemeralContainers") or []:
            if spec.get("name") and spec["name"] not in known:
                container = Container(self, spec, "ephemeralContainers")
                self.ephemeral_containers.append(container)
                container.start()

    def advance(self) -> None:
        """Start what may start now: init containers one after the other (the next once the one before exited
        0, or, for a sidecar, once it started), then all regular containers."""
        if self.terminating or self.deadline_exceeded:
            return
        for container in self.init_containers:
            if not container.instances:
                container.start()
            if container.sidecar and not container.started:
                return
            if not container.sidecar and not container.succeeded:
                return
        for container in self.containers:
            if not container.instances:
                container.start()

    def container_exited(self, container: Container) -> None:
        if container.kind == "initContainers" and container.succeeded:
            self.reactor.callLater(0, self.advance)
        elif container.kind == "initContainers" and not container.sidecar and container.policy == "Never":
            self._stop_sidecars(self.grace_period())      # initialization failed: the pod fails
        elif container.kind == "containers" and not self.terminating and self.containers and \
                all(c.transport is None and not c.restart_pending for c in self.containers) and \
                all(c.instances for c in self.containers):
            # Every regular container is done for good: the sidecars are stopped, last started first.
            self._stop_sidecars(self.grace_period())

    def _stop_sidecars(self, grace: float) -> Deferred:
        deadline = self.reactor.seconds() + grace
        sidecars = [c for c in reversed(self.init_containers) if c.sidecar]
        for sidecar in sidecars:
            sidecar.stopping = True
            sidecar.cancel_restart()

        def next_one(_=None):
            while sidecars:
                sidecar = sidecars.pop(0)
                if sidecar.transport is not None:
                    return sidecar.stop(max(0.0, deadline - self.reactor.seconds())).addBoth(next_one)
            return None
        return succeed(None).addCallback(next_one)

    def _deadline_exceeded(self) -> None:
        """activeDeadlineSeconds passed: the pod fails and its containers are stopped."""
        if self.terminating:
            return
        self.deadline_exceeded = True
        self.event("Normal", "DeadlineExceeded", DEADLINE_MESSAGE)
        self._kill(self.grace_period())
        self.changed()

    def changed(self) -> None:
        self.on_change(self)

    def kill(self, grace: float) -> Deferred:
        """Stop every container: regular ones (and running init containers) first, each with its preStop hook,
        SIGTERM and SIGKILL once ``grace`` seconds are over; then the sidecars, last started first."""
        self.terminating = True
        return self._kill(grace).addBoth(self._killed)

    def _killed(self, result):
        self.remove_created_dirs()
        return result

    def _kill(self, grace: float) -> Deferred:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        deadline = self.reactor.seconds() + grace
        for container in self.init_containers + self.containers:
            container.cancel_restart()
        first = [c.stop(grace) for c in self.containers + self.ephemeral_containers + self.init_containers
                 if not c.sidecar]
        return gatherResults(first).addBoth(
            lambda _: self._stop_sidecars(max(0.0, deadline - self.reactor.seconds())))

    def sandbox_ready(self, phase: str) -> bool:
        """Whether the pod has what stands here for upstream's sandbox (PodReadyToStartContainers): once its volumes
        are set up and its containers may start, until it is done (terminal, or being deleted) and none of its
        processes is left, when upstream's kubelet has stopped the sandbox."""
        if not self.started:
            return False
        done = self.terminating or self.deadline_exceeded or phase in ("Succeeded", "Failed")
        return not done or any(c.transport is not None for c in
                               self.init_containers + self.containers + self.ephemeral_containers)

    def status(self) -> dict:
        spec = self.pod.get("spec") or {}
        init_statuses = [c.status() for c in self.init_containers]
        statuses = [c.status() for c in self.containers]
        terminal = self.terminating or self.deadline_exceeded
        phase = "Failed" if self.deadline_exceeded else podstatus.phase(spec, init_statuses, statuses, terminal)
        previous = (self.pod.get("status") or {}).get("conditions") or []
        conditions = podstatus.conditions(spec, init_statuses, statuses, phase, meta.rfc3339(self.reactor.seconds()),
                                          previous, self.sandbox_ready(phase))
        out = {"phase": phase, "conditions": conditions, "hostIP": self.host_ip,
               "hostIPs": [{"ip": self.host_ip}], "podIP": self.host_ip, "podIPs": [{"ip": self.host_ip}],
               "startTime": self.start_time, "containerStatuses": statuses}
        if self.init_containers:
            out["initContainerStatuses"] = init_statuses
        if self.ephemeral_containers:
            out["ephemeralContainerStatuses"] = [c.status() for c in self.ephemeral_containers]
        if self.deadline_exceeded:
            out["reason"] = "DeadlineExceeded"
            out["message"] = DEADLINE_MESSAGE
        return out

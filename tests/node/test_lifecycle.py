"""Container lifecycle as upstream's kubelet runs it: probes, crash-loop back-off, init and sidecar containers,
lifecycle hooks, termination messages, activeDeadlineSeconds and the kubelet's events.  A Clock that records
spawned processes stands in for the reactor, so every step is driven by the test."""

from __future__ import annotations

import pytest
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from kapiserver.node import runner
from kapiserver.node.runner import PodWorker, go_duration


class FakeProcess:
    def __init__(self, reactor, proto, argv, env, path):
        self.reactor, self.proto, self.argv, self.env, self.path = reactor, proto, argv, env, path
        self.pid = 10_000_000 + len(reactor.processes)
        self.signals = []
        self.ended = False
        proto.makeConnection(self)

    def closeStdin(self):
        pass

    def write(self, data):
        pass

    def signalProcess(self, name):
        self.signals.append(name)

    def exit(self, code, output=b""):
        if output:
            self.proto.outReceived(output)
        self.ended = True
        reason = ProcessDone(0) if code == 0 else ProcessTerminated(exitCode=code)
        self.proto.processEnded(Failure(reason))


class FakeReactor(Clock):
    """A Clock whose spawnProcess records the process instead of starting it."""

    def __init__(self):
        super().__init__()
        self.processes = []

    def spawnProcess(self, proto, executable, argv, env=None, path=None, childFDs=None, usePTY=False):
        process = FakeProcess(self, proto, argv, env, path)
        self.processes.append(process)
        return process

    def running(self, word):
        """The processes not yet ended whose command line mentions ``word``."""
        return [p for p in self.processes if not p.ended and any(word in a for a in p.argv)]


class Recorder:
    def __init__(self):
        self.events = []

    def event(self, obj, type_, reason, message, field_path=None):
        self.events.append((reason, message, field_path))

    def reasons(self):
        return [e[0] for e in self.events]


@pytest.fixture(autouse=True)
def signals(monkeypatch):
    """Signals to a container go to the fake process (a TERM or KILL ends it as it would end a real one)."""
    def send(transport, name):
        transport.signals.append(name)
        if not transport.ended:
            transport.exit(128 + {"TERM": 15, "KILL": 9}[name])
    monkeypatch.setattr(runner, "signal_process", send)


def make_pod(tmp_path, containers, init=(), backoff=(10.0, 300.0), **spec):
    reactor, recorder, changes = FakeReactor(), Recorder(), []
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"containers": list(containers), "initContainers": list(init), **spec}}
    worker = PodWorker(reactor, pod, str(tmp_path / "pod"), changes.append, {"PATH": "/usr/bin:/bin"},
                       recorder=recorder, backoff=backoff)
    return reactor, recorder, worker


def container(name, *words, **fields):
    return {"name": name, "image": "busybox", "command": list(words) or ["sleep", "3600"], **fields}


def condition(status, kind):
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_liveness_failures_restart_the_container_with_upstreams_events(tmp_path):
    """Each failed liveness run posts Unhealthy ("Liveness probe failed: <output>"); at failureThreshold the
    container is killed ("Container c failed liveness probe, will be restarted") and started again at once."""
    probe = {"exec": {"command": ["sh", "-c", "check"]}, "periodSeconds": 5, "failureThreshold": 2,
             "initialDelaySeconds": 3}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", livenessProbe=probe)])
    worker.start()
    assert recorder.reasons() == ["Pulled", "Created", "Started"]
    assert recorder.events[0][1] == 'Container image "busybox" already present on machine'
    assert recorder.events[1:] == [("Created", "Created container c", "spec.containers{c}"),
                                   ("Started", "Started container c", "spec.containers{c}")]
    reactor.advance(2.9)
    assert reactor.running("check") == []           # initialDelaySeconds
    reactor.advance(0.1)
    reactor.running("check")[0].exit(1, b"not alive")
    assert recorder.events[-1] == ("Unhealthy", "Liveness probe failed: not alive", "spec.containers{c}")
    assert worker.containers[0].running
    reactor.advance(5)
    reactor.running("check")[0].exit(1, b"still not")
    assert recorder.events[-2][:2] == ("Unhealthy", "Liveness probe failed: still not")
    assert recorder.events[-1][:2] == ("Killing", "Container c failed liveness probe, will be restarted")
    c = worker.containers[0]
    assert c.state["terminated"]["exitCode"] == 143 and c.restart_count == 0
    reactor.advance(0)
    assert c.running and c.restart_count == 1 and c.last_state["terminated"]["exitCode"] == 143
    assert worker.status()["phase"] == "Running"


def test_liveness_failure_with_restart_policy_never_leaves_the_container_stopped(tmp_path):
    """With restartPolicy Never the killed container stays terminated and the pod fails; no "will be restarted"."""
    probe = {"tcpSocket": {"port": 1}, "periodSeconds": 1, "failureThreshold": 1}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", livenessProbe=probe)], restartPolicy="Never")
    worker.start()
    worker.containers[0].on_probe_result("Liveness", False)
    assert ("Killing", "Container c failed liveness probe", "spec.containers{c}") in recorder.events
    reactor.advance(10)
    assert worker.containers[0].restart_count == 0 and worker.status()["phase"] == "Failed"


def test_readiness_drives_ready_and_the_pod_conditions(tmp_path):
    """A container with a readiness probe is not ready until the probe succeeded successThreshold times in a row;
    failing failureThreshold times makes it unready again; Ready/ContainersReady follow with upstream's message."""
    probe = {"exec": {"command": ["ready-check"]}, "periodSeconds": 10, "successThreshold": 2, "failureThreshold": 2}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", readinessProbe=probe), container("d")])
    worker.start()
    status = worker.status()
    assert status["phase"] == "Running" and not status["containerStatuses"][0]["ready"]
    assert status["containerStatuses"][1]["ready"] is True
    ready = condition(status, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [c]"


@pytest.fixture(autouse=True)
def any_command(monkeypatch):
    """Commands are looked up on the host PATH: every name the tests use resolves."""
    real = runner.shutil.which
    monkeypatch.setattr(runner.shutil, "which", lambda name, path=None: real(name, path=path) or f"/bin/{name}")


def test_readiness_thresholds(tmp_path):
    """successThreshold successes in a row make the container ready, failureThreshold failures unready."""
    probe = {"exec": {"command": ["ready-check"]}, "periodSeconds": 10, "successThreshold": 2, "failureThreshold": 2}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", readinessProbe=probe)])
    worker.start()
    results = []
    for code in (0, 0, 1, 0, 1, 1):
        reactor.advance(0)
        reactor.running("ready-check")[0].exit(code, b"" if code == 0 else b"bad")
        results.append(worker.status()["containerStatuses"][0]["ready"])
        reactor.advance(10)
    assert results == [False, True, True, True, True, False]
    status = worker.status()
    assert condition(status, "ContainersReady")["status"] == "False"
    assert [e[1] for e in recorder.events if e[0] == "Unhealthy"] == ["Readiness probe failed: bad"] * 3


def test_startup_probe_gates_liveness_and_readiness(tmp_path):
    """Until the startup probe succeeds, the container is not started and its other probes do not run; once it
    has, liveness and readiness start; a failed startup probe restarts the container."""
    startup = {"exec": {"command": ["startup-check"]}, "periodSeconds": 1, "failureThreshold": 3}
    ready = {"exec": {"command": ["ready-check"]}, "periodSeconds": 1}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", startupProbe=startup, readinessProbe=ready)])
    worker.start()
    reactor.advance(0)
    reactor.running("startup-check")[0].exit(1)
    reactor.advance(1)
    assert reactor.running("ready-check") == []
    assert worker.status()["containerStatuses"][0]["started"] is False
    reactor.running("startup-check")[0].exit(0)
    assert worker.status()["containerStatuses"][0]["started"] is True
    reactor.advance(0)
    reactor.running("ready-check")[0].exit(0)
    assert worker.status()["containerStatuses"][0]["ready"] is True
    reactor.advance(5)
    assert reactor.running("startup-check") == []     # a startup probe stops once it succeeded


def test_startup_probe_failure_restarts(tmp_path):
    """failureThreshold failed startup probes: Killing "Container c failed startup probe, will be restarted"."""
    startup = {"exec": {"command": ["startup-check"]}, "periodSeconds": 1, "failureThreshold": 2}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", startupProbe=startup)])
    worker.start()
    for _ in range(2):
        reactor.advance(0)
        reactor.running("startup-check")[0].exit(1, b"no")
        reactor.advance(1)
    assert ("Killing", "Container c failed startup probe, will be restarted", "spec.containers{c}") in recorder.events
    assert worker.containers[0].restart_count == 1 and worker.containers[0].running


def test_a_probe_that_does_not_answer_in_time_fails(tmp_path):
    """An exec probe still running after timeoutSeconds is killed and counts as failed."""
    probe = {"exec": {"command": ["slow-check"]}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 1}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", readinessProbe=probe)])
    worker.start()
    reactor.advance(0)
    slow = reactor.running("slow-check")[0]
    reactor.advance(2)
    assert slow.signals == ["KILL"]
    assert recorder.events[-1][1] == 'Readiness probe failed: command "slow-check" timed out'


def test_crash_loop_back_off_doubles_to_five_minutes_and_resets_after_ten(tmp_path):
    """The first restart is immediate; then the container waits in CrashLoopBackOff 10 s, 20 s, ... up to 5 min
    (upstream's message and BackOff event); an instance that ran more than 10 minutes resets the back-off."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "crash")])
    worker.start()
    c = worker.containers[0]
    waits = []
    for _ in range(8):
        reactor.running("crash")[0].exit(1)
        if c.running:
            continue
        if "waiting" in c.state:
            message = c.state["waiting"]["message"]
            assert c.state["waiting"]["reason"] == "CrashLoopBackOff"
            assert c.last_state["terminated"]["exitCode"] == 1
            waits.append(message.split()[1])
            assert message == f"back-off {waits[-1]} restarting failed container=c pod=p_ns(u1)"
            assert worker.status()["phase"] == "Running"
            reactor.advance(c.backoff - 0.001)
            assert not c.running
            reactor.advance(0.001)
        else:
            reactor.advance(0)
        assert c.running
    assert waits == ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s"]
    assert c.restart_count == 8
    assert recorder.events[-4][:2] == ("BackOff", "Back-off restarting failed container c in pod p_ns(u1)")
    reactor.advance(601)
    reactor.running("crash")[0].exit(1)
    assert "terminated" in c.state
    reactor.advance(0)
    assert c.running and c.restart_count == 9
    assert go_duration(3725) == "1h2m5s"


def test_on_failure_policy_leaves_a_successful_container_and_succeeds(tmp_path):
    """restartPolicy OnFailure: a container exiting 0 is not restarted and the pod Succeeds; Ready is False
    with reason PodCompleted."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "work")], restartPolicy="OnFailure")
    worker.start()
    reactor.running("work")[0].exit(0)
    reactor.advance(60)
    status = worker.status()
    assert status["phase"] == "Succeeded" and condition(status, "Ready")["reason"] == "PodCompleted"


def test_init_containers_run_in_order_before_the_others(tmp_path):
    """Init containers run one at a time, each after the one before exited 0; the pod is Pending and not
    Initialized meanwhile ("containers with incomplete status: [...]"); then the regular containers start."""
    reactor, recorder, worker = make_pod(tmp_path, [container("app", "app")],
                                         init=[container("one", "first"), container("two", "second")])
    worker.start()
    assert [p.argv[-1] for p in reactor.processes] == ["/bin/first"]
    status = worker.status()
    assert status["phase"] == "Pending"
    assert condition(status, "Initialized")["message"] == "containers with incomplete status: [one two]"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert [s["name"] for s in status["initContainerStatuses"]] == ["one", "two"]
    reactor.running("first")[0].exit(0)
    reactor.advance(0)
    assert reactor.running("second") and not reactor.running("app")
    reactor.running("second")[0].exit(0)
    reactor.advance(0)
    assert reactor.running("app")
    status = worker.status()
    assert status["phase"] == "Running" and condition(status, "Initialized")["status"] == "True"
    assert [s["ready"] for s in status["initContainerStatuses"]] == [True, True]
    assert ("Started", "Started container one", "spec.initContainers{one}") in recorder.events


def test_a_failed_init_container_is_retried_or_fails_the_pod(tmp_path):
    """A failing init container is restarted (with back-off) under restartPolicy Always; under Never the pod
    fails and the regular containers never start."""
    reactor, recorder, worker = make_pod(tmp_path, [container("app", "app")], init=[container("one", "first")])
    worker.start()
    reactor.running("first")[0].exit(3)
    reactor.advance(0)
    assert reactor.running("first") and worker.init_containers[0].restart_count == 1
    assert worker.status()["phase"] == "Pending"
    reactor, recorder, worker = make_pod(tmp_path, [container("app", "app")], init=[container("one", "first")],
                                         restartPolicy="Never")
    worker.start()
    reactor.running("first")[0].exit(3)
    reactor.advance(60)
    assert worker.status()["phase"] == "Failed" and not reactor.running("app")


def test_sidecar_init_containers_start_in_order_and_stop_after_the_others(tmp_path):
    """A restartable init container (restartPolicy Always) keeps running; the next init container starts once its
    startup probe passed; when the regular containers have completed, the sidecar is stopped."""
    startup = {"exec": {"command": ["sidecar-started"]}, "periodSeconds": 1}
    reactor, recorder, worker = make_pod(
        tmp_path, [container("app", "app")], restartPolicy="Never",
        init=[container("side", "side", restartPolicy="Always", startupProbe=startup), container("one", "first")])
    worker.start()
    reactor.advance(0)
    assert not reactor.running("first")
    assert worker.status()["phase"] == "Pending"
    reactor.running("sidecar-started")[0].exit(0)
    reactor.advance(0)
    reactor.running("first")[0].exit(0)
    reactor.advance(0)
    status = worker.status()
    assert status["phase"] == "Running" and condition(status, "Initialized")["status"] == "True"
    side = reactor.running("side")[0]
    reactor.running("app")[0].exit(0)
    assert side.signals == ["TERM"]
    status = worker.status()
    assert status["phase"] == "Succeeded"


def test_termination_stops_regular_containers_before_sidecars(tmp_path):
    """Deleting the pod stops the regular containers first, then the sidecars."""
    reactor, recorder, worker = make_pod(
        tmp_path, [container("app", "app")], init=[container("side", "side", restartPolicy="Always")])
    worker.start()
    reactor.advance(0)
    order = []
    for name in ("app", "side"):
        process = reactor.running(name)[0]
        real_exit = process.exit
        process.exit = (lambda n, real: lambda code, output=b"": (order.append(n), real(code, output)))(name, real_exit)
    worker.kill(30)
    assert order == ["app", "side"]
    assert [e[1] for e in recorder.events if e[0] == "Killing"] == ["Stopping container app",
                                                                     "Stopping container side"]


def test_pre_stop_hook_runs_before_sigterm_and_sigkill_follows_the_grace_period(tmp_path, monkeypatch):
    """The preStop hook runs first; SIGTERM follows it; SIGKILL comes when the grace period is over."""
    sent = []

    def send(transport, name):
        sent.append((name, reactor.seconds()))
        transport.signals.append(name)
        if name == "KILL":
            transport.exit(137)
    monkeypatch.setattr(runner, "signal_process", send)
    hook = {"preStop": {"exec": {"command": ["pre-stop"]}}}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app", lifecycle=hook)])
    worker.start()
    done = worker.kill(10)
    reactor.advance(3)
    assert sent == []
    reactor.running("pre-stop")[0].exit(0)
    assert sent == [("TERM", 3)]
    reactor.advance(7)
    assert sent == [("TERM", 3), ("KILL", 10)] and done.called
    assert worker.containers[0].state["terminated"]["exitCode"] == 137


def test_failed_hooks_post_their_events(tmp_path):
    """A failing postStart hook posts FailedPostStartHook and the container is killed and restarted; a failing
    preStop hook posts FailedPreStopHook and the container still stops.  As upstream's kuberuntime_container.go,
    the events carry no output of the hook (it may hold secrets): "PostStartHook failed", "PreStopHook failed";
    the hook's error is the container's waiting message (PostStartHookError) until it runs again."""
    hooks = {"postStart": {"exec": {"command": ["post-start"]}}, "preStop": {"exec": {"command": ["pre-stop"]}}}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app", lifecycle=hooks)])
    worker.start()
    reactor.running("post-start")[0].exit(2, b"oops")
    failed = [e for e in recorder.events if e[0] == "FailedPostStartHook"]
    assert failed == [("FailedPostStartHook", "PostStartHook failed", "spec.containers{c}")]
    assert ("Killing", "FailedPostStartHook", "spec.containers{c}") in recorder.events
    reactor.running("pre-stop")[0].exit(1, b"nope")
    c = worker.containers[0]
    assert c.state == {"waiting": {"reason": "PostStartHookError", "message": (
        'Exec lifecycle hook ([post-start]) for Container "c" in Pod "p_ns(u1)" failed - error: '
        "command 'post-start' exited with 2: oops, message: \"oops\"")}}
    assert c.last_state["terminated"]["exitCode"] == 143
    reactor.advance(0)
    assert c.running and c.restart_count == 1 and c.last_state["terminated"]["exitCode"] == 143
    assert [e[1:] for e in recorder.events if e[0] == "FailedPreStopHook"] == [
        ("PreStopHook failed", "spec.containers{c}")]


def test_termination_message_from_the_file_or_the_log(tmp_path):
    """What the container wrote to its terminationMessagePath (rewritten to a file of the pod's) becomes
    state.terminated.message; with FallbackToLogsOnError a failure without one reports the end of the log."""
    reactor, recorder, worker = make_pod(
        tmp_path, [container("a", "sh", "-c", "echo -n DONE > /dev/termination-log"),
                   container("b", "fail", terminationMessagePolicy="FallbackToLogsOnError")], restartPolicy="Never")
    worker.start()
    a = reactor.processes[0]
    path = a.env["KUBE_TERMINATION_MESSAGE_PATH"]
    assert a.argv[-1] == f"echo -n DONE > {path}" and path.startswith(str(tmp_path / "pod"))
    with open(path, "w") as f:
        f.write("DONE")
    a.exit(0)
    lines = b"".join(b"line %d\n" % i for i in range(100))
    reactor.running("fail")[0].exit(1, lines)
    statuses = worker.status()["containerStatuses"]
    assert statuses[0]["state"]["terminated"]["message"] == "DONE"
    message = statuses[1]["state"]["terminated"]["message"]
    assert message.startswith("line 20\n") and message.endswith("line 99\n")


def test_active_deadline_fails_the_pod_and_stops_its_containers(tmp_path):
    """After activeDeadlineSeconds the pod is Failed with reason DeadlineExceeded and its containers stopped
    for good."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app")], activeDeadlineSeconds=5,
                                         terminationGracePeriodSeconds=1)
    worker.start()
    reactor.advance(4.9)
    assert worker.status()["phase"] == "Running"
    reactor.advance(0.1)
    status = worker.status()
    assert status["phase"] == "Failed" and status["reason"] == "DeadlineExceeded"
    assert status["message"] == "Pod was active on the node longer than the specified deadline"
    reactor.advance(60)
    assert not reactor.running("app") and worker.containers[0].restart_count == 0


def test_active_deadline_set_on_a_running_pod(tmp_path):
    """activeDeadlineSeconds given by an update while the pod runs (upstream's "Pods, ActiveDeadlineSeconds")
    counts from the pod's start; shortening it again moves the deadline sooner."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app")], terminationGracePeriodSeconds=1)
    worker.start()
    reactor.advance(10)
    worker.pod["spec"]["activeDeadlineSeconds"] = 30
    worker.sync_deadline()
    reactor.advance(15)
    assert worker.status()["phase"] == "Running"
    worker.pod["spec"]["activeDeadlineSeconds"] = 20
    worker.sync_deadline()
    reactor.advance(0)
    assert worker.status()["reason"] == "DeadlineExceeded"


def test_active_deadline_counts_from_the_pods_start_time(tmp_path):
    """A pod that already has a startTime (an agent restarted) keeps it: its deadline is not pushed back."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app")], activeDeadlineSeconds=30)
    reactor.advance(100)
    worker.pod["status"] = {"startTime": "1970-01-01T00:00:50Z"}
    worker = PodWorker(reactor, worker.pod, str(tmp_path / "pod2"), lambda w: None, {"PATH": "/bin"},
                       recorder=recorder)
    worker.start()
    assert worker.status()["startTime"] == "1970-01-01T00:00:50Z"
    reactor.advance(0)
    assert worker.status()["phase"] == "Failed"
    assert ("DeadlineExceeded", "Pod was active on the node longer than the specified deadline", None) in \
        recorder.events


def test_a_restarting_sidecar_leaves_the_pod_initialized_but_not_ready(tmp_path):
    """A sidecar that crashes after the app started keeps the pod Initialized (a regular container has run) but
    makes it unready ("containers with unready status: [side]"), and is restarted."""
    reactor, recorder, worker = make_pod(
        tmp_path, [container("app", "app")], init=[container("side", "side", restartPolicy="Always")])
    worker.start()
    reactor.advance(0)
    assert condition(worker.status(), "Ready")["status"] == "True"
    reactor.running("side")[0].exit(1)
    status = worker.status()
    assert condition(status, "Initialized")["status"] == "True"
    assert condition(status, "Ready")["message"] == "containers with unready status: [side]"
    reactor.advance(0)
    assert reactor.running("side") and worker.init_containers[0].restart_count == 1


def test_ephemeral_containers_start_once_added_and_are_never_restarted(tmp_path):
    """An ephemeral container added to the running pod (`kubectl debug`) starts beside the others, is reported in
    ephemeralContainerStatuses, leaves the phase alone and is not restarted when it exits."""
    reactor, recorder, worker = make_pod(tmp_path, [container("app", "app")])
    worker.start()
    worker.sync_ephemeral()
    assert worker.ephemeral_containers == []
    worker.pod["spec"]["ephemeralContainers"] = [container("debugger", "debug-shell", stdin=True)]
    worker.sync_ephemeral()
    worker.sync_ephemeral()
    assert len(reactor.running("debug-shell")) == 1 and worker.container("debugger").running
    assert ("Started", "Started container debugger", "spec.ephemeralContainers{debugger}") in recorder.events
    reactor.running("debug-shell")[0].exit(1)
    reactor.advance(60)
    status = worker.status()
    assert status["ephemeralContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert status["phase"] == "Running" and not reactor.running("debug-shell")


def test_config_errors_and_skipped_env_from_keys_post_upstreams_events(tmp_path):
    """A container whose env names a missing ConfigMap waits in CreateContainerConfigError and posts Warning
    Failed "Error: configmap "x" not found" about the container, again on each retry; envFrom keys that are
    no variable names post InvalidEnvironmentVariableNames about the pod, naming the sorted keys."""
    from kapiserver.node.environment import Sources
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x"}}}]
    env_from = [{"configMapRef": {"name": "bad"}}, {"secretRef": {"name": "s"}, "prefix": "P-"}]
    reactor, recorder, worker = make_pod(tmp_path, [container("c", env=env, envFrom=env_from)])
    worker.sources = Sources(config_maps={"bad": {"data": {"OK": "1", "2b": "x", "1a": "y"}}},
                             secrets={"s": {"data": {"good": "Zw==", "a b": "Zw=="}}})
    worker.start()
    c = worker.containers[0]
    assert c.state == {"waiting": {"reason": "CreateContainerConfigError", "message": 'configmap "cfg" not found'}}
    assert recorder.events == [("Failed", 'Error: configmap "cfg" not found', "spec.containers{c}")]
    c.start()       # the node agent's retry after its next read of the sources
    assert recorder.reasons() == ["Failed", "Failed"] and reactor.processes == []
    worker.sources.config_maps["cfg"] = {"data": {"x": "1"}}
    c.start()
    assert len(reactor.processes) == 1 and reactor.processes[0].env["X"] == "1"
    assert reactor.processes[0].env["P-good"] == "g" and "1a" not in reactor.processes[0].env
    assert recorder.events[2:4] == [
        ("InvalidEnvironmentVariableNames", "Keys [1a, 2b] from the EnvFrom configMap ns/bad were skipped since "
         "they are considered invalid environment variable names.", None),
        ("InvalidEnvironmentVariableNames", "Keys [P-a b] from the EnvFrom secret ns/s were skipped since they "
         "are considered invalid environment variable names.", None)]
    assert recorder.reasons()[4:] == ["Pulled", "Created", "Started"]


def test_a_restarted_agent_counts_on_from_the_reported_restarts(tmp_path):
    """The predecessor reported 6 restarts of "c" and ran an instance of it: the new agent's first instance is the
    7th restart, as a kubelet counts from the runtime's record (restartCount never goes back); a container that
    never ran (no containerID) starts at 0."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app"), container("d", "other")])
    worker.pod["status"] = {"startTime": "1970-01-01T00:00:00Z", "containerStatuses": [
        {"name": "c", "restartCount": 6, "containerID": "kapiserver://x-c-6"},
        {"name": "d", "restartCount": 0}]}
    worker = PodWorker(reactor, worker.pod, str(tmp_path / "pod2"), lambda w: None, {"PATH": "/bin"},
                       recorder=recorder)
    worker.start()
    reactor.advance(0)
    counts = {s["name"]: s["restartCount"] for s in worker.status()["containerStatuses"]}
    assert counts == {"c": 7, "d": 0}


def test_a_restarted_agent_leaves_ended_containers_ended(tmp_path):
    """A Never pod whose init container the predecessor saw exit 0: the new agent does not run it again (the pod's
    status may not take a terminated container back to running; a kubelet finds it in its runtime's records), it
    runs the app; an app that had ended for good leaves the pod Succeeded with nothing started."""
    done = {"exitCode": 0, "reason": "Completed", "startedAt": "1970-01-01T00:00:01Z",
            "finishedAt": "1970-01-01T00:00:02Z", "containerID": "kapiserver://u1-i-0"}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app")], init=[container("i", "setup")],
                                         restartPolicy="Never")
    worker.pod["status"] = {"startTime": "1970-01-01T00:00:00Z", "initContainerStatuses": [
        {"name": "i", "restartCount": 0, "containerID": "kapiserver://u1-i-0", "state": {"terminated": done}}],
        "containerStatuses": [{"name": "c", "restartCount": 0, "containerID": "kapiserver://u1-c-0",
                               "state": {"running": {"startedAt": "1970-01-01T00:00:03Z"}}}]}
    worker = PodWorker(reactor, worker.pod, str(tmp_path / "pod2"), lambda w: None, {"PATH": "/bin"},
                       recorder=recorder)
    worker.start()
    reactor.advance(0)
    assert not reactor.running("setup") and reactor.running("app")
    status = worker.status()
    assert status["initContainerStatuses"][0]["state"] == {"terminated": done}
    assert status["containerStatuses"][0]["restartCount"] == 1
    from kapiserver.registry.validation.pod import _state_transitions
    old = worker.pod["status"]
    assert _state_transitions(status["initContainerStatuses"], old["initContainerStatuses"],
                              "status.initContainerStatuses", "Never") == []

    reactor2, recorder2, ended = make_pod(tmp_path / "b", [container("c", "app")], restartPolicy="Never")
    ended.pod["status"] = {"startTime": "1970-01-01T00:00:00Z", "containerStatuses": [
        {"name": "c", "restartCount": 0, "containerID": "kapiserver://u1-c-0",
         "state": {"terminated": {**done, "containerID": "kapiserver://u1-c-0"}}}]}
    ended = PodWorker(reactor2, ended.pod, str(tmp_path / "pod3"), lambda w: None, {"PATH": "/bin"})
    ended.start()
    reactor2.advance(0)
    assert not reactor2.processes and ended.status()["phase"] == "Succeeded"


def test_ready_to_start_containers_is_false_before_the_volumes_and_after_the_end(tmp_path):
    """As upstream's sandbox: PodReadyToStartContainers is False until the pod's containers may start (the node
    agent set its volumes up), True while it runs or restarts containers, False once it is done and nothing of
    it runs (a completed pod; a deleted one); a Failed pod is not ready with reason PodFailed."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "work")], restartPolicy="Never")
    assert condition(worker.status(), "PodReadyToStartContainers")["status"] == "False"
    worker.start()
    assert condition(worker.status(), "PodReadyToStartContainers")["status"] == "True"
    reactor.running("work")[0].exit(1)
    status = worker.status()
    assert status["phase"] == "Failed"
    assert condition(status, "PodReadyToStartContainers")["status"] == "False"
    assert condition(status, "Ready")["reason"] == "PodFailed"

    reactor, recorder, worker = make_pod(tmp_path / "b", [container("c", "app")])
    worker.start()
    reactor.running("app")[0].exit(1)       # crash-looping: the sandbox stays
    assert condition(worker.status(), "PodReadyToStartContainers")["status"] == "True"
    reactor.advance(0)
    worker.kill(30)
    assert condition(worker.status(), "PodReadyToStartContainers")["status"] == "False"


def test_a_probe_that_cannot_run_errors_and_is_not_counted(tmp_path, monkeypatch):
    """As upstream's prober (prober.go, worker.go): an exec probe the runtime cannot start (no such executable) or
    an httpGet probe naming a port the container lacks is an error, not a failure: Unhealthy "<Kind> probe
    errored and resulted in unknown state: ...", and the result is thrown away, so failureThreshold is never
    reached (no restart) and readiness stays as it was."""
    real = runner.shutil.which
    monkeypatch.setattr(runner.shutil, "which",
                        lambda name, path=None: None if name == "no-such-check" else real(name, path=path) or
                        f"/bin/{name}")
    live = {"exec": {"command": ["no-such-check"]}, "periodSeconds": 1, "failureThreshold": 1}
    ready = {"httpGet": {"port": "web"}, "periodSeconds": 1}
    reactor, recorder, worker = make_pod(tmp_path, [container("c", livenessProbe=live, readinessProbe=ready)])
    worker.start()
    for _ in range(6):
        reactor.advance(1)
    c = worker.containers[0]
    assert c.running and c.restart_count == 0 and "Killing" not in recorder.reasons()
    unhealthy = [e[1] for e in recorder.events if e[0] == "Unhealthy"]
    live_errors = [m for m in unhealthy if m.startswith("Liveness")]
    assert len(live_errors) == 6
    prefix = "Liveness probe errored and resulted in unknown state: rpc error: code = Unknown desc = failed to exec " \
             "in container: failed to start exec \""
    assert live_errors[0].startswith(prefix)
    assert live_errors[0].endswith('": OCI runtime exec failed: exec failed: unable to start container process: exec: '
                                   '"no-such-check": executable file not found in $PATH: unknown')
    assert "Readiness probe errored and resulted in unknown state: couldn't find port: web in c" in unhealthy
    assert worker.status()["containerStatuses"][0]["ready"] is False


def test_a_container_ended_by_a_signal_reports_its_exit_code_only(tmp_path):
    """A process killed by SIGTERM ends with exit code 143 and reason Error; as upstream's kubelet, which learns it
    over CRI (no signal there; kuberuntime's toKubeContainerStatus), the terminated state has no "signal"."""
    reactor, recorder, worker = make_pod(tmp_path, [container("c", "app")], restartPolicy="Never")
    worker.start()
    process = reactor.running("app")[0]
    process.ended = True
    process.proto.processEnded(Failure(ProcessTerminated(signal=15)))
    terminated = worker.status()["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 143 and terminated["reason"] == "Error" and "signal" not in terminated

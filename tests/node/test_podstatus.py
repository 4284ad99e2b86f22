"""The pod phase and conditions rules of upstream's kubelet, on statuses alone."""

from kapiserver.node.podstatus import conditions, phase

RUNNING = {"running": {}}


def done(code):
    return {"terminated": {"exitCode": code}}


def status(name, state, last=None, **fields):
    return {"name": name, "state": state, "lastState": last or {}, **fields}


def test_phase_follows_upstreams_get_phase():
    """Pending while initializing or waiting for a first start; a container waiting after a crash counts as
    stopped (Running under Always); terminal pods end Succeeded/Failed whatever the policy."""
    spec = {"containers": [{"name": "a"}, {"name": "b"}], "restartPolicy": "Always"}
    assert phase(spec, [], [status("a", RUNNING), status("b", {"waiting": {}})]) == "Pending"
    crashed = status("b", {"waiting": {"reason": "CrashLoopBackOff"}}, done(1))
    assert phase(spec, [], [status("a", RUNNING), crashed]) == "Running"
    assert phase(spec, [], [status("a", done(0)), status("b", done(0))]) == "Running"
    assert phase(spec, [], [status("a", done(0)), status("b", done(0))], terminal=True) == "Succeeded"
    assert phase(spec, [], [status("a", done(0)), status("b", done(2))], terminal=True) == "Failed"
    assert phase(dict(spec, restartPolicy="OnFailure"), [], [status("a", done(0)), status("b", done(3))]) == "Running"
    assert phase(dict(spec, restartPolicy="Never"), [], [status("a", done(0)), status("b", done(3))]) == "Failed"


def test_init_containers_in_the_phase_and_conditions():
    """A failed init container fails a Never pod; a sidecar not yet started keeps the pod Pending; Initialized
    names the incomplete ones."""
    spec = {"containers": [{"name": "app"}], "restartPolicy": "Never",
            "initContainers": [{"name": "one"}, {"name": "side", "restartPolicy": "Always"}]}
    waiting = status("app", {"waiting": {"reason": "PodInitializing"}})
    assert phase(spec, [status("one", done(1)), status("side", {"waiting": {}})], [waiting]) == "Failed"
    inits = [status("one", done(0)), status("side", RUNNING, started=False)]
    assert phase(spec, inits, [waiting]) == "Pending"
    by_type = {c["type"]: c for c in conditions(spec, inits, [waiting], "Pending", "now")}
    assert by_type["Initialized"]["message"] == "containers with incomplete status: [side]"
    assert by_type["Ready"]["message"] == "containers with unready status: [side app]"
    inits[1]["started"] = inits[1]["ready"] = True
    app = status("app", RUNNING, ready=True)
    assert phase(spec, inits, [app]) == "Running"
    by_type = {c["type"]: c for c in conditions(spec, inits, [app], "Running", "later", list(by_type.values()))}
    assert by_type["Ready"]["status"] == "True" and by_type["Ready"]["lastTransitionTime"] == "later"
    assert by_type["PodScheduled"]["lastTransitionTime"] == "now"


def test_readiness_gates_and_conditions_set_by_others():
    """Ready also waits for every readiness gate's condition to be True (upstream's messages); conditions the
    kubelet does not own are kept."""
    spec = {"containers": [{"name": "app"}], "readinessGates": [{"conditionType": "example.com/lb"}]}
    app = [status("app", RUNNING, ready=True)]
    ready = {c["type"]: c for c in conditions(spec, [], app, "Running", "now")}["Ready"]
    assert ready["reason"] == "ReadinessGatesNotReady"
    assert ready["message"] == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'
    gate = {"type": "example.com/lb", "status": "False", "lastTransitionTime": "t0"}
    out = conditions(spec, [], app, "Running", "now", [gate])
    assert out[-1] == gate
    assert {c["type"]: c for c in out}["Ready"]["message"] == \
        'the status of pod readiness gate "example.com/lb" is not "True", but False'
    out = conditions(spec, [], app, "Running", "now", [dict(gate, status="True")])
    assert {c["type"]: c for c in out}["Ready"]["status"] == "True"


def test_terminal_phases_in_the_conditions():
    """Upstream's generate.go: a Failed pod's Ready and ContainersReady are False with reason PodFailed and no
    message; a Succeeded pod's with PodCompleted, and its Initialized is True with reason PodCompleted."""
    spec = {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}], "restartPolicy": "Never"}
    inits = [status("i", done(0), ready=True)]
    failed = {c["type"]: c for c in conditions(spec, inits, [status("a", done(1))], "Failed", "now")}
    for kind in ("Ready", "ContainersReady"):
        assert failed[kind]["status"] == "False" and failed[kind]["reason"] == "PodFailed"
        assert "message" not in failed[kind]
    assert failed["Initialized"]["status"] == "True" and "reason" not in failed["Initialized"]
    succeeded = {c["type"]: c for c in conditions(spec, inits, [status("a", done(0))], "Succeeded", "now")}
    assert succeeded["Initialized"] == {"type": "Initialized", "status": "True", "lastProbeTime": None,
                                        "lastTransitionTime": "now", "reason": "PodCompleted"}
    assert succeeded["Ready"]["reason"] == "PodCompleted" and "message" not in succeeded["Ready"]


def test_ready_to_start_containers_follows_the_sandbox():
    """PodReadyToStartContainers is False while there is no sandbox (before the volumes are set up, after the pod
    stopped for good) and True in between."""
    spec = {"containers": [{"name": "a"}]}
    for ready, expected in ((True, "True"), (False, "False")):
        out = {c["type"]: c for c in conditions(spec, [], [status("a", RUNNING)], "Running", "now",
                                                sandbox_ready=ready)}
        assert out["PodReadyToStartContainers"]["status"] == expected


def test_every_unready_readiness_gate_is_named():
    """Upstream's GeneratePodReadyCondition names each gate not satisfied, joined with ", "."""
    spec = {"containers": [{"name": "app"}],
            "readinessGates": [{"conditionType": "a.io/x"}, {"conditionType": "b.io/y"}, {"conditionType": "c.io/z"}]}
    previous = [{"type": "b.io/y", "status": "Unknown"}, {"type": "c.io/z", "status": "True"}]
    out = {c["type"]: c for c in conditions(spec, [], [status("app", RUNNING, ready=True)], "Running", "now",
                                            previous)}
    assert out["Ready"]["message"] == ('corresponding condition of pod readiness gate "a.io/x" does not exist., '
                                       'the status of pod readiness gate "b.io/y" is not "True", but Unknown')

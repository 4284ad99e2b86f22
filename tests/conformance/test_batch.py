"""sig-apps conformance entries for Jobs and CronJobs, run against the apiserver with job-controller and
cronjob-controller in this process and simulated nodes running the pods (kapiserver.node.simulated: a pod
"runs" for its run-seconds annotation and exits with its exit-code annotation; no container runs).

CronJob entries wait for minute boundaries upstream (schedule ``*/1 * * * ?``); here the cronjob controller's
clock is a task.Clock the test moves across the boundary, so each runs in seconds.  Left out: "Ensure pod
failure policy allows to ignore failure matching on the DisruptionTarget condition" (an evicted pod must be
turned Failed by its kubelet; the simulated node only finishes deletions, so the pod stays terminating)."""

from __future__ import annotations

import time

import pytest
from twisted.internet import reactor, task

from kapiserver.client.informer import SharedInformerFactory
from kapiserver.client.resources import CRON_JOBS, JOBS, PODS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.context import ControllerContext
from kapiserver.controllermanager.cronjob import CronJobController
from kapiserver.node.simulated import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION
from tests.controllermanager.conftest import client, controllers, eventually, run, simulated_nodes  # noqa: F401

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


def new_job(name, namespace, behaviour="succeed", parallelism=2, completions=4, backoff_limit=6,
            restart_policy="Never", **spec):
    """e2ejob.NewTestJob's shapes: "succeed" exits 0 at once, "notTerminate" runs until deleted, "fail" exits 1."""
    annotations = {"succeed": {RUN_SECONDS_ANNOTATION: "0.1"},
                   "notTerminate": {RUN_SECONDS_ANNOTATION: "3600"},
                   "fail": {RUN_SECONDS_ANNOTATION: "0.1", EXIT_CODE_ANNOTATION: "1"}}.get(behaviour, {})
    body = {"parallelism": parallelism, "completions": completions, "backoffLimit": backoff_limit,
            "template": {"metadata": {"annotations": annotations},
                         "spec": {"restartPolicy": restart_policy,
                                  "containers": [{"name": "c", "image": "registry.k8s.io/e2e-test-images/busybox"}]}}}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def condition(job, kind):
    return next((c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == kind
                 and c["status"] == "True"), None)


def wait_condition(client, name, namespace, kind, timeout=30):  # noqa: F811
    return eventually(lambda: (j := run(client.get(JOBS, name, namespace))) and condition(j, kind) and j,
                      timeout=timeout)


def job_pods(client, namespace, name):  # noqa: F811
    return run(client.list(PODS, namespace, label_selector=f"batch.kubernetes.io/job-name={name}"))["items"]


def running(client, namespace, name):  # noqa: F811
    return [p for p in job_pods(client, namespace, name) if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]


@pytest.fixture
def job_controller(controllers, simulated_nodes):  # noqa: F811
    simulated_nodes("conformance-batch", schedule=True)
    controller = controllers("job-controller").controllers["job-controller"]
    controller.pod_failure_backoff = 0.2        # upstream waits 10 s after a failure; the entries do not care
    return controller


# -- Jobs ------------------------------------------------------------------------------------------------
def test_jobs_completion_after_task_failure(job_controller, client, namespace):  # noqa: F811
    """Jobs, completion after task failure: tasks fail once at first; after restarting, the Job MUST run to
    completion.  Upstream's pods (restartPolicy OnFailure) fail once through a marker file and are restarted in
    place by the kubelet; here the first pod of each of the first two slots exits 1 (the test annotates it
    before binding it) and the Job replaces it."""
    run(client.create(JOBS, _unscheduled(new_job("fail-once", namespace, restart_policy="OnFailure"))))
    failures = {"left": 2}

    def bind_pending():
        for pod in job_pods(client, namespace, "fail-once"):
            if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            if failures["left"]:
                failures["left"] -= 1
                run(client.patch(PODS, pod["metadata"]["name"], {"metadata": {"annotations": {
                    EXIT_CODE_ANNOTATION: "1"}}}, namespace))
            run(client.create(PODS, {"apiVersion": "v1", "kind": "Binding",
                                     "metadata": {"name": pod["metadata"]["name"], "namespace": namespace},
                                     "target": {"apiVersion": "v1", "kind": "Node", "name": "conformance-batch"}},
                              namespace=namespace, name=pod["metadata"]["name"], subresource="binding"))
        job = run(client.get(JOBS, "fail-once", namespace))
        return condition(job, "Complete") and job
    job = eventually(bind_pending, timeout=30)
    assert job["status"]["succeeded"] == 4 and job["status"]["failed"] == 2


def _unscheduled(job):
    """Pods the simulated node's scheduler leaves alone (another scheduler's), bound by the test itself."""
    job["spec"]["template"]["spec"]["schedulerName"] = "conformance-test-binds"
    return job


def test_jobs_active_pods_graceful_termination(job_controller, client, namespace):  # noqa: F811
    """Jobs, active pods, graceful termination: active pods MUST reach parallelism; deleting the Job MUST
    succeed, and (foreground deletion) its pods go with it."""
    run(client.create(JOBS, new_job("foo", namespace, behaviour="notTerminate")))
    eventually(lambda: len(running(client, namespace, "foo")) == 2)
    run(client.delete(JOBS, "foo", namespace, propagation_policy="Foreground"))

    def gone():
        try:
            run(client.get(JOBS, "foo", namespace))
        except APIError as e:
            return e.code == 404
    eventually(gone, timeout=30)
    eventually(lambda: job_pods(client, namespace, "foo") == [], timeout=30)


def test_jobs_orphan_pods_re_adoption(job_controller, client, namespace):  # noqa: F811
    """Jobs, orphan pods, re-adoption: pods MUST equal parallelism; a pod whose owner reference is removed
    MUST be adopted again; a pod whose labels are removed MUST be released."""
    job = run(client.create(JOBS, new_job("adopt-release", namespace, behaviour="notTerminate")))
    eventually(lambda: len(running(client, namespace, "adopt-release")) == 2)
    pod = job_pods(client, namespace, "adopt-release")[0]
    name = pod["metadata"]["name"]
    pod["metadata"]["ownerReferences"] = None
    run(client.update(PODS, pod))

    def owner():
        refs = run(client.get(PODS, name, namespace))["metadata"].get("ownerReferences") or []
        return [(r["kind"], r["name"], r["uid"]) for r in refs if r.get("controller")]
    eventually(lambda: owner() == [("Job", "adopt-release", job["metadata"]["uid"])])
    pod = run(client.get(PODS, name, namespace))
    pod["metadata"]["labels"] = None
    run(client.update(PODS, pod))
    eventually(lambda: owner() == [])


def test_jobs_manage_lifecycle(job_controller, client, namespace):  # noqa: F811
    """Jobs, manage lifecycle: create a suspended Job; patch a label in (found); update it to add an
    annotation and resume (found); list by label across namespaces (one); it completes; delete the
    collection by label."""
    label = {"e2e-job-label": "lifecycle"}
    created = new_job("lifecycle", namespace, suspend=True)
    created["metadata"]["labels"] = label
    created = run(client.create(JOBS, created))
    patched = run(client.patch(JOBS, "lifecycle", {"metadata": {"labels": {"lifecycle": "patched"}}}, namespace,
                               patch_type="strategic"))
    assert patched["metadata"]["labels"]["lifecycle"] == "patched"
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    def unsuspend():        # read and update, again on a conflict with the controller's status write (as the
        current = run(client.get(JOBS, "lifecycle", namespace))     # e2e test's RetryOnConflict)
        current["spec"]["suspend"] = False
        current["metadata"].setdefault("annotations", {})["updated"] = "true"
        return run(client.update(JOBS, current))
    updated = eventually(unsuspend)
    assert updated["metadata"]["annotations"]["updated"] == "true"
    found = run(client.list(JOBS, label_selector="e2e-job-label=lifecycle"))["items"]
    assert [j["metadata"]["name"] for j in found if j["metadata"]["namespace"] == namespace] == ["lifecycle"]
    job = wait_condition(client, "lifecycle", namespace, "Complete")
    assert job["status"]["succeeded"] == 4 and condition(job, "Complete")["reason"] == "CompletionsReached"
    run(client.request("DELETE", f"/apis/batch/v1/namespaces/{namespace}/jobs",
                       query={"labelSelector": "e2e-job-label=lifecycle"}))
    eventually(lambda: run(client.list(JOBS, namespace, label_selector="e2e-job-label=lifecycle"))["items"] == [])


def test_jobs_apply_changes_to_status(job_controller, client, namespace):  # noqa: F811
    """Jobs, apply changes to status: with a running Job, a merge patch of /status with an annotation and a
    custom condition MUST succeed and show both; an update of /status MUST succeed; GET /status MUST return
    the Job (same uid)."""
    job = run(client.create(JOBS, new_job("status", namespace, behaviour="notTerminate")))
    eventually(lambda: len(running(client, namespace, "status")) == 2)
    stamp1 = "2026-01-01T00:00:01Z"
    patched = run(client.patch(JOBS, "status", {"metadata": {"annotations": {"patchedstatus": "true"}},
                                                "status": {"conditions": [{"type": "CustomConditionType",
                                                                           "status": "True",
                                                                           "lastTransitionTime": stamp1}]}},
                               namespace, subresource="status"))
    assert patched["metadata"]["annotations"]["patchedstatus"] == "true"
    assert condition(patched, "CustomConditionType")["lastTransitionTime"] == stamp1
    stamp2 = "2026-01-01T00:00:02Z"

    def update():
        current = run(client.get(JOBS, "status", namespace))
        condition(current, "CustomConditionType")["lastTransitionTime"] = stamp2
        return run(client.update(JOBS, current, subresource="status"))
    updated = eventually(update)
    assert condition(updated, "CustomConditionType")["lastTransitionTime"] == stamp2
    got = run(client.request("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/status/status"))
    assert got["metadata"]["uid"] == job["metadata"]["uid"]


def test_ensure_pods_of_an_indexed_job_get_a_unique_index(job_controller, client, namespace):  # noqa: F811
    """Ensure Pods of an Indexed Job get a unique index: the Indexed Job MUST complete; its succeeded pods
    carry completion indexes 0-3 and hostnames <job>-<index> (and the JOB_COMPLETION_INDEX variable)."""
    run(client.create(JOBS, new_job("indexed-job", namespace, completionMode="Indexed")))
    job = wait_condition(client, "indexed-job", namespace, "Complete")
    assert job["status"]["completedIndexes"] == "0-3"
    indexes = set()
    for pod in job_pods(client, namespace, "indexed-job"):
        if pod["status"].get("phase") == "Succeeded":
            index = int(pod["metadata"]["annotations"][COMPLETION_INDEX])
            indexes.add(index)
            assert pod["spec"]["hostname"] == f"indexed-job-{index}"
            assert "JOB_COMPLETION_INDEX" in [e["name"] for e in pod["spec"]["containers"][0]["env"]]
    assert sorted(indexes) == [0, 1, 2, 3]


def test_verify_pod_failure_policy_allows_to_fail_job_early_on_exit_code(job_controller, client,  # noqa: F811
                                                                         namespace):
    """Verify Pod Failure policy allows to fail job early on exit code: a pod exiting 1 matches the FailJob
    rule and the Job MUST fail (well before backoffLimit 6).  Upstream's pods fail once through a host
    marker file; here one pod is annotated to exit 1 before the test binds it, the others succeed."""
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}
    run(client.create(JOBS, _unscheduled(new_job("pod-failure-failjob", namespace, podFailurePolicy=policy))))
    first = {"done": False}

    def bind_pending():
        for pod in job_pods(client, namespace, "pod-failure-failjob"):
            if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
                continue
            if not first["done"]:
                first["done"] = True
                run(client.patch(PODS, pod["metadata"]["name"], {"metadata": {"annotations": {
                    EXIT_CODE_ANNOTATION: "1"}}}, namespace))
            run(client.create(PODS, {"apiVersion": "v1", "kind": "Binding",
                                     "metadata": {"name": pod["metadata"]["name"], "namespace": namespace},
                                     "target": {"apiVersion": "v1", "kind": "Node", "name": "conformance-batch"}},
                              namespace=namespace, name=pod["metadata"]["name"], subresource="binding"))
        return condition(run(client.get(JOBS, "pod-failure-failjob", namespace)), "Failed")
    failed = eventually(bind_pending, timeout=30)
    assert failed["reason"] == "PodFailurePolicy"


# -- CronJobs ----------------------------------------------------------------------------------------------
@pytest.fixture
def cronjob_clock(client, job_controller):  # noqa: F811
    """A cronjob-controller whose clock is a task.Clock starting now; returns the clock."""
    clock = task.Clock()
    clock.advance(reactor.seconds())
    informers = SharedInformerFactory(client, reactor)
    controller = CronJobController(ControllerContext(client, informers, clock))
    informers.start()
    run(controller.run())
    yield clock
    controller.stop()
    informers.stop()


def settle(seconds=0.5):
    """Turn the reactor for a while: long enough for the controllers to act on what the clock made due."""
    until = time.monotonic() + seconds
    eventually(lambda: time.monotonic() > until)


def next_minute(clock):
    # The boundary after the real time too: a CronJob's creationTimestamp is the apiserver's real time, and a
    # real minute can turn between the clock's start and a create (the boundary would then precede it).
    now = max(clock.seconds(), reactor.seconds())
    clock.advance((int(now) // 60 + 1) * 60 + 1 - clock.seconds())


def new_cronjob(name, namespace, policy, behaviour="notTerminate", **spec):
    job = new_job("x", namespace, behaviour=behaviour, parallelism=1, completions=1)
    body = {"schedule": "*/1 * * * ?", "concurrencyPolicy": policy,
            "jobTemplate": {"spec": job["spec"]}}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def active_jobs(client, namespace):  # noqa: F811
    return [j for j in run(client.list(JOBS, namespace))["items"] if not condition(j, "Complete")
            and not condition(j, "Failed") and not j["metadata"].get("deletionTimestamp")]


def cronjob_active(client, namespace, name):  # noqa: F811
    return [a["name"] for a in (run(client.get(CRON_JOBS, name, namespace)).get("status") or {}).get("active") or []]


def test_cronjob_allow_concurrent(cronjob_clock, client, namespace):  # noqa: F811
    """CronJob AllowConcurrent: with Allow, more than one Job MUST run at a time."""
    run(client.create(CRON_JOBS, new_cronjob("concurrent", namespace, "Allow")))
    next_minute(cronjob_clock)
    eventually(lambda: len(cronjob_active(client, namespace, "concurrent")) == 1)
    next_minute(cronjob_clock)
    eventually(lambda: len(cronjob_active(client, namespace, "concurrent")) >= 2 and
               len(active_jobs(client, namespace)) >= 2)


def test_cronjob_suspend(cronjob_clock, client, namespace):  # noqa: F811
    """CronJob Suspend: a suspended CronJob MUST start no Job, and its status lists no active Job."""
    run(client.create(CRON_JOBS, new_cronjob("suspended", namespace, "Allow", suspend=True)))
    for _ in range(3):
        next_minute(cronjob_clock)
        settle()
    assert run(client.list(JOBS, namespace))["items"] == []
    assert cronjob_active(client, namespace, "suspended") == []


def test_cronjob_forbid_concurrent(cronjob_clock, client, namespace):  # noqa: F811
    """CronJob ForbidConcurrent: with Forbid, a Job MUST be scheduled, exactly one; no more MUST be scheduled
    while it runs."""
    run(client.create(CRON_JOBS, new_cronjob("forbid", namespace, "Forbid")))
    next_minute(cronjob_clock)
    first = eventually(lambda: (a := cronjob_active(client, namespace, "forbid")) and a)
    assert len(first) == 1 and len(active_jobs(client, namespace)) == 1
    for _ in range(2):
        next_minute(cronjob_clock)
        settle()
    assert cronjob_active(client, namespace, "forbid") == first
    assert [j["metadata"]["name"] for j in run(client.list(JOBS, namespace))["items"]] == first


def test_cronjob_replace_concurrent(cronjob_clock, client, namespace):  # noqa: F811
    """CronJob ReplaceConcurrent: with Replace, the running Job MUST be replaced by a new one at the next
    schedule; exactly one stays active."""
    run(client.create(CRON_JOBS, new_cronjob("replace", namespace, "Replace")))
    next_minute(cronjob_clock)
    first = eventually(lambda: (a := cronjob_active(client, namespace, "replace")) and a)
    next_minute(cronjob_clock)
    second = eventually(lambda: (a := cronjob_active(client, namespace, "replace")) and a != first and a)
    assert len(second) == 1

    def first_gone():
        try:
            job = run(client.get(JOBS, first[0], namespace))
        except APIError as e:
            return e.code == 404
        return bool(job["metadata"].get("deletionTimestamp"))
    eventually(first_gone)


def test_cronjob_api_operations(client, namespace):  # noqa: F811
    """CronJob API Operations: create, get, list (namespace and all), watch, patch, update, the /status
    get/patch/update, delete and delete collection MUST all succeed with what they return as upstream."""
    label = {"special-label": namespace}
    cronjobs = []
    for name in ("api-a", "api-b"):
        body = new_cronjob(name, namespace, "Allow")
        body["metadata"]["labels"] = label
        cronjobs.append(run(client.create(CRON_JOBS, body)))
    assert run(client.get(CRON_JOBS, "api-a", namespace))["metadata"]["uid"] == cronjobs[0]["metadata"]["uid"]
    listed = run(client.list(CRON_JOBS, namespace, label_selector=f"special-label={namespace}"))
    assert sorted(c["metadata"]["name"] for c in listed["items"]) == ["api-a", "api-b"]
    everywhere = run(client.list(CRON_JOBS, label_selector=f"special-label={namespace}"))["items"]
    assert len(everywhere) == 2
    seen = []
    watch = client.watch(CRON_JOBS, lambda kind, obj: seen.append((kind, obj)), namespace=namespace,
                         resource_version=listed["metadata"]["resourceVersion"])
    try:
        patched = run(client.patch(CRON_JOBS, "api-a", {"metadata": {"annotations": {"patched": "true"}}}, namespace))
        assert patched["metadata"]["annotations"]["patched"] == "true"
        eventually(lambda: any(k == "MODIFIED" and (o["metadata"].get("annotations") or {}).get("patched")
                               for k, o in seen))
    finally:
        watch.cancel()
    current = run(client.get(CRON_JOBS, "api-a", namespace))
    current["metadata"]["annotations"]["updated"] = "true"
    assert run(client.update(CRON_JOBS, current))["metadata"]["annotations"]["updated"] == "true"
    stamp = "2026-01-01T00:00:00Z"
    patched = run(client.patch(CRON_JOBS, "api-a", {"metadata": {"annotations": {"patchedstatus": "true"}},
                                                    "status": {"lastScheduleTime": stamp}}, namespace,
                               subresource="status"))
    assert patched["status"]["lastScheduleTime"] == stamp and patched["metadata"]["annotations"]["patchedstatus"]
    current = run(client.get(CRON_JOBS, "api-a", namespace))
    current["status"]["lastScheduleTime"] = "2026-01-01T00:01:00Z"
    updated = run(client.update(CRON_JOBS, current, subresource="status"))
    assert updated["status"]["lastScheduleTime"] == "2026-01-01T00:01:00Z"
    got = run(client.request("GET", f"/apis/batch/v1/namespaces/{namespace}/cronjobs/api-a/status"))
    assert got["metadata"]["uid"] == cronjobs[0]["metadata"]["uid"]
    run(client.delete(CRON_JOBS, "api-a", namespace))
    assert [c["metadata"]["name"] for c in run(client.list(CRON_JOBS, namespace))["items"]] == ["api-b"]
    run(client.request("DELETE", f"/apis/batch/v1/namespaces/{namespace}/cronjobs",
                       query={"labelSelector": f"special-label={namespace}"}))
    assert run(client.list(CRON_JOBS, namespace))["items"] == []

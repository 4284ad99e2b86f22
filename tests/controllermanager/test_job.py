"""job-controller against a real apiserver, pods run by simulated nodes: completion, Indexed jobs, failures
and backoff, the pod failure policy, deadlines, suspend, adoption; and its pure rules without a server."""

import time

import pytest

from kapiserver.client.resources import EVENTS, JOBS, PODS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager import jobpods
from kapiserver.controllermanager import jobutil as u
from kapiserver.machinery import meta
from kapiserver.node.simulated import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION
from tests.controllermanager.conftest import eventually, in_background, run


def job_object(name, namespace, completions=1, parallelism=1, annotations=None, **spec):
    body = {"completions": completions, "parallelism": parallelism,
            "template": {"metadata": {"annotations": annotations or {}},
                         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def conditions(job):
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}


def get_job(client, name, namespace):
    return run(client.get(JOBS, name, namespace))


def finished(client, name, namespace, kind="Complete"):
    def check():
        job = get_job(client, name, namespace)
        return conditions(job).get(kind, {}).get("status") == "True" and job
    return check


def job_pods(client, namespace, name):
    return run(client.list(PODS, namespace, label_selector=f"batch.kubernetes.io/job-name={name}"))["items"]


def reasons(client, namespace, name):
    return [(e["reason"], e["message"]) for e in run(client.list(EVENTS, namespace))["items"]
            if e["involvedObject"]["name"] == name]


@pytest.fixture
def jobs(controllers, simulated_nodes):
    simulated_nodes("batch-node", schedule=True, run_seconds=0.2)
    manager = controllers("job-controller")
    controller = manager.controllers["job-controller"]
    controller.pod_failure_backoff = 0.2
    return controller


def test_job_completes_with_tracking_finalizers_and_counts(jobs, client, namespace):
    """Three completions two at a time: pods carry the job's labels, owner and finalizer, the job ends
    SuccessCriteriaMet then Complete with succeeded 3, and the pods' finalizers are gone."""
    run(client.create(JOBS, job_object("three", namespace, completions=3, parallelism=2)))
    job = eventually(finished(client, "three", namespace), timeout=20)
    status = job["status"]
    assert status["succeeded"] == 3 and status.get("failed", 0) == 0 and status.get("active", 0) == 0
    assert status["startTime"] and status["completionTime"]
    assert status["uncountedTerminatedPods"] in ({}, {"succeeded": [], "failed": []}) or \
        not any(status["uncountedTerminatedPods"].values())
    kinds = [c["type"] for c in status["conditions"]]
    assert kinds.index("SuccessCriteriaMet") < kinds.index("Complete")
    assert conditions(job)["Complete"]["reason"] == "CompletionsReached"
    pods = job_pods(client, namespace, "three")
    assert len(pods) == 3
    uid = job["metadata"]["uid"]
    for pod in pods:
        labels = pod["metadata"]["labels"]
        assert labels["batch.kubernetes.io/controller-uid"] == uid and labels["controller-uid"] == uid
        assert labels["job-name"] == "three"
        assert pod["metadata"]["ownerReferences"][0]["uid"] == uid
        assert u.JOB_TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or [])
    events = eventually(lambda: (e := reasons(client, namespace, "three")) and ("Completed", "Job completed") in e
                        and e)
    assert any(r == "SuccessfulCreate" and m.startswith("Created pod: three-") for r, m in events)


def test_indexed_job_gives_each_pod_its_index(jobs, client, namespace):
    """Indexed completion: annotation, label, hostname, JOB_COMPLETION_INDEX env; completedIndexes 0-2."""
    run(client.create(JOBS, job_object("idx", namespace, completions=3, parallelism=3, completionMode="Indexed")))
    job = eventually(finished(client, "idx", namespace), timeout=20)
    assert job["status"]["completedIndexes"] == "0-2" and job["status"]["succeeded"] == 3
    pods = job_pods(client, namespace, "idx")
    indexes = sorted(int(p["metadata"]["annotations"][u.JOB_COMPLETION_INDEX]) for p in pods)
    assert indexes == [0, 1, 2]
    for pod in pods:
        index = pod["metadata"]["annotations"][u.JOB_COMPLETION_INDEX]
        assert pod["metadata"]["labels"][u.JOB_COMPLETION_INDEX] == index
        assert pod["spec"]["hostname"] == f"idx-{index}"
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert "JOB_COMPLETION_INDEX" in env


def test_failing_job_reaches_backoff_limit(jobs, client, namespace):
    """Pods exiting 1 are counted failed; past backoffLimit the job gets FailureTarget then Failed
    (BackoffLimitExceeded) and the event with upstream's message."""
    run(client.create(JOBS, job_object("fails", namespace, backoffLimit=1,
                                       annotations={EXIT_CODE_ANNOTATION: "1", RUN_SECONDS_ANNOTATION: "0.1"})))
    job = eventually(finished(client, "fails", namespace, "Failed"), timeout=20)
    assert job["status"]["failed"] == 2
    assert conditions(job)["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conditions(job)["FailureTarget"]["status"] == "True"
    eventually(lambda: ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
               in reasons(client, namespace, "fails"))


def test_pod_failure_policy_fail_job_on_exit_code(jobs, client, namespace):
    """A FailJob rule on exit code 42 fails the job at the first such pod with reason PodFailurePolicy."""
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    run(client.create(JOBS, job_object("pfp", namespace, backoffLimit=6, podFailurePolicy=policy,
                                       annotations={EXIT_CODE_ANNOTATION: "42", RUN_SECONDS_ANNOTATION: "0.1"})))
    job = eventually(finished(client, "pfp", namespace, "Failed"), timeout=20)
    failed = conditions(job)["Failed"]
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"].startswith("Container c for pod ") and "exit code 42 matching FailJob rule at index 0" \
        in failed["message"]
    assert job["status"]["failed"] == 1


def test_active_deadline_fails_the_job(jobs, client, namespace):
    """activeDeadlineSeconds: pods still running are deleted and the job fails with DeadlineExceeded."""
    run(client.create(JOBS, job_object("slow", namespace, activeDeadlineSeconds=1,
                                       annotations={RUN_SECONDS_ANNOTATION: "60"})))
    job = eventually(finished(client, "slow", namespace, "Failed"), timeout=20)
    assert conditions(job)["Failed"]["reason"] == "DeadlineExceeded"
    assert conditions(job)["Failed"]["message"] == "Job was active longer than specified deadline"
    eventually(lambda: job_pods(client, namespace, "slow") == [] or
               all(p["metadata"].get("deletionTimestamp") is None and p["status"]["phase"] in ("Failed", "Succeeded")
                   for p in job_pods(client, namespace, "slow")))


def test_suspend_deletes_pods_and_resume_recreates(jobs, client, namespace):
    """Suspending deletes the active pods (Suspended condition True); resuming runs the job to completion."""
    run(client.create(JOBS, job_object("sus", namespace, parallelism=2, completions=2,
                                       annotations={RUN_SECONDS_ANNOTATION: "60"})))
    eventually(lambda: get_job(client, "sus", namespace)["status"].get("active") == 2)
    run(client.patch(JOBS, "sus", {"spec": {"suspend": True}}, namespace))
    job = eventually(lambda: (j := get_job(client, "sus", namespace)) and
                     conditions(j).get("Suspended", {}).get("status") == "True" and j["status"].get("active", 0) == 0
                     and j)
    assert conditions(job)["Suspended"]["reason"] == "JobSuspended"
    eventually(lambda: all(p["metadata"].get("deletionTimestamp") for p in job_pods(client, namespace, "sus")))
    run(client.patch(JOBS, "sus", {"spec": {"suspend": False}}, namespace))
    job = eventually(lambda: (j := get_job(client, "sus", namespace)) and
                     conditions(j).get("Suspended", {}).get("status") == "False" and j)
    assert conditions(job)["Suspended"]["reason"] == "JobResumed"
    eventually(lambda: get_job(client, "sus", namespace)["status"].get("active") == 2)


def test_orphaned_pod_is_adopted_again(jobs, client, namespace):
    """A pod whose owner reference is removed is adopted back by the job whose selector matches it."""
    run(client.create(JOBS, job_object("adopt", namespace, parallelism=1, completions=1,
                                       annotations={RUN_SECONDS_ANNOTATION: "60"})))
    pod = eventually(lambda: job_pods(client, namespace, "adopt")[0])
    run(client.patch(PODS, pod["metadata"]["name"], [{"op": "remove", "path": "/metadata/ownerReferences"}],
                     namespace, patch_type="json"))
    eventually(lambda: run(client.get(PODS, pod["metadata"]["name"], namespace))["metadata"].get("ownerReferences"))
    assert len(job_pods(client, namespace, "adopt")) == 1


def test_backoff_limit_per_index_marks_failed_indexes(jobs, client, namespace):
    """backoffLimitPerIndex 1: each index is retried once (the failure count annotation says so), then
    counted in failedIndexes, and the job fails with FailedIndexes."""
    run(client.create(JOBS, job_object("per-index", namespace, completions=2, parallelism=2,
                                       completionMode="Indexed", backoffLimitPerIndex=1,
                                       annotations={EXIT_CODE_ANNOTATION: "1", RUN_SECONDS_ANNOTATION: "0.1"})))
    job = eventually(finished(client, "per-index", namespace, "Failed"), timeout=20)
    assert conditions(job)["Failed"]["reason"] == "FailedIndexes"
    assert job["status"]["failedIndexes"] == "0,1"
    counts = sorted((p["metadata"]["annotations"][u.JOB_COMPLETION_INDEX],
                     p["metadata"]["annotations"][u.JOB_INDEX_FAILURE_COUNT])
                    for p in job_pods(client, namespace, "per-index"))
    assert counts == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]


def test_ignored_failures_of_an_index_are_annotated_on_its_next_pod(jobs, client, namespace):
    """backoffLimitPerIndex with an Ignore rule: the failures the rule ignores are not counted against the index
    but carried on each replacement pod as job-index-ignored-failure-count (getNewIndexFailureCounts)."""
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}]}
    run(client.create(JOBS, job_object("ignored", namespace, completions=1, completionMode="Indexed",
                                       backoffLimitPerIndex=1, podFailurePolicy=policy,
                                       annotations={EXIT_CODE_ANNOTATION: "3", RUN_SECONDS_ANNOTATION: "0.1"})))

    def counts():
        found = sorted((int(a.get(u.JOB_INDEX_IGNORED_FAILURE_COUNT, "0")), a[u.JOB_INDEX_FAILURE_COUNT])
                       for a in (p["metadata"]["annotations"] for p in job_pods(client, namespace, "ignored")))
        return len(found) >= 3 and found
    found = eventually(counts, timeout=20)
    assert found[:3] == [(0, "0"), (1, "0"), (2, "0")]
    job = get_job(client, "ignored", namespace)
    assert not job["status"].get("failedIndexes") and job["status"].get("failed", 0) == 0


def test_deleted_pod_counts_as_failed_and_is_replaced(jobs, client, namespace):
    """A running pod deleted by someone else is counted failed (its finalizer removed) and replaced."""
    run(client.create(JOBS, job_object("victim", namespace, annotations={RUN_SECONDS_ANNOTATION: "600"})))
    pod = eventually(lambda: (p := job_pods(client, namespace, "victim")) and p[0]["status"].get("phase") == "Running"
                     and p[0])
    run(client.delete(PODS, pod["metadata"]["name"], namespace))
    # The replacement may come while the deleted pod still terminates (its finish time is its deletion less the
    # grace period, long enough ago for the backoff): terminating drops to 0 once it is gone.
    eventually(lambda: (j := get_job(client, "victim", namespace))["status"].get("failed") == 1 and
               j["status"].get("active") == 1 and j["status"].get("terminating") == 0)
    names = [p["metadata"]["name"] for p in job_pods(client, namespace, "victim")]
    assert pod["metadata"]["name"] not in names and len(names) == 1


def test_deleting_a_job_releases_its_pods_finalizers(jobs, client, namespace):
    """Deleting a Job (background) leaves no pod stuck on the tracking finalizer: the garbage collector
    removes them."""
    run(client.create(JOBS, job_object("bye", namespace, parallelism=2, completions=2,
                                       annotations={RUN_SECONDS_ANNOTATION: "600"})))
    eventually(lambda: get_job(client, "bye", namespace)["status"].get("active") == 2)
    run(client.delete(JOBS, "bye", namespace, propagation_policy="Background"))
    eventually(lambda: job_pods(client, namespace, "bye") == [], timeout=20)


def test_deleting_a_job_without_a_policy_orphans_its_pods_without_the_tracking_finalizer(jobs, client, namespace):
    """A delete naming no propagation orphans a batch/v1 Job's pods (upstream's default): the Job goes once the
    garbage collector has taken the pods' references off, and the job controller takes their tracking finalizer
    off, so the pods live on and none is stuck when deleted later."""
    run(client.create(JOBS, job_object("kept", namespace, parallelism=2, completions=2,
                                       annotations={RUN_SECONDS_ANNOTATION: "600"})))
    eventually(lambda: get_job(client, "kept", namespace)["status"].get("active") == 2)
    uids = {pod["metadata"]["uid"] for pod in job_pods(client, namespace, "kept")}
    run(client.delete(JOBS, "kept", namespace))
    eventually(lambda: not [j for j in run(client.list(JOBS, namespace))["items"]
                            if j["metadata"]["name"] == "kept"], timeout=20)
    eventually(lambda: all(not pod["metadata"].get("ownerReferences") and
                           u.JOB_TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or [])
                           for pod in job_pods(client, namespace, "kept")), timeout=20)
    assert {pod["metadata"]["uid"] for pod in job_pods(client, namespace, "kept")} == uids


# -- pure rules ------------------------------------------------------------------------------------------
def test_tracking_finalizer_of_a_pod_another_kind_controls_is_left(jobs, client, namespace):
    """A pod whose controller is not a batch/v1 Job keeps the job-tracking finalizer when deleted: only pods of
    Jobs, or with no controller, are cleaned as orphans (syncOrphanPod)."""
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "not-a-job", "controller": True}
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "foreign", "namespace": namespace, "ownerReferences": [owner],
        "finalizers": [u.JOB_TRACKING_FINALIZER]}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    run(client.delete(PODS, "foreign", namespace))
    until = time.monotonic() + 1.0
    eventually(lambda: time.monotonic() > until)
    pod = run(client.get(PODS, "foreign", namespace))
    assert u.JOB_TRACKING_FINALIZER in pod["metadata"]["finalizers"]
    run(client.patch(PODS, "foreign", {"metadata": {"finalizers": None}}, namespace, patch_type="merge"))


def test_a_finished_jobs_deleted_pod_loses_the_tracking_finalizer(jobs, client, namespace):
    """A pod of a finished Job still holding the tracking finalizer (made after the end, say) has it removed when
    the pod is deleted: the orphan cleanup takes it, since the finished Job's syncs do nothing (deletePod)."""
    run(client.create(JOBS, job_object("over", namespace)))
    job = eventually(finished(client, "over", namespace), timeout=20)
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "over", "uid": job["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    run(client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "late", "namespace": namespace, "ownerReferences": [ref], "finalizers": [u.JOB_TRACKING_FINALIZER],
        "labels": job["spec"]["selector"]["matchLabels"]},
        "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox"}]}}))
    run(client.delete(PODS, "late", namespace))

    def gone():
        try:
            pod = run(client.get(PODS, "late", namespace))
        except APIError as e:
            return e.code == 404
        return u.JOB_TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or [])
    eventually(gone)


def test_completed_indexes_are_written_as_ranges():
    """format_indexes and parse_indexes round-trip "1,3-5" (parse drops indexes beyond completions)."""
    assert u.format_indexes([5, 1, 3, 4]) == "1,3-5"
    assert u.format_indexes([]) == ""
    assert u.format_indexes([0, 1, 7]) == "0,1,7"
    assert u.parse_indexes("1,3-5,9", 6) == [1, 3, 4, 5]


def test_a_terminating_pod_fails_only_when_deleted_pods_are_replaced_at_once():
    """A pod being deleted counts as failed at once unless the job replaces only failed pods (a pod failure policy,
    or podReplacementPolicy Failed): then it counts once it is Failed, as upstream's isPodFailed."""
    deleting = {"metadata": {"deletionTimestamp": "2026-12-07T00:00:00Z"}, "status": {"phase": "Running"}}
    assert u.is_pod_failed(deleting, {"spec": {}})
    assert u.is_pod_failed(deleting, {"spec": {"podReplacementPolicy": "TerminatingOrFailed"}})
    assert not u.is_pod_failed(deleting, {"spec": {"podReplacementPolicy": "Failed"}})
    assert not u.is_pod_failed(deleting, {"spec": {"podFailurePolicy": {"rules": []}}})
    assert u.is_pod_failed({**deleting, "status": {"phase": "Failed"}}, {"spec": {"podReplacementPolicy": "Failed"}})
    # The same predicate holds terminating indexes back from replacement (firstPendingIndexes).
    job = {"spec": {"completions": 3, "podFailurePolicy": {"rules": []}}}
    terminating = {"metadata": {"deletionTimestamp": "2026-12-07T00:00:00Z",
                                "annotations": {"batch.kubernetes.io/job-completion-index": "0"}}}
    assert jobpods.pending_indexes(job, [terminating], [], [], [], 3) == [1, 2]
    assert jobpods.pending_indexes({"spec": {"completions": 3}}, [terminating], [], [], [], 3) == [0, 1, 2]


def test_backoff_doubles_from_ten_seconds_up_to_the_cap():
    """Remaining backoff after n failures is 10 s * 2^(n-1) minus the time since the last one, capped."""
    assert u.remaining_backoff(u.BackoffRecord(1, 100.0), 104.0) == 6.0
    assert u.remaining_backoff(u.BackoffRecord(3, 100.0), 100.0) == 40.0
    assert u.remaining_backoff(u.BackoffRecord(20, 100.0), 100.0) == u.MAX_POD_FAILURE_BACKOFF
    assert u.remaining_backoff(u.BackoffRecord(1, 100.0), 200.0) == 0.0
    assert u.remaining_backoff(u.BackoffRecord(0, None), 200.0) == 0.0


def test_a_pods_finish_time_falls_back_as_upstream():
    """getFinishedTime: the last container finish when every container finished; else the Ready=False transition;
    else the deletion start (deletionTimestamp less the grace period); else the creation."""
    t = 1_800_000_000.0
    stamp = meta.rfc3339
    done = {"name": "a", "state": {"terminated": {"finishedAt": stamp(t + 5)}}}
    running = {"name": "b", "state": {"running": {}}}
    base = {"metadata": {"creationTimestamp": stamp(t)}}
    assert u.finish_time({**base, "status": {"containerStatuses": [done]}}, t + 99) == t + 5
    not_ready = {"type": "Ready", "status": "False", "lastTransitionTime": stamp(t + 7)}
    assert u.finish_time({**base, "status": {"containerStatuses": [done, running], "conditions": [not_ready]}},
                         t + 99) == t + 7
    deleted = {"metadata": {"creationTimestamp": stamp(t), "deletionTimestamp": stamp(t + 40),
                            "deletionGracePeriodSeconds": 30}}
    assert u.finish_time({**deleted, "status": {"containerStatuses": [running]}}, t + 99) == t + 10
    assert u.finish_time({**base, "status": {}}, t + 99) == t
    # A sidecar (restartable init container) still running: the pod's containers have not all finished.
    sidecar = {**base, "spec": {"initContainers": [{"name": "s", "restartPolicy": "Always"}]},
               "status": {"containerStatuses": [done], "initContainerStatuses": [{"name": "s", "state": {}}],
                          "conditions": [not_ready]}}
    assert u.finish_time(sidecar, t + 99) == t + 7


def test_an_index_keeps_its_last_failed_pod_until_it_is_replaced():
    """backoffLimitPerIndex: per index to retry, its latest failed pod still holding the tracking finalizer is
    kept (finalizer and all) to pass its counts on; the index's backoff counts ignored failures too."""
    job = {"spec": {"completions": 3, "backoffLimitPerIndex": 2,
                    "podFailurePolicy": {"rules": [{"action": "Ignore",
                                                    "onExitCodes": {"operator": "In", "values": [3]}}]}}}

    def failed(uid, index, count, ignored, finished, code=1):
        annotations = {u.JOB_COMPLETION_INDEX: str(index), u.JOB_INDEX_FAILURE_COUNT: str(count)}
        if ignored:
            annotations[u.JOB_INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
        return {"metadata": {"uid": uid, "annotations": annotations, "finalizers": [u.JOB_TRACKING_FINALIZER]},
                "status": {"phase": "Failed", "containerStatuses": [
                    {"name": "c", "state": {"terminated": {"exitCode": code, "finishedAt": meta.rfc3339(finished)}}}]}}
    older, newer = failed("a", 0, 0, 0, 100.0), failed("b", 0, 1, 1, 200.0, code=3)
    other = failed("c", 1, 0, 0, 100.0)
    done = failed("d", 2, 0, 0, 100.0)
    delayed = jobpods.pods_with_delayed_deletion(job, [older, newer, other, done], [], [2], [], set(), 0.0)
    assert {i: p["metadata"]["uid"] for i, p in delayed.items()} == {0: "b", 1: "c"}
    assert jobpods.pods_with_delayed_deletion(job, [older, newer], [], [], [], {"b"}, 0.0)[0]["metadata"]["uid"] == "a"
    # Its finalizer taken off by someone else, the last failed pod still passes its counts on (upstream asks
    # nothing of the finalizer there).
    bare = dict(newer, metadata={**newer["metadata"], "finalizers": []})
    assert jobpods.pods_with_delayed_deletion(job, [older, bare], [], [], [], set(), 0.0)[0]["metadata"]["uid"] == "b"
    assert jobpods.new_index_failure_counts(job, newer) == (1, 2)       # exit 3 is ignored
    assert jobpods.new_index_failure_counts(job, older) == (1, 0)
    assert jobpods.new_index_failure_counts(job, None) == (0, 0)
    assert jobpods.index_backoff(newer, 0.0) == u.BackoffRecord(3, 200.0)
    pod = jobpods.pod_from_template(_job(backoffLimitPerIndex=1), 1, 1, 2)
    assert pod["metadata"]["annotations"][u.JOB_INDEX_FAILURE_COUNT] == "1"
    assert pod["metadata"]["annotations"][u.JOB_INDEX_IGNORED_FAILURE_COUNT] == "2"


def test_pod_failure_policy_rules_match_in_order():
    """Ignore does not count, Count counts, conditions match by type and status, first rule wins."""
    pod = {"metadata": {"name": "p", "namespace": "n"},
           "status": {"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True"}],
                      "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 3}}}]}}
    ignore = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3]}}]}
    assert u.match_pod_failure_policy(ignore, pod) == (None, False, "Ignore")
    fail = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [0, 1]}}]}
    message, counts, action = u.match_pod_failure_policy(fail, pod)
    assert message == "Container c for pod n/p failed with exit code 3 matching FailJob rule at index 0"
    assert counts and action == "FailJob"
    assert u.match_pod_failure_policy(None, pod) == (None, True, None)



def test_kubectl_create_job_and_wait_for_complete(jobs, client, namespace, kubectl):
    """`kubectl create job` then `kubectl wait --for=condition=complete` returns once the job completed
    (kubectl runs in a thread while the reactor turns the controllers)."""
    kubectl("-n", namespace, "create", "job", "x", "--image=busybox")
    waited = in_background(kubectl, "-n", namespace, "wait", "--for=condition=complete", "job/x", "--timeout=30s",
                           timeout=40)
    assert "job.batch/x condition met" in waited.stdout
    described = kubectl("-n", namespace, "describe", "job", "x").stdout
    assert "1 Succeeded" in described and "Completed" in described


def _job(**spec):
    base = {"completions": 4, "parallelism": 2, "completionMode": "Indexed",
            "template": {"metadata": {"labels": {"app": "x"}},
                         "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}]}],
                                  "initContainers": [{"name": "i"}]}}}
    base.update(spec)
    return {"metadata": {"name": "j", "namespace": "n", "uid": "u1"}, "spec": base}


def _pod(name, index=None, phase="Running", ready=True, node="n1"):
    annotations = {} if index is None else {u.JOB_COMPLETION_INDEX: str(index)}
    return {"metadata": {"name": name, "annotations": annotations, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_pod_from_template_for_an_index():
    """An Indexed job's pod: <job>-<index>- generateName, index annotation and label, hostname, the env
    variable in every container, the tracking finalizer and the controller reference."""
    pod = jobpods.pod_from_template(_job(), 2)
    assert pod["metadata"]["generateName"] == "j-2-"
    assert pod["metadata"]["annotations"][u.JOB_COMPLETION_INDEX] == "2"
    assert pod["metadata"]["labels"] == {"app": "x", u.JOB_COMPLETION_INDEX: "2"}
    assert pod["spec"]["hostname"] == "j-2"
    assert pod["metadata"]["finalizers"] == [u.JOB_TRACKING_FINALIZER]
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "u1" and pod["metadata"]["ownerReferences"][0]["controller"]
    for container in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        assert container["env"][-1]["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
    plain = jobpods.pod_from_template(_job(completionMode="NonIndexed"))
    assert plain["metadata"]["generateName"] == "j-" and "hostname" not in plain["spec"]


def test_pods_for_removal_prefers_duplicates_then_least_advanced():
    """Duplicate and out-of-range indexes go first; then unscheduled, then not ready pods."""
    job = _job()
    pods = [_pod("a", 0), _pod("b", 0, ready=False), _pod("c", 9), _pod("d", 1)]
    assert sorted(p["metadata"]["name"] for p in jobpods.pods_for_removal(job, pods, [], 0)) == ["b", "c"]
    plain = _job(completionMode="NonIndexed")
    pods = [_pod("ready"), _pod("unready", ready=False), _pod("pending", phase="Pending", node="")]
    assert [p["metadata"]["name"] for p in jobpods.pods_for_removal(plain, pods, [], 2)] == ["pending", "unready"]


def test_pending_indexes_skip_taken_ones():
    """The first free indexes: not succeeded, failed, or held by an active pod."""
    job = _job(completions=6)
    assert jobpods.pending_indexes(job, [], [_pod("a", 1)], [0, 3], [4], 5) == [2, 5]


def test_success_policy_rules():
    """succeededIndexes needs all of them unless succeededCount says how many; succeededCount alone counts
    every index; the message names the rule."""
    policy = {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}, {"succeededCount": 3}]}
    assert jobpods.success_policy_message(policy, 5, [0, 4]) is None
    assert jobpods.success_policy_message(policy, 5, [0, 2]) == "Matched rules at index 0"
    assert jobpods.success_policy_message(policy, 5, [1, 3, 4]) == "Matched rules at index 1"
    assert jobpods.success_policy_message({"rules": [{"succeededCount": 3}]}, 5, [3, 4, 1]) == \
        "Matched rules at index 0"
    assert jobpods.success_policy_message({"rules": [{"succeededIndexes": "1,3"}]}, 5, [1]) is None

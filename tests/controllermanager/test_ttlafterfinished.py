"""ttl-after-finished-controller: finished Jobs go ttlSecondsAfterFinished after they finished (real clock,
a one-second TTL), unfinished ones and ones without a TTL stay; the expiry arithmetic without a server."""

from kapiserver.client.resources import JOBS
from kapiserver.client.rest import APIError
from kapiserver.controllermanager.ttlafterfinished import time_left
from tests.controllermanager.conftest import eventually, run
from tests.controllermanager.test_job import finished, job_object


def gone(client, name, namespace):
    def check():
        try:
            run(client.get(JOBS, name, namespace))
        except APIError as e:
            return e.code == 404
        return False
    return check


def test_finished_job_is_deleted_after_its_ttl(controllers, simulated_nodes, client, namespace):
    """A Job with ttlSecondsAfterFinished 1 is deleted once it has completed, and one without a TTL stays.  A watch
    sees it: polling could miss the completed Job, since the TTL counts from the Complete condition's time, which
    has one-second resolution, so the Job may go within a moment of completing."""
    simulated_nodes("ttl-node", schedule=True, run_seconds=0.1)
    controllers("job-controller", "ttl-after-finished-controller")
    seen = []

    def event(kind, job):
        complete = any(c["type"] == "Complete" and c["status"] == "True"
                       for c in (job.get("status") or {}).get("conditions") or [])
        seen.append((kind, job["metadata"]["name"], complete))
    watch = client.watch(JOBS, event, namespace=namespace)
    run(client.create(JOBS, job_object("short", namespace, ttlSecondsAfterFinished=1)))
    run(client.create(JOBS, job_object("kept", namespace)))
    eventually(finished(client, "kept", namespace), timeout=30)
    eventually(gone(client, "short", namespace), timeout=30)
    eventually(lambda: ("DELETED", "short", True) in seen, timeout=30)
    watch.cancel()
    short = [(kind, complete) for kind, name, complete in seen if name == "short"]
    first_complete = next(i for i, (_, complete) in enumerate(short) if complete)
    assert short[-1] == ("DELETED", True) and all(complete for _, complete in short[first_complete:]), short
    assert run(client.get(JOBS, "kept", namespace))["metadata"]["name"] == "kept"


def test_ttl_zero_deletes_at_once(controllers, simulated_nodes, client, namespace):
    """ttlSecondsAfterFinished 0: the Job is deleted as soon as it is seen finished."""
    simulated_nodes("ttl-node-0", schedule=True, run_seconds=0.1)
    controllers("job-controller", "ttl-after-finished-controller")
    run(client.create(JOBS, job_object("zero", namespace, ttlSecondsAfterFinished=0)))
    eventually(gone(client, "zero", namespace), timeout=30)


def test_time_left_counts_from_the_finish_condition():
    """Expiry is the Complete/Failed condition's transition time plus the TTL; unfinished jobs have none."""
    job = {"spec": {"ttlSecondsAfterFinished": 100},
           "status": {"conditions": [{"type": "Complete", "status": "True",
                                      "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    start = 1767225600.0     # 2026-01-01T00:00:00Z
    assert time_left(job, start + 30) == 70
    assert time_left(job, start + 130) == -30
    assert time_left({"spec": {"ttlSecondsAfterFinished": 5}, "status": {}}, start) is None
    assert time_left({"spec": {}, "status": job["status"]}, start) is None


def test_requeued_for_expiry_on_the_injected_clock(client, namespace):
    """With the controller's clock a task.Clock: a Job finished now with a 100 s TTL is still there 50 s
    later and deleted once the clock passes 100 s."""
    import time

    from twisted.internet import reactor, task

    from kapiserver.client.informer import SharedInformerFactory
    from kapiserver.controllermanager.context import ControllerContext
    from kapiserver.controllermanager.ttlafterfinished import TTLAfterFinishedController
    from kapiserver.machinery.meta import rfc3339
    clock = task.Clock()
    clock.advance(reactor.seconds())
    informers = SharedInformerFactory(client, reactor)
    controller = TTLAfterFinishedController(ControllerContext(client, informers, clock))
    informers.start()
    run(controller.run())
    try:
        job = run(client.create(JOBS, job_object("later", namespace, ttlSecondsAfterFinished=100, suspend=True)))
        stamp = rfc3339(clock.seconds())
        job["status"] = {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": stamp,
                                         "lastProbeTime": stamp}], "completionTime": stamp, "startTime": stamp}
        run(client.update(JOBS, job, subresource="status"))
        eventually(lambda: controller.queue._waiting)          # requeued for its expiry
        clock.advance(50)
        until = time.monotonic() + 0.5
        eventually(lambda: time.monotonic() > until)
        assert run(client.get(JOBS, "later", namespace))["metadata"]["name"] == "later"
        clock.advance(51)
        eventually(gone(client, "later", namespace), timeout=30)
    finally:
        controller.stop()
        informers.stop()

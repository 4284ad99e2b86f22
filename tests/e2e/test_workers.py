"""--workers: the API served by worker processes over one embedded store, as a client sees it.

Every connection lands on whichever worker the kernel picks (SO_REUSEPORT), so each check makes its requests on
new connections: a write through one worker must be read, listed and watched through any other. Which worker
answered is told by the -v=2 request lines each relays into the primary's log, prefixed "worker N:".
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import APIServerProcess

pytestmark = pytest.mark.skipif(not hasattr(__import__("socket"), "SO_REUSEPORT"), reason="needs SO_REUSEPORT")


def workers_of(pid: int) -> list[int]:
    """The pids of ``pid``'s children that are --workers workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == pid and any(arg.startswith(b"--worker-of=") for arg in cmdline):
            found.append(int(entry.name))
    return found


def full_log(server: APIServerProcess) -> str:
    return server.log_path.read_text(errors="replace")


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie not yet reaped counts: init may be slow to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


def wait_for(predicate, timeout: float = 30.0, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def request(port: int, method: str, path: str, body=None) -> tuple[int, dict | str]:
    """One request on a connection of its own: its status and its JSON (or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.startswith(b"{") else raw.decode()
    finally:
        connection.close()


def configmap(name: str, value: str = "v") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}}


@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    server = APIServerProcess(tmp_path_factory.mktemp("workers") / "data", args=("--workers=2",)).start()
    # /readyz answered: one worker serves; the other joins the port once its own handlers are up.
    for index in (1, 2):
        wait_for(lambda: any(f"worker {index}:" in line and "Serving insecure" in line
                             for line in full_log(server).splitlines()), what=f"worker {index} to listen")
    yield server
    server.stop()


CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def test_both_workers_answer_and_every_write_is_read_through_either(primary):
    """Thirty creates, each read back at once on another connection: every read finds its write whichever
    worker took either, and each worker answered some of them (its request lines in the primary's log)."""
    for i in range(30):
        status, created = request(primary.port, "POST", CONFIGMAPS, configmap(f"rw-{i}"))
        assert status == 201, created
        status, got = request(primary.port, "GET", f"{CONFIGMAPS}/rw-{i}")
        assert status == 200 and got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        status, listed = request(primary.port, "GET", f"{CONFIGMAPS}?labelSelector=&limit=500")
        assert f"rw-{i}" in {item["metadata"]["name"] for item in listed["items"]}
    for index in (1, 2):
        lines = [line for line in full_log(primary).splitlines() if f"worker {index}:" in line and "/configmaps" in line]
        assert lines, f"no request reached worker {index}"


def test_conflicts_are_detected_across_workers(primary):
    """An update with a stale resourceVersion is a 409 whichever worker made the newer write."""
    status, created = request(primary.port, "POST", CONFIGMAPS, configmap("cas"))
    assert status == 201
    stale = created["metadata"]["resourceVersion"]
    for i in range(10):
        body = configmap("cas", f"v{i}")
        body["metadata"]["resourceVersion"] = stale
        status, answer = request(primary.port, "PUT", f"{CONFIGMAPS}/cas", body)
        if i == 0:
            assert status == 200, answer
        else:
            assert status == 409 and answer["reason"] == "Conflict", answer


def test_metrics_count_the_requests_every_process_served(primary):
    """/metrics answers for the whole apiserver whichever worker serves it: after DELETE /metrics (which resets
    every process), thirty GETs on connections of their own, spread over both workers, are thirty in
    apiserver_request_total on every scrape, and the processes' memory is summed."""
    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> dict:
        status, text = request(primary.port, "GET", "/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    missing = {"code": "404", "component": "apiserver", "dry_run": "", "group": "", "resource": "configmaps",
               "scope": "resource", "subresource": "", "verb": "GET", "version": "v1"}
    key = ("apiserver_request_total", tuple(sorted(missing.items())))
    assert request(primary.port, "DELETE", "/metrics")[0] == 200
    before = {index: len([line for line in full_log(primary).splitlines() if f"worker {index}:" in line])
              for index in (1, 2)}
    for i in range(30):
        assert request(primary.port, "GET", f"{CONFIGMAPS}/missing-{i}")[0] == 404
    for _ in range(6):
        assert scrape().get(key) == 30
    for index in (1, 2):
        lines = full_log(primary).splitlines()
        assert len([line for line in lines if f"worker {index}:" in line]) > before[index], \
            f"no request reached worker {index}"
    rss = scrape()[("process_resident_memory_bytes", ())]
    assert rss > 3 * 40 * 2**20     # three processes of 60-80 MiB each; one alone is well under 120 MiB


def test_a_watch_sees_writes_made_through_the_other_worker_in_order(primary):
    """A watch held on one connection sees each of twenty writes made on other connections, in the order of
    their resourceVersions."""
    status, listed = request(primary.port, "GET", CONFIGMAPS)
    connection = http.client.HTTPConnection("127.0.0.1", primary.port, timeout=10)
    connection.request("GET", f"{CONFIGMAPS}?watch=1&resourceVersion={listed['metadata']['resourceVersion']}")
    stream = connection.getresponse()
    assert stream.status == 200
    versions = []
    for i in range(20):
        status, created = request(primary.port, "POST", CONFIGMAPS, configmap(f"watched-{i}"))
        assert status == 201
        versions.append(created["metadata"]["resourceVersion"])
    seen = []
    while len(seen) < 20:
        event = json.loads(stream.readline())
        if event["object"]["metadata"]["name"].startswith("watched-"):
            seen.append(event["object"]["metadata"]["resourceVersion"])
    connection.close()
    assert seen == versions


def crd(plural: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.workers.example.com"},
            "spec": {"group": "workers.example.com", "scope": "Namespaced",
                     "names": {"plural": plural, "singular": plural[:-1], "kind": plural[:-1].capitalize()},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_a_custom_resource_is_served_by_every_process_once_its_crd_is_created(primary):
    """A CRD created through one worker, and at once its first objects on eight connections opened before (so
    some are the other worker's, and nothing delays the requests): the resource is known wherever they land (a
    worker catches up with the CRDs before it answers 404)."""
    for i in range(12):
        plural = f"gizmo{i}s"
        connections = [http.client.HTTPConnection("127.0.0.1", primary.port, timeout=10) for _ in range(8)]
        for connection in connections:
            connection.connect()
        status, created = request(primary.port, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                  crd(plural))
        assert status == 201, created
        for j, connection in enumerate(connections):
            body = json.dumps({"apiVersion": "workers.example.com/v1", "kind": plural[:-1].capitalize(),
                               "metadata": {"name": f"g{j}"}}).encode()
            connection.request("POST", f"/apis/workers.example.com/v1/namespaces/default/{plural}", body=body,
                               headers={"Content-Type": "application/json"})
        for connection in connections:
            response = connection.getresponse()
            assert response.status == 201, response.read()
            connection.close()
    status, answer = request(primary.port, "GET", "/apis/workers.example.com/v1/namespaces/default/nothings")
    assert status == 404 and answer["reason"] == "NotFound"


def test_a_killed_worker_is_started_again(primary):
    """SIGKILL a worker: the other goes on serving, the primary logs the end and starts another."""
    before = wait_for(lambda: len(workers_of(primary.process.pid)) == 2 and workers_of(primary.process.pid),
                      what="two workers")
    os.kill(before[0], signal.SIGKILL)
    wait_for(lambda: gone(before[0]), what="the worker to end")
    answered = []
    for _ in range(10):
        # A connection the kernel queued at the killed worker's SO_REUSEPORT socket before it closed is reset (the
        # man page says so; seen once in CI): one reset is retried, and every request must then be answered 200.
        try:
            status, _ = request(primary.port, "GET", "/readyz")
        except ConnectionResetError:
            status, _ = request(primary.port, "GET", "/readyz")
        answered.append(status)
    assert answered == [200] * 10
    after = wait_for(lambda: len(workers_of(primary.process.pid)) == 2 and workers_of(primary.process.pid),
                     what="a new worker")
    assert before[0] not in after and before[1] in after
    assert "ended (signal 9); starting it again" in full_log(primary)


def test_stopping_the_primary_stops_its_workers(tmp_path):
    """SIGTERM to the primary ends its workers and then itself, with status 0."""
    server = APIServerProcess(tmp_path / "data", args=("--workers=2",)).start()
    try:
        pids = wait_for(lambda: len(workers_of(server.process.pid)) == 2 and workers_of(server.process.pid),
                        what="two workers")
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        for pid in pids:
            wait_for(lambda: gone(pid), what=f"worker {pid} to end")
    finally:
        server.stop()


def test_ctrl_c_stops_the_primary_and_its_workers_once(tmp_path):
    """^C in a terminal signals the whole process group: the primary stops its workers, which leave the SIGINT
    to it, and everything ends cleanly (status 0, no traceback in the log)."""
    server = APIServerProcess(tmp_path / "data", args=("--workers=1",), preexec_fn=os.setsid).start()
    try:
        [worker] = wait_for(lambda: workers_of(server.process.pid), what="the worker")
        os.killpg(server.process.pid, signal.SIGINT)
        assert server.process.wait(30) == 0
        wait_for(lambda: gone(worker), what="the worker to end")
        log = full_log(server)
        assert "Traceback" not in log, log[-3000:]
        assert "worker 1: " in log and "Shutting down: requests drained" in log.split("worker 1: ", 1)[1]
    finally:
        server.stop()


def test_a_worker_whose_primary_is_killed_ends(tmp_path):
    """SIGKILL the primary: its worker loses the store and stops on its own (exit status 1)."""
    server = APIServerProcess(tmp_path / "data", args=("--workers=1",)).start()
    try:
        [worker] = wait_for(lambda: workers_of(server.process.pid), what="the worker")
        server.process.kill()
        server.process.wait()
        wait_for(lambda: gone(worker), timeout=30, what="the worker to end")
    finally:
        server.stop()

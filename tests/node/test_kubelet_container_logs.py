"""kube-node's /containerLogs as upstream's kubelet answers it: the query decoded (a 400) and validated (a 422)
before the pod is looked up, an unknown pod or container a 404, and the options applied."""

from __future__ import annotations

import treq
from treq.testing import StubTreq
from twisted.internet import task

from kapiserver.node.kubeletapi import KubeletAPI
from kapiserver.node.logstore import ContainerLog


class Container:
    def __init__(self, log):
        self.name = "c"
        self.log = log
        self.previous_log_path = None
        self.ended_log_path = None
        self.state = {"running": {}}
        self.last_state = {}
        self.running = True


class Worker:
    def __init__(self, container):
        self._container = container

    def container(self, name):
        return self._container if name == "c" else None


class Agent:
    node_name = "n1"

    def __init__(self, worker):
        self.workers = {("default", "p"): worker}

    def worker(self, namespace, name):
        return self.workers.get((namespace, name))


def _log(tmp_path, lines=b"one\ntwo\nthree\n", close=True):
    log = ContainerLog(str(tmp_path / f"c-{len(list(tmp_path.iterdir()))}.log"))
    log.write(lines)
    if close:
        log.close()
    return log


def _get(tmp_path, path, container=None, during=None):
    """(code, body) of a GET; ``during()`` runs once the request is being answered."""
    container = container or Container(_log(tmp_path))
    clock = task.Clock()
    clock.advance(1e9)
    stub = StubTreq(KubeletAPI(clock, Agent(Worker(container))))
    results, chunks = [], []
    d = stub.request("GET", f"http://node{path}")
    d.addCallback(lambda r: treq.collect(r, chunks.append).addCallback(lambda _: (r.code, b"".join(chunks))))
    d.addBoth(results.append)
    stub.flush()
    if during is not None:
        during()
        stub.flush()
    assert results, "no response"
    return results[0]


def test_a_query_that_does_not_decode_is_a_400(tmp_path):
    """A sinceTime that is not RFC 3339 (or a number that is not one) is the kubelet's 400, not a 500."""
    for query in ("sinceTime=bogus", "tailLines=x", "sinceTime=2024-01-01T00:00:00+0200"):
        code, body = _get(tmp_path, f"/containerLogs/default/p/c?{query}")
        assert code == 400 and b"Unable to decode query." in body, query


def test_invalid_options_are_a_422(tmp_path):
    """Negative tailLines, limitBytes below 1, both since options: the kubelet's 422."""
    for query in ("tailLines=-1", "limitBytes=0", "sinceSeconds=0", "sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z"):
        code, body = _get(tmp_path, f"/containerLogs/default/p/c?{query}")
        assert code == 422 and b"Invalid request." in body, query


def test_an_unknown_pod_or_container_is_a_404(tmp_path):
    """As the kubelet words them: `pod "x" does not exist`, `container "x" not found in pod "p"`."""
    code, body = _get(tmp_path, "/containerLogs/default/nope/c")
    assert code == 404 and b'pod \\"nope\\" does not exist' in body
    code, body = _get(tmp_path, "/containerLogs/default/p/x")
    assert code == 404 and b'container \\"x\\" not found in pod \\"p\\"' in body


def test_options_are_applied(tmp_path):
    """tailLines, limitBytes and an RFC 3339 sinceTime with an offset select from the log."""
    assert _get(tmp_path, "/containerLogs/default/p/c?tailLines=2") == (200, b"two\nthree\n")
    assert _get(tmp_path, "/containerLogs/default/p/c?limitBytes=5") == (200, b"one\nt")
    assert _get(tmp_path, "/containerLogs/default/p/c?sinceTime=2000-01-01T02:00:00%2B02:00") == \
        (200, b"one\ntwo\nthree\n")
    assert _get(tmp_path, "/containerLogs/default/p/c?sinceTime=2999-01-01T02:00:00%2B02:00") == (200, b"")


def test_follow_streams_new_lines_until_the_container_ends(tmp_path):
    """follow=true gives the log so far, then each line written, and ends when the instance's log closes."""
    log = _log(tmp_path, b"one\n", close=False)

    def more():
        log.write(b"two\n")
        log.close()
    assert _get(tmp_path, "/containerLogs/default/p/c?follow=true", Container(log), during=more) == \
        (200, b"one\ntwo\n")


def test_previous_while_waiting_to_restart_is_the_instance_that_just_ended(tmp_path):
    """In CrashLoopBackOff, lastState is the instance that just ended: previous=true reads it (as the plain log
    does), not the one before."""
    container = Container(_log(tmp_path, b"last\n"))
    container.previous_log_path = _log(tmp_path, b"before\n").path
    container.state = {"waiting": {"reason": "CrashLoopBackOff"}}
    container.last_state = {"terminated": {"exitCode": 1}}
    container.running = False
    assert _get(tmp_path, "/containerLogs/default/p/c?previous=true", container) == (200, b"last\n")
    container.state, container.running = {"running": {}}, True
    assert _get(tmp_path, "/containerLogs/default/p/c?previous=true", container) == (200, b"before\n")


def test_a_container_never_started_is_waiting_to_start(tmp_path):
    """No log yet: the waiting reason, worded as the kubelet's for image pulls; previous=true finds nothing."""
    container = Container(None)
    container.state, container.running = {"waiting": {"reason": "ErrImagePull"}}, False
    code, body = _get(tmp_path, "/containerLogs/default/p/c", container)
    assert code == 400 and b"is waiting to start: image can't be pulled" in body
    code, body = _get(tmp_path, "/containerLogs/default/p/c?previous=true", container)
    assert code == 400 and b'previous terminated container \\"c\\" in pod \\"p\\" not found' in body


def test_lines_written_while_the_file_is_read_follow_it_once(tmp_path, monkeypatch):
    """The file is read in the thread pool up to what was written when the request came; lines written while that
    read is under way reach the client after it, none lost and none twice."""
    from twisted.internet.defer import Deferred

    from kapiserver.node import kubeletapi
    pending = []

    def later(clock, fn):
        d = Deferred()
        pending.append((d, fn))
        return d
    monkeypatch.setattr(kubeletapi, "in_pool", later)
    log = _log(tmp_path, b"one\n", close=False)

    def meanwhile():
        log.write(b"two\n")           # while the read is under way
        d, fn = pending.pop()
        d.callback(fn())               # the read: what the file held when the request came
        log.write(b"three\n")
        log.close()
    assert _get(tmp_path, "/containerLogs/default/p/c?follow=true", Container(log), during=meanwhile) == \
        (200, b"one\ntwo\nthree\n")

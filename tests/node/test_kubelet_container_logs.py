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
        self.state = {"running": {}}
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


def _get(tmp_path, path):
    log = ContainerLog(str(tmp_path / f"c-{len(list(tmp_path.iterdir()))}.log"))
    log.write(b"one\ntwo\nthree\n")
    log.close()
    clock = task.Clock()
    clock.advance(1e9)
    stub = StubTreq(KubeletAPI(clock, Agent(Worker(Container(log)))))
    results = []
    d = stub.request("GET", f"http://node{path}")
    d.addCallback(lambda r: treq.content(r).addCallback(lambda body: (r.code, body)))
    d.addBoth(results.append)
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

"""kube-node's /exec and /attach refuse, before any upgrade, a request that asks for no stream at all, as
upstream's remotecommand options do."""

from __future__ import annotations

import treq
from treq.testing import StubTreq
from twisted.internet import task

from kapiserver.node.kubeletapi import KubeletAPI


class Container:
    name = "c"
    running = True


class Worker:
    def container(self, name):
        return Container() if name == "c" else None


class Agent:
    node_name = "n1"
    workers: dict = {}

    def worker(self, namespace, name):
        return Worker() if (namespace, name) == ("default", "p") else None


def _post(path):
    stub = StubTreq(KubeletAPI(task.Clock(), Agent()))
    results = []
    d = stub.request("POST", f"http://node{path}", headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                            "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
    d.addCallback(lambda r: treq.content(r).addCallback(lambda body: (r.code, body)))
    d.addBoth(results.append)
    stub.flush()
    assert results, "no response"
    return results[0]


def test_no_stream_is_a_400():
    """Neither stdin, stdout nor stderr (stderr with tty does not count): 400 before the upgrade."""
    for path in ("/exec/default/p/c?command=true", "/attach/default/p/c",
                 "/exec/default/p/c?command=true&tty=1&stderr=1"):
        code, body = _post(path)
        assert code == 400 and b"you must specify at least 1 of stdin, stdout, stderr" in body, path

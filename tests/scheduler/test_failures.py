"""The scheduler's failure paths against a client stand-in: what a refused binding writes, and what
preemption does when a victim's status write is refused."""

from __future__ import annotations

import random

from twisted.internet import task
from twisted.internet.defer import Deferred

from kapiserver.client.resources import PODS
from kapiserver.client.rest import APIError
from kapiserver.scheduler.scheduler import Scheduler
from tests.scheduler.objects import node, pod


class FakeClient:
    """Refuses bindings (409); records every status patch and delete."""

    def __init__(self):
        self.patches = []
        self.deletes = []

    async def create(self, resource, body, namespace=None, name=None, subresource=None):
        if subresource == "binding":
            raise APIError(409, {"kind": "Status", "reason": "Conflict",
                                 "message": f'Operation cannot be fulfilled on pods/binding "{name}": taken'})
        return body

    async def patch(self, resource, name, body, namespace=None, patch_type=None, subresource=None):
        self.patches.append((resource, name, body))
        return body

    async def delete(self, resource, name, namespace=None, **options):
        self.deletes.append(name)
        return {}


def scheduler_with(client, *pods):
    s = Scheduler(client, task.Clock(), rand=random.Random(0))
    s.nodes._event("ADDED", node("a"))
    for p in pods:
        s.pods._event("ADDED", p)
    return s


def run(coroutine):
    d = Deferred.fromCoroutine(coroutine)
    results = []
    d.addBoth(results.append)
    assert results and not hasattr(results[0], "check"), results
    return results[0]


def test_refused_binding_clears_the_nomination():
    """A binding the server refuses: the pod is forgotten, a SchedulerError condition is written with
    upstream's "running Bind plugin" words, and its nominatedNodeName is cleared (upstream's
    clearNominatedNode on a binding cycle's failure)."""
    p = pod("p", cpu="1")
    p["status"]["nominatedNodeName"] = "a"
    client = FakeClient()
    s = scheduler_with(client, p)
    info = s.queue._pop()
    assumed = s.cache.assume_pod(info.pod, "a")
    run(s.bind(info, assumed, "a"))
    assert not s.cache.is_assumed(p)
    [(resource, name, body)] = client.patches
    assert resource == PODS and name == "p"
    [condition] = body["status"]["conditions"]
    assert (condition["reason"], condition["message"]) == (
        "SchedulerError", 'running Bind plugin "DefaultBinder": Operation cannot be fulfilled on pods/binding "p": '
                          'taken')
    assert body["status"]["nominatedNodeName"] is None

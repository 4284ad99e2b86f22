"""Nodes and pods for the scheduler's tests, as the API would hand them to the informers."""

from __future__ import annotations

import itertools
import random

from kapiserver.scheduler.cache import Cache
from kapiserver.scheduler.framework import Framework
from kapiserver.scheduler.plugins import DEFAULT_SCORE_WEIGHTS, default_plugins

_uids = itertools.count(1)


def node(name, cpu="4", memory="8Gi", pods="110", labels=None, taints=None, unschedulable=False, **allocatable):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {**({"taints": taints} if taints else {}), **({"unschedulable": True} if unschedulable else {})},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **allocatable},
                       "capacity": {"cpu": cpu, "memory": memory, "pods": pods, **allocatable}}}


def pod(name, cpu=None, memory=None, namespace="default", node_name=None, priority=None, labels=None,
        host_port=None, scheduler_name="default-scheduler", **spec):
    requests = {**({"cpu": cpu} if cpu else {}), **({"memory": memory} if memory else {})}
    container = {"name": "c", "image": "busybox", "resources": {"requests": requests} if requests else {}}
    if host_port:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    body = {"containers": [container], "schedulerName": scheduler_name, **spec}
    if node_name:
        body["nodeName"] = node_name
    if priority is not None:
        body["priority"] = priority
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}-{next(_uids)}",
                         "labels": labels or {}},
            "spec": body, "status": {"phase": "Pending"}}


def cluster(nodes, pods=()):
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(p)
    return cache


def framework(seed=0, **listers):
    return Framework(default_plugins(**listers), DEFAULT_SCORE_WEIGHTS, rand=random.Random(seed))

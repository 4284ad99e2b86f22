"""kube-controller-manager's controllers in this process, against a real kube-apiserver process (one per test
module), driven by turning the global reactor by hand: ``controllers("deployment-controller", ...)`` starts
them, ``eventually(check)`` turns the reactor until ``check()`` is truthy."""

from __future__ import annotations

import time

import pytest
from twisted.internet import reactor

from kapiserver.client.resources import NAMESPACES
from kapiserver.client.rest import APIError, loopback_client
from kapiserver.controllermanager.manager import ControllerManager
from tests.conformance.support import unique
from tests.controllers.conftest import run, run_until  # noqa: F401
from tests.e2e.conftest import apiserver, kubectl  # noqa: F401


def eventually(check, timeout: float = 30.0, interval: float = 0.05):
    """Turn the reactor until ``check()`` returns something truthy (an APIError counts as not yet); that."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
        except (APIError, AssertionError, KeyError, IndexError, TypeError, StopIteration) as e:
            last = e
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout}s (last: {last!r})")
        stop = time.monotonic() + interval
        run_until(lambda: time.monotonic() >= stop, timeout=interval + 1)


def in_background(kubectl, *args, timeout=60):  # noqa: F811 (the fixture's value, passed in)
    """kubectl in a thread, so that the reactor (and the controllers) keep turning while it waits; its
    CompletedProcess (not checked)."""
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(kubectl, *args, check=False, timeout=timeout)
    pool.shutdown(wait=False)
    return eventually(lambda: future.done() and future.result(), timeout=timeout)


@pytest.fixture
def client(apiserver):  # noqa: F811
    client = loopback_client(apiserver.url, user_agent="kube-controller-manager-tests")
    yield client
    run(client.close())


@pytest.fixture
def controllers(client):
    """``controllers(*names, **options)``: a ControllerManager running those controllers until the test ends."""
    started = []

    def start(*names, **options):
        manager = ControllerManager(client, reactor, list(names),
                                    {k.replace("_", "-"): v for k, v in options.items()})
        run(manager.start())
        started.append(manager)
        return manager
    yield start
    for manager in started:
        manager.stop()


@pytest.fixture
def namespace(client):
    name = unique("cm")
    run(client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    try:
        run(client.delete(NAMESPACES, name))
    except APIError:
        pass


@pytest.fixture
def simulated_nodes(client):
    """``simulated_nodes(*names, schedule=False, **options)``: SimulatedNodes reporting the pods bound to them
    as Running and Ready (kapiserver.node.simulated), until the test ends."""
    from kapiserver.node.simulated import SimulatedNode
    started = []

    def start(*names, **options):
        nodes = []
        for name in names:
            node = SimulatedNode(client, name, reactor, **options)
            run(node.start())
            started.append(node)
            nodes.append(node)
        return nodes
    yield start
    for node in started:
        node.stop()


@pytest.fixture
def nodes(simulated_nodes, client):
    """``nodes(*names, **options)``: simulated nodes that bind pods (honouring a daemon pod's node affinity); their
    Node objects are deleted after the test, so that no later DaemonSet counts them."""
    from kapiserver.client.resources import NODES
    names = []

    def start(*new, **options):
        names.extend(new)
        return simulated_nodes(*new, schedule=True, **options)
    yield start
    for name in names:
        try:
            run(client.delete(NODES, name))
        except APIError:
            pass


# An apiserver flag embedding every controller it can but the namespace and garbage collector ones (so that
# tests pin kube-controller-manager's copies; pods are still admitted, their default ServiceAccounts made).
WITHOUT_NAMESPACE_AND_GC = ("--embedded-controllers=serviceaccount-controller,root-ca-certificate-publisher-controller,"
                            "persistentvolumeclaim-protection-controller,persistentvolume-protection-controller")

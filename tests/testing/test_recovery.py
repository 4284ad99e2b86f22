"""Controllers recovering from faults injected through the ``kapiserver`` fixture: our client-go-style
reflector (kapiserver.client) from each kind of fault, and a kopf operator (KopfRunner) from a watch that
expires and a patch that fails."""

from __future__ import annotations

import textwrap
import time

import pytest

from kapiserver.client.reflector import Backoff, Reflector
from kapiserver.client.resources import CONFIG_MAPS
from kapiserver.client.rest import loopback_client
from tests.controllers.conftest import run, run_until

CM_PATH = "/api/v1/namespaces/default/configmaps"


FAULTS = [
    {"verb": "list", "status": 500}, {"verb": "list", "status": 503}, {"verb": "list", "status": 504},
    {"verb": "list", "status": 429, "retry_after": 1}, {"verb": "list", "drop": True},
    {"verb": "list", "latency": 0.2},
    {"verb": "watch", "status": 410}, {"verb": "watch", "status": 500}, {"verb": "watch", "watch_events": 0},
    {"verb": "watch", "watch_events": 1}, {"verb": "watch", "drop": True},
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()))
def test_the_reflector_recovers(kapiserver, fault):
    """With the fault injected once into its configmaps requests, the reflector still lists what exists and
    then sees an object created afterwards."""
    from twisted.internet import reactor
    kapiserver.api.post(CM_PATH, {"metadata": {"name": "before"}})
    kapiserver.inject(resource="configmaps", namespace="default", times=1, **fault)
    seen: dict = {}

    def replace(items, _):
        seen.clear()
        seen.update((o["metadata"]["name"], o) for o in items)

    def event(kind, obj):
        if kind == "DELETED":
            seen.pop(obj["metadata"]["name"], None)
        else:
            seen[obj["metadata"]["name"]] = obj

    client = loopback_client(kapiserver.url)
    reflector = Reflector(client, CONFIG_MAPS, replace, event, reactor, namespace="default", random=lambda: 0.0)
    reflector.backoff = Backoff(reactor, initial=0.05, random=lambda: 0.0)   # client-go's 0.8 s, shortened
    reflector.start()
    try:
        run_until(lambda: "before" in seen, timeout=30)
        kapiserver.api.post(CM_PATH, {"metadata": {"name": "after"}})
        run_until(lambda: "after" in seen, timeout=30)
        assert kapiserver.faults() == []    # the rule fired (times=1) and is gone
    finally:
        reflector.stop()
        run(client.close())


OPERATOR = textwrap.dedent("""\
    import json, os, urllib.request
    import kopf

    @kopf.on.login()
    def login(**_):
        # The fixture's server: plain HTTP, where every request is the admin.
        return kopf.ConnectionInfo(server=os.environ["APISERVER"])

    @kopf.on.startup()
    def configure(settings, **_):
        settings.posting.enabled = False
        settings.watching.server_timeout = 10
        settings.networking.error_backoffs = [0.2, 0.5, 1]

    @kopf.on.create("", "v1", "configmaps", labels={"greet": "yes"})
    def greet(name, namespace, **_):
        body = {"metadata": {"name": "greeted-" + name}}
        request = urllib.request.Request(
            os.environ["APISERVER"] + "/api/v1/namespaces/" + namespace + "/configmaps",
            data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).read()
    """)


def test_a_kopf_operator_recovers(kapiserver, tmp_path, monkeypatch):
    """A kopf operator (KopfRunner, in this process) whose first configmaps watch expires (410) and whose
    first patch fails (503) still handles the ConfigMap created meanwhile."""
    kopf_testing = pytest.importorskip("kopf.testing")
    operator = tmp_path / "operator.py"
    operator.write_text(OPERATOR)
    monkeypatch.setenv("APISERVER", kapiserver.url)
    kapiserver.inject(verb="watch", resource="configmaps", status=410, times=1)
    kapiserver.inject(verb="patch", resource="configmaps", status=503, times=1)
    with kopf_testing.KopfRunner(["run", "--standalone", "--namespace=default", str(operator)],
                                 timeout=60) as runner:
        kapiserver.api.post(CM_PATH, {"metadata": {"name": "hello", "labels": {"greet": "yes"}}})
        deadline = time.monotonic() + 45
        while kapiserver.api.request("GET", f"{CM_PATH}/greeted-hello")[0] != 200:
            assert time.monotonic() < deadline, "the operator did not handle the ConfigMap"
            time.sleep(0.1)
        fired = kapiserver.faults()
    assert runner.exception is None, runner.output
    assert fired == [], fired

"""A small kopf operator, run as a subprocess against the server: it watches a
custom resource, reacts to a created object (status through /status, an event),
and finalizes it on deletion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conformance import support

pytest.importorskip("kopf")

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "greetings.kopf.example.com"},
    "spec": {"group": "kopf.example.com", "scope": "Namespaced",
             "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {"who": {"type": "string"}}},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}

OPERATOR = textwrap.dedent("""\
    import kopf

    @kopf.on.startup()
    def configure(settings, **_):
        settings.posting.level = 0
        settings.watching.server_timeout = 20

    @kopf.on.create("kopf.example.com", "v1", "greetings")
    def greet(spec, body, **_):
        kopf.info(body, reason="Greeted", message="said hello to " + spec.get("who", "nobody"))
        return {"message": "hello " + spec.get("who", "nobody")}

    @kopf.on.delete("kopf.example.com", "v1", "greetings")
    def farewell(name, namespace, **_):
        import json, os, urllib.request
        body = {"metadata": {"name": "farewell-" + name}, "data": {"said": "goodbye"}}
        request = urllib.request.Request(
            os.environ["APISERVER"] + "/api/v1/namespaces/" + namespace + "/configmaps",
            data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).read()
    """)


def wait_for(predicate, timeout, what):
    return support.wait_for(predicate, timeout=timeout, interval=0.1, what=what)


@pytest.fixture(scope="module")
def operator(apiserver, kubectl, tmp_path_factory):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    home = tmp_path_factory.mktemp("kopf")
    # Not "operator.py": with the script's folder on sys.path that name shadows the stdlib module.
    (home / "greeter.py").write_text(OPERATOR)
    log_path = home / "kopf.log"
    env = dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(home), APISERVER=apiserver.url)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces",
                                    "--verbose", str(home / "greeter.py")],
                                   stdout=log, stderr=subprocess.STDOUT, env=env, cwd=home)
    process.log = lambda: log_path.read_text()[-6000:]
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_kopf_reacts_to_a_created_object(operator, kubectl):
    """kopf adds its finalizer, runs the create handler, merge-patches the result into /status and posts an event."""
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "kopf.example.com/v1", "kind": "Greeting", "metadata": {"name": "g1", "namespace": "default"},
        "spec": {"who": "world"}}))

    def handled():
        obj = kubectl.json("get", "greeting", "g1")
        return obj if (obj.get("status") or {}).get("greet") else None
    try:
        obj = wait_for(handled, 30, "status patched by kopf")
    except AssertionError:
        raise AssertionError("kopf did not handle the object:\n" + operator.log())
    assert obj["status"]["greet"] == {"message": "hello world"}
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]
    assert "kopf.zalando.org/last-handled-configuration" in obj["metadata"]["annotations"]
    # kopf posts its events from a queue of their own, after the handler: not necessarily before the status.
    wait_for(lambda: any(e["reason"] == "Greeted" and e["message"] == "said hello to world" for e in kubectl.json(
        "get", "events", "--field-selector", "involvedObject.name=g1")["items"]), 30, "the Greeted event")


def test_kopf_finalizes_on_delete(operator, kubectl):
    """Deleting the object lets kopf run its delete handler and take its finalizer off, so the object goes.
    (Its own object: under pytest-xdist the other test may run on another worker, against another server.)"""
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "kopf.example.com/v1", "kind": "Greeting", "metadata": {"name": "g2", "namespace": "default"},
        "spec": {"who": "you"}}))
    try:
        wait_for(lambda: "kopf.zalando.org/KopfFinalizerMarker" in (
            kubectl.json("get", "greeting", "g2")["metadata"].get("finalizers") or []), 30, "kopf finalizer")
    except AssertionError:
        raise AssertionError("kopf did not take the object:\n" + operator.log())
    kubectl("delete", "greeting", "g2", "--wait=false")
    try:
        wait_for(lambda: kubectl("get", "greeting", "g2", check=False).returncode == 1, 30, "object deleted")
    except AssertionError:
        raise AssertionError("kopf did not finalize the object:\n" + operator.log())
    assert kubectl.json("get", "configmap", "farewell-g2")["data"] == {"said": "goodbye"}

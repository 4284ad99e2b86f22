"""Helpers the conformance tests share: a fresh namespace per test (as each e2e test gets one), open watch
streams read event by event, polling until a condition holds, and the patch content types."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import uuid


MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


# One group/version and a resource each, for every built-in group (upstream's discovery e2e table).
GROUP_RESOURCES = [
    ("", "v1", "namespaces"),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
    ("apiregistration.k8s.io", "v1", "apiservices"),
    ("apps", "v1", "deployments"),
    ("authentication.k8s.io", "v1", "tokenreviews"),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews"),
    ("autoscaling", "v1", "horizontalpodautoscalers"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
    ("batch", "v1", "jobs"),
    ("certificates.k8s.io", "v1", "certificatesigningrequests"),
    ("coordination.k8s.io", "v1", "leases"),
    ("discovery.k8s.io", "v1", "endpointslices"),
    ("events.k8s.io", "v1", "events"),
    ("networking.k8s.io", "v1", "ingresses"),
    ("node.k8s.io", "v1", "runtimeclasses"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("scheduling.k8s.io", "v1", "priorityclasses"),
    ("storage.k8s.io", "v1", "csinodes"),
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# What a check raises on a state that is not there yet (a list still empty, a field not yet written, an
# object not yet created, an assertion not yet true): not yet, rather than a failure at once.
NOT_YET = (AssertionError, KeyError, IndexError, TypeError, StopIteration)


def wait_for(check, timeout=30.0, interval=0.05, what="condition"):
    """Call ``check`` until it returns something truthy (raising one of NOT_YET counts as not yet); that
    value, or AssertionError at the deadline. A wait that is met returns at once, so the deadline is generous:
    a loaded machine is slow."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = check()
        except NOT_YET as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}; last saw {last!r}")
        time.sleep(interval)


def default_service_account(server, namespace: str) -> None:
    """Wait for ``namespace``'s default ServiceAccount, which the serviceaccount controller makes after the
    namespace: until then ServiceAccount admission refuses the namespace's pods (upstream's e2e framework
    waits for it too)."""
    wait_for(lambda: server.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0] == 200,
             what=f"the default ServiceAccount of {namespace}")


def ok(result, *statuses):
    """The body of a ``request`` answer whose status is one of ``statuses`` (200, 201 by default)."""
    status, body = result
    assert status in (statuses or (200, 201)), (status, body)
    return body


class Watch:
    """An open watch: one HTTP request whose response a thread reads a line (an event) at a time."""

    def __init__(self, server, path: str, timeout: float = 15.0):
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=None)
        self.conn.request("GET", path)
        self.response = self.conn.getresponse()
        assert self.response.status == 200, (self.response.status, self.response.read())
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self.response:
                if line.strip():
                    self.events.put(json.loads(line))
        except (OSError, ValueError, AttributeError):
            pass
        self.events.put(None)

    def next(self, timeout: float | None = None):
        """The next event as a dict; AssertionError if the stream ends or is silent past the timeout."""
        try:
            event = self.events.get(timeout=self.timeout if timeout is None else timeout)
        except queue.Empty:
            raise AssertionError("no watch event arrived in time") from None
        assert event is not None, "the watch ended"
        return event

    def take(self, count: int) -> list[dict]:
        return [self.next() for _ in range(count)]

    def expect_nothing(self, seconds: float = 1.0):
        """No event within ``seconds``."""
        try:
            event = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected watch event: {event!r}")

    def close(self):
        try:
            self.conn.sock and self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def events_of(server, path: str, timeout: float = 10.0) -> list[dict]:
    """Every event of a watch that ends by itself (the path carries timeoutSeconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 200, (response.status, body)
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def discovery_has(server, group_version: str, *resources: str):
    """The /apis (or /api) discovery documents name ``group_version`` and its ``resources``."""
    if "/" in group_version:
        group = group_version.split("/")[0]
        groups = ok(server.request("GET", "/apis"))["groups"]
        found = [g for g in groups if g["name"] == group]
        assert found, f"{group} is not in /apis"
        assert group_version in [v["groupVersion"] for v in found[0]["versions"]]
        versions = ok(server.request("GET", f"/apis/{group}"))["versions"]
        assert group_version in [v["groupVersion"] for v in versions]
        listing = ok(server.request("GET", f"/apis/{group_version}"))
    else:
        assert group_version in ok(server.request("GET", "/api"))["versions"]
        listing = ok(server.request("GET", f"/api/{group_version}"))
    names = {r["name"] for r in listing["resources"]}
    missing = set(resources) - names
    assert not missing, f"{missing} not in /apis/{group_version}: {sorted(names)}"
    return listing


def exercise(server, collection, all_namespaces, objects, label_value, status_changes=None):
    """The generic API walk of the e2e tests: create the objects (each labelled special-label=label_value),
    get, list (here and everywhere), watch, patch and update (annotations), optionally patch and update
    /status, delete one, and deletecollection the rest."""
    selector = f"labelSelector=special-label%3D{label_value}"
    created = [ok(server.request("POST", collection, obj)) for obj in objects]
    names = [c["metadata"]["name"] for c in created]

    got = ok(server.request("GET", f"{collection}/{names[0]}"))
    assert got["metadata"]["uid"] == created[0]["metadata"]["uid"]

    listed = ok(server.request("GET", f"{collection}?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == sorted(names)
    if all_namespaces:
        listed = ok(server.request("GET", f"{all_namespaces}?{selector}"))
        assert set(names) <= {i["metadata"]["name"] for i in listed["items"]}

    rv = listed["metadata"]["resourceVersion"]
    with Watch(server, f"{collection}?watch=true&{selector}&resourceVersion={rv}") as w:
        patched = ok(server.request("PATCH", f"{collection}/{names[0]}",
                                    {"metadata": {"annotations": {"patched": "true"}}}, headers=MERGE))
        assert patched["metadata"]["annotations"]["patched"] == "true"
        current = ok(server.request("GET", f"{collection}/{names[0]}"))
        current["metadata"]["annotations"]["updated"] = "true"
        updated = ok(server.request("PUT", f"{collection}/{names[0]}", current))
        assert updated["metadata"]["annotations"]["updated"] == "true"
        seen = {}
        while not ({"patched", "updated"} <= set(seen)):
            event = w.next()
            assert event["type"] == "MODIFIED", event
            seen.update(event["object"]["metadata"].get("annotations", {}))

    if status_changes:
        status_changes(f"{collection}/{names[0]}")

    ok(server.request("DELETE", f"{collection}/{names[-1]}"))
    assert server.request("GET", f"{collection}/{names[-1]}")[0] == 404
    listed = ok(server.request("GET", f"{collection}?{selector}"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == sorted(names[:-1])

    ok(server.request("DELETE", f"{collection}?{selector}"))
    assert ok(server.request("GET", f"{collection}?{selector}"))["items"] == []

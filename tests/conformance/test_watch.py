"""Watches of ConfigMaps as the conformance entries of [sig-api-machinery] Watchers drive them: several
watchers with label selectors, watches opened at a past resourceVersion, a watch restarted where the
last one stopped, an object leaving and re-entering a selector, and concurrent watches agreeing on order."""

from __future__ import annotations

import random
import threading
import time

from tests.conformance.support import Watch, ok

LABEL = "watch-this-configmap"


def cm_path(ns, name=""):
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def watch_path(ns, values, rv=""):
    selector = f"{LABEL}+in+({','.join(values)})"
    return cm_path(ns) + f"?watch=true&labelSelector={selector}" + (f"&resourceVersion={rv}" if rv else "")


def create(server, ns, name, label_value):
    return ok(server.request("POST", cm_path(ns), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "labels": {LABEL: label_value}}}))


def update(server, ns, name, change):
    """Read, change, write back (the e2e tests' updateConfigMap); the updated object."""
    current = ok(server.request("GET", cm_path(ns, name)))
    change(current)
    return ok(server.request("PUT", cm_path(ns, name), current))


def mutate(value):
    def change(cm):
        cm.setdefault("data", {})["mutation"] = value
    return change


def relabel(value):
    def change(cm):
        cm["metadata"]["labels"][LABEL] = value
    return change


def expect(event, kind, obj=None):
    assert event["type"] == kind, event
    if obj is not None:
        assert event["object"] == obj, (event["object"], obj)


def test_watch_configmaps_with_multiple_watchers(apiserver, namespace):
    """watch-configmaps-with-multiple-watchers"""
    ns = namespace
    with Watch(apiserver, watch_path(ns, ["multiple-watchers-A"])) as watch_a, \
            Watch(apiserver, watch_path(ns, ["multiple-watchers-B"])) as watch_b, \
            Watch(apiserver, watch_path(ns, ["multiple-watchers-A", "multiple-watchers-B"])) as watch_ab:
        created_a = create(apiserver, ns, "e2e-watch-test-configmap-a", "multiple-watchers-A")
        for w in (watch_a, watch_ab):
            expect(w.next(), "ADDED", created_a)
        first = update(apiserver, ns, "e2e-watch-test-configmap-a", mutate("1"))
        for w in (watch_a, watch_ab):
            expect(w.next(), "MODIFIED", first)
        second = update(apiserver, ns, "e2e-watch-test-configmap-a", mutate("2"))
        for w in (watch_a, watch_ab):
            expect(w.next(), "MODIFIED", second)
        ok(apiserver.request("DELETE", cm_path(ns, "e2e-watch-test-configmap-a")))
        for w in (watch_a, watch_ab):
            event = w.next()
            expect(event, "DELETED")
            assert event["object"]["metadata"]["name"] == "e2e-watch-test-configmap-a"

        created_b = create(apiserver, ns, "e2e-watch-test-configmap-b", "multiple-watchers-B")
        for w in (watch_b, watch_ab):
            expect(w.next(), "ADDED", created_b)
        ok(apiserver.request("DELETE", cm_path(ns, "e2e-watch-test-configmap-b")))
        for w in (watch_b, watch_ab):
            expect(w.next(), "DELETED")
        # Neither single-label watcher saw the other's configmap.
        watch_a.expect_nothing(0.5)
        watch_b.expect_nothing(0.5)


def test_watch_configmaps_from_resource_version(apiserver, namespace):
    """watch-configmaps-from-resource-version"""
    ns, name = namespace, "e2e-watch-test-resource-version"
    create(apiserver, ns, name, "from-resource-version")
    first = update(apiserver, ns, name, mutate("1"))
    second = update(apiserver, ns, name, mutate("2"))
    ok(apiserver.request("DELETE", cm_path(ns, name)))
    with Watch(apiserver, watch_path(ns, ["from-resource-version"], first["metadata"]["resourceVersion"])) as w:
        expect(w.next(), "MODIFIED", second)
        event = w.next()
        expect(event, "DELETED")
        assert event["object"]["data"] == {"mutation": "2"}
        w.expect_nothing(0.5)


def test_watch_configmaps_closed_and_restarted(apiserver, namespace):
    """watch-configmaps-closed-and-restarted"""
    ns, name = namespace, "e2e-watch-test-watch-closed"
    with Watch(apiserver, watch_path(ns, ["watch-closed-and-restarted"])) as w:
        created = create(apiserver, ns, name, "watch-closed-and-restarted")
        first = update(apiserver, ns, name, mutate("1"))
        expect(w.next(), "ADDED", created)
        last = w.next()
        expect(last, "MODIFIED", first)
    # While no watch is open:
    second = update(apiserver, ns, name, mutate("2"))
    ok(apiserver.request("DELETE", cm_path(ns, name)))
    rv = last["object"]["metadata"]["resourceVersion"]
    with Watch(apiserver, watch_path(ns, ["watch-closed-and-restarted"], rv)) as w:
        expect(w.next(), "MODIFIED", second)
        expect(w.next(), "DELETED")


def test_watch_configmaps_label_changed(apiserver, namespace):
    """watch-configmaps-label-changed"""
    ns, name = namespace, "e2e-watch-test-label-changed"
    with Watch(apiserver, watch_path(ns, ["label-changed-and-restored"])) as w:
        created = create(apiserver, ns, name, "label-changed-and-restored")
        first = update(apiserver, ns, name, mutate("1"))
        update(apiserver, ns, name, relabel("wrong-value"))
        expect(w.next(), "ADDED", created)
        expect(w.next(), "MODIFIED", first)
        expect(w.next(), "DELETED")

        update(apiserver, ns, name, mutate("2"))
        w.expect_nothing(1.0)

        restored = update(apiserver, ns, name, relabel("label-changed-and-restored"))
        third = update(apiserver, ns, name, mutate("3"))
        ok(apiserver.request("DELETE", cm_path(ns, name)))
        expect(w.next(), "ADDED", restored)
        expect(w.next(), "MODIFIED", third)
        expect(w.next(), "DELETED")


def produce_events(server, ns, stop: threading.Event, errors: list):
    """Creates, updates and deletes of configmaps cm-0, cm-1, ... in random order until stopped."""
    existing, i, rng = [], 0, random.Random(7)
    try:
        while not stop.is_set():
            op = rng.randrange(3) if existing else 0
            if op == 0:
                ok(server.request("POST", cm_path(ns), {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": f"cm-{i}"}}))
                existing.append(i)
                i += 1
            elif op == 1:
                name = f"cm-{rng.choice(existing)}"
                ok(server.request("PUT", cm_path(ns, name), {
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                    "data": {"n": str(time.monotonic_ns())}}))
            else:
                victim = existing.pop(rng.randrange(len(existing)))
                ok(server.request("DELETE", cm_path(ns, f"cm-{victim}")))
            time.sleep(0.005)
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


def test_watch_consistency(apiserver, namespace):
    """watch-consistency"""
    ns, iterations = namespace, 100
    rv = ok(apiserver.request("GET", cm_path(ns)))["metadata"]["resourceVersion"]
    stop, errors = threading.Event(), []
    producer = threading.Thread(target=produce_events, args=(apiserver, ns, stop, errors))
    producer.start()
    watches = []
    try:
        for _ in range(iterations):
            watches.append(Watch(apiserver, cm_path(ns) + f"?watch=true&resourceVersion={rv}"))
            rv = watches[0].next()["object"]["metadata"]["resourceVersion"]
            for other in watches[1:]:
                seen = other.next()["object"]["metadata"]["resourceVersion"]
                assert seen == rv, f"resource version mismatch: expected {rv}, got {seen}"
    finally:
        stop.set()
        producer.join()
        for w in watches:
            w.close()
    assert not errors, errors

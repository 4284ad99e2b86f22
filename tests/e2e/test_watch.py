"""
List and watch as clients rely on them, against a real server process: resuming
across a restart with the official client, raw HTTP for 410/504/bookmarks/initial
events and Table watches, and hundreds of concurrent watchers seeing the same events.
"""

from __future__ import annotations

import base64
import http.client
import json
import selectors
import socket
import time

import pytest

from tests.conformance.support import Watch, wait_for

from .conftest import APIServerProcess, free_port

CM = "/api/v1/namespaces/default/configmaps"


def configmap(name, value="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}


def stream(server, path, timeout=10):
    """(status, list of decoded watch events) of a watch that ends by itself (timeoutSeconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, [json.loads(line) for line in body.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _quiet_default_namespace(request):
    """Every test on the module's shared server starts once the root CA publisher has written kube-root-ca.crt
    to default (it lands a moment after the server starts; a watch of default's ConfigMaps would see it)."""
    if "apiserver" in request.fixturenames:
        server = request.getfixturevalue("apiserver")
        wait_for(lambda: server.request("GET", CM + "/kube-root-ca.crt")[0] == 200, what="kube-root-ca.crt")


TOO_LARGE_DETAILS = {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1}


def test_list_at_future_rv_is_504_too_large(apiserver):
    """A list at a resourceVersion storage has not reached waits briefly, then 504 'Too large resource version'
    with the ResourceVersionTooLarge cause and a Retry-After header."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", apiserver.port, timeout=10)
    conn.request("GET", CM + "?resourceVersion=99999999")
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 504 and response.getheader("Retry-After") == "1"
    assert body["reason"] == "Timeout" and body["details"] == TOO_LARGE_DETAILS
    assert body["message"].startswith("Timeout: Too large resource version: 99999999, current: ")
    assert time.monotonic() - started >= 2.5


def test_watch_from_future_rv_is_200_and_empty_until_its_timeout(apiserver):
    """A plain watch from a resourceVersion storage has not reached is no error: 200, nothing, until timeoutSeconds."""
    started = time.monotonic()
    status, events = stream(apiserver, CM + "?watch=true&resourceVersion=99999999&timeoutSeconds=1")
    assert status == 200 and events == []
    assert time.monotonic() - started >= 0.9


def test_initial_events_watch_from_future_rv_is_an_error_event(apiserver):
    """sendInitialEvents=true from a future resourceVersion: 200, then one ERROR event with the 504 too-large Status."""
    status, events = stream(apiserver, CM + "?watch=true&resourceVersion=99999999&resourceVersionMatch=NotOlderThan"
                                           "&sendInitialEvents=true&allowWatchBookmarks=true&timeoutSeconds=10")
    assert status == 200 and len(events) == 1 and events[0]["type"] == "ERROR"
    error = events[0]["object"]
    assert error["code"] == 504 and error["reason"] == "Timeout" and error["details"] == TOO_LARGE_DETAILS
    assert error["message"].startswith("Timeout: Too large resource version: 99999999, current: ")


# The initial-events-end bookmark's annotations: the empty list a watch-list client (client-go's, which requires it)
# builds its list on, as the watch's encoder writes it (JSON and its newline), in base64.
INITIAL_EVENTS_END = {"k8s.io/initial-events-end": "true", "kubernetes.io/initial-events-list-blueprint":
                      base64.b64encode(b'{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":null}\n')
                      .decode()}


def test_initial_events_then_end_bookmark_then_changes(apiserver):
    """sendInitialEvents=true: ADDED for current objects, a BOOKMARK annotated initial-events-end, then changes."""
    # The root CA publisher writes kube-root-ca.crt after start: once it has, nothing else writes here.
    wait_for(lambda: apiserver.request("GET", CM + "/kube-root-ca.crt")[0] == 200, what="kube-root-ca.crt")
    apiserver.request("POST", CM, configmap("initial-a"))
    status, listed = apiserver.request("GET", CM)
    names = {i["metadata"]["name"] for i in listed["items"]}
    # initial-b is created once the initial events have ended (not after a fixed wait, which a loaded machine
    # may outlast before the watch is set up).
    with Watch(apiserver, CM + "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                               "&allowWatchBookmarks=true&timeoutSeconds=60", timeout=30) as watch:
        events = [watch.next()]
        while events[-1]["type"] != "BOOKMARK":
            events.append(watch.next())
        status = watch.response.status
        apiserver.request("POST", CM, configmap("initial-b"))
        events.append(watch.next())
        watch.expect_nothing(0.5)
    assert status == 200
    kinds = [e["type"] for e in events]
    end = kinds.index("BOOKMARK")
    assert set(kinds[:end]) == {"ADDED"}
    assert {e["object"]["metadata"]["name"] for e in events[:end]} >= names
    bookmark = events[end]["object"]
    assert bookmark["metadata"]["annotations"] == INITIAL_EVENTS_END
    assert bookmark["kind"] == "ConfigMap" and int(bookmark["metadata"]["resourceVersion"]) >= \
        int(listed["metadata"]["resourceVersion"])
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events[end + 1:]] == [("ADDED", "initial-b")]


def test_a_watch_from_now_or_any_state_is_a_watch_list_as_in_1_32(apiserver):
    """WatchList is on by default in 1.32, so upstream serves a watch without a resourceVersion (or "0") and
    without sendInitialEvents as a watch-list: its ADDED events, then, where bookmarks are allowed, the BOOKMARK
    annotated initial-events-end; without bookmarks, or from a resourceVersion, no such bookmark."""
    apiserver.request("POST", CM, configmap("legacy-a"))
    status, listed = apiserver.request("GET", CM)
    names = {i["metadata"]["name"] for i in listed["items"]}
    for rv in ("", "&resourceVersion=0"):
        status, events = stream(apiserver, f"{CM}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1{rv}")
        assert status == 200
        kinds = [e["type"] for e in events]
        end = kinds.index("BOOKMARK")
        assert set(kinds[:end]) == {"ADDED"} and {e["object"]["metadata"]["name"] for e in events[:end]} == names
        assert events[end]["object"]["metadata"]["annotations"] == INITIAL_EVENTS_END
        status, events = stream(apiserver, f"{CM}?watch=true&timeoutSeconds=1{rv}")
        assert status == 200 and {e["type"] for e in events} == {"ADDED"} and len(events) == len(names)
    status, events = stream(apiserver, f"{CM}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
                                       f"&resourceVersion={listed['metadata']['resourceVersion']}")
    assert status == 200 and not [e for e in events if e["type"] != "BOOKMARK" or
                                  e["object"]["metadata"].get("annotations")]


def test_label_selector_transitions_over_http(apiserver):
    """A watch by label sees an object that starts matching as ADDED and one that stops matching as DELETED."""
    status, created = apiserver.request("POST", CM, configmap("transit"))
    rv = created["metadata"]["resourceVersion"]
    with Watch(apiserver, CM + f"?watch=true&labelSelector=tier%3Dweb&resourceVersion={rv}&timeoutSeconds=60",
               timeout=30) as watch:
        apiserver.request("PATCH", CM + "/transit", {"metadata": {"labels": {"tier": "web"}}},
                          {"Content-Type": "application/merge-patch+json"})
        apiserver.request("PATCH", CM + "/transit", {"metadata": {"labels": {"tier": "db"}}},
                          {"Content-Type": "application/merge-patch+json"})
        events = watch.take(2)
        watch.expect_nothing(0.5)
    assert [(e["type"], e["object"]["metadata"]["labels"]["tier"]) for e in events] == \
        [("ADDED", "web"), ("DELETED", "web")]
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) > int(events[0]["object"]["metadata"][
        "resourceVersion"])


def test_table_watch_has_column_definitions_in_first_event_only(apiserver):
    """A Table watch carries columnDefinitions in its first event and none in later ones."""
    status, created = apiserver.request("POST", CM, configmap("table-1"))
    rv = int(created["metadata"]["resourceVersion"]) - 1
    apiserver.request("POST", CM, configmap("table-2"))
    conn = http.client.HTTPConnection("127.0.0.1", apiserver.port, timeout=10)
    conn.request("GET", CM + f"?watch=true&resourceVersion={rv}&timeoutSeconds=1",
                 headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    events = [json.loads(line) for line in conn.getresponse().read().splitlines() if line.strip()]
    assert [e["object"]["kind"] for e in events] == ["Table", "Table"]
    assert events[0]["object"]["columnDefinitions"] and not events[1]["object"].get("columnDefinitions")
    assert [e["object"]["rows"][0]["cells"][0] for e in events] == ["table-1", "table-2"]


def _open_watch(port, path):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    sock.setblocking(False)
    return sock


def test_many_concurrent_watchers_receive_the_same_events(apiserver):
    """250 concurrent watchers each receive every one of 10 updates, byte-for-byte the same lines."""
    status, created = apiserver.request("POST", CM, configmap("fan"))
    rv = created["metadata"]["resourceVersion"]
    path = CM + f"?watch=true&fieldSelector=metadata.name%3Dfan&resourceVersion={rv}&timeoutSeconds=20"
    socks = [_open_watch(apiserver.port, path) for _ in range(250)]
    received = {s: b"" for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    time.sleep(0.5)
    for i in range(10):
        apiserver.request("PUT", CM + "/fan", configmap("fan", str(i)))
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and min(r.count(b'"MODIFIED"') for r in received.values()) < 10:
            for key, _ in sel.select(timeout=0.5):
                chunk = key.fileobj.recv(65536)
                received[key.fileobj] += chunk
    finally:
        for s in socks:
            s.close()
    counts = [r.count(b'"MODIFIED"') for r in received.values()]
    assert min(counts) == max(counts) == 10
    lines = {tuple(line for line in r.split(b"\r\n") if line.startswith(b'{"type"')) for r in received.values()}
    assert len(lines) == 1


def test_python_client_watch_resumes_across_restart(tmp_path):
    """The official client's watch.Watch resumes from its last resourceVersion across a server restart, missing
    nothing and repeating nothing; a revision from before the restarted cache's window is replayed from
    storage."""
    kubernetes = pytest.importorskip("kubernetes")
    port = free_port()
    server = APIServerProcess(tmp_path / "data", port=port).start()
    try:
        configuration = kubernetes.client.Configuration()
        configuration.host = server.url
        with kubernetes.client.ApiClient(configuration) as client:
            core = kubernetes.client.CoreV1Api(client)
            # The root CA publisher writes kube-root-ca.crt into each namespace after start: once it has, nothing
            # else writes, so the restarted cache's window (from its fill) still holds the last event seen.
            deadline = time.monotonic() + 30
            while len([cm for cm in core.list_config_map_for_all_namespaces().items
                       if cm.metadata.name == "kube-root-ca.crt"]) < 4:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            rv = core.list_namespaced_config_map("default").metadata.resource_version
            core.create_namespaced_config_map("default", configmap("before"))
            w = kubernetes.watch.Watch()
            seen = []
            for event in w.stream(core.list_namespaced_config_map, "default", resource_version=rv,
                                  timeout_seconds=2):
                if event["object"].metadata.name != "kube-root-ca.crt":     # the root CA publisher's
                    seen.append((event["type"], event["object"].metadata.name))
            last = w.resource_version
            assert seen == [("ADDED", "before")]
            server.stop()
            server.start()
            core.create_namespaced_config_map("default", configmap("after"))
            core.delete_namespaced_config_map("before", "default")
            w = kubernetes.watch.Watch()
            seen = []
            for event in w.stream(core.list_namespaced_config_map, "default", resource_version=last,
                                  timeout_seconds=2):
                if event["object"].metadata.name != "kube-root-ca.crt":     # the root CA publisher's
                    seen.append((event["type"], event["object"].metadata.name))
            assert seen == [("ADDED", "after"), ("DELETED", "before")]
            # The restarted cache's window begins at its fill: an older revision (not compacted) is replayed
            # from storage's log (410 is only for compacted revisions: tests/e2e/test_watch_resume.py).
            status, events = stream(server, CM + "?watch=true&resourceVersion=1&timeoutSeconds=2")
            assert status == 200
            assert [(e["type"], e["object"]["metadata"]["name"]) for e in events
                    if e["object"]["metadata"]["name"] != "kube-root-ca.crt"] == [
                ("ADDED", "before"), ("ADDED", "after"), ("DELETED", "before")]
    finally:
        server.stop()


def test_expired_continue_is_410_with_an_inconsistent_continue_token(tmp_path):
    """Continuing a list whose revision was compacted is 410 Expired carrying an inconsistent continue token,
    which goes on from the same key at the current revision."""
    server = APIServerProcess(tmp_path / "data", args=("--etcd-compaction-interval=1s",)).start()
    try:
        # The root CA publisher writes kube-root-ca.crt just after the start: once it is there, the list is
        # kube-root-ca.crt and the three pages, whenever the publisher ran.
        wait_for(lambda: server.request("GET", CM + "/kube-root-ca.crt")[0] == 200, what="kube-root-ca.crt")
        for name in ("page-a", "page-b", "page-c"):
            server.request("POST", CM, configmap(name))
        status, first = server.request("GET", CM + "?limit=2")
        assert [i["metadata"]["name"] for i in first["items"]] == ["kube-root-ca.crt", "page-a"]
        assert first["metadata"]["remainingItemCount"] == 2
        token = first["metadata"]["continue"]
        server.request("PUT", CM + "/page-c", configmap("page-c", "2"))
        deadline = time.monotonic() + 30
        while True:
            status, body = server.request("GET", CM + f"?limit=2&continue={token}")
            if status == 410 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert status == 410 and body["reason"] == "Expired"
        assert body["message"].startswith("The provided continue parameter is too old to display a consistent list")
        status, rest = server.request("GET", CM + f"?continue={body['metadata']['continue']}")
        assert status == 200
        assert [i["metadata"]["name"] for i in rest["items"]] == ["page-b", "page-c"]
        assert rest["items"][1]["data"] == {"v": "2"}
    finally:
        server.stop()


@pytest.fixture(params=["watch cache", "no watch cache"])
def watch_server(request, apiserver, tmp_path):
    """The shared server, and one with --watch-cache=false: a watch takes the same path through either."""
    if request.param == "watch cache":
        yield apiserver
        return
    server = APIServerProcess(tmp_path / "data", args=("--watch-cache=false",)).start()
    try:
        yield server
    finally:
        server.stop()


def test_watch_over_websocket(watch_server):
    """A watch asked for over WebSocket gets each event as one text message, with or without a watch cache."""
    websocket = pytest.importorskip("websocket")
    status, created = watch_server.request("POST", CM, configmap("ws-a"))
    rv = created["metadata"]["resourceVersion"]
    ws = websocket.create_connection(watch_server.url.replace("http", "ws") + CM + f"?watch=true&resourceVersion={rv}"
                                     "&timeoutSeconds=5", timeout=10)
    try:
        watch_server.request("POST", CM, configmap("ws-b"))
        watch_server.request("DELETE", CM + "/ws-a")
        events = []
        while len(events) < 2:
            opcode, message = ws.recv_data()
            assert opcode == websocket.ABNF.OPCODE_TEXT
            event = json.loads(message)
            # The root CA publisher writes kube-root-ca.crt here just after the server starts: maybe meanwhile.
            if event["object"]["metadata"]["name"] != "kube-root-ca.crt":
                events.append(event)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "ws-b"),
                                                                                  ("DELETED", "ws-a")]
    finally:
        ws.close()


def test_a_watch_does_not_look_at_a_continue_token(apiserver):
    """continue belongs to lists: upstream's watch never reads it, so one beside a resourceVersion is an ordinary
    watch from that version (a list would be refused)."""
    status, listed = apiserver.request("GET", CM)
    rv = listed["metadata"]["resourceVersion"]
    apiserver.request("POST", CM, configmap("after-continue"))
    status, events = stream(apiserver, f"{CM}?watch=1&continue=garbage&resourceVersion={rv}&timeoutSeconds=1")
    assert status == 200
    assert ("ADDED", "after-continue") in [(e["type"], e["object"]["metadata"]["name"]) for e in events]

"""
Reads and watches at a resourceVersion etcd has not reached, on a kapiserver stored in a real
etcd, answer as upstream 1.32 does (the embedded store's counterparts are in tests/e2e/test_watch.py):
a list waits briefly then fails 504 with the ResourceVersionTooLarge cause and Retry-After; a plain
watch is 200 and waits for its events; a sendInitialEvents watch is 200 with one ERROR event.
"""

from __future__ import annotations

import http.client
import json

CM = "/api/v1/namespaces/default/configmaps"
TOO_LARGE_DETAILS = {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1}


def _get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_future_resource_versions_on_etcd(etcd, apiservers):
    """List: 504 too large with Retry-After; plain watch: 200 and empty until its timeout; initial-events watch:
    200 then one ERROR event with the same Status."""
    server = apiservers(etcd.urls, "a")
    response, body = _get(server, CM + "?resourceVersion=99999999")
    status = json.loads(body)
    assert response.status == 504 and response.getheader("Retry-After") == "1"
    assert status["reason"] == "Timeout" and status["details"] == TOO_LARGE_DETAILS
    assert status["message"].startswith("Timeout: Too large resource version: 99999999, current: ")

    response, body = _get(server, CM + "?watch=1&resourceVersion=99999999&timeoutSeconds=1")
    assert response.status == 200 and body.strip() == b""

    response, body = _get(server, CM + "?watch=1&resourceVersion=99999999&resourceVersionMatch=NotOlderThan"
                                       "&sendInitialEvents=true&allowWatchBookmarks=true&timeoutSeconds=10")
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert response.status == 200 and [e["type"] for e in events] == ["ERROR"]
    assert events[0]["object"]["code"] == 504 and events[0]["object"]["details"] == TOO_LARGE_DETAILS

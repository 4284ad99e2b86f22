"""A restart on the same data dir keeps every object and its resourceVersion."""

from __future__ import annotations

from .conftest import APIServerProcess


def test_restart_keeps_objects_and_resource_versions(tmp_path):
    """Objects and resourceVersions survive a restart, and new writes continue past them."""
    server = APIServerProcess(tmp_path / "data").start()
    try:
        status, created = server.request("POST", "/api/v1/namespaces/default/configmaps",
                                         {"metadata": {"name": "keep"}, "data": {"a": "1"}})
        assert status == 201
        status, listed = server.request("GET", "/api/v1/namespaces/default/configmaps")
        list_rv = int(listed["metadata"]["resourceVersion"])
    finally:
        server.stop()
    server.start()
    try:
        status, again = server.request("GET", "/api/v1/namespaces/default/configmaps/keep")
        assert status == 200
        assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert again["metadata"]["uid"] == created["metadata"]["uid"]
        assert again["data"] == {"a": "1"}
        status, svc = server.request("GET", "/api/v1/namespaces/default/services/kubernetes")
        assert status == 200 and svc["spec"]["clusterIP"] == "10.0.0.1"
        status, newer = server.request("POST", "/api/v1/namespaces/default/configmaps",
                                       {"metadata": {"name": "after"}})
        assert int(newer["metadata"]["resourceVersion"]) > list_rv
    finally:
        server.stop()

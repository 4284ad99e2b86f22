"""Paged lists as the [sig-api-machinery] "Servers with support for API chunking" entries use them: 400
PodTemplates read back in pages of random size, each page one snapshot with remainingItemCount, and a
continue token whose snapshot has been compacted away answered with 410 and a token for an inconsistent
continuation."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conformance.support import ok, unique
from tests.e2e.conftest import APIServerProcess

TOTAL = 400


def fill(server, ns):
    ok(server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": ns}}))

    def create(i):
        ok(server.request("POST", f"/api/v1/namespaces/{ns}/podtemplates", {
            "apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": f"template-{i:04d}"},
            "template": {"spec": {"containers": [{"name": "test", "image": "test2"}]}}}))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(TOTAL)))


def page(server, ns, limit, token=""):
    query = f"?limit={limit}" + (f"&continue={token}" if token else "")
    return server.request("GET", f"/api/v1/namespaces/{ns}/podtemplates{query}")


def check_remaining(listed, found):
    """remainingItemCount is absent on the last page and counts what is left on the others."""
    meta = listed["metadata"]
    if not meta.get("continue"):
        assert "remainingItemCount" not in meta, meta
    else:
        assert meta["remainingItemCount"] + len(listed["items"]) + found == TOTAL, meta


def test_api_chunking_server_should_return_chunks_of_results_for_list_calls(apiserver):
    """API Chunking, server should return chunks of results for list calls"""
    ns = unique("chunking")
    fill(apiserver, ns)
    rng = random.Random(1)
    for _ in range(3):
        found, token, first_rv = 0, "", ""
        while True:
            limit = rng.randint(1, TOTAL // 10)
            listed = ok(page(apiserver, ns, limit, token))
            assert len(listed["items"]) <= limit
            first_rv = first_rv or listed["metadata"]["resourceVersion"]
            assert listed["metadata"]["resourceVersion"] == first_rv
            check_remaining(listed, found)
            for item in listed["items"]:
                assert item["metadata"]["name"] == f"template-{found:04d}"
                found += 1
            token = listed["metadata"].get("continue", "")
            if not token:
                break
        assert found == TOTAL
    everything = ok(page(apiserver, ns, TOTAL + 1))
    assert len(everything["items"]) == TOTAL
    apiserver.request("DELETE", f"/api/v1/namespaces/{ns}")


@pytest.fixture(scope="module")
def compacting_server(tmp_path_factory):
    """A server compacting storage every 2 s (upstream's etcd compacts every 5 min), so that a continue
    token's snapshot goes away while the test waits."""
    server = APIServerProcess(tmp_path_factory.mktemp("compacting") / "data",
                              args=("--etcd-compaction-interval=2s",)).start()   # the later flag wins
    yield server
    server.stop()


def test_api_chunking_server_should_support_continue_listing_from_the_last_key_even_if_the_original_version_has_been_compacted_away(  # noqa: E501
        compacting_server):
    """API Chunking, server should support continue listing from the last key even if the original version
    has been compacted away"""
    server = compacting_server
    ns = unique("chunking")
    fill(server, ns)
    one_tenth = TOTAL // 10
    first = ok(page(server, ns, one_tenth))
    first_token, first_rv = first["metadata"]["continue"], first["metadata"]["resourceVersion"]
    check_remaining(first, 0)

    inconsistent = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Writes elsewhere move the store's revision on, so that compaction passes the first page's.
        ok(server.request("POST", "/api/v1/namespaces/default/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "churn-"}}))
        status, body = page(server, ns, one_tenth, first_token)
        if status == 200:
            time.sleep(0.5)
            continue
        assert status == 410 and body["reason"] == "Expired", (status, body)
        inconsistent = body["metadata"]["continue"]
        assert inconsistent
        break
    assert inconsistent, "the first continue token never expired"

    second = ok(page(server, ns, one_tenth, inconsistent))
    assert second["metadata"]["resourceVersion"] != first_rv
    assert len(second["items"]) == one_tenth
    found = one_tenth
    check_remaining(second, found)
    for item in second["items"]:
        assert item["metadata"]["name"] == f"template-{found:04d}"
        found += 1

    token, last_rv = second["metadata"]["continue"], second["metadata"]["resourceVersion"]
    while True:
        listed = ok(page(server, ns, one_tenth, token))
        check_remaining(listed, found)
        assert len(listed["items"]) <= one_tenth
        assert listed["metadata"]["resourceVersion"] == last_rv
        for item in listed["items"]:
            assert item["metadata"]["name"] == f"template-{found:04d}"
            found += 1
        token = listed["metadata"].get("continue", "")
        if not token:
            break
    assert found == TOTAL

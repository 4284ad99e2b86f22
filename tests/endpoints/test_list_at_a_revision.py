"""A first page at resourceVersion=N without resourceVersionMatch is upstream's legacy exact read: the state at N
(its etcd3 store reads a limited list at the revision given), not the current one."""

from __future__ import annotations

from tests.endpoints.test_subresource_eviction import api  # noqa: F401 (the fixture)

CMS = "/api/v1/namespaces/default/configmaps"


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}


def test_a_page_at_a_resource_version_is_the_state_then(api):  # noqa: F811
    for name in ("a", "b", "c"):
        assert api("POST", CMS, cm(name)).code == 201
    then = api("GET", CMS).body["metadata"]["resourceVersion"]
    for name in ("d", "e"):
        assert api("POST", CMS, cm(name)).code == 201
    assert api("PUT", f"{CMS}/a", {**cm("a"), "data": {"k": "changed"}}).code == 200
    page = api("GET", f"{CMS}?limit=2&resourceVersion={then}").body
    assert page["metadata"]["resourceVersion"] == then and page["metadata"]["remainingItemCount"] == 1
    assert [(i["metadata"]["name"], i["data"]["k"]) for i in page["items"]] == [("a", "a"), ("b", "b")]
    rest = api("GET", f"{CMS}?limit=2&continue={page['metadata']['continue']}").body
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"] and rest["metadata"]["resourceVersion"] == then
    # NotOlderThan (or no limit) still reads the newest state.
    now = api("GET", f"{CMS}?limit=2&resourceVersion={then}&resourceVersionMatch=NotOlderThan").body
    assert now["items"][0]["data"]["k"] == "changed" and now["metadata"]["resourceVersion"] != then


def test_a_selected_page_of_exactly_limit_continues_while_objects_follow(api):  # noqa: F811
    """A page from the cache with a selector holding exactly ``limit`` matches has a continue token when objects
    (matching or not) follow its last, as upstream's cacher gives it; the next page is then empty."""
    for name, labels in (("p1", {"grp": "g"}), ("p2", {"grp": "g"}), ("q1", {}), ("q2", {})):
        assert api("POST", CMS, {**cm(name), "metadata": {"name": name, "labels": labels}}).code == 201
    page = api("GET", f"{CMS}?limit=2&labelSelector=grp%3Dg").body
    assert [i["metadata"]["name"] for i in page["items"]] == ["p1", "p2"]
    assert page["metadata"]["continue"] and "remainingItemCount" not in page["metadata"]
    rest = api("GET", f"{CMS}?limit=2&labelSelector=grp%3Dg&continue={page['metadata']['continue']}").body
    assert rest["items"] == [] and "continue" not in rest["metadata"]
    # Nothing after the last match: no token.
    last = api("GET", f"{CMS}?limit=2&labelSelector=grp%21%3Dg").body
    assert [i["metadata"]["name"] for i in last["items"]] == ["q1", "q2"] and "continue" not in last["metadata"]


def test_a_continued_list_may_not_name_a_resource_version(api):  # noqa: F811
    """Upstream's storage reads a list's continue token first (its own 400 for a bad one), then refuses a
    resourceVersion beside it."""
    for name in ("a", "b"):
        assert api("POST", CMS, cm(name)).code == 201
    token = api("GET", f"{CMS}?limit=1").body["metadata"]["continue"]
    refused = api("GET", f"{CMS}?limit=1&continue={token}&resourceVersion=1")
    assert (refused.code, refused.body["message"]) == (
        400, "specifying resource version is not allowed when using continue")
    bad = api("GET", f"{CMS}?limit=1&continue=garbage&resourceVersion=1")
    assert bad.code == 400 and bad.body["message"].startswith("invalid continue token: ")

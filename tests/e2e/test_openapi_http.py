"""/openapi/v3's group-version documents over HTTP as kube-openapi's handler serves them: the index's URL (with
the document's hash) cacheable for a year, another hash redirected to the current one, 304 for a known ETag."""

from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.parse


def get(apiserver, path: str, headers=None):
    parsed = urllib.parse.urlsplit(apiserver.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_a_group_version_document_by_its_hash(apiserver):
    status, _, body = get(apiserver, "/openapi/v3")
    url = json.loads(body)["paths"]["apis/apps/v1"]["serverRelativeURL"]
    digest = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["hash"][0]
    status, headers, body = get(apiserver, url)
    assert status == 200 and json.loads(body)["openapi"].startswith("3.")
    assert headers["ETag"] == f'"{digest}"' and headers["Vary"] == "Accept"
    assert headers["Cache-Control"] == "public, immutable"
    expires = email.utils.parsedate_to_datetime(headers["Expires"]).timestamp()
    assert 364 * 86400 < expires - time.time() < 367 * 86400
    # Without a hash: the document, not to be cached.
    status, headers, _ = get(apiserver, "/openapi/v3/apis/apps/v1")
    assert status == 200 and headers["Cache-Control"] == "no-cache, private" and "Expires" not in headers
    # Another hash (a client's stale index): sent on to the current one.
    status, headers, _ = get(apiserver, "/openapi/v3/apis/apps/v1?hash=STALE")
    assert status == 301 and headers["Location"] == url
    # The ETag it has: nothing to send.
    status, _, body = get(apiserver, "/openapi/v3/apis/apps/v1", {"If-None-Match": f'"{digest}"'})
    assert status == 304 and body == b""


def test_aggregated_discovery_has_one_etag_for_both_versions(apiserver):
    """Upstream keeps one ETag for the aggregated discovery document whichever version (v2, v2beta1) is served, and
    answers 304 to a client naming it."""
    accept = "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList"
    status, v2, body = get(apiserver, "/apis", {"Accept": accept.format("v2")})
    assert status == 200 and json.loads(body)["apiVersion"] == "apidiscovery.k8s.io/v2"
    status, v2beta1, body = get(apiserver, "/apis", {"Accept": accept.format("v2beta1")})
    assert status == 200 and json.loads(body)["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert v2["ETag"] == v2beta1["ETag"] and v2["Vary"] == "Accept" and v2["Cache-Control"] == "public"
    for version in ("v2", "v2beta1"):
        status, _, body = get(apiserver, "/apis", {"Accept": accept.format(version), "If-None-Match": v2["ETag"]})
        assert status == 304 and body == b""

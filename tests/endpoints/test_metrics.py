"""/metrics: upstream's verb and scope normalisation, the exposition formats, and what the API root counts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from kapiserver import runtime
from kapiserver.endpoints import metrics
from kapiserver.endpoints.api import APIContext
from kapiserver.endpoints.requestinfo import request_info
from kapiserver.endpoints.root import APIRoot
from kapiserver.registry.catalog import ALL_VERBS, CREATE_ONLY
from kapiserver.registry.registry import Registry
from kapiserver.storage.sqlite import open_sqlite

from tests.controllers.conftest import run, run_until


def info_of(method: str, path: str, query: str = ""):
    args: dict = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        args.setdefault(name.encode(), []).append(value.encode())
    return request_info(method, path, args)


def samples(text: str) -> dict:
    """{(sample name, sorted label items): value} of a text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def labels(**given) -> tuple:
    return tuple(sorted(given.items()))


def request_labels(verb, resource, scope, code=None, group="", version="v1", subresource="", dry_run="",
                   component="apiserver") -> tuple:
    given = dict(verb=verb, dry_run=dry_run, group=group, version=version, resource=resource,
                 subresource=subresource, scope=scope, component=component)
    if code is not None:
        given["code"] = code
    return labels(**given)


def dict_labels_without_dry_run(items: tuple) -> tuple:
    return tuple((k, v) for k, v in items if k != "dry_run")


@pytest.mark.parametrize("method,path,query,scope", [
    ("GET", "/api/v1/namespaces/ns/configmaps/cm", "", "resource"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "", "namespace"),
    ("GET", "/api/v1/configmaps", "", "cluster"),
    ("GET", "/api/v1/nodes", "", "cluster"),
    ("GET", "/api/v1/nodes/n1", "", "resource"),
    ("POST", "/api/v1/namespaces/ns/configmaps", "", "resource"),
    ("POST", "/api/v1/namespaces", "", "resource"),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", "", "namespace"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "watch=true", "namespace"),
    ("PUT", "/api/v1/namespaces/ns/finalize", "", "resource"),
    ("GET", "/healthz", "", ""),
])
def test_scope(method, path, query, scope):
    """A named object or a create is scope "resource", a collection in a namespace "namespace", a collection
    across namespaces or of a cluster-scoped resource "cluster", a non-resource path ""."""
    assert metrics.request_scope(info_of(method, path, query)) == scope


@pytest.mark.parametrize("method,path,query,content_type,verb", [
    ("GET", "/api/v1/namespaces/ns/configmaps/cm", "", None, "GET"),
    ("HEAD", "/api/v1/namespaces/ns/configmaps/cm", "", None, "GET"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "", None, "LIST"),
    ("GET", "/apis/apps/v1/deployments", "", None, "LIST"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "watch=true", None, "WATCH"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "watch=1", None, "WATCH"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "watch=false", None, "LIST"),
    ("GET", "/api/v1/namespaces/ns/configmaps", "watch=0", None, "LIST"),
    ("GET", "/api/v1/watch/namespaces/ns/configmaps", "", None, "WATCH"),
    ("GET", "/apis/apps/v1/watch/namespaces/ns/deployments/d", "", None, "WATCH"),
    ("POST", "/api/v1/namespaces/ns/configmaps", "", b"application/json", "POST"),
    ("PUT", "/api/v1/namespaces/ns/configmaps/cm", "", b"application/json", "PUT"),
    ("DELETE", "/api/v1/namespaces/ns/configmaps/cm", "", None, "DELETE"),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", "", None, "DELETE"),
    ("PATCH", "/api/v1/namespaces/ns/configmaps/cm", "", b"application/merge-patch+json", "PATCH"),
    ("PATCH", "/api/v1/namespaces/ns/configmaps/cm", "", b"application/apply-patch+yaml", "APPLY"),
    # Upstream compares the whole header: with a parameter it is a PATCH again.
    ("PATCH", "/api/v1/namespaces/ns/configmaps/cm", "", b"application/apply-patch+yaml; charset=utf-8", "PATCH"),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", "follow=true", None, "CONNECT"),
    ("POST", "/api/v1/namespaces/ns/pods/p/exec", "command=ls", None, "CONNECT"),
    ("GET", "/api/v1/namespaces/ns/pods/p/exec", "command=ls", None, "CONNECT"),
    ("POST", "/api/v1/namespaces/ns/pods/p/portforward", "", None, "CONNECT"),
    ("GET", "/api/v1/namespaces/ns/services/s/proxy/some/path", "", None, "CONNECT"),
    ("OPTIONS", "/api/v1/namespaces/ns/configmaps", "", None, "other"),
])
def test_reported_verb(method, path, query, content_type, verb):
    """Verbs as upstream reports them: GET or LIST by scope, WATCH, APPLY for server-side apply,
    CONNECT for log/exec/attach/portforward/proxy, the method otherwise, "other" for the unknown."""
    info = info_of(method, path, query)
    assert metrics.reported_verb(method.encode(), info, metrics.request_scope(info), content_type) == verb


@pytest.mark.parametrize("values,label", [
    (None, ""), ([b"All"], "All"), ([b"All", b"All"], "All"), ([b"All", b"Some"], "invalid"), ([b""], "invalid"),
])
def test_dry_run_label(values, label):
    """dry_run is "" without dryRun, the distinct values joined, or "invalid"."""
    assert metrics.dry_run_label(values) == label


class FakeRequest:
    """Just the request surface APIServerMetrics reads."""

    def __init__(self, method="GET", path="/api/v1/namespaces/ns/configmaps", query="", content_type=None,
                 transport=None):
        self.method = method.encode()
        self.info = info_of(method, path, query)
        self.args = {}
        for pair in filter(None, query.split("&")):
            name, _, value = pair.partition("=")
            self.args.setdefault(name.encode(), []).append(value.encode())
        self.headers = {b"content-type": content_type} if content_type else {}
        self.code = 200
        self.sentLength = 0
        self.channel = SimpleNamespace(transport=transport or SimpleNamespace(connected=1, disconnected=0))
        self.finish_notifications = []

    def getHeader(self, name):
        return self.headers.get(name.lower())

    def notifyFinish(self):
        d = Deferred()
        self.finish_notifications.append(d)
        return d

    def finish(self):
        for d in self.finish_notifications:
            d.callback(None)


def scrape(m: metrics.APIServerMetrics, accept=None) -> dict:
    body, content_type, _ = m.exposition(accept)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return samples(body.decode())


def test_counts_durations_and_sizes():
    """A finished request counts once in apiserver_request_total by code, once in the duration histogram, and
    in apiserver_response_sizes only when it reads (GET/LIST), with upstream's buckets."""
    m = metrics.APIServerMetrics()
    for code, size in ((200, 1500), (200, 20), (404, 200)):
        request = FakeRequest()
        m.route(request, request.info)
        request.code, request.sentLength = code, size
        m.request_done(request, 0.03)
    create = FakeRequest("POST", query="dryRun=All")
    m.route(create, create.info)
    create.code = 201
    m.request_done(create, 0.3)
    got = scrape(m)
    assert got[("apiserver_request_total", request_labels("LIST", "configmaps", "namespace", "200"))] == 2
    assert got[("apiserver_request_total", request_labels("LIST", "configmaps", "namespace", "404"))] == 1
    assert got[("apiserver_request_total", request_labels("POST", "configmaps", "resource", "201",
                                                          dry_run="All"))] == 1
    list_labels = request_labels("LIST", "configmaps", "namespace")
    bucket = dict(list_labels)
    assert got[("apiserver_request_duration_seconds_bucket", labels(**bucket, le="0.025"))] == 0
    assert got[("apiserver_request_duration_seconds_bucket", labels(**bucket, le="0.05"))] == 3
    assert got[("apiserver_request_duration_seconds_count", list_labels)] == 3
    assert got[("apiserver_request_duration_seconds_sum", list_labels)] == pytest.approx(0.09)
    size = {k: v for k, v in list_labels if k != "dry_run"}
    assert got[("apiserver_response_sizes_bucket", labels(**size, le="1000"))] == 2
    assert got[("apiserver_response_sizes_bucket", labels(**size, le="10000"))] == 3
    assert got[("apiserver_response_sizes_sum", labels(**size))] == 1720
    assert not [key for key in got if key[0].startswith("apiserver_response_sizes") and ("verb", "POST") in key[1]]


def test_text_exposition_is_upstreams_shape():
    """HELP carries the stability prefix, bucket bounds print as Go prints them, counters have no _created
    series, empty families are left out, and build info and process metrics are there."""
    m = metrics.APIServerMetrics()
    request = FakeRequest()
    m.route(request, request.info)
    m.request_done(request, 0.001)
    text = m.exposition()[0].decode()
    assert "# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run " \
           "value, group, version, resource, scope, component, and HTTP response code.\n" \
           "# TYPE apiserver_request_total counter\n" in text
    assert "# TYPE apiserver_request_duration_seconds histogram" in text
    les = [line.split('le="')[1].split('"')[0] for line in text.splitlines()
           if line.startswith("apiserver_response_sizes_bucket")]
    assert les == ["1000", "10000", "100000", "1e+06", "1e+07", "1e+08", "1e+09", "+Inf"]
    les = [line.split('le="')[1].split('"')[0] for line in text.splitlines()
           if line.startswith("apiserver_request_duration_seconds_bucket")]
    assert les[:3] == ["0.005", "0.025", "0.05"] and les[8] == "1" and les[-2:] == ["60", "+Inf"]
    assert "_created" not in text
    assert "apiserver_longrunning_requests" not in text and "apiserver_storage_objects" not in text
    got = samples(text)
    from kapiserver.version import VERSION_INFO
    build = [key for key in got if key[0] == "kubernetes_build_info"]
    assert len(build) == 1 and dict(build[0][1])["git_version"] == VERSION_INFO["gitVersion"]
    assert set(dict(build[0][1])) == {"build_date", "compiler", "git_commit", "git_tree_state", "git_version",
                                      "go_version", "major", "minor", "platform"}
    assert ("process_start_time_seconds", ()) in got
    # Families come sorted by name, as upstream's registry writes them.
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names[:-6] == sorted(names[:-6]) and names[-1].startswith("process_")


def test_openmetrics_when_asked():
    """An Accept of application/openmetrics-text gets OpenMetrics (with its # EOF); anything else 0.0.4 text."""
    m = metrics.APIServerMetrics()
    body, content_type, _ = m.exposition("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    body, content_type, _ = m.exposition("*/*")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8" and b"# EOF" not in body


def test_gzip_when_accepted():
    """Accept-Encoding: gzip gets the same exposition gzipped; without it the body is plain."""
    import gzip
    m = metrics.APIServerMetrics()
    plain, _, encoding = m.exposition(None, "identity")
    assert encoding == "" and plain.startswith(b"# HELP")
    zipped, content_type, encoding = m.exposition(None, "deflate, gzip;q=0.9")
    assert encoding == "gzip" and content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert gzip.decompress(zipped).startswith(b"# HELP apiserver_current_inflight_requests")


def test_servers_count_apart_and_off_the_global_registry():
    """Two servers' metrics are separate registries; prometheus_client's global one holds none of them."""
    first, second = metrics.APIServerMetrics(), metrics.APIServerMetrics()
    request = FakeRequest()
    first.route(request, request.info)
    first.request_done(request, 0.001)
    assert any(key[0] == "apiserver_request_total" for key in scrape(first))
    assert not any(key[0] == "apiserver_request_total" for key in scrape(second))
    assert first.registry is not second.registry
    assert REGISTRY.get_sample_value("apiserver_request_total") is None


def test_watch_is_long_running_until_its_response_ends():
    """A watch is in apiserver_longrunning_requests while its response streams; it is counted (and leaves the
    gauge) when the response finishes, not when its handler returns."""
    clock = [100.0]
    m = metrics.APIServerMetrics(clock=lambda: clock[0])
    watch = FakeRequest(query="watch=true")
    m.route(watch, watch.info)
    m.request_done(watch, 0.002)      # the handler returned; the stream goes on
    gauge = labels(verb="WATCH", group="", version="v1", resource="configmaps", subresource="", scope="namespace",
                   component="apiserver")
    got = scrape(m)
    assert got[("apiserver_longrunning_requests", gauge)] == 1
    assert not any(key[0] == "apiserver_request_total" for key in got)
    clock[0] += 42
    watch.finish()
    got = scrape(m)
    assert not any(key[0] == "apiserver_longrunning_requests" for key in got)
    assert got[("apiserver_request_total", request_labels("WATCH", "configmaps", "namespace", "200"))] == 1
    assert got[("apiserver_request_duration_seconds_sum", request_labels("WATCH", "configmaps", "namespace"))] == 42


def test_hijacked_connect_is_long_running_until_its_connection_closes():
    """An exec whose connection another protocol took over counts as CONNECT 101 at once and stays in the
    long-running gauge until the connection closes."""
    m = metrics.APIServerMetrics()
    socket = SimpleNamespace(connected=1, disconnected=0)
    exec_request = FakeRequest("GET", "/api/v1/namespaces/ns/pods/p/exec", "command=ls",
                               transport=SimpleNamespace(transport=socket))
    m.route(exec_request, exec_request.info)
    exec_request.channel.transport = None       # what upgrade.hijack leaves
    m.request_done(exec_request, 0.01)
    gauge = labels(verb="CONNECT", group="", version="v1", resource="pods", subresource="exec", scope="resource",
                   component="apiserver")
    got = scrape(m)
    assert got[("apiserver_longrunning_requests", gauge)] == 1
    assert got[("apiserver_request_total", request_labels("CONNECT", "pods", "resource", "101",
                                                          subresource="exec"))] == 1
    assert not any(key[0] == "apiserver_response_sizes_count" for key in got)
    socket.connected, socket.disconnected = 0, 1
    assert not any(key[0] == "apiserver_longrunning_requests" for key in scrape(m))


def test_storage_object_counts_from_the_watch_caches():
    """Objects per resource come from the ready watch caches, once per resource across its versions; the
    resources that store nothing (reviews, bindings) are not reported."""
    def store(resource, n, ready=True):
        name, _, group = resource.partition(".")
        verbs = CREATE_ONLY if name in ("bindings", "selfsubjectaccessreviews") else ALL_VERBS
        return SimpleNamespace(reads=SimpleNamespace(resource=resource, object_count=lambda: n if ready else None),
                               info=SimpleNamespace(group=group, resource=name, verbs=verbs))
    registry = SimpleNamespace(stores={
        ("", "v1", "configmaps"): store("configmaps", 3),
        ("autoscaling", "v1", "horizontalpodautoscalers"): store("horizontalpodautoscalers.autoscaling", 2),
        ("autoscaling", "v2", "horizontalpodautoscalers"): store("horizontalpodautoscalers.autoscaling", 2),
        ("apps", "v1", "deployments"): store("deployments.apps", 0),
        ("", "v1", "secrets"): store("secrets", 5, ready=False),
        ("", "v1", "events"): SimpleNamespace(reads=SimpleNamespace(resource="events", object_count=lambda: None),
                                              info=SimpleNamespace(group="", resource="events", verbs=ALL_VERBS)),
        ("", "v1", "bindings"): store("bindings", 0),
        ("authorization.k8s.io", "v1", "selfsubjectaccessreviews"):
            store("selfsubjectaccessreviews.authorization.k8s.io", 0),
    })
    counts = metrics.storage_object_counts(registry)
    assert counts == {"configmaps": 3, "horizontalpodautoscalers.autoscaling": 2, "deployments.apps": 0}
    got = scrape(metrics.APIServerMetrics(storage_objects=lambda: counts))
    assert got[("apiserver_storage_objects", labels(resource="deployments.apps"))] == 0
    assert got[("apiserver_storage_objects", labels(resource="configmaps"))] == 3


@pytest.fixture
def client(tmp_path):
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    registry = Registry(storage, reactor, watch_cache=False)
    run(registry.store("", "v1", "namespaces").create(
        None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}))
    root = APIRoot(APIContext(registry, reactor, reactor))
    yield StubTreq(runtime.RuntimeLimits(root, reactor, request_timeout=60, metrics=root.context.metrics))
    run(storage.close())


def call(client, method, url, body=None, headers=None):
    responses, bodies = [], []
    client.request(method, url, data=json.dumps(body).encode() if body is not None else None,
                   headers=headers or {b"Content-Type": [b"application/json"]}).addCallback(responses.append)
    run_until(lambda: bool(responses), also=client.flush)
    client.content(responses[0]).addCallback(bodies.append)
    run_until(lambda: bool(bodies), also=client.flush)
    return responses[0], bodies[0]


def test_api_root_counts_routed_requests(client):
    """Through the API root: routed requests count by verb, scope and code; health roots count with an
    empty component, aggregated discovery as subresource "apis"; unknown resources and subresources, legacy
    discovery, named checks and the scrapes themselves do not count; the scrape sees itself in flight;
    DELETE /metrics resets the counts."""
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}
    assert call(client, "POST", "http://k/api/v1/namespaces/default/configmaps", cm)[0].code == 201
    assert call(client, "GET", "http://k/api/v1/namespaces/default/configmaps")[0].code == 200
    assert call(client, "GET", "http://k/api/v1/namespaces/default/configmaps/missing")[0].code == 404
    assert call(client, "GET", "http://k/api/v1/namespaces/default/widgets")[0].code == 404
    assert call(client, "GET", "http://k/api/v1/namespaces/default/configmaps/one/bogus")[0].code == 404
    aggregated = {b"Accept": [b"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"]}
    assert call(client, "GET", "http://k/apis", headers=aggregated)[0].code == 200
    assert call(client, "GET", "http://k/apis")[0].code == 200
    assert call(client, "GET", "http://k/healthz")[0].code == 200
    assert call(client, "GET", "http://k/healthz/ping")[0].code == 200
    response, body = call(client, "GET", "http://k/metrics")
    assert response.code == 200
    assert response.headers.getRawHeaders(b"content-type") == [b"text/plain; version=0.0.4; charset=utf-8"]
    got = samples(body.decode())
    assert got[("apiserver_request_total", request_labels("POST", "configmaps", "resource", "201"))] == 1
    assert got[("apiserver_request_total", request_labels("LIST", "configmaps", "namespace", "200"))] == 1
    assert got[("apiserver_request_total", request_labels("GET", "configmaps", "resource", "404"))] == 1
    healthz = request_labels("GET", "", "", "200", version="", subresource="/healthz", component="")
    assert got[("apiserver_request_total", healthz)] == 1
    discovery = request_labels("GET", "", "", "200", version="", subresource="apis")
    assert got[("apiserver_request_total", discovery)] == 1
    counted = [dict(key[1]) for key in got if key[0] == "apiserver_request_total"]
    assert len(counted) == 5 and not [c for c in counted if c["resource"] == "widgets" or c["subresource"] == "bogus"]
    assert got[("apiserver_current_inflight_requests", labels(request_kind="readOnly"))] == 1
    assert got[("apiserver_current_inflight_requests", labels(request_kind="mutating"))] == 0
    response, body = call(client, "DELETE", "http://k/metrics")
    assert (response.code, body) == (200, b"metrics reset\n")
    got = samples(call(client, "GET", "http://k/metrics")[1].decode())
    assert not any(key[0] == "apiserver_request_total" for key in got)


def test_root_paths_list_metrics(client):
    """The path list at / names /metrics, as upstream's does."""
    assert "/metrics" in json.loads(call(client, "GET", "http://k/")[1])["paths"]


def test_only_served_subresources_are_counted():
    """A subresource the resource serves is counted under its name; a made-up one (no route upstream) is not,
    so request paths cannot grow the label sets."""
    from kapiserver.registry.catalog import Catalog
    pods = Catalog().lookup("", "v1", "pods")
    m = metrics.APIServerMetrics()
    for path in ("/api/v1/namespaces/ns/pods/p/status", "/api/v1/namespaces/ns/pods/p/made-up"):
        request = FakeRequest("GET", path)
        m.route(request, request.info, pods)
        request.code = 404 if path.endswith("made-up") else 200
        m.request_done(request, 0.001)
    counted = [dict(key[1]) for key in scrape(m) if key[0] == "apiserver_request_total"]
    assert [(c["verb"], c["resource"], c["subresource"], c["scope"]) for c in counted] == \
        [("GET", "pods", "status", "resource")]


def test_http2_watch_is_not_taken_for_hijacked():
    """A watch on an HTTP/2 stream (whose channel has no transport of its own) stays open until its response
    ends, like one over HTTP/1.1."""
    m = metrics.APIServerMetrics()
    watch = FakeRequest(query="watch=true")
    watch.channel = SimpleNamespace(transport=None)
    m.route(watch, watch.info)
    m.request_done(watch, 0.002)
    got = scrape(m)
    assert got[("apiserver_longrunning_requests", dict_labels_without_dry_run(
        request_labels("WATCH", "configmaps", "namespace")))] == 1
    assert not any(key[0] == "apiserver_request_total" for key in got)
    watch.finish()
    assert scrape(m)[("apiserver_request_total", request_labels("WATCH", "configmaps", "namespace", "200"))] == 1


def test_requests_refused_by_the_inflight_limit_are_counted(tmp_path):
    """A request the in-flight limit refuses (429) is counted with its route's labels, as upstream."""
    storage = run(open_sqlite(str(tmp_path / "data"), reactor))
    try:
        registry = Registry(storage, reactor, watch_cache=False)
        root = APIRoot(APIContext(registry, reactor, reactor))
        limits = runtime.RuntimeLimits(root, reactor, request_timeout=60, max_inflight=1,
                                       metrics=root.context.metrics)
        limits.inflight = 1     # one read already in flight: the next is refused
        client = StubTreq(limits)
        assert call(client, "GET", "http://k/api/v1/namespaces/default/configmaps")[0].code == 429
        limits.inflight = 0
        got = samples(call(client, "GET", "http://k/metrics")[1].decode())
        assert got[("apiserver_request_total", request_labels("LIST", "configmaps", "namespace", "429"))] == 1
    finally:
        run(storage.close())


def test_a_workers_exposition_is_the_whole_apiserver():
    """With other processes' families (``others``, as share("metrics") gives them), counts, histograms and
    process memory are summed label set by label set, label sets only another process has are added, the
    earliest start time stands and build info is told once; a process that did not answer (None) is left out."""
    here, there = metrics.APIServerMetrics(), metrics.APIServerMetrics()
    for m, codes in ((here, (200, 200)), (there, (200, 404))):
        for code in codes:
            request = FakeRequest()
            m.route(request, request.info)
            request.code, request.sentLength = code, 100
            m.request_done(request, 0.03)
    alone = scrape(here)
    body, _, _ = here.exposition(None, None, [None, there.share("metrics")])
    got = samples(body.decode())
    assert got[("apiserver_request_total", request_labels("LIST", "configmaps", "namespace", "200"))] == 3
    assert got[("apiserver_request_total", request_labels("LIST", "configmaps", "namespace", "404"))] == 1
    list_labels = request_labels("LIST", "configmaps", "namespace")
    assert got[("apiserver_request_duration_seconds_count", list_labels)] == 4
    assert got[("apiserver_request_duration_seconds_bucket", labels(**dict(list_labels), le="0.05"))] == 4
    build = [key for key in got if key[0] == "kubernetes_build_info"]
    assert len(build) == 1 and got[build[0]] == 1
    if ("process_resident_memory_bytes", ()) in alone:     # ProcessCollector reads /proc
        assert got[("process_resident_memory_bytes", ())] > alone[("process_resident_memory_bytes", ())]
        assert got[("process_start_time_seconds", ())] == alone[("process_start_time_seconds", ())]
    # Every family still declared once, and the text parses as one exposition.
    types = [line.split()[2] for line in body.decode().splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types))


def test_share_reset_forgets_this_process_requests():
    """share("reset") is DELETE /metrics for one process of a --workers apiserver."""
    m = metrics.APIServerMetrics()
    request = FakeRequest()
    m.route(request, request.info)
    request.code = 200
    m.request_done(request, 0.01)
    assert m.share("reset") is None
    assert not [key for key in scrape(m) if key[0] == "apiserver_request_total"]

"""
The apiserver's own metrics, served at /metrics with the names, labels, HELP texts and buckets of
upstream kube-apiserver 1.32 (k8s.io/apiserver's endpoint metrics), in the Prometheus text format
(or OpenMetrics when asked) through prometheus_client.

Recording is the hot path, so a request costs a few dict operations here: the reactor is one
thread, so plain counts need no locks.  prometheus_client turns them into metric families only when
/metrics is scraped; gauges of the present (requests in flight, stored objects, long-running
requests) are read at scrape time.  One APIServerMetrics per API context: each server, and each
test, counts on its own CollectorRegistry.

What counts as a request, as upstream counts it: a resource request that reached its handler
(authorized, resource known), the health checks' root paths (/healthz, /livez, /readyz) and the
aggregated discovery documents.  Failed authentication or authorization, unknown paths and the
other non-resource paths are not counted.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Optional

from .http import when_finished

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")
# apiserver_response_sizes and apiserver_longrunning_requests have no dry_run label.
ROUTE_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")
DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20,
                    30, 45, 60)
SIZE_BUCKETS = (1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9)
COMPONENT = "apiserver"

HELP = {
    "apiserver_current_inflight_requests": "[STABLE] Maximal number of currently used inflight request limit of "
                                           "this apiserver per request kind in last second.",
    "apiserver_longrunning_requests": "[STABLE] Gauge of all active long-running apiserver requests broken out by "
                                      "verb, group, version, resource, scope and component. Not all requests are "
                                      "tracked this way.",
    "apiserver_request_duration_seconds": "[STABLE] Response latency distribution in seconds for each verb, dry run "
                                          "value, group, version, resource, subresource, scope and component.",
    "apiserver_request_total": "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, "
                               "group, version, resource, scope, component, and HTTP response code.",
    "apiserver_response_sizes": "[STABLE] Response size distribution in bytes for each group, version, verb, "
                                "resource, subresource, scope and component.",
    "apiserver_storage_objects": "[STABLE] Number of stored objects at the time of last check split by kind. In "
                                 "case of a fetching error, the value will be -1.",
    "apiserver_watch_cache_consistent_read_total": "[ALPHA] Counter for consistent reads from cache.",
    "kubernetes_build_info": "[ALPHA] A metric with a constant '1' value labeled by major, minor, git version, git "
                             "commit, git tree state, build date, Go version, and compiler from which Kubernetes was "
                             "built, and platform on which it is running.",
}

# Subresources whose requests upstream reports as CONNECT; all but log are served by connect
# routes, which are the long-running ones tracked in apiserver_longrunning_requests.
_CONNECT_SUBRESOURCES = frozenset(("log", "exec", "portforward", "attach", "proxy"))
_CONNECT_ROUTES = frozenset(("exec", "portforward", "attach", "proxy"))
_METHOD_VERBS = {b"POST": "POST", b"PUT": "PUT", b"PATCH": "PATCH", b"DELETE": "DELETE", b"GET": "GET",
                 b"HEAD": "GET"}
_READS = frozenset((b"GET", b"HEAD"))
_APPLY_PATCH = b"application/apply-patch+yaml"
# Where a request keeps its _Route between dispatch and the end of its response.
_ROUTE = "_kapi_metrics_route"
# Hijacked long-running requests whose connections are checked for closing once this many are open.
_PRUNE_HIJACKED_AT = 64


def request_scope(info) -> str:
    """The scope label of a request: "resource" for one named object (and create), "namespace" for a
    collection in a namespace, "cluster" for a collection across namespaces or of a cluster-scoped
    resource, "" off the resource paths."""
    if info.name or info.verb == "create":
        return "resource"
    if info.namespace:
        return "namespace"
    return "cluster" if info.is_resource_request else ""


def reported_verb(method: bytes, info, scope: str, content_type: Optional[bytes] = None) -> str:
    """The verb label of a request as upstream normalizes it: GET or LIST by scope, WATCH for watches,
    APPLY for server-side apply patches, CONNECT for the node-stream subresources, the HTTP method
    otherwise (POST, PUT, PATCH, DELETE, also for deletecollection), "other" for anything else."""
    if method in _READS:
        verb = "GET" if scope in ("resource", "") else "LIST"
        if info.verb == "watch":
            verb = "WATCH"
    elif method == b"PATCH" and content_type == _APPLY_PATCH:
        verb = "APPLY"
    else:
        verb = _METHOD_VERBS.get(method, "other")
    if info.is_resource_request and info.subresource in _CONNECT_SUBRESOURCES:
        verb = "CONNECT"
    return verb


def dry_run_label(values: Optional[list]) -> str:
    """The dry_run label: "" without dryRun, the distinct values sorted and comma-joined, or
    "invalid" when one is not "All"."""
    if not values:
        return ""
    distinct = sorted({v.decode("utf-8", "replace") for v in values})
    if any(v != "All" for v in distinct):
        return "invalid"
    return ",".join(distinct)


def _legacy_watch_path(info) -> bool:
    # /api/v1/watch/... and /apis/{group}/{version}/watch/...: upstream's WATCH routes.
    parts = info.parts
    at = 2 if info.api_prefix == "api" else 3
    return len(parts) > at and parts[at] == "watch"


class _Histogram:
    """Per-bucket counts (not cumulative) and the sum of the observations."""
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)     # the last one is +Inf only
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def clear(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def merge(self, other: "_Histogram") -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts)]
        self.total += other.total

    def cumulative(self) -> list:
        out, running = [], 0
        for bound, count in zip(self.bounds, self.counts):
            running += count
            out.append((_go_float(bound), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


def _go_float(value: float) -> str:
    """A bucket bound as Go's %g prints it (le="1", le="0.005", le="1e+06")."""
    text = repr(float(value))
    if "e" in text or abs(value) >= 1e6:
        mantissa, _, exponent = f"{value:e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        sign, digits = exponent[0], exponent[1:].lstrip("0")
        return f"{mantissa}e{sign}{digits.zfill(2)}"
    return text[:-2] if text.endswith(".0") else text


class _Series:
    """The requests of one label set: counts by code, durations, and response sizes when they read."""
    __slots__ = ("labels", "codes", "durations", "sizes")

    def __init__(self, labels: tuple, sized: bool):
        self.labels = labels
        self.codes: dict[int, int] = {}
        self.durations = _Histogram(DURATION_BUCKETS)
        self.sizes = _Histogram(SIZE_BUCKETS) if sized else None

    def record(self, code: int, elapsed: float, size: int) -> None:
        codes = self.codes
        codes[code] = codes.get(code, 0) + 1
        self.durations.observe(elapsed)
        if self.sizes is not None:
            self.sizes.observe(size)


class _Route:
    """A long-running request (watch, connect) in progress, and the series it is recorded in."""
    __slots__ = ("series", "started", "transport", "request", "done")

    def __init__(self, series: _Series):
        self.series = series
        self.started = 0.0
        self.transport = None
        self.request = None
        self.done = False


def _hijacked(request, route: "_Route") -> bool:
    # upgrade.hijack hands an HTTP/1.1 connection to another protocol and leaves the channel without
    # one.  (An HTTP/2 stream has no transport of its own from the start, and is never hijacked.)
    channel = getattr(request, "channel", None)
    return route.transport is not None and channel is not None and getattr(channel, "transport", None) is None


def _connection_open(transport) -> bool:
    """Whether a connection, seen through any wrappers (TLS, policies) down to its socket, is open."""
    for _ in range(8):
        if transport is None or getattr(transport, "disconnected", False):
            return False
        inner = getattr(transport, "transport", None)
        if inner is None:
            return bool(getattr(transport, "connected", True))
        transport = inner
    return True


class APIServerMetrics:
    """The request metrics of one server, and their exposition with the gauges read at scrape time.

    ``storage_objects`` returns {resource: count} ("configmaps", "deployments.apps") when scraped.
    """

    def __init__(self, storage_objects: Optional[Callable[[], Mapping[str, int]]] = None,
                 clock: Callable[[], float] = time.monotonic):
        self.storage_objects = storage_objects
        self.clock = clock
        self._series: dict[tuple, _Series] = {}          # REQUEST_LABELS values + (sized,) -> series
        self._open: dict[int, _Route] = {}               # long-running requests in progress
        self._hijacked: dict[int, _Route] = {}           # ... whose connections another protocol took
        self._inflight: list[tuple[Callable[[], int], Callable[[], int]]] = []
        # More families, each source called at scrape time (API Priority and Fairness's).
        self._family_sources: list[Callable[[], list]] = []
        self._registry = None
        # In a --workers worker: the other processes' answers to a share() (kapiserver.storage.remote's gather).
        self.peers: Optional[Callable[[str], "Deferred[list]"]] = None

    # -- recording -----------------------------------------------------------------------------
    def route(self, request, info, resource_info=None) -> None:
        """Count ``request``, a resource request dispatched to its handler, when it ends
        (request_done); a watch or connect is in apiserver_longrunning_requests until then.
        A subresource ``resource_info`` (the catalog's) does not serve has no route upstream: not counted."""
        if info.subresource and resource_info is not None and resource_info.subresource(info.subresource) is None:
            return      # and no label set per made-up path
        method = request.method
        scope = request_scope(info)
        verb = reported_verb(method, info, scope,
                             request.getHeader(b"content-type") if method == b"PATCH" else None)
        dry_run = request.args.get(b"dryRun")
        connect = info.subresource in _CONNECT_ROUTES
        # Upstream sizes what its GET and LIST routes answer: not connects, not the /watch/ paths.
        sized = method in _READS and not connect and (verb != "WATCH" or not _legacy_watch_path(info))
        series = self._series_of((verb, dry_run_label(dry_run) if dry_run else "", info.api_group,
                                  info.api_version, info.resource, info.subresource, scope, COMPONENT, sized))
        if verb == "WATCH" or connect:
            route = _Route(series)
            setattr(request, _ROUTE, route)
            self._track(request, route)
        else:
            setattr(request, _ROUTE, series)

    def route_nonresource(self, request, path: str, component: str = COMPONENT) -> None:
        """Count ``request`` to a non-resource path that upstream counts (subresource=path)."""
        method = request.method
        dry_run = request.args.get(b"dryRun")
        verb = _METHOD_VERBS.get(method, "other")
        setattr(request, _ROUTE, self._series_of(
            (verb, dry_run_label(dry_run) if dry_run else "", "", "", "", path, "", component, verb == "GET")))

    def _series_of(self, key: tuple) -> _Series:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(key[:-1], key[-1])
        return series

    def request_done(self, request, elapsed: float) -> None:
        """Record a request whose handler has returned, ``elapsed`` seconds after it arrived."""
        route = getattr(request, _ROUTE, None)
        if route is None:
            return
        if route.__class__ is _Series:
            route.record(request.code, elapsed, request.sentLength)
            return
        if route.done or not _hijacked(request, route):
            return      # recorded when its response finished, or will be when it does
        # Switched protocols: recorded now, in the long-running gauge until the connection closes.
        self._open.pop(id(request), None)
        self._hijacked[id(request)] = route
        route.done = True
        route.series.record(101 if request.code == 200 else request.code, elapsed, request.sentLength)

    def _track(self, request, route: _Route) -> None:
        route.started = self.clock()
        route.request = request
        route.transport = getattr(getattr(request, "channel", None), "transport", None)
        key = id(request)
        self._open[key] = route
        when_finished(request, lambda result: self._finished(result, key, route))
        if len(self._hijacked) >= _PRUNE_HIJACKED_AT:
            self._prune_hijacked()

    def _finished(self, _result, key: int, route: _Route) -> None:
        # The response of a long-running request ended (or its client went away).
        self._open.pop(key, None)
        request, route.request, route.transport = route.request, None, None
        if not route.done:
            route.done = True
            route.series.record(request.code, self.clock() - route.started, request.sentLength)
        return None

    def _prune_hijacked(self) -> None:
        for key, route in list(self._hijacked.items()):
            if not _connection_open(route.transport):
                del self._hijacked[key]
                route.request = route.transport = None

    def reset(self) -> None:
        """Forget every request counted so far (DELETE /metrics, as upstream's metrics reset)."""
        for series in self._series.values():
            series.codes.clear()
            series.durations.clear()
            if series.sizes is not None:
                series.sizes.clear()

    # -- requests in flight ----------------------------------------------------------------------
    def add_inflight_source(self, read_only: Callable[[], int], mutating: Callable[[], int]) -> None:
        """Add a listener's in-flight counts (its runtime limits') to apiserver_current_inflight_requests."""
        self._inflight.append((read_only, mutating))

    def add_family_source(self, source: Callable[[], list]) -> None:
        """Add metric families read at scrape time (kapiserver.endpoints.apfmetrics's)."""
        self._family_sources.append(source)

    def count_rejected(self, request, info) -> None:
        """Count a request the in-flight limits refused (429) before it reached its handler, as upstream
        counts it: with the labels of the route it asked for."""
        if info.is_resource_request:
            self.route(request, info)
            self.request_done(request, 0.0)

    # -- exposition ------------------------------------------------------------------------------
    @property
    def registry(self):
        """This server's prometheus_client CollectorRegistry (built on first use)."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry, ProcessCollector
            registry = CollectorRegistry()
            registry.register(_Collector(self))
            ProcessCollector(registry=registry)
            self._registry = registry
        return self._registry

    def share(self, what: str) -> Optional[list]:
        """This process's part of a --workers apiserver's /metrics: "metrics", its families as plain values
        (families_out); "reset", its request metrics forgotten."""
        if what == "metrics":
            return families_out(self.registry.collect())
        if what == "reset":
            self.reset()
        return None

    def exposition(self, accept: Optional[str] = None, accept_encoding: Optional[str] = None,
                   others: Iterable[Optional[list]] = ()) -> tuple[bytes, str, str]:
        """The body, Content-Type and Content-Encoding ("" or "gzip") of the metrics for a client that
        sends these Accept and Accept-Encoding headers (gzip when accepted, as Prometheus scrapes); with
        ``others``, the other processes' families (families_out's) merged in."""
        from prometheus_client.exposition import choose_encoder
        encoder, content_type = choose_encoder(accept or "")
        others = [families for families in others if families]
        body = encoder(_Merged(self.registry, others) if others else self.registry)
        if accept_encoding and any(part.split(";")[0].strip().lower() == "gzip"
                                   for part in accept_encoding.split(",")):
            import gzip
            return gzip.compress(body), content_type, "gzip"
        return body, content_type, ""

    def families(self) -> Iterable:
        """The metric families of this server, sorted by name as upstream's registry writes them."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
        families = []

        inflight = GaugeMetricFamily("apiserver_current_inflight_requests",
                                     HELP["apiserver_current_inflight_requests"], labels=("request_kind",))
        inflight.add_metric(("mutating",), sum(mutating() for _, mutating in self._inflight))
        inflight.add_metric(("readOnly",), sum(read_only() for read_only, _ in self._inflight))
        families.append(inflight)

        self._prune_hijacked()
        running: dict[tuple, int] = {}
        for route in list(self._open.values()) + list(self._hijacked.values()):
            labels = route.series.labels
            key = labels[:1] + labels[2:]
            running[key] = running.get(key, 0) + 1
        requests, durations, sizes = self._totals()
        families.append(self._gauge("apiserver_longrunning_requests", ROUTE_LABELS, running, GaugeMetricFamily))

        families.append(self._histograms("apiserver_request_duration_seconds", REQUEST_LABELS, durations,
                                         HistogramMetricFamily))
        total = CounterMetricFamily("apiserver_request_total", HELP["apiserver_request_total"],
                                    labels=REQUEST_LABELS + ("code",))
        for key in sorted(requests):
            total.add_metric(key, requests[key])
        families.append(total)
        families.append(self._histograms("apiserver_response_sizes", ROUTE_LABELS, sizes, HistogramMetricFamily))

        counts = {}
        if self.storage_objects is not None:
            counts = {(resource,): n for resource, n in self.storage_objects().items()}
        families.append(self._gauge("apiserver_storage_objects", ("resource",), counts, GaugeMetricFamily))

        from ..version import VERSION_INFO
        build = GaugeMetricFamily("kubernetes_build_info", HELP["kubernetes_build_info"], labels=(
            "build_date", "compiler", "git_commit", "git_tree_state", "git_version", "go_version", "major", "minor",
            "platform"))
        build.add_metric([VERSION_INFO[k] for k in ("buildDate", "compiler", "gitCommit", "gitTreeState",
                                                    "gitVersion", "goVersion", "major", "minor", "platform")], 1)
        families.append(build)
        for source in self._family_sources:
            families.extend(source())
        # By name as exposed (a counter's with its _total).
        families.sort(key=lambda f: f.name + ("_total" if f.type == "counter" else ""))
        # Upstream writes no family that has no samples.
        return [family for family in families if family.samples]

    def _totals(self) -> tuple[dict, dict, dict]:
        """The series summed by label set: {labels + (code,): count}, {labels: durations}, {labels without
        dry_run: sizes}; a label set may have a sized and an unsized series (a watch by either path)."""
        requests: dict[tuple, int] = {}
        durations: dict[tuple, _Histogram] = {}
        sizes: dict[tuple, _Histogram] = {}
        for series in list(self._series.values()):
            if not series.durations.total and not any(series.durations.counts):
                continue        # nothing since a reset
            labels = series.labels
            for code, count in series.codes.items():
                key = labels + (str(code),)
                requests[key] = requests.get(key, 0) + count
            _add(durations, labels, series.durations, DURATION_BUCKETS)
            if series.sizes is not None:
                _add(sizes, labels[:1] + labels[2:], series.sizes, SIZE_BUCKETS)
        return requests, durations, sizes

    @staticmethod
    def _gauge(name, labels, values: dict, family_type):
        family = family_type(name, HELP[name], labels=labels)
        for key in sorted(values):
            family.add_metric(key, values[key])
        return family

    @staticmethod
    def _histograms(name, labels, histograms: dict, family_type):
        family = family_type(name, HELP[name], labels=labels)
        for key in sorted(histograms):
            histogram = histograms[key]
            family.add_metric(key, histogram.cumulative(), histogram.total)
        return family


def _add(into: dict, key: tuple, histogram: _Histogram, bounds) -> None:
    total = into.get(key)
    if total is None:
        total = into[key] = _Histogram(bounds)
    total.merge(histogram)


# Families whose value is the same in every process of a --workers apiserver: the first process's stands.
_SAME_EVERYWHERE = frozenset(("kubernetes_build_info", "apiserver_storage_objects", "process_max_fds"))
# ... and those whose earliest value stands.
_EARLIEST = frozenset(("process_start_time_seconds",))


def families_out(families: Iterable) -> list[tuple]:
    """prometheus_client metric families as plain values (for marshal): (name, type, documentation, unit,
    [(sample name, labels, value)])."""
    return [(f.name, f.type, f.documentation, f.unit, [(s.name, s.labels, s.value) for s in f.samples])
            for f in families]


def merge_families(families: Iterable, others: Iterable[list[tuple]]) -> list:
    """One apiserver's families from its processes': this process's ``families`` with each of ``others``
    (families_out's) added sample by sample (same name and labels): summed (counts, histogram buckets, sums,
    in-flight gauges, memory), except that one process's value stands for those all tell alike (build info,
    stored objects) and the earliest start time stands.  Families and label sets only another process has
    are added after."""
    from prometheus_client.core import Metric
    merged: dict[str, tuple] = {}
    for group in (families_out(families), *others):
        for name, type_, documentation, unit, samples in group:
            family = merged.get(name)
            if family is None:
                family = merged[name] = (type_, documentation, unit, {})
            values = family[3]
            for sample_name, labels, value in samples:
                key = (sample_name, tuple(sorted(labels.items())))
                if key not in values:
                    values[key] = (labels, value)
                elif name in _EARLIEST:
                    values[key] = (labels, min(values[key][1], value))
                elif name not in _SAME_EVERYWHERE:
                    values[key] = (labels, values[key][1] + value)
    out = []
    for name, (type_, documentation, unit, values) in merged.items():
        family = Metric(name, documentation, type_, unit)
        for (sample_name, _), (labels, value) in values.items():
            family.add_sample(sample_name, labels, value)
        out.append(family)
    return out


class _Merged:
    """A registry's families with other processes' merged in, for prometheus_client's encoders."""

    def __init__(self, registry, others: list[list[tuple]]):
        self.registry = registry
        self.others = others

    def collect(self):
        return merge_families(self.registry.collect(), self.others)


class _Collector:
    """The prometheus_client collector of an APIServerMetrics."""

    def __init__(self, metrics: APIServerMetrics):
        self.metrics = metrics

    def collect(self):
        return self.metrics.families()


def watch_cache_families(registry) -> list:
    """apiserver_watch_cache_consistent_read_total{resource, success, fallback}: consistent reads the watch
    caches served (fallback="false") and those that read storage because the cache could not be confirmed
    current in time (fallback="true")."""
    from prometheus_client.core import CounterMetricFamily
    name = "apiserver_watch_cache_consistent_read_total"
    family = CounterMetricFamily(name[:-len("_total")], HELP[name], labels=("resource", "success", "fallback"))
    totals: dict[str, dict] = {}
    for store in list(registry.stores.values()):
        counts = getattr(store.reads, "consistent_reads", None)
        if counts is not None:
            # Several versions of one resource share one cache.
            totals.setdefault(store.reads.resource, counts)
    for resource in sorted(totals):
        for kind, fallback in (("cache", "false"), ("fallback", "true")):
            if totals[resource][kind]:
                family.add_metric((resource, "true", fallback), totals[resource][kind])
    return [family]


def storage_object_counts(registry) -> dict[str, int]:
    """Objects per resource ("configmaps", "deployments.apps") as the watch caches hold them: counted
    from memory, never by reading storage.  A resource without a ready cache (--watch-cache=false, a
    cache still filling) is left out, as are the resources that store nothing."""
    counts: dict[str, int] = {}
    for store in list(registry.stores.values()):
        count = store.reads.object_count()
        # The resources that store nothing (the reviews, bindings, componentstatuses) are those that
        # cannot be watched, as discovery tells them apart.
        if count is None or "watch" not in store.info.verbs:
            continue
        # Several versions of one resource share one stored collection.
        counts.setdefault(store.reads.resource, count)
    return counts

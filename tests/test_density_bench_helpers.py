"""
bench/slo.py, the density benchmark's pure helpers: upstream's SLO classes of apiserver_request_duration_seconds
series, and the 99th percentile from a histogram's buckets as Prometheus' histogram_quantile interpolates it.
Checked against the apiserver's own /metrics text, so the labels and buckets the helpers read are the
server's.  No timing.
"""

from __future__ import annotations

import importlib.util
import math
import os

import pytest

from kapiserver.endpoints import metrics
from kapiserver.endpoints.metrics import DURATION_BUCKETS
from tests.endpoints.test_metrics import FakeRequest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "slo.py")
_spec = importlib.util.spec_from_file_location("density_slo", _PATH)
slo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slo)

INF = math.inf


@pytest.mark.parametrize("verb, scope, resource, subresource, expected", [
    ("POST", "resource", "pods", "", "mutating"),
    ("PUT", "resource", "leases", "", "mutating"),
    ("PATCH", "resource", "pods", "status", "mutating"),
    ("DELETE", "namespace", "pods", "", "mutating"),      # deletecollection
    ("APPLY", "resource", "configmaps", "", "mutating"),
    ("POST", "resource", "pods", "binding", "mutating"),
    ("GET", "resource", "pods", "", "get"),
    ("GET", "resource", "pods", "log", "get"),
    ("LIST", "namespace", "pods", "", "list-namespace"),
    ("LIST", "cluster", "pods", "", "list-cluster"),
    ("LIST", "cluster", "nodes", "", "list-cluster"),
    ("WATCH", "cluster", "pods", "", None),
    ("WATCHLIST", "namespace", "pods", "", None),
    ("CONNECT", "resource", "pods", "exec", None),
    ("PROXY", "resource", "services", "", None),
    ("POST", "resource", "events", "", None),             # upstream leaves events out
    ("LIST", "namespace", "events", "", None),
    ("GET", "", "", "", None),                            # /healthz, /readyz
])
def test_slo_class(verb, scope, resource, subresource, expected):
    assert slo.slo_class(verb, scope, resource, subresource) == expected


def test_thresholds_are_upstreams():
    assert slo.THRESHOLDS == {"mutating": 1.0, "get": 1.0, "list-namespace": 5.0, "list-cluster": 30.0}


def test_quantile_interpolates_inside_the_bucket():
    # 100 observations: 50 up to 0.1, 40 in (0.1, 0.2], 10 in (0.2, 0.4].
    buckets = [(0.1, 50), (0.2, 90), (0.4, 100), (INF, 100)]
    assert slo.histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert slo.histogram_quantile(0.7, buckets) == pytest.approx(0.15)
    assert slo.histogram_quantile(0.99, buckets) == pytest.approx(0.38)
    # The first bucket interpolates from 0.
    assert slo.histogram_quantile(0.25, buckets) == pytest.approx(0.05)


def test_quantile_in_the_inf_bucket_answers_the_highest_finite_bound():
    assert slo.histogram_quantile(0.99, [(1.0, 10), (60.0, 90), (INF, 100)]) == 60.0


def test_quantile_without_observations_is_none():
    assert slo.histogram_quantile(0.99, [(1.0, 0), (INF, 0)]) is None
    assert slo.histogram_quantile(0.99, []) is None


def test_quantile_skips_empty_buckets_to_the_one_holding_the_rank():
    assert slo.histogram_quantile(0.99, [(0.005, 0), (0.025, 0), (0.05, 100), (INF, 100)]) == pytest.approx(0.04975)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert slo.percentile(values, 0.99) == 99.0
    assert slo.percentile(values, 0.5) == 50.0
    assert slo.percentile([3.0], 0.99) == 3.0
    assert slo.percentile([], 0.99) is None


def _bucket_lines(labels: str, counts: list) -> str:
    out, running = [], 0
    for bound, n in zip([*DURATION_BUCKETS, "+Inf"], counts):
        running += n
        le = "+Inf" if bound == "+Inf" else repr(float(bound)).removesuffix(".0")
        out.append(f'apiserver_request_duration_seconds_bucket{{{labels},le="{le}"}} {running}')
    return "\n".join(out)


def _labels(verb, resource, scope, subresource="", group="", version="v1", dry_run=""):
    return (f'component="apiserver",dry_run="{dry_run}",group="{group}",resource="{resource}",scope="{scope}",'
            f'subresource="{subresource}",verb="{verb}",version="{version}"')


def _metrics(*series) -> str:
    head = ("# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution.\n"
            "# TYPE apiserver_request_duration_seconds histogram\n")
    return head + "\n".join(_bucket_lines(labels, counts) for labels, counts in series) + "\n"


def _counts(**at) -> list:
    """Per-bucket (not cumulative) counts: at={"0.05": 10} puts 10 in the bucket bounded by 0.05."""
    counts = [0] * (len(DURATION_BUCKETS) + 1)
    for bound, n in at.items():
        counts[len(DURATION_BUCKETS) if bound == "inf" else DURATION_BUCKETS.index(float(bound))] += n
    return counts


def test_report_holds_each_series_to_its_class_threshold():
    text = _metrics(
        (_labels("POST", "pods", "resource"), _counts(**{"0.025": 98, "0.05": 1})),
        # The same series with another dry_run label is summed into it.
        (_labels("POST", "pods", "resource", dry_run="All"), _counts(**{"0.025": 1})),
        (_labels("PATCH", "pods", "resource", "status"), _counts(**{"0.025": 90, "2": 10})),
        (_labels("LIST", "pods", "namespace"), _counts(**{"4": 100})),
        (_labels("LIST", "pods", "cluster"), _counts(**{"10": 100})),
        (_labels("WATCH", "pods", "cluster"), _counts(inf=100)),
        (_labels("POST", "events", "resource", version="v1"), _counts(**{"10": 100})),
    )
    histograms = slo.request_histograms(text)
    assert set(histograms) == {("pods", "", "POST", "resource"), ("pods", "status", "PATCH", "resource"),
                               ("pods", "", "LIST", "namespace"), ("pods", "", "LIST", "cluster"),
                               ("pods", "", "WATCH", "cluster"), ("events", "", "POST", "resource")}
    report = slo.slo_report(histograms)
    mutating = report["mutating"]
    assert mutating["count"] == 200
    assert mutating["worst"] == ("pods", "status", "PATCH", "resource")
    assert 1.5 < mutating["worst_p99"] <= 2.0
    assert mutating["pass"] is False
    assert report["list-namespace"]["pass"] is True and 3 < report["list-namespace"]["p99"] <= 4
    assert report["list-cluster"]["pass"] is True and report["list-cluster"]["count"] == 100
    assert report["get"] == {"threshold": 1.0, "count": 0, "p99": None, "worst": None, "worst_p99": None,
                             "pass": True}


def test_subtract_counts_only_what_came_between_scrapes():
    before = slo.request_histograms(_metrics((_labels("POST", "pods", "resource"), _counts(**{"5": 100}))))
    after = slo.request_histograms(_metrics((_labels("POST", "pods", "resource"), _counts(**{"5": 100, "0.025": 50})),
                                            (_labels("GET", "pods", "resource"), _counts(**{"0.005": 3}))))
    between = slo.subtract(after, before)
    assert slo.count(between[("pods", "", "POST", "resource")]) == 50
    assert slo.histogram_quantile(0.99, between[("pods", "", "POST", "resource")]) <= 0.025
    assert slo.count(between[("pods", "", "GET", "resource")]) == 3
    assert slo.slo_report(between)["mutating"]["pass"] is True


def test_reads_the_servers_own_metrics():
    """The apiserver's own exposition (its labels, its buckets as Go prints them) is what the helpers read:
    requests recorded through APIServerMetrics land in the classes upstream's SLOs put them in."""
    m = metrics.APIServerMetrics()
    recorded = [("POST", "/api/v1/namespaces/ns/pods", "", 0.03), ("POST", "/api/v1/namespaces/ns/pods", "", 0.7),
                ("GET", "/api/v1/namespaces/ns/pods/p", "", 0.002), ("GET", "/api/v1/namespaces/ns/pods", "", 0.3),
                ("GET", "/api/v1/pods", "", 2.5), ("GET", "/api/v1/pods", "watch=1", 100.0)]
    for method, path, query, elapsed in recorded:
        request = FakeRequest(method, path, query)
        m.route(request, request.info)
        request.code = 201 if method == "POST" else 200
        m.request_done(request, elapsed)
        request.finish()
    report = slo.slo_report(slo.request_histograms(m.exposition()[0].decode()))
    assert {name: r["count"] for name, r in report.items()} == {"mutating": 2, "get": 1, "list-namespace": 1,
                                                                  "list-cluster": 1}
    assert report["mutating"]["worst"] == ("pods", "", "POST", "resource")
    assert 0.6 < report["mutating"]["p99"] <= 0.8
    assert 2 < report["list-cluster"]["p99"] <= 3
    assert all(r["pass"] for r in report.values())

"""
Upstream's API call latency SLOs computed from the apiserver's own /metrics, as SIG Scalability's tooling
(clusterloader2's APIResponsiveness measurement) computes them: apiserver_request_duration_seconds summed by
(resource, subresource, verb, scope), its 99th percentile taken from the buckets by linear interpolation
(Prometheus' histogram_quantile), each such series held to its class's threshold:

  - mutating calls (POST, PUT, PATCH, DELETE, APPLY): p99 <= 1 s;
  - GET (one object): p99 <= 1 s;
  - LIST in a namespace: p99 <= 5 s;
  - LIST across the cluster (or of a cluster-scoped resource): p99 <= 30 s.

Left out as upstream leaves them out: WATCH, WATCHLIST, CONNECT and PROXY (long-running), events, and the
requests off the resource paths (health checks, discovery).  Pure functions: the density benchmark uses them
and tests/test_density_bench_helpers.py checks them.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional, Tuple

from prometheus_client.parser import text_string_to_metric_families

METRIC = "apiserver_request_duration_seconds"
MUTATING = frozenset(("POST", "PUT", "PATCH", "DELETE", "APPLY"))
EXCLUDED_VERBS = frozenset(("WATCH", "WATCHLIST", "CONNECT", "PROXY"))
EXCLUDED_RESOURCES = frozenset(("events",))
THRESHOLDS = {"mutating": 1.0, "get": 1.0, "list-namespace": 5.0, "list-cluster": 30.0}
CLASSES = tuple(THRESHOLDS)

# (resource, subresource, verb, scope)
Key = Tuple[str, str, str, str]
# [(upper bound, cumulative count)], sorted by bound, the last one +Inf
Buckets = List[Tuple[float, float]]


def slo_class(verb: str, scope: str, resource: str, subresource: str = "") -> Optional[str]:
    """The SLO class of a series of apiserver_request_duration_seconds, or None when no SLO covers it."""
    if not resource or verb in EXCLUDED_VERBS or resource in EXCLUDED_RESOURCES:
        return None
    if verb in MUTATING:
        return "mutating"
    if verb == "GET":
        return "get"
    if verb == "LIST":
        return "list-cluster" if scope == "cluster" else "list-namespace"
    return None


def request_histograms(text: str) -> Dict[Key, Buckets]:
    """apiserver_request_duration_seconds from a /metrics answer, summed over the other labels (group,
    version, dry_run, component) by (resource, subresource, verb, scope)."""
    sums: Dict[Key, Dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != METRIC:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            labels = sample.labels
            key = (labels.get("resource", ""), labels.get("subresource", ""), labels.get("verb", ""),
                   labels.get("scope", ""))
            bound = float(labels["le"])
            buckets = sums.setdefault(key, {})
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return {key: sorted(buckets.items()) for key, buckets in sums.items()}


def subtract(after: Dict[Key, Buckets], before: Dict[Key, Buckets]) -> Dict[Key, Buckets]:
    """The requests observed between two scrapes (counters only grow while the server runs)."""
    out = {}
    for key, buckets in after.items():
        earlier = dict(before.get(key, ()))
        out[key] = [(bound, count - earlier.get(bound, 0.0)) for bound, count in buckets]
    return out


def merge(histograms: Iterable[Buckets]) -> Buckets:
    total: Dict[float, float] = {}
    for buckets in histograms:
        for bound, count in buckets:
            total[bound] = total.get(bound, 0.0) + count
    return sorted(total.items())


def count(buckets: Buckets) -> float:
    return buckets[-1][1] if buckets else 0.0


def histogram_quantile(q: float, buckets: Buckets) -> Optional[float]:
    """Prometheus' histogram_quantile over cumulative buckets: the bucket holding rank q*count, and linear
    interpolation inside it (from 0 for the first bucket); a rank in the +Inf bucket answers the highest
    finite bound.  None without observations."""
    if not buckets or buckets[-1][0] != math.inf or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    for i, (bound, cumulative) in enumerate(buckets):
        if cumulative >= rank:
            break
    if bound == math.inf:
        return buckets[-2][0] if len(buckets) > 1 else None
    start, before = (0.0, 0.0) if i == 0 else buckets[i - 1]
    if cumulative == before:
        return bound
    return start + (bound - start) * (rank - before) / (cumulative - before)


def slo_report(histograms: Dict[Key, Buckets], q: float = 0.99) -> Dict[str, dict]:
    """Per class: its requests, the p99 of them all together, the worst series (key, p99) and whether every
    series holds the threshold (upstream's verdict: each (resource, subresource, verb, scope) on its own)."""
    report = {}
    for name in CLASSES:
        series = {key: b for key, b in histograms.items() if slo_class(key[2], key[3], key[0], key[1]) == name
                  and count(b) > 0}
        worst_key, worst = None, None
        for key, buckets in series.items():
            p = histogram_quantile(q, buckets)
            if p is not None and (worst is None or p > worst):
                worst_key, worst = key, p
        report[name] = {"threshold": THRESHOLDS[name], "count": int(sum(count(b) for b in series.values())),
                        "p99": histogram_quantile(q, merge(series.values())), "worst": worst_key,
                        "worst_p99": worst, "pass": worst is None or worst <= THRESHOLDS[name]}
    return report


def percentile(values: List[float], q: float) -> Optional[float]:
    """The nearest-rank percentile of the values (q in 0..1), None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

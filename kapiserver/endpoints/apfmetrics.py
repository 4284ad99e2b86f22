"""API Priority and Fairness's metric families (apiserver_flowcontrol_*), as upstream 1.32 names and
describes them, read from the dispatcher's counts at scrape time.  Only the counts kept here are
exposed: requests dispatched, executing, waiting and rejected, and each level's nominal seats."""

from __future__ import annotations

HELP = {
    "apiserver_flowcontrol_current_executing_requests": "[BETA] Number of requests in initial (for a WATCH) or "
                                                        "any (for a non-WATCH) execution stage in the API "
                                                        "Priority and Fairness subsystem",
    "apiserver_flowcontrol_current_inqueue_requests": "[BETA] Number of requests currently pending in queues of "
                                                      "the API Priority and Fairness subsystem",
    "apiserver_flowcontrol_dispatched_requests_total": "[BETA] Number of requests executed by API Priority and "
                                                       "Fairness subsystem",
    "apiserver_flowcontrol_nominal_limit_seats": "[BETA] Nominal number of execution seats configured for each "
                                                 "priority level",
    "apiserver_flowcontrol_lower_limit_seats": "[ALPHA] Configured lower bound on number of execution seats "
                                               "available to each priority level",
    "apiserver_flowcontrol_upper_limit_seats": "[ALPHA] Configured upper bound on number of execution seats "
                                               "available to each priority level",
    "apiserver_flowcontrol_current_limit_seats": "[ALPHA] current derived number of execution seats available to "
                                                 "each priority level",
    "apiserver_flowcontrol_rejected_requests_total": "[BETA] Number of requests rejected by API Priority and "
                                                     "Fairness subsystem",
}
_PL_FS = ("flow_schema", "priority_level")


def families(dispatcher) -> list:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    def family(kind, name, labels, values: dict):
        made = kind(name, HELP[name], labels=labels)
        for key in sorted(values):
            made.add_metric(key, values[key])
        return made

    # Labels in name order, as upstream's client writes them: (flow_schema, priority_level[, reason]).
    def by_schema(counts):
        return {(fs, pl): n for (pl, fs), n in counts.items()}
    rejected = {(fs, pl, reason): n for (pl, fs, reason), n in dispatcher.rejected.items()}
    def per_level(value):
        return {(name,): value(level) for name, level in dispatcher.levels.items()}
    return [
        family(GaugeMetricFamily, "apiserver_flowcontrol_current_executing_requests", _PL_FS,
               by_schema(dispatcher.executing)),
        family(GaugeMetricFamily, "apiserver_flowcontrol_current_inqueue_requests", _PL_FS,
               by_schema(dispatcher.inqueue)),
        family(CounterMetricFamily, "apiserver_flowcontrol_dispatched_requests_total", _PL_FS,
               by_schema(dispatcher.dispatched)),
        family(GaugeMetricFamily, "apiserver_flowcontrol_nominal_limit_seats", ("priority_level",),
               per_level(lambda level: level.nominal)),
        family(GaugeMetricFamily, "apiserver_flowcontrol_lower_limit_seats", ("priority_level",),
               per_level(lambda level: level.lower)),
        family(GaugeMetricFamily, "apiserver_flowcontrol_upper_limit_seats", ("priority_level",),
               per_level(lambda level: level.upper)),
        family(GaugeMetricFamily, "apiserver_flowcontrol_current_limit_seats", ("priority_level",),
               per_level(lambda level: level.limit)),
        family(CounterMetricFamily, "apiserver_flowcontrol_rejected_requests_total", _PL_FS + ("reason",), rejected),
    ]

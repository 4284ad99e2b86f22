"""kapiserver.gcpolicy: the server process's garbage-collector settings (restored after the test)."""

from __future__ import annotations

import gc
import types

from twisted.internet.defer import Deferred

from kapiserver import gcpolicy


def test_young_collections_are_rarer_and_the_start_is_frozen_once_ready():
    thresholds = gc.get_threshold()
    # What the interpreter froze itself (Python 3.12 starts with some objects in the permanent generation).
    frozen = gc.get_freeze_count()
    service = types.SimpleNamespace(ready=Deferred())
    try:
        gcpolicy.apply(service)
        assert gc.get_threshold() == (gcpolicy.YOUNG_THRESHOLD, thresholds[1], thresholds[2])
        assert gc.get_freeze_count() == frozen
        kept = [{"allocated": "at start"}]
        service.ready.callback(service)
        assert gc.get_freeze_count() > frozen
        assert not any(o is kept[0] for o in gc.get_objects())     # frozen objects are not tracked for collection
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_the_daemons_twistd_services_get_the_policy():
    """twistd's kube-scheduler, kube-controller-manager and kube-node build their service through
    gcpolicy.serving: the young threshold is the policy's in their process; their taps' own makeService (what a
    test builds in its process) leaves CPython's defaults."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    thresholds = gc.get_threshold()
    built = []
    made = gcpolicy.serving(lambda options: built.append(options) or types.SimpleNamespace())
    try:
        service = made({"kubeconfig": "x"})
        assert built == [{"kubeconfig": "x"}] and isinstance(service, types.SimpleNamespace)
        assert gc.get_threshold()[0] == gcpolicy.YOUNG_THRESHOLD
    finally:
        gc.set_threshold(*thresholds)
    makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
    for name in ("kube-scheduler", "kube-controller-manager", "kube-node"):
        assert makers[name].makeService.__qualname__ == "serving.<locals>.make", name

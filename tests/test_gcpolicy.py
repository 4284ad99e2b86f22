"""kapiserver.gcpolicy: the server process's garbage-collector settings (restored after the test)."""

from __future__ import annotations

import gc
import types

from twisted.internet.defer import Deferred

from kapiserver import gcpolicy


def test_young_collections_are_rarer_and_the_start_is_frozen_once_ready():
    thresholds = gc.get_threshold()
    service = types.SimpleNamespace(ready=Deferred())
    try:
        gcpolicy.apply(service)
        assert gc.get_threshold() == (gcpolicy.YOUNG_THRESHOLD, thresholds[1], thresholds[2])
        assert gc.get_freeze_count() == 0
        kept = [{"allocated": "at start"}]
        service.ready.callback(service)
        assert gc.get_freeze_count() > 0
        assert not any(o is kept[0] for o in gc.get_objects())     # frozen objects are not tracked for collection
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)

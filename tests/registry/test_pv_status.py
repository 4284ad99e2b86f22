"""The PersistentVolume status strategy: lastPhaseTransitionTime (PersistentVolumeLastPhaseTransitionTime, GA in
1.31) stamped on create and on each phase change, from the Registry's clock."""

from __future__ import annotations

import copy

from twisted.internet import task

from kapiserver.registry.registry import Registry
from kapiserver.storage.memory import MemoryStorage

from tests.registry.conftest import result
from tests.registry.test_pv_validation import pv


def _store(resource):
    clock = task.Clock()
    clock.advance(1700000000)
    registry = Registry(MemoryStorage(clock), clock, watch_cache=False)
    return clock, registry.store("", "v1", resource)


def test_pv_last_phase_transition_time_stamped_on_create_and_phase_change():
    """A new volume is Pending since its creation; a phase change through /status stamps the time, a status
    write keeping the phase keeps the old time."""
    clock, store = _store("persistentvolumes")
    body = pv()
    del body["metadata"]["resourceVersion"]
    created = result(store.create(None, body))
    assert created["status"] == {"phase": "Pending", "lastPhaseTransitionTime": "2023-11-14T22:13:20Z"}
    clock.advance(60)
    available = copy.deepcopy(created)
    available["status"] = {"phase": "Available"}
    updated, _ = result(store.update(None, "pv1", lambda old: available, subresource="status"))
    assert updated["status"] == {"phase": "Available", "lastPhaseTransitionTime": "2023-11-14T22:14:20Z"}
    clock.advance(60)
    again = copy.deepcopy(updated)
    again["status"] = {"phase": "Available", "message": "m"}
    updated, _ = result(store.update(None, "pv1", lambda old: again, subresource="status"))
    assert updated["status"]["lastPhaseTransitionTime"] == "2023-11-14T22:14:20Z"



"""The HorizontalPodAutoscaler status subresource as upstream's status strategy validates it."""

from __future__ import annotations

import pytest

from kapiserver.machinery.errors import StatusError

from tests.controllers.conftest import run
from tests.registry.test_hpa_validation import causes, hpa


def test_status_writes_are_checked_by_the_status_rules(store_registry):
    """/status checks only that the replica counts are not negative (desiredReplicas' path spelled right)."""
    store = store_registry.store("autoscaling", "v2", "horizontalpodautoscalers")
    run(store.create("default", hpa()))

    def status(current):
        current = dict(current)
        current["status"] = {"currentReplicas": 1, "desiredReplicas": -1}
        return current
    with pytest.raises(StatusError) as error:
        run(store.update("default", "h", status, subresource="status"))
    assert causes(error.value) == [("status.desiredReplicas", "Invalid value: -1: must be greater than or equal to 0")]
    written = run(store.update("default", "h", lambda c: {**c, "status": {"currentReplicas": 2, "desiredReplicas": 2}},
                               subresource="status"))
    assert written[0]["status"]["desiredReplicas"] == 2

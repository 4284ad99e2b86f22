"""controllerutils.same_status: a status a controller computes compared with the one the API stores as upstream's
controllers compare typed structs, a zero value the same as a field left out (the API leaves omitempty zeros out)."""

from __future__ import annotations

from kapiserver.controllermanager.controllerutils import same_status


def test_zero_values_are_the_same_as_fields_left_out_at_any_depth():
    computed = {"replicas": 2, "updatedNumberScheduled": 0, "numberAvailable": 0, "collisionCount": None,
                "conditions": [{"type": "Available", "status": "True", "reason": "", "message": ""}],
                "selector": "", "unknown": False, "currentMetrics": []}
    stored = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    assert same_status(stored, computed) and same_status(None, {"replicas": 0})


def test_a_value_that_changed_is_not_the_same():
    assert not same_status({"replicas": 2}, {"replicas": 3})
    assert not same_status({"replicas": 2}, {"replicas": 0})
    assert not same_status({"conditions": [{"type": "A", "status": "True"}]},
                           {"conditions": [{"type": "A", "status": "False"}]})
    assert not same_status({}, {"conditions": [{"type": "A", "status": "True"}]})

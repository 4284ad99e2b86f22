"""Strategies of apps/v1 resources whose behaviour differs from the default."""

from __future__ import annotations

from .strategy import Strategy

# apps/v1 keeps a DaemonSet's template generation (a field of the internal type) in this annotation: the
# controller labels its pods pod-template-generation with it.
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _template_generation(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION) or 0)
    except (TypeError, ValueError):
        return 0


def _set_template_generation(obj: dict, generation: int) -> None:
    metadata = obj.setdefault("metadata", {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), TEMPLATE_GENERATION: str(generation)}


class DaemonSetStrategy(Strategy):
    """As upstream's: the template generation starts at 1 (or what the new set names), is the server's on
    update, and moves on only when the pod template changes."""

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        _set_template_generation(obj, max(_template_generation(obj), 1))

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        generation = _template_generation(old) or 1
        if (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
        _set_template_generation(new, generation)


class DeploymentStrategy(Strategy):
    """As upstream's: an update moves the generation on when the spec changes, and when the annotations do (the
    controller copies them to the replica sets)."""

    def prepare_for_update(self, new: dict, old: dict) -> None:
        super().prepare_for_update(new, old)
        generation = old["metadata"].get("generation", 1)
        if new["metadata"]["generation"] == generation and \
                (new["metadata"].get("annotations") or {}) != (old["metadata"].get("annotations") or {}):
            new["metadata"]["generation"] = generation + 1


def _rolling_update(obj: dict) -> dict:
    rolling = ((obj.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    return rolling if isinstance(rolling, dict) else {}


class StatefulSetStrategy(Strategy):
    """As upstream's with MaxUnavailableStatefulSet off (alpha in 1.32): rollingUpdate.maxUnavailable is dropped
    from a new set, and from an update unless the set had it already."""

    def prepare_for_create(self, obj: dict) -> None:
        super().prepare_for_create(obj)
        _rolling_update(obj).pop("maxUnavailable", None)

    def prepare_for_update(self, new: dict, old: dict) -> None:
        if _rolling_update(old).get("maxUnavailable") is None:
            _rolling_update(new).pop("maxUnavailable", None)
        super().prepare_for_update(new, old)

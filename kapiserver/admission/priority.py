"""
Priority admission (on by default, as upstream).  Mutating, on pod creates: spec.priorityClassName resolves
to spec.priority and spec.preemptionPolicy from that PriorityClass; a pod naming none takes the globalDefault
class (its name too) or priority 0 and PreemptLowerPriority; an unknown class, or a priority or
preemptionPolicy given that differs from the class's, is refused.  On pod updates a priority or policy left
out keeps the stored one.  Validating, on PriorityClass creates and updates: only one class may be the
globalDefault.
"""

from __future__ import annotations

from typing import Optional

from ..machinery.errors import StatusError
from ..registry.attributes import CREATE, UPDATE, Attributes
from ..registry.options import ListOptions
from .refusal import forbidden, is_resource, plain_error

GROUP = "scheduling.k8s.io"
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


class Priority:
    # The only (group, resource) pairs its admit and validate act on: the chain calls it for no other.
    admission_resources = frozenset({("", "pods"), (GROUP, "priorityclasses")})

    def __init__(self, registry):
        self.registry = registry

    def _classes_store(self):
        return self.registry.lookup(GROUP, "v1", "priorityclasses")

    async def _default_class(self) -> Optional[dict]:
        """The globalDefault class; of several (a race upstream allows), the one of lowest value."""
        store = self._classes_store()
        if store is None:
            return None
        defaults = [c for c in (await store.list(None, ListOptions()))[0] if c.get("globalDefault")]
        return min(defaults, key=lambda c: c.get("value", 0)) if defaults else None

    async def admit(self, attributes: Attributes) -> None:
        if attributes.operation not in (CREATE, UPDATE) or not is_resource(attributes, "", "pods"):
            return
        spec = attributes.object.setdefault("spec", {})
        if attributes.operation == UPDATE:
            # Validation refuses changing either; an update that leaves them out keeps the stored ones.
            old_spec = (attributes.old_object or {}).get("spec") or {}
            for field in ("priority", "preemptionPolicy"):
                if spec.get(field) is None and old_spec.get(field) is not None:
                    spec[field] = old_spec[field]
            return
        class_name = spec.get("priorityClassName") or ""
        if not class_name:
            default = await self._default_class()
            if default is None:
                priority, policy = 0, PREEMPT_LOWER_PRIORITY
            else:
                priority, policy = default.get("value", 0), default.get("preemptionPolicy")
                spec["priorityClassName"] = default["metadata"]["name"]
        else:
            store = self._classes_store()
            try:
                if store is None:
                    raise StatusError(404, "NotFound", "")
                found = await store.get_shared(None, class_name)
            except StatusError as e:
                if e.code == 404:
                    raise forbidden(attributes, f"no PriorityClass with name {class_name} was found") from None
                raise plain_error(f"failed to get PriorityClass with name {class_name}: {e.message}") from None
            priority, policy = found.get("value", 0), found.get("preemptionPolicy")
        given = spec.get("priority")
        if given is not None and given != priority:
            raise forbidden(attributes, f"the integer value of priority ({given}) must not be provided in pod "
                                        f"spec; priority admission controller computed {priority} from the given "
                                        f"PriorityClass name")
        spec["priority"] = priority
        if policy is not None:
            given = spec.get("preemptionPolicy")
            if given is not None and given != policy:
                raise forbidden(attributes, f"the string value of PreemptionPolicy ({given}) must not be provided "
                                            f"in pod spec; priority admission controller computed {policy} from "
                                            f"the given PriorityClass name")
            spec["preemptionPolicy"] = policy

    async def validate(self, attributes: Attributes) -> None:
        if attributes.operation not in (CREATE, UPDATE) or not is_resource(attributes, GROUP, "priorityclasses"):
            return
        obj = attributes.object
        if not obj.get("globalDefault"):
            return
        default = await self._default_class()
        if default is None:
            return
        name = default["metadata"]["name"]
        if attributes.operation == CREATE or name != obj["metadata"].get("name"):
            raise forbidden(attributes, f"PriorityClass {name} is already marked as default. Only one default "
                                        f"can exist")

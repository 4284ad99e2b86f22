"""pods/binding and core/v1 bindings (upstream's BindingREST): a pod is set to its node once."""

from __future__ import annotations

from ...machinery import errors, meta


def update_pod_condition(status: dict, condition: dict, now: str) -> None:
    """podutil.UpdatePodCondition: ``condition`` takes the place of the pod's condition of its type (appended when
    there is none), its lastTransitionTime ``now`` unless the status stays what it was."""
    conditions = status.setdefault("conditions", [])
    for index, old in enumerate(conditions):
        if old.get("type") == condition["type"]:
            changed = old.get("status") != condition.get("status")
            conditions[index] = {**condition, "lastTransitionTime": now if changed else old.get("lastTransitionTime")}
            return
    conditions.append({**condition, "lastTransitionTime": now})


async def bind_pod(pods, namespace: str, name: str, binding: dict) -> dict:
    """Set a pod's node from a Binding, once; the bound pod."""
    if not isinstance(binding, dict):
        raise errors.bad_request("the body of the request was not a Binding")
    target = binding.get("target") or {}
    node = target.get("name")
    if (binding.get("metadata") or {}).get("name", name) != name:
        raise errors.bad_request("the name of the binding does not match the name on the URL")
    if not node:
        raise errors.invalid_object("", "Binding", name, [errors.required("target.name")])

    def update(old):
        if old is None:
            raise errors.not_found(pods.qualified, name)
        if old["metadata"].get("deletionTimestamp"):
            raise errors.conflict(pods.qualified, name, f"pod {name} is being deleted, cannot be assigned to a host")
        current = (old.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict(pods.qualified, name, f"pod {name} is already assigned to node \"{current}\"")
        old["spec"]["nodeName"] = node
        annotations = (binding.get("metadata") or {}).get("annotations")
        if annotations:
            old["metadata"].setdefault("annotations", {}).update(annotations)
        conditions = old.setdefault("status", {}).setdefault("conditions", [])
        conditions.append({"type": "PodScheduled", "status": "True",
                           "lastProbeTime": None,
                           "lastTransitionTime": meta.rfc3339(pods.now())})
        return old
    result, _ = await pods.update(namespace, name, update, subresource="binding", allow_create=False)
    return result

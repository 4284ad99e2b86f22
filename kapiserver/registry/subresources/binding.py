"""pods/binding and core/v1 bindings (upstream's BindingREST): a pod is set to its node once."""

from __future__ import annotations

from ...machinery import errors, gojson, meta
from ..options import WriteOptions


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


def _validate_pod_binding(binding: dict) -> None:
    """ValidatePodBinding: a target of kind Node (or none) with a name. Upstream's BindingREST returns the
    errors as an aggregate, not an Invalid status: a 500 without a reason."""
    target = binding.get("target") or {}
    problems = []
    if target.get("kind") and target["kind"] != "Node":
        problems.append(errors.not_supported("target.kind", target["kind"], ["Node", "<empty>"]))
    if not target.get("name"):
        problems.append(errors.required("target.name"))
    if problems:
        raise errors.StatusError(500, "", errors.aggregate(problems))


def _check_preconditions(pods, namespace: str, name: str, pod: dict, uid: str, version: str) -> None:
    """The storage preconditions the Binding's own uid and resourceVersion make (upstream keeps them on a
    binding, PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate): a pod failing one is a storage
    invalid-object error, which the binding answers as a 409 on pods."""
    for field, given, actual in (("UID", uid, pod["metadata"].get("uid")),
                                 ("ResourceVersion", version, pod["metadata"].get("resourceVersion"))):
        if given and given != actual:
            raise pods.precondition_conflict(namespace, name, field, given, actual)


def _unassignable(name: str, why: str) -> errors.StatusError:
    """assignPod's answer to any other refusal of setPodHostAndAnnotations: a 409 on pods/binding."""
    return errors.conflict(errors.GroupResource("", "pods/binding"), name, why)


async def bind_pod(pods, namespace: str, name: str, binding: dict, dry_run: bool = False) -> dict:
    """BindingREST.Create: set a pod's node from a Binding, once (the bound pod). ``name`` is the pod's name
    in the URL (the Binding's own for the bindings resource)."""
    if not isinstance(binding, dict):
        raise errors.bad_request("the body of the request was not a Binding")
    metadata = binding.get("metadata") or {}
    if (metadata.get("name") or "") != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    _validate_pod_binding(binding)
    if not name:
        raise errors.bad_request("Name parameter required.")
    node = binding["target"]["name"]

    def update(old):
        """setPodHostAndAnnotations."""
        if old is None:
            raise errors.not_found(pods.qualified, name)
        _check_preconditions(pods, namespace, name, old, metadata.get("uid"), metadata.get("resourceVersion"))
        if old["metadata"].get("deletionTimestamp"):
            raise _unassignable(name, f"pod {name} is being deleted, cannot be assigned to a host")
        current = (old.get("spec") or {}).get("nodeName")
        if current:
            raise _unassignable(name, f"pod {name} is already assigned to node {gojson.go_quote(current)}")
        if (old.get("spec") or {}).get("schedulingGates"):
            raise _unassignable(name, f"pod {name} has non-empty .spec.schedulingGates")
        old["spec"]["nodeName"] = node
        annotations = metadata.get("annotations")
        if annotations:
            old["metadata"].setdefault("annotations", {}).update(annotations)
        update_pod_condition(old.setdefault("status", {}), {"type": "PodScheduled", "status": "True",
                                                            "lastProbeTime": None}, meta.rfc3339(pods.now()))
        return old
    result, _ = await pods.update(namespace, name, update, WriteOptions(dry_run=dry_run), subresource="binding",
                                  allow_create=False)
    return result

"""pods/eviction (upstream's EvictionREST): an Eviction deletes its pod, with the grace period it names, when
the pod's PodDisruptionBudget allows it: the budget's status (written by the disruption controller) must have
caught up with its spec and allow a disruption, which the eviction then takes (disruptionsAllowed - 1, the pod
recorded in disruptedPods). A refusal is a 429 whose cause says which budget and why."""

from __future__ import annotations

from typing import Optional

from ...machinery import errors, meta
from ...machinery.selectors import label_selector_from_dict
from ..options import DeleteOptions, ListOptions
from .binding import update_pod_condition

DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget."
MAX_DISRUPTED_PODS = 2000


# The seconds a client is asked to wait when a budget's status has not caught up with its spec.
PROCESSING_RETRY_SECONDS = 10


def _refused(why: str, retry_after: int = 0) -> errors.StatusError:
    """NewTooManyRequests with the budget's cause; a retry-after (upstream's createTooManyRequestsError gives
    10 s) is written in the details and, by the error writer, as Retry-After."""
    details: dict = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": why}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return errors.StatusError(429, "TooManyRequests", REFUSAL, details)


def _still_processing(name: str) -> errors.StatusError:
    """createTooManyRequestsError: the budget's status is older than its spec (or the pod changed under an
    eviction that skipped the budget)."""
    return _refused(f"The disruption budget {name} is still being processed by the server.",
                    PROCESSING_RETRY_SECONDS)


def _forbidden(budgets, name: str, why: str) -> errors.StatusError:
    # Upstream names the singular resource here: poddisruptionbudget.policy "name" is forbidden: ...
    return errors.forbidden_request(budgets.qualified, name,
                                    f'poddisruptionbudget.policy "{name}" is forbidden: {why}')


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _ignores_budgets(pod: dict) -> bool:
    """canIgnorePDB: pods that are not running (or already going) are evicted without asking a budget."""
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _budgets_of(pod: dict, budgets: list) -> list:
    labels = pod["metadata"].get("labels") or {}
    matching = []
    for pdb in budgets:
        try:
            selector = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
        except errors.StatusError:
            continue
        # A budget with an empty selector protects nothing here (unlike the controller's count).
        if not selector.empty and selector.matches(labels):
            matching.append(pdb)
    return matching


def _set_allowed_condition(status: dict, now: float) -> None:
    allowed = status.get("disruptionsAllowed", 0) > 0
    wanted = {"type": "DisruptionAllowed", "status": "True" if allowed else "False",
              "reason": "SufficientPods" if allowed else "InsufficientPods", "message": "",
              "observedGeneration": status.get("observedGeneration", 0)}
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    wanted["lastTransitionTime"] = old["lastTransitionTime"] if old and old.get("status") == wanted["status"] \
        and old.get("lastTransitionTime") else meta.rfc3339(now)
    status["conditions"] = conditions + [wanted]


async def _take_disruption(budgets, pdb: dict, pod_name: str, dry_run: bool) -> None:
    """checkAndDecrement, under the store's optimistic concurrency (a conflict re-reads the budget)."""
    name = pdb["metadata"]["name"]

    def decrement(current: Optional[dict]) -> dict:
        if current is None:
            raise errors.not_found(budgets.qualified, name)
        status = current.setdefault("status", {})
        if status.get("observedGeneration", 0) < current["metadata"].get("generation", 0):
            raise _still_processing(name)
        allowed = status.get("disruptionsAllowed", 0)
        if allowed < 0:
            raise _forbidden(budgets, name, "pdb disruptions allowed is negative")
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise _forbidden(budgets, name, "DisruptedPods map too big - too many evictions not confirmed by "
                                            "PDB controller")
        if allowed == 0:
            raise _refused(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods "
                           f"and has {status.get('currentHealthy', 0)} currently")
        status["disruptionsAllowed"] = allowed - 1
        if status["disruptionsAllowed"] == 0:
            _set_allowed_condition(status, budgets.now())
        status.setdefault("disruptedPods", {})[pod_name] = meta.rfc3339(budgets.now())
        return current
    if dry_run:
        decrement(await budgets.get(pdb["metadata"]["namespace"], name))
        return
    await budgets.update(pdb["metadata"]["namespace"], name, decrement, subresource="status")


async def _mark_disruption_target(pods, namespace: str, name: str, options: DeleteOptions) -> None:
    """addConditionAndDeletePod's update: the DisruptionTarget condition set (as podutil.UpdatePodCondition sets
    it) on the latest pod, which must still meet the delete's preconditions (409s naming the kind, Pod, as
    upstream's own check words them). A resourceVersion precondition then names the version this update wrote,
    so that the delete that follows is not refused for it."""
    def update(old):
        if old is None:
            raise errors.not_found(pods.qualified, name)
        uid, version = old["metadata"].get("uid"), old["metadata"].get("resourceVersion")
        if options.precondition_uid and options.precondition_uid != uid:
            raise pods.strategy.precondition_failed(name, "UID", options.precondition_uid, uid)
        if options.precondition_resource_version and options.precondition_resource_version != version:
            raise pods.strategy.precondition_failed(name, "ResourceVersion", options.precondition_resource_version,
                                                    version)
        update_pod_condition(old.setdefault("status", {}), {
            "type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
            "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}, meta.rfc3339(pods.now()))
        return old
    marked, _ = await pods.update(namespace, name, update, subresource="status", allow_create=False)
    if options.precondition_resource_version is not None:
        options.precondition_resource_version = marked["metadata"]["resourceVersion"]


def _dry_run_of(delete_options: dict, requested: list[str]) -> list[str]:
    """propagateDryRun: the request's dryRun (CreateOptions) stands for the eviction's delete options unless they
    name their own; naming different ones is an error (a plain error upstream, so a 500 without a reason)."""
    given = delete_options.get("dryRun") or []
    if not given:
        return list(requested)
    if requested and list(requested) != list(given):
        raise errors.StatusError(500, "", f"Non-matching dry-run options in request and content: "
                                          f"[{' '.join(requested)}] and [{' '.join(given)}]")
    return list(given)


# What an eviction of a pod more than one budget covers answers: a Status of its own, in the create's 201
# (upstream's EvictionREST returns it as the created object; a client reads its Failure as a 500 error).
MORE_THAN_ONE_BUDGET = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                                   "does not support.", "code": 500}


async def evict(pods, namespace: str, name: str, eviction, budgets=None, dry_run: tuple = ()) -> Optional[dict]:
    """Delete pod ``name`` as ``eviction`` (the request's Eviction) asks, if its budget (in the store
    ``budgets``, policy/v1 poddisruptionbudgets) allows. ``dry_run``: the request's own dryRun. None once done;
    the Status to answer instead where upstream answers one without deleting (MORE_THAN_ONE_BUDGET)."""
    if not isinstance(eviction, dict):
        raise errors.bad_request("the body of the request was not an Eviction")
    if (eviction.get("metadata") or {}).get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = DeleteOptions()
    delete_options = eviction.get("deleteOptions") or {}
    preconditions = delete_options.get("preconditions") if isinstance(delete_options, dict) else None
    if not isinstance(delete_options, dict) or not isinstance(preconditions or {}, dict):
        raise errors.bad_request("the body of the request was not an Eviction")
    grace = delete_options.get("gracePeriodSeconds")
    if grace is not None:
        if not isinstance(grace, int) or isinstance(grace, bool):
            raise errors.bad_request("the body of the request was not an Eviction")
        options.grace_period_seconds = grace
    preconditions = preconditions or {}
    options.precondition_uid = preconditions.get("uid")
    options.precondition_resource_version = preconditions.get("resourceVersion")
    options.dry_run = bool(_dry_run_of(delete_options, list(dry_run)))
    unhealthy_budget, given_version = None, options.precondition_resource_version
    if budgets is not None:
        pod = await pods.get(namespace, name)
        if not _ignores_budgets(pod):
            items, _ = await budgets.list(namespace, ListOptions())
            matching = _budgets_of(pod, items)
            if len(matching) > 1:
                return dict(MORE_THAN_ONE_BUDGET)
            if matching:
                pdb = matching[0]
                spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
                unhealthy_ok = not _ready(pod) and (
                    spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or
                    (status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0) > 0))
                if unhealthy_ok:
                    # Without spending the budget, but only the pod as it was judged: upstream deletes it at
                    # the resourceVersion read (whatever version the request named).
                    unhealthy_budget = pdb["metadata"]["name"]
                    options.precondition_resource_version = pod["metadata"]["resourceVersion"]
                else:
                    await _take_disruption(budgets, pdb, name, options.dry_run)
    try:
        await _mark_and_delete(pods, namespace, name, options)
    except errors.StatusError as error:
        # The unhealthy pod changed meanwhile (it may be ready now): the client is asked to try again.
        if error.code == 409 and unhealthy_budget is not None and given_version is None:
            raise _still_processing(unhealthy_budget) from None
        raise
    return None


async def _mark_and_delete(pods, namespace: str, name: str, options: DeleteOptions) -> None:
    """addConditionAndDeletePod: every eviction that is not a dry run (with or without a budget) marks the pod
    first."""
    if not options.dry_run:
        await _mark_disruption_target(pods, namespace, name, options)
    await pods.delete(namespace, name, options)

"""disruption-controller: the status of every PodDisruptionBudget (upstream's pkg/controller/disruption), which
the API's eviction subresource reads to allow or refuse an eviction.

currentHealthy counts the selected pods that are Ready, not being deleted, and not recently evicted (the
eviction subresource lists those in disruptedPods; an entry the pod's deletion never followed is dropped after
two minutes; a DisruptionTarget condition left on a pod that was not deleted is reset after two minutes).
desiredHealthy is minAvailable as an int; a percentage of minAvailable, or maxUnavailable, is
taken against the scale of the pods' controllers (ReplicationController, Deployment, ReplicaSet, StatefulSet,
else any owner with a scale subresource), expectedPods being their sum. disruptionsAllowed is
currentHealthy - desiredHealthy (0 when negative or nothing is expected), and the DisruptionAllowed condition
says SufficientPods, InsufficientPods, or SyncFailed when the count could not be made."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from twisted.logger import Logger

from ..client.cache import split_key
from ..client.resources import (DEPLOYMENTS, POD_DISRUPTION_BUDGETS, PODS, REPLICA_SETS, REPLICATION_CONTROLLERS,
                                STATEFUL_SETS)
from ..client.rest import APIError
from ..machinery import meta
from ..machinery.errors import StatusError
from ..machinery.selectors import label_selector_from_dict
from . import history
from .controllerutils import scaled_value
from .context import ControllerContext, QueueController

log = Logger()
DELETION_TIMEOUT = 120.0
DISRUPTION_ALLOWED = "DisruptionAllowed"
DISRUPTION_TARGET = "DisruptionTarget"
UNMANAGED_MESSAGE = ("Pods selected by this PodDisruptionBudget (selector: %s) were found to be unmanaged. As a "
                     "result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                     "behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to "
                     "an integer value.")


class SyncError(Exception):
    """A failure that fails the budget safe (disruptionsAllowed 0, condition SyncFailed)."""


def go_selector(selector: Optional[dict]) -> str:
    """How Go's %v prints a *metav1.LabelSelector, for the UnmanagedPods event."""
    if selector is None:
        return "nil"
    labels = ",".join(f"{k}: {v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    labels = f"map[string]string{{{labels},}}" if labels else "map[string]string{}"
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}}," for e in selector.get("matchExpressions") or [])
    return f"&LabelSelector{{MatchLabels:{labels},MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"


def allowed_condition(status: dict, old_conditions: List[dict], now: float,
                      failure: Optional[str] = None) -> List[dict]:
    """UpdateDisruptionAllowedCondition (or failSafe's SyncFailed): the DisruptionAllowed condition, its
    lastTransitionTime kept while its status stays."""
    if failure is not None:
        wanted = {"type": DISRUPTION_ALLOWED, "status": "False", "reason": "SyncFailed", "message": failure}
    elif status["disruptionsAllowed"] > 0:
        wanted = {"type": DISRUPTION_ALLOWED, "status": "True", "reason": "SufficientPods", "message": ""}
    else:
        wanted = {"type": DISRUPTION_ALLOWED, "status": "False", "reason": "InsufficientPods", "message": ""}
    wanted["observedGeneration"] = status.get("observedGeneration", 0)
    old = next((c for c in old_conditions if c.get("type") == DISRUPTION_ALLOWED), None)
    keep = old is not None and old.get("status") == wanted["status"] and old.get("lastTransitionTime")
    wanted["lastTransitionTime"] = old["lastTransitionTime"] if keep else meta.rfc3339(now)
    return [c for c in old_conditions if c.get("type") != DISRUPTION_ALLOWED] + [wanted]


def budget_numbers(spec: dict, pods: List[dict], scale) -> Tuple[int, int, List[str]]:
    """(expectedPods, desiredHealthy, unmanaged pod names) of a budget; ``scale(pods)`` gives the summed scale
    of the pods' controllers and the unmanaged pods."""
    unmanaged: List[str] = []
    if spec.get("maxUnavailable") is not None:
        expected, unmanaged = scale(pods)
        desired = max(expected - _scaled(spec["maxUnavailable"], expected), 0)
    elif spec.get("minAvailable") is not None:
        if isinstance(spec["minAvailable"], int):
            expected, desired = len(pods), spec["minAvailable"]
        else:
            expected, unmanaged = scale(pods)
            desired = _scaled(spec["minAvailable"], expected)
    else:
        expected, desired = 0, 0
    return expected, desired, unmanaged


def _scaled(value, total: int) -> int:
    try:
        return scaled_value(value, total, True)
    except ValueError as e:
        raise SyncError(str(e)) from None


def healthy_count(pods: List[dict], disrupted: Dict[str, str], now: float) -> int:
    count = 0
    for pod in pods:
        if history.is_terminating(pod):
            continue
        since = disrupted.get(pod["metadata"]["name"])
        if since is not None and meta.parse_time(since) + DELETION_TIMEOUT > now:
            continue
        if history.is_ready(pod):
            count += 1
    return count


class DisruptionController(QueueController):
    name = "disruption-controller"

    # A DisruptionTarget condition on a pod still not being deleted this long after is reset to False.
    stale_pod_disruption_timeout = 120.0

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.budgets = self.informer(POD_DISRUPTION_BUDGETS)
        self.pods = self.informer(PODS)
        self.rcs = self.informer(REPLICATION_CONTROLLERS)
        self.rss = self.informer(REPLICA_SETS)
        self.deployments = self.informer(DEPLOYMENTS)
        self.statefulsets = self.informer(STATEFUL_SETS)
        self.recorder = ctx.recorder("controllermanager")
        self.budgets.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                       on_delete=self.enqueue)
        self.pods.add_event_handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new),
                                    on_delete=self._pod_changed)
        # A controller's scale counts in the budgets of its pods.
        for informer in (self.rcs, self.rss, self.deployments, self.statefulsets):
            informer.add_event_handler(on_update=lambda old, new: self._workload_changed(new))

    def _budgets_for(self, pod: dict) -> List[dict]:
        labels = pod["metadata"].get("labels") or {}
        found = []
        for pdb in self.budgets.indexer.by_index("namespace", pod["metadata"]["namespace"]):
            try:
                selector = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
            except StatusError:         # a selector that does not parse selects nothing
                continue
            # policy/v1's GetPodPodDisruptionBudgets: an empty selector ({}) selects every pod of the namespace.
            if selector.matches(labels):
                found.append(pdb)
        return found

    def _pod_changed(self, pod: dict) -> None:
        wait = self._stale_disruption_wait(pod)
        if wait is not None:
            self.queue.add_after(("stale", pod["metadata"]["namespace"], pod["metadata"]["name"]), wait)
        budgets = self._budgets_for(pod)
        if len(budgets) > 1:
            msg = (f'Pod "{pod["metadata"]["namespace"]}"/"{pod["metadata"]["name"]}" matches multiple '
                   f'PodDisruptionBudgets.  Chose "{budgets[0]["metadata"]["name"]}" arbitrarily.')
            self.recorder.event(pod, "Warning", "MultiplePodDisruptionBudgets", msg)
        if budgets:
            self.enqueue(budgets[0])

    def _workload_changed(self, workload: dict) -> None:
        for pdb in self.budgets.indexer.by_index("namespace", workload["metadata"]["namespace"]):
            self.enqueue(pdb)

    # -- sync

    def _stale_disruption_wait(self, pod: dict) -> Optional[float]:
        """nonTerminatingPodHasStaleDisruptionCondition: how long until a DisruptionTarget condition on a pod
        that was not deleted after all is stale (None when there is none to clear)."""
        if history.is_terminating(pod) or history.phase(pod) in ("Succeeded", "Failed"):
            return None
        condition = next((c for c in (pod.get("status") or {}).get("conditions") or []
                          if c.get("type") == DISRUPTION_TARGET), None)
        if condition is None or condition.get("status") != "True" or \
                condition.get("reason") == "TerminationByKubelet":
            return None
        since = meta.parse_time(condition["lastTransitionTime"]) if condition.get("lastTransitionTime") else 0.0
        return max(since + self.stale_pod_disruption_timeout - self.clock.seconds(), 0.0)

    async def _clear_stale_disruption(self, namespace: str, name: str) -> None:
        pod = self.pods.indexer.get_by_key(namespace, name)
        if pod is None:
            return
        wait = self._stale_disruption_wait(pod)
        if wait is None:
            return
        if wait > 0:
            self.queue.add_after(("stale", namespace, name), wait)
            return
        pod = copy.deepcopy(pod)
        stamp = meta.rfc3339(self.clock.seconds())
        pod["status"]["conditions"] = [
            {"type": DISRUPTION_TARGET, "status": "False", "lastProbeTime": None, "lastTransitionTime": stamp}
            if c.get("type") == DISRUPTION_TARGET else c for c in pod["status"]["conditions"]]
        await self.client.update(PODS, pod, subresource="status")

    async def sync(self, key) -> None:
        if isinstance(key, tuple):
            await self._clear_stale_disruption(key[1], key[2])
            return
        namespace, name = split_key(key)
        pdb = self.budgets.indexer.get_by_key(namespace, name)
        if pdb is None:
            return
        pdb = copy.deepcopy(pdb)
        # A failure other than a conflict ends in failSafe, whose own outcome is the sync's, as upstream's sync:
        # once disruptionsAllowed 0 and SyncFailed are written the budget waits for its next event, unretried.
        try:
            await self._try_sync(pdb)
        except APIError as e:
            if e.code == 409:
                raise
            log.warn("failed to sync PDB {key}: {error}", key=key, error=e.message)
            await self._fail_safe(pdb, e.message)
        except SyncError as e:
            log.warn("failed to sync PDB {key}: {error}", key=key, error=str(e))
            await self._fail_safe(pdb, str(e))

    def _pods_of(self, pdb: dict) -> List[dict]:
        try:
            selector = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
        except StatusError as e:
            # Upstream's getPodsForPdb error: the sync's failure, ending in the fail-safe write.
            raise SyncError(e.message) from None
        return [p for p in self.pods.indexer.by_index("namespace", pdb["metadata"]["namespace"])
                if selector.matches(p["metadata"].get("labels"))]

    async def _try_sync(self, pdb: dict) -> None:
        pods = self._pods_of(pdb)
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        needs_scale = spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)
        try:
            scales = await self._expected_scales(pdb["metadata"]["namespace"], pods) if needs_scale else (0, [])
            expected, desired, unmanaged = budget_numbers(spec, pods, lambda _: scales)
        except SyncError as e:
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {e}")
            raise
        if unmanaged:
            self.recorder.event(pdb, "Warning", "UnmanagedPods",
                                UNMANAGED_MESSAGE % go_selector((pdb.get("spec") or {}).get("selector")))
        now = self.clock.seconds()
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = healthy_count(pods, disrupted, now)
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(f"{pdb['metadata']['namespace']}/{pdb['metadata']['name']}",
                                 max(recheck - now, 0))

    def _disrupted_pods(self, pdb: dict, pods: List[dict], now: float) -> Tuple[Dict[str, str], Optional[float]]:
        """buildDisruptedPodMap: entries for live pods whose deletion may still come; the earliest expiry."""
        listed = (pdb.get("status") or {}).get("disruptedPods") or {}
        kept: Dict[str, str] = {}
        recheck = None
        for pod in pods:
            if history.is_terminating(pod) or pod["metadata"]["name"] not in listed:
                continue
            stamp = listed[pod["metadata"]["name"]]
            expires = meta.parse_time(stamp) + DELETION_TIMEOUT
            if expires < now:
                self.recorder.event(pod, "Warning", "NotDeleted",
                                    f"Pod was expected by PDB {pdb['metadata']['namespace']}/"
                                    f"{pdb['metadata']['namespace']} to be deleted but it wasn't")
                continue
            kept[pod["metadata"]["name"]] = stamp
            recheck = expires if recheck is None else min(recheck, expires)
        return kept, recheck

    async def _expected_scales(self, namespace: str, pods: List[dict]) -> Tuple[int, List[str]]:
        """getExpectedScale: the summed scale of the pods' controllers (each counted once); pods without a
        controller are unmanaged; a controller none of the finders knows fails the sync."""
        scales: Dict[str, int] = {}
        unmanaged: List[str] = []
        for pod in pods:
            ref = history.controller_of(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in scales:
                continue
            found = self._find_controller(ref, namespace) or await self._scale_of(ref, namespace)
            if found is None:
                raise SyncError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    def _find_controller(self, ref: dict, namespace: str) -> Optional[Tuple[str, int]]:
        group = ref.get("apiVersion", "").rpartition("/")[0] if "/" in ref.get("apiVersion", "") else ""
        kind = ref.get("kind")

        def get(informer, name, uid):
            obj = informer.indexer.get_by_key(namespace, name)
            return obj if obj is not None and obj["metadata"]["uid"] == uid else None
        if kind == "ReplicationController" and group == "":
            rc = get(self.rcs, ref["name"], ref["uid"])
            return (rc["metadata"]["uid"], int(rc["spec"].get("replicas", 1))) if rc else None
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = get(self.rss, ref["name"], ref["uid"])
            if rs is None:
                return None
            owner = history.controller_of(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                deployment = get(self.deployments, owner["name"], owner["uid"])
                return (deployment["metadata"]["uid"], int(deployment["spec"].get("replicas", 1))) \
                    if deployment else None
            return rs["metadata"]["uid"], int(rs["spec"].get("replicas", 1))
        if kind == "StatefulSet" and group == "apps":
            ss = get(self.statefulsets, ref["name"], ref["uid"])
            return (ss["metadata"]["uid"], int(ss["spec"].get("replicas", 1))) if ss else None
        return None

    async def _scale_of(self, ref: dict, namespace: str) -> Optional[Tuple[str, int]]:
        """getScaleController: the last finder, for any owner the others did not find (a custom controller, but
        also a ReplicaSet whose Deployment is gone or a workload not yet in the informers' caches), by its scale
        subresource, found through discovery."""
        api_version = ref.get("apiVersion", "")
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            resources = (await self.client.request("GET", base)).get("resources") or []
        except APIError as e:
            raise SyncError(str(e.message)) from None
        plural = next((r["name"] for r in resources if r.get("kind") == ref.get("kind") and "/" not in r["name"]),
                      None)
        if plural is None:
            raise SyncError(f'no matches for kind "{ref.get("kind")}" in version "{api_version}"')
        if not any(r["name"] == f"{plural}/scale" for r in resources):
            group = api_version.rpartition("/")[0]
            raise SyncError(f"{plural}.{group} does not implement the scale subresource" if group else
                            f"{plural} does not implement the scale subresource")
        try:
            scale = await self.client.request("GET", f"{base}/namespaces/{namespace}/{plural}/{ref['name']}/scale")
        except APIError as e:
            if e.code == 404:
                return None
            raise
        if scale["metadata"].get("uid") != ref.get("uid"):
            return None
        return scale["metadata"]["uid"], int((scale.get("spec") or {}).get("replicas") or 0)

    async def _update_status(self, pdb: dict, healthy: int, desired: int, expected: int,
                             disrupted: Dict[str, str]) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        old = pdb.get("status") or {}
        status = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                  "disruptionsAllowed": allowed, "observedGeneration": pdb["metadata"].get("generation", 0)}
        if disrupted:
            status["disruptedPods"] = disrupted
        status["conditions"] = allowed_condition(status, old.get("conditions") or [], self.clock.seconds())
        if _same_status(old, status):
            return
        await self.client.update(POD_DISRUPTION_BUDGETS, {**pdb, "status": status}, subresource="status")

    async def _fail_safe(self, pdb: dict, message: str) -> None:
        status = dict(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        status.setdefault("observedGeneration", 0)
        status["conditions"] = allowed_condition(status, status.get("conditions") or [], self.clock.seconds(),
                                                 failure=message)
        await self.client.update(POD_DISRUPTION_BUDGETS, {**pdb, "status": status}, subresource="status")


def _same_status(old: dict, new: dict) -> bool:
    keys = ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed", "observedGeneration")
    return all(old.get(k, 0) == new.get(k, 0) for k in keys) and \
        (old.get("disruptedPods") or {}) == (new.get("disruptedPods") or {}) and \
        old.get("conditions") == new.get("conditions")


def start_disruption_controller(ctx: ControllerContext) -> DisruptionController:
    return DisruptionController(ctx)

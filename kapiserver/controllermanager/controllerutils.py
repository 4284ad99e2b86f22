"""What upstream's pkg/controller shares between the workload controllers: pods' readiness and availability,
which pods are active and in what order they go (controller.ActivePodsWithRanks), pods made from a template
(controller.PodControl, with its events), slow-start batches, and the controllerRef manager that adopts
matching orphans and releases what no longer matches (controller.BaseControllerRefManager)."""

from __future__ import annotations

import copy
import functools
import math
from typing import Awaitable, Callable, List, Optional, Sequence

from twisted.internet.defer import Deferred, DeferredList

from ..client.events import EventRecorder
from ..client.resources import PODS, Resource
from ..client.rest import APIError, Client, namespace_terminating
from ..machinery import meta
from ..machinery.selectors import LabelSelector, label_selector_from_dict

SLOW_START_INITIAL_BATCH_SIZE = 1
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
# Events of controller.RealPodControl.
FAILED_CREATE_POD_REASON = "FailedCreate"
SUCCESSFUL_CREATE_POD_REASON = "SuccessfulCreate"
FAILED_DELETE_POD_REASON = "FailedDelete"
SUCCESSFUL_DELETE_POD_REASON = "SuccessfulDelete"


# -- status ------------------------------------------------------------------------------------------------
def _without_zeros(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _without_zeros(item)
            if item is not None and item is not False and item != 0 and item != "" and item != [] and item != {}:
                out[key] = item
        return out
    if isinstance(value, list):
        return [_without_zeros(item) for item in value]
    return value


def same_status(stored: Optional[dict], computed: Optional[dict]) -> bool:
    """Whether the status a controller computed is the one stored, as upstream's controllers compare their typed
    structs: a field at its zero value (0, "", false, empty, null), at any depth, is the same as one left out,
    which is how the API stores it (omitempty).  Compared as dicts, a computed 0 against a stored nothing would
    write the status again on every sync, and every write brings another sync."""
    return _without_zeros(stored or {}) == _without_zeros(computed or {})


# -- pods --------------------------------------------------------------------------------------------------
def _condition(obj: dict, kind: str) -> Optional[dict]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def is_pod_ready(pod: dict) -> bool:
    condition = _condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def pod_ready_time(pod: dict) -> Optional[float]:
    """When the pod last became Ready (None when it is not, or the time is unknown)."""
    condition = _condition(pod, "Ready")
    if condition is None or condition.get("status") != "True" or not condition.get("lastTransitionTime"):
        return None
    return meta.parse_time(condition["lastTransitionTime"])


def is_pod_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least min_ready_seconds (podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_time(pod)
    return since is not None and since + min_ready_seconds <= now


def is_pod_active(pod: dict) -> bool:
    """controller.IsPodActive: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def filter_active_pods(pods: Sequence[dict]) -> List[dict]:
    return [p for p in pods if is_pod_active(p)]


def controller_of(obj: dict) -> Optional[dict]:
    """The ownerReference with controller=true (metav1.GetControllerOf)."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def controller_ref(owner: dict, api_version: str, kind: str) -> dict:
    """metav1.NewControllerRef: controller and blockOwnerDeletion both true."""
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def label_selector(selector: Optional[dict]) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, {} everything; invalid content raises."""
    return label_selector_from_dict(selector)


# -- which pods go first: controller.ActivePodsWithRanks -----------------------------------------------
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _deletion_cost(pod: dict) -> int:
    """GetDeletionCostFromPodAnnotations: a base-10 int32 with no leading '+' or zero (but "0" itself); anything
    else counts as 0."""
    value = (pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST_ANNOTATION)
    if value is None or not (value == "0" or value[:1] == "-" or "1" <= value[:1] <= "9"):
        return 0
    digits = value[1:] if value[:1] == "-" else value
    if not digits or not all("0" <= ch <= "9" for ch in digits):
        return 0
    cost = int(value)
    return cost if -2**31 <= cost < 2**31 else 0


def _max_restarts(pod: dict) -> tuple:
    """The most restarts of a regular container, then of a sidecar (an init container restartPolicy Always)."""
    status = pod.get("status") or {}
    regular = max([c.get("restartCount", 0) for c in status.get("containerStatuses") or []], default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    sidecar = max([c.get("restartCount", 0) for c in status.get("initContainerStatuses") or []
                   if c.get("name") in sidecars], default=0)
    return regular, sidecar


def _log_rank_diff(t1: float, t2: float, now: float) -> int:
    # LogarithmicScaleDown (on since 1.22): ages within the same power of two (in nanoseconds) rank the same.
    def rank(t):
        age = (now - t) * 1e9
        return int(math.log2(age)) if age > 0 else -1
    return rank(t1) - rank(t2)


def _after_or_zero(t1: Optional[float], t2: Optional[float]) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _created(pod: dict) -> Optional[float]:
    stamp = pod["metadata"].get("creationTimestamp")
    return meta.parse_time(stamp) if stamp else None


def deletes_before(a: dict, rank_a: int, b: dict, rank_b: int, now: float) -> bool:
    """ActivePodsWithRanks.Less: whether pod ``a`` should be deleted before ``b``."""
    node_a, node_b = (a.get("spec") or {}).get("nodeName", ""), (b.get("spec") or {}).get("nodeName", "")
    if node_a != node_b and (not node_a or not node_b):  # 1. unassigned < assigned
        return not node_a
    phase_a = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase"), 0)
    phase_b = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase"), 0)
    if phase_a != phase_b:  # 2. Pending < Unknown < Running
        return phase_a < phase_b
    ready_a, ready_b = is_pod_ready(a), is_pod_ready(b)
    if ready_a != ready_b:  # 3. not ready < ready
        return not ready_a
    cost_a, cost_b = _deletion_cost(a), _deletion_cost(b)
    if cost_a != cost_b:  # 4. lower pod-deletion-cost < higher
        return cost_a < cost_b
    if rank_a != rank_b:  # 5. more related pods on the same node first
        return rank_a > rank_b
    if ready_a and ready_b:  # 6. ready for less time first
        t_a, t_b = pod_ready_time(a), pod_ready_time(b)
        if t_a != t_b:
            if t_a is None or t_b is None:
                return _after_or_zero(t_a, t_b)
            diff = _log_rank_diff(t_a, t_b, now)
            return a["metadata"].get("uid", "") < b["metadata"].get("uid", "") if diff == 0 else diff < 0
    restarts_a, restarts_b = _max_restarts(a), _max_restarts(b)
    if restarts_a != restarts_b:  # 7. more restarts first: of regular containers, then of sidecars
        return restarts_a > restarts_b
    c_a, c_b = _created(a), _created(b)
    if c_a != c_b:  # 8. no creation time < newer < older
        if c_a is None or c_b is None:
            return _after_or_zero(c_a, c_b)
        diff = _log_rank_diff(c_a, c_b, now)
        return a["metadata"].get("uid", "") < b["metadata"].get("uid", "") if diff == 0 else diff < 0
    return False


def rank_pods_for_deletion(pods: Sequence[dict], related: Sequence[dict], now: float) -> List[dict]:
    """Pods in deletion order, each ranked by how many active related pods share its node
    (getPodsRankedByRelatedPodsOnSameNode, sorted by ActivePodsWithRanks)."""
    on_node: dict = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName", "")
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(p, on_node.get((p.get("spec") or {}).get("nodeName", ""), 0)) for p in pods]

    def compare(x, y) -> int:
        if deletes_before(x[0], x[1], y[0], y[1], now):
            return -1
        return 1 if deletes_before(y[0], y[1], x[0], x[1], now) else 0
    return [p for p, _ in sorted(ranked, key=functools.cmp_to_key(compare))]


# -- slow start ----------------------------------------------------------------------------------------
async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]):
    """Call ``fn`` ``count`` times in batches of 1, 2, 4, ... running each batch at once; stop after the first
    batch with a failure. Returns (successes, the first error or None)."""
    remaining, successes = count, 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await DeferredList([Deferred.fromCoroutine(fn()) for _ in range(batch)], consumeErrors=True)
        failures = [r for ok, r in results if not ok]
        successes += batch - len(failures)
        if failures:
            return successes, failures[0].value
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# -- PodControl ----------------------------------------------------------------------------------------
# apimachinery's rand.SafeEncodeString alphabet: no vowels (no words), no 0, 1 or 3 (they look like letters).
SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
FNV32_OFFSET = 0x811C9DC5


def safe_encode_string(text: str) -> str:
    """rand.SafeEncodeString: each byte mapped onto SAFE_ALPHANUMS."""
    return "".join(SAFE_ALPHANUMS[b % len(SAFE_ALPHANUMS)] for b in text.encode())


def fnv32a(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1a, 32 bits, continuing from ``h`` (hash/fnv's New32a and Write)."""
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def scaled_value(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is (None as 0), ``"N%"`` of ``total`` rounded up or
    down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid value {text!r}")
    scaled = int(text[:-1]) * total
    return -(-scaled // 100) if round_up else scaled // 100


def pod_from_template(template: dict, owner: dict, ref: Optional[dict]) -> dict:
    """controller.GetPodFromTemplate: labels, annotations and finalizers of the template, generateName
    "<owner>-", the controllerRef, the template's spec."""
    template = copy.deepcopy(template or {})
    tmeta = template.get("metadata") or {}
    meta_ = {"generateName": f"{owner['metadata']['name']}-"}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            meta_[field] = tmeta[field]
    if ref is not None:
        meta_["ownerReferences"] = [ref]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta_, "spec": template.get("spec") or {}}


class PodControl:
    """controller.RealPodControl: creates and deletes pods for an owner, with the owner's events."""

    def __init__(self, client: Client, recorder: EventRecorder):
        self.client = client
        self.recorder = recorder

    async def create_pods(self, namespace: str, template: dict, owner: dict, ref: dict) -> dict:
        pod = pod_from_template(template, owner, ref)
        if not pod["metadata"].get("labels"):
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, namespace=namespace)
        except APIError as e:
            if not namespace_terminating(e):
                self.recorder.eventf(owner, "Warning", FAILED_CREATE_POD_REASON, "Error creating: %s", e.message)
            raise
        self.recorder.eventf(owner, "Normal", SUCCESSFUL_CREATE_POD_REASON, "Created pod: %s",
                             created["metadata"]["name"])
        return created

    async def delete_pod(self, namespace: str, name: str, owner: dict) -> None:
        try:
            await self.client.delete(PODS, name, namespace)
        except APIError as e:
            if e.code != 404:
                self.recorder.eventf(owner, "Warning", FAILED_DELETE_POD_REASON, "Error deleting: %s", e.message)
            raise
        self.recorder.eventf(owner, "Normal", SUCCESSFUL_DELETE_POD_REASON, "Deleted pod: %s", name)


# -- the controllerRef manager -------------------------------------------------------------------------
class ControllerRefManager:
    """Claims objects for a controller (ClaimPods / ClaimReplicaSets): keeps what it owns and still matches,
    adopts matching orphans (after an uncached check that the controller is not being deleted), releases
    what it owns but no longer matches. Adoption and release are strategic merge patches with the object's
    uid as precondition, as upstream's."""

    def __init__(self, client: Client, resource: Resource, owner: dict, selector: LabelSelector,
                 api_version: str, kind: str, can_adopt: Callable[[], Awaitable[None]]):
        self.client = client
        self.resource = resource
        self.owner = owner
        self.selector = selector
        self.api_version = api_version
        self.kind = kind
        self.can_adopt = can_adopt
        self._adoption_checked = False

    async def claim(self, objects: Sequence[dict]) -> List[dict]:
        claimed, errors = [], []
        owner_uid = self.owner["metadata"]["uid"]
        owner_deleting = bool(self.owner["metadata"].get("deletionTimestamp"))
        for obj in objects:
            ref = controller_of(obj)
            match = self.selector.matches(obj["metadata"].get("labels") or {})
            try:
                if ref is not None:
                    if ref.get("uid") != owner_uid:
                        continue
                    if match:
                        claimed.append(obj)
                    elif not owner_deleting:
                        await self._patch(obj, {"$patch": "delete", "uid": owner_uid})
                    continue
                if owner_deleting or not match or obj["metadata"].get("deletionTimestamp"):
                    continue
                if obj["metadata"].get("namespace") != self.owner["metadata"].get("namespace"):
                    continue
                if not self._adoption_checked:
                    await self.can_adopt()
                    self._adoption_checked = True
                adopted = await self._patch(obj, controller_ref(self.owner, self.api_version, self.kind))
                if adopted is not None:
                    claimed.append(adopted)
            except Exception as e:  # one failure does not stop the others; the sync is retried
                errors.append(e)
        if errors:
            raise errors[0]
        return claimed

    async def _patch(self, obj: dict, ref: dict) -> Optional[dict]:
        patch = {"metadata": {"ownerReferences": [ref], "uid": obj["metadata"]["uid"]}}
        try:
            return await self.client.patch(self.resource, obj["metadata"]["name"], patch,
                                           obj["metadata"]["namespace"], patch_type="strategic")
        except APIError as e:
            if e.code == 404:  # gone: nothing to adopt or release
                return None
            raise


def recheck_deletion_timestamp(get_fresh: Callable[[], Awaitable[dict]], uid: str, kind: str):
    """controller.RecheckDeletionTimestamp: before adopting, a quorum read of the controller; refuse when it
    is being deleted or was replaced."""
    async def can_adopt() -> None:
        fresh = await get_fresh()
        fmeta = fresh["metadata"]
        if fmeta.get("uid") != uid:
            raise RuntimeError(f"original {kind} {fmeta.get('namespace')}/{fmeta.get('name')} is gone: "
                               f"got uid {fmeta.get('uid')}, wanted {uid}")
        if fmeta.get("deletionTimestamp"):
            raise RuntimeError(f"{fmeta.get('namespace')}/{fmeta.get('name')} has just been deleted at "
                               f"{fmeta['deletionTimestamp']}")
    return can_adopt


def by_controller_uid(obj: dict) -> List[str]:
    """The "controllerUID" index: objects by the uid of their controller."""
    ref = controller_of(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


def condition_of(status: dict, kind: str) -> Optional[dict]:
    for condition in (status or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None

"""ControllerRevisions as upstream's pkg/controller/history keeps them for StatefulSets and DaemonSets: a
revision holds the template patch of one version of its owner, named ``<owner>-<hash>``, numbered in order of
use; and the pod helpers both controllers share (owner references, readiness, selectors)."""

from __future__ import annotations

import json
import struct
from typing import List, Optional

from ..client.resources import DAEMON_SETS, STATEFUL_SETS
from ..client.rest import APIError
from ..machinery import meta
from ..machinery.selectors import label_selector_from_dict
from .controllerutils import FNV32_OFFSET, fnv32a, safe_encode_string

# The label a DaemonSet's revisions and pods carry, and a StatefulSet's pods (apps/v1's
# DefaultDaemonSetUniqueLabelKey and StatefulSetRevisionLabel).
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
# The label pkg/controller/history puts on the revisions it makes (a StatefulSet's): the hash of their data.
REVISION_DATA_HASH_LABEL = "controller.kubernetes.io/hash"


def hash_revision_data(data: dict, collision_count: Optional[int]) -> str:
    """The hash of a DaemonSet's pod template (and its collisionCount, when set), as a name-safe string (FNV-1a,
    as controller.ComputeHash)."""
    h = fnv32a(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF), h)
    return safe_encode_string(str(h))


def go_json(data) -> bytes:
    """``data`` as Go's encoding/json writes a map: keys sorted, no spaces, <, > and & escaped."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text.encode()


def fnv32(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1 (multiply, then xor), 32 bits: hash/fnv's New32."""
    for b in data:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ b
    return h


def hash_controller_revision(data: dict, probe: Optional[int]) -> str:
    """history.HashControllerRevision: FNV-1 of the revision's raw data, then of the probe (the owner's
    collisionCount) written in decimal, as a name-safe string."""
    h = fnv32(go_json(data))
    if probe is not None:
        h = fnv32(str(probe).encode(), h)
    return safe_encode_string(str(h))


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:223]}-{hash_}"


def controller_ref(owner: dict) -> dict:
    return {"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict) -> Optional[dict]:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owned_by(obj: dict, owner: dict) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def selects(owner: dict, obj: dict) -> bool:
    """The owner's spec.selector matches the object's labels (an empty selector matches nothing here, as the
    workload controllers treat it)."""
    selector = (owner.get("spec") or {}).get("selector")
    parsed = label_selector_from_dict(selector)
    if parsed.empty:
        return False
    return parsed.matches(obj["metadata"].get("labels"))


def new_revision(owner: dict, data: dict, revision: int, template_labels: Optional[dict],
                 collision_count: Optional[int]) -> dict:
    """history.NewControllerRevision: a ControllerRevision of ``owner`` holding ``data`` (not yet created),
    named by and labelled with the hash of its data."""
    hash_ = hash_controller_revision(data, collision_count)
    labels = dict(template_labels or {})
    labels[REVISION_DATA_HASH_LABEL] = hash_
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": revision_name(owner["metadata"]["name"], hash_),
                         "namespace": owner["metadata"]["namespace"], "labels": labels,
                         "ownerReferences": [controller_ref(owner)]},
            "data": data, "revision": revision}


def equal_revision(a: dict, b: dict) -> bool:
    return a.get("data") == b.get("data")


def sort_revisions(revisions: List[dict]) -> List[dict]:
    return sorted(revisions, key=lambda r: (r.get("revision", 0), r["metadata"].get("creationTimestamp", ""),
                                            r["metadata"]["name"]))


def next_revision(revisions: List[dict]) -> int:
    return max((r.get("revision", 0) for r in revisions), default=0) + 1


def template_patch(owner: dict) -> dict:
    """What a revision stores: the pod template, to be applied with ``$patch: replace``."""
    template = dict((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_from_revision(revision: dict) -> dict:
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


# -- pods

def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def ready_since(pod: dict) -> Optional[float]:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            stamp = c.get("lastTransitionTime")
            return meta.parse_time(stamp) if stamp else None
    return None


def is_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds <= now


def is_running_and_ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"



async def claim(client, resource, owner: dict, candidates: List[dict], match) -> List[dict]:
    """ControllerRefManager.Claim*: the candidates ``owner`` controls, after adopting orphans that ``match``
    and releasing its own that no longer do (by strategic merge patches). Before the first adoption the owner
    is read afresh, as upstream's canAdopt: an owner gone, replaced or being deleted adopts nothing."""
    uid = owner["metadata"]["uid"]
    claimed: List[dict] = []
    can_adopt: Optional[bool] = None
    for obj in candidates:
        ref = controller_of(obj)
        if ref is not None and ref.get("uid") != uid:
            continue
        if ref is not None:
            if match(obj) or is_terminating(owner):
                claimed.append(obj)
                continue
            patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}],
                                  "uid": obj["metadata"]["uid"]}}
            try:
                await client.patch(resource, obj["metadata"]["name"], patch, obj["metadata"]["namespace"],
                                   patch_type="strategic")
            except APIError as e:  # gone, or changed under us: the next sync sees it
                if e.code not in (404, 409, 422):
                    raise
            continue
        if is_terminating(owner) or is_terminating(obj) or not match(obj):
            continue
        if can_adopt is None:
            fresh = await client.get(_owner_resource(owner), owner["metadata"]["name"],
                                     owner["metadata"]["namespace"])
            can_adopt = fresh["metadata"]["uid"] == uid and not is_terminating(fresh)
        if not can_adopt:
            continue
        patch = {"metadata": {"ownerReferences": [controller_ref(owner)], "uid": obj["metadata"]["uid"]}}
        try:
            adopted = await client.patch(resource, obj["metadata"]["name"], patch, obj["metadata"]["namespace"],
                                         patch_type="strategic")
        except APIError as e:
            if e.code in (404, 409, 422):
                continue
            raise
        claimed.append(adopted)
    return claimed


def _owner_resource(owner: dict):
    return {"StatefulSet": STATEFUL_SETS, "DaemonSet": DAEMON_SETS}[owner["kind"]]

"""VolumeBinding: a pod's PersistentVolumeClaims, as upstream 1.32's plugin and its volume binder.

PreFilter: the claims must exist and not be terminating; a claim counts as bound once the PV controller has
set bind-completed; an unbound claim of an Immediate class (or of no class), or one naming its volume, keeps the
pod pending until the PV controller binds it; bound volumes naming nodes by
kubernetes.io/hostname are the only nodes the Filter phase tries (upstream's PreFilterResult).
Filter: a bound claim's volume must allow the node; each unbound claim of a WaitForFirstConsumer class needs an
Available volume that fits it on that node (static binding), or else a class whose provisioner can provision
there (allowedTopologies); a claim already carrying volume.kubernetes.io/selected-node fits only that node.
Reserve assumes the choice (the volume's claimRef, the claim's selected-node) so the next pods' cycles see it;
PreBind writes it through the API (PUT of each volume, then of each claim to provision) and waits, polling once
a second on the injected clock up to the bind timeout, until the PV controller has bound every claim; Unreserve
drops the assumptions."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional

from twisted.internet import task

from ...client.resources import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES
from ...machinery.pvhelpers import find_matching_volume, requested
from ..framework import ERROR, SKIP, Status, unresolvable
from .helpers import node_selector_matches

ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
HOSTNAME = "kubernetes.io/hostname"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"
# VolumeBindingArgs.bindTimeoutSeconds' default, and the PreBind poll's period.
DEFAULT_BIND_TIMEOUT_SECONDS = 600
POLL_SECONDS = 1


def claim_names(pod: Mapping) -> list[tuple[str, bool]]:
    """(claim name, is an ephemeral volume's claim) for each of the pod's PVC volumes."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("persistentVolumeClaim"):
            names.append((volume["persistentVolumeClaim"].get("claimName", ""), False))
        elif volume.get("ephemeral"):
            names.append((f"{pod['metadata']['name']}-{volume.get('name', '')}", True))
    return names


def claim_storage_class(claim: Mapping) -> str:
    annotations = claim["metadata"].get("annotations") or {}
    return (claim.get("spec") or {}).get("storageClassName") or annotations.get(
        "volume.beta.kubernetes.io/storage-class", "")


def hostname_node_names(volume: Mapping) -> set[str]:
    """GetLocalPersistentVolumeNodeNames: the union over the volume's required node selector terms of the
    kubernetes.io/hostname values each term's In expressions allow (intersected within a term)."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    found: set[str] = set()
    for term in required.get("nodeSelectorTerms") or []:
        names: Optional[set[str]] = None
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == HOSTNAME and expression.get("operator") == "In":
                values = set(expression.get("values") or [])
                names = values if names is None else names & values
        found |= names or set()
    return found


def topology_matches(terms: Optional[list], labels: Mapping[str, str]) -> bool:
    """MatchTopologySelectorTerms: no terms allow every node; else some term whose every matchLabelExpression
    has the node's label among its values."""
    if not terms:
        return True
    return any(all(labels.get(e.get("key")) in (e.get("values") or []) and e.get("key") in labels
                   for e in term.get("matchLabelExpressions") or [])
               for term in terms)


def volume_affinity_allows(volume: Mapping, node: Mapping) -> bool:
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    return not required or node_selector_matches(required, node)


def fully_bound(claim: Mapping) -> bool:
    """A claim the PV controller has finished binding: volumeName and bind-completed both set."""
    return bool((claim.get("spec") or {}).get("volumeName")) and \
        BIND_COMPLETED in (claim["metadata"].get("annotations") or {})


def _rv(obj: Mapping) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


def _claim_key(claim: Mapping) -> str:
    return f"{claim['metadata'].get('namespace', '')}/{claim['metadata']['name']}"


def bind_volume_to_claim(volume: Mapping, claim: Mapping) -> tuple[dict, bool]:
    """GetBindVolumeToClaim: the volume with a claimRef naming the claim (uid and resourceVersion included) and
    bound-by-controller set; and whether that changed anything."""
    spec = volume.get("spec") or {}
    meta = claim["metadata"]
    ref = spec.get("claimRef") or {}
    changed = not (ref.get("name") == meta["name"] and ref.get("namespace") == meta.get("namespace")
                   and ref.get("uid") == meta.get("uid"))
    new = {**volume, "metadata": dict(volume["metadata"]), "spec": dict(spec)}
    if changed:
        new["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": meta.get("namespace"),
                                   "name": meta["name"], "uid": meta.get("uid"), "apiVersion": "v1",
                                   "resourceVersion": meta.get("resourceVersion")}
    annotations = dict(new["metadata"].get("annotations") or {})
    if BOUND_BY_CONTROLLER not in annotations:
        annotations[BOUND_BY_CONTROLLER] = "yes"
        new["metadata"]["annotations"] = annotations
        changed = True
    return new, changed


class PodVolumes:
    """What a node needs for a pod's unbound claims: (volume, claim) pairs to bind, claims to provision."""

    def __init__(self, node: Mapping, static_bindings: list, dynamic_provisions: list):
        self.node = node
        self.static_bindings = static_bindings
        self.dynamic_provisions = dynamic_provisions


class VolumeBindingState:
    def __init__(self, bound: list[str], to_bind: list[dict]):
        self.bound = bound              # volume names of the bound claims
        self.to_bind = to_bind          # unbound claims of WaitForFirstConsumer classes
        self.by_node: dict[str, PodVolumes] = {}
        self.reserved: Optional[PodVolumes] = None


class VolumeBinding:
    name = "VolumeBinding"
    events = {"PersistentVolumeClaim/Add", "PersistentVolumeClaim/Update", "PersistentVolume/Add",
              "PersistentVolume/Update", "StorageClass/Add", "StorageClass/Update", "Node/Add", "Node/UpdateNodeLabel"}

    def __init__(self, get_claim: Callable[[str, str], Optional[Mapping]] = lambda ns, name: None,
                 get_volume: Callable[[str], Optional[Mapping]] = lambda name: None,
                 get_storage_class: Callable[[str], Optional[Mapping]] = lambda name: None,
                 list_volumes: Callable[[], Iterable[Mapping]] = lambda: (),
                 get_pod: Optional[Callable[[str, str], Optional[Mapping]]] = None,
                 bind_timeout: float = DEFAULT_BIND_TIMEOUT_SECONDS):
        self.get_claim, self.get_volume, self.get_storage_class = get_claim, get_volume, get_storage_class
        self.list_volumes = list_volumes
        self.get_pod = get_pod    # None: the pod is not looked for while PreBind waits
        self.bind_timeout = bind_timeout
        # The assume caches: name (or namespace/name) -> (the informer's resourceVersion when assumed, object).
        # An assumption stands until the informer shows a newer object or Unreserve drops it.
        self.assumed_volumes: dict[str, tuple[int, dict]] = {}
        self.assumed_claims: dict[str, tuple[int, dict]] = {}

    # --- the assumed view -----------------------------------------------------------------------

    @staticmethod
    def _overlay(assumed: dict, key: str, current: Optional[Mapping]):
        entry = assumed.get(key)
        if entry is None:
            return current
        if current is None or _rv(current) > entry[0]:
            # The informer has caught up (or moved on): it wins; or the object is gone, and so is what was
            # assumed of it, as upstream's AssumeCache forgets an object on its delete.
            del assumed[key]
            return current
        return entry[1]

    def claim(self, namespace: str, name: str) -> Optional[Mapping]:
        return self._overlay(self.assumed_claims, f"{namespace}/{name}", self.get_claim(namespace, name))

    def volume(self, name: str) -> Optional[Mapping]:
        return self._overlay(self.assumed_volumes, name, self.get_volume(name))

    def volumes(self) -> list[Mapping]:
        listed = list(self.list_volumes())
        names = {v["metadata"]["name"] for v in listed}
        for gone in [name for name in self.assumed_volumes if name not in names]:
            del self.assumed_volumes[gone]
        return [self._overlay(self.assumed_volumes, v["metadata"]["name"], v) for v in listed]

    # --- PreFilter and Filter -------------------------------------------------------------------

    def pre_filter(self, state, pod: Mapping, snapshot):
        names = claim_names(pod)
        if not names:
            return Status(SKIP)
        namespace = pod["metadata"].get("namespace", "")
        bound, to_bind, unbound_immediate = [], [], False
        for name, ephemeral in names:
            claim = self.claim(namespace, name)
            if claim is None:
                if ephemeral:
                    return unresolvable(f'waiting for ephemeral volume controller to create the '
                                        f'persistentvolumeclaim "{name}"')
                return unresolvable(f'persistentvolumeclaim "{name}" not found')
            if (claim.get("status") or {}).get("phase") == "Lost":
                return unresolvable(f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                                    f'"{(claim.get("spec") or {}).get("volumeName", "")}"')
            if claim["metadata"].get("deletionTimestamp"):
                return unresolvable(f'persistentvolumeclaim "{name}" is being deleted')
            if ephemeral and not any(r.get("controller") and r.get("uid") == pod["metadata"].get("uid")
                                     for r in claim["metadata"].get("ownerReferences") or []):
                return unresolvable(f"PVC {namespace}/{name} was not created for pod {namespace}/"
                                    f"{pod['metadata']['name']} (pod is not owner)")
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if volume_name and fully_bound(claim):
                bound.append(volume_name)
                continue
            if volume_name:
                # Pre-bound, the PV controller not done yet: it binds such claims at once, whatever the class.
                unbound_immediate = True
                continue
            storage_class = self.get_storage_class(claim_storage_class(claim)) or {}
            if storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
                unbound_immediate = True
            else:
                to_bind.append(claim)
        if unbound_immediate:
            return unresolvable(ERR_UNBOUND_IMMEDIATE)
        state[self.name] = VolumeBindingState(bound, to_bind)
        eligible = self.eligible_nodes(bound)
        if eligible is not None:
            state.setdefault("__node_names__", {})[self.name] = eligible
        return None

    def eligible_nodes(self, volume_names) -> Optional[set[str]]:
        """GetEligibleNodes: the nodes the bound volumes' nodeAffinity names by kubernetes.io/hostname In
        (the intersection over the volumes naming some), or None (every node) when none names any or a
        volume is missing."""
        eligible: Optional[set[str]] = None
        for volume_name in volume_names:
            volume = self.volume(volume_name)
            if volume is None:
                return None
            names = hostname_node_names(volume)
            if names:
                eligible = names if eligible is None else eligible & names
        return eligible

    def filter(self, state, pod: Mapping, node_info):
        data: Optional[VolumeBindingState] = state.get(self.name)
        if data is None:
            return None
        node = node_info.node
        reasons = []
        for volume_name in data.bound:
            volume = self.volume(volume_name)
            if volume is None:
                reasons.append(ERR_REASON_PV_NOT_EXIST)
                break
            if not volume_affinity_allows(volume, node):
                reasons.append(ERR_REASON_NODE_CONFLICT)
                break
        if data.to_bind:
            try:
                found = self.find_pod_volumes(data.to_bind, node_info.name, node)
            except LookupError as e:
                return Status(ERROR, str(e))
            if found is None:
                reasons.append(ERR_REASON_BIND_CONFLICT)
            else:
                data.by_node[node_info.name] = found
        # Upstream lists the node conflict before the bind conflict, the missing volume last.
        order = [ERR_REASON_NODE_CONFLICT, ERR_REASON_BIND_CONFLICT, ERR_REASON_PV_NOT_EXIST]
        return unresolvable(*sorted(reasons, key=order.index)) if reasons else None

    def find_pod_volumes(self, claims: list[dict], node_name: str, node: Mapping) -> Optional[PodVolumes]:
        """FindPodVolumes for the unbound claims: the static bindings and claims to provision on this node, or
        None when some claim can have neither here.  LookupError for a class that is not there."""
        to_match, to_provision = [], []
        for claim in claims:
            selected = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
            if selected is not None:
                if selected != node_name:
                    return None
                to_provision.append(claim)
            else:
                to_match.append(claim)
        bindings, chosen = [], set()
        # The smallest requests first, so each gets the smallest volume that fits it.
        for claim in sorted(to_match, key=requested):
            candidates = [v for v in self.volumes() if v["metadata"]["name"] not in chosen]
            volume = find_matching_volume(claim, candidates, True, node)
            if volume is None:
                to_provision.append(claim)
                continue
            chosen.add(volume["metadata"]["name"])
            bindings.append((volume, claim))
        labels = node["metadata"].get("labels") or {}
        for claim in to_provision:
            class_name = claim_storage_class(claim)
            storage_class = self.get_storage_class(class_name) if class_name else None
            if storage_class is None:
                raise LookupError(f'failed to find storage class "{class_name}"')
            if storage_class.get("provisioner", "") in ("", NOT_SUPPORTED_PROVISIONER):
                return None
            if not topology_matches(storage_class.get("allowedTopologies"), labels):
                return None
        return PodVolumes(node, bindings, to_provision)

    # --- Reserve, Unreserve ---------------------------------------------------------------------

    def reserve(self, state, pod: Mapping, node_name: str):
        """AssumePodVolumes: the node's bindings and provisionings are assumed, as the objects PreBind will
        write."""
        data: Optional[VolumeBindingState] = state.get(self.name)
        if data is None or not data.to_bind:
            return None
        found = data.by_node.get(node_name)
        if found is None:
            return None
        bindings = []
        for volume, claim in found.static_bindings:
            new, changed = bind_volume_to_claim(volume, claim)
            if changed:
                current = self.get_volume(volume["metadata"]["name"])
                self.assumed_volumes[new["metadata"]["name"]] = (_rv(current or volume), new)
            bindings.append((new, claim))
        provisions = []
        for claim in found.dynamic_provisions:
            new = {**claim, "metadata": {**claim["metadata"], "annotations": {
                **(claim["metadata"].get("annotations") or {}), SELECTED_NODE: node_name}}}
            current = self.get_claim(claim["metadata"].get("namespace", ""), claim["metadata"]["name"])
            self.assumed_claims[_claim_key(new)] = (_rv(current or claim), new)
            provisions.append(new)
        data.reserved = PodVolumes(found.node, bindings, provisions)
        return None

    def unreserve(self, state, pod: Mapping, node_name: str) -> None:
        data: Optional[VolumeBindingState] = state.get(self.name)
        if data is None or data.reserved is None:
            return
        self._revert(data.reserved.static_bindings, data.reserved.dynamic_provisions)

    def _revert(self, bindings: Iterable, provisions: Iterable) -> None:
        for volume, _ in bindings:
            self.assumed_volumes.pop(volume["metadata"]["name"], None)
        for claim in provisions:
            self.assumed_claims.pop(_claim_key(claim), None)

    # --- PreBind --------------------------------------------------------------------------------

    async def pre_bind(self, state, pod: Mapping, node_name: str, client, clock):
        """BindPodVolumes: write the reserved volumes' claimRefs and the claims' selected-node, then poll until
        the PV controller has bound them all; an error Status for a refused write, a binding undone, or the
        bind timeout passing."""
        data: Optional[VolumeBindingState] = state.get(self.name)
        if data is None or data.reserved is None:
            return None
        reserved = data.reserved
        bindings, provisions = list(reserved.static_bindings), list(reserved.dynamic_provisions)
        done_bindings = done_provisions = 0
        try:
            for i, (volume, claim) in enumerate(bindings):
                bindings[i] = (await client.update(PERSISTENT_VOLUMES, volume), claim)
                done_bindings += 1
            for i, claim in enumerate(provisions):
                provisions[i] = await client.update(PERSISTENT_VOLUME_CLAIMS, claim)
                done_provisions += 1
        except Exception as e:
            # Only what was not written is reverted; what was written stays for the PV controller.
            self._revert(bindings[done_bindings:], provisions[done_provisions:])
            return Status(ERROR, getattr(e, "message", None) or str(e))
        deadline = clock.seconds() + self.bind_timeout
        while True:
            await task.deferLater(clock, POLL_SECONDS, lambda: None)
            meta = pod["metadata"]
            if self.get_pod is not None and self.get_pod(meta.get("namespace", ""), meta["name"]) is None:
                # A pod deleted meanwhile needs its volumes no more: the binding cycle ends.
                return Status(ERROR, f'binding volumes: pod does not exist any more: pod "{meta["name"]}" not found')
            done, error = self.check_bindings(reserved.node, node_name, bindings, provisions)
            if error is not None:
                return Status(ERROR, f"binding volumes: {error}")
            if done:
                return None
            if clock.seconds() >= deadline:
                return Status(ERROR, "binding volumes: context deadline exceeded")

    def check_bindings(self, node: Mapping, node_name: str, bindings: list,
                       provisions: list) -> tuple[bool, Optional[str]]:
        """checkBindings, on the informers' objects (not the assumed ones): (all bound, why to give up)."""
        for written, claim in bindings:
            name = written["metadata"]["name"]
            volume = self.get_volume(name)
            if volume is None:
                return False, f'failed to check binding: could not find v1.PersistentVolume "{name}"'
            key = _claim_key(claim)
            current = self.get_claim(claim["metadata"].get("namespace", ""), claim["metadata"]["name"])
            if current is None:
                return False, f'failed to check binding: could not find v1.PersistentVolumeClaim "{key}"'
            if _rv(written) > _rv(volume):
                return False, None    # our write has not reached the informer yet
            if not volume_affinity_allows(volume, node):
                return False, f'pv "{name}" node affinity doesn\'t match node "{node_name}": ' \
                              'no matching NodeSelectorTerms'
            ref = (volume.get("spec") or {}).get("claimRef") or {}
            if not ref.get("uid"):
                return False, f'ClaimRef got reset for pv "{name}"'
            if not fully_bound(current):
                return False, None
        for written in provisions:
            key = _claim_key(written)
            current = self.get_claim(written["metadata"].get("namespace", ""), written["metadata"]["name"])
            if current is None:
                return False, f'failed to check provisioning pvc: could not find v1.PersistentVolumeClaim "{key}"'
            if _rv(written) > _rv(current):
                return False, None
            claim_name = current["metadata"]["name"]
            if (current["metadata"].get("annotations") or {}).get(SELECTED_NODE) != node_name:
                # A provisioner that failed takes the annotation away: the pod is to be scheduled again.
                if not current["metadata"].get("annotations"):
                    return False, f'selectedNode annotation reset for PVC "{claim_name}"'
                return False, f'provisioning failed for PVC "{claim_name}"'
            volume_name = (current.get("spec") or {}).get("volumeName")
            if volume_name:
                volume = self.get_volume(volume_name)
                if volume is None:
                    return False, None
                if not volume_affinity_allows(volume, node):
                    return False, f'pv "{volume_name}" node affinity doesn\'t match node "{node_name}": ' \
                                  'no matching NodeSelectorTerms'
            if not fully_bound(current):
                return False, None
        return True, None



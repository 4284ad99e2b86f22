"""The garbage collector's dependency graph (upstream's GraphBuilder's uidToNode): a node per object seen,
linked to its owners and dependents by ownerReferences; a virtual node for an owner only named by a
reference. Sans-IO: changes come in as objects, and what needs another look goes out through the
``attempt_to_delete`` and ``attempt_to_orphan`` callbacks (uids)."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Set

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


# What a node without owners or dependents holds (shared, never changed: most objects have neither, and an
# empty list and set would cost a few hundred bytes a node).
NO_OWNERS: List[dict] = []
NO_DEPENDENTS: frozenset = frozenset()


def owner_refs(meta: dict) -> List[dict]:
    refs = meta.get("ownerReferences")
    if not refs:
        return NO_OWNERS
    return [ref for ref in refs if isinstance(ref, dict) and ref.get("uid")] or NO_OWNERS


class Node:
    """One object; ``observed`` is False for a virtual node (an owner known only by a reference)."""
    __slots__ = ("uid", "api_version", "kind", "namespace", "name", "owners", "dependents", "observed",
                 "deleting_dependents", "resource")

    def __init__(self, uid: str, api_version: str, kind: str, namespace: Optional[str], name: str,
                 observed: bool, resource=None):
        self.uid = uid
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace or None
        self.name = name
        self.owners: List[dict] = NO_OWNERS
        # NO_DEPENDENTS until the first is added (add_dependent); read it as a set.
        self.dependents: "Set[str] | frozenset" = NO_DEPENDENTS
        self.observed = observed
        self.deleting_dependents = False
        self.resource = resource

    def add_dependent(self, uid: str) -> None:
        if self.dependents is NO_DEPENDENTS:
            self.dependents = set()
        self.dependents.add(uid)

    def drop_dependent(self, uid: str) -> None:
        if self.dependents:
            self.dependents.discard(uid)

    def reference(self) -> dict:
        """The object as an event's involvedObject."""
        ref = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "uid": self.uid}
        if self.namespace:
            ref["namespace"] = self.namespace
        return ref

    def __repr__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"<{self.kind} {where} {self.uid}{'' if self.observed else ' virtual'}>"


class Graph:
    def __init__(self, attempt_to_delete: Callable[[str], None], attempt_to_orphan: Callable[[str], None]):
        self.nodes: Dict[str, Node] = {}
        self.attempt_to_delete = attempt_to_delete
        self.attempt_to_orphan = attempt_to_orphan

    def observe(self, resource, obj: dict) -> None:
        """An object was added or changed."""
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        refs = owner_refs(meta)
        node = self.nodes.get(uid)
        old_refs: List[dict] = []
        if node is None:
            node = self.nodes[uid] = Node(uid, resource.api_version, resource.kind, meta.get("namespace"),
                                          meta.get("name", ""), True, resource)
            if refs is NO_OWNERS and not meta.get("deletionTimestamp"):
                return      # most objects: new, without owners, not being deleted; nothing more to do
        else:
            old_refs = node.owners
            if not node.observed:
                # A virtual node now seen: its dependents are checked again (the reference may be wrong).
                for dependent in node.dependents:
                    self.attempt_to_delete(dependent)
            node.observed = True
            node.resource = resource
            node.api_version, node.kind = resource.api_version, resource.kind
            node.namespace, node.name = meta.get("namespace") or None, meta.get("name", "")
        old_by_uid = {r["uid"]: r for r in old_refs}
        new_by_uid = {r["uid"]: r for r in refs}
        node.owners = refs
        for owner_uid, ref in new_by_uid.items():
            if owner_uid not in old_by_uid:
                self._link(node, ref)
            elif old_by_uid[owner_uid].get("blockOwnerDeletion") and not ref.get("blockOwnerDeletion"):
                self._owner_may_proceed(owner_uid)
        for owner_uid in old_by_uid:
            if owner_uid not in new_by_uid:
                owner = self.nodes.get(owner_uid)
                if owner is not None:
                    owner.drop_dependent(uid)
                    self._drop_if_unneeded(owner)
                self._owner_may_proceed(owner_uid)
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if ORPHAN in finalizers:
                self.attempt_to_orphan(uid)
            if FOREGROUND in finalizers:
                if not node.deleting_dependents:
                    node.deleting_dependents = True
                    for dependent in node.dependents:
                        self.attempt_to_delete(dependent)
                self.attempt_to_delete(uid)
        else:
            node.deleting_dependents = False

    def _link(self, node: Node, ref: dict) -> None:
        owner = self.nodes.get(ref["uid"])
        if owner is None:
            owner = Node(ref["uid"], ref.get("apiVersion", ""), ref.get("kind", ""), node.namespace,
                         ref.get("name", ""), False)
            self.nodes[owner.uid] = owner
            self.attempt_to_delete(owner.uid)
        elif not owner.observed:
            # An owner known only by reference, maybe one already deleted whose other dependents are still
            # being dealt with (a controller's last create racing its owner's delete): looked at again.
            self.attempt_to_delete(owner.uid)
        elif owner.namespace and owner.namespace != node.namespace:
            # A namespaced owner elsewhere: the reference cannot be to it; the dependent is looked at.
            self.attempt_to_delete(node.uid)
        owner.add_dependent(node.uid)

    def _owner_may_proceed(self, owner_uid: str) -> None:
        owner = self.nodes.get(owner_uid)
        if owner is not None and owner.deleting_dependents:
            self.attempt_to_delete(owner_uid)

    def _drop_if_unneeded(self, node: Node) -> None:
        if not node.observed and not node.dependents:
            self.nodes.pop(node.uid, None)

    def remove(self, uid: str) -> None:
        """The object is gone: its dependents may now be garbage, its owners may proceed."""
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        for ref in node.owners:
            owner = self.nodes.get(ref["uid"])
            if owner is not None:
                owner.drop_dependent(uid)
                if owner.deleting_dependents:
                    self.attempt_to_delete(owner.uid)
                self._drop_if_unneeded(owner)
        for dependent in node.dependents:
            self.attempt_to_delete(dependent)
        if node.dependents and node.observed:
            # Dependents still point at it: it lives on as a virtual node until they are dealt with.
            virtual = Node(uid, node.api_version, node.kind, node.namespace, node.name, False)
            virtual.dependents = set(node.dependents)
            self.nodes[uid] = virtual

    def forget_resource(self, resource) -> None:
        """A resource no longer served: every object of it is looked at again."""
        for node in list(self.nodes.values()):
            if node.observed and node.resource == resource:
                self.remove(node.uid)

    def blocking_dependents(self, node: Node) -> List[Node]:
        """The dependents whose reference to ``node`` has blockOwnerDeletion."""
        found = []
        for dependent_uid in node.dependents:
            dependent = self.nodes.get(dependent_uid)
            if dependent is not None and any(r["uid"] == node.uid and r.get("blockOwnerDeletion")
                                             for r in dependent.owners):
                found.append(dependent)
        return found

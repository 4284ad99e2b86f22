"""
managedFields through the scale subresource, as upstream's ScaleHandler moves them: a Scale is handed the
entries of its resource that own the replicas (as owners of the Scale's ``.spec.replicas``, at autoscaling/v1),
a write of the Scale is recorded on the Scale (an Update, or an Apply with its conflicts), and what the Scale's
managers own of the replicas is given back to the resource.

Public API: :class:`ScaleFields` (one per write of a Scale).
"""

from __future__ import annotations

from typing import Optional, Sequence

from . import fieldmanager, fieldpath, schema
from .fieldmanager import Entry

SCALE_API_VERSION = "autoscaling/v1"
_REPLICAS_IN_SCALE = (fieldpath.field("spec"), fieldpath.field("replicas"))


def replicas_path(path: str) -> tuple:
    """``.spec.replicas`` (a scale subresource's specReplicasPath) as path elements."""
    return tuple(fieldpath.field(name) for name in path.lstrip(".").split(".") if name)


def _only(path: Sequence[str]) -> fieldpath.Set:
    out: fieldpath.Set = {}
    fieldpath.insert(out, path)
    return out


class ScaleFields:
    """The managedFields of one write through ``<resource>/scale``: ``parent`` the resource as it is,
    ``api_version`` the version it is stored at, ``path`` where its spec replicas are (path elements).

    Entries of the resource at another apiVersion are kept as they are (upstream drops those of versions its
    mapping does not know; ours names the one version served)."""

    def __init__(self, parent: dict, api_version: str, path: tuple):
        self.entries = (parent.get("metadata") or {}).get("managedFields")
        self.api_version = api_version
        self.path = path

    def _decoded(self, entries) -> dict[tuple, Entry]:
        try:
            return fieldmanager.decode(entries)
        except ValueError:
            return {}

    def to_subresource(self) -> Optional[list[dict]]:
        """The Scale's managedFields: each entry of the resource owning its replicas, owning the Scale's."""
        out: dict[tuple, Entry] = {}
        for entry in self._decoded(self.entries).values():
            if entry.api_version == self.api_version and fieldpath.has_member(entry.fields, self.path):
                scale_entry = Entry(entry.manager, entry.operation, SCALE_API_VERSION, entry.time, entry.subresource,
                                    _only(_REPLICAS_IN_SCALE))
                out[scale_entry.identity] = scale_entry
        return fieldmanager.encode(out) if out else None

    def record_update(self, old_scale: dict, new_scale: dict, manager: str, now: float) -> None:
        """Set ``new_scale``'s managedFields for an update of the Scale by ``manager`` (a PUT or a patch that is not
        an apply): as every subresource write, the request's own managedFields are not looked at."""
        node = schema.node_for("autoscaling", "v1", "Scale")
        fieldmanager.record_update(old_scale, new_scale, manager, SCALE_API_VERSION, now, (node, None),
                                   subresource="scale", seed=fieldmanager.zero_object("autoscaling", "Scale"))

    def to_parent(self, scale: dict) -> Optional[list[dict]]:
        """The resource's managedFields after the write: an entry of the resource that owned its replicas keeps
        them only if the Scale kept the same manager (by upstream's identifier, so an Update entry never
        matches its autoscaling/v1 self, as upstream); the Scale's other managers of ``.spec.replicas`` own the
        resource's replicas, with the time the resource had for them (none, for a new one)."""
        parent = self._decoded(self.entries)
        remaining = dict(self._decoded((scale.get("metadata") or {}).get("managedFields")))
        out: dict[tuple, Entry] = {}
        for identity, entry in parent.items():
            if entry.api_version != self.api_version or not fieldpath.has_member(entry.fields, self.path):
                out[identity] = entry
            elif identity in remaining:
                out[identity] = entry
                del remaining[identity]
            else:
                rest = fieldpath.remove_subtree(entry.fields, self.path)
                if rest:
                    out[identity] = Entry(entry.manager, entry.operation, entry.api_version, entry.time,
                                          entry.subresource, rest)
        for identity, entry in remaining.items():
            if not fieldpath.has_member(entry.fields, _REPLICAS_IN_SCALE):
                continue
            previous = parent.get(identity)
            # Kept under the Scale's identity: an Update entry at autoscaling/v1 whose resource entry lost the
            # replicas above is written twice (the same manager at the resource's version), as upstream does.
            out[("scale",) + identity] = Entry(entry.manager, entry.operation, self.api_version,
                                               previous.time if previous else None, entry.subresource,
                                               _only(self.path))
        return fieldmanager.encode(out) if out else None

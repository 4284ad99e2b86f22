"""
managedFields: who owns which field of an object, kept on every write, and
server-side apply (merge, prune, conflicts) built on it, as upstream's
structured-merge-diff and the apiserver's fieldmanager do.

Public API:

- :func:`manager_from_user_agent` — the manager of a write that names none.
- :func:`types_for` — the (schema, metadata schema) a Store's objects are walked with.
- :func:`zero_object` — the empty built-in object a create is compared with (``seed``).
- :func:`record_update` — set ``managedFields`` on an object written by create/update/patch.
- :func:`apply` — the object an apply configuration makes of the live one, with its managedFields;
  raises a 409 listing the conflicts unless ``force``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Optional

import orjson

from . import codec, errors, fieldpath, fieldtyped, gojson, meta
from .fieldpath import Set

APPLY, UPDATE = "Apply", "Update"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Fields the server sets: nobody owns them (members only; what is under metadata stays).
_STRIP = {}
for _path in (("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "namespace"),
              ("metadata", "creationTimestamp"), ("metadata", "selfLink"), ("metadata", "uid"),
              ("metadata", "clusterName"), ("metadata", "generation"), ("metadata", "managedFields"),
              ("metadata", "resourceVersion")):
    fieldpath.insert(_STRIP, [fieldpath.field(p) for p in _path])
_MANAGED_FIELDS = (fieldpath.field("metadata"), fieldpath.field("managedFields"))
_STATUS = (fieldpath.field("status"),)


def manager_from_user_agent(user_agent: Optional[str]) -> str:
    """The part of a User-Agent before its first "/", printable characters only, at most 128."""
    head = (user_agent or "").split("/", 1)[0]
    if len(head) <= 128 and head.isprintable():
        return head     # what almost every client sends
    out = []
    for char in head:
        if len(out) >= 128:
            break
        if char.isprintable():
            out.append(char)
    return "".join(out)


def types_for(store) -> tuple[Any, Any]:
    """(the object's schema node or None, the schema metadata is walked with or None)."""
    from . import schema
    info = store.info
    if getattr(store, "builtin", True):
        return schema.node_for(info.group, info.version, info.kind), None
    raw = getattr(store.strategy, "schema", None)
    root = schema.SchemaNode(raw, raw, None) if isinstance(raw, dict) and raw else None
    return root, schema.node_named(_OBJECT_META)


# What a built-in object's Go zero value holds: its struct (not pointer) fields exist, empty.
# A create is compared with it, so the maps it already has are not "added" themselves.
_POD_TEMPLATE = {"metadata": {}, "spec": {}}
_ZERO_SPECS = {
    ("apps", "Deployment"): {"template": _POD_TEMPLATE, "strategy": {}},
    ("apps", "StatefulSet"): {"template": _POD_TEMPLATE, "updateStrategy": {}},
    ("apps", "DaemonSet"): {"template": _POD_TEMPLATE, "updateStrategy": {}},
    ("apps", "ReplicaSet"): {"template": _POD_TEMPLATE},
    ("batch", "Job"): {"template": _POD_TEMPLATE},
    ("batch", "CronJob"): {"jobTemplate": {"metadata": {}, "spec": {"template": _POD_TEMPLATE}}},
}


_ZEROS: dict = {}


def zero_object(group: str, kind: str) -> dict:
    """The empty built-in object a create or a first apply is compared with: one per kind, shared, which
    its users only read (never change it)."""
    zero = _ZEROS.get((group, kind))
    if zero is None:
        if group == "" and kind == "PodTemplate":
            zero = {"metadata": {}, "template": copy.deepcopy(_POD_TEMPLATE)}
        else:
            zero = {"metadata": {}, "spec": copy.deepcopy(_ZERO_SPECS.get((group, kind), {})), "status": {}}
        zero = _ZEROS.setdefault((group, kind), zero)
    return zero


# -- entries -----------------------------------------------------------------------------

@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: Optional[str]
    subresource: str
    fields: Set

    @property
    def identity(self) -> tuple:
        # An applier owns one set whatever version it applied at; updaters one per version.
        return (self.manager, self.operation, "" if self.operation == APPLY else self.api_version,
                self.subresource)

    def identifier(self) -> str:
        """The manager as upstream keys it (BuildManagerIdentifier): the entry's JSON without its fields, time and
        (for an applier) apiVersion; conflicts are listed, and updaters of one second capped, in its order."""
        raw = {}
        for name, given in (("manager", self.manager), ("operation", self.operation),
                            ("apiVersion", "" if self.operation == APPLY else self.api_version),
                            ("subresource", self.subresource)):
            if given:
                raw[name] = given
        return codec.dumps(raw).decode()

    def describe(self) -> str:
        """How a conflict message names this manager."""
        text = gojson.go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {gojson.go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


def decode(entries: Any) -> dict[tuple, Entry]:
    """managedFields -> {identity: Entry}; ValueError if they are not valid."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    out: dict[tuple, Entry] = {}
    for raw in entries:
        if not isinstance(raw, dict):
            raise ValueError("a managedFields entry must be an object")
        if raw.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType {raw.get('fieldsType')!r}")
        if raw.get("operation") not in (APPLY, UPDATE):
            raise ValueError(f"invalid operation {raw.get('operation')!r}")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        entry = Entry(str(raw.get("manager") or ""), raw["operation"], str(raw.get("apiVersion") or ""),
                      raw.get("time"), str(raw.get("subresource") or ""), _field_set(raw.get("fieldsV1") or {}))
        # As upstream: a later entry of the same manager replaces an earlier one.
        out.pop(entry.identity, None)
        out[entry.identity] = entry
    return out


# Every write of an object decodes the managedFields it carries, whose field sets mostly stay as they were:
# the sets decoded, by their fieldsV1's JSON (a fieldsV1 is objects all the way down, so its JSON tells them
# apart exactly).  The sets are shared: nobody changes a decoded set (fieldpath's functions make new ones).
# Few: a pod's status set is about 14 KB, and the ones worth keeping are those many objects share (a Lease's,
# a Deployment's pods' spec), not the many met once (each pod's status names its IPs).
_FIELD_SETS: dict[bytes, Set] = {}
_FIELD_SETS_LIMIT = 256


def _field_set(fields_v1: Any) -> Set:
    try:
        key = orjson.dumps(fields_v1) if type(fields_v1) is dict else None
    except TypeError:   # keys that are not strings: from_fields_v1 says what is wrong
        key = None
    found = _FIELD_SETS.get(key) if key is not None else None
    if found is None:
        found = fieldpath.from_fields_v1(fields_v1)
        if key is not None:
            if len(_FIELD_SETS) >= _FIELD_SETS_LIMIT:
                _FIELD_SETS.clear()
            _FIELD_SETS[key] = found
    return found


def _time_seconds(entry: Entry) -> float:
    try:
        return meta.parse_time(entry.time) if entry.time else 0
    except ValueError:
        return 0


def encode(managed: dict[tuple, Entry]) -> list[dict]:
    """{identity: Entry} -> managedFields, in upstream's order (Apply first, then by time)."""
    ordered = list(managed.values())
    if len(ordered) > 1:
        ordered.sort(key=lambda e: (e.operation, _time_seconds(e), e.manager, e.api_version, e.subresource))
    out = []
    for entry in ordered:
        raw: dict = {}
        if entry.manager:
            raw["manager"] = entry.manager
        raw["operation"] = entry.operation
        if entry.api_version:
            raw["apiVersion"] = entry.api_version
        if entry.time:
            raw["time"] = entry.time
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = fieldpath.to_fields_v1(entry.fields)
        if entry.subresource:
            raw["subresource"] = entry.subresource
        out.append(raw)
    return out


MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


def _cap_updaters(managed: dict[tuple, Entry]) -> dict[tuple, Entry]:
    """Past ten Update entries, the oldest are folded into one "ancient-changes" entry per apiVersion."""
    if sum(e.operation == UPDATE for e in managed.values()) <= MAX_UPDATE_MANAGERS:
        return managed
    updaters = sorted((e for e in managed.values() if e.operation == UPDATE),
                      key=lambda e: (_time_seconds(e), e.identifier()))
    count = len(updaters)
    if count <= MAX_UPDATE_MANAGERS:
        return managed
    first_of_version: dict[str, Entry] = {}
    for entry in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = entry
            continue
        bucket_id = (ANCIENT_CHANGES, UPDATE, entry.api_version, "")
        bucket = managed.get(bucket_id)
        if bucket is None:
            managed.pop(first.identity, None)
            bucket = Entry(ANCIENT_CHANGES, UPDATE, entry.api_version, first.time, "", first.fields)
            managed[bucket_id] = bucket
            first_of_version[entry.api_version] = bucket
        bucket.fields = fieldpath.union(bucket.fields, entry.fields)
        bucket.time = entry.time
        managed.pop(entry.identity, None)
        count -= 1
    return managed


def _store(obj: dict, managed: dict[tuple, Entry]) -> None:
    managed = _cap_updaters({k: e for k, e in managed.items() if e.fields})
    meta_ = obj.setdefault("metadata", {})
    if managed:
        meta_["managedFields"] = encode(managed)
    else:
        meta_.pop("managedFields", None)


def _without_managed_fields(obj: Optional[dict]) -> dict:
    if obj is None:
        return {}
    out = dict(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "managedFields"}
    return out


def _owned(fields: Set, ignore_status: bool) -> Set:
    fields = fieldpath.difference(fields, _STRIP)
    fields = fieldpath.remove_subtree(fields, _MANAGED_FIELDS)
    return fieldpath.remove_subtree(fields, _STATUS) if ignore_status else fields


def _live_managed(obj: Optional[dict]) -> dict[tuple, Entry]:
    try:
        return decode(((obj or {}).get("metadata") or {}).get("managedFields"))
    except ValueError:
        return {}


def _is_reset(entries: Any) -> bool:
    """An empty list, or one entry that is all zero values (Go decodes ``[{}]``, ``[{"manager": ""}]`` and
    ``[null]`` alike): the request clears managedFields."""
    if entries == []:
        return True
    if not isinstance(entries, list) or len(entries) != 1:
        return False
    only = entries[0]
    return only is None or isinstance(only, dict) and all(
        value is None or value == "" and name != "fieldsV1" for name, value in only.items())


# -- update ------------------------------------------------------------------------------

def record_update(old: Optional[dict], new: dict, manager: str, api_version: str, now: float,
                  types: tuple = (None, None), subresource: str = "", ignore_status: bool = False,
                  seed: Optional[dict] = None) -> None:
    """Set ``new``'s managedFields for a create (``old`` None) or an update by ``manager``:
    what it added or changed becomes its own, and nobody keeps what it changed or removed.
    Managed fields the request itself carries are honoured (``[]`` clears them; invalid ones
    are replaced by the live object's), except on a subresource."""
    node, root_meta = types
    given = (new.get("metadata") or {}).get("managedFields", None)
    if old is None and given is None and not subresource:
        _record_create(new, manager, api_version, now, node, root_meta, ignore_status, seed)
        return
    _record_update(old, new, manager, api_version, now, node, root_meta, subresource, ignore_status, seed, given)


# What a create's comparison with the zero object gives depends only on the new object's shape: its maps'
# keys, which values are maps, lists or scalars, and its lists whole (their items' keys and set values are
# path elements).  Creates of one kind mostly share a shape (all that differs is names and values), so the
# fieldsV1 a shape gives is remembered: {shape key: (schema node, metadata schema, seed, fieldsV1 JSON)}, the
# objects kept so an id in a key cannot be reused while the entry lives.
_CREATES: dict = {}
_CREATES_LIMIT = 1024


class _NoShape(Exception):
    pass


_CONTAINERS = (dict, list)


def _shape_of(value: Any, top: bool = False) -> Any:
    """A map's shape is a tuple of its members in order, each its key when it holds a scalar, else (key, its
    value's shape); a list's is its JSON; a scalar's None."""
    if isinstance(value, dict):
        if top:
            return tuple([(k, _shape_of(v)) if k != "metadata" or not isinstance(v, dict) else
                          (k, tuple([(mk, _shape_of(mv)) if isinstance(mv, _CONTAINERS) else mk
                                     for mk, mv in v.items() if mk != "managedFields"]))
                          for k, v in value.items()])
        return tuple([(k, _shape_of(v)) if isinstance(v, _CONTAINERS) else k for k, v in value.items()])
    if isinstance(value, list):
        try:
            return orjson.dumps(value)
        except TypeError:   # what JSON cannot hold: not remembered
            raise _NoShape() from None
    return None


def _record_create(new: dict, manager: str, api_version: str, now: float, node, root_meta,
                   ignore_status: bool, seed: Optional[dict]) -> None:
    try:
        key = (id(node), id(root_meta), id(seed), ignore_status, _shape_of(new, top=True))
    except _NoShape:
        key = None
    hit = _CREATES.get(key) if key is not None else None
    if hit is not None and hit[0] is node and hit[1] is root_meta and hit[2] is seed:
        meta_ = new.setdefault("metadata", {})
        if hit[3] is None:
            meta_.pop("managedFields", None)
            return
        raw: dict = {}
        if manager:
            raw["manager"] = manager
        raw["operation"] = UPDATE
        if api_version:
            raw["apiVersion"] = api_version
        raw["time"] = meta.rfc3339(now)
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = orjson.loads(hit[3])
        meta_["managedFields"] = [raw]
        return
    _record_update(None, new, manager, api_version, now, node, root_meta, "", ignore_status, seed, None)
    if key is None:
        return
    entries = new["metadata"].get("managedFields")
    if len(_CREATES) >= _CREATES_LIMIT:
        _CREATES.clear()
    _CREATES[key] = (node, root_meta, seed, orjson.dumps(entries[0]["fieldsV1"]) if entries else None)


def _record_update(old: Optional[dict], new: dict, manager: str, api_version: str, now: float, node, root_meta,
                   subresource: str, ignore_status: bool, seed: Optional[dict], given: Any) -> None:
    if subresource or old is not None and given is None:
        managed = _live_managed(old)
    elif _is_reset(given):
        managed = {}
    else:
        try:
            managed = decode(given)
        except ValueError:
            managed = {}
        if not managed:
            managed = _live_managed(old)
    if old is not None and not managed:
        # As upstream: an object nobody tracks stays untracked until someone applies to it.
        _store(new, {})
        return
    # compare only reads its arguments: the seed is used as given.
    before = _without_managed_fields(old) if old is not None else seed or {}
    after = _without_managed_fields(new)
    comparison = fieldtyped.compare(before, after, node, root_meta)
    touched = fieldpath.union(comparison.changed(), comparison.removed)
    for entry in managed.values():
        entry.fields = fieldpath.difference(entry.fields, touched)
    mine = _owned(comparison.changed(), ignore_status)
    if mine:
        probe = Entry(manager, UPDATE, api_version, None, subresource, {})
        entry = managed.get(probe.identity) or probe
        entry.fields = fieldpath.union(entry.fields, mine)
        entry.time = meta.rfc3339(now)
        managed[entry.identity] = entry
    _store(new, managed)


# -- apply -------------------------------------------------------------------------------

def conflict_error(conflicts: list[tuple[Entry, tuple]]) -> errors.StatusError:
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {entry.describe()}",
               "field": fieldpath.path_string(path)} for entry, path in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {fieldpath.path_string(path)}"
    else:
        lines = []
        by_manager: dict[str, tuple[Entry, list]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.identifier(), (entry, []))[1].append(path)
        for name in sorted(by_manager):
            entry, paths = by_manager[name]
            lines.append(f"conflicts with {entry.describe()}:")
            lines.extend(f"- {fieldpath.path_string(p)}" for p in paths)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.StatusError(409, "Conflict", message, {"causes": causes})


def apply(live: Optional[dict], config: dict, manager: str, api_version: str, now: float,
          types: tuple = (None, None), force: bool = False, ignore_status: bool = False,
          seed: Optional[dict] = None, subresource: str = "", kind: Optional[str] = None,
          reset_fields: tuple = ()) -> dict:
    """The object ``config`` applied by ``manager`` makes of ``live`` (None: nothing yet), with
    managedFields.  Fields the applier applied before and left out now are removed unless someone
    else owns them.  Raises a 409 Conflict listing fields other managers own with other values.
    ``kind``: the resource's kind, which the configuration must name with ``api_version`` (None: its
    apiVersion alone is checked).  ``reset_fields``: the paths (of field names) the subresource's strategy
    resets, which the applier neither owns nor conflicts over (upstream's GetResetFields).

    As upstream: the first apply to an object without managedFields gives its existing fields to
    "before-first-apply"; "kubectl" may take fields its client-side last-applied annotation
    shows it set, and keeps that annotation in step with what it applies."""
    if kind is not None:
        _check_object_type(config, api_version, kind)
    try:
        merged = _apply(live, config, manager, api_version, now, types, force, ignore_status, seed, subresource,
                        reset_fields)
    except _Conflicts as conflicts:
        allowed = _allowed_by_last_applied(live, types) if manager == KUBECTL else None
        remaining = [(e, p) for e, p in conflicts.found if allowed is None or not fieldpath.has_member(allowed, p)]
        if remaining:
            raise conflict_error(remaining) from None
        merged = _apply(live, config, manager, api_version, now, types, True, ignore_status, seed, subresource,
                        reset_fields)
    if manager == KUBECTL and _last_applied(merged):
        merged["metadata"].setdefault("annotations", {})[LAST_APPLIED] = _build_last_applied(config)
    return merged


def _build_last_applied(config: dict) -> str:
    """As upstream's lastAppliedUpdater (buildLastApplied): the applied configuration without the annotation
    itself (annotations left empty stay, as {}), as Go's JSON encoder writes the map: keys sorted, <, > and &
    escaped, numbers the float64s its YAML decoding gives, and a newline."""
    last = dict(config)
    metadata = last.get("metadata")
    if isinstance(metadata, dict) and "annotations" in metadata:
        annotations = metadata["annotations"]
        metadata = {k: v for k, v in metadata.items() if k != "annotations"}
        if isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values()):
            metadata["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        last["metadata"] = metadata
    return codec.dumps(_as_go_encodes(last)).decode() + "\n"


def _as_go_encodes(value: Any) -> Any:
    """``value`` as Go's encoder writes a decoded map[string]interface{}: keys sorted, a number written as a
    float64 is (no fraction for a whole number below 1e21, none past 64 bits kept whole)."""
    if isinstance(value, dict):
        return {key: _as_go_encodes(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_as_go_encodes(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < 1 << 63:
        return float(value)
    return value


def _group_version_kind(config: dict) -> tuple[str, str, str]:
    """The group, version and kind an unstructured object names, as Go's GroupVersionKind() reads them: a
    value that is not a string is empty, and an apiVersion with more than one "/" names nothing at all."""
    api_version, kind = config.get("apiVersion"), config.get("kind")
    api_version = api_version if isinstance(api_version, str) else ""
    kind = kind if isinstance(kind, str) else ""
    if api_version in ("", "/"):
        return "", "", kind
    if "/" not in api_version:
        return "", api_version, kind
    if api_version.count("/") > 1:
        return "", "", ""
    group, version = api_version.split("/")
    return group, version, kind


def _check_object_type(config: Any, api_version: str, kind: str) -> None:
    """As upstream's versionCheckManager, the outermost of the field manager's: an applied object must name
    the resource's group, version and kind (a 400 naming what it named instead)."""
    if not isinstance(config, dict):
        return
    group, _, version = api_version.rpartition("/")
    given = _group_version_kind(config)
    if given != (group, version, kind):
        raise errors.bad_request(f"invalid object type: {given[0]}/{given[1]}, Kind={given[2]}")


KUBECTL = "kubectl"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"


class _Conflicts(Exception):
    def __init__(self, found):
        super().__init__("conflicts")
        self.found = found


def _last_applied(live: Optional[dict]) -> str:
    return (((live or {}).get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED) or ""


def _allowed_by_last_applied(live: Optional[dict], types: tuple) -> Optional[Set]:
    """Fields client-side apply set that still hold the values it set: kubectl may take them over."""
    text = _last_applied(live)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict):
        return None
    node, root_meta = types
    fields = fieldtyped.field_set(last, node, root_meta)
    comparison = fieldtyped.compare(last, _without_managed_fields(live), node, root_meta)
    return fieldpath.difference(fieldpath.difference(fields, comparison.changed()), comparison.removed)


def _typed_patch_error(config: dict, api_version: str, problems: list[str]) -> errors.StatusError:
    """Upstream's error for a configuration its schema cannot type: a 500 with no reason."""
    meta_ = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    group_version = api_version if "/" in api_version else "/" + api_version
    where = f"{meta_.get('namespace', '')}/{meta_.get('name', '')}; {group_version}, Kind={config.get('kind', '')}"
    detail = problems[0] if len(problems) == 1 else "errors:\n  " + "\n  ".join(problems)
    return errors.StatusError(500, "", f"failed to create typed patch object ({where}): {detail}")


def _without_reset(fields: Set, reset_fields: tuple) -> Set:
    for path in reset_fields:
        fields = fieldpath.remove_subtree(fields, [fieldpath.field(name) for name in path])
    return fields


def _apply(live, config, manager, api_version, now, types, force, ignore_status, seed, subresource,
           reset_fields) -> dict:
    node, root_meta = types
    if not isinstance(config, dict):
        raise errors.bad_request("the body of the request was not a JSON object")
    if config.get("apiVersion") != api_version:
        raise errors.bad_request(f"Incorrect version specified in apply patch. Specified patch version: "
                                 f"{config.get('apiVersion', '')}, expected: {api_version}")
    if isinstance(config.get("metadata"), dict) and config["metadata"].get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    if ignore_status:
        config = {k: v for k, v in config.items() if k != "status"}
    if subresource == "status":
        # Through /status only the status and the metadata are applied.
        config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")}
    managed = _live_managed(live)
    before = _without_managed_fields(live)
    if live is not None and not managed:
        # Fields set before anyone applied belong to a stand-in, so an apply can conflict with them.
        existing = fieldtyped.compare(seed or {}, before, node, root_meta).changed()
        entry = Entry(BEFORE_FIRST_APPLY, UPDATE, api_version, meta.rfc3339(now), subresource,
                      _without_reset(_owned(existing, ignore_status), reset_fields))
        managed[entry.identity] = entry
    merged = fieldtyped.merge(before, config, node, root_meta)
    problems: list[str] = []
    applied = _owned(fieldtyped.field_set(config, node, root_meta, problems), ignore_status)
    if problems:
        raise _typed_patch_error(config, api_version, problems)
    # As structured-merge-diff's Updater with its IgnoreFilter: what the strategy resets is not owned, nor
    # compared for conflicts or removals.
    applied = _without_reset(applied, reset_fields)
    identity = (manager, APPLY, "", subresource)
    previous = managed.get(identity)
    entry = Entry(manager, APPLY, api_version, previous.time if previous else None, subresource, applied)
    managed[identity] = entry
    if previous is not None and previous.fields:
        owned: Set = {}
        for each in managed.values():
            owned = fieldpath.union(owned, each.fields)
        merged = fieldtyped.prune(merged, node, previous.fields, owned, root_meta)
    comparison = fieldtyped.compare(before, merged, node, root_meta)
    changed = _without_reset(comparison.changed(), reset_fields)
    removed = _without_reset(comparison.removed, reset_fields)
    conflicts = []
    for key in sorted(managed, key=lambda k: managed[k].identifier()):
        if key == identity:
            continue
        other = managed[key]
        clash = fieldpath.intersection(other.fields, changed)
        conflicts.extend((other, path) for path in fieldpath.members(clash))
        if clash:
            other.fields = fieldpath.difference(other.fields, clash)
        other.fields = fieldpath.difference(other.fields, removed)
    if conflicts and not force:
        raise _Conflicts(conflicts)
    # As upstream: the applier's time moves only when the apply changed the object (a new applier of values
    # already there has none).
    if merged != before:
        entry.time = meta.rfc3339(now)
    _store(merged, managed)
    return merged

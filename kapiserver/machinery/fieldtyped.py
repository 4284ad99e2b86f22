"""
Objects walked by their schema for server-side apply: the field set of an applied
configuration, the comparison of two objects, the merge of a configuration into a
live object, and the pruning of fields an applier stopped applying.

Types come from a :class:`~kapiserver.machinery.schema.SchemaNode` (a built-in
definition, or a custom resource's structural schema wrapped in one); where there
is no schema the type is deduced from the value, as upstream does: objects are
granular maps, arrays are atomic, the rest are scalars.

Lists follow ``x-kubernetes-list-type`` (``map`` by ``x-kubernetes-list-map-keys``,
``set``, else ``atomic``; an old-style ``x-kubernetes-patch-merge-key`` means ``map``),
objects follow ``x-kubernetes-map-type`` (``atomic`` or granular).
"""

from __future__ import annotations

from typing import Any, Optional

import orjson

from . import fieldpath, gojson
from .fieldpath import Set
from .jsoncopy import json_copy

MISSING = object()
# List-map keys upstream defaults when an item leaves them out (its schema defaults them).
_KEY_DEFAULTS = {"protocol": "TCP"}

STRUCT, MAP, LIST_MAP, LIST_SET, ATOMIC, SCALAR = "struct", "map", "list-map", "list-set", "atomic", "scalar"


# Schema facts per schema dict, looked up on every field of every write.  Keyed by the
# dicts' ids, and each entry keeps its dicts so an id cannot be reused while cached.
_CACHE: dict = {}
_CACHE_LIMIT = 100_000


def _remember(key: tuple, keep: tuple, result):
    if len(_CACHE) > _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = (keep, result)
    return result


def _value_kind(value: Any) -> int:
    return 1 if isinstance(value, dict) else 2 if isinstance(value, list) else 0


def shape(node, value: Any) -> str:
    """How a value at ``node`` is walked."""
    if node is None:
        return (SCALAR, MAP, ATOMIC)[_value_kind(value)]
    site, target = node._site, node._target
    key = ("shape", id(site), id(target), _value_kind(value))
    hit = _CACHE.get(key)
    return hit[1] if hit is not None else _remember(key, (site, target), _shape(node, value))


def _shape(node, value: Any) -> str:
    if node is None or node.preserve_unknown and not node.properties:
        if isinstance(value, dict):
            return MAP
        return ATOMIC if isinstance(value, list) else SCALAR
    kind = node.type
    if node.int_or_string or kind in ("string", "integer", "number", "boolean"):
        return SCALAR
    if kind == "array" or kind is None and isinstance(value, list) and node.items() is not None:
        list_type = node.list_type
        if list_type is None and (node.patch_strategy or "").find("merge") >= 0:
            list_type = "map" if node.patch_merge_key else "set"
        if list_type == "map" and list_keys(node):
            return LIST_MAP
        return LIST_SET if list_type == "set" else ATOMIC
    if kind == "object" or node.properties or node.values() is not None:
        if node.map_type == "atomic":
            return ATOMIC
        return STRUCT if node.properties or node.values() is None else MAP
    return SCALAR if not isinstance(value, (dict, list)) else (MAP if isinstance(value, dict) else ATOMIC)


def list_keys(node) -> list[str]:
    return node.list_map_keys or ([node.patch_merge_key] if node.patch_merge_key else [])


def child(node, name: str, root_meta=None):
    """The schema of field ``name``: a declared property, else the map's values, else deduced (None)."""
    if node is None:
        return None
    if root_meta is not None and name == "metadata":
        return root_meta
    target = node._target
    key = ("child", id(target), name)
    hit = _CACHE.get(key)
    return hit[1] if hit is not None else _remember(key, (target,), _child(node, name))


def _child(node, name: str):
    found = node.field(name)
    return found if found is not None else node.values()


def declared(node, name: str) -> bool:
    if node is None:
        return False
    target = node._target
    key = ("declared", id(target), name)
    hit = _CACHE.get(key)
    return hit[1] if hit is not None else _remember(key, (target,), node.field(name) is not None)


def key_default(node, name: str) -> Any:
    """What an item of the keyed list ``node`` that leaves out key ``name`` has for it: the item schema's default
    for the field (upstream's converted schemas carry it, a custom resource's too), else the built-in one, else
    MISSING."""
    key = ("key-default", id(node._site), id(node._target), name)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit[1]
    found = _KEY_DEFAULTS.get(name, MISSING)
    items = node.items()
    field = items.field(name) if items is not None else None
    if field is not None:
        default = field._get("default", MISSING)
        if default is not MISSING:
            found = default
    return _remember(key, (node._site, node._target), found)


def item_element(node, item: Any, kind: str) -> Optional[str]:
    """The path element of a list item (None for an item that cannot be keyed)."""
    if kind == LIST_SET:
        return fieldpath.value(item)
    if not isinstance(item, dict):
        return None
    keys = {}
    for name in list_keys(node):
        if name in item:
            keys[name] = item[name]
        else:
            default = key_default(node, name)
            if default is not MISSING:
                keys[name] = default
    return fieldpath.key(keys) if keys else None


def _items(node, value: Any, kind: str) -> dict:
    """element -> item, first occurrence wins, in list order."""
    out: dict = {}
    if isinstance(value, list):
        for item in value:
            element = item_element(node, item, kind)
            if element is not None and element not in out:
                out[element] = item
    return out


# -- the field set of a configuration ---------------------------------------------------

def field_set(obj: dict, node, root_meta=None, problems: Optional[list] = None) -> Set:
    """Every field a configuration sets: its leaves, its list items, and maps it sets empty.
    Fields the schema does not declare are left out; what ``validate`` finds wrong is reported in
    ``problems``, if given."""
    if problems is not None:
        problems.extend(validate(obj, node, root_meta))
    out: Set = {}
    _to_set(obj, node, (), out, root_meta)
    return out


# Fields every object (and every embedded resource) may carry whatever its schema lists.
_OBJECT_FIELDS = ("apiVersion", "kind", "metadata")


def _undeclared(node, name: str, root: bool) -> bool:
    if node is None or node.field(name) is not None or node.values() is not None or node.preserve_unknown:
        return False
    if name in _OBJECT_FIELDS and (root or node.raw.get("x-kubernetes-embedded-resource")):
        return False
    return True


def _to_set(value: Any, node, path: tuple, out: Set, root_meta) -> None:
    kind = shape(node, value)
    if kind in (SCALAR, ATOMIC):
        fieldpath.insert(out, path)
    elif kind in (STRUCT, MAP):
        if not isinstance(value, dict):
            fieldpath.insert(out, path)
            return
        for name, sub in value.items():
            sub_path = path + (fieldpath.field(name),)
            if kind == STRUCT and _undeclared(node, name, not path):
                continue
            sub_node = child(node, name, root_meta)
            _to_set(sub, sub_node, sub_path, out, None)
            if sub is None or sub == {} or not declared(node, name) or sub_node is None:
                fieldpath.insert(out, sub_path)
    else:
        if not isinstance(value, list):
            fieldpath.insert(out, path)
            return
        item_node = node.items()
        for element, item in _items(node, value, kind).items():
            sub_path = path + (element,)
            _to_set(item, item_node, sub_path, out, None)
            fieldpath.insert(out, sub_path)


# -- validating a configuration ----------------------------------------------------------

def validate(obj: Any, node, root_meta=None) -> list[str]:
    """What structured-merge-diff finds wrong making a typed value of an applied configuration (its
    validation, duplicates refused), in its words, each after the path it is at: a value of the wrong type, a
    field the schema does not declare, a keyed list's item without its key or with another's."""
    problems: list[str] = []
    _validate(obj, node, (), root_meta, problems)
    return problems


def _decoded(value: Any) -> Any:
    """``value`` as Go holds an apply body decoded from YAML: every number a float64."""
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _got(value: Any) -> str:
    """A value as structured-merge-diff's errors print it with %v: ``&{...}``."""
    return "&{" + gojson.go_value(_decoded(value)) + "}"


def _scalar_problem(value: Any, node) -> Optional[str]:
    if node.int_or_string or node.type is None:
        return None
    if node.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected numeric (int or float), got {gojson.type_name(_decoded(value))}"
    elif node.type == "string":
        if not isinstance(value, str):
            return f"expected string, got &value.valueUnstructured{{Value:{gojson.go_syntax(_decoded(value))}}}"
    elif node.type == "boolean" and not isinstance(value, bool):
        return f"expected boolean, got {_got(value)}"
    return None


def _keyed_element(node, item: Any, kind: str) -> tuple[Optional[str], str]:
    """(the path element of an item of an associative list, or None and why it has none)."""
    if kind == LIST_SET:
        if isinstance(item, dict):
            return None, "associative list without keys has an element that's a map type"
        if isinstance(item, list):
            return None, "not supported: associative list with lists as elements"
        if item is None:
            return None, "associative list without keys has an element that's an explicit null"
        return fieldpath.value(item), ""
    if item is None:
        return None, "associative list with keys may not have a null element"
    if not isinstance(item, dict):
        return None, "associative list with keys may not have non-map elements"
    for name in list_keys(node):
        if name not in item and key_default(node, name) is MISSING:
            return None, (f'associative list with keys has an element that omits key field "{name}" '
                          "(and doesn't have default value)")
    return item_element(node, item, kind), ""


def _validate(value: Any, node, path: tuple, root_meta, problems: list) -> None:
    if value is None or node is None:
        return
    kind = shape(node, value)
    at = fieldpath.path_string(path)
    prefix = at + ": " if at else ""
    if kind == SCALAR:
        problem = _scalar_problem(value, node)
        if problem:
            problems.append(prefix + problem)
        return
    if kind in (STRUCT, MAP) or kind == ATOMIC and node.type == "object":
        if not isinstance(value, dict):
            problems.append(f"{prefix}expected map, got {_got(value)}")
            return
        declared_only = kind == STRUCT or kind == ATOMIC and bool(node.properties)
        for name, sub in value.items():
            sub_path = path + (fieldpath.field(name),)
            if declared_only and _undeclared(node, name, not path):
                problems.append(f"{fieldpath.path_string(sub_path)}: field not declared in schema")
                continue
            _validate(sub, child(node, name, root_meta), sub_path, None, problems)
        return
    if kind == ATOMIC and node.type != "array":
        return      # what no schema types (deduced from the value)
    if not isinstance(value, list):
        problems.append(f"{prefix}expected list, got {_got(value)}")
        return
    item_node = node.items()
    seen: set = set()
    for index, item in enumerate(value):
        if kind == ATOMIC:
            element = fieldpath.index(index)
        else:
            element, problem = _keyed_element(node, item, kind)
            if element is None:
                # Nothing further of the list can be told apart: the rest of it goes unchecked.
                problems.append(f"{prefix}element {index}: {problem}")
                return
            if element in seen:
                problems.append(f"{prefix}duplicate entries for key {fieldpath.path_string((element,))}")
            seen.add(element)
        _validate(item, item_node, path + (element,), None, problems)


# -- comparing two objects ---------------------------------------------------------------

class Comparison:
    """What changed from one object to the next: added, modified and removed field sets."""

    def __init__(self):
        self.added: Set = {}
        self.modified: Set = {}
        self.removed: Set = {}

    def changed(self) -> Set:
        return fieldpath.union(self.added, self.modified)


def compare(old: Any, new: Any, node, root_meta=None) -> Comparison:
    out = Comparison()
    _compare(old, new, node, (), out, root_meta)
    return out


def _equal(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b) if not isinstance(a, (dict, list)) else a == b


def _leaf(old: Any, new: Any, path: tuple, out: Comparison) -> None:
    if old is MISSING and new is MISSING:
        return
    if old is MISSING:
        fieldpath.insert(out.added, path)
    elif new is MISSING:
        fieldpath.insert(out.removed, path)
    elif not _equal(old, new):
        fieldpath.insert(out.modified, path)


def _identical(old: Any, new: Any) -> bool:
    """Whether two containers hold the same JSON, types included (``==`` alone takes 1, 1.0 and
    True for one another): an unchanged subtree adds, changes and removes nothing, so an update
    need not walk the parts of an object it left alone."""
    if type(old) is not type(new) or not isinstance(old, (dict, list)) or old != new:
        return False
    try:
        return orjson.dumps(old) == orjson.dumps(new)
    except TypeError:   # what JSON cannot hold (integers past 64 bits): walked instead
        return False


# The types of decoded JSON values other than dicts and lists (and MISSING's): a field holding one on both
# sides is compared as a leaf.
_NOT_CONTAINERS = frozenset((str, int, float, bool, type(None), object))


def _compare(old: Any, new: Any, node, path: tuple, out: Comparison, root_meta=None) -> None:
    if old is not MISSING and new is not MISSING and _identical(old, new):
        return
    kind = shape(node, new if new is not MISSING else old)
    if kind in (SCALAR, ATOMIC):
        _leaf(old, new, path, out)
        return
    container = dict if kind in (STRUCT, MAP) else list
    if (old is not MISSING and not isinstance(old, container)) or \
            (new is not MISSING and not isinstance(new, container)):
        _leaf(old, new, path, out)
        return
    if container is dict:
        # A map that appears or disappears is itself added or removed; a list is not.
        if path and old is MISSING:
            fieldpath.insert(out.added, path)
        elif path and new is MISSING:
            fieldpath.insert(out.removed, path)
        left = old if old is not MISSING else {}
        right = new if new is not MISSING else {}
        for name in list(left) + [n for n in right if n not in left]:
            before, after = left.get(name, MISSING), right.get(name, MISSING)
            if type(before) in _NOT_CONTAINERS and type(after) in _NOT_CONTAINERS:
                # Neither is a dict or a list: whatever the schema says, a leaf (see above), and nothing to
                # record when it is the same value of the same type.
                if type(before) is type(after) and before == after:
                    continue
                _leaf(before, after, path + (fieldpath.field(name),), out)
                continue
            _compare(before, after, child(node, name, root_meta), path + (fieldpath.field(name),), out)
        return
    left = _items(node, old if old is not MISSING else [], kind)
    right = _items(node, new if new is not MISSING else [], kind)
    item_node = node.items()
    for element in list(left) + [e for e in right if e not in left]:
        _compare(left.get(element, MISSING), right.get(element, MISSING), item_node, path + (element,), out)


# -- merging a configuration into a live object ------------------------------------------

def merge(live: Any, config: Any, node, root_meta=None) -> Any:
    """``config`` laid over ``live``: maps and keyed lists merge, everything else is replaced."""
    if live is MISSING:
        return json_copy(config)
    kind = shape(node, config)
    if kind in (STRUCT, MAP):
        if not isinstance(live, dict) or not isinstance(config, dict):
            return json_copy(config)
        out = dict(live)
        for name, sub in config.items():
            out[name] = merge(live.get(name, MISSING), sub, child(node, name, root_meta))
        return out
    if kind in (LIST_MAP, LIST_SET) and isinstance(live, list) and isinstance(config, list):
        item_node = node.items()
        left, right = _items(node, live, kind), _items(node, config, kind)
        merged = {e: merge(left.get(e, MISSING), item, item_node) for e, item in right.items()}
        out, emitted = [], set()
        pending = list(right)
        for element, item in left.items():
            if element not in right:
                out.append(item)
                continue
            # Configured items keep the configuration's order around the live ones.
            while pending:
                head = pending.pop(0)
                if head not in emitted:
                    out.append(merged[head])
                    emitted.add(head)
                if head == element:
                    break
        for head in pending:
            if head not in emitted:
                out.append(merged[head])
                emitted.add(head)
        return out
    return json_copy(config)


# -- pruning what an applier no longer applies -------------------------------------------

def prune(obj: dict, node, previous: Set, owned: Set, root_meta=None) -> dict:
    """``obj`` without the fields the applier owned before (``previous``) that nobody
    owns now (``owned``: every manager's set, the applier's new one included)."""
    result = _prune_value(obj, node, (), previous, owned, root_meta)
    return result if result is not MISSING else {}


def _prune_value(value: Any, node, path: tuple, previous: Set, owned: Set, root_meta=None) -> Any:
    kind = shape(node, value)
    if kind in (STRUCT, MAP) and isinstance(value, dict):
        out = {}
        for name, sub in value.items():
            sub_path = path + (fieldpath.field(name),)
            kept = _keep(sub, child(node, name, root_meta), sub_path, previous, owned, declared(node, name))
            if kept is not MISSING:
                out[name] = kept
        return out
    if kind in (LIST_MAP, LIST_SET) and isinstance(value, list):
        out_list = []
        item_node = node.items()
        for item in value:
            element = item_element(node, item, kind)
            if element is None:
                out_list.append(item)
                continue
            kept = _keep(item, item_node, path + (element,), previous, owned, False)
            if kept is not MISSING:
                if kind == LIST_MAP and isinstance(kept, dict) and kept is not item:
                    # An item that stays keeps its keys, whoever owns them.
                    kept = {k: v for k, v in item.items() if k in kept or k in list_keys(node)} | kept
                out_list.append(kept)
        return out_list
    return value


def _keep(value: Any, node, path: tuple, previous: Set, owned: Set, named: bool) -> Any:
    """``value`` at ``path`` as the prune leaves it: MISSING when it goes.  As structured-merge-diff's
    Updater.prune: a field the schema declares (a named field) the applier set stays while anyone owns
    anything under it; a list item or a map's key it set stays only while someone owns that very item or
    key, not merely a field inside it (so an item an updater changed one field of goes with the applier's)."""
    if not fieldpath.has_any(previous, path):
        return value
    if named:
        if not fieldpath.has_any(owned, path):
            return MISSING
    elif fieldpath.has_member(previous, path) and not fieldpath.has_member(owned, path):
        return MISSING
    return _prune_value(value, node, path, previous, owned)

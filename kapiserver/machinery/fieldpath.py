"""
Field sets as server-side apply keeps them: trees of path elements.

A path element is a string in the managedFields ``fieldsV1`` vocabulary:
``f:<field name>``, ``k:<json object of list-map keys>``, ``v:<json value of a set item>``
and ``i:<index>``.  A set is a dict from path element to a child set; a child that
holds the key ``"."`` is a member itself (the path it ends is in the set), the other
keys are its children.  Sets are values: the functions here never change their
arguments, and their results may share unchanged subtrees with them (so only
:func:`insert`, on a set being built, mutates).

Public API: :func:`field`, :func:`key`, :func:`value`, :func:`index` (path elements),
:func:`insert`, :func:`union`, :func:`difference`, :func:`intersection`,
:func:`remove_subtree`, :func:`is_empty`, :func:`has_member`, :func:`has_any`,
:func:`members`, :func:`to_fields_v1`, :func:`from_fields_v1`, :func:`path_string`.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Iterator, Sequence

Set = dict
MEMBER = "."


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def field(name: str) -> str:
    return "f:" + name


def key(fields: dict) -> str:
    return "k:" + _json(fields)


def value(item: Any) -> str:
    return "v:" + _json(item)


def index(i: int) -> str:
    return "i:" + str(i)


# -- set algebra -------------------------------------------------------------------------

def insert(tree: Set, path: Sequence[str]) -> None:
    """Add ``path`` as a member of ``tree`` (in place: the one mutating helper, for builders)."""
    node = tree
    for element in path:
        node = node.setdefault(element, {})
    if path:
        node[MEMBER] = {}


def is_empty(tree: Set) -> bool:
    return not tree


def union(a: Set, b: Set) -> Set:
    out: Set = {}
    for element in set(a) | set(b):
        if element == MEMBER:
            out[MEMBER] = {}
        elif element in a and element in b:
            out[element] = union(a[element], b[element])
        else:
            out[element] = a[element] if element in a else b[element]
    return out


def difference(a: Set, b: Set) -> Set:
    """Members of ``a`` that are not members of ``b`` (children of a removed member stay)."""
    out: Set = {}
    for element, child in a.items():
        if element == MEMBER:
            continue
        if element not in b:
            out[element] = child
            continue
        rest = difference(child, b[element])
        if MEMBER in child and MEMBER not in b[element]:
            rest[MEMBER] = {}
        if rest:
            out[element] = rest
    return out


def intersection(a: Set, b: Set) -> Set:
    out: Set = {}
    for element, child in a.items():
        if element == MEMBER or element not in b:
            continue
        both = intersection(child, b[element])
        if MEMBER in child and MEMBER in b[element]:
            both[MEMBER] = {}
        if both:
            out[element] = both
    return out


def remove_subtree(tree: Set, path: Sequence[str]) -> Set:
    """``tree`` without ``path`` and everything under it."""
    if not path or not has_any(tree, path):
        return tree if path else {}
    out = dict(tree)
    node, parents = out, []
    for element in path[:-1]:
        node[element] = dict(node[element])
        parents.append((node, element))
        node = node[element]
    node.pop(path[-1], None)
    for parent, element in reversed(parents):
        if not parent[element]:
            del parent[element]
    return out


def _descend(tree: Set, path: Sequence[str]):
    node = tree
    for element in path:
        node = node.get(element)
        if node is None:
            return None
    return node


def has_member(tree: Set, path: Sequence[str]) -> bool:
    node = _descend(tree, path)
    return node is not None and MEMBER in node


def has_any(tree: Set, path: Sequence[str]) -> bool:
    """True if ``path`` or anything under it is in the set."""
    return bool(_descend(tree, path))


def members(tree: Set, prefix: tuple = ()) -> Iterator[tuple]:
    """Every member path in upstream's iteration order: at each level the members there first, then what is
    under each child, both in path element order."""
    elements = _sorted(tree)
    for element in elements:
        if MEMBER in tree[element]:
            yield prefix + (element,)
    for element in elements:
        child = tree[element]
        if len(child) > (MEMBER in child):
            yield from members(child, prefix + (element,))


# -- the fieldsV1 encoding ---------------------------------------------------------------

_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _value_order(item: Any) -> tuple:
    """A sort key giving structured-merge-diff's total order of values: numbers (ints and floats together, by
    value) before strings, booleans, lists, maps and null; lists element by element, a shorter one first."""
    if isinstance(item, bool):
        return (2, item)
    if isinstance(item, (int, float)):
        return (0, item)
    if isinstance(item, str):
        return (1, item)
    if isinstance(item, list):
        return (3, tuple(_value_order(each) for each in item))
    if isinstance(item, dict):
        return (4, tuple((name, _value_order(item[name])) for name in sorted(item)))
    return (5,)


@functools.lru_cache(maxsize=8192)
def _order(element: str) -> tuple:
    """The sort key of a path element, in upstream's PathElement order: field names, then keys (their fields by
    name, each value in the order of values), then set values, then indices (by number)."""
    kind, rest = element[:1], element[2:]
    if kind == "f":
        return (0, rest)
    if kind == "i":
        return (3, int(rest)) if rest.isdigit() else (4, rest)
    try:
        decoded = json.loads(rest)
    except ValueError:
        return (4, element)
    if kind == "k":
        if not isinstance(decoded, dict):
            return (4, element)
        return (1, tuple((name, _value_order(decoded[name])) for name in sorted(decoded)))
    return (_RANK.get(kind, 4), _value_order(decoded))


def _sorted(tree: Set) -> list[str]:
    elements = [e for e in tree if e != MEMBER]
    return sorted(elements, key=_order) if len(elements) > 1 else elements


def to_fields_v1(tree: Set) -> dict:
    """The managedFields ``fieldsV1`` form: a leaf member is ``{}``, a member with children carries ``".": {}``."""
    out: dict = {}
    for element in _sorted(tree):
        child = tree[element]
        if len(child) <= 1 and (not child or MEMBER in child):
            out[element] = {}   # a leaf (most of a set): nothing under it to encode
            continue
        encoded = to_fields_v1(child)
        if MEMBER in child and encoded:
            encoded = {MEMBER: {}, **encoded}
        out[element] = encoded
    return out


class FieldsError(ValueError):
    """A fieldsV1 document that is not a set of path elements."""


def from_fields_v1(fields: Any) -> Set:
    if not isinstance(fields, dict):
        raise FieldsError("fieldsV1 must be an object")
    out: Set = {}
    for element, child in fields.items():
        if element == MEMBER:
            continue
        if not isinstance(element, str) or element[:2] not in ("f:", "k:", "v:", "i:"):
            raise FieldsError(f"unknown path element: {element!r}")
        if element[0] in "kv" and not _is_json(element[2:]):
            raise FieldsError(f"invalid path element: {element!r}")
        if not isinstance(child, dict):
            raise FieldsError(f"the value of {element!r} must be an object")
        if not child:
            out[element] = {MEMBER: {}}     # a leaf member
            continue
        decoded = from_fields_v1(child)
        if not child or MEMBER in child:
            decoded[MEMBER] = {}
        out[element] = decoded
    return out


@functools.lru_cache(maxsize=4096)
def _is_json(text: str) -> bool:
    # Every write decodes the managedFields it carries; their keys (k:{"name":"c"}) repeat.
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _go_value(item: Any) -> str:
    # Values in paths print as JSON (strings quoted), as upstream's path strings do.
    return _json(item)


def path_string(path: Sequence[str]) -> str:
    """A path as upstream prints it: ``.spec.containers[name="nginx"].image``, ``[="x"]``, ``[0]``."""
    out = []
    for element in path:
        kind, rest = element[:1], element[2:]
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            fields = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_go_value(v)}" for k, v in sorted(fields.items())) + "]")
        elif kind == "v":
            out.append("[=" + _go_value(json.loads(rest)) + "]")
        else:
            out.append("[" + rest + "]")
    return "".join(out)

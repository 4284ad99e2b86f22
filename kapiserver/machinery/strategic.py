"""
Strategic merge patch (application/strategic-merge-patch+json) for the built-in types.

The rules are those of k8s.io/apimachinery/pkg/util/strategicpatch as the apiserver
applies a patch (parallel deletion lists merged, unmatched nulls ignored), with the
field metadata taken from the upstream OpenAPI definitions (x-kubernetes-patch-strategy,
x-kubernetes-patch-merge-key) instead of Go struct tags:

- maps merge recursively; ``null`` deletes a key; fields the schema does not know merge
  like a JSON merge patch;
- a list with strategy ``merge`` and a merge key merges items by key, a ``merge`` list
  of scalars is a union, every other list is replaced;
- ``$patch: replace|delete`` in a map, ``$patch: delete|replace`` items in a merge list,
  ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>`` and ``$retainKeys``.

Order of merged lists: the ``$setElementOrder`` list wins, then the order of the patch,
then the order of the live list — so an item the patch adds goes *before* the live items
it is not ordered against, as upstream does.

Upstream decodes the result into a Go struct, which silently drops directive keys and
nulls left in values the patch introduces; we store JSON as-is, so such values are
cleaned here the same way instead.
"""

from __future__ import annotations

from typing import Any, Optional

import orjson

from .errors import StatusError
from .gojson import go_string, go_value, type_name
from .schema import SchemaNode

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PREFIX = "$deleteFromPrimitiveList"
ORDER_PREFIX = "$setElementOrder"

# mergepatch's sentinel errors; the apiserver answers the first group with 400 and the
# second with 422, and anything else with a 500 that has no reason.
BAD_JSON_DOC = "invalid JSON document"
BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
UNSUPPORTED_FORMAT = "strategic merge patch format is not supported"
NO_LIST_OF_LISTS = "lists of lists are not supported"
RETAIN_KEYS_MISMATCH = "patch content doesn't match retainKeys list"
_BAD_REQUEST = frozenset({BAD_JSON_DOC, BAD_PRIMITIVE_LIST, BAD_RETAIN_KEYS, BAD_SET_ELEMENT_ORDER,
                          UNSUPPORTED_FORMAT})
_UNPROCESSABLE = frozenset({NO_LIST_OF_LISTS, RETAIN_KEYS_MISMATCH})
UNPROCESSABLE_MESSAGE = "the server rejected our request due to an error in our request"


class _PatchError(Exception):
    pass


def unprocessable() -> StatusError:
    """The 422 upstream's NewGenericServerResponse builds: a fixed message, empty details."""
    return StatusError(422, "Invalid", UNPROCESSABLE_MESSAGE, {})


def _status(message: str) -> StatusError:
    if message in _BAD_REQUEST:
        return StatusError(400, "BadRequest", message)
    if message in _UNPROCESSABLE:
        return unprocessable()
    # upstream hands a plain Go error to the response writer: 500, reason unknown
    return StatusError(500, "", message)


def strategic_merge_patch(original: dict, patch: dict, node: Optional[SchemaNode]) -> dict:
    """Apply a strategic merge patch to ``original`` (not modified) and return the result.

    ``node`` is the schema of the object's kind (``schema.node_for(group, version, kind)``);
    None means no field metadata at all (every list is replaced).  Raises StatusError with
    upstream's code and message when the patch is malformed.
    """
    if patch is None:
        return _copy(original)
    try:
        return _merge_map(_copy(original), _copy(patch), node)
    except _PatchError as err:
        raise _status(str(err)) from None
    except (RecursionError, TypeError):  # nested deeper than the codec can write
        raise unprocessable() from None


def _copy(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


# --- helpers mirroring Go's notion of a value's type ---------------------------------------


def _go_type(value: Any) -> type:
    # bool before int: JSON true is not the number 1
    return bool if isinstance(value, bool) else type(value)


def _same(a: Any, b: Any) -> bool:
    """Go's == on two interface{} values holding scalars: same dynamic type and value."""
    return _go_type(a) is _go_type(b) and a == b


def _key_of(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return ("unhashable", id(value))
    return (_go_type(value), value)


def _no_merge_key(item: Any, merge_key: str) -> _PatchError:
    return _PatchError(f"map: {go_value(item)} does not contain declared merge key: {merge_key}")


def _bad_arg_type(expected: str, actual: Any) -> _PatchError:
    return _PatchError(f"expected a {expected}, but received a {type_name(actual)}")


def _bad_patch_type(directive: Any, item: dict) -> _PatchError:
    return _PatchError(f"unknown patch type: {go_string(directive)} in map: {go_value(item)}")


def _patch_meta(node: Optional[SchemaNode]) -> tuple[str, str]:
    """(strategy without retainKeys, merge key) of a field."""
    if node is None:
        return "", ""
    declared = node.patch_strategy or ""
    strategies = declared.split(",") if declared else []
    if len(strategies) == 1:
        strategy = "" if strategies[0] == "retainKeys" else strategies[0]
    elif len(strategies) == 2 and "retainKeys" in strategies:
        strategy = strategies[1] if strategies[0] == "retainKeys" else strategies[0]
    elif strategies:
        raise _PatchError(f"unexpected patch strategy: [{' '.join(strategies)}]")
    else:
        strategy = ""
    return strategy, node.patch_merge_key or ""


def _child(node: Optional[SchemaNode], key: str) -> Optional[SchemaNode]:
    return node.child(key) if node is not None else None


def _items(node: Optional[SchemaNode]) -> Optional[SchemaNode]:
    return node.items() if node is not None else None


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _PatchError(BAD_PRIMITIVE_LIST if prefix == DELETE_PREFIX else BAD_SET_ELEMENT_ORDER)
    return rest


def _element_type(*lists: list) -> type:
    """The one Go type of every element of the lists (sliceElementType)."""
    seen: Optional[type] = None
    for values in lists:
        for value in values:
            current = _go_type(value)
            if seen is None:
                if current is list:
                    raise _PatchError(NO_LIST_OF_LISTS)
                seen = current
            elif current is not seen:
                raise _PatchError("list element types are not identical: "
                                  + "[" + " ".join(go_value(v) for v in lists) + "]")
    if seen is None:
        raise _PatchError("no elements in any of the given slices")
    return seen


# --- values the patch introduces ----------------------------------------------------------


def _fresh(value: Any, node: Optional[SchemaNode]) -> tuple[Any, bool]:
    """A patch value with nothing to merge into: nulls and directives resolved.

    Returns (value, keep); a map carrying ``$patch`` is dropped, as upstream does.
    """
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        return _merge_map({}, value, node), True
    if isinstance(value, list):
        items = _items(node)
        kept = []
        for item in value:
            cleaned, keep = _fresh(item, items)
            if keep:
                kept.append(cleaned)
        return kept, True
    return value, True


# --- maps -------------------------------------------------------------------------------


def _merge_map(original: dict, patch: dict, node: Optional[SchemaNode]) -> dict:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            del patch[DIRECTIVE]
            return _fresh(patch, node)[0]
        if directive == "delete":
            return {}
        raise _bad_patch_type(directive, patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)

    for key, value in list(patch.items()):
        deletion_list = key.startswith(DELETE_PREFIX)
        if deletion_list:
            key = _extract_key(key, DELETE_PREFIX)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or _go_type(original[key]) is not _go_type(value):
            if not deletion_list:
                fresh, keep = _fresh(value, _child(node, key))
                if keep:
                    original[key] = fresh
                else:
                    original.pop(key, None)
            continue
        current = original[key]
        child = _child(node, key)
        if isinstance(current, dict):
            strategy, _ = _patch_meta(child)
            if strategy == "replace":
                original[key] = _fresh(value, child)[0]
            else:
                original[key] = _merge_map(current, value, child)
        elif isinstance(current, list):
            if child is None and deletion_list:
                # unknown field: still honour the deletion list rather than store it
                original[key] = _delete_from_list(current, value)
                continue
            strategy, merge_key = _patch_meta(child)
            original[key] = _merge_list_field(current, value, child, strategy, merge_key, deletion_list)
        else:
            original[key] = value
    return original


def _apply_retain_keys(original: dict, patch: dict) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _PatchError(BAD_RETAIN_KEYS)
    keep = {_key_of(v) for v in retain}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_PREFIX) or key.startswith(ORDER_PREFIX):
            continue
        if _key_of(key) not in keep:
            raise _PatchError(BAD_RETAIN_KEYS)
    for key in list(original):
        if _key_of(key) not in keep:
            del original[key]


def _merge_ordered_lists(original: dict, patch: dict, node: Optional[SchemaNode]) -> None:
    """Process every ``$setElementOrder/<field>`` together with ``<field>`` of the patch."""
    for directive_key in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        key = _extract_key(directive_key, ORDER_PREFIX)
        # a stored null is no list at all (a Go struct cannot hold one)
        in_original, in_patch = original.get(key) is not None, key in patch
        current, incoming = original.get(key), patch.get(key)
        if in_original and not isinstance(current, list):
            raise _bad_arg_type("[]interface {}", current)
        if in_patch and not isinstance(incoming, list):
            raise _bad_arg_type("[]interface {}", incoming)
        child = _child(node, key)
        strategy, merge_key = _patch_meta(child)
        _check_against_order(incoming or [], order, merge_key)

        if in_original and not in_patch:
            merged = current
        elif in_patch and not in_original:
            merged = _fresh(incoming, child)[0]
        elif in_original and in_patch:
            merged = _merge_list_field(current, incoming, child, strategy, merge_key, False)
        else:
            continue
        if merge_key:
            ordered, server_only = _partition_maps(merged, order, merge_key)
        else:
            ordered, server_only = _partition_scalars(merged, order)
        element = _element_type(current or [], incoming or [])
        original[key] = _normalize_order(ordered, server_only, order, current or [], merge_key,
                                         element is dict)
        patch.pop(key, None)


def _check_against_order(items: list, order: list, merge_key: str) -> None:
    """The patch list must follow the relative order of the $setElementOrder list."""
    if not order or not items:
        return
    if merge_key:
        for item in items:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
        candidates = [item for item in items if item.get(DIRECTIVE) != "delete"]
    else:
        candidates = items
    i = j = 0
    while i < len(candidates) and j < len(order):
        if isinstance(candidates[i], dict) and DIRECTIVE in candidates[i]:
            i += 1
            continue
        if _merge_key_equal(candidates[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(candidates) and j >= len(order):
        raise _PatchError(f"The order in patch list:\n{go_value(items)}\n doesn't match "
                          f"{ORDER_PREFIX} list:\n{go_value(order)}\n")


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _bad_arg_type("map[string]interface {}", side)
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _same(left[merge_key], right[merge_key])


# --- lists ------------------------------------------------------------------------------


def _merge_list_field(current: list, incoming: list, node: Optional[SchemaNode], strategy: str,
                      merge_key: str, deletion_list: bool) -> list:
    if strategy == "merge":
        return _merge_list(current, incoming, _items(node), merge_key, deletion_list)
    return _fresh(incoming, node)[0]


def _merge_list(original: list, patch: list, items: Optional[SchemaNode], merge_key: str,
                deletion_list: bool) -> list:
    if not original and not patch:
        return original
    element = _element_type(original, patch)
    if element is not dict:
        if deletion_list:
            return _delete_from_list(original, patch)
        merged = _dedupe_scalars(original + patch)
    else:
        if not merge_key:
            raise _PatchError("cannot merge lists without merge key for type struct")
        original, patch = _special_items(original, patch, merge_key, items)
        merged = _merge_by_key(original, patch, merge_key, items)
    if merge_key:
        ordered, server_only = _partition_maps(merged, patch, merge_key)
    else:
        ordered, server_only = _partition_scalars(merged, patch)
    return _normalize_order(ordered, server_only, patch, original, merge_key, element is dict)


def _delete_from_list(current: list, to_delete: list) -> list:
    gone = {_key_of(v) for v in to_delete}
    return [v for v in current if _key_of(v) not in gone]


def _dedupe_scalars(values: list) -> list:
    # Go's in-place dedupe moves the last element into each duplicate's slot; keep that order
    values = list(values)
    length = len(values) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _same(values[i], values[j]):
                values[j] = values[length]
                values = values[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return values


def _special_items(original: list, patch: list, merge_key: str,
                   items: Optional[SchemaNode]) -> tuple[list, list]:
    """Apply ``$patch`` items of a merge list; return the remaining original and patch."""
    plain: list = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            original = [o for o in original if not _matches(o, merge_key, item[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return [_fresh(item, items)[0] for item in plain], []
    return original, plain


def _matches(item: Any, merge_key: str, value: Any) -> bool:
    if not isinstance(item, dict):
        raise _PatchError("value for key 0 is not a map.")
    return merge_key in item and _same(item[merge_key], value)


def _find(values: list, merge_key: str, value: Any) -> int:
    for index, item in enumerate(values):
        if not isinstance(item, dict):
            raise _PatchError(f"value for key {index} is not a map.")
        if merge_key in item and _same(item[merge_key], value):
            return index
    return -1


def _merge_by_key(original: list, patch: list, merge_key: str, items: Optional[SchemaNode]) -> list:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        index = _find(merged, merge_key, item[merge_key])
        if index >= 0:
            merged[index] = _merge_map(merged[index], item, items)
        else:
            merged.append(_fresh(item, items)[0])
    return merged


def _partition_scalars(merged: list, by: list) -> tuple[list, list]:
    wanted = {_key_of(v) for v in by}
    inside = [v for v in merged if _key_of(v) in wanted]
    outside = [v for v in merged if _key_of(v) not in wanted]
    return inside, outside


def _partition_maps(merged: list, by: list, merge_key: str) -> tuple[list, list]:
    inside, outside = [], []
    for item in merged:
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        (inside if _find(by, merge_key, item[merge_key]) >= 0 else outside).append(item)
    return inside, outside


def _index(values: list, item: Any, merge_key: str, maps: bool) -> int:
    def key(v: Any) -> Any:
        if maps:
            return v.get(merge_key) if isinstance(v, dict) else None
        return v

    wanted = key(item)
    for i, v in enumerate(values):
        if _same(key(v), wanted):
            return i
    return -1


def _sort_by(values: list, order: list, merge_key: str, maps: bool) -> list:
    """Sort ``values`` by their position in ``order`` (normalizeSliceOrder)."""
    deleted: list = []
    if maps:
        for side in (values, order):
            for item in side:
                if not isinstance(item, dict):
                    raise _bad_arg_type("map[string]interface {}", item)
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
        deleted = [v for v in values if v.get(DIRECTIVE) == "delete"]
        values = [v for v in values if v.get(DIRECTIVE) != "delete"]
    positions = [_index(order, v, merge_key, maps) for v in values]
    if all(p >= 0 for p in positions):
        ranked = sorted(range(len(values)), key=positions.__getitem__)
        values = [values[i] for i in ranked]
    else:
        # Go's comparator says "less" whenever either side is unknown; its stable sort is an
        # insertion sort on short lists, which this reproduces
        values = list(values)
        positions = list(positions)
        for i in range(1, len(values)):
            j = i
            while j > 0 and (positions[j] < 0 or positions[j - 1] < 0 or positions[j] < positions[j - 1]):
                values[j], values[j - 1] = values[j - 1], values[j]
                positions[j], positions[j - 1] = positions[j - 1], positions[j]
                j -= 1
    return values + deleted


def _normalize_order(patch_items: list, server_only: list, patch_order: list, server_order: list,
                     merge_key: str, maps: bool) -> list:
    """Patch items in patch order, live-only items in live order, then interleaved."""
    patch_items = _sort_by(patch_items, patch_order, merge_key, maps)
    server_only = _sort_by(server_only, server_order, merge_key, maps)
    result: list = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            result.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            result.append(server_only[i])
            i += 1
        else:
            left = _index(server_order, server_only[i], merge_key, maps)
            right = _index(server_order, patch_items[j], merge_key, maps)
            if left >= 0 and right >= 0 and left < right:
                result.append(server_only[i])
                i += 1
            else:
                result.append(patch_items[j])
                j += 1
    return result

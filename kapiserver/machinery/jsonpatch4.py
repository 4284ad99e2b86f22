"""
JSON patch (RFC 6902) as upstream applies it: evanphx/json-patch v4, the library behind both the API's
application/json-patch+json PATCH and a mutating webhook's patch.  Its readings of the RFC are kept: a replace
of an absent object key adds it, a test of null passes on an absent key, a copy from an absent key copies null,
array indices may count from the end, the first path segment is read as the root's; its errors are worded as
that library words them (a webhook's 500 shows them; the API's 422 does not).
"""

from __future__ import annotations

import copy

from .gojson import go_quote, json_kind


class PatchError(Exception):
    """An operation that does not apply, in the library's words."""


_MISSING = ": missing value"
_INVALID_INDEX = ": invalid index referenced"


def _v4_key(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _v4_index(key: str) -> int:
    """strconv.Atoi; a PatchError in its words for anything else."""
    text = key[1:] if key[:1] in "+-" and len(key) > 1 else key
    if not text.isascii() or not text.isdigit():
        raise PatchError(f"strconv.Atoi: parsing {go_quote(key)}: invalid syntax")
    return int(key, 10)


def _v4_get(container, key: str):
    """partialDoc.get (an absent key is None) and partialArray.get (negative indices count from the end)."""
    if isinstance(container, dict):
        return container.get(key)
    index = _v4_index(key)
    if index < 0:
        if index < -len(container):
            raise PatchError(f"Unable to access invalid index: {index}{_INVALID_INDEX}")
        index += len(container)
    if index >= len(container):
        raise PatchError(f"Unable to access invalid index: {index}{_INVALID_INDEX}")
    return container[index]


def _v4_add(container, key: str, value) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _v4_index(key)
    except PatchError as e:
        raise PatchError(f"value was not a proper array index: '{key}': {e}") from None
    size = len(container) + 1
    if index >= size or index < -size:
        raise PatchError(f"Unable to access invalid index: {index}{_INVALID_INDEX}")
    container.insert(index + size if index < 0 else index, value)


def _v4_remove(container, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"Unable to remove nonexistent key: {key}{_MISSING}")
        del container[key]
        return
    index = _v4_index(key)
    if index >= len(container) or index < -len(container):
        raise PatchError(f"Unable to access invalid index: {index}{_INVALID_INDEX}")
    del container[index]


def _v4_find(document, path: str):
    """findObject: the container of the path's last token and that token, or (None, "")."""
    split = path.split("/")
    if len(split) < 2:
        return None, ""
    current = document
    for part in split[1:-1]:
        try:
            current = _v4_get(current, _v4_key(part))
        except PatchError:
            return None, ""
        if not isinstance(current, (dict, list)):
            return None, ""
    return current, _v4_key(split[-1])


def _v4_equal(a, b) -> bool:
    """JSON equality (a bool is never a number)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_v4_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_v4_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _v4_operation(document, op: dict):
    """One operation of a v4 Patch.Apply on ``document`` (changed in place); the document."""
    kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        raise PatchError(f"Unexpected kind: {kind}")
    path = op.get("path")
    if path is not None and not isinstance(path, str):
        path_problem = f"json: cannot unmarshal {json_kind(path)} into Go value of type string"
    else:
        path_problem = None if path is not None else f"operation missing path field{_MISSING}"
    # What goes into the document is a copy (the operation may be applied again); test only compares.
    value = op.get("value") if kind in ("test", "remove", "move", "copy") else copy.deepcopy(op.get("value"))
    if kind in ("add", "remove"):
        if path_problem:
            raise PatchError(f"{kind} operation failed to decode path{_MISSING}")
        container, key = _v4_find(document, path)
        if container is None:
            raise PatchError(f'{kind} operation does not apply: doc is missing path: "{path}"{_MISSING}')
        try:
            _v4_add(container, key, value) if kind == "add" else _v4_remove(container, key)
        except PatchError as e:
            raise PatchError(f"error in {kind} for path: '{path}': {e}") from None
        return document
    if kind == "replace":
        if path_problem:
            raise PatchError(f"replace operation failed to decode path: {path_problem}")
        if path == "":
            return value if isinstance(value, (dict, list)) else document
        container, key = _v4_find(document, path)
        if container is None:
            raise PatchError(f"replace operation does not apply: doc is missing path: {path}{_MISSING}")
        if isinstance(container, list):
            try:
                index = _v4_index(key)
                _v4_get(container, key)
            except PatchError:
                raise PatchError(f"replace operation does not apply: doc is missing key: {path}{_MISSING}") \
                    from None
            container[index] = value
        else:
            container[key] = value
        return document
    if kind == "test":
        if path_problem:
            raise PatchError(f"test operation failed to decode path: {path_problem}")
        if path == "":
            if _v4_equal(document, value):
                return document
            raise PatchError(f"testing value {path} failed: test failed")
        container, key = _v4_find(document, path)
        if container is None:
            raise PatchError(f"test operation does not apply: is missing path: {path}{_MISSING}")
        try:
            found = _v4_get(container, key)
        except PatchError as e:
            raise PatchError(f"error in test for path: '{path}': {e}") from None
        if (found is None and value is None) or (found is not None and _v4_equal(found, value)):
            return document
        raise PatchError(f"testing value {path} failed: test failed")
    # move and copy
    source = op.get("from")
    if not isinstance(source, str):
        why = f"operation, missing from field{_MISSING}" if source is None else \
            f"json: cannot unmarshal {json_kind(source)} into Go value of type string"
        raise PatchError(f"{kind} operation failed to decode from: {why}")
    container, key = _v4_find(document, source)
    if container is None:
        raise PatchError(f"{kind} operation does not apply: doc is missing from path: {source}{_MISSING}")
    try:
        moved = _v4_get(container, key)
    except PatchError as e:
        raise PatchError(f"error in move for path: '{key}': {e}" if kind == "move" else
                          f"error in copy for from: '{source}': {e}") from None
    if kind == "move":
        try:
            _v4_remove(container, key)
        except PatchError as e:
            raise PatchError(f"error in move for path: '{key}': {e}") from None
    if path_problem:
        raise PatchError(f"move operation failed to decode path: {path_problem}" if kind == "move" else
                          f"copy operation failed to decode path{_MISSING}")
    container, key = _v4_find(document, path)
    if container is None:
        raise PatchError(f"{kind} operation does not apply: doc is missing destination path: {path}{_MISSING}")
    try:
        _v4_add(container, key, moved if kind == "move" else copy.deepcopy(moved))
    except PatchError as e:
        raise PatchError(f"error in move for path: '{path}': {e}" if kind == "move" else
                          f"error while adding value during copy: {e}") from None
    return document


def apply(document, operations: list):
    """``operations`` applied to ``document`` in place (an operation that is no object reads as one with no
    fields); the patched document, which is another object when a replace of the root makes it one.  Raises
    PatchError."""
    for op in operations:
        document = _v4_operation(document, op if isinstance(op, dict) else {})
    return document

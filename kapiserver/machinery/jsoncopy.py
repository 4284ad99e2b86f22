"""
A deep copy specialised for JSON-shaped values: dicts, lists and immutable scalars (str, int, float,
bool, None), which is what request bodies and stored objects decode to.  Several times faster than
``copy.deepcopy`` (no memo, no dispatch per value); anything else (a tuple, a dict subclass, a value a
YAML body made) is handed to ``copy.deepcopy``, so the result is always a deep copy.  Unlike
``copy.deepcopy`` a container met twice is copied twice (decoded JSON shares none).
"""

from __future__ import annotations

import copy
from typing import Any

# Values kept as they are: immutable, and nothing inside them to copy.
_IMMUTABLE = frozenset((str, int, float, bool, type(None)))


def json_copy(value: Any, _immutable=_IMMUTABLE, _type=type) -> Any:
    """A deep copy of ``value``: new dicts and lists all the way down, the scalars shared."""
    kind = _type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            out[key] = item if _type(item) in _immutable else json_copy(item)
        return out
    if kind is list:
        return [item if _type(item) in _immutable else json_copy(item) for item in value]
    if kind in _immutable:
        return value
    return copy.deepcopy(value)

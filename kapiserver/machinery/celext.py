"""
cel-go's extension libraries as Kubernetes' CEL environment enables them: strings (version 2), lists,
regular expressions (RE2) and optionals.  Their functions are ``FUNCTIONS``; a failed call returns a
CELEvalError worded as cel-go's.
"""

from __future__ import annotations

import celpy
from celpy import celtypes

from . import goregex


class Optional_:
    """CEL's optional type, enough for ``optionalOldSelf`` rules."""

    def __init__(self, value=None, present: bool = False):
        self.value, self.present = value, present


def optional_select(opt: "Optional_", key):
    """``opt.f`` / ``opt[k]``: the optional of what the held value has there, else optional.none()."""
    if opt.present and isinstance(opt.value, celtypes.MapType) and key in opt.value:
        return Optional_(opt.value[key], True)
    if opt.present and isinstance(opt.value, celtypes.ListType) and isinstance(key, celtypes.IntType) \
            and not isinstance(key, celtypes.BoolType) and 0 <= key < len(opt.value):
        return Optional_(opt.value[int(key)], True)
    return Optional_()


def eval_error(message: str, exc=ValueError):
    return celpy.CELEvalError(message, exc, None)


def _index_of(target, item, *start):
    if isinstance(target, str):
        return celtypes.IntType(target.find(item, *(int(s) for s in start)))
    for index, value in enumerate(target):
        if value == item:
            return celtypes.IntType(index)
    return celtypes.IntType(-1)


def _last_index_of(target, item):
    if isinstance(target, str):
        return celtypes.IntType(target.rfind(item))
    for index in range(len(target) - 1, -1, -1):
        if target[index] == item:
            return celtypes.IntType(index)
    return celtypes.IntType(-1)


def _substring(text, start, end=None):
    start, end = int(start), len(text) if end is None else int(end)
    if not 0 <= start <= end <= len(text):
        return eval_error(f"index out of range: {end if end > len(text) else start}", IndexError)
    return celtypes.StringType(text[start:end])


def _char_at(text, index):
    """The character at ``index``; the length itself gives "", past it (or below 0) is an error."""
    if not 0 <= int(index) <= len(text):
        return eval_error(f"index out of range: {int(index)}", IndexError)
    return celtypes.StringType(text[int(index)] if int(index) < len(text) else "")


def _split(text, separator, limit=None):
    parts = text.split(separator) if limit is None or int(limit) < 0 else \
        text.split(separator, max(int(limit) - 1, 0)) if int(limit) else []
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _is_sorted(items):
    return celtypes.BoolType(all(items[i] <= items[i + 1] for i in range(len(items) - 1)))


def _sum(items):
    total = items[0] if items else celtypes.IntType(0)
    for item in items[1:]:
        total = total + item
    return total


def _extreme(pick):
    def function(*args):
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        if not items:
            return eval_error("min/max of an empty list", ValueError)
        return pick(items)
    return function


# Regular expressions are Go's (RE2); a pattern Go refuses is an error of the call, worded as cel-go's
# matches() and the Kubernetes regex library's find()/findAll() word it.
def _matches(text, pattern):
    try:
        return celtypes.BoolType(goregex.compile(pattern).search(text) is not None)
    except goregex.RegexpError as e:
        return eval_error(str(e))


def _find(text, pattern):
    try:
        return celtypes.StringType(goregex.find(pattern, text))
    except goregex.RegexpError as e:
        return eval_error(f"Illegal regex: {e}")


def _find_all(text, pattern, limit=-1):
    try:
        found = goregex.find_all(pattern, text, int(limit))
    except goregex.RegexpError as e:
        return eval_error(f"Illegal regex: {e}")
    return celtypes.ListType([celtypes.StringType(s) for s in found])


def _optional_value(opt):
    if not isinstance(opt, Optional_):
        return eval_error("no such overload", TypeError)
    return opt.value if opt.present else eval_error("optional.none() dereference", ValueError)


FUNCTIONS = {
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: celtypes.StringType(s.lower()),
    "upperAscii": lambda s: celtypes.StringType(s.upper()),
    "replace": lambda s, old, new, n=-1: celtypes.StringType(s.replace(old, new, int(n))),
    "split": _split,
    "substring": _substring,
    "trim": lambda s: celtypes.StringType(s.strip()),
    "join": lambda items, sep="": celtypes.StringType(str(sep).join(items)),
    "isSorted": _is_sorted,
    "sum": _sum,
    "min": _extreme(min),
    "max": _extreme(max),
    "matches": _matches,
    "find": _find,
    "findAll": _find_all,
    "hasValue": lambda opt: celtypes.BoolType(isinstance(opt, Optional_) and opt.present),
    "value": _optional_value,
    "orValue": lambda opt, default: opt.value if isinstance(opt, Optional_) and opt.present else default,
}

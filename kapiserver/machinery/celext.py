"""
cel-go's extension libraries as Kubernetes' CEL environment enables them: strings (version 2, in
celstrings), Kubernetes' lists, regular expressions (RE2) and optionals (``optional.of(x)``,
``optional.none()``, ``optional.ofNonZeroValue(x)``, ``hasValue()``, ``value()``, ``orValue(x)``, ``or(o)``; the
``a.?f`` and ``a[?k]`` syntax and the ``optMap``/``optFlatMap`` macros are cel.py's).  Their functions are
``FUNCTIONS``; a failed call returns a CELEvalError worded as cel-go's.
"""

from __future__ import annotations

from celpy import celtypes

from . import celstrings, goregex
from .celconv import eval_error


class Optional_:
    """CEL's optional type: a value, or none.  Two optionals are equal when both are none or both hold equal
    values; an optional equals nothing else."""

    def __init__(self, value=None, present: bool = False):
        self.value, self.present = value, present

    def __eq__(self, other):
        if not isinstance(other, Optional_):
            return False
        return self.present == other.present and (not self.present or self.value == other.value)

    def __ne__(self, other):
        return not self == other

    __hash__ = None


OPTIONAL = "optional"     # the namespace of optional.of(), optional.none(), optional.ofNonZeroValue()


class _OptionalNamespace:
    def __repr__(self) -> str:
        return OPTIONAL


OPTIONAL_NAMESPACE = _OptionalNamespace()
OPTIONAL_CONSTRUCTORS = frozenset({"of", "none", "ofNonZeroValue"})


def optional_select(opt: "Optional_", key):
    """``opt.f`` / ``opt[k]``: the optional of what the held value has there, else optional.none()."""
    if opt.present and isinstance(opt.value, celtypes.MapType) and key in opt.value:
        return Optional_(opt.value[key], True)
    if opt.present and isinstance(opt.value, celtypes.ListType) and isinstance(key, celtypes.IntType) \
            and not isinstance(key, celtypes.BoolType) and 0 <= key < len(opt.value):
        return Optional_(opt.value[int(key)], True)
    return Optional_()


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


def _in_namespace(function):
    def call(namespace, *args):
        if namespace is not OPTIONAL_NAMESPACE:
            return eval_error("no such overload", TypeError)
        return function(*args)
    return call


def _zero(value) -> bool:
    """The value is its type's zero value (0, 0.0, "", b"", false, null, an empty list or map)."""
    if value is None or isinstance(value, (celtypes.BoolType, celtypes.IntType, celtypes.UintType,
                                           celtypes.DoubleType, celtypes.StringType, celtypes.BytesType,
                                           celtypes.ListType, celtypes.MapType)):
        return not value
    if isinstance(value, celtypes.DurationType):
        return value.total_seconds() == 0
    if isinstance(value, celtypes.TimestampType):
        return value.timestamp() == 0
    return False


def _or(opt, other):
    if not isinstance(opt, Optional_) or not isinstance(other, Optional_):
        return eval_error("no such overload", TypeError)
    return opt if opt.present else other


def _optional_value(opt):
    if not isinstance(opt, Optional_):
        return eval_error("no such overload", TypeError)
    return opt.value if opt.present else eval_error("optional.none() dereference", ValueError)


FUNCTIONS = {
    **celstrings.FUNCTIONS,
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
    "or": _or,
    "of": _in_namespace(lambda value: Optional_(value, True)),
    "none": _in_namespace(lambda: Optional_()),
    "ofNonZeroValue": _in_namespace(lambda value: Optional_(value, not _zero(value))),
}

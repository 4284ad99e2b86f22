r"""
Tables for custom resources: a CRD version's additionalPrinterColumns, as the
apiextensions-apiserver's table convertor prints them.

- Name comes first; without additionalPrinterColumns a CRD prints an ``Age`` date column.
- A column reads its JSONPath from the object; no value gives a null cell.  ``string``
  columns print the first value (maps and lists as compact JSON); ``integer``, ``number``
  and ``boolean`` keep JSON types; ``date`` prints an age (``<invalid>`` unless the string is an
  RFC 3339 time as Go parses one, ``<unknown>`` for an empty one or Go's zero time).

The JSONPath subset: ``.field``, ``['field']``, ``[n]`` and slices ``[start:end:step]`` (negative too, so
``[-1:]`` is the last element), ``[*]``, ``.*``, unions ``[0,2]``, recursive descent ``..field``,
``[?(@.path == 'value')]`` (and ``!=``, ``<``, ``<=``, ``>``, ``>=``, or bare ``@.path``).  Where client-go's
evaluation fails (an index out of range, a slice or filter of what is no list) the cell is null.
As in client-go's parser, a backslash puts the next character into a field name
(``.labels.app\.kubernetes\.io/name``), and ``['...']`` is read as if written ``.…``:
``['a.b']`` is the two fields ``a`` and ``b``, ``['a\.b']`` the one field ``a.b``.
"""

from __future__ import annotations

import decimal
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional

from ...machinery.gojson import go_float
from . import _base as b

# A field runs to the next terminator; a backslash makes the character after it part of the name.
_TERMINATORS = frozenset(".,[]$@{} \t\r\n")
# [start:end:step], each part optional; [n] is the one element n, [*] all of them
_SLICE = re.compile(r"(-?\d*)(:-?\d*)?(:-?\d*)?")
_DICT_KEY = re.compile(r"'([^']*)'")  # only single quotes make a dict key, as client-go's parser reads it
# client-go splits a filter at its first run of comparison characters: left, operator, right
_FILTER = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)", re.DOTALL)
_NUMBER = re.compile(r"[+-]?[\d.]*")
# [?(...)] ends at the first ")]" outside the filter's quoted literal
_FILTER_STEP = re.compile(r"""\[\?\(\s*((?:'[^']*'|"[^"]*"|[^'")])*?)\s*\)\s*\]""")


class JSONPathError(ValueError):
    pass


class _EvalError(Exception):
    """Where client-go's evaluation fails (an index out of range, a slice of what is no list...): the cell is
    null, whatever other values the path reached."""


def compile_path(expression: str) -> list[tuple]:
    """Steps of a column's JSONPath (``.spec.replicas``, ``{.spec.replicas}`` too)."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps = _steps(text)
    if steps is None:
        raise JSONPathError(f"unrecognized column definition {json.dumps(expression)}")
    return steps


def _field(text: str, pos: int) -> tuple[str, int]:
    """The field name starting at ``pos`` (escapes resolved) and where it ends."""
    start = pos
    while pos < len(text) and text[pos] not in _TERMINATORS:
        pos += 2 if text[pos] == "\\" else 1
    pos = min(pos, len(text))
    return text[start:pos].replace("\\", ""), pos


def _steps(text: str) -> Optional[list[tuple]]:
    steps: list[tuple] = []
    pos = 0
    while pos < len(text):
        if text[pos] == " ":
            pos += 1
        elif text.startswith("..", pos):
            if steps and steps[-1][0] == "recursive":
                return None  # client-go refuses a second recursive descent in a row
            steps.append(("recursive", None))
            pos += 2
            if pos < len(text) and (text[pos].isalnum() or text[pos] == "_"):
                name, pos = _field(text, pos)
                steps.append(("field", name))
        elif text[pos] == ".":
            name, pos = _field(text, pos + 1)
            steps.append(("all", None) if name == "*" else ("field", name))
        elif text.startswith("[?(", pos):
            match = _FILTER_STEP.match(text, pos)
            filter_ = None if match is None else _compile_filter(match.group(1))
            if filter_ is None:
                return None
            steps.append(("filter", filter_))
            pos = match.end()
        elif text[pos] == "[":
            close = text.find("]", pos)
            if close < 0:
                return None
            inner, pos = text[pos + 1:close], close + 1
            more = _array_steps(inner)
            if more is None:
                return None
            steps.extend(more)
        else:
            return None
    return steps


def _array_steps(inner: str) -> Optional[list[tuple]]:
    """What ``[inner]`` means, read in client-go's order: a comma makes a union of bracketed parts, a quoted
    key is a dotted path (``['a.b']`` is the two fields ``a`` and ``b``, ``['a\\.b']`` the one field ``a.b``),
    anything else must be a slice (``[n]``, ``[-1:]``, ``[::2]``, ``[*]``)."""
    if inner == "*":
        inner = ":"
    parts = inner.split(",")
    if len(parts) > 1:
        alternatives = [_steps("[" + part.strip(" ") + "]") for part in parts]
        return None if any(a is None for a in alternatives) else [("union", alternatives)]
    key = _DICT_KEY.fullmatch(inner)
    if key is not None:
        return _steps("." + key.group(1))
    match = _SLICE.fullmatch(inner)
    if match is None:
        return None
    start, end, step = match.groups()
    try:
        first = int(start) if start else None
        if end is None:  # [n]: the end is n + 1 (0 for [-1], read as "to the end")
            last, derived = (first or 0) + 1, True
        else:
            last, derived = (int(end[1:]) if end[1:] else None), False
        stride = int(step[1:]) if step and step[1:] else None
    except ValueError:  # a lone "-"
        return None
    return [("slice", (first, last, derived, stride))]


def _slice(values: list, params: tuple) -> list:
    """client-go's evalArray: bounds are checked (an error, not an empty result), an empty range ends the
    evaluation with what earlier values gave."""
    first, last, derived, stride = params
    found: list = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise _EvalError("not an array")
        length = len(value)
        start = 0 if first is None else first
        if start < 0:
            start += length
        end = length if last is None else last
        if end < 0 or (end == 0 and derived):
            end += length
        if end == start:
            return found
        if not 0 <= start < length or not 0 <= end <= length or start > end:
            raise _EvalError("array index out of bounds")
        if stride is not None and stride <= 0:
            raise _EvalError("step must be > 0")
        found.extend(value[start:end:stride or 1])
    return found


def _descendants(values: list) -> list:
    """client-go's evalRecursive: every value that has children (a string's are its bytes), then theirs."""
    found: list = []
    for value in values:
        if isinstance(value, Mapping):
            children = [value[k] for k in sorted(value)]
        elif isinstance(value, list):
            children = list(value)
        elif isinstance(value, str):
            children = list(value.encode())
        else:
            children = []
        if children:
            found.append(value)
            found.extend(_descendants(children))
    return found


def _compile_filter(text: str):
    """(left, operator, right) of a filter, each side a ("path", steps) or ("literal", value); a filter of no
    operator tests that its path exists (operator None)."""
    match = _FILTER.fullmatch(text)
    if match is None:
        left = _operand(text)
        return None if left is None else (left, None, None)
    left, right = _operand(match.group(1)), _operand(match.group(3))
    if left is None or right is None:
        return None
    return left, match.group(2), right


def _operand(text: str) -> Optional[tuple]:
    """A filter side as client-go parses it: @ (or $) and a path from the item, a quoted string, true or false,
    or a number (an int if it is one, else a float)."""
    text = text.strip(" \t")
    if text[:1] in ("@", "$"):
        steps = _steps(text[1:])
        return None if steps is None else ("path", steps)
    if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]:
        return ("literal", re.sub(r"\\(.)", r"\1", text[1:-1]))
    if text in ("true", "false"):
        return ("literal", text == "true")
    if text and _NUMBER.fullmatch(text):
        try:
            return ("literal", int(text))
        except ValueError:
            try:
                return ("literal", float(text))
            except ValueError:
                return None
    return None


def _side(operand: tuple, item: Any) -> list:
    kind, arg = operand
    return _walk(arg, [item]) if kind == "path" else [arg]


def _kind(value: Any) -> str:
    # the basic kinds of client-go's forked template comparisons; anything else cannot be compared
    for python_type, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(_decoded(value), python_type):
            return kind
    raise _EvalError("invalid type for comparison")


def _equal(left: Any, right: Any) -> bool:
    if _kind(left) != _kind(right):
        raise _EvalError("incompatible types for comparison")
    return left == right


def _less(left: Any, right: Any) -> bool:
    kind = _kind(left)
    if kind != _kind(right):
        raise _EvalError("incompatible types for comparison")
    if kind == "bool":
        raise _EvalError("invalid type for comparison")
    return left < right


_OPERATORS = {"==": _equal, "!=": lambda a, b: not _equal(a, b), "<": _less,
              "<=": lambda a, b: _less(a, b) or _equal(a, b), ">": lambda a, b: not (_less(a, b) or _equal(a, b)),
              ">=": lambda a, b: not _less(a, b)}


def _filter(values: list, arg: tuple) -> list:
    """client-go's evalFilter: each item of each list whose comparison holds.  Values of different kinds (a
    number and a string, an int and a float, a null) cannot be compared: that is an error, as an unknown
    operator, a side that reaches more than one value, or a filter of what is no list."""
    left, op, right = arg
    found = []
    for value in values:
        if not isinstance(value, list):
            raise _EvalError("not an array to filter")
        for item in value:
            if op is None:
                try:
                    exists = bool(_side(left, item))
                except _EvalError:
                    exists = True  # client-go tests what its failed evaluation returned: the value it failed on
                if exists:
                    found.append(item)
                continue
            lefts = _side(left, item)
            if not lefts:
                continue
            rights = _side(right, item)
            if len(lefts) > 1 or len(rights) > 1:
                raise _EvalError("can only compare one element at a time")
            if not rights:
                continue
            if op not in _OPERATORS:
                raise _EvalError(f"unrecognized filter operator {op}")
            if _OPERATORS[op](lefts[0], rights[0]):
                found.append(item)
    return found


def find(steps: list[tuple], data: Any) -> list[Any]:
    """Every value the path reaches, in document order (map keys sorted); none where client-go's evaluation
    fails."""
    try:
        return _walk(steps, [data])
    except _EvalError:
        return []


def _walk(steps: list[tuple], current: list) -> list:
    for kind, arg in steps:
        if kind == "slice":
            current = _slice(current, arg)
            continue
        if kind == "union":
            current = [value for alternative in arg for value in _walk(alternative, current)]
            continue
        if kind == "recursive":
            current = _descendants(current)
            continue
        if kind == "filter":
            current = _filter(current, arg)
            continue
        found = []
        for value in current:
            if kind == "field":
                if isinstance(value, Mapping) and arg in value:
                    found.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, Mapping):
                    found.extend(value[k] for k in sorted(value))
        current = found
    return current


def _go_json(value: Any) -> str:
    """encoding/json's Marshal: sorted keys, compact, Go's float forms, and <, >, &, U+2028 and U+2029 escaped."""
    text = _go_json_value(value)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)  # these only ever stand inside strings
    return text


def _go_json_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_go_json_value(str(k))}:{_go_json_value(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_go_json_value(item) for item in value) + "]"
    value = _decoded(value)
    if isinstance(value, float):
        return _go_json_float(value)
    return json.dumps(value, ensure_ascii=False)


def _go_json_float(value: float) -> str:
    # the shortest digits, positional from 1e-6 up to 1e21 ("3", not "3.0"), else an exponent without padding
    size = abs(value)
    if size != 0 and (size < 1e-6 or size >= 1e21):
        mantissa, exponent = repr(value).split("e")
        return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0') or '0'}"
    text = format(decimal.Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _go_print(value: Any) -> str:
    """fmt.Fprint of a decoded JSON value, as jsonpath prints a scalar."""
    if isinstance(value, (Mapping, list)):
        return _go_json(value)
    if value is None:
        return "<no value>"  # what Go's template printer makes of a JSON null
    if isinstance(value, bool):
        return "true" if value else "false"
    value = _decoded(value)
    if isinstance(value, float):
        return go_float(value)  # %v: an exponent below 1e-4 and from 1e6
    return str(value)


def _decoded(value: Any) -> Any:
    """A JSON number as Go's unstructured decoding holds it: an integer past int64 is a float64."""
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    return value


_INT64_MIN, _INT64_MAX = -2 ** 63, 2 ** 63 - 1


def _go_int64(value: "int | float") -> int:
    """Go's int64() of a decoded JSON number, as upstream's table converter casts an integer column: an integer
    past int64 was decoded as a float64, and converting a float64 out of int64's range (or NaN) gives, on amd64,
    the smallest int64; a fraction is cut toward zero."""
    if isinstance(value, float) and (value != value or not _INT64_MIN <= value < 2.0 ** 63):
        return _INT64_MIN
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return _INT64_MIN
    return int(value)


def _cell(type_: str, value: Any, now: datetime) -> Any:
    if value is None:
        return None
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return _go_int64(value)
    elif type_ == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)  # Go's float64(), which rounds a large int
            # a whole float64 below 1e21 is written without a fraction by encoding/json ("3", not "3.0")
            return int(number) if number.is_integer() and abs(number) < 1e21 else number
    elif type_ == "boolean":
        if isinstance(value, bool):
            return value
    elif type_ == "string":
        if isinstance(value, str):
            return value
    elif type_ == "date":
        if isinstance(value, str):
            if value in ("", "null"):
                return "<unknown>"
            when = _rfc3339(value)
            if when is None:
                return "<invalid>"
            if when == _GO_ZERO_TIME:
                return "<unknown>"
            return b.since(when, now)
    return None


# Go's time.Parse(time.RFC3339, ...), as a date column's value is read: a date alone, a missing offset, a space
# for the T or a lower-case t or z fail; the hour may be one digit and the fraction follow a comma.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})")
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


def _rfc3339(text: str) -> Optional[datetime]:
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    offset = match.group(8)
    try:
        zone = timezone.utc if offset == "Z" else timezone(
            (-1 if offset[0] == "-" else 1) * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
    except ValueError:  # out of range: month 13, February 30, hour 24, offset 24:00...
        return None


_DEFAULT_COLUMNS = ({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                     "description": "<creationTimestamp>"},)


def custom_resource_printer(columns: Optional[Iterable[Mapping]] = None) -> b.Printer:
    """The printer of a CRD version from its ``additionalPrinterColumns`` (name, type, jsonPath,
    format?, description?, priority?).  As upstream's table convertor, the columns end before the first
    whose path cannot be read (a CRD may be stored with one: its validation checks only the leading dot)."""
    definitions = list(columns or []) or list(_DEFAULT_COLUMNS)
    paths = []
    for index, column in enumerate(definitions):
        try:
            paths.append(compile_path(column.get("jsonPath", "")))
        except JSONPathError:
            definitions = definitions[:index]
            break

    def headers() -> list[dict]:
        out = [b.name_column()]
        for c in definitions:
            description = c.get("description") or \
                f"Custom resource definition column (in JSONPath format): {c.get('jsonPath', '')}"
            if description == "<creationTimestamp>":  # the column served when a CRD declares none
                description = b.doc(b._META, "creationTimestamp")
            out.append(b.column(c.get("name", ""), c.get("type", ""), description, int(c.get("priority") or 0),
                                c.get("format", "")))
        return out

    def cells(obj: Mapping, now: datetime) -> list:
        row: list = [b.name(obj)]
        for c, steps in zip(definitions, paths):
            found = find(steps, obj)
            if not found:
                row.append(None)
            elif c.get("type") == "string":
                row.append(_go_print(found[0]))
            else:
                row.append(_cell(c.get("type", ""), found[0], now))
        return row

    return b.Printer(headers, cells)

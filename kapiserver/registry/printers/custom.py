r"""
Tables for custom resources: a CRD version's additionalPrinterColumns, as the
apiextensions-apiserver's table convertor prints them.

- Name comes first; without additionalPrinterColumns a CRD prints an ``Age`` date column.
- A column reads its JSONPath from the object; no value gives a null cell.  ``string``
  columns print the first value (maps and lists as compact JSON); ``integer``, ``number``
  and ``boolean`` keep JSON types; ``date`` prints an age (``<invalid>`` if unparseable).

The JSONPath subset: ``.field``, ``['field']``, ``[n]`` (negative too), ``[*]``, ``.*``,
``[?(@.path == 'value')]`` (and ``!=``, ``<``, ``<=``, ``>``, ``>=``, or bare ``@.path``).
As in client-go's parser, a backslash puts the next character into a field name
(``.labels.app\.kubernetes\.io/name``), and ``['...']`` is read as if written ``.…``:
``['a.b']`` is the two fields ``a`` and ``b``, ``['a\.b']`` the one field ``a.b``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional

from . import _base as b

_MISSING = object()
# A field runs to the next terminator; a backslash makes the character after it part of the name.
_TERMINATORS = frozenset(".,[]$@{} \t\r\n")
_INDEX = re.compile(r"-?\d+")
_DICT_KEY = re.compile(r"'([^']*)'")  # only single quotes make a dict key, as client-go's parser reads it
_FILTER = re.compile(r"""^@(?P<path>(?:\.(?:\\.|[^.\s=!<>\\])+)*)\s*
                         (?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?))?$""",
                     re.VERBOSE)
# [?(...)] ends at the first ")]" outside the filter's quoted literal
_FILTER_STEP = re.compile(r"""\[\?\(\s*((?:'[^']*'|"[^"]*"|[^'")])*?)\s*\)\s*\]""")


class JSONPathError(ValueError):
    pass


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
            return None  # recursive descent: not supported
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
            key = _DICT_KEY.fullmatch(inner)
            if inner == "*":
                steps.append(("all", None))
            elif _INDEX.fullmatch(inner.strip()):
                steps.append(("index", int(inner)))
            elif key is not None:
                # ['a.b'] reads as .a.b (two fields); ['a\\.b'] as the one field "a.b"
                more = _steps("." + key.group(1))
                if more is None:
                    return None
                steps.extend(more)
            elif len(inner) >= 2 and inner[0] == inner[-1] == '"':
                steps.append(("field", inner[1:-1]))
            else:
                return None
        else:
            return None
    return steps


def _compile_filter(text: str):
    match = _FILTER.match(text)
    if match is None:
        return None
    path = _steps(match.group("path"))
    literal = match.group("value")
    if literal is not None:
        if literal[0] in "'\"":
            literal = literal[1:-1]
        else:
            literal = float(literal) if "." in literal else int(literal)
    return path, match.group("op"), literal


def _compare(left: Any, op: Optional[str], right: Any) -> bool:
    if op is None:
        return left is not _MISSING
    if left is _MISSING:
        return False
    numbers = (int, float)
    if isinstance(right, numbers) and isinstance(left, numbers) and not isinstance(left, bool):
        pass
    elif isinstance(right, str) and isinstance(left, str):
        pass
    else:
        return op == "!="  # values of different kinds are never equal
    return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
            ">": left > right, ">=": left >= right}[op]


def find(steps: list[tuple], data: Any) -> list[Any]:
    """Every value the path reaches, in document order."""
    current = [data]
    for kind, arg in steps:
        found = []
        for value in current:
            if kind == "field":
                if isinstance(value, Mapping) and arg in value:
                    found.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    found.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, Mapping):
                    found.extend(value[k] for k in sorted(value))
            else:  # filter
                path, op, literal = arg
                if isinstance(value, list):
                    for item in value:
                        left = find(path, item) if path else [item]
                        if _compare(left[0] if left else _MISSING, op, literal):
                            found.append(item)
        current = found
    return current


def _go_json(value: Any) -> str:
    # encoding/json: sorted keys, compact, <, > and & escaped
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _go_print(value: Any) -> str:
    """fmt.Fprint of a decoded JSON value, as jsonpath prints a scalar."""
    if isinstance(value, (Mapping, list)):
        return _go_json(value)
    if value is None:
        return "<no value>"  # what Go's template printer makes of a JSON null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    # %v of a float64: the shortest representation, exponent form outside [1e-4, 1e21)
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    return text


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
            return float(value)
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
            when = b.parse_time(value)
            if when is None:
                return "<invalid>"
            return b.since(when, now)
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

"""
cel-go's strings extension at version 2, as Kubernetes enables it (ext.Strings(ext.StringsVersion(2))):
charAt, indexOf, lastIndexOf, lowerAscii, upperAscii, replace, split, substring, trim, join,
``format()`` and ``strings.quote()``.

- Indices count characters (runes), not bytes.
- ``lowerAscii``/``upperAscii`` change only ASCII letters; ``trim`` removes what Go's unicode.IsSpace
  calls space.
- ``'%s: %d'.format([a, b])`` takes cel-go's clauses %s %d %f %e %b %x %X %o (and %% for a percent sign);
  %f and %e are printed as cel-go's en_US locale prints them (``1,234.500000``, ``2.718280 × 10⁰⁰``).
"""

from __future__ import annotations

import math
from typing import Optional

from celpy import celtypes

from . import celconv
from .celconv import eval_error
from .gojson import go_quote

STRINGS = "strings"     # the namespace of strings.quote()


class _StringsNamespace:
    def __repr__(self) -> str:
        return STRINGS


STRINGS_NAMESPACE = _StringsNamespace()


def _index_of(target, item, *start):
    if not isinstance(target, str):
        for index, value in enumerate(target):      # Kubernetes' lists library
            if value == item:
                return celtypes.IntType(index)
        return celtypes.IntType(-1)
    offset = int(start[0]) if start else 0
    if item == "":
        return celtypes.IntType(offset)
    if offset < 0:
        return eval_error(f"index out of range: {offset}", IndexError)
    return celtypes.IntType(target.find(item, offset) if offset < len(target) else -1)


def _last_index_of(target, item, *start):
    if not isinstance(target, str):
        for index in range(len(target) - 1, -1, -1):
            if target[index] == item:
                return celtypes.IntType(index)
        return celtypes.IntType(-1)
    if not start:
        return celtypes.IntType(len(target) if item == "" else target.rfind(item))
    offset = int(start[0])
    if item == "":
        return celtypes.IntType(offset)
    if offset < 0:
        return eval_error(f"index out of range: {offset}", IndexError)
    if offset >= len(target):
        return celtypes.IntType(-1)
    return celtypes.IntType(target.rfind(item, 0, offset + len(item)))


def _substring(text, start, end=None):
    start, end = int(start), len(text) if end is None else int(end)
    if start > end:
        return eval_error(f"invalid substring range. start: {start}, end: {end}", IndexError)
    for index in (start, end):
        if not 0 <= index <= len(text):
            return eval_error(f"index out of range: {index}", IndexError)
    return celtypes.StringType(text[start:end])


def _char_at(text, index):
    """The character at ``index``; the length itself gives "", past it (or below 0) is an error."""
    if not 0 <= int(index) <= len(text):
        return eval_error(f"index out of range: {int(index)}", IndexError)
    return celtypes.StringType(text[int(index)] if int(index) < len(text) else "")


def _split(text, separator, limit=-1):
    limit = int(limit)
    if limit == 0:
        return celtypes.ListType([])
    if separator == "":     # Go splits into characters, the last one holding the rest
        parts = list(text) if limit < 0 or limit >= len(text) else list(text[:limit - 1]) + [text[limit - 1:]]
    else:
        parts = text.split(separator, -1 if limit < 0 else limit - 1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def _ascii(change):
    def function(text):
        return celtypes.StringType("".join(change(c) if c < "\x80" else c for c in text))
    return function


# Go's unicode.IsSpace: Python's whitespace less the separators U+001C..U+001F, which Go keeps.
_SPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace() and not 0x1c <= c <= 0x1f)


def _join(items, separator=""):
    for item in items:
        if not isinstance(item, str):
            return eval_error(f"join: invalid input: {celconv.to_string(item)}")
    return celtypes.StringType(str(separator).join(items))


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
                  "\\": "\\\\", '"': '\\"'}


def _quote(namespace, text):
    if namespace is not STRINGS_NAMESPACE or not isinstance(text, str):
        return eval_error("no such overload", TypeError)
    return celtypes.StringType('"' + "".join(_QUOTE_ESCAPES.get(c, c) for c in text) + '"')


# -- format() -----------------------------------------------------------------------------------------

class _FormatError(Exception):
    pass


def _is_int(value) -> bool:
    return isinstance(value, (celtypes.IntType, celtypes.UintType)) and not isinstance(value, celtypes.BoolType)


_STRING_CLAUSE = ("string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, "
                  "durations, and timestamps, was given {}")


def _as_string(value) -> str:
    """%s: cel-go's string() of a scalar, lists and maps as CEL literals."""
    if value is None:
        return "null"
    if isinstance(value, celtypes.ListType):
        return "[" + ", ".join(_member(v) for v in value) + "]"
    if isinstance(value, celtypes.MapType):
        pairs = []
        for key, item in value.items():
            if isinstance(key, (celtypes.StringType, celtypes.BoolType)):
                text = _quoted(key, _as_string(key))
            elif _is_int(key):
                text = str(int(key))
            else:
                raise _FormatError(f"no formatting function for map key of type {celconv.type_name(key)}")
            pairs.append((text, _member(item)))
        return "{" + ", ".join(f"{k}:{v}" for k, v in sorted(pairs, key=lambda p: p[0].encode())) + "}"
    if isinstance(value, celtypes.BytesType):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (celtypes.StringType, celtypes.BoolType, celtypes.IntType, celtypes.UintType,
                          celtypes.DoubleType, celtypes.DurationType, celtypes.TimestampType)):
        return str(celconv.to_string(value))
    if isinstance(value, celtypes.TypeType):
        return str(value)
    raise _FormatError(_STRING_CLAUSE.format(celconv.type_name(value)))


def _member(value) -> str:
    """A list item or map value inside %s."""
    if _is_int(value):
        text = str(int(value))
    elif isinstance(value, celtypes.DoubleType):
        text = _go_fixed(float(value), 6)
    elif isinstance(value, celtypes.TimestampType):
        text = f"timestamp({go_quote(celconv.timestamp_text(value))})"
    elif isinstance(value, celtypes.DurationType):
        text = f"duration({go_quote(celconv.duration_text(value))})"
    else:
        text = _as_string(value)
    return _quoted(value, text)


def _quoted(value, text: str) -> str:
    if isinstance(value, celtypes.StringType):
        return go_quote(text)
    if isinstance(value, celtypes.BytesType):
        return "b" + go_quote(bytes(value).decode("utf-8", "surrogateescape"))
    if isinstance(value, celtypes.DoubleType) and not math.isfinite(value):
        return go_quote(text)
    return text


def _go_fixed(x: float, precision: int) -> str:
    """Go's %.<precision>f."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return f"{x:.{precision}f}"


def _float_operand(value, clause: str) -> float:
    if isinstance(value, celtypes.StringType) and str(value) in ("NaN", "Infinity", "-Infinity"):
        return float(str(value).replace("Infinity", "inf"))
    if not isinstance(value, celtypes.DoubleType):
        raise _FormatError(f"{clause} clause can only be used on doubles, was given {celconv.type_name(value)}")
    return float(value)


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _not_finite(x: float) -> Optional[str]:
    """How cel-go's en_US printer writes a NaN or an infinity (None for a finite number)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return None


def _fixed_clause(value, precision) -> str:
    x = _float_operand(value, "fixed-point")
    if _not_finite(x):
        return _not_finite(x)
    return f"{x:,.{6 if precision is None else precision}f}"     # en_US groups thousands


def _scientific_clause(value, precision) -> str:
    # cel-go passes the precision as a width ("%6e"): the digits are always six
    x = _float_operand(value, "scientific")
    if _not_finite(x):
        return _not_finite(x)
    mantissa, _, exponent = f"{x:.6e}".partition("e")
    power = int(exponent)
    return f"{mantissa}\u202f×\u202f10" + f"{'-' if power < 0 else ''}{abs(power):02d}".translate(_SUPERSCRIPT)


def _decimal_clause(value, _) -> str:
    if not _is_int(value):
        raise _FormatError(f"decimal clause can only be used on integers, was given {celconv.type_name(value)}")
    return str(int(value))


def _binary_clause(value, _) -> str:
    if isinstance(value, celtypes.BoolType):
        return "1" if value else "0"
    if not _is_int(value):
        raise _FormatError("only integers and bools can be formatted as binary, was given "
                           f"{celconv.type_name(value)}")
    return format(int(value), "b")


def _octal_clause(value, _) -> str:
    if not _is_int(value):
        raise _FormatError(f"octal clause can only be used on integers, was given {celconv.type_name(value)}")
    return format(int(value), "o")


def _hex_clause(upper: bool):
    def clause(value, _) -> str:
        if _is_int(value):
            text = format(int(value), "x")
        elif isinstance(value, celtypes.StringType):
            text = str(value).encode("utf-8", "surrogatepass").hex()
        elif isinstance(value, celtypes.BytesType):
            text = bytes(value).hex()
        else:
            raise _FormatError("only integers, byte buffers, and strings can be formatted as hex, was given "
                               f"{celconv.type_name(value)}")
        return text.upper() if upper else text
    return clause


def _string_clause(value, _) -> str:
    return _as_string(value)


_CLAUSES = {"s": _string_clause, "d": _decimal_clause, "f": _fixed_clause, "e": _scientific_clause,
            "b": _binary_clause, "o": _octal_clause, "x": _hex_clause(False), "X": _hex_clause(True)}


def format_string(template: str, args: list) -> str:
    """cel-go's ``template.format(args)``; raises _FormatError with cel-go's text."""
    out, i, used = [], 0, 0
    while i < len(template):
        if template[i] != "%":
            out.append(template[i])
            i += 1
            continue
        if template[i + 1:i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if used >= len(args):
            raise _FormatError(f"index {used} out of range")
        if i + 1 >= len(template):
            raise _FormatError("unexpected end of string")
        j, precision = i + 1, None
        if template[j] == ".":
            j += 1
            start = j
            while j < len(template) and "0" <= template[j] <= "9":
                j += 1
            if j >= len(template):
                raise _FormatError("could not parse formatting clause: error while parsing precision: "
                                   "could not find end of precision specifier")
            if start == j:
                raise _FormatError("could not parse formatting clause: error while parsing precision: error "
                                   'while converting precision to integer: strconv.Atoi: parsing "": invalid syntax')
            precision = int(template[start:j])
        verb = template[j]
        clause = _CLAUSES.get(verb)
        if clause is None:
            raise _FormatError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')
        try:
            out.append(clause(args[used], precision))
        except _FormatError as e:
            raise _FormatError(f"error during formatting: {e}") from None
        used += 1
        i = j + 1
    return "".join(out)


def _format(template, args):
    if not isinstance(template, celtypes.StringType) or not isinstance(args, celtypes.ListType):
        return eval_error("no such overload", TypeError)
    try:
        return celtypes.StringType(format_string(str(template), list(args)))
    except _FormatError as e:
        return eval_error(str(e))


FUNCTIONS = {
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": _ascii(str.lower),
    "upperAscii": _ascii(str.upper),
    "replace": lambda s, old, new, n=-1: celtypes.StringType(s.replace(old, new, int(n))),
    "split": _split,
    "substring": _substring,
    "trim": lambda s: celtypes.StringType(s.strip(_SPACE)),
    "join": _join,
    "format": _format,
    "quote": _quote,
}

"""
CEL's conversions as cel-go makes them (common/types): ``int()``, ``uint()``, ``double()``, ``bool()``,
``duration()`` and ``timestamp()`` of a string parse it as Go's strconv and time packages do, and
``string()`` prints a value as cel-go prints it.

- A string the Go parser refuses is ``type conversion error from 'string' to '<type>'``.
- ``string(1e6)`` is ``1e+06`` (Go's ``%g``), ``string(duration('100ms'))`` is ``0.1s`` (seconds with
  their fraction), ``string(timestamp(...))`` is RFC 3339 with the fraction's trailing zeros dropped and
  the offset it was given (``Z`` for a zero offset).
- celpy keeps durations and timestamps to the microsecond, so a nanosecond fraction is truncated.
"""

from __future__ import annotations

import datetime
import math
import re
from decimal import Decimal

import celpy
from celpy import celtypes

from .formats import parse_duration
from .gojson import go_float

_TYPE_NAMES = ((celtypes.BoolType, "bool"), (celtypes.IntType, "int"), (celtypes.UintType, "uint"),
               (celtypes.DoubleType, "double"), (celtypes.StringType, "string"), (celtypes.BytesType, "bytes"),
               (celtypes.ListType, "list"), (celtypes.MapType, "map"),
               (celtypes.TimestampType, "google.protobuf.Timestamp"),
               (celtypes.DurationType, "google.protobuf.Duration"))


def type_name(value) -> str:
    """The CEL type's name as cel-go prints it in errors (``null_type``, ``google.protobuf.Duration``)."""
    if value is None:
        return "null_type"
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), type(value).__name__)


def eval_error(message: str, exc=ValueError) -> celpy.CELEvalError:
    """A CEL evaluation error with cel-go's ``message``."""
    return celpy.CELEvalError(message, exc, None)


def _conversion_error(target: str) -> celpy.CELEvalError:
    return eval_error(f"type conversion error from 'string' to '{target}'")


# -- Go's number printing -------------------------------------------------------------------------

def _digits(x: float) -> tuple[str, int]:
    """The shortest decimal digits that round-trip ``abs(x)`` (not 0), and where the point goes."""
    _, digits, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, len(text) + exponent


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return f"{digits[:point]}.{digits[point:]}"


def go_fixed_shortest(x: float) -> str:
    """strconv.FormatFloat(x, 'f', -1, 64): the shortest digits, never an exponent."""
    if x == 0:
        return "0"
    digits, point = _digits(x)
    return ("-" if x < 0 else "") + _fixed(digits, point)


# -- string() --------------------------------------------------------------------------------------

def duration_text(d: datetime.timedelta) -> str:
    """cel-go's string of a duration: its seconds, with a fraction when it has one, and ``s``."""
    micros = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    return go_fixed_shortest(micros / 1_000_000) + "s"


def timestamp_text(t: datetime.datetime) -> str:
    """Go's time.RFC3339Nano of a timestamp, in the offset it carries."""
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    offset = t.utcoffset() or datetime.timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class StringConvertible:
    """A library value ``string()`` converts to its ``str()`` (Kubernetes' IP and CIDR types)."""


def to_string(value):
    """cel-go's ``string(value)``."""
    if isinstance(value, celtypes.StringType):
        return value
    if isinstance(value, celtypes.BoolType):
        return celtypes.StringType("true" if value else "false")
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return celtypes.StringType(str(int(value)))
    if isinstance(value, celtypes.DoubleType):
        return celtypes.StringType(go_float(float(value)))
    if isinstance(value, celtypes.DurationType):
        return celtypes.StringType(duration_text(value))
    if isinstance(value, celtypes.TimestampType):
        return celtypes.StringType(timestamp_text(value))
    if isinstance(value, celtypes.BytesType):
        try:
            return celtypes.StringType(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            return eval_error("invalid UTF-8 in bytes, cannot convert to string")
    if isinstance(value, StringConvertible):
        return celtypes.StringType(str(value))
    if isinstance(value, celpy.CELEvalError):
        return value
    return eval_error("no such overload", TypeError)


# -- parsing strings as Go does ---------------------------------------------------------------------

_INT = re.compile(r"[+-]?[0-9]+")
_UINT = re.compile(r"[0-9]+")
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(r"([+-]?)0[xX]((?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?[0-9_]+)")
_SPECIAL_FLOAT = re.compile(r"([+-]?)(inf|infinity)|nan", re.IGNORECASE)


def parse_int(text: str):
    """strconv.ParseInt(text, 10, 64), or None."""
    if _INT.fullmatch(text) and -(1 << 63) <= int(text) < (1 << 63):
        return int(text)
    return None


def parse_uint(text: str):
    """strconv.ParseUint(text, 10, 64), or None."""
    if _UINT.fullmatch(text) and int(text) < (1 << 64):
        return int(text)
    return None


def _underscores_ok(body: str) -> bool:
    # Go: an underscore only between digits, or between the base prefix and a digit.
    for i, c in enumerate(body):
        if c == "_":
            before = body[i - 1] if i else "x"
            after = body[i + 1] if i + 1 < len(body) else ""
            if not (before in "xX" or before.isalnum() and before not in "pP") or not after.isalnum() \
                    or after in "pP":
                return False
    return True


def parse_float(text: str):
    """strconv.ParseFloat(text, 64), or None (a value out of range is refused, as Go's ErrRange)."""
    special = _SPECIAL_FLOAT.fullmatch(text)
    if special:
        if special.group(2) is None:
            return math.nan
        return -math.inf if special.group(1) == "-" else math.inf
    if _DECIMAL_FLOAT.fullmatch(text):
        value = float(text)
        return None if math.isinf(value) else value
    hexa = _HEX_FLOAT.fullmatch(text)
    if hexa and _underscores_ok("x" + hexa.group(2)):
        try:
            value = float.fromhex("0x" + hexa.group(2).replace("_", ""))
        except (OverflowError, ValueError):
            return None
        return -value if hexa.group(1) == "-" else value
    return None


def parse_bool(text: str):
    """strconv.ParseBool(text), or None."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
                      r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))")


def parse_timestamp(text: str):
    """time.Parse(time.RFC3339, text) (a fraction of a second is accepted, as Go does), or None."""
    found = _RFC3339.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    fraction, zulu, sign, zone_hours, zone_minutes = found.group(7, 8, 9, 10, 11)
    if hour > 23 or minute > 59 or second > 59:
        return None
    if zulu:
        zone = datetime.timezone.utc
    else:
        if int(zone_hours) > 23 or int(zone_minutes) > 59:
            return None
        offset = datetime.timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        zone = datetime.timezone(-offset if sign == "-" else offset)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
    except ValueError:
        return None


# -- the conversion functions -------------------------------------------------------------------------

def _from_string(target: str, parse, make, base):
    def function(value, *rest):
        if isinstance(value, celtypes.StringType) and not rest:
            parsed = parse(str(value))
            return _conversion_error(target) if parsed is None else make(parsed)
        return base(value, *rest)
    return function


def _duration(nanos: int):
    sign = -1 if nanos < 0 else 1
    return celtypes.DurationType(datetime.timedelta(microseconds=sign * (abs(nanos) // 1000)))


def _timestamp(moment: datetime.datetime):
    return celtypes.TimestampType(moment)


_BASE = celpy.evaluation.base_functions

CONVERSIONS = {
    "int": _from_string("int", parse_int, celtypes.IntType, _BASE["int"]),
    "uint": _from_string("uint", parse_uint, celtypes.UintType, _BASE["uint"]),
    "double": _from_string("double", parse_float, celtypes.DoubleType, _BASE["double"]),
    "bool": _from_string("bool", parse_bool, celtypes.BoolType, _BASE["bool"]),
    "duration": _from_string("google.protobuf.Duration", parse_duration, _duration, _BASE["duration"]),
    "timestamp": _from_string("google.protobuf.Timestamp", parse_timestamp, _timestamp, _BASE["timestamp"]),
    "string": to_string,
}

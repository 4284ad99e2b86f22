"""YAML as upstream's apiserver writes it: its YAML serializer encodes the object as JSON and converts that with
sigs.k8s.io/yaml, which reads the JSON into generic maps and writes them with go-yaml v2 (kubectl -o yaml goes
the same way, so the two agree byte for byte).  What that means for the bytes:

- every map's keys sorted as go-yaml sorts them: letters by code point, any other character before a letter,
  and runs of digits by their number ("9" before "10", "a2" before "a10");
- a string written plain where it reads back as that string, double-quoted where go-yaml's YAML 1.1 resolver
  would read it as something else (a number, a bool such as y or on, null, a timestamp, a base-60 float), in a
  literal block when it has a line break, and single-quoted (by the emitter) where plain cannot hold it;
- numbers as Go's encoding/json and then go-yaml write them (1000000, 0.5, 1.2345675e+06), null, true, false.

PyYAML's emitter, a port of the same libyaml emitter go-yaml's is, writes the events."""

from __future__ import annotations

import datetime
import functools
import math
import re
from decimal import Decimal
from typing import Any

import yaml

_STR = "tag:yaml.org,2002:str"

# Plain scalars go-yaml's resolver reads as a bool, null, infinity or not-a-number.
_SPECIAL = frozenset("""y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF
    ~ null Null NULL .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF .nan .NaN .NAN""".split()) | {""}
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_BASE_60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
# Go's integer syntax for base 0 (after go-yaml drops every underscore): a sign, then hex, octal or binary with
# their prefixes, octal with a leading zero, or decimal.
_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[0-7]*|0[bB][01]+|[1-9][0-9]*)")
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|( ))([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
                        r"(?:\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})?)?")


def _int_fits(text: str) -> bool:
    """Whether Go's ParseInt (base 0, 64 bits) or, unsigned, ParseUint takes ``text`` (already of _INT's form)."""
    sign, digits = (text[0], text[1:]) if text[0] in "+-" else ("", text)
    lowered = digits.lower()
    if lowered.startswith(("0x", "0b", "0o")):
        value = int(digits[2:], {"x": 16, "b": 2, "o": 8}[lowered[1]])
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits, 8)
    else:
        value = int(digits)
    if sign == "-":
        return value <= 1 << 63
    return value < 1 << 64


def _timestamp(match: "re.Match[str]") -> bool:
    year, month, day, space, hour, minute, second, zone = match.groups()
    if hour is not None and space and zone is not None:
        return False        # the layout with a space has no zone
    try:
        datetime.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return hour is None or (int(hour) < 24 and int(minute) < 60 and int(second) < 60)


@functools.lru_cache(maxsize=4096)
def _reads_as_other(text: str) -> bool:
    """Whether go-yaml v2 would read ``text``, written plain, as anything but that string."""
    if text in _SPECIAL:
        return True
    if text[0] not in "0123456789+-.":
        return False
    plain = text.replace("_", "")
    if plain and _INT.fullmatch(plain) and _int_fits(plain):
        return True
    if _FLOAT.fullmatch(plain) or _BASE_60.fullmatch(text):
        return True
    match = _TIMESTAMP.fullmatch(text)
    return match is not None and _timestamp(match)


def _less(a: str, b: str) -> bool:
    """go-yaml's order of two map keys (see the module's docstring)."""
    for i in range(min(len(a), len(b))):
        x, y = a[i], b[i]
        if x == y:
            continue
        x_letter, y_letter = x.isalpha(), y.isalpha()
        if x_letter and y_letter:
            return x < y
        if x_letter or y_letter:
            return y_letter
        # Neither a letter: compare the runs of digits from here as numbers (a digit after a run of digits
        # that is not all zeros counts as more than nothing), then by length, then the characters.
        x_number = y_number = 0
        if x == "0" or y == "0":
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    x_number = y_number = 1
                    break
                j -= 1
        x_end = i
        while x_end < len(a) and a[x_end].isdecimal():
            x_number = x_number * 10 + ord(a[x_end]) - 48
            x_end += 1
        y_end = i
        while y_end < len(b) and b[y_end].isdecimal():
            y_number = y_number * 10 + ord(b[y_end]) - 48
            y_end += 1
        if x_number != y_number:
            return x_number < y_number
        if x_end != y_end:
            return x_end < y_end
        return x < y
    return len(a) < len(b)


_key_order = functools.cmp_to_key(lambda a, b: -1 if _less(a, b) else (1 if _less(b, a) else 0))


def go_number(value: "int | float") -> str:
    """A JSON number as go-yaml writes it after Go's encoding/json has written it: an integral value below 1e21
    is written without a fraction, read back as an integer, and so written as one (within 64 bits); anything
    else is a float, in strconv.FormatFloat's shortest %g form."""
    if isinstance(value, int):
        return str(value) if -(1 << 63) <= value < 1 << 64 else go_number(float(value))
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value.is_integer() and abs(value) < 1e21 and -(1 << 63) <= int(value) < 1 << 64:
        return str(int(value))
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    point = len(mantissa) + exponent        # where the decimal point goes, counted from the first digit
    out = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:       # shortest %g: the exponent form outside 1e-4 <= |value| < 1e6
        power = point - 1
        out += mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
        return out + "e" + ("-" if power < 0 else "+") + f"{abs(power):02d}"
    if point <= 0:
        return out + "0." + "0" * -point + mantissa
    return out + mantissa[:point] + "." + mantissa[point:]


class _Dumper(yaml.SafeDumper):
    """Every scalar is written with the string tag, so the emitter never adds a tag; the representers choose
    the style (plain, quoted, literal) as go-yaml does."""


_Dumper.yaml_implicit_resolvers = {}     # a plain scalar is a string: the representers quote where go-yaml would


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else ('"' if _reads_as_other(value) else None)
    return yaml.ScalarNode(_STR, value, style=style)


def _represent_dict(dumper: _Dumper, value: dict) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", sorted(value.items(), key=lambda kv: _key_order(kv[0])))


def _plain(text: str) -> yaml.ScalarNode:
    return yaml.ScalarNode(_STR, text, style=None)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(bool, lambda dumper, value: _plain("true" if value else "false"))
_Dumper.add_representer(int, lambda dumper, value: _plain(go_number(value)))
_Dumper.add_representer(float, lambda dumper, value: _plain(go_number(value)))
_Dumper.add_representer(type(None), lambda dumper, value: _plain("null"))


def dumps(obj: Any) -> bytes:
    """``obj`` (what JSON decodes to) as upstream's apiserver writes it in YAML."""
    return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True,
                     width=80).encode()

"""
How Go's encoding/json and fmt describe JSON values and errors.

Upstream puts these texts into Status messages (a malformed patch body, a strategic
merge patch that names a missing merge key), so clients see Go's wording.  This
module produces the same wording from Python values: ``syntax_error`` scans bytes
the way Go's decoder does and names the first bad character; ``type_name`` and
``go_value`` give ``%T``-like and ``%v`` renderings.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal
from typing import Any, Optional

END = "unexpected end of JSON input"
# Go allows 10000 levels; ours is what the JSON codec can write back (orjson stops at 254)
MAX_DEPTH = 254


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\"}


def _quote_char(c: str) -> str:
    """Go's quoteChar: the character in single quotes, escaped as strconv.Quote would."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    if c in _GO_ESCAPES:
        return f"'{_GO_ESCAPES[c]}'"
    if c < " " or c == "\x7f":
        return f"'\\x{ord(c):02x}'"
    return f"'{c}'"


class _Bad(Exception):
    pass


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.depth = 0

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("exceeded max depth")
        self.i += 1

    def fail(self, context: str):
        if self.i >= len(self.s):
            raise _Bad(END)
        raise _Bad(f"invalid character {_quote_char(self.s[self.i])} {context}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def value(self):
        self.ws()
        c = self.peek()
        if c == "{":
            self.enter()
            self.ws()
            if self.peek() == "}":
                self.i += 1
                self.depth -= 1
                return
            while True:
                self.ws()
                if self.peek() != '"':
                    self.fail("looking for beginning of object key string")
                self.string()
                self.ws()
                if self.peek() != ":":
                    self.fail("after object key")
                self.i += 1
                self.value()
                self.ws()
                c = self.peek()
                if c == ",":
                    self.i += 1
                    continue
                if c == "}":
                    self.i += 1
                    self.depth -= 1
                    return
                self.fail("after object key:value pair")
        elif c == "[":
            self.enter()
            self.ws()
            if self.peek() == "]":
                self.i += 1
                self.depth -= 1
                return
            while True:
                self.value()
                self.ws()
                c = self.peek()
                if c == ",":
                    self.i += 1
                    continue
                if c == "]":
                    self.i += 1
                    self.depth -= 1
                    return
                self.fail("after array element")
        elif c == '"':
            self.string()
        elif c == "-" or c.isdigit() and c.isascii():
            self.number()
        elif c in ("t", "f", "n"):
            word = {"t": "true", "f": "false", "n": "null"}[c]
            for expected in word[1:]:
                self.i += 1
                if self.peek() != expected:
                    self.fail(f"in literal {word} (expecting {_quote_char(expected)})")
            self.i += 1
        else:
            self.fail("looking for beginning of value")

    def string(self):
        self.i += 1
        while True:
            c = self.peek()
            if c == "":
                self.fail("")
            if c == '"':
                self.i += 1
                return
            if c == "\\":
                self.i += 1
                e = self.peek()
                if e == "u":
                    for _ in range(4):
                        self.i += 1
                        if self.peek() == "" or self.peek() not in "0123456789abcdefABCDEF":
                            self.fail("in \\u hexadecimal character escape")
                elif e not in '"\\/bfnrt':
                    self.fail("in string escape code")
            elif c < " ":
                self.fail("in string literal")
            self.i += 1

    def digits(self, context: str, first: bool):
        if first and not (self.peek().isdigit() and self.peek().isascii()):
            self.fail(context)
        while self.peek().isdigit() and self.peek().isascii():
            self.i += 1

    def number(self):
        if self.peek() == "-":
            self.i += 1
            if not (self.peek().isdigit() and self.peek().isascii()):
                self.fail("in numeric literal")
        if self.peek() == "0":
            self.i += 1
        else:
            self.digits("in numeric literal", True)
        if self.peek() == ".":
            self.i += 1
            self.digits("after decimal point in numeric literal", True)
        if self.peek() in ("e", "E"):
            self.i += 1
            if self.peek() in ("+", "-"):
                self.i += 1
            self.digits("in exponent of numeric literal", True)


def syntax_error(data: bytes | str) -> Optional[str]:
    """Go's message for the first syntax error in ``data``, or None if it is well-formed JSON."""
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else data
    scanner = _Scanner(text)
    try:
        scanner.ws()
        if scanner.i >= len(text):
            return END
        scanner.value()
        scanner.ws()
        if scanner.i < len(text):
            scanner.fail("after top-level value")
    except _Bad as bad:
        return str(bad)
    return None


def json_kind(value: Any) -> str:
    """The JSON kind as Go's UnmarshalTypeError names it: object, array, string, number, bool."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def type_name(value: Any) -> str:
    """``reflect.TypeOf(value)`` of a value decoded into interface{}, as ``%s`` prints it."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "%!s(<nil>)"


def go_value(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` of a decoded JSON value (maps print with sorted keys)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_syntax(value: Any) -> str:
    """``fmt.Sprintf("%#v", value)`` of a value decoded into interface{}: maps (keys sorted) and slices
    with their types, ``map[string]interface {}{"a":1, "b":[]interface {}{"x"}}``; strings quoted as
    strconv.Quote does, a nested null as ``interface {}(nil)``."""
    if isinstance(value, dict):
        return "map[string]interface {}{" + ", ".join(f"{go_quote(k)}:{go_syntax(value[k])}"
                                                     for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}{" + ", ".join(go_syntax(v) for v in value) + "}"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < 1 << 63:
        return go_float(float(value))  # past int64, Kubernetes' JSON decoding gives a float64
    return go_value(value)


def go_quote(text: str) -> str:
    """strconv.Quote: Go's escapes for quotes, backslashes and control characters, ``\\u``/``\\U`` for
    other unprintable characters; printable Unicode stays as it is."""
    out = ['"']
    for c in text:
        if c == '"':
            out.append('\\"')
        elif c in _GO_ESCAPES:
            out.append(_GO_ESCAPES[c])
        elif c < " " or c == "\x7f":
            out.append(f"\\x{ord(c):02x}")
        elif "\udc80" <= c <= "\udcff":       # a byte that was not UTF-8 (decoded with surrogateescape)
            out.append(f"\\x{ord(c) - 0xdc00:02x}")
        elif c != " " and not c.isprintable():
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def go_float(value: float) -> str:
    """``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e6 (Go's %g)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point within the digits
    e = point - 1
    minus = "-" if sign else ""
    if e < -4 or e >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{minus}{text}{'0' * (point - len(text))}"
    return f"{minus}{text[:point]}.{text[point:]}"


def go_string(value: Any) -> str:
    """``%s`` of a decoded JSON value: strings bare, anything else in Go's ``%!s(T=v)`` form."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    return f"%!s({type_name(value)}={go_value(value)})"


# -- duplicate fields -----------------------------------------------------------------------------------
# A key token: a closing quote, optional space, a colon.  A document has at least as many of these as keys
# (string values may hold more), so when the count equals the decoded keys there is no duplicate.
_KEY_TOKEN = re.compile(rb'"\s*:')


class _Pairs(list):
    """A JSON object as the (key, value) pairs written, duplicates included."""


def _count_keys(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def duplicate_fields(raw: bytes, decoded: Any) -> list[str]:
    """The paths of the keys written more than once in the JSON ``raw`` (which decoded to ``decoded``), named
    as Go's strict decoder names them: ``spec.replicas``, ``spec.containers[0].imagePullPolicy``."""
    if len(_KEY_TOKEN.findall(raw)) == _count_keys(decoded):
        return []
    out: list[str] = []
    stack = [(json.loads(raw, object_pairs_hook=_Pairs), "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Pairs):
            seen = set()
            for key, value in node:
                child = f"{path}.{key}" if path else key
                if key in seen and child not in out:
                    out.append(child)
                seen.add(key)
                stack.append((value, child))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node))
    return sorted(out)


# -- []byte fields -------------------------------------------------------------------------------------------
_BASE64_CLEAN = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/\r\n]")
_LINE_BREAKS = re.compile(rb"[\r\n]*")


def _corrupt_at(src: bytes) -> int:
    """Where Go's base64.StdEncoding.Decode of ``src`` finds it corrupt (the CorruptInputError offset), -1 where it
    does not: quantum by quantum, padding required, CR and LF skipped anywhere before it; found with a search
    rather than byte by byte."""
    n = len(src)
    found = _NOT_BASE64.search(src)
    if found is None:                       # no padding: the last quantum must be whole
        left = (n - src.count(b"\n") - src.count(b"\r")) % 4
        return -1 if left == 0 else n - left
    at = found.start()
    j = (at - src.count(b"\n", 0, at) - src.count(b"\r", 0, at)) % 4
    if src[at] != 61 or j < 2:              # not "=", or "=" too early in its quantum
        return at
    si = at + 1
    if j == 2:                              # "==" wanted: the second "=" after any line breaks
        si = _LINE_BREAKS.match(src, si).end()
        if si == n:
            return n
        if src[si] != 61:
            return si - 1
        si += 1
    si = _LINE_BREAKS.match(src, si).end()
    return si if si < n else -1             # anything after the padding is corrupt


def go_bytes(text: str) -> str:
    """A []byte field's JSON string as Go's encoding/json reads and writes it again: decoded as standard,
    padded base64 and encoded anew (canonical: padded, without line breaks); ValueError with Go's
    "illegal base64 data at input byte N" when it does not decode."""
    raw = text.encode()
    compact = raw.replace(b"\n", b"").replace(b"\r", b"") if b"\n" in raw or b"\r" in raw else raw
    if len(compact) % 4 == 0 and _BASE64_CLEAN.fullmatch(compact):
        try:
            return base64.b64encode(base64.b64decode(compact, validate=True)).decode()
        except binascii.Error:
            pass
    at = _corrupt_at(raw)
    if at >= 0:
        raise ValueError(f"illegal base64 data at input byte {at}")
    return base64.b64encode(base64.b64decode(compact)).decode()

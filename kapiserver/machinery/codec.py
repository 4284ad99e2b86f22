"""
The one JSON codec.

Output matches Go's encoding/json as the upstream apiserver writes it:
compact, keys in the order the dicts hold them, HTML-significant characters
escaped (``<`` ``>`` ``&`` as ``\\u003c`` ...), and a trailing newline on
whole documents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import yaml

_ESCAPES = ((b"&", b"\\u0026"), (b"<", b"\\u003c"), (b">", b"\\u003e"),
            ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def _escape(raw: bytes) -> bytes:
    # These bytes can only occur inside JSON strings, so a byte replace is exact.
    # One-byte searches are memchr-fast; the three-byte ones (U+2028/2029) are not,
    # so they run only when their lead byte occurs at all.
    lead = b"\xe2" in raw
    for needle, escaped in _ESCAPES:
        if (lead or len(needle) == 1) and needle in raw:
            raw = raw.replace(needle, escaped)
    return raw


def dumps(obj: Any) -> bytes:
    """Compact JSON without a trailing newline (for embedding, and for the bytes caches keep)."""
    raw = orjson.dumps(obj)
    out = _escape(raw)
    # The bytes orjson returns hold on to its whole output buffer, several times their length (a 1 KiB
    # object keeps about 8 KiB resident): what is kept (the watch cache's encodings of its objects, stored
    # values) is copied to its own size.
    return bytes(memoryview(raw)) if out is raw else out


def encode(obj: Any) -> bytes:
    """A whole JSON document as the apiserver writes it: with a trailing newline."""
    return _escape(orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE))


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ValueError on bad input."""
    return orjson.loads(data)


class _SafeLoader(yaml.SafeLoader):
    def construct_yaml_int(self, node):
        # As the JSON decoder (and upstream's YAML-to-JSON path) does: an integer no int64 or uint64 holds is a
        # float, which the JSON encoder can write.
        value = super().construct_yaml_int(node)
        return value if -2 ** 63 <= value < 2 ** 64 else float(value)


    def construct_mapping(self, node, deep=False):
        # A key YAML 1.1 reads as a bool or a number ("on", "yes", "1") becomes the string sigs.k8s.io/yaml
        # makes of it on the way to JSON ("true", "1"); any other non-string key is refused, as there.
        # (Converted one by one: built first, the keys true and 1 would be one Python key.)
        self.flatten_mapping(node)
        return {_json_key(self.construct_object(key_node, deep=deep), key_node):
                self.construct_object(value_node, deep=deep) for key_node, value_node in node.value}


def _json_key(key: Any, node) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        from .gojson import go_float
        return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(go_float(key), go_float(key))
    raise yaml.constructor.ConstructorError(None, None, f"unsupported map key: {key!r}", node.start_mark)


_SafeLoader.add_constructor("tag:yaml.org,2002:int", _SafeLoader.construct_yaml_int)
_SafeLoader.add_constructor("tag:yaml.org,2002:map", _SafeLoader.construct_yaml_map)


# YAML 1.1 timestamps and such stay strings, as in sigs.k8s.io/yaml (which goes via JSON).
for _first, _resolvers in list(_SafeLoader.yaml_implicit_resolvers.items()):
    _SafeLoader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _resolvers if tag != "tag:yaml.org,2002:timestamp"
    ]


class _DuplicateKeyLoader(_SafeLoader):
    """Notes every mapping key written twice, with its (1-based) line, as go-yaml's strict mode reports it."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None:
                if key in seen:
                    self.duplicates.append((key_node.start_mark.line + 1, key))
                seen.add(key)
        return super().construct_mapping(node, deep)


def yaml_duplicate_keys(data: bytes | str) -> list[str]:
    """go-yaml's strict-mode complaints about keys set twice in one map (``line 11: key "foo" already set in
    map``), in document order; the document must parse."""
    loader = _DuplicateKeyLoader(data)
    try:
        loader.get_single_data()
    finally:
        loader.dispose()
    return [f'line {line}: key "{key}" already set in map' for line, key in sorted(loader.duplicates)]


def load_yaml(data: bytes | str) -> Any:
    """Parse one YAML document; raises ValueError on bad input."""
    try:
        document = yaml.load(data, Loader=_SafeLoader)
    except yaml.YAMLError as e:
        raise ValueError(str(e)) from None
    return _as_json(document)


def _go_json_number(value: float) -> Any:
    """A YAML float as it comes out of upstream's YAML-to-JSON conversion (go-yaml's float64 written by Go's
    encoding/json): a whole one below 1e21 is written without fraction or exponent, so it reads as an integer
    where an int64 holds it (past that it stays a float, as Go's decoder keeps it)."""
    if value.is_integer() and abs(value) < 2 ** 63:
        return int(value) if abs(value) <= 2 ** 53 else int(Decimal(repr(value)))
    return value


def _as_json(document: Any) -> Any:
    """The document as upstream's YAML-to-JSON conversion gives it: whole floats as integers (``_go_json_number``),
    and refused when a string holds a lone surrogate (PyYAML makes one of a "\\ud800"-style escape, which no JSON
    encoder can write and upstream's YAML scanner refuses).  Iterative, and each container once: aliases can make
    a document deep or even self-referential."""
    if type(document) is float:
        return _go_json_number(document)
    pending, seen = [document], set()
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("found invalid Unicode character escape code") from None
        elif isinstance(value, (dict, list)) and id(value) not in seen:
            seen.add(id(value))
            is_map = isinstance(value, dict)
            members = value.items() if is_map else enumerate(value)
            for key, member in list(members):
                if is_map:
                    pending.append(key)
                if type(member) is float:
                    value[key] = _go_json_number(member)
                else:
                    pending.append(member)
    return document


def dump_yaml(obj: Any) -> bytes:
    """``obj`` in YAML as upstream's apiserver writes it (see goyaml)."""
    from . import goyaml
    return goyaml.dumps(obj)

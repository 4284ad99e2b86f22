"""How CEL names a schema's properties: a property whose name is a CEL reserved word, or holds characters an
identifier cannot, is selected under an escaped name (``__if__``, ``foo__dash__bar``), as Kubernetes escapes it;
and how a rule's fieldPath names a field below its node.  Free of cel-python, so a CRD's schema checks can use it."""

from __future__ import annotations

import re
from typing import Optional

RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
                      "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
                      "void", "while"})
_ESCAPES = (("__", "__underscores__"), (".", "__dot__"), ("-", "__dash__"), ("/", "__slash__"))


def escape_property(name: str) -> str:
    """How a rule names a declared property: reserved words as ``__if__``, ``-`` as ``__dash__``, ..."""
    if name in RESERVED:
        return f"__{name}__"
    for raw, escaped in _ESCAPES:
        name = name.replace(raw, escaped)
    return name


_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\['((?:[^'\\]|\\.)*)'\]")


def field_path(path: str, schema: dict) -> Optional[str]:
    """``.spec.x['a.b']`` as a field path (``spec.x[a.b]``) below ``schema``, or None if it names no field there."""
    out, position, node = "", 0, schema
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            return None
        name = match.group(1) if match.group(1) is not None else re.sub(r"\\(.)", r"\1", match.group(2))
        properties = node.get("properties")
        additional = node.get("additionalProperties")
        if properties is not None and name in properties:
            out, node = (f"{out}.{name}" if out else name), properties[name]
        elif properties is None and isinstance(additional, dict):
            out, node = f"{out}[{name}]", additional
        else:
            return None
        position = match.end()
    return out


def has_rules(schema: dict) -> bool:
    """Whether ``schema`` or a schema below it carries x-kubernetes-validations."""
    if schema.get("x-kubernetes-validations"):
        return True
    children = list((schema.get("properties") or {}).values()) + list(schema.get("allOf") or [])
    children += [schema[k] for k in ("items", "additionalProperties") if isinstance(schema.get(k), dict)]
    return any(isinstance(c, dict) and has_rules(c) for c in children)

"""How CEL names a schema's properties: a property whose name is a CEL reserved word, or holds characters an
identifier cannot, is selected under an escaped name (``__if__``, ``foo__dash__bar``), as Kubernetes escapes it."""

from __future__ import annotations

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

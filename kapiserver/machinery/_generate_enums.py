"""
Regenerate ``enum_fields.py`` (a development tool, never imported by the server).

Upstream's OpenAPI documents give a field the ``enum`` of its values when its Go type is a string type marked
``+enum`` in its doc comment: the values are those of the constants declared with that type (sorted).  A
pointer to such a type is marked the same; a slice (or array) of it marks the property's ``items``, a map of it
the property's ``additionalProperties``.  This script reads the marked types, their constants and the struct
fields using them from the ``.go`` sources of the mirrored repositories (git objects only), at one tag, with the
Go reader of ``_generate_omitempty``:

    python -m kapiserver.machinery._generate_enums [MIRRORS [TAG]]

Only the definitions of the OpenAPI document that kapiserver serves (``schema.definitions()``) are written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Optional

from ._generate_omitempty import MIRRORS, TAG, Packages, _Parser, definition_package, run, write_table

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "enum_fields.py")

# A top-level `type Name string` with the comment lines right above it.
_STRING_TYPE = re.compile(r"^((?:[ \t]*//[^\n]*\n)*)type[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+string[ \t]*(?://[^\n]*)?$",
                          re.MULTILINE)
# A top-level alias `type Name = Other` or `type Name = pkg.Other`: the same type as Other.
_ALIAS = re.compile(r"^type[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(?:([A-Za-z_][A-Za-z0-9_]*)\.)?"
                    r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?://[^\n]*)?$", re.MULTILINE)
_ENUM_TAG = re.compile(r"^\+enum(?:$|[\s=])")

TypeKey = tuple[str, str]       # (Go package path, type name)


def _go_string(literal: str) -> str:
    """The value of a Go string literal (interpreted or raw)."""
    if literal.startswith("`"):
        return literal[1:-1]
    return json.loads(literal)


class EnumPackages(Packages):
    """The packages' type declarations (as :class:`Packages` reads them) plus their ``+enum`` types and their
    string constants."""

    def __init__(self, mirrors: str, tag: str):
        super().__init__(mirrors, tag)
        self.enum_types: set[TypeKey] = set()
        # (package path, constant name) -> (declared type or None, value tokens, file imports)
        self.constants: dict[tuple[str, str], tuple[Optional[TypeKey], list[tuple[str, str]], dict]] = {}
        self._scanned: set[str] = set()
        self.aliases: dict[TypeKey, TypeKey] = {}

    def package(self, path: str):
        declared = super().package(path)
        if path not in self._scanned:
            self._scanned.add(path)
            self._scan(path)
        return declared

    def _scan(self, path: str) -> None:
        for source in self.sources.get(path, ()):
            for match in _STRING_TYPE.finditer(source):
                lines = [line.strip()[2:].strip() for line in match.group(1).splitlines()]
                if any(_ENUM_TAG.match(line) for line in lines):
                    self.enum_types.add((path, match.group(2)))
            parsed = _Parser(source)
            parsed.parse()
            for match in _ALIAS.finditer(source):
                self.aliases[(path, match.group(1))] = self._type_key(match.group(2) or "", match.group(3), path,
                                                                      parsed.imports)
            self._constants(path, parsed.tokens, parsed.imports)

    def _type_key(self, qualifier: str, name: str, path: str, imports: dict) -> TypeKey:
        return (imports.get(qualifier, qualifier) if qualifier else path, name)

    def _constants(self, path: str, toks: list[tuple[str, str]], imports: dict) -> None:
        """Every top-level constant of one file: its declared type (if any) and its value's tokens."""
        depth = 0
        at = 0
        while at < len(toks):
            text = toks[at][1]
            if text in ("{", "(", "["):
                depth += 1
            elif text in ("}", ")", "]"):
                depth -= 1
            elif text == "const" and depth == 0:
                at += 1
                if toks[at][1] == "(":
                    at += 1
                    while toks[at][1] != ")":
                        if toks[at][1] == ";":
                            at += 1
                            continue
                        at = self._const_spec(path, toks, at, imports)
                    at += 1         # the group's ")"
                else:
                    at = self._const_spec(path, toks, at, imports)
                continue
            at += 1

    def _const_spec(self, path: str, toks: list, at: int, imports: dict) -> int:
        names = [toks[at][1]]
        at += 1
        while toks[at][1] == ",":
            names.append(toks[at + 1][1])
            at += 2
        declared: Optional[TypeKey] = None
        if toks[at][1] not in ("=", ";", ")"):
            if toks[at + 1][1] == ".":
                declared = self._type_key(toks[at][1], toks[at + 2][1], path, imports)
                at += 3
            else:
                declared = self._type_key("", toks[at][1], path, imports)
                at += 1
        value: list[tuple[str, str]] = []
        if toks[at][1] == "=":
            at += 1
            depth = 0
            while depth or toks[at][1] not in (";", ")"):
                depth += toks[at][1] == "("
                depth -= toks[at][1] == ")"
                value.append(toks[at])
                at += 1
        if len(names) == 1:
            self.constants[(path, names[0])] = (declared, value, imports)
        return at

    def canonical(self, key: Optional[TypeKey]) -> Optional[TypeKey]:
        """The type an alias stands for (the type itself when it is none)."""
        while key is not None and key in self.aliases:
            key = self.aliases[key]
            self.package(key[0])
        return key

    def constant(self, path: str, name: str, seen: frozenset = frozenset()) -> tuple[Optional[TypeKey], Optional[str]]:
        """(type, string value) of a constant; the value is None when it is no plain string expression."""
        declared, value, imports = self.constants.get((path, name), (None, [], {}))
        found_type, found = self._evaluate(value, path, imports, seen | {(path, name)})
        return declared or found_type, found

    def _evaluate(self, value: list, path: str, imports: dict, seen: frozenset) -> tuple[Optional[TypeKey],
                                                                                         Optional[str]]:
        """(type, string value) of a constant expression: a string literal, another constant (here or in an
        imported package), or a conversion T(expression) / q.T(expression) of one."""
        texts = [text for _, text in value]
        if len(value) == 1 and value[0][0] in ("string", "raw"):
            return None, _go_string(value[0][1])
        target = None
        if len(texts) == 1 and value[0][0] == "ident":
            target = (path, texts[0])
        elif len(texts) == 3 and texts[1] == "." and texts[0] in imports:
            target = (imports[texts[0]], texts[2])
        if target is not None:
            if target in seen:
                return None, None
            self.package(target[0])
            return self.constant(*target, seen=seen)
        for width in (1, 3):
            if len(texts) > width + 1 and texts[width] == "(" and texts[-1] == ")" \
                    and (width == 1 or texts[1] == "."):
                converted = self._type_key("", texts[0], path, imports) if width == 1 else \
                    self._type_key(texts[0], texts[2], path, imports)
                return converted, self._evaluate(value[width + 1:-1], path, imports, seen)[1]
        return None, None

    def enum_values(self) -> tuple[dict[TypeKey, list[str]], list[str]]:
        """(each enum type of the packages read -> its values sorted as upstream sorts them, warnings)."""
        values: dict[TypeKey, set[str]] = {key: set() for key in self.enum_types}
        warnings = []
        for (path, name) in sorted(self.constants):
            declared, value = self.constant(path, name)
            declared = self.canonical(declared)
            if declared in values:
                if value is None:
                    warnings.append(f"{path}.{name}: a constant of {declared[1]} whose value is not read")
                else:
                    values[declared].add(value)
        # Upstream sorts the values as Go string literals.
        return {key: sorted(found, key=lambda v: json.dumps(v)) for key, found in values.items()}, warnings

    def enum_of(self, expression: tuple, path: str, imports: dict) -> Optional[TypeKey]:
        """The enum type an expression names (through a pointer), if it is one."""
        if expression[0] == "pointer":
            expression = expression[1]
        if expression[0] != "named":
            return None
        key = self._type_key(expression[1], expression[2], path, imports)
        if expression[1]:
            self.package(key[0])
        key = self.canonical(key)
        return key if key in self.enum_types else None


def enum_fields(definitions: dict, packages: EnumPackages) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """(definition name -> {JSON name: the enum's values} of its fields typed with an enum, warnings)."""
    found: dict[str, dict[str, TypeKey]] = {}
    warnings: list[str] = []
    for name in sorted(definitions):
        try:
            path, type_name = definition_package(name)
            declared = packages.package(path).get(type_name)
        except (KeyError, subprocess.CalledProcessError):
            continue        # no Go package mirrored: _generate_omitempty's test reports those
        if declared is None:
            continue
        properties = definitions[name].get("properties") or {}
        kind, struct = packages.resolve(declared[0], path, declared[1])
        if kind != "struct" or not properties:
            continue
        fields = {}
        for json_name, (expression, where, imports, _) in packages.json_field_types(*struct).items():
            if json_name not in properties:
                continue
            if expression[0] in ("slice", "array", "map"):
                expression = expression[-1]
            enum = packages.enum_of(expression, where, imports)
            if enum is not None:
                fields[json_name] = enum
            elif expression[0] == "named":
                # A named slice or map of an enum type would be missed: say so.
                inner_path = packages._type_key(expression[1], expression[2], where, imports)[0]
                inner = packages.package(inner_path).get(expression[2])
                if inner is not None and inner[0][0] in ("slice", "array", "map") \
                        and packages.enum_of(inner[0][-1], inner_path, inner[1]) is not None:
                    warnings.append(f"{name}.{json_name}: a named collection of an enum type")
        if fields:
            found[name] = fields
    values, value_warnings = packages.enum_values()
    warnings += value_warnings
    table = {}
    for name, fields in found.items():
        table[name] = {}
        for json_name, enum in fields.items():
            if not values[enum]:
                warnings.append(f"{name}.{json_name}: the enum {enum[0]}.{enum[1]} has no constants")
                continue
            table[name][json_name] = values[enum]
        if not table[name]:
            del table[name]
    return table, warnings


def render(table: dict[str, dict[str, list[str]]], tag: str) -> str:
    lines = [
        f'"""The enum values of the built-in types\' fields, read from the Go sources at {tag} (generated by',
        '_generate_enums.py; do not edit).',
        "",
        "Each OpenAPI definition name maps to {jsonName: values} for its fields whose Go type is a string type",
        "marked +enum (or a pointer to one, a slice or a map of one); the values are those of the constants of",
        "that type, sorted.  They belong on the property itself when it is a string, on its ``items`` when it is",
        "an array (a Go slice), on its ``additionalProperties`` when it is an object (a Go map).",
        '"""',
        "",
        f'TAG = "{tag}"',
        "",
        "FIELDS = {",
    ]
    for name, fields in table.items():
        lines.append(f'    "{name}": {{')
        for field, values in fields.items():
            entry = f'        "{field}": ('
            items = [json.dumps(value) for value in values]
            one_line = entry + ", ".join(items) + ("," if len(items) == 1 else "") + "),"
            if len(one_line) <= 120:
                lines.append(one_line)
                continue
            lines.append(entry)
            line = "           "
            for item in items:
                if len(line) + len(item) + 2 > 120:
                    lines.append(line.rstrip())
                    line = "           "
                line += f" {item},"
            lines.append(line)
            lines.append("        ),")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate(mirrors: str = MIRRORS, tag: str = TAG, output: str = OUTPUT) -> list[str]:
    """Write the table; the warnings."""
    return write_table(enum_fields, render, EnumPackages(mirrors, tag), output)


if __name__ == "__main__":
    run(generate, sys.argv)

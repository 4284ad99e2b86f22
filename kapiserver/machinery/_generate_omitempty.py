"""
Regenerate ``omitempty_fields.py`` (a development tool, never imported by the server).

Upstream decodes every built-in object into its Go struct and encodes it back,
so a field tagged ``omitempty`` whose type is a map, slice, string, number or
bool (not a pointer, not a struct) is left out when it holds Go's zero value.
Which fields those are is a fact of the Go type declarations; this script reads
them from the ``types.go`` sources of the repositories mirrored without a work
tree (git objects only), at one tag:

    python -m kapiserver.machinery._generate_omitempty [MIRRORS [TAG]]

MIRRORS holds ``kubernetes+api/repo``, ``kubernetes+apimachinery/repo``,
``kubernetes+apiextensions-apiserver/repo`` and ``kubernetes+kube-aggregator/repo``
(default /work/.mirror); TAG defaults to v0.32.0.  Only the definitions of the
OpenAPI document that kapiserver serves (``schema.definitions()``) are written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from typing import Optional

MIRRORS = "/work/.mirror"
TAG = "v0.32.0"
# Go import path prefix -> the mirrored repository that holds it.
REPOSITORIES = {
    "k8s.io/api": "kubernetes+api",
    "k8s.io/apimachinery": "kubernetes+apimachinery",
    "k8s.io/apiextensions-apiserver": "kubernetes+apiextensions-apiserver",
    "k8s.io/kube-aggregator": "kubernetes+kube-aggregator",
}
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "omitempty_fields.py")

_NUMBERS = frozenset({"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
                      "uintptr", "float32", "float64", "byte", "rune", "complex64", "complex128"})
# The Go kinds whose zero value omitempty leaves out, as the table names them.
OMITTABLE_KINDS = ("map", "slice", "string", "number", "bool")


# --- reading Go -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r]+) | (?P<newline>\n) | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>`[^`]*`) | (?P<string>"(?:[^"\\\n]|\\.)*") | (?P<char>'(?:[^'\\\n]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*) | (?P<number>[0-9][0-9A-Za-z_.]*)
  | (?P<punct>\.\.\.|[-+*/%&|^<>=!:]=|&&|\|\||<-|\+\+|--|<<|>>|&\^|[{}()\[\];,.=*&|^!<>+\-/%:~])
""", re.VERBOSE | re.DOTALL)
# After these (or any identifier or literal) a newline ends a statement, as Go's semicolon rule has it.
_ENDS = frozenset({"ident", "number", "string", "raw", "char"})
_CLOSERS = frozenset({")", "]", "}", "++", "--"})


def tokens(source: str) -> list[tuple[str, str]]:
    """(kind, text) pairs, with the semicolons Go inserts at line ends; comments and spaces dropped."""
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise ValueError(f"cannot read Go at {source[position:position + 40]!r}")
        position = match.end()
        kind = match.lastgroup
        text = match.group()
        if kind == "comment" and "\n" in text:
            kind = "newline"
        if kind == "newline":
            if out and (out[-1][0] in _ENDS or out[-1][1] in _CLOSERS):
                out.append(("punct", ";"))
            continue
        if kind in ("space", "comment"):
            continue
        out.append((kind, text))
    return out


class _Parser:
    """Reads the import and type declarations of one Go file (everything else is skipped)."""

    def __init__(self, source: str):
        self.tokens = tokens(source)
        self.at = 0
        self.imports: dict[str, str] = {}      # name in the file -> import path
        self.types: dict[str, tuple] = {}       # type name -> type expression

    def peek(self, ahead: int = 0) -> str:
        index = self.at + ahead
        return self.tokens[index][1] if index < len(self.tokens) else ""

    def take(self, expected: Optional[str] = None) -> str:
        text = self.peek()
        if expected is not None and text != expected:
            raise ValueError(f"expected {expected!r}, found {text!r} near token {self.at}")
        self.at += 1
        return text

    def parse(self) -> "_Parser":
        while self.at < len(self.tokens):
            word = self.take()
            if word == "import":
                self.group(self.import_spec)
            elif word == "type":
                self.group(self.type_spec)
            elif word in ("{", "(", "["):
                self.skip_to_match(word)
        return self

    def group(self, spec) -> None:
        if self.peek() == "(":
            self.take()
            while self.peek() != ")":
                if self.peek() == ";":
                    self.take()
                    continue
                spec()
            self.take(")")
        else:
            spec()

    def skip_to_match(self, opener: str) -> None:
        closer = {"{": "}", "(": ")", "[": "]"}[opener]
        depth = 1
        while depth:
            text = self.take()
            if text == opener:
                depth += 1
            elif text == closer:
                depth -= 1

    def import_spec(self) -> None:
        name = None
        if self.tokens[self.at][0] == "ident" or self.peek() in (".", "_"):
            name = self.take()
        path = self.take().strip('"')
        self.imports[name or path.rsplit("/", 1)[-1]] = path
        if self.peek() == ";":
            self.take()

    def type_spec(self) -> None:
        name = self.take()
        if self.peek() == "[" and self.peek(1) != "]":
            self.take()
            self.skip_to_match("[")     # type parameters: never in an API type
        if self.peek() == "=":
            self.take()
        self.types[name] = self.type_expr()
        if self.peek() == ";":
            self.take()

    def type_expr(self) -> tuple:
        word = self.take()
        if word == "*":
            return ("pointer", self.type_expr())
        if word == "[":
            if self.peek() == "]":
                self.take()
                return ("slice", self.type_expr())
            while self.take() != "]":
                pass
            return ("array", self.type_expr())
        if word == "map":
            self.take("[")
            self.type_expr()
            self.take("]")
            return ("map", self.type_expr())
        if word == "struct":
            return ("struct", self.fields())
        if word == "interface":
            self.take("{")
            self.skip_to_match("{")
            return ("interface",)
        if word == "func":
            # Never an API field's type, but a package may declare one: its parameters and results read over.
            self.take("(")
            self.skip_to_match("(")
            if self.peek() == "(":
                self.take()
                self.skip_to_match("(")
            elif self.peek() not in (";", ")", "}", "") and self.tokens[self.at][0] not in ("raw", "string"):
                self.type_expr()
            return ("func",)
        if word in ("chan", "<-"):
            if self.peek() in ("<-", "chan"):
                self.take()
            self.type_expr()
            return ("chan",)
        if word == "(":
            inner = self.type_expr()
            self.take(")")
            return inner
        if self.peek() == ".":
            self.take()
            return ("named", word, self.take())
        return ("named", "", word)

    def fields(self) -> list[tuple]:
        """A struct's fields: (Go name or None when embedded, type expression, tag)."""
        self.take("{")
        out = []
        while self.peek() != "}":
            if self.peek() == ";":
                self.take()
                continue
            names = []
            embedded = self.peek() == "*" or self.peek(1) in (".", ";", "}") or self.peek(1).startswith(('"', "`"))
            if not embedded:
                names.append(self.take())
                while self.peek() == ",":
                    self.take()
                    names.append(self.take())
            kind = self.type_expr()
            tag = ""
            if self.tokens[self.at][0] in ("raw", "string"):
                tag = self.take()[1:-1]
            for name in names or [None]:
                out.append((name, kind, tag))
        self.take("}")
        return out


# --- the packages -----------------------------------------------------------------------------------

def _repository(path: str) -> tuple[str, str]:
    for prefix, repository in REPOSITORIES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return repository, path[len(prefix) + 1:]
    raise KeyError(path)


class Packages:
    """The type declarations of Go packages, read from the mirrors' git objects at one tag."""

    def __init__(self, mirrors: str, tag: str):
        self.mirrors = mirrors
        self.tag = tag
        self.loaded: dict[str, dict[str, tuple[tuple, dict[str, str]]]] = {}
        self.sources: dict[str, list[str]] = {}     # package path -> the sources of the files read for it

    def git(self, repository: str, *args: str) -> str:
        directory = os.path.join(self.mirrors, repository, "repo")
        return subprocess.run(["git", "-C", directory, *args], check=True, capture_output=True,
                              text=True).stdout

    def package(self, path: str) -> dict[str, tuple[tuple, dict[str, str]]]:
        """Type name -> (its type expression, the imports of its file)."""
        if path not in self.loaded:
            repository, directory = _repository(path)
            listing = self.git(repository, "ls-tree", "--name-only", f"{self.tag}:{directory}" if directory
                               else self.tag)
            declared: dict[str, tuple[tuple, dict[str, str]]] = {}
            sources = self.sources[path] = []
            for name in listing.split():
                if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_generated") \
                        or name.endswith(".pb.go") or name.endswith("_fuzz.go"):
                    continue
                source = self.git(repository, "show", f"{self.tag}:{directory}/{name}" if directory
                                  else f"{self.tag}:{name}")
                sources.append(source)
                parsed = _Parser(source).parse()
                for type_name, expression in parsed.types.items():
                    declared[type_name] = (expression, parsed.imports)
            self.loaded[path] = declared
        return self.loaded[path]

    def resolve(self, expression: tuple, path: str, imports: dict[str, str]) -> tuple:
        """(Go kind, the struct's fields and where they were declared when the kind is "struct")."""
        kind = expression[0]
        if kind != "named":
            return (kind, (expression[1], path, imports)) if kind == "struct" else (kind, None)
        _, qualifier, name = expression
        if not qualifier:
            if name == "string":
                return ("string", None)
            if name == "bool":
                return ("bool", None)
            if name in _NUMBERS:
                return ("number", None)
            if name in ("error", "any"):
                return ("interface", None)
            target = path
        else:
            target = imports[qualifier]
        declared = self.package(target).get(name)
        if declared is None:
            raise KeyError(f"{target}.{name}")
        return self.resolve(declared[0], target, declared[1])

    def json_field_types(self, fields: list, path: str, imports: dict) -> dict[str, tuple[tuple, str, dict, list]]:
        """JSON name -> (Go type expression, package path and imports where it was written, json tag options) of a
        struct's fields as encoding/json sees them: embedded structs without a JSON name have their fields
        inlined, and the outer struct's own fields win over them."""
        own: dict[str, tuple[tuple, str, dict, list]] = {}
        inlined: dict[str, tuple[tuple, str, dict, list]] = {}
        for go_name, expression, tag in fields:
            match = re.search(r'(?:^|\s)json:"([^"]*)"', tag)
            options = match.group(1).split(",") if match else [""]
            name = options[0]
            if name == "-" and len(options) == 1:
                continue
            if go_name is None and not name:
                target = expression[1] if expression[0] == "pointer" else expression
                kind, struct = self.resolve(target, path, imports)
                if kind == "struct":
                    for key, value in self.json_field_types(*struct).items():
                        inlined.setdefault(key, value)
                    continue
                go_name = target[2]
            if go_name is not None and not go_name[0].isupper():
                continue
            own[name or go_name] = (expression, path, imports, options[1:])
        return {**inlined, **own}

    def json_fields(self, fields: list, path: str, imports: dict[str, str]) -> dict[str, tuple[bool, str]]:
        """JSON name -> (omitempty, Go kind) of a struct's fields as encoding/json sees them."""
        return {name: ("omitempty" in options, self.resolve(expression, where, written)[0])
                for name, (expression, where, written, options) in self.json_field_types(fields, path,
                                                                                        imports).items()}


def definition_package(name: str) -> tuple[str, str]:
    """``io.k8s.api.core.v1.PodSpec`` -> (``k8s.io/api/core/v1``, ``PodSpec``)."""
    package, _, type_name = name.rpartition(".")
    if not package.startswith("io.k8s."):
        raise KeyError(name)
    return "k8s.io/" + package[len("io.k8s."):].replace(".", "/"), type_name


def omittable(definitions: dict, packages: Packages) -> tuple[dict[str, dict[str, str]], list[str]]:
    """(definition name -> {JSON name: Go kind} of its omittable fields, warnings)."""
    table: dict[str, dict[str, str]] = {}
    warnings = []
    for name in sorted(definitions):
        try:
            path, type_name = definition_package(name)
            declared = packages.package(path).get(type_name)
        except (KeyError, subprocess.CalledProcessError):
            warnings.append(f"{name}: no Go package mirrored")
            continue
        if declared is None:
            warnings.append(f"{name}: no Go type {type_name}")
            continue
        properties = definitions[name].get("properties") or {}
        kind, struct = packages.resolve(declared[0], path, declared[1])
        if kind != "struct" or not properties:
            continue        # not a JSON object (Time, Quantity, IntOrString... encode themselves)
        json_fields = packages.json_fields(*struct)
        if set(json_fields) != set(properties):
            warnings.append(f"{name}: the Go fields {sorted(json_fields)} are not the OpenAPI properties "
                            f"{sorted(properties)}")
        fields = {}
        for json_name, (omitempty, field_kind) in json_fields.items():
            if json_name not in properties:
                continue        # a field the OpenAPI definition leaves out (never served)
            if omitempty and field_kind in OMITTABLE_KINDS:
                fields[json_name] = field_kind
        if fields:
            table[name] = fields
    return table, warnings


def render(table: dict[str, dict[str, str]], tag: str) -> str:
    lines = [
        f'"""The omittable fields of the built-in types, read from their Go struct tags at {tag} (generated by',
        '_generate_omitempty.py; do not edit).',
        "",
        "Each OpenAPI definition name maps to \"jsonName kind; ...\": the fields tagged omitempty whose Go type",
        "is a map, slice, string, number or bool, which upstream's encoding leaves out when they hold Go's zero",
        "value ({}, [], \"\", 0, false).",
        '"""',
        "",
        f'TAG = "{tag}"',
        "",
        "FIELDS = {",
    ]
    for name, fields in table.items():
        text = "; ".join(f"{field} {kind}" for field, kind in fields.items())
        entry = f'    "{name}": "{text}",'
        if len(entry) <= 120:
            lines.append(entry)
            continue
        lines.append(f'    "{name}": (')
        chunks = textwrap.wrap(text, 108, break_long_words=False, break_on_hyphens=False, drop_whitespace=False)
        for index, chunk in enumerate(chunks):
            lines.append(f'        "{chunk}"' + (")," if index == len(chunks) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_table(build, render_table, packages, output: str) -> list[str]:
    """``build(definitions, packages)`` -> (table, warnings) over the served definitions, the table written to
    ``output`` by ``render_table(table, tag)``; the warnings."""
    from .schema import definitions
    table, warnings = build(definitions(), packages)
    with open(output, "w") as handle:
        handle.write(render_table(table, packages.tag))
    return warnings


def run(generate, argv: list[str]) -> None:
    """A generator's command line: [MIRRORS [TAG]], its warnings on stderr."""
    for warning in generate(*argv[1:3]):
        print("warning:", warning, file=sys.stderr)


def generate(mirrors: str = MIRRORS, tag: str = TAG, output: str = OUTPUT) -> list[str]:
    """Write the table; the warnings (definitions without a Go struct to read)."""
    return write_table(omittable, render, Packages(mirrors, tag), output)


if __name__ == "__main__":
    run(generate, sys.argv)

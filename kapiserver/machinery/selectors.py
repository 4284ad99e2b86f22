"""
Label and field selectors, with the syntax, matching and error messages of
k8s.io/apimachinery ``pkg/labels`` and ``pkg/fields``.

Public API:

- :func:`parse_label_selector` — the ``labelSelector`` query parameter.
- :func:`label_selector_from_dict` — a ``metav1.LabelSelector`` object
  (``matchLabels`` / ``matchExpressions``), as controllers and printers use.
- :func:`format_labels` / :func:`format_label_selector` — the printers' renderings.
- :func:`parse_field_selector` — the ``fieldSelector`` query parameter.
- :func:`validate_label_key` / :func:`validate_label_value` — the messages of
  ``validation.IsQualifiedName`` / ``IsValidLabelValue`` (a list, empty when valid).
- :func:`go_quote` — Go's ``%q``, as upstream's messages quote values.

Parse errors raise ``errors.bad_request`` carrying the text the apiserver puts in
its 400 Status; the apiserver passes the parser's error through unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from . import errors
from .gojson import go_quote

# --- validation.IsQualifiedName / IsValidLabelValue -------------------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(_QNAME_FMT)
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character")
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an alphanumeric character")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                          "characters, '-' or '.', and must start and end with an alphanumeric character")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # upstream's wording, double spaces included: "(e.g. 'MyName',  or 'my.name', ..."
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def _dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value.encode()) > 253:
        errs.append(_max_len(253))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def validate_label_key(key: str) -> list[str]:
    """The messages of upstream's IsQualifiedName; empty when ``key`` is a valid label key."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
        errs: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs = ["prefix part must be non-empty"]
        else:
            errs = ["prefix part " + e for e in _dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part " + _max_len(63))
    if not _QNAME_RE.fullmatch(name):  # checked even when empty, as upstream does
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def validate_label_value(value: str) -> list[str]:
    """The messages of upstream's IsValidLabelValue; empty when ``value`` is valid."""
    errs = []
    if len(value.encode()) > 63:
        errs.append(_max_len(63))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _invalid(field: str, value: str, detail: str) -> str:
    """field.Invalid(...).Error(); a nil path prints as ``<nil>``."""
    return f"{field}: Invalid value: {go_quote(value)}: {detail}"


class _ParseError(Exception):
    pass


# --- label requirements ----------------------------------------------------------------------

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)


def _parse_int64(text: str) -> Optional[int]:
    # strconv.ParseInt(s, 10, 64): optional sign, decimal digits only
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    number = int(text)
    return number if -(1 << 63) <= number < (1 << 63) else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if op == EXISTS:
            return has
        if op == DOES_NOT_EXIST:
            return not has
        if op in (GREATER_THAN, LESS_THAN):
            if not has or len(self.values) != 1:
                return False
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op == EXISTS:
            return self.key
        values = ",".join(sorted(self.values)) if len(self.values) > 1 else "".join(self.values)
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{values}"


def _new_requirement(key: str, op: str, values: list[str], key_field: str = "key") -> Requirement:
    """labels.NewRequirement: raise _ParseError with the aggregated field errors."""
    problems = []
    key_errs = validate_label_key(key)
    if key_errs:
        problems.append(_invalid(key_field, key, "; ".join(key_errs)))
    if op in (IN, NOT_IN):
        if not values:
            problems.append(f"values: Invalid value: {_show_list(values)}: "
                            "for 'in', 'notin' operators, values set can't be empty")
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            problems.append(f"values: Invalid value: {_show_list(values)}: "
                            "exact-match compatibility requires one single value")
    elif op in (EXISTS, DOES_NOT_EXIST):
        if values:
            problems.append(f"values: Invalid value: {_show_list(values)}: "
                            "values set must be empty for exists and does not exist")
    elif op in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            problems.append(f"values: Invalid value: {_show_list(values)}: "
                            "for 'Gt', 'Lt' operators, exactly one value is required")
        for i, value in enumerate(values):
            if _parse_int64(value) is None:
                problems.append(_invalid(f"values[{i}]", value,
                                         "for 'Gt', 'Lt' operators, the value must be an integer"))
    for i, value in enumerate(values):
        value_errs = validate_label_value(value)
        if value_errs:
            problems.append(_invalid(f"values[{i}][{key}]", value, "; ".join(value_errs)))
    if problems:
        raise _ParseError(errors.aggregate(problems))
    return Requirement(key, op, tuple(values))


def _show_list(values: list[str]) -> str:
    # field errors render non-scalar values as JSON; an empty Go slice here is nil: "null"
    return "[" + ",".join(go_quote(v) for v in values) + "]" if values else "null"


class LabelSelector:
    """A conjunction of requirements.  ``LabelSelector.nothing()`` matches no object."""

    def __init__(self, requirements: Iterable[Requirement] = (), nothing: bool = False):
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing

    @classmethod
    def everything(cls) -> "LabelSelector":
        return cls()

    @classmethod
    def nothing(cls) -> "LabelSelector":
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (Nothing is not empty)."""
        return not self._nothing and not self.requirements

    def matches(self, labels: Optional[Mapping[str, str]]) -> bool:
        if self._nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def exact_match(self, key: str) -> Optional[str]:
        """The single value ``key`` must have (``=``, ``==`` or a one-value ``in``), else None."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})" if not self._nothing else "LabelSelector.nothing()"


# --- the label selector lexer and parser (the grammar of labels.Parse) ------------------------

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_TOKENS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN,
           "<": _LT, "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[int, str]]:
    data = text.encode()  # upstream scans bytes
    items: list[tuple[int, str]] = []
    pos, n = 0, len(data)
    while True:
        while pos < n and chr(data[pos]) in _WHITESPACE:
            pos += 1
        if pos >= n or data[pos] == 0:
            items.append((_EOS, ""))
            return items
        if chr(data[pos]) in _SPECIAL:
            buf, last = "", None
            while pos < n and chr(data[pos]) in _SPECIAL:
                candidate = buf + chr(data[pos])
                if candidate in _TOKENS:
                    buf, last = candidate, (_TOKENS[candidate], candidate)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buf = candidate
                    pos += 1
            items.append(last if last is not None else (_ERROR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while pos < n and data[pos] != 0 and chr(data[pos]) not in _SPECIAL \
                    and chr(data[pos]) not in _WHITESPACE:
                pos += 1
            word = data[start:pos].decode(errors="replace")
            items.append((_TOKENS[word], word) if word in ("in", "notin") else (_ID, word))


class _Parser:
    def __init__(self, text: str):
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_IN, _NOTIN):
            tok = _ID  # "in" and "notin" are plain words where values are expected
        return tok, lit

    def consume(self, values: bool = True) -> tuple[int, str]:
        item = self.lookahead(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, _NOT):
                try:
                    requirements.append(self.requirement())
                except _ParseError as exc:
                    raise _ParseError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume()
                if tok == _EOS:
                    return requirements
                if tok == _COMMA:
                    tok2, lit2 = self.lookahead()
                    if tok2 not in (_ID, _NOT):
                        raise _ParseError(f"found '{lit2}', expected: identifier after ','")
                else:
                    raise _ParseError(f"found '{lit}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return requirements
            else:
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, op = self.key_and_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return _new_requirement(key, op, [])
        op = self.operator()
        values = self.value_set() if op in (IN, NOT_IN) else self.exact_value()
        return _new_requirement(key, op, sorted(values))

    def key_and_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume()
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _ID:
            raise _ParseError(f"found '{lit}', expected: identifier")
        key_errs = validate_label_key(lit)
        if key_errs:
            raise _ParseError(_invalid("<nil>", lit, "; ".join(key_errs)))
        if self.lookahead()[0] in (_EOS, _COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def operator(self) -> str:
        tok, lit = self.consume(values=False)
        ops = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
               _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}
        if tok not in ops:
            raise _ParseError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _OPEN:
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, _COMMA):
            values = self.identifiers()
            if self.consume()[0] != _CLOSE:
                raise _ParseError(f"found '{lit}', expected: ')'")  # upstream reports the first token
            return values
        if tok == _CLOSE:
            self.consume()
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return values
                raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.add("")  # "(," starts with an empty value
                tok2 = self.lookahead()[0]
                if tok2 == _CLOSE:
                    values.add("")  # ",)" ends with one
                    return values
                if tok2 == _COMMA:
                    self.consume()
                    values.add("")  # ",," holds one
            else:
                raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector``; a syntax or validation error raises a 400 BadRequest."""
    try:
        return LabelSelector(_Parser(text or "").parse())
    except _ParseError as exc:
        raise errors.bad_request(str(exc)) from None


_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(selector: Optional[Mapping]) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, ``{}`` everything.

    Invalid content raises a 400 BadRequest with upstream's message."""
    if selector is None:
        return LabelSelector.nothing()
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return LabelSelector.everything()
    requirements = []
    try:
        for key, value in match_labels.items():
            requirements.append(_new_requirement(key, EQUALS, [value]))
        for expr in expressions:
            operator = expr.get("operator", "")
            if operator not in _EXPRESSION_OPERATORS:
                raise _ParseError(f"{go_quote(str(operator))} is not a valid label selector operator")
            requirements.append(_new_requirement(expr.get("key", ""), _EXPRESSION_OPERATORS[operator],
                                                 list(expr.get("values") or [])))
    except _ParseError as exc:
        raise errors.bad_request(str(exc)) from None
    return LabelSelector(requirements)


def format_labels(labels: Optional[Mapping[str, str]]) -> str:
    """labels.FormatLabels: ``k=v`` sorted by key and comma-joined, ``<none>`` when empty."""
    text = ",".join(f"{k}={labels[k]}" for k in sorted(labels or {}))
    return text or "<none>"


def format_label_selector(selector: Optional[Mapping]) -> str:
    """metav1.FormatLabelSelector: the selector's string, ``<none>`` when empty, ``<error>`` if invalid."""
    try:
        text = str(label_selector_from_dict(selector))
    except errors.StatusError:
        return "<error>"
    return text or "<none>"


def label_selector_string(selector: Optional[Mapping]) -> str:
    """A *metav1.LabelSelector as its generated (gogo-protobuf) String() writes it, which fmt's %v and %+v print:
    ``&LabelSelector{MatchLabels:map[string]string{k: v,},MatchExpressions:[]LabelSelectorRequirement{...},}``,
    ``nil`` for none."""
    if selector is None:
        return "nil"
    labels = selector.get("matchLabels") or {}
    label_text = "".join(f"{key}: {labels[key]}," for key in sorted(labels))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{label_text}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")


# --- field selectors -------------------------------------------------------------------------

_FIELD_OPERATORS = ("!=", "==", "=")  # "==" before "=" so no "=" is left on the value


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> Optional[tuple[str, str, str]]:
    for i in range(len(term)):
        for op in _FIELD_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out, in_slash = [], False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise _ParseError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # upstream prints the rune with %v: its code point as a number
            raise _ParseError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise _ParseError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


class FieldSelector:
    """A conjunction of ``field=value`` / ``field!=value`` terms over a flat field set."""

    def __init__(self, requirements: Iterable[FieldRequirement] = ()):
        self.requirements: tuple[FieldRequirement, ...] = tuple(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        """A field absent from ``fields`` reads as the empty string, as upstream's fields.Set does."""
        for r in self.requirements:
            have = fields.get(r.field, "")
            if (have == r.value) != (r.operator == "="):
                return False
        return True

    def exact_match(self, field: str) -> Optional[str]:
        """The value ``field`` must equal, if some ``=`` term names it, else None."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None

    def transform(self, fn) -> "FieldSelector":
        """A copy with ``fn(field, value) -> (field, value)`` applied to every term in order;
        exceptions from ``fn`` propagate.  A term mapped to two empty strings is dropped."""
        out = []
        for r in self.requirements:
            field, value = fn(r.field, r.value)
            if field or value:
                out.append(FieldRequirement(field, r.operator, value))
        return FieldSelector(out)

    def __str__(self) -> str:
        return ",".join(f"{r.field}{r.operator}{escape_field_value(r.value)}" for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a ``fieldSelector`` (terms are kept in upstream's sorted order); errors raise a 400."""
    text = text or ""
    requirements = []
    try:
        for part in sorted(_split_terms(text)):
            if not part:
                continue
            split = _split_term(part)
            if split is None:
                raise _ParseError(f"invalid selector: '{text}'; can't understand '{part}'")
            lhs, op, rhs = split
            requirements.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", _unescape(rhs)))
    except _ParseError as exc:
        raise errors.bad_request(str(exc)) from None
    return FieldSelector(requirements)

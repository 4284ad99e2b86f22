"""
CEL's static type check where cel-python has none: what cel-go's checker finds in an expression given the schemas of
its variables (a CRD rule's ``self`` and ``oldSelf``, an admission policy's ``object``), and where in the source it
reports each finding.

Types are inferred where evident: literals, fields of variables whose schema is known, a list's item and a map's
value by index, the results of operators, conditionals and string functions over them, a comprehension's variable
from what it ranges over.  An operator, a conditional or a function applied to known types no overload takes, a
field the schema does not declare, a field of a scalar, a macro over a scalar, an operand of ``&&``/``||`` that is
not a bool: each is reported as cel-go's checker words it (``ERROR: <input>:line:column: message``, the line, a
caret).  Anything not typed here (int-or-string, timestamps, durations, collections compared or joined whole,
other calls) is dynamic and passes, left to evaluation.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from lark import Token, Tree

from . import celcost
from .celnames import escape_property

# The macros binding a variable over a collection, and an optional's (o.optMap(v, e), o.optFlatMap(v, e)).
BINDING_MACROS = {"all", "exists", "exists_one", "map", "filter"}
OPTIONAL_MACROS = {"optMap", "optFlatMap"}


def finding_text(source: str, at, message: str, dotted: bool = False) -> str:
    """cel-go's shape of a finding: ``ERROR: <input>:line:column: message``, the line, and a caret under the column
    (``at``: a token or position with line and column; ``dotted``: one column left, at the dot before it)."""
    line = getattr(at, "line", 1) or 1
    column = (getattr(at, "column", 1) or 1) - (1 if dotted else 0)
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    return f"ERROR: <input>:{line}:{column}: {message}\n | {text}\n | {'.' * (column - 1)}^"


# -- a variable's schema --------------------------------------------------------------------------------------

_ROOT_FIELDS = {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"type": "object", "properties": {"name": {"type": "string"},
                                                              "generateName": {"type": "string"}}}}


def _field_schema(schema: dict, name: str, root: bool) -> tuple[bool, Optional[dict]]:
    """(known, schema) of ``self.<name>`` on an object of ``schema``; schema None when untyped."""
    if root and name in _ROOT_FIELDS:
        return True, _ROOT_FIELDS[name]
    for key, sub in (schema.get("properties") or {}).items():
        if escape_property(key) == name:
            return True, sub if isinstance(sub, dict) else None
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return True, additional
    if additional is True or schema.get("x-kubernetes-preserve-unknown-fields") or \
            schema.get("x-kubernetes-embedded-resource") or schema.get("type") != "object":
        return True, None
    return False, None


class RuleSchema:
    """A CRD schema node as the type check reads a variable's schema (machinery.schema.SchemaNode's type,
    format, int_or_string, child, items and values), the object's implicit root fields included; ``declares``
    tells an undeclared field from an untyped one."""

    __slots__ = ("schema", "root")

    def __init__(self, schema: dict, root: bool = False):
        self.schema = schema
        self.root = root

    @property
    def type(self) -> Optional[str]:
        declared = self.schema.get("type")
        return declared if isinstance(declared, str) else None

    @property
    def format(self) -> Optional[str]:
        return self.schema.get("format")

    @property
    def int_or_string(self) -> bool:
        return bool(self.schema.get("x-kubernetes-int-or-string"))

    def child(self, name: str) -> "Optional[RuleSchema]":
        known, sub = _field_schema(self.schema, name, self.root)
        return RuleSchema(sub) if known and isinstance(sub, dict) else None

    def declares(self, name: str) -> bool:
        return _field_schema(self.schema, name, self.root)[0]

    def items(self) -> "Optional[RuleSchema]":
        items = self.schema.get("items")
        return RuleSchema(items) if isinstance(items, dict) else None

    def values(self) -> "Optional[RuleSchema]":
        values = self.schema.get("additionalProperties")
        return RuleSchema(values) if isinstance(values, dict) else None


# A map's keys, as a comprehension over the map binds them.
_STRING = RuleSchema({"type": "string"})

# A list or map literal is a list or a map whatever it holds (one element must not pass for that element).
_COLLECTION_LITERALS = {"list_lit": "list", "map_lit": "map"}


# -- the check ---------------------------------------------------------------------------------------------


LITERAL_TYPES = {"INT_LIT": "int", "UINT_LIT": "uint", "FLOAT_LIT": "double", "STRING_LIT": "string",
                  "MLSTRING_LIT": "string", "BYTES_LIT": "bytes", "MLBYTES_LIT": "bytes", "BOOL_LIT": "bool",
                  "NULL_LIT": "null_type"}
_SCHEMA_TYPES = {"integer": "int", "string": "string", "number": "double", "boolean": "bool"}
_OPERATORS = {"relation_lt": "_<_", "relation_le": "_<=_", "relation_gt": "_>_", "relation_ge": "_>=_",
              "relation_eq": "_==_", "relation_ne": "_!=_", "addition_add": "_+_", "addition_sub": "_-_",
              "multiplication_mul": "_*_", "multiplication_div": "_/_", "multiplication_mod": "_%_"}
_NUMERIC = {"int", "uint", "double"}
_SCALARS = {"int", "uint", "double", "string", "bytes", "bool"}
# The unary operators: (cel-go's name, the operand types an overload takes, each giving its own type).
_UNARY_OPERATORS = {"unary_not": ("!_", {"bool"}), "unary_neg": ("-_", {"int", "double"})}
_ORDERED = _NUMERIC | {"string", "bytes", "bool", "timestamp", "duration"}


def _operator_result(operator: str, left: str, right: str) -> tuple[bool, Optional[str]]:
    """(whether an overload exists, its result type)."""
    if operator in ("_==_", "_!=_"):
        if "null_type" in (left, right):
            # null equals what cel-go's checker deems nullable (objects, timestamps, durations, null, dyn),
            # never a scalar: ``self.name == null`` on a string is its no-overload error
            return (right if left == "null_type" else left) not in _SCALARS, "bool"
        return left == right, "bool"
    if operator in ("_<_", "_<=_", "_>_", "_>=_"):
        return ((left == right and left in _ORDERED) or (left in _NUMERIC and right in _NUMERIC)), "bool"
    if left != right:
        return False, None
    if operator == "_+_":
        return left in _NUMERIC | {"string", "bytes", "list"}, left
    if operator == "_%_":
        return left in ("int", "uint"), left
    return left in _NUMERIC, left


def _shown(kind: Optional[str]) -> Optional[str]:
    """A type as cel-go's messages name it."""
    return "null" if kind == "null_type" else kind


class _Position(NamedTuple):
    line: int
    column: int


def _position_at(source: str, index: int) -> _Position:
    line_start = source.rfind("\n", 0, index) + 1
    return _Position(source.count("\n", 0, index) + 1, index - line_start + 1)


def _unary_operator_at(source: str, operand) -> Optional[_Position]:
    """Where a unary operator (``!``, ``-``) before ``operand`` stands: the first character before the operand
    that is not a space or an opening parenthesis."""
    first = _first_token(operand)
    index = getattr(first, "start_pos", None)
    if index is None:
        return None
    index -= 1
    while index > 0 and (source[index].isspace() or source[index] == "("):
        index -= 1
    return _position_at(source, max(index, 0))


def location(source: str, node):
    """Where cel-go places an expression: a field selection at its dot, an index at its "[", a call at its "(",
    an operator at the operator, anything else at its first token."""
    while isinstance(node, Tree) and len(node.children) == 1 and isinstance(node.children[0], Tree):
        node = node.children[0]
    if not isinstance(node, Tree):
        return node
    children = node.children
    if node.data == "member_dot":
        token = children[1]
        return _Position(token.line, token.column - 1)
    if node.data == "member_index" and hasattr(children[0], "meta"):
        at = source.find("[", children[0].meta.end_pos)
        if at >= 0:
            return _position_at(source, at)
    if node.data in ("ident_arg", "member_dot_arg"):
        return _call_at(source, children[0] if node.data == "ident_arg" else children[1])
    if node.data in ("relation", "addition", "multiplication") and len(children) == 2 and \
            isinstance(children[0], Tree) and children[0].data in _OPERATORS:
        return _operator_at(source, children[0].children[0]) or _first_token(node)
    return _first_token(node)


def _operator_at(source: str, left) -> Optional[_Position]:
    """Where a binary operator whose left operand is ``left`` stands in ``source`` (cel-go reports an operator's
    errors there): the first character after the operand's last token that is not a space or a closing parenthesis,
    bracket or brace (an index's, a list's or a map's, all still the operand's)."""
    last = None
    for last in left.scan_values(lambda v: isinstance(v, Token)) if isinstance(left, Tree) else [left]:
        pass
    end = getattr(last, "end_pos", None)
    if end is None:
        return None
    while end < len(source) and (source[end].isspace() or source[end] in ")]}"):
        end += 1
    return _position_at(source, end)


def _first_token(node):
    for token in node.scan_values(lambda v: isinstance(v, Token)) if isinstance(node, Tree) else [node]:
        return token
    return None


def type_warnings(program, variables: dict) -> list[str]:
    """cel-go's checker errors that can be found for ``program`` given ``variables`` ({name: a
    machinery.schema.SchemaNode, or a RuleSchema, for the variables whose schema is known})."""
    return type_check(program, variables)[0]


def type_check(program, variables: dict) -> tuple[list[str], Optional[str]]:
    """(cel-go's checker errors found in ``program``, its type where evident).  A comprehension's variable
    (``self.items.all(i, ...)``) is typed by what it ranges over: a list's items, a map's keys (strings).  A
    field a RuleSchema does not declare is an ``undefined field``."""
    out: list[str] = []

    def error(at, message: str) -> None:
        out.append(finding_text(program.source, at, message))

    def infer(node, scope: dict) -> tuple[Optional[str], object]:
        # (CEL type name or None for dyn, the schema node of a field reference)
        if not isinstance(node, Tree):
            return None, None
        # a rule's name as a plain str (lark's Token compares slowly)
        data, children = getattr(node.data, "value", node.data), node.children
        if data == "literal":
            token = children[0]
            return LITERAL_TYPES.get(getattr(token, "type", ""), None), None
        if data == "ident":
            schema_node = scope.get(str(children[0]))
            return (_node_type(schema_node), schema_node) if schema_node is not None else (None, None)
        if data == "member_dot":
            kind, parent = infer(children[0], scope)
            if kind in _SCALARS:
                error(location(program.source, node), f"type '{kind}' does not support field selection")
                return None, None
            if parent is None:
                return None, None
            name = str(children[1])
            field = parent.child(name)
            if field is None and not getattr(parent, "declares", lambda _: True)(name):
                error(location(program.source, node), f"undefined field '{name}'")
            return (_node_type(field), field) if field is not None else (None, None)
        if data == "member_index" and len(children) == 2:
            return index(node, scope)
        if data == "expr" and len(children) == 3:
            return conditional(node, scope)
        if data == "member_dot_arg" and len(children) == 3 and str(children[1]) in BINDING_MACROS and \
                isinstance(children[2], Tree) and len(children[2].children) >= 2:
            return comprehension(node, scope)
        if data in ("member_dot_arg", "ident_arg") and str(children[1 if data == "member_dot_arg" else 0]) in \
                _FUNCTION_OVERLOADS:
            return call(node, data == "member_dot_arg", scope)
        if data in ("relation", "addition", "multiplication") and len(children) == 2 and \
                isinstance(children[0], Tree) and children[0].data in _OPERATORS:
            operator = _OPERATORS[children[0].data]
            left, _ = infer(children[0].children[0], scope)
            right, _ = infer(children[1], scope)
            if left is None or right is None:
                return ("bool" if data == "relation" else None), None
            found, result = _operator_result(operator, left, right)
            if not found and ("list" in (left, right) or "map" in (left, right)):
                # cel-go names a collection with its element types (list(string)), which are not tracked here
                return None, None
            if not found:
                at = _operator_at(program.source, children[0].children[0]) or _first_token(node)
                error(at, f"found no matching overload for '{operator}' applied to '({_shown(left)}, {_shown(right)})'")
                return None, None
            return result, None
        if data == "unary" and len(children) == 2 and isinstance(children[0], Tree) and \
                children[0].data in _UNARY_OPERATORS:
            operator, takes = _UNARY_OPERATORS[children[0].data]
            operand, _ = infer(children[1], scope)
            if operand is None or operand in takes:
                return operand, None
            if operand not in ("list", "map"):
                at = _unary_operator_at(program.source, children[1]) or _first_token(node)
                error(at, f"found no matching overload for '{operator}' applied to '({_shown(operand)})'")
            return None, None
        if data in ("conditionaland", "conditionalor") and len(children) == 2:
            for operand in children:        # cel-go asserts each side of && and || a bool
                kind, _ = infer(operand, scope)
                if kind not in (None, "bool", "list", "map"):
                    error(location(program.source, operand), f"expected type 'bool' but found '{_shown(kind)}'")
            return "bool", None
        if data in _COLLECTION_LITERALS:     # a list or map whatever it holds (checked inside)
            for child in children:
                infer(child, scope)
            return _COLLECTION_LITERALS[data], None
        if len(children) == 1:
            return infer(children[0], scope)
        for child in children:          # calls, macros, lists, maps ...: check inside, type as dyn
            infer(child, scope)
        return None, None

    def conditional(node, scope: dict) -> tuple[Optional[str], object]:
        """``c ? a : b``: cel-go's (bool, A, A) -> A, refused where the evident types fit it not (a condition that
        is not a bool, branches of two types); null and collections (whose element types are not tracked) are
        left be."""
        kinds = [infer(child, scope)[0] for child in node.children]
        condition, yes, no = kinds
        known = all(kind is not None and kind not in ("list", "map", "null_type") for kind in kinds)
        if known and (condition != "bool" or yes != no):
            at = _operator_at(program.source, node.children[0]) or _first_token(node)
            error(at, f"found no matching overload for '_?_:_' applied to '({condition}, {yes}, {no})'")
            return None, None
        return (yes if yes == no else None), None

    def index(node, scope: dict) -> tuple[Optional[str], object]:
        """``x[i]``: a list's item (typed by the schema's items) at an int, a map's value (additionalProperties) at
        a string; a scalar indexed is cel-go's no-overload error.  An object with properties, and an index of
        another type, are left dyn here."""
        kind, parent = infer(node.children[0], scope)
        at, _ = infer(node.children[1], scope)
        if kind in _SCALARS and at is not None:
            error(location(program.source, node), f"found no matching overload for '_[_]' applied to '({kind}, {at})'")
            return None, None
        if parent is None:
            return None, None
        element = parent.items() if kind == "list" and at in (None, "int") else \
            parent.values() if kind == "map" and at in (None, "string") else None
        return (_node_type(element), element) if element is not None else (None, None)

    def call(node, member: bool, scope: dict) -> tuple[Optional[str], object]:
        """A call of one of the functions whose overloads are all known: refused where the evident types of its
        receiver and arguments fit none (``self.name.startsWith(1)``), typed by the overload that fits."""
        children = node.children
        receiver = infer(children[0], scope)[0] if member else None
        name = children[1] if member else children[0]
        arguments = [infer(a, scope)[0] for a in celcost.argument_list(children[2 if member else 1:])]
        known = [receiver] if member else []
        if any(kind is None or kind in ("list", "map", "null_type") for kind in known + arguments):
            return None, None       # a collection's element types, and dyn, are not tracked here
        for takes, gives in _FUNCTION_OVERLOADS[str(name)]:
            if takes == (receiver, *arguments) if member else takes == (None, *arguments):
                return gives, None
        shown = ", ".join(arguments)
        error(_call_at(program.source, name),
              f"found no matching overload for '{name}' applied to '{f'{receiver}.' if member else ''}({shown})'")
        return None, None

    def comprehension(node, scope: dict) -> tuple[Optional[str], object]:
        receiver, macro, args = node.children
        kind, ranged = infer(receiver, scope)
        if kind in _SCALARS:
            error(location(program.source, receiver), f"expression of type '{kind}' cannot be range of a "
                                                       "comprehension (must be list, map, or dynamic)")
        names = [t for t in args.children[0].scan_values(lambda v: isinstance(v, Token))]
        if len(names) != 1 or names[0].type != "IDENT":
            for child in args.children:
                infer(child, scope)
            return None, None
        element = None
        if ranged is not None and kind == "list":
            element = ranged.items()
        elif ranged is not None and kind == "map" and ranged.values() is not None:     # a map, not an object
            element = _STRING
        inner = dict(scope)
        inner[str(names[0])] = element      # bound, typed or not: it hides any variable of that name
        for index, child in enumerate(args.children[1:]):
            result, _ = infer(child, inner)
            # every macro's predicate is a bool; map's is one only when it also has a transform
            predicate = str(macro) != "map" or (index == 0 and len(args.children) == 3)
            if predicate and result not in (None, "bool", "list", "map"):
                error(location(program.source, child), f"expected type 'bool' but found '{_shown(result)}'")
        return ("bool" if str(macro) in ("all", "exists", "exists_one") else None), None

    result, _ = infer(program.tree, dict(variables))
    return out, result


# The functions each of whose overloads is known: (receiver type, or None for a global call, then the argument
# types) -> result type.  A call none fits is refused as cel-go's checker refuses it.
_FUNCTION_OVERLOADS: dict[str, list[tuple[tuple, str]]] = {
    **{name: [(("string", "string"), "bool")] for name in ("contains", "startsWith", "endsWith")},
    "matches": [(("string", "string"), "bool"), ((None, "string", "string"), "bool")],
    **{name: [(("string",), "string")] for name in ("lowerAscii", "upperAscii", "trim")},
    "charAt": [(("string", "int"), "string")],
    **{name: [(("string", "string"), "int"), (("string", "string", "int"), "int")]
       for name in ("indexOf", "lastIndexOf")},
    "replace": [(("string", "string", "string"), "string"), (("string", "string", "string", "int"), "string")],
    "substring": [(("string", "int"), "string"), (("string", "int", "int"), "string")],
    "find": [(("string", "string"), "string")],
}


def _call_at(source: str, name: Token):
    """Where cel-go places a call: its opening parenthesis."""
    index = getattr(name, "end_pos", None)
    if index is None:
        return name
    while index < len(source) and source[index].isspace():
        index += 1
    return _position_at(source, index)


def _node_type(node) -> Optional[str]:
    if node is None or getattr(node, "int_or_string", False):
        return None
    declared = node.type
    if declared == "string" and node.format in ("date-time", "date", "duration", "byte", "binary"):
        return None     # a timestamp, a duration or bytes in CEL (byte is either, by release): left untyped
    if declared == "array":
        return "list"
    if declared == "object":
        return "map"
    return _SCHEMA_TYPES.get(declared or "")

"""
The estimated cost of a CRD validation rule, as apiextensions works it out when the CRD is written.

A rule's worst-case cost is estimated from its parsed form and the schema's bounds (cel-go's static cost
estimator, with Kubernetes' library costs and size estimates): every list, map and string the schema leaves
unbounded is taken as large as a 3 MiB request could make it, a comprehension costs its range's size times its
body, string functions cost by their operands' lengths.  The rule's cost is then multiplied by how many times it
can run in one object (the product of maxItems/maxProperties above it, or, where one is missing, as many as fit in a
request).  A CRD whose rule estimates above 10,000,000, or whose rules together estimate above 100,000,000, is
refused; this is what lets a user learn at ``kubectl apply`` of the CRD that a rule needs ``maxItems``,
``maxLength`` or ``maxProperties``, rather than from a real cluster later.

Only the estimate's upper bound is computed (the only one the checks use); sizes keep both bounds (a few functions'
estimates use the lower one).  Macros are costed as cel-go expands them into comprehensions.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

from celpy.evaluation import celbytes, celstr
from lark import Token, Tree

from .celnames import escape_property
from .errors import FieldError, forbidden

MAX = 2 ** 64 - 1
MAX_REQUEST_BYTES = 3 * 1024 * 1024
PER_EXPRESSION_LIMIT = 10_000_000
PER_CRD_LIMIT = 100_000_000
_PER_REQUEST = MAX_REQUEST_BYTES - 2
_STRING_TRAVERSAL = 0.1
_REGEX_LENGTH = 0.25
_LIST_CREATE, _MAP_CREATE, _STRUCT_CREATE = 10, 30, 40
_ACCUMULATOR = "__result__"


def _add(x: int, y: int) -> int:
    return min(MAX, x + y)


def mul(x: int, y: int) -> int:
    return min(MAX, x * y)


def _factor(x: int, factor: float) -> int:
    """x times a cost factor, rounded up, as cel-go does it in doubles."""
    product = float(x) * factor
    if product >= 2.0 ** 64:
        return MAX
    return math.ceil(product)


class Size(NamedTuple):
    lo: int
    hi: int

    def plus(self, other: "Size") -> "Size":
        return Size(_add(self.lo, other.lo), _add(self.hi, other.hi))

    def times(self, other: "Size") -> "Size":
        return Size(mul(self.lo, other.lo), mul(self.hi, other.hi))

    def union(self, other: "Size") -> "Size":
        return Size(min(self.lo, other.lo), max(self.hi, other.hi))


_UNKNOWN_SIZE = Size(0, MAX)


# -- the schema's types and bounds (Kubernetes' DeclType) --------------------------------------------------------

class Decl:
    """A schema node as a CEL type: its kind, how many elements (or bytes) it may hold, the fewest bytes it takes
    serialized, and its fields, items or values, and keys."""

    __slots__ = ("kind", "max_elements", "min_size", "fields", "elem", "key")

    def __init__(self, kind: str, max_elements: int = 0, min_size: int = 1, fields: Optional[dict] = None,
                 elem: "Optional[Decl]" = None, key: "Optional[Decl]" = None):
        self.kind, self.max_elements, self.min_size = kind, max_elements, min_size
        self.fields, self.elem, self.key = fields or {}, elem, key


_MAP_KEY = Decl("string", 0, 2)     # a map's keys: a string type of no declared length (so sized 0, as upstream)


def decl(schema: dict, root: bool = False, memo: Optional[dict] = None) -> Optional[Decl]:
    """The Decl of ``schema`` (None for a node CEL cannot see: no type, or items of no type); ``root`` for a
    resource's root (the CRD's, or an embedded resource's), whose kind, apiVersion and metadata CEL always sees;
    ``memo`` keeps the Decls of the nodes below, by node, for the next call."""
    if schema.get("x-kubernetes-int-or-string"):
        return Decl("dyn", _PER_REQUEST, 1)
    if root:
        schema = _with_type_and_object_meta(schema)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        elem = _child(items, memo) if isinstance(items, dict) else None
        if elem is None:
            return None
        bound = _bound(schema, "maxItems")
        return Decl("list", bound if bound is not None else _PER_REQUEST // (elem.min_size + 1), 2, elem=elem)
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            elem = _child(values, memo)
            if elem is None:
                return None
            bound = _bound(schema, "maxProperties")
            return Decl("map", bound if bound is not None else _PER_REQUEST // (elem.min_size + 6), 2, elem=elem,
                        key=_MAP_KEY)
        fields, min_size = {}, 2
        required = set(schema.get("required") or ())
        for name, prop in (schema.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            field = _child(prop, memo)
            if field is None:
                continue
            fields[escape_property(name)] = field
            if name in required and "default" not in prop:
                min_size += len(name.encode()) + field.min_size + 4
        return Decl("object", 0, min_size, fields)
    if kind == "string":
        form = schema.get("format")
        if form in _FIXED_SIZE_FORMATS:
            return Decl(*_FIXED_SIZE_FORMATS[form])
        bound = _bound(schema, "maxLength")
        if form == "byte":
            return Decl("bytes", bound if bound is not None else _PER_REQUEST, 2)
        if bound is not None:
            return Decl("string", bound * 4, 2)
        if schema.get("enum"):
            return Decl("string", max((len(v.encode()) for v in schema["enum"] if isinstance(v, str)), default=0), 2)
        return Decl("string", _PER_REQUEST, 2)
    if kind in _SCALARS:
        return Decl(*_SCALARS[kind])
    return None


# (kind, max_elements, min_size) of the strings whose format makes them another CEL type of a known size, and of the
# other scalars.
_FIXED_SIZE_FORMATS = {"duration": ("duration", 32, 3), "date": ("timestamp", 12, 12),
                       "date-time": ("timestamp", 32, 21)}
_SCALARS = {"boolean": ("bool", 0, 4), "number": ("double", 0, 1), "integer": ("int", 0, 1)}


def _replaced(length: int, found_size: int, moves: bool) -> tuple[int, int]:
    """One bound of cel-go's replace() estimate: (how many replacements, how much of the text is kept) for a text of
    ``length`` whose matches are ``found_size`` long; ``moves``: whether a replacement moves this bound (grows the
    text, for the upper bound; shrinks it, for the lower)."""
    if found_size == 0:          # an empty match: one before every character and one at the end
        return (length + 1 if length < MAX else length), length
    if not moves:
        return 0, length
    return math.ceil(float(length) / float(found_size)), 0


def _child(schema: dict, memo: Optional[dict]) -> Optional[Decl]:
    return memoized_decl(schema, bool(schema.get("x-kubernetes-embedded-resource")), memo)


def memoized_decl(schema: dict, root: bool, memo: Optional[dict]) -> Optional[Decl]:
    """decl(), looked up in (and kept in) ``memo`` by node where there is one."""
    if memo is None:
        return decl(schema, root)
    key = (id(schema), root)
    if key not in memo:
        # the node is kept with its Decl: a node made on the way (a root's implied metadata) must not be freed and
        # its id given to another while the memo lives
        memo[key] = (schema, decl(schema, root, memo))
    return memo[key][1]


def _bound(schema: dict, name: str) -> Optional[int]:
    value = schema.get(name)
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else None


def _with_type_and_object_meta(schema: dict) -> dict:
    properties = schema.get("properties") or {}
    metadata = properties.get("metadata") or {}
    meta_properties = metadata.get("properties") or {}
    if (_typed(properties.get("kind"), "string") and _typed(properties.get("apiVersion"), "string")
            and _typed(metadata, "object") and _typed(meta_properties.get("name"), "string")
            and _typed(meta_properties.get("generateName"), "string")):
        return schema
    string = {"type": "string"}
    return {**schema, "properties": {
        **properties, "kind": string, "apiVersion": string,
        "metadata": {"type": "object", "properties": {"name": string, "generateName": string}}}}


def _typed(schema, kind: str) -> bool:
    return isinstance(schema, dict) and schema.get("type") == kind


def max_elements(schema: dict) -> Optional[int]:
    """How many values one instance of ``schema`` holds for its children (None: unbounded)."""
    kind = schema.get("type")
    if kind == "object" and schema.get("additionalProperties") is not None:
        return _bound(schema, "maxProperties")
    if kind == "array":
        return _bound(schema, "maxItems")
    return 1


def unbounded_cardinality(node: Decl) -> int:
    """How many times a rule on ``node`` may run in one request when nothing above it bounds that."""
    return MAX_REQUEST_BYTES // (node.min_size + 1)


# -- CEL types, as far as the estimate needs them -------------------------------------------------------------

class Type(NamedTuple):
    """A CEL type: ``kind`` is bool, int, uint, double, string, bytes, duration, timestamp, null, type, dyn,
    list (``elem``), map (``key``, ``elem``), object (a schema object, ``decl``), struct (a library's struct type,
    Quantity, URL ...: ``name``) or opaque (IP, CIDR, optional: ``name``)."""
    kind: str
    elem: "Optional[Type]" = None
    key: "Optional[Type]" = None
    decl: Optional[Decl] = None
    name: str = ""


DYN, BOOL, INT, UINT, DOUBLE = Type("dyn"), Type("bool"), Type("int"), Type("uint"), Type("double")
STRING, BYTES, NULL = Type("string"), Type("bytes"), Type("null")
_SCALAR_KINDS = {"bool", "double", "duration", "int", "timestamp", "uint"}


def type_of(node: Optional[Decl]) -> Type:
    if node is None:
        return DYN
    if node.kind == "object":
        return Type("object", decl=node)
    if node.kind == "list":
        return Type("list", elem=type_of(node.elem))
    if node.kind == "map":
        return Type("map", key=STRING, elem=type_of(node.elem))
    return Type(node.kind)


def _join(one: Type, other: Type) -> Type:
    """The type two branches share: the more specific where one leaves a part open (``[]`` beside a list of
    strings is a list of strings), dyn where they differ."""
    if one == other or other.kind == "dyn":
        return one
    if one.kind == "dyn":
        return other
    if one.kind != other.kind or one.kind not in ("list", "map"):
        return DYN
    return Type(one.kind, elem=_join(one.elem or DYN, other.elem or DYN),
                key=_join(one.key, other.key) if one.key and other.key else one.key or other.key)


def _could_be(t: Type, kind: str) -> bool:
    return t.kind in (kind, "dyn")


_LITERALS = {"INT_LIT": INT, "UINT_LIT": UINT, "FLOAT_LIT": DOUBLE, "STRING_LIT": STRING, "MLSTRING_LIT": STRING,
             "BYTES_LIT": BYTES, "BOOL_LIT": BOOL, "NULL_LIT": NULL}
_QUANTITY, _URL, _IP, _CIDR = Type("struct", name="Quantity"), Type("struct", name="URL"), \
    Type("opaque", name="IP"), Type("opaque", name="CIDR")
_SEMVER, _FORMAT, _OPTIONAL = Type("struct", name="Semver"), Type("struct", name="Format"), \
    Type("opaque", name="optional")
# What a call gives, by function name, where it does not depend on its operands.
_RESULTS = {
    **dict.fromkeys(("size", "indexOf", "lastIndexOf", "compareTo", "sign", "asInteger", "prefixLength", "family",
                     "int", "getHours", "getMinutes", "getSeconds", "getMilliseconds", "getDayOfMonth",
                     "getDayOfWeek", "getDayOfYear", "getDate", "getMonth", "getFullYear", "major", "minor",
                     "patch"), INT),
    **dict.fromkeys(("matches", "contains", "startsWith", "endsWith", "isSorted", "isURL", "isIP", "isCIDR",
                     "isQuantity", "isInteger", "isGreaterThan", "isLessThan", "containsIP", "containsCIDR",
                     "ip.isCanonical", "isUnspecified", "isLoopback", "isLinkLocalMulticast", "isLinkLocalUnicast",
                     "isGlobalUnicast", "sets.contains", "sets.intersects", "sets.equivalent", "bool",
                     "isSemver", "hasValue"), BOOL),
    **dict.fromkeys(("lowerAscii", "upperAscii", "trim", "substring", "replace", "charAt", "join", "format",
                     "strings.quote", "reverse", "getScheme", "getHost", "getHostname", "getPort", "getEscapedPath",
                     "string", "jsonpatch.escapeKey"), STRING),
    "split": Type("list", elem=STRING), "asApproximateFloat": DOUBLE, "double": DOUBLE, "uint": UINT,
    "bytes": BYTES, "duration": Type("duration"), "timestamp": Type("timestamp"), "type": Type("type"),
    "quantity": _QUANTITY, "add": _QUANTITY, "sub": _QUANTITY, "url": _URL, "ip": _IP, "cidr": _CIDR,
    "masked": _CIDR, "semver": _SEMVER, "format.named": _OPTIONAL, "validate": _OPTIONAL,
    "getQuery": Type("map", key=STRING, elem=Type("list", elem=STRING)),
}


# -- the estimate ---------------------------------------------------------------------------------------------

class _Node(NamedTuple):
    cost: int                       # the upper bound of its cost
    type: Type
    path: Optional[tuple] = None    # where in the schema its value comes from (cel-go's expression path)
    size: Optional[Size] = None     # its size where known from the expression itself (a literal, a call's result)
    value: object = None            # an int literal's value


class _Unsupported(Exception):
    """A form the estimate does not know: the rule is not costed (never refused for it)."""


def estimate(tree: Tree, root: Decl, optional_old_self: bool = False) -> Optional[int]:
    """The upper bound of the cost cel-go's estimator gives the parsed rule ``tree`` on a node of type ``root``
    (``self``, and ``oldSelf``: an optional of it under optionalOldSelf); None where the expression holds
    something the estimate does not know."""
    own = type_of(root)
    variables = {"self": own, "oldSelf": Type("opaque", elem=own, name="optional") if optional_old_self else own}
    try:
        return _Estimator(root, variables).walk(tree, {}).cost
    except _Unsupported:
        return None


# Nodes that stand for their one child; parentheses among them (cel-go's tree has none: ``has((self.a))`` is
# ``has(self.a)``).
_WRAPPERS = {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary", "member",
             "primary", "paren_expr"}
_BINARY = {"relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">=", "relation_eq": "==",
           "relation_ne": "!=", "relation_in": "in", "addition_add": "+", "addition_sub": "-",
           "multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%"}
_MACROS = {"all", "exists", "exists_one", "map", "filter"}


class _Estimator:
    def __init__(self, root: Decl, variables: dict):
        self.root, self.variables = root, variables

    # sizes ------------------------------------------------------------------------------------------------
    def _schema_size(self, path: Optional[tuple]) -> Optional[Size]:
        """The size the schema gives the value at ``path`` (its first step is the variable, any variable: the
        rule's own node), None where the path leads nowhere."""
        if not path or path[0] == _ACCUMULATOR:
            return None
        node: Optional[Decl] = self.root
        for step in path[1:]:
            if step in ("@items", "@values"):
                node = node.elem
            elif step == "@keys":
                node = node.key
            else:
                node = node.fields.get(step)
            if node is None:
                return None
        return Size(0, node.max_elements)

    def size(self, node: _Node) -> Size:
        """cel-go's size estimate: the expression's own, the schema's, 1 for a scalar, else unbounded."""
        if node.size is not None:
            return node.size
        found = self._schema_size(node.path)
        if found is not None:
            return found
        return Size(1, 1) if node.type.kind in _SCALAR_KINDS else _UNKNOWN_SIZE

    def library_size(self, node: _Node) -> Size:
        """Kubernetes' library estimate of a size: as size(), without the scalar's 1."""
        if node.size is not None:
            return node.size
        return self._schema_size(node.path) or _UNKNOWN_SIZE

    # the walk ---------------------------------------------------------------------------------------------
    def walk(self, tree, scope: dict) -> _Node:
        if not isinstance(tree, Tree):
            raise _Unsupported(tree)
        data = getattr(tree.data, "value", tree.data)     # a plain str: lark's Token compares slowly
        children = [c for c in tree.children if c is not None]
        if data in _WRAPPERS and len(children) == 1:
            return self.walk(children[0], scope)
        if data == "expr" and len(children) == 3:
            return self.conditional(*(self.walk(c, scope) for c in children))
        if data in ("conditionalor", "conditionaland") and len(children) == 2:
            left, right = (self.walk(c, scope) for c in children)
            return _Node(_add(left.cost, right.cost), BOOL)
        if data in ("relation", "addition", "multiplication") and len(children) == 2:
            operator = children[0]
            left = self.walk(operator.children[0], scope)
            right = self.walk(children[1], scope)
            return self.binary(_BINARY[operator.data], left, right)
        if data == "unary" and len(children) == 2:
            operand = self.walk(children[1], scope)
            return _Node(_add(1, operand.cost), BOOL if children[0].data == "unary_not" else operand.type)
        if data == "literal":
            return self.literal(children[0])
        if data in ("ident", "dot_ident"):
            return self.ident(str(children[0]), scope)
        if data == "member_dot":
            return self.select(self.walk(children[0], scope), str(children[1]))
        if data == "member_index":
            return self.index(self.walk(children[0], scope), self.walk(children[1], scope))
        if data == "member_dot_opt":        # a.?f: cel-go's call _?._(a, "f")
            operand = self.walk(children[0], scope)
            field = self.select(operand, str(children[1])).type
            return _Node(_add(operand.cost, 1), Type("opaque", elem=field, name="optional"))
        if data == "member_index_opt":      # a[?k]: cel-go's call _[?_](a, k)
            container, key = self.walk(children[0], scope), self.walk(children[1], scope)
            found = self.index(container, key).type
            return _Node(_add(_add(container.cost, key.cost), 1), Type("opaque", elem=found, name="optional"))
        if data in ("ident_arg", "dot_ident_arg"):
            name, args = str(children[0]), argument_list(children[1:])
            if name == "has" and len(args) == 1:
                return self.presence(args[0], scope)
            return self.call(name, None, [self.walk(a, scope) for a in args])
        if data == "member_dot_arg":
            receiver, name, args = children[0], str(children[1]), argument_list(children[2:])
            if name in _MACROS and len(args) in (2, 3) and _identifier(args[0]) is not None and \
                    (len(args) == 2 or name == "map"):
                return self.comprehension(name, receiver, _identifier(args[0]), args[1:], scope)
            if name in ("optMap", "optFlatMap") and len(args) == 2 and _identifier(args[0]) is not None:
                return self.optional_macro(name, self.walk(receiver, scope), _identifier(args[0]), args[1], scope)
            qualifier = _identifier(receiver)
            if qualifier is not None and qualifier not in scope and qualifier not in self.variables:
                return self.call(f"{qualifier}.{name}", None, [self.walk(a, scope) for a in args])
            arguments = [self.walk(a, scope) for a in args]
            return self.call(name, self.walk(receiver, scope), arguments)
        if data == "list_lit":
            elements = [self.walk(e, scope) for e in argument_list(children)]
            cost = _LIST_CREATE
            for element in elements:
                cost = _add(cost, element.cost)
            elem = elements[0].type if elements else DYN
            return _Node(cost, Type("list", elem=elem), size=Size(len(elements), len(elements)))
        if data == "map_lit":
            entries = [self.walk(e, scope) for e in argument_list(children)]
            cost = _MAP_CREATE
            for entry in entries:
                cost = _add(cost, entry.cost)
            count = len(entries) // 2
            return _Node(cost, Type("map", key=entries[0].type if entries else DYN,
                                    elem=entries[1].type if entries else DYN), size=Size(count, count))
        if data == "member_object":
            fields = [self.walk(e, scope) for e in argument_list(children[1:]) if isinstance(e, Tree)]
            cost = _STRUCT_CREATE
            for field in fields:
                cost = _add(cost, field.cost)
            return _Node(cost, DYN)
        raise _Unsupported(data)

    def literal(self, token: Token) -> _Node:
        kind = _LITERALS.get(token.type)
        if kind is None:
            raise _Unsupported(token.type)
        if kind is STRING:
            length = len(str(celstr(token)))
        elif kind is BYTES:
            length = len(bytes(celbytes(token)))
        else:
            length = 1
        value = int(token.value, 0) if kind is INT and not token.value.lstrip("-").startswith("0x") else None
        return _Node(0, kind, size=Size(length, length), value=value)

    def ident(self, name: str, scope: dict) -> _Node:
        if name in scope:
            kind, path = scope[name]
            return _Node(1, kind, path)
        if name in self.variables:
            return _Node(1, self.variables[name], (name,))
        if name == _ACCUMULATOR:
            raise _Unsupported(name)
        return _Node(1, DYN, (name,))

    def select(self, operand: _Node, field: str) -> _Node:
        cost = operand.cost
        kind = operand.type
        if kind.kind in ("map", "object", "struct"):
            cost = _add(cost, 1)
        if kind.kind == "object":
            result = type_of(kind.decl.fields.get(field)) if field in kind.decl.fields else DYN
        elif kind.kind == "map":
            result = kind.elem or DYN
        else:
            result = DYN
        return _Node(cost, result, (operand.path or ()) + (field,))

    def presence(self, argument, scope: dict) -> _Node:
        """has(x.f): what x costs (the presence test itself is free in Kubernetes' environment)."""
        argument = _unwrapped(argument)
        if not (isinstance(argument, Tree) and argument.data == "member_dot"):
            raise _Unsupported("has")
        return _Node(self.walk(argument.children[0], scope).cost, BOOL)

    def index(self, container: _Node, key: _Node) -> _Node:
        cost = _add(_add(container.cost, key.cost), 1)
        kind = container.type
        path = None
        if kind.kind == "list":
            path = (container.path or ()) + ("@items",)
        elif kind.kind in ("map", "dyn"):     # a dyn's index: both overloads record a path, the map's last
            path = (container.path or ()) + ("@values",)
        result = (kind.elem or DYN) if kind.kind in ("list", "map") else DYN
        return _Node(cost, result, path)

    def conditional(self, condition: _Node, yes: _Node, no: _Node) -> _Node:
        cost = _add(condition.cost, max(yes.cost, no.cost))
        return _Node(cost, _join(yes.type, no.type), size=self.size(yes).union(self.size(no)))

    def binary(self, operator: str, left: _Node, right: _Node) -> _Node:
        """An operator's call: its overloads' dearest (those the operands' types may take) and its operands."""
        arguments = _add(left.cost, right.cost)
        if operator in ("==", "!="):
            own = _library_equality(left, right) if operator == "==" else None
            cost = own if own is not None else self._compare_cost(left, right)
            return _Node(_add(cost, arguments), BOOL)
        if operator in ("<", "<=", ">", ">="):
            costs = [self._compare_cost(left, right) for k in ("string", "bytes")
                     if _could_be(left.type, k) and _could_be(right.type, k)]
            if _could_be_other(left.type, _ORDERED) and _could_be_other(right.type, _ORDERED) or not costs:
                costs.append(1)
            return _Node(_add(max(costs), arguments), BOOL)
        if operator == "in":
            costs = [_factor(self.size(right).hi, 1)] if _could_be(right.type, "list") else []
            if _could_be(right.type, "map") or not costs:
                costs.append(1)
            return _Node(_add(max(costs), arguments), BOOL)
        if operator == "+":
            return self._add_cost(left, right, arguments)
        kind = left.type if left.type == right.type else DYN
        if {left.type.kind, right.type.kind} == {"timestamp"} and operator == "-":
            kind = Type("duration")
        return _Node(_add(1, arguments), kind)

    def _compare_cost(self, left: _Node, right: _Node) -> int:
        smallest = min(self.size(left).hi, self.size(right).hi)
        return _factor(smallest, _STRING_TRAVERSAL)

    def _add_cost(self, left: _Node, right: _Node, arguments: int) -> _Node:
        sized = [k for k in ("string", "bytes", "list") if _could_be(left.type, k) and _could_be(right.type, k)]
        costs, size = [], None
        if sized:
            size = self.size(left).plus(self.size(right))
            costs = [1 if kind == "list" else _factor(size.hi, _STRING_TRAVERSAL) for kind in sized]
        if _could_be_other(left.type, _ADDABLE) and _could_be_other(right.type, _ADDABLE) or not costs:
            costs.append(1)
        if left.type.kind == right.type.kind and left.type.kind != "dyn":
            result = left.type
        elif left.type.kind in ("timestamp", "duration") and right.type.kind in ("timestamp", "duration"):
            result = Type("timestamp")
        else:
            result = DYN
        return _Node(_add(max(costs), arguments), result, size=size)

    def call(self, name: str, target: Optional[_Node], args: list) -> _Node:
        arguments = 0
        for argument in args:
            arguments = _add(arguments, argument.cost)
        own, size = self._function(name, target, args)
        cost = _add(own, arguments)
        if target is not None:
            cost = _add(cost, target.cost)
        return _Node(cost, self._result(name, target, args), size=size)

    def _result(self, name: str, target: Optional[_Node], args: list) -> Type:
        if name in ("sum", "min", "max") and target is not None and target.type.kind == "list":
            return target.type.elem or DYN
        if name == "ip" and target is not None:
            return _IP
        if name in ("value", "orValue") and target is not None and target.type.name == "optional":
            return target.type.elem or DYN
        if name.startswith("format.") and name != "format.named":     # format.dns1123Label() ...
            return _FORMAT
        if name in ("optional.of", "optional.ofNonZeroValue"):
            return Type("opaque", elem=args[0].type if args else DYN, name="optional")
        if name == "optional.none":
            return _OPTIONAL
        if name == "or" and target is not None:
            return target.type
        return _RESULTS.get(name, DYN)

    def _function(self, name: str, target: Optional[_Node], args: list) -> tuple[int, Optional[Size]]:
        """(a call's own cost, the size of its result where the estimate knows it) for function ``name`` on
        ``target`` (None: a global function) with ``args``: Kubernetes' library first, then cel-go's."""
        if name.startswith("sets.") and len(args) == 2:
            factor = 2 if name == "sets.equivalent" else 1
            product = self.library_size(args[0]).times(self.library_size(args[1]))
            return _add(_factor(product.hi, factor), 1), None
        library = self._library(name, target, args)
        if library is not None:
            return library
        if target is not None:
            if name == "format":
                return _factor(self.size(target).hi, _STRING_TRAVERSAL), None
            if name in ("startsWith", "endsWith") and len(args) == 1:
                return _factor(self.size(args[0]).hi, _STRING_TRAVERSAL), None
            if name == "matches" and len(args) == 1:
                text = _factor(_add(self.size(target).hi, 1), _STRING_TRAVERSAL)
                return mul(text, _factor(self.size(args[0]).hi, _REGEX_LENGTH)), None
            if name == "contains" and len(args) == 1:
                text = _factor(self.size(target).hi, _STRING_TRAVERSAL)
                return mul(text, _factor(self.size(args[0]).hi, _STRING_TRAVERSAL)), None
        elif len(args) == 1:
            given = args[0]
            if name == "bytes" and _could_be(given.type, "string"):
                size = self.size(given)
                cost = _factor(size.hi, _STRING_TRAVERSAL)
                return max(cost, 1) if given.type.kind == "dyn" else cost, Size(size.lo, mul(size.hi, 4))
            if name == "string" and _could_be(given.type, "bytes"):
                size = self.size(given)
                cost = _factor(size.hi, _STRING_TRAVERSAL)
                return max(cost, 1) if given.type.kind == "dyn" else cost, Size(size.lo // 4, size.hi)
            if name == "strings.quote":
                size = self.size(given)
                return _factor(size.hi, _STRING_TRAVERSAL), Size(_add(size.lo, 2), _add(mul(size.hi, 2), 2))
        return 1, None

    def _library(self, name: str, target: Optional[_Node], args: list) -> Optional[tuple[int, Optional[Size]]]:
        """Kubernetes' estimate of its library's calls (None for the others)."""
        size = self.library_size
        if name in ("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf") and target is not None:
            if target.type.kind == "list":
                element = 1
                item = target.type.elem or DYN
                if item.kind in ("string", "bytes"):
                    items = _Node(0, item, (target.path + ("@items",)) if target.path else None)
                    element = _add(element, _factor(size(items).hi, _STRING_TRAVERSAL))
                return mul(size(target).hi, element), None
            return _factor(size(target).hi, _STRING_TRAVERSAL), None
        if name in ("url", "jsonpatch.escapeKey") and target is None and len(args) == 1:
            found = size(args[0])
            return _factor(found.hi, _STRING_TRAVERSAL), found
        if name in ("lowerAscii", "upperAscii", "substring", "trim") and target is not None:
            found = size(target)
            return _factor(found.hi, _STRING_TRAVERSAL), found
        if name == "replace" and target is not None and len(args) >= 2:
            return self._replace(size(target), size(args[0]), size(args[1]))
        if name == "split" and target is not None:
            found = size(target)
            most = found.hi
            if len(args) > 1 and args[1].value is not None:     # split(sep, n): at most n parts
                most = args[1].value % 2 ** 64
            return _factor(found.hi, 2 * _STRING_TRAVERSAL), Size(0, most)
        if name == "join" and target is not None:
            joined = Size(0, 0)
            listed = size(target)
            if target.type.kind == "list":
                item = _Node(0, target.type.elem or DYN, (target.path + ("@items",)) if target.path else None)
                joined = listed.times(size(item))
            if args:
                separators = Size(max(listed.lo, 1) - 1, max(listed.hi, 1) - 1)
                joined = joined.plus(size(args[0]).times(separators))
            return _factor(joined.hi, _STRING_TRAVERSAL), joined
        if name in ("find", "findAll") and target is not None and args:
            found = size(target)
            text = _factor(_add(found.hi, 1), _STRING_TRAVERSAL)
            return mul(text, _factor(size(args[0]).hi, _REGEX_LENGTH)), Size(0, found.hi)
        if name in ("cidr", "isIP", "isCIDR", "quantity", "isQuantity") and args:
            return _factor(size(args[0]).hi, _STRING_TRAVERSAL), None
        if name == "ip":
            if args:
                return _factor(size(args[0]).hi, _STRING_TRAVERSAL), None
            return 1, None
        if name == "ip.isCanonical" and args:
            return _factor(size(args[0]).hi, 2 * _STRING_TRAVERSAL), None
        if name in ("containsIP", "containsCIDR") and target is not None and args:
            cost = 4 if name == "containsIP" else 7     # two addresses of at most 16 bytes compared (and masked)
            if _could_be(args[0].type, "string"):
                cost = _add(cost, _factor(size(args[0]).hi, _STRING_TRAVERSAL))
            return cost, None
        if name == "validate" and target is not None and args:
            return _factor(_factor(size(args[0]).hi, _STRING_TRAVERSAL), 128 * _REGEX_LENGTH), None
        if name in _UNIT_COST_LIBRARY:
            return 1, None
        return None

    @staticmethod
    def _replace(text: Size, old: Size, new: Size) -> tuple[int, Size]:
        count_hi, kept_hi = _replaced(text.hi, old.lo, new.hi > old.lo)
        count_lo, kept_lo = _replaced(text.lo, old.hi, old.hi > new.lo)
        result = Size(count_lo, count_hi).times(new).plus(Size(kept_lo, kept_hi))
        return _factor(text.hi, 2 * _STRING_TRAVERSAL), result

    def optional_macro(self, macro: str, held: _Node, variable: str, body, scope: dict) -> _Node:
        """o.optMap(v, e) as cel-go expands it: o.hasValue() ? optional.of(<e with v bound to o.value()>) :
        optional.none(), the binding a comprehension over an empty list; optFlatMap without the optional.of."""
        inner = {**scope, variable: (held.type.elem or DYN, (variable,))}
        mapped = self.walk(body, inner)
        # hasValue(); [] and value() to bind v; e; and optional.of() for optMap
        cost = _add(_add(1, held.cost), _add(_add(_LIST_CREATE + 1, held.cost), mapped.cost))
        if macro == "optMap":
            return _Node(_add(cost, 1), Type("opaque", elem=mapped.type, name="optional"))
        return _Node(cost, mapped.type)

    def comprehension(self, macro: str, receiver, variable: str, args: list, scope: dict) -> _Node:
        """A macro, costed as the comprehension cel-go expands it to: the range, the accumulator's start, the
        result, and the range's size times the loop condition and step."""
        ranged = self.walk(receiver, scope)
        if ranged.type.kind == "list":
            inner_type, inner_path = ranged.type.elem or DYN, (ranged.path or ()) + ("@items",)
        elif ranged.type.kind == "map":
            inner_type, inner_path = ranged.type.key or STRING, (ranged.path or ()) + ("@keys",)
        else:
            inner_type, inner_path = DYN, None
        inner = {**scope, variable: (inner_type, inner_path)}
        body = [self.walk(a, inner) for a in args]
        count = self.size(ranged).hi
        accumulator = 1                 # reading __result__
        if macro == "all":              # init true; while not strictly false(result); result && p
            start, per_item, result = 0, _add(2, _add(accumulator, body[0].cost)), BOOL
        elif macro == "exists":         # init false; while not strictly false(!result); result || p
            start, per_item, result = 0, _add(3, _add(accumulator, body[0].cost)), BOOL
        elif macro == "exists_one":     # init 0; p ? result + 1 : result; then result == 1
            start, per_item, result = 0, _add(body[0].cost, 2), BOOL
            accumulator = 2
        elif macro == "filter":         # init []; p ? result + [x] : result
            start, per_item, result = _LIST_CREATE, _add(body[0].cost, 13), Type("list", elem=inner_type)
        elif len(body) == 1:            # map: init []; result + [t]
            start, per_item, result = _LIST_CREATE, _add(body[0].cost, 12), Type("list", elem=body[0].type)
        else:                           # map with a filter: f ? result + [t] : result
            start = _LIST_CREATE
            per_item, result = _add(body[0].cost, _add(body[1].cost, 12)), Type("list", elem=body[1].type)
        cost = _add(_add(_add(ranged.cost, start), accumulator), mul(count, per_item))
        return _Node(cost, result, size=self.size(ranged))


_UNIT_COST_LIBRARY = {"masked", "prefixLength", "family", "isUnspecified", "isLoopback", "isLinkLocalMulticast",
                      "isLinkLocalUnicast", "isGlobalUnicast", "format.named", "sign", "asInteger", "isInteger",
                      "asApproximateFloat", "isGreaterThan", "isLessThan", "compareTo", "add", "sub", "getScheme",
                      "getHostname", "getHost", "getPort", "getEscapedPath", "getQuery"}


def _library_equality(left: _Node, right: _Node) -> Optional[int]:
    """Kubernetes' cost of ``==`` between two values of one of its library's types (None: not such a pair)."""
    if left.type != right.type:
        return None
    kind = left.type
    if kind.kind == "opaque" and kind.name in ("IP", "CIDR"):
        return 1
    if kind.kind != "struct":
        return None
    if kind.name == "Format":
        return _factor(64, _STRING_TRAVERSAL)
    if kind.name == "URL":      # sized by the right side's computed size, as upstream
        return _factor(right.size.hi if right.size is not None else 1, _STRING_TRAVERSAL)
    return 1


def _could_be_other(t: Type, kinds: frozenset) -> bool:
    return t.kind == "dyn" or t.kind in kinds


_ORDERED = frozenset({"int", "uint", "double", "bool", "timestamp", "duration"})
_ADDABLE = frozenset({"int", "uint", "double", "timestamp", "duration"})


def argument_list(children: list) -> list:
    """The expressions of an argument list among a parsed call's (or literal's) children: an exprlist, mapinits
    or fieldinits node, or none."""
    out = []
    for child in children:
        if isinstance(child, Tree) and child.data in ("exprlist", "mapinits", "fieldinits"):
            out.extend(c for c in child.children if isinstance(c, Tree))
    return out


def _unwrapped(tree):
    while isinstance(tree, Tree) and tree.data in _WRAPPERS and len([c for c in tree.children if c is not None]) == 1:
        tree = next(c for c in tree.children if c is not None)
    return tree


def _identifier(tree) -> Optional[str]:
    tree = _unwrapped(tree)
    if isinstance(tree, Tree) and tree.data == "ident":
        return str(tree.children[0])
    return None


def factor_text(cost: int, limit: int) -> str:
    """How far past ``limit`` ``cost`` is, as upstream words it."""
    factor = float(cost) / float(limit)
    if factor > 100.0:
        return "more than 100x"
    if factor < 1.5:
        return f"{factor:f}x"
    return f"{factor:.1f}x"


class SchemaCosts:
    """The estimated costs of one CRD version's rules, as they are found: each one's checked against the per-rule
    limit, all of them against the schema's."""

    def __init__(self) -> None:
        self.costs: list[tuple[str, int]] = []
        self._decls: dict = {}

    def decl(self, schema: dict, root: bool) -> Optional[Decl]:
        """decl(), worked out once per node of the schema."""
        return memoized_decl(schema, root, self._decls)

    def observe(self, path: str, cost: int, what: str) -> list[FieldError]:
        """Tally one expression's cost; the error if it alone is past the limit."""
        self.costs.append((path, cost))
        if cost > PER_EXPRESSION_LIMIT:
            return [forbidden(path, exceeds_message(what, cost, PER_EXPRESSION_LIMIT))]
        return []

    def total_errors(self, path: str) -> list[FieldError]:
        """Past the limit for the whole schema (at ``path``): the dearest rules (at most four, each at least a
        hundredth of the limit), then the schema itself."""
        total = min(MAX, sum(cost for _, cost in self.costs))
        if total <= PER_CRD_LIMIT:
            return []
        dearest = sorted((c for c in self.costs if c[1] >= PER_CRD_LIMIT // 100), key=lambda c: -c[1])[:4]
        out = [forbidden(at, "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 "
                             "schema") for at, _ in dearest]
        out.append(forbidden(path, exceeds_message(
            "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema", total, PER_CRD_LIMIT)))
        return out


def exceeds_message(what: str, cost: int, limit: int) -> str:
    return (f"{what} exceeds budget by factor of {factor_text(cost, limit)} (try simplifying the rule, or adding "
            "maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")

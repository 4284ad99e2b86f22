"""
CRD validation rules (``x-kubernetes-validations``) in CEL, as apiextensions
evaluates them, on top of cel-python (``celpy``).

- A rule is compiled once (by its source text) and checked when the CRD is
  written: a syntax error, an unknown function or variable, a type error the
  schema's declared types show (``check_types``), a bad ``reason`` or
  ``fieldPath``, an estimated cost past upstream's limits (``celcost``) makes
  the CRD invalid.
- ``self`` is the value at the schema node carrying the rule; ``oldSelf`` the
  old value there on update.  A rule naming ``oldSelf`` (a transition rule) is
  only evaluated when an old value exists, unless ``optionalOldSelf`` is set,
  in which case ``oldSelf`` is an optional (``hasValue()``, ``value()``,
  ``orValue(x)``).
- Old values follow the new ones through object properties, map keys and the
  items of ``x-kubernetes-list-type: map`` lists (by their keys), as upstream.
- A failed rule is a field error worded as upstream's
  (``spec: Invalid value: "object": <message or "failed rule: <rule>">``).
"""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import celpy
import lark
from celpy import celtypes
from celpy.celparser import CELParser
from lark import Token, Tree

from . import celconv, celcost, celext, cellib, errors
from .celcheck import BINDING_MACROS, OPTIONAL_MACROS, RuleSchema, finding_text, location, type_check
from .celext import OPTIONAL, OPTIONAL_CONSTRUCTORS, OPTIONAL_NAMESPACE, Optional_, eval_error, optional_select
from .celnames import escape_property, field_path, has_rules
from .celstrings import STRINGS, STRINGS_NAMESPACE
from .cellib import (FORMAT, FORMAT_CONSTRUCTORS, FORMAT_LIBRARY, Authorizer, AuthzDecision,  # noqa: F401
                     Quantity)
from .errors import NIL_PATH, FieldError
from .gojson import go_value

SELF, OLD_SELF = "self", "oldSelf"
ROOT_PATH = NIL_PATH   # a rule on the object itself
_MACROS = {"all", "exists", "exists_one", "map", "filter", "has", "size", "dyn", "optMap", "optFlatMap"}


class CompileError(Exception):
    """A rule or messageExpression that cannot be compiled; ``str()`` is upstream's detail."""


# -- functions: cel-go's operators where celpy differs, its extensions (celext) and Kubernetes' (cellib) ---

def _logical(deciding: bool):
    """cel-go's ``||`` (``deciding`` True) and ``&&`` (False): a side with the deciding value decides, whichever
    side it is and whatever the other is (an error included); otherwise the left side's error, then the
    right's; two booleans otherwise.  (celpy reports two errors as a missing overload.)"""
    def function(x, y):
        for side in (x, y):
            if isinstance(side, celtypes.BoolType) and bool(side) is deciding:
                return side
        for side in (x, y):
            if isinstance(side, celpy.CELEvalError):
                return side
        if isinstance(x, celtypes.BoolType) and isinstance(y, celtypes.BoolType):
            return celtypes.BoolType(not deciding)
        raise TypeError("no such overload")
    return function


def _conditional(condition, chosen_if_true, chosen_if_false):
    """cel-go's ``c ? a : b``: a failed condition's error is the result."""
    if isinstance(condition, celpy.CELEvalError):
        return condition
    if not isinstance(condition, celtypes.BoolType):
        raise TypeError("no such overload")
    return chosen_if_true if condition else chosen_if_false


_INT64_MIN = -(1 << 63)
_cel_type_name = celconv.type_name


def _go_value(value) -> str:
    """Go's %v of a CEL scalar, as cel-go words a key or an index in its errors."""
    return go_value(bool(value) if isinstance(value, celtypes.BoolType) else value)


def _index(container, key):
    """cel-go's ``container[key]``: a list takes an int (or a double or uint that is one) within its bounds,
    a map a key it holds; otherwise upstream's error (``index out of bounds: 1``, ``no such key: zz``)."""
    if isinstance(container, Optional_):
        return optional_select(container, key)
    if isinstance(container, celtypes.ListType):
        if isinstance(key, celtypes.BoolType) or not isinstance(key, (celtypes.IntType, celtypes.UintType,
                                                                        celtypes.DoubleType)):
            return eval_error(f"unsupported index type '{_cel_type_name(key)}' in list", TypeError)
        if isinstance(key, celtypes.DoubleType) and not (float(key).is_integer() and -2**63 <= key < 2**63):
            return eval_error(f"unsupported index value {_go_value(key)} in list", TypeError)
        if not 0 <= int(key) < len(container):
            return eval_error(f"index out of bounds: {_go_value(key)}", IndexError)
        return container[int(key)]
    if isinstance(container, celtypes.MapType):
        try:
            return container[key]
        except (KeyError, TypeError):
            return eval_error(f"no such key: {_go_value(key)}", KeyError)
    return celpy.evaluation.base_functions["_[_]"](container, key)


def _int_division(operator: str, zero: str):
    """cel-go's ``/`` or ``%``: an integer divisor of zero is ``division by zero`` / ``modulus by zero``, and
    the minimum int64 over -1 overflows."""
    base = celpy.evaluation.base_functions[operator]

    def function(x, y):
        integers = (celtypes.IntType, celtypes.UintType)
        if isinstance(x, integers) and isinstance(y, integers) and not isinstance(y, celtypes.BoolType):
            if int(y) == 0:
                return eval_error(zero, ZeroDivisionError)
            if isinstance(x, celtypes.IntType) and int(x) == _INT64_MIN and int(y) == -1:
                return eval_error("integer overflow", OverflowError)
        return base(x, y)
    return function


FUNCTIONS = {
    "_[_]": _index,
    "_/_": _int_division("_/_", "division by zero"),
    "_%_": _int_division("_%_", "modulus by zero"),
    "_||_": _logical(True),
    "_&&_": _logical(False),
    "_?_:_": _conditional,
    **celconv.CONVERSIONS,
    **celext.FUNCTIONS,
    **cellib.KUBERNETES_LIBRARIES,
}
# The format library's constructors are only known after "format." (see _check_references).
# Namespaced functions (format.dns1123Label(), strings.quote()) are only known after their namespace, whose
# name is a value put in the activation of an expression that uses it.
_NAMESPACES = {FORMAT: (FORMAT_LIBRARY, frozenset(FORMAT_CONSTRUCTORS)),
               STRINGS: (STRINGS_NAMESPACE, frozenset({"quote"})),
               OPTIONAL: (OPTIONAL_NAMESPACE, OPTIONAL_CONSTRUCTORS)}
_KNOWN_FUNCTIONS = (set(celpy.evaluation.base_functions) | set(FUNCTIONS) | _MACROS) - set(FORMAT_CONSTRUCTORS) \
    - {"quote"} - OPTIONAL_CONSTRUCTORS

# CEL's optional syntax, which celpy's grammar lacks: ``a.?f`` (optional field selection) and ``a[?k]`` (optional
# index), each an optional of what is there, none where nothing is.
_OPTIONAL_SYNTAX = (
    ("member         : member_dot | member_dot_arg | member_index | member_object | primary",
     "member         : member_dot | member_dot_arg | member_index | member_object | member_dot_opt"
     " | member_index_opt | primary\n"
     'member_dot_opt : member ".?" IDENT\n'
     'member_index_opt : member "[?" expr "]"'),
)


@functools.lru_cache(maxsize=1)
def _environment() -> celpy.Environment:
    # Building the CEL grammar takes a quarter second: pay it at the first rule, not at startup.
    if CELParser.CEL_PARSER is None:
        grammar = (Path(celpy.__file__).parent / "cel.lark").read_text()
        for old, new in _OPTIONAL_SYNTAX:
            if old not in grammar:
                raise RuntimeError("celpy's CEL grammar is not the one kapiserver extends")
            grammar = grammar.replace(old, new)
        CELParser.CEL_PARSER = lark.Lark(
            grammar, parser="lalr", start="expr", debug=True, g_regex_flags=re.M,
            lexer_callbacks={"IDENT": CELParser.ambiguous_literals}, propagate_positions=True,
            maybe_placeholders=False, priority="invert", tree_class=Tree)
    return celpy.Environment()


# -- cost ---------------------------------------------------------------------------------------------
# Every node the evaluator visits costs 1 (a comprehension pays for each of its iterations), so an expression
# cannot run for ever: one evaluation stops at PER_CALL_LIMIT, as upstream's per-call limit stops cel-go, and
# the expressions of one admission policy's evaluation share a Budget, as upstream's runtime cost budget.
# A visited node is a smaller unit than cel-go's cost (an iteration of a simple comprehension visits some
# fifty), so these are upstream's limits in what they stop, not in their numbers: a call stops within a few
# seconds of interpreted work.
PER_CALL_LIMIT = 1_000_000
RUNTIME_BUDGET = 2_000_000
COST_LIMIT_EXCEEDED = "operation cancelled: actual cost limit exceeded"


class _CostExceeded(Exception):
    pass


class Budget:
    """What a sequence of evaluations may still spend."""

    def __init__(self, remaining: Optional[int] = None):
        self.remaining = RUNTIME_BUDGET if remaining is None else remaining

    @property
    def exhausted(self) -> bool:
        return self.remaining <= 0


class _Meter:
    def __init__(self, limit: int):
        self.limit, self.used, self.exceeded = limit, 0, False


class _MeteredEvaluator(celpy.evaluation.Evaluator):
    """celpy's evaluator, paying for every node it visits (its macros' sub-evaluators share the meter)."""

    meter: _Meter

    def _visit_tree(self, tree):
        meter = self.meter
        meter.used += 1
        if meter.used > meter.limit:
            meter.exceeded = True
            raise _CostExceeded()
        return super()._visit_tree(tree)

    def sub_evaluator(self, ast):
        sub = _MeteredEvaluator(ast, activation=self.activation)
        sub.meter = self.meter
        return sub

    def member_dot(self, tree):
        # cel-go: a field of an optional (optionalOldSelf's oldSelf) is an optional, none when absent
        member_tree, name = tree.children
        member = self.visit(member_tree)
        if isinstance(member, Optional_):
            return optional_select(member, celtypes.StringType(name))
        if isinstance(member, celtypes.MapType) and not isinstance(member, celtypes.MessageType):
            # A map's field, the common case, as celpy selects it, without handing it the value again through
            # an "evaluated" node (one more visit, and one more unit of cost, for every field read)
            try:
                return member[name.value]
            except KeyError:
                return celpy.CELEvalError(f"no such member in mapping: {name.value!r}", KeyError, None, tree=tree)
        return super().member_dot(Tree(tree.data, [Tree("evaluated", [member]), name], tree.meta))

    def evaluated(self, tree):
        return tree.children[0]

    def member_dot_arg(self, tree):
        macro = tree.children[1]
        if macro.value in OPTIONAL_MACROS and len(tree.children) == 3 and len(tree.children[2].children) == 2:
            held = self.visit(tree.children[0])
            if isinstance(held, celpy.CELEvalError):
                return held
            if not isinstance(held, Optional_):
                return eval_error("no such overload", TypeError)
            if not held.present:
                return Optional_()
            result = self.build_macro_eval(tree)(held.value)
            if isinstance(result, celpy.CELEvalError):
                return result
            if macro.value == "optMap":
                return Optional_(result, True)
            return result if isinstance(result, Optional_) else eval_error("no such overload", TypeError)
        return super().member_dot_arg(tree)

    def member_dot_opt(self, tree):
        """``a.?f``: an optional of a's field f, none where a has none (a may be an optional itself)."""
        member_tree, name = tree.children
        member = self.visit(member_tree)
        return _optional_at(member, celtypes.StringType(name.value))

    def member_index_opt(self, tree):
        """``a[?k]``: an optional of a's entry k (a map's key, a list's index), none where there is none."""
        member, key = self.visit(tree.children[0]), self.visit(tree.children[1])
        if isinstance(key, celpy.CELEvalError):
            return key
        return _optional_at(member, key)

    def macro_has_eval(self, exprlist):
        # has() over an optional's field asks whether the optional holds a value with that field
        value = self.visit_children(exprlist)[0]
        if isinstance(value, Optional_):
            return celtypes.BoolType(value.present)
        return celtypes.BoolType(not isinstance(value, celpy.CELEvalError))


def _optional_at(member, key):
    if isinstance(member, celpy.CELEvalError):
        return member
    if isinstance(member, Optional_):
        return optional_select(member, key)
    if isinstance(member, (celtypes.MapType, celtypes.ListType)):
        return optional_select(Optional_(member, True), key)
    return eval_error("no such overload", TypeError)


class Program:
    """One compiled CEL expression."""

    def __init__(self, source: str, runner, uses_old_self: bool, tree: Tree):
        self.source, self.runner, self.uses_old_self, self.tree = source, runner, uses_old_self, tree
        names = {str(node.children[0]) for node in tree.iter_subtrees() if node.data == "ident"}
        self.namespaces = {name: value for name, (value, _) in _NAMESPACES.items() if name in names}

    def evaluate(self, activation: dict, budget: Optional[Budget] = None):
        """The result, or a CELEvalError (returned, as celpy does, or raised).  Past PER_CALL_LIMIT (or what
        ``budget`` has left, which the evaluation spends) the result is the cost-limit error."""
        meter = _Meter(PER_CALL_LIMIT if budget is None else max(0, min(PER_CALL_LIMIT, budget.remaining)))
        missing = {name: value for name, value in self.namespaces.items() if name not in activation}
        if missing:
            activation = {**activation, **missing}
        try:
            evaluator = _MeteredEvaluator(ast=self.runner.ast, activation=self.runner.new_activation())
            evaluator.meter = meter
            result = evaluator.evaluate(activation)
        except celpy.CELEvalError as e:
            result = e
        except _CostExceeded:
            result = None       # meter.exceeded answers below
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, OverflowError) as e:
            result = celpy.CELEvalError(str(e), type(e), None)
        except AssertionError:
            # celpy asserts where cel-go has no overload (a duration's getHours with a time zone).
            result = celpy.CELEvalError("no such overload", AssertionError, None)
        if budget is not None:
            budget.remaining -= meter.used
        if meter.exceeded:
            return celpy.CELEvalError(COST_LIMIT_EXCEEDED, _CostExceeded, None)
        return result


# -- compiling --------------------------------------------------------------------------------------

def _receiver(node: Tree) -> Optional[Tree]:
    """The identifier node a method call is made on (``format`` in ``format.uri()``), if it is one."""
    member = node.children[0]
    while isinstance(member, Tree) and member.data in ("member", "primary") and len(member.children) == 1:
        member = member.children[0]
    return member if isinstance(member, Tree) and member.data == "ident" else None


def _check_has(tree: Tree, source: str) -> None:
    """has()'s one argument is a field selection (``has(self.a)``), as cel-go's macro requires; anything else
    (``has(self)``, ``has(self.a[0])``) is its 'invalid argument to has() macro', at the argument."""
    for node in tree.iter_subtrees():
        if node.data != "ident_arg" or str(node.children[0]) != "has" or len(node.children) < 2:
            continue
        args = node.children[1]
        if not isinstance(args, Tree) or len(args.children) != 1:
            continue
        arg = args.children[0]
        inner = arg
        while isinstance(inner, Tree) and inner.data != "member_dot" and len(inner.children) == 1:
            inner = inner.children[0]
        if isinstance(inner, Tree) and inner.data == "member_dot":
            continue
        raise _compile_error(source, location(source, arg), "invalid argument to has() macro")


def _check_references(tree: Tree, source: str, variables: frozenset) -> None:
    bound = set(variables)
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and str(node.children[1]) in BINDING_MACROS | OPTIONAL_MACROS:
            args = node.children[2] if len(node.children) > 2 else None
            if isinstance(args, Tree):
                for token in args.children[0].scan_values(lambda v: isinstance(v, Token)):
                    bound.add(str(token))
    # format.<name>(), format.named() and strings.quote(): the namespaces' calls, and a namespace's name
    # only as their receiver.
    format_calls, format_receivers = set(), set()
    for node in tree.iter_subtrees():
        if node.data != "member_dot_arg":
            continue
        receiver = _receiver(node)
        namespace = str(receiver.children[0]) if receiver is not None else ""
        if namespace in _NAMESPACES and namespace not in bound and \
                str(node.children[1]) in _NAMESPACES[namespace][1]:
            format_calls.add(id(node))
            format_receivers.add(id(receiver))
    for node in tree.iter_subtrees():
        if id(node) in format_calls or id(node) in format_receivers:
            continue
        if node.data == "member_dot_arg":
            token, dotted = node.children[1], True
        elif node.data in ("ident_arg", "ident"):
            token, dotted = node.children[0], False
        else:
            continue
        name = str(token)
        if node.data == "ident" and name in bound:
            continue
        # a namespace's name ("format") is no value of its own, though a function may share it
        if name in _KNOWN_FUNCTIONS and not (node.data == "ident" and name in _NAMESPACES):
            continue
        raise _compile_error(source, token, f"undeclared reference to '{name}' (in container '')", dotted)


def _compile_error(source: str, token, message: str, dotted: bool = False) -> CompileError:
    """cel-go's compile error: ``ERROR: <input>:line:column: message``, the line, and a caret under the column."""
    return CompileError("compilation failed: " + finding_text(source, token, message, dotted))


RULE_VARIABLES = frozenset({SELF, OLD_SELF})


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str, variables: frozenset = RULE_VARIABLES) -> Program:
    """The compiled expression, which may use ``variables`` (a CRD rule's self and oldSelf by default);
    cached by source so each CRD version, or each webhook's match condition, compiles once.  One at a time: a
    CRD's schema is judged in a thread (registry.crd), and celpy's parser keeps the text it parses."""
    with _COMPILING:
        try:
            tree = _environment().compile(source)
        except celpy.CELParseError as e:
            raise _compile_error(source, e, "Syntax error: unexpected input") from None
        _check_has(tree, source)
        _check_references(tree, source, variables)
        uses_old_self = any(node.data == "ident" and str(node.children[0]) == OLD_SELF
                            for node in tree.iter_subtrees())
        return Program(source, _environment().program(tree, functions=FUNCTIONS), uses_old_self, tree)


_COMPILING = threading.Lock()


class Rule:
    """One entry of x-kubernetes-validations, compiled."""

    def __init__(self, spec: dict, schema: dict, root: bool = False, typed: bool = False):
        """``typed``: type-checked as well, as upstream's compileRule does (a rule that is not a bool, a
        messageExpression that is not a string), at the cost of the type check."""
        self.spec = spec
        self.source = spec.get("rule") or ""
        self.message = (spec.get("message") or "").strip()
        self.reason = spec.get("reason")
        self.optional_old_self = bool(spec.get("optionalOldSelf"))
        self.program = self.message_program = None
        self.field_path, self.error = "", ""
        if not self.source.strip():
            return      # upstream leaves an empty rule without program or error: it is never run
        try:
            self.program = compile_rule(self.source, schema, root, self.optional_old_self) if typed \
                else compile_expression(self.source)
        except CompileError as e:
            # A CRD stored before its rules were checked, or a default judged before they are; upstream fails
            # the rule.
            self.program, self.error = None, str(e)
            return
        # A messageExpression or fieldPath that is no good does not fail the rule, as upstream: its message
        # falls back to the message, its error to the rule's node.
        if spec.get("messageExpression"):
            try:
                self.message_program = compile_rule(spec["messageExpression"], schema, root, self.optional_old_self,
                                                    message=True) if typed \
                    else compile_expression(spec["messageExpression"])
            except CompileError:
                self.message_program = None
        self.field_path = field_path(spec.get("fieldPath") or "", schema) or ""

    @property
    def error_string(self) -> str:
        return self.message or self.source.strip()

    @property
    def message_or_default(self) -> str:
        return self.message or f"failed rule: {self.source.strip()}"


# -- the type check -----------------------------------------------------------------------------------

def compile_rule(source: str, schema: dict, root: bool = False, optional_old_self: bool = False,
                 message: bool = False) -> Program:
    """A rule (or, with ``message``, a messageExpression) of a node of ``schema`` compiled and type-checked as
    upstream's compileRule does: CompileError with the checker's findings, or when it evidently is not a bool (a
    string)."""
    program = compile_expression(source)
    if check_types(program, schema, root, optional_old_self) not in (None, "string" if message else "bool"):
        raise CompileError("messageExpression must evaluate to a string" if message
                           else "cel expression must evaluate to a bool")
    return program


def check_types(program: Program, schema: dict, root: bool = False,
                optional_old_self: bool = False) -> Optional[str]:
    """The CEL type of a rule on ``schema`` where it is evident (None where not); CompileError for what upstream's
    type checker finds in it (celcheck.type_check), every one of them: a field the schema does not declare
    (``self.a.nope``, ``undefined field 'nope'``), an operator applied to operands of types no overload takes
    (``self.replicas > '1'``, ``self.name && true``), a scalar's field, a macro over a scalar.  ``oldSelf`` is
    left untyped under optionalOldSelf (an optional there)."""
    node = RuleSchema(schema, root)
    variables = {SELF: node} if optional_old_self else {SELF: node, OLD_SELF: node}
    found, result = type_check(program, variables)
    if found:
        raise CompileError("compilation failed: " + "\n".join(found))
    return result


# -- checking a CRD's rules ---------------------------------------------------------------------------

def _rule_value(spec: dict) -> str:
    """The ValidationRule as Go's %#v prints it in a CRD's field error."""
    def pointer(value, kind):
        return f"(*{kind})(nil)" if value is None else f"(*{kind})({value!r})"
    quoted = {k: '"' + (spec.get(k) or "").replace("\\", "\\\\").replace('"', '\\"') + '"'
              for k in ("rule", "message", "messageExpression", "fieldPath")}
    return (f"apiextensions.ValidationRule{{Rule:{quoted['rule']}, Message:{quoted['message']}, "
            f"MessageExpression:{quoted['messageExpression']}, "
            f"Reason:{pointer(spec.get('reason'), 'apiextensions.FieldValueErrorReason')}, "
            f"FieldPath:{quoted['fieldPath']}, OptionalOldSelf:{pointer(spec.get('optionalOldSelf'), 'bool')}}}")


def check_rules(schema: Optional[dict], path: str,
                faulty: Optional[Callable[[str], bool]] = None) -> list[FieldError]:
    """Field errors of every x-kubernetes-validations entry under ``schema`` (a CRD version's
    openAPIV3Schema at ``path``) that cannot be compiled or is misused (oldSelf where it cannot be had, a needless
    optionalOldSelf), or whose estimated cost is past the limits (celcost): one rule's, or all of the schema's rules'
    together.  The rules of a node for which ``faulty(its path)`` holds (it reported a schema error in checking
    itself or the nodes below it) are not compiled.  An entry's own shape is crdschema's (a schema error)."""
    out: list[FieldError] = []
    if isinstance(schema, dict):
        costs = celcost.SchemaCosts()
        _check_node(schema, path, out, root=True, cardinality=1, costs=costs, faulty=faulty)
        out += costs.total_errors(path)
    return out


def _check_node(schema: dict, path: str, out: list, root: bool = False, cardinality: Optional[int] = None,
                costs=None, uncorrelatable: str = "", faulty: Optional[Callable[[str], bool]] = None) -> None:
    """``cardinality``: how many times this node's rules may run in one object (None: unbounded); ``costs`` (a
    celcost.SchemaCosts) tallies the estimated cost of each rule and messageExpression, None where rules are not
    costed; ``uncorrelatable``: the path of the list (not a map list) this node is inside, where an old value
    cannot be paired with the new one, so no rule may use oldSelf; ``faulty``: see check_rules."""
    compiles = faulty is None or not (schema.get("x-kubernetes-validations") and faulty(path))
    node_decl = costs.decl(schema, root or bool(schema.get("x-kubernetes-embedded-resource"))) \
        if costs is not None and compiles and schema.get("x-kubernetes-validations") else None
    for index, spec in enumerate(schema.get("x-kubernetes-validations") or []):
        at = f"{path}.x-kubernetes-validations[{index}]"
        if not isinstance(spec, dict):
            continue
        source = spec.get("rule") or ""
        compiled = False
        # an entry's own shape (an empty rule, a blank messageExpression, a reason or fieldPath that is no good) is
        # a schema error (registry.validation.crdschema), with which its node's rules are not compiled
        if source.strip() and compiles:
            try:
                program = compile_rule(source, schema, root, bool(spec.get("optionalOldSelf")))
                if node_decl is not None:
                    cost = celcost.estimate(program.tree, node_decl, bool(spec.get("optionalOldSelf")))
                    if cost is not None:
                        runs = cardinality if cardinality is not None else celcost.unbounded_cardinality(node_decl)
                        out += costs.observe(f"{at}.rule", celcost.mul(cost, runs), "estimated rule cost")
                compiled = True
                if program.uses_old_self and uncorrelatable:
                    out.append(errors.invalid(f"{at}.rule", source, "oldSelf cannot be used on the uncorrelatable "
                                                                    f"portion of the schema within {uncorrelatable}"))
                elif spec.get("optionalOldSelf") is not None and not program.uses_old_self:
                    out.append(FieldError("FieldValueInvalid", f"{at}.optionalOldSelf",
                                          f"Invalid value: {'true' if spec['optionalOldSelf'] else 'false'}: "
                                          "may not be set if rule does not use oldSelf"))
            except CompileError as e:
                out.append(FieldError("FieldValueInvalid", f"{at}.rule", f"Invalid value: {_rule_value(spec)}: {e}"))
        if spec.get("messageExpression") and compiles:
            try:
                message = compile_rule(spec["messageExpression"], schema, root, bool(spec.get("optionalOldSelf")),
                                       message=True)
                if node_decl is not None and compiled:
                    cost = celcost.estimate(message.tree, node_decl, bool(spec.get("optionalOldSelf")))
                    if cost is not None:     # not multiplied: a message is worked out once per failure
                        out += costs.observe(f"{at}.messageExpression", cost, "estimated messageExpression cost")
            except CompileError as e:
                detail = str(e).replace("compilation failed", "messageExpression compilation failed", 1)
                out.append(FieldError("FieldValueInvalid", f"{at}.messageExpression",
                                      f"Invalid value: {_rule_value(spec)}: {detail}"))
    each = celcost.max_elements(schema)
    below = None if cardinality is None or each is None else celcost.mul(cardinality, each)
    # an object's properties pair by name whatever its map type (granular or atomic: any other is refused)
    paired_by_name = schema.get("x-kubernetes-map-type") in (None, "granular", "atomic")
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict):
            _check_node(sub, f"{path}.properties[{name}]", out, cardinality=below, costs=costs,
                        uncorrelatable=uncorrelatable or ("" if paired_by_name else path), faulty=faulty)
    if isinstance(schema.get("items"), dict):
        listed_by_key = schema.get("x-kubernetes-list-type") == "map"
        _check_node(schema["items"], f"{path}.items", out, cardinality=below, costs=costs,
                    uncorrelatable=uncorrelatable or ("" if listed_by_key else path), faulty=faulty)
    if isinstance(schema.get("additionalProperties"), dict):
        _check_node(schema["additionalProperties"], f"{path}.additionalProperties", out, cardinality=below,
                    costs=costs, uncorrelatable=uncorrelatable, faulty=faulty)


# -- evaluating -----------------------------------------------------------------------------------------

def to_cel(value: Any, schema: Optional[dict]):
    """A JSON value as a CEL value, typed by its schema (date-time strings are timestamps, ...)."""
    schema = schema or {}
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        # An integer past int64 (up to uint64 decodes as one) is a float64 in upstream's decoding.
        if schema.get("type") == "number" or not -2 ** 63 <= value < 2 ** 63:
            return celtypes.DoubleType(value)
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        fmt = schema.get("format")
        try:
            if fmt in ("date-time", "datetime"):
                return celtypes.TimestampType(value)
            if fmt == "date":
                return celtypes.TimestampType(value + "T00:00:00Z")
            if fmt == "duration":
                return celtypes.DurationType(value)
        except ValueError:
            pass
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = schema.get("items")
        return celtypes.ListType([to_cel(v, items) for v in value])
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if key in properties:
                out[celtypes.StringType(escape_property(key))] = to_cel(item, properties[key])
            else:
                out[celtypes.StringType(key)] = to_cel(item, additional if isinstance(additional, dict) else None)
        return celtypes.MapType(out)
    return value


_MISSING_KEY = re.compile(r"no such member in mapping: '(.*)'")


def error_text(error: celpy.CELEvalError) -> str:
    message = str(error.args[0]) if error.args else str(error)
    found = _MISSING_KEY.match(message)
    if found:
        return f"no such key: {found.group(1)}"
    if message == "return error for overflow" and len(error.args) > 2 and error.args[2] == ("overflow",):
        return "integer overflow"  # cel-go's text (a uint's is "unsigned integer overflow"; celpy can't tell)
    if "no matching overload" in message:
        return "no such overload"
    return message


def _schema_type(schema: dict) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return ""
    return schema.get("type") or ""


class Validator:
    """The rules of one schema and its children; built once per CRD version."""

    def __init__(self, schema: dict, root: bool = False, typed: bool = False):
        """``typed``: its rules type-checked (see Rule), as for a CRD's defaults, judged before its rules are."""
        self.schema = schema
        self.root = root
        self.rules = [Rule(spec, schema, root, typed) for spec in schema.get("x-kubernetes-validations") or []
                      if isinstance(spec, dict)]
        self.properties = {name: Validator(sub, typed=typed) for name, sub in (schema.get("properties") or {}).items()
                           if isinstance(sub, dict) and has_rules(sub)}
        additional = schema.get("additionalProperties")
        self.additional = Validator(additional, typed=typed) if isinstance(additional, dict) \
            and has_rules(additional) else None
        items = schema.get("items")
        self.items = Validator(items, typed=typed) if isinstance(items, dict) and has_rules(items) else None
        self.all_of = [Validator(sub, typed=typed) for sub in schema.get("allOf") or [] if isinstance(sub, dict)
                       and has_rules(sub)]

    def validate(self, value: Any, old: Any = None, path: str = "",
                 warnings: Optional[list] = None) -> list[FieldError]:
        """Field errors of the rules that ``value`` (with ``old`` on update) fails.  On update, a failure of a
        rule without oldSelf where the value is unchanged is ratcheted (CRDValidationRatcheting, on by default
        since 1.30): not an error but a warning, added to ``warnings`` as its text."""
        out: list[FieldError] = []
        here = _Correlation(value, old, self.schema) if old is not None else None
        self._validate(value, old, path, out, here, None, warnings if warnings is not None else [])
        return out

    def _validate(self, value, old, path, out, here, parent, warnings) -> None:
        """``here``: this value's pairing with its old value, None where it has none (an atomic list's item);
        ``parent``: the nearest ancestor's pairing; a failure is ratcheted where the first of them is unchanged."""
        if value is None:
            return
        if self.rules:
            self._rules(value, old, path, out, here if here is not None else parent, warnings)
        for sub in self.all_of:
            # upstream's allOf rules ratchet only with the node's parent (never at the root)
            sub._validate(value, old, path, out, None, parent, warnings)
        if isinstance(value, dict):
            old_map = old if isinstance(old, dict) else {}
            if self.additional is not None:
                for key, item in value.items():
                    child, up = self._key(here, parent, key, self.additional.schema, root=False)
                    self.additional._validate(item, old_map.get(key), f"{path}[{key}]", out, child, up, warnings)
            for key, item in value.items():
                sub = self.properties.get(key)
                if sub is not None:
                    child, up = self._key(here, parent, key, sub.schema, self.root)
                    sub._validate(item, old_map.get(key), f"{path}.{key}" if path else key, out, child, up,
                                  warnings)
        elif isinstance(value, list) and self.items is not None:
            olds = _correlate(self.schema, value, old)
            for index, item in enumerate(value):
                if here is None:
                    child, up = None, parent
                else:
                    paired = olds[index] if self.schema.get("x-kubernetes-list-type") == "map" else None
                    child = _Correlation(item, paired, self.items.schema) if paired is not None else None
                    up = here
                self.items._validate(item, olds[index], f"{path}[{index}]", out, child, up, warnings)

    @staticmethod
    def _key(here, parent, key: str, schema: dict, root: bool):
        """The pairing of a field of a value with the old one's, and its nearest paired ancestor."""
        if here is None:
            return None, parent
        if root and key in ("apiVersion", "kind"):
            return None, None           # both objects are read as one version: these never ratchet
        olds, news = here.old, here.value
        if isinstance(olds, dict) and isinstance(news, dict) and key in olds and key in news:
            return _Correlation(news[key], olds[key], schema), here
        return None, here

    def _self(self, value):
        if self.root and isinstance(value, dict):
            value = dict(value)
            meta = value.get("metadata")
            meta = meta if isinstance(meta, dict) else {}      # anything else is the metadata validation's error
            value["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
        return to_cel(value, self.schema)

    def _rules(self, value, old, path, out, ratchet: Optional[_Correlation], warnings: list) -> None:
        kind = _schema_type(self.schema)
        at = path or ROOT_PATH
        current = self._self(value)
        previous = self._self(old) if old is not None else None
        for rule in self.rules:
            if rule.error:
                out.append(_invalid(at, kind, f"rule compile error: {rule.error}"))
                continue
            if rule.program is None:
                continue
            if rule.optional_old_self:
                activation = {SELF: current, OLD_SELF: Optional_(previous, previous is not None)}
            elif rule.program.uses_old_self:
                if previous is None:
                    continue
                activation = {SELF: current, OLD_SELF: previous}
            else:
                activation = {SELF: current}
            result = rule.program.evaluate(activation)
            if isinstance(result, celpy.CELEvalError):
                text = error_text(result)
                if text == "no such overload":
                    detail = (f"'{text}': call arguments did not match a supported operator, function or macro "
                              f"signature for rule: {rule.error_string}")
                else:
                    detail = f"{text} evaluating rule: {rule.error_string}"
                out.append(_invalid(at, kind, detail))
                continue
            if result is True or (isinstance(result, celtypes.BoolType) and bool(result)):
                continue
            where = path
            if rule.field_path:
                where = f"{path}.{rule.field_path}" if path and not rule.field_path.startswith("[") \
                    else f"{path}{rule.field_path}"
            error = _for_reason(where or ROOT_PATH, kind, self._message(rule, activation), rule.reason)
            if ratchet is not None and not rule.program.uses_old_self and ratchet.unchanged():
                warnings.append(str(error))
            else:
                out.append(error)

    @staticmethod
    def _message(rule: Rule, activation: dict) -> str:
        if rule.message_program is not None:
            result = rule.message_program.evaluate(activation)
            if isinstance(result, str) and result.strip() and "\n" not in result.strip():
                return result.strip()
        return rule.message_or_default


class _Correlation:
    """A value paired with its old value, and whether it is unchanged (worked out once, when a rule fails)."""

    __slots__ = ("value", "old", "schema", "_unchanged")

    def __init__(self, value, old, schema: dict):
        self.value, self.old, self.schema, self._unchanged = value, old, schema, None

    def unchanged(self) -> bool:
        if self._unchanged is None:
            from .structural import unchanged
            self._unchanged = unchanged(self.value, self.old, self.schema)
        return self._unchanged


def _correlate(schema: dict, items: list, old: Any) -> list:
    """Each item's old counterpart: only map-type lists correlate, by their keys."""
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") != "map" or not keys or not isinstance(old, list):
        return [None] * len(items)
    by_key = {tuple(o.get(k) for k in keys): o for o in old if isinstance(o, dict)}
    return [by_key.get(tuple(i.get(k) for k in keys)) if isinstance(i, dict) else None for i in items]


def _invalid(path: str, kind: str, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, f'Invalid value: "{kind}": {detail}')


def _for_reason(path: str, kind: str, detail: str, reason: Optional[str]) -> FieldError:
    if reason == "FieldValueForbidden":
        return FieldError(reason, path, f"Forbidden: {detail}")
    if reason == "FieldValueRequired":
        return FieldError(reason, path, f"Required value: {detail}")
    if reason == "FieldValueDuplicate":
        return FieldError(reason, path, f'Duplicate value: "{kind}"')
    return _invalid(path, kind, detail)


def validator(schema: Optional[dict]) -> Optional[Validator]:
    """The Validator of a CRD version's openAPIV3Schema, or None when it has no rules."""
    if not isinstance(schema, dict) or not has_rules(schema):
        return None
    return Validator(schema, root=True)

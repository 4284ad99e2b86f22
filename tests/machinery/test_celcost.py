"""The estimated cost of CRD validation rules (machinery.celcost) against the figures upstream's estimator gives:
each rule on a schema left unbounded, then with its maxItems/maxProperties/maxLength set."""

import pytest

from kapiserver.machinery import cel, celcost

EXCEEDS = "exceeds"     # past the per-rule limit, whatever the exact figure


def _typed(kind: str) -> dict:
    if kind == "int-or-string":
        return {"x-kubernetes-int-or-string": True}
    if kind in ("duration", "date", "date-time"):
        return {"type": "string", "format": kind}
    return {"type": kind}


def _bounded(schema: dict, key: str, bound) -> dict:
    return {**schema, key: bound} if bound is not None else schema


def array_of(kind):
    return lambda bound: _bounded({"type": "array", "items": _typed(kind)}, "maxItems", bound)


def array_of_arrays(kind):
    return lambda bound: _bounded({"type": "array", "items": {"type": "array", "items": {"type": kind}}},
                                  "maxItems", bound)


_REQUIRED_OBJECT = {"type": "object", "required": ["required"],
                    "properties": {"required": {"type": "string"}, "optional": {"type": "string"}}}


def array_of_objects(bound):
    return _bounded({"type": "array", "items": _REQUIRED_OBJECT}, "maxItems", bound)


def array_of_maps(kind):
    return lambda bound: _bounded({"type": "array", "items": {"type": "object",
                                                               "additionalProperties": {"type": kind}}},
                                  "maxItems", bound)


def map_of(kind):
    return lambda bound: _bounded({"type": "object", "additionalProperties": _typed(kind)}, "maxProperties", bound)


def map_of_schema(item):
    return lambda bound: _bounded({"type": "object", "additionalProperties": item}, "maxProperties", bound)


def string(bound):
    return _bounded({"type": "string"}, "maxLength", bound)


def enum(*values):
    return lambda bound: _bounded({"type": "string", "enum": list(values)}, "maxLength", bound)


def byte_string(bound):
    return _bounded({"type": "string", "format": "byte"}, "maxLength", bound)


def map_of_bounded_strings(bound):
    return _bounded({"type": "object", "additionalProperties": _bounded({"type": "string"}, "maxLength", bound)},
                    "maxProperties", bound)


def nested(all_bounded: bool):
    def schema(bound):
        value = {**_REQUIRED_OBJECT, "type": "object"}
        if all_bounded:
            value = _bounded(value, "maxProperties", bound)
        outer = {"type": "array",
                 "items": _bounded({"type": "object", "additionalProperties": value}, "maxProperties", bound)}
        return _bounded(outer, "maxItems", bound) if all_bounded else outer
    return schema


def list_of_strings(bound):
    return _bounded({"type": "array", "x-kubernetes-list-type": "atomic",
                     "items": _bounded({"type": "string"}, "maxLength", bound)}, "maxItems", bound)


def strings_to_replace(bound):
    return {"type": "object", "properties": {"str": _bounded({"type": "string"}, "maxLength", bound),
                                             "before": {"type": "string", "maxLength": 2},
                                             "after": {"type": "string", "maxLength": 4}}}


def strings_to_split(bound):
    text = _bounded({"type": "string"}, "maxLength", bound)
    return {"type": "object", "properties": {"str": text, "separator": text}}


# (schema for a bound, rule, cost unbounded, the bound, cost bounded)
CASES = {
    "number array with all": (array_of("number"), "self.all(x, true)", 4718591, 10, 32),
    "string array with all": (array_of("string"), "self.all(x, true)", 3145727, 20, 62),
    "boolean array with all": (array_of("boolean"), "self.all(x, true)", 1887437, 5, 17),
    "array of number arrays with all": (array_of_arrays("number"), "self.all(x, true)", 3145727, 100, 302),
    "array of objects with all": (array_of_objects, "self.all(x, true)", 555128, 50, 152),
    "map of numbers with all": (map_of("number"), "self.all(x, true)", 1348169, 10, 32),
    "map of strings with all": (map_of("string"), "self.all(x, true)", 1179647, 3, 11),
    "map of booleans with all": (map_of("boolean"), "self.all(x, true)", 943718, 100, 302),
    "string with contains": (string, "self.contains('test')", 314574, 10, 5),
    "string with startsWith": (string, "self.startsWith('test')", 2, 15, 2),
    "string with endsWith": (string, "self.endsWith('test')", 2, 30, 2),
    "concat string": (string, 'size(self + "hello") > size("hello")', 314578, 4, 7),
    "index of array with numbers": (array_of("number"), "self[1] == 0.0", 2, 5000, 2),
    "index of array with strings": (array_of("string"), "self[1] == self[1]", 314577, 8, 314577),
    "O(n^2) loop with numbers": (array_of("number"), "self.all(x, self.all(y, true))", EXCEEDS, 10, 352),
    "O(n^3) loop with numbers": (array_of("number"), "self.all(x, self.all(y, self.all(z, true)))", EXCEEDS, 10,
                                 3552),
    "regex matches simple": (string, 'self.matches("x")', 314574, 50, 22),
    "regex matches empty string": (string, '"".matches("(((((((((())))))))))[0-9]")', 7, 10, 7),
    "regex matches empty regex": (string, 'self.matches("")', 1, 100, 1),
    "map of strings with value length": (map_of_bounded_strings, "self.all(x, x.contains(self[x]))", 2752507, 10,
                                         72),
    "array maxItems zero": (array_of("number"), "self[3] == 0.0", 2, 0, 2),
    "map maxProperties zero": (map_of("number"), 'self["x"] == 0.0', 2, 0, 2),
    "string maxLength zero": (string, 'self == "x"', 2, 0, 1),
    "bytes maxLength zero": (byte_string, 'self == b"x"', 2, 0, 1),
    "maxItems above the estimate": (array_of("number"), "self.all(x, x == 0.0)", 6291454, 3 * 1024 * 2048,
                                    25165826),
    "nested, every level bounded": (nested(True), 'self.all(x, x["y"].required == "z")', 7340027, 10, 72),
    "nested, one level bounded": (nested(False), 'self.all(x, x["y"].required == "z")', 7340027, 10, 7340027),
    "int-or-string array with all": (array_of("int-or-string"), "self.all(x, true)", 4718591, 10, 32),
    "index of array with int-or-strings": (array_of("int-or-string"), "self[0] == 5", 3, 10, 3),
    "index of array with booleans": (array_of("boolean"), "self[0] == false", 2, 25, 2),
    "index of array of objects": (array_of_objects, "self[0] == null", 2, 422, 2),
    "index of array of number arrays": (array_of_arrays("number"), "self[0][0] == -1.0", 3, 51, 3),
    "array of number maps with all": (array_of_maps("number"), "self.all(x, x.y == 25.2)", 6291452, 12, 74),
    "index of array of number maps": (array_of_maps("number"), "self[0].x > 2.0", 4, 3000, 4),
    "duration array with all": (array_of("duration"), "self.all(x, true)", 2359295, 5, 17),
    "index of duration array": (array_of("duration"), "self[0].getHours() == 2", 4, 525, 4),
    "date array with all": (array_of("date"), "self.all(x, true)", 725936, 15, 47),
    "index of date array": (array_of("date"), "self[2].getDayOfMonth() == 13", 4, 42, 4),
    "date-time array with all": (array_of("date-time"), "self.all(x, true)", 428963, 25, 77),
    "index of date-time array": (array_of("date-time"), "self[2].getMinutes() == 45", 4, 99, 4),
    "map of int-or-strings with all": (map_of("int-or-string"), "self.all(x, true)", 1348169, 15, 47),
    "map of objects with all": (map_of_schema(_REQUIRED_OBJECT), "self.all(x, true)", 428963, 20, 62),
    "map of number maps with all": (map_of_schema({"type": "object", "additionalProperties": {"type": "number"}}),
                                    "self.all(x, true)", 1179647, 10, 32),
    "map of number arrays with all": (map_of_schema({"type": "array", "items": {"type": "number"}}),
                                      "self.all(x, true)", 1179647, 25, 77),
    "map of durations with all": (map_of("duration"), "self.all(x, true)", 1048577, 5, 17),
    "map of dates with all": (map_of("date"), "self.all(x, true)", 524288, 10, 32),
    "map of date-times with all": (map_of("date-time"), "self.all(x, true)", 349526, 25, 77),
    "find": (string, "self.find('[0-9]+') == ''", 629147, 10, 11),
    "join": (list_of_strings, "self.join(' ') == 'aa bb'", 329853068905, 10, 43),
    "isSorted": (list_of_strings, "self.isSorted() == true", 329854432052, 10, 52),
    "replace": (strings_to_replace, "self.str.replace(self.before, self.after) == 'does not matter'", 629154, 4,
                12),
    "split": (strings_to_split, "self.str.split(self.separator) == []", 629160, 10, 22),
    "lowerAscii": (string, "self.lowerAscii() == 'lower!'", 314575, 10, 6),
    "size calls": (map_of("integer"), "oldSelf.size() == self.size()", 5, 10, 5),
    "timestamp comparison": (map_of("date-time"), 'self["a"] == self["b"]', 8, 7, 8),
    "duration comparison": (map_of("duration"), 'self["c"] == self["d"]', 8, 42, 8),
    "enum bounded by its longest value": (enum("A", "B", "C", "LongValue"), "self.contains('A')", 2, 1000, 401),
}


def _cost(schema: dict, rule: str) -> int:
    return celcost.estimate(cel.compile_expression(rule).tree, celcost.decl(schema))


@pytest.mark.parametrize("name", sorted(CASES))
def test_estimated_cost_matches_upstreams(name):
    schema, rule, unbounded, bound, bounded = CASES[name]
    if unbounded == EXCEEDS:
        assert _cost(schema(None), rule) > celcost.PER_EXPRESSION_LIMIT
    else:
        assert _cost(schema(None), rule) == unbounded
    assert _cost(schema(bound), rule) == bounded


def test_a_form_the_estimate_does_not_know_is_not_costed():
    """A form the estimate has no cost for (has() of no field: parsed, though compiling refuses it) gives no
    estimate rather than a guess, so no rule is refused for it; a node CEL cannot type (an array of no items) has
    no Decl."""
    strings = {"type": "array", "items": {"type": "string"}}
    assert celcost.estimate(cel._environment().compile("has(self)"), celcost.decl(strings)) is None
    assert celcost.estimate(cel.compile_expression("has(self.x)").tree, celcost.decl({"type": "object"})) == 1
    assert celcost.decl({"type": "array"}) is None


def test_factor_wording():
    limit = celcost.PER_EXPRESSION_LIMIT
    assert celcost.factor_text(limit * 101, limit) == "more than 100x"
    assert celcost.factor_text(limit * 12, limit) == "12.0x"
    assert celcost.factor_text(limit + limit // 4, limit) == "1.250000x"


_TWO_STRINGS = {"type": "object", "properties": {"val1": {"type": "string"}, "val2": {"type": "string"}}}
_INT_LISTS = {"type": "object", "properties": {
    "val1": {"type": "array", "items": {"type": "integer"}}, "val2": {"type": "array", "items": {"type": "integer"}}}}
_STRING_MAPS = {"type": "object", "properties": {
    "val1": {"type": "object", "additionalProperties": {"type": "string"}},
    "val2": {"type": "object", "additionalProperties": {"type": "string"}}}}
_OPTIONALS = {"type": "object", "properties": {
    "obj": {"type": "object", "properties": {"field": {"type": "string"}}},
    "m": {"type": "object", "additionalProperties": {"type": "string"}},
    "l": {"type": "array", "items": {"type": "string"}}}}
_LIST_MAP = {"type": "object", "properties": {"listMap": {
    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
    "items": {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "string"}}}}}}

# Rules on one unbounded schema each, and the cost upstream's estimator gives them: Kubernetes' libraries, the
# strings extension, literals, optionals.
LIBRARY_CASES = [
    (_TWO_STRINGS, "self.val1.startsWith('Rook')", 3),
    (_TWO_STRINGS, "self.val1.matches('^[^0-9]*$')", 943721),
    (_TWO_STRINGS, "self.val1.charAt(3) == 'k'", 4),
    (_TWO_STRINGS, "self.val1.indexOf('o', 2) == 2", 314576),
    (_TWO_STRINGS, "self.val1.replace(' ', 'x', 1) == 'Rookxtakes 👑'", 629150),
    (_TWO_STRINGS, "self.val1.split(' ', 2) == ['Rook', 'takes 👑']", 629159),
    (_TWO_STRINGS, "self.val1.substring(4, 10).trim() == 'takes'", 629149),
    (_TWO_STRINGS, "self.val1.lowerAscii() == self.val1.lowerAscii()", 943723),
    (_TWO_STRINGS, "self.val1 == 'Rook takes 👑' && 'Rook takes 👑' == self.val1 && self.val1 == self.val2", 314585),
    (_TWO_STRINGS, "quantity(self.val1).isLessThan(quantity(self.val2))", 629151),
    (_TWO_STRINGS, 'quantity("50k").add(quantity("20")) == quantity("50.02k")', 5),
    (_TWO_STRINGS, 'isQuantity("200M")', 1),
    (_INT_LISTS, "self.val2[0] in self.val1", 1572868),
    (_INT_LISTS, "self.val1 + [4, 5] == [1, 2, 3, 4, 5]", 24),
    (_INT_LISTS, "self.val1.exists_one(k, self.val1 == [2])", 23592949),
    (_INT_LISTS, "size(self.val1.filter(k, size(self.val1) > 1)) == 1", 26738686),
    (_STRING_MAPS, "self.val1 == self.val2", 39326),
    (_STRING_MAPS, "!('k3' in self.val1)", 4),
    (_STRING_MAPS, "self.val1 == {'k1': 'a', 'k2': 'b'}", 33),
    (_STRING_MAPS, "self.val1.all(k, size(self.val1) > 0)", 2752508),
    (_LIST_MAP, "self.listMap.all(m, m.k.startsWith('a'))", 6291453),
    (_LIST_MAP, "!self.listMap.exists(m, m.v == 'x')", 7340029),
    (_LIST_MAP, "self.listMap.exists_one(m, m.k == 'a3')", 5242879),
    ({"type": "object", "properties": {"something": {"x-kubernetes-int-or-string": True}}},
     "type(self.something) == int ? self.something == 1 : self.something == '25%'", 7),
    ({"type": "object", "properties": {"kind": {"type": "string"}}}, "self.kind == 'Pod'", 3),
    (_OPTIONALS, "optional.of('a').or(optional.of('a')).hasValue()", 4),
    (_OPTIONALS, "self.obj.?field.orValue('v') == 'a'", 5),
    (_OPTIONALS, "self.m[?'k'] == optional.of('v')", 1844674407370955268),
    (_OPTIONALS, "optional.of('a') != optional.none()", 1844674407370955266),
    (_OPTIONALS, "optional.ofNonZeroValue(1).hasValue()", 2),
    (_OPTIONALS, "optional.of('a').optMap(v, v == 'value').hasValue()", 17),
]


@pytest.mark.parametrize("schema, rule, expected", LIBRARY_CASES, ids=[rule for _, rule, _ in LIBRARY_CASES])
def test_estimated_cost_of_library_calls_matches_upstreams(schema, rule, expected):
    assert _cost(schema, rule) == expected


def test_a_parenthesised_field_in_has_is_costed_as_the_field():
    """has((self.a)) compiles (as in cel-go) and so is costed, as has(self.a) is: a rule cannot slip past the
    cost limit behind parentheses."""
    node = {"type": "object", "properties": {"a": {"type": "string"},
                                              "l": {"type": "array", "items": {"type": "string"}}}}
    rule = " && self.l.all(x, self.l.all(y, x == y))"
    plain = celcost.estimate(cel._environment().compile("has(self.a)" + rule), celcost.decl(node))
    wrapped = celcost.estimate(cel._environment().compile("has((self.a))" + rule), celcost.decl(node))
    assert plain is not None and wrapped == plain

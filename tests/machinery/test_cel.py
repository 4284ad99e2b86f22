"""x-kubernetes-validations: compiling CRD rules and evaluating them as apiextensions does."""

from __future__ import annotations

import pytest

from kapiserver.machinery import cel

SPEC = {"type": "object", "properties": {
    "min": {"type": "integer"}, "max": {"type": "integer"}, "name": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "start": {"type": "string", "format": "date-time"},
    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        "x-kubernetes-validations": [{"rule": "self.port >= oldSelf.port",
                                                      "message": "port may only grow"}]}}}}


def _evaluated(result):
    """An evaluation's result; an evaluation error fails the test (it is truthy, so a bare assert would pass)."""
    assert not isinstance(result, cel.celpy.CELEvalError), cel.error_text(result)
    return result


def assert_undeclared(source: str, name: str) -> None:
    """``source`` does not compile: ``name`` is an undeclared reference."""
    try:
        cel.compile_expression(source)
    except cel.CompileError as e:
        assert f"undeclared reference to '{name}'" in str(e), source
    else:
        raise AssertionError(f"{source} compiled")


def schema(*rules, spec=None):
    body = dict(spec or SPEC, **{"x-kubernetes-validations": list(rules)})
    return {"type": "object", "properties": {"spec": body}}


def messages(rules_schema, obj, old=None):
    return [str(e) for e in cel.validator(rules_schema).validate(obj, old)]


def obj(**spec):
    return {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "a", "uid": "u"}, "spec": spec}


def test_failed_rule_default_message_and_message():
    """A false rule is an Invalid field error on the rule's node: its message, else "failed rule: <rule>"."""
    s = schema({"rule": "self.min <= self.max"}, {"rule": "size(self.name) > 2", "message": " too short "})
    assert messages(s, obj(min=5, max=3, name="ab")) == [
        'spec: Invalid value: "object": failed rule: self.min <= self.max',
        'spec: Invalid value: "object": too short']
    assert messages(s, obj(min=1, max=3, name="abc")) == []


def test_reason_and_field_path():
    """reason picks Forbidden/Required/Duplicate errors and fieldPath moves the error to a child field."""
    s = schema({"rule": "self.min > 0", "reason": "FieldValueForbidden", "fieldPath": ".min"},
               {"rule": "self.max > 0", "reason": "FieldValueRequired", "message": "needed"},
               {"rule": "false", "reason": "FieldValueDuplicate"})
    errs = cel.validator(s).validate(obj(min=0, max=0))
    assert [(e.reason, str(e)) for e in errs] == [
        ("FieldValueForbidden", "spec.min: Forbidden: failed rule: self.min > 0"),
        ("FieldValueRequired", "spec: Required value: needed"),
        ("FieldValueDuplicate", 'spec: Duplicate value: "object"')]


def test_message_expression_with_fallback():
    """messageExpression gives the message; an empty or failing one falls back to message."""
    s = schema({"rule": "self.max < 10", "messageExpression": "'max is ' + string(self.max)"},
               {"rule": "self.min < 0", "message": "fallback", "messageExpression": "''"})
    assert messages(s, obj(min=1, max=12)) == ['spec: Invalid value: "object": max is 12',
                                                'spec: Invalid value: "object": fallback']


def test_transition_rules_only_run_with_an_old_value():
    """A rule naming oldSelf is skipped on create and runs on update, also on correlated list-map items."""
    s = schema({"rule": "self.max >= oldSelf.max", "message": "max may not shrink"})
    assert messages(s, obj(max=1)) == []
    assert messages(s, obj(max=1), obj(max=2)) == ['spec: Invalid value: "object": max may not shrink']
    new, old = obj(ports=[{"name": "b", "port": 1}, {"name": "a", "port": 5}]), obj(ports=[{"name": "a", "port": 9}])
    assert messages(schema(), new, old) == ['spec.ports[1]: Invalid value: "object": port may only grow']


def test_optional_old_self():
    """With optionalOldSelf the rule runs on create too, oldSelf being an optional."""
    s = schema({"rule": "!oldSelf.hasValue() || oldSelf.value().name == self.name", "optionalOldSelf": True,
                "message": "name is immutable"},
               {"rule": "oldSelf.orValue(self).min <= self.min", "optionalOldSelf": True})
    assert messages(s, obj(name="x", min=1)) == []
    assert messages(s, obj(name="x", min=1), obj(name="y", min=2)) == [
        'spec: Invalid value: "object": name is immutable',
        'spec: Invalid value: "object": failed rule: oldSelf.orValue(self).min <= self.min']


def test_optional_old_self_fields_are_optionals():
    """A field of an optional oldSelf is an optional (none when oldSelf or the field is absent), and has()
    over it tells whether the old object has the field, as cel-go unwraps the optional."""
    s = schema({"rule": "!has(oldSelf.name)", "optionalOldSelf": True, "message": "name was set"},
               {"rule": "oldSelf.name.orValue(self.name) == self.name", "optionalOldSelf": True,
                "message": "name is immutable"},
               {"rule": "!oldSelf.tags[0].hasValue() || oldSelf.tags[0].value() == self.tags[0]",
                "optionalOldSelf": True, "message": "first tag is immutable"})
    assert messages(s, obj(name="x", tags=["a"])) == []
    assert messages(s, obj(name="x", tags=["a"]), obj(tags=["a"])) == []
    assert messages(s, obj(name="x", tags=["a"]), obj(name="y", tags=["b"])) == [
        'spec: Invalid value: "object": name was set',
        'spec: Invalid value: "object": name is immutable',
        'spec: Invalid value: "object": first tag is immutable']


def test_macros_strings_and_kubernetes_library():
    """has(), size(), macros, matches(), timestamps and the Kubernetes list/string additions evaluate."""
    s = schema({"rule": "has(self.tags) && self.tags.all(t, t.matches('^[a-z]+$'))"},
               {"rule": "self.tags.exists(t, t == 'b') && self.tags.filter(t, t > 'a').size() == 1"},
               {"rule": "self.tags.map(t, t.upperAscii()) == ['A', 'B'] && self.tags.isSorted()"},
               {"rule": "self.tags.indexOf('b') == 1 && 'a,b'.split(',') == self.tags && self.name.trim() == 'n'"},
               {"rule": "self.start < timestamp('2030-01-01T00:00:00Z') && duration('1h') > duration('30m')"})
    assert messages(s, obj(tags=["a", "b"], name=" n ", start="2024-05-01T00:00:00Z")) == []
    assert len(messages(s, obj(tags=["b", "a"], name="n", start="2031-01-01T00:00:00Z"))) == 3


def test_runtime_errors_are_invalid_with_the_rule():
    """A rule that errors (absent field, no such overload) is an Invalid error naming the rule."""
    s = schema({"rule": "self.max > 1"}, {"rule": "self.name + 1 == 'x'"})
    assert messages(s, obj(name="a")) == [
        'spec: Invalid value: "object": no such key: max evaluating rule: self.max > 1',
        "spec: Invalid value: \"object\": 'no such overload': call arguments did not match a supported "
        "operator, function or macro signature for rule: self.name + 1 == 'x'"]


def test_an_integer_past_int64_is_a_double_not_a_crash():
    """An integer JSON decodes past int64 (up to uint64, e.g. 18446744073709551615), declared or under
    x-kubernetes-preserve-unknown-fields, reaches a rule as a double (a float64 in upstream's decoding)
    instead of overflowing (a 500)."""
    s = {"type": "object", "properties": {"n": {"type": "integer"},
                                          "x": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
         "x-kubernetes-validations": [{"rule": "self.n > 1.0 && self.x.y > 1.0"}]}
    assert cel.validator(s).validate({"n": 2 ** 64 - 1, "x": {"y": 2 ** 63}}) == []


def test_a_duration_accessor_with_a_time_zone_is_no_such_overload():
    """``duration('1h').getMinutes('UTC')`` (celpy asserts there) is a rule error, not an AssertionError (a
    500); cel-go has no such overload."""
    s = {"type": "object", "x-kubernetes-validations": [{"rule": "duration('1h').getMinutes('UTC') == 60"}]}
    assert [str(e) for e in cel.validator(s).validate({})] == [
        "<nil>: Invalid value: \"object\": 'no such overload': call arguments did not match a supported operator, "
        "function or macro signature for rule: duration('1h').getMinutes('UTC') == 60"]


def test_root_metadata_that_is_not_an_object_is_left_to_metadata_validation():
    """A root rule's ``self.metadata`` keeps only name and generateName; metadata that is not an object (-1)
    is an empty one to the rule rather than a TypeError."""
    s = {"type": "object", "x-kubernetes-validations": [{"rule": "self.k == 0"}]}
    assert cel.validator(s).validate({"metadata": -1, "k": 0}) == []


def test_runtime_error_texts_are_cel_go_s():
    """Index, key, overflow and division errors are worded as cel-go v0.22 words them."""
    s = schema({"rule": "self.tags[1] == 'x'"}, {"rule": "self.tags[-1] == 'x'"},
               {"rule": "{'a': 1}['zz'] == 1"}, {"rule": "self.min * 9223372036854775807 > 0"},
               {"rule": "self.min / 0 == 1"}, {"rule": "self.min % 0 == 1"},
               {"rule": "(self.max - 9223372036854775807 - 2) / -1 == 0"},
               {"rule": "self.name.charAt(5) == ''"}, {"rule": "self.name.charAt(1) == ''"})
    prefix = 'spec: Invalid value: "object": '
    assert messages(s, obj(tags=["x"], min=2, max=1, name="a")) == [
        prefix + "index out of bounds: 1 evaluating rule: self.tags[1] == 'x'",
        prefix + "index out of bounds: -1 evaluating rule: self.tags[-1] == 'x'",
        prefix + "no such key: zz evaluating rule: {'a': 1}['zz'] == 1",
        prefix + "integer overflow evaluating rule: self.min * 9223372036854775807 > 0",
        prefix + "division by zero evaluating rule: self.min / 0 == 1",
        prefix + "modulus by zero evaluating rule: self.min % 0 == 1",
        prefix + "integer overflow evaluating rule: (self.max - 9223372036854775807 - 2) / -1 == 0",
        prefix + "index out of range: 5 evaluating rule: self.name.charAt(5) == ''"]


def test_logical_operators_report_the_first_error_as_cel_go():
    """||, && and ?: decide with a deciding value on either side; otherwise the left side's error is the result
    (celpy alone reports two errors as a missing overload)."""
    s = schema({"rule": "self.max > 0 || self.min > 0", "message": "or"},
               {"rule": "self.max > 0 && self.min > 0", "message": "and"},
               {"rule": "self.max > 0 ? true : false", "message": "cond"},
               {"rule": "self.name == 'a' ? size(self.tags) > 0 || self.max > 0 : true", "message": "nested"})
    assert messages(s, obj(name="a")) == [
        f'spec: Invalid value: "object": no such key: {key} evaluating rule: {rule}'
        for key, rule in (("max", "or"), ("max", "and"), ("max", "cond"), ("tags", "nested"))]
    # A deciding value wins over an error on the other side, whichever side it is on.
    s = schema({"rule": "self.max > 0 || self.min > 0"}, {"rule": "self.min > 0 || self.max > 0"})
    assert messages(s, obj(min=1)) == []
    assert messages(schema({"rule": "self.max > 0 && self.min > 0"}), obj(min=0)) == [
        'spec: Invalid value: "object": failed rule: self.max > 0 && self.min > 0']


def test_root_rules_see_only_name_of_metadata():
    """A rule on the object itself reports at <nil> and sees metadata.name but not other metadata."""
    s = {"type": "object", "x-kubernetes-validations": [
        {"rule": "self.metadata.name.startsWith('b')"}, {"rule": "!has(self.metadata.uid)"}]}
    assert messages(s, obj()) == ['<nil>: Invalid value: "object": failed rule: self.metadata.name.startsWith(\'b\')']


def test_check_rules_reports_what_does_not_compile():
    """Syntax errors, unknown functions and a needless optionalOldSelf are CRD errors (an empty rule, a bad reason or
    fieldPath are schema errors: tests/registry/test_crd_schema_validation.py)."""
    s = {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-validations": [
        {"rule": "self.a <"}, {"rule": "nope(self)"}, {"rule": "true", "reason": "Other"},
        {"rule": "true", "fieldPath": ".b"}, {"rule": "true", "optionalOldSelf": True}, {"rule": ""},
        {"rule": "true", "messageExpression": "'a' +"}]}
    errs = cel.check_rules(s, "root")
    fields = [e.field for e in errs]
    assert fields == ["root.x-kubernetes-validations[0].rule", "root.x-kubernetes-validations[1].rule",
                      "root.x-kubernetes-validations[4].optionalOldSelf",
                      "root.x-kubernetes-validations[6].messageExpression"]
    assert "compilation failed: ERROR: <input>:1:" in errs[0].body and "Syntax error" in errs[0].body
    assert "undeclared reference to 'nope'" in errs[1].body
    assert cel.check_rules(schema({"rule": "self.tags.all(t, size(t) > 0)"}), "root") == []


def test_rules_compile_once():
    """The same rule source is compiled once, however many validators use it."""
    cel.compile_expression.cache_clear()
    s = schema({"rule": "self.min <= self.max"}, spec={"type": "object", "properties": {
        "min": {"type": "integer"}, "max": {"type": "integer"}}})
    for _ in range(3):
        cel.validator(s).validate(obj(min=1, max=2))
    assert cel.compile_expression.cache_info().misses == 1


def test_unchanged_values_ratchet():
    """On update a failing rule on a value equal to its old value is not an error; a changed one is."""
    s = schema({"rule": "self.min <= self.max"})
    assert messages(s, obj(min=5, max=3), obj(min=5, max=3)) == []
    assert messages(s, obj(min=6, max=3), obj(min=5, max=3)) == [
        'spec: Invalid value: "object": failed rule: self.min <= self.max']


def test_a_stored_rule_that_does_not_compile_fails_its_objects():
    """A rule that slipped past CRD validation fails every object with a rule compile error."""
    s = schema({"rule": "self.min <"})
    [message] = messages(s, obj(min=1))
    assert message.startswith('spec: Invalid value: "object": rule compile error: compilation failed:')


def test_a_stored_rule_with_a_bad_message_expression_or_field_path_still_runs():
    """Upstream's compileRule keeps a rule whose messageExpression does not compile (the message falls back) or
    whose fieldPath does not resolve (the error stays at the rule's node)."""
    s = schema({"rule": "self.min <= self.max", "message": "min above max", "messageExpression": "'a' +",
                "fieldPath": ".nope"})
    assert messages(s, obj(min=5, max=3)) == ['spec: Invalid value: "object": min above max']


def test_undeclared_fields_do_not_compile():
    """A rule naming a field its schema does not declare is refused, as upstream's type checker does."""
    s = schema({"rule": "self.min > 0 && has(self.nope)"}, {"rule": "self.metadata.name != '' && self.x.y"},
               spec={"type": "object", "properties": {"min": {"type": "integer"}, "x": {
                   "type": "object", "x-kubernetes-preserve-unknown-fields": True}}})
    errs = cel.check_rules(s, "root")
    assert [e.field for e in errs] == ["root.properties[spec].x-kubernetes-validations[0].rule",
                                       "root.properties[spec].x-kubernetes-validations[1].rule"]
    assert "undefined field 'nope'" in errs[0].body and "undefined field 'metadata'" in errs[1].body
    top = {"type": "object", "x-kubernetes-validations": [{"rule": "self.metadata.name.size() < 9"}],
           "properties": {"spec": {"type": "object"}}}
    assert cel.check_rules(top, "root") == []


def test_escaped_property_names():
    """Properties like "x-y" or "if" are reached as self.x__dash__y and self.__if__."""
    s = schema({"rule": "self.x__dash__y == self.__if__"}, spec={"type": "object", "properties": {
        "x-y": {"type": "string"}, "if": {"type": "string"}}})
    assert cel.check_rules(s, "root") == []
    assert messages(s, {"spec": {"x-y": "a", "if": "a"}}) == []
    assert len(messages(s, {"spec": {"x-y": "a", "if": "b"}})) == 1


def test_kubernetes_quantity_and_url_libraries():
    from kapiserver.machinery import cel

    def run(source):
        return _evaluated(cel.compile_expression(source, frozenset()).evaluate({}))
    assert run("quantity('1Gi').isGreaterThan(quantity('512Mi'))")
    assert run("quantity('500m').add(1).compareTo(quantity('1.5'))") == 0
    assert run("quantity('2k').sub(quantity('1k')).asInteger()") == 1000
    assert not run("isQuantity('1x')") and run("quantity('1.5').isInteger()") is not None
    assert isinstance(cel.compile_expression("quantity('1.5').asInteger()", frozenset()).evaluate({}),
                      cel.celpy.CELEvalError)
    assert run("url('https://example.com:8443/a?x=1&x=2').getHost()") == "example.com:8443"
    assert run("url('https://[::1]:80/').getHostname()") == "::1"
    assert run("url('https://example.com/p?x=1&x=2').getQuery()['x']") == ["1", "2"]
    assert run("url('https://example.com/p').getEscapedPath()") == "/p"
    assert not run("isURL('not a url')") and run("isURL('/relative/path')")


def test_kubernetes_ip_and_cidr_libraries():
    from kapiserver.machinery import cel

    def run(source):
        return _evaluated(cel.compile_expression(source, frozenset()).evaluate({}))
    assert run("isIP('10.0.0.1')") and run("isIP('::1')") and not run("isIP('10.0.0.1%eth0')")
    assert not run("isIP('::ffff:10.0.0.1')") and not run("isIP('nonsense')")
    assert run("ip('10.0.0.1').family()") == 4 and run("ip('fe80::1').family()") == 6
    assert run("ip('127.0.0.1').isLoopback()") and run("ip('0.0.0.0').isUnspecified()")
    assert run("ip('169.254.1.1').isLinkLocalUnicast()") and run("ip('224.0.0.5').isLinkLocalMulticast()")
    assert run("ip('8.8.8.8').isGlobalUnicast()") and not run("ip('255.255.255.255').isGlobalUnicast()")
    assert run("ip('10.0.0.1') == ip('10.0.0.1')") and run("string(ip('::1')) == '::1'")
    assert run("cidr('10.0.0.0/8').containsIP('10.1.2.3')") and not run("cidr('10.0.0.0/8').containsIP('11.0.0.1')")
    assert run("cidr('10.0.0.0/8').containsIP(ip('10.9.9.9'))")
    assert run("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')")
    assert not run("cidr('10.1.0.0/16').containsCIDR(cidr('10.0.0.0/8'))")
    assert run("cidr('10.1.2.3/8').prefixLength()") == 8
    assert run("string(cidr('10.1.2.3/8').masked()) == '10.0.0.0/8'")
    assert run("cidr('10.1.2.3/8').ip() == ip('10.1.2.3')")
    assert run("isCIDR('10.0.0.0/8')") and not run("isCIDR('10.0.0.0')") and not run("isCIDR('10.0.0.0/33')")
    assert not run("isCIDR('10.0.0.0/\u0661\u0666')")   # Arabic-Indic digits: not Go's ASCII prefix length
    assert isinstance(cel.compile_expression("ip('bogus')", frozenset()).evaluate({}), cel.celpy.CELEvalError)


def test_a_runaway_expression_stops_at_the_per_call_limit(monkeypatch):
    from kapiserver.machinery import cel
    monkeypatch.setattr(cel, "PER_CALL_LIMIT", 10_000)
    hundred = "[" + ",".join(str(i) for i in range(100)) + "]"
    result = cel.compile_expression(f"{hundred}.all(a, {hundred}.all(b, true))", frozenset()).evaluate({})
    assert isinstance(result, cel.celpy.CELEvalError) and cel.error_text(result) == cel.COST_LIMIT_EXCEEDED


def test_regular_expressions_are_go_re2():
    """matches(), find() and findAll() read patterns as Go's RE2: $ is the end of the text, \\d is ASCII, and a
    pattern Go refuses is an error in Go's words (from the method and the global form alike)."""
    s = schema({"rule": "self.name.find('[0-9]+$') == ''", "message": "find"},
               {"rule": "self.name.findAll('\\\\d').size() == 0", "message": "findAll"},
               {"rule": "matches(self.name, '^\\\\w+$')", "message": "matches"})
    failed = 'spec: Invalid value: "object": {}'.format
    assert messages(s, obj(name="ab12\n")) == [failed("findAll"), failed("matches")]
    assert messages(s, obj(name="x٣٤")) == [failed("matches")]
    assert messages(s, obj(name="x1")) == [failed("find"), failed("findAll")]
    s = schema({"rule": "self.name.matches(self.tags[0])"}, {"rule": "matches(self.name, self.tags[0])"},
               {"rule": "self.name.find(self.tags[0]) == ''"})
    perl = "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"
    assert messages(s, obj(name="a", tags=["a(?=b)"])) == [
        f'spec: Invalid value: "object": {perl} evaluating rule: self.name.matches(self.tags[0])',
        f'spec: Invalid value: "object": {perl} evaluating rule: matches(self.name, self.tags[0])',
        f'spec: Invalid value: "object": Illegal regex: {perl} evaluating rule: self.name.find(self.tags[0]) == \'\'']


def test_kubernetes_format_library():
    """format.<name>() and format.named(name) give the formats; validate(s) is optional.none() when s is valid,
    else an optional list of the messages upstream's format library gives (its format_test.go cases)."""
    from kapiserver.machinery import celformat

    def run(source):
        result = _evaluated(cel.compile_expression(source, frozenset()).evaluate({}))
        return (result.present, result.value) if isinstance(result, cel.Optional_) else result
    label = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    assert run("format.dns1123Label().validate('contains a space')") == (True, [label])
    assert run("format.dns1123LabelPrefix().validate('contains a space-')") == (True, [label])
    assert run("format.qualifiedName().validate('contains a space')") == (True, [
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"])
    assert run("format.dns1035Label().validate('contains a space')")[1][0].startswith("a DNS-1035 label must")
    assert run("format.labelValue().validate('my-cool-label-Value!!')")[1][0].startswith("a valid label must")
    for valid in ("format.dns1123Label().validate('my-label-name')",
                  "format.dns1123Subdomain().validate('apiextensions.k8s.io')",
                  "format.qualifiedName().validate('apiextensions.k8s.io/v1beta1')",
                  "format.dns1123SubdomainPrefix().validate('mysubdomain.prefix.-')",
                  "format.dns1035LabelPrefix().validate('my-label-prefix-')",
                  "format.labelValue().validate('my-cool-label-Value')",
                  "format.uri().validate('http://example.com')",
                  "format.uuid().validate('123e4567-e89b-12d3-a456-426614174000')",
                  "format.byte().validate('aGVsbG8=')", "format.date().validate('2021-01-01')",
                  "format.datetime().validate('2021-01-01T00:00:00Z')"):
        assert run(valid) == (False, None), valid
    assert run("format.byte().validate('aGVsbG8')") == (True, ["invalid base64"])
    assert run("format.date().validate('2020-01-32')") == (True, ["invalid date"])
    assert run("format.datetime().validate('2020-01-32T00:00:00Z')") == (True, ["invalid datetime"])
    assert run("format.uuid().validate('nope')") == (True, ["does not match the UUID format"])
    assert run("format.uri().validate('example.com')") == (True, ['parse "example.com": invalid URI for request'])
    assert not run("format.named('unknown').hasValue()")
    for name in celformat.FORMATS:
        assert run(f"format.named('{name}').value() == format.{name}()")
        assert not run(f"format.{name}() == format.{'uri' if name != 'uri' else 'byte'}()")
    assert run("format.labelValue().validate('a b').value().join('; ')").startswith("a valid label must")


def test_format_library_names_are_checked_when_compiling():
    """Only format.<a format>() and format.named() are known: another name after "format.", a bare "format" or
    a format's name called on its own is an undeclared reference; a variable of that name is not the library."""
    assert _evaluated(cel.compile_expression("format.named('uri').hasValue() && format.uri() == format.uri()")
                      .evaluate({})) == True  # noqa: E712 (a CEL bool)
    for source, name in (("format.nope()", "format"), ("format", "format"), ("dns1123Label()", "dns1123Label"),
                         ("self.x.uri()", "uri"), ("self.all(format, format.uri())", "uri")):
        assert_undeclared(source, name)
    assert _evaluated(cel.compile_expression("self.all(format, format > 0)").evaluate({"self": [1, 2]})) == True  # noqa: E712


def test_gateway_xbackend_port_name_rule():
    """Gateway API's XBackend port-name rule compiles; "" passes; "Not_A_Label" fails with its message.  As in
    cel-go, an optional never equals null (Optional.Equal is false for anything not an optional), so
    `validate(self) == null` is false even for a valid name: upstream refuses "ok-name" as well."""
    name = {"type": "string", "maxLength": 63, "x-kubernetes-validations": [
        {"rule": "size(self) == 0 || format.dns1123Label().validate(self) == null",
         "message": "Name must be a valid DNS label"}]}
    port = {"type": "object", "properties": {"name": name, "port": {"type": "integer"}}}
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "maxItems": 16, "items": port}}}}}
    assert cel.check_rules(s, "root") == []
    assert messages(s, obj(ports=[{"name": "", "port": 80}])) == []
    assert messages(s, obj(ports=[{"name": "Not_A_Label", "port": 80}])) == [
        'spec.ports[0].name: Invalid value: "string": Name must be a valid DNS label']
    assert messages(s, obj(ports=[{"name": "ok-name", "port": 80}])) == [
        'spec.ports[0].name: Invalid value: "string": Name must be a valid DNS label']
    assert _evaluated(cel.compile_expression("!format.dns1123Label().validate(self).hasValue()")
                      .evaluate({"self": "ok-name"})) == True  # noqa: E712


def test_operators_on_operands_no_overload_takes_do_not_compile():
    """An operator applied to declared types no overload takes is refused when the CRD is written, every one
    found, each worded as cel-go's checker words it with the caret under the operator; operands whose CEL type
    is not evident here (int-or-string, timestamps, durations, bytes, calls, collections, oldSelf under
    optionalOldSelf) are left be; a list's item and a map's value by index are typed by the schema."""
    spec = {"type": "object", "properties": {
        "n": {"type": "integer"}, "r": {"type": "number"}, "s": {"type": "string"}, "b": {"type": "boolean"},
        "x": {"x-kubernetes-int-or-string": True}, "t": {"type": "string", "format": "date-time"},
        "d": {"type": "string", "format": "duration"}, "raw": {"type": "string", "format": "byte"},
        "m": {"type": "object", "additionalProperties": {"type": "integer"}},
        "l": {"type": "array", "items": {"type": "string"}},
        "o": {"type": "object", "properties": {"a": {"type": "string"}}}}}

    def errors(rule, **extra):
        return [str(e) for e in cel.check_rules(
            dict(spec, **{"x-kubernetes-validations": [dict(rule=rule, **extra)]}), "s")]

    [found] = errors("self.n > '3'")
    assert found.endswith("compilation failed: ERROR: <input>:1:8: found no matching overload for '_>_' applied "
                          "to '(int, string)'\n | self.n > '3'\n | .......^")
    [found] = errors("(self.s)  + 1 == 'a' || self.r % 2.0 == 0.0")
    assert found.endswith(
        "compilation failed: ERROR: <input>:1:11: found no matching overload for '_+_' applied to '(string, int)'"
        "\n | (self.s)  + 1 == 'a' || self.r % 2.0 == 0.0\n | ..........^"
        "\nERROR: <input>:1:32: found no matching overload for '_%_' applied to '(double, double)'"
        "\n | (self.s)  + 1 == 'a' || self.r % 2.0 == 0.0\n | ...............................^")
    for rule, types in (("self.r + 1 > 0.0", "'_+_' applied to '(double, int)'"),
                        ("self.m.a > 'x'", "'_>_' applied to '(int, string)'"),
                        ("self.b == 1", "'_==_' applied to '(bool, int)'"),
                        # numbers of two types may be ordered (Kubernetes' cross-type comparisons), not equated
                        ("self.n == self.r", "'_==_' applied to '(int, double)'"),
                        ("self.r != 1", "'_!=_' applied to '(double, int)'"),
                        ("oldSelf.n < 'x'", "'_<_' applied to '(int, string)'"),
                        ("[self.n == 's'] == [true]", "'_==_' applied to '(int, string)'"),
                        ("self.m['a'] > 'x'", "'_>_' applied to '(int, string)'"),
                        ("self.l[0] + 1 == 2", "'_+_' applied to '(string, int)'"),
                        ("self.s[0] == 'a'", "'_[_]' applied to '(string, int)'"),
                        ("self.s ? 1 : 2", "'_?_:_' applied to '(string, int, int)'"),
                        ("self.b ? 1 : 2.0", "'_?_:_' applied to '(bool, int, double)'"),
                        ("(self.b ? self.n : 2) > 'x'", "'_>_' applied to '(int, string)'"),
                        # null equals only what cel-go deems nullable: not a scalar
                        ("self.n == null", "'_==_' applied to '(int, null)'"),
                        ("null != self.s", "'_!=_' applied to '(null, string)'"),
                        ("self.m['a'] == null", "'_==_' applied to '(int, null)'"),
                        ("null + 1 == 2", "'_+_' applied to '(null, int)'")):
        [found] = errors(rule)
        assert f"found no matching overload for {types}" in found, rule
    for rule in ("self.n > 3.5", "self.r <= self.n", "self.n / 2 == 1", "self.s + 'x' == 'y'", "self.x > 'a'",
                 "self.t > 'a'", "self.d == 1", "self.raw == 1", "self.m['a'] > 1", "self.l[0] + 'x' == 'y'",
                 "self.l[self.m['i']] == 'x'", "self.l == 'x'", "(self.b ? self.n : 2) > 1",
                 "self.n > 0 ? self.s == 'a' : false", "self.b ? self.s == 'a' : self.x == 1",
                 "self.l + ['a'] == ['b']", "size(self.s) == 'x'", "self.o == null", "null == self.o",
                 "self.t == null", "self.x == null", "self.l == null", "self.m == null", "null == null", "true"):
        assert errors(rule) == [], rule
    assert errors("oldSelf.n < 'x'", optionalOldSelf=True) == []


def test_comprehension_variables_are_typed_by_what_they_range_over():
    """A macro's variable is a list's item or a map's key: a field its item does not declare and an operator its
    type takes no overload for are refused as upstream's checker refuses them; untyped items are left be."""
    spec = {"type": "object", "properties": {
        "ports": {"type": "array", "maxItems": 16, "items": {"type": "object", "properties": {
            "port": {"type": "integer"}, "name": {"type": "string", "maxLength": 63}}}},
        "tags": {"type": "array", "maxItems": 16, "items": {"type": "string"}},
        "m": {"type": "object", "maxProperties": 16, "additionalProperties": {"type": "integer"}},
        "free": {"type": "array", "maxItems": 16,
                 "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}

    def errors(rule):
        return [e.body.split(": compilation failed: ", 1)[-1] for e in cel.check_rules(
            dict(spec, **{"x-kubernetes-validations": [{"rule": rule}]}), "s")]

    assert errors("self.ports.all(p, p.prot > 0)") == [
        "ERROR: <input>:1:20: undefined field 'prot'\n | self.ports.all(p, p.prot > 0)\n | ...................^"]
    assert errors("self.ports.exists(p, p.port > 'x')") == [
        "ERROR: <input>:1:29: found no matching overload for '_>_' applied to '(int, string)'\n"
        " | self.ports.exists(p, p.port > 'x')\n | ............................^"]
    for rule, problem in (("self.tags.all(t, t == 1)", "'_==_' applied to '(string, int)'"),
                          ("self.m.all(k, k == 1)", "'_==_' applied to '(string, int)'"),
                          ("self.ports.map(p, p.port > 0, p.nme).size() > 0", "undefined field 'nme'"),
                          ("self.ports.all(p, has(p.nope))", "undefined field 'nope'")):
        [found] = errors(rule)
        assert problem in found, rule
    for rule in ("self.ports.all(p, p.port > 0 && p.name != '')", "self.m.all(k, k.startsWith('a'))",
                 "self.free.all(f, f.anything > 'x')", "self.ports.map(p, p.port).all(x, x > 0)",
                 "self.ports.all(p, self.ports.exists(q, q.port == p.port))",
                 "self.ports.filter(p, p.port > 1).size() > 0", "self.tags.exists_one(t, t == 'a')",
                 "self.ports.all(self, self.port > 0)"):     # a variable named self hides the rule's own
        assert errors(rule) == [], rule
    # Every error of a rule, in one message, as cel-go lists them.
    assert errors("self.nope > 'a' && self.ports.all(p, p.port > 'b')") == [
        "ERROR: <input>:1:5: undefined field 'nope'\n | self.nope > 'a' && self.ports.all(p, p.port > 'b')\n"
        " | ....^\nERROR: <input>:1:45: found no matching overload for '_>_' applied to '(int, string)'\n"
        " | self.nope > 'a' && self.ports.all(p, p.port > 'b')\n | ............................................^"]


def test_logical_and_unary_operators_selections_and_ranges_are_type_checked():
    """cel-go's other checker errors where the types are declared: each side of && and || must be a bool, ! and -
    need an operand an overload takes, a scalar has no fields, a comprehension ranges over a list or a map and
    its predicate is a bool; each at the place cel-go reports it."""
    spec = {"type": "object", "properties": {
        "n": {"type": "integer"}, "s": {"type": "string"}, "b": {"type": "boolean"},
        "l": {"type": "array", "maxItems": 16, "items": {"type": "string"}},
        "x": {"x-kubernetes-int-or-string": True}}}

    def errors(rule):
        return [e.body.split(": compilation failed: ", 1)[-1] for e in cel.check_rules(
            dict(spec, **{"x-kubernetes-validations": [{"rule": rule}]}), "s")]

    for rule, expected in (
            ("self.s && true", "ERROR: <input>:1:5: expected type 'bool' but found 'string'\n | self.s && true\n"
                               " | ....^"),
            ("self.b || self.n + 1 > 0 || 'a'", "ERROR: <input>:1:29: expected type 'bool' but found 'string'\n"
                                                " | self.b || self.n + 1 > 0 || 'a'\n | ............................^"),
            ("!self.s", "ERROR: <input>:1:1: found no matching overload for '!_' applied to '(string)'\n | !self.s\n"
                        " | ^"),
            ("-(self.s) == 1", "ERROR: <input>:1:1: found no matching overload for '-_' applied to '(string)'\n"
                               " | -(self.s) == 1\n | ^"),
            ("self.n.value > 0", "ERROR: <input>:1:7: type 'int' does not support field selection\n"
                                 " | self.n.value > 0\n | ......^"),
            ("self.s.all(c, c == 'a')", "ERROR: <input>:1:5: expression of type 'string' cannot be range of a "
                                        "comprehension (must be list, map, or dynamic)\n | self.s.all(c, c == 'a')\n"
                                        " | ....^"),
            ("self.l.all(e, 0)", "ERROR: <input>:1:15: expected type 'bool' but found 'int'\n | self.l.all(e, 0)\n"
                                 " | ..............^")):
        assert errors(rule) == [expected], rule
    for rule in ("self.b && !self.b", "-self.n < 0", "self.x || true", "!self.x", "self.x.foo > 0", "self.l && true",
                 "self.l.map(e, e) == ['a']", "self.l.map(e, e == 'a', e).size() > 0",
                 "self.l.exists(e, e.size() > 1)"):
        assert errors(rule) == [], rule


def test_message_expressions_are_type_checked_as_upstream():
    """A messageExpression naming an undeclared field, adding a number to a string, or evidently not a string is
    refused at its own path with upstream's words; untyped operands pass.  string() of a number type-checks, but
    its result has no size the estimate can bound, so adding it to a string is refused for its cost (as upstream
    refuses it: kubernetes/kubernetes#124234)."""
    spec = {"type": "object", "properties": {"max": {"type": "integer"}, "s": {"type": "string"},
                                             "x": {"x-kubernetes-int-or-string": True}}}

    def errors(expression):
        rule = {"rule": "true", "messageExpression": expression}
        return [(e.field, e.body.split("OptionalOldSelf:(*bool)(nil)}: ", 1)[-1]) for e in cel.check_rules(
            dict(spec, **{"x-kubernetes-validations": [rule]}), "s")]

    at = "s.x-kubernetes-validations[0].messageExpression"
    assert errors("'max ' + self.max") == [(at, "messageExpression compilation failed: ERROR: <input>:1:8: found no "
                                                "matching overload for '_+_' applied to '(string, int)'\n"
                                                " | 'max ' + self.max\n | .......^")]
    assert errors("self.nope") == [(at, "messageExpression compilation failed: ERROR: <input>:1:5: undefined "
                                        "field 'nope'\n | self.nope\n | ....^")]
    assert errors("self.max") == errors("1 + 2") == [(at, "messageExpression must evaluate to a string")]
    for expression in ("self.s", "'x is ' + self.x", "self.s + '!'", "string(self.max)"):
        assert errors(expression) == [], expression
    assert errors("'max ' + string(self.max)") == [
        (at, "Forbidden: estimated messageExpression cost exceeds budget by factor of more than 100x (try "
             "simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings "
             "are declared)"),
        (at, "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"),
        ("s", "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds "
              "budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and "
              "maxLength where arrays, maps, and strings are declared)")]


def test_rules_whose_result_is_evidently_not_a_bool_do_not_compile():
    """A literal, self or a declared field that is not a bool, or arithmetic over them, is refused when the
    CRD is written; anything whose type is not evident (a call, a conditional, int-or-string) is left be."""
    spec = {"type": "object", "properties": {"a": {"type": "integer"}, "s": {"type": "string"},
                                             "b": {"type": "boolean"}, "x": {"x-kubernetes-int-or-string": True}}}

    def errors(rule):
        return [str(e) for e in cel.check_rules(dict(spec, **{"x-kubernetes-validations": [{"rule": rule}]}), "s")]

    for rule in ("self", "self.a", "self.a + 1", "'x' + self.s", "1", "null", "(self.s)", "[true]", "[self.b]",
                 "{'k': true}"):
        found = errors(rule)
        assert len(found) == 1 and found[0].startswith("s.x-kubernetes-validations[0].rule: Invalid value: ")
        assert found[0].endswith("}: cel expression must evaluate to a bool")
    for rule in ("true", "self.b", "self.a > 1", "self.x", "size(self.s) > 0", "self.b ? true : false"):
        assert errors(rule) == []


def test_optional_syntax_and_library():
    """CEL's optionals as Kubernetes enables them: ``a.?f`` and ``a[?k]`` select an optional (none where nothing
    is there, chaining through a none), ``optional.of/none/ofNonZeroValue``, ``hasValue``, ``value``,
    ``orValue``, ``or``, the ``optMap`` and ``optFlatMap`` macros; two optionals are equal when both are none or
    hold equal values."""
    s = schema({"rule": "self.?labels[?'tier'].orValue('web') != 'db'", "message": "no db tier"},
               {"rule": "!has(self.min) || self.?max.orValue(self.min) >= self.min", "message": "max below min"},
               spec={"type": "object", "properties": {
                   "min": {"type": "integer"}, "max": {"type": "integer"},
                   "labels": {"type": "object", "maxProperties": 8,
                              "additionalProperties": {"type": "string", "maxLength": 63}}}})
    assert cel.check_rules(s, "root") == []
    assert messages(s, obj(min=1)) == []
    assert messages(s, obj(min=2, max=1, labels={"tier": "db"})) == [
        'spec: Invalid value: "object": no db tier', 'spec: Invalid value: "object": max below min']
    values = {"self": cel.to_cel({"m": {"k": "v"}, "l": ["a", "b"], "n": 0}, None)}
    for source, expected in (("self.?m.?k.orValue('x')", "v"), ("self.?m.?z.orValue('x')", "x"),
                             ("self.?nope.?k.hasValue()", False), ("self.l[?1].value()", "b"),
                             ("self.l[?2].hasValue()", False), ("self.m[?'k'] == optional.of('v')", True),
                             ("optional.of('a') != optional.none()", True),
                             ("optional.none() == optional.none()", True),
                             ("optional.ofNonZeroValue(self.n).hasValue()", False),
                             ("optional.ofNonZeroValue('a').value()", "a"),
                             ("optional.none().or(optional.of(1)).value()", 1), ("self.?m.k.orValue('')", "v"),
                             ("self.?m.?k.optMap(x, x + '!').orValue('-')", "v!"),
                             ("self.?m.?z.optMap(x, x + '!').orValue('-')", "-"),
                             ("self.?m.optFlatMap(m, m[?'k']).orValue('')", "v")):
        assert _evaluated(cel.compile_expression(source).evaluate(values)) == expected, source
    result = cel.compile_expression("optional.none().value()").evaluate(values)
    assert isinstance(result, cel.celpy.CELEvalError) and cel.error_text(result) == "optional.none() dereference"
    for source, name in (("optional", "optional"), ("of(1)", "of"), ("none()", "none")):
        assert_undeclared(source, name)


def test_string_function_arguments_are_type_checked():
    """A string function called on, or with, declared types none of its overloads takes is refused with cel-go's
    message and its caret at the call's parenthesis; its result is typed by the overload that fits."""
    spec = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}

    def errors(rule):
        return [e.body.split(": compilation failed: ", 1)[-1] for e in cel.check_rules(
            dict(spec, **{"x-kubernetes-validations": [{"rule": rule}]}), "s")]

    assert errors("self.name.startsWith(1)") == [
        "ERROR: <input>:1:21: found no matching overload for 'startsWith' applied to 'string.(int)'\n"
        " | self.name.startsWith(1)\n | ....................^"]
    assert errors("self.n.contains('1')") == [
        "ERROR: <input>:1:16: found no matching overload for 'contains' applied to 'int.(string)'\n"
        " | self.n.contains('1')\n | ...............^"]
    assert errors("matches(self.name, 1)") == [
        "ERROR: <input>:1:8: found no matching overload for 'matches' applied to '(string, int)'\n"
        " | matches(self.name, 1)\n | .......^"]
    assert errors("self.name.indexOf('a') > 'b'") == [
        "ERROR: <input>:1:24: found no matching overload for '_>_' applied to '(int, string)'\n"
        " | self.name.indexOf('a') > 'b'\n | .......................^"]
    for rule in ("self.name.startsWith('a')", "self.name.substring(1, 2) == 'a'", "self.name.replace('a', 'b') != ''",
                 "matches(self.name, '^a')", "self.name.indexOf('a', 1) >= 0", "self.name.find('[0-9]+') == ''"):
        assert errors(rule) == [], rule


def test_old_self_only_where_old_values_pair_with_new_ones():
    """A transition rule (oldSelf) inside the items of a list that is not a map list is refused: there no old value
    pairs with a new one.  On a map list's items, on the list itself, and inside an object (atomic or not: its
    properties pair by name), it is fine."""
    n = {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]}
    spec = {"type": "object", "properties": {
        "steps": {"type": "array", "maxItems": 8, "items": {"type": "object", "properties": {"n": n}}},
        "ports": {"type": "array", "maxItems": 8, "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["name"], "items": {
                      "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "n": n}}},
        "fixed": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"n": n}},
        "whole": {"type": "array", "maxItems": 8, "items": {"type": "integer"},
                  "x-kubernetes-validations": [{"rule": "size(self) >= size(oldSelf)"}]}}}
    assert [str(e) for e in cel.check_rules(spec, "s")] == [
        's.properties[steps].items.properties[n].x-kubernetes-validations[0].rule: Invalid value: "self >= oldSelf": '
        "oldSelf cannot be used on the uncorrelatable portion of the schema within s.properties[steps]"]


def test_has_takes_only_a_field_selection():
    """has()'s argument must select a field, as cel-go's macro requires; its error stands where cel-go puts the
    argument (an identifier at itself, an index at its "[", a call at its "(")."""
    for source, column in (("has(self)", 5), ("has(self.a[0])", 11), ("has(size(self))", 9),
                           ("self.x > 0 && has(oldSelf)", 19)):
        with pytest.raises(cel.CompileError) as e:
            cel.compile_expression(source)
        assert str(e.value) == (f"compilation failed: ERROR: <input>:1:{column}: invalid argument to has() macro\n"
                                f" | {source}\n | {'.' * (column - 1)}^"), source
    for source in ("has(self.a)", "has((self.a))", "self.all(x, has(x.b))", "has(self.a.b)"):
        cel.compile_expression(source)

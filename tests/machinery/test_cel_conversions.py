"""CEL's conversions as cel-go makes them: strings parse as Go's strconv and time do, string() prints as
cel-go prints."""

from __future__ import annotations

import pytest

from kapiserver.machinery import cel


def run(source):
    result = cel.compile_expression(source).evaluate({})
    return cel.error_text(result) if isinstance(result, cel.celpy.CELEvalError) else result


@pytest.mark.parametrize("source, target", [
    ("int(' 1')", "int"), ("int('1_000')", "int"), ("int('0x10')", "int"), ("int('9223372036854775808')", "int"),
    ("uint('+1')", "uint"), ("uint('-1')", "uint"), ("double('1_0')", "double"), ("double('+nan')", "double"),
    ("double('1e400')", "double"), ("double('0x1')", "double"), ("double(' 1')", "double"),
    ("duration('1d')", "google.protobuf.Duration"), ("duration('1')", "google.protobuf.Duration"),
    ("duration('.s')", "google.protobuf.Duration"),
    ("timestamp('2023-01-01')", "google.protobuf.Timestamp"),
    ("timestamp('2023-02-30T00:00:00Z')", "google.protobuf.Timestamp"),
    ("timestamp('2023-01-01t00:00:00Z')", "google.protobuf.Timestamp"),
])
def test_a_string_go_refuses_is_a_type_conversion_error(source, target):
    """strconv.ParseInt/ParseUint/ParseFloat, time.ParseDuration and RFC 3339 refusals are cel-go's error."""
    assert run(source) == f"type conversion error from 'string' to '{target}'"


def test_strings_go_accepts():
    """Signs, Go's special floats, hex floats with an exponent, the micro sign and fractions of units."""
    for source in (
            "int('-42') == -42 && int('+7') == 7 && uint('18446744073709551615') == 18446744073709551615u",
            "double('inf') > 1e308 && double('-Infinity') < 0.0 && double('NaN') != double('NaN')",
            "double('0x1p-2') == 0.25 && double('0x_1p-2') == 0.25 && double('1e3') == 1000.0",
            "duration('1µs') < duration('1ms') && duration('1μs') == duration('1us')",
            "duration('-1.5h') == duration('-90m') && duration('1h30m') == duration('5400s')",
            "timestamp('2023-01-01T10:00:00.5+01:00') == timestamp('2023-01-01T09:00:00.5Z')",
            "bool('T') && !bool('0')",
    ):
        assert run(source) == True, run(source)  # noqa: E712 (a CEL bool; an error is its text)
    assert run("bool('yes')") == "type conversion error from 'string' to 'bool'"


@pytest.mark.parametrize("source, text", [
    ("string(true)", "true"), ("string(false)", "false"), ("string(1.0)", "1"), ("string(3.0)", "3"),
    ("string(1e6)", "1e+06"), ("string(123456.5)", "123456.5"), ("string(0.00001)", "1e-05"),
    ("string(double('inf'))", "+Inf"), ("string(double('-inf'))", "-Inf"), ("string(double('nan'))", "NaN"),
    ("string(duration('1.5s'))", "1.5s"), ("string(duration('100ms'))", "0.1s"),
    ("string(duration('1h45m47s'))", "6347s"), ("string(duration('-250ms'))", "-0.25s"),
    ("string(timestamp('2023-02-03T23:31:20+00:00'))", "2023-02-03T23:31:20Z"),
    ("string(timestamp('2023-02-03T23:31:20.120+01:00'))", "2023-02-03T23:31:20.12+01:00"),
    ("string(42u)", "42"), ("string(b'abc')", "abc"), ("string(-7)", "-7"),
])
def test_string_prints_values_as_cel_go(source, text):
    """string() of bools, doubles (Go's %g), durations (seconds), timestamps (RFC 3339 nano) as cel-go."""
    assert run(source) == text


def test_istio_connect_timeout_rule():
    """Istio's duration(self) >= duration('1ms'): '1d' is a conversion error, '1µs' fails the rule."""
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"connectTimeout": {
        "type": "string", "x-kubernetes-validations": [
            {"rule": "duration(self) >= duration('1ms')", "message": "must be greater than 1ms"}]}}}}}
    validator = cel.validator(s)
    assert [str(e) for e in validator.validate({"spec": {"connectTimeout": "1d"}})] == [
        "spec.connectTimeout: Invalid value: \"string\": type conversion error from 'string' to "
        "'google.protobuf.Duration' evaluating rule: must be greater than 1ms"]
    assert [str(e) for e in validator.validate({"spec": {"connectTimeout": "1µs"}})] == [
        'spec.connectTimeout: Invalid value: "string": must be greater than 1ms']
    assert validator.validate({"spec": {"connectTimeout": "10ms"}}) == []

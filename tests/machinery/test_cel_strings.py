"""cel-go's strings extension at version 2, as Kubernetes enables it: format(), strings.quote() and the
string functions with cel-go's semantics."""

from __future__ import annotations

import pytest

from kapiserver.machinery import cel


def run(source):
    result = cel.compile_expression(source).evaluate({})
    return cel.error_text(result) if isinstance(result, cel.celpy.CELEvalError) else result


@pytest.mark.parametrize("source, text", [
    ("'%s-%d'.format(['a', 1])", "a-1"),
    ("'%% and %s%%'.format(['x'])", "% and x%"),
    ("'%d %d'.format([-3, 4u])", "-3 4"),
    ("'%.3f'.format([1.2345])", "1.234"),
    ("'%f'.format([2.71828])", "2.718280"),
    ("'%.2f'.format([1234567.891])", "1,234,567.89"),
    ("'%f %f %f'.format(['NaN', 'Infinity', '-Infinity'])", "NaN ∞ -∞"),
    ("'%e'.format([2.71828])", "2.718280\u202f×\u202f10⁰⁰"),
    ("'%.6e'.format([1052.032911275])", "1.052033\u202f×\u202f10⁰³"),
    ("'%b %b %o %x %X'.format([5, true, 11, 30, 30])", "101 1 13 1e 1E"),
    ("'%x'.format(['Hello world!'])", "48656c6c6f20776f726c6421"),
    ("'%X'.format([b'byte string'])", "6279746520737472696E67"),
    ("'%s %s %s %s'.format([true, 56.8, null, 999999999999])", "true 56.8 null 999999999999"),
    ("'%s'.format([duration('1h45m47s')])", "6347s"),
    ("'%s'.format([timestamp('2023-02-03T23:31:20+00:00')])", "2023-02-03T23:31:20Z"),
    ("'%s'.format([['abc', 3.14, null, [9, 8], timestamp('2023-02-03T23:31:20Z')]])",
     '["abc", 3.140000, null, [9, 8], timestamp("2023-02-03T23:31:20Z")]'),
    ("'%s'.format([{'key1': b'xyz', 'key5': null, 'key2': duration('2h'), 'key4': true, 'key3': 2.71828}])",
     '{"key1":b"xyz", "key2":duration("7200s"), "key3":2.718280, "key4":true, "key5":null}'),
    ("'%s'.format([{2u: 'value2', 1: 'value1'}])", '{1:"value1", 2:"value2"}'),
    ("'%s'.format([{true: double('NaN'), false: 1.5}])", '{false:1.500000, true:"NaN"}'),
])
def test_format(source, text):
    """format() prints each clause as cel-go's string library does."""
    assert run(source) == text


@pytest.mark.parametrize("source, error", [
    ("'%a'.format([1])", 'could not parse formatting clause: unrecognized formatting clause "a"'),
    ("'%E'.format([0.5])", 'could not parse formatting clause: unrecognized formatting clause "E"'),
    ("'%d %d %d'.format([0, 1])", "index 2 out of range"),
    ("'filler %'.format([1])", "unexpected end of string"),
    ("'%.34'.format([5.0])", "could not parse formatting clause: error while parsing precision: "
                             "could not find end of precision specifier"),
    ("'%b'.format(['abc'])", "error during formatting: only integers and bools can be formatted as binary, "
                             "was given string"),
    ("'%d'.format([duration('30m2s')])", "error during formatting: decimal clause can only be used on integers, "
                                         "was given google.protobuf.Duration"),
    ("'%o'.format(['a string'])", "error during formatting: octal clause can only be used on integers, "
                                  "was given string"),
    ("'%x'.format([0.5])", "error during formatting: only integers, byte buffers, and strings can be formatted "
                           "as hex, was given double"),
    ("'%f'.format([null])", "error during formatting: fixed-point clause can only be used on doubles, "
                            "was given null_type"),
    ("'%e'.format([1])", "error during formatting: scientific clause can only be used on doubles, was given int"),
])
def test_format_errors(source, error):
    """A bad clause, a missing argument or a wrong type is cel-go's error."""
    assert run(source) == error


def test_strings_quote():
    """strings.quote() wraps in double quotes and escapes CEL's escape sequences; quote is only strings'."""
    assert run(r"""strings.quote('\a \b "double quotes"')""") == r'"\a \b \"double quotes\""'
    assert run(r"strings.quote('two escape sequences \a\n')") == r'"two escape sequences \a\n"'
    with pytest.raises(cel.CompileError, match="undeclared reference to 'quote'"):
        cel.compile_expression("'x'.quote()")
    with pytest.raises(cel.CompileError, match="undeclared reference to 'strings'"):
        cel.compile_expression("strings")


@pytest.mark.parametrize("source, result", [
    ("'ÀBC'.lowerAscii()", "Àbc"), ("'TacoCÆt Xii'.upperAscii()", "TACOCÆT XII"),
    ("'hello mellow'.indexOf('', 2)", 2), ("'hello mellow'.indexOf('ello', 2)", 7),
    ("'hello mellow'.indexOf('ello', 20)", -1), ("'hello mellow'.indexOf('ello', -1)", "index out of range: -1"),
    ("'hello mellow'.lastIndexOf('')", 12), ("'hello mellow'.lastIndexOf('ello', 6)", 1),
    ("'hello mellow'.lastIndexOf('ello', -1)", "index out of range: -1"),
    ("'tacocat'.substring(2, 1)", "invalid substring range. start: 2, end: 1"),
    ("'tacocat'.substring(-1)", "index out of range: -1"),
    ("'abc'.split('')", ["a", "b", "c"]), ("'abc'.split('', 2)", ["a", "bc"]), ("'a b'.split(' ', 0)", []),
    ("' \\u0085x\\u00a0\\t'.trim()", "x"), ("'\\x1cx'.trim()", "\x1cx"),
    ("['a', 'b'].join('-')", "a-b"), ("['a', 1].join()", "join: invalid input: 1"),
])
def test_string_functions_as_cel_go(source, result):
    """The strings library's functions follow cel-go's rules (rune offsets, ASCII-only case, Go's space)."""
    assert run(source) == result

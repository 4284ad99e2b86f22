"""Label and field selectors: syntax, matching and the apiserver's error messages."""

import pytest

from kapiserver.machinery import errors
from kapiserver.machinery.selectors import (
    format_label_selector, format_labels, label_selector_from_dict, parse_field_selector,
    parse_label_selector,
)

_NAME_PART_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                  "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
                  "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _label_error(text: str) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        parse_label_selector(text)
    assert caught.value.code == 400 and caught.value.reason == "BadRequest"
    return caught.value


@pytest.mark.parametrize("text, labels, expected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app!=web", {"app": "db"}, True),
    ("app!=web", {}, True),
    ("app in (web, db)", {"app": "db"}, True),
    ("app in (web,db)", {}, False),
    ("app notin (web,db)", {"app": "cache"}, True),
    ("app notin (web,db)", {}, True),
    ("app notin (web,db)", {"app": "web"}, False),
    ("app", {"app": ""}, True),
    ("app", {}, False),
    ("!app", {}, True),
    ("!app", {"app": "x"}, False),
    ("app=web,tier", {"app": "web", "tier": "1"}, True),
    ("app=web,tier", {"app": "web"}, False),
    ("x>5", {"x": "6"}, True),
    ("x<5", {"x": "6"}, False),
    ("x>5", {"x": "six"}, False),
    ("app=", {"app": ""}, True),
    ("app in (,a)", {"app": ""}, True),
    ("  app = web ,  tier  ", {"app": "web", "tier": "t"}, True),
    ("", {"anything": "x"}, True),
    ("example.com/app=web", {"example.com/app": "web"}, True),
])
def test_label_selector_matching(text, labels, expected):
    """Each operator of the label selector syntax matches as labels.Parse's requirements do."""
    assert parse_label_selector(text).matches(labels) is expected


def test_in_and_notin_are_values_where_values_are_expected():
    """The words ``in`` and ``notin`` are ordinary keys and values outside operator position."""
    selector = parse_label_selector("in in (in, notin)")
    assert selector.matches({"in": "notin"})
    assert str(selector) == "in in (in,notin)"


def test_selector_string_form_sorts_keys_and_values():
    """The string form sorts requirements by key and set values alphabetically."""
    assert str(parse_label_selector("z,a in (c,b),!m,k!=v")) == "a in (b,c),k!=v,!m,z"


def test_empty_selector_is_empty():
    """An empty selector does not restrict; a non-empty one does."""
    assert parse_label_selector("").empty
    assert not parse_label_selector("a").empty


def test_exact_match():
    """exact_match reports the single value ``=`` or a one-value ``in`` demands."""
    assert parse_label_selector("a=b,c in (d)").exact_match("a") == "b"
    assert parse_label_selector("c in (d)").exact_match("c") == "d"
    assert parse_label_selector("c in (d,e)").exact_match("c") is None
    assert parse_label_selector("a!=b").exact_match("a") is None


@pytest.mark.parametrize("text, message", [
    ("app:monolith", 'unable to parse requirement: <nil>: Invalid value: "app:monolith": ' + _NAME_PART_MSG),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a,", "found '', expected: identifier after ','"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("(a", "found '(', expected: !, identifier, or 'end of string'"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a=(", "unable to parse requirement: found '(', expected: identifier"),
    ("a>x", 'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("a=b%c", 'unable to parse requirement: values[0][a]: Invalid value: "b%c": a valid label must be an '
              "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
              "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
              "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("a/b/c ?=? def", 'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must '
                      "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                      "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                      "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
                      "subdomain prefix and '/' (e.g. 'example.com/MyName')"),
    ("app.kubernetes_io/name=x",
     'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part a lowercase '
     "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and "
     "end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
    ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
    ("example.com/=x", 'unable to parse requirement: <nil>: Invalid value: "example.com/": '
                       "name part must be non-empty; " + _NAME_PART_MSG),
    ("a" * 64, f'unable to parse requirement: <nil>: Invalid value: "{"a" * 64}": '
               "name part must be no more than 63 characters"),
])
def test_label_selector_errors(text, message):
    """Bad selectors are a 400 whose message is the one upstream's parser produces."""
    assert _label_error(text).message == message


def test_label_selector_from_dict():
    """matchLabels and matchExpressions combine; None selects nothing and {} everything."""
    selector = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]},
                             {"key": "legacy", "operator": "DoesNotExist"}],
    })
    assert selector.matches({"app": "web", "tier": "fe"})
    assert not selector.matches({"app": "web", "tier": "fe", "legacy": "y"})
    assert not selector.matches({"app": "web", "tier": "db"})
    assert str(selector) == "app=web,!legacy,tier in (be,fe)"
    assert not label_selector_from_dict(None).matches({})
    assert not label_selector_from_dict(None).empty
    assert label_selector_from_dict({}).matches({"x": "y"})


def test_label_selector_from_dict_errors():
    """A bad operator or an empty In is rejected with upstream's messages."""
    with pytest.raises(errors.StatusError) as caught:
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Near"}]})
    assert caught.value.message == '"Near" is not a valid label selector operator'
    with pytest.raises(errors.StatusError) as caught:
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})
    assert caught.value.message == ("values: Invalid value: null: "
                                    "for 'in', 'notin' operators, values set can't be empty")


def test_label_values_are_matched_whole():
    """A trailing newline does not slip past value validation (patterns match the whole value)."""
    with pytest.raises(errors.StatusError):
        label_selector_from_dict({"matchLabels": {"app": "web\n"}})


def test_format_helpers():
    """The printers' label renderings: sorted k=v pairs, <none> when empty, <error> when invalid."""
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
    assert format_label_selector({"matchLabels": {"app": "web"}}) == "app=web"
    assert format_label_selector({}) == "<none>"
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bad"}]}) == "<error>"


@pytest.mark.parametrize("text, fields, expected", [
    ("metadata.name=a", {"metadata.name": "a"}, True),
    ("metadata.name==a", {"metadata.name": "a"}, True),
    ("metadata.name!=a", {"metadata.name": "a"}, False),
    ("status.phase=Running,spec.nodeName=n1", {"status.phase": "Running", "spec.nodeName": "n1"}, True),
    ("status.phase=Running,spec.nodeName=n1", {"status.phase": "Running", "spec.nodeName": "n2"}, False),
    ("spec.nodeName=", {}, True),
    ("spec.nodeName!=", {}, False),
    ("x=a\\,b", {"x": "a,b"}, True),
    ("x=a\\=b\\\\", {"x": "a=b\\"}, True),
    ("", {"x": "y"}, True),
])
def test_field_selector_matching(text, fields, expected):
    """Terms are ANDed; a missing field reads as empty; escaped , = and \\ are data."""
    assert parse_field_selector(text).matches(fields) is expected


def test_field_selector_terms_and_exact_match():
    """Terms come out sorted as upstream sorts them, and exact_match finds an ``=`` term."""
    selector = parse_field_selector("status.phase!=Failed,metadata.name=web")
    assert [(r.field, r.operator, r.value) for r in selector.requirements] == [
        ("metadata.name", "=", "web"), ("status.phase", "!=", "Failed")]
    assert selector.exact_match("metadata.name") == "web"
    assert selector.exact_match("status.phase") is None
    assert str(parse_field_selector("x=a\\,b")) == "x=a\\,b"


@pytest.mark.parametrize("text, message", [
    ("a", "invalid selector: 'a'; can't understand 'a'"),
    ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
    ("x=a=b", "invalid field selector: unescaped character in value: 61"),
    ("x=a\\q", "invalid field selector: invalid escape sequence: \\q"),
    ("x=a\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_field_selector_errors(text, message):
    """Unparseable field selectors are a 400 with upstream's message."""
    with pytest.raises(errors.StatusError) as caught:
        parse_field_selector(text)
    assert caught.value.code == 400
    assert caught.value.message == message

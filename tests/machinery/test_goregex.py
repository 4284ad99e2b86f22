"""Go's regexp (RE2) for CRD patterns and CEL: the matches, and the errors, Go's regexp.Compile gives."""

from __future__ import annotations

import pytest

from kapiserver.machinery import goregex

# AlertmanagerConfig's month range (prometheus-operator): (?i) in the middle of a group.
MONTHS = ("^((?i)january|february|march|april|may|june|july|august|september|october|november|december|"
          "1[0-2]|[1-9])(?:((:((?i)january|february|march|april|may|june|july|august|september|october|"
          "november|december|1[0-2]|[1-9]))))?$")


def matches(pattern, text):
    return goregex.compile(pattern).search(text) is not None


def refusal(pattern):
    with pytest.raises(goregex.RegexpError) as caught:
        goregex.compile(pattern)
    return str(caught.value)


def test_flags_in_the_middle_apply_to_the_rest_of_their_group():
    """A (?i) after the start folds case from there to the end of the enclosing group, as Go does."""
    assert all(matches(MONTHS, s) for s in ("january", "March", "1:3", "may:DECEMBER", "12"))
    assert not any(matches(MONTHS, s) for s in ("foo", "13", "may:", "january\n"))
    assert matches("a(?i)b", "aB") and not matches("a(?i)b", "Ab")
    assert not matches("(?:(?i)a)b", "AB")


def test_dollar_is_the_end_of_the_text():
    """$ does not match before a trailing newline (Python's would), unless (?m) is on; \\z is the end too."""
    assert not matches("^[0-9]+s$", "30s\n")
    assert matches("(?m)^[0-9]+s$", "30s\nx")
    assert matches("^a\\z", "a") and not matches("^a\\z", "a\n")


def test_perl_classes_are_ascii_and_case_folding_is_unicode():
    """\\d, \\w, \\s and \\b are ASCII-only; (?i) folds Unicode letters, not multi-letter folds."""
    assert matches("^\\d+$", "2345") and not matches("^\\d+$", "2٣٤٥")
    assert not matches("^\\w+$", "héllo") and not matches("^\\s$", "\u00a0")
    assert not matches("\\bé", "é")
    assert matches("(?i)^σ$", "Σ") and matches("(?i)^é$", "É") and not matches("(?i)^straße$", "STRASSE")


def test_go_only_syntax():
    """\\Q...\\E, POSIX classes, \\pL and \\p{Greek}, (?U) and both named-capture forms work as in Go."""
    assert matches("^\\Qa.b*\\E$", "a.b*") and not matches("^\\Qa.b*\\E$", "aab")
    assert matches("^[[:alpha:]][[:digit:][:space:]]+$", "a1 2") and not matches("^[[:alpha:]]$", "é")
    assert matches("^[[:^digit:]]+$", "ab") and not matches("^[[:^digit:]]+$", "a1")
    assert matches("^\\pL+$", "héllo") and matches("^\\p{Greek}+$", "αβ") and not matches("^\\p{Lu}", "a")
    assert goregex.compile("(?U)a+").search("aaa").group(0) == "a"
    assert goregex.compile("(?P<x>a)(?<y>b)").search("ab").group("y") == "b"


@pytest.mark.parametrize("pattern, error", [
    ("a(?=b)", "invalid or unsupported Perl syntax: `(?=`"),
    ("a(?!b)", "invalid or unsupported Perl syntax: `(?!`"),
    ("(?<=a)b", "invalid named capture: `(?<=a)b`"),
    ("(?<!a)b>", "invalid named capture: `(?<!a)b>`"),
    ("(a)\\1", "invalid escape sequence: `\\1`"),
    ("\\C", "invalid escape sequence: `\\C`"),
    ("\\Z", "invalid escape sequence: `\\Z`"),
    ("(?P<名>a)", "invalid named capture: `(?P<名>`"),
    ("(?P=n)", "invalid or unsupported Perl syntax: `(?P`"),
    ("+", "missing argument to repetition operator: `+`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("x(a", "missing closing ): `x(a`"),
    ("a)", "unexpected ): `a)`"),
    ("x[a", "missing closing ]: `[a`"),
    ("[z-a]", "invalid character class range: `z-a`"),
    ("[[:word2:]]", "invalid character class range: `[:word2:]`"),
    ("\\p{Nope}", "invalid character class range: `\\p{Nope}`"),
    ("a\\", "trailing backslash at end of expression: ``"),
])
def test_what_go_refuses_is_refused_with_its_words(pattern, error):
    """Backreferences, lookarounds and malformed syntax are errors worded as Go's regexp/syntax."""
    assert refusal(pattern) == f"error parsing regexp: {error}"


def test_escaped_and_quoted_look_alikes_are_literals():
    """\\\\C, \\Q\\C\\E and a ] first in a class are not the constructs they resemble."""
    assert matches("^\\\\C$", "\\C") and matches("^\\Q\\C(?<\\E$", "\\C(?<") and matches("^[]a]+$", "]a")


def test_find_all_skips_an_empty_match_right_after_a_match():
    """find_all is Go's FindAllString: no empty match where the previous one ended, and a limit."""
    assert goregex.find_all("a*", "baaac") == ["", "aaa", ""]
    assert goregex.find_all("\\b", "ab cd") == ["", "", "", ""]
    assert goregex.find_all("[0-9]+", "a1b22c333", 2) == ["1", "22"]
    assert goregex.find_all("[0-9]+", "a1", 0) == []
    assert goregex.find("[0-9]+", "ab12c3") == "12" and goregex.find("x", "ab") == ""


def test_compiled_patterns_are_cached():
    """The same pattern compiles once."""
    assert goregex.compile("^a+$") is goregex.compile("^a+$")

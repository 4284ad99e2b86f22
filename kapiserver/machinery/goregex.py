"""
Go's regular expressions (package regexp, RE2 syntax), as upstream applies them
to a CRD schema's ``pattern`` and to CEL's ``matches()``, ``find()`` and ``findAll()``.

The engine is RE2 itself (google-re2, which cel-python already requires), not a
translation to Python's ``re``: Go's regexp is a port of RE2, so the two agree on
syntax and on matching — ``$`` only at the end of the text unless ``(?m)``,
ASCII-only ``\\d \\w \\s \\b``, Unicode case folding under ``(?i)``, flags that
apply from the middle of a group (``a(?i)b``), ``\\z``, ``\\Q...\\E``,
``[[:alpha:]]``, ``\\pL``/``\\p{Greek}``, ``(?U)`` — and both refuse
backreferences and lookarounds.  RE2 also matches in time linear in the text,
so a schema's pattern cannot stall the reactor on a crafted value.

What is Go's own is done here: the two constructs C++ RE2 reads otherwise
(``\\C`` is refused; ``(?<`` always starts a named capture), Go's error text
(``error parsing regexp: <code>: `<expr>```), and FindAllString's rule that an
empty match right after a match is skipped.
"""

from __future__ import annotations

import functools

import re2

__all__ = ["RegexpError", "compile", "find", "find_all"]

# Go's limit on a compiled program is about 3.3M instructions; RE2's default 8 MiB
# budget refuses patterns Go accepts (\pL{1000}), so give it Go's room.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 128 << 20

# C++ RE2's error codes, worded as Go's regexp/syntax ErrorCode values.
_GO_CODES = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
}


class RegexpError(ValueError):
    """A pattern Go's regexp.Compile refuses; ``str()`` is Go's error text."""

    def __init__(self, code: str, expr: str):
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code, self.expr = code, expr


@functools.lru_cache(maxsize=512)
def compile(pattern: str):
    """The compiled pattern (``search``, ``match``, ``fullmatch``, ``finditer`` as ``re``'s, on str),
    or RegexpError where Go's regexp.Compile fails."""
    go_only = _go_only_error(pattern)
    try:
        regexp = re2.compile(pattern, _OPTIONS)
    except UnicodeEncodeError:
        raise RegexpError("invalid UTF-8", pattern) from None
    except re2.error as e:
        raise go_only or _go_error(e, pattern) from None
    if go_only:
        raise go_only
    return regexp


def find(pattern: str, text: str) -> str:
    """Go's FindString: the leftmost match, or "" when there is none."""
    found = compile(pattern).search(text)
    return found.group(0) if found else ""


def find_all(pattern: str, text: str, limit: int = -1) -> list[str]:
    """Go's FindAllString(text, limit): successive non-overlapping matches, at most ``limit`` when it
    is not negative; an empty match right after the previous match is not one."""
    out: list[str] = []
    previous_end = -1
    for match in compile(pattern).finditer(text):
        if 0 <= limit <= len(out):
            break
        start, end = match.span()
        # RE2's iterator finds such an empty match where Go's loop does, and Go drops it.
        if not (start == end == previous_end):
            out.append(match.group(0))
        previous_end = end
    return out


def _go_error(error: re2.error, pattern: str) -> RegexpError:
    text = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) \
        else str(error)
    if text == "trailing \\":
        return RegexpError("trailing backslash at end of expression", "")
    if text.startswith("pattern too large"):
        return RegexpError("expression too large", pattern)
    code, _, expr = text.partition(": ")
    return RegexpError(_GO_CODES.get(code, code), expr)


def _go_only_error(pattern: str):
    """The first construct Go refuses that C++ RE2 accepts or words otherwise, as Go's error; or None.
    (A pattern with two errors may name a different one first than Go; both refuse it.)"""
    i, n, in_class, class_start = 0, len(pattern), False, 0
    while i < n:
        c = pattern[i]
        if c == "\\":
            following = pattern[i + 1:i + 2]
            if following == "Q" and not in_class:
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            if following == "C":
                return RegexpError("invalid escape sequence", "\\C")
            i += 2
        elif in_class:
            if pattern.startswith("[:", i) and pattern.find(":]", i + 2) >= 0:
                i = pattern.find(":]", i + 2) + 2
            elif c == "]" and i > class_start:
                in_class = False
                i += 1
            else:
                i += 1
        elif c == "[":
            i += 1
            if pattern.startswith("^", i):
                i += 1
            in_class, class_start = True, i  # a ] first in the class is a literal
        elif c == "(" and (pattern.startswith("(?<", i) or pattern.startswith("(?P<", i)):
            error = _named_capture_error(pattern[i:])
            if error:
                return error
            i += 1
        else:
            i += 1
    return None


def _named_capture_error(rest: str):
    # Go reads every (?< as a named capture, so (?<= and (?<! are bad names, not Perl syntax.
    start = 4 if rest.startswith("(?P<") else 3
    if len(rest) <= start:
        return None  # Go reads a bare "(?<" at the end as flags: RE2's error says the same
    end = rest.find(">")
    if end < 0:
        return RegexpError("invalid named capture", rest)
    name = rest[start:end]
    if not name or not all(ch == "_" or ch.isascii() and ch.isalnum() for ch in name):
        return RegexpError("invalid named capture", rest[:end + 1])
    return None

"""Command-line flags read as Go's pflag reads them: the value parsers every daemon's options share
(booleans as strconv.ParseBool, durations as time.ParseDuration, comma-separated lists), the error that names
the flag, and `PflagOptions`, a usage.Options that accepts pflag's spellings.

A leaf: it imports nothing from kapiserver, so every options module (config, auth, kubelet, node) can use it.
"""

from __future__ import annotations

import re
import sys

from twisted.python import usage


class OptionError(ValueError):
    """A command-line option whose value cannot be used; `flag` is its long name without dashes."""

    def __init__(self, flag, message):
        super().__init__(message)
        self.flag = flag


def invalid(flag, value, reason) -> OptionError:
    """An OptionError in the shape pflag uses, so the message reads like upstream's."""
    return OptionError(flag, f'invalid argument "{value}" for "--{flag}" flag: {reason}')


# --- Go durations -----------------------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 10 ** 9,
                   "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def duration_nanoseconds(text: str) -> int:
    """Go's time.ParseDuration: [-+] then one or more <number><unit> ("1h0m0s", "300ms", "1.5h"), or "0", in
    nanoseconds within an int64 (a fraction's excess truncated).  ValueError in Go's words for anything Go
    rejects (no unit, unknown unit, no digits, empty, out of range)."""
    if not isinstance(text, str):
        raise ValueError(f'time: invalid duration "{text}"')
    negative = text[:1] == "-"
    rest = text[1:] if text[:1] in ("-", "+") else text
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f'time: invalid duration "{text}"')
    total, position = 0, 0
    while position < len(rest):
        part = _DURATION_PART.match(rest, position)
        whole, fraction, unit = part[1], part[2], part[3]
        if not whole and not fraction:
            raise ValueError(f'time: invalid duration "{text}"')    # ".s" and "h" have no digits
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            # The unit ends where the next number begins: that unit is named, as Go names it.
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += int(whole or 0) * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > (1 << 63) - (0 if negative else 1):
            raise ValueError(f'time: invalid duration "{text}"')
        position = part.end()
    return -total if negative else total


def parse_duration(text) -> float:
    """Seconds in a Go duration string (duration_nanoseconds's), as time.ParseDuration reads it."""
    return duration_nanoseconds(text) / 1e9


# --- booleans and lists -----------------------------------------------------------------------------

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(text):
    """A boolean as Go's strconv.ParseBool reads it; ValueError otherwise."""
    if isinstance(text, bool):
        return text
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def split_list(value):
    """A list flag's items: a comma-separated string (or an already split list), stripped, empties dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item).strip() for item in value if str(item).strip()]


# --- pflag's spellings ------------------------------------------------------------------------------

class PflagOptions(usage.Options):
    """usage.Options reading flags the way pflag does: `--flag=value` or `--flag value`, `-v 2`, `-v=2` or
    `--v=2`, bare boolean flags, repeated list flags accumulating, and no abbreviations.

    Subclasses name their boolean flags in `boolean_parameters` (bare `--flag` means true, `--flag=false`
    turns it off) and their list and map flags in `accumulating_parameters` (repeating one adds to it).
    """

    boolean_parameters: frozenset = frozenset()
    accumulating_parameters: frozenset = frozenset()

    def parseOptions(self, options=None):
        if options is None:
            options = sys.argv[1:]
        super().parseOptions(self._normalize(list(options)))

    def _normalize(self, args):
        # Rewrite pflag's spellings into the one form getopt reads unambiguously (--name=value), and
        # reject unknown flags here, before getopt's prefix matching could accept an abbreviation.
        parameters = {name[:-1] for name in self.longOpt if name.endswith("=")}
        flags = {name for name in self.longOpt if not name.endswith("=")}
        shorts = {short: long for short, long in self.synonyms.items() if len(short) == 1}
        accumulated = {}
        out = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                out.extend(args[i:])
                break
            if arg.startswith("--"):
                name, has_value, value = arg[2:].partition("=")
                if name in parameters:
                    if not has_value:
                        if name in self.boolean_parameters:
                            value = "true"
                        elif i + 1 < len(args):
                            i += 1
                            value = args[i]
                        else:
                            raise usage.UsageError(f"flag needs an argument: --{name}")
                    if name in self.accumulating_parameters:
                        accumulated.setdefault(name, []).append(value)
                    else:
                        out.append(f"--{name}={value}")
                elif name in flags:
                    if has_value:
                        raise usage.UsageError(f"flag --{name} does not take a value")
                    out.append(arg)
                else:
                    raise usage.UsageError(f"unknown flag: --{name}")
            elif arg.startswith("-") and len(arg) > 1:
                short, rest = arg[1], arg[2:]
                if short == "h" and not rest:
                    out.append("--help")
                elif short in shorts and shorts[short] in parameters:
                    value = rest[1:] if rest.startswith("=") else rest
                    if not rest:
                        if i + 1 >= len(args):
                            raise usage.UsageError(f"flag needs an argument: '{short}' in -{short}")
                        i += 1
                        value = args[i]
                    out.append(f"--{shorts[short]}={value}")
                else:
                    raise usage.UsageError(f"unknown shorthand flag: '{short}' in {arg}")
            else:
                out.append(arg)
            i += 1
        for name, values in accumulated.items():
            out.insert(0, f"--{name}={','.join(values)}")
        return out

    def convert(self, booleans=(), durations=(), integers=(), floats=()) -> None:
        """Turn the named flags' strings into values (durations in seconds), refusing bad ones with pflag's
        words as a UsageError."""
        kinds = [(booleans, parse_bool, None), (durations, parse_duration, None),
                 (integers, int, "strconv.ParseInt"), (floats, float, "strconv.ParseFloat")]
        for names, parse, go in kinds:
            for name in names:
                if self[name] is None:
                    continue
                try:
                    self[name] = parse(self[name])
                except ValueError as e:
                    reason = f'{go}: parsing "{self[name]}": invalid syntax' if go else str(e)
                    raise usage.UsageError(str(invalid(name, self[name], reason))) from None

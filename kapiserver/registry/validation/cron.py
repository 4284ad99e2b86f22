"""The standard five-field cron format (robfig/cron v3 ParseStandard), for CronJob
schedules: ``parse_error(spec)`` gives the parser's error text, or None when valid."""

from __future__ import annotations

import re
from typing import Optional

_MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (min, max, names) per field, in order.
_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")


class _CronError(Exception):
    pass


def _atoi(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    number = int(text)
    if number < 0:
        raise _CronError(f"negative number ({number}) not allowed: {text}")
    return number


def _int_or_name(text: str, names: dict) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    return _atoi(text)


def _range(expr: str, low: int, high: int, names: dict) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise _CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if single:
            end = high
    else:
        raise _CronError(f"too many slashes: {expr}")
    if start < low:
        raise _CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise _CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _CronError(f"step of range should be a positive number: {expr}")


def parse_error(spec: str) -> Optional[str]:
    """None when ``spec`` parses; otherwise the error text robfig/cron gives."""
    if not spec:
        return "empty spec string"
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        head, _, rest = spec.partition(" ")
        spec = rest.strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            duration = spec[len("@every "):]
            if not _DURATION.match(duration):
                return f'failed to parse duration {spec}: time: invalid duration "{duration}"'
            return None
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    try:
        for text, (low, high, names) in zip(fields, _FIELDS):
            for expr in text.split(","):
                _range(expr, low, high, names)
    except _CronError as exc:
        return str(exc)
    return None

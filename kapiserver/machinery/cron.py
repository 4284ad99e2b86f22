"""CronJob schedules as robfig/cron v3's standard parser reads them (what the cronjob controller uses): five
fields (minute hour day-of-month month day-of-week) with lists, ranges, steps, names and ``*``/``?``; the
descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and ``@every <duration>``; an optional
``TZ=``/``CRON_TZ=`` prefix.  Times are seconds since the epoch; ``Schedule.next(t)`` is the first activation
strictly after ``t``; ``parse_error(spec)`` is the parser's error text (None when it parses), for the API's
validation of CronJobs.  Pure: no clock, no I/O."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import FrozenSet, Optional
from zoneinfo import ZoneInfo

from ..flags import parse_duration

MONTHS = {n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                          "nov", "dec"))}
DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 6, DAYS))
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
# How far ahead next() looks before giving up (robfig gives up after five years).
SEARCH_YEARS = 5
UTC = dt.timezone.utc


class ScheduleError(ValueError):
    """The schedule does not parse; the text says why, in robfig's words."""


@dataclass(frozen=True)
class Schedule:
    minutes: FrozenSet[int]
    hours: FrozenSet[int]
    days_of_month: FrozenSet[int]
    months: FrozenSet[int]
    days_of_week: FrozenSet[int]
    dom_star: bool
    dow_star: bool
    zone: dt.tzinfo = UTC
    every: Optional[float] = None        # @every: a constant delay in whole seconds

    def _day_matches(self, day: dt.datetime) -> bool:
        dom = day.day in self.days_of_month
        dow = (day.weekday() + 1) % 7 in self.days_of_week
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next(self, t: float) -> Optional[float]:
        """The first activation strictly after ``t`` (None if there is none within five years)."""
        if self.every is not None:
            return float(int(t) + self.every)
        local = dt.datetime.fromtimestamp(int(t) // 60 * 60 + 60, UTC).astimezone(self.zone).replace(tzinfo=None)
        limit = local.year + SEARCH_YEARS
        while local.year <= limit:
            if local.month not in self.months:
                local = (local.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(local):
                local = local.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if local.hour not in self.hours:
                local = local.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if local.minute not in self.minutes:
                local += dt.timedelta(minutes=1)
                continue
            stamp = local.replace(tzinfo=self.zone).timestamp()
            if stamp > t:
                return stamp
            local += dt.timedelta(minutes=1)
        return None


def _number(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ScheduleError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if value < 0:
        raise ScheduleError(f"negative number ({value}) not allowed: {text}")
    return value


def _value(text: str, names: dict) -> int:
    return names[text.lower()] if text.lower() in names else _number(text)


def _field(text: str, low: int, high: int, names: dict) -> tuple[FrozenSet[int], bool]:
    """The values a field selects, and whether it began with ``*`` or ``?``."""
    values: set = set()
    star = False
    for expr in text.split(","):
        range_and_step = expr.split("/")
        if len(range_and_step) > 2:
            raise ScheduleError(f"too many slashes: {expr}")
        bounds = range_and_step[0].split("-")
        if bounds[0] in ("*", "?"):
            start, end, star = low, high, True
        else:
            if len(bounds) > 2:
                raise ScheduleError(f"too many hyphens: {expr}")
            start = _value(bounds[0], names)
            end = _value(bounds[1], names) if len(bounds) == 2 else start
        step = 1
        if len(range_and_step) == 2:
            step = _number(range_and_step[1])
            if len(bounds) == 1 and bounds[0] not in ("*", "?"):
                end = high
            if step > 1:
                star = False
        if start < low:
            raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expr}")
        if end > high:
            raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expr}")
        if start > end:
            raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
        if step == 0:
            raise ScheduleError(f"step of range should be a positive number: {expr}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def zone(name: str) -> dt.tzinfo:
    """A time zone by IANA name ("" and "UTC" are UTC); ScheduleError if unknown."""
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except Exception as e:         # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ScheduleError(f"unknown time zone {name}") from e


def parse(spec: str) -> Schedule:
    """robfig/cron's ParseStandard."""
    if not spec:
        raise ScheduleError("empty spec string")
    location: dt.tzinfo = UTC
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        head, _, spec = spec.partition(" ")
        location = zone(head.split("=", 1)[1])
        spec = spec.strip()
    if spec.startswith("@every "):
        try:
            delay = parse_duration(spec[len("@every "):])
        except ValueError as e:
            raise ScheduleError(f"failed to parse duration {spec}: {e}") from None
        return Schedule(frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), False, False, location,
                        every=max(1.0, float(int(delay))))
    if spec.startswith("@"):
        if spec not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parsed = [_field(text, low, high, names) for text, (low, high, names) in zip(fields, FIELDS)]
    return Schedule(parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], parsed[4][0],
                    dom_star=parsed[2][1], dow_star=parsed[4][1], zone=location)


def most_recent_schedule_time(earliest: float, now: float, schedule: Schedule) -> tuple[Optional[float], int]:
    """The latest activation in (earliest, now] and how many there were (upstream's estimate from the
    interval between the first two, as mostRecentScheduleTime does)."""
    t1 = schedule.next(earliest)
    if t1 is None or t1 > now:
        return None, 0
    t2 = schedule.next(t1)
    if t2 is None or t2 > now:
        return t1, 1
    interval = max(1, round(t2 - t1))
    missed = int((now - t1) // interval) + 1
    # Walk from just before the estimate: exact for regular schedules, close for the rest.
    latest = t1
    t = schedule.next(t1 + max(0, missed - 2) * interval - 1)
    while t is not None and t <= now:
        latest, t = t, schedule.next(t)
    return latest, missed


def parse_error(spec: str) -> Optional[str]:
    """None when ``spec`` parses; otherwise robfig/cron's error text."""
    try:
        parse(spec)
    except ScheduleError as e:
        return str(e)
    return None

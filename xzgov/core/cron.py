"""Cron expressions: the longest gap between two consecutive runs.

One parser for every place that reasons about backup schedules: the stacks' RPO-derived Velero
schedules and the compliance rules that check a schedule against an RPO. Standard five fields
(minute hour day-of-month month day-of-week) with lists, ranges, steps, month/day names and the
``@hourly``…``@yearly`` descriptors; day-of-month and day-of-week combine as in cron (either matches
when both are restricted). Pure and cached per expression.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from functools import lru_cache

_DESCRIPTORS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
                "@annually": "0 0 1 1 *"}
_MONTHS = {name: index for index, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DAYS = {name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
#: Window over which day-level fields are evaluated: 8 years starting on a leap year (covers 29 Feb).
_WINDOW_START = date(2024, 1, 1)
_WINDOW_DAYS = 8 * 365 + 2



class CronError(ValueError):
    """A cron expression this module cannot interpret."""



def _parse_field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """Values of one cron field and whether it is unrestricted (starts with ``*`` or ``?``)."""
    values: set[int] = set()
    star = False
    for part in text.lower().split(","):
        if not part:
            raise CronError(f"empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise CronError(f"bad step in {part!r}")
        if base in ("*", "?"):
            star = True
            start, end = low, high
        else:
            first, dash, last = base.partition("-")
            start = _value(first, names)
            end = _value(last, names) if dash else (high if step_text else start)
        if not low <= start <= high or not low <= end <= high or start > end:
            raise CronError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def _value(text: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a number")
    return int(text)


@lru_cache(maxsize=4096)
def max_gap_minutes(expression: str) -> int:
    """The longest time between two consecutive runs of a cron expression, in minutes.

    Standard five fields (minute hour day-of-month month day-of-week) with lists, ranges, steps,
    month/day names and the ``@hourly``…``@yearly`` descriptors; day-of-month and day-of-week combine
    as in cron (either matches when both are restricted). Raises :class:`CronError` for anything else
    or for an expression that never runs.
    """
    text = _DESCRIPTORS.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"{expression!r} does not have five fields")
    minutes, _ = _parse_field(fields[0], 0, 59, {})
    hours, _ = _parse_field(fields[1], 0, 23, {})
    doms, dom_star = _parse_field(fields[2], 1, 31, {})
    months, _ = _parse_field(fields[3], 1, 12, _MONTHS)
    dows_raw, dow_star = _parse_field(fields[4], 0, 7, _DAYS)
    dows = frozenset(d % 7 for d in dows_raw)
    times = sorted(h * 60 + m for h in hours for m in minutes)
    days: list[int] = []
    for index in range(_WINDOW_DAYS):
        day = _WINDOW_START + timedelta(days=index)
        if day.month not in months:
            continue
        dom_ok = day.day in doms
        dow_ok = (day.isoweekday() % 7) in dows
        if (dom_ok and dow_ok) if (dom_star or dow_star) else (dom_ok or dow_ok):
            days.append(index)
    if not days or not times:
        raise CronError(f"{expression!r} never runs")
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0)
    first, last = times[0], times[-1]
    for previous, following in itertools.pairwise(days):
        gap = max(gap, (following - previous) * 1440 + first - last)
    if len(days) == 1:
        gap = max(gap, _WINDOW_DAYS * 1440)
    return gap

"""Cron expressions: the longest gap between two consecutive runs.

One parser for every place that reasons about backup schedules: the stacks' RPO-derived Velero
schedules and the compliance rules that check a schedule against an RPO. Standard five fields
(minute hour day-of-month month day-of-week) with lists, ranges, steps, month/day names and the
``@hourly``…``@yearly`` descriptors; day-of-month and day-of-week combine as in cron (either matches
when both are restricted). Pure and cached per expression.

The rendered crons run in Velero, whose parser (robfig/cron v3, ``ParseStandard``) reads some text
differently from Vixie cron; this module follows Velero where they differ:

* day-of-week is 0–6 there (7 fails the Schedule's validation): :func:`velero_cron` rewrites a 7 (also at
  the end of a range) as 0; :func:`max_gap_minutes` reads it as Sunday;
* ``N/step`` means ``N-max/step`` (day-of-week: max 6, as ``*/step`` ends at 6);
* ``*/step`` and ``?/step`` with a step above 1 are *restricted* fields (no "star"), so such a
  day-of-month and a restricted day-of-week combine with OR;
* ``?`` is ``*``; month and day names (``JAN``, ``MON``; any case) are accepted; ``L``, ``W``, ``#``,
  ``@every`` and ``TZ=`` prefixes are refused (:class:`CronError`).
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



def _parse_item(part: str, low: int, high: int, names: dict[str, int], top: int) -> tuple[range, bool]:
    """The values of one list item (``top``: where ``*`` and ``N/step`` end) and whether it is a star."""
    base, _, step_text = part.partition("/")
    if step_text and not (step_text.isascii() and step_text.isdigit()):
        raise CronError(f"bad step in {part!r}")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise CronError(f"bad step in {part!r}")
    if base in ("*", "?"):
        # robfig/cron: a star with a step above 1 is a restricted field
        return range(low, top + 1, step), step == 1
    first, dash, last = base.partition("-")
    start = _value(first, names)
    end = _value(last, names) if dash else (top if step_text else start)
    if not low <= start <= high or not low <= end <= high or start > end:
        raise CronError(f"{part!r} is outside {low}-{high}")
    return range(start, end + 1, step), False


def _parse_field(text: str, low: int, high: int, names: dict[str, int],
                 top: int | None = None) -> tuple[frozenset[int], bool]:
    """Values of one cron field and whether it is unrestricted (``*`` or ``?`` without a step > 1)."""
    values: set[int] = set()
    star = False
    for part in text.lower().split(","):
        if not part:
            raise CronError(f"empty list item in {text!r}")
        items, item_star = _parse_item(part, low, high, names, high if top is None else top)
        star = star or item_star
        values.update(items)
    return frozenset(values), star


def _value(text: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() is true
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
    dows_raw, dow_star = _parse_field(fields[4], 0, 7, _DAYS, top=6)
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


def _ranges(values: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``0-2,5``."""
    parts: list[str] = []
    start = previous = values[0]
    for value in [*values[1:], -2]:
        if value != previous + 1:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = value
        previous = value
    return ",".join(parts)


def velero_cron(expression: str) -> str:
    """``expression`` as Velero's parser (robfig/cron v3) accepts it, with the same runs: a day-of-week 7
    (Sunday, also ending a range: ``1-7``) becomes 0 — Velero refuses 7 and the Schedule would take no
    backup at all. Everything else is kept as written. Raises :class:`CronError` for what
    :func:`max_gap_minutes` cannot read (so never for a cron this project renders)."""
    max_gap_minutes(expression)
    text = expression.strip()
    if text.lower() in _DESCRIPTORS:
        return text
    fields = text.split()
    items: list[str] = []
    for part in fields[4].lower().split(","):
        values, _ = _parse_item(part, 0, 7, _DAYS, 6)
        items.append(_ranges(sorted({v % 7 for v in values})) if 7 in values else part)
    dow = ",".join(items)
    return " ".join([*fields[:4], dow if dow != fields[4].lower() else fields[4]])

"""The region's clock and the periods records are in force for.

Every "today" a record is judged on (a waiver's expiry, an attestation set's period, the day a scan judges, the
year a worksheet is stamped with) is a calendar day in the region's time, Beijing time (UTC+8, no daylight saving
since 1991): between 00:00 and 08:00 in Lhasa the UTC day is still yesterday, and a waiver that expired
yesterday would still count. Timestamps stay UTC (``gathered_at``, ``started``); only days are the region's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum

#: 北京时间 (UTC+8), the region's civil time. A fixed offset, not a tz database name: China keeps no daylight
#: saving and a minimal host may lack tzdata.
REGION_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> dt.date:
    """A calendar day written YYYY-MM-DD, and only so. ``date.fromisoformat`` (Python 3.11) also reads
    ``20261201`` and ``2026-W48-2``, forms that no option or record here documents; a day the calendar lacks
    (2027-02-30) is refused as well. Raises ``ValueError``."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return dt.date.fromisoformat(text)


def day_option(value: str, option: str) -> dt.date:
    """The day a command-line option gives (:func:`parse_day`); anything else is a usage error (exit 2) naming
    the option."""
    from xzgov.core.errors import Diagnostic, UsageError

    try:
        return parse_day(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date", [Diagnostic(
            "<command line>", 0, 0, option, f"'{value}' is not a calendar date written YYYY-MM-DD",
            f"write YYYY-MM-DD, e.g. {option} 2026-06-01", "usage")]) from None


def shift_day(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days``, held to the calendar's ends: a planted ``0001-01-01.log`` or a huge
    ``--retention-days`` is a finding or a far-away limit, never an OverflowError that stops the verification."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.min if days < 0 else dt.date.max


def region_today(now: dt.datetime | None = None) -> dt.date:
    """Today in the region (``now``: an aware instant, default the machine's clock)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(REGION_TZ).date()


def region_day(timestamp: str) -> dt.date:
    """The region's day of an ISO-8601 instant (``2026-12-02T17:30:00Z`` → 2026-12-03); a bare date, or a time
    without an offset (read as UTC, as every timestamp this project writes), likewise. Raises ``ValueError`` for
    text that is neither."""
    text = timestamp.strip()
    if len(text) == 10:
        return parse_day(text)
    instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(REGION_TZ).date()


class Standing(Enum):
    """Where a day falls against a record's period."""

    AHEAD = "ahead"  #: before the period starts (a scan of an earlier day, or a record dated ahead)
    IN_FORCE = "in force"
    LAPSED = "lapsed"  #: after its last day


@dataclass(frozen=True)
class Period:
    """The days a record is in force: from ``start`` to ``end``, both included; ``None`` leaves that side open."""

    start: dt.date | None
    end: dt.date | None

    def standing(self, day: dt.date) -> Standing:
        if self.start is not None and day < self.start:
            return Standing.AHEAD
        if self.end is not None and day > self.end:
            return Standing.LAPSED
        return Standing.IN_FORCE

    def in_force(self, day: dt.date) -> bool:
        return self.standing(day) is Standing.IN_FORCE


def days_between(earlier: str | None, later: str) -> int | None:
    """Whole days from ISO date ``earlier`` to ``later`` (``None`` when ``earlier`` is missing or malformed)."""
    if not earlier or not later:
        return None
    try:
        return (dt.date.fromisoformat(later[:10]) - dt.date.fromisoformat(str(earlier)[:10])).days
    except ValueError:
        return None

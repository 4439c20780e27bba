"""Longest gap between backup runs."""

from __future__ import annotations

import pytest

from xzgov.core.cron import CronError, max_gap_minutes


@pytest.mark.parametrize(("expression", "gap"), [
    ("*/15 * * * *", 15),
    ("0 * * * *", 60),
    ("@hourly", 60),
    ("0 2 * * *", 1440),
    ("0 */6 * * *", 360),
    ("0 0,12 * * *", 720),
    ("30 1 * * 0", 10080),
    ("@weekly", 10080),
    ("0 8-18 * * *", 840),
    ("0 0 1 * *", 31 * 1440),
])
def test_gaps(expression: str, gap: int) -> None:
    assert max_gap_minutes(expression) == gap


@pytest.mark.parametrize("expression", ["* * *", "61 * * * *", "x * * * *", "0 0 31 2 *"])
def test_bad_expressions(expression: str) -> None:
    with pytest.raises(CronError):
        max_gap_minutes(expression)

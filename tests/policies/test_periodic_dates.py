"""A recurring duty's last run (account review, vulnerability scan, patching, restore drill) counts only when it is
no older than the level's period and not after the as-of day (``policies.rules.checks.within``).

A review's mutation (the "not in its future" bound dropped) passed every test: a manifest recording
``last_patched: 2099-01-01`` would have passed patching for ever. The day-``limit`` boundary was untested too.
"""

from __future__ import annotations

import pytest

from policies.rules.checks import within


@pytest.mark.parametrize(("last", "passes"), [
    ("2026-12-01", True),  # the as-of day itself
    ("2026-11-01", True),  # exactly 30 days before
    ("2026-10-31", False),  # 31 days
    ("2026-12-02", False),  # one day in the future
    ("2099-01-01", False),
    ("not a date", False),
    (None, False),
], ids=["same-day", "limit", "limit+1", "tomorrow", "far-future", "garbage", "none"])
def test_within_the_period_and_not_in_the_future(last: str | None, passes: bool) -> None:
    assert within(last, "2026-12-01", 30) is passes

"""RPO → cron rule and cron gap computation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacks.render.cron import (
    INTERVAL_LADDER,
    CronError,
    cadence,
    interval_cron,
    max_gap_minutes,
    rpo_interval,
)


@pytest.mark.parametrize(("rpo", "interval"), [(0, 5), (4, 5), (5, 5), (14, 10), (15, 15), (59, 30), (60, 60),
                                               (90, 60), (240, 240), (300, 240), (1439, 720), (1440, 1440),
                                               (10_000, 1440)])
def test_rpo_interval_ladder(rpo: int, interval: int) -> None:
    assert rpo_interval(rpo) == interval


@pytest.mark.parametrize(("expression", "gap"), [
    ("*/15 * * * *", 15), ("0 * * * *", 60), ("@hourly", 60), ("@daily", 1440), ("@weekly", 10080),
    ("0 2 * * *", 1440), ("0 2,14 * * *", 720), ("30 1 * * 1-5", 3 * 1440), ("0 0 1 * *", 31 * 1440),
    ("5-59/20 * * * *", 20), ("0 3 * * SUN", 10080), ("0 0 29 2 *", (366 + 365 * 3) * 1440),
    ("0 0 1 * 1", 7 * 1440),  # day-of-month OR day-of-week when both are restricted
])
def test_max_gap(expression: str, gap: int) -> None:
    assert max_gap_minutes(expression) == gap


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "0 0 30 2 *", "a b c d e", "*/0 * * * *"])
def test_bad_cron(expression: str) -> None:
    with pytest.raises(CronError):
        max_gap_minutes(expression)


@given(st.sampled_from(INTERVAL_LADDER), st.text(min_size=1, max_size=20))
def test_interval_cron_fires_exactly_every_interval(interval: int, name: str) -> None:
    assert max_gap_minutes(interval_cron(interval, name)) == interval


@given(st.integers(min_value=0, max_value=20_000), st.sampled_from(
    ["@hourly", "@daily", "@weekly", "*/5 * * * *", "0 */6 * * *", "0 2 * * *", "0 0 1 * *"]))
def test_cadence_never_less_frequent_than_rpo_or_manifest(rpo: int, manifest: str) -> None:
    chosen = cadence("system-x", rpo, manifest)
    gap = max_gap_minutes(chosen.cron)
    assert gap == chosen.interval_minutes
    assert gap <= max_gap_minutes(manifest)
    assert gap <= max(rpo, 5) or (gap <= 1440 and rpo > 1440)
    assert chosen.rpo_met == (gap <= rpo)


def test_manifest_schedule_wins_when_more_frequent() -> None:
    chosen = cadence("health-records", 30, "*/10 * * * *")
    assert (chosen.cron, chosen.source, chosen.interval_minutes) == ("*/10 * * * *", "manifest", 10)
    chosen = cadence("health-records", 30, "0 2 * * *")
    assert chosen.source == "rpo" and chosen.interval_minutes == 30


def test_daily_backups_run_at_night_beijing_time() -> None:
    for name in ("a", "b", "c", "d", "e", "f"):
        minute, hour, *_ = interval_cron(1440, name).split()
        assert int(hour) in {17, 18, 19, 20}  # 01:00–04:59 UTC+8
        assert 0 <= int(minute) < 60

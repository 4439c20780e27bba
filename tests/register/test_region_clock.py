"""Every "today" is the region's day (Beijing time, UTC+8): between 00:00 and 08:00 in Lhasa the UTC day is still
yesterday, and a waiver that expired yesterday counted; a record's period is judged by one rule (``Period``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import compliance.waivers as waivers
from compliance.waivers import load_records
from xzgov.core.clock import Period, Standing, region_day, region_today
from xzgov.core.errors import UsageError

#: 2026-12-02 17:30 UTC = 2026-12-03 01:30 in Lhasa
LATE_EVENING_UTC = dt.datetime(2026, 12, 2, 17, 30, tzinfo=dt.UTC)


def test_the_region_day_starts_at_16_00_utc() -> None:
    assert region_today(LATE_EVENING_UTC) == dt.date(2026, 12, 3)
    assert region_today(dt.datetime(2026, 12, 2, 15, 59, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 2)
    assert region_today(dt.datetime(2026, 12, 2, 16, 0, tzinfo=dt.UTC)) == dt.date(2026, 12, 3)


@pytest.mark.parametrize(("stamp", "day"), [
    ("2026-12-02T17:30:00Z", "2026-12-03"), ("2026-12-02T15:00:00Z", "2026-12-02"),
    ("2026-12-02T17:30:00+00:00", "2026-12-03"), ("2026-12-03T01:30:00+08:00", "2026-12-03"),
    ("2026-12-02T17:30:00", "2026-12-03"), ("2026-12-02", "2026-12-02"),
])
def test_region_day_of_a_timestamp(stamp: str, day: str) -> None:
    assert region_day(stamp) == dt.date.fromisoformat(day)


def test_region_day_refuses_what_is_no_time() -> None:
    with pytest.raises(ValueError):
        region_day("yesterday")


def test_a_period_includes_both_ends_and_may_be_open() -> None:
    period = Period(dt.date(2026, 1, 5), dt.date(2026, 12, 2))
    assert period.standing(dt.date(2026, 1, 4)) is Standing.AHEAD
    assert period.standing(dt.date(2026, 1, 5)) is Standing.IN_FORCE
    assert period.standing(dt.date(2026, 12, 2)) is Standing.IN_FORCE
    assert period.standing(dt.date(2026, 12, 3)) is Standing.LAPSED
    assert Period(None, None).in_force(dt.date.min)
    assert Period(dt.date(2026, 1, 5), None).standing(dt.date.max) is Standing.IN_FORCE


WAIVER = """\
apiVersion: xzgov.io/v1
kind: Waivers
waivers:
  - id: W-2026-001
    system: idp
    rule: XZ-NET-001
    reason: 日志中心扩容前临时保存 90 天, 由集中审计平台另存副本
    approver: {name: 张三, role: 安全负责人}
    approved: "2026-01-05"
    expires: "2026-12-02"
"""


def _load(tmp_path: Path) -> waivers.Records:
    folder = tmp_path / "waivers"
    folder.mkdir(exist_ok=True)
    (folder / "w.yaml").write_text(WAIVER, encoding="utf-8")
    return load_records(tmp_path, waivers_dir=folder, attestations_dir=tmp_path / "none")


def test_a_waiver_that_expired_yesterday_in_lhasa_no_longer_counts(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # 17:30 UTC on its expiry day: the UTC day is still 2026-12-02, in Lhasa it is 01:30 on 2026-12-03.
    monkeypatch.setattr(waivers, "region_today", lambda: region_today(LATE_EVENING_UTC))
    with pytest.raises(UsageError) as caught:
        _load(tmp_path)
    assert [d.code for d in caught.value.diagnostics] == ["expired"]
    assert "expired on 2026-12-02" in caught.value.diagnostics[0].message


def test_a_waiver_counts_through_its_last_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waivers, "region_today",
                        lambda: region_today(dt.datetime(2026, 12, 2, 15, 59, tzinfo=dt.UTC)))
    assert [w.id for w in _load(tmp_path).waivers] == ["W-2026-001"]

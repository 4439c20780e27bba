"""Where ``xzgov logs verify`` says a sealed day changed, and what it does with a day it cannot read.

A review found three things: with repeated lines (common in logs) a modified line was called "inserted" or
"deleted" while the line counts beside the label said no line was added or removed; locating the change read the
whole day into memory (a 6 MB day of 3 million lines took 642 MB, an intact one 78 MB); and a day file that
could not be read (an I/O error) stopped the whole verification with exit 3 and no file named."""

from __future__ import annotations

import datetime as dt
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from tests.logchain.test_hostile_inputs import AS_OF, KEY, errors, verify
from xzgov.logchain import source_statuses
from xzgov.logchain.chain import Finding, seal_day

DAY = "2026-11-02"


def _sealed(root: Path, lines: list[bytes]) -> Path:
    """A source whose day ``DAY`` holds ``lines`` (sealed), the day before it empty and sealed."""
    source = root / "web01"
    source.mkdir(parents=True)
    seal_day(source, "2026-11-01", KEY)
    (source / f"{DAY}.log").write_bytes(b"".join(line + b"\n" for line in lines))
    seal_day(source, DAY, KEY)
    return source / f"{DAY}.log"


@pytest.mark.parametrize(("sealed", "now", "kind", "line"), [
    ([b"A", b"A", b"B"], [b"Z", b"A", b"B"], "modified", 1),
    ([b"A", b"B", b"B", b"C"], [b"A", b"Z", b"B", b"C"], "modified", 2),
    ([b"A", b"B", b"C"], [b"B", b"B", b"C"], "modified", 1),
    ([b"A", b"A", b"A"], [b"A", b"B", b"A"], "modified", 2),
    ([b"A", b"B", b"C"], [b"A", b"C"], "deleted", 2),
    ([b"A", b"B", b"B"], [b"A", b"B"], "truncated", 3),
    ([b"A", b"B", b"C"], [b"A", b"X", b"B", b"C"], "inserted", 2),
    ([b"A", b"B", b"C"], [b"A", b"C", b"B"], "reordered", 2),
    ([b"A", b"B", b"C", b"D"], [b"C", b"A", b"B", b"D"], "reordered", 1),
], ids=["first-of-repeated", "before-repeated", "into-repeated", "inside-repeated", "deleted", "last-deleted",
        "inserted", "swapped", "moved"])
def test_the_kind_of_change_agrees_with_the_line_counts(tmp_path: Path, sealed: list[bytes], now: list[bytes],
                                                        kind: str, line: int) -> None:
    log = _sealed(tmp_path / "logs", sealed)
    log.write_bytes(b"".join(text + b"\n" for text in now))
    found = errors(verify(tmp_path / "logs"))
    assert [(f.kind, f.date, f.line) for f in found] == [(kind, DAY, line)], [f.message for f in found]


def test_locating_a_change_in_a_large_day_streams_it(tmp_path: Path) -> None:
    """200,000 lines (a 6.4 MB chain file): locating the change takes the chain file it reads beyond what an
    intact day's verification takes (10.4 MB then 16.8 MB here), not a multiple of the day (44.2 MB when the day
    was read whole as a list)."""

    def peak_of(check: Callable[[], object]) -> int:
        tracemalloc.start()
        try:
            check()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    lines = [b"%d" % (index % 7) for index in range(200_000)]
    log = _sealed(tmp_path / "logs", lines)
    chain_bytes = (log.parent / f"{DAY}.chain").stat().st_size
    intact = peak_of(lambda: verify(tmp_path / "logs"))
    lines[150_000] = b"tampered"
    log.write_bytes(b"".join(text + b"\n" for text in lines))
    found: list[Finding] = []
    peak = peak_of(lambda: found.extend(errors(verify(tmp_path / "logs"))))
    assert [(f.kind, f.line) for f in found] == [("modified", 150_001)]
    assert peak < intact + 1.5 * chain_bytes, f"peak {peak:,} B, {intact:,} B intact, chain file {chain_bytes:,} B"


def test_a_day_that_cannot_be_read_is_its_own_finding(tmp_path: Path) -> None:
    log = _sealed(tmp_path / "logs", [b"A", b"B"])
    log.unlink()
    os.symlink("/proc/self/mem", log)  # a regular file by stat, every read an I/O error
    report = verify(tmp_path / "logs")
    found = errors(report)
    assert [(f.kind, f.date, f.file) for f in found] == [("unreadable", DAY, str(log))], found
    assert "cannot be read" in found[0].message and found[0].hint
    assert report.verified_days == 1  # the other day is still verified


def test_cli_an_unreadable_day_is_exit_1_with_the_file_named(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    from xzgov.crypto import keys

    log = _sealed(tmp_path / "logs", [b"A", b"B"])
    log.unlink()
    os.symlink("/proc/self/mem", log)
    public = tmp_path / "centre.pub.pem"
    keys.write_public_key(public, KEY.public_key)
    result = cli("logs", "verify", str(tmp_path / "logs"), "--trusted-key", str(public), "--as-of",
                 AS_OF.isoformat())
    assert result.code == 1, result.text
    assert "unreadable" in result.text and f"{DAY}.log" in result.text and "Traceback" not in result.text


# ---- `xzgov logs status`: a write time in the future is no sign of life ------------------------------------

def test_a_source_whose_log_was_touched_into_the_future_is_silent(tmp_path: Path) -> None:
    """A review touched a day's log to 2030: the source showed silent=no, 0.0 minutes since its last write, for
    four years. A day file named after tomorrow is no day the source has written either."""
    now = dt.datetime(2026, 11, 3, 4, 0, tzinfo=dt.UTC)
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    day = source / "2026-11-03.log"
    day.write_bytes(b"x\n")
    recent = now.timestamp() - 60
    os.utime(day, (recent, recent))
    [fresh] = source_statuses(tmp_path / "logs", now=now)
    assert not fresh.silent and fresh.minutes_since == 1.0
    future = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()
    os.utime(day, (future, future))
    [touched] = source_statuses(tmp_path / "logs", now=now)
    assert touched.silent and touched.minutes_since is not None and touched.minutes_since < 0
    os.utime(day, (recent - 3600, recent - 3600))  # an hour old: silent after 30 minutes
    planted = source / "2030-01-01.log"
    planted.write_bytes(b"x\n")
    os.utime(planted, (recent, recent))
    [misdated] = source_statuses(tmp_path / "logs", now=now)
    assert misdated.silent and misdated.last_day == "2026-11-03" and misdated.minutes_since == 61.0

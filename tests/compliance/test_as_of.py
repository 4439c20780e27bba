"""``--as-of`` is the one day the whole scan judges: recorded dates in the manifests, waiver expiry and
attestation lapse all move with it (``xzgov scan --as-of``, ``$XZGOV_AS_OF``, ``ScanOptions.as_of``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance.results import ItemState
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from xzgov.core.errors import ExitCode, XzgovError
from xzgov.crypto.sm2 import SM2PrivateKey

from .attest_support import evidence, pin, system_set, write_signed

Cli = Callable[..., CliResult]

#: bad-mfa's only finding (high) is XZ-MAN-AUTH-MFA: waived, the scan of bad-mfa exits 0.
WAIVER = """apiVersion: xzgov.io/v1
kind: Waivers
waivers:
  - id: W-2026-010
    system: bad-mfa
    rule: XZ-MAN-AUTH-MFA
    reason: 统一身份认证改造中, 临时以堡垒机双因素替代
    approver: {name: 李四, role: 网络安全负责人}
    approved: "2026-06-01"
    expires: "2026-12-10"
"""
MANUAL = "GB/T 22239-2019:8.1.9.2.a"  # 安全方案设计 (manual) of clean-l3


def _waiver(root: Path) -> None:
    directory = root / "compliance" / "waivers"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "w.yaml").write_text(WAIVER, encoding="utf-8")


def test_a_waiver_is_honoured_before_its_expiry_day_and_refused_after(cli: Cli, register_root: Path) -> None:
    _waiver(register_root)
    before = cli("scan", "--root", register_root, "--system", "bad-mfa", "--as-of", "2026-12-01")
    assert before.code == 0, before.text
    after = cli("scan", "--root", register_root, "--system", "bad-mfa", "--as-of", "2026-12-20")
    assert after.code == 2, after.text
    assert "compliance/waivers/w.yaml:10" in after.err and "expired on 2026-12-10" in after.err


def test_the_environment_day_moves_waiver_expiry_too(register_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _waiver(register_root)
    monkeypatch.setenv("XZGOV_AS_OF", "2026-12-01")
    result = scan(ScanOptions(root=register_root, systems=("bad-mfa",)))
    assert not result.blocking() and result.as_of == "2026-12-01"
    monkeypatch.setenv("XZGOV_AS_OF", "2026-12-20")
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=register_root, systems=("bad-mfa",)))
    assert caught.value.exit_code is ExitCode.USAGE
    assert "expired on 2026-12-10" in "\n".join(d.render() for d in caught.value.diagnostics)


def test_an_explicit_as_of_wins_over_a_given_today(register_root: Path) -> None:
    _waiver(register_root)
    # ``today`` alone (older callers) still judges waivers; an explicit as-of day replaces it.
    with pytest.raises(XzgovError):
        scan(ScanOptions(root=register_root, systems=("bad-mfa",), today=dt.date(2026, 6, 1),
                         as_of=dt.date(2026, 12, 20)))
    result = scan(ScanOptions(root=register_root, systems=("bad-mfa",), today=dt.date(2027, 1, 1),
                              as_of=dt.date(2026, 12, 1)))
    assert not result.blocking()


def _sign_attestation_expiring_2026_12_10(register_root: Path) -> None:
    """A pinned, signed attestation set for clean-l3's manual item, valid 2025-12-11 … 2026-12-10."""
    key = SM2PrivateKey.generate()
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    document = system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查安全设计方案 v2.1 及专家论证意见")],
                          date="2025-12-11", expires="2026-12-10")
    write_signed(register_root, "dsjj.yaml", document, key, today=dt.date(2025, 12, 11))


def test_an_attestation_counts_before_it_lapses_and_is_pending_after(register_root: Path) -> None:
    _sign_attestation_expiring_2026_12_10(register_root)

    def judged(day: str) -> tuple[ItemState, list[str]]:
        result = scan(ScanOptions(root=register_root, systems=("clean-l3",), as_of=dt.date.fromisoformat(day)))
        item = next(i for i in result.systems[0].items if i.item_id == MANUAL)
        return item.state, result.warnings

    state, warnings = judged("2026-12-01")
    assert state is ItemState.PASS and not any("A-2026-001" in w for w in warnings)
    state, warnings = judged("2026-12-20")
    assert state is ItemState.MANUAL_PENDING
    assert any("expired on 2026-12-10" in w for w in warnings)


def test_an_attestation_lapses_with_the_command_line_day(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    _sign_attestation_expiring_2026_12_10(register_root)
    early = cli("scan", "--root", register_root, "--system", "clean-l3", "--as-of", "2026-12-01")
    late = cli("scan", "--root", register_root, "--system", "clean-l3", "--as-of", "2026-12-20")
    assert "A-2026-001" not in early.err
    assert "attestation set A-2026-001 expired on 2026-12-10" in late.err


def test_a_waiver_approved_after_the_judged_day_is_not_applied(register_root: Path) -> None:
    """A scan of an earlier day honoured a waiver approved later (as an approval dated ahead of the clock was)."""
    _waiver(register_root)
    result = scan(ScanOptions(root=register_root, systems=("bad-mfa",), as_of=dt.date(2026, 5, 1)))
    assert result.blocking()  # XZ-MAN-AUTH-MFA is not waived on 2026-05-01
    assert any("W-2026-010" in w and "after the day judged" in w for w in result.warnings), result.warnings


@pytest.mark.parametrize("written", ["20261201", "2026-W48-2", "2026-335", "2026-12-1", "２０２６-12-01", "2027-02-30"])
@pytest.mark.parametrize("command", [["scan"], ["kpi"], ["attest", "check"]])
def test_a_day_not_written_yyyy_mm_dd_is_a_usage_error(cli: Cli, register_root: Path, written: str,
                                                       command: list[str]) -> None:
    """``date.fromisoformat`` also reads ISO basic and week dates: ``--as-of 20261201`` scanned 2026-12-01 and
    ``2026-W48-2`` 2026-11-24, forms the help does not document; the environment's day likewise."""
    option = "--today" if command[0] == "attest" else "--as-of"
    result = cli(*command, "--root", register_root, option, written)
    assert result.code == ExitCode.USAGE, result.text
    assert f"[{option}]" in result.err and "YYYY-MM-DD" in result.err


@pytest.mark.parametrize("written", ["20261201", "2026-W48-2"])
def test_the_environment_day_is_read_as_strictly(register_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                  written: str) -> None:
    monkeypatch.setenv("XZGOV_AS_OF", written)
    with pytest.raises(XzgovError) as raised:
        scan(ScanOptions(root=register_root, systems=("bad-mfa",)))
    assert raised.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("written", ["garbage", "2026-02-30"])
def test_a_bad_environment_day_is_blamed_on_the_variable(register_root: Path, monkeypatch: pytest.MonkeyPatch,
                                                         cli: Callable[..., CliResult], written: str) -> None:
    """``xzgov scan`` read $XZGOV_AS_OF as its --as-of option and blamed a bad value on the command line,
    where the user had typed no --as-of."""
    monkeypatch.setenv("XZGOV_AS_OF", written)
    result = cli("scan", "--root", register_root)
    assert result.code == ExitCode.USAGE, result.text
    assert "[XZGOV_AS_OF]" in result.err and "<command line>" not in result.err and "[--as-of]" not in result.err
    assert "Traceback" not in result.err, result.err
    monkeypatch.setenv("XZGOV_AS_OF", "2026-12-01")  # the option, when given, is what is judged and blamed
    result = cli("scan", "--root", register_root, "--as-of", written)
    assert result.code == ExitCode.USAGE and "[--as-of]" in result.err, result.text


def test_a_waiver_file_named_in_upper_case_is_refused_not_skipped(tmp_path: Path) -> None:
    """A review: W.YAML was skipped in silence (its waivers, an unknown rule in them too, never read), while a
    manifest or set named so is refused."""
    from compliance.waivers import record_files
    from xzgov.core.errors import UsageError

    (tmp_path / "W.YAML").write_text(WAIVER, encoding="utf-8")
    with pytest.raises(UsageError, match="lower case"):
        record_files(tmp_path)
    (tmp_path / "W.YAML").rename(tmp_path / "w.yaml")
    (tmp_path / "evidence").mkdir()
    assert record_files(tmp_path) == [tmp_path / "w.yaml"]

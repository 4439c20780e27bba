"""Assessment records judged against the scan's as-of day (``xzgov scan --as-of``): the example region is pinned
so it never ages into failures, and the same records expire, located at their line, when the day moves on."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from compliance.scanner import ScanOptions, scan
from policies.engine import Status
from tests.cli import CliResult

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/compliance/fixtures/register"
RULES = ("XZ-MAN-DENGBAO-ASSESSMENT", "XZ-MAN-MIPING-ASSESSMENT")
#: level 4 (every six months), level 3, level 2 (two-yearly 等保, no periodic 密评)
SYSTEMS = ("crypto-service", "e-seal", "nagqu-grassland")


def _statuses(as_of: dt.date) -> dict[tuple[str, str], tuple[Status, str]]:
    result = scan(ScanOptions(root=ROOT, systems=SYSTEMS, as_of=as_of))
    assert result.as_of == as_of.isoformat()
    return {(s.name, f.result.rule_id): (f.result.status, f.result.evidence[0].location)
            for s in result.systems for f in s.findings if f.result.rule_id in RULES}


def test_examples_are_current_on_the_pinned_day() -> None:
    found = _statuses(dt.date(2026, 12, 1))
    assert {status for status, _ in found.values()} == {Status.PASS}
    assert len(found) == 2 * len(SYSTEMS)


def test_records_expire_by_level_and_are_located() -> None:
    found = _statuses(dt.date(2027, 3, 1))
    # crypto-service (level 4): its 2026-08-04 等级测评 is past six months; e-seal (level 3) of 2026-01-28 is
    # past a year; nagqu-grassland (level 2) of 2025-05-25 is within two years.
    status, where = found[("crypto-service", "XZ-MAN-DENGBAO-ASSESSMENT")]
    assert status is Status.FAIL and where.startswith("systems/dsjj/crypto-service.yaml:")
    line = int(where.rsplit(":", 1)[1])
    text = (ROOT / "systems/dsjj/crypto-service.yaml").read_text(encoding="utf-8").splitlines()
    assert text[line - 1].lstrip().startswith("dengbao:")
    assert found[("e-seal", "XZ-MAN-DENGBAO-ASSESSMENT")][0] is Status.FAIL
    assert found[("nagqu-grassland", "XZ-MAN-DENGBAO-ASSESSMENT")][0] is Status.PASS
    assert found[("nagqu-grassland", "XZ-MAN-MIPING-ASSESSMENT")][0] is Status.PASS  # 密评 level 2: no period


def test_cli_records_and_checks_the_as_of_day(cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XZGOV_AS_OF", raising=False)
    res = cli("scan", "--root", FIXTURE, "--system", "clean-l3", "--format", "json", "--as-of", "2026-12-01")
    assert res.code == 0, res.err
    assert json.loads(res.out)["as_of"] == "2026-12-01"
    late = cli("scan", "--root", FIXTURE, "--system", "clean-l3", "--as-of", "2028-01-01")
    assert late.code == 1 and "XZ-MAN-DENGBAO-ASSESSMENT" in late.err
    bad = cli("scan", "--root", FIXTURE, "--as-of", "2026-02-30")
    assert bad.code == 2 and "--as-of" in bad.err
    monkeypatch.setenv("XZGOV_AS_OF", "2028-01-01")  # the environment pins it when the option is not given
    assert cli("scan", "--root", FIXTURE, "--system", "clean-l3").code == 1

"""The example region: medical-insurance (西藏自治区医疗保障局) is fully evidenced by its signed
attestation set and the platform's signed record, and reaches one conclusion and score; other systems'
inherited items trace to the platform record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from compliance.results import ItemState, ScanResult
from compliance.scanner import ScanOptions, scan
from xzgov.cli.main import _dispatch
from xzgov.core.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 6, 1)  # within both records' validity (they expire in 2027, as real ones do)
DEMO = "medical-insurance"
SYSTEMS = (DEMO, "e-invoice", "police-bigdata")


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(ScanOptions(root=ROOT, systems=SYSTEMS, today=TODAY))


@pytest.fixture(scope="module")
def before() -> ScanResult:
    return scan(ScanOptions(root=ROOT, systems=SYSTEMS, today=TODAY, use_attestations=False))


def test_the_demo_system_reaches_a_definite_conclusion_and_score(result: ScanResult, before: ScanResult) -> None:
    system = next(s for s in result.systems if s.name == DEMO)
    pending_before = sum(1 for i in next(s for s in before.systems if s.name == DEMO).items
                         if i.score_status == "未测")
    assert pending_before > 150  # the worksheet's rows: what no rule decides
    assert [i.item_id for i in system.items if i.score_status == "未测"] == []
    assert system.definite and system.dengbao is not None
    assert system.dengbao.final and system.dengbao.verdict is not None and system.dengbao.value is not None
    assert system.dengbao.value_range[0] == system.dengbao.value_range[1]  # one score, not an interval
    audit = system.audit_trail()
    assert audit["definite"] and audit["pending"] == []
    assert audit["by"]["attestation"] > 100 and audit["by"]["platform-record"] > 40 and audit["by"]["rule"] > 50
    assert set(audit["records"]) == {"ATT-YBJ-2026-001", "PLT-ZWY-2026-001"}
    assert audit["records"]["ATT-YBJ-2026-001"]["file"] == "compliance/attestations/ybj/medical-insurance.yaml"
    for item in system.items:  # every item names its evidence: rule ids, or a signed record with file:line
        assert item.rules or (item.trail is not None and ":" in str(item.trail["file"]) and item.trail["signer"])


def test_other_systems_inherit_the_platform_record(result: ScanResult) -> None:
    system = next(s for s in result.systems if s.name == "e-invoice")
    physical = next(i for i in system.items if i.item_id == "GB/T 22239-2019:8.1.1.1.a")
    assert physical.state is ItemState.INHERITED and physical.score_status == "符合"
    assert physical.trail is not None and physical.trail["set"] == "PLT-ZWY-2026-001"
    assert str(physical.trail["file"]).startswith("compliance/attestations/platform/zwy-platform-2026.yaml:")
    assert not system.definite  # its own manual items are not attested yet
    level4 = next(s for s in result.systems if s.name == "police-bigdata")
    inherited = [i for i in level4.items if i.state is ItemState.INHERITED]
    assert inherited and all(i.score_status == "未测" and "低于本系统第4级" in i.note for i in inherited)


def test_a_system_above_the_platforms_assessed_level_triggers_case_7_6_1_1(result: ScanResult,
                                                                            before: ScanResult) -> None:
    # a level-4 system on the platform assessed at level 3: 云服务商选择 (9.2.6.1.a) stayed 待定 although the
    # scan held the platform record's level — the 2025 guide's case 7.6.1.1 (云服务客户选择服务商不合规)
    from compliance.reports.figures import system_figures

    level4 = next(s for s in result.systems if s.name == "police-bigdata")
    choice = next(i for i in level4.items if i.item_id == "GB/T 22239-2019:9.2.6.1.a")
    assert choice.state is ItemState.FAIL and "XZ-MAN-CLOUD-PROVIDER" in choice.rules
    assert level4.dengbao is not None and "GB/T 22239-2019:9.2.6.1.a" in level4.dengbao.high_risk
    rows = {row.case: row for row in system_figures(level4).triggers}
    assert rows["7.6.1.1"].triggered == "是"
    level3 = next(s for s in result.systems if s.name == DEMO)  # assessed at its level: the item passes
    assert next(i for i in level3.items if i.item_id == "GB/T 22239-2019:8.2.6.1.a").state is ItemState.PASS
    unjudged = next(s for s in before.systems if s.name == "police-bigdata")  # no platform record: not judged
    assert next(i for i in unjudged.items if i.item_id == "GB/T 22239-2019:9.2.6.1.a").state is not ItemState.FAIL


def test_the_committed_sets_verify(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["attest", "check", "--root", str(ROOT), "--today", TODAY.isoformat()]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "medical-insurance:" in out and "PLT-ZWY-2026-001" in out

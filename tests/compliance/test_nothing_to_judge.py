"""A rule whose question does not arise for a system (not internet-facing, no published endpoint, no channel)
says nothing of its items: they stay 未测 for another rule or an assessor, never 不适用 — an item such as
8.1.2.1.d (重要区域不在边界并可靠隔离, high-risk case 6.2.1.2) applies to every level-3 system, and a scan that
called it 不适用 gave it a verdict nobody had judged and that no attestation could correct."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from compliance.attest.worksheet import template
from compliance.results import ItemState, ScanResult
from compliance.scanner import ScanOptions, scan

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 6, 1)
ISOLATION = "GB/T 22239-2019:8.1.2.1.d"  # checked by XZ-MAN-INTERNET-ZONE for internet-facing systems
INTERNAL = "e-invoice"  # level 3, not internet-facing
FACING = "gov-service-platform"  # level 3, internet-facing
LEVEL2 = "gyantse-town-service"  # level 2, no published endpoint and no declared channel
NO_PERSONAL = "info-publishing"  # level 3, no personal information nor important data
SYSTEMS = (INTERNAL, FACING, LEVEL2, NO_PERSONAL)


@pytest.fixture(scope="module", params=[False, True], ids=["no-attestations", "attestations"])
def result(request: pytest.FixtureRequest) -> ScanResult:
    # without any attestation record the scanner builds outcomes on its shortcut path; with them, the plain one
    return scan(ScanOptions(root=ROOT, systems=SYSTEMS, today=TODAY, use_attestations=request.param))


def _item(result: ScanResult, system: str, item: str):  # type: ignore[no-untyped-def]
    report = next(s for s in result.systems if s.name == system)
    return next(o for o in report.items if o.item_id == item)


def test_an_item_the_rule_has_nothing_to_judge_of_stays_untested(result: ScanResult) -> None:
    report = next(s for s in result.systems if s.name == INTERNAL)
    finding = next(f for f in report.findings if f.result.rule_id == "XZ-MAN-INTERNET-ZONE")
    assert finding.result.status.value == "not-applicable"
    assert ISOLATION not in finding.result.controls and ISOLATION in finding.result.silent
    outcome = _item(result, INTERNAL, ISOLATION)
    assert outcome.state is ItemState.MANUAL_PENDING and outcome.score_status == "未测"
    assert outcome.rules == ()
    # the level-2 communication-integrity item: no endpoint, no channel — yet the system still communicates
    integrity = _item(result, LEVEL2, "GB/T 22239-2019:7.1.2.2.a")
    assert integrity.state is ItemState.MANUAL_PENDING and integrity.score_status == "未测"


def test_the_rule_still_judges_where_its_question_arises(result: ScanResult) -> None:
    outcome = _item(result, FACING, ISOLATION)
    assert outcome.rules == ("XZ-MAN-INTERNET-ZONE",) and outcome.state is ItemState.PASS


def test_an_item_not_applicable_by_its_object_stays_not_applicable(result: ScanResult) -> None:
    # 个人信息保护 of a system without personal information: the item's object is absent (不适用)
    report = next(s for s in result.systems if s.name == NO_PERSONAL)
    finding = next(f for f in report.findings if f.result.rule_id == "XZ-MAN-PI-STORAGE")
    assert finding.result.status.value == "not-applicable"
    assert _item(result, NO_PERSONAL, "GB/T 22239-2019:8.1.4.11.b").state is ItemState.NOT_APPLICABLE
    # storage protection of 鉴别数据, audit records and configuration still applies: not this rule's to judge
    assert {"GB/T 22239-2019:8.1.4.8.b", "GB/T 22239-2019:8.1.4.7.b"} <= finding.result.silent
    assert _item(result, NO_PERSONAL, "GB/T 22239-2019:8.1.4.8.b").state is not ItemState.NOT_APPLICABLE


def test_the_assessor_decides_what_the_rules_left() -> None:
    attested = scan(ScanOptions(root=ROOT, systems=("medical-insurance",), today=TODAY))
    outcome = _item(attested, "medical-insurance", ISOLATION)
    assert outcome.state is ItemState.PASS and outcome.attestation == "ATT-YBJ-2026-001"
    assert not any(ISOLATION in warning for warning in attested.warnings)  # used, not refused as rule-decided
    # the worksheet offers it to the assessor where no rule judged it, not where one did
    offered = {row["item"] for row in template(ROOT, INTERNAL, today=TODAY)["attestations"]}
    assert ISOLATION in offered
    assert ISOLATION not in {row["item"] for row in template(ROOT, FACING, today=TODAY)["attestations"]}

"""An item shows the evidence and the note of its own judgement, not its rule's.

One rule often judges several items (a 密评 unit per mechanism, local and remote backup, asset list and baseline
configuration …) and may judge them differently: the algorithm rule passes (every 应 unit uses SM algorithms)
while a 宜 unit it also judges fails. The item must then say why *it* failed — not carry the rule's passing
message and the first pieces of evidence, which are about other items and say the opposite of its state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from compliance.results import ItemOutcome, ItemState, ScanResult
from compliance.scanner import ScanOptions, scan
from policies.engine import Evidence, Facts, Point, RuleResult, Severity, Status
from policies.rules.checks import SubChecks

ROOT = Path(__file__).resolve().parents[2]
_FAILING = {ItemState.FAIL, ItemState.PARTIAL, ItemState.ERROR}


@pytest.fixture(scope="module")
def region() -> ScanResult:
    return scan(ScanOptions(root=ROOT, plan=True, as_of=dt.date(2026, 12, 1)))


def _deciding(result: ScanResult) -> list[tuple[str, ItemOutcome, RuleResult]]:
    """(system, item, result) for every rule result that decided an item of the example region."""
    out: list[tuple[str, ItemOutcome, RuleResult]] = []
    for system in result.systems:
        by_rule = {finding.result.rule_id: finding.result for finding in system.findings}
        for item in system.items:
            out += [(system.name, item, by_rule[rule]) for rule in item.rules]
    return out


def test_an_item_shows_only_the_pieces_its_rule_gave_for_it(region: ScanResult) -> None:
    """Judged otherwise than its rule, or by a rule that gives pieces per item (also an item the rule lists but
    no sub-check names: none of the others' pieces)."""
    otherwise = 0
    for system, item, result in _deciding(region):
        control = item.item_id
        assert control in result.controls
        if result.status_of(control) is result.status and not result.per_control_evidence:
            continue
        otherwise += 1
        own = set(map(id, result.per_control_evidence.get(control, ())))
        shown = [piece for piece in item.evidence if any(piece is e for e in result.evidence)]
        foreign = [piece.observed for piece in shown if id(piece) not in own]
        assert not foreign, f"{system} {control}: evidence of {result.rule_id} about other items: {foreign}"
    assert otherwise > 3_000  # the example region has 3,386 (this test is not vacuous)


def test_a_failing_item_of_a_passing_rule_says_why_it_fails(region: ScanResult) -> None:
    failing = 0
    for system, item, result in _deciding(region):
        control = item.item_id
        if item.underlying not in _FAILING or result.status not in (Status.PASS, Status.NOT_APPLICABLE):
            continue
        if result.status_of(control) not in (Status.FAIL, Status.PARTIAL):
            continue
        failing += 1
        assert result.message not in item.note, f"{system} {control}: the rule's {result.status} message"
        own = result.per_control_evidence[control]
        assert own and all(piece in item.evidence for piece in own[:5])
        assert all(piece.observed in item.note for piece in own)
    assert failing > 0


def test_the_sm_algorithm_rule_passes_but_an_unimplemented_advised_unit_fails_with_its_own_reason(
        region: ScanResult) -> None:
    # e-invoice: every 应 unit uses SM algorithms (the rule passes); 设备和计算安全 / 重要信息资源安全标记完整性 (宜,
    # 8.3.d) has no mechanism: 密评 scores it 0, so the item fails — and must say so
    system = next(s for s in region.systems if s.name == "e-invoice")
    item = next(i for i in system.items if i.item_id == "GB/T 39786-2021:8.3.d")
    assert item.underlying is ItemState.FAIL
    assert "安全标记完整性" in item.note and "no mechanism declared" in item.note
    assert "均采用国密算法" not in item.note
    assert any("安全标记完整性" in piece.observed for piece in item.evidence)
    assert not any("身份鉴别" in piece.observed for piece in item.evidence)


def test_an_optional_unit_not_implemented_says_why_it_is_not_applicable(region: ScanResult) -> None:
    """A 可 unit without a mechanism is not applicable (2023 rules): its item says so in a piece of its own —
    it showed no piece of the algorithm rule before (only the weak-algorithm rule's generic one)."""
    optional = 0
    for system in region.systems:
        for item in system.items:
            if item.strength != "可" or item.state is not ItemState.NOT_APPLICABLE \
                    or "XZ-MAN-CRYPTO-ALGORITHMS" not in item.rules:
                continue
            optional += 1
            reasons = [piece.observed for piece in item.evidence if "未实施, 不适用" in piece.observed]
            assert len(reasons) == 1 and "(可)" in reasons[0], (system.name, item.item_id,
                                                              [p.observed for p in item.evidence])
    assert optional > 50  # the example region has 73


def test_subchecks_give_each_item_its_own_pieces_problems_first() -> None:
    facts = Facts("x", Point.MANIFEST, {"k": {}}, {}, "2026-12-01T00:00:00Z", "systems/x.yaml")
    judged = SubChecks(facts)
    a, b, c = "GB/T 22239-2019:{L}.1.4.2.a", "GB/T 22239-2019:{L}.1.4.2.b", "GB/T 22239-2019:{L}.1.4.2.c"
    judged.check(a, True, "a is fine", "k")
    judged.check([a, b], True, "a and b share this", "k")
    judged.check(b, False, "b is broken", "k")
    judged.skip(c, "c does not apply", "k")
    outcome = judged.outcome("ok", "not ok")
    assert outcome.status is Status.PARTIAL
    own = {control: [piece.observed for piece in pieces] for control, pieces in outcome.per_control_evidence.items()}
    assert own[a] == ["a is fine", "a and b share this"]
    assert own[b] == ["b is broken"]  # a failed item: its problems (what passed for it does not say why)
    assert own[c] == ["c does not apply"]
    kept = set(map(id, outcome.evidence))
    assert all(id(piece) in kept for pieces in outcome.per_control_evidence.values() for piece in pieces)


def test_a_result_without_own_pieces_shows_nothing_on_an_item_it_judged_otherwise() -> None:
    evidence = (Evidence("about another item", "l", "t"),)
    result = RuleResult("XZ-X", "s", Point.MANIFEST, Status.FAIL, "the rule fails", Severity.HIGH, ("A", "B"),
                        evidence, "", {"B": Status.PASS})
    assert result.evidence_of("A") == evidence  # judged as the rule: its first pieces
    assert result.evidence_of("B") == ()  # judged otherwise, and the rule gave it nothing: not the other's
    assert result.message_of("A") == "the rule fails"
    assert result.message_of("B") == "规则 XZ-X 判定本项为 pass / XZ-X judged this item pass"  # not the rule's message
    per_item = RuleResult("XZ-X", "s", Point.MANIFEST, Status.PASS, "all fine", Severity.HIGH, ("A", "B"),
                          evidence, "", {"A": Status.FAIL}, {"B": evidence})
    assert per_item.evidence_of("A") == () and per_item.evidence_of("B") == evidence  # A: none of B's
    assert per_item.message_of("A") == "规则 XZ-X 判定本项为 fail / XZ-X judged this item fail"


def test_a_missing_backup_schedule_is_item_a_and_retention_item_b() -> None:
    """Without a schedule and with no retention, item a (method and schedule) showed the retention problem."""
    from policies.rules.manifest import backup_policy
    facts = Facts("x", Point.MANIFEST, {"continuity": {"backup_schedule": "", "backup_retention_days": 0},
                                        "inventory": {}}, {}, "2026-12-01T00:00:00Z", "systems/x.yaml")
    outcome = backup_policy.check(facts)
    own = {control: [piece.observed for piece in pieces] for control, pieces in outcome.per_control_evidence.items()}
    assert own["GB/T 22239-2019:{L}.1.10.11.a"] == ["no backup schedule"]
    assert own["GB/T 22239-2019:{L}.1.10.11.b"] == ["no backup schedule", "backup retention 0 d"]


def test_an_oscal_finding_relates_no_other_items_evidence(region: ScanResult) -> None:
    from compliance.reports.formats import md, oscal
    report = oscal(region)
    checked = 0
    for system, entry in zip(region.systems, report["assessment-results"]["results"], strict=True):
        observations = {o["uuid"]: o for o in entry.get("observations", [])}
        items = {item.item_id: item for item in system.items}
        for finding in entry.get("findings", []):
            item = items[finding["title"]]
            if not item.rules:
                continue
            # as OSCAL's markup fields hold text: literal, on one line (compliance.reports.formats._markup)
            kept = {md(piece.observed) or "observed" for piece in item.evidence}
            for related in finding.get("related-observations", []):
                shown = {e["description"] for e in observations[related["observation-uuid"]].get(
                    "relevant-evidence", [])}
                assert shown <= kept, (system.name, item.item_id, shown - kept)
                checked += 1
    assert checked > 50

"""How the scan turns item outcomes into 等保 verdicts and 密评 scores (compliance.scan.dengbao / .miping): the
not-applicable 密评 units, possible high-risk findings, waivers and the high-risk veto, one purpose per unit."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compliance.catalogue import DENGBAO, CryptoUnit
from compliance.results import ItemOutcome, ItemState, ScanResult
from compliance.scan.context import ScanContext, ScanOptions, setup
from compliance.scan.dengbao import dengbao_card, system_profile
from compliance.scan.miping import miping_card, required_technical
from compliance.scanner import scan
from policies.engine import Facts, Point, Severity
from xzgov.core import model as m
from xzgov.facts.baseline import CRYPTO_UNITS, UNIT_PURPOSE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (ROOT / "systems").is_dir(), reason="no example register")


@pytest.fixture(scope="module")
def ctx() -> ScanContext:
    return setup(ScanOptions(root=ROOT))


@pytest.fixture(scope="module")
def region() -> ScanResult:
    return scan(ScanOptions(root=ROOT))


def _fresh(ctx: ScanContext) -> ScanContext:
    """The context with empty memos (cards are memoised per scan)."""
    return dataclasses.replace(ctx, miping_cards={}, dengbao_cards={}, row_entries={}, case_applies={})


def _system(ctx: ScanContext, crypto_level: int) -> m.System:
    system = ctx.register.systems["e-invoice"]
    if system.crypto_level != crypto_level:
        system = dataclasses.replace(
            system, classification=dataclasses.replace(system.classification, crypto_level=crypto_level))
    assert system.crypto_level == crypto_level
    return system


def _facts(ctx: ScanContext, level: int, *, skip: set[str], exempt: frozenset[str] = frozenset()) -> Facts:
    """Manifest facts declaring an SM mechanism (certified product) for every technical unit required at
    ``level`` but the short ids in ``skip``; ``exempt``: short ids the plan declares not applicable."""
    mechanisms: list[dict[str, Any]] = []
    exemptions: list[dict[str, Any]] = []
    for unit, _, (aspect, purpose) in required_technical(ctx.catalogue, level):
        if unit.short_id in exempt:
            exemptions.append({"aspect": aspect, "purpose": purpose, "reason": "无远程接入 / no remote access"})
        if unit.short_id not in skip:
            mechanisms.append({"aspect": aspect, "purpose": purpose, "algorithms": ["SM4"], "product": "p"})
    return Facts("e-invoice", Point.MANIFEST, {
        "crypto_mechanisms": mechanisms, "crypto_exemptions": exemptions,
        "crypto_products": [{"id": "p", "certificate": "X", "module_level": 3}]})


def _dropped(card_steps: tuple[tuple[str, str, str], ...]) -> set[str]:
    return {label.split()[0] for label, formula, _ in card_steps if formula == "不适用，不计入"}


# -- 1. not-applicable 密评 technical units drop out of the score -------------------------------------------

def test_an_undeclared_optional_unit_drops_out_of_the_miping_score_instead_of_scoring_zero(ctx: ScanContext) -> None:
    """Level 3, every unit implemented but NC-5 安全接入认证 (可), which the plan exempts: the card scored a
    "未实施" object (D fails → 0) for NC-5, 97.89 instead of 100 at full management marks."""
    card = miping_card(_fresh(ctx), _system(ctx, 3), _facts(ctx, 3, skip={"NC-5"}, exempt=frozenset({"NC-5"})), [])
    assert not card.error, card.error
    assert "NC-5" in _dropped(card.steps)
    assert not any("未实施" in label for label, _, _ in card.steps)
    assert card.value_range[1] == 100.0  # management untested: the best case is full marks


def test_an_exempted_recommended_unit_drops_out_and_an_unexempted_one_scores_zero(ctx: ScanContext) -> None:
    exempted = miping_card(_fresh(ctx), _system(ctx, 3), _facts(ctx, 3, skip={"PE-1"}, exempt=frozenset({"PE-1"})), [])
    assert "PE-1" in _dropped(exempted.steps) and exempted.value_range[1] == 100.0
    missing = miping_card(_fresh(ctx), _system(ctx, 3), _facts(ctx, 3, skip={"PE-1"}), [])
    assert "PE-1" not in _dropped(missing.steps) and missing.value_range[1] < 100.0
    assert any(label.startswith("PE-1 对象 未实施") for label, _, _ in missing.steps)


def test_a_level_one_system_without_optional_mechanisms_is_scored_on_management_alone(ctx: ScanContext) -> None:
    """At 密评 level 1 every technical unit is 可: none declared, all drop out. The card scored 14 "未实施"
    objects at 0, so the best case was 30 (management only), 不符合."""
    card = miping_card(_fresh(ctx), _system(ctx, 1), _facts(ctx, 1, skip={u.short_id for u, _, _ in
                                                                        required_technical(ctx.catalogue, 1)}), [])
    assert not card.error, card.error
    assert card.value_range == (0.0, 100.0)
    assert card.verdict_range is not None and card.verdict_range[1] == "符合"


def test_an_attested_not_applicable_technical_unit_drops_out(ctx: ScanContext) -> None:
    assert ctx.records.attestations, "the example region signs attestation sets"
    unit = ctx.catalogue.crypto_unit("PE-1")
    attested = ItemOutcome(unit.id, unit.standard, unit.name, ItemState.NOT_APPLICABLE, ItemState.NOT_APPLICABLE,
                           attestation="ATT-TEST")
    card = miping_card(_fresh(ctx), _system(ctx, 3), _facts(ctx, 3, skip={"PE-1"}), [attested])
    assert not card.error, card.error
    assert "PE-1" in _dropped(card.steps) and card.value_range[1] == 100.0


def test_the_card_drops_exactly_the_units_whose_items_are_not_applicable(region: ScanResult, ctx: ScanContext) -> None:
    """One rule: the units the 密评 items call 不适用 are the ones the card leaves out (37 of the 39 example
    systems had NC-5 not applicable as an item yet scored as "未实施" on the card; a management unit a rule
    decides, as 8.7.e at 密评 level 2, was left out of the card altogether)."""
    units = {u.id: u.short_id for u in ctx.catalogue.crypto_units}
    for system in region.systems:
        assert system.miping is not None and not system.miping.error, system.name
        items = {units[o.item_id] for o in system.items if o.item_id in units and o.score_status == "不适用"}
        assert _dropped(system.miping.steps) == items, system.name
        assert not any("未实施" in label and label.split()[0] in items for label, _, _ in system.miping.steps)


# -- 2./3. possible high-risk findings, waivers and the veto ---------------------------------------------

def _level3_outcomes(ctx: ScanContext, item_id: str, **failed: Any) -> list[ItemOutcome]:
    """Every level-3 item passed but ``item_id``, which gets the outcome fields ``failed``."""
    out = []
    for item in ctx.catalogue.items_where(level=3):
        if item.id == item_id:
            out.append(ItemOutcome(item.id, DENGBAO, item.title, **failed))
        else:
            out.append(ItemOutcome(item.id, DENGBAO, item.title, ItemState.PASS, ItemState.PASS))
    return out


def _profiled(ctx: ScanContext, **conditions: bool | None) -> m.System:
    system = ctx.register.systems["e-invoice"]
    assert system.level == 3
    profile = system_profile(ctx, system)
    assert profile is not None
    if profile.key_industry is not conditions.get("key_industry", profile.key_industry):
        pytest.skip("the example system's key_industry condition is decided")  # pragma: no cover
    return system


RULE_FAIL = {"state": ItemState.FAIL, "underlying": ItemState.FAIL, "rules": ("XZ-TEST",), "high_risk": True,
             "severity": Severity.HIGH}


def test_a_failed_item_whose_high_risk_condition_is_open_keeps_the_verdict_open(ctx: ScanContext) -> None:
    """L3-ABS1-12 (case 6.3.3.3, condition 关键行业, left open by the manifest) failed by a high rule: the card
    said 符合 (final, no high risk); the worst case is the veto, and the card names the open condition."""
    system = _profiled(ctx, key_industry=None)
    item = next(i for i in ctx.catalogue.items_where(level=3) if i.assessment_unit == "L3-ABS1-12")
    card = dengbao_card(_fresh(ctx), _level3_outcomes(ctx, item.id, **RULE_FAIL), system)
    assert card.verdict is None and card.verdict_range == ("不符合", "符合"), card
    assert not card.final and card.high_risk == ()
    named = [formula for label, formula, _ in card.steps if "可能构成高风险" in label]
    assert named and "关键行业" in named[0] and "6.3.3.3" in named[0]


def test_a_decided_condition_settles_the_possible_finding(ctx: ScanContext) -> None:
    system = ctx.register.systems["e-invoice"]
    item = next(i for i in ctx.catalogue.items_where(level=3) if i.assessment_unit == "L3-ABS1-12")
    table_ctx = _fresh(ctx)
    profile = system_profile(table_ctx, system)
    assert profile is not None
    for decided, verdict in ((True, "不符合"), (False, "符合")):
        settled = dataclasses.replace(profile, key_industry=decided)
        table_ctx = _fresh(ctx)
        from compliance.scan import dengbao as scan_dengbao

        entries = tuple(scan_dengbao._entry(table_ctx, o, settled, {})
                        for o in _level3_outcomes(ctx, item.id, **RULE_FAIL))
        card = scan_dengbao._score(table_ctx, entries, settled)
        assert card.verdict == verdict and card.final, (decided, card)


NO_MITIGATION = "GB/T 22239-2019:8.1.7.1.a"  # L3-ORS1-01, case 6.7.1.1 领导机构, 可能的缓解措施：无, no condition
MITIGATION = "GB/T 22239-2019:8.1.4.2.e"  # case 6.4.2.2, lists mitigations


@pytest.mark.parametrize("source", ["rule", "attestation"])
def test_a_waiver_does_not_lift_the_veto_of_a_case_without_mitigation_whoever_found_it(
    ctx: ScanContext, source: str
) -> None:
    """The attested 不符合 under a waiver vetoed, the rule's failure of the same item under the same waiver did
    not. A waiver records a compensating measure; the guide allows none for this case."""
    system = ctx.register.systems["e-invoice"]
    found: dict[str, Any] = ({"rules": ("XZ-TEST",), "severity": Severity.HIGH} if source == "rule"
                             else {"attestation": "ATT-TEST"})
    waived = dengbao_card(_fresh(ctx), _level3_outcomes(ctx, NO_MITIGATION, state=ItemState.WAIVED,
                                                        underlying=ItemState.FAIL, waiver="W-TEST", **found), system)
    assert NO_MITIGATION in waived.high_risk and waived.verdict == "不符合", source


@pytest.mark.parametrize("source", ["rule", "attestation"])
def test_a_waiver_lifts_the_veto_of_a_case_with_mitigation_whoever_found_it(ctx: ScanContext, source: str) -> None:
    system = ctx.register.systems["e-invoice"]
    found: dict[str, Any] = ({"rules": ("XZ-TEST",), "severity": Severity.HIGH} if source == "rule"
                             else {"attestation": "ATT-TEST"})
    waived = dengbao_card(_fresh(ctx), _level3_outcomes(ctx, MITIGATION, state=ItemState.WAIVED,
                                                        underlying=ItemState.FAIL, waiver="W-TEST", **found), system)
    assert MITIGATION not in waived.high_risk and waived.verdict == "符合", source


def test_a_waiver_never_adds_a_veto(ctx: ScanContext) -> None:
    """A rule's failure below high severity is no high-risk finding, waived or not."""
    system = ctx.register.systems["e-invoice"]
    for state in (ItemState.FAIL, ItemState.WAIVED):
        card = dengbao_card(_fresh(ctx), _level3_outcomes(ctx, NO_MITIGATION, state=state, underlying=ItemState.FAIL,
                                                          rules=("XZ-TEST",), severity=Severity.MEDIUM,
                                                          waiver="W-TEST" if state is ItemState.WAIVED else None),
                            system)
        assert card.high_risk == (), state


# -- 4. one mechanism purpose per 密评 unit -------------------------------------------------------------------

def test_the_unit_purpose_map_is_one_to_one(ctx: ScanContext) -> None:
    """8.1.b (门禁记录) and 8.1.c (视频监控记录) shared ("physical", "access-record-integrity"): one door-access
    mechanism scored both units."""
    purposes = [(aspect, purpose) for aspect, purpose, _ in CRYPTO_UNITS]
    assert len(set(purposes)) == len(purposes) == len(UNIT_PURPOSE)
    technical = {u.id for u in ctx.catalogue.crypto_units if isinstance(u, CryptoUnit) and u.kind == "technical"}
    assert set(UNIT_PURPOSE) == technical
    assert UNIT_PURPOSE[ctx.catalogue.crypto_unit("PE-3").id] == ("physical", "video-record-integrity")


def _purpose_enums(node: Any) -> Iterator[list[str]]:
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and "access-record-integrity" in enum:
            yield enum
        for value in node.values():
            yield from _purpose_enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _purpose_enums(value)


def test_every_unit_purpose_can_be_declared_in_a_manifest() -> None:
    schema = json.loads((ROOT / "xzgov" / "core" / "schemas" / "system.schema.json").read_text(encoding="utf-8"))
    enums = list(_purpose_enums(schema))
    assert enums
    for enum in enums:
        assert {purpose for _, purpose, _ in CRYPTO_UNITS} <= set(enum)


def test_a_door_access_mechanism_no_longer_scores_the_video_unit(region: ScanResult) -> None:
    report = next(s for s in region.systems if s.name == "police-bigdata")
    assert report.miping is not None
    steps = {label.split()[0] + (" 对象" if " 对象 " in label else ""): (label, value)
             for label, _, value in report.miping.steps}
    assert steps["PE-2 对象"][0].endswith("door-access-l3") and steps["PE-2"][1] == "1.0"
    assert "未实施" in steps["PE-3 对象"][0] and steps["PE-3"][1] == "0.0"


def _high_risk_agrees_with_the_verdicts(result: ScanResult) -> None:
    """No report calls an item 高风险 that its verdict does not: a GB/T 39786 unit is flagged exactly when the 密评
    card vetoes on it; a vetoed 等保 item is flagged, and a flagged one is vetoed or a possible finding (its case
    may apply); the figures' trigger table says 是 exactly for the vetoed items."""
    from compliance.reports.figures import system_figures

    for system in result.systems:
        assert system.dengbao is not None and system.miping is not None
        units = {o.assessment_unit for o in system.items if o.high_risk and o.standard != DENGBAO}
        assert units == set(system.miping.high_risk), system.name
        flagged = {o.item_id for o in system.items if o.high_risk and o.standard == DENGBAO}
        assert set(system.dengbao.high_risk) <= flagged, system.name
        if system.dengbao.final and not system.dengbao.high_risk:  # nothing vetoed, nothing left possible
            assert flagged == set(), system.name
        triggered = {r.item for r in system_figures(system).triggers if r.triggered == "是"}
        assert triggered <= set(system.dengbao.high_risk), system.name


def test_the_high_risk_flags_say_what_the_verdicts_make_of_the_items(region: ScanResult) -> None:
    # health-info: rules of severity high failed 应 units 8.2.a, 8.2.c, 8.4.d, which were flagged 高风险 while the
    # 密评 card (D/A/K) vetoed on none of them
    _high_risk_agrees_with_the_verdicts(region)
    health = next(s for s in region.systems if s.name == "health-info")
    assert not [o.item_id for o in health.items if o.high_risk and o.standard != DENGBAO]
    assert any(s.miping and s.miping.high_risk for s in region.systems)  # the 密评 side is exercised


def test_a_case_that_does_not_apply_is_no_triggered_major_risk(tmp_path: Path) -> None:
    """medical-insurance without high business-continuity needs (one replica, RTO 10 h, DR tier 2, and 业务连续性要求高
    decided false in its manifest — a level-3 system is otherwise presumed to have them, as its level requires): its
    redundancy and DR failures are no 2025-guide case and its verdict stays 符合; the figures said 2 major risks
    triggered (6.2.1.3, 6.4.6.2) beside it."""
    import shutil

    root = tmp_path / "region"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(".git", ".venv*", "out", "tests", "__pycache__", "bench",
                                                               "node_modules", "*.egg-info"))
    manifest = root / "systems" / "ybj" / "medical-insurance.yaml"
    text = manifest.read_text(encoding="utf-8")
    for old, new in (("replicas: 3", "replicas: 1"), ("rto_minutes: 60", "rto_minutes: 600"),
                     ("dr_tier: 5", "dr_tier: 2"),
                     ("    level: 3\n",
                      "    level: 3\n    high_risk_conditions: {continuity_high: false, basis: 藏医保〔2026〕3号}\n")):
        assert old in text
        text = text.replace(old, new)
    manifest.write_text(text, encoding="utf-8")
    result = scan(ScanOptions(root=root, systems=("medical-insurance",)))
    _high_risk_agrees_with_the_verdicts(result)
    [system] = result.systems
    assert system.dengbao is not None and system.dengbao.verdict == "符合" and system.dengbao.final
    assert any(o.score_status in ("不符合", "部分符合") for o in system.items if o.assessment_unit == "L3-CES1-31"
               or o.item_id.endswith(":8.1.4.9.c")), "the failure is there; it is no case for this system"
    from compliance.reports.figures import system_figures

    rows = {r.case: r.triggered for r in system_figures(system).triggers}
    assert rows["6.2.1.3"] == "否" and rows["6.4.6.2"] == "否", rows


@pytest.mark.parametrize("source", ["rule", "attestation"])
def test_what_the_card_vetoes_on_is_flagged_whoever_found_it(ctx: ScanContext, source: str) -> None:
    """A waived failure (or an attested 不符合) of a case without mitigation vetoes the 等保 card, and items.py
    flags neither: the item must still be marked 高风险 where the verdict vetoes on it."""
    from compliance.results import ScoreCard, SystemReport
    from compliance.scanner import _item_row, _settle_high_risk

    fresh = _fresh(ctx)
    system = ctx.register.systems["e-invoice"]
    row, _ = _item_row(fresh, system)
    found: dict[str, Any] = ({"rules": ("XZ-TEST",), "severity": Severity.HIGH} if source == "rule"
                             else {"attestation": "ATT-TEST"})
    items = [ItemOutcome(entry.id, DENGBAO if not isinstance(entry, CryptoUnit) else entry.standard, "t",
                         *((ItemState.WAIVED, ItemState.FAIL) if entry.id == NO_MITIGATION
                           else (ItemState.PASS, ItemState.PASS)),
                         **(dict(waiver="W-TEST", **found) if entry.id == NO_MITIGATION else {}))
             for entry in row]
    card = dengbao_card(fresh, items, system)
    assert NO_MITIGATION in card.high_risk and not any(o.high_risk for o in items)
    report = SystemReport(system.name, system.title, system.department, "", system.tier, system.level,
                          system.crypto_level, system.source, items=items, dengbao=card,
                          miping=ScoreCard("密评", None, None, None, (0.0, 0.0), False, (), ()))
    _settle_high_risk(fresh, system, report, [])
    assert [o.item_id for o in report.items if o.high_risk] == [NO_MITIGATION]


def test_a_declared_sm2_login_no_one_uses_is_no_cryptography_in_both_schemes(region: ScanResult) -> None:
    """ai-platform declares an SM2 (ukey) application login, but its users log in with password + SMS and its
    administrators with password + TOTP: 等保 failed 8.1.4.1.d on those factors while 密评 scored 身份鉴别 (AD-1, 应)
    as met, so one report said both. Now the unit's object fails D (a veto at a 应 unit) and its item fails."""
    system = next(s for s in region.systems if s.name == "ai-platform")
    assert "GB/T 22239-2019:8.1.4.1.d" in (system.dengbao.high_risk if system.dengbao else ())
    assert system.miping is not None and "AD-1" in system.miping.high_risk
    assert any("声明的身份鉴别机制未用于登录" in label + formula for label, formula, _ in system.miping.steps)
    unit = next(o for o in system.items if o.item_id == "GB/T 39786-2021:8.4.a")
    assert unit.state in (ItemState.FAIL, ItemState.PARTIAL) and unit.high_risk
    assert any("no login uses it" in piece.observed for piece in unit.evidence)
    # a system whose login is the SM2 certificate it declares keeps the unit
    clean = next(s for s in region.systems if s.name == "medical-insurance")
    assert next(o for o in clean.items if o.item_id == "GB/T 39786-2021:8.4.a").state is ItemState.PASS


def test_each_crypto_technical_item_reads_as_its_unit_scores(ctx: ScanContext, region: ScanResult) -> None:
    """An item and the 密评 card judge a technical unit alike: 符合 exactly when the card scores the unit full.
    Before, a product below the GB/T 0028 level the 密评 level needs (K) left food-safety's AD-5 and AD-7 符合
    while the card scored them 0.5 — `xzgov diff` and every reader of the items saw nothing to fix."""
    checked = 0
    for report in region.systems:
        assert report.miping is not None
        scores = {label.split(" ", 1)[0]: float(value) if value != "None" else None
                  for label, _, value in report.miping.steps
                  if "对象" not in label and label.split(" ", 1)[0][:3] in {"PE-", "NC-", "DC-", "AD-"}}
        for item in report.items:
            unit = ctx.catalogue.get(item.item_id)
            if not isinstance(unit, CryptoUnit) or unit.kind != "technical" or unit.short_id not in scores:
                continue
            checked += 1
            score = scores[unit.short_id]
            state = item.underlying if item.state is ItemState.WAIVED else item.state
            # out of the score (None) exactly when the item is not applicable
            assert (state is ItemState.NOT_APPLICABLE) is (score is None), (report.name, unit.short_id, state)
            assert (state is ItemState.PASS) is (score is not None and score >= 1.0), (report.name, unit.short_id,
                                                                                    item.state, score)
    assert checked > 300


def test_the_trigger_table_says_no_where_the_case_cannot_apply_while_the_card_is_open(tmp_path: Path) -> None:
    """A review: with items pending (a range, not final) the trigger table said 待定 for a 不符合 item whose case's
    condition the manifest decided false, and for untested items of cases only the cloud platform's own assessment
    judges — the card has no possible finding for either, and the summary counted them among the 待定."""
    import shutil

    from compliance.catalogue.high_risk import default_high_risk_table
    from compliance.reports.figures import system_figures

    root = tmp_path / "region"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(".git", ".venv*", "out", "tests", "__pycache__", "bench",
                                                               "node_modules", "*.egg-info"))
    manifest = root / "systems" / "zrzyt" / "tianditu-xizang.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "    level: 3\n" in text
    manifest.write_text(text.replace("    level: 3\n", "    level: 3\n    high_risk_conditions: "
                                     "{continuity_high: false, basis: 藏自然资〔2026〕7号}\n", 1), encoding="utf-8")
    [system] = scan(ScanOptions(root=root, systems=("tianditu-xizang",))).systems
    assert system.dengbao is not None and not system.dengbao.final
    assert {"6.2.1.3", "6.4.6.2"} <= set(system.cases_not_applying)
    rows = {r.case: r for r in system_figures(system).triggers}
    assert rows["6.2.1.3"].triggered == "否" and rows["6.4.6.2"].triggered == "否"
    assert any(rows[case].status in ("不符合", "部分符合") for case in ("6.2.1.3", "6.4.6.2"))
    # the platform's own cases (7.2.1.1 …) are not the tenant's: not in its table at all (an assessor's reading: 否
    # there said they were examined in this system's assessment), so never among its 待定 either
    platform = [c.case for c in default_high_risk_table().cases if not c.tenant_case and system.level in c.levels]
    assert "7.2.1.1" in platform and set(platform) <= set(system.cases_not_applying)
    assert not set(platform) & set(rows)
    # what stays 待定 is what the card may still veto on
    possible = " ".join(formula for _, formula, _ in system.dengbao.steps)
    assert all(row.item in possible or row.status == "未测" for row in rows.values() if row.triggered == "待定")

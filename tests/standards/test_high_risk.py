"""High-risk flags against the 2025 guide (公网安〔2025〕2391号, 附录A 表A.1), case by case.

The expected table below is transcribed by hand from the guide (case number → the GB/T 28448 level-3
unit of the requirement it quotes, its conditions and levels); the data file and the catalogue flags must
agree with it exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from compliance.catalogue import Catalogue, CatalogueError, load_catalogue
from compliance.catalogue.high_risk import (
    HighRiskTable,
    SystemProfile,
    default_high_risk_table,
    load_high_risk_table,
    profile_of,
)
from compliance.results import ItemOutcome, ItemState, ScoreCard
from compliance.scan.context import setup
from compliance.scan.dengbao import dengbao_card
from compliance.scanner import ScanOptions, scan
from compliance.scoring import ItemResult, ScoringConfig, score_dengbao
from policies.engine import Severity
from tests.compliance.conftest import FIXTURE
from xzgov.core.model import AssessmentRecord
from xzgov.facts.thresholds import continuity_for

CH, KI = "continuity_high", "key_industry"
#: case 6.9.4.1: 未每年开展一次等级测评, 且上次测评发现的高风险问题未及时整改 (both facts)
NY, RO = "not_assessed_yearly", "assessment_risks_open"
#: case → (level-3 unit or None, lowest level, conditions)
GENERAL: dict[str, tuple[str | None, int, tuple[str, ...]]] = {
    "6.1.1.1": ("L3-PES1-03", 3, ()), "6.1.2.1": ("L3-PES1-09", 3, ()), "6.1.3.1": ("L3-PES1-19", 3, (CH,)),
    "6.1.3.2": (None, 4, (CH,)), "6.2.1.1": ("L3-CNS1-01", 3, (CH,)), "6.2.1.2": ("L3-CNS1-04", 2, ()),
    "6.2.1.3": ("L3-CNS1-05", 3, (CH,)), "6.2.2.1": ("L3-CNS1-07", 3, ()), "6.3.1.1": ("L3-ABS1-01", 2, ()),
    "6.3.1.2": ("L3-ABS1-04", 3, ()), "6.3.2.1": ("L3-ABS1-05", 2, ()), "6.3.3.1": ("L3-ABS1-10", 2, ()),
    "6.3.3.2": ("L3-ABS1-11", 3, ()), "6.3.3.3": ("L3-ABS1-12", 3, (KI,)), "6.4.1.1": ("L3-CES1-01", 2, ()),
    "6.4.1.2": ("L3-CES1-03", 2, ()), "6.4.1.3": ("L3-CES1-04", 3, ()), "6.4.2.1": ("L3-CES1-06", 2, ()),
    "6.4.2.2": ("L3-CES1-09", 3, ()), "6.4.3.1": ("L3-CES1-18", 2, ()), "6.4.3.2": ("L3-CES1-21", 2, ()),
    "6.4.3.3": ("L3-CES1-20", 2, ()), "6.4.4.1": ("L3-CES1-23", 2, ()), "6.4.5.1": ("L3-CES1-27", 3, ()),
    "6.4.5.2": ("L3-CES1-28", 3, ()), "6.4.6.1": ("L3-CES1-29", 3, ()), "6.4.6.2": ("L3-CES1-31", 3, (CH,)),
    "6.4.6.3": (None, 4, (CH,)), "6.4.7.1": ("L3-CES1-34", 2, ()), "6.4.7.2": ("L3-CES1-35", 2, ()),
    "6.5.1.1": ("L3-SMC1-08", 3, ()), "6.5.1.2": ("L3-SMC1-10", 3, ()), "6.6.1.1": ("L3-PSS1-02", 3, ()),
    "6.7.1.1": ("L3-ORS1-01", 3, ()), "6.8.1.1": ("L3-HRS1-10", 2, ()), "6.9.1.1": ("L3-CMS1-08", 2, ()),
    "6.9.2.1": ("L3-CMS1-20", 3, ()), "6.9.3.1": ("L3-CMS1-25", 3, ()), "6.9.4.1": ("L3-CMS1-29", 3, (NY, RO)),
    "6.9.4.2": ("L3-CMS1-31", 3, ()), "6.10.1.1": ("L3-MMS1-42", 2, ()), "6.10.1.2": ("L3-MMS1-43", 3, ()),
}
CLOUD: dict[str, tuple[str | None, int, tuple[str, ...]]] = {
    "7.1.1.1": ("L3-PES2-01", 2, ()), "7.2.1.1": ("L3-CNS2-01", 2, ()), "7.2.1.2": ("L3-CNS2-02", 2, ()),
    "7.2.1.3": (None, 4, ()), "7.2.1.4": ("L3-CNS2-03", 2, ()), "7.3.1.1": ("L3-ABS2-01", 2, ()),
    "7.3.2.1": ("L3-ABS2-03", 3, ()), "7.4.1.1": ("L3-CES2-09", 3, ()), "7.4.2.1": ("L3-CES2-10", 2, ()),
    "7.4.3.1": ("L3-CES2-14", 2, ()), "7.4.3.2": ("L3-CES2-17", 2, ()), "7.4.4.1": ("L3-CES2-19", 2, ()),
    "7.5.1.1": ("L3-SMC2-02", 3, ()), "7.6.1.1": ("L3-CMS2-01", 2, ()), "7.6.2.1": ("L3-CMS2-06", 3, ()),
    "7.7.1.1": ("L3-MMS2-01", 2, ()),
}


@pytest.fixture(scope="module")
def table() -> HighRiskTable:
    return default_high_risk_table()


def test_the_guide_has_81_cases_42_general_16_cloud(table: HighRiskTable) -> None:
    families = [c.family for c in table.cases]
    assert len(table.cases) == 81
    assert (families.count("general"), families.count("cloud"), families.count("mobile"),
            families.count("iot"), families.count("industrial")) == (42, 16, 10, 4, 9)
    assert [c.seq for c in table.cases] == list(range(1, 82))
    assert table.document == "公网安〔2025〕2391号"


@pytest.mark.parametrize(("family", "expected"), [("general", GENERAL), ("cloud", CLOUD)])
def test_every_case_matches_the_hand_transcribed_table(
    table: HighRiskTable, family: str, expected: dict[str, tuple[str | None, int, tuple[str, ...]]]
) -> None:
    cases = {c.case: c for c in table.cases if c.family == family}
    assert set(cases) == set(expected)
    for number, (unit3, lowest, conditions) in expected.items():
        case = cases[number]
        assert case.unit_at(3) == unit3, number
        assert case.levels == tuple(range(lowest, 5)), number
        assert case.conditions == conditions, number
        for level, unit in case.items:  # every mapped unit is of its level and family
            assert re.fullmatch(rf"L{level}-[A-Z]{{3}}{'1' if family == 'general' else '2'}-\d\d", unit)


@pytest.mark.parametrize(("level", "general", "cloud"), [(1, 0, 0), (2, 16, 10), (3, 40, 15), (4, 42, 16)])
def test_flag_counts_per_level_equal_the_cases(
    catalogue: Catalogue, table: HighRiskTable, level: int, general: int, cloud: int
) -> None:
    assert len(catalogue.items_where(level=level, family="general", high_risk=True)) == general
    assert len(catalogue.items_where(level=level, family="cloud", high_risk=True)) == cloud
    flagged = {i.assessment_unit for i in catalogue.items_where(level=level, high_risk=True)}
    assert flagged == set(table.flagged_units(level))


def test_the_issue_s_missing_flags_are_added_and_caseless_flags_removed(catalogue: Catalogue) -> None:
    for unit in ("L3-CES1-09", "L3-SMC1-08", "L3-ORS1-01", "L3-HRS1-10", "L3-CMS1-08", "L3-CMS1-29", "L3-CMS1-31",
                 "L3-CNS2-03", "L3-ABS2-03", "L3-CES2-09", "L3-CES2-17", "L3-CES2-19", "L3-SMC2-02", "L3-CMS2-06"):
        found = catalogue.by_assessment_unit(unit)
        assert found is not None and found.high_risk, unit
    for unit in ("L3-PES1-06", "L3-CNS1-02", "L3-CES1-12", "L3-CES1-22", "L3-SMC1-09", "L3-MMS1-36",
                 "L3-CES2-11", "L3-SMC2-03", "L1-CES1-01"):
        found = catalogue.by_assessment_unit(unit)
        assert found is not None and not found.high_risk, unit


def test_level_four_only_cases_map_to_level_four_items(table: HighRiskTable, catalogue: Catalogue) -> None:
    units = {c.case: dict(c.items) for c in table.cases if c.case in ("6.1.3.2", "6.4.6.3", "7.2.1.3")}
    assert units == {"6.1.3.2": {4: "L4-PES1-22"}, "6.4.6.3": {4: "L4-CES1-32"}, "7.2.1.3": {4: "L4-CNS2-08"}}
    item = catalogue.by_assessment_unit("L4-CES1-32")
    assert item is not None and item.title == "异地灾备中心"


def test_conditions_are_data_a_system_meets_or_not(table: HighRiskTable) -> None:
    cases = {c.case: c for c in table.cases}
    continuity = cases["6.4.6.2"]  # 业务连续性要求高的第三级及以上
    assert continuity.applies(SystemProfile(level=3, continuity_high=True)).applies is True
    off = continuity.applies(SystemProfile(level=3, continuity_high=False))
    assert off.applies is False and "业务连续性要求高" in off.reason
    assert continuity.applies(SystemProfile(level=3, continuity_high=None)).applies is None
    assert continuity.applies(SystemProfile(level=2, continuity_high=True)).applies is False
    mfa = cases["6.4.1.3"]  # 第三级及以上, no condition
    assert mfa.applies(SystemProfile(level=3)).applies is True
    assert mfa.applies(SystemProfile(level=2)).applies is False
    assert cases["6.3.3.3"].applies(SystemProfile(level=3, key_industry=None)).applies is None
    # cloud: platform-side cases are judged by the platform's own assessment, customer cases by the tenant
    assert cases["7.4.2.1"].applies(SystemProfile(level=3, cloud_role="customer")).applies is False
    assert cases["7.4.2.1"].applies(SystemProfile(level=3, cloud_role="platform")).applies is True
    assert cases["7.6.1.1"].applies(SystemProfile(level=2, cloud_role="customer")).applies is True
    assert cases["7.3.1.1"].applies(SystemProfile(level=3, cloud_role="customer")).applies is True


def test_condition_thresholds_are_configurable_and_marked_unconfirmed(table: HighRiskTable) -> None:
    text = (Path(table.source) if Path(table.source).is_file() else Path("standards/high-risk-2025.yaml")).read_text(
        encoding="utf-8"
    )
    assert table.rules.rto_minutes_at_most == 240 and table.rules.dr_tier_at_least == 3
    assert table.rules.key_industry_default is None
    # the two condition rules of thresholds, and 6.9.4.1's remediation fact (only a re-test confirms it)
    assert text.count("confirmed: false") == 3
    assert "Libraggbond/reportReview" in text and "附录A 表A.1" in text


def test_a_flag_without_a_case_is_a_located_error(standards_copy: Path) -> None:
    path = standards_copy / "gbt22239-2019" / "level3-general.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = text.index("assessment_unit: L3-CES1-12")
    flag = text.index("high_risk: false", anchor)
    path.write_text(text[:flag] + "high_risk: true" + text[flag + len("high_risk: false"):], encoding="utf-8")
    catalogue = load_catalogue(standards_copy)
    with pytest.raises(CatalogueError) as caught:
        load_high_risk_table(standards_copy / "high-risk-2025.yaml", catalogue)
    [problem] = caught.value.diagnostics
    assert problem.file.endswith("level3-general.yaml") and problem.line > 0
    assert "L3-CES1-12" in problem.message and "no case" in problem.message
    assert "high_risk: false" in problem.hint


def test_a_case_mapped_to_an_unknown_unit_is_a_located_error(standards_copy: Path, catalogue: Catalogue) -> None:
    path = standards_copy / "high-risk-2025.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("'3': L3-CES1-09", "'3': L3-CES1-99"), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_high_risk_table(path, catalogue)
    messages = [d.message for d in caught.value.diagnostics]
    assert any("unknown assessment unit L3-CES1-99" in m for m in messages)
    assert any("L3-CES1-09" in m and "no case" in m for m in messages)
    assert all(d.line > 0 for d in caught.value.diagnostics)


def test_a_failed_high_risk_item_forces_non_compliance_whatever_the_rate(scoring: ScoringConfig) -> None:
    results = [ItemResult(f"i{n}", "符合") for n in range(99)] + [ItemResult("L3-CES1-04", "不符合", high_risk=True)]
    scored = score_dengbao(results, scoring.dengbao)
    assert scored.rate == pytest.approx(0.99)
    assert scored.conclusion == "不符合" and scored.high_risk_items == ("L3-CES1-04",)


# -- the scan: conditions judged from the manifest ---------------------------------------------------------

def test_the_scan_judges_case_conditions_from_the_manifest() -> None:
    result = scan(ScanOptions(root=FIXTURE, systems=("bad-mfa",)))
    ctx = setup(ScanOptions(root=FIXTURE))
    system = ctx.register.systems["bad-mfa"]
    assert system.level == 3
    items = result.systems[0].items
    card = dengbao_card(ctx, items, system)
    assert "GB/T 22239-2019:8.1.4.1.d" in card.high_risk  # case 6.4.1.3, no condition: 不符合 regardless of rate
    assert card.verdict in (None, "不符合") and card.verdict_range == ("不符合", "不符合")

    def failed(item_id: str, *, rule_high: bool = False, attested: bool = False) -> list[ItemOutcome]:
        out: list[ItemOutcome] = []
        for o in items:
            if o.item_id == item_id:
                o = dataclasses.replace(o, state=ItemState.FAIL, underlying=ItemState.FAIL, high_risk=rule_high,
                                        attestation="A-1" if attested else None)
            out.append(o)
        return out

    hot = "GB/T 22239-2019:8.1.4.9.c"  # L3-CES1-31, case 6.4.6.2: 业务连续性要求高
    low = dataclasses.replace(system, classification=dataclasses.replace(
        system.classification, continuity_high=False, conditions_basis="藏网信〔2026〕12号"))
    high = dataclasses.replace(system, continuity=dataclasses.replace(system.continuity, rto_minutes=30))
    assert hot in dengbao_card(ctx, failed(hot, rule_high=True), high).high_risk
    assert hot not in dengbao_card(ctx, failed(hot, rule_high=True), low).high_risk
    # a level-3 system declaring a worse RTO and DR tier than its level allows stays a high-continuity system:
    # the shortfall (a failed continuity item) lifted the guide's veto
    worse = dataclasses.replace(system, continuity=dataclasses.replace(system.continuity, rto_minutes=10_000,
                                                                       dr_tier=0))
    assert hot in dengbao_card(ctx, failed(hot, rule_high=True), worse).high_risk
    # an attested 不符合 of a case without mitigations (6.7.1.1 领导机构, 缓解措施：无) is a high-risk finding
    leader = "GB/T 22239-2019:8.1.7.1.a"
    assert leader in dengbao_card(ctx, failed(leader, attested=True), low).high_risk
    # … but of a case that lists mitigations (6.4.2.2) it is left to the assessor's judgement
    policy = "GB/T 22239-2019:8.1.4.2.e"
    assert policy not in dengbao_card(ctx, failed(policy, attested=True), low).high_risk


def test_the_manifest_decides_the_guides_conditions_and_an_undecided_continuity_follows_the_level() -> None:
    """A review: 业务连续性要求高 was presumed from the declared RTO / DR tier alone, which the level-3 thresholds
    equal — every compliant level-3 system was high-continuity and one declaring a worse RTO was not; 关键行业 had
    no manifest field although the documentation said the manifest settles it, so a fully tested system with a
    failure of a 关键行业 case never got a definite conclusion."""
    ctx = setup(ScanOptions(root=FIXTURE))
    system = ctx.register.systems["bad-mfa"]
    rules, level3 = default_high_risk_table().rules, continuity_for(None, 3)

    def profile(continuity_high: bool | None = None, key_industry: bool | None = None, rto: int = 240,
                tier: int = 3, level_limits: Mapping[str, int] | None = level3) -> SystemProfile:
        return profile_of(dataclasses.replace(
            system, classification=dataclasses.replace(system.classification, continuity_high=continuity_high,
                                                       key_industry=key_industry),
            continuity=dataclasses.replace(system.continuity, rto_minutes=rto, dr_tier=tier)), rules, None,
            level_limits)

    assert profile().continuity_high is True and profile().key_industry is None
    assert profile(rto=300, tier=2).continuity_high is True  # the level holds it to 240 minutes
    assert profile(continuity_high=False).continuity_high is False  # the authority's decision
    assert profile(continuity_high=True, rto=10_000, tier=0, level_limits=continuity_for(None, 1)).continuity_high
    # a level-2 system is held to 1,440 minutes and tier 2: its own declaration decides
    assert profile(rto=300, tier=2, level_limits=continuity_for(None, 2)).continuity_high is False
    assert profile(rto=120, tier=2, level_limits=continuity_for(None, 2)).continuity_high is True
    assert profile(key_industry=False).key_industry is False and profile(key_industry=True).key_industry is True


def test_a_declared_condition_settles_the_conclusion() -> None:
    """Every item decided, one 关键行业 case failed (6.3.3.3, 8.1.3.3.c): the range 不符合–符合 until the manifest
    decides the condition — either way the conclusion is then definite."""
    ctx = setup(ScanOptions(root=FIXTURE))
    base = ctx.register.systems["bad-mfa"]
    row = scan(ScanOptions(root=FIXTURE, systems=("bad-mfa",))).systems[0].items
    item = "GB/T 22239-2019:8.1.3.3.c"  # L3-ABS1-12
    decided = [dataclasses.replace(o, state=ItemState.FAIL, underlying=ItemState.FAIL, rules=("XZ-MAN-X",),
                                   severity=Severity.HIGH, severe_failure=True, high_risk=True) if o.item_id == item
               else dataclasses.replace(o, state=ItemState.PASS, underlying=ItemState.PASS, high_risk=False,
                                        severe_failure=False)
               if o.state is not ItemState.NOT_APPLICABLE else o for o in row]
    assert any(o.item_id == item for o in decided)

    def card(key_industry: bool | None) -> ScoreCard:
        system = dataclasses.replace(base, classification=dataclasses.replace(
            base.classification, key_industry=key_industry, conditions_basis="藏网信〔2026〕12号" if key_industry
            is not None else ""))
        return dengbao_card(ctx, decided, system)

    assert card(None).verdict_range == ("不符合", "符合")
    assert card(True).verdict_range == ("不符合", "不符合") and item in card(True).high_risk
    assert card(False).verdict_range == ("符合", "符合") and item not in card(False).high_risk


def test_periodic_assessment_is_a_high_risk_only_when_overdue_and_its_risks_may_be_open() -> None:
    """Case 6.9.4.1: 系统定级备案后，未每年开展一次等级测评，且上次测评发现的高风险问题未及时整改 — both facts. A
    failed 8.1.9.9.a alone (a half-year level-4 duty missed, or a recent report concluding 不符合) is no veto."""
    ctx = setup(ScanOptions(root=FIXTURE, as_of=dt.date(2026, 12, 1)))
    base = ctx.register.systems["bad-mfa"]
    row = scan(ScanOptions(root=FIXTURE, systems=("bad-mfa",), as_of=dt.date(2026, 12, 1))).systems[0].items
    item = "GB/T 22239-2019:8.1.9.9.a"  # L3-CMS1-29

    def judged(record: AssessmentRecord | None, filed: str | None = "2020-01-01") -> ScoreCard:
        system = dataclasses.replace(
            base, assessments=dataclasses.replace(base.assessments, dengbao=record),
            classification=dataclasses.replace(base.classification, filing_date=filed))
        # this item failed by a rule at critical severity; every other failing item passes (no other veto)
        failed = [dataclasses.replace(o, state=ItemState.FAIL, underlying=ItemState.FAIL, rules=("XZ-MAN-X",),
                                      severity=Severity.CRITICAL, severe_failure=True) if o.item_id == item
                  else dataclasses.replace(o, state=ItemState.PASS, underlying=ItemState.PASS, high_risk=False,
                                           severe_failure=False)
                  if o.state in (ItemState.FAIL, ItemState.PARTIAL) else o for o in row]
        return dengbao_card(ctx, failed, system)

    def record(date: str, conclusion: str) -> AssessmentRecord:
        return AssessmentRecord(date, "某测评机构", conclusion)  # type: ignore[arg-type]

    def vetoed(card: ScoreCard) -> bool | None:
        """True: a high-risk finding; None: a possible one (worst case only); False: none."""
        if item in card.high_risk:
            return True
        return None if any(item in formula for label, formula, _ in card.steps if "判例条件未确定" in label) else False

    # overdue, last report 符合 or 基本符合: no high risk was left to remediate
    assert vetoed(judged(record("2025-10-01", "符合"))) is False
    assert vetoed(judged(record("2025-10-01", "基本符合"))) is False
    # assessed within the year, concluded 不符合: assessed yearly, so not this case (the item still fails)
    assert vetoed(judged(record("2026-04-15", "不符合"))) is False
    # overdue and last concluded 不符合: its high risks may be open — a possible finding, the worst case vetoed
    overdue_failed = judged(record("2025-10-01", "不符合"))
    assert vetoed(overdue_failed) is None and overdue_failed.verdict_range[0] == "不符合"
    # never assessed: due once filed over a year ago (remediation undecidable), not within the first year
    assert vetoed(judged(None, filed="2020-01-01")) is None
    assert vetoed(judged(None, filed="2026-06-01")) is False
    table = default_high_risk_table()
    profile = profile_of(dataclasses.replace(base, assessments=dataclasses.replace(
        base.assessments, dengbao=record("2025-10-01", "不符合"))), table.rules, dt.date(2026, 12, 1))
    assert (profile.not_assessed_yearly, profile.assessment_risks_open) == (True, None)
    profile = profile_of(dataclasses.replace(base, assessments=dataclasses.replace(
        base.assessments, dengbao=record("2026-11-30", "符合"))), table.rules, dt.date(2026, 12, 1))
    assert (profile.not_assessed_yearly, profile.assessment_risks_open) == (False, False)


def test_an_assessors_failure_of_a_mitigable_case_is_decided_by_the_assessors_high_risk_judgement() -> None:
    """6.4.2.2 (越权访问) lists mitigations: an attested 不符合 could never veto, so an assessor who found an
    unmitigated 越权访问 on site could not record a high risk (and signed a 符合). The attested row's high_risk
    decides; without it the failure is a possible finding (the worst case vetoed), as an untested item is."""
    ctx = setup(ScanOptions(root=FIXTURE))
    system = ctx.register.systems["bad-mfa"]
    row = scan(ScanOptions(root=FIXTURE, systems=("bad-mfa",))).systems[0].items
    policy = "GB/T 22239-2019:8.1.4.2.e"  # L3-CES1-09, case 6.4.2.2 (mitigations listed)
    leader = "GB/T 22239-2019:8.1.7.1.a"  # 6.7.1.1: 可能的缓解措施：无

    def card(item: str, result: ItemState, **judged: bool) -> ScoreCard:
        trail = {"by": "attestation", "set": "A-1", **judged}
        items = [dataclasses.replace(o, state=result, underlying=result, rules=(), attestation="A-1", trail=trail)
                 if o.item_id == item else
                 dataclasses.replace(o, state=ItemState.PASS, underlying=ItemState.PASS, high_risk=False,
                                     severe_failure=False) if o.state in (ItemState.FAIL, ItemState.PARTIAL) else o
                 for o in row]
        return dengbao_card(ctx, items, system)

    assert policy in card(policy, ItemState.FAIL, high_risk=True).high_risk
    assert policy in card(policy, ItemState.PARTIAL, high_risk=True).high_risk
    weighed = card(policy, ItemState.FAIL, high_risk=False)
    assert policy not in weighed.high_risk and not [s for s in weighed.steps if policy in s[1]]
    open_ = card(policy, ItemState.FAIL)
    assert policy not in open_.high_risk and open_.verdict_range is not None and open_.verdict_range[0] == "不符合"
    assert any(policy in formula and "high_risk" in formula for _, formula, _ in open_.steps), open_.steps
    assert policy not in card(policy, ItemState.PARTIAL).high_risk  # a 部分符合 without a judgement: not met
    # a case without mitigations vetoes whatever is written: the guide leaves nothing to weigh
    assert leader in card(leader, ItemState.FAIL, high_risk=False).high_risk

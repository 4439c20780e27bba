"""密评 quantitative score: hand-computed examples for each rule and edge case."""

from __future__ import annotations

import dataclasses

import pytest

from compliance.catalogue import Catalogue
from compliance.scoring import (
    CryptoObjectResult,
    ManagementUnitResult,
    ScoringConfig,
    ScoringError,
    object_score,
    score_miping,
)


def na_except(catalogue: Catalogue, *keep: str) -> list[str]:
    """Every unit short id except those of the ``keep`` aspects (declared not applicable)."""
    return [u.short_id for u in catalogue.crypto_units if u.aspect not in keep]


def obj(
    unit: str,
    name: str = "obj",
    d: bool | None = True,
    a: bool | None = True,
    k: bool | None = True,
    bits: int | None = None,
    rk: float | None = None,
    high_risk: bool = False,
) -> CryptoObjectResult:
    return CryptoObjectResult(unit, name, d, a, k, algorithm_strength_bits=bits, rk=rk, high_risk=high_risk)


@pytest.mark.parametrize(
    ("result", "rule", "expected"),
    [
        (obj("NC-1"), "2021", 1.0),
        (obj("NC-1"), "2023", 1.0),
        (obj("NC-1", d=False), "2021", 0.0),
        (obj("NC-1", d=False, a=False, k=False), "2023", 0.0),
        (obj("NC-1", a=False), "2021", 0.5),
        (obj("NC-1", k=False), "2021", 0.5),
        (obj("NC-1", a=False, k=False), "2021", 0.25),
        (obj("NC-1", a=False, bits=128), "2023", 0.5),  # 0.5 × Ra(≥112) 1
        (obj("NC-1", a=False, bits=112), "2023", 0.5),
        (obj("NC-1", a=False, bits=80), "2023", 0.25),  # 0.5 × Ra(80) 0.5
        (obj("NC-1", a=False, bits=56), "2023", 0.1),  # 0.5 × Ra(≤56) 0.2
        (obj("NC-1", a=False), "2023", 0.1),  # unknown strength → lowest band
        (obj("NC-1", k=False), "2023", 0.5),  # 0.5 × default Rk 1
        (obj("NC-1", k=False, rk=0.6), "2023", 0.3),
        (obj("NC-1", a=False, k=False, bits=80), "2023", 0.125),  # (0.5×0.5) × (0.5×1)
        (obj("NC-1", a=None, k=None), "2021", 1.0),  # not applicable to this object → met
    ],
)
def test_object_scores(
    catalogue: Catalogue, scoring: ScoringConfig, result: CryptoObjectResult, rule: str, expected: float
) -> None:
    value, how = object_score(result, catalogue.crypto_unit("NC-1"), scoring.miping, rule)  # type: ignore[arg-type]
    assert value == pytest.approx(expected)
    assert how.endswith(str(expected).rstrip("0").rstrip(".") if expected else "0")


def network_results() -> list[CryptoObjectResult]:
    return [
        obj("NC-1", "gateway"),  # 1
        obj("NC-1", "api", a=False),  # 2021: 0.5 → unit mean 0.75
        obj("NC-2"),  # 1
        obj("NC-3", d=False),  # 0
        obj("NC-5"),  # 1
    ]


def test_aspect_weights_by_strength_and_na_dropping_out(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    # level 3 network: NC-1 应 1, NC-2 宜 0.7, NC-3 应 1, NC-4 宜 (not applicable), NC-5 可 0.4
    # S = (1×0.75 + 0.7×1 + 1×0 + 0.4×1) / (1 + 0.7 + 1 + 0.4) = 1.85 / 3.1
    na = [*na_except(catalogue, "network"), "NC-4"]
    r = score_miping(catalogue, 3, scoring.miping, objects=network_results(), not_applicable=na, rule="2021")
    network = next(a for a in r.aspects if a.code == "network")
    assert network.score == pytest.approx(1.85 / 3.1)
    weights = {u.short_id: (u.weight, u.status) for u in network.units}
    assert weights["NC-4"] == (0.0, "not-applicable")
    assert weights["NC-5"][1] == "scored" and weights["NC-5"][0] == pytest.approx(0.4)
    # every other aspect is entirely not applicable → renormalised away: total = 100 × 20·S / 20
    assert [a.code for a in r.aspects if a.counted] == ["network"]
    assert r.score == pytest.approx(100 * 1.85 / 3.1)  # 59.68
    assert r.conclusion == "不符合"  # below the (unconfirmed) 基本符合 threshold of 60
    assert r.final


def test_all_na_aspect_counted_at_full_score_when_configured(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    full = dataclasses.replace(scoring.miping, all_na_aspect="full")
    na = [*na_except(catalogue, "network"), "NC-4"]
    r = score_miping(catalogue, 3, full, objects=network_results(), not_applicable=na, rule="2021")
    # (20 × 1.85/3.1 + 80 × 1) / 100 × 100
    assert r.score == pytest.approx(20 * 1.85 / 3.1 + 80)
    assert r.conclusion == "基本符合"


def test_rule_2023_changes_the_same_results(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    objects = [obj("NC-1", "gateway"), obj("NC-1", "api", a=False, bits=80)]  # 2023: 0.25 → mean 0.625
    na = [u.short_id for u in catalogue.crypto_units if u.short_id != "NC-1"]
    r2021 = score_miping(catalogue, 3, scoring.miping, objects=objects, not_applicable=na, rule="2021")
    r2023 = score_miping(catalogue, 3, scoring.miping, objects=objects, not_applicable=na)
    assert r2021.score == pytest.approx(75.0)
    assert r2023.rule == "2023" and r2023.score == pytest.approx(62.5)


def test_management_units_score_1_half_0(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    # 管理制度 at level 3: six 应 units; (1 + 0.5 + 0 + 1 + 1 + 1) / 6 = 0.75 → total 75
    statuses = {"MP-1": "符合", "MP-2": "部分符合", "MP-3": "不符合", "MP-4": "符合", "MP-5": "符合", "MP-6": "符合"}
    management = [ManagementUnitResult(u, s) for u, s in statuses.items()]  # type: ignore[arg-type]
    r = score_miping(
        catalogue, 3, scoring.miping, management=management, not_applicable=na_except(catalogue, "policy")
    )
    assert r.score == pytest.approx(75.0)
    assert r.conclusion == "基本符合"
    vetoed = [*management[:2], ManagementUnitResult("MP-3", "不符合", high_risk=True), *management[3:]]
    v = score_miping(catalogue, 3, scoring.miping, management=vetoed, not_applicable=na_except(catalogue, "policy"))
    assert v.score == pytest.approx(75.0)
    assert v.conclusion == "不符合" and v.high_risk_units == ("MP-3",)


def test_full_marks_across_all_aspects(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    objects = [obj(u.short_id) for u in catalogue.units_where(kind="technical")]
    management = [ManagementUnitResult(u.short_id, "符合") for u in catalogue.units_where(kind="management")]
    r = score_miping(catalogue, 3, scoring.miping, objects=objects, management=management)
    assert r.score == pytest.approx(100.0) and r.conclusion == "符合"
    assert sum(a.weight for a in r.aspects) == pytest.approx(100.0)


def test_weighted_total_over_two_aspects(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    # physical (W 10): PE-1..3 all 宜; PE-1 = 0 (D fails), PE-2 = PE-3 = 1 → S = 1.4/2.1 = 2/3
    # emergency (W 6): EM-1..3 应; 符合, 部分符合, 符合 → S = 2.5/3
    # total = 100 × (10 × 2/3 + 6 × 2.5/3) / 16 = 100 × 11.6667 / 16 = 72.917
    objects = [obj("PE-1", d=False), obj("PE-2"), obj("PE-3")]
    management = [
        ManagementUnitResult("EM-1", "符合"),
        ManagementUnitResult("EM-2", "部分符合"),
        ManagementUnitResult("EM-3", "符合"),
    ]
    na = na_except(catalogue, "physical", "emergency")
    # the 2021 rule renormalising over all aspects (2023 renormalises per group: tests/compliance/test_scoring_2023.py)
    legacy = dataclasses.replace(scoring.miping, all_na_aspect="renormalise")
    r = score_miping(catalogue, 3, legacy, objects=objects, management=management, not_applicable=na, rule="2021")
    assert r.score == pytest.approx(100 * (10 * 2 / 3 + 6 * 2.5 / 3) / 16)
    assert r.steps[-1].key == "conclusion"
    assert any(s.key == "total" and "/ 16" in s.formula for s in r.steps)


def test_untested_units_give_a_score_interval(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    # network at level 3 with only NC-1 tested (1); NC-2..5 untested (weights 0.7, 1, 0.7, 0.4)
    # lowest S = 1 / 3.8, highest S = 1 → total [26.32, 100]
    r = score_miping(
        catalogue, 3, scoring.miping, objects=[obj("NC-1")], not_applicable=na_except(catalogue, "network")
    )
    assert not r.final and r.score is None and r.conclusion is None
    assert r.untested_units == ("NC-2", "NC-3", "NC-4", "NC-5")
    assert r.score_range == (26.32, 100.0)  # 2023: the total rounded half up to 2 decimals
    assert r.conclusion_range == ("不符合", "符合")


def test_units_not_required_at_the_level_drop_out(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    # level 1 network: NC-1 可, NC-2 可, NC-3 可, NC-4 可, NC-5 不要求
    objects = [obj("NC-1"), obj("NC-2"), obj("NC-3"), obj("NC-4", d=False)]
    r = score_miping(catalogue, 1, scoring.miping, objects=objects, not_applicable=na_except(catalogue, "network"))
    network = next(a for a in r.aspects if a.code == "network")
    assert {u.short_id: u.status for u in network.units}["NC-5"] == "not-required"
    assert network.score == pytest.approx(0.75)  # equal weights 0.4: 3 of 4
    assert r.final and r.score == pytest.approx(75.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objects": [obj("MP-1")]}, "management unit"),
        ({"management": [ManagementUnitResult("NC-1", "符合")]}, "technical unit"),
        ({"objects": [obj("XX-9")]}, "unknown 密评 unit"),
        ({"objects": [obj("NC-1")], "not_applicable": ["NC-1"]}, "declared not applicable but has results"),
        (
            {"management": [ManagementUnitResult("MP-1", "符合"), ManagementUnitResult("MP-1", "不符合")]},
            "two management results",
        ),
    ],
)
def test_unscorable_inputs(
    catalogue: Catalogue, scoring: ScoringConfig, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        score_miping(catalogue, 3, scoring.miping, **kwargs)  # type: ignore[arg-type]


def test_everything_not_applicable_is_an_error(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    with pytest.raises(ScoringError, match="nothing to score"):
        score_miping(catalogue, 3, scoring.miping, not_applicable=[u.short_id for u in catalogue.crypto_units])


def test_invalid_object_values() -> None:
    with pytest.raises(ScoringError):
        CryptoObjectResult("NC-1", "x", True, True, True, rk=-0.1)
    with pytest.raises(ScoringError):
        CryptoObjectResult("NC-1", "x", True, True, True, algorithm_strength_bits=-1)


@pytest.mark.parametrize(("level", "rk"), [(3, 1.2), (4, 1.5)])
def test_an_explicit_rk_up_to_the_largest_configured_one_is_scored(
    catalogue: Catalogue, scoring: ScoringConfig, level: int, rk: float
) -> None:
    """The 2023 rule's Rk is 1.2 at level 3 and 1.5 at level 4; an explicit Rk of that value was refused (the
    object capped rk at 1). It scores as the module-level rule does."""
    assert dict(scoring.miping.rk_by_level)[level] == rk and scoring.miping.max_rk == 1.5
    unit = catalogue.crypto_unit("NC-1")
    explicit = object_score(CryptoObjectResult(unit.id, "o", True, True, False, rk=rk), unit, scoring.miping,
                            rule="2023", level=level)
    by_module = object_score(CryptoObjectResult(unit.id, "o", True, True, False, module_level_met=True), unit,
                             scoring.miping, rule="2023", level=level)
    assert explicit[0] == by_module[0] == pytest.approx(0.5 * rk)


def test_an_rk_above_the_largest_configured_one_is_refused(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    unit = catalogue.crypto_unit("NC-1")
    with pytest.raises(ScoringError, match=r"largest configured Rk 1\.5"):
        object_score(CryptoObjectResult(unit.id, "o", True, True, False, rk=1.6), unit, scoring.miping, rule="2023")
    lowered = dataclasses.replace(scoring.miping, rk_by_level=((3, 1.0), (4, 1.0)))
    with pytest.raises(ScoringError, match=r"largest configured Rk 1,"):
        object_score(CryptoObjectResult(unit.id, "o", True, True, False, rk=1.2), unit, lowered, rule="2023")


def test_an_object_score_stays_capped_at_full_marks_whatever_the_rk(
    catalogue: Catalogue, scoring: ScoringConfig
) -> None:
    """An Rk above 1 multiplies a failed K (0.5 × Rk): configured large enough it would lift the object above 1."""
    unit = catalogue.crypto_unit("NC-1")
    config = dataclasses.replace(scoring.miping, rk_by_level=((3, 1.2), (4, 3.0)))
    score, how = object_score(CryptoObjectResult(unit.id, "o", True, True, False, rk=3.0), unit, config, rule="2023")
    assert score == config.all_pass == 1.0 and "封顶" in how


def test_an_untested_required_unit_vetoes_the_worst_case(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    """An untested 应 unit may still hold a high-risk finding: the worst conclusion is 不符合 even where the lowest
    score reaches 基本符合 (before, e-invoice with 19 untested management units printed a settled 基本符合). Level 3
    network: NC-1 应 tested 1, NC-2 宜 tested 1, NC-4 宜 tested 1, NC-5 可 tested 1, NC-3 应 untested."""
    objects = [obj("NC-1"), obj("NC-2"), obj("NC-4"), obj("NC-5")]
    r = score_miping(catalogue, 3, scoring.miping, objects=objects, not_applicable=na_except(catalogue, "network"))
    assert r.untested_units == ("NC-3",) and not r.final
    assert r.score_range[0] >= 60  # by the score alone the worst case would be 基本符合
    assert r.conclusion_range == ("不符合", "符合") and r.high_risk_units == ()
    step = next(s for s in r.steps if s.key == "high_risk_possible")
    assert step.formula == "NC-3" and "应" in step.label
    # an untested 宜 unit cannot: NC-2 untested instead, NC-3 tested
    objects = [obj("NC-1"), obj("NC-3"), obj("NC-4"), obj("NC-5")]
    r = score_miping(catalogue, 3, scoring.miping, objects=objects, not_applicable=na_except(catalogue, "network"))
    assert r.untested_units == ("NC-2",) and r.conclusion_range[0] == "基本符合"
    assert not any(s.key == "high_risk_possible" for s in r.steps)
    # the strengths are configuration
    lenient = dataclasses.replace(scoring.miping, untested_high_risk_strengths=())
    r = score_miping(catalogue, 3, lenient, objects=[obj("NC-1"), obj("NC-2"), obj("NC-4"), obj("NC-5")],
                     not_applicable=na_except(catalogue, "network"))
    assert r.conclusion_range == ("基本符合", "符合")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"objects": [obj("NC-1"), obj("NC-2"), obj("NC-3"), obj("NC-4"), obj("NC-5", d=False, high_risk=True)]},
        {"objects": [obj("NC-1"), obj("NC-2"), obj("NC-3"), obj("NC-4"), obj("NC-5")]},
    ],
)
def test_results_for_a_unit_not_required_at_the_level_are_refused(
    catalogue: Catalogue, scoring: ScoringConfig, kwargs: dict[str, list[CryptoObjectResult]]
) -> None:
    """NC-5 is 不要求 at level 1: its results, a high-risk flag included, were dropped without a word."""
    assert catalogue.crypto_unit("NC-5").strength(1) == "不要求"
    with pytest.raises(ScoringError, match=r"NC-5 .* not required \(不要求\) at 密评 level 1"):
        score_miping(catalogue, 1, scoring.miping, not_applicable=na_except(catalogue, "network"), **kwargs)


def test_a_management_result_for_a_unit_not_required_is_refused(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    unit = next((u, lv) for u in catalogue.crypto_units for lv in (1, 2) if u.kind == "management"
                and u.strength(lv) == "不要求")
    with pytest.raises(ScoringError, match="不要求"):
        score_miping(catalogue, unit[1], scoring.miping, management=[ManagementUnitResult(unit[0].short_id, "不符合",
                                                                                             high_risk=True)])


@pytest.mark.parametrize(("level", "cap", "refused"), [(3, 1.2, 1.5), (2, 1.0, 1.2), (1, 1.0, 1.2)])
def test_an_explicit_rk_is_capped_by_its_levels_rk(
    catalogue: Catalogue, scoring: ScoringConfig, level: int, cap: float, refused: float
) -> None:
    """The 2023 rule's Rk is 1.2 at level 3 (1 below): an explicit Rk of 1.5 at level 3 scored 0.75 where the rule
    allows at most 0.6."""
    unit = catalogue.crypto_unit("NC-1")
    score, _ = object_score(CryptoObjectResult(unit.id, "o", True, True, False, rk=cap), unit, scoring.miping,
                            rule="2023", level=level)
    assert score == pytest.approx(0.5 * cap)
    with pytest.raises(ScoringError, match=rf"largest configured Rk {cap:g} \(第{level}级\)"):
        object_score(CryptoObjectResult(unit.id, "o", True, True, False, rk=refused), unit, scoring.miping,
                     rule="2023", level=level)

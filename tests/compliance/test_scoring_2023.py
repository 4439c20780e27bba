"""密评 scoring by the 2023 量化评估规则: hand-computed examples for each 2023 rule.

N/A aspect renormalised within its group (70 × technical + 30 × management), the per-level weight table
(kept apart from 应/宜/可), Rk when the required module level is met, 弥补 max(0.5·PA, PB), and rounding
half up (objects, units, aspects to 4 decimals, the total to 2).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import yaml

from compliance.catalogue import Catalogue, CryptoUnit, default_standards_dir, load_catalogue
from compliance.scoring import (
    CryptoObjectResult,
    ManagementUnitResult,
    MipingConfig,
    ScoringError,
    load_scoring_config,
    object_score,
    score_miping,
)
from compliance.scoring.model import round_half_up


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def config() -> MipingConfig:
    return load_scoring_config().miping


def unit(catalogue: Catalogue, short: str) -> CryptoUnit:
    return catalogue.crypto_unit(short)


def everything(catalogue: Catalogue, level: int, **overrides: object) -> tuple[list[CryptoObjectResult],
                                                                             list[ManagementUnitResult]]:
    """Every unit required at ``level`` passing, except ``overrides`` (short id → result or status)."""
    objects: list[CryptoObjectResult] = []
    management: list[ManagementUnitResult] = []
    for u in catalogue.crypto_units:
        if not u.required_at(level):
            continue
        override = overrides.get(u.short_id.replace("-", "_"))
        if u.kind == "technical":
            objects.append(override if isinstance(override, CryptoObjectResult)
                           else CryptoObjectResult(u.short_id, "obj", True, True, True))
        else:
            management.append(ManagementUnitResult(u.short_id, override if isinstance(override, str)  # type: ignore[arg-type]
                                                   else "符合"))
    return objects, management


# -- rounding ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "digits", "expected"), [
    (2.675, 2, 2.68),  # binary 2.67499…: Python's round() gives 2.67, 四舍五入 gives 2.68
    (0.12345, 4, 0.1235),
    (2 / 3, 4, 0.6667),
    (0.83335, 4, 0.8334),
    (99.995, 2, 100.0),
    (0.1, None, 0.1),
])
def test_round_half_up(value: float, digits: int | None, expected: float) -> None:
    assert round_half_up(value, digits) == expected


def test_a_total_that_is_on_a_rounding_boundary_in_decimal_is_rounded_as_the_decimal() -> None:
    # the review's case: 70×(10×1 + 20×0.1882 + 10×1 + 30×0.2077)/70 + … summed to 59.99499999999999 in binary
    assert round_half_up(59.99499999999999, 2) == 60.0
    # the class: group totals of aspect scores (4 decimals) and integer weights, as _total sums them in floats,
    # against the same sums in exact decimal arithmetic
    from decimal import ROUND_HALF_UP, Decimal
    from fractions import Fraction

    rng = random.Random(20261204)
    wrong = 0
    for _ in range(20_000):
        technical = [(w, rng.randrange(0, 10_001)) for w in (10, 20, 10, 30)]  # (weight, score × 10⁴)
        management = [(w, rng.randrange(0, 10_001)) for w in (8, 7, 8, 7)]
        in_floats = sum(w * (s / 10_000) for w, s in technical) / 70 * 70 + \
            sum(w * (s / 10_000) for w, s in management) / 30 * 30
        exact = sum(Fraction(w * s, 10_000) for w, s in technical + management)
        expected = float((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP))
        wrong += round_half_up(in_floats, 2) != expected
    assert wrong == 0


def test_config_rounds_units_and_aspects_to_4_and_the_total_to_2(config: MipingConfig) -> None:
    assert config.rounding == (4, 4, 4, 2)


def test_unit_mean_and_aspect_rounded_to_4_total_to_2(catalogue: Catalogue, config: MipingConfig) -> None:
    # level 3, everything passes except NC-1 with three objects 1, 1, 0 (D fails on the third):
    # NC-1 = 2/3 → 0.6667; network weights NC-1..5 = 1, 0.7, 1, 0.7, 0.4 (Σ 3.8)
    # network S = (0.6667 + 0.7 + 1 + 0.7 + 0.4) / 3.8 = 3.4667 / 3.8 = 0.912289… → 0.9123
    # technical = (10×1 + 20×0.9123 + 10×1 + 30×1) / 70 → 70 × that = 68.246; management 30 → total 98.246 → 98.25
    objects, management = everything(catalogue, 3)
    objects = [o for o in objects if o.unit_id != "NC-1"] + [
        CryptoObjectResult("NC-1", "a", True, True, True), CryptoObjectResult("NC-1", "b", True, True, True),
        CryptoObjectResult("NC-1", "c", False, None, None)]
    r = score_miping(catalogue, 3, config, objects=objects, management=management)
    network = next(a for a in r.aspects if a.code == "network")
    nc1 = next(u for u in network.units if u.short_id == "NC-1")
    assert nc1.score == 0.6667
    assert network.score == 0.9123
    assert r.score == 98.25
    assert r.conclusion == "基本符合"


# -- weight table ------------------------------------------------------------------------------------------

def test_weights_come_from_the_per_level_table_not_from_strength(catalogue: Catalogue, config: MipingConfig) -> None:
    # level 3 physical: PE-1..3 are all 宜, but the 2023 table gives PE-1 weight 1 (notes), PE-2/PE-3 0.7.
    # PE-1 = 0 (D fails), PE-2 = PE-3 = 1 → table: 1.4 / 2.4 = 0.58333 → 0.5833; strength: 1.4 / 2.1 = 0.6667
    objects, management = everything(catalogue, 3, PE_1=CryptoObjectResult("PE-1", "门禁", False, None, None))
    table = score_miping(catalogue, 3, config, objects=objects, management=management)
    strength = score_miping(catalogue, 3, dataclasses.replace(config, unit_weights="strength"),
                            objects=objects, management=management)
    assert next(a for a in table.aspects if a.code == "physical").score == 0.5833
    assert next(a for a in strength.aspects if a.code == "physical").score == 0.6667
    weights = {u.short_id: u.weight for a in table.aspects for u in a.units}
    assert weights["PE-1"] == 1.0 and weights["PE-2"] == 0.7
    assert any("权重表 notes（未确认）" in s.label for s in table.steps if s.key == "unit:PE-1")
    # total: technical (10×0.5833 + 60) / 70 × 70 = 65.833, + 30 → 95.83
    assert table.score == 95.83


def test_every_weight_cites_its_source_and_is_marked(catalogue: Catalogue, config: MipingConfig) -> None:
    data = yaml.safe_load((default_standards_dir() / "miping-weights-2023.yaml").read_text(encoding="utf-8"))
    sources = data["metadata"]["sources"]
    for level, units in data["levels"].items():
        for short, entry in units.items():
            assert entry["source"] in sources, (level, short)
            assert entry["confirmed"] is False  # no entry is confirmed against the rules' text yet
            assert entry["strength"] == catalogue.crypto_unit(short).strength(int(level))
    required = {(lv, u.short_id) for u in catalogue.crypto_units for lv in (1, 2, 3, 4) if u.required_at(lv)}
    assert {(lv, u) for lv, u, *_ in config.weight_table} == required


def test_a_weight_table_missing_a_unit_is_a_located_error(tmp_path: Path) -> None:
    standards = tmp_path / "standards"
    standards.mkdir()
    (standards / "scoring.yaml").write_text((default_standards_dir() / "scoring.yaml").read_text("utf-8"), "utf-8")
    text = (default_standards_dir() / "miping-weights-2023.yaml").read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.strip().startswith("NC-5:")]
    (standards / "miping-weights-2023.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(Exception) as caught:
        load_scoring_config(standards / "scoring.yaml")
    [problem] = caught.value.diagnostics  # type: ignore[attr-defined]
    assert problem.line > 0 and problem.path == "miping.weight_table"
    assert "L3 NC-5" in problem.message and "unit_weights: strength" in problem.hint


# -- N/A aspect renormalised within its group -------------------------------------------------------------

def test_all_na_aspect_renormalises_within_its_group(catalogue: Catalogue, config: MipingConfig) -> None:
    # level 3: physical entirely not applicable; every technical unit left passes → technical average 1 → 70.
    # management: EM-2 部分符合 → emergency S = (1 + 0.5 + 1) / 3 = 0.8333;
    # management average = (8 + 8 + 8 + 6 × 0.8333) / 30 = 28.9998 / 30 → × 30 = 28.9998; total 98.9998 → 99.0
    # (renormalising over all aspects instead: 100 × (60 + 28.9998) / 90 = 98.89)
    objects, management = everything(catalogue, 3, EM_2="部分符合")
    objects = [o for o in objects if not o.unit_id.startswith("PE-")]
    na = ["PE-1", "PE-2", "PE-3"]
    group = score_miping(catalogue, 3, config, objects=objects, management=management, not_applicable=na)
    assert config.all_na_aspect == "group"
    assert [a.code for a in group.aspects if not a.counted] == ["physical"]
    assert next(a for a in group.aspects if a.code == "emergency").score == 0.8333
    assert group.score == 99.0
    total = next(s for s in group.steps if s.key == "total")
    assert "〔技术〕" in total.formula and "〔管理〕" in total.formula
    overall = score_miping(catalogue, 3, dataclasses.replace(config, all_na_aspect="renormalise"),
                           objects=objects, management=management, not_applicable=na)
    assert overall.score == 98.89


def test_a_whole_group_not_applicable_scales_the_other_to_100(catalogue: Catalogue, config: MipingConfig) -> None:
    # only network counted: NC-1 D fails (0), the rest pass → S = (0 + 0.7 + 1 + 0.7 + 0.4) / 3.8 = 0.7368
    objects = [CryptoObjectResult("NC-1", "x", False, None, None)] + [
        CryptoObjectResult(u, "x", True, True, True) for u in ("NC-2", "NC-3", "NC-4", "NC-5")]
    na = [u.short_id for u in catalogue.crypto_units if u.aspect != "network"]
    r = score_miping(catalogue, 3, config, objects=objects, not_applicable=na)
    assert r.score == 73.68  # 100/70 × 70 × 0.7368
    with pytest.raises(ScoringError, match="nothing to score"):
        score_miping(catalogue, 3, config, not_applicable=[u.short_id for u in catalogue.crypto_units])


# -- Rk ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "met", "expected"), [
    (3, True, 0.6),    # 0.5 × 1.2
    (4, True, 0.75),   # 0.5 × 1.5
    (2, True, 0.5),    # levels 1-2: Rk 1
    (3, False, 0.5),   # module below the required level: Rk 1
    (3, None, 0.5),
])
def test_rk_when_the_required_module_level_is_met(catalogue: Catalogue, config: MipingConfig, level: int,
                                                  met: bool | None, expected: float) -> None:
    result = CryptoObjectResult("NC-3", "tls", True, True, False, module_level_met=met)
    score, how = object_score(result, unit(catalogue, "NC-3"), config, "2023", level)
    assert score == expected
    assert "Rk(" in how


def test_a_and_k_both_fail_multiply_ra_and_rk(catalogue: Catalogue, config: MipingConfig) -> None:
    # 0.5 × Ra(80 bit → 0.5) × 0.5 × Rk(1.2) = 0.15
    result = CryptoObjectResult("NC-3", "3des", True, False, False, algorithm_strength_bits=80, module_level_met=True)
    assert object_score(result, unit(catalogue, "NC-3"), config, "2023", 3)[0] == 0.15
    # the 2021 rule ignores Ra and Rk: 0.25
    assert object_score(result, unit(catalogue, "NC-3"), config, "2021", 3)[0] == 0.25


def test_config_rk_by_level_is_marked_unconfirmed(config: MipingConfig) -> None:
    assert dict(config.rk_by_level) == {3: 1.2, 4: 1.5}
    text = (default_standards_dir() / "scoring.yaml").read_text(encoding="utf-8")
    block = text[text.index("rk_by_level") - 400:text.index("rk_by_level")]
    assert "unconfirmed" in block and "Source" in block


# -- 弥补 --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("b", "pa", "expected"), [
    (CryptoObjectResult("AD-4", "B", False, None, None, compensated_by=1.0), 1.0, 0.5),  # MAX(0.5, 0)
    (CryptoObjectResult("AD-4", "B", True, True, False, module_level_met=True, compensated_by=1.0), 1.0, 0.6),
    (CryptoObjectResult("AD-4", "B", True, False, False, algorithm_strength_bits=0, compensated_by=0.75), 0.75,
     0.375),  # PB = 0.25 × 0.2 × 1 = 0.05; MAX(0.375, 0.05)
    (CryptoObjectResult("AD-4", "B", True, True, True, compensated_by=0.3), 0.3, 1.0),  # PB already 1
])
def test_compensation_takes_max_of_half_pa_and_pb(catalogue: Catalogue, config: MipingConfig,
                                                  b: CryptoObjectResult, pa: float, expected: float) -> None:
    score, how = object_score(b, unit(catalogue, "AD-4"), config, "2023", 3)
    assert score == expected
    assert f"MAX(0.5×{pa:g}" in how


def test_compensation_flows_into_the_unit_and_total(catalogue: Catalogue, config: MipingConfig) -> None:
    # AD-4 (应, 1) has two objects: A passes (1), B fails D but A compensates → 0.5; unit = 0.75
    # application weights AD-1..8 at level 3: 1, 0.7, 0.7, 1, 1, 0.7, 0.7, 0.7 (Σ 6.5)
    # S = (6.5 − 0.25) / 6.5 = 0.961538 → 0.9615; total = 70 × (10+20+10+30×0.9615)/70 + 30 = 98.845 → 98.85
    objects, management = everything(catalogue, 3)
    objects = [o for o in objects if o.unit_id != "AD-4"] + [
        CryptoObjectResult("AD-4", "A", True, True, True),
        CryptoObjectResult("AD-4", "B", False, None, None, compensated_by=1.0)]
    r = score_miping(catalogue, 3, config, objects=objects, management=management)
    application = next(a for a in r.aspects if a.code == "application")
    assert next(u for u in application.units if u.short_id == "AD-4").score == 0.75
    assert application.score == 0.9615
    assert r.score == 98.85


def test_compensation_pa_out_of_range_is_refused() -> None:
    with pytest.raises(ScoringError, match="compensated_by"):
        CryptoObjectResult("AD-4", "B", False, None, None, compensated_by=1.5)

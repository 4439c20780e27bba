"""等保 conclusion: hand-computed examples for the 2025 rate rule and the legacy score."""

from __future__ import annotations

import dataclasses

import pytest

from compliance.catalogue import Catalogue
from compliance.scoring import ItemResult, ScoringConfig, ScoringError, score_dengbao
from compliance.scoring.model import ItemStatus


def results(**counts: int) -> list[ItemResult]:
    """``results(符合=3, 不符合=1)`` → ItemResults with ids i0, i1, …"""
    out: list[ItemResult] = []
    for status, n in counts.items():
        for _ in range(n):
            out.append(ItemResult(f"i{len(out)}", status))  # type: ignore[arg-type]
    return out


def test_rate_is_credit_over_applicable_items(scoring: ScoringConfig) -> None:
    # 18 + 2×0.5 = 19 over 20 applicable (不适用 drops out) → 0.95 → 符合
    r = score_dengbao(results(符合=18, 部分符合=2, 不适用=1), scoring.dengbao)
    assert r.applicable == 20
    assert r.credited == pytest.approx(19.0)
    assert r.rate == pytest.approx(0.95)
    assert r.conclusion == "符合" and r.final
    assert [s.key for s in r.steps] == ["counts", "applicable", "credited", "rate", "conclusion"]
    assert "19/20 = 0.95" in r.steps[3].formula


@pytest.mark.parametrize(
    ("counts", "rate", "conclusion"),
    [
        ({"符合": 9, "不符合": 1}, 0.9, "符合"),  # the 90 % boundary is 符合
        ({"符合": 15, "部分符合": 3, "不符合": 2}, 0.825, "基本符合"),  # (15 + 1.5) / 20
        ({"符合": 6, "不符合": 4}, 0.6, "基本符合"),  # the 60 % boundary is 基本符合
        ({"符合": 5, "部分符合": 1, "不符合": 4}, 0.55, "不符合"),  # 5.5 / 10
    ],
)
def test_conclusion_thresholds(scoring: ScoringConfig, counts: dict[str, int], rate: float, conclusion: str) -> None:
    r = score_dengbao(results(**counts), scoring.dengbao)
    assert r.rate == pytest.approx(rate)
    assert r.conclusion == conclusion


def test_high_risk_vetoes_a_high_rate(scoring: ScoringConfig) -> None:
    items = [*results(符合=20), ItemResult("weak-password", "不符合", high_risk=True)]
    r = score_dengbao(items, scoring.dengbao)
    assert r.rate == pytest.approx(20 / 21)
    assert r.conclusion == "不符合"
    assert r.high_risk_items == ("weak-password",)
    assert any(s.key == "high_risk" for s in r.steps)


def test_untested_items_give_an_interval(scoring: ScoringConfig) -> None:
    # 10 expected, 8 tested: credited 6 + 0.5 = 6.5; lowest 6.5/10, highest (6.5 + 2)/10
    tested = results(符合=6, 部分符合=1, 不符合=1)
    expected = [r.item_id for r in tested] + ["u1", "u2"]
    r = score_dengbao(tested, scoring.dengbao, expected_items=expected)
    assert r.counts["未测"] == 2
    assert r.rate is None and r.conclusion is None and not r.final
    assert r.rate_range == pytest.approx((0.65, 0.85))
    assert r.conclusion_range == ("基本符合", "基本符合")
    worst_case = score_dengbao(tested, scoring.dengbao, expected_items=expected, high_risk_capable={"u2"})
    assert worst_case.conclusion_range == ("不符合", "基本符合")


def test_partial_credit_is_configurable(scoring: ScoringConfig) -> None:
    config = dataclasses.replace(scoring.dengbao, credit=(("符合", 1.0), ("部分符合", 0.6), ("不符合", 0.0)))
    r = score_dengbao(results(符合=8, 部分符合=2), config)
    assert r.rate == pytest.approx(0.92)


@pytest.mark.parametrize(
    ("counts", "score", "grade"),
    [
        ({"符合": 17, "部分符合": 2, "不符合": 1}, 90.0, "优"),
        ({"符合": 16, "不符合": 4}, 80.0, "良"),
        ({"符合": 14, "部分符合": 2, "不符合": 4}, 75.0, "中"),
        ({"符合": 13, "不符合": 7}, 65.0, "差"),
    ],
)
def test_legacy_score_and_grade(scoring: ScoringConfig, counts: dict[str, int], score: float, grade: str) -> None:
    r = score_dengbao(results(**counts), scoring.dengbao, rule="legacy-score")
    assert r.rule == "legacy-score"
    assert r.score == pytest.approx(score)
    assert r.grade == grade == r.verdict
    assert r.conclusion is None


def test_legacy_high_risk_is_poor(scoring: ScoringConfig) -> None:
    items = [*results(符合=19), ItemResult("x", "部分符合", high_risk=True)]
    legacy = dataclasses.replace(scoring.dengbao, rule="legacy-score")
    r = score_dengbao(items, legacy)
    assert r.score == pytest.approx(97.5)
    assert r.grade == "差"


def test_legacy_interval(scoring: ScoringConfig) -> None:
    r = score_dengbao(
        results(符合=8), scoring.dengbao, expected_items=[*(f"i{n}" for n in range(8)), "a", "b"], rule="legacy-score"
    )
    assert r.score is None and r.score_range == pytest.approx((80.0, 100.0))
    assert r.grade_range == ("良", "优")


def test_legacy_worst_grade_counts_untested_items_that_may_be_high_risk(scoring: ScoringConfig) -> None:
    """The legacy grade's worst case is 差 when an untested item could be a high-risk finding (as the 2025 rule's
    worst conclusion is 不符合): a review's mutation graded the worst case with the decided vetoes only."""
    tested = results(符合=8)
    expected = [*(r.item_id for r in tested), "a", "b"]
    plain = score_dengbao(tested, scoring.dengbao, expected_items=expected, rule="legacy-score")
    assert plain.grade_range == ("良", "优")
    capable = score_dengbao(tested, scoring.dengbao, expected_items=expected, rule="legacy-score",
                            high_risk_capable={"b"})
    assert capable.score_range == pytest.approx((80.0, 100.0)) and capable.grade_range == ("差", "优")


def test_scoring_the_catalogue_level(catalogue: Catalogue, scoring: ScoringConfig) -> None:
    level3 = catalogue.items_where(level=3, family="general")
    outcome: list[ItemResult] = [ItemResult(i.id, "符合") for i in level3[:200]]
    r = score_dengbao(
        outcome,
        scoring.dengbao,
        expected_items=[i.id for i in level3],
        high_risk_capable={i.id for i in level3 if i.high_risk},
    )
    assert r.applicable == 211 and r.counts["未测"] == 11
    assert r.rate_range == pytest.approx((200 / 211, 1.0))


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([ItemResult("a", "符合"), ItemResult("a", "不符合")], "two results"),
        ([ItemResult("a", "不适用")], "no applicable items"),
    ],
)
def test_unscorable_results(scoring: ScoringConfig, items: list[ItemResult], message: str) -> None:
    with pytest.raises(ScoringError, match=message):
        score_dengbao(items, scoring.dengbao)


def test_results_outside_the_expected_set_are_rejected(scoring: ScoringConfig) -> None:
    with pytest.raises(ScoringError, match="outside the expected set"):
        score_dengbao([ItemResult("zzz", "符合")], scoring.dengbao, expected_items=["a"])


@pytest.mark.parametrize(("status", "high_risk"), [("未知", False), ("符合", True), ("不适用", True), ("未测", True)])
def test_invalid_item_results(status: str, high_risk: bool) -> None:
    with pytest.raises(ScoringError):
        ItemResult("a", status, high_risk=high_risk)  # type: ignore[arg-type]


def test_an_untested_item_is_not_a_high_risk_finding(scoring: ScoringConfig) -> None:
    """A high risk judges a tested shortfall. A 未测 result flagged high risk vetoed the conclusion although nothing
    had been judged; an untested item's possible risk is the worst case (``high_risk_capable``) and no more."""
    with pytest.raises(ScoringError, match="only a 不符合 or 部分符合 result can"):
        ItemResult("x", "未测", high_risk=True)
    r = score_dengbao([*results(符合=20), ItemResult("x", "未测")], scoring.dengbao, high_risk_capable={"x"})
    assert r.high_risk_items == () and r.conclusion_range == ("不符合", "符合")


def test_status_literal_covers_the_five_results() -> None:
    from typing import get_args

    assert get_args(ItemStatus) == ("符合", "部分符合", "不符合", "不适用", "未测")


@pytest.mark.parametrize("credit", ["0.3", "0.4", "0.5", "0.6", "0.7", "0.35", "0.45"])
def test_a_rate_exactly_at_a_threshold_reaches_it_whatever_the_partial_credit(
    scoring: ScoringConfig, credit: str
) -> None:
    """With a 部分符合 credit other than 0.5 the float rate at a threshold came out a hair below it: credit 0.3,
    18 符合 + 3 部分符合 of 21 gave 0.8999999999999999 → 基本符合 instead of 符合. Every (n, 符合, 部分符合) whose
    exact rate is a threshold must reach it, and one just below must not."""
    from fractions import Fraction

    config = dataclasses.replace(scoring.dengbao, credit=(("符合", 1.0), ("部分符合", float(credit)), ("不符合", 0.0)))
    part = Fraction(credit)
    thresholds = {Fraction(str(minimum)): conclusion for conclusion, minimum in config.conclusions}
    checked = 0
    for n in range(1, 61):
        for partial in range(n + 1):
            for ok in range(n - partial + 1):
                exact = (ok + partial * part) / n
                if exact not in thresholds:
                    continue
                scored = score_dengbao(results(符合=ok, 部分符合=partial, 不符合=n - ok - partial), config)
                assert scored.conclusion == thresholds[exact], (n, ok, partial, scored.rate)
                checked += 1
    assert checked > 20


def test_the_legacy_grade_threshold_is_exact_too(scoring: ScoringConfig) -> None:
    config = dataclasses.replace(scoring.dengbao, credit=(("符合", 1.0), ("部分符合", 0.3), ("不符合", 0.0)))
    scored = score_dengbao(results(符合=18, 部分符合=3), config, rule="legacy-score")
    assert scored.grade == "优" and scored.score == pytest.approx(90.0)


def test_a_possible_high_risk_finding_keeps_a_fully_tested_conclusion_open(scoring: ScoringConfig) -> None:
    """A tested 不符合 whose high-risk case has an undecided condition vetoes the worst case only: the conclusion
    is the range 不符合–符合 (not final), and the derivation names the open condition."""
    items = [*results(符合=199), ItemResult("L3-ABS1-12", "不符合")]
    why = "判例 6.3.3.3 条件“关键行业”未确定（清单未声明）"
    scored = score_dengbao(items, scoring.dengbao, possible_high_risk={"L3-ABS1-12": why})
    assert scored.conclusion is None and scored.conclusion_range == ("不符合", "符合") and not scored.final
    assert scored.rate == pytest.approx(0.995) and scored.high_risk_items == ()
    assert scored.possible_high_risk_items == ("L3-ABS1-12",)
    step = next(s for s in scored.steps if s.key == "high_risk_undecided")
    assert "关键行业" in step.formula and "L3-ABS1-12" in step.formula
    # without it (the condition decided against the case) the same results are a final 符合
    assert score_dengbao(items, scoring.dengbao).conclusion == "符合"
    # a possible finding of an item that did not fail changes nothing
    passed = score_dengbao(results(符合=200), scoring.dengbao, possible_high_risk={"i0": why})
    assert passed.conclusion == "符合" and passed.final

"""等保 (GB/T 22239-2019, assessed per GB/T 28448-2019) conclusion from per-item results.

Rule ``rate-2025`` (default): compliance rate = Σ credit(status) / applicable items, with credit
符合 1, 部分符合 0.5 (unconfirmed), 不符合 0; 不适用 items are not applicable and drop out. The
conclusion is 符合 (rate ≥ 90 %), 基本符合 (≥ 60 %) or 不符合; any high-risk finding forces 不符合.

Rule ``legacy-score`` (unconfirmed): the older report template's 0-100 score, here 100 × rate, graded
优 ≥ 90, 良 ≥ 80, 中 ≥ 70, else 差; any high-risk finding gives 差. The real template derived its
score from problem severity with corrections; that formula is not reproduced (see docs/standards.md).

While items are still 未测 the result is an interval: the lowest value assumes every untested item
fails (and is high risk when listed in ``high_risk_capable``), the highest that every one complies.
A tested failure (不符合, or 部分符合 where one of its checks failed) that is a *possible* high-risk finding
(``possible_high_risk``: its 2025-guide case has a condition the manifest leaves open, e.g. 关键行业)
vetoes the worst case only: the conclusion is then a range, and the derivation names the open condition,
even when every item is tested.

Credits, counts and thresholds are exact (:class:`fractions.Fraction`, the configured decimals as written): a
rate exactly at a threshold reaches it whatever the 部分符合 credit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Literal

from compliance.scoring.config import DengbaoConfig, Grade, Verdict
from compliance.scoring.model import ITEM_STATUSES, ItemResult, ScoringError, Step, decimal_fraction, fmt

__all__ = ["DengbaoResult", "score_dengbao"]


@dataclass(frozen=True)
class DengbaoResult:
    rule: Literal["rate-2025", "legacy-score"]
    counts: Mapping[str, int]  #: results per status (符合, 部分符合, 不符合, 不适用, 未测)
    applicable: int  #: items that count: all but 不适用 (未测 included)
    credited: float  #: Σ credit over tested items
    rate: float | None  #: final compliance rate (0..1); None while items are untested
    rate_range: tuple[float, float]  #: (lowest, highest) possible rate
    high_risk_items: tuple[str, ...]
    conclusion: Verdict | None  #: rate-2025 only; None while items are untested
    conclusion_range: tuple[Verdict, Verdict] | None  #: (worst, best), rate-2025 only
    score: float | None  #: legacy-score only, 0..100
    score_range: tuple[float, float] | None
    grade: Grade | None
    grade_range: tuple[Grade, Grade] | None
    final: bool  #: no item left untested and no possible high-risk finding left open: one conclusion
    steps: tuple[Step, ...]
    #: tested failures that are high-risk findings only if an open case condition holds (worst case only)
    possible_high_risk_items: tuple[str, ...] = ()

    @property
    def verdict(self) -> str | None:
        """The headline of the selected rule: the conclusion, or the legacy grade."""
        return self.conclusion if self.rule == "rate-2025" else self.grade


def score_dengbao(
    results: Iterable[ItemResult],
    config: DengbaoConfig,
    *,
    expected_items: Iterable[str] | None = None,
    high_risk_capable: Set[str] = frozenset(),
    possible_high_risk: Mapping[str, str] | None = None,
    rule: Literal["rate-2025", "legacy-score"] | None = None,
) -> DengbaoResult:
    """Score one system's 等保 results.

    ``expected_items``: the item ids that apply to the system (e.g. its level's catalogue items);
    any without a result counts as 未测 and results for other ids are an error. ``high_risk_capable``:
    items whose failure could be high risk (the catalogue flag), used for the worst case of untested
    items. ``possible_high_risk``: item id → why its failure may be a high-risk finding (the open
    condition, in Chinese); such a failed (or partly failed) item vetoes the worst case, so the conclusion stays a
    range until the condition is decided. ``rule`` overrides ``config.rule``.
    """
    rule = rule or config.rule
    by_id: dict[str, ItemResult] = {}
    for result in results:
        if result.item_id in by_id:
            raise ScoringError(f"two results for item {result.item_id}")
        by_id[result.item_id] = result
    if expected_items is not None:
        expected = list(dict.fromkeys(expected_items))
        unknown = sorted(set(by_id) - set(expected))
        if unknown:
            raise ScoringError(
                f"results for items outside the expected set: {', '.join(unknown[:5])}"
                + (" …" if len(unknown) > 5 else "")
            )
        for item_id in expected:
            by_id.setdefault(item_id, ItemResult(item_id, "未测"))
    counts: Counter[str] = Counter(r.status for r in by_id.values())
    ordered_counts = {status: counts.get(status, 0) for status in ITEM_STATUSES}
    tested = counts["符合"] + counts["部分符合"] + counts["不符合"]
    untested = counts["未测"]
    applicable = tested + untested
    if applicable == 0:
        raise ScoringError("no applicable items to score (every result is 不适用)")

    steps: list[Step] = [
        Step(
            "counts",
            "结果统计",
            "，".join(f"{s} {n}" for s, n in ordered_counts.items()),
            tested + untested + counts["不适用"],
        ),
        Step(
            "applicable", "适用项数", f"{tested} 已测 + {untested} 未测（不含不适用 {counts['不适用']} 项）", applicable
        ),
    ]
    c_ok, c_part, c_fail = (decimal_fraction(config.credit_for(s)) for s in ("符合", "部分符合", "不符合"))
    credited = counts["符合"] * c_ok + counts["部分符合"] * c_part + counts["不符合"] * c_fail
    steps.append(
        Step(
            "credited",
            "得分项合计",
            f"{counts['符合']}×{fmt(c_ok)} + {counts['部分符合']}×{fmt(c_part)} + "
            f"{counts['不符合']}×{fmt(c_fail)} = {fmt(credited)}",
            float(credited),
        )
    )
    rate_min = credited / applicable  # exact: Fraction / int
    rate_max = (credited + untested * c_ok) / applicable
    if untested:
        steps.append(
            Step(
                "rate_range",
                "符合率区间（未测项按不符合 / 符合计）",
                f"[{fmt(credited)}/{applicable}, ({fmt(credited)}+{untested}×{fmt(c_ok)})/{applicable}]"
                f" = [{fmt(rate_min)}, {fmt(rate_max)}]",
                f"{fmt(rate_min)}–{fmt(rate_max)}",
            )
        )
    else:
        steps.append(Step("rate", "符合率", f"{fmt(credited)}/{applicable} = {fmt(rate_min)}", float(rate_min)))

    high_risk_items = tuple(sorted(r.item_id for r in by_id.values() if r.high_risk))
    untested_capable = sorted(i for i, r in by_id.items() if r.status == "未测" and i in high_risk_capable)
    possible = {i: why for i, why in (possible_high_risk or {}).items()
                if i in by_id and by_id[i].status in ("不符合", "部分符合") and not by_id[i].high_risk}
    veto = bool(high_risk_items)
    worst_veto = veto or bool(untested_capable) or bool(possible)
    if high_risk_items:
        steps.append(
            Step("high_risk", "高风险否决", "存在高风险项：" + "、".join(high_risk_items), len(high_risk_items))
        )
    if untested_capable and not veto:
        steps.append(
            Step("high_risk_possible", "未测项可能构成高风险",
                 "、".join(untested_capable[:10]) + ("…" if len(untested_capable) > 10 else ""), len(untested_capable))
        )
    if possible and not veto:
        steps.append(
            Step(
                "high_risk_undecided",
                "不符合项可能构成高风险（判例条件未确定，最差情况按高风险否决）",
                "；".join(f"{i}：{why}" for i, why in sorted(possible.items())[:10])
                + ("…" if len(possible) > 10 else ""),
                len(possible),
            )
        )

    final = untested == 0 and (veto or not possible)
    conclusion: Verdict | None = None
    conclusion_range: tuple[Verdict, Verdict] | None = None
    score: float | None = None
    score_range: tuple[float, float] | None = None
    grade: Grade | None = None
    grade_range: tuple[Grade, Grade] | None = None
    if rule == "rate-2025":
        worst, best = config.conclusion_for(rate_min, worst_veto), config.conclusion_for(rate_max, veto)
        conclusion_range = (worst, best)
        thresholds = (
            "，".join(f"{c} ≥ {fmt(m * 100)}%" for c, m in config.conclusions) + f"，否则 {config.fallback_conclusion}"
        )
        if final:
            conclusion = best
            steps.append(Step("conclusion", "结论", f"{thresholds}{'；高风险否决' if veto else ''} → {best}", best))
        else:
            steps.append(
                Step("conclusion_range", "结论区间", f"{thresholds} → 最差 {worst}，最好 {best}", f"{worst}–{best}")
            )
    elif rule == "legacy-score":
        s_min, s_max = rate_min * 100, rate_max * 100  # exact
        score_range = (float(s_min), float(s_max))
        g_worst, g_best = config.grade_for(s_min, worst_veto), config.grade_for(s_max, veto)
        grade_range = (g_worst, g_best)
        thresholds = (
            "，".join(f"{g} ≥ {fmt(m)}" for g, m in config.legacy_grades) + f"，否则 {config.legacy_fallback_grade}"
        )
        if final:
            score, grade = float(s_min), g_best
            steps.append(Step("score", "综合得分（旧模板）", f"100 × {fmt(rate_min)} = {fmt(s_min)}", float(s_min)))
            steps.append(
                Step(
                    "grade",
                    "等级",
                    f"{thresholds}{'；存在高风险 → ' + config.legacy_high_risk_grade if veto else ''} → {g_best}",
                    g_best,
                )
            )
        else:
            steps.append(
                Step(
                    "score_range",
                    "综合得分区间（旧模板）",
                    f"[{fmt(s_min)}, {fmt(s_max)}]",
                    f"{fmt(s_min)}–{fmt(s_max)}",
                )
            )
            steps.append(
                Step("grade_range", "等级区间", f"{thresholds} → 最差 {g_worst}，最好 {g_best}", f"{g_worst}–{g_best}")
            )
    else:  # pragma: no cover - guarded by the Literal type and the config schema
        raise ScoringError(f"unknown 等保 scoring rule {rule!r}")

    return DengbaoResult(
        rule=rule,
        counts=ordered_counts,
        applicable=applicable,
        credited=float(credited),
        rate=float(rate_min) if untested == 0 else None,
        rate_range=(float(rate_min), float(rate_max)),
        high_risk_items=high_risk_items,
        conclusion=conclusion,
        conclusion_range=conclusion_range,
        score=score,
        score_range=score_range,
        grade=grade,
        grade_range=grade_range,
        final=final,
        steps=tuple(steps),
        possible_high_risk_items=tuple(sorted(possible)),
    )

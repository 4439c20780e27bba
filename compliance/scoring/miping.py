"""密评 (GB/T 39786-2021) quantitative score from D/A/K object results and management results.

Object score (technical units), D = 密码使用有效性, A = 算法/技术合规性, K = 密钥管理安全性:

- rule 2021: D fails → 0; A and K pass → 1; A or K fails → 0.5; both fail → 0.25;
- rule 2023 (default): D fails → 0; otherwise (A passes ? 1 : 0.5·Ra) × (K passes ? 1 : 0.5·Rk), with
  Ra by the security strength of the algorithm used (≥ 112 bit 1, ≥ 80 bit 0.5, lower or unknown 0.2)
  and Rk from the result, else ``rk_by_level`` when the keys' module meets the required level (1.2 at level 3,
  1.5 at level 4), else ``default_rk``; the 弥补 rule scores max(0.5·PA, PB) and ``rounding`` rounds half up
  (objects, units and aspects to 4 decimals, the total to 2). With Ra = Rk = 1 it equals the 2021 rule.

An indicator the unit does not use (catalogue ``dak``) or that a result leaves ``None`` counts as met.
Unit score = mean of its objects; a management unit scores 符合 1 / 部分符合 0.5 / 不符合 0.
Aspect score = Σ w·s / Σ w over its applicable units; units that are 不要求 at that level or declared not
applicable drop out, and the remaining weights are renormalised within the aspect (the division by Σ w does
exactly that). The unit weight w (:meth:`MipingConfig.unit_weight`, each step names its source):

- ``unit_weights: table`` (shipped in ``standards/scoring.yaml``; rule 2023 only): the weight of the unit at the
  system's level from the per-level table ``weight_table`` (``standards/miping-weights-2023.yaml``: values
  1 / 0.7 / 0.4 per unit and level, not a function of the strength — level-3 PE-1 weighs 1 although 宜; entries
  not yet checked against the rules' text are strength placeholders marked ``confirmed: false``);
- ``unit_weights: strength`` (and always under rule 2021): by the unit's
  strength at the system's level, ``strength_weights`` 应 1 / 宜 0.7 / 可 0.4.

Total over the aspects (weights 10/20/10/30 technical, 8/8/8/6 management, i.e. 70/30); when *every* unit of
an aspect drops out, ``all_na_aspect`` decides (:func:`_total`; the configuration must name one):

- ``group`` (shipped, the 2023 rules): the aspect leaves its group and the group is renormalised, total =
  70 × technical average + 30 × management average (group weight = the sum of its aspect weights; a group
  with no counted aspect drops out and the rest is scaled to 100);
- ``renormalise``: total = 100 × Σ W·S / Σ W over all remaining aspects, across the groups;
- ``full``: the aspect counts at full score (S = 1), total = 100 × Σ W·S / Σ W.

Any high-risk result forces 不符合.

Untested units (no result and not declared not applicable) make the result an interval: the lowest
total scores them 0, the highest 1. An untested unit at a strength in ``untested_high_risk_strengths`` (应 by
default) may still hold a high-risk finding: the worst conclusion is then 不符合, whatever its score.

Results for a unit the system's level does not require (不要求) are an error: they would be dropped unscored,
a high-risk flag with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from compliance.catalogue import Catalogue, CryptoUnit
from compliance.scoring.config import MipingConfig, Verdict
from compliance.scoring.model import (
    CryptoObjectResult,
    ManagementUnitResult,
    ScoringError,
    Step,
    fmt,
    round_half_up,
)

__all__ = ["AspectScore", "MipingResult", "UnitScore", "object_score", "score_miping"]

UnitStatus = Literal["scored", "untested", "not-applicable", "not-required"]


@dataclass(frozen=True)
class UnitScore:
    unit_id: str
    short_id: str
    name: str
    aspect: str
    strength: str  #: at the system's level
    weight: float  #: 0 when the unit drops out
    status: UnitStatus
    score: float | None  #: None unless scored
    object_scores: tuple[tuple[str, float], ...]  #: (object name, score)
    high_risk: bool


@dataclass(frozen=True)
class AspectScore:
    code: str
    name: str
    weight: float  #: configured aspect weight W
    counted: bool  #: False when every unit dropped out
    score_range: tuple[float, float]  #: (lowest, highest) aspect score S in 0..1
    units: tuple[UnitScore, ...]

    @property
    def score(self) -> float | None:
        low, high = self.score_range
        return low if self.counted and low == high else None


@dataclass(frozen=True)
class MipingResult:
    rule: Literal["2021", "2023"]
    level: int
    score: float | None  #: 0..100; None while units are untested
    score_range: tuple[float, float]
    conclusion: Verdict | None
    conclusion_range: tuple[Verdict, Verdict]  #: (worst, best)
    high_risk_units: tuple[str, ...]
    untested_units: tuple[str, ...]
    final: bool
    aspects: tuple[AspectScore, ...]
    steps: tuple[Step, ...]


def object_score(
    result: CryptoObjectResult,
    unit: CryptoUnit,
    config: MipingConfig,
    rule: Literal["2021", "2023"] | None = None,
    level: int | None = None,
) -> tuple[float, str]:
    """Score one test object; returns (score, the formula with its numbers).

    Rule 2023 also applies Rk by ``level`` when the result says the required module level is met, the
    弥补 rule max(0.5·PA, PB) when ``compensated_by`` gives PA, and rounds to ``rounding`` decimals."""
    rule = rule or config.rule
    cap = config.max_rk_at(level)
    if result.rk is not None and result.rk > cap:
        at = f" (第{level}级)" if level is not None else ""
        raise ScoringError(f"{result.unit_id}/{result.object_name}: rk must be between 0 and the largest "
                           f"configured Rk {fmt(cap)}{at}, got {fmt(result.rk)}")
    score, how = _raw_object_score(result, unit, config, rule, level)
    if rule != "2023":
        return score, how
    digits = config.rounding[0] if config.rounding else None
    if result.compensated_by is not None:
        pa = result.compensated_by
        compensated = min(max(config.compensation_factor * pa, score), config.all_pass)
        how += (f"；弥补：MAX({fmt(config.compensation_factor)}×PA, PB) = MAX({fmt(config.compensation_factor)}"
                f"×{fmt(pa)}, {fmt(score)}) → {fmt(round_half_up(compensated, digits))}")
        score = compensated
    return round_half_up(score, digits), how


def _raw_object_score(
    result: CryptoObjectResult, unit: CryptoUnit, config: MipingConfig, rule: str, level: int | None
) -> tuple[float, str]:
    d = result.d if unit.d else None
    a_ok = result.a is not False or not unit.a
    k_ok = result.k is not False or not unit.k
    if d is False:
        return config.d_fail, f"D 不符合 → {fmt(config.d_fail)}"
    if rule == "2021":
        if a_ok and k_ok:
            return config.all_pass, f"D/A/K 均符合 → {fmt(config.all_pass)}"
        if a_ok or k_ok:
            which = "K" if a_ok else "A"
            return config.a_or_k_fail, f"{which} 不符合 → {fmt(config.a_or_k_fail)}"
        return config.both_fail, f"A、K 均不符合 → {fmt(config.both_fail)}"
    half = config.a_or_k_fail
    parts: list[str] = []
    score = config.all_pass
    if not a_ok:
        ra = config.ra_for(result.algorithm_strength_bits)
        bits = (
            "强度未知，按最低档" if result.algorithm_strength_bits is None else f"{result.algorithm_strength_bits} bit"
        )
        score *= half * ra
        parts.append(f"A 不符合：{fmt(half)}×Ra({bits})={fmt(half)}×{fmt(ra)}")
    if not k_ok:
        if result.rk is not None:
            rk, why = result.rk, "给定"
        elif result.module_level_met and level is not None:
            rk, why = config.rk_for_module(level), f"第{level}级，密码模块达到要求等级"
        else:
            rk, why = config.default_rk, "默认"
        score *= half * rk
        parts.append(f"K 不符合：{fmt(half)}×Rk({why})={fmt(half)}×{fmt(rk)}")
    if not parts:
        return score, f"D/A/K 均符合 → {fmt(score)}"
    if score > config.all_pass:  # an Rk above 1 (or Ra) never lifts an object above full marks
        parts.append(f"封顶 {fmt(config.all_pass)}")
        score = config.all_pass
    return score, "；".join(parts) + f" → {fmt(score)}"


_GROUPS = (("technical", "技术", ("physical", "network", "device", "application")),
           ("management", "管理", ("policy", "personnel", "build_run", "emergency")))


def _total(aspects: Sequence[AspectScore], mode: str) -> tuple[float, float, str]:
    """(lowest, highest) total 0..100 and its formula (with the lowest values).

    ``group``: Σ over the technical and management groups of (group weight × weighted average of its counted
    aspects), group weight = the sum of its aspect weights (70 / 30), so an all-N/A aspect is renormalised
    within its group; a group with no counted aspect drops out and the rest is scaled to 100.
    ``renormalise``/``full``: 100 × Σ W·S / Σ W over the counted aspects."""
    counted = [a for a in aspects if a.counted]
    if not counted:
        raise ScoringError("nothing to score: every 密评 unit is not applicable or not required at this level")
    if mode != "group":
        total_w = sum(a.weight for a in counted)
        low = 100 * sum(a.weight * a.score_range[0] for a in counted) / total_w
        high = 100 * sum(a.weight * a.score_range[1] for a in counted) / total_w
        terms = " + ".join(f"{fmt(a.weight)}×{fmt(a.score_range[0])}" for a in counted)
        return low, high, f"100 × ({terms}) / {fmt(total_w)}"
    parts: list[tuple[float, float, float, str]] = []  # (group weight, low avg, high avg, formula)
    known = {code for _, _, codes in _GROUPS for code in codes}
    groups = [*_GROUPS, ("other", "其他", tuple(a.code for a in aspects if a.code not in known))]
    for _, name, codes in groups:
        members = [a for a in aspects if a.code in codes]
        inside = [a for a in members if a.counted]
        if not inside:
            continue
        group_w = sum(a.weight for a in members)
        inside_w = sum(a.weight for a in inside)
        low = sum(a.weight * a.score_range[0] for a in inside) / inside_w
        high = sum(a.weight * a.score_range[1] for a in inside) / inside_w
        terms = " + ".join(f"{fmt(a.weight)}×{fmt(a.score_range[0])}" for a in inside)
        parts.append((group_w, low, high, f"{fmt(group_w)}×({terms})/{fmt(inside_w)}〔{name}〕"))
    scale = 100 / sum(w for w, *_ in parts)
    low = scale * sum(w * lo for w, lo, _, _ in parts)
    high = scale * sum(w * hi for w, _, hi, _ in parts)
    formula = " + ".join(f for *_, f in parts)
    return low, high, formula if scale == 1 else f"{fmt(scale)} × ({formula})"


def _units(catalogue: Catalogue | Sequence[CryptoUnit]) -> tuple[CryptoUnit, ...]:
    return catalogue.crypto_units if isinstance(catalogue, Catalogue) else tuple(catalogue)


def score_miping(
    catalogue: Catalogue | Sequence[CryptoUnit],
    level: int,
    config: MipingConfig,
    *,
    objects: Iterable[CryptoObjectResult] = (),
    management: Iterable[ManagementUnitResult] = (),
    not_applicable: Iterable[str] = (),
    rule: Literal["2021", "2023"] | None = None,
) -> MipingResult:
    """Score one system at 密评 ``level`` (1-4). Unit ids may be namespaced ids or short ids (NC-1)."""
    if level not in (1, 2, 3, 4):
        raise ScoringError(f"密评 level must be 1-4, got {level}")
    rule = rule or config.rule
    units = _units(catalogue)
    index: dict[str, CryptoUnit] = {}
    for unit in units:
        index[unit.id] = unit
        index[unit.short_id] = unit

    def resolve(ref: str, what: str) -> CryptoUnit:
        found = index.get(ref.strip())
        if found is None:
            raise ScoringError(f"{what}: unknown 密评 unit {ref!r}")
        return found

    per_unit_objects: dict[str, list[CryptoObjectResult]] = {}
    for obj in objects:
        unit = resolve(obj.unit_id, f"object {obj.object_name!r}")
        if unit.kind != "technical":
            raise ScoringError(
                f"object {obj.object_name!r}: {unit.short_id} is a management unit; give a ManagementUnitResult"
            )
        per_unit_objects.setdefault(unit.id, []).append(obj)
    per_unit_mgmt: dict[str, ManagementUnitResult] = {}
    na: set[str] = set()
    for res in management:
        unit = resolve(res.unit_id, "management result")
        if unit.kind != "management":
            raise ScoringError(f"{unit.short_id} is a technical unit; give CryptoObjectResult objects")
        if unit.id in per_unit_mgmt:
            raise ScoringError(f"two management results for {unit.short_id}")
        if res.status == "不适用":
            na.add(unit.id)
        else:
            per_unit_mgmt[unit.id] = res
    for ref in not_applicable:
        na.add(resolve(ref, "not applicable").id)
    for unit_id in na:
        if unit_id in per_unit_objects or unit_id in per_unit_mgmt:
            raise ScoringError(f"{index[unit_id].short_id} is declared not applicable but has results")
    for unit_id in (*per_unit_objects, *per_unit_mgmt):
        if index[unit_id].strength(level) == "不要求":
            raise ScoringError(
                f"{index[unit_id].short_id} {index[unit_id].name} is not required (不要求) at 密评 level {level}, "
                "but has results: remove them, or score the system at the level that requires the unit"
            )

    steps: list[Step] = [Step("rule", "评分规则", f"{rule} 版量化评估规则，系统密评等级 {level}", rule)]
    aspects: list[AspectScore] = []
    aspect_order: list[str] = []
    by_aspect: dict[str, list[CryptoUnit]] = {}
    for unit in units:
        if unit.aspect not in by_aspect:
            aspect_order.append(unit.aspect)
        by_aspect.setdefault(unit.aspect, []).append(unit)

    high_risk: list[str] = []
    untested: list[str] = []
    untested_capable: list[str] = []  # untested units that may still hold a high-risk finding
    rounding = config.rounding if rule == "2023" else None
    unit_digits, aspect_digits, total_digits = (rounding[1], rounding[2], rounding[3]) if rounding else (None,) * 3
    for code in aspect_order:
        scored: list[UnitScore] = []
        sum_w = sum_ws = sum_w_untested = 0.0
        for unit in by_aspect[code]:
            strength = unit.strength(level)
            if strength == "不要求":
                scored.append(
                    UnitScore(unit.id, unit.short_id, unit.name, code, strength, 0.0, "not-required", None, (), False)
                )
                continue
            if unit.id in na:
                scored.append(
                    UnitScore(unit.id, unit.short_id, unit.name, code, strength, 0.0, "not-applicable", None, (), False)
                )
                steps.append(Step(f"unit:{unit.short_id}", f"{unit.short_id} {unit.name}", "不适用，不计入", None))
                continue
            weight, weight_source = config.unit_weight(level, unit.short_id, strength, rule)
            sum_w += weight
            if unit.kind == "technical" and unit.id in per_unit_objects:
                objs = per_unit_objects[unit.id]
                pairs: list[tuple[str, float]] = []
                for obj in objs:
                    value, how = object_score(obj, unit, config, rule, level)
                    pairs.append((obj.object_name, value))
                    steps.append(
                        Step(
                            f"object:{unit.short_id}:{obj.object_name}",
                            f"{unit.short_id} 对象 {obj.object_name}",
                            how,
                            value,
                        )
                    )
                mean = round_half_up(sum(v for _, v in pairs) / len(pairs), unit_digits)
                flagged = any(o.high_risk for o in objs)
                steps.append(
                    Step(
                        f"unit:{unit.short_id}",
                        f"{unit.short_id} {unit.name}（{strength}，权重 {fmt(weight)}，{weight_source}）",
                        f"({' + '.join(fmt(v) for _, v in pairs)})/{len(pairs)} = {fmt(mean)}",
                        mean,
                    )
                )
                scored.append(
                    UnitScore(
                        unit.id, unit.short_id, unit.name, code, strength, weight, "scored", mean, tuple(pairs), flagged
                    )
                )
                sum_ws += weight * mean
            elif unit.kind == "management" and unit.id in per_unit_mgmt:
                res = per_unit_mgmt[unit.id]
                value = config.management_score(res.status)
                steps.append(
                    Step(
                        f"unit:{unit.short_id}",
                        f"{unit.short_id} {unit.name}（{strength}，权重 {fmt(weight)}，{weight_source}）",
                        f"{res.status} → {fmt(value)}",
                        value,
                    )
                )
                scored.append(
                    UnitScore(
                        unit.id, unit.short_id, unit.name, code, strength, weight, "scored", value, (), res.high_risk
                    )
                )
                sum_ws += weight * value
                flagged = res.high_risk
            else:
                flagged = False
                untested.append(unit.short_id)
                if strength in config.untested_high_risk_strengths:
                    untested_capable.append(unit.short_id)
                sum_w_untested += weight
                steps.append(
                    Step(
                        f"unit:{unit.short_id}",
                        f"{unit.short_id} {unit.name}（{strength}，权重 {fmt(weight)}，{weight_source}）",
                        "未测：区间下限计 0，上限计 1",
                        None,
                    )
                )
                scored.append(
                    UnitScore(unit.id, unit.short_id, unit.name, code, strength, weight, "untested", None, (), False)
                )
            if flagged:
                high_risk.append(unit.short_id)
        weight_a = config.aspect_weight(code)
        name = by_aspect[code][0].aspect_name
        if sum_w == 0:
            counted = config.all_na_aspect == "full"
            rng = (1.0, 1.0) if counted else (0.0, 0.0)
            how = "全部单元不适用或不要求：" + ("按满分计入" if counted else "该方面不计入，总分按其余方面权重归一")
            steps.append(Step(f"aspect:{code}", f"{name}（W={fmt(weight_a)}）", how, rng[0] if counted else None))
            aspects.append(AspectScore(code, name, weight_a, counted, rng, tuple(scored)))
            continue
        low = round_half_up(sum_ws / sum_w, aspect_digits)
        high = round_half_up((sum_ws + sum_w_untested) / sum_w, aspect_digits)
        if low == high:
            how = f"Σw·s/Σw = {fmt(sum_ws)}/{fmt(sum_w)} = {fmt(low)}"
        else:
            how = (
                f"[{fmt(sum_ws)}/{fmt(sum_w)}, {fmt(sum_ws + sum_w_untested)}/{fmt(sum_w)}] = [{fmt(low)}, {fmt(high)}]"
            )
        steps.append(
            Step(
                f"aspect:{code}", f"{name}（W={fmt(weight_a)}）", how, low if low == high else f"{fmt(low)}–{fmt(high)}"
            )
        )
        aspects.append(AspectScore(code, name, weight_a, True, (low, high), tuple(scored)))

    low_total, high_total, formula = _total(aspects, config.all_na_aspect)
    low_total, high_total = round_half_up(low_total, total_digits), round_half_up(high_total, total_digits)
    if low_total == high_total:
        steps.append(Step("total", "总分", f"{formula} = {fmt(low_total)}", low_total))
    else:
        steps.append(
            Step(
                "total_range",
                "总分区间（未测单元计 0 / 1）",
                f"{formula}: [{fmt(low_total)}, {fmt(high_total)}]",
                f"{fmt(low_total)}–{fmt(high_total)}",
            )
        )
    veto = bool(high_risk)
    if veto:
        steps.append(Step("high_risk", "高风险否决", "存在高风险：" + "、".join(high_risk), len(high_risk)))
    elif untested_capable:
        steps.append(
            Step("high_risk_possible", f"未测单元可能构成高风险（{'/'.join(config.untested_high_risk_strengths)}，"
                 "最差情况按高风险否决）", "、".join(untested_capable), len(untested_capable))
        )
    worst = config.conclusion_for(low_total, veto or bool(untested_capable))
    best = config.conclusion_for(high_total, veto)
    final = not untested
    thresholds = "，".join(f"{c} ≥ {fmt(m)}" for c, m in config.conclusions) + f"，否则 {config.fallback_conclusion}"
    if final:
        steps.append(Step("conclusion", "结论", f"{thresholds}{'；高风险否决' if veto else ''} → {best}", best))
    else:
        steps.append(
            Step("conclusion_range", "结论区间", f"{thresholds} → 最差 {worst}，最好 {best}", f"{worst}–{best}")
        )
    return MipingResult(
        rule=rule,
        level=level,
        score=low_total if final else None,
        score_range=(low_total, high_total),
        conclusion=best if final else None,
        conclusion_range=(worst, best),
        high_risk_units=tuple(high_risk),
        untested_units=tuple(untested),
        final=final,
        aspects=tuple(aspects),
        steps=tuple(steps),
    )

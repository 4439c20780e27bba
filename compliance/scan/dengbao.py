"""The 等保 score card of a system from its item outcomes (GB/T 28448 scoring, ``compliance.scoring``)."""

from __future__ import annotations

from collections.abc import Sequence

from compliance.catalogue import DENGBAO, Item
from compliance.results import ItemOutcome, ScoreCard, settled_verdict
from compliance.scan.context import ScanContext
from compliance.scoring import ItemResult, ScoringError, score_dengbao


def dengbao_card(ctx: ScanContext, items: Sequence[ItemOutcome]) -> ScoreCard:
    """The 等保 score card (memoised: scoring is a pure function of the item results)."""
    key = tuple((o.item_id, o.score_status, o.high_risk) for o in items if o.standard == DENGBAO)
    if key not in ctx.dengbao_cards:
        ctx.dengbao_cards[key] = _score(ctx, key)
    return ctx.dengbao_cards[key]


def _score(ctx: ScanContext, key: tuple[tuple[str, str, bool], ...]) -> ScoreCard:
    results = [ItemResult(item_id, status, high_risk=high_risk and status == "不符合")  # type: ignore[arg-type]
               for item_id, status, high_risk in key]
    capable = frozenset(item_id for item_id, _, _ in key
                        if isinstance(found := ctx.catalogue.get(item_id), Item) and found.high_risk)
    try:
        scored = score_dengbao(results, ctx.scoring.dengbao, high_risk_capable=capable)
    except ScoringError as error:
        return ScoreCard("等保", None, None, None, (0.0, 0.0), False, (), (), str(error))
    value = scored.rate if scored.rule == "rate-2025" else scored.score
    low, high = scored.rate_range if scored.rule == "rate-2025" else (scored.score_range or (0.0, 0.0))
    verdict_range = scored.conclusion_range if scored.rule == "rate-2025" else scored.grade_range
    return ScoreCard("等保", settled_verdict(scored.verdict, verdict_range), verdict_range, value, (low, high),
                     scored.final, scored.high_risk_items,
                     tuple((s.label, s.formula, str(s.value)) for s in scored.steps))

"""The 等保 score card of a system from its item outcomes (GB/T 28448 scoring, ``compliance.scoring``).

High-risk findings follow the 2025 guide's cases (``standards/high-risk-2025.yaml``); :func:`high_risk_veto`
decides them, in one place, whoever found the failure. A failed item is a high-risk finding only when its case
applies to the system (level, cloud role and conditions such as 业务连续性要求高 judged from the manifest,
:func:`compliance.catalogue.high_risk.profile_of`) and the failure is of high-risk grade: a rule's failure at
severity ≥ high, or an attested 不符合 of a case for which the guide lists no mitigation (可能的缓解措施：无).
A waiver records a compensating measure: it lifts the veto of a case for which the guide lists mitigations,
never of one whose mitigation is 无. A failure whose case has a condition the manifest leaves open is a
*possible* finding: it vetoes the worst case (the conclusion stays a range, the card names the condition), also
when every item is tested; an untested item of such a case counts in the worst case too.
"""

from __future__ import annotations

from collections.abc import Sequence

from compliance.catalogue import DENGBAO, CatalogueError, Item
from compliance.catalogue.high_risk import HighRiskTable, SystemProfile, high_risk_table_for, profile_of
from compliance.results import ItemOutcome, ItemState, ScoreCard, settled_verdict
from compliance.scan.context import ScanContext, judged_day, standards_dir_of
from compliance.scoring import ItemResult, ScoringError, score_dengbao
from policies.engine import Severity
from xzgov.core import model as m
from xzgov.facts.thresholds import continuity_for

#: An item's say in the 等保 score: (item id, scorer status, high-risk finding — ``True``, ``None`` for a possible
#: one (:func:`high_risk_veto`), ``False`` —, high-risk capable).
Entry = tuple[str, str, bool | None, bool]


def high_risk_table(ctx: ScanContext) -> HighRiskTable | None:
    """The case table checked against this scan's catalogue, loaded once per scan; ``None`` (and a warning in
    this scan's report) when a custom catalogue disagrees. Kept on the scan, not per process: a memo keyed by
    the catalogue's ``id`` served a later scan whose catalogue reused a freed one's address the table checked
    against that other catalogue, and that scan never got the warning."""
    if not ctx.high_risk:
        try:
            # the scan's own standards directory, as for the catalogue and the scoring (a copy without the table
            # uses the default one, as for the 密评 weight table)
            ctx.high_risk.append(high_risk_table_for(ctx.catalogue, standards_dir_of(ctx.options)))
        except CatalogueError as error:
            ctx.warnings.append(f"高风险判例表不可用 / high-risk case table not used: {error}")
            ctx.high_risk.append(None)
    return ctx.high_risk[0]


def system_profile(ctx: ScanContext, system: m.System | None) -> SystemProfile | None:
    """What the cases' applicability depends on for ``system``, judged on the scan's as-of day (kept for the system:
    its card and each flagged item ask)."""
    if system is None:
        return None
    table, day = high_risk_table(ctx), judged_day(ctx)
    known = ctx.profiles.get(system.name)
    if known is not None and known[0] is system and known[1] is table and known[2] == day:
        return known[3]
    profile = (profile_of(system, table.rules, day, continuity_for(ctx.thresholds, system.level))
               if table is not None else None)
    ctx.profiles[system.name] = (system, table, day, profile)
    return profile


def cases_not_applying(ctx: ScanContext, system: m.System) -> tuple[str, ...]:
    """The guide's cases at ``system``'s level that cannot apply to it (:meth:`HighRiskCase.applies` False: a
    condition decided false, a case of the cloud platform's own assessment), for the reports' trigger table;
    judged once per profile and level."""
    table, profile = high_risk_table(ctx), system_profile(ctx, system)
    if table is None or profile is None:
        return ()
    key = (profile, system.level)
    known = ctx.not_applying.get(key)
    if known is None:
        known = ctx.not_applying[key] = tuple(
            case.case for case in table.cases_at(system.level) if case.applies(profile).applies is False)
    return known


def dengbao_card(ctx: ScanContext, items: Sequence[ItemOutcome], system: m.System | None = None, *,
                 changed: Sequence[int] | None = None) -> ScoreCard:
    """The 等保 score card (memoised: scoring is a pure function of the item results and the profile).

    ``changed``: ``items`` is the system's untouched row (``ScanContext.untouched_rows``) with only these
    positions replaced (the scanner's case without attestations); the row's entries are then judged once per
    profile and levels, and only the replaced items again."""
    profile = system_profile(ctx, system)
    # whether an item's case applies depends only on the item and the profile: judged once per profile
    applies = ctx.case_applies.setdefault(profile, {})
    entries: list[Entry]
    if changed is not None and system is not None:
        base, slots, unfailed = _row_entries(ctx, profile, system, applies)
        # The entries are the row's with these replacements: the row (its profile and levels) and the entries
        # that differ from it name them, so they key the memo instead of all ~200 entries (hashed per lookup).
        differ: list[tuple[int, Entry]] = []
        for position in changed:
            slot = slots.get(position)
            if slot is not None:  # the same item as the row's at this position, so a 等保 item too
                outcome = items[position]
                status = outcome.score_status
                if status == "不符合" or outcome.severe_failure:  # a high-risk finding to judge from the outcome
                    entry = _entry(ctx, outcome, profile, applies)
                else:  # the entry of the item's status under this profile (as the row's, judged once)
                    known = unfailed[slot]
                    judged = known.get(status)
                    if judged is None:
                        judged = known[status] = _entry(ctx, outcome, profile, applies)
                    entry = judged
                if entry != base[slot]:
                    differ.append((slot, entry))
        row_key = (profile, system.level, system.crypto_level, tuple(differ))
        card = ctx.dengbao_cards.get(row_key)
        if card is None:
            entries = base.copy()
            for slot, entry in differ:
                entries[slot] = entry
            card = ctx.dengbao_cards[row_key] = _score(ctx, tuple(entries), profile)
        return card
    entries = [_entry(ctx, outcome, profile, applies) for outcome in items if outcome.standard == DENGBAO]
    key = (profile, tuple(entries))
    found = ctx.dengbao_cards.get(key)
    if found is None:
        found = ctx.dengbao_cards[key] = _score(ctx, key[1], profile)
    return found




def case_may_apply(ctx: ScanContext, outcome: ItemOutcome, system: m.System) -> bool:
    """Whether the 2025 guide's case of a 等保 item applies or may apply (its condition left open) to the system:
    the item's card entry (:func:`_entry`, through the profile's memo) calls it high-risk capable."""
    profile = system_profile(ctx, system)
    return _entry(ctx, outcome, profile, ctx.case_applies.setdefault(profile, {}))[3]


def attested_high_risk(ctx: ScanContext, outcome: ItemOutcome, system: m.System) -> bool | None:
    """The card's say on an attested item (:func:`_entry`): ``True`` a high-risk finding, ``None`` a possible one,
    ``False`` none — so the item carries the 高风险 / 可能高风险 flag its verdict gives it."""
    profile = system_profile(ctx, system)
    return _entry(ctx, outcome, profile, ctx.case_applies.setdefault(profile, {}))[2]


def _entry(ctx: ScanContext, outcome: ItemOutcome, profile: SystemProfile | None,
           applies: dict[str, bool | None]) -> Entry:
    """(item id, scorer status, high-risk finding (:func:`high_risk_veto`), high-risk capable) of one 等保 item's
    outcome."""
    item_id = outcome.item_id
    if item_id in applies:
        case = applies[item_id]
    else:
        case = applies[item_id] = _case_applies(ctx, outcome, profile)
    status = outcome.score_status
    # high_risk_veto is False unless the item failed and its case may apply: most items stop at this test
    judged = status == "部分符合" and outcome.trail is not None and outcome.trail.get("high_risk") is True
    finding = (status == "不符合" or outcome.severe_failure or judged) and case is not False \
        and high_risk_veto(ctx, outcome, case)
    return item_id, status, finding, case is not False


def _row_entries(ctx: ScanContext, profile: SystemProfile | None, system: m.System, applies: dict[str, bool | None]
                 ) -> tuple[list[Entry], dict[int, int], list[dict[str, Entry]]]:
    """The entries of the untouched row's 等保 items for this profile, each row position's entry index, and per
    entry index a memo (filled as outcomes come) of the entry of each scorer status but 不符合 — an entry that
    depends only on the item, the status and the profile (memoised per profile and levels)."""
    key = (profile, system.level, system.crypto_level)
    found = ctx.row_entries.get(key)
    if found is None:
        outcomes = ctx.untouched_rows[(system.level, system.crypto_level)]
        entries: list[Entry] = []
        slots: dict[int, int] = {}
        for position, outcome in enumerate(outcomes):
            if outcome.standard == DENGBAO:
                slots[position] = len(entries)
                entries.append(_entry(ctx, outcome, profile, applies))
        found = ctx.row_entries[key] = (entries, slots, [{} for _ in entries])
    return found


def _case_applies(ctx: ScanContext, outcome: ItemOutcome, profile: SystemProfile | None) -> bool | None:
    """``True``/``None`` (undecided)/``False``: whether the item's high-risk case applies to the system."""
    item = ctx.catalogue.get(outcome.item_id)
    if not isinstance(item, Item) or not item.high_risk:
        return False
    table = high_risk_table(ctx)
    if profile is None or table is None:
        return True  # no manifest profile: the catalogue flag alone (level-only applicability)
    case = table.case_for(item.assessment_unit)
    return case.applies(profile).applies if case is not None else False


def high_risk_veto(ctx: ScanContext, outcome: ItemOutcome, applies: bool | None) -> bool | None:
    """Whether the item's failure vetoes the 等保 conclusion: ``True`` (a high-risk finding), ``None`` (it would
    be one, but its case has a condition the manifest leaves open: a possible finding, vetoing the worst case
    only) or ``False``. ``applies``: :func:`_case_applies` of the item.

    The one place the veto is decided, from the underlying status, the case, whether the guide lists a
    mitigation for it and whether a waiver covers the item — the same whoever found the failure:

    - only a 不符合 or 部分符合 (underlying, for a waived or inherited item) of an item whose case applies can
      veto;
    - the failure is of high-risk grade when a rule failed the item at severity ≥ high — also when another
      rule passed it, so the item is 部分符合: the finding is the failing rule's, not the item's mean —, or an
      assessor attested 不符合 (or the platform's record says so) of a case for which the guide lists no
      mitigation; for a case that lists mitigations, the assessor's own judgement decides (``high_risk`` of the
      attested row or of the platform record's row, after weighing them), and an attested 不符合 without one
      (the platform's default result too) is a possible finding (the
      mitigations were weighed by nobody; an attested 部分符合 without one is the judgement that the case is not
      met);
    - a waiver records a compensating measure (``compliance.results``): it lifts the veto of a case for which
      the guide lists possible mitigations, never of a case whose 可能的缓解措施 is 无 — there a waiver accepts
      the risk, it does not mitigate it. Without the case table nothing is known to be unmitigable."""
    status = outcome.score_status
    if status not in ("不符合", "部分符合") or applies is False:
        return False
    mitigable = case_mitigable(ctx, outcome.item_id)
    judged = outcome.trail.get("high_risk") if outcome.trail is not None and not outcome.rules else None
    if outcome.rules:  # a rule's failure (items.py marks an unwaived one high_risk)
        grade: bool | None = outcome.high_risk or outcome.severe_failure or (
            status == "不符合" and outcome.severity is not None and outcome.severity >= Severity.HIGH)
    elif outcome.attestation is not None and mitigable and judged is not None:
        grade = judged  # the assessor weighed the guide's mitigations and said whether it is a high risk
    elif outcome.attestation is not None and mitigable and status == "不符合" and outcome.trail is not None \
            and outcome.trail.get("by") in ("attestation", "platform-record"):
        grade = None  # an assessor's 不符合 (the platform's report's too) whose mitigations nobody weighed: possibly
        # a high risk
    else:  # an assessor's (or the platform record's) 不符合 of a case without mitigations — or a 部分符合 the
        # assessor judged a high risk (high_risk: true was dropped there: only a mitigable case read it)
        grade = (status == "不符合" or judged is True) and (
            outcome.high_risk or (outcome.attestation is not None and not mitigable))
    if outcome.state is ItemState.WAIVED and mitigable and judged is not True:
        grade = False  # (an unsigned waiver never reverses an assessor's signed high_risk: true)
    if grade is False:
        return False
    return True if applies is True and grade is True else None


def case_mitigable(ctx: ScanContext, item_id: str) -> bool:
    """Whether the guide lists possible mitigations for the high-risk case of the item (or no case is known): a
    waiver records a compensating measure there and lifts the case's veto; where the guide's 可能的缓解措施 is 无
    it does not."""
    table = high_risk_table(ctx)
    item = ctx.catalogue.get(item_id)
    case = table.case_for(item.assessment_unit) if table is not None and isinstance(item, Item) else None
    return case is None or case.mitigation_listed


def _score(ctx: ScanContext, key: tuple[Entry, ...], profile: SystemProfile | None = None) -> ScoreCard:
    results = [ItemResult(item_id, status, high_risk=high_risk is True)  # type: ignore[arg-type]
               for item_id, status, high_risk, _ in key]
    capable = frozenset(item_id for item_id, _, _, able in key if able)
    possible = {item_id: _open_condition(ctx, item_id, profile) for item_id, _, high_risk, _ in key
                if high_risk is None}
    try:
        scored = score_dengbao(results, ctx.scoring.dengbao, high_risk_capable=capable, possible_high_risk=possible)
    except ScoringError as error:
        return ScoreCard("等保", None, None, None, (0.0, 0.0), False, (), (), str(error))
    value = scored.rate if scored.rule == "rate-2025" else scored.score
    low, high = scored.rate_range if scored.rule == "rate-2025" else (scored.score_range or (0.0, 0.0))
    verdict_range = scored.conclusion_range if scored.rule == "rate-2025" else scored.grade_range
    return ScoreCard("等保", settled_verdict(scored.verdict, verdict_range), verdict_range, value, (low, high),
                     scored.final, scored.high_risk_items,
                     tuple((s.label, s.formula, str(s.value)) for s in scored.steps),
                     measure="rate" if scored.rule == "rate-2025" else "score")


def _open_condition(ctx: ScanContext, item_id: str, profile: SystemProfile | None) -> str:
    """Why a possible finding is undecided, in the card's words: the case and its open condition."""
    table = high_risk_table(ctx)
    item = ctx.catalogue.get(item_id)
    case = table.case_for(item.assessment_unit) if table is not None and isinstance(item, Item) else None
    if case is None or profile is None:
        return "判例条件未确定"
    applies = case.applies(profile)
    if applies.applies is True:  # the case applies: what is open is the assessor's weighing of its mitigations
        return (f"判例 {case.case}（{case.title}）证明未判定高风险（所列缓解措施未经分析；证明行填写 high_risk） / "
                "the attested failure does not say whether the guide's mitigations make it no high risk")
    return f"判例 {case.case}（{case.title}）{applies.reason}"

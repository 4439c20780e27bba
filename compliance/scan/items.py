"""The state machine of one catalogue item for one system (states: :class:`compliance.results.ItemState`).

Rule results reach an item through the rule's controls (:func:`resolve`); their statuses combine into
the item's state; a failing item is waived by an item waiver or when every failing check is waived;
an unchecked item takes its state from an attestation, or stays ``manual-pending``; platform items
are ``inherited``. A high-risk capable item (a 等保 item of the 2025 guide's cases) that a rule failed at
severity ≥ high, unwaived, is a high-risk grade failure — also when another rule passed it (the item is then
部分符合, the finding stands); the cards decide whether it is a finding (compliance.scanner._settle_high_risk).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from compliance.attest.model import EvidenceFile, ItemRecord
from compliance.catalogue import DENGBAO, CryptoUnit, Item
from compliance.coverage import resolve_pairs
from compliance.results import (
    NOTE_INHERITED,
    NOTE_MANUAL,
    NOTE_PLATFORM_ITEM,
    SCORE_STATUS,
    Finding,
    ItemOutcome,
    ItemState,
    combine,
    note_head,
)
from compliance.scan.context import (
    ItemStatic,
    PlacedRule,
    ScanContext,
    not_used_text,
    platform_item,
    set_level_mismatch,
)
from compliance.scan.dengbao import attested_high_risk, case_mitigable
from policies.engine import Evidence, Rule, Severity, Status
from xzgov.core import model as m


def resolve(ctx: ScanContext, rule: Rule, level: int, crypto: int) -> list[tuple[str, str]]:
    """(projected id as in the result, catalogue item id) for each control of ``rule`` (memoised)."""
    key = (rule.id, level, crypto)
    if key not in ctx.resolved:
        ctx.resolved[key] = resolve_pairs(ctx.catalogue, rule, level, crypto)
    return ctx.resolved[key]


#: One rule result's say on one item: (the status it gives the item, its finding, the rule, the item's control id
#: as the result names it). A plain tuple: every checked item of every system gets one or more (~400,000 at
#: 3,000 systems).
Contribution = tuple[Status, Finding, Rule, str]


def slots(ctx: ScanContext, rule: Rule, level: int, crypto: int, position: dict[str, int]
          ) -> tuple[tuple[str, int], ...]:
    """(projected id as in the result, position in the item row of these levels) for each control of
    ``rule`` that is an item of that row (``position``: the row's; the scanner keeps the answer per levels,
    ``ScanContext.rules_in_row``)."""
    return tuple((projected, position[item_id]) for projected, item_id in resolve(ctx, rule, level, crypto)
                 if item_id in position)


def placements(ctx: ScanContext, rules: Iterable[Rule], level: int, crypto: int, position: dict[str, int]
               ) -> dict[str, PlacedRule]:
    """Rule id -> :class:`PlacedRule` of each of ``rules`` in the item row of these levels (``position``: the
    row's), its slots split into those of items only it checks there (one slot of one rule among all ``rules``)
    and the others."""
    placed = {rule.id: (rule, slots(ctx, rule, level, crypto, position)) for rule in rules}
    checkers = Counter(index for _, found in placed.values() for _, index in found)
    return {rule_id: PlacedRule(rule, found, tuple(s for s in found if checkers[s[1]] == 1),
                                tuple(s for s in found if checkers[s[1]] > 1), (rule_id,))
            for rule_id, (rule, found) in placed.items()}


def system_items(ctx: ScanContext, system: m.System) -> list[Item | CryptoUnit]:
    """The catalogue items of the system's 等保 level and the 密评 units its level requires (memoised)."""
    key = (system.level, system.crypto_level)
    if key not in ctx.items_of:
        items: list[Item | CryptoUnit] = list(ctx.catalogue.items_where(level=system.level))
        items += [unit for unit in ctx.catalogue.crypto_units if unit.strength(system.crypto_level) != "不要求"]
        ctx.items_of[key] = items
    return ctx.items_of[key]


_FAILING = (Status.FAIL, Status.PARTIAL, Status.ERROR)
_PASS, _NOT_APPLICABLE = Status.PASS, Status.NOT_APPLICABLE  # (an enum member read through its class costs)
_STATE_OF_STATUS = {Status.PASS: ItemState.PASS, Status.FAIL: ItemState.FAIL, Status.PARTIAL: ItemState.PARTIAL,
                    Status.NOT_APPLICABLE: ItemState.NOT_APPLICABLE, Status.ERROR: ItemState.ERROR}


def _static(item: Item | CryptoUnit, crypto_level: int) -> ItemStatic:
    """What an item's outcome holds before any result is known — :class:`ItemOutcome`'s positional fields —
    and whether the item is inherited and high-risk capable (memoised per item and 密评 level)."""
    pending = ItemState.MANUAL_PENDING
    fields: tuple[Any, ...]
    if isinstance(item, Item):
        fields = (item.id, DENGBAO, f"{item.control_point}: {item.title}", pending, pending, (), (), "", False, None,
                  None, None, item.check_type, item.responsibility, item.assessment_unit, item.category_name, "")
        inherited, capable = item.platform_decides, item.high_risk
    else:
        strength = item.strength(crypto_level)
        fields = (item.id, item.standard, f"{item.aspect_name}: {item.name} ({strength})", pending, pending, (), (),
                  "", False, None, None, None, "automated" if item.kind == "technical" else "manual", "tenant",
                  item.short_id, item.aspect_name, strength)
        # a unit's 高风险 is the 密评 card's to judge (D/A/K: compliance.scanner._settle_high_risk flags its vetoes)
        inherited, capable = False, False
    # head and tail: the fields before and after (state, underlying, rules, evidence), which checked_outcome fills
    return fields, inherited, capable, fields[:3], fields[7:]


_STATE_OF_ATTESTED = {"符合": ItemState.PASS, "部分符合": ItemState.PARTIAL, "不符合": ItemState.FAIL,
                      "不适用": ItemState.NOT_APPLICABLE}


def item_static(ctx: ScanContext, item: Item | CryptoUnit, crypto_level: int) -> ItemStatic:
    """:func:`_static` of the item at this 密评 level (memoised per item and level)."""
    key = (item.id, crypto_level)
    static = ctx.item_static.get(key)
    if static is None:
        static = ctx.item_static[key] = _static(item, crypto_level)
    return static


def _not_used(ctx: ScanContext, system: m.System, record: ItemRecord, why: str) -> None:
    ctx.system_warnings.setdefault(system.name, []).append(f"{record.location}: {not_used_text(record, why)}")


def item_outcome(ctx: ScanContext, system: m.System, item: Item | CryptoUnit,
                 contributions: Sequence[Contribution]) -> ItemOutcome:
    """The state of one catalogue item for one system: from the rules that check it (waived when every
    failing check is waived or the item is), else from an attestation (inherited platform items: the
    platform's assessment), else pending manual review."""
    static = item_static(ctx, item, system.crypto_level)
    attested = ctx.attested
    record = attested.for_item(system.name, item.id) if attested.items else None
    fields, inherited = static[0], static[1]
    if record is not None and inherited:
        # the tenant does not run the platform: its own set deciding 云平台 items bypassed the platform record
        # (and the rule that a platform assessed below the system's level is not inherited)
        _not_used(ctx, system, record, platform_item(item.id))
        record = None
    if record is not None:
        record = _at_the_systems_levels(ctx, system, item, record)
    if contributions:
        checked = checked_outcome(ctx, system, item, static, contributions)
        state = _STATE_OF_ATTESTED[record.result] if record is not None else None
        if record is not None and state is not None and (_attested_stands(state, checked)
                                                         or _same_failure(state, checked)):
            # the assessor found on site what the rule, reading declarations, did not: the worse verdict stands (GB/T
            # 28448: the 访谈/核查/测试 result is the item's); before, a rule pass discarded a signed 不符合
            outcome = _attested_outcome(ctx, system, item, fields, record)
            if _attested_stands(state, checked) or _adds_veto(ctx, system, item, record, outcome, checked):
                outcome.note = (f"现场核查结果优先于规则结果 ({checked.state}: {', '.join(checked.rules)}) / the "
                                f"on-site result outranks the rule's; {outcome.note}")[:500]
                return outcome
        if record is not None:  # never dropped without a word
            _not_used(ctx, system, record, "该项由规则判定 / a rule decides this item (from the manifest, the plan "
                      "or the live host) and the assessor found it no worse")
        return checked
    base = ItemOutcome(*fields)
    if record is not None:  # a signed attestation of this system
        return _attested_outcome(ctx, system, item, fields, record)
    return _unattested(ctx, system, item, base, inherited)


#: how bad a state is: an attested state that is worse than a rule's replaces it
_RANK = {ItemState.PASS: 0, ItemState.NOT_APPLICABLE: 0, ItemState.PARTIAL: 1, ItemState.FAIL: 2}


def _rank_of(checked: ItemOutcome) -> int:
    """How bad the rules' outcome is: a waived failure by what was waived."""
    return _RANK.get(checked.underlying if checked.state is ItemState.WAIVED else checked.state, 0)


def _attested_stands(attested: ItemState, checked: ItemOutcome) -> bool:
    """Whether a signed on-site result replaces the rules' outcome of the item outright: it is worse, or it is a
    failure where no rule could decide the item (an error: an unreachable host discarded the signed 不符合). A
    signed 符合 never replaces an error: what the scan could not check today stays unchecked."""
    own = _RANK[attested]
    if checked.state is ItemState.ERROR:
        return own > 0
    return own > _rank_of(checked)


def _same_failure(attested: ItemState, checked: ItemOutcome) -> bool:
    """A signed failure as bad as the rules' (:func:`_adds_veto` decides which stands)."""
    return checked.state is not ItemState.ERROR and _RANK[attested] == _rank_of(checked) > 0


_VETO_RANK = {True: 2, None: 1, False: 0}


def _adds_veto(ctx: ScanContext, system: m.System, item: Item | CryptoUnit, record: ItemRecord,
               attested: ItemOutcome, checked: ItemOutcome) -> bool:
    """Whether a signed failure as bad as the rules' carries a heavier 高风险 say than theirs — the assessor's
    judgement or a no-mitigation case — so that it stands: a signed row only ever adds a veto. A rule failing
    the item at medium severity dropped the signed veto (a manifest made worse lifted it), and the first mend
    let a signed row without ``high_risk`` replace a rule's severe failure and drop the rule's veto."""
    if isinstance(item, CryptoUnit):  # the 密评 card reads the signed judgement of a unit (compliance.scan.miping)
        return record.high_risk is True
    return _VETO_RANK[attested_high_risk(ctx, attested, system)] > _VETO_RANK[attested_high_risk(ctx, checked,
                                                                                                system)]


def _at_the_systems_levels(ctx: ScanContext, system: m.System, item: Item | CryptoUnit,
                           record: ItemRecord) -> ItemRecord | None:
    """``record`` when its set was judged at the system's levels (:func:`set_level_mismatch`), else ``None``, said
    as a warning."""
    why = set_level_mismatch(item, system, record.info.level, record.info.crypto_level)
    if not why:
        return record
    _not_used(ctx, system, record, why)
    return None


def _attested_outcome(ctx: ScanContext, system: m.System, item: Item | CryptoUnit, fields: tuple[Any, ...],
                      record: ItemRecord) -> ItemOutcome:
    """The outcome an item's signed attestation gives it (an item waiver applies to a failure)."""
    base = ItemOutcome(*fields)
    base.state = base.underlying = _STATE_OF_ATTESTED[record.result]
    base.attestation = record.info.id
    base.trail = record.trail()
    base.note = (note_head(base.trail) + record.reason)[:500]
    # whole digests and fingerprints: an assessor checks the evidence files and the signer against them
    files = _evidence_files(record.evidence) or "—"
    base.evidence = (Evidence(f"{record.result}; 签名 signed by {record.info.signer} "
                              f"[{record.info.signer_fingerprint}]; evidence {files}", record.location,
                              f"{record.info.date.isoformat()}T00:00:00Z"),)
    if base.state in (ItemState.FAIL, ItemState.PARTIAL):
        waiver = ctx.records.waiver_for(system.name, item=item.id)
        if waiver is not None:
            base.state, base.waiver = ItemState.WAIVED, waiver.id
    return base


def _unattested(ctx: ScanContext, system: m.System, item: Item | CryptoUnit, base: ItemOutcome,
                inherited: bool) -> ItemOutcome:
    """The outcome of an item no rule checks and no record of the system attests: the platform record's for an
    inherited item, else pending manual review."""
    attested = ctx.attested
    if inherited:
        base.state = ItemState.INHERITED
        platform = attested.platform
        if platform is not None and platform.level < system.level:
            # a record exists: "no platform record" (NOTE_INHERITED) before it contradicted what follows
            base.note = (f"{NOTE_PLATFORM_ITEM}; 云平台测评记录 {platform.info.id} 为第{platform.level}级, 低于本系统第"
                         f"{system.level}级, 不能继承 / the platform was assessed at a lower level than this system")
        elif platform is not None:
            equivalents = item.equivalents if isinstance(item, Item) else ()
            result, reason, where = platform.result_for(item.id, equivalents)
            base.underlying = _STATE_OF_ATTESTED[result]
            base.attestation = platform.info.id
            base.trail = platform.trail(item.id, equivalents)
            base.note = (note_head(base.trail) + reason)[:500]
            files = _evidence_files(platform.evidence)
            base.evidence = (Evidence(f"{result}; 云平台测评记录 {platform.info.id} signed by {platform.info.signer} "
                                      f"[{platform.info.signer_fingerprint}]" + (f"; evidence {files}" if files
                                                                                 else ""), where,
                                      f"{platform.info.date.isoformat()}T00:00:00Z"),)
        else:
            base.note = f"{NOTE_PLATFORM_ITEM}; {attested.platform_problem}" if attested.platform_problem else \
                NOTE_INHERITED
        return base
    lapsed = attested.expired.get((system.name, item.id))
    if lapsed:
        base.note = f"{NOTE_MANUAL.format(check_type=base.check_type)}; {lapsed}"
        return base
    base.note = NOTE_MANUAL.format(check_type=base.check_type)
    return base


def decided_outcome(static: ItemStatic, state: ItemState, rules: tuple[str, ...],
                    evidence: tuple[Evidence, ...]) -> ItemOutcome:
    """The outcome of an item whose results give it a state that is not failing (``pass`` or ``not-applicable``):
    :func:`checked_outcome` of contributions with no severity, note, waiver or high risk to judge (``static``: the
    item's :func:`item_static`; ``evidence``: what the results show of the item)."""
    # head and tail are the fields around these four (mypy cannot count a tuple[Any, ...])
    outcome = ItemOutcome(*static[3], state, state, rules, evidence, *static[4])  # type: ignore[call-arg]
    # Complete at birth: its scorer status (ItemOutcome.score_status, computed once) is known now. Set as an
    # attribute (the descriptor defines no setter): the same entry in the instance's __dict__, without making
    # Python build that dict for the write (~1,000,000 outcomes at 10,000 systems).
    outcome.score_status = SCORE_STATUS[state]
    return outcome


def checked_outcome(ctx: ScanContext, system: m.System, item: Item | CryptoUnit,
                    static: ItemStatic, contributions: Sequence[Contribution]
                    ) -> ItemOutcome:
    """:func:`item_outcome` of an item that rules check (``contributions`` not empty; ``static``: the item's
    :func:`item_static` at the system's 密评 level)."""
    fields, _, capable, _, _ = static
    if len(contributions) == 1:
        only = contributions[0]
        status, finding, rule, control = only
        state = _STATE_OF_STATUS[status]  # what combine() answers for one status
        if status not in _FAILING:  # most checked items: no severity, note, waiver or high risk to judge
            return decided_outcome(static, state, (rule.id,), finding.result.evidence_of(control))
        base = ItemOutcome(*fields)
        base.state = base.underlying = state
        base.rules = (rule.id,)
        base.evidence = finding.result.evidence_of(control)
        failing = [only]
    else:
        ids: list[str] = []
        evidence: list[Evidence] = []
        passed = fails = False
        for status, finding, rule, control in contributions:  # one pass: the rules, the evidence, the verdicts
            ids.append(rule.id)
            evidence.extend(finding.result.evidence_of(control))
            if status is _PASS:
                passed = True
            elif status is not _NOT_APPLICABLE:  # fail, partial or error (_FAILING)
                fails = True
        rules = tuple(dict.fromkeys(ids))
        if not fails:  # passes and not-applicables only (three in four such items): what combine() answers
            return decided_outcome(static, ItemState.PASS if passed else ItemState.NOT_APPLICABLE, rules,
                                   tuple(evidence[:20]))
        failing = [c for c in contributions if c[0] in _FAILING]
        base = ItemOutcome(*fields)
        state = combine(c[0] for c in contributions)
        base.state = base.underlying = state
        base.rules = rules
        base.evidence = tuple(evidence[:20])
    # Here a contribution fails the item (the others returned above): its state is fail, partial or error.
    unwaived = [c for c in failing if c[1].waiver is None] if len(failing) > 1 or failing[0][1].waiver else failing
    # The item's severity is that of what failed it and stands: a rule that could not run (error) lends none
    # while another rule fails the item, nor does a waived failure while an unwaived one stands.
    judged = unwaived or failing
    judged = [c for c in judged if c[0] is not Status.ERROR] or judged
    base.severity = judged[0][2].severity if len(judged) == 1 else \
        max((c[2].severity for c in judged), key=lambda s: s.rank)
    base.note = "; ".join(dict.fromkeys(c[1].result.message_of(c[3]) for c in failing))[:500]
    # A rule that failed the item at severity ≥ high found a high-risk grade failure even when another rule
    # passed it: the item is 部分符合 but the finding stands (compliance.scan.dengbao.high_risk_veto). A waived
    # one stands only where a waiver lifts no veto (the case lists no mitigation), or when the whole item is
    # waived (the card then decides by the case).
    severe = [c for c in failing if c[0] is Status.FAIL and c[2].severity >= Severity.HIGH]
    base.severe_failure = bool(severe) and (not unwaived or any(c[1].waiver is None for c in severe)
                                            or not case_mitigable(ctx, item.id))
    waiver = ctx.records.waiver_for(system.name, item=item.id)
    if waiver is not None or not unwaived:
        base.state = ItemState.WAIVED
        base.waiver = waiver.id if waiver else failing[0][1].waiver
    elif capable and any(c[0] is Status.FAIL and c[2].severity >= Severity.HIGH for c in unwaived):
        base.high_risk = True
    return base


def _evidence_files(files: Sequence[EvidenceFile]) -> str:
    """Evidence files as an attested item's evidence names them: each path and its whole SM3 (an assessor
    checks the file against it)."""
    return "; ".join(f"{e.file} SM3 {e.sm3}" for e in files)

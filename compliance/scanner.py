"""The compliance scan: register (+ planned resources, + live hosts) → rules → items → scores.

:func:`scan` is the one entry point (the CLI, the benchmark and the tests call it)::

    result = scan(ScanOptions(root=Path("."), plan=True, live=False))
    result.blocking()          # unwaived failing findings at or above --fail-on

Static mode runs the manifest rules over every system of the register. ``plan`` adds the resource
rules over the stacks' offline plan (``stacks.plan.plan_site`` per site) or over resources given in
:attr:`ScanOptions.resources`. ``live`` adds the host rules over the inventory's hosts, gathered over
SSH in parallel with per-host timeouts; an unreachable host yields ``error`` results, never a pass.

Per system, every catalogue item of its level (GB/T 22239 general + cloud) and every GB/T 39786
unit required at its 密评 level gets a state (``compliance.results.ItemState``); the scoring
engines (``compliance.scoring``) turn them into 等保 and 密评 conclusions with their derivation.

This module only runs the steps in order; each step is a module of :mod:`compliance.scan`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import replace
from operator import attrgetter

from compliance.catalogue import DENGBAO, CryptoUnit, Item
from compliance.results import FigureTables, Finding, ItemOutcome, ItemState, ScanResult, SystemReport, finding_of
from compliance.scan import collector
from compliance.scan.context import ItemStatic, PlacedRule, ScanContext, ScanOptions, as_of_day, scan_inputs, setup
from compliance.scan.dengbao import (
    attested_high_risk,
    case_may_apply,
    cases_not_applying,
    dengbao_card,
    high_risk_table,
)
from compliance.scan.items import (
    Contribution,
    checked_outcome,
    decided_outcome,
    item_outcome,
    item_static,
    placements,
    resolve,
    system_items,
)
from compliance.scan.miping import miping_card
from compliance.scan.points import host_results, manifest_results, resource_results
from compliance.scan.shard import recording, register_digest
from policies.engine import Facts, RuleResult, Status, utc_now
from policies.registry import RULES, RULES_BY_ID
from xzgov.core import model as m
from xzgov.core.clock import region_day
from xzgov.core.reads import ReadLog

__all__ = ["ScanOptions", "scan"]

_PASS, _NOT_APPLICABLE = Status.PASS, Status.NOT_APPLICABLE  # (an enum member read through its class costs)
_RULE_ID = attrgetter("rule_id")
_STATE_OF = {_PASS: ItemState.PASS, _NOT_APPLICABLE: ItemState.NOT_APPLICABLE}


def scan(options: ScanOptions) -> ScanResult:
    """Run the scan described by ``options``; raises :class:`UsageError` (exit 2) on bad input."""
    # A shard records what it read as it reads it: its part names the inputs the scan used (not the files as
    # they are once it has finished: compliance.scan.shard.recording).
    with collector.paused(), recording() if options.shard is not None else nullcontext() as read:
        return _scan(options, read)  # (the garbage collector skips what the scan loaded: compliance.scan.collector)


def _scan(options: ScanOptions, read: ReadLog | None) -> ScanResult:
    started = utc_now()
    pinned = as_of_day(options)
    if pinned is not None and (options.today is None or options.as_of is not None):
        # One judged day: --as-of (or $XZGOV_AS_OF when no day is given) also moves waiver expiry and
        # attestation lapse, not only the recorded dates the rules read.
        options = replace(options, today=pinned)
    ctx = setup(options)
    ctx.day = pinned or region_day(started)  # the day the manifest facts' as_of names (xzgov.facts.manifest)
    collector.settle()
    modes = ["static"]
    reports: list[SystemReport] = []

    def judged(system: m.System, facts: Facts | None, results: list[RuleResult],
               hosts: dict[str, str] | None = None) -> None:
        reports.append(_system_report(ctx, system, results, facts, hosts or {}, one_each=modes == ["static"]))
        collector.settle()  # the report is kept to the end: later collections skip it
        if options.progress is not None:
            options.progress(len(reports), len(ctx.selected), f"评估 judging {system.name}")

    if not options.plan and not options.live:
        # A static scan: each system's report is built as soon as its rules have run (its facts still in the
        # caches), and its facts are dropped then — kept to the end, they were a third of what the compliance
        # work allocated. The same reports, in the same order, as the loop below builds.
        manifest_results(ctx, started, judged)
        return _finish(options, read, ctx, started, pinned, modes, reports)
    results, manifest_by_system = manifest_results(ctx, started)
    if options.plan:
        modes.append("plan")
        results += resource_results(ctx, started)
    hosts_by_system: dict[str, dict[str, str]] = {}
    if options.live:
        modes.append("live")
        results += host_results(ctx, hosts_by_system)
    by_system: dict[str, list[RuleResult]] = {}
    for result in results:
        by_system.setdefault(result.subject, []).append(result)
    for system in (ctx.register.systems[name] for name in ctx.selected):
        judged(system, manifest_by_system.get(system.name), by_system.get(system.name, []),
               hosts_by_system.get(system.name, {}))
    return _finish(options, read, ctx, started, pinned, modes, reports)


def _finish(options: ScanOptions, read: ReadLog | None, ctx: ScanContext, started: str, pinned: dt.date | None,
            modes: list[str], reports: list[SystemReport]) -> ScanResult:
    """The scan's result from the systems' reports: waivers matched, warnings in order, inputs recorded."""
    # Without waiver records there is nothing to match (and no item or finding to read: millions at 10,000).
    used = {o.waiver for r in reports for o in r.items} | {f.waiver for r in reports for f in r.findings} \
        if ctx.records.waivers else set()
    # a waiver of a system --system left out is not judged (a shard's part judges every waiver: the merge keeps
    # those no part used)
    judged = set(ctx.selected) if options.systems else None
    unused = {w.id: f"{w.source}: waiver {w.id} matched no failing result" for w in ctx.records.waivers
              if w.id not in used and (judged is None or w.system == "*" or w.system in judged)}
    # The guide's case table before the warnings are put in order: loaded for the first time here (a shard that
    # judged no system), its warning followed the unused waivers', where a part cuts them off (compliance.merge).
    figures = FigureTables.of(ctx.scoring.dengbao, high_risk_table(ctx))
    ctx.warnings += [said for name in ctx.selected for said in ctx.system_warnings.get(name, ())]
    ctx.warnings += unused.values()
    inputs = scan_inputs(options, read) if read is not None else {}  # what a merge compares
    return ScanResult(
        modes=modes, started=started, finished=utc_now(), register_root=str(options.root), systems=reports,
        rules=[rule.to_json() for rule in RULES], warnings=ctx.warnings,
        catalogue_version=",".join(sorted({d.version for d in ctx.catalogue.documents})), fail_on=options.fail_on,
        kpi_since=options.kpi_since, register=ctx.register, unused_waivers=unused,
        as_of=(pinned or region_day(started)).isoformat(), inputs=inputs,
        register_digest=register_digest(ctx.register, read) if read is not None else "",
        system_warnings={name: ctx.system_warnings[name] for name in ctx.selected if name in ctx.system_warnings},
        figure_tables=figures,
    )


def _system_report(ctx: ScanContext, system: m.System, results: list[RuleResult], facts: Facts | None,
                   hosts: dict[str, str], one_each: bool = False) -> SystemReport:
    """What the results make of ``system``: its items, findings and score cards. ``one_each``: every rule gave
    one result at most (a static scan's manifest rules: each runs once per system)."""
    department = ctx.register.region.departments.get(system.department)
    report = SystemReport(system.name, system.title, system.department, department.name if department else "",
                          system.tier, system.level, system.crypto_level, system.source, hosts=hosts)
    items, _ = _item_row(ctx, system)
    contributions: dict[int, list[Contribution]] = {}  # row position -> the results' say on that item
    waivers = ctx.records.waivers
    findings = report.findings
    placed = _rules_in_row(ctx, system, results)
    outcomes = report.items
    # No attestation: an unchecked item's outcome depends only on the item and the levels. Start from the row of
    # those outcomes for the system's levels (built once) and replace the checked items (``changed``).
    untouched = not ctx.records.attestations
    changed: list[int] = []
    flagged: list[int] = []  # positions of outcomes flagged high-risk grade (_settle_high_risk judges them)
    statics: list[ItemStatic] = []
    if untouched:
        outcomes.extend(_untouched_row(ctx, system))
        statics = _row_statics(ctx, system)
    # An item only one rule checks at these levels (PlacedRule.sole) takes that rule's result alone, built
    # straight from it, when every rule has one result here (a rule running at two points, or on several
    # hosts, may say twice: then every item collects its say first).
    direct = untouched and (one_each or len({result.rule_id for result in results}) == len(results))
    for result in results:
        rule, every, sole, shared, ids = placed[result.rule_id]
        silent = result.silent
        if silent:  # items the result says nothing of (Outcome.silent): other rules, an attestation or 未测
            every, sole, shared = (tuple(slot for slot in slots if slot[0] not in silent)
                                   for slots in (every, sole, shared))
        waiver = ctx.records.waiver_for(system.name, rule=rule.id) if waivers else None
        finding = finding_of(result, waiver.id if waiver and result.status is not Status.PASS else None)
        findings.append(finding)
        per_control, status = result.per_control, result.status  # result.status_of, inlined: every result asks
        if direct:
            evidence, own = result.evidence[:5], result.per_control_evidence
            for projected, index in sole:
                said = per_control.get(projected, status) if per_control else status
                if said is _PASS or said is _NOT_APPLICABLE:  # checked_outcome's case with nothing to judge
                    # (result.evidence_of, its common answer inlined)
                    shown = evidence if said is status and not own else result.evidence_of(projected)
                    outcomes[index] = decided_outcome(statics[index], _STATE_OF[said], ids, shown)
                else:
                    outcome = outcomes[index] = checked_outcome(ctx, system, items[index], statics[index],
                                                                ((said, finding, rule, projected),))
                    if outcome.high_risk:
                        flagged.append(index)
                changed.append(index)
            every = shared
        for projected, index in every:
            said = per_control.get(projected, status) if per_control else status
            contribution = (said, finding, rule, projected)
            found = contributions.get(index)
            if found is None:
                contributions[index] = [contribution]
            else:
                found.append(contribution)
    if untouched:
        for index, found in contributions.items():
            outcome = outcomes[index] = checked_outcome(ctx, system, items[index], statics[index], found)
            if outcome.high_risk:
                flagged.append(index)
        changed += contributions
    else:
        for index, item in enumerate(items):
            outcomes.append(item_outcome(ctx, system, item, contributions.get(index) or ()))
        flagged = [index for index, outcome in enumerate(outcomes) if outcome.high_risk]
    # Item-level waivers also waive the findings that feed only that item (for gating).
    # Only a waiver record waives an item: without any, no item is waived and no finding gets an item's waiver.
    waived_items = {o.item_id: o.waiver for o in report.items if o.state is ItemState.WAIVED} if waivers else {}
    for index, finding in enumerate(report.findings if waived_items else ()):
        if finding.waiver is None and finding.blocking:
            rule = RULES_BY_ID[finding.result.rule_id]
            targets = [item_id for projected, item_id in resolve(ctx, rule, system.level, system.crypto_level)
                       if finding.result.status_of(projected) in (Status.FAIL, Status.PARTIAL, Status.ERROR)]
            if targets and all(t in waived_items for t in targets):
                report.findings[index] = Finding(finding.result, waived_items[targets[0]])
    report.dengbao = dengbao_card(ctx, report.items, system, changed=changed if untouched else None)
    report.cases_not_applying = cases_not_applying(ctx, system)
    report.miping = miping_card(ctx, system, facts, report.items, report.findings)
    _settle_high_risk(ctx, system, report, flagged)
    return report


def _settle_high_risk(ctx: ScanContext, system: m.System, report: SystemReport, flagged: Iterable[int]) -> None:
    """Once the cards are judged, an item's ``high_risk`` flag says what they made of it, so no report calls an
    item 高风险 that its verdict does not: a 等保 item keeps the flag (a high-risk grade failure, ``items.py``)
    only where its case applies or may apply to this system (the card vetoes, or names it a possible finding);
    a GB/T 39786 unit has it exactly when the 密评 card vetoes on it (``items.py`` flags none); whatever a card
    vetoes on is flagged. ``flagged``: the positions of the outcomes ``items.py`` flagged."""
    outcomes = report.items
    for index in flagged:
        outcome = outcomes[index]
        if not case_may_apply(ctx, outcome, system):
            outcomes[index] = replace(outcome, high_risk=False)
    if ctx.records.attestations:  # an assessor's failure the card counts as a (possible) high-risk finding
        for index, outcome in enumerate(outcomes):
            if outcome.rules or outcome.attestation is None or outcome.high_risk or outcome.standard != DENGBAO:
                continue
            if attested_high_risk(ctx, outcome, system) is not False:
                outcomes[index] = replace(outcome, high_risk=True)
    # what the cards veto on is flagged whoever found it: an attested 不符合 of a case without mitigation, a
    # waived item of such a case (items.py flags neither), a 密评 unit
    vetoed = [*(report.dengbao.high_risk if report.dengbao else ()),
              *(report.miping.high_risk if report.miping else ())]
    if vetoed:
        _, position = _item_row(ctx, system)
        for ref in vetoed:  # 等保 item ids; 密评 unit short ids (NC-1)
            entry = ctx.catalogue.get(ref)
            at = position.get(entry.id) if entry is not None else None
            if at is not None and not outcomes[at].high_risk:
                outcomes[at] = replace(outcomes[at], high_risk=True)


def _item_row(ctx: ScanContext, system: m.System) -> tuple[list[Item | CryptoUnit], dict[str, int]]:
    """The system's items (:func:`system_items`) and each item's position in that row (memoised per levels)."""
    key = (system.level, system.crypto_level)
    found = ctx.item_rows.get(key)
    if found is None:
        items = system_items(ctx, system)
        found = ctx.item_rows[key] = (items, {item.id: index for index, item in enumerate(items)})
    return found


def _rules_in_row(ctx: ScanContext, system: m.System, results: Iterable[RuleResult]) -> dict[str, PlacedRule]:
    """Rule id -> :func:`placements` of the rules that gave ``results`` in the row of the system's levels
    (memoised per levels and those rules). Only they have a say here: an item no other of them checks is decided
    by its result alone, whatever the rules of other points (a static scan runs the manifest rules only) would
    say of it."""
    ran = tuple(dict.fromkeys(map(_RULE_ID, results)))  # (no Python-level loop: every system asks)
    key = (system.level, system.crypto_level, ran)
    found = ctx.rules_in_row.get(key)
    if found is None:
        _, position = _item_row(ctx, system)
        found = ctx.rules_in_row[key] = placements(ctx, [RULES_BY_ID[rule_id] for rule_id in ran], system.level,
                                                   system.crypto_level, position)
    return found


def _row_statics(ctx: ScanContext, system: m.System) -> list[ItemStatic]:
    """:func:`item_static` of each item of the system's row (memoised per levels)."""
    key = (system.level, system.crypto_level)
    found = ctx.row_statics.get(key)
    if found is None:
        items, _ = _item_row(ctx, system)
        found = ctx.row_statics[key] = [item_static(ctx, item, system.crypto_level) for item in items]
    return found


def _untouched_row(ctx: ScanContext, system: m.System) -> list[ItemOutcome]:
    """The outcome of each of the system's items when no rule checks it (no attestation exists), in row
    order; memoised per (等保 level, 密评 level): outcomes are shared between systems."""
    key = (system.level, system.crypto_level)
    found = ctx.untouched_rows.get(key)
    if found is None:
        items, _ = _item_row(ctx, system)
        found = ctx.untouched_rows[key] = [item_outcome(ctx, system, item, ()) for item in items]
    return found

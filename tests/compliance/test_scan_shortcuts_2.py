"""The scanner's per-system shortcuts answer exactly what the plain path answers (scan speed, the compliance work).

* :func:`compliance.scan.items.placements`: each rule's slots in a row, split into the items only it checks there
  (``sole``) and the others;
* ``compliance.scanner._system_report``: an item only one rule checks, built straight from that rule's result
  (:func:`compliance.scan.items.decided_outcome`), is the outcome the plain path builds from all contributions
  (:func:`compliance.scan.items.item_outcome`) — on the results as they are, with statuses varied (failing, partial,
  errored, per-item), with a rule answering twice (the shortcut is not taken) and with waivers;
* the 等保 card from the row with replaced entries, whose entries of unfailed items are memoised per profile
  (``compliance.scan.dengbao._row_entries``), is the card of every entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pytest

from compliance.results import ItemOutcome, SystemReport
from compliance.scan.context import ScanContext, ScanOptions, setup
from compliance.scan.dengbao import dengbao_card
from compliance.scan.items import Contribution, item_outcome, placements, slots, system_items
from compliance.scan.points import manifest_results
from compliance.scanner import _settle_high_risk, _system_report
from compliance.waivers import Records, Waiver
from policies.engine import RuleResult, Status
from policies.registry import RULES, RULES_BY_ID

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 12, 1)


def _context() -> ScanContext:
    # Without attestations: the scanner starts from the untouched row and takes the shortcuts.
    return setup(ScanOptions(root=ROOT, as_of=AS_OF, today=AS_OF, use_attestations=False))


def _plain_outcomes(ctx: ScanContext, report: SystemReport, results: list[RuleResult]) -> list[ItemOutcome]:
    """Every item's outcome from all its contributions, as the scanner built them before the shortcuts."""
    system = ctx.register.systems[report.name]
    items = system_items(ctx, system)
    position = {item.id: index for index, item in enumerate(items)}
    contributions: dict[int, list[Contribution]] = {}
    for result, finding in zip(results, report.findings, strict=True):
        rule = RULES_BY_ID[result.rule_id]
        for projected, index in slots(ctx, rule, system.level, system.crypto_level, position):
            if projected in result.silent:  # the result says nothing of that item (Outcome.silent)
                continue
            contributions.setdefault(index, []).append((result.status_of(projected), finding, rule, projected))
    plain = [item_outcome(ctx, system, item, contributions.get(index) or ()) for index, item in enumerate(items)]
    # then what both paths do once the cards are judged (the scanner settles the high-risk flags on them)
    settled = dataclasses.replace(report, items=plain)
    _settle_high_risk(ctx, system, settled, [index for index, outcome in enumerate(plain) if outcome.high_risk])
    return settled.items


def _varied(results: list[RuleResult], seed: int) -> list[RuleResult]:
    """The results with statuses changed at random: some fail, are partial, error or judge items apart."""
    chance = random.Random(seed)
    varied = []
    for result in results:
        pick = chance.random()
        if pick < 0.15:
            result = dataclasses.replace(result, status=chance.choice(
                [Status.FAIL, Status.PARTIAL, Status.ERROR, Status.NOT_APPLICABLE]), per_control={})
        elif pick < 0.3 and result.controls:
            result = dataclasses.replace(result, per_control={
                control: chance.choice(list(Status)) for control in result.controls if chance.random() < 0.5})
        varied.append(result)
    return varied


def test_placements_split_the_slots_by_how_many_check_an_item() -> None:
    ctx = _context()
    for system in ctx.register.systems.values():
        items = system_items(ctx, system)
        position = {item.id: index for index, item in enumerate(items)}
        placed = placements(ctx, RULES, system.level, system.crypto_level, position)
        every = {rule.id: slots(ctx, rule, system.level, system.crypto_level, position) for rule in RULES}
        checkers = Counter(index for found in every.values() for _, index in found)
        for rule in RULES:
            entry = placed[rule.id]
            assert entry.rule is rule and entry.slots == every[rule.id] and entry.ids == (rule.id,)
            assert sorted(entry.sole + entry.shared) == sorted(entry.slots)
            assert all(checkers[index] == 1 for _, index in entry.sole)
            assert all(checkers[index] > 1 for _, index in entry.shared)


@pytest.mark.parametrize("variant", ["as-is", "varied-1", "varied-2", "twice", "waived"])
def test_system_report_shortcuts_are_the_plain_path(variant: str) -> None:
    ctx = _context()
    results, facts = manifest_results(ctx, "2026-12-01T00:00:00Z")
    by_system: dict[str, list[RuleResult]] = {}
    for result in results:
        by_system.setdefault(result.subject, []).append(result)
    if variant == "waived":  # a rule waiver and an item waiver on every other system
        names = sorted(by_system)[::2]
        waivers = tuple(w for name in names for w in (
            Waiver(f"W-{name}-r", name, None, by_system[name][0].rule_id, "r", "a", AS_OF, AS_OF, "w.yaml"),
            Waiver(f"W-{name}-i", name, system_items(ctx, ctx.register.systems[name])[30].id, None, "r", "a", AS_OF,
                   AS_OF, "w.yaml")))
        ctx.records = Records(waivers, ())
    for seed, name in enumerate(sorted(by_system)):
        system = ctx.register.systems[name]
        given = by_system[name]
        if variant.startswith("varied"):
            given = _varied(given, seed * 10 + int(variant[-1]))
        elif variant == "twice":  # one rule says twice (as a rule at two points would): no shortcut
            given = [*_varied(given, seed), given[0]]
        report = _system_report(ctx, system, given, facts[name], {})
        plain = _plain_outcomes(ctx, report, given)
        assert [repr(o) for o in report.items] == [repr(o) for o in plain], name
        assert [o.score_status for o in report.items] == [o.score_status for o in plain], name
        # the card of every entry (no memoised row), from a context that has scored nothing yet
        assert dengbao_card(_fresh_cards(ctx), report.items, system) == report.dengbao, name


def _fresh_cards(ctx: ScanContext) -> ScanContext:
    return dataclasses.replace(ctx, dengbao_cards={}, row_entries={}, case_applies={})

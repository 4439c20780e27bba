"""Every rule's own scenarios (``policies/scenarios/<RULE-ID>.yaml``): each passing input passes, each failing
input fails (or is partial where declared), and every registered rule has both.

Failing scenarios are the passing base with named changes, so each one proves a single sub-check of its
rule: a broken sub-check cannot hide behind another one that still fails.
"""

from __future__ import annotations

import pytest

from policies.engine import Status, evaluate
from policies.registry import RULES, RULES_BY_ID
from policies.scenarios import Scenario, load_scenarios

SCENARIOS = load_scenarios(RULES)
ALL = [scenario for found in SCENARIOS.values() for scenario in found]


@pytest.mark.parametrize("scenario", ALL, ids=[scenario.id for scenario in ALL])
def test_scenario(scenario: Scenario) -> None:
    rule = RULES_BY_ID[scenario.rule_id]
    result = evaluate(rule, scenario.facts)
    assert result is not None, f"{scenario.id}: the rule does not run on these facts (needs {rule.facts})"
    assert result.status is scenario.expect, f"{scenario.id}: {result.status} — {result.message}"
    if scenario.kind != "not_applicable":
        assert result.evidence, f"{scenario.id}: no evidence"
    level, crypto = scenario.facts.level, scenario.facts.crypto_level
    mapped = dict(rule.control_pairs(level, crypto))
    for template, wanted in scenario.controls.items():
        projected = mapped.get(template)
        assert projected is not None, f"{scenario.id}: {template} is not an item at level {level}"
        if wanted is None:  # nothing to judge: the result leaves the item (it stays 未测)
            assert projected not in result.controls and projected in result.silent, \
                f"{scenario.id}: {projected} should be left unjudged, the result says {result.status_of(projected)}"
            continue
        assert projected in result.controls, f"{scenario.id}: {projected} not among {result.controls}"
        assert result.status_of(projected) is wanted, f"{scenario.id}: {projected} is {result.status_of(projected)}"


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_every_rule_has_passing_and_failing_scenarios(rule_id: str) -> None:
    kinds = {scenario.kind for scenario in SCENARIOS[rule_id]}
    assert {"pass", "fail"} <= kinds, f"policies/scenarios/{rule_id}.yaml needs `pass:` and `fail:` scenarios"
    assert any(s.kind == "fail" and s.expect is Status.FAIL for s in SCENARIOS[rule_id]), \
        f"{rule_id}: at least one scenario must fail outright (not only partial)"


@pytest.mark.parametrize("rule_id", sorted(SCENARIOS))
def test_scenarios_hold_only_the_rules_facts(rule_id: str) -> None:
    # A scenario carrying other rules' facts would let the shared all-pass / all-fail pattern creep back.
    rule = RULES_BY_ID[rule_id]
    for scenario in SCENARIOS[rule_id]:
        assert set(scenario.facts.values) <= {*rule.facts, "thresholds"}, scenario.id
        if scenario.kind == "fail" and scenario.facts.level == 3:
            assert scenario.changed, f"{scenario.id}: a failing scenario names what it changes in the passing base"


def test_levels_outside_the_rule_are_scenarios_too() -> None:
    # The engine's level gate is exercised through the scenario files (see XZ-RES-PSS-RESTRICTED).
    gated = {s.rule_id for s in ALL
             if s.kind == "not_applicable" and s.facts.level not in RULES_BY_ID[s.rule_id].levels}
    assert {rule.id for rule in RULES if rule.levels != frozenset({1, 2, 3, 4})} <= gated

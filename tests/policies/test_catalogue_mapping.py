"""Every rule names real catalogue items, at every level it runs at.

The rule → item mapping is kept only in the rules (``policies/``); the catalogue has no ``rules:`` lists
and coverage is derived from the rules (``compliance.coverage``, tested in tests/standards/test_coverage.py).
"""

from __future__ import annotations

import dataclasses

import pytest

from compliance.catalogue import Catalogue, CryptoUnit, Item, default_standards_dir, load_catalogue
from compliance.coverage import consistency_problems, derived_rules, resolve, uncovered_automated
from policies.registry import RULES, get_rule


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(default_standards_dir())


def test_every_level3_control_exists(catalogue: Catalogue) -> None:
    for rule in RULES:
        for control in rule.controls_for(3, 3):
            found = catalogue.get(control)
            assert isinstance(found, Item | CryptoUnit), f"{rule.id}: {control} is not in the catalogue"


def test_every_rule_checks_something_at_each_of_its_levels(catalogue: Catalogue) -> None:
    covered_levels = {item.level for item in catalogue.items}
    for rule in RULES:
        for level in sorted(rule.levels & covered_levels):
            assert resolve(catalogue, rule, level), f"{rule.id} maps to no item at level {level}"


def test_rule_controls_are_consistent_with_the_catalogue(catalogue: Catalogue) -> None:
    assert consistency_problems(catalogue) == []


def test_a_control_missing_from_the_catalogue_is_reported(catalogue: Catalogue) -> None:
    rule = get_rule("XZ-HOST-LOCKOUT")
    broken = dataclasses.replace(rule, controls=(*rule.controls, "GB/T 22239-2019:{L}.1.4.1.z"))
    (problem,) = consistency_problems(catalogue, [broken])
    assert problem.item == "GB/T 22239-2019:8.1.4.1.z" and "XZ-HOST-LOCKOUT" in problem.message


def test_equivalents_bridge_numbering_between_levels(catalogue: Catalogue) -> None:
    # level-2 audit protection: 8.1.4.3.d (process protection) does not exist at level 2
    ids = resolve(catalogue, get_rule("XZ-HOST-AUDIT-PROTECT"), 2)
    assert "GB/T 22239-2019:7.1.4.3.c" in ids
    assert not any(i.endswith("7.1.4.3.d") for i in ids)


def test_derived_coverage_reaches_each_technical_category(catalogue: Catalogue) -> None:
    derived = derived_rules(catalogue)
    categories = {catalogue.item(i).category for i in derived if isinstance(catalogue.get(i), Item)}
    assert {"CNS", "ABS", "CES", "SMC", "CMS", "MMS"} <= categories
    # the automated level-3 items no rule checks yet are reported, not hidden
    gaps = uncovered_automated(catalogue)
    assert all(catalogue.item(i).check_type == "automated" for i in gaps)

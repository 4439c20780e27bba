"""Rule ↔ catalogue coverage, derived from the rules (the mapping lives in ``policies/``, not in
``standards/``): which items each rule checks at each level, and whether the catalogue agrees.

The catalogue's own ``rules:`` lists are optional; when an item lists rules, they must be exactly the
rules that claim the item (:func:`consistency_problems`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compliance.catalogue import DENGBAO, Catalogue, Item
from policies.engine import Rule, project_control
from policies.registry import RULES


def resolve_pairs(catalogue: Catalogue, rule: Rule, level: int,
                  crypto_level: int | None = None) -> list[tuple[str, str]]:
    """``(projected id, catalogue id)`` for each control ``rule`` checks at these levels. A projected id
    the catalogue lacks is mapped through the level-3 item's ``equivalents`` (numbering differs between
    levels); a control that does not exist at the level is dropped."""
    found: list[tuple[str, str]] = []
    for template, projected in rule.control_pairs(level, crypto_level):
        if catalogue.get(projected) is not None:
            found.append((projected, projected))
            continue
        canonical = catalogue.get(project_control(template, 3, 3))
        if isinstance(canonical, Item):
            prefix = f"{DENGBAO}:{level + 5}."
            match = next((e for e in canonical.equivalents if e.startswith(prefix)), None)
            if match and catalogue.get(match) is not None:
                found.append((projected, match))
    return found


def resolve(catalogue: Catalogue, rule: Rule, level: int, crypto_level: int | None = None) -> list[str]:
    """Catalogue ids ``rule`` checks at these levels (see :func:`resolve_pairs`)."""
    return [item for _, item in resolve_pairs(catalogue, rule, level, crypto_level)]


def derived_rules(catalogue: Catalogue, rules: Iterable[Rule] = RULES) -> dict[str, tuple[str, ...]]:
    """Catalogue id → the ids of the rules that check it (at any level)."""
    table: dict[str, list[str]] = {}
    for rule in rules:
        for level in (1, 2, 3, 4):
            for item in resolve(catalogue, rule, level):
                if rule.id not in table.setdefault(item, []):
                    table[item].append(rule.id)
    return {item: tuple(ids) for item, ids in sorted(table.items())}


@dataclass(frozen=True)
class Problem:
    item: str
    message: str


def consistency_problems(catalogue: Catalogue, rules: Iterable[Rule] = RULES) -> list[Problem]:
    """Items whose non-empty ``rules:`` list differs from the derived mapping, and rule controls that
    name no catalogue item at level 3 (every rule's level-3 controls must exist)."""
    problems: list[Problem] = []
    rules = list(rules)
    derived = derived_rules(catalogue, rules)
    for item in catalogue.items:
        if item.rules and set(item.rules) != set(derived.get(item.id, ())):
            problems.append(Problem(item.id, f"catalogue lists {sorted(item.rules)}, the rules claim "
                                             f"{sorted(derived.get(item.id, ()))}"))
    for rule in rules:
        for level in (3,):
            for control in rule.controls_for(level, level):
                if catalogue.get(control) is None:
                    problems.append(Problem(control, f"{rule.id} names {control}, which is not in the catalogue"))
    return problems


def uncovered_automated(catalogue: Catalogue, level: int = 3) -> list[str]:
    """Automated items of ``level`` that no rule checks (coverage gaps to close)."""
    derived = derived_rules(catalogue)
    return [item.id for item in catalogue.items_where(level=level, check_type="automated") if item.id not in derived]

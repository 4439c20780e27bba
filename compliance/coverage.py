"""Rule ↔ catalogue mapping, derived from the rules: the one answer to "which rules check this item".

The mapping lives in the rules' ``controls`` (``policies/``); the catalogue in ``standards/`` has no
``rules:`` lists, so there is nothing to keep in step by hand. The scanner attaches rule results to items
with :func:`resolve_pairs`; :func:`derived_rules` and :func:`coverage` (``xzgov standards
coverage|show|list``) use the same function per level, so the coverage shown is the coverage scanned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from compliance.catalogue import AUTOMATABLE, DENGBAO, FAMILIES, Catalogue, CryptoUnit, Family, Item
from policies.engine import Rule, project_control
from policies.registry import RULES

LEVELS = (1, 2, 3, 4)


def resolve_pairs(catalogue: Catalogue, rule: Rule, level: int,
                  crypto_level: int | None = None) -> list[tuple[str, str]]:
    """``(projected id, catalogue id)`` for each control ``rule`` checks at these levels.

    Rules name 等保 controls in level-3 numbering (``{L}.1.4.9.a``). Clause numbers are not stable across
    levels (level 2 has no 数据保密性, so its 7.1.4.9 is 剩余信息保护, not 数据备份恢复), so a ``{L}``
    control is mapped from its level-3 item through ``equivalents`` (:meth:`Catalogue.at_level`), never by
    the projected chapter alone; a control with no equivalent at the level is dropped. Other controls
    (literal ids, 密评 units) are taken as projected when the catalogue has them."""
    found: list[tuple[str, str]] = []
    for template, projected in rule.control_pairs(level, crypto_level):
        canonical = catalogue.get(project_control(template, 3, 3)) if "{L}" in template else None
        if isinstance(canonical, Item) and canonical.standard == DENGBAO:
            target = catalogue.at_level(canonical.id, level)
            if target is not None:
                found.append((projected, target.id))
        elif catalogue.get(projected) is not None:
            found.append((projected, projected))
    return found


def resolve(catalogue: Catalogue, rule: Rule, level: int, crypto_level: int | None = None) -> list[str]:
    """Catalogue ids ``rule`` checks at these levels (see :func:`resolve_pairs`)."""
    return [item for _, item in resolve_pairs(catalogue, rule, level, crypto_level)]


def derived_rules(catalogue: Catalogue, rules: Iterable[Rule] = RULES, *,
                  level: int | None = None) -> dict[str, tuple[str, ...]]:
    """Catalogue id → the ids of the rules that check it, for a system at ``level`` (every level when
    ``None``). A 等保 item counts only at its own level: that is the only level at which the scanner
    scores it (a system's items are those of its level)."""
    table: dict[str, list[str]] = {}
    for rule in rules:
        for at in LEVELS if level is None else (level,):
            for item_id in resolve(catalogue, rule, at):
                found = catalogue.get(item_id)
                if isinstance(found, Item) and found.level != at:
                    continue
                if rule.id not in table.setdefault(item_id, []):
                    table[item_id].append(rule.id)
    return {item: tuple(ids) for item, ids in sorted(table.items())}


def rules_for(catalogue: Catalogue, entry: Item | CryptoUnit, rules: Iterable[Rule] = RULES) -> tuple[str, ...]:
    """The rules that check one item (at its own level) or 密评 unit."""
    level = entry.level if isinstance(entry, Item) else None
    return derived_rules(catalogue, rules, level=level).get(entry.id, ())


@dataclass(frozen=True)
class CoverageRow:
    """How the 等保 items of one level and family are checked, by the rules the scanner runs at that level.

    ``not_covered`` lists the automatable (automated or semi-automated) items no rule checks;
    ``checked_manual`` counts manual or inherited items a rule checks anyway (its result is evidence)."""

    level: int
    family: Family
    items: int
    automated: int
    semi_automated: int
    manual: int
    inherited: int
    automated_covered: int
    semi_automated_covered: int
    checked_manual: int
    not_covered: tuple[str, ...]

    @property
    def covered(self) -> int:
        return self.automated_covered + self.semi_automated_covered

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "family": self.family,
            "items": self.items,
            "automated": self.automated,
            "semi_automated": self.semi_automated,
            "manual": self.manual,
            "inherited": self.inherited,
            "automated_covered": self.automated_covered,
            "semi_automated_covered": self.semi_automated_covered,
            "covered": self.covered,
            "not_covered": len(self.not_covered),
            "not_covered_items": list(self.not_covered),
            "checked_manual": self.checked_manual,
        }


def coverage(catalogue: Catalogue, rules: Iterable[Rule] = RULES) -> list[CoverageRow]:
    """One row per level and family present in the catalogue, in level then family order."""
    rules = tuple(rules)
    rows: list[CoverageRow] = []
    for level in LEVELS:
        checked = derived_rules(catalogue, rules, level=level)
        for family in FAMILIES:
            items = catalogue.items_where(level=level, family=family)
            if not items:
                continue
            kinds = Counter(item.check_type for item in items)
            with_rules = Counter(item.check_type for item in items if item.id in checked)
            rows.append(CoverageRow(
                level=level, family=family, items=len(items),
                automated=kinds["automated"], semi_automated=kinds["semi-automated"],
                manual=kinds["manual"], inherited=kinds["inherited"],
                automated_covered=with_rules["automated"], semi_automated_covered=with_rules["semi-automated"],
                checked_manual=with_rules["manual"] + with_rules["inherited"],
                not_covered=tuple(item.id for item in items
                                  if item.check_type in AUTOMATABLE and item.id not in checked),
            ))
    return rows


@dataclass(frozen=True)
class Problem:
    item: str
    message: str


def consistency_problems(catalogue: Catalogue, rules: Iterable[Rule] = RULES) -> list[Problem]:
    """Rule controls that name no catalogue entry at level 3 (every level-3 control must exist there; the
    other levels are reached through ``equivalents``, see :func:`resolve_pairs`)."""
    return [Problem(control, f"{rule.id} names {control}, which is not in the catalogue")
            for rule in rules for control in rule.controls_for(3, 3) if catalogue.get(control) is None]


def uncovered_automated(catalogue: Catalogue, level: int = 3) -> list[str]:
    """Automated items of ``level`` that no rule checks at that level (coverage gaps to close)."""
    checked = derived_rules(catalogue, level=level)
    return [item.id for item in catalogue.items_where(level=level, check_type="automated") if item.id not in checked]

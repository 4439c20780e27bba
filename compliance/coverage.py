"""Rule ↔ catalogue mapping, derived from the rules: the one answer to "which rules check this item".

The mapping lives in the rules' ``controls`` (``policies/``); the catalogue in ``standards/`` has no
``rules:`` lists, so there is nothing to keep in step by hand. The scanner attaches rule results to items
with :func:`resolve_pairs`; :func:`derived_rules` and :func:`coverage` (``xzgov standards
coverage|show|list``) use the same function per level, so the coverage shown is the coverage scanned.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.catalogue import AUTOMATABLE, DENGBAO, FAMILIES, Catalogue, CryptoUnit, Family, Item
from policies import crosswalk
from policies.engine import Rule
from policies.registry import RULES

LEVELS = (1, 2, 3, 4)


def resolve_pairs(catalogue: Catalogue, rule: Rule, level: int,
                  crypto_level: int | None = None) -> list[tuple[str, str]]:
    """``(id as in the rule result, catalogue id)`` for each control ``rule`` checks at these levels.

    Rules name 等保 controls in level-3 numbering (``{L}.1.4.9.a``). Clause numbers are not stable across
    levels (level 2 has no 数据保密性, so its 7.1.4.9 is 剩余信息保护, not 数据备份恢复), so the engine maps a
    ``{L}`` control through :data:`policies.crosswalk.CROSSWALK`, the table generated from the catalogue's
    ``equivalents`` (:func:`crosswalk_table`); a control with no equivalent at the level is dropped there.
    The ids of a :class:`policies.engine.RuleResult` are therefore already catalogue ids: this keeps those
    the catalogue has (the pair's two ids are equal; the pair shape is kept for the scanner)."""
    return [(control, control) for _, control in rule.control_pairs(level, crypto_level)
            if catalogue.get(control) is not None]


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


def crosswalk_table(catalogue: Catalogue) -> dict[str, tuple[str | None, ...]]:
    """Level-3 GB/T 22239 item id → its id at levels 1, 2, 3 and 4 (``None`` where the requirement does not
    exist), from :meth:`Catalogue.at_level` (the ``equivalents``): the data of :mod:`policies.crosswalk`."""
    return {item.id: tuple(None if (at := catalogue.at_level(item.id, level)) is None else at.id
                           for level in LEVELS)
            for item in catalogue.items_where(level=3) if item.standard == DENGBAO}


def render_crosswalk(catalogue: Catalogue) -> str:
    """The source of ``policies/crosswalk.py`` for ``catalogue`` (``python -m compliance.coverage``)."""
    lines = [
        '"""GENERATED from the catalogue\'s ``equivalents`` by ``python -m compliance.coverage`` — do not edit.',
        "",
        "Level-3 GB/T 22239-2019 item → the same requirement at levels 1, 2, 3, 4 (``None``: not at that level).",
        "Clause numbers differ between levels (level 2 has no 数据保密性, so its 数据备份恢复 is 7.1.4.8): rules",
        "name items in level-3 numbering (``{L}``) and the engine maps them to a level only through this table",
        "(:func:`policies.engine.project_control`). ``tests/standards/test_coverage.py`` fails when it drifts",
        "from ``standards/``.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from types import MappingProxyType",
        "",
        "CROSSWALK: Mapping[str, tuple[str | None, str | None, str | None, str | None]] = MappingProxyType({",
    ]
    for level3, row in crosswalk_table(catalogue).items():
        cells = ", ".join("None" if cell is None else repr(cell.removeprefix(f"{DENGBAO}:")) for cell in row)
        lines.append(f"    {level3.removeprefix(f'{DENGBAO}:')!r}: ({cells}),")
    lines.append("})")
    return "\n".join(lines) + "\n"


CROSSWALK_FILE = Path(crosswalk.__file__)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or ``--check``) ``policies/crosswalk.py`` from the catalogue in ``standards/``."""
    from compliance.catalogue import default_catalogue

    parser = argparse.ArgumentParser(prog="python -m compliance.coverage", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs, write nothing")
    args = parser.parse_args(argv)
    text = render_crosswalk(default_catalogue())
    if args.check:
        if CROSSWALK_FILE.read_text(encoding="utf-8") != text:
            print(f"{CROSSWALK_FILE} is out of date: run python -m compliance.coverage", file=sys.stderr)
            return 1
        return 0
    CROSSWALK_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {CROSSWALK_FILE}")
    return 0


def uncovered_automated(catalogue: Catalogue, level: int = 3) -> list[str]:
    """Automated items of ``level`` that no rule checks at that level (coverage gaps to close)."""
    checked = derived_rules(catalogue, level=level)
    return [item.id for item in catalogue.items_where(level=level, check_type="automated") if item.id not in checked]


if __name__ == "__main__":
    raise SystemExit(main())

"""``compliance.coverage`` is the one rule ↔ item mapping; it must agree with the rule registry per level
and family (the registry's own lookup, :func:`policies.registry.rules_for_control`, is the oracle)."""

from __future__ import annotations

import pytest

from compliance.catalogue import AUTOMATABLE, Catalogue, CryptoUnit, Item
from compliance.coverage import coverage, crosswalk_table, derived_rules, render_crosswalk, rules_for
from policies.crosswalk import CROSSWALK
from policies.engine import project_control
from policies.registry import RULES, get_rule, rules_for_control


def test_level3_mapping_is_the_registrys(catalogue: Catalogue) -> None:
    # Rules name their controls in level-3 numbering, so at level 3 every projected control is a catalogue
    # id and the registry's lookup must give exactly the derived mapping, item by item.
    derived = derived_rules(catalogue, level=3)
    for item in catalogue.items_where(level=3):
        assert set(derived.get(item.id, ())) == {r.id for r in rules_for_control(item.id, 3)}, item.id
    assert all(isinstance(catalogue.get(i), Item | CryptoUnit) for i in derived)


def expected_at(catalogue: Catalogue, level: int) -> dict[str, set[str]]:
    """Item id → rule ids at ``level``, straight from the rules: a ``{L}`` control is the level-3 item
    carried to ``level`` by :meth:`Catalogue.at_level` (the catalogue's documented way; clause numbers
    differ between levels), any other control is taken as projected."""
    table: dict[str, set[str]] = {}
    for rule in RULES:
        for template, projected in rule.control_pairs(level):
            if "{L}" in template:
                target = catalogue.at_level(template.replace("{L}", "8"), level)
                found = target.id if target is not None else None
            else:
                found = projected if catalogue.get(projected) is not None else None
            if found is not None:
                table.setdefault(found, set()).add(rule.id)
    return table


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_each_level_follows_the_rules_through_equivalents(catalogue: Catalogue, level: int) -> None:
    derived = derived_rules(catalogue, level=level)
    expected = expected_at(catalogue, level)
    assert {k: set(v) for k, v in derived.items()} == {
        k: v for k, v in expected.items() if not (isinstance(i := catalogue.get(k), Item) and i.level != level)
    }


def test_a_projected_clause_that_means_another_requirement_is_not_used(catalogue: Catalogue) -> None:
    # Level 2 has no 数据保密性: its 7.1.4.9.a is 剩余信息保护, and 数据备份恢复 is 7.1.4.8.
    level2 = derived_rules(catalogue, level=2)
    assert "XZ-MAN-CONTINUITY" in level2["GB/T 22239-2019:7.1.4.8.a"]
    assert "XZ-MAN-CONTINUITY" not in level2.get("GB/T 22239-2019:7.1.4.9.a", ())
    level1 = derived_rules(catalogue, level=1)  # level 1 has no 安全审计: 最小安装 is 6.1.4.3.a
    assert "XZ-HOST-SERVICES" in level1["GB/T 22239-2019:6.1.4.3.a"]
    assert "XZ-HOST-SERVICES" not in level1.get("GB/T 22239-2019:6.1.4.4.a", ())


def test_rows_per_level_and_family_count_the_rules(catalogue: Catalogue) -> None:
    rows = coverage(catalogue)
    assert [(r.level, r.family) for r in rows] == sorted(
        {(i.level, i.family) for i in catalogue.items}, key=lambda k: (k[0], k[1] != "general")
    )
    for row in rows:
        items = catalogue.items_where(level=row.level, family=row.family)
        with_rule = set(expected_at(catalogue, row.level))
        automatable = [i for i in items if i.check_type in AUTOMATABLE]
        assert row.items == len(items)
        assert row.automated + row.semi_automated + row.manual + row.inherited == len(items)
        assert set(row.not_covered) == {i.id for i in automatable if i.id not in with_rule}, (row.level, row.family)
        assert row.automated_covered == sum(1 for i in items if i.check_type == "automated" and i.id in with_rule)
        assert row.covered + len(row.not_covered) == len(automatable)
        if row.level == 3:  # level-3 numbering is the rules' own: the registry's lookup is exact there
            assert with_rule.isdisjoint(row.not_covered)
            assert {i.id for i in items if rules_for_control(i.id, 3)} <= with_rule


def test_level3_general_is_partly_covered(catalogue: Catalogue) -> None:
    # The old catalogue-based count reported every automatable item as not covered.
    (row,) = [r for r in coverage(catalogue) if (r.level, r.family) == (3, "general")]
    assert row.items == 211 and row.automated + row.semi_automated == 85
    assert 0 < row.covered < 85
    assert "GB/T 22239-2019:8.1.4.1.b" not in row.not_covered  # login failure handling: XZ-HOST-LOCKOUT
    assert "XZ-HOST-LOCKOUT" in rules_for(catalogue, catalogue.item("L3-CES1-02"))


def test_coverage_depends_on_the_rules_given(catalogue: Catalogue) -> None:
    empty = coverage(catalogue, rules=())
    assert all(r.covered == 0 and len(r.not_covered) == r.automated + r.semi_automated for r in empty)
    mfa = get_rule("XZ-MAN-AUTH-MFA")
    only = {(r.level, r.family): r for r in coverage(catalogue, rules=(mfa,))}
    assert only[(3, "general")].covered == 1 and only[(1, "general")].covered == 0  # 8.1.4.1.d: level 3+
    assert derived_rules(catalogue, RULES, level=3) == derived_rules(catalogue, level=3)


def test_rules_for_an_item_are_those_of_its_level(catalogue: Catalogue) -> None:
    level3 = catalogue.item("GB/T 22239-2019:8.1.4.1.d")
    assert rules_for(catalogue, level3) == derived_rules(catalogue, level=3)[level3.id]
    level4 = catalogue.at_level(level3.id, 4)
    assert level4 is not None and rules_for(catalogue, level4) == derived_rules(catalogue, level=4)[level4.id]
    assert "XZ-MAN-CRYPTO-ALGORITHMS" in rules_for(catalogue, catalogue.crypto_unit("NC-1"))


def test_the_crosswalk_is_generated_from_the_catalogue(catalogue: Catalogue) -> None:
    # policies/crosswalk.py is what the engine maps {L} controls with; it must be the catalogue's equivalents.
    table = crosswalk_table(catalogue)
    assert {f"GB/T 22239-2019:{k}": tuple(None if c is None else f"GB/T 22239-2019:{c}" for c in v)
            for k, v in CROSSWALK.items()} == table
    assert len(table) == 211 + 46
    from compliance.coverage import CROSSWALK_FILE
    assert CROSSWALK_FILE.read_text(encoding="utf-8") == render_crosswalk(catalogue), \
        "policies/crosswalk.py is out of date: run python -m compliance.coverage"


#: (item title at a level, the level-3 item's title) where the standard words the same requirement differently by level:
#: GB/T 22239-2019 7.1.4.8 b) 异地数据备份, 定时批量传送至备用场地 (level 2) vs 8.1.4.9 b) 异地实时备份 (level 3)
LEVEL_WORDINGS = {("异地数据备份", "异地实时备份")}


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_every_rule_names_the_right_item_at_every_level(catalogue: Catalogue, level: int) -> None:
    # Each {L} control names, at every level where the rule runs, the catalogue item of that level whose
    # control point and title are those of the level-3 item the rule was written for; items the level lacks
    # are dropped, never replaced by whatever the projected clause number means there.
    for rule in RULES:
        pairs = dict(rule.control_pairs(level))
        for template in rule.controls:
            if "{L}" not in template:
                continue
            level3 = catalogue.item(template.replace("{L}", "8"))
            projected = pairs.get(template)
            if level not in rule.levels:
                assert projected is None, (rule.id, template, level)
                continue
            if level not in level3.levels or catalogue.at_level(level3.id, level) is None:
                assert projected is None, f"{rule.id}: {template} has no item at level {level}, got {projected}"
                continue
            assert projected is not None, (rule.id, template, level)
            item = catalogue.item(projected)
            assert item.level == level, (rule.id, projected)
            assert item.control_point == level3.control_point and (
                item.title == level3.title or (item.title, level3.title) in LEVEL_WORDINGS), \
                f"{rule.id} at level {level}: {projected} is {item.control_point}/{item.title}, " \
                f"not {level3.control_point}/{level3.title}"


def test_items_that_the_chapter_digit_got_wrong(catalogue: Catalogue) -> None:
    # The cases of issue 12: rewriting 8.1.x → 7.1.x named other requirements at level 2.
    def titles(rule_id: str, level: int) -> list[str]:
        return [catalogue.item(c).title for c in get_rule(rule_id).controls_for(level)]
    # level 2's b) is 定时批量 (scheduled batches), not level 3's 实时 (real time): GB/T 22239-2019 7.1.4.8.b
    assert titles("XZ-MAN-CONTINUITY", 2) == ["本地备份与恢复", "异地数据备份"]
    assert project_control("GB/T 22239-2019:{L}.1.4.9.a", 2) == "GB/T 22239-2019:7.1.4.8.a"
    assert "异地数据备份" not in titles("XZ-MAN-PI-STORAGE", 2)  # 7.1.4.8.b by the digit; no 数据保密性 at 2
    assert titles("XZ-MAN-INTERNET-ZONE", 2)[0] == "重要区域不在边界并可靠隔离"
    assert titles("XZ-HOST-SERVICES", 1) == ["最小安装", "关闭多余服务与高危端口"]
    assert titles("XZ-RES-IMAGE-DIGEST", 2) == ["镜像快照完整性校验"]

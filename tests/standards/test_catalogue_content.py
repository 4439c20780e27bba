"""The catalogue content, pinned to /work/shared/notes/standards.md (see docs/standards.md)."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest
import yaml

from compliance.catalogue import (
    DENGBAO,
    Catalogue,
    catalogue_files,
    default_standards_dir,
)

# Notes table (level 3, 安全通用要求): category → (control points, items).
NOTES_LEVEL3 = {
    "安全物理环境": (10, 22),
    "安全通信网络": (3, 8),
    "安全区域边界": (6, 20),
    "安全计算环境": (11, 34),
    "安全管理中心": (4, 12),
    "安全管理制度": (4, 7),
    "安全管理机构": (5, 14),
    "安全管理人员": (4, 12),
    # the notes' corrected figures (8.1.9: 4+3+3+7+3+3+2+3+3+3; 8.1.10: 3+3+2+4+2+10+2+2+2+3+3+4+4+4); an earlier
    # version said 35 / 47 and the catalogue recorded the difference as a discrepancy
    "安全建设管理": (10, 34),
    "安全运维管理": (14, 48),
}
#: Item totals the notes confirm (checked item by item against a public requirement table): (level, family) → items
NOTES_TOTALS = {(2, "general"): 135, (3, "general"): 211, (4, "general"): 228, (2, "cloud"): 28, (3, "cloud"): 46,
                (4, "cloud"): 49}


def split(catalogue: Catalogue, level: int, family: str) -> dict[str, tuple[int, int]]:
    controls = Counter(c.category_name for c in catalogue.controls_where(level=level, family=family))
    items = Counter(i.category_name for i in catalogue.items_where(level=level, family=family))
    return {name: (controls[name], items[name]) for name in controls}


def test_level3_general_has_71_control_points_and_211_items(catalogue: Catalogue) -> None:
    assert len(catalogue.controls_where(level=3, family="general")) == 71
    assert len(catalogue.items_where(level=3, family="general")) == 211


def test_level3_general_split_per_category(catalogue: Catalogue) -> None:
    assert split(catalogue, 3, "general") == NOTES_LEVEL3
    assert sum(n for _, n in NOTES_LEVEL3.values()) == 211


def test_no_discrepancy_with_the_notes_is_left_declared(catalogue: Catalogue) -> None:
    """The notes now give 34 / 48: the catalogue's recorded discrepancy (notes 35 / 47) contradicted them."""
    for document in catalogue.documents:
        assert document.discrepancies == (), document.path


def test_level3_control_points_named_in_the_notes(catalogue: Catalogue) -> None:
    names = {
        "安全通信网络": ["网络架构", "通信传输", "可信验证"],
        "安全区域边界": ["边界防护", "访问控制", "入侵防范", "恶意代码和垃圾邮件防范", "安全审计", "可信验证"],
        "安全计算环境": [
            "身份鉴别",
            "访问控制",
            "安全审计",
            "入侵防范",
            "恶意代码防范",
            "可信验证",
            "数据完整性",
            "数据保密性",
            "数据备份恢复",
            "剩余信息保护",
            "个人信息保护",
        ],
        "安全管理中心": ["系统管理", "审计管理", "安全管理", "集中管控"],
    }
    for category, expected in names.items():
        assert [c.name for c in catalogue.controls_where(level=3, family="general", category=category)] == expected


def test_identity_authentication_8_1_4_1_has_four_items(catalogue: Catalogue) -> None:
    items = [i for i in catalogue.items_where(level=3) if i.control_clause == "8.1.4.1"]
    assert [i.id for i in items] == [f"{DENGBAO}:8.1.4.1.{x}" for x in "abcd"]
    assert [i.assessment_unit for i in items] == ["L3-CES1-01", "L3-CES1-02", "L3-CES1-03", "L3-CES1-04"]
    assert "密码技术" in items[3].summary and "两种" in items[3].summary


def test_level3_cloud_extension_has_46_items_with_the_notes_split(catalogue: Catalogue) -> None:
    items = Counter(i.category for i in catalogue.items_where(level=3, family="cloud"))
    assert items == {"PES": 1, "CNS": 5, "ABS": 8, "CES": 19, "SMC": 4, "CMS": 8, "MMS": 1}
    assert all(
        i.assessment_unit.startswith(f"L3-{i.category}2-") for i in catalogue.items_where(level=3, family="cloud")
    )


def test_other_levels_are_present_and_flagged_unconfirmed(catalogue: Catalogue) -> None:
    counts = {(d.level, d.family): d for d in catalogue.documents if d.standard == DENGBAO}
    assert set(counts) == {
        (1, "general"),
        (2, "general"),
        (3, "general"),
        (4, "general"),
        (2, "cloud"),
        (3, "cloud"),
        (4, "cloud"),
    }
    for (level, family), document in counts.items():
        # a count is confirmed where the notes confirm it (level 1 only has no figure to check against)
        assert document.counts_confirmed == ((level, family) in NOTES_TOTALS), document.path
        assert document.unconfirmed, document.path  # numbering, category codes, responsibilities stay unconfirmed
        assert not any("要求项数" in f.fact or "控制点与要求项" in f.fact for f in document.unconfirmed) or level == 1
    for (level, family), total in NOTES_TOTALS.items():
        assert len(catalogue.items_where(level=level, family=family)) == total, (level, family)


def test_management_category_codes_are_flagged_unconfirmed(catalogue: Catalogue) -> None:
    for document in catalogue.documents:
        if document.standard == DENGBAO:
            assert any("PSS/ORS/HRS/CMS/MMS" in fact.fact for fact in document.unconfirmed)


def test_ids_are_unique_and_namespaced(catalogue: Catalogue) -> None:
    ids = [i.id for i in catalogue.items] + [u.id for u in catalogue.crypto_units]
    units = [i.assessment_unit for i in catalogue.items]
    assert len(ids) == len(set(ids))
    assert len(units) == len(set(units))
    assert all(i.startswith(("GB/T 22239-2019:", "GB/T 39786-2021:")) for i in ids)


def test_every_level3_item_has_a_28448_unit(catalogue: Catalogue) -> None:
    for item in catalogue.items_where(level=3):
        assert item.assessment_unit.startswith("L3-"), item.id
        assert catalogue.by_assessment_unit(item.assessment_unit) is item


def test_l3_ces1_16_does_not_exist_and_is_a_declared_gap(catalogue: Catalogue) -> None:
    assert catalogue.get("L3-CES1-16") is None
    assert catalogue.numbering_gap("L3-CES1-16") is not None
    assert catalogue.item("L3-CES1-15").control_point == "安全审计"
    first_intrusion = catalogue.item("L3-CES1-17")
    assert (first_intrusion.control_point, first_intrusion.clause) == ("入侵防范", "8.1.4.4.a")
    numbers = sorted(
        int(i.assessment_unit[-2:]) for i in catalogue.items_where(level=3, family="general", category="CES")
    )
    assert numbers == [n for n in range(1, 36) if n != 16]


def test_physical_items_are_platform_and_inherited(catalogue: Catalogue) -> None:
    physical = catalogue.items_where(category="PES", family="general")
    assert physical
    assert {(i.responsibility, i.check_type) for i in physical} == {("platform", "inherited")}


def test_equivalents_link_the_same_requirement_across_levels(catalogue: Catalogue) -> None:
    item = catalogue.item(f"{DENGBAO}:8.1.4.1.d")
    assert item.levels == (3, 4)
    assert item.equivalents == (f"{DENGBAO}:9.1.4.1.d",)
    assert catalogue.item(f"{DENGBAO}:9.1.4.1.d").equivalents == (item.id,)
    audit = catalogue.item(f"{DENGBAO}:8.1.4.3.b")
    assert "主体" in audit.note_for(4)  # level 4 asks for subject/object identifiers


def test_41_crypto_units_22_technical_19_management(catalogue: Catalogue) -> None:
    units = catalogue.crypto_units
    assert len(units) == 41
    assert Counter(u.kind for u in units) == {"technical": 22, "management": 19}
    assert Counter(u.aspect for u in units) == {
        "physical": 3,
        "network": 5,
        "device": 6,
        "application": 8,
        "policy": 6,
        "personnel": 5,
        "build_run": 5,
        "emergency": 3,
    }


LEVEL3_STRENGTHS = {
    "physical": ["宜", "宜", "宜"],
    "network": ["应", "宜", "应", "宜", "可"],
    "device": ["应", "应", "宜", "宜", "宜", "宜"],
    "application": ["应", "宜", "宜", "应", "应", "宜", "宜", "宜"],
}


def test_level3_crypto_strengths_match_the_notes(catalogue: Catalogue) -> None:
    for aspect, expected in LEVEL3_STRENGTHS.items():
        assert [u.strength(3) for u in catalogue.units_where(aspect=aspect)] == expected, aspect
    assert {u.strength(3) for u in catalogue.units_where(kind="management")} == {"应"}
    names = [u.name for u in catalogue.units_where(aspect="device")]
    assert names[1] == "远程管理通道安全"


def test_crypto_units_link_to_existing_dengbao_items(catalogue: Catalogue) -> None:
    for unit in catalogue.crypto_units:
        assert unit.related, unit.short_id
        for ref in unit.related:
            assert catalogue.get(ref) is not None, (unit.short_id, ref)
    technical = catalogue.units_where(kind="technical")
    assert all(u.d and u.a and u.k for u in technical)


def test_items_carry_no_rules_list(catalogue: Catalogue) -> None:
    # The rule ↔ item mapping is derived from the rules (compliance.coverage, tested in
    # tests/standards/test_coverage.py); a second copy in the data could only drift from it.
    for path in catalogue_files(default_standards_dir()):
        assert "rules:" not in path.read_text(encoding="utf-8"), path
    assert all("rules" not in item.to_json() for item in catalogue.items)


@pytest.mark.parametrize("path", catalogue_files(default_standards_dir()), ids=lambda p: p.name)
def test_catalogue_files_validate_against_the_schema(path: object) -> None:
    schema = json.loads((default_standards_dir() / "schema" / "catalogue.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)

    def keys_as_text(value: object) -> object:
        if isinstance(value, dict):
            return {str(k): keys_as_text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [keys_as_text(v) for v in value]
        return value

    data = keys_as_text(yaml.safe_load(path.read_text(encoding="utf-8")))  # type: ignore[attr-defined]
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data)) == []


def test_queries_filter_by_responsibility_and_check_type(catalogue: Catalogue) -> None:
    automated = catalogue.items_where(level=3, family="general", check_type="automated")
    assert automated and all(i.check_type == "automated" for i in automated)
    tenant = catalogue.items_where(level=3, responsibility="tenant", category="安全计算环境")
    assert tenant and all(i.category == "CES" and i.responsibility == "tenant" for i in tenant)


def test_at_level_maps_a_requirement_across_levels(catalogue: Catalogue) -> None:
    remote_backup = f"{DENGBAO}:8.1.4.9.b"
    assert catalogue.at_level(remote_backup, 2) == catalogue.item(f"{DENGBAO}:7.1.4.8.b")  # no 数据保密性 at level 2
    assert catalogue.at_level(remote_backup, 1) is None
    assert catalogue.at_level("L3-CES1-04", 4) == catalogue.item(f"{DENGBAO}:9.1.4.1.d")
    assert catalogue.at_level("L3-CES1-04", 3) == catalogue.item("L3-CES1-04")


def test_the_rules_name_each_crypto_unit_as_the_catalogue_does(catalogue: Catalogue) -> None:
    """The evidence named AD-6 (重要数据传输完整性) after NC-2 (通信数据完整性): the names were keyed by purpose,
    which units of two aspects share. Keyed by unit, they are the catalogue's own."""
    from xzgov.facts.baseline import CRYPTO_UNIT_TITLES, CRYPTO_UNITS

    assert set(CRYPTO_UNIT_TITLES) == {unit for _, _, unit in CRYPTO_UNITS}
    for unit, title in CRYPTO_UNIT_TITLES.items():
        entry = catalogue.get(unit)
        assert entry is not None and getattr(entry, "name", None) == title, unit

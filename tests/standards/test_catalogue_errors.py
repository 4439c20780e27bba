"""A broken catalogue fails with located diagnostics, like a broken manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.catalogue import CatalogueError, load_catalogue, load_located_yaml
from xzgov.core.errors import Diagnostic, ExitCode

L3 = Path("gbt22239-2019") / "level3-general.yaml"
UNITS = Path("gbt39786-2021") / "units.yaml"


def locate(path: Path, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``path``."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        column = line.find(needle)
        if column >= 0:
            if seen == occurrence:
                return number, column + 1
            seen += 1
    raise AssertionError(f"{needle!r} not found in {path}")


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def problems(directory: Path) -> list[Diagnostic]:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(directory)
    assert caught.value.exit_code == ExitCode.FAILED
    assert caught.value.diagnostics
    return list(caught.value.diagnostics)


def test_duplicate_key_is_an_error_with_its_position(standards_copy: Path) -> None:
    target = standards_copy / L3
    edit(target, "      title: 唯一标识与口令策略\n", "      title: 唯一标识与口令策略\n      title: 重复\n")
    line, column = locate(target, "title: 重复")
    (problem,) = problems(standards_copy)
    assert problem.code == "duplicate-key"
    assert (problem.line, problem.column) == (line, column)
    assert problem.file.endswith("level3-general.yaml")
    assert problem.path.endswith(".title") and "categories[3]" in problem.path
    assert "first defined on line" in problem.message


def test_yaml_syntax_error_is_located(standards_copy: Path) -> None:
    target = standards_copy / UNITS
    edit(target, "    short_id: NC-1\n", "    short_id: [NC-1\n")
    line, _ = locate(target, "short_id: [NC-1")
    (problem,) = problems(standards_copy)
    assert problem.code == "yaml-syntax"
    assert line <= problem.line <= line + 2
    assert problem.column >= 1


def test_bad_enum_value_points_at_the_value(standards_copy: Path) -> None:
    target = standards_copy / L3
    line, column = locate(target, "responsibility: platform")
    edit(target, "responsibility: platform", "responsibility: landlord")
    (problem,) = problems(standards_copy)
    assert problem.code == "enum"
    assert problem.line == line and problem.column == column + len("responsibility: ")
    assert problem.path == "categories[0].control_points[0].items[0].responsibility"
    assert "tenant" in problem.hint and "platform" in problem.hint


def test_unknown_field_points_at_the_key(standards_copy: Path) -> None:
    target = standards_copy / L3
    edit(target, "      high_risk: false\n", "      high_risk: false\n      hig_risk: true\n")
    line, column = locate(target, "hig_risk: true")
    (problem,) = problems(standards_copy)
    assert (problem.line, problem.column) == (line, column)
    assert problem.message == "unknown field 'hig_risk'"
    assert problem.path.endswith("items[0].hig_risk")


def test_a_rules_list_in_the_catalogue_is_rejected(standards_copy: Path) -> None:
    # The mapping lives in the rules; a stale rules: list must fail loudly, not be ignored.
    target = standards_copy / L3
    edit(target, "      high_risk: false\n", "      high_risk: false\n      rules: [XZ-HOST-LOCKOUT]\n")
    (problem,) = problems(standards_copy)
    assert problem.message == "unknown field 'rules'"
    assert (problem.line, problem.column) == locate(target, "rules: [XZ-HOST-LOCKOUT]")


def test_missing_field_names_it(standards_copy: Path) -> None:
    target = standards_copy / UNITS
    edit(target, "    summary: 采用密码技术对进入重要区域的人员进行身份鉴别，确保身份真实。\n", "")
    (problem,) = problems(standards_copy)
    assert "missing required field 'summary'" in problem.message
    assert problem.path == "aspects[0].units[0]"
    assert problem.line == locate(target, "- id: GB/T 39786-2021:8.1.a")[0]


def test_undeclared_numbering_gap_is_an_error(standards_copy: Path) -> None:
    target = standards_copy / L3
    edit(target, "      assessment_unit: L3-CES1-02\n", "      assessment_unit: L3-CES1-03\n")
    found = problems(standards_copy)
    messages = [p.message for p in found]
    assert any("skips L3-CES1-02" in m for m in messages)
    assert any("duplicate assessment unit 'L3-CES1-03'" in m for m in messages)
    gap = next(p for p in found if "skips" in p.message)
    assert gap.line == locate(target, "assessment_unit: L3-CES1-03")[0]


def test_declared_gap_that_is_used_is_an_error(standards_copy: Path) -> None:
    target = standards_copy / L3
    edit(target, "assessment_unit: L3-CES1-17", "assessment_unit: L3-CES1-16")
    found = problems(standards_copy)
    assert any("declared as a numbering gap but used" in p.message for p in found)
    assert any("declared numbering gap L3-CES1-16 is not skipped" in p.message for p in found)


def test_count_mismatch_is_reported_at_the_metadata(standards_copy: Path) -> None:
    target = standards_copy / L3
    edit(
        target,
        "  counts:\n    control_points: 71\n    items: 211\n",
        "  counts:\n    control_points: 71\n    items: 212\n",
    )
    (problem,) = problems(standards_copy)
    assert problem.path == "metadata.counts.items"
    assert problem.line == locate(target, "items: 212")[0]
    assert "set items: 211" in problem.hint


def test_wrong_item_id_and_duplicate_across_files(standards_copy: Path) -> None:
    target = standards_copy / L3
    edit(target, "- id: GB/T 22239-2019:8.1.1.1.b", "- id: GB/T 22239-2019:8.1.1.1.a")
    found = problems(standards_copy)
    assert any("item id should be GB/T 22239-2019:8.1.1.1.b" in p.message for p in found)
    duplicate = next(p for p in found if p.code == "duplicate-id")
    assert "first at" in duplicate.message and "level3-general.yaml" in duplicate.message


def test_dangling_reference_is_an_error(standards_copy: Path) -> None:
    target = standards_copy / UNITS
    edit(target, "related: ['GB/T 22239-2019:8.1.1.3.c']", "related: ['GB/T 22239-2019:8.1.1.3.z']")
    (problem,) = problems(standards_copy)
    assert problem.code == "reference"
    assert "8.1.1.3.z" in problem.message
    assert problem.line == locate(target, "8.1.1.3.z")[0]


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    doc, found = load_located_yaml(empty)
    assert doc is None and found[0].code == "empty"
    doc, found = load_located_yaml(tmp_path / "missing.yaml")
    assert doc is None and found[0].code == "io"


def test_a_directory_without_catalogues_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path)
    assert "no <standard>/*.yaml" in found[0].message

"""``xzgov standards`` through the real entry point (xzgov.cli.main._dispatch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance.catalogue import Catalogue
from compliance.coverage import coverage, derived_rules, rules_for
from xzgov.cli.main import _dispatch


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code = _dispatch(["standards", *args, "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_list_level3_general_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "list", "--standard", "22239", "--level", "3", "--family", "general")
    assert isinstance(data, dict)
    assert len(data["items"]) == 211 and data["crypto_units"] == []
    first = data["items"][0]
    assert first["id"] == "GB/T 22239-2019:8.1.1.1.a" and first["assessment_unit"] == "L3-PES1-01"


def test_list_filters(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "list", "-l", "3", "-c", "安全计算环境", "-r", "tenant", "-t", "automated")
    assert isinstance(data, dict) and data["items"]
    assert {(i["category"], i["responsibility"], i["check_type"]) for i in data["items"]} == {
        ("CES", "tenant", "automated")
    }
    units = run_json(capsys, "list", "-s", "密评", "-l", "3", "-c", "network")
    assert isinstance(units, dict)
    assert [u["short_id"] for u in units["crypto_units"]] == ["NC-1", "NC-2", "NC-3", "NC-4", "NC-5"]


def test_list_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the 规则 column (rule ids) would wrap the unit ids at 80 columns
    assert _dispatch(["standards", "list", "-l", "3", "-c", "CNS", "--family", "general"]) == 0
    out = capsys.readouterr().out
    assert "L3-CNS1-08" in out and "要求项 (8)" in out


def test_list_rejects_dengbao_filters_for_miping(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["standards", "list", "-s", "39786", "-r", "tenant"]) == 2
    assert "apply to GB/T 22239-2019 items only" in capsys.readouterr().err


def test_list_unknown_standard_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["standards", "list", "-s", "ISO 27001"]) == 2
    assert "unknown standard" in capsys.readouterr().err


@pytest.mark.parametrize("ref", ["GB/T 22239-2019:8.1.4.1.d", "L3-CES1-04"])
def test_show_by_namespaced_or_28448_id(capsys: pytest.CaptureFixture[str], catalogue: Catalogue, ref: str) -> None:
    data = run_json(capsys, "show", ref)
    assert isinstance(data, dict)
    assert data["id"] == "GB/T 22239-2019:8.1.4.1.d" and data["assessment_unit"] == "L3-CES1-04"
    # the rules come from the rules' own controls (compliance.coverage), as in a scan
    assert data["levels"] == [3, 4] and data["rules"] == list(rules_for(catalogue, catalogue.item(ref)))
    assert "XZ-MAN-AUTH-MFA" in data["rules"]


def test_list_shows_the_rules_of_each_items_level(capsys: pytest.CaptureFixture[str], catalogue: Catalogue) -> None:
    data = run_json(capsys, "list", "-s", "22239", "-c", "CES", "--family", "general")
    assert isinstance(data, dict) and {i["level"] for i in data["items"]} == {1, 2, 3, 4}
    by_level = {level: derived_rules(catalogue, level=level) for level in (1, 2, 3, 4)}
    for item in data["items"]:
        assert item["rules"] == list(by_level[item["level"]].get(item["id"], ())), item["id"]
    assert any(item["rules"] for item in data["items"] if item["level"] == 2)


def test_show_crypto_unit_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["standards", "show", "NC-3"]) == 0
    out = capsys.readouterr().out
    assert "通信过程中重要数据的机密性" in out and "GB/T 39786-2021:8.2.c" in out


def test_show_unknown_id_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    # an argument that names nothing is a usage error (exit 2, as an unknown `scan --system`), with a fix
    assert _dispatch(["standards", "show", "8.1.4.1.a"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" in err and "GB/T 22239-2019:8.1.4.1.a" in err
    assert _dispatch(["standards", "show", "L3-CES1-99"]) == 2
    err = capsys.readouterr().err
    assert "unknown id" in err and "hint: did you mean" in err, err
    assert _dispatch(["standards", "show", "nope"]) == 2  # nothing close: where the ids are listed
    assert "hint: list the ids with `xzgov standards list`" in capsys.readouterr().err


def test_show_numbering_gap_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["standards", "show", "L3-CES1-16"]) == 2
    err = capsys.readouterr().err
    assert "L3-CES1-16 不存在" in err and "hint:" in err, err


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_coverage_agrees_with_compliance_coverage_per_level_and_family(
    capsys: pytest.CaptureFixture[str], catalogue: Catalogue, level: int
) -> None:
    data = run_json(capsys, "coverage", "--level", str(level))
    assert isinstance(data, dict)
    expected = [row.to_json() for row in coverage(catalogue) if row.level == level]
    assert data["rows"] == expected and expected
    checked = derived_rules(catalogue, level=level)
    for row in data["rows"]:
        items = catalogue.items_where(level=level, family=row["family"])
        assert row["items"] == len(items)
        assert row["covered"] == sum(1 for i in items if i.check_type in ("automated", "semi-automated")
                                     and i.id in checked)
        assert row["covered"] + row["not_covered"] == row["automated"] + row["semi_automated"]
        assert not set(row["not_covered_items"]) & set(checked)
    cloud = run_json(capsys, "coverage", "--level", str(level), "--family", "cloud")
    assert isinstance(cloud, dict)
    assert cloud["rows"] == [row for row in expected if row["family"] == "cloud"]


def test_coverage_level3_general_counts_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "coverage", "--level", "3", "--family", "general")
    assert isinstance(data, dict)
    (general,) = data["rows"]
    assert general["items"] == 211
    assert general["automated"] + general["semi_automated"] + general["manual"] + general["inherited"] == 211
    assert general["inherited"] >= 22  # at least every physical item
    # rules exist for part of the automatable items (the old output claimed none)
    assert general["covered"] > 0 and general["not_covered"] < general["automated"] + general["semi_automated"]
    assert "GB/T 22239-2019:8.1.4.1.b" not in general["not_covered_items"]  # XZ-HOST-LOCKOUT
    assert _dispatch(["standards", "coverage"]) == 0
    out = capsys.readouterr().out
    assert "未覆盖" in out and f"{general['automated_covered']}/{general['automated']}" in out


def test_broken_catalogue_exits_1_with_located_diagnostics(
    capsys: pytest.CaptureFixture[str], standards_copy: Path
) -> None:
    target = standards_copy / "gbt39786-2021" / "units.yaml"
    target.write_text(
        target.read_text(encoding="utf-8").replace("short_id: NC-2", "short_id: NC-1", 1), encoding="utf-8"
    )
    assert _dispatch(["standards", "list", "--standards-dir", str(standards_copy)]) == 1
    err = capsys.readouterr().err
    assert "units.yaml:" in err and "duplicate short id 'NC-1'" in err and "catalogue is invalid" in err


def test_missing_catalogue_dir_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _dispatch(["standards", "coverage", "--standards-dir", str(tmp_path / "nope")]) == 2


def test_a_missing_catalogue_folder_is_located_with_a_fix(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert _dispatch(["standards", "list", "--standards-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "error [--standards-dir]: no folder" in err and "hint: give the folder holding the catalogue" in err

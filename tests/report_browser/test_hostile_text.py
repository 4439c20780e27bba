"""Register text that passes `xzgov validate` and used to break the reports (review of issue 16's report set):
``<!--<script>`` in data embedded in a page, a title over two lines (OSCAL), U+2028 in JSON lines, two
departments of one name, ``|`` in a Markdown cell, a manifest path that needs percent-encoding (SARIF), a
malformed URL fragment. Scanned for real, every format written and checked; the pages opened in headless
Chromium when it is installed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from compliance.reports import DEFAULT_FORMATS, ReportFormat, render, write_reports
from compliance.reports.formats import parse_lines
from compliance.results import ScanResult
from compliance.scanner import ScanOptions, scan
from xzgov.core.register import load_register

from .cdp import Page
from .test_report_in_browser import open_file

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "compliance" / "fixtures" / "register"
HOSTILE = "审计 <!--<script> 机构 </script><img src=x onerror=alert(1)>"
PIPE_NAME = "西藏自治区大数据中心 | 数据资源处"


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "register"
    shutil.copytree(FIXTURE, root)
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    text = text.replace("{id: jxt, name: 西藏自治区经济和信息化厅,", "{id: jxt, name: 西藏自治区大数据中心,")  # as dsjj
    text = text.replace("name: 西藏自治区人民政府办公厅,", f"name: '{PIPE_NAME}',")
    region.write_text(text, encoding="utf-8")
    for name, department in (("clean-l3", "jxt"), ("bad-mfa", "zfbgt")):  # systems in those departments
        manifest = root / "systems" / "fx" / f"{name}.yaml"
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("department: dsjj", f"department: {department}"), encoding="utf-8")
    clean = root / "systems" / "fx" / "clean-l2.yaml"
    doc = yaml.safe_load(clean.read_text(encoding="utf-8"))
    doc["metadata"]["title"] = f"测试系统\n第二行 {HOSTILE}\u2028分隔"
    clean.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    odd = root / "systems" / "fx" / "bad pi 系统#1.yaml"
    (root / "systems" / "fx" / "bad-pi.yaml").rename(odd)
    load_register(root)  # the register is valid: every case below is input `xzgov validate` accepts
    return root


@pytest.fixture(scope="module")
def hostile(hostile_root: Path) -> ScanResult:
    return scan(ScanOptions(root=hostile_root))


def test_every_format_renders_and_validates(hostile: ScanResult, tmp_path: Path) -> None:
    # every format is checked against its schema as it is written (an OSCAL title over two lines failed it)
    write_reports(hostile, tmp_path / "out", [*DEFAULT_FORMATS, ReportFormat.jsonl])
    oscal = json.loads((tmp_path / "out" / "oscal-assessment-results.json").read_text(encoding="utf-8"))
    titles = [r["title"] for r in oscal["assessment-results"]["results"]]
    assert all("\n" not in t for t in titles) and any(t.startswith("测试系统 第二行") for t in titles)


def test_json_lines_keep_one_record_per_line(hostile: ScanResult) -> None:
    text, _ = render(hostile, ReportFormat.jsonl)
    assert "\u2028" not in text and "\u2029" not in text
    assert len(text.splitlines()) == len(hostile.systems) + 1  # even for readers that split at U+2028
    whole = json.loads(render(hostile, ReportFormat.json)[0])
    assert parse_lines(text)["systems"] == whole["systems"]


def test_departments_of_one_name_stay_apart(hostile: ScanResult) -> None:
    summary = hostile.summary("department")
    assert {"jxt", "dsjj"} <= set(summary)
    assert summary["jxt"]["name"] == summary["dsjj"]["name"] == "西藏自治区大数据中心"
    report = json.loads(render(hostile, ReportFormat.json)[0])
    assert set(report["summary"]["departments"]) == set(summary)
    page = render(hostile, ReportFormat.html)[0]
    assert "西藏自治区大数据中心 (jxt)" in page and "西藏自治区大数据中心 (dsjj)" in page


def test_markdown_cells_stay_cells(hostile: ScanResult) -> None:
    text, _ = render(hostile, ReportFormat.markdown)
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("| 系统 | 部门 |")))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert len(table) == len(hostile.systems) + 2
    for row in table:  # every row has the header's cells: an escaped | is text, not a cell border
        assert row.replace("\\|", "").count("|") == table[0].count("|"), row
    assert any("| bad-mfa | 西藏自治区大数据中心 \\| 数据资源处 (zfbgt) |" in row for row in table)
    assert "<img" not in text and "\u2028" not in text


def test_sarif_locations_are_uris(hostile: ScanResult) -> None:
    sarif = json.loads(render(hostile, ReportFormat.sarif)[0])
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for run in sarif["runs"] for res in run["results"]
            for loc in res.get("locations", []) if "physicalLocation" in loc}
    assert "systems/fx/bad%20pi%20%E7%B3%BB%E7%BB%9F%231.yaml" in uris
    assert not [uri for uri in uris if " " in uri or "#" in uri]


def test_a_partial_scan_shows_no_region_kpis(tmp_path: Path) -> None:
    """A --system scan (or one shard's part) judged part of the register: its KPI page would count every
    other system as failing 密评, so it has none (the whole scan and the merged set have it)."""
    partial = scan(ScanOptions(root=REPO, systems=("credit-sharing",)))
    assert 'id="kpi"' not in render(partial, ReportFormat.html)[0]
    assert 'id="kpi"' in render(scan(ScanOptions(root=REPO, systems=())), ReportFormat.html)[0]


def test_embedded_data_survives_a_comment_opener(hostile: ScanResult, tmp_path: Path) -> None:
    write_reports(hostile, tmp_path, [ReportFormat.html])
    page = (tmp_path / "report-pages" / "system-clean-l2.html").read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', page, re.S)
    assert block is not None and "<" not in block.group(1)
    assert "<!--" not in page.split("<body>", 1)[1].replace("<!-- ", "")  # no comment opener from the data


def test_pages_with_hostile_text_work_in_a_browser(hostile: ScanResult, chromium: Page, tmp_path: Path) -> None:
    write_reports(hostile, tmp_path, [ReportFormat.html])
    system_page = tmp_path / "report-pages" / "system-clean-l2.html"
    open_file(chromium, system_page)
    assert chromium.errors() == []
    # report.js ran: the items table is drawn from the embedded data, the state bars are drawn
    assert chromium.evaluate("document.querySelectorAll('#items-body tr').length") == len(
        next(s for s in hostile.systems if s.name == "clean-l2").items)
    assert chromium.evaluate("document.querySelectorAll('span.sbar').length") == 0  # undrawn bars stay spans
    assert chromium.evaluate("document.documentElement.classList.contains('js')") is True
    assert chromium.evaluate("typeof window.alerted") == "undefined"
    summary = tmp_path / "report.html"
    open_file(chromium, summary)
    chromium.evaluate("location.hash='%E4'")
    chromium.evaluate("new Promise(function(r){setTimeout(r,100);})")
    assert chromium.evaluate("(document.querySelector('[data-page].active')||{}).id") == "summary"
    assert chromium.errors() == []


#: Characters a page, a CI viewer or a terminal would obey: a right-to-left override, a line separator, a
#: right-to-left mark, an escape (ANSI colour).
HIDDEN = ("\u202e", "\u2028", "\u200f", "\x1b")


def _hidden_in(value: object) -> list[str]:
    """The strings of JSON data ``value`` holding one of :data:`HIDDEN`."""
    if isinstance(value, str):
        return [value] if any(c in value for c in HIDDEN) else []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _hidden_in(k) + _hidden_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in _hidden_in(v)]
    return []


def test_hidden_characters_are_shown_in_every_format_people_read(tmp_path: Path) -> None:
    """The server-rendered HTML showed U+202E as ``\\u202e``, but the items table and the KPI section, drawn
    by the page scripts from embedded data, wrote the raw character (reversing the text after it), and JUnit,
    SARIF and OSCAL carried it to CI pages. Only the JSON report (data, not display) keeps the text as written."""
    root = tmp_path / "register"  # the example region: its report has the KPI section
    for part in ("region.yaml", "systems", "standards", "compliance/attestations", "compliance/waivers"):
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO / part, root / part)
    region = root / "region.yaml"
    region.write_text(region.read_text(encoding="utf-8").replace(
        "name: 西藏自治区财政厅,", 'name: "财政厅 \\u202e反转 \\u2028分行 \\u200f标记 \\e[31m红",'), encoding="utf-8")
    manifest = root / "systems" / "czt" / "e-invoice.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        "title: 统一电子发票服务平台 (财政电子票据)", 'title: "测试 \\u202e系统\\u2028第二行"'), encoding="utf-8")
    result = scan(ScanOptions(root=root))
    out = tmp_path / "out"
    write_reports(result, out, [*DEFAULT_FORMATS, ReportFormat.jsonl])
    shown = [out / "junit.xml", out / "compliance.sarif", out / "oscal-assessment-results.json",
             out / "summary.md", out / "report.html", *sorted((out / "report-pages").iterdir())]
    for path in shown:  # no raw character in any file people or CI tools read ...
        text = path.read_text(encoding="utf-8")
        assert not [c for c in HIDDEN if c in text], path.name
    for path in (out / "compliance.sarif", out / "oscal-assessment-results.json"):  # ... nor once parsed
        assert _hidden_in(json.loads(path.read_text(encoding="utf-8"))) == [], path.name
    pages = [out / "report.html", *sorted((out / "report-pages").glob("*.html"))]
    blocks = [json.loads(block) for page in pages for block in re.findall(
        r'<script type="application/json" id="[^"]+">(.*?)</script>', page.read_text(encoding="utf-8"), re.S)]
    catalogue = (out / "report-pages" / "catalogue.js").read_text(encoding="utf-8")
    blocks.append(json.loads(catalogue.removeprefix("window.XZ_CAT=").rstrip().removesuffix(";")))
    assert len(blocks) > 2 and [s for block in blocks for s in _hidden_in(block)] == []
    kpi = next(block for block in blocks if block.get("format") == "xzgov-kpi")
    assert any("\\u202e反转" in row["label"] for row in kpi["departments"])  # shown, not dropped
    report = json.loads((out / "compliance-report.json").read_text(encoding="utf-8"))
    assert any(s["title"] == "测试 \u202e系统\u2028第二行" for s in report["systems"])  # the data as registered

"""summary.md shows register and record text literally (no link, image, HTML, entity, emphasis or code span
of its own), file names as intact code spans, the waived findings and the department's id. Each case is
rendered as GitHub would read it (CommonMark with GFM tables and strikethrough, via markdown-it)."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
from typing import Any

import pytest
from markdown_it import MarkdownIt

from compliance.catalogue import DENGBAO, MIPING
from compliance.reports import ReportFormat, render
from compliance.reports.formats import audit_markdown, dept_label, markdown, md, md_code
from compliance.results import Finding, ScanResult
from compliance.scanner import ScanOptions, scan
from xzgov.core.text import visible_text

from .conftest import FIXTURE
from .waiver_support import write_waiver

RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
DEPT = ("西藏自治区大数据中心 ![t](https://evil.example/t.png) [登录复核](https://evil.example/login) <b>粗</b> "
        "&amp; &#60; `code` *em* _u_ ~~s~~ www.evil.example")
FILE = "lc`x|y<b>&amp;.yaml"
HOSTILE = [
    DEPT, "<script>alert(1)</script>", "<https://evil.example> <!-- c --> <img src=x onerror=alert(1)>",
    "&amp; &#60; &lt; &copy", "`code` ``two`` ``` a`", "`", "``a", "a`", "*em* **strong** _u_ __uu__ ~~del~~ ~s~",
    "[a][b] [c] [d](e) ![i](x) [l](<https://evil.example> \"t\") [x]", "# heading", "1. item", "2) item",
    "- item", "+ item", "> quote", "[x]: https://evil.example", "[ ] task", "---", "***", "___", "===",
    "a\\|b | c \\ d\\", "\\*not em\\* \\[x\\](y)", "\x1b[2J\x07 bell \u202e rtl", "x\n\ny\tz  w",
    "$x$ $$y$$", "foo_bar_baz snake_case _x_ a_", "[a]", "a]", "[link](javascript:alert(1))",
    "HTTPS://EVIL.EXAMPLE WWW.EVIL.EXAMPLE", "mixed 中文_下划线_ 和 *星号*",
]
#: Tags text from the register must never turn into (ours are <strong> around rule ids and <code>).
FOREIGN = re.compile(r"<(?!/?(?:code|strong|p|li|ul|td|th|tr|table|thead|tbody|h\d)\b)")


def shown(text: str) -> str:
    """What a reader sees of ``text``: one line, control characters as escapes."""
    return visible_text(" ".join(text.split()))


def visible(inner: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", inner))


def cell(markdown_text: str) -> str:
    """The inner HTML of the one body cell of a one-column table holding ``markdown_text``."""
    page = RENDERER.render(f"| h |\n|---|\n| {markdown_text} |\n")
    cells = re.findall(r"<td>(.*?)</td>", page, re.S)
    assert len(cells) == 1, page
    return str(cells[0])


def item(markdown_text: str) -> str:
    """The inner HTML of a list item holding ``markdown_text``."""
    page = RENDERER.render(f"- {markdown_text}\n")
    items = re.findall(r"<li>(.*?)</li>", page, re.S)
    assert len(items) == 1 and page.count("<li>") == 1, page
    return str(items[0])


def test_text_renders_as_itself() -> None:
    for text in HOSTILE:
        for inner in (cell(md(text)), item(md(text))):
            assert "<" not in inner, (text, inner)  # no tag: no link, image, HTML, emphasis, code span, heading
            assert visible(inner) == shown(text), text
        raw = md(text)
        assert "://" not in raw and not re.search("www[.]", raw, re.I), raw  # no GFM autolink


def test_code_spans_show_the_text_as_written() -> None:
    for text in [*HOSTILE, FILE, f"systems/fx/{FILE}:12", "a\\|b", "|x|"]:
        for inner in (cell(f"x {md_code(text, cell=True)} y"), item(f"x {md_code(text)} y")):
            codes = re.findall(r"<code>(.*?)</code>", inner, re.S)
            assert len(codes) == 1, (text, inner)
            assert FOREIGN.search(inner.replace("<code>", "").replace("</code>", "")) is None, (text, inner)
            assert html.unescape(codes[0]) == (shown(text) or " "), text
            assert visible(inner) == f"x {shown(text) or ' '} y", text


def test_md_escapes_only_what_means_something() -> None:
    """The raw file stays readable: parentheses, "!", a "_" inside a word, a lone "[" are left as they are."""
    assert md("见 https://example.gov.cn/a_b (high): retention_days 90 < 180! [注") == (
        "见 https:\\/\\/example.gov.cn/a_b (high): retention_days 90 &lt; 180! [注")


# ------------------------------------------------------------------------------------- a scanned register



@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """The fixture register with two departments of one hostile name (dsjj, jxt: clean-l3 moved there), a
    manifest whose file name holds a backtick, a pipe and markup, and a waiver for bad-retention's finding."""
    root = tmp_path_factory.mktemp("summary") / "register"
    shutil.copytree(FIXTURE, root)
    region = root / "region.yaml"
    quoted = DEPT.replace("'", "''")
    text = region.read_text(encoding="utf-8")
    for dept, name in (("jxt", "西藏自治区经济和信息化厅"), ("dsjj", "西藏自治区大数据中心")):
        assert f"{{id: {dept}, name: {name}," in text
        text = text.replace(f"{{id: {dept}, name: {name},", f"{{id: {dept}, name: '{quoted}',")
    region.write_text(text, encoding="utf-8")
    clean = root / "systems" / "fx" / "clean-l3.yaml"
    clean.write_text(clean.read_text(encoding="utf-8").replace("department: dsjj", "department: jxt"),
                     encoding="utf-8")
    (root / "systems" / "fx" / "bad-pi.yaml").rename(root / "systems" / "fx" / FILE)
    write_waiver(root)
    return scan(ScanOptions(root=root, systems=("bad-pi", "bad-retention", "clean-l3", "bad-mfa")))


def _rows(page: str, head: str) -> dict[str, list[str]]:
    """The body rows (first cell → cells' inner HTML) of the table whose header starts with ``head``."""
    table = next(t for t in re.findall(r"<table>.*?</table>", page, re.S) if f"<th>{head}</th>" in t)
    rows = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    return {visible(cells[0]): cells for cells in rows if cells}


def _section(page: str, title: str) -> str:
    return page.split(f"<h2>{title}</h2>", 1)[1].split("<h2>", 1)[0]


def test_the_summary_renders_register_text_literally(hostile: ScanResult) -> None:
    text, _ = render(hostile, ReportFormat.markdown)
    page = RENDERER.render(text)
    assert FOREIGN.search(page) is None and "evil.example" in page  # shown, never a link or an image
    assert "://" not in text  # no GFM autolink either
    for strong in re.findall(r"<strong>(.*?)</strong>", page):
        assert re.fullmatch(r"XZ-[A-Z0-9-]+", strong)  # emphasis is ours, around rule ids only
    blocking = _section(page, "阻断问题 blocking findings")
    pi = [line for line in blocking.splitlines() if "bad-pi" in line]
    assert pi
    for line in pi:  # the file name as a target (text) and as the location (a code span), intact
        codes = [html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", line)]
        assert codes[0] == "bad-pi" and re.fullmatch(rf"systems/fx/{re.escape(FILE)}:\d+", codes[1]), line
        assert len(codes) == 2 and f"@systems/fx/{FILE} — " in visible(line)


def test_the_systems_table_tells_departments_of_one_name_apart(hostile: ScanResult) -> None:
    page = RENDERER.render(markdown(hostile))
    rows = _rows(page, "系统")
    assert visible(rows["clean-l3"][1]) == shown(dept_label(DEPT, "jxt"))
    assert visible(rows["bad-retention"][1]) == shown(dept_label(DEPT, "dsjj"))
    head = re.findall(r"<th>(.*?)</th>", page.split("<table>", 1)[1].split("</table>", 1)[0])
    waived = head.index("豁免")
    for system in hostile.systems:  # 等保 / 密评
        assert visible(rows[system.name][waived]) == \
            f"{system.counts(DENGBAO)['waived']} / {system.counts(MIPING)['waived']}"
    assert sum(map(int, visible(rows["bad-retention"][waived]).split(" / "))) > 0


def test_waived_findings_are_listed(hostile: ScanResult) -> None:
    page = RENDERER.render(markdown(hostile))
    section = _section(page, "豁免 waived findings")
    items = re.findall(r"<li>(.*?)</li>", section, re.S)
    assert len(items) == 1, section
    assert visible(items[0]).startswith("XZ-MAN-LOG-RETENTION (high) bad-retention @systems/fx/bad-retention.yaml "
                                        "— 豁免 waiver W-2026-001 — 审计日志留存 90 天 < 180 天")
    summary = visible(page.split("</ul>", 1)[0])
    assert "阻断问题 blocking findings (≥ high): " in summary and "豁免 waived findings: 1" in summary


def test_waived_findings_none_and_capped(hostile: ScanResult) -> None:
    """No waiver: "无 / none"; more than the summary lists: the rest counted, as for blocking findings."""
    def with_findings(findings: list[Finding]) -> ScanResult:
        system = dataclasses.replace(hostile.systems[0], findings=findings)
        return dataclasses.replace(hostile, systems=[system])

    finding = next(f for s in hostile.systems for f in s.findings if f.waiver)
    none = _section(RENDERER.render(markdown(with_findings([]))), "豁免 waived findings")
    assert visible(none).strip() == "无 / none"
    many = _section(RENDERER.render(markdown(with_findings([finding] * 205))), "豁免 waived findings")
    items = re.findall(r"<li>(.*?)</li>", many, re.S)
    assert len(items) == 201 and visible(items[-1]) == "… 5 more (see compliance-report.json)"


def test_hostile_waiver_ids_messages_and_targets_render_literally(hostile: ScanResult) -> None:
    """A report read back (merged parts) is not checked against the waiver schema: its waiver ids, messages
    and targets are shown as text too."""
    findings: list[Finding] = []
    system = next(s for s in hostile.systems if s.name == "bad-retention")
    base = next(f for f in system.findings if f.waiver)
    for text in HOSTILE:
        result = dataclasses.replace(base.result, message=text, target=text)
        findings += [Finding(result, waiver=text), Finding(result)]
    changed = dataclasses.replace(hostile, systems=[dataclasses.replace(system, findings=findings)])
    page = RENDERER.render(markdown(changed))
    assert FOREIGN.search(page) is None
    waived = re.findall(r"<li>(.*?)</li>", _section(page, "豁免 waived findings"), re.S)
    blocking = re.findall(r"<li>(.*?)</li>", _section(page, "阻断问题 blocking findings"), re.S)
    for text, listed in zip(HOSTILE, waived, strict=True):
        assert f"— 豁免 waiver {shown(text)} — {shown(text)} — " in visible(listed)
        assert f"bad-retention @{shown(text)} — " in visible(listed)
    assert len(blocking) == len(HOSTILE)


def test_audit_trail_records_are_literal(hostile: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    system = hostile.systems[0]
    records: dict[str, Any] = {text: {"by": "attestation", "file": f"compliance/attestations/{FILE}",
                                      "signer": text, "signer_fingerprint": "ab" * 32, "items": 1}
                               for text in HOSTILE}
    monkeypatch.setattr(system, "audit_trail", lambda: {"definite": False, "by": {}, "records": records,
                                                        "pending": []})
    page = RENDERER.render("\n".join(audit_markdown(dataclasses.replace(hostile, systems=[system]))))
    assert FOREIGN.search(page) is None
    row = _rows(page, "系统")[system.name]
    assert len(row) == 7, row  # a | in a file name or signer did not end the cell
    codes = [html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", row[6])]
    assert codes == [f"compliance/attestations/{FILE}"] * len(HOSTILE)
    # the whole key fingerprint: an assessor checks the signer against it (16 hex digits identified nobody)
    assert visible(row[6]) == "; ".join(f"{shown(t)} compliance/attestations/{FILE} {shown(t)} {'ab' * 32}"
                                        for t in HOSTILE)

"""The HTML report's summary and pages as rendered text: what the gate counts, which blocking findings the summary
lists, how systems, points and modes are named, and badge contrast."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from pathlib import Path

import pytest

from compliance.reports import html as report_html
from compliance.reports.figures import cut_two
from compliance.reports.formats import markdown
from compliance.reports.html import render_site
from compliance.results import ScanResult
from compliance.scanner import ScanOptions, scan
from xzgov.crypto.sm2 import SM2PrivateKey

from .attest_support import evidence, pin, system_set, write_signed

REPO = Path(__file__).resolve().parents[2]


def test_a_headline_never_rounds_a_figure_up_to_the_threshold_that_judges_it() -> None:
    """89.96 % is 基本符合; the system page's headline said "90.0%" beside it (and a 密评 score of 59.996 "60.0"). The
    headline writes two decimals, as the derivation does."""
    from compliance.reports.html import _card_verdict
    from compliance.results import ScoreCard

    rate = ScoreCard("等保", "基本符合", ("基本符合", "基本符合"), 0.8996, (0.8996, 0.8996), True, (), ())
    assert "89.96%" in _card_verdict(rate) and "90.0" not in _card_verdict(rate)
    score = ScoreCard("密评", "不符合", ("不符合", "不符合"), 59.996, (59.996, 59.996), True, (), ())
    assert "59.99 分" in _card_verdict(score)
    exact = ScoreCard("等保", "符合", ("符合", "符合"), 0.29, (0.29, 0.9), True, (), ())
    assert "29.00%–90.00%" in _card_verdict(exact)  # binary noise (28.999…) is not cut to 28.99


@pytest.fixture(scope="module")
def region() -> ScanResult:
    """The example region (39 systems, blocking findings in 9 departments)."""
    return scan(ScanOptions(root=REPO, today=dt.date(2025, 6, 30)))


def _finding_rows(page: str) -> list[str]:
    return re.findall(r'<tr class="finding".*?</tr>', page, re.S)


def test_the_headline_counts_and_the_table_lists_an_assessors_high_risk(register_root: Path) -> None:
    """An item an assessor's signed record fails with a 高风险 the verdict vetoes on gates the scan (the JSON's
    blocking_findings, summary.md and the filter's counter count it); the headline said one fewer and the table had
    no row for it."""
    key = SM2PrivateKey.generate()
    policy = "GB/T 22239-2019:8.1.4.2.e"
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    document = system_set("clean-l3", "dsjj", [(policy, "不符合", "访谈并测试: 普通用户可越权查看他人案卷")])
    document["attestations"][0]["high_risk"] = True
    write_signed(register_root, "dsjj.yaml", document, key)
    result = scan(ScanOptions(root=register_root, systems=("clean-l3", "bad-mfa"), today=dt.date(2026, 6, 1)))
    gate = result.blocking_count()
    assert len(result.attested_blocking()) == 1 and gate == len(result.blocking()) + 1
    assert result.to_json()["summary"]["blocking_findings"] == gate
    assert f"blocking findings (≥ high): {gate};" in markdown(result)
    page = render_site(result)["report.html"]
    assert f"阻断问题 {gate} 个" in page and f'<span id="shown-blocking">{gate}</span>' in page
    assert "其中 1 个为测评人员签名记录判定的高风险项" in page
    rows = _finding_rows(page)
    assert len(rows) == gate and f'<span id="shown-findings">{gate}</span>' in page
    (attested,) = [row for row in rows if "XZ-ATTESTED" in row]
    assert 'data-sev="high"' in attested and 'data-state="fail"' in attested and 'data-s="clean-l3"' in attested
    assert html.escape(policy) in attested and "A-2026-001" in attested and "测评" in attested
    assert 'href="report-pages/system-clean-l3.html#items"' in attested
    # its system row is shown by the filters that show the row (严重性 高) and counts it under XZ-ATTESTED
    sysrow = re.search(r'<tr class="sysrow"[^>]*data-dept="dsjj"[^>]*>(?:(?!</tr>).)*clean-l3', page, re.S)
    assert sysrow is not None and " high " in sysrow.group(0)
    rules = report_html._rule_ids(result)
    assert f":high:{rules.index('XZ-ATTESTED')}:1" in sysrow.group(0)


def test_every_department_with_blocking_findings_has_listed_rows(region: ScanResult,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SUMMARY_FINDINGS the table listed the region's first ones in region order: at 2,000 systems most
    departments' filters showed no row beside hundreds of blocking findings. Each department now has a share, its
    most severe first, and a department listed in part says how many of how many, with its page."""
    blocking = region.blocking()
    by_dept = Counter(system.department for system, _ in blocking)
    limit = len(by_dept) + 3
    assert len(blocking) > limit and len(by_dept) >= 5
    monkeypatch.setattr(report_html, "SUMMARY_FINDINGS", limit)
    page = render_site(region)["report.html"]
    rows = _finding_rows(page)
    assert len(rows) == limit
    listed = Counter(re.search(r'data-dept="([^"]*)"', row).group(1) for row in rows)  # type: ignore[union-attr]
    assert set(listed) == set(by_dept), "every department with blocking findings has a row"
    top = max(listed.values())  # a fair share: fewer than the most only when all of them are listed
    assert all(listed[d] >= top - 1 or listed[d] == by_dept[d] for d in by_dept), (listed, by_dept)
    for dept, total in by_dept.items():  # a department's most severe first
        worst = max(f.result.severity for s, f in blocking if s.department == dept)
        assert any(f'data-dept="{dept}"' in row and f'data-sev="{worst}"' in row for row in rows), dept
        line = re.search(rf'<li class="more" data-dept="{dept}">(.*?)</li>', page)
        if listed[dept] < total:
            assert line is not None and f"列出 {listed[dept]} / 共 {total} 个" in line.group(1)
            assert f'href="report-pages/dept-{dept}.html"' in line.group(1)
        else:
            assert line is None
    assert f'下表列出其中 <span id="shown-findings">{limit}</span> 个 (未全部列出' in page
    assert f"共 {len(blocking)} 个阻断问题, 下表列出 {limit} 个" in page
    # the department pages give each system's blocking findings
    site = render_site(region)
    dept = next(iter(by_dept))
    assert "<th scope=\"col\">阻断</th>" in site[f"report-pages/dept-{dept}.html"]


def test_systems_are_named_by_title_and_id(region: ScanResult) -> None:
    """Copies of a system keep its title: the findings table and the department pages named systems by title
    alone."""
    site = render_site(region)
    rows = _finding_rows(site["report.html"])
    assert rows
    for row in rows:
        name = re.search(r'data-s="([^"]*)"', row).group(1)  # type: ignore[union-attr]
        assert re.search(rf'class="to-system"[^>]*>[^<]+</a> <span class="muted">{re.escape(name)}</span>', row), row
    for system in region.systems:
        page = site[f"report-pages/dept-{system.department}.html"]
        assert (f'<a href="system-{system.name}.html">{html.escape(system.title)}</a> '
                f'<span class="muted">{system.name}</span>') in page


def _contrast(background: str, text: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio of two sRGB colours ``#rrggbb``."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(background), luminance(text)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_badges_are_readable(region: ScanResult) -> None:
    """White 12 px text on #f9a825 (中) was 1.97:1, on #9e9e9e (不适用) 2.68:1, on #ef6c00 (高, 部分符合) 3.08:1: every
    badge background is at least 4.5:1 against its white text (WCAG AA)."""
    from compliance.kpi_html import STATUS_COLORS

    assert round(_contrast("#f9a825"), 2) == 1.97 and round(_contrast("#ef6c00"), 2) == 3.08  # the formula
    colours = {**{f"state {k}": v for k, v in report_html.COLORS.items()},
               **{f"severity {k}": v for k, v in report_html.SEVERITY_COLORS.items()},
               **{f"kpi {k}": v for k, v in STATUS_COLORS.items()}}
    # and every badge colour the pages' stylesheets write (badges are classes: the pages' CSP admits no style
    # attribute), a state's or severity's the maps do not name too (class "other")
    site = render_site(region)
    assert 'class="badge other"' in report_html._state_badge("unknown")
    for name, text in site.items():
        for colour in set(re.findall(r"\.badge\.[\w-]+\{background:(#[0-9a-fA-F]{6})\}", text)):
            colours[f"{name} badge {colour}"] = colour
    assert any("badge" in name for name in colours)
    assert re.search(r"\.badge\{[^}]*color:#fff[;}]", site["report-pages/report.css"])
    poor = {name: f"{colour} {_contrast(colour):.2f}:1" for name, colour in colours.items() if _contrast(colour) < 4.5}
    assert poor == {}


def test_points_modes_and_the_threshold_are_named_in_chinese(region: ScanResult) -> None:
    """The 检查点 column said ``manifest``, the header 扫描模式: static, the headline 严重性 ≥ high."""
    site = render_site(region)
    page = site["report.html"]
    assert "扫描模式: 静态 static ·" in page
    assert "(未豁免且严重性 ≥ 高)" in page and "严重性 ≥ high" not in page
    for row in _finding_rows(page):
        assert "<br>清单 manifest</td>" in row, row
    system = next(s for s, _ in region.blocking())
    assert "<td>清单 manifest</td>" in site[f"report-pages/system-{system.name}.html"]
    assert report_html._labelled(report_html.POINT_LABELS, "host") == "主机 host"
    assert report_html._labelled(report_html.MODE_LABELS, "plan") == "计划 plan"


def test_summary_tables_have_header_rows_and_the_counters_are_announced(region: ScanResult) -> None:
    page = render_site(region)["report.html"]
    for table in ("findings", "systems-table"):
        head = re.search(rf'<table id="{table}"><thead><tr>(.*?)</tr></thead><tbody>', page, re.S)
        assert head is not None and head.group(1).count('<th scope="col">') >= 5, table
    status = re.search(r'<span[^>]*id="filter-status"[^>]*>', page)
    assert status is not None and 'aria-live="polite"' in status.group(0)
    for counter in ("shown", "shown-blocking", "shown-findings"):  # within it
        assert page.index('id="filter-status"') < page.index(f'id="{counter}"') < page.index("<h3>阻断问题</h3>")


def test_the_department_and_tier_tables_give_both_conclusions(region: ScanResult) -> None:
    """The tier table had no 密评 column (the department table had one): a tier's 密评 conclusions were nowhere on
    the summary page. Both tables: group, systems, blocking, 等保 conclusions, 密评 conclusions, items."""
    page = render_site(region)["report.html"]
    for heading, key in (("部门汇总", "department"), ("层级汇总", "tier")):
        table = re.search(rf"<h3[^>]*>{heading}</h3>.*?<thead><tr>(.*?)</tr></thead>\s*<tbody>(.*?)</tbody>", page,
                          re.S)
        assert table is not None, heading
        columns = re.findall(r"<th[^>]*>(.*?)</th>", table.group(1))
        assert columns[3:5] == ["等保结论", "密评结论"], (heading, columns)
        rows = re.findall(r"<tr>(.*?)</tr>", table.group(2), re.S)
        summary = region.summary(key)
        assert len(rows) == len(summary) > 0, heading
        for row, (_, counts) in zip(rows, summary.items(), strict=True):
            cells = re.findall(r"<td>(.*?)</td>", row, re.S)
            assert len(cells) == len(columns), (heading, cells)
            assert html.unescape(cells[4]) == ", ".join(f"{k} {v}" for k, v in counts["miping"].items()), heading


def test_the_legacy_score_is_shown_as_a_score_in_every_report(tmp_path: Path) -> None:
    """With ``dengbao.rule: legacy-score`` (the switchable older template, 0–100) every report printed the score as a
    rate ×100: "优 (9898.78%)" in summary.md, JUnit, OSCAL and the system page."""
    import shutil

    from compliance.reports import write_reports

    standards = tmp_path / "standards"
    shutil.copytree(REPO / "standards", standards)
    scoring = standards / "scoring.yaml"
    scoring.write_text(scoring.read_text(encoding="utf-8").replace("rule: rate-2025", "rule: legacy-score"),
                       encoding="utf-8")
    result = scan(ScanOptions(root=REPO, systems=("medical-insurance",), standards_dir=standards,
                              today=dt.date(2025, 6, 30)))
    [system] = result.systems
    assert system.dengbao is not None and system.dengbao.measure == "score"
    assert system.dengbao.value_range[1] > 1  # a 0..100 score
    out = tmp_path / "out"
    write_reports(result, out)
    shown = cut_two(system.dengbao.value_range[1])
    for name in ("summary.md", "junit.xml", "oscal-assessment-results.json",
                 "report-pages/system-medical-insurance.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert re.search(r"\d{4,}\.\d\d%", text) is None, name
        assert shown in text, name
    page = (out / "report-pages" / "system-medical-insurance.html").read_text(encoding="utf-8")
    assert "等保得分" in page and f",{100}\"" in page.split("等保得分")[0][-200:]

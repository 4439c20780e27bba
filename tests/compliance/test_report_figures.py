"""The 2025 report-template figures (等级测评符合率, 要求项符合率统计, 重大风险隐患触发表): computed once,
shown in the JSON (validated against its schema), HTML and Markdown reports."""

from __future__ import annotations

import copy
import dataclasses
import math
import re

import pytest

from compliance.catalogue.high_risk import default_high_risk_table
from compliance.reports import ReportFormat, formats, render, render_site, validate
from compliance.reports.figures import system_figures
from compliance.reports.html import PAGES, system_href
from compliance.results import ItemOutcome, ItemState, ScanResult, ScoreCard, SystemReport
from compliance.scanner import ScanOptions, scan

from .conftest import FIXTURE

DENGBAO = "GB/T 22239-2019"


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(ScanOptions(root=FIXTURE))


def outcome(item: str, unit: str, category: str, state: ItemState, *, high_risk: bool = False) -> ItemOutcome:
    return ItemOutcome(f"{DENGBAO}:{item}", DENGBAO, "t", state, state, assessment_unit=unit, category=category,
                       high_risk=high_risk)


def hand_system() -> SystemReport:
    # 安全计算环境: 符合 2, 部分符合 1, 不符合 1 (L3-CES1-04, high risk); 安全管理制度: 符合 1, 不适用 1;
    # 安全运维管理: 1 pending (L3-MMS1-42, a case item)
    items = [
        outcome("8.1.4.1.a", "L3-CES1-01", "安全计算环境", ItemState.PASS),
        outcome("8.1.4.1.b", "L3-CES1-02", "安全计算环境", ItemState.PASS),
        outcome("8.1.4.1.c", "L3-CES1-03", "安全计算环境", ItemState.PARTIAL),
        outcome("8.1.4.1.d", "L3-CES1-04", "安全计算环境", ItemState.FAIL, high_risk=True),
        outcome("8.1.6.2.a", "L3-PSS1-02", "安全管理制度", ItemState.PASS),
        outcome("8.1.6.2.b", "L3-PSS1-03", "安全管理制度", ItemState.NOT_APPLICABLE),
        outcome("8.1.10.13.b", "L3-MMS1-42", "安全运维管理", ItemState.MANUAL_PENDING),
    ]
    card = ScoreCard("等保", None, ("不符合", "不符合"), None, (0.5, 0.6667), False, (f"{DENGBAO}:8.1.4.1.d",), ())
    return SystemReport("hand", "手算系统", "dept", "部门", "tier", 3, 3, "systems/hand.yaml", items=items,
                        dengbao=card)


def test_hand_computed_rate_categories_and_triggers() -> None:
    f = system_figures(hand_system())
    # applicable = 7 − 1 不适用 = 6; credited = 3 + 0.5 = 3.5; untested 1 → [3.5/6, 4.5/6]
    assert f.applicable == 6
    assert f.rate_range == pytest.approx((3.5 / 6, 4.5 / 6))
    assert f.rate is None
    cats = {c.name: c for c in f.categories}
    assert cats["安全计算环境"].rate == pytest.approx(2.5 / 4) and cats["安全计算环境"].kind == "技术"
    assert cats["安全管理制度"].rate == 1.0 and cats["安全管理制度"].counts["不适用"] == 1
    assert cats["安全运维管理"].rate_range == (0.0, 1.0) and cats["安全运维管理"].kind == "管理"
    rows = {r.case: r for r in f.triggers}
    # the level-3 cases whose item is in the system's set: 6.4.1.1, 6.4.1.2, 6.4.1.3, 6.6.1.1, 6.10.1.1
    assert sorted(rows) == ["6.10.1.1", "6.4.1.1", "6.4.1.2", "6.4.1.3", "6.6.1.1"]
    assert rows["6.4.1.3"].triggered == "是" and rows["6.4.1.3"].unit == "L3-CES1-04"
    assert rows["6.10.1.1"].triggered == "待定"  # its item is pending
    assert rows["6.4.1.1"].triggered == "否" and rows["6.4.1.1"].status == "符合"
    assert rows["6.6.1.1"].status == "符合"
    assert [r.case for r in f.triggered] == ["6.4.1.3"]
    data = f.to_json()
    assert data["major_risks"]["triggered"] == 1 and data["major_risks"]["guide"] == "公网安〔2025〕2391号"


def test_a_case_with_an_open_condition_is_pending_not_triggered() -> None:
    system = hand_system()
    system.items.append(outcome("8.1.4.9.c", "L3-CES1-31", "安全计算环境", ItemState.FAIL))  # 业务连续性要求高
    rows = {r.case: r for r in system_figures(system).triggers}
    assert rows["6.4.6.2"].triggered == "待定" and rows["6.4.6.2"].conditions == "业务连续性要求高"


def test_json_report_has_the_figures_and_validates(result: ScanResult) -> None:
    _, data = render(result, ReportFormat.json)
    assert validate.errors(validate.REPORT_SCHEMA, data) == []
    by_name = {s["name"]: s for s in data["systems"]}
    for system in result.systems:
        figures = formats.expand_figures(data, by_name[system.name])
        assert set(figures) == {"compliance_rate", "compliance_rate_range", "applicable", "counts", "categories",
                                "major_risks"}
        assert sum(c["applicable"] for c in figures["categories"]) == figures["applicable"]
        if system.dengbao and system.dengbao.value_range and not system.dengbao.error:
            # the template rate is the scorer's rate (same credits, same applicable items)
            assert figures["compliance_rate_range"] == pytest.approx(list(system.dengbao.value_range))
        units = {o.assessment_unit for o in system.items}
        cases = default_high_risk_table().cases_at(system.level)
        # the platform's own cases (7.2.1.1 …) are judged in its assessment, not listed for a tenant
        assert len(figures["major_risks"]["cases"]) == sum(1 for c in cases if c.unit_at(system.level) in units
                                                           and set(c.subjects) != {"cloud-platform"})
        assert len(figures["major_risks"]["cases"]) >= (40 if system.level == 3 else 1)
        rows = [[r.case, r.unit, r.item, r.status, r.triggered] for r in system_figures(system).triggers]
        keys = ("case", "unit", "item", "status", "triggered")
        assert [[c[k] for k in keys] for c in figures["major_risks"]["cases"]] == rows
        assert [[c["category"], c["applicable"], c["rate"]] for c in figures["categories"]] == [
            [c.name, c.applicable, c.rate] for c in system_figures(system).categories]
    bad = formats.expand_figures(data, by_name["bad-mfa"])["major_risks"]
    assert bad["triggered"] >= 1
    assert any(c["case"] == "6.4.1.3" and c["triggered"] == "是" for c in bad["cases"])
    # a case's static text is written once, in the catalogue
    texts = data["catalogue"]["major_risks"]
    table = {c.case: c for c in default_high_risk_table().cases}
    assert texts["6.4.1.3"] == {"title": table["6.4.1.3"].title, "scope": table["6.4.1.3"].scope,
                                "conditions": table["6.4.1.3"].condition_text()}
    assert all(len(case) == 3 for cases in data["catalogue"]["risk_sets"].values() for case in cases)  # no text


def test_the_figures_schema_is_not_vacuous(result: ScanResult) -> None:
    _, data = render(result, ReportFormat.json)
    broken = copy.deepcopy(data)
    broken["systems"][0]["figures"]["major_risks"]["triggers"] = "maybe"
    assert validate.errors(validate.REPORT_SCHEMA, broken)
    broken = copy.deepcopy(data)
    del broken["systems"][0]["figures"]["categories"][0][4]  # its rate_range
    assert validate.errors(validate.REPORT_SCHEMA, broken)


def test_html_and_markdown_show_the_figures(result: ScanResult) -> None:
    site = render_site(result)
    markdown, _ = render(result, ReportFormat.markdown)
    pages = [site[system_href(system.name)] for system in result.systems]
    assert sum(page.count("要求项符合率统计") for page in pages) == len(result.systems)
    assert sum(page.count("重大风险隐患 major risks") for page in pages) == len(result.systems)
    # the tables' heads are written by report.js (one copy for every page)
    assert all('<thead data-h="R">' in page for page in pages) and any("6.4.1.3" in page for page in pages)
    assert '"触发"' in site[f"{PAGES}/report.js"] and '"符合率"' in site[f"{PAGES}/report.js"]
    for system, page in zip(result.systems, pages, strict=True):
        figures = system_figures(system)
        low, high = figures.rate_range
        # two decimals cut, never rounded up (to a threshold), the same on every page and format
        cut = [f"{math.floor(v * 10_000 + 1e-6) / 100:.2f}%" for v in (low, high)]
        rate = cut[0] if low == high else f"{cut[0]}–{cut[1]}"
        pending = sum(1 for r in figures.triggers if r.triggered == "待定")
        assert f"| {system.name} | {rate} | {figures.applicable} | {len(figures.triggered)} / {pending} / " in markdown
        assert rate in page
        verdict_row = re.search(r'<th>等保结论</th><td class="verdict">([^<]*)</td>', page)
        assert verdict_row is not None and rate in verdict_row[1], (verdict_row, rate)  # one rate, one rendering
        for row in figures.triggered:  # a triggered case carries its text on the page itself
            assert row.title in page
    assert "## 报告模板指标 2025 report-template figures" in markdown
    assert any(f"{row.case} {row.title} ({row.unit}, {row.status})" in markdown
               for system in result.systems for row in system_figures(system).triggered)


def test_a_possible_high_risk_finding_is_marked_as_possible_on_the_system_page() -> None:
    """The page marked every flagged item 高风险; a 等保 item the verdict does not veto on (its case condition left
    open) is 可能高风险 (``h`` 2), a vetoed one 高风险 (``h`` 1)."""
    from compliance.reports.html import _page_detail
    from compliance.reports.texts import Texts

    system = hand_system()
    vetoed = frozenset(system.dengbao.high_risk if system.dengbao else ())
    by_id = {o.item_id: o for o in system.items}
    vetoed_item = by_id[f"{DENGBAO}:8.1.4.1.d"]
    possible = dataclasses.replace(by_id[f"{DENGBAO}:8.1.4.1.c"], high_risk=True)
    texts = Texts([])
    assert (_page_detail(vetoed_item, {}, texts, system.source, vetoed) or {}).get("h") == 1
    assert (_page_detail(possible, {}, texts, system.source, vetoed) or {}).get("h") == 2
    assert "h" not in (_page_detail(by_id[f"{DENGBAO}:8.1.4.1.a"], {}, texts, system.source, vetoed) or {})

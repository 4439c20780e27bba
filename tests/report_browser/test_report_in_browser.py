"""The HTML report as a person uses it: headless Chromium (Debian ``chromium``) opens ``report.html``
from disk with no network, and the test checks that it renders without console errors, that the
filters change the visible rows, that a finding leads to its system page and evidence, that it fits a
1366×768 screen, and saves screenshots (``out/screenshots/``). Skips, saying why, when Chromium
cannot run."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.reports import ReportFormat, write_reports
from compliance.scanner import ScanOptions, scan

from .cdp import Page, browser, find_chromium

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "out" / "screenshots"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = scan(ScanOptions(root=REPO, today=dt.date(2025, 6, 30)))
    out = tmp_path_factory.mktemp("report")
    (path,) = write_reports(result, out, [ReportFormat.html])
    return path


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[Page]:
    executable = find_chromium()
    if executable is None:
        reason = "chromium is not installed (apt-get install chromium fonts-noto-cjk; scripts/system-deps.sh as root)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    try:
        context = browser(executable)
        opened = context.__enter__()
    except (OSError, RuntimeError, ConnectionError, TimeoutError) as error:
        reason = f"chromium cannot run here: {error}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    try:
        opened.call("Page.navigate", url=report.as_uri())
        opened.wait_event("Page.loadEventFired")
        yield opened
    finally:
        context.__exit__(None, None, None)


def _visible(page: Page, selector: str) -> int:
    return int(page.evaluate(f"Array.from(document.querySelectorAll({selector!r}))"
                             ".filter(function(e){return e.offsetParent!==null;}).length"))


def _choose(page: Page, select: str, value: str) -> None:
    page.evaluate(f"(function(){{var e=document.getElementById({select!r});e.value={value!r};"
                  "e.dispatchEvent(new Event('change'));})()")


def _reset(page: Page) -> None:
    for select in ("f-dept", "f-level", "f-state", "f-sev"):
        _choose(page, select, "")


def _go(page: Page, fragment: str) -> None:
    page.evaluate(f"location.hash={fragment!r}")
    page.evaluate("new Promise(function(r){setTimeout(r,50);})")


def test_loads_offline_without_console_errors(page: Page, report: Path) -> None:
    assert page.evaluate("document.title") == "等保/密评 合规扫描报告"
    assert page.errors() == []
    outside = [url for url in page.requested_urls() if not url.startswith(("file:", "data:", "about:"))]
    assert outside == [], "the report fetched something from the network"
    assert page.evaluate("document.querySelector('[data-page].active').id") == "summary"


def test_chinese_font_is_declared_and_available(page: Page) -> None:
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Noto Sans CJK SC"') and "sans-serif" in family
    if shutil.which("fc-list") and not page.evaluate("document.fonts.check('14px \"Noto Sans CJK SC\"')"):
        pytest.fail("Noto Sans CJK SC is declared but not available: install fonts-noto-cjk")


def test_fits_a_1366_by_768_screen(page: Page) -> None:
    _go(page, "#summary")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert page.evaluate("window.innerWidth") == 1366


def test_filters_change_the_visible_rows(page: Page) -> None:
    _go(page, "#summary")
    _reset(page)
    all_findings, all_systems = _visible(page, "tr.finding"), _visible(page, "tr.sysrow")
    assert all_systems == 39 and all_findings > 10
    _choose(page, "f-dept", "scjgj")
    assert _visible(page, "tr.sysrow") == 4
    dept_rows = _visible(page, "tr.finding")
    assert 0 < dept_rows < all_findings
    assert page.evaluate("Array.from(document.querySelectorAll('tr.finding')).filter(function(e){"
                         "return e.offsetParent!==null && e.dataset.dept!=='scjgj';}).length") == 0
    assert page.evaluate("document.getElementById('shown-findings').textContent") == str(dept_rows)
    _reset(page)
    _choose(page, "f-level", "2")
    assert _visible(page, "tr.sysrow") == 9
    _reset(page)
    _choose(page, "f-sev", "critical")
    critical = _visible(page, "tr.finding")
    assert critical < all_findings
    _choose(page, "f-state", "fail")
    assert _visible(page, "tr.finding") <= critical
    _reset(page)
    assert _visible(page, "tr.finding") == all_findings


def test_a_finding_links_to_its_system_page_and_evidence(page: Page) -> None:
    _go(page, "#summary")
    _reset(page)
    _choose(page, "f-dept", "scjgj")
    link = page.evaluate("(function(){var a=Array.from(document.querySelectorAll('tr.finding a.to-evidence'))"
                         ".filter(function(e){return e.offsetParent!==null;})[0];a.click();"
                         "return a.getAttribute('href');})()")
    page.evaluate("new Promise(function(r){setTimeout(r,100);})")
    system = link.split("-", 1)[1].rsplit("-", 1)[0]
    assert page.evaluate("location.hash") == link
    assert page.evaluate("document.querySelector('[data-page].active').id") == f"system-{system}"
    assert _visible(page, "#summary") == 0
    evidence = page.evaluate(f"(function(){{var e=document.getElementById({link[1:]!r});"
                             "var r=e.getBoundingClientRect();"
                             "return {visible:e.offsetParent!==null,top:r.top,bottom:r.bottom,"
                             "marked:e.classList.contains('target'),text:e.textContent};})()")
    assert evidence["visible"] and evidence["marked"] and 0 <= evidence["top"] < 768
    assert "证据" in evidence["text"]
    page.screenshot(SHOTS / "report-system-evidence.png")
    _go(page, "#summary")
    href = page.evaluate("(function(){var a=Array.from(document.querySelectorAll('tr.finding a.to-system'))"
                         ".filter(function(e){return e.offsetParent!==null;})[0];a.click();"
                         "return a.getAttribute('href');})()")
    page.evaluate("new Promise(function(r){setTimeout(r,50);})")
    assert page.evaluate("document.querySelector('[data-page].active').id") == href[1:]
    _reset(page)
    _go(page, "#summary")
    page.evaluate("window.scrollTo(0,0)")
    page.screenshot(SHOTS / "report-summary.png")


def test_kpi_page_has_charts_and_overdue_tasks(page: Page) -> None:
    _go(page, "#kpi")
    assert page.evaluate("document.querySelector('[data-page].active').id") == "kpi"
    assert _visible(page, "#kpi svg.chart") >= 2
    assert _visible(page, "#kpi tr.task") == 7
    embedded = page.evaluate("JSON.parse(document.getElementById('xzgov-kpi').textContent)")
    assert embedded["format"] == "xzgov-kpi" and len(embedded["tasks"]) == 7
    # as of the scan's date: after 2025 every unmet task is overdue, mid-2025 four of them are
    assert _visible(page, "#kpi tr.task[data-status=overdue]") == len(embedded["overdue_tasks"]) >= 4
    page.screenshot(SHOTS / "report-kpi.png")
    _go(page, "#dept-scjgj")
    assert page.evaluate("document.querySelector('[data-page].active').id") == "dept-scjgj"
    assert page.errors() == []

"""The HTML report as a person uses it: headless Chromium (Debian ``chromium``) opens ``report.html``
from disk with no network, and the test checks that it renders without console errors, that the
filters change the visible rows, that a blocking finding leads to its system page (``report-pages/``) and
evidence, that the system page builds its items table offline (``catalogue.js``, ``report.js``) and
filters it, that it fits a 1366×768 screen, and saves screenshots (``out/screenshots/``). A synthetic
register of :data:`SCALE` systems checks the summary at scale: its first render and load event are
measured and printed, its filters work and a system link opens that system's page (the 2,000-system
figure is ``bench/bench_reports.py --browser``). Skips, saying why, when Chromium cannot run."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest

from bench.synthetic import write_synthetic_register
from compliance.reports import ReportFormat, write_reports
from compliance.scanner import ScanOptions, scan

from .cdp import Page

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "out" / "screenshots"
#: Systems of the synthetic register the scale test opens (bounded for CI; the bench measures 2,000).
SCALE = 300


def _report_set(root: Path, out: Path, today: dt.date | None = None) -> Path:
    result = scan(ScanOptions(root=root, today=today))
    write_reports(result, out, [ReportFormat.html])
    return out / "report.html"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _report_set(REPO, tmp_path_factory.mktemp("report"), dt.date(2025, 6, 30))


def open_file(page: Page, path: Path, timeout: float = 60.0) -> None:
    """Navigate to ``path`` and wait until its load event has run."""
    page.call("Page.navigate", url=path.as_uri())
    wait_loaded(page, path.name, timeout)


def wait_loaded(page: Page, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = page.evaluate("[location.pathname, document.readyState,"
                                  " (performance.getEntriesByType('navigation')[0]||{}).loadEventEnd||0]")
        except RuntimeError as error:  # the page navigated away while being asked: ask the new one
            if "navigated or closed" not in str(error):
                raise
            time.sleep(0.05)
            continue
        if state[0].endswith("/" + name) and state[1] == "complete" and state[2] > 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{name} did not load")


def timings(page: Page) -> dict[str, float]:
    """Milliseconds from navigation start to the first contentful paint and to the end of the load event."""
    return dict(page.evaluate(
        "(function(){var n=performance.getEntriesByType('navigation')[0],"
        "p=performance.getEntriesByName('first-contentful-paint')[0]||performance.getEntriesByName('first-paint')[0];"
        "return {first_render_ms:p?p.startTime:-1,load_ms:n.loadEventEnd,dom_ms:n.domContentLoadedEventEnd};})()"))


@pytest.fixture(scope="module")
def page(chromium: Page, report: Path) -> Page:
    open_file(chromium, report)
    return chromium


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
    """Set the location's fragment and let its handler run; a fragment that leads to another page navigates,
    and the second question then reaches a page that is going away (the caller waits with `wait_loaded`)."""
    page.evaluate(f"location.hash={fragment!r}")
    try:
        page.evaluate("new Promise(function(r){setTimeout(r,50);})")
    except RuntimeError as error:
        if "navigated or closed" not in str(error):
            raise


def _show(page: Page, fragment: str, timeout: float = 10.0) -> None:
    """Go to an in-page section and wait until the page shows it (its hash handler ran, however loaded the CPU)."""
    _go(page, fragment)
    deadline = time.monotonic() + timeout
    while page.evaluate("(document.querySelector('[data-page].active')||{}).id") != fragment[1:]:
        assert time.monotonic() < deadline, f"{fragment} was not shown within {timeout:.0f} s"
        time.sleep(0.05)


def _back_to_summary(page: Page, report: Path) -> None:
    open_file(page, report)
    _show(page, "#summary")


def test_loads_offline_without_console_errors(page: Page, report: Path) -> None:
    _back_to_summary(page, report)
    assert page.evaluate("document.title") == "等保/密评 合规扫描报告"
    assert page.errors() == []
    outside = [url for url in page.requested_urls() if not url.startswith(("file:", "data:", "about:"))]
    assert outside == [], "the report fetched something from the network"
    assert page.evaluate("document.querySelector('[data-page].active').id") == "summary"
    # the state bars are drawn by the same script as the system pages': the region's bar and one per row of the
    # departments' and the tiers' tables, every state named; each table splits the region's counts
    bars = page.evaluate("(function(){var left=document.querySelectorAll('span.sbar').length;"
                         "return {left:left,bars:Array.from(document.querySelectorAll('svg.chart[aria-label="
                         "\"结果分布\"]')).map(function(b){return [b.getAttribute('width'),"
                         "Array.from(b.querySelectorAll('title')).map(function(t){return t.textContent;})];})};})()")
    assert bars["left"] == 0, bars["left"]
    region = [titles for width, titles in bars["bars"] if width == "720"]
    rows = [titles for width, titles in bars["bars"] if width == "240"]
    assert len(region) == 1 and rows and all(titles for titles in rows)
    assert not any(title.startswith("?") for _, titles in bars["bars"] for title in titles)
    def count(titles: list[str]) -> int:
        return sum(int(title.rsplit(" ", 1)[1]) for title in titles)
    assert 2 * count(region[0]) == sum(count(titles) for titles in rows) > 0
    print(f"example region summary: {timings(page)}")


def test_chinese_font_is_declared_and_available(page: Page) -> None:
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Noto Sans CJK SC"') and "sans-serif" in family
    if shutil.which("fc-list") and not page.evaluate("document.fonts.check('14px \"Noto Sans CJK SC\"')"):
        pytest.fail("Noto Sans CJK SC is declared but not available: install fonts-noto-cjk")


def test_fits_a_1366_by_768_screen(page: Page, report: Path) -> None:
    _back_to_summary(page, report)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert page.evaluate("window.innerWidth") == 1366


def test_filters_change_the_visible_rows(page: Page, report: Path) -> None:
    _back_to_summary(page, report)
    _reset(page)
    all_findings, all_systems = _visible(page, "tr.finding"), _visible(page, "tr.sysrow")
    assert all_systems == 39 and all_findings >= 1
    _choose(page, "f-dept", "scjgj")
    assert _visible(page, "tr.sysrow") == 4
    assert page.evaluate("Array.from(document.querySelectorAll('tr.sysrow,tr.finding')).filter(function(e){"
                         "return e.offsetParent!==null && e.dataset.dept!=='scjgj';}).length") == 0
    assert page.evaluate("document.getElementById('shown').textContent") == "4"
    _reset(page)
    _choose(page, "f-level", "2")
    assert _visible(page, "tr.sysrow") == 9
    _reset(page)
    _choose(page, "f-state", "fail")
    failing = _visible(page, "tr.sysrow")
    assert 0 < failing < all_systems
    _reset(page)
    page.evaluate("(function(){var e=document.getElementById('f-q');e.value='hotline';"
                  "e.dispatchEvent(new Event('input'));})()")
    assert _visible(page, "tr.sysrow") == 1
    page.evaluate("(function(){var e=document.getElementById('f-q');e.value='';"
                  "e.dispatchEvent(new Event('input'));})()")
    assert _visible(page, "tr.sysrow") == all_systems and _visible(page, "tr.finding") == all_findings


def _search(page: Page, text: str) -> tuple[int, int]:
    """(systems, findings) shown after typing ``text`` into the summary's search box."""
    page.evaluate(f"(function(){{var e=document.getElementById('f-q');e.value={text!r};"
                  "e.dispatchEvent(new Event('input'));})()")
    return _visible(page, "tr.sysrow"), _visible(page, "tr.finding")


def test_search_finds_a_system_its_department_and_its_rules_in_both_tables(page: Page, report: Path) -> None:
    """The search box says 系统名称 / 部门 / 规则: a system's id or its department's name showed the system and
    hid all its findings, a rule id showed its findings and no system."""
    _back_to_summary(page, report)
    _reset(page)
    rows = page.evaluate("Array.from(document.querySelectorAll('tr.finding')).map(function(r){return ["
                         "r.querySelector('a.to-system').getAttribute('href'),r.dataset.dept,"
                         "r.querySelector('code').textContent];})")
    href, dept, rule = rows[0]
    system = href.split("system-", 1)[1].split(".html", 1)[0]
    department = page.evaluate(f"document.querySelector('#f-dept option[value=\"{dept}\"]').textContent")
    name = department.rsplit(" (", 1)[0]
    assert _search(page, system) == (1, sum(1 for h, _, _ in rows if f"system-{system}.html" in h))
    assert _search(page, name)[1] == sum(1 for _, d, _ in rows if d == dept)
    shown_systems, shown_findings = _search(page, rule)
    assert shown_findings == sum(1 for _, _, r in rows if r == rule)
    assert shown_systems >= len({h for h, _, r in rows if r == rule}) >= 1
    # "其阻断问题 N 个" counts that rule's blocking findings, as the table lists them (it counted every blocking
    # finding of the systems shown: 10 beside 5 rows for XZ-MAN-OFFSITE-BACKUP)
    for rule_id in dict.fromkeys(r for _, _, r in rows):
        _search(page, rule_id.lower())
        assert int(page.evaluate("document.getElementById('shown-blocking').textContent")) == sum(
            1 for _, _, r in rows if r == rule_id), rule_id
    assert _search(page, "") == (39, len(rows))


def test_a_finding_links_to_its_system_page_and_evidence(page: Page, report: Path) -> None:
    _back_to_summary(page, report)
    _reset(page)
    href = page.evaluate("(function(){var a=Array.from(document.querySelectorAll('tr.finding a.to-system'))"
                         ".filter(function(e){return e.offsetParent!==null;})[0];a.click();"
                         "return a.getAttribute('href');})()")
    name, fragment = href.split("/", 1)[1].split("#")
    wait_loaded(page, name)
    system = name.removeprefix("system-").removesuffix(".html")
    assert page.evaluate("location.hash") == f"#{fragment}" and fragment.startswith(f"ev-{system}-")
    evidence = page.evaluate(f"(function(){{var e=document.getElementById({fragment!r});"
                             "var r=e.getBoundingClientRect();"
                             "return {visible:e.offsetParent!==null,top:r.top,bottom:r.bottom,"
                             "marked:e.classList.contains('target'),text:e.textContent};})()")
    assert evidence["visible"] and evidence["marked"] and evidence["bottom"] > 0 and evidence["top"] < 768
    assert "证据" in evidence["text"]
    page.screenshot(SHOTS / "report-system-evidence.png")
    # the items table is built from the page's data and catalogue.js, offline, and filters by state
    items = page.evaluate("document.querySelectorAll('#items-body tr.item').length")
    assert items >= 100 and page.evaluate("document.getElementById('shown-items').textContent") == str(items)
    assert page.evaluate("document.querySelector('#items-body tr.item td:nth-child(2)').textContent.length") > 2
    # evidence and notes given by index into catalogue.js's shared texts are shown as text, never as a number
    notes = page.evaluate("Array.from(document.querySelectorAll('#items-body tr.item td:nth-child(6)'))"
                          ".map(function(e){return e.textContent;})")
    assert any(len(note) > 20 for note in notes) and not any(note.strip().isdigit() for note in notes)
    # 依据: what decided each item (a declaration, a signed record, the platform's record, nothing yet), by code
    bases = page.evaluate("Array.from(document.querySelectorAll('#items-body tr.item td:nth-child(4)'))"
                          ".map(function(e){return e.textContent;})")
    codes = page.evaluate("JSON.parse(document.getElementById('items-data').textContent).b")
    labels = page.evaluate("window.XZ_CAT.bases")
    assert len(codes) == len(bases) == items and bases == [labels[code] for code in codes]
    assert {"清单声明", "待核查"} <= set(bases) or {"清单声明", "签名证明"} <= set(bases), set(bases)
    # the score derivations and the major-risk table are built from the page's data as well
    data = page.evaluate("JSON.parse(document.getElementById('items-data').textContent)")
    steps = page.evaluate("Array.from(document.querySelectorAll('details[data-steps]')).map(function(d){"
                          "return [d.dataset.steps, d.querySelectorAll('tbody tr').length,"
                          "d.querySelector('tbody tr td') ? d.querySelector('tbody tr td').textContent : ''];})")
    shared = page.evaluate("window.XZ_CAT.S")  # derivations several systems share are in catalogue.js
    assert steps and all(count == len(shared[data["S"][key]] if isinstance(data["S"][key], str) else data["S"][key])
                         > 0 and text for key, count, text in steps)
    risks = page.evaluate("Array.from(document.querySelectorAll('#risks-body tr')).map(function(r){"
                          "return Array.from(r.cells).map(function(c){return c.textContent;});})")
    assert len(risks) == len(data["R"][1]) > 0
    categories = page.evaluate("Array.from(document.querySelectorAll('#categories-body tr')).map(function(r){"
                               "return Array.from(r.cells).map(function(c){return c.textContent;});})")
    assert [row[:2] for row in categories] == [row[:2] for row in data["K"]] and all(len(r) == 8 for r in categories)
    assert all(len(row) == 7 and row[1] and row[5] in ("符合", "部分符合", "不符合", "不适用", "未测")
               and row[6] in ("是", "否", "待定") for row in risks)
    # the score gauges and the state bar are drawn by report.js from the numbers in the page
    drawn = page.evaluate("(function(){var b=document.querySelector('svg.chart[aria-label=\"结果分布\"]');"
                          "return {left:document.querySelectorAll('span.gauge,span.sbar').length,"
                          "gauges:document.querySelectorAll('svg[aria-label=\"等保符合率\"],svg[aria-label=\"密评得分\"]')"
                          ".length,bar:b?Array.from(b.querySelectorAll('title')).map(function(t){"
                          "return t.textContent;}):[]};})()")
    assert drawn["left"] == 0 and drawn["gauges"] == 2 and drawn["bar"], drawn
    # a gauge's tooltip is its verdict row's figure, cut as every report cuts it (it showed 0.9899 beside 98.98%)
    tips = page.evaluate("Array.from(document.querySelectorAll('svg[aria-label=\"等保符合率\"] title,"
                         "svg[aria-label=\"等保得分\"] title,svg[aria-label=\"密评得分\"] title'))"
                         ".map(function(t){return t.textContent;})")
    verdicts = page.evaluate("Array.from(document.querySelectorAll('td.verdict')).map(function(t){"
                             "return t.textContent;})")
    assert len(tips) == 2 and tips == [verdict.rsplit(" · ", 1)[1].removesuffix(" 分") for verdict in verdicts], \
        (tips, verdicts)
    assert sum(int(title.rsplit(" ", 1)[1]) for title in drawn["bar"]) == items
    _choose(page, "f-item-state", "pass")
    passing = _visible(page, "tr.item")
    assert 0 < passing < items
    assert page.evaluate("Array.from(document.querySelectorAll('tr.item')).filter(function(e){"
                         "return e.offsetParent!==null && e.dataset.state!=='pass';}).length") == 0
    assert page.errors() == []
    # the breadcrumb leads back to the summary
    page.evaluate("document.querySelector('p.muted a').click()")
    wait_loaded(page, "report.html")
    assert page.evaluate("document.querySelector('[data-page].active').id") == "summary"
    page.screenshot(SHOTS / "report-summary.png")


def test_kpi_page_has_charts_and_overdue_tasks(page: Page, report: Path) -> None:
    _back_to_summary(page, report)
    _show(page, "#kpi")
    assert page.evaluate("document.querySelector('[data-page].active').id") == "kpi"
    assert _visible(page, "#kpi svg.chart") >= 2
    assert _visible(page, "#kpi tr.task") == 7
    embedded = page.evaluate("JSON.parse(document.getElementById('xzgov-kpi').textContent)")
    assert embedded["format"] == "xzgov-kpi" and len(embedded["tasks"]) == 7
    # as of the scan's date: after 2025 every unmet task is overdue, mid-2025 four of them are
    assert _visible(page, "#kpi tr.task[data-status=overdue]") == len(embedded["overdue_tasks"]) >= 4
    # the KPI page is drawn by the page's script from that JSON: every tier and department row, bars with text
    assert _visible(page, "#kpi tr.kpi-row") == len(embedded["tiers"]) + len(embedded["departments"])
    overall = page.evaluate("Array.from(document.querySelectorAll('#kpi svg.chart rect.bar title'))"
                            ".map(function(t){return t.textContent;})")
    assert len(overall) == len(embedded["metrics"]) and all("%" in title for title in overall), overall
    page.screenshot(SHOTS / "report-kpi.png")
    _go(page, "#dept-scjgj")  # a KPI link to a department opens its page
    wait_loaded(page, "dept-scjgj.html")
    assert page.evaluate("document.querySelectorAll('main table tr').length") >= 5
    assert page.errors() == []


def test_summary_at_scale_renders_filters_and_links(chromium: Page,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    root = write_synthetic_register(tmp_path_factory.mktemp("synthetic"), SCALE)
    summary = _report_set(root, tmp_path_factory.mktemp("synthetic-report"))
    open_file(chromium, summary)
    measured = timings(chromium)
    weight = summary.stat().st_size / 1024
    print(f"{SCALE} systems: summary {weight:.0f} KiB, first render {measured['first_render_ms']:.0f} ms, "
          f"DOMContentLoaded {measured['dom_ms']:.0f} ms, load event {measured['load_ms']:.0f} ms")
    assert chromium.errors() == []
    assert 0 < measured["load_ms"] < 10_000
    assert _visible(chromium, "tr.sysrow") == SCALE
    started = time.perf_counter()
    _choose(chromium, "f-level", "3")
    filtered = time.perf_counter() - started
    level3 = _visible(chromium, "tr.sysrow")
    assert 0 < level3 < SCALE and level3 == int(chromium.evaluate("document.getElementById('shown').textContent"))
    print(f"{SCALE} systems: a filter change applied (and read back) in {filtered * 1000:.0f} ms")
    # the filter counts every blocking finding of the systems it shows (their 阻断 cells), also past the first
    # 1,000 the table lists: a system past them showed "0 个阻断问题" beside its 阻断 cell of 4
    blocking_cells = ("Array.from(document.querySelectorAll('tr.sysrow')).filter(function(r){"
                      "return r.offsetParent!==null;}).reduce(function(n,r){"
                      "return n+(+r.children[6].textContent||0);},0)")
    shown_blocking = "+document.getElementById('shown-blocking').textContent"
    assert chromium.evaluate(blocking_cells) == chromium.evaluate(shown_blocking) > 0
    _reset(chromium)
    last = chromium.evaluate("(function(){var r=document.querySelectorAll('tr.sysrow');"
                             "return r[r.length-1].querySelector('span.muted').textContent;})()")
    chromium.evaluate(f"(function(){{var e=document.getElementById('f-q');e.value={last!r};"
                      "e.dispatchEvent(new Event('input'));})()")
    assert chromium.evaluate(blocking_cells) == chromium.evaluate(shown_blocking)
    chromium.evaluate("(function(){var e=document.getElementById('f-q');e.value='';"
                      "e.dispatchEvent(new Event('input'));})()")
    _reset(chromium)
    href = chromium.evaluate("(function(){var a=document.querySelectorAll('tr.sysrow a')[7];a.click();"
                             "return a.getAttribute('href');})()")
    wait_loaded(chromium, href.split("/")[-1])
    assert chromium.evaluate("document.querySelectorAll('#items-body tr.item').length") >= 100
    assert chromium.errors() == []

"""The report's filters after the browser's Back button, in headless Chromium: the browser gives the filter controls
their values again after the page's script ran (``file://`` pages get no back/forward cache) and fires no event,
so the summary showed 等保级别 4 over every row (``#shown`` the total) and a system page 结果 符合 over every item.
What the page shows must follow the controls as restored. Skips, saying why, when Chromium cannot run."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from .cdp import Page
from .test_report_in_browser import REPO, _report_set, open_file, wait_loaded


def _navigating(page: Page, script: str) -> None:
    """Run ``script``, which leaves the page (its answer may not come back)."""
    try:
        page.evaluate(script)
    except RuntimeError as error:
        if "navigated or closed" not in str(error):
            raise


def _choose(page: Page, select: str, value: str) -> None:
    page.evaluate(f"(function(){{var e=document.getElementById({select!r});e.value={value!r};"
                  "e.dispatchEvent(new Event('change'));})()")


def _back(page: Page, name: str, select: str, value: str, timeout: float = 20.0) -> None:
    """``history.back()`` to page ``name``; wait until the browser has given ``select`` its value again, then a
    moment for what follows it (the load event and pageshow come and go by then)."""
    _navigating(page, "history.back()")
    wait_loaded(page, name)
    deadline = time.monotonic() + timeout
    while page.evaluate(f"document.getElementById({select!r}).value") != value:
        assert time.monotonic() < deadline, f"{select} was not restored to {value!r} on {name}"
        time.sleep(0.05)
    page.evaluate("new Promise(function(r){setTimeout(function(){requestAnimationFrame(r);},300);})")


def _rows(page: Page, selector: str) -> dict[str, int]:
    """How many rows ``selector`` matches and how many of them are visible."""
    return dict(page.evaluate(f"(function(){{var r=Array.from(document.querySelectorAll({selector!r}));"
                              "return {all:r.length,visible:r.filter(function(e){return e.offsetParent!==null;})"
                              ".length};})()"))


def _text(page: Page, element: str) -> str:
    return str(page.evaluate(f"document.getElementById({element!r}).textContent"))


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _report_set(REPO, tmp_path_factory.mktemp("report"), dt.date(2025, 6, 30))


def test_the_summary_filters_still_apply_after_going_back(chromium: Page, summary: Path) -> None:
    page = chromium
    open_file(page, summary)
    _choose(page, "f-level", "4")
    level4 = _rows(page, 'tr.sysrow[data-level="4"]')["all"]
    findings4 = _rows(page, 'tr.finding[data-level="4"]')["all"]
    assert 0 < level4 < _rows(page, "tr.sysrow")["all"] and findings4 > 0
    assert _rows(page, "tr.sysrow")["visible"] == level4 == int(_text(page, "shown"))
    # to a level-4 system's page, then Back: 等保级别 4 again, and only level-4 rows with their counts
    href = page.evaluate("(function(){var a=document.querySelector('tr.sysrow[data-level=\"4\"] a');a.click();"
                         "return a.getAttribute('href');})()")
    wait_loaded(page, href.split("/")[-1])
    _back(page, "report.html", "f-level", "4")
    assert _rows(page, "tr.sysrow")["visible"] == level4 == int(_text(page, "shown"))
    assert _rows(page, 'tr.sysrow:not([data-level="4"])')["visible"] == 0
    assert _rows(page, "tr.finding")["visible"] == findings4 == int(_text(page, "shown-findings"))
    assert _rows(page, 'tr.finding:not([data-level="4"])')["visible"] == 0
    assert page.errors() == []


def test_a_system_pages_item_filter_still_applies_after_going_back(chromium: Page, summary: Path) -> None:
    page = chromium
    system_page = sorted((summary.parent / "report-pages").glob("system-*.html"))[0]
    open_file(page, system_page)
    _choose(page, "f-item-state", "pass")
    passing = _rows(page, 'tr.item[data-state="pass"]')["all"]
    items = _rows(page, "tr.item")["all"]
    assert 0 < passing < items
    assert _rows(page, "tr.item")["visible"] == passing == int(_text(page, "shown-items"))
    # on to its department's page (the breadcrumb), then Back: 符合 again in the select, the rows and the count
    department = page.evaluate("(function(){var a=document.querySelector('main p.muted a[href^=\"dept-\"]');"
                               "a.click();return a.getAttribute('href');})()")
    wait_loaded(page, department)
    _back(page, system_page.name, "f-item-state", "pass")
    assert _rows(page, "tr.item") == {"all": items, "visible": passing}
    assert _rows(page, 'tr.item:not([data-state="pass"])')["visible"] == 0
    assert int(_text(page, "shown-items")) == passing
    assert page.errors() == []

"""The report pages carry a Content-Security-Policy (a meta element: opened from disk, no server sends headers).
The summary admits its one inline script and style by their SHA-256, the other pages only the report's own files;
no page has an inline style attribute or event handler (badge colours are classes). A piece of register text that
ever slipped past the escaping could not run: checked by planting an inline script, an event handler and a style
attribute in copies of the pages and opening them in headless Chromium (the planted code never runs, the browser
reports the violation), while the real pages render with no violation."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from compliance.reports import ReportFormat, write_reports
from compliance.reports.html import PAGE_CSP, summary_csp
from compliance.scanner import ScanOptions, scan

from .cdp import Page
from .test_report_in_browser import open_file

REPO = Path(__file__).resolve().parents[2]
PLANTED = ('<span id="planted" style="color:red">x</span><script>document.title="PWNED"</script>'
           '<img src="x" onerror="document.title=\'PWNED\'">')


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csp")
    write_reports(scan(ScanOptions(root=REPO, today=dt.date(2026, 12, 1))), out, [ReportFormat.html])
    return out


def _policy(html: str) -> str:
    found = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert len(found) == 1, "one policy, in the head"
    assert html.index(found[0]) < html.index("<title>"), "before anything the policy governs"
    return found[0]


def test_every_page_has_its_policy_and_no_inline_style_or_handler(pages: Path) -> None:
    summary = (pages / "report.html").read_text(encoding="utf-8")
    (script,) = re.findall(r"<script>(.*?)</script>", summary, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", summary, re.S)
    assert _policy(summary) == summary_csp(script, style)
    others = sorted((pages / "report-pages").glob("*.html"))
    assert len(others) > 30
    for path in [pages / "report.html", *others]:
        html = path.read_text(encoding="utf-8")
        if path.name != "report.html":
            assert _policy(html) == PAGE_CSP, path.name
            assert "<script>" not in html and "<style>" not in html, path.name
        assert not re.search(r"<[^>]+\sstyle=", html), path.name
        assert not re.search(r"<[^>]+\son[a-z]+=", html), path.name


def test_the_pages_render_under_their_policy_and_planted_code_never_runs(chromium: Page, pages: Path) -> None:
    system = sorted((pages / "report-pages").glob("system-*.html"))[0]
    for real in (pages / "report.html", system):
        open_file(chromium, real)
        assert chromium.evaluate("document.querySelectorAll('svg').length") > 0, f"{real.name}: scripts ran"
        assert not [e for e in chromium.errors() if "Content Security Policy" in e], real.name
    for real in (pages / "report.html", system):
        planted = real.with_name(f"planted-{real.name}")
        planted.write_text(real.read_text(encoding="utf-8").replace("<main>", f"<main>{PLANTED}", 1),
                           encoding="utf-8")
        open_file(chromium, planted)
        assert chromium.evaluate("document.title") != "PWNED", planted.name
        assert chromium.evaluate("getComputedStyle(document.getElementById('planted')).color") != "rgb(255, 0, 0)"
        assert chromium.evaluate("document.querySelectorAll('svg').length") > 0, "the page's own scripts still run"
        blocked = [e for e in chromium.errors() if "Content Security Policy" in e and planted.name in e]
        assert len(blocked) >= 3, blocked  # the script, the handler, the style attribute

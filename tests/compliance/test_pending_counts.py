"""One "待核查" figure per system, in every place that shows it.

The summary tables (HTML report, summary.md, the CLI's table) counted the items in state 待人工核查; the system
page and the audit-trail table counted the items scored 未测, which also holds the platform items a level-4
system inherits without a platform record (the platform is assessed at level 3). crypto-service and
police-bigdata showed 待核查 147 in the summary and 待核查 199 项 on their own page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compliance.reports import ReportFormat, render
from compliance.reports.html import render_site, system_href
from compliance.results import ScanResult
from compliance.scanner import ScanOptions, scan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(ScanOptions(root=ROOT))


def test_pending_is_every_item_scored_untested(result: ScanResult) -> None:
    differs = [s.name for s in result.systems if s.pending() != s.counts()["manual-pending"]]
    assert differs, "the example region has level-4 systems whose inherited items lack a platform record"
    for system in result.systems:
        assert system.pending() == sum(1 for item in system.items if item.score_status == "未测")
        assert system.pending() == system.audit_trail()["by"].get("pending", 0)


def test_every_report_shows_the_same_pending_figure(result: ScanResult) -> None:
    site = render_site(result)
    summary = site["report.html"]
    markdown = render(result, ReportFormat.markdown)[0]
    for system in result.systems:
        row = re.search(rf'<tr class="sysrow"[^>]*>.*?{re.escape(system_href(system.name))}.*?</tr>', summary)
        assert row is not None
        cells = re.findall(r"<td>([^<]*)</td>", row.group(0))
        assert cells[-1] == (str(system.pending()) if system.pending() else ""), system.name
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {system.name} |"))
        assert line.rstrip(" |").rsplit("| ", 1)[-1] == str(system.pending()), system.name
        page = site[system_href(system.name)]
        if system.pending():
            assert f"待核查 {system.pending()} 项" in page, system.name
        else:
            assert "待核查 0 项" not in page


def test_signers_and_evidence_digests_are_written_whole(result: ScanResult) -> None:
    """An assessor checks an attested item's signer and evidence files against the report: the report set gave
    16 hex digits of each key fingerprint and evidence SM3 ("51f3c9db317fcd9c…"), which identify neither."""
    from compliance.reports.html import render_site

    trails = [item.trail for system in result.systems for item in system.items if item.trail is not None]
    fingerprints = {str(trail["signer_fingerprint"]) for trail in trails}
    digests = {str(e["sm3"]) for trail in trails for e in trail.get("evidence", ())}
    assert fingerprints and digests, "the example region has signed attestations with evidence files"
    report = render(result, ReportFormat.json)[0]
    site = "".join(render_site(result).values())
    markdown = render(result, ReportFormat.markdown)[0]
    for whole in (*fingerprints, *digests):
        assert len(whole) == 64 and whole in report and whole in site, whole
    assert all(fingerprint in markdown for fingerprint in fingerprints)

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

from compliance.catalogue import DENGBAO, MIPING
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
        pair = f"{system.pending(DENGBAO)} / {system.pending(MIPING)}"  # 等保 / 密评
        assert system.pending(DENGBAO) + system.pending(MIPING) == system.pending()
        assert cells[-1] == (pair if system.pending() else ""), system.name
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {system.name} |"))
        assert line.rstrip(" |").rsplit("| ", 1)[-1] == pair, system.name
        page = site[system_href(system.name)]
        if system.pending():
            assert f"待核查 {system.pending()} 项" in page, system.name
        else:
            assert "待核查 0 项" not in page


def test_every_summary_table_counts_each_standard_apart(result: ScanResult) -> None:
    """An assessor's reading: medical-insurance (等保 符合, 密评 基本符合) showed "不符合 3" beside its 等保 verdict —
    three 密评 units. Each count of the HTML summary, summary.md and the CLI's table is "等保 / 密评"."""
    from rich.console import Console

    from xzgov.cli.scan_cmds import _summary_table

    site = render_site(result)["report.html"]
    markdown = render(result, ReportFormat.markdown)[0]
    console = Console(width=400, record=True)
    console.print(_summary_table(result))
    table = console.export_text()
    mixed = 0
    for system in result.systems:
        dengbao, miping = system.counts(DENGBAO), system.counts(MIPING)
        assert {k: dengbao[k] + miping[k] for k in dengbao} == system.counts()
        fail, partial = f"{dengbao['fail']} / {miping['fail']}", f"{dengbao['partial']} / {miping['partial']}"
        mixed += bool(miping["fail"]) and not dengbao["fail"]
        row = re.search(rf'<tr class="sysrow"[^>]*>.*?{re.escape(system_href(system.name))}.*?</tr>', site)
        assert row is not None
        cells = re.findall(r"<td>([^<]*)</td>", row.group(0))
        assert cells[-4:-2] == [fail if dengbao["fail"] or miping["fail"] else "",
                                partial if dengbao["partial"] or miping["partial"] else ""], system.name
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {system.name} |"))
        assert line.split(" | ")[6:8] == [fail, partial], system.name
        cli = next(line for line in table.splitlines() if f" {system.name} " in line)
        assert re.search(rf"│ {re.escape(fail)}\s+│ {re.escape(partial)}\s+│", cli), cli
    assert mixed, "the example region has systems failing 密评 units only (medical-insurance)"


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

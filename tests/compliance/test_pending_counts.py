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
from compliance.results import ItemState, ScanResult
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
        # an inherited item the platform's record fails counts as the score counts it (its state stays 继承)
        for item in system.items:
            said = {"不符合": "fail", "部分符合": "partial"}.get(item.score_status)
            if item.state is ItemState.INHERITED and said:
                (dengbao if item.standard == DENGBAO else miping)[said] += 1
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


def test_each_item_says_what_decided_it(result: ScanResult) -> None:
    """An assessor's reading: nothing told a 符合 declared in a manifest from one measured on a host or stated in a
    signed record. Every item's 依据 on its page: the enforcement points of the rules that decided it (only those
    the scan ran), a signed attestation, the platform's record, or 待核查."""
    import json as _json

    from compliance.results import BASIS_LABELS, item_basis
    from policies.registry import RULES_BY_ID

    site = render_site(result)
    seen: set[str] = set()
    for system in result.systems:
        page = site[system_href(system.name)]
        data = _json.loads(re.search(r'<script[^>]*id="items-data"[^>]*>(.*?)</script>', page, re.S).group(1))
        assert len(data["b"]) == len(system.items)
        for item, code in zip(system.items, data["b"], strict=True):
            assert code == item_basis(item, result.modes) and code in BASIS_LABELS
            seen.add(code)
            if item.decided_by == "rule" and item.rules:  # a static scan: the manifest's rules only
                assert code == "m" and all(RULES_BY_ID[r].points for r in item.rules)
            elif item.decided_by == "rule":
                assert code == "-"  # nothing judged it (not applicable)
            else:
                assert code == {"attestation": "a", "platform-record": "c", "pending": "n"}[item.decided_by]
    assert {"m", "a", "c", "n"} <= seen, seen  # the example region has all four


def test_the_basis_names_only_the_points_the_scan_ran() -> None:
    """A rule that runs at the manifest and at the planned resources decided its item at both in a plan scan, at
    the manifest only in a static one; a host rule's item is 主机实测 in a live scan."""
    import dataclasses

    from compliance.results import BASIS_LABELS, ItemOutcome, item_basis
    from policies.registry import RULES

    both = next(r for r in RULES if {str(p) for p in r.points} == {"manifest", "resources"})
    host = next(r for r in RULES if {str(p) for p in r.points} == {"host"})
    [item] = [o for s in scan(ScanOptions(root=ROOT, systems=("medical-insurance",))).systems for o in s.items
              if both.id in o.rules][:1]
    assert isinstance(item, ItemOutcome) and item.decided_by == "rule"
    assert BASIS_LABELS[item_basis(item, ["static"])] == "清单声明"
    assert BASIS_LABELS[item_basis(item, ["static", "plan"])] == "清单声明、部署计划"
    measured = dataclasses.replace(item, rules=(host.id,))
    assert measured.decided_by == "rule"
    assert BASIS_LABELS[item_basis(measured, ["static", "live"])] == "主机实测"
    assert item_basis(measured, ["static"]) == "-"  # a host rule's result without a live scan: none ran

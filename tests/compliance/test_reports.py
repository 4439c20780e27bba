"""Reports: every format validates against its schema, the HTML is self-contained Chinese, the set is
signed and tampering is detected, and ``xzgov diff`` compares two signed reports."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

import compliance.scanner as scanner
from compliance.catalogue import DENGBAO, MIPING
from compliance.merge import load_part, merge_parts, merge_register, part_bytes
from compliance.reports import (
    DEFAULT_FORMATS,
    FILES,
    PAGES,
    PART_NAME,
    ReportFormat,
    formats,
    publish_reports,
    render,
    render_site,
    sign_reports,
    validate,
    write_reports,
)
from compliance.reports.figures import STATUSES, category_rate, system_figures
from compliance.reports.html import system_href
from compliance.reports.texts import Texts, note_parts
from compliance.reports.texts import text as shared_text
from compliance.results import ItemOutcome, ItemState, ScanResult, note_head
from compliance.scan.shard import Shard
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .conftest import FIXTURE

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(ScanOptions(root=FIXTURE))


@pytest.mark.parametrize(("fmt", "schema"), [
    (ReportFormat.json, validate.REPORT_SCHEMA),
    (ReportFormat.sarif, validate.SARIF_SCHEMA),
    (ReportFormat.oscal, validate.OSCAL_SCHEMA),
])
def test_json_formats_validate_against_their_schemas(result: ScanResult, fmt: ReportFormat, schema: str) -> None:
    _, data = render(result, fmt)
    assert validate.errors(schema, data) == []


def test_the_validators_are_not_vacuous(result: ScanResult) -> None:
    _, sarif = render(result, ReportFormat.sarif)
    sarif["runs"][0]["results"][0]["level"] = "fatal"
    assert validate.errors(validate.SARIF_SCHEMA, sarif)
    _, oscal = render(result, ReportFormat.oscal)
    assert validate.errors(validate.OSCAL_SCHEMA, oscal) == []
    with_findings = next(r for r in oscal["assessment-results"]["results"] if r.get("findings"))
    with_findings["findings"][0]["target"]["target-id"] = "GB/T 22239:8"  # not a token
    assert validate.errors(validate.OSCAL_SCHEMA, oscal)
    _, oscal = render(result, ReportFormat.oscal)
    del oscal["assessment-results"]["metadata"]["oscal-version"]
    assert validate.errors(validate.OSCAL_SCHEMA, oscal)
    _, report = render(result, ReportFormat.json)
    report["systems"][0]["states"] = "passed?"
    assert validate.errors(validate.REPORT_SCHEMA, report)


def test_json_report_keeps_every_item_state_and_writes_static_text_once(result: ScanResult) -> None:
    text, report = render(result, ReportFormat.json)
    assert report["version"] == 9 and "\n" not in text.rstrip("\n")  # compact
    for system, data in zip(result.systems, report["systems"], strict=True):
        expanded = formats.expand_items(report, data)
        assert len(expanded) == len(system.items)
        for outcome, record in zip(system.items, expanded, strict=True):
            assert (record["item"], record["state"], record["title"], record["note"], record["score_status"]) == (
                outcome.item_id, str(outcome.state), outcome.title, outcome.note, outcome.score_status)
            assert record.get("rules", []) == list(outcome.rules)
            assert (record.get("waiver"), record.get("attestation"), record.get("high_risk", False)) == (
                outcome.waiver, outcome.attestation, outcome.high_risk)
            assert record["category"] == outcome.category and record["check_type"] == outcome.check_type
            assert (record["standard"], record["responsibility"], record["assessment_unit"]) == (
                outcome.standard, outcome.responsibility, outcome.assessment_unit)
            assert record.get("strength") == (outcome.strength or None)
            evidence = {(e.observed, e.location) for e in outcome.evidence}
            named = {(e["observed"], e["location"]) for i in record.get("findings", [])
                     for e in formats.expand_findings(report, data)[i]["evidence"]}
            named |= {(e["observed"], e["location"]) for e in record.get("evidence", [])}
            assert evidence <= named
        card = formats.expand_card(report, data["dengbao"])
        assert card is not None and system.dengbao is not None and card["verdict"] == system.dengbao.verdict
        assert [tuple(step.values()) for step in card["steps"]] == [tuple(s) for s in system.dengbao.steps]
        for expanded_finding, finding in zip(formats.expand_findings(report, data), system.findings, strict=True):
            rr = finding.result
            assert (expanded_finding["rule"], expanded_finding["message"], expanded_finding["target"],
                    expanded_finding["waiver"]) == (rr.rule_id, rr.message, rr.target, finding.waiver)
            assert (expanded_finding["point"], expanded_finding["status"], expanded_finding["severity"]) == (
                str(rr.point), str(rr.status), str(rr.severity))
            assert expanded_finding["controls"] == {
                c: str(rr.status_of(c)) for c in rr.controls if rr.status_of(c) is not rr.status}
            assert [(e["observed"], e["location"], e["at"]) for e in expanded_finding["evidence"]] == [
                (e.observed, e.location, e.at) for e in rr.evidence]
    # static text once: an item title, a rule's remediation, the note of unchecked items
    some = result.systems[0].items[0]
    titles = report["catalogue"]["values"]["title"]  # version 6: the 等保 levels' items share their titles
    assert titles.count(some.title) == 1 and text.count(json.dumps(some.title, ensure_ascii=False)) == 1
    assert len(titles) < len(report["catalogue"]["items"])
    assert text.count(json.dumps(report["rules"][0]["remediation"], ensure_ascii=False)) == 1
    # version 6: only the rules a finding or an item names, without the description that restates title_en
    listed = {f.result.rule_id for s in result.systems for f in s.findings}
    listed |= {rule for s in result.systems for item in s.items for rule in item.rules}
    assert [r["id"] for r in report["rules"]] == [r["id"] for r in result.rules if r["id"] in listed]
    assert len(report["rules"]) < len(result.rules) and not any("description" in r for r in report["rules"])
    assert text.count("待人工核查或登记证明") == 1
    # strings several systems repeat are written once, in texts; a field holds their index
    shared = report["texts"]
    messages = [f[2] for s in report["systems"] for f in s["findings"]]
    assert any(isinstance(m, int) for m in messages) and any(isinstance(m, str) for m in messages)
    assert len(shared) == len(set(shared)) and all(text.count(json.dumps(shared[m], ensure_ascii=False)) == 1
                                                    for m in messages if isinstance(m, int))


def test_findings_of_a_version_4_report_expand_as_before(result: ScanResult) -> None:
    """``xzgov diff`` compares with earlier reports: version 4 findings (rule id, point, status and severity
    written out) expand to the same records as version 5's."""
    _, report = render(result, ReportFormat.json)
    old = json.loads(json.dumps(report))
    old["version"] = 4
    for system, data in zip(report["systems"], old["systems"], strict=True):
        expanded = formats.expand_findings(report, system)
        data["findings"] = [[f["rule"], f["point"], f["status"], f["severity"], raw[2], raw[3],
                             *([{k: v for k, v in raw[4].items() if k not in ("point", "severity")}]
                               if len(raw) > 4 and set(raw[4]) - {"point", "severity"} else [])]
                            for f, raw in zip(expanded, system["findings"], strict=True)]
        assert formats.expand_findings(old, data) == expanded
    assert any(system["findings"] for system in old["systems"])


def test_json_lines_one_line_per_system(result: ScanResult) -> None:
    text, data = render(result, ReportFormat.jsonl)
    lines = text.splitlines()
    assert len(lines) == 1 + len(result.systems)
    header = json.loads(lines[0])
    assert header["lines"] is True and "systems" not in header
    assert [json.loads(line)["name"] for line in lines[1:]] == [s.name for s in result.systems]
    _, report = render(result, ReportFormat.json)
    assert {k: v for k, v in data.items() if k not in ("started", "finished")} == {
        k: v for k, v in report.items() if k not in ("started", "finished")}
    assert validate.errors(validate.REPORT_SCHEMA, data) == []


def test_sarif_results_are_the_failing_findings(result: ScanResult) -> None:
    _, sarif = render(result, ReportFormat.sarif)
    every = sarif["runs"][0]["results"]
    results = [r for r in every if not r["properties"].get("advisory")]
    assert {(r["properties"]["system"], r["ruleId"]) for r in results} == {
        ("bad-mfa", "XZ-MAN-AUTH-MFA"), ("bad-internet", "XZ-MAN-INTERNET-ZONE"),
        ("bad-flows", "XZ-MAN-DECLARED-FLOWS"), ("bad-pi", "XZ-MAN-PI-STORAGE"),
        ("bad-pi", "XZ-MAN-DATASET-PROTECTION"),
        ("bad-algo", "XZ-MAN-CRYPTO-ALGORITHMS"), ("bad-product", "XZ-MAN-CRYPTO-PRODUCTS"),
        ("bad-continuity", "XZ-MAN-CONTINUITY"), ("bad-retention", "XZ-MAN-LOG-RETENTION"),
        ("bad-backup", "XZ-RES-BACKUP-RPO"), ("bad-filing", "XZ-MAN-FILING")}
    mfa = next(r for r in results if r["ruleId"] == "XZ-MAN-AUTH-MFA")
    location = mfa["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "systems/fx/bad-mfa.yaml" and location["region"]["startLine"] > 1
    # the item the verdict vetoes on is named (高风险), and the result is an error whatever the rule's severity
    assert mfa["properties"]["high_risk"] == ["GB/T 22239-2019:8.1.4.1.d"] and mfa["level"] == "error"
    assert "高风险" in mfa["message"]["text"]
    # a rule that passes while failing some of its items (宜 密评 units the score counts) is listed too, as a
    # note: clean-l3's SARIF was empty while its report showed 9 不符合 units
    advisory = {(r["properties"]["system"], r["ruleId"]): r for r in every if r["properties"].get("advisory")}
    failing_units = {(system.name, finding.result.rule_id) for system in result.systems for finding in system.findings
                     if finding.result.status.value in ("pass", "not-applicable") and any(
                         finding.result.status_of(c).value in ("fail", "partial") for c in finding.result.controls)}
    assert set(advisory) == failing_units and ("clean-l3", "XZ-MAN-CRYPTO-ALGORITHMS") in advisory
    clean = advisory[("clean-l3", "XZ-MAN-CRYPTO-ALGORITHMS")]
    assert (clean["kind"], clean["level"]) == ("fail", "note") and "GB/T 39786-2021:8.4.f" in clean["message"]["text"]
    assert "suppressions" not in clean and clean["properties"]["controls"]["GB/T 39786-2021:8.4.f"] == "fail"
    # a result located at a whole register file is on that file (it was a logical location only: code scanning
    # could not place it)
    for entry in every:
        for where in entry["locations"]:
            names = [logical["name"] for logical in where.get("logicalLocations", [])]
            assert not any(name.endswith((".yaml", ".yml", ".json")) for name in names), entry
    whole = [entry for entry in every if "region" not in entry["locations"][0].get("physicalLocation", {"region": 1})]
    assert whole and all(entry["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("systems/")
                         for entry in whole)


def test_sarif_kinds_and_levels_agree(result: ScanResult) -> None:
    """SARIF 2.1.0 §3.27.10: a level other than ``none`` only with kind ``fail``. A check that could not run (a
    host unreachable) was kind ``review`` at level ``error``; it is kind ``open`` (undetermined), level ``none``."""
    import copy
    import dataclasses

    from policies.engine import Status

    errored = copy.copy(result)
    errored.systems = list(result.systems)
    first = next(i for i, s in enumerate(errored.systems) if s.findings)
    system = errored.systems[first]
    finding = system.findings[0]
    broken = dataclasses.replace(finding, result=dataclasses.replace(finding.result, status=Status.ERROR))
    errored.systems[first] = dataclasses.replace(system, findings=[broken, *system.findings[1:]])
    results = render(errored, ReportFormat.sarif)[1]["runs"][0]["results"]
    assert any(r["kind"] == "open" for r in results)
    for entry in results:
        if entry["kind"] == "fail":
            assert entry["level"] in ("error", "warning", "note"), entry["ruleId"]
        else:
            assert (entry["kind"], entry["level"], entry["properties"]["status"]) == ("open", "none", "error")


def test_department_text_is_never_markup_in_oscal_sarif_or_junit(result: ScanResult) -> None:
    """OSCAL titles and descriptions are Markdown (markup-line / markup-multiline) and a SARIF plain-text message
    may embed links (§3.11.6): a manifest's or a rule message's ``[l](http://…)``, ``**`` or ``<img …>`` went
    through as markup. A JUnit suite name carried a manifest title's line breaks."""
    import copy
    import dataclasses

    hostile = "演示\n[l](http://evil.example/x) **b** <img src=x onerror=alert(1)>"
    edited = copy.copy(result)
    index = next(i for i, s in enumerate(result.systems) if any(f.blocking for f in s.findings))
    system = result.systems[index]
    failing = next(i for i, f in enumerate(system.findings) if f.blocking)
    findings = list(system.findings)
    findings[failing] = dataclasses.replace(findings[failing],
                                            result=dataclasses.replace(findings[failing].result, message=hostile))
    edited.systems = [*result.systems[:index], dataclasses.replace(system, title=hostile, findings=findings),
                      *result.systems[index + 1:]]
    oscal = render(edited, ReportFormat.oscal)[1]["assessment-results"]
    texts: list[str] = []

    def collect(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                collect(inner, name)
        elif isinstance(value, list):
            for inner in value:
                collect(inner, key)
        elif key in ("title", "description") and isinstance(value, str):
            texts.append(value)

    collect(oscal)
    assert any("evil.example" in text for text in texts)
    for text in texts:
        assert not re.search(r"(?<!\\)\]\(", text) and "**" not in text and "<img" not in text, text
        assert "\n" not in text, text
    back = {r["uuid"] for r in oscal["back-matter"]["resources"]}
    assert oscal["import-ap"]["href"].removeprefix("#") in back  # the reference resolves
    sarif = render(edited, ReportFormat.sarif)[1]["runs"][0]["results"]
    message = next(r["message"]["text"] for r in sarif if "evil.example" in r["message"]["text"])
    assert "\\[l\\](http" in message and "[l](" not in message
    suites = ET.fromstring(render(edited, ReportFormat.junit)[0]).iter("testsuite")
    name = next(str(s.get("name")) for s in suites if str(s.get("name")).startswith(system.name))
    assert "\n" not in name and len(name) <= 200 and "演示" in name


def test_the_summary_filter_counts_and_lists_the_same_blocking_findings(result: ScanResult) -> None:
    """Under a 结果 (state) filter a system row is shown when it has items or blocking findings in that state, and
    the count the filter shows is the blocking findings of the rows it shows: a fail finding on items another rule
    passed (部分符合) was listed while its system was hidden and left out of the count."""
    import copy
    import dataclasses
    import html as html_module

    from compliance.reports.html import render_site

    edited = copy.copy(result)
    edited.systems = [dataclasses.replace(s, items=[dataclasses.replace(i, state=ItemState.PARTIAL)
                                                    if i.state is ItemState.FAIL else i for i in s.items])
                      for s in result.systems]
    page = render_site(edited)["report.html"]
    rows = {html_module.unescape(m.group(2)): m.group(1) for m in re.finditer(
        r'<tr class="sysrow"([^>]*)>.*?<span class="muted">([^<]*)</span>', page)}
    listed = re.findall(r'<tr class="finding"[^>]*data-state="([^"]*)"[^>]*data-s="([^"]*)"', page)
    assert listed, "the fixture has blocking findings"
    for state, system in listed:
        attributes = rows[html_module.unescape(system)]
        states = re.search(r'data-states="([^"]*)"', attributes)
        assert states is not None and f" {state} " in html_module.unescape(states.group(1)), (system, state)
    for system in edited.systems:
        kinds = re.search(r'data-b="([^"]*)"', rows[system.name])
        assert kinds is not None
        counted = sum(int(kind.rsplit(":", 1)[1]) for kind in kinds.group(1).split())
        assert counted == sum(1 for f in system.findings if f.blocking and f.result.severity >= edited.fail_on)


def test_junit_gates_on_fail_on(result: ScanResult) -> None:
    text, _ = render(result, ReportFormat.junit)
    root = ET.fromstring(text)
    failures = [(case.get("classname"), case.get("name")) for case in root.iter("testcase")
                if case.find("failure") is not None]
    # high and critical findings fail the build; medium ones (continuity, products, filing, backup) do not
    assert sorted(str(name).split()[0] for _, name in failures) == sorted([
        "XZ-MAN-AUTH-MFA", "XZ-MAN-INTERNET-ZONE", "XZ-MAN-DECLARED-FLOWS", "XZ-MAN-PI-STORAGE",
        "XZ-MAN-CRYPTO-ALGORITHMS", "XZ-MAN-LOG-RETENTION", "XZ-MAN-DATASET-PROTECTION"])
    assert int(root.get("failures", "0")) == len(failures)
    assert int(root.get("tests", "0")) == sum(len(s.findings) for s in result.systems)


def test_html_is_self_contained_chinese_with_charts_filters_and_derivations(result: ScanResult) -> None:
    text, _ = render(result, ReportFormat.html)
    site = render_site(result)
    assert site["report.html"] == text  # the summary page
    assert text.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in text
    assert "合规扫描报告" in text and "<svg" in text and "<script>" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)
    assert 'id="f-dept"' in text and 'id="f-state"' in text
    assert 'class="item"' not in text, "item detail lives on the system pages, not the summary"
    pages = {name: page for name, page in site.items() if name.startswith(f"{PAGES}/system-")}
    assert sorted(pages) == sorted(system_href(s.name) for s in result.systems)
    for system in result.systems:
        assert f'href="{system_href(system.name)}"' in text  # every system linked from the summary
        page = pages[system_href(system.name)]
        assert "得分推导" in page and 'id="items-data"' in page and "重大风险隐患" in page
        # only the page's own shared files, by relative name
        assert re.findall(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=\"([^\"]+)\"", page) == [
            "report.css", "catalogue.js", "report.js"]
    for name, body in site.items():
        assert not re.search(r"https?://", body), f"no URL of any kind in the offline report ({name})"


def test_html_system_page_data_gives_every_item_state(result: ScanResult) -> None:
    site = render_site(result)
    catalogue = json.loads(site[f"{PAGES}/catalogue.js"].removeprefix("window.XZ_CAT=").rstrip().rstrip(";"))
    shared = catalogue["T"]
    local: list[str] = []

    def text(value: object) -> object:  # an index in the shared table, -1 - an index in the page's own, or text
        if isinstance(value, int):
            return shared[value] if value >= 0 else local[-1 - value]
        if isinstance(value, list):  # a note as [head, rest]
            return "".join(str(text(part)) for part in value)
        return value

    assert catalogue["S"], "the fixture's systems share score derivations: written once, in catalogue.js"
    for system in result.systems:
        page = site[system_href(system.name)]
        found = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', page)
        assert found is not None
        data = json.loads(found.group(1))
        local[:] = data.get("L", [])
        assert len(local) == len(set(local)) and not set(local) & set(shared)
        rows = [catalogue["items"][position] for position in catalogue["sets"][data["set"]]]
        ids = [f"{catalogue['P'][row[0]]}:{row[1]}" if row[0] >= 0 else row[1] for row in rows]
        assert [catalogue["TT"][row[2]] for row in rows] == [
            item.title.removesuffix(f" ({item.strength})") if item.strength else item.title for item in system.items]
        assert ids == [item.item_id for item in system.items]
        assert [catalogue["states"][code][0] for code in data["states"]] == [str(i.state) for i in system.items]
        for item, ref in zip(system.items, data["d"], strict=True):
            detail = data["D"][ref] if ref >= 0 else {}
            assert [text(r) for r in detail.get("r", [])] == list(item.rules) and detail.get("w") == item.waiver
            assert text(detail.get("n", "")) == item.note
            # what report.js shows of the item: its own pieces (given, or by (finding, piece)), its first three
            pieces = [*detail.get("e", []),
                      *(data["F"][str(index)][str(piece)] for index, piece in detail.get("f", []))]
            assert [(text(e[0]), text(e[1]) if len(e) > 1 else data["src"]) for e in pieces[:3]] == [
                (e.observed, e.location) for e in item.evidence[:3]], (system.name, item.item_id)
        for key, card in (("d", system.dengbao), ("m", system.miping)):  # the score derivations
            listed = data["S"][key]
            if isinstance(listed, str):  # a derivation several systems share: in catalogue.js, by T index only
                listed = catalogue["S"][listed]
                assert not any(isinstance(v, int) and v < 0 for step in listed for v in step)
            assert [[text(v) for v in step] for step in listed] == [list(s) for s in card.steps] if card \
                else listed == []
        figures = system_figures(system)
        assert data["K"] == [[c.name, c.kind, [c.counts[s] for s in STATUSES], category_rate(c)]
                             for c in figures.categories]
        for position, item in zip(catalogue["sets"][data["set"]], system.items, strict=True):
            entry = catalogue["items"][position]  # the strength at the system's 密评 level, from the catalogue
            assert (entry[4].get(str(data["cl"])) if len(entry) > 4 else None) == (item.strength or None)
        key, results, triggers = data["R"]
        assert len(results) == len(triggers)
        codes = catalogue["rc"]
        assert [[case, unit, codes["status"][s], codes["triggered"][t]]
                for (case, unit), s, t in zip(catalogue["rs"][key], results, triggers, strict=True)] == [
            [r.case, r.unit, r.status, r.triggered] for r in system_figures(system).triggers]


def test_oscal_carries_every_item_state_and_findings_only_for_items_needing_action(result: ScanResult) -> None:
    _, report = render(result, ReportFormat.json)
    _, oscal = render(result, ReportFormat.oscal)
    for system, entry in zip(report["systems"], oscal["assessment-results"]["results"], strict=True):
        props = {p["name"]: p["value"] for p in entry["props"]}
        assert (props["item-set"], props["item-states"]) == (system["item_set"], system["states"])
        needing = {i["item"] for i in formats.expand_items(report, system)
                   if i["state"] in ("fail", "partial", "error", "waived")
                   or (i["state"] == "inherited" and i.get("score_status") in ("不符合", "部分符合"))}
        assert {f["title"] for f in entry.get("findings", [])} == needing


def test_an_inherited_item_the_platforms_record_fails_is_a_finding_and_counted_as_failing() -> None:
    """Its state stays 继承 while the score counts it 部分符合/不符合: SARIF (XZ-ATTESTED), JUnit and diff showed it as
    a failure, OSCAL had no finding and the summaries' 不符合/部分 columns did not count it."""
    repo = Path(__file__).resolve().parents[2]
    result = scan(ScanOptions(root=repo, systems=("e-invoice",), as_of=dt.date(2026, 12, 1)))
    (system,) = result.systems
    failed = [item for item in system.items if item.state is ItemState.INHERITED
              and item.score_status in ("不符合", "部分符合")]
    assert failed, "the example region's platform record fails items its tenants inherit"
    assert {item.item_id for item in failed} <= {item.item_id for item in formats.attested_failures(system)}
    (entry,) = formats.oscal(result)["assessment-results"]["results"]
    findings = {finding["title"]: finding for finding in entry["findings"]}
    assert {item.item_id for item in failed} <= set(findings)
    counts = system.summary_counts()
    for key, status in (("fail", "不符合"), ("partial", "部分符合")):
        for index, standard in enumerate((DENGBAO, MIPING)):
            inherited = sum(1 for item in failed if item.standard == standard and item.score_status == status)
            assert counts[key][index] == system.counts(standard)[key] + inherited, (key, standard)
    assert sum(counts["partial"]) + sum(counts["fail"]) > sum(system.counts()[key] for key in ("fail", "partial"))


def test_oscal_observations_are_written_once_and_every_reference_resolves(result: ScanResult) -> None:
    _, oscal = render(result, ReportFormat.oscal)
    shared = 0
    for entry in oscal["assessment-results"]["results"]:
        uuids = [o["uuid"] for o in entry.get("observations", [])]
        assert len(uuids) == len(set(uuids))
        referenced = [r["observation-uuid"] for f in entry.get("findings", [])
                      for r in f.get("related-observations", [])]
        assert set(referenced) == set(uuids)  # every observation supports a finding, every reference resolves
        shared += len(referenced) - len(uuids)
        for observation in entry.get("observations", []):
            for evidence in observation.get("relevant-evidence", []):
                assert evidence["description"] and ("href" in evidence or "props" in evidence)
                assert "href" not in evidence or re.fullmatch(r"[^#\s]+\.(ya?ml|json)(#L\d+)?", evidence["href"])
    assert shared > 0  # a rule result deciding several items is one observation


def test_markdown_summary(result: ScanResult) -> None:
    text, _ = render(result, ReportFormat.markdown)
    assert text.startswith("# 等保 / 密评 合规扫描摘要")
    assert "XZ-MAN-INTERNET-ZONE" in text and "| bad-mfa |" in text


def test_every_summary_names_the_day_recorded_dates_were_judged_on(result: ScanResult) -> None:
    # the pages gave the scan's times only: the as-of day (assessment ages, attestation expiry) was in the JSON alone
    assert result.as_of
    said = f"判定基准日 as-of {result.as_of}"
    assert said in render(result, ReportFormat.markdown)[0]
    pages = render_site(result)
    assert said in pages["report.html"]
    assert all(said in text for name, text in pages.items() if name.startswith("report-pages/") and
               name.endswith(".html"))


def test_no_secret_reaches_a_report(result: ScanResult, tmp_path: Path) -> None:
    write_reports(result, tmp_path)
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        assert "$XZGOV-SM4VAULT;" not in text and "PRIVATE KEY" not in text


def test_signed_report_set_verifies_and_tampering_is_detected(
    result: ScanResult, tmp_path: Path, signing_key: tuple[Path, SM2PrivateKey], cli: Cli
) -> None:
    written = write_reports(result, tmp_path)
    assert {p.name for p in written} == {FILES[f] for f in DEFAULT_FORMATS} | {PAGES}
    signed = sign_reports(written, signing_key[1], tmp_path)
    fingerprint = keys.fingerprint(signing_key[1].public_key)
    assert bundle.verify_bundle(signed, [fingerprint]).ok
    assert not bundle.verify_bundle(signed, ["0" * 64]).ok  # another signer is not trusted
    ok: CliResult = cli("verify", signed, "--trusted-fingerprint", fingerprint)
    assert ok.code == 0, ok.text
    html = tmp_path / FILES[ReportFormat.html]
    html.write_text(html.read_text(encoding="utf-8").replace("不符合", "符合"), encoding="utf-8")
    check = bundle.verify_bundle(signed, [fingerprint])
    assert not check.ok and check.changed == ["report.html"]
    tampered: CliResult = cli("verify", signed, "--trusted-fingerprint", fingerprint)
    assert tampered.code == 1 and "changed" in tampered.text


def _scan_out(cli: Cli, root: Path, out: Path, key: Path, *extra: str) -> CliResult:
    res: CliResult = cli("scan", "--root", root, "--out", out, "--key", key, "--format", "json", *extra)
    assert res.code in (0, 1), res.text
    return res


def test_diff_lists_new_failures_and_fixed_items(
    register_root: Path, tmp_path: Path, signing_key: tuple[Path, SM2PrivateKey], cli: Cli
) -> None:
    key = signing_key[0]
    _scan_out(cli, register_root, tmp_path / "old", key)
    # fix the retention gap, break MFA on the clean system
    retention = register_root / "systems/fx/bad-retention.yaml"
    audit = "  audit:\n    destination: log-centre\n    retention_days: "  # spec.audit, not the backups'
    fixed_text = retention.read_text(encoding="utf-8").replace(audit + "90\n", audit + "180\n")
    assert audit + "180\n" in fixed_text
    retention.write_text(fixed_text, encoding="utf-8")
    clean = register_root / "systems/fx/clean-l3.yaml"
    text = clean.read_text(encoding="utf-8")
    clean.write_text(text.replace("factors:\n    - password\n    - sm2-certificate",
                                  "factors:\n    - password\n    - sms-otp", 1), encoding="utf-8")
    _scan_out(cli, register_root, tmp_path / "new", key)
    pin = ("--trusted-fingerprint", keys.fingerprint(signing_key[1].public_key))
    unpinned: CliResult = cli("diff", tmp_path / "old", tmp_path / "new")
    assert unpinned.code == 1 and "not trusted" in unpinned.text  # signers must be pinned
    res: CliResult = cli("diff", tmp_path / "old", tmp_path / "new", "--format", "json", *pin)
    assert res.code == 1, res.text  # new failures gate
    data = json.loads(res.out)
    assert {(e["system"], e["item"]) for e in data["new_failures"]} == {("clean-l3", "GB/T 22239-2019:8.1.4.1.d")}
    assert ("bad-retention", "GB/T 22239-2019:8.1.5.4.d") in {(e["system"], e["item"]) for e in data["fixed"]}
    same: CliResult = cli("diff", tmp_path / "old", tmp_path / "old", *pin)
    assert same.code == 0
    # a tampered report is refused before any comparison
    report = tmp_path / "new" / "compliance-report.json"
    report.write_text(report.read_text(encoding="utf-8").replace('"fail"', '"pass"'), encoding="utf-8")
    refused: CliResult = cli("diff", tmp_path / "old", tmp_path / "new", *pin)
    assert refused.code == 1 and "verification failed" in refused.err
    shutil.rmtree(tmp_path / "old")
    missing: CliResult = cli("diff", tmp_path / "old", tmp_path / "new", *pin)
    assert missing.code == 2


def test_control_characters_in_titles_keep_every_xml_report_well_formed(tmp_path: Path) -> None:
    root = tmp_path / "register"
    shutil.copytree(FIXTURE, root)
    manifest = root / "systems" / "fx" / "clean-l3.yaml"
    hostile = 'title: "测试系统 \\a\\x1b[2J \\x0b [/] clean-l3"'
    text = manifest.read_text("utf-8").replace("title: 测试系统 clean-l3", hostile)
    manifest.write_text(text, "utf-8")
    bad = root / "systems" / "fx" / "bad-retention.yaml"
    retitled = re.sub(r"title: .*", lambda _: 'title: "\\x08\\x7f 留存不足"', bad.read_text("utf-8"), count=1)
    bad.write_text(retitled, "utf-8")
    scanned = scan(ScanOptions(root=root))
    assert any("\x07" in system.title for system in scanned.systems)  # the hostile title reached the report
    xml, _ = render(scanned, ReportFormat.junit)
    parsed = ET.fromstring(xml)  # raises on characters XML 1.0 forbids
    names = [suite.get("name", "") for suite in parsed.iter("testsuite")]
    assert any("\\x07" in name and "\\x1b" in name and "[/]" in name for name in names), names


def test_merged_shards_render_the_same_html_pages(tmp_path: Path) -> None:
    """Every page of the HTML report (not only the summary ``render`` returns) is the same after
    ``xzgov scan merge`` as from one scan of the whole register, the scan times apart (frozen here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner, "utc_now", lambda: "2026-06-01T08:00:00Z")
        single = scan(ScanOptions(root=FIXTURE))
        key = SM2PrivateKey.generate()
        paths = []
        for index in (1, 2, 3):
            shard = Shard(index, 3)
            part = scan(ScanOptions(root=FIXTURE, shard=shard))
            publish_reports(part, tmp_path / f"part-{index}", [], key, {PART_NAME: part_bytes(part, shard)})
            paths.append(tmp_path / f"part-{index}")
    parts = [load_part(path, [keys.fingerprint(key.public_key)]) for path in paths]
    register, register_root = merge_register(parts, None)
    merged = merge_parts(parts, register, register_root)
    expected, got = render_site(single), render_site(merged)
    assert sorted(got) == sorted(expected) and len(got) > len(single.systems)
    for name, text in expected.items():
        assert got[name] == text, f"{name} differs after merging"


def _noted(note: str, trail: dict[str, object] | None) -> ItemOutcome:
    return ItemOutcome("GB/T 22239-2019:8.1.1.1.a", "GB/T 22239-2019", "t", ItemState.PASS, ItemState.PASS,
                       note=note, trail=trail)


def test_attestation_and_inherited_notes_write_their_head_once() -> None:
    """The shared head of an attestation's note (signer, date) and of an inherited item's note (the
    platform's assessment) is rebuilt from the item's trail and split off, the record's own text kept;
    joined they are the note. Without a trail, or when the note does not start with its head, it is one text."""
    attestation = {"by": "attestation", "signer": "尼玛次仁 (网络安全管理员 (系统安全责任人))", "date": "2026-03-20"}
    platform = {"by": "platform-record", "report": "DJCP-XZ-2026-0031", "agency": "西藏测评中心 (示例)",
                "assessed": "2026-04-28", "conclusion": "良"}
    attested_head = "人工核查 / attested by 尼玛次仁 (网络安全管理员 (系统安全责任人)) on 2026-03-20: "
    inherited_head = ("继承云平台测评 / inherited from the platform's assessment DJCP-XZ-2026-0031 "
                      "(西藏测评中心 (示例), 2026-04-28, 良): ")
    assert note_head(attestation) == attested_head and note_head(platform) == inherited_head
    for trail, head in ((attestation, attested_head), (platform, inherited_head)):
        note = head + "核查: 制度 §33: 发布。"
        parts = note_parts(_noted(note, trail))
        assert parts == [head, "核查: 制度 §33: 发布。"] and "".join(parts) == note
        assert note_parts(_noted(head, trail)) == [head]  # nothing after the head: one text
        assert note_parts(_noted("另一说明 " + note, trail)) == ["另一说明 " + note]
    assert note_parts(_noted("待人工核查: 无规则", None)) == ["待人工核查: 无规则"]
    assert note_head({"by": "platform-record", "report": "R"}) == ""  # a trail missing parts: no head
    texts = Texts([attested_head[:60]])
    assert texts.note(_noted("plain note", None)) == "plain note"
    table = ["人工核查 / attested by a on 2026-01-01: "]
    written = Texts(table).note(_noted("人工核查 / attested by a on 2026-01-01: checked",
                                       {"by": "attestation", "signer": "a", "date": "2026-01-01"}))
    assert written == [0, "checked"]
    assert shared_text(table, written) == "人工核查 / attested by a on 2026-01-01: checked"


def test_shared_texts_do_not_depend_on_the_hash_seed() -> None:
    """The table of shared texts (``catalogue.js``, the JSON report's ``texts``) is in a stable order: the same
    scan gives byte-identical reports whatever ``PYTHONHASHSEED`` the process had (ties: first use first)."""
    program = ("import json, sys; from pathlib import Path; from compliance.scanner import scan, ScanOptions; "
               "from compliance.reports.texts import shared_texts; r = scan(ScanOptions(root=Path(sys.argv[1]))); "
               "print(json.dumps([shared_texts(r), shared_texts(r, pages=False)]))")
    tables = {subprocess.run([sys.executable, "-c", program, str(FIXTURE)], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONHASHSEED": seed}).stdout
              for seed in ("1", "2", "3")}
    assert len(tables) == 1 and json.loads(tables.pop())[0]


def test_a_waiver_that_cannot_lift_a_veto_is_not_shown_as_an_accepted_risk(register_root: Path) -> None:
    """bad-retention's 8.1.5.4.d (case 6.5.1.2, no mitigation listed) waived: the verdict stays 不符合, yet SARIF
    suppressed the result as "accepted", JUnit passed it without a word and OSCAL said nothing of a high risk."""
    from .waiver_support import write_waiver

    write_waiver(register_root)
    waived = scan(ScanOptions(root=register_root, systems=("bad-retention",)))
    (system,) = waived.systems
    assert system.dengbao is not None and "GB/T 22239-2019:8.1.5.4.d" in system.dengbao.high_risk
    _, sarif = render(waived, ReportFormat.sarif)
    (entry,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "XZ-MAN-LOG-RETENTION"]
    assert "suppressions" not in entry and entry["properties"]["waiver"] == "W-2026-001"
    assert entry["properties"]["high_risk"] == ["GB/T 22239-2019:8.1.5.4.d"] and entry["level"] == "error"
    text, _ = render(waived, ReportFormat.junit)
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    said = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert said["high_risk"] == "GB/T 22239-2019:8.1.5.4.d" and said["等保"].startswith("不符合")
    case = next(c for c in suite.iter("testcase") if str(c.get("name")).startswith("XZ-MAN-LOG-RETENTION"))
    out = case.find("system-out")
    assert case.find("failure") is None and out is not None and "高风险" in str(out.text)  # the gate: waived
    _, oscal = render(waived, ReportFormat.oscal)
    (entry,) = oscal["assessment-results"]["results"]
    finding = next(f for f in entry["findings"] if f["title"] == "GB/T 22239-2019:8.1.5.4.d")
    assert {"name": "high-risk", "ns": "https://xzgov.io/ns/oscal", "value": "true"} in finding["props"]
    assert "8.1.5.4.d" in entry["description"] and "高风险" in entry["description"]


def test_severity_labels_never_say_high_risk() -> None:
    """严重 (高风险) badged every critical finding, also where no verdict vetoes: 高风险 is the verdict's word."""
    from policies.engine import Severity

    assert [s.label for s in (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)] == \
        ["低", "中", "高", "严重"]


def test_a_waiver_of_a_system_left_out_is_not_called_unused(register_root: Path) -> None:
    """``scan --system clean-l3`` warned that bad-retention's waiver matched no failing result: it was not judged."""
    from .waiver_support import RULE_WAIVER, write_waiver

    write_waiver(register_root)
    other = scan(ScanOptions(root=register_root, systems=("clean-l3",)))
    assert not other.unused_waivers and not any("W-2026-001" in w for w in other.warnings)
    fixed = scan(ScanOptions(root=register_root, systems=("clean-l3", "bad-retention")))
    assert not fixed.unused_waivers  # it matches there
    write_waiver(register_root, RULE_WAIVER.replace("system: bad-retention", "system: clean-l3"))  # judged, unused
    assert "W-2026-001" in scan(ScanOptions(root=register_root, systems=("clean-l3",))).unused_waivers


@pytest.mark.parametrize("options", [{"shard": Shard(1, 3)}, {"systems": ("clean-l3",)}])
def test_a_set_of_part_of_the_register_says_so_in_every_format(result: ScanResult, options: dict[str, object]) -> None:
    """A shard's own set (and a --system scan's) is signed and verified like the region's report, without a word
    that it judged part of the register: handed on, it read as the whole (the failing systems of other shards
    simply absent)."""
    part = scan(ScanOptions(root=FIXTURE, **options))  # type: ignore[arg-type]
    judged, registered = len(part.systems), len(result.systems)
    assert 0 < judged < registered and part.partial_scope() == (judged, registered)
    _, data = render(part, ReportFormat.json)
    assert data["scope"] == {"systems": judged, "registered": registered}
    assert validate.errors(validate.REPORT_SCHEMA, data) == []
    assert f"部分扫描 partial scan: {judged} / {registered}" in formats.markdown(part)
    pages = render_site(part)
    assert all('id="partial-scope"' in text for name, text in pages.items() if name.endswith(".html"))
    # the machine formats too: a shard's SARIF or JUnit uploaded to CI read as the region's result
    said = f"部分扫描 partial scan: {judged} / {registered} 个已登记系统"
    sarif = formats.sarif(part)
    assert sarif["runs"][0]["properties"]["scope"] == {"systems": judged, "registered": registered,
                                                      "note": formats.partial_text((judged, registered))}
    assert validate.errors(validate.SARIF_SCHEMA, sarif) == []
    suites = ET.fromstring(formats.junit(part))
    assert said in str(suites.get("name"))
    oscal = formats.oscal(part)["assessment-results"]
    assert said in oscal["metadata"]["remarks"] and f"(部分扫描 partial: {judged} / {registered})" in \
        oscal["metadata"]["title"]
    assert validate.errors(validate.OSCAL_SCHEMA, formats.oscal(part)) == []
    # the whole register's set (a full scan, a merge of every shard) carries none of it
    assert "scope" not in formats.sarif(result)["runs"][0]["properties"]
    assert ET.fromstring(formats.junit(result)).get("name") == "xzgov compliance scan"
    assert "remarks" not in formats.oscal(result)["assessment-results"]["metadata"]
    assert result.partial_scope() is None and "scope" not in render(result, ReportFormat.json)[1]
    assert "partial scan" not in formats.markdown(result)
    assert not any("partial-scope" in text for text in render_site(result).values())

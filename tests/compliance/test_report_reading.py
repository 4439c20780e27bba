"""Reading a JSON report back (``expand_items`` / ``expand_findings`` / ``validate.check_report``, what ``xzgov
diff`` reads): an item's evidence is exactly the item's (version 8), a version 7 report still reads, and a report
that does not hold what its version says is a located :class:`ReportError` (exit 2) — never another exception."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.diff import diff_reports
from compliance.reports import ReportFormat, formats, render, validate
from compliance.reports.formats import ReportError
from compliance.results import ScanResult
from compliance.scanner import ScanOptions, scan
from xzgov.core.errors import ExitCode

from .conftest import FIXTURE
from .report_support import as_version_7, as_version_8, mutate

ROOT = Path(__file__).resolve().parents[2]

Report = dict[str, Any]


@pytest.fixture(scope="module")
def fixture_report() -> Report:
    _, report = render(scan(ScanOptions(root=FIXTURE)), ReportFormat.json)
    return dict(report)


@pytest.fixture(scope="module")
def example() -> tuple[ScanResult, Report]:
    result = scan(ScanOptions(root=ROOT))
    _, report = render(result, ReportFormat.json)
    return result, dict(report)


@pytest.mark.skipif(not (ROOT / "systems").is_dir(), reason="no example register")
def test_every_items_evidence_reads_back_as_the_item_kept_it(example: tuple[ScanResult, Report]) -> None:
    """The scanner keeps at most 5 pieces of each deciding result (the pieces about the item when the rule gave
    them), at most 20 per item; version 7 gave back every piece of every deciding result (e-invoice
    GB/T 39786-2021:8.3.d: 1 kept — its own unit's — 22 read back)."""
    result, report = example
    assert report["version"] == 9
    compared = shortened = 0
    for system, data in zip(result.systems, report["systems"], strict=True):
        findings = formats.expand_findings(report, data)
        for outcome, record in zip(system.items, formats.expand_items(report, data), strict=True):
            expected = outcome.to_json()
            assert record["evidence"] == expected["evidence"], (system.name, outcome.item_id)
            assert record["rules"] == expected["rules"], (system.name, outcome.item_id)
            compared += 1
            every = sum(len(findings[index]["evidence"]) for index in record.get("findings", []))
            shortened += every > len(expected["evidence"])
    assert compared > 10_000 and shortened > 100  # the case the old reading got wrong is common
    einvoice = next(s for s in report["systems"] if s["name"] == "e-invoice")
    unit = next(i for i in formats.expand_items(report, einvoice) if i["item"] == "GB/T 39786-2021:8.3.d")
    assert [piece["observed"] for piece in unit["evidence"]] == [
        "device/重要信息资源安全标记完整性 (宜): no mechanism declared"]


def test_a_version_7_report_still_reads_and_diffs_against_version_8(fixture_report: Report) -> None:
    old = as_version_7(fixture_report)
    assert validate.check_report(old) == 7 and validate.check_report(fixture_report) == 9
    difference = diff_reports(old, fixture_report)
    assert (difference.new_failures, difference.fixed, difference.new_findings) == ([], [], [])
    for before, after in zip(old["systems"], fixture_report["systems"], strict=True):
        for was, now in zip(formats.expand_items(old, before), formats.expand_items(fixture_report, after),
                            strict=True):
            assert {k: v for k, v in was.items() if k != "evidence"} == {
                k: v for k, v in now.items() if k != "evidence"}
            assert len(was["evidence"]) >= len(now["evidence"])  # version 7: every piece of every result
    # [index, count] is version 8: a version 7 report holding one does not match the schema
    pairs = [d for d in fixture_report["details"] if any(isinstance(e, list) for e in d.get("findings", []))]
    if pairs:
        mixed = copy.deepcopy(fixture_report)
        mixed["version"] = 7
        with pytest.raises(ReportError, match=r"details\[\d+\]\.findings"):
            validate.check_report(mixed)


def _first_with_detail(report: Report) -> int:
    return next(i for i, s in enumerate(report["systems"]) if any(ref >= 0 for ref in s["details"]))


def _first_with_findings(report: Report) -> int:
    return next(i for i, s in enumerate(report["systems"]) if s["findings"])


Edit = Callable[[Report], object]

#: (name, edit, versions it is read as, field the error names, words of the problem)
CASES: list[tuple[str, Edit, tuple[int, ...], str, str]] = [
    ("bad state code", lambda r: r["systems"][0].update(states="z" + r["systems"][0]["states"][1:]),
     (5, 6), "systems[0].states[0]", "unknown state code"),
    ("bad state code (schema)", lambda r: r["systems"][0].update(states="z" + r["systems"][0]["states"][1:]),
     (7, 8, 9), "systems[0].states", "^[pfanmiwe]*$"),
    ("states too short", lambda r: r["systems"][0].update(states=r["systems"][0]["states"][:-1]),
     (5, 6, 7, 8, 9), "systems[0].states", "state codes for the"),
    ("unknown item set", lambda r: r["systems"][0].update(item_set="nope"),
     (5, 6, 8, 9), "systems[0].item_set", "'nope' is not in catalogue.item_sets"),
    ("texts emptied", lambda r: r.update(texts=[]), (5, 6, 8, 9), "systems[", "is not a string of texts"),
    ("rules emptied", lambda r: r.update(rules=[]), (5, 6, 8, 9), "systems[", "is not a position in rules"),
    ("detail index out of range", lambda r: r["systems"][_first_with_detail(r)].update(
        details=[99_999] * len(r["systems"][_first_with_detail(r)]["states"])),
     (6, 8, 9), ".details[0]", "index 99999 is not in the report's details"),
    ("finding index out of range", lambda r: [d.update(findings=[10_000]) for d in r["details"] if "findings" in d],
     (6, 8, 9), ".findings[0]", "not an index in the system's findings"),
    ("no systems (schema)", lambda r: r.pop("systems"), (8, 9), "(root)", "'systems' is a required property"),
    ("no systems", lambda r: r.pop("systems"), (6,), "systems", "not an array"),
    ("systems null", lambda r: r.update(systems=None), (6,), "systems", "not an array"),
    ("no catalogue (schema)", lambda r: r.pop("catalogue"), (8, 9), "(root)", "'catalogue' is a required property"),
    ("no catalogue", lambda r: r.pop("catalogue"), (6,), "catalogue", "missing"),
    ("short finding", lambda r: r["systems"][_first_with_findings(r)].update(findings=[[0]]),
     (5, 6, 8, 9), ".findings[0]", "4"),
    ("a version 5 finding read as version 4", lambda r: None, (4,), ".findings[0]", "a version 4 finding has 6 or 7"),
    ("two systems of one name", lambda r: r["systems"].append(copy.deepcopy(r["systems"][0])),
     (3, 6, 8, 9), "name", "is also systems[0]"),
    ("unknown detail member", lambda r: r["details"][0].update(bogus=1), (6,), "details[0].bogus",
     "not a member of an item detail"),
    ("a status that is no string", lambda r: r["systems"][0].update(findings=[{
        "rule": "XZ-MAN-AUTH-MFA", "point": "manifest", "status": [], "severity": "high", "message": "m",
        "evidence": []}]), (3,), "systems[0].findings[0].status", "unknown status"),
    ("an underlying state that is no string", lambda r: r["details"][0].update(underlying=[]), (6,),
     "details[0].underlying", "unknown state"),
    # what a system says of itself agrees with its items: its cards resolve, its counts are its states
    ("score cards emptied", lambda r: r.update(score_cards={}), (8, 9), "systems[0].dengbao", "not in score_cards"),
    ("counts contradict the states", lambda r: r["systems"][0]["counts"].update(
        fail=r["systems"][0]["counts"]["fail"] + 1), (8, 9), "systems[0].counts.fail", "disagrees with the items"),
]


@pytest.mark.parametrize(("name", "edit", "versions", "field", "words"), CASES, ids=[case[0] for case in CASES])
def test_a_report_not_as_its_version_says_is_a_located_usage_error(
        fixture_report: Report, name: str, edit: Edit, versions: tuple[int, ...], field: str, words: str) -> None:
    for version in versions:
        report = copy.deepcopy(fixture_report) if version > 8 else as_version_8(fixture_report) if version == 8 \
            else as_version_7(fixture_report)
        report["version"] = version
        edit(report)
        with pytest.raises(ReportError) as raised:
            validate.check_report(report)
        error = raised.value
        assert error.exit_code is ExitCode.USAGE
        fields = [diagnostic.path for diagnostic in error.diagnostics]
        messages = " ".join(diagnostic.message for diagnostic in error.diagnostics)
        assert any(field in f for f in fields) and words in messages, (version, fields, messages)
        assert all(diagnostic.hint for diagnostic in error.diagnostics)


@pytest.mark.parametrize(("version", "hint"), [
    (10, "upgrade xzgov"), ("7", "upgrade xzgov"), (0, "upgrade xzgov"), (True, "upgrade xzgov"), (None, "upgrade")])
def test_a_version_this_release_does_not_read_is_refused(fixture_report: Report, version: object, hint: str) -> None:
    """A newer version (then 9, now 10) was once read with the version 7 reader (exit 0), "7" crashed the reader
    (exit 3)."""
    report = copy.deepcopy(fixture_report)
    report["version"] = version
    with pytest.raises(ReportError) as raised:
        validate.check_report(report)
    assert [d.path for d in raised.value.diagnostics] == ["version"]
    assert hint in raised.value.diagnostics[0].hint and "1 to 9" in raised.value.diagnostics[0].message


def test_not_a_report_names_the_format_field_and_says_what_to_pass(fixture_report: Report) -> None:
    for data, field in (([], "(root)"), ({"format": "sarif"}, "format"), ({**fixture_report, "format": 3}, "format")):
        with pytest.raises(ReportError) as raised:
            validate.check_report(data)
        diagnostic = raised.value.diagnostics[0]
        assert diagnostic.path == field and "xzgov scan --out" in diagnostic.hint


def test_the_catalogue_note_placeholder_is_replaced_literally(fixture_report: Report) -> None:
    """``catalogue.notes`` holds a literal ``{check_type}``; any other brace is text (it was ``str.format``)."""
    report = copy.deepcopy(fixture_report)
    report["catalogue"]["notes"]["manual-pending"] = "待核查 {check_type} {other} { / pending"
    system = report["systems"][0]
    pending = [i for i in formats.expand_items(report, system) if i["state"] == "manual-pending"]
    assert pending and all(i["note"] == f"待核查 {i['check_type']} {{other}} {{ / pending" for i in pending)


def test_no_malformed_report_escapes_as_another_exception(fixture_report: Report) -> None:
    """Random edits of a report read as every version 2–9 (without the schema below 7): the reader answers or
    raises ReportError — never KeyError, IndexError, TypeError, ValueError (``xzgov diff`` exit 3)."""
    rng = random.Random(20261201)
    base = copy.deepcopy(fixture_report)
    base["systems"] = base["systems"][:4]  # a small report: many edits, quick
    sections = ["systems", "catalogue", "texts", "details", "rules", "version", "started"]
    refused = 0
    for attempt in range(600):
        report = copy.deepcopy(base)
        report["version"] = rng.choice([2, 3, 4, 5, 6, 6, 6, 8, 9])
        for _ in range(rng.choice([1, 1, 2, 3])):
            section = rng.choice(sections)
            report[section] = mutate(report.get(section), rng)
        try:
            if report.get("version") in (8, 9) and attempt % 5:  # the schema is slow: most edits there skip it
                report["version"] = 6
            validate.check_report(report)
            for system in report["systems"]:  # what diff_reports then reads must be there
                for item in formats.expand_items(report, system):
                    assert isinstance(item["state"], str) and isinstance(item["title"], str)
                    assert isinstance(item["note"], str)
                for finding in formats.expand_findings(report, system):
                    assert all(isinstance(finding[k], str) for k in ("rule", "point", "target", "status"))
        except ReportError:
            refused += 1
        except Exception as error:  # pragma: no cover - the defect this test is for
            pytest.fail(f"attempt {attempt}: {type(error).__name__}: {error}\n"
                        f"{json.dumps(report, ensure_ascii=False)[:2000]}")
    assert refused > 300


def test_a_schema_error_shows_path_and_keyword_however_long_the_value(fixture_report: Report) -> None:
    """The message was cut at 300 characters: a long value hid the pattern it failed."""
    report = copy.deepcopy(fixture_report)
    report["systems"][0]["states"] = "z" * 5_000
    [problem] = validate.errors(validate.REPORT_SCHEMA, report)
    assert problem.startswith("systems[0].states: ") and "^[pfanmiwe]*$" in problem and "pattern" in problem
    assert "5,000 characters" in problem and len(problem) < 400


def _positions(report: Report) -> list[tuple[int, list[int]]]:
    """(detail index, positions) of every version 9 ``[index, [position, ...]]`` entry of ``report``."""
    return [(at, entry[1]) for at, detail in enumerate(report["details"]) for entry in detail.get("findings", [])
            if isinstance(entry, list) and isinstance(entry[1], list)]


@pytest.mark.skipif(not (ROOT / "systems").is_dir(), reason="no example register")
def test_version_9_names_the_pieces_a_rule_gave_an_item(example: tuple[ScanResult, Report]) -> None:
    """An item a rule judged otherwise than itself keeps the pieces about it — not a prefix of the result's
    evidence: version 9 names their positions, so the item's evidence reads back without being written out."""
    _, report = example
    entries = _positions(report)
    assert entries and all(positions != list(range(len(positions))) for _, positions in entries)
    assert validate.check_report(report) == 9
    as_8 = copy.deepcopy(report)
    as_8["version"] = 8  # a version 8 report has no such entry
    with pytest.raises(ReportError, match="findings"):
        validate.check_report(as_8)


@pytest.mark.skipif(not (ROOT / "systems").is_dir(), reason="no example register")
@pytest.mark.parametrize("positions", [[], [0, 0], [-1], [99], ["0"], [True], [0, 1, 2, 3, 4, 5], None])
def test_bad_evidence_positions_are_a_located_error(example: tuple[ScanResult, Report], positions: Any) -> None:
    """Positions must be 1 to 5 distinct indices of the finding's evidence; ``[index, null]`` was read as "all"."""
    _, report = example
    broken = copy.deepcopy(report)
    at, _ = _positions(broken)[0]
    detail = broken["details"][at]
    detail["findings"] = [[entry[0], positions] if isinstance(entry, list) and isinstance(entry[1], list) else entry
                          for entry in detail["findings"]]
    with pytest.raises(ReportError, match="findings"):
        validate.check_report(broken)
    system = next(s for s in broken["systems"] if at in s["details"])
    with pytest.raises(ReportError, match="findings"):
        formats.expand_items(broken, system)


@pytest.mark.parametrize(("changed", "field"), [
    ({"items": [{"item": "x", "state": "inherited", "title": "t", "note": "", "underlying": ["fail"]}]},
     "systems[0].items[0].underlying"),
    ({"dengbao": {"verdict": "符合", "high_risk": 5}}, "systems[0].dengbao.high_risk"),
    ({"dengbao": {"verdict": ["符合"]}}, "systems[0].dengbao.verdict"),
    ({"miping": {"verdict": None, "verdict_range": ["不符合"]}}, "systems[0].miping.verdict_range"),
])
def test_a_version_1_report_with_a_malformed_field_is_located(changed: dict[str, Any], field: str) -> None:
    """Versions before the schema were read on trust: a list as an item's underlying state or a number as a card's
    高风险 list stopped `xzgov diff` with an internal error (exit 3)."""
    system: dict[str, Any] = {"name": "a", "items": [], "findings": [], **changed}
    report = {"format": "xzgov-compliance-report", "version": 1, "started": "2026-01-01T00:00:00Z",
              "systems": [system]}
    with pytest.raises(ReportError) as refused:
        validate.read_report(report)
    assert refused.value.exit_code is ExitCode.USAGE
    assert field in str(refused.value.diagnostics[0].path if refused.value.diagnostics else refused.value)

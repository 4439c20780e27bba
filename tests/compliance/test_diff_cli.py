"""``xzgov diff`` on reports it cannot read: exit 2 with the file, the field and a hint (never exit 3, never a
silent diff of a version it does not know); a linked report is a failed verification (exit 1); the JSON-lines
report is read; a version 7 report diffs against a version 8 one; 130 (interrupted) is documented."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import xzgov.cli.scan_cmds as scan_cmds
from compliance.reports import DEFAULT_FORMATS, FILES, ReportFormat, publish_reports
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .conftest import FIXTURE
from .report_support import as_version_7, restate

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]
JSON_NAME, LINES_NAME = FILES[ReportFormat.json], FILES[ReportFormat.jsonl]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SM2PrivateKey]:
    """A signed report set (``out``) and a signed JSON-lines-only set (``outl``) of the fixture register."""
    base = tmp_path_factory.mktemp("reports")
    key = SM2PrivateKey.generate()
    result = scan(ScanOptions(root=FIXTURE))
    publish_reports(result, base / "out", DEFAULT_FORMATS, key)
    publish_reports(result, base / "outl", [ReportFormat.jsonl], key)
    return base / "out", base / "outl", key


def _pin(key: SM2PrivateKey) -> tuple[str, str]:
    return "--trusted-fingerprint", keys.fingerprint(key.public_key)


def _signed(directory: Path, text: str, key: SM2PrivateKey, name: str = JSON_NAME) -> Path:
    directory.mkdir(parents=True)
    (directory / name).write_text(text, encoding="utf-8")
    bundle.sign_files([directory / name], key, directory / "xzgov-bundle.json")
    return directory


def _edited(out: Path, edit: Callable[[dict[str, Any]], object]) -> str:
    report = json.loads((out / JSON_NAME).read_text(encoding="utf-8"))
    edit(report)
    return json.dumps(report, ensure_ascii=False)


EDITS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("bad state code", lambda r: r["systems"][0].update(states="z" + r["systems"][0]["states"][1:]),
     "[systems[0].states]"),
    ("states too short", lambda r: r["systems"][0].update(states=r["systems"][0]["states"][:-1]),
     "[systems[0].states]"),
    ("unknown item set", lambda r: r["systems"][0].update(item_set="nope"), "[systems[0].item_set]"),
    ("texts emptied", lambda r: r.update(texts=[]), "[systems[0].findings[0].message]"),
    ("rules emptied", lambda r: r.update(rules=[]), "[systems[0].findings[0][0]]"),
    ("detail index out of range", lambda r: r["systems"][0].update(details=[99_999] * len(r["systems"][0]["states"])),
     "[systems[0].details[0]]"),
    ("no systems", lambda r: r.pop("systems"), "'systems' is a required property"),
    ("no catalogue", lambda r: r.pop("catalogue"), "'catalogue' is a required property"),
    ("version as text", lambda r: r.update(version="7"), "[version]"),
    ("a newer version", lambda r: r.update(version=10), "upgrade xzgov"),
    ("a finding [0]", lambda r: r["systems"][1].update(findings=[[0]]), "[systems[1].findings[0]]"),
    ("two systems of one name", lambda r: r["systems"].append(r["systems"][0]), "is also systems[0]"),
    ("not a report", lambda r: r.update(format="sarif"), "[format]"),
    # the swapped-reports warning compares these: garbage skipped it without a word
    ("start not an instant", lambda r: r.update(started="garbage"), "[started]"),
    ("end not an instant", lambda r: r.update(finished="2026-13-01T00:00:00Z"), "[finished]"),
    ("judged on no calendar day", lambda r: r.update(as_of="2026-02-30"), "[as_of]"),
]


@pytest.mark.parametrize(("name", "edit", "words"), EDITS, ids=[case[0] for case in EDITS])
def test_a_signed_report_diff_cannot_read_is_exit_2_with_file_field_and_hint(
        reports: tuple[Path, Path, SM2PrivateKey], tmp_path: Path, cli: Cli, name: str,
        edit: Callable[[dict[str, Any]], object], words: str) -> None:
    """Once the bundle verified, these were exit 3 ("a defect in xzgov"), or a silent exit 0 (a newer version, two
    systems of one name)."""
    out, _, key = reports
    edited = _signed(tmp_path / "edited", _edited(out, edit), key)
    res = cli("diff", out, edited, *_pin(key))
    assert res.code == 2, res.text
    assert f"{edited / JSON_NAME}" in res.err and words in res.err and "hint:" in res.err, res.err
    assert "internal error" not in res.err


@pytest.mark.parametrize(("text", "words"), [
    ("", "1:1: error: 不是 JSON / not JSON"),
    ('{"format": "xzgov-compliance-report", "version": 8, "systems": [}', "1:65: error: 不是 JSON / not JSON"),
    ('{"format": "xzgov-compliance-report", "a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ("[]", "[(root)]"),
])
def test_not_json_or_not_a_report_is_exit_2_with_where_and_hint(
        reports: tuple[Path, Path, SM2PrivateKey], tmp_path: Path, cli: Cli, text: str, words: str) -> None:
    out, _, key = reports
    edited = _signed(tmp_path / "edited", text, key)
    res = cli("diff", out, edited, *_pin(key))
    assert res.code == 2 and words in res.err and "hint:" in res.err, res.err


def test_a_report_that_is_a_symbolic_link_fails_verification(
        reports: tuple[Path, Path, SM2PrivateKey], tmp_path: Path, cli: Cli) -> None:
    """``report.resolve().relative_to(…)`` ran before the verification result was looked at: exit 3."""
    out, _, key = reports
    linked = tmp_path / "linked"
    linked.mkdir()
    shutil.copy(out / "xzgov-bundle.json", linked / "xzgov-bundle.json")
    (linked / JSON_NAME).symlink_to(out / JSON_NAME)
    for argument in (linked, linked / JSON_NAME):
        res = cli("diff", out, argument, *_pin(key))
        assert res.code == 1 and "signature verification failed" in res.err, res.text
        assert "symbolic link" in res.err
    assert cli("verify", linked / "xzgov-bundle.json", *_pin(key)).code == 1


def test_the_json_lines_report_is_read(reports: tuple[Path, Path, SM2PrivateKey], tmp_path: Path, cli: Cli) -> None:
    """``xzgov scan -f jsonl --out DIR``: diff said "no compliance-report.json", or "not JSON: Extra data"."""
    out, outl, key = reports
    for new in (outl, outl / LINES_NAME):
        res = cli("diff", out, new, "--format", "json", *_pin(key))
        assert res.code == 0, res.text
        assert json.loads(res.out)["new_failures"] == []
    lines = (outl / LINES_NAME).read_text(encoding="utf-8").split("\n")
    broken = _signed(tmp_path / "broken", "\n".join([lines[0], lines[1][:-3], *lines[2:]]), key, LINES_NAME)
    res = cli("diff", out, broken, *_pin(key))
    assert res.code == 2 and "line 2:" in res.err and "hint:" in res.err, res.err
    header = json.loads(lines[0])
    header["version"] = 10
    newer = _signed(tmp_path / "newer", "\n".join([json.dumps(header), *lines[1:]]), key, LINES_NAME)
    res = cli("diff", out, newer, *_pin(key))
    assert res.code == 2 and "[version]" in res.err and "upgrade xzgov" in res.err, res.err
    empty = _signed(tmp_path / "empty", "\n", key, LINES_NAME)
    assert cli("diff", out, empty, *_pin(key)).code == 2
    # a JSON report on one line under the JSON-lines name, the header alone (`head -1`), a line more: read as a
    # report of no systems (exit 0, every system "removed") or of one system too many
    whole = (out / JSON_NAME).read_text(encoding="utf-8")
    for name, text, words in (
            ("renamed", json.dumps(json.loads(whole)), 'line 1: not a JSON-lines report header (no "lines": true'),
            ("header", lines[0], "follow it (the file is cut short"),
            ("added", "\n".join([*lines[:2], lines[1], *lines[2:]]), "follow it"),
            ("not-object", "\n".join([lines[0], "[1]", *lines[2:]]), "line 2: a system's line is not a JSON object")):
        res = cli("diff", out, _signed(tmp_path / name, text, key, LINES_NAME), *_pin(key))
        assert res.code == 2 and words in res.err and "hint:" in res.err, (name, res.err)
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    res = cli("diff", out, nothing, *_pin(key))
    assert res.code == 2 and JSON_NAME in res.err and LINES_NAME in res.err


def test_a_version_7_report_diffs_against_version_8(
        reports: tuple[Path, Path, SM2PrivateKey], tmp_path: Path, cli: Cli) -> None:
    out, _, key = reports
    report = json.loads((out / JSON_NAME).read_text(encoding="utf-8"))
    assert report["version"] == 9
    old = as_version_7(report)
    failing = next(i for i, s in enumerate(old["systems"]) if "f" in s["states"])
    states = old["systems"][failing]["states"]
    restate(old["systems"][failing], states.replace("f", "p", 1))  # was passing in the older report
    older = _signed(tmp_path / "v7", json.dumps(old, ensure_ascii=False), key)
    res = cli("diff", older, out, "--format", "json", *_pin(key))
    assert res.code == 1, res.text  # the item failing now is a new failure
    data = json.loads(res.out)
    assert [(e["system"], e["was"], e["state"]) for e in data["new_failures"]] == [
        (old["systems"][failing]["name"], "pass", "fail")]
    assert cli("diff", out, older, *_pin(key)).code == 0
    same = copy.deepcopy(old)
    restate(same["systems"][failing], states)
    assert cli("diff", _signed(tmp_path / "v7same", json.dumps(same), key), out, *_pin(key)).code == 0


def test_an_interrupt_exits_130_and_130_is_documented(
        reports: tuple[Path, Path, SM2PrivateKey], cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables said the codes are 0–3 and stable; Ctrl-C gives 130 (the shell's 128 + SIGINT)."""
    out, _, key = reports

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(scan_cmds, "diff_reports", interrupted)
    assert cli("diff", out, out, *_pin(key)).code == 130
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Exit codes"):]
    table = table[: table.index("\n\n")]
    assert [row.split("|")[1].strip() for row in table.splitlines()[3:]] == ["0", "1", "2", "3", "129", "130", "143"]
    compliance = (ROOT / "docs" / "compliance.md").read_text(encoding="utf-8")
    section = compliance[compliance.index("## Exit codes"):]
    assert "| command | 0 | 1 | 2 | 3 | 130 |" in section and "exits **130** when interrupted" in section
    assert "**143** when terminated" in section and "**129** when hung up" in section

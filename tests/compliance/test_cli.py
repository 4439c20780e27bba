"""``xzgov scan`` exit codes: 0 nothing at or above --fail-on fails, 1 findings, 2 usage or input error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey

Cli = Callable[..., CliResult]


def test_clean_systems_exit_0(cli: Cli, register_root: Path) -> None:
    res = cli("scan", "--root", register_root, "--system", "clean-l3", "--system", "clean-l2")
    assert res.code == 0, res.text


def test_findings_at_or_above_fail_on_exit_1(cli: Cli, register_root: Path) -> None:
    res = cli("scan", "--root", register_root)
    assert res.code == 1
    assert "XZ-MAN-INTERNET-ZONE [critical] bad-internet" in res.err
    assert "systems/fx/bad-internet.yaml:" in res.err


def test_fail_on_threshold(cli: Cli, register_root: Path) -> None:
    # bad-continuity only has a medium finding: it gates at --fail-on medium, not at high
    assert cli("scan", "--root", register_root, "--system", "bad-continuity").code == 0
    assert cli("scan", "--root", register_root, "--system", "bad-continuity", "--fail-on", "medium").code == 1
    assert cli("scan", "--root", register_root, "--system", "bad-internet", "--fail-on", "critical").code == 1
    assert cli("scan", "--root", register_root, "--system", "bad-mfa", "--fail-on", "critical").code == 0


def test_no_gate_exits_0_with_findings_but_not_with_errors(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    """Scheduled jobs (the scanner's CronJobs) run with --no-gate: findings are a result, not a failure; the
    findings are still named, and an input error still exits 2."""
    gated = cli("scan", "--root", register_root, "--system", "bad-internet")
    assert gated.code == 1
    ungated = cli("scan", "--root", register_root, "--system", "bad-internet", "--no-gate")
    assert ungated.code == 0 and "--no-gate: exit 0" in ungated.err and "bad-internet" in ungated.err
    assert cli("scan", "--root", tmp_path / "nowhere", "--no-gate").code == 2


def test_usage_and_input_errors_exit_2(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    assert cli("scan", "--root", register_root, "--fail-on", "severe").code == 2
    assert cli("scan", "--root", tmp_path / "nowhere").code == 2
    unsigned = cli("scan", "--root", register_root, "--out", tmp_path / "o")
    assert unsigned.code == 2 and "--unsigned" in unsigned.err
    broken = register_root / "systems/fx/clean-l3.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("level: 3", "level: 7", 1), encoding="utf-8")
    bad_register = cli("scan", "--root", register_root)
    assert bad_register.code == 2 and "systems/fx/clean-l3.yaml:" in bad_register.err


def test_expired_waiver_exits_2_with_location(cli: Cli, register_root: Path) -> None:
    directory = register_root / "compliance" / "waivers"
    directory.mkdir(parents=True)
    (directory / "old.yaml").write_text("""apiVersion: xzgov.io/v1
kind: Waivers
waivers:
  - id: W-2020-001
    system: bad-mfa
    rule: XZ-MAN-AUTH-MFA
    reason: 过期的豁免记录, 应当使扫描失败
    approver: {name: 赵六, role: 安全负责人}
    approved: "2020-01-01"
    expires: "2020-12-31"
""", encoding="utf-8")
    res = cli("scan", "--root", register_root)
    assert res.code == 2
    assert "compliance/waivers/old.yaml:10" in res.err and "expired on 2020-12-31" in res.err


def test_reports_written_signed_and_listed(cli: Cli, register_root: Path, tmp_path: Path,
                                           signing_key: tuple[Path, SM2PrivateKey]) -> None:
    out = tmp_path / "reports"
    res = cli("scan", "--root", register_root, "--out", out, "--key", signing_key[0], "--system", "clean-l3")
    assert res.code == 0, res.text
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "compliance-report.json", "compliance.sarif", "junit.xml", "oscal-assessment-results.json", "report.html",
        "report-pages", "summary.md", "xzgov-bundle.json"])
    fingerprint = keys.fingerprint(signing_key[1].public_key)
    assert cli("verify", out / "xzgov-bundle.json", "--trusted-fingerprint", fingerprint).code == 0
    only = cli("scan", "--root", register_root, "--out", tmp_path / "s", "--format", "sarif", "--unsigned")
    assert only.code == 1 and [p.name for p in (tmp_path / "s").iterdir()] == ["compliance.sarif"]


def test_stdout_formats_and_rule_list(cli: Cli, register_root: Path) -> None:
    res = cli("scan", "--root", register_root, "--system", "clean-l2", "--format", "json")
    data = json.loads(res.out)
    assert data["format"] == "xzgov-compliance-report" and data["systems"][0]["name"] == "clean-l2"
    rules = json.loads(cli("scan", "--list-rules", "--format", "json").out)
    assert {r["id"] for r in rules} >= {"XZ-MAN-AUTH-MFA", "XZ-HOST-SSH", "XZ-RES-DEFAULT-DENY"}
    # the summary page alone links to system and department pages that only --out writes
    page = cli("scan", "--root", register_root, "--system", "clean-l2", "--format", "html")
    assert page.code == 2 and not page.out and "--out DIR --format html" in page.err, page.text


def test_json_lines_on_request_only(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    res = cli("scan", "--root", register_root, "--out", tmp_path / "l", "--format", "jsonl", "--unsigned",
              "--system", "clean-l2")
    assert res.code in (0, 1), res.text
    assert [p.name for p in (tmp_path / "l").iterdir()] == ["compliance-report.jsonl"]
    lines = (tmp_path / "l" / "compliance-report.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["lines"] is True and [json.loads(line)["name"] for line in lines[1:]] == ["clean-l2"]


@pytest.mark.parametrize("formats", [("html", "markdown"), ("html", "markdown", "json"), (),
                                     ("html", "markdown", "jsonl")])
def test_the_summaries_point_only_to_files_the_set_holds(cli: Cli, register_root: Path, tmp_path: Path,
                                                         formats: tuple[str, ...]) -> None:
    """With ``--format html`` (or ``markdown``) alone, the system pages said every item is also in
    compliance-report.json, and summary.md sent readers to it and to report-pages/: files the set did not hold."""
    out = tmp_path / "r"
    chosen = [option for fmt in formats for option in ("--format", fmt)]
    res = cli("scan", "--root", register_root, "--out", out, *chosen, "--unsigned", "--system", "clean-l3")
    assert res.code in (0, 1), res.text
    held = {p.name for p in out.iterdir()}
    page = (out / "report-pages" / "system-clean-l3.html").read_text(encoding="utf-8")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    noscript = re.search(r"<noscript>(.*?)</noscript>", page)
    assert noscript is not None
    json_file = next((name for name in ("compliance-report.json", "compliance-report.jsonl") if name in held), None)
    if json_file is not None:  # the JSON report, or the same as JSON lines
        assert f"也在 {json_file} 中" in noscript.group(1) and "--format json" not in noscript.group(1)
        assert f"与 {json_file} / " in summary and "--format json" not in summary
    else:  # a set is written whole: the fix is another format in the same scan, not a second scan into it
        assert "本报告集未含: 扫描或合并时加 --format json" in noscript.group(1), noscript.group(1)
        assert "(not in this set: add --format json to the scan or merge)" in summary
    assert "report-pages/" in summary  # the HTML report is in every one of these sets
    alone = cli("scan", "--root", register_root, "--format", "markdown", "--system", "clean-l3")
    assert "report-pages/" not in alone.out and "--format json" in alone.out, alone.out  # printed: no set at all


def test_a_system_given_twice_is_scanned_once(cli: Cli, register_root: Path) -> None:
    """``--system a --system a`` reported a twice, each report with every rule result twice."""
    res = cli("scan", "--root", register_root, "--system", "clean-l3", "--system", "clean-l3", "--format", "json")
    data = json.loads(res.out)
    assert [system["name"] for system in data["systems"]] == ["clean-l3"] and data["summary"]["systems"] == 1


@pytest.mark.parametrize(("formats", "catalogue"), [(("oscal",), "not in this set: add --format json"),
                                                    (("oscal", "jsonl"), "(compliance-report.jsonl)"),
                                                    ((), "(compliance-report.json)")])
def test_oscal_names_the_catalogue_where_the_set_holds_it(cli: Cli, register_root: Path, tmp_path: Path,
                                                          formats: tuple[str, ...], catalogue: str) -> None:
    """OSCAL's back-matter said the catalogue is in compliance-report.json, also in a set without it."""
    out = tmp_path / "r"
    chosen = [option for fmt in formats for option in ("--format", fmt)]
    res = cli("scan", "--root", register_root, "--out", out, *chosen, "--unsigned", "--system", "clean-l3")
    assert res.code in (0, 1), res.text
    data = json.loads((out / "oscal-assessment-results.json").read_text(encoding="utf-8"))
    described = data["assessment-results"]["back-matter"]["resources"][0]["description"]
    assert catalogue in described, described

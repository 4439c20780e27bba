"""``xzgov diff`` keeps waivers apart: a failing item or finding that becomes waived is accepted risk, not
fixed; one whose waiver no longer covers it is failing again, not new (and gates like a new failure)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.diff import diff_reports
from compliance.reports.formats import STATE_CODES, report_json
from compliance.results import ItemState
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from tests.compliance.report_support import restate
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .conftest import FIXTURE
from .waiver_support import write_waiver

Cli = Callable[..., CliResult]
SYSTEMS = ("bad-retention", "clean-l2")
#: The items XZ-MAN-LOG-RETENTION decides for bad-retention (its only failing finding there).
ITEMS = {("bad-retention", f"GB/T 22239-2019:8.1.{unit}") for unit in ("3.5.c", "4.3.c", "5.4.d")}
FINDING = ("bad-retention", "XZ-MAN-LOG-RETENTION")
#: The keys ``xzgov diff --format json`` had before waivers were listed apart: kept.
FIRST_KEYS = {"new_failures", "fixed", "new_findings", "resolved_findings", "systems_added", "systems_removed"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON reports of one register scanned without and with a waiver for bad-retention's finding."""
    root = tmp_path_factory.mktemp("diff") / "register"
    shutil.copytree(FIXTURE, root)
    plain = report_json(scan(ScanOptions(root=root, systems=SYSTEMS)))
    write_waiver(root)
    waived = report_json(scan(ScanOptions(root=root, systems=SYSTEMS)))
    return plain, waived


def _items(entries: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(e["system"], e["item"]) for e in entries}


def _findings(entries: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(e["system"], e["rule"]) for e in entries}


def test_a_waived_failure_is_not_fixed(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    plain, waived = reports
    result = diff_reports(plain, waived)
    assert not ITEMS & _items(result.fixed) and FINDING not in _findings(result.resolved_findings)
    assert {(e["system"], e["item"], e["was"], e["state"], e["waiver"]) for e in result.waived} == {
        (*item, "fail", "waived", "W-2026-001") for item in ITEMS}
    assert [(e["system"], e["rule"], e["waiver"]) for e in result.waived_findings] == [(*FINDING, "W-2026-001")]
    assert not (result.new_failures or result.new_findings or result.no_longer_waived or result.fixed)
    assert not result.gates
    data = result.to_json()
    assert set(data) >= FIRST_KEYS and data["waived"] == result.waived


def test_a_waiver_that_no_longer_covers_fails_anew_and_is_named_so(
        reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Failing again is a new failure (a pipeline gating on ``new_failures`` must stop, as before waivers were
    listed apart); ``no_longer_waived`` says why."""
    plain, waived = reports
    result = diff_reports(waived, plain)
    assert _items(result.new_failures) >= ITEMS and FINDING in _findings(result.new_findings)
    assert {(e["system"], e["item"], e["was"], e["state"], e["waiver"]) for e in result.no_longer_waived} == {
        (*item, "waived", "fail", "W-2026-001") for item in ITEMS}
    assert _findings(result.no_longer_waived_findings) == {FINDING}
    assert not (result.fixed or result.waived or result.resolved_findings)
    assert result.gates  # it blocks again, as a new failure would


def test_a_waived_item_that_passes_now_is_fixed(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Its deficiency is gone: fixed (it was neither listed before nor is it an accepted risk any more)."""
    _, waived = reports
    passing = json.loads(json.dumps(waived))
    system = next(s for s in passing["systems"] if s["name"] == "bad-retention")
    code = STATE_CODES[ItemState.WAIVED]
    assert system["states"].count(code) == len(ITEMS)
    restate(system, system["states"].replace(code, STATE_CODES[ItemState.PASS]))
    result = diff_reports(waived, passing)
    assert {(e["system"], e["item"], e["was"], e["state"]) for e in result.fixed} == {
        (*item, "waived", "pass") for item in ITEMS}
    assert not (result.waived or result.no_longer_waived or result.new_failures or result.gates)


def test_a_failure_awaiting_a_manual_check_now_is_not_fixed(
        reports: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path, cli: Cli) -> None:
    """No rule decides it any more and nobody attested it: not known to pass, so listed as now pending (it was
    listed as fixed), and it does not gate; an item that passes now is still fixed."""
    plain, _ = reports
    pending = json.loads(json.dumps(plain))
    system = next(s for s in pending["systems"] if s["name"] == "bad-retention")
    fail, states = STATE_CODES[ItemState.FAIL], list(system["states"])
    failing = [index for index, code in enumerate(states) if code == fail]
    assert len(failing) >= 2
    states[failing[0]], states[failing[1]] = STATE_CODES[ItemState.MANUAL_PENDING], STATE_CODES[ItemState.PASS]
    restate(system, "".join(states))
    result = diff_reports(plain, pending)
    assert [(e["was"], e["state"]) for e in result.now_pending] == [("fail", "manual-pending")]
    assert [(e["was"], e["state"]) for e in result.fixed] == [("fail", "pass")]
    assert not _items(result.now_pending) & _items(result.fixed) and not result.gates
    assert result.to_json()["now_pending"] == result.now_pending
    key = SM2PrivateKey.generate()
    for name, report in (("plain", plain), ("pending", pending)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "compliance-report.json").write_text(json.dumps(report, ensure_ascii=False),
                                                                  encoding="utf-8")
        bundle.sign_files([tmp_path / name / "compliance-report.json"], key, tmp_path / name / "xzgov-bundle.json")
    shown = cli("diff", tmp_path / "plain", tmp_path / "pending", "--trusted-fingerprint",
                keys.fingerprint(key.public_key))
    assert shown.code == 0, shown.text
    assert "已修复 fixed: 1" in shown.out and "now pending (decided before, not known now): 1" in shown.out
    assert shown.out.count("fail → manual-pending") == 1


def test_a_passing_item_awaiting_a_manual_check_now_is_listed_as_pending(
        reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """An attested 符合 whose set lapsed (or an item no rule decides any more) is not known to pass now: listed as
    now pending with what it was; an item pending in both reports is not listed."""
    plain, _ = reports
    lapsed = json.loads(json.dumps(plain))
    system = next(s for s in lapsed["systems"] if s["name"] == "bad-retention")
    states = list(system["states"])
    passing = [index for index, code in enumerate(states) if code == STATE_CODES[ItemState.PASS]]
    pending = [index for index, code in enumerate(states) if code == STATE_CODES[ItemState.MANUAL_PENDING]]
    assert passing and pending
    states[passing[0]] = STATE_CODES[ItemState.MANUAL_PENDING]
    restate(system, "".join(states))
    result = diff_reports(plain, lapsed)
    assert [(e["system"], e["was"], e["state"]) for e in result.now_pending] == [
        ("bad-retention", "pass", "manual-pending")]
    assert not (result.fixed or result.new_failures or result.gates)


def test_the_text_output_names_waived_items_apart(
        reports: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path, cli: Cli) -> None:
    plain, waived = reports
    key = SM2PrivateKey.generate()
    pin = ("--trusted-fingerprint", keys.fingerprint(key.public_key))
    for name, report in (("plain", plain), ("waived", waived)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "compliance-report.json").write_text(json.dumps(report, ensure_ascii=False),
                                                                  encoding="utf-8")
        bundle.sign_files([tmp_path / name / "compliance-report.json"], key, tmp_path / name / "xzgov-bundle.json")
    accepted = cli("diff", tmp_path / "plain", tmp_path / "waived", *pin)
    assert accepted.code == 0, accepted.text
    assert "已修复 fixed: 0" in accepted.out and "已豁免 waived (accepted risk, not fixed): 3" in accepted.out
    assert all(f"~ {system} {item} " in accepted.out for system, item in ITEMS)
    assert accepted.out.count("fail → waived (W-2026-001)") == 3
    lapsed = cli("diff", tmp_path / "waived", tmp_path / "plain", *pin)
    assert lapsed.code == 1, lapsed.text
    assert "新增不符合 new failures: 0" in lapsed.out and "no longer waived (failing again): 3" in lapsed.out
    assert lapsed.out.count("waived → fail (W-2026-001)") == 3
    data = json.loads(cli("diff", tmp_path / "plain", tmp_path / "waived", "--format", "json", *pin).out)
    assert set(data) >= FIRST_KEYS and data["fixed"] == [] and _items(data["waived"]) == ITEMS



def test_a_new_report_older_than_the_old_one_is_warned(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """A pipeline comparing "latest" with the last accepted report took an older signed report as the new
    state without a word: the comparison now says the two look swapped (and still compares them)."""
    plain, waived = reports
    plain, waived = dict(plain, started="2026-11-30T01:00:00Z"), dict(waived, started="2026-12-01T01:00:00Z")
    assert diff_reports(plain, waived).warnings == []
    swapped = diff_reports(waived, plain)
    assert swapped.warnings == ["the new report's scan started 2026-11-30T01:00:00Z, before the old one's "
                                "(2026-12-01T01:00:00Z): are they swapped, or is an older report given as new?"]
    assert swapped.to_json()["warnings"] == swapped.warnings and swapped.no_longer_waived


def test_a_new_blocking_finding_on_an_item_already_failing_gates(tmp_path: Path) -> None:
    """A critical finding lost its waiver on items other rules already failed: no item changed state, and the diff
    exited 0 with nothing to say (its JSON held the finding, but nothing gated on it)."""
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "register"
    root.mkdir()
    shutil.copy(repo / "region.yaml", root / "region.yaml")
    shutil.copytree(repo / "systems", root / "systems")
    shutil.copytree(repo / "compliance" / "attestations", root / "compliance" / "attestations")
    write_waiver(root, "  - id: W-2026-010\n    system: local-credit\n    rule: XZ-MAN-DATASET-PROTECTION\n"
                       "    reason: 数据集加密改造排期中, 已启用数据库审计补偿\n"
                       "    approver: {name: 张三, role: 网络安全负责人}\n"
                       '    approved: "2026-01-05"\n    expires: "2026-12-31"\n')
    waived = report_json(scan(ScanOptions(root=root, systems=("local-credit",))))
    (root / "compliance" / "waivers" / "w.yaml").unlink()
    plain = report_json(scan(ScanOptions(root=root, systems=("local-credit",))))
    result = diff_reports(waived, plain)
    assert not result.new_failures and not result.no_longer_waived  # its items were failing already
    assert [(e["rule"], e["severity"]) for e in result.blocking_findings] == [
        ("XZ-MAN-DATASET-PROTECTION", "critical")]
    assert result.gates
    assert not diff_reports(plain, plain).gates


# --- a review of `xzgov diff` (each case failed before) --------------------------------------------------------

def test_a_manifest_moved_to_another_folder_brings_no_new_finding(tmp_path: Path) -> None:
    """Findings were matched on their target, the manifest's path: the same file moved under another folder made
    every finding of the system new — the high ones gating (exit 1) — and listed each as resolved too."""
    root = tmp_path / "register"
    shutil.copytree(FIXTURE, root)
    before = report_json(scan(ScanOptions(root=root, systems=SYSTEMS)))
    manifest = next(root.glob("systems/*/bad-retention.yaml"))
    (manifest.parent / "moved").mkdir()
    manifest.rename(manifest.parent / "moved" / manifest.name)
    after = report_json(scan(ScanOptions(root=root, systems=SYSTEMS)))
    assert {s["name"]: s["source"] for s in before["systems"]} != {s["name"]: s["source"] for s in after["systems"]}
    result = diff_reports(before, after)
    assert not (result.new_findings or result.resolved_findings or result.blocking_findings or result.gates)
    # a finding that is new is still new, and names the file where it is now
    fixed = diff_reports(report_json(scan(ScanOptions(root=FIXTURE, systems=("clean-l2",)))), after)
    assert FINDING in _findings(fixed.new_findings)
    assert {e["target"] for e in fixed.new_findings if e["system"] == "bad-retention"} == {
        next(s["source"] for s in after["systems"] if s["name"] == "bad-retention")}


def _v1(*items: dict[str, Any]) -> dict[str, Any]:
    """A report as version 1 wrote it (items as records), of one system."""
    return {"systems": [{"name": "s", "items": list(items), "findings": []}]}


def _item(state: str, underlying: str | None = None) -> dict[str, Any]:
    return {"item": "GB/T 22239-2019:8.1.1.2.a", "title": "门禁", "state": state, "note": "",
            **({"underlying": underlying} if underlying else {})}


def test_an_item_the_platforms_record_fails_now_is_new_whatever_it_was_and_never_fixed() -> None:
    """Only an item inherited before counted: passing → inherited (the platform's record failing it) said nothing,
    and failing → inherited-and-failing was listed as fixed."""
    now = _v1(_item("inherited", "fail"))
    result = diff_reports(_v1(_item("pass")), now)
    assert [(e["was"], e["state"], e["underlying"]) for e in result.new_failures] == [("pass", "inherited", "fail")]
    assert result.gates
    result = diff_reports(_v1(_item("fail")), now)
    assert not (result.fixed or result.new_failures or result.gates)  # failing before, failing now
    result = diff_reports(now, _v1(_item("pass")))
    assert [(e["was"], e["state"]) for e in result.fixed] == [("inherited", "pass")]
    result = diff_reports(_v1(_item("inherited", "pass")), now)  # (as before: the record fails it now)
    assert [(e["was"], e["underlying"]) for e in result.new_failures] == [("inherited", "fail")]


def test_reports_of_another_catalogue_or_day_are_warned(
        reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    plain, _ = reports
    for field, value, words in (("catalogue_version", "0.9.0", "catalogue version"),
                                ("as_of", "2020-01-01", "different days")):
        other = {**plain, field: value}
        assert any(words in w for w in diff_reports(other, plain).warnings), field
    assert not diff_reports(plain, plain).warnings
    # the second reading: the register's path is where the scan ran (".", a checkout), not what it holds
    assert not diff_reports({**plain, "register_root": "/elsewhere"}, plain).warnings


def test_a_removed_systems_findings_are_not_resolved(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Its items were rightly not listed as fixed; its findings were listed as resolved."""
    plain, _ = reports
    without = {**plain, "systems": [s for s in plain["systems"] if s["name"] != "bad-retention"]}
    result = diff_reports(plain, without)
    assert result.systems_removed == ["bad-retention"]
    assert not [e for e in result.resolved_findings if e["system"] == "bad-retention"] and not result.fixed

"""XZ-MAN-DATA-STORE-COVERAGE on the example register: every store of the examples is covered today, and a
store left out of ``spec.data_sets`` is a blocking finding located at the host's (or workload's) line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance.scanner import ScanOptions, scan
from policies.engine import Severity, Status
from policies.registry import RULES_BY_ID

ROOT = Path(__file__).resolve().parents[2]
RULE = "XZ-MAN-DATA-STORE-COVERAGE"
#: the systems whose hosts or persistent workloads no data set named before the rule existed
FIXED = ("crypto-service", "data-exchange", "security-ops", "security-ops-dr", "unified-identity")


def _copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(ROOT / "systems", tmp_path / "systems")
    return tmp_path


def _findings(root: Path, systems: tuple[str, ...]) -> dict[str, tuple[Status, list[str], list[str]]]:
    result = scan(ScanOptions(root=root, systems=systems))
    return {s.name: (f.result.status, [e.location for e in f.result.evidence], [e.observed for e in f.result.evidence])
            for s in result.systems for f in s.findings if f.result.rule_id == RULE}


def test_rule_is_blocking_at_level_three_and_four() -> None:
    rule = RULES_BY_ID[RULE]
    assert rule.severity is Severity.CRITICAL  # 2025 high-risk case 6.4.5.2 重要数据明文存储
    assert sorted(rule.levels) == [3, 4]
    assert dict(rule.control_pairs(3, 3))["GB/T 22239-2019:{L}.1.4.8.b"] == "GB/T 22239-2019:8.1.4.8.b"
    assert dict(rule.control_pairs(4, 4))["GB/T 22239-2019:{L}.1.4.7.b"] == "GB/T 22239-2019:9.1.4.7.b"
    assert not [item for _, item in rule.control_pairs(2, 2) if "22239" in item]  # no storage items at level 2


def test_the_fixed_examples_are_covered() -> None:
    found = _findings(ROOT, FIXED)
    assert {name: status for name, (status, _, _) in found.items()} == dict.fromkeys(FIXED, Status.PASS)


@pytest.mark.parametrize(("system", "path", "line", "store", "at"), [
    # a host (flow mapping: its own line, at ``data:``) and a workload (its ``storage:`` line)
    ("unified-identity", "systems/dsjj/unified-identity.yaml", "stored_in: tyrz-db02", "tyrz-db02",
     "- {hostname: tyrz-db02,"),
    ("security-ops", "systems/dsjj/security-ops.yaml", "stored_in: syslog-receiver", "syslog-receiver", "storage: {"),
])
def test_an_uncovered_store_fails_at_its_line(tmp_path: Path, system: str, path: str, line: str, store: str,
                                               at: str) -> None:
    root = _copy(tmp_path)
    manifest = root / path
    kept = [text for text in manifest.read_text(encoding="utf-8").splitlines(keepends=True) if line not in text]
    manifest.write_text("".join(kept), encoding="utf-8")
    status, locations, observed = _findings(root, (system,))[system]
    assert status is Status.FAIL
    bad = [(where, what) for where, what in zip(locations, observed, strict=True) if "no data set" in what]
    assert len(bad) == 1 and store in bad[0][1]
    where = bad[0][0]
    assert where.startswith(f"{path}:")
    number = int(where.split(":")[1])
    lines = manifest.read_text(encoding="utf-8").splitlines()
    assert lines[number - 1].lstrip().startswith(at), (where, lines[number - 1])

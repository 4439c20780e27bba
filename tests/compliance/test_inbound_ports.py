"""XZ-MAN-INBOUND-PORTS over a scanned register: an unmarked port no declared flow reaches is a blocking finding
located at the port's line, at the least-functionality item of the system's level; a port marked internal that
another system's declared flow reaches is a finding at the boundary item; the clean control stays clean."""

from __future__ import annotations

from pathlib import Path

from compliance.results import ItemState, SystemReport
from compliance.scanner import ScanOptions, scan
from policies.engine import Status

RULE = "XZ-MAN-INBOUND-PORTS"
CLEAN = "systems/fx/clean-l3.yaml"


def _report(root: Path, name: str = "clean-l3") -> SystemReport:
    return scan(ScanOptions(root=root, systems=(name,))).systems[0]


def _line(path: Path, needle: str, after: int = 0) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if n > after and needle in line)


def test_the_clean_control_passes(register_root: Path) -> None:
    report = _report(register_root)
    finding = next(f for f in report.findings if f.result.rule_id == RULE)
    assert finding.result.status is Status.PASS and not finding.blocking
    item = next(i for i in report.items if i.item_id == "GB/T 22239-2019:8.1.4.4.b")
    assert item.state is not ItemState.FAIL


def test_an_unmarked_port_nobody_reaches_is_a_located_blocking_finding(register_root: Path) -> None:
    manifest = register_root / CLEAN
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("    - port: 8443\n      exposure: internal\n", "    - port: 8443\n", 1),
                        encoding="utf-8")
    report = _report(register_root)
    finding = next(f for f in report.findings if f.result.rule_id == RULE)
    assert finding.result.status in (Status.FAIL, Status.PARTIAL) and finding.blocking
    bad = [e for e in finding.result.evidence if "8443/TCP" in e.observed and "not marked internal" in e.observed]
    assert bad and bad[0].location == f"{CLEAN}:{_line(manifest, '- port: 8443')}"
    assert finding.result.status_of("GB/T 22239-2019:8.1.4.4.b") is Status.FAIL
    item = next(i for i in report.items if i.item_id == "GB/T 22239-2019:8.1.4.4.b")
    assert item.state is ItemState.FAIL


def test_an_internal_port_another_system_reaches_is_a_boundary_finding(register_root: Path) -> None:
    consumer = register_root / "systems/fx/clean-l2.yaml"
    text = consumer.read_text(encoding="utf-8")
    assert "  flows:\n" in text
    consumer.write_text(text.replace("  flows:\n", "  flows:\n  - to:\n      system: clean-l3\n    protocol: tcp\n"
                                     "    port: 8443\n    purpose: 直连身份服务\n", 1), encoding="utf-8")
    report = _report(register_root)
    finding = next(f for f in report.findings if f.result.rule_id == RULE)
    assert finding.result.status_of("GB/T 22239-2019:8.1.3.1.a") is Status.FAIL
    assert finding.result.status_of("GB/T 22239-2019:8.1.4.4.b") is Status.PASS
    wrong = [e for e in finding.result.evidence if "marked internal, yet reached by clean-l2" in e.observed]
    manifest = register_root / CLEAN
    assert wrong and wrong[0].location == f"{CLEAN}:{_line(manifest, 'exposure: internal')}"

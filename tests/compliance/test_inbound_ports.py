"""XZ-MAN-INBOUND-PORTS over a scanned register: an unmarked port no declared flow reaches is a blocking finding
located at the port's line, at the least-functionality item of the system's level; a port marked internal that
another system's declared flow reaches is a finding at the boundary item; the clean control stays clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.results import ItemState, SystemReport
from compliance.scanner import ScanOptions, scan
from policies.engine import Status
from xzgov.core.errors import UsageError
from xzgov.core.register import check_register

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


@pytest.mark.parametrize(("port", "said"), [
    (8443, "'clean-l3' declares 8443/TCP exposure: internal"),
    (9999, "no workload or host of 'clean-l3' declares 9999/TCP"),
])
def test_another_systems_flow_to_a_port_not_served_is_refused_at_the_sender(
        register_root: Path, port: int, said: str) -> None:
    # The receiver got a blocking boundary finding (and its 等保 conclusion fell) for another department's flow,
    # which the stacks never opened, while the sender validated clean: the sender's flow is refused where it is
    # written, and the receiver's verdict does not depend on it.
    before = _report(register_root)
    consumer = register_root / "systems/fx/clean-l2.yaml"
    text = consumer.read_text(encoding="utf-8")
    assert "  flows:\n" in text
    consumer.write_text(text.replace("  flows:\n", "  flows:\n  - to:\n      system: clean-l3\n    protocol: tcp\n"
                                     f"    port: {port}\n    purpose: 直连身份服务\n", 1), encoding="utf-8")
    loaded = check_register(register_root)
    refused = [d for d in loaded.diagnostics if said in d.message]
    assert len(refused) == 1 and refused[0].file == "systems/fx/clean-l2.yaml"
    assert (refused[0].path, refused[0].line) == ("spec.flows[0].port",
                                                  _line(consumer, f"port: {port}", _line(consumer, "system: clean-l3")))
    with pytest.raises(UsageError):
        _report(register_root)
    consumer.write_text(text, encoding="utf-8")
    after = _report(register_root)
    assert [(f.result.rule_id, f.result.status) for f in after.findings] == \
        [(f.result.rule_id, f.result.status) for f in before.findings]

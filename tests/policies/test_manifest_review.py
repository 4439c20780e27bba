"""Static manifest rules a review found passing what their titles forbid (each case the example register with the
least edit; the rules run on the facts the scan builds).

A hash is no encryption: SM3 declared for transport or storage confidentiality passed XZ-MAN-PI-STORAGE (with the
words "SM4 + SM3 at rest"), XZ-MAN-CRYPTO-ALGORITHMS (mandatory 密评 units 8.2.c, 8.4.d, 8.4.e) and
XZ-MAN-TRANSPORT-PROTECTION — data declared so is stored and sent in plain.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance.catalogue import default_catalogue
from compliance.scan.points import _strength_of
from policies.engine import Facts, RuleResult, Status, evaluate
from policies.registry import get_rule
from xzgov.core.register import check_register
from xzgov.facts.manifest import manifest_facts

REPO = Path(__file__).resolve().parents[2]
LICENCE = "systems/dsjj/e-license.yaml"
G = "GB/T 22239-2019"
M = "GB/T 39786-2021"


@pytest.fixture
def region(tmp_path: Path) -> Path:
    target = tmp_path / "region"
    target.mkdir()
    shutil.copy(REPO / "region.yaml", target / "region.yaml")
    shutil.copytree(REPO / "systems", target / "systems")
    return target


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _run(root: Path, name: str, rule_id: str) -> RuleResult:
    loaded = check_register(root)
    assert loaded.register is not None, loaded.diagnostics
    facts: Facts = manifest_facts(loaded.register, loaded.register.systems[name], loaded.documents[name],
                                  strength=_strength_of(default_catalogue()), gathered_at="2026-12-01T00:00:00Z",
                                  as_of="2026-12-01")
    result = evaluate(get_rule(rule_id), facts)
    assert result is not None
    return result


@pytest.fixture
def hashed(region: Path) -> Path:
    """e-license with SM3 (a hash) as its transport and storage confidentiality."""
    manifest = region / LICENCE
    _edit(manifest, "{purpose: transport-confidentiality, algorithms: [TLCP, SM4], product: ssl-gateway}",
          "{purpose: transport-confidentiality, algorithms: [SM3], product: ssl-gateway}", count=2)
    _edit(manifest, "{purpose: storage-confidentiality, algorithms: [SM4], product: cloud-hsm,",
          "{purpose: storage-confidentiality, algorithms: [SM3], product: cloud-hsm,")
    return region


@pytest.mark.parametrize(("rule_id", "controls"), [
    ("XZ-MAN-PI-STORAGE", [f"{G}:8.1.4.8.b"]),
    ("XZ-MAN-CRYPTO-ALGORITHMS", [f"{M}:8.2.c", f"{M}:8.4.d", f"{M}:8.4.e"]),
    ("XZ-MAN-TRANSPORT-PROTECTION", [f"{G}:8.1.2.2.b", f"{G}:8.1.4.8.a"]),
])
def test_a_hash_declared_for_confidentiality_keeps_nothing_secret(hashed: Path, rule_id: str,
                                                                  controls: list[str]) -> None:
    result = _run(hashed, "e-license", rule_id)
    assert result.status is not Status.PASS, (result.message, result.evidence)
    assert {control: result.status_of(control) for control in controls} == {control: Status.FAIL
                                                                           for control in controls}
    assert "SM4 + SM3 at rest" not in result.message
    assert any("SM3" in e.observed and ("encrypt nothing" in e.observed or "need" in e.observed)
               for e in result.evidence), result.evidence


@pytest.mark.parametrize("rule_id", ["XZ-MAN-PI-STORAGE", "XZ-MAN-CRYPTO-ALGORITHMS", "XZ-MAN-TRANSPORT-PROTECTION"])
def test_the_example_with_sm4_and_tlcp_still_passes(region: Path, rule_id: str) -> None:
    assert _run(region, "e-license", rule_id).status is Status.PASS


def test_a_flow_to_a_host_port_is_a_declared_port(region: Path) -> None:
    """XZ-MAN-DECLARED-FLOWS took the target's workload ports only, internal ones included: a flow to a port of the
    target's hosts failed ("target declares ports [8080, 8081, 8443]"), one to a port only the target itself reaches
    passed — the register and the stacks land both the other way (xzgov.core.ports)."""
    exchange, info = region / "systems/dsjj/data-exchange.yaml", region / "systems/wjw/health-info.yaml"
    _edit(exchange, "ports: [{port: 9000, name: s3, exposure: internal}]", "ports: [{port: 9000, name: s3}]", count=3)
    _edit(info, "    - {to: {system: data-exchange}, protocol: tcp, port: 8443, purpose: 卫健数据共享}\n",
          "    - {to: {system: data-exchange}, protocol: tcp, port: 8443, purpose: 卫健数据共享}\n"
          "    - {to: {system: data-exchange}, protocol: tcp, port: 9000, purpose: 数据湖对象存储}\n")
    result = _run(region, "health-info", "XZ-MAN-DECLARED-FLOWS")
    assert result.status is Status.PASS, result.evidence
    # (a flow to a port only the target itself reaches is refused when the register loads: unlanded)


@pytest.mark.parametrize(("approved", "passes"), [("2026-01-05", True), ("2026-12-01", True), ("2030-01-01", False)])
def test_a_lower_crypto_level_needs_a_decision_approved_by_the_judged_day(region: Path, approved: str,
                                                                          passes: bool) -> None:
    """XZ-MAN-CRYPTO-LEVEL accepted a 密码应用方案 decision dated after the scan day ("approved on 2030-01-01")."""
    _edit(region / LICENCE, "    level: 3\n    filing_number:",
          "    level: 3\n    crypto_level: 2\n    crypto_level_decision: {scheme: MMFA-2026-007, reason: 仅内部查询, "
          f"approver: {{name: 张三, role: 密码应用负责人}}, approved: \"{approved}\"}}\n    filing_number:")
    result = _run(region, "e-license", "XZ-MAN-CRYPTO-LEVEL")
    assert (result.status is Status.PASS) is passes, (result.message, result.evidence)

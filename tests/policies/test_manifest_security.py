"""Defect classes of issue 12 end to end: manifest → typed register → manifest facts → rules, with the item
and the location of each finding, and a clean control that stays clean."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance.catalogue import default_standards_dir, load_catalogue
from policies.engine import Facts, RuleResult, Status, evaluate
from policies.registry import get_rule
from xzgov.core.register import check_register, load_register
from xzgov.core.yamlio import load_file
from xzgov.facts.manifest import manifest_facts

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "register" / "fixtures" / "region"
KMS = "systems/dsjj/kms.yaml"
IDP = "systems/dsjj/idp.yaml"


@pytest.fixture
def region(tmp_path: Path) -> Path:
    target = tmp_path / "region"
    shutil.copytree(FIXTURE, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def _facts(root: Path, name: str) -> Facts:
    loaded = check_register(root)
    assert loaded.register is not None, loaded.diagnostics
    document = loaded.documents[name]
    return manifest_facts(loaded.register, loaded.register.systems[name], document, gathered_at="2026-06-01T00:00:00Z")


def _run(rule_id: str, facts: Facts) -> RuleResult:
    result = evaluate(get_rule(rule_id), facts)
    assert result is not None
    return result


def test_rpo_zero_met_by_synchronous_replication(region: Path) -> None:
    # kms declares RPO 0 with backups every 5 minutes: no schedule can meet it ...
    before = _run("XZ-RES-BACKUP-RPO", _facts(region, "kms"))
    assert before.status is Status.FAIL and before.controls == ("GB/T 22239-2019:9.1.4.9.a",)
    # ... synchronous replication does (issue 12: "an RPO of 0 ... can never pass today")
    _edit(region / KMS, "continuity: {rpo_minutes: 0,",
          "continuity: {replication: {mode: synchronous}, rpo_minutes: 0,")
    after = _run("XZ-RES-BACKUP-RPO", _facts(region, "kms"))
    assert after.status is Status.PASS, after.message
    assert after.evidence[0].location == f"{KMS}:{_line(region / KMS, 'synchronous')}"
    # asynchronous replication does not
    _edit(region / KMS, "{mode: synchronous}", "{mode: asynchronous}")
    assert _run("XZ-RES-BACKUP-RPO", _facts(region, "kms")).status is Status.FAIL


def test_retired_system_still_published_is_found_at_its_exposure(region: Path) -> None:
    path = region / IDP
    clean = _run("XZ-MAN-LIFECYCLE", _facts(region, "idp"))
    assert clean.status is Status.NOT_APPLICABLE  # running: not this rule's question
    _edit(path, "lifecycle: {status: running", "lifecycle: {status: retired")
    result = _run("XZ-MAN-LIFECYCLE", _facts(region, "idp"))
    assert result.status is Status.FAIL
    assert result.status_of("GB/T 22239-2019:8.1.3.1.a") is Status.FAIL
    assert f"{IDP}:{_line(path, 'exposure:')}" in {e.location for e in result.evidence}


def test_no_waf_and_no_gateway_fails_the_proxy_rule(region: Path) -> None:
    # the fixture region declares no boundary devices and no gateway system: nothing fronts idp
    result = _run("XZ-MAN-INTERNET-PROXY", _facts(region, "idp"))
    assert result.status is Status.FAIL and result.controls == ("GB/T 22239-2019:8.1.3.1.a",)
    _edit(region / "region.yaml", "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16}}",
          "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16},\n"
          "       boundary_devices: [{id: waf-1, kind: waf, name: WAF}]}")
    assert _run("XZ-MAN-INTERNET-PROXY", _facts(region, "idp")).status is Status.PASS


def test_undeclared_posture_fails_at_the_manifest_not_silently(region: Path) -> None:
    facts = _facts(region, "idp")
    for rule_id in ("XZ-MAN-ADMIN-ROLES", "XZ-MAN-PATCHING", "XZ-MAN-MALWARE-INTRUSION", "XZ-MAN-DATA-RESIDENCY",
                    "XZ-MAN-BACKUP-PROTECTION", "XZ-MAN-BOUNDARY-PROTECTION", "XZ-MAN-BOUNDARY-DETECTION"):
        result = _run(rule_id, facts)
        assert result.status is Status.FAIL, (rule_id, result.status, result.message)
        assert all(e.location.startswith((IDP, "region.yaml")) for e in result.evidence), result.evidence


def test_example_manifests_pass_the_posture_rules() -> None:
    register = load_register(REPO)
    clean = [name for name in register.systems if name not in ("food-safety",)]
    for name in clean:
        system = register.systems[name]
        facts = manifest_facts(register, system, load_file(REPO / system.source, system.source)[0])
        for rule_id in ("XZ-MAN-ADMIN-ACCOUNTS", "XZ-MAN-ADMIN-ROLES", "XZ-MAN-PATCHING", "XZ-MAN-MALWARE-INTRUSION",
                        "XZ-MAN-CENTRAL-MONITORING", "XZ-MAN-DATA-RESIDENCY", "XZ-MAN-KEY-MANAGEMENT",
                        "XZ-MAN-BACKUP-PROTECTION", "XZ-MAN-BOUNDARY-PROTECTION", "XZ-MAN-BOUNDARY-DETECTION"):
            result = _run(rule_id, facts)
            assert result.status in (Status.PASS, Status.NOT_APPLICABLE), (name, rule_id, result.message)


#: Per rule and level, the catalogue titles its items must carry (the item numbering differs between levels).
TITLES = {
    ("XZ-MAN-ADMIN-ROLES", 2): {"系统管理员鉴别与审计", "审计管理员鉴别与审计"},
    ("XZ-MAN-ADMIN-ROLES", 3): {"系统管理员鉴别与审计", "审计管理员鉴别与审计", "安全管理员鉴别与审计"},
    ("XZ-MAN-ADMIN-ROLES", 4): {"系统管理员鉴别与审计", "审计管理员鉴别与审计", "安全管理员鉴别与审计"},
    ("XZ-MAN-PATCHING", 2): {"已知漏洞修补", "漏洞识别与修补"},
    ("XZ-MAN-PATCHING", 4): {"已知漏洞修补", "漏洞识别与修补"},
    ("XZ-MAN-BOUNDARY-PROTECTION", 2): {"网络恶意代码防范"},
    ("XZ-MAN-BOUNDARY-PROTECTION", 3): {"非授权内联检查", "应用协议与内容控制", "防范外部攻击", "网络恶意代码防范",
                                        "垃圾邮件防范"},
    ("XZ-MAN-BACKUP-PROTECTION", 2): {"客户本地备份"},
    ("XZ-MAN-DATA-RESIDENCY", 2): {"数据境内存储"},
    ("XZ-MAN-DATA-RESIDENCY", 4): {"数据境内存储"},
}


@pytest.mark.parametrize(("rule_id", "level"), sorted(TITLES))
def test_rule_items_carry_the_right_titles_at_each_level(rule_id: str, level: int) -> None:
    catalogue = load_catalogue(default_standards_dir())
    titles = {catalogue.item(i).title for i in get_rule(rule_id).controls_for(level)}
    assert TITLES[(rule_id, level)] <= titles, titles
    chapter = f"GB/T 22239-2019:{level + 5}."
    assert all(i.startswith(chapter) for i in get_rule(rule_id).controls_for(level))

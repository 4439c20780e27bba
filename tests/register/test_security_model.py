"""The security posture (``spec.security``), boundary devices (region.yaml), synchronous replication and
justified 密评 exemptions: typed, located when wrong."""

from __future__ import annotations

from pathlib import Path

from tests.register.conftest import REPO, edit, line_of
from xzgov.core.register import check_register, load_register


def test_example_manifest_security_is_typed() -> None:
    register = load_register(REPO)
    system = register.systems["police-bigdata"]
    admin = system.security.administration
    assert {a.role for a in admin.accounts} == {"system", "audit", "security", "operator"}
    assert admin.access_via == "bastion" and admin.review_cadence_days == 90
    assert system.security.operations.anti_malware == "trusted-verification"  # level 4
    assert system.security.data.residency == "境内" and system.security.data.key_storage == "hsm"
    internet = register.region.zones["internet-access"]
    assert {d.kind for d in internet.boundary_devices} >= {"waf", "ips", "anti-ddos", "av-gateway"}
    assert register.systems["food-safety"].security.data.key_storage == "software"  # a documented known gap


def test_absent_security_section_is_an_empty_declaration(region: Path) -> None:
    register = load_register(region)
    sec = register.systems["idp"].security
    assert sec.administration.accounts == () and sec.operations.anti_malware == "" and sec.data.residency == ""


def test_unknown_admin_role_is_located(region: Path) -> None:
    path = region / "systems/dsjj/idp.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "  security:\n    administration:\n      accounts:\n"
                    "        - {account: root, role: superuser, holder: 张工}\n", encoding="utf-8")
    diagnostics = check_register(region).diagnostics
    (problem,) = [d for d in diagnostics if "security" in d.path]
    assert problem.file.endswith("idp.yaml") and problem.line == line_of(path, "superuser")
    assert problem.path == "spec.security.administration.accounts[0].role" and problem.hint


def test_third_party_needs_a_location(region: Path) -> None:
    path = region / "systems/dsjj/idp.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "  security:\n    data:\n      third_party_services:\n"
                    "        - {name: 短信平台, purpose: 通知}\n", encoding="utf-8")
    diagnostics = check_register(region).diagnostics
    (problem,) = [d for d in diagnostics if "third_party_services" in d.path]
    assert problem.line == line_of(path, "短信平台") and "location" in problem.message + problem.hint


def test_boundary_device_kind_is_checked_and_located(region: Path) -> None:
    path = region / "region.yaml"
    edit(path, "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16}}",
         "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16},\n"
         "       boundary_devices: [{id: ia-x, kind: magic-box, name: 未知设备}]}")
    diagnostics = check_register(region).diagnostics
    (problem,) = [d for d in diagnostics if "boundary_devices" in d.path]
    assert problem.file.endswith("region.yaml") and problem.line == line_of(path, "magic-box")
    assert "waf" in problem.hint or "waf" in problem.message


def test_synchronous_replication_and_crypto_exemption_are_typed(region: Path) -> None:
    path = region / "systems/dsjj/idp.yaml"
    text = path.read_text(encoding="utf-8")
    assert "  continuity:\n" in text
    edit(path, "  continuity:\n", "  continuity:\n    replication: {mode: synchronous}\n")
    register = load_register(region)
    assert register.systems["idp"].continuity.replication == "synchronous"
    edit(path, "    replication: {mode: synchronous}\n", "    replication: {mode: eventually}\n")
    (problem,) = check_register(region).diagnostics
    assert problem.path == "spec.continuity.replication.mode" and problem.line == line_of(path, "eventually")


def test_boundary_device_log_server_and_id_are_checked(region: Path) -> None:
    path = region / "region.yaml"
    edit(path, "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16}}",
         "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16},\n"
         "       boundary_devices: [{id: ia-ips, kind: ips, name: IPS, logs_to: log-center},\n"
         "                          {id: ia-ips, kind: waf, name: WAF}]}")
    diagnostics = check_register(region).diagnostics
    reference = next(d for d in diagnostics if d.code == "reference")
    assert reference.line == line_of(path, "log-center") and "log-centre" in reference.hint
    duplicate = next(d for d in diagnostics if d.code == "duplicate")
    assert duplicate.line == line_of(path, "kind: waf") and duplicate.path.endswith("boundary_devices[1].id")


def test_boundary_audit_record_fields_are_typed_and_checked(region: Path) -> None:
    """``record_fields`` (what each audit record carries, 8.1.3.5.b) reaches the model; an unknown field is
    located, with the nearest allowed one as the fix."""
    path = region / "region.yaml"
    edit(path, "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16}}",
         "kind: internet-access, cidrs: {lhasa: 10.64.0.0/16, dr: 10.164.0.0/16},\n"
         "       boundary_devices: [{id: ia-audit, kind: network-audit, name: 网络审计, logs_to: log-centre,\n"
         "                           record_fields: [timestamp, user, event_type, outcome]}]}")
    (device,) = load_register(region).region.zones["internet-access"].boundary_devices
    assert device.record_fields == ("timestamp", "user", "event_type", "outcome")
    edit(path, "record_fields: [timestamp, user, event_type, outcome]", "record_fields: [timestamp, username]")
    (problem,) = [d for d in check_register(region).diagnostics if "record_fields" in d.path]
    assert problem.file.endswith("region.yaml") and problem.line == line_of(path, "username")
    assert "'username'" in problem.message and "'user'" in problem.hint

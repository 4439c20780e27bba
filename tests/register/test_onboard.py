"""Onboarding is all or nothing: an invalid manifest or a failure mid-write changes no byte."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from tests.register.conftest import edit

NEW = """apiVersion: xzgov.io/v1
kind: System
metadata: {name: permit, department: gat, title: 出入境证件系统}
spec:
  owner: {department: gat, role: 系统负责人, contact: permit@gat.xizang.gov.cn}
  tier: 自治区
  classification: {level: 3, filing_number: "54010013001-23009", data_class: 重要数据, personal_information: true}
  placement: {zone: department, site: lhasa}
  exposure: {internet_facing: false}
  hosts:
    - {hostname: permit-01, address: 10.67.9.10, os: {family: debian, version: "12"}, purpose: 应用}
  flows:
    - {to: {service: identity}, protocol: tcp, port: 443, purpose: 统一身份认证}
  services: [identity]
  continuity: {rpo_minutes: 60, rto_minutes: 240, backup: {schedule: "0 * * * *"}}
  crypto: {}
  authentication: {factors: [password, ukey]}
  audit: {destination: log-centre}
  lifecycle: {status: planned, change_ticket: CHG-2025-0201, requested_by: 出入境管理局}
"""


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def prepared(region: Path, cli: Callable[..., CliResult], tmp_path: Path) -> tuple[Path, Path]:
    assert cli("inventory", "--root", str(region))[0] == 0
    candidate = tmp_path / "permit.yaml"
    candidate.write_text(NEW, encoding="utf-8")
    return region, candidate


def test_onboard_files_manifest_and_regenerates_inventories(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult]
) -> None:
    region, candidate = prepared
    before = (region / "inventories/lhasa/hosts.yml").read_text(encoding="utf-8")
    code, out, _ = cli("onboard", str(candidate), "--root", str(region))
    assert code == 0, out
    assert (region / "systems/gat/permit.yaml").read_text(encoding="utf-8") == NEW
    after = (region / "inventories/lhasa/hosts.yml").read_text(encoding="utf-8")
    assert "permit-01" not in before and "permit-01:" in after
    # the identity provider now also allows the inbound flow from permit
    assert "system:permit" in after
    assert cli("inventory", "--root", str(region), "--check")[0] == 0


def test_onboard_invalid_writes_nothing(prepared: tuple[Path, Path], cli: Callable[..., CliResult]) -> None:
    region, candidate = prepared
    edit(candidate, "address: 10.67.9.10", "address: 10.66.1.11")  # taken by idp-db01, wrong zone
    before = snapshot(region)
    code, _, err = cli("onboard", str(candidate), "--root", str(region))
    assert code == 1
    assert "permit.yaml:11:" in err and "nothing was written" in err
    assert snapshot(region) == before


# Onboarding `permit` writes two files (its manifest and the lhasa inventory): fail the first or the
# second rename, or the sync of the first or second temporary file.
@pytest.mark.parametrize(("call", "failing_call"), [("replace", 1), ("replace", 2), ("fsync", 1), ("fsync", 2)])
def test_failure_mid_write_leaves_everything_byte_identical(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch,
    call: str, failing_call: int,
) -> None:
    region, candidate = prepared
    before = snapshot(region)
    real = getattr(os, call)
    calls = {"n": 0}

    def flaky(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError(28, "No space left on device")
        return real(*args)

    monkeypatch.setattr(os, call, flaky)
    code, _, err = cli("onboard", str(candidate), "--root", str(region))
    monkeypatch.undo()
    assert code == 3 and "No space left on device" in err
    assert snapshot(region) == before
    assert not [p for p in region.rglob("*.tmp")]
    assert not (region / "systems/gat/permit.yaml").exists()


def test_onboard_update_of_existing_system(region: Path, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    updated = tmp_path / "idp.yaml"
    updated.write_text((region / "systems/dsjj/idp.yaml").read_text(encoding="utf-8").replace(
        "rto_minutes: 120", "rto_minutes: 60"), encoding="utf-8")
    code, _, _ = cli("onboard", str(updated), "--root", str(region))
    assert code == 0
    assert "rto_minutes: 60" in (region / "systems/dsjj/idp.yaml").read_text(encoding="utf-8")

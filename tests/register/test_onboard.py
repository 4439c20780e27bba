"""Onboarding is all or nothing: an invalid manifest or a failure mid-write changes no byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import CliResult
from tests.register.conftest import edit
from xzgov.core.transaction import LOCK_FILE

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
    - {hostname: permit-01, address: 10.67.9.10, os: {family: debian, version: "12"}, purpose: 应用, data: none}
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
    """Every file's bytes (the register lock file aside: it is created empty and kept, by design)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != LOCK_FILE}


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
    # permit's firewall sends to identity; idp's database host declares no port the flow lands on, so it admits
    # nothing from permit (the port model: XZ-MAN-INBOUND-PORTS names the unserved flow)
    assert "peer: service:identity" in after and "system:permit" not in after
    assert cli("inventory", "--root", str(region), "--check")[0] == 0


def test_onboard_invalid_writes_nothing(prepared: tuple[Path, Path], cli: Callable[..., CliResult]) -> None:
    region, candidate = prepared
    edit(candidate, "address: 10.67.9.10", "address: 10.66.1.11")  # taken by idp-db01, wrong zone
    before = snapshot(region)
    code, _, err = cli("onboard", str(candidate), "--root", str(region))
    assert code == 1
    assert "permit.yaml:11:" in err and "nothing was written" in err
    assert snapshot(region) == before


def _in(region: Path, call: str, args: tuple[object, ...], kwargs: dict[str, object]) -> bool:
    """Whether an os.replace / os.fsync call acts inside ``region`` (not on onboard's private copy)."""
    fd = kwargs.get("dst_dir_fd") if call == "replace" else args[0]
    where = os.readlink(f"/proc/self/fd/{fd}") if isinstance(fd, int) else os.path.abspath(str(args[1]))
    return where.startswith(str(region.resolve()))


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

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += _in(region, call, args, kwargs)
        if calls["n"] == failing_call and _in(region, call, args, kwargs):
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

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
    code, out, _ = cli("onboard", str(updated), "--root", str(region))
    assert code == 0
    assert "rto_minutes: 60" in (region / "systems/dsjj/idp.yaml").read_text(encoding="utf-8")
    # said as what it is: the registered system of that name is replaced (two drafts from one template share a
    # name, and the second replaced the first with a plain "onboarded")
    assert out.startswith("updated idp") and "replaces the registered manifest of idp" in out
    code, out, _ = cli("onboard", str(updated), "--root", str(region), "--format", "json")
    assert code == 0 and json.loads(out)["updated"] is True


def test_onboard_json_says_the_errors_on_stdout(region: Path, cli: Callable[..., CliResult], tmp_path: Path) -> None:
    """``--format json`` printed nothing on stdout when the manifest was refused: a pipeline had to parse the
    human-readable stderr. The errors are on stdout as ``validate --format json`` prints them (exit 1)."""
    draft = tmp_path / "permit.yaml"
    draft.write_text(NEW.replace("level: 3", "level: 7"), encoding="utf-8")
    before = snapshot(region)
    code, out, err = cli("onboard", str(draft), "--root", str(region), "--format", "json")
    said = json.loads(out)
    assert code == 1 and said["onboarded"] is None and said["written"] == []
    assert [e["path"] for e in said["errors"]] == ["spec.classification.level"] and said["errors"][0]["line"] == 7
    assert said["errors"][0]["file"] == str(draft) and "not onboarded" in err
    assert snapshot(region) == before


def test_onboard_json_says_usage_and_write_errors_on_stdout_too(region: Path, cli: Callable[..., CliResult],
                                                                tmp_path: Path) -> None:
    """A missing draft (exit 2) and an inventory that cannot be written (exit 2 or 3) printed nothing on stdout,
    though the README says JSON on stdout either way; the register is left as it was."""
    code, out, err = cli("onboard", str(tmp_path / "nowhere.yaml"), "--root", str(region), "--format", "json")
    said = json.loads(out)
    assert code == 2 and said == {"onboarded": None, "written": [], "errors": said["errors"]} and said["errors"]
    assert "nowhere.yaml" in json.dumps(said["errors"]) and err
    draft = tmp_path / "permit.yaml"
    draft.write_text(NEW, encoding="utf-8")
    region_doc = yaml.safe_load((region / "region.yaml").read_text(encoding="utf-8"))
    sites = [site["id"] for site in region_doc["spec"]["sites"]]
    for site in sites:  # a folder where each site's inventory goes: the write fails
        (region / "inventories" / site / "hosts.yml").mkdir(parents=True)
        (region / "inventories" / site / "hosts.yml" / "keep").write_text("x", encoding="utf-8")
    before = snapshot(region)
    code, out, err = cli("onboard", str(draft), "--root", str(region), "--format", "json")
    said = json.loads(out)
    assert code in (2, 3) and said["onboarded"] is None and said["errors"], (code, out, err)
    assert snapshot(region) == before


# ------------------------------------------------------------------ adversarial review: onboarding

OTHER = NEW.replace("name: permit,", "name: visa,").replace("permit-01", "visa-01").replace(
    "10.67.9.10", "10.67.9.11").replace("permit@", "visa@").replace("-23009", "-23010")  # its own 备案编号

#: Runs xzgov in a real process whose validation takes a second longer, so that two onboardings
#: started together both validate before either writes (the race the register lock closes).
SLOW_XZGOV = """
import sys, time
import xzgov.cli.register_cmds as commands
real = commands.check_register
def slow(*args, **kwargs):
    result = real(*args, **kwargs)
    time.sleep(1.0)
    return result
commands.check_register = slow
from xzgov.cli.main import run
run(sys.argv[1:])
"""


def _onboard_together(region: Path, manifests: list[Path]) -> list[subprocess.CompletedProcess[str]]:
    processes = [subprocess.Popen([sys.executable, "-c", SLOW_XZGOV, "onboard", str(m), "--root", str(region)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for m in manifests]
    results = []
    for process, manifest in zip(processes, manifests, strict=True):
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess([str(manifest)], process.returncode, out, err))
    return results


def test_concurrent_onboardings_are_serialised(prepared: tuple[Path, Path], cli: Callable[..., CliResult]) -> None:
    """Finding 3b: two onboardings at once both exited 0 and one system's hosts vanished from the inventory."""
    region, candidate = prepared
    other = candidate.with_name("visa.yaml")
    other.write_text(OTHER, encoding="utf-8")
    results = _onboard_together(region, [candidate, other])
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    hosts = (region / "inventories/lhasa/hosts.yml").read_text(encoding="utf-8")
    assert "permit-01:" in hosts and "visa-01:" in hosts
    assert cli("inventory", "--root", str(region), "--check").code == 0
    assert cli("validate", "--root", str(region)).code == 0


def test_concurrent_onboardings_with_the_same_address_admit_one(prepared: tuple[Path, Path]) -> None:
    """Finding 3b: two manifests with the same address both onboarded, leaving an invalid register."""
    region, candidate = prepared
    clash = candidate.with_name("visa.yaml")
    clash.write_text(OTHER.replace("10.67.9.11", "10.67.9.10"), encoding="utf-8")
    results = _onboard_together(region, [candidate, clash])
    assert sorted(r.returncode for r in results) == [0, 1], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode == 1)
    assert "10.67.9.10" in loser.stderr and "nothing was written" in loser.stderr
    assert sorted(p.name for p in (region / "systems/gat").iterdir()) in (
        ["case-app.yaml", "permit.yaml"], ["case-app.yaml", "visa.yaml"])


def test_onboard_files_exactly_the_validated_bytes(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 3a (TOCTOU): the manifest was validated, then read again and the second read filed."""
    region, candidate = prepared
    import xzgov.cli.register_cmds as commands

    real = commands.check_register

    def then_swap(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        candidate.write_text(NEW.replace("10.67.9.10", "10.66.1.11"), encoding="utf-8")  # invalid, unvalidated
        return result

    monkeypatch.setattr(commands, "check_register", then_swap)
    assert cli("onboard", str(candidate), "--root", str(region)).code == 0
    assert (region / "systems/gat/permit.yaml").read_text(encoding="utf-8") == NEW


def test_update_of_a_system_filed_under_another_name_updates_that_file(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult]
) -> None:
    """Finding 3c: the existing file was looked up as <name>.yaml, so an update created a duplicate."""
    region, candidate = prepared
    (region / "systems/gat/permit-2023.yaml").write_text(NEW, encoding="utf-8")
    candidate.write_text(NEW.replace("rpo_minutes: 60", "rpo_minutes: 30"), encoding="utf-8")
    result = cli("onboard", str(candidate), "--root", str(region))
    assert result.code == 0, result.text
    assert sorted(p.name for p in (region / "systems/gat").iterdir()) == ["case-app.yaml", "permit-2023.yaml"]
    assert "rpo_minutes: 30" in (region / "systems/gat/permit-2023.yaml").read_text(encoding="utf-8")
    assert cli("validate", "--root", str(region)).code == 0


def test_department_move_is_refused_whatever_the_file_is_called(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult]
) -> None:
    """Finding 3c: a system filed as systems/gat/other-name.yaml could be moved to another department."""
    region, candidate = prepared
    (region / "systems/gat/permit-2023.yaml").write_text(NEW, encoding="utf-8")
    moved = NEW.replace("department: gat, title", "department: dsjj, title")
    candidate.write_text(moved, encoding="utf-8")
    before = snapshot(region)
    result = cli("onboard", str(candidate), "--root", str(region))
    assert result.code == 1 and "under department 'gat'" in result.err and "metadata.department" in result.err
    assert snapshot(region) == before
    # validate judges the move as onboard does, located at the candidate's department line (it passed)
    line = next(n for n, text in enumerate(moved.splitlines(), 1) if "department: dsjj" in text)
    checked = cli("validate", str(candidate), "--root", str(region))
    assert checked.code == 1 and f"{candidate.name}:{line}:" in checked.err and "[metadata.department]" in checked.err
    assert "change of ownership" in checked.err and "systems/gat/permit-2023.yaml" in checked.err


@pytest.mark.parametrize("from_copy", [False, True])
def test_a_misfiled_manifest_is_not_onboarded_back_where_the_register_refuses_it(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult], from_copy: bool
) -> None:
    """A manifest of department gat placed in systems/dsjj/ is invalid; onboarding it (or an edited copy of it)
    validated the private copy outside systems/, replaced the misfiled one with it, exited 0 and filed it back in
    systems/dsjj/: the register stayed invalid."""
    region, candidate = prepared
    misfiled = region / "systems/dsjj/permit.yaml"
    misfiled.write_text(NEW, encoding="utf-8")
    assert cli("validate", "--root", str(region)).code == 1
    if from_copy:
        candidate.write_text(NEW.replace("title: 出入境证件系统", "title: 出入境证件系统 (二期)"), encoding="utf-8")
    given = candidate if from_copy else misfiled
    before = snapshot(region)
    result = cli("onboard", str(given), "--root", str(region))
    assert result.code == 1 and "[metadata.department]" in result.err, result.text
    assert "filed as systems/dsjj/permit.yaml (department 'dsjj')" in result.err
    assert snapshot(region) == before
    checked = cli("validate", str(given), "--root", str(region))
    assert checked.code == 1 and "change of ownership" in checked.err


def test_new_system_never_overwrites_a_file_holding_another(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult]
) -> None:
    region, candidate = prepared
    (region / "systems/gat/permit.yaml").write_text(OTHER, encoding="utf-8")  # holds `visa`
    before = snapshot(region)
    result = cli("onboard", str(candidate), "--root", str(region))
    assert result.code == 1 and "already holds another system" in result.err
    assert snapshot(region) == before


def test_symlinked_department_directory_is_refused_everywhere(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """Finding 3d: validation silently skipped a linked systems/<dept>/ that onboarding wrote through."""
    region, candidate = prepared
    elsewhere = tmp_path / "elsewhere"
    (region / "systems/gat").rename(elsewhere)
    (region / "systems/gat").symlink_to(elsewhere, target_is_directory=True)
    validated = cli("validate", "--root", str(region))
    assert validated.code == 2 and "systems/gat" in validated.err and "symbolic link" in validated.err
    before = snapshot(region)
    onboarded = cli("onboard", str(candidate), "--root", str(region))
    assert onboarded.code == 2 and "systems/gat" in onboarded.err and "symbolic link" in onboarded.err
    assert [p.name for p in elsewhere.iterdir()] == ["case-app.yaml"] and snapshot(region) == before


def test_values_vaulted_in_a_draft_are_rebound_when_filed(
    region: Path, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    from xzgov.crypto import vault

    (region / ".git").mkdir()  # the register is a repository: a filed manifest's scope is its path in it
    key = vault.VaultKey.generate()
    key_file = vault.write_vault_key(tmp_path / "vault.key", key)
    draft = tmp_path / "draft-permit.yaml"  # outside the register: values are bound to the file name
    draft.write_text(NEW + "  secrets:\n    db_password: Sbjb#2025-db-rotate\n", encoding="utf-8")
    sealed, count = vault.encrypt_text(draft.read_text(encoding="utf-8"), key, ["spec.secrets.db_password"],
                                       source=str(draft))
    assert count == 1
    draft.write_text(sealed, encoding="utf-8")
    assert cli("inventory", "--root", str(region))[0] == 0
    before = snapshot(region)

    refused = cli("onboard", str(draft), "--root", str(region))
    assert refused.code == 2 and "--vault-key-file" in refused.err and "draft-permit.yaml" in refused.err
    assert snapshot(region) == before  # nothing written

    other = vault.write_vault_key(tmp_path / "other.key", vault.VaultKey.generate())
    wrong = cli("onboard", str(draft), "--root", str(region), "--vault-key-file", str(other))
    assert wrong.code == 1 and "--key-file" in wrong.err and snapshot(region) == before, wrong.text
    # the hint names --key-file (as the vault commands call it): onboard takes it too
    done = cli("onboard", str(draft), "--root", str(region), "--key-file", str(key_file))
    assert done.code == 0, done.text
    filed = region / "systems" / "gat" / "permit.yaml"
    plain, decrypted = vault.decrypt_text(filed.read_text(encoding="utf-8"), key, source=str(filed))
    assert decrypted == 1 and 'db_password: "Sbjb#2025-db-rotate"' in plain
    assert "Sbjb#2025" not in filed.read_text(encoding="utf-8") and "Sbjb#2025" not in done.text


def test_an_edited_copy_of_a_filed_manifest_keeps_its_filed_vaulted_values(
    region: Path, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """Updating a system from a copy edited outside the register: its vaulted values are the filed ones, bound to
    the filed path already. Onboarding tried to re-bind them from the copy's name: refused without a key ("would
    not decrypt"), and with the right key ("fails authentication", advising `vault rescope`)."""
    from xzgov.crypto import vault

    (region / ".git").mkdir()
    key = vault.VaultKey.generate()
    key_file = vault.write_vault_key(tmp_path / "vault.key", key)
    draft = tmp_path / "draft-permit.yaml"
    draft.write_text(NEW + "  secrets:\n    db_password: Sbjb#2025-db-rotate\n", encoding="utf-8")
    sealed, _ = vault.encrypt_text(draft.read_text(encoding="utf-8"), key, ["spec.secrets.db_password"],
                                   source=str(draft))
    draft.write_text(sealed, encoding="utf-8")
    assert cli("inventory", "--root", str(region))[0] == 0
    assert cli("onboard", str(draft), "--root", str(region), "--key-file", str(key_file)).code == 0
    filed = region / "systems" / "gat" / "permit.yaml"
    envelope = next(line for line in filed.read_text(encoding="utf-8").splitlines() if "db_password" in line)
    copy = tmp_path / "edit" / "permit-edit.yaml"
    copy.parent.mkdir()
    copy.write_text(filed.read_text(encoding="utf-8").replace("title: 出入境证件系统", "title: 出入境证件系统 (二期)"),
                    encoding="utf-8")
    for key_args in ([], ["--key-file", str(key_file)]):
        done = cli("onboard", str(copy), "--root", str(region), *key_args)
        assert done.code == 0, done.text
        text = filed.read_text(encoding="utf-8")
        assert "(二期)" in text and envelope in text  # the filed envelope as it was
        plain, decrypted = vault.decrypt_text(text, key, source=str(filed))
        assert decrypted == 1 and "Sbjb#2025-db-rotate" in plain
    # a value vaulted anew in the copy still needs re-binding, and the key
    resealed, _ = vault.encrypt_text(copy.read_text(encoding="utf-8").replace(envelope.split(": ", 1)[1],
                                                                              "new-Secret-2026"),
                                     key, ["spec.secrets.db_password"], source=str(copy))
    copy.write_text(resealed, encoding="utf-8")
    refused = cli("onboard", str(copy), "--root", str(region))
    assert refused.code == 2 and "--vault-key-file" in refused.err
    assert cli("onboard", str(copy), "--root", str(region), "--key-file", str(key_file)).code == 0
    plain, _ = vault.decrypt_text(filed.read_text(encoding="utf-8"), key, source=str(filed))
    assert "new-Secret-2026" in plain


def test_onboard_writes_the_inventory_a_plain_load_writes(prepared: tuple[Path, Path],
                                                          cli: Callable[..., CliResult]) -> None:
    """The draft is loaded after the filed manifests, but is filed where it sorts first: the receivers' reached-by
    lists followed the load order, and `xzgov inventory --check` called the inventory just written stale."""
    region, candidate = prepared
    # kms-01 serves 8443 (the fixture), which case-app already calls: a second caller that sorts first
    assert cli("inventory", "--root", str(region))[0] == 0
    candidate.write_text(NEW.replace("name: permit, department: gat", "name: aaa-permit, department: dsjj")
                         .replace("owner: {department: gat", "owner: {department: dsjj")
                         .replace("  services: [identity]", "    - {to: {system: kms}, protocol: tcp, port: 8443, "
                                  "purpose: 加密}\n  services: [identity]"), encoding="utf-8")
    code, out, _ = cli("onboard", str(candidate), "--root", str(region))
    assert code == 0, out
    assert (region / "systems/dsjj/aaa-permit.yaml").is_file()
    assert cli("inventory", "--root", str(region), "--check")[0] == 0


def test_a_directory_where_the_system_is_filed_is_named(prepared: tuple[Path, Path],
                                                        cli: Callable[..., CliResult]) -> None:
    """It was reported as a file holding another system, to be renamed. A folder named like a manifest is refused
    wherever the register is read (exit 2, as a FIFO there: validate skipped it and said "valid")."""
    region, candidate = prepared
    (region / "systems/gat/permit.yaml").mkdir()
    before = snapshot(region)
    code, out, err = cli("onboard", str(candidate), "--root", str(region))
    assert code == 2 and "systems/gat/permit.yaml" in err and "a folder, not a manifest file" in err
    assert "holds another system" not in out + err
    assert snapshot(region) == before


def test_a_symbolic_link_is_refused_as_validate_refuses_it(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult]
) -> None:
    """validate refused a linked manifest (exit 2) while onboard read through the link and filed its target."""
    region, candidate = prepared
    link = candidate.with_name("link.yaml")
    link.symlink_to(candidate)
    before = snapshot(region)
    checked = cli("validate", str(link), "--root", str(region))
    onboarded = cli("onboard", str(link), "--root", str(region))
    assert checked.code == onboarded.code == 2, onboarded.text
    assert "symbolic link" in onboarded.err and "link.yaml" in onboarded.err
    assert snapshot(region) == before


@pytest.mark.parametrize(("old", "new"), [
    ("title: 出入境证件系统", "title: 2026-13-45"),  # a date to a YAML 1.1 reader, and no valid one
    ("title: 出入境证件系统", "title: 2026-02-30"),
    ("metadata: {name: permit,", "metadata: {labels: {x: =}, name: permit,"),  # '=' is a value tag in YAML 1.1
])
def test_a_draft_validate_accepts_onboards_from_outside_the_repository(
    prepared: tuple[Path, Path], cli: Callable[..., CliResult], old: str, new: str
) -> None:
    """The draft was read again by a YAML 1.1 reader to look for vaulted values: strings it takes for dates
    or tags made onboarding fail with 'a defect in xzgov' (exit 3) on a manifest validate had accepted."""
    region, candidate = prepared
    edit(candidate, old, new)
    assert cli("validate", str(candidate), "--root", str(region)).code == 0
    code, out, err = cli("onboard", str(candidate), "--root", str(region))
    assert code == 0, out + err
    assert (region / "systems/gat/permit.yaml").read_text(encoding="utf-8") == candidate.read_text(encoding="utf-8")


def _unprivileged() -> list[str]:
    """A command prefix under which file permissions hold (root's DAC override dropped), as for an operator."""
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def test_a_folder_that_cannot_be_listed_is_refused_not_skipped(prepared: tuple[Path, Path]) -> None:
    """A review: a department folder under systems/ that cannot be listed was skipped in silence — validate said
    "valid" without its systems, and onboard rewrote the inventories without their hosts."""
    region, candidate = prepared
    inventories = {path: path.read_bytes() for path in (region / "inventories").rglob("*") if path.is_file()}
    hidden = next(path for path in sorted((region / "systems").iterdir()) if path.is_dir())
    hidden.chmod(0)
    try:
        for args in (["validate", "--root", str(region)], ["onboard", str(candidate), "--root", str(region)],
                     ["inventory", "--root", str(region)]):
            run = subprocess.run([*_unprivileged(), sys.executable, "-m", "xzgov", *args], capture_output=True,
                                 text=True, timeout=120, check=False)
            assert run.returncode == 2, (args, run.stdout, run.stderr)
            assert str(hidden) in run.stderr and "cannot list the folder" in run.stderr, run.stderr
            assert "Traceback" not in run.stderr
    finally:
        hidden.chmod(0o755)
    assert {path: path.read_bytes() for path in (region / "inventories").rglob("*") if path.is_file()} == inventories
    assert not (region / "systems" / "gat" / "permit.yaml").exists()

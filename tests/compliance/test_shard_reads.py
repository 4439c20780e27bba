"""A scan shard's digests name the bytes it read, not the files as they are when it digests them.

A shard's part records the SM3 of its register and of its other inputs (waivers, catalogue, thresholds), and
``xzgov scan merge`` refuses parts that differ. Digested after loading, a file edited while the shard ran was
recorded with content the shard never used: two shards judged from different waivers could agree. These tests
edit, delete or swap inputs in the middle of a scan (after they were read) and check the recorded digests.
The last test checks the other per-process memo of a scan's inputs (the high-risk case table) the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import compliance.merge as merge
import compliance.scanner as scanner
from compliance.merge import load_part, merge_register, part_bytes
from compliance.reports import PART_NAME, publish_reports
from compliance.results import ScanResult
from compliance.scan.context import scan_inputs
from compliance.scan.shard import Shard, files_digest, recording, register_digest
from compliance.scanner import ScanOptions, scan
from xzgov.core import reads
from xzgov.core.errors import ExitCode, UsageError, XzgovError
from xzgov.core.register import load_register
from xzgov.core.yamlio import read_text
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey
from xzgov.crypto.sm3 import sm3_hex

WAIVER = """apiVersion: xzgov.io/v1
kind: Waivers
waivers:
  - {id: W-MFA, system: bad-mfa, rule: XZ-MAN-AUTH-MFA, reason: "堡垒机二次认证为补偿措施, 本期内整改",
     approver: {name: 赵六, role: 安全负责人}, approved: "2026-01-01", expires: "2026-12-31"}
"""
MANIFEST = "systems/fx/clean-l2.yaml"


@pytest.fixture
def with_waiver(register_root: Path) -> Path:
    directory = register_root / "compliance" / "waivers"
    directory.mkdir(parents=True)
    (directory / "w.yaml").write_text(WAIVER, encoding="utf-8")
    (register_root / "compliance" / "config.yaml").write_text("thresholds: {}\n", encoding="utf-8")
    return register_root


@pytest.fixture
def mid_scan(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """``mid_scan(change)`` runs ``change`` once the scan has loaded its inputs and before it judges them."""
    def install(change: Callable[[], None]) -> None:
        judge = scanner.manifest_results

        def judged_after_change(*args: Any, **kwargs: Any) -> Any:
            change()
            return judge(*args, **kwargs)

        monkeypatch.setattr(scanner, "manifest_results", judged_after_change)

    return install


def _waived(result: ScanResult) -> bool:
    return any(f.waiver == "W-MFA" for system in result.systems for f in system.findings)


def test_inputs_edited_during_a_shard_are_recorded_as_read(with_waiver: Path,
                                                           mid_scan: Callable[[Callable[[], None]], None]) -> None:
    root = with_waiver
    options = ScanOptions(root=root, shard=Shard(1, 1))
    before = scan_inputs(options)
    register_before = register_digest(load_register(root))
    waiver, config, manifest = (root / "compliance" / "waivers" / "w.yaml", root / "compliance" / "config.yaml",
                                root / MANIFEST)

    def edit() -> None:
        waiver.write_text(WAIVER.replace("W-MFA", "W-OTHER"), encoding="utf-8")
        config.write_text("thresholds: {min_log_retention_days: 1}\n", encoding="utf-8")
        manifest.write_text(manifest.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")

    mid_scan(edit)
    result = scan(options)
    assert _waived(result)  # the scan judged with the waiver as it was read
    assert dict(result.inputs) == before
    assert result.register_digest == register_before
    now = scan_inputs(options)  # the files did change: digested now, they differ
    assert now["waivers"] != before["waivers"] and now["config"] != before["config"]
    assert register_digest(load_register(root)) != register_before


def test_a_waiver_deleted_during_a_shard_still_counts(with_waiver: Path,
                                                      mid_scan: Callable[[Callable[[], None]], None]) -> None:
    root = with_waiver
    options = ScanOptions(root=root, shard=Shard(1, 1))
    before = scan_inputs(options)
    waiver = root / "compliance" / "waivers" / "w.yaml"
    mid_scan(lambda: waiver.unlink())
    result = scan(options)
    assert _waived(result)
    assert result.inputs["waivers"] == before["waivers"] != "-"
    assert scan_inputs(options)["waivers"] == "-"


def test_a_part_records_the_register_as_loaded(with_waiver: Path, mid_scan: Callable[[Callable[[], None]], None],
                                               tmp_path: Path) -> None:
    root = with_waiver
    before = register_digest(load_register(root))
    manifest = root / MANIFEST
    mid_scan(lambda: manifest.write_text(manifest.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8"))
    shard = Shard(1, 1)
    result = scan(ScanOptions(root=root, shard=shard))
    key = SM2PrivateKey.generate()
    publish_reports(result, tmp_path / "part", [], key, {PART_NAME: part_bytes(result, shard)})
    part = load_part(tmp_path / "part", [keys.fingerprint(key.public_key)])
    assert part.data["register"]["digest"] == before


def test_the_merge_checks_the_register_it_loaded(register_root: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The register the merge loads is the one it checks: a manifest swapped for the load and put back after
    it is refused (digesting the files after the load named the restored file, and the merge went on with the
    swapped one)."""
    shard = Shard(1, 1)
    result = scan(ScanOptions(root=register_root, shard=shard))
    key = SM2PrivateKey.generate()
    publish_reports(result, tmp_path / "part", [], key, {PART_NAME: part_bytes(result, shard)})
    parts = [load_part(tmp_path / "part", [keys.fingerprint(key.public_key)])]
    register, _ = merge_register(parts, register_root)  # the register as scanned merges
    assert result.register is not None and register.systems.keys() == result.register.systems.keys()

    manifest = register_root / MANIFEST
    original = manifest.read_text(encoding="utf-8")
    load = merge.load_register

    def swapped_for_the_load(where: Path) -> Any:
        manifest.write_text(original + "# swapped\n", encoding="utf-8")
        try:
            return load(where)
        finally:
            manifest.write_text(original, encoding="utf-8")

    monkeypatch.setattr(merge, "load_register", swapped_for_the_load)
    with pytest.raises(XzgovError) as refused:
        merge_register(parts, register_root)
    assert refused.value.exit_code is ExitCode.USAGE
    assert "is not the one the parts scanned" in refused.value.message


def test_a_file_read_twice_with_different_content_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "w.yaml"
    file.write_text("a: 1\n", encoding="utf-8")
    with recording() as read:
        read_text(file)
        read_text(file)  # the same bytes: one digest
        assert read.get(file) == sm3_hex(b"a: 1\n")
        file.write_text("a: 2\n", encoding="utf-8")
        read_text(file)
    assert read.get(file) == reads.CHANGED
    with pytest.raises(UsageError) as refused:
        files_digest(tmp_path, [file], "waivers", read)
    assert refused.value.exit_code is ExitCode.USAGE
    assert [(d.file, d.path, d.code) for d in refused.value.diagnostics] == [(str(file), "inputs.waivers",
                                                                              "changed")]


def test_a_cached_load_counts_as_read_each_time(tmp_path: Path) -> None:
    """A load kept in a process-wide cache (a schema) reads nothing the second time: its first reads are
    replayed into the recording active then, so a shard's digest names it whichever scan loaded it first."""
    file = tmp_path / "s.json"
    file.write_bytes(b"{}")
    calls: list[Path] = []

    @reads.cached_reads
    def load(path: Path) -> bytes:
        calls.append(path)
        return reads.read_bytes(path)

    with recording() as first:
        assert load(file) == b"{}"
    file.write_bytes(b"{\"x\": 1}")  # not read again: the cached value is what a later scan uses
    with recording() as second:
        assert load(file) == b"{}"
    assert calls == [file]
    assert first.get(file) == second.get(file) == sm3_hex(b"{}")
    with recording() as outside:
        pass
    assert outside.get(file) is None


def test_each_scan_checks_the_high_risk_table_against_its_own_catalogue(
        register_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is checked once per scan (it was memoised per process by the catalogue's ``id``, which a later
    scan's catalogue may reuse): a scan with a catalogue the table disagrees with says so every time, a scan
    with the packaged catalogue never — also when every catalogue lands at the same address."""
    import shutil

    import compliance.scan.dengbao as dengbao

    monkeypatch.setattr(dengbao, "id", lambda _: 1, raising=False)  # as if each catalogue reused the last one's

    standards = tmp_path / "standards"
    shutil.copytree(Path(__file__).resolve().parents[2] / "standards", standards,
                    ignore=shutil.ignore_patterns("__pycache__"))
    level3 = standards / "gbt22239-2019" / "level3-general.yaml"
    text = level3.read_text(encoding="utf-8")
    start = text.index("id: GB/T 22239-2019:8.1.10.6.a")
    flag = text.index("high_risk: false", start)
    level3.write_text(text[:flag] + "high_risk: true" + text[flag + len("high_risk: false"):], encoding="utf-8")

    def warned(result: ScanResult) -> bool:
        return any("high-risk case table not used" in w for w in result.warnings)

    for _ in range(2):
        assert warned(scan(ScanOptions(root=register_root, standards_dir=standards)))
        assert not warned(scan(ScanOptions(root=register_root)))


def test_the_high_risk_cases_come_from_the_scans_standards_directory(register_root: Path, tmp_path: Path) -> None:
    """Catalogue and scoring came from ``--standards-dir`` (or the register's own ``standards/``), the high-risk
    case table from the installed one: a site's edited table was digested for the merge and never used."""
    import shutil

    standards = tmp_path / "standards"
    shutil.copytree(Path(__file__).resolve().parents[2] / "standards", standards,
                    ignore=shutil.ignore_patterns("__pycache__"))
    table = standards / "high-risk-2025.yaml"
    table.write_text("cases: not a list\n", encoding="utf-8")

    def warnings(result: ScanResult) -> list[str]:
        return [w for w in result.warnings if "high-risk case table not used" in w]

    assert warnings(scan(ScanOptions(root=register_root, standards_dir=standards))), "its own table is read"
    assert warnings(scan(ScanOptions(root=register_root))) == []
    table.unlink()  # a copy without the table judges with the installed one, as for the 密评 weight table
    assert warnings(scan(ScanOptions(root=register_root, standards_dir=standards))) == []


@pytest.mark.parametrize(("name", "text"), [
    ("extra.ini", "[extra]\nrogue01 ansible_host=192.0.2.1 xzgov_system=clean-l3 xzgov_site=lhasa\n"),
    ("host_vars/web01.json", '{"ansible_port": 2222}\n'),
    ("group_vars/all", "ansible_user: someone\n"),
])
def test_every_inventory_file_ansible_reads_is_in_the_live_digest(tmp_path: Path, name: str, text: str) -> None:
    """Only *.yaml/*.yml were digested while Ansible also reads INI and extensionless inventories and JSON or
    extensionless host_vars/group_vars: parts scanned with different hosts merged into one signed report."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text("all:\n  hosts: {}\n", encoding="utf-8")
    options = ScanOptions(root=tmp_path, live=True, inventory=inventory)
    before = scan_inputs(options)["inventory"]
    (inventory / name).parent.mkdir(exist_ok=True)
    (inventory / name).write_text(text, encoding="utf-8")
    after = scan_inputs(options)["inventory"]
    assert after != before
    (inventory / ".hidden.ini").write_text("[x]\nh\n", encoding="utf-8")  # Ansible skips hidden entries
    assert scan_inputs(options)["inventory"] == after


def test_the_live_connection_options_are_recorded(tmp_path: Path) -> None:
    """--ssh-user, --ssh-key and --host-timeout change the live results (hosts turn into errors) as the inventory
    does: a part records them, and parts that differ do not merge (compliance.merge._SAME)."""
    from compliance.merge import _SAME

    base = ScanOptions(root=tmp_path, live=True, inventory=tmp_path / "none")
    seen = {scan_inputs(options)["connection"] for options in (
        base, replace(base, ssh_user="ops"), replace(base, ssh_key="/keys/scan"), replace(base, host_timeout=5.0))}
    assert len(seen) == 4 and all("PRIVATE" not in said for said in seen)
    assert ("inputs", "connection") in [path for path, _, _ in _SAME]
    assert "connection" not in scan_inputs(replace(base, live=False))


def test_a_linked_inventory_directory_is_digested_as_ansible_reads_it(tmp_path: Path) -> None:
    """The second reading: the walk that refuses unreadable folders skipped a root that is a link, so a linked
    inventory directory digested as "-" whatever it held, and live shards of different inventories merged."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "hosts.yml").write_text("all:\n  hosts: {}\n", encoding="utf-8")
    link = tmp_path / "inventory"
    link.symlink_to(real, target_is_directory=True)
    options = ScanOptions(root=tmp_path, live=True, inventory=link)
    before = scan_inputs(options)["inventory"]
    (real / "hosts.yml").write_text("all:\n  hosts: {rogue01: {}}\n", encoding="utf-8")
    assert before != "-" and scan_inputs(options)["inventory"] != before

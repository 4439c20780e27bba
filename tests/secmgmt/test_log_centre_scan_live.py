"""The live scan of the log centre itself and of a forwarder's client certificate, on booted hosts: a log
centre (roles/log_centre through playbooks/security_management.yml) and one host forwarding to it with its
client certificate (roles/log_forwarding only: a focused playbook, a few minutes; the whole zone through
site.yml is tests/secmgmt/test_log_centre_live.py). XZ-HOST-LOG-CENTRE passes once the daily sealing unit has
run and fails on a longer declared retention, a stopped timer and an altered seal; XZ-HOST-LOG-MTLS passes on
the forwarder and fails when its key is gone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compliance.scanner import ScanOptions, scan
from policies.engine import Point
from tests.hosts.pool import HostPool, HostSpec, ansible_env, repo_root, unavailable_reason
from tests.secmgmt.zone import Zone

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.skipif(os.environ.get("XZGOV_SECMGMT_LIVE") != "1",
                       reason="security-management zone live test is opt-in: set XZGOV_SECMGMT_LIVE=1"),
]

SPECS = [HostSpec("lsc", 3), HostSpec("lsf-l3", 3)]
CENTRE, FORWARDER = "lsc", "lsf-l3"
SCAN_REGISTER = Path(__file__).resolve().parents[1] / "compliance" / "fixtures" / "register"


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zone]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("centre-scan")
    pool = HostPool(SPECS)
    zone = Zone(pool, workdir, centre=CENTRE)
    try:
        pool.start()
        zone.start()
        inventory = zone.write_inventory(workdir / "hosts.yml")
        root = repo_root()
        playbook = workdir / "centre.yml"
        playbook.write_text(yaml.safe_dump([
            {"name": "Security-management zone (the log centre)",
             "ansible.builtin.import_playbook": str(root / "playbooks/security_management.yml")},
            {"name": "Forwarder", "hosts": FORWARDER, "become": True,
             "pre_tasks": [{"name": "Refresh the package index when older than a day",
                            "ansible.builtin.apt": {"update_cache": True, "cache_valid_time": 86400}}],
             "roles": [{"role": "log_forwarding"}]},
        ], sort_keys=False))
        env = {**ansible_env(), "ANSIBLE_ROLES_PATH": str(root / "roles")}
        started = time.monotonic()
        run = subprocess.run([str(root / ".venv/bin/ansible-playbook"), "-i", str(inventory), str(playbook)],
                             cwd=root, env=env, text=True, capture_output=True, timeout=2400, check=False)
        print(f"\nlog centre + forwarder converged in {time.monotonic() - started:.0f} s")
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        marker = f"scan-{uuid.uuid4().hex}"
        pool.host(FORWARDER).ssh(f"logger -t scan {marker}", check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                marker in p.read_text(errors="replace") for p in (zone.storage() / FORWARDER).glob("*.log")):
            time.sleep(1)
        # seal today as well (a fresh centre has no closed day), then the daily unit as its timer starts it
        sealed = zone.centre_host.sudo("/usr/local/sbin/xzgov-log-seal --through today --root /var/log/xzgov-centre "
                                       "--key /etc/xzgov-logcentre/seal.key")
        assert sealed.returncode == 0, sealed.stderr
        unit = zone.centre_host.sudo("systemctl start xzgov-log-seal.service")
        assert unit.returncode == 0, unit.stderr
        yield zone
    finally:
        zone.close()
        pool.close()


def scan_rule(zone: Zone, tmp: Path, name: str, rule_id: str, **variables: object) -> tuple[str, str]:
    register = tmp / "register"
    shutil.copytree(SCAN_REGISTER, register)
    host = zone.pool.host(name)
    extra = {**zone.host_vars()[name], "xzgov_system": "clean-l3", **variables}
    if name == zone.centre:
        extra["xzgov_secmgmt_role"] = "log-centre"
    inventory = zone.pool.write_inventory(tmp / "inventory" / "hosts.yml", [host], extra_host_vars={name: extra})
    result = scan(ScanOptions(root=register, live=True, inventory=inventory.parent, systems=("clean-l3",),
                              host_timeout=300))
    for report in result.systems:
        assert report.hosts == {name: "ok"}, report.hosts
        for finding in report.findings:
            if finding.result.point is Point.HOST and finding.result.rule_id == rule_id:
                return finding.result.status.value, finding.result.message
    raise AssertionError(f"{rule_id} not evaluated on {name}")


def test_the_log_centre_passes_and_each_gap_fails(zone: Zone, tmp_path_factory: pytest.TempPathFactory) -> None:
    status, message = scan_rule(zone, tmp_path_factory.mktemp("ok"), CENTRE, "XZ-HOST-LOG-CENTRE")
    assert status == "pass", message
    status, message = scan_rule(zone, tmp_path_factory.mktemp("longer"), CENTRE, "XZ-HOST-LOG-CENTRE",
                                xzgov_log_centre_retention_days=400)
    assert status == "fail" and "below the required 400 d" in message, message
    centre = zone.centre_host
    assert centre.sudo("systemctl stop xzgov-log-seal.timer").returncode == 0
    try:
        status, message = scan_rule(zone, tmp_path_factory.mktemp("timer"), CENTRE, "XZ-HOST-LOG-CENTRE")
        assert status == "fail" and "xzgov-log-seal.timer" in message, message
    finally:
        centre.sudo("systemctl start xzgov-log-seal.timer")
    seal = sorted((zone.storage() / FORWARDER).glob("*.seal"))[-1]
    original = seal.read_bytes()
    document = json.loads(original)
    seal.chmod(0o640)
    seal.write_text(json.dumps(dict(document, lines=int(document["lines"]) + 1), indent=1) + "\n")
    try:
        status, message = scan_rule(zone, tmp_path_factory.mktemp("altered"), CENTRE, "XZ-HOST-LOG-CENTRE")
        assert status == "fail" and "SM2 signature invalid" in message, message
    finally:
        seal.write_bytes(original)
        seal.chmod(0o440)


def test_the_forwarders_client_certificate(zone: Zone, tmp_path_factory: pytest.TempPathFactory) -> None:
    status, message = scan_rule(zone, tmp_path_factory.mktemp("mtls"), FORWARDER, "XZ-HOST-LOG-MTLS")
    assert status == "pass", message
    host = zone.pool.host(FORWARDER)
    key = "/etc/ssl/xzgov/private/log-client.key"
    assert host.sudo(f"mv {key} {key}.away").returncode == 0
    try:
        status, message = scan_rule(zone, tmp_path_factory.mktemp("nokey"), FORWARDER, "XZ-HOST-LOG-MTLS")
        assert status == "fail" and key in message, message
    finally:
        host.sudo(f"mv {key}.away {key}")

"""roles/host_backup on a real booted Debian 12 host, with jobs rendered from the register.

There is no object store in the test network, so the backup itself cannot run here; the test proves
what the role leaves on the host: restic installed, the job's environment (repository at the other
site, mode 0600), a timer on the rendered calendar that systemd accepts and has enabled, a unit that
``systemd-analyze verify`` accepts, and a second run that changes nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from stacks.render.hostdata import HostBackup
from stacks.settings import Settings
from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, ansible_playbook, parse_recap

pytestmark = pytest.mark.hosts


def _job(host: TestHost) -> HostBackup:
    return HostBackup("tile-store", host.name, host.address, "瓦片数据存储", "restic", "dr", "xzgov-backup-dr",
                      "https://oss.dr.xzgov.internal", f"{Settings(site='lhasa').backup_prefix}-hosts/lhasa/tile-store",
                      30, "*-*-* *:00/30:00 UTC", 90, 40)


def _play(inventory: Path, extra: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(inventory, "-e", f"@{extra}", playbook="host-backup.yml")


@pytest.fixture(scope="module")
def converged(host_pool: HostPool, tmp_path_factory: pytest.TempPathFactory) -> tuple[TestHost, list[str]]:
    host = host_pool.hosts[-1]
    tmp = tmp_path_factory.mktemp("host-backup")
    inventory = host_pool.write_inventory(tmp / "hosts.yml", [host])
    job = _job(host)
    extra = tmp / "host-backup.yml"
    extra.write_text(yaml.safe_dump({
        "xzgov_host_backup_plan": {host.name: [job.to_vars()]},
        "host_backup_s3_key_id": "test-key-id", "host_backup_s3_secret": os.urandom(8).hex(),
        "host_backup_restic_password": os.urandom(8).hex()}), encoding="utf-8")
    outputs = []
    for _ in range(2):
        result = _play(inventory, extra)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        outputs.append(result.stdout)
    return host, outputs


def test_restic_job_is_installed_on_the_rendered_calendar(converged: tuple[TestHost, list[str]]) -> None:
    host, _ = converged
    assert host.sudo("restic version").returncode == 0
    env = host.sudo("stat -c '%a %U' /etc/xzgov/host-backup/tile-store.env && "
                    "cat /etc/xzgov/host-backup/tile-store.env").stdout
    assert env.startswith("600 root")
    assert ('RESTIC_REPOSITORY="s3:https://oss.dr.xzgov.internal/xzgov-backup-dr/velero-hosts/lhasa/tile-store/'
            f'{host.name}"') in env
    # the restore procedure (docs/dr.md) sources the file: every value reads back as written
    shown = host.sudo("set -a && . /etc/xzgov/host-backup/tile-store.env && printf '%s' \"$XZGOV_RETENTION_DAYS\"")
    assert shown.stdout == "90", shown.stdout + shown.stderr
    assert host.sudo("systemctl is-enabled xzgov-restic-tile-store.timer").stdout.strip() == "enabled"
    calendar = host.sudo("systemd-analyze calendar '*-*-* *:00/30:00 UTC'")
    assert calendar.returncode == 0, calendar.stderr
    timer = host.sudo("systemctl show -p TimersCalendar xzgov-restic-tile-store.timer").stdout
    assert "*-*-* *:00/30:00 UTC" in timer
    verify = host.sudo("systemd-analyze verify /etc/systemd/system/xzgov-restic-tile-store.service")
    assert verify.returncode == 0, verify.stderr


def test_second_run_changes_nothing(converged: tuple[TestHost, list[str]]) -> None:
    host, outputs = converged
    recap = parse_recap(outputs[1])
    assert recap[host.name]["changed"] == 0, outputs[1][-3000:]

"""Host data backups end to end: a real PostgreSQL 15 on a booted Debian 12 host, ``roles/host_backup``
with the job ``stacks.render.hostdata`` renders, and an S3 object store over TLS standing in for the other
site's (moto's S3 backend on the runner, ``tests.hosts.object_store``, certificate from a throwaway CA).

What it proves (issue 14, "RPO met" for data on hosts): the role creates the stanza and its verify step
passes; the role's own unit takes a full backup; rows written *after* that backup survive the loss of the
data directory, recovered from the WAL archive in the other site's bucket (point in time: the last archived
segment); restic, the files method, backs up and restores a data path the same way; the second run
changes nothing. One dedicated host (PostgreSQL must not appear on the shared hardening hosts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stacks.render.hostdata import HostBackup
from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, HostSpec, ansible_playbook, booted, parse_recap, repo_root, unavailable_reason
from tests.hosts.services import make_test_pki

pytestmark = pytest.mark.hosts

BUCKET = "xzgov-backup-dr"
PREFIX = "velero-hosts/lhasa/public-payment"
FILES_PREFIX = "velero-hosts/lhasa/payment-files"


@dataclass
class ObjectStore:
    endpoint: str
    ca_file: Path
    process: subprocess.Popen[bytes]

    def object_keys(self) -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, verify=str(self.ca_file), region_name="us-east-1",
                              aws_access_key_id="test-key-id", aws_secret_access_key="test-secret")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def pool() -> Iterator[HostPool]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with booted([HostSpec("pg-backup", 3)]) as started:
        yield started


@pytest.fixture(scope="module")
def store(pool: HostPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    import boto3

    host = pool.hosts[0]
    ca, cert, key = make_test_pki(tmp_path_factory.mktemp("oss-pki"), [host.runner_address])
    port = _free_port(host.runner_address)
    process = subprocess.Popen([sys.executable, "-m", "tests.hosts.object_store", host.runner_address, str(port),
                                str(cert), str(key)], cwd=repo_root(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    endpoint = f"https://{host.runner_address}:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, verify=str(ca), region_name="us-east-1",
                              aws_access_key_id="test-key-id", aws_secret_access_key="test-secret")
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.5)
        yield ObjectStore(endpoint, ca, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _jobs(host: TestHost, store: ObjectStore) -> list[HostBackup]:
    common = {"system": "public-payment", "hostname": host.name, "address": host.address, "target_site": "dr",
              "bucket": BUCKET, "endpoint": store.endpoint, "prefix": PREFIX, "retention_days": 30}
    return [
        HostBackup(purpose="支付流水主数据库", method="pgbackrest", interval_minutes=1,
                   on_calendar="*-*-* 18:30:00 UTC", achieved_rpo_minutes=2, **common),  # type: ignore[arg-type]
        HostBackup(purpose="支付凭证文件", method="restic", interval_minutes=15, on_calendar="*-*-* *:00/15:00 UTC",
                   achieved_rpo_minutes=25, paths=("/srv/vouchers",),
                   **{**common, "system": "payment-files", "prefix": FILES_PREFIX}),  # type: ignore[arg-type]
    ]


def _play(inventory: Path, extra: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(inventory, "-e", f"@{extra}", playbook="host-backup.yml")


@pytest.fixture(scope="module")
def play_files(pool: HostPool, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The inventory and the extra vars (the plan and the secrets) every run of the role uses."""
    tmp = tmp_path_factory.mktemp("host-backup-live")
    return pool.write_inventory(tmp / "hosts.yml", [pool.hosts[0]]), tmp / "host-backup.yml"


@pytest.fixture(scope="module")
def converged(pool: HostPool, store: ObjectStore, play_files: tuple[Path, Path]) -> tuple[TestHost, list[str]]:
    host = pool.hosts[0]
    prepared = host.sudo("DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null && "
                         "install -d -m 0755 /srv/vouchers && echo 'voucher 0001' > /srv/vouchers/0001.txt && "
                         "install -d -m 0755 /usr/local/share/ca-certificates && "
                         f"cat > /usr/local/share/ca-certificates/xzgov-ca.crt <<'EOF'\n{store.ca_file.read_text()}EOF",
                         timeout=900)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    inventory, extra = play_files
    extra.write_text(yaml.safe_dump({
        "xzgov_host_backup_plan": {host.name: [job.to_vars() for job in _jobs(host, store)]},
        "host_backup_s3_key_id": "test-key-id", "host_backup_s3_secret": os.urandom(12).hex(),
        "host_backup_restic_password": os.urandom(12).hex(),
        "host_backup_pg_cipher_pass": os.urandom(12).hex()}), encoding="utf-8")
    outputs = []
    for _ in range(2):
        result = _play(inventory, extra)
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
        outputs.append(result.stdout)
    return host, outputs


def _psql(host: TestHost, sql: str) -> str:
    result = host.sudo(f"runuser -u postgres -- psql -XAtq -c {sql!r}")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_wal_archiving_and_the_stanza_reach_the_other_sites_bucket(converged: tuple[TestHost, list[str]],
                                                                    store: ObjectStore) -> None:
    host, _ = converged
    assert _psql(host, "SHOW archive_mode") == "on"  # the restart handler, not a reload, enabled it
    keys = store.object_keys()
    assert any(k.startswith(f"{PREFIX}/{host.name}/archive/main/") for k in keys), keys[:20]
    assert any(k.startswith(f"{PREFIX}/{host.name}/backup/main/backup.info") for k in keys), keys[:20]


def test_rows_written_after_the_full_backup_survive_the_loss_of_the_data_directory(
        converged: tuple[TestHost, list[str]]) -> None:
    host, _ = converged
    full = host.sudo("systemctl start xzgov-pgbackrest@full.service", timeout=600)
    assert full.returncode == 0, host.sudo("journalctl -u xzgov-pgbackrest@full.service -n 40").stdout
    _psql(host, "CREATE TABLE payments (id int PRIMARY KEY, amount numeric)")
    _psql(host, "INSERT INTO payments SELECT g, g * 1.5 FROM generate_series(1, 1000) g")
    # check switches the WAL segment and waits until it is archived: the newest recovery point
    checked = host.sudo("runuser -u postgres -- pgbackrest --stanza=main check", timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lost = host.sudo("systemctl stop postgresql && rm -rf /var/lib/postgresql/15/main/* && "
                     "runuser -u postgres -- pgbackrest --stanza=main restore && systemctl start postgresql",
                     timeout=600)
    assert lost.returncode == 0, lost.stdout[-3000:] + lost.stderr[-3000:]
    for _ in range(60):  # recovery replays the archived WAL, then the server opens for writes
        if host.sudo("runuser -u postgres -- psql -XAtq -c 'SELECT pg_is_in_recovery()'").stdout.strip() == "f":
            break
        time.sleep(1)
    assert _psql(host, "SELECT count(*), sum(amount) FROM payments") == "1000|750750.0"


def test_files_backup_takes_the_declared_path_and_restores_it(converged: tuple[TestHost, list[str]],
                                                              store: ObjectStore) -> None:
    host, _ = converged
    ran = host.sudo("systemctl start xzgov-restic-payment-files.service", timeout=600)
    assert ran.returncode == 0, host.sudo("journalctl -u xzgov-restic-payment-files.service -n 40").stdout
    restored = host.sudo("set -a && . /etc/xzgov/host-backup/payment-files.env && rm -rf /tmp/restore && "
                         "restic --cacert \"$RESTIC_CACERT\" restore latest --target /tmp/restore >/dev/null && "
                         "cat /tmp/restore/srv/vouchers/0001.txt && restic --cacert \"$RESTIC_CACERT\" ls latest")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("voucher 0001")
    assert "/var/lib" not in restored.stdout  # only the declared data path, not the role's default
    assert any(k.startswith(f"{FILES_PREFIX}/{host.name}/data/") for k in store.object_keys())
    # the daily retention (its own unit since it repacked after every backup) runs under the repository's lock
    pruned = host.sudo("systemctl start xzgov-restic-payment-files-prune.service", timeout=600)
    assert pruned.returncode == 0, host.sudo("journalctl -u xzgov-restic-payment-files-prune.service -n 40").stdout
    kept = host.sudo("set -a && . /etc/xzgov/host-backup/payment-files.env && "
                     "restic --cacert \"$RESTIC_CACERT\" snapshots --json")
    assert kept.returncode == 0 and kept.stdout.count('"short_id"') >= 1, kept.stdout + kept.stderr


def test_second_run_changes_nothing(converged: tuple[TestHost, list[str]]) -> None:
    host, outputs = converged
    assert parse_recap(outputs[1])[host.name]["changed"] == 0, outputs[1][-3000:]


def test_the_weekly_check_passes_a_sound_repository_and_fails_a_damaged_one(
        converged: tuple[TestHost, list[str]], store: ObjectStore) -> None:
    """The weekly check unit (pgbackrest check, then verify through the role's wrapper) passes on the repository
    the backups wrote. Then one file of the full backup is replaced, in the other site's bucket, by another file of
    the same backup (encrypted with the same key: it decrypts, its checksum is wrong): pgbackrest verify exits 0
    and says "status: error" only in its report — the wrapper fails the unit, so OnFailure= fires."""
    import boto3

    host, _ = converged

    def check() -> tuple[int, str]:
        run = host.sudo("systemctl start xzgov-pgbackrest-check.service", timeout=600)
        journal = host.sudo("journalctl -u xzgov-pgbackrest-check.service -n 80 --no-pager -o cat").stdout
        host.sudo("systemctl reset-failed xzgov-pgbackrest-check.service")
        return run.returncode, journal

    code, journal = check()
    assert code == 0 and "status: ok" in journal, journal[-3000:]
    client = boto3.client("s3", endpoint_url=store.endpoint, verify=str(store.ca_file), region_name="us-east-1",
                          aws_access_key_id="test-key-id", aws_secret_access_key="test-secret")
    backup = f"{PREFIX}/{host.name}/backup/main/"
    files = {obj["Key"]: obj["Size"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=backup) for obj in page.get("Contents", []) if "/pg_data/" in obj["Key"]}
    victim = max(files, key=lambda key: (files[key], key))
    donor = max((key for key in files if files[key] != files[victim]), key=lambda key: (files[key], key))
    assert victim.split("/pg_data/")[0] == donor.split("/pg_data/")[0] and files[victim] != files[donor]
    body = client.get_object(Bucket=BUCKET, Key=donor)["Body"].read()
    client.put_object(Bucket=BUCKET, Key=victim, Body=body)  # damaged at the other site
    code, journal = check()
    assert code != 0, journal[-3000:]
    assert "status: error" in journal and "checksum invalid: 1" in journal, journal[-3000:]
    assert "the repository has errors" in journal, journal[-3000:]


def test_jobs_the_plan_no_longer_has_leave_no_secret_or_timer(
        converged: tuple[TestHost, list[str]], play_files: tuple[Path, Path]) -> None:
    """Last (it retires the jobs). Without the plan nothing is touched — a forgotten -e @host-backup.yml must not
    stop a region's backups; with a plan that gives the host no job, the timers stop and the env file (S3 key,
    repository password), /etc/pgbackrest.conf (cipher pass) and WAL archiving go (PostgreSQL restarted: archive_mode
    is read at start). A system moved away kept backing up into the other site's bucket with its secrets on disk."""
    host, _ = converged
    inventory, extra = play_files
    secrets = {key: value for key, value in yaml.safe_load(extra.read_text(encoding="utf-8")).items()
               if key != "xzgov_host_backup_plan"}
    files = ["/etc/xzgov/host-backup/payment-files.env", "/etc/pgbackrest.conf",
             "/etc/postgresql/15/main/conf.d/xzgov-archive.conf",
             "/etc/systemd/system/xzgov-restic-payment-files.timer", "/etc/systemd/system/xzgov-pgbackrest-full.timer"]
    timers = ["xzgov-restic-payment-files.timer", "xzgov-restic-payment-files-prune.timer",
              "xzgov-pgbackrest-full.timer", "xzgov-pgbackrest-check.timer"]

    def present() -> list[str]:
        return [path for path in files if host.sudo(f"test -e {path}").returncode == 0]

    def active() -> list[str]:
        return [unit for unit in timers if host.sudo(f"systemctl is-active --quiet {unit}").returncode == 0]

    unplanned = extra.with_name("no-plan.yml")
    unplanned.write_text(yaml.safe_dump(secrets), encoding="utf-8")
    result = _play(inventory, unplanned)
    assert result.returncode == 0, result.stdout[-5000:]
    assert present() == files and active() == timers
    retired = extra.with_name("retired.yml")
    retired.write_text(yaml.safe_dump({**secrets, "xzgov_host_backup_plan": {host.name: []}}), encoding="utf-8")
    result = _play(inventory, retired)
    assert result.returncode == 0, result.stdout[-5000:]
    assert present() == [] and active() == [], (present(), active())
    assert _psql(host, "SHOW archive_mode") == "off"
    again = _play(inventory, retired)
    assert parse_recap(again.stdout)[host.name]["changed"] == 0, again.stdout[-3000:]

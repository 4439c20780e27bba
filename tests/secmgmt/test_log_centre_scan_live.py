"""The security-management zone's default live check (runs in `make test` as root; 6 min 55 s at load
average ≈ 10 on 2 CPUs, converge 247 s): three booted hosts on one LAN and one focused converge — a log centre
(roles/log_centre), an operator directory (roles/directory) and one level-3 host with the roles these services
meet: operator_guard, firewall (default deny; flows to the centre and the directory only), ssh_hardening,
directory_client (SSSD) and log_forwarding (its client certificate from the region's CA), in one play with
`strategy: free` (tests/secmgmt/zone.py converge_centre: each host at its own pace; security_management.yml and
site.yml themselves are converged by the opt-in modules below).

Checked: a `logger` line arrives at the centre under its host and certificates of any other CA are refused;
XZ-HOST-LOG-CENTRE passes once the daily sealing unit has run and fails on a longer declared retention, a
stopped timer and an altered seal; XZ-HOST-LOG-MTLS passes on the forwarder and fails when its key is gone;
an operator created in the directory logs in by SSH key with their role's sudo only, five wrong passwords lock
an account at the directory, a removed operator loses access.

Opt-in (XZGOV_SECMGMT_LIVE=1), because each needs its own long converge: the whole zone through site.yml with a
second run changed=0, time source, chain tampering, silence and flood (test_log_centre_live.py); the directory
with two clients and its idempotence (test_directory_live.py); the directory on a fully hardened site
(test_directory_site_live.py). Set XZGOV_SECMGMT_DEFAULT_LIVE=0 to skip this module."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from compliance.scanner import ScanOptions, scan
from policies.engine import Point
from tests.hosts import nspawn
from tests.hosts.pool import HostPool, HostSpec, unavailable_reason
from tests.secmgmt.directory import DirectoryZone, Operator
from tests.secmgmt.zone import Zone, converge_centre, send_direct

AUDIT_READ = "/usr/local/sbin/xzgov-audit-read"  # the audit administrator's read-only wrapper

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.skipif(os.environ.get("XZGOV_SECMGMT_DEFAULT_LIVE", "1") == "0",
                       reason="XZGOV_SECMGMT_DEFAULT_LIVE=0: the security-management default live check is off"),
]

SPECS = [HostSpec("lsc", 3), HostSpec("ldir", 3), HostSpec("lsf-l3", 3)]
CENTRE, DIRECTORY, FORWARDER = "lsc", "ldir", "lsf-l3"
CLIENT_ROLES = ("operator_guard", "firewall", "ssh_hardening", "directory_client", "log_forwarding")
SCAN_REGISTER = Path(__file__).resolve().parents[1] / "compliance" / "fixtures" / "register"


@dataclass
class Site:
    zone: Zone
    directory: DirectoryZone
    seconds: float


def stored_line(zone: Zone, source: str, needle: str, timeout: float = 60) -> str | None:
    deadline = time.monotonic() + timeout
    while True:
        for log in sorted((zone.storage() / source).glob("*.log")) if (zone.storage() / source).is_dir() else []:
            for line in log.read_text(errors="replace").splitlines():
                if needle in line:
                    return line
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from _site(tmp_path_factory)


@pytest.fixture(scope="module")
def zone(site: Site) -> Zone:
    return site.zone


def _site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("secmgmt-default")
    pool = HostPool(SPECS)
    zone = Zone(pool, workdir, centre=CENTRE)
    directory = DirectoryZone(pool, workdir / "directory", directory=DIRECTORY, clients=(FORWARDER,))
    try:
        pool.start()
        zone.start()
        directory.lan, directory.pki = zone.lan, zone.pki  # one LAN, one region CA
        directory.workdir.mkdir(parents=True, exist_ok=True)
        directory.start()
        flows = {FORWARDER: zone.host_vars()[FORWARDER]["xzgov_allowed_flows"]}
        run, seconds = converge_centre(zone, workdir, (FORWARDER,), roles=CLIENT_ROLES,
                                       overlay=directory.host_vars(flows), groups=directory.groups(),
                                       extra_args=("-e", f"@{directory.secrets_file}"), parallel=True,
                                       wait_for=((zone.lan.addresses[DIRECTORY], 636, "directory_client"),))
        print(f"\nlog centre + directory + client converged in {seconds:.0f} s")
        assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
        assert directory.admin_password not in run.stdout and directory.reader_password not in run.stdout
        yield Site(zone, directory, seconds)
    finally:
        with ThreadPoolExecutor(len(pool.hosts) or 1) as workers:  # power the hosts off at once, not in turn
            list(workers.map(_power_off, pool.hosts))
        zone.close()
        pool.close()


def _power_off(host: nspawn.TestHost) -> None:
    with contextlib.suppress(Exception):
        nspawn.shutdown(host)


# ------------------------------------------------------------------------------------ the log centre
def test_a_logger_line_arrives_under_its_host_and_foreign_certificates_are_refused(zone: Zone) -> None:
    marker = f"xzgov-e2e-{uuid.uuid4().hex}"
    zone.pool.host(FORWARDER).ssh(f"logger -t e2e {marker}", check=True)
    line = stored_line(zone, FORWARDER, marker)
    assert line is not None, f"{marker} from {FORWARDER} not stored at the log centre"
    assert f" {FORWARDER} e2e" in line
    good = f"good-{uuid.uuid4().hex}"
    assert send_direct(zone, zone.certs["runner"], "runner-client", [good])
    assert stored_line(zone, "runner-client", good) is not None
    for cert in (zone.certs["rogue"], None):
        refused = f"refused-{uuid.uuid4().hex}"
        assert not send_direct(zone, cert, "runner-client", [refused]), \
            "a certificate of another CA (or none) was accepted"
        assert stored_line(zone, "runner-client", refused, timeout=3) is None


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
    marker = f"scan-{uuid.uuid4().hex}"
    zone.pool.host(FORWARDER).ssh(f"logger -t scan {marker}", check=True)
    assert stored_line(zone, FORWARDER, marker) is not None
    # seal today as well (a fresh centre has no closed day), then the daily unit as its timer starts it
    sealed = zone.centre_host.sudo("/usr/local/sbin/xzgov-log-seal --through today --root /var/log/xzgov-centre "
                                   "--key /etc/xzgov-logcentre/seal.key")
    assert sealed.returncode == 0, sealed.stderr
    unit = zone.centre_host.sudo("systemctl start xzgov-log-seal.service")
    assert unit.returncode == 0, unit.stderr
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


# ------------------------------------------------------------------------------------ the directory
def test_an_operator_logs_in_by_key_with_the_rights_of_their_role(site: Site) -> None:
    z = site.directory
    host = z.pool.host(FORWARDER)
    audit = z.new_operator("op-audit", 30001, "auditadmin")
    sys_ = z.new_operator("op-sys", 30002, "sysadmin")
    whoami = z.operator_ssh(host, audit, "id -un; id -Gn")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.split()[0] == "op-audit" and "auditadmin" in whoami.stdout.split()
    as_audit = f"echo '{audit.password}' | sudo -S -p '' "
    reads = z.operator_ssh(host, audit, as_audit + f"{AUDIT_READ} journal -n 3")
    assert reads.returncode == 0, reads.stderr
    # read options only (the journal cannot be emptied), and the reader itself only through the wrapper
    vacuum = z.operator_ssh(host, audit, as_audit + f"{AUDIT_READ} journal --vacuum-time=1s")
    assert vacuum.returncode == 2 and "refused" in vacuum.stderr, vacuum.stderr
    bare = z.operator_ssh(host, audit, as_audit + "journalctl -n 3 --no-pager")
    assert bare.returncode != 0 and "not allowed" in bare.stderr, bare.stderr
    denied = z.operator_ssh(host, audit, f"echo '{audit.password}' | sudo -S -p '' systemctl restart ssh")
    assert denied.returncode != 0 and "not allowed" in denied.stderr, denied.stderr
    journal = z.operator_ssh(host, sys_, f"echo '{sys_.password}' | sudo -S -p '' journalctl -n 1")
    assert journal.returncode != 0 and "not allowed" in journal.stderr, journal.stderr
    # a key that is not the operator's is refused; the local operator (break-glass) keeps working
    stranger = Operator(audit.uid, audit.number, audit.role, audit.password, sys_.key)
    assert z.operator_ssh(host, stranger, "true").returncode == 255
    local = host.ssh("sudo -n id -u")
    assert local.returncode == 0 and local.stdout.strip() == "0", local.stderr
    # a removed operator loses access
    z.remove_operator(sys_)
    assert host.sudo("sss_cache -E").returncode == 0
    deadline = time.monotonic() + 60
    result = z.operator_ssh(host, sys_, "true")
    while result.returncode == 0 and time.monotonic() < deadline:
        time.sleep(3)
        result = z.operator_ssh(host, sys_, "true")
    assert result.returncode == 255, "removed operator still logs in"
    assert host.ssh("getent passwd op-sys").returncode == 2


def test_five_wrong_passwords_lock_the_account(site: Site) -> None:
    z = site.directory
    op = z.new_operator("op-lock", 30003, "secadmin")
    client = z.pool.host(FORWARDER)
    assert z.bind(client, op.dn, op.password).returncode == 0
    for _ in range(5):
        assert z.bind(client, op.dn, "wrong-" + op.password).returncode == 49
    locked = z.bind(client, op.dn, op.password)
    assert locked.returncode == 49, locked.stdout + locked.stderr  # the right password no longer binds
    assert "pwdAccountLockedTime:" in z.search(op.dn, "pwdAccountLockedTime")

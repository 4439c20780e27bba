"""The operator directory on a fully hardened host, live: the real ``site.yml`` converges a directory host
(its security-management play) and a level-3 host through the whole level play - operator_guard,
os_hardening's PAM stack (faillock, pwquality, pwhistory), firewall, ssh_hardening, mandatory_access (the
sshd AppArmor profile with the SSSD rules) and directory_client. On that host an operator from the directory
logs in by SSH key with only their role's sudo, the local break-glass operator keeps access, and wrong
passwords typed to sudo (PAM: faillock → unix → sss) lock the account at the directory. The live scan
(``xzgov scan --live``, as tests/roles/test_hardening.py calls it) then judges XZ-HOST-DIRECTORY: pass on
the enrolled host, fail on the same host with sssd stopped and on a host that is not enrolled.

The directory host itself is left out of the level plays (removed from ``os_debian``) to keep the run
short; its hardening is that of any level-3 host, tested in tests/roles/test_hardening.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compliance.scanner import ScanOptions, scan
from policies.engine import Point, Status
from tests.hosts.pool import HostPool, HostSpec, ansible_playbook, parse_recap, unavailable_reason
from tests.secmgmt.directory import DIRECTORY_NAME, DirectoryZone, Operator
from tests.secmgmt.zone import site_root

#: with XZGOV_SECMGMT_ISOLATE=1, site.yml runs from the committed tree with these paths of the working tree laid
#: over it (roles other sessions are editing at the same moment cannot break this run; tests/secmgmt/zone.py)
OWN_PATHS = ("roles/directory", "roles/directory_client", "roles/mandatory_access", "roles/log_forwarding",
             "playbooks/security_management.yml")


def run_site(root: Path, inventory: Path, secrets: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(inventory, "-e", f"@{secrets}", timeout=2400, cwd=root,
                            extra_env={"ANSIBLE_CONFIG": str(root / "ansible.cfg")})

# Opt-in like the other security-management live tests:
#   XZGOV_SECMGMT_LIVE=1 pytest tests/secmgmt/test_directory_site_live.py
pytestmark = [
    pytest.mark.hosts,
    pytest.mark.skipif(os.environ.get("XZGOV_SECMGMT_LIVE") != "1",
                       reason="security-management zone live test is opt-in: set XZGOV_SECMGMT_LIVE=1"),
]

DIRECTORY, CLIENT = "sdir", "sdc-l3"
SPECS = [HostSpec(DIRECTORY, 3), HostSpec(CLIENT, 3)]
SCAN_REGISTER = Path(__file__).resolve().parents[1] / "compliance" / "fixtures" / "register"
SCAN_SYSTEM = "clean-l3"


class Site:
    def __init__(self, zone: DirectoryZone, inventory: Path, root: Path, output: str, seconds: float) -> None:
        self.zone, self.inventory, self.root, self.output, self.seconds = zone, inventory, root, output, seconds
        self.operators: dict[str, Operator] = {}
        self.second: subprocess.CompletedProcess[str] | None = None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("directory-site")
    pool = HostPool(SPECS)
    zone = DirectoryZone(pool, workdir, directory=DIRECTORY, clients=(CLIENT,))
    try:
        pool.start()
        zone.start()
        inventory = zone.write_inventory(workdir / "hosts.yml")
        document = yaml.safe_load(inventory.read_text())
        # the directory host runs its service play only (see the module docstring)
        document["all"]["children"]["os_debian"]["hosts"].pop(DIRECTORY)
        inventory.write_text(yaml.safe_dump(document, sort_keys=False))
        root = site_root(workdir, OWN_PATHS)
        started = time.monotonic()
        first = run_site(root, inventory, zone.secrets_file)
        seconds = time.monotonic() - started
        print(f"\nsite.yml (directory + hardened level-3 client): {seconds:.0f} s")
        assert first.returncode == 0, first.stdout[-10000:] + first.stderr[-3000:]
        result = Site(zone, inventory, root, first.stdout, seconds)
        # the second run right after the first (operators' logins below change files AIDE's baseline covers)
        started = time.monotonic()
        result.second = run_site(root, inventory, zone.secrets_file)
        print(f"second site.yml run: {time.monotonic() - started:.0f} s")
        result.operators = {
            "audit": zone.new_operator("op-audit", 30101, "auditadmin"),
            "sys": zone.new_operator("op-sys", 30102, "sysadmin"),
            "lock": zone.new_operator("op-lock", 30103, "secadmin"),
        }
        yield result
    finally:
        zone.close()
        pool.close()


def _sudo(site: Site, op: Operator, password: str, command: str) -> tuple[int, str]:
    host = site.zone.pool.host(CLIENT)
    result = site.zone.operator_ssh(host, op, f"echo '{password}' | sudo -S -p '' {command}")
    return result.returncode, result.stdout + result.stderr


def live_scan(site: Site, tmp: Path) -> dict[str, Status]:
    """XZ-HOST-DIRECTORY per host, scanned over SSH as ``xzgov scan --live`` does; both hosts are told the
    directory's URI by the inventory, so the directory host (not a client) is a host that is not enrolled."""
    register = tmp / "register"
    shutil.copytree(SCAN_REGISTER, register)
    pool = site.zone.pool
    inventory = pool.write_inventory(
        tmp / "inventory" / "hosts.yml", pool.hosts,
        extra_host_vars={h.name: {"xzgov_system": SCAN_SYSTEM, "xzgov_directory_uri": f"ldaps://{DIRECTORY_NAME}"}
                         for h in pool.hosts},
    )
    result = scan(ScanOptions(root=register, live=True, inventory=inventory.parent, systems=(SCAN_SYSTEM,),
                              host_timeout=300))
    verdicts: dict[str, Status] = {}
    for report in result.systems:
        assert set(report.hosts.values()) == {"ok"}, report.hosts
        for finding in report.findings:
            if finding.result.point is Point.HOST and finding.result.rule_id == "XZ-HOST-DIRECTORY":
                verdicts[finding.result.target] = finding.result.status
    return verdicts


# ------------------------------------------------------------------------------------------------ tests
def test_site_converges_with_pam_sss_next_to_faillock_and_pwquality(site: Site) -> None:
    recap = parse_recap(site.output)
    assert recap[CLIENT]["failed"] == 0 and recap[DIRECTORY]["failed"] == 0
    host = site.zone.pool.host(CLIENT)
    auth = host.sudo("cat /etc/pam.d/common-auth", check=True).stdout
    password = host.sudo("cat /etc/pam.d/common-password", check=True).stdout
    lines = [line.split() for line in auth.splitlines() if line.strip() and not line.startswith("#")]
    modules = [next((w for w in words if w.endswith(".so")), "") for words in lines]
    # one stack: faillock's pre-check, local accounts, then the directory, then faillock's count
    assert "pam_faillock.so" in modules and "pam_unix.so" in modules and "pam_sss.so" in modules, auth
    assert modules.index("pam_faillock.so") < modules.index("pam_unix.so") < modules.index("pam_sss.so"), auth
    assert "pam_pwquality.so" in password and "pam_sss.so" in password, password
    # the sshd profile with the SSSD rules compiles on the host (AppArmor is not in this kernel: see below)
    profile = host.sudo("apparmor_parser --skip-kernel-load --skip-cache --quiet /etc/apparmor.d/usr.sbin.sshd")
    assert profile.returncode == 0, profile.stderr
    assert "sss_ssh_authorizedkeys Cx" in host.sudo("cat /etc/apparmor.d/usr.sbin.sshd", check=True).stdout


def test_an_operator_logs_in_by_key_with_only_their_roles_sudo(site: Site) -> None:
    z = site.zone
    host = z.pool.host(CLIENT)
    audit, sys_ = site.operators["audit"], site.operators["sys"]
    whoami = z.operator_ssh(host, audit, "id -un; id -Gn; pwd")
    assert whoami.returncode == 0, whoami.stderr
    words = whoami.stdout.split()
    assert words[0] == "op-audit" and "auditadmin" in words and "/home/op-audit" in words, whoami.stdout
    rc, out = _sudo(site, audit, audit.password, "/usr/local/sbin/xzgov-audit-read journal -n 3")
    assert rc == 0, out
    # read options only: the journal cannot be emptied, nor another file read as root
    rc, out = _sudo(site, audit, audit.password, "/usr/local/sbin/xzgov-audit-read journal --vacuum-time=1s")
    assert rc == 2 and "refused" in out, out
    rc, out = _sudo(site, audit, audit.password, "/usr/local/sbin/xzgov-audit-read last -f /etc/shadow")
    assert rc == 2 and "refused" in out, out
    rc, out = _sudo(site, audit, audit.password, "journalctl -n 3 --no-pager")
    assert rc != 0 and "not allowed" in out, out  # the reader itself only through the wrapper
    rc, out = _sudo(site, audit, audit.password, "systemctl restart cron.service")
    assert rc != 0 and "not allowed" in out, out
    rc, out = _sudo(site, audit, audit.password, "id -u")
    assert rc != 0 and "not allowed" in out, out  # no general root shell for a role holder
    # sudo runs it (systemctl answers: the test image has no cron, exit 4); sudo's own refusal is exit 1
    rc, out = _sudo(site, sys_, sys_.password, "systemctl --no-pager status cron.service")
    assert rc in (0, 3, 4) and "not allowed" not in out and "cron.service" in out, out
    rc, out = _sudo(site, sys_, sys_.password, "systemctl restart ssh")
    assert rc != 0 and "not allowed" in out, out  # only the units on directory_client_sysadmin_units
    rc, out = _sudo(site, sys_, sys_.password, "journalctl -n 1 --no-pager")
    assert rc != 0 and "not allowed" in out, out


def test_the_local_break_glass_operator_keeps_access(site: Site) -> None:
    host = site.zone.pool.host(CLIENT)
    local = host.ssh("sudo -n id -u")
    assert local.returncode == 0 and local.stdout.strip() == "0", local.stderr
    # and it stays local: the directory serves no UID below 10000, so no directory entry can shadow it
    entry = host.ssh(f"getent -s files passwd {host.ssh_user}")
    assert entry.returncode == 0, entry.stderr


def test_wrong_passwords_through_the_hardened_pam_stack_lock_the_account_at_the_directory(site: Site) -> None:
    z = site.zone
    op = site.operators["lock"]
    rc, out = _sudo(site, op, op.password, "-l")
    assert rc == 0, out  # the right password passes pam_sss (secadmin may list its rights)
    for _ in range(5):
        rc, out = _sudo(site, op, "wrong-" + op.password, "-l")
        assert rc != 0, out
    assert "pwdAccountLockedTime:" in z.search(op.dn, "pwdAccountLockedTime")  # locked at the directory
    locked = z.bind(z.pool.host(CLIENT), op.dn, op.password)
    assert locked.returncode == 49, locked.stdout + locked.stderr  # on every host, not only this one


def test_live_scan_passes_the_enrolled_host_and_fails_the_others(site: Site,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    started = time.monotonic()
    verdicts = live_scan(site, tmp_path_factory.mktemp("scan-enrolled"))
    print(f"\nlive scan of 2 hosts: {time.monotonic() - started:.0f} s")
    assert verdicts == {CLIENT: Status.PASS, DIRECTORY: Status.FAIL}, verdicts
    host = site.zone.pool.host(CLIENT)
    host.sudo("systemctl stop sssd", check=True)
    try:
        stopped = live_scan(site, tmp_path_factory.mktemp("scan-stopped"))
        assert stopped[CLIENT] is Status.FAIL, stopped
    finally:
        host.sudo("systemctl start sssd", check=True)


def changed_tasks(output: str) -> list[str]:
    """``TASK [...]`` headers followed by a ``changed:`` line."""
    task, found = "", []
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line.split("]")[0] + "]"
        elif line.startswith("changed:"):
            found.append(f"{task} {line}")
    return found


def test_second_run_changes_nothing(site: Site) -> None:
    second = site.second
    assert second is not None
    assert second.returncode == 0, second.stdout[-8000:]
    changed = {host: counters.get("changed", -1) for host, counters in parse_recap(second.stdout).items()}
    assert changed == dict.fromkeys(changed, 0), changed_tasks(second.stdout)
    for output in (site.output, second.stdout):
        assert site.zone.admin_password not in output and site.zone.reader_password not in output

"""AIDE and the package manager on a booted level-3 host (issue 17): dpkg's changes are accepted into the AIDE
database only when they match the packages' own checksums; anything else stays in the daily check's alert.

A focused play (roles/integrity, verify then baseline) keeps the run short; the hook it installs is the one
site.yml installs. The apt proxy of the test runner serves the packages. Named to run after test_hardening.py
(whose before/after scan needs a host without AIDE); the host is left with a clean database at the end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, ansible_playbook, parse_recap, repo_root

pytestmark = pytest.mark.hosts

CONFIG = "/etc/aide/xzgov-aide.conf"
FIRST_PACKAGE = "tree"  # installed through apt: its changes must be accepted
SECOND_PACKAGE = "hello"  # installed while a test hook tampers with its binary: must NOT be accepted
# its maintainer scripts add the system account uuidd (adduser) and enable uuidd.socket (deb-systemd-helper):
# changes no package checksum covers, made by the packages' own scripts
SERVICE_PACKAGE = "uuid-runtime"
# psmisc lists /bin/fuser: AIDE walks /usr/bin on a merged /usr (Debian 12's), where the file is /usr/bin/fuser
BIN_PACKAGE = "psmisc"
# apt reads APT_CONFIG before apt.conf.d, so this hook runs before the verifier (and lives outside the watched trees)
TAMPER_HOOK = "/root/xzgov-test-tamper.conf"
APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0"


def _play(inventory: Path, host: TestHost, tmp: Path) -> subprocess.CompletedProcess[str]:
    playbook = tmp / "integrity.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Integrity only (AIDE, package verification), as site.yml lists it",
        "hosts": host.name,
        "become": True,
        "roles": [{"role": "integrity"}, {"role": "integrity", "integrity_phase": "baseline"}],
    }]))
    return ansible_playbook(inventory, playbook=playbook, timeout=900,
                            extra_env={"ANSIBLE_ROLES_PATH": str(repo_root() / "roles")})


def _journal(host: TestHost, since: str) -> str:
    return host.sudo(f"journalctl -q -o cat --no-pager -t xzgov-aide-accept --since '{since}'").stdout


def _check(host: TestHost) -> subprocess.CompletedProcess[str]:
    """The daily check itself (the unit the timer starts); its report is in the journal."""
    host.sudo("systemctl reset-failed xzgov-aide-check.service xzgov-aide-alert.service; true")
    return host.sudo("systemctl start xzgov-aide-check.service")


def _report(host: TestHost) -> str:
    return host.sudo(f"aide --config {CONFIG} --check; true").stdout


@pytest.fixture(scope="module")
def aide_host(host_pool: HostPool, hosts_inventory: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[TestHost]:
    host = next((h for h in host_pool.hosts if h.level >= 3), None)
    if host is None:
        pytest.skip("no level-3/4 test host (XZGOV_TEST_HOSTS): AIDE is a level-3 item")
    result = _play(hosts_inventory, host, tmp_path_factory.mktemp("integrity"))
    recap = parse_recap(result.stdout).get(host.name, {})
    assert result.returncode == 0 and recap.get("failed") == 0, result.stdout[-4000:]
    # Start from a reviewed baseline: earlier tests on this shared host (users added and removed by the guard
    # tests, files planted by the intrusion test) changed watched files after site.yml built the database.
    host.sudo("/usr/local/sbin/xzgov-aide-init --reviewed", check=True)
    yield host
    host.sudo(f"rm -f {TAMPER_HOOK}; {APT} purge {FIRST_PACKAGE} {SECOND_PACKAGE} {SERVICE_PACKAGE} "
              f"{BIN_PACKAGE}; true")
    host.sudo("/usr/local/sbin/xzgov-aide-init --reviewed && systemctl reset-failed xzgov-aide-check.service "
              "xzgov-aide-alert.service; true")


def test_the_hook_is_installed(aide_host: TestHost) -> None:
    conf = aide_host.sudo("cat /etc/apt/apt.conf.d/90xzgov-aide-accept").stdout
    assert "DPkg::Post-Invoke" in conf and "xzgov-aide-accept post" in conf and "--watch /usr/bin" in conf
    assert aide_host.sudo("stat -c '%a %U' /usr/local/sbin/xzgov-aide-accept").stdout.split() == ["700", "root"]
    # the baseline is clean before anything is installed (else the test below would prove nothing)
    assert _check(aide_host).returncode == 0, _report(aide_host)[-3000:]


def test_an_apt_install_is_accepted_and_the_next_check_is_clean(aide_host: TestHost) -> None:
    since = aide_host.sudo("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    installed = aide_host.sudo(f"{APT} install {FIRST_PACKAGE}")
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    check = _check(aide_host)
    assert check.returncode == 0, _report(aide_host)[-3000:]
    journal = _journal(aide_host, since)
    assert "accepted" in journal and f"/usr/bin/{FIRST_PACKAGE}" in journal and f"({FIRST_PACKAGE})" in journal, journal
    assert "NOT accepted" not in journal, journal


def test_a_service_package_adding_its_system_account_and_enabling_its_unit_is_accepted(aide_host: TestHost) -> None:
    # the account files' backups as os_hardening keeps them (roles/os_hardening/vars/debian.yml: 0600) — shadow's
    # tools give a backup its original's mode again when they rewrite it — in the baseline, as on a hardened host
    aide_host.sudo("chmod 0600 /etc/passwd- /etc/group- /etc/shadow- /etc/gshadow- && "
                   "chgrp shadow /etc/shadow- /etc/gshadow- && /usr/local/sbin/xzgov-aide-init --reviewed", check=True)
    since = aide_host.sudo("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    installed = aide_host.sudo(f"{APT} install {SERVICE_PACKAGE}")
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    assert aide_host.sudo("getent passwd uuidd").returncode == 0  # the scripts did what this test is about
    assert aide_host.sudo("test -L /etc/systemd/system/sockets.target.wants/uuidd.socket").returncode == 0
    check = _check(aide_host)
    assert check.returncode == 0, _report(aide_host)[:6000]  # (the head: the entries, then their attributes)
    journal = _journal(aide_host, since)
    assert "NOT accepted" not in journal, journal
    assert "/etc/passwd" in journal and "/etc/shadow" in journal and "uuidd" in journal, journal
    assert "/etc/systemd/system/sockets.target.wants/uuidd.socket" in journal, journal


def test_a_file_a_package_lists_under_bin_is_accepted_where_a_merged_usr_puts_it(aide_host: TestHost) -> None:
    since = aide_host.sudo("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    installed = aide_host.sudo(f"{APT} install {BIN_PACKAGE}")
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    assert aide_host.sudo(f"grep -x /bin/fuser /var/lib/dpkg/info/{BIN_PACKAGE}.list").returncode == 0
    check = _check(aide_host)
    assert check.returncode == 0, _report(aide_host)[:6000]
    journal = _journal(aide_host, since)
    assert "NOT accepted" not in journal and "/usr/bin/fuser" in journal, journal


def test_a_binary_changed_by_hand_or_differing_from_its_package_stays_in_the_alert(aide_host: TestHost) -> None:
    since = aide_host.sudo("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    # by hand, outside any package run: a packaged binary of a package this apt run does not touch
    aide_host.sudo(f"printf '\\n#by-hand\\n' >> /usr/bin/{FIRST_PACKAGE}", check=True)
    # during the run: a hook ordered before the verifier changes the binary dpkg just unpacked, so the package
    # is one of the run's and the file differs from its checksum only
    aide_host.sudo(f"""printf 'DPkg::Post-Invoke {{ "printf x >> /usr/bin/{SECOND_PACKAGE} || true"; }};\\n' """
                   f"> {TAMPER_HOOK}", check=True)
    installed = aide_host.sudo(f"APT_CONFIG={TAMPER_HOOK} {APT} install {SECOND_PACKAGE}")
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    journal = _journal(aide_host, since)
    refused = [line for line in journal.splitlines() if "NOT accepted" in line]
    assert any(f"/usr/bin/{SECOND_PACKAGE}" in line and "checksum" in line for line in refused), journal
    assert any(f"/usr/bin/{FIRST_PACKAGE}" in line and "not owned by a package of this dpkg run" in line
               for line in refused), journal
    # the next check reports exactly these two (the directory entry of /usr/bin was explained and accepted)
    check = _check(aide_host)
    assert check.returncode != 0
    report = _report(aide_host)
    reported = {line.split(": ", 1)[1].strip() for line in report.splitlines()
                if line[:1] in "fdl" and ": /" in line and not line.startswith("File")}
    assert reported == {f"/usr/bin/{FIRST_PACKAGE}", f"/usr/bin/{SECOND_PACKAGE}"}, report[-3000:]
    alert = aide_host.sudo("journalctl -q -o cat --no-pager -t xzgov-aide-alert -n 5").stdout
    assert "INTRUSION ALERT" in alert


def test_an_account_others_could_log_in_with_added_during_a_package_run_stays_in_the_alert(aide_host: TestHost
                                                                                           ) -> None:
    # from a reviewed state (the test above leaves two refused binaries in the alert)
    aide_host.sudo("/usr/local/sbin/xzgov-aide-init --reviewed", check=True)
    since = aide_host.sudo("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    # during the run, as a maintainer script could: a system account with a login shell, and one with a password
    aide_host.sudo("""printf 'DPkg::Post-Invoke { "useradd --system --shell /bin/bash xzgovshell || true"; '"""
                   """'"useradd --system --shell /usr/sbin/nologin --password x1Yz2 xzgovpass || true"; };\\n' """
                   f"> {TAMPER_HOOK}", check=True)
    try:
        installed = aide_host.sudo(f"APT_CONFIG={TAMPER_HOOK} {APT} install --reinstall {SERVICE_PACKAGE}")
        assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
        assert aide_host.sudo("getent passwd xzgovshell && getent passwd xzgovpass").returncode == 0
        journal = _journal(aide_host, since)
        refused = [line for line in journal.splitlines() if "NOT accepted" in line]
        assert any("/etc/passwd:" in line and "xzgovshell" in line for line in refused), journal
        assert any("/etc/shadow:" in line and "xzgovpass" in line for line in refused), journal
        assert _check(aide_host).returncode != 0
    finally:
        aide_host.sudo(f"rm -f {TAMPER_HOOK}; userdel xzgovshell; userdel xzgovpass; true")


def test_an_account_added_by_hand_before_a_package_run_stays_in_the_alert(aide_host: TestHost) -> None:
    """The hook compares the account files with what the AIDE database records: a system account made by hand
    (in the very shape a package's would have) before an apt run is no package's."""
    aide_host.sudo("/usr/local/sbin/xzgov-aide-init --reviewed", check=True)
    aide_host.sudo("useradd --system --shell /usr/sbin/nologin xzgovearly", check=True)
    since = aide_host.sudo("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    try:
        installed = aide_host.sudo(f"{APT} install --reinstall {FIRST_PACKAGE}")
        assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
        journal = _journal(aide_host, since)
        refused = [line for line in journal.splitlines() if "NOT accepted" in line]
        assert any("/etc/passwd:" in line and "changed before this dpkg run" in line for line in refused), journal
        assert _check(aide_host).returncode != 0
    finally:
        aide_host.sudo("userdel xzgovearly; true")

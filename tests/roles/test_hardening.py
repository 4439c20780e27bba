"""site.yml against real booted Debian 12 hosts (one per 等保 level), then every hardened setting.

The expected values below are written out per level on purpose (not read from the role defaults),
so a change of a default shows up here as a failing test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testinfra

from compliance.scanner import ScanOptions, scan
from policies.engine import Point, Status
from policies.registry import rules_for_point
from tests.hosts.nspawn import TestHost, wait_for_ssh
from tests.hosts.plugin import host_specs_from_env
from tests.hosts.pool import HostPool, ansible_playbook, parse_recap
from xzgov.facts.host_parsers import PAM_UNIX_YESCRYPT_DEFAULT_COST
from xzgov.facts.thresholds import host_threshold

pytestmark = pytest.mark.hosts

SPECS = host_specs_from_env()

EXPECTED: dict[int, dict[str, Any]] = {
    2: {
        "minlen": 8,
        "minclass": 3,
        "deny": 6,
        "unlock_time": 600,
        "pass_max_days": 180,
        "tmout": 900,
        "clientaliveinterval": 600,
        "maxauthtries": 4,
        "permitrootlogin": "without-password",
        "allowtcpforwarding": "yes",
        "remember": 5,
        "ciphers": "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
        "aes256-ctr,aes192-ctr,aes128-ctr",
        "macs": "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com,"
        "hmac-sha2-512,hmac-sha2-256",
        "max_log_file_action": "ROTATE",
        "disk_full_action": "SUSPEND",
        "privileged_rules": False,
        "drop_log": False,
        "clause": "7.1",
        "maxsessions": 6,
        "yescrypt_cost": 5,
    },
    3: {
        "minlen": 12,
        "minclass": 3,
        "deny": 5,
        "unlock_time": 900,
        "pass_max_days": 90,
        "tmout": 600,
        "clientaliveinterval": 300,
        "maxauthtries": 3,
        "permitrootlogin": "no",
        "allowtcpforwarding": "no",
        "remember": 5,
        "ciphers": "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
        "aes256-ctr,aes192-ctr,aes128-ctr",
        "macs": "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com",
        "max_log_file_action": "KEEP_LOGS",
        "disk_full_action": "SINGLE",
        "privileged_rules": True,
        "drop_log": True,
        "clause": "8.1",
        "maxsessions": 4,
        "yescrypt_cost": 8,
    },
    4: {
        "minlen": 14,
        "minclass": 4,
        "deny": 3,
        "unlock_time": 1800,
        "pass_max_days": 60,
        "tmout": 300,
        "clientaliveinterval": 180,
        "maxauthtries": 3,
        "permitrootlogin": "no",
        "allowtcpforwarding": "no",
        "remember": 10,
        "ciphers": "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com",
        "macs": "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
        "max_log_file_action": "KEEP_LOGS",
        "disk_full_action": "HALT",
        "privileged_rules": True,
        "drop_log": True,
        "clause": "9.1",
        "maxsessions": 3,
        "yescrypt_cost": 10,
    },
}

# A package the hardening must remove (installed through the apt proxy before the first run).
UNNEEDED_PACKAGE = "telnet"


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return parse_recap(self.result.stdout)

    def explain(self) -> str:
        return f"rc={self.result.returncode}\n{self.result.stdout[-6000:]}\n{self.result.stderr[-3000:]}"


def password_login(host: TestHost, user: str, password: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Try a real password / keyboard-interactive login (the password comes from SSH_ASKPASS)."""
    askpass = tmp / "askpass.sh"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$XZGOV_TEST_PASSWORD"\n')
    askpass.chmod(0o700)
    env = dict(
        os.environ,
        SSH_ASKPASS=str(askpass),
        SSH_ASKPASS_REQUIRE="force",
        DISPLAY=":0",
        XZGOV_TEST_PASSWORD=password,
    )
    return subprocess.run(
        [
            "ssh",
            "-v",
            "-o",
            "BatchMode=no",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={host.known_hosts}",
            "-o",
            "ConnectTimeout=10",
            f"{user}@{host.address}",
            "true",
        ],
        text=True,
        capture_output=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def pre_hardening(host_pool: HostPool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """State before site.yml: password login works (so refusing it later means something)."""
    tmp = tmp_path_factory.mktemp("pre")
    outcome = {}
    for host in host_pool.hosts:
        outcome[host.name] = password_login(host, host.ssh_user, host.operator_password, tmp).returncode
    # An unneeded package, installed through the runner-side apt proxy, for the removal check.
    first = host_pool.hosts[0]
    installed = first.sudo(
        f"apt-get update -q && apt-get install -y -q --no-install-recommends {UNNEEDED_PACKAGE}", timeout=900
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    return outcome


# The live compliance scan (issue 5) runs against the same hosts before and after site.yml; each test
# host is filed under a fixture system of its level in the compliance fixture register.
SCAN_REGISTER = Path(__file__).resolve().parents[1] / "compliance" / "fixtures" / "register"
SCAN_SYSTEM_OF_LEVEL = {2: "clean-l2", 3: "clean-l3"}
HostVerdicts = dict[str, dict[str, Status]]  # host → host rule id → status


def live_scan(host_pool: HostPool, tmp: Path) -> tuple[HostVerdicts, dict[str, str]]:
    """Scan every pool host over SSH exactly as `xzgov scan --live` does; verdicts per host and rule."""
    register = tmp / "register"
    shutil.copytree(SCAN_REGISTER, register)
    hosts = [h for h in host_pool.hosts if h.level in SCAN_SYSTEM_OF_LEVEL]
    inventory = host_pool.write_inventory(
        tmp / "inventory" / "hosts.yml", hosts,
        extra_host_vars={h.name: {"xzgov_system": SCAN_SYSTEM_OF_LEVEL[h.level]} for h in hosts},
    )
    systems = tuple(sorted({SCAN_SYSTEM_OF_LEVEL[h.level] for h in hosts}))
    result = scan(ScanOptions(root=register, live=True, inventory=inventory.parent, systems=systems,
                              host_timeout=300))
    verdicts: HostVerdicts = {}
    reachability: dict[str, str] = {}
    for report in result.systems:
        reachability.update(report.hosts)
        for finding in report.findings:
            if finding.result.point is Point.HOST:
                verdicts.setdefault(finding.result.target, {})[finding.result.rule_id] = finding.result.status
    return verdicts, reachability


@pytest.fixture(scope="module")
def scan_before(pre_hardening: dict[str, int], host_pool: HostPool,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[HostVerdicts, dict[str, str]]:
    return live_scan(host_pool, tmp_path_factory.mktemp("scan-before"))


@pytest.fixture(scope="module")
def converge(pre_hardening: dict[str, int], scan_before: tuple[HostVerdicts, dict[str, str]],
             hosts_inventory: Path) -> Run:
    start = time.monotonic()
    result = ansible_playbook(hosts_inventory)
    run = Run(result, time.monotonic() - start)
    print(f"\nconverge: {run.seconds:.1f}s")
    return run


@pytest.fixture(scope="module")
def second_run(converge: Run, hosts_inventory: Path) -> Run:
    assert converge.result.returncode == 0, converge.explain()
    start = time.monotonic()
    result = ansible_playbook(hosts_inventory)
    run = Run(result, time.monotonic() - start)
    print(f"\nsecond run: {run.seconds:.1f}s")
    return run


@dataclass
class Hardened:
    host: TestHost
    level: int
    expect: dict[str, Any]
    ti: Any  # testinfra.host.Host

    def sshd(self) -> dict[str, str]:
        effective: dict[str, str] = {}
        for line in self.ti.check_output("/usr/sbin/sshd -T").splitlines():
            key, _, value = line.partition(" ")
            effective.setdefault(key, value)
        return effective

    def file(self, path: str) -> str:
        return str(self.ti.file(path).content_string)


@pytest.fixture(scope="module", params=[spec.name for spec in SPECS])
def hardened(request: pytest.FixtureRequest, host_pool: HostPool, second_run: Run) -> Hardened:
    host = host_pool.host(request.param)
    ti = testinfra.get_host(
        host.testinfra_url(),
        ssh_identity_file=str(host.key_path),
        sudo=True,
        ssh_extra_args=(
            f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={host.known_hosts} "
            "-o IdentitiesOnly=yes -o LogLevel=ERROR"
        ),
    )
    return Hardened(host=host, level=host.level, expect=EXPECTED[host.level], ti=ti)


# ------------------------------------------------------------------------------------ the runs
def test_converge_succeeds_on_every_host(converge: Run, host_pool: HostPool) -> None:
    assert converge.result.returncode == 0, converge.explain()
    recap = converge.recap
    for host in host_pool.hosts:
        assert host.name in recap, converge.explain()
        assert recap[host.name]["failed"] == 0 and recap[host.name]["unreachable"] == 0
        assert recap[host.name]["changed"] > 0


def test_task_names_carry_the_clause_of_each_level(converge: Run, host_pool: HostPool) -> None:
    for level in {host.level for host in host_pool.hosts}:
        clause = EXPECTED[level]["clause"]
        out = converge.result.stdout
        assert re.search(rf"TASK \[ssh_hardening : PATCH \| .* \| {re.escape(clause)}\.4\.1\.c\]", out)
        assert re.search(rf"TASK \[os_hardening : PATCH \| .* \| {re.escape(clause)}\.4\.1\.b\]", out)
        if level >= 3:
            c = re.escape(clause)
            assert re.search(rf"TASK \[integrity : PATCH \| Initialise the AIDE database .* \| {c}\.4\.4\.f\]", out)
            assert re.search(rf"TASK \[os_hardening : PATCH \| No unencrypted swap .* \| {c}\.4\.10\.a\]", out)
        else:  # level 2 numbers 剩余信息保护 7.1.4.9 (no 数据保密性)
            assert re.search(r"TASK \[os_hardening : PATCH \| No unencrypted swap .* \| 7\.1\.4\.9\.a\]", out)


def test_second_run_changes_nothing(second_run: Run, host_pool: HostPool) -> None:
    assert second_run.result.returncode == 0, second_run.explain()
    recap = second_run.recap
    for host in host_pool.hosts:
        # every task or handler block with a changed line (also loop items after ok/skipping ones)
        blocks = re.split(r"\n(?=(?:TASK|RUNNING HANDLER) \[)", second_run.result.stdout)
        changed = [block[:600] for block in blocks if re.search(r"^changed: ", block, re.M)]
        assert recap[host.name]["changed"] == 0, changed
        assert recap[host.name]["failed"] == 0


# ------------------------------------------------------------------------- remote management
def test_operator_key_login_still_works(hardened: Hardened) -> None:
    result = hardened.host.ssh("id -un")
    assert result.returncode == 0 and result.stdout.strip() == hardened.host.ssh_user


def test_password_login_is_refused(hardened: Hardened, pre_hardening: dict[str, int], tmp_path: Path) -> None:
    assert pre_hardening[hardened.host.name] == 0, "password login must have worked before hardening"
    for user, password in (
        (hardened.host.ssh_user, hardened.host.operator_password),
        ("root", hardened.host.root_password),
    ):
        result = password_login(hardened.host, user, password, tmp_path)
        assert result.returncode != 0, f"{user} logged in with a password"
        offered = re.findall(r"Authentications that can continue: (\S+)", result.stderr)
        assert offered and set(offered) == {"publickey"}, result.stderr[-1500:]


def test_batch_mode_password_probe_sees_publickey_only(hardened: Hardened) -> None:
    result = subprocess.run(
        [
            "ssh",
            "-v",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={hardened.host.known_hosts}",
            f"root@{hardened.host.address}",
            "true",
        ],
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Authentications that can continue: publickey\n" in result.stderr


def test_effective_sshd_configuration(hardened: Hardened) -> None:
    eff, exp = hardened.sshd(), hardened.expect
    assert eff["passwordauthentication"] == "no"
    assert eff["kbdinteractiveauthentication"] == "no"
    assert eff["permitemptypasswords"] == "no"
    assert eff["pubkeyauthentication"] == "yes"
    assert eff["authenticationmethods"] == "publickey"
    assert eff["permitrootlogin"] == exp["permitrootlogin"]
    assert eff["ciphers"] == exp["ciphers"]
    assert eff["macs"] == exp["macs"]
    assert "diffie-hellman-group1-sha1" not in eff["kexalgorithms"]
    assert "sha1" not in eff["kexalgorithms"]
    assert eff["kexalgorithms"].startswith("sntrup761x25519-sha512@openssh.com,curve25519-sha256")
    assert int(eff["clientaliveinterval"]) == exp["clientaliveinterval"]
    assert int(eff["clientalivecountmax"]) == 3
    assert int(eff["maxauthtries"]) == exp["maxauthtries"]
    assert eff["x11forwarding"] == "no"
    assert eff["allowagentforwarding"] == "no"
    assert eff["allowtcpforwarding"] == exp["allowtcpforwarding"]
    assert eff["permituserenvironment"] == "no"
    assert eff["loglevel"] == "VERBOSE"
    assert eff["banner"] == "/etc/issue.net"
    assert int(eff["maxsessions"]) == exp["maxsessions"]
    assert "protocol" not in hardened.file("/etc/ssh/sshd_config.d/00-xzgov-hardening.conf").lower()
    dropin = hardened.ti.file("/etc/ssh/sshd_config.d/00-xzgov-hardening.conf")
    assert dropin.exists and dropin.mode == 0o600 and dropin.user == "root"


# ------------------------------------------------------------------ identification and auth
def test_password_quality_and_history(hardened: Hardened) -> None:
    conf = hardened.file("/etc/security/pwquality.conf.d/50-xzgov.conf")
    assert re.search(rf"^minlen = {hardened.expect['minlen']}$", conf, re.M)
    assert re.search(rf"^minclass = {hardened.expect['minclass']}$", conf, re.M)
    assert re.search(r"^enforce_for_root$", conf, re.M)
    password = hardened.file("/etc/pam.d/common-password")
    assert re.search(r"^password\s+requisite\s+pam_pwquality\.so", password, re.M)
    remember = hardened.expect["remember"]
    assert re.search(rf"^password\s+requisite\s+pam_pwhistory\.so remember={remember}\b", password, re.M)
    # pwhistory sits between pwquality and pam_unix
    order = re.findall(r"^password\s.*?\b(pam_\w+)\.so", password, re.M)
    assert order.index("pam_pwquality") < order.index("pam_pwhistory") < order.index("pam_unix")


def test_login_failure_lockout(hardened: Hardened) -> None:
    auth = hardened.file("/etc/pam.d/common-auth")
    lines = [line for line in auth.splitlines() if line.startswith("auth")]
    modules = [re.search(r"\b(pam_\w+)\.so", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert modules[:3] == ["pam_faillock", "pam_unix", "pam_faillock"], lines
    assert "preauth" in lines[0] and "authfail" in lines[2]
    assert "nullok" not in auth
    account = hardened.file("/etc/pam.d/common-account")
    assert re.search(r"^account\s+required\s+pam_faillock\.so", account, re.M)
    conf = hardened.file("/etc/security/faillock.conf")
    assert re.search(rf"^deny = {hardened.expect['deny']}$", conf, re.M)
    assert re.search(rf"^unlock_time = {hardened.expect['unlock_time']}$", conf, re.M)
    assert re.search(r"^audit$", conf, re.M)
    assert hardened.ti.run("faillock --user root").rc == 0
    # the package's pam_unix profile is diverted: a libpam-runtime update writes its copy, not the role's
    diverted = hardened.ti.check_output("dpkg-divert --list /usr/share/pam-configs/unix")
    assert "/usr/share/xzgov/pam-configs-unix.distrib" in diverted, diverted
    assert "nullok" not in hardened.file("/usr/share/pam-configs/unix")


def test_password_ageing(hardened: Hardened) -> None:
    defs = hardened.file("/etc/login.defs")
    assert re.search(rf"^PASS_MAX_DAYS\s+{hardened.expect['pass_max_days']}$", defs, re.M)
    assert re.search(r"^PASS_MIN_DAYS\s+1$", defs, re.M)
    assert re.search(r"^PASS_WARN_AGE\s+14$", defs, re.M)
    assert re.search(r"^UMASK\s+027$", defs, re.M)
    # existing accounts with a password (root and the operator have one on the test hosts)
    for user in ("root", hardened.host.ssh_user):
        fields = hardened.ti.check_output(f"getent shadow {user}").split(":")
        assert fields[1].startswith("$")
        assert int(fields[4]) == hardened.expect["pass_max_days"], fields
        assert int(fields[3]) == 1 and int(fields[5]) == 14


def test_no_empty_passwords_and_unique_ids(hardened: Hardened) -> None:
    shadow = hardened.ti.check_output("getent shadow").splitlines()
    assert [line for line in shadow if line.split(":")[1] == ""] == []
    uids = [line.split(":")[2] for line in hardened.ti.check_output("getent passwd").splitlines()]
    assert len(uids) == len(set(uids))


def test_idle_timeout_and_umask_in_login_shells(hardened: Hardened) -> None:
    result = hardened.host.ssh("bash -lc 'echo $TMOUT; umask; readonly -p | grep -c TMOUT'")
    tmout, umask, readonly = result.stdout.split()
    assert int(tmout) == hardened.expect["tmout"]
    assert umask == "0027"
    assert readonly == "1"
    # an interactive bash that reads no profile (a child shell, `ssh -t host bash`) has it read-only too
    child = hardened.host.ssh("bash -i -c 'unset TMOUT && echo unset'")
    assert "unset" not in child.stdout.split() and "readonly variable" in child.stderr, child.stdout + child.stderr


# ------------------------------------------------------------------------------ access control
def test_system_accounts_locked_and_without_shell(hardened: Hardened) -> None:
    passwd = {ln.split(":")[0]: ln.split(":") for ln in hardened.ti.check_output("getent passwd").splitlines()}
    shadow = {ln.split(":")[0]: ln.split(":") for ln in hardened.ti.check_output("getent shadow").splitlines()}
    checked = 0
    for name, fields in passwd.items():
        uid = int(fields[2])
        if (uid < 1000 or uid == 65534) and name not in ("root", "sync"):
            assert fields[6] in ("/usr/sbin/nologin", "/bin/false"), (name, fields[6])
            assert shadow[name][1][:1] in ("!", "*"), name
            checked += 1
    assert checked >= 15


def test_su_is_for_the_administrators_group_only(hardened: Hardened) -> None:
    su = [line.split() for line in hardened.file("/etc/pam.d/su").splitlines() if line.strip().startswith("auth")]
    modules = [words[2] for words in su]
    assert modules.index("pam_rootok.so") < modules.index("pam_wheel.so"), su  # root passes first
    assert su[modules.index("pam_wheel.so")][1:] == ["required", "pam_wheel.so", "use_uid", "group=sudo"], su


def test_sudo_least_privilege(hardened: Hardened) -> None:
    defaults = hardened.ti.file("/etc/sudoers.d/00-xzgov-defaults")
    assert defaults.mode == 0o440 and defaults.user == "root"
    assert "Defaults\tuse_pty" in defaults.content_string
    assert 'logfile="/var/log/sudo.log"' in defaults.content_string
    assert hardened.ti.run("visudo -c").rc == 0
    for entry in hardened.ti.check_output("ls /etc/sudoers.d").split():
        assert hardened.ti.file(f"/etc/sudoers.d/{entry}").mode == 0o440


def test_sudo_rights_per_administrator_role(hardened: Hardened) -> None:
    roles = {"audit-admin": ("xzgov-audit-admins", "/usr/local/sbin/xzgov-audit-read *"),
             "security-admin": ("xzgov-security-admins", "/usr/sbin/nft list ruleset")}
    for name, (group, command) in roles.items():
        f = hardened.ti.file(f"/etc/sudoers.d/20-xzgov-role-{name}")
        if hardened.level < 3:
            assert not f.exists
            continue
        assert f.exists and f.mode == 0o440 and f"%{group} ALL=(root) XZGOV_" in f.content_string
        user = f"xzt{name.split('-')[0]}"
        hardened.host.sudo(f"id {user} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin -G {group} {user}",
                           check=True)
        try:
            rights = hardened.ti.check_output(f"sudo -n -l -U {user}")
            assert command in rights, rights
            assert not re.search(r"\)\s+(NOPASSWD:\s*)?ALL\s*$", rights, re.M), rights  # not a full root
            assert "journalctl" not in rights and "ausearch" not in rights, rights  # only through the wrapper
        finally:
            hardened.host.sudo(f"userdel {user}")
    if hardened.level >= 3:
        # the audit reader: installed root-owned, read options pass to the real tool, destructive ones are refused
        reader = hardened.ti.file("/usr/local/sbin/xzgov-audit-read")
        assert reader.exists and reader.user == "root" and reader.mode == 0o755
        reads = hardened.ti.run("/usr/local/sbin/xzgov-audit-read journal -n 1 -o short-iso")
        assert reads.rc == 0, reads.stderr
        vacuum = hardened.ti.run("/usr/local/sbin/xzgov-audit-read journal --vacuum-time=1s")
        assert vacuum.rc == 2 and "refused" in vacuum.stderr, vacuum.stderr


def test_minimal_installation_lists_what_it_removed(converge: Run, host_pool: HostPool) -> None:
    out = " ".join(converge.result.stdout.split())
    assert re.search(rf"{host_pool.hosts[0].name}: .{{0,120}}removed unneeded packages: [^']*\b{UNNEEDED_PACKAGE}\b",
                     out), out[-3000:]


@pytest.mark.parametrize(
    ("path", "mode", "group"),
    [
        ("/etc/passwd", 0o644, "root"),
        ("/etc/group", 0o644, "root"),
        ("/etc/shadow", 0o640, "shadow"),
        ("/etc/gshadow", 0o640, "shadow"),
        ("/etc/sudoers", 0o440, "root"),
        ("/etc/ssh/sshd_config", 0o600, "root"),
        ("/etc/ssh/ssh_host_ed25519_key", 0o600, "root"),
    ],
)
def test_sensitive_file_permissions(hardened: Hardened, path: str, mode: int, group: str) -> None:
    f = hardened.ti.file(path)
    assert f.exists and f.user == "root" and f.group == group and f.mode == mode


def test_operator_home_is_private(hardened: Hardened) -> None:
    mode = hardened.ti.file(f"/home/{hardened.host.ssh_user}").mode
    assert not mode & (stat.S_IWGRP | stat.S_IRWXO)


# ------------------------------------------------------------------ process and file hygiene (issue 17)
def test_password_hashing_cost(hardened: Hardened) -> None:
    cost = hardened.expect["yescrypt_cost"]
    defs = hardened.file("/etc/login.defs")
    assert re.search(r"^ENCRYPT_METHOD\s+YESCRYPT$", defs, re.M)
    assert re.search(rf"^YESCRYPT_COST_FACTOR\s+{cost}$", defs, re.M)
    # Debian 12's pam_unix reads no YESCRYPT_COST_FACTOR: the cost is the rounds= of its line (measured on this
    # rootfs: `$y$j9T$`, cost 5, with the factor alone; `$y$jCT$` with rounds=8; the scan reads the same line)
    assert re.search(rf"pam_unix\.so.*\byescrypt rounds={cost}\b", hardened.file("/etc/pam.d/common-password"))


def test_cron_and_at_are_root_only(hardened: Hardened) -> None:
    for path in ("/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly", "/etc/cron.weekly", "/etc/cron.monthly"):
        f = hardened.ti.file(path)
        if f.exists:
            assert f.user == "root" and f.mode == 0o700, path
    for path in ("/etc/cron.allow", "/etc/at.allow"):
        f = hardened.ti.file(path)
        assert f.exists and f.user == "root" and f.mode == 0o600 and f.content_string == "root\n", path
    # the operator can no longer install a crontab (only root is in cron.allow)
    if hardened.host.ssh("command -v crontab").returncode == 0:
        refused = hardened.host.ssh("echo '0 0 * * * true' | crontab - 2>&1")
        assert refused.returncode != 0 and "not allowed" in refused.stdout, refused.stdout


def test_legal_notice_on_login_terminals(hardened: Hardened) -> None:
    for path in ("/etc/issue", "/etc/issue.net"):
        text = hardened.file(path)
        assert "授权" in text and "Authorised" in text, path


# ------------------------------------------------------- mandatory access control (x.1.4.2.f/g, level 3+)
def test_apparmor_profiles_for_exposed_services(hardened: Hardened) -> None:
    if hardened.level < 3:
        assert not hardened.ti.package("apparmor").is_installed
        return
    assert hardened.ti.package("apparmor").is_installed
    for profile in ("usr.sbin.chronyd", "usr.sbin.rsyslogd", "usr.sbin.sshd"):
        assert hardened.ti.file(f"/etc/apparmor.d/{profile}").exists, profile
        assert not hardened.ti.file(f"/etc/apparmor.d/disable/{profile}").exists, profile
        compiled = hardened.ti.run(f"apparmor_parser --skip-kernel-load --skip-cache /etc/apparmor.d/{profile}")
        assert compiled.rc == 0, (profile, compiled.stderr)
    assert "flags=(complain,attach_disconnected)" in hardened.file("/etc/apparmor.d/usr.sbin.sshd")
    assert hardened.ti.service("apparmor").is_enabled
    # a broken profile is caught by the same check the role runs (it must be able to fail)
    broken = hardened.ti.run("sh -c 'printf \"profile x /bin/x { /etc/ rw,, }\\n\" > /tmp/x.aa && "
                             "apparmor_parser --skip-kernel-load --skip-cache /tmp/x.aa'")
    assert broken.rc != 0


# ------------------------------------------------------------ malicious code prevention (x.1.4.5, level 3+)
# The EICAR anti-virus test file, assembled here so that this source file itself is not a test signature.
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def test_malware_scanner_detects_with_local_signatures(hardened: Hardened) -> None:
    if hardened.level < 3:
        assert not hardened.ti.package("clamav").is_installed
        return
    assert hardened.ti.package("clamav").is_installed
    assert hardened.ti.file("/var/lib/clamav/xzgov-local.hdb").exists
    assert hardened.ti.service("xzgov-malware-scan.timer").is_enabled
    assert not hardened.ti.service("clamav-freshclam").is_enabled  # no regional mirror in the test region
    # and freshclam never ran: the package's maintainer script would have started it at installation (towards the
    # public database.clamav.net); the role masked it meanwhile under /run, and the mask is gone
    assert not hardened.ti.file("/run/systemd/system/clamav-freshclam.service").exists
    assert hardened.ti.check_output("systemctl show --property=LoadState clamav-freshclam") == "LoadState=loaded"
    journal = hardened.ti.run("journalctl --quiet --no-pager --output=cat --unit=clamav-freshclam.service")
    assert journal.rc == 0 and "Started" not in journal.stdout, journal.stdout
    updates = hardened.ti.file("/var/log/clamav/freshclam.log")
    assert not updates.exists or "update process started" not in updates.content_string, updates.content_string
    unit = hardened.file("/etc/systemd/system/xzgov-malware-scan.service")
    assert "clamscan --recursive --infected" in unit and "/home" in unit
    sample = f"/tmp/xzgov-eicar-{time.time_ns()}"
    hardened.host.ssh(f"printf '%s' '{EICAR}' > {sample}.com && printf 'clean' > {sample}.txt", check=True)
    try:
        found = hardened.ti.run(f"clamscan --no-summary {sample}.com")
        assert found.rc == 1 and "Xzgov.Test.EICAR" in found.stdout and "FOUND" in found.stdout, found.stdout
        clean = hardened.ti.run(f"clamscan --no-summary {sample}.txt")
        assert clean.rc == 0, clean.stdout
    finally:
        hardened.host.ssh(f"rm -f {sample}.com {sample}.txt")


# ------------------------------------------------------------------ known vulnerabilities (x.1.4.4.e)
def test_security_updates_source_and_unattended_upgrades(hardened: Hardened) -> None:
    sources = hardened.file("/etc/apt/sources.list.d/xzgov-security.sources")
    assert "Suites: bookworm-security" in sources and "URIs: http://deb.debian.org/debian-security" in sources
    assert hardened.ti.package("unattended-upgrades").is_installed
    config = hardened.ti.check_output(
        "apt-config shell U APT::Periodic::Unattended-Upgrade R Unattended-Upgrade::Automatic-Reboot "
        "T Unattended-Upgrade::Automatic-Reboot-Time")
    assert "U='1'" in config and "T='03:30'" in config
    assert ("R='true'" in config) is (hardened.level >= 3)
    assert hardened.ti.service("apt-daily-upgrade.timer").is_enabled
    # unattended-upgrades accepts the configuration and would upgrade from the security suite only
    dry = hardened.ti.run("unattended-upgrade --dry-run --debug 2>&1 | head -40")
    assert dry.rc == 0 and "Allowed origins are:" in dry.stdout and "security" in dry.stdout, dry.stdout
    # the security suite only: the package's 50unattended-upgrades added the main suite before the role's #clear
    patterns = [line for line in hardened.ti.check_output("apt-config dump").splitlines()
                if line.startswith("Unattended-Upgrade::Origins-Pattern::")]
    assert len(patterns) == 1 and "-security" in patterns[0], patterns


# -------------------------------------------------------------------------- intrusion prevention
def test_unneeded_packages_removed(hardened: Hardened) -> None:
    for name in (UNNEEDED_PACKAGE, "inetutils-telnet", "rsh-client", "telnetd", "nis", "avahi-daemon"):
        assert not hardened.ti.package(name).is_installed, name


NETWORK_SYSCTLS = {
    "net.ipv4.ip_forward": "0",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.log_martians": "1",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv6.conf.all.accept_ra": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
}


def test_network_sysctls_live(hardened: Hardened) -> None:
    for key, value in NETWORK_SYSCTLS.items():
        assert hardened.ti.check_output(f"sysctl -n {key}") == value, key
        assert f"{key} = {value}" in hardened.file("/etc/sysctl.d/60-xzgov-network.conf")


def test_kernel_sysctls_written(hardened: Hardened) -> None:
    # The runner's kernel owns these inside a container: check the file; a VM loads it at boot.
    conf = hardened.file("/etc/sysctl.d/60-xzgov-kernel.conf")
    for line in (
        "kernel.randomize_va_space = 2",
        "kernel.kptr_restrict = 2",
        "kernel.dmesg_restrict = 1",
        "fs.suid_dumpable = 0",
        "fs.protected_symlinks = 1",
        "kernel.yama.ptrace_scope = 1",
        "kernel.core_uses_pid = 1",
        "fs.protected_fifos = 2",
        "fs.protected_regular = 2",
    ):
        assert line in conf
    assert "install cramfs /bin/false" in hardened.file("/etc/modprobe.d/60-xzgov-disabled.conf")


def test_nftables_default_deny_ruleset(hardened: Hardened) -> None:
    ruleset = json.loads(hardened.ti.check_output("nft -j list table inet xzgov"))["nftables"]
    chains = {item["chain"]["name"]: item["chain"] for item in ruleset if "chain" in item}
    assert chains["input"]["policy"] == "drop"
    assert chains["forward"]["policy"] == "drop"
    assert chains["output"]["policy"] == "drop"
    text = hardened.ti.check_output("nft list table inet xzgov")
    runner = hardened.host.runner_address
    assert re.search(rf"set management_v4 \{{[^}}]*elements = \{{ {re.escape(runner)} \}}", text, re.S)
    assert "ip saddr @management_v4 tcp dport 22 ct state new accept" in text
    for port, proto in ((3142, "tcp"), (123, "udp"), (6514, "tcp")):
        assert f"ip daddr {runner} {proto} dport {port} accept" in text
    assert ("xzgov-drop-in" in text) is hardened.expect["drop_log"]
    assert hardened.ti.service("nftables").is_enabled
    assert 'include "/etc/nftables.d/*.nft"' in hardened.file("/etc/nftables.conf")


@pytest.fixture
def runner_listener(hardened: Hardened) -> Iterator[int]:
    """A TCP listener on the runner side of the host's veth, on a port no flow allows."""
    server = socket.create_server((hardened.host.runner_address, 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_firewall_drops_unlisted_traffic_both_ways(hardened: Hardened, runner_listener: int) -> None:
    # in: a closed port answers nothing at all (dropped, not refused)
    with pytest.raises(TimeoutError):
        socket.create_connection((hardened.host.address, 8080), timeout=3)
    # out: a listening runner port outside the flows is unreachable; an allowed flow works
    probe = "timeout 5 bash -c 'exec 3<>/dev/tcp/{addr}/{port}' && echo open || echo closed"
    blocked = hardened.host.ssh(probe.format(addr=hardened.host.runner_address, port=runner_listener))
    allowed = hardened.host.ssh(probe.format(addr=hardened.host.runner_address, port=3142))
    assert blocked.stdout.strip() == "closed"
    assert allowed.stdout.strip() == "open"


# -------------------------------------------------------------------------------- time and logs
def test_chrony_uses_only_the_region_time_source(hardened: Hardened) -> None:
    runner = hardened.host.runner_address
    sources = hardened.file("/etc/chrony/sources.d/xzgov.sources")
    assert re.search(rf"^server {re.escape(runner)} iburst", sources, re.M)
    main = hardened.file("/etc/chrony/chrony.conf")
    assert not re.search(r"^(pool|server|makestep)\s", main, re.M)  # chrony keeps a directive's last value
    assert hardened.ti.service("chrony").is_running
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        out = hardened.ti.check_output("chronyc -n sources")
        line = next((ln for ln in out.splitlines() if runner in ln), "")
        if line.startswith("^*") or line.startswith("^+"):
            break
        time.sleep(2)
    assert line.startswith(("^*", "^+")), f"chrony has not selected {runner}: {line!r}"
    assert len([ln for ln in hardened.ti.check_output("chronyc -n sources").splitlines() if ln.startswith("^")]) == 1


def test_logs_reach_the_log_centre_over_tls(hardened: Hardened, host_pool: HostPool) -> None:
    conf = hardened.file("/etc/rsyslog.d/60-xzgov-forward.conf")
    for needle in (
        'type="omfwd"',
        'StreamDriver="gtls"',
        'StreamDriverMode="1"',
        'StreamDriverAuthMode="x509/name"',
        f'target="{hardened.host.runner_address}"',
        'port="6514"',
        'StreamDriver.CAFile="/etc/ssl/xzgov/log-ca.pem"',
    ):
        assert needle in conf
    assert hardened.ti.package("rsyslog-gnutls").is_installed
    assert hardened.ti.service("rsyslog").is_running
    marker = f"xzgov-forward-probe-{hardened.host.name}-{time.time_ns()}"
    hardened.host.ssh(f"logger -t xzgov-test {marker}")
    assert host_pool.syslog is not None
    message = host_pool.syslog.wait_for(marker, timeout=45)
    assert message is not None, "message did not arrive at the TLS receiver"
    assert hardened.host.name in message


def test_local_log_retention(hardened: Hardened) -> None:
    """The role's own stanza for rsyslog's files; the package's is diverted (two stanzas for one file conflict)."""
    rotate = hardened.file("/etc/logrotate.d/xzgov-rsyslog")
    assert re.search(r"^\s*rotate 180$", rotate, re.M)
    assert re.search(r"^\s*maxage 180$", rotate, re.M)
    assert re.search(r"^\s*daily$", rotate, re.M)
    assert not re.search(r"^\s*weekly$", rotate, re.M)
    assert not hardened.ti.file("/etc/logrotate.d/rsyslog").exists
    debug = hardened.ti.run("logrotate -d /etc/logrotate.conf")
    assert "duplicate log entry" not in debug.stdout + debug.stderr


# -------------------------------------------------------------------------------------- audit
def test_audit_rules_and_configuration(hardened: Hardened) -> None:
    rules = hardened.ti.check_output("cat /etc/audit/rules.d/*.rules")
    for key in ("identity", "logins", "session", "scope", "time-change", "auditconfig", "modules"):
        assert f"-k {key}" in rules, key
    assert "-w /etc/shadow -p wa -k identity" in rules
    assert "-S adjtimex,clock_adjtime,settimeofday,clock_settime -k time-change" in rules
    assert ("-k privileged" in rules) is hardened.expect["privileged_rules"]
    compiled = hardened.file("/etc/audit/audit.rules")
    assert "-w /etc/passwd -p wa -k identity" in compiled
    # augenrules keeps the last -f/-b of rules.d in `ls -1v` order: the level's, not the package's audit.rules
    # (-f 1), which sorted after 10-xzgov-base.rules and took level 4's -f 2 away
    assert re.findall(r"^-f (\d)$", compiled, re.M) == [str({1: 1, 2: 1, 3: 1, 4: 2}[hardened.level])], compiled[:300]
    assert re.findall(r"^-b (\d+)$", compiled, re.M) == ["8192"]
    conf = hardened.file("/etc/audit/auditd.conf")
    assert re.search(rf"^max_log_file_action = {hardened.expect['max_log_file_action']}$", conf, re.M)
    assert re.search(rf"^disk_full_action = {hardened.expect['disk_full_action']}$", conf, re.M)
    assert "active = yes" in hardened.file("/etc/audit/plugins.d/syslog.conf")
    assert hardened.ti.service("auditd").is_enabled


def test_auditd_running(hardened: Hardened) -> None:
    status = hardened.ti.run("sh -c 'auditctl -s 2>&1'")
    if status.rc != 0:
        pytest.skip(
            f"the runner's kernel has no audit support (auditctl -s: {' / '.join(status.stdout.split(chr(10)))}): "
            "auditd's configuration and rules are verified, its running state cannot be"
        )
    assert hardened.ti.service("auditd").is_running
    assert "-k identity" in hardened.ti.check_output("auditctl -l")


def test_package_integrity_verification(hardened: Hardened) -> None:
    assert hardened.ti.package("debsums").is_installed
    assert hardened.ti.service("xzgov-integrity.timer").is_enabled
    # only debsums' own output (stdout and stderr merged on the host), not the SSH client's
    result = hardened.ti.run("sh -c 'debsums --silent 2>&1'")
    findings = [ln for ln in result.stdout.splitlines() if "/usr/share/pam-configs/unix" not in ln]
    assert findings == []


# ------------------------------------------------- intrusion detection, /proc, /tmp, residual information
def test_intrusion_detection_reports_a_changed_file(hardened: Hardened, host_pool: HostPool) -> None:
    # 8.1.4.4.f from level 3: AIDE database of the hardened host, daily check, report to syslog, alert on change.
    if hardened.level < 3:
        assert not hardened.ti.package("aide").is_installed
        return
    ti = hardened.ti
    assert ti.package("aide").is_installed
    assert ti.file("/var/lib/aide/xzgov-aide.db").is_file
    assert ti.file("/var/lib/aide/xzgov-aide.db").mode == 0o600
    assert ti.service("xzgov-aide-check.timer").is_enabled
    assert "OnFailure=xzgov-aide-alert.service" in ti.check_output("systemctl show -p OnFailure xzgov-aide-check")
    # Earlier tests changed accounts (/etc/passwd, /etc/shadow, /etc/subuid ...) since the baseline; the operator
    # reviews and accepts such changes by rebuilding the database. Then the check is clean.
    ti.run_test("/usr/local/sbin/xzgov-aide-init --reviewed")
    clean = ti.run("systemctl start xzgov-aide-check.service")
    assert clean.rc == 0, ti.run("journalctl -u xzgov-aide-check -n 60 --no-pager").stdout
    probe = f"/usr/local/sbin/xzgov-implant-{time.time_ns()}"
    try:
        ti.run_test(f"install -m 0755 /usr/bin/true {probe}")
        changed = ti.run("systemctl start xzgov-aide-check.service")
        assert changed.rc != 0
        report = ti.check_output("journalctl -t xzgov-aide -n 200 --no-pager")
        assert probe in report, report[-3000:]
        # the alert and the report reach the log centre over TLS
        assert host_pool.syslog is not None
        alert = host_pool.syslog.wait_for(f"INTRUSION ALERT: AIDE found changed files or the check failed on "
                                          f"{hardened.host.name}", timeout=60)
        assert alert is not None, "the AIDE alert did not reach the log centre"
        assert host_pool.syslog.wait_for(probe, timeout=30) is not None, "the AIDE report did not reach the log centre"
        # the alert leaves a mark that outlives a reboot (the check unit's failed state does not)
        assert ti.file("/var/lib/aide/xzgov-unreviewed").exists
    finally:
        ti.run(f"rm -f {probe}")
        # the operator's acceptance after review: rebuild the database, then the check is clean again
        ti.run_test("/usr/local/sbin/xzgov-aide-init --reviewed")
    assert not ti.file("/var/lib/aide/xzgov-unreviewed").exists
    assert ti.run("systemctl start xzgov-aide-check.service").rc == 0


def test_a_new_aide_configuration_does_not_accept_unseen_changes(hardened: Hardened, hosts_inventory: Path) -> None:
    """The role rebuilds the AIDE database when its configuration changes: whatever changed since the last check
    went into the baseline unseen. The last database now checks the host first, and what it finds stays for
    review (the mark the live scan fails on) after the rebuild."""
    if hardened.level < 3:
        return
    ti = hardened.ti
    ti.run_test("/usr/local/sbin/xzgov-aide-init --reviewed")
    assert not ti.file("/var/lib/aide/xzgov-unreviewed").exists
    probe = f"/usr/local/sbin/xzgov-laundered-{time.time_ns()}"
    defaults = ["/etc/mtab", "/etc/adjtime", "/etc/ld.so.cache", "/etc/machine-id", "/etc/resolv.conf",
                "/etc/.pwd.lock", "/etc/apparmor.d/cache"]

    def integrity(exclude: list[str]) -> subprocess.CompletedProcess[str]:
        return ansible_playbook(hosts_inventory, "--tags", "aide", "--limit", hardened.host.name,
                                "-e", json.dumps({"integrity_aide_exclude": exclude}))

    try:
        ti.run_test(f"install -m 0755 /usr/bin/true {probe}")
        run = integrity([*defaults, "/etc/xzgov-not-there"])  # a changed watched set: the database is rebuilt
        assert run.returncode == 0, run.stdout[-4000:]
        assert "found changes (or its check failed) before this run rebuilds" in " ".join(run.stdout.split())
        assert ti.file("/var/lib/aide/xzgov-unreviewed").exists  # not laundered into the new baseline
        assert probe in ti.check_output("journalctl -t xzgov-aide -n 300 --no-pager")
        assert "/etc/xzgov-not-there" in hardened.file("/etc/aide/xzgov-aide.conf")
    finally:
        ti.run(f"rm -f {probe}")
        integrity(defaults)
        ti.run_test("/usr/local/sbin/xzgov-aide-init --reviewed")
    assert "/etc/xzgov-not-there" not in hardened.file("/etc/aide/xzgov-aide.conf")
    assert ti.run("systemctl start xzgov-aide-check.service").rc == 0


def test_a_late_include_is_put_first_and_a_refused_rewrite_loses_nothing(hardened: Hardened,
                                                                          hosts_inventory: Path) -> None:
    """Settings before the Include of the drop-ins win over the hardening (sshd keeps the first value): the role
    puts the Include first, keeping every other line. The rewrite is one write validated by sshd -t: when sshd
    refuses it, sshd_config stays as it was (two steps left it without any Include)."""
    if hardened.level != 3:
        pytest.skip("one level is enough: the ssh_hardening tasks of the Include are the same at every level")
    ti = hardened.ti
    config = "/etc/ssh/sshd_config"
    original = hardened.file(config)
    include = "Include /etc/ssh/sshd_config.d/*.conf"
    assert original.splitlines()[0] == include or include in original

    def ssh_role() -> subprocess.CompletedProcess[str]:
        run = ansible_playbook(hosts_inventory, "--tags", "ssh", "--limit", hardened.host.name)
        wait_for_ssh(hardened.host, timeout=60)  # a reload re-executes sshd: port 22 is briefly closed
        return run

    def write(text: str) -> None:
        ti.run_test(f"printf %s {shlex.quote(text)} > {config}")

    try:
        late = "X11Forwarding yes\n" + "\n".join(line for line in original.splitlines() if line != include)
        write(late + f"\n{include}\n")
        run = ssh_role()
        assert run.returncode == 0, run.stdout[-4000:]
        rewritten = hardened.file(config).splitlines()
        assert rewritten[0] == include and rewritten.count(include) == 1 and "X11Forwarding yes" in rewritten
        assert hardened.sshd()["x11forwarding"] == "no"
        assert ti.file(config).mode == 0o600
        refused = late + f"\n{include}\nNoSuchDirective yes\n"
        write(refused)
        run = ssh_role()
        assert run.returncode != 0
        assert hardened.file(config) == refused  # unchanged: the Include not lost
        assert hardened.host.ssh("sudo -n true").returncode == 0  # the running sshd still serves the operator
    finally:
        write(original)
        ti.run_test("systemctl reload ssh")
        # sshd re-executes itself on SIGHUP and refuses connections meanwhile: the next test met that window
        wait_for_ssh(hardened.host, timeout=60)


def _mount_options(hardened: Hardened, target: str) -> set[str]:
    return set(hardened.ti.check_output(f"findmnt -rn -o OPTIONS {target} | tail -n 1").strip().split(","))


def test_proc_hides_other_users_processes(hardened: Hardened) -> None:
    ti = hardened.ti
    gid = ti.group("xzgov-procmon").gid
    fstab = hardened.file("/etc/fstab")
    assert re.search(rf"^proc /proc proc nosuid,nodev,noexec,hidepid=invisible,gid={gid} 0 0$", fstab, re.M)
    options = _mount_options(hardened, "/proc")
    assert {"nosuid", "nodev", "noexec", "hidepid=invisible", f"gid={gid}"} <= options, options
    # the operator (not root) no longer sees PID 1 ...
    assert hardened.host.ssh("test -e /proc/1").returncode != 0
    assert hardened.host.ssh("ps -e -o pid= | wc -l").stdout.strip() != ""
    # ... a monitoring agent in the group does, and the operator keeps sudo and SSH
    assert ti.run(f"setpriv --reuid=nobody --regid=nogroup --groups={gid} test -r /proc/1/status").rc == 0
    assert ti.run("setpriv --reuid=nobody --regid=nogroup --clear-groups test -e /proc/1").rc != 0
    assert hardened.host.ssh("sudo -n true").returncode == 0


def test_shm_and_tmp_mount_options(hardened: Hardened) -> None:
    ti = hardened.ti
    fstab = hardened.file("/etc/fstab")
    assert re.search(r"^tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0$", fstab, re.M)
    assert re.search(r"^tmpfs /tmp tmpfs mode=1777,strictatime,nodev,nosuid,size=25% 0 0$", fstab, re.M)
    assert {"nodev", "nosuid", "noexec"} <= _mount_options(hardened, "/dev/shm")
    tmp = _mount_options(hardened, "/tmp")
    assert {"nodev", "nosuid"} <= tmp and "noexec" not in tmp  # noexec off by default (apt's debconf scripts)
    # a program copied to /dev/shm does not run
    ti.run_test("install -m 0755 /usr/bin/true /dev/shm/xzgov-exec-probe")
    try:
        assert ti.run("/dev/shm/xzgov-exec-probe").rc != 0
    finally:
        ti.run("rm -f /dev/shm/xzgov-exec-probe")


def test_residual_information_cleared_at_boot(hardened: Hardened) -> None:
    ti = hardened.ti
    if hardened.level < 3:  # 8.1.4.10 from level 3 (os_hardening_residual_by_level)
        assert not ti.file("/etc/tmpfiles.d/tmp.conf").exists
        return
    conf = hardened.file("/etc/tmpfiles.d/tmp.conf")
    assert re.search(r"^D /tmp 1777 root root -$", conf, re.M)
    assert re.search(r"^D /var/tmp 1777 root root 10d$", conf, re.M)
    assert not [ln for ln in hardened.file("/etc/fstab").splitlines() if re.match(r"^[^#]\S*\s+\S+\s+swap\s", ln)]
    # what systemd-tmpfiles-setup does at boot empties /var/tmp
    ti.run_test("touch /var/tmp/xzgov-residual-probe")
    ti.run_test("systemd-tmpfiles --remove --boot --prefix=/var/tmp")
    assert not ti.file("/var/tmp/xzgov-residual-probe").exists


# ------------------------------------------------------------------------------------- guard
@pytest.fixture
def guard_host(host_pool: HostPool, second_run: Run) -> Iterator[TestHost]:
    host = host_pool.hosts[-1]
    yield host
    host.sudo("for u in xznokey xznosudo xzotherkey; do id $u >/dev/null 2>&1 && userdel -r $u; done; true")


def test_guard_refuses_operator_without_key(guard_host: TestHost, hosts_inventory: Path) -> None:
    guard_host.sudo("useradd -m -s /bin/bash -G sudo xznokey", check=True)
    run = ansible_playbook(hosts_inventory, "--check", "--limit", guard_host.name, "-e", "operator_guard_user=xznokey")
    out = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "OPERATOR GUARD" in out and "has no valid authorized SSH key" in out, out[-3000:]
    assert guard_host.ssh("true").returncode == 0


def test_guard_checks_the_controller_key_on_every_run(converge: Run, second_run: Run) -> None:
    # Issue 17 defect 1: the check was delegated to localhost and always skipped.
    for run in (converge, second_run):
        block = re.search(r"TASK \[operator_guard : AUDIT \| Refuse to continue unless the controller's key is "
                          r"authorized for the operator\][^\n]*\n(.*?)\n\n", run.result.stdout, re.S)
        assert block, run.explain()
        assert "ok: [" in block.group(1) and "skipping" not in block.group(1), block.group(1)


def test_guard_refuses_when_the_controller_key_is_not_authorized(
    guard_host: TestHost, hosts_inventory: Path, tmp_path: Path
) -> None:
    # An operator with sudo and a valid authorized key, but not the key this controller connects with.
    other = tmp_path / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    public = other.with_suffix(".pub").read_text().strip()
    guard_host.sudo(
        "useradd -m -s /bin/bash -G sudo xzotherkey && install -d -m 700 -o xzotherkey -g xzotherkey "
        f"/home/xzotherkey/.ssh && printf '%s\\n' '{public}' > /home/xzotherkey/.ssh/authorized_keys && "
        "chown xzotherkey:xzotherkey /home/xzotherkey/.ssh/authorized_keys && "
        "chmod 600 /home/xzotherkey/.ssh/authorized_keys",
        check=True,
    )
    run = ansible_playbook(hosts_inventory, "--check", "--limit", guard_host.name,
                           "-e", "operator_guard_user=xzotherkey")
    out = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "OPERATOR GUARD: the key this run connects with" in out, out[-3000:]
    assert "is not in xzotherkey's authorized_keys" in out, out[-3000:]
    assert "has no valid authorized SSH key" not in out
    assert guard_host.ssh("true").returncode == 0


def test_guard_refuses_operator_without_sudo(guard_host: TestHost, hosts_inventory: Path) -> None:
    guard_host.sudo(
        "useradd -m -s /bin/bash xznosudo && install -d -m 700 -o xznosudo -g xznosudo /home/xznosudo/.ssh && "
        f"install -m 600 -o xznosudo -g xznosudo /home/{guard_host.ssh_user}/.ssh/authorized_keys "
        "/home/xznosudo/.ssh/authorized_keys",
        check=True,
    )
    run = ansible_playbook(hosts_inventory, "--check", "--limit", guard_host.name, "-e", "operator_guard_user=xznosudo")
    out = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "OPERATOR GUARD" in out and "may not run ALL commands as root through sudo" in out, out[-3000:]


def test_guard_refuses_when_controller_is_outside_management_cidrs(guard_host: TestHost, hosts_inventory: Path) -> None:
    run = ansible_playbook(
        hosts_inventory,
        "--check",
        "--limit",
        guard_host.name,
        "-e",
        json.dumps({"xzgov_management_cidrs": ["192.0.2.0/24"]}),
    )
    out = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "OPERATOR GUARD" in out and "nftables will allow SSH only on port 22 from 192.0.2.0/24" in out, out[-3000:]
    assert f"reaches {guard_host.name} from {guard_host.runner_address}" in out


# ------------------------------------------------------------------------------- the live scan


def test_live_scan_moves_host_items_from_fail_to_pass(
    scan_before: tuple[HostVerdicts, dict[str, str]], second_run: Run, host_pool: HostPool,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    before, reachable_before = scan_before
    for pool_host in host_pool.hosts:  # the time rule wants chrony synchronised to the region's source
        synced = pool_host.sudo("chronyc waitsync 60 0 0 2", timeout=180)
        assert synced.returncode == 0, (pool_host.name, synced.stdout, synced.stderr)
    after, reachable_after = live_scan(host_pool, tmp_path_factory.mktemp("scan-after"))
    probe = host_pool.hosts[0].sudo("sh -c 'auditctl -s 2>&1'")
    kernel_audit = "audit support not in kernel" not in probe.stdout and "netlink audit" not in probe.stdout
    host_rules = {rule.id for rule in rules_for_point(Point.HOST)}
    scanned = {h.name for h in host_pool.hosts if h.level in SCAN_SYSTEM_OF_LEVEL}
    assert set(reachable_before) == set(reachable_after) == scanned
    assert set(reachable_after.values()) == {"ok"}, reachable_after
    for host in scanned:
        assert set(before[host]) == set(after[host]) == host_rules
        failing_before = {rule for rule, status in before[host].items() if status is Status.FAIL}
        level = next(h.level for h in host_pool.hosts if h.name == host)
        # a fresh Debian host fails the core identification, audit, logging and time rules ... (its pam_unix hashes
        # yescrypt at cost 5: below the level's minimum from level 3, enough at levels 1 and 2)
        weak_hashing = {"XZ-HOST-PASSWORD-HASHING"} if host_threshold(
            None, "password_hash_min_yescrypt_cost", level) > PAM_UNIX_YESCRYPT_DEFAULT_COST else set()
        assert {"XZ-HOST-LOCKOUT", "XZ-HOST-PASSWORD", "XZ-HOST-IDLE-TIMEOUT", "XZ-HOST-AUDIT-RULES",
                "XZ-HOST-LOG-FORWARD", "XZ-HOST-TIME-SYNC", "XZ-HOST-KERNEL-PARAMS", *weak_hashing,
                "XZ-HOST-CRON", "XZ-HOST-SSH-SESSIONS", "XZ-HOST-LOGIN-BANNER",
                "XZ-HOST-SECURITY-UPDATES", "XZ-HOST-PROC-HIDEPID"} <= failing_before, before[host]
        # nspawn mounts /dev/shm and /tmp nodev,nosuid itself: before site.yml they are at most partial (no fstab)
        assert before[host]["XZ-HOST-TMP-MOUNTS"] in (Status.FAIL, Status.PARTIAL), before[host]
        # ... and after site.yml every host rule passes. On a kernel without audit support auditd cannot
        # run: the scan then checks the configured rules and reports the running state as unverifiable.
        not_passing = {rule: status.value for rule, status in after[host].items() if status is not Status.PASS}
        # rules whose items do not exist at this host's level answer not-applicable, and only those do
        outside = {rule.id for rule in rules_for_point(Point.HOST) if level not in rule.levels}
        assert {rule for rule in outside if after[host][rule] is not Status.NOT_APPLICABLE} == set(), after[host]
        for rule in outside:
            not_passing.pop(rule)
        # Kernel-wide sysctls belong to the runner's kernel inside a container: the scan checks the configured
        # values and reports the running state as unverifiable (error), never as pass.
        assert not_passing.pop("XZ-HOST-KERNEL-PARAMS", None) == Status.ERROR.value, after[host]
        # A container boots no kernel: init_on_free/init_on_alloc (x.1.4.10, level 3+) are not applicable there.
        if level >= 3:
            assert not_passing.pop("XZ-HOST-KERNEL-CMDLINE", None) == Status.NOT_APPLICABLE.value, after[host]
        # Without the AppArmor LSM (containers) the profiles are checked to compile; enforcement is unverifiable.
        # The test region has no ClamAV signature mirror: local signatures only is partial, never pass.
        if level >= 3:
            assert {"XZ-HOST-MAC", "XZ-HOST-ANTI-MALWARE", "XZ-HOST-INTRUSION-DETECTION",
                    "XZ-HOST-RESIDUAL-INFO"} <= failing_before, before[host]
            assert not_passing.pop("XZ-HOST-MAC", None) == Status.ERROR.value, after[host]
            assert not_passing.pop("XZ-HOST-ANTI-MALWARE", None) == Status.PARTIAL.value, after[host]
        # Security updates published after the test image was built are pending until the daily unattended run:
        # the scan reports them (partial), which is the item's point; everything else about patching passes.
        assert not_passing.pop("XZ-HOST-SECURITY-UPDATES", Status.PASS.value) in (Status.PASS.value,
                                                                                  Status.PARTIAL.value)
        if not kernel_audit:
            print(f"\n{host}: kernel without audit support, XZ-HOST-AUDIT-RULES running state unverifiable")
            assert not_passing.pop("XZ-HOST-AUDIT-RULES", None) == Status.ERROR.value
        # the test inventory names no operator directory, so enrolment is not applicable (an enrolled and a
        # misconfigured client are judged on sample output in tests/policies/test_rules_hosts.py)
        assert not_passing.pop("XZ-HOST-DIRECTORY", None) == Status.NOT_APPLICABLE.value, after[host]
        # none of these hosts is the log centre (tests/secmgmt/test_log_centre_live.py scans the real one)
        if level >= 3:
            assert not_passing.pop("XZ-HOST-LOG-CENTRE", None) == Status.NOT_APPLICABLE.value, after[host]
        assert not not_passing, (host, not_passing)

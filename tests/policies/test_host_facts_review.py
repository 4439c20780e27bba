"""Live-scan verdicts a review found wrong on realistic host output (each case its sample; the hardened host of
tests/policies/test_rules_hosts.py with one section changed).

False passes: auditing switched off in the kernel (`auditctl -e 0`), password ageing switched off
(`PASS_MAX_DAYS -1`), no file modes gathered at all, a read-only TMOUT of /etc/bash.bashrc (read before
/etc/profile.d) hidden by the order the files were listed in, positive pwquality credits that shorten the
shortest password. False fails: a host without an IPv6 stack, faillock.conf and pwquality.conf as their modules
read them (trailing comments, `key value`, `unlock_time = never`), auditd.conf's defaults, omfwd's other
parameter spellings.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from policies.engine import Status, run_rules
from policies.registry import RULES_BY_ID
from tests.policies.test_rules_hosts import HARDENED, _facts
from xzgov.facts.baseline import SYSCTL_EXPECTED
from xzgov.facts.host_parsers import shell_timeout
from xzgov.facts.host_script import _SECTIONS


def _judged(rule: str, **change: str) -> tuple[Status, str]:
    result = run_rules([RULES_BY_ID[rule]], _facts({**HARDENED, **change}))[0]
    return result.status, result.message + " " + " ".join(e.observed for e in result.evidence)


@pytest.mark.parametrize(("rule", "change", "said"), [
    ("XZ-HOST-AUDIT-RULES", {"auditctl_status": "enabled 0\nfailure 1\npid 612"}, "enabled 0"),
    ("XZ-HOST-PASSWORD", {"login_defs": "PASS_MAX_DAYS -1\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7"}, "PASS_MAX_DAYS=-1"),
    ("XZ-HOST-PASSWORD", {"pwquality": "minlen = 12\nminclass = 3\ndcredit = 2\nucredit = 1\n"},
     "less 3 of positive credits"),
    ("XZ-HOST-FILE-PERMS", {"stat": ""}, "no file modes gathered"),
])
def test_a_host_the_control_does_not_hold_on_is_not_passed(rule: str, change: dict[str, str], said: str) -> None:
    status, text = _judged(rule, **change)
    assert status is not Status.PASS and said in text, (status, text)


def test_the_tmout_files_are_read_in_the_login_shells_order() -> None:
    """/etc/profile sources /etc/bash.bashrc before its /etc/profile.d loop: a read-only 3600 there wins over the
    role's 600 (bash refuses the later assignment)."""
    command = dict(_SECTIONS)["tmout"]
    order = [command.index(path) for path in ("/etc/profile ", "/etc/bash.bashrc", "/etc/profile.d/*.sh")]
    assert order == sorted(order), command
    listed = ("/etc/bash.bashrc:readonly TMOUT=3600\n/etc/profile.d/99-tmout.sh:readonly TMOUT=600\n"
              "/etc/profile.d/99-tmout.sh:export TMOUT")
    assert shell_timeout(listed)["tmout"] == 3600
    status, _ = _judged("XZ-HOST-IDLE-TIMEOUT", tmout=listed)
    assert status is not Status.PASS


@pytest.mark.parametrize(("rule", "change"), [
    ("XZ-HOST-SYSCTL", {"sysctl": "\n".join(f"{key} = {values[0]}" for key, values in SYSCTL_EXPECTED.items()
                                            if not key.startswith("net.ipv6."))}),
    ("XZ-HOST-LOCKOUT", {"faillock_conf": "deny = 5   # five tries\nunlock_time = 900  # 15 min\n"}),
    ("XZ-HOST-LOCKOUT", {"faillock_conf": "deny 5\nunlock_time 900\n"}),
    ("XZ-HOST-LOCKOUT", {"faillock_conf": "deny = 5\nunlock_time = never\n"}),
    ("XZ-HOST-PASSWORD", {"pwquality": "minlen = 12 # twelve\nminclass = 3 # three classes\n"}),
    ("XZ-HOST-AUDIT-PROTECT", {"auditd_conf": "max_log_file_action = keep_logs\n"}),
    ("XZ-HOST-LOG-FORWARD", {"rsyslog_conf": 'action(type="omfwd" target="10.69.1.10" port="6514" protocol="tcp"\n'
                                             '  StreamDriver.Name="gtls" StreamDriver.Mode="1"\n'
                                             '  StreamDriver.AuthMode="x509/name")'}),
])
def test_a_compliant_host_written_another_valid_way_passes(rule: str, change: dict[str, str]) -> None:
    status, text = _judged(rule, **change)
    assert status is Status.PASS, text


def test_a_kernel_with_ipv6_still_has_its_ipv6_parameters_judged() -> None:
    values = "\n".join(f"{key} = {'1' if key.startswith('net.ipv6.') else values[0]}"
                       for key, values in SYSCTL_EXPECTED.items())
    status, text = _judged("XZ-HOST-SYSCTL", sysctl=values)
    assert status is Status.FAIL and "net.ipv6." in text


def test_the_tls_file_names_are_matched_in_any_case() -> None:
    command = dict(_SECTIONS)["log_tls"]
    assert "/Ip" in command  # sed's I flag: rsyslog reads streamDriver.certFile as StreamDriver.CertFile



@pytest.mark.parametrize(("ageing", "said"), [
    ("root 99999\nalice 90\n", "root (99999 d)"),  # `chage -M 99999 root` after hardening
    ("alice 90\nbob -\n", "bob (never)"),  # no maximum at all
    ("alice 90\nold -1\n", "old (never)"),
])
def test_an_existing_account_whose_password_never_ages_fails(ageing: str, said: str) -> None:
    """login.defs ages the accounts made later; the role ages the existing ones (accounts.yml): the scan read
    login.defs only, so an account set back to 99999 days afterwards passed."""
    status, text = _judged("XZ-HOST-PASSWORD", shadow_ageing=ageing)
    assert status is Status.FAIL and said in text and "alice" not in text, text


def test_accounts_within_the_maximum_age_pass_and_no_hash_is_gathered() -> None:
    status, text = _judged("XZ-HOST-PASSWORD", shadow_ageing="root 90\nalice 60\n")
    assert status is Status.PASS, text
    command = dict(_SECTIONS)["shadow_ageing"]
    assert "print $1, (" in command and "$2 ~" in command and "print $2" not in command  # the hash is matched only


@pytest.mark.parametrize(("running", "passes"), [
    ("", True),  # an older script's answer: nothing said of the processes
    ("process sshd /usr/sbin/sshd (enforce)\nprocess chronyd /usr/sbin/chronyd (enforce)\n"
     "process rsyslogd /usr/sbin/rsyslogd (enforce)\n", True),
    ("process sshd unconfined\n", False),  # the profile was loaded after sshd started: sshd runs unconfined
    ("process chronyd /usr/sbin/chronyd (complain)\n", False),  # chronyd must be enforced
])
def test_a_daemon_running_outside_its_profile_is_not_confined(running: str, passes: bool) -> None:
    """XZ-HOST-MAC passed on the loaded profile list alone: `apparmor_parser --replace` loads a new sshd profile,
    but the sshd already running stays unconfined until it restarts."""
    status, text = _judged("XZ-HOST-MAC", mandatory_access=HARDENED["mandatory_access"] + "\n" + running)
    assert (status is Status.PASS) is passes, text
    if not passes:
        assert "restart it" in text


def test_a_dm_crypt_swap_is_named_as_crypttab_names_it(tmp_path: Path) -> None:
    """/proc/swaps names a random-key dm-crypt swap by its node (/dev/dm-1); crypttab and fstab by its mapper name:
    the swap read as unencrypted and XZ-HOST-RESIDUAL-INFO failed a compliant host. The section's own shell runs
    here with /proc/swaps and /sys/block replaced by files of the test."""
    (tmp_path / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1  partition\t998396\t0\t-2\n"
                                    "/dev/vdb2 partition\t1000\t0\t-3\n", encoding="utf-8")
    (tmp_path / "block" / "dm-1" / "dm").mkdir(parents=True)
    (tmp_path / "block" / "dm-1" / "dm" / "name").write_text("cryptswap\n", encoding="utf-8")
    command = dict(_SECTIONS)["mounts"]
    start = command.index("sed 1d /proc/swaps")
    loop = command[start:command.index("done; ", start) + len("done")]
    loop = loop.replace("/proc/swaps", str(tmp_path / "swaps")).replace("/sys/block/", str(tmp_path / "block") + "/")
    printed = subprocess.run(["sh", "-c", loop], capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == ["swap /dev/mapper/cryptswap partition", "swap /dev/vdb2 partition"]


def test_the_role_names_swap_areas_as_the_scan_does() -> None:
    """os_hardening turned off every swap not under /dev/mapper or /dev/zram as `swapon --show` names them: a dm-crypt
    swap (/dev/dm-1) was turned off as unencrypted. It resolves mapper names with the scan's own shell."""
    import yaml

    tasks = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles" / "os_hardening" / "tasks"
                            / "residual.yml").read_text(encoding="utf-8"))
    commands = [str(task.get("ansible.builtin.command", {}).get("argv")) for entry in tasks
                for task in entry.get("block", [entry])]
    resolve = 'm=$(cat "/sys/block/${n#/dev/}/dm/name" 2>/dev/null) && [ -n "$m" ] && n=/dev/mapper/$m;; esac;'
    assert resolve in dict(_SECTIONS)["mounts"] and any(resolve in command for command in commands)


@pytest.mark.parametrize(("module", "passes"), [
    ("module /usr/lib/x86_64-linux-gnu/security/pam_pwquality.so\n", True),
    ("", False),  # libpam-pwquality not installed: the `-password` line is skipped, any password accepted
])
def test_a_pwquality_line_without_the_module_is_no_password_quality(module: str, passes: bool) -> None:
    status, text = _judged("XZ-HOST-PASSWORD", pwquality_module=module)
    assert (status is Status.PASS) is passes, text
    if not passes:
        assert "not installed" in text


def test_each_pam_file_is_a_stack_of_its_own() -> None:
    """system-auth and password-auth were read as one text: a failed password at system-auth's pam_unix "ran on"
    into password-auth's authfail line, so a system-auth that never counts a failure (su, login) passed."""
    counting = ("auth required pam_faillock.so preauth\nauth sufficient pam_unix.so\n"
                "auth required pam_faillock.so authfail\nauth required pam_deny.so\n")
    not_counting = "auth required pam_faillock.so preauth\nauth sufficient pam_unix.so\nauth required pam_deny.so\n"
    both = f"@file /etc/pam.d/system-auth\n{not_counting}\n@file /etc/pam.d/password-auth\n{counting}\n"
    status, text = _judged("XZ-HOST-LOCKOUT", pam_auth=both)
    assert status is not Status.PASS, text
    good = f"@file /etc/pam.d/system-auth\n{counting}\n@file /etc/pam.d/password-auth\n{counting}\n"
    assert _judged("XZ-HOST-LOCKOUT", pam_auth=good)[0] is Status.PASS
    assert "@file $f" in dict(_SECTIONS)["pam_auth"]

"""Pure tests (no booted host) of issue 17's host facts and rules: parsers on captured gather output, and the
outcomes scenarios cannot express (error = unverifiable on a container / LSM-less kernel / host without apt)."""

from __future__ import annotations

from typing import Any

from policies.engine import Facts, Point, Status, evaluate
from policies.registry import get_rule
from xzgov.facts.host_parsers import parse_sections
from xzgov.facts.host_script import GATHER_SCRIPT, Section

KERNEL_SECTION = """container yes
live kernel.kptr_restrict = 0
live kernel.dmesg_restrict = 1
live kernel.core_uses_pid = 0
absent kernel.sysrq
absent net.core.bpf_jit_harden
live kernel.yama.ptrace_scope = 1
live kernel.unprivileged_bpf_disabled = 2
live fs.protected_hardlinks = 1
live fs.protected_symlinks = 1
live fs.protected_fifos = 0
live fs.protected_regular = 0
live fs.suid_dumpable = 0
conf kernel.kptr_restrict = 1
conf kernel.kptr_restrict = 2
conf kernel.dmesg_restrict = 1
conf kernel.core_uses_pid = 1
conf kernel.sysrq = 0
conf kernel.yama.ptrace_scope = 1
conf kernel.unprivileged_bpf_disabled = 1
conf net.core.bpf_jit_harden = 2
conf fs.protected_hardlinks = 1
conf fs.protected_symlinks = 1
conf fs.protected_fifos = 2
conf fs.protected_regular = 2
conf fs.suid_dumpable = 0"""

SECTIONS = {
    "whoami": "0",
    "kernel_params": KERNEL_SECTION,
    "login_defs_hashing": "ENCRYPT_METHOD\tYESCRYPT\nYESCRYPT_COST_FACTOR\t8",
    "cron_stat": "700 root root /etc/cron.d\n600 root root /etc/cron.allow\nallow /etc/cron.allow root",
    "login_banner": "/etc/issue 1\n/etc/issue.net 2",
    "security_updates": "source deb http://mirror/debian-security bookworm-security main\nconfig U='1'\n"
                        "config R='false'\ninstalled install ok installed\npending 2",
    "mandatory_access": "lsm absent\nparser yes\ncompiles usr.sbin.chronyd\ncompiles usr.sbin.rsyslogd\n"
                        "compiles usr.sbin.sshd",
    "listening": "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 128 [::]:22 [::]:*\n"
                 "udp UNCONN 0 0 127.0.0.1%lo:323 0.0.0.0:*\nudp UNCONN 0 0 [::1]:323 [::]:*",
    "anti_malware": "scanner yes\nunit xzgov-malware-scan.timer enabled\nunit clamav-freshclam.service disabled\n"
                    "db 0 /var/lib/clamav/xzgov-local.hdb",
}


def _values(**override: str) -> dict[str, Any]:
    raw = {**SECTIONS, **override}
    values, _ = parse_sections({name: Section(text, 0) for name, text in raw.items()})
    values["host"] = {"hostname": "h", "ssh_port": 22, "allowed_flows": []}
    return values


def _status(rule_id: str, values: dict[str, Any], level: int = 3) -> tuple[Status, str]:
    rule = get_rule(rule_id)
    facts = Facts("sys", Point.HOST, {k: v for k, v in values.items() if k in {*rule.facts, "thresholds"}}, {},
                  "2026-01-01T00:00:00Z", "h", level=level)
    result = evaluate(rule, facts)
    assert result is not None
    return result.status, result.message + " " + " ".join(e.observed for e in result.evidence)


def test_the_gather_script_has_the_new_sections() -> None:
    for name in ("kernel_params", "login_defs_hashing", "cron_stat", "login_banner", "security_updates",
                 "mandatory_access", "listening", "anti_malware"):
        assert f"===XZ:{name}===" in GATHER_SCRIPT


def test_parsers_read_captured_output() -> None:
    values = _values()
    kernel = values["kernel_params"]
    assert kernel["container"] is True and kernel["absent"] == ["kernel.sysrq", "net.core.bpf_jit_harden"]
    assert kernel["configured"]["kernel.kptr_restrict"] == "2"  # the last file read wins
    assert values["password_hashing"] == {"method": "YESCRYPT", "yescrypt_cost": 8, "sha_min_rounds": None}
    assert values["cron_permissions"]["allow"] == {"/etc/cron.allow": ["root"]}
    assert values["login_banner"] == {"/etc/issue": True, "/etc/issue.net": True}
    assert values["security_updates"]["pending"] == 2 and values["security_updates"]["unattended"] is True
    assert values["mandatory_access"]["lsm"] is None and values["mandatory_access"]["parser"] is True
    sockets = {(s["protocol"], s["address"], s["port"], s["loopback"]) for s in values["listening"]}
    assert sockets == {("tcp", "0.0.0.0", 22, False), ("tcp", "::", 22, False), ("udp", "127.0.0.1", 323, True),
                       ("udp", "::1", 323, True)}
    assert values["anti_malware"]["databases"][0]["official"] is False


def test_container_kernel_params_are_unverifiable_never_pass() -> None:
    status, text = _status("XZ-HOST-KERNEL-PARAMS", _values())
    assert status is Status.ERROR and "unverifiable" in text
    assert "kernel.sysrq" in text and "not on this kernel" in text  # missing keys are named, not applicable


def test_container_with_a_wrong_configuration_fails() -> None:
    section = KERNEL_SECTION.replace("conf fs.protected_regular = 2", "conf fs.protected_regular = 0")
    status, text = _status("XZ-HOST-KERNEL-PARAMS", _values(kernel_params=section))
    assert status is Status.FAIL and "fs.protected_regular=0" in text


def test_a_kernel_without_any_of_the_keys_is_not_applicable() -> None:
    from xzgov.facts.baseline import KERNEL_SYSCTL_EXPECTED

    section = "container no\n" + "\n".join(f"absent {key}" for key in KERNEL_SYSCTL_EXPECTED)
    status, _ = _status("XZ-HOST-KERNEL-PARAMS", _values(kernel_params=section))
    assert status is Status.NOT_APPLICABLE


def test_vm_kernel_missing_keys_passes_on_the_others() -> None:
    lines = [line.replace("container yes", "container no") for line in KERNEL_SECTION.splitlines()
             if not line.startswith("live")]
    lines += [line.replace("conf", "live", 1) for line in KERNEL_SECTION.splitlines()
              if line.startswith("conf") and "sysrq" not in line and "bpf_jit" not in line]
    status, text = _status("XZ-HOST-KERNEL-PARAMS", _values(kernel_params="\n".join(lines)))
    assert status is Status.PASS and "not on this kernel" in text


def test_apparmor_enforcement_is_unverifiable_without_the_lsm() -> None:
    status, text = _status("XZ-HOST-MAC", _values())
    assert status is Status.ERROR and "unverifiable" in text
    broken = SECTIONS["mandatory_access"].replace("compiles usr.sbin.sshd", "broken usr.sbin.sshd")
    assert _status("XZ-HOST-MAC", _values(mandatory_access=broken))[0] is Status.FAIL


def test_security_updates_without_apt_are_unverifiable() -> None:
    status, _ = _status("XZ-HOST-SECURITY-UPDATES", _values(security_updates="source x"))
    assert status is Status.ERROR
    assert _status("XZ-HOST-SECURITY-UPDATES", _values())[0] is Status.PARTIAL  # 2 pending


def test_local_signatures_only_is_partial() -> None:
    assert _status("XZ-HOST-ANTI-MALWARE", _values())[0] is Status.PARTIAL


def test_listening_rule_uses_the_inventory_flows() -> None:
    values = _values(listening=SECTIONS["listening"] + "\ntcp LISTEN 0 128 0.0.0.0:8443 0.0.0.0:*")
    assert _status("XZ-HOST-LISTENING", values)[0] is Status.FAIL
    values["host"]["allowed_flows"] = [{"direction": "in", "protocol": "tcp", "port": 8443}]
    assert _status("XZ-HOST-LISTENING", values)[0] is Status.PASS

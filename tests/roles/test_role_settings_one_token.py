"""A role argument the role writes into a daemon's configuration stays one value on one line, and a number stays
in the range that keeps the control (and the operator's session) alive — refused before the role changes
anything (each role's first AUDIT task; no host booted).

A review rendered each role's templates at such values and ran the daemons' own checkers (``sshd -t``, ``visudo
-cf``, ``nft -c``, ``chronyd -p``): every file below passed its checker, so ``validate:`` could not stop it —
``PermitRootLogin yes`` and an ``AuthorizedKeysCommand`` added before the hardened lines of sshd, ``Defaults
!logfile`` and a ``NOPASSWD: ALL`` rule added to sudoers, ``tcp dport 1-65535 accept`` added to the host
firewall, ``cmdallow all`` and ``allow 0/0`` added to the time source, ``MaxSessions 0`` locking the operator out,
local audit logs kept one day.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.roles.render import assertion_holds, render

FILTERS = Path(__file__).resolve().parents[2] / "plugins" / "filter"


def _plugin(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FILTERS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unsafe_tokens = _plugin("xzgov_config").unsafe_tokens
sudoers_commands = _plugin("xzgov_sudoers").sudoers_commands

SSH = "AUDIT | Settings are one token each and keep sshd reachable"
SUDO = "AUDIT | Sudo settings are what sudoers will read"
FIREWALL = "AUDIT | Flows and management CIDRs are well-formed"
TIME_SOURCE = "AUDIT | The time source serves the region's zones only"
LOGS = "AUDIT | Settings are what rsyslog and logrotate will read"
DIRECTORY = "AUDIT | The directory client has its URI, CA and reader password"
SYSCTL = "AUDIT | Sysctl keys are sysctl names and their values one line"
NEWLINE = "\n"


def test_the_rule_names_line_breaks_spaces_quotes_and_empty_tokens() -> None:
    assert unsafe_tokens(["10.69.0.1", 22, None, ["a", "b"]]) == []
    assert unsafe_tokens(["0.0.0.0\nPermitRootLogin yes"]) == [repr("0.0.0.0\nPermitRootLogin yes")]
    assert unsafe_tokens(["xzgov ops", "", "a\tb"]) == ["'xzgov ops'", "''", repr("a\tb")]
    assert unsafe_tokens(["/usr/bin/ip link show \"\""], spaces=True) == []
    assert unsafe_tokens(["x\u2028y", "x\ry"], spaces=True) == [repr("x\u2028y"), repr("x\ry")]
    assert unsafe_tokens(['NORMAL" StreamDriverMode="0'], spaces=True, quotes=False) == [
        repr('NORMAL" StreamDriverMode="0')]


# ---- ssh_hardening -----------------------------------------------------------------------------------------

SSH_HOST: dict[str, Any] = {"xzgov_level": 3}


def test_sshd_defaults_pass() -> None:
    for level in (1, 2, 3, 4):
        assert assertion_holds("ssh_hardening", SSH, {"xzgov_level": level})
    assert assertion_holds("ssh_hardening", SSH, {**SSH_HOST, "ssh_hardening_listen_addresses": ["::1", "10.69.1.5"],
                                                  "ssh_hardening_allow_users": ["xzops@10.69.0.0/16"],
                                                  "ssh_hardening_max_startups": "10", "ssh_hardening_port": 65535})


@pytest.mark.parametrize("override", [
    {"ssh_hardening_listen_addresses": [f"0.0.0.0{NEWLINE}PermitRootLogin yes"]},
    {"ssh_hardening_allow_users": [f"xzops{NEWLINE}AuthorizedKeysCommandUser root"]},
    {"ssh_hardening_allow_groups": ["xzgov ops"]},
    {"ssh_hardening_ciphers": ["aes256-gcm@openssh.com", ""]},
    {"ssh_hardening_permit_root_login": f"no{NEWLINE}PermitRootLogin yes"},
    {"ssh_hardening_max_startups": f"10:30:60{NEWLINE}PermitRootLogin yes"},
    {"ssh_hardening_max_startups": "many"},
    {"ssh_hardening_max_sessions": 0},
    {"ssh_hardening_client_alive_interval": 0},
    {"ssh_hardening_client_alive_count_max": 0},
    {"ssh_hardening_login_grace_time": 0},
    {"ssh_hardening_max_auth_tries": 0},
    {"ssh_hardening_port": 0},
    {"ssh_hardening_port": 65536},
], ids=lambda o: next(iter(o)))
def test_sshd_refuses_before_any_change(override: dict[str, Any]) -> None:
    assert not assertion_holds("ssh_hardening", SSH, {**SSH_HOST, **override})


# ---- os_hardening's sudo ------------------------------------------------------------------------------------

def _sudo_roles(**change: Any) -> list[dict[str, Any]]:
    role = {"name": "net-admin", "group": "xzgov-net-admins", "description": "网络管理员 / network",
            "commands": ['/usr/sbin/ip link show ""', "/usr/bin/ps -eo pid,user,args"]}
    return [{**role, **change}]


def test_sudo_defaults_and_ordinary_roles_pass() -> None:
    for level in (1, 2, 3, 4):
        assert assertion_holds("os_hardening", SUDO, {"xzgov_level": level})
    assert assertion_holds("os_hardening", SUDO, {"xzgov_level": 3, "os_hardening_sudo_roles": _sudo_roles(),
                                                  "os_hardening_sudo_timestamp_timeout": 0})


@pytest.mark.parametrize("override", [
    {"os_hardening_sudo_roles": _sudo_roles(commands=[f'/usr/bin/true ""{NEWLINE}Defaults !logfile'])},
    {"os_hardening_sudo_roles": _sudo_roles(description=f"net){NEWLINE}ALL ALL=(ALL:ALL) NOPASSWD: ALL{NEWLINE}# (")},
    {"os_hardening_sudo_roles": _sudo_roles(group=f"ops{NEWLINE}ALL ALL=(ALL) ALL")},
    {"os_hardening_sudo_roles": _sudo_roles(group="ops ALL")},
    {"os_hardening_sudo_roles": _sudo_roles(name="net admin")},
    {"os_hardening_sudo_timestamp_timeout": -1},
    {"os_hardening_sudo_logfile": '/var/log/sudo.log" !syslog "'},
    {"os_hardening_sudo_logfile": "sudo.log"},
], ids=["command", "description", "group-newline", "group-space", "name", "timeout", "logfile-quote", "relative"])
def test_sudo_refuses_before_any_change(override: dict[str, Any]) -> None:
    assert not assertion_holds("os_hardening", SUDO, {"xzgov_level": 3, **override})


def test_the_sudoers_filter_refuses_a_line_break_itself() -> None:
    """directory_client writes sudoers with the same filter: it refuses what would be a sudoers line of its own."""
    from ansible.errors import AnsibleFilterError

    assert sudoers_commands(["/usr/bin/ps -eo pid,user"]) == "/usr/bin/ps -eo pid\\,user"
    with pytest.raises(AnsibleFilterError, match="one line"):
        sudoers_commands([f"/usr/bin/true{NEWLINE}Defaults !use_pty"])


def test_directory_client_refuses_a_group_or_command_that_adds_lines() -> None:
    host = {"xzgov_level": 3, "directory_client_uri": "ldaps://dir.xz.gov", "directory_client_ca_src": "ca.pem",
            "directory_client_bind_password": "x"}
    assert assertion_holds("directory_client", DIRECTORY, host)
    assert not assertion_holds("directory_client", DIRECTORY, {**host, "directory_client_allow_groups": ["ops x"]})
    rules = {"sysadmin": {"commands": [f"/usr/bin/true{NEWLINE}%ops ALL=(ALL) NOPASSWD: ALL"]}}
    assert not assertion_holds("directory_client", DIRECTORY, {**host, "directory_client_sudo_rules": rules})


# ---- firewall -----------------------------------------------------------------------------------------------

FIREWALL_HOST: dict[str, Any] = {"inventory_hostname": "app01", "xzgov_level": 3,
                                 "xzgov_management_cidrs": ["10.69.0.0/16"], "xzgov_allowed_flows": []}


@pytest.mark.parametrize("override", [
    {"firewall_log_rate": f'10/minute accept comment "x"{NEWLINE}\t\ttcp dport 1-65535 accept'},
    {"firewall_log_rate": "fast"},
    {"firewall_output_policy": "accept; tcp dport 1-65535 accept"},
])
def test_the_firewall_refuses_settings_that_add_rules(override: dict[str, Any]) -> None:
    assert assertion_holds("firewall", FIREWALL, FIREWALL_HOST)
    assert not assertion_holds("firewall", FIREWALL, {**FIREWALL_HOST, **override})


def test_an_out_flows_except_cidrs_are_rendered() -> None:
    """The role accepted ``except_cidrs`` on an out-flow and dropped it: the host sent to the excluded range."""
    flow = {"direction": "out", "protocol": "tcp", "port": 443, "peer": "mirror", "purpose": "mirror",
            "peer_cidrs": ["0.0.0.0/0", "::/0"], "except_cidrs": ["10.0.0.0/8", "fd00::/8"]}
    ruleset = render("firewall", "xzgov.nft.j2", {**FIREWALL_HOST, "xzgov_allowed_flows": [flow]})
    assert "ip daddr { 0.0.0.0/0 } ip daddr != { 10.0.0.0/8 } tcp dport 443 accept" in ruleset
    assert "ip6 daddr { ::/0 } ip6 daddr != { fd00::/8 } tcp dport 443 accept" in ruleset


# ---- time_source --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["", "0/0", "::/0 ", "all", "0.0.0.0/0", "::/0", "10.0.0.0/0",
                                   f"10.69.0.0/16{NEWLINE}cmdallow all"])
def test_the_time_source_refuses_whole_spaces_and_added_directives(entry: str) -> None:
    host = {"xzgov_level": 3, "time_source_allow": ["10.64.0.0/16", "10.69.0.0/16"]}
    assert assertion_holds("time_source", TIME_SOURCE, host)
    assert not assertion_holds("time_source", TIME_SOURCE, {**host, "time_source_allow": ["10.64.0.0/16", entry]})


def test_a_time_source_does_not_list_itself_as_a_server() -> None:
    """time_sync on ntp01 wrote `server 10.69.0.123` (its own address) beside its peer; the inventory's NTP
    out-flows already leave the host's own address out."""
    from tests.roles.render import render
    host = {"xzgov_level": 3, "xzgov_time_sources": ["10.69.0.123", "10.69.0.124"], "ansible_host": "10.69.0.123"}
    servers = [line.split()[1] for line in render("time_sync", "xzgov.sources.j2", host).splitlines()
               if line.startswith("server ")]
    assert servers == ["10.69.0.124"]
    client = render("time_sync", "xzgov.sources.j2", {**host, "ansible_host": "10.64.3.9"})
    assert [line.split()[1] for line in client.splitlines() if line.startswith("server ")] == ["10.69.0.123",
                                                                                               "10.69.0.124"]


def test_the_time_sources_allow_lines_are_in_prefix_form() -> None:
    """chrony documents `allow address/prefix-length` only; the check takes a netmask entry (it is a network), and
    the line was written as given: each entry is normalised, IPv4 then IPv6, in prefix form."""
    from tests.roles.render import render
    host = {"xzgov_level": 3, "time_source_allow": ["10.69.0.0/255.255.0.0", "fd00:69::/48", "10.64.1.7"]}
    assert assertion_holds("time_source", TIME_SOURCE, host)
    conf = render("time_source", "time-source.conf.j2", host)
    assert [line for line in conf.splitlines() if line.startswith("allow ")] == [
        "allow 10.69.0.0/16", "allow 10.64.1.7/32", "allow fd00:69::/48"]


# ---- log_forwarding -----------------------------------------------------------------------------------------

#: the role's OS variables (its first task loads them before the assert): Debian's
LOG_HOST: dict[str, Any] = {**yaml.safe_load((FILTERS.parents[1] / "roles/log_forwarding/vars/debian.yml").read_text(
    encoding="utf-8")), "xzgov_level": 3, "xzgov_log_servers": [
    {"host": "10.69.1.10", "port": 6514, "protocol": "tcp+tls"}]}


@pytest.mark.parametrize("override", [
    {"log_forwarding_retention_days": 1},
    {"xzgov_log_retention_days": 30, "log_forwarding_retention_days": 30},
    {"log_forwarding_tls_priority": 'NORMAL" StreamDriverMode="0'},
    {"log_forwarding_queue_max_disk": f"1g{NEWLINE}action(type=\"omfile\" file=\"/tmp/x\")"},
    {"xzgov_log_servers": [{"host": '10.69.1.10" port="1', "port": 6514, "protocol": "tcp+tls"}]},
    {"log_forwarding_permitted_peers": {"10.69.1.10": "a b"}},
], ids=["retention", "retention-declared", "priority", "queue", "server", "peer"])
def test_log_forwarding_refuses_before_any_change(override: dict[str, Any]) -> None:
    assert assertion_holds("log_forwarding", LOGS, LOG_HOST)
    assert assertion_holds("log_forwarding", LOGS, {**LOG_HOST, "xzgov_log_retention_days": 400})
    assert not assertion_holds("log_forwarding", LOGS, {**LOG_HOST, **override})


# ---- log_centre ---------------------------------------------------------------------------------------------

CENTRE = "AUDIT | Settings are what rsyslog and systemd will read"
CENTRE_HOST: dict[str, Any] = {"xzgov_level": 3, "groups": {"all": []}, "hostvars": {},
                               "xzgov_log_centre_sources": [{"name": "web-01", "address": "10.67.0.11"}]}


@pytest.mark.parametrize("override", [
    # an unauthenticated UDP input straight into the sealed ruleset, accepted by rsyslogd -N1 (a review)
    {"log_centre_peer_suffix": '"]\nmodule(load="imudp")\ninput(type="imudp" port="514" ruleset="xzgov-centre")\n#'},
    {"log_centre_permitted_peers": ['web-01", "*']},
    {"log_centre_storage": '/var/log/x" dirCreateMode="0777'},
    {"log_centre_tls_priority": f"NORMAL{NEWLINE}module(load=\"imudp\")"},
    {"log_centre_queue_max_disk": "2g\"\n#"},
    {"log_centre_seal_on_calendar": f"daily{NEWLINE}ExecStartPre=/bin/sh -c id"},
    {"xzgov_log_centre_sources": [{"name": "web-01\nx", "address": "10.67.0.11"}]},
    # revoked, yet admitted by a wildcard: rsyslog has no exception to one
    {"log_centre_permitted_peers": ["*.xzgov.internal"], "log_centre_revoked_peers": ["Web-01.xzgov.internal"]},
], ids=["suffix", "peer", "storage", "priority", "queue", "calendar", "source", "wildcard"])
def test_log_centre_refuses_before_any_change(override: dict[str, Any]) -> None:
    assert assertion_holds("log_centre", CENTRE, CENTRE_HOST)
    for revoked in ("web-01.other.internal", "a.web-01.xzgov.internal"):  # * stands within one label (RFC 5425)
        assert assertion_holds("log_centre", CENTRE, {**CENTRE_HOST, "log_centre_permitted_peers": ["*.xzgov.internal"],
                                                      "log_centre_revoked_peers": [revoked]})
    assert not assertion_holds("log_centre", CENTRE, {**CENTRE_HOST, **override})


def test_every_host_of_the_committed_inventories_passes() -> None:
    """What ``xzgov inventory`` writes for the example region meets every one of these asserts (40 hosts)."""
    from tests.roles.test_firewall_render import HOSTS

    refused = []
    for name, host in HOSTS.items():
        checks = [("ssh_hardening", SSH, host), ("os_hardening", SUDO, host), ("os_hardening", SYSCTL, host),
                  ("os_hardening", "AUDIT | Kernel command line words and module names are single words", host),
                  ("firewall", FIREWALL, host),
                  ("log_forwarding", LOGS, {**LOG_HOST, **host}),
                  ("log_forwarding", "AUDIT | Log servers are given and use TLS", {**LOG_HOST, **host})]
        if host.get("xzgov_time_source_allow"):
            checks.append(("time_source", TIME_SOURCE, host))
        if host.get("xzgov_secmgmt_role") == "log-centre":
            checks.append(("log_centre", CENTRE, {**host, "groups": {"all": []}, "hostvars": {}}))
        refused += [f"{name}: {role}" for role, task, variables in checks
                    if not assertion_holds(role, task, variables)]
    assert len(HOSTS) >= 40 and refused == []


# ---- a second reading: more values, a regex end that allows a newline, --tags runs --------------------------

@pytest.mark.parametrize(("role", "task", "override"), [
    ("time_source", TIME_SOURCE, {"time_source_allow": ["10.69.0.0/16"],
                                  "time_source_ratelimit": f"interval 1 burst 16{NEWLINE}cmdallow all"}),
    ("directory_client", DIRECTORY, {"directory_client_bind_dn": f"cn=reader{NEWLINE}ldap_tls_reqcert = allow"}),
    ("directory_client", DIRECTORY, {"directory_client_suffix": f"dc=xz{NEWLINE}ldap_tls_reqcert = never"}),
    ("directory_client", DIRECTORY, {"directory_client_bind_password": f"secret{NEWLINE}ldap_tls_reqcert = never"}),
    ("os_hardening", "AUDIT | The session umask is an octal mode", {"os_hardening_umask": f"027{NEWLINE}curl x|sh"}),
    ("os_hardening", "AUDIT | The session umask is an octal mode", {"os_hardening_umask": "0777 "}),
    ("firewall", FIREWALL, {"firewall_log_rate": f"10/minute{NEWLINE}"}),
    ("ssh_hardening", SSH, {"ssh_hardening_max_startups": f"10:30:60{NEWLINE}"}),
], ids=["ratelimit", "bind-dn", "suffix", "password", "umask", "umask-space", "log-rate-newline", "startups-newline"])
def test_other_values_that_add_lines_are_refused(role: str, task: str, override: dict[str, Any]) -> None:
    host = {"xzgov_level": 3, "directory_client_uri": "ldaps://dir.xz.gov", "directory_client_ca_src": "ca.pem",
            "directory_client_bind_password": "x", **FIREWALL_HOST}
    assert assertion_holds(role, task, {**host, **({"time_source_allow": ["10.69.0.0/16"]}
                                                   if role == "time_source" else {})})
    assert not assertion_holds(role, task, {**host, **override})


def test_the_password_is_checked_but_never_named_in_the_message() -> None:
    from tests.roles.render import task

    entry = task("directory_client", DIRECTORY)
    assert "directory_client_bind_password" not in str(entry["ansible.builtin.assert"]["fail_msg"]).split(
        "reader password one line")[1]
    assert "directory_client_bind_password" not in str(entry["vars"])


@pytest.mark.parametrize(("role", "name"), [
    ("ssh_hardening", SSH), ("os_hardening", SUDO), ("os_hardening", "AUDIT | The session umask is an octal mode"),
    ("os_hardening", SYSCTL),
    ("log_forwarding", LOGS), ("firewall", FIREWALL), ("time_source", TIME_SOURCE), ("directory_client", DIRECTORY),
])
def test_each_check_runs_whatever_tags_a_run_selects(role: str, name: str) -> None:
    """A run with --tags (one control's tag) wrote the firewall table and the role sudoers without their checks:
    the checks carry `always`."""
    from tests.roles.render import task

    assert "always" in task(role, name).get("tags", [])


@pytest.mark.parametrize(("role", "task", "override"), [
    ("time_source", TIME_SOURCE, {"time_source_upstream": [{"host": f"ntp1.x{NEWLINE}allow all"}]}),
    ("os_hardening", "AUDIT | Kernel command line words and module names are single words",
     {"os_hardening_kernel_cmdline": ['init_on_free=1"; touch /root/pwned; X="']}),
    ("os_hardening", "AUDIT | Kernel command line words and module names are single words",
     {"os_hardening_disabled_modules": ["cramfs /bin/sh -c 'id > /root/pwned2';"]}),
    ("os_hardening", SYSCTL, {"os_hardening_sysctl_kernel": {
        "kernel.sysrq": f"0{NEWLINE}kernel.modules_disabled = 0"}}),
    ("os_hardening", SYSCTL, {"os_hardening_sysctl_network": {"net.ipv4.ip_forward": 0,
                                                              f"x{NEWLINE}net.ipv4.ip_forward": 1}}),
    ("os_hardening", SYSCTL, {"os_hardening_sysctl_kernel": {"kernel/../../../etc/shadow": "x"}}),
    ("os_hardening", SYSCTL, {"os_hardening_sysctl_kernel": {"kernel.core_pattern": "|/bin/sh\t-c id"}}),
    # a key of both maps: the combined map checked the kernel's value and the network file got the injected one
    ("os_hardening", SYSCTL, {"os_hardening_sysctl_kernel": {"kernel.randomize_va_space": 2},
                              "os_hardening_sysctl_network": {
                                  "kernel.randomize_va_space": f"2{NEWLINE}kernel.randomize_va_space = 0"}}),
], ids=["upstream-host", "kernel-cmdline", "module", "sysctl-value", "sysctl-key", "sysctl-path", "sysctl-tab",
        "sysctl-shadowed"])
def test_words_written_into_shell_or_chrony_lines_are_refused(role: str, task: str, override: dict[str, Any]) -> None:
    """A third reading: values written into a file update-grub sources as root, a modprobe `install` command run
    through a shell, and a chrony `server` line; then sysctl names and values (a line in /etc/sysctl.d, a path
    under /proc/sys written as root)."""
    host = {"xzgov_level": 3, "time_source_allow": ["10.69.0.0/16"], "time_source_upstream": [{"host": "ntp1.x"}]}
    assert assertion_holds(role, task, host)
    assert not assertion_holds(role, task, {**host, **override})


def test_the_sysctl_applier_reads_a_name_as_sysctl_does() -> None:
    """The second reading: a VLAN interface's name holds a dot; the applier turned every dot into a slash, so
    net.ipv4.conf.eth0/100.rp_filter (sysctl's way to write eth0.100) was "missing" and never loaded."""
    spec = importlib.util.spec_from_file_location(
        "sysctl_apply", Path(__file__).resolve().parents[2] / "roles/os_hardening/files/xzgov-sysctl-apply.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.proc_path("net.ipv4.tcp_syncookies") == "net/ipv4/tcp_syncookies"
    assert module.proc_path("net.ipv4.conf.eth0/100.rp_filter") == "net/ipv4/conf/eth0.100/rp_filter"
    assert module.proc_path("net/ipv4/conf/eth0.100/rp_filter") == "net/ipv4/conf/eth0.100/rp_filter"
    assert module.proc_path("kernel.yama.ptrace_scope") == "kernel/yama/ptrace_scope"

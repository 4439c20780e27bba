"""The role's check that sshd runs with every setting of its drop-in (``xzgov_sshd_unapplied`` over ``sshd -T``),
and the Include of the drop-in directory as the first setting of sshd_config (no host booted: the filter against
what OpenSSH 9.2's ``sshd -T`` printed for the rendered drop-in, tests/roles/fixtures/sshd-T-level3.txt)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.roles.render import render, task, value
from tests.roles.test_role_settings_one_token import _plugin

sshd_unapplied = _plugin("xzgov_ssh").sshd_unapplied
EFFECTIVE = [line for line in (Path(__file__).parent / "fixtures/sshd-T-level3.txt").read_text(
    encoding="utf-8").splitlines() if not line.startswith("#")]
DROPIN = render("ssh_hardening", "sshd-hardening.conf.j2",
                {"xzgov_level": 3, "ssh_hardening_host_keys": ["/tmp/sshdt/k"], "ssh_hardening_listen_addresses": []})


def _with(changes: dict[str, str]) -> list[str]:
    return [f"{line.split()[0]} {changes[line.split()[0]]}" if line.split()[0] in changes else line
            for line in EFFECTIVE]


def test_the_hardened_drop_in_is_what_sshd_runs_with() -> None:
    assert len([line for line in DROPIN.splitlines() if line and not line.startswith("#")]) >= 35
    assert sshd_unapplied(DROPIN, EFFECTIVE) == []


@pytest.mark.parametrize(("changes", "named"), [
    # main-file settings before a late Include win (first value wins): the old check covered ten directives
    ({"x11forwarding": "yes", "allowtcpforwarding": "yes"}, ["X11Forwarding no", "AllowTcpForwarding no"]),
    ({"permituserenvironment": "yes"}, ["PermitUserEnvironment no"]),
    ({"loglevel": "INFO"}, ["LogLevel VERBOSE"]),
    ({"banner": "none"}, ["Banner /etc/issue.net"]),
    ({"maxsessions": "10"}, ["MaxSessions 4"]),
    ({"logingracetime": "120"}, ["LoginGraceTime 30"]),
    ({"rekeylimit": "0 0"}, ["RekeyLimit 512M 1h"]),
    ({"passwordauthentication": "yes"}, ["PasswordAuthentication no"]),
])
def test_a_setting_sshd_does_not_run_with_is_named(changes: dict[str, str], named: list[str]) -> None:
    unapplied = sshd_unapplied(DROPIN, _with(changes))
    assert [entry.split(" (sshd -T")[0] for entry in unapplied] == named, unapplied


def test_sshd_t_forms_are_read_as_sshd_writes_them() -> None:
    dropin = ("LoginGraceTime 1m\nPermitRootLogin prohibit-password\nAllowUsers xzops deploy\n"
              "ListenAddress 10.0.0.5\nListenAddress fd00:0::5\nListenAddress mgmt.example\nRekeyLimit 1G 30m\n"
              "ClientAliveInterval 5m\nMaxStartups 10\n")
    # what OpenSSH 9.2's sshd -T printed for these (a review ran it: MaxStartups 10 is 10:30:10)
    effective = ["logingracetime 60", "permitrootlogin without-password", "allowusers xzops", "allowusers deploy",
                 "listenaddress 10.0.0.5:22", "listenaddress [fd00::5]:22", "listenaddress 10.0.0.9:22",
                 "rekeylimit 1073741824 1800", "clientaliveinterval 300", "maxstartups 10:30:10"]
    assert sshd_unapplied(dropin, effective) == []
    assert sshd_unapplied(dropin, [line for line in effective if line != "allowusers deploy"]) == [
        "AllowUsers deploy (sshd -T: xzops)"]


@pytest.mark.parametrize(("main", "late"), [
    ("Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n", False),
    ("# comment\n\n  Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\n", False),
    ("X11Forwarding yes\nAllowTcpForwarding yes\nInclude /etc/ssh/sshd_config.d/*.conf\n", True),
    ("Port 22\n", True),  # no Include yet: nothing to take out (the next task puts it first)
])
def test_a_late_include_is_taken_out_to_be_put_first(main: str, late: bool) -> None:
    """lineinfile replaces a matching line where it stands: an Include after main-file settings stayed late."""
    entry = task("ssh_hardening", "PATCH | Take out an Include of the drop-ins that is not the first setting")
    when = value("ssh_hardening", "{{ " + entry["when"] + " }}",
                 {"xzgov_level": 3, "ssh_hardening_main_text": {"content": base64.b64encode(main.encode()).decode()}})
    assert when is late
    assert entry["ansible.builtin.lineinfile"]["state"] == "absent"


def test_the_role_checks_every_directive_of_its_drop_in() -> None:
    check = task("ssh_hardening", "AUDIT | The effective configuration is the hardened one")
    assert "lookup('ansible.builtin.template', 'sshd-hardening.conf.j2')" in check["vars"]["ssh_hardening_unapplied"]
    assert "xzgov_sshd_unapplied(ssh_hardening_effective.stdout_lines)" in check["vars"]["ssh_hardening_unapplied"]

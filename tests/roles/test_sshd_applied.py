"""The role's check that sshd runs with every setting of its drop-in (``xzgov_sshd_unapplied`` over ``sshd -T``),
and the Include of the drop-in directory as the first setting of sshd_config (no host booted: the filter against
what OpenSSH 9.2's ``sshd -T`` printed for the rendered drop-in, tests/roles/fixtures/sshd-T-level3.txt)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from tests.roles.render import ROLES, render, task, value
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


@pytest.mark.parametrize(("main", "written"), [
    ("Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n", None),
    ("# comment\n\n  Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\n", None),
    ("X11Forwarding yes\nAllowTcpForwarding yes\nInclude /etc/ssh/sshd_config.d/*.conf\n",
     "Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\nAllowTcpForwarding yes\n"),
    ("# Debian\nPort 22\n  Include  /etc/ssh/sshd_config.d/*.conf \nMatch User x\n  X11Forwarding yes",
     "Include /etc/ssh/sshd_config.d/*.conf\n# Debian\nPort 22\nMatch User x\n  X11Forwarding yes\n"),
    ("Port 22\n", "Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n"),  # no Include yet
])
def test_the_include_is_put_first_in_one_validated_write(main: str, written: str | None) -> None:
    """lineinfile replaced a matching line where it stood: a late Include stayed late and the settings before it
    won. Taking it out and inserting it in two steps left sshd_config without one when the insert's validation
    failed; one write, validated by sshd -t, puts it first and keeps every other line."""
    entry = task("ssh_hardening", "PATCH | sshd_config includes the drop-in directory as its first setting")
    host = {"xzgov_level": 3, "ssh_hardening_main_text": {"content": base64.b64encode(main.encode()).decode()}}
    assert value("ssh_hardening", "{{ " + entry["when"] + " }}", host) is (written is not None)
    if written is not None:
        assert value("ssh_hardening", entry["ansible.builtin.copy"]["content"], host) == written
    copy = entry["ansible.builtin.copy"]
    assert copy["validate"] == "{{ ssh_hardening_sshd_binary }} -t -f %s" and copy["mode"] == "0600"
    assert not any("Include" in str(t.get("ansible.builtin.lineinfile", {})) for t in _tasks())


def _tasks() -> list[dict[str, object]]:
    loaded = yaml.safe_load((ROLES / "ssh_hardening/tasks/main.yml").read_text(encoding="utf-8"))
    return list(loaded)


def test_the_role_checks_every_directive_of_its_drop_in() -> None:
    check = task("ssh_hardening", "AUDIT | The effective configuration is the hardened one")
    assert "lookup('ansible.builtin.template', 'sshd-hardening.conf.j2')" in check["vars"]["ssh_hardening_unapplied"]
    assert "xzgov_sshd_unapplied(ssh_hardening_effective.stdout_lines)" in check["vars"]["ssh_hardening_unapplied"]

"""The sudo rights of the three administrator roles (三员分立) cannot be turned into root (no host booted).

`/usr/bin/apt-get install *` let the 系统管理员 pass `-o APT::Update::Pre-Invoke::=/bin/sh` and `systemctl start *`
start any unit (a unit runs whatever it names, as root). The rendered sudoers must name every argument of a package
manager or systemctl, give no such command without arguments (sudoers then allows any), query units without a
pager, and pass ``visudo -cf`` where visudo is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.roles.render import render

HOST = {"xzgov_level": 3, "directory_client_gbt": "8.1"}
ESCALATING = re.compile(r"^/\S*/(apt|apt-get|aptitude|dpkg|dnf|yum|rpm|systemctl|unattended-upgrade|reboot)$")


def _commands(sudoers: str) -> dict[str, list[str]]:
    """Cmnd_Alias name → its commands (unescaped ``\\,``)."""
    result: dict[str, list[str]] = {}
    for line in sudoers.splitlines():
        if line.startswith("Cmnd_Alias "):
            name, _, body = line[len("Cmnd_Alias "):].partition(" = ")
            result[name] = [c.strip().replace("\\,", ",") for c in re.split(r"(?<!\\), ", body)]
    return result


def _sudoers(**extra: object) -> str:
    return render("directory_client", "sudoers.j2", {**HOST, **extra})


def test_package_managers_and_systemctl_take_no_wildcard_and_no_open_arguments() -> None:
    commands = _commands(_sudoers())
    assert set(commands) == {"XZGOV_SYSADMIN", "XZGOV_AUDITADMIN", "XZGOV_SECADMIN"}
    for alias, listed in commands.items():
        for command in listed:
            program, _, arguments = command.partition(" ")
            if ESCALATING.match(program):
                assert arguments, f"{alias}: '{command}' allows any arguments"
                assert not re.search(r"[*?\[]", arguments), f"{alias}: '{command}' has a wildcard"
                if program.endswith("systemctl") and " status " in f" {arguments} ":
                    assert "--no-pager" in arguments, f"{alias}: '{command}' opens a pager (!sh)"
    sysadmin = commands["XZGOV_SYSADMIN"]
    assert "/usr/bin/apt-get update" in sysadmin and '/usr/bin/unattended-upgrade ""' in sysadmin
    assert "/usr/bin/systemctl restart cron.service" in sysadmin
    assert not any(c.startswith("/usr/bin/systemctl start") or "install" in c for c in sysadmin)


def test_units_come_from_the_variable_and_never_the_audit_or_security_services() -> None:
    commands = _commands(_sudoers(directory_client_sysadmin_units=["nginx.service"]))["XZGOV_SYSADMIN"]
    units = {c.rsplit(" ", 1)[1] for c in commands if c.startswith("/usr/bin/systemctl ") and "--failed" not in c}
    assert units == {"nginx.service"}
    default_units = {c.rsplit(" ", 1)[1] for c in _commands(_sudoers())["XZGOV_SYSADMIN"]
                     if c.startswith("/usr/bin/systemctl restart ")}
    assert not default_units & {"auditd.service", "rsyslog.service", "sssd.service", "nftables.service",
                                "apparmor.service"}


@pytest.mark.skipif(shutil.which("visudo") is None and not Path("/usr/sbin/visudo").exists(),
                    reason="visudo is not installed (package sudo): the syntax check needs it")
def test_rendered_sudoers_passes_visudo(tmp_path: Path) -> None:
    path = tmp_path / "50-xzgov-roles"
    path.write_text(_sudoers(), encoding="utf-8")
    visudo = shutil.which("visudo") or "/usr/sbin/visudo"
    result = subprocess.run([visudo, "-cf", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

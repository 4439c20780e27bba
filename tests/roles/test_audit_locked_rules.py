"""Level 4 locks the kernel's audit rules (-e 2): a later change waits for a reboot instead of failing the host.

The handler ran `augenrules --load` whatever the lock; with the rules immutable auditctl -R refuses every change
(Debian 12's augenrules returns its status), so any run whose rules changed (the setuid list follows the
packages) failed a level-4 host and stopped the rollout. The handlers' conditions are evaluated through Ansible's
templar with the role's variables (no kernel audit in a test container).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.render import ROLES, render, runs, task

STATUS = {"locked": "enabled 2\nfailure 1\npid 612\n", "unlocked": "enabled 1\nfailure 1\npid 612\n"}


def _handlers() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load((ROLES / "audit" / "handlers" / "main.yml").read_text("utf-8"))
    return loaded


def _runs(handler: dict[str, Any], host: dict[str, Any]) -> bool:
    return runs("audit", handler, host)


@pytest.mark.parametrize("state", ["locked", "unlocked"])
def test_a_locked_kernel_is_told_to_reboot_not_loaded(state: str) -> None:
    listening = [h for h in _handlers() if h.get("listen") == "Reload audit rules"]
    names = [h["name"] for h in listening]
    read = names.index("Read whether the kernel's audit rules are locked")
    load = names.index("Load audit rules into the kernel")
    notice = names.index("Changed audit rules take effect at the next reboot (rules locked)")
    assert names.index("Compile audit rules") < read < load and read < notice  # handlers run in file order
    assert listening[read]["check_mode"] is False  # read in --check runs too (the conditions need it)
    host = {"xzgov_level": 4, "audit_kernel_support": True, "audit_status_for_load": {"stdout": STATUS[state]}}
    assert _runs(listening[load], host) is (state == "unlocked")
    assert _runs(listening[notice], host) is (state == "locked")
    assert "augenrules" in str(listening[names.index("Compile audit rules")]["ansible.builtin.command"]["argv"])


def test_without_kernel_audit_nothing_is_read_or_loaded() -> None:
    host = {"xzgov_level": 4, "audit_kernel_support": False, "audit_status_for_load": {"skipped": True}}
    for handler in _handlers():
        if handler.get("listen") == "Reload audit rules" and handler["name"] != "Compile audit rules":
            assert not _runs(handler, host), handler["name"]


#: the control lines of the auditd package's own rules.d/audit.rules (Debian 12, auditd 1:3.0.9-1)
PACKAGED_AUDIT_RULES = "-D\n-b 8192\n--backlog_wait_time 60000\n-f 1\n"


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_the_levels_failure_mode_and_backlog_are_the_ones_augenrules_keeps(level: int, tmp_path: Path) -> None:
    """augenrules concatenates rules.d in `ls -1v` order and keeps the last -b and -f it reads: the role's base
    file must sort after the package's audit.rules (as 10-xzgov-base.rules it did not, and level 4's -f 2 was
    replaced by the package's -f 1). The real `ls -1v` orders the role's files beside the package's."""
    files = task("audit", "PATCH | Audit rules (")["loop"]
    host = {"xzgov_level": level, "ansible_facts": {"architecture": "x86_64"}, "audit_privileged_found":
            {"stdout_lines": ["/usr/bin/sudo"]}}
    for name in files:
        (tmp_path / name).write_text(render("audit", f"{name}.j2", host), encoding="utf-8")
    (tmp_path / "audit.rules").write_text(PACKAGED_AUDIT_RULES, encoding="utf-8")
    order = subprocess.run(["ls", "-1v", str(tmp_path)], capture_output=True, text=True, check=True).stdout.split()
    kept: dict[str, str] = {}
    for name in order:
        for line in (tmp_path / name).read_text(encoding="utf-8").splitlines():
            if line.split()[:1] in (["-f"], ["-b"]):
                kept[line.split()[0]] = line
    assert kept == {"-f": f"-f {({1: 1, 2: 1, 3: 1, 4: 2})[level]}", "-b": "-b 8192"}, order

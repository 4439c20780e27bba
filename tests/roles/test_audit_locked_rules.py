"""Level 4 locks the kernel's audit rules (-e 2): a later change waits for a reboot instead of failing the host.

The handler ran `augenrules --load` whatever the lock; with the rules immutable auditctl -R refuses every change
(Debian 12's augenrules returns its status), so any run whose rules changed (the setuid list follows the
packages) failed a level-4 host and stopped the rollout. The handlers' conditions are evaluated through Ansible's
templar with the role's variables (no kernel audit in a test container).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.template import trust_as_template

from tests.roles.render import ROLES, role_templar

STATUS = {"locked": "enabled 2\nfailure 1\npid 612\n", "unlocked": "enabled 1\nfailure 1\npid 612\n"}


def _handlers() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load((ROLES / "audit" / "handlers" / "main.yml").read_text("utf-8"))
    return loaded


def _runs(handler: dict[str, Any], host: dict[str, Any]) -> bool:
    when = handler.get("when", [])
    templar = role_templar("audit", host)
    return all(bool(templar.evaluate_conditional(trust_as_template(str(c))))
               for c in ([when] if isinstance(when, str) else when))


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

"""The patching summary says what apt applies, not what the role wrote (no host booted: the task's own message and
variables evaluated with the role's defaults through Ansible's templar).

roles/crypto_service turns unattended-upgrades' reboot off on the key-management hosts (a later apt file, since a
reboot of the primary promotes the standby); the summary still said "rebooting at 03:30 when needed" there.
"""

from __future__ import annotations

import pytest

from tests.roles.render import task, value

SUMMARY = "AUDIT | Report pending security updates |"


def _summary(level: int, applied: str, check: bool = False) -> str:
    report = task("patching", SUMMARY)
    variables = {name: text for name, text in report["vars"].items()}
    host = {"xzgov_level": level, "inventory_hostname": "kms-1", "patching_reboot_applied": {"stdout": applied},
            "patching_simulated": {"stdout_lines": []}, "ansible_check_mode": check, **variables}
    return str(value("patching", report["ansible.builtin.debug"]["msg"], host))


@pytest.mark.parametrize(("level", "applied", "says"), [
    (3, "REBOOT='true'\n", "rebooting at 03:30 when needed"),
    (3, "REBOOT='false'\n", "no automatic reboot (a later apt setting turns it off"),
    (3, "", "no automatic reboot"),
    (2, "", "daily."),
], ids=["applied", "overridden", "unset", "level-2"])
def test_the_summary_follows_the_reboot_apt_applies(level: int, applied: str, says: str) -> None:
    text = _summary(level, applied)
    assert says in text, text
    if "rebooting" not in says:
        assert "rebooting" not in text, text


def test_a_check_run_does_not_blame_a_later_setting_for_what_it_has_not_written() -> None:
    """In --check mode the role's own file is not written: apt's setting is the host's old one (a review)."""
    text = _summary(3, "", check=True)
    assert "once this run is applied (check mode)" in text and "a later apt setting" not in text, text


def test_the_setting_is_read_from_apt_itself() -> None:
    read = task("patching", "AUDIT | The automatic reboot apt applies")
    assert read["ansible.builtin.command"]["argv"] == ["apt-config", "shell", "REBOOT",
                                                       "Unattended-Upgrade::Automatic-Reboot"]
    assert read["register"] == "patching_reboot_applied" and read["check_mode"] is False

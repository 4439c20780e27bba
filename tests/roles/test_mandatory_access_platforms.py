"""roles/mandatory_access on the region's three OS families: AppArmor is configured on Debian; on openEuler and
Kylin (SELinux / KYSEC) the role warns instead of installing a package those distributions do not have — which
failed the host and, with max_fail_percentage 0, stopped the rollout at the first batch holding one. The tasks'
conditions are evaluated through Ansible's templar with the role's variables."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests.roles.render import ROLES, render, runs, task, value


def _top_level_tasks() -> list[dict[str, Any]]:
    path = ROLES / "mandatory_access" / "tasks" / "main.yml"
    loaded: list[dict[str, Any]] = yaml.safe_load(path.read_text("utf-8"))
    return loaded


def _runs(task: dict[str, Any], host: dict[str, Any]) -> bool:
    return runs("mandatory_access", task, host)


@pytest.mark.parametrize(("family", "level", "warned", "configured"), [
    ("debian", 3, False, True), ("openeuler", 3, True, False), ("kylin", 4, True, False),
    ("kylin", 2, False, False),  # below level 3 the role has nothing to do anywhere
])
def test_apparmor_is_configured_on_debian_and_warned_about_elsewhere(family: str, level: int, warned: bool,
                                                                     configured: bool) -> None:
    tasks = _top_level_tasks()
    warning = next(t for t in tasks if str(t.get("name", "")).startswith("AUDIT | Mandatory access control not"))
    block = next(t for t in tasks if "block" in t)
    host = {"xzgov_level": level, "xzgov_os_family": family}
    assert (_runs(warning, host), _runs(block, host)) == (warned, configured)
    # every task that installs or loads anything is inside the Debian block
    assert not [t["name"] for t in tasks if "block" not in t and t is not warning]


def test_without_the_contract_variable_the_facts_decide() -> None:
    block = next(t for t in _top_level_tasks() if "block" in t)
    assert _runs(block, {"xzgov_level": 3, "ansible_facts": {"os_family": "Debian"}})
    assert not _runs(block, {"xzgov_level": 3, "ansible_facts": {"os_family": "RedHat"}})


def test_a_service_still_running_unconfined_is_restarted_into_its_profile() -> None:
    """A profile loaded after its daemon started confines it only from its next start: the running sshd, rsyslogd
    and chronyd stayed unconfined until a reboot. The role restarts each whose main process the kernel reports
    unconfined, and no other (no host here has the AppArmor LSM: the task's loop and conditions are evaluated)."""
    restart = task("mandatory_access", "PATCH | Restart the services still running unconfined")
    labels = {"ssh.service": "unconfined\n", "chrony.service": "/usr/sbin/chronyd (enforce)\n",
              "rsyslog.service": "rsyslogd (complain)\n"}
    results = [{"item": {"item": {"unit": unit}}, "content": base64.b64encode(label.encode()).decode()}
               for unit, label in labels.items()] + [{"item": {"item": {"unit": "gone.service"}}, "failed": True}]
    host = {"xzgov_level": 3, "mandatory_access_lsm": True,
            "mandatory_access_confinement": {"results": results}}
    items = value("mandatory_access", restart["loop"], host)
    restarted = [item["item"]["item"]["unit"] for item in items
                 if runs("mandatory_access", restart, {**host, "item": item})]
    assert restarted == ["ssh.service"]
    assert restart["ansible.builtin.systemd_service"]["state"] == "restarted"
    units = [p["unit"] for p in value("mandatory_access", "{{ mandatory_access_profiles }}", {"xzgov_level": 3})]
    assert units == ["chrony.service", "rsyslog.service", "ssh.service"]


def test_every_account_that_may_log_in_has_its_keys_readable_by_sshd() -> None:
    """The sshd profile read authorized_keys under /home/* and /root only: in enforce mode an account whose home is
    elsewhere (a deploy account at /srv/deploy, an operator at /var/lib/xzops) lost its key logins. Accounts that
    cannot log in add nothing; a home AppArmor would not read as written (a space, '..') is left out."""
    passwd = {
        "root": ["x", "0", "0", "root", "/root", "/bin/bash"],
        "xzops": ["x", "1000", "1000", "", "/home/xzops", "/bin/bash"],
        "deploy": ["x", "998", "998", "", "/srv/deploy/", "/bin/sh"],
        "operator2": ["x", "995", "995", "", "/var/lib/xzops", "/usr/bin/bash"],
        "www-data": ["x", "33", "33", "", "/var/www", "/usr/sbin/nologin"],
        "backup": ["x", "34", "34", "", "/var/backups", "/bin/false"],
        "odd": ["x", "997", "997", "", "/opt/a b", "/bin/bash"],
        "dotted": ["x", "996", "996", "", "/opt/../etc", "/bin/bash"],
    }
    host = {"xzgov_level": 4, "ansible_facts": {"getent_passwd": passwd}}
    profile = render("mandatory_access", "usr.sbin.sshd.j2", host)
    rules = [line.strip() for line in profile.splitlines() if line.strip().endswith("authorized_keys r,")]
    assert rules == ["/home/*/.ssh/authorized_keys r,", "/root/.ssh/authorized_keys r,",
                     "/srv/deploy/.ssh/authorized_keys r,", "/var/lib/xzops/.ssh/authorized_keys r,"]
    getent = task("mandatory_access", "AUDIT | Accounts and their homes")
    assert getent["ansible.builtin.getent"]["database"] == "passwd"

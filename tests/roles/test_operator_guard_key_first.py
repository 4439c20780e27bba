"""The operator guard refuses a run that relies on an ssh-agent's key order (no host booted).

ssh_hardening sets MaxAuthTries per level (3 from level 3 on). A controller that connects with only an agent
offers the agent's keys in the agent's order: with a few keys loaded, the run (or the next one) uses up the
attempts before the operator's key and is locked out. The guard's decision (``operator_guard_key_first``) is
evaluated with the role's own defaults through Ansible's templar, as in the other render tests; the assert that
uses it runs before ssh_hardening in site.yml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.render import value

ROOT = Path(__file__).resolve().parents[2]
BASE = {"operator_guard_ssh_cfg_args": "-o ControlMaster=auto -o ControlPersist=120s -o ServerAliveInterval=30"}


def _key_first(**host: Any) -> bool:
    return bool(value("operator_guard", "{{ operator_guard_key_first | bool }}", {**BASE, **host}))


@pytest.mark.parametrize(("host", "expected"), [
    ({}, False),  # agent only: refused
    ({"ansible_ssh_common_args": "-o IdentitiesOnly=no"}, False),
    ({"ansible_ssh_private_key_file": "~/.ssh/xzops_ed25519"}, True),
    ({"ansible_private_key_file": "~/.ssh/xzops_ed25519"}, True),
    ({"ansible_ssh_common_args": "-o IdentitiesOnly=yes -o IdentityFile=~/.ssh/xzops"}, True),
    ({"ansible_ssh_extra_args": "-o identitiesonly yes"}, True),
    ({"ansible_ssh_args": '-o "IdentitiesOnly yes" -o ControlMaster=auto'}, True),
    ({"operator_guard_ssh_cfg_args": "-o IdentitiesOnly=yes"}, True),  # ansible.cfg [ssh_connection] ssh_args
], ids=["agent-only", "identities-only-no", "key-file", "key-file-generic", "common-args", "extra-args",
        "ssh-args", "ansible-cfg"])
def test_guard_decides_whether_the_controller_presents_its_key_first(host: dict[str, Any], expected: bool) -> None:
    assert _key_first(**host) is expected


def _guard_tasks() -> list[dict[str, Any]]:
    tasks = yaml.safe_load((ROOT / "roles/operator_guard/tasks/main.yml").read_text(encoding="utf-8"))
    return list(tasks[0]["block"])


def test_the_guard_asserts_the_decision_with_a_message_naming_the_fix() -> None:
    asserts = [t for t in _guard_tasks() if "ansible.builtin.assert" in t
               and "operator_guard_key_first | bool" in t["ansible.builtin.assert"]["that"]]
    assert len(asserts) == 1
    task = asserts[0]
    message = task["ansible.builtin.assert"]["fail_msg"]
    assert "ansible_ssh_private_key_file" in message and "IdentitiesOnly=yes" in message
    assert "operator_guard_check_key_first | bool" in task["when"]


def test_the_guard_runs_before_sshd_is_hardened_and_max_auth_tries_keeps_the_baseline() -> None:
    plays = yaml.safe_load((ROOT / "site.yml").read_text(encoding="utf-8"))
    for play in plays:
        roles = [r["role"] if isinstance(r, dict) else r for r in play.get("roles") or []]
        if "ssh_hardening" in roles:
            assert roles.index("operator_guard") < roles.index("ssh_hardening"), play["name"]
    defaults = yaml.safe_load((ROOT / "roles/ssh_hardening/defaults/main.yml").read_text(encoding="utf-8"))
    assert defaults["ssh_hardening_max_auth_tries_by_level"] == {1: 5, 2: 4, 3: 3, 4: 3}

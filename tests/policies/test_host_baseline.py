"""One host baseline per 等保 level: the hardening roles apply exactly what the host rules require.

The roles keep their level-driven values in ``*_by_level`` maps (roles/*/defaults/main.yml); the rules
read :data:`xzgov.facts.thresholds.HOST_BY_LEVEL`. If either side changes alone, a hardened host would
fail the live scan at its own level — this test fails first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.engine import Facts, Point, Status, evaluate
from policies.registry import get_rule
from xzgov.facts.thresholds import HOST_BY_LEVEL, SSH_CLIENT_ALIVE_MAX_COUNT

ROLES = Path(__file__).resolve().parents[2] / "roles"


def defaults(role: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    return loaded


def documented(role: str) -> dict[str, Any]:
    """The options of a role's ``meta/argument_specs.yml`` (what ``ansible-doc`` and users read)."""
    specs: dict[str, Any] = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options: dict[str, Any] = specs["argument_specs"]["main"]["options"]
    return options


ROLE_NAMES = sorted(path.name for path in ROLES.iterdir() if (path / "defaults" / "main.yml").is_file())
OS, SSH = defaults("os_hardening"), defaults("ssh_hardening")
#: rule threshold name → (role, variable of its ``*_by_level`` map that applies it)
APPLIED_BY = {
    "faillock_max_deny": ("os_hardening", "os_hardening_faillock_deny_by_level"),
    "faillock_min_unlock_seconds": ("os_hardening", "os_hardening_faillock_unlock_time_by_level"),
    "password_min_length": ("os_hardening", "os_hardening_pwquality_minlen_by_level"),
    "password_min_classes": ("os_hardening", "os_hardening_pwquality_minclass_by_level"),
    "password_max_days": ("os_hardening", "os_hardening_pass_max_days_by_level"),
    "idle_timeout_max_seconds": ("os_hardening", "os_hardening_tmout_by_level"),
    "ssh_client_alive_max_interval": ("ssh_hardening", "ssh_hardening_client_alive_interval_by_level"),
    "ssh_max_auth_tries": ("ssh_hardening", "ssh_hardening_max_auth_tries_by_level"),
    "audit_immutable_required": ("audit", "audit_immutable_by_level"),
    "audit_privileged_commands_required": ("audit", "audit_privileged_commands_by_level"),
}


@pytest.mark.parametrize("level", [1, 2, 3, 4])
@pytest.mark.parametrize("name", sorted(APPLIED_BY))
def test_roles_apply_the_rules_baseline(level: int, name: str) -> None:
    role, variable = APPLIED_BY[name]
    assert defaults(role)[variable][level] == HOST_BY_LEVEL[level][name]
    # the argument spec documents the same default (what an operator reads before overriding it)
    assert documented(role)[variable]["default"][level] == HOST_BY_LEVEL[level][name]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_argument_specs_document_the_defaults(role: str) -> None:
    values, options = defaults(role) or {}, documented(role)
    assert sorted(set(values) - set(options)) == [], f"{role}: defaults without an argument spec"
    drift = {name: (options[name].get("default"), value) for name, value in values.items()
             if options[name].get("default") != value}
    assert drift == {}, f"{role}: argument_specs default != defaults/main.yml (spec, defaults)"
    extra = sorted(name for name, option in options.items() if "default" in option and name not in values)
    assert extra == [], f"{role}: argument_specs document defaults that defaults/main.yml does not set"


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_roles_root_login_and_keepalive_satisfy_the_rules(level: int) -> None:
    assert SSH["ssh_hardening_permit_root_login_by_level"][level] in HOST_BY_LEVEL[level]["ssh_root_login"]
    assert 0 < SSH["ssh_hardening_client_alive_count_max"] <= SSH_CLIENT_ALIVE_MAX_COUNT
    spec = documented("ssh_hardening")
    assert spec["ssh_hardening_permit_root_login_by_level"]["default"][level] in HOST_BY_LEVEL[level]["ssh_root_login"]
    assert 0 < spec["ssh_hardening_client_alive_count_max"]["default"] <= SSH_CLIENT_ALIVE_MAX_COUNT


def lockout_facts(level: int, deny: int, unlock: int) -> Facts:
    values = {"pam_faillock": {"in_auth_stack": True, "deny": deny, "unlock_time": unlock}}
    return Facts("sys", Point.HOST, values, {}, "2026-01-01T00:00:00Z", "h1", level=level)


def lockout(level: int, deny: int, unlock: int) -> Status:
    result = evaluate(get_rule("XZ-HOST-LOCKOUT"), lockout_facts(level, deny, unlock))
    assert result is not None
    return result.status


def test_lockout_threshold_follows_the_level() -> None:
    assert lockout(2, deny=6, unlock=600) is Status.PASS
    assert lockout(3, deny=6, unlock=900) is Status.FAIL
    assert lockout(3, deny=5, unlock=600) is Status.FAIL
    assert lockout(4, deny=5, unlock=1800) is Status.FAIL
    assert lockout(4, deny=3, unlock=0) is Status.PASS


def audit_facts(level: int, configured: list[str]) -> Facts:
    values = {"audit_rules": {"auditd_active": False, "rules": [], "kernel_audit": False,
                              "configured_rules": configured}}
    return Facts("sys", Point.HOST, values, {}, "2026-01-01T00:00:00Z", "h1", level=level)


def test_kernel_without_audit_is_never_a_pass() -> None:
    rule = get_rule("XZ-HOST-AUDIT-RULES")
    complete = ["-w /etc/passwd -p wa -k identity", "-w /etc/sudoers -p wa -k privilege",
                "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change",
                "-w /var/log/lastlog -p wa -k logins", "-w /var/run/faillock -p wa -k logins",
                "-a always,exit -F path=/usr/bin/sudo -F perm=x -k privileged", "-w /etc/audit/ -p wa -k audit"]
    result = evaluate(rule, audit_facts(3, complete))
    assert result is not None and result.status is Status.ERROR and "kernel" in result.message
    empty = evaluate(rule, audit_facts(3, []))
    assert empty is not None and empty.status is Status.FAIL


def test_privileged_command_auditing_is_required_from_level_3() -> None:
    rule = get_rule("XZ-HOST-AUDIT-RULES")
    without = ["-w /etc/passwd -p wa", "-w /etc/sudoers -p wa", "-a always,exit -S adjtimex -k time",
               "-w /var/log/lastlog -p wa", "-w /etc/audit/ -p wa"]
    level2, level3 = evaluate(rule, audit_facts(2, without)), evaluate(rule, audit_facts(3, without))
    assert level2 is not None and level2.status is Status.ERROR  # complete for level 2; kernel unverifiable
    assert level3 is not None and level3.status is Status.FAIL


def test_remediation_hints_name_roles_that_exist() -> None:
    import re

    from policies.registry import RULES

    named = {match for rule in RULES for match in re.findall(r"roles/([a-z_]+)", rule.remediation)}
    assert named, "the host rules point at the roles that fix them"
    assert {name for name in named if not (ROLES / name / "tasks").is_dir()} == set()

"""Pure checks (no booted host) that the issue-17 hardening depth has one source of values.

The roles' level maps must equal :data:`xzgov.facts.thresholds.HOST_BY_LEVEL`, the kernel sysctls the role
writes must satisfy :data:`xzgov.facts.baseline.KERNEL_SYSCTL_EXPECTED`, every new variable must be in the
role's argument specs, and the level-1 play's tasks carry GB/T 22239-2019 chapter-6 item tags.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from xzgov.facts.baseline import KERNEL_SYSCTL_EXPECTED
from xzgov.facts.thresholds import HOST_BY_LEVEL

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("operator_guard", "os_hardening", "ssh_hardening", "audit", "integrity", "firewall", "patching",
         "mandatory_access", "anti_malware")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _defaults(role: str) -> dict[str, Any]:
    return dict(_yaml(ROOT / "roles" / role / "defaults" / "main.yml") or {})


def _specs(role: str) -> dict[str, Any]:
    return dict(_yaml(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"])


LEVEL_MAPS = {
    "ssh_max_sessions": ("ssh_hardening", "ssh_hardening_max_sessions_by_level"),
    "password_hash_min_yescrypt_cost": ("os_hardening", "os_hardening_yescrypt_cost_by_level"),
    "password_hash_min_sha_rounds": ("os_hardening", "os_hardening_sha_crypt_rounds_by_level"),
}


@pytest.mark.parametrize("level", [1, 2, 3, 4])
@pytest.mark.parametrize("name", sorted(LEVEL_MAPS))
def test_role_level_maps_equal_the_rule_thresholds(name: str, level: int) -> None:
    role, variable = LEVEL_MAPS[name]
    assert _defaults(role)[variable][level] == HOST_BY_LEVEL[level][name]
    assert _specs(role)[variable]["default"][level] == HOST_BY_LEVEL[level][name]


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_ssh_forwarding_follows_the_threshold(level: int) -> None:
    tcp = _defaults("ssh_hardening")["ssh_hardening_allow_tcp_forwarding_by_level"][level]
    assert (tcp == "yes") is HOST_BY_LEVEL[level]["ssh_forwarding_allowed"]


def test_role_kernel_sysctls_satisfy_the_rule() -> None:
    written = _defaults("os_hardening")["os_hardening_sysctl_kernel"]
    for key, accepted in KERNEL_SYSCTL_EXPECTED.items():
        value = str(written[key])
        if "{{" in value:  # kernel.yama.ptrace_scope depends on the level
            for level in (1, 2, 3, 4):
                rendered = "2" if level >= 4 else "1"
                assert rendered in accepted, key
        else:
            assert value in accepted, key
    spec = _specs("os_hardening")["os_hardening_sysctl_kernel"]["default"]
    assert {key: str(value) for key, value in spec.items()} == {key: str(value) for key, value in written.items()}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_an_argument_spec(role: str) -> None:
    specs = _specs(role)
    missing = sorted(set(_defaults(role)) - set(specs))
    assert missing == [], f"roles/{role}/meta/argument_specs.yml lacks {missing}"
    for name, value in _defaults(role).items():
        if "default" in specs[name] and not isinstance(value, (dict, list)):
            assert str(specs[name]["default"]).strip() == str(value).strip(), name


# GB/T 22239-2019 level-1 items (chapter 6) of the level-2+ items the roles tag (6.1.4 has no audit item).
LEVEL1_OF = {"4_1_a": "4_1_a", "4_1_b": "4_1_b", "4_2_a": "4_2_a", "4_2_b": "4_2_b", "4_2_c": "4_2_c",
             "4_4_a": "4_3_a", "4_4_b": "4_3_b", "4_5_a": "4_4_a", "4_6_a": "4_5_a"}


@pytest.mark.parametrize("role", ROLES)
def test_level1_item_tags(role: str) -> None:
    """Every task tagged with a level-2 item that exists at level 1 also carries the level-1 tag (6.1.4.x)."""
    checked = 0
    for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        for task in _tasks(_yaml(path) or []):
            tags = set(task.get("tags") or [])
            for tag in tags:
                found = re.fullmatch(r"gbt22239_7_1_(4_\d+_[a-z])", tag)
                if found and found.group(1) in LEVEL1_OF:
                    checked += 1
                    assert f"gbt22239_6_1_{LEVEL1_OF[found.group(1)]}" in tags, (path.name, task.get("name"))
    # audit, patching (x.1.4.4.e) and mandatory access (x.1.4.2.f/g): no level-1 item; the guard is tagged always
    if role not in ("audit", "operator_guard", "patching", "mandatory_access", "anti_malware"):
        assert checked > 0, role


def _tasks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        for key in ("block", "rescue", "always"):
            found.extend(_tasks(item.get(key) or []))
    return found


def test_sshd_template_has_no_obsolete_or_unused_settings() -> None:
    template = (ROOT / "roles/ssh_hardening/templates/sshd-hardening.conf.j2").read_text(encoding="utf-8")
    assert not re.search(r"^Protocol\b", template, re.M)
    for path in (ROOT / "roles/ssh_hardening").rglob("*.yml"):
        assert "ssh_hardening_sftp_subsystem" not in path.read_text(encoding="utf-8"), path

"""A security-management host keeps the service it runs for the region (xzgov.core.secmgmt.ROLE_SERVICES).

os_hardening removed and disabled ``slapd`` on every host, the directory host included, right after the directory
play had installed it (every directory client then joined a directory that was down, and each run reinstalled and
removed it again); the live scan failed the directory host HIGH for the one service it exists to run. The role's
table and the scan's are one table, compared here; the role's lists are rendered with its own variables.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from policies.engine import Facts, Point, Status, evaluate
from policies.registry import get_rule
from xzgov.core.secmgmt import ROLE_SERVICES, ROLES

from .render import ROLES as ROLE_DIR
from .render import value


def _vars() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROLE_DIR / "os_hardening" / "vars" / "main.yml").read_text("utf-8"))
    return loaded


def test_the_role_keeps_what_the_scan_exempts() -> None:
    table = _vars()["os_hardening_role_services"]
    assert {role: tuple(services) for role, services in table.items()} == dict(ROLE_SERVICES)
    assert set(table) <= set(ROLES)


@pytest.mark.parametrize("role", ["", "log-centre", "time-source", "directory"])
def test_removed_and_stopped_lists_spare_only_the_hosts_own_service(role: str) -> None:
    host = {"xzgov_level": 3, **({"xzgov_secmgmt_role": role} if role else {})}
    removed = value("os_hardening", "{{ os_hardening_remove_packages }}", host)
    stopped = value("os_hardening", "{{ os_hardening_stopped_services }}", host)
    kept = set(ROLE_SERVICES.get(role, ()))
    assert ("slapd" in removed, "slapd" in stopped) == (("slapd" not in kept),) * 2
    # nothing else is spared: every other listed package and service is still removed and stopped
    assert set(removed) | kept >= set(_defaults()["os_hardening_remove_packages_common"])
    assert set(stopped) | kept == set(_defaults()["os_hardening_disable_services"])


def _defaults() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROLE_DIR / "os_hardening" / "defaults" / "main.yml").read_text("utf-8"))
    return loaded


def _services(role: str, active: list[str]) -> Status:
    values: dict[str, Any] = {"services": {"enabled": active, "active": active},
                              "host": {"secmgmt_role": role}}
    result = evaluate(get_rule("XZ-HOST-SERVICES"), Facts("sys", Point.HOST, values, {}, "2026-01-01T00:00:00Z",
                                                          "h1", level=3))
    assert result is not None
    return result.status


def test_the_scan_spares_slapd_on_the_directory_host_only() -> None:
    assert _services("directory", ["slapd.service", "ssh.service"]) is Status.PASS
    assert _services("", ["slapd.service"]) is Status.FAIL
    assert _services("log-centre", ["slapd.service"]) is Status.FAIL
    assert _services("directory", ["slapd.service", "telnet.socket"]) is Status.FAIL  # the rest still counts

"""Roles that support Debian only do not break a rollout of openEuler / Kylin hosts (no host booted).

The review's cases: directory_client ran apt and pam-auth-update on every host the inventory gives a directory
URI — at Lhasa 8 openEuler and 7 Kylin hosts — so the first batch holding one failed and the gate stopped the
rollout before later levels were hardened; playbooks/crypto_service.yml ran the Debian-only role on the Kylin
hosts of the crypto-service system and failed half-way through. The tasks' conditions and asserts are evaluated
through Ansible's templar with the roles' own variables.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.roles.render import ROLES, assertion_holds, role_templar, task, trust_as_template

URI = {"xzgov_directory_uri": "ldaps://directory01:636"}


def _runs(role: str, name: str, host: dict[str, Any]) -> bool:
    entry = task(role, name)
    when = entry.get("when", [])
    conditions = [when] if isinstance(when, str) else list(when)
    templar = role_templar(role, host)
    return all(bool(templar.evaluate_conditional(trust_as_template(str(c)))) for c in conditions)


@pytest.mark.parametrize(("host", "joins"), [
    ({"xzgov_os_family": "debian"}, True),
    ({"xzgov_os_family": "kylin"}, False),
    ({"xzgov_os_family": "openeuler"}, False),
    ({"ansible_facts": {"os_family": "Debian"}}, True),  # no contract variable: the facts
    ({"ansible_facts": {"os_family": "RedHat"}}, False),
])
def test_directory_client_joins_debian_hosts_and_warns_for_the_others(host: dict[str, Any], joins: bool) -> None:
    variables = {**URI, **host}
    assert _runs("directory_client", "Directory client", variables) is joins
    assert _runs("directory_client", "AUDIT | Not joined to the directory", variables) is not joins
    # without a directory URI neither runs
    assert not _runs("directory_client", "Directory client", host)
    assert not _runs("directory_client", "AUDIT | Not joined to the directory", host)


@pytest.mark.parametrize(("family", "accepted"), [("Debian", True), ("Kylin", False), ("openEuler", False)])
def test_crypto_service_refuses_a_host_it_cannot_serve_before_any_change(family: str, accepted: bool) -> None:
    host = {"inventory_hostname": "mmfw-kms01", "ansible_facts": {"os_family": family, "distribution": family}}
    assert assertion_holds("crypto_service", "The host runs Debian", host) is accepted
    tasks = yaml.safe_load((ROLES / "crypto_service" / "tasks" / "main.yml").read_text(encoding="utf-8"))
    assert str(tasks[0]["name"]).startswith("The host runs Debian")  # before anything is installed or changed

"""pytest plugin: real Debian 12 hosts booted with systemd-nspawn, reachable over SSH like production.

Fixtures (session scope):
- `host_pool`     → `HostPool`: the booted hosts plus the runner-side services (apt proxy, NTP,
                    TLS syslog receiver with `wait_for()`), and `write_inventory()` / `inventory()`.
- `booted_hosts`  → `list[TestHost]` (name, level, address, runner_address, ssh_user, key_path,
                    known_hosts, `ssh()`, `sudo()`, `testinfra_url()`, `ssh_config_args()`).
- `hosts_inventory` → `Path` of a YAML inventory for all hosts with the contract's host variables.

Hosts: `XZGOV_TEST_HOSTS="deb-l2:2,deb-l3:3"` (name:level, the default). Tests using them should be
marked `@pytest.mark.hosts`. Without root, systemd-nspawn or debootstrap the fixtures skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, HostSpec, unavailable_reason

DEFAULT_HOSTS = "deb-l2:2,deb-l3:3"


def host_specs_from_env() -> list[HostSpec]:
    specs = []
    for item in os.environ.get("XZGOV_TEST_HOSTS", DEFAULT_HOSTS).split(","):
        name, _, level = item.strip().partition(":")
        specs.append(HostSpec(name=name, level=int(level or 3)))
    return specs


@pytest.fixture(scope="session")
def host_pool() -> Iterator[HostPool]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    pool = HostPool(host_specs_from_env())
    try:
        pool.start()
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def booted_hosts(host_pool: HostPool) -> list[TestHost]:
    return host_pool.hosts


@pytest.fixture(scope="session")
def hosts_inventory(host_pool: HostPool, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return host_pool.write_inventory(tmp_path_factory.mktemp("inventory") / "hosts.yml")

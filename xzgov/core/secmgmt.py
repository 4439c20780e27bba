"""The security-management services of the register (安全管理中心, GB/T 22239-2019 x.1.5): which hosts run the
log centre, the time source and the operator directory, declared by ``spec.hosts[].role`` — never guessed
from a host's free-text purpose — and the consistency of those declarations with ``region.yaml``.

``xzgov inventory`` puts these hosts into the ``secmgmt_*`` groups and points every hardened host at them
(:mod:`xzgov.core.inventory`); :func:`check_security_management` reports located errors for declarations
the inventory could not honour.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xzgov.core import model as m
from xzgov.core.errors import Diagnostic
from xzgov.core.yamlio import LocatedDocument

ROLES = ("log-centre", "time-source", "directory", "bastion")
#: inventory group of each role (playbooks/security_management.yml; the bastion's is hardened as every host is)
GROUPS = {"log-centre": "secmgmt_log_centre", "time-source": "secmgmt_time_source",
          "directory": "secmgmt_directory", "bastion": "secmgmt_bastion"}
#: The services (each also its package's name) a security-management host runs for the region: the hardening
#: keeps them installed and running there (roles/os_hardening/vars/main.yml, ``os_hardening_role_services``: the
#: same table, checked by tests/roles/test_hardening_role_services.py) and the live scan does not count them
#: unnecessary there (XZ-HOST-SERVICES). Everywhere else they stay in the unnecessary list.
ROLE_SERVICES: Mapping[str, tuple[str, ...]] = {"directory": ("slapd",)}
MANAGEMENT_KIND = "security-management"
DIRECTORY_PORT = 636

_ROLE_NAMES = {"log-centre": "日志审计中心 / log centre", "time-source": "时间源 / time source",
               "directory": "运维人员目录 / operator directory", "bastion": "运维堡垒机 / bastion"}


@dataclass(frozen=True)
class ServiceHost:
    system: m.System
    host: m.Host

    @property
    def site(self) -> str:
        return self.system.site


def service_hosts(register: m.Register, role: str) -> list[ServiceHost]:
    """The hosts declaring ``role``, in a stable order (system name, then host order)."""
    return [ServiceHost(system, host) for system in sorted(register, key=lambda s: s.name)
            for host in system.hosts if host.role == role]


def directory_for_site(register: m.Register, site: str) -> ServiceHost | None:
    """The directory hosts of ``site`` join: the site's own, else the primary site's, else none."""
    directories = service_hosts(register, "directory")
    for wanted in (site, register.region.primary_site.id):
        for candidate in directories:
            if candidate.site == wanted:
                return candidate
    return None


def directory_uri(service: ServiceHost) -> str:
    return f"ldaps://{service.host.hostname}:{DIRECTORY_PORT}"


def check_security_management(
    region: m.Region, documents: Sequence[LocatedDocument], sink: list[Diagnostic]
) -> None:
    """Located errors for ``spec.hosts[].role`` declarations the inventory cannot honour."""
    directories: dict[str, str] = {}
    time_sources = set(region.time_sources)
    log_hosts = {server.host for server in region.log_servers.values()}
    management_zones = [zone.id for zone in region.zones_of_kind(MANAGEMENT_KIND)]
    for doc in documents:
        spec = doc.data.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("placement"), dict):
            continue
        zone_id = spec["placement"].get("zone")
        site = spec["placement"].get("site")
        zone = region.zones.get(zone_id) if isinstance(zone_id, str) else None
        for index, host in enumerate(spec.get("hosts") or []):
            role = host.get("role") if isinstance(host, dict) else None
            if isinstance(host, dict):
                _check_contract_address(region, doc, index, host, role, time_sources, log_hosts, sink)
            if role not in ROLES:
                continue
            where = ("spec", "hosts", index, "role")
            name = host.get("hostname", "?")
            what = _ROLE_NAMES[role]
            if zone is not None and zone.kind != MANAGEMENT_KIND:
                zones = ", ".join(management_zones) or "none in region.yaml"
                sink.append(doc.diagnostic(
                    where, f"host '{name}' is declared {role} ({what}) but its system sits in zone '{zone.id}' "
                    f"(kind {zone.kind}), which the hosts of the other zones cannot reach "
                    "(安全管理中心服务须位于安全管理区)",
                    f"place the system in a security-management zone ({zones}) or remove role from the host",
                    code="reference"))
            kept = m.ROLE_DATA_PATHS.get(role, ())
            if kept and host.get("data", "none") not in m.HOST_DATA_METHODS:
                sink.append(doc.diagnostic(
                    ("spec", "hosts", index, "data") if "data" in host else where,
                    f"host '{name}' is declared {role} ({what}) and keeps {', '.join(kept)}, but its data is "
                    f"'{host.get('data', 'none')}': nothing of it would be backed up off-site (数据备份恢复 8.1.4.9 / "
                    "its backup would be missing)",
                    "write data: files on the host (its role's storage is always in the backup)", code="reference"))
            address = str(host.get("address", ""))
            if role == "directory":
                if site in directories:
                    sink.append(doc.diagnostic(
                        where, f"a second operator directory at site '{site}': '{name}' (the first is "
                        f"{directories[site]}); hosts of a site join exactly one directory (每站点一个运维目录)",
                        "keep role: directory on one host per site (a replica is not declared here)",
                        code="duplicate"))
                else:
                    directories[str(site)] = f"'{name}' in {doc.file}"
            elif role == "time-source" and _valid(address) and address not in time_sources:
                sink.append(doc.diagnostic(
                    where, f"host '{name}' ({address}) is declared time-source, but hosts synchronise with "
                    f"region.yaml spec.time_sources ({', '.join(region.time_sources)}), which does not list it",
                    f"add {address} to spec.time_sources in region.yaml, or remove role from the host",
                    code="reference"))
            elif role == "log-centre" and _valid(address) and address not in log_hosts:
                sink.append(doc.diagnostic(
                    where, f"host '{name}' ({address}) is declared log-centre, but no region.yaml "
                    f"spec.log_servers entry has host {address}: no host would forward its logs there",
                    f"add a log server with host: {address} to spec.log_servers in region.yaml, or remove role "
                    "from the host", code="reference"))


def _check_contract_address(region: m.Region, doc: LocatedDocument, index: int, host: Mapping[str, Any],
                            role: object, time_sources: set[str], log_hosts: set[str], sink: list[Diagnostic]) -> None:
    """The other direction: a registered host at an address region.yaml routes every host's logs or time to serves
    that role. Without it the inventory neither configures the service nor opens its port on the host's firewall:
    central audit (or time) stopped in silence, and the validation said nothing."""
    address = str(host.get("address", ""))
    name = host.get("hostname", "?")
    for wanted, listed, where_listed in (("log-centre", address in log_hosts, "spec.log_servers"),
                                         ("time-source", address in time_sources, "spec.time_sources")):
        if listed and role != wanted:
            sink.append(doc.diagnostic(
                ("spec", "hosts", index, "role") if "role" in host else ("spec", "hosts", index, "address"),
                f"host '{name}' ({address}) is listed in region.yaml {where_listed}, so every hardened host sends "
                f"to it, but it is not declared role: {wanted} ({_ROLE_NAMES[wanted]}); its "
                f"{'log centre' if wanted == 'log-centre' else 'time source'} would not be configured or reachable",
                f"declare role: {wanted} on the host, or take {address} out of {where_listed} in region.yaml",
                code="reference"))


def _valid(address: str) -> bool:
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True

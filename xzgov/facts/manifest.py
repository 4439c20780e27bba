"""Manifest facts: the register → one :class:`~policies.engine.Facts` per system (point ``manifest``).

Locations are ``file:line`` of the manifest field a fact came from (positions kept by the YAML
loader), so a finding points at the line to change.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from xzgov.core import model as m
from xzgov.core import ports as core_ports
from xzgov.core.backup_cadence import MIN_INTERVAL, rendered_cadence
from xzgov.core.clock import region_day
from xzgov.core.yamlio import LocatedDocument
from xzgov.facts.baseline import CRYPTO_UNITS
from xzgov.facts.contract import Facts, Point, utc_now

#: 密评 strength of a unit id at a level: ``strength(unit_id, crypto_level)`` → 应|宜|可|不要求.
StrengthOf = Callable[[str, int], str]

#: the schedule the stacks deploy for a manifest cron more frequent than Velero runs (``rendered_cadence``)
_FLOOR_SCHEDULE = (f"continuity.backup → Velero 最短间隔 {MIN_INTERVAL} 分钟 / rendered at Velero's "
                   f"{MIN_INTERVAL}-minute floor")


class Positions(Protocol):
    """Finds the (line, column) of a manifest path: a :class:`LocatedDocument`, or the scan's line index."""

    @property
    def file(self) -> str: ...

    def position(self, path: tuple[str | int, ...]) -> tuple[int, int]: ...


#: How facts are located: a document whose positions are found on demand, or ``None`` (file only: the
#: scanner first evaluates unlocated and locates only non-passing results, see :func:`located`).
Locating = Positions | LocatedDocument | None


class _Locations(Mapping[str, str]):
    """Fact key → location, resolved on first read: ``file:line`` of the recorded manifest path when
    located, the manifest file otherwise; entries given as text (region facts) are kept as they are.
    Only the locations a finding reads are ever looked up."""

    __slots__ = ("_entries", "_file_only", "_nested_text", "_resolved", "_source", "_where")

    def __init__(self, entries: dict[str, str | tuple[str | int, ...]], where: Locating, source: str,
                 nested_text: bool) -> None:
        self._entries = entries
        self._where = where
        self._source = source
        self._resolved: dict[str, str] = {}
        self._nested_text = nested_text  #: some entry given as text is below a fact key (``"key.sub"``)
        #: file-only, and no text entry below a fact key: every path under a recorded fact key is the file
        self._file_only = where is None and bool(source) and not nested_text

    def locate(self, key: str, sub: tuple[str | int, ...]) -> str | None:
        """What :meth:`Facts.where` finds for ``key``/``sub`` (``None``: no recorded parent). Unlocated, a path
        under a fact key recorded as a manifest path is the manifest file, whatever is recorded below it: the
        walk from the most specific path is skipped (the first pass over every system asks this ~120 times)."""
        entry = self._entries.get(key)
        if self._file_only and entry is not None and type(entry) is not str:
            return self._source
        if sub:
            parts = [key, *map(str, sub)]
            while len(parts) > 1:
                found: str | None = self.get(".".join(parts))
                if found:
                    return found
                parts.pop()
        if entry is None:
            return None
        return self[key] or None

    def __getitem__(self, key: str) -> str:
        entry = self._entries[key]
        if type(entry) is str:
            return entry
        where = self._where
        if where is None:
            return self._source
        found = self._resolved.get(key)
        if found is None:
            line, _ = where.position(tuple(entry))
            found = self._resolved[key] = f"{where.file}:{line}"
        return found

    def get(self, key: str, default: Any = None) -> Any:
        # Mapping.get would go through __getitem__ and a caught KeyError: most keys a finding asks for
        # (sub-paths of a fact) are not recorded, and Facts.where asks for every one of them.
        entry = self._entries.get(key)
        if entry is None:
            return default
        return self[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def located(self, where: Locating) -> _Locations:
        return _Locations(self._entries, where, self._source, self._nested_text)


class _Locator:
    def __init__(self, where: Locating, source: str) -> None:
        self.where = where
        self.source = source
        self.table: dict[str, str | tuple[str | int, ...]] = {}
        self.nested_text = False

    def put(self, key: str, *path: str | int) -> None:
        """``key`` was read from the manifest at ``path``."""
        self.table[key] = path

    def put_all(self, paths: Mapping[str, tuple[str | int, ...]]) -> None:
        """:meth:`put` of each ``key: path`` in order (tables the same for every system, built once)."""
        self.table.update(paths)

    def text(self, key: str, location: str) -> None:
        """``key`` was read from elsewhere (``region.yaml``), described by ``location``."""
        self.table[key] = location
        self.nested_text = self.nested_text or "." in key

    def locations(self) -> _Locations:
        return _Locations(self.table, self.where, self.source, self.nested_text)


def located(facts: Facts, where: Locating) -> Facts:
    """``facts`` (from :func:`manifest_facts`) with their locations found through ``where`` (on demand):
    the same values, so rules that failed on unlocated facts run again to point at ``file:line``."""
    locations = facts.locations
    if not isinstance(locations, _Locations):
        raise TypeError("located() takes the facts manifest_facts returned")
    return replace(facts, locations=locations.located(where))


def zone_path(region: m.Region, zone_id: str) -> list[str]:
    """Shortest path of zone ids from an internet-access zone to ``zone_id`` through ``reachable_from``
    (an edge ``a → b`` exists when ``b.reachable_from`` names ``a``); empty when there is none."""
    sources = [zone.id for zone in region.zones_of_kind("internet-access")]
    if zone_id in sources:
        return []
    successors: dict[str, list[str]] = {}
    for zone in region.zones.values():
        for origin in zone.reachable_from:
            successors.setdefault(origin, []).append(zone.id)
    queue: deque[list[str]] = deque([source] for source in sources)
    seen = set(sources)
    while queue:
        path = queue.popleft()
        for nxt in successors.get(path[-1], []):
            if nxt == zone_id:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    return []


def _target_zone_and_ports(register: m.Register, flow: m.Flow) -> tuple[str | None, list[int] | None]:
    """The zone a flow lands in and the ports its target serves to other systems (``None`` = not known): its
    workloads' and its hosts' ports but those marked ``exposure: internal`` — where ``xzgov.core.ports`` lands a
    flow (a flow to a host port failed; one to a port only the system itself reaches passed)."""
    target = m.resolve_flow_target(register, flow.to)
    if target.service is not None:
        return target.zone, [target.service.port]
    if target.system is None or flow.to.kind != "system":
        return target.zone, None
    served = [*(p for w in target.system.workloads for p in w.ports),
              *(p for h in target.system.hosts for p in h.ports)]
    ports = sorted({p.port for p in served if p.exposure != "internal"})
    if target.system.endpoints:
        ports = sorted({*ports, 443})
    return target.zone, (ports or None)


def _zone_kind(region: m.Region, zone_id: str) -> str:
    zone = region.zones.get(zone_id)
    return zone.kind if zone else ""


@dataclass(frozen=True)
class _Boundary:
    """The register's internet boundary: gateway systems, and who fronts each system (built once)."""

    gateways: tuple[str, ...]
    fronted_by: Mapping[str, tuple[str, ...]]


#: The boundary of the last register asked about (the register itself is kept so its id stays unique).
_BOUNDARY: list[tuple[m.Register, _Boundary]] = []


def _boundary(register: m.Register) -> _Boundary:
    """Computed once per register, not once per system: a scan asks for every system of one register."""
    if _BOUNDARY and _BOUNDARY[0][0] is register:
        return _BOUNDARY[0][1]
    region = register.region
    in_access = [other for other in register.systems.values()
                 if _zone_kind(region, other.zone) == "internet-access"]
    gateways = sorted(other.name for other in in_access if not other.internet_facing
                      and any(f.to.kind == "system" and (t := register.systems.get(f.to.name)) is not None
                              and t.internet_facing for f in other.flows))
    fronted: dict[str, set[str]] = {}
    for other in in_access:
        for flow in other.flows:
            if flow.to.kind == "system" and flow.to.name != other.name:
                fronted.setdefault(flow.to.name, set()).add(other.name)
    boundary = _Boundary(tuple(gateways), {name: tuple(sorted(names)) for name, names in fronted.items()})
    _BOUNDARY[:] = [(register, boundary)]
    return boundary


@dataclass(frozen=True)
class _RegionFacts:
    """The parts of the facts that depend only on the region, built once per register and shared by
    every system's facts (rules are pure: they read facts, never change them)."""

    access_zones: list[str]
    log_server_ids: list[str]
    boundary_zones: dict[str, Any]
    wafs: list[str]
    management_zones: list[str]
    log_servers: list[dict[str, Any]]
    time_sources: list[dict[str, Any]]
    dr_sites: list[str]
    zone_paths: dict[str, list[str]]


#: The region facts of the last register asked about (kept with the register, as :data:`_BOUNDARY`).
_REGION: list[tuple[m.Register, _RegionFacts]] = []


def _region_facts(register: m.Register) -> _RegionFacts:
    if _REGION and _REGION[0][0] is register:
        return _REGION[0][1]
    region = register.region
    mgmt_zones = region.zones_of_kind("security-management")

    def in_management_zone(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for zone_ in mgmt_zones for network in zone_.cidrs.values())

    facts = _RegionFacts(
        access_zones=[z.id for z in region.zones_of_kind("internet-access")],
        log_server_ids=sorted(region.log_servers),
        boundary_zones={z.id: {"kind": z.kind, "devices": [
            {"id": d.id, "kind": d.kind, "name": d.name, "logs_to": d.logs_to, "alerting": d.alerting,
             "signature_update_hours": d.signature_update_hours, "record_fields": list(d.record_fields)}
            for d in z.boundary_devices]}
            for z in region.zones.values()},
        wafs=[f"{z.id}/{d.id}" for z in region.zones_of_kind("internet-access") for d in z.boundary_devices
              if d.kind == "waf"],
        management_zones=[z.id for z in mgmt_zones],
        log_servers=[{"id": ls.id, "host": ls.host, "port": ls.port, "protocol": ls.protocol,
                      "in_management_zone": in_management_zone(ls.host)} for ls in region.log_servers.values()],
        time_sources=[{"address": t, "in_management_zone": in_management_zone(t)} for t in region.time_sources],
        dr_sites=[site.id for site in region.sites.values() if site.backup_bucket],
        zone_paths={},
    )
    _REGION[:] = [(register, facts)]
    return facts


#: The unit strengths of the last ``strength`` asked about, per 密评 level (kept with it, as :data:`_BOUNDARY`).
_REQUIREMENTS: list[tuple[StrengthOf, dict[int, Mapping[str, str]]]] = []


def _requirements(strength: StrengthOf, crypto_level: int) -> Mapping[str, str]:
    """``{unit: strength(unit, crypto_level)}`` over :data:`CRYPTO_UNITS`, asked once per level (each system's
    facts get a copy): 22 lookups per system otherwise."""
    if not _REQUIREMENTS or _REQUIREMENTS[0][0] is not strength:
        _REQUIREMENTS[:] = [(strength, {})]
    by_level = _REQUIREMENTS[0][1]
    found = by_level.get(crypto_level)
    if found is None:
        found = by_level[crypto_level] = {unit: strength(unit, crypto_level) for _, _, unit in CRYPTO_UNITS}
    return found


def _decision(decision: m.CryptoLevelDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"scheme": decision.scheme, "reason": decision.reason, "approver_name": decision.approver_name,
            "approver_role": decision.approver_role, "approved": decision.approved,
            "reviewed_by": decision.reviewed_by}


#: Workload ports that mean the system offers mail (SMTP, submission, SMTPS, IMAPS, POP3S).
MAIL_PORTS = frozenset({25, 465, 587, 993, 995})


def _security_facts(register: m.Register, system: m.System, values: dict[str, Any], loc: _Locator) -> None:
    """The boundary devices of the region's zones and the system's ``spec.security`` declarations."""
    region = register.region
    regional = _region_facts(register)
    values["boundary"] = {
        "system_zone": system.zone,
        "internet_facing": system.internet_facing,
        "mail_service": any(p.port in MAIL_PORTS for w in system.workloads for p in w.ports),
        "internet_access_zones": regional.access_zones,
        "log_servers": regional.log_server_ids,
        "zones": regional.boundary_zones,
    }
    loc.text("boundary", f"{region.source} (zones[].boundary_devices)")
    sec = system.security
    admin = sec.administration
    values["administration"] = {
        "accounts": [{"account": a.account, "role": a.role, "holder": a.holder, "status": a.status,
                      "shared": a.shared, "external": a.external, "valid_until": a.valid_until}
                     for a in admin.accounts],
        "account_manager": admin.account_manager, "access_via": admin.access_via,
        "mutual_authentication": admin.mutual_authentication, "last_review": admin.last_review,
        "review_cadence_days": admin.review_cadence_days,
    }
    loc.put("administration", "spec", "security", "administration")
    for index in range(len(admin.accounts)):
        loc.put(f"administration.accounts.{index}", "spec", "security", "administration", "accounts", index)
    loc.put_all(_ADMINISTRATION_PATHS)
    ops = sec.operations
    values["operations"] = {name: getattr(ops, name) for name in ops.__dataclass_fields__}
    loc.put("operations", "spec", "security", "operations")
    loc.put_all(_OPERATIONS_PATHS)
    data = sec.data
    values["data_protection"] = {
        "residency": data.residency,
        "third_parties": [{"name": t.name, "location": t.location, "purpose": t.purpose,
                           "export_assessment": t.export_assessment} for t in data.third_parties],
        "key_storage": data.key_storage, "customer_managed_keys": data.customer_managed_keys,
        "key_rotation_days": data.key_rotation_days, "backups_encrypted": data.backups_encrypted,
        "snapshots_encrypted": data.snapshots_encrypted, "local_backup": data.local_backup,
        "last_restore_drill": data.last_restore_drill, "restore_drill_cadence_days": data.restore_drill_cadence_days,
        # key storage declared per 密码应用 aspect (spec.crypto.<aspect>.key_storage)
        "aspect_key_storage": {aspect: storage for aspect in m.CRYPTO_ASPECTS
                               if (storage := system.crypto.aspect(aspect).key_storage)},
    }
    loc.put("data_protection", "spec", "security", "data")
    dev, maint = sec.development, sec.maintenance
    values["development"] = {name: getattr(dev, name) for name in dev.__dataclass_fields__}
    loc.put("development", "spec", "security", "development")
    values["maintenance"] = {name: getattr(maint, name) for name in maint.__dataclass_fields__}
    loc.put("maintenance", "spec", "security", "maintenance")
    loc.put_all(_MAINTENANCE_PATHS)
    for index in range(len(data.third_parties)):
        loc.put(f"data_protection.third_parties.{index}", "spec", "security", "data", "third_party_services", index)
    loc.put_all(_DATA_PROTECTION_PATHS)


#: The manifest paths of fact keys every system has, in the order they are recorded (the same tables for every
#: system: a scan of 10,000 systems formatted these keys half a million times).
_ADMINISTRATION_PATHS: Mapping[str, tuple[str | int, ...]] = {
    f"administration.{key}": ("spec", "security", "administration", *path)
    for key, path in (("access_via", ("access", "via")), ("mutual_authentication", ("access", "mutual_authentication")),
                      ("last_review", ("last_review",)), ("account_manager", ("account_manager",)),
                      ("review_cadence_days", ("review_cadence_days",)))}
_OPERATIONS_PATHS: Mapping[str, tuple[str | int, ...]] = {
    f"operations.{key}": ("spec", "security", "operations", part)
    for keys, part in ((("patch_cadence_days", "last_patched", "scan_cadence_days", "last_vulnerability_scan",
                         "open_high_vulnerabilities"), "patching"),
                       (("anti_malware", "anti_malware_central", "signature_update_hours", "signatures_updated"),
                        "anti_malware"),
                       (("hids", "hids_alerting"), "intrusion_detection"),
                       (("monitoring_platform", "monitors_resources", "monitors_security_events",
                         "detects_unregistered_assets", "log_analyst"), "monitoring"))
    for key in keys}
_MAINTENANCE_PATHS: Mapping[str, tuple[str | int, ...]] = {
    **{f"maintenance.{key}": ("spec", "security", "maintenance", "remote")
       for key in ("remote_allowed", "remote_approval", "remote_audited", "remote_closed_after")},
    "data_protection.residency": ("spec", "security", "data", "residency")}
_DATA_PROTECTION_PATHS: Mapping[str, tuple[str | int, ...]] = {
    **{f"data_protection.aspect_key_storage.{aspect}": ("spec", "crypto", aspect, "key_storage")
       for aspect in m.CRYPTO_ASPECTS},
    **{f"data_protection.{key}": ("spec", "security", "data", "keys")
       for key in ("key_storage", "customer_managed_keys", "key_rotation_days")},
    **{f"data_protection.{key}": ("spec", "security", "data", "backup")
       for key in ("backups_encrypted", "snapshots_encrypted", "local_backup", "last_restore_drill",
                   "restore_drill_cadence_days")}}
#: ``crypto_mechanisms.<aspect>``: a missing mechanism is located at its aspect, not at a sibling's line
_ASPECT_PATHS: Mapping[str, tuple[str | int, ...]] = {
    f"crypto_mechanisms.{aspect}": ("spec", "crypto", aspect) for aspect in m.CRYPTO_ASPECTS}
_CONTINUITY_PATHS: Mapping[str, tuple[str | int, ...]] = {
    f"continuity.{key}": ("spec", "continuity", *path)
    for key, path in (("rpo_minutes", ("rpo_minutes",)), ("rto_minutes", ("rto_minutes",)), ("dr_tier", ("dr_tier",)),
                      ("backup_retention_days", ("backup", "retention_days")))}
_ASSESSMENT_PATHS: Mapping[str, tuple[str | int, ...]] = {
    "assessments": ("spec", "assessments"),
    **{entry: path for kind in ("dengbao", "miping")
       for entry, path in ((f"assessments.{kind}", ("spec", "assessments", kind)),
                           *((f"assessments.{kind}.{key}", ("spec", "assessments", kind, key))
                             for key in ("date", "conclusion", "agency")))}}


def _inbound_port_facts(register: m.Register, system: m.System, values: dict[str, Any], loc: _Locator) -> None:
    """Every listening port with what reaches it, and inbound flows arriving at no declared port
    (:mod:`xzgov.core.ports` resolves them, as the NetworkPolicies do)."""
    reach = core_ports.port_reach(register, system)
    values["inbound_ports"] = {
        "ports": [{"kind": r.kind, "owner": r.owner, "port": r.port.port, "protocol": r.port.protocol.upper(),
                   "exposure": r.port.exposure, "reached_by": list(r.reached_by)} for r in reach],
        "unlanded": [{"source": i.source.name, "via": i.via, "port": i.port, "protocol": i.protocol,
                      "purpose": i.flow.purpose, "source_file": i.source.source}
                     for i in core_ports.unlanded(register, system)],
        "zone_kind": _zone_kind(register.region, system.zone),
    }
    for index, r in enumerate(reach):
        owner = ("spec", f"{r.kind}s", r.owner_index, "ports", r.port_index)
        loc.put(f"inbound_ports.ports.{index}", *owner, *(("exposure",) if r.port.exposure else ()))
    loc.put("inbound_ports", "spec", *(("hosts",) if system.hosts else ("workloads",) if system.workloads else ()))


def manifest_facts(
    register: m.Register,
    system: m.System,
    document: Locating = None,
    *,
    strength: StrengthOf | None = None,
    thresholds: Mapping[str, Any] | None = None,
    gathered_at: str | None = None,
    as_of: str | None = None,
    cloud_platform: tuple[Mapping[str, Any], str] | None = None,
) -> Facts:
    """Facts about ``system`` from the register. ``document`` locates them (file:line); without it every
    location is the manifest file. ``strength`` gives 密评 unit strengths (from the catalogue); without it
    ``crypto_requirements`` is left out and the rules that need it do not run. ``cloud_platform`` is the
    platform's assessment record in force (``{record, level, assessed, conclusion}`` and where it is), if any."""
    loc = _Locator(document, system.source)
    region = register.region
    c = system.classification
    loc.put("classification", "spec", "classification")
    loc.put("classification.filing_number", "spec", "classification", "filing_number")
    values: dict[str, Any] = {
        "classification": {
            "level": c.level,
            "crypto_level": c.crypto_level,
            "data_class": c.data_class,
            "personal_information": c.personal_information,
            "sensitive_personal_information": c.sensitive_personal_information,
            "filing_number": c.filing_number,
            "filing_date": c.filing_date,
            "crypto_level_decision": _decision(c.crypto_level_decision),
        },
    }
    loc.put("classification.crypto_level", "spec", "classification", "crypto_level")
    loc.put("classification.crypto_level_decision", "spec", "classification", "crypto_level_decision")
    zone = region.zones.get(system.zone)
    boundary = _boundary(register)
    regional = _region_facts(register)
    route = regional.zone_paths.get(system.zone)
    if route is None:
        route = regional.zone_paths[system.zone] = zone_path(region, system.zone)
    values["exposure"] = {
        "internet_facing": system.internet_facing,
        "endpoints": list(system.endpoints),
        "zone": system.zone,
        "zone_kind": zone.kind if zone else "",
        # internet-facing systems this one reverse-proxies to (the internet-access boundary facility)
        "fronts": sorted({f.to.name for f in system.flows if f.to.kind == "system"
                          and (other := register.systems.get(f.to.name)) is not None and other.internet_facing}),
        # the region's registered internet boundary facilities (WAF / reverse proxy systems in that zone)
        "gateways": list(boundary.gateways),
        # systems in an internet-access zone with a declared flow to this one (its reverse proxy / WAF path)
        "fronted_by": list(boundary.fronted_by.get(system.name, ())),
        # WAF devices declared at the boundary of the region's internet-access zones (region.yaml)
        "wafs": regional.wafs,
    }
    loc.put("exposure", "spec", "exposure")
    loc.put("exposure.zone", "spec", "placement", "zone")
    values["zone_paths"] = {
        "internet_access_zones": regional.access_zones,
        "reachable_from": list(zone.reachable_from) if zone else [],
        "path": route,
    }
    loc.text("zone_paths", f"{region.source} (zones.{system.zone}.reachable_from)")
    flows: list[dict[str, Any]] = []
    for index, flow in enumerate(system.flows):
        target_zone, ports = _target_zone_and_ports(register, flow)
        flows.append(
            {
                "to_kind": flow.to.kind,
                "to": flow.to.name,
                "protocol": flow.protocol,
                "port": flow.port,
                "purpose": flow.purpose,
                "source_zone": system.zone,
                "target_zone": target_zone,
                "reachable": core_ports.zone_permits(register, system, flow),
                "target_ports": ports,
                "port_declared": None if ports is None else flow.port in ports,
            }
        )
        loc.put(f"flows.{index}", "spec", "flows", index)
    values["flows"] = flows
    loc.put("flows", "spec", "flows")
    usage: list[dict[str, Any]] = []
    for index, service in enumerate(system.services):
        shared = region.shared_services.get(service)
        declared = any(f.to.kind == "service" and f.to.name == service for f in system.flows)
        usage.append({"service": service, "flow_declared": declared, "port": shared.port if shared else None})
        loc.put(f"service_usage.{index}", "spec", "services", index)
    values["service_usage"] = usage
    _inbound_port_facts(register, system, values, loc)
    auth = system.authentication
    values["authentication"] = {
        "factors": list(auth.factors),
        "admin_factors": list(auth.admin_factors),
        "cryptographic": sorted(m.CRYPTOGRAPHIC_FACTORS),
    }
    loc.put("authentication", "spec", "authentication")
    loc.put("authentication.factors", "spec", "authentication", "factors")
    loc.put("authentication.admin_factors", "spec", "authentication", "admin_factors")
    mechanisms: list[dict[str, Any]] = []
    plans = [(aspect, system.crypto.aspect(aspect)) for aspect in m.CRYPTO_ASPECTS]
    for aspect, plan in plans:
        for index, mech in enumerate(plan.mechanisms):
            loc.put(f"crypto_mechanisms.{len(mechanisms)}", "spec", "crypto", aspect, "mechanisms", index)
            mechanisms.append(
                {
                    "aspect": aspect,
                    "purpose": mech.purpose,
                    "algorithms": list(mech.algorithms),
                    "product": mech.product,
                }
            )
    values["crypto_mechanisms"] = mechanisms
    loc.put("crypto_mechanisms", "spec", "crypto")
    exemptions: list[dict[str, Any]] = []
    for aspect, plan in plans:
        for index, exemption in enumerate(plan.exemptions):
            loc.put(f"crypto_exemptions.{len(exemptions)}", "spec", "crypto", aspect, "not_applicable", index)
            exemptions.append({"aspect": aspect, "purpose": exemption.purpose, "reason": exemption.reason})
    values["crypto_exemptions"] = exemptions
    values["crypto_channels"] = [
        {"name": ch.name, "protocol": ch.protocol, "cipher_suites": list(ch.cipher_suites),
         "certificate_algorithm": ch.certificate_algorithm, "certificate_key_bits": ch.certificate_key_bits,
         "certificate_not_after": ch.certificate_not_after} for ch in system.crypto.channels]
    loc.put("crypto_channels", "spec", "crypto")
    for index in range(len(system.crypto.channels)):
        loc.put(f"crypto_channels.{index}", "spec", "crypto", "channels", index)
    loc.put("crypto_exemptions", "spec", "crypto")
    loc.put_all(_ASPECT_PATHS)  # a missing mechanism is located at its aspect, not at a sibling's line
    values["crypto_products"] = [
        {"id": p.id, "name": p.name, "certificate": p.certificate, "module_level": p.module_level}
        for p in system.crypto.products.values()
    ]
    loc.put("crypto_products", "spec", "crypto", "products")
    for index in range(len(values["crypto_products"])):
        loc.put(f"crypto_products.{index}", "spec", "crypto", "products", index)
    if strength is not None:
        values["crypto_requirements"] = dict(_requirements(strength, c.crypto_level))
    cont = system.continuity
    values["continuity"] = {
        "rpo_minutes": cont.rpo_minutes,
        "rto_minutes": cont.rto_minutes,
        "backup_schedule": cont.backup_schedule,
        "backup_retention_days": cont.backup_retention_days,
        "dr_tier": cont.dr_tier,
    }
    loc.put("continuity", "spec", "continuity")
    loc.put_all(_CONTINUITY_PATHS)
    values["audit"] = {"destination": system.audit.destination, "retention_days": system.audit.retention_days}
    loc.put("audit", "spec", "audit")
    loc.put("audit.retention_days", "spec", "audit", "retention_days")
    values["management"] = {
        "management_zones": regional.management_zones,
        "system_zone": system.zone,
        "log_servers": regional.log_servers,
        "time_sources": regional.time_sources,
    }
    loc.text("management", f"{region.source} (log_servers, time_sources, zones)")
    values["lifecycle"] = {"status": system.lifecycle.status, "change_ticket": system.lifecycle.change_ticket,
                           "requested_by": system.lifecycle.requested_by, "go_live": system.lifecycle.go_live}
    loc.put("lifecycle", "spec", "lifecycle")
    loc.put("lifecycle.status", "spec", "lifecycle", "status")
    cidr = zone.cidr(system.site) if zone else None
    values["inventory"] = {
        "owner": {"department": system.owner.department, "role": system.owner.role, "contact": system.owner.contact},
        "site": system.site,
        # continuous replication of the data (synchronous: a hot standby elsewhere; XZ-MAN-REDUNDANCY)
        "replication": system.continuity.replication,
        "site_role": region.sites[system.site].role if system.site in region.sites else "",
        # sites keeping backups (Velero locations); another one than the system's own is its off-site backup
        "dr_sites": regional.dr_sites,
        "zone_cidr": str(cidr) if cidr is not None else None,
        "hosts": [{"hostname": h.hostname, "address": str(h.address), "os_family": h.os_family,
                   "os_version": h.os_version, "purpose": h.purpose, "data": h.data, "role": h.role,
                   "backed_up": m.host_data_method(h) is None or m.host_backup_supported(h)} for h in system.hosts],
        "workloads": [{"name": w.name, "image": w.image, "replicas": w.replicas,
                       "ports": [p.port for p in w.ports], "storage": w.storage_size} for w in system.workloads],
    }
    loc.put("inventory", "spec")
    loc.put("inventory.owner", "spec", "owner")
    for index in range(len(system.hosts)):
        loc.put(f"inventory.hosts.{index}", "spec", "hosts", index)
        loc.put(f"inventory.hosts.{index}.data", "spec", "hosts", index, "data")
    for index in range(len(system.workloads)):
        loc.put(f"inventory.workloads.{index}", "spec", "workloads", index)
        loc.put(f"inventory.workloads.{index}.replicas", "spec", "workloads", index, "replicas")
        if system.workloads[index].storage_size is not None:
            loc.put(f"inventory.workloads.{index}.storage", "spec", "workloads", index, "storage")
    values["workload_images"] = [{"workload": w.name, "image": w.image} for w in system.workloads]
    for index in range(len(system.workloads)):
        loc.put(f"workload_images.{index}", "spec", "workloads", index, "image")
    loc.put("workload_images", "spec", "workloads")
    # The schedule the department declares; where the stacks cannot deploy it as often (Velero runs at most every
    # 5 minutes: rendered_cadence, the function the render uses) also the schedule they deploy, so an RPO below
    # that floor fails here as it fails on the plan and in CrossGuard (before, it passed `xzgov validate` and the
    # manifest scan and then blocked `pulumi up`).
    schedules: list[dict[str, Any]] = [{"name": "continuity.backup", "schedule": cont.backup_schedule}]
    rendered = rendered_cadence(system.name, cont.rpo_minutes, cont.backup_schedule)
    if rendered.source == "floor":
        loc.put(f"backup_schedules.{len(schedules)}", "spec", "continuity", "rpo_minutes")
        schedules.append({"name": _FLOOR_SCHEDULE, "schedule": rendered.cron})
    if cont.replication == "synchronous":
        # Synchronous replication loses no committed data: it meets an RPO of 0 that no schedule can.
        loc.put(f"backup_schedules.{len(schedules)}", "spec", "continuity", "replication", "mode")
        schedules.append({"name": "continuity.replication", "schedule": "", "synchronous": True})
    values["backup_schedules"] = schedules
    loc.put("backup_schedules", "spec", "continuity", "backup", "schedule")
    _security_facts(register, system, values, loc)
    values["assessments"] = {
        kind: None if record is None else {"date": record.date, "agency": record.agency,
                                           "conclusion": record.conclusion, "score": record.score,
                                           "report": record.report}
        for kind, record in (("dengbao", system.assessments.dengbao), ("miping", system.assessments.miping))
    }
    loc.put_all(_ASSESSMENT_PATHS)
    values["image_provenance"] = [
        {"workload": w.name, "image": w.image, "registry": w.image.split("/", 1)[0],
         **({"signature": None} if w.image_provenance is None else {
             "signature": w.image_provenance.signature, "signer": w.image_provenance.signer,
             "last_scan": w.image_provenance.last_scan, "critical": w.image_provenance.critical,
             "high": w.image_provenance.high})}
        for w in system.workloads]
    loc.put("image_provenance", "spec", "workloads")
    for index, w in enumerate(system.workloads):
        loc.put(f"image_provenance.{index}", "spec", "workloads", index,
                *(("image_provenance",) if w.image_provenance is not None else ()))
    values["data_sets"] = [
        {"name": d.name, "holds": list(d.holds), "stored_in": d.stored_in,
         **{part: None if mech is None else {"algorithm": mech.algorithm, "product": mech.product, "scope": mech.scope}
            for part, mech in (("encryption", d.encryption), ("integrity", d.integrity))}}
        for d in system.data_sets]
    loc.put("data_sets", "spec", *(("data_sets",) if system.data_sets else ()))
    for index in range(len(system.data_sets)):
        loc.put(f"data_sets.{index}", "spec", "data_sets", index)
    cm = system.change_management
    values["change_management"] = None if cm is None else {
        "procedure": cm.procedure, "approver": cm.approver, "register_updated": cm.register_updated,
        "rollback_plan": cm.rollback_plan}
    loc.put("change_management", "spec", *(("change_management",) if cm is not None else ()))
    # the scan's as-of day (``xzgov scan --as-of``): every recorded date is judged against it
    values["as_of"] = as_of or region_day(gathered_at or utc_now()).isoformat()
    values["rpo_minutes"] = cont.rpo_minutes
    loc.put("rpo_minutes", "spec", "continuity", "rpo_minutes")
    if thresholds:
        values["thresholds"] = dict(thresholds)
    values["cloud_platform"] = dict(cloud_platform[0]) if cloud_platform is not None else None
    if cloud_platform is not None:
        loc.text("cloud_platform", cloud_platform[1])
    return Facts(
        subject=system.name,
        point=Point.MANIFEST,
        values=values,
        locations=loc.locations(),
        gathered_at=gathered_at or utc_now(),
        target=system.source,
        level=c.level,
        crypto_level=c.crypto_level,
    )

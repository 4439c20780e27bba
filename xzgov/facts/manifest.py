"""Manifest facts: the register → one :class:`~policies.engine.Facts` per system (point ``manifest``).

Locations are ``file:line`` of the manifest field a fact came from (positions kept by the YAML
loader), so a finding points at the line to change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from xzgov.core import model as m
from xzgov.core.yamlio import LocatedDocument
from xzgov.facts.baseline import CRYPTO_UNITS
from xzgov.facts.contract import Facts, Point, utc_now

#: 密评 strength of a unit id at a level: ``strength(unit_id, crypto_level)`` → 应|宜|可|不要求.
StrengthOf = Callable[[str, int], str]


#: How facts are located: a document whose positions are found on demand, or ``None`` (file only: the
#: scanner first evaluates unlocated and locates only non-passing results).
Locating = LocatedDocument | None


class _Locator:
    def __init__(self, where: Locating, source: str) -> None:
        self.where = where
        self.source = source
        self.table: dict[str, str] = {}

    def put(self, key: str, *path: str | int) -> None:
        if self.where is None:
            self.table[key] = self.source
        else:
            line, _ = self.where.position(tuple(path))
            self.table[key] = f"{self.where.file}:{line}"


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
    """The zone a flow lands in and the ports its target declares (``None`` = not known)."""
    target = m.resolve_flow_target(register, flow.to)
    if target.service is not None:
        return target.zone, [target.service.port]
    if target.system is None or flow.to.kind != "system":
        return target.zone, None
    ports = sorted({p.port for w in target.system.workloads for p in w.ports})
    if target.system.endpoints:
        ports = sorted({*ports, 443})
    return target.zone, (ports or None)


def _flow_reachable(register: m.Register, system: m.System, flow: m.Flow, target_zone: str | None) -> bool:
    region = register.region
    if target_zone is None or target_zone == system.zone:
        return target_zone is not None
    zone = region.zones.get(target_zone)
    if zone is None:
        return False
    if system.zone in zone.reachable_from:
        return True
    if zone.kind == "security-management":
        # Management flows into the security-management zone: the log centre and the time sources.
        log_ports = {server.port for server in region.log_servers.values()}
        return (flow.protocol == "tcp" and flow.port in log_ports) or (flow.protocol == "udp" and flow.port == 123)
    return False


def manifest_facts(
    register: m.Register,
    system: m.System,
    document: Locating = None,
    *,
    strength: StrengthOf | None = None,
    thresholds: Mapping[str, Any] | None = None,
    gathered_at: str | None = None,
) -> Facts:
    """Facts about ``system`` from the register. ``document`` locates them (file:line); without it every
    location is the manifest file. ``strength`` gives 密评 unit strengths (from the catalogue); without it
    ``crypto_requirements`` is left out and the rules that need it do not run."""
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
        },
    }
    zone = region.zones.get(system.zone)
    values["exposure"] = {
        "internet_facing": system.internet_facing,
        "endpoints": list(system.endpoints),
        "zone": system.zone,
        "zone_kind": zone.kind if zone else "",
    }
    loc.put("exposure", "spec", "exposure")
    loc.put("exposure.zone", "spec", "placement", "zone")
    values["zone_paths"] = {
        "internet_access_zones": [z.id for z in region.zones_of_kind("internet-access")],
        "reachable_from": list(zone.reachable_from) if zone else [],
        "path": zone_path(region, system.zone),
    }
    loc.table["zone_paths"] = f"{region.source} (zones.{system.zone}.reachable_from)"
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
                "reachable": _flow_reachable(register, system, flow, target_zone),
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
    for aspect in m.CRYPTO_ASPECTS:
        for index, mech in enumerate(system.crypto.aspect(aspect).mechanisms):
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
    values["crypto_products"] = [
        {"id": p.id, "name": p.name, "certificate": p.certificate, "module_level": p.module_level}
        for p in system.crypto.products.values()
    ]
    loc.put("crypto_products", "spec", "crypto", "products")
    for index in range(len(values["crypto_products"])):
        loc.put(f"crypto_products.{index}", "spec", "crypto", "products", index)
    if strength is not None:
        values["crypto_requirements"] = {unit: strength(unit, c.crypto_level) for _, _, unit in CRYPTO_UNITS}
    cont = system.continuity
    values["continuity"] = {
        "rpo_minutes": cont.rpo_minutes,
        "rto_minutes": cont.rto_minutes,
        "backup_schedule": cont.backup_schedule,
        "backup_retention_days": cont.backup_retention_days,
        "dr_tier": cont.dr_tier,
    }
    loc.put("continuity", "spec", "continuity")
    for key, path in (
        ("rpo_minutes", ("rpo_minutes",)),
        ("rto_minutes", ("rto_minutes",)),
        ("dr_tier", ("dr_tier",)),
        ("backup_retention_days", ("backup", "retention_days")),
    ):
        loc.put(f"continuity.{key}", "spec", "continuity", *path)
    values["audit"] = {"destination": system.audit.destination, "retention_days": system.audit.retention_days}
    loc.put("audit", "spec", "audit")
    loc.put("audit.retention_days", "spec", "audit", "retention_days")
    values["workload_images"] = [{"workload": w.name, "image": w.image} for w in system.workloads]
    for index in range(len(system.workloads)):
        loc.put(f"workload_images.{index}", "spec", "workloads", index, "image")
    loc.put("workload_images", "spec", "workloads")
    values["backup_schedules"] = [{"name": "continuity.backup", "schedule": cont.backup_schedule}]
    loc.put("backup_schedules", "spec", "continuity", "backup", "schedule")
    values["rpo_minutes"] = cont.rpo_minutes
    loc.put("rpo_minutes", "spec", "continuity", "rpo_minutes")
    if thresholds:
        values["thresholds"] = dict(thresholds)
    return Facts(
        subject=system.name,
        point=Point.MANIFEST,
        values=values,
        locations=loc.table,
        gathered_at=gathered_at or utc_now(),
        target=system.source,
        level=c.level,
        crypto_level=c.crypto_level,
    )

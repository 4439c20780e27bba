"""What a render needs to know about the site: which systems run in this site's cluster, and how."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError

ZONE_NAMESPACE_PREFIX = "zone-"
#: zone kinds whose segment namespace also gets a tenancy of its own (quota, RBAC for operators)
ZONE_TENANCY_KINDS = ("shared-services", "security-management")
INTERNET_ACCESS = "internet-access"
SECURITY_MANAGEMENT = "security-management"


@dataclass(frozen=True)
class Placement:
    """One system's tenancy at this site: natively placed here, or re-applied here for disaster recovery."""

    system: m.System
    replica: bool
    #: a replica whose home site is declared lost (``xzgov:disasterDeclared``): it runs here now, so its
    #: backups are taken here (and replicated back); its namespaces are restored here by Velero
    failed_over: bool = False


@dataclass
class SiteContext:
    """The register seen from one site (built once per render; read-only afterwards except warnings)."""

    register: m.Register
    settings: Settings
    site: m.Site
    placements: Mapping[str, Placement]
    warnings: list[str] = field(default_factory=list)
    #: the messages :meth:`warn` has given (a set: thousands of flows may warn alike)
    _warned: set[str] = field(default_factory=set, repr=False)

    @property
    def region(self) -> m.Region:
        return self.register.region

    def warn(self, message: str) -> None:
        """Add ``message`` to the plan's warnings once."""
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def present(self, name: str) -> bool:
        return name in self.placements

    def time_sources(self) -> list[str]:
        """The region's time sources (``spec.time_sources``) but those at a site declared lost
        (``xzgov:disasterDeclared``: no policy points into a lost site's networks)."""
        lost = [network for zone in self.region.zones.values() for site in self.settings.disaster_declared
                if (network := zone.cidr(site)) is not None]
        return [source for source in self.region.time_sources
                if not any(ipaddress.IPv4Address(source) in network for network in lost)]

    def zone_cidr(self, zone_id: str, site_id: str | None = None) -> ipaddress.IPv4Network | None:
        zone = self.region.zones.get(zone_id)
        return zone.cidr(site_id or self.site.id) if zone else None

    def zones_of_kind(self, kind: str) -> tuple[m.Zone, ...]:
        return self.region.zones_of_kind(kind)


def dr_replica_eligible(system: m.System, settings: Settings) -> bool:
    """Whether a system's tenancy is pre-applied at DR sites: GB/T 20988 tier ≥ the configured threshold."""
    return system.continuity.dr_tier >= settings.dr_tenancy_min_tier


def unknown_site_error(register: m.Register, settings: Settings) -> UsageError:
    """``settings.site`` is not a site of the region: the stack's setting is wrong, so a problem of its
    ``xzgov:site`` (located at that line by :func:`stacks.settings.located_in_stack_file` when read from a stack
    file), naming the sites the region has."""
    return UsageError(f"unknown site '{settings.site}'", [Diagnostic(
        settings.config_file or register.region.source, 0, 0, "xzgov:site" if settings.config_file else "spec.sites",
        f"xzgov:site '{settings.site}' is not a site of {register.region.source}",
        f"write one of its spec.sites[].id: {', '.join(register.region.sites)}", "config")])


def site_context(register: m.Register, settings: Settings) -> SiteContext:
    """The systems present at ``settings.site``: those placed there, and — at a DR site — every system
    of another site whose DR tier requires a standing tenancy, and after a declared disaster every system
    of the lost sites with a DR tier ≥ 1 (tier 0: no recovery)."""
    site = register.region.sites.get(settings.site)
    if site is None:
        raise unknown_site_error(register, settings)
    unknown = [(index, lost) for index, lost in enumerate(settings.disaster_declared)
               if lost not in register.region.sites]
    if unknown:
        # a typo would declare nothing: no system fails over, and the scanner's move (scanner_here) must not
        # hinge on it either — refused at the entry's line
        raise UsageError("xzgov:disasterDeclared names sites region.yaml does not have", [Diagnostic(
            settings.source_file, 0, 0, f"xzgov:disasterDeclared[{index}]",
            f"'{lost}' is not a site of region.yaml (spec.sites: {', '.join(register.region.sites)})",
            f"write the id of the lost site as region.yaml spec.sites[].id spells it (`xzgov dr declare --lost "
            f"<site>` prints the command), or remove '{lost}'", "config") for index, lost in unknown])
    placements: dict[str, Placement] = {}
    for system in register:
        if system.site == site.id:
            placements[system.name] = Placement(system, replica=False)
        elif site.role == "dr" and system.site in settings.disaster_declared and system.continuity.dr_tier >= 1:
            placements[system.name] = Placement(system, replica=True, failed_over=True)
        elif site.role == "dr" and dr_replica_eligible(system, settings):
            placements[system.name] = Placement(system, replica=True)
    clashes = sorted(name for name in placements if name.startswith(ZONE_NAMESPACE_PREFIX)
                     and name[len(ZONE_NAMESPACE_PREFIX):] in register.region.zones)
    if clashes:
        raise UsageError("system names clash with segment namespaces", [Diagnostic(
            register.systems[name].source, 0, 0, "metadata.name",
            f"system '{name}' would share the namespace of the '{name[5:]}' segment",
            "rename the system", "duplicate") for name in clashes])
    if settings.velero_namespace in placements:  # a configured backup namespace (the default one is reserved)
        system = register.systems[settings.velero_namespace]
        raise UsageError("a system name clashes with the backup system's namespace", [Diagnostic(
            system.source, 0, 0, "metadata.name",
            f"system '{system.name}' would share the namespace of the backup system (xzgov:veleroNamespace): its "
            "default-deny policy would cut Velero off and its department's Role would reach the storage credentials",
            "rename the system, or set xzgov:veleroNamespace to the namespace Velero really runs in", "duplicate")])
    context = SiteContext(register, settings, site, placements)
    _check_internet_gateway(context)
    if settings.disaster_declared and register.region.time_sources and not context.time_sources():
        # every time source was at the lost site: the systems here, recovered or native, keep time only if the
        # security-management zone here serves NTP — said once per render, whatever flows the systems declare
        context.warn(f"no time source outside the lost site(s) {', '.join(settings.disaster_declared)}: every "
                     f"region.yaml time_sources address ({', '.join(register.region.time_sources)}) is there, so "
                     f"NTP at '{site.id}' reaches only what the security-management zone serves here (审计记录的"
                     f"时间, GB/T 22239 8.1.4.3.b) — add a time source at '{site.id}' to spec.time_sources")
    return context


def _check_internet_gateway(ctx: SiteContext) -> None:
    """``xzgov:internetGateway`` names a registered system in an internet-access zone: another system would take
    the internet's ``0.0.0.0/0`` ingress; a typo cut every published system off without a word. Left at its
    default while the register has no such system, the systems that face the internet get a plan warning."""
    settings, register = ctx.settings, ctx.register
    gateway = register.systems.get(settings.internet_gateway)
    access = [z.id for z in register.region.zones_of_kind("internet-access")]
    if gateway is not None and gateway.zone in access:
        return
    facing = sorted(s.name for s in register if s.internet_facing)
    if gateway is None and settings.internet_gateway == Settings.internet_gateway and not facing:
        return  # a region (or a part of one) with nothing on the internet
    if gateway is None and settings.internet_gateway == Settings.internet_gateway:
        ctx.warn(f"no system '{settings.internet_gateway}' (xzgov:internetGateway) in the register: "
                 f"{', '.join(facing[:5])}{' …' if len(facing) > 5 else ''} face the internet with no entry")
        return
    found = (f"'{gateway.name}' is in zone '{gateway.zone}', not an internet-access zone ({', '.join(access) or 'none'}"
             "): it would take the internet's ingress") if gateway is not None else (
        f"no system '{settings.internet_gateway}' in the register: the systems that face the internet "
        f"({', '.join(facing[:5]) or 'none'}) would have no entry")
    raise UsageError("xzgov:internetGateway does not name the internet gateway", [Diagnostic(
        settings.source_file, 0, 0, "xzgov:internetGateway", found,
        "write the metadata.name of the system whose workloads receive the internet's traffic, in an "
        "internet-access zone of region.yaml (default internet-gateway)", "config")])

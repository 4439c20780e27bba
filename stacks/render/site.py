"""Render everything one site's stack creates: the single source of truth the components wrap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from stacks.render.admission import render_admission
from stacks.render.context import SiteContext, site_context
from stacks.render.dr import render_disaster_recovery
from stacks.render.network import Obj
from stacks.render.scanner import render_scanner
from stacks.render.segment import render_segment, render_zone_tenancy, zone_has_tenancy
from stacks.render.tenant import check_entry_capacity, render_tenant
from stacks.settings import Settings
from xzgov.core import model as m


@dataclass(frozen=True)
class RenderedTenant:
    system: str
    replica: bool
    objects: list[Obj]


@dataclass(frozen=True)
class RenderedSegment:
    zone: str
    objects: list[Obj]
    #: the zone's own tenancy (shared-services / security-management zones), else empty
    tenancy: list[Obj] = field(default_factory=list)


@dataclass(frozen=True)
class SiteRender:
    """All objects of one site, grouped the way the components are."""

    site: str
    role: str
    tenants: list[RenderedTenant]
    segments: list[RenderedSegment]
    disaster_recovery: list[Obj]
    warnings: list[str]
    #: cluster-scoped ValidatingAdmissionPolicies and their bindings
    admission: list[Obj] = field(default_factory=list)
    #: the compliance scanner's CronJobs and what they mount (stacks.render.scanner), in the
    #: scanner's own namespace (xzgov-scanner); empty unless xzgov:scannerImage is set
    scanner: list[Obj] = field(default_factory=list)

    def objects(self) -> Iterator[Obj]:
        yield from self.admission
        for segment in self.segments:
            yield from segment.objects
            yield from segment.tenancy
        yield from self.scanner
        for tenant in self.tenants:
            yield from tenant.objects
        yield from self.disaster_recovery


def render_site(register: m.Register, settings: Settings, ctx: SiteContext | None = None) -> SiteRender:
    """Render the tenancies (placed and DR replicas), segments, zone tenancies and DR of one site."""
    context = ctx or site_context(register, settings)
    segments = [
        RenderedSegment(zone.id, render_segment(context, zone),
                        render_zone_tenancy(context, zone) if zone_has_tenancy(zone) else [])
        for zone in register.region.zones.values() if zone.cidr(context.site.id) is not None
    ]
    tenants = [
        RenderedTenant(name, placement.replica, render_tenant(context, placement.system, placement.replica))
        for name, placement in sorted(context.placements.items())
    ]
    check_entry_capacity(context, {tenant.system: tenant.objects for tenant in tenants})
    return SiteRender(context.site.id, context.site.role, tenants, segments,
                      render_disaster_recovery(context), context.warnings, render_admission(context),
                      render_scanner(context))

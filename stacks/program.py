"""The program of one site: render, then wrap every rendered group in its component."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from stacks.components import Admission, DisasterRecovery, ExtranetSegment, Tenant
from stacks.render import SiteRender, render_site
from stacks.settings import Settings
from xzgov.core import model as m


@dataclass
class CloudProgram:
    """What :func:`build` created for one site."""

    settings: Settings
    render: SiteRender
    tenants: dict[str, Tenant]
    segments: dict[str, ExtranetSegment]
    disaster_recovery: DisasterRecovery
    admission: Admission | None = None

    def outputs(self) -> dict[str, Any]:
        """The stack outputs (plain values, no resource outputs needed)."""
        kinds = Counter(str(obj["kind"]) for obj in self.render.objects())
        return {
            "site": self.render.site,
            "role": self.render.role,
            "tenants": sorted(self.tenants),
            "drReplicas": sorted(name for name, tenant in self.tenants.items() if tenant.replica),
            "segments": sorted(self.segments),
            "schedules": sorted(str(o["metadata"]["name"]) for o in self.render.disaster_recovery
                                if o["kind"] == "Schedule"),
            "resourceCounts": dict(sorted(kinds.items())),
            "warnings": list(self.render.warnings),
        }


def build(register: m.Register, settings: Settings) -> CloudProgram:
    """Create every component of ``settings.site``. Call inside a Pulumi program (or under mocks)."""
    rendered = render_site(register, settings)
    opts: pulumi.ResourceOptions | None = None
    if settings.kube_context:
        provider = k8s.Provider(f"{settings.site}-cluster", context=settings.kube_context)
        opts = pulumi.ResourceOptions(providers=[provider])
    # admission first: tenancies' workloads are checked from the moment their namespace exists
    admission = Admission(settings.site, rendered.admission, opts=opts) if rendered.admission else None
    segments = {segment.zone: ExtranetSegment(segment.zone, segment.objects, segment.tenancy, opts=opts)
                for segment in rendered.segments}
    tenants = {tenant.system: Tenant(tenant.system, tenant.objects, replica=tenant.replica, opts=opts)
               for tenant in rendered.tenants}
    disaster_recovery = DisasterRecovery(settings.site, rendered.disaster_recovery, opts=opts)
    return CloudProgram(settings, rendered, tenants, segments, disaster_recovery, admission)

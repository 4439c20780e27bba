"""Extranet segments (政务外网分区) as Kubernetes objects, and the zones' own tenancies.

Each zone gets a *segment namespace* ``zone-<zone>`` (labelled with the zone) with ``default-deny`` and
``allow-dns`` only. A NetworkPolicy governs the pods of its own namespace, so the zone boundary cannot
live here: it is enforced where the pods are — each tenancy admits exactly the declared flows, selecting
peers by namespace (or by the ``xzgov.io/zone`` label for flows to a zone) on pod ports, and the
internet entry path is the gateway tenancy's load balancer (``stacks.render.tenant``). Rules that
selected the empty segment namespaces, allowed all ports or matched zone ranges against pod addresses
(which never fall in them) were removed: they could not work.

Shared-services and security-management zones also get a tenancy (:func:`render_zone_tenancy`):
ServiceAccount, ResourceQuota/LimitRange sized by ``xzgov:zoneQuota`` and the tenant Role bound to the
region's operator groups (``spec.operators.groups``); whatever they run there reaches DNS and nothing else
until a flow is declared for it. The other segments get a zero quota and ceiling: nothing runs there.
"""

from __future__ import annotations

from stacks.render import labels as lb
from stacks.render.context import ZONE_NAMESPACE_PREFIX, ZONE_TENANCY_KINDS, SiteContext
from stacks.render.network import Obj, allow_dns, default_deny
from stacks.render.quantity import bytes_of, format_bytes, format_cpu, millicores
from stacks.render.tenant import pod_security_labels, quota_and_limits, quota_spec, rbac, service_account
from xzgov.core import model as m


def segment_namespace(zone: m.Zone) -> str:
    return f"{ZONE_NAMESPACE_PREFIX}{zone.id}"


def segment_labels(ctx: SiteContext, zone: m.Zone) -> dict[str, str]:
    return {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "segment", lb.SEGMENT: zone.id, lb.SITE: ctx.site.id}


def segment_namespace_labels(ctx: SiteContext, zone: m.Zone) -> dict[str, str]:
    """The labels of a namespace in ``zone``'s segment: the segment's, the zone (flows to a zone select
    namespaces by it; admission lets only the platform set it) and the restricted Pod Security Standard.
    The compliance scanner's own namespace carries them too (``stacks.render.scanner``)."""
    return {**segment_labels(ctx, zone), lb.ZONE: zone.id, lb.ZONE_KIND: zone.kind,
            **pod_security_labels(ctx.settings.pod_security_version)}


def render_segment(ctx: SiteContext, zone: m.Zone) -> list[Obj]:
    """The segment namespace of ``zone`` and its boundary policies at this site."""
    ns = segment_namespace(zone)
    labels = segment_labels(ctx, zone)
    objects: list[Obj] = [{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns,
                     "labels": segment_namespace_labels(ctx, zone),
                     "annotations": {lb.ZONE_NAME: zone.name, lb.SOURCE: ctx.region.source}},
    }, default_deny(ns, labels), allow_dns(ns, labels)]
    if not zone_has_tenancy(zone):
        # nothing runs in these segments: a zero quota and ceiling keep them empty
        objects += quota_and_limits(ns, labels, quota_spec((0, 0), (0, 0), 0),
                                    [{"type": "Container", "max": {"cpu": "0", "memory": "0"}}])
    return objects


def render_zone_tenancy(ctx: SiteContext, zone: m.Zone) -> list[Obj]:
    """The tenancy of a shared-services or security-management zone inside its segment namespace."""
    ns = segment_namespace(zone)
    labels = {**segment_labels(ctx, zone), lb.COMPONENT: "zone-tenancy"}
    quota = ctx.settings.zone_quota
    cpu, memory = millicores(quota.cpu), bytes_of(quota.memory)
    return [
        service_account(ns, ns, labels),
        *quota_and_limits(ns, labels, quota_spec((cpu, memory), (cpu, memory), quota.pods), [{
            "type": "Container",
            "default": {"cpu": format_cpu(min(500, cpu)), "memory": format_bytes(min(512 * 2**20, memory))},
            "defaultRequest": {"cpu": format_cpu(min(100, cpu)), "memory": format_bytes(min(128 * 2**20, memory))},
            "max": {"cpu": format_cpu(cpu), "memory": format_bytes(memory)}}]),
        *rbac(ns, ctx.region.operator_groups, labels),
    ]


def zone_has_tenancy(zone: m.Zone) -> bool:
    """Whether the zone gets its own tenancy (shared-services and security-management zones)."""
    return zone.kind in ZONE_TENANCY_KINDS

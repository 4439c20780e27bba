"""Extranet segments (政务外网分区) as Kubernetes objects, and the zones' own tenancies.

Each zone gets a *segment namespace* ``zone-<zone>`` that hosts the zone's boundary workloads (the
internet-access zone's ingress gateway, the security-management zone's monitoring and log collectors,
the shared-services zone's service gateways). Its NetworkPolicies are the zone boundary of region.yaml:

* ``default-deny`` + ``allow-dns``;
* ``ingress-reachable-from``: only from the zones listed in ``reachable_from`` (their namespaces and
  their networks at this site) and from the zone itself;
* ``ingress-security-management``: the security-management zone reaches every zone (monitoring, logs);
* ``egress-within-zone``: the gateway forwards into its own zone only;
* internet-access zones: ``ingress-from-internet`` (public addresses, not RFC 1918, on the configured
  ports) and ``egress-internet-facing-systems`` (to each internet-facing system on its ports) — the
  internet ingress path;
* security-management zones: ``egress-monitoring`` to every zone's namespaces and networks (all ports:
  scraping and log pulls) and ``ingress-log-collection`` from every zone on the log servers' ports.

Shared-services and security-management zones also get a tenancy (:func:`render_zone_tenancy`):
ServiceAccount, ResourceQuota/LimitRange sized by ``xzgov:zoneQuota`` and the tenant Role bound to the
region's operator groups (``spec.operators.groups``).
"""

from __future__ import annotations

from stacks.render import labels as lb
from stacks.render.context import (
    INTERNET_ACCESS,
    SECURITY_MANAGEMENT,
    ZONE_NAMESPACE_PREFIX,
    ZONE_TENANCY_KINDS,
    SiteContext,
)
from stacks.render.network import (
    PRIVATE_RANGES,
    Obj,
    all_zoned_namespaces_peer,
    allow_dns,
    cidr_peer,
    default_deny,
    namespace_peer,
    network_policy,
    port,
    workload_ports,
    zone_cidr_peers,
    zone_namespaces_peer,
)
from stacks.render.quantity import bytes_of, format_bytes, format_cpu, millicores
from stacks.render.tenant import pod_security_labels, quota_and_limits, quota_spec, rbac, service_account
from xzgov.core import model as m


def segment_namespace(zone: m.Zone) -> str:
    return f"{ZONE_NAMESPACE_PREFIX}{zone.id}"


def segment_labels(ctx: SiteContext, zone: m.Zone) -> dict[str, str]:
    return {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "segment", lb.SEGMENT: zone.id, lb.SITE: ctx.site.id}


def render_segment(ctx: SiteContext, zone: m.Zone) -> list[Obj]:
    """The segment namespace of ``zone`` and its boundary policies at this site."""
    ns = segment_namespace(zone)
    labels = segment_labels(ctx, zone)
    region = ctx.region
    objects: list[Obj] = [{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns,
                     "labels": {**labels, lb.ZONE: zone.id, lb.ZONE_KIND: zone.kind,
                                **pod_security_labels(ctx.settings.pod_security_version)},
                     "annotations": {lb.ZONE_NAME: zone.name, lb.SOURCE: region.source}},
    }, default_deny(ns, labels), allow_dns(ns, labels)]
    own = zone.cidr(ctx.site.id)
    reachable = [region.zones[z] for z in zone.reachable_from if z in region.zones]
    objects.append(network_policy(
        "ingress-reachable-from", ns, labels,
        ingress=[{"from": [zone_namespaces_peer([zone.id, *(z.id for z in reachable)]),
                           *zone_cidr_peers(ctx, [zone, *reachable])]}],
        annotations={lb.PURPOSE: "可访问本区的分区 / zones that may reach this zone: "
                     + (", ".join(z.id for z in reachable) or "none")}))
    monitoring = [z for z in ctx.zones_of_kind(SECURITY_MANAGEMENT) if z.id != zone.id]
    if monitoring:
        objects.append(network_policy(
            "ingress-security-management", ns, labels,
            ingress=[{"from": [zone_namespaces_peer(z.id for z in monitoring), *zone_cidr_peers(ctx, monitoring)]}],
            annotations={lb.PURPOSE: "安全管理区监控与日志采集 / monitoring and log collection"}))
    within: list[Obj] = [zone_namespaces_peer([zone.id])]
    if own is not None:
        within.append(cidr_peer(own))
    objects.append(network_policy("egress-within-zone", ns, labels, egress=[{"to": within}],
                                  annotations={lb.PURPOSE: "本区内转发 / forwarding into the zone"}))
    if zone.kind == INTERNET_ACCESS:
        objects += _internet_access(ctx, ns, labels)
    if zone.kind == SECURITY_MANAGEMENT:
        objects += _security_management(ctx, ns, labels)
    return objects


def _internet_access(ctx: SiteContext, ns: str, labels: dict[str, str]) -> list[Obj]:
    objects = [network_policy(
        "ingress-from-internet", ns, labels,
        ingress=[{"from": [cidr_peer("0.0.0.0/0", PRIVATE_RANGES)],
                  "ports": [port("TCP", p) for p in ctx.settings.internet_ingress_ports]}],
        annotations={lb.PURPOSE: "互联网接入 / public ingress"})]
    rules: list[Obj] = []
    for name in sorted(ctx.placements):
        system = ctx.placements[name].system
        ports = workload_ports(system)
        if system.internet_facing and ports:
            rules.append({"to": [namespace_peer(system.namespace)], "ports": ports})
    if rules:
        objects.append(network_policy("egress-internet-facing-systems", ns, labels, egress=rules,
                                      annotations={lb.PURPOSE: "互联网访问路径 / to internet-facing systems"}))
    return objects


def _security_management(ctx: SiteContext, ns: str, labels: dict[str, str]) -> list[Obj]:
    every_zone = list(ctx.region.zones.values())
    log_ports = sorted({server.port for server in ctx.region.log_servers.values()})
    objects = [network_policy(
        "egress-monitoring", ns, labels,
        egress=[{"to": [all_zoned_namespaces_peer(), *zone_cidr_peers(ctx, every_zone)]}],
        annotations={lb.PURPOSE: "监控与日志采集覆盖所有分区 / monitoring and log collection in every zone"})]
    if log_ports:
        objects.append(network_policy(
            "ingress-log-collection", ns, labels,
            ingress=[{"from": [all_zoned_namespaces_peer(), *zone_cidr_peers(ctx, every_zone)],
                      "ports": [port("TCP", p) for p in log_ports]}],
            annotations={lb.PURPOSE: "日志接收 / log collection (syslog over TLS)"}))
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

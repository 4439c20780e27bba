"""A system's tenancy: namespace, quota, limits, identity, RBAC and network policy (pure render).

Quota rule (``docs/stacks.md``): for each workload, ``pods = replicas + ceil(replicas × surge%)`` (the
rolling-update surge, default 25 % like a Deployment's ``maxSurge``); CPU and memory requests and
limits are the per-pod values × ``pods``, summed over workloads. PVCs and storage are per replica
(StatefulSets do not surge). NodePort services are forbidden (quota 0); LoadBalancer services only for
the entries rendered here: the gateway's internet entry and the cross-site entry (``site-entry-*``: where
hosts and other sites' pods reach the tenancy's pods).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stacks.render import labels as lb
from stacks.render.context import SiteContext
from stacks.render.network import (
    WORKLOAD_LABEL,
    Obj,
    allow_dns,
    cidr_peer,
    default_deny,
    destination_rules,
    host_peers,
    monitored_workloads,
    network_policy,
    pods_site,
    port,
    serving_workloads,
    site_egress_peers,
    workload_ports,
    workload_selector,
    zone_namespaces_peer,
)
from stacks.render.quantity import bytes_of, format_bytes, format_cpu, millicores
from xzgov.core import model as m
from xzgov.core.ports import (
    ROLE_PORTS,
    arrival,
    hosts_serving_in,
    inbound,
    internal_hosts_in,
    internal_only,
    listening,
    not_internet,
    serving_hosts,
    zone_permits,
    zone_pods_serve,
)

TENANT_ROLE = "tenant-operator"
DEFAULT_SERVICE_ACCOUNT = "default"

#: The tenant operators' Role: an ``edit``-like set without exec/attach/port-forward, without RBAC,
#: network policy, quota or namespace changes (those belong to the platform). Secrets of their own
#: namespace are readable: ``kubectl apply`` and Helm read back what they write.
TENANT_RULES: tuple[Mapping[str, Any], ...] = (
    {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "endpoints", "configmaps",
                                      "persistentvolumeclaims", "events", "resourcequotas", "limitranges",
                                      "serviceaccounts"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
    {"apiGroups": [""], "resources": ["services", "configmaps", "persistentvolumeclaims"],
     "verbs": ["create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["secrets"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "replicasets"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
     "verbs": ["create", "update", "patch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale", "statefulsets/scale"],
     "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "list", "watch"]},
)


def pod_security_labels(version: str) -> dict[str, str]:
    """Enforce, audit and warn the ``restricted`` Pod Security Standard at ``version`` (e.g. ``v1.30``)."""
    result: dict[str, str] = {}
    for mode in ("enforce", "audit", "warn"):
        result[f"{lb.POD_SECURITY}/{mode}"] = "restricted"
        result[f"{lb.POD_SECURITY}/{mode}-version"] = version
    return result


def tenant_labels(ctx: SiteContext, system: m.System) -> dict[str, str]:
    """Labels every object of the tenancy carries (ASCII values only)."""
    return {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "tenant", lb.SYSTEM: system.name,
            lb.DEPARTMENT: system.department, lb.SITE: ctx.site.id}


def namespace(ctx: SiteContext, system: m.System, replica: bool) -> Obj:
    region = ctx.region
    zone = region.zones[system.zone]
    labels = {
        **tenant_labels(ctx, system),
        lb.LEVEL: str(system.level),
        lb.CRYPTO_LEVEL: str(system.crypto_level),
        lb.ZONE: system.zone,
        lb.ZONE_KIND: zone.kind,
        lb.TIER: system.tier_slug,
        lb.INTERNET_FACING: "true" if system.internet_facing else "false",
        lb.DR_TIER: str(system.continuity.dr_tier),
        lb.HOME_SITE: system.site,
        lb.DR_REPLICA: "true" if replica else "false",
        **pod_security_labels(ctx.settings.pod_security_version),
    }
    department = region.departments.get(system.department)
    annotations = {
        lb.TITLE: system.title,
        lb.DEPARTMENT_NAME: department.name if department else system.department,
        lb.ZONE_NAME: zone.name,
        lb.TIER_NAME: system.tier,
        lb.SOURCE: system.source,
    }
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": system.namespace, "labels": labels, "annotations": annotations}}


#: A LoadBalancer without node ports: the quota's ``services.nodeports: 0`` charges a LoadBalancer one node port per
#: port unless node-port allocation is off (the API server's quota evaluator), so every entry the stack renders was
#: refused by its own namespace's quota. The cloud balancer reaches the pods directly (externalTrafficPolicy Local).
_NO_NODE_PORTS = {"allocateLoadBalancerNodePorts": False}


def quota_spec(requests: tuple[int, int], limits: tuple[int, int], pods: int,
               storage: tuple[int, int] | None = None) -> dict[str, str]:
    """A ResourceQuota ``hard``: (millicores, bytes) of requests and limits, pods, optionally (PVC count,
    bytes) of storage; LoadBalancer and NodePort services 0 (:func:`render_tenant` raises the former to the
    entries it renders)."""
    hard = {"requests.cpu": format_cpu(requests[0]), "requests.memory": format_bytes(requests[1]),
            "limits.cpu": format_cpu(limits[0]), "limits.memory": format_bytes(limits[1]), "pods": str(pods)}
    if storage is not None:
        hard |= {"persistentvolumeclaims": str(storage[0]), "requests.storage": format_bytes(storage[1])}
    return hard | {"services.loadbalancers": "0", "services.nodeports": "0"}


def quota_and_limits(namespace_name: str, labels: Mapping[str, str], hard: Mapping[str, str],
                     limits: list[Obj]) -> list[Obj]:
    """A tenancy's ResourceQuota and LimitRange (system and zone tenancies alike)."""
    return [{"apiVersion": "v1", "kind": "ResourceQuota",
             "metadata": {"name": "tenant-quota", "namespace": namespace_name, "labels": dict(labels)},
             "spec": {"hard": dict(hard)}},
            {"apiVersion": "v1", "kind": "LimitRange",
             "metadata": {"name": "tenant-limits", "namespace": namespace_name, "labels": dict(labels)},
             "spec": {"limits": limits}}]


def quota_hard(system: m.System, surge_percent: int) -> dict[str, str]:
    """The ResourceQuota ``hard`` of a system (see the module docstring for the rule)."""
    req_cpu = req_mem = lim_cpu = lim_mem = pods = pvcs = storage = 0
    for workload in system.workloads:
        count = workload.replicas + math.ceil(workload.replicas * surge_percent / 100)
        pods += count
        req_cpu += millicores(workload.requests.cpu) * count
        lim_cpu += millicores(workload.limits.cpu) * count
        req_mem += bytes_of(workload.requests.memory) * count
        lim_mem += bytes_of(workload.limits.memory) * count
        if workload.storage_size:
            pvcs += workload.replicas
            storage += bytes_of(workload.storage_size) * workload.replicas
    return quota_spec((req_cpu, req_mem), (lim_cpu, lim_mem), pods, (pvcs, storage))


def container_limits(system: m.System) -> list[Obj]:
    """The LimitRange ``limits`` of a system: container defaults = the smallest declared requests/limits,
    max = the largest declared limits; PVC max = the largest declared volume. A system without workloads
    gets a zero ceiling (its quota allows no pods either)."""
    workloads = system.workloads
    if not workloads:
        return [{"type": "Container", "max": {"cpu": "0", "memory": "0"}}]
    cpu_limits = [millicores(w.limits.cpu) for w in workloads]
    mem_limits = [bytes_of(w.limits.memory) for w in workloads]
    limits: list[Obj] = [{
        "type": "Container",
        "max": {"cpu": format_cpu(max(cpu_limits)), "memory": format_bytes(max(mem_limits))},
        "default": {"cpu": format_cpu(min(cpu_limits)), "memory": format_bytes(min(mem_limits))},
        "defaultRequest": {"cpu": format_cpu(min(millicores(w.requests.cpu) for w in workloads)),
                           "memory": format_bytes(min(bytes_of(w.requests.memory) for w in workloads))},
    }]
    sizes = [bytes_of(w.storage_size) for w in workloads if w.storage_size]
    if sizes:
        limits.append({"type": "PersistentVolumeClaim", "max": {"storage": format_bytes(max(sizes))}})
    return limits


def rbac(namespace_name: str, groups: tuple[str, ...], labels: Mapping[str, str]) -> list[Obj]:
    """The tenant Role and one RoleBinding per group."""
    objects: list[Obj] = [{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": TENANT_ROLE, "namespace": namespace_name, "labels": dict(labels)},
        "rules": [dict(rule) for rule in TENANT_RULES],
    }]
    for group in dict.fromkeys(groups):
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": lb.exact_name(TENANT_ROLE, group, limit=253), "namespace": namespace_name,
                         "labels": dict(labels)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": TENANT_ROLE},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}],
        })
    return objects


def service_account(name: str, namespace_name: str, labels: Mapping[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace_name, "labels": dict(labels)},
            "automountServiceAccountToken": False}


#: The time sources' protocol and port: a flow to the security-management zone there asks the region's contract.
NTP_PROTOCOL, NTP_PORT = ROLE_PORTS["time-source"]


def _flow_rules(ctx: SiteContext, system: m.System, flow: m.Flow) -> list[Obj]:
    """The egress rules (peers and the pod, host or Service port) a declared flow is allowed by."""
    if flow.to.kind == "zone":
        zone = ctx.region.zones.get(flow.to.name)
        sources = ctx.time_sources()
        if zone is not None and zone.kind == "security-management" and flow.protocol.upper() == NTP_PROTOCOL \
                and flow.port == NTP_PORT and sources:
            # NTP to the security-management zone is the region's contract: its time sources, wherever they are
            # (as every host's firewall sends it) — the zone's network at a DR site may hold none
            # — and what of the zone serves the port here as any zone flow reaches it (a relay): its tenancies when
            # pods there serve it, the hosts here that declare it (their firewalls admit the flow)
            tenancies = [zone_namespaces_peer([flow.to.name])] \
                if zone_pods_serve(ctx.register, flow.to.name, flow.protocol, flow.port) else []
            network = ctx.zone_cidr(flow.to.name)
            relays = [address for address in hosts_serving_in(ctx.register, flow.to.name, flow.protocol, flow.port)
                      if network is not None and ipaddress.IPv4Address(address) in network and address not in sources]
            return [{"to": [*tenancies, *(cidr_peer(f"{address}/32") for address in [*sources, *relays])],
                     "ports": [port(flow.protocol, flow.port)]}]
        # the zone's tenancies in this cluster (by zone label) and its hosts (its network at this site) — but the
        # hosts keeping the port to their own system (exposure: internal): their firewalls admit their pods by the
        # zone's egress range, which this system's pods share
        network = ctx.zone_cidr(flow.to.name)
        if network is None:
            return []
        kept = [f"{address}/32" for address in internal_hosts_in(ctx.register, flow.to.name, flow.protocol, flow.port)
                if ipaddress.IPv4Address(address) in network]
        return [{"to": [zone_namespaces_peer([flow.to.name]), cidr_peer(network, kept)],
                 "ports": [port(flow.protocol, flow.port)]}]
    # consumers name the Service port; NetworkPolicy sees the pod port behind it (xzgov.core.ports)
    target = arrival(ctx.register, flow)
    if target.system is None:
        return []
    if target.unserved and target.service is not None:
        ctx.warnings.append(f"{system.name}: shared service '{target.service.id}' has no target port "
                            f"(name a port of {target.system.name}'s workloads '{target.service.id}')")
        return []
    placed = ctx.placements.get(system.name)
    active = placed is None or not placed.replica or placed.failed_over
    return destination_rules(ctx, target.system, flow.protocol, target.port, flow.port, active)


def _own_host_rules(ctx: SiteContext, system: m.System, replica: bool) -> list[Obj]:
    """Egress from the system's pods to every port its own hosts declare (its database on a VM; internal, or served
    to other systems too): the other half of what the hosts' firewalls admit from the pods' egress range
    (``xzgov.core.inventory.internal_flows``). Only where the pods run beside the hosts (its home site, not a DR
    replica: the hosts admit the home site's pods), and no flow may declare it (traffic inside a system needs no
    declaration)."""
    if replica or system.site != ctx.site.id or not system.workloads:
        return []
    rules: list[Obj] = []
    for host in system.hosts:
        ports = [port(p.protocol, p.port) for p in host.ports]
        peers = host_peers(system, ctx, [host]) if ports else []
        if peers:
            rules.append({"to": peers, "ports": ports})
    return rules


def _egress_policies(ctx: SiteContext, system: m.System, labels: Mapping[str, str]) -> list[Obj]:
    """One policy per declared flow target and port (flows with the same target/port are merged)."""
    merged: dict[tuple[m.FlowTarget, str, int], list[str]] = {}
    for flow in system.flows:
        merged.setdefault((flow.to, flow.protocol, flow.port), []).append(flow.purpose)
    policies: list[Obj] = []
    for (to, protocol, declared), purposes in merged.items():
        kind, target = to.kind, to.name
        if not zone_permits(ctx.register, system, m.Flow(to, protocol, declared, "")):
            warning = (f"{system.name}: flow to {kind} '{target}' {protocol}/{declared} crosses a zone boundary "
                       "region.yaml does not declare (reachable_from): not allowed (XZ-MAN-DECLARED-FLOWS)")
            ctx.warn(warning)
            continue
        rules = _flow_rules(ctx, system, m.Flow(to, protocol, declared, ""))
        if not rules:
            ctx.warnings.append(f"{system.name}: flow to {kind} '{target}' has no address reachable from site "
                                f"'{ctx.site.id}' (no network, or workloads at another site); no egress allowed")
            continue
        policies.append(network_policy(
            lb.dns_name("egress", kind, target, protocol, str(declared), limit=253), system.namespace, labels,
            egress=rules, annotations={lb.PURPOSE: "; ".join(dict.fromkeys(purposes))}))
    return policies


#: senders per ingress policy part, on average: a port that thousands of systems send to (a zone's log
#: centre, the identity service) names them all, so its policy is split in parts (:func:`_parts`) none of
#: which nears the API server's object size limit (etcd keeps objects under 1.5 MiB; a part is ≈ 15 KB)
SENDERS_PER_PART = 250
#: characters of the purposes named in one policy's annotation (annotations total at most 256 KiB);
#: the rest are counted
PURPOSE_CHARACTERS = 2000


@dataclass
class _Sender:
    """One sender to a receiving port: its namespace when its pods run here, its hosts, the egress range its
    pods at another site call from, the ports it calls (a shared service's Service port, else the pod port),
    its flows' purposes."""

    namespace: str | None
    hosts: list[Obj]
    egress: list[Obj]
    called: set[int]
    purposes: list[str]

    @property
    def outside(self) -> list[Obj]:
        """The sender's addresses outside this cluster: they come in through the site entry."""
        return [*self.hosts, *self.egress]


#: (flow target kind, way in — a shared service's id, else "system"/"zone" —, PROTOCOL, pod port)
_Receiving = dict[tuple[str, str, str, int], dict[str, _Sender]]


def purpose_annotation(purposes: list[str]) -> str:
    """The purposes of the flows a policy allows, each once, up to :data:`PURPOSE_CHARACTERS`; the rest counted."""
    distinct = list(dict.fromkeys(purposes))
    shown: list[str] = []
    used = 0
    for purpose in distinct:
        if used + len(purpose) > PURPOSE_CHARACTERS:
            if not shown:  # one purpose longer than the whole budget: its beginning
                shown.append(purpose[:PURPOSE_CHARACTERS] + "…")
            break
        shown.append(purpose)
        used += len(purpose) + 2
    more = len(distinct) - len(shown)
    return "; ".join([*shown, f"… 另 {more} 项 / {more} more"] if more else shown)


def _parts(senders: Mapping[str, _Sender]) -> tuple[int, list[tuple[int, list[Obj], list[str]]]]:
    """The ``from`` peers of a receiving port, in parts: the senders' namespaces by their immutable name
    (``kubernetes.io/metadata.name In …``, never a label a namespace could keep after it left the register —
    tenancy namespaces are retained on delete), their hosts as ``/32`` blocks.

    A sender's place is a digest of its name modulo a power of two (1 up to :data:`SENDERS_PER_PART` senders,
    on average that many per place): a sender joining or leaving changes its own part only, and a part keeps
    its name (its place) when another empties. When the senders cross 250 × 2ᵏ the places double and about
    half the senders move, each from place b to b + count: ``stacks.components`` creates a split policy's
    parts highest place first, each after the higher ones, so the new part admits a sender before its old
    part lets it go (removed parts are deleted last). Returns the number of places and ``(place, peers,
    purposes)`` of the non-empty ones, highest place first."""
    count = 1
    while len(senders) > count * SENDERS_PER_PART:
        count *= 2
    buckets: list[list[str]] = [[] for _ in range(count)]
    for name in senders:
        buckets[int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % count].append(name)
    parts: list[tuple[int, list[Obj], list[str]]] = []
    for place, bucket in reversed(list(enumerate(buckets))):
        namespaces = [senders[n].namespace for n in bucket if senders[n].namespace]
        peers: list[Obj] = [{"namespaceSelector": {"matchExpressions": [
            {"key": lb.NAMESPACE_NAME, "operator": "In", "values": namespaces}]}}] if namespaces else []
        seen: set[str] = set()  # one zone's egress range stands for all its senders at that site
        for peer in (peer for n in bucket for peer in senders[n].outside):
            if peer["ipBlock"]["cidr"] not in seen:
                seen.add(peer["ipBlock"]["cidr"])
                peers.append(peer)
        if peers:
            parts.append((place, peers, [purpose for n in bucket for purpose in senders[n].purposes]))
    return count, parts


def _receiving(ctx: SiteContext, system: m.System) -> _Receiving:
    """The senders of every flow that lands on the system's pods here, by receiving port and way in (the one
    resolution of flow → port, ``xzgov.core.ports``). A sender's pods serving at another site call from its
    zone's egress range there when this system's home is not that site and no host of it serves the port
    (``stacks.render.network.destination_rules``, the sender's side)."""
    receiving: _Receiving = {}
    listened = listening(system)  # asked once: a zone's receiver has thousands of inbound flows
    for entry in inbound(ctx.register, system):
        source, flow, number = entry.source, entry.flow, entry.port
        if (flow.protocol.upper(), number) not in listened:
            continue  # served by the system's hosts: outside the cluster's policies
        if not zone_permits(ctx.register, source, flow):
            continue  # the zone graph forbids it (the sender's side warns; the scan reports it)
        if internal_only(system, flow.protocol, number):
            if serving_hosts(system, flow.protocol, number):
                continue  # its pods keep the port to themselves; its hosts serve it (outside the cluster's policies)
            warning = (f"{system.name}: {source.name}'s flow to {number}/{flow.protocol.upper()} arrives at a port "
                       "every serving workload marks exposure: internal: not allowed (XZ-MAN-INBOUND-PORTS)")
            ctx.warn(warning)
            continue
        senders = receiving.setdefault((flow.to.kind, entry.via, flow.protocol.upper(), number), {})
        if source.name not in senders:
            pods_here = bool(source.workloads) and ctx.present(source.name)
            if flow.to.kind == "zone":
                # a zone flow goes to the zone at the sender's own site (its pods' namespaceSelector there, its
                # hosts' firewall to the zone's network there; NTP to the time sources as well, hosts outside
                # the cluster): a sender of another site never calls here, so neither its hosts nor its pods'
                # egress range are admitted — a host taken over there, its firewall flushed, would reach here
                sender = _Sender(source.namespace if pods_here else None,
                                 host_peers(source, ctx) if source.site == ctx.site.id else [], [], set(), [])
            else:
                site = pods_site(ctx, source) if source.workloads else None  # also a standby's active pods
                # its pods at another site call here when this system's pods do not serve at that site (its
                # home is here) and no host of it serves the port (stacks.render.network.destination_rules)
                crosses = (site is not None and site != system.site
                           and not serving_hosts(system, flow.protocol, number))
                sender = _Sender(source.namespace if pods_here else None, host_peers(source, ctx),
                                 site_egress_peers(ctx, source) if crosses else [], set(), [])
            if sender.namespace is None and not sender.outside:
                continue  # its pods run at another site and call a copy there (or cannot be addressed: warned)
            senders[source.name] = sender
        senders[source.name].called.add(flow.port)
        senders[source.name].purposes.append(flow.purpose)
    return receiving


def _ingress_policies(ctx: SiteContext, system: m.System, labels: Mapping[str, str],
                      receiving: _Receiving) -> list[Obj]:
    """Ingress only from systems that declared a flow to this one (directly, through a shared service it
    provides, or to its zone on a port it listens on) — on the pod port — and monitoring from the
    security-management zone on the application (not database) ports.

    One policy per receiving port and way in, whatever the number of senders (split in parts past
    :data:`SENDERS_PER_PART`): one policy per sender made every receiver of a zone hold one policy per
    sending system (a synthetic region of 3,000 rendered ≈ 250,000)."""
    policies: list[Obj] = []
    for (kind, via, protocol, number), senders in receiving.items():
        way = ("ingress", kind, via) if kind == "service" else ("ingress", kind)
        name = lb.dns_name(*way, protocol, str(number), limit=240)
        # only the pods that serve it: another workload on the same port (an admin console next to the
        # service's own) is not reached through the service, nor by a flow to the port of another workload
        serving = serving_workloads(system, protocol, number, via if kind == "service" else "")
        if not serving:  # every pod listening there keeps the port to its own system (exposure: internal)
            continue
        selector = workload_selector(system, serving)
        count, parts = _parts(senders)
        for place, peers, purposes in parts:
            annotations = {lb.PURPOSE: purpose_annotation(purposes)}
            if count > 1:
                annotations[lb.PARTS_OF] = name
            policies.append(network_policy(
                f"{name}-{place + 1}" if place else name, system.namespace, labels,
                ingress=[{"from": peers, "ports": [port(protocol, number)]}], annotations=annotations,
                pod_selector=selector))
    monitors = [cidr_peer(network) for network in ctx.region.monitors(ctx.site.id)]
    # one policy per set of monitored ports, selecting the workloads that have exactly that set: a port one
    # workload marks internal is not opened on it because another workload monitors the same number
    groups: dict[tuple[tuple[str, int], ...], list[m.Workload]] = {}
    for workload in monitored_workloads(system):
        ports = tuple(dict.fromkeys((p.protocol.upper(), p.port) for p in workload.ports if p.exposure != "internal"))
        if ports:
            groups.setdefault(ports, []).append(workload)
    for place, (ports, workloads) in enumerate(groups.items() if monitors else ()):
        policies.append(network_policy(
            # the first keeps the name it always had; the others are named after their first workload
            "ingress-security-management" if not place else lb.dns_name("ingress-security-management",
                                                                        workloads[0].name, limit=240),
            system.namespace, labels,
            # the monitoring platform's ranges at this site (region.yaml monitoring_cidrs; else the
            # security-management zone's network). Not its tenancies' pods: their egress
            # is DNS and declared flows only, so a namespace peer here would be half a rule that admits
            # nothing; a monitor running as a pod declares its flows like any system.
            ingress=[{"from": monitors, "ports": [port(protocol, number) for protocol, number in ports]}],
            annotations={lb.PURPOSE: "安全管理区监控 (应用端口, 不含数据库与内部端口) / monitoring of application "
                                     "ports (not databases, not internal ports)"},
            pod_selector=workload_selector(system, workloads)))
    return policies


def internet_ports(ctx: SiteContext, system: m.System) -> dict[str, list[int]]:
    """Per workload of the internet gateway: the internet ingress ports (TCP) it marks ``exposure: public`` —
    a port it keeps ``internal`` (an admin console on 443) or leaves unmarked is not published (a plan warning
    for the latter: the load balancer would have put it on the internet)."""
    if system.name != ctx.settings.internet_gateway:
        return {}
    result: dict[str, list[int]] = {}
    for workload in system.workloads:
        numbers = []
        for p in workload.ports:
            if p.protocol.upper() != "TCP" or p.port not in ctx.settings.internet_ingress_ports:
                continue
            if p.exposure == "public":
                numbers.append(p.port)
            elif p.exposure is None:
                ctx.warn(f"{system.name}: workload '{workload.name}' listens on internet ingress port {p.port} "
                         "without exposure: public: not published (mark the port exposure: public to publish it)")
        if numbers:
            result[workload.name] = numbers
    return result


def _internet_entry(ctx: SiteContext, system: m.System, labels: Mapping[str, str]) -> list[Obj]:
    """The entry path from the internet: the cloud load balancer Service in front of the gateway's
    workloads and the policy admitting public addresses on those ports. ``externalTrafficPolicy: Local``
    keeps the client's address, so the ``ipBlock`` below sees the internet, not a node."""
    entry = internet_ports(ctx, system)
    if not entry:
        return []
    objects: list[Obj] = []
    for workload, numbers in entry.items():
        objects.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": lb.dns_name("internet", workload), "namespace": system.namespace,
                         "labels": dict(labels),
                         "annotations": {lb.PURPOSE: "互联网入口 (云负载均衡) / internet entry load balancer"}},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", **_NO_NODE_PORTS,
                     "selector": {WORKLOAD_LABEL: workload},
                     "ports": [{"name": f"tcp-{n}", "protocol": "TCP", "port": n, "targetPort": n}
                               for n in numbers]}})
    # one policy per published workload, selecting its pods only: another workload listening on the same
    # number keeps it to itself
    for workload, numbers in entry.items():
        selector = workload_selector(system, [w for w in system.workloads if w.name == workload])
        objects.append(network_policy(
            "ingress-from-internet" if len(entry) == 1 else lb.dns_name("ingress-from-internet", workload),
            system.namespace, labels, pod_selector=selector,
            ingress=[{"from": [cidr_peer("0.0.0.0/0", not_internet(ctx.register.region))],
                      "ports": [port("TCP", n) for n in numbers]}],
            annotations={lb.PURPOSE: "互联网接入 (公网地址, 非 RFC 1918, 非本区域网络) / public ingress through the "
                                     "load balancer"}))
    return objects


def _site_entry(ctx: SiteContext, system: m.System, labels: Mapping[str, str], receiving: _Receiving) -> list[Obj]:
    """The cross-site entry (跨站入口): a cloud load-balancer Service per serving workload for the ports that
    callers outside this cluster reach — hosts (VMs) of any site and pods at another site — on the port they
    call (a shared service's Service port) to the pod port. Its address comes from the zone's ``entry_cidrs``
    at this site (the range the senders' NetworkPolicies and host firewalls go to); ``externalTrafficPolicy:
    Local`` keeps the caller's address, so the ingress policies' ``ipBlock``s see the caller, not a node, and
    ``loadBalancerSourceRanges`` admits only the senders' addresses. Nothing when no outside caller needs one."""
    ports: dict[str, dict[tuple[str, int], int]] = {}
    sources: dict[str, set[ipaddress.IPv4Network]] = {}
    for (kind, via, protocol, number), senders in receiving.items():
        outside = [s for s in senders.values() if s.outside]
        if not outside:
            continue
        for serving in serving_workloads(system, protocol, number, via if kind == "service" else ""):
            mapping = ports.setdefault(serving.name, {})
            for sender in outside:
                for called in sorted(sender.called):
                    if mapping.setdefault((protocol, called), number) != number:
                        ctx.warnings.append(
                            f"{system.name}: {protocol}/{called} is called for two pod ports of {serving.name} "
                            f"({mapping[(protocol, called)]}, {number}): the site entry takes the first")
                sources.setdefault(serving.name, set()).update(
                    ipaddress.IPv4Network(peer["ipBlock"]["cidr"]) for peer in sender.outside)
    zone = ctx.region.zones.get(system.zone)
    entry = zone.entry(ctx.site.id) if zone is not None else None
    objects: list[Obj] = []
    for workload, mapping in ports.items():
        annotations = {lb.PURPOSE: "跨站入口 (云负载均衡; 其他站点的容器与虚拟机) / cross-site entry load balancer"}
        if entry is not None:
            annotations[lb.ADDRESS_RANGE] = str(entry)
        else:
            warning = (f"{system.name}: zone '{system.zone}' declares no entry_cidrs.{ctx.site.id} in region.yaml: "
                       "callers outside the cluster do not know where its site entry is")
            ctx.warn(warning)
        objects.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": lb.dns_name(SITE_ENTRY_PREFIX.rstrip("-"), workload), "namespace": system.namespace,
                         "labels": dict(labels), "annotations": annotations},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", **_NO_NODE_PORTS,
                     "selector": {WORKLOAD_LABEL: workload},
                     # the same addresses, adjacent ones merged (a log centre's thousands of hosts)
                     "loadBalancerSourceRanges": [str(n) for n in ipaddress.collapse_addresses(sources[workload])],
                     "ports": [{"name": f"{protocol.lower()}-{called}", "protocol": protocol, "port": called,
                                "targetPort": number} for (protocol, called), number in sorted(mapping.items())]}})
    return objects


SITE_ENTRY_PREFIX = "site-entry-"


def check_entry_capacity(ctx: SiteContext, rendered: Mapping[str, list[Obj]]) -> None:
    """A plan warning for each zone whose site-entry Services at this site outnumber the load-balancer
    addresses of its ``entry_cidrs`` range (each Service takes one; the network and broadcast addresses are
    not handed out): the cloud would leave the rest without an address. ``rendered``: system → its objects."""
    needed: dict[str, int] = {}
    for name, objects in rendered.items():
        count = sum(1 for o in objects if o["kind"] == "Service" and o["metadata"]["name"].startswith(
            SITE_ENTRY_PREFIX))
        if count:
            zone = ctx.register.systems[name].zone
            needed[zone] = needed.get(zone, 0) + count
    for zone_id, count in sorted(needed.items()):
        entry = ctx.region.zones[zone_id].entry(ctx.site.id)
        if entry is None:
            continue  # _site_entry warned already
        usable = entry.num_addresses - 2 if entry.prefixlen < 31 else entry.num_addresses
        if count > usable:
            ctx.warnings.append(f"zone '{zone_id}' needs {count} load-balancer addresses at '{ctx.site.id}' for its "
                                f"site-entry Services, but its entry_cidrs.{ctx.site.id} ({entry}) has {usable}: "
                                "widen the range in region.yaml")


def render_tenant(ctx: SiteContext, system: m.System, replica: bool = False) -> list[Obj]:
    """Every Kubernetes object of one system's tenancy at this site, in apply order."""
    labels = tenant_labels(ctx, system)
    ns = system.namespace
    objects: list[Obj] = [namespace(ctx, system, replica),
                          service_account(system.name, ns, labels),
                          # the controller-made "default" account: patched so pods not naming ours get no token
                          service_account(DEFAULT_SERVICE_ACCOUNT, ns, labels)]
    hard = quota_hard(system, ctx.settings.quota_surge_percent)
    receiving = _receiving(ctx, system)
    site_entry = _site_entry(ctx, system, labels, receiving)
    load_balancers = len(internet_ports(ctx, system)) + len(site_entry)
    if load_balancers:
        hard["services.loadbalancers"] = str(load_balancers)  # the entries rendered here, nothing more
    objects += quota_and_limits(ns, labels, hard, container_limits(system))
    department = ctx.region.departments.get(system.department)
    objects += rbac(ns, department.groups if department else (), labels)
    objects += [default_deny(ns, labels), allow_dns(ns, labels)]
    ports = workload_ports(system)
    if ports:
        # a system's own workloads call each other (application → its database): same namespace only,
        # on the ports they listen on
        same_namespace: Obj = {"podSelector": {}}
        objects.append(network_policy(
            "allow-within-system", ns, labels, ingress=[{"from": [same_namespace], "ports": ports}],
            egress=[{"to": [same_namespace], "ports": ports}],
            annotations={lb.PURPOSE: "系统内部组件互访 / the system's own workloads"}))
    own_hosts = _own_host_rules(ctx, system, replica)
    if own_hosts:
        objects.append(network_policy(
            "allow-own-hosts", ns, labels, egress=own_hosts,
            annotations={lb.PURPOSE: "系统访问本系统主机的内部端口 / the system's pods to its own hosts' internal "
                                     "ports (e.g. its database)"}))
    objects += _egress_policies(ctx, system, labels)
    objects += _ingress_policies(ctx, system, labels, receiving)
    objects += _internet_entry(ctx, system, labels)
    objects += site_entry
    return objects

"""NetworkPolicy building blocks (standard ``networking.k8s.io/v1``; nothing CNI-specific)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stacks.render import labels as lb
from stacks.render.context import SiteContext
from xzgov.core import model as m
from xzgov.core.ports import PRIVATE_RANGES as PRIVATE_RANGES  # re-exported
from xzgov.core.ports import internal_host_port, pods_serve, serving_hosts
from xzgov.core.ports import listens as listens  # the flow → port resolution lives in the model (re-exported)
from xzgov.core.ports import service_target_port as service_target_port

Obj = dict[str, Any]

#: the label each workload's pods carry (``app.kubernetes.io/name: <workload name>``): what the internet
#: entry Service selects and the connectivity analysis synthesises
WORKLOAD_LABEL = "app.kubernetes.io/name"


def network_policy(
    name: str, namespace: str, labels: Mapping[str, str], *, ingress: Sequence[Obj] | None = None,
    egress: Sequence[Obj] | None = None, annotations: Mapping[str, str] | None = None,
    pod_selector: Obj | None = None,
) -> Obj:
    """A NetworkPolicy selecting every pod of ``namespace`` (unless ``pod_selector``). ``ingress``/``egress``
    given as lists (possibly empty = deny) put that direction in ``policyTypes``; ``None`` leaves it out."""
    spec: Obj = {"podSelector": dict(pod_selector or {})}
    types: list[str] = []
    if ingress is not None:
        types.append("Ingress")
        if ingress:
            spec["ingress"] = list(ingress)
    if egress is not None:
        types.append("Egress")
        if egress:
            spec["egress"] = list(egress)
    spec["policyTypes"] = types
    metadata: Obj = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata, "spec": spec}


#: The name of each namespace's deny-all policy (``stacks.components`` keeps it with a retained namespace).
DEFAULT_DENY = "default-deny"


def default_deny(namespace: str, labels: Mapping[str, str]) -> Obj:
    """Deny all ingress and egress of every pod in ``namespace``; allows are separate policies."""
    return network_policy(DEFAULT_DENY, namespace, labels, ingress=[], egress=[])


def allow_dns(namespace: str, labels: Mapping[str, str]) -> Obj:
    """Egress to the cluster DNS (kube-system pods ``k8s-app=kube-dns``) on UDP and TCP 53."""
    peer = {"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return network_policy("allow-dns", namespace, labels,
                          egress=[{"to": [peer], "ports": [{"protocol": "UDP", "port": 53},
                                                            {"protocol": "TCP", "port": 53}]}])


def namespace_peer(namespace: str) -> Obj:
    return {"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: namespace}}}


def zone_namespaces_peer(zone_ids: Iterable[str]) -> Obj:
    """Every namespace (tenants and segments) labelled with one of ``zone_ids``."""
    return {"namespaceSelector": {"matchExpressions": [
        {"key": lb.ZONE, "operator": "In", "values": sorted(set(zone_ids))}]}}


def all_zoned_namespaces_peer() -> Obj:
    return {"namespaceSelector": {"matchExpressions": [{"key": lb.ZONE, "operator": "Exists"}]}}


def cidr_peer(network: ipaddress.IPv4Network | str, except_: Sequence[str] = ()) -> Obj:
    block: Obj = {"cidr": str(network)}
    if except_:
        block["except"] = list(except_)
    return {"ipBlock": block}


def port(protocol: str, number: int) -> Obj:
    return {"protocol": protocol.upper(), "port": number}


def workload_ports(system: m.System) -> list[Obj]:
    """Every distinct port the system's workloads declare, in declaration order."""
    seen: list[Obj] = []
    for workload in system.workloads:
        for p in workload.ports:
            entry = port(p.protocol, p.port)
            if entry not in seen:
                seen.append(entry)
    return seen


def host_peers(system: m.System, ctx: SiteContext | None = None, hosts: Sequence[m.Host] | None = None
               ) -> list[Obj]:
    """The system's hosts (/32; ``hosts``, some of them, when given) — none when its site is declared lost
    (``xzgov:disasterDeclared``): those addresses are gone, and rules to them would open the lost site's ranges
    at the DR site."""
    if ctx is not None and system.site in ctx.settings.disaster_declared:
        warning = (f"{system.name}: hosts at lost site '{system.site}' are not addressed at '{ctx.site.id}' "
                   "(their data is restored onto DR hosts from roles/host_backup's backups, docs/dr.md)")
        if system.hosts:
            ctx.warn(warning)
        return []
    return [cidr_peer(f"{host.address}/32") for host in (system.hosts if hosts is None else hosts)]


def pods_site(ctx: SiteContext, system: m.System) -> str | None:
    """The other site where ``system``'s pods run: its home site, unless that is this site or declared lost
    (then its tenancy runs here, failed over). A tenancy re-applied here for DR may hold pods as well (a hot
    standby), but its home site's are the ones that serve in peace."""
    lost = system.site in ctx.settings.disaster_declared
    return system.site if system.site != ctx.site.id and not lost else None


def site_entry_peers(ctx: SiteContext, system: m.System) -> list[Obj]:
    """Where this cluster's pods reach ``system``'s pods at another site: the load-balancer range of its zone's
    cross-site entry there (region.yaml ``zones[].entry_cidrs``, the receiving site's ``site-entry`` Services) —
    never the remote zone's whole network. Nothing (and a plan warning) when the pods run nowhere reachable or
    the zone declares no entry range at their site."""
    site = pods_site(ctx, system)
    zone = ctx.region.zones.get(system.zone)
    entry = zone.entry(site) if zone is not None and site is not None else None
    if entry is None:
        reason = (f"zone '{system.zone}' declares no entry_cidrs.{site} in region.yaml (add the load balancer's "
                  "range of the zone's cross-site entry at that site)" if site is not None else
                  f"its site '{system.site}' is declared lost and it has no tenancy here")
        warning = f"{system.name}: its pods are not reachable from '{ctx.site.id}': {reason}"
        ctx.warn(warning)
        return []
    return [cidr_peer(entry)]


def site_egress_peers(ctx: SiteContext, system: m.System) -> list[Obj]:
    """The addresses ``system``'s pods at another site call this cluster from: the egress range of its zone
    there (region.yaml ``zones[].egress_cidrs``). Nothing when its pods run here or nowhere, or the zone
    declares no egress range at their site (a plan warning)."""
    site = pods_site(ctx, system) if system.workloads else None
    if site is None:
        return []
    zone = ctx.region.zones.get(system.zone)
    egress = zone.egress(site) if zone is not None else None
    if egress is None:
        warning = (f"{system.name}: its pods at '{site}' have no source address '{ctx.site.id}' can admit: zone "
                   f"'{system.zone}' declares no egress_cidrs.{site} in region.yaml (add the egress gateway's range)")
        ctx.warn(warning)
        return []
    return [cidr_peer(egress)]


def destination_rules(ctx: SiteContext, system: m.System, protocol: str, number: int, called: int,
                      sender_active: bool = True) -> list[Obj]:
    """The egress rules (``to`` and ``ports``) of a connection to ``system`` on pod/host port ``number``, called at
    port ``called`` (a shared service's Service port, else ``number``), by a sender whose pods serve here
    (``sender_active``: placed here or failed over; a tenancy re-applied for DR calls only what it finds here).

    When its pods listen on that port: its namespace here on ``number`` (its tenancy runs here), and — when its
    pods serve at another site and the sender is active — that site's cross-site entry for its zone on
    ``called`` (:func:`site_entry_peers`), unless a host of the system declares the port: then those hosts (/32) instead
    (a VM is addressable from every site: the DR log centre's host for the primary's log copy). A tenancy
    re-applied here for DR runs no pods in peace, so a call to it alone would land nowhere. Otherwise the hosts
    that declare the port — never a host that does not declare it, so a call to an application port is not
    also opened to the system's database hosts. A port nothing of ``system`` declares: nothing, and a plan
    warning (the scan's XZ-MAN-INBOUND-PORTS names the flow: it lands on no declared interface)."""
    pods = pods_serve(system, protocol, number)  # (a port its pods keep to themselves: its hosts, if any, serve it)
    here = pods and ctx.present(system.name)
    rules: list[Obj] = [{"to": [namespace_peer(system.namespace)], "ports": [port(protocol, number)]}] if here else []
    if here and (pods_site(ctx, system) is None or not sender_active):
        return rules  # its pods serve here only (or the sender is a standby: its calls stay here)
    serving = serving_hosts(system, protocol, number)
    if serving:
        peers = host_peers(system, ctx, serving)
        return rules + ([{"to": peers, "ports": [port(protocol, number)]}] if peers else [])
    if pods:
        entry = site_entry_peers(ctx, system) if sender_active else []
        return rules + ([{"to": entry, "ports": [port(protocol, called)]}] if entry else [])
    if internal_host_port(system, protocol, number):
        ctx.warn(f"{system.name}: {number}/{protocol.upper()} is a host port marked exposure: internal (its own "
                 "pods and hosts only; its firewall admits no other system): flows there are not allowed "
                 "(XZ-MAN-INBOUND-PORTS)")
        return []
    warning = (f"{system.name}: nothing listens on {number}/{protocol.upper()} (no workload or host declares "
               "it): flows there are not allowed (declare the port under spec.workloads[].ports or "
               "spec.hosts[].ports, or correct the flow's port)")
    ctx.warn(warning)
    return []


def monitored_workloads(system: m.System) -> list[m.Workload]:
    """The workloads without volumes (applications, not databases): the ones monitoring reaches."""
    return [workload for workload in system.workloads if not workload.storage_size]


def workload_selector(system: m.System, workloads: Iterable[m.Workload]) -> Obj | None:
    """A pod selector for ``workloads`` of ``system`` (by :data:`WORKLOAD_LABEL`), or ``None`` when they are all
    of its workloads (the whole namespace: the policy stays as simple as it can)."""
    names = sorted({workload.name for workload in workloads})
    if set(names) >= {workload.name for workload in system.workloads}:
        return None
    return {"matchExpressions": [{"key": WORKLOAD_LABEL, "operator": "In", "values": names}]}


def serving_workloads(system: m.System, protocol: str, number: int, service: str = "") -> list[m.Workload]:
    """The workloads a connection from another system on pod port ``protocol``/``number`` reaches: for a shared
    service, the one(s) whose port is named after it when one is (a Service's named ``targetPort`` selects those
    pods only), else every workload listening there — never one that marks the port ``exposure: internal`` (its
    own system's only: an admin console on the API's port number was admitted with the API)."""
    def has(workload: m.Workload, named: bool) -> bool:
        return any(p.protocol.upper() == protocol.upper() and p.port == number and p.exposure != "internal"
                   and (not named or p.name == service) for p in workload.ports)

    if service and any(p.name == service and p.protocol.upper() == protocol.upper()
                       for workload in system.workloads for p in workload.ports):
        # the Service names its pods: those only, and none when they keep the port to themselves (internal) —
        # another workload on the same number is not reached through it (xzgov.core.ports.service_target_port)
        return [workload for workload in system.workloads if has(workload, True)]
    return [workload for workload in system.workloads if has(workload, False)]

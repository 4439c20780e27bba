"""NetworkPolicy building blocks (standard ``networking.k8s.io/v1``; nothing CNI-specific)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stacks.render import labels as lb
from stacks.render.context import SiteContext
from xzgov.core import model as m

Obj = dict[str, Any]

#: private ranges excluded from "the internet" (RFC 1918)
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


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


def default_deny(namespace: str, labels: Mapping[str, str]) -> Obj:
    """Deny all ingress and egress of every pod in ``namespace``; allows are separate policies."""
    return network_policy("default-deny", namespace, labels, ingress=[], egress=[])


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


def zone_cidr_peers(ctx: SiteContext, zones: Iterable[m.Zone]) -> list[Obj]:
    peers = []
    for zone in zones:
        network = zone.cidr(ctx.site.id)
        if network is not None:
            peers.append(cidr_peer(network))
    return peers


def system_peers(ctx: SiteContext, system: m.System) -> list[Obj]:
    """Where a system's traffic comes from / goes to, seen from this site's cluster.

    * workloads running in this cluster → its namespace;
    * workloads at another site → its zone's network there (traffic crosses the zone boundary);
    * hosts → each host's address (/32);
    * neither → its zone's network.
    """
    peers: list[Obj] = []
    present = ctx.present(system.name)
    if system.workloads:
        if present:
            peers.append(namespace_peer(system.namespace))
        else:
            remote = ctx.zone_cidr(system.zone, system.site)
            if remote is not None:
                peers.append(cidr_peer(remote))
    for host in system.hosts:
        peers.append(cidr_peer(f"{host.address}/32"))
    if not peers:
        network = ctx.zone_cidr(system.zone, ctx.site.id if present else system.site)
        if network is not None:
            peers.append(cidr_peer(network))
    return peers

"""The rendered NetworkPolicies of both sites, analysed by IBM np-guard's network-config-analyzer over
pods synthesised from the workloads: what is declared flows, and nothing else does.

The expected set is computed here from the register alone (the declarations), not from the render:

* **dns** — every pod → ``kube-system/coredns`` on UDP/TCP 53 (``allow-dns``);
* **within-system** — a system's pods → its own other pods on their ports (``allow-within-system``);
* **flow** — a declared flow's source pods → the target's pods listening on the flow's *pod* port (a shared
  service's named target port; for a zone, the pods of that zone's systems listening on the port);
* **internet** — the internet → the gateway's pods on ``internetIngressPorts`` (the load balancer).

Monitoring from the security-management zone and flows to or from hosts are ``ipBlock`` rules: they admit
addresses outside the cluster and appear among the analyser's address lines, checked separately below.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from stacks.connectivity import DNS, INTERNET, AnalyserUnavailable, Connection, Connectivity, Listener, analyse
from stacks.render import SiteRender, render_site
from stacks.render.network import service_target_port
from stacks.settings import Settings
from xzgov.core import model as m

SITES = ("lhasa", "dr")


@pytest.fixture(scope="module")
def analysed(example_register: m.Register) -> dict[str, tuple[SiteRender, Connectivity]]:
    result = {}
    for site in SITES:
        render = render_site(example_register, Settings(site=site))
        try:
            result[site] = (render, analyse(example_register, render))
        except AnalyserUnavailable as exc:  # pragma: no cover - see docs/stacks.md (PyYAML pin conflict)
            pytest.skip(f"network-config-analyzer is not installed: {exc}")
    return result


def pods(register: m.Register, render: SiteRender) -> dict[str, list[tuple[str, m.Workload]]]:
    """system → [(pod, workload)] of the tenancies at the site."""
    return {t.system: [(f"{register.systems[t.system].namespace}/{w.name}", w)
                       for w in register.systems[t.system].workloads] for t in render.tenants}


def listening(entries: list[tuple[str, m.Workload]], protocol: str, number: int) -> Iterator[Listener]:
    for pod, workload in entries:
        for p in workload.ports:
            if p.port == number and p.protocol.upper() == protocol.upper():
                yield Listener(pod, p.protocol.upper(), p.port)


def expected(register: m.Register, render: SiteRender, settings: Settings) -> dict[Connection, str]:
    """Every connection the declarations call for, with the reason that justifies it."""
    present = pods(register, render)
    result: dict[Connection, str] = {}
    for system, entries in present.items():
        for pod, _ in entries:
            for protocol in ("UDP", "TCP"):
                result[Connection(pod, Listener(DNS, protocol, 53))] = "dns"
            for other, workload in entries:
                for p in workload.ports:
                    if other != pod:
                        result[Connection(pod, Listener(other, p.protocol.upper(), p.port))] = "within-system"
        source = register.systems[system]
        for flow in source.flows:
            targets: list[Listener] = []
            if flow.to.kind == "zone":
                for name, others in present.items():
                    if name != system and register.systems[name].zone == flow.to.name:
                        targets += listening(others, flow.protocol, flow.port)
            else:
                destination = m.resolve_flow_target(register, flow.to)
                if destination.system is None or destination.system.name not in present:
                    continue
                number = flow.port
                if destination.service is not None:
                    number = service_target_port(destination.system, destination.service) or flow.port
                targets += listening(present[destination.system.name], flow.protocol, number)
            for pod, _ in entries:
                for target in targets:
                    result.setdefault(Connection(pod, target), f"flow {system} → {flow.to.kind} {flow.to.name}")
    gateway = present.get(settings.internet_gateway, [])
    for number in settings.internet_ingress_ports:
        for target in listening(gateway, "TCP", number):
            result[Connection(INTERNET, target)] = "internet → gateway"
    return result


def in_scope(connection: Connection) -> bool:
    """kube-system carries no policy of ours (the cluster's DNS): only tenants' calls to it are checked."""
    return not connection.source.startswith("kube-system/") and not (
        connection.target.pod.startswith("kube-system/") and connection.source == INTERNET)


@pytest.mark.parametrize("site", SITES)
def test_allowed_is_exactly_what_is_declared(example_register: m.Register, site: str,
                                              analysed: dict[str, tuple[SiteRender, Connectivity]]) -> None:
    render, connectivity = analysed[site]
    wanted = expected(example_register, render, Settings(site=site))
    allowed = {c for c in connectivity.allowed if in_scope(c)}
    missing = sorted(set(wanted) - allowed)
    undeclared = sorted(allowed - set(wanted))
    assert not missing, [(c, wanted[c]) for c in missing[:20]]
    assert not undeclared, undeclared[:20]
    reasons = {reason.split(" ")[0] for reason in wanted.values()}
    assert reasons == {"dns", "within-system", "flow", "internet"}


@pytest.mark.parametrize("site", SITES)
def test_every_shared_service_call_lands_on_the_providers_pod_port(
        example_register: m.Register, site: str, analysed: dict[str, tuple[SiteRender, Connectivity]]) -> None:
    render, connectivity = analysed[site]
    present = pods(example_register, render)
    checked = 0
    for system, entries in present.items():
        for flow in example_register.systems[system].flows:
            destination = m.resolve_flow_target(example_register, flow.to)
            if destination.service is None or destination.system is None or not entries \
                    or destination.system.name not in present:
                continue
            number = service_target_port(destination.system, destination.service)
            assert number is not None, f"{destination.service.id} has no target port"
            targets = list(listening(present[destination.system.name], flow.protocol, number))
            assert targets, (system, destination.service.id)
            for pod, _ in entries:
                for target in targets:
                    assert connectivity.allows(pod, target.pod, target.protocol, target.port), (pod, target)
                    checked += 1
    assert checked > 50  # 10 of 12 services were unreachable before the target-port fix


@pytest.mark.parametrize("site", SITES)
def test_internet_reaches_only_the_gateway_and_the_gateway_only_published_systems(
        example_register: m.Register, site: str, analysed: dict[str, tuple[SiteRender, Connectivity]]) -> None:
    _, connectivity = analysed[site]
    settings = Settings(site=site)
    gateway = example_register.systems[settings.internet_gateway]
    from_internet = {c.target for c in connectivity.allowed if c.source == INTERNET and in_scope(c)}
    assert from_internet == {Listener(f"{gateway.namespace}/waf", "TCP", 443)}
    published = {s.name for s in example_register if s.internet_facing}
    reached: set[str] = set()
    for connection in connectivity.allowed:
        if not connection.source.startswith(f"{gateway.namespace}/"):
            continue
        namespace = connection.target.pod.split("/")[0]
        if namespace in ("kube-system", gateway.namespace):
            continue
        target = example_register.systems[namespace]
        if target.zone == "security-management":  # its declared log shipping (6514)
            assert connection.target.port == 6514
            continue
        assert namespace in published, connection
        reached.add(namespace)
    assert reached  # the published systems present at the site are reachable through the gateway


def _tenant_ip_blocks(render: SiteRender) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for tenant in render.tenants:
        for obj in tenant.objects:
            if obj["kind"] != "NetworkPolicy":
                continue
            spec = obj["spec"]
            for rule in [*spec.get("ingress", []), *spec.get("egress", [])]:
                for peer in [*rule.get("from", []), *rule.get("to", [])]:
                    if "ipBlock" in peer:
                        yield tenant.system, obj["metadata"]["name"], peer["ipBlock"]


@pytest.mark.parametrize("site", SITES)
def test_address_rules_are_hosts_local_zones_or_the_internet(example_register: m.Register, site: str) -> None:
    """No rule admits a remote site's whole zone: networks wider than one host are this site's zone
    networks (zone flows, monitoring hosts) or the internet at the gateway."""
    render = render_site(example_register, Settings(site=site))
    local = {str(z.cidr(site)) for z in example_register.region.zones.values() if z.cidr(site) is not None}
    for system, policy, block in _tenant_ip_blocks(render):
        network = ipaddress.IPv4Network(block["cidr"])
        if network.prefixlen == 32:
            continue
        if block["cidr"] == "0.0.0.0/0":
            assert (system, policy) == ("internet-gateway", "ingress-from-internet")
            continue
        assert block["cidr"] in local, (system, policy, block)


@pytest.mark.parametrize("site", SITES)
def test_monitoring_never_reaches_database_ports(example_register: m.Register, site: str) -> None:
    render = render_site(example_register, Settings(site=site))
    for tenant in render.tenants:
        system = example_register.systems[tenant.system]
        stateful = {p.port for w in system.workloads if w.storage_size for p in w.ports}
        stateless = {p.port for w in system.workloads if not w.storage_size for p in w.ports}
        for obj in tenant.objects:
            if obj["metadata"]["name"] == "ingress-security-management":
                ports = {p["port"] for p in obj["spec"]["ingress"][0]["ports"]}
                assert not ports & (stateful - stateless), tenant.system


@pytest.mark.parametrize("site", SITES)
def test_summary_counts(site: str, analysed: dict[str, tuple[SiteRender, Connectivity]]) -> None:
    _, connectivity = analysed[site]
    summary = connectivity.summary()
    assert summary["allowed"] + summary["denied"] == summary["possible"]
    assert summary["from_internet"] == 1  # the gateway's WAF on 443
    assert summary["dns"] == 2 * (summary["endpoints"] - 1)  # every pod but the DNS itself, UDP and TCP

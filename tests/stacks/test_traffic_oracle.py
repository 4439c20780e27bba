"""Traffic to the hosts flows as declared, end to end, on random registers — checked by an oracle of its own.

The plan's connectivity check shares the port model (``xzgov.core.ports``) with the renderers, and sees the pods
only; five of eight host-firewall defects a review found were invisible to it. This test does not use the port
model. From the declarations alone (the flows, the receivers' ports and their exposure, the zone graph of
region.yaml) it says which other systems must reach each port of each host and which must not; then it evaluates
what is rendered, as a packet would meet it: the sender's half (its pods' NetworkPolicies at their site, each
of its VMs' firewall output chain) and the receiver's half (the host's firewall input chain, ``xzgov_allowed_flows``
as roles/firewall loads it: a rule admits a source inside its ``peer_cidrs`` and outside its ``except_cidrs``).

A path is a source of a system (one of its VMs, or its pods: the egress range of its zone at its site, shared with
every other system's pods there) to a host port of another system. Must reach: a declared flow the zone graph
permits arrives there and nothing else takes it. May reach: the receiver's pods serve the port too (the flow goes
to them where they run beside the sender), or the port is a security-management role's contract port (every zone
reaches the log centre, time sources and directory by region.yaml, not by a flow). Everything else must not.
A must-reach path is judged on both halves, the whole source (every pod address of the range). A must-not path of
a VM is judged on the receiver's input chain alone: a VM taken over flushes its own output chain, the receiver's
firewall is what stands; pods are held by their NetworkPolicies (the nodes enforce them) and then the input chain.

Run on the code before the review's fixes (``0b5a944``), 14 of seeds 1–30 fail (1, 4, 5, 6, 7, 15, 16, 19, 20, 22,
23, 25, 26, 27): declared flows blocked at the receiving host (a zone flow, a port the pods keep internal, NTP and
syslog to a relay) and the internet-facing host's 443 open to the whole internet-access zone.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks.render.context import site_context
from stacks.render.tenant import render_tenant
from stacks.settings import Settings
from tests.stacks.random_registers import make_register
from xzgov.core import model as m
from xzgov.core.inventory import host_vars
from xzgov.core.register import load_register

Network = ipaddress.IPv4Network
#: the security-management roles' contract ports (region.yaml: log servers, time sources, the directory)
ROLE_PORTS = {"time-source": {("UDP", 123)}, "directory": {("TCP", 636)}}


@dataclass(frozen=True)
class Source:
    """Where a system's traffic comes from: one of its VMs (a /32) or its pods (its zone's egress range)."""

    system: str
    label: str
    network: Network
    vm: m.Host | None


# ---- the declarations: who must, and who may, reach a host port -------------------------------------------


def _crosses(region: m.Region, sender_zone: str, zone_id: str, protocol: str, number: int) -> bool:
    """The zone graph: within a zone, into a zone whose ``reachable_from`` names the sender's, or into the
    security-management zone for syslog to a log server's port (TCP) and NTP (UDP 123)."""
    if zone_id == sender_zone:
        return True
    zone = region.zones[zone_id]
    if sender_zone in zone.reachable_from:
        return True
    if zone.kind == "security-management":
        logs = {server.port for server in region.log_servers.values()}
        return (protocol, number) == ("UDP", 123) or (protocol == "TCP" and number in logs)
    return False


def _pods_serve(system: m.System, protocol: str, number: int) -> bool:
    """Some workload listens there and not every one keeping it ``internal``."""
    exposures = [p.exposure for w in system.workloads for p in w.ports if (p.protocol.upper(), p.port) ==
                 (protocol, number)]
    return bool(exposures) and any(e != "internal" for e in exposures)


def _serves(host: m.Host, protocol: str, number: int) -> bool:
    """The host declares the port to other systems: not ``internal`` (a ``public`` one too: the internet reaches
    it from outside the private ranges, a system of the region by its declared flow)."""
    return any((p.protocol.upper(), p.port) == (protocol, number) and p.exposure != "internal" for p in host.ports)


def _contract(region: m.Region, host: m.Host) -> set[tuple[str, int]]:
    if host.role == "log-centre":
        return {("TCP", s.port) for s in region.log_servers.values() if s.host == str(host.address)} or {("TCP", 6514)}
    return ROLE_PORTS.get(host.role or "", set())


def _service_arrival(register: m.Register, service: m.SharedService) -> tuple[m.System, int] | None:
    """A Service reaches the provider's pods on the workload port named after it (none when every such port is
    ``internal``), else the service port."""
    provider = register.systems[service.provider]
    named = [p for w in provider.workloads for p in w.ports
             if p.name == service.id and p.protocol.upper() == service.protocol.upper()]
    if named:
        served = [p.port for p in named if p.exposure != "internal"]
        return (provider, served[0]) if served else None
    return provider, service.port


def declared(register: m.Register) -> dict[tuple[str, str, int], dict[str, str]]:
    """``(hostname, PROTOCOL, port) → {sender: "must" | "may"}`` for every other system a declaration lets in."""
    region = register.region
    paths: dict[tuple[str, str, int], dict[str, str]] = {}

    def admit(receiver: m.System, sender: m.System, protocol: str, number: int, pods_take: bool) -> None:
        for host in receiver.hosts:
            if not _serves(host, protocol, number):
                continue
            level = "may" if pods_take or (protocol, number) in _contract(region, host) else "must"
            slot = paths.setdefault((host.hostname, protocol, number), {})
            if slot.get(sender.name) != "must":
                slot[sender.name] = level

    for sender in register:
        for flow in sender.flows:
            protocol, to = flow.protocol.upper(), flow.to
            if to.kind == "zone":
                zone = region.zones.get(to.name)
                if zone is None or not _crosses(region, sender.zone, to.name, protocol, flow.port):
                    continue
                time_to_management = zone.kind == "security-management" and (protocol, flow.port) == ("UDP", 123)
                for receiver in register:
                    if receiver.zone != to.name or receiver.name == sender.name:
                        continue
                    if receiver.site == sender.site:
                        admit(receiver, sender, protocol, flow.port, _pods_serve(receiver, protocol, flow.port))
                    elif time_to_management:  # the time sources are asked wherever they are
                        admit(receiver, sender, protocol, flow.port, True)
                continue
            if to.kind == "service":
                arrived = _service_arrival(register, region.shared_services[to.name])
                if arrived is None:
                    continue
                receiver, number = arrived
            else:
                receiver, number = register.systems[to.name], flow.port
            if receiver.name == sender.name or not _crosses(region, sender.zone, receiver.zone, protocol, flow.port):
                continue
            admit(receiver, sender, protocol, number,
                  receiver.site == sender.site and _pods_serve(receiver, protocol, number))
    return paths


# ---- what is rendered, as a packet meets it --------------------------------------------------------------


def _networks(cidrs: Iterable[str]) -> list[Network]:
    return [ipaddress.IPv4Network(c) for c in cidrs if ":" not in c]


def _admits(rules: list[dict[str, Any]], protocol: str, number: int, source: Network, *, whole: bool) -> bool:
    """Whether the input chain accepts ``source`` (all of it when ``whole``, else any of it) on the port."""
    for rule in rules:
        if rule["direction"] != "in" or (rule["protocol"].upper(), rule["port"]) != (protocol, number):
            continue
        excepted = _networks(rule.get("except_cidrs", []))
        for network in _networks(rule["peer_cidrs"]):
            if whole and source.subnet_of(network) and not any(source.overlaps(x) for x in excepted):
                return True
            if not whole and source.overlaps(network) and not any(source.subnet_of(x) for x in excepted):
                return True
    return False


def _sends(rules: list[dict[str, Any]], protocol: str, number: int, address: ipaddress.IPv4Address) -> bool:
    """Whether the output chain lets the VM send to ``address`` on the port."""
    return any(rule["direction"] == "out" and (rule["protocol"].upper(), rule["port"]) == (protocol, number)
               and any(address in network for network in _networks(rule["peer_cidrs"])) for rule in rules)


def _egress(policies: list[dict[str, Any]], protocol: str, number: int, address: ipaddress.IPv4Address) -> bool:
    """Whether the NetworkPolicies of the sender's namespace let its pods send to an address outside the cluster:
    a policy selecting the pods with an egress rule whose ports match and whose ``ipBlock`` holds the address."""
    for spec in policies:
        if "Egress" not in spec["policyTypes"]:
            continue
        assert spec["podSelector"] == {}, "an egress policy of some pods only: the oracle reads every pod alike"
        for rule in spec.get("egress", []):
            ports = rule.get("ports")
            if ports is not None and not any(
                    p.get("protocol", "TCP") == protocol
                    and (p.get("port") is None or p["port"] == number
                         or (isinstance(p["port"], int) and p["port"] <= number <= p.get("endPort", p["port"])))
                    for p in ports):
                continue
            peers = rule.get("to")
            if peers is None:
                return True
            for peer in peers:
                block = peer.get("ipBlock")
                if block and address in ipaddress.IPv4Network(block["cidr"]) and not any(
                        address in ipaddress.IPv4Network(x) for x in block.get("except", [])):
                    return True
    return False


@dataclass
class Rendered:
    register: m.Register
    #: hostname → xzgov_allowed_flows; system → its namespaces' NetworkPolicy specs at its own site
    firewalls: dict[str, list[dict[str, Any]]]
    policies: dict[str, list[dict[str, Any]]]

    def delivers(self, source: Source, host: m.Host, protocol: str, number: int) -> bool:
        """Both halves let the whole source through: its own egress and the host's input chain."""
        if source.vm is not None:
            sent = _sends(self.firewalls[source.vm.hostname], protocol, number, host.address)
        else:
            sent = _egress(self.policies[source.system], protocol, number, host.address)
        return sent and _admits(self.firewalls[host.hostname], protocol, number, source.network, whole=True)

    def lets_in(self, source: Source, host: m.Host, protocol: str, number: int) -> bool:
        """Any of the source gets through. A VM is judged by the host's input chain alone: a VM taken over
        flushes its own output chain, the receiver's firewall is what stands. Pods are held by their
        NetworkPolicies (the nodes enforce them, not the pods) before the host's input chain."""
        admitted = _admits(self.firewalls[host.hostname], protocol, number, source.network, whole=False)
        if source.vm is not None or not admitted:
            return admitted
        return _egress(self.policies[source.system], protocol, number, host.address)


def render(register: m.Register) -> Rendered:
    firewalls = {host.hostname: host_vars(register, system, host)["xzgov_allowed_flows"]
                 for system in register for host in system.hosts}
    policies: dict[str, list[dict[str, Any]]] = {}
    for site in register.region.sites:
        ctx = site_context(register, Settings(site=site))
        for name, placement in ctx.placements.items():
            if placement.replica:  # a standby copy: its pods do not run until a disaster is declared
                continue
            policies[name] = [o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
                              if o["kind"] == "NetworkPolicy"]
    return Rendered(register, firewalls, policies)


def sources(register: m.Register, system: m.System) -> Iterator[Source]:
    for vm in system.hosts:
        yield Source(system.name, f"VM {vm.hostname}", ipaddress.IPv4Network(f"{vm.address}/32"), vm)
    if system.workloads:
        zone = register.region.zones[system.zone]
        network = zone.egress(system.site) or zone.cidr(system.site)
        assert network is not None
        yield Source(system.name, f"pods at {system.site}", network, None)


def mismatches(register: m.Register) -> tuple[list[str], Counter[str]]:
    """Every path that is rendered open and undeclared, or declared (must) and rendered closed; and how many
    paths of each kind were judged."""
    rendered = render(register)
    expected = declared(register)
    ports = {(p.protocol.upper(), p.port) for s in register for h in s.hosts for p in h.ports}
    ports |= {(f.protocol.upper(), f.port) for s in register for f in s.flows}
    ports.discard(("TCP", register.region.management_ssh_port))  # the bastion's, from the management ranges
    found: list[str] = []
    judged: Counter[str] = Counter()
    for receiver in register:
        for host in receiver.hosts:
            contract = _contract(register.region, host)  # every zone's hosts reach it, by region.yaml
            for protocol, number in sorted(ports - contract):
                allowed = expected.get((host.hostname, protocol, number), {})
                for sender in register:
                    if sender.name == receiver.name:
                        continue
                    level = allowed.get(sender.name)
                    for source in sources(register, sender):
                        judged[level or "none"] += 1
                        if level == "must" and not rendered.delivers(source, host, protocol, number):
                            found.append(f"blocked: {sender.name} ({source.label}) → {host.hostname} "
                                         f"{protocol}/{number} — declared")
                        elif level is None and rendered.lets_in(source, host, protocol, number):
                            found.append(f"open: {sender.name} ({source.label}) → {host.hostname} "
                                         f"{protocol}/{number} — nothing declares it")
    return found, judged


def test_the_example_region_flows_as_declared() -> None:
    found, judged = mismatches(load_register(Path(__file__).resolve().parents[2]))
    assert found == []
    # the example's declared flows land on pods or on the security-management roles' contract ports: every host
    # path it has is one that must stay closed (35,871 source-port pairs)
    assert judged["none"] > 30_000


#: seeds 1–8, and the others that failed on the code before the review's fixes (module docstring); a second
#: reader ran seeds 1–80 on this code without a mismatch
SEEDS = (1, 2, 3, 4, 5, 6, 7, 8, 16, 19, 25, 26, 27)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_registers_flow_as_declared(seed: int, tmp_path: Path) -> None:
    found, judged = mismatches(load_register(make_register(seed, tmp_path / "register")))
    assert not found, f"seed {seed}: {len(found)} paths differ from the declarations:\n" + "\n".join(found[:40])
    assert judged["none"] > 30_000
    if seed in (19, 27):  # the seeds with most declared host paths (65 and 52 source-port pairs)
        assert judged["must"] > 40

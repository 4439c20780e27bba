"""Inbound ports: where a declared flow arrives, and which declared flows reach each listening port.

The one resolution of *flow → the port it arrives at* (stacks/render writes the NetworkPolicies from it,
``xzgov.facts.manifest`` the facts ``XZ-MAN-INBOUND-PORTS`` judges):

* a flow to a **system** arrives at the flow's port — on the system's pods when one of its workloads listens
  there, else on those of its hosts that declare the port (``spec.hosts[].ports``), else nowhere: nothing is
  allowed, and the flow is *unlanded* (a finding of the receiver, ``XZ-MAN-INBOUND-PORTS``);
* a flow to a **shared service** names the service's port and protocol as region.yaml publishes them (checked
  when the register is loaded, ``xzgov.core.register``) and arrives at the pod port behind the service (the
  provider's workload port named after the service id, like a Service's named ``targetPort``; else a workload
  port equal to the service port); a VM-served service arrives at the service port on the provider's hosts
  that declare it, also when the provider runs workloads too; a provider none of whose workloads or hosts
  serves it is *unserved*;
* a flow to a **zone** arrives at the flow's port of every other system placed in that zone.

A system's listening ports are its workloads' ``ports`` and its hosts' ``ports`` (management SSH through the
bastion is the firewall role's, opened to the security-management zone only). Each is either reached by a
declared inbound flow, by the region's security-management contract (a host's ``role``: every hardened host
sends to the log centre, asks the time source and binds to the directory — ``xzgov inventory``), or marked
``exposure: internal`` (only the system's own workloads and hosts reach it) / ``public`` (from the internet
through the cloud load balancer; a system in an internet-access zone). :func:`check_ports` reports the
declarations no resolution can honour as located errors.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from xzgov.core import model as m
from xzgov.core.errors import Diagnostic
from xzgov.core.yamlio import LocatedDocument

INTERNET_ACCESS = "internet-access"
#: The private ranges (RFC 1918): never "the internet" (:func:`not_internet` adds the region's own networks).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
#: Other special-purpose ranges no internet client comes from (RFC 6890): shared address space (RFC 6598, which
#: clusters use for pods and nodes), loopback and link-local. Counted as the internet, a cluster addressing its
#: pods in 100.64.0.0/10 let every pod reach the gateway's public entry, where the CNI applies ipBlocks to pods.
SPECIAL_RANGES = ("100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16")


def not_internet(region: m.Region) -> tuple[str, ...]:
    """The sources "the internet" (an ``exposure: public`` port, the gateway's entry: 0.0.0.0/0 except these)
    leaves out: the private and other special-purpose ranges, and every zone network the region declares outside
    them — an e-government extranet addressed in public space (59.255.0.0/16) is the region's own. Counted as the
    internet, its hosts and pods reached the gateway's public entry, which the zone graph forbids. One list for the
    cloud's NetworkPolicies and the hosts' firewalls."""
    reserved = [ipaddress.IPv4Network(network) for network in (*PRIVATE_RANGES, *SPECIAL_RANGES)]
    own = {network for zone in region.zones.values() for network in zone.cidrs.values()
           if not any(network.subnet_of(inside) for inside in reserved)}
    return (*PRIVATE_RANGES, *SPECIAL_RANGES,
            *(str(network) for network in ipaddress.collapse_addresses(sorted(own))))


#: The port each security-management role serves to every hardened host (region contract, ``xzgov inventory``);
#: the log centre's is the port of the region's log server at the host's address (6514 when none names it).
ROLE_PORTS: Mapping[str, tuple[str, int]] = {"log-centre": ("TCP", 6514), "time-source": ("UDP", 123),
                                             "directory": ("TCP", 636)}


def listening(system: m.System) -> frozenset[tuple[str, int]]:
    """``(PROTOCOL, port)`` of every port the system's workloads (pods) listen on."""
    return frozenset((p.protocol.upper(), p.port) for w in system.workloads for p in w.ports)


def listens(system: m.System, protocol: str, number: int) -> bool:
    """Whether one of the system's workloads (pods) listens on ``protocol``/``number``."""
    return (protocol.upper(), number) in listening(system)


def pods_serve(system: m.System, protocol: str, number: int) -> bool:
    """Whether ``system``'s pods serve ``protocol``/``number`` to other systems: a workload listens there and not
    every one that does marks it ``exposure: internal``. A port its pods keep to themselves is no way in for
    another system's flow — its hosts declaring the port take it (a database VM beside an internal sidecar port of
    the same number)."""
    return listens(system, protocol, number) and not internal_only(system, protocol, number)


def pods_take(receiver: m.System, protocol: str, number: int, sender_site: str) -> bool:
    """Whether a flow from a system at ``sender_site`` to ``receiver`` on ``protocol``/``number`` is taken by the
    receiver's pods: they serve it (:func:`pods_serve`) and run in the sender's own cluster. From another site the
    flow reaches the receiver's hosts declaring the port when there are any (else the pods, through their site's
    cross-site entry: :func:`pods_entry`) — one rule for the port exposure (:func:`port_reach`), the host firewalls
    (``xzgov.core.inventory``) and the NetworkPolicies (``stacks.render.network.destination_rules``, which asks
    whether the pods run at the rendered site, a declared disaster included)."""
    return receiver.site == sender_site and pods_serve(receiver, protocol, number)


def pods_entry(region: m.Region, system: m.System) -> ipaddress.IPv4Network | None:
    """Where a caller outside the cluster (a host, or pods at another site) reaches ``system``'s pods: its zone's
    cross-site entry range at its site (region.yaml ``entry_cidrs``; the site-entry Services, docs/stacks.md).
    A region that declares none: the zone's whole network there, for the host firewalls only — the
    NetworkPolicies never open a remote zone's whole network (``stacks.render.network.site_entry_peers``)."""
    zone = region.zones[system.zone]
    return zone.entry(system.site) or zone.cidr(system.site)


def pods_egress(region: m.Region, system: m.System, site: str | None = None) -> ipaddress.IPv4Network | None:
    """The source addresses of ``system``'s pods outside their cluster: its zone's egress range at its site (or at
    ``site``, where a declared disaster runs them) (region.yaml ``egress_cidrs``); a region that declares none: the
    zone's whole network there (see :func:`pods_entry`)."""
    zone = region.zones[system.zone]
    where = site or system.site
    return zone.egress(where) or zone.cidr(where)


def cross_site_gaps(register: m.Register, sender: m.System) -> list[tuple[int, str, str]]:
    """``(flow index, what is missing, the fix)`` for each declared flow of ``sender``'s pods that reaches a
    receiver's pods at another site (no host of the receiver declares the port) while region.yaml declares
    no cross-site entry range of the receiver's zone there, or no egress range of the sender's zone at its
    site: nothing could carry it (the NetworkPolicies never open a remote zone's whole network)."""
    gaps: list[tuple[int, str, str]] = []
    if not sender.workloads:
        return gaps  # a VM's firewall falls back to the zone's network (pods_entry)
    region = register.region
    for index, flow in enumerate(sender.flows):
        if flow.to.kind == "zone":
            continue
        target = arrival(register, flow)
        receiver = target.system
        if (receiver is None or receiver.site == sender.site or target.unserved
                or not pods_serve(receiver, flow.protocol, target.port)
                or serving_hosts(receiver, flow.protocol, target.port) or not zone_permits(register, sender, flow)):
            continue
        missing = []
        if region.zones[receiver.zone].entry(receiver.site) is None:
            missing.append(f"zones[{receiver.zone}].entry_cidrs.{receiver.site}")
        if region.zones[sender.zone].egress(sender.site) is None:
            missing.append(f"zones[{sender.zone}].egress_cidrs.{sender.site}")
        if missing:
            gaps.append((index, f"the flow reaches {receiver.name}'s pods at site '{receiver.site}' from site "
                                f"'{sender.site}', but region.yaml declares no {' and no '.join(missing)}: no "
                                "network policy can carry it",
                         f"declare {', '.join(missing)} in region.yaml (a range inside the zone's network at that "
                         "site: the load balancer's cross-site entry / the pods' egress addresses, docs/stacks.md)"))
    return gaps


def serving_hosts(system: m.System, protocol: str, number: int) -> list[m.Host]:
    """The system's hosts that serve ``protocol``/``number`` to other systems: that declare the port
    (``spec.hosts[].ports``) without marking it ``exposure: internal`` (the system's own only: its firewall
    admits no other system there), in declaration order."""
    key = (protocol.upper(), number)
    return [host for host in system.hosts
            if any((p.protocol.upper(), p.port) == key and p.exposure != "internal" for p in host.ports)]


def internal_host_port(system: m.System, protocol: str, number: int) -> bool:
    """Whether a host of ``system`` declares ``protocol``/``number`` marked ``exposure: internal``."""
    key = (protocol.upper(), number)
    return any((p.protocol.upper(), p.port) == key and p.exposure == "internal" for h in system.hosts for p in h.ports)


def service_target_port(provider: m.System, service: m.SharedService) -> int | None:
    """The pod port behind a shared service's (Service) port: the provider's workload port named after the
    service id (like a Service's named ``targetPort``), else a workload port equal to the service port that the
    pods serve (:func:`pods_serve`); ``None`` when no workload serves it (a VM-served service: the service port on
    its hosts) — also when the named port is ``exposure: internal``: the Service reaches the named pods only, never
    another workload listening on the same number (an admin console beside the API).

    NetworkPolicy ports are pod ports, evaluated after the Service has translated the port."""
    named = [p for workload in provider.workloads for p in workload.ports
             if p.name == service.id and p.protocol.upper() == service.protocol.upper()]
    if named:  # the Service selects these pods only: kept to the provider (internal), the pods serve no one
        served = [p.port for p in named if p.exposure != "internal"]
        return served[0] if served else None
    return service.port if pods_serve(provider, service.protocol, service.port) else None


@dataclass(frozen=True)
class Arrival:
    """Where a flow to a system or shared service arrives: the receiving system, the shared service it goes
    through, and the port the connection reaches (a pod port, or a host port)."""

    system: m.System | None
    service: m.SharedService | None
    port: int
    #: a shared service whose provider runs workloads, none of which serves it, and no host that declares its
    #: port: nothing can be allowed
    unserved: bool = False


def arrival(register: m.Register, flow: m.Flow) -> Arrival:
    """The arrival of a flow to a system or a shared service (zone flows: :func:`inbound`)."""
    target = m.resolve_flow_target(register, flow.to)
    if target.system is None or target.service is None:
        return Arrival(target.system, target.service, flow.port)
    resolved = service_target_port(target.system, target.service)
    if resolved is None:  # served from the provider's hosts, on the service's port (never the flow's own)
        service = target.service
        # unserved: nothing of the provider serves it — workloads none of which does, and no host declaring the
        # service's port (a provider running both serves it from its hosts: the VM takes the flow)
        unserved = bool(target.system.workloads) and not serving_hosts(target.system, service.protocol, service.port)
        return Arrival(target.system, service, service.port, unserved=unserved)
    return Arrival(target.system, target.service, resolved)


@dataclass(frozen=True)
class Inbound:
    """A declared flow into a system: who sends it, the flow, how it comes (``""`` directly, a shared-service
    id, or ``"zone"``) and the port it arrives at."""

    source: m.System
    flow: m.Flow
    via: str
    port: int

    @property
    def protocol(self) -> str:
        return self.flow.protocol.upper()

    def describe(self) -> str:
        via = self.via  # (a branch, not a table of every case: only the one that applies is formatted)
        how = "" if not via else f" (to zone {self.flow.to.name})" if via == "zone" else f" (shared service {via})"
        return f"{self.source.name}{how}: {self.flow.purpose}"


_Key = tuple[str, int]  # (PROTOCOL, port)


@dataclass(frozen=True)
class _Index:
    direct: Mapping[str, tuple[Inbound, ...]]
    zone: Mapping[str, tuple[tuple[m.System, m.Flow], ...]]
    #: per zone and sender's site, the flows to it by the (protocol, port) they arrive at: a system looks up only
    #: the ports it listens on (a zone receives thousands of flows in a large region; scanning them per port was
    #: quadratic) — as (sender's name, description) pairs, described once. A zone flow goes to the zone's tenancies
    #: and network at the sender's site (stacks.render.tenant): it reaches the zone's systems placed there only
    zone_by_port: Mapping[tuple[str, str], Mapping[_Key, tuple[tuple[str, str], ...]]]
    #: per zone, site and (protocol, port), filled as systems ask: the senders, and every description once (in order)
    #: — what a listener that sends none of those flows is reached by (thousands of strings, built once: per
    #: listening system it made the scan quadratic in the register)
    zone_reached: dict[tuple[str, str], dict[_Key, tuple[frozenset[str], tuple[str, ...]]]] = \
        field(default_factory=dict)
    #: per zone and (protocol, port), the addresses of the hosts there that keep the port to their own system
    #: (``exposure: internal``)
    internal_hosts: Mapping[str, Mapping[_Key, tuple[str, ...]]] = field(default_factory=dict)
    #: per zone and (protocol, port), the addresses of the hosts there that serve it to other systems
    served_hosts: Mapping[str, Mapping[_Key, tuple[str, ...]]] = field(default_factory=dict)
    #: per zone, the (protocol, port)s some system's pods there serve (:func:`pods_serve`)
    pods_served: Mapping[str, frozenset[_Key]] = field(default_factory=dict)


#: The index of the last register asked about (the register itself is kept so its id stays unique).
_INDEX: list[tuple[m.Register, _Index]] = []


def _index(register: m.Register) -> _Index:
    if _INDEX and _INDEX[0][0] is register:
        return _INDEX[0][1]
    direct: dict[str, list[Inbound]] = {}
    zone: dict[str, list[tuple[m.System, m.Flow]]] = {}
    for source in register:
        for flow in source.flows:
            if flow.to.kind == "zone":
                zone.setdefault(flow.to.name, []).append((source, flow))
                continue
            arrived = arrival(register, flow)
            if arrived.system is not None and arrived.system.name != source.name:
                via = arrived.service.id if arrived.service is not None else ""
                port = flow.port if arrived.unserved else arrived.port
                direct.setdefault(arrived.system.name, []).append(Inbound(source, flow, via, port))
    by_port: dict[tuple[str, str], dict[_Key, list[tuple[str, str]]]] = {}
    for name, flows in zone.items():
        target = register.region.zones.get(name)
        contract = target is not None and target.kind == "security-management"
        for source, flow in flows:
            described = Inbound(source, flow, "zone", flow.port).describe()
            key = (flow.protocol.upper(), flow.port)
            # NTP to the security-management zone asks the region's time sources wherever they are (the contract,
            # stacks.render.tenant): from every site; any other zone flow, the zone at the sender's site
            sites = register.region.sites if contract and key == ROLE_PORTS["time-source"] else (source.site,)
            for site in sites:
                by_port.setdefault((name, site), {}).setdefault(key, []).append((source.name, described))
    internal: dict[str, dict[_Key, list[str]]] = {}
    serving: dict[str, dict[_Key, list[str]]] = {}
    served: dict[str, set[_Key]] = {}
    for system in register:
        served.setdefault(system.zone, set()).update(key for key in listening(system) if pods_serve(system, *key))
        for host in system.hosts:
            for p in host.ports:
                kept = internal if p.exposure == "internal" else serving
                kept.setdefault(system.zone, {}).setdefault((p.protocol.upper(), p.port), []).append(
                    str(host.address))
    built = _Index({k: tuple(v) for k, v in direct.items()}, {k: tuple(v) for k, v in zone.items()},
                   {k: {key: tuple(v) for key, v in ports.items()} for k, ports in by_port.items()},
                   internal_hosts={k: {key: tuple(sorted(set(v), key=ipaddress.IPv4Address))
                                       for key, v in ports.items()} for k, ports in internal.items()},
                   served_hosts={k: {key: tuple(sorted(set(v), key=ipaddress.IPv4Address))
                                     for key, v in ports.items()} for k, ports in serving.items()},
                   pods_served={k: frozenset(v) for k, v in served.items()})
    _INDEX[:] = [(register, built)]
    return built


def zone_permits(register: m.Register, source: m.System, flow: m.Flow) -> bool:
    """Whether the region's zone graph lets ``flow`` of ``source`` cross into the zone it lands in (GB/T 22239
    8.1.3.1.a: traffic crosses a zone boundary only where region.yaml declares the path): within its own zone,
    into a zone whose ``reachable_from`` names the sender's zone, or into the security-management zone for the
    region contract only (syslog to a log server's port over TCP, NTP over UDP). A flow to nowhere known: no.

    One rule for the scan (XZ-MAN-DECLARED-FLOWS), the NetworkPolicies (``stacks/render``) and the host
    firewalls (``xzgov inventory``): a flow the graph forbids is reported and never allowed."""
    region = register.region
    target_zone = m.resolve_flow_target(register, flow.to).zone
    if target_zone is None or target_zone == source.zone:
        return target_zone is not None
    zone = region.zones.get(target_zone)
    if zone is None:
        return False
    if source.zone in zone.reachable_from:
        return True
    if zone.kind == "security-management":
        log_ports = {server.port for server in region.log_servers.values()}
        return (flow.protocol == "tcp" and flow.port in log_ports) or (flow.protocol == "udp" and flow.port == 123)
    return False


def internal_only(system: m.System, protocol: str, number: int) -> bool:
    """Whether every workload of ``system`` listening on ``protocol``/``number`` marks the port ``exposure:
    internal`` (reached by the system itself only: no other system's flow is allowed there)."""
    exposures = [p.exposure for w in system.workloads for p in w.ports
                 if (p.protocol.upper(), p.port) == (protocol.upper(), number)]
    return bool(exposures) and all(exposure == "internal" for exposure in exposures)


def landing_gap(receiver: m.System, protocol: str, number: int) -> str | None:
    """Why another system's flow to ``receiver`` on ``protocol``/``number`` lands nowhere (``None``: it lands): the
    stacks open nothing for it and the hosts' firewalls admit nothing, so the sender's declared traffic would not
    flow. A port its workloads listen on (not all of them marking it internal) or one of its hosts serves lands."""
    key = f"{number}/{protocol.upper()}"
    pods = listens(receiver, protocol, number)
    if (pods and not internal_only(receiver, protocol, number)) or serving_hosts(receiver, protocol, number):
        return None
    if pods or internal_host_port(receiver, protocol, number):
        return f"'{receiver.name}' declares {key} exposure: internal (its own workloads and hosts only)"
    declared = sorted({f"{p.port}/{p.protocol.upper()}" for w in receiver.workloads for p in w.ports
                       if p.exposure != "internal"}
                      | {f"{p.port}/{p.protocol.upper()}" for h in receiver.hosts for p in h.ports
                         if p.exposure != "internal"})
    return (f"no workload or host of '{receiver.name}' declares {key} (it serves "
            f"{', '.join(declared) if declared else 'no port to other systems'})")


def inbound(register: m.Register, system: m.System) -> tuple[Inbound, ...]:
    """Every declared flow into ``system`` from another system: directly or through a shared service it
    provides (in register order), then to its zone (in register order)."""
    index = _index(register)
    zone = tuple(Inbound(source, flow, "zone", flow.port) for source, flow in index.zone.get(system.zone, ())
                 if source.name != system.name)
    return index.direct.get(system.name, ()) + zone


def internal_hosts_in(register: m.Register, zone: str, protocol: str, number: int) -> tuple[str, ...]:
    """The addresses of the hosts placed in ``zone`` that declare ``protocol``/``number`` ``exposure: internal``:
    what a flow to the zone must not reach. Their firewalls admit their own system's pods by the zone's egress
    range, which every system's pods in the zone share, so the sender's side leaves them out (``stacks.render``)."""
    return _index(register).internal_hosts.get(zone, {}).get((protocol.upper(), number), ())


def hosts_serving_in(register: m.Register, zone: str, protocol: str, number: int) -> tuple[str, ...]:
    """The addresses of the hosts placed in ``zone`` that serve ``protocol``/``number`` to other systems (declare it,
    not ``internal``)."""
    return _index(register).served_hosts.get(zone, {}).get((protocol.upper(), number), ())


def zone_pods_serve(register: m.Register, zone: str, protocol: str, number: int) -> bool:
    """Whether the pods of some system placed in ``zone`` serve ``protocol``/``number`` (:func:`pods_serve`)."""
    return (protocol.upper(), number) in _index(register).pods_served.get(zone, frozenset())


def zone_flows(register: m.Register, zone: str) -> tuple[tuple[m.System, m.Flow], ...]:
    """``(source, flow)`` of every declared flow to ``zone`` (log shipping, NTP …), in register order."""
    return _index(register).zone.get(zone, ())


# --------------------------------------------------------------------------------------- port exposure


@dataclass(frozen=True)
class PortReach:
    """One listening port of a system and what reaches it."""

    kind: Literal["workload", "host"]
    owner: str  #: the workload's name or the host's hostname
    owner_index: int  #: its index in ``spec.workloads`` / ``spec.hosts``
    port_index: int  #: the port's index in the owner's ``ports``
    port: m.Port
    #: the declared flows (and region contracts) that reach it, described
    reached_by: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.owner} {self.port.port}/{self.port.protocol.upper()}"


def role_ports(register: m.Register, host: m.Host) -> frozenset[tuple[str, int]]:
    """``(PROTOCOL, port)``s the host serves as a security-management role (region contract): a log centre's, the
    port of every log server region.yaml names at its address (6514 when none does); none for another host."""
    if host.role is None:
        return frozenset()
    if host.role == "log-centre":
        named = {("TCP", s.port) for s in register.region.log_servers.values() if s.host == str(host.address)}
        return frozenset(named or {ROLE_PORTS["log-centre"]})
    known = ROLE_PORTS.get(host.role)
    return frozenset({known}) if known else frozenset()


def _reaching(register: m.Register, system: m.System) -> Callable[[str, int], tuple[str, ...]]:
    """``(protocol, port) → descriptions of the inbound flows arriving there``, each once — the same flows, in
    the same order, as filtering :func:`inbound` by port, looked up through the index."""
    index = _index(register)
    direct: dict[_Key, list[str]] = {}
    for i in index.direct.get(system.name, ()):
        direct.setdefault((i.protocol, i.port), []).append(i.describe())
    zone = index.zone_by_port.get((system.zone, system.site), {})
    shared = index.zone_reached.setdefault((system.zone, system.site), {})

    def at(protocol: str, number: int) -> tuple[str, ...]:
        key = (protocol, number)
        arriving = zone.get(key, ())
        own = direct.get(key)
        if own is None and arriving:  # only flows to the zone: the same for every listener but their senders
            found = shared.get(key)
            if found is None:
                found = shared[key] = (frozenset(sender for sender, _ in arriving),
                                       tuple(dict.fromkeys(text for _, text in arriving)))
            senders, described = found
            if system.name not in senders:
                return described
        return tuple(dict.fromkeys((own or []) + [text for sender, text in arriving if sender != system.name]))
    return at


def port_reach(register: m.Register, system: m.System) -> list[PortReach]:
    """Every listening port of ``system`` (workloads, then hosts, in declaration order) with what reaches it,
    sorted (then the region contract): the same whatever order the manifests were loaded in — an onboarded draft
    is loaded after the registered files, and its inventory was then stale for a plain load.

    A flow arriving at a port a workload listens on reaches the pods, not the hosts — unless it comes from a
    system placed at another site: then it reaches the hosts declaring the port, when there are any (the
    NetworkPolicy and the host firewall agree: ``stacks.render.network.destination_rules``)."""
    reaching = _reaching(register, system)
    result: list[PortReach] = []
    pods_serve_here = functools.cache(functools.partial(pods_serve, system))  # each call walks every workload port

    for w_index, workload in enumerate(system.workloads):
        for p_index, p in enumerate(workload.ports):
            protocol = p.protocol.upper()
            # a number the pods keep to themselves while a host serves it: the flows there go to the host
            to_hosts = not pods_serve_here(protocol, p.port) and serving_hosts(system, protocol, p.port)
            by = () if to_hosts else tuple(sorted(reaching(protocol, p.port)))
            result.append(PortReach("workload", workload.name, w_index, p_index, p, by))
    for h_index, host in enumerate(system.hosts):
        contract = role_ports(register, host)
        for p_index, p in enumerate(host.ports):
            protocol = p.protocol.upper()
            by = tuple(sorted(_taken_from_other_sites(register, system, protocol, p.port)
                              if pods_serve_here(protocol, p.port) else reaching(protocol, p.port)))
            if (protocol, p.port) in contract:
                by += (f"region contract: every hardened host uses the {host.role} (xzgov inventory)",)
            result.append(PortReach("host", host.hostname, h_index, p_index, p, by))
    return result


def _taken_from_other_sites(register: m.Register, system: m.System, protocol: str, number: int) -> tuple[str, ...]:
    """The direct and shared-service flows on a port ``system``'s pods listen on that its hosts declaring the port
    take (:func:`pods_take`: from systems placed at another site)."""
    return tuple(dict.fromkeys(i.describe() for i in _index(register).direct.get(system.name, ())
                               if (i.protocol, i.port) == (protocol.upper(), number)
                               and not pods_take(system, protocol, number, i.source.site)))


def unlanded(register: m.Register, system: m.System) -> list[Inbound]:
    """Declared inbound flows that arrive at no listening port ``system`` declares (neither a workload's nor,
    when it has hosts, a host's). Flows to a zone only count where the system listens (it is one of many)."""
    declared = listening(system) | {(p.protocol.upper(), p.port) for h in system.hosts for p in h.ports}
    return [i for i in _index(register).direct.get(system.name, ()) if (i.protocol, i.port) not in declared]


# ------------------------------------------------------------------------------------------- validation


def check_ports(region: m.Region, doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """Located errors in a manifest's port declarations: a port listed twice on one workload or host, and
    ``exposure: public`` outside an internet-access zone (only the internet gateway's load balancer reaches
    a port from the internet)."""
    spec = doc.data["spec"]
    zone = region.zones.get(spec["placement"]["zone"])
    in_access = zone is not None and zone.kind == INTERNET_ACCESS
    for kind, key in (("workload", "name"), ("host", "hostname")):
        for index, owner in enumerate(spec.get(f"{kind}s", [])):
            _check_owner(doc, ("spec", f"{kind}s", index), f"{kind} '{owner[key]}'", owner.get("ports") or (),
                         in_access, zone.id if zone is not None else spec["placement"]["zone"], sink,
                         ssh=("TCP", region.management_ssh_port) if kind == "host" else None)
    _check_service_port_names(region, doc, sink)


def _check_service_port_names(region: m.Region, doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """A shared service this system provides is served on one pod port: its workloads' ports named after the service
    (the Service's named ``targetPort``, :func:`service_target_port`) on two numbers — a v2 workload beside the
    first — were all reached by the Service while the NetworkPolicies admitted the first number only."""
    name = doc.data.get("metadata", {}).get("name")
    provided = {service.id: service.protocol.upper() for service in region.shared_services.values()
                if service.provider == name}
    # service id -> (number, protocol, internal, workload) of its first port
    first: dict[str, tuple[int, str, bool, str]] = {}
    for index, workload in enumerate(doc.data["spec"].get("workloads", [])):
        for position, entry in enumerate(workload.get("ports") or ()):
            port_name = entry.get("name")
            number, protocol = int(str(entry["port"])), str(entry.get("protocol", "TCP")).upper()
            if port_name not in provided or provided[port_name] != protocol:
                continue  # (the same name on the other protocol is another port of the pods, not the service's)
            internal = entry.get("exposure") == "internal"
            known = first.setdefault(str(port_name), (number, protocol, internal, str(workload["name"])))
            if known[:3] != (number, protocol, internal):
                # an internal one too: the Service reaches its pods, the policies admit none of them
                this = f"{number}/{protocol}{' internal' if internal else ''}"
                that = f"{known[0]}/{known[1]}{' internal' if known[2] else ''}"
                sink.append(doc.diagnostic(
                    ("spec", "workloads", index, "ports", position, "exposure" if known[:2] == (number, protocol)
                     else "port"),
                    f"共享服务端口名不唯一 / the port named '{port_name}' (shared service {port_name}) is {this} on "
                    f"workload '{workload['name']}' and {that} on '{known[3]}': the Service reaches both, the "
                    "network policies admit one of them",
                    f"serve the service alike in every workload ({that}: a new version on the same port), or "
                    "name this port otherwise", code="reference"))


def _check_owner(doc: LocatedDocument, path: tuple[str | int, ...], label: str, ports: Sequence[Mapping[str, object]],
                 in_access: bool, zone: str, sink: list[Diagnostic], *, ssh: tuple[str, int] | None = None) -> None:
    """``ssh``: a host's management SSH port (region.yaml ``spec.operators.ssh_port``, 22), which it may not
    declare."""
    seen: dict[tuple[str, int], int] = {}
    for index, entry in enumerate(ports):
        where = (*path, "ports", index)
        number = int(str(entry["port"]))
        protocol = str(entry.get("protocol", "TCP")).upper()
        if (protocol, number) == ssh:
            # a declared flow there would open management SSH to whoever sends it, past the bastion
            sink.append(doc.diagnostic((*where, "port"), f"管理 SSH 端口不能声明为服务端口 / {label} declares "
                                       f"{number}/{protocol}, the management SSH port: the firewall role opens it to "
                                       "the security-management zone (bastion) only, and a declared flow would open "
                                       "it to the sending system",
                                       "删除该端口; 运维经堡垒机访问 / remove the port: administrators reach the host "
                                       "through the bastion in the security-management zone", code="reference"))
        first = seen.get((protocol, number))
        if first is not None:
            sink.append(doc.diagnostic((*where, "port"), f"端口重复 / {label} lists {number}/{protocol} twice "
                                       f"(ports[{first}] and ports[{index}])", "每个监听端口只列一次 / list each "
                                       "listening port once", code="duplicate"))
        seen.setdefault((protocol, number), index)
        if entry.get("exposure") == "public" and not in_access:
            sink.append(doc.diagnostic((*where, "exposure"), f"非互联网接入区不能标记 public / {label} port "
                                       f"{number}/{protocol} is marked public, but zone '{zone}' is not an "
                                       "internet-access zone: nothing there is reached from the internet",
                                       "改为 exposure: internal, 或经统一互联网接入平台发布 (由其 WAF/反向代理声明到达"
                                       "该端口的 flow) / use exposure: internal, or publish the system through the "
                                       "internet gateway (a declared flow from its WAF / reverse proxy)",
                                       code="reference"))

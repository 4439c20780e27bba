"""Traffic flows as declared, on the host firewalls as on the NetworkPolicies (a review of random registers).

Each case is one a random register produced: a declared flow blocked at the receiving host, or a path opened that
no declaration asks for. The oracle is the declarations (the flow, the receiver's ports and their exposure, the
zone graph), checked on both halves of the path: the sender's egress (NetworkPolicy) and the receiver's firewall
(``xzgov.core.inventory.allowed_flows`` / ``internal_flows``, what ``roles/firewall`` applies).
"""

from __future__ import annotations

import ipaddress
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from stacks.render.context import site_context
from stacks.render.tenant import render_tenant
from stacks.settings import Settings
from tests.stacks import builders
from xzgov.core import model as m
from xzgov.core.inventory import allowed_flows, host_flows
from xzgov.core.ports import port_reach
from xzgov.core.register import check_register, load_register

REPO = Path(__file__).resolve().parents[2]


def _policies(register: m.Register, name: str) -> dict[str, dict[str, Any]]:
    ctx = site_context(register, Settings(site="lhasa"))
    placement = ctx.placements[name]
    return {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
            if o["kind"] == "NetworkPolicy"}


def _admitted(register: m.Register, system: str, hostname: str, port: int) -> list[str]:
    """The sources the firewall of ``hostname`` admits on ``port`` (every in-rule of the host but the one from the
    internet of a public port: ``except_cidrs``)."""
    owner = register.systems[system]
    host = next(h for h in owner.hosts if h.hostname == hostname)
    rules = host_flows(register, owner, host)
    return sorted(cidr for rule in rules if rule["direction"] == "in" and rule["port"] == port
                  and not rule.get("except_cidrs") for cidr in rule["peer_cidrs"])


def _port(number: int, exposure: str | None = None, name: str | None = None) -> m.Port:
    return m.Port(number, "TCP", name, exposure)  # type: ignore[arg-type]


def _host(hostname: str, address: str, *ports: m.Port) -> m.Host:
    return replace(builders.host(hostname, address), ports=ports)


def test_a_flow_to_a_zone_is_let_in_by_the_hosts_serving_its_port() -> None:
    """The sender's pods may reach the big-data zone's network on 9000; the host serving 9000 there dropped them."""
    sink = builders.system("zone-sink", department="dsjj", zone="big-data", workloads=[],
                           hosts=[_host("zsink-h1", "10.68.120.10", _port(9000))])
    source = builders.system("zone-src", flows=[builders.flow("zone", "big-data", 9000)])
    register = builders.register(sink, source)
    assert _admitted(register, "zone-sink", "zsink-h1", 9000) == ["10.67.0.0/16"]  # zone-src's pods' egress
    reach = {r.owner: r.reached_by for r in port_reach(register, sink)}
    assert reach["zsink-h1"] and "zone-src" in reach["zsink-h1"][0]


def test_a_flow_to_a_zone_never_reaches_another_systems_internal_host_port() -> None:
    """Every system's pods in a zone leave the cluster from one range, which a database host admits for its own
    system's pods on its internal port: a zone flow on that port reached the database. The sender's egress now
    leaves such hosts out."""
    owner = builders.system("records", hosts=[_host("records-db01", "10.67.9.11", _port(5432, "internal"))])
    scanner = builders.system("zone-scanner", flows=[builders.flow("zone", "department", 5432)])
    register = builders.register(owner, scanner)
    assert "10.67.0.0/16" in _admitted(register, "records", "records-db01", 5432)  # its own pods (shared range)
    egress = _policies(register, "zone-scanner")["egress-zone-department-tcp-5432"]["egress"][0]["to"]
    blocks = [peer["ipBlock"] for peer in egress if "ipBlock" in peer]
    assert blocks == [{"cidr": "10.67.0.0/16", "except": ["10.67.9.11/32"]}]
    # the owner's own pods still reach it (their own rule, no declaration needed)
    own = _policies(register, "records")
    assert any(rule["to"] == [{"ipBlock": {"cidr": "10.67.9.11/32"}}] for spec in own.values()
               for rule in spec.get("egress", []))


def test_ntp_to_the_zone_reaches_a_relay_pod_there() -> None:
    """The plan's own check reported every NTP flow blocked once a system of the security-management zone ran an
    NTP relay on pods: the egress named the time sources only."""
    relay = builders.system("ntp-relay", department="dsjj", zone="security-management",
                            workloads=[replace(builders.workload("chrony"), ports=(m.Port(123, "UDP"),))])
    caller = builders.system("caller", flows=[builders.flow("zone", "security-management", 123, "udp")])
    register = builders.register(relay, caller)
    to = _policies(register, "caller")["egress-zone-security-management-udp-123"]["egress"][0]["to"]
    assert {"ipBlock": {"cidr": "10.69.0.123/32"}} in to
    assert any("namespaceSelector" in peer for peer in to)
    # without a relay on pods, the time sources only (as before)
    plain = builders.register(caller)
    to = _policies(plain, "caller")["egress-zone-security-management-udp-123"]["egress"][0]["to"]
    assert to == [{"ipBlock": {"cidr": "10.69.0.123/32"}}]


def test_a_host_port_the_pods_keep_internal_is_served_by_the_host() -> None:
    """The pods list 5432 internal, the host serves 5432: validation said the flow lands (on the host), while the
    sender's egress went to the pods and the host admitted nothing — blocked everywhere."""
    owner = builders.system("db-owner", workloads=[builders.workload("app", ports=())],
                            hosts=[_host("dbown-h1", "10.67.123.10", _port(5432))])
    owner = replace(owner, workloads=(replace(owner.workloads[0], ports=(_port(5432, "internal"),)),))
    client = builders.system("db-client", flows=[builders.flow("system", "db-owner", 5432)])
    register = builders.register(owner, client)
    assert _admitted(register, "db-owner", "dbown-h1", 5432) == ["10.67.0.0/16"]
    egress = _policies(register, "db-client")["egress-system-db-owner-tcp-5432"]["egress"]
    assert [rule["to"] for rule in egress] == [[{"ipBlock": {"cidr": "10.67.123.10/32"}}]]
    host_reach = [r for r in port_reach(register, owner) if r.kind == "host"]
    assert host_reach[0].reached_by and "db-client" in host_reach[0].reached_by[0]


def test_a_shared_services_internal_named_port_admits_no_other_workload() -> None:
    """The identity port (named after the service) is internal; an admin console listens on the same number: the
    service's consumers were admitted to the console."""
    provider = builders.system("identity-platform", department="dsjj", zone="shared-services", workloads=[
        replace(builders.workload("auth"), ports=(_port(8443, "internal", "identity"),)),
        replace(builders.workload("console"), ports=(_port(8443, None, "admin-console"),))])
    consumer = builders.system("consumer", flows=[builders.flow("service", "identity", 443)])
    register = builders.register(provider, consumer)
    ingress = [name for name in _policies(register, "identity-platform") if name.startswith("ingress-service")]
    assert ingress == []
    assert "egress-service-identity-tcp-443" not in _policies(register, "consumer")


def test_an_internet_facing_hosts_443_is_not_opened_to_the_whole_internet_access_zone() -> None:
    """Nothing declared, and department is not reachable from the internet-access zone: its 443 took that zone."""
    web = builders.system("dept-web", internet_facing=True, workloads=[],
                          hosts=[_host("dweb-h1", "10.67.121.10", _port(443))])
    assert _admitted(builders.register(web), "dept-web", "dweb-h1", 443) == []
    # in a zone the internet-access zone may reach, still only the declared flows (the gateway's), not the zone
    portal = builders.system("portal", zone="public-service", internet_facing=True, workloads=[],
                             hosts=[_host("portal-h1", "10.65.121.10", _port(443))])
    gateway = builders.system("internet-gateway", department="dsjj", zone="internet-access",
                              flows=[builders.flow("system", "portal", 443)])
    assert _admitted(builders.register(portal, gateway), "portal", "portal-h1", 443) == ["10.64.0.0/16"]
    assert _admitted(builders.register(portal), "portal", "portal-h1", 443) == []


def test_a_declared_flow_to_a_public_host_port_is_let_in() -> None:
    """A system of the internet-access zone calling the gateway's public 443 from its pods: the public rule
    leaves out the private ranges, and the declared flow had no rule of its own."""
    gateway = builders.system("internet-gateway", department="dsjj", zone="internet-access", workloads=[],
                              hosts=[_host("lb01", "10.64.1.11", _port(443, "public"))])
    probe = builders.system("probe", department="dsjj", zone="internet-access",
                            flows=[builders.flow("system", "internet-gateway", 443)])
    admitted = _admitted(builders.register(gateway, probe), "internet-gateway", "lb01", 443)
    assert admitted == ["10.64.0.0/16"]  # (its rule from the internet is public_flows', beside these)


def test_a_host_may_not_declare_the_management_ssh_port(tmp_path: Path) -> None:
    """A host declaring 22 and a flow to it opened management SSH to the sending system, past the bastion."""
    root = tmp_path / "region"
    shutil.copytree(REPO / "tests" / "register" / "fixtures" / "region", root)
    path = root / "systems" / "gat" / "case-app.yaml"
    text = path.read_text(encoding="utf-8")
    old = "purpose: 应用, data: none}"
    assert old in text
    path.write_text(text.replace(old, "purpose: 应用, data: none, ports: [{port: 22}]}"), encoding="utf-8")
    loaded = check_register(root)
    assert not loaded.ok
    [diagnostic] = [d for d in loaded.diagnostics if "SSH" in d.message]
    assert diagnostic.path == "spec.hosts[0].ports[0].port" and diagnostic.line > 0
    assert "bastion" in diagnostic.hint
    # the same host serving 2222 (not the management port) is accepted
    path.write_text(text.replace(old, "purpose: 应用, data: none, ports: [{port: 2222, exposure: internal}]}"),
                    encoding="utf-8")
    assert check_register(root).ok, [d.render() for d in check_register(root).diagnostics]


def test_addresses_stay_in_their_zone() -> None:
    """(the except list names hosts inside the zone's network only: a NetworkPolicy refuses an except outside it)"""
    owner = builders.system("records", hosts=[_host("records-db01", "10.67.9.11", _port(5432, "internal"))])
    scanner = builders.system("zone-scanner", flows=[builders.flow("zone", "department", 5432)])
    egress = _policies(builders.register(owner, scanner), "zone-scanner")["egress-zone-department-tcp-5432"]
    for peer in egress["egress"][0]["to"]:
        if "ipBlock" in peer:
            network = ipaddress.IPv4Network(peer["ipBlock"]["cidr"])
            assert all(ipaddress.IPv4Network(e).subnet_of(network) for e in peer["ipBlock"].get("except", []))


# ------------------------------------------------------------------ second reading of the fixes above


def _in_rules(register: m.Register, system: str, hostname: str, port: int) -> list[dict[str, Any]]:
    owner = register.systems[system]
    host = next(h for h in owner.hosts if h.hostname == hostname)
    return [rule for rule in allowed_flows(register, owner, host) if rule["direction"] == "in" and rule["port"] == port]


def test_a_sender_reaching_a_host_port_twice_gets_one_rule() -> None:
    """A direct flow and a zone flow from one sender to one host port: two identical rules."""
    sink = builders.system("zone-sink", department="dsjj", zone="big-data", workloads=[],
                           hosts=[_host("zsink-h1", "10.68.120.10", _port(9000))])
    caller = builders.system("caller", zone="big-data", flows=[builders.flow("system", "zone-sink", 9000),
                                                               builders.flow("zone", "big-data", 9000)])
    assert len(_in_rules(builders.register(sink, caller), "zone-sink", "zsink-h1", 9000)) == 1


def test_flows_to_a_zone_make_one_rule_per_port_not_one_per_sender() -> None:
    """A host serving a port every system's flow to the zone arrives at got one rule per sending system."""
    sink = builders.system("siem", department="dsjj", zone="security-management", workloads=[],
                           hosts=[_host("siem-h1", "10.69.5.5", _port(6514))])
    senders = [builders.system(f"app{n}", zone=zone, flows=[builders.flow("zone", "security-management", 6514)])
               for n, zone in enumerate(["department", "department", "big-data", "public-service"] * 5)]
    rules = _in_rules(builders.register(sink, *senders), "siem", "siem-h1", 6514)
    assert len(rules) == 1
    # their pods leave from their zones' egress ranges (this region declares none: the zone networks)
    assert rules[0]["peer_cidrs"] == ["10.65.0.0/16", "10.67.0.0/16", "10.68.0.0/16"]
    assert "20" in rules[0]["purpose"]


def test_a_log_centre_serving_two_log_servers_takes_both_by_the_contract() -> None:
    """The second log server's port at the same address was taken for an ordinary port: a rule per sender."""
    region = builders.region()
    region = replace(region, log_servers={**region.log_servers,
                                          "log-b": m.LogServer("log-b", "10.69.1.10", 10514)})
    centre = builders.system("security-ops", department="dsjj", zone="security-management", workloads=[],
                             hosts=[replace(_host("log01", "10.69.1.10", _port(6514), _port(10514)),
                                            role="log-centre")])
    senders = [builders.system(f"app{n}", flows=[builders.flow("zone", "security-management", 10514)])
               for n in range(3)]
    register = m.Register(region, {s.name: s for s in (centre, *senders)})
    assert _in_rules(register, "security-ops", "log01", 10514) == []  # (secmgmt_flows' log-sources rule, apart)


def test_a_zone_flow_from_another_site_reaches_nothing_in_the_port_model_either() -> None:
    """The firewall no longer admits a zone flow from another site (it goes to the zone at its own site); the
    port model still counted it, so the scan called the port reached."""
    sink = builders.system("zone-sink", department="dsjj", zone="big-data", workloads=[],
                           hosts=[_host("zsink-h1", "10.68.120.10", _port(9000))])
    remote = builders.system("zone-src-dr", site="dr", flows=[builders.flow("zone", "big-data", 9000)])
    register = builders.register(sink, remote)
    assert _in_rules(register, "zone-sink", "zsink-h1", 9000) == []
    assert [r.reached_by for r in port_reach(register, sink)] == [()]


def test_ntp_to_the_zone_reaches_a_relay_on_a_vm_as_its_firewall_admits() -> None:
    """A VM relay's firewall admitted the callers while their pods' egress named the time sources only."""
    relay = builders.system("ntp-relay", department="dsjj", zone="security-management", workloads=[],
                            hosts=[_host("relay-h1", "10.69.7.7", m.Port(123, "UDP"))])
    caller = builders.system("caller", flows=[builders.flow("zone", "security-management", 123, "udp")])
    register = builders.register(relay, caller)
    assert _in_rules(register, "ntp-relay", "relay-h1", 123)
    to = _policies(register, "caller")["egress-zone-security-management-udp-123"]["egress"][0]["to"]
    assert {"ipBlock": {"cidr": "10.69.7.7/32"}} in to and {"ipBlock": {"cidr": "10.69.0.123/32"}} in to


def test_the_region_moves_the_management_ssh_port_for_every_check(tmp_path: Path) -> None:
    """The SSH port was 22 wherever the register was asked (xzgov_ssh_port was an inventory variable it did not
    know): a region that moved SSH was not protected against a host declaring the new port. region.yaml
    ``spec.operators.ssh_port`` moves it for the port check, the inventory (the roles and Ansible's connection)
    and the live scan alike."""
    from xzgov.core.inventory import build_inventory
    from xzgov.facts.host import HostTarget

    root = tmp_path / "region"
    shutil.copytree(REPO / "tests" / "register" / "fixtures" / "region", root)
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    old_operators = "  operators: {user: xzops, groups: [platform-ops]}"
    assert old_operators in text
    region.write_text(text.replace(old_operators, "  operators: {user: xzops, groups: [platform-ops], ssh_port: 2222}"),
                      encoding="utf-8")
    path = root / "systems" / "gat" / "case-app.yaml"
    manifest = path.read_text(encoding="utf-8")
    old = "purpose: 应用, data: none}"
    path.write_text(manifest.replace(old, "purpose: 应用, data: none, ports: [{port: 2222}]}"), encoding="utf-8")
    loaded = check_register(root)
    [diagnostic] = [d for d in loaded.diagnostics if "SSH" in d.message]
    assert diagnostic.path == "spec.hosts[0].ports[0].port" and "2222/TCP" in diagnostic.message
    # 22 is a port like any other there (an SFTP service)
    path.write_text(manifest.replace(old, "purpose: 应用, data: none, ports: [{port: 22, exposure: internal}]}"),
                    encoding="utf-8")
    loaded = check_register(root)
    assert loaded.ok and loaded.register is not None, [d.render() for d in loaded.diagnostics]
    hosts = build_inventory(loaded.register, "lhasa")["all"]["hosts"]
    assert hosts and all(v["xzgov_ssh_port"] == 2222 and v["ansible_port"] == 2222 for v in hosts.values())
    name, values = next(iter(hosts.items()))
    assert int(HostTarget(name, values["ansible_host"], values["xzgov_system"], values).context()["ssh_port"]) == 2222
    # a region that does not set it keeps 22 and writes nothing new into the inventories
    unset = load_register(REPO / "tests" / "register" / "fixtures" / "region")
    assert unset.region.management_ssh_port == 22
    assert not any("xzgov_ssh_port" in v for v in build_inventory(unset, "lhasa")["all"]["hosts"].values())

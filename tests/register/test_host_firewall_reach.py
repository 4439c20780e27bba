"""What a host's firewall lets its own system and its operators do (``xzgov.core.inventory.host_flows``): a port
other systems reach keeps the system's own hosts and pods, and the bastion opens SSH to the hosts it manages."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path
from typing import Any

from xzgov.core import model as m
from xzgov.core.inventory import covered, host_flows, management_cidrs
from xzgov.core.ports import pods_egress
from xzgov.core.register import load_register

REPO = Path(__file__).resolve().parents[2]


def _host(register: m.Register, hostname: str) -> tuple[m.System, m.Host]:
    return next((s, h) for s in register for h in s.hosts if h.hostname == hostname)


def _admits(flows: list[dict[str, Any]], direction: str, port: int, cidr: str) -> bool:
    return covered({"direction": direction, "protocol": "tcp", "port": port, "peer_cidrs": [cidr]}, flows)


def test_a_host_port_other_systems_reach_keeps_its_own_systems_hosts_and_pods(tmp_path: Path) -> None:
    """A review: health-info's database port made reachable by medical-insurance (not `exposure: internal` any
    more) admitted medical-insurance alone — the replica qmjk-db02 lost its way to the primary (in on db01, out on
    db02) and health-info's own pods got through only because they share the zone's egress range."""
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    health = tmp_path / "systems" / "wjw" / "health-info.yaml"
    health.write_text(health.read_text(encoding="utf-8").replace(
        "ports: [{port: 5432, name: postgresql, exposure: internal}]", "ports: [{port: 5432, name: postgresql}]"),
        encoding="utf-8")
    insurance = tmp_path / "systems" / "ybj" / "medical-insurance.yaml"
    flow = "    - {to: {system: health-info}, protocol: tcp, port: 5432, purpose: 结算数据核对}\n"
    insurance.write_text(insurance.read_text(encoding="utf-8").replace("  flows:\n", "  flows:\n" + flow, 1),
                         encoding="utf-8")
    register = load_register(tmp_path)
    system, primary = _host(register, "qmjk-db01")
    _, replica = _host(register, "qmjk-db02")
    caller = register.systems["medical-insurance"]
    into = host_flows(register, system, primary)
    assert _admits(into, "in", 5432, f"{replica.address}/32")  # the replica, as with an internal port
    egress = pods_egress(register.region, system)
    assert egress is not None and _admits(into, "in", 5432, str(egress))  # the system's own pods
    for sender in caller.hosts:  # and the declared caller, as before
        assert _admits(into, "in", 5432, f"{sender.address}/32")
    assert _admits(host_flows(register, system, replica), "out", 5432, f"{primary.address}/32")


def test_the_bastion_opens_ssh_to_the_hosts_it_manages_and_no_other_host_does() -> None:
    """A review: every host admits SSH from the security-management zone, and the bastion's own output chain (policy
    drop) had no rule for it — a hardened bastion could open no session to any host. The second reading: the first
    mend gave the rule to every host of that zone, the log centres and time sources every zone reaches included —
    only a host declared role: bastion gets it."""
    register = load_register(REPO)
    port = register.region.management_ssh_port
    bastion_system, bastion = _host(register, "bastion01")
    assert bastion.role == "bastion"
    out = host_flows(register, bastion_system, bastion)
    zones = {str(cidr) for zone in register.region.zones.values() for cidr in zone.cidrs.values()}
    assert zones and all(_admits(out, "out", port, cidr) for cidr in zones)
    managing = [ipaddress.IPv4Network(c) for c in management_cidrs(register.region)]
    others_there = 0
    for system in register:
        for host in system.hosts:
            if host.role == "bastion":
                continue
            others_there += any(ipaddress.IPv4Address(str(host.address)) in network for network in managing)
            assert not [f for f in host_flows(register, system, host)
                        if f["direction"] == "out" and f["protocol"] == "tcp" and f["port"] == port], host.hostname
    assert others_there >= 4  # the log centres, time sources and directory of that zone: no SSH out


def test_a_register_without_a_bastion_is_warned(tmp_path: Path, cli: Any) -> None:
    """The third reading: a register written before role: bastion (its bastion undeclared) validated, and the next
    hardening run left no host able to open management SSH — `xzgov inventory` says so."""
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    assert "declares role: bastion" not in cli("inventory", "--root", tmp_path).err
    manifest = tmp_path / "systems" / "dsjj" / "security-ops.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(", role: bastion}", "}"), encoding="utf-8")
    done = cli("inventory", "--root", tmp_path)
    assert done.code == 0 and "warning: no host declares role: bastion" in done.err, done.text

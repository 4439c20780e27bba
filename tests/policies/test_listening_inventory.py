"""XZ-HOST-LISTENING against the committed inventories: the host variables `xzgov inventory` writes
(``xzgov_ports``, ``xzgov_platform_ports``) become the ``host`` fact the live scan judges the sockets with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.engine import Facts, Point, Status, run_rules
from policies.registry import RULES_BY_ID
from xzgov.facts.host import HostTarget

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inventory() -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    for path in sorted((ROOT / "inventories").glob("*/hosts.yml")):
        hosts.update(yaml.safe_load(path.read_text(encoding="utf-8"))["all"]["hosts"])
    return hosts


def _judge(variables: dict[str, Any], name: str, *sockets: tuple[str, str, int]) -> tuple[Status, str]:
    target = HostTarget(name, str(variables["ansible_host"]), str(variables["xzgov_system"]), variables)
    listening = [{"protocol": proto, "address": address, "port": port,
                  "loopback": address.startswith("127.") or address == "::1"} for proto, address, port in sockets]
    facts = Facts(target.system, Point.HOST, {"host": target.context(), "listening": listening},
                  {"listening": f"{name}:ss -tuln", "host": "inventory"}, "2026-12-01T00:00:00Z", name,
                  level=int(variables["xzgov_level"]))
    (result,) = run_rules([RULES_BY_ID["XZ-HOST-LISTENING"]], facts)
    return result.status, " | ".join([result.message, *(e.observed for e in result.evidence)])


SSH = ("tcp", "0.0.0.0", 22)


def test_inventory_writes_the_declared_and_platform_ports(inventory: dict[str, dict[str, Any]]) -> None:
    db = inventory["dzyz-db01"]
    assert db["xzgov_ports"] == [{"protocol": "tcp", "port": 5432, "exposure": "internal", "reached_by": []}]
    assert db["xzgov_platform_ports"] == []
    ntp = inventory["ntp01"]
    assert [(p["protocol"], p["port"]) for p in ntp["xzgov_platform_ports"]] == [("udp", 123)]
    assert ntp["xzgov_ports"][0]["reached_by"]  # the systems' declared NTP flows to the zone, and the contract
    assert [(p["protocol"], p["port"]) for p in inventory["log-centre01"]["xzgov_platform_ports"]] == [("tcp", 6514)]


def test_a_database_host_listens_only_on_ssh_and_its_internal_port(inventory: dict[str, dict[str, Any]]) -> None:
    db = inventory["dzyz-db01"]
    assert _judge(db, "dzyz-db01", SSH, ("tcp", "10.69.9.11", 5432), ("udp", "127.0.0.1", 323))[0] is Status.PASS
    status, text = _judge(db, "dzyz-db01", SSH, ("tcp", "10.69.9.11", 5432), ("tcp", "0.0.0.0", 9100))
    assert status is Status.FAIL and "tcp/9100 listens on 0.0.0.0" in text
    # 443 reaches the system (its pods), never this host: the inventory opens no 443 on it (it did, for every
    # caller of the system, before the firewall followed the port model), and a socket there is declared nowhere
    assert not [f for f in db["xzgov_allowed_flows"] if f["direction"] == "in" and f["port"] == 443]
    status, text = _judge(db, "dzyz-db01", SSH, ("tcp", "0.0.0.0", 443))
    assert status is Status.FAIL and "tcp/443 listens on 0.0.0.0: 未声明 / declared nowhere" in text
    # an inbound flow in the host's variables (an inventory written by hand) is still no permission for a socket
    admitted = {**db, "xzgov_allowed_flows": [*db["xzgov_allowed_flows"], {
        "direction": "in", "protocol": "tcp", "port": 443, "peer": "system:x", "peer_cidrs": ["10.66.0.0/16"]}]}
    status, text = _judge(admitted, "dzyz-db01", SSH, ("tcp", "0.0.0.0", 443))
    assert status is Status.FAIL and "does not declare it" in text


def test_platform_ports_only_on_the_role_host(inventory: dict[str, dict[str, Any]]) -> None:
    assert _judge(inventory["ntp01"], "ntp01", SSH, ("udp", "0.0.0.0", 123))[0] is Status.PASS
    assert _judge(inventory["log-centre01"], "log-centre01", SSH, ("tcp", "0.0.0.0", 6514))[0] is Status.PASS
    assert _judge(inventory["directory01"], "directory01", SSH, ("tcp", "0.0.0.0", 636))[0] is Status.PASS
    assert _judge(inventory["dzyz-db01"], "dzyz-db01", SSH, ("udp", "0.0.0.0", 123))[0] is Status.FAIL
    # slapd's plain ldap:/// on every address is not the contract (LDAPS 636 only): a finding
    status, text = _judge(inventory["directory01"], "directory01", SSH, ("tcp", "0.0.0.0", 636),
                          ("tcp", "0.0.0.0", 389), ("tcp", "::", 389))
    assert status is Status.FAIL and "tcp/389 listens on 0.0.0.0, ::" in text


def test_every_inventory_host_passes_with_exactly_its_allowed_sockets(inventory: dict[str, dict[str, Any]]) -> None:
    # the allowed set is never empty of SSH and every example host passes when it listens on what it declares
    for name, variables in inventory.items():
        sockets = [SSH] + [(p["protocol"], "0.0.0.0", p["port"]) for p in variables["xzgov_ports"]
                           if p["exposure"] or p["reached_by"]]
        sockets += [(p["protocol"], "0.0.0.0", p["port"]) for p in variables["xzgov_platform_ports"]]
        assert _judge(variables, name, *sockets)[0] is Status.PASS, name

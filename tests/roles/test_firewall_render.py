"""roles/firewall's ruleset rendered for every host of the committed inventories (no host booted): nft accepts
it (``nft -c`` in a user+network namespace, when nft and unshare are available), overlapping management CIDRs
do not break the named sets, and every declared host port something reaches is opened by an input rule."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.render import render

REPO = Path(__file__).resolve().parents[2]
PUBLIC_SAMPLE = ipaddress.IPv4Address("203.0.113.7")


def _inventory_hosts() -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    for path in sorted((REPO / "inventories").glob("*/hosts.yml")):
        for name, variables in yaml.safe_load(path.read_text(encoding="utf-8"))["all"]["hosts"].items():
            hosts[name] = {**variables, "inventory_hostname": name}
    return hosts


HOSTS = _inventory_hosts()


def _nft_unavailable() -> str:
    if shutil.which("nft") is None:
        return "nft is not installed"
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-rn", "nft", "-c", "-f", "/dev/null"], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        return f"unshare -rn nft does not run here: {probe.stderr.strip()}"
    return ""


NFT_UNAVAILABLE = _nft_unavailable()
needs_nft = pytest.mark.skipif(bool(NFT_UNAVAILABLE), reason=NFT_UNAVAILABLE or "nft available")


def _nft_check(ruleset: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "xzgov.nft"
    path.write_text(ruleset, encoding="utf-8")
    return subprocess.run(["unshare", "-rn", "nft", "-c", "-f", str(path)], capture_output=True, text=True,
                          check=False)


@needs_nft
def test_overlapping_management_cidrs_pass_nft(tmp_path: Path) -> None:
    host = {**HOSTS["bastion01"], "xzgov_management_cidrs": ["10.0.0.0/8", "10.1.0.0/16", "10.69.0.0/16",
                                                              "fd00::/8", "fd00:69::/48"]}
    result = _nft_check(render("firewall", "xzgov.nft.j2", host), tmp_path)
    assert result.returncode == 0, result.stderr


def test_named_sets_merge_overlapping_intervals() -> None:
    ruleset = render("firewall", "xzgov.nft.j2", HOSTS["bastion01"])
    for block in re.findall(r"set management_v[46] \{(.*?)\}", ruleset, re.S):
        assert "auto-merge" in block


_INPUT_RULE = re.compile(r"^\s*ip saddr \{ (?P<cidrs>[^}]*) \}(?: ip saddr != \{ (?P<except>[^}]*) \})? "
                         r"(?P<protocol>tcp|udp) dport (?P<port>\d+) accept", re.M)


def _input_rules(ruleset: str) -> list[tuple[str, int, list[str], list[str]]]:
    chain = ruleset.split("chain input", 1)[1].split("chain forward", 1)[0]
    return [(m["protocol"], int(m["port"]), m["cidrs"].split(", "), (m["except"] or "").split(", ") if m["except"]
             else []) for m in _INPUT_RULE.finditer(chain)]


def _admits(rules: list[tuple[str, int, list[str], list[str]]], protocol: str, port: int,
            address: ipaddress.IPv4Address) -> bool:
    return any(p == protocol and n == port and any(address in ipaddress.IPv4Network(c) for c in cidrs)
               and not any(address in ipaddress.IPv4Network(c) for c in excluded)
               for p, n, cidrs, excluded in rules)


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_rendered_firewall_opens_every_reached_port(name: str, tmp_path: Path) -> None:
    host = HOSTS[name]
    ruleset = render("firewall", "xzgov.nft.j2", host)
    rules = _input_rules(ruleset)
    for entry in host["xzgov_ports"]:
        protocol, port = entry["protocol"], int(entry["port"])
        if entry["exposure"] == "public":
            assert _admits(rules, protocol, port, PUBLIC_SAMPLE), f"{name}: public {protocol}/{port} is dropped"
            assert not _admits(rules, protocol, port, ipaddress.IPv4Address("192.168.1.1"))
        elif entry["reached_by"] or entry["exposure"] == "internal":
            if entry["exposure"] == "internal" and not entry["reached_by"]:
                continue  # a single-host system without workloads: nothing reaches it
            assert any(p == protocol and n == port for p, n, _, _ in rules), \
                f"{name}: {protocol}/{port} reached by {entry['reached_by']} has no input rule"
    if not NFT_UNAVAILABLE:
        result = _nft_check(ruleset, tmp_path)
        assert result.returncode == 0, result.stderr


def test_mld_from_link_local_passes_both_ways() -> None:
    """MLD is not tracked (as ND is not): the drop policies took it, and on a switch snooping MLD the host's
    solicited-node group lapsed and IPv6 (IPv6 management SSH with it) stopped. Link-local (or unspecified)
    source and hop limit 1 only (RFC 4890 4.4.1): a routed MLD packet is still dropped."""
    ruleset = render("firewall", "xzgov.nft.j2", HOSTS["bastion01"])
    chains = {name: ruleset.split(f"chain {name}", 1)[1].split("chain ", 1)[0] for name in ("input", "output")}
    mld = re.compile(r"^\s*ip6 saddr \{ fe80::/10, ::/128 \} ip6 hoplimit 1 icmpv6 type \{ (?P<types>[^}]*) \} accept$",
                     re.M)
    types = {name: set(next(mld.finditer(chain))["types"].split(", ")) for name, chain in chains.items()}
    assert types["input"] == {"mld-listener-query", "mld-listener-report", "mld-listener-done", "mld2-listener-report"}
    assert types["output"] == {"mld-listener-report", "mld-listener-done", "mld2-listener-report"}

"""Network namespaces joined to the runner by veth pairs, one /30 of 10.213.0.0/16 per host.

10.213.0.0/16 is used only for these host-local namespaces: nothing outside this machine is ever
addressed. Each pair is `runner .4k+1 <-> host .4k+2`; the runner side is where the test services
(apt proxy, NTP, TLS syslog) listen for that host.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass

TEST_RANGE = ipaddress.IPv4Network("10.213.0.0/16")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, text=True, capture_output=True)


@dataclass(frozen=True)
class Link:
    """One host's namespace and its veth pair."""

    netns: str
    runner_if: str
    host_if: str
    runner_address: str
    host_address: str
    prefixlen: int = 30

    @property
    def subnet(self) -> str:
        return str(ipaddress.ip_interface(f"{self.host_address}/{self.prefixlen}").network)


def used_test_subnets() -> set[ipaddress.IPv4Network]:
    """The /30s of the test range already configured on this machine (another session's hosts)."""
    out = _ip("-o", "-4", "addr", "show").stdout
    used: set[ipaddress.IPv4Network] = set()
    for line in out.splitlines():
        for word in line.split():
            if "/" in word and word[0].isdigit():
                iface = ipaddress.ip_interface(word)
                if isinstance(iface, ipaddress.IPv4Interface) and iface.ip in TEST_RANGE:
                    used.add(ipaddress.IPv4Network(f"{iface.ip}/30", strict=False))
    return used


def free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    used = used_test_subnets()
    found: list[ipaddress.IPv4Network] = []
    for net in TEST_RANGE.subnets(new_prefix=30):
        if net not in used:
            found.append(net)
            if len(found) == count:
                return found
    raise RuntimeError("no free /30 left in the test range 10.213.0.0/16")


def create_link(session: str, index: int, subnet: ipaddress.IPv4Network) -> Link:
    """Create netns `xzgov-<session>-<index>` and a veth pair into it, addressed from `subnet`."""
    hosts = list(subnet.hosts())
    link = Link(
        netns=f"xzgov-{session}-{index}",
        runner_if=f"xz{session[:6]}{index:02d}r",
        host_if="host0",
        runner_address=str(hosts[0]),
        host_address=str(hosts[1]),
        prefixlen=subnet.prefixlen,
    )
    try:
        _ip("netns", "add", link.netns)
        _ip("link", "add", link.runner_if, "type", "veth", "peer", "name", f"{link.runner_if[:-1]}h")
        _ip("link", "set", f"{link.runner_if[:-1]}h", "netns", link.netns)
        _ip("-n", link.netns, "link", "set", f"{link.runner_if[:-1]}h", "name", link.host_if)
        _ip("addr", "add", f"{link.runner_address}/{link.prefixlen}", "dev", link.runner_if)
        _ip("link", "set", link.runner_if, "up")
        _ip("-n", link.netns, "addr", "add", f"{link.host_address}/{link.prefixlen}", "dev", link.host_if)
        _ip("-n", link.netns, "link", "set", link.host_if, "up")
        _ip("-n", link.netns, "link", "set", "lo", "up")
    except BaseException:
        destroy_link(link)
        raise
    return link


def destroy_link(link: Link) -> None:
    """Remove the veth pair and the namespace; tolerant of half-created state."""
    _ip("link", "del", link.runner_if, check=False)
    _ip("netns", "del", link.netns, check=False)


def leftover_namespaces(session: str | None = None) -> list[str]:
    """Namespaces made by this machinery (optionally only one session's), for cleanup and tests."""
    names = []
    for line in _ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("xzgov-") and (session is None or name.startswith(f"xzgov-{session}-")):
            names.append(name)
    return names


# Host-to-host links live only inside the two hosts' namespaces, so one fixed subnet outside the runner range
# serves every pair (no runner route ever sees it).
PEER_SUBNET = ipaddress.IPv4Network("10.214.0.0/30")


@dataclass(frozen=True)
class PeerLink:
    """A direct veth pair between two hosts' namespaces (a network segment between two hosts)."""

    a_netns: str
    b_netns: str
    a_if: str
    b_if: str
    a_address: str
    b_address: str


def create_peer_link(a: Link, b: Link, name: str = "peer0") -> PeerLink:
    """Join hosts `a` and `b` directly: `a` gets .1, `b` gets .2 of PEER_SUBNET on interface `name`."""
    first, second = (str(address) for address in PEER_SUBNET.hosts())
    tmp_a, tmp_b = f"{a.runner_if[:-1]}p", f"{b.runner_if[:-1]}p"
    link = PeerLink(a.netns, b.netns, name, name, first, second)
    try:
        _ip("link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        for tmp, netns, address in ((tmp_a, a.netns, first), (tmp_b, b.netns, second)):
            _ip("link", "set", tmp, "netns", netns)
            _ip("-n", netns, "link", "set", tmp, "name", name)
            _ip("-n", netns, "addr", "add", f"{address}/{PEER_SUBNET.prefixlen}", "dev", name)
            _ip("-n", netns, "link", "set", name, "up")
    except BaseException:
        _ip("link", "del", tmp_a, check=False)
        destroy_peer_link(link)
        raise
    return link


def destroy_peer_link(link: PeerLink) -> None:
    """Deleting one end of a veth pair deletes both; tolerant of half-created state."""
    _ip("-n", link.a_netns, "link", "del", link.a_if, check=False)

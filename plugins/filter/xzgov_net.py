"""Address filters shared by the firewall role and the operator guard, so both read a CIDR list the same way.

``xzgov_networks(values, family)``
    The IPv4 (``family=4``) or IPv6 (``6``) networks of ``values`` in prefix form (``10.69.0.0/255.255.0.0`` →
    ``10.69.0.0/16``, host bits cleared), what nftables is given. An entry that is no network fails the task.
``xzgov_invalid_networks(values)``
    The entries of ``values`` that are no IPv4/IPv6 network (for an ``assert`` naming them).
``xzgov_address_in(address, values)``
    Whether ``address`` lies in one of the networks ``values``.
``xzgov_listen_problems(listen_addresses, server_address, port)``
    Why sshd's ``ListenAddress`` values (``ssh_hardening_listen_addresses``) would cut off the session that reached
    ``server_address`` on ``port`` (SSH_CONNECTION's fields 3 and 4): an entry naming another port (sshd would move
    off the port nftables opens), a host name (no address to compare), or no entry holding that address (an
    unspecified ``0.0.0.0`` / ``::`` holds every address of its family). Empty when the session stays reachable.

Before these, the firewall template kept only entries matching ``^[0-9.]+(/[0-9]+)?$`` and dropped the rest
silently, while the guard parsed the same list with Python's ``ipaddress``: a management CIDR in netmask form
passed the guard and vanished from the SSH rule (every new SSH connection dropped).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: xzgov_networks
short_description: CIDR lists in prefix form, per address family
description: See the module docstring (xzgov_networks, xzgov_invalid_networks, xzgov_address_in).
"""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: Any) -> Network | None:
    if not isinstance(value, str) or value != value.strip() or not value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _listed(values: Any) -> list[Any]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise AnsibleFilterError(f"expected a list of networks, got {type(values).__name__}: {values!r}")
    return list(values)


def invalid_networks(values: Any) -> list[Any]:
    return [value for value in _listed(values) if _network(value) is None]


def networks(values: Any, family: int) -> list[str]:
    if family not in (4, 6):
        raise AnsibleFilterError(f"xzgov_networks: family must be 4 or 6, not {family!r}")
    found: list[str] = []
    for value in _listed(values):
        network = _network(value)
        if network is None:
            raise AnsibleFilterError(f"{value!r} is not an IPv4/IPv6 network (write it as 10.69.0.0/16)")
        if network.version == family and str(network) not in found:
            found.append(str(network))
    return found


def address_in(address: Any, values: Any) -> bool:
    try:
        where = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return False
    return any(network is not None and where in network for network in map(_network, _listed(values)))


def _listen_entry(entry: str) -> tuple[str, int | None]:
    """(address, port or None) of a ListenAddress value: ``[v6]:port``, ``[v6]``, ``v4:port``, a bare address."""
    text = entry.split()[0] if entry.split() else ""  # "addr rdomain NAME": the address is the first word
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        address, _, port = text.partition(":")
    else:
        address, port = text, ""
    if port and not port.isdigit():
        raise ValueError(f"port {port!r}")
    return address, int(port) if port else None


def listen_problems(listen_addresses: Any, server_address: Any, port: Any) -> list[str]:
    try:
        server = ipaddress.ip_address(str(server_address).strip().strip("[]"))
    except ValueError:
        return [f"the session's server address {server_address!r} is no IP address (SSH_CONNECTION)"]
    if isinstance(server, ipaddress.IPv6Address) and server.ipv4_mapped is not None:
        server = server.ipv4_mapped
    problems: list[str] = []
    held = False
    for entry in _listed(listen_addresses):
        try:
            address, entry_port = _listen_entry(str(entry))
            listened = ipaddress.ip_address(address)
        except ValueError:
            problems.append(f"ListenAddress {entry!r} is no IP address [:port] (a host name cannot be checked "
                            f"against the session's address)")
            continue
        if entry_port is not None and entry_port != int(port):
            problems.append(f"ListenAddress {entry!r} names port {entry_port}: sshd and nftables use {port}")
            continue
        held = held or listened == server or (listened.is_unspecified and listened.version == server.version)
    if not held:
        problems.append(f"no ListenAddress holds {server}, the address this session reached: sshd would stop "
                        f"listening there")
    return problems


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_networks": networks, "xzgov_invalid_networks": invalid_networks,
                "xzgov_address_in": address_in, "xzgov_listen_problems": listen_problems}

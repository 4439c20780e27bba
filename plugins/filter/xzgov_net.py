"""Address filters shared by the firewall role and the operator guard, so both read a CIDR list the same way.

``xzgov_networks(values, family)``
    The IPv4 (``family=4``) or IPv6 (``6``) networks of ``values`` in prefix form (``10.69.0.0/255.255.0.0`` →
    ``10.69.0.0/16``, host bits cleared), what nftables is given. An entry that is no network fails the task.
``xzgov_invalid_networks(values)``
    The entries of ``values`` that are no IPv4/IPv6 network (for an ``assert`` naming them).
``xzgov_address_in(address, values)``
    Whether ``address`` lies in one of the networks ``values``.

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


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_networks": networks, "xzgov_invalid_networks": invalid_networks,
                "xzgov_address_in": address_in}

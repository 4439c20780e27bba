"""Certificate-name filters for the log centre's permitted peers (rsyslog imtcp ``PermittedPeer``, x509/name).

``xzgov_unrevoked_peers(peers, revoked)``
    ``peers`` without the names in ``revoked``, compared as DNS names are: without regard to case. An exact,
    case-sensitive comparison let ``STSJ-STORE01.XZGOV.INTERNAL`` on the revocation list leave
    ``stsj-store01.xzgov.internal`` permitted — and rsyslog 8.2302 checks no CRL, so a name is the only revocation.

``xzgov_wildcard_admits(peers, revoked)``
    ``"pattern admits name"`` for each wildcard peer (``*.xzgov.internal``) that still matches a revoked name, label
    by label as rsyslog matches it (RFC 5425: ``*`` stands within the left-most label): rsyslog has no exception
    to a wildcard, so the revocation cannot be applied while the wildcard stays.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: xzgov_unrevoked_peers
short_description: permitted certificate names without the revoked ones (case-insensitive)
description: See the module docstring.
"""


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(f"{what} must be a list of certificate names, not {type(value).__name__}")
    return [str(name) for name in value]


def unrevoked_peers(peers: Any, revoked: Any) -> list[str]:
    gone = {name.lower() for name in _names(revoked, "log_centre_revoked_peers")}
    return [peer for peer in _names(peers, "the permitted peers") if peer.lower() not in gone]


def _admits(pattern: str, name: str) -> bool:
    """Whether the wildcard ``pattern`` matches ``name`` as rsyslog matches a permitted peer (RFC 5425 §5.2): label
    by label, a ``*`` within one DNS label — ``*.example.com`` matches ``a.example.com``, not ``a.b.example.com``."""
    wanted, labels = pattern.lower().split("."), name.lower().split(".")
    return len(wanted) == len(labels) and all(fnmatchcase(label, want)
                                              for want, label in zip(wanted, labels, strict=True))


def wildcard_admits(peers: Any, revoked: Any) -> list[str]:
    names = _names(revoked, "log_centre_revoked_peers")
    return [f"{peer} admits {name}" for peer in _names(peers, "the permitted peers") if "*" in peer
            for name in names if _admits(peer, name)]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_unrevoked_peers": unrevoked_peers, "xzgov_wildcard_admits": wildcard_admits}

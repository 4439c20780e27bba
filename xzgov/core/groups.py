"""RBAC ``Group`` subjects: what a group name handed to Kubernetes must be, one rule for every place one is
written (region.yaml's departments and operators, a stack's ``xzgov:scannerKeyGroups``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["GROUP_HINT", "group_problems"]

#: a group as the cluster's authenticator hands it over (an OIDC groups claim, a certificate's ``O=``, an LDAP name
#: with inner spaces): 1..253 characters, no control characters, no space at either end — such a name never matches
#: a user's groups, and the binding would silently grant nothing
_GROUP = re.compile(r"^[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]{0,251}[^\x00-\x20\x7f])?\Z")
#: the prefix of the groups Kubernetes itself assigns (``system:authenticated`` is every user)
_SYSTEM_GROUP = "system:"

GROUP_HINT = ("write the group as the cluster's authenticator names it (OIDC groups claim, certificate O=): "
              "1..253 characters, no control, format or invisible characters (no-break or zero-width spaces, "
              "direction marks) and no surrounding spaces")


def _visible(group: str) -> bool:
    """No character beyond ASCII that a reader cannot see or that is no part of a name: C1 controls (NEL), format
    characters (bidi overrides, zero-width joiners and spaces), other separators (no-break space, U+2028). A group
    typed with one never matches the authenticator's, and reads as the real one in every review."""
    return all(ch.isprintable() and not ch.isspace() for ch in group if ord(ch) > 0x7E)


def group_problems(groups: Sequence[object]) -> list[tuple[int, str, str]]:
    """(index, problem, hint) of each entry of ``groups`` that is no group a binding may name: not a group name,
    a group Kubernetes assigns itself (``system:authenticated`` would grant every user), or a repeat."""
    problems: list[tuple[int, str, str]] = []
    first: dict[str, int] = {}
    for index, group in enumerate(groups):
        if not isinstance(group, str) or not _GROUP.match(group) or not _visible(group):
            problems.append((index, f"{group!r} is not a group name", GROUP_HINT))
        elif group.startswith(_SYSTEM_GROUP):
            problems.append((index, f"'{group}' is a group Kubernetes assigns itself",
                             "name the people's own group: system:authenticated is every user (it would hand them "
                             "what the binding grants), and system:masters needs no binding"))
        elif group in first:
            problems.append((index, f"'{group}' repeats entry {first[group]}", f"remove entry {index}"))
        if isinstance(group, str):
            first.setdefault(group, index)
    return problems

"""``xzgov_unsafe_tokens``: the values of role arguments that would not stay what the role writes them as in a
daemon's configuration file — one token on one line.

A line break in a value starts a new directive (sshd, sudoers, nftables, chrony and rsyslog read line by line),
and a space splits one value into several (``AllowGroups``, ``ListenAddress``, a chrony ``allow``): a value that
passes the daemon's own checker can still add ``PermitRootLogin yes`` before the hardened line, or
``Defaults !logfile`` to sudo, and ``validate:`` cannot tell. Every role that writes such a value asserts it
first, before anything is changed, with this one rule.

``values``: a string, a number or a (nested) list of them. ``spaces``: a space (U+0020) may stand inside a value
(a description, a sudo command's arguments); other whitespace and control characters never may. ``quotes``: a
double quote may stand in the value (off for values written inside double quotes). An empty string is unsafe
where it stands for a token (``spaces`` off). Returns the offending values, each as ``repr`` shows it, so an
assert's message names them without printing a line break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

DOCUMENTATION = r"""
name: xzgov_unsafe_tokens
short_description: Values that would not stay one token on one line of a configuration file
description: See the module docstring.
options:
  spaces:
    description: A space may stand inside a value (other whitespace never).
    type: bool
    default: false
  quotes:
    description: A double quote may stand inside a value.
    type: bool
    default: true
"""

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_WHITESPACE = re.compile(r"\s")


def _flat(values: Any) -> Iterator[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) or isinstance(values, dict):
        yield values
        return
    for value in values:
        yield from _flat(value)


def unsafe_tokens(values: Any, spaces: bool = False, quotes: bool = True) -> list[str]:
    found: list[str] = []
    for value in _flat(values):
        if value is None or isinstance(value, (bool, int, float)):
            continue
        text = value if isinstance(value, str) else str(value)
        if (_CONTROL.search(text) or (not spaces and (_WHITESPACE.search(text) or not text))
                or (not quotes and '"' in text)):
            found.append(repr(text))
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_unsafe_tokens": unsafe_tokens}

"""SSH filters: the operator guard's key file, and what of the hardening drop-in sshd does not run with.

``xzgov_ssh_identity_file(options)``
    The first key file the SSH arguments name for the login (``-i KEY``, ``-iKEY``, ``-o IdentityFile=KEY``,
    ``-o "IdentityFile KEY"``), '' when none. The arguments are split as a shell would (as Ansible splits
    ``ansible_ssh_args``): a ``-i`` inside a quoted ``-o ProxyCommand="ssh -i bastion …"`` is the bastion's key, not
    this login's, and ``-I`` is a PKCS#11 library, not a key. A regular expression took both, and the guard then
    refused a run whose own key was authorized.

``xzgov_sshd_unapplied(dropin, effective)``
    Each directive of the drop-in (``ssh_hardening``'s file, as rendered) whose value the effective configuration
    (``sshd -T`` lines) does not show, as ``"Directive value (sshd -T: what it shows)"``. sshd keeps the first value
    it reads: an ``Include`` of the drop-in directory after main-file settings, or an earlier file, overrides it —
    and the role's check covered ten directives, so ``X11Forwarding yes`` before a late Include passed it. ``sshd
    -T`` prints some values in its own form: times in seconds, ``RekeyLimit`` in bytes and seconds, ``prohibit-
    password`` as ``without-password``, one ``allowusers`` line per name, ``ListenAddress`` with its port.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: xzgov_ssh_identity_file
short_description: the key file named by SSH arguments
description: See the module docstring.
"""


def _option(text: str) -> str | None:
    """The value of an ``IdentityFile`` option given to ``-o`` (``IdentityFile=K``, ``IdentityFile K``)."""
    key, _, value = text.replace("=", " ", 1).partition(" ")
    return value.strip() or None if key.strip().lower() == "identityfile" else None


def identity_file(options: Any) -> str:
    try:
        words = shlex.split(str(options or ""))
    except ValueError as error:
        raise AnsibleFilterError(f"xzgov_ssh_identity_file: the SSH arguments do not split ({error}): "
                                 f"{options!r}") from None
    following = iter(range(len(words)))
    for index in following:
        word = words[index]
        if word == "-i" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("-i") and len(word) > 2:
            return word[2:]
        if word == "-o" and index + 1 < len(words):
            next(following, None)  # the option's value is consumed here, not read as a flag
            found = _option(words[index + 1])
            if found:
                return found
        elif word.startswith("-o") and len(word) > 2:
            found = _option(word[2:])
            if found:
                return found
    return ""


_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
#: directives whose every word is one value of a list sshd -T prints one per line
_LISTS = frozenset({"allowusers", "allowgroups", "denyusers", "denygroups", "hostkey"})


def _seconds(text: str) -> str:
    """sshd's time format (``1h30m``, ``90``, ``1m``) in seconds, as sshd -T prints it; the text when it is not one."""
    parts = re.findall(r"(\d+)([smhdwSMHDW]?)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return text
    return str(sum(int(number) * _TIME_UNITS[unit.lower()] for number, unit in parts))


def _expected(key: str, words: list[str]) -> str:
    value = " ".join(words)
    if key in ("logingracetime", "clientaliveinterval"):
        return _seconds(value)
    if key == "permitrootlogin" and value == "prohibit-password":
        return "without-password"
    if key == "maxstartups" and re.fullmatch(r"\d+", value):
        return f"{value}:30:{value}"  # sshd: a bare start is start:30:start
    if key == "rekeylimit" and words:
        size = re.fullmatch(r"(\d+)([kKmMgG]?)", words[0])
        data = str(int(size.group(1)) * _SIZE_UNITS[size.group(2).lower()]) if size else words[0]
        return " ".join([data, *(_seconds(word) if word != "none" else "0" for word in words[1:])])
    return value


def _host(address: str) -> str:
    """The address of a ``ListenAddress`` value (``10.0.0.1``, ``10.0.0.1:22``, ``[fd00::1]:22``, ``fd00::1``) in
    its canonical form (sshd -T prints ``fd00::1`` for ``fd00:0::1``)."""
    if address.startswith("["):
        address = address[1:].split("]", 1)[0]
    elif address.count(":") == 1:
        address = address.rsplit(":", 1)[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def sshd_unapplied(dropin: Any, effective: Any) -> list[str]:
    shown: dict[str, list[str]] = {}
    for line in effective or []:
        key, _, rest = str(line).strip().partition(" ")
        shown.setdefault(key.lower(), []).append(rest.strip())
    missing: list[str] = []
    for raw in str(dropin or "").splitlines():
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        key, values = words[0].lower(), words[1:]
        actual = shown.get(key, [])
        if key in _LISTS:
            absent = [word for word in values if word not in actual]
            if absent:
                missing.append(f"{words[0]} {' '.join(absent)} (sshd -T: {', '.join(actual) or 'none'})")
        elif key == "listenaddress":
            if _host(values[0]) == values[0] and not _is_address(values[0]):
                continue  # a host name: sshd -T prints the address it resolved to, which is not judged here
            if not any(_host(value) == _host(values[0]) for value in actual):
                missing.append(f"{raw.strip()} (sshd -T: {', '.join(actual) or 'none'})")
        elif not any(value.lower() == _expected(key, values).lower() for value in actual):
            missing.append(f"{raw.strip()} (sshd -T: {', '.join(actual) or 'none'})")
    return missing


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_ssh_identity_file": identity_file, "xzgov_sshd_unapplied": sshd_unapplied}

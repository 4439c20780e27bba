"""SSH argument filters for the operator guard.

``xzgov_ssh_identity_file(options)``
    The first key file the SSH arguments name for the login (``-i KEY``, ``-iKEY``, ``-o IdentityFile=KEY``,
    ``-o "IdentityFile KEY"``), '' when none. The arguments are split as a shell would (as Ansible splits
    ``ansible_ssh_args``): a ``-i`` inside a quoted ``-o ProxyCommand="ssh -i bastion …"`` is the bastion's key, not
    this login's, and ``-I`` is a PKCS#11 library, not a key. A regular expression took both, and the guard then
    refused a run whose own key was authorized.
"""

from __future__ import annotations

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


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_ssh_identity_file": identity_file}

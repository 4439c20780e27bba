"""Filters for the secrets roles write.

``xzgov_env_value``: a value as a double-quoted ``KEY="…"`` right-hand side that systemd's ``EnvironmentFile=`` and
a POSIX shell's ``.`` both read back exactly (backslash, double quote, backtick and dollar escaped): unquoted,
systemd dropped a backslash and a leading quote swallowed the lines after it — the restic password the timer used
was not the vaulted one, and a disaster's restore with the vaulted password failed.

``xzgov_still_vaulted``: the names of secrets that reached a role still SM4-vaulted (``$XZGOV-SM4VAULT;…``).

``xzgov_shadow_ageing``: the shadow database without its password hashes (each password's state, the ageing).

The ``xzgov_sm4vault`` vars plugin decrypts vaulted values in ``group_vars``/``host_vars`` only: Ansible hands
extra vars (``-e @vault/host-backup.yml``) to the play without any vars plugin. A role that only checked that a
password was not empty used the ciphertext itself as the password (a restic repository "encrypted" with a string
anyone holding the vault file can read). Roles taking secrets assert that this filter finds none::

    that: {'host_backup_restic_password': host_backup_restic_password} | xzgov_still_vaulted | length == 0
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    from xzgov.crypto.vault.envelope import PREFIX
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from xzgov.crypto.vault.envelope import PREFIX

DOCUMENTATION = r"""
name: xzgov_still_vaulted
short_description: Names of secrets still SM4-vaulted; xzgov_env_value quotes a value for an environment file;
  xzgov_shadow_ageing drops the password hashes from getent shadow
description: See the module docstring.
"""


def _vaulted(value: Any) -> bool:
    if isinstance(value, str):
        return value.lstrip().startswith(PREFIX + ";")
    if isinstance(value, Mapping):
        return any(_vaulted(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_vaulted(item) for item in value)
    return False


def env_value(value: Any) -> str:
    text = str(value)
    for special in ("\\", '"', "`", "$"):
        text = text.replace(special, "\\" + special)
    return f'"{text}"'


def shadow_ageing(shadow: Mapping[str, Any]) -> dict[str, list[str]]:
    """``getent shadow`` (name -> its fields) without the password hashes: per account the password field's
    state — ``""`` empty, else its first character when it is ``$`` (a crypt hash), ``!`` (locked) or ``*`` (no
    password), else ``"?"`` (another hash form, e.g. DES) — then the ageing fields as they were (last change,
    min, max, warn, inactive, expire). What the roles need to lock empty passwords and age the others, and
    nothing a ``-v`` run or a loop item could print of a hash."""
    def state(password: str) -> str:
        return "" if password == "" else password[0] if password[0] in "$!*" else "?"

    return {str(name): [state(str(fields[0]) if fields else ""), *(str(f) for f in list(fields)[1:7])]
            for name, fields in shadow.items()}


def still_vaulted(secrets: Mapping[str, Any]) -> list[str]:
    return [name for name, value in secrets.items() if _vaulted(value)]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"xzgov_still_vaulted": still_vaulted, "xzgov_env_value": env_value,
                "xzgov_shadow_ageing": shadow_ageing}

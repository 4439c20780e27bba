"""The scope of a file: the name its version 2 values are bound to (part of their associated data)."""

from __future__ import annotations

import os
from pathlib import Path

#: Files whose every string value must be vaulted (read by the Ansible vars plugin).
VAULT_FILE_SUFFIXES = (".sm4vault.yml", ".sm4vault.yaml")


def file_scope(path: str | Path) -> str:
    """The scope a file's version 2 values are bound to (part of their associated data).

    * a file under a ``group_vars`` or ``host_vars`` directory: its path from that directory on,
      e.g. ``host_vars/web1.sm4vault.yml`` or ``group_vars/db/secrets.yml`` (an inventory can move;
      a value copied to another host's or group's file does not decrypt);
    * another existing file: its path from the repository root (the nearest directory above it
      holding ``.git``), else its file name;
    * a name that is no file (text handled in memory): the name as given.

    The path is taken as written, symbolic links are not resolved: a link to another host's vars
    file does not decrypt that file's values. Give an explicit ``scope`` to override.
    """
    text = str(path)
    parts = Path(text).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in ("group_vars", "host_vars"):
            return "/".join(parts[index:])
    candidate = Path(text)
    if candidate.is_file():
        absolute = Path(os.path.abspath(candidate))
        for parent in absolute.parents:
            if (parent / ".git").exists():
                return absolute.relative_to(parent).as_posix()
        return absolute.name
    return Path(text).as_posix() if text else text


def destination_scope(path: str | Path) -> str:
    """The scope a file *will have* at ``path`` once written there (it need not exist yet):
    :func:`file_scope` for an existing file; otherwise the same rules, with the repository root
    searched from ``path``'s nearest existing parent. For :func:`~xzgov.crypto.vault.rescope_text`
    when a file is moved or onboarded (``systems/<department>/<name>.yaml``)."""
    candidate = Path(path)
    parts = candidate.parts
    if candidate.is_file() or any(part in ("group_vars", "host_vars") for part in parts[:-1]):
        return file_scope(candidate)
    absolute = Path(os.path.abspath(candidate))
    for parent in absolute.parents:
        if (parent / ".git").exists():
            return absolute.relative_to(parent).as_posix()
    return absolute.name


def scope_candidates(scope: str) -> list[str]:
    """Scopes a value found under ``scope`` may have been encrypted for before its file moved: the
    shorter tails of the path (``systems/d/x.yaml`` → ``d/x.yaml``, ``x.yaml``: a file vaulted
    outside the repository is bound to its file name)."""
    parts = scope.split("/")
    return ["/".join(parts[index:]) for index in range(1, len(parts))]


def resolve_scope(scope: str | None, source: str) -> str:
    """``scope`` as given, or the :func:`file_scope` of ``source`` when None."""
    return file_scope(source) if scope is None else scope


def is_vault_file(path: str | Path) -> bool:
    """True for a strict vault file (``*.sm4vault.yml`` / ``.yaml``)."""
    return str(path).endswith(VAULT_FILE_SUFFIXES)

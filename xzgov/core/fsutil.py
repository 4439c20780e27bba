"""Atomic file writes with explicit permissions (private keys 0600, never a half-written file)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import warnings
from pathlib import Path


class SecurityWarning(UserWarning):
    """Something works but is less safe than it should be (e.g. a key file readable by others)."""


def warn_if_exposed(path: str | Path, what: str) -> None:
    """Warn (:class:`SecurityWarning`) when ``path`` can be read or written by group or others."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077:
        warnings.warn(
            f"{what} {path} is readable by group or others (mode {mode:04o}); run `chmod 600 {path}`",
            SecurityWarning, stacklevel=3,
        )


def write_temporary(target: Path, data: bytes, *, mode: int = 0o644, owner: tuple[int, int] | None = None) -> str:
    """Write ``data`` to a new temporary file beside ``target`` and sync it; return its name.

    The file has ``mode`` (and ``owner`` (uid, gid) when permitted, the group alone when the user
    cannot give files away) from the start, so a secret is never readable by others, not even briefly.
    On any failure the temporary file is removed. The caller renames it into place.
    """
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        if owner is not None:
            try:
                os.fchown(fd, *owner)
            except PermissionError:
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, -1, owner[1])
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def atomic_write(
    path: str | Path,
    data: bytes,
    *,
    mode: int = 0o644,
    overwrite: bool = True,
    owner: tuple[int, int] | None = None,
) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The bytes go to a temporary file created with ``mode`` from the start (so a secret is never
    readable by others, not even briefly), are fsynced, then renamed over ``path``. With
    ``overwrite=False`` an existing ``path`` is never replaced (FileExistsError), checked with a
    hard link so there is no window between the check and the rename. ``owner`` (uid, gid) is
    applied to the new file when permitted (the group alone when the user cannot give files away).
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    tmp_name = write_temporary(target, data, mode=mode, owner=owner)
    try:
        if overwrite:
            os.replace(tmp_name, target)
        else:
            os.link(tmp_name, target)  # fails with FileExistsError if target exists
            os.unlink(tmp_name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return target

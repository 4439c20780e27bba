"""Atomic file writes with explicit permissions (private keys 0600, never a half-written file)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: str | Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The bytes go to a temporary file created with ``mode`` from the start (so a secret is never
    readable by others, not even briefly), are fsynced, then renamed over ``path``. With
    ``overwrite=False`` an existing ``path`` is never replaced (FileExistsError), checked with a
    hard link so there is no window between the check and the rename.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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

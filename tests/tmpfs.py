"""Real tmpfs mounts for tests of what xzgov does when the machine refuses a write (read-only or full file
systems): mounted as root, the test skipped otherwise; always unmounted."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(point: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``point`` (created) with mount ``options`` (``ro,size=1m``, ``size=64k``)."""
    point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def fill(directory: Path, name: str = "fill") -> None:
    """Fill ``directory``'s file system to the last byte with the file ``name``."""
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)

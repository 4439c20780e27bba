"""The one safe walk of signed files: never through a symbolic link, never opening a special file.

Paths are taken below the bundle's directory (``base``) as written: a symbolic link anywhere below
``base`` is found (:func:`first_link`, :func:`walk_entries`) or refused when opening
(:func:`digest_no_follow`), never followed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.files import kind_of
from xzgov.crypto.sm3 import sm3_stream

__all__ = ["NotRegular", "check_inside", "digest_no_follow", "first_link", "kind_of", "outside",
           "relative_lexical", "unsigned_beside", "walk_entries"]


def walk_entries(directory: Path) -> list[tuple[Path, str]]:
    """Every entry below ``directory`` that is not a real directory, with its kind (``file``,
    ``symbolic link``, ``FIFO``, ...). Symbolic links, also to directories, are never followed."""
    found: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs.sort()
        real_dirs = []
        for name in dirs:  # os.walk lists symbolic links to directories among the directories
            candidate = Path(root) / name
            if os.path.islink(candidate):
                found.append((candidate, "symbolic link to a directory"))
            else:
                real_dirs.append(name)
        dirs[:] = real_dirs
        for name in sorted(files):
            candidate = Path(root) / name
            try:
                mode = candidate.lstat().st_mode
            except OSError:
                continue  # vanished meanwhile
            found.append((candidate, kind_of(mode)))
    return sorted(found)


def unsigned_beside(base: Path, listed: set[str], own: str) -> list[tuple[str, str]]:
    """Entries directly in the bundle's directory ``base`` that are no directory and not ``listed``,
    with their kind; ``own`` (the absolute path of the bundle file) is skipped.

    A stale report left beside a bundle would otherwise pass for signed evidence. Subdirectories are
    covered when they were signed as directories (recorded in the bundle).
    """
    found: list[tuple[str, str]] = []
    with os.scandir(base) as entries:
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue  # vanished meanwhile
            if stat.S_ISDIR(mode) or entry.name in listed or os.path.abspath(entry.path) == own:
                continue
            found.append((entry.name, kind_of(mode)))
    return sorted(found)


def first_link(base: Path, rel: str) -> Path | None:
    """The first component of ``base/rel`` (below ``base``) that is a symbolic link, or None."""
    current = base
    for part in PurePosixPath(rel).parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


def outside(path: Path, base: Path) -> UsageError:
    return UsageError(
        f"{path} is outside {base}: a bundle signs files in its own directory tree",
        [Diagnostic(str(path), 0, 0, "", "outside the bundle's directory",
                    hint="write the bundle (--out) at the top of what you sign", code="outside")],
    )


def check_inside(path: Path, base: Path) -> None:
    """UsageError unless ``path``, with symbolic links resolved, lies below ``base``."""
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError as error:
        raise outside(path, base) from error


def relative_lexical(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` without resolving symbolic links below ``base``."""
    absolute = Path(os.path.abspath(path))
    base_abs = Path(os.path.abspath(base))
    try:
        return absolute.relative_to(base_abs).as_posix()
    except ValueError:
        pass
    # base may itself be reached through a symbolic link (e.g. /tmp): compare real parents
    real_base = base_abs.resolve()
    parent = Path(os.path.abspath(absolute.parent)).resolve()
    try:
        return (parent / absolute.name).relative_to(real_base).as_posix()
    except ValueError as error:
        raise outside(path, base) from error


class NotRegular(OSError):
    """A listed path is not a regular file (``kind`` says what it is)."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, kind)
        self.kind = kind


def digest_no_follow(base: Path, rel: str) -> tuple[int, str]:
    """Size and SM3 (hex) of ``base/rel``, opened without following any symbolic link below ``base``.

    Every directory component is opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent, the
    file itself is ``lstat``-ed (it must be a regular file: a FIFO or device is never opened) and then
    opened with ``O_NOFOLLOW``; the opened file must be the one that was checked. Raises
    :class:`NotRegular` (a symbolic link or special file) or :class:`OSError`.
    """
    parts = PurePosixPath(rel).parts
    dir_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            info = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                raise NotRegular(f"path through a {kind_of(info.st_mode)} ({part})")
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotRegular(f"path through a symbolic link ({part})") from error
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        info = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(kind_of(info.st_mode))
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise NotRegular("symbolic link") from error
            raise
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb", buffering=0) as stream:
        opened = os.fstat(stream.fileno())
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise NotRegular("file replaced while it was read")
        return opened.st_size, sm3_stream(stream).hex()

"""The one safe walk of signed files: never through a symbolic link, never opening a special file.

Paths are taken below the bundle's directory (``base``) as written: a symbolic link anywhere below
``base`` is found (:func:`first_link`, :func:`walk_entries`) or refused when opening
(:func:`digest_no_follow`, :func:`read_no_follow`), never followed.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Collection, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.files import kind_of
from xzgov.crypto.sm3 import DEFAULT_CHUNK, sm3_stream

__all__ = ["EMPTY_DIRECTORY", "UNLISTABLE", "NotRegular", "check_inside", "digest_for_signing", "digest_no_follow",
           "first_link", "in_signed_directory", "kind_of", "outside", "read_no_follow", "relative_lexical",
           "unsigned_entries", "walk_entries"]


#: The kind :func:`walk_entries` gives a real directory that holds no entry at all.
EMPTY_DIRECTORY = "empty directory"
#: The kind :func:`walk_entries` gives a directory below the walked one whose entries cannot be read (its
#: content is unknown: it is reported, never skipped).
UNLISTABLE = "directory that cannot be listed"


def walk_entries(directory: Path, *, empty_directories: bool = False) -> list[tuple[Path, str]]:
    """Every entry below ``directory`` that is not a real directory, with its kind (``file``,
    ``symbolic link``, ``FIFO``, ...), sorted. Symbolic links, also to directories, are never followed.

    With ``empty_directories`` every real directory below ``directory`` that holds no entry at all is
    listed too (kind :data:`EMPTY_DIRECTORY`). A directory below ``directory`` that cannot be listed is an
    entry of kind :data:`UNLISTABLE`; ``directory`` itself unreadable raises :class:`OSError`.
    """
    return sorted(_walk(directory, empty_directories))


def _walk(directory: Path, empty_directories: bool) -> Iterator[tuple[Path, str]]:
    """:func:`walk_entries` as it goes (unsorted)."""
    failed: list[OSError] = []
    top = os.path.abspath(directory)
    for root, dirs, files in os.walk(directory, onerror=failed.append, followlinks=False):
        yield from _unlistable(failed, top)
        if empty_directories and not dirs and not files and os.path.abspath(root) != top:
            yield Path(root), EMPTY_DIRECTORY
        dirs.sort()
        real_dirs = []
        for name in dirs:  # os.walk lists symbolic links to directories among the directories
            candidate = Path(root) / name
            if os.path.islink(candidate):
                yield candidate, "symbolic link to a directory"
            else:
                real_dirs.append(name)
        dirs[:] = real_dirs
        for name in sorted(files):
            candidate = Path(root) / name
            try:
                mode = candidate.lstat().st_mode
            except OSError:
                continue  # vanished meanwhile
            yield candidate, kind_of(mode)
    yield from _unlistable(failed, top)


def _unlistable(failed: list[OSError], top: str) -> Iterator[tuple[Path, str]]:
    """The directories ``os.walk`` could not list (``failed``, emptied): ``top`` itself raises."""
    while failed:
        error = failed.pop(0)
        if error.filename is None or os.path.abspath(error.filename) == top:
            raise error
        yield Path(error.filename), UNLISTABLE


def in_signed_directory(rel: str, directories: Collection[str]) -> bool:
    """Whether ``rel`` (relative to the bundle's directory) lies below one of the signed ``directories``."""
    if "." in directories:
        return True
    parts = PurePosixPath(rel).parts
    return any("/".join(parts[:count]) in directories for count in range(1, len(parts)))


def unsigned_entries(base: Path, listed: Collection[str], directories: Collection[str],
                     own: str, limit: int | None = None) -> list[tuple[str, str]]:
    """Every entry anywhere below the bundle's directory ``base`` that the bundle does not sign, as (path
    relative to ``base``, kind), sorted: a file not ``listed``; anything not ``listed`` that is neither a
    regular file nor a real directory (never followed, never signed); a directory that holds nothing and is
    not one of the signed ``directories`` (an empty directory given to ``sign``, or inside a directory given
    to it, is recorded there; any other empty directory appeared after signing). ``own`` (the absolute path
    of the bundle file) is skipped. With ``limit``, the walk stops at that many (a bundle written into a large
    unrelated tree fails at once). Raises :class:`OSError` when ``base`` cannot be listed.

    A stale report left beside a bundle, at the top or in a subdirectory, would otherwise pass for signed
    evidence: the bundle's directory tree holds what it signs and nothing else.
    """
    found: list[tuple[str, str]] = []
    for candidate, kind in _walk(base, True):
        if os.path.abspath(candidate) == own:
            continue
        rel = relative_lexical(candidate, base)
        if rel in listed or (kind == EMPTY_DIRECTORY and rel in directories):
            continue  # a listed path that is no regular file any more: `changed`, when its digest is taken
        found.append((rel, kind))
        if limit is not None and len(found) >= limit:
            break
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


def _open_no_follow(base: Path, rel: str) -> int:
    """A descriptor of the regular file ``base/rel``, opened without following any symbolic link below ``base``.

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
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise NotRegular("file replaced while it was read")
    except BaseException:
        os.close(fd)
        raise
    return fd


def digest_no_follow(base: Path, rel: str) -> tuple[int, str]:
    """Size and SM3 (hex) of ``base/rel``, opened as :func:`_open_no_follow` opens it (never through a symbolic
    link, never a special file). Raises :class:`NotRegular` or :class:`OSError`."""
    with os.fdopen(_open_no_follow(base, rel), "rb", buffering=0) as stream:
        return os.fstat(stream.fileno()).st_size, sm3_stream(stream).hex()


#: what marks a secret key in a file: the armour line of a PEM private key of any kind (PKCS#8, encrypted PKCS#8,
#: SEC 1 "EC" / "SM2", RSA, ...), the vault key's line (xzgov.crypto.vault.keyfile) and a calling system's HMAC-SM3
#: key in the crypto service's systems.yml (xzgov.cryptosvc.setup)
_PRIVATE_KEY_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----|XZGOV-SM4VAULT-KEY;"
                              rb"|hmac_key:[ \t]*['\"]?[0-9a-fA-F]{64}")
#: the crypto service's master.key: a bare SM4 key, 32 hex digits and a line end, nothing else
_BARE_SM4_KEY = re.compile(rb"[0-9a-f]{32}\n?")


def _is_bare_sm4_key(data: bytes) -> bool:
    """Whether ``data`` (a whole file, or at least its first 34 bytes) is a bare SM4 key: 32 hex digits, a newline."""
    return len(data) <= 33 and _BARE_SM4_KEY.fullmatch(data) is not None


def holds_secret_key(data: bytes) -> bool:
    """Whether ``data`` (a whole file) holds a secret key as :func:`digest_for_signing` judges one."""
    return _PRIVATE_KEY_PEM.search(data) is not None or _is_bare_sm4_key(data)


class _KeyWatch:
    """A stream read for its digest that notes a PEM private key's armour line on the way (also across chunks)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.tail, self.found, self.start = stream, b"", False, b""

    def read(self, size: int = -1) -> bytes:
        block = self.stream.read(size)
        if not self.found and block and _PRIVATE_KEY_PEM.search(self.tail + block):
            self.found = True
        self.tail = block[-96:]
        if len(self.start) < 34:
            self.start += block[:34]
        return block


def digest_for_signing(base: Path, rel: str) -> tuple[int, str, bool]:
    """:func:`digest_no_follow`, and whether the file holds a secret key (:data:`_PRIVATE_KEY_PEM`, or is a bare SM4
    key): read once."""
    with os.fdopen(_open_no_follow(base, rel), "rb", buffering=0) as stream:
        watch = _KeyWatch(stream)
        digest = sm3_stream(watch).hex()  # type: ignore[arg-type]
        size = os.fstat(stream.fileno()).st_size
        return size, digest, watch.found or _is_bare_sm4_key(watch.start)  # start holds ≥ 34 bytes of a longer file


def read_no_follow(base: Path, rel: str, limit: int) -> bytes:
    """The bytes of ``base/rel``, opened as :func:`digest_no_follow` opens it, read up to ``limit`` bytes and one
    more: a file longer than ``limit`` (its signed size) is seen to be, without reading all of it. Raises
    :class:`NotRegular` or :class:`OSError`."""
    chunks: list[bytes] = []
    wanted = max(limit, 0) + 1
    with os.fdopen(_open_no_follow(base, rel), "rb", buffering=0) as stream:
        while wanted > 0:
            chunk = stream.read(min(wanted, DEFAULT_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
    return b"".join(chunks)

"""A register snapshot: the files a scan reads, packed into one compressed archive cut into chunks.

The scanner on Kubernetes (``stacks/render/scanner.py``) carries the register it was rendered from in
ConfigMaps. One mount per file made the Job object grow with the register (1.4 MB at 10,000 systems, near
etcd's object limit) and stored the YAML uncompressed; a snapshot is a gzip-compressed tar of the files,
cut into chunks (``snapshot.00000``, ``snapshot.00001`` …) that fit a ConfigMap each, and unpacked by the
Job's init container (``xzgov scan unpack``) into the pod's ``/register``.

:func:`pack` is deterministic (sorted paths, zeroed times and owners, gzip without a timestamp): the same
register gives the same bytes, so a plan diff shows only real changes. :func:`unpack` trusts nothing it
reads: the chunks' SM3 must be the one the Job was rendered with (a half-updated set of ConfigMaps is
refused), every member must be a regular file at a plain relative path (no ``..``, no absolute path, no
link or device, no control character in its name), and the archive is bounded as it is read — its
decompressed stream (headers included: a huge PAX header is memory before it is a member) and its number
of members.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from xzgov.core.errors import Diagnostic, UsageError, output_error
from xzgov.crypto.bundle.walk import holds_secret_key
from xzgov.crypto.sm3 import sm3_hex

#: Name of each chunk file: ``snapshot.<5-digit index>``.
CHUNK_PREFIX = "snapshot."
#: Decompressed bytes a snapshot may hold at most, headers included (a 10,000-system register is about
#: 100 MB). A bound against a broken render, not an attacker: an archive that is not the rendered one fails
#: the SM3 check first (tarfile may hold a huge header a few times over before it is refused)
MAX_UNPACKED = 256 << 20
#: Members a snapshot may hold at most (a 10,000-system register is about 10,000 files)
MAX_MEMBERS = 100_000


class _TooLarge(Exception):
    """The decompressed stream passed :data:`MAX_UNPACKED`."""


class _Bounded(io.RawIOBase):
    """A readable stream that refuses to give more than ``limit`` bytes of ``raw`` (:class:`_TooLarge`)."""

    def __init__(self, raw: io.BufferedIOBase, limit: int) -> None:
        super().__init__()
        self.raw, self.limit, self.given = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer)
        self.given += count
        if self.given > self.limit:
            raise _TooLarge
        return count


class _Counted(io.RawIOBase):
    """A writable stream that passes everything to ``raw`` and counts it (the tar's bytes before gzip)."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.count = raw, 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.raw.write(data)
        self.count += len(data)
        return len(data)

    def tell(self) -> int:
        return self.count


def pack(root: Path, paths: Sequence[str]) -> bytes:
    """The gzip-compressed tar of ``paths`` (relative to ``root``, POSIX separators), in sorted order. A
    snapshot :func:`unpack` would refuse — more than :data:`MAX_MEMBERS` files or :data:`MAX_UNPACKED` bytes
    unpacked — is refused here (exit 2): at plan time, not by every shard of every night's scan."""
    buffer = io.BytesIO()
    members = sorted(dict.fromkeys(paths))
    if len(members) > MAX_MEMBERS:
        raise _too_large(root, f"{len(members)} files, more than the {MAX_MEMBERS} a snapshot may hold")
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as compressed:
        counted = _Counted(compressed)
        with tarfile.open(fileobj=counted, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for path in members:
                _check_member(path, "<register>")
                data = (root / path).read_bytes()
                if holds_secret_key(data):  # a ConfigMap is plain text to anyone who may read the namespace
                    raise _secret(root, path)
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                archive.addfile(info, io.BytesIO(data))
                if counted.count > MAX_UNPACKED:
                    break
        if counted.count > MAX_UNPACKED:  # the end-of-archive blocks count too: unpack reads them
            raise _too_large(root, f"more than {MAX_UNPACKED >> 20} MiB unpacked (the most a snapshot may hold)")
    return buffer.getvalue()


def _too_large(root: Path, what: str) -> UsageError:
    return UsageError(f"the scanner's register snapshot of {root} is too large: {what}", [Diagnostic(
        str(root), 0, 0, "", f"region.yaml, the manifests, compliance/config.yaml, compliance/waivers/ and "
        f"compliance/attestations/ (with their evidence) make {what}",
        "the scan checks every evidence file against its signed SM3, so it must travel: shrink the evidence "
        "(export only what the attestation needs), or unset xzgov:scannerImage and run the shards from a checkout "
        "(xzgov scan --shard K/N on hosts, then xzgov scan merge)", "size")])


def _secret(root: Path, path: str) -> UsageError:
    return UsageError(f"the scanner's register snapshot would carry a secret key: {path}", [Diagnostic(
        str(root / path), 1, 1, "", "a private key, the vault key or a calling system's HMAC key (what a signed "
        "bundle refuses too) in the register's folders, which the snapshot puts in ConfigMaps in plain text",
        "move the key out of the register (keys live outside the repository: docs/crypto.md), then plan again",
        "secret")])


def chunks(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of at most ``size`` bytes (one for empty data)."""
    return [data[start:start + size] for start in range(0, len(data), size)] or [b""]


def chunk_name(index: int) -> str:
    return f"{CHUNK_PREFIX}{index:05d}"


def _check_member(name: str, where: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or "\\" in name or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name) or \
            path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise UsageError(f"{where}: refusing the snapshot member {name!r}", [Diagnostic(
            where, 0, 0, "member", f"not a plain relative path: {name!r}",
            "render the snapshot again with `pulumi up` (xzgov plan shows it)", "unsafe-path")])
    return path


#: The longest name one path component may have on Linux file systems (bytes).
NAME_MAX = 255


def _check_place(name: PurePosixPath, files: set[PurePosixPath], folders: set[PurePosixPath], where: str) -> None:
    """Refuse a member that cannot take its place beside the ones before it — listed twice, a file where a
    folder is (or the reverse), a name component longer than :data:`NAME_MAX` bytes — before anything of it is
    written (a rendered snapshot has none of these: it is malformed). Records its place."""
    parents = set(name.parents) - {PurePosixPath(".")}
    why = ("listed twice" if name in files else
           "both a file and a folder" if name in folders or parents & files else
           f"a name longer than {NAME_MAX} bytes" if any(len(part.encode()) > NAME_MAX for part in name.parts)
           else "")
    if why:
        raise UsageError(f"{where}: refusing the snapshot member {str(name)[:200]!r}: {why}", [Diagnostic(
            where, 0, 0, "member", f"{str(name)[:200]}: {why}",
            "render the snapshot again with `pulumi up` (xzgov plan shows it)", "unsafe-path")])
    files.add(name)
    folders.update(parents)


def unpack(directory: Path, target: Path, expected_sm3: str) -> int:
    """Unpack the chunks in ``directory`` into the empty directory ``target``; the number of files written.
    Exit 2 (nothing trusted, the target left for the pod to discard) when the chunks are not the rendered
    ones, the archive is malformed, a member is not a regular file at a plain path, or it is too large."""
    where = str(directory)
    if target.exists() and not target.is_dir():
        raise UsageError(f"refusing to unpack into {target}: it is not a directory", [Diagnostic(
            str(target), 0, 0, "--to", "not a directory", "unpack into the pod's empty register volume", "usage")])
    names = sorted(p.name for p in directory.iterdir() if p.name.startswith(CHUNK_PREFIX)) \
        if directory.is_dir() else []
    if not names:
        raise UsageError(f"{where}: no snapshot chunks", [Diagnostic(
            where, 0, 0, "SNAPSHOT", f"no {CHUNK_PREFIX}NNNNN files", "mount the register ConfigMaps here", "io")])
    expected_names = [chunk_name(index) for index in range(len(names))]
    if names != expected_names:
        raise UsageError(f"{where}: snapshot chunks are missing", [Diagnostic(
            where, 0, 0, "SNAPSHOT", f"found {', '.join(names[:5])}…, expected {len(names)} in sequence",
            "mount every register ConfigMap (the projected volume lists them all)", "io")])
    try:
        data = b"".join((directory / name).read_bytes() for name in names)
    except OSError as error:
        raise UsageError(f"{where}: a snapshot chunk cannot be read: {error.strerror or error}", [Diagnostic(
            str(error.filename or where), 0, 0, "SNAPSHOT", f"unreadable: {error.strerror or error}",
            "mount the register ConfigMaps here (each chunk a file)", "io")]) from None
    digest = sm3_hex(data)
    if digest != expected_sm3.lower():
        raise UsageError(f"{where}: the snapshot is not the one the Job was rendered with", [Diagnostic(
            where, 0, 0, "--sm3", f"SM3 {digest[:16]}…, the Job expects {expected_sm3[:16]}…",
            "the ConfigMaps and the CronJob come from different `pulumi up` runs: apply the stack again", "digest")])
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"refusing to unpack into {target}: it is not empty", [Diagnostic(
            str(target), 0, 0, "--to", "not empty", "unpack into the pod's empty register volume", "usage")])
    written = total = 0
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    too_large = UsageError(f"{where}: the snapshot unpacks to more than {MAX_UNPACKED} bytes", [Diagnostic(
        where, 0, 0, "SNAPSHOT", "too large", "carry a register this large in an image, not in ConfigMaps", "size")])
    try:
        stream = io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"), MAX_UNPACKED))
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if written >= MAX_MEMBERS:
                    raise UsageError(f"{where}: the snapshot holds more than {MAX_MEMBERS} files", [Diagnostic(
                        where, 0, 0, "SNAPSHOT", "too many files",
                        "carry a register this large in an image, not in ConfigMaps", "size")])
                name = _check_member(member.name, where)
                _check_place(name, files, folders, where)
                if not member.isfile():
                    raise UsageError(f"{where}: refusing the snapshot member {member.name!r}", [Diagnostic(
                        where, 0, 0, "member", f"{member.name} is not a regular file",
                        "render the snapshot again with `pulumi up`", "unsafe-path")])
                total += member.size
                if total > MAX_UNPACKED:
                    raise too_large
                source = archive.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have content
                    continue
                destination = target.joinpath(*name.parts)
                content = source.read()
                try:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with open(destination, "xb") as out:  # never over an existing file or through a link
                        out.write(content)
                    os.chmod(destination, 0o644)
                except OSError as error:
                    problem = output_error(destination, error, field="--to")
                    if written:  # not "nothing was changed": the files before it are there, for the pod to discard
                        problem.message = problem.message.replace(
                            "nothing was changed", f"{written} file(s) were written before it (the pod's register "
                            "volume is discarded with the pod)")
                    raise problem from None
                written += 1
    except _TooLarge:
        raise too_large from None
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as error:
        raise UsageError(f"{where}: the snapshot cannot be unpacked: {error}", [Diagnostic(
            where, 0, 0, "SNAPSHOT", str(error), "apply the stack again (the ConfigMaps are damaged)",
            "unreadable")]) from None
    return written

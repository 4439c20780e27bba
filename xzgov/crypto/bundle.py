"""Detached signed bundles: an SM2-signed manifest of SM3 file digests (evidence, reports).

Bundle file (JSON, UTF-8, written in exactly one canonical layout: ``json.dumps(bundle,
indent=2, sort_keys=True, ensure_ascii=False) + "\\n"``; a bundle in any other layout is
refused, so every changed byte is detected)::

    {
      "signature": "<base64 of DER SEQUENCE{r, s}>",
      "signed": {
        "algorithm": "SM2-with-SM3",
        "created": "2026-01-31T08:00:00Z",
        "directories": ["reports"],          # signed directories: files added later are reported
        "files": [{"path": "reports/a.json", "size": 123, "sm3": "<64 hex>"}, ...],
        "format": "xzgov-signed-bundle",
        "signer": {"fingerprint": "<SM3 of DER SPKI>", "public_key": "-----BEGIN PUBLIC KEY-----..."},
        "uid": "1234567812345678",
        "version": 1
      }
    }

The signature is SM2 (ID ``uid``) over the canonical JSON of ``signed``:
``json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")``.
Paths are POSIX, relative to the bundle's directory, and must stay inside it.

Only regular files are signed: a symbolic link or special file in what is signed is refused at
signing time, and at verification time every entry of a signed directory that is not a regular
file (symbolic link to a file or directory, FIFO, device, socket) is reported as ``added``; listed
files are opened without following symbolic links (in the file name or any parent directory below
the bundle's directory).

Trust: a valid signature only says the embedded key signed the bundle. :func:`verify_bundle`
therefore also requires the signer to be trusted: its fingerprint must be in ``trusted_fingerprints``
or, when that is None, in the trust store named by ``$XZGOV_TRUSTED_KEYS`` (a directory of
``*.pub.pem`` files, or a file of fingerprints, one per line). With no trust configured the result
is not ``ok`` unless ``any_signer=True`` is passed explicitly.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.fsutil import atomic_write
from xzgov.crypto import keys, sm2
from xzgov.crypto.sm3 import sm3_stream

FORMAT = "xzgov-signed-bundle"
VERSION = 1
ALGORITHM = "SM2-with-SM3"
DEFAULT_NAME = "xzgov-bundle.json"
#: Environment variable naming the trust store: a directory of ``*.pub.pem`` or a file of fingerprints.
TRUSTED_KEYS_ENV = "XZGOV_TRUSTED_KEYS"
#: The problem reported when the signer's key is not trusted (or no trust is configured).
NOT_TRUSTED = "signer not trusted"
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")


def canonical_json(data: Any) -> bytes:
    """The signed serialisation: sorted keys, no whitespace, UTF-8 (values are strings/ints only)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def render_bundle(bundle: dict[str, Any]) -> bytes:
    """The one accepted on-disk layout of a bundle."""
    return (json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class VerifyResult:
    """Outcome of :func:`verify_bundle`. ``ok`` only when nothing at all is wrong."""

    bundle: str
    signature_valid: bool = False
    key_trusted: bool | None = None  # None: not checked (no trust configured and any_signer=True)
    signer_fingerprint: str = ""
    created: str = ""
    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.signature_valid
            and self.key_trusted is not False
            and not (self.missing or self.added or self.changed or self.problems)
        )

    def diagnostics(self) -> list[Diagnostic]:
        out = [Diagnostic(self.bundle, 0, 0, "", problem, code="bundle") for problem in self.problems]
        out += [Diagnostic(p, 0, 0, "", "file listed in the bundle is missing", code="missing")
                for p in self.missing]
        out += [Diagnostic(p, 0, 0, "", "file added to a signed directory after signing", code="added")
                for p in self.added]
        out += [Diagnostic(p, 0, 0, "", "file changed since signing (SM3 digest differs)", code="changed")
                for p in self.changed]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle, "ok": self.ok, "signature_valid": self.signature_valid,
            "key_trusted": self.key_trusted, "signer_fingerprint": self.signer_fingerprint,
            "created": self.created, "files": self.files, "missing": self.missing, "added": self.added,
            "changed": self.changed, "problems": self.problems,
        }


def _relative(path: Path, base: Path) -> str:
    try:
        rel = path.resolve().relative_to(base.resolve())
    except ValueError as error:
        raise _outside(path, base) from error
    return rel.as_posix()


def _outside(path: Path, base: Path) -> UsageError:
    return UsageError(
        f"{path} is outside {base}: a bundle signs files in its own directory tree",
        [Diagnostic(str(path), 0, 0, "", "outside the bundle's directory",
                    hint="write the bundle (--out) at the top of what you sign", code="outside")],
    )


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _walk_entries(directory: Path) -> list[tuple[Path, str]]:
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
            found.append((candidate, _kind(mode)))
    return sorted(found)


def _walk_files(directory: Path) -> list[Path]:
    """The regular files below ``directory`` (kept for callers; never follows symbolic links)."""
    return [path for path, kind in _walk_entries(directory) if kind == "file"]


def _refuse(path: Path, kind: str) -> UsageError:
    return UsageError(
        f"cannot sign {path}: it is a {kind}; only regular files are signed",
        [Diagnostic(str(path), 0, 0, "", f"{kind} in what is signed",
                    hint="remove it, or sign the file it points to by its real path", code="not-regular")],
    )


def _check_components(item: Path, base: Path) -> None:
    """Refuse ``item`` when it or a directory between ``base`` and it is a symbolic link."""
    rel = PurePosixPath(_relative_lexical(item, base))
    current = base
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            raise _refuse(current, "symbolic link")


def _relative_lexical(path: Path, base: Path) -> str:
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
        raise _outside(path, base) from error


def build_manifest(paths: Iterable[str | Path], key: sm2.SM2PrivateKey, base: Path,
                   exclude: Path | None = None, uid: bytes = sm2.DEFAULT_ID) -> dict[str, Any]:
    """The ``signed`` part of a bundle for ``paths`` (files or directories) relative to ``base``."""
    entries: dict[str, Path] = {}
    directories: set[str] = set()
    excluded = exclude.resolve() if exclude is not None else None
    excluded_lexical = os.path.abspath(exclude) if exclude is not None else None
    for raw in paths:
        item = Path(raw)
        if item.is_symlink():
            raise _refuse(item, "symbolic link")
        if item.is_dir():
            _relative(item, base)
            _check_components(item, base)
            rel_dir = _relative_lexical(item, base)
            directories.add(rel_dir)
            candidates = []
            for candidate, kind in _walk_entries(item):
                if excluded is not None and os.path.abspath(candidate) == str(excluded_lexical):
                    continue
                if kind != "file":
                    raise _refuse(candidate, kind)
                candidates.append(candidate)
        elif item.is_file():
            _relative(item, base)
            _check_components(item, base)
            candidates = [item]
        elif item.exists():
            raise _refuse(item, _kind(item.lstat().st_mode))
        else:
            raise UsageError(
                f"cannot sign {item}: no such file or directory",
                [Diagnostic(str(item), 0, 0, "", "no such file or directory", code="unreadable")],
            )
        for candidate in candidates:
            if excluded is not None and candidate.resolve() == excluded:
                continue
            entries[_relative_lexical(candidate, base)] = candidate
    if not entries:
        raise UsageError("nothing to sign: no files given")
    files = []
    for rel, source in sorted(entries.items()):
        try:
            size, digest = _digest_no_follow(base, rel)
        except _NotRegular as error:
            raise _refuse(source, error.kind) from error
        except OSError as error:
            raise UsageError(f"cannot read {source}: {error.strerror or error}") from error
        files.append({"path": rel, "size": size, "sm3": digest})
    return {
        "algorithm": ALGORITHM,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "directories": sorted(directories),
        "files": files,
        "format": FORMAT,
        "signer": {
            "fingerprint": keys.fingerprint(key.public_key),
            "public_key": keys.public_key_to_pem(key.public_key),
        },
        "uid": uid.decode("ascii"),
        "version": VERSION,
    }


def sign_files(
    paths: Iterable[str | Path],
    key: sm2.SM2PrivateKey,
    out: str | Path | None = None,
    *,
    uid: bytes = sm2.DEFAULT_ID,
) -> Path:
    """Sign ``paths`` (files, or directories signed as whole trees) into a detached bundle.

    ``out`` defaults to ``./xzgov-bundle.json``; every path must lie under the bundle's directory.
    Returns the bundle path.
    """
    target = Path(out) if out is not None else Path(DEFAULT_NAME)
    base = target.parent if str(target.parent) else Path(".")
    if not base.is_dir():
        raise UsageError(f"cannot write {target}: {base} is not a directory")
    signed = build_manifest(paths, key, base, exclude=target, uid=uid)
    signature = sm2.sign(key, canonical_json(signed), uid=uid)
    bundle = {"signature": base64.b64encode(signature).decode("ascii"), "signed": signed}
    try:
        return atomic_write(target, render_bundle(bundle), mode=0o644)
    except OSError as error:
        raise UsageError(f"cannot write {target}: {error.strerror or error}") from error


def _load(path: Path) -> tuple[bytes, dict[str, Any]]:
    def unreadable(reason: str) -> UsageError:
        return UsageError(f"cannot read bundle {path}: {reason}",
                          [Diagnostic(str(path), 0, 0, "", reason, code="unreadable")])

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise unreadable(error.strerror or str(error)) from error

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise ValueError(f"duplicate key {name!r}")
            result[name] = value
        return result

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as error:
        raise unreadable(f"not a JSON bundle ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("signed"), dict) \
            or data["signed"].get("format") != FORMAT:
        raise unreadable(f"not an {FORMAT} file")
    return raw, data


def _shape_problems(data: dict[str, Any]) -> list[str]:
    signed = data["signed"]
    problems = []
    if set(data) != {"signature", "signed"}:
        return ["unexpected or missing top-level fields"]
    expected = {"algorithm", "created", "directories", "files", "format", "signer", "uid", "version"}
    if set(signed) != expected:
        problems.append("unexpected or missing fields in 'signed'")
        return problems
    if signed["version"] != VERSION or signed["algorithm"] != ALGORITHM:
        problems.append(f"unsupported bundle version/algorithm {signed['version']!r}/{signed['algorithm']!r}")
    if not isinstance(signed["uid"], str) or not isinstance(signed["created"], str):
        problems.append("malformed uid or created")
    signer = signed["signer"]
    if not isinstance(signer, dict) or set(signer) != {"fingerprint", "public_key"} \
            or not all(isinstance(v, str) for v in signer.values()):
        problems.append("malformed signer")
    files = signed["files"]
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and set(f) == {"path", "size", "sm3"} and isinstance(f["path"], str)
        and isinstance(f["sm3"], str) and isinstance(f["size"], int) for f in files
    ):
        problems.append("malformed file list")
    elif any(_unsafe(f["path"]) for f in files):
        problems.append("a file path leaves the bundle's directory")
    dirs = signed["directories"]
    if not isinstance(dirs, list) or not all(isinstance(d, str) and not _unsafe(d) for d in dirs):
        problems.append("malformed directory list")
    if not isinstance(data["signature"], str):
        problems.append("malformed signature")
    return problems


def _unsafe(rel: str) -> bool:
    pure = PurePosixPath(rel)
    return pure.is_absolute() or ".." in pure.parts or rel in ("",) or "\\" in rel


class _NotRegular(OSError):
    """A listed path is not a regular file (``kind`` says what it is)."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, kind)
        self.kind = kind


def _digest_no_follow(base: Path, rel: str) -> tuple[int, str]:
    """Size and SM3 (hex) of ``base/rel``, opened without following any symbolic link below ``base``.

    Every directory component is opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent, the
    file itself is ``lstat``-ed (it must be a regular file: a FIFO or device is never opened) and then
    opened with ``O_NOFOLLOW``; the opened file must be the one that was checked. Raises
    :class:`_NotRegular` (a symbolic link or special file) or :class:`OSError`.
    """
    parts = PurePosixPath(rel).parts
    dir_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                info = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                raise
            if not stat.S_ISDIR(info.st_mode):
                raise _NotRegular(f"path through a {_kind(info.st_mode)} ({part})")
            try:
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _NotRegular(f"path through a symbolic link ({part})") from error
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        info = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegular(_kind(info.st_mode))
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise _NotRegular("symbolic link") from error
            raise
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb", buffering=0) as stream:
        opened = os.fstat(stream.fileno())
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise _NotRegular("file replaced while it was read")
        return opened.st_size, sm3_stream(stream).hex()


# --------------------------------------------------------------------------- trust store


def normalise_fingerprint(text: str, *, source: str = "<fingerprint>") -> str:
    """A fingerprint as 64 lowercase hex digits (``:`` and spaces allowed); UsageError otherwise."""
    value = re.sub(r"[\s:]", "", text).lower()
    if not _FINGERPRINT_RE.fullmatch(value):
        raise UsageError(
            f"{source}: {text.strip()!r} is not a key fingerprint (64 hex digits, SM3 of the public key)",
            [Diagnostic(source, 0, 0, "", "not a fingerprint",
                        hint="print one with `xzgov keys fingerprint PUB.pem`", code="fingerprint")],
        )
    return value


def load_trust_store(location: str | Path) -> list[str]:
    """Trusted signer fingerprints from a directory of ``*.pub.pem`` files or a file of fingerprints
    (one per line; blank lines and ``#`` comments ignored). UsageError when unreadable or empty."""
    source = Path(location)
    found: list[str] = []
    if source.is_dir():
        for pem in sorted(source.glob("*.pub.pem")):
            found.append(keys.fingerprint(keys.load_public_key(pem)))
    else:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise UsageError(
                f"cannot read trust store {source} (${TRUSTED_KEYS_ENV}): {reason}",
                [Diagnostic(str(source), 0, 0, "", f"cannot read trust store: {reason}", code="trust-store")],
            ) from error
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                found.append(normalise_fingerprint(entry, source=f"{source}:{number}"))
    if not found:
        raise UsageError(
            f"trust store {source} (${TRUSTED_KEYS_ENV}) holds no trusted key",
            [Diagnostic(str(source), 0, 0, "", "no *.pub.pem file or fingerprint in the trust store",
                        code="trust-store")],
        )
    return found


def configured_trusted_fingerprints() -> list[str] | None:
    """The fingerprints of the trust store named by ``$XZGOV_TRUSTED_KEYS``, or None when unset."""
    location = os.environ.get(TRUSTED_KEYS_ENV)
    return load_trust_store(location) if location else None


def verify_bundle(
    path: str | Path,
    trusted_fingerprints: Iterable[str] | None = None,
    *,
    any_signer: bool = False,
) -> VerifyResult:
    """Verify a bundle and the files it lists (relative to the bundle's directory).

    Checks, all reported: canonical layout (including canonical base64 of the signature), signature
    (SM2 over the canonical ``signed`` part by the embedded public key), that the key has the
    recorded fingerprint, and that the signer is **trusted**: its fingerprint is one of
    ``trusted_fingerprints`` or, when that is None, of the trust store ``$XZGOV_TRUSTED_KEYS``. With
    neither, the result is not ``ok`` (problem ``signer not trusted``) unless ``any_signer=True``,
    which accepts any self-consistent signer (``key_trusted`` stays None). Then every file's SM3
    (``missing``, ``changed``; a listed file that became a symbolic link or special file, or is
    reached through a symbolic link, is ``changed``) and, in signed directories, every entry that
    appeared since or is not a regular file (``added``).

    Raises :class:`~xzgov.core.errors.UsageError` (exit 2) when the bundle or the configured trust store
    cannot be read at all.
    """
    source = Path(path)
    raw, data = _load(source)
    trusted: set[str] | None = None
    if trusted_fingerprints is not None:
        trusted = {re.sub(r"[\s:]", "", fp).lower() for fp in trusted_fingerprints}
    else:
        configured = configured_trusted_fingerprints()
        if configured is not None:
            trusted = set(configured)
    result = VerifyResult(bundle=str(source))
    if render_bundle(data) != raw:
        result.problems.append("bundle is not in canonical form: it was edited after signing")
    shape = _shape_problems(data)
    if shape:
        result.problems.extend(shape)
        return result
    signed = data["signed"]
    result.created = signed["created"]
    result.signer_fingerprint = signed["signer"]["fingerprint"]
    result.files = [f["path"] for f in signed["files"]]
    try:
        public_key = keys.public_key_from_pem(signed["signer"]["public_key"])
    except keys.KeyFormatError as error:
        result.problems.append(f"signer public key unreadable: {error}")
        return result
    actual_fp = keys.fingerprint(public_key)
    if actual_fp != result.signer_fingerprint:
        result.problems.append("signer fingerprint does not match the embedded public key")
    if trusted is not None:
        result.key_trusted = actual_fp in trusted
        if not result.key_trusted:
            result.problems.append(f"{NOT_TRUSTED}: signer key {actual_fp} is not one of the trusted keys")
    elif not any_signer:
        result.key_trusted = False
        result.problems.append(
            f"{NOT_TRUSTED}: no trusted signer keys are configured (pin the signer with --trusted-key / "
            f"--trusted-fingerprint or ${TRUSTED_KEYS_ENV}; API: trusted_fingerprints=...)"
        )
    try:
        signature = base64.b64decode(data["signature"], validate=True)
        uid = signed["uid"].encode("ascii")
    except (binascii.Error, UnicodeEncodeError):
        signature, uid = b"", b""
    if base64.b64encode(signature).decode("ascii") != data["signature"]:
        signature = b""  # non-canonical base64: spare bits or padding were altered
    result.signature_valid = bool(signature) and sm2.verify(public_key, canonical_json(signed), signature,
                                                            uid=uid)
    if not result.signature_valid:
        result.problems.append("SM2 signature does not match the bundle contents or key")
    base = source.parent if str(source.parent) else Path(".")
    listed = set()
    for entry in signed["files"]:
        rel = entry["path"]
        listed.add(rel)
        try:
            size, digest = _digest_no_follow(base, rel)
        except _NotRegular as error:
            result.changed.append(rel)
            result.problems.append(f"{rel}: not a regular file ({error.kind}); symbolic links are not followed")
            continue
        except OSError:
            result.missing.append(rel)
            continue
        if digest != entry["sm3"] or size != entry["size"]:
            result.changed.append(rel)
    own = os.path.abspath(source)
    for rel_dir in signed["directories"]:
        directory = base / rel_dir
        current = base
        through_link = False
        for part in PurePosixPath(rel_dir).parts:
            current = current / part
            if current.is_symlink():
                result.problems.append(f"signed directory {rel_dir} goes through a symbolic link ({part})")
                through_link = True
                break
        if through_link or not directory.is_dir():
            continue
        for candidate, kind in _walk_entries(directory):
            if kind == "file" and os.path.abspath(candidate) == own:
                continue
            rel = _relative_lexical(candidate, base)
            if kind != "file":
                result.added.append(rel)
                result.problems.append(f"{rel}: {kind} in a signed directory (never followed or signed)")
            elif rel not in listed:
                result.added.append(rel)
    result.added.sort()
    return result

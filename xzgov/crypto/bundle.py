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
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from xzgov.crypto import keys, sm2
from xzgov.crypto.fsutil import atomic_write
from xzgov.crypto.sm3 import sm3_file
from xzgov.errors import Diagnostic, UsageError

FORMAT = "xzgov-signed-bundle"
VERSION = 1
ALGORITHM = "SM2-with-SM3"
DEFAULT_NAME = "xzgov-bundle.json"


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
    key_trusted: bool | None = None  # None: no trusted fingerprints were given
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
        raise UsageError(
            f"{path} is outside {base}: a bundle signs files in its own directory tree",
            [Diagnostic(str(path), 0, 0, "", "outside the bundle's directory",
                        hint="write the bundle (--out) at the top of what you sign", code="outside")],
        ) from error
    return rel.as_posix()


def _walk_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            candidate = Path(root) / name
            if candidate.is_file() and not candidate.is_symlink():
                found.append(candidate)
    return found


def build_manifest(paths: Iterable[str | Path], key: sm2.SM2PrivateKey, base: Path,
                   exclude: Path | None = None, uid: bytes = sm2.DEFAULT_ID) -> dict[str, Any]:
    """The ``signed`` part of a bundle for ``paths`` (files or directories) relative to ``base``."""
    entries: dict[str, Path] = {}
    directories: set[str] = set()
    excluded = exclude.resolve() if exclude is not None else None
    for raw in paths:
        item = Path(raw)
        if item.is_dir():
            rel_dir = _relative(item, base)
            directories.add(rel_dir)
            candidates = _walk_files(item)
        elif item.is_file():
            candidates = [item]
        else:
            raise UsageError(
                f"cannot sign {item}: no such file or directory",
                [Diagnostic(str(item), 0, 0, "", "no such file or directory", code="unreadable")],
            )
        for candidate in candidates:
            if excluded is not None and candidate.resolve() == excluded:
                continue
            entries[_relative(candidate, base)] = candidate
    if not entries:
        raise UsageError("nothing to sign: no files given")
    files = []
    for rel, source in sorted(entries.items()):
        try:
            files.append({"path": rel, "size": source.stat().st_size, "sm3": sm3_file(source).hex()})
        except OSError as error:
            raise UsageError(f"cannot read {source}: {error.strerror or error}") from error
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


def verify_bundle(
    path: str | Path, trusted_fingerprints: Iterable[str] | None = None
) -> VerifyResult:
    """Verify a bundle and the files it lists (relative to the bundle's directory).

    Checks, all reported: canonical layout, signature (SM2 over the canonical ``signed`` part by
    the embedded public key), that the key has the recorded fingerprint and, when
    ``trusted_fingerprints`` is given, that it is one of them; then every file's SM3 (``missing``,
    ``changed``) and, in signed directories, files that appeared since (``added``).
    Raises :class:`~xzgov.errors.UsageError` (exit 2) when the bundle cannot be read at all.
    """
    source = Path(path)
    raw, data = _load(source)
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
    if trusted_fingerprints is not None:
        trusted = {fp.strip().lower() for fp in trusted_fingerprints}
        result.key_trusted = actual_fp in trusted
        if not result.key_trusted:
            result.problems.append(f"signer key {actual_fp} is not one of the trusted keys")
    try:
        signature = base64.b64decode(data["signature"], validate=True)
        uid = signed["uid"].encode("ascii")
    except (binascii.Error, UnicodeEncodeError):
        signature, uid = b"", b""
    result.signature_valid = bool(signature) and sm2.verify(public_key, canonical_json(signed), signature,
                                                            uid=uid)
    if not result.signature_valid:
        result.problems.append("SM2 signature does not match the bundle contents or key")
    base = source.parent
    listed = set()
    for entry in signed["files"]:
        rel = entry["path"]
        listed.add(rel)
        target = base / rel
        if not target.is_file():
            result.missing.append(rel)
            continue
        try:
            digest = sm3_file(target).hex()
        except OSError:
            result.missing.append(rel)
            continue
        if digest != entry["sm3"] or target.stat().st_size != entry["size"]:
            result.changed.append(rel)
    own = source.resolve()
    for rel_dir in signed["directories"]:
        directory = base / rel_dir
        if not directory.is_dir():
            continue
        for candidate in _walk_files(directory):
            if candidate.resolve() == own:
                continue
            rel = _relative(candidate, base)
            if rel not in listed:
                result.added.append(rel)
    result.added.sort()
    return result

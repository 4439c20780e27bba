"""Verification of a bundle, one named step per check; every problem found is reported."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xzgov.core.errors import Diagnostic
from xzgov.crypto import keys, sm2
from xzgov.crypto.b64 import strict_b64decode
from xzgov.crypto.bundle.format import canonical_json, load_bundle, render_bundle, shape_problems
from xzgov.crypto.bundle.trust import NOT_TRUSTED, TRUSTED_KEYS_ENV, trusted_set
from xzgov.crypto.bundle.walk import (
    EMPTY_DIRECTORY,
    NotRegular,
    digest_no_follow,
    first_link,
    in_signed_directory,
    read_no_follow,
    unsigned_entries,
)
from xzgov.crypto.sm3 import sm3_hex

#: Unsigned entries below a bundle's directory listed at most; the walk stops after them.
MAX_ADDED = 1000


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
    #: The bytes of the files asked for with ``keep``, as read when their SM3 was checked (see :meth:`content`).
    kept: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return (
            self.signature_valid
            and self.key_trusted is not False
            and not (self.missing or self.added or self.changed or self.problems)
        )

    def content(self, rel: str) -> bytes:
        """The bytes of the listed file ``rel`` exactly as the verification read them and matched them to the signed
        SM3 digest and size (ask for them with ``verify_bundle(..., keep=[rel])``). Use these, never the file again:
        it may have been replaced since it was verified. ``ValueError`` (a defect of the caller) when the bundle
        does not verify or ``rel`` was not kept."""
        if not self.ok or rel not in self.kept:
            raise ValueError(f"{rel}: no verified content (bundle {self.bundle} "
                             f"{'verified, file not kept' if self.ok else 'does not verify'})")
        return self.kept[rel]

    def diagnostics(self) -> list[Diagnostic]:
        """One per problem, each file named by its path beside the bundle (the bundle lists them relative to its
        folder: a merge of many parts printed ``summary.md: file changed`` without saying which part)."""
        folder = Path(self.bundle).parent

        def where(relative: str) -> str:
            return str(folder / relative)

        out = [Diagnostic(self.bundle, 0, 0, "", problem, code="bundle") for problem in self.problems]
        out += [Diagnostic(where(p), 0, 0, "", "file listed in the bundle is missing", code="missing")
                for p in self.missing]
        out += [Diagnostic(where(p), 0, 0, "", "not signed: added to the bundle's directory tree after signing",
                           code="added") for p in self.added]
        out += [Diagnostic(where(p), 0, 0, "", "file changed since signing (SM3 digest differs)", code="changed")
                for p in self.changed]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle, "ok": self.ok, "signature_valid": self.signature_valid,
            "key_trusted": self.key_trusted, "signer_fingerprint": self.signer_fingerprint,
            "created": self.created, "files": self.files, "missing": self.missing, "added": self.added,
            "changed": self.changed, "problems": self.problems,
        }


def verify_bundle(
    path: str | Path,
    trusted_fingerprints: Iterable[str] | None = None,
    *,
    any_signer: bool = False,
    keep: Collection[str] = (),
) -> VerifyResult:
    """Verify a bundle and the files it lists (relative to the bundle's directory).

    Checks, all reported: canonical layout (including canonical base64 of the signature), signature
    (SM2 over the canonical ``signed`` part by the embedded public key), that the key has the
    recorded fingerprint, and that the signer is **trusted**: its fingerprint is one of
    ``trusted_fingerprints`` or, when that is None, of the trust store ``$XZGOV_TRUSTED_KEYS``. With
    neither, the result is not ``ok`` (problem ``signer not trusted``) unless ``any_signer=True``,
    which accepts any self-consistent signer (``key_trusted`` stays None; the trust store is not consulted
    either: `xzgov verify --any-signer` said "the signer key was not checked" while a set
    ``$XZGOV_TRUSTED_KEYS`` refused the bundle). Then every file's SM3
    (``missing``, ``changed``; a listed file that became a symbolic link or special file, or is
    reached through a symbolic link, is ``changed``) and, anywhere below the bundle's directory (at
    the top, in signed directories and in any other subdirectory), every entry the bundle does not
    sign (``added``): an unlisted file, anything that is not a regular file, an empty directory that
    is not a signed one (:func:`~xzgov.crypto.bundle.walk.unsigned_entries`).

    ``keep`` names listed files (paths as listed) the caller will use: each is read once, its SM3 and size
    checked on those bytes, and the bytes kept for :meth:`VerifyResult.content`. A caller reads a verified file
    only so: opening it again after the verification would read whatever replaced it meanwhile.

    Raises :class:`~xzgov.core.errors.UsageError` (exit 2) when the bundle or the configured trust store
    cannot be read at all.
    """
    source = Path(path)
    raw, data = load_bundle(source)
    trusted = None if any_signer and trusted_fingerprints is None else trusted_set(trusted_fingerprints)
    result = VerifyResult(bundle=str(source))
    if render_bundle(data) != raw:
        result.problems.append("bundle is not in canonical form: it was edited after signing")
    shape = shape_problems(data)
    if shape:
        result.problems.extend(shape)
        return result
    signed = data["signed"]
    result.created = signed["created"]
    result.signer_fingerprint = signed["signer"]["fingerprint"]
    result.files = [f["path"] for f in signed["files"]]
    public_key = _check_signer(result, signed, trusted, any_signer=any_signer)
    if public_key is None:
        return result
    _check_signature(result, data, public_key)
    base = source.parent if str(source.parent) else Path(".")
    # a bundle whose signature fails is never ok: its files' bytes are not worth holding in memory
    listed = _check_files(result, signed["files"], base, set(keep) if result.signature_valid else set())
    _check_directories(result, signed["directories"], base)
    _check_tree(result, base, listed, set(signed["directories"]), own=os.path.abspath(source))
    result.added.sort()
    return result


def _check_signer(result: VerifyResult, signed: dict[str, Any], trusted: set[str] | None, *,
                  any_signer: bool) -> sm2.SM2PublicKey | None:
    """The embedded public key (None when unreadable): it must have the recorded fingerprint and,
    unless ``any_signer`` with no trust configured, be trusted."""
    try:
        public_key = keys.public_key_from_pem(signed["signer"]["public_key"])
    except keys.KeyFormatError as error:
        result.problems.append(f"signer public key unreadable: {error}")
        return None
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
            f"--trusted-fingerprint or ${TRUSTED_KEYS_ENV})"
        )
    return public_key


def _check_signature(result: VerifyResult, data: dict[str, Any], public_key: sm2.SM2PublicKey) -> None:
    """SM2 (ID ``uid``) over the canonical ``signed`` part; the base64 of the signature must be canonical."""
    signed = data["signed"]
    try:
        signature = strict_b64decode(data["signature"])  # non-canonical: spare bits or padding were altered
        uid = signed["uid"].encode("ascii")
    except (ValueError, UnicodeEncodeError):
        signature, uid = b"", b""
    result.signature_valid = bool(signature) and sm2.verify(public_key, canonical_json(signed), signature,
                                                            uid=uid)
    if not result.signature_valid:
        result.problems.append("SM2 signature does not match the bundle contents or key")


def _check_files(result: VerifyResult, entries: list[dict[str, Any]], base: Path, keep: set[str]) -> set[str]:
    """Every listed file's size and SM3 (``missing``, ``changed``), the bytes of those in ``keep`` that match
    kept in ``result``; returns the listed paths."""
    listed = set()
    for entry in entries:
        rel = entry["path"]
        listed.add(rel)
        content = None
        try:
            if rel in keep:  # read once: the bytes digested are the bytes handed out
                content = read_no_follow(base, rel, limit=entry["size"])
                size, digest = len(content), sm3_hex(content)
            else:
                size, digest = digest_no_follow(base, rel)
        except NotRegular as error:
            result.changed.append(rel)
            result.problems.append(f"{rel}: not a regular file ({error.kind}); symbolic links are not followed")
            continue
        except OSError:
            result.missing.append(rel)
            continue
        if digest != entry["sm3"] or size != entry["size"]:
            result.changed.append(rel)
        elif content is not None:
            result.kept[rel] = content
    return listed


def _check_directories(result: VerifyResult, directories: list[str], base: Path) -> None:
    """A signed directory reached through a symbolic link is a problem (it is never followed); one that is gone
    is ``missing`` (an empty one was signed: its removal went unnoticed, as no file of it is listed)."""
    for rel_dir in directories:
        link = first_link(base, rel_dir)
        if link is not None:
            result.problems.append(f"signed directory {rel_dir} goes through a symbolic link ({link.name})")
        elif not (base / rel_dir).is_dir():  # (a file or a link in its place is reported by the tree walk too)
            result.missing.append(f"{rel_dir}/")


def _check_tree(result: VerifyResult, base: Path, listed: set[str], directories: set[str], *, own: str) -> None:
    """Every entry anywhere below the bundle's directory that the bundle does not sign is ``added``: an
    unlisted file (beside the bundle, in a signed directory or in any other subdirectory), anything that is
    not a regular file, an empty directory that is not a signed one. The bundle file ``own`` is exempt."""
    try:
        unsigned = unsigned_entries(base, listed, directories, own, limit=MAX_ADDED + 1)
    except OSError as error:
        result.problems.append(f"cannot list the bundle's directory: {error.strerror or error}")
        return
    if len(unsigned) > MAX_ADDED:
        unsigned = unsigned[:MAX_ADDED]
        result.problems.append(f"more than {MAX_ADDED} unsigned entries below the bundle's directory: the first "
                               f"{MAX_ADDED} found are listed (is the bundle in the directory it signs?)")
    for rel, kind in unsigned:
        result.added.append(rel)
        inside = in_signed_directory(rel, directories)
        if kind == EMPTY_DIRECTORY:
            result.problems.append(f"{rel}/: empty directory the bundle does not list")
        elif kind != "file":
            where = "in a signed directory" if inside else "in the bundle's directory tree"
            result.problems.append(f"{rel}: {kind} {where} (never followed or signed)")
        elif not inside:
            result.problems.append(f"{rel}: unsigned file beside the bundle (in its directory tree), not listed")

"""Signing: the ``signed`` manifest of what is signed, and the bundle written beside it."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xzgov.core.errors import Diagnostic, UsageError, output_error
from xzgov.core.fsutil import atomic_write
from xzgov.core.text import visible_text
from xzgov.crypto import keys, sm2
from xzgov.crypto.bundle.format import (
    ALGORITHM,
    DEFAULT_NAME,
    FORMAT,
    VERSION,
    canonical_json,
    load_bundle,
    render_bundle,
)
from xzgov.crypto.bundle.walk import (
    EMPTY_DIRECTORY,
    NotRegular,
    check_inside,
    digest_for_signing,
    first_link,
    kind_of,
    relative_lexical,
    unsigned_entries,
    walk_entries,
)


def _refuse(path: Path, kind: str) -> UsageError:
    return UsageError(
        f"cannot sign {path}: it is a {kind}; only regular files are signed",
        [Diagnostic(str(path), 0, 0, "", f"{kind} in what is signed",
                    hint="remove it, or sign the file it points to by its real path", code="not-regular")],
    )


def _check_name(rel: str) -> None:
    """A bundle names its files in UTF-8 JSON: a name whose bytes are not UTF-8 (Python holds them as lone
    surrogates) cannot be written, and crashed the command (exit 3) after the files had been read."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        shown = visible_text(rel)
        raise UsageError(
            f"cannot sign {shown}: its name is not valid UTF-8",
            [Diagnostic(shown, 0, 0, "", "a file name that is not UTF-8 cannot be named in a bundle",
                        hint="rename it (e.g. convmv -f gbk -t utf-8 --notest NAME), or leave it out of what is "
                             "signed", code="not-regular")],
        ) from None


def _check_placed(item: Path, base: Path) -> None:
    """Refuse ``item`` outside ``base``, or reached through a symbolic link below ``base``."""
    check_inside(item, base)
    link = first_link(base, relative_lexical(item, base))
    if link is not None:
        raise _refuse(link, "symbolic link")


def build_manifest(paths: Iterable[str | Path], key: sm2.SM2PrivateKey, base: Path,
                   exclude: Path | None = None, uid: bytes = sm2.DEFAULT_ID) -> dict[str, Any]:
    """The ``signed`` part of a bundle for ``paths`` (files or directories) relative to ``base``.

    A directory is signed as a tree: its files are listed, and it and every empty directory in it are
    recorded in ``directories`` (``verify`` reports any other entry found there later)."""
    entries: dict[str, Path] = {}
    directories: set[str] = set()
    excluded = exclude.resolve() if exclude is not None else None
    excluded_lexical = os.path.abspath(exclude) if exclude is not None else None
    for raw in paths:
        item = Path(raw)
        if item.is_symlink():
            raise _refuse(item, "symbolic link")
        if item.is_dir():
            _check_placed(item, base)
            directories.add(relative_lexical(item, base))
            candidates = []
            for candidate, kind in walk_entries(item, empty_directories=True):
                if excluded is not None and os.path.abspath(candidate) == str(excluded_lexical):
                    continue
                if kind == EMPTY_DIRECTORY:  # signed as what it is: a later entry in it is reported
                    directories.add(relative_lexical(candidate, base))
                    continue
                if kind != "file":
                    raise _refuse(candidate, kind)
                candidates.append(candidate)
        elif item.is_file():
            _check_placed(item, base)
            candidates = [item]
        elif item.exists():
            raise _refuse(item, kind_of(item.lstat().st_mode))
        else:
            raise UsageError(
                f"cannot sign {item}: no such file or directory",
                [Diagnostic(str(item), 0, 0, "", "no such file or directory", code="unreadable")],
            )
        for candidate in candidates:
            if excluded is not None and candidate.resolve() == excluded:
                continue
            entries[relative_lexical(candidate, base)] = candidate
    if not entries:
        raise UsageError("nothing to sign: no files given")
    for rel in (*entries, *directories):
        _check_name(rel)
    files = []
    keys_inside: list[str] = []
    for rel, source in sorted(entries.items()):
        try:
            size, digest, holds_key = digest_for_signing(base, rel)
        except NotRegular as error:
            raise _refuse(source, error.kind) from error
        except OSError as error:
            raise UsageError(f"cannot read {source}: {error.strerror or error}") from error
        files.append({"path": rel, "size": size, "sm3": digest})
        if holds_key:
            keys_inside.append(str(source))
    if keys_inside:
        # a signed set is handed to assessors and archived: a private key in it (the signing key itself, kept
        # beside the reports) would travel with it, and `verify` fails on any file left out of the set
        raise UsageError(
            f"cannot sign: {', '.join(keys_inside[:5])} hold{'s' if len(keys_inside) == 1 else ''} a private key "
            "or another secret key, which would be handed out with the signed set",
            [Diagnostic(name, 0, 0, "", "a private key (PEM) or a secret key (vault key, crypto service master key "
                        "or HMAC keys) in what is signed",
                        hint="move the key out of the signed directory (keep signing keys outside report "
                             "folders, e.g. /etc/xzgov/keys), then sign again", code="private-key")
             for name in keys_inside])
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


def _refuse_replacing_data(target: Path) -> None:
    """``--out`` may replace an earlier bundle, never another file (``sign out/ --out out/report.json``
    would exclude the report from the bundle and then overwrite it)."""
    if not os.path.lexists(target):
        return
    try:
        load_bundle(target)
    except UsageError as error:
        raise UsageError(
            f"refusing to replace {target}: it is not a signed bundle",
            [Diagnostic(str(target), 0, 0, "--out", "existing file is not an xzgov bundle",
                        hint="choose another --out (an existing bundle there is replaced)", code="exists")],
        ) from error


def _refuse_unsigned_beside(base: Path, signed: dict[str, Any], target: Path) -> None:
    """``verify`` reports every entry below the bundle's directory that the bundle does not sign (at the top
    or in a subdirectory; an empty directory too): refuse to write a bundle that cannot verify."""
    try:
        beside = unsigned_entries(base, {entry["path"] for entry in signed["files"]}, set(signed["directories"]),
                                  os.path.abspath(target), limit=6)
    except OSError as error:
        raise UsageError(f"cannot write {target}: cannot list {base}: {error.strerror or error}") from error
    if beside:
        names = ", ".join(name + ("/" if kind == EMPTY_DIRECTORY else "") for name, kind in beside[:5]) + (
            ", …" if len(beside) > 5 else "")
        raise UsageError(
            f"cannot write {target}: {names} beside it would not be signed, and `verify` fails on anything "
            "unsigned in a bundle's directory tree (subdirectories too)",
            [Diagnostic(str(base), 0, 0, "--out", f"unsigned entries in the bundle's directory: {names}",
                        hint="sign them too (a directory is signed as a tree), remove them, or write the bundle "
                             "(--out) into a directory that holds only what you sign", code="unsigned-beside")],
        )


def sign_files(
    paths: Iterable[str | Path],
    key: sm2.SM2PrivateKey,
    out: str | Path | None = None,
    *,
    uid: bytes = sm2.DEFAULT_ID,
    commits: bool = False,
) -> Path:
    """Sign ``paths`` (files, or directories signed as whole trees) into a detached bundle.

    ``out`` defaults to ``./xzgov-bundle.json``; every path must lie under the bundle's directory.
    Returns the bundle path. ``commits``: the bundle is the command's change (``xzgov sign``; see
    :func:`xzgov.core.fsutil.atomic_write`).
    """
    target = Path(out) if out is not None else Path(DEFAULT_NAME)
    base = target.parent if str(target.parent) else Path(".")
    if not base.is_dir():
        problem = "is not a directory" if base.exists() else "does not exist"
        raise UsageError(f"cannot write {target}: {base} {problem}", [Diagnostic(
            "<command line>", 0, 0, "--out", f"the folder {base} {problem}",
            f"create it (`mkdir -p {base}`) or write the bundle into the folder of the files it signs", "usage")])
    _refuse_replacing_data(target)
    signed = build_manifest(paths, key, base, exclude=target, uid=uid)
    _refuse_unsigned_beside(base, signed, target)
    signature = sm2.sign(key, canonical_json(signed), uid=uid)
    bundle = {"signature": base64.b64encode(signature).decode("ascii"), "signed": signed}
    try:
        return atomic_write(target, render_bundle(bundle), mode=0o644, commits=commits)
    except OSError as error:
        raise output_error(target, error, field="--out") from error

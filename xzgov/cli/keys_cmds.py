"""``xzgov keys``: SM2 key pairs (generate, show, fingerprint). Exit 0 ok, 2 usage or unreadable key."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import Annotated

import typer

from xzgov.cli.crypto_common import (
    PASSPHRASE_ENV,
    FormatOption,
    OutputFormat,
    load_any_public,
    passphrase,
)
from xzgov.cli.output import console, print_json, safe_text
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, output_error

keys_app = typer.Typer(help="SM2 key pairs: generate, show, fingerprint.", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Argument(help="Private key file to write (PEM, mode 0600).", dir_okay=False)],
    public_out: Annotated[
        Path | None, typer.Option("--public-out", help="Public key file (default: <out stem>.pub.pem).")
    ] = None,
    encrypt: Annotated[
        bool, typer.Option("--encrypt", help=f"Protect the key with a passphrase ({PASSPHRASE_ENV} or prompt).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing key files.")] = False,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Generate an SM2 key pair (PKCS#8 / SubjectPublicKeyInfo PEM, readable by OpenSSL 3).

    The private key is encrypted (PBES2: PBKDF2-HMAC-SHA256 + SM4-CBC) when --encrypt is given or
    XZGOV_KEY_PASSPHRASE is set.

    Exit codes: 0 written, 2 usage error (an existing key without --force, a missing folder), 3 the machine
    failed (nothing written: no private key without its public half).
    """
    from xzgov.crypto import keys
    from xzgov.crypto.files import same_file
    from xzgov.crypto.sm2 import SM2PrivateKey

    public_path = public_out or out.with_name(out.name.removesuffix(".pem") + ".pub.pem")
    if same_file(out, public_path):  # with --force the public key would replace the private one
        raise UsageError(
            f"--public-out {public_path} is the private key file {out}; give two different files",
            [Diagnostic(str(public_path), 0, 0, "--public-out", "same file as the private key output",
                        hint="omit --public-out (default: <out stem>.pub.pem) or name another file",
                        code="same-file")],
        )
    if not force:
        for existing in (out, public_path):
            if existing.exists():
                raise UsageError(f"{existing} exists; refusing to overwrite a key (use --force)",
                                 [Diagnostic(str(existing), 0, 0, "", "file exists",
                                             hint="use --force to replace it", code="exists")])
    for target in (out, public_path):  # the path typed is the one a missing folder is reported at
        if not target.parent.is_dir():
            raise output_error(target, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(target)))
    secret = None
    if os.environ.get(PASSPHRASE_ENV) == "":  # set but empty: a CI secret that did not arrive, not "no passphrase"
        raise UsageError(f"{PASSPHRASE_ENV} is set but empty: the new key would be written unencrypted",
                         [Diagnostic("<environment>", 0, 0, PASSPHRASE_ENV, "set to an empty value",
                                     hint=f"give the passphrase in {PASSPHRASE_ENV}, or unset it for an "
                                          "unencrypted key (--encrypt then prompts)", code="passphrase")])
    if encrypt or os.environ.get(PASSPHRASE_ENV):
        secret = passphrase(confirm=True, what=f"new key {out}")
    key = SM2PrivateKey.generate()
    # The pair is written whole or not at all: the public key first (no secret), put back as it was when the
    # private key cannot be written (a full or read-only disk), so no private key is left without its public
    # half and no new public key sits beside the old private one.
    # Two runs replacing the same pair (--force) write one after the other: interleaved, the private key of one
    # sat beside the public key of the other, and both said they wrote a pair.
    from xzgov.core.fsutil import held_files  # (not at import: `xzgov --help` stays light)

    with held_files([out.parent.resolve()], "another `xzgov keys generate`", "keys-busy", wait=True):
        previous = _regular_file(public_path)
        keys.write_public_key(public_path, key.public_key, force=force)
        try:
            keys.write_private_key(out, key, secret, force=force)
        except BaseException:
            _put_back(public_path, previous)
            raise
    fp = keys.fingerprint(key.public_key)
    if output is OutputFormat.json:
        print_json({"private_key": str(out), "public_key": str(public_path), "fingerprint": fp,
                    "encrypted": secret is not None})
    else:
        console.print(safe_text(f"wrote {out} (private, 0600{', encrypted' if secret else ''}) and {public_path}"))
        console.print(f"fingerprint (SM3): {fp}", markup=False)
    return int(ExitCode.OK)


def _regular_file(path: Path) -> tuple[bytes, int] | None:
    """The content and mode of ``path`` when it is a regular file (not a link), else None."""
    try:
        status = path.lstat()
        return (path.read_bytes(), stat.S_IMODE(status.st_mode)) if stat.S_ISREG(status.st_mode) else None
    except OSError:
        return None


def _put_back(path: Path, previous: tuple[bytes, int] | None) -> None:
    """Restore ``path`` to ``previous`` (None: it did not exist); best effort, the caller's error follows."""
    from xzgov.core.fsutil import atomic_write

    with contextlib.suppress(OSError):
        if previous is None:
            path.unlink()
        else:
            atomic_write(path, previous[0], mode=previous[1])


@keys_app.command("show")
def keys_show(
    key: Annotated[Path, typer.Argument(help="Private or public key file (PEM).")],
    output: FormatOption = OutputFormat.text,
) -> int:
    """Show a key's kind, fingerprint and public key (never the private part).

    Exit codes: 0 shown, 2 unreadable or not an SM2 key, or usage error.
    """
    from xzgov.crypto import keys

    kind, public = load_any_public(key)
    info = {
        "file": str(key),
        "kind": kind,
        "algorithm": "SM2 (curve 1.2.156.10197.1.301)",
        "fingerprint": keys.fingerprint(public),
        "public_key_hex": "04" + public.to_hex(),
        "public_key_pem": keys.public_key_to_pem(public),
    }
    if output is OutputFormat.json:
        print_json(info)
    else:
        for name in ("file", "kind", "algorithm", "fingerprint", "public_key_hex"):
            console.print(safe_text(f"{name}: {info[name]}"))
        console.print(info["public_key_pem"], end="", markup=False)
    return int(ExitCode.OK)


@keys_app.command("fingerprint")
def keys_fingerprint(key: Annotated[Path, typer.Argument(help="Private or public key file (PEM).")]) -> int:
    """Print the key's fingerprint: SM3 of its DER SubjectPublicKeyInfo, hex.

    Exit codes: 0 shown, 2 unreadable or not an SM2 key, or usage error.
    """
    from xzgov.crypto import keys

    console.print(keys.fingerprint(load_any_public(key)[1]), markup=False)
    return int(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add ``keys`` to ``app``."""
    app.add_typer(keys_app, name="keys")

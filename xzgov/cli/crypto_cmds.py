"""``xzgov keys | vault | sign | verify``: SM2 keys, SM4-GCM vaulted values, signed evidence bundles.

Exit codes: 0 ok; 1 verification or decryption failed (tampered, wrong key); 2 usage error or
unreadable input. Passphrases come from ``XZGOV_KEY_PASSPHRASE`` or a prompt, never from the
command line; the vault key from ``--key-file`` or ``XZGOV_VAULT_KEY_FILE``.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from xzgov.cli.output import console, console_err, print_diagnostics, print_json
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.crypto import bundle as bundle_mod
from xzgov.crypto import keys as keys_mod
from xzgov.crypto import vault as vault_mod
from xzgov.crypto.sm2 import SM2PrivateKey, SM2PublicKey

PASSPHRASE_ENV = "XZGOV_KEY_PASSPHRASE"
SIGNING_KEY_ENV = "XZGOV_SIGNING_KEY"


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
KeyFileOption = Annotated[
    Path | None,
    typer.Option("--key-file", help="Vault key file (default: $XZGOV_VAULT_KEY_FILE).", dir_okay=False),
]
ScopeOption = Annotated[
    str | None,
    typer.Option("--scope", help="Scope the values are bound to (default: derived from the file's path, "
                 "e.g. host_vars/web1.sm4vault.yml; see docs/crypto.md)."),
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option("--field", "-f", help="Field path, e.g. db.users[0].password (repeatable; default: all)."),
]

keys_app = typer.Typer(help="SM2 key pairs: generate, show, fingerprint.", no_args_is_help=True)
vault_app = typer.Typer(help="SM4-GCM vaulted YAML values (the SM4 counterpart of ansible-vault).",
                        no_args_is_help=True)


# --------------------------------------------------------------------------- helpers

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """Show the crypto package's warnings (exposed key files, version 1 vault values) as plain
    ``warning:`` lines on stderr, each once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                console_err.print(f"warning: {message}", markup=False, soft_wrap=True)


def _with_warnings(command: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _warnings_to_stderr():
            return command(*args, **kwargs)
    return wrapper


def _passphrase(*, confirm: bool, what: str) -> bytes:
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode("utf-8")
    if not sys.stdin.isatty():
        raise UsageError(
            f"{what} needs a passphrase: set {PASSPHRASE_ENV} or run in a terminal to be prompted",
            [Diagnostic("<environment>", 0, 0, PASSPHRASE_ENV, "no passphrase available", code="passphrase")],
        )
    value = typer.prompt(f"Passphrase for {what}", hide_input=True, confirmation_prompt=confirm)
    if not value:
        raise UsageError("an empty passphrase is not allowed")
    return str(value).encode("utf-8")


@_with_warnings
def _load_private(path: Path) -> SM2PrivateKey:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return keys_mod.load_private_key(path)  # raises the located UsageError
    passphrase = _passphrase(confirm=False, what=str(path)) if keys_mod.is_encrypted_pem(text) else None
    return keys_mod.load_private_key(path, passphrase)


def _load_any_public(path: Path) -> tuple[str, SM2PublicKey]:
    try:
        text = path.read_text(encoding="ascii")
        label = keys_mod.pem_decode(text)[0]
    except (OSError, UnicodeDecodeError, keys_mod.KeyFormatError):
        return "public", keys_mod.load_public_key(path)  # raises the located UsageError
    if label == "PUBLIC KEY":
        return "public", keys_mod.load_public_key(path)
    return "private", _load_private(path).public_key


def _vault_files(paths: list[Path], *, writing: bool = False) -> list[Path]:
    for path in paths:
        if writing:  # checked first: a dangling link is refused as a link, not as a missing file
            vault_mod.refuse_symlink(path)
        if not path.is_file():
            raise UsageError(f"cannot read {path}: no such file",
                             [Diagnostic(str(path), 0, 0, "", "no such file", code="unreadable")])
    return paths


# --------------------------------------------------------------------------- keys


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
    """
    public_path = public_out or out.with_name(out.name.removesuffix(".pem") + ".pub.pem")
    if not force:
        for existing in (out, public_path):
            if existing.exists():
                raise UsageError(f"{existing} exists; refusing to overwrite a key (use --force)",
                                 [Diagnostic(str(existing), 0, 0, "", "file exists",
                                             hint="use --force to replace it", code="exists")])
    passphrase = None
    if encrypt or os.environ.get(PASSPHRASE_ENV):
        passphrase = _passphrase(confirm=True, what=f"new key {out}")
    key = SM2PrivateKey.generate()
    keys_mod.write_private_key(out, key, passphrase, force=force)
    keys_mod.write_public_key(public_path, key.public_key, force=force)
    fp = keys_mod.fingerprint(key.public_key)
    if output is OutputFormat.json:
        print_json({"private_key": str(out), "public_key": str(public_path), "fingerprint": fp,
                    "encrypted": passphrase is not None})
    else:
        console.print(f"wrote {out} (private, 0600{', encrypted' if passphrase else ''}) and {public_path}",
                      markup=False)
        console.print(f"fingerprint (SM3): {fp}", markup=False)
    return int(ExitCode.OK)


@keys_app.command("show")
def keys_show(
    key: Annotated[Path, typer.Argument(help="Private or public key file (PEM).")],
    output: FormatOption = OutputFormat.text,
) -> int:
    """Show a key's kind, fingerprint and public key (never the private part)."""
    kind, public = _load_any_public(key)
    info = {
        "file": str(key),
        "kind": kind,
        "algorithm": "SM2 (curve 1.2.156.10197.1.301)",
        "fingerprint": keys_mod.fingerprint(public),
        "public_key_hex": "04" + public.to_hex(),
        "public_key_pem": keys_mod.public_key_to_pem(public),
    }
    if output is OutputFormat.json:
        print_json(info)
    else:
        for name in ("file", "kind", "algorithm", "fingerprint", "public_key_hex"):
            console.print(f"{name}: {info[name]}", markup=False)
        console.print(info["public_key_pem"], end="", markup=False)
    return int(ExitCode.OK)


@keys_app.command("fingerprint")
def keys_fingerprint(key: Annotated[Path, typer.Argument(help="Private or public key file (PEM).")]) -> int:
    """Print the key's fingerprint: SM3 of its DER SubjectPublicKeyInfo, hex."""
    console.print(keys_mod.fingerprint(_load_any_public(key)[1]), markup=False)
    return int(ExitCode.OK)


# --------------------------------------------------------------------------- vault


@vault_app.command("keygen")
@_with_warnings
def vault_keygen(
    out: Annotated[Path, typer.Argument(help="Vault key file to write (mode 0600).", dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key file.")] = False,
) -> int:
    """Create a new 128-bit SM4 vault key file."""
    key = vault_mod.VaultKey.generate()
    vault_mod.write_vault_key(out, key, force=force)
    console.print(f"wrote {out} (vault key id {key.key_id})", markup=False)
    return int(ExitCode.OK)


@vault_app.command("encrypt")
@_with_warnings
def vault_encrypt(
    files: Annotated[list[Path], typer.Argument(help="YAML files to encrypt values in, in place.")],
    field: FieldOption = None,
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Vault string values in place (the named --field paths, default every string value).

    Comments, order and formatting of the file are kept; numbers and booleans stay in clear. Values
    are bound to their field and to the file's scope (format version 2).
    """
    key = vault_mod.load_vault_key(key_file)
    for path in _vault_files(files, writing=True):
        text, count = vault_mod.encrypt_text(vault_mod.read_text(path), key, field or (), source=str(path),
                                             scope=scope)
        if count:
            vault_mod.rewrite_file(path, text)
        console.print(f"{path}: encrypted {count} value(s) with key {key.key_id}", markup=False)
    return int(ExitCode.OK)


@vault_app.command("decrypt")
@_with_warnings
def vault_decrypt(
    files: Annotated[list[Path], typer.Argument(help="YAML files to decrypt values in, in place.")],
    field: FieldOption = None,
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Replace vaulted values by their plaintext, in place (the named --field paths, default all)."""
    key = vault_mod.load_vault_key(key_file)
    for path in _vault_files(files, writing=True):
        text, count = vault_mod.decrypt_text(vault_mod.read_text(path), key, field or (), source=str(path),
                                             scope=scope)
        if count:
            vault_mod.rewrite_file(path, text)
        console.print(f"{path}: decrypted {count} value(s)", markup=False)
    return int(ExitCode.OK)


@vault_app.command("view")
@_with_warnings
def vault_view(
    file: Annotated[Path, typer.Argument(help="YAML file to show decrypted (nothing is written).")],
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Print the file with its vaulted values decrypted."""
    key = vault_mod.load_vault_key(key_file)
    (path,) = _vault_files([file])
    text, _ = vault_mod.decrypt_text(vault_mod.read_text(path), key, source=str(path), scope=scope)
    sys.stdout.write(text)
    sys.stdout.flush()
    return int(ExitCode.OK)


def _scratch_dir() -> str:
    """A private (0700) directory for the plaintext copy, in RAM (/dev/shm) when available."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        with contextlib.suppress(OSError):
            return tempfile.mkdtemp(prefix="xzgov-vault-", dir=shm)
    return tempfile.mkdtemp(prefix="xzgov-vault-")


def _wipe(directory: str) -> None:
    """Overwrite every file left in ``directory`` (the copy, editor swap/backup files), then remove it."""
    for root, _dirs, names in os.walk(directory):
        for name in names:
            target = Path(root) / name
            with contextlib.suppress(OSError):
                if target.is_file() and not target.is_symlink():
                    size = target.stat().st_size
                    with open(target, "r+b") as handle:  # best effort: do not leave plaintext on disk
                        handle.write(b"\0" * size)
                        handle.flush()
                        os.fsync(handle.fileno())
    shutil.rmtree(directory, ignore_errors=True)


def _run_editor(editor: str, scratch: Path, path: Path) -> None:
    try:
        completed = subprocess.run([*shlex.split(editor), str(scratch)], check=False)
    except OSError as error:
        raise UsageError(f"cannot run editor {editor!r}: {error.strerror or error}") from error
    if completed.returncode != 0:
        raise UsageError(f"editor {editor!r} exited with {completed.returncode}; {path} left unchanged")


@vault_app.command("edit")
@_with_warnings
def vault_edit(
    file: Annotated[Path, typer.Argument(help="YAML file to edit with its vaulted values decrypted.")],
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Decrypt into a private temporary file, run $VISUAL/$EDITOR, then vault the values again.

    Every string is vaulted again except fields that were already in clear (unchanged values keep
    their ciphertext). Refused, with a chance to edit again: a vaulted field turned into a number,
    boolean, null, list or mapping; a secret copied in clear elsewhere (also in a comment); invalid
    YAML. The copy lives in /dev/shm when available; editor swap, backup and undo files may still
    hold plaintext (see docs/crypto.md).
    """
    key = vault_mod.load_vault_key(key_file)
    (path,) = _vault_files([file], writing=True)
    original = vault_mod.read_text(path)
    plain, _ = vault_mod.decrypt_text(original, key, source=str(path), scope=scope)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    workdir = _scratch_dir()  # mode 0700
    scratch = Path(workdir) / path.name
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(plain)
        while True:
            _run_editor(editor, scratch, path)
            edited = scratch.read_text(encoding="utf-8")
            if edited == plain:
                console.print(f"{path}: unchanged", markup=False)
                return int(ExitCode.OK)
            try:
                sealed, count = vault_mod.reseal_edited(original, edited, key, source=str(path), scope=scope)
                break
            except XzgovError as error:
                print_diagnostics(list(error.diagnostics))
                console_err.print(f"error: {error.message}", markup=False, soft_wrap=True)
                if not sys.stdin.isatty() or not typer.confirm("Edit again?", default=True, err=True):
                    raise UsageError(f"{path} left unchanged: {error.message}", error.diagnostics) from error
    finally:
        _wipe(workdir)
    vault_mod.rewrite_file(path, sealed)
    console.print(f"{path}: saved, {count} vaulted value(s)", markup=False)
    return int(ExitCode.OK)


@vault_app.command("rekey")
@_with_warnings
def vault_rekey(
    files: Annotated[list[Path], typer.Argument(help="YAML files whose vaulted values get the new key.")],
    new_key_file: Annotated[
        Path | None,
        typer.Option("--new-key-file", help="The new vault key file (default: keep the key; this upgrades "
                     "version 1 values to version 2).", dir_okay=False),
    ] = None,
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Re-encrypt every vaulted value (with a new key, and always in format version 2, bound to the
    file's scope). Files are checked first, then written."""
    old = vault_mod.load_vault_key(key_file)
    new = vault_mod.load_vault_key(new_key_file) if new_key_file is not None else old
    results = []
    for path in _vault_files(files, writing=True):  # decrypt everything before writing anything
        results.append((path, *vault_mod.rekey_text(vault_mod.read_text(path), old, new, source=str(path),
                                                    scope=scope)))
    for path, text, count in results:
        if count:
            vault_mod.rewrite_file(path, text)
        console.print(f"{path}: {count} value(s) now under key {new.key_id}", markup=False)
    return int(ExitCode.OK)


@vault_app.command("encrypt-string")
@_with_warnings
def vault_encrypt_string(
    field: Annotated[str, typer.Option("--field", "-f", help="Field path the value is for (bound in).")],
    key_file: KeyFileOption = None,
    for_file: Annotated[
        Path | None,
        typer.Option("--file", help="The file the value will be pasted into: binds it to that file's scope."),
    ] = None,
    scope: ScopeOption = None,
) -> int:
    """Vault one value read from standard input (one trailing newline removed) and print it.

    Give --file (or --scope) for a value that goes into a YAML file: values are bound to their file.
    """
    key = vault_mod.load_vault_key(key_file)
    if for_file is not None and scope is not None:
        raise UsageError("give --file or --scope, not both")
    bound = scope if scope is not None else vault_mod.file_scope(for_file) if for_file is not None else ""
    if for_file is None and scope is None:
        console_err.print("warning: no --file/--scope: the value is bound to no file and will not decrypt "
                          "inside a vars file", markup=False)
    data = sys.stdin.read()
    value = data[:-1] if data.endswith("\n") else data
    console.print(vault_mod.encrypt_value(key, value, field, scope=bound), markup=False, soft_wrap=True)
    return int(ExitCode.OK)


# --------------------------------------------------------------------------- sign / verify


def sign(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (signed as whole trees).")],
    key: Annotated[
        Path | None,
        typer.Option("--key", "-k", help=f"SM2 private key (default: ${SIGNING_KEY_ENV}).", dir_okay=False),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Bundle to write; files must lie under its directory.")
    ] = Path(bundle_mod.DEFAULT_NAME),
    output: FormatOption = OutputFormat.text,
) -> int:
    """Write a detached signed bundle: SM3 of every file, signed with SM2 (see docs/crypto.md)."""
    key_path = key or (Path(os.environ[SIGNING_KEY_ENV]) if os.environ.get(SIGNING_KEY_ENV) else None)
    if key_path is None:
        raise UsageError(f"no signing key: give --key or set {SIGNING_KEY_ENV}")
    private = _load_private(key_path)
    written = bundle_mod.sign_files(paths, private, out)
    # read back, pinned to our own key: never hand out a bundle that does not verify
    result = bundle_mod.verify_bundle(written, [keys_mod.fingerprint(private.public_key)])
    if not result.ok:  # pragma: no cover - would be a defect
        raise XzgovError(f"internal error: the bundle just written does not verify: {result.problems}",
                         exit_code=ExitCode.INTERNAL)
    if output is OutputFormat.json:
        print_json({"bundle": str(written), "files": result.files, "signer_fingerprint": result.signer_fingerprint,
                    "created": result.created})
    else:
        console.print(f"signed {len(result.files)} file(s) into {written}", markup=False)
        console.print(f"signer fingerprint (SM3): {result.signer_fingerprint}", markup=False)
    return int(ExitCode.OK)


def verify(
    bundle: Annotated[Path, typer.Argument(help="Signed bundle written by `xzgov sign`.")],
    trusted_key: Annotated[
        list[Path] | None, typer.Option("--trusted-key", help="Public key the signer must have (repeatable).")
    ] = None,
    trusted_fingerprint: Annotated[
        list[str] | None,
        typer.Option("--trusted-fingerprint", help="Fingerprint the signer must have (repeatable)."),
    ] = None,
    any_signer: Annotated[
        bool,
        typer.Option("--any-signer", help="Accept any signer when no trusted key is configured "
                     "(checks only that the bundle is self-consistent; not for production)."),
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Verify a bundle: signature, trusted signer, and every file (missing / added / changed).

    The signer must be trusted: --trusted-key / --trusted-fingerprint (repeatable), else the trust
    store $XZGOV_TRUSTED_KEYS (a directory of *.pub.pem files or a file of fingerprints). With no
    trust configured verification fails unless --any-signer is given.

    Exit codes: 0 verified, 1 verification failed (including an untrusted or unpinned signer),
    2 unreadable bundle or trust store, or usage error.
    """
    trusted: list[str] | None = None
    if trusted_key or trusted_fingerprint:
        if any_signer:
            raise UsageError("--any-signer cannot be combined with --trusted-key/--trusted-fingerprint")
        trusted = [bundle_mod.normalise_fingerprint(fp, source="--trusted-fingerprint")
                   for fp in trusted_fingerprint or []]
        trusted += [keys_mod.fingerprint(_load_any_public(p)[1]) for p in trusted_key or []]
    elif not any_signer:
        trusted = bundle_mod.configured_trusted_fingerprints()  # None when $XZGOV_TRUSTED_KEYS is unset
    result = bundle_mod.verify_bundle(bundle, trusted, any_signer=any_signer)
    unpinned = trusted is None
    if output is OutputFormat.json:
        print_json(result.to_json())
    else:
        print_diagnostics(result.diagnostics())
        if result.ok:
            console.print(f"OK: {len(result.files)} file(s) verified, signed {result.created} by "
                          f"{result.signer_fingerprint}", markup=False)
            if unpinned:
                console_err.print("warning: --any-signer: the signer key was not checked against trusted "
                                  "keys; anyone can make a bundle that passes this check", markup=False)
        else:
            summary = []
            for label, items in (("missing", result.missing), ("added", result.added),
                                 ("changed", result.changed)):
                if items:
                    summary.append(f"{label}: {', '.join(items)}")
            if not result.signature_valid:
                summary.append("signature invalid")
            if result.key_trusted is False:
                summary.append("signer key not trusted")
            console_err.print(f"FAILED: {bundle}: {'; '.join(summary) or 'bundle damaged'}", markup=False)
            if unpinned and not any_signer:
                console_err.print(
                    f"hint: no trusted signer is configured. Pin it with --trusted-key SIGNER.pub.pem or "
                    f"--trusted-fingerprint HEX (see `xzgov keys fingerprint`), or set "
                    f"{bundle_mod.TRUSTED_KEYS_ENV} to a directory of *.pub.pem files or a file of "
                    f"fingerprints; --any-signer skips the check (self-consistency only)", markup=False)
    return int(ExitCode.OK if result.ok else ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    """Add ``keys``, ``vault``, ``sign`` and ``verify`` to ``app``."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(vault_app, name="vault")
    app.command("sign")(sign)
    app.command("verify")(verify)

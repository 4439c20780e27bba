"""``xzgov vault``: SM4-GCM vaulted YAML values (keygen, encrypt, decrypt, view, edit, rekey, encrypt-string).

Exit 0 ok; 1 a vaulted value does not decrypt (wrong key, tampered, moved) or breaks the structure
rules; 2 usage error or unreadable input (also: a file another vault command is changing, or one rewritten while
the command ran — nothing written). The vault key comes from ``--key-file`` or ``XZGOV_VAULT_KEY_FILE``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from xzgov.cli.crypto_common import with_warnings
from xzgov.cli.output import console, console_err, print_diagnostics, safe_text
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError

if TYPE_CHECKING:
    from xzgov.crypto.vault import VaultKey

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

#: Longest value `vault encrypt-string` reads from standard input (characters).
_STDIN_LIMIT = 1024 * 1024

vault_app = typer.Typer(help="SM4-GCM vaulted YAML values (the SM4 counterpart of ansible-vault).",
                        no_args_is_help=True)


def _vault_files(paths: list[Path], *, writing: bool = False) -> list[Path]:
    from xzgov.crypto import vault

    for path in paths:
        if writing:  # checked first: a dangling link is refused as a link, not as a missing file
            vault.refuse_symlink(path)
        if not path.is_file():
            what = "not a regular file (FIFO, device or directory)" if path.exists() else "no such file"
            raise UsageError(f"cannot read {path}: {what}",
                             [Diagnostic(str(path), 0, 0, "", what, code="unreadable")])
    return paths
# --------------------------------------------------------------------------- vault


@vault_app.command("keygen")
@with_warnings
def vault_keygen(
    out: Annotated[Path, typer.Argument(help="Vault key file to write (mode 0600).", dir_okay=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key file.")] = False,
) -> int:
    """Create a new 128-bit SM4 vault key file.

    Exit codes: 0 written, 2 usage error (an existing key file, a missing folder), 3 the machine failed (nothing
    written).
    """
    from xzgov.crypto import vault

    key = vault.VaultKey.generate()
    vault.write_vault_key(out, key, force=force)
    console.print(safe_text(f"wrote {out} (vault key id {key.key_id})"))
    return int(ExitCode.OK)


@vault_app.command("encrypt")
@with_warnings
def vault_encrypt(
    files: Annotated[list[Path], typer.Argument(help="YAML files to encrypt values in, in place.")],
    field: FieldOption = None,
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Vault string values in place (the named --field paths, default every string value).

    Comments, order and formatting of the file are kept; numbers and booleans stay in clear. Values
    are bound to their field and to the file's scope (format version 2).

    Exit codes: 0 done, 1 a vaulted value does not decrypt or is malformed, 2 usage error or unreadable input, 3
    the machine failed (the file unchanged).
    """
    return _transform_in_place(files, field, key_file, scope, encrypt=True)


@vault_app.command("decrypt")
@with_warnings
def vault_decrypt(
    files: Annotated[list[Path], typer.Argument(help="YAML files to decrypt values in, in place.")],
    field: FieldOption = None,
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Replace vaulted values by their plaintext, in place (the named --field paths, default all).

    Exit codes: 0 done, 1 a vaulted value does not decrypt or is malformed, 2 usage error or unreadable input, 3
    the machine failed (the file unchanged).
    """
    return _transform_in_place(files, field, key_file, scope, encrypt=False)


def _transform_in_place(files: list[Path], field: list[str] | None, key_file: Path | None, scope: str | None, *,
                        encrypt: bool) -> int:
    """Encrypt or decrypt the selected values of every file, all or nothing: every file is read and
    transformed before any is rewritten."""
    from xzgov.crypto import vault

    key = vault.load_vault_key(key_file)
    transform = vault.encrypt_text if encrypt else vault.decrypt_text
    results, read = [], {}
    paths = _vault_files(files, writing=True)
    with vault.held(paths):  # no other vault command changes them meanwhile
        for path in paths:
            read[path] = vault.read_text(path)
            text, count = transform(read[path], key, field or (), source=str(path), scope=scope)
            results.append((path, text, count))
        vault.rewrite_files([(path, text) for path, text, count in results if count], read)
    done = f"encrypted {{}} value(s) with key {key.key_id}" if encrypt else "decrypted {} value(s)"
    for path, _, count in results:
        console.print(f"{safe_text(str(path))}: {done.format(count)}")
        if not encrypt and count and path.stat().st_mode & 0o077:
            # plaintext secrets in a file others may read: said, not changed (the file's mode is the owner's call)
            console_err.print(f"warning: {safe_text(str(path))} now holds {count} secret(s) in plain text and is "
                              f"readable by others (mode {path.stat().st_mode & 0o777:o}): `chmod 600` it, or vault "
                              "it again (`xzgov vault encrypt`) before it leaves this machine", markup=False)
    return int(ExitCode.OK)


@vault_app.command("view")
@with_warnings
def vault_view(
    file: Annotated[Path, typer.Argument(help="YAML file to show decrypted (nothing is written).")],
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Print the file with its vaulted values decrypted.

    Exit codes: 0 shown, 1 a vaulted value does not decrypt or is malformed, 2 usage error or unreadable input.
    """
    from xzgov.crypto import vault

    key = vault.load_vault_key(key_file)
    (path,) = _vault_files([file])
    text, _ = vault.decrypt_text(vault.read_text(path), key, source=str(path), scope=scope)
    sys.stdout.write(text)
    sys.stdout.flush()
    return int(ExitCode.OK)


_SCRATCH_PREFIX = "xzgov-vault-"
_SHM = "/dev/shm"


def _scratch_dir() -> str:
    """A private (0700) directory for the plaintext copy, in RAM (/dev/shm) when available; its name carries
    this process's id, so that a later edit can tell a copy whose editing process is gone (:func:`_sweep_stale`)."""
    prefix = f"{_SCRATCH_PREFIX}{os.getpid()}-"
    if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK | os.X_OK):
        with contextlib.suppress(OSError):
            return tempfile.mkdtemp(prefix=prefix, dir=_SHM)
    return tempfile.mkdtemp(prefix=prefix)


def _sweep_stale() -> list[str]:
    """Wipe the plaintext copies that edits killed outright (SIGKILL, a power cut in a tmpfs-less /tmp) left
    behind: this user's scratch directories whose process is gone. Returns what was wiped."""
    wiped: list[str] = []
    for parent in dict.fromkeys((_SHM, tempfile.gettempdir())):
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                pid_text = entry.name[len(_SCRATCH_PREFIX):].split("-", 1)[0]
                if not entry.name.startswith(_SCRATCH_PREFIX) or not pid_text.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid \
                            != os.getuid() or _alive(int(pid_text)):
                        continue
                    _wipe(entry.path)
                    wiped.append(entry.path)
    return wiped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True


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
@with_warnings
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

    Exit codes: 0 saved (or unchanged), 1 a vaulted value does not decrypt or is malformed, 2 usage error, an
    editor that failed or an edit that does not parse (the file unchanged), 3 the machine failed (the file
    unchanged).
    """
    from xzgov.crypto import vault

    key = vault.load_vault_key(key_file)
    (path,) = _vault_files([file], writing=True)
    with vault.held([path]):  # held while the editor is open: a rekey meanwhile is refused, not undone at save
        original = vault.read_text(path)
        plain, _ = vault.decrypt_text(original, key, source=str(path), scope=scope)
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        for stale in _sweep_stale():
            console_err.print(safe_text(f"warning: wiped {stale}: a plaintext copy an interrupted edit left behind"),
                              soft_wrap=True)
        # (a hang-up or SIGTERM unwinds through _edit_copy's wipe: xzgov.cli.main.run)
        edited = _edit_copy(path, original, plain, key, editor, scope)
        if edited is None:  # unchanged
            return int(ExitCode.OK)
        sealed, count = edited
        vault.rewrite_file(path, sealed, expected=original)  # and nothing else rewrote it (git, another editor)
    console.print(safe_text(f"{path}: saved, {count} vaulted value(s)"))
    return int(ExitCode.OK)


def _edit_copy(path: Path, original: str, plain: str, key: VaultKey, editor: str, scope: str | None
               ) -> tuple[str, int] | None:
    """Edit ``plain`` in a private copy until it reseals; the copy is wiped whatever happens. Returns the sealed
    text and the number of vaulted values, or ``None`` when the text is unchanged."""
    from xzgov.crypto import vault

    workdir = _scratch_dir()  # mode 0700
    scratch = Path(workdir) / path.name
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(plain)
        while True:
            _run_editor(editor, scratch, path)
            try:  # bytes decoded as they are: no newline translation, CRLF files stay CRLF
                edited = scratch.read_bytes().decode("utf-8")
            except UnicodeDecodeError as error:
                raise UsageError(f"{path} left unchanged: the edited text is not UTF-8 ({error.reason})") from error
            if edited == plain:
                console.print(safe_text(f"{path}: unchanged"))
                return None
            try:
                return vault.reseal_edited(original, edited, key, source=str(path), scope=scope)
            except XzgovError as error:
                print_diagnostics(error.diagnostics)
                console_err.print(f"error: {safe_text(error.message)}", soft_wrap=True)
                if not sys.stdin.isatty() or not typer.confirm("Edit again?", default=True, err=True):
                    raise UsageError(f"{path} left unchanged: {error.message}", error.diagnostics) from error
    finally:
        _wipe(workdir)


@vault_app.command("rekey")
@with_warnings
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
    file's scope). Files are checked first, then written.

    Exit codes: 0 done, 1 a vaulted value does not decrypt or is malformed, 2 usage error or unreadable input, 3
    the machine failed (every file unchanged).
    """
    from xzgov.crypto import vault

    old = vault.load_vault_key(key_file)
    new = vault.load_vault_key(new_key_file) if new_key_file is not None else old
    results, read = [], {}
    paths = _vault_files(files, writing=True)
    with vault.held(paths):
        for path in paths:  # decrypt everything before writing anything
            read[path] = vault.read_text(path)
            results.append((path, *vault.rekey_text(read[path], old, new, source=str(path), scope=scope)))
        vault.rewrite_files([(path, text) for path, text, count in results if count], read)  # all or nothing
    for path, _, count in results:
        console.print(f"{safe_text(str(path))}: {count} value(s) now under key {new.key_id}")
    return int(ExitCode.OK)


@vault_app.command("rescope")
@with_warnings
def vault_rescope(
    files: Annotated[list[Path], typer.Argument(help="YAML files moved or copied here, rewritten in place.")],
    from_scope: Annotated[
        str, typer.Option("--from-scope", help="The scope the values were encrypted for: the file's former "
                          "path from the repository root, or its file name if it was outside a repository.")],
    key_file: KeyFileOption = None,
    scope: ScopeOption = None,
) -> int:
    """Re-bind the vaulted values of a moved file (e.g. a draft onboarded into systems/) to its new scope.

    Every value must decrypt under --from-scope; nothing is written otherwise (all files or none).

    Exit codes: 0 done, 1 a vaulted value does not decrypt or is malformed, 2 usage error or unreadable input, 3
    the machine failed (the file unchanged).
    """
    from xzgov.crypto import vault

    key = vault.load_vault_key(key_file)
    results, read = [], {}
    paths = _vault_files(files, writing=True)
    with vault.held(paths):
        for path in paths:
            new_scope = scope if scope is not None else vault.file_scope(path)
            read[path] = vault.read_text(path)
            text, count = vault.rescope_text(read[path], key, old_scope=from_scope, new_scope=new_scope,
                                             source=str(path))
            results.append((path, text, count, new_scope))
        vault.rewrite_files([(path, text) for path, text, count, _ in results if count], read)
    for path, _, count, new_scope in results:
        console.print(safe_text(f"{path}: {count} value(s) re-bound from scope {from_scope!r} to {new_scope!r}"))
    return int(ExitCode.OK)


@vault_app.command("encrypt-string")
@with_warnings
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

    Exit codes: 0 printed, 2 usage error or unreadable key.
    """
    from xzgov.crypto import vault

    key = vault.load_vault_key(key_file)
    if for_file is not None and scope is not None:
        raise UsageError("give --file or --scope, not both")
    # the scope the file will have once the value is pasted in (it may not exist yet): destination_scope
    bound = scope if scope is not None else vault.destination_scope(for_file) if for_file is not None else ""
    if for_file is None and scope is None:
        console_err.print("warning: no --file/--scope: the value is bound to no file and will not decrypt "
                          "inside a vars file", markup=False)
    if sys.stdin.isatty():  # typed: not echoed (a secret on the screen stays in scrollback and recordings)
        data = str(typer.prompt("Value to vault", hide_input=True, confirmation_prompt=True))
    else:
        data = sys.stdin.read(_STDIN_LIMIT + 1)  # bounded: stdin may be an endless stream
    if len(data) > _STDIN_LIMIT:
        raise UsageError(f"the value on standard input is longer than {_STDIN_LIMIT} characters; "
                         "too large for a vaulted value")
    # one line ending taken off, CRLF included (a value piped from a Windows editor kept its \r)
    value = data[:-2] if data.endswith("\r\n") else data[:-1] if data.endswith("\n") else data
    console.print(vault.encrypt_value(key, value, field, scope=bound), markup=False, soft_wrap=True)
    return int(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add ``vault`` to ``app``."""
    app.add_typer(vault_app, name="vault")

"""Vault files on disk: read, and rewrite in place keeping mode, owner and group, never through a link."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from xzgov.core import fsutil
from xzgov.core.errors import Diagnostic, UsageError, committed, output_error, signals_deferred
from xzgov.core.fsutil import atomic_write
from xzgov.crypto.files import VAULT_FILE_LIMIT, read_regular, read_regular_text


def read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path`` with its line endings as they are (CRLF stays CRLF: the rewrite
    must change only the values); UsageError (exit 2) naming the file when unreadable, not a
    regular file (FIFO, device) or larger than 16 MiB."""
    return read_regular_text(path, limit=VAULT_FILE_LIMIT)


def held(paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
    """Hold each file for one vault command's read, change and rewrite (:func:`xzgov.core.fsutil.held_files`): a
    second vault command on a file one is changing (a ``rekey`` while a ``vault edit`` is open) is refused, exit 2,
    instead of one silently undoing the other."""
    return fsutil.held_files(paths, "another xzgov vault command (an open `vault edit`, a `rekey`…)", "vault-busy")


def _unchanged(path: Path, now: bytes, expected: str | None) -> None:
    """UsageError when ``path`` no longer holds the text the command read (``expected``; None: not checked):
    another program rewrote it meanwhile, and replacing it would undo that change."""
    if expected is not None and now != expected.encode("utf-8"):
        raise UsageError(f"{path} changed while this command ran; nothing was written", [
            Diagnostic(str(path), 0, 0, "", "the file no longer holds the text this command read (another command "
                       "or an editor rewrote it)", hint="run the command again on the file as it is now",
                       code="vault-changed")])


def rewrite_file(path: Path, text: str, *, expected: str | None = None) -> None:
    """Replace ``path`` atomically, keeping its permission bits, owner and group; with ``expected`` (the text the
    command read), refused when the file holds something else by now.

    A symbolic link is refused: vaulted values are bound to the file's own path (its scope), and
    replacing the link by a regular file would silently detach it from its target.
    """
    refuse_symlink(path)
    if expected is not None:
        _unchanged(path, read_regular(path, limit=VAULT_FILE_LIMIT), expected)
    try:
        info = path.stat()
        atomic_write(path, text.encode("utf-8"), mode=info.st_mode & 0o7777, owner=(info.st_uid, info.st_gid),
                     commits=True)  # the edit's change: once in place, the command finishes
    except OSError as error:  # read-only or full file system: exit 3, the file unchanged
        raise output_error(path, error) from None


def rewrite_files(changes: Sequence[tuple[Path, str]], expected: Mapping[Path, str] | None = None) -> None:
    """Replace several files all or nothing, each keeping its mode, owner and group; with ``expected`` (per file
    the text the command read), refused before any is replaced when one holds something else by now.

    Every new content is staged (written and fsynced beside its target) before any target is
    replaced: a failure while staging (disk full, read-only directory, a link planted meanwhile)
    leaves every file as it was. A failure while renaming puts back the files already replaced.
    The failure is raised naming the file (exit 3: the environment failed, nothing was changed).
    """
    for path, _ in changes:
        refuse_symlink(path)
    directories: list[int] = []
    staged: list[tuple[int, str, Path, bytes, os.stat_result]] = []
    replaced: list[tuple[int, Path, bytes, os.stat_result]] = []
    current: Path | None = None  # the file being staged or installed: an error names it, not its temporary
    try:
        try:
            with signals_deferred():  # staging: a signal is raised once every temporary is named (removed below)
                for path, text in changes:
                    current = path
                    info = path.stat()
                    original = read_regular(path, limit=VAULT_FILE_LIMIT)
                    _unchanged(path, original, None if expected is None else expected[path])
                    folder = fsutil.open_directory(path.parent if str(path.parent) else Path("."))
                    directories.append(folder)
                    temporary = fsutil.stage_file(folder, path.name, text.encode("utf-8"),
                                                  mode=info.st_mode & 0o7777, owner=(info.st_uid, info.st_gid))
                    staged.append((folder, temporary, path, original, info))
            with signals_deferred():  # installing: finished and committed, whatever signal comes meanwhile
                for folder, temporary, path, original, info in staged:
                    current = path
                    fsutil.install_file(folder, temporary, path.name, display=path)
                    replaced.append((folder, path, original, info))
                for folder in directories:
                    fsutil.sync_directory(folder)
                committed()  # every file replaced: the command's change is in place
        except BaseException as error:
            for folder, temporary, *_ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=folder)
            for folder, path, original, info in reversed(replaced):  # best effort: put the old bytes back
                with contextlib.suppress(OSError):
                    fsutil.install_file(folder, fsutil.stage_file(folder, path.name, original,
                                                                  mode=info.st_mode & 0o7777,
                                                                  owner=(info.st_uid, info.st_gid)),
                                        path.name, display=path)
            if isinstance(error, OSError) and current is not None:
                raise output_error(current, error) from None
            raise
    finally:
        for folder in directories:
            os.close(folder)


def refuse_symlink(path: Path) -> None:
    """UsageError when ``path`` is a symbolic link (vault commands write files in place)."""
    if path.is_symlink():
        target = os.readlink(path)
        raise UsageError(
            f"{path} is a symbolic link (to {target}); not written: run the command on the file itself",
            [Diagnostic(str(path), 0, 0, "", f"symbolic link to {target}",
                        hint="vaulted values are bound to the path of the file that holds them (its scope), "
                             "so vault commands never write through a link", code="symlink")],
        )

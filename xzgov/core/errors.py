"""Located diagnostics and the exit codes every command shares.

Every user-facing error is a :class:`Diagnostic` that names the file, line, column, field path,
what is wrong and how to fix it. Commands raise :class:`XzgovError`; the CLI entry point turns it
into a report and an exit code, so no traceback ever reaches a user.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


class ExitCode(enum.IntEnum):
    """Stable exit codes (documented in README.md)."""

    OK = 0
    #: invalid input (validate/onboard), findings at or above --fail-on (scan), failed verification (verify)
    FAILED = 1
    #: usage error: unknown option, missing argument, unreadable path, malformed waiver/catalogue for scan
    USAGE = 2
    #: the environment failed (disk full, permission denied) or xzgov has a defect; nothing was changed.
    #: The message says which. Never a traceback.
    INTERNAL = 3


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One located problem in an input file."""

    file: str
    line: int  # 1-based; 0 when the whole file is meant
    column: int  # 1-based; 0 when the whole line/file is meant
    path: str  # field path, e.g. "spec.hosts[0].address"; "" for the document
    message: str
    hint: str = ""
    code: str = "invalid"  # machine-readable class: yaml-syntax, duplicate-key, schema, reference, ...
    severity: str = "error"

    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column or 1}"
        return self.file

    def render(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        text = f"{self.location()}: {self.severity}{where}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class XzgovError(Exception):
    """An error meant for the user. ``diagnostics`` carries located details when there are any."""

    message: str
    diagnostics: Sequence[Diagnostic] = field(default_factory=tuple)
    exit_code: ExitCode = ExitCode.FAILED

    def __str__(self) -> str:
        return self.message


class Terminated(BaseException):
    """SIGTERM (``kill``, a Kubernetes Job's deadline or eviction), raised in the main thread by the entry
    point's handler: the command unwinds as for Ctrl-C — SSH sessions killed, staged output removed, the
    previous output left in place — and exits 143 (128 + 15) as a process the signal killed would. Not an
    :class:`Exception`, so no ``except Exception`` swallows it."""


class HungUp(Terminated):
    """SIGHUP (the terminal or SSH session closed): unwound as :class:`Terminated` — a ``vault edit``'s
    plaintext copy wiped, staged output removed — and exit 129 (128 + 1)."""


#: Set once a command's effect is committed (:func:`committed`); the entry point's signal handlers read it.
_COMMITTED: list[bool] = [False]


def committed() -> None:
    """The command's effect is in place (a register change filed, inventories written): a Ctrl-C or SIGTERM from
    here on would make it report a failure that did not happen — exit 130/143, "stopped before it finished" —
    so the entry point (``xzgov.cli.main.run``) lets the command finish and exit with its own code."""
    _COMMITTED[0] = True


def is_committed() -> bool:
    """Whether :func:`committed` was called during the running command."""
    return _COMMITTED[0]


def reset_committed() -> None:
    """A new command starts (the entry point, at its start and end)."""
    _COMMITTED[0] = False
    _DEFERRING[0] = 0
    _PENDING.clear()


#: How many :func:`signals_deferred` sections are running, and the interrupt that arrived inside one.
_DEFERRING: list[int] = [0]
_PENDING: list[BaseException] = []


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """A short section no Ctrl-C, SIGTERM or SIGHUP may cut in two (a temporary file created and not yet named
    for its removal; files being installed up to the command's commit): the entry point's handlers record the signal
    (:func:`defer_interrupt`), and it is raised when the outermost section ends — so a staging section is followed
    by the cleanup of what it staged, and an install section ends with the commit (the signal is then dropped: the
    command finishes). The main thread's only (where Python runs signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are handled in the main thread: another thread's section must not take them
        return
    _DEFERRING[0] += 1
    try:
        yield
    finally:
        _DEFERRING[0] -= 1
        if _DEFERRING[0] == 0 and _PENDING:
            pending = _PENDING[0]
            _PENDING.clear()
            if not is_committed():
                raise pending


def defer_interrupt(interrupt: BaseException) -> bool:
    """Record ``interrupt`` when a :func:`signals_deferred` section is running (True), else False (raise it)."""
    if not _DEFERRING[0]:
        return False
    if not _PENDING:
        _PENDING.append(interrupt)
    return True


class UsageError(XzgovError):
    """Bad command-line use or an unreadable path: exit 2."""

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = ()) -> None:
        super().__init__(message, tuple(diagnostics), ExitCode.USAGE)


#: errno of an output the machine refuses (exit 3: the environment, not the user's path)
_MACHINE_REFUSED = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})
#: errno of an output path that is wrong itself (exit 2, with a hint): its folder is missing or not a folder,
#: or the path is a folder, exists, or is a link
_MISSING_FOLDER = frozenset({errno.ENOENT, errno.ENOTDIR})
_WRONG_PATH = frozenset({errno.EISDIR, errno.EEXIST, errno.ELOOP, errno.ENAMETOOLONG})


def output_path_wrong(error: OSError) -> bool:
    """True when an OSError writing an output means the path is wrong (exit 2), not the machine (exit 3)."""
    return error.errno in _MISSING_FOLDER or error.errno in _WRONG_PATH


def missing_folder_fix(parent: os.PathLike[str] | str, field: str = "path") -> str:
    """The fix for a folder to write into that is not there: create it (``mkdir -p``) — unless a file stands
    where a folder of it should be, which ``mkdir -p`` cannot create through."""
    probe = os.path.abspath(os.fspath(parent))
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.path.lexists(probe) and not os.path.isdir(probe):
        return f"{probe} is a file, not a folder: give another {field}"
    if probe == os.path.abspath(os.fspath(parent)):  # the folder is there and refuses new files (/proc, /sys)
        return f"{os.fspath(parent)} exists but takes no new files (a special file system): give another {field}"
    return f"create the folder first (`mkdir -p {os.fspath(parent)}`) or give another {field}"


def output_error(path: os.PathLike[str] | str, error: OSError, *, field: str = "") -> XzgovError:
    """The one rule for an OSError while writing an output (a file or folder xzgov writes) at ``path``.

    The machine refuses (disk full, quota, read-only file system, permission denied, I/O error, and any
    errno not listed): exit 3, nothing was changed. The path is wrong (its folder is missing or is not a
    folder; the path is a folder, exists, or is a symbolic link): exit 2 with a hint. Inputs are not
    classified here: an unreadable input stays a usage error (exit 2).
    """
    shown = os.fspath(path)
    reason = error.strerror or str(error)
    code = error.errno
    if code in _MISSING_FOLDER:
        parent = os.path.dirname(shown) or "."
        return UsageError(
            f"cannot write {shown}: {reason}; nothing was changed",
            [Diagnostic(shown, 0, 0, field, f"{parent} takes no new file ({reason})" if os.path.isdir(parent)
                        else f"{parent} is not an existing folder ({reason})", missing_folder_fix(parent),
                        "output-path")])
    if code in _WRONG_PATH:
        return UsageError(
            f"cannot write {shown}: {reason}; nothing was changed",
            [Diagnostic(shown, 0, 0, field, reason, "choose another path", "output-path")])
    hint = ("free space on that file system (or give another path), then run again"
            if code in (errno.ENOSPC, errno.EDQUOT) else
            "write where you may (a writable file system, a folder you own), then run again")
    return XzgovError(  # worded as the CLI words any OSError of the machine (xzgov.cli.main._dispatch)
        f"{reason} ({shown}); nothing was changed",
        [Diagnostic(shown, 0, 0, field, f"cannot write: {reason}", hint,
                    "environment" if code in _MACHINE_REFUSED else "io")],
        ExitCode.INTERNAL)


#: Diagnostics listed per file. Beyond it the rest are only counted: a hostile 4 MB file can carry
#: 500,000 errors, and locating, sorting and printing them all took minutes.
MAX_DIAGNOSTICS_PER_FILE = 50


def cap_per_file(
    diagnostics: Iterable[Diagnostic], limit: int = MAX_DIAGNOSTICS_PER_FILE, *, more: int = 0
) -> list[Diagnostic]:
    """At most ``limit`` diagnostics per file (in the order given), then one saying how many more.

    ``more`` adds errors known to exist but never collected (the caller stopped looking); the count
    is then a lower bound and the message says so.
    """
    kept: list[Diagnostic] = []
    listed: dict[str, int] = {}
    omitted: dict[str, tuple[Diagnostic, int]] = {}
    for diagnostic in diagnostics:
        count = listed.get(diagnostic.file, 0)
        if count < limit:
            listed[diagnostic.file] = count + 1
            kept.append(diagnostic)
        else:
            first, skipped = omitted.get(diagnostic.file, (diagnostic, 0))
            omitted[diagnostic.file] = (first, skipped + 1)
    for file, (first, skipped) in omitted.items():
        total = f"at least {skipped + more}" if more else str(skipped)
        kept.append(Diagnostic(file, first.line or 1, first.column or 1, first.path,
                               f"{total} more error{'s' * (skipped + more != 1)} in this file, not listed",
                               "fix the errors listed and validate again", "truncated", first.severity))
    return kept

"""The one way xzgov writes files: atomic, with explicit permissions, never through a symbolic link.

Every file the tool writes (reports, plans, inventories, manifests, keys, vault files, bundles) goes
through :func:`atomic_write` (one file), :class:`xzgov.core.transaction.FileTransaction` (several,
all or nothing) or :func:`staged_directory` (a whole output directory replaced in one step). All of
them are built on the same primitives here:

* :func:`open_directory` reaches the target's directory component by component with
  ``O_NOFOLLOW`` relative to the previous descriptor, so a symbolic link planted anywhere below the
  directory the user named is refused (exit 2), never followed — and cannot be swapped in halfway;
* :func:`stage_file` writes a new temporary file beside the target with ``O_CREAT|O_EXCL|O_NOFOLLOW``
  and its final permissions from the start (a secret is never readable by others, not even briefly),
  and fsyncs it;
* :func:`install_file` renames it over the target (a rename replaces a link, it never writes through
  it; a link found there is refused with a clear error instead) and the directory is fsynced.

A failure at any step leaves the previous file intact and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path, PurePath

from xzgov.core.errors import (
    Diagnostic,
    UsageError,
    committed,
    output_error,
    output_path_wrong,
    signals_deferred,
)

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class SecurityWarning(UserWarning):
    """Something works but is less safe than it should be (e.g. a key file readable by others)."""


class UnsafePathError(UsageError):
    """A symbolic link, or something that is not a directory, where xzgov writes: exit 2, nothing written."""

    def __init__(self, path: Path, what: str, *, field: str = "", hint: str = "") -> None:
        hint = hint or (f"remove it (`rm {path}`) or choose another output location; xzgov never writes "
                        "through a symbolic link")
        super().__init__(f"refusing to write {path}: {what}",
                         [Diagnostic(str(path), 0, 0, field, what, hint, "unsafe-path")])


#: what a register's load reads as YAML below its root: an output written there breaks every later command
REGISTER_INPUTS = ("systems", "region.yaml", "compliance/waivers", "compliance/attestations")


def check_outside_register(target: Path, root: Path, *, field: str = "--out",
                           inputs: tuple[str, ...] = REGISTER_INPUTS) -> None:
    """Refuse (exit 2) an output at or below one of the register's ``inputs`` under ``root``: `plan --out systems`
    wrote its manifests among the systems', and validate, scan, plan and dr failback then failed on them."""
    resolved = target.resolve()
    for name in inputs:
        read = (root / name).resolve()
        if resolved == read or resolved.is_relative_to(read):
            raise UnsafePathError(target, f"it lies inside the register's {name} (read as input by every command: "
                                  "the output would break the register)", field=field,
                                  hint="write it outside the register, e.g. out/…")


def check_secret_file_mode(path: str | Path, what: str) -> None:
    """Refuse (:class:`UsageError`, exit 2) a secret file that others may read or write, as OpenSSH refuses such a
    private key; warn (:class:`SecurityWarning`) when only its group may — a Kubernetes Secret mounted for a pod's
    ``fsGroup`` is 0440, and the scanner's CronJob reads its signing key so."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o007:
        message = f"{what} {path} can be read or written by others (mode {mode:04o}): refusing to use it"
        raise UsageError(message, [Diagnostic(str(path), 0, 0, "", message, hint=(
            f"run `chmod 600 {path}`; if anyone else could read it, treat the key as disclosed and replace it"),
            code="key-exposed")])
    if mode & 0o070:
        warnings.warn(
            f"{what} {path} is readable by its group (mode {mode:04o}); run `chmod 600 {path}` unless the group "
            "is meant to read it (a Kubernetes Secret for a pod's fsGroup)",
            SecurityWarning, stacklevel=3,
        )


def _describe(name: str, dir_fd: int) -> str:
    """What is at ``name`` instead of a directory or regular file, for the error message."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "not a directory"
    if stat.S_ISLNK(info.st_mode):
        with contextlib.suppress(OSError):
            return f"it is a symbolic link (→ {os.readlink(name, dir_fd=dir_fd)})"
        return "it is a symbolic link"
    if stat.S_ISDIR(info.st_mode):
        return "it is a directory"
    return "it is not a directory" if not stat.S_ISREG(info.st_mode) else "it is a file, not a directory"


def open_directory(
    base: Path, relative: str | PurePath = "", *, create: bool = False,
    created: list[Path] | None = None, field: str = "",
) -> int:
    """A descriptor on ``base/relative`` reached without following any symbolic link below ``base``.

    ``base`` is the directory the user named and is trusted as is (it may itself sit under a linked
    path such as /tmp → /private/tmp); every component of ``relative`` must be a real directory, else
    :class:`UnsafePathError`. With ``create`` missing components are made (mode 0755 before umask) and
    appended to ``created``. The caller closes the descriptor.
    """
    parts = PurePath(relative).parts
    if any(part in {"..", "/"} for part in parts):
        raise ValueError(f"{relative!r} must be a relative path below {base} without '..'")
    fd = os.open(base if str(base) else ".", _DIRECTORY & ~os.O_NOFOLLOW)
    here = base
    try:
        for part in parts:
            here = here / part
            try:
                child = os.open(part, _DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    if created is not None:
                        created.append(here)
                except FileExistsError:  # made concurrently: open (and check) whatever is there now
                    pass
                child = _open_child(part, fd, here, field)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePathError(here, _describe(part, fd), field=field) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_child(part: str, fd: int, here: Path, field: str) -> int:
    try:
        return os.open(part, _DIRECTORY, dir_fd=fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(here, _describe(part, fd), field=field) from None
        raise


def stage_file(
    dir_fd: int, name: str, data: bytes, *, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> str:
    """Write ``data`` to a new hidden temporary file in ``dir_fd`` and fsync it; return its name.

    Created with ``O_EXCL|O_NOFOLLOW`` (never an existing file or link) and, from the start, with
    ``mode`` and ``owner`` (uid, gid) when permitted (the group alone when the user cannot give files
    away). On any failure the temporary file is removed. :func:`install_file` renames it into place.
    """
    for _ in range(100):
        temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temporary, _NEW_FILE, 0o600, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise FileExistsError(errno.EEXIST, "cannot create a unique temporary file", name)
    try:
        if owner is not None:
            try:
                os.fchown(fd, *owner)
            except PermissionError:
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, -1, owner[1])
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise
    os.close(fd)
    return temporary


def install_file(
    dir_fd: int, temporary: str, name: str, *, display: Path, overwrite: bool = True, field: str = ""
) -> None:
    """Rename the staged ``temporary`` to ``name`` in ``dir_fd``; the temporary is gone afterwards.

    A symbolic link or a directory at ``name`` is refused (:class:`UnsafePathError`, exit 2): the
    rename would not follow it, but silently replacing what someone planted hides the attack. With
    ``overwrite=False`` an existing ``name`` is never replaced (FileExistsError), checked by a hard
    link so there is no window between the check and the rename.
    """
    try:
        try:
            info: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(display, _describe(name, dir_fd), field=field)
        if overwrite:
            os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        else:
            os.link(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
            os.unlink(temporary, dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise


def sync_directory(dir_fd: int) -> None:
    """Make renames in ``dir_fd`` durable; best effort (some filesystems refuse fsync on a directory)."""
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)


def read_existing(base: Path, relative: str | PurePath) -> bytes | None:
    """The bytes of ``base/relative`` (``None`` when absent), read without following a link below ``base``."""
    path = PurePath(relative)
    try:
        dir_fd = open_directory(base, path.parent)
    except FileNotFoundError:
        return None
    try:
        try:
            fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise UnsafePathError(base / path, _describe(path.name, dir_fd)) from None
            raise
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # read as a file, a folder's error named the descriptor: "Is a directory (5)"
            os.close(fd)
            what = "it is a directory" if stat.S_ISDIR(mode) else "it is not a regular file"
            raise UnsafePathError(base / path, what, hint=f"remove it (`rm -r {base / path}`) or move it away: "
                                  "xzgov writes a file there")
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def held_files(paths: Sequence[Path], holder: str, code: str, *, wait: bool = False) -> Iterator[None]:
    """Hold each file (or folder) for one command's read, change and rewrite: an exclusive ``flock`` on the file
    itself (no lock file beside it for Ansible or git to see), released when the process ends, however it ends.
    Taken without waiting — a file another command holds is a UsageError (exit 2, ``code``; ``holder`` says who
    holds it), nothing written — or, with ``wait``, after the other command has finished (one whose outcome does
    not depend on what the other wrote, such as a key pair written whole). A file named twice (or a hard link) is
    held once; one that cannot be opened is left to the command's own read or write to report."""
    descriptors: list[int] = []
    files: set[tuple[int, int]] = set()
    try:
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            except OSError:
                continue
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) in files:
                os.close(fd)
                continue
            files.add((info.st_dev, info.st_ino))
            descriptors.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"{path} is being changed by another command; nothing was written", [
                    Diagnostic(str(path), 0, 0, "", f"{holder} holds this file",
                               hint="run the command again once the other one has finished", code=code)]) from None
            except OSError:
                pass  # a file system without locks
        yield
    finally:
        for fd in descriptors:
            os.close(fd)


def atomic_write(
    path: str | Path,
    data: bytes,
    *,
    mode: int = 0o644,
    overwrite: bool = True,
    owner: tuple[int, int] | None = None,
    base: Path | None = None,
    field: str = "",
    commits: bool = False,
) -> Path:
    """Write ``data`` to ``path`` atomically with permissions ``mode``; never through a symbolic link.
    ``commits``: the file is the command's change (a signed bundle, a signed set): once it is in place the command
    is committed (:func:`xzgov.core.errors.committed`), so a signal during the write lets it finish.

    Without ``base`` the directory of ``path`` must exist and only the final component is protected;
    with ``base`` (the directory the user named) every component between it and ``path`` must be a
    real directory and missing ones are created. ``overwrite=False``: an existing file is never
    replaced (FileExistsError). ``owner`` (uid, gid) is applied when permitted. ``field`` names the
    option an :class:`UnsafePathError` points at (e.g. ``--out``).
    """
    target = Path(path)
    if base is None:
        directory = open_directory(target.parent if str(target.parent) else Path("."))
    else:
        directory = open_directory(base, target.parent.relative_to(base), create=True, field=field)
    temporary: str | None = None
    try:
        # A signal waits while the temporary is created and named (else it was left behind), and is raised once it
        # is: removed below, nothing written. A file that commits holds it through the rename and the commit (the
        # command then finishes); any other is interrupted as before (a signal after the rename: the file written).
        with signals_deferred():
            temporary = stage_file(directory, target.name, data, mode=mode, owner=owner)
        with signals_deferred() if commits else contextlib.nullcontext():
            install_file(directory, temporary, target.name, display=target, overwrite=overwrite, field=field)
            temporary = None  # renamed (or removed by install_file when it failed)
            if commits:
                committed()
        sync_directory(directory)
    except BaseException:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=directory)
        raise
    finally:
        os.close(directory)
    return target


# ------------------------------------------------------------------------------- whole directories


def check_output_directory(target: Path, expected: Collection[str] | None = None, *, field: str = "--out") -> None:
    """Refuse (exit 2) an output directory xzgov may not replace as a whole.

    ``target`` must be absent or a real directory (not a link, not a file); with ``expected``, it may
    hold only those names, none of them a link, so a mistyped ``--out`` (``.``, a home directory) is
    never swapped away and a planted link is reported.
    Call it before the expensive work, so a bad ``--out`` fails fast; :func:`staged_directory` checks again.
    """
    if expected is not None:  # the folder replaced as a whole (without: a folder xzgov writes into)
        _check_replaceable(target, field)
    try:
        info = target.lstat()
    except (FileNotFoundError, NotADirectoryError):
        _check_creatable(target, field)
        return
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(target, f"it is a symbolic link (→ {os.readlink(target)})", field=field,
                              hint="give the real directory, or remove the link")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(target, "it is a file, not a directory", field=field,
                              hint="give a directory (it is created when missing)")
    if expected is not None:
        names = sorted(os.listdir(target))
        for name in names:  # a planted link is tampering: say so rather than quietly drop it with the old set
            if (target / name).is_symlink():
                raise UnsafePathError(target / name, f"it is a symbolic link (→ {os.readlink(target / name)})",
                                      field=field)
        foreign = [name for name in names if name not in expected]
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            raise UsageError(
                f"refusing to replace {target}: it holds files xzgov did not write ({shown})",
                [Diagnostic(str(target), 0, 0, field, f"the output directory holds other files: {shown}",
                            "give an empty or new directory; xzgov replaces its output directory as a whole",
                            "unsafe-path")],
            )


def _check_replaceable(target: Path, field: str) -> None:
    """Refuse (exit 2) a folder that cannot be swapped for a new one: the current directory or one holding it (the
    staging folder "beside" ``.`` is inside it: the work ran, then the swap refused the folder for holding it), or
    a name too long for the staging and previous-set folders named after it."""
    where = target.resolve()
    try:
        here: Path | None = Path.cwd().resolve()
    except FileNotFoundError:  # the working directory was removed: it holds nothing
        here = None
    if here is not None and (where == here or where in here.parents):
        raise UnsafePathError(target, "it is the current directory or a folder holding it", field=field,
                              hint="give a named directory below it, e.g. reports")
    if len(os.fsencode(where.name)) > _LONGEST_NAME:
        raise UnsafePathError(target, f"its name is longer than {_LONGEST_NAME} bytes (the folders named after it "
                              "while it is replaced add 19 to a file system's 255)", field=field,
                              hint="give a shorter name")


def _check_creatable(target: Path, field: str) -> None:
    """Refuse a missing ``target`` that cannot be created (checked before the work, not after it): exit 2
    when its nearest existing ancestor is a file or takes no new entry (/proc); exit 3 when the machine
    refuses (read-only or full file system, permission denied: :func:`~xzgov.core.errors.output_error`)."""
    ancestor = target.parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UnsafePathError(target, f"{ancestor} is a file, not a directory", field=field,
                              hint="give an output directory whose parent is a directory (it is created when missing)")
    try:  # a probe, not os.access: root may "write" anywhere by permissions, yet not on /proc or a read-only mount
        os.rmdir(tempfile.mkdtemp(prefix=".xzgov-probe-", dir=ancestor))
    except OSError as error:
        if not output_path_wrong(error):  # read-only, full, permission denied: the machine, exit 3
            raise output_error(target, error, field=field) from None
        raise UnsafePathError(target, f"no directory can be made in {ancestor}: {error.strerror or error}", field=field,
                              hint="give an output directory where you may write") from None


#: The longest name of a folder :func:`staged_directory` can replace: NAME_MAX (255 bytes on Linux's file systems)
#: less the longest name made from it, ``.<name>.previous-`` + mkdtemp's 8 characters (:func:`_swap_in`'s
#: two-rename fallback; ``.<name>.staging-`` is one byte shorter).
_LONGEST_NAME = 255 - 19


def _staging_beside(target: Path, field: str, created: list[Path]) -> Path:
    """A new private directory beside ``target`` (its parent created when missing: each folder made is added to
    ``created``, deepest last); exit 3 when the file system turned read-only or full since
    :func:`check_output_directory`, exit 2 when the path is wrong."""
    try:
        missing = [folder for folder in (target.parent, *target.parent.parents) if not os.path.lexists(folder)]
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    except OSError as error:
        if not output_path_wrong(error):  # read-only, full, permission denied: the machine, exit 3
            raise output_error(target, error, field=field) from None
        raise UnsafePathError(target, f"cannot create it: {error.strerror or error}", field=field,
                              hint="give an output directory whose parent is a directory") from None


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (made in this order) that are still empty, deepest first."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def staged_directory(
    target: Path, expected: Collection[str] | None = None, *, field: str = "--out"
) -> Iterator[Path]:
    """Yield a new private directory beside ``target``; fill it, and on success it replaces ``target``.

    The swap is one atomic exchange of the two directories (``renameat2(RENAME_EXCHANGE)``; where that
    is unavailable, two renames with the previous directory restored on failure); the previous
    ``target`` is then deleted. If the body raises (disk full, a defect, an interrupt), the staging
    directory is removed and ``target`` is byte-identical. A kill before the swap leaves at most a
    hidden ``.<name>.staging-*`` directory beside it.
    """
    check_output_directory(target, expected, field=field)
    created: list[Path] = []  # the folders made on the way to target: removed again when nothing is written
    try:
        staging = _staging_beside(target, field, created)
    except BaseException:
        _remove_empty(created)
        raise
    swapped = False
    try:
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; reports and plans are for reading
        yield staging
        check_output_directory(target, expected, field=field)  # again: the body may have run for minutes
        # From here a Ctrl-C or SIGTERM lets the command finish: the new directory goes in and the previous one is
        # removed whole, and the exit code is the command's (the signal reported "stopped before it finished" with
        # the new set in place, or cut the removal short and left the previous set half-deleted beside it).
        committed()
        _swap_in(staging, target, lambda: check_output_directory(target, expected, field=field))
        swapped = True
    except OSError as error:  # disk full, read-only, ... while filling or swapping: exit 3 naming the output
        if output_path_wrong(error):  # not necessarily the output's path (the body may read): left as it is
            raise
        raise output_error(target, error, field=field) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the new set on failure, the previous one after a swap
        if not swapped:  # an interrupt or a failure leaves no empty --out behind
            _remove_empty(created)
    parent = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sync_directory(parent)
    finally:
        os.close(parent)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); ``False`` when the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _swap_in(staging: Path, target: Path, recheck: Callable[[], None]) -> None:
    """Put ``staging`` at ``target``; afterwards ``staging`` holds the previous target (or nothing). ``recheck``
    raises when a directory that appeared at ``target`` meanwhile is not one to replace."""
    if not os.path.lexists(target):
        try:
            os.rename(staging, target)  # never over a link or file created meanwhile: rename of a dir refuses
            return
        except OSError as error:
            # another run put its own output there meanwhile (two scans into one new --out): exchanged with it
            # below, as when it was there first, once it holds only what an output holds; anything else stays
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not os.path.isdir(target) \
                    or os.path.islink(target):
                raise
            recheck()
    if _exchange(staging, target):
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.previous-", dir=target.parent))
    os.rename(target, backup)  # replaces the empty backup directory
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    os.rename(backup, staging)


def read_text_or_raise(
    path: str | Path, what: str = "", *, encoding: str = "utf-8", code: str = "unreadable", note: str = ""
) -> str:
    """The text of ``path``, or a UsageError (exit 2) naming the file: ``cannot read <what> <path><note>:
    <reason>``. ``what`` says what the file is (``"private key"``), ``note`` adds context after the path."""
    source = Path(path)
    try:
        return source.read_text(encoding=encoding)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        named = f"{what} {source}" if what else str(source)
        raise UsageError(
            f"cannot read {named}{note}: {reason}",
            [Diagnostic(str(source), 0, 0, "", f"cannot read{' ' + what if what else ''}: {reason}", code=code)],
        ) from error


def display_path(path: Path, base: Path | None = None) -> str:
    """``path`` as users see it in messages: relative to ``base`` (default the working directory) when it
    lies below it, else as given."""
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def listed_tree(root: Path, *, skip: str = "") -> list[Path]:
    """Every path below the folder ``root`` (folders and files, links not followed), sorted, without descending
    into hidden folders or folders named ``skip``. A folder that cannot be listed is refused (exit 2, as an
    unreadable file), never skipped: ``Path.rglob`` skipped it in silence, so the register was "valid" without
    its systems and onboarding rewrote the inventories without their hosts. ``root`` itself may be a link to a
    folder (an inventory directory linked from elsewhere: its files are digested, as Ansible reads them; the
    register refuses a linked ``systems/`` itself); nothing when it is no folder."""

    def unreadable(error: OSError) -> None:
        folder = error.filename or str(root)
        raise UsageError(f"{folder}: cannot list the folder: {error.strerror}", [
            Diagnostic(str(folder), 0, 0, "", f"cannot list the folder ({error.strerror}): what is in it would be "
                       "left out", f"make it readable (`chmod u+rx {folder}`) or run as a user who can read it",
                       "io")])

    found: list[Path] = []
    if root.is_dir():
        for folder, folders, files in os.walk(root, onerror=unreadable):
            here = Path(folder)
            found += (here / name for name in (*folders, *files))
            folders[:] = [name for name in folders if not name.startswith(".") and name != skip]
    return sorted(found)

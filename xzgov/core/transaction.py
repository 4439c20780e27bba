"""All-or-nothing writes of several files under one root, and the register's exclusive lock.

Every new content is first written to a temporary file beside its target and synced; only then are
the targets replaced one by one. If anything fails, targets already replaced get their previous
bytes back (or are removed when they did not exist), so a failed onboarding leaves the register and
the inventories byte-identical. Every directory below the root is reached without following a
symbolic link and no target is written through one (:mod:`xzgov.core.fsutil`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from xzgov.core.errors import committed, output_error, signals_deferred
from xzgov.core.fsutil import UnsafePathError, install_file, open_directory, read_existing, stage_file, sync_directory

#: The register's lock file, in the register root; every command writing systems/ or inventories/ holds it.
LOCK_FILE = ".xzgov.lock"


@contextlib.contextmanager
def register_lock(root: Path) -> Iterator[None]:
    """Hold the exclusive lock of the register under ``root`` (blocks while another xzgov holds it).

    Without it two onboardings validate against the same register and both write: one system's
    hosts vanish from the inventory, two systems get the same address. The lock file is never
    followed if it is a link; the lock is released when the process exits, however it exits.
    """
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafePathError(root / LOCK_FILE, "the register lock file is a symbolic link",
                                  field="--root") from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class FileTransaction:
    """Stage writes of files below ``root``; :meth:`commit` applies them all or none."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staged: dict[PurePath, bytes] = {}

    def write(self, path: Path, content: str | bytes) -> None:
        """Stage ``content`` for ``path``, which must be ``root / <relative path>``."""
        relative = PurePath(path.relative_to(self.root))  # ValueError: a defect in the caller, not input
        if ".." in relative.parts or not relative.parts:
            raise ValueError(f"{path} is not below {self.root}")
        self._staged[relative] = content.encode("utf-8") if isinstance(content, str) else content

    def changed_paths(self) -> list[Path]:
        """Staged paths whose content differs from what is on disk (a symbolic link is refused)."""
        return [self.root / relative for relative, data in self._staged.items()
                if read_existing(self.root, relative) != data]

    def commit(self) -> list[Path]:
        """Apply every staged write that changes something; return the paths written."""
        targets = [PurePath(path.relative_to(self.root)) for path in self.changed_paths()]
        created: list[Path] = []
        directories: dict[PurePath, int] = {}
        temporaries: dict[PurePath, str] = {}
        originals: dict[PurePath, tuple[bytes, int] | None] = {}
        replaced: list[PurePath] = []
        relative = PurePath()
        try:
            with signals_deferred():  # staging: a signal is raised once every temporary is named (rolled back below)
                for relative in targets:
                    if relative.parent not in directories:
                        directories[relative.parent] = open_directory(self.root, relative.parent, create=True,
                                                                      created=created)
                    folder = directories[relative.parent]
                    originals[relative] = _original(folder, relative.name)
                    previous = originals[relative]
                    mode = previous[1] if previous is not None else 0o644
                    temporaries[relative] = stage_file(folder, relative.name, self._staged[relative], mode=mode)
            with signals_deferred():  # installing: finished and committed, whatever signal comes meanwhile
                for relative in targets:
                    install_file(directories[relative.parent], temporaries.pop(relative), relative.name,
                                 display=self.root / relative)
                    replaced.append(relative)
                for folder in directories.values():
                    sync_directory(folder)
                committed()  # in place: an interrupt from now on would report a failure that did not happen
        except OSError as error:  # named by the file being written, never by its hidden temporary
            self._roll_back(directories, temporaries, originals, replaced, created)
            raise output_error(self.root / relative, error) from error
        except BaseException:
            self._roll_back(directories, temporaries, originals, replaced, created)
            raise
        finally:
            for folder in directories.values():
                os.close(folder)
        return [self.root / relative for relative in targets]

    def _roll_back(
        self, directories: dict[PurePath, int], temporaries: dict[PurePath, str],
        originals: dict[PurePath, tuple[bytes, int] | None], replaced: list[PurePath], created: list[Path],
    ) -> None:
        for relative, temporary in temporaries.items():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=directories[relative.parent])
        for relative in reversed(replaced):
            folder = directories[relative.parent]
            previous = originals[relative]
            if previous is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(relative.name, dir_fd=folder)
            else:
                install_file(folder, stage_file(folder, relative.name, previous[0], mode=previous[1]),
                             relative.name, display=self.root / relative)
        for folder_path in reversed(created):
            with contextlib.suppress(OSError):
                folder_path.rmdir()


def _original(dir_fd: int, name: str) -> tuple[bytes, int] | None:
    """Bytes and permissions of ``name`` in ``dir_fd`` before the commit (``None`` when new)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None  # a link: install_file refuses it with a located error before anything is replaced
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # read as a file, a folder's error named the descriptor: "Is a directory (5)"
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, "not a regular file (a folder?) where a file is written", name) \
            if stat.S_ISDIR(mode) else OSError(errno.EINVAL, "not a regular file where a file is written", name)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(), mode & 0o777

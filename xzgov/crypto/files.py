"""Reading the crypto package's input files: regular files only, with a size cap.

Keys, trust stores, vault key files, vault files and bundles are named by the user (or by an
environment variable). A FIFO would block ``read()`` forever and a device (``/dev/zero``) would
exhaust memory, so every such file is ``stat``-ed first (a FIFO or device is never opened), opened
with ``O_NONBLOCK``, checked again on the descriptor (the same regular file) and read up to a cap.
Every refusal is a :class:`~xzgov.core.errors.UsageError` (exit 2) naming the file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import yaml

from xzgov.core.errors import Diagnostic, UsageError

KiB = 1024
MiB = 1024 * KiB

#: Caps (bytes). Generous for real files, small enough that a wrong file fails fast.
KEY_LIMIT = 64 * KiB  # a PEM key is < 1 KiB
VAULT_KEY_LIMIT = 4 * KiB  # one line of 55 bytes
TRUST_STORE_LIMIT = 1 * MiB  # ~15,000 fingerprints
VAULT_FILE_LIMIT = 16 * MiB  # YAML vars files
BUNDLE_LIMIT = 64 * MiB  # ~400,000 file entries

_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def kind_of(mode: int) -> str:
    """What an ``lstat`` mode is, for messages: ``file``, ``symbolic link``, ``FIFO``, ..."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _refused(path: Path, what: str, reason: str, code: str) -> UsageError:
    named = f"{what} {path}" if what else str(path)
    return UsageError(
        f"cannot read {named}: {reason}",
        [Diagnostic(str(path), 0, 0, "", f"cannot read{' ' + what if what else ''}: {reason}", code=code)],
    )


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB else f"{limit // KiB} KiB"


def read_regular(path: str | Path, what: str = "", *, limit: int, code: str = "unreadable",
                 follow: bool = True) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``); UsageError (exit 2) naming it otherwise.

    ``follow=False`` refuses a symbolic link at the final component (``O_NOFOLLOW``).
    """
    source = Path(path)
    try:
        before = os.stat(source, follow_symlinks=follow)
        if not stat.S_ISREG(before.st_mode):  # checked before opening: a FIFO or device is never opened
            raise _refused(source, what, f"it is a {kind_of(before.st_mode)}, not a regular file", code)
        fd = os.open(source, _READ | (0 if follow else os.O_NOFOLLOW))
    except OSError as error:
        raise _refused(source, what, error.strerror or str(error), code) from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise _refused(source, what, "it was replaced while being opened", code)
        if info.st_size > limit:
            raise _refused(source, what, f"too large ({info.st_size} bytes; at most {_size(limit)})", code)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # the size may grow after fstat: never read more than the cap
            chunk = os.read(fd, min(1 * MiB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise _refused(source, what, f"too large (more than {_size(limit)})", code)
        return b"".join(chunks)
    except OSError as error:
        raise _refused(source, what, error.strerror or str(error), code) from error
    finally:
        os.close(fd)


def read_regular_text(path: str | Path, what: str = "", *, limit: int, encoding: str = "utf-8",
                      code: str = "unreadable", follow: bool = True) -> str:
    """:func:`read_regular` decoded; line endings are kept as they are (no newline translation)."""
    data = read_regular(path, what, limit=limit, code=code, follow=follow)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise _refused(Path(path), what, f"not {encoding} text ({error.reason} at byte {error.start})",
                       code) from error


def same_file(first: str | Path, second: str | Path) -> bool:
    """True when the two paths name the same file: equal after resolving links, or the same inode
    (a hard link). Paths that do not exist yet compare by their resolved location."""
    one, two = Path(first), Path(second)
    if one.resolve() == two.resolve():
        return True
    try:
        a, b = os.stat(one), os.stat(two)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


# Quoted parts of a PyYAML problem (an alias name, a tag, a character): kept only when they are one
# character (``'\\t'``, ``'@'``) or a token name (``'<stream end>'``), otherwise replaced by ``'…'``.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_SAFE_QUOTED = re.compile(r"""(['"])(?:<[a-z ]+>|[^\\]|\\[\\'"abfnrtv0]"""
                          r"""|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8})\1""")


def _redact_quoted(match: re.Match[str]) -> str:
    return match.group(0) if _SAFE_QUOTED.fullmatch(match.group(0)) else "'…'"


def yaml_problem(error: yaml.YAMLError) -> tuple[str, int, int]:
    """``(problem, line, column)`` of a PyYAML error, safe to print for a file holding secrets.

    ``str(error)`` is never used: it quotes the offending line (a key or password on it). Only the
    problem is kept (``"found unexpected end of stream"``), with any quoted text longer than one
    character redacted (an undefined alias or unknown tag is the file's own text), and the 1-based
    line and column of ``problem_mark`` (0 when PyYAML gives none)."""
    if isinstance(error, yaml.reader.ReaderError):  # a byte that is not text: its reason and offset only
        return f"not readable text ({error.reason} at character {error.position})", 0, 0
    problem = getattr(error, "problem", None)
    text = _QUOTED.sub(_redact_quoted, problem) if isinstance(problem, str) and problem else "syntax error"
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return text, 0, 0
    return text, int(mark.line) + 1, int(mark.column) + 1


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """One line for a message: ``"<problem> (line L, column C)"`` (see :func:`yaml_problem`)."""
    problem, line, column = yaml_problem(error)
    return f"{problem} (line {line}, column {column})" if line else problem

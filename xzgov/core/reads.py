"""What a command read: the digest of the exact bytes each input file gave it.

A scan shard records digests of its inputs (:func:`compliance.scan.context.scan_inputs`, the register
digest) so that ``xzgov scan merge`` refuses parts judged from different files. Digesting the files again
after loading them would record content the scan never used when a file changes in between; instead the one
reader of input files (:func:`xzgov.core.yamlio.read_text`, :func:`read_bytes`) hands the bytes it read to
every active :func:`recorded` log, which digests exactly those bytes.

A file read twice with different content during one recording is marked :data:`CHANGED`: the command used
two versions of it, and a digest would name neither (callers refuse, exit 2).

This module knows no hash: the caller of :func:`recorded` passes one (the core layer imports no crypto).
Loads kept in a process-wide cache read nothing the second time; :func:`cached_reads` replays the reads
the first call made into the logs active at each later call, so a cached schema counts as read.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

#: the digest recorded for a file read twice with different content during one recording
CHANGED = "changed"
#: what input files are: the files :meth:`ReadLog.below` lists
INPUT_SUFFIXES = frozenset({".yaml", ".yml", ".json"})

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class ReadLog:
    """Absolute path -> digest of the bytes read (or :data:`CHANGED`)."""

    digest: Callable[[bytes], str]
    files: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: str) -> None:
        earlier = self.files.get(key)
        self.files[key] = value if earlier in (None, value) else CHANGED

    def get(self, path: Path | str) -> str | None:
        """The digest of what was read from ``path`` (``None``: not read during the recording)."""
        return self.files.get(_key(path))

    def below(self, directory: Path | str) -> list[Path]:
        """The input files (YAML or JSON, not hidden) read below ``directory``, as absolute paths."""
        top = Path(_key(directory))
        found = []
        for key in self.files:
            path = Path(key)
            if path.suffix in INPUT_SUFFIXES and top in path.parents and not any(
                    part.startswith(".") for part in path.relative_to(top).parts):
                found.append(path)
        return found


#: the logs of the :func:`recorded` blocks the current code runs in
_LOGS: ContextVar[tuple[ReadLog, ...]] = ContextVar("xzgov_read_logs", default=())
#: the reads of the :func:`cached_reads` first calls the current code runs in (kept to replay)
_CAPTURES: ContextVar[tuple[list[tuple[str, bytes]], ...]] = ContextVar("xzgov_read_captures", default=())


def _key(path: Path | str) -> str:
    return os.path.abspath(path)  # no system call: the paths the loaders and the digests build agree


@contextmanager
def recorded(digest: Callable[[bytes], str]) -> Iterator[ReadLog]:
    """Record, for every input file read inside the block, ``digest`` of the bytes read."""
    log = ReadLog(digest)
    token = _LOGS.set((*_LOGS.get(), log))
    try:
        yield log
    finally:
        _LOGS.reset(token)


def note(path: Path | str, data: bytes) -> None:
    """Hand the bytes just read from ``path`` to the active logs (nothing to do when none is)."""
    logs, captures = _LOGS.get(), _CAPTURES.get()
    if not logs and not captures:
        return
    key = _key(path)
    for capture in captures:
        capture.append((key, data))
    for log in logs:
        log.add(key, log.digest(data))


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, noted for the active logs (``OSError`` as :meth:`Path.read_bytes`)."""
    data = path.read_bytes()
    note(path, data)
    return data


def cached_reads(function: Callable[P, R]) -> Callable[P, R]:
    """:func:`functools.cache` for a load that reads input files: a later call replays the first call's
    reads into the logs active then (a failed call is not cached)."""
    memo: dict[Any, tuple[R, list[tuple[str, bytes]]]] = {}

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        key = (args, tuple(sorted(kwargs.items())))
        known = memo.get(key)
        if known is None:
            reads: list[tuple[str, bytes]] = []
            token = _CAPTURES.set((*_CAPTURES.get(), reads))
            try:
                value = function(*args, **kwargs)  # its reads reach the active logs as they happen
            finally:
                _CAPTURES.reset(token)
            memo[key] = (value, reads)
            return value
        value, reads = known
        for path, data in reads:
            note(path, data)
        return value

    return wrapper

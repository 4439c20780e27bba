"""Which systems a scan shard judges (``xzgov scan --shard K/N``), and the digest of the register it cut.

A shard is a deterministic part of the register, the same on every machine that holds the same register:

* ``--shard-by name`` (default): the systems sorted by name, dealt round-robin: the *i*-th name (from 0)
  goes to shard ``i mod N + 1``. Shards differ in size by at most one system.
* ``--shard-by zone``: the zones that hold systems, sorted by id, dealt round-robin the same way; a shard
  scans every system of its zones (one shard per zone when N is the number of such zones; a shard may be
  empty when N is larger).

The **register digest** (SM3, hex) covers ``region.yaml`` and, in the register's order, every system's
name, manifest path and the SM3 of the manifest's bytes: parts of different registers, or of one register
edited between two shards, do not merge (:mod:`compliance.merge`). The **input digests**
(:func:`files_digest`, gathered by :func:`compliance.scan.context.scan_inputs`) do the same for what else a
scan reads — the catalogue and scoring files, waivers, attestations, thresholds, the live inventory — so
shards judged with different waivers or catalogue text are refused rather than merged into a report no
single scan would give.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.reads import CHANGED, ReadLog, recorded
from xzgov.crypto.sm3 import SM3, sm3_file, sm3_hex


class ShardBy(enum.StrEnum):
    name = "name"
    zone = "zone"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based), cut by ``by``."""

    index: int
    count: int
    by: ShardBy = ShardBy.name

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


#: Shards a scan may be cut into (N of ``--shard K/N``): a merge lists every shard it lacks, and refuses a part
#: naming more (a shard of a cut no merge accepts is refused before it scans).
MAX_SHARDS = 10_000


def shard_number(text: str) -> int | None:
    """ASCII digits as a number, any beyond :data:`MAX_SHARDS` as ``MAX_SHARDS + 1`` (int() of 4,300 digits
    is refused by Python); None when ``text`` is no number. The one reader of a shard's numbers: ``--shard``
    and an Indexed Job's completion index."""
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0") or "0"
    return int(significant) if len(significant) <= len(str(MAX_SHARDS)) else MAX_SHARDS + 1


def parse_shard(text: str, by: str = "name", source: str = "--shard") -> Shard:
    """``K/N`` with ``1 ≤ K ≤ N ≤`` :data:`MAX_SHARDS` (a located exit 2 otherwise)."""
    head, _, tail = text.partition("/")
    index, count = shard_number(head), shard_number(tail)
    if index is None or count is None or not 1 <= index <= count:
        raise UsageError(f"{source} {text!r}: expected K/N with 1 ≤ K ≤ N", [Diagnostic(
            "<command line>", 0, 0, source, f"not a shard: {text!r}",
            "write e.g. --shard 2/5 (the second of five shards)", "usage")])
    if count > MAX_SHARDS:
        raise UsageError(f"{source} {text!r}: at most {MAX_SHARDS:,} shards", [Diagnostic(
            "<command line>", 0, 0, source, f"more than {MAX_SHARDS:,} shards (a merge accepts at most that)",
            f"cut the register into at most {MAX_SHARDS:,} shards", "usage")])
    try:
        cut = ShardBy(by)
    except ValueError:
        raise UsageError(f"--shard-by {by!r}: choose name or zone", [Diagnostic(
            "<command line>", 0, 0, "--shard-by", f"unknown cut {by!r}", "use --shard-by name or zone",
            "usage")]) from None
    return Shard(index, count, cut)


def refuse_systems_in_a_shard(shard: Shard | None, systems: Collection[str]) -> None:
    """Refuse (exit 2) ``--system`` with ``--shard``: a shard is its part of the whole register, so that the
    parts merge into the region's report."""
    if shard is not None and systems:
        raise UsageError("--shard and --system cannot be combined: a shard is a part of the whole register",
                         [Diagnostic("<command line>", 0, 0, "--shard", "given with --system",
                                     "drop --system, or scan those systems without --shard", "usage")])


def shard_systems(register: m.Register, shard: Shard) -> tuple[str, ...]:
    """The systems of ``shard``, in the register's order (the order a whole scan reports them in)."""
    if shard.by is ShardBy.zone:
        zones = sorted({system.zone for system in register.systems.values()})
        mine = {zone for position, zone in enumerate(zones) if position % shard.count == shard.index - 1}
        return tuple(name for name, system in register.systems.items() if system.zone in mine)
    names = sorted(register.systems)
    mine = {name for position, name in enumerate(names) if position % shard.count == shard.index - 1}
    return tuple(name for name in register.systems if name in mine)


def recording() -> AbstractContextManager[ReadLog]:
    """Record the SM3 of every input file's bytes as a command reads them (:mod:`xzgov.core.reads`): the
    digests below then name what was used, not the files as they are when digested."""
    return recorded(sm3_hex)


def register_digest(register: m.Register, read: ReadLog | None = None) -> str:
    """SM3 (hex) of region.yaml and of every system's name, manifest path and manifest bytes, in order —
    the bytes the register was loaded from when ``read`` recorded the load."""
    root = Path(register.root)
    digest = SM3()
    region = root / "region.yaml"
    content = _file_sm3(region, read, "register") if region.is_file() or _was_read(region, read) else "-"
    digest.update(f"region.yaml\t{content}\n".encode())
    for name, system in register.systems.items():
        path = root / system.source
        content = _file_sm3(path, read, "register") if system.source and (
            path.is_file() or _was_read(path, read)) else "-"
        digest.update(f"{name}\t{system.source}\t{content}\n".encode())
    return digest.hexdigest()


def files_digest(base: Path, files: Iterable[Path], name: str, read: ReadLog | None = None, *,
                 below: Path | None = None) -> str:
    """SM3 (hex) of ``files`` (each one's path relative to ``base`` and the SM3 of its bytes, in sorted
    order); ``"-"`` when there are none. A checkout at another path gives the same digest; a file added,
    removed, renamed or edited changes it. A file ``read`` recorded counts with the bytes read then (a file
    the command did not read, with its bytes now); so does every input file ``read`` recorded ``below`` a
    folder, even one gone since. An unreadable file, or one read twice with different content, is a located
    exit 2 (``inputs.<name>``)."""
    digest = SM3()
    count = 0
    used = read.below(below) if read is not None and below is not None else []
    for file in sorted({Path(os.path.abspath(f)) for f in files} | set(used)):
        where = file.relative_to(os.path.abspath(base)).as_posix()
        digest.update(f"{where}\t{_file_sm3(file, read, name)}\n".encode())
        count += 1
    return digest.hexdigest() if count else "-"


def _was_read(path: Path, read: ReadLog | None) -> bool:
    return read is not None and read.get(path) is not None


def _file_sm3(file: Path, read: ReadLog | None, name: str) -> str:
    recorded_digest = read.get(file) if read is not None else None
    if recorded_digest == CHANGED:
        raise UsageError(f"{file} changed while it was being read", [Diagnostic(
            str(file), 0, 0, f"inputs.{name}", "read twice with different content: the scan used two versions",
            "do not edit the inputs while a scan runs; scan again", "changed")])
    if recorded_digest is not None:
        return recorded_digest
    try:
        return sm3_file(file).hex()
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error.strerror or error}", [Diagnostic(
            str(file), 0, 0, f"inputs.{name}", f"unreadable: {error.strerror or error}",
            "make the file readable to the scan (or remove it)", "io")]) from None

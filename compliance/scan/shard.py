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
(:func:`tree_digest`, gathered by :func:`compliance.scan.context.scan_inputs`) do the same for what else a
scan reads — the catalogue and scoring files, waivers, attestations, thresholds, the live inventory — so
shards judged with different waivers or catalogue text are refused rather than merged into a report no
single scan would give.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.sm3 import SM3, sm3_file


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


def parse_shard(text: str, by: str = "name", source: str = "--shard") -> Shard:
    """``K/N`` with ``1 ≤ K ≤ N`` (a located exit 2 otherwise)."""
    head, _, tail = text.partition("/")
    try:
        index, count = int(head), int(tail)
    except ValueError:
        index = count = 0
    if not 1 <= index <= count:
        raise UsageError(f"{source} {text!r}: expected K/N with 1 ≤ K ≤ N", [Diagnostic(
            "<command line>", 0, 0, source, f"not a shard: {text!r}",
            "write e.g. --shard 2/5 (the second of five shards)", "usage")])
    try:
        cut = ShardBy(by)
    except ValueError:
        raise UsageError(f"--shard-by {by!r}: choose name or zone", [Diagnostic(
            "<command line>", 0, 0, "--shard-by", f"unknown cut {by!r}", "use --shard-by name or zone",
            "usage")]) from None
    return Shard(index, count, cut)


def shard_systems(register: m.Register, shard: Shard) -> tuple[str, ...]:
    """The systems of ``shard``, in the register's order (the order a whole scan reports them in)."""
    if shard.by is ShardBy.zone:
        zones = sorted({system.zone for system in register.systems.values()})
        mine = {zone for position, zone in enumerate(zones) if position % shard.count == shard.index - 1}
        return tuple(name for name, system in register.systems.items() if system.zone in mine)
    names = sorted(register.systems)
    mine = {name for position, name in enumerate(names) if position % shard.count == shard.index - 1}
    return tuple(name for name in register.systems if name in mine)


def register_digest(register: m.Register) -> str:
    """SM3 (hex) of region.yaml and of every system's name, manifest path and manifest bytes, in order."""
    root = Path(register.root)
    digest = SM3()
    region = root / "region.yaml"
    digest.update(b"region.yaml\t" + (sm3_file(region).hex().encode() if region.is_file() else b"-") + b"\n")
    for name, system in register.systems.items():
        path = root / system.source
        content = sm3_file(path).hex() if system.source and path.is_file() else "-"
        digest.update(f"{name}\t{system.source}\t{content}\n".encode())
    return digest.hexdigest()


def tree_digest(path: Path | None) -> str:
    """SM3 (hex) of the regular file ``path``, or of every regular file under the directory ``path`` (each
    one's path relative to it and the SM3 of its bytes, in sorted order); ``"-"`` when there is nothing.
    A checkout at another path gives the same digest; a file added, removed, renamed or edited changes it.
    Hidden files and folders (``.git``, editor swap files) and Python's byte-code caches are not content."""
    if path is None or not path.exists():
        return "-"
    if path.is_file():
        return sm3_file(path).hex()
    digest = SM3()
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if not file.is_file() or any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        digest.update(f"{relative.as_posix()}\t{sm3_file(file).hex()}\n".encode())
    return digest.hexdigest()

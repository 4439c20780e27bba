"""The garbage collector during a scan: what the scan keeps is frozen as it goes, and young collections are rarer.

A scan keeps the register, the catalogue and every system's outcomes (and, with ``--plan`` or ``--live``, facts)
alive until it returns, and
builds almost no reference cycles (about 120 cyclic objects in a scan of 3,000 systems). With CPython's
defaults (a young collection every 700 allocations, the oldest generation re-traversed as it grows), the
collector walked those long-lived objects again and again. :func:`paused` raises the young-generation
threshold for the scan's span and undoes everything on the way out; :func:`settle` moves what is alive into
the permanent generation (``gc.freeze``, constant time), so later collections skip it. The scan settles once
after loading and again after each system's outcomes (a static scan builds them right after the system's rules
and drops its facts; with ``--plan`` or ``--live``, after each system's rules too): what a system leaves behind
is its results, kept to the end, so collections only ever walk the current system's young objects. Without
the per-system settling, collections walked the growing results: 15 % of the compliance work at 3,000
systems, 21 % at 10,000 (``bench/bench_scan.py``), the one part of the scan that grew faster than linearly.
Cycles are still collected (the collector stays enabled): a cycle that is garbage before a settle is frozen
with the rest and becomes collectable again when the scan returns (``gc.unfreeze``), so memory stays
linear in the systems scanned.
The register's load uses the same young threshold on its own (:func:`xzgov.core.gctune.bulk`, in every
caller of ``check_register``), so the scan's load is no faster than ``xzgov register check``'s.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from xzgov.core import gctune

#: Allocations between young collections during a scan (CPython's default is 700): the loader's.
SCAN_THRESHOLD = gctune.BULK_THRESHOLD

_owner: list[bool] = []  #: one entry per active :func:`paused`: whether it may freeze (nothing was frozen)


@contextmanager
def paused() -> Iterator[None]:
    """Scan-time collector settings for the ``with`` body; the previous ones are restored afterwards (frozen
    objects are unfrozen only when nothing was frozen before, so a caller's own ``gc.freeze`` is kept)."""
    before = gc.get_threshold()
    owner = not _owner and gc.get_freeze_count() == 0
    _owner.append(owner)
    gc.set_threshold(max(before[0], SCAN_THRESHOLD), before[1], before[2])
    try:
        yield
    finally:
        _owner.pop()
        gc.set_threshold(*before)
        if owner:
            gc.unfreeze()


def settle() -> None:
    """Freeze everything alive now (the loaded inputs; the results of the systems done so far) for the rest
    of the scan; only inside :func:`paused`, and only in the outermost one that found nothing frozen."""
    if _owner and _owner[0]:
        gc.freeze()

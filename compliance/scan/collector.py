"""The garbage collector during a scan: what the scan loads once is frozen, and young collections are rarer.

A scan keeps the register, the catalogue and every system's facts and outcomes alive until it returns, and
builds almost no reference cycles. With CPython's defaults (a young collection every 700 allocations, the
oldest generation re-traversed as it grows), the collector walked those long-lived objects again and again:
a measurable share of the scan at thousands of systems (``bench/bench_scan.py``). :func:`paused` raises the
young-generation threshold for the scan's span and undoes everything on the way out; :func:`settle` moves
what is alive after loading into the permanent generation (``gc.freeze``), so later collections skip it.
Cycles are still collected (the collector stays enabled), so memory stays linear in the systems scanned.
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
    """Freeze everything alive now (the loaded inputs) for the rest of the scan; only inside :func:`paused`,
    and only in the outermost one that found nothing frozen."""
    if _owner and _owner[0]:
        gc.freeze()

"""The garbage collector while a bulk load builds long-lived data (the register's thousands of manifests).

Loading a register allocates millions of small dicts, lists and strings that all stay alive, and builds no
reference cycles. With CPython's default young-generation threshold (a collection every 700 net
allocations), the collector promotes and re-walks that growing, cycle-free data over and over: about 30 %
of ``check_register`` at 3,000 systems (``bench/bench_scan.py``). :func:`bulk` raises the young threshold
for the ``with`` body and restores the caller's settings afterwards. The collector stays enabled, so cycles
are still collected and memory stays linear in the files loaded. Every caller of the loader benefits
(``xzgov register check``, ``xzgov validate``, the scan), so the scan's own load is no faster than theirs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Net allocations between young collections during a bulk load (CPython's default is 700).
BULK_THRESHOLD = 50_000


@contextmanager
def bulk() -> Iterator[None]:
    """A young-generation threshold of at least :data:`BULK_THRESHOLD` for the ``with`` body; the previous
    thresholds are restored afterwards (a caller's higher threshold is kept; nesting is harmless)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], BULK_THRESHOLD), before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)

"""The scan's garbage-collector settings (compliance.scan.collector): in force during the scan, undone after."""

from __future__ import annotations

import gc
from itertools import pairwise
from pathlib import Path

import pytest

from compliance.scan import collector
from compliance.scanner import ScanOptions, scan
from xzgov.core.errors import XzgovError


def test_scan_freezes_loaded_inputs_and_restores_the_collector(register_root: Path) -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int, what: str) -> None:  # runs inside the scan, after loading
        seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))

    result = scan(ScanOptions(root=register_root, progress=progress))
    assert result.systems and len(seen) == len(result.systems)
    assert all(frozen > 0 and threshold == max(before[0], collector.SCAN_THRESHOLD) for frozen, threshold in seen)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # the register is collectable again once the scan returns


def test_each_judged_system_is_frozen_with_what_came_before(register_root: Path) -> None:
    """The scan settles after every system: a system's report is frozen before the next one is judged, so
    collections never walk the results of the systems already done (the scan's only super-linear part)."""
    counts: list[int] = []
    scan(ScanOptions(root=register_root, progress=lambda done, total, what: counts.append(gc.get_freeze_count())))
    assert len(counts) >= 2
    assert all(later > earlier for earlier, later in pairwise(counts)), counts


def test_a_callers_frozen_objects_stay_frozen(register_root: Path) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        scan(ScanOptions(root=register_root))
        # not unfrozen by the scan, and nothing of the scan added (frozen objects that die leave the count)
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()


def test_settings_are_restored_when_the_scan_fails(tmp_path: Path) -> None:
    before = gc.get_threshold()
    with pytest.raises(XzgovError):
        scan(ScanOptions(root=tmp_path / "missing"))
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

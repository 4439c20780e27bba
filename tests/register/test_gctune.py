"""The loader's garbage-collector settings (xzgov.core.gctune): in force while the register loads, undone after."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from xzgov.core import gctune
from xzgov.core import register as register_module
from xzgov.core.register import check_register


def _watching(monkeypatch: pytest.MonkeyPatch, seen: list[tuple[int, int, int]]) -> None:
    """Record the thresholds each manifest is loaded under."""
    load_single = register_module._load_single

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold())
        return load_single(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(register_module, "_load_single", watched)


def test_register_loads_with_a_raised_young_threshold_and_restores_it(
        region: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []
    _watching(monkeypatch, seen)
    before = gc.get_threshold()
    loaded = check_register(region)
    assert loaded.ok, [d.render() for d in loaded.diagnostics]
    assert seen and all(t == (max(before[0], gctune.BULK_THRESHOLD), before[1], before[2]) for t in seen)
    assert gc.get_threshold() == before
    assert gc.isenabled()  # cycles are still collected


def test_a_callers_higher_threshold_is_kept_and_restored_after_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = gc.get_threshold()
    gc.set_threshold(gctune.BULK_THRESHOLD * 2, before[1], before[2])
    try:
        with gctune.bulk():
            assert gc.get_threshold()[0] == gctune.BULK_THRESHOLD * 2
        with pytest.raises(Exception, match="region"):  # no region.yaml: a located usage error
            check_register(tmp_path)
        assert gc.get_threshold() == (gctune.BULK_THRESHOLD * 2, before[1], before[2])
    finally:
        gc.set_threshold(*before)
    with pytest.raises(RuntimeError), gctune.bulk():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before

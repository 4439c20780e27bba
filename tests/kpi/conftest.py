"""Fixtures for the programme KPI tests: a writable copy of the example region."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def region(tmp_path: Path) -> Path:
    """region.yaml and systems/ of the example region, copied to a scratch root."""
    root = tmp_path / "region"
    root.mkdir()
    shutil.copy2(REPO / "region.yaml", root / "region.yaml")
    shutil.copytree(REPO / "systems", root / "systems")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")

"""Fixtures for the programme KPI tests: a writable copy of the example region."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def example_copy(root: Path, *, records: bool = False) -> Path:
    """region.yaml and systems/ of the example region copied to ``root`` (made here); with ``records`` also its
    signed attestation sets and waivers (what a scan reads besides)."""
    root.mkdir()
    shutil.copy2(REPO / "region.yaml", root / "region.yaml")
    shutil.copytree(REPO / "systems", root / "systems")
    for folder in ("attestations", "waivers") if records else ():
        shutil.copytree(REPO / "compliance" / folder, root / "compliance" / folder)
    return root


@pytest.fixture
def region(tmp_path: Path) -> Path:
    """region.yaml and systems/ of the example region, copied to a scratch root."""
    return example_copy(tmp_path / "region")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")

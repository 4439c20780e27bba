from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "region"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def region(tmp_path: Path) -> Path:
    """A private copy of the fixture region (region.yaml + three systems)."""
    target = tmp_path / "region"
    shutil.copytree(FIXTURE, target)
    return target




def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    """1-based line number of the first line containing ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def column_of(path: Path, needle: str) -> int:
    line = path.read_text(encoding="utf-8").splitlines()[line_of(path, needle) - 1]
    return line.index(needle) + 1

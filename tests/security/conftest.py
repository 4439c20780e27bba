"""Fixtures of the security tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "register" / "fixtures" / "region"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A writable copy of the small fixture region (region.yaml + systems/)."""
    target = tmp_path / "region"
    shutil.copytree(FIXTURE, target)
    return target

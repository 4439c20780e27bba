"""Fixtures for the standards catalogue and scoring tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance.catalogue import Catalogue, default_standards_dir, load_catalogue
from compliance.scoring import ScoringConfig, load_scoring_config


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(default_standards_dir())


@pytest.fixture(scope="session")
def scoring() -> ScoringConfig:
    return load_scoring_config()


@pytest.fixture
def standards_copy(tmp_path: Path) -> Path:
    """A writable copy of standards/ to break on purpose."""
    target = tmp_path / "standards"
    shutil.copytree(default_standards_dir(), target)
    return target

"""The catalogues are package data (``standards``), found with importlib.resources; overrides still work."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.catalogue import (
    STANDARDS_DIR_ENV,
    catalogue_files,
    default_standards_dir,
    load_catalogue,
    packaged_standards_dir,
)
from xzgov.core.errors import ExitCode, XzgovError


@pytest.fixture
def fresh_package_dir() -> Iterator[None]:
    packaged_standards_dir.cache_clear()
    yield
    packaged_standards_dir.cache_clear()


def test_default_is_the_standards_package(monkeypatch: pytest.MonkeyPatch, fresh_package_dir: None) -> None:
    monkeypatch.delenv(STANDARDS_DIR_ENV, raising=False)
    root = importlib.resources.files("standards")
    assert default_standards_dir() == packaged_standards_dir()
    assert (default_standards_dir() / "scoring.yaml").read_text(encoding="utf-8") == (
        root.joinpath("scoring.yaml").read_text(encoding="utf-8")
    )
    assert len(catalogue_files(default_standards_dir())) == 8


def test_environment_and_explicit_directory_override(monkeypatch: pytest.MonkeyPatch, standards_copy: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(standards_copy))
    assert default_standards_dir() == standards_copy
    monkeypatch.delenv(STANDARDS_DIR_ENV)
    loaded = load_catalogue(standards_copy)
    assert {d.path for d in loaded.documents} == {str(p) for p in catalogue_files(standards_copy)}


def test_missing_package_is_an_installation_error(monkeypatch: pytest.MonkeyPatch, fresh_package_dir: None) -> None:
    def missing(package: str) -> None:
        raise ModuleNotFoundError(package)

    monkeypatch.delenv(STANDARDS_DIR_ENV, raising=False)
    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(XzgovError) as caught:
        default_standards_dir()
    assert caught.value.exit_code == ExitCode.INTERNAL
    assert STANDARDS_DIR_ENV in caught.value.message and "standards" in caught.value.message

"""The catalogues are package data (``standards``), found with importlib.resources; overrides still work."""

from __future__ import annotations

import importlib.resources
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compliance.catalogue import (
    STANDARDS_DIR_ENV,
    catalogue_files,
    default_catalogue,
    default_standards_dir,
    load_catalogue,
    packaged_standards_dir,
)
from tests.cli import CliResult
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


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_an_override_that_is_no_directory_is_a_usage_error_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    """It reached the first file read as an environment failure (exit 3: "No such file or directory
    (…/schema/scoring.schema.json)"), naming neither the variable nor a fix."""
    target = tmp_path / "standards"
    if kind == "file":
        target.write_text("", encoding="utf-8")
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(target))
    with pytest.raises(XzgovError) as caught:
        default_standards_dir()
    assert caught.value.exit_code == ExitCode.USAGE
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.file == f"${STANDARDS_DIR_ENV}" and str(target) in diagnostic.message
    assert "unset it" in diagnostic.hint


def test_scan_and_standards_commands_refuse_the_bad_override_with_exit_2(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    empty_root = tmp_path / "register"  # no standards/ of its own: the scan falls back on the variable
    shutil.copytree(Path(__file__).resolve().parents[2] / "tests" / "register" / "fixtures" / "region", empty_root)
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(tmp_path / "nowhere"))
    default_catalogue.cache_clear()  # a process reads the variable once: as a fresh `xzgov` would
    for args in (("scan", "--root", str(empty_root)), ("standards", "list")):
        result = cli(*args)
        assert result.code == 2, result.text
        assert f"${STANDARDS_DIR_ENV}" in result.err and "Traceback" not in result.err, result.err

"""Shared pytest configuration. Area-specific fixtures live in each area's conftest or plugin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import ENVIRONMENT, CliResult, run


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """``cli("validate", "--root", path)`` runs ``xzgov`` in-process and returns code, stdout, stderr."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str | Path) -> CliResult:
        return run(capsys, *args)

    return invoke

"""Shared pytest configuration. Area-specific fixtures live in each area's conftest or plugin."""

from __future__ import annotations

import os
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


# The example region and the fixture registers record assessment dates (spec.assessments), judged against the
# scan's as-of day: pin it, so the suite never ages into failures (CI runs this suite; `xzgov scan --as-of`).
os.environ.setdefault("XZGOV_AS_OF", "2026-12-01")

"""Helpers of the hostile-input tests (test_loaders, hostile): `xzgov validate` run in-process."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from tests.register.conftest import FIXTURE
from xzgov.cli.main import _dispatch

MANIFEST = "systems/dsjj/idp.yaml"
VALID_TEXT = (FIXTURE / MANIFEST).read_text(encoding="utf-8")


def validate(root: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """Run `xzgov validate --format json` in-process: exit code, the JSON report, all output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _dispatch(["validate", "--root", str(root), "--format", "json", *extra])
    text = out.getvalue()
    report: dict[str, Any] = json.loads(text) if text.strip().startswith("{") else {}
    return code, report, text + err.getvalue()


def errors_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = report.get("errors", [])
    return errors


def assert_located(report: dict[str, Any]) -> None:
    for error in errors_of(report):
        assert error["file"] and error["message"], error
        assert error["line"] >= 1 and error["column"] >= 1, error

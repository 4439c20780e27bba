"""The import-linter contract (pyproject.toml) holds on the tree, and breaks on a deliberately inverted import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("xzgov", "stacks", "policies", "compliance", "standards")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(root), "PATH": ""})


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold(tmp_path: Path) -> None:
    done = _lint(_copy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_an_inverted_import_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    errors = root / "xzgov" / "core" / "errors.py"
    errors.write_text(errors.read_text("utf-8") + "\nimport compliance.scanner  # noqa: E402,F401\n", "utf-8")
    done = _lint(root)
    assert done.returncode == 1, done.stdout
    assert "BROKEN" in done.stdout and "xzgov.core.errors -> compliance.scanner" in done.stdout

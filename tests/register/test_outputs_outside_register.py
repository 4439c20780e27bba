"""No command writes its output among what the register reads: `plan --out systems` put its manifests beside the
systems', and validate, scan, plan and `dr failback` then failed on them (mid-disaster, the way back was blocked)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from tests.register.conftest import REPO


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    target.mkdir()
    shutil.copy(REPO / "region.yaml", target / "region.yaml")
    shutil.copytree(REPO / "systems", target / "systems")
    return target


@pytest.mark.parametrize(("command", "out"), [
    (["plan", "--no-connectivity", "--no-validate"], "systems"),
    (["dr", "declare", "--lost", "lhasa"], "systems/x"),
    (["scan", "--unsigned"], "compliance/waivers/reports"),
    (["attest", "template", "medical-insurance"], "systems/ybj/ws.yaml"),
])
def test_an_output_inside_the_register_is_refused_before_anything_runs(
        root: Path, cli: Callable[..., CliResult], command: list[str], out: str) -> None:
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    done = cli(*command, "--root", root, "--out", root / out)
    assert done.code == 2, done.err
    assert "inside the register's" in done.err
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert cli("validate", "--root", root).code == 0

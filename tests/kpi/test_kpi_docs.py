"""docs/kpi.md's example-region table is what `xzgov kpi --as-of 2025-06-30` prints (its 密评通过率 column quoted a
hand-picked set of 14 systems while the command printed 31)."""

from __future__ import annotations

import json
import re

import pytest

from xzgov.cli.main import _dispatch

from .conftest import REPO

HEADING = "### The example region (`xzgov kpi --as-of 2025-06-30`"
METRICS = ("on-cloud", "catalogued", "aggregated", "connected", "filed", "crypto-passed")


def _documented() -> tuple[dict[str, list[str]], dict[str, str]]:
    """(scope → its cells, task id → its 完成 cell) of the example-region tables."""
    text = (REPO / "docs" / "kpi.md").read_text(encoding="utf-8")
    section = text[text.index(HEADING):]
    section = section[:section.index("\n\n", section.index("| 任务 |"))]
    scopes = {cells[0]: cells[1:] for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| 范围", "| 任务")))
        if not re.match(r"[a-z-]+ ", cells[0])}
    tasks = {cells[0].split()[0]: cells[4] for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
        if re.match(r"\| [a-z-]+ ", line))}
    return scopes, tasks


def test_the_documented_example_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["kpi", "--root", str(REPO), "--as-of", "2025-06-30", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    scopes, tasks = _documented()
    printed = {group["label"]: group for group in [data["overall"], *data["tiers"]]}
    assert set(scopes) == set(printed)
    for label, cells in scopes.items():
        shares = printed[label]["shares"]
        expected = [f"{shares[m]['percent']:.1f}% ({shares[m]['met']}/{shares[m]['total']})" for m in METRICS]
        assert cells[1:] == expected, label
    assert tasks == {t["id"]: f"{t['share']['met']}/{t['share']['total']}" for t in data["tasks"]}

"""Invalid programme data gets located errors (file:line:column, field path, hint), like every manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli import CliResult
from xzgov.core.register import check_register

from .conftest import edit

Cli = Callable[..., CliResult]


def _errors(root: Path) -> list[tuple[str, int, str, str]]:
    loaded = check_register(root)
    assert not loaded.ok
    return [(d.file, d.line, d.path, d.message) for d in loaded.diagnostics]


def test_programme_file_errors_are_located(region: Path) -> None:
    programme = region / "region.yaml"
    edit(programme, "lead: [gat]", "lead: [gatt]")
    edit(programme, '        - {by: "2024-12-31", target: 30}', '        - {by: "2026-12-31", target: 30}')
    errors = _errors(region)
    lines = programme.read_text(encoding="utf-8").splitlines()
    by_path = {path: (file, line, message) for file, line, path, message in errors}
    assert by_path["spec.programme.tasks[5].lead[0]"][0] == "region.yaml"
    assert "unknown lead department 'gatt'" in by_path["spec.programme.tasks[5].lead[0]"][2]
    assert "lead: [gatt]" in lines[by_path["spec.programme.tasks[5].lead[0]"][1] - 1]
    assert "after the task's deadline" in by_path["spec.programme.tasks[6].milestones[0].by"][2]


def test_programme_schema_errors_are_located(region: Path) -> None:
    programme = region / "region.yaml"
    edit(programme, "measure: {metric: filed, target: 100}", "measure: {metric: filing, target: 120}")
    edit(programme, 'deadline: "2024-12-31"\n        measure: {metric: catalogued', 'deadline: "2024-02-30"\n'
         "        measure: {metric: catalogued")
    edit(region / "systems/wjw/health-info.yaml", "migration: {state: on-cloud}", "migration: {state: migrating}")
    errors = _errors(region)
    paths = {path for _, _, path, _ in errors}
    assert {"spec.programme.tasks[5].measure.metric", "spec.programme.tasks[5].measure.target",
            "spec.programme.tasks[1].deadline"} <= paths
    lines = programme.read_text(encoding="utf-8").splitlines()
    deadline = next(line for _, line, path, _ in errors if path == "spec.programme.tasks[1].deadline")
    assert "2024-02-30" in lines[deadline - 1]
    # a migrating system must give its planned date
    assert any(f == "systems/wjw/health-info.yaml" and p.startswith("spec.programme.migration")
               for f, _, p, _ in errors)
    errors = [e for e in errors if e[0] == "region.yaml"]
    assert all(file == "region.yaml" and line > 0 for file, line, _, _ in errors)


def test_manifest_programme_errors_are_located(region: Path) -> None:
    tourism = region / "systems/lzs/nyingchi-tourism.yaml"
    edit(tourism, "    connected: false", "    connected: true")  # no flow to data-exchange
    hotline = region / "systems/zfbgt/hotline-12345.yaml"
    edit(hotline, "tasks: [one-network-service]", "tasks: [one-netwrok-service]")
    errors = _errors(region)
    found = {(file, path): message for file, _, path, message in errors}
    assert "no flow to the data-exchange platform" in found[("systems/lzs/nyingchi-tourism.yaml",
                                                              "spec.programme.connected")]
    assert "unknown programme task 'one-netwrok-service'" in found[("systems/zfbgt/hotline-12345.yaml",
                                                                    "spec.programme.tasks[0]")]


def test_cli_shows_located_programme_errors(region: Path, cli: Cli) -> None:
    edit(region / "region.yaml", "exchange_platform: data-exchange", "exchange_platform: data-exchang")
    done = cli("validate", "--root", region)
    assert done.code == 1
    assert "region.yaml:" in done.err and "spec.programme.exchange_platform" in done.err and "data-exchange" in done.err

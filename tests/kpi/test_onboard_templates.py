"""`xzgov onboard --template KIND`: every finding a fresh skeleton gets is named in it, and its commented example
blocks, uncommented, are what the rules read (a fresh workload skeleton had 10 blocking findings on sections it
neither had nor mentioned, and its own daily backup missed its 60-minute RPO)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from compliance.scanner import ScanOptions, scan
from policies.registry import RULES_BY_ID
from xzgov.cli.register_cmds import EXAMPLE_MARK, TemplateKind, manifest_skeleton
from xzgov.core.register import check_register

AS_OF = dt.date(2026, 12, 1)
NAME = "jyt-new-system"
#: what an uncommented skeleton still fails, and why the skeleton says so
LEFT_OVER = {
    # the workload's port waits for another system's flow to it (the comment above `ports:` says so)
    TemplateKind.workload: {"XZ-MAN-INBOUND-PORTS", "XZ-MAN-CRYPTO-PRODUCTS"},
    TemplateKind.hosts: {"XZ-MAN-CRYPTO-PRODUCTS"},  # certified products: a comment line, not a block
    TemplateKind.township: {"XZ-MAN-INBOUND-PORTS"},  # level 2: no certified product required
}


def uncomment(text: str, day: dt.date) -> str:
    """``text`` with every example block's YAML lines uncommented (its heading and prose lines kept), and the
    image scan's date filled in: what a department does once the declarations are true."""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.lstrip().startswith(EXAMPLE_MARK.strip()):
            inside = True
        elif inside and re.match(r"\s*# (\s*[a-z_]+:|\s*- )", line):
            line = re.sub(r"^(\s*)# ", r"\1", line, count=1).replace("last_scan: 请填写", f'last_scan: "{day}"')
        elif not line.lstrip().startswith("#"):
            inside = False
        lines.append(line)
    return "\n".join(lines) + "\n"


def failing_rules(region: Path, text: str) -> set[str]:
    target = region / "systems" / "jyt" / f"{NAME}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    loaded = check_register(region)
    assert not loaded.diagnostics, [d.render() for d in loaded.diagnostics]
    result = scan(ScanOptions(root=region, systems=[NAME], today=AS_OF, as_of=AS_OF, use_attestations=False))
    (system,) = result.systems
    return {f.result.rule_id for f in system.findings if f.blocking}


def skeleton(kind: TemplateKind) -> str:
    return manifest_skeleton(kind, "jyt", "西藏自治区教育厅", NAME, "../../xzgov/core/schemas/system.schema.json")


@pytest.mark.parametrize("kind", list(TemplateKind))
def test_every_finding_of_a_fresh_skeleton_is_named_in_it(region: Path, kind: TemplateKind) -> None:
    text = skeleton(kind)
    named = set(re.findall(r"XZ-MAN-[A-Z0-9-]+[A-Z0-9]", text))
    assert named <= set(RULES_BY_ID), sorted(named - set(RULES_BY_ID))
    fresh = failing_rules(region, text)
    assert fresh, "a fresh skeleton declares nothing the rules accept: it has findings"
    assert fresh <= named, f"failing but not named in the {kind} skeleton: {sorted(fresh - named)}"


@pytest.mark.parametrize("kind", list(TemplateKind))
def test_the_example_blocks_uncommented_are_what_the_rules_read(region: Path, kind: TemplateKind) -> None:
    filled = uncomment(skeleton(kind), AS_OF - dt.timedelta(days=1))
    assert filled != skeleton(kind)
    assert failing_rules(region, filled) == LEFT_OVER[kind]


def test_onboard_errors_before_the_manifest_is_read_are_json_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                 ) -> None:
    """README: `onboard --format json` prints JSON on stdout either way; a missing MANIFEST and a template error
    printed nothing there (and the missing argument was located in a file named '')."""
    import json

    from xzgov.cli.main import _dispatch

    from .conftest import REPO

    assert _dispatch(["onboard", "--root", str(REPO), "--format", "json"]) == 2
    done = capsys.readouterr()
    (error,) = json.loads(done.out)["errors"]
    assert (error["file"], error["path"]) == ("<command line>", "MANIFEST") and "<command line>" in done.err
    # an empty --department was taken as "not given": the first department's skeleton was written
    target = tmp_path / "draft.yaml"
    assert _dispatch(["onboard", "--root", str(REPO), "--template", "hosts", "--department", "", "--format", "json",
                      str(target)]) == 2
    (error,) = json.loads(capsys.readouterr().out)["errors"]
    assert "no department ''" in error["message"] and not target.exists()


def test_a_skeleton_validates_as_written_after_another_was_filed(region: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The hosts skeleton always wrote 10.67.250.10/.11: once one was filed, the next one's addresses clashed with it.
    And its planned migration, fixed at 2025-12-31, made a fresh system 逾期未上云 from 2026 on."""
    from compliance.kpi import compute_kpi
    from tests.cli import run
    from xzgov.core.register import load_register

    monkeypatch.setenv("XZGOV_AS_OF", "2026-12-01")
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    assert run(capsys, "onboard", "--template", "hosts", "--department", "jyt", first, "--root", region).code == 0
    assert run(capsys, "onboard", first, "--root", region).code == 0
    assert run(capsys, "onboard", "--template", "hosts", "--department", "dsjj", second, "--root", region).code == 0
    checked = run(capsys, "validate", second, "--root", region)
    assert checked.code == 0, checked.text
    assert 'date: "2026-12-31"' in second.read_text(encoding="utf-8")
    assert run(capsys, "onboard", second, "--root", region).code == 0
    late = compute_kpi(load_register(region), "2026-12-01").late_migrations
    assert {x.system for x in late}.isdisjoint({"jyt-new-system", "dsjj-new-system"})


@pytest.mark.parametrize(("today", "planned"), [("2026-12-01", "2026-12-31"), ("2026-12-15", "2027-12-31"),
                                                ("2024-03-01", "2024-12-31")])
def test_the_planned_migration_is_after_today(today: str, planned: str) -> None:
    text = manifest_skeleton(TemplateKind.workload, "jyt", "教育厅", NAME, "s.json", today=dt.date.fromisoformat(today))
    assert f'migration: {{state: migrating, date: "{planned}"}}' in text


def test_a_template_is_not_taken_from_a_register_that_does_not_load(region: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A review: with any manifest invalid the departments read as none, so --department was never checked — a
    skeleton for an unknown department was written, `../../x` as a path outside the folder, a line break into the
    YAML — and the suggested host addresses were checked against no registered host."""
    from tests.cli import run

    manifest = next((region / "systems").rglob("*.yaml"))
    text = manifest.read_text(encoding="utf-8")
    assert "tier: 自治区" in text or "tier: 地市" in text or "tier: 县区" in text or "tier: 乡镇" in text
    manifest.write_text(text.replace("tier: ", "tier: 地级 # ", 1), encoding="utf-8")
    for department in ("lsh-typo", "../../escape", "a: b\nc"):
        target = tmp_path / "draft.yaml"
        refused = run(capsys, "onboard", "--template", "hosts", "--department", department, target, "--root", region)
        assert refused.code == 1 and "run xzgov validate" in refused.err, refused.text
        assert not target.exists()
    assert not list(tmp_path.glob("*escape*"))
    manifest.write_text(text, encoding="utf-8")
    for department in ("lsh-typo", "../../escape"):
        refused = run(capsys, "onboard", "--template", "hosts", "--department", department, tmp_path / "d.yaml",
                      "--root", region)
        assert refused.code == 2 and f"no department {department!r}" in refused.err, refused.text

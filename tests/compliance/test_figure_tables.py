"""The reports' figures are computed with the tables the scan judged by.

A scan judged with its own standards directory (the register's ``standards/`` or ``--standards-dir``) took
its catalogue, scoring and high-risk cases from there, but the reports' 等级测评符合率 and 重大风险隐患触发表
were computed with the installed credits and case table: a site that scores 部分符合 at 0.25 got score cards
at 0.25 and a rate at 0.5 beside them, and a site's edited case titles never reached a report. A merge of
scan parts used the merging machine's tables. The scan now hands its tables to the reports and each part
carries them to the merge, which refuses parts whose tables differ.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import compliance.scanner as scanner
from compliance.merge import load_part, merge_parts, merge_register, part_bytes
from compliance.reports import PART_NAME, ReportFormat, publish_reports, render
from compliance.reports.figures import figure_tables, system_figures
from compliance.reports.html import render_site
from compliance.results import ScanResult
from compliance.scan.shard import Shard, ShardBy
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

Cli = Callable[..., CliResult]
STANDARDS = Path(__file__).resolve().parents[2] / "standards"
PARTIAL_CREDIT = 0.25
RETITLED = "（本地修订标题）"


def _own_standards(directory: Path) -> Path:
    """A copy of the standards with 部分符合 credited 0.25 in the 等保 rate and every case title marked."""
    standards = directory / "standards"
    shutil.copytree(STANDARDS, standards, ignore=shutil.ignore_patterns("__pycache__"))
    scoring = standards / "scoring.yaml"
    text = scoring.read_text(encoding="utf-8")
    credit = text.index("    部分符合: 0.5")  # the first: 等保's credit (the 密评 one comes later)
    scoring.write_text(text[:credit] + f"    部分符合: {PARTIAL_CREDIT}" + text[credit + len("    部分符合: 0.5"):],
                       encoding="utf-8")
    table = standards / "high-risk-2025.yaml"
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    cases = lines.index("cases:\n")  # the titles after it are the cases' (the one before, the guide's)
    table.write_text("".join(line.rstrip("\n") + RETITLED + "\n" if at > cases and line.startswith("  title: ")
                             else line for at, line in enumerate(lines)), encoding="utf-8")
    return standards


@pytest.fixture(scope="module", autouse=True)
def frozen_clock() -> Iterator[None]:
    """Every scan here starts and finishes at one instant: merged and single reports compare whole (evidence
    times are columns of arrays, not fields a comparison could leave out)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner, "utc_now", lambda: "2026-06-01T08:00:00Z")
        yield


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture register with its own standards/ beside it, and that directory."""
    directory = tmp_path_factory.mktemp("own")
    root = directory / "register"
    shutil.copytree(Path(__file__).parent / "fixtures" / "register", root)
    return root, _own_standards(root)


@pytest.fixture(scope="module")
def judged(own: tuple[Path, Path]) -> ScanResult:
    return scan(ScanOptions(root=own[0]))


def _rate(counts: dict[str, int], partial: float) -> float:
    applicable = sum(counts[s] for s in ("符合", "部分符合", "不符合", "未测"))
    return (counts["符合"] + partial * counts["部分符合"]) / applicable


def test_the_figures_use_the_scans_credits_and_cases(judged: ScanResult) -> None:
    with_partial = [s for s in judged.systems if system_figures(s, figure_tables(judged)).counts["部分符合"]]
    assert with_partial, "the fixture register has a system with a 部分符合 item: the credit shows in its rate"
    report = json.loads(render(judged, ReportFormat.json)[0])
    for system, data in zip(judged.systems, report["systems"], strict=True):
        figures = data["figures"]
        counts = figures["counts"]
        low, _ = figures["compliance_rate_range"]
        assert low == pytest.approx(_rate(counts, PARTIAL_CREDIT)), system.name
        if counts["部分符合"] and system.dengbao is not None and system.dengbao.value is not None:
            # the card and the figure are one rate: both computed with the scan's credit
            assert low == pytest.approx(system.dengbao.value_range[0]), system.name
    titles = [case["title"] for case in report["catalogue"]["major_risks"].values()]
    assert titles and all(title.endswith(RETITLED) for title in titles)
    site = render_site(judged)
    assert RETITLED in site["report-pages/catalogue.js"]
    assert RETITLED in render(judged, ReportFormat.markdown)[0] or not any(
        system_figures(s, figure_tables(judged)).triggered for s in judged.systems)


def test_a_result_without_tables_uses_the_installed_ones(judged: ScanResult) -> None:
    """A result built without a scan (tests, tools) still renders: with the installed credits (0.5)."""
    system = next(s for s in judged.systems if system_figures(s).counts["部分符合"])
    assert system_figures(system).rate_range[0] == pytest.approx(_rate(dict(system_figures(system).counts), 0.5))
    assert not system_figures(system).triggers or not system_figures(system).triggers[0].title.endswith(RETITLED)


def _parts(root: Path, directory: Path, key: SM2PrivateKey) -> list[Path]:
    paths = []
    for index in (1, 2):
        shard = Shard(index, 2, ShardBy.name)
        result = scan(ScanOptions(root=root, shard=shard))
        out = directory / f"part-{index}"
        publish_reports(result, out, [], key, {PART_NAME: part_bytes(result, shard)})
        paths.append(out)
    return paths


def test_a_merge_renders_with_the_shards_tables(own: tuple[Path, Path], judged: ScanResult,
                                                tmp_path: Path) -> None:
    root, _ = own
    key = SM2PrivateKey.generate()
    fingerprint = keys.fingerprint(key.public_key)
    parts = [load_part(path, [fingerprint]) for path in _parts(root, tmp_path, key)]
    register, register_root = merge_register(parts, root)
    merged = merge_parts(parts, register, register_root)
    assert merged.figure_tables == judged.figure_tables
    for fmt in (ReportFormat.json, ReportFormat.markdown, ReportFormat.html):
        assert render(merged, fmt)[0] == render(judged, fmt)[0], fmt


def test_parts_with_other_figure_tables_are_refused(cli: Cli, own: tuple[Path, Path], tmp_path: Path,
                                                    signing_key: tuple[Path, Any]) -> None:
    """The case table a standards/ copy without one falls back to is the installed one, which no input digest
    covers: two shards on machines with different installations agree on every digest and not on the cases."""
    root, _ = own
    key = SM2PrivateKey.generate()
    public = tmp_path / "parts.pub.pem"
    keys.write_public_key(public, key.public_key)
    paths = _parts(root, tmp_path, key)
    part = paths[1] / PART_NAME
    data = json.loads(part.read_text(encoding="utf-8"))
    data["figure_tables"]["cases"][0]["title"] = "另一安装的标题"
    part.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (paths[1] / bundle.DEFAULT_NAME).unlink()
    bundle.sign_files(sorted(paths[1].iterdir()), key, paths[1] / bundle.DEFAULT_NAME)
    res = cli("scan", "merge", *paths, "--out", tmp_path / "out", "--key", signing_key[0], "--trusted-key", public,
              "--root", root)
    assert res.code == 2, res.text
    assert "figure_tables" in res.err and "high-risk case table the figures are computed with differs" in res.err
    assert str(part) in res.err
    assert not (tmp_path / "out").exists()

"""Text from the register written where people and tools read it (a review of hostile manifest and region text).

A line break in a department's name started a line of its own in `xzgov scan`'s console output once its summary
table became a list (a pipe, a CI log): at the first column, where GitHub Actions reads ``::error …`` as a
command and a reader a forged verdict. U+FFFE in a title made the XLSX worksheet a corrupt file (XML 1.0 forbids
it). A table on the console never breaks a cell's line (the text stays valid input: the reports show such
titles on one line, tests/report_browser/test_hostile_text.py), and U+FFFE/U+FFFF are shown escaped wherever
invisible characters are.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from rich.table import Table

from tests.cli import CliResult
from xzgov.cli.output import SafeConsole
from xzgov.core.text import printable_text, visible_text

REPO = Path(__file__).resolve().parents[2]
FORGED = "::error file=systems/gat/x.yaml,line=1::forged"

Cli = Callable[..., CliResult]


@pytest.mark.parametrize("width", [30, 200])
def test_a_line_break_in_a_cell_never_starts_a_console_line(width: int) -> None:
    table = Table(title="部门")
    for header in ("系统", "部门", "等级", "结论", "得分", "高风险"):
        table.add_column(header)
    table.add_row("case-app", f"公安厅\n{FORGED}\r\u2028x", "3", "不符合", "70.0", "1")
    out = io.StringIO()
    SafeConsole(file=out, width=width, highlight=False, soft_wrap=True, markup=False).print(table)
    lines = out.getvalue().splitlines()
    assert not any(line.startswith("::") for line in lines), lines
    if width == 30:  # the list form: one line per cell
        assert any(line.strip() == f"部门: 公安厅\\x0a{FORGED}\\x0d\\u2028x" for line in lines), lines


@pytest.mark.parametrize("character", ["\ufffe", "\uffff"])
def test_the_characters_xml_forbids_are_shown_escaped(character: str) -> None:
    assert printable_text(f"a{character}b") == f"a\\u{ord(character):04x}b"
    assert visible_text(f"a{character}b") == f"a\\u{ord(character):04x}b"


def test_a_scan_on_a_narrow_console_prints_a_line_broken_department_on_its_line(
        root: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    assert "{id: gat, name: 公安厅," in text
    region.write_text(text.replace("{id: gat, name: 公安厅,", f'{{id: gat, name: "公安厅\\n{FORGED}",'),
                      encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "40")  # the summary table becomes a list, as in a CI log
    result = cli("scan", "--root", root, "--unsigned")
    assert result.code in (0, 1), result.text
    assert "公安厅\\x0a::error" in result.out, result.out
    assert not [line for line in result.text.splitlines() if line.startswith("::")]


def test_register_kpi_and_onboard_print_register_text_on_its_line(tmp_path: Path, cli: Cli) -> None:
    """Beyond the tables (a second reading): `register` printed the region's title, `kpi` the programme's and the
    overdue tasks' titles, `onboard` the system's title with their line breaks."""
    root = tmp_path / "region"
    root.mkdir()
    shutil.copy(REPO / "region.yaml", root / "region.yaml")
    shutil.copytree(REPO / "systems", root / "systems")
    region = root / "region.yaml"
    document = yaml.safe_load(region.read_text(encoding="utf-8"))
    programme = document["spec"]["programme"]
    for holder in (document["metadata"], programme, *programme["tasks"]):
        holder["title"] += f"\n{FORGED}"
    region.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert cli("validate", "--root", root).code == 0  # valid input: the reports show such text on one line
    results = [cli("register", "--root", root), cli("kpi", "--root", root, "--no-scan", "--as-of", "2025-06-01")]
    draft = tmp_path / "draft.yaml"
    manifest = (REPO / "systems" / "lzs" / "nyingchi-tourism.yaml").read_text(encoding="utf-8")
    draft.write_text(manifest.replace("name: nyingchi-tourism", "name: nyingchi-tourism-2").replace(
        "title: 林芝市智慧文旅监管服务平台", f'title: "林芝市\\n{FORGED}"').replace(
        'filing_number: "54040022001-23001"', 'filing_number: "54040022001-23099"').replace(
        "DJCP-2026-54-3651", "DJCP-2026-54-9651").replace("MP-2026-54-3149", "MP-2026-54-9149"), encoding="utf-8")
    results.append(cli("onboard", str(draft), "--root", root))
    for result in results:
        assert result.code in (0, 1), result.text
        assert "\\x0a::error" in result.out, result.out
        assert not [line for line in result.text.splitlines() if line.startswith("::")], result.text

"""Text from the register written where people and tools read it (a review of hostile manifest and region text).

A line break in a department's name started a line of its own in `xzgov scan`'s console output once its summary
table became a list (a pipe, a CI log): at the first column, where GitHub Actions reads ``::error …`` as a
command and a reader a forged verdict. U+FFFE in a title made the XLSX worksheet a corrupt file (XML 1.0 forbids
it). Names and titles are one line now, a table on the console never breaks a cell's line, and U+FFFE/U+FFFF are
shown escaped wherever invisible characters are.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.table import Table

from tests.cli import CliResult
from xzgov.cli.output import SafeConsole
from xzgov.core.text import printable_text, visible_text

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


@pytest.mark.parametrize(("where", "old", "new"), [
    ("region.yaml", "{id: gat, name: 公安厅,", f'{{id: gat, name: "公安厅\\n{FORGED}",'),
    ("region.yaml", "{id: gat, name: 公安厅,", '{id: gat, name: "公安厅\\u2028x",'),
    ("region.yaml", "{id: gat, name: 公安厅,", '{id: gat, name: "公安厅\\rx",'),
    ("region.yaml", "  title:", '  title: "西藏\\n自治区"\n  x-title:'),
])
def test_a_name_shown_in_the_reports_is_one_line(root: Path, cli: Cli, where: str, old: str, new: str) -> None:
    path = root / where
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if "x-title" in new:  # the region's title: replace the line, keep the file valid otherwise
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("  x-title:")]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("validate", "--root", root)
    assert result.code == 1, result.text
    assert "breaks the line" in result.text and "write it on one line" in result.text, result.text


def test_a_system_title_is_one_line_and_a_blank_one_is_still_blank(root: Path, cli: Cli) -> None:
    manifest = next((root / "systems").rglob("*.yaml"))
    text = manifest.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.lstrip().startswith("title:"))
    indent = line[: len(line) - len(line.lstrip())]
    manifest.write_text(text.replace(line, f'{indent}title: "政务\\u2029平台"', 1), encoding="utf-8")
    result = cli("validate", "--root", root)
    assert result.code == 1 and "metadata.title" in result.text and "breaks the line" in result.text, result.text
    manifest.write_text(text.replace(line, f'{indent}title: "  "', 1), encoding="utf-8")
    result = cli("validate", "--root", root)
    assert result.code == 1 and "is blank (only spaces)" in result.text, result.text
    # a title with inner spaces, Tibetan or full-width text stays valid
    manifest.write_text(text.replace(line, f"{indent}title: 西藏 ལྷ་ས་ 政务（平台）", 1), encoding="utf-8")
    assert cli("validate", "--root", root).code == 0


@pytest.mark.parametrize("character", ["\ufffe", "\uffff"])
def test_the_characters_xml_forbids_are_shown_escaped(character: str) -> None:
    assert printable_text(f"a{character}b") == f"a\\u{ord(character):04x}b"
    assert visible_text(f"a{character}b") == f"a\\u{ord(character):04x}b"

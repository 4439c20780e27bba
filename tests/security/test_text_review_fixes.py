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

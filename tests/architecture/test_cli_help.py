"""Every command's help flows at an 80-column terminal: a line ends where the next word no longer fits,
or where its sentence ends, never where the docstring's source line happened to be wrapped."""

from __future__ import annotations

from itertools import pairwise

import pytest
from rich.cells import cell_len

from tests.cli import run
from xzgov.cli.helptext import reflow
from xzgov.cli.main import COMMANDS, load_command

WIDTH = 80
_HARD_END = ".:;!?。：；！？"


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = []
    for name in COMMANDS:
        command = load_command(name)
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    return paths


def _ragged(lines: list[str]) -> list[str]:
    """Description lines broken although the next word would have fitted and no sentence ended there."""
    found = []
    for line, following in pairwise(lines):
        text, next_text = line.rstrip(), following.strip()
        if not text.strip() or not next_text or text[-1] in _HARD_END or next_text.startswith(("-", "*", "•")):
            continue
        if cell_len(text) + 1 + cell_len(next_text.split()[0]) < WIDTH - 1:
            found.append(f"{text.strip()!r} / {next_text!r}")
    return found


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_help_text_is_not_broken_where_the_source_was(path: list[str], capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    result = run(capsys, *path, "--help")
    assert result.code == 0, result.text
    description = result.out.split("╭")[0].splitlines()
    assert not _ragged(description), f"xzgov {' '.join(path)} --help: " + "; ".join(_ragged(description))


def test_reflow_keeps_sentences_lists_and_unwrapped_blocks() -> None:
    text = ("Merges parts of different registers, catalogue or\nrule versions are refused.\nExit codes: 0 ok.\n\n"
            "Steps:\n- one\n- two\n\n\bkept\nas is\n\n中文说明在源码里\n换行了")
    assert reflow(text) == ("Merges parts of different registers, catalogue or rule versions are refused.\n"
                            "Exit codes: 0 ok.\n\nSteps:\n- one\n- two\n\n\bkept\nas is\n\n中文说明在源码里换行了")

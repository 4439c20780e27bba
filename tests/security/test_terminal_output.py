"""Data printed to the terminal is never interpreted: Rich markup in a title or a department name neither
crashes a command after it has written files nor styles the output; control characters and ANSI escapes
from data are shown escaped (issue 11, item 12)."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli import CliResult
from tests.register.conftest import FIXTURE, edit
from tests.register.test_onboard import NEW
from xzgov.cli.output import console


@pytest.fixture
def region(tmp_path: Path) -> Path:
    target = tmp_path / "region"
    shutil.copytree(FIXTURE, target)
    return target


HOSTILE = "出入境 [/] [bold red]x[/] \\x1b[2J\\x1b[1;1HOK: verified"


def test_markup_and_escapes_in_a_title_do_not_crash_onboarding(
    region: Path, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    assert cli("inventory", "--root", str(region))[0] == 0
    candidate = tmp_path / "permit.yaml"
    candidate.write_text(NEW.replace("title: 出入境证件系统", f'title: "{HOSTILE}"'), encoding="utf-8")
    code, out, err = cli("onboard", str(candidate), "--root", str(region))
    assert code == 0, out + err
    assert "[/] [bold red]x[/]" in out  # printed as written
    assert "\x1b" not in out + err and "\\x1b[2J" in out  # the escape is shown, not obeyed


def test_markup_in_a_department_name_does_not_crash_the_summary(region: Path, cli: Callable[..., CliResult]) -> None:
    region_file = region / "region.yaml"
    text = region_file.read_text(encoding="utf-8")
    department = text.split("name: ", 2)[2].split(",")[0].split("\n")[0]  # the first department's name
    edit(region_file, f"name: {department}", f'name: "{department} [/]\\x1b[31m"')
    code, out, err = cli("register", "--root", str(region))
    assert code == 0, out + err
    assert f"{department} [/]" in out and "\x1b" not in out


def test_errors_carrying_data_are_printed_literally(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    missing = tmp_path / "a[/]b\x1b[31m.yaml"
    code, _, err = cli("validate", str(missing))
    assert code == 2
    assert "a[/]b\\x1b[31m.yaml" in err and "\x1b" not in err


def test_the_console_shows_control_characters_and_keeps_layout() -> None:
    with console.capture() as captured:
        console.print("[/] \x1b[2J\x07 line\n\tnext\u202e")
    assert captured.get() == "[/] \\x1b[2J\\x07 line\n        next\\u202e\n"


def test_emoji_codes_in_data_are_printed_as_written() -> None:
    """Rich replaces ``:name:`` emoji codes by default: the location ``case-app.yaml:100:`` of an error printed as
    "case-app.yaml💯", and a ``:smile:`` in a title was changed (review of the CLI, December 2026)."""
    from rich.table import Table

    table = Table()
    table.add_column("title")
    table.add_row("户籍 :smile:")
    with console.capture() as captured:
        console.print("systems/gat/case-app.yaml:100: error :smile:")
        console.print(table)
    shown = captured.get()
    assert "case-app.yaml:100: error :smile:" in shown and "户籍 :smile:" in shown
    assert "\U0001f4af" not in shown.encode("unicode_escape").decode() and "😄" not in shown


def test_a_fifo_among_the_manifests_is_refused_not_skipped(region: Path, cli: Callable[..., CliResult]) -> None:
    fifo = region / "systems" / "gat" / "pipe.yaml"
    os.mkfifo(fifo)
    code, _, err = cli("validate", "--root", str(region))
    assert code == 2 and "pipe.yaml" in err and "not a regular file" in err


def test_an_unreadable_manifest_is_exit_2_as_the_readme_says(
    region: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = region / "systems" / "gat" / "case-app.yaml"
    real_open = os.open

    def failing_open(path: Any, *args: Any, **kwargs: Any) -> Any:  # the input reader opens with os.open
        if Path(path) == victim:
            raise OSError(errno.EIO, "Input/output error")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    code, _, err = cli("validate", "--root", str(region))
    assert code == 2 and "case-app.yaml" in err and "cannot read" in err
    assert cli("plan", "--root", str(region), "--no-connectivity")[0] == 2


@pytest.mark.parametrize(("args", "code"), [
    (["register", "--format", "json"], 0),  # JSON written with sys.stdout
    (["validate"], 0),  # Rich console output
    (["keys", "show", "no-such.pem"], 2),  # a usage error, reported on a closed stderr too
])
def test_a_reader_that_leaves_early_does_not_change_the_exit_code(args: list[str], code: int,
                                                                  tmp_path: Path) -> None:
    """``xzgov scan --no-gate | head -1`` exited 1: Rich turns a closed pipe into exit 1 (and plain writes
    raised BrokenPipeError, exit 3 "nothing was changed"). The command's own exit code stands."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "xzgov.cli.main", *args], cwd=repo,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(repo)})
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line
    process.stderr.close()
    assert process.wait(timeout=120) == code


def test_the_console_follows_columns_set_after_it_was_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich fixes COLUMNS when a console is made; xzgov's consoles are made on import, so a caller's width set
    later (a test, an embedding program) was ignored and tables wrapped at the width of the first import."""
    from xzgov.cli.output import SafeConsole

    monkeypatch.setenv("COLUMNS", "80")
    made = SafeConsole(highlight=False)
    monkeypatch.setenv("COLUMNS", "200")
    assert made.width == 200
    assert SafeConsole(width=90).width == 90  # an explicit width stays

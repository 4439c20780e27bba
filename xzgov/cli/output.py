"""Shared console output: diagnostics, tables, JSON."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from xzgov.core.errors import Diagnostic
from xzgov.core.text import printable_text as printable_text
from xzgov.core.text import visible_text as visible_text


class SafeConsole(Console):
    """A console that never interprets data: every string printed (directly or in a table cell) is taken
    literally, never as Rich markup (``[/]`` in a title would crash the command after it wrote its files),
    and control characters, ANSI escapes and bidi overrides are shown as escapes (a crafted name cannot
    move the cursor or fake an "OK" line). Nor are emoji codes replaced: ``file:100:`` printed as "file💯",
    and a ``:smile:`` in a value changed. Styling is given with :class:`rich.text.Text`, not markup."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["emoji"] = False
        super().__init__(*args, **kwargs)
        if kwargs.get("width") is None:
            # Rich fixes COLUMNS as it is when the console is made (here, when this module is first imported):
            # read the width each time instead, as the terminal's is, so a caller's COLUMNS is followed.
            self._width = None

    def on_broken_pipe(self) -> None:
        """The reader left (``xzgov scan | head -1``): the rest of the output goes nowhere and the command
        finishes with its own exit code. Rich exits with 1 here, which turned a passing gate (or a usage
        error, 2) into 1 for a pipeline that only read the first line."""
        self.quiet = True
        reader_gone(self.file)

    def render_str(self, text: str, **options: Any) -> Any:
        options["markup"] = False
        options["emoji"] = False
        return super().render_str(printable_text(text), **options)

    def print(self, *objects: Any, **options: Any) -> None:
        """Print; a table never cuts a cell to "…": it folds, or becomes a list when it cannot fit."""
        from rich.table import Table

        for value in objects:
            if isinstance(value, Table):
                _fold(value)
        if len(objects) == 1 and isinstance(objects[0], Table):
            lines = _table_as_list(objects[0], self.width)
            if lines is not None:
                for line in lines:
                    super().print(line)
                return
        super().print(*objects, **options)


console = SafeConsole(highlight=False, soft_wrap=True, markup=False)
console_err = SafeConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Each diagnostic on stderr, its fields shown with :func:`visible_text`: file names and fields come from
    input (directories, bundles, manifests), so a line break or escape in one is shown, never obeyed."""
    for d in diagnostics:
        shown = dataclasses.replace(d, file=visible_text(d.file), path=visible_text(d.path),
                                    message=visible_text(d.message), hint=visible_text(d.hint))
        console_err.print(shown.render())


def reader_gone(stream: Any) -> None:
    """Send what is still written to ``stream`` (whose reader closed the pipe) to the null device."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture): nothing to redirect
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def write_stdout(text: str) -> None:
    """Write ``text`` to stdout as is; a reader that left (closed pipe) is not an error of the command."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone(sys.stdout)


def print_json(data: Any) -> None:
    """Write JSON to stdout, unwrapped and UTF-8 (no rich formatting that could break parsers)."""
    write_stdout(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(label: str, *, enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A transient bar on stderr, fed by a ``(done, total, name)`` callback; ``None`` when disabled, and when
    stderr is no terminal: there the "transient" bar left a blank line (before ``logs verify``'s error)."""
    if not enabled or not console_err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=console_err, transient=True)
    task = bar.add_task("", total=None)

    def advance(done: int, total: int, name: str) -> None:
        bar.update(task, completed=done, total=total, description=name)

    with bar:
        yield advance


#: Names (files, bundle paths, key comments) are one line: a line break in one is shown, not obeyed.
safe_text = visible_text


def print_table(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[str]], *, target: Console | None = None,
    justify_right: Iterable[int] = (),
) -> None:
    """A table of plain cells (the console folds it, or lists it when it cannot fit: :class:`SafeConsole`)."""
    from rich.table import Table

    right = set(justify_right)
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="right" if index in right else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    (target or console).print(table)


def _fold(table: Any) -> None:
    """Cells wrap (fold) instead of being cut to "…" when the terminal or the pipe is narrow."""
    for column in table.columns:
        if column.overflow == "ellipsis":
            column.overflow = "fold"
        column.no_wrap = False


def _table_as_list(table: Any, width: int) -> list[str] | None:
    """``table`` as ``header: value`` lines when its columns cannot fit ``width`` even folded (a column
    needs its header and 6 cells of content to stay readable); ``None`` when it fits."""
    from rich.cells import cell_len
    from rich.text import Text

    def plain(value: Any) -> str:
        # one line each: a line break in a cell (a department name from region.yaml) started a line of its own,
        # at the first column, where a CI log reads workflow commands (::error …) and a reader a verdict
        return visible_text(value.plain if isinstance(value, Text) else str(value or ""))

    headers = [plain(column.header) for column in table.columns]
    cells = [[plain(cell) for cell in column._cells] for column in table.columns]
    rows = len(cells[0]) if cells else 0
    needed = sum(max([min(cell_len(h), 6), *(min(cell_len(t), 6) for t in column)]) + 3
                 for h, column in zip(headers, cells, strict=True)) + 1
    if needed <= width or not rows:
        return None
    lines = [plain(table.title)] if table.title else []
    for index in range(rows):
        lines.append(f"- {cells[0][index]}")
        lines.extend(f"    {header}: {column[index]}" for header, column in zip(headers[1:], cells[1:], strict=True))
    return lines

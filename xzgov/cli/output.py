"""Shared console output: diagnostics, tables, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from xzgov.core.errors import Diagnostic

console = Console(highlight=False, soft_wrap=True)
console_err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        console_err.print(diagnostic.render(), markup=False)


def print_json(data: Any) -> None:
    """Write JSON to stdout, unwrapped and UTF-8 (no rich formatting that could break parsers)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(label: str, *, enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A transient bar on stderr, fed by a ``(done, total, name)`` callback; ``None`` when disabled."""
    if not enabled:
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

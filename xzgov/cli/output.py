"""Shared console output: diagnostics, tables, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
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

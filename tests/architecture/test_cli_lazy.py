"""The top-level CLI lists its commands from a table and imports a command's module only when it runs."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections import defaultdict

import typer
import typer.core
import typer.main

from xzgov.cli.main import COMMANDS, load_command


def test_help_imports_no_command_module() -> None:
    probe = ("import sys; from xzgov.cli.main import _dispatch; _dispatch(['--help']); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "{'compliance', 'policies', 'stacks', 'pulumi', 'ansible', 'jsonschema'} "
             "or m.startswith(('xzgov.cli.', 'xzgov.facts', 'xzgov.crypto'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = done.stdout.strip().splitlines()[-1]
    assert loaded == "['xzgov.cli.main', 'xzgov.cli.output']", loaded


def test_the_table_matches_what_the_modules_register() -> None:
    by_module: dict[str, set[str]] = defaultdict(set)
    for name, (module, _) in COMMANDS.items():
        by_module[module].add(name)
    for module, names in by_module.items():
        app = typer.Typer()
        importlib.import_module(module).register(app)
        built = typer.main.get_command(app)
        registered = set(built.commands) if isinstance(built, typer.core.TyperGroup) else {built.name}
        assert registered == names, f"{module} registers {sorted(registered)}, the table says {sorted(names)}"


def test_the_table_summary_is_each_commands_own_help() -> None:
    for name, (_, summary) in COMMANDS.items():
        command = load_command(name)
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert own == " ".join(summary.split()), f"{name}: table says {summary!r}, the command says {own!r}"

"""``xzgov validate | onboard | inventory | register``: the register and its derived inventories."""

from __future__ import annotations

import enum
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xzgov.cli.output import console, console_err, print_diagnostics, print_json
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.inventory import inventory_files
from xzgov.core.register import SYSTEMS_DIR, check_register
from xzgov.core.transaction import FileTransaction


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


RootOption = Annotated[
    Path, typer.Option("--root", help="Repository root holding region.yaml and systems/.", file_okay=False)
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


def validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Manifests to check (default: all).")] = None,
    root: RootOption = Path("."),
    output: FormatOption = OutputFormat.text,
) -> int:
    """Validate manifests against the schema and the whole register; report every error.

    Exit codes: 0 valid, 1 invalid input, 2 usage error.
    """
    files = _existing(paths or [])
    loaded = check_register(root, extra=files, replace_same_name=True)
    wanted = {_relative(path, root) for path in files}
    diagnostics = [d for d in loaded.diagnostics if not wanted or d.file in wanted or d.file.endswith("region.yaml")]
    count = len(loaded.register.systems) if loaded.register else len(loaded.documents)
    if output is OutputFormat.json:
        print_json({"valid": not diagnostics, "systems": count, "errors": [d.to_json() for d in diagnostics]})
    elif diagnostics:
        print_diagnostics(diagnostics)
        files_with_errors = len({d.file for d in diagnostics})
        console_err.print(f"{len(diagnostics)} error(s) in {files_with_errors} file(s)")
    else:
        checked = f"{len(files)} manifest(s) against " if files else ""
        console.print(f"valid: {checked}{count} registered system(s)")
    return int(ExitCode.FAILED if diagnostics else ExitCode.OK)


def onboard(
    manifest: Annotated[Path, typer.Argument(help="The new (or updated) system manifest.")],
    root: RootOption = Path("."),
    output: FormatOption = OutputFormat.text,
) -> int:
    """Validate a manifest against the register, file it under systems/<department>/<name>.yaml and
    regenerate the inventories - all or nothing.

    Exit codes: 0 onboarded, 1 invalid manifest (nothing written), 2 usage error.
    """
    (path,) = _existing([manifest])
    loaded = check_register(root, extra=[path], replace_same_name=True)
    if not loaded.ok or loaded.register is None:
        raise XzgovError("the manifest was not onboarded; nothing was written", loaded.diagnostics)
    display = _relative(path, root)
    system = next((s for s in loaded.register if s.source == display), None)
    if system is None:  # the file is already the registered copy of an existing system
        system = next(s for s in loaded.register if s.source == display.removeprefix("./"))
    target = root / SYSTEMS_DIR / system.department / f"{system.name}.yaml"
    previous = _registered_path(root, system)
    if previous is not None and previous.resolve() != target.resolve():
        raise XzgovError(
            f"system '{system.name}' is registered at {_relative(previous, root)} under another department",
            [Diagnostic(display, 0, 0, "metadata.department", "moving a system between departments is a change "
                        "of ownership", "remove the old manifest in a reviewed change first", "reference")],
        )
    transaction = FileTransaction()
    transaction.write(target, path.read_bytes())
    register = loaded.register
    for inventory_path, text in inventory_files(register, root).items():
        transaction.write(inventory_path, text)
    written = transaction.commit()
    if output is OutputFormat.json:
        print_json({"onboarded": system.name, "path": _relative(target, root),
                    "written": [_relative(p, root) for p in written]})
    else:
        console.print(f"onboarded [bold]{system.name}[/] ({system.title}) → {_relative(target, root)}")
        for written_path in written:
            console.print(f"  wrote {_relative(written_path, root)}")
    return int(ExitCode.OK)


def inventory(
    root: RootOption = Path("."),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if an inventory is stale.")] = False,
) -> int:
    """Write the Ansible inventory of every site under inventories/<site>/hosts.yml.

    Exit codes: 0 written (or up to date with --check), 1 invalid register or stale inventory, 2 usage error.
    """
    register = _load(root)
    transaction = FileTransaction()
    for path, text in inventory_files(register, root).items():
        transaction.write(path, text)
    if check:
        stale = transaction.changed_paths()
        for path in stale:
            console_err.print(f"stale: {_relative(path, root)} (run xzgov inventory)")
        return int(ExitCode.FAILED if stale else ExitCode.OK)
    written = transaction.commit()
    for site in sorted(register.region.sites):
        hosts = sum(len(s.hosts) for s in register if s.site == site)
        console.print(f"{site}: {hosts} host(s) → inventories/{site}/hosts.yml")
    console.print(f"{len(written)} file(s) changed")
    return int(ExitCode.OK)


def summary(root: RootOption = Path("."), output: FormatOption = OutputFormat.text) -> int:
    """Summarise the register: systems by department, tier, zone, level and site."""
    register = _load(root)
    region = register.region
    views: dict[str, tuple[str, Counter[str], dict[str, str]]] = {
        "department": ("部门 Department", Counter(s.department for s in register),
                       {d.id: d.name for d in region.departments.values()}),
        "tier": ("层级 Tier", Counter(s.tier for s in register), {}),
        "zone": ("区域 Zone", Counter(s.zone for s in register), {z.id: z.name for z in region.zones.values()}),
        "level": ("等保级别 Level", Counter(f"第{s.level}级" for s in register), {}),
        "site": ("站点 Site", Counter(s.site for s in register), {s.id: s.name for s in region.sites.values()}),
    }
    if output is OutputFormat.json:
        print_json({"systems": len(register), "hosts": sum(len(s.hosts) for s in register),
                    **{key: dict(sorted(counter.items())) for key, (_, counter, _) in views.items()}})
        return int(ExitCode.OK)
    console.print(f"[bold]{region.title}[/]: {len(register)} systems, "
                  f"{sum(len(s.hosts) for s in register)} hosts, "
                  f"{sum(len(s.workloads) for s in register)} workloads")
    for title, counter, names in views.values():
        table = Table(title=title, title_justify="left")
        table.add_column("id")
        table.add_column("名称 name")
        table.add_column("systems", justify="right")
        for key, count in sorted(counter.items(), key=lambda item: (-item[1], item[0])):
            table.add_row(key, names.get(key, ""), str(count))
        console.print(table)
    return int(ExitCode.OK)


def _load(root: Path) -> m.Register:
    loaded = check_register(root)
    if not loaded.ok or loaded.register is None:
        raise XzgovError(f"{len(loaded.diagnostics)} error(s) in the register; run xzgov validate",
                         loaded.diagnostics)
    return loaded.register


def _registered_path(root: Path, system: m.System) -> Path | None:
    for path in sorted((root / SYSTEMS_DIR).glob(f"*/{system.name}.yaml")):
        return path
    return None


def _existing(paths: list[Path]) -> list[Path]:
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise UsageError(
            f"no such file: {', '.join(map(str, missing))}",
            [Diagnostic(str(path), 0, 0, "", "file not found", "check the path", "io") for path in missing],
        )
    return paths


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("onboard")(onboard)
    app.command("inventory")(inventory)
    app.command("register")(summary)

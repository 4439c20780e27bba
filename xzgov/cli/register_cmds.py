"""``xzgov validate | onboard | inventory | register``: the register and its derived inventories."""

from __future__ import annotations

import dataclasses
import enum
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from xzgov.cli.output import console, console_err, print_diagnostics, print_json, printable_text
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.fsutil import atomic_write
from xzgov.core.inventory import inventory_files
from xzgov.core.register import REGION_FILE, SYSTEMS_DIR, check_register
from xzgov.core.transaction import FileTransaction, register_lock
from xzgov.core.yamlio import iter_yaml_files, load_file


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
    _require_region(root)
    display = _relative(path, root)
    data = _read_candidate(path, display)
    # Validate a private copy of the bytes read once and file exactly those: the manifest may change
    # on disk meanwhile (TOCTOU). Under the register lock: another onboarding cannot slip in between
    # our validation of the whole register and our write.
    with register_lock(root), tempfile.TemporaryDirectory(prefix="xzgov-onboard-") as private:
        copy = atomic_write(Path(private) / path.name, data, mode=0o600)
        loaded = check_register(root, extra=[copy], replace_same_name=True)
        if not loaded.ok or loaded.register is None:
            raise XzgovError("the manifest was not onboarded; nothing was written",
                             [_as_candidate(d, str(copy), display) for d in loaded.diagnostics])
        system = next(s for s in loaded.register if s.source == str(copy))
        target = _filing_path(root, system, display)
        transaction = FileTransaction(root)
        transaction.write(target, data)
        for inventory_path, text in inventory_files(loaded.register, root).items():
            transaction.write(inventory_path, text)
        written = transaction.commit()
    if output is OutputFormat.json:
        print_json({"onboarded": system.name, "path": _relative(target, root),
                    "written": [_relative(p, root) for p in written]})
    else:
        console.print(Text.assemble("onboarded ", (printable_text(system.name), "bold"),
                                    printable_text(f" ({system.title}) → {_relative(target, root)}")))
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
    if check:  # reads only: no lock, so it works in a read-only checkout
        register = _load(root)
        transaction = _inventory_transaction(register, root)
        stale = transaction.changed_paths()
        for path in stale:
            console_err.print(f"stale: {_relative(path, root)} (run xzgov inventory)")
        return int(ExitCode.FAILED if stale else ExitCode.OK)
    _require_region(root)
    with register_lock(root):
        register = _load(root)
        written = _inventory_transaction(register, root).commit()
    for site in sorted(register.region.sites):
        hosts = sum(len(s.hosts) for s in register if s.site == site)
        console.print(f"{site}: {hosts} host(s) → inventories/{site}/hosts.yml")
    console.print(f"{len(written)} file(s) changed")
    return int(ExitCode.OK)


def _inventory_transaction(register: m.Register, root: Path) -> FileTransaction:
    transaction = FileTransaction(root)
    for path, text in inventory_files(register, root).items():
        transaction.write(path, text)
    return transaction


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
    console.print(Text.assemble((printable_text(region.title), "bold"), f": {len(register)} systems, "
                  f"{sum(len(s.hosts) for s in register)} hosts, "
                  f"{sum(len(s.workloads) for s in register)} workloads"))
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


def _require_region(root: Path) -> None:
    """Fail with the register's own error (exit 2) before the lock file is created in a wrong --root."""
    if not (root / REGION_FILE).is_file():
        check_register(root)  # raises the located "no region.yaml" usage error


def _read_candidate(path: Path, display: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {display}: {error.strerror or error}",
                         [Diagnostic(display, 0, 0, "", f"cannot read: {error.strerror or error}",
                                     "check the path and its permissions", "io")]) from error


def _as_candidate(diagnostic: Diagnostic, copy: str, display: str) -> Diagnostic:
    """Point a diagnostic about the private copy at the file the user gave."""
    if copy not in f"{diagnostic.file}\n{diagnostic.message}\n{diagnostic.hint}":
        return diagnostic
    return dataclasses.replace(diagnostic, file=diagnostic.file.replace(copy, display),
                               message=diagnostic.message.replace(copy, display),
                               hint=diagnostic.hint.replace(copy, display))


def _filing_path(root: Path, system: m.System, display: str) -> Path:
    """Where the validated manifest of ``system`` goes: the file already holding that system (found
    by metadata.name, whatever the file is called), else systems/<department>/<name>.yaml."""
    registered = _files_of_system(root, system.name)
    if len(registered) > 1:
        listed = ", ".join(_relative(path, root) for path, _ in registered)
        raise XzgovError(
            f"system '{system.name}' is registered in {len(registered)} files ({listed})",
            [Diagnostic(_relative(path, root), 0, 0, "metadata.name", f"'{system.name}' is also defined elsewhere",
                        "keep one manifest per system: remove the duplicates in a reviewed change", "duplicate")
             for path, _ in registered],
        )
    if registered:
        previous, department = registered[0]
        if department != system.department:
            raise XzgovError(
                f"system '{system.name}' is registered at {_relative(previous, root)} under another department",
                [Diagnostic(display, 0, 0, "metadata.department", "moving a system between departments is a "
                            "change of ownership", "remove the old manifest in a reviewed change first",
                            "reference")],
            )
        return previous
    target = root / SYSTEMS_DIR / system.department / f"{system.name}.yaml"
    if os.path.lexists(target):  # a file named after this system but holding another one
        raise XzgovError(
            f"{_relative(target, root)} already holds another system; nothing was written",
            [Diagnostic(_relative(target, root), 0, 0, "metadata.name", f"not the manifest of '{system.name}'",
                        "rename that file after the system it holds, then onboard again", "reference")],
        )
    return target


def _files_of_system(root: Path, name: str) -> list[tuple[Path, str]]:
    """(file, metadata.department) of every registered manifest whose metadata.name is ``name``."""
    found: list[tuple[Path, str]] = []
    for path in iter_yaml_files(root / SYSTEMS_DIR):
        document, _ = load_file(path)
        data = document.data if document is not None else None
        metadata = data.get("metadata") if isinstance(data, dict) else None
        if isinstance(metadata, dict) and metadata.get("name") == name:
            found.append((path, str(metadata.get("department", ""))))
    return found


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

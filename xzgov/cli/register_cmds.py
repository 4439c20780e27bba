"""``xzgov validate | onboard | inventory | register``: the register and its derived inventories."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import errno
import ipaddress
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.text import Text

from xzgov.cli.output import (
    console,
    console_err,
    print_diagnostics,
    print_json,
    print_table,
    printable_text,
    safe_text,
)
from xzgov.core import model as m
from xzgov.core import secmgmt
from xzgov.core.clock import region_today
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError, output_error
from xzgov.core.fsutil import atomic_write, display_path
from xzgov.core.inventory import foreign_inventories, inventory_files
from xzgov.core.register import REGION_FILE, SYSTEMS_DIR, check_register, exit_code_of, valid_register
from xzgov.core.transaction import FileTransaction, register_lock
from xzgov.core.yamlio import iter_yaml_files, load_documents, load_file, read_input, read_text
from xzgov.facts.thresholds import load_thresholds


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


RootOption = Annotated[
    Path, typer.Option("--root", help="Repository root holding region.yaml and systems/.", file_okay=False)
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


def validate(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Manifests, or directories of manifests (every *.yaml / *.yml under them), to check (default: all)."
    )] = None,
    root: RootOption = Path("."),
    output: FormatOption = OutputFormat.text,
) -> int:
    """Validate manifests against the schema and the whole register; report every error.

    Exit codes: 0 valid, 1 invalid input, 2 usage error.
    """
    try:
        files = _manifests(paths or [], root)
        loaded = check_register(root, extra=files, replace_same_name=True)
    except (XzgovError, OSError) as error:
        if output is OutputFormat.json:  # JSON on stdout either way, as onboard's (a pipeline parses it)
            print_json({"valid": False, "systems": None, "errors": _refusal_json(error), "errors_elsewhere": 0})
        raise
    wanted = set(loaded.candidates)
    # the named files' errors, region.yaml's, and the register-wide ones that name them (an address or name clash
    # is reported at the second file in order, which may be another department's)
    region = display_path(root / REGION_FILE, root)
    named = re.compile("|".join(rf"(?<![\w./-]){re.escape(name)}(?![\w.-])" for name in sorted(wanted))) \
        if wanted else None
    diagnostics = [d for d in loaded.diagnostics if not wanted or d.file in wanted or d.file == region
                   or (named is not None and named.search(d.message))]
    elsewhere = len(loaded.diagnostics) - len(diagnostics)
    count = len(loaded.register.systems) if loaded.register else len(loaded.documents) or loaded.manifests
    if output is OutputFormat.json:
        # errors_elsewhere: the register's errors in other files (onboarding is refused until they are fixed)
        print_json({"valid": not diagnostics, "systems": count, "errors": [d.to_json() for d in diagnostics],
                    "errors_elsewhere": elsewhere})
    elif diagnostics:
        print_diagnostics(diagnostics)
        files_with_errors = len({d.file for d in diagnostics})
        console_err.print(f"{len(diagnostics)} error(s) in {files_with_errors} file(s)")
    elif elsewhere:  # the named files are valid; the register they join is not (onboarding would refuse)
        console.print(f"valid: {len(files)} manifest(s)")
        console_err.print(f"note: the register has {elsewhere} error(s) in other files, so it was not built: "
                          "these manifests met the schema and the checks of addresses, host names and references, "
                          "not yet those of flows across sites and to other systems' ports; onboarding would be "
                          "refused until the others are fixed (`xzgov validate` without paths lists them)")
    else:
        checked = f"{len(files)} manifest(s) against " if files else ""
        console.print(f"valid: {checked}{count} registered system(s)")
    return int(exit_code_of(diagnostics) if diagnostics else ExitCode.OK)


def onboard(
    manifest: Annotated[Path | None, typer.Argument(help="The new (or updated) system manifest.")] = None,
    root: RootOption = Path("."),
    output: FormatOption = OutputFormat.text,
    template: Annotated[TemplateKind | None, typer.Option(
        "--template", help="Write a commented Chinese manifest skeleton of this kind to MANIFEST (or "
        "<department>-new-system.yaml) instead of onboarding: workload (容器化应用), hosts (虚拟机部署), "
        "township (县区/乡镇便民服务系统).")] = None,
    department: Annotated[str | None, typer.Option(
        "--department", help="With --template: the department id (region.yaml) the skeleton is for.")] = None,
    vault_key_file: Annotated[Path | None, typer.Option(
        "--vault-key-file", "--key-file", help="Vault key (default $XZGOV_VAULT_KEY_FILE): re-binds values vaulted "
        "in a draft outside the register to the file they are filed as. --key-file, as the vault commands name it "
        "(and as a vault error's hint does).")] = None,
) -> int:
    """Validate a manifest against the register, file it under systems/<department>/<name>.yaml and
    regenerate the inventories - all or nothing.

    With --template KIND it writes a commented skeleton to start from instead (never over an existing file).

    Exit codes: 0 onboarded (or skeleton written), 1 invalid manifest (nothing written), 2 usage error.
    """
    try:
        if template is not None:
            return _write_template(template, manifest, department, root, output)
        if manifest is None:
            raise UsageError("give the manifest to onboard, or --template KIND to write a skeleton",
                             [Diagnostic("<command line>", 0, 0, "MANIFEST", "missing argument MANIFEST",
                                         "xzgov onboard my-system.yaml, or xzgov onboard --template workload",
                                         "usage")])
        return _onboard(manifest, root, output, vault_key_file)
    except (XzgovError, OSError) as error:
        # JSON on stdout either way (README): the refusal of an invalid manifest, and a usage error or a failed
        # write too; the human-readable errors go to stderr as always, with the same exit code
        if output is OutputFormat.json:
            print_json({"onboarded": None, "written": [], "errors": _refusal_json(error)})
        raise


def _refusal_json(error: XzgovError | OSError) -> list[dict[str, Any]]:
    """The ``errors`` of a JSON answer for a command refused before it could judge anything: the error's own
    diagnostics, or one naming it."""
    shown = error.diagnostics if isinstance(error, XzgovError) else ()
    said = error.message if isinstance(error, XzgovError) else f"{error.strerror or error}"
    where = getattr(error, "filename", None) or ""
    return [d.to_json() for d in shown] or [
        Diagnostic(str(where), 0, 0, "", said, "", "io" if isinstance(error, OSError) else "usage").to_json()]


def _onboard(manifest: Path, root: Path, output: OutputFormat, vault_key_file: Path | None) -> int:
    """:func:`onboard` of ``manifest``."""
    (path,) = _existing([manifest], "onboard")
    _require_region(root)
    display = display_path(path, root)
    data = _read_candidate(path, display)
    # Validate a private copy of the bytes read once and file exactly those: the manifest may change
    # on disk meanwhile (TOCTOU). Under the register lock: another onboarding cannot slip in between
    # our validation of the whole register and our write.
    with register_lock(root), tempfile.TemporaryDirectory(prefix="xzgov-onboard-") as private:
        copy = atomic_write(Path(private) / path.name, data, mode=0o600)
        loaded = check_register(root, extra=[copy], replace_same_name=True)
        if not loaded.ok or loaded.register is None:
            _refuse_onboarding([_as_candidate(d, str(copy), display) for d in loaded.diagnostics])
        system = next(s for s in loaded.register if s.source == str(copy))
        target = _filing_path(root, system)
        rebound = _schema_modeline(_rebind_vaulted(data, path, target, vault_key_file, display), root, target)
        if rebound != data:  # the re-bound bytes are what is filed: validate exactly them too
            copy = atomic_write(copy, rebound, mode=0o600)
            loaded = check_register(root, extra=[copy], replace_same_name=True)
            data = rebound
        if not loaded.ok or loaded.register is None:  # re-binding keeps every envelope valid; checked anyway
            _refuse_onboarding([_as_candidate(d, str(copy), display) for d in loaded.diagnostics])
        # the name is registered already: this replaces that system (an update) — said, never silent (two
        # drafts from one template share a name, and the second replaced the first without a word)
        updated = target.exists()
        transaction = FileTransaction(root)
        transaction.write(target, data)
        for inventory_path, text in inventory_files(loaded.register, root, load_thresholds(root)).items():
            transaction.write(inventory_path, text)
        written = transaction.commit()
    if output is OutputFormat.json:
        print_json({"onboarded": system.name, "path": display_path(target, root), "updated": updated,
                    "written": [display_path(p, root) for p in written]})
    else:
        said = "updated" if updated else "onboarded"
        # register text on one line (safe_text): a line break in a title started a console line of its own
        console.print(Text.assemble(f"{said} ", (safe_text(system.name), "bold"),
                                    f" ({safe_text(system.title)}) → {safe_text(display_path(target, root))}"))
        if updated:
            console.print(f"  replaces the registered manifest of {printable_text(system.name)} (same metadata.name)")
        for written_path in written:
            console.print(f"  wrote {display_path(written_path, root)}")
    return int(ExitCode.OK)


def _refuse_onboarding(diagnostics: list[Diagnostic]) -> NoReturn:
    """Exit 1 (2 when a file could not be read at all: :func:`exit_code_of`), nothing written; with ``--format
    json`` :func:`onboard` also prints the errors on stdout (a pipeline reads them there, as ``validate --format
    json`` prints them), the human-readable ones on stderr as always."""
    raise XzgovError("the manifest was not onboarded; nothing was written", diagnostics, exit_code_of(diagnostics))


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
            console_err.print(f"stale: {display_path(path, root)} (run xzgov inventory)")
        foreign = foreign_inventories(register, root)
        _warn_foreign(foreign, root)
        _warn_without_bastion(register)
        return int(ExitCode.FAILED if stale or foreign else ExitCode.OK)
    _require_region(root)
    with register_lock(root):
        register = _load(root)
        written = _inventory_transaction(register, root).commit()
    for site in sorted(register.region.sites):
        hosts = sum(len(s.hosts) for s in register if s.site == site)
        console.print(f"{site}: {hosts} host(s) → inventories/{site}/hosts.yml")
    console.print(f"{len(written)} file(s) changed")
    _warn_foreign(foreign_inventories(register, root), root)
    _warn_without_bastion(register)
    return int(ExitCode.OK)


def _warn_without_bastion(register: m.Register) -> None:
    """Say so when no host declares ``role: bastion``: every host admits management SSH from the
    security-management zone, and only a bastion's firewall sends it (xzgov.core.inventory.secmgmt_flows) — a
    register written before the role (its bastion undeclared) hardens every host out of the bastion's reach. (A
    bastion reaches every site's hosts; `xzgov dr declare` names a DR site without one of its own.)"""
    if not secmgmt.service_hosts(register, "bastion"):
        console_err.print("warning: no host declares role: bastion — no host opens management SSH to the others; "
                          "declare the bastion (spec.hosts[].role: bastion, in the security-management zone; "
                          "docs/security-management.md)")


def _warn_foreign(paths: list[Path], root: Path) -> None:
    """Name each inventory of a site region.yaml no longer has (``--check`` fails on them; they are not removed:
    deleting a folder under inventories/ is the operator's decision)."""
    for path in paths:
        console_err.print(f"stale: {display_path(path, root)}: '{path.parent.name}' is no site of region.yaml — "
                          "its hosts and firewall rules are not regenerated; remove the folder (or restore the "
                          "site in region.yaml)")


def _inventory_transaction(register: m.Register, root: Path) -> FileTransaction:
    transaction = FileTransaction(root)
    for path, text in inventory_files(register, root, load_thresholds(root)).items():
        transaction.write(path, text)
    return transaction


def summary(root: RootOption = Path("."), output: FormatOption = OutputFormat.text) -> int:
    """Summarise the register: systems by department, tier, zone, level and site.

    Exit codes: 0 shown, 1 invalid register, 2 usage error or unreadable input.
    """
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
    console.print(Text.assemble((safe_text(region.title), "bold"), f": {len(register)} systems, "
                  f"{sum(len(s.hosts) for s in register)} hosts, "
                  f"{sum(len(s.workloads) for s in register)} workloads"))
    for title, counter, names in views.values():
        rows = [(key, names.get(key, ""), str(count))
                for key, count in sorted(counter.items(), key=lambda item: (-item[1], item[0]))]
        print_table(title, ("id", "名称 name", "systems"), rows, justify_right=(2,))
    return int(ExitCode.OK)


def _load(root: Path) -> m.Register:
    return valid_register(check_register(root))


def _require_region(root: Path) -> None:
    """Fail with the register's own error (exit 2) before the lock file is created in a wrong --root."""
    if not (root / REGION_FILE).is_file():
        check_register(root)  # raises the located "no region.yaml" usage error


def _read_candidate(path: Path, display: str) -> bytes:
    """The candidate's bytes, read as ``validate`` reads it (:func:`xzgov.core.yamlio.read_input`: a link, FIFO
    or device is refused, exit 2): onboarding filed a symbolic link's target that validate refused."""
    data, problem = read_input(path, display)
    if data is None:
        diagnostic = problem or Diagnostic(display, 0, 0, "", "cannot read", "check the path", "io")
        raise UsageError(f"{display}: {diagnostic.message}", [diagnostic])
    return data


def _as_candidate(diagnostic: Diagnostic, copy: str, display: str) -> Diagnostic:
    """Point a diagnostic about the private copy at the file the user gave."""
    if copy not in f"{diagnostic.file}\n{diagnostic.message}\n{diagnostic.hint}":
        return diagnostic
    return dataclasses.replace(diagnostic, file=diagnostic.file.replace(copy, display),
                               message=diagnostic.message.replace(copy, display),
                               hint=diagnostic.hint.replace(copy, display))


def _filing_path(root: Path, system: m.System) -> Path:
    """Where the validated manifest of ``system`` goes: the file already holding that system (found
    by metadata.name, whatever the file is called), else systems/<department>/<name>.yaml."""
    registered = _files_of_system(root, system.name)
    if len(registered) > 1:
        listed = ", ".join(display_path(path, root) for path in registered)
        raise XzgovError(
            f"system '{system.name}' is registered in {len(registered)} files ({listed})",
            [Diagnostic(display_path(path, root), 0, 0, "metadata.name", f"'{system.name}' is also defined elsewhere",
                        "keep one manifest per system: remove the duplicates in a reviewed change", "duplicate")
             for path in registered],
        )
    if registered:  # in the same department: the register refuses a move (xzgov.core.register)
        return registered[0]
    target = root / SYSTEMS_DIR / system.department / f"{system.name}.yaml"
    if os.path.lexists(target) and not target.is_file():  # a directory, link or special file in the way
        raise XzgovError(
            f"{display_path(target, root)} exists and is not a manifest file; nothing was written",
            [Diagnostic(display_path(target, root), 0, 0, "metadata.name", "the path where this system is filed is "
                        "taken by a directory, link or special file", "move it away, then onboard again", "io")],
        )
    if os.path.lexists(target):  # a file named after this system but holding another one
        raise XzgovError(
            f"{display_path(target, root)} already holds another system; nothing was written",
            [Diagnostic(display_path(target, root), 0, 0, "metadata.name", f"not the manifest of '{system.name}'",
                        "rename that file after the system it holds, then onboard again", "reference")],
        )
    return target


def _files_of_system(root: Path, name: str) -> list[Path]:
    """Every registered manifest whose metadata.name is ``name``."""
    found: list[Path] = []
    for path in iter_yaml_files(root / SYSTEMS_DIR):
        document, _ = load_file(path)
        data = document.data if document is not None else None
        metadata = data.get("metadata") if isinstance(data, dict) else None
        if isinstance(metadata, dict) and metadata.get("name") == name:
            found.append(path)
    return found


def _manifests(paths: list[Path], root: Path) -> list[Path]:
    """The files given, with each directory replaced by the manifests under it (``systems/`` itself
    or the root adds nothing: the register is always checked whole)."""
    # (os.path.exists: a name too long or otherwise unstattable is "missing" here, then named for what it is)
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        _existing(missing, "validate")
    files: list[Path] = []
    region_file = (root / REGION_FILE).resolve()
    for path in paths:
        if not path.is_dir():
            if path.resolve() != region_file:  # region.yaml named: checked whole with the register, as always
                files.append(path)
            continue
        if path.resolve() == root.resolve():  # the root: its manifests are systems/ (not the stack, roles, tests …)
            path = root / SYSTEMS_DIR
        found = list(iter_yaml_files(path))
        files += [f for f in found if f.resolve() != region_file]
        if not found:
            raise UsageError(f"no manifest (*.yaml) under {path}",
                             [Diagnostic(str(path), 0, 0, "", "the directory holds no *.yaml manifest",
                                         "give a directory of system manifests, e.g. systems/dsjj", "io")])
    return _existing(list({f.resolve(): f for f in files}.values()), "validate")  # a file named twice: once


def _existing(paths: list[Path], command: str) -> list[Path]:
    """``paths`` when each is a regular file (or a link to one). Any other is refused (exit 2), each named for
    what it is (``validate /dev/null`` said "file not found"; ``onboard DIR`` called a directory "a device,
    pipe or socket") with a fix that fits ``command`` (``validate`` takes directories, ``onboard`` one file)."""
    wrong = [(path, what) for path in paths if (what := _not_a_file(path)) is not None]
    if wrong:
        missing = all(what == NOT_FOUND for _, what in wrong)
        named = ", ".join(str(path) if what == NOT_FOUND else f"{path} ({what})" for path, what in wrong)
        raise UsageError(
            f"{'no such file' if missing else 'not a manifest file'}: {named}",
            [Diagnostic(str(path), 0, 0, "", what, _fix(path, what, command), "io") for path, what in wrong],
        )
    return paths


#: What :func:`_not_a_file` says of a path where nothing is.
NOT_FOUND = "file not found"
DIRECTORY = "a directory, not a file"


def _not_a_file(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (``None`` when it is one, or a link to one): a directory,
    a named pipe, a socket, a device, a link that loops or leads nowhere - none of them is "not found"."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop that leads back to itself, not a file"
        try:
            target = os.readlink(path)
        except OSError:
            target = None
        if target is not None:
            return f"a symbolic link to {target}, which does not exist"
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return NOT_FOUND
        return f"cannot be read: {error.strerror or error}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return "not a regular file"


def _fix(path: Path, what: str, command: str) -> str:
    """The hint for a path that is not a manifest file, for the command it was given to."""
    if command == "onboard":
        if what == DIRECTORY:
            return (f"onboard files one manifest: give one *.yaml file in {path} "
                    f"(`xzgov validate {path}` checks every manifest in it)")
        wanted = "give the system manifest (*.yaml) to onboard, e.g. xzgov onboard my-system.yaml"
    else:
        wanted = "give a system manifest (*.yaml) or a directory of them"
    if what.startswith("a symbolic link"):
        return f"point the link at a manifest, or {wanted}"
    if what == NOT_FOUND:
        return f"check the path; {wanted}"
    return wanted


class TemplateKind(enum.StrEnum):
    workload = "workload"
    hosts = "hosts"
    township = "township"


def _write_template(
    kind: TemplateKind, target: Path | None, department: str | None, root: Path, output: OutputFormat
) -> int:
    # The department and the free host addresses come from the register: an invalid one is refused, as `register`
    # and `inventory` refuse it (onboarding needs it valid too). Read as empty, any --department was taken unchecked
    # — written as a path (`../../x`) and into the YAML — and the suggested addresses were checked against nothing.
    register = valid_register(check_register(root))
    departments = register.region.departments
    dept = department if department is not None else next(iter(departments), "dept")
    if dept not in departments and (departments or not re.fullmatch(r"[a-z][-a-z0-9]{0,62}", dept)):
        raise UsageError(f"unknown department {dept!r}",
                         [Diagnostic(str(root / REGION_FILE), 0, 0, "spec.departments", f"no department {dept!r}",
                                     f"departments: {', '.join(departments)}" if departments else
                                     "a department id is lower-case letters, digits and '-' (region.yaml "
                                     "spec.departments)", "reference")])
    name = f"{dept}-new-system"
    path = target or Path(f"{name}.yaml")
    if os.path.lexists(path):
        raise _template_exists(path)
    schema = os.path.relpath(Path(__file__).resolve().parent.parent / "core" / "schemas" / "system.schema.json",
                             path.resolve().parent)
    from compliance.scan.context import pinned_or_today

    used = {host.address for system in register for host in system.hosts}
    text = manifest_skeleton(kind, dept, departments[dept].name if dept in departments else dept, name, schema,
                             used=used, today=pinned_or_today())
    try:  # never over a file written since the check above (a draft being typed): overwrite=False
        atomic_write(path, text.encode("utf-8"), overwrite=False)
    except FileExistsError:
        raise _template_exists(path) from None
    except OSError as error:
        raise output_error(path, error, field="--template") from None
    if output is OutputFormat.json:
        print_json({"template": str(kind), "path": str(path), "department": dept, "name": name})
    else:
        console.print(printable_text(f"wrote {path}: {kind} 模板 ({dept}). 按注释填写后运行 "
                                     f"xzgov validate {path}, 再 xzgov onboard {path}"))
    return int(ExitCode.OK)


def _template_exists(path: Path) -> UsageError:
    """A skeleton never replaces a file (a draft being typed)."""
    return UsageError(f"{path} already exists; nothing was written",
                      [Diagnostic(str(path), 0, 0, "", "the file exists", "give another file name", "io")])


#: Opens a commented example block of a manifest skeleton: the declarations a rule reads, to be rewritten to the
#: facts and uncommented (``tests/kpi/test_cli_people.py`` uncomments them and scans the result).
EXAMPLE_MARK = "  # 【示例】"


def _free_addresses(first: str, count: int, used: Collection[ipaddress.IPv4Address]) -> list[str]:
    """``count`` host addresses from ``first`` on, in its /24 (.1 to .254), that no registered host uses (``first``
    and on when the /24 is full: validation then names the clash)."""
    start = ipaddress.IPv4Address(first)
    block = ipaddress.IPv4Network(f"{start}/24", strict=False)
    free = [a for a in block.hosts() if a >= start and a not in used and int(a) & 0xFF != 0xFF][:count]
    return [str(a) for a in free] if len(free) == count else [str(start + n) for n in range(count)]


def _planned_migration(today: dt.date) -> str:
    """A planned migration date after ``today`` (the year's last day, or the next year's within 30 days of it):
    the skeleton's fixed 2025-12-31 was in the past once the programme's last year ended, and a fresh system
    showed at once as 逾期未上云."""
    end = dt.date(today.year, 12, 31)
    return (end if (end - today).days >= 30 else dt.date(today.year + 1, 12, 31)).isoformat()


def manifest_skeleton(kind: TemplateKind, dept: str, dept_name: str, name: str, schema: str, *,
                      used: Collection[ipaddress.IPv4Address] = (), today: dt.date | None = None) -> str:
    """A manifest skeleton (Chinese comments) that validates as written once the placeholders are real: its host
    addresses are free in the register (``used``: the registered hosts' addresses) and its planned migration is
    after ``today`` (default: today in the region). Its commented example blocks (:data:`EXAMPLE_MARK`) show
    what the scan's rules read."""
    tier, locality, level, zone, address = "自治区", "", 3, "department", "10.67.250.10"
    migration = _planned_migration(today or region_today())
    if kind is TemplateKind.township:
        tier, level, zone, address = "乡镇", 2, "department", "10.67.251.10"
        locality = ("  locality: {prefecture: 拉萨, county: 城关区, township: 蔡公堂乡}"
                    "  # 县区/乡镇系统须写明所属地市、县区 (和乡镇)\n")
    workloads = ""
    hosts = ""
    store = f"{name}-app01" if kind is TemplateKind.hosts else "web"
    if kind in (TemplateKind.workload, TemplateKind.township):
        workloads = (
            "  # 容器化工作负载: 镜像必须以 sha256 摘要固定; 资源 requests ≤ limits\n"
            "  workloads:\n"
            "    - name: web\n"
            f"      image: registry.xzgov.internal/{dept}/{name}-web@sha256:{'0' * 64}  # 替换为真实摘要\n"
            "      # 每个端口须有其他系统 (或互联网接入平台、区域) 声明的 flow 到达, 仅本系统内部使用的端口标记\n"
            "      # exposure: internal (如仅供本系统应用访问的数据库), 否则为多余端口 (XZ-MAN-INBOUND-PORTS)\n"
            "      ports: [{port: 8443}]\n"
            "      resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: \"2\", memory: 4Gi}}\n"
            f"{EXAMPLE_MARK} XZ-MAN-IMAGE-SUPPLY-CHAIN: 镜像验签与最近一次漏洞扫描 (日期 YYYY-MM-DD, 30 日内)\n"
            "      # image_provenance: {signature: verified, signer: 统一密码服务平台签名验签服务器 (SM2), "
            "last_scan: 请填写, critical: 0, high: 0}\n")
    if kind is TemplateKind.hosts:
        hosts = (
            "  # 虚拟机: 地址须在所在区域、站点的网段内 (region.yaml zones[].cidrs), 且不与其他系统重复\n"
            "  # data: 主机上的业务数据 — postgresql (PostgreSQL/兼容库, pgBackRest 异地备份), files (文件/存储,\n"
            "  #       restic 异地备份, 目录见 data_paths), none (不保存业务数据)\n"
            "  # ports: 主机上监听的业务端口 (经堡垒机的 SSH 运维不列), 每个须有声明的入站 flow 或 exposure: internal\n"
            "  # 三级及以上须冗余 (XZ-MAN-REDUNDANCY): 至少两台承担同一职能的主机\n"
            "  hosts:\n"
            + "".join(f"    - {{hostname: {name}-app0{n}, address: {free}, "
                      "os: {family: debian, version: \"12\"}, purpose: 应用服务器, data: none}\n"
                      for n, free in enumerate(_free_addresses(address, 2, used), 1)))
    return f"""# yaml-language-server: $schema={schema}
# {dept_name} 信息系统上云登记清单 (模板: {kind})
# 填写说明: 每个字段的含义与取值见上面的 schema (编辑器可自动补全和检查)。
# 以 "# 【示例】" 开头的块是合规扫描要检查的声明: 按实际情况改写, 再去掉其下各行行首的 "# "
# (与实际不符的声明即虚假声明; 不去掉则扫描按未声明判定, 报告对应规则的发现)。
# 填好后: xzgov validate 本文件  →  无错误后 xzgov onboard 本文件 (登记到 systems/{dept}/)。
apiVersion: xzgov.io/v1
kind: System
metadata:
  name: {name}            # 系统标识: 小写字母、数字、连字符, 全区唯一
  department: {dept}      # 责任部门 id (region.yaml spec.departments)
  title: 请填写系统中文名称
  labels: {{programme: digital-gov-2023-2025}}
spec:
  owner: {{department: {dept}, role: 系统负责人, contact: ops@{dept}.xizang.gov.cn}}  # 责任岗位与联系邮箱
  tier: {tier}            # 建设层级: 自治区 / 地市 / 县区 / 乡镇
{locality}  classification:
    level: {level}        # 等保 安全保护等级 (1–4); 二级及以上须在备案后填写 filing_number
    # filing_number: "54010013000-25000"  # 公安机关备案编号
    data_class: 一般数据   # 一般数据 / 重要数据 / 核心数据
    personal_information: true
  placement: {{zone: {zone}, site: lhasa}}  # 电子政务外网区域与部署站点
  exposure:
    internet_facing: false  # 面向互联网的系统须放在 public-service 区并经统一互联网接入平台
{workloads}{hosts}  flows:
    # 声明全部对外访问; 未声明的流量被默认拒绝
    - {{to: {{service: identity}}, protocol: tcp, port: 443, purpose: 统一身份认证}}
    - {{to: {{system: data-exchange}}, protocol: tcp, port: 8443, purpose: 经共享交换平台交换数据}}
    - {{to: {{zone: security-management}}, protocol: tcp, port: 6514, purpose: 审计日志上送日志审计中心 (TLS)}}
  services: [identity]
  continuity:
    rpo_minutes: 60       # 恢复点目标 (分钟)
    rto_minutes: 240      # 恢复时间目标 (分钟)
    backup: {{schedule: "0 * * * *"}}  # 备份计划 (cron), 间隔不超过 RPO; 保留天数默认按等保级别
  crypto:
    # 密码应用方案 (GB/T 39786): 按 物理/网络/设备/应用 四个层面填写密码机制与产品
    network:
      mechanisms:
        - {{purpose: identity, algorithms: [TLCP, SM2], description: TLCP 国密 SSL 双向身份鉴别}}
        - {{purpose: transport-confidentiality, algorithms: [TLCP, SM4]}}
        - {{purpose: transport-integrity, algorithms: [TLCP, SM3]}}
{EXAMPLE_MARK} XZ-MAN-CRYPTO-ALGORITHMS: 三级 "应" 的设备层单元 (身份鉴别、远程管理通道)
    # device:
    #   mechanisms:
    #     - {{purpose: identity, algorithms: [SM2], description: 运维人员智能密码钥匙登录堡垒机}}
    #     - {{purpose: remote-management, algorithms: [TLCP, SM4], description: 经堡垒机的国密运维通道}}
    application:
      mechanisms:
        - {{purpose: identity, algorithms: [SM2], description: 接入统一身份认证的 SM2 证书登录}}
{EXAMPLE_MARK} XZ-MAN-CRYPTO-ALGORITHMS, XZ-MAN-PI-STORAGE: 重要数据传输机密性, 个人信息存储保护
        # - {{purpose: transport-confidentiality, algorithms: [TLCP, SM4]}}
        # - {{purpose: storage-confidentiality, algorithms: [SM4], description: 个人信息字段 SM4 加密}}
        # - {{purpose: storage-integrity, algorithms: [SM3], description: 个人信息 SM3-HMAC 完整性校验}}
    # 密码产品 (XZ-MAN-CRYPTO-PRODUCTS): 在 crypto.products 登记认证产品 (证书编号、模块等级), 机制写 product: 产品 id
  authentication:
    factors: [password, sm2-certificate]  # 三级及以上: 两种以上因素, 其中一种为密码技术
  audit: {{destination: log-centre}}       # 审计日志上送的日志中心 (region.yaml log_servers)
  programme:  # 三年行动跟踪 (region.yaml spec.programme; xzgov kpi)
    migration: {{state: migrating, date: "{migration}"}}  # on-cloud / migrating (计划日期) / exempt (理由, 如 涉密)
    catalogued: false     # 数据资源已编入政务信息资源目录
    aggregated: false     # 数据已归集到大数据中心
    connected: true       # 经共享交换平台交换数据 (须有上面到 data-exchange 的 flow)
{EXAMPLE_MARK} XZ-MAN-DATASET-PROTECTION: 存放的数据集及其存储保护 (stored_in: 工作负载或主机名)
  # data_sets:
  #   - {{name: 业务数据库, holds: [个人信息], stored_in: {store},
  #      encryption: {{algorithm: SM4, scope: fields}}, integrity: {{algorithm: SM3}}}}
{EXAMPLE_MARK} XZ-MAN-CHANGE-CONTROL: 变更管理
  # change_management: {{procedure: 自治区政务云变更管理办法 (XZ-OPS-CHG-01), approver: 请填写审批岗位,
  #                     register_updated: true, rollback_plan: true}}
{EXAMPLE_MARK} 安全管理与运维: 三员分立与账户 (XZ-MAN-ADMIN-ROLES, XZ-MAN-ADMIN-ACCOUNTS),
  # 补丁 (XZ-MAN-PATCHING), 恶意代码与入侵检测 (XZ-MAN-MALWARE-INTRUSION), 集中监测 (XZ-MAN-CENTRAL-MONITORING),
  # 境内存储 (XZ-MAN-DATA-RESIDENCY), 密钥 (XZ-MAN-KEY-MANAGEMENT), 备份保护 (XZ-MAN-BACKUP-PROTECTION),
  # 开发测试 (XZ-MAN-DEV-SEPARATION)
  # security:
  #   administration:
  #     accounts:
  #       - {{account: {name}-sysadm, role: system, holder: 请填写 系统管理员岗}}
  #       - {{account: {name}-auditor, role: audit, holder: 请填写 审计管理员岗}}
  #       - {{account: {name}-secadm, role: security, holder: 请填写 安全管理员岗}}
  #     account_manager: 请填写 (账户申请、开通、注销审批)
  #     access: {{via: bastion, mutual_authentication: true}}
  #     review_cadence_days: 180
  #   operations:
  #     patching: {{cadence_days: 30, scan_cadence_days: 30, open_high_vulnerabilities: 0}}
  #     anti_malware: {{mechanism: edr, centrally_managed: true, signature_update_hours: 24}}
  #     intrusion_detection: {{hids: true, alerting: true}}
  #     monitoring: {{platform: 政务云安全运营中心 (security-ops), resources: true, security_events: true,
  #                  unregistered_assets: true, log_analyst: 请填写值班分析岗}}
  #   data:
  #     residency: 境内
  #     keys: {{storage: crypto-service, customer_managed: true, rotation_days: 365}}
  #     backup: {{encrypted: true, snapshots_encrypted: true, local_copy: true, drill_cadence_days: 180}}
  #   development:
  #     self_developed: false  # 自行开发则为 true, 并声明开发与测试环境分离
  #     security_testing: {{before_release: true, includes_crypto: true}}
  lifecycle: {{status: planned, change_ticket: CHG-2025-0001, requested_by: 请填写申请处室}}
"""


_MODELINE = re.compile(rb"\A(\xef\xbb\xbf)?(# yaml-language-server: \$schema=)([^\r\n]*)")


def _schema_modeline(data: bytes, root: Path, target: Path) -> bytes:
    """``data`` with its first-line ``# yaml-language-server: $schema=…`` pointing at the register's system schema
    from where it is filed: a draft's path is relative to the folder it was written in (``onboard --template``),
    and under ``systems/<department>/`` it named nothing, so editors stopped completing and checking fields."""
    found = _MODELINE.match(data)
    schema = root / "xzgov" / "core" / "schemas" / "system.schema.json"
    if found is None or not schema.is_file():
        return data
    relative = os.path.relpath(schema.resolve(), target.resolve().parent).replace(os.sep, "/")
    return data[:found.start(3)] + relative.encode("utf-8") + data[found.end(3):]


def _rebind_vaulted(data: bytes, draft: Path, target: Path, key_file: Path | None, display: str) -> bytes:
    """``data`` with its vaulted values re-bound from the draft's scope to the scope of ``target``.

    A vaulted value is bound to its file's scope (the path in the repository, or the file name outside
    one), so a value vaulted in a draft would no longer decrypt once filed: onboarding re-binds it (with
    the vault key) or refuses with the way out. Values already bound to ``target`` are left alone: those the
    registered ``target`` holds as they are (an edited copy of a filed manifest; no key needed), and, with the
    key, those that decrypt under its scope.
    """
    from xzgov.crypto import vault

    text = data.decode("utf-8")
    old_scope, new_scope = vault.file_scope(draft), vault.destination_scope(target)
    if old_scope == new_scope:
        return data
    # read as the register reads it (validated already): a YAML 1.1 reader would take title: 2026-13-45 for a
    # date and fail on it, and `=` for a value tag — a draft validate accepts must onboard
    documents, _ = load_documents(text, display)
    if not any(vault.holds_vaulted(document.data) for document in documents):
        return data
    registered = read_text(target)[0] if target.is_file() else None
    bound = vault.bound_in(text, registered, display) if registered is not None else frozenset()
    if bound >= vault.vaulted_paths(text, display):  # every value is the filed one: nothing to re-bind
        return data
    try:
        key = vault.load_vault_key(key_file)
    except UsageError as missing:
        raise UsageError(
            f"{display} holds vaulted values bound to scope {old_scope!r}; filed as {new_scope!r} they would not "
            "decrypt, and no vault key was given to re-bind them; nothing was written",
            [Diagnostic(display, 0, 0, "", "vaulted values need re-binding to their new file",
                        "give --vault-key-file (or set XZGOV_VAULT_KEY_FILE) so onboarding re-binds them",
                        "vault-scope"),
             *missing.diagnostics]) from None
    rebound, _ = vault.rescope_text(text, key, old_scope=old_scope, new_scope=new_scope, source=display,
                                    bound=bound)
    return rebound.encode("utf-8")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("onboard")(onboard)
    app.command("inventory")(inventory)
    app.command("register")(summary)

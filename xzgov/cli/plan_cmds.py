"""``xzgov plan``: evaluate the Pulumi program offline and show what each site's stack would create.

The program runs under Pulumi's runtime mocks (no CLI, no cluster, no credentials): every resource is
recorded with the inputs the Kubernetes provider would receive. The command prints the counts by kind
per system and site, writes the rendered manifests as reviewable YAML with ``--out`` (``<out>/<site>/
systems/<system>.yaml``, ``segments.yaml``, ``disaster-recovery.yaml``) and, with ``--validate`` (the
default), checks every object against the Kubernetes and Velero schemas.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from stacks.connectivity import AnalyserUnavailable, Connection, Connectivity, analyse, declared_connections
from stacks.plan import PLAN_NAMES, Plan, plan_site, staged_manifests
from stacks.render import render_site
from stacks.render.context import unknown_site_error
from stacks.render.dr import BackupLoad, backup_load
from stacks.render.hostdata import host_backup_plan
from stacks.settings import Settings, located_in_stack_file
from stacks.validate import validate_objects
from xzgov.cli.output import console, console_err, print_json, progress_bar
from xzgov.cli.stack_config import KubernetesVersion, ProjectDir, StackName, stack_settings
from xzgov.core.errors import ExitCode, UsageError, XzgovError, committed
from xzgov.core.fsutil import check_output_directory, check_outside_register
from xzgov.core.register import load_register


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


SITE_WIDE = "(site)"
#: short column headers so the table fits a terminal
SHORT = {"Namespace": "ns", "ServiceAccount": "sa", "ResourceQuota": "quota", "LimitRange": "limits",
         "Role": "role", "RoleBinding": "binding", "NetworkPolicy": "netpol", "Schedule": "schedule",
         "BackupStorageLocation": "bsl"}


def plan(
    site: Annotated[list[str] | None, typer.Option(
        "--site", "-s", help="Site id from region.yaml (repeatable; default: every site).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the planned manifests as YAML under DIR/<site>/.", file_okay=False)] = None,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Register root (region.yaml, systems/; default: the stack's registerRoot with --stack, "
        "else the current directory).", file_okay=False)] = None,
    kubernetes_version: KubernetesVersion = None,
    stack: StackName = None,
    project_dir: ProjectDir = Path("."),
    validate: Annotated[bool, typer.Option(
        "--validate/--no-validate", help="Check every object against the Kubernetes and Velero schemas.")] = True,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    connectivity: Annotated[bool, typer.Option(
        "--connectivity/--no-connectivity",
        help="Analyse the NetworkPolicies with network-config-analyzer over pods synthesised from the "
             "workloads: allowed/denied connections per site.")] = True,
) -> int:
    """Plan the stacks offline: what each site would create, per system (counts by kind).

    Exit codes: 0 planned, 1 invalid register or planned objects that do not validate against the Kubernetes /
    Velero schemas, 2 usage error or unreadable input, 3 the machine failed (nothing written).
    """
    configured = stack_settings(project_dir, stack, site) if stack is not None else None
    if configured is not None and kubernetes_version is not None:
        configured = replace(configured, kubernetes_version=kubernetes_version)
    if root is None:
        root = Path(configured.register_root) if configured is not None else Path(".")
    version = configured.kubernetes_version if configured is not None else kubernetes_version or "1.30"
    register = load_register(root)  # no region.yaml: exit 2; an invalid register: exit 1 with every error
    if out is not None:
        check_outside_register(out, root)
    sites = [configured.site] if configured is not None else site or list(register.region.sites)
    unknown = [s for s in sites if s not in register.region.sites]
    if unknown:
        known = ", ".join(register.region.sites)
        message = f"unknown site {', '.join(unknown)}; sites: {known}"
        if stack is None or configured is None:
            raise UsageError(message)
        # the stack's own setting: at its xzgov:site line, as every other problem of the stack file (and as
        # `pulumi up` reports it: the render's own error)
        raise located_in_stack_file(unknown_site_error(register, configured), project_dir / f"Pulumi.{stack}.yaml")
    if out is not None:  # before the expensive work: a bad --out fails fast
        check_output_directory(out)
        for site_id in sites:
            check_output_directory(out / site_id, PLAN_NAMES)
    plans: list[Plan] = []
    analyses: dict[str, Connectivity] = {}
    checks: dict[str, tuple[list[Connection], list[Connection]]] = {}  # site -> (declared but blocked, undeclared)
    loads: dict[str, BackupLoad] = {}
    notes: list[str] = []
    problems: list[str] = []
    stages = 1 + int(validate) + int(out is not None) + int(connectivity)
    # every site's manifests staged first, swapped in together once all are (an interrupt or a failure at a later
    # site left the earlier sites' new plans beside the others' old ones)
    staged = contextlib.ExitStack()
    settings_of: dict[str, Settings] = {}
    with staged, progress_bar("规划 planning", enabled=console_err.is_terminal) as progress:  # quiet when piped
        done = 0

        def advance(what: str) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, stages * len(sites), what)

        for site_id in sites:
            settings = replace(configured, register_root=str(root)) if configured is not None else \
                Settings(site=site_id, register_root=str(root), kubernetes_version=version)
            settings_of[site_id] = settings
            try:
                result = plan_site(register, settings)
            except UsageError as error:  # a setting the plan finds wrong (a quota too small): at its line
                if stack is None:
                    raise
                raise located_in_stack_file(error, project_dir / f"Pulumi.{stack}.yaml") from None
            plans.append(result)
            loads[site_id] = backup_load(site_id, [r.props for r in result.resources],
                                         settings.backup_queue_seconds)
            advance(f"{site_id}: rendered")
            if validate:
                problems += [f"{site_id}: {p}" for p in validate_objects((r.props for r in result.resources),
                                                                          settings.kubernetes_version)]
                advance(f"{site_id}: validated")
            if connectivity:
                if not notes:
                    try:
                        rendered = result.render or render_site(register, settings)  # (the plan's own)
                        analyses[site_id] = analyse(register, rendered)
                        checks[site_id] = analyses[site_id].against(
                            declared_connections(register, rendered, settings))
                    except AnalyserUnavailable as exc:
                        notes.append(f"connectivity not analysed: {exc} (pip install network-config-analyzer)")
                advance(f"{site_id}: connectivity")
        # objects that do not validate are not written: the previous plan stays
        written = out is not None and not problems
        if out is not None and written:
            for result in plans:
                staged.enter_context(staged_manifests(result, out, host_backup_plan(
                    register, result.site, settings_of[result.site])))
                advance(f"{result.site}: written")
            committed()  # every site is staged: the swaps finish even if Ctrl-C or SIGTERM comes now
    if output_format is OutputFormat.json:
        print_json({"sites": [_summary(p, analyses.get(p.site), loads.get(p.site), checks.get(p.site))
                              for p in plans],
                    "problems": problems,
                    "out": str(out) if out is not None and written else None})
    else:
        for result in plans:
            _print_table(result)
            if result.site in analyses:
                console.print(_connectivity_line(analyses[result.site]), markup=False)
                for line in _declared_lines(result.site, *checks[result.site]):
                    console.print(line, markup=False)
            console.print(_backup_line(loads[result.site]), markup=False)
    for note in notes:
        console_err.print(f"note: {note}", markup=False)
    if out is not None and output_format is not OutputFormat.json:
        console.print(f"manifests written under {out}/<site>/" if written else
                      f"nothing written under {out}: the planned objects below do not validate (the previous plan "
                      "stays)")
    for problem in problems:
        console_err.print(f"invalid: {problem}", markup=False)
    if problems:
        raise XzgovError(f"{len(problems)} planned object(s) do not validate", (), ExitCode.FAILED)
    return int(ExitCode.OK)


def _summary(result: Plan, connectivity: Connectivity | None = None, load: BackupLoad | None = None,
             check: tuple[list[Connection], list[Connection]] | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {"site": result.site, "role": result.role, "resources": len(result.resources),
               "components": len(result.components), "warnings": result.warnings,
               "systems": {system or SITE_WIDE: counts for system, counts in result.counts().items()}}
    if connectivity is not None:
        summary["connectivity"] = connectivity.summary()
        if check is not None:
            missing, undeclared = check
            summary["connectivity"].update({
                "declared_blocked": [_shown(c) for c in missing[:_LISTED]], "declared_blocked_count": len(missing),
                "undeclared": [_shown(c) for c in undeclared[:_LISTED]], "undeclared_count": len(undeclared)})
    if load is not None:
        summary["backups"] = load.summary()
    return summary


def _backup_line(load: BackupLoad) -> str:
    s = load.summary()
    verdict = "within" if load.queue_minutes_per_hour <= 60 else "OVER"
    return (f"backups ({load.site}, Velero): {s['schedules']} schedules, {s['steady_backups']} Backup objects at "
            f"steady state; {s['backups_per_hour']} backups/h, queue {s['queue_minutes_per_hour']} min/h ({verdict} "
            f"one backup at a time), {s['uploads_per_hour']} volume uploads/h; RPO met {s['rpo_met']}, "
            f"not met {s['rpo_missed']} (xzgov.io/rpo-reason)")


#: connections listed per site and kind (the counts are whole)
_LISTED = 20


def _shown(connection: Connection) -> str:
    target = connection.target
    return f"{connection.source} → {target.pod} {target.protocol}/{target.port}"


def _declared_lines(site: str, missing: list[Connection], undeclared: list[Connection]) -> list[str]:
    """The analyser's connectivity against what the register declares (``stacks.connectivity
    .declared_connections``): every declared connection allowed and nothing else, or what differs."""
    if not missing and not undeclared:
        return [f"declared flows ({site}): every declared pod connection is allowed, nothing undeclared is"]
    lines = [f"warning: declared flows ({site}): {len(missing)} declared pod connection(s) blocked, "
             f"{len(undeclared)} allowed that nothing declares (a defect of the rendered policies: report it)"]
    lines += [f"  blocked: {_shown(c)}" for c in missing[:_LISTED]]
    lines += [f"  undeclared: {_shown(c)}" for c in undeclared[:_LISTED]]
    return lines


def _connectivity_line(connectivity: Connectivity) -> str:
    s = connectivity.summary()
    return (f"connectivity ({connectivity.site}, network-config-analyzer): {s['endpoints']} pods, "
            f"{s['listeners']} listening ports; {s['allowed']} connections allowed, {s['denied']} denied "
            f"of {s['possible']}; DNS {s['dns']}, from the internet {s['from_internet']}")


def _print_table(result: Plan) -> None:
    counts = result.counts()
    kinds = sorted({kind for per in counts.values() for kind in per})
    table = Table(title=f"site {result.site} ({result.role}): {len(result.resources)} resources "
                        f"in {len(result.components)} components", show_lines=False)
    table.add_column("system", no_wrap=True)
    for kind in kinds:
        table.add_column(SHORT.get(kind, kind), justify="right")
    for system in sorted(counts, key=lambda s: (s is None, s or "")):
        table.add_row(system or SITE_WIDE, *(str(counts[system].get(kind, "")) for kind in kinds))
    console.print(table)
    legend = ", ".join(f"{SHORT[kind]}={kind}" for kind in kinds if kind in SHORT)
    console.print(Text(legend, style="dim"))
    for warning in result.warnings:
        console_err.print(f"warning: {warning}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``plan`` to ``app``."""
    app.command("plan")(plan)

"""``xzgov dr``: the disaster-recovery procedure, rendered offline (docs/dr.md).

``xzgov dr declare --lost lhasa`` renders what the DR site applies when the primary is declared lost:
the DR stack's tenancies for every system with a DR tier ≥ 1 (DR-site addresses), one Velero Restore per
system, the host-data restores and the images the DR registry must hold; ``xzgov dr failback --from dr``
renders the way back. Every object is checked against the Kubernetes and Velero schemas; with ``--out``
the runbook's files are written under ``DIR/<action>-<site>/``.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from stacks.failover import RUNBOOK, DrPlan, declare, failback, host_backup_command, runbook_steps
from stacks.render.hostdata import host_backup_file, jobs_by_host
from stacks.settings import Settings
from stacks.validate import validate_objects
from xzgov.cli.output import console, console_err, print_json
from xzgov.cli.stack_config import KubernetesVersion, ProjectDir, StackName, stack_settings
from xzgov.core import ansible_yaml
from xzgov.core.errors import ExitCode, XzgovError
from xzgov.core.fsutil import atomic_write, check_output_directory, check_outside_register, staged_directory
from xzgov.core.register import load_register

dr_app = typer.Typer(help="Disaster recovery (灾备): declare a site lost, render the DR-site restores and "
                          "tenancies, fail back.", no_args_is_help=True)


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


RUNBOOK_NAMES = frozenset({"tenancies.yaml", "disaster-recovery.yaml", "restores.yaml", "host-restores.yaml",
                           "host-backup.yml", "images.txt", "steps.txt"})
_Root = Annotated[Path | None, typer.Option(
    "--root", help="Register root (region.yaml, systems/; default: the stack's registerRoot with --stack, else the "
    "current directory).", file_okay=False)]
_Out = Annotated[Path | None, typer.Option("--out", "-o", help="Write the runbook files under DIR/<action>-<site>/.",
                                           file_okay=False)]
_Format = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]



def steps(plan: DrPlan, runbook: str | None = None) -> list[str]:
    """The ordered procedure of ``plan`` (docs/dr.md explains each step); ``runbook``: the folder its files were
    written to, named in the commands that read them."""
    return runbook_steps(_steps(plan), runbook)


def _steps(plan: DrPlan) -> list[str]:
    if plan.action == "declare":
        return [
            f"1. 宣告灾难 / declare: {plan.lost} lost; stop writes there if any part still runs (fence)",
            f"2. {plan.config_command}   # tenancies with {plan.site} addresses + schedules, before any restore",
            f"3. check: every image of {RUNBOOK}/images.txt is in the {plan.site} registry (the Restores start the "
            "workloads)",
            f"4. host data: restore every job of {RUNBOOK}/host-restores.yaml (pgbackrest restore / restic restore), "
            "then "
            f"{host_backup_command(plan.site)} (from the repository root) on the recovered hosts: their backups "
            "continue "
            f"in {plan.site}'s bucket, with no off-site copy until {plan.lost} returns — before the Restores, so "
            "no application starts against a database that is not there yet",
            f"5. kubectl --context <{plan.site}> apply -f {RUNBOOK}/restores.yaml   # {len(plan.restores)} Velero "
            "Restores",
            "6. check: velero restore get (every Restore Completed)",
            "7. switch DNS / the load balancer to the DR site's entry (internet-gateway)",
        ]
    # fail-back: fence the DR site and take its last backups before anything is restored at home, remove the
    # stale volumes there first (stacks.failover.failback_procedure; docs/dr.md §5)
    return list(plan.procedure)


def _tenancy_objects(plan: DrPlan) -> list[dict[str, Any]]:
    wanted = set(plan.systems)
    return [dict(obj) for tenant in plan.render.tenants if tenant.system in wanted for obj in tenant.objects]


def _run(plan: DrPlan, out: Path | None, output_format: OutputFormat, kubernetes_version: str, root: Path) -> int:
    tenancies = _tenancy_objects(plan)
    recovery = [dict(o) for o in plan.render.disaster_recovery]
    scanner = [dict(o) for o in plan.render.scanner]  # the compliance scanner the site runs (validated too)
    problems = [str(p) for p in validate_objects([*tenancies, *recovery, *plan.restores, *scanner],
                                                 kubernetes_version)]
    # the host's own repository (path, and as pgBackRest's repo1-path / restic's RESTIC_REPOSITORY give it): the
    # system's prefix alone, which every entry gave before, holds no repository
    host_restores = [{"host": job.hostname, "address": job.address, "system": job.system, "method": job.method,
                      "bucket": job.bucket, "endpoint": job.endpoint, "prefix": job.prefix, "path": job.path,
                      "repository": job.repository}
                     for job in plan.host_restores]
    folder = out / f"{plan.action}-{plan.site}" if out is not None else None
    runbook = str(folder) if folder is not None else None
    # a runbook whose objects do not validate is not written: the last good one stays where it was
    written = out is not None and not problems
    if out is not None and folder is not None and written:
        check_outside_register(out, root)
        check_output_directory(out)
        with staged_directory(folder, RUNBOOK_NAMES) as staging:
            files = {"tenancies.yaml": tenancies, "disaster-recovery.yaml": recovery, "restores.yaml": plan.restores}
            for name, objects in files.items():
                text = yaml.safe_dump_all(objects, allow_unicode=True, sort_keys=False)
                atomic_write(staging / name, text.encode("utf-8"), base=staging)
            atomic_write(staging / "host-restores.yaml",
                         ansible_yaml.dump(host_restores, sort_keys=False).encode("utf-8"),
                         base=staging)
            atomic_write(staging / "host-backup.yml", host_backup_file(jobs_by_host(plan.host_backups)),
                         base=staging)
            atomic_write(staging / "images.txt", "".join(f"{i}\n" for i in plan.images).encode("utf-8"), base=staging)
            atomic_write(staging / "steps.txt", "".join(f"{s}\n" for s in steps(plan, runbook)).encode("utf-8"),
                         base=staging)
    if output_format is OutputFormat.json:
        print_json({"action": plan.action, "site": plan.site, "other_site": plan.lost, "systems": plan.systems,
                    "restores": len(plan.restores), "tenancies": len({o["metadata"].get("namespace") or
                                                                      o["metadata"]["name"] for o in tenancies}),
                    "host_restores": host_restores, "images": plan.images, "steps": steps(plan, runbook),
                    "warnings": list(plan.warnings), "problems": problems})
    else:
        console.print(f"{plan.action} at {plan.site} ({plan.lost}): {len(plan.systems)} systems, "
                      f"{len(plan.restores)} Restores, {len(plan.host_restores)} host restores, "
                      f"{len(plan.images)} images", markup=False)
        for line in steps(plan, runbook):
            console.print(line, markup=False)
        if out is not None:
            console.print(f"runbook written under {out}/{plan.action}-{plan.site}/" if written else
                          f"nothing written under {out}: the rendered objects below do not validate (the previous "
                          "runbook stays)", markup=False)
    for warning in plan.warnings:  # what this step does not cover: never silent
        console_err.print(f"warning: {warning}", markup=False)
    for problem in problems:
        console_err.print(f"invalid: {problem}", markup=False)
    if problems:
        raise XzgovError(f"{len(problems)} rendered object(s) do not validate", (), ExitCode.FAILED)
    return int(ExitCode.OK)


def _settings(site: str | None, default_site: str, root: Path | None, kubernetes_version: str | None,
              stack: str | None, project_dir: Path) -> Settings:
    """The settings of ``--stack`` (its site, backup prefix, Velero namespace …: the restores read them), else
    the defaults at ``--site``; ``--root`` and ``--kubernetes-version`` override either."""
    if stack is not None:
        settings = stack_settings(project_dir, stack, [site] if site else None)
        return replace(settings, register_root=str(root) if root is not None else settings.register_root,
                       kubernetes_version=kubernetes_version or settings.kubernetes_version)
    return Settings(site=site or default_site, register_root=str(root or Path(".")),
                    kubernetes_version=kubernetes_version or "1.30")


@dr_app.command("declare")
def declare_cmd(
    lost: Annotated[str, typer.Option("--lost", help="The site declared lost (region.yaml site id).")],
    site: Annotated[str | None, typer.Option("--site", "-s", help="The DR site taking over (default: dr, or the "
                                             "stack's site).")] = None,
    root: _Root = None, out: _Out = None, output_format: _Format = OutputFormat.table,
    kubernetes_version: KubernetesVersion = None, stack: StackName = None, project_dir: ProjectDir = Path("."),
) -> int:
    """Declare a site lost: the DR site's tenancies (DR addresses), Restores, host restores and image list.

    Exit codes: 0 the fail-over plan and runbook written, 1 invalid register or rendered objects that do not
    validate, 2 usage error, 3 the machine failed (nothing written).
    """
    settings = _settings(site, "dr", root, kubernetes_version, stack, project_dir)
    register = load_register(Path(settings.register_root))
    return _run(declare(register, settings, lost, project=project_dir), out, output_format,
                settings.kubernetes_version, Path(settings.register_root))


@dr_app.command("failback")
def failback_cmd(
    source: Annotated[str, typer.Option("--from", help="The DR site the systems run at now.")] = "dr",
    site: Annotated[str | None, typer.Option("--site", "-s", help="The home site taking the systems back "
                                             "(default: lhasa, or the stack's site).")] = None,
    root: _Root = None, out: _Out = None, output_format: _Format = OutputFormat.table,
    kubernetes_version: KubernetesVersion = None, stack: StackName = None, project_dir: ProjectDir = Path("."),
) -> int:
    """Fail back: Restores at the home site from the DR site's backups, then the DR stack returns to peace.

    Exit codes: 0 the fail-back procedure written, 1 invalid register or rendered objects that do not validate,
    2 usage error, 3 the machine failed (nothing written).
    """
    settings = _settings(site, "lhasa", root, kubernetes_version, stack, project_dir)
    register = load_register(Path(settings.register_root))
    # the DR stack's own settings (which of the systems' tenancies stand at the DR site in peace is its
    # xzgov:drTenancyMinTier): the stack the home stack names (stack = site), or without --stack the DR site's
    # stack file in the project directory — the form docs/dr.md gives
    dr_stack = settings.stack_of(source) if stack is not None else source
    dr_settings = (stack_settings(project_dir, dr_stack, None)
                   if (project_dir / f"Pulumi.{dr_stack}.yaml").is_file() else None)
    if dr_settings is not None and dr_settings.site != source:
        dr_settings = None  # (another site's stack under that name: not the DR stack's settings)
    return _run(failback(register, settings, source, dr_settings=dr_settings), out, output_format,
                settings.kubernetes_version, Path(settings.register_root))


def register(app: typer.Typer) -> None:
    """Add ``dr`` to ``app``."""
    app.add_typer(dr_app, name="dr")

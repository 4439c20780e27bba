"""Disaster declaration and fail-back, rendered offline (``xzgov dr``; procedure in ``docs/dr.md``).

Declaring site *L* lost renders, for the DR site *D*:

1. the DR stack with ``xzgov:disasterDeclared: [L]`` — every system of *L* with a DR tier ≥ 1 gets its
   tenancy at *D* (namespace, quota, RBAC, NetworkPolicies with *D*'s addresses) and its tiered
   schedules writing to *D*'s bucket (replicated back to *L*'s bucket);
2. one Velero ``Restore`` per such system from the newest backup of its frequent schedule, read through
   *D*'s ``<L>-replica`` location. The restore leaves out what the DR stack owns (NetworkPolicies — they
   would carry *L*'s CIDRs —, quotas, limits, roles, bindings) and never overwrites existing objects;
3. the host-data restores (pgBackRest / restic from *D*'s bucket) and the images the DR registry must hold;
4. the backup jobs of the recovered hosts: they continue the *same* repositories in *D*'s bucket (so the
   fail-back finds every recovery point made during the disaster), marked with the lost site — while *L*
   is gone there is no off-site copy, and ``roles/host_backup`` accepts a job at its own site only then.

Ordering: ``pulumi up`` of the DR stack first, then the Restores. Pulumi never meets an object a restore
created (it creates its objects before Velero runs and Velero skips or leaves out those kinds), so no
``import`` / upsert is needed; Velero-created workloads, PVCs, Secrets and ConfigMaps are not Pulumi's.

Fail-back renders the Restores at *L* from *D*'s schedules (``<system>-backup-<D>``, read through *L*'s
``<D>-replica`` location; existing objects are updated) after ``pulumi up`` of *L*'s stack, and gives the
home hosts their normal jobs back (to *D*'s bucket, off-site again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stacks.render import SiteRender, render_site
from stacks.render.context import site_context
from stacks.render.dr import render_restore
from stacks.render.hostdata import HostBackup, host_backups
from stacks.render.network import Obj
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError


@dataclass(frozen=True)
class DrPlan:
    """What one step of the DR procedure applies at ``site``."""

    action: str
    site: str
    lost: str
    render: SiteRender
    restores: list[Obj]
    #: systems recovered, by name (tier ≥ 1 of the lost / returning site)
    systems: list[str]
    host_restores: list[HostBackup]
    #: every workload image (by digest) the site's registry must hold
    images: list[str]
    #: the Pulumi configuration command of this step
    config_command: str
    #: the backup jobs the recovered hosts run once restored (``host-backup.yml`` of the runbook)
    host_backups: list[HostBackup]


def _check_sites(register: m.Register, site: str, lost: str) -> None:
    sites = register.region.sites
    problems = [name for name in (site, lost) if name not in sites]
    if problems or site == lost:
        raise UsageError("unusable sites for a DR plan", [Diagnostic(
            register.region.source, 0, 0, "spec.sites",
            f"sites '{site}' and '{lost}' must be two different sites of region.yaml",
            f"sites: {', '.join(sites)}", "config")])


def recovered(register: m.Register, lost: str) -> list[m.System]:
    """The systems of ``lost`` that have a DR tier ≥ 1 (tier 0: not recovered)."""
    return [s for s in sorted(register, key=lambda s: s.name) if s.site == lost and s.continuity.dr_tier >= 1]


def declare(register: m.Register, settings: Settings, lost: str) -> DrPlan:
    """Render the disaster declaration at ``settings.site`` (a DR site) for the lost site ``lost``."""
    _check_sites(register, settings.site, lost)
    if register.region.sites[settings.site].role != "dr":
        raise UsageError(f"'{settings.site}' is not a DR site", [Diagnostic(
            register.region.source, 0, 0, "spec.sites", f"site '{settings.site}' has role "
            f"'{register.region.sites[settings.site].role}'", "declare at a site with role: dr", "config")])
    declared = replace(settings, disaster_declared=tuple(sorted({*settings.disaster_declared, lost})))
    ctx = site_context(register, declared)
    rendered = render_site(register, declared, ctx)
    systems = recovered(register, lost)
    restores = [render_restore(ctx, system, from_site=lost, failback=False) for system in systems]
    hosts = [job for system in systems for job in host_backups(register.region, system, declared)]
    images = sorted({w.image for system in systems for w in system.workloads})
    command = (f"pulumi config set --stack {settings.site} --path 'xzgov:disasterDeclared[0]' {lost} && "
               f"pulumi up --stack {settings.site}")
    during = [replace(job, disaster=lost) for job in hosts]
    return DrPlan("declare", settings.site, lost, rendered, restores, [s.name for s in systems], hosts,
                  images, command, during)


def failback(register: m.Register, settings: Settings, dr_site: str) -> DrPlan:
    """Render the fail-back at ``settings.site`` (the home site) from ``dr_site``."""
    _check_sites(register, settings.site, dr_site)
    ctx = site_context(register, settings)
    rendered = render_site(register, settings, ctx)
    systems = recovered(register, settings.site)
    restores = [render_restore(ctx, system, from_site=dr_site, failback=True) for system in systems]
    hosts = [job for system in systems for job in host_backups(register.region, system, settings)]
    images = sorted({w.image for system in systems for w in system.workloads})
    command = (f"pulumi up --stack {settings.site}   # then, after the restores: "
               f"pulumi config rm --stack {dr_site} xzgov:disasterDeclared && pulumi up --stack {dr_site}")
    return DrPlan("failback", settings.site, dr_site, rendered, restores, [s.name for s in systems], hosts,
                  images, command, hosts)

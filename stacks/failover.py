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

Fail-back (:attr:`DrPlan.procedure`, in this order): stop writes at *D* and take a final backup of each
system (``velero backup create --from-schedule <system>-backup-<D> --wait``) and host; wait until *L*
sees it; ``pulumi up`` of *L*'s stack; delete the stale workloads and PVCs at *L* (Velero restores volume
data only into a PVC it creates); the Restores at *L* from *D*'s schedules (read through *L*'s
``<D>-replica`` location; what remains is updated); host data, home hosts' jobs back; switch DNS; delete
the DR workloads and PVCs at *D*; unprotect the failed-over namespaces of *D*'s state; then the
configuration change of *D*.

What is *not* covered, said in :attr:`DrPlan.warnings`: the DR site's own systems have no rendered recovery
path (a declaration is refused at a primary site) and, while *L* is lost, their host backups go nowhere;
hosts whose OS ``roles/host_backup`` does not support were never backed up; the host restores name the
lost site's hosts and addresses (the register declares no DR counterparts).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from stacks.render import SiteRender, render_site
from stacks.render.context import SiteContext, dr_replica_eligible, site_context
from stacks.render.dr import host_location, manifest_line, render_restore, restore_stamp, schedule_name_at
from stacks.render.hostdata import HostBackup, host_backups, unbacked_hosts
from stacks.render.network import Obj
from stacks.settings import Settings, project_file
from xzgov.core import model as m
from xzgov.core import ports as port_model
from xzgov.core import secmgmt
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.inventory import allowed_flows, covered, host_flows
from xzgov.facts.resources import pod_spec


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
    #: what this step does not cover, located (``<manifest>:<line>: <field>: …``)
    warnings: tuple[str, ...] = ()
    #: the ordered procedure with its commands (fail-back; docs/dr.md §5)
    procedure: tuple[str, ...] = ()


def _check_sites(register: m.Register, site: str, lost: str) -> None:
    sites = register.region.sites
    problems = [name for name in (site, lost) if name not in sites]
    if problems or site == lost:
        raise UsageError("unusable sites for a DR plan", [Diagnostic(
            register.region.source, 0, 0, "spec.sites",
            f"sites '{site}' and '{lost}' must be two different sites of region.yaml",
            f"sites: {', '.join(sites)}", "config")])


def recovered(register: m.Register, lost: str) -> list[m.System]:
    """The systems of ``lost`` that have a DR tier ≥ 1 (tier 0: not recovered), the shortest RTO first (then the
    highest DR tier, then by name): the runbook and the Restores come in the order they are needed — by name,
    a tier-6 system with a 30-minute RTO waited behind systems allowed four hours."""
    return sorted((s for s in register if s.site == lost and s.continuity.dr_tier >= 1),
                  key=lambda s: (s.continuity.rto_minutes, -s.continuity.dr_tier, s.name))


def _images(systems: Sequence[m.System], rendered: SiteRender) -> list[str]:
    """What the site's registry must hold before the restores: the recovered systems' images and those of the
    compliance scanner the site runs (its CronJobs move with the render; images.txt left it out)."""
    found = {w.image for system in systems for w in system.workloads}
    for obj in rendered.scanner:
        pod = pod_spec(obj)
        for container in [*(pod or {}).get("initContainers", ()), *(pod or {}).get("containers", ())]:
            if isinstance(container, Mapping) and container.get("image"):
                found.add(str(container["image"]))
    return sorted(found)


def declared_sites_command(stack: str, sites: Sequence[str]) -> str:
    """The commands that make ``xzgov:disasterDeclared`` of ``stack`` exactly ``sites`` (the list, rewritten whole:
    setting element 0 to a second lost site replaced the first one, whose systems `pulumi up` then dropped)."""
    clear = f"(pulumi config rm --stack {stack} xzgov:disasterDeclared || true)"
    return " && ".join([clear, *(f"pulumi config set --stack {stack} --path 'xzgov:disasterDeclared[{index}]' {site}"
                                 for index, site in enumerate(sites))])


def _undeclare(dr_stack: str, home: str) -> str:
    """How to take ``home`` out of the DR stack's declared sites (another lost site there stays declared)."""
    return (f"remove '{home}' from xzgov:disasterDeclared of stack {dr_stack} (`pulumi config get --stack {dr_stack} "
            f"--path xzgov:disasterDeclared`; `pulumi config rm --stack {dr_stack} xzgov:disasterDeclared` when it is "
            "the only site declared there)")


def state_backend_at(project: Path, site: m.Site) -> str | None:
    """The Pulumi state backend of ``Pulumi.yaml`` in ``project`` read at ``site``'s object store: its ``s3://``
    URL with the ``endpoint`` the site's ``object_store_url`` host — the replica of the state bucket there (the
    project pins the primary's store, which a declaration cannot reach once that site is lost). ``None`` when the
    project names no such backend or the site no object store."""
    backend = project_file(project).get("backend")
    url = backend.get("url") if isinstance(backend, Mapping) else None
    host = urlsplit(site.object_store_url).netloc if site.object_store_url else ""
    if not isinstance(url, str) or not url.startswith("s3://") or not host:
        return None
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name == "endpoint" for name, _ in query):
        return None

    def at_site(value: str) -> str:  # the endpoint's own form kept: a bare host, or a URL with its scheme
        return urlunsplit(urlsplit(value)._replace(netloc=host)) if "://" in value else host

    moved = [(name, at_site(value) if name == "endpoint" else value) for name, value in query]
    return urlunsplit(parts._replace(query=urlencode(moved, safe="")))


def declare(register: m.Register, settings: Settings, lost: str, at: dt.datetime | None = None, *,
            project: Path | None = None) -> DrPlan:
    """Render the disaster declaration at ``settings.site`` (a DR site) for the lost site ``lost``, made ``at``
    (default now: the Restores' names carry its UTC minute, :func:`~stacks.render.dr.restore_stamp`); ``project``:
    the Pulumi project directory (``Pulumi.yaml``: its state backend), default the register root."""
    sites = register.region.sites
    if lost in sites and sites[lost].role == "dr" and not any(
            s.role == "dr" for name, s in sites.items() if name != lost):
        # the two refusals below sent the operator in a circle (two different sites / declare at a DR site)
        raise UsageError("a lost DR site is recovered by hand", [Diagnostic(
            register.region.source, 0, 0, "spec.sites", f"site '{lost}' is the region's DR site (role: dr): no DR "
            "site is left to render its recovery at",
            "follow docs/dr.md §5 \"A lost DR site\": at the primary, each system's namespace, quota, RBAC and "
            "NetworkPolicies, `velero restore create --from-schedule <system>-backup`, and the host data from "
            f"velero-hosts/{lost}/<system>/<host> in the primary's bucket", "config")])
    _check_sites(register, settings.site, lost)
    if register.region.sites[settings.site].role != "dr":
        raise UsageError(f"'{settings.site}' is not a DR site", [Diagnostic(
            register.region.source, 0, 0, "spec.sites", f"site '{settings.site}' has role "
            f"'{register.region.sites[settings.site].role}'", "declare at a site with role: dr", "config")])
    declared = replace(settings, disaster_declared=tuple(sorted({*settings.disaster_declared, lost})))
    ctx = site_context(register, declared)
    rendered = render_site(register, declared, ctx)
    systems = recovered(register, lost)
    stamp = restore_stamp(at or dt.datetime.now(dt.UTC))
    restores = [render_restore(ctx, system, from_site=lost, failback=False, stamp=stamp) for system in systems]
    hosts = [job for system in systems for job in host_backups(register.region, system, declared)]
    images = _images(systems, rendered)
    command = f"{declared_sites_command(settings.stack, declared.disaster_declared)} && pulumi up --stack " \
        f"{settings.stack}"
    warnings = _declare_warnings(register, declared, lost, systems, rendered)
    # the project's state backend is the primary's object store: with it lost, the stack's state is read from the
    # replica of the state bucket at this site (PULUMI_BACKEND_URL overrides Pulumi.yaml's backend)
    backend = state_backend_at(project or Path(settings.register_root), register.region.sites[settings.site])
    if backend is not None:
        command = f"export PULUMI_BACKEND_URL={shlex.quote(backend)} && {command}"
    else:
        warnings.append(f"Pulumi.yaml: backend.url: the stack's state is read from the project's backend, which a "
                        f"lost {lost} may hold — give PULUMI_BACKEND_URL the replica of the state bucket at "
                        f"{settings.site} before `pulumi config set` and `pulumi up` (docs/dr.md §6)")
    during = [replace(job, disaster=lost) for job in hosts]
    return DrPlan("declare", settings.site, lost, rendered, restores, [s.name for s in systems], hosts,
                  images, command, during, tuple(warnings))


def _declare_warnings(register: m.Register, settings: Settings, lost: str, systems: list[m.System],
                      rendered: SiteRender) -> list[str]:
    """What the declaration does not recover, each at its manifest line."""
    root = settings.register_root
    ctx = site_context(register, settings)
    warnings = list(rendered.warnings)
    for system in systems:
        warnings.extend(_unbacked_host_warnings(ctx, system, "recover"))
        if system.hosts and host_backups(register.region, system, settings):
            warnings.append(f"{host_location(ctx, system, system.hosts[0].hostname)}: host-restores.yaml names "
                            f"{system.name}'s hosts at their {lost} addresses: the register declares no "
                            f"{settings.site} counterparts — restore onto replacement hosts and inventory them by "
                            f"hand (docs/dr.md §5)")
    warnings.extend(_host_firewall_warnings(ctx, systems))
    warnings.extend(_host_egress_warnings(ctx, systems))
    if not any(bastion.site == settings.site for bastion in secmgmt.service_hosts(register, "bastion")):
        warnings.append(f"{register.region.source}: no host at {settings.site} declares role: bastion: with {lost} "
                        f"lost, no bastion opens management SSH to the hosts here (the hosts admit it from the "
                        "security-management zone; only a bastion's firewall sends it) — declare one there "
                        "(docs/security-management.md)")
    for system in sorted(register, key=lambda s: s.name):
        if system.site == lost and system.continuity.dr_tier < 1:
            line = manifest_line(root, system, ("dr_tier:",))
            warnings.append(f"{system.source or system.name}:{line}: spec.continuity.dr_tier: {system.name} (DR tier "
                            f"{system.continuity.dr_tier}) is not recovered: no tenancy or Restore here; its "
                            f"namespace backups are readable at {settings.site} through {lost}-replica — restore "
                            f"by hand if it is needed before {lost} returns (docs/dr.md §5)")
        if system.site != settings.site:
            continue
        line = manifest_line(root, system, ("site: ",))
        warnings.append(f"{system.source or system.name}:{line}: spec.site: {system.name} runs at {settings.site}: "
                        f"while {lost} is lost its backups have no off-site copy, and were {settings.site} lost "
                        f"too it has no rendered recovery path (`xzgov dr declare` is refused at a primary "
                        f"site) — manual procedure: docs/dr.md §5, a lost DR site")
    return warnings


def _host_firewall_warnings(ctx: SiteContext, systems: list[m.System]) -> Iterator[str]:
    """The hosts here whose firewall (``xzgov inventory``, written for peace) drops a declared flow of a recovered
    system, each with the rule that admits it until the lost site returns. The recovered pods now leave from their
    zone's egress range here: a flow to the zone goes to the zone at the sender's site, which is now this one, and
    a flow to a system here was admitted from the sender's range at the lost site — each reaches the hosts as
    ``xzgov inventory`` resolves it (:func:`xzgov.core.inventory.allowed_flows`) with the sender here."""
    register, site = ctx.register, ctx.site.id
    recovered = {system.name for system in systems if system.workloads}
    for receiver in sorted(register, key=lambda s: s.name):
        if receiver.site != site or not receiver.hosts:
            continue
        arriving = [a for a in port_model.inbound(register, receiver) if a.source.name in recovered
                    and port_model.zone_permits(register, a.source, a.flow)]
        for host in receiver.hosts:
            served = {(p.protocol.upper(), p.port) for p in host.ports if p.exposure != "internal"}
            contract = port_model.role_ports(register, host)
            rules: list[dict[str, Any]] | None = None  # the host's in-rules, read when a flow is to be checked
            missing: dict[tuple[str, int], dict[str, str]] = {}  # port -> sender -> the range it comes from
            for flow in arriving:
                key = (flow.protocol, flow.port)
                if key not in served or (key in contract or port_model.pods_serve(receiver, *key)
                                         if flow.via == "zone" else port_model.pods_take(receiver, *key, site)):
                    continue  # not this host's (a role's port is the region contract's; the pods take it)
                source = port_model.pods_egress(register.region, flow.source, site)
                if source is None:
                    continue
                if rules is None:  # every rule of the host's firewall (the security services' zone rules too)
                    rules = [f for f in host_flows(register, receiver, host) if f["direction"] == "in"]
                wanted = {"direction": "in", "protocol": flow.flow.protocol.lower(), "port": flow.port,
                          "peer_cidrs": [str(source)]}
                if not covered(wanted, rules):
                    missing.setdefault(key, {})[flow.source.name] = str(source)
            where = _nft_placement("input", receiver.level)
            for (protocol, number), senders in sorted(missing.items()):
                ranges = sorted(set(senders.values()))
                yield (f"{host_location(ctx, receiver, host.hostname)}: its firewall "
                       f"(xzgov inventory, written for peace) drops the declared flow {protocol}/{number} of "
                       f"{', '.join(sorted(senders))} from their pods here ({', '.join(ranges)}) — until "
                       f"the lost site returns: nft {where} ip saddr {{ {', '.join(ranges)} }} "
                       f"{protocol.lower()} dport {number} accept — the next hardening run rewrites the table and "
                       "removes it (docs/dr.md §5)")


def _nft_placement(chain: str, level: int) -> str:
    """Where a temporary rule goes in the host firewall's ``chain`` (``input`` / ``output``): at levels 3-4 the
    chain logs what it drops (roles/firewall ``firewall_log_dropped_by_level``) and the rule goes before that log
    rule; below, the chain ends with its policy and the rule is appended."""
    log_rule = {"input": "xzgov-drop-in", "output": "xzgov-drop-out"}[chain]
    return (f"insert rule inet xzgov {chain} position <handle of the {log_rule} log rule, nft -a list chain "
            f"inet xzgov {chain}>" if level >= 3 else f"add rule inet xzgov {chain}")


def disaster_register(register: m.Register, site: str, systems: Sequence[m.System]) -> m.Register:
    """``register`` as it stands after a declaration at ``site``: the recovered ``systems`` that run workloads placed
    here, without their hosts (the pods are restored here; the hosts are restored onto replacement hosts by hand)."""
    moved = {system.name for system in systems if system.workloads}
    return m.Register(register.region, {
        name: replace(system, site=site, hosts=()) if name in moved else system
        for name, system in register.systems.items()}, register.root, register.programme)


def _host_egress_warnings(ctx: SiteContext, systems: list[m.System]) -> Iterator[str]:
    """The hosts here whose firewall's output chain (policy drop) drops a declared flow to a recovered system: it
    was written to reach the system at the lost site; its pods now run here, reached through this site's entry
    range. What ``xzgov inventory`` would allow with the recovered systems placed here (their hosts are not: they
    are restored by hand), less what the peacetime rules allow, each with the rule that allows it."""
    register, site = ctx.register, ctx.site.id
    if not any(system.workloads for system in systems):
        return
    disaster = disaster_register(register, site, systems)
    for sender in sorted(register, key=lambda s: s.name):
        if sender.site != site or not sender.hosts:
            continue
        flows_to_moved = [f for f in sender.flows if (target := m.resolve_flow_target(register, f.to).system)
                          is not None and disaster.systems[target.name].site != target.site]
        if not flows_to_moved:
            continue
        where = _nft_placement("output", sender.level)
        for host in sender.hosts:
            peace = [f for f in host_flows(register, sender, host) if f["direction"] == "out"]
            for rule in allowed_flows(disaster, sender, host):
                if rule["direction"] != "out" or covered(rule, peace):
                    continue
                ranges = ", ".join(rule["peer_cidrs"])
                yield (f"{host_location(ctx, sender, host.hostname)}: its firewall (xzgov inventory, written for "
                       f"peace) drops its declared flow {rule['protocol'].upper()}/{rule['port']} to {rule['peer']}, "
                       f"recovered here ({ranges}) — until the lost site returns: nft {where} ip daddr {{ {ranges} }} "
                       f"{rule['protocol'].lower()} dport {rule['port']} accept — the next hardening run rewrites the "
                       "table and removes it (docs/dr.md §5)")


def failback(register: m.Register, settings: Settings, dr_site: str, at: dt.datetime | None = None, *,
             dr_settings: Settings | None = None) -> DrPlan:
    """Render the fail-back at ``settings.site`` (the home site) from ``dr_site``. The roles are checked as
    ``declare`` checks them: fail-back runs from a DR site to a site that is not one — swapped, the runbook
    fenced the live primary and its Restores read schedules that never exist. ``dr_settings``: the DR stack's
    settings where its stack file is known (which tenancies stand there in peace is its
    ``xzgov:drTenancyMinTier``, not the home stack's); else ``settings``."""
    _check_sites(register, settings.site, dr_site)
    sites = register.region.sites
    if sites[dr_site].role != "dr" or sites[settings.site].role == "dr":
        raise UsageError(f"fail back from '{dr_site}' to '{settings.site}': the sites' roles are the other way "
                         "round", [Diagnostic(
                             register.region.source, 0, 0, "spec.sites",
                             f"--from {dr_site} has role '{sites[dr_site].role}', --site {settings.site} has role "
                             f"'{sites[settings.site].role}'",
                             "fail back --from the DR site (role: dr) --site the home site it took over from",
                             "config")])
    ctx = site_context(register, settings)
    rendered = render_site(register, settings, ctx)
    systems = recovered(register, settings.site)
    stamp = restore_stamp(at or dt.datetime.now(dt.UTC))
    restores = [render_restore(ctx, system, from_site=dr_site, failback=True, stamp=stamp) for system in systems]
    hosts = [job for system in systems for job in host_backups(register.region, system, settings)]
    images = _images(systems, rendered)
    schedules = " ".join(schedule_name_at(s, "frequent", dr_site) for s in systems)
    command = (f"first at {dr_site}: stop writes and take the final backups (`velero backup create "
               f"--from-schedule SCHEDULE --wait` for each of {schedules}), then pulumi up --stack {settings.stack}; "
               f"delete the stale workloads and PVCs at {settings.site} before restores.yaml; last: delete the "
               f"DR workloads at {dr_site}, `pulumi state unprotect` their namespaces, then "
               f"{_undeclare(settings.stack_of(dr_site), settings.site)} && pulumi up --stack "
               f"{settings.stack_of(dr_site)} (docs/dr.md §5)")
    warnings = _failback_warnings(register, settings, systems, rendered)
    if dr_settings is None:
        warnings.append(f"Pulumi.{settings.stack_of(dr_site)}.yaml was not read (not in the project directory): "
                        f"step 10's namespaces are those below drTenancyMinTier {settings.dr_tenancy_min_tier} of "
                        f"{settings.source_file} — check the DR stack's own xzgov:drTenancyMinTier before deleting "
                        "any (a standing tenancy is the DR stack's; give --project-dir)")
    return DrPlan("failback", settings.site, dr_site, rendered, restores, [s.name for s in systems], hosts,
                  images, command, hosts, tuple(warnings),
                  procedure=tuple(failback_procedure(settings, dr_site, systems, dr_settings)))


def _failback_warnings(register: m.Register, settings: Settings, systems: list[m.System],
                       rendered: SiteRender) -> list[str]:
    """What the fail-back does not bring back, each at its manifest line (docs/dr.md §5 says the command prints
    them; it printed none): the render's own warnings and every host whose data no host backup restores."""
    ctx = site_context(register, settings)
    warnings = list(rendered.warnings)
    for system in systems:
        warnings.extend(_unbacked_host_warnings(ctx, system, "bring back"))
    return warnings


def _unbacked_host_warnings(ctx: SiteContext, system: m.System, verb: str) -> Iterator[str]:
    """One warning per host of ``system`` whose data no host backup restores, at its manifest line; ``verb`` says
    what the action would have done with it ("recover", "bring back")."""
    for host in unbacked_hosts(system):
        yield (f"{host_location(ctx, system, host.hostname)}.data: {host.reason()}: host-restores.yaml has nothing "
               f"to restore it from; fix: {verb} its data by the system's own means (docs/dr.md §1, unsupported OS)")


#: where a step names a runbook file: ``xzgov dr … --out DIR`` writes them under ``DIR/<action>-<site>/`` and
#: prints that folder in its place (:func:`runbook_steps`)
RUNBOOK = "<runbook>"


def host_backup_command(site: str) -> str:
    """The command that (re)starts host backups on ``site``'s hosts from the runbook's ``host-backup.yml``, run from
    the repository root: the playbook and the jobs file share the name, and without ``-i`` the play matches no
    host and still exits 0 (the recovered databases would have no backup)."""
    return f"ansible-playbook -i inventories/{site} host-backup.yml -e @{RUNBOOK}/host-backup.yml"


def runbook_steps(lines: Sequence[str], runbook: str | None) -> list[str]:
    """``lines`` with :data:`RUNBOOK` replaced by the folder the runbook was written to (``None``: not written —
    the placeholder stays and says where ``--out DIR`` puts it)."""
    where = runbook if runbook is not None else "<--out DIR>/<action>-<site>"
    return [line.replace(RUNBOOK, where) for line in lines]


#: the workload kinds and PVCs a fail-back removes (the namespace, quota, RBAC and NetworkPolicies are Pulumi's)
RESTORED_KINDS = "deploy,sts,ds,job,cronjob,pvc"


def failback_procedure(settings: Settings, dr_site: str, systems: list[m.System],
                       dr_settings: Settings | None = None) -> list[str]:
    """The fail-back, in order, with its commands (docs/dr.md §5). The namespaces the declaration created at
    ``dr_site`` (and protected) are those the DR stack does not keep in peace: by its own settings
    (``dr_settings``) where known."""
    home = settings.site
    dr_stack = settings.stack_of(dr_site)
    namespaces = [s.namespace for s in systems]
    each = " ".join(namespaces)
    not_standing = [s.namespace for s in systems if not dr_replica_eligible(s, dr_settings or settings)]
    # the names the DR site's Schedules carry (a long system name's ends in a hash, not in -backup-<dr site>)
    schedules = " ".join(schedule_name_at(s, "frequent", dr_site) for s in systems)
    return [
        f"1. fence {dr_site}: stop writes — for ns in {each}; do kubectl --context <{dr_site}> -n $ns scale "
        f"deploy,sts --all --replicas=0; done; stop the applications on the recovered hosts",
        f"2. final backups at {dr_site}: for s in {schedules}; do velero --kubecontext "
        f"<{dr_site}> backup create --from-schedule $s --wait; done; on every host of "
        f"{RUNBOOK}/host-backup.yml a last `pgbackrest --stanza=main backup --type=incr` / restic snapshot",
        f"3. wait until {home} sees them: velero --kubecontext <{home}> backup get (for each of {schedules}: "
        f"its newest backup, <schedule>-<timestamp>, Completed, synced from {dr_site}-replica)",
        f"4. the stacks' state: copy {dr_site}'s replica of the state bucket back to {home}'s (it holds the DR "
        f"stack's updates of the disaster; Pulumi.yaml's backend is {home}'s), unset PULUMI_BACKEND_URL, then "
        f"pulumi up --stack {settings.stack}",
        f"5. remove the stale data at {home} (Velero restores volume data only into a PVC it creates: an old PVC "
        f"keeps the pre-disaster data) — for ns in {each}; do kubectl --context <{home}> -n $ns delete "
        f"{RESTORED_KINDS} --all --wait; done",
        f"6. host data at {home} from {dr_site}'s host backups ({RUNBOOK}/host-restores.yaml), then "
        f"{host_backup_command(home)} (from the repository root): off-site to {dr_site} again — before the "
        f"Restores, so no application "
        f"starts against a database that is not there yet",
        f"7. kubectl --context <{home}> apply -f {RUNBOOK}/restores.yaml; check velero restore describe: every PVC "
        f"restored, no 'already exists' warning",
        f"8. switch DNS / the load balancer back to {home}",
        f"9. at {dr_site}: for ns in {each}; do kubectl --context <{dr_site}> -n $ns delete {RESTORED_KINDS} "
        f"--all --wait; done",
        f"10. pulumi state unprotect --stack {dr_stack} <urn> for the Namespace of "
        f"{', '.join(not_standing) or '(none)'} (`pulumi stack --stack {dr_stack} --show-urns`), then "
        f"{_undeclare(dr_stack, home)} && pulumi up --stack {dr_stack}; those namespaces leave the state and stay "
        f"in the cluster (retain on delete): delete them (their workloads and volumes are gone since step 9) — "
        f"kubectl --context <{dr_site}> delete "
        f"namespace {' '.join(not_standing) or '(none)'} — a namespace left behind makes the next declaration's "
        f"pulumi up fail (AlreadyExists: pulumi-kubernetes does not adopt it; docs/dr.md §4)",
    ]

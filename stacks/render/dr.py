"""Disaster recovery: Velero BackupStorageLocations, tiered backup Schedules per system, failover Restores.

Locations (object layout ``<bucket>/<backupPrefix>/<origin site>``): every site writes the backups of
the systems running there to its own bucket (``ReadWrite``, named after the site; the only ``default``
location). The object store replicates each site's prefix into every other site's bucket — both ways:
lhasa → dr for the primary's systems, dr → lhasa for the DR site's own systems and, after a declared
disaster, for the systems running there (:func:`replication_rules`; OSS cross-region replication,
configured outside Kubernetes, docs/dr.md). So every site also has, per other site, a
``<other>-replica`` location on its own bucket in ``ReadOnly`` mode: Velero restores from it and never
writes to or prunes it.

Schedules (:func:`backup_tiers`): a *frequent* schedule at the RPO-derived cadence
(:func:`stacks.render.cron.cadence`, never below :data:`VELERO_MIN_INTERVAL`) kept
``frequentRetentionHours``, and long-lived *daily* / *weekly* / *monthly* schedules up to the manifest's
``retention_days``. Every cron is UTC (Velero evaluates schedules in UTC); the ``xzgov.io/schedule-tz``
annotation says so and ``xzgov.io/schedule-beijing`` gives the Beijing-time reading of derived ones.

``xzgov.io/rpo-met`` says only what is true: the achieved recovery point is the worst case over the
namespace backup (interval + backup duration + replication lag) and every data-holding host's backup
(:mod:`stacks.render.hostdata`); ``xzgov.io/rpo-reason`` names each component that misses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from stacks.render import labels as lb
from stacks.render.context import SiteContext
from stacks.render.cron import INTERVAL_LADDER, MIN_INTERVAL, interval_cron, rendered_cadence
from stacks.render.hostdata import HostBackup, UnbackedHost, host_backups, unbacked_hosts
from stacks.render.network import Obj
from xzgov.core import model as m
from xzgov.core.cron import CronError, max_gap_minutes, velero_cron

VELERO_API = "velero.io/v1"
#: the shortest Velero schedule (the cron ladder's first step): Velero runs one backup at a time, so the
#: site's queue load is shown by `xzgov plan`; RPOs below interval + backup + replication lag need
#: replication of the data itself (host databases: WAL archiving) and are annotated rpo-met "false"
VELERO_MIN_INTERVAL = MIN_INTERVAL
#: below this budget (RPO − backup − replication lag, minutes) a Velero schedule cannot meet the RPO at a
#: sensible load: the schedule then only keeps gaps ≤ RPO (what XZ-RES-BACKUP-RPO checks) and the RPO
#: is marked not met
BUDGET_FLOOR = 15
#: assumed duration of a namespace backup without volumes (objects only)
OBJECTS_ONLY_MINUTES = 1
DAILY_DAYS, WEEKLY_DAYS = 14, 56
TIER_ANNOTATION = f"{lb.DOMAIN}/backup-tier"
RPO_ACHIEVED = f"{lb.DOMAIN}/rpo-achieved-minutes"
RPO_REASON = f"{lb.DOMAIN}/rpo-reason"
SCHEDULE_TZ = f"{lb.DOMAIN}/schedule-tz"
SCHEDULE_BEIJING = f"{lb.DOMAIN}/schedule-beijing"
HOST_BACKUP = f"{lb.DOMAIN}/host-backup"
#: a data-holding host the rendered jobs do not back up (``roles/host_backup`` does not support its OS)
HOST_UNBACKED = f"{lb.DOMAIN}/host-backup-missing"
#: what the manifest *declares* about continuous replication (``continuity.replication``): a claim that
#: nothing renders or checks, recorded next to the verdict — never part of it
REPLICATION_CLAIM = f"{lb.DOMAIN}/replication-claim"
#: what must hold before a fail-back Restore is applied (docs/dr.md §5)
RESTORE_PRECONDITION = f"{lb.DOMAIN}/restore-precondition"
#: what a failover restore leaves out: lhasa's NetworkPolicies (lhasa CIDRs) and every object the
#: DR stack's Pulumi program owns (it runs first and renders them with DR addresses)
RESTORE_EXCLUDED = ("networkpolicies.networking.k8s.io", "resourcequotas", "limitranges",
                    "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io")


def _dr_labels(ctx: SiteContext) -> dict[str, str]:
    return {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "disaster-recovery", lb.SITE: ctx.site.id}


def backup_storage_location(
    ctx: SiteContext, name: str, bucket_site: m.Site, origin_site: str, *, read_only: bool, default: bool
) -> Obj:
    settings = ctx.settings
    object_storage: dict[str, str] = {"bucket": bucket_site.backup_bucket,
                                      "prefix": f"{settings.backup_prefix}/{origin_site}"}
    if settings.object_store_ca_cert:
        object_storage["caCert"] = settings.object_store_ca_cert
    spec: Obj = {
        "provider": settings.velero_provider,
        "objectStorage": object_storage,
        "config": {"region": settings.object_store_region, "s3Url": bucket_site.object_store_url,
                   "s3ForcePathStyle": "true", "checksumAlgorithm": settings.object_store_checksum_algorithm},
        "credential": {"name": settings.velero_credential_secret, "key": settings.velero_credential_key},
        "accessMode": "ReadOnly" if read_only else "ReadWrite",
        "default": default,
    }
    return {"apiVersion": VELERO_API, "kind": "BackupStorageLocation",
            "metadata": {"name": name, "namespace": settings.velero_namespace,
                         "labels": {**_dr_labels(ctx), lb.HOME_SITE: origin_site},
                         "annotations": {lb.TITLE: f"{bucket_site.name} 备份存储 ({origin_site})"}},
            "spec": spec}


def writable_location(ctx: SiteContext) -> str:
    return ctx.site.id


def runs_here(ctx: SiteContext) -> list[m.System]:
    """Systems whose backups this site takes: placed here, or failed over to here."""
    return [p.system for _, p in sorted(ctx.placements.items()) if not p.replica or p.failed_over]


def render_locations(ctx: SiteContext) -> list[Obj]:
    """The site's own writable location (the default) when anything runs here, and a read-only replica
    location for every other site."""
    site = ctx.site
    objects: list[Obj] = []
    writes = site.role == "primary" or bool(runs_here(ctx))
    if writes:
        objects.append(backup_storage_location(ctx, writable_location(ctx), site, site.id, read_only=False,
                                               default=True))
    for index, other in enumerate(s for s in ctx.region.sites.values() if s.id != site.id):
        objects.append(backup_storage_location(ctx, f"{other.id}-replica", site, other.id, read_only=True,
                                               default=not writes and index == 0))
    return objects


def volume_snapshot_class(ctx: SiteContext) -> Obj:
    """The CSI snapshot class Velero uses for ``snapshotMoveData`` (``Retain``: a snapshot outlives an
    accidental VolumeSnapshot deletion until the data mover has copied it)."""
    return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": "xzgov-velero",
                         "labels": {**_dr_labels(ctx), "velero.io/csi-volumesnapshot-class": "true"},
                         "annotations": {lb.TITLE: "Velero 卷快照类 / Velero volume snapshot class"}},
            "driver": ctx.settings.csi_snapshot_driver, "deletionPolicy": "Retain"}


def replication_rules(region: m.Region, prefix: str = "velero") -> list[dict[str, str]]:
    """Object-store replication, both ways: each site's prefix (namespace backups and host backups) into
    every other site's bucket. (Host backups are written to the other site directly: no rule needed.)"""
    return [{"source_bucket": source.backup_bucket, "source_endpoint": source.object_store_url,
             "prefix": f"{prefix}/{source.id}/", "target_bucket": target.backup_bucket,
             "target_endpoint": target.object_store_url}
            for source in region.sites.values() for target in region.sites.values() if target.id != source.id]


def ttl(retention_days: int) -> str:
    """A Go ``time.Duration`` string: ``90`` days → ``2160h0m0s``."""
    return ttl_hours(retention_days * 24)


def ttl_hours(hours: int) -> str:
    return f"{hours}h0m0s"


@dataclass(frozen=True)
class BackupTier:
    """One schedule of a system's tiered retention."""

    #: ``frequent`` | ``daily`` | ``weekly`` | ``monthly``
    tier: str
    cron: str
    #: longest gap between two runs (minutes)
    interval_minutes: int
    ttl_hours: int
    #: ``rpo`` | ``manifest`` | ``floor`` (raised to VELERO_MIN_INTERVAL) | ``retention``
    source: str

    @property
    def steady_count(self) -> int:
        """Backups of this schedule that exist at any time once the TTL is reached."""
        return -(-self.ttl_hours * 60 // self.interval_minutes)

    @property
    def per_hour(self) -> float:
        return 60 / self.interval_minutes


def _duration(system: m.System, backup_minutes: int) -> int:
    return backup_minutes if any(w.storage_size for w in system.workloads) else OBJECTS_ONLY_MINUTES


def _frequent(system: m.System, budget_minutes: int) -> tuple[str, int, str]:
    """The frequent cadence: the RPO minus backup duration and replication lag (``budget_minutes``) turned
    into a cron (or the manifest's when more frequent), never below :data:`VELERO_MIN_INTERVAL`."""
    chosen = rendered_cadence(system.name, budget_minutes, system.continuity.backup_schedule)
    # the manifest's cron is written as Velero's parser (robfig/cron) reads it: 7 → 0, names → numbers
    return velero_cron(chosen.cron), chosen.interval_minutes, chosen.source


def backup_tiers(system: m.System, frequent_hours: int, budget_minutes: int | None = None) -> list[BackupTier]:
    """Frequent (RPO) backups kept ``frequent_hours``; daily ones kept 14 days, weekly 8 weeks, monthly
    for the rest of ``retention_days`` — each tier only where the retention reaches past the one before."""
    retention_hours = system.continuity.backup_retention_days * 24
    rpo = system.continuity.rpo_minutes
    budget = rpo if budget_minutes is None or budget_minutes < BUDGET_FLOOR else budget_minutes
    cron, interval, source = _frequent(system, budget)
    daily_cron = interval_cron(1440, system.name)
    minute, hour = daily_cron.split()[:2]
    if interval >= 1440:
        tiers = [BackupTier("frequent", cron, interval, min(retention_hours, DAILY_DAYS * 24), source)]
    else:
        # kept at least two intervals (never past the system's retention): a frequentRetentionHours shorter than
        # the interval left hours with no frequent backup at all while rpo-met said "true"
        kept = max(min(retention_hours, frequent_hours), min(retention_hours, -(-2 * interval // 60)))
        tiers = [BackupTier("frequent", cron, interval, kept, source)]
        if retention_hours > kept:
            tiers.append(BackupTier("daily", daily_cron, 1440, min(retention_hours, DAILY_DAYS * 24), "retention"))
    if retention_hours > DAILY_DAYS * 24:
        # Saturday evening UTC = Sunday 01:00–04:59 Beijing time
        tiers.append(BackupTier("weekly", f"{minute} {hour} * * 6", 7 * 1440,
                                min(retention_hours, WEEKLY_DAYS * 24), "retention"))
    if retention_hours > WEEKLY_DAYS * 24:
        tiers.append(BackupTier("monthly", f"{minute} {hour} 1 * *", 31 * 1440, retention_hours, "retention"))
    return tiers


@dataclass(frozen=True)
class RecoveryPoint:
    """The worst-case recovery point of a system at the other site, and what misses its RPO.

    Measured from what is rendered (the namespace schedule, the host jobs) only: a manifest's
    ``continuity.replication`` is kept as :attr:`replication_claim`, never counted."""

    rpo_minutes: int
    achieved_minutes: int
    reasons: tuple[str, ...]
    hosts: tuple[HostBackup, ...]
    #: data-holding hosts that get no job (unsupported OS): no recovery point at all
    unbacked: tuple[UnbackedHost, ...] = ()
    #: ``continuity.replication`` as declared (``""``: none)
    replication_claim: str = ""

    @property
    def met(self) -> bool:
        return not self.reasons


def recovery_point(ctx: SiteContext, system: m.System, frequent: BackupTier) -> RecoveryPoint:
    settings = ctx.settings
    rpo = system.continuity.rpo_minutes
    duration = _duration(system, settings.backup_minutes)
    namespace = frequent.interval_minutes + duration + settings.replication_lag_minutes
    reasons: list[str] = []
    if namespace > rpo:
        reasons.append(f"namespace backup {frequent.interval_minutes}+{duration}+{settings.replication_lag_minutes}"
                       f"={namespace} min (interval+backup+replication) > RPO {rpo} min")
    hosts = tuple(host_backups(ctx.region, system, settings))
    for job in hosts:
        if job.achieved_rpo_minutes > rpo:
            reasons.append(f"host {job.hostname} ({job.method}) {job.achieved_rpo_minutes} min > RPO {rpo} min")
    offsite = ctx.region.backup_site(ctx.site.id).id
    if offsite in settings.disaster_declared or offsite == ctx.site.id:
        # the namespace backups' off-site copy is the replication to the other site's bucket: that site is lost
        # (a recovered system at the DR site, the DR site's own systems) — no copy leaves this site
        reasons.append(f"namespace backups stay at '{ctx.site.id}': their off-site copy goes to '{offsite}', "
                       "which is declared lost — no off-site recovery point until it returns")
    same_site = [job for job in hosts if job.target_site == ctx.site.id]
    if same_site:
        reasons.append(f"host backups of {', '.join(j.hostname for j in same_site)} go to this site's own bucket "
                       f"('{ctx.site.id}'): no off-site copy")
    lost = [job for job in hosts if job.target_site in settings.disaster_declared]
    if lost:
        # a system of this site backs its hosts up to the other site's bucket: that site is declared lost
        reasons.append(f"host backups of {', '.join(j.hostname for j in lost)} go to the lost site "
                       f"'{lost[0].target_site}': no recovery point is taken until it returns")
    unbacked = tuple(unbacked_hosts(system))
    reasons += [host.reason() for host in unbacked]
    achieved = max([namespace, *(job.achieved_rpo_minutes for job in hosts)])
    claim = getattr(system.continuity, "replication", None) or ""
    return RecoveryPoint(rpo, achieved, tuple(reasons), hosts, unbacked, claim)


def manifest_line(root: str, system: m.System, needles: tuple[str, ...]) -> int:
    """The first line of ``system``'s manifest holding one of ``needles`` (0 when unreadable or absent)."""
    try:
        lines = (Path(root) / system.source).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return 0
    return next((number for number, line in enumerate(lines, 1) if any(n in line for n in needles)), 0)


def host_line(root: str, system: m.System, hostname: str) -> int:
    """The manifest line that declares host ``hostname`` (0 when the file cannot be read)."""
    return manifest_line(root, system, (f"hostname: {hostname}", f"hostname: '{hostname}'",
                                        f'hostname: "{hostname}"'))


def host_location(ctx: SiteContext, system: m.System, hostname: str) -> str:
    """``<manifest>:<line>: spec.hosts[i]`` of a host, for warnings."""
    index = next((i for i, host in enumerate(system.hosts) if host.hostname == hostname), 0)
    return f"{system.source or system.name}:{host_line(ctx.settings.register_root, system, hostname)}: " \
           f"spec.hosts[{index}]"


def _warn(ctx: SiteContext, system: m.System, point: RecoveryPoint) -> None:
    """Plan warnings for what the rpo-met verdict cannot show as a number: hosts never backed up and host
    backups that go to a site declared lost."""
    for host in point.unbacked:
        warning = (f"{host_location(ctx, system, host.hostname)}.data: {host.reason()} — rpo-met is false; "
                   f"fix: move the host to Debian 12, back it up outside xzgov (and say so in the DR plan) or "
                   f"declare `data: none` if it keeps nothing")
        ctx.warn(warning)
    for job in point.hosts:
        if job.target_site in ctx.settings.disaster_declared:
            warning = (f"{host_location(ctx, system, job.hostname)}.data: host {job.hostname} backs up to "
                       f"'{job.target_site}', declared lost — no recovery point until it returns; fix: back it "
                       f"up to a surviving object store by hand (docs/dr.md §5, a lost DR site)")
            ctx.warn(warning)


def _beijing(cron: str) -> str:
    """The Beijing-time (UTC+8) reading of a cron whose hour field is a single number, else the cron."""
    fields = cron.split()
    if len(fields) != 5 or not fields[1].isdigit() or not fields[0].isdigit():
        return f"{cron} (UTC)"
    hour = (int(fields[1]) + 8) % 24
    day_shift = " (次日 / next day)" if int(fields[1]) + 8 >= 24 else ""
    return f"{hour:02d}:{int(fields[0]):02d} 北京时间{day_shift}"


def schedule_name(ctx: SiteContext, system: m.System, tier: str) -> str:
    """The name of ``system``'s ``tier`` schedule at this site (:func:`schedule_name_at`)."""
    return schedule_name_at(system, tier, ctx.site.id)


def schedule_name_at(system: m.System, tier: str, site: str) -> str:
    """``<system>-backup`` (frequent) / ``<system>-<tier>`` at ``site``; a failed-over system's schedules carry
    the site (``<system>-backup-dr``) so a restore by schedule name never picks the other site's backups. At most
    63 characters (a hash suffix past that): Velero copies the name into the ``velero.io/schedule-name`` label of
    every Backup, and the API server refuses a longer label value — the schedule would never back up."""
    base = [system.name, "backup" if tier == "frequent" else tier]
    if system.site != site:
        base.append(site)
    return lb.dns_name(*base)


def render_schedules(ctx: SiteContext, system: m.System, *, failed_over: bool = False) -> list[Obj]:
    continuity = system.continuity
    settings = ctx.settings
    budget = (continuity.rpo_minutes - _duration(system, settings.backup_minutes)
              - settings.replication_lag_minutes)
    tiers = backup_tiers(system, settings.frequent_retention_hours, budget)
    point = recovery_point(ctx, system, tiers[0])
    _warn(ctx, system, point)
    has_volumes = any(w.storage_size for w in system.workloads)
    labels = {**_dr_labels(ctx), lb.SYSTEM: system.name, lb.DEPARTMENT: system.department,
              lb.LEVEL: str(system.level)}
    objects: list[Obj] = []
    for tier in tiers:
        annotations = {
            lb.TITLE: f"{system.title} 定期备份 ({tier.tier})",
            TIER_ANNOTATION: tier.tier,
            lb.BACKUP_INTERVAL: str(tier.interval_minutes),
            lb.SCHEDULE_SOURCE: tier.source,
            SCHEDULE_TZ: "UTC",
            SCHEDULE_BEIJING: _beijing(tier.cron),
            lb.RETENTION_DAYS: str(continuity.backup_retention_days),
        }
        if tier.tier == "frequent":
            annotations |= {
                lb.RPO_MINUTES: str(continuity.rpo_minutes),
                lb.RPO_MET: "true" if point.met else "false",
                RPO_ACHIEVED: str(point.achieved_minutes),
                lb.MANIFEST_SCHEDULE: f"{continuity.backup_schedule} (UTC)",
            }
            if point.reasons:
                annotations[RPO_REASON] = "; ".join(point.reasons)
            if point.hosts:
                annotations[HOST_BACKUP] = ", ".join(f"{j.hostname}:{j.method}→{j.target_site}" for j in point.hosts)
            if point.unbacked:
                annotations[HOST_UNBACKED] = ", ".join(f"{h.hostname}:{h.os_family}-{h.os_version}"
                                                       for h in point.unbacked)
            if point.replication_claim:
                annotations[REPLICATION_CLAIM] = (f"{point.replication_claim} (declared in the manifest; not "
                                                  "rendered or checked here — rpo-met counts the backups only)")
        spec: Obj = {
            "schedule": tier.cron,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": [system.namespace],
                "storageLocation": writable_location(ctx),
                "ttl": ttl_hours(tier.ttl_hours),
                "snapshotVolumes": has_volumes,
                "snapshotMoveData": has_volumes,
                "metadata": {"labels": {lb.SYSTEM: system.name, lb.SITE: ctx.site.id}},
            },
        }
        if failed_over:
            spec["skipImmediately"] = True  # nothing to back up until the restore has run
        objects.append({
            "apiVersion": VELERO_API, "kind": "Schedule",
            "metadata": {"name": schedule_name(ctx, system, tier.tier), "namespace": ctx.settings.velero_namespace,
                         "labels": {**labels, TIER_ANNOTATION: tier.tier}, "annotations": annotations},
            "spec": spec,
        })
    return objects


def render_schedule(ctx: SiteContext, system: m.System) -> Obj:
    """The frequent (RPO) schedule of ``system``."""
    return render_schedules(ctx, system)[0]


def render_disaster_recovery(ctx: SiteContext) -> list[Obj]:
    """Locations, then the tiered schedules of every system running at this site (placed here or failed
    over to here; standing DR replicas are restore targets and take no backups)."""
    objects = render_locations(ctx)
    if ctx.settings.csi_snapshot_driver:
        objects.append(volume_snapshot_class(ctx))
    for name in sorted(ctx.placements):
        placement = ctx.placements[name]
        if not placement.replica or placement.failed_over:
            objects.extend(render_schedules(ctx, placement.system, failed_over=placement.failed_over))
    return objects


def restore_stamp(at: dt.datetime) -> str:
    """The part of a Restore's name that tells one declaration from another: its UTC minute."""
    return at.astimezone(dt.UTC).strftime("%Y%m%d-%H%M")


def render_restore(ctx: SiteContext, system: m.System, *, from_site: str, failback: bool, stamp: str) -> Obj:
    """The Velero Restore of ``system``'s namespace at this site from the newest backup of its frequent
    schedule at ``from_site`` (read through the ``<from_site>-replica`` location). Its name carries ``stamp``
    (:func:`restore_stamp` of the declaration): Velero runs a Restore once, so a runbook of a later disaster that
    reused the name would be applied over the earlier, completed Restore and restore nothing, while `velero
    restore describe` showed the old one completed."""
    source_schedule = schedule_name_at(system, "frequent", from_site)  # the name that site's Schedule carries
    action = "failback" if failback else "failover"
    annotations = {lb.TITLE: f"{system.title} {'回切' if failback else '灾备切换'}恢复",
                   lb.DR_TIER: str(system.continuity.dr_tier)}
    if failback:
        # Velero restores volume data only into a PVC it creates: a PVC left from before the disaster keeps
        # its old data (existingResourcePolicy does not apply to volume data) — docs/dr.md §5, fail-back
        annotations[RESTORE_PRECONDITION] = (
            f"at {from_site}: writes stopped and `velero backup create --from-schedule {source_schedule} --wait` "
            f"completed and synced here; here: namespace {system.namespace} holds no workloads and no PVCs "
            f"(kubectl -n {system.namespace} delete deploy,sts,ds,job,cronjob,pvc --all --wait)")
    return {
        "apiVersion": VELERO_API, "kind": "Restore",
        "metadata": {"name": lb.dns_name(system.name, action, stamp),  # velero.io/restore-name of what it restores
                     "namespace": ctx.settings.velero_namespace,
                     "labels": {**_dr_labels(ctx), lb.SYSTEM: system.name, lb.HOME_SITE: system.site},
                     "annotations": annotations},
        "spec": {
            # empty backupName + scheduleName: Velero picks the newest completed backup of that schedule
            # (`velero restore create --from-schedule`); backupName is required by the CRD
            "backupName": "",
            "scheduleName": source_schedule,
            "includedNamespaces": [system.namespace],
            "excludedResources": list(RESTORE_EXCLUDED),
            # nothing Pulumi renders (labelled managed-by xzgov): the namespace, service accounts, quotas,
            # RBAC, policies and the entry Services (their source ranges and address pool are the site's own).
            # A fail-back's "update" would otherwise write the DR site's copies over this site's.
            "labelSelector": {"matchExpressions": [{"key": lb.MANAGED_BY, "operator": "NotIn",
                                                    "values": [lb.MANAGER]}]},
            "restorePVs": True,
            # failover: Pulumi's DR-site objects stay as rendered; failback into a surviving cluster: the
            # stale workloads and PVCs are deleted first (RESTORE_PRECONDITION) so that every PVC is created
            # with the DR site's data; what remains (ConfigMaps, Secrets, …) is updated to the DR state
            "existingResourcePolicy": "update" if failback else "none",
            "includeClusterResources": False,
        },
    }


def max_gap(cron: str) -> int:
    """Longest gap of a rendered cron (1 day when unreadable, which render never produces)."""
    try:
        return max_gap_minutes(cron)
    except CronError:  # pragma: no cover - rendered crons are readable
        return INTERVAL_LADDER[-1]


@dataclass(frozen=True)
class BackupLoad:
    """What a site's Velero carries at steady state."""

    site: str
    schedules: int
    #: Backup objects that exist at any time once every TTL is reached
    steady_backups: int
    backups_per_hour: float
    #: minutes per hour of Velero's serial queue (object collection, one backup at a time; > 60 never
    #: catches up) — data movement of volume snapshots runs afterwards in parallel on the node agents
    queue_minutes_per_hour: float
    #: volume snapshot uploads per hour (node agents, ``snapshotMoveData``)
    uploads_per_hour: float
    rpo_met: int
    rpo_missed: int

    def summary(self) -> dict[str, object]:
        return {"site": self.site, "schedules": self.schedules, "steady_backups": self.steady_backups,
                "backups_per_hour": round(self.backups_per_hour, 1),
                "queue_minutes_per_hour": round(self.queue_minutes_per_hour, 1),
                "uploads_per_hour": round(self.uploads_per_hour, 1),
                "rpo_met": self.rpo_met, "rpo_missed": self.rpo_missed}


def _hours(duration: str) -> int:
    return int(duration.split("h", 1)[0])


def backup_load(site: str, objects: list[Obj], queue_seconds: int) -> BackupLoad:
    """The steady-state backup count and hourly load of a site's rendered Schedules."""
    schedules = [o for o in objects if o["kind"] == "Schedule"]
    steady, per_hour, uploads = 0, 0.0, 0.0
    met = missed = 0
    for schedule in schedules:
        gap = max_gap(str(schedule["spec"]["schedule"]))
        template = schedule["spec"]["template"]
        steady += -(-_hours(str(template["ttl"])) * 60 // gap)
        per_hour += 60 / gap
        uploads += 60 / gap if template.get("snapshotMoveData") else 0
        verdict = schedule["metadata"]["annotations"].get(lb.RPO_MET)
        met += verdict == "true"
        missed += verdict == "false"
    return BackupLoad(site, len(schedules), steady, per_hour, per_hour * queue_seconds / 60, uploads, met, missed)

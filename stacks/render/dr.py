"""Disaster recovery: Velero BackupStorageLocations and one backup Schedule per system.

Locations (object layout ``<bucket>/velero/<origin site>``): every site writes the backups of the
systems placed there to its own bucket (``ReadWrite``; the primary's is the default location). The
object store replicates the primary bucket into the DR site's bucket (OSS cross-site replication,
outside Kubernetes), so a DR site also gets, per primary site, a ``<primary>-replica`` location on its
own bucket in ``ReadOnly`` mode — Velero restores from it and never writes to or prunes it. A DR site
without systems of its own has only read-only locations.

Schedules: a system's cron follows :func:`stacks.render.cron.cadence` (RPO-derived, never less frequent
than the manifest's schedule); the TTL is its backup retention (``retention_days × 24h``). Volumes are
snapshotted and the snapshot data moved to the location (``snapshotMoveData``) so it leaves the site.
"""

from __future__ import annotations

from stacks.render import labels as lb
from stacks.render.context import SiteContext
from stacks.render.cron import cadence
from stacks.render.network import Obj
from xzgov.core import model as m

VELERO_API = "velero.io/v1"
PREFIX_ROOT = "velero"


def _dr_labels(ctx: SiteContext) -> dict[str, str]:
    return {lb.MANAGED_BY: lb.MANAGER, lb.COMPONENT: "disaster-recovery", lb.SITE: ctx.site.id}


def backup_storage_location(
    ctx: SiteContext, name: str, bucket_site: m.Site, origin_site: str, *, read_only: bool, default: bool
) -> Obj:
    settings = ctx.settings
    spec: Obj = {
        "provider": settings.velero_provider,
        "objectStorage": {"bucket": bucket_site.backup_bucket, "prefix": f"{PREFIX_ROOT}/{origin_site}"},
        "config": {"region": settings.object_store_region, "s3Url": bucket_site.object_store_url,
                   "s3ForcePathStyle": "true"},
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


def render_locations(ctx: SiteContext) -> list[Obj]:
    site = ctx.site
    native = any(not p.replica for p in ctx.placements.values())
    objects: list[Obj] = []
    if site.role == "primary" or native:
        objects.append(backup_storage_location(ctx, writable_location(ctx), site, site.id, read_only=False,
                                               default=site.role == "primary"))
    if site.role == "dr":
        for primary in (s for s in ctx.region.sites.values() if s.role == "primary"):
            objects.append(backup_storage_location(ctx, f"{primary.id}-replica", site, primary.id,
                                                   read_only=True, default=not native))
    return objects


def ttl(retention_days: int) -> str:
    """A Go ``time.Duration`` string: ``90`` days → ``2160h0m0s``."""
    return f"{retention_days * 24}h0m0s"


def render_schedule(ctx: SiteContext, system: m.System) -> Obj:
    continuity = system.continuity
    chosen = cadence(system.name, continuity.rpo_minutes, continuity.backup_schedule)
    has_volumes = any(w.storage_size for w in system.workloads)
    labels = {**_dr_labels(ctx), lb.SYSTEM: system.name, lb.DEPARTMENT: system.department,
              lb.LEVEL: str(system.level)}
    return {
        "apiVersion": VELERO_API, "kind": "Schedule",
        "metadata": {
            "name": lb.dns_name(system.name, "backup", limit=253),
            "namespace": ctx.settings.velero_namespace,
            "labels": labels,
            "annotations": {
                lb.TITLE: f"{system.title} 定期备份",
                lb.RPO_MINUTES: str(continuity.rpo_minutes),
                lb.RPO_MET: "true" if chosen.rpo_met else "false",
                lb.BACKUP_INTERVAL: str(chosen.interval_minutes),
                lb.SCHEDULE_SOURCE: chosen.source,
                lb.MANIFEST_SCHEDULE: continuity.backup_schedule,
                lb.RETENTION_DAYS: str(continuity.backup_retention_days),
            },
        },
        "spec": {
            "schedule": chosen.cron,
            "useOwnerReferencesInBackup": False,
            "template": {
                "includedNamespaces": [system.namespace],
                "storageLocation": writable_location(ctx),
                "ttl": ttl(continuity.backup_retention_days),
                "snapshotVolumes": has_volumes,
                "snapshotMoveData": has_volumes,
                "metadata": {"labels": {lb.SYSTEM: system.name, lb.SITE: ctx.site.id}},
            },
        },
    }


def render_disaster_recovery(ctx: SiteContext) -> list[Obj]:
    """Locations, then one Schedule per system placed at this site (DR replicas are restore targets)."""
    objects = render_locations(ctx)
    for name in sorted(ctx.placements):
        placement = ctx.placements[name]
        if not placement.replica:
            objects.append(render_schedule(ctx, placement.system))
    return objects

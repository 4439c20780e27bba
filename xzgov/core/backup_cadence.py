"""Backup schedules: the recovery point objective (RPO) turned into a cron expression, and cron gaps.

Rule (documented in ``docs/stacks.md``):

1. The *RPO interval* is the largest step of :data:`INTERVAL_LADDER` (minutes) that does not exceed the
   RPO: sub-hourly steps divide 60, hourly steps divide 24 h, so every backup is exactly one interval
   after the previous one. It is at least :data:`MIN_INTERVAL` (5 minutes: a scheduled Velero backup
   cannot give a smaller RPO; such systems need storage replication and are flagged
   ``xzgov.io/rpo-met: "false"``) and at most one day (the daily backup 等保 requires).
2. The cron expression runs at that interval, offset by a stable hash of the system name so that
   hundreds of systems do not all start at minute 0. Daily backups run between 01:00 and 04:59
   Beijing time (17:00–20:59 UTC; Velero evaluates schedules in UTC).
3. The manifest's own ``continuity.backup.schedule`` is used verbatim instead when its longest gap
   between two runs is *shorter* than the RPO interval — the result is never less frequent than
   the manifest asks for.
4. Whatever was chosen runs at most every :data:`MIN_INTERVAL` minutes (:func:`rendered_cadence`): a manifest
   schedule more frequent than Velero can run is rendered at the floor.

The stacks render with this module, and the manifest point's facts (``xzgov.facts.manifest``) judge the same
:func:`rendered_cadence` where it takes the floor: an RPO below it fails XZ-RES-BACKUP-RPO on the manifest as on
the plan, before ``pulumi preview`` refuses it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from xzgov.core.cron import CronError, max_gap_minutes

__all__ = ["BackupCadence", "CronError", "cadence", "interval_cron", "max_gap_minutes", "rendered_cadence",
           "rpo_interval"]

#: Backup intervals in minutes, each divides an hour or a day.
INTERVAL_LADDER = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440)
MIN_INTERVAL = INTERVAL_LADDER[0]
MAX_INTERVAL = INTERVAL_LADDER[-1]
#: Beijing time (UTC+8) hours in which daily backups start, and the offset Velero's UTC needs.
DAILY_WINDOW_LOCAL_HOURS = (1, 2, 3, 4)
UTC_OFFSET_HOURS = 8

@dataclass(frozen=True)
class BackupCadence:
    """The schedule chosen for one system and why."""

    cron: str
    #: longest gap between two runs, in minutes
    interval_minutes: int
    #: ``rpo`` (derived from the RPO) or ``manifest`` (the manifest's schedule was more frequent)
    source: str
    #: whether the interval is within the RPO
    rpo_met: bool


def rpo_interval(rpo_minutes: int) -> int:
    """The largest ladder step ≤ ``rpo_minutes`` (clamped to :data:`MIN_INTERVAL` … one day)."""
    fitting = [step for step in INTERVAL_LADDER if step <= rpo_minutes]
    return fitting[-1] if fitting else MIN_INTERVAL


def _offset(name: str) -> int:
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16)


def interval_cron(interval: int, name: str) -> str:
    """A five-field cron expression firing every ``interval`` minutes (a ladder step), offset by ``name``."""
    if interval not in INTERVAL_LADDER:
        raise CronError(f"interval {interval} is not a step of {INTERVAL_LADDER}")
    offset = _offset(name)
    if interval < 60:
        start = offset % interval
        minute = f"*/{interval}" if start == 0 else f"{start}-59/{interval}"
        return f"{minute} * * * *"
    minute = str(offset % 60)
    hours = interval // 60
    if hours == 1:
        return f"{minute} * * * *"
    if hours < 24:
        start = (offset // 60) % hours
        hour = f"*/{hours}" if start == 0 else f"{start}-23/{hours}"
        return f"{minute} {hour} * * *"
    local = DAILY_WINDOW_LOCAL_HOURS[(offset // 60) % len(DAILY_WINDOW_LOCAL_HOURS)]
    return f"{minute} {(local - UTC_OFFSET_HOURS) % 24} * * *"


def cadence(name: str, rpo_minutes: int, manifest_schedule: str) -> BackupCadence:
    """The backup schedule of a system: RPO-derived, or the manifest's when that is more frequent."""
    interval = rpo_interval(rpo_minutes)
    derived = BackupCadence(interval_cron(interval, name), interval, "rpo", interval <= rpo_minutes)
    try:
        manifest_gap = max_gap_minutes(manifest_schedule)
    except CronError:
        return derived
    if manifest_gap < interval:
        return BackupCadence(manifest_schedule, manifest_gap, "manifest", manifest_gap <= rpo_minutes)
    return derived


def rendered_cadence(name: str, budget_minutes: int, manifest_schedule: str) -> BackupCadence:
    """The frequent backup schedule the stacks deploy (``stacks.render.dr``): :func:`cadence` of the budget (the
    RPO, or less where the backup and its replication take part of it), never more often than
    :data:`MIN_INTERVAL` (source ``floor``: a cron more frequent than Velero runs is rendered at the floor)."""
    chosen = cadence(name, max(budget_minutes, 1), manifest_schedule)
    if chosen.interval_minutes >= MIN_INTERVAL:
        return chosen
    return BackupCadence(interval_cron(MIN_INTERVAL, name), MIN_INTERVAL, "floor", budget_minutes >= MIN_INTERVAL)

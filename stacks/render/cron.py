"""Backup schedules as the stacks render them: the rule lives in :mod:`xzgov.core.backup_cadence`, the one
place both the render and the manifest point (``xzgov.facts.manifest``: the schedule the render will deploy,
judged by XZ-RES-BACKUP-RPO before any plan) read it."""

from xzgov.core.backup_cadence import (
    INTERVAL_LADDER,
    MAX_INTERVAL,
    MIN_INTERVAL,
    BackupCadence,
    CronError,
    cadence,
    interval_cron,
    max_gap_minutes,
    rendered_cadence,
    rpo_interval,
)

__all__ = ["INTERVAL_LADDER", "MAX_INTERVAL", "MIN_INTERVAL", "BackupCadence", "CronError", "cadence",
           "interval_cron", "max_gap_minutes", "rendered_cadence", "rpo_interval"]

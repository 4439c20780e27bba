"""Benchmark: steady-state Velero Backup objects and hourly load per site, tiered retention vs one schedule.

For the example region (or ``--root``), prints per site: the Backup objects that exist once every TTL is
reached and the backups per hour with the rendered tiered schedules (``stacks.render.dr``), against the
single-schedule model it replaces (the frequent schedule kept the whole ``retention_days``), and the
ratio single / tiered. Issue 14 measured ≈560,000 Backup objects at lhasa before. Target: ratio ≥ 50 at
the primary and Velero's queue within 60 min/h.

    .venv/bin/python bench/bench_dr_backups.py [--root .]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stacks.render import render_site
from stacks.render.dr import TIER_ANNOTATION, backup_load, max_gap
from stacks.settings import Settings
from xzgov.core.register import load_register

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    register = load_register(args.root)
    for site in register.region.sites:
        settings = Settings(site=site)
        objects = render_site(register, settings).disaster_recovery
        tiered = backup_load(site, objects, settings.backup_queue_seconds)
        single = 0
        for schedule in objects:
            annotations = schedule["metadata"].get("annotations", {})
            if schedule["kind"] != "Schedule" or annotations.get(TIER_ANNOTATION) != "frequent":
                continue
            retention_minutes = int(annotations["xzgov.io/retention-days"]) * 1440
            single += -(-retention_minutes // max_gap(str(schedule["spec"]["schedule"])))
        ratio = single / tiered.steady_backups if tiered.steady_backups else float("inf")
        print(f"{site}: Backup objects single-schedule {single:,} → tiered {tiered.steady_backups:,} "
              f"(ratio {ratio:.1f}); {tiered.backups_per_hour:.1f} backups/h, Velero queue "
              f"{tiered.queue_minutes_per_hour:.1f} min/h, "
              f"RPO met {tiered.rpo_met}/{tiered.rpo_met + tiered.rpo_missed}")


if __name__ == "__main__":
    main()

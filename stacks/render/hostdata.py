"""Data kept on hosts (databases, storage nodes): which hosts hold it, how ``roles/host_backup`` backs it up
to the object store of the *other* site, and the recovery point that achieves.

Velero protects namespaces and volumes only; a system whose database runs on a host (``spec.hosts``) is
not recovered by a namespace backup. A host holds data when its manifest says so (``spec.hosts[].data``,
``xzgov.core.model.host_data_method``); the backup method follows from that:

* ``pgbackrest`` (``data: postgresql``) — databases: continuous WAL archiving (``archive_timeout``
  :data:`WAL_ARCHIVE_SECONDS`) plus a weekly full and daily differential backup, straight into the other site's bucket
  (``<bucket>/<prefix>-hosts/<origin site>/<system>``) — no bucket replication lag.
  The region's databases are PostgreSQL or PostgreSQL-compatible (openGauss, KingbaseES in PG mode);
  an engine pgBackRest cannot read is a finding of the role's verify step, not a silent gap.
* ``restic`` (``data: files``) — storage nodes, key-management nodes (their sealed key store), log centres
  and exports of other database engines: file-level snapshots of ``data_paths`` at the RPO interval (never below
  :data:`FILE_MIN_INTERVAL`), same target layout.

The role's inputs (``host_backup_jobs``) are rendered here from the register so that they and the
``xzgov.io/rpo-met`` annotation come from one model.

``roles/host_backup`` supports Debian 12 (bookworm) only (:data:`HOST_BACKUP_PLATFORMS`, its
``meta/main.yml``; ``host-backup.yml`` runs on ``os_debian``). A data-holding host on another OS
(openEuler, Kylin) gets **no** job: :func:`host_backups` leaves it out (nothing claims a backup that is
never taken) and :func:`unbacked_hosts` names it, so the system's ``xzgov.io/rpo-met`` is ``"false"``
with a reason and the plan warns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stacks.render.cron import INTERVAL_LADDER, rpo_interval
from stacks.settings import Settings
from xzgov.core import ansible_yaml
from xzgov.core import model as m

#: PostgreSQL ``archive_timeout``: a WAL segment is shipped at least this often
WAL_ARCHIVE_SECONDS = 60
#: time to push one WAL segment to the other site's object store (minutes, conservative)
WAL_PUSH_MINUTES = 1
FILE_MIN_INTERVAL = 15
#: (os family, os version) pairs ``roles/host_backup`` supports (one definition: ``xzgov.core.model``)
HOST_BACKUP_PLATFORMS = m.HOST_BACKUP_PLATFORMS
backup_supported = m.host_backup_supported


@dataclass(frozen=True)
class UnbackedHost:
    """A data-holding host that gets no backup job: ``roles/host_backup`` does not support its OS."""

    system: str
    hostname: str
    data: str
    os_family: str
    os_version: str

    def reason(self) -> str:
        return (f"host {self.hostname} ({self.data} on {self.os_family} {self.os_version}) is not backed up: "
                f"roles/host_backup supports Debian 12 only")


def unbacked_hosts(system: m.System) -> list[UnbackedHost]:
    """The data-holding hosts of ``system`` that :func:`host_backups` gives no job (unsupported OS)."""
    return [UnbackedHost(system.name, host.hostname, host.data, host.os_family, host.os_version)
            for host in m.unbacked_data_hosts(system)]


@dataclass(frozen=True)
class HostBackup:
    """The backup job of one data-holding host."""

    system: str
    hostname: str
    address: str
    purpose: str
    #: ``pgbackrest`` or ``restic``
    method: str
    #: the site whose object store receives the backups (never the host's own site)
    target_site: str
    bucket: str
    endpoint: str
    prefix: str
    #: minutes between two recovery points (WAL archiving: ``archive_timeout``)
    interval_minutes: int
    #: systemd ``OnCalendar=`` of the periodic job (restic snapshot; pgBackRest differential), UTC
    on_calendar: str
    retention_days: int
    #: worst-case age of the newest recovery point at the other site, in minutes
    achieved_rpo_minutes: int
    #: directories a restic job takes (``spec.hosts[].data_paths``); empty for pgBackRest
    paths: tuple[str, ...] = ()
    #: the lost site, when the job runs on a host recovered at ``target_site`` during a declared disaster:
    #: it continues the same repository there, with no off-site copy until the lost site returns
    disaster: str = ""

    @property
    def path(self) -> str:
        """The host's repository in the bucket, ``<prefix>/<hostname>`` (``velero-hosts/<site>/<system>/<host>``):
        roles/host_backup appends the inventory hostname to the job's prefix (``pgbackrest.conf.j2``
        ``repo1-path``, ``restic.env.j2`` ``RESTIC_REPOSITORY``; tests/stacks/test_failover.py renders both and
        compares). The restore reads the same place: the system's prefix alone holds no repository."""
        return f"{self.prefix}/{self.hostname}"

    @property
    def repository(self) -> str:
        """The repository as its tool names it: pgBackRest's ``repo1-path``, restic's ``RESTIC_REPOSITORY``."""
        if self.method == "pgbackrest":
            return f"/{self.path}"
        return f"s3:{self.endpoint}/{self.bucket}/{self.path}"

    def to_vars(self) -> dict[str, object]:
        """The role's ``host_backup_jobs`` entry (``roles/host_backup/meta/argument_specs.yml``)."""
        return {"system": self.system, "method": self.method, "target_site": self.target_site,
                "bucket": self.bucket, "endpoint": self.endpoint, "prefix": self.prefix,
                "interval_minutes": self.interval_minutes, "on_calendar": self.on_calendar,
                "retention_days": self.retention_days, "wal_archive_seconds": WAL_ARCHIVE_SECONDS,
                "paths": list(self.paths), **({"disaster": self.disaster} if self.disaster else {})}




def on_calendar(interval_minutes: int, utc_hour: int) -> str:
    """A systemd ``OnCalendar=`` (UTC) firing every ``interval_minutes`` (a ladder step)."""
    if interval_minutes < 60:
        return f"*-*-* *:00/{interval_minutes}:00 UTC"
    if interval_minutes < 1440:
        return f"*-*-* 00/{interval_minutes // 60}:00:00 UTC"
    return f"*-*-* {utc_hour:02d}:30:00 UTC"


def host_backups(region: m.Region, system: m.System, settings: Settings) -> list[HostBackup]:
    """The host backup jobs of ``system`` (empty when none of its hosts holds data): only hosts whose OS
    ``roles/host_backup`` supports — the others are :func:`unbacked_hosts`, never claimed as backed up."""
    jobs: list[HostBackup] = []
    target = region.backup_site(system.site)
    rpo = system.continuity.rpo_minutes
    for host in system.hosts:
        method = m.host_data_method(host)
        if method is None or not backup_supported(host):
            continue
        if method == "pgbackrest":
            interval = max(1, WAL_ARCHIVE_SECONDS // 60)
            achieved = interval + WAL_PUSH_MINUTES
            calendar = on_calendar(1440, 18)  # daily differential, 02:30 Beijing time
        else:
            budget = rpo - settings.backup_minutes  # the snapshot must have reached the other site
            interval = max(rpo_interval(budget) if budget >= 1 else FILE_MIN_INTERVAL, FILE_MIN_INTERVAL)
            interval = next(step for step in INTERVAL_LADDER if step >= interval)
            achieved = interval + settings.backup_minutes
            calendar = on_calendar(interval, 18)
        jobs.append(HostBackup(system.name, host.hostname, str(host.address), host.purpose, method, target.id,
                               target.backup_bucket, target.object_store_url,
                               f"{settings.backup_prefix}-hosts/{system.site}/{system.name}", interval, calendar,
                               system.continuity.backup_retention_days, achieved,
                               (host.data_paths or m.DEFAULT_DATA_PATHS) if method == "restic" else ()))
    return jobs


def jobs_by_host(jobs: Iterable[HostBackup]) -> dict[str, list[dict[str, object]]]:
    """``roles/host_backup``'s jobs grouped by inventory hostname (the value of ``xzgov_host_backup_plan``)."""
    result: dict[str, list[dict[str, object]]] = {}
    for job in jobs:
        result.setdefault(job.hostname, []).append(job.to_vars())
    return result


def host_backup_file(plan: Mapping[str, list[dict[str, object]]]) -> bytes:
    """The Ansible vars file ``host-backup.yml`` (``ansible-playbook -i inventories/<site> host-backup.yml -e
    @<folder>/host-backup.yml`` from the repository root: ``stacks.failover.host_backup_command``)."""
    text = ansible_yaml.dump({"xzgov_host_backup_plan": dict(plan)}, sort_keys=True)  # no manifest templates
    return f"---\n{text}".encode()


def host_backup_vars(register: m.Register, site_id: str, settings: Settings) -> dict[str, list[dict[str, object]]]:
    """``roles/host_backup``'s jobs of every data-holding host of the systems placed at ``site_id``,
    by inventory hostname."""
    return jobs_by_host(job for system in sorted(register, key=lambda s: s.name) if system.site == site_id
                        for job in host_backups(register.region, system, settings))


def host_backup_plan(register: m.Register, site_id: str, settings: Settings) -> dict[str, list[dict[str, object]]]:
    """``xzgov_host_backup_plan`` of the file ``xzgov plan --out`` writes for ``site_id``: every host of the
    systems placed there, with its jobs or none (``[]``). The role retires the jobs a host it names no longer has
    (timers, units, secrets); a host the file does not name is left as it is — the DR runbook's file names only
    the recovered systems' hosts, and the site's own databases keep their backups."""
    plan: dict[str, list[dict[str, object]]] = {
        host.hostname: [] for system in register if system.site == site_id for host in system.hosts}
    plan.update(host_backup_vars(register, site_id, settings))
    return dict(sorted(plan.items()))

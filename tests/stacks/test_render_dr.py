"""Disaster recovery render: locations, schedules and DR tenancies."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import pytest

from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render.cron import max_gap_minutes
from stacks.render.dr import (
    HOST_BACKUP,
    RPO_ACHIEVED,
    RPO_REASON,
    SCHEDULE_TZ,
    backup_load,
    backup_tiers,
    replication_rules,
)
from stacks.render.dr import TIER_ANNOTATION as TIER
from stacks.render.hostdata import host_backup_vars, host_backups
from stacks.settings import Settings
from stacks.validate import validate_objects
from xzgov.core import model as m
from xzgov.core.errors import UsageError

#: base64 of a PEM certificate, as xzgov:objectStoreCaCert is given (the CRD's caCert is `format: byte`)
CA_CERT = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVWFoKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_primary_site_writes_its_own_and_reads_the_dr_sites_replica(standard: m.Register, lhasa: Settings) -> None:
    locations = by_kind(render_site(standard, lhasa).disaster_recovery, "BackupStorageLocation")
    assert list(locations) == ["lhasa", "dr-replica"]
    spec = locations["lhasa"]["spec"]
    assert spec["accessMode"] == "ReadWrite" and spec["default"] is True
    assert spec["objectStorage"] == {"bucket": "xzgov-backup-lhasa", "prefix": "velero/lhasa"}
    assert spec["config"]["s3Url"] == "https://oss.lhasa.xzgov.internal"
    assert spec["config"]["checksumAlgorithm"] == ""  # S3-compatible stores reject the SDK's CRC32
    assert locations["lhasa"]["metadata"]["namespace"] == "velero"
    # replication both ways: the DR site's backups arrive in lhasa's bucket under velero/dr
    back = locations["dr-replica"]["spec"]
    assert back["accessMode"] == "ReadOnly" and back["default"] is False
    assert back["objectStorage"] == {"bucket": "xzgov-backup-lhasa", "prefix": "velero/dr"}
    assert [d for d in (o["spec"]["default"] for o in locations.values()) if d] == [True]  # one default


def test_velero_prerequisites_that_are_configuration_are_rendered(standard: m.Register) -> None:
    settings = Settings(site="lhasa", object_store_ca_cert=CA_CERT, backup_prefix="velero-dev",
                        velero_credential_secret="oss-creds", object_store_checksum_algorithm="")
    rendered = render_site(standard, settings)
    problems = validate_objects(rendered.disaster_recovery, "1.30")
    assert problems == []
    location = by_kind(rendered.disaster_recovery, "BackupStorageLocation")["lhasa"]["spec"]
    assert location["objectStorage"]["caCert"] == CA_CERT
    assert location["objectStorage"]["prefix"] == "velero-dev/lhasa"  # the dev stack never writes velero/lhasa
    assert location["credential"] == {"name": "oss-creds", "key": "cloud"}
    assert not [o for o in rendered.disaster_recovery if o["kind"] == "VolumeSnapshotClass"]
    with_csi = render_site(standard, replace(settings, csi_snapshot_driver="csi.xsky.com")).disaster_recovery
    snapshot_class = next(o for o in with_csi if o["kind"] == "VolumeSnapshotClass")
    assert snapshot_class["metadata"]["labels"]["velero.io/csi-volumesnapshot-class"] == "true"
    assert snapshot_class["driver"] == "csi.xsky.com" and snapshot_class["deletionPolicy"] == "Retain"
    assert validate_objects([snapshot_class], "1.30") == []
    assert validate_objects([{**snapshot_class, "deletionPolicy": "Keep"}], "1.30")  # the CRD's enum
    with pytest.raises(UsageError) as raised:
        Settings(site="lhasa", backup_prefix="../prod")
    assert [d.message for d in raised.value.diagnostics] == [
        "xzgov:backupPrefix '../prod' is not an object key prefix (a-z0-9-/)"]


def test_replication_rules_run_both_ways(standard: m.Register) -> None:
    rules = {(r["source_bucket"], r["target_bucket"], r["prefix"]) for r in replication_rules(standard.region)}
    assert rules == {("xzgov-backup-lhasa", "xzgov-backup-dr", "velero/lhasa/"),
                     ("xzgov-backup-dr", "xzgov-backup-lhasa", "velero/dr/")}


def test_dr_site_reads_the_replica_read_only(standard: m.Register, dr: Settings) -> None:
    locations = by_kind(render_site(standard, dr).disaster_recovery, "BackupStorageLocation")
    replica = locations["lhasa-replica"]["spec"]
    assert locations["dr"]["spec"]["default"] is True and replica["default"] is False
    assert replica["accessMode"] == "ReadOnly"
    assert replica["objectStorage"] == {"bucket": "xzgov-backup-dr", "prefix": "velero/lhasa"}
    # dr-native is placed at the DR site, so its own backups need a writable location there
    assert locations["dr"]["spec"]["accessMode"] == "ReadWrite"
    assert locations["dr"]["spec"]["objectStorage"]["prefix"] == "velero/dr"


def test_dr_site_without_native_systems_has_only_read_only_locations(standard: m.Register, dr: Settings) -> None:
    register = m.Register(standard.region, {k: v for k, v in standard.systems.items() if k != "dr-native"})
    rendered = render_site(register, dr)
    locations = by_kind(rendered.disaster_recovery, "BackupStorageLocation")
    assert {name: o["spec"]["accessMode"] for name, o in locations.items()} == {"lhasa-replica": "ReadOnly"}
    assert not by_kind(rendered.disaster_recovery, "Schedule")


def test_tiered_schedules_per_system_placed_at_the_site(standard: m.Register, lhasa: Settings) -> None:
    schedules = by_kind(render_site(standard, lhasa).disaster_recovery, "Schedule")
    placed = {s.name for s in standard if s.site == "lhasa"}
    assert {o["spec"]["template"]["includedNamespaces"][0] for o in schedules.values()} == placed
    records = schedules["health-records-backup"]
    # RPO 30 − 10 min backup − 15 min replication leaves 5 min: below the floor, so the schedule only
    # keeps gaps ≤ the RPO (the manifest's */10 is more frequent) and the RPO is honestly not met
    assert records["spec"]["schedule"] == "*/10 * * * *"
    annotations = records["metadata"]["annotations"]
    assert annotations[lb.SCHEDULE_SOURCE] == "manifest" and annotations[lb.RPO_MET] == "false"
    assert annotations[RPO_REASON] == "namespace backup 10+10+15=35 min (interval+backup+replication) > RPO 30 min"
    assert annotations[SCHEDULE_TZ] == "UTC" and annotations[lb.MANIFEST_SCHEDULE] == "*/10 * * * * (UTC)"
    assert records["spec"]["template"]["ttl"] == "48h0m0s"  # frequent backups are short-lived
    assert records["spec"]["template"]["storageLocation"] == "lhasa"
    assert records["spec"]["template"]["snapshotVolumes"] is True
    assert records["spec"]["template"]["snapshotMoveData"] is True
    tiers = {name: o["spec"]["template"]["ttl"] for name, o in schedules.items() if name.startswith("health-records")}
    assert tiers == {"health-records-backup": "48h0m0s", "health-records-daily": "336h0m0s",
                     "health-records-weekly": "1344h0m0s", "health-records-monthly": "2160h0m0s"}
    assert max_gap_minutes(schedules["health-records-weekly"]["spec"]["schedule"]) == 7 * 1440
    portal = schedules["health-portal-backup"]
    # RPO 60 − 1 (objects only) − 15 = 44 → every 30 min: the RPO holds including backup and replication
    assert max_gap_minutes(portal["spec"]["schedule"]) == 30
    assert portal["metadata"]["annotations"][lb.RPO_MET] == "true"
    assert portal["metadata"]["annotations"][RPO_ACHIEVED] == "46"
    assert portal["spec"]["template"]["snapshotVolumes"] is False
    police = schedules["police-intel-backup"]
    assert max_gap_minutes(police["spec"]["schedule"]) == 5
    assert police["metadata"]["annotations"][lb.RPO_MINUTES] == "5"
    assert police["metadata"]["annotations"][lb.RPO_MET] == "false"
    assert police["metadata"]["labels"][lb.SYSTEM] == "police-intel"
    # RPO one day: every 12 h so that backup + replication still land within the day
    assert max_gap_minutes(schedules["low-tier-backup"]["spec"]["schedule"]) == 720
    # a daily cadence is itself the daily tier (kept 14 days), no separate daily schedule
    kept = backup_tiers(standard.systems["low-tier"], 48)
    assert [(t.tier, t.interval_minutes, t.ttl_hours) for t in kept] == [
        ("frequent", 1440, 336), ("weekly", 10080, 1344), ("monthly", 44640, 2160)]
    assert sum(t.steady_count for t in kept) == 14 + 8 + 3


@pytest.mark.parametrize("frequent_hours", [1, 6, 11, 48])
def test_a_frequent_backup_outlives_the_next_one(standard: m.Register, frequent_hours: int) -> None:
    # xzgov:frequentRetentionHours 6 with a 12-hour cadence left 6 hours of every 12 with no frequent backup (and
    # the declaration's Restore nothing to read) while rpo-met said "true"
    for system in standard.systems.values():
        for tier in backup_tiers(system, frequent_hours):
            if tier.tier == "frequent" and tier.interval_minutes < 1440:
                retention = system.continuity.backup_retention_days * 24
                assert tier.ttl_hours * 60 >= min(2 * tier.interval_minutes, retention * 60), (system.name, tier)
                assert tier.ttl_hours <= max(frequent_hours, -(-2 * tier.interval_minutes // 60))


def test_host_data_counts_in_the_rpo(standard: m.Register, lhasa: Settings) -> None:
    schedules = by_kind(render_site(standard, lhasa).disaster_recovery, "Schedule")
    crypto = schedules["crypto-platform-backup"]["metadata"]["annotations"]
    # its databases are on hosts: WAL archiving to the DR bucket every 60 s gives a 2-minute point
    assert crypto[HOST_BACKUP] == "hsm01:pgbackrest→dr, hsm02:pgbackrest→dr"
    assert crypto[lb.RPO_MET] == "true", crypto.get(RPO_REASON)
    slow = Settings(site="lhasa", replication_lag_minutes=60)
    annotations = by_kind(render_site(standard, slow).disaster_recovery, "Schedule")["crypto-platform-backup"]
    assert annotations["metadata"]["annotations"][lb.RPO_MET] == "false"
    jobs = host_backups(standard.region, standard.systems["crypto-platform"], lhasa)
    assert [(j.hostname, j.method, j.target_site, j.bucket, j.prefix) for j in jobs] == [
        ("hsm01", "pgbackrest", "dr", "xzgov-backup-dr", "velero-hosts/lhasa/crypto-platform"),
        ("hsm02", "pgbackrest", "dr", "xzgov-backup-dr", "velero-hosts/lhasa/crypto-platform")]
    files = replace(standard.systems["crypto-platform"], hosts=(m.Host(
        "store01", ipaddress.IPv4Address("10.66.8.13"), "debian", "12", "影像存储", "files"),), name="store")
    job = host_backups(standard.region, files, lhasa)[0]
    assert (job.method, job.interval_minutes, job.on_calendar) == ("restic", 30, "*-*-* *:00/30:00 UTC")
    assert job.achieved_rpo_minutes == 40 <= files.continuity.rpo_minutes  # 30-min snapshots + 10 min upload
    assert job.to_vars()["paths"] == ["/srv", "/var/lib"]  # the role's default directories, said explicitly
    named = replace(files, hosts=(replace(files.hosts[0], data_paths=("/data/images",)),))
    assert host_backups(standard.region, named, lhasa)[0].to_vars()["paths"] == ["/data/images"]
    assert all(j.paths == () for j in jobs)  # pgBackRest takes the cluster, not directories
    vars_ = host_backup_vars(standard, "lhasa", lhasa)
    assert set(vars_) == {"hsm01", "hsm02"} and vars_["hsm01"][0]["method"] == "pgbackrest"


def test_steady_state_backup_count_is_bounded(example_register: m.Register) -> None:
    """The example region kept ≈560,000 Backup objects at lhasa (5-minute schedules × 8,760 h TTL)."""
    rendered = render_site(example_register, Settings(site="lhasa"))
    load = backup_load("lhasa", rendered.disaster_recovery, 20)
    assert load.steady_backups < 10_000
    assert load.queue_minutes_per_hour <= 60  # Velero's one-at-a-time queue keeps up
    schedules = by_kind(rendered.disaster_recovery, "Schedule")
    payment = schedules["public-payment-backup"]
    assert payment["spec"]["template"]["ttl"] == "48h0m0s"
    assert schedules["public-payment-monthly"]["spec"]["template"]["ttl"] == f"{365 * 24}h0m0s"
    # host data with a backup and an RPO that Velero + replication cannot meet: never "true"
    for schedule in schedules.values():
        annotations = schedule["metadata"]["annotations"]
        if annotations.get(TIER) != "frequent":
            continue
        system = example_register.systems[schedule["metadata"]["labels"][lb.SYSTEM]]
        achieved = int(annotations[RPO_ACHIEVED])
        unsupported = [h.hostname for h in system.hosts if m.host_data_method(h) and h.os_family != "debian"]
        assert (annotations[lb.RPO_MET] == "true") == (achieved <= system.continuity.rpo_minutes
                                                        and not unsupported), system.name
        if any(m.host_data_method(h) and h.os_family == "debian" for h in system.hosts):
            assert HOST_BACKUP in annotations, system.name
        for hostname in unsupported:  # never claimed as backed up (docs/dr.md §1)
            assert hostname not in annotations.get(HOST_BACKUP, ""), system.name
            assert hostname in annotations[RPO_REASON], system.name


def test_dr_stack_reapplies_tenancies_from_the_tier_threshold(standard: m.Register, dr: Settings) -> None:
    rendered = render_site(standard, dr)
    tenants = {t.system: t.replica for t in rendered.tenants}
    expected_replicas = {s.name for s in standard if s.site != "dr" and s.continuity.dr_tier >= 3}
    assert {name for name, replica in tenants.items() if replica} == expected_replicas
    assert "low-tier" not in tenants  # tier 1
    assert tenants["dr-native"] is False
    namespace = next(t for t in rendered.tenants if t.system == "police-intel").objects[0]
    assert namespace["metadata"]["labels"][lb.SITE] == "dr"
    assert namespace["metadata"]["labels"][lb.HOME_SITE] == "lhasa"
    assert namespace["metadata"]["labels"][lb.DR_REPLICA] == "true"
    stricter = render_site(standard, Settings(site="dr", dr_tenancy_min_tier=5))
    assert {t.system for t in stricter.tenants if t.replica} == {"identity-platform"}

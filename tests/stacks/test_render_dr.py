"""Disaster recovery render: locations, schedules and DR tenancies."""

from __future__ import annotations

from typing import Any

from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render.cron import max_gap_minutes
from stacks.settings import Settings
from xzgov.core import model as m


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_primary_site_has_one_writable_default_location(standard: m.Register, lhasa: Settings) -> None:
    locations = by_kind(render_site(standard, lhasa).disaster_recovery, "BackupStorageLocation")
    assert list(locations) == ["lhasa"]
    spec = locations["lhasa"]["spec"]
    assert spec["accessMode"] == "ReadWrite" and spec["default"] is True
    assert spec["objectStorage"] == {"bucket": "xzgov-backup-lhasa", "prefix": "velero/lhasa"}
    assert spec["config"]["s3Url"] == "https://oss.lhasa.xzgov.internal"
    assert locations["lhasa"]["metadata"]["namespace"] == "velero"


def test_dr_site_reads_the_replica_read_only(standard: m.Register, dr: Settings) -> None:
    locations = by_kind(render_site(standard, dr).disaster_recovery, "BackupStorageLocation")
    replica = locations["lhasa-replica"]["spec"]
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


def test_one_schedule_per_system_placed_at_the_site(standard: m.Register, lhasa: Settings) -> None:
    schedules = by_kind(render_site(standard, lhasa).disaster_recovery, "Schedule")
    placed = {s.name for s in standard if s.site == "lhasa"}
    assert {o["spec"]["template"]["includedNamespaces"][0] for o in schedules.values()} == placed
    records = schedules["health-records-backup"]
    assert records["spec"]["schedule"] == "*/10 * * * *"  # manifest more frequent than the 30-min RPO
    assert records["metadata"]["annotations"][lb.SCHEDULE_SOURCE] == "manifest"
    assert records["spec"]["template"]["ttl"] == "2160h0m0s"
    assert records["spec"]["template"]["storageLocation"] == "lhasa"
    assert records["spec"]["template"]["snapshotVolumes"] is True
    assert records["spec"]["template"]["snapshotMoveData"] is True
    portal = schedules["health-portal-backup"]
    assert max_gap_minutes(portal["spec"]["schedule"]) == 60  # RPO 60, manifest daily
    assert portal["spec"]["template"]["snapshotVolumes"] is False
    police = schedules["police-intel-backup"]
    assert max_gap_minutes(police["spec"]["schedule"]) == 5
    assert police["metadata"]["annotations"][lb.RPO_MINUTES] == "5"
    assert police["metadata"]["labels"][lb.SYSTEM] == "police-intel"


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

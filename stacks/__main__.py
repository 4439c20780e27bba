"""Pulumi entry point (``main: stacks/``): configuration → Settings → components → outputs.

The only place that reads ``pulumi.Config``. Keys are documented in ``docs/stacks.md``.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from stacks.program import build, cluster_provider
from stacks.settings import Settings, ZoneQuota
from xzgov.core.register import load_register

config = pulumi.Config("xzgov")


def _int(key: str, default: int) -> int:
    value = config.get_int(key)
    return default if value is None else value


defaults = Settings(site=config.require("site"))
zone_quota = config.get_object("zoneQuota") or {}
ports = config.get_object("internetIngressPorts")
settings = Settings(
    site=defaults.site,
    register_root=config.get("registerRoot") or defaults.register_root,
    kubernetes_version=config.get("kubernetesVersion") or defaults.kubernetes_version,
    velero_namespace=config.get("veleroNamespace") or defaults.velero_namespace,
    velero_provider=config.get("veleroProvider") or defaults.velero_provider,
    velero_credential_secret=config.get("veleroCredentialSecret") or defaults.velero_credential_secret,
    velero_credential_key=config.get("veleroCredentialKey") or defaults.velero_credential_key,
    object_store_region=config.get("objectStoreRegion") or defaults.object_store_region,
    dr_tenancy_min_tier=_int("drTenancyMinTier", defaults.dr_tenancy_min_tier),
    quota_surge_percent=_int("quotaSurgePercent", defaults.quota_surge_percent),
    internet_ingress_ports=tuple(int(p) for p in ports) if isinstance(ports, list) else defaults.internet_ingress_ports,
    zone_quota=ZoneQuota(
        cpu=str(zone_quota.get("cpu", defaults.zone_quota.cpu)),
        memory=str(zone_quota.get("memory", defaults.zone_quota.memory)),
        pods=int(zone_quota.get("pods", defaults.zone_quota.pods)),
    ),
    kube_context=config.get("kubeContext"),
    internet_gateway=config.get("internetGateway") or defaults.internet_gateway,
    image_registry=config.get("imageRegistry") or defaults.image_registry,
    backup_prefix=config.get("backupPrefix") or defaults.backup_prefix,
    object_store_ca_cert=config.get("objectStoreCaCert"),
    object_store_checksum_algorithm=(config.get("objectStoreChecksumAlgorithm")
                                     or defaults.object_store_checksum_algorithm),
    backup_minutes=_int("backupMinutes", defaults.backup_minutes),
    backup_queue_seconds=_int("backupQueueSeconds", defaults.backup_queue_seconds),
    replication_lag_minutes=_int("replicationLagMinutes", defaults.replication_lag_minutes),
    frequent_retention_hours=_int("frequentRetentionHours", defaults.frequent_retention_hours),
    disaster_declared=tuple(str(s) for s in config.get_object("disasterDeclared") or ()),
    protect_stateful=config.get_bool("protectStateful") is not False,
    cluster_uid=config.get("clusterUid"),
    csi_snapshot_driver=config.get("csiSnapshotDriver"),
    scanner_image=config.get("scannerImage"),
    scanner_systems_per_shard=_int("scannerSystemsPerShard", defaults.scanner_systems_per_shard),
    scanner_time_utc=config.get("scannerTimeUtc") or defaults.scanner_time_utc,
    scanner_deadline_minutes=_int("scannerDeadlineMinutes", defaults.scanner_deadline_minutes),
    scanner_storage_class=config.get("scannerStorageClass"),
    scanner_key_secret=config.get("scannerKeySecret") or defaults.scanner_key_secret,
)

root = Path(settings.register_root)
if not root.is_absolute():
    root = Path(pulumi.get_root_directory() or ".") / root  # relative to Pulumi.yaml
cloud = build(load_register(root), settings, provider=cluster_provider(settings))
for key, value in cloud.outputs().items():
    pulumi.export(key, value)

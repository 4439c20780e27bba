"""Typed stack settings: the only shape in which configuration reaches the program.

:func:`settings_from_config` turns a stack's ``xzgov:`` configuration into :class:`Settings` — for
``stacks/__main__.py`` (the Pulumi configuration) and for the offline plan (``xzgov plan --stack NAME``
reads ``Pulumi.NAME.yaml``), the same keys, types and checks; everything else receives a ``Settings`` and
never touches ``pulumi.Config``. Defaults below are the documented defaults of ``docs/stacks.md``.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.groups import group_problems
from xzgov.core.yamlio import load_file

#: Kubernetes minor versions whose schemas the installed kubernetes-validate ships and that we accept: from 1.30,
#: where the admission policies the stacks render (images by digest, zone labels) are
#: admissionregistration.k8s.io/v1 and enforced; 1.28 and 1.29 serve them only as a beta API that is off by
#: default, so a plan for them rendered objects the cluster refuses or, enabled, leaves unenforced.
SUPPORTED_KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
#: a DNS subdomain (RFC 1123): the names of Secrets and StorageClasses
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)\Z")
_MEMORY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti)\Z")
_PREFIX = re.compile(r"^[a-z0-9][-a-z0-9]*(/[a-z0-9][-a-z0-9]*)*\Z")
_DRIVER = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?\Z")
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?\Z")


@dataclass(frozen=True)
class ZoneQuota:
    """Capacity of a zone's own tenancy (shared-services and security-management zones)."""

    cpu: str = "16"
    memory: str = "32Gi"
    pods: int = 200


@dataclass(frozen=True)
class Settings:
    """Configuration of one stack (one site). See ``docs/stacks.md`` for each ``xzgov:`` key."""

    #: ``xzgov:site`` — the site (region.yaml ``spec.sites[].id``) this stack deploys to.
    site: str
    #: ``xzgov:registerRoot`` — directory holding ``region.yaml`` and ``systems/``.
    register_root: str = "."
    #: ``xzgov:kubernetesVersion`` — minor version (``1.30``): Pod Security ``*-version`` labels and schemas.
    kubernetes_version: str = "1.30"
    #: ``xzgov:veleroNamespace`` — namespace of the Velero installation.
    velero_namespace: str = "velero"
    #: ``xzgov:veleroProvider`` — object-store plugin of the backup storage locations (S3-compatible OSS).
    velero_provider: str = "aws"
    #: ``xzgov:veleroCredentialSecret`` / ``xzgov:veleroCredentialKey`` — secret holding the OSS credentials.
    velero_credential_secret: str = "velero-oss-credentials"
    velero_credential_key: str = "cloud"
    #: ``xzgov:objectStoreRegion`` — the ``region`` the S3 plugin signs requests for.
    object_store_region: str = "xizang"
    #: ``xzgov:drTenancyMinTier`` — GB/T 20988 tier from which a system's tenancy is pre-applied at DR sites.
    dr_tenancy_min_tier: int = 3
    #: ``xzgov:quotaSurgePercent`` — rolling-update surge added to every workload's replicas in quotas.
    quota_surge_percent: int = 25
    #: ``xzgov:internetIngressPorts`` — TCP ports the internet-access segment accepts from the internet.
    internet_ingress_ports: tuple[int, ...] = (443,)
    #: ``xzgov:zoneQuota`` — ``{cpu, memory, pods}`` of the shared-services/security-management tenancies.
    zone_quota: ZoneQuota = field(default_factory=ZoneQuota)
    #: ``xzgov:kubeContext`` — kubeconfig context of the site's cluster (default: the provider's default).
    kube_context: str | None = None
    #: ``xzgov:internetGateway`` — the system (in an internet-access zone) whose workloads receive the
    #: internet through the load balancer: the WAF / TLS offload; it reaches only what it declares flows to.
    internet_gateway: str = "internet-gateway"
    #: ``xzgov:imageRegistry`` — the region's registry: admission admits only images from it, by digest.
    image_registry: str = "registry.xzgov.internal"
    #: ``xzgov:backupPrefix`` — root of the Velero object layout in the buckets (``<prefix>/<origin site>``);
    #: the dev stack uses its own (``velero-dev``) so it never writes into the production prefix.
    backup_prefix: str = "velero"
    #: ``xzgov:objectStoreCaCert`` — base64 PEM of the internal CA that signs the object stores' TLS
    #: certificates (the location's ``objectStorage.caCert``); unset: the system trust store.
    object_store_ca_cert: str | None = None
    #: ``xzgov:objectStoreChecksumAlgorithm`` — the S3 plugin's ``checksumAlgorithm``; ``""`` turns the
    #: CRC32 checksums off, which S3-compatible stores (OSS, Ceph RGW, MinIO before 2023) reject.
    object_store_checksum_algorithm: str = ""
    #: ``xzgov:csiSnapshotDriver`` — CSI driver of the cluster's volumes: a VolumeSnapshotClass for it,
    #: labelled for Velero (``snapshotMoveData`` needs one per driver); unset: installed with the storage.
    csi_snapshot_driver: str | None = None
    #: ``xzgov:backupMinutes`` — assumed duration of one Velero backup of a namespace with volumes
    #: (snapshot + data movement); counted in the achieved RPO and the site's backup load.
    backup_minutes: int = 10
    #: ``xzgov:backupQueueSeconds`` — assumed time one backup holds Velero's serial queue (collecting the
    #: namespace's objects; data movement runs afterwards on the node agents): the site's queue load.
    backup_queue_seconds: int = 20
    #: ``xzgov:replicationLagMinutes`` — the object store's cross-site replication lag (bucket to bucket);
    #: a backup protects against a site loss only once it is at the other site.
    replication_lag_minutes: int = 15
    #: ``xzgov:frequentRetentionHours`` — how long the frequent (RPO) backups are kept; the daily, weekly
    #: and monthly tiers keep the long-lived ones up to the manifest's ``retention_days``.
    frequent_retention_hours: int = 48
    #: ``xzgov:disasterDeclared`` — sites declared lost (``xzgov dr declare``): at a DR site every system
    #: of those sites with a DR tier ≥ 1 gets its tenancy (DR addresses) and its backups written here.
    disaster_declared: tuple[str, ...] = ()
    #: ``xzgov:protectStateful`` — ``protect`` on namespaces, PVCs and backup locations (off only for throw-away
    #: development clusters: ``pulumi destroy`` then runs); ``retain_on_delete`` stays on either way, so they are
    #: left in the cluster when they leave the stack. docs/dr.md gives the deliberate deletion path.
    protect_stateful: bool = True
    #: ``xzgov:clusterUid`` — UID of the ``kube-system`` namespace of the site's cluster: the program refuses
    #: to run against any other cluster (``kubectl get ns kube-system -o jsonpath='{.metadata.uid}'``).
    cluster_uid: str | None = None
    #: ``xzgov:scannerImage`` — the xzgov image of the compliance scanner CronJobs, ``<imageRegistry>/<path>@sha256:
    #: <64 hex>``; unset: no scanner is rendered (``stacks/render/scanner.py``, docs/stacks.md).
    scanner_image: str | None = None
    #: ``xzgov:scannerSystemsPerShard`` — systems per scan shard: ``N = ceil(systems / this)`` indexes.
    scanner_systems_per_shard: int = 10
    #: ``xzgov:scannerTimeUtc`` — ``HH:MM`` (UTC) of the nightly sharded scan; the merge follows after the
    #: 60-minute starting deadline + ``xzgov:scannerDeadlineMinutes`` (10..600) + 15 minutes.
    scanner_time_utc: str = "19:00"
    scanner_deadline_minutes: int = 120
    #: ``xzgov:scannerStorageClass`` — a ReadWriteMany storage class for the parts volume (unset: the default).
    scanner_storage_class: str | None = None
    #: ``xzgov:scannerKeySecret`` — Secret (created out of band) with ``signing-key.pem`` (and optionally
    #: ``passphrase``).
    scanner_key_secret: str = "xzgov-scanner-signing-key"
    #: ``xzgov:scannerTrustedFingerprint`` — SM3 fingerprint (64 hex, ``xzgov keys fingerprint``) of the public
    #: key the shards sign with; required with ``xzgov:scannerImage``. The merge trusts only this signer
    #: (``--trusted-fingerprint``), never the public key in the Secret, which whoever may write it could replace.
    scanner_trusted_fingerprint: str | None = None
    #: ``xzgov:scannerKeyGroups`` — groups (the security officers) bound to the Role ``xzgov-scanner-key`` in the
    #: scanner's namespace: create Secrets there, read, replace and delete ``xzgov:scannerKeySecret``. Empty: no
    #: binding (the cluster administrator provisions the key). Never an operator group: the plan refuses those.
    scanner_key_groups: tuple[str, ...] = ()
    #: The stack file the settings were read from (errors name it); not a configuration key.
    config_file: str = field(default="", compare=False, metadata={"config": False})

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []  # (message naming the key, the fix of this problem)
        problems += _scanner_problems(self)
        if not _DNS_LABEL.match(self.site):
            problems.append((f"xzgov:site '{self.site}' is not a site id",
                             "write a site id of region.yaml spec.sites[].id (lower-case letters, digits, '-')"))
        if self.kubernetes_version not in SUPPORTED_KUBERNETES_VERSIONS:
            problems.append((f"xzgov:kubernetesVersion '{self.kubernetes_version}' is not one of "
                             f"{', '.join(SUPPORTED_KUBERNETES_VERSIONS)}",
                             "write the cluster's minor version as a quoted string, e.g. \"1.30\" (clusters before "
                             "1.30 serve the admission policies only as an off-by-default beta: upgrade them)"))
        if not _DNS_LABEL.match(self.velero_namespace):
            problems.append((f"xzgov:veleroNamespace '{self.velero_namespace}' is not a DNS label",
                             "write the namespace Velero is installed in (e.g. velero: lower-case letters, digits, "
                             "'-', at most 63)"))
        problems += _velero_problems(self)
        if not 0 <= self.dr_tenancy_min_tier <= 6:
            problems.append(("xzgov:drTenancyMinTier must be a GB/T 20988 tier, 0..6",
                             f"write a whole number 0..6 instead of {self.dr_tenancy_min_tier} (default 3)"))
        if not 0 <= self.quota_surge_percent <= 100:
            problems.append(("xzgov:quotaSurgePercent must be 0..100",
                             f"write a percentage 0..100 instead of {self.quota_surge_percent} (default 25, "
                             "a Deployment's maxSurge)"))
        if not self.internet_ingress_ports or any(not 1 <= p <= 65535 for p in self.internet_ingress_ports):
            problems.append(("xzgov:internetIngressPorts must list ports 1..65535",
                             "write a non-empty list of TCP ports, e.g. [443]"))
        if not _CPU.match(self.zone_quota.cpu) or not _MEMORY.match(self.zone_quota.memory) \
                or self.zone_quota.pods < 0:
            problems.append(("xzgov:zoneQuota needs cpu (e.g. \"16\"), memory (e.g. 32Gi) and pods ≥ 0",
                             f"got cpu {self.zone_quota.cpu!r}, memory {self.zone_quota.memory!r}, pods "
                             f"{self.zone_quota.pods}: write cpu as cores or millicores (\"16\", \"500m\"), memory "
                             "with Ki/Mi/Gi/Ti (32Gi) and pods as a whole number ≥ 0"))
        if not _DNS_LABEL.match(self.internet_gateway):
            problems.append((f"xzgov:internetGateway '{self.internet_gateway}' is not a system name",
                             "write the metadata.name of the internet gateway's system manifest (a DNS label)"))
        if not _REGISTRY.match(self.image_registry):
            problems.append((f"xzgov:imageRegistry '{self.image_registry}' is not a registry host[:port]",
                             "write the registry's host name and optional port only, without scheme or path "
                             "(e.g. registry.xzgov.internal or registry.xzgov.internal:5000)"))
        if not _PREFIX.match(self.backup_prefix):
            problems.append((f"xzgov:backupPrefix '{self.backup_prefix}' is not an object key prefix (a-z0-9-/)",
                             "write path segments of lower-case letters, digits and '-' joined by '/', without a "
                             "leading or trailing '/' (e.g. velero or velero-dev)"))
        if self.object_store_checksum_algorithm not in ("", "CRC32", "CRC32C", "SHA1", "SHA256"):
            problems.append(("xzgov:objectStoreChecksumAlgorithm must be \"\", CRC32, CRC32C, SHA1 or SHA256",
                             "write \"\" for S3-compatible stores that reject checksums (OSS, Ceph RGW), else one of "
                             "the names"))
        for key, minutes, default in (("backupMinutes", self.backup_minutes, 10),
                                      ("replicationLagMinutes", self.replication_lag_minutes, 15)):
            if not 0 <= minutes <= 1440:  # each at its own key (a bad lag was located at backupMinutes' line)
                problems.append((f"xzgov:{key} must be 0..1440",
                                 f"write minutes 0..1440 (a day) instead of {minutes} (default {default})"))
        if not 1 <= self.backup_queue_seconds <= 3600:
            problems.append(("xzgov:backupQueueSeconds must be 1..3600",
                             f"write seconds 1..3600 instead of {self.backup_queue_seconds} (default 20)"))
        if not 1 <= self.frequent_retention_hours <= 24 * 31:
            problems.append(("xzgov:frequentRetentionHours must be 1..744",
                             f"write hours 1..744 (31 days) instead of {self.frequent_retention_hours} (default 48)"))
        if self.site in self.disaster_declared:
            problems.append((f"xzgov:disasterDeclared names this stack's own site '{self.site}'",
                             f"remove '{self.site}': a disaster is declared on the stack of the DR site that takes "
                             "over (`xzgov dr declare --lost <site>` prints the command)"))
        if self.csi_snapshot_driver is not None and not _DRIVER.match(self.csi_snapshot_driver):
            problems.append((f"xzgov:csiSnapshotDriver '{self.csi_snapshot_driver}' is not a CSI driver name",
                             "write the driver's name as `kubectl get csidrivers` lists it (e.g. rbd.csi.ceph.com), "
                             "or unset the key"))
        if self.cluster_uid is not None and not _UID.match(self.cluster_uid):
            problems.append((f"xzgov:clusterUid '{self.cluster_uid}' is not a UID (kube-system namespace uid)",
                             "write the output of `kubectl get ns kube-system -o jsonpath='{.metadata.uid}'` "
                             "(lower-case, 8-4-4-4-12 hex digits)"))
        if problems:
            raise UsageError("invalid stack configuration",
                             [Diagnostic(self.source_file, 0, 0, _key_of(problem), problem, hint, "config")
                              for problem, hint in problems])

    @property
    def source_file(self) -> str:
        """The stack file errors about these settings name (``Pulumi.<site>.yaml`` unless read from another)."""
        return self.config_file or f"Pulumi.{self.site}.yaml"

    @property
    def stack(self) -> str:
        """The Pulumi stack these settings are (``Pulumi.<stack>.yaml``; the site id — the repository's convention
        — when they were not read from a stack file). The commands a runbook prints name it: ``--stack dev`` printed
        ``pulumi up --stack lhasa``, the production primary."""
        name = Path(self.config_file).name if self.config_file else ""
        return name.removeprefix("Pulumi.").removesuffix(".yaml") if name.startswith("Pulumi.") else self.site

    def stack_of(self, site: str) -> str:
        """The stack of another ``site`` as far as these settings know it: the site id where this stack follows the
        convention (stack = site), else a placeholder the operator fills in (a dev or staging stack's other side
        is not the production stack of that site)."""
        return site if self.stack == self.site else f"<{site} stack of this environment>"

    @property
    def unpinned_cluster_keys(self) -> list[str]:
        """The cluster pin's keys this stack leaves unset (``pulumi up`` refuses the stack while any is)."""
        return [key for key, value in (("xzgov:kubeContext", self.kube_context),
                                       ("xzgov:clusterUid", self.cluster_uid)) if not value]

    @property
    def scanner_hour_minute(self) -> tuple[int, int]:
        """``xzgov:scannerTimeUtc`` as (hour, minute)."""
        hour, _, minute = self.scanner_time_utc.partition(":")
        return int(hour), int(minute)

    @property
    def pod_security_version(self) -> str:
        """The ``pod-security.kubernetes.io/*-version`` label value, e.g. ``v1.30``."""
        return f"v{self.kubernetes_version}"

    @property
    def schema_version(self) -> str:
        """The kubernetes-validate schema version, e.g. ``1.30.0``."""
        return f"{self.kubernetes_version}.0"


def _key_of(problem: str) -> str:
    """The ``xzgov:`` key a problem names (the diagnostic's field), else ``config``."""
    head = problem.split(" ", 1)[0]
    return head if head.startswith("xzgov:") else "config"


#: The scan CronJob's ``startingDeadlineSeconds`` / 60: how late a missed schedule may still start.
STARTING_DEADLINE_MINUTES = 60

_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")
DAY_MINUTES = 24 * 60
#: The region's offset from UTC (``xzgov.core.clock.REGION_TZ``, UTC+8), in minutes.
REGION_OFFSET_MINUTES = 8 * 60


def _clock(minutes: int) -> str:
    """``HH:MM`` of ``minutes`` after midnight (modulo a day)."""
    minutes %= DAY_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _utc(region_minutes: int) -> str:
    """``HH:MM`` UTC of a time of the region's day."""
    return _clock(region_minutes - REGION_OFFSET_MINUTES)


def _scanner_problems(settings: Settings) -> list[tuple[str, str]]:
    """The scanner keys' problems: (message naming the key, the fix of that problem)."""
    problems: list[tuple[str, str]] = []
    image = settings.scanner_image
    if image is not None and not _pinned_image(image, settings.image_registry):
        problems.append((f"xzgov:scannerImage '{image}' is not pinned by digest in the region's registry",
                         f"write {settings.image_registry}/<path>@sha256:<64 hex>, <path> being lower-case "
                         "components (a-z0-9 joined by '.', '_', '__' or '-') separated by single '/' (e.g. "
                         f"{settings.image_registry}/xzgov/xzgov@sha256:…; `crane digest` / `docker buildx "
                         "imagetools inspect` give the digest); admission refuses anything else"))
    fingerprint = settings.scanner_trusted_fingerprint
    if image is not None and fingerprint is None:
        problems.append(("xzgov:scannerTrustedFingerprint is required with xzgov:scannerImage: the merge must pin "
                         "the shards' signer outside the Secret (whoever may write it could swap the key pair)",
                         f"add `xzgov:scannerTrustedFingerprint: <64 hex>` to {settings.source_file}, the "
                         "output of `xzgov keys fingerprint signing-key.pub.pem` for the signing key of the Secret "
                         f"{settings.scanner_key_secret} (reviewed in git like any stack change)"))
    elif fingerprint is not None and not _FINGERPRINT.match(fingerprint):
        problems.append((f"xzgov:scannerTrustedFingerprint '{fingerprint}' is not an SM2 key fingerprint",
                         "write the 64 lower-case hex digits `xzgov keys fingerprint signing-key.pub.pem` prints "
                         "(SM3 of the public key)"))
    if not 1 <= settings.scanner_systems_per_shard <= 100_000:
        problems.append(("xzgov:scannerSystemsPerShard must be 1..100000",
                         f"write a whole number 1..100000 instead of {settings.scanner_systems_per_shard} "
                         "(default 10)"))
    if not _TIME.match(settings.scanner_time_utc):
        problems.append((f"xzgov:scannerTimeUtc '{settings.scanner_time_utc}' is not HH:MM (UTC, 00:00..23:59)",
                         "write a quoted 24-hour UTC time, e.g. \"19:00\" (03:00 Beijing)"))
    if not 10 <= settings.scanner_deadline_minutes <= 600:
        # The merge refuses parts older than one night's scan and merge (render/scanner.py part_max_age_minutes:
        # 2 × (60 + deadline) + 15): over 600 minutes that would reach the previous night's parts.
        problems.append(("xzgov:scannerDeadlineMinutes must be 10..600",
                         f"write minutes 10..600 instead of {settings.scanner_deadline_minutes}: a scan that "
                         "needs longer needs more shards (lower xzgov:scannerSystemsPerShard)"))
    elif _TIME.match(settings.scanner_time_utc):
        # Every shard judges the region's day (UTC+8: compliance.scanner, as_of = region_day(started)) and
        # `scan merge` refuses parts of different days: no shard may start on one side of the region's midnight
        # (16:00 UTC) and another on the other side.
        hour, minute = settings.scanner_hour_minute
        start = (hour * 60 + minute + REGION_OFFSET_MINUTES) % DAY_MINUTES  # in the region's time
        latest = start + STARTING_DEADLINE_MINUTES + settings.scanner_deadline_minutes
        if latest > DAY_MINUTES:
            last = DAY_MINUTES - STARTING_DEADLINE_MINUTES - settings.scanner_deadline_minutes  # region time
            midnight_utc, last_utc = _utc(0), _utc(last)
            problems.append((
                f"xzgov:scannerTimeUtc '{settings.scanner_time_utc}' ({_clock(start)} in the region, UTC+8) with "
                f"xzgov:scannerDeadlineMinutes {settings.scanner_deadline_minutes} lets shards run past the "
                f"region's midnight ({midnight_utc} UTC; start up to {STARTING_DEADLINE_MINUTES} min late + the "
                "deadline), so parts could judge different days and the merge would refuse them",
                f"start from {midnight_utc} UTC to {last_utc} UTC the next day (00:00–{_clock(last)} in the "
                "region), or "
                f"shorten xzgov:scannerDeadlineMinutes, so that start + {STARTING_DEADLINE_MINUTES} min + "
                "deadline ends before the region's next midnight"))
    if settings.scanner_storage_class is not None and not _DNS_SUBDOMAIN.match(settings.scanner_storage_class):
        problems.append((f"xzgov:scannerStorageClass '{settings.scanner_storage_class}' is not a storage class "
                         "name",
                         "write the name `kubectl get storageclass` lists (a DNS subdomain: lower-case letters, "
                         "digits, '-' and '.', at most 253), of a ReadWriteMany class, or unset the key"))
    if not _DNS_SUBDOMAIN.match(settings.scanner_key_secret):
        problems.append((f"xzgov:scannerKeySecret '{settings.scanner_key_secret}' is not a Secret name",
                         "write the name of the Secret holding signing-key.pem (a DNS subdomain: lower-case "
                         "letters, digits, '-' and '.', at most 253), e.g. xzgov-scanner-signing-key"))
    problems += _key_group_problems(settings.scanner_key_groups)
    return problems


#: a Velero object-store plugin's provider name (``aws``, ``velero.io/aws``, ``alibabacloud``)
_PROVIDER = re.compile(r"^[a-z0-9][-a-z0-9./]*\Z")
#: a key of a Secret's data
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}\Z")


def _velero_problems(settings: Settings) -> list[tuple[str, str]]:
    """The backup locations' keys: a value Velero cannot use leaves every location Unavailable on the cluster
    (no backup, no restore) while the plan looked fine."""
    problems: list[tuple[str, str]] = []
    if not _PROVIDER.match(settings.velero_provider):
        problems.append((f"xzgov:veleroProvider '{settings.velero_provider}' is not an object-store plugin name",
                         "write the provider of the Velero plugin installed for the object store, lower-case letters, "
                         "digits, '-', '.' and '/' (default aws: the S3-compatible OSS)"))
    if not _DNS_SUBDOMAIN.match(settings.velero_credential_secret):
        problems.append((f"xzgov:veleroCredentialSecret '{settings.velero_credential_secret}' is not a Secret name",
                         "write the name of the Secret in Velero's namespace holding the OSS credentials (a DNS "
                         "subdomain: lower-case letters, digits, '-' and '.', at most 253), e.g. "
                         "velero-oss-credentials"))
    if not _SECRET_KEY.match(settings.velero_credential_key):
        problems.append((f"xzgov:veleroCredentialKey '{settings.velero_credential_key}' is not a key of a Secret",
                         "write the key of that Secret's data holding the credentials file (letters, digits, '-', "
                         "'_' and '.'), e.g. cloud"))
    if not re.fullmatch(r"\S+", settings.object_store_region):
        problems.append((f"xzgov:objectStoreRegion '{settings.object_store_region}' is not a region",
                         "write the region the object store's S3 API signs for, without spaces (default xizang; "
                         "the store's documentation names it)"))
    ca = settings.object_store_ca_cert
    if ca is not None and not _base64_pem_certificate(ca):
        # the CRD's caCert is `format: byte` (base64): the API server refuses anything else on every location
        problems.append(("xzgov:objectStoreCaCert is not the base64 of a PEM certificate",
                         "write the CA certificate's PEM file base64-encoded on one line: base64 -w0 ca.pem"))
    return problems


def _base64_pem_certificate(value: str) -> bool:
    """Whether ``value`` is standard base64 (the CRD's ``format: byte``) of a PEM certificate."""
    import base64
    import binascii

    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b"-----BEGIN CERTIFICATE-----" in decoded and b"-----END CERTIFICATE-----" in decoded


def _key_group_problems(groups: tuple[str, ...]) -> list[tuple[str, str]]:
    """``xzgov:scannerKeyGroups``' problems, each named by its entry (located at the entry's line)."""
    return [(f"xzgov:scannerKeyGroups[{index}] {problem}", hint) for index, problem, hint in group_problems(groups)]


#: a path component of an image name (the distribution reference grammar: ``[a-z0-9]+`` joined by one
#: separator ``.``, ``_``, ``__`` or a run of ``-``)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}\Z")


def _pinned_image(image: str, registry: str) -> bool:
    """Whether ``image`` is ``<registry>/<path>@sha256:<64 hex>`` with a valid path (the distribution
    reference grammar; the repository name, registry included, at most 255 characters)."""
    name, at, digest = image.partition("@")
    return (bool(at) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None and len(name) <= 255
            and re.fullmatch(re.escape(registry) + rf"/{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", name) is not None)


# ------------------------------------------------------------------------------- configuration → Settings


def config_key(field_name: str) -> str:
    """The ``xzgov:`` key (without the prefix) of a :class:`Settings` field: ``scanner_time_utc`` →
    ``scannerTimeUtc``."""
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


#: ``xzgov:`` key → :class:`Settings` field, for every field.
CONFIG_KEYS: Mapping[str, str] = {config_key(f.name): f.name for f in fields(Settings)
                                  if f.metadata.get("config", True)}


def settings_from_config(values: Mapping[str, Any], source: str) -> Settings:
    """:class:`Settings` from a stack's ``xzgov:`` configuration: ``values`` maps keys without the prefix to
    what Pulumi or the stack file gives (strings, numbers, booleans; lists and mappings as such or as JSON
    text). An unknown key or a value of the wrong shape is an error naming the key in ``source`` (exit 2),
    as are the checks of :class:`Settings` itself."""
    hints = typing.get_type_hints(Settings)
    given: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    for key, value in values.items():
        name = CONFIG_KEYS.get(key)
        if name is None:
            # the key spelt in another case, else the nearest spelling (a swapped or missing letter)
            near = [k for k in CONFIG_KEYS if k.lower() == key.lower()] or \
                difflib.get_close_matches(key, list(CONFIG_KEYS), n=1, cutoff=0.75)
            problems.append(Diagnostic(source, 0, 0, f"xzgov:{key}", "not a configuration key of these stacks",
                                       f"did you mean xzgov:{near[0]}?" if near else
                                       "see docs/stacks.md for every key", "config"))
            continue
        if value is None:
            continue
        try:
            given[name] = _coerce(value, hints[name], LIST_EXAMPLES.get(name, "[…]"))
        except (TypeError, ValueError) as error:
            problems.append(Diagnostic(source, 0, 0, f"xzgov:{key}", f"{value!r}: {error}",
                                       "fix the value (docs/stacks.md gives its type and an example)", "config"))
    if "site" not in given and not problems:
        problems.append(Diagnostic(source, 0, 0, "xzgov:site", "no site", "set xzgov:site to the site id",
                                   "config"))
    if problems:
        raise UsageError(f"invalid stack configuration in {source}", problems)
    return Settings(**given, config_file=source)


#: an example value of each list key, for "expected a YAML list" (a port list was shown [lhasa], a site)
LIST_EXAMPLES: Mapping[str, str] = {"internet_ingress_ports": "[443]", "disaster_declared": "[lhasa]",
                                    "scanner_key_groups": "[security-officers]"}


def _coerce(value: Any, hint: Any, example: str = "[…]") -> Any:
    """``value`` as the field type ``hint`` (Pulumi hands every value over as text); ``example`` is a list
    value that fits the field, shown when a list is expected."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _coerce(value, next(arg for arg in args if arg is not type(None)), example)
    if isinstance(value, str) and (origin is tuple or hint is ZoneQuota):
        try:
            value = json.loads(value)  # an object in Pulumi's configuration is JSON text
        except json.JSONDecodeError:  # the decoder's "Expecting value: line 1 column 1" says nothing useful here
            raise ValueError(f"expected a YAML list, e.g. {example}" if origin is tuple else
                             "expected a mapping, e.g. {cpu: '8', memory: 16Gi, pods: 40}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a YAML list, e.g. {example}")
        return tuple(_coerce(item, args[0]) for item in value)
    if hint is ZoneQuota:
        if not isinstance(value, Mapping) or not set(value) <= {"cpu", "memory", "pods"}:
            raise TypeError("expected {cpu, memory, pods}")
        default = ZoneQuota()
        return ZoneQuota(cpu=_coerce(value.get("cpu", default.cpu), str),
                         memory=_coerce(value.get("memory", default.memory), str),
                         pods=_coerce(value.get("pods", default.pods), int))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ValueError("expected true or false")
    if hint is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("expected a whole number")
        return int(value)
    if isinstance(value, (Mapping, list)):
        raise TypeError("expected text")
    return str(value)


#: A number written so inside a list or mapping of a stack file: Pulumi hands a top-level value to the program as its
#: text, but decodes lists and mappings (yaml.v3, YAML 1.1 integers: Go's base prefixes, a leading zero octal,
#: underscores dropped) — ``[443, 0443]`` reached ``pulumi up`` as [443, 291] while the offline plan read 443.
_PULUMI_OTHER_NUMBER = re.compile(r"[-+]?(?:0[0-9_]+|0[xXoObB][0-9a-fA-F_]+|[0-9]+_[0-9_]*)")


def _nested_scalars(value: Any, where: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every scalar inside ``value`` (lists and mappings of text, as ``yaml.BaseLoader`` reads them) with its
    path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _nested_scalars(item, (*where, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nested_scalars(item, (*where, index))
    elif isinstance(value, str):
        yield where, value


def _typed_at(data: Any, path: tuple[str | int, ...]) -> bool:
    """Whether the value at ``path`` of the YAML 1.1 reading is a number (written plain, not quoted)."""
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(data, int | float) and not isinstance(data, bool)


#: The Pulumi project's name (Pulumi.yaml): a stack key written without a namespace is filed under it.
PROJECT = "xzgov-cloud"


def misplaced_key(key: str, project: str = PROJECT) -> str | None:
    """The ``xzgov:`` key a stack key meant when Pulumi files it elsewhere — written without a namespace (Pulumi puts
    it under the project: ``disasterDeclared`` is ``xzgov-cloud:disasterDeclared``) or under the project's
    namespace —, else ``None``. Nothing reads those: a declaration written so declared nothing, without a word."""
    namespace, separator, name = key.partition(":")
    if not separator:
        return key
    if namespace == project or (namespace != "xzgov" and (
            namespace.lower() == "xzgov" or difflib.get_close_matches(namespace.lower(), ["xzgov"], cutoff=0.75))):
        return name  # (the project's, or xzgov mistyped: xzgv:, Xzgov:)
    return None


def misplaced_problem(key: str, meant: str, source: str, project: str = PROJECT) -> Diagnostic:
    where = (f"Pulumi files it under the project's namespace ({project}:{meant})"
             if ":" not in key or key.startswith(f"{project}:") else f"'{key.partition(':')[0]}' is not xzgov")
    return Diagnostic(source, 0, 0, key, f"'{key}' is read by nothing: {where}, the program reads the xzgov: keys",
                      f"write xzgov:{meant}", "config")


def project_file(folder: Path) -> Mapping[str, Any]:
    """The top-level mapping of ``folder``'s ``Pulumi.yaml``; empty when there is none or it cannot be read
    (its readers fall back to their defaults: the project's name, no movable backend)."""
    try:
        data = yaml.safe_load((folder / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, Mapping) else {}


def _project_name(folder: Path) -> str:
    """The ``name`` of ``folder``'s Pulumi.yaml (the namespace Pulumi files a bare stack key under), else
    :data:`PROJECT`."""
    name = project_file(folder).get("name")
    return name if isinstance(name, str) and name else PROJECT


def settings_from_stack_file(path: Path) -> Settings:
    """:class:`Settings` from a Pulumi stack file (``Pulumi.<stack>.yaml``: its ``config:`` keys in the
    ``xzgov`` namespace) — what ``pulumi up`` on that stack would get, for the offline plan. Problems are
    located at their line in the file (exit 2); an encrypted (``secure:``) value cannot be read offline."""
    display = path.name
    document, problems = load_file(path, display, yaml11_scalars=True)  # values read as text below
    if document is None:
        raise UsageError(f"cannot read {display}", problems)
    # Values as Pulumi hands them to the program: every scalar as its text (YAML 1.1 would read an unquoted
    # 19:30 as a number of minutes and `no` as false; Pulumi passes "19:30" and "no"). The located document
    # only gives the lines.
    as_text = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    config = as_text.get("config") if isinstance(as_text, Mapping) else None
    if not isinstance(config, Mapping):
        raise UsageError(f"{display} has no config", [document.diagnostic(
            ("config",), "no config: mapping", "a stack file holds `config:` with xzgov:site and the other keys",
            code="config")])
    values: dict[str, Any] = {}
    project = _project_name(path.parent)
    misplaced = [replace(misplaced_problem(str(key), meant, display, project), line=line, column=column)
                 for key in config if (meant := misplaced_key(str(key), project)) is not None
                 for line, column in [document.position(("config", key), key=True)]]
    if misplaced:
        raise UsageError(f"{display}: {len(misplaced)} key(s) outside the xzgov: namespace", misplaced)
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if namespace != "xzgov":
            continue  # other providers' keys (kubernetes:…) are not ours to read
        if isinstance(value, Mapping) and "secure" in value:
            raise UsageError(f"{display}: xzgov:{name} is encrypted", [document.diagnostic(
                ("config", key), "an encrypted value cannot be read offline",
                "none of the xzgov: keys is a secret: store it as plain text (`pulumi config set`)", code="config",
                key=True)])
        values[name] = value
    other_numbers = [document.diagnostic(
        ("config", key, *where), f"'{text}' in a list or mapping is read by Pulumi as another number (YAML 1.1: "
        "0443 is octal 291, 0x1F is 31, 1_000 is 1000)", "write the number in decimal without a leading zero "
        "(e.g. 443), or quote it if it is text", code="config")
        for key, value in config.items() if str(key).startswith("xzgov:") and isinstance(value, Mapping | list)
        for where, text in _nested_scalars(value)
        if _PULUMI_OTHER_NUMBER.fullmatch(text) and _typed_at(document.data, ("config", key, *where))]
    if other_numbers:
        raise UsageError(f"{display}: {len(other_numbers)} number(s) Pulumi reads otherwise", other_numbers)
    try:
        return settings_from_config(values, display)
    except UsageError as error:
        raise located_in_stack_file(error, path) from None


def located_in_stack_file(error: UsageError, path: Path) -> UsageError:
    """``error`` with each problem about an ``xzgov:`` key located at that key's line in the stack file
    ``path`` — a problem of two keys (a start time with a deadline) at one the file sets; a problem found
    later than the settings (the plan: a zone quota too small for the scanner) goes through here too."""
    document, _ = load_file(path, path.name, yaml11_scalars=True)
    as_text = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) if document is not None else None
    config = as_text.get("config") if isinstance(as_text, Mapping) else None
    if document is None or not isinstance(config, Mapping):
        return error
    located = []
    for problem in error.diagnostics:
        # a problem of one entry of a list names it: xzgov:disasterDeclared[1] (located at the entry's line)
        entry = re.fullmatch(r"(xzgov:[A-Za-z]+)\[([0-9]+)\]", problem.path)
        named = [entry[1] if entry else problem.path, *re.findall(r"xzgov:[A-Za-z]+", problem.message)]
        key = next((k for k in named if k.startswith("xzgov:") and k in config), "")
        if not key:
            located.append(problem)
            continue
        at: tuple[str | int, ...] = ("config", key, int(entry[2])) if entry and key == entry[1] else ("config", key)
        line, column = document.position(at)
        located.append(replace(problem, file=path.name, path=key if at[-1] == key else problem.path,
                               line=line, column=column))
    return UsageError(error.message, located)

"""Typed stack settings: the only shape in which configuration reaches the program.

``stacks/__main__.py`` reads the Pulumi configuration (namespace ``xzgov``) into :class:`Settings`;
everything else receives a ``Settings`` and never touches ``pulumi.Config``. Defaults below are the
documented defaults of ``docs/stacks.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xzgov.core.errors import Diagnostic, UsageError

#: Kubernetes minor versions whose schemas the installed kubernetes-validate ships and that we accept.
SUPPORTED_KUBERNETES_VERSIONS = ("1.28", "1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36", "1.37")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
_MEMORY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti)$")
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")


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

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not _DNS_LABEL.match(self.site):
            problems.append(f"xzgov:site '{self.site}' is not a site id")
        if self.kubernetes_version not in SUPPORTED_KUBERNETES_VERSIONS:
            problems.append(f"xzgov:kubernetesVersion '{self.kubernetes_version}' is not one of "
                            f"{', '.join(SUPPORTED_KUBERNETES_VERSIONS)}")
        if not _DNS_LABEL.match(self.velero_namespace):
            problems.append(f"xzgov:veleroNamespace '{self.velero_namespace}' is not a DNS label")
        if not 0 <= self.dr_tenancy_min_tier <= 6:
            problems.append("xzgov:drTenancyMinTier must be a GB/T 20988 tier, 0..6")
        if not 0 <= self.quota_surge_percent <= 100:
            problems.append("xzgov:quotaSurgePercent must be 0..100")
        if not self.internet_ingress_ports or any(not 1 <= p <= 65535 for p in self.internet_ingress_ports):
            problems.append("xzgov:internetIngressPorts must list ports 1..65535")
        if not _CPU.match(self.zone_quota.cpu) or not _MEMORY.match(self.zone_quota.memory) \
                or self.zone_quota.pods < 0:
            problems.append("xzgov:zoneQuota needs cpu (e.g. \"16\"), memory (e.g. 32Gi) and pods ≥ 0")
        if not _DNS_LABEL.match(self.internet_gateway):
            problems.append(f"xzgov:internetGateway '{self.internet_gateway}' is not a system name")
        if not _REGISTRY.match(self.image_registry):
            problems.append(f"xzgov:imageRegistry '{self.image_registry}' is not a registry host[:port]")
        if problems:
            raise UsageError("invalid stack configuration",
                             [Diagnostic("Pulumi.<stack>.yaml", 0, 0, "config", problem,
                                         "fix the stack configuration (docs/stacks.md lists every key)",
                                         "config") for problem in problems])

    @property
    def pod_security_version(self) -> str:
        """The ``pod-security.kubernetes.io/*-version`` label value, e.g. ``v1.30``."""
        return f"v{self.kubernetes_version}"

    @property
    def schema_version(self) -> str:
        """The kubernetes-validate schema version, e.g. ``1.30.0``."""
        return f"{self.kubernetes_version}.0"

"""Label and annotation keys every rendered object shares (ASCII label values; Chinese in annotations)."""

from __future__ import annotations

import hashlib
import re

DOMAIN = "xzgov.io"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "xzgov"
SYSTEM = f"{DOMAIN}/system"
DEPARTMENT = f"{DOMAIN}/department"
LEVEL = f"{DOMAIN}/level"
CRYPTO_LEVEL = f"{DOMAIN}/crypto-level"
ZONE = f"{DOMAIN}/zone"
ZONE_KIND = f"{DOMAIN}/zone-kind"
TIER = f"{DOMAIN}/tier"
SITE = f"{DOMAIN}/site"
HOME_SITE = f"{DOMAIN}/home-site"
INTERNET_FACING = f"{DOMAIN}/internet-facing"
DR_TIER = f"{DOMAIN}/dr-tier"
DR_REPLICA = f"{DOMAIN}/dr-replica"
SEGMENT = f"{DOMAIN}/segment"
COMPONENT = f"{DOMAIN}/component"
#: the label the API server sets on every namespace (immutable): the selector for one namespace
NAMESPACE_NAME = "kubernetes.io/metadata.name"

# annotations
TITLE = f"{DOMAIN}/title"
DEPARTMENT_NAME = f"{DOMAIN}/department-name"
ZONE_NAME = f"{DOMAIN}/zone-name"
TIER_NAME = f"{DOMAIN}/tier-name"
SOURCE = f"{DOMAIN}/source"
PURPOSE = f"{DOMAIN}/purpose"
#: on each part of a policy split in parts (``stacks.render.tenant``): the first part's name
PARTS_OF = f"{DOMAIN}/parts-of"
#: on a site-entry Service: the zone's range (region.yaml ``entry_cidrs``) the cloud load balancer allocates from
ADDRESS_RANGE = f"{DOMAIN}/address-range"
RPO_MINUTES = f"{DOMAIN}/rpo-minutes"
RPO_MET = f"{DOMAIN}/rpo-met"
BACKUP_INTERVAL = f"{DOMAIN}/backup-interval-minutes"
SCHEDULE_SOURCE = f"{DOMAIN}/schedule-source"
MANIFEST_SCHEDULE = f"{DOMAIN}/manifest-backup-schedule"
RETENTION_DAYS = f"{DOMAIN}/retention-days"

POD_SECURITY = "pod-security.kubernetes.io"

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def exact_name(*parts: str, limit: int = 63) -> str:
    """:func:`dns_name`, with 8 hex digits of the parts' SHA-256 added when the name had to change them (upper
    case, '_', Chinese): two directory groups ``ybj-ops`` and ``ybj_ops`` got one RoleBinding name."""
    name = dns_name(*parts, limit=limit)
    if name == "-".join(parts):
        return name
    return dns_name(*parts, hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8], limit=limit)


def dns_name(*parts: str, limit: int = 63) -> str:
    """Join ``parts`` into an RFC 1123 label (lower case, ``-`` separated) of at most ``limit`` characters. A longer
    one keeps its head and ends in 8 hex digits of its SHA-256: two names that differ only past the limit (two
    workloads' 63-character Services in one namespace) stay two names — cut, they became one object."""
    text = _NOT_DNS.sub("-", "-".join(parts).lower()).strip("-")
    if len(text) <= limit:
        return text or "x"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{text[:limit - 9].rstrip('-')}-{digest}"

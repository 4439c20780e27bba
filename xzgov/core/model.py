"""The typed register: one model that stacks, inventories and compliance checks all read.

Instances are built only by :mod:`xzgov.core.register` from validated manifests, with the level-derived
defaults (documented in ``xzgov/core/schemas/system.schema.json``) already applied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Tier = Literal["自治区", "地市", "县区", "乡镇"]
#: ASCII slugs of the tiers for group and label names.
TIER_SLUGS: Mapping[str, str] = MappingProxyType(
    {"自治区": "region", "地市": "prefecture", "县区": "county", "乡镇": "township"}
)
PREFECTURE_SLUGS: Mapping[str, str] = MappingProxyType(
    {"拉萨": "lhasa", "日喀则": "shigatse", "昌都": "chamdo", "林芝": "nyingchi", "山南": "shannan",
     "那曲": "nagqu", "阿里": "ngari"}
)
#: Factors that are cryptographic techniques (GB/T 22239 8.1.4.1.d, GB/T 39786 应用身份鉴别).
CRYPTOGRAPHIC_FACTORS = frozenset({"sm2-certificate", "ukey"})
#: Level-derived defaults (the schema documents the same values).
DEFAULT_BACKUP_RETENTION_DAYS: Mapping[int, int] = MappingProxyType({1: 7, 2: 30, 3: 90, 4: 180})
DEFAULT_DR_TIER: Mapping[int, int] = MappingProxyType({1: 0, 2: 2, 3: 3, 4: 4})
DEFAULT_AUDIT_RETENTION_DAYS = 180


def default_replicas(level: int) -> int:
    return 2 if level >= 3 else 1


# ----------------------------------------------------------------------------------------------- region


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    lead: bool = False
    groups: tuple[str, ...] = ()


#: Kinds of boundary device a zone may declare in front of it (region.yaml ``zones[].boundary_devices``).
BOUNDARY_DEVICE_KINDS = ("firewall", "waf", "ips", "ids", "anti-ddos", "av-gateway", "anti-spam", "network-audit",
                         "nac", "traffic-analysis", "vpn")


@dataclass(frozen=True)
class BoundaryDevice:
    """A security device at a zone's boundary (WAF, IPS, anti-DDoS …), declared per zone in region.yaml."""

    id: str
    kind: str
    name: str
    #: region log server its records go to (``None``: kept on the device only)
    logs_to: str | None = None
    #: raises alerts on serious events (攻击告警)
    alerting: bool = False
    #: how often its signatures / rules are updated automatically (hours; ``None`` when it has none)
    signature_update_hours: int | None = None
    #: what each of its audit records carries (``timestamp``, ``user``, ``event_type``, ``outcome`` …; region.yaml)
    record_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    kind: str
    cidrs: Mapping[str, ipaddress.IPv4Network]
    reachable_from: tuple[str, ...] = ()
    boundary_devices: tuple[BoundaryDevice, ...] = ()
    #: per site, inside the zone's network there: the addresses the cloud load balancer gives the zone's
    #: cross-site entry Services (跨站入口) — where a caller outside the site's cluster reaches the zone's pods
    entry_cidrs: Mapping[str, ipaddress.IPv4Network] = field(default_factory=dict)
    #: per site, inside the zone's network there: the addresses the zone's pods leave the site's cluster from
    #: (出站地址: the egress gateway's or the nodes' source NAT) — what a host or another site's cluster sees
    egress_cidrs: Mapping[str, ipaddress.IPv4Network] = field(default_factory=dict)

    def cidr(self, site: str) -> ipaddress.IPv4Network | None:
        return self.cidrs.get(site)

    def entry(self, site: str) -> ipaddress.IPv4Network | None:
        """Where callers from outside the site's cluster reach the zone's pods (``None``: not declared)."""
        return self.entry_cidrs.get(site)

    def egress(self, site: str) -> ipaddress.IPv4Network | None:
        """The source addresses of the zone's pods outside the site's cluster (``None``: not declared)."""
        return self.egress_cidrs.get(site)


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    role: Literal["primary", "dr"]
    backup_bucket: str = ""
    object_store_url: str = ""
    #: addresses of the object store's endpoints: hosts that back up here need an egress flow to them
    object_store_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SharedService:
    id: str
    name: str
    provider: str
    port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class LogServer:
    id: str
    host: str
    port: int
    protocol: str = "tcp+tls"
    #: the DNS name of the centre's certificate the senders check (``tls_name``); empty: not declared
    tls_name: str = ""


@dataclass(frozen=True)
class DnfRepo:
    """A dnf repository on the region's package mirror (``baseurl`` may use dnf's ``$basearch``)."""

    baseurl: str
    gpgkey: str


@dataclass(frozen=True)
class TimeUpstream:
    """An upstream server of the region's time sources (region.yaml ``spec.time_upstream``): only the time-source
    hosts synchronise to it, so only their firewalls open NTP (and NTS-KE, tcp 4460, for ``nts``) to ``networks``.
    A ``reference_clock`` is the region's own BeiDou/GPS time server: it may sit inside a zone (it follows no host
    of the region), and no system's host may take its addresses."""

    server: str
    networks: tuple[ipaddress.IPv4Network, ...]
    nts: bool = False
    reference_clock: bool = False


@dataclass(frozen=True)
class PackageMirror:
    """The region's mirror of the distributions' security updates (region.yaml ``spec.package_mirrors``): the
    hosts of ``sites`` take their updates from it, so their firewalls allow it (``cidrs``, the URLs' ports).
    ``{version}`` in a URL stands for the host's OS version (``spec.hosts[].os.version``)."""

    id: str
    name: str
    sites: tuple[str, ...]
    cidrs: tuple[str, ...]
    #: the Debian security archive (``deb.debian.org/debian-security`` mirrored); empty: none
    debian_security: str = ""
    #: OS family (openeuler, kylin) → its update repository
    dnf: Mapping[str, DnfRepo] = field(default_factory=dict)
    #: the ClamAV signature mirror (freshclam ``PrivateMirror``, roles/anti_malware: ``xzgov_malware_mirror``);
    #: empty: none — freshclam stays off and the hosts keep only the locally built signatures
    clamav: str = ""

    def urls(self, os_family: str, os_version: str) -> dict[str, str]:
        """What a host of ``os_family`` reads from the mirror: ``debian_security`` or dnf ``baseurl``/``gpgkey``."""
        if os_family == "debian":
            found = {"debian_security": self.debian_security} if self.debian_security else {}
        elif os_family in self.dnf:
            repo = self.dnf[os_family]
            found = {"baseurl": repo.baseurl, "gpgkey": repo.gpgkey}
        else:
            found = {}
        return {key: url.replace("{version}", os_version) for key, url in found.items()}


@dataclass(frozen=True)
class Region:
    name: str
    title: str
    departments: Mapping[str, Department]
    zones: Mapping[str, Zone]
    sites: Mapping[str, Site]
    shared_services: Mapping[str, SharedService]
    time_sources: tuple[str, ...]
    log_servers: Mapping[str, LogServer]
    operator_user: str
    operator_groups: tuple[str, ...]
    source: str = "region.yaml"
    #: the region's DNS resolvers (static addresses; every host may query them: udp/tcp 53)
    name_servers: tuple[str, ...] = ()
    #: the region's package mirrors by id (``spec.package_mirrors``)
    package_mirrors: Mapping[str, PackageMirror] = field(default_factory=dict)
    #: per site, the monitoring platform's address ranges (``spec.monitoring_cidrs``, inside the
    #: security-management zone's network there): the sources of monitoring
    monitoring_cidrs: Mapping[str, tuple[ipaddress.IPv4Network, ...]] = field(default_factory=dict)
    #: the hosts' management SSH port (``spec.operators.ssh_port``); ``None``: not set, 22
    ssh_port: int | None = None
    #: the time sources' upstream servers (``spec.time_upstream``); none: they serve their local clock
    time_upstream: tuple[TimeUpstream, ...] = ()

    @property
    def management_ssh_port(self) -> int:
        """The port administrators reach every host on through the bastion (22 unless region.yaml moves it)."""
        return self.ssh_port if self.ssh_port is not None else 22

    @property
    def platform_departments(self) -> tuple[str, ...]:
        """The departments that operate the cloud platform: those holding one of the operator groups
        (``spec.operators.groups``). Only they sign the platform's assessment record (a platform attestation
        set), which every tenant system inherits."""
        operators = set(self.operator_groups)
        return tuple(d.id for d in self.departments.values() if operators.intersection(d.groups))

    @property
    def primary_site(self) -> Site:
        return next(site for site in self.sites.values() if site.role == "primary")

    @property
    def dr_sites(self) -> tuple[Site, ...]:
        return tuple(site for site in self.sites.values() if site.role == "dr")

    def zones_of_kind(self, kind: str) -> tuple[Zone, ...]:
        return tuple(zone for zone in self.zones.values() if zone.kind == kind)

    def monitors(self, site_id: str) -> tuple[ipaddress.IPv4Network, ...]:
        """Where monitoring of the site's applications comes from: the site's declared monitoring ranges, else
        the security-management zones' networks there (a region that names no monitoring platform)."""
        declared = self.monitoring_cidrs.get(site_id)
        if declared:
            return declared
        networks = (zone.cidr(site_id) for zone in self.zones_of_kind("security-management"))
        return tuple(network for network in networks if network is not None)

    def package_mirror(self, site_id: str) -> PackageMirror | None:
        """The mirror the hosts of ``site_id`` update from (``None``: the region names none for the site)."""
        return next((mirror for mirror in self.package_mirrors.values() if site_id in mirror.sites), None)

    def backup_site(self, site_id: str) -> Site:
        """Where a site's backups go (:func:`backup_target`)."""
        return backup_target(self.sites, site_id)


def backup_target(sites: Mapping[str, Site], site_id: str) -> Site:
    """Where a site's backups go: the primary's to the first DR site, a DR site's to the primary (the register
    checks these targets before the Region exists, so the rule takes the sites alone)."""
    site = sites[site_id]
    if site.role == "primary":
        return next((other for other in sites.values() if other.role == "dr"), site)
    return next(other for other in sites.values() if other.role == "primary")


# ----------------------------------------------------------------------------------------------- system


@dataclass(frozen=True)
class Owner:
    department: str
    role: str
    contact: str


@dataclass(frozen=True)
class Locality:
    prefecture: str | None = None
    county: str | None = None
    township: str | None = None


@dataclass(frozen=True)
class CryptoLevelDecision:
    """Why the 密评 level differs from the 等保 level: the approved 密码应用方案 that decided it
    (``spec.classification.crypto_level_decision``)."""

    scheme: str  #: the 密码应用方案 document id
    reason: str
    approver_name: str
    approver_role: str
    approved: str  #: ISO date of the approval
    #: how the scheme was confirmed, e.g. 密评机构 / 专家评审 (optional)
    reviewed_by: str = ""


@dataclass(frozen=True)
class Classification:
    level: int
    crypto_level: int
    data_class: str
    personal_information: bool
    sensitive_personal_information: bool
    filing_number: str | None = None
    #: the day the filing was accepted (ISO date; ``None``: not recorded)
    filing_date: str | None = None
    #: the approved 密码应用方案 decision when ``crypto_level`` differs from ``level`` (``None``: none recorded)
    crypto_level_decision: CryptoLevelDecision | None = None
    #: the 2025 high-risk guide's conditions as the competent authority decided them
    #: (``spec.classification.high_risk_conditions``; ``None``: not decided in the manifest) and the decision's basis
    continuity_high: bool | None = None
    key_industry: bool | None = None
    conditions_basis: str = ""


#: How a port may be reached besides a declared inbound flow (``ports[].exposure``): ``internal`` — only the
#: system's own workloads and hosts; ``public`` — from the internet through the cloud load balancer (a system
#: in an internet-access zone). ``None``: a declared inbound flow must reach it (:mod:`xzgov.core.ports`).
Exposure = Literal["internal", "public"]


@dataclass(frozen=True)
class Port:
    port: int
    protocol: str = "TCP"
    name: str | None = None
    exposure: Exposure | None = None


@dataclass(frozen=True)
class Resources:
    cpu: str
    memory: str


@dataclass(frozen=True)
class ImageProvenance:
    """Supply-chain record of a workload's image (``spec.workloads[].image_provenance``)."""

    #: ``verified`` (signature checked at admission), ``unverified`` (signed, not checked) or ``unsigned``
    signature: Literal["verified", "unverified", "unsigned"]
    signer: str = ""
    #: the last vulnerability scan of the image (ISO date; ``None``: never scanned)
    last_scan: str | None = None
    critical: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class Workload:
    name: str
    image: str
    ports: tuple[Port, ...]
    replicas: int
    requests: Resources
    limits: Resources
    storage_size: str | None = None
    storage_class: str | None = None
    #: signature and vulnerability-scan record of the image (``None``: not declared)
    image_provenance: ImageProvenance | None = None


#: what a host keeps (``spec.hosts[].data``) → the backup job that takes it to the other site
#: (stacks/render/hostdata.py renders the jobs, xzgov.core.inventory the firewall flow they need)
HOST_DATA_METHODS: dict[str, Literal["pgbackrest", "restic"]] = {"postgresql": "pgbackrest", "files": "restic"}
#: directories a ``files`` backup takes when the manifest names none (``roles/host_backup``'s default)
DEFAULT_DATA_PATHS = ("/srv", "/var/lib")
#: what a security-management service keeps, always in its host's backup paths (whatever ``data_paths`` says):
#: the log centre's stored logs (``roles/log_centre`` ``log_centre_storage``) and its seal key, TLS material and
#: sender table (``/etc/xzgov-logcentre``, ``log_centre_seal_key``'s directory); the directory's database and
#: its ``cn=config`` (``roles/directory``, Debian's slapd). A time source keeps nothing to restore (chrony's
#: drift file is rebuilt). tests/roles/test_host_backup_paths.py checks these against the roles' defaults.
ROLE_DATA_PATHS: dict[str, tuple[str, ...]] = {
    "log-centre": ("/var/log/xzgov-centre", "/etc/xzgov-logcentre"),
    "directory": ("/var/lib/ldap", "/etc/ldap/slapd.d"),
    "time-source": (),
}


def host_backup_paths(data_paths: tuple[str, ...], role: str | None) -> tuple[str, ...]:
    """The directories a ``files`` backup of a host takes: its declared ``data_paths`` (none declared:
    :data:`DEFAULT_DATA_PATHS`) and, for a security-management host, its role's :data:`ROLE_DATA_PATHS`."""
    paths = tuple(data_paths) or DEFAULT_DATA_PATHS
    return paths + tuple(p for p in ROLE_DATA_PATHS.get(role or "", ()) if p not in paths)


@dataclass(frozen=True)
class Host:
    hostname: str
    address: ipaddress.IPv4Address
    os_family: str
    os_version: str
    purpose: str
    #: ``postgresql`` | ``files`` | ``none`` — declared, never guessed from the purpose
    data: Literal["postgresql", "files", "none"]
    #: directories a ``files`` backup takes (empty: :data:`DEFAULT_DATA_PATHS`)
    data_paths: tuple[str, ...] = ()
    #: security-management service the host runs (``log-centre`` | ``time-source`` | ``directory``),
    #: declared, never guessed from the purpose; ``None``: an ordinary hardened host
    role: Literal["log-centre", "time-source", "directory", "bastion"] | None = None
    #: the service ports it listens on (``spec.hosts[].ports``; management SSH through the bastion excepted)
    ports: tuple[Port, ...] = ()

    def __post_init__(self) -> None:
        # a security-management host's role storage is always backed up (the plan's restic paths and the DR
        # plan read ``data_paths``): declared paths (or the default) plus the role's, for a ``files`` host
        if self.data == "files" and ROLE_DATA_PATHS.get(self.role or ""):
            object.__setattr__(self, "data_paths", host_backup_paths(self.data_paths, self.role))


def host_data_method(host: Host) -> Literal["pgbackrest", "restic"] | None:
    """``pgbackrest`` / ``restic`` for a host that keeps data, ``None`` for one that keeps none."""
    return HOST_DATA_METHODS.get(host.data)


#: (os family, os version) pairs ``roles/host_backup`` supports (its ``meta/main.yml``: Debian bookworm)
HOST_BACKUP_PLATFORMS: frozenset[tuple[str, str]] = frozenset({("debian", "12")})


def host_backup_supported(host: Host) -> bool:
    """Whether ``roles/host_backup`` can back up ``host`` (its OS family and version)."""
    return (host.os_family, host.os_version) in HOST_BACKUP_PLATFORMS


def unbacked_data_hosts(system: System) -> list[Host]:
    """The hosts of ``system`` that keep data (``spec.hosts[].data``) but get no off-site backup job: the role
    does not support their OS. Their data has no copy at the other site (the plan's rpo-met is "false", the
    scan's XZ-MAN-OFFSITE-BACKUP fails)."""
    return [host for host in system.hosts if host_data_method(host) is not None and not host_backup_supported(host)]


@dataclass(frozen=True)
class FlowTarget:
    kind: Literal["system", "service", "zone"]
    name: str


@dataclass(frozen=True)
class Flow:
    to: FlowTarget
    protocol: str
    port: int
    purpose: str


@dataclass(frozen=True)
class Continuity:
    rpo_minutes: int
    rto_minutes: int
    backup_schedule: str
    backup_retention_days: int
    dr_tier: int
    #: continuous replication of the data (``synchronous`` meets an RPO of 0; ``None``: backups only)
    replication: str | None = None


@dataclass(frozen=True)
class CryptoMechanism:
    purpose: str
    algorithms: tuple[str, ...]
    product: str | None = None
    description: str = ""


@dataclass(frozen=True)
class CryptoExemption:
    """A 宜/可 密评 unit the approved 密码应用方案 declares not applicable, with its justification."""

    purpose: str
    reason: str


@dataclass(frozen=True)
class CryptoAspect:
    mechanisms: tuple[CryptoMechanism, ...] = ()
    key_storage: str | None = None
    notes: str = ""
    #: 宜/可 units of this aspect declared not applicable (``spec.crypto.<aspect>.not_applicable``)
    exemptions: tuple[CryptoExemption, ...] = ()

    def for_purpose(self, purpose: str) -> tuple[CryptoMechanism, ...]:
        return tuple(m for m in self.mechanisms if m.purpose == purpose)


#: The aspect a plan leaves out (:meth:`CryptoPlan.aspect`): frozen and empty, so one serves every plan (the
#: default was built on every call, found or not: facts ask for each aspect of every system).
_NO_ASPECT = CryptoAspect()


@dataclass(frozen=True)
class CryptoProduct:
    id: str
    name: str
    certificate: str
    module_level: int


CRYPTO_ASPECTS = ("physical", "network", "device", "application")


@dataclass(frozen=True)
class CryptoChannel:
    """One secure channel with its explicit cipher suites and server certificate (``spec.crypto.channels``)."""

    name: str
    protocol: str
    cipher_suites: tuple[str, ...]
    certificate_algorithm: str | None = None
    certificate_key_bits: int | None = None
    #: the certificate's expiry (ISO date; ``None``: not recorded)
    certificate_not_after: str | None = None


@dataclass(frozen=True)
class CryptoPlan:
    """密码应用方案: one :class:`CryptoAspect` per technical aspect and the products used."""

    aspects: Mapping[str, CryptoAspect]
    products: Mapping[str, CryptoProduct]
    channels: tuple[CryptoChannel, ...] = ()

    def aspect(self, name: str) -> CryptoAspect:
        """The plan's aspect ``name``; an empty one when the plan leaves it out."""
        found = self.aspects.get(name)
        return found if found is not None else _NO_ASPECT


@dataclass(frozen=True)
class Authentication:
    factors: tuple[str, ...]
    admin_factors: tuple[str, ...]

    @staticmethod
    def is_cryptographic(factor: str) -> bool:
        return factor in CRYPTOGRAPHIC_FACTORS


@dataclass(frozen=True)
class Audit:
    destination: str
    retention_days: int


@dataclass(frozen=True)
class Lifecycle:
    status: str
    change_ticket: str
    requested_by: str
    #: the day the system went (or goes) live (ISO date; ``None``: not recorded) — filing is due 30 days later
    go_live: str | None = None


# ------------------------------------------------------------------------------------ security posture
# ``spec.security``: what an assessor asks about administration, operations and data (every part optional;
# an absent part is an empty declaration the rules report as missing, never a default that passes).


@dataclass(frozen=True)
class AdminAccount:
    """One administrator account (三员分立: system / audit / security administrators, or an operator)."""

    account: str
    role: Literal["system", "audit", "security", "operator"]
    holder: str
    status: Literal["active", "disabled"] = "active"
    shared: bool = False
    #: held by someone outside the owner (vendor, outsourced operations): needs ``valid_until``
    external: bool = False
    valid_until: str | None = None


@dataclass(frozen=True)
class Administration:
    accounts: tuple[AdminAccount, ...] = ()
    #: the post or unit that approves account creation and deletion (8.1.10.6.b)
    account_manager: str = ""
    #: how administrators reach the system: ``bastion`` (堡垒机, commands audited) or ``direct``
    access_via: str = ""
    #: management terminal and platform authenticate each other (cloud 8.2.4.1.a)
    mutual_authentication: bool = False
    #: how often the accounts are reviewed against the personnel roster (days), and the last review (ISO date)
    review_cadence_days: int | None = None
    last_review: str | None = None


@dataclass(frozen=True)
class Operations:
    patch_cadence_days: int | None = None
    last_patched: str | None = None
    scan_cadence_days: int | None = None
    last_vulnerability_scan: str | None = None
    open_high_vulnerabilities: int | None = None
    #: ``edr`` | ``antivirus`` | ``trusted-verification`` (主动免疫可信验证) | ``""`` (none)
    anti_malware: str = ""
    anti_malware_central: bool = False
    signature_update_hours: int | None = None
    signatures_updated: str | None = None
    hids: bool = False
    hids_alerting: bool = False
    #: the central monitoring / SOC platform the system is enrolled in ("" = none)
    monitoring_platform: str = ""
    monitors_resources: bool = False
    monitors_security_events: bool = False
    #: detects VMs / pods created or restarted outside the register (cloud 8.2.4.3.b)
    detects_unregistered_assets: bool = False
    #: the post that analyses logs and alerts (8.1.10.6.f)
    log_analyst: str = ""


@dataclass(frozen=True)
class ThirdPartyService:
    name: str
    location: Literal["境内", "境外"]
    purpose: str
    #: 数据出境安全评估 reference (required when the location is 境外)
    export_assessment: str = ""


@dataclass(frozen=True)
class DataProtection:
    #: where the system's data is stored: ``境内`` (mainland China) or ``境外``
    residency: str = ""
    third_parties: tuple[ThirdPartyService, ...] = ()
    #: ``hsm`` | ``crypto-service`` | ``kms`` | ``software`` | ``plaintext`` (``""``: not declared)
    key_storage: str = ""
    customer_managed_keys: bool = False
    key_rotation_days: int | None = None
    backups_encrypted: bool = False
    snapshots_encrypted: bool = False
    #: the owner keeps its own copy of the business data outside the platform's backups (cloud 8.2.4.6.a)
    local_backup: bool = False
    restore_drill_cadence_days: int | None = None
    last_restore_drill: str | None = None


@dataclass(frozen=True)
class Development:
    """Self-developed software: separate environments, security testing, controlled repository."""

    self_developed: bool = False
    #: the separate development / test environment (tenant, zone or site; ``""``: none)
    environment: str = ""
    production_data_in_test: bool = False
    security_testing_before_release: bool = False
    #: the pre-release test report covers cryptography (level 3+)
    security_testing_includes_crypto: bool = False
    malware_scan_before_install: bool = False
    repository_approval: bool = False
    repository_version_control: bool = False


@dataclass(frozen=True)
class Maintenance:
    """Outsourced operations and remote maintenance channels."""

    outsourced: bool = False
    provider: str = ""
    security_agreement: bool = False
    remote_allowed: bool = False
    remote_approval: bool = False
    remote_audited: bool = False
    remote_closed_after: bool = False


@dataclass(frozen=True)
class SecurityPosture:
    administration: Administration = field(default_factory=Administration)
    operations: Operations = field(default_factory=Operations)
    data: DataProtection = field(default_factory=DataProtection)
    development: Development = field(default_factory=Development)
    maintenance: Maintenance = field(default_factory=Maintenance)


# ------------------------------------------------------------------------------------ assessments
# ``spec.assessments``: the last 等级测评 and 密评 of the system (dates are judged against the scan's as-of day).

#: Conclusions an assessment report may state (等级测评 and 密评 alike).
ASSESSMENT_CONCLUSIONS = ("符合", "基本符合", "不符合")
#: Conclusions that say an assessment failed: 不符合, or 差 in the older report template a platform record may
#: still carry (GB/T 28448; the legacy grade).
FAILED_CONCLUSIONS = frozenset({"不符合", "差"})


@dataclass(frozen=True)
class AssessmentRecord:
    """One assessment report: 等级测评 (GB/T 28448) or 商用密码应用安全性评估 (GB/T 39786)."""

    date: str  #: ISO date of the report
    agency: str  #: the assessment body (测评机构 / 密评机构)
    conclusion: Literal["符合", "基本符合", "不符合"]
    score: float | None = None  #: 0–100 (``None``: not stated)
    report: str = ""  #: the report number


#: What a data set may hold (``spec.data_sets[].holds``); all but 一般数据 need protection at rest.
DATA_KINDS = ("个人信息", "敏感个人信息", "重要数据", "核心数据", "一般数据")


@dataclass(frozen=True)
class DataProtectionMechanism:
    algorithm: str
    product: str | None = None
    #: ``fields`` (field-level), ``database`` (TDE) or ``volume`` (disk)
    scope: str = ""


@dataclass(frozen=True)
class DataSet:
    """One data set the system stores (``spec.data_sets``): what it holds, where, and how it is protected."""

    name: str
    holds: tuple[str, ...]
    #: the workload or host that stores it
    stored_in: str
    encryption: DataProtectionMechanism | None = None
    integrity: DataProtectionMechanism | None = None


@dataclass(frozen=True)
class ChangeManagement:
    """``spec.change_management``: how changes to the system are requested, approved and recorded."""

    #: the change-management procedure document (变更管理程序)
    procedure: str = ""
    #: the post that approves changes
    approver: str = ""
    #: every change updates the configuration record (this register is the CMDB) in the same change
    register_updated: bool = False
    #: a rollback plan accompanies each change
    rollback_plan: bool = False


@dataclass(frozen=True)
class Assessments:
    dengbao: AssessmentRecord | None = None
    miping: AssessmentRecord | None = None


MigrationState = Literal["on-cloud", "migrating", "exempt"]
#: Programme metrics (share of systems meeting them) and their Chinese names.
PROGRAMME_METRICS: Mapping[str, str] = MappingProxyType({
    "on-cloud": "上云", "catalogued": "编目", "aggregated": "归集", "connected": "打通 (共享交换)",
    "filed": "等保备案", "crypto-passed": "密评通过",
})


@dataclass(frozen=True)
class SystemProgramme:
    """What a system reports to the 2023–2025 programme (its manifest's ``spec.programme``)."""

    migration: MigrationState
    #: on-cloud: since when; migrating: the planned completion date (ISO ``YYYY-MM-DD``)
    migration_date: str | None = None
    exempt_reason: str = ""
    tasks: tuple[str, ...] = ()
    catalogued: bool = False
    aggregated: bool = False
    connected: bool = False


@dataclass(frozen=True)
class Milestone:
    by: str  #: ISO date
    target: float  #: per cent


@dataclass(frozen=True)
class ProgrammeTask:
    """One task of the plan the register tracks: share of systems meeting ``metric`` ≥ ``target`` % by ``deadline``."""

    id: str
    title: str
    lead: tuple[str, ...]
    deadline: str  #: ISO date
    metric: str
    target: float
    scope: Literal["all", "serving"] = "all"
    tiers: tuple[str, ...] = ()
    milestones: tuple[Milestone, ...] = ()


@dataclass(frozen=True)
class Programme:
    """The plan (region.yaml ``spec.programme``): its tasks and the shared data-exchange platform system."""

    name: str
    title: str
    exchange_platform: str
    tasks: Mapping[str, ProgrammeTask]
    period: str = ""
    source: str = "region.yaml"


#: Namespaces of a cluster a system may not take (a system's tenancy is the namespace named after it): Kubernetes'
#: own (``default``; ``kube-`` names are the cluster's) and the platform's defaults — the backup system (Velero) and
#: the compliance scanner. A tenancy there would put a default-deny policy and a department's Role over them.
RESERVED_NAMESPACES: Mapping[str, str] = MappingProxyType({
    "default": "Kubernetes' default namespace", "velero": "the backup system's namespace (Velero)",
    "xzgov-scanner": "the compliance scanner's namespace"})


def reserved_name(name: str, zones: Iterable[str] = ()) -> str | None:
    """Why ``name`` cannot name a system (its namespace belongs to someone else), or ``None``: a namespace of
    :data:`RESERVED_NAMESPACES`, a ``kube-`` name (Kubernetes reserves the prefix for the cluster) or the
    namespace of a segment (``zone-<zone id>``, one per zone of ``zones``)."""
    if name in RESERVED_NAMESPACES:
        return RESERVED_NAMESPACES[name]
    if name.startswith("kube-"):
        return "names beginning with 'kube-' are Kubernetes' own namespaces"
    if name.startswith("zone-") and name[len("zone-"):] in set(zones):
        return f"the namespace of the '{name[len('zone-'):]}' segment"
    return None


@dataclass(frozen=True)
class System:
    """One validated information system (信息系统)."""

    name: str
    department: str
    title: str
    labels: Mapping[str, str]
    owner: Owner
    tier: str
    locality: Locality
    classification: Classification
    zone: str
    site: str
    internet_facing: bool
    endpoints: tuple[str, ...]
    workloads: tuple[Workload, ...]
    hosts: tuple[Host, ...]
    flows: tuple[Flow, ...]
    services: tuple[str, ...]
    continuity: Continuity
    crypto: CryptoPlan
    authentication: Authentication
    audit: Audit
    lifecycle: Lifecycle
    secrets: Mapping[str, str] = field(default_factory=dict)
    #: where it came from: file path relative to the register root
    source: str = ""
    #: 三年行动 tracking (``spec.programme``); ``None`` when the manifest does not declare it
    programme: SystemProgramme | None = None
    #: administration, operations and data protection (``spec.security``)
    security: SecurityPosture = field(default_factory=SecurityPosture)
    #: the last 等级测评 and 密评 (``spec.assessments``; empty when none is recorded)
    assessments: Assessments = field(default_factory=Assessments)
    #: the data sets it stores and their protection at rest (``spec.data_sets``)
    data_sets: tuple[DataSet, ...] = ()
    #: ``spec.change_management`` (``None``: not declared)
    change_management: ChangeManagement | None = None

    @property
    def level(self) -> int:
        return self.classification.level

    @property
    def crypto_level(self) -> int:
        return self.classification.crypto_level

    @property
    def tier_slug(self) -> str:
        return TIER_SLUGS[self.tier]

    @property
    def namespace(self) -> str:
        """The Kubernetes namespace of the system's tenancy."""
        return self.name


@dataclass(frozen=True)
class Register:
    """The region and every registered system, indexed by name."""

    region: Region
    systems: Mapping[str, System]
    root: str = "."
    #: the plan's tasks (region.yaml ``spec.programme``); ``None`` when the region declares none
    programme: Programme | None = None

    def __iter__(self) -> Iterator[System]:
        return iter(self.systems.values())

    def __len__(self) -> int:
        return len(self.systems)

    def by_department(self, department: str) -> tuple[System, ...]:
        return tuple(s for s in self.systems.values() if s.department == department)

    def service_provider(self, service: str) -> System | None:
        shared = self.region.shared_services.get(service)
        return self.systems.get(shared.provider) if shared else None


@dataclass(frozen=True)
class FlowDestination:
    """Where a flow's ``to`` leads: the system that receives it (the system itself, or a shared service's
    provider), the shared service it goes through, and the zone it lands in (``None`` when unknown)."""

    system: System | None
    service: SharedService | None
    zone: str | None


def resolve_flow_target(register: Register, target: FlowTarget) -> FlowDestination:
    """The one resolution of a flow target (inventory firewall rules, network policies and manifest
    facts must agree on where a flow goes)."""
    if target.kind == "zone":
        return FlowDestination(None, None, target.name)
    service = register.region.shared_services.get(target.name) if target.kind == "service" else None
    name = service.provider if service is not None else target.name if target.kind == "system" else None
    system = register.systems.get(name) if name is not None else None
    return FlowDestination(system, service, system.zone if system is not None else None)

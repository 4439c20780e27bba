"""The facts contract: what an extractor produces and a rule may read.

Facts are produced per *enforcement point* (:class:`Point`) by the extractors in this package:

* ``manifest``  — the register (:func:`xzgov.facts.manifest.manifest_facts`)
* ``resources`` — planned Kubernetes resources (:func:`xzgov.facts.resources.resource_facts`)
* ``host``      — a live host over SSH (:func:`xzgov.facts.host.gather_host_facts`)

:data:`FACT_KEYS` is the vocabulary; :data:`POINT_FACTS` says which keys each point's extractor produces.
A rule (``policies``) runs at a point exactly when every fact key it names is present there.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

__all__ = ["FACT_KEYS", "POINT_FACTS", "Evidence", "Facts", "Point", "utc_now"]


class Point(enum.StrEnum):
    """Where facts come from (an enforcement point)."""

    MANIFEST = "manifest"
    RESOURCES = "resources"
    HOST = "host"


#: Every fact key a rule may name, with what it holds. Extractors produce these and nothing else.
FACT_KEYS: Mapping[str, str] = MappingProxyType({
    # ---- about the system (manifest point; resource and host extractors copy them when they know the system)
    "classification": "{level, crypto_level, data_class, personal_information, sensitive_personal_information, "
                      "filing_number, filing_date, crypto_level_decision: {scheme, reason, approver_name, "
                      "approver_role, approved, reviewed_by}|None}",
    "exposure": "{internet_facing, endpoints, zone, zone_kind, fronts: [internet-facing systems it proxies to], "
                "fronted_by: [systems in an internet-access zone with a flow to it], "
                "gateways: [the region's registered internet boundary facilities], wafs: [zone/device ids of WAF "
                "devices at the internet-access zones]}",
    "zone_paths": "{internet_access_zones: [...], reachable_from: [...zone ids...], inbound_from_internet: bool, "
                  "ingress_declared: bool}: how the internet can reach the system's zone",
    "flows": "[{to_kind, to, target_zone, protocol, port, purpose, declared_target: bool, reachable: bool}]",
    "authentication": "{factors: [...], admin_factors: [...], cryptographic: [...]}",
    "crypto_mechanisms": "[{aspect, purpose, algorithms: [...], product}]",
    "crypto_products": "[{id, name, certificate, module_level}]",
    "crypto_exemptions": "[{aspect, purpose, reason}] — 宜/可 units the 密码应用方案 declares not applicable",
    "crypto_channels": "[{name, protocol, cipher_suites: [...], certificate_algorithm, certificate_key_bits, "
                       "certificate_not_after}] — secure channels with explicit suites",
    "continuity": "{rpo_minutes, rto_minutes, backup_schedule, backup_retention_days, dr_tier}",
    "cloud_platform": "{record, level, assessed, conclusion} of the cloud platform's signed 等保 assessment record in "
                      "force (compliance/attestations, scope: platform), or null: none registered, or attestations "
                      "not used",
    "audit": "{destination, retention_days}",
    "service_usage": "[{service, flow_declared: bool, port}] — shared services the system uses",
    "inbound_ports": "{ports: [{kind: workload|host, owner, port, protocol, exposure: internal|public|None, "
                     "reached_by: [declared flows / region contracts]}], unlanded: [{source, via, port, protocol, "
                     "purpose, source_file}] (inbound flows arriving at no declared port), zone_kind} — "
                     "xzgov.core.ports",
    "crypto_requirements": "{unit control id with {C}: strength 应|宜|可|不适用} at the system's 密评 level",
    "management": "{management_zones: [...], system_zone, log_servers: [{id, host, port, protocol, "
                  "in_management_zone}], "
                  "time_sources: [{address, in_management_zone}]} — the region's security-management services",
    "lifecycle": "{status: planned|migrating|running|retiring|retired, change_ticket, requested_by, go_live}",
    "inventory": "{owner: {department, role, contact}, site, site_role, dr_sites: [...], zone_cidr, hosts: "
                 "[{hostname, address, os_family, os_version, purpose, data: postgresql|files|none}], "
                 "workloads: [{name, image, replicas, "
                 "ports, storage}]} — the system's assets and where they sit",
    "boundary": "{system_zone, internet_facing, mail_service: bool, zones: {zone id: {kind, devices: [{id, kind, "
                "name, logs_to, alerting, signature_update_hours}]}}, internet_access_zones: [...], log_servers: [...]}"
                " — boundary devices declared per zone in region.yaml",
    "administration": "{accounts: [{account, role, holder, status, shared, external, valid_until}], account_manager, "
                      "access_via, mutual_authentication, review_cadence_days, last_review}",
    "operations": "{patch_cadence_days, last_patched, scan_cadence_days, last_vulnerability_scan, "
                  "open_high_vulnerabilities, anti_malware, anti_malware_central, signature_update_hours, "
                  "signatures_updated, hids, hids_alerting, monitoring_platform, "
                  "monitors_resources, monitors_security_events, detects_unregistered_assets, log_analyst}",
    "data_protection": "{residency, third_parties: [{name, location, purpose, export_assessment}], key_storage, "
                       "customer_managed_keys, key_rotation_days, backups_encrypted, snapshots_encrypted, "
                       "local_backup, restore_drill_cadence_days, last_restore_drill, "
                       "aspect_key_storage: {aspect: storage}}",
    "development": "{self_developed, environment, production_data_in_test, security_testing_before_release, "
                   "security_testing_includes_crypto, malware_scan_before_install, repository_approval, "
                   "repository_version_control}",
    "maintenance": "{outsourced, provider, security_agreement, remote_allowed, remote_approval, remote_audited, "
                   "remote_closed_after}",
    "image_provenance": "[{workload, image, registry, signature: verified|unverified|unsigned|None (undeclared), "
                        "signer, last_scan, critical, high}] — spec.workloads[].image_provenance",
    "data_sets": "[{name, holds: [...], stored_in, encryption: {algorithm, product, scope}|None, integrity: "
                 "{...}|None}] — spec.data_sets",
    "change_management": "{procedure, approver, register_updated, rollback_plan} | None — spec.change_management",
    "assessments": "{dengbao: {date, agency, conclusion, score, report} | None, miping: {...} | None} — the last "
                   "等级测评 and 密评 (spec.assessments)",
    "as_of": "ISO date the facts describe (the scan's as-of day, `xzgov scan --as-of`): dates in other facts are "
             "judged against it",
    "thresholds": "optional overrides of xzgov.facts.thresholds.DEFAULTS (configuration, not a design fact)",
    # ---- shared between manifest and planned resources
    "workload_images": "[{workload, image}] — every container image of the subject",
    "backup_schedules": "[{name, schedule}] — cron schedules of backups",
    "rpo_minutes": "int — the recovery point objective the backups must meet",
    # ---- planned Kubernetes resources
    "namespaces": "[{name, labels}]",
    "network_policies": "[{name, namespace, pod_selector, policy_types, ingress: [...], egress: [...]}]",
    "resource_quotas": "[{name, namespace, hard}]",
    "limit_ranges": "[{name, namespace, limits}]",
    "pods": "[{name, kind, namespace, host_network, host_pid, host_ipc, containers: [{name, image, privileged, "
            "allow_privilege_escalation, run_as_non_root, capabilities_add, resources}]}]",
    # ---- live hosts
    "host": "{hostname, address, level, os_family, os_version, time_sources, log_servers, "
            "log_retention_days, management_cidrs, allowed_flows (xzgov_allowed_flows), ports (xzgov_ports: "
            "[{protocol, port, exposure, reached_by}] or None for an older inventory), platform_ports "
            "(xzgov_platform_ports: [{protocol, port, purpose}]), ssh_port, directory_uri (xzgov_directory_uri, '' "
            "when none), "
            "secmgmt_role (xzgov_secmgmt_role, '' when none), log_centre_retention_days "
            "(xzgov_log_centre_retention_days: the longest retention of the systems sending to a log centre)}",
    "sshd_effective_config": "{keyword (lower case): value} from `sshd -T`",
    "pam_faillock": "{configured: bool, deny, unlock_time, fail_interval, in_auth_stack: bool}",
    "password_policy": "{minlen, minclass, dcredit, ucredit, lcredit, ocredit, pass_max_days, pass_min_days, "
                       "pass_warn_age, pwquality_in_stack: bool, pwquality_installed: bool|None, "
                       "accounts_max_days: {account with a password: "
                       "maximum age in days or None (never expires)} | None (/etc/shadow not read), "
                       "empty_passwords: bool (pam_unix nullok in the auth stack)}",
    "shell_timeout": "{tmout: int|None, readonly: bool, source}",
    "audit_rules": "{auditd_active: bool, rules: [...lines...], enabled: auditctl -s enabled ('0' off, '1', '2' "
                   "locked, '' unknown)}",
    "audit_log_protection": "{log_dir_mode, log_file_modes: {...}, log_owner, auditd_conf: {...}}",
    "log_forwarding": "{daemon, active: bool, targets: [{host, port, protocol, tls: bool}]}",
    "time_sync": "{daemon, active: bool, servers: [...], synchronised: bool|None}",
    "services": "{enabled: [...unit names...], active: [...]}",
    "file_permissions": "{path: {mode, owner, group, exists}}",
    "sysctl": "{key: value}",
    "kernel_params": "{live: {key: value}, absent: [keys the running kernel lacks], configured: {key: value from "
                     "sysctl.d}, container: bool|None} — kernel-wide sysctls",
    "password_hashing": "{method, yescrypt_cost: int|None, sha_min_rounds: int|None, sha_max_rounds: int|None, "
                        "pam_method, pam_rounds: int|None, effective_method, effective_cost: int|None, "
                        "pam_reads_cost_factor: bool} — login.defs, the pam_unix line of the password stack and "
                        "whether the installed pam_unix reads YESCRYPT_COST_FACTOR (else its default cost 5)",
    "cron_permissions": "{paths: {path: {mode, owner, group, exists}}, allow: {allow file: [users]}}",
    "login_banner": "{path: carries the legal notice (bool)} — /etc/issue, /etc/issue.net",
    "security_updates": "{sources: [apt security source lines], installed: bool (unattended-upgrades), unattended: "
                        "bool, automatic_reboot: bool, reboot_time, pending: int|None (security updates), "
                        "timers: {apt timer: is-enabled state}}",
    "mandatory_access": "{lsm: bool|None (AppArmor in the kernel), parser: bool, profiles: {file: compiles|broken|"
                        "missing}, disabled: [...], loaded: {profile name: mode}, running: {daemon started by systemd: "
                        "its process's confinement, e.g. '/usr/sbin/sshd (enforce)' or 'unconfined'}}",
    "listening": "[{protocol, address, port, loopback: bool}] — sockets listening on the host (ss -tuln)",
    "packet_filter": "{available: bool (nft installed), tables: ['family name'], chains: [{family, table, name, hook: "
                     "input|forward|output, priority, policy, rules: [{handle, text, verdict, target, state: [ct "
                     "states]|None, state_negated, dport: bool, sport: bool, comment, via: jumped chain|None}], "
                     "terminal: {handle, text, verdict}|None (own last rule: unconditional drop/reject)}]} — "
                     "the live nftables base chains (nft -j list ruleset)",
    "anti_malware": "{scanner: bool, units: {unit: enabled state}, mirrors: [freshclam mirror lines], databases: "
                    "[{path, age_days, official: bool}], last_scan: {result, status, ran: bool}|None} — ClamAV",
    "file_integrity": "{installed: bool, databases: [{path, age_days}], units: {timer: enabled state}, last_check: "
                      "{result, status, ran: bool}|None, alert: bool, reports: [report_url]} — AIDE",
    "mounts": "{container: bool|None, live: {target: {fstype, options: [...]}}, fstab: {target: {source, fstype, "
              "options}}, groups: {gid: group name}} — /proc, /dev/shm, /tmp",
    "residual_info": "{container, swaps: [{name, type}], fstab_swaps: [...], crypttab: {name: key}, tmpfiles: "
                     "{path: {type, age}}, tmp_fstype, tmp_fstab_fstype} — swap and temporary data at boot",
    "kernel_cmdline": "{container: bool|None, live: {parameter: value}|None (/proc/cmdline), build_defaults: "
                      "{init_on_free|init_on_alloc: '1'|'0'}, grub: {parameter: value} (next boot)} — kernel "
                      "command line",
    "directory_client": "{sssd_active: bool, config: {mode, owner, group, path}|None, options: {sssd.conf key: "
                        "value} (never the reader's password), ca_present: bool, nss: {database: [sources]}, "
                        "pam_sss: bool, sudoers: {mode, owner, group, path}|None, sudo_rules: {group: [specs]}, "
                        "aliases: {Cmnd_Alias: [commands]}, sshd: {authorizedkeyscommand, "
                        "authorizedkeyscommanduser}} — enrolment in the operator directory (SSSD)",
    "log_centre": "{receiver: bool, sealer: bool, today, root, retention_days: int|None, timer: {enabled, active}, "
                  "last_run: {result, status, ran: bool}, public_key: bool, sources: {source: {logs, oldest, sealed "
                  "(date of the newest seal), lines, signature: valid|invalid|untrusted|malformed|no-key|None, "
                  "chain_matches: bool|None}}} — retention and daily sealing of the log centre (roles/log_centre)",
    "log_tls": "{ca_files: {path: {mode, owner, group}}, certs: {path: {mode, owner, group, parsed, subject, "
               "not_after, days_left, valid_now, issued_by: [CA files]}}, keys: {path: {mode, owner, group}}, "
               "missing: [{kind, path}]} — the TLS files rsyslog's configuration names (CAFile, CertFile, KeyFile)",
})


def utc_now() -> str:
    """The current time in ISO-8601 UTC (seconds): the ``gathered_at`` of new facts."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Evidence:
    """What was observed, where (file:line, resource or host:path) and when (ISO-8601 UTC)."""

    observed: str
    location: str
    at: str = ""

    def to_json(self) -> dict[str, str]:
        return {"observed": self.observed, "location": self.location, "at": self.at}


_new = object.__new__


@dataclass(frozen=True)
class Facts:
    """The facts about one subject at one enforcement point.

    ``values`` maps fact keys (:data:`FACT_KEYS`) to plain data; ``locations`` maps a fact key, or a
    dotted sub-path of it (``"flows.2"``, ``"sshd_effective_config.permitrootlogin"``), to where it
    was observed. ``subject`` is the system name (``system`` for the host point too); ``target``
    names the concrete thing (host name, namespace) when there is one.
    """

    subject: str
    point: Point
    values: Mapping[str, Any]
    locations: Mapping[str, str] = field(default_factory=dict)
    gathered_at: str = ""
    target: str = ""
    #: 等保 / 密评 levels of the subject, used to place ``{L}``/``{C}`` controls (else read from the
    #: ``classification`` fact when present).
    level: int | None = None
    crypto_level: int | None = None

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def where(self, key: str, *sub: str | int) -> str:
        """The most specific known location of ``key`` (and sub-path), falling back to its parents."""
        return self._where(key, sub)

    def _where(self, key: str, sub: tuple[str | int, ...]) -> str:
        locations = self.locations
        # A table that can answer the whole walk itself (the manifest extractor's: most findings of a clean
        # manifest are located at its file, without joining the sub-path) has ``locate(key, sub)``: the
        # location the walk below would find, or a false value when it would find none.
        locate = getattr(locations, "locate", None)
        if locate is not None:
            located: str | None = locate(key, sub)
            return located or self.target or self.subject
        get = locations.get
        if sub:
            parts = [key, *map(str, sub)]
            while len(parts) > 1:
                found = get(".".join(parts))
                if found:
                    return found
                parts.pop()
        found = get(key)
        if found:
            return found
        return self.target or self.subject

    def evidence(self, observed: str, key: str, *sub: str | int) -> Evidence:
        """Evidence located at ``key``/``sub`` and stamped with ``gathered_at``."""
        # Evidence(observed, location, at) without the frozen dataclass's three object.__setattr__ calls
        # (half the construction; rules build a dozen per system): the same fields, so an equal Evidence.
        evidence: Evidence = _new(Evidence)
        fields = evidence.__dict__
        fields["observed"] = observed
        locate = getattr(self.locations, "locate", None)  # _where, inlined for the common case
        fields["location"] = (locate(key, sub) or self.target or self.subject) if locate is not None \
            else self._where(key, sub)
        fields["at"] = self.gathered_at
        return evidence


#: Fact keys each point's extractor produces (the contract between extractors and rules).
POINT_FACTS: Mapping[Point, frozenset[str]] = MappingProxyType({
    Point.MANIFEST: frozenset({
        "classification", "exposure", "zone_paths", "flows", "authentication", "crypto_mechanisms",
        "crypto_products", "continuity", "audit", "workload_images", "backup_schedules", "rpo_minutes",
        "service_usage", "crypto_requirements", "thresholds", "lifecycle", "inventory", "management",
        "boundary", "administration", "operations", "data_protection", "as_of", "crypto_exemptions", "assessments",
        "image_provenance", "data_sets", "change_management",
        "development", "maintenance", "crypto_channels", "inbound_ports", "cloud_platform",
    }),
    Point.RESOURCES: frozenset({
        "namespaces", "network_policies", "resource_quotas", "limit_ranges", "pods", "workload_images",
        "backup_schedules", "rpo_minutes", "thresholds",
    }),
    Point.HOST: frozenset({
        "host", "sshd_effective_config", "pam_faillock", "password_policy", "shell_timeout", "audit_rules",
        "audit_log_protection", "log_forwarding", "time_sync", "services", "file_permissions", "sysctl",
        "thresholds", "kernel_params", "password_hashing", "cron_permissions", "login_banner",
        "security_updates", "mandatory_access", "listening", "anti_malware", "file_integrity", "mounts",
        "residual_info", "directory_client", "log_centre", "log_tls", "kernel_cmdline", "packet_filter",
    }),
})

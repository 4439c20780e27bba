"""Rules over the register's security posture: boundary devices per zone (region.yaml), administrator accounts
(三员分立), operations (patching, malware, intrusion detection, central monitoring), data protection (residency,
keys, backups) and the lifecycle.

Facts come from ``xzgov.facts.manifest.manifest_facts`` (``boundary``, ``administration``, ``operations``,
``data_protection``, ``as_of``). Each rule judges its sub-checks with :class:`policies.rules.checks.SubChecks`,
so every item it names gets its own status. Severity follows the catalogue: a rule that names a 高风险 item
(``high_risk: true`` at level 3) is ``critical``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policies.engine import Facts, Outcome, RuleSet, Severity, nothing_to_judge
from policies.rules.checks import SubChecks, periodic, within
from xzgov.core.clock import days_between
from xzgov.facts.thresholds import threshold, threshold_at

security = RuleSet()

G = "GB/T 22239-2019"


def _level(facts: Facts) -> int:
    level = facts.level
    return int(level) if level is not None else 3


#: :func:`_devices` answers for the region last asked about, kept with its ``boundary["zones"]`` table (so the
#: table's id stays unique): the devices at given zones depend on the region alone, one table shared by every
#: system's facts, and the boundary rules ask ten times per system.
_DEVICES: list[tuple[Mapping[str, Any], dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[dict[str, Any], ...]]]] = []


def _devices(boundary: Mapping[str, Any], zones: Sequence[str], *kinds: str) -> tuple[dict[str, Any], ...]:
    """Devices of ``kinds`` at the boundary of ``zones`` (each with its ``zone``), in zone then declaration order;
    read-only (shared between the systems of a region)."""
    table = boundary["zones"]
    if not _DEVICES or _DEVICES[0][0] is not table:
        _DEVICES[:] = [(table, {})]
    known = _DEVICES[0][1]
    key = (tuple(zones), kinds)
    found = known.get(key)
    if found is None:
        found = known[key] = tuple({**device, "zone": zone} for zone in zones
                                   for device in (table.get(zone) or {}).get("devices") or []
                                   if device["kind"] in kinds)
    return found


def _names(devices: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{d['zone']}/{d['id']} ({d['kind']})" for d in devices) or "none"


# ------------------------------------------------------------------------------------------ boundary


NAC = f"{G}:{{L}}.1.3.1.b"
APP_CONTROL = f"{G}:{{L}}.1.3.2.e"
EXTERNAL_ATTACK = f"{G}:{{L}}.1.3.3.a"
NET_MALWARE = f"{G}:{{L}}.1.3.4.a"
SPAM = f"{G}:{{L}}.1.3.4.b"
CLOUD_ZONE_ACL = f"{G}:{{L}}.2.3.1.b"


@security.rule(
    id="XZ-MAN-BOUNDARY-PROTECTION",
    title="区域边界防护设施齐备: 准入控制、WAF、入侵防御/抗 DDoS、防病毒网关 (特征库及时更新)、反垃圾邮件、区域防火墙",
    title_en="Boundary protection is in place: access control, WAF, IPS / anti-DDoS, AV gateway with fresh "
             "signatures, anti-spam, a zone firewall",
    severity=Severity.CRITICAL,
    controls=(NAC, APP_CONTROL, EXTERNAL_ATTACK, NET_MALWARE, SPAM, CLOUD_ZONE_ACL),
    levels=(2, 3, 4),
    remediation="在 region.yaml 的 zones[].boundary_devices 中声明: 系统所在区域的 nac 与 firewall; 互联网接入区的 waf "
                "(面向互联网时)、ips、anti-ddos (面向互联网时)、av-gateway (signature_update_hours ≤ "
                "${max_signature_update_hours}); 提供邮件服务时 anti-spam / declare the zone's boundary devices",
    facts=("boundary",),
)
def boundary_protection(facts: Facts) -> Outcome:
    """Devices declared at the zone boundaries (region.yaml) in front of the system: network access control in
    its zone (8.1.3.1.b) and a firewall there (cloud 8.2.3.1.b: access control between zones of different
    levels); a WAF at the internet-access zone for an internet-facing system (8.1.3.2.e); an IPS there, with
    anti-DDoS when internet-facing (8.1.3.3.a); an anti-virus gateway on the path whose signatures update at least as
    often as the configured maximum interval (8.1.3.4.a); anti-spam when the system serves mail (8.1.3.4.b, else not
    applicable)."""
    b = facts["boundary"]
    own, edge = [b["system_zone"]], list(b["internet_access_zones"])
    max_hours = int(threshold(facts.get("thresholds"), "max_signature_update_hours"))
    judged = SubChecks(facts)
    nac = _devices(b, own, "nac")
    judged.check(NAC, bool(nac), f"zone {b['system_zone']} nac: {_names(nac)}", "boundary")
    firewall = _devices(b, own, "firewall")
    judged.check(CLOUD_ZONE_ACL, bool(firewall), f"zone {b['system_zone']} firewall: {_names(firewall)}", "boundary")
    if b["internet_facing"]:
        waf = _devices(b, edge, "waf")
        judged.check(APP_CONTROL, bool(waf), f"internet-facing; WAF at {edge}: {_names(waf)}", "boundary")
    else:
        # the item asks for application-layer control at every key node, not only the internet's: without an
        # internet path this rule has no device to look for (the assessor judges the zone's own gateways)
        judged.nothing_to_judge(APP_CONTROL, "not internet-facing: no internet-access WAF to look for", "boundary")
    ips = _devices(b, edge, "ips")
    judged.check(EXTERNAL_ATTACK, bool(ips), f"IPS at {edge}: {_names(ips)}", "boundary")
    if b["internet_facing"]:
        ddos = _devices(b, edge, "anti-ddos")
        judged.check(EXTERNAL_ATTACK, bool(ddos), f"internet-facing; anti-DDoS at {edge}: {_names(ddos)}", "boundary")
    av = _devices(b, [*edge, *own], "av-gateway")
    fresh = [d for d in av if d.get("signature_update_hours") is not None
             and int(d["signature_update_hours"]) <= max_hours]
    judged.check(NET_MALWARE, bool(fresh), f"AV gateways {_names(av)}; signatures updated every ≤ {max_hours} h: "
                 f"{[d['id'] for d in fresh]}", "boundary")
    if b["mail_service"]:
        spam = _devices(b, [*edge, *own], "anti-spam")
        judged.check(SPAM, bool(spam), f"serves mail; anti-spam: {_names(spam)}", "boundary")
    else:
        judged.skip(SPAM, "no mail service (no workload port 25/465/587/993/995)", "boundary")
    return judged.outcome("区域边界防护设施齐备 / boundary protection in place",
                          "区域边界防护设施缺失或过期 / boundary protection missing or stale")


INTERNAL_ATTACK = f"{G}:{{L}}.1.3.3.b"
NEW_ATTACKS = f"{G}:{{L}}.1.3.3.c"
ATTACK_RECORDS = f"{G}:{{L}}.1.3.3.d"
BOUNDARY_AUDIT = f"{G}:{{L}}.1.3.5.a"
AUDIT_CONTENT = f"{G}:{{L}}.1.3.5.b"
REMOTE_AUDIT = f"{G}:{{L}}.1.3.5.d"
#: what a boundary audit record must carry (8.1.3.5.b): 事件的日期和时间、用户、事件类型、事件是否成功
AUDIT_RECORD_FIELDS = ("timestamp", "user", "event_type", "outcome")
CLOUD_VIRTUAL_IDS = f"{G}:{{L}}.2.3.2.b"
CLOUD_ALERTS = f"{G}:{{L}}.2.3.2.d"


@security.rule(
    id="XZ-MAN-BOUNDARY-DETECTION",
    title="区域边界检测与审计: 区域内入侵检测 (记录上送日志中心并告警)、流量分析、网络审计 (记录内容完整)、"
          "远程接入与上网行为审计",
    title_en="Boundary detection and audit: IDS/IPS in the zone (logged centrally, alerting), traffic analysis, "
             "network audit with complete records, audit of remote access and internet use",
    severity=Severity.CRITICAL,
    controls=(INTERNAL_ATTACK, NEW_ATTACKS, ATTACK_RECORDS, BOUNDARY_AUDIT, AUDIT_CONTENT, REMOTE_AUDIT,
              CLOUD_VIRTUAL_IDS, CLOUD_ALERTS),
    levels=(2, 3, 4),
    remediation="在 region.yaml 的 zones[].boundary_devices 中声明: 系统所在区域的 ids 或 ips (logs_to 日志中心, "
                "alerting: true)、network-audit (record_fields 含 timestamp、user、event_type、outcome); 区域内 "
                "traffic-analysis (态势感知); 互联网接入区的 network-audit; 每台 vpn 的 logs_to / declare detection "
                "and audit devices that log to the log centre and alert, audit records with date/time, user, event "
                "type and outcome",
    facts=("boundary",),
)
def boundary_detection(facts: Facts) -> Outcome:
    """Detection and audit at the boundaries: an IDS/IPS in the system's zone (internal attacks, 8.1.3.3.b; on the
    virtual network, cloud 8.2.3.2.b) whose records go to a region log server (8.1.3.3.d) and which alerts
    (8.1.3.3.d, cloud 8.2.3.2.d); a traffic-analysis platform somewhere in the region (new attacks, 8.1.3.3.c); a
    network-audit device at the system's zone or the internet edge that logs centrally (8.1.3.5.a), each of those
    devices' records carrying the date and time, user, event type and outcome (8.1.3.5.b: ``record_fields``); and
    at the internet edge a network audit of internet use, with every VPN logging centrally (8.1.3.5.d)."""
    b = facts["boundary"]
    own, edge = [b["system_zone"]], list(b["internet_access_zones"])
    servers = set(b["log_servers"])
    judged = SubChecks(facts)
    detectors = _devices(b, own, "ids", "ips")
    judged.check((INTERNAL_ATTACK, CLOUD_VIRTUAL_IDS), bool(detectors),
                 f"IDS/IPS in zone {b['system_zone']}: {_names(detectors)}", "boundary")
    unlogged = [d["id"] for d in detectors if d.get("logs_to") not in servers]
    silent = [d["id"] for d in detectors if not d.get("alerting")]
    judged.check((ATTACK_RECORDS, CLOUD_VIRTUAL_IDS), bool(detectors) and not unlogged,
                 f"IDS/IPS records to the log centre; not logged: {unlogged}", "boundary")
    judged.check((ATTACK_RECORDS, CLOUD_ALERTS), bool(detectors) and not silent,
                 f"IDS/IPS alerting; without alerts: {silent}", "boundary")
    analysis = _devices(b, list(b["zones"]), "traffic-analysis")
    judged.check(NEW_ATTACKS, bool(analysis), f"traffic analysis: {_names(analysis)}", "boundary")
    auditors = _devices(b, [*own, *edge], "network-audit")
    audit = [d for d in auditors if d.get("logs_to") in servers]
    judged.check(BOUNDARY_AUDIT, bool(audit), f"network audit logging centrally: {_names(audit)}", "boundary")
    lacking = {d["id"]: missing for d in auditors
               if (missing := [f for f in AUDIT_RECORD_FIELDS if f not in (d.get("record_fields") or ())])}
    judged.check(AUDIT_CONTENT, bool(auditors) and not lacking,
                 f"network audit records carry {'/'.join(AUDIT_RECORD_FIELDS)}: {_names(auditors)}"
                 + ("" if not lacking else f"; lacking: {'; '.join(f'{k} {v}' for k, v in lacking.items())}"),
                 "boundary")
    edge_audit = [d for d in _devices(b, edge, "network-audit") if d.get("logs_to") in servers]
    judged.check(REMOTE_AUDIT, bool(edge_audit), f"internet-use audit at {edge}: {_names(edge_audit)}", "boundary")
    vpns = _devices(b, list(b["zones"]), "vpn")
    blind = [d["id"] for d in vpns if d.get("logs_to") not in servers]
    judged.check(REMOTE_AUDIT, not blind, f"VPNs {_names(vpns)}; not logged centrally: {blind}", "boundary")
    return judged.outcome("边界检测与审计齐备 / boundary detection and audit in place",
                          "边界检测或审计缺失 / boundary detection or audit missing")


# ------------------------------------------------------------------------------------------ administrators


ACCOUNTS = f"{G}:{{L}}.1.4.2.a"
STALE_SHARED = f"{G}:{{L}}.1.4.2.c"
ACCOUNT_MANAGER = f"{G}:{{L}}.1.10.6.b"
LEAVERS = f"{G}:{{L}}.1.8.2.a"
EXTERNAL_LEAVERS = f"{G}:{{L}}.1.8.4.c"


@security.rule(
    id="XZ-MAN-ADMIN-ACCOUNTS",
    title="管理员账户: 逐人分配、无共享与过期账户、专人负责账户审批、定期核对离岗人员、外部人员账户有期限",
    title_en="Administrator accounts: one per person, none shared or expired, a named account manager, periodic "
             "review against leavers, external accounts with an end date",
    severity=Severity.MEDIUM,
    controls=(ACCOUNTS, STALE_SHARED, ACCOUNT_MANAGER, LEAVERS, EXTERNAL_LEAVERS),
    levels=(2, 3, 4),
    remediation="在 spec.security.administration 中列出每个管理员账户 (account, role, holder; 不共享), 填写 "
                "account_manager 与 review_cadence_days (≤ ${max_review_age_days}; 记录 last_review 时不得过期); "
                "外部人员账户 external: true 并填写 "
                "valid_until, 到期即 status: disabled / list every administrator account and review them",
    facts=("administration", "as_of"),
)
def admin_accounts(facts: Facts) -> Outcome:
    """Administrator accounts are declared one per holder (8.1.4.2.a); no active account is shared or past its
    end date (8.1.4.2.c); a post approves account creation and deletion (8.1.10.6.b); the accounts are reviewed
    against the personnel roster at least as often as the level's period (and a recorded last review is no
    older) (leavers' access ended, 8.1.8.2.a); every active
    external account has an end date not yet passed (8.1.8.4.c; not applicable without external accounts)."""
    a, as_of = facts["administration"], facts["as_of"]
    judged = SubChecks(facts)
    accounts = list(a["accounts"])
    active = [(i, x) for i, x in enumerate(accounts) if x["status"] == "active"]
    judged.check(ACCOUNTS, bool(accounts), f"{len(accounts)} administrator accounts: "
                 f"{[(x['account'], x['role'], x['holder']) for x in accounts]}", "administration", "accounts")
    for index, x in active:
        if x["shared"]:
            judged.check(STALE_SHARED, False, f"account {x['account']} is shared", "administration", "accounts", index)
        expired = days_between(x.get("valid_until"), as_of)
        if expired is not None and expired > 0:
            judged.check(STALE_SHARED, False, f"account {x['account']} active past valid_until {x['valid_until']}",
                         "administration", "accounts", index)
    judged.check(STALE_SHARED, bool(accounts), f"{len(active)} active accounts checked for sharing and expiry",
                 "administration", "accounts")
    judged.check(ACCOUNT_MANAGER, bool(str(a["account_manager"]).strip()),
                 f"account_manager={a['account_manager']!r}", "administration", "account_manager")
    limit = int(threshold_at(facts.get("thresholds"), "max_review_age_days", _level(facts)))
    periodic(judged, LEAVERS, "account review", a.get("review_cadence_days"), a.get("last_review"), as_of, limit,
             "administration", "review_cadence_days", "last_review")
    external = [(i, x) for i, x in active if x["external"]]
    if not external:
        judged.skip(EXTERNAL_LEAVERS, "no active external accounts", "administration", "accounts")
    for index, x in external:
        left = days_between(as_of, x["valid_until"]) if x.get("valid_until") else None
        judged.check(EXTERNAL_LEAVERS, left is not None and left >= 0,
                     f"external account {x['account']} valid_until={x.get('valid_until')}", "administration",
                     "accounts", index)
    return judged.outcome("管理员账户管理符合要求 / administrator accounts in order",
                          "管理员账户管理不符合要求 / administrator accounts not in order")


SYSTEM_ADMIN = f"{G}:{{L}}.1.5.1.a"
AUDIT_ADMIN = f"{G}:{{L}}.1.5.2.a"
SECURITY_ADMIN = f"{G}:{{L}}.1.5.3.a"
SEPARATION = f"{G}:{{L}}.1.4.2.d"
CLOUD_PRIVILEGED_AUDIT = f"{G}:{{L}}.2.3.3.a"
CLOUD_MUTUAL_AUTH = f"{G}:{{L}}.2.4.1.a"
_ROLE_ITEMS = (("system", SYSTEM_ADMIN), ("audit", AUDIT_ADMIN), ("security", SECURITY_ADMIN))


@security.rule(
    id="XZ-MAN-ADMIN-ROLES",
    title="三员分立: 系统、审计、安全管理员由不同人员担任, 经堡垒机管理并审计操作; 管理终端与平台双向认证",
    title_en="Separation of administrator roles (system / audit / security) held by different people, working "
             "through an audited bastion; mutual authentication of management terminals",
    severity=Severity.MEDIUM,
    controls=(SYSTEM_ADMIN, AUDIT_ADMIN, SECURITY_ADMIN, SEPARATION, CLOUD_PRIVILEGED_AUDIT, CLOUD_MUTUAL_AUTH),
    levels=(2, 3, 4),
    remediation="在 spec.security.administration.accounts 中为 system、audit (三级及以上还有 security) 角色各设账户, "
                "由不同 holder 担任; access.via: bastion (命令审计), access.mutual_authentication: true "
                "/ one account per administrator role, different holders, through the bastion",
    facts=("administration",),
)
def admin_roles(facts: Facts) -> Outcome:
    """Each administrator role the level requires has an active account (system 8.1.5.1.a, audit 8.1.5.2.a,
    security from level 3, 8.1.5.3.a), reached only through the bastion that authenticates and records their
    commands (the same items; cloud 8.2.3.3.a: privileged commands audited); no person holds two of these roles
    (8.1.4.2.d); management terminals and the platform authenticate each other (cloud 8.2.4.1.a)."""
    a = facts["administration"]
    judged = SubChecks(facts)
    active = [x for x in a["accounts"] if x["status"] == "active"]
    bastion = a["access_via"] == "bastion"
    roles = _ROLE_ITEMS if _level(facts) >= 3 else _ROLE_ITEMS[:2]
    for role, item in roles:
        holders = sorted({x["holder"] for x in active if x["role"] == role})
        judged.check(item, bool(holders), f"{role} administrators: {holders or 'none'}", "administration", "accounts")
        judged.check(item, bastion, f"access via {a['access_via'] or 'undeclared'} (bastion required)",
                     "administration", "access_via")
    by_holder: dict[str, set[str]] = {}
    for x in active:
        if x["role"] in ("system", "audit", "security"):
            by_holder.setdefault(x["holder"], set()).add(x["role"])
    doubled = {holder: sorted(r) for holder, r in by_holder.items() if len(r) > 1}
    judged.check(SEPARATION, bool(by_holder) and not doubled,
                 f"holders of several administrator roles: {doubled or 'none'}", "administration", "accounts")
    judged.check(CLOUD_PRIVILEGED_AUDIT, bastion, f"privileged operations via {a['access_via'] or 'undeclared'}",
                 "administration", "access_via")
    judged.check(CLOUD_MUTUAL_AUTH, bool(a["mutual_authentication"]),
                 f"mutual_authentication={a['mutual_authentication']}", "administration", "mutual_authentication")
    return judged.outcome("三员分立且经堡垒机审计 / roles separated, audited through the bastion",
                          "管理员角色未分立或未经审计接入 / roles not separated or access not audited")


# ------------------------------------------------------------------------------------------ operations


VULNERABILITIES = f"{G}:{{L}}.1.4.4.e"
PATCHING = f"{G}:{{L}}.1.10.5.a"


@security.rule(
    id="XZ-MAN-PATCHING",
    title="漏洞与补丁: 定期漏洞扫描、无未修复高危漏洞、按周期及时打补丁 (高风险)",
    title_en="Vulnerabilities and patches: periodic scans, no open high-severity vulnerability, timely patching "
             "(high risk)",
    severity=Severity.CRITICAL,
    controls=(VULNERABILITIES, PATCHING),
    levels=(2, 3, 4),
    remediation="在 spec.security.operations.patching 中填写 scan_cadence_days 与 cadence_days (≤ "
                "${max_patch_age_days}; 记录 last_vulnerability_scan / last_applied 时不得过期)、"
                "open_high_vulnerabilities: 0 "
                "/ scan and patch within the level's period and close high-severity findings",
    facts=("operations", "as_of"),
)
def patching(facts: Facts) -> Outcome:
    """Known vulnerabilities are found and fixed (8.1.4.4.e): vulnerability scans on a cadence no longer than the
    level's period (a recorded last scan no older) and no open high-severity vulnerability; patches are applied on
    such a cadence too (a recorded last round no older, 8.1.10.5.a)."""
    o, as_of = facts["operations"], facts["as_of"]
    limit = int(threshold_at(facts.get("thresholds"), "max_patch_age_days", _level(facts)))
    judged = SubChecks(facts)
    periodic(judged, VULNERABILITIES, "vulnerability scan", o.get("scan_cadence_days"),
             o.get("last_vulnerability_scan"), as_of, limit, "operations", "scan_cadence_days",
             "last_vulnerability_scan")
    open_high = o.get("open_high_vulnerabilities")
    judged.check(VULNERABILITIES, open_high == 0, f"open_high_vulnerabilities={open_high}", "operations",
                 "open_high_vulnerabilities")
    periodic(judged, PATCHING, "patching", o.get("patch_cadence_days"), o.get("last_patched"), as_of, limit,
             "operations", "patch_cadence_days", "last_patched")
    return judged.outcome("漏洞扫描与补丁及时 / vulnerabilities scanned and patched in time",
                          "漏洞或补丁管理不及时 / vulnerabilities or patches overdue")


MALWARE = f"{G}:{{L}}.1.4.5.a"
HIDS = f"{G}:{{L}}.1.4.4.f"
CLOUD_ROGUE_VM = f"{G}:{{L}}.2.4.3.b"
CLOUD_MALWARE_SPREAD = f"{G}:{{L}}.2.4.3.c"


@security.rule(
    id="XZ-MAN-MALWARE-INTRUSION",
    title="恶意代码防范与主机入侵检测: 防恶意代码 (四级为主动免疫可信验证) 及时更新、HIDS 告警、"
          "非授权虚拟机检测 (高风险)",
    title_en="Malware protection (level 4: trusted verification) kept current, host intrusion detection with "
             "alerts, detection of unauthorised VMs (high risk)",
    severity=Severity.CRITICAL,
    controls=(MALWARE, HIDS, CLOUD_ROGUE_VM, CLOUD_MALWARE_SPREAD),
    levels=(2, 3, 4),
    remediation="在 spec.security.operations 中声明 anti_malware (mechanism, centrally_managed: true, "
                "signature_update_hours ≤ ${max_signature_update_hours}; 四级 trusted-verification)、"
                "intrusion_detection (hids: true, alerting: true)、monitoring.unregistered_assets: true "
                "/ declare malware protection, HIDS and rogue-VM detection",
    facts=("operations", "as_of"),
)
def malware_intrusion(facts: Facts) -> Outcome:
    """Malware is blocked (8.1.4.5.a): anti-malware software whose signatures update at least every configured
    interval (a recorded last update no older than the configured age), or trusted verification (主动免疫),
    which level 4 requires; intrusions into the hosts are detected
    and alerted (8.1.4.4.f, level 3+); the anti-malware is centrally managed with host intrusion detection, so
    infection spreading between VMs raises an alert (cloud 8.2.4.3.c); VMs created or restarted outside the
    register are detected (cloud 8.2.4.3.b)."""
    o, as_of = facts["operations"], facts["as_of"]
    level = _level(facts)
    max_hours = int(threshold(facts.get("thresholds"), "max_signature_update_hours"))
    max_age = int(threshold(facts.get("thresholds"), "max_signature_age_days"))
    judged = SubChecks(facts)
    mechanism = o.get("anti_malware") or ""
    judged.check(MALWARE, bool(mechanism), f"anti_malware={mechanism or 'none'}", "operations", "anti_malware")
    if level >= 4:
        judged.check(MALWARE, mechanism == "trusted-verification", f"level 4: mechanism={mechanism or 'none'} "
                     "(trusted-verification required)", "operations", "anti_malware")
    if mechanism and mechanism != "trusted-verification":
        hours = o.get("signature_update_hours")
        judged.check(MALWARE, hours is not None and int(hours) <= max_hours,
                     f"signature_update_hours={hours} (≤ {max_hours})", "operations", "signature_update_hours")
        if o.get("signatures_updated") is not None:
            judged.check(MALWARE, within(o.get("signatures_updated"), as_of, max_age),
                         f"signatures_updated={o.get('signatures_updated')} (≤ {max_age} d before {as_of})",
                         "operations", "signatures_updated")
    if level >= 3:
        judged.check(HIDS, bool(o.get("hids")) and bool(o.get("hids_alerting")),
                     f"hids={o.get('hids')}, alerting={o.get('hids_alerting')}", "operations", "hids")
    judged.check(CLOUD_MALWARE_SPREAD, bool(mechanism) and bool(o.get("anti_malware_central"))
                 and bool(o.get("hids_alerting")),
                 f"anti-malware centrally managed={o.get('anti_malware_central')}, HIDS alerting="
                 f"{o.get('hids_alerting')}", "operations", "anti_malware_central")
    judged.check(CLOUD_ROGUE_VM, bool(o.get("detects_unregistered_assets")),
                 f"unregistered_assets={o.get('detects_unregistered_assets')}", "operations",
                 "detects_unregistered_assets")
    return judged.outcome("恶意代码防范与入侵检测到位 / malware protection and intrusion detection in place",
                          "恶意代码防范或入侵检测不足 / malware protection or intrusion detection missing")


HEALTH_MONITORING = f"{G}:{{L}}.1.5.4.c"
CENTRAL_SECURITY = f"{G}:{{L}}.1.5.4.e"
EVENT_ANALYSIS = f"{G}:{{L}}.1.5.4.f"
LOG_ANALYST = f"{G}:{{L}}.1.10.6.f"
CLOUD_OWN_MONITORING = f"{G}:{{L}}.2.5.1.d"


@security.rule(
    id="XZ-MAN-CENTRAL-MONITORING",
    title="集中管控: 接入集中监测平台 (运行状况、安全事件识别与报警)、安全事项集中管理、专人分析日志与报警",
    title_en="Central management: enrolled in the monitoring platform (health, security events and alerts), "
             "security matters managed centrally, a post analysing logs and alerts",
    severity=Severity.MEDIUM,
    controls=(HEALTH_MONITORING, CENTRAL_SECURITY, EVENT_ANALYSIS, LOG_ANALYST, CLOUD_OWN_MONITORING),
    levels=(3, 4),
    remediation="在 spec.security.operations.monitoring 中填写 platform、resources: true、security_events: true、"
                "log_analyst; anti_malware.centrally_managed: true 并声明 patching.cadence_days "
                "/ enrol the system in the central monitoring platform and name the analyst",
    facts=("operations",),
)
def central_monitoring(facts: Facts) -> Outcome:
    """The system is enrolled in a central monitoring platform that watches its links, devices and servers
    (8.1.5.4.c; the tenant's own part, cloud 8.2.5.1.d) and identifies, alerts on and analyses security events
    (8.1.5.4.f); security matters — malware protection and patching — are managed centrally (8.1.5.4.e: a
    centrally managed anti-malware and a declared patch cadence); a named post analyses the logs and alerts
    (8.1.10.6.f)."""
    o = facts["operations"]
    judged = SubChecks(facts)
    platform = str(o.get("monitoring_platform") or "")
    judged.check((HEALTH_MONITORING, CLOUD_OWN_MONITORING), bool(platform) and bool(o.get("monitors_resources")),
                 f"platform={platform or 'none'}, resources={o.get('monitors_resources')}", "operations",
                 "monitoring_platform")
    judged.check(EVENT_ANALYSIS, bool(platform) and bool(o.get("monitors_security_events")),
                 f"platform={platform or 'none'}, security_events={o.get('monitors_security_events')}",
                 "operations", "monitors_security_events")
    judged.check(CENTRAL_SECURITY, bool(o.get("anti_malware_central")) and o.get("patch_cadence_days") is not None,
                 f"anti-malware centrally managed={o.get('anti_malware_central')}, patch cadence="
                 f"{o.get('patch_cadence_days')}", "operations", "anti_malware_central")
    judged.check(LOG_ANALYST, bool(str(o.get("log_analyst") or "").strip()), f"log_analyst={o.get('log_analyst')!r}",
                 "operations", "log_analyst")
    return judged.outcome(f"已接入集中监测平台 {platform} / enrolled in central monitoring",
                          "集中监测或分析缺失 / central monitoring or analysis missing")


# ------------------------------------------------------------------------------------------ data


CLOUD_RESIDENCY = f"{G}:{{L}}.2.4.5.a"


@security.rule(
    id="XZ-MAN-DATA-RESIDENCY",
    title="客户数据与个人信息存储于境内; 境外第三方服务须有数据出境安全评估 (高风险)",
    title_en="Customer data and personal information stay in China; a foreign third-party service needs a data "
             "export assessment (high risk)",
    severity=Severity.CRITICAL,
    controls=(CLOUD_RESIDENCY,),
    levels=(2, 3, 4),
    remediation="spec.security.data.residency: 境内; 境外第三方服务须填写 export_assessment (数据出境安全评估编号) "
                "或改用境内服务 / keep data in China; record the export assessment of any foreign service",
    facts=("data_protection",),
)
def data_residency(facts: Facts) -> Outcome:
    """The system declares that its data is stored in mainland China (cloud 8.2.4.5.a) and every third-party
    service it sends data to is in China or has a recorded data export security assessment."""
    d = facts["data_protection"]
    judged = SubChecks(facts)
    judged.check(CLOUD_RESIDENCY, d.get("residency") == "境内", f"residency={d.get('residency') or 'undeclared'}",
                 "data_protection", "residency")
    for index, party in enumerate(d["third_parties"]):
        judged.check(CLOUD_RESIDENCY, party["location"] == "境内" or bool(party.get("export_assessment")),
                     f"third party {party['name']} ({party['purpose']}): {party['location']}, export assessment="
                     f"{party.get('export_assessment') or 'none'}", "data_protection", "third_parties", index)
    return judged.outcome("数据境内存储 / data stays in China",
                          "数据出境无评估或存储地未声明 / data leaves China unassessed")


CLOUD_CUSTOMER_KEYS = f"{G}:{{L}}.2.4.5.d"
#: Key storage that keeps keys out of the application's reach (GB/T 39786 key management).
PROTECTED_KEY_STORAGE = frozenset({"hsm", "crypto-service", "kms"})
#: Per-aspect key storage (``spec.crypto.<aspect>.key_storage``) that leaves keys unprotected.
WEAK_ASPECT_KEY_STORAGE = frozenset({"software", "none"})


@security.rule(
    id="XZ-MAN-KEY-MANAGEMENT",
    title="密钥由客户自主管理, 存于密码机/统一密码服务平台/KMS (不以明文或软件保存), 并按周期轮换",
    title_en="Keys are customer-managed, kept in an HSM, the crypto service or a KMS (not plaintext or software), "
             "and rotated",
    severity=Severity.MEDIUM,
    controls=(CLOUD_CUSTOMER_KEYS,),
    levels=(3, 4),
    remediation="spec.security.data.keys: storage: hsm|crypto-service|kms, customer_managed: true, rotation_days ≤ "
                "${max_key_rotation_days}; spec.crypto.<aspect>.key_storage 不为 software/none "
                "/ keep keys in an HSM or the crypto service, customer-managed, rotated",
    facts=("data_protection",),
)
def key_management(facts: Facts) -> Outcome:
    """The customer runs its own key management (cloud 8.2.4.5.d): keys are customer-managed, stored in a
    protected store (HSM, the region's crypto service, a KMS — not plaintext, not software-only) and rotated no
    less often than the configured maximum; no 密码应用 aspect keeps its keys in software or nowhere
    (``spec.crypto.<aspect>.key_storage``)."""
    d = facts["data_protection"]
    limit = int(threshold(facts.get("thresholds"), "max_key_rotation_days"))
    judged = SubChecks(facts)
    judged.check(CLOUD_CUSTOMER_KEYS, d.get("key_storage") in PROTECTED_KEY_STORAGE,
                 f"key storage={d.get('key_storage') or 'undeclared'}", "data_protection", "key_storage")
    judged.check(CLOUD_CUSTOMER_KEYS, bool(d.get("customer_managed_keys")),
                 f"customer_managed={d.get('customer_managed_keys')}", "data_protection", "customer_managed_keys")
    weak = {aspect: storage for aspect, storage in (d.get("aspect_key_storage") or {}).items()
            if storage in WEAK_ASPECT_KEY_STORAGE}
    for aspect, storage in sorted(weak.items()):
        judged.check(CLOUD_CUSTOMER_KEYS, False, f"crypto.{aspect}.key_storage={storage}", "data_protection",
                     "aspect_key_storage", aspect)
    rotation = d.get("key_rotation_days")
    judged.check(CLOUD_CUSTOMER_KEYS, rotation is not None and int(rotation) <= limit,
                 f"rotation_days={rotation} (≤ {limit})", "data_protection", "key_rotation_days")
    return judged.outcome("密钥自主管理并受保护 / keys customer-managed and protected",
                          "密钥存储或轮换不满足要求 / key storage or rotation insufficient")


CLOUD_SNAPSHOTS = f"{G}:{{L}}.2.4.4.c"
CLOUD_LOCAL_BACKUP = f"{G}:{{L}}.2.4.6.a"
RESTORE_DRILL = f"{G}:{{L}}.1.10.11.c"


@security.rule(
    id="XZ-MAN-BACKUP-PROTECTION",
    title="备份保护: 备份与快照加密、客户本地保存业务数据备份、定期恢复演练 (高风险)",
    title_en="Backup protection: encrypted backups and snapshots, the customer's own local copy, periodic restore "
             "drills (high risk)",
    severity=Severity.CRITICAL,
    controls=(CLOUD_SNAPSHOTS, CLOUD_LOCAL_BACKUP, RESTORE_DRILL),
    levels=(2, 3, 4),
    remediation="spec.security.data.backup: encrypted: true, snapshots_encrypted: true, local_copy: true, "
                "drill_cadence_days ≤ ${max_restore_drill_age_days} (记录 last_restore_drill 时不得过期) "
                "/ encrypt backups and snapshots, keep a local copy, drill restores",
    facts=("data_protection", "as_of"),
)
def backup_protection(facts: Facts) -> Outcome:
    """Images, snapshots and backups are encrypted so the sensitive data in them cannot be read (cloud
    8.2.4.4.c, level 3+); the customer keeps its own local copy of its business data (cloud 8.2.4.6.a); restores
    are drilled at least as often as the level's period, a recorded last drill no older (the restore procedure
    works, 8.1.10.11.c)."""
    d, as_of = facts["data_protection"], facts["as_of"]
    limit = int(threshold_at(facts.get("thresholds"), "max_restore_drill_age_days", _level(facts)))
    judged = SubChecks(facts)
    judged.check(CLOUD_SNAPSHOTS, bool(d.get("backups_encrypted")) and bool(d.get("snapshots_encrypted")),
                 f"backups encrypted={d.get('backups_encrypted')}, snapshots encrypted={d.get('snapshots_encrypted')}",
                 "data_protection", "backups_encrypted")
    judged.check(CLOUD_LOCAL_BACKUP, bool(d.get("local_backup")), f"local_copy={d.get('local_backup')}",
                 "data_protection", "local_backup")
    periodic(judged, RESTORE_DRILL, "restore drill", d.get("restore_drill_cadence_days"), d.get("last_restore_drill"),
             as_of, limit, "data_protection", "restore_drill_cadence_days", "last_restore_drill")
    return judged.outcome("备份加密、本地留存并定期演练 / backups protected and drilled",
                          "备份保护不足 / backups insufficiently protected")


# ------------------------------------------------------------------------------------------ lifecycle


RETIRED_BOUNDARY = f"{G}:{{L}}.1.3.1.a"
RETIRED_ASSETS = f"{G}:{{L}}.1.10.2.a"


@security.rule(
    id="XZ-MAN-LIFECYCLE",
    title="已下线 (retired) 的系统不再对外发布: 无访问地址、不面向互联网、无运行的工作负载与主机",
    title_en="A retired system is no longer published: no endpoints, not internet-facing, no running workloads "
             "or hosts",
    severity=Severity.CRITICAL,
    controls=(RETIRED_BOUNDARY, RETIRED_ASSETS),
    levels=(2, 3, 4),
    remediation="系统下线后删除 spec.exposure.endpoints、设置 internet_facing: false 并移除 workloads 与 hosts "
                "(或将 lifecycle.status 改回 running) / unpublish a retired system",
    facts=("lifecycle", "exposure", "inventory"),
)
def lifecycle(facts: Facts) -> Outcome:
    """A system whose lifecycle status is ``retired`` publishes nothing: a retired system still reachable is an
    uncontrolled boundary interface (8.1.3.1.a) and an asset outside the managed inventory (8.1.10.2.a). Other
    statuses are not this rule's question (planned systems are judged by the filing rule's grace period)."""
    status = facts["lifecycle"].get("status")
    if status != "retired":
        return nothing_to_judge(f"lifecycle.status={status}: 非下线系统 / not retired")
    exposure, inventory = facts["exposure"], facts["inventory"]
    judged = SubChecks(facts)
    endpoints = list(exposure.get("endpoints") or [])
    judged.check(RETIRED_BOUNDARY, not endpoints and not exposure.get("internet_facing"),
                 f"retired; internet_facing={exposure.get('internet_facing')}, endpoints={endpoints}", "exposure")
    running = [w["name"] for w in inventory.get("workloads") or []] + [h["hostname"] for h in inventory.get("hosts")
                                                                        or []]
    judged.check(RETIRED_ASSETS, not running, f"retired; still running: {running or 'nothing'}", "inventory")
    return judged.outcome("下线系统已停止发布 / retired system unpublished",
                          "下线系统仍在发布或运行 / retired system still published or running")


# ------------------------------------------------------------------------------------------ development


DEV_SEPARATION = f"{G}:{{L}}.1.9.4.a"
DEV_TESTING = f"{G}:{{L}}.1.9.4.e"
DEV_REPOSITORY = f"{G}:{{L}}.1.9.4.f"
RELEASE_TESTING = f"{G}:{{L}}.1.9.7.b"


@security.rule(
    id="XZ-MAN-DEV-SEPARATION",
    title="自行开发: 开发测试环境与生产分离且不用生产数据、开发中安全测试与安装前恶意代码检测、资源库授权与版本控制; "
          "上线前安全测试 (三级及以上含密码应用测试)",
    title_en="Self-developed software: development and test apart from production without production data, security "
             "testing and malware scans, a controlled repository; security testing before go-live (level 3+: "
             "including cryptography)",
    severity=Severity.CRITICAL,
    controls=(DEV_SEPARATION, DEV_TESTING, DEV_REPOSITORY, RELEASE_TESTING),
    levels=(2, 3, 4),
    remediation="在 spec.security.development 中声明 environment (独立开发测试环境)、production_data_in_test: false、"
                "security_testing {before_release: true, includes_crypto: true}、malware_scan_before_install: true、"
                "repository {approval_required: true, version_control: true} / separate and test development",
    facts=("development",),
)
def dev_separation(facts: Facts) -> Outcome:
    """For software the owner develops itself: a development and test environment apart from production whose
    tests use no unmasked production data (8.1.9.4.a); security testing during development and a malware scan
    before installation (8.1.9.4.e); changes, updates and releases of the code repository approved and version
    controlled (8.1.9.4.f, level 3+). For every system: a security test with a report before go-live, covering
    cryptography from level 3 (8.1.9.7.b). Bought or outsourced software leaves the 自行软件开发 items not
    applicable."""
    d = facts["development"]
    judged = SubChecks(facts)
    own = (DEV_SEPARATION, DEV_TESTING, DEV_REPOSITORY)
    if d.get("self_developed"):
        judged.check(DEV_SEPARATION, bool(str(d.get("environment") or "").strip()),
                     f"development environment={d.get('environment') or 'none'}", "development")
        judged.check(DEV_SEPARATION, not d.get("production_data_in_test"),
                     f"production_data_in_test={d.get('production_data_in_test')}", "development")
        judged.check(DEV_TESTING, bool(d.get("security_testing_before_release"))
                     and bool(d.get("malware_scan_before_install")),
                     f"security testing={d.get('security_testing_before_release')}, malware scan before install="
                     f"{d.get('malware_scan_before_install')}", "development")
        judged.check(DEV_REPOSITORY, bool(d.get("repository_approval")) and bool(d.get("repository_version_control")),
                     f"repository approval={d.get('repository_approval')}, version control="
                     f"{d.get('repository_version_control')}", "development")
    else:
        judged.skip(own, "not self-developed (采购或外包开发)", "development")
    judged.check(RELEASE_TESTING, bool(d.get("security_testing_before_release")),
                 f"security test before go-live={d.get('security_testing_before_release')}", "development")
    if _level(facts) >= 3:
        judged.check(RELEASE_TESTING, bool(d.get("security_testing_includes_crypto")),
                     f"level 3+: test covers cryptography={d.get('security_testing_includes_crypto')}", "development")
    return judged.outcome("开发测试与上线前测试符合要求 / development separated and tested",
                          "开发测试分离或安全测试不足 / development not separated or not tested")


REMOTE_MAINTENANCE = f"{G}:{{L}}.1.10.6.i"


@security.rule(
    id="XZ-MAN-REMOTE-MAINTENANCE",
    title="远程运维: 通道经审批后开通、过程保留不可更改的审计日志、结束后立即关闭; 外包运维签订含安全要求的协议",
    title_en="Remote maintenance opened on approval, audited immutably, closed after use; outsourced operations under "
             "an agreement with security terms",
    severity=Severity.MEDIUM,
    controls=(REMOTE_MAINTENANCE,),
    levels=(3, 4),
    remediation="spec.security.maintenance.remote: {approval_required: true, audited: true, closed_after: true} "
                "(或 allowed: false); 外包运维时 provider 与 security_agreement: true / control remote maintenance",
    facts=("maintenance",),
)
def remote_maintenance(facts: Facts) -> Outcome:
    """A remote maintenance channel, when allowed, is opened only on approval, leaves an immutable audit log and is
    closed when the work ends (8.1.10.6.i); an outsourced operator (who usually is the remote one) works under a
    named provider's agreement with security terms. With no remote channel and no outsourcing there is nothing
    to control (pass: the channel is closed)."""
    m = facts["maintenance"]
    judged = SubChecks(facts)
    if m.get("remote_allowed"):
        for key, what in (("remote_approval", "opened on approval"), ("remote_audited", "immutable audit log"),
                          ("remote_closed_after", "closed after use")):
            judged.check(REMOTE_MAINTENANCE, bool(m.get(key)), f"remote maintenance {what}: {m.get(key)}",
                         "maintenance", key)
    else:
        judged.check(REMOTE_MAINTENANCE, True, "no remote maintenance channel", "maintenance")
    if m.get("outsourced"):
        named = bool(str(m.get("provider") or "").strip())
        judged.check(REMOTE_MAINTENANCE, named and bool(m.get("security_agreement")),
                     f"outsourced to {m.get('provider') or 'unnamed'}; security agreement="
                     f"{m.get('security_agreement')}", "maintenance")
    return judged.outcome("远程运维受控 / remote maintenance controlled",
                          "远程运维或外包运维未受控 / remote or outsourced maintenance uncontrolled")


# ------------------------------------------------------------------------------------------ channels


CHANNEL_INTEGRITY = f"{G}:{{L}}.1.2.2.a"
CHANNEL_CONFIDENTIALITY = f"{G}:{{L}}.1.2.2.b"
CRYPTO_STANDARDS = f"{G}:{{L}}.1.10.9.a"
#: Fragments of cipher-suite names that mark a broken or export-grade suite.
WEAK_SUITE_PARTS = ("RC4", "3DES", "DES_", "NULL", "EXPORT", "MD5", "ANON")
#: Protocols that carry SM suites (GB/T 38636 TLCP, RFC 8998 TLS 1.3) or SM IPsec / SSL VPN.
SM_PROTOCOLS = frozenset({"TLCP", "TLS1.3", "IPSEC-SM", "SSL-VPN-SM"})
#: Smallest certificate key per algorithm (bits): RSA < 2048 is below 112-bit strength.
MIN_KEY_BITS = {"RSA": 2048, "SM2": 256, "ECDSA": 256}


def _sm_suite(name: str) -> bool:
    return "SM4" in name.upper()


def _weak_suite(name: str) -> bool:
    upper = name.upper()
    # a suite name ending in _SHA uses SHA-1 for its MAC (e.g. TLS_RSA_WITH_AES_128_CBC_SHA)
    return any(part in upper for part in WEAK_SUITE_PARTS) or upper.endswith("_SHA")


@security.rule(
    id="XZ-MAN-CHANNEL-SUITES",
    title="安全通道的密码套件与证书: 无弱套件, 证书密钥长度足够且未过期; 密评三级及以上使用国密套件 (TLCP/RFC 8998)",
    title_en="Secure channels: no weak cipher suite, certificate keys long enough and not expired; 密评 level 3+ "
             "channels use SM suites (TLCP / RFC 8998)",
    severity=Severity.CRITICAL,
    controls=(CHANNEL_INTEGRITY, CHANNEL_CONFIDENTIALITY, CRYPTO_STANDARDS),
    levels=(2, 3, 4),
    remediation="在 spec.crypto.channels 中只启用国密套件 (ECC_SM4_GCM_SM3、ECDHE_SM4_GCM_SM3、TLS_SM4_GCM_SM3), "
                "删除 RC4/3DES/NULL/EXPORT/SHA1 套件; 证书用 SM2 (或 RSA ≥ 2048) 并在到期前更换 "
                "/ enable only SM suites, drop weak ones, keep certificates strong and current",
    facts=("classification", "crypto_channels", "as_of"),
)
def channel_suites(facts: Facts) -> Outcome:
    """Each declared channel (``spec.crypto.channels``) enables no broken or export-grade suite and presents a
    certificate whose key is at least 112-bit strong (RSA ≥ 2048, SM2/ECDSA ≥ 256) and, when its expiry is
    recorded, not expired (integrity and confidentiality in transit, 8.1.2.2.a/b; a weak suite also breaks the
    national cryptography standards, 8.1.10.9.a); at 密评 level 3+ the channel runs an SM
    protocol with SM4 suites only (national cryptography standards, 8.1.10.9.a). Without declared channels the
    transport mechanisms (XZ-MAN-TRANSPORT-PROTECTION) are all the register says: not applicable."""
    channels = facts["crypto_channels"]
    if not channels:
        return nothing_to_judge("未声明安全通道的密码套件 / no channels declared", facts.evidence("channels: none",
                                                                                    "crypto_channels"))
    crypto_level = int(facts["classification"].get("crypto_level") or facts["classification"]["level"])
    judged = SubChecks(facts)
    for index, ch in enumerate(channels):
        label = f"{ch['name']} ({ch['protocol']})"
        weak = [s for s in ch["cipher_suites"] if _weak_suite(s)]
        judged.check((CHANNEL_INTEGRITY, CHANNEL_CONFIDENTIALITY, CRYPTO_STANDARDS), not weak,
                     f"{label}: weak suites {weak or 'none'}", "crypto_channels", index)
        algorithm, bits = ch.get("certificate_algorithm"), ch.get("certificate_key_bits")
        if algorithm is not None:
            minimum = MIN_KEY_BITS.get(str(algorithm), 256)
            judged.check((CHANNEL_INTEGRITY, CHANNEL_CONFIDENTIALITY, CRYPTO_STANDARDS),
                         bits is not None and int(bits) >= minimum,
                         f"{label}: certificate {algorithm}-{bits} (≥ {minimum})", "crypto_channels", index)
        if ch.get("certificate_not_after") is not None:
            left = days_between(facts["as_of"], str(ch["certificate_not_after"]))
            judged.check((CHANNEL_INTEGRITY, CHANNEL_CONFIDENTIALITY), left is not None and left >= 0,
                         f"{label}: certificate valid until {ch['certificate_not_after']} (as of {facts['as_of']})",
                         "crypto_channels", index)
        if crypto_level >= 3:
            non_sm = [s for s in ch["cipher_suites"] if not _sm_suite(s)]
            sm_ok = ch["protocol"] in SM_PROTOCOLS and not non_sm and algorithm in (None, "SM2")
            judged.check(CRYPTO_STANDARDS, sm_ok, f"{label}: 密评 {crypto_level} 级; non-SM suites "
                         f"{non_sm or 'none'}, certificate {algorithm or 'not declared'}", "crypto_channels", index)
    return judged.outcome(f"{len(channels)} 个安全通道的套件与证书符合要求 / channel suites and certificates in order",
                          "安全通道使用弱套件、非国密套件或证书不足 / weak, non-SM suites or weak certificates")

"""Design rules over the register (and, where the facts exist elsewhere, over other points too).

Facts come from ``xzgov.facts.manifest.manifest_facts``; each rule names the keys it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.engine import (
    Evidence,
    Facts,
    Outcome,
    RuleSet,
    Severity,
    Status,
    failed,
    not_applicable,
    passed,
)
from xzgov.facts.baseline import APPROVED_ALGORITHMS, CRYPTO_UNIT_TITLES, CRYPTO_UNITS
from xzgov.facts.thresholds import continuity_for, threshold

manifest = RuleSet()

G22239 = "GB/T 22239-2019"
G39786 = "GB/T 39786-2021"

def _level(facts: Facts) -> int:
    return int(facts["classification"]["level"])


def _crypto_level(facts: Facts) -> int:
    classification = facts["classification"]
    return int(classification.get("crypto_level", classification["level"]))


# ------------------------------------------------------------------------------------------ identity


@manifest.rule(
    id="XZ-MAN-AUTH-MFA",
    title="三级及以上系统采用两种或两种以上组合的鉴别技术, 且其中一种至少使用密码技术",
    title_en="Level-3+ systems authenticate users and administrators with two or more factors, one cryptographic",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.1.d",),
    levels=(3, 4),
    remediation="在 spec.authentication.factors 与 admin_factors 中至少声明两种因素, 其中一种为 "
                "sm2-certificate 或 ukey (接入统一可信身份认证平台) "
                "/ declare two factors incl. sm2-certificate or ukey",
    facts=("classification", "authentication"),
)
def auth_mfa(facts: Facts) -> Outcome:
    """Both user and administrator logins combine two or more distinct factors, at least one cryptographic."""
    auth = facts["authentication"]
    cryptographic = set(auth.get("cryptographic", ()))
    problems: list[Evidence] = []
    for role, key in (("用户 users", "factors"), ("管理员 administrators", "admin_factors")):
        factors = list(dict.fromkeys(auth.get(key, ())))
        crypto = [f for f in factors if f in cryptographic]
        if len(factors) < 2 or not crypto:
            problems.append(facts.evidence(f"{role}: {key}={factors} (cryptographic: {crypto or 'none'})",
                                           "authentication", key))
    if problems:
        return failed("鉴别因素不足两种或缺少密码技术因素 / fewer than two factors or none cryptographic", *problems)
    return passed("用户与管理员均为双因素且含密码技术 / two factors incl. a cryptographic one",
                  facts.evidence(f"factors={list(auth.get('factors', ()))}, admin_factors="
                                 f"{list(auth.get('admin_factors', ()))}", "authentication"))


# ------------------------------------------------------------------------------------------ network


@manifest.rule(
    id="XZ-MAN-INTERNET-ZONE",
    title="面向互联网的系统位于互联网接入区之后 (存在自互联网接入区的访问路径)",
    title_en="Internet-facing systems sit behind the internet-access zone (a declared path from it)",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.1.2.1.d", f"{G22239}:{{L}}.1.3.1.a"),
    levels=(2, 3, 4),
    remediation="将系统部署在可由互联网接入区访问的区域 (如 public-service), 并在 region.yaml 的 "
                "reachable_from 中声明路径; 不要直接部署在互联网接入区或管理区 "
                "/ place it in a zone reachable from internet-access",
    facts=("exposure", "zone_paths"),
)
def internet_zone(facts: Facts) -> Outcome:
    """An internet-facing system is reachable from an internet-access zone through the declared zone graph,
    and is not itself placed in the internet-access zone."""
    exposure = facts["exposure"]
    if not exposure.get("internet_facing"):
        return not_applicable("系统不面向互联网 / not internet-facing")
    paths = facts["zone_paths"]
    zone = exposure.get("zone", "")
    if exposure.get("zone_kind") == "internet-access":
        return failed(f"系统直接部署在互联网接入区 {zone}, 前面没有边界 / placed in the internet-access zone itself",
                      facts.evidence(f"placement.zone={zone} (kind internet-access)", "exposure", "zone"))
    path = paths.get("path") or []
    if not path:
        return failed(f"区域 {zone} 不可由互联网接入区到达: 没有声明的入站路径 / no declared path from internet-access",
                      facts.evidence(f"zone {zone} reachable_from={paths.get('reachable_from', [])}; "
                                     f"internet-access zones={paths.get('internet_access_zones', [])}",
                                     "zone_paths"))
    return passed("互联网访问经互联网接入区进入 / reached through the internet-access zone",
                  facts.evidence("path " + " → ".join(path), "zone_paths"))


@manifest.rule(
    id="XZ-MAN-DECLARED-FLOWS",
    title="仅允许声明的网络访问: 每条流与区域拓扑一致, 端口与目标声明一致, 使用的公共服务均有声明的流",
    title_en="Only declared flows: each flow is allowed by the zone topology and the target's ports; used services "
             "have a declared flow",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.3.2.a", f"{G22239}:{{L}}.1.3.2.b"),
    remediation="为使用的每个公共支撑服务声明 flows; 目标区域须在 region.yaml 中允许来自本区域的访问; "
                "端口与目标服务一致 / declare a flow per used service, matching ports and zone reachability",
    facts=("flows", "service_usage"),
)
def declared_flows(facts: Facts) -> Outcome:
    """Each declared flow is permitted by the region's zone graph and uses a port the target declares; every
    shared service the system uses has a declared flow."""
    problems: list[Evidence] = []
    for index, flow in enumerate(facts["flows"]):
        label = f"to {flow['to_kind']}:{flow['to']} {flow['protocol']}/{flow['port']}"
        if not flow.get("reachable", True):
            problems.append(facts.evidence(f"{label}: zone {flow.get('target_zone')} does not accept traffic from "
                                           f"{flow.get('source_zone')}", "flows", index))
        if flow.get("port_declared") is False:
            problems.append(facts.evidence(f"{label}: target declares ports {flow.get('target_ports')}",
                                           "flows", index))
    for index, usage in enumerate(facts["service_usage"]):
        if not usage.get("flow_declared"):
            problems.append(facts.evidence(f"uses service {usage['service']} (port {usage.get('port')}) without a "
                                           "declared flow", "service_usage", index))
    if problems:
        return failed("存在未声明或与拓扑不一致的网络访问 / undeclared or disallowed flows", *problems)
    count = len(facts["flows"])
    return passed(f"{count} 条流均已声明且与区域拓扑一致 / all flows declared and allowed",
                  facts.evidence(f"{count} flows, {len(facts['service_usage'])} services", "flows"))


# ------------------------------------------------------------------------------------------ crypto


def _mechanisms(facts: Facts, aspect: str, purpose: str) -> list[tuple[int, Mapping[str, Any]]]:
    return [(i, m) for i, m in enumerate(facts["crypto_mechanisms"])
            if m["aspect"] == aspect and m["purpose"] == purpose]


def _products(facts: Facts) -> dict[str, Mapping[str, Any]]:
    return {p["id"]: p for p in facts["crypto_products"]}


@manifest.rule(
    id="XZ-MAN-PI-STORAGE",
    title="处理个人信息的系统声明存储机密性 (SM4) 与存储完整性 (SM3) 或使用认证密码产品",
    title_en="Personal-information systems protect storage confidentiality with SM4 and integrity with SM3 "
             "(or certified products)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.8.b", f"{G22239}:{{L}}.1.4.7.b", f"{G22239}:{{L}}.1.4.11.b"),
    levels=(2, 3, 4),
    remediation="在 spec.crypto.application.mechanisms 中声明 storage-confidentiality: [SM4] 与 "
                "storage-integrity: [SM3] (或 SM2 签名), 并关联认证的密码产品 "
                "/ declare SM4 storage encryption and SM3 integrity",
    facts=("classification", "crypto_mechanisms", "crypto_products"),
)
def pi_storage(facts: Facts) -> Outcome:
    """A system that handles personal information declares application-level storage confidentiality with SM4
    and storage integrity with SM3 (or SM2 signatures), or a certified product providing them."""
    classification = facts["classification"]
    if not classification.get("personal_information"):
        return not_applicable("系统不处理个人信息 / no personal information")
    products = _products(facts)
    problems: list[Evidence] = []
    good: list[Evidence] = []
    per: dict[str, Status] = {}
    for purpose, wanted, control in (("storage-confidentiality", {"SM4"}, f"{G22239}:{{L}}.1.4.8.b"),
                                     ("storage-integrity", {"SM3", "SM2"}, f"{G22239}:{{L}}.1.4.7.b")):
        found = _mechanisms(facts, "application", purpose)
        ok = [(i, m) for i, m in found
              if wanted & set(m["algorithms"]) or (m.get("product") in products
                                                   and set(m["algorithms"]) <= APPROVED_ALGORITHMS)]
        if ok:
            index, mech = ok[0]
            good.append(facts.evidence(f"{purpose}: {mech['algorithms']} product={mech.get('product')}",
                                       "crypto_mechanisms", index))
            per[control] = Status.PASS
        else:
            seen = [list(m["algorithms"]) for _, m in found]
            where = found[0][0] if found else None
            problems.append(facts.evidence(f"application {purpose}: {seen or 'not declared'} (need {sorted(wanted)})",
                                           "crypto_mechanisms", *(() if where is None else (where,))))
            per[control] = Status.FAIL
    per[f"{G22239}:{{L}}.1.4.11.b"] = Status.FAIL if problems else Status.PASS
    if problems:
        status = Status.PARTIAL if good else Status.FAIL
        return Outcome(status, "个人信息存储保护未采用 SM4/SM3 / personal data at rest not protected with SM4/SM3",
                       tuple(problems + good), per)
    return Outcome(Status.PASS, "个人信息存储机密性与完整性采用国密算法 / SM4 + SM3 at rest", tuple(good), per)


def _strength(facts: Facts, unit: str) -> str:
    requirements = facts["crypto_requirements"]
    return str(requirements.get(unit, "不适用"))


@manifest.rule(
    id="XZ-MAN-CRYPTO-ALGORITHMS",
    title="密评要求为\"应\"的测评单元采用 SM2/SM3/SM4/TLCP 等国密算法实现",
    title_en="Assessment units the 密评 level makes mandatory (应) use SM2/SM3/SM4/TLCP",
    severity=Severity.HIGH,
    controls=tuple(unit for _, _, unit in CRYPTO_UNITS),
    remediation="对每个\"应\"的单元在 spec.crypto.<aspect>.mechanisms 中声明国密算法 (SM2/SM3/SM4, 传输用 TLCP); "
                "替换 RSA/AES/SHA-256/TLS1.2 等 / use SM algorithms for every mandatory unit",
    facts=("classification", "crypto_mechanisms", "crypto_requirements"),
)
def crypto_algorithms(facts: Facts) -> Outcome:
    """For each GB/T 39786 technical unit whose strength at the system's 密评 level is 应, a mechanism is
    declared and every algorithm it uses is an approved SM algorithm or protocol; this decides the rule's
    status. 宜/可 units are judged per item as well (declared with SM algorithms → pass; undeclared or
    non-SM → fail, as the 密评 score counts them) without changing the rule's status."""
    per: dict[str, Status] = {}
    problems: list[Evidence] = []
    advisory: list[Evidence] = []
    good: list[Evidence] = []
    for aspect, purpose, unit in CRYPTO_UNITS:
        strength = _strength(facts, unit)
        if strength not in ("应", "宜", "可"):
            per[unit] = Status.NOT_APPLICABLE
            continue
        found = _mechanisms(facts, aspect, purpose)
        name = f"{aspect}/{CRYPTO_UNIT_TITLES[purpose]} ({strength})"
        sink = problems if strength == "应" else advisory
        if not found:
            # An unimplemented unit is not satisfied (密评 scores it 0); only 应 units decide the rule.
            per[unit] = Status.FAIL
            sink.append(facts.evidence(f"{name}: no mechanism declared", "crypto_mechanisms"))
            continue
        bad = [(i, sorted(set(m["algorithms"]) - APPROVED_ALGORITHMS)) for i, m in found
               if set(m["algorithms"]) - APPROVED_ALGORITHMS]
        if bad:
            per[unit] = Status.FAIL
            for index, algorithms in bad:
                sink.append(facts.evidence(f"{name}: non-SM algorithms {algorithms}", "crypto_mechanisms", index))
        else:
            per[unit] = Status.PASS
            good.append(facts.evidence(f"{name}: {list(found[0][1]['algorithms'])}", "crypto_mechanisms",
                                       found[0][0]))
    mandatory = [unit for _, _, unit in CRYPTO_UNITS if _strength(facts, unit) == "应"]
    if not mandatory:
        return Outcome(Status.NOT_APPLICABLE, f"密评 {_crypto_level(facts)} 级无\"应\"的技术单元 / no mandatory unit",
                       tuple(advisory), per)
    if problems:
        return Outcome(Status.FAIL, "\"应\"的单元未采用国密算法 / mandatory units without SM algorithms",
                       tuple(problems + advisory), per)
    return Outcome(Status.PASS, f"{len(mandatory)} 个\"应\"的单元均采用国密算法 / all mandatory units use SM "
                   "algorithms", tuple(good + advisory), per)


@manifest.rule(
    id="XZ-MAN-CRYPTO-PRODUCTS",
    title="密码产品经认证且模块安全等级与密评等级相符 (三级及以上: GM/T 0028 二级及以上)",
    title_en="Crypto products are certified with a module level fitting the 密评 level (level 3+: GM/T 0028 level 2+)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.9.3.b", f"{G22239}:{{L}}.1.10.9.b"),
    levels=(2, 3, 4),
    remediation="为\"应\"单元的密码机制关联 spec.crypto.products 中的认证产品 (certificate, GM/T 0028 "
                "module_level ≥ ${min_module_level}) "
                "/ back mandatory mechanisms with certified products of a sufficient module level",
    facts=("classification", "crypto_mechanisms", "crypto_products", "crypto_requirements"),
)
def crypto_products(facts: Facts) -> Outcome:
    """Every mechanism of a mandatory (应) unit names a declared product with a certificate number and a GM/T 0028
    module level at least the configured minimum for the 密评 level; every declared product meets that level."""
    level = _crypto_level(facts)
    minimum = int(threshold(facts.get("thresholds"), "min_module_level")[level])
    products = _products(facts)
    problems: list[Evidence] = []
    for index, product in enumerate(facts["crypto_products"]):
        if not str(product.get("certificate", "")).strip():
            problems.append(facts.evidence(f"product {product['id']}: no certificate number", "crypto_products",
                                           index))
        if int(product.get("module_level", 0)) < minimum:
            problems.append(facts.evidence(f"product {product['id']}: GM/T 0028 module level "
                                           f"{product.get('module_level')} < {minimum}", "crypto_products", index))
    mandatory = 0
    for index, mech in enumerate(facts["crypto_mechanisms"]):
        units = [u for a, p, u in CRYPTO_UNITS if (a, p) == (mech["aspect"], mech["purpose"])]
        if not any(_strength(facts, unit) == "应" for unit in units):
            continue
        mandatory += 1
        if not mech.get("product"):
            problems.append(facts.evidence(f"{mech['aspect']}/{mech['purpose']} (应): no certified product",
                                           "crypto_mechanisms", index))
        elif mech["product"] not in products:
            problems.append(facts.evidence(f"{mech['aspect']}/{mech['purpose']}: unknown product {mech['product']}",
                                           "crypto_mechanisms", index))
    if not facts["crypto_products"] and not mandatory:
        return not_applicable("未声明密码产品且无\"应\"的密码机制 / no products and no mandatory mechanisms")
    if problems:
        return failed("密码产品认证或模块等级不足 / products uncertified or module level too low", *problems)
    return passed(f"{len(products)} 个密码产品均经认证, 模块等级 ≥ {minimum} / certified, module level ≥ {minimum}",
                  facts.evidence(", ".join(f"{p['id']}:{p['certificate']}:L{p['module_level']}"
                                           for p in facts["crypto_products"]), "crypto_products"))


#: Secure-channel protocols: a channel that encrypts also authenticates what it carries (integrity).
CHANNEL_PROTOCOLS = frozenset({"TLCP", "IPSEC-SM", "SSL-VPN-SM", "TLS1.2", "TLS1.3", "IPSEC"})
TRANSPORT_INTEGRITY = (f"{G22239}:{{L}}.1.2.2.a", f"{G22239}:{{L}}.1.4.7.a")
TRANSPORT_CONFIDENTIALITY = (f"{G22239}:{{L}}.1.2.2.b", f"{G22239}:{{L}}.1.4.8.a")


@manifest.rule(
    id="XZ-MAN-TRANSPORT-PROTECTION",
    title="通信传输采用密码技术保证数据的完整性与保密性",
    title_en="Data in transit is protected by cryptography for integrity and confidentiality",
    severity=Severity.HIGH,
    controls=(*TRANSPORT_INTEGRITY, *TRANSPORT_CONFIDENTIALITY),
    levels=(3, 4),
    remediation="在 spec.crypto.network (或 application) 的 mechanisms 中声明 transport-confidentiality 与 "
                "transport-integrity (如 TLCP: SM2/SM4/SM3) / declare transport confidentiality and integrity "
                "(e.g. TLCP)",
    facts=("crypto_mechanisms",),
)
def transport_protection(facts: Facts) -> Outcome:
    """The system declares a transport-confidentiality mechanism (network or application aspect) and a
    transport-integrity one, or a secure-channel protocol (TLCP, IPsec, TLS) that gives integrity with
    confidentiality. Whether the algorithms are SM algorithms is the 密评 rule's question
    (``XZ-MAN-CRYPTO-ALGORITHMS``); this one asks that cryptography protects the traffic at all."""
    declared = [(i, m) for i, m in enumerate(facts["crypto_mechanisms"])
                if m["aspect"] in ("network", "application") and m.get("algorithms")]
    secret = [(i, m) for i, m in declared if m["purpose"] == "transport-confidentiality"]
    intact = [(i, m) for i, m in declared if m["purpose"] == "transport-integrity"
              or (m["purpose"] == "transport-confidentiality" and set(m["algorithms"]) & CHANNEL_PROTOCOLS)]
    per: dict[str, Status] = {}
    evidence: list[Evidence] = []
    for found, controls, what in ((intact, TRANSPORT_INTEGRITY, "transport-integrity"),
                                  (secret, TRANSPORT_CONFIDENTIALITY, "transport-confidentiality")):
        for control in controls:
            per[control] = Status.PASS if found else Status.FAIL
        if found:
            index, mech = found[0]
            evidence.append(facts.evidence(f"{what}: {mech['aspect']} {list(mech['algorithms'])}",
                                           "crypto_mechanisms", index))
        else:
            evidence.append(facts.evidence(f"{what}: no mechanism declared", "crypto_mechanisms"))
    if intact and secret:
        return Outcome(Status.PASS, "通信传输的完整性与保密性均采用密码技术 / transport protected by cryptography",
                       tuple(evidence), per)
    status = Status.PARTIAL if (intact or secret) else Status.FAIL
    return Outcome(status, "通信传输缺少密码技术保护 / transport not protected by cryptography",
                   tuple(evidence), per)


# ------------------------------------------------------------------------------------------ continuity


@manifest.rule(
    id="XZ-MAN-CONTINUITY",
    title="RPO/RTO、备份保留期与灾备等级符合等级要求 (阈值可配置)",
    title_en="RPO/RTO, backup retention and DR tier fit the level (configurable thresholds)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.9.a", f"{G22239}:{{L}}.1.4.9.b"),
    levels=(2, 3, 4),
    remediation="按等级调整 spec.continuity: rpo_minutes ≤ ${max_rpo_minutes}, rto_minutes ≤ ${max_rto_minutes}, "
                "backup.retention_days ≥ ${min_backup_retention_days}, dr_tier ≥ ${min_dr_tier} (阈值可在 "
                "compliance/config.yaml 配置) / meet the level's continuity thresholds",
    facts=("classification", "continuity"),
)
def continuity(facts: Facts) -> Outcome:
    """RPO and backup retention (local backup, item a) and RTO and DR tier (remote backup, item b) meet the
    configured thresholds of the system's 等保 level."""
    level = _level(facts)
    limits = continuity_for(facts.get("thresholds"), level)
    c = facts["continuity"]
    local: list[Evidence] = []
    remote: list[Evidence] = []
    if c["rpo_minutes"] > limits["max_rpo_minutes"]:
        local.append(facts.evidence(f"rpo_minutes={c['rpo_minutes']} > {limits['max_rpo_minutes']}", "continuity",
                                    "rpo_minutes"))
    if c["backup_retention_days"] < limits["min_backup_retention_days"]:
        local.append(facts.evidence(f"backup retention {c['backup_retention_days']} d < "
                                    f"{limits['min_backup_retention_days']} d", "continuity", "backup_retention_days"))
    if c["rto_minutes"] > limits["max_rto_minutes"]:
        remote.append(facts.evidence(f"rto_minutes={c['rto_minutes']} > {limits['max_rto_minutes']}", "continuity",
                                     "rto_minutes"))
    if c["dr_tier"] < limits["min_dr_tier"]:
        remote.append(facts.evidence(f"dr_tier={c['dr_tier']} < {limits['min_dr_tier']}", "continuity", "dr_tier"))
    per = {f"{G22239}:{{L}}.1.4.9.a": Status.FAIL if local else Status.PASS,
           f"{G22239}:{{L}}.1.4.9.b": Status.FAIL if remote else Status.PASS}
    if local or remote:
        status = Status.FAIL if (local and remote) else Status.PARTIAL
        return Outcome(status, f"连续性指标不满足 {level} 级阈值 / continuity below level-{level} thresholds",
                       tuple(local + remote), per)
    return Outcome(Status.PASS, f"连续性指标满足 {level} 级阈值 / meets level-{level} thresholds",
                   (facts.evidence(f"rpo={c['rpo_minutes']}m rto={c['rto_minutes']}m retention="
                                   f"{c['backup_retention_days']}d dr_tier={c['dr_tier']}", "continuity"),), per)


@manifest.rule(
    id="XZ-MAN-LOG-RETENTION",
    title="审计日志留存不少于 180 天 (网络安全法第二十一条)",
    title_en="Audit logs are kept at least 180 days (Cybersecurity Law art. 21)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.5.4.d", f"{G22239}:{{L}}.1.4.3.c", f"{G22239}:{{L}}.1.3.5.c"),
    levels=(2, 3, 4),
    remediation="将 spec.audit.retention_days 设为 ≥ ${min_log_retention_days} 并上送日志中心 "
                "/ keep audit logs ≥ ${min_log_retention_days} days",
    facts=("audit",),
)
def log_retention(facts: Facts) -> Outcome:
    """The declared audit-log retention is at least the configured minimum (180 days)."""
    minimum = int(threshold(facts.get("thresholds"), "min_log_retention_days"))
    days = int(facts["audit"]["retention_days"])
    evidence = facts.evidence(f"audit.retention_days={days} → {facts['audit'].get('destination')}", "audit",
                              "retention_days")
    if days < minimum:
        return failed(f"审计日志留存 {days} 天 < {minimum} 天 / retention below {minimum} days", evidence)
    return passed(f"审计日志留存 {days} 天 / retention {days} days", evidence)


@manifest.rule(
    id="XZ-MAN-FILING",
    title="二级及以上系统已向公安机关备案 (具有备案编号)",
    title_en="Level-2+ systems have a filing number (备案编号)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.9.1.d",),
    levels=(2, 3, 4),
    remediation="完成定级备案后在 spec.classification.filing_number 填写公安机关备案编号 (11 位-5 位) "
                "/ record the filing number",
    facts=("classification",),
)
def filing(facts: Facts) -> Outcome:
    """A level-2+ system records its public-security filing number."""
    classification = facts["classification"]
    number = classification.get("filing_number")
    if not number:
        return failed(f"等保 {_level(facts)} 级系统缺少备案编号 / no filing number",
                      facts.evidence("classification.filing_number missing", "classification"))
    return passed(f"备案编号 {number}", facts.evidence(f"filing_number={number}", "classification",
                                                    "filing_number"))


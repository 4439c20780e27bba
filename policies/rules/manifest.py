"""Design rules over the register (and, where the facts exist elsewhere, over other points too).

Facts come from ``xzgov.facts.manifest.manifest_facts``; each rule names the keys it reads.
"""

from __future__ import annotations

import ipaddress
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
    nothing_to_judge,
    outcome_of,
    partial,
    passed,
)
from policies.rules.checks import SubChecks
from xzgov.core.clock import days_between
from xzgov.core.cron import CronError, max_gap_minutes
from xzgov.core.model import FAILED_CONCLUSIONS
from xzgov.facts.baseline import (
    APPROVED_ALGORITHMS,
    CONFIDENTIALITY_PURPOSES,
    CRYPTO_UNIT_TITLES,
    CRYPTO_UNITS,
    FACTOR_KINDS,
    FILING_GRACE_DAYS,
    FILING_LEVELS,
    IMPORTANT_DATA_CLASSES,
    LOGIN_UNIT,
    NA_EXEMPTED,
    NA_OPTIONAL,
    PROTECTED_DATA,
    SM_CIPHERS,
    WEAK_ALGORITHMS,
    crypto_not_applicable,
    filing_in_grace,
    keeps_secret,
    keys_certified,
    login_without_cryptography,
)
from xzgov.facts.thresholds import continuity_for, threshold, threshold_at

manifest = RuleSet()

G22239 = "GB/T 22239-2019"
G39786 = "GB/T 39786-2021"

def _level(facts: Facts) -> int:
    return int(facts["classification"]["level"])


def _crypto_level(facts: Facts) -> int:
    classification = facts["classification"]
    return int(classification.get("crypto_level", classification["level"]))


def _min_module_level(facts: Facts) -> int:
    """The GM/T 0028 module level the system's 密评 level needs of its crypto products (``min_module_level``)."""
    return int(threshold(facts.get("thresholds"), "min_module_level")[_crypto_level(facts)])


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
    """Both user and administrator logins combine factors of two or more kinds (:data:`FACTOR_KINDS`: an SM2
    certificate and the UKey holding it are one cryptographic technique), at least one cryptographic."""
    auth = facts["authentication"]
    cryptographic = set(auth.get("cryptographic", ()))
    problems: list[Evidence] = []
    for role, key in (("用户 users", "factors"), ("管理员 administrators", "admin_factors")):
        factors = list(dict.fromkeys(auth.get(key, ())))
        crypto = [f for f in factors if f in cryptographic]
        kinds = {FACTOR_KINDS.get(f, f) for f in factors}
        if len(kinds) < 2 or not crypto:
            problems.append(facts.evidence(f"{role}: {key}={factors} ({len(kinds)} kind(s): {sorted(kinds)}; "
                                           f"cryptographic: {crypto or 'none'})", "authentication", key))
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
    if not exposure.get("internet_facing"):  # the items still apply (zones, boundaries): other rules or the assessor
        return nothing_to_judge("系统不面向互联网 / not internet-facing")
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
    controls=(f"{G22239}:{{L}}.1.3.2.a", f"{G22239}:{{L}}.1.3.2.b", f"{G22239}:{{L}}.1.10.6.j"),
    remediation="为使用的每个公共支撑服务声明 flows; 目标区域须在 region.yaml 中允许来自本区域的访问; "
                "端口与目标服务一致 / declare a flow per used service, matching ports and zone reachability",
    facts=("flows", "service_usage"),
)
def declared_flows(facts: Facts) -> Outcome:
    """Each declared flow is permitted by the region's zone graph and uses a port the target declares; every
    shared service the system uses has a declared flow. The declared flows, onboarded through a change ticket,
    are the system's authorised external connections (8.1.10.6.j: evidence; the periodic check for violations
    stays with the assessor)."""
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


def _mechanisms_by_unit(facts: Facts) -> dict[tuple[str, str], list[tuple[int, Mapping[str, Any]]]]:
    """``(aspect, purpose)`` → the declared mechanisms with their index, in declaration order: what
    :func:`_mechanisms` answers for each pair, from one pass (the 密评 rules ask for all 22 units)."""
    found: dict[tuple[str, str], list[tuple[int, Mapping[str, Any]]]] = {}
    for index, mech in enumerate(facts["crypto_mechanisms"]):
        found.setdefault((mech["aspect"], mech["purpose"]), []).append((index, mech))
    return found


#: Every GB/T 39786 unit id, in :data:`CRYPTO_UNITS` order.
_UNIT_IDS = tuple(unit for _, _, unit in CRYPTO_UNITS)
#: ``(aspect, purpose)`` → the GB/T 39786 units it serves, in :data:`CRYPTO_UNITS` order.
UNITS_OF: Mapping[tuple[str, str], tuple[str, ...]] = {
    (aspect, purpose): tuple(u for a, p, u in CRYPTO_UNITS if (a, p) == (aspect, purpose))
    for aspect, purpose, _ in CRYPTO_UNITS}


def _products(facts: Facts) -> dict[str, Mapping[str, Any]]:
    return {p["id"]: p for p in facts["crypto_products"]}


@manifest.rule(
    id="XZ-MAN-PI-STORAGE",
    title="处理个人信息或重要数据的系统声明存储机密性 (SM4) 与存储完整性 (SM3) 或使用认证密码产品",
    title_en="Systems with personal information or important data protect storage confidentiality with SM4 "
             "and integrity with SM3 (or certified products)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.8.b", f"{G22239}:{{L}}.1.4.7.b", f"{G22239}:{{L}}.1.4.11.b"),
    levels=(2, 3, 4),
    remediation="在 spec.crypto.application.mechanisms 中声明 storage-confidentiality: [SM4] 与 "
                "storage-integrity: [SM3] (或 SM2 签名), 并关联认证的密码产品 "
                "/ declare SM4 storage encryption and SM3 integrity",
    facts=("classification", "crypto_mechanisms", "crypto_products"),
)
def pi_storage(facts: Facts) -> Outcome:
    """A system that handles personal information or important data (重要数据/核心数据) declares
    application-level storage confidentiality with SM4 and storage integrity with SM3 (or SM2 signatures), or a
    certified product providing them. A purpose with no mechanism fails its item (stored in plain); one declared
    with other algorithms meets it in part. 个人信息保护 (8.1.4.11.b) is judged for personal information only, and
    in part at most (storage protection is one measure of it, not the unauthorised use it is about)."""
    classification = facts["classification"]
    personal = bool(classification.get("personal_information"))
    # Storage integrity/confidentiality items (8.1.4.7.b, 8.1.4.8.b) exist from level 3: below it only 个人信息
    # 保护 applies, so important data alone makes the rule apply at level 3+.
    important = classification.get("data_class") in IMPORTANT_DATA_CLASSES and _level(facts) >= 3
    if not personal and not important:
        # 个人信息保护 does not apply; the storage items do (鉴别数据, audit records and configuration are important
        # data of every system): this rule has nothing to judge of them
        return outcome_of(Status.NOT_APPLICABLE, "系统不处理个人信息 (或三级及以上的重要数据) / neither personal "
                          "information nor (level 3+) important data", (),
                          silent=frozenset({f"{G22239}:{{L}}.1.4.8.b", f"{G22239}:{{L}}.1.4.7.b"}))
    products = _products(facts)
    problems: list[Evidence] = []
    good: list[Evidence] = []
    per: dict[str, Status] = {}
    own: dict[str, tuple[Evidence, ...]] = {}
    for purpose, wanted, control in (("storage-confidentiality", {"SM4"}, f"{G22239}:{{L}}.1.4.8.b"),
                                     ("storage-integrity", {"SM3", "SM2"}, f"{G22239}:{{L}}.1.4.7.b")):
        found = _mechanisms(facts, "application", purpose)
        # a certified product's mechanism counts with approved algorithms that give the purpose: SM3 (a hash) keeps
        # nothing secret, whoever made the product
        ok = [(i, m) for i, m in found
              if wanted & set(m["algorithms"]) or (m.get("product") in products
                                                   and set(m["algorithms"]) <= APPROVED_ALGORITHMS
                                                   and (purpose not in CONFIDENTIALITY_PURPOSES
                                                        or keeps_secret(m["algorithms"])))]
        if ok:
            index, mech = ok[0]
            good.append(facts.evidence(f"{purpose}: {mech['algorithms']} product={mech.get('product')}",
                                       "crypto_mechanisms", index))
            per[control] = Status.PASS
            own[control] = (good[-1],)
        else:
            seen = [list(m["algorithms"]) for _, m in found]
            where = found[0][0] if found else None
            problems.append(facts.evidence(f"application {purpose}: {seen or 'not declared'} (need {sorted(wanted)})",
                                           "crypto_mechanisms", *(() if where is None else (where,))))
            # declared with other algorithms (AES …): protected, not as the standard asks — in part; none, or only
            # what encrypts nothing (SM3 for confidentiality): in plain
            protecting = [m for _, m in found
                          if purpose not in CONFIDENTIALITY_PURPOSES or keeps_secret(m["algorithms"])]
            per[control] = Status.PARTIAL if protecting else Status.FAIL
            own[control] = (problems[-1],)
    # 个人信息保护 (personal data only): storage protection falling short weakens it, but is not the unauthorised
    # access or use the item (and its high-risk case 6.4.7.2, 违规访问和使用个人信息) is about — in part at most
    per[f"{G22239}:{{L}}.1.4.11.b"] = (Status.NOT_APPLICABLE if not personal
                                       else Status.PARTIAL if problems else Status.PASS)
    if personal:
        own[f"{G22239}:{{L}}.1.4.11.b"] = tuple(problems + good)
    if problems:
        judged = [status for status in per.values() if status is not Status.NOT_APPLICABLE]
        status = Status.FAIL if all(status is Status.FAIL for status in judged) else Status.PARTIAL
        return Outcome(status, "个人信息存储保护未采用 SM4/SM3 / personal data at rest not protected with SM4/SM3",
                       tuple(problems + good), per, own)
    return Outcome(Status.PASS, "个人信息存储机密性与完整性采用国密算法 / SM4 + SM3 at rest", tuple(good), per, own)


#: How crypto_algorithms names a unit in its evidence: ``aspect/title (strength)``.
_UNIT_NAMES: Mapping[tuple[str, str, str], str] = {
    (aspect, purpose, strength): f"{aspect}/{CRYPTO_UNIT_TITLES[unit]} ({strength})"
    for aspect, purpose, unit in CRYPTO_UNITS for strength in ("应", "宜", "可")}


#: Per GB/T 39786 unit, in :data:`CRYPTO_UNITS` order: its ``(aspect, purpose)``, its id and its
#: :data:`_UNIT_NAMES` by strength (crypto_algorithms walks all 22 units of every system: no key built per unit).
_UNIT_ROWS: tuple[tuple[tuple[str, str], str, Mapping[str, str]], ...] = tuple(
    ((aspect, purpose), unit, {strength: _UNIT_NAMES[(aspect, purpose, strength)] for strength in ("应", "宜", "可")})
    for aspect, purpose, unit in CRYPTO_UNITS)


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
                "替换 RSA/AES/SHA-256/TLS1.2 等; 不实施的宜/可单元在 spec.crypto.<aspect>.not_applicable 中记录理由 "
                "/ use SM algorithms for every mandatory unit; justify 宜/可 units not implemented",
    facts=("classification", "crypto_mechanisms", "crypto_requirements", "crypto_exemptions", "authentication",
           "crypto_products"),
)
def crypto_algorithms(facts: Facts) -> Outcome:
    """For each GB/T 39786 technical unit whose strength at the system's 密评 level is 应, a mechanism is
    declared and every algorithm it uses is an approved SM algorithm or protocol; this decides the rule's
    status. 宜/可 units are judged per item as well (declared with SM algorithms → pass; non-SM → fail;
    an undeclared 宜 unit fails, as the 密评 score counts it, unless the 密码应用方案 declares it not applicable with
    a reason (``spec.crypto.<aspect>.not_applicable``, 2023 rules); an undeclared 可 unit is not applicable)
    without changing the rule's status. A unit whose mechanisms are sound but keep their keys outside a certified
    product of the configured GM/T 0028 module level (K, :func:`keys_certified`: the 密评 card scores it 0.5) is
    部分符合, without changing the rule's status either (XZ-MAN-CRYPTO-PRODUCTS judges the products). A 应 unit
    cannot be declared not applicable. Missing mechanisms are
    located at their aspect (``spec.crypto.<aspect>``). An application identity mechanism no login uses (no
    cryptographic factor in ``spec.authentication``: :func:`login_without_cryptography`) fails its unit like a
    missing one."""
    per: dict[str, Status] = {}
    own: dict[str, tuple[Evidence, ...]] = {}  # each unit's pieces: what its item shows
    problems: list[Evidence] = []
    advisory: list[Evidence] = []
    good: list[Evidence] = []
    optional: list[Evidence] = []  # 可 units not implemented: why their items are not applicable
    exemptions = facts["crypto_exemptions"]
    requirements = facts["crypto_requirements"]
    by_unit = _mechanisms_by_unit(facts)
    products = _products(facts)
    minimum = _min_module_level(facts)
    # the units that drop out (undeclared 可, exempted 宜): the one rule the 密评 score card asks too
    rows = ((unit, str(requirements.get(unit, "不适用")), pair) for pair, unit, _ in _UNIT_ROWS)  # as _strength
    dropped = crypto_not_applicable(rows, facts["crypto_mechanisms"], exemptions)
    mandatory = 0
    for pair, unit, names in _UNIT_ROWS:
        strength = str(requirements.get(unit, "不适用"))  # as _strength
        name = names.get(strength)
        if name is None:  # neither 应, 宜 nor 可
            per[unit] = Status.NOT_APPLICABLE
            continue
        if strength == "应":
            mandatory += 1
        found = by_unit.get(pair)
        sink = problems if strength == "应" else advisory
        if not found:
            why, index = dropped.get(unit, ("", None))
            if why == NA_OPTIONAL:
                # 2023 rules: an optional (可) mechanism the system does not implement is not a failure.
                per[unit] = Status.NOT_APPLICABLE
                optional.append(facts.evidence(f"{name}: 未实施, 不适用 (2023 规则) / not implemented: not applicable",
                                               "crypto_mechanisms", pair[0]))
                own[unit] = (optional[-1],)
                continue
            if why == NA_EXEMPTED and index is not None:
                # 2023 rules: a 宜 unit the scheme justifies as not applicable drops out of the score.
                per[unit] = Status.NOT_APPLICABLE
                good.append(facts.evidence(f"{name}: not applicable — {exemptions[index]['reason']}",
                                           "crypto_exemptions", index))
                own[unit] = (good[-1],)
                continue
            # An unimplemented 应/宜 unit is not satisfied (密评 scores it 0); only 应 units decide the rule.
            per[unit] = Status.FAIL
            sink.append(facts.evidence(f"{name}: no mechanism declared", "crypto_mechanisms", pair[0]))
            own[unit] = (sink[-1],)
            continue
        unused = login_without_cryptography(facts["authentication"]) if pair == LOGIN_UNIT else None
        if unused is not None:  # the SM2 login the plan declares is not the one anyone uses
            per[unit] = Status.FAIL
            sink.append(facts.evidence(f"{name}: {list(found[0][1]['algorithms'])} {unused}", "authentication"))
            own[unit] = (sink[-1],)
            continue
        # (issuperset first: most mechanisms use approved algorithms only, and need no set of the others)
        bad = [(i, sorted(set(m["algorithms"]) - APPROVED_ALGORITHMS)) for i, m in found
               if not APPROVED_ALGORITHMS.issuperset(m["algorithms"])]
        # a confidentiality unit's mechanism must encrypt: SM3 alone (a hash) is approved and keeps nothing secret
        plain = [i for i, m in found if m["purpose"] in CONFIDENTIALITY_PURPOSES and not keeps_secret(m["algorithms"])]
        if plain and not bad:
            per[unit] = Status.FAIL
            for index in plain:
                sink.append(facts.evidence(f"{name}: {list(facts['crypto_mechanisms'][index]['algorithms'])} encrypt "
                                           f"nothing (need {'/'.join(sorted(SM_CIPHERS))} or an SM channel protocol)",
                                           "crypto_mechanisms", index))
            own[unit] = tuple(sink[len(sink) - len(plain):])
            continue
        if bad:
            per[unit] = Status.FAIL
            for index, algorithms in bad:
                sink.append(facts.evidence(f"{name}: non-SM algorithms {algorithms}", "crypto_mechanisms", index))
            own[unit] = tuple(sink[len(sink) - len(bad):])
        else:
            keys = [i for i, m in found if not keys_certified(m, products, minimum)]
            if keys:  # K: the algorithms are sound, the keys are not kept in a certified product of the level
                per[unit] = Status.PARTIAL
                for index in keys:
                    advisory.append(facts.evidence(
                        f"{name}: 密钥未由 GM/T 0028 {minimum} 级及以上的认证产品保护 (K 不符合, 密评按 0.5 计) "
                        f"/ keys not in a certified product of module level ≥ {minimum} "
                        f"({facts['crypto_mechanisms'][index].get('product') or 'no product'})",
                        "crypto_mechanisms", index))
                own[unit] = tuple(advisory[len(advisory) - len(keys):])
                continue
            per[unit] = Status.PASS
            good.append(facts.evidence(f"{name}: {list(found[0][1]['algorithms'])}", "crypto_mechanisms",
                                       found[0][0]))
            own[unit] = (good[-1],)
    if not mandatory:
        return Outcome(Status.NOT_APPLICABLE, f"密评 {_crypto_level(facts)} 级无\"应\"的技术单元 / no mandatory unit",
                       tuple(advisory + good + optional), per, own)
    if problems:
        # the message is every failing unit's note too (宜 units, an unused login): what they share, not "应"
        return Outcome(Status.FAIL, "密码应用单元未实施或未采用国密算法 (\"应\"的单元判定本规则) / units without SM "
                       "cryptography (the mandatory ones fail the rule)",
                       tuple(problems + advisory + good + optional), per, own)
    return Outcome(Status.PASS, f"{mandatory} 个\"应\"的单元均采用国密算法 / all mandatory units use SM "
                   "algorithms", tuple(good + advisory + optional), per, own)


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
    minimum = _min_module_level(facts)
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
    requirements = facts["crypto_requirements"]
    # the (aspect, purpose) of every 应 unit, once: a mechanism is mandatory when it serves one
    required = {pair for pair, unit, _ in _UNIT_ROWS if str(requirements.get(unit, "不适用")) == "应"}  # as _strength
    for index, mech in enumerate(facts["crypto_mechanisms"]):
        if (mech["aspect"], mech["purpose"]) not in required:
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
    # a confidentiality mechanism that encrypts nothing (SM3 alone, a hash) protects no secret
    secret = [(i, m) for i, m in declared
              if m["purpose"] == "transport-confidentiality" and keeps_secret(m["algorithms"])]
    intact = [(i, m) for i, m in declared if m["purpose"] == "transport-integrity"
              or (m["purpose"] == "transport-confidentiality" and set(m["algorithms"]) & CHANNEL_PROTOCOLS)]
    per: dict[str, Status] = {}
    own: dict[str, tuple[Evidence, ...]] = {}
    evidence: list[Evidence] = []
    for found, controls, what in ((intact, TRANSPORT_INTEGRITY, "transport-integrity"),
                                  (secret, TRANSPORT_CONFIDENTIALITY, "transport-confidentiality")):
        hashed = [(i, m) for i, m in declared if m["purpose"] == what and not found]
        if found:
            index, mech = found[0]
            evidence.append(facts.evidence(f"{what}: {mech['aspect']} {list(mech['algorithms'])}",
                                           "crypto_mechanisms", index))
        elif hashed and what == "transport-confidentiality":  # declared, with nothing that encrypts
            index, mech = hashed[0]
            evidence.append(facts.evidence(f"{what}: {mech['aspect']} {list(mech['algorithms'])} encrypt nothing",
                                           "crypto_mechanisms", index))
        else:
            evidence.append(facts.evidence(f"{what}: no mechanism declared", "crypto_mechanisms"))
        for control in controls:
            per[control] = Status.PASS if found else Status.FAIL
            own[control] = (*own.get(control, ()), evidence[-1])  # an item in both lists shows both
    if intact and secret:
        return Outcome(Status.PASS, "通信传输的完整性与保密性均采用密码技术 / transport protected by cryptography",
                       tuple(evidence), per, own)
    status = Status.PARTIAL if (intact or secret) else Status.FAIL
    return Outcome(status, "通信传输缺少密码技术保护 / transport not protected by cryptography",
                   tuple(evidence), per, own)


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
        # the half that meets its thresholds says so: its item shows that, not the other half's shortfall
        if not local:
            local.append(facts.evidence(f"rpo_minutes={c['rpo_minutes']} ≤ {limits['max_rpo_minutes']}, backup "
                                        f"retention {c['backup_retention_days']} d ≥ "
                                        f"{limits['min_backup_retention_days']} d", "continuity"))
        if not remote:
            remote.append(facts.evidence(f"rto_minutes={c['rto_minutes']} ≤ {limits['max_rto_minutes']}, "
                                         f"dr_tier={c['dr_tier']} ≥ {limits['min_dr_tier']}", "continuity"))
        return Outcome(status, f"连续性指标不满足 {level} 级阈值 / continuity below level-{level} thresholds",
                       tuple(local + remote), per, {f"{G22239}:{{L}}.1.4.9.a": tuple(local),
                                                    f"{G22239}:{{L}}.1.4.9.b": tuple(remote)})
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
    levels=FILING_LEVELS,
    remediation="完成定级备案后在 spec.classification.filing_number 填写公安机关备案编号 (11 位-5 位) 与 "
                "filing_date; lifecycle.go_live 记录上线日期 (备案须在其后 30 日内) / record the filing number",
    facts=("classification", "lifecycle", "as_of"),
)
def filing(facts: Facts) -> Outcome:
    """A level-2+ system records its public-security filing number. Filing is due within 30 days of going live
    (公安机关备案): a planned system, or one whose recorded go-live (``lifecycle.go_live``) is less than 30 days
    before the scan day, is not yet due (a planned system: not applicable; a live one in its grace: nothing to judge,
    the item stays 未测 until the number is recorded); a filing dated more than 30 days after go-live was
    late (partial: the number is there, the deadline was missed)."""
    status = facts["lifecycle"].get("status")
    if status == "planned":
        return not_applicable("系统尚未上线 (planned): 上线后 30 日内备案 / not live yet: filing is due within 30 "
                              "days of going live", facts.evidence("lifecycle.status=planned", "lifecycle", "status"))
    go_live = facts["lifecycle"].get("go_live")
    since = days_between(go_live, facts["as_of"])
    number = facts["classification"].get("filing_number")
    if not number and filing_in_grace(go_live, facts["as_of"]):
        # not late yet, not filed either: the item stays open until the number is recorded or the grace ends
        return nothing_to_judge(f"上线 {since} 天, 备案截止 {FILING_GRACE_DAYS} 天 / live {since} days: filing due "
                              f"within {FILING_GRACE_DAYS} days", facts.evidence(f"go_live={go_live}, as of "
                                                                                 f"{facts['as_of']}", "lifecycle"))
    late = days_between(go_live, facts["classification"].get("filing_date") or "")
    if number and late is not None and late > FILING_GRACE_DAYS:
        return partial(f"备案编号 {number}, 但备案晚于上线后 {FILING_GRACE_DAYS} 日 / filed {late} days after "
                       "going live",
                       facts.evidence(f"go_live={go_live}, filing_date={facts['classification'].get('filing_date')}",
                                      "classification", "filing_number"))
    if not number:
        return failed(f"等保 {_level(facts)} 级系统缺少备案编号 / no filing number",
                      facts.evidence("classification.filing_number missing", "classification"))
    return passed(f"备案编号 {number}", facts.evidence(f"filing_number={number}", "classification",
                                                    "filing_number"))



@manifest.rule(
    id="XZ-MAN-CRYPTO-LEVEL",
    title="密评等级不低于等保等级, 除非经批准的密码应用方案确定了较低等级并记录理由",
    title_en="The 密评 level is not below the 等保 level unless an approved 密码应用方案 decided it (recorded)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.9.1.a", f"{G22239}:{{L}}.1.9.2.b", f"{G39786}:8.7.a"),
    remediation="将 spec.classification.crypto_level 设为等保等级 (或删除该字段, 默认即等保等级); 确需较低密评等级时, "
                "在 spec.classification.crypto_level_decision 记录经批准的密码应用方案 (scheme 方案编号, reason, "
                "approver {name, role}, approved 日期) / declare crypto_level ≥ level, or record the approved "
                "密码应用方案 decision",
    facts=("classification", "as_of"),
)
def crypto_level(facts: Facts) -> Outcome:
    """A declared 密评 level below the 等保 level turns 应 units into 宜/可 and lowers the module-level minimum,
    so it needs a recorded justification: an approved 密码应用方案 decision (scheme id, reason, approver with
    role, approval date). Without one — or with one that lacks any of these — it is a finding."""
    level, crypto = _level(facts), _crypto_level(facts)
    decision = facts["classification"].get("crypto_level_decision")
    where = ("classification", "crypto_level")
    if crypto >= level:
        return passed(f"密评 {crypto} 级 ≥ 等保 {level} 级 / 密评 level {crypto} ≥ 等保 level {level}",
                      facts.evidence(f"level={level}, crypto_level={crypto}", *where))
    if not isinstance(decision, Mapping):
        return failed(f"密评 {crypto} 级低于等保 {level} 级且无经批准的密码应用方案依据 / 密评 level {crypto} below "
                      f"等保 level {level} without an approved 密码应用方案 decision",
                      facts.evidence(f"level={level}, crypto_level={crypto}, crypto_level_decision: none", *where))
    missing = [name for name in ("scheme", "reason", "approver_name", "approver_role", "approved")
               if not str(decision.get(name) or "").strip()]
    if missing:
        return failed(f"密评等级依据不完整: 缺少 {', '.join(missing)} / the decision lacks {', '.join(missing)}",
                      facts.evidence(f"crypto_level_decision missing {missing}", "classification",
                                     "crypto_level_decision"))
    since = days_between(str(decision["approved"]), facts["as_of"])
    if since is None or since < 0:  # a decision dated after the judged day (or no date at all) is not approved yet
        return failed(f"密码应用方案的批准日期 {decision['approved']} 晚于评判日 {facts['as_of']} (或无效) / the "
                      "decision is not approved as of the judged day",
                      facts.evidence(f"crypto_level_decision.approved={decision['approved']}, as of {facts['as_of']}",
                                     "classification", "crypto_level_decision"))
    return passed(f"密评 {crypto} 级 (等保 {level} 级) 依据密码应用方案 {decision['scheme']}, "
                  f"{decision['approver_role']} {decision['approver_name']} 于 {decision['approved']} 批准 / "
                  f"lower 密评 level justified by an approved scheme",
                  facts.evidence(f"crypto_level={crypto}, scheme={decision['scheme']}, "
                                 f"approved={decision['approved']}, reason={decision['reason']}",
                                 "classification", "crypto_level_decision"))



#: How crypto_weak's evidence lists the weak algorithms (formatted once, not per system).
_WEAK_SHOWN = str(sorted(WEAK_ALGORITHMS))


@manifest.rule(
    id="XZ-MAN-CRYPTO-WEAK",
    title="不得声明使用已被攻破或强度不足的密码算法 (MD5、SHA-1、DES/3DES、RC4、RSA-1024), 无论该单元为应/宜/可",
    title_en="No declared mechanism uses a broken or weak algorithm (MD5, SHA-1, DES/3DES, RC4, RSA < 2048), "
             "whatever the unit's strength",
    severity=Severity.HIGH,
    controls=(*(unit for _, _, unit in CRYPTO_UNITS), f"{G22239}:{{L}}.1.10.9.a"),
    levels=(2, 3, 4),
    remediation="从 spec.crypto.<aspect>.mechanisms 中删除 MD5/SHA-1/DES/3DES/RC4/RSA-1024, 改用 SM2/SM3/SM4 "
                "(传输用 TLCP) / replace weak algorithms with SM2/SM3/SM4",
    facts=("classification", "crypto_mechanisms"),
)
def crypto_weak(facts: Facts) -> Outcome:
    """A declared weak mechanism is worse than none: every declared mechanism, in 应, 宜 and 可 units alike and at
    every 密评 level (level 2 has no 应 unit, so the algorithm rule decides nothing there), uses no broken or
    sub-112-bit algorithm. The 密评 unit of each weak mechanism fails, and so does 遵循密码标准 (8.1.10.9.a)."""
    per: dict[str, Status] = {}
    own: dict[str, tuple[Evidence, ...]] = {}  # a failed unit's weak mechanisms: what its item shows
    problems: list[Evidence] = []
    fail, ok = Status.FAIL, Status.PASS
    for index, mech in enumerate(facts["crypto_mechanisms"]):
        units = UNITS_OF.get((mech["aspect"], mech["purpose"]), ())
        if WEAK_ALGORITHMS.isdisjoint(mech["algorithms"]):
            for unit in units:
                per.setdefault(unit, ok)
            continue
        for unit in units:
            per[unit] = fail
        weak = sorted(set(mech["algorithms"]) & WEAK_ALGORITHMS)
        problems.append(facts.evidence(f"{mech['aspect']}/{mech['purpose']}: weak algorithms {weak}",
                                       "crypto_mechanisms", index))
        for unit in units:
            own[unit] = (*own.get(unit, ()), problems[-1])
    for unit in _UNIT_IDS:
        per.setdefault(unit, Status.NOT_APPLICABLE)  # nothing declared there: judged by the algorithm rule
    per[f"{G22239}:{{L}}.1.10.9.a"] = Status.FAIL if problems else Status.PASS
    if problems:
        own[f"{G22239}:{{L}}.1.10.9.a"] = tuple(problems)
        return Outcome(Status.FAIL, "声明了弱密码算法 / weak algorithms declared", tuple(problems), per, own)
    declared = len(facts["crypto_mechanisms"])
    return Outcome(Status.PASS, f"{declared} 个密码机制均未使用弱算法 / no weak algorithm in {declared} mechanisms",
                   (facts.evidence(f"{declared} mechanisms, none of {_WEAK_SHOWN}", "crypto_mechanisms"),),
                   per)


@manifest.rule(
    id="XZ-MAN-ENDPOINT-TLS",
    title="对外发布的访问地址使用 HTTPS (通信传输采用密码技术保护)",
    title_en="Published endpoints use HTTPS (data in transit protected by cryptography)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.2.2.a", f"{G22239}:{{L}}.1.2.2.b"),
    levels=(2, 3, 4),
    remediation="将 spec.exposure.endpoints 改为 https:// 地址 (TLCP/TLS 终结于互联网接入区的反向代理) "
                "/ publish https:// endpoints only",
    facts=("exposure",),
)
def endpoint_tls(facts: Facts) -> Outcome:
    """Every published endpoint is an ``https://`` URL: a plain ``http://`` endpoint carries data in clear, so
    neither integrity (a) nor confidentiality (b) of the communication is protected."""
    endpoints = list(facts["exposure"].get("endpoints") or [])
    if not endpoints:
        return nothing_to_judge("未发布访问地址 / no published endpoint")  # its other traffic still travels
    plain = [(i, e) for i, e in enumerate(endpoints) if not str(e).lower().startswith("https://")]
    if plain:
        return failed(f"{len(plain)} 个访问地址未使用 HTTPS / endpoints without HTTPS",
                      *(facts.evidence(f"endpoint {e}", "exposure", "endpoints", i) for i, e in plain))
    return passed(f"{len(endpoints)} 个访问地址均为 HTTPS / all endpoints use HTTPS",
                  facts.evidence(", ".join(map(str, endpoints)), "exposure"))


@manifest.rule(
    id="XZ-MAN-ZONE-PLACEMENT",
    title="系统按区域规划部署: 不面向互联网的系统不得位于互联网接入区, 主机地址属于所在区域在本站点的地址段",
    title_en="Systems follow the zone plan: no non-internet system in the internet-access zone; host addresses "
             "inside the zone's range at the site",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.2.1.c",),
    levels=(2, 3, 4),
    remediation="将不面向互联网的系统迁出互联网接入区 (spec.placement.zone), 主机地址 (spec.hosts[].address) 使用 "
                "region.yaml 中该区域在所在站点的地址段 / move the system out of the internet-access zone; use "
                "addresses of the zone's CIDR at the site",
    facts=("exposure", "inventory"),
)
def zone_placement(facts: Facts) -> Outcome:
    """The network is divided into zones with an address plan (8.1.2.1.c): a system that does not face the
    internet does not sit in the internet-access zone (unless it is the zone's boundary facility: it
    reverse-proxies to internet-facing systems), and each declared host address lies in the CIDR of the
    system's zone at its site."""
    exposure, inventory = facts["exposure"], facts["inventory"]
    problems: list[Evidence] = []
    if (exposure.get("zone_kind") == "internet-access" and not exposure.get("internet_facing")
            and not exposure.get("fronts")):
        problems.append(facts.evidence(f"internet_facing=false and fronts no internet-facing system, but zone "
                                       f"{exposure.get('zone')} is the internet-access zone", "exposure", "zone"))
    cidr = inventory.get("zone_cidr")
    network = ipaddress.ip_network(cidr) if cidr else None
    hosts = inventory.get("hosts") or []
    if hosts and network is None:
        problems.append(facts.evidence(f"zone {exposure.get('zone')} has no address range at site "
                                       f"{inventory.get('site')}", "exposure", "zone"))
    for index, host in enumerate(hosts):
        if network is not None and ipaddress.ip_address(host["address"]) not in network:
            problems.append(facts.evidence(f"host {host['hostname']} {host['address']} outside {cidr}",
                                           "inventory", "hosts", index))
    if problems:
        return failed("系统部署与区域规划不一致 / placement does not follow the zone plan", *problems)
    return passed(f"区域 {exposure.get('zone')} ({cidr}), {len(hosts)} 台主机地址均在区域地址段内 / placement follows "
                  "the zone plan", facts.evidence(f"zone={exposure.get('zone')} cidr={cidr} hosts="
                                                  f"{[h['address'] for h in hosts]}", "exposure", "zone"))


@manifest.rule(
    id="XZ-MAN-REDUNDANCY",
    title="重要数据处理系统热冗余: 工作负载副本数满足等级要求, 保存数据的主机有同类备机, 仅有主机时至少两台",
    title_en="Hot redundancy: every workload runs the level's minimum replicas, every kind of data kept on hosts has a "
             "standby host (or synchronous replication), a hosts-only system has two or more hosts",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.9.c", f"{G22239}:{{L}}.1.2.1.e"),
    levels=(3, 4),
    remediation="将 spec.workloads[].replicas 设为 ≥ ${min_replicas} (多副本跨节点调度); "
                "保存数据的主机 (data: postgresql / files) 须有同类数据的备机 (如 PostgreSQL 流复制备库), "
                "或声明 continuity.replication.mode: synchronous; 仅主机部署的系统至少两台主机 "
                "/ run at least ${min_replicas} replicas of every workload; give every kind of data kept on hosts a "
                "standby host (or synchronous replication)",
    facts=("classification", "inventory"),
)
def redundancy(facts: Facts) -> Outcome:
    """Hot redundancy for the system's processing (8.1.4.9.c, level 3+): every workload declares at least the
    level's ``min_replicas``; every kind of business data kept on hosts (``spec.hosts[].data``: postgresql, files)
    is kept on two hosts or more — a primary and its standby — unless the system declares synchronous
    replication (``continuity.replication.mode``, in the inventory fact); a system made only of hosts has two
    or more. Before, a system
    with replicated workloads passed with its one database host (the data, the part that cannot be restarted
    elsewhere, had no standby). Hosts running a security-management service (``role``: log centre, time source,
    directory) are the platform's and are judged with it. The same is the evidence of redundant key computing
    devices for 8.1.2.1.e (redundant lines and network devices are the platform's, confirmed by the assessor)."""
    level = _level(facts)
    minimum = int(threshold_at(facts.get("thresholds"), "min_replicas", level))
    inventory = facts["inventory"]
    workloads, hosts = inventory.get("workloads") or [], inventory.get("hosts") or []
    judged = SubChecks(facts)
    control = f"{G22239}:{{L}}.1.4.9.c"
    controls = (control, f"{G22239}:{{L}}.1.2.1.e")
    for index, w in enumerate(workloads):
        judged.check(controls, int(w["replicas"]) >= minimum,
                     f"workload {w['name']}: replicas={w['replicas']} (≥ {minimum})", "inventory", "workloads", index,
                     "replicas")
    synchronous = inventory.get("replication") == "synchronous"
    kept: dict[str, list[int]] = {}
    for index, h in enumerate(hosts):
        if h.get("data") not in (None, "none") and not h.get("role"):
            kept.setdefault(str(h["data"]), []).append(index)
    for kind, where in kept.items():
        names = [hosts[i]["hostname"] for i in where]
        standby = len(where) >= 2
        judged.check(controls, standby or synchronous,
                     f"data {kind} on {names}" if standby else f"data {kind} on {names[0]} only (synchronous "
                     "replication)" if synchronous else f"data {kind} on {names[0]} only: no standby host",
                     "inventory", "hosts", where[0], *(() if standby or synchronous else ("data",)))
    if not workloads:
        judged.check(controls, len(hosts) >= 2, f"hosts={[h['hostname'] for h in hosts]}", "inventory",
                     *(("hosts", 0) if hosts else ()))
    return judged.outcome("工作负载多副本、数据有备机 / workloads replicated, data on a standby too",
                          "存在无热冗余的部分 (副本不足或数据仅在一台主机) / a part without hot redundancy")


@manifest.rule(
    id="XZ-MAN-OFFSITE-BACKUP",
    title="三级及以上系统具备异地备份: 灾备等级不为 0 且存在另一站点的备份存储",
    title_en="Level-3+ systems have an off-site backup: a DR tier above 0 and backup storage at another site",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.9.b",),
    levels=(3, 4),
    remediation="设置 spec.continuity.dr_tier ≥ ${min_dr_tier} 并确认 region.yaml 中另一站点配置了 backup_bucket "
                "(Velero 异地备份位置); 保存数据的主机须有异地备份 (roles/host_backup 支持其操作系统, 或迁移数据至"
                "受支持的主机) / declare a DR tier and an off-site backup location; every host keeping data needs "
                "its off-site backup (an OS roles/host_backup supports)",
    facts=("continuity", "inventory"),
)
def offsite_backup(facts: Facts) -> Outcome:
    """Level 3+ keeps an off-site backup (GB/T 22239 {L}.1.4.9.b 异地实时备份): the DR
    tier is above 0 (GB/T 20988), another site of the region keeps a backup location, and every host keeping
    data (``spec.hosts[].data``) gets its off-site backup — a namespace backup does not copy a database on a
    host, and ``roles/host_backup`` backs up only the OS it supports (``xzgov.core.model.host_backup_supported``;
    the plan's rpo-met is "false" for the same hosts). The DR tier the level requires is judged by
    XZ-MAN-CONTINUITY; this rule blocks only when off-site backup is missing outright. Severity high, not
    critical: the 2025 guide has no case for it (数据备份恢复 lists local backup 6.4.6.1, hot redundancy 6.4.6.2
    and, at level 4 only, an off-site DR centre 6.4.6.3), so it gates the scan without calling itself 高风险."""
    tier = int(facts["continuity"]["dr_tier"])
    inventory = facts["inventory"]
    others = [site for site in inventory.get("dr_sites") or [] if site != inventory.get("site")]
    problems: list[Evidence] = []
    if tier < 1:
        problems.append(facts.evidence(f"dr_tier={tier}: no off-site backup", "continuity", "dr_tier"))
    if not others:
        problems.append(facts.evidence(f"no backup location at a site other than {inventory.get('site')}",
                                       "continuity"))
    for index, host in enumerate(inventory.get("hosts") or []):
        if not host.get("backed_up", True):
            problems.append(facts.evidence(
                f"host {host['hostname']} keeps data ({host['data']}) on {host['os_family']} {host['os_version']}, "
                "which roles/host_backup does not back up: no off-site copy", "inventory", "hosts", index, "data"))
    if problems:
        return failed("无异地备份 / no off-site backup", *problems)
    return passed(f"异地备份: dr_tier={tier}, 备份站点 {others} / off-site backup at {others}",
                  facts.evidence(f"dr_tier={tier}, off-site backup sites={others}", "continuity", "dr_tier"))


@manifest.rule(
    id="XZ-MAN-CLOUD-PROVIDER",
    title="选择合规云服务商: 承载本系统的云平台按不低于本系统的等级测评, 测评记录有效且结论不为不符合",
    title_en="A compliant cloud provider: the hosting platform's assessment is in force, at no lower a level, "
             "not failed",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.2.6.1.a",),
    levels=(2, 3, 4),
    remediation="将系统迁至按不低于本系统等级测评且结论合格的云平台 (专区), 或先完成云平台相应等级的测评并登记其记录 "
                "(compliance/attestations, scope: platform) / move the system onto a platform assessed at its level "
                "and not failed, or have the platform so assessed and register the record",
    facts=("cloud_platform", "classification"),
)
def cloud_provider(facts: Facts) -> Outcome:
    """What an assessor checks for {L}.2.6.1.a 选择合规云服务商 — the platform the system runs on has a 等保
    assessment in force at the system's level or above, not failed (GB/T 28448 L3-CMS2-01: the provider's
    assessment report and filing). A platform assessed below the system's level cannot give it that level's
    protection: the 2025 guide's case 7.6.1.1 云服务客户选择服务商不合规 (a level-4 system on a level-3 platform).
    With no platform record in force nothing is judged (the item stays the assessor's; the inherited items say
    the record is missing). A record's conclusion 不符合 (差 in the older template) fails too."""
    platform = facts["cloud_platform"]
    level = _level(facts)
    if platform is None:
        return nothing_to_judge("未登记有效的云平台测评记录 / no platform assessment record in force")
    evidence = facts.evidence(f"云平台测评记录 {platform['record']}: 第{platform['level']}级, 结论 "
                              f"{platform['conclusion']} (测评于 {platform['assessed']}); 本系统第{level}级",
                              "cloud_platform")
    if int(platform["level"]) < level:
        return failed(f"云平台按第{platform['level']}级测评, 低于本系统第{level}级: 不能为本系统提供相应等级的安全保护"
                      f"能力 / the platform was assessed at level {platform['level']}, below the system's {level}",
                      evidence)
    if platform["conclusion"] in FAILED_CONCLUSIONS:
        return failed(f"云平台测评结论为{platform['conclusion']} / the platform's assessment failed", evidence)
    return passed(f"云平台按第{platform['level']}级测评, 结论{platform['conclusion']}, 记录有效 / the platform is "
                  f"assessed at level {platform['level']}, in force", evidence)


@manifest.rule(
    id="XZ-MAN-ASSET-INVENTORY",
    title="资产清单与基本配置信息完整: 责任部门与联系人、每台主机的用途与操作系统版本、工作负载镜像版本固定",
    title_en="Asset list and baseline configuration are complete: owner, each host's purpose and OS version, "
             "workload images with a fixed version",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.10.2.a", f"{G22239}:{{L}}.1.10.8.a"),
    levels=(2, 3, 4),
    remediation="在 spec.owner 填写责任部门、岗位与联系方式; spec.hosts[] 填写 purpose、os_family 与 os_version; "
                "spec.workloads[].image 使用固定版本或摘要 (不用 latest) / complete the asset list and pin image "
                "versions",
    facts=("inventory",),
)
def asset_inventory(facts: Facts) -> Outcome:
    """The manifest is the system's asset list (8.1.10.2.a: owner department, importance, location) and its
    basic configuration record (8.1.10.8.a: software components and versions): the owner is complete, every host
    names its purpose, OS and OS version, and every workload image carries a fixed tag or digest (not ``latest``)."""
    inventory = facts["inventory"]
    assets: list[Evidence] = []
    config: list[Evidence] = []
    owner = inventory.get("owner") or {}
    missing = [k for k in ("department", "role", "contact") if not str(owner.get(k) or "").strip()]
    if missing:
        assets.append(facts.evidence(f"owner lacks {missing}", "inventory", "owner"))
    for index, host in enumerate(inventory.get("hosts") or []):
        if not str(host.get("purpose") or "").strip():
            assets.append(facts.evidence(f"host {host['hostname']}: no purpose", "inventory", "hosts", index))
        if not str(host.get("os_version") or "").strip() or not str(host.get("os_family") or "").strip():
            config.append(facts.evidence(f"host {host['hostname']}: OS or version missing", "inventory", "hosts",
                                         index))
    for index, workload in enumerate(inventory.get("workloads") or []):
        image = str(workload.get("image") or "")
        name = image.split("@", 1)[0].rsplit("/", 1)[-1]
        tag = name.split(":", 1)[1] if ":" in name else ""
        if "@sha256:" not in image and (not tag or tag == "latest"):
            config.append(facts.evidence(f"workload {workload['name']}: image {image} has no fixed version",
                                         "inventory", "workloads", index))
    per = {f"{G22239}:{{L}}.1.10.2.a": Status.FAIL if assets else Status.PASS,
           f"{G22239}:{{L}}.1.10.8.a": Status.FAIL if config else Status.PASS}
    hosts, workloads = len(inventory.get("hosts") or []), len(inventory.get("workloads") or [])
    if assets or config:
        status = Status.FAIL if (assets and config) else Status.PARTIAL
        # the complete half says so: its item shows that, not the other half's gaps
        if not assets:
            assets.append(facts.evidence(f"owner={owner.get('department')}/{owner.get('role')}, every one of "
                                         f"{hosts} hosts names its purpose", "inventory"))
        if not config:
            config.append(facts.evidence(f"{hosts} hosts name OS and version, {workloads} workload images a fixed "
                                         "version", "inventory"))
        return Outcome(status, "资产清单或基本配置信息不完整 / asset list or baseline configuration incomplete",
                       tuple(assets + config), per, {f"{G22239}:{{L}}.1.10.2.a": tuple(assets),
                                                     f"{G22239}:{{L}}.1.10.8.a": tuple(config)})
    return Outcome(Status.PASS, f"资产清单完整: {hosts} 台主机, {workloads} 个工作负载 / asset list complete",
                   (facts.evidence(f"owner={owner.get('department')}/{owner.get('role')}, hosts={hosts}, "
                                   f"workloads={workloads}", "inventory"),), per)


@manifest.rule(
    id="XZ-MAN-MGMT-CHANNEL",
    title="集中管控: 区域设有安全管理区, 审计日志上送的日志中心位于安全管理区并经 TLS 传输, 时间源位于安全管理区",
    title_en="Central management: a security-management zone exists; the audit log centre sits in it and is "
             "reached over TLS; time sources sit in it",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.5.4.a", f"{G22239}:{{L}}.1.5.4.b", f"{G22239}:{{L}}.2.5.1.c",
              f"{G22239}:{{L}}.2.5.1.b"),
    levels=(3, 4),
    remediation="在 region.yaml 划分 security-management 区域, 日志中心与时间源部署于其中, log_servers 使用 tcp+tls; "
                "spec.audit.destination 指向其中一个日志中心 / put the log centre and time sources in the "
                "security-management zone and reach them over TLS",
    facts=("audit", "management", "flows"),
)
def management_channel(facts: Facts) -> Outcome:
    """A specific management zone exists for the security components (8.1.5.4.a) and the paths to them are
    secure (8.1.5.4.b): the system's audit destination is a region log server inside the security-management
    zone, reached over ``tcp+tls`` through a declared flow (unless the system is itself in that zone); the
    region's time sources sit in that zone too. The tenant's audit data is thereby collected centrally for its
    own part (cloud 8.2.5.1.c, judged with the channel). Management traffic (logs, time, SSH from the
    management CIDRs) thereby runs to a zone apart from the business zones (cloud 8.2.5.1.b, judged with the
    zone)."""
    mgmt = facts["management"]
    zone_problems: list[Evidence] = []
    channel: list[Evidence] = []
    if not mgmt.get("management_zones"):
        zone_problems.append(facts.evidence("region has no security-management zone", "management"))
    servers = {s["id"]: s for s in mgmt.get("log_servers") or []}
    destination = facts["audit"].get("destination")
    server = servers.get(str(destination))
    if server is None:
        channel.append(facts.evidence(f"audit.destination={destination} is not a region log server "
                                      f"{sorted(servers)}", "audit"))
    else:
        if not server.get("in_management_zone"):
            zone_problems.append(facts.evidence(f"log server {server['id']} {server['host']} outside the "
                                                "security-management zone", "management"))
        if server.get("protocol") != "tcp+tls":
            channel.append(facts.evidence(f"log server {server['id']}: protocol {server.get('protocol')}, not tcp+tls",
                                          "management"))
        zones = set(mgmt.get("management_zones") or [])
        if mgmt.get("system_zone") not in zones and not any(
                f.get("target_zone") in zones and f.get("protocol") == "tcp" and f.get("port") == server.get("port")
                for f in facts["flows"]):
            channel.append(facts.evidence(f"no declared flow to the log centre (tcp/{server.get('port')} into "
                                          f"{sorted(zones)})", "flows"))
    outside = [t["address"] for t in mgmt.get("time_sources") or [] if not t.get("in_management_zone")]
    if outside:
        zone_problems.append(facts.evidence(f"time sources outside the security-management zone: {outside}",
                                            "management"))
    per = {f"{G22239}:{{L}}.1.5.4.a": Status.FAIL if zone_problems else Status.PASS,
           f"{G22239}:{{L}}.1.5.4.b": Status.FAIL if channel else Status.PASS,
           f"{G22239}:{{L}}.2.5.1.c": Status.FAIL if channel else Status.PASS,
           f"{G22239}:{{L}}.2.5.1.b": Status.FAIL if zone_problems else Status.PASS}
    if zone_problems or channel:
        status = Status.FAIL if (zone_problems and channel) else Status.PARTIAL
        # the half in order says so: its items show that, not the other half's problems
        if not zone_problems:
            zone_problems.append(facts.evidence(f"security-management zones {mgmt.get('management_zones')} hold the "
                                                "log centre and the time sources", "management"))
        if not channel:
            channel.append(facts.evidence(f"audit → {destination} over tcp+tls through a declared flow", "audit"))
        zone, path = tuple(zone_problems), tuple(channel)
        return Outcome(status, "安全管理区或管理通道不满足要求 / management zone or channel missing",
                       zone + path, per, {f"{G22239}:{{L}}.1.5.4.a": zone, f"{G22239}:{{L}}.2.5.1.b": zone,
                                          f"{G22239}:{{L}}.1.5.4.b": path, f"{G22239}:{{L}}.2.5.1.c": path})
    return Outcome(Status.PASS, f"日志中心 {destination} 位于安全管理区, tcp+tls / log centre in the management zone "
                   "over TLS", (facts.evidence(f"audit → {destination} ({server['host'] if server else ''}:"
                                               f"{server['port'] if server else ''}, tcp+tls); zones="
                                               f"{mgmt.get('management_zones')}", "audit"),), per)



@manifest.rule(
    id="XZ-MAN-INTERNET-PROXY",
    title="面向互联网的系统经互联网接入区的反向代理/WAF 发布 (存在自接入区边界设施到本系统的声明流)",
    title_en="Internet-facing systems are published through the internet-access zone's reverse proxy / WAF "
             "(a declared flow from it)",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.1.3.1.a",),
    levels=(2, 3, 4),
    remediation="在互联网接入区的边界设施 (如 systems/dsjj/internet-gateway.yaml) 中声明到本系统的反向代理流 "
                "(spec.flows: to: {system: <本系统>}) / declare the reverse-proxy flow from the internet gateway",
    facts=("exposure",),
)
def internet_proxy(facts: Facts) -> Outcome:
    """A zone path from the internet is not enough: an internet-facing system outside the internet-access zone
    has an actual declared flow from a system in that zone (the WAF / reverse proxy), so its internet traffic
    crosses the boundary through a controlled interface (8.1.3.1.a). A system inside the internet-access zone is
    XZ-MAN-INTERNET-ZONE's finding. A region that registers no boundary facility system is judged by the WAF
    devices region.yaml declares at the internet-access zone (``zones[].boundary_devices``): with one, internet
    traffic enters through it; with neither, nothing stands between the internet and the system (fail)."""
    exposure = facts["exposure"]
    if not exposure.get("internet_facing"):  # its other boundary crossings: other rules or the assessor
        return nothing_to_judge("系统不面向互联网 / not internet-facing")
    if exposure.get("zone_kind") == "internet-access":
        return nothing_to_judge("系统位于互联网接入区内 (由 XZ-MAN-INTERNET-ZONE 判定) / in the internet-access zone")
    if not exposure.get("gateways"):
        wafs = list(exposure.get("wafs") or [])
        if wafs:
            return passed(f"经互联网接入区 WAF {', '.join(wafs)} 发布 / published through the internet-access WAF",
                          facts.evidence(f"gateways: none registered; WAF devices={wafs}", "exposure"))
        return failed("互联网接入区既无登记的反向代理系统也无 WAF 设备 / no reverse proxy system and no WAF device "
                      "at the internet-access zone", facts.evidence("gateways: none; wafs: none", "exposure"))
    fronted_by = list(exposure.get("fronted_by") or [])
    if not fronted_by:
        return failed("没有自互联网接入区边界设施到本系统的声明流 / no declared flow from the internet-access zone",
                      facts.evidence("fronted_by: none", "exposure"))
    return passed(f"经 {', '.join(fronted_by)} 发布 / published through {', '.join(fronted_by)}",
                  facts.evidence(f"fronted_by={fronted_by}", "exposure"))



@manifest.rule(
    id="XZ-MAN-BACKUP-POLICY",
    title="备份策略明确: 备份方式 (命名空间整体备份)、频度 (有效的 cron 计划)、保存期限, 且覆盖持久化数据的工作负载",
    title_en="The backup policy is explicit: method (whole-namespace backup), frequency (a valid cron schedule), "
             "retention, covering every workload with persistent data",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.10.11.a", f"{G22239}:{{L}}.1.10.11.b"),
    levels=(2, 3, 4),
    remediation="在 spec.continuity.backup 声明 schedule (cron) 与 retention_days; 有持久卷的工作负载 "
                "(workloads[].storage) 随命名空间备份 / declare the backup schedule and retention",
    facts=("continuity", "inventory"),
)
def backup_policy(facts: Facts) -> Outcome:
    """The manifest states how (Velero whole-namespace backup, so every workload's persistent volume is an
    identified backup object: 8.1.10.11.a), how often (a cron schedule that parses) and how long (retention
    days) backups are kept (8.1.10.11.b). Whether the level's frequency and retention are enough is judged by
    XZ-RES-BACKUP-RPO and XZ-MAN-CONTINUITY."""
    c = facts["continuity"]
    schedule = str(c.get("backup_schedule") or "")
    problems: list[Evidence] = []
    try:
        gap = max_gap_minutes(schedule) if schedule else None
    except CronError as problem:
        gap = None
        problems.append(facts.evidence(f"backup schedule {schedule!r}: {problem}", "continuity"))
    if not schedule:
        problems.append(facts.evidence("no backup schedule", "continuity"))
    retention = int(c.get("backup_retention_days") or 0)
    if retention < 1:
        problems.append(facts.evidence(f"backup retention {retention} d", "continuity", "backup_retention_days"))
    stateful = [w["name"] for w in facts["inventory"].get("workloads") or [] if w.get("storage")]
    per = {f"{G22239}:{{L}}.1.10.11.a": Status.FAIL if not schedule else Status.PASS,
           f"{G22239}:{{L}}.1.10.11.b": Status.FAIL if problems else Status.PASS}
    if problems:
        # item a is the method and a schedule: declared, its item says so; missing, it shows that alone
        method = facts.evidence(f"whole-namespace backup, schedule={schedule}", "continuity") if schedule \
            else next(piece for piece in problems if piece.observed == "no backup schedule")
        kept = (*problems, method) if schedule else tuple(problems)
        return Outcome(Status.FAIL, "备份策略不完整 / backup policy incomplete", kept, per,
                       {f"{G22239}:{{L}}.1.10.11.a": (method,), f"{G22239}:{{L}}.1.10.11.b": tuple(problems)})
    return Outcome(Status.PASS, f"命名空间整体备份, 计划 {schedule} (最长间隔 {gap} 分钟), 保留 {retention} 天 / "
                   f"whole-namespace backup every ≤ {gap} min, kept {retention} d",
                   (facts.evidence(f"schedule={schedule}, retention={retention}d, persistent workloads={stateful}",
                                   "continuity"),), per)


# ------------------------------------------------------------------------------------------ inbound ports


@manifest.rule(
    id="XZ-MAN-INBOUND-PORTS",
    title="每个监听端口 (工作负载与主机) 均有声明的入站流到达, 或明确标记为仅系统内部使用; 关闭多余端口 (高风险)",
    title_en="Every listening port (workloads and hosts) is reached by a declared inbound flow or marked internal "
             "to the system; unneeded ports are closed (high risk)",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.1.4.4.b", f"{G22239}:{{L}}.1.3.1.a"),
    levels=(2, 3, 4),
    remediation="对每个 ports 条目: 由使用方系统声明到达该端口的 flows (经公共服务或区域亦可); 仅本系统自身组件使用的"
                "端口 (如仅供本系统应用访问的数据库) 标记 exposure: internal; 无人使用的端口从镜像/主机上关闭并删除; "
                "主机上接收入站流的业务端口在 spec.hosts[].ports 中声明 / for each port: declare the consumers' "
                "flows, mark ports only the system itself uses `exposure: internal`, close and remove unused ones; "
                "declare the host ports inbound flows arrive at",
    facts=("inbound_ports",),
)
def inbound_ports(facts: Facts) -> Outcome:
    """The manifest's listening ports against the declared inbound flows (resolved once, as the NetworkPolicies
    are, by ``xzgov.core.ports``): a port neither reached by a declared flow (from another system, through a
    shared service, to the zone, or the region's security-management contract) nor marked ``internal`` /
    ``public`` is an unneeded open port (least functionality, {L}.1.4.4.b, 高风险 case 6.4.3.1); a port marked
    ``internal`` that another system's declared flow reaches, and an inbound flow arriving at no declared port,
    make the declared boundary interfaces wrong ({L}.1.3.1.a: traffic crosses the boundary only at declared,
    controlled interfaces)."""
    known = facts["inbound_ports"]
    listed = list(known.get("ports") or [])
    unlanded = list(known.get("unlanded") or [])
    if not listed and not unlanded:
        # nothing declared to compare with the flows: what the host really opens is the live scan's to judge
        return nothing_to_judge("系统未声明任何监听端口 / the system declares no listening port")
    least, boundary = f"{G22239}:{{L}}.1.4.4.b", f"{G22239}:{{L}}.1.3.1.a"
    judged = SubChecks(facts)

    def shown(reached: list[str]) -> str:
        return "; ".join(reached[:3]) + (f" … ({len(reached)} flows in all)" if len(reached) > 3 else "")

    for index, entry in enumerate(listed):
        label = f"{entry['kind']} {entry['owner']} {entry['port']}/{entry['protocol']}"
        reached = list(entry.get("reached_by") or [])
        exposure = entry.get("exposure")
        if exposure is None:
            judged.check(least, bool(reached),
                         f"{label}: reached by {shown(reached)}" if reached else
                         f"{label}: no declared inbound flow reaches it and it is not marked internal "
                         "(多余端口 / unneeded open port)", "inbound_ports", "ports", index)
        elif exposure == "internal":
            judged.check(least, True, f"{label}: exposure internal (only the system's own workloads and hosts)",
                         "inbound_ports", "ports", index)
            judged.check(boundary, not reached,
                         f"{label}: marked internal, yet reached by {shown(reached)}" if reached else
                         f"{label}: internal, no other system's flow reaches it", "inbound_ports", "ports", index)
        else:  # public: the register refuses it outside an internet-access zone; checked again here
            in_access = known.get("zone_kind") == "internet-access"
            judged.check((least, boundary), in_access,
                         f"{label}: exposure public in a {known.get('zone_kind') or 'unknown'} zone",
                         "inbound_ports", "ports", index)
    for entry in unlanded:
        via = f" via {entry['via']}" if entry.get("via") else ""
        judged.check(boundary, False,
                     f"flow from {entry['source']}{via} ({entry.get('purpose', '')}) arrives at "
                     f"{entry['port']}/{entry['protocol']}, which no workload or host declares "
                     f"({entry.get('source_file', '')})", "inbound_ports")
    if listed and not unlanded and boundary not in judged.per:
        judged.check(boundary, True, f"{len(listed)} port(s): every declared inbound flow arrives at a declared port",
                     "inbound_ports")
    return judged.outcome("每个监听端口均有声明的入站流或标记为内部 / every listening port is reached or marked",
                          "存在无入站流且未标记的端口或无落点的入站流 / unneeded ports or flows to undeclared ports")


# ------------------------------------------------------------------------------------------ data stores

#: What a data set may hold that needs protection at rest (``spec.data_sets[].holds``).


@manifest.rule(
    id="XZ-MAN-DATA-STORE-COVERAGE",
    title="处理个人信息或重要数据的系统, 每个存储数据的主机与持久化工作负载都由已声明的数据集覆盖 "
          "(其存储保护方可被判定)",
    title_en="In a system with personal information or important data, every host that keeps data and every "
             "workload with persistent storage is covered by a declared data set (so its protection at rest can "
             "be judged)",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.1.4.8.b", f"{G22239}:{{L}}.1.4.7.b", f"{G39786}:8.4.e", f"{G39786}:8.4.g"),
    levels=(3, 4),
    remediation="为每个 data 不为 none 的主机 (spec.hosts[].data) 和每个带 storage 的工作负载 "
                "(spec.workloads[].storage) 在 spec.data_sets 中声明其存放的数据集 (name, holds, stored_in: 该主机名"
                "或工作负载名), 含个人信息或重要数据的数据集声明 SM4 加密与 SM3 完整性 "
                "/ declare in spec.data_sets what each data-keeping host and persistent workload stores "
                "(stored_in: its hostname / workload name), with SM4 encryption and SM3 integrity where sensitive",
    facts=("classification", "inventory", "data_sets"),
)
def data_store_coverage(facts: Facts) -> Outcome:
    """8.1.4.8.b / 8.1.4.7.b (重要数据在存储过程中的保密性与完整性; 2025 high-risk case 6.4.5.2 重要数据明文存储):
    the data-set rule judges only the data sets a manifest declares, so a store that no data set names would
    escape it. In a level-3+ system that handles personal information or important data, every host with
    ``data: postgresql|files`` and every workload with persistent ``storage`` is named as ``stored_in`` by at
    least one data set; what that data set holds and how it is protected is judged by XZ-MAN-DATASET-PROTECTION.
    GB/T 39786 8.4.e (密评 level 3+) and 8.4.g (密评 level 4) are judged with the 等保 items, as there."""
    classification = facts["classification"]
    sets = list(facts["data_sets"])
    personal = bool(classification.get("personal_information"))
    important = classification.get("data_class") in IMPORTANT_DATA_CLASSES
    if not personal and not important and not any(PROTECTED_DATA & set(d["holds"]) for d in sets):
        # the items still apply: 鉴别数据, audit records and configuration are important data of every system
        return nothing_to_judge("系统不处理个人信息或重要数据 / no personal information or important data")
    inventory = facts["inventory"]
    #: (kind, name, what it keeps, where under ``inventory``)
    stores: list[tuple[str, str, str, tuple[str, int, str]]] = [
        ("host", str(h["hostname"]), f"data: {h['data']}", ("hosts", index, "data"))
        for index, h in enumerate(inventory.get("hosts") or []) if h.get("data", "none") != "none"]
    stores += [("workload", str(w["name"]), f"storage: {w['storage']}", ("workloads", index, "storage"))
               for index, w in enumerate(inventory.get("workloads") or []) if w.get("storage")]
    if not stores:
        return nothing_to_judge("系统没有存储数据的主机或持久化工作负载 / no host keeps data and no workload has "
                              "persistent storage", facts.evidence("no host data, no workload storage", "inventory"))
    crypto = _crypto_level(facts)
    controls = (f"{G22239}:{{L}}.1.4.8.b", f"{G22239}:{{L}}.1.4.7.b",
                *((f"{G39786}:8.4.e",) if crypto >= 3 else ()), *((f"{G39786}:8.4.g",) if crypto >= 4 else ()))
    by_store: dict[str, list[str]] = {}
    for d in sets:
        by_store.setdefault(str(d["stored_in"]), []).append(f"{d['name']} ({'/'.join(d['holds'])})")
    judged = SubChecks(facts)
    for kind, name, keeps, sub in stores:
        held = by_store.get(name)
        judged.check(controls, bool(held),
                     f"{kind} {name} ({keeps}) stores data sets {'; '.join(held)}" if held else
                     f"{kind} {name} ({keeps}) stores data, but no data set in spec.data_sets names it as "
                     "stored_in: what it holds and how it is protected at rest are undeclared", "inventory", *sub)
    return judged.outcome("每个存储数据的主机与持久化工作负载都由已声明的数据集覆盖 / every data store is covered by "
                          "a declared data set",
                          "存在未被任何数据集覆盖的数据存储 / data stores no declared data set covers")

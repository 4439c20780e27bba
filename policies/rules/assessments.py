"""Rules over the assessment records (``spec.assessments``): the last 等级测评 (GB/T 22239 8.1.9.9) and the last
商用密码应用安全性评估 (GB/T 39786 建设运行 8.7.d / 8.7.e), judged against the scan's as-of day
(``xzgov scan --as-of``).

A record is missing, dated after the as-of day, older than its level's period (thresholds
``max_dengbao_assessment_age_days`` / ``max_miping_assessment_age_days``) or concluded 不符合: each is a
finding at the item it breaks. A planned system (``lifecycle.status: planned``) is not yet due, and a retired
one no longer is (not applicable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.engine import Facts, Outcome, RuleSet, Severity, not_applicable, nothing_to_judge
from policies.rules.checks import SubChecks, within
from xzgov.core.clock import days_between
from xzgov.core.model import FAILED_CONCLUSIONS
from xzgov.facts.baseline import IMPORTANT_DATA_CLASSES, PROTECTED_DATA, SM_CIPHERS
from xzgov.facts.thresholds import threshold_at

assessments = RuleSet()

G = "GB/T 22239-2019"
G39786 = "GB/T 39786-2021"

#: 定期等级测评, 发现不符合及时整改 (high risk at level 3).
PERIODIC_DENGBAO = f"{G}:{{L}}.1.9.9.a"
#: 投入运行前进行密码应用安全性评估 / 定期开展密码应用安全性评估.
MIPING_BEFORE_RUN = f"{G39786}:8.7.d"
MIPING_PERIODIC = f"{G39786}:8.7.e"

NOT_DUE = ("planned", "retired")


def _not_due(facts: Facts, what: str) -> Outcome | None:
    status = facts["lifecycle"].get("status")
    if status not in NOT_DUE:
        return None
    why = "系统尚未上线 / not live yet" if status == "planned" else "系统已下线 / retired"
    return not_applicable(f"{why}: {what}不适用 / no {what} due",
                          facts.evidence(f"lifecycle.status={status}", "lifecycle", "status"))


def _judge_record(judged: SubChecks, kind: str, name: str, record: Mapping[str, Any] | None, as_of: str,
                  limit: int | None, present: str | tuple[str, ...], fresh: str | tuple[str, ...] | None,
                  sound: str | tuple[str, ...]) -> None:
    """One record: it exists (``present``), is dated on or before ``as_of`` and no older than ``limit``
    days (``fresh``; ``None``: the age is not judged), and its conclusion is not 不符合 (``sound``)."""
    key = "assessments"
    if record is None:
        judged.check(present, False, f"no {name} record (spec.assessments.{kind})", key, kind)
        return
    age = days_between(record.get("date"), as_of)
    judged.check(present, age is not None and age >= 0,
                 f"{name} {record.get('date')} by {record.get('agency')}"
                 + (" (dated after the as-of day " + as_of + ")" if age is not None and age < 0 else ""),
                 key, kind, "date")
    if fresh is not None and limit is not None:
        judged.check(fresh, age is not None and 0 <= age <= limit,
                     f"{name} of {record.get('date')}: {age} d old on {as_of} (valid ≤ {limit} d)", key, kind, "date")
    score = record.get("score")
    judged.check(sound, record.get("conclusion") not in FAILED_CONCLUSIONS,
                 f"{name} conclusion {record.get('conclusion')}" + (f", score {score:g}" if score is not None else ""),
                 key, kind, "conclusion")


@assessments.rule(
    id="XZ-MAN-DENGBAO-ASSESSMENT",
    title="定期开展等级测评: 有测评记录、未过期 (三级每年、四级每半年)、结论不为不符合",
    title_en="Periodic 等级测评: a recorded assessment within the level's period (level 3 yearly, level 4 every "
             "six months) whose conclusion is not 不符合",
    severity=Severity.CRITICAL,
    controls=(PERIODIC_DENGBAO,),
    levels=(2, 3, 4),
    remediation="委托具备资质的测评机构开展等级测评, 在 spec.assessments.dengbao 中记录 date / agency / conclusion "
                "/ score (报告日期距扫描日不超过 ${max_dengbao_assessment_age_days} 天); 结论为不符合时整改后复测 "
                "/ record the last 等级测评 (within the level's period) and remediate a 不符合 conclusion",
    facts=("classification", "lifecycle", "assessments", "as_of"),
)
def dengbao_assessment(facts: Facts) -> Outcome:
    """8.1.9.9.a 定期等级测评, 发现不符合及时整改: the last 等级测评 is recorded, dated no later than the as-of day
    and no older than the level's period (level 2: 730 d, unconfirmed; level 3: 365 d; level 4: 182 d), and did
    not conclude 不符合 (an unremediated failing assessment). Not applicable to a planned or retired system."""
    skip = _not_due(facts, "等级测评")
    if skip is not None:
        return skip
    level = facts.level if facts.level is not None else int(facts["classification"]["level"])
    limit = threshold_at(facts.get("thresholds"), "max_dengbao_assessment_age_days", int(level))
    judged = SubChecks(facts)
    _judge_record(judged, "dengbao", "等级测评", facts["assessments"].get("dengbao"), facts["as_of"],
                  int(limit) if limit is not None else None, PERIODIC_DENGBAO, PERIODIC_DENGBAO, PERIODIC_DENGBAO)
    return judged.outcome("等级测评记录有效 / 等级测评 current",
                          "等级测评缺失、过期或结论为不符合 / 等级测评 missing, expired or failed")


@assessments.rule(
    id="XZ-MAN-MIPING-ASSESSMENT",
    title="开展密码应用安全性评估: 投入运行前评估通过, 三级及以上每年评估",
    title_en="Commercial-crypto assessment (密评): passed before going live, yearly at 密评 level 3+",
    severity=Severity.HIGH,
    controls=(MIPING_BEFORE_RUN, MIPING_PERIODIC),
    levels=(2, 3, 4),
    remediation="委托密评机构开展密码应用安全性评估, 在 spec.assessments.miping 中记录 date / agency / conclusion "
                "/ score; 三级及以上报告日期距扫描日不超过 ${max_miping_assessment_age_days} 天; 结论为不符合时整改后"
                "复评 / record the last 密评 (yearly at level 3+) and remediate a 不符合 conclusion",
    facts=("classification", "lifecycle", "assessments", "as_of"),
)
def miping_assessment(facts: Facts) -> Outcome:
    """GB/T 39786 8.7.d (应 from 密评 level 2): a 密评 is recorded, dated no later than the as-of day, and did not
    conclude 不符合 (评估通过后方可正式运行). 8.7.e (应 from level 3, 宜 at level 2): the report is no older than
    the level's period (365 d at level 3+); at level 2 there is no periodic duty, so 8.7.e is not applicable
    there. Not applicable to a planned or retired system, or below 密评 level 2."""
    skip = _not_due(facts, "密评")
    if skip is not None:
        return skip
    classification = facts["classification"]
    crypto = facts.crypto_level if facts.crypto_level is not None else int(
        classification.get("crypto_level", classification["level"]))
    if crypto < 2:
        return not_applicable(f"密评 {crypto} 级: 无评估要求 / no 密评 duty at level {crypto}",
                              facts.evidence(f"crypto_level={crypto}", "classification"))
    limit = threshold_at(facts.get("thresholds"), "max_miping_assessment_age_days", crypto)
    judged = SubChecks(facts)
    periodic = MIPING_PERIODIC if limit is not None else None
    if periodic is None:
        judged.skip(MIPING_PERIODIC, f"密评 {crypto} 级无周期评估要求 (宜) / no periodic 密评 duty at level {crypto}",
                    "assessments", "miping")
    _judge_record(judged, "miping", "密评", facts["assessments"].get("miping"), facts["as_of"],
                  int(limit) if limit is not None else None,
                  (MIPING_BEFORE_RUN, MIPING_PERIODIC) if periodic else MIPING_BEFORE_RUN, periodic,
                  (MIPING_BEFORE_RUN, MIPING_PERIODIC) if periodic else MIPING_BEFORE_RUN)
    return judged.outcome("密评记录有效 / 密评 current",
                          "密评缺失、过期或结论为不符合 / 密评 missing, expired or failed")


# ------------------------------------------------------------------------------------------ image supply chain


VULNERABILITIES = f"{G}:{{L}}.1.4.4.e"
CLOUD_IMAGE_INTEGRITY = f"{G}:{{L}}.2.4.4.b"
CODE_INTEGRITY = f"{G39786}:8.3.f"


@assessments.rule(
    id="XZ-MAN-IMAGE-SUPPLY-CHAIN",
    title="容器镜像签名在准入时验证, 按周期扫描漏洞且无严重漏洞",
    title_en="Container images are signature-verified at admission and scanned for vulnerabilities on the level's "
             "cadence with no critical finding open",
    severity=Severity.CRITICAL,
    controls=(VULNERABILITIES, CLOUD_IMAGE_INTEGRITY, CODE_INTEGRITY),
    levels=(2, 3, 4),
    remediation="在 spec.workloads[].image_provenance 中记录 signature: verified (签名服务器 SM2 签名, 准入时验签)、"
                "signer、last_scan (距扫描日不超过 ${max_patch_age_days} 天) 与 critical: 0 "
                "/ verify image signatures at admission, scan images on the level's cadence, fix critical findings",
    facts=("image_provenance", "as_of"),
)
def image_supply_chain(facts: Facts) -> Outcome:
    """Per workload image: its signature is verified at admission (cloud 8.2.4.4.b 镜像完整性校验; GB/T 39786
    8.3.f 重要可执行程序完整性和来源真实性, judged where it is 应, i.e. 密评 level 4 — at level 3 it is 宜 and an
    unverified image is left to the 密评 unit's own rules); its last vulnerability scan is no older than
    ``max_patch_age_days`` on the as-of day and found no critical vulnerability (8.1.4.4.e). An undeclared
    record fails both; a system without workloads gives this rule nothing to judge (its hosts still have
    vulnerabilities to find: the items stay to other rules or the assessor)."""
    images, as_of = list(facts["image_provenance"]), facts["as_of"]
    if not images:
        return nothing_to_judge("无容器工作负载 / no container workloads")
    level = facts.level if facts.level is not None else 3
    crypto = facts.crypto_level if facts.crypto_level is not None else level
    limit = int(threshold_at(facts.get("thresholds"), "max_patch_age_days", int(level)))
    integrity = (CLOUD_IMAGE_INTEGRITY, CODE_INTEGRITY) if crypto >= 4 else CLOUD_IMAGE_INTEGRITY
    judged = SubChecks(facts)
    for index, image in enumerate(images):
        label = f"{image['workload']} ({image['registry']})"
        judged.check(integrity, image.get("signature") == "verified",
                     f"{label}: signature {image.get('signature') or 'not declared'}"
                     + (f" by {image['signer']}" if image.get("signer") else ""), "image_provenance", index)
        judged.check(VULNERABILITIES, within(image.get("last_scan"), as_of, limit),
                     f"{label}: last scan {image.get('last_scan') or 'never'} (≤ {limit} d before {as_of})",
                     "image_provenance", index)
        critical = image.get("critical")
        judged.check(VULNERABILITIES, critical == 0, f"{label}: critical vulnerabilities {critical}",
                     "image_provenance", index)
    return judged.outcome("镜像已验签且漏洞扫描及时、无严重漏洞 / images verified and scanned clean",
                          "镜像未验签、未及时扫描或存在严重漏洞 / images unverified, unscanned or vulnerable")


# ------------------------------------------------------------------------------------------ data sets


STORAGE_CONFIDENTIALITY = f"{G}:{{L}}.1.4.8.b"
STORAGE_INTEGRITY = f"{G}:{{L}}.1.4.7.b"
MIPING_STORAGE_CONFIDENTIALITY = f"{G39786}:8.4.e"
MIPING_STORAGE_INTEGRITY = f"{G39786}:8.4.g"
CONFIDENTIALITY_ALGORITHMS = SM_CIPHERS
INTEGRITY_ALGORITHMS = frozenset({"SM3", "SM2", "SM3-HMAC", "HMAC-SM3"})


def _protected(judged: SubChecks, controls: str | tuple[str, ...], algorithm: str | None,
               approved: frozenset[str], observed: str, index: int) -> None:
    """One protection of a data set: an approved algorithm passes; none at all (the data stored in plain) fails —
    the 2025 guide's 重要数据明文存储; another algorithm (AES, SHA-256 …) is met in part: the data is protected,
    not as GB/T 39786 asks (等保 部分符合, 密评 A not met)."""
    if algorithm in approved:
        judged.check(controls, True, observed, "data_sets", index)
    elif not algorithm:
        judged.check(controls, False, observed, "data_sets", index)
    else:
        judged.partly(controls, f"{observed} (not an approved algorithm: {sorted(approved)})", "data_sets", index)


@assessments.rule(
    id="XZ-MAN-DATASET-PROTECTION",
    title="存放个人信息或重要数据的每个数据集以 SM4 加密存储并以 SM3/SM2 保护完整性",
    title_en="Every data set holding personal information or important data is stored encrypted with SM4 and "
             "integrity-protected with SM3 / SM2",
    severity=Severity.CRITICAL,
    controls=(STORAGE_CONFIDENTIALITY, STORAGE_INTEGRITY, MIPING_STORAGE_CONFIDENTIALITY, MIPING_STORAGE_INTEGRITY),
    levels=(3, 4),
    remediation="在 spec.data_sets 中列出存放个人信息或重要数据的数据集 (name, holds, stored_in), 并为每个声明 "
                "encryption: {algorithm: SM4, product, scope} 与 integrity: {algorithm: SM3} "
                "/ declare each sensitive data set with SM4 encryption and SM3 integrity at rest",
    facts=("classification", "data_sets"),
)
def dataset_protection(facts: Facts) -> Outcome:
    """A level-3+ system that handles personal information or important data (classification) says which data
    sets hold them, where; each such data set is encrypted at rest with a national algorithm (SM4; 8.1.4.8.b,
    GB/T 39786 8.4.e) and integrity-protected with SM3 / SM2 (8.1.4.7.b; GB/T 39786 8.4.g where it is 应, 密评
    level 4). Data stored in plain fails the item; a protection with another algorithm (AES, MD5 …) meets it in part
    (部分符合: the data is not in plain, as the high-risk case 重要数据明文存储 requires, but not protected with a
    national algorithm either)."""
    classification = facts["classification"]
    personal = bool(classification.get("personal_information"))
    important = classification.get("data_class") in IMPORTANT_DATA_CLASSES
    sets = list(facts["data_sets"])
    sensitive = [(i, d) for i, d in enumerate(sets) if PROTECTED_DATA & set(d["holds"])]
    if not personal and not important and not sensitive:
        # the items still apply: 鉴别数据, audit records and configuration are important data of every system
        return nothing_to_judge("系统不处理个人信息或重要数据 / no personal information or important data")
    level = facts.level if facts.level is not None else 3
    crypto = facts.crypto_level if facts.crypto_level is not None else level
    confidentiality = (STORAGE_CONFIDENTIALITY, MIPING_STORAGE_CONFIDENTIALITY) if crypto >= 3 \
        else STORAGE_CONFIDENTIALITY
    integrity = (STORAGE_INTEGRITY, MIPING_STORAGE_INTEGRITY) if crypto >= 4 else STORAGE_INTEGRITY
    judged = SubChecks(facts)
    if not sensitive:
        holds = [c for c, on in (("个人信息", personal), (classification.get("data_class"), important)) if on]
        judged.check((*((confidentiality,) if isinstance(confidentiality, str) else confidentiality),
                      *((integrity,) if isinstance(integrity, str) else integrity)), False,
                     f"handles {holds}, but no data set holding them is declared (spec.data_sets)", "data_sets")
    for index, d in sensitive:
        enc, mac = d.get("encryption") or {}, d.get("integrity") or {}
        said = (f"{d['name']} ({'/'.join(d['holds'])}, in {d['stored_in']}): encryption "
                f"{enc.get('algorithm') or 'none'}" + (f" via {enc['product']}" if enc.get("product") else ""))
        _protected(judged, confidentiality, enc.get("algorithm"), CONFIDENTIALITY_ALGORITHMS, said, index)
        _protected(judged, integrity, mac.get("algorithm"), INTEGRITY_ALGORITHMS,
                   f"{d['name']}: integrity {mac.get('algorithm') or 'none'}", index)
    return judged.outcome("敏感数据集加密存储且完整性受保护 / sensitive data sets encrypted and integrity-protected",
                          "敏感数据集未加密或无完整性保护 / sensitive data sets not protected at rest")


# ------------------------------------------------------------------------------------------ change control


OPS_LOG = f"{G}:{{L}}.1.10.6.e"
CHANGE_OPS = f"{G}:{{L}}.1.10.6.g"
CONFIG_CHANGE = f"{G}:{{L}}.1.10.8.b"
CHANGE_PROCEDURE = f"{G}:{{L}}.1.10.10.b"


@assessments.rule(
    id="XZ-MAN-CHANGE-CONTROL",
    title="变更受控: 申报审批程序与审批岗、变更工单、变更同步更新配置库、运维经堡垒机审计并集中留存日志",
    title_en="Changes are controlled: a request/approval procedure and approver, a change ticket, the "
             "configuration record updated with each change, operations through the audited bastion with "
             "central logs",
    severity=Severity.MEDIUM,
    controls=(OPS_LOG, CHANGE_OPS, CONFIG_CHANGE, CHANGE_PROCEDURE),
    levels=(2, 3, 4),
    remediation="在 spec.change_management 中填写 procedure (变更管理程序) 与 approver (审批岗), "
                "register_updated: true; lifecycle.change_ticket 记录本次变更工单; 运维经堡垒机 "
                "(spec.security.administration.access.via: bastion), 审计日志上送日志中心 "
                "/ declare the change procedure and approver, keep the register updated, operate through the bastion",
    facts=("lifecycle", "administration", "audit", "change_management"),
)
def change_control(facts: Facts) -> Outcome:
    """Operations are recorded (8.1.10.6.e): administrators work through the bastion, which records every
    session, and the audit trail goes to the central log service. Changes follow a declared request and
    approval procedure with an approving post, and the register entry carries its change ticket (8.1.10.10.b);
    each change updates the configuration record — this register — in the same change (8.1.10.8.b); changes
    made on the system are approved, audited at the bastion and recorded in the register (8.1.10.6.g).
    The register being the configuration record is what makes these checkable: a ticket-less manifest, or a
    declaration that changes bypass the register, is a finding."""
    cm = facts["change_management"] or {}
    ticket = str(facts["lifecycle"].get("change_ticket") or "")
    bastion = facts["administration"].get("access_via") == "bastion"
    central = facts["audit"].get("destination") not in (None, "", "local")
    judged = SubChecks(facts)
    judged.check((OPS_LOG, CHANGE_OPS), bastion,
                 f"administrators via {facts['administration'].get('access_via') or 'undeclared'} (bastion records "
                 "every session)", "administration", "access_via")
    judged.check(OPS_LOG, central, f"audit destination {facts['audit'].get('destination')}", "audit")
    judged.check(CHANGE_PROCEDURE, bool(cm.get("procedure")) and bool(cm.get("approver")),
                 f"procedure {cm.get('procedure') or 'undeclared'}, approver {cm.get('approver') or 'undeclared'}",
                 "change_management")
    judged.check((CHANGE_PROCEDURE, CONFIG_CHANGE), bool(ticket.strip()), f"change ticket {ticket or 'none'}",
                 "lifecycle")
    judged.check((CONFIG_CHANGE, CHANGE_OPS), bool(cm.get("register_updated")),
                 f"register updated with each change: {bool(cm.get('register_updated'))}", "change_management")
    judged.check(CHANGE_OPS, bool(cm.get("approver")), f"change approver {cm.get('approver') or 'undeclared'}",
                 "change_management")
    return judged.outcome("变更与运维操作受控并留痕 / changes controlled and operations recorded",
                          "变更或运维操作控制缺失 / change or operations control missing")

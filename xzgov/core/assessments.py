"""Build and check the records an assessor asks for beyond ``spec.security``: ``spec.assessments`` (the last
等级测评 and 密评), ``spec.data_sets`` (what is stored where, encrypted how), ``spec.change_management`` and
``spec.workloads[].image_provenance`` (image signature and vulnerability scan).

The schema already holds the shapes (date pattern, conclusion 符合 / 基本符合 / 不符合, score 0–100, counts ≥ 0);
this module adds what a schema cannot: real calendar dates and references (a data set's ``stored_in`` names a
workload or host of the system; its ``product`` a declared crypto product). Expiry depends on the scan day, so
the compliance rules judge it (``policies.rules.assessments``), not the register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from xzgov.core import model as m
from xzgov.core.errors import Diagnostic
from xzgov.core.schema import suggest
from xzgov.core.yamlio import LocatedDocument

KINDS = {"dengbao": "等级测评", "miping": "密评"}


def _calendar(doc: LocatedDocument, value: Any, path: tuple[str | int, ...], what: str,
              sink: list[Diagnostic]) -> None:
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        sink.append(doc.diagnostic(path, f"'{value}' is not a calendar date ({what})",
                                   "write the date as YYYY-MM-DD, e.g. 2025-11-20", code="format"))


def check_assessments(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """Dates are calendar dates (``2025-02-30`` matches the schema's pattern but is no day); a data set is
    stored in one of the system's workloads or hosts, and protected by one of its declared crypto products."""
    spec = doc.data["spec"]
    section = spec.get("assessments") or {}
    for kind, name in KINDS.items():
        record = section.get(kind)
        if isinstance(record, Mapping):
            _calendar(doc, record.get("date", ""), ("spec", "assessments", kind, "date"),
                      f"{name}报告日期 / report date", sink)
    for index, workload in enumerate(spec.get("workloads") or []):
        provenance = workload.get("image_provenance") or {}
        if "last_scan" in provenance:
            _calendar(doc, provenance["last_scan"], ("spec", "workloads", index, "image_provenance", "last_scan"),
                      "镜像漏洞扫描日期 / image scan date", sink)
    check_sensitive_implies_personal(doc, sink)
    stores = {w["name"] for w in spec.get("workloads") or []} | {h["hostname"] for h in spec.get("hosts") or []}
    products = {p["id"] for p in (spec.get("crypto") or {}).get("products") or []}
    for index, data_set in enumerate(spec.get("data_sets") or []):
        where = ("spec", "data_sets", index)
        if data_set["stored_in"] not in stores:
            sink.append(doc.diagnostic((*where, "stored_in"), f"data set '{data_set['name']}' is stored in "
                                       f"'{data_set['stored_in']}', which is no workload or host of this system",
                                       suggest(data_set["stored_in"], stores)
                                       or f"name one of: {', '.join(sorted(stores)) or '(none declared)'}",
                                       code="reference"))
        _check_classification(doc, spec, index, data_set, sink)
        for part in ("encryption", "integrity"):
            product = (data_set.get(part) or {}).get("product")
            if product is not None and product not in products:
                sink.append(doc.diagnostic((*where, part, "product"), f"unknown crypto product '{product}'",
                                           suggest(product, products)
                                           or "declare it in spec.crypto.products, or remove product",
                                           code="reference"))


#: 数据分类分级 (GB/T 43697): a system's data_class is at least the class of every data set it holds
DATA_CLASS_RANK = {"一般数据": 0, "重要数据": 1, "核心数据": 2}


def _check_classification(doc: LocatedDocument, spec: Mapping[str, Any], index: int, data_set: Mapping[str, Any],
                          sink: list[Diagnostic]) -> None:
    """The classification does not deny what a data set holds: with ``personal_information: false`` the scan ruled
    个人信息保护 not applicable while judging the same system's personal-information data set (an assessor signs
    neither); a data class below a data set's; sensitive personal information without personal information."""
    classification = spec.get("classification") or {}
    holds = set(data_set.get("holds") or ())
    name = data_set.get("name", f"data_sets[{index}]")
    at = ("spec", "classification")

    def refuse(key: str, message: str, fix: str) -> None:
        sink.append(doc.diagnostic((*at, key), message,  # located at the classification when the key is absent
                                   f"{fix} (data set '{name}', spec.data_sets[{index}].holds)", code="reference"))

    personal = bool(classification.get("personal_information"))
    sensitive = bool(classification.get("sensitive_personal_information"))
    if holds & {"个人信息", "敏感个人信息"} and not personal:
        refuse("personal_information", f"数据集 '{name}' 含个人信息, 分级却声明 personal_information: false / data set "
               f"'{name}' holds personal information, but the classification says the system has none",
               "write personal_information: true, or correct the data set's holds")
    if "敏感个人信息" in holds and not sensitive:
        refuse("sensitive_personal_information", f"数据集 '{name}' 含敏感个人信息 / data set '{name}' holds sensitive "
               "personal information, but sensitive_personal_information is not true",
               "write sensitive_personal_information: true, or correct the data set's holds")
    held = [cls for cls in holds if cls in DATA_CLASS_RANK]
    declared = classification.get("data_class")
    top = max(held, key=DATA_CLASS_RANK.__getitem__, default=None)
    if top is not None and declared in DATA_CLASS_RANK and DATA_CLASS_RANK[top] > DATA_CLASS_RANK[declared]:
        refuse("data_class", f"数据集 '{name}' 含{top}, 系统分级为{declared} / data set '{name}' holds {top}, above "
               f"the system's data_class {declared}", f"write data_class: {top}, or correct the data set's holds")


def check_sensitive_implies_personal(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """``sensitive_personal_information: true`` is personal information too: ``personal_information: false`` beside
    it is a contradiction (the scan read the first and ruled 个人信息保护 not applicable)."""
    classification = doc.data["spec"].get("classification") or {}
    if classification.get("sensitive_personal_information") and not classification.get("personal_information"):
        sink.append(doc.diagnostic(("spec", "classification", "personal_information"),
                                   "敏感个人信息也是个人信息 / sensitive_personal_information: true with "
                                   "personal_information: false", "write personal_information: true",
                                   code="reference"))


def _record(raw: Mapping[str, Any] | None) -> m.AssessmentRecord | None:
    if not raw:
        return None
    score = raw.get("score")
    return m.AssessmentRecord(date=str(raw["date"]), agency=str(raw["agency"]), conclusion=raw["conclusion"],
                              score=float(score) if score is not None else None, report=str(raw.get("report", "")))


def assessments_of(section: Mapping[str, Any] | None) -> m.Assessments:
    """``spec.assessments`` of a manifest (checked by the schema and :func:`check_assessments`)."""
    section = section or {}
    return m.Assessments(dengbao=_record(section.get("dengbao")), miping=_record(section.get("miping")))


def image_provenance_of(raw: Mapping[str, Any] | None) -> m.ImageProvenance | None:
    """``spec.workloads[].image_provenance``."""
    if not raw:
        return None
    return m.ImageProvenance(signature=raw["signature"], signer=str(raw.get("signer", "")),
                             last_scan=str(raw["last_scan"]) if raw.get("last_scan") is not None else None,
                             critical=raw.get("critical"), high=raw.get("high"))


def _mechanism(raw: Mapping[str, Any] | None) -> m.DataProtectionMechanism | None:
    if not raw:
        return None
    return m.DataProtectionMechanism(str(raw["algorithm"]), raw.get("product"), str(raw.get("scope", "")))


def data_sets_of(raw: Sequence[Mapping[str, Any]] | None) -> tuple[m.DataSet, ...]:
    """``spec.data_sets``."""
    return tuple(m.DataSet(d["name"], tuple(d["holds"]), d["stored_in"], _mechanism(d.get("encryption")),
                           _mechanism(d.get("integrity"))) for d in raw or ())


def change_management_of(raw: Mapping[str, Any] | None) -> m.ChangeManagement | None:
    """``spec.change_management`` (``None`` when absent)."""
    if raw is None:
        return None
    return m.ChangeManagement(procedure=str(raw.get("procedure", "")), approver=str(raw.get("approver", "")),
                              register_updated=bool(raw.get("register_updated", False)),
                              rollback_plan=bool(raw.get("rollback_plan", False)))

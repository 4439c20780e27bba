"""The 2025 high-risk cases (《网络安全等级保护测评高风险判定实施指引（试行）》, 公网安〔2025〕2391号).

``standards/high-risk-2025.yaml`` transcribes the guide's table A.1: each case (判例, e.g. ``6.4.1.1``)
names the GB/T 22239 requirement, the levels it applies to, its conditions (业务连续性要求高, 关键行业; for a
case whose problem joins two facts with 且, each fact — 6.9.4.1: 未每年开展一次等级测评 且
上次测评发现的高风险问题未及时整改) and who it judges (the system itself, the cloud platform, the cloud customer).
This module loads the table, checks it against the catalogue (every flagged item has exactly one case at its level
and every case item is flagged), and decides whether a case applies to a system described by a :class:`SystemProfile`.

A condition the manifest cannot decide (``None``) leaves the case *possibly* applicable: the scorer then
counts it in the worst case only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from compliance.catalogue.loader import default_standards_dir, load_located_yaml, schema_diagnostics, schema_path
from compliance.catalogue.model import Catalogue, CatalogueError
from xzgov.core.clock import days_between
from xzgov.core.errors import Diagnostic
from xzgov.core.fsutil import display_path
from xzgov.core.reads import read_bytes

__all__ = [
    "HIGH_RISK_FILE",
    "Applicability",
    "ConditionRules",
    "HighRiskCase",
    "HighRiskTable",
    "SystemProfile",
    "default_high_risk_table",
    "high_risk_table_for",
    "load_high_risk_table",
    "profile_of",
]

HIGH_RISK_FILE = "high-risk-2025.yaml"
Condition = Literal["continuity_high", "key_industry", "not_assessed_yearly", "assessment_risks_open"]
Subject = Literal["system", "cloud-platform", "cloud-customer"]
CloudRole = Literal["customer", "platform", "none"]
CONDITION_NAMES: Mapping[str, str] = {
    "continuity_high": "业务连续性要求高", "key_industry": "关键行业",
    "not_assessed_yearly": "未每年开展一次等级测评", "assessment_risks_open": "上次测评发现的高风险问题未及时整改"}


@dataclass(frozen=True)
class SystemProfile:
    """What the guide's applicability depends on, for one system (from its manifest).

    ``continuity_high`` / ``key_industry``: ``None`` when the manifest does not decide it.
    ``not_assessed_yearly`` / ``assessment_risks_open``: the two facts of case 6.9.4.1 from the last 等级测评 the
    manifest records (``spec.assessments.dengbao``), on the scan's as-of day (:func:`profile_of`).
    ``cloud_role``: a tenant system on the 政务云 is a cloud customer (云服务客户系统).
    """

    level: int
    internet_facing: bool = False
    continuity_high: bool | None = None
    key_industry: bool | None = None
    cloud_role: CloudRole = "customer"
    not_assessed_yearly: bool | None = None
    assessment_risks_open: bool | None = None

    def condition(self, name: str) -> bool | None:
        if name == "continuity_high":
            return self.continuity_high
        if name == "key_industry":
            return self.key_industry
        if name == "not_assessed_yearly":
            return self.not_assessed_yearly
        if name == "assessment_risks_open":
            return self.assessment_risks_open
        raise KeyError(name)


@dataclass(frozen=True)
class Applicability:
    """Whether a case applies: ``True``, ``False`` or ``None`` (a condition is undecided), and why."""

    applies: bool | None
    reason: str


@dataclass(frozen=True)
class HighRiskCase:
    case: str  #: the guide's case number, ``6.4.1.1``
    seq: int  #: 序号 in table A.1
    family: str
    title: str
    scope: str  #: 适用范围 as the guide words it
    requirement: str
    levels: tuple[int, ...]
    conditions: tuple[str, ...]
    subjects: tuple[str, ...]
    mitigation_listed: bool  #: the guide lists possible mitigations (可能的缓解措施 other than 无)
    items: tuple[tuple[int, str], ...]  #: (level, GB/T 28448 unit)
    confirmed: bool
    line: int  #: where the case starts in the data file

    def unit_at(self, level: int) -> str | None:
        return dict(self.items).get(level)

    @property
    def tenant_case(self) -> bool:
        """The case is judged in a tenant system's assessment (any system, or a cloud customer's), not only in
        the cloud platform's own."""
        return bool({"system", "cloud-customer"} & set(self.subjects))

    def condition_text(self) -> str:
        names = [CONDITION_NAMES[c] for c in self.conditions]
        return "、".join(names) if names else "无"

    def applies(self, profile: SystemProfile) -> Applicability:
        """Does the case apply to the system? Level, subject, then each condition."""
        if profile.level not in self.levels:
            return Applicability(False, f"适用范围为{self.scope}，系统为第{profile.level}级")
        subjects = set(self.subjects)
        if "system" not in subjects:
            role = {"customer": "cloud-customer", "platform": "cloud-platform"}.get(profile.cloud_role)
            if role not in subjects:
                return Applicability(False, f"判例针对{self.scope}，由云平台自身测评判定")
        undecided: list[str] = []
        for condition in self.conditions:
            value = profile.condition(condition)
            if value is False:
                return Applicability(False, f"系统不满足条件“{CONDITION_NAMES[condition]}”")
            if value is None:
                undecided.append(CONDITION_NAMES[condition])
        if undecided:
            return Applicability(None, f"条件“{'、'.join(undecided)}”未确定（清单未声明）")
        return Applicability(True, f"适用：{self.scope}")

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case, "seq": self.seq, "family": self.family, "title": self.title, "scope": self.scope,
            "levels": list(self.levels), "conditions": list(self.conditions), "subjects": list(self.subjects),
            "mitigation_listed": self.mitigation_listed, "items": {str(lv): u for lv, u in self.items},
            "confirmed": self.confirmed,
        }


@dataclass(frozen=True)
class ConditionRules:
    """How the manifest decides the conditions (configurable thresholds, unconfirmed)."""

    rto_minutes_at_most: int
    dr_tier_at_least: int
    key_industry_default: bool | None
    #: 每年开展一次等级测评: the last one at most this many days before the as-of day (6.9.4.1)
    yearly_assessment_days: int = 365


@dataclass(frozen=True)
class HighRiskTable:
    document: str  #: 公网安〔2025〕2391号
    source: str  #: the data file
    cases: tuple[HighRiskCase, ...]
    rules: ConditionRules

    @cached_property
    def _by_unit(self) -> dict[str, HighRiskCase]:
        return {unit: case for case in self.cases for _, unit in case.items}

    def case_for(self, unit: str) -> HighRiskCase | None:
        """The case flagging GB/T 28448 unit ``unit`` (e.g. ``L3-CES1-09``), if any."""
        return self._by_unit.get(unit)

    def cases_at(self, level: int, family: str | None = None) -> tuple[HighRiskCase, ...]:
        return tuple(c for c in self.cases if level in c.levels and (family is None or c.family == family))

    def flagged_units(self, level: int | None = None) -> frozenset[str]:
        return frozenset(u for c in self.cases for lv, u in c.items if level is None or lv == level)


def profile_of(system: Any, rules: ConditionRules, as_of: dt.date | None = None,
               required: Mapping[str, int] | None = None) -> SystemProfile:
    """The :class:`SystemProfile` of a manifest system (``xzgov.core.model.System``) judged on ``as_of`` (the
    scan's as-of day; ``None``: the assessment conditions are left undecided).

    业务连续性要求高 and 关键行业 are what ``spec.classification.high_risk_conditions`` decides. Undecided there,
    the first is presumed from the continuity the system is held to: its declared RTO and DR tier, or its level's
    own requirement (``required``: the ``max_rto_minutes`` / ``min_dr_tier`` of the scan's thresholds) where that
    is stricter — a level-3 system that declares a worse RTO than its level allows fails the continuity item and
    stays a high-continuity system, rather than escaping the guide's cases by the very shortfall. The second is
    the catalogue's default (``null``: undecided)."""
    declared = system.classification
    high = declared.continuity_high
    if high is None:
        continuity, limits = system.continuity, required or {}
        rto = min(continuity.rto_minutes, limits.get("max_rto_minutes", continuity.rto_minutes))
        tier = max(continuity.dr_tier, limits.get("min_dr_tier", continuity.dr_tier))
        high = rto <= rules.rto_minutes_at_most or tier >= rules.dr_tier_at_least
    industry = declared.key_industry if declared.key_industry is not None else rules.key_industry_default
    yearly, risks = _last_assessment(system, rules, as_of)
    return SystemProfile(level=system.level, internet_facing=bool(system.internet_facing), continuity_high=high,
                         key_industry=industry, cloud_role="customer",
                         not_assessed_yearly=yearly, assessment_risks_open=risks)


def _last_assessment(system: Any, rules: ConditionRules, as_of: dt.date | None) -> tuple[bool | None, bool | None]:
    """Case 6.9.4.1's two facts (系统定级备案后，未每年开展一次等级测评，且上次测评发现的高风险问题未及时整改):

    - not assessed yearly: the last 等级测评 is older than ``yearly_assessment_days`` (or dated after the as-of day:
      no report the scan can see); without any record, when the system was filed (备案) longer ago than that —
      not when it was filed within the year (not yet due), undecided without a filing date;
    - its high risks not remediated: ``False`` when the last report concluded 符合 or 基本符合 (a high risk forces
      不符合: there was none to remediate), else undecided — a 不符合 report's high risks may have been fixed
      since, which no manifest field records; without any report there is none to judge.
    """
    record = system.assessments.dengbao
    if as_of is None:
        return None, None if record is None or record.conclusion == "不符合" else False
    limit = rules.yearly_assessment_days
    if record is None:
        filed = days_between(system.classification.filing_date, as_of.isoformat())
        return (None if filed is None else filed > limit), None
    age = days_between(record.date, as_of.isoformat())
    yearly = None if age is None else (age > limit or age < 0)
    return yearly, None if record.conclusion == "不符合" else False


def _problem(file: str, line: int, field: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(file, line, 1, field, message, hint, "catalogue")


def load_high_risk_table(path: Path | None = None, catalogue: Catalogue | None = None) -> HighRiskTable:
    """Read and validate the case table; with ``catalogue``, check it against the items' flags."""
    path = path if path is not None else default_standards_dir() / HIGH_RISK_FILE
    doc, problems = load_located_yaml(path)
    if doc is None or problems:
        raise CatalogueError(f"cannot read the high-risk case table {display_path(path)}", problems)
    schema: dict[str, Any] = json.loads(read_bytes(schema_path(path.parent, "high-risk.schema.json")))
    problems = schema_diagnostics(doc, schema)
    if problems:
        raise CatalogueError(f"invalid high-risk case table {display_path(path)}", problems)
    data = doc.data
    cases: list[HighRiskCase] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(data["cases"]):
        where = ("cases", index)
        line = doc.position(where)[0]
        if raw["case"] in seen:
            problems.append(doc.diagnostic((*where, "case"), f"case {raw['case']} is listed twice",
                                           f"remove the duplicate (first at line {seen[raw['case']]})"))
        seen[raw["case"]] = line
        items = tuple(sorted((int(lv), unit) for lv, unit in raw["items"].items()))
        for lv, unit in items:
            if lv not in raw["levels"]:
                problems.append(doc.diagnostic((*where, "items", str(lv)),
                                               f"case {raw['case']} maps level {lv} but applies to levels "
                                               f"{raw['levels']}", "fix the level or the levels list"))
            if not unit.startswith(f"L{lv}-"):
                problems.append(doc.diagnostic((*where, "items", str(lv)), f"{unit} is not a level-{lv} unit",
                                               f"use the L{lv}-… unit of the same requirement"))
        cases.append(HighRiskCase(
            case=raw["case"], seq=raw["seq"], family=raw["family"], title=raw["title"], scope=raw["scope"],
            requirement=raw.get("requirement", ""), levels=tuple(raw["levels"]),
            conditions=tuple(raw["conditions"]), subjects=tuple(raw["subjects"]),
            mitigation_listed=bool(raw.get("mitigation_listed", True)), items=items,
            confirmed=bool(raw["confirmed"]), line=line))
    cond = data["conditions"]
    rules = ConditionRules(int(cond["continuity_high"]["rto_minutes_at_most"]),
                           int(cond["continuity_high"]["dr_tier_at_least"]), cond["key_industry"]["default"],
                           int(cond["not_assessed_yearly"]["max_age_days"]))
    table = HighRiskTable(data["metadata"]["document"], doc.file, tuple(cases), rules)
    if catalogue is not None:
        problems += _cross_check(table, catalogue, doc.file)
    if problems:
        raise CatalogueError(f"invalid high-risk case table {display_path(path)}: {len(problems)} problem(s)",
                             sorted(set(problems)))
    return table


def _cross_check(table: HighRiskTable, catalogue: Catalogue, file: str) -> list[Diagnostic]:
    """Every case item exists at its level and family and is flagged; every flagged item has a case."""
    problems: list[Diagnostic] = []
    mapped: dict[str, HighRiskCase] = {}
    for case in table.cases:
        for level, unit in case.items:
            item = catalogue.by_assessment_unit(unit)
            if item is None:
                problems.append(_problem(file, case.line, f"cases[{case.seq - 1}].items.{level}",
                                         f"case {case.case}: unknown assessment unit {unit}",
                                         "use a GB/T 28448-2019 unit id present in the catalogue"))
                continue
            if item.family != case.family:
                problems.append(_problem(file, case.line, f"cases[{case.seq - 1}].items.{level}",
                                         f"case {case.case} ({case.family}) maps {unit} of family {item.family}",
                                         "map the case to an item of its own extension"))
            if unit in mapped:
                problems.append(_problem(file, case.line, f"cases[{case.seq - 1}].items.{level}",
                                         f"{unit} is mapped by cases {mapped[unit].case} and {case.case}",
                                         "each item carries one case"))
            mapped[unit] = case
            if not item.high_risk:
                problems.append(_problem(item.source.file, item.source.line, "high_risk",
                                         f"{unit} has high-risk case {case.case} but high_risk: false",
                                         "set high_risk: true"))
    for item in catalogue.items:
        if item.high_risk and item.assessment_unit not in mapped:
            problems.append(_problem(item.source.file, item.source.line, "high_risk",
                                     f"{item.assessment_unit} is flagged high_risk but the 2025 guide has no case "
                                     f"for it at level {item.level}",
                                     f"set high_risk: false, or add the case to {display_path(Path(file))}"))
    return problems


def high_risk_table_for(catalogue: Catalogue, standards: Path | None = None) -> HighRiskTable:
    """The case table of the standards directory ``standards`` checked against ``catalogue`` (the catalogue loaded
    from that directory): its own ``high-risk-2025.yaml``, else — a copy without the table, or ``None`` — the
    default one (:func:`default_standards_dir`). Every ``high_risk`` flag must have its case and every case item
    must be flagged (:func:`_cross_check`); a disagreement raises :class:`CatalogueError` located at the item.
    The ``xzgov standards`` commands make this check on the catalogue they show, as the scan does on its own."""
    own = standards / HIGH_RISK_FILE if standards is not None else None
    return load_high_risk_table(own if own is not None and own.is_file() else None, catalogue=catalogue)


@lru_cache(maxsize=1)
def default_high_risk_table() -> HighRiskTable:
    """The packaged table, checked against the default catalogue (loaded once per process)."""
    from compliance.catalogue.loader import default_catalogue

    return high_risk_table_for(default_catalogue())

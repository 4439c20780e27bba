"""Programme KPIs (三年行动 指标): the plan's targets measured over the register.

Per department, per tier (自治区 / 地市 / 县区 / 乡镇) and overall, the share of systems

=================  ===================================================================================
``on-cloud``       ``spec.programme.migration.state: on-cloud`` (上云率)
``catalogued``     ``spec.programme.catalogued`` (编目率, 政务信息资源目录)
``aggregated``     ``spec.programme.aggregated`` (归集率, 大数据中心)
``connected``      ``spec.programme.connected`` (打通率: exchanges data through the shared data-exchange
                   platform, backed by a declared flow)
``filed``          ``classification.filing_number`` present (等保备案率)
``crypto-passed``  the scan's 密评 conclusion is 符合 or 基本符合 whichever way its untested units go (密评通过率:
                   a settled conclusion, or a range such as 基本符合–符合; 不符合–基本符合 does not count)
=================  ===================================================================================

Exempt systems (``migration.state: exempt``, e.g. 涉密) are out of every denominator; systems that do
not declare ``spec.programme`` count in the denominators and meet no programme metric (未填报).

Each task of region.yaml ``spec.programme`` is measured on its scope (all systems or the systems that serve it,
optionally some tiers only) and judged as of a date: 已达成 when the share reaches the target,
逾期 when the deadline or a milestone has passed with the share below its target, else 进行中.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.results import ScanResult, settled_verdict
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.facts.baseline import filing_judged

METRICS: tuple[str, ...] = tuple(m.PROGRAMME_METRICS)
METRIC_LABELS: Mapping[str, str] = {
    "on-cloud": "上云率", "catalogued": "编目率", "aggregated": "归集率", "connected": "打通率",
    "filed": "等保备案率", "crypto-passed": "密评通过率",
}
TIERS: tuple[str, ...] = ("自治区", "地市", "县区", "乡镇")
#: 密评 conclusions that count as passing.
CRYPTO_PASSING = frozenset({"符合", "基本符合"})
STATUS_LABELS: Mapping[str, str] = {"achieved": "已达成", "on-track": "进行中", "overdue": "逾期",
                                    "unmeasured": "未测算", "no-systems": "无适用系统"}


@dataclass(frozen=True)
class Share:
    met: int
    total: int

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else 100.0 * self.met / self.total

    def text(self) -> str:
        percent = self.percent
        return "—" if percent is None else f"{percent:.1f}% ({self.met}/{self.total})"

    def to_json(self) -> dict[str, Any]:
        percent = self.percent
        return {"met": self.met, "total": self.total, "percent": None if percent is None else round(percent, 1)}


@dataclass(frozen=True)
class GroupKpi:
    """The KPI shares of one group of systems (a department, a tier, or all)."""

    key: str
    label: str
    systems: int  #: registered systems in the group, exempt included
    exempt: int
    undeclared: int  #: in scope but without ``spec.programme``
    shares: Mapping[str, Share]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "systems": self.systems, "exempt": self.exempt,
                "undeclared": self.undeclared, "shares": {k: v.to_json() for k, v in self.shares.items()}}


@dataclass(frozen=True)
class TaskKpi:
    """One programme task as of a date."""

    id: str
    title: str
    metric: str
    target: float
    deadline: str
    lead: tuple[tuple[str, str], ...]  #: (department id, name)
    share: Share
    #: achieved | on-track | overdue | unmeasured (密评 without a scan) | no-systems (no system in its scope: nothing
    #: was measured, so it is not 已达成)
    status: str
    missed: str = ""  #: the deadline or milestone that passed unmet (ISO date)
    missed_target: float | None = None
    due_target: float = 0.0  #: the target in force on the as-of date (last milestone passed)
    lagging: tuple[str, ...] = ()  #: systems in scope not meeting the metric
    #: the task measures every system in scope (``scope: all``, no tier filter): its target is the region's
    whole_region: bool = True

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "metric": self.metric, "metric_label": METRIC_LABELS[self.metric],
                "target": self.target, "deadline": self.deadline,
                "lead": [{"id": d, "name": n} for d, n in self.lead], "share": self.share.to_json(),
                "status": self.status, "status_label": self.status_label, "missed": self.missed or None,
                "missed_target": self.missed_target, "due_target": self.due_target, "lagging": list(self.lagging),
                "whole_region": self.whole_region}


@dataclass(frozen=True)
class LateMigration:
    system: str
    title: str
    department: str
    planned: str


@dataclass(frozen=True)
class KpiReport:
    programme: str
    title: str
    as_of: str
    crypto_source: str  #: "scan" when 密评 conclusions were given, else "none" (crypto-passed is then 0)
    overall: GroupKpi
    departments: tuple[GroupKpi, ...]
    tiers: tuple[GroupKpi, ...]
    tasks: tuple[TaskKpi, ...]
    late_migrations: tuple[LateMigration, ...] = ()
    exempt: tuple[tuple[str, str], ...] = ()  #: (system, reason)
    trend: Mapping[str, Any] = field(default_factory=dict)

    @property
    def overdue(self) -> tuple[TaskKpi, ...]:
        return tuple(task for task in self.tasks if task.status == "overdue")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "xzgov-kpi", "version": 1, "programme": self.programme, "title": self.title,
            "as_of": self.as_of, "crypto_source": self.crypto_source,
            "metrics": [{"id": k, "label": METRIC_LABELS[k]} for k in METRICS],
            "overall": self.overall.to_json(), "tiers": [g.to_json() for g in self.tiers],
            "departments": [g.to_json() for g in self.departments], "tasks": [t.to_json() for t in self.tasks],
            "overdue_tasks": [t.id for t in self.overdue],
            "late_migrations": [{"system": x.system, "title": x.title, "department": x.department,
                                 "planned": x.planned} for x in self.late_migrations],
            "exempt": [{"system": s, "reason": r} for s, r in self.exempt],
            "trend": dict(self.trend),
        }


def crypto_verdicts(result: ScanResult) -> dict[str, str]:
    """System name → the 密评 conclusion it is sure of: its verdict, or while units are untested the worst end of
    the range still possible ("" when unscored). A system counts as passing when even that worst case passes: a
    range 基本符合–符合 passes whichever way the untested units go, 不符合–基本符合 does not (before, only a settled
    conclusion counted, so a system gaining a valid 密评 record could drop out of the share)."""
    return {s.name: _worst_case(s.miping.verdict, s.miping.verdict_range) if s.miping else "" for s in result.systems}


def _worst_case(verdict: str | None, verdict_range: tuple[str, str] | None) -> str:
    settled = settled_verdict(verdict, verdict_range)
    if settled:
        return settled
    return verdict_range[0] if verdict_range else ""


def metric_applies(metric: str, as_of: str) -> Callable[[m.System], bool]:
    """Which systems a metric counts (of those in scope): every one, but for ``filed`` the systems whose filing
    XZ-MAN-FILING judges on ``as_of`` (:func:`xzgov.facts.baseline.filing_judged`: level 2 or above, live, filed or
    past the 30 days after going live). A level-1 or planned system counted as unfiled before: the task could never
    reach 100 % while the scan found nothing to file."""
    if metric != "filed":
        return lambda system: True

    def applies(system: m.System) -> bool:
        return filing_judged(system.level, system.lifecycle.status, system.lifecycle.go_live,
                             system.classification.filing_number is not None, as_of)
    return applies


def metric_check(metric: str, crypto: Mapping[str, str]) -> Callable[[m.System], bool]:
    def check(system: m.System) -> bool:
        programme = system.programme
        if metric == "filed":
            return system.classification.filing_number is not None
        if metric == "crypto-passed":
            return crypto.get(system.name, "") in CRYPTO_PASSING
        if programme is None:
            return False
        if metric == "on-cloud":
            return programme.migration == "on-cloud"
        return bool(getattr(programme, metric))
    return check


def _in_scope(system: m.System) -> bool:
    return system.programme is None or system.programme.migration != "exempt"


def _group(key: str, label: str, systems: Iterable[m.System], crypto: Mapping[str, str], as_of: str) -> GroupKpi:
    members = list(systems)
    scoped = [s for s in members if _in_scope(s)]
    shares = {}
    for metric in METRICS:
        check, applies = metric_check(metric, crypto), metric_applies(metric, as_of)
        counted = [s for s in scoped if applies(s)]
        shares[metric] = Share(sum(1 for s in counted if check(s)), len(counted))
    return GroupKpi(key, label, len(members), len(members) - len(scoped),
                    sum(1 for s in scoped if s.programme is None), shares)


def _task(
    register: m.Register, task: m.ProgrammeTask, as_of: str, crypto: Mapping[str, str], measured: bool = True,
) -> TaskKpi:
    applies = metric_applies(task.metric, as_of)
    scoped = [s for s in register if _in_scope(s) and (not task.tiers or s.tier in task.tiers)
              and (task.scope == "all" or (s.programme is not None and task.id in s.programme.tasks))
              and applies(s)]
    check = metric_check(task.metric, crypto)
    meeting = [s for s in scoped if check(s)]
    share = Share(len(meeting), len(scoped))
    percent = share.percent
    checkpoints = [(milestone.by, milestone.target) for milestone in task.milestones] + [(task.deadline, task.target)]
    passed = [(by, target) for by, target in checkpoints if by < as_of]
    due = max((target for _, target in passed), default=0.0)
    missed = [(by, target) for by, target in passed if percent is not None and percent < target]
    if not measured:
        status = "unmeasured"
    elif percent is None:  # no system in its scope (a serving task none names): measured nothing, reached nothing
        status = "no-systems"
    elif percent >= task.target:
        status = "achieved"
    elif missed:
        status = "overdue"
    else:
        status = "on-track"
    lead = tuple((d, register.region.departments[d].name if d in register.region.departments else d)
                 for d in task.lead)
    last_missed = missed[-1] if missed and status == "overdue" else ("", None)
    # a task measured nothing (密评 without a scan): no share and no lagging systems, only its schedule
    lagging = tuple(sorted(s.name for s in scoped if s not in meeting)) if measured else ()
    shown = share if measured else Share(0, 0)
    return TaskKpi(task.id, task.title, task.metric, task.target, task.deadline, lead, shown, status,
                   last_missed[0], last_missed[1], due, lagging, task.scope == "all" and not task.tiers)


def compute_kpi(
    register: m.Register, as_of: dt.date | str, crypto: Mapping[str, str] | None = None,
) -> KpiReport:
    """The KPIs of ``register`` as of ``as_of``; ``crypto`` maps systems to settled 密评 conclusions
    (:func:`crypto_verdicts` of a scan); without it no system counts as passing 密评."""
    day = as_of if isinstance(as_of, str) else as_of.isoformat()
    verdicts = dict(crypto or {})
    systems = list(register)
    departments = register.region.departments
    by_department: dict[str, list[m.System]] = {}
    for system in systems:
        by_department.setdefault(system.department, []).append(system)
    programme = register.programme
    for task in programme.tasks.values() if programme else ():
        for lead in task.lead:  # a lead department without systems has its row (and page) for the tasks it leads
            by_department.setdefault(lead, [])
    department_rows = tuple(
        _group(dept, departments[dept].name if dept in departments else dept, members, verdicts, day)
        for dept, members in sorted(by_department.items(), key=lambda item: (
            list(departments).index(item[0]) if item[0] in departments else len(departments), item[0])))
    tier_rows = tuple(_group(tier, tier, [s for s in systems if s.tier == tier], verdicts, day)
                      for tier in TIERS if any(s.tier == tier for s in systems))
    tasks = tuple(_task(register, task, day, verdicts, crypto is not None or task.metric != "crypto-passed")
                  for task in programme.tasks.values()) if programme else ()
    late = tuple(
        LateMigration(s.name, s.title, s.department, s.programme.migration_date or "")
        for s in systems
        if s.programme is not None and s.programme.migration == "migrating"
        and (s.programme.migration_date or "") < day
    )
    exempt = tuple((s.name, s.programme.exempt_reason) for s in systems
                   if s.programme is not None and s.programme.migration == "exempt")
    return KpiReport(
        programme=programme.name if programme else "", title=programme.title if programme else "",
        as_of=day, crypto_source="scan" if crypto is not None else "none",
        overall=_group("all", "全区合计", systems, verdicts, day), departments=department_rows, tiers=tier_rows,
        tasks=tasks, late_migrations=late, exempt=exempt,
    )


#: Where :func:`with_trend` says an earlier value was read when its caller does not say (the page's file).
EARLIER_SOURCE = "<the earlier report's report.html (--since / --kpi-since), script#xzgov-kpi>"


def earlier_problems(earlier: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The values of ``earlier`` (the KPIs an earlier report embeds, a :meth:`KpiReport.to_json`) that
    :func:`with_trend` reads and refuses, as (field path, message): an overall share's ``percent`` that is
    there (not ``null``) and is not a finite number from 0 to 100 — text, ``true``, ``Infinity``, ``NaN`` or a
    number beyond any share such as ``1e400``, which no report of xzgov holds. A shape this release does not
    know (no ``overall``, a share that is not an object …) is not a problem: it shows no change."""
    problems = []
    for metric, share in _earlier_shares(earlier).items():
        percent = share.get("percent") if isinstance(share, Mapping) else None
        if percent is not None and not _is_share(percent):
            problems.append((f"overall.shares.{metric}.percent",
                             f"{_shown(percent)} is not a share in percent (a finite number from 0 to 100)"))
    return problems


def check_earlier(earlier: Mapping[str, Any], source: str = EARLIER_SOURCE) -> None:
    """Refuse (exit 2, each value located at ``source`` and its field) the earlier KPIs
    :func:`earlier_problems` finds fault with; a caller that read them from a page names it as ``source``, and
    calls this before the work that needs them (a scan's trend is drawn after the scan)."""
    problems = earlier_problems(earlier)
    if problems:
        where, message = problems[0]
        raise UsageError(f"{source}: the embedded KPIs: {where}: {message}; no trend shown", [
            Diagnostic(source, 0, 0, path, problem, "give an earlier report set as `xzgov scan --key` wrote it (its "
                       "report.html embeds the KPIs as JSON): this one was edited or not written by xzgov", "format")
            for path, problem in problems])


def _earlier_shares(earlier: Mapping[str, Any]) -> Mapping[str, Any]:
    # an earlier report is read defensively: a shape this release does not know shows no change, never a crash
    overall = earlier.get("overall") if isinstance(earlier, Mapping) else None
    shares = overall.get("shares") if isinstance(overall, Mapping) else None
    return {metric: shares.get(metric) for metric in METRICS} if isinstance(shares, Mapping) else {}


def _is_share(value: object) -> bool:
    """Whether ``value`` is a share in percent: a finite int or float from 0 to 100 (``true`` is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)  # an int beyond any float (10**400) raises
    except OverflowError:
        return False
    return math.isfinite(number) and 0.0 <= number <= 100.0


def _shown(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)  # Infinity / NaN as JSON would write them
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else f"{text[:24]}… ({len(text):,} characters)"


def with_trend(report: KpiReport, earlier: Mapping[str, Any], source: str = EARLIER_SOURCE) -> KpiReport:
    """``report`` with the change of every overall share since ``earlier`` (a :meth:`KpiReport.to_json`), in
    percentage points between the shares as both reports show them (one decimal; an unchanged share is 0.0,
    never -0.0). A shape this release does not know shows no change; a share that is there but not a
    finite number from 0 to 100 is refused (:func:`check_earlier`, exit 2 located at ``source``): never a crash."""
    check_earlier(earlier, source)
    before = _earlier_shares(earlier)
    changes: dict[str, Any] = {}
    for metric in METRICS:
        percent = report.overall.shares[metric].percent
        now = None if percent is None else round(percent, 1)
        share = before.get(metric)
        old = share.get("percent") if isinstance(share, Mapping) else None  # None, or a share (checked above)
        if metric == "crypto-passed":  # 密评 without a scan counts 0: not measured, so no change either
            now = None if report.crypto_source != "scan" else now
            old = None if earlier.get("crypto_source", "scan") != "scan" else old
        changes[metric] = {"before": old, "now": now,
                           # + 0.0: less than 0.05 points down rounds to -0.0, shown "-0.0%" (it was, for
                           # 28/39 = 71.79…% against the 71.8 the earlier report shows: now is rounded first)
                           "change": None if now is None or old is None else round(now - old, 1) + 0.0}
    trend = {"since": str(earlier.get("as_of", "")), "shares": changes}
    return KpiReport(report.programme, report.title, report.as_of, report.crypto_source, report.overall,
                     report.departments, report.tiers, report.tasks, report.late_migrations, report.exempt, trend)

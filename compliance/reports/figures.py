"""The 2025 等级测评报告模板 figures of one system, computed once for the JSON, HTML and Markdown reports.

- 等级测评符合率: (符合 + 0.5 × 部分符合) / applicable 等保 items (不适用 excluded; credits from
  ``standards/scoring.yaml``); while items are 未测 it is a range (untested counted failed / passed).
- 要求项符合率统计: the same rate and the result counts per 安全类 (安全物理环境 … 安全运维管理, and the
  cloud extension's categories folded into them by name).
- 重大风险隐患触发表: every case of the 2025 high-risk guide (公网安〔2025〕2391号) at the system's level
  whose item is in the system's item set, with that item, the item's result and whether it triggered (是 / 否 / 待定).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from compliance.catalogue import DENGBAO, CatalogueError
from compliance.catalogue.high_risk import HighRiskTable, default_high_risk_table
from compliance.results import FigureTables, ItemOutcome, RiskCase, ScanResult, SystemReport
from compliance.scoring import load_scoring_config

__all__ = [
    "CategoryFigure",
    "ReportFigures",
    "TriggerRow",
    "figure_tables",
    "figures_html",
    "figures_markdown_row",
    "system_figures",
]

STATUSES = ("符合", "部分符合", "不符合", "不适用", "未测")
TECHNICAL = ("安全物理环境", "安全通信网络", "安全区域边界", "安全计算环境", "安全管理中心")


@dataclass(frozen=True)
class CategoryFigure:
    name: str  #: 安全类, e.g. 安全计算环境
    kind: str  #: 技术 / 管理
    counts: Mapping[str, int]  #: per status (符合, 部分符合, 不符合, 不适用, 未测)
    applicable: int
    rate_range: tuple[float, float]  #: (untested failed, untested passed), 0..1

    @property
    def rate(self) -> float | None:
        low, high = self.rate_range
        return low if low == high and self.applicable else None

    def to_json(self) -> dict[str, Any]:
        return {"category": self.name, "kind": self.kind, "counts": dict(self.counts), "applicable": self.applicable,
                "rate": self.rate, "rate_range": list(self.rate_range)}


@dataclass(frozen=True)
class TriggerRow:
    case: str  #: the guide's case number
    title: str
    scope: str
    conditions: str  #: Chinese, 无 when none
    unit: str  #: GB/T 28448 unit judged
    item: str  #: the system's item id
    status: str  #: the item's 等保 result (未测 while pending)
    triggered: str  #: 是 / 否 / 待定

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "title": self.title, "scope": self.scope, "conditions": self.conditions,
                "unit": self.unit, "item": self.item, "status": self.status, "triggered": self.triggered}


@dataclass(frozen=True)
class ReportFigures:
    rate_range: tuple[float, float]  #: 等级测评符合率 (lowest, highest), 0..1
    applicable: int
    counts: Mapping[str, int]
    categories: tuple[CategoryFigure, ...]
    triggers: tuple[TriggerRow, ...]
    guide: str  #: 公网安〔2025〕2391号

    @property
    def rate(self) -> float | None:
        low, high = self.rate_range
        return low if low == high else None

    @property
    def triggered(self) -> tuple[TriggerRow, ...]:
        return tuple(row for row in self.triggers if row.triggered == "是")

    def to_json(self) -> dict[str, Any]:
        return {
            "compliance_rate": self.rate, "compliance_rate_range": list(self.rate_range),
            "applicable": self.applicable, "counts": dict(self.counts),
            "categories": [c.to_json() for c in self.categories],
            "major_risks": {"guide": self.guide, "triggered": len(self.triggered),
                            "pending": sum(1 for r in self.triggers if r.triggered == "待定"),
                            "cases": [r.to_json() for r in self.triggers]},
        }


@lru_cache(maxsize=1)
def _installed() -> FigureTables:
    try:
        table: HighRiskTable | None = default_high_risk_table()
    except CatalogueError:
        table = None
    return FigureTables.of(load_scoring_config().dengbao, table)


def figure_tables(result: ScanResult) -> FigureTables:
    """The tables ``result``'s figures are computed with: the scan's own (its standards directory), else the
    installed ones (a result built without a scan)."""
    return result.figure_tables if result.figure_tables is not None else _installed()


def _rate(counts: Mapping[str, int], credits: tuple[float, float, float]) -> tuple[int, tuple[float, float]]:
    ok, part, fail = credits
    applicable = sum(counts.get(s, 0) for s in ("符合", "部分符合", "不符合", "未测"))
    if not applicable:
        return 0, (0.0, 0.0)
    credited = counts.get("符合", 0) * ok + counts.get("部分符合", 0) * part + counts.get("不符合", 0) * fail
    return applicable, (credited / applicable, (credited + counts.get("未测", 0) * ok) / applicable)


def system_figures(system: SystemReport, tables: FigureTables | None = None) -> ReportFigures:
    """The template figures of one system's report, with the scan's ``tables`` (:func:`figure_tables`;
    ``None``: the installed ones)."""
    tables = tables if tables is not None else _installed()
    credits = tables.credits
    items = [o for o in system.items if o.standard == DENGBAO]
    counts = Counter(o.score_status for o in items)
    applicable, rate_range = _rate(counts, credits)
    by_category: dict[str, Counter[str]] = {}
    for outcome in items:
        by_category.setdefault(outcome.category, Counter())[outcome.score_status] += 1
    categories = []
    for name, found in by_category.items():
        n, rng = _rate(found, credits)
        categories.append(CategoryFigure(name, "技术" if name in TECHNICAL else "管理",
                                         {s: found.get(s, 0) for s in STATUSES}, n, rng))
    return ReportFigures(rate_range, applicable, {s: counts.get(s, 0) for s in STATUSES}, tuple(categories),
                         _triggers(system, items, tables.cases), tables.guide)


def _triggers(system: SystemReport, items: Sequence[ItemOutcome], cases: Sequence[RiskCase]) -> tuple[TriggerRow,
                                                                                                       ...]:
    by_unit = {o.assessment_unit: o for o in items}
    flagged = set(system.dengbao.high_risk) if system.dengbao else set()
    # a final card without a veto has no finding left possible (with a veto, final says nothing of the others)
    settled = system.dengbao is not None and system.dengbao.final and not system.dengbao.high_risk
    rows: list[TriggerRow] = []
    for case in cases:
        unit = case.unit_at(system.level)
        if unit is None:
            continue
        outcome = by_unit.get(unit)
        if outcome is None:  # the item is outside the system's item set
            continue
        status = outcome.score_status
        # 是 only where the verdict vetoes on it; a high-risk grade failure whose case may apply (the scan keeps
        # the flag only there: compliance.scanner._settle_high_risk) is 待定 — it was 是 beside a 符合 verdict
        if outcome.item_id in flagged:
            triggered = "是"
        elif case.case in system.cases_not_applying:  # a condition decided false, or the platform's own case
            triggered = "否"
        elif outcome.high_risk or status == "未测" or (status == "不符合" and case.conditional and not settled):
            triggered = "待定"
        else:
            triggered = "否"
        rows.append(TriggerRow(case.case, case.title, case.scope, case.conditions, unit, outcome.item_id,
                               status, triggered))
    return tuple(rows)


def cut_two(value: float) -> str:
    """``value`` to two decimals, cut (not rounded) — the 1e-6 absorbs binary noise (0.29 × 100 is 28.999…); a real
    rate below a threshold is at least 1/(2 × items) below it. Every report shows a card's figures so: rounded,
    89.996 % was "90.00%" beside 基本符合 (a threshold is never shown for a figure below it), and the page's verdict
    row and its figures section gave one rate two ways (98.97% and 98.98%)."""
    return f"{math.floor(value * 100 + 1e-6) / 100:.2f}"


def figure_text(value_range: tuple[float, float], percent: bool) -> str:
    """A rate (``percent``: 0..1 shown as %) or a score (0..100) with :func:`cut_two`; a range while untested."""
    low, high = value_range
    shown = (f"{cut_two(low * 100)}%", f"{cut_two(high * 100)}%") if percent else (cut_two(low), cut_two(high))
    return shown[0] if low == high else f"{shown[0]}–{shown[1]}"


def _pct(rate_range: tuple[float, float]) -> str:
    return figure_text(rate_range, percent=True)


#: The head of the Markdown summary's figures table (one row per system, :func:`figures_markdown_row`).
MARKDOWN_FIGURES_HEAD = ("| 系统 | 等级测评符合率 compliance rate | 适用项 | 重大风险 触发 / 待定 / 判例 "
                         "| 触发的判例 (测评单元, 结果) |",
                         "|---|---|---|---|---|")


def figures_markdown_row(system: SystemReport, figures: ReportFigures) -> str:
    """One Markdown table row of a system's figures: its rate, applicable items, major-risk counts and the
    triggered cases (the per-category table is on the system's HTML page and in the JSON report)."""
    pending = sum(1 for r in figures.triggers if r.triggered == "待定")
    triggered = "; ".join(f"{r.case} {r.title} ({r.unit}, {r.status})" for r in figures.triggered) or "—"
    return (f"| {system.name} | {_pct(figures.rate_range)} | {figures.applicable} | {len(figures.triggered)} / "
            f"{pending} / {len(figures.triggers)} | {triggered} |")


def category_rate(category: CategoryFigure) -> str:
    """The category's rate as shown (a range while items are untested; — when nothing applies)."""
    return _pct(category.rate_range) if category.applicable else "—"


def figures_html(figures: ReportFigures, texts: bool = True) -> str:
    """The figures as an HTML section (escaped). With ``texts=False`` only the triggered cases are written
    (with their title, scope and conditions) and no category row; the page's script builds both tables
    (``tbody#categories-body``, ``tbody#risks-body``) from the page's data and ``catalogue.js``."""
    rows = "".join(
        f"<tr><td>{escape(c.name)}</td><td>{escape(c.kind)}</td>"
        + "".join(f"<td>{c.counts[s]}</td>" for s in STATUSES)
        + f"<td>{escape(category_rate(c))}</td></tr>"
        for c in figures.categories
    ) if texts else ""
    triggers = "".join(
        f"<tr class='trigger-{'yes' if r.triggered == '是' else 'no'}'><td>{escape(r.case)}</td>"
        + (f"<td>{escape(r.title)}</td><td>{escape(r.scope)}</td><td>{escape(r.conditions)}</td>"
           if texts or r.triggered == "是" else "")
        + f"<td>{escape(r.unit)}</td><td>{escape(r.status)}</td><td>{escape(r.triggered)}</td></tr>"
        for r in figures.triggers if texts or r.triggered == "是"
    )
    if texts:
        category_head = f"<thead>{table_head(CATEGORY_HEAD)}</thead>"
        risk_head = f"<thead>{table_head(RISK_HEAD)}</thead>"
    else:  # the system pages: report.js writes the heads (data-h: K categories, R risks)
        category_head, risk_head = '<thead data-h="K"></thead>', '<thead data-h="R"></thead>'
    return (
        "<section class='figures'><h3>等级测评符合率 compliance rate: "
        f"<b>{escape(_pct(figures.rate_range))}</b>（适用 {figures.applicable} 项）</h3>"
        "<h4>要求项符合率统计 by category</h4>"
        f"<table>{category_head}<tbody{'' if texts else ' id=categories-body'}>{rows}</tbody></table>"
        f"<h4>重大风险隐患 major risks（{escape(figures.guide)}）：触发 {len(figures.triggered)} 项</h4>"
        f"<p class='muted'>{escape(PLATFORM_CASES_NOTE)}</p>"
        f"<table>{risk_head}<tbody{'' if texts else ' id=risks-body'}>{triggers}</tbody></table></section>"
    )


#: Why the cloud platform's own cases are not in a system's case table.
PLATFORM_CASES_NOTE = ("仅针对云计算平台的判例 (如 7.2.1.1) 由云平台自身测评判定, 不列入本系统 / the cloud "
                       "platform's own cases are judged in its assessment")

#: Column heads of the figures' tables: by category, and the major-risk cases.
CATEGORY_HEAD = ("安全类", "类型", *STATUSES, "符合率")
RISK_HEAD = ("判例", "名称", "适用范围", "条件", "测评单元", "结果", "触发")


def table_head(columns: tuple[str, ...]) -> str:
    """A table's head row (escaped)."""
    return "<tr>" + "".join(f"<th>{escape(column)}</th>" for column in columns) + "</tr>"

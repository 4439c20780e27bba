"""The KPI section of the HTML report (Chinese): tables and inline SVG charts, no external resource."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence

from compliance.kpi import METRIC_LABELS, METRICS, GroupKpi, KpiReport, Share, TaskKpi

STATUS_COLORS: Mapping[str, str] = {"achieved": "#2e7d32", "on-track": "#1565c0", "overdue": "#c62828",
                                    "unmeasured": "#757575"}


def _e(text: object) -> str:
    """Escaped text; ``://`` as character references, so that data quoting an address (an endpoint in
    evidence) shows as written but the offline report's source holds no URL."""
    return html.escape(str(text), quote=True).replace("://", ":&#47;&#47;")


def _pct(share: Share) -> float:
    return share.percent if share.percent is not None else 0.0


def metric_bars(group: GroupKpi, targets: Mapping[str, float], width: int = 560) -> str:
    """One horizontal bar per metric (0–100 %), the target as a dashed mark."""
    row, label_w = 26, 96
    scale = (width - label_w - 90) / 100
    height = row * len(METRICS) + 8
    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{_e(group.label)} 指标完成率">']
    for index, metric in enumerate(METRICS):
        share = group.shares[metric]
        y = 4 + index * row
        w = _pct(share) * scale
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{_e(METRIC_LABELS[metric])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{100 * scale:.1f}" height="16" fill="#eeeeee"/>'
                     f'<rect class="bar" data-metric="{_e(metric)}" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
                     f'height="16" fill="#1565c0"><title>{_e(METRIC_LABELS[metric])} {_e(share.text())}</title></rect>'
                     f'<text x="{label_w + 100 * scale + 6:.1f}" y="{y + 15}" font-size="12">{_e(share.text())}</text>')
        if metric in targets:
            tx = label_w + targets[metric] * scale
            parts.append(f'<line x1="{tx:.1f}" y1="{y}" x2="{tx:.1f}" y2="{y + 22}" stroke="#c62828" '
                         f'stroke-width="2" stroke-dasharray="3 2"><title>目标 {targets[metric]:g}%</title></line>')
    parts.append("</svg>")
    return "".join(parts)


def tier_chart(tiers: Sequence[GroupKpi], width: int = 640) -> str:
    """Grouped columns: per tier, one column per metric."""
    colors = ("#1565c0", "#00838f", "#2e7d32", "#ef6c00", "#6a1b9a", "#8b0000")
    plot_h, top, bottom = 150, 10, 40
    group_w = (width - 40) / max(len(tiers), 1)
    bar_w = (group_w - 16) / len(METRICS)
    height = plot_h + top + bottom
    parts = [f'<svg class="chart" width="{width}" height="{height + 24}" viewBox="0 0 {width} {height + 24}" '
             'role="img" aria-label="分层级指标">']
    for mark in (0, 50, 100):
        y = top + plot_h - plot_h * mark / 100
        parts.append(f'<line x1="30" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#e0e0e0"/>'
                     f'<text x="0" y="{y + 4:.1f}" font-size="11">{mark}%</text>')
    for gi, tier in enumerate(tiers):
        x0 = 40 + gi * group_w
        for mi, metric in enumerate(METRICS):
            share = tier.shares[metric]
            h = plot_h * _pct(share) / 100
            parts.append(f'<rect x="{x0 + mi * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                         f'height="{h:.1f}" fill="{colors[mi]}"><title>{_e(tier.label)} '
                         f'{_e(METRIC_LABELS[metric])} {_e(share.text())}</title></rect>')
        parts.append(f'<text x="{x0 + (group_w - 16) / 2:.1f}" y="{top + plot_h + 18}" font-size="13" '
                     f'text-anchor="middle">{_e(tier.label)} ({tier.systems})</text>')
    for mi, metric in enumerate(METRICS):
        x = 40 + mi * 100
        parts.append(f'<rect x="{x}" y="{height + 6}" width="12" height="12" fill="{colors[mi]}"/>'
                     f'<text x="{x + 16}" y="{height + 16}" font-size="12">{_e(METRIC_LABELS[metric])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def mini_bar(share: Share) -> str:
    w = 60 * _pct(share) / 100
    return (f'<svg width="62" height="10" aria-hidden="true"><rect width="60" height="10" fill="#eeeeee"/>'
            f'<rect width="{w:.1f}" height="10" fill="#1565c0"/></svg> {_e(share.text())}')


def _group_table(groups: Sequence[GroupKpi], head: str, link_prefix: str = "") -> str:
    cols = "".join(f"<th>{_e(METRIC_LABELS[m])}</th>" for m in METRICS)
    rows = []
    for group in groups:
        name = (f'<a href="#{_e(link_prefix + group.key)}">{_e(group.label)}</a>' if link_prefix
                else _e(group.label))
        extra = f' <span class="muted">(不纳入 {group.exempt})</span>' if group.exempt else ""
        extra += f' <span class="muted">(未填报 {group.undeclared})</span>' if group.undeclared else ""
        rows.append(f'<tr class="kpi-row" data-dept="{_e(group.key)}"><td>{name}{extra}</td><td>{group.systems}</td>'
                    + "".join(f"<td>{mini_bar(group.shares[m])}</td>" for m in METRICS) + "</tr>")
    return (f'<div class="scroll"><table class="kpi"><tr><th>{_e(head)}</th><th>系统</th>{cols}</tr>'
            f'{"".join(rows)}</table></div>')


def _task_rows(tasks: Sequence[TaskKpi]) -> str:
    rows = []
    for task in tasks:
        lead = "、".join(name for _, name in task.lead)
        missed = (f"<br><span class=\"muted\">{_e(task.missed)} 应达 {task.missed_target:g}%</span>"
                  if task.missed and task.missed_target is not None else "")
        lagging = ""
        if task.lagging and task.status != "achieved":
            shown = ", ".join(f'<a href="#system-{_e(n)}">{_e(n)}</a>' for n in task.lagging[:12])
            more = f" 等 {len(task.lagging)} 个" if len(task.lagging) > 12 else ""
            lagging = f'<details><summary>未达标系统 {len(task.lagging)}</summary>{shown}{more}</details>'
        rows.append(
            f'<tr class="task" data-status="{_e(task.status)}"><td><code>{_e(task.id)}</code><br>{_e(task.title)}</td>'
            f"<td>{_e(lead)}</td><td>{_e(METRIC_LABELS[task.metric])} ≥ {task.target:g}%</td>"
            f"<td>{_e(task.deadline)}</td>"
            f"<td>{mini_bar(task.share)}{lagging}</td>"
            f'<td><span class="badge" style="background:{STATUS_COLORS[task.status]}">{_e(task.status_label)}</span>'
            f"{missed}</td></tr>")
    return "".join(rows)


def render_kpi_section(kpi: KpiReport) -> str:
    """The KPI page body: overall bars with targets, tiers chart and table, departments, tasks, trend."""
    targets: dict[str, float] = {}
    for task in kpi.tasks:
        if task.lead and task.metric not in targets:
            targets[task.metric] = task.due_target or task.target
    overdue = kpi.overdue
    overdue_text = (f'<p class="warn">逾期任务 {len(overdue)} 项:</p><ul class="overdue">' + "".join(
        f"<li>{_e(t.title)} — 牵头: {_e('、'.join(n for _, n in t.lead))}; 完成 {_e(t.share.text())}"
        f"{', ' + _e(t.missed) + ' 应达 ' + format(t.missed_target, 'g') + '%' if t.missed_target is not None else ''}"
        "</li>" for t in overdue) + "</ul>") if overdue else "<p>无逾期任务。</p>"
    late = "".join(f'<li><a href="#system-{_e(x.system)}">{_e(x.title)}</a> 计划 {_e(x.planned)} 完成迁移, '
                   "尚未上云</li>" for x in kpi.late_migrations)
    trend = ""
    if kpi.trend:
        cells = "".join(
            f"<tr><td>{_e(METRIC_LABELS[m])}</td><td>{_fmt(v.get('before'))}</td><td>{_fmt(v.get('now'))}</td>"
            f"<td>{_delta(v.get('change'))}</td></tr>" for m, v in kpi.trend.get("shares", {}).items())
        trend = (f"<h3>趋势 (对比 {_e(kpi.trend.get('since', ''))} 的已签名报告)</h3>"
                 f"<table class=\"kpi\"><tr><th>指标</th><th>此前</th><th>现在</th><th>变化</th></tr>{cells}</table>")
    crypto_note = "" if kpi.crypto_source == "scan" else "<p class=\"muted\">未提供扫描结果: 密评通过率按 0 计。</p>"
    return f"""<h2>三年行动指标 · {_e(kpi.title)}</h2>
<p class="muted">统计日期 {_e(kpi.as_of)} · 不纳入上云范围 (如涉密) 的系统不计入分母;
密评通过 = 扫描结论为 符合 或 基本符合 (区间未定的不计)。</p>
{overdue_text}
<div class="charts"><div><h3>全区合计 ({kpi.overall.systems} 个系统)</h3>{metric_bars(kpi.overall, targets)}
<p class="muted">红色虚线: 当前应达目标 (已过的阶段目标或最终目标)。</p></div>
<div><h3>分层级 (区/市/县/乡)</h3>{tier_chart(kpi.tiers)}</div></div>
{_group_table(kpi.tiers, "层级")}
<h3>任务进度</h3><div class="scroll"><table class="kpi"><tr><th>任务</th><th>牵头部门</th><th>衡量</th><th>时限</th>
<th>完成</th><th>状态</th></tr>{_task_rows(kpi.tasks)}</table></div>
{"<h3>逾期未完成迁移的系统</h3><ul>" + late + "</ul>" if late else ""}
<h3>分部门</h3>{_group_table(kpi.departments, "部门", "dept-")}
{trend}{crypto_note}"""


def _fmt(value: object) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.1f}%"


def _delta(value: object) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{'+' if value > 0 else ''}{value:.1f} 个百分点"


def kpi_json_script(kpi: KpiReport) -> str:
    """The KPIs as embedded JSON (``<script type="application/json" id="xzgov-kpi">``): an earlier signed
    report carries its KPIs, so ``xzgov kpi --since`` can show the trend."""
    text = json.dumps(kpi.to_json(), ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="xzgov-kpi">{text}</script>'

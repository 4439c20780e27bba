"""The self-contained HTML report (Chinese): opens offline, no external URL, charts as inline SVG,
client-side filters in inline JavaScript, the score derivation of every system."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from compliance.reports.formats import counts_by_state
from compliance.results import STATE_LABELS, ItemState, ScanResult, ScoreCard, SystemReport, verdict_text
from policies.engine import Status

COLORS: Mapping[str, str] = {
    "pass": "#2e7d32", "fail": "#c62828", "partial": "#ef6c00", "not-applicable": "#9e9e9e",
    "manual-pending": "#5c6bc0", "inherited": "#00838f", "waived": "#8e24aa", "error": "#4e342e",
}

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:0;color:#212121;
background:#fafafa}
header{background:#8b0000;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
main{padding:16px 24px}section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:12px 0;padding:12px 16px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f5f5f5}.badge{display:inline-block;padding:1px 6px;border-radius:3px;
color:#fff;font-size:12px}.card h2{margin:4px 0;font-size:17px}.muted{color:#757575;font-size:12px}
.filters label{margin-right:12px}.hidden{display:none}details summary{cursor:pointer;font-weight:600}
.verdict{font-size:16px;font-weight:700}code{font-size:12px;background:#f3f3f3;padding:0 3px}
.legend span{margin-right:10px;font-size:12px}
"""

_JS = """
(function(){
  function val(id){var e=document.getElementById(id);return e?e.value:'';}
  function apply(){
    var dept=val('f-dept'),tier=val('f-tier'),state=val('f-state'),q=val('f-q').toLowerCase(),shown=0;
    document.querySelectorAll('section.card').forEach(function(card){
      var ok=(!dept||card.dataset.dept===dept)&&(!tier||card.dataset.tier===tier)&&
             (!q||card.dataset.search.indexOf(q)>=0)&&(!state||card.dataset.states.indexOf(' '+state+' ')>=0);
      card.classList.toggle('hidden',!ok);if(ok){shown++;}
      card.querySelectorAll('tr.item').forEach(function(row){
        row.classList.toggle('hidden',!!state&&row.dataset.state!==state);
      });
    });
    var c=document.getElementById('shown');if(c){c.textContent=shown;}
  }
  ['f-dept','f-tier','f-state','f-q'].forEach(function(id){
    var e=document.getElementById(id);if(e){e.addEventListener('input',apply);e.addEventListener('change',apply);}
  });
  apply();
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bar(counts: Mapping[str, int], width: int = 520, height: int = 18) -> str:
    total = sum(counts.values()) or 1
    x = 0.0
    parts = [f'<svg width="{width}" height="{height}" role="img" '
             f'aria-label="结果分布">']
    for state in (str(s) for s in ItemState):
        count = counts.get(state, 0)
        if not count:
            continue
        w = width * count / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{COLORS[state]}">'
                     f'<title>{_e(STATE_LABELS[ItemState(state)])} {count}</title></rect>')
        x += w
    parts.append("</svg>")
    return "".join(parts)


def _gauge(card: ScoreCard | None, scale: float, label: str) -> str:
    """A horizontal range gauge: the [low, high] interval of a score (one mark when final)."""
    width, height = 240, 26
    parts = [f'<svg width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(label)}"><rect x="0" y="8" width="{width}" height="10" fill="#eeeeee"/>']
    if card is not None and not card.error:
        low, high = card.value_range
        x1, x2 = width * low / scale, width * high / scale
        parts.append(f'<rect x="{x1:.1f}" y="8" width="{max(x2 - x1, 2):.1f}" height="10" fill="#1565c0">'
                     f'<title>{low:.4g} – {high:.4g}</title></rect>')
        for threshold in ((0.6, 0.9) if scale == 1 else (60.0, 100.0)):
            tx = width * threshold / scale
            parts.append(f'<line x1="{tx:.1f}" y1="4" x2="{tx:.1f}" y2="22" stroke="#424242" stroke-dasharray="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    return '<div class="legend">' + "".join(
        f'<span><span class="badge" style="background:{COLORS[str(s)]}">&nbsp;</span> {_e(STATE_LABELS[s])}</span>'
        for s in ItemState) + "</div>"


def _card_verdict(card: ScoreCard | None, scale: float, unit: str) -> str:
    if card is None or card.error:
        return verdict_text(card) + (f" ({_e(card.error)})" if card is not None else "")
    low, high = card.value_range
    value = (f"{low * 100:.1f}%" if scale == 1 else f"{low:.1f}") if low == high else (
        f"{low * 100:.1f}%–{high * 100:.1f}%" if scale == 1 else f"{low:.1f}–{high:.1f}")
    if not card.verdict and not card.verdict_range:
        return value
    untested = "" if card.verdict else " (有未测项)"
    return f"{_e(verdict_text(card))}{untested} · {value}{unit}"


def _steps(card: ScoreCard | None) -> str:
    if card is None or not card.steps:
        return ""
    rows = "".join(f"<tr><td>{_e(label)}</td><td><code>{_e(formula)}</code></td><td>{_e(value)}</td></tr>"
                   for label, formula, value in card.steps)
    return (f"<details><summary>{_e(card.scheme)} 得分推导 (score derivation)</summary><table><tr><th>步骤</th>"
            f"<th>计算</th><th>值</th></tr>{rows}</table></details>")


def _system(system: SystemReport) -> str:
    counts = system.counts()
    states = " " + " ".join(state for state, n in counts.items() if n) + " "
    search = " ".join([system.name, system.title, system.department, system.department_name]).lower()
    problems = [f for f in system.findings if f.result.status not in (Status.PASS, Status.NOT_APPLICABLE)]
    finding_rows = "".join(
        f'<tr><td>{_e(f.result.rule_id)}</td><td>{_e(f.result.point)}{" @" + _e(f.result.target) if f.result.target and f.result.point.value == "host" else ""}</td>'  # noqa: E501
        f'<td><span class="badge" style="background:{COLORS[str(f.result.status)]}">{_e(f.result.status)}</span>'
        f'{" 已豁免 " + _e(f.waiver) if f.waiver else ""}</td><td>{_e(f.result.severity.label)}</td>'
        f'<td>{_e(f.result.message)}<br><span class="muted">'
        + "<br>".join(f"{_e(ev.observed)} — <code>{_e(ev.location)}</code> {_e(ev.at)}" for ev in f.result.evidence[:6])
        + "</span></td></tr>"
        for f in problems)
    item_rows = "".join(
        f'<tr class="item" data-state="{_e(item.state)}"><td><code>{_e(item.item_id)}</code><br>'
        f'<span class="muted">{_e(item.assessment_unit)}</span></td><td>{_e(item.title)}</td>'
        f'<td><span class="badge" style="background:{COLORS[str(item.state)]}">{_e(item.state.label)}</span>'
        f'{" 高风险" if item.high_risk else ""}</td><td>{_e(", ".join(item.rules))}</td>'
        f'<td class="muted">{_e(item.note)}'
        + "".join(f"<br>{_e(ev.observed)} — <code>{_e(ev.location)}</code>" for ev in item.evidence[:3])
        + "</td></tr>"
        for item in system.items)
    hosts = ""
    if system.hosts:
        hosts = "<p>主机: " + ", ".join(
            f"{_e(name)} ({'可达' if state == 'ok' else '不可达: ' + _e(state)})"
            for name, state in system.hosts.items()
        ) + "</p>"
    return f"""
<section class="card" data-dept="{_e(system.department)}" data-tier="{_e(system.tier)}" data-states="{_e(states)}"
 data-search="{_e(search)}">
<h2>{_e(system.title)} <span class="muted">{_e(system.name)} · {_e(system.department_name)} · {_e(system.tier)} ·
等保 {system.level} 级 · 密评 {system.crypto_level} 级 · <code>{_e(system.source)}</code></span></h2>
<table><tr><th>等保结论</th><td class="verdict">{_card_verdict(system.dengbao, 1, "")}</td>
<td>{_gauge(system.dengbao, 1, "等保符合率")}</td></tr>
<tr><th>密评得分</th><td class="verdict">{_card_verdict(system.miping, 100, " 分")}</td>
<td>{_gauge(system.miping, 100, "密评得分")}</td></tr></table>
<p>{_bar(counts)} <span class="muted">{" · ".join(f"{_e(STATE_LABELS[ItemState(s)])} {n}" for s, n in counts.items() if n)}</span></p>
{hosts}{_steps(system.dengbao)}{_steps(system.miping)}
<details{" open" if problems else ""}><summary>规则结果 (需处理 {len(problems)} 项)</summary>
<table><tr><th>规则</th><th>检查点</th><th>结果</th><th>严重性</th><th>说明与证据</th></tr>{finding_rows}</table></details>
<details><summary>全部条目 ({len(system.items)})</summary><table><tr><th>条目</th><th>要求</th><th>结果</th><th>规则</th>
<th>说明</th></tr>{item_rows}</table></details>
</section>"""  # noqa: E501


def _options(values: Sequence[tuple[str, str]]) -> str:
    return '<option value="">全部</option>' + "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in values)


def render_html(result: ScanResult) -> str:
    """The whole report as one HTML string."""
    departments = sorted({(s.department, s.department_name) for s in result.systems})
    tiers = sorted({(s.tier, s.tier) for s in result.systems})
    totals = counts_by_state(result)
    blocking = result.blocking()
    dept_rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{row['systems']}</td><td>{row['blocking']}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['dengbao'].items()))}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['miping'].items()))}</td>"
        f"<td>{_bar(row['items'], 300, 14)}</td></tr>"
        for name, row in result.summary("department").items())
    tier_rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{row['systems']}</td><td>{row['blocking']}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['dengbao'].items()))}</td>"
        f"<td>{_bar(row['items'], 300, 14)}</td></tr>"
        for name, row in result.summary("tier").items())
    warnings = "".join(f"<li>{_e(w)}</li>" for w in result.warnings)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>等保/密评 合规扫描报告</title><style>{_CSS}</style></head><body>
<header><h1>西藏自治区数字政府 政务云 · 等保 2.0 / 密评 合规扫描报告</h1>
<div>扫描模式: {_e(", ".join(result.modes))} · 开始 {_e(result.started)} · 结束 {_e(result.finished)} ·
阻断阈值 --fail-on {_e(result.fail_on)} · 标准目录版本 {_e(result.catalogue_version)}</div></header>
<main>
<section><h2>总体</h2><p>系统 {len(result.systems)} 个; 阻断问题 {len(blocking)} 个
(未豁免且严重性 ≥ {_e(result.fail_on)})。</p>
<p>{_bar(totals, 720, 22)}</p>{_legend()}
{"<ul>" + warnings + "</ul>" if warnings else ""}</section>
<section><h2>部门汇总</h2><table><tr><th>部门</th><th>系统</th><th>阻断</th><th>等保结论</th><th>密评结论</th><th>条目分布</th></tr>
{dept_rows}</table></section>
<section><h2>层级汇总</h2><table><tr><th>层级</th><th>系统</th><th>阻断</th><th>等保结论</th><th>条目分布</th></tr>{tier_rows}</table></section>
<section class="filters"><h2>筛选</h2>
<label>部门 <select id="f-dept">{_options(departments)}</select></label>
<label>层级 <select id="f-tier">{_options(tiers)}</select></label>
<label>结果 <select id="f-state">{_options([(str(s), STATE_LABELS[s]) for s in ItemState])}</select></label>
<label>搜索 <input id="f-q" type="search" placeholder="系统名称 / 部门"></label>
<span class="muted">显示 <span id="shown">{len(result.systems)}</span> 个系统</span></section>
{"".join(_system(system) for system in result.systems)}
<section class="muted">说明: 等保符合率 = (符合 + 0.5 × 部分符合) / 适用项 (阈值见 standards/scoring.yaml);
"待人工核查" 为无自动化规则且无证明记录的条目, 评分时按 未测 计入区间;
"继承" 为云平台责任项, 依据平台自身测评记录。</section>
</main><script>{_JS}</script></body></html>
"""

"""The self-contained HTML report (Chinese): one file that opens offline, no external URL, charts as
inline SVG, inline CSS and JavaScript.

It is laid out as pages inside the one file (the signed report set stays one ``report.html``):

- ``#summary`` (总览): totals, department and tier tables, the systems and every finding, with filters
  by department, 等保 level, state and severity;
- ``#kpi`` (三年行动指标): the programme KPIs (:mod:`compliance.kpi`) with charts, when the register has
  ``spec.programme`` in region.yaml;
- ``#dept-<id>`` (one per department): its systems, verdicts and KPIs;
- ``#system-<name>`` (one per system): verdicts with their derivation, findings with their evidence
  (``#ev-<name>-<n>``), every catalogue item.

A finding links to its system page and evidence. Without JavaScript every page is shown one after the
other; with it, the address's ``#`` picks the page (links, back button and bookmarks work). Text is set
in Noto Sans CJK with the usual Chinese system fonts as fallbacks; the layout reads on a 1366×768 screen.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence

from compliance.kpi import METRIC_LABELS, METRICS, KpiReport, compute_kpi, crypto_verdicts, with_trend
from compliance.kpi_html import kpi_json_script, mini_bar, render_kpi_section
from compliance.reports.figures import figures_html, system_figures
from compliance.reports.formats import counts_by_state
from compliance.results import STATE_LABELS, Finding, ItemState, ScanResult, ScoreCard, SystemReport, verdict_text
from policies.engine import Severity, Status
from xzgov.core.errors import XzgovError
from xzgov.core.register import load_register

COLORS: Mapping[str, str] = {
    "pass": "#2e7d32", "fail": "#c62828", "partial": "#ef6c00", "not-applicable": "#9e9e9e",
    "manual-pending": "#5c6bc0", "inherited": "#00838f", "waived": "#8e24aa", "error": "#4e342e",
}
SEVERITY_COLORS: Mapping[str, str] = {"low": "#757575", "medium": "#f9a825", "high": "#ef6c00", "critical": "#b71c1c"}

_CSS = """
html{font-size:14px}
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",
"Hiragino Sans GB","WenQuanYi Micro Hei",sans-serif;margin:0;color:#212121;background:#fafafa;line-height:1.45}
header{background:#8b0000;color:#fff;padding:10px 20px}header h1{margin:0;font-size:19px}
header .meta{font-size:12px;opacity:.9}
nav{background:#fff;border-bottom:1px solid #ddd;padding:6px 20px;position:sticky;top:0;z-index:2;display:flex;
flex-wrap:wrap;gap:6px 14px;align-items:center}nav a{color:#8b0000;text-decoration:none;font-weight:600}
nav select{max-width:320px}
main{padding:8px 20px;max-width:1320px;margin:0 auto}
section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:10px 0;padding:10px 14px}
html.js [data-page]{display:none}html.js [data-page].active{display:block}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f5f5f5;white-space:nowrap}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:12px;white-space:nowrap}
h2{margin:4px 0 8px;font-size:17px}h3{font-size:15px;margin:12px 0 6px}
.muted{color:#616161;font-size:12px}.warn{color:#b71c1c;font-weight:600}
.filters{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
.hidden{display:none}details summary{cursor:pointer;font-weight:600}
.verdict{font-size:15px;font-weight:700}code{font-size:12px;background:#f3f3f3;padding:0 3px;overflow-wrap:anywhere}
.legend span{margin-right:10px;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px 32px}
svg.chart{max-width:100%;height:auto}.target{outline:3px solid #ffb300;outline-offset:2px}
a{color:#0d47a1}
@media print{html.js [data-page]{display:block}nav{display:none}}
"""

_JS = """
(function(){
  document.documentElement.classList.add('js');
  function val(id){var e=document.getElementById(id);return e?e.value:'';}
  function apply(){
    var dept=val('f-dept'),level=val('f-level'),state=val('f-state'),sev=val('f-sev'),
        q=val('f-q').toLowerCase(),shown=0,shownF=0;
    document.querySelectorAll('tr.sysrow').forEach(function(row){
      var ok=(!dept||row.dataset.dept===dept)&&(!level||row.dataset.level===level)&&
             (!q||row.dataset.search.indexOf(q)>=0)&&(!state||row.dataset.states.indexOf(' '+state+' ')>=0)&&
             (!sev||row.dataset.sevs.indexOf(' '+sev+' ')>=0);
      row.classList.toggle('hidden',!ok);if(ok){shown++;}
    });
    document.querySelectorAll('tr.finding').forEach(function(row){
      var ok=(!dept||row.dataset.dept===dept)&&(!level||row.dataset.level===level)&&
             (!q||row.dataset.search.indexOf(q)>=0)&&(!state||row.dataset.state===state)&&
             (!sev||row.dataset.sev===sev);
      row.classList.toggle('hidden',!ok);if(ok){shownF++;}
    });
    document.querySelectorAll('tr.item').forEach(function(row){
      row.classList.toggle('hidden',!!state&&row.dataset.state!==state);
    });
    var c=document.getElementById('shown');if(c){c.textContent=shown;}
    var f=document.getElementById('shown-findings');if(f){f.textContent=shownF;}
  }
  ['f-dept','f-level','f-state','f-sev','f-q'].forEach(function(id){
    var e=document.getElementById(id);if(e){e.addEventListener('input',apply);e.addEventListener('change',apply);}
  });
  function route(){
    var id=decodeURIComponent(location.hash.slice(1))||'summary';
    var target=document.getElementById(id);
    var page=target?(target.hasAttribute('data-page')?target:target.closest('[data-page]')):null;
    if(!page){page=document.getElementById('summary');target=page;}
    document.querySelectorAll('[data-page]').forEach(function(p){p.classList.toggle('active',p===page);});
    document.querySelectorAll('.target').forEach(function(t){t.classList.remove('target');});
    if(target&&target!==page){
      var d=target.closest('details');while(d){d.open=true;d=d.parentElement?d.parentElement.closest('details'):null;}
      target.classList.add('target');target.scrollIntoView({block:'center'});
    }else{window.scrollTo(0,0);}
    var jump=document.getElementById('jump');if(jump){jump.value=page.id.indexOf('system-')===0?page.id:'';}
  }
  var jump=document.getElementById('jump');
  if(jump){jump.addEventListener('change',function(){if(jump.value){location.hash=jump.value;}});}
  window.addEventListener('hashchange',route);
  apply();route();
})();
"""


def _e(text: object) -> str:
    """Escaped text; ``://`` as character references, so that data quoting an address (an endpoint in
    evidence) shows as written but the offline report's source holds no URL."""
    return html.escape(str(text), quote=True).replace("://", ":&#47;&#47;")


def _bar(counts: Mapping[str, int], width: int = 520, height: int = 18) -> str:
    total = sum(counts.values()) or 1
    x = 0.0
    parts = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
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


def _problems(system: SystemReport) -> list[Finding]:
    return [f for f in system.findings if f.result.status not in (Status.PASS, Status.NOT_APPLICABLE)]


def _finding_state(finding: Finding) -> str:
    return "waived" if finding.waiver else str(finding.result.status)


def _state_badge(state: str) -> str:
    label = STATE_LABELS[ItemState(state)] if state in {str(s) for s in ItemState} else state
    return f'<span class="badge" style="background:{COLORS.get(state, "#616161")}">{_e(label)}</span>'


def _severity_badge(severity: Severity) -> str:
    return (f'<span class="badge" style="background:{SEVERITY_COLORS.get(str(severity), "#616161")}">'
            f"{_e(severity.label)}</span>")


def _point(finding: Finding) -> str:
    result = finding.result
    host = " @" + _e(result.target) if result.target and result.point.value == "host" else ""
    return f"{_e(result.point)}{host}"


def _audit_line(system: SystemReport) -> str:
    """判定依据: how many items a rule, a signed attestation or the platform record decided, and which records."""
    trail = system.audit_trail()
    by = trail["by"]
    records = "; ".join(f"{_e(ident)} <code>{_e(entry['file'])}</code> {_e(entry['signer'])} "
                        f"<code>{_e(entry['signer_fingerprint'][:16])}…</code>"
                        for ident, entry in trail["records"].items())
    state = "结论确定 (全部条目已判定)" if trail["definite"] else f"待核查 {by.get('pending', 0)} 项: 得分为区间"
    listed = f'<br><span class="muted">{records}</span>' if records else ""
    return (f"<p>判定依据: 规则 {by.get('rule', 0)} · 签名证明 {by.get('attestation', 0)} · 云平台测评记录 "
            f"{by.get('platform-record', 0)} — {state}{listed}</p>")


def _system_page(system: SystemReport, remediation: Mapping[str, str]) -> str:
    counts = system.counts()
    problems = _problems(system)
    finding_rows = []
    for index, f in enumerate(problems, 1):
        evidence = "<br>".join(f"{_e(ev.observed)} — <code>{_e(ev.location)}</code> {_e(ev.at)}"
                               for ev in f.result.evidence[:6])
        fix = remediation.get(f.result.rule_id, "")
        finding_rows.append(
            f'<tr id="ev-{_e(system.name)}-{index}" class="evidence" data-state="{_e(_finding_state(f))}">'
            f"<td><code>{_e(f.result.rule_id)}</code></td><td>{_point(f)}</td>"
            f"<td>{_state_badge(_finding_state(f))}{' 豁免 ' + _e(f.waiver) if f.waiver else ''}</td>"
            f"<td>{_severity_badge(f.result.severity)}</td><td>{_e(f.result.message)}"
            f'<br><span class="muted">证据: {evidence or "—"}</span>'
            f'{"<br><span class=muted>整改: " + _e(fix) + "</span>" if fix else ""}</td></tr>')
    item_rows = "".join(
        f'<tr class="item" data-state="{_e(item.state)}"><td><code>{_e(item.item_id)}</code><br>'
        f'<span class="muted">{_e(item.assessment_unit)}</span></td><td>{_e(item.title)}</td>'
        f"<td>{_state_badge(str(item.state))}{' 高风险' if item.high_risk else ''}</td>"
        f"<td>{_e(', '.join(item.rules))}</td>"
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
    summary = " · ".join(f"{_e(STATE_LABELS[ItemState(s)])} {n}" for s, n in counts.items() if n)
    return f"""
<section class="card" id="system-{_e(system.name)}" data-page data-dept="{_e(system.department)}">
<p class="muted"><a href="#summary">总览</a> › <a href="#dept-{_e(system.department)}">{_e(system.department_name)}</a>
› {_e(system.name)}</p>
<h2>{_e(system.title)}</h2>
<p class="muted">{_e(system.name)} · {_e(system.department_name)} · {_e(system.tier)} · 等保 {system.level} 级 ·
密评 {system.crypto_level} 级 · 登记文件 <code>{_e(system.source)}</code></p>
<div class="scroll"><table><tr><th>等保结论</th><td class="verdict">{_card_verdict(system.dengbao, 1, "")}</td>
<td>{_gauge(system.dengbao, 1, "等保符合率")}</td></tr>
<tr><th>密评得分</th><td class="verdict">{_card_verdict(system.miping, 100, " 分")}</td>
<td>{_gauge(system.miping, 100, "密评得分")}</td></tr></table></div>
<p>{_bar(counts)}<br><span class="muted">{summary}</span></p>{_audit_line(system)}
{hosts}<div class="scroll">{figures_html(system_figures(system))}</div>{_steps(system.dengbao)}{_steps(system.miping)}
<h3 id="findings-{_e(system.name)}">需处理的规则结果 ({len(problems)} 项)</h3>
{'<div class="scroll"><table><tr><th>规则</th><th>检查点</th><th>结果</th><th>严重性</th><th>说明、证据与整改</th></tr>'
 + "".join(finding_rows) + "</table></div>" if problems else "<p>无。</p>"}
<details><summary>全部条目 ({len(system.items)})</summary><div class="scroll"><table><tr><th>条目</th><th>要求</th>
<th>结果</th><th>规则</th><th>说明</th></tr>{item_rows}</table></div></details>
</section>"""


def _options(values: Sequence[tuple[str, str]]) -> str:
    return '<option value="">全部</option>' + "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in values)


def _system_rows(result: ScanResult) -> str:
    rows = []
    for system in result.systems:
        counts = system.counts()
        problems = _problems(system)
        states = " " + " ".join(state for state, n in counts.items() if n) + " "
        sevs = " " + " ".join(sorted({str(f.result.severity) for f in problems})) + " "
        search = " ".join([system.name, system.title, system.department, system.department_name]).lower()
        blocking = sum(1 for f in system.findings if f.blocking and f.result.severity >= result.fail_on)
        rows.append(
            f'<tr class="sysrow" data-dept="{_e(system.department)}" data-level="{system.level}" '
            f'data-states="{_e(states)}" data-sevs="{_e(sevs)}" data-search="{_e(search)}">'
            f'<td><a href="#system-{_e(system.name)}">{_e(system.title)}</a><br><span class="muted">{_e(system.name)}'
            f"</span></td><td>{_e(system.department_name)}</td><td>{_e(system.tier)}</td><td>{system.level}</td>"
            f"<td>{_e(verdict_text(system.dengbao))}</td><td>{_e(verdict_text(system.miping))}</td>"
            f"<td>{blocking}</td><td>{_bar(counts, 160, 12)}</td></tr>")
    return "".join(rows)


def _finding_rows(result: ScanResult) -> str:
    rows = []
    for system in result.systems:
        for index, f in enumerate(_problems(system), 1):
            search = " ".join([system.name, system.title, system.department_name, f.result.rule_id,
                               f.result.message]).lower()
            rows.append(
                f'<tr class="finding" data-dept="{_e(system.department)}" data-level="{system.level}" '
                f'data-state="{_e(_finding_state(f))}" data-sev="{_e(f.result.severity)}" data-search="{_e(search)}">'
                f'<td><a class="to-system" href="#system-{_e(system.name)}">{_e(system.title)}</a></td>'
                f"<td><code>{_e(f.result.rule_id)}</code><br>{_point(f)}</td><td>{_state_badge(_finding_state(f))}</td>"
                f"<td>{_severity_badge(f.result.severity)}</td><td>{_e(f.result.message)} "
                f'<a class="to-evidence" href="#ev-{_e(system.name)}-{index}">证据 ›</a></td></tr>')
    return "".join(rows)


def _department_pages(result: ScanResult, kpi: KpiReport | None) -> str:
    pages = []
    by_dept: dict[str, list[SystemReport]] = {}
    for system in result.systems:
        by_dept.setdefault(system.department, []).append(system)
    kpi_rows = {g.key: g for g in kpi.departments} if kpi else {}
    for dept, systems in sorted(by_dept.items()):
        name = systems[0].department_name or dept
        rows = "".join(
            f'<tr><td><a href="#system-{_e(s.name)}">{_e(s.title)}</a></td><td>{_e(s.tier)}</td><td>{s.level}</td>'
            f"<td>{_e(verdict_text(s.dengbao))}</td><td>{_e(verdict_text(s.miping))}</td>"
            f"<td>{len(_problems(s))}</td></tr>" for s in systems)
        group = kpi_rows.get(dept)
        kpi_html = ""
        if group is not None:
            kpi_html = "<h3>三年行动指标</h3><table><tr>" + "".join(
                f"<th>{_e(METRIC_LABELS[m])}</th>" for m in METRICS) + "</tr><tr>" + "".join(
                f"<td>{mini_bar(group.shares[m])}</td>" for m in METRICS) + "</tr></table>"
            leading = [t for t in kpi.tasks if any(d == dept for d, _ in t.lead)] if kpi else []
            if leading:
                kpi_html += "<p>牵头任务: " + "; ".join(
                    f"{_e(t.title)} ({_e(t.status_label)}, {_e(t.share.text())})" for t in leading) + "</p>"
        pages.append(f"""
<section id="dept-{_e(dept)}" data-page><p class="muted"><a href="#summary">总览</a> › {_e(name)}</p>
<h2>{_e(name)} <span class="muted">{_e(dept)} · {len(systems)} 个系统</span></h2>
<div class="scroll"><table><tr><th>系统</th><th>层级</th><th>等保级别</th><th>等保结论</th><th>密评结论</th>
<th>需处理</th></tr>{rows}</table></div>{kpi_html}</section>""")
    return "".join(pages)


def _kpi_for(result: ScanResult) -> KpiReport | None:
    """The KPIs of the scanned register (region.yaml ``spec.programme``), as of the scan's date; ``None`` when
    the register cannot be read again or has no programme."""
    register = result.register
    if register is None:  # a result built elsewhere (tests, a merged report): read the register again
        try:
            register = load_register(result.register_root)
        except (XzgovError, OSError):
            return None
    if register.programme is None:
        return None
    try:
        as_of = dt.date.fromisoformat(result.finished[:10])
    except ValueError:
        as_of = dt.date.today()
    report = compute_kpi(register, as_of, crypto_verdicts(result))
    return with_trend(report, result.kpi_since) if result.kpi_since else report


def render_html(result: ScanResult, kpi: KpiReport | None = None) -> str:
    """The whole report as one HTML string; ``kpi`` defaults to the KPIs of the scanned register."""
    if kpi is None:
        kpi = _kpi_for(result)
    departments = sorted({(s.department, s.department_name) for s in result.systems})
    levels = sorted({(str(s.level), f"第{s.level}级") for s in result.systems})
    totals = counts_by_state(result)
    blocking = result.blocking()
    remediation = {str(rule.get("id")): str(rule.get("remediation", "")) for rule in result.rules}
    dept_ids = {s.department_name: s.department for s in result.systems}
    dept_rows = "".join(
        f'<tr><td><a href="#dept-{_e(dept_ids.get(name, ""))}">{_e(name)}</a></td><td>{row["systems"]}</td>'
        f"<td>{row['blocking']}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['dengbao'].items()))}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['miping'].items()))}</td>"
        f"<td>{_bar(row['items'], 240, 14)}</td></tr>"
        for name, row in result.summary("department").items())
    tier_rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{row['systems']}</td><td>{row['blocking']}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['dengbao'].items()))}</td>"
        f"<td>{_bar(row['items'], 240, 14)}</td></tr>"
        for name, row in result.summary("tier").items())
    warnings = "".join(f"<li>{_e(w)}</li>" for w in result.warnings)
    findings = sum(len(_problems(s)) for s in result.systems)
    jump = "".join(f'<option value="system-{_e(s.name)}">{_e(s.title)} ({_e(s.name)})</option>' for s in result.systems)
    kpi_nav = '<a href="#kpi">三年行动指标</a>' if kpi else ""
    kpi_page = (f'<section id="kpi" data-page>{render_kpi_section(kpi)}</section>{kpi_json_script(kpi)}'
                if kpi else "")
    kpi_headline = ""
    if kpi:
        overdue = kpi.overdue
        kpi_headline = (f'<p>三年行动: 上云率 {_e(kpi.overall.shares["on-cloud"].text())}; 逾期任务 {len(overdue)} 项'
                        f' — <a href="#kpi">查看指标</a></p>')
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>等保/密评 合规扫描报告</title><style>{_CSS}</style></head><body>
<header><h1>西藏自治区数字政府 政务云 · 等保 2.0 / 密评 合规扫描报告</h1>
<div class="meta">扫描模式: {_e(", ".join(result.modes))} · 开始 {_e(result.started)} · 结束 {_e(result.finished)} ·
阻断阈值 --fail-on {_e(result.fail_on)} · 标准目录版本 {_e(result.catalogue_version)}</div></header>
<nav><a href="#summary">总览</a>{kpi_nav}
<label>系统 <select id="jump"><option value="">选择系统…</option>{jump}</select></label>
</nav>
<main>
<section id="summary" data-page>
<h2>总体</h2><p>系统 {len(result.systems)} 个; 阻断问题 {len(blocking)} 个 (未豁免且严重性 ≥ {_e(result.fail_on)});
需处理的规则结果 {findings} 项。</p>
{kpi_headline}
<p>{_bar(totals, 720, 22)}</p>{_legend()}
{"<ul>" + warnings + "</ul>" if warnings else ""}
<h3>筛选</h3><div class="filters">
<label>部门 <select id="f-dept">{_options(departments)}</select></label>
<label>等保级别 <select id="f-level">{_options(levels)}</select></label>
<label>结果 <select id="f-state">{_options([(str(s), STATE_LABELS[s]) for s in ItemState])}</select></label>
<label>严重性 <select id="f-sev">{_options([(str(s), s.label) for s in Severity])}</select></label>
<label>搜索 <input id="f-q" type="search" placeholder="系统名称 / 部门 / 规则"></label>
<span class="muted">显示 <span id="shown">{len(result.systems)}</span> 个系统、
<span id="shown-findings">{findings}</span> 项结果</span></div>
<h3>需处理的规则结果</h3><div class="scroll"><table id="findings"><tr><th>系统</th><th>规则 / 检查点</th><th>结果</th>
<th>严重性</th><th>说明</th></tr>{_finding_rows(result)}</table></div>
<h3>系统</h3><div class="scroll"><table id="systems"><tr><th>系统</th><th>部门</th><th>层级</th><th>等保级别</th>
<th>等保结论</th><th>密评结论</th><th>阻断</th><th>条目分布</th></tr>{_system_rows(result)}</table></div>
<h3>部门汇总</h3><div class="scroll"><table><tr><th>部门</th><th>系统</th><th>阻断</th><th>等保结论</th>
<th>密评结论</th><th>条目分布</th></tr>{dept_rows}</table></div>
<h3>层级汇总</h3><div class="scroll"><table><tr><th>层级</th><th>系统</th><th>阻断</th><th>等保结论</th>
<th>条目分布</th></tr>{tier_rows}</table></div>
<p class="muted">说明: 等保符合率 = (符合 + 0.5 × 部分符合) / 适用项 (阈值见 standards/scoring.yaml);
"待人工核查" 为无自动化规则且无证明记录的条目, 评分时按 未测 计入区间;
"继承" 为云平台责任项, 依据平台自身测评记录。</p>
</section>
{kpi_page}
{_department_pages(result, kpi)}
{"".join(_system_page(system, remediation) for system in result.systems)}
</main><script>{_JS}</script></body></html>
"""

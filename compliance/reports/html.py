"""The HTML report (Chinese): a summary page and one page per system and per department, all offline
(no external URL; charts as inline SVG — on the system pages drawn by ``report.js`` from the numbers in the
page; scripts and styles from the report set itself).

:func:`render_site` gives every file, relative to the report directory:

- ``report.html``: ``#summary`` (总览) — totals, filters (department, 等保 level, state, severity, search),
  the blocking findings (a share of each department's, :func:`_listed`), one compact row per system, department and
  tier tables; ``#kpi`` (三年行动指标) — the programme KPIs (:mod:`compliance.kpi`), drawn by the page's
  script from their embedded JSON (:mod:`compliance.kpi_html`), when the register has ``spec.programme``.
  Inline CSS and script; ``#system-<name>`` and ``#dept-<id>`` (links of the KPI section and of earlier
  reports) forward to the pages;
- ``report-pages/system-<name>.html`` (one per system): verdicts with their derivation, figures, findings
  with their evidence and remediation (``#ev-<name>-<n>``), and every catalogue item — the items table
  is built by ``report.js`` from the page's data (state codes, distinct details) and ``catalogue.js``;
- ``report-pages/dept-<id>.html`` (one per department): its systems, verdicts and KPIs;
- ``report-pages/catalogue.js`` (item texts, item sets, state labels, major-risk case texts and the shared
  text table of :mod:`compliance.reports.texts`, once),
  ``report.css`` and ``report.js``.

One page per system (not per department) bounds every page by one system whatever the region's size.
Text is set in Noto Sans CJK with the usual Chinese system fonts as fallbacks; the layout reads on a
1366×768 screen.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from compliance.catalogue import DENGBAO, MIPING
from compliance.kpi import METRIC_LABELS, METRICS, KpiReport, compute_kpi, crypto_verdicts, with_trend
from compliance.kpi_html import (
    KPI_BADGE_CSS,
    MINI_BAR_JS,
    embedded_json,
    html_text,
    kpi_json_script,
    kpi_script,
    mini_bar,
    render_kpi_section,
)
from compliance.reports.figures import (
    CATEGORY_HEAD,
    RISK_HEAD,
    STATUSES,
    ReportFigures,
    category_rate,
    cut_two,
    figure_tables,
    figure_text,
    figures_html,
    system_figures,
)
from compliance.reports.formats import (
    ATTESTED_RULE,
    PAGES_DIR,
    RISK_CODES,
    STATE_CODES,
    advisory_items,
    counts_by_state,
    dept_label,
    item_set_keys,
    json_pointer,
    needs_action,
    risk_set_key,
)
from compliance.reports.texts import MIN_LENGTH, Text, Texts, shared_texts
from compliance.results import (
    ATTESTED_SEVERITY,
    BASIS_LABELS,
    STATE_LABELS,
    Finding,
    ItemOutcome,
    ItemState,
    ScanResult,
    ScoreCard,
    SystemReport,
    attested_gating,
    item_basis,
    pair_text,
    system_blocking,
    verdict_text,
)
from policies.engine import Evidence, Severity
from xzgov.core.clock import parse_day, region_day, region_today
from xzgov.core.errors import XzgovError
from xzgov.core.register import load_register

#: Badge backgrounds under 12 px white text: each at least 4.5:1 against it (WCAG AA; amber #f9a825 was 1.97:1,
#: orange #ef6c00 3.08:1, grey #9e9e9e 2.68:1); the same colours fill the state bars.
COLORS: Mapping[str, str] = {
    "pass": "#2e7d32", "fail": "#c62828", "partial": "#ad5700", "not-applicable": "#616161",
    "manual-pending": "#5c6bc0", "inherited": "#00838f", "waived": "#8e24aa", "error": "#4e342e",
}
SEVERITY_COLORS: Mapping[str, str] = {"low": "#757575", "medium": "#8a6500", "high": "#c43e00", "critical": "#b71c1c"}
#: A badge of a state or severity the maps above do not name.
OTHER_COLOR = "#616161"
#: The enforcement points (``policies`` ``Point``) and scan modes in Chinese, their ids beside them.
POINT_LABELS: Mapping[str, str] = {"manifest": "清单", "resources": "资源", "host": "主机"}
MODE_LABELS: Mapping[str, str] = {"static": "静态", "plan": "计划", "live": "在线"}

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
# badge colours as classes (badge s-<state>, v-<severity>, k-<KPI status>, other): the pages' Content-Security-Policy
# admits no inline style attribute (CSP below)
_CSS += "".join(f".badge.s-{state}{{background:{color}}}" for state, color in COLORS.items())
_CSS += "".join(f".badge.v-{severity}{{background:{color}}}" for severity, color in SEVERITY_COLORS.items())
_CSS += KPI_BADGE_CSS + f".badge.other{{background:{OTHER_COLOR}}}\n"

#: Draws every ``span.sbar`` of :func:`_state_bar` as an SVG bar of the item states, on the summary and on the
#: system pages alike: ``look(code)`` gives a state code's [label, colour] (the summary embeds its table, the
#: pages read ``catalogue.js``), ``W``×``H`` the size of a bar without ``data-w``/``data-h``; with ``esc``, the
#: scripts' one escape for text written into markup.
STATE_BAR_JS = """
  function esc(s){return String(s).replace(/[&<>"]/g,function(c){return '&#'+c.charCodeAt(0)+';';});}
  function stateBars(look,W,H){
    document.querySelectorAll('span.sbar').forEach(function(b){
      var parts=(b.dataset.c||'').split(' ').filter(Boolean).map(function(p){return [p.charAt(0),+p.slice(1)];}),
          total=parts.reduce(function(n,p){return n+p[1];},0)||1,x=0,w=+b.dataset.w||W,h=+b.dataset.h||H,
          out=['<svg class="chart" width="'+w+'" height="'+h+'" viewBox="0 0 '+w+' '+h+
            '" role="img" aria-label="结果分布">'];
      parts.forEach(function(p){var st=look(p[0])||['?','#616161'],pw=w*p[1]/total;
        out.push('<rect x="'+x.toFixed(1)+'" y="0" width="'+pw.toFixed(1)+'" height="'+h+'" fill="'+st[1]+
          '"><title>'+esc(st[0])+' '+p[1]+'</title></rect>');x+=pw;});
      b.outerHTML=out.join('')+'</svg>';});
  }
"""

_JS = """
(function(){
  document.documentElement.classList.add('js');""" + STATE_BAR_JS + """
  function val(id){var e=document.getElementById(id);return e?e.value:'';}
  var sysrows=Array.prototype.slice.call(document.querySelectorAll('tr.sysrow')),
      frows=Array.prototype.slice.call(document.querySelectorAll('tr.finding'));
  // searched besides a row's text: a system row's department id and its findings' rules (data-r: indices
  // into R), a finding row's system id (data-s) and department (the label the department filter shows)
  var R=__RULES__,D={};
  Array.prototype.forEach.call(document.querySelectorAll('#f-dept option'),function(o){D[o.value]=o.textContent;});
  // _own: what a row matches by itself (its text, its department); _q adds its findings' rules
  sysrows.forEach(function(r){r._own=[r.textContent,r.dataset.dept||''].join(' ').toLowerCase();
    r._q=[r._own].concat((r.dataset.r||'').split(' ').filter(Boolean).map(function(i){return R[+i]||'';}))
    .join(' ').toLowerCase();});
  frows.forEach(function(r){var d=r.dataset.dept||'';
    r._q=[r.textContent,r.dataset.s||'',D[d]||'',d].join(' ').toLowerCase();});
  var applied=null;
  function apply(){
    var dept=val('f-dept'),level=val('f-level'),state=val('f-state'),sev=val('f-sev'),
        q=val('f-q').toLowerCase(),shown=0,shownF=0,shownB=0,key=JSON.stringify([dept,level,state,sev,q]);
    if(key===applied){return;}applied=key;  // (pageshow re-applies: a second pass only when the controls changed)
    sysrows.forEach(function(row){
      var ok=(!dept||row.dataset.dept===dept)&&(!level||row.dataset.level===level)&&
             (!q||row._q.indexOf(q)>=0)&&(!state||row.dataset.states.indexOf(' '+state+' ')>=0)&&
             (!sev||row.dataset.sevs.indexOf(' '+sev+' ')>=0);
      row.classList.toggle('hidden',!ok);
      // a system shown for one of its rules counts the blocking findings of the rules the search matches, as the
      // findings table lists them; one shown by its own text or department counts them all
      var own=!q||row._own.indexOf(q)>=0;
      if(ok){shown++;(row.dataset.b||'').split(' ').forEach(function(k){var p=k.split(':');
        if(p.length===4&&(!state||p[0]===state)&&(!sev||p[1]===sev)&&
           (own||(R[+p[2]]||'').toLowerCase().indexOf(q)>=0)){shownB+=+p[3];}});}
    });
    frows.forEach(function(row){
      var ok=(!dept||row.dataset.dept===dept)&&(!level||row.dataset.level===level)&&
             (!q||row._q.indexOf(q)>=0)&&(!state||row.dataset.state===state)&&(!sev||row.dataset.sev===sev);
      row.classList.toggle('hidden',!ok);if(ok){shownF++;}
    });
    // a department whose findings the table lists in part: its line (with its page) under the table
    document.querySelectorAll('li.more').forEach(function(li){
      li.classList.toggle('hidden',!!dept&&li.dataset.dept!==dept);});
    var c=document.getElementById('shown');if(c){c.textContent=shown;}
    var f=document.getElementById('shown-findings');if(f){f.textContent=shownF;}
    var b=document.getElementById('shown-blocking');if(b){b.textContent=shownB;}
  }
  ['f-dept','f-level','f-state','f-sev','f-q'].forEach(function(id){
    var e=document.getElementById(id);if(e){e.addEventListener('input',apply);e.addEventListener('change',apply);}
  });
  function route(){
    var id=location.hash.slice(1);try{id=decodeURIComponent(id);}catch(e){/* a malformed %XX: as typed */}
    id=id||'summary';
    var m=/^(system|dept)-(.+)$/.exec(id);
    if(m){location.replace('report-pages/'+m[1]+'-'+m[2].toLowerCase().replace(/[^a-z0-9-]/g,'_')+'.html');return;}
    var target=document.getElementById(id);
    var page=target?(target.hasAttribute('data-page')?target:target.closest('[data-page]')):null;
    if(!page){page=document.getElementById('summary');target=page;}
    document.querySelectorAll('[data-page]').forEach(function(p){p.classList.toggle('active',p===page);});
    if(target&&target!==page){target.scrollIntoView({block:'start'});}else{window.scrollTo(0,0);}
  }
  window.addEventListener('hashchange',route);
  // Back to this page: the browser restores the controls' values after this script ran (file:// pages get no
  // back/forward cache) and says nothing; pageshow comes after, so the rows follow the controls as shown
  window.addEventListener('pageshow',apply);
  apply();route();
  var SB=__STATE_BARS__;
  stateBars(function(code){return SB[code];},240,14);
})();
"""

_PAGE_CSS = """
html.js [data-page]{display:block}
"""

_PAGE_JS = """
(function(){
  document.documentElement.classList.add('js');""" + STATE_BAR_JS + """
  var C=window.XZ_CAT,el=document.getElementById('items-data'),body=document.getElementById('items-body'),
      data=el?JSON.parse(el.textContent):null,T=C&&C.T||[];
  var L=data&&data.L||[];
  function t(v){var s=typeof v!=='number'?v:(v<0?L[-1-v]:T[v]);return s===undefined?'?':s;}
  function td(tr,text,cls){var c=document.createElement('td');if(cls){c.className=cls;}
    if(text!==undefined){c.textContent=text;}tr.appendChild(c);return c;}
  var H=__HEADS__;
  document.querySelectorAll('thead[data-h]').forEach(function(h){var tr=document.createElement('tr');
    (H[h.dataset.h]||[]).forEach(function(c){var th=document.createElement('th');th.textContent=c;tr.appendChild(th);});
    h.appendChild(tr);});
  var sel=document.getElementById('f-item-state');
  if(C&&data&&sel){var o=document.createElement('option');o.value='';o.textContent='全部';sel.appendChild(o);
    Object.keys(C.states).forEach(function(code){if(data.states.indexOf(code)<0){return;}
      var op=document.createElement('option');op.value=C.states[code][0];op.textContent=C.states[code][1];
      sel.appendChild(op);});}
  if(C&&data&&body){
    var ids=C.sets[data.set]||[],frag=document.createDocumentFragment();
    for(var i=0;i<ids.length;i++){
      var cat=C.items[ids[i]]||[-1,'?','',''],id=(cat[0]<0?'':C.P[cat[0]]+':')+cat[1],
          st=C.states[data.states.charAt(i)]||['?','?','#616161'],
          k=data.d[i],d=k<0?{}:data.D[k],tr=document.createElement('tr');
      tr.className='item';tr.dataset.state=st[0];
      var a=td(tr),code=document.createElement('code');code.textContent=id;a.appendChild(code);
      a.appendChild(document.createElement('br'));var u=document.createElement('span');u.className='muted';
      u.textContent=cat[3];a.appendChild(u);
      var strength=cat[4]&&cat[4][data.cl];td(tr,C.TT[cat[2]]+(strength?' ('+strength+')':''));
      var s=td(tr),b=document.createElement('span');b.className='badge';b.style.background=st[2];
      b.textContent=st[1];s.appendChild(b);
      if(d.h){s.appendChild(document.createTextNode(d.h===2?' 可能高风险':' 高风险'));}
      td(tr,(C.bases||{})[(data.b||'').charAt(i)]||'');
      td(tr,(d.r||[]).map(t).join(', '));
      var n=td(tr,undefined,'muted'),lines=[];
      if(d.n!==undefined){lines.push(Array.isArray(d.n)?d.n.map(t).join(''):t(d.n));}
      if(d.w){lines.push('豁免 '+d.w);}if(d.a){lines.push('证明 '+d.a);}
      var ev=d.e||[];(d.f||[]).forEach(function(f){var e=(data.F[f[0]]||{})[f[1]];if(e){ev.push(e);}});
      ev.slice(0,3).forEach(function(e){lines.push(t(e[0])+' — '+(e.length>1?t(e[1]):data.src));});
      lines.forEach(function(line,j){if(j){n.appendChild(document.createElement('br'));}
        n.appendChild(document.createTextNode(line));});
      frag.appendChild(tr);
    }
    body.appendChild(frag);
  }
  if(data&&data.S){document.querySelectorAll('details[data-steps] tbody').forEach(function(tb){
    var key=tb.closest('details').dataset.steps,steps=data.S[key];
    if(typeof steps==='string'){steps=C&&C.S[steps];}(steps||[]).forEach(function(step){
      var tr=document.createElement('tr');td(tr,t(step[0]));var c=td(tr),code=document.createElement('code');
      code.textContent=t(step[1]);c.appendChild(code);td(tr,t(step[2]));tb.appendChild(tr);});});}
  var cats=document.getElementById('categories-body');
  if(data&&data.K&&cats){data.K.forEach(function(row){var tr=document.createElement('tr');td(tr,row[0]);
    td(tr,row[1]);row[2].forEach(function(n){td(tr,String(n));});td(tr,row[3]);cats.appendChild(tr);});}
  var risks=document.getElementById('risks-body');
  if(C&&data&&data.R&&risks){
    var rf=document.createDocumentFragment();
    (C.rs[data.R[0]]||[]).forEach(function(row,i){var tr=document.createElement('tr'),r=C.risks[row[0]]||['','',''],
        hit=C.rc.triggered[data.R[2].charAt(i)]||'?';
      tr.className=hit==='是'?'trigger-yes':'trigger-no';td(tr,row[0]);td(tr,r[0]);td(tr,r[1]);td(tr,r[2]);
      td(tr,row[1]);td(tr,C.rc.status[data.R[1].charAt(i)]||'?');td(tr,hit);rf.appendChild(tr);});
    risks.textContent='';risks.appendChild(rf);
  }
  document.querySelectorAll('span.gauge').forEach(function(g){
    var v=(g.dataset.g||'').split(','),w=240,out=['<svg width="240" height="26" role="img" aria-label="'+
      esc(g.dataset.l||'')+'"><rect x="0" y="8" width="240" height="10" fill="#eeeeee"/>'];
    if(v.length===3){var lo=+v[0],hi=+v[1],sc=+v[2],x1=w*lo/sc,x2=w*hi/sc;
      out.push('<rect x="'+x1.toFixed(1)+'" y="8" width="'+Math.max(x2-x1,2).toFixed(1)+
        '" height="10" fill="#1565c0"><title>'+esc(g.dataset.t||v[0]+' – '+v[1])+'</title></rect>');
      (sc===1?[0.6,0.9]:[60,100]).forEach(function(m){var x=(w*m/sc).toFixed(1);
        out.push('<line x1="'+x+'" y1="4" x2="'+x+'" y2="22" stroke="#424242" stroke-dasharray="2"/>');});}
    g.outerHTML=out.join('')+'</svg>';});
  stateBars(function(code){var st=C&&C.states[code];return st&&[st[1],st[2]];},520,18);
""" + MINI_BAR_JS + """
  var filter=document.getElementById('f-item-state'),applied='';
  function filterItems(){var v=filter.value,shown=0;if(v===applied){return;}applied=v;
    document.querySelectorAll('tr.item').forEach(function(r){var ok=!v||r.dataset.state===v;
      r.classList.toggle('hidden',!ok);if(ok){shown++;}});
    var c=document.getElementById('shown-items');if(c){c.textContent=shown;}}
  // on pageshow too: Back restores the select's value after this script, with no change event (as on the summary)
  if(filter){filter.addEventListener('change',filterItems);window.addEventListener('pageshow',filterItems);}
  function mark(){var id=location.hash.slice(1);try{id=decodeURIComponent(id);}catch(e){}
    document.querySelectorAll('.target').forEach(function(t){t.classList.remove('target');});
    var t=id?document.getElementById(id):null;if(t){t.classList.add('target');t.scrollIntoView({block:'center'});}}
  window.addEventListener('hashchange',mark);mark();
})();
"""


_e = html_text


def _gauge(card: ScoreCard | None, label: str) -> str:
    """A horizontal range gauge of a score, drawn by ``report.js`` (an SVG: the [low, high] interval, one
    mark when final, the verdict thresholds) from ``data-g`` (low, high, scale: 1 for a rate, 100 for a score;
    empty without a score), cut as every report cuts a figure; its tooltip is ``data-t``, the figure as the
    verdict row shows it (:func:`figure_text`: 98.98 %, not a rounded 0.9899 beside it)."""
    if card is None or card.error:
        return f'<span class="gauge" data-g="" data-l="{_e(label)}"></span>'
    low, high = card.value_range
    scale = 1 if card.percent else 100
    values = ",".join(f"{float(cut_two(value * 100)) / 100:.4f}" if card.percent else cut_two(value)
                      for value in (low, high))
    return (f'<span class="gauge" data-g="{values},{scale}" data-t="{_e(figure_text(card.value_range, card.percent))}"'
            f' data-l="{_e(label)}"></span>')


def _state_bar(counts: Mapping[str, int], width: int = 0, height: int = 0) -> str:
    """The item states' distribution, drawn by the page's script (an SVG bar; on the system pages colours
    and labels from ``catalogue.js``, on the summary from its script) from ``data-c`` (state code and count,
    in state order); the summary's bars give their size (``data-w``, ``data-h``)."""
    parts = " ".join(f"{STATE_CODES[state]}{counts[str(state)]}" for state in ItemState if counts.get(str(state)))
    size = f' data-w="{width}" data-h="{height}"' if width else ""
    return f'<span class="sbar" data-c="{parts}"{size}></span>'


def _legend() -> str:
    return '<div class="legend">' + "".join(
        f'<span><span class="badge s-{s}">&nbsp;</span> {_e(STATE_LABELS[s])}</span>'
        for s in ItemState) + "</div>"


def _card_verdict(card: ScoreCard | None) -> str:
    if card is None or card.error:
        return verdict_text(card) + (f" ({_e(card.error)})" if card is not None else "")
    value = figure_text(card.value_range, percent=card.percent)  # as every report shows it (cut, not rounded)
    unit = "" if card.percent else " 分"
    if not card.verdict and not card.verdict_range:
        return value
    untested = "" if card.verdict else " (有未测项)"
    return f"{_e(verdict_text(card))}{untested} · {value}{unit}"


def _steps(card: ScoreCard | None, key: str) -> str:
    """The score's derivation, its rows built by ``report.js`` from the page data (``S``)."""
    if card is None or not card.steps:
        return ""
    return (f'<details class="steps" data-steps="{key}"><summary>{_e(card.scheme)} 得分推导 (score derivation, '
            f'{len(card.steps)} 步)</summary><table><thead data-h="S"></thead><tbody></tbody></table></details>')


def _problems(system: SystemReport) -> list[Finding]:
    """The results that need action (:func:`needs_action`: a passed result failing some of its items too)."""
    return [f for f in system.findings if needs_action(f)]


def _finding_state(finding: Finding) -> str:
    return "waived" if finding.waiver else str(finding.result.status)


def _state_badge(state: str) -> str:
    label = STATE_LABELS[ItemState(state)] if state in {str(s) for s in ItemState} else state
    return f'<span class="badge {f"s-{state}" if state in COLORS else "other"}">{_e(label)}</span>'


def _severity_badge(severity: Severity) -> str:
    kind = f"v-{severity}" if str(severity) in SEVERITY_COLORS else "other"
    return f'<span class="badge {kind}">{_e(severity.label)}</span>'


def _point(finding: Finding) -> str:
    result = finding.result
    host = " @" + _e(result.target) if result.target and result.point.value == "host" else ""
    return f"{_e(_labelled(POINT_LABELS, str(result.point)))}{host}"


def _labelled(labels: Mapping[str, str], key: str) -> str:
    """``清单 manifest``: the Chinese label with the id the JSON and the CLI use (the id alone when unlabelled)."""
    return f"{labels[key]} {key}" if key in labels else key


def _audit_line(system: SystemReport) -> str:
    """判定依据: how many items a rule, a signed attestation or the platform record decided, and which records."""
    trail = system.audit_trail()
    by = trail["by"]
    records = "; ".join(f"{_e(ident)} <code>{_e(entry['file'])}</code> {_e(entry['signer'])} "
                        f"<code>{_e(entry['signer_fingerprint'])}</code>"
                        for ident, entry in trail["records"].items())
    state = "结论确定 (全部条目已判定)" if trail["definite"] else f"待核查 {by.get('pending', 0)} 项: 得分为区间"
    listed = f'<br><span class="muted">{records}</span>' if records else ""
    return (f"<p>判定依据: 规则 {by.get('rule', 0)} · 签名证明 {by.get('attestation', 0)} · 云平台测评记录 "
            f"{by.get('platform-record', 0)} — {state}{listed}</p>")


PAGES = PAGES_DIR
"""Directory (in the report set) of the per-system and per-department pages and their shared files."""


def _slug(name: str) -> str:
    """A file-name-safe form of a system or department id (they are DNS labels: unchanged)."""
    return re.sub(r"[^a-z0-9-]", "_", name.lower()) or "_"


def system_href(name: str) -> str:
    """The page of system ``name``, relative to the report set's directory."""
    return f"{PAGES}/system-{_slug(name)}.html"


def _dept_href(dept: str) -> str:
    return f"{PAGES}/dept-{_slug(dept)}.html"


def _json_script(element_id: str, data: object) -> str:
    return f'<script type="application/json" id="{element_id}">{embedded_json(data)}</script>'


def _page_evidence(evidence: Evidence, texts: Texts, source: str) -> list[Text]:
    """``[observed, location]``; the location left out when it is the system's manifest (``src``)."""
    if evidence.location == source:
        return [texts.ref(evidence.observed)]
    return [texts.ref(evidence.observed), texts.ref(evidence.location)]


def _page_detail(item: ItemOutcome, owner: Mapping[int, tuple[int, int]], texts: Texts, source: str,
                 vetoed: frozenset[str] = frozenset()) -> dict[str, object] | None:
    """What the items table shows of an item beyond its catalogue text and state (None when nothing); the
    pieces of evidence a rule result gave are named by (finding, piece) in the page's findings' evidence (``F``);
    strings the shared table holds are given by their index in ``catalogue.js`` ``T``."""
    detail: dict[str, object] = {}
    if item.rules:
        detail["r"] = [texts.ref(rule) for rule in item.rules]
    if item.note:
        detail["n"] = texts.note(item)
    shown = item.evidence[:3]
    if shown and all(id(ev) in owner for ev in shown):
        # each piece by its place in a finding's evidence: an item keeps only the pieces about it, which need not
        # be the finding's first (the page showed those, another unit's evidence beside this one's note)
        detail["f"] = [list(owner[id(ev)]) for ev in shown]
    elif shown:
        detail["e"] = [_page_evidence(ev, texts, source) for ev in shown]
    if item.waiver:
        detail["w"] = item.waiver
    if item.attestation:
        detail["a"] = item.attestation
    if item.high_risk:  # 1: a finding the verdict vetoes on (高风险); 2: one its open case condition may make so
        detail["h"] = 1 if item.item_id in vetoed or item.standard != DENGBAO else 2
    return detail or None


def _steps_data(card: ScoreCard | None, texts: Texts) -> list[list[Text]]:
    return [[texts.ref(label), texts.ref(formula), texts.ref(value)] for label, formula, value in card.steps] \
        if card is not None else []


def _step_key(steps: list[list[Text]]) -> str:
    return json.dumps(steps, ensure_ascii=False, separators=(",", ":"))


def shared_steps(result: ScanResult, texts: Texts) -> dict[str, str]:
    """The score derivations (steps by ``texts`` reference) that several of the region's cards share
    (canonical JSON → key in ``catalogue.js`` ``S``): a page names them instead of writing them out."""
    uses = Counter(_step_key(_steps_data(card, texts)) for system in result.systems
                   for card in (system.dengbao, system.miping) if card is not None and card.steps)
    return {key: f"s{index}" for index, key in enumerate(key for key, count in uses.items() if count >= 2)}


def _items_data(system: SystemReport, item_set: str, texts: Texts, risk_set: str,
                figures: ReportFigures, steps: Mapping[str, str], modes: Sequence[str]) -> dict[str, object]:
    """The page's data (rendered by ``report.js`` with ``catalogue.js``): the item set, one state code per
    item, each item's detail as an index into the page's distinct details, the pieces of the rule results'
    evidence the items show (``F``: finding → piece position → piece; a location that is the system's manifest
    ``src`` left out), the score derivations (``S``: 等保
    ``d``, 密评 ``m``; label, formula, value; or the key in ``catalogue.js`` ``S`` of a derivation several
    systems share, ``steps``), the categories' figures (``K``: category, kind, counts,
    rate) and the major-risk table (``R``: its case list in
    ``catalogue.js`` ``rs``, one result code and one trigger code per case, codes in ``rc``). Strings of
    the shared table by index (``T``), those the page repeats by ``-1 - index`` in its own table (``L``)."""
    owner = {id(ev): (index, position) for index, f in enumerate(system.findings)
             for position, ev in enumerate(f.result.evidence)}
    distinct: dict[str, int] = {}
    refs: list[int] = []
    vetoed = frozenset(system.dengbao.high_risk if system.dengbao else ())
    for item in system.items:
        detail = _page_detail(item, owner, texts, system.source, vetoed)
        refs.append(-1 if detail is None else distinct.setdefault(
            json.dumps(detail, ensure_ascii=False, sort_keys=True), len(distinct)))
    used = sorted({(i, p) for key in distinct for i, p in json.loads(key).get("f", ())})
    findings: dict[str, dict[str, list[Text]]] = {}
    for index, position in used:
        findings.setdefault(str(index), {})[str(position)] = _page_evidence(
            system.findings[index].result.evidence[position], texts, system.source)
    triggers = figures.triggers
    categories = [[c.name, c.kind, [c.counts[status] for status in STATUSES], category_rate(c)]
                  for c in figures.categories]
    risks = [risk_set, "".join(RISK_CODES["status"][row.status] for row in triggers),
             "".join(RISK_CODES["triggered"][row.triggered] for row in triggers)]
    states = "".join(STATE_CODES[item.state] for item in system.items)
    basis = "".join(item_basis(item, modes) for item in system.items)  # 依据: codes in catalogue.js ``bases``
    return _localise({"set": item_set, "src": system.source, "states": states, "b": basis,
            "d": refs, "D": [json.loads(key) for key in distinct], "F": findings, "cl": system.crypto_level,
            "S": {key: steps.get(_step_key(listed), listed) for key, listed in (
                ("d", _steps_data(system.dengbao, texts)), ("m", _steps_data(system.miping, texts)))},
            "K": categories, "R": risks})


def _localise(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the strings its details, evidence and derivations repeat (and the shared table does
    not hold) written once, in the page's own table ``L``, and given as ``-1 - index`` there."""
    fields: list[list[Any]] = []  # the lists whose string members may be written by reference
    for detail in data["D"]:
        fields.extend(detail.get("e", []))
    for pieces in data["F"].values():
        fields.extend(pieces.values())
    for steps in data["S"].values():
        if isinstance(steps, list):  # not a derivation catalogue.js holds
            fields.extend(steps)
    fields.extend(detail["n"] for detail in data["D"] if isinstance(detail.get("n"), list))  # [head, rest]
    notes = [detail for detail in data["D"] if isinstance(detail.get("n"), str)]
    uses = Counter(value for values in fields for value in values if isinstance(value, str))
    uses.update(detail["n"] for detail in notes)
    local = [value for value, count in uses.items() if count >= 2 and len(value) >= MIN_LENGTH]
    if local:
        index = {value: -1 - position for position, value in enumerate(local)}
        for values in fields:
            values[:] = [index.get(value, value) if isinstance(value, str) else value for value in values]
        for detail in notes:
            detail["n"] = index.get(detail["n"], detail["n"])
        data["L"] = local
    return data


def _catalogue_script(result: ScanResult, item_sets: Mapping[str, list[str]], texts: Texts,
                      risk_sets: Mapping[str, list[list[str]]], steps: Mapping[str, str]) -> str:
    """``catalogue.js``: every item's static text (``items``: its standard as an index into ``P``, the id's
    part after ``:``, its title as an index into ``TT``, assessment unit and, when its strength depends on
    the 密评 level, 密评 level → 宜 / 应 / 可; the category is in ``compliance-report.json``), the item
    sets (positions in ``items``), the state labels and colours, the major-risk cases' text, the case lists
    (``rs``: case, unit) and the result and trigger codes (``rc``) of the major-risk tables and the shared
    text table (``T``: strings several systems repeat, :mod:`compliance.reports.texts`) and the score
    derivations several systems share (``S``, :func:`shared_steps`), once for all pages."""
    items: dict[str, list[object]] = {}
    strengths: dict[str, dict[str, str]] = {}
    for system in result.systems:
        for item in system.items:
            if item.item_id not in items:
                title = item.title
                if item.strength and title.endswith(f" ({item.strength})"):
                    title = title[: -len(f" ({item.strength})")]
                items[item.item_id] = [title, item.assessment_unit]
            if item.strength:
                if item.item_id not in strengths:
                    strengths[item.item_id] = {}
                    items[item.item_id].append(strengths[item.item_id])
                strengths[item.item_id][str(system.crypto_level)] = item.strength
    risks: dict[str, list[str]] = {}
    for case in figure_tables(result).cases:
        risks[case.case] = [case.title, case.scope, case.conditions]
    position = {item_id: index for index, item_id in enumerate(items)}
    sets = {key: [position[item_id] for item_id in ids] for key, ids in item_sets.items()}
    standards: dict[str, int] = {}  # the part of an item id before ":" (GB/T 22239-2019), written once in P
    titles: dict[object, int] = {}  # each title once in TT (the 等保 levels' items share them)
    rows: list[list[object]] = []
    for item_id, (heading, *rest) in items.items():
        standard, colon, local = item_id.rpartition(":")
        rows.append([standards.setdefault(standard, len(standards)) if colon else -1, local,
                     titles.setdefault(heading, len(titles)), *rest])
    data = {"P": list(standards), "TT": list(titles), "items": rows, "sets": sets, "risks": risks,
            "T": texts.table, "S": {key: json.loads(canonical) for canonical, key in steps.items()},
            "rs": {key: [case[:2] for case in cases] for key, cases in risk_sets.items()},
            "rc": {kind: {code: name for name, code in codes.items()} for kind, codes in RISK_CODES.items()},
            "states": {code: [str(state), STATE_LABELS[state], COLORS[str(state)]]
                       for state, code in STATE_CODES.items()}, "bases": dict(BASIS_LABELS)}
    return f"window.XZ_CAT={embedded_json(data)};\n"


def _partial_banner(result: ScanResult) -> str:
    """On every page of a set that judged part of the register (:meth:`ScanResult.partial_scope`)."""
    scope = result.partial_scope()
    if scope is None:
        return ""
    return (f'<p class="warn" id="partial-scope"><strong>部分扫描 partial scan</strong>: {scope[0]} / {scope[1]} '
            "个已登记系统 — 一个分片或 --system 的结果, 不是全区报告 (xzgov scan merge 合并全部分片)</p>")


#: The pages' Content-Security-Policy (a meta element: the report is opened from disk, no server sends headers):
#: nothing but the report's own files — no inline script or style, no other origin, no form, no <base>. A piece
#: of register text that ever slipped past the escaping could not run. ``file:`` beside ``'self'``: browsers
#: differ on whether a file:// page is its own origin.
PAGE_CSP = "default-src 'none'; script-src 'self' file:; style-src 'self' file:; base-uri 'none'; form-action 'none'"


def summary_csp(script: str, style: str) -> str:
    """The summary page's policy: its one inline script and its one inline style by their SHA-256 (CSP hash
    sources), nothing else."""
    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"
    return (f"default-src 'none'; script-src {digest(script)}; style-src {digest(style)}; base-uri 'none'; "
            "form-action 'none'")


def _as_of_meta(result: ScanResult) -> str:
    """The day recorded dates were judged on (assessment ages, attestation and waiver validity): a scan pinned to
    another day than its run (--as-of, $XZGOV_AS_OF) judged otherwise than its times suggest."""
    return f" 判定基准日 as-of {_e(result.as_of)} ·" if result.as_of else ""


def _page(title: str, body: str, result: ScanResult, catalogue: bool = True) -> str:
    """A page under ``report-pages/``: shared stylesheet and scripts beside it (``catalogue.js`` only where
    the page needs it: the system pages), no external resource."""
    scripts = '<script src="catalogue.js" defer></script>' if catalogue else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{PAGE_CSP}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(title)} · 等保/密评 合规扫描报告</title><link rel="stylesheet" href="report.css">
{scripts}<script src="report.js" defer></script></head><body>
<header><h1>西藏自治区数字政府 政务云 · 等保 2.0 / 密评 合规扫描报告</h1>
<div class="meta">扫描 {_e(result.started)} – {_e(result.finished)} ·{_as_of_meta(result)}
阻断阈值 --fail-on {_e(result.fail_on)}</div>{_partial_banner(result)}</header>
<nav><a href="../report.html#summary">总览</a></nav><main>{body}</main></body></html>
"""


def _system_page(result: ScanResult, system: SystemReport, remediation: Mapping[str, str], item_set: str,
                 texts: Texts, risk_set: str, figures: ReportFigures, steps: Mapping[str, str], more_in: str) -> str:
    data = _json_script("items-data", _items_data(system, item_set, texts, risk_set, figures, steps, result.modes))
    tallies = system.tally()
    counts = tallies[None].states
    problems = _problems(system)
    finding_rows = []
    items = {item.item_id: item for item in system.items}
    for index, f in enumerate(problems, 1):
        failing = advisory_items(f)
        shown = [ev for item in failing if item in items for ev in items[item].evidence][:6] if failing \
            else f.result.evidence[:6]
        evidence = "<br>".join(f"{_e(ev.observed)} — <code>{_e(ev.location)}</code> {_e(ev.at)}" for ev in shown)
        fix = remediation.get(f.result.rule_id, "")
        # a passed result failing some of its items (a 宜 unit the score counts): said, with those items
        message = f.result.message + (f"; 本规则通过, 但以下项不符合 (计入评分): {', '.join(failing)}"
                                      if failing else "")
        finding_rows.append(
            f'<tr id="ev-{_e(system.name)}-{index}" class="evidence" data-state="{_e(_finding_state(f))}">'
            f"<td><code>{_e(f.result.rule_id)}</code></td><td>{_point(f)}</td>"
            f"<td>{_state_badge(_finding_state(f))}{' 豁免 ' + _e(f.waiver) if f.waiver else ''}</td>"
            f"<td>{_severity_badge(f.result.severity)}</td><td>{_e(message)}"
            f'<br><span class="muted">证据: {evidence or "—"}</span>'
            f'{"<br><span class=muted>整改: " + _e(fix) + "</span>" if fix else ""}</td></tr>')
    hosts = ""
    if system.hosts:
        hosts = "<p>主机: " + ", ".join(
            f"{_e(name)} ({'可达' if state == 'ok' else '不可达: ' + _e(state)})"
            for name, state in system.hosts.items()
        ) + "</p>"
    # per standard: a 等保 符合 system's three 不符合 are 密评 units
    summary = "; ".join(
        f"{name}: " + " · ".join(f"{_e(STATE_LABELS[ItemState(s)])} {n}" for s, n in by_state.items() if n)
        for name, by_state in (("等保", tallies[DENGBAO].states), ("密评", tallies[MIPING].states))
        if any(by_state.values()))
    department = _e(dept_label(system.department_name, system.department))
    body = f"""
<section class="card" id="system-{_e(system.name)}" data-dept="{_e(system.department)}">
<p class="muted"><a href="../report.html#summary">总览</a> ›
<a href="dept-{_e(_slug(system.department))}.html">{department}</a>
› {_e(system.name)}</p>
<h2>{_e(system.title)}</h2>
<p class="muted">{_e(system.name)} · {department} · {_e(system.tier)} · 等保 {system.level} 级 ·
密评 {system.crypto_level} 级 · 登记文件 <code>{_e(system.source)}</code></p>
<div class="scroll"><table><tr><th>等保结论</th><td class="verdict">{_card_verdict(system.dengbao)}</td>
<td>{_gauge(system.dengbao, "等保符合率" if system.dengbao is None or system.dengbao.percent else "等保得分")}</td></tr>
<tr><th>密评得分</th><td class="verdict">{_card_verdict(system.miping)}</td>
<td>{_gauge(system.miping, "密评得分")}</td></tr></table></div>
<p>{_state_bar(counts)}<br><span class="muted">{summary}</span></p>{_audit_line(system)}
{hosts}<div class="scroll">{figures_html(figures, texts=False)}</div>
{_steps(system.dengbao, "d")}{_steps(system.miping, "m")}
<h3 id="findings-{_e(system.name)}">需处理的规则结果 ({len(problems)} 项)</h3>
{'<div class="scroll"><table><tr><th>规则</th><th>检查点</th><th>结果</th><th>严重性</th><th>说明、证据与整改</th></tr>'
 + "".join(finding_rows) + "</table></div>" if problems else "<p>无。</p>"}
<h3>全部条目 ({len(system.items)})</h3>
<div class="filters"><label>结果 <select id="f-item-state"></select></label>
<span class="muted" aria-live="polite" aria-atomic="true">显示 <span id="shown-items">{len(system.items)}</span> 项
</span></div>
<noscript><p class="warn">条目表需启用 JavaScript; 全部条目也在 {_e(more_in)} 中。</p></noscript>
<div class="scroll"><table id="items"><thead data-h="I"></thead><tbody id="items-body"></tbody></table></div>{data}
</section>"""
    return _page(f"{system.title} ({system.name})", body, result)


def _head(*columns: str) -> str:
    """A table's header row, as a header (``thead``, ``scope="col"``: read so by screen readers)."""
    return "<thead><tr>" + "".join(f'<th scope="col">{_e(c)}</th>' for c in columns) + "</tr></thead>"


def _options(values: Sequence[tuple[str, str]]) -> str:
    return '<option value="">全部</option>' + "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in values)


def _credit(value: float) -> str:
    """A credit as the scoring file writes it: ``0.5``, ``1``."""
    return f"{value:g}"


def _counts_cells(pairs: Mapping[str, tuple[int, int]]) -> str:
    return "".join(f"<td>{pair_text(pairs[key], blank_zero=True)}</td>" for key in ("fail", "partial", "error",
                                                                                   "pending"))


def _group_rows(groups: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """The rows of the summary's department and tier tables: (the group's cell, HTML; its
    :meth:`~compliance.results.ScanResult.summary` row) → systems, blocking, 等保 and 密评 conclusions, items."""
    return "".join(
        f"<tr><td>{label}</td><td>{row['systems']}</td><td>{row['blocking']}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['dengbao'].items()))}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in row['miping'].items()))}</td>"
        f"<td>{_state_bar(row['items'], 240, 14)}</td></tr>" for label, row in groups)


def _system_rows(result: ScanResult) -> str:
    rule_index = {rule_id: index for index, rule_id in enumerate(_rule_ids(result))}
    rows = []
    for system in result.systems:
        tallies = system.tally()
        counts = tallies[None].states
        problems = _problems(system)
        gating = [f for f in system.findings if f.gates(result.fail_on)]
        # the states of its items and of its blocking findings: a fail finding on items it leaves 部分符合 (another
        # rule passed them) shows the system under 结果 = fail, with the finding the table lists and counts
        states = " " + " ".join(dict.fromkeys([*(state for state, n in counts.items() if n),
                                               *(_finding_state(f) for f in gating)])) + " "
        attested = attested_gating(system, result.fail_on)  # the gate counts them too (XZ-ATTESTED, high)
        sevs = " " + " ".join(sorted({str(f.result.severity) for f in problems}
                                     | ({str(ATTESTED_SEVERITY)} if attested else set()))) + " "
        blocking = len(gating) + len(attested)
        # the blocking findings by state, severity and rule ("state:severity:rule:count" each, the rule by its
        # index in the script's table): the filters count those of the systems they show (a search for a rule, those
        # of that rule), the listed rows being a share of them (_listed)
        by_kind = Counter((_finding_state(f), str(f.result.severity), rule_index.get(f.result.rule_id, -1))
                          for f in gating)
        by_kind.update((str(item.state), str(ATTESTED_SEVERITY), rule_index[ATTESTED_RULE]) for item in attested)
        kinds = " ".join(f"{state}:{severity}:{rule}:{n}" for (state, severity, rule), n in sorted(by_kind.items()))
        # the rules of the system's findings, searched (by their index in the script's table: 2,000 rows); an
        # assessor's 高风险 under XZ-ATTESTED, as its row in the findings table names it
        found = [*(f.result.rule_id for f in problems), *([ATTESTED_RULE] if attested else [])]
        rules = " ".join(str(rule_index[rule]) for rule in dict.fromkeys(found) if rule in rule_index)
        rows.append(
            f'<tr class="sysrow" data-dept="{_e(system.department)}" data-level="{system.level}" '
            f'data-states="{_e(states)}" data-sevs="{_e(sevs)}" data-r="{rules}" data-b="{_e(kinds)}">'
            f'<td><a href="{system_href(system.name)}">{_e(system.title)}</a> <span class="muted">{_e(system.name)}'
            f"</span></td><td>{_e(dept_label(system.department_name, system.department))}</td>"
            f"<td>{_e(system.tier)}</td><td>{system.level}</td>"
            f"<td>{_e(verdict_text(system.dengbao))}</td><td>{_e(verdict_text(system.miping))}</td>"
            f"<td>{blocking or ''}</td>{_counts_cells(system.summary_counts(tallies))}</tr>")
    return "".join(rows)


#: Blocking findings listed on the summary page (a share of every department's: :func:`_listed`); the rest are
#: counted, and on the department and system pages.
SUMMARY_FINDINGS = 1000

#: A blocking finding as the gate counts it: a rule's finding, or an item an assessor's record fails with a
#: 高风险 (:func:`attested_gating`, listed under XZ-ATTESTED).
Blocking = tuple[SystemReport, Finding | ItemOutcome]


def _all_blocking(result: ScanResult) -> list[Blocking]:
    """Every blocking finding the gate counts (:meth:`ScanResult.blocking_count`), in the region's order."""
    found: list[Blocking] = []
    for system in result.systems:
        found.extend((system, f) for f in system.findings if f.gates(result.fail_on))
        found.extend((system, item) for item in attested_gating(system, result.fail_on))
    return found


def _severity(entry: Blocking) -> Severity:
    return entry[1].result.severity if isinstance(entry[1], Finding) else ATTESTED_SEVERITY


def _listed(blocking: Sequence[Blocking], limit: int) -> list[Blocking]:
    """At most ``limit`` blocking findings, a fair share of every department's: one of each department in turn,
    each department's most severe first; listed most severe first, in the region's order. (The region's first
    ``limit`` left most departments' filters with no row at 2,000 systems.)"""
    queues: dict[str, list[tuple[int, Blocking]]] = {}
    for index, entry in enumerate(blocking):
        queues.setdefault(entry[0].department, []).append((index, entry))
    def order(pair: tuple[int, Blocking]) -> tuple[int, int]:
        return -_severity(pair[1]).rank, pair[0]
    ordered = [sorted(queue, key=order) for _, queue in sorted(queues.items())]
    chosen: list[tuple[int, Blocking]] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(queue) for queue in ordered):
        chosen.extend(queue[depth] for queue in ordered if depth < len(queue))
        depth += 1
    # a round that passes the limit keeps its first departments' rows (in department order)
    return [entry for _, entry in sorted(chosen[:limit], key=order)]


def _blocking_rows(listed: Sequence[Blocking]) -> str:
    numbers: dict[int, int] = {}
    for system in {id(s): s for s, _ in listed}.values():
        numbers.update({id(f): index for index, f in enumerate(_problems(system), 1)})
    rows = []
    for system, entry in listed:
        # the system by title and id (copies of a system keep its title); data-s: its id, searched with the row's
        # text (and the department's label)
        if isinstance(entry, Finding):
            href = f"{system_href(system.name)}#ev-{_e(system.name)}-{numbers.get(id(entry), 1)}"
            state, severity = _finding_state(entry), entry.result.severity
            cells = (f"<td><code>{_e(entry.result.rule_id)}</code><br>{_point(entry)}</td>"
                     f"<td>{_state_badge(state)}</td><td>{_severity_badge(severity)}</td>"
                     f"<td>{_e(entry.result.message)}</td>")
        else:  # no rule decided the item: the row names it and the assessor's record (its page's items table)
            href = f"{system_href(system.name)}#items"
            state, severity = str(entry.state), ATTESTED_SEVERITY
            record = _e(entry.attestation or "")
            cells = (f"<td><code>{ATTESTED_RULE}</code><br>测评记录 assessor's record {record}</td>"
                     f"<td>{_state_badge(state)}</td><td>{_severity_badge(severity)}</td>"
                     f"<td><code>{_e(entry.item_id)}</code> {_e(entry.title)}: {_e(entry.score_status)}, 高风险 — "
                     f"测评人员签名记录判定, 非规则结果 (条目见系统页面)</td>")
        rows.append(
            f'<tr class="finding" data-dept="{_e(system.department)}" data-level="{system.level}" '
            f'data-state="{_e(state)}" data-sev="{_e(severity)}" data-s="{_e(system.name)}">'
            f'<td><a class="to-system" href="{href}">{_e(system.title)}</a> <span class="muted">{_e(system.name)}'
            f"</span></td>{cells}</tr>")
    return "".join(rows)


def _unlisted(blocking: Sequence[Blocking], listed: Sequence[Blocking],
              departments: Mapping[str, str]) -> str:
    """One line per department whose blocking findings the table lists in part: how many of how many, and its
    page (its systems with their blocking counts); the filter shows the selected department's."""
    total = Counter(system.department for system, _ in blocking)
    shown = Counter(system.department for system, _ in listed)
    lines = "".join(
        f'<li class="more" data-dept="{_e(dept)}">{_e(label)}: 列出 {shown[dept]} / 共 {total[dept]} 个 — '
        f'全部见<a href="{_dept_href(dept)}">部门页面</a>及其系统页面</li>'
        for dept, label in departments.items() if shown[dept] < total[dept])
    return f'<ul class="muted" id="findings-more">{lines}</ul>' if lines else ""


def _department_pages(result: ScanResult, kpi: KpiReport | None) -> dict[str, str]:
    pages: dict[str, str] = {}
    by_dept: dict[str, list[SystemReport]] = {}
    for system in result.systems:
        by_dept.setdefault(system.department, []).append(system)
    kpi_rows = {g.key: g for g in kpi.departments} if kpi else {}
    for key in kpi_rows:  # a lead department without systems: a page for its tasks
        by_dept.setdefault(key, [])
    for dept, systems in sorted(by_dept.items()):
        name = (systems[0].department_name if systems else kpi_rows[dept].label) or dept
        rows = "".join(  # title and id: copies of a system keep its title
            f'<tr><td><a href="system-{_e(_slug(s.name))}.html">{_e(s.title)}</a> <span class="muted">{_e(s.name)}'
            f"</span></td><td>{_e(s.tier)}</td>"
            f"<td>{s.level}</td><td>{_e(verdict_text(s.dengbao))}</td><td>{_e(verdict_text(s.miping))}</td>"
            f"<td>{system_blocking(s, result.fail_on) or ''}</td><td>{len(_problems(s))}</td></tr>"
            for s in systems)
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
        body = f"""
<section id="dept-{_e(dept)}"><p class="muted"><a href="../report.html#summary">总览</a> › {_e(name)}</p>
<h2>{_e(name)} <span class="muted">{_e(dept)} · {len(systems)} 个系统</span></h2>
<div class="scroll"><table>{_head("系统", "层级", "等保级别", "等保结论", "密评结论", "阻断", "需处理")}
<tbody>{rows}</tbody></table></div>{kpi_html}</section>"""
        pages[f"{PAGES}/dept-{_slug(dept)}.html"] = _page(name, body, result, catalogue=False)
    return pages


def _kpi_for(result: ScanResult) -> KpiReport | None:
    """The KPIs of the scanned register (region.yaml ``spec.programme``), as of the day the scan judged; ``None`` when
    the register cannot be read again, has no programme, or the scan judged only part of it."""
    register = result.register
    if register is None:  # a result built elsewhere (tests, a merged report): read the register again
        try:
            register = load_register(result.register_root)
        except (XzgovError, OSError):
            return None
    if register.programme is None:
        return None
    if len(result.systems) != len(register.systems):
        # a --system scan or one shard's part: its 密评 conclusions cover part of the register, so the
        # region's figures would count every system it did not judge as failing (the merged set has them)
        return None
    try:
        # the day the whole scan judged (--as-of, $XZGOV_AS_OF, else the scan's own day): the KPIs' deadlines too
        as_of = parse_day(result.as_of) if result.as_of else region_day(result.finished)
    except ValueError:
        as_of = region_today()
    report = compute_kpi(register, as_of, crypto_verdicts(result))
    return with_trend(report, result.kpi_since) if result.kpi_since else report


def render_site(result: ScanResult, kpi: KpiReport | None = None, companions: Collection[str] | None = None
                ) -> dict[str, str]:
    """Every file of the HTML report (path relative to the report set → text): ``report.html`` (the summary)
    and, under ``report-pages/``, one page per system and per department with ``report.css``,
    ``report.js`` and ``catalogue.js`` beside them. ``companions``: the file names of the report set it is
    written in (``None``: the default set), which its pages point a reader to."""
    more_in = json_pointer(companions)
    if kpi is None:
        kpi = _kpi_for(result)
    item_sets: dict[str, list[str]] = {}
    set_keys = item_set_keys(result, item_sets)
    texts = Texts(shared_texts(result))
    risk_sets: dict[str, list[list[str]]] = {}
    risk_keys: dict[str, str] = {}
    tables = figure_tables(result)
    figures_of = [system_figures(system, tables) for system in result.systems]
    risk_of = [risk_set_key(figures, risk_sets, risk_keys) for figures in figures_of]
    remediation = {str(rule.get("id")): str(rule.get("remediation", "")) for rule in result.rules}
    steps = shared_steps(result, texts)
    site = {"report.html": _summary(result, kpi, more_in), f"{PAGES}/report.css": _CSS + _PAGE_CSS,
            f"{PAGES}/report.js": _PAGE_JS.replace("__HEADS__", embedded_json(PAGE_HEADS)),
            f"{PAGES}/catalogue.js": _catalogue_script(result, item_sets, texts, risk_sets, steps)}
    site.update(_department_pages(result, kpi))
    for system, set_key, risk_key, figures in zip(result.systems, set_keys, risk_of, figures_of, strict=True):
        site[system_href(system.name)] = _system_page(result, system, remediation, set_key, texts, risk_key,
                                                      figures, steps, more_in)
    return site


def render_html(result: ScanResult, kpi: KpiReport | None = None, companions: Collection[str] | None = None) -> str:
    """The summary page (``report.html``) alone; :func:`render_site` gives it with every page it links to."""
    return _summary(result, kpi if kpi is not None else _kpi_for(result), json_pointer(companions))


#: The column heads report.js writes into a system page's tables (``thead[data-h]``): categories, major-risk
#: cases, score derivation steps, items.
PAGE_HEADS: Mapping[str, Sequence[str]] = {"K": CATEGORY_HEAD, "R": RISK_HEAD, "S": ("步骤", "计算", "值"),
                                           "I": ("条目", "要求", "结果", "依据", "规则", "说明")}


def _rule_ids(result: ScanResult) -> list[str]:
    """The rules' ids in the report's order, then XZ-ATTESTED (an assessor's 高风险): the summary's rows name their
    findings' rules by index here."""
    return [*(str(rule["id"]) for rule in result.rules), ATTESTED_RULE]


def _summary_js(result: ScanResult) -> str:
    """The summary page's script: filters, search, routing, and its state bars (state code → label, colour)."""
    bars = {code: [STATE_LABELS[state], COLORS[str(state)]] for state, code in STATE_CODES.items()}
    return kpi_script() + _JS.replace("__STATE_BARS__", embedded_json(bars)).replace(
        "__RULES__", embedded_json(_rule_ids(result)))


def _summary(result: ScanResult, kpi: KpiReport | None, more_in: str) -> str:
    by_department = result.summary("department")  # once: it counts every item of every system
    departments = [(dept, dept_label(row["name"], dept)) for dept, row in by_department.items()]
    levels = sorted({(str(s.level), f"第{s.level}级") for s in result.systems})
    totals = counts_by_state(result)
    blocking = _all_blocking(result)  # as the gate counts them: an assessor's 高风险 too (the JSON, summary.md)
    attested = sum(1 for _, entry in blocking if not isinstance(entry, Finding))
    listed = _listed(blocking, SUMMARY_FINDINGS)
    dept_rows = _group_rows((f'<a href="{_dept_href(dept)}">{_e(dept_label(row["name"], dept))}</a>', row)
                            for dept, row in by_department.items())
    tier_rows = _group_rows((_e(name), row) for name, row in result.summary("tier").items())
    warnings = "".join(f"<li>{_e(w)}</li>" for w in result.warnings[:200])
    if len(result.warnings) > 200:
        warnings += f"<li>… 另 {len(result.warnings) - 200} 条 ({_e(more_in)})</li>"
    findings = sum(len(_problems(s)) for s in result.systems)
    kpi_nav = '<a href="#kpi">三年行动指标</a>' if kpi else ""
    kpi_page = (f'<section id="kpi" data-page>{render_kpi_section(kpi)}</section>{kpi_json_script(kpi)}'
                if kpi else "")
    script = _summary_js(result)
    csp = summary_csp(script, _CSS)
    kpi_headline = ""
    if kpi:
        overdue = kpi.overdue
        kpi_headline = (f'<p>三年行动: 上云率 {_e(kpi.overall.shares["on-cloud"].text())}; 逾期任务 {len(overdue)} 项'
                        f' — <a href="#kpi">查看指标</a></p>')
    # past SUMMARY_FINDINGS the table lists a share of each department's: the filter says how many of how many (it
    # counts every blocking finding of the systems it shows from their rows), each department in part its page
    more = (f'<p class="muted">共 {len(blocking)} 个阻断问题, 下表列出 {len(listed)} 个: 每个部门的一部分, '
            f"按严重性; 其余见部门页面与各系统页面。</p>{_unlisted(blocking, listed, dict(departments))}"
            if len(listed) < len(blocking) else "")
    partly = " (未全部列出, 见表下)" if len(listed) < len(blocking) else ""
    assessed = (f"; 其中 {attested} 个为测评人员签名记录判定的高风险项 (XZ-ATTESTED, 列于下表, 条目见系统页面)"
                if attested else "")
    modes = ", ".join(_labelled(MODE_LABELS, mode) for mode in result.modes)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>等保/密评 合规扫描报告</title><style>{_CSS}</style></head><body>
<header><h1>西藏自治区数字政府 政务云 · 等保 2.0 / 密评 合规扫描报告</h1>
<div class="meta">扫描模式: {_e(modes)} · 开始 {_e(result.started)} · 结束 {_e(result.finished)} ·{_as_of_meta(result)}
阻断阈值 --fail-on {_e(result.fail_on)} · 标准目录版本 {_e(result.catalogue_version)}</div>
{_partial_banner(result)}</header>
<nav><a href="#summary">总览</a>{kpi_nav}<a href="#systems">系统</a><a href="#departments">部门</a></nav>
<main>
<section id="summary" data-page>
<h2>总体</h2><p>系统 {len(result.systems)} 个; 阻断问题 {len(blocking)} 个
(未豁免且严重性 ≥ {_e(result.fail_on.label)}{assessed}); 需处理的规则结果 {findings} 项 (明细见各系统页面)。</p>
{kpi_headline}
<p>{_state_bar(totals, 720, 22)}</p>{_legend()}
{"<ul>" + warnings + "</ul>" if warnings else ""}
<h3>筛选</h3><div class="filters">
<label>部门 <select id="f-dept">{_options(departments)}</select></label>
<label>等保级别 <select id="f-level">{_options(levels)}</select></label>
<label>结果 <select id="f-state">{_options([(str(s), STATE_LABELS[s]) for s in ItemState])}</select></label>
<label>严重性 <select id="f-sev">{_options([(str(s), s.label) for s in Severity])}</select></label>
<label>搜索 <input id="f-q" type="search" placeholder="系统名称 / 部门 / 规则"></label>
<span class="muted" id="filter-status" aria-live="polite" aria-atomic="true">显示
<span id="shown">{len(result.systems)}</span> 个系统 (其阻断问题 <span id="shown-blocking">{len(blocking)}</span> 个),
下表列出其中 <span id="shown-findings">{len(listed)}</span> 个{partly}</span></div>
<h3>阻断问题</h3><div class="scroll"><table id="findings">{_head("系统", "规则 / 检查点", "结果", "严重性", "说明")}
<tbody>{_blocking_rows(listed)}</tbody></table></div>{more}
<h3 id="systems">系统</h3><div class="scroll"><table id="systems-table">{_head(
    "系统", "部门", "层级", "等保级别", "等保结论", "密评结论", "阻断", "不符合 等保/密评", "部分符合 等保/密评",
    "出错 等保/密评", "待核查 等保/密评")}
<tbody>{_system_rows(result)}</tbody></table></div>
<h3 id="departments">部门汇总</h3><div class="scroll"><table>{_head(
    "部门", "系统", "阻断", "等保结论", "密评结论", "条目分布 (等保+密评)")}<tbody>{dept_rows}</tbody></table></div>
<h3>层级汇总</h3><div class="scroll"><table>{_head("层级", "系统", "阻断", "等保结论", "密评结论",
                                                   "条目分布 (等保+密评)")}
<tbody>{tier_rows}</tbody></table></div>
<p class="muted">说明: 等保符合率 = (符合 + {_e(_credit(figure_tables(result).credits[1]))} × 部分符合) / 适用项
(得分与阈值见 standards/scoring.yaml);
"待人工核查" 为无自动化规则且无证明记录的条目, 评分时按 未测 计入区间;
"继承" 为云平台责任项, 依据平台自身测评记录 (无平台记录时按 未测 计);
"待核查" 列为按 未测 计入区间的条目数 (待人工核查与无平台记录的继承项);
各计数列为 等保 / 密评 两个数。
每个系统的全部条目与证据在其页面 ({PAGES}/)。</p>
</section>
{kpi_page}
</main><script>{script}</script></body></html>
"""


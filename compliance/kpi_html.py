"""The KPI section of the HTML report (Chinese): drawn in the browser (tables and inline SVG charts) from the
embedded KPI JSON, no external resource; :func:`mini_bar` for the department pages."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

from compliance.kpi import KpiReport, Share
from xzgov.core.text import printable_json_text, printable_text

STATUS_COLORS: Mapping[str, str] = {"achieved": "#2e7d32", "on-track": "#1565c0", "overdue": "#c62828",
                                    "unmeasured": "#757575", "no-systems": "#757575"}
#: The status badges' colours as classes (``badge k-<status>``): the report's Content-Security-Policy admits no
#: inline ``style`` attribute (compliance.reports.html).
KPI_BADGE_CSS = "".join(f".badge.k-{status}{{background:{color}}}" for status, color in STATUS_COLORS.items())


def html_text(text: object) -> str:
    """Escaped text; control and invisible characters (a right-to-left override, a line separator) shown as
    escapes, as everywhere in the reports (the page's source is read in terminals too); ``://`` as character
    references, so that data quoting an address (an endpoint in evidence) shows as written but the offline
    report's source holds no URL."""
    return html.escape(printable_text(str(text)), quote=True).replace("://", ":&#47;&#47;")


_e = html_text


def _pct(share: Share) -> float:
    return share.percent if share.percent is not None else 0.0


def mini_bar(share: Share) -> str:
    """A 60-pixel bar of ``share`` and its text. The bar is drawn by the page's script (an SVG, see
    :data:`MINI_BAR_JS`) from ``data-p`` (the percentage): every KPI table repeats it per cell."""
    return f'<span class="mb" data-p="{_pct(share):.1f}"></span> {_e(share.text())}'


#: Draws every ``span.mb`` of :func:`mini_bar` as its SVG (part of the report's scripts).
MINI_BAR_JS = """
  document.querySelectorAll('span.mb').forEach(function(m){var w=(60*(+m.dataset.p||0)/100).toFixed(1);
    m.outerHTML='<svg width="62" height="10" aria-hidden="true"><rect width="60" height="10" fill="#eeeeee"/>'+
      '<rect width="'+w+'" height="10" fill="#1565c0"/></svg>';});
"""


#: Draws the KPI page (``div#kpi-body``) in the browser from the embedded KPI JSON (``script#xzgov-kpi``, the
#: data ``xzgov kpi --format json`` prints): the overdue tasks, the overall bars with their targets, the
#: tiers' chart and table, the tasks, the late migrations, the departments and the trend (the report carries
#: the numbers once). ``__STATUS_CLASSES__`` (status → badge class, :data:`KPI_BADGE_CSS`) is replaced by
#: :func:`kpi_script`.
_KPI_JS = r"""
(function(){
  var el=document.getElementById('xzgov-kpi'),box=document.getElementById('kpi-body');
  if(!el||!box){return;}
  var K=JSON.parse(el.textContent),SC=__STATUS_CLASSES__,ML={},MS=K.metrics.map(function(m){ML[m.id]=m.label;
    return m.id;});
  function esc(s){return String(s).replace(/[&<>"']/g,function(c){return '&#'+c.charCodeAt(0)+';';});}
  function num(v){return typeof v==='number';}
  function pct(s){return num(s.percent)?s.percent:0;}
  function txt(s){return num(s.percent)?s.percent.toFixed(1)+'% ('+s.met+'/'+s.total+')':'\u2014';}
  function g(v){return String(+v);}
  function mini(s){return '<svg width="62" height="10" aria-hidden="true"><rect width="60" height="10" '+
    'fill="#eeeeee"/><rect width="'+(60*pct(s)/100).toFixed(1)+'" height="10" fill="#1565c0"/></svg> '+esc(txt(s));}
  function leads(t){return t.lead.map(function(l){return l.name;}).join('\u3001');}
  var targets={};
  // the target line of a metric: the first whole-region task's (a serving or tier task's target is its own)
  K.tasks.forEach(function(t){if(t.lead.length&&t.whole_region!==false&&!(t.metric in targets)){
    targets[t.metric]=t.due_target||t.target;}});
  function bars(group){var row=26,lw=96,sc=(560-lw-90)/100,h=row*MS.length+8,
      out=['<svg class="chart" width="560" height="'+h+'" viewBox="0 0 560 '+h+'" role="img" aria-label="'+
        esc(group.label)+' 指标完成率">'];
    MS.forEach(function(m,i){var s=group.shares[m],y=4+i*row;
      out.push('<text x="0" y="'+(y+15)+'" font-size="13">'+esc(ML[m])+'</text><rect x="'+lw+'" y="'+(y+3)+
        '" width="'+(100*sc).toFixed(1)+'" height="16" fill="#eeeeee"/><rect class="bar" data-metric="'+esc(m)+
        '" x="'+lw+'" y="'+(y+3)+'" width="'+(pct(s)*sc).toFixed(1)+'" height="16" fill="#1565c0"><title>'+
        esc(ML[m])+' '+esc(txt(s))+'</title></rect><text x="'+(lw+100*sc+6).toFixed(1)+'" y="'+(y+15)+
        '" font-size="12">'+esc(txt(s))+'</text>');
      if(m in targets){var tx=(lw+targets[m]*sc).toFixed(1);
        out.push('<line x1="'+tx+'" y1="'+y+'" x2="'+tx+'" y2="'+(y+22)+'" stroke="#c62828" stroke-width="2" '+
          'stroke-dasharray="3 2"><title>目标 '+g(targets[m])+'%</title></line>');}});
    return out.join('')+'</svg>';}
  function tiers(list){var colors=['#1565c0','#00838f','#2e7d32','#ef6c00','#6a1b9a','#8b0000'],ph=150,top=10,
      gw=(640-40)/Math.max(list.length,1),bw=(gw-16)/MS.length,h=ph+top+40,
      out=['<svg class="chart" width="640" height="'+(h+24)+'" viewBox="0 0 640 '+(h+24)+'" role="img" '+
        'aria-label="分层级指标">'];
    [0,50,100].forEach(function(mark){var y=top+ph-ph*mark/100;
      out.push('<line x1="30" y1="'+y.toFixed(1)+'" x2="640" y2="'+y.toFixed(1)+'" stroke="#e0e0e0"/><text x="0" y="'+
        (y+4).toFixed(1)+'" font-size="11">'+mark+'%</text>');});
    list.forEach(function(tier,gi){var x0=40+gi*gw;
      MS.forEach(function(m,mi){var s=tier.shares[m],bh=ph*pct(s)/100;
        out.push('<rect x="'+(x0+mi*bw).toFixed(1)+'" y="'+(top+ph-bh).toFixed(1)+'" width="'+(bw-2).toFixed(1)+
          '" height="'+bh.toFixed(1)+'" fill="'+colors[mi]+'"><title>'+esc(tier.label)+' '+esc(ML[m])+' '+
          esc(txt(s))+'</title></rect>');});
      out.push('<text x="'+(x0+(gw-16)/2).toFixed(1)+'" y="'+(top+ph+18)+'" font-size="13" text-anchor="middle">'+
        esc(tier.label)+' ('+tier.systems+')</text>');});
    MS.forEach(function(m,mi){var x=40+mi*100;
      out.push('<rect x="'+x+'" y="'+(h+6)+'" width="12" height="12" fill="'+colors[mi]+'"/><text x="'+(x+16)+
        '" y="'+(h+16)+'" font-size="12">'+esc(ML[m])+'</text>');});
    return out.join('')+'</svg>';}
  function table(groups,head,prefix){
    return '<div class="scroll"><table class="kpi"><tr><th>'+esc(head)+'</th><th>系统</th>'+
      MS.map(function(m){return '<th>'+esc(ML[m])+'</th>';}).join('')+'</tr>'+groups.map(function(gr){
        var name=prefix?'<a href="#'+esc(prefix+gr.key)+'">'+esc(gr.label)+'</a>':esc(gr.label);
        if(gr.exempt){name+=' <span class="muted">(不纳入 '+gr.exempt+')</span>';}
        if(gr.undeclared){name+=' <span class="muted">(未填报 '+gr.undeclared+')</span>';}
        return '<tr class="kpi-row" data-dept="'+esc(gr.key)+'"><td>'+name+'</td><td>'+gr.systems+'</td>'+
          MS.map(function(m){return '<td>'+mini(gr.shares[m])+'</td>';}).join('')+'</tr>';}).join('')+
      '</table></div>';}
  function task(t){var missed=t.missed&&num(t.missed_target)?'<br><span class="muted">'+esc(t.missed)+' 应达 '+
      g(t.missed_target)+'%</span>':'',lag='';
    if(t.lagging.length&&t.status!=='achieved'){
      lag='<details><summary>未达标系统 '+t.lagging.length+'</summary>'+t.lagging.slice(0,12).map(function(n){
        return '<a href="#system-'+esc(n)+'">'+esc(n)+'</a>';}).join(', ')+
        (t.lagging.length>12?' 等 '+t.lagging.length+' 个':'')+'</details>';}
    return '<tr class="task" data-status="'+esc(t.status)+'"><td><code>'+esc(t.id)+'</code><br>'+esc(t.title)+
      '</td><td>'+esc(leads(t))+'</td><td>'+esc(ML[t.metric])+' ≥ '+g(t.target)+'%</td><td>'+esc(t.deadline)+
      '</td><td>'+mini(t.share)+lag+'</td><td><span class="badge '+(SC[t.status]||'other')+'">'+
      esc(t.status_label)+'</span>'+missed+'</td></tr>';}
  var overdue=K.tasks.filter(function(t){return t.status==='overdue';}),out=[];
  out.push('<h2>三年行动指标 · '+esc(K.title)+'</h2><p class="muted">统计日期 '+esc(K.as_of)+
    ' · 不纳入上云范围 (如涉密) 的系统不计入分母; 密评通过 = 扫描结论为 符合 或 基本符合, '+
    '未测项无论结果如何均如此 (如 基本符合–符合 计入, 不符合–基本符合 不计)。</p>');
  out.push(overdue.length?'<p class="warn">逾期任务 '+overdue.length+' 项:</p><ul class="overdue">'+
    overdue.map(function(t){return '<li>'+esc(t.title)+' \u2014 牵头: '+esc(leads(t))+'; 完成 '+esc(txt(t.share))+
      (num(t.missed_target)?', '+esc(t.missed||'')+' 应达 '+g(t.missed_target)+'%':'')+'</li>';}).join('')+'</ul>'
    :'<p>无逾期任务。</p>');
  out.push('<div class="charts"><div><h3>全区合计 ('+K.overall.systems+' 个系统)</h3>'+bars(K.overall)+
    '<p class="muted">红色虚线: 当前应达目标 (已过的阶段目标或最终目标)。</p></div><div><h3>分层级 (区/市/县/乡)</h3>'+
    tiers(K.tiers)+'</div></div>'+table(K.tiers,'层级',''));
  out.push('<h3>任务进度</h3><div class="scroll"><table class="kpi"><tr><th>任务</th><th>牵头部门</th><th>衡量</th>'+
    '<th>时限</th><th>完成</th><th>状态</th></tr>'+K.tasks.map(task).join('')+'</table></div>');
  if(K.late_migrations.length){out.push('<h3>逾期未完成迁移的系统</h3><ul>'+K.late_migrations.map(function(x){
    return '<li><a href="#system-'+esc(x.system)+'">'+esc(x.title)+'</a> 计划 '+esc(x.planned)+
      ' 完成迁移, 尚未上云</li>';}).join('')+'</ul>');}
  out.push('<h3>分部门</h3>'+table(K.departments,'部门','dept-'));
  var tr=K.trend||{};
  function f(x){return num(x)?x.toFixed(1)+'%':'\u2014';}
  if(Object.keys(tr).length){
    out.push('<h3>趋势 (对比 '+esc(tr.since||'')+' 的已签名报告)</h3><table class="kpi"><tr><th>指标</th>'+
      '<th>此前</th><th>现在</th><th>变化</th></tr>'+Object.keys(tr.shares||{}).map(function(m){var v=tr.shares[m];
        return '<tr><td>'+esc(ML[m])+'</td><td>'+f(v.before)+'</td><td>'+f(v.now)+'</td><td>'+
          (num(v.change)?(v.change>0?'+':'')+v.change.toFixed(1)+' 个百分点':'\u2014')+'</td></tr>';}).join('')+
      '</table>');}
  if(K.crypto_source!=='scan'){out.push('<p class="muted">未提供扫描结果: 密评通过率按 0 计。</p>');}
  box.innerHTML=out.join('');
})();
"""


def kpi_script() -> str:
    """The script that draws the KPI page from the embedded JSON (:func:`kpi_json_script`)."""
    return _KPI_JS.replace("__STATUS_CLASSES__", json.dumps({status: f"k-{status}" for status in STATUS_COLORS}))


def render_kpi_section(kpi: KpiReport) -> str:
    """The KPI page body: its heading, filled by :func:`kpi_script` from the embedded KPI JSON (overall bars
    with targets, tiers chart and table, departments, tasks, trend), and a note for readers without scripts."""
    return (f'<div id="kpi-body"><h2>三年行动指标 · {_e(kpi.title)}</h2></div><noscript><p class="warn">'
            "指标图表由页面脚本根据内嵌的 KPI JSON (xzgov-kpi) 绘制, 需启用 JavaScript; "
            "数据也可用 xzgov kpi --format json 查看。</p></noscript>")


#: Characters JSON may hold raw that a script element or a JavaScript source must not: ``<`` (``</script>``
#: ends the element; ``<!--`` followed by ``<script`` keeps the element open past its own end tag), ``>``
#: and ``&`` (with them, markup of any kind), and the line separators older parsers end a line at.
_EMBEDDED = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                           "\u2029": "\\u2029"})


def embedded_json(data: object) -> str:
    """Compact JSON that is safe inside a ``<script>`` element and as a JavaScript expression: the
    strings' invisible and control characters as visible escapes (:func:`~xzgov.core.text.printable_text`, as
    the page's own markup shows them: the scripts write these strings into the page), the
    characters of :data:`_EMBEDDED` as ``\\uXXXX`` escapes (``JSON.parse`` and ``json.loads`` read them
    back unchanged), and ``://`` as ``:\\/\\/`` so data quoting an address holds no URL."""
    text = printable_json_text(data, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return text.translate(_EMBEDDED).replace("://", ":\\/\\/")


def kpi_json_script(kpi: KpiReport) -> str:
    """The KPIs as embedded JSON (``<script type="application/json" id="xzgov-kpi">``): an earlier signed
    report carries its KPIs, so ``xzgov kpi --since`` can show the trend."""
    return f'<script type="application/json" id="xzgov-kpi">{embedded_json(kpi.to_json())}</script>'

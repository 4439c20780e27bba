"""``xzgov kpi``: the 2023–2025 programme's targets measured over the register (docs/kpi.md)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from compliance.kpi import METRIC_LABELS, METRICS, KpiReport, check_earlier, compute_kpi, crypto_verdicts, with_trend
from compliance.reports import FILES, ReportFormat
from compliance.scanner import ScanOptions, scan
from xzgov.cli.output import (
    console,
    console_err,
    print_diagnostics,
    print_json,
    print_table,
    progress_bar,
    safe_text,
)
from xzgov.core.clock import day_option
from xzgov.core.errors import Diagnostic, ExitCode, UsageError
from xzgov.core.register import REGION_FILE, check_register, valid_register
from xzgov.crypto import bundle, keys


class KpiFormat(enum.StrEnum):
    text = "text"
    json = "json"


#: The report page of a signed report set that embeds the KPIs.
_SUMMARY = FILES[ReportFormat.html]
_EMBEDDED = re.compile(r'<script type="application/json" id="xzgov-kpi">(.*?)</script>', re.S)


def kpi(
    root: Annotated[Path, typer.Option("--root", help="Repository root holding region.yaml and systems/.",
                                       file_okay=False)] = Path("."),
    as_of: Annotated[str | None, typer.Option("--as-of", help="Judge deadlines as of this date (YYYY-MM-DD; "
                                               "default: $XZGOV_AS_OF, else today).")] = None,
    no_scan: Annotated[bool, typer.Option("--no-scan", help="Skip the static scan: 密评通过率 counts as 0 (faster).")]
    = False,
    since: Annotated[Path | None, typer.Option("--since", help="An earlier signed report (its directory or "
                                                "xzgov-bundle.json): show the change of every share.")] = None,
    trusted_key: Annotated[list[Path] | None, typer.Option("--trusted-key", help="Public key the earlier report's "
                                                            "signer must have (repeatable).")] = None,
    output: Annotated[KpiFormat, typer.Option("--format", help="Output format.")] = KpiFormat.text,
) -> int:
    """Programme KPIs (三年行动指标): per department and tier, against the plan's targets and deadlines.

    Shares of systems on the cloud, catalogued, aggregated, connected through the data-exchange
    platform, filed for 等保 and passing 密评 (static scan); each task of region.yaml spec.programme with its lead
    departments, deadline and status (已达成 / 进行中 / 逾期). Exit codes: 0 shown (overdue tasks do
    not fail), 1 invalid register, 2 usage error (bad date, no spec.programme, untrusted --since).
    """
    day = _as_of(as_of)
    register = valid_register(check_register(root))
    if register.programme is None:
        raise UsageError("region.yaml declares no spec.programme: there are no programme targets to measure",
                         [Diagnostic(str(root / REGION_FILE), 0, 0, "spec.programme", "no programme tasks",
                                     "add the plan's tasks under spec.programme (docs/kpi.md)", "missing-field")])
    # the earlier report before the scan: a wrong --since is refused without waiting for it
    earlier = earlier_kpi_of(since, trusted_key or []) if since is not None else None
    crypto: dict[str, str] | None = None
    if not no_scan:
        with progress_bar("扫描 (密评)", enabled=console_err.is_terminal and output is KpiFormat.text) as progress:
            # as_of too: recorded dates (assessment ages) are judged on the KPI day, not on the machine's clock
            result = scan(ScanOptions(root=root, today=day, as_of=day, progress=progress))
        crypto = crypto_verdicts(result)
    report = compute_kpi(register, day, crypto)
    if earlier is not None:
        report = with_trend(report, earlier)
    if output is KpiFormat.json:
        print_json(report.to_json())
    else:
        _print(report)
    return int(ExitCode.OK)


def _as_of(value: str | None) -> dt.date:
    """The KPI day: --as-of, else $XZGOV_AS_OF as the scan reads it, else today in the region (the variable was
    ignored: a pipeline that pins it judged the scan's embedded KPIs and `xzgov kpi` on two different days)."""
    if value is not None:
        return day_option(value, "--as-of")
    from compliance.scan.context import pinned_or_today

    return pinned_or_today()


def earlier_kpi_of(path: Path, trusted_keys: list[Path], option: str = "--since") -> dict[str, Any]:
    """The KPIs embedded in an earlier signed report's report.html, after verifying its bundle; ``option``: the
    command line option that named it (``xzgov kpi --since``, ``xzgov scan --kpi-since``), which errors name."""
    signed = path / bundle.DEFAULT_NAME if path.is_dir() else path
    if not signed.is_file():
        raise UsageError(f"no signed report at {path}",
                         [Diagnostic(str(signed), 0, 0, "", "file not found",
                                     "give the report directory of an earlier `xzgov scan --key`", "io")])
    trusted = [keys.fingerprint(keys.load_public_key(p)) for p in trusted_keys] or None
    # report.html is read once, by the verification: the file may be replaced after it
    check = bundle.verify_bundle(signed, trusted, keep=[_SUMMARY])
    if not check.ok:
        print_diagnostics(check.diagnostics())
        raise UsageError(f"{signed}: the earlier report does not verify; no trend shown", [Diagnostic(
            str(signed), 0, 0, option, "the signed bundle does not verify (above: what failed)",
            "give the --out of an earlier `xzgov scan --key` as it was signed, and its signer's --trusted-key", "io")])
    if _SUMMARY not in check.files:
        raise UsageError(f"{signed}: the earlier report set has no {_SUMMARY}; no trend shown", [Diagnostic(
            str(signed), 0, 0, option, f"the set holds no {_SUMMARY} (written with --format without html?)",
            "give the --out of an earlier full `xzgov scan --key` that wrote the HTML report", "io")])
    page = signed.parent / _SUMMARY
    try:
        text = check.content(_SUMMARY).decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{page}: not UTF-8 text ({error}); no trend shown — give the report directory of an "
                         "earlier `xzgov scan --key`") from error
    found = _EMBEDDED.search(text)
    if found is None:
        raise UsageError(f"{page} carries no KPIs; no trend shown", [Diagnostic(
            str(page), 0, 0, option, "no KPIs: a scan of part of the register (--system, or one shard: the "
            "KPIs are the whole region's) or one made before region.yaml declared spec.programme",
            "give the --out of an earlier full `xzgov scan --key` (or of `xzgov scan merge`) of a region with "
            "spec.programme", "io")])
    try:
        data = json.loads(found.group(1))
    except (ValueError, RecursionError) as error:
        raise UsageError(f"{page}: the embedded KPIs are not readable JSON ({error}); "
                         "no trend shown — regenerate that report with this release") from error
    if not isinstance(data, dict):
        raise UsageError(f"{page}: the embedded KPIs are not a JSON object; no trend shown")
    check_earlier(data, str(page))  # before any scan: a value no trend can use names this page and field
    return data


def _status(task_status: str, label: str) -> str:
    return {"overdue": f"✗ {label}", "achieved": f"✓ {label}"}.get(task_status, label)


def _print(report: KpiReport) -> None:
    # register text on one line (safe_text): a line break in a title started a console line of its own
    console.print(f"{safe_text(report.title)} · 统计日期 {report.as_of}")
    if report.crypto_source != "scan":
        console.print("(--no-scan: 密评通过率按 0 计)")
    headers = ("范围", "系统", *(METRIC_LABELS[m] for m in METRICS))

    def rows(groups: Any) -> list[tuple[str, ...]]:
        return [(g.label, str(g.systems), *(g.shares[m].text() for m in METRICS)) for g in groups]

    print_table("全区与分层级 (区/市/县/乡)", headers, rows((report.overall, *report.tiers)))
    print_table("分部门", headers, rows(report.departments))
    print_table("任务 (region.yaml spec.programme)", ("任务", "牵头部门", "衡量", "时限", "完成", "状态"), [
        (f"{t.id} {t.title}", "、".join(name for _, name in t.lead), f"{METRIC_LABELS[t.metric]} ≥ {t.target:g}%",
         t.deadline, t.share.text(), _status(t.status, t.status_label)
         + (f" ({t.missed} 应达 {t.missed_target:g}%)" if t.missed and t.missed_target is not None else ""))
        for t in report.tasks])
    overdue = report.overdue
    if overdue:
        console.print(f"逾期任务 {len(overdue)} 项:")
        for task in overdue:
            console.print(f"  - {safe_text(task.title)} — 牵头: {safe_text('、'.join(name for _, name in task.lead))}; "
                          f"未达标系统: {', '.join(task.lagging) or '—'}")
    for late in report.late_migrations:
        console.print(f"逾期未上云: {late.system} ({safe_text(late.title)}), 计划 {late.planned}")
    if report.trend:
        print_table(f"趋势 (对比 {report.trend.get('since', '')})", ("指标", "此前", "现在", "变化"), [
            (METRIC_LABELS[m], _pct(v.get("before")), _pct(v.get("now")), _points(v.get("change")))
            for m, v in report.trend.get("shares", {}).items()])


def _pct(value: object) -> str:
    if not isinstance(value, int | float):
        return "—"
    return f"{value:.1f}%"


def _points(value: object) -> str:
    """A change between two shares: in percentage points (docs/kpi.md), as the HTML page writes it."""
    if not isinstance(value, int | float):
        return "—"
    return f"{'+' if value > 0 else ''}{value:.1f} 个百分点"


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)

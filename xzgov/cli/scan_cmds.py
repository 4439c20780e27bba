"""``xzgov scan``, ``xzgov scan merge`` and ``xzgov diff``: 等保 / 密评 compliance scans, signed reports,
sharded scans and their merge, report diffs.

Exit codes (``docs/compliance.md``): 0 nothing at or above ``--fail-on`` fails (waivers honoured);
1 unwaived findings at or above ``--fail-on`` (scan, merge), new failures or a report whose signature does
not verify (diff); 2 usage or input error (bad register, expired or malformed waiver, attestation
digest mismatch, unreadable inventory; a report that is not JSON, not a report, of a version this release
does not read or not what its version says; a part that does not verify or does not fit the others);
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from compliance.diff import diff_reports
from compliance.reports import (
    BUNDLE_NAME,
    DEFAULT_FORMATS,
    FILES,
    MERGED_REPLACES,
    PART_NAME,
    ReportFormat,
    check_output,
    formats,
    publish_reports,
    render,
    validate,
)
from compliance.reports.formats import ATTESTED_RULE
from compliance.results import ATTESTED_SEVERITY, ScanResult, pair_text, system_blocking, verdict_text
from compliance.scan.gather import MAX_HOST_TIMEOUT, MAX_WORKERS
from compliance.scan.shard import MAX_SHARDS, parse_shard, refuse_systems_in_a_shard, shard_number
from compliance.scanner import ScanOptions, scan
from policies.engine import Severity
from policies.registry import RULES
from xzgov.cli.crypto_common import SIGNING_KEY_ENV, load_signing_key, signing_key_path
from xzgov.cli.output import console, console_err, print_diagnostics, print_json, progress_bar
from xzgov.core.clock import day_option
from xzgov.core.errors import Diagnostic, ExitCode, UsageError
from xzgov.core.fsutil import check_outside_register
from xzgov.crypto import bundle, keys

#: the 0-based index a Kubernetes Indexed Job gives each pod (``--shard auto/N``)
JOB_INDEX_ENV = "JOB_COMPLETION_INDEX"


#: ``--format`` choices: the text summary table, or one of the report formats (one enum, ReportFormat).
TEXT = "text"
FORMAT_CHOICES = (TEXT, *(str(f) for f in ReportFormat))


def _check_formats(values: list[str] | None) -> list[str] | None:
    unknown = [value for value in values or [] if value not in FORMAT_CHOICES]
    if unknown:  # typer's usage error: exit 2
        raise typer.BadParameter(f"{', '.join(unknown)} (choose from {', '.join(FORMAT_CHOICES)})")
    return values


def _written_formats(chosen: list[str]) -> list[ReportFormat]:
    """With --out: the report formats to write (every one by default). ``text`` is the summary table, which a
    scan with --out prints anyway; asked for as a file it was dropped and every format written: refused."""
    if TEXT in chosen:
        raise UsageError("--format text is the summary printed on the terminal, not a report file", [Diagnostic(
            "<command line>", 0, 0, "--format", "text with --out",
            f"with --out give the report formats to write ({', '.join(str(f) for f in ReportFormat)}; default: "
            f"{', '.join(str(f) for f in DEFAULT_FORMATS)}): "
            "the summary is printed anyway", "usage")])
    return [ReportFormat(f) for f in chosen] or list(DEFAULT_FORMATS)


def _printed_format(chosen: list[str]) -> str:
    """Without --out: the one format printed (the summary table by default); a second was silently ignored, and
    the HTML report's summary page was printed with links to system and department pages no one wrote."""
    if len(chosen) > 1:
        raise UsageError(f"without --out one format is printed, not {len(chosen)}", [Diagnostic(
            "<command line>", 0, 0, "--format", f"{', '.join(chosen)} without --out",
            "give one --format, or --out DIR to write several report files", "usage")])
    if chosen == [str(ReportFormat.html)]:
        raise UsageError("the HTML report is a summary page and one page per system and department: it is written, "
                         "not printed", [Diagnostic(
                             "<command line>", 0, 0, "--format", "html without --out",
                             "write it with --out DIR --format html (the summary links to its pages there)", "usage")])
    return chosen[0] if chosen else TEXT


class DiffFormat(enum.StrEnum):
    text = "text"
    json = "json"


#: The count columns, each "等保 / 密评" (:meth:`compliance.results.SystemReport.summary_counts`).
SPLIT_COLUMNS = ("不符合 等保/密评", "部分 等保/密评", "出错 等保/密评", "待核查 等保/密评")


def _summary_table(result: ScanResult) -> Table:
    table = Table(title="等保 / 密评 合规扫描", show_lines=False)
    for column in ("系统", "部门", "等保", "等保结论", "密评结论", *SPLIT_COLUMNS, "阻断"):
        table.add_column(column)
    for system in result.systems:
        pairs = system.summary_counts()
        blocking = system_blocking(system, result.fail_on)
        table.add_row(system.name, system.department_name, str(system.level), verdict_text(system.dengbao),
                      verdict_text(system.miping), *(pair_text(pairs[key]) for key in ("fail", "partial", "error",
                                                                                     "pending")), str(blocking))
    return table


def scan_command(
    ctx: typer.Context,
    root: Annotated[Path, typer.Option("--root", help="Register root (region.yaml, systems/).")] = Path("."),
    plan: Annotated[bool, typer.Option("--plan", help="Also scan the stacks' offline plan (resource rules).")] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Also scan the inventory's hosts over SSH (host rules).")
    ] = False,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", help="Inventory directory (default: <root>/inventories).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the reports (and their bundle) here.")] = None,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="Exit 1 when an unwaived finding is at least this severe.")
    ] = Severity.HIGH,
    no_gate: Annotated[bool, typer.Option(
        "--no-gate", help="Exit 0 once the reports are written, whatever the findings (scheduled jobs: a night "
        "with findings is a good night; they are in the reports). Errors still exit 2 or 3.")] = False,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", callback=_check_formats,
                     help=f"With --out: report formats to write (repeatable; default every one but jsonl; the summary "
                          f"table is printed anyway). Without --out: the one format to print (text summary by "
                          f"default). One of: {', '.join(FORMAT_CHOICES)}."),
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", "-k", help=f"SM2 key signing the reports (default: ${SIGNING_KEY_ENV}).",
                                  dir_okay=False)
    ] = None,
    unsigned: Annotated[bool, typer.Option("--unsigned", help="Write reports without a signature.")] = False,
    system: Annotated[list[str] | None, typer.Option("--system", help="Scan only these systems.")] = None,
    host_timeout: Annotated[float, typer.Option("--host-timeout", help="Seconds per host (1 to 86400).", min=1,
                                                max=MAX_HOST_TIMEOUT)] = 90.0,
    workers: Annotated[int, typer.Option("--workers", help=f"Hosts scanned in parallel (1 to {MAX_WORKERS}: an "
                                         "ssh session each).", min=1, max=MAX_WORKERS)] = 8,
    ssh_user: Annotated[str | None, typer.Option("--ssh-user", help="SSH user (default: inventory)")] = None,
    ssh_key: Annotated[str | None, typer.Option("--ssh-key", help="SSH private key for the live scan.")] = None,
    list_rules: Annotated[bool, typer.Option("--list-rules", help="List the rules and exit.")] = False,
    kpi_since: Annotated[Path | None, typer.Option(
        "--kpi-since", help="An earlier signed report (directory or bundle): the HTML report's KPI page shows "
        "the trend since it (verified first, against --kpi-trusted-key).")] = None,
    kpi_trusted_key: Annotated[list[Path] | None, typer.Option(
        "--kpi-trusted-key", help="Public key the earlier report's signer must have (repeatable).")] = None,
    shard: Annotated[str | None, typer.Option(
        "--shard", help="Scan only shard K of N (K/N, 1 ≤ K ≤ N) and write a signed part for `xzgov scan merge` "
        "beside the reports (needs --out). auto/N: K = $JOB_COMPLETION_INDEX + 1 (a Kubernetes Indexed Job's "
        "0-based index).")] = None,
    shard_by: Annotated[str | None, typer.Option(
        "--shard-by", help="How --shard cuts the register: name (sorted names dealt round-robin; the default) or "
        "zone (zones dealt round-robin).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Judge every date as of this day (YYYY-MM-DD; default: $XZGOV_AS_OF, else today): "
        "assessment expiry, patch and review ages, waiver expiry, attestation lapse. The report records it.")] = None,
) -> int:
    """Scan every system against 等保 (GB/T 22239) and 密评 (GB/T 39786): score, report, sign.

    With --shard K/N only a deterministic part of the register is scanned and a signed part is written
    beside the reports; `xzgov scan merge PARTS… --out DIR --key KEY` verifies the parts and writes the
    report set of the whole register. Exit codes: 0 nothing at or above --fail-on fails (waivers
    honoured); 1 findings at or above --fail-on; 2 usage or input error (register, waivers, attestations,
    inventory).
    """
    if ctx.invoked_subcommand is not None:  # `xzgov scan merge …`: the subcommand does the work
        _refuse_options_before(ctx, ctx.invoked_subcommand)
        return int(ExitCode.OK)
    chosen = list(dict.fromkeys(formats or []))
    day = _as_of_day(as_of)
    if shard is None and shard_by is not None:  # a cut of nothing: the user meant a shard
        raise UsageError(f"--shard-by {shard_by} without --shard: it would be ignored", [Diagnostic(
            "<command line>", 0, 0, "--shard-by", "given without --shard",
            "add --shard K/N (or auto/N in an Indexed Job), or drop --shard-by", "usage")])
    cut = (parse_shard(shard_from_index(shard, os.environ), "name" if shard_by is None else shard_by)
           if shard is not None else None)
    refuse_systems_in_a_shard(cut, system or ())  # before the register is read
    if cut is not None and (out is None or unsigned):
        raise UsageError("--shard writes a signed part for `xzgov scan merge`: give --out and a key",
                         [Diagnostic("<command line>", 0, 0, "--shard", "without --out, or with --unsigned",
                                     "add --out DIR --key KEY (merge verifies every part's signature)", "usage")])
    if list_rules:
        if out is not None or chosen not in ([], [TEXT], [str(ReportFormat.json)]):
            raise UsageError("--list-rules prints the rules: as a table, or as JSON with --format json", [Diagnostic(
                "<command line>", 0, 0, "--list-rules", "with --out or another --format",
                "drop --out; give no --format, or --format json", "usage")])
        if ReportFormat.json in chosen:
            print_json([rule.to_json() for rule in RULES])
        else:
            table = Table(title="规则 rules")
            for column in ("id", "标题", "严重性", "条目", "检查点"):
                table.add_column(column)
            for rule in RULES:
                table.add_row(rule.id, rule.title, str(rule.severity), "\n".join(rule.controls),
                              ", ".join(str(p) for p in rule.points))
            console.print(table)
        return int(ExitCode.OK)
    signing = None
    selected = _written_formats(chosen) if out is not None else []  # a wrong option fails before the scan
    printed = _printed_format(chosen) if out is None else TEXT
    if out is not None:
        check_outside_register(out, root)  # reports among the manifests or waivers would break the register
        check_output(out)  # a wrong --out fails before minutes of scanning
    if out is not None and not unsigned:
        if signing_key_path(key) is None:
            unsigned_hint = "" if cut is not None else ", or pass --unsigned"  # a part is always signed
            raise UsageError(f"reports are signed: give --key (or set XZGOV_SIGNING_KEY){unsigned_hint}",
                             [Diagnostic("<command line>", 0, 0, "--key", "no signing key",
                                         "generate one with `xzgov keys generate`" + (
                                             " (a shard's part is always signed: merge verifies it)"
                                             if cut is not None else ""), "usage")])
        signing = load_signing_key(key)  # before the scan: a bad key fails fast
    earlier_kpi = None
    if kpi_since is not None:  # verified before minutes of scanning
        from xzgov.cli.kpi_cmds import earlier_kpi_of

        earlier_kpi = earlier_kpi_of(kpi_since, kpi_trusted_key or [], option="--kpi-since")
    with progress_bar("扫描 scanning", enabled=console_err.is_terminal) as progress:  # quiet when piped (CI)
        result = scan(ScanOptions(
            root=root, plan=plan, live=live, inventory=inventory, fail_on=fail_on, host_timeout=host_timeout,
            workers=workers, progress=progress, ssh_user=ssh_user, ssh_key=ssh_key,
            systems=tuple(system or ()), kpi_since=earlier_kpi, shard=cut, as_of=day,
        ))
    for warning in result.warnings:
        console_err.print(f"warning: {warning}", markup=False)
    if out is not None:
        extra = None
        if cut is not None:
            from compliance.merge import part_bytes

            extra = {PART_NAME: part_bytes(result, cut)}
        published = publish_reports(result, out, selected, signing, extra)
        written = published.reports
        if published.bundle is not None:
            console_err.print(f"signed {len(written)} report(s) into {published.bundle}", markup=False)
        else:
            console_err.print(f"wrote {len(written)} unsigned report(s) into {out}", markup=False)
        console.print(_summary_table(result))
    elif printed == TEXT:
        console.print(_summary_table(result))
    else:
        text, _ = render(result, ReportFormat(printed), companions=())  # printed alone: no report set
        typer.echo(text, nl=False)
    return _gate(result, gate=not no_gate)


def _refuse_options_before(ctx: typer.Context, subcommand: str) -> None:
    """Exit 2 when `xzgov scan`'s own options come before a subcommand (`xzgov scan --no-gate merge …`): they
    belong to the scan, which does not run, so they were dropped without a word (a `--no-gate` that did not
    apply, a `--root` or `--as-of` never read)."""
    sources = {param.opts[0]: ctx.get_parameter_source(param.name) for param in ctx.command.params if param.name}
    given = [name for name, source in sources.items() if source is not None and source.name == "COMMANDLINE"]
    if given:
        shown = ", ".join(given)
        raise UsageError(f"{shown} before `{subcommand}`: an option of `xzgov scan` itself, which does not run",
                         [Diagnostic("<command line>", 0, 0, given[0], f"given before `{subcommand}`",
                                     f"give the options after `{subcommand}` (`xzgov scan {subcommand} --help` "
                                     "lists those it takes)", "usage")])


def _as_of_day(value: str | None) -> dt.date | None:
    """``--as-of`` as a date (``None``: the scan's own day); a bad value is a usage error (exit 2)."""
    if value is None:
        return None
    return day_option(value, "--as-of")


def shard_from_index(text: str, environ: Mapping[str, str]) -> str:
    """``auto/N`` → ``K/N`` with ``K = JOB_COMPLETION_INDEX + 1`` (an Indexed Job's pods count from 0); any
    other text unchanged. A missing or non-numeric index is a located usage error (exit 2)."""
    head, slash, tail = text.partition("/")
    if head != "auto" or not slash:
        return text
    text_index = environ.get(JOB_INDEX_ENV, "")
    index = shard_number(text_index)
    shown = text_index if len(text_index) <= 20 else f"{text_index[:20]}…"
    if index is None:
        raise UsageError(f"--shard {text}: ${JOB_INDEX_ENV} is {shown!r}, not a 0-based index",
                         [Diagnostic("<environment>", 0, 0, JOB_INDEX_ENV, f"not set or not a number: {shown!r}",
                                     "run auto/N in an Indexed Job (completionMode: Indexed), or give --shard K/N",
                                     "usage")])
    count = shard_number(tail)
    if count is None or count < 1:  # said here, with the text given (parse_shard would quote "K/x")
        raise UsageError(f"--shard {text!r}: expected auto/N with N ≥ 1 shards", [Diagnostic(
            "<command line>", 0, 0, "--shard", f"not a number of shards: {tail[:20]!r}",
            "write e.g. --shard auto/5 (five shards; the Indexed Job's completions)", "usage")])
    if count <= MAX_SHARDS and index >= count:  # (more shards: parse_shard says so)
        raise UsageError(f"--shard {text}: ${JOB_INDEX_ENV}={shown} is beyond the {count} shard(s) (indices 0–"
                         f"{count - 1})", [Diagnostic(
                             "<environment>", 0, 0, JOB_INDEX_ENV, f"completion index {shown} ≥ N = {count}",
                             f"give the Indexed Job completions: {count} (one pod per shard), or --shard auto/M with "
                             "M the Job's completions", "usage")])
    return f"{index + 1}/{tail}"


def _gate(result: ScanResult, *, gate: bool = True) -> int:
    """Exit 1 (and name the first findings) when an unwaived finding is at or above the result's --fail-on;
    with ``gate`` false (``--no-gate``) the findings are named and the exit is 0."""
    fail_on = result.fail_on
    blocking = result.blocking()
    attested = result.attested_blocking()  # an assessor's 高风险 不符合 gates as a rule's high finding does
    if blocking or attested:
        outcome = "exit 1" if gate else "--no-gate: exit 0"
        console_err.print(f"{len(blocking) + len(attested)} unwaived finding(s) at or above {fail_on}: {outcome}",
                          markup=False)
        for system_report, finding in blocking[:20]:
            rr = finding.result
            where = rr.evidence[0].location if rr.evidence else system_report.source
            console_err.print(f"  {rr.rule_id} [{rr.severity}] {system_report.name}"
                              f"{' @' + rr.target if rr.point.value == 'host' else ''}: {rr.message} ({where})",
                              markup=False)
        for system_report, item in attested[:max(0, 20 - len(blocking))]:
            where = item.evidence[0].location if item.evidence else system_report.source
            console_err.print(f"  {ATTESTED_RULE} [{ATTESTED_SEVERITY}] {system_report.name}: {item.item_id} "
                              f"{item.state} 高风险 (记录 {item.attestation}) ({where})", markup=False)
        return int(ExitCode.FAILED) if gate else int(ExitCode.OK)
    return int(ExitCode.OK)


def merge_command(
    parts: Annotated[list[Path], typer.Argument(help="Each shard's --out directory (or its xzgov-bundle.json).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the merged report set (and its bundle) here.")],
    key: Annotated[
        Path | None, typer.Option("--key", "-k", help=f"SM2 key signing the reports (default: ${SIGNING_KEY_ENV}).",
                                  dir_okay=False)
    ] = None,
    trusted_key: Annotated[
        list[Path] | None, typer.Option("--trusted-key", help="Public key every part's signer must have "
                                        "(repeatable; default: the trust store $XZGOV_TRUSTED_KEYS).")
    ] = None,
    trusted_fingerprint: Annotated[
        list[str] | None, typer.Option("--trusted-fingerprint", help="Fingerprint every part's signer must have "
                                       "(repeatable).")
    ] = None,
    root: Annotated[Path | None, typer.Option(
        "--root", help="The register the shards scanned (default: the root the parts record); its digest must "
        "match theirs.")] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", callback=_check_formats,
                     help="Report formats to write (repeatable; default every one but jsonl)."),
    ] = None,
    kpi_since: Annotated[Path | None, typer.Option(
        "--kpi-since", help="An earlier signed report: the HTML report's KPI page shows the trend since it.")] = None,
    kpi_trusted_key: Annotated[list[Path] | None, typer.Option(
        "--kpi-trusted-key", help="Public key the earlier report's signer must have (repeatable).")] = None,
    max_age: Annotated[str | None, typer.Option(
        "--max-age", help="Refuse parts that finished longer ago than this (90m, 6h, 1d): a scheduled merge never "
        "re-signs the parts of an earlier run.")] = None,
    no_gate: Annotated[bool, typer.Option(
        "--no-gate", help="Exit 0 once the reports are written, whatever the findings (scheduled jobs: a night "
        "with findings is a good night; they are in the reports). Errors still exit 2 or 3.")] = False,
) -> int:
    """Merge the signed parts of a sharded scan (xzgov scan --shard K/N) into one signed report set.

    Every part's bundle is verified against the pinned keys; parts of different registers, catalogue or
    rule versions, overlapping or missing shards or systems are refused with the part and field named.
    The reports equal those of one scan of the whole register apart from the scan times; --max-age
    refuses parts older than a run. Exit codes: 0 nothing at or above the parts' --fail-on; 1 findings
    at or above it; 2 a part refused (stale parts too), usage error.
    """
    from compliance.merge import load_part, merge_parts, merge_register, parse_duration, require_one_scan, stale_parts

    chosen = _written_formats(list(dict.fromkeys(formats or [])))
    check_output(out)
    _refuse_part_as_output(out, parts)
    oldest = parse_duration(max_age) if max_age is not None else None
    if signing_key_path(key) is None:
        raise UsageError("the merged reports are signed: give --key (or set XZGOV_SIGNING_KEY)",
                         [Diagnostic("<command line>", 0, 0, "--key", "no signing key",
                                     "generate one with `xzgov keys generate`", "usage")])
    signing = load_signing_key(key)
    trusted = _pinned(trusted_key, trusted_fingerprint)
    earlier_kpi = None
    if kpi_since is not None:  # verified before the parts are read and the register reloaded (minutes at scale)
        from xzgov.cli.kpi_cmds import earlier_kpi_of

        earlier_kpi = earlier_kpi_of(kpi_since, kpi_trusted_key or [], option="--kpi-since")
    loaded = [load_part(path, trusted) for path in parts]
    stale = stale_parts(loaded, oldest, dt.datetime.now(dt.UTC)) if oldest is not None else []
    if stale:
        future = sum(1 for problem in stale if problem.message.startswith("from the future"))
        said = [f"{len(stale) - future} part(s) older than --max-age {max_age}"] if len(stale) > future else []
        said += [f"{future} part(s) finished after this machine's time"] if future else []
        raise UsageError("; ".join(said), stale)
    scan = require_one_scan(loaded)  # the parts against each other first: then the register against them
    register, register_root = merge_register(scan.parts, root)
    # as scan refuses it: reports among the manifests or waivers would break the register read here
    check_outside_register(out, root if root is not None else Path(register_root))
    result = merge_parts(scan, register, register_root, earlier_kpi)
    for warning in result.warnings:  # as `xzgov scan` prints them: a merged night's warnings reach its log too
        console_err.print(f"warning: {warning}", markup=False)
    published = publish_reports(result, out, chosen, signing, replaces=MERGED_REPLACES)
    console_err.print(f"merged {len(loaded)} part(s), {len(result.systems)} system(s); signed "
                      f"{len(published.reports)} report(s) into {published.bundle}", markup=False)
    console.print(_summary_table(result))
    return _gate(result, gate=not no_gate)


def unpack_command(
    snapshot_dir: Annotated[Path, typer.Argument(help="Directory holding the snapshot chunks (snapshot.NNNNN).")],
    to: Annotated[Path, typer.Option("--to", help="Empty directory to unpack the register into.")],
    sm3: Annotated[str, typer.Option("--sm3", help="SM3 (hex) of the chunks, as rendered into the Job.")],
) -> int:
    """Unpack the register snapshot the scanner's ConfigMaps carry (the scanner Job's init container).

    The chunks' SM3 must be the rendered one, every member a regular file at a plain relative path.
    Exit codes: 0 unpacked; 2 chunks missing or of another render, unsafe or malformed archive, target
    not empty.
    """
    from stacks.snapshot import unpack

    count = unpack(snapshot_dir, to, sm3)
    console_err.print(f"unpacked {count} file(s) into {to}", markup=False)
    return int(ExitCode.OK)


def _refuse_part_as_output(out: Path, parts: Sequence[Path]) -> None:
    """Exit 2 when ``--out`` is one of the parts, holds a shard's part or lies around one (a part in a folder
    below it, ``report-pages/`` too): the merged set would replace it."""
    target = out.resolve()
    if (out / PART_NAME).exists() or any((part if part.is_dir() else part.parent).resolve().is_relative_to(target)
                                         for part in parts):
        raise UsageError(f"--out {out} holds a scan part: the merged set would replace it",
                             [Diagnostic(str(out), 0, 0, "--out", f"{out} is a shard's part ({PART_NAME})",
                                         "write the merged set to a new directory, e.g. --out merged", "usage")])


def _pinned(trusted_key: Sequence[Path] | None, trusted_fingerprint: Sequence[str] | None) -> list[str] | None:
    """The fingerprints of ``--trusted-key`` and ``--trusted-fingerprint`` (a malformed one: exit 2); ``None``
    when neither is given (the trust store ``$XZGOV_TRUSTED_KEYS`` then decides)."""
    pinned = [bundle.normalise_fingerprint(fp, source="--trusted-fingerprint") for fp in trusted_fingerprint or []]
    pinned += [keys.fingerprint(keys.load_public_key(p)) for p in trusted_key or []]
    return pinned or None


def _report_and_bundle(path: Path) -> tuple[Path, Path]:
    """The report ``path`` names — a report file, or a scan's ``--out`` directory: its JSON report, else its
    JSON lines (``--format jsonl``) — and the bundle beside it. A report that is a symbolic link or no regular
    file is returned as it is: its bundle's verification refuses it (exit 1)."""
    if path.is_dir():
        candidates = [path / FILES[ReportFormat.json], path / FILES[ReportFormat.jsonl]]
        report = next((candidate for candidate in candidates if os.path.lexists(candidate)), candidates[0])
    else:
        report = path
    if not os.path.lexists(report):
        raise UsageError(f"no report at {path}", [Diagnostic(
            str(path), 0, 0, "", f"no {FILES[ReportFormat.json]} or {FILES[ReportFormat.jsonl]}",
            "pass a report file or the --out directory of a scan (`xzgov scan --out DIR --key KEY`; JSON lines with "
            "--format jsonl)", "unreadable")])
    signed = report.parent / BUNDLE_NAME
    if not signed.is_file():
        raise UsageError(f"{report} is not signed: no {BUNDLE_NAME} beside it",
                         [Diagnostic(str(signed), 0, 0, "", "missing bundle", "scan with --key", "unreadable")])
    return report, signed


#: What to do about a report file that is not JSON.
_NOT_JSON_HINT = ("the file is damaged or is not a report: use the compliance-report.json (or .jsonl) exactly as "
                  "`xzgov scan --out` wrote and signed it")


def _too_deep(report: Path) -> UsageError:
    return UsageError(f"{report}: JSON nested too deeply to be a report", [Diagnostic(
        str(report), 0, 0, "", "JSON 嵌套过深 / JSON nested too deeply (no report nests like this)", _NOT_JSON_HINT,
        "unreadable")])


def _load_report(report: Path, content: bytes) -> validate.CheckedReport:
    """The JSON report ``content`` (the verified bytes of ``report``; JSON lines when it ends in ``.jsonl``),
    checked to hold what its version says, with what the check read (:func:`compliance.reports.validate.
    read_report`): anything else is a located usage error (exit 2)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"cannot read compliance report {report}: {error}", [Diagnostic(
            str(report), 0, 0, "", f"cannot read compliance report: {error}", _NOT_JSON_HINT,
            "unreadable")]) from None
    try:
        loaded = formats.parse_lines(text) if report.suffix == ".jsonl" else json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{report} is not JSON: {error.msg} (line {error.lineno}, column {error.colno})", [Diagnostic(
            str(report), error.lineno, error.colno, "", f"不是 JSON / not JSON: {error.msg}", _NOT_JSON_HINT,
            "unreadable")]) from None
    except ValueError as error:  # JSON lines: the line is named
        raise UsageError(f"{report} is not JSON lines: {error}", [Diagnostic(
            str(report), 0, 0, "", f"不是 JSON lines / not JSON lines: {error}", _NOT_JSON_HINT,
            "unreadable")]) from None
    except RecursionError:
        raise _too_deep(report) from None
    try:
        return validate.read_report(loaded)
    except formats.ReportError as error:
        raise error.located(str(report)) from None
    except RecursionError:  # parsed, but nested deeper than the checks go
        raise _too_deep(report) from None


def diff_command(
    old: Annotated[Path, typer.Argument(help="Older report (compliance-report.json or .jsonl, or its directory).")],
    new: Annotated[Path, typer.Argument(help="Newer report (compliance-report.json or .jsonl, or its directory).")],
    trusted_key: Annotated[
        list[Path] | None, typer.Option("--trusted-key", help="Public key the signers must have (repeatable).")
    ] = None,
    trusted_fingerprint: Annotated[
        list[str] | None, typer.Option("--trusted-fingerprint", help="Fingerprint the signers must have.")
    ] = None,
    output: Annotated[DiffFormat, typer.Option("--format", help="Output format.")] = DiffFormat.text,
) -> int:
    """New failures and fixed items between two signed JSON reports (both signatures verified first).

    A waived item (accepted risk) is listed apart, never as fixed; one a waiver no longer covers (failing
    again) is listed apart from the new failures and, like them, gates. A report is a compliance-report.json,
    a compliance-report.jsonl (--format jsonl) or a scan's --out directory holding one; versions 1 to 9 are
    read. The signers must be trusted: --trusted-key / --trusted-fingerprint, or the trust store
    $XZGOV_TRUSTED_KEYS. Exit codes: 0 no new failure; 1 new failures, failures no longer waived, new blocking
    findings (unwaived, at or above the new report's --fail-on, also on items failing already) or a 等保 /
    密评 conclusion worse (or with new 高风险 items), or a report whose bundle does not verify; 2 usage or
    unreadable input (no report, not JSON, not a report, a version this xzgov does not read, a report that does
    not hold what its version says).
    """
    # a malformed fingerprint is a usage error (exit 2), as in `verify`, not a failed verification
    trusted = _pinned(trusted_key, trusted_fingerprint)
    data: list[validate.CheckedReport] = []
    for path in (old, new):
        report, signed = _report_and_bundle(path)
        # the bundle lies beside the report: its path there is the report's name (never resolved: a link is
        # refused by the verification, not followed); the report is read once, by the verification
        check = bundle.verify_bundle(signed, trusted, keep=[report.name])
        if not check.ok or report.name not in check.files:
            print_diagnostics(check.diagnostics())
            reason = "not listed in its bundle" if check.ok else "signature verification failed"
            console_err.print(f"FAILED: {report}: {reason}", markup=False)
            return int(ExitCode.FAILED)
        data.append(_load_report(report, check.content(report.name)))
    result = diff_reports(data[0], data[1])
    for warning in result.warnings:
        console_err.print(f"warning: {warning}", markup=False)
    if output is DiffFormat.json:
        print_json(result.to_json())
    else:
        # a waived item is accepted risk, not fixed; one a waiver no longer covers is listed once, as such
        ended = {(entry["system"], entry["item"]) for entry in result.no_longer_waived}
        for title, mark, entries in (
                ("新增不符合 new failures", "+",
                 [entry for entry in result.new_failures if (entry["system"], entry["item"]) not in ended]),
                ("豁免不再覆盖 no longer waived (failing again)", "!", result.no_longer_waived),
                ("已修复 fixed", "-", result.fixed),
                ("转为待人工核查 now pending (decided before, not known now)", "?", result.now_pending),
                ("已豁免 waived (accepted risk, not fixed)", "~", result.waived)):
            if entries or mark in "+-":
                console.print(f"{title}: {len(entries)}", markup=False)
            for entry in entries:
                waiver = f" ({entry['waiver']})" if entry.get("waiver") else ""
                console.print(f"  {mark} {entry['system']} {entry['item']} {entry['title']}: {entry['was']} → "
                              f"{entry['state']}{waiver}", markup=False)
        ended_findings = {(e["system"], e["rule"], e["point"], e["target"]) for e in result.no_longer_waived_findings}
        for title, mark, found in (
                ("新增阻断发现 new blocking findings", "+",
                 [e for e in result.blocking_findings
                  if (e["system"], e["rule"], e["point"], e["target"]) not in ended_findings]),
                ("发现豁免不再覆盖 findings no longer waived", "!", result.no_longer_waived_findings)):
            if found:
                console.print(f"{title}: {len(found)}", markup=False)
            for entry in found:
                waiver = f" ({entry['waiver']})" if entry.get("waiver") else ""
                console.print(f"  {mark} {entry['system']} {entry['rule']} [{entry['severity']}] {entry['target']}: "
                              f"{entry['message']}{waiver}", markup=False)
        if result.verdicts_worse:
            console.print(f"结论变差 conclusions worse: {len(result.verdicts_worse)}", markup=False)
        for entry in result.verdicts_worse:
            added = f" (新增高风险 {', '.join(entry['high_risk_added'])})" if entry["high_risk_added"] else ""
            console.print(f"  ! {entry['system']} {entry['standard']}: {_verdict_words(entry['was'])} → "
                          f"{_verdict_words(entry['now'])}{added}", markup=False)
        for label, names in (("systems added", result.systems_added), ("systems removed", result.systems_removed)):
            if names:
                console.print(f"{label}: {', '.join(names)}", markup=False)
    return int(ExitCode.FAILED if result.gates else ExitCode.OK)


def _verdict_words(verdict: Any) -> str:
    """A conclusion as a diff line shows it: the verdict, or its range (worst–best) while items are untested."""
    return "–".join(str(v) for v in verdict) if isinstance(verdict, list) else str(verdict or "—")


def register(app: typer.Typer) -> None:
    """Add ``scan`` (with its subcommand ``merge``) and ``diff`` to ``app``."""
    scan_app = typer.Typer(invoke_without_command=True, pretty_exceptions_enable=False, add_completion=False)
    scan_app.callback()(scan_command)
    scan_app.command("merge")(merge_command)
    scan_app.command("unpack")(unpack_command)
    app.add_typer(scan_app, name="scan")
    app.command("diff")(diff_command)

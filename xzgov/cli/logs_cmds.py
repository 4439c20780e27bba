"""``xzgov logs verify`` and ``xzgov logs status``: the log centre's signed hash chains and silent sources.

Exit codes: 0 every chain verifies (verify) / no source is silent (status); 1 tampering, loss or a
bad seal found (verify) / a silent source (status); 2 unreadable directory or key, usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xzgov.cli.crypto_common import FormatOption, OutputFormat, load_any_public
from xzgov.cli.output import console, print_json, print_table, progress_bar, safe_text
from xzgov.core.errors import Diagnostic, ExitCode, UsageError

TRUSTED_KEY_ENV = "XZGOV_LOGCENTRE_KEY"

logs_app = typer.Typer(
    name="logs",
    help="Log centre (集中审计): verify the signed daily hash chains, show silent sources.",
    no_args_is_help=True,
    add_completion=False,
)


def _directory(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: no such directory",
                         [Diagnostic(str(path), 0, 0, "DIR", "does not exist",
                                     "give the log centre's storage directory (default /var/log/xzgov-centre) "
                                     "or a copy of it", code="unreadable")])
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory",
                         [Diagnostic(str(path), 0, 0, "DIR", "is not a directory",
                                     "give the directory that holds one sub-directory per source host",
                                     code="unreadable")])
    return path


@logs_app.command("verify")
def verify(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Storage directory of the log centre "
                                              "(one sub-directory per source) or one source's directory.")],
    trusted_key: Annotated[
        list[Path] | None,
        typer.Option("--trusted-key", help=f"Public (or private) SM2 key of the log centre, repeatable "
                     f"(default: ${TRUSTED_KEY_ENV}).", envvar=TRUSTED_KEY_ENV),
    ] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Verify the log centre's daily SM3 hash chains and their SM2 signatures; report the first break.

    Reports, per source host: a modified, deleted, inserted, reordered or truncated line (file and
    line of the first break), a missing day, a deleted log, a broken link between days, a seal that
    is unsigned, altered or signed by another key. Days not yet sealed are listed as open.
    """
    from xzgov.logchain import verify_tree

    root = _directory(directory)
    if not trusted_key:
        raise UsageError("no trusted log-centre key: give --trusted-key PUB (the public key the log centre "
                         f"signs with) or set {TRUSTED_KEY_ENV}")
    public_keys = [load_any_public(path)[1] for path in trusted_key]
    with progress_bar("verifying", enabled=output is OutputFormat.text) as progress:
        report = verify_tree(root, public_keys, sources=source or (), progress=progress)
    if not report.sources:
        raise UsageError(f"{root}: no source directory found" + (f" named {', '.join(source)}" if source else ""))
    if output is OutputFormat.json:
        print_json(report.to_json())
        return int(ExitCode.OK if report.ok else ExitCode.FAILED)
    rows = []
    for item in report.sources:
        first = item.first_break
        where = f"{first.file}:{first.line}" if first and first.line else (first.file if first else "")
        rows.append([item.source, "OK" if item.ok else "FAILED", str(item.sealed_days), str(item.verified_days),
                     str(item.pruned_days), item.last_sealed, ", ".join(item.open_days),
                     f"{first.kind}: {where}" if first else ""])
    print_table("日志哈希链校验 (log chain verification)",
                ["source", "result", "sealed", "verified", "pruned", "last sealed", "open", "first break"],
                rows, justify_right=(2, 3, 4))
    for finding in report.findings:
        if finding.severity != "error":
            continue
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        console.print(safe_text(f"{where}: error [{finding.source} {finding.date}] {finding.kind}: "
                                f"{finding.message}"), markup=False)
        if finding.hint:
            console.print(safe_text(f"    hint: {finding.hint}"), markup=False)
    errors = sum(source.errors for source in report.sources)
    if report.ok:
        console.print(f"OK: {len(report.sources)} source(s), {report.bytes} bytes verified", markup=False)
        return int(ExitCode.OK)
    console.print(f"FAILED: {errors} problem(s) in "
                  f"{sum(1 for s in report.sources if not s.ok)} of {len(report.sources)} source(s)", markup=False)
    return int(ExitCode.FAILED)


@logs_app.command("status")
def status(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Storage directory of the log centre.")] =
    Path("/var/log/xzgov-centre"),
    silent_minutes: Annotated[float, typer.Option("--silent-minutes", min=0.0,
                                                  help="A source that wrote nothing for this long is silent.")] = 30.0,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Sources of the log centre: last message, last sealed day, and which have gone silent.

    Exit code 1 when a source is silent (its forwarding stopped, its certificate was revoked, or the
    host is down), 0 otherwise.
    """
    from xzgov.logchain import source_statuses

    statuses = source_statuses(_directory(directory), silent_minutes=silent_minutes)
    silent = [s for s in statuses if s.silent]
    if output is OutputFormat.json:
        print_json({"root": str(directory), "silent_minutes": silent_minutes,
                    "sources": [s.to_json() for s in statuses], "silent": [s.source for s in silent]})
    else:
        print_table("日志源状态 (log sources)",
                    ["source", "state", "last seen (UTC)", "minutes since", "last day", "bytes", "last sealed",
                     "days kept"],
                    [[s.source, "静默 SILENT" if s.silent else "ok", s.last_seen,
                      "" if s.minutes_since is None else f"{s.minutes_since:.1f}", s.last_day, str(s.bytes_last_day),
                      s.last_sealed, str(s.days_kept)] for s in statuses],
                    justify_right=(3, 5, 7))
        console.print(f"{len(statuses)} source(s), {len(silent)} silent (> {silent_minutes:g} min)", markup=False)
    return int(ExitCode.FAILED if silent else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add ``logs`` to ``app``."""
    app.add_typer(logs_app, name="logs")

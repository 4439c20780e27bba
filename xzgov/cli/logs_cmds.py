"""``xzgov logs verify`` and ``xzgov logs status``: the log centre's signed hash chains and silent sources.

Exit codes: 0 every chain verifies (verify) / no source is silent (status); 1 tampering, loss or a
bad seal found (verify) / a silent source (status); 2 unreadable directory or key, usage error.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from xzgov.cli.crypto_common import FormatOption, OutputFormat, from_variable, load_any_public
from xzgov.cli.output import console, console_err, print_json, print_table, progress_bar, safe_text
from xzgov.core.clock import day_option
from xzgov.core.errors import Diagnostic, ExitCode, UsageError

if TYPE_CHECKING:
    from xzgov.logchain.chain import ChainStart

TRUSTED_KEY_ENV = "XZGOV_LOGCENTRE_KEY"

logs_app = typer.Typer(
    name="logs",
    help="Log centre (集中审计): verify the signed daily hash chains, show silent sources.",
    no_args_is_help=True,
    add_completion=False,
)


def _directory(path: Path) -> Path:
    if not path.exists():
        dangling = path.is_symlink()  # a link to nothing, or a loop of links: it exists, its target does not
        raise UsageError(f"{path}: {'a symbolic link that leads to no directory' if dangling else 'no such directory'}",
                         [Diagnostic(str(path), 0, 0, "DIR",
                                     f"is a symbolic link to {os.readlink(path)}, which leads to no directory (a "
                                     "missing target or a loop of links)" if dangling else "does not exist",
                                     "give the log centre's storage directory (default /var/log/xzgov-centre) "
                                     "or a copy of it", code="unreadable")])
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory",
                         [Diagnostic(str(path), 0, 0, "DIR", "is not a directory",
                                     "give the directory that holds one sub-directory per source host",
                                     code="unreadable")])
    return path


def _usage(option: str, value: str, problem: str, fix: str) -> UsageError:
    return UsageError(f"{option} {value!r}: {problem}",
                      [Diagnostic("<command line>", 0, 0, option, f"{value!r}: {problem}", fix, code="usage")])


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    return day_option(value, "--as-of")


def _chain_starts(values: list[str]) -> dict[str, ChainStart]:
    from xzgov.logchain.chain import DIGEST, ChainStart

    starts: dict[str, ChainStart] = {}
    for value in values:
        name, _, rest = value.partition("=")
        date, _, prev = rest.partition(":")
        try:
            day, head = dt.date.fromisoformat(date).isoformat(), bytes.fromhex(prev)
        except ValueError:
            day, head = "", b""
        if not name or len(head) != DIGEST or not day:
            raise _usage("--chain-start", value, "is not SOURCE=YYYY-MM-DD:PREV (PREV: 64 hex digits, the prev of "
                         "that day's seal)", "copy the date and prev of the first seal kept from the archive record")
        starts[name] = ChainStart(day, head)
    return starts


def _expected(names: list[str], files: list[Path]) -> list[str]:
    expected = list(names)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{path}: {error}", [Diagnostic(str(path), 0, 0, "--expect-sources", str(error),
                                                             "one source name per line", code="unreadable")]) from None
        expected += [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]
    return expected


@logs_app.command("verify")
def verify(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Storage directory of the log centre "
                                              "(one sub-directory per source) or one source's directory.")],
    trusted_key: Annotated[
        list[Path] | None,
        typer.Option("--trusted-key", help=f"Public (or private) SM2 key of the log centre, repeatable "
                     f"(default: the files ${TRUSTED_KEY_ENV} names, separated by spaces)."),
    ] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Verify as of this day (YYYY-MM-DD): the chains must reach the day before (see "
        "--max-unsealed-days). Default: now, local time (before 03:00 the day before yesterday suffices).")] = None,
    max_unsealed_days: Annotated[int, typer.Option(
        "--max-unsealed-days", min=0, help="Days at the end that may be unsealed (1: yesterday must be sealed).")] = 1,
    retention_days: Annotated[int | None, typer.Option(
        "--retention-days", min=0, help="A day's log may be missing (pruned) only when older than this. Default: "
        "the retention recorded in the signed sources manifest, else 180.")] = None,
    expect_source: Annotated[list[str] | None, typer.Option(
        "--expect-source", help="A source that must be there (repeatable; added to the signed manifest's).")] = None,
    expect_sources: Annotated[list[Path] | None, typer.Option(
        "--expect-sources", help="File of sources that must be there, one name per line (repeatable).")] = None,
    chain_start: Annotated[list[str] | None, typer.Option(
        "--chain-start", help="SOURCE=YYYY-MM-DD:PREV: the source's chain starts at this seal (its earlier seals "
        "archived); otherwise the first seal must start from the genesis (prev 0).")] = None,
    key_record: Annotated[Path | None, typer.Option(
        "--key-record", help="Key-rotation record (default: DIR/keys.json when present): each key is trusted for "
        "its period only.")] = None,
    single_source: Annotated[bool, typer.Option(
        "--single-source", help="DIR is one source's directory, not the tree of sources.")] = False,
    no_manifest: Annotated[bool, typer.Option(
        "--no-manifest", help="Do not require the signed sources manifest (a tree sealed before it existed; "
        "then name the sources with --expect-source).")] = False,
    output: FormatOption = OutputFormat.text,
) -> int:
    """Verify the log centre's daily SM3 hash chains and their SM2 signatures; report the first break.

    Reports, per source host: a modified, deleted, inserted, reordered or truncated line (file and
    line of the first break), a missing day, a deleted log, a broken link between days, a seal that
    is unsigned, altered or signed by another key or by a key outside its period, deleted seals at the
    end (the chain must reach yesterday), deleted first days (the chain must start from the genesis),
    a deleted source (signed sources manifest), a day file at the root of the tree. Days not yet due
    are listed as open.

    Exit codes: 0 every chain verifies, 1 tampering, loss or a bad seal found, 2 unreadable directory or key, or
    usage error.
    """
    from xzgov.logchain import verify_tree
    from xzgov.logchain.trust import OverlappingKeysError

    root = _directory(directory)
    given = bool(trusted_key)
    # read here, not by click: a file the variable names that cannot be read is blamed on the variable
    trusted_key = trusted_key or [Path(name) for name in os.environ.get(TRUSTED_KEY_ENV, "").split()]
    if not trusted_key:
        raise UsageError("no trusted log-centre key: give --trusted-key PUB (the public key the log centre "
                         f"signs with) or set {TRUSTED_KEY_ENV}")
    public_keys = [load_any_public(path)[1] for path in trusted_key] if given else [
        from_variable(TRUSTED_KEY_ENV, path, lambda p: load_any_public(p)[1],
                      f"point {TRUSTED_KEY_ENV} at the log centre's public key, or give --trusted-key")
        for path in trusted_key]
    day = _as_of(as_of)
    starts = _chain_starts(chain_start or [])
    expected = _expected(expect_source or [], expect_sources or [])
    if key_record is not None and not key_record.is_file():
        raise UsageError(f"{key_record}: no such key-rotation record",
                         [Diagnostic(str(key_record), 0, 0, "--key-record", "not a file",
                                     "give the keys.json the sealer writes at the root of the tree",
                                     code="unreadable")])
    try:
        with progress_bar("verifying", enabled=output is OutputFormat.text) as progress:
            report = verify_tree(root, public_keys, sources=source or (), progress=progress, as_of=day,
                                 max_unsealed_days=max_unsealed_days, retention_days=retention_days,
                                 single_source=single_source, expected_sources=expected, chain_starts=starts,
                                 key_record=key_record, require_manifest=not no_manifest)
    except OverlappingKeysError as error:  # two trusted keys valid on the same days
        raise UsageError(str(error), [Diagnostic("<command line>", 0, 0, "--trusted-key", str(error),
                                                 "pin only the current key; earlier keys come from the rotation "
                                                 "record with their periods", code="usage")]) from None
    if not report.sources:
        looks_single = not single_source and any(
            p.is_file() and p.name.endswith((".log", ".seal")) for p in root.iterdir())
        raise UsageError(f"{root}: no source directory found" + (f" named {', '.join(source)}" if source else "")
                         + ("; it holds day files: to verify one source's directory pass --single-source"
                            if looks_single else ""))
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
        console.print(safe_text(f"{where}: error [{finding.source or '(tree)'} {finding.date}] {finding.kind}: "
                                f"{finding.message}"), markup=False)
        if finding.hint:
            console.print(safe_text(f"    hint: {finding.hint}"), markup=False)
    if report.ok:
        console.print(f"OK: {len(report.sources)} source(s), {report.bytes} bytes verified", markup=False)
        return int(ExitCode.OK)
    tree_errors = sum(1 for f in report.tree if f.severity == "error")
    console.print(f"FAILED: {report.errors - tree_errors} problem(s) in "
                  f"{sum(1 for s in report.sources if not s.ok)} of {len(report.sources)} source(s)"
                  + (f" and {tree_errors} in the tree" if tree_errors else ""), markup=False)
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

    Exit codes: 1 when a source is silent (its forwarding stopped, its certificate was revoked, or the
    host is down) or a symbolic link stands where a source would (never followed: `logs verify` refuses
    it too), 2 when DIR holds no source at all (a wrong or unmounted directory is not "all quiet"),
    0 otherwise.
    """
    from xzgov.logchain import source_statuses
    from xzgov.logchain.chain import no_sources_error
    from xzgov.logchain.status import linked_sources

    root = _directory(directory)
    statuses = source_statuses(root, silent_minutes=silent_minutes)
    linked = linked_sources(root)
    if not statuses and not linked:
        raise no_sources_error(root, verifying=False)
    silent = [s for s in statuses if s.silent]
    if output is OutputFormat.json:
        print_json({"root": str(directory), "silent_minutes": silent_minutes,
                    "sources": [s.to_json() for s in statuses], "silent": [s.source for s in silent],
                    "linked": [link.to_json() for link in linked]})
    else:
        for link in linked:
            console_err.print(safe_text(f"warning: {link.message()}"), markup=False)
        print_table("日志源状态 (log sources)",
                    ["source", "state", "last seen (UTC)", "minutes since", "last day", "bytes", "last sealed",
                     "days kept"],
                    [[s.source, "静默 SILENT" if s.silent else "ok", s.last_seen,
                      "" if s.minutes_since is None else f"{s.minutes_since:.1f}", s.last_day, str(s.bytes_last_day),
                      s.last_sealed, str(s.days_kept)] for s in statuses],
                    justify_right=(3, 5, 7))
        console.print(f"{len(statuses)} source(s), {len(silent)} silent (> {silent_minutes:g} min)", markup=False)
    return int(ExitCode.FAILED if silent or linked else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add ``logs`` to ``app``."""
    app.add_typer(logs_app, name="logs")

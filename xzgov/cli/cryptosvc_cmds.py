"""``xzgov cryptosvc``: the crypto service (统一密码服务平台) — verify its audit chain, set it up, package it, serve it.

Exit codes: 0 ok (chain intact); 1 the chain is broken (the report names the line); 2 usage or
unreadable input (missing log or key file, existing configuration).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from xzgov.cli.crypto_common import FormatOption, OutputFormat, load_any_public
from xzgov.cli.output import console, print_json, safe_text, write_stdout
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, output_error
from xzgov.core.fsutil import atomic_write

if TYPE_CHECKING:
    from xzgov.cryptosvc.audit import Anchor


def _read_anchor(path: Path) -> Anchor | None:
    """The anchor an earlier ``audit-verify --anchor`` wrote (``None`` before the first run); anything else in
    the file is a usage error naming it: a bad anchor must not pass as no anchor."""
    from xzgov.cryptosvc.audit import Anchor

    if not path.exists():
        return None
    try:
        return Anchor.from_json(json.loads(path.read_bytes()))
    except (OSError, ValueError, RecursionError) as error:
        raise UsageError(f"{path}: not an audit anchor", [Diagnostic(
            str(path), 0, 0, "--anchor", f"unreadable, not JSON or not an anchor ({error})",
            "give the file an earlier `audit-verify --anchor` wrote, or a new path to start one", "anchor")]) from None


cryptosvc_app = typer.Typer(
    help="Crypto service (统一密码服务平台): verify the audit chain, write a configuration, package, serve.",
    no_args_is_help=True,
)


@cryptosvc_app.command("audit-verify")
def audit_verify(
    log: Annotated[Path, typer.Argument(help="The service's audit log (audit.jsonl).", dir_okay=False)],
    trusted_key: Annotated[list[Path], typer.Option("--trusted-key", help="Public key of the service's audit "
                                                    "signing key (repeatable).")],
    output: FormatOption = OutputFormat.text,
    allow_unsigned: Annotated[bool, typer.Option(
        "--allow-unsigned", help="Check only the links of a log without a signed checkpoint (written by a service "
        "older than this release); without it such a log is broken.")] = False,
    anchor_file: Annotated[Path | None, typer.Option(
        "--anchor", help="How far this log verified before (JSON; created on the first run, moved forward on each "
        "that verifies): a log that ends before it or differs at it is broken. Keep it where the service cannot "
        "write (the monitoring host).", dir_okay=False)] = None,
) -> int:
    """Verify an audit chain: every SM3 link and every SM2-signed checkpoint; name the first broken line.

    Exit codes: 0 the chain is intact (and reaches --anchor), 1 broken, cut back or rewritten (the report names
    the line), 2 unreadable log, key or anchor, or usage error.
    """
    from xzgov.cryptosvc.audit import verify_chain

    if not log.is_file():
        raise UsageError(f"{log}: no such audit log", [Diagnostic(str(log), 0, 0, "LOG", "not a readable file",
                                                                   code="missing")])
    trusted = [load_any_public(path)[1] for path in trusted_key]
    anchor = _read_anchor(anchor_file) if anchor_file is not None else None
    try:
        report = verify_chain(log, trusted, allow_unsigned, anchor)
    except OSError as error:
        raise UsageError(f"{log}: {error.strerror}") from error
    moved = ""
    if anchor_file is not None and report.ok and report.reached is not None:
        try:
            atomic_write(anchor_file, (json.dumps(report.reached.to_json(), sort_keys=True) + "\n").encode(),
                         mode=0o600)
        except OSError as error:
            raise output_error(anchor_file, error, field="--anchor") from None
        moved = (f"anchor: seq {anchor.seq} → {report.reached.seq}" if anchor is not None
                 else f"anchor: created at seq {report.reached.seq}")
    if output is OutputFormat.json:
        print_json(report.to_json())
    elif report.ok:
        console.print(f"OK: {safe_text(str(log))}: {report.records} records, {report.checkpoints} signed "
                      f"checkpoints, last signed seq {report.last_signed_seq}")
        if moved:
            console.print(f"{moved} ({safe_text(str(anchor_file))})")
        for warning in report.warnings:
            console.print(f"warning: {warning}")
    else:
        console.print(f"BROKEN: {safe_text(str(log))} line {report.break_line} (seq {report.break_seq}): "
                      f"{report.problem}; {report.records} records before it verify")
    return int(ExitCode.OK if report.ok else ExitCode.FAILED)


@cryptosvc_app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write config.yml and its secret files (0600).")],
    state_dir: Annotated[Path, typer.Option("--state-dir", help="Key store and audit log directory.")],
    system: Annotated[list[str], typer.Option("--system", help="NAME or NAME:admin (repeatable).")],
) -> int:
    """Write a fresh configuration: master key, audit signing key, systems file with HMAC-SM3 keys.

    Exit codes: 0 written, 2 usage error (an existing configuration, a missing folder), 3 the machine failed
    (nothing written).
    """
    from xzgov.cryptosvc.setup import parse_system_options, write_service_files

    systems = parse_system_options(system)  # names and roles checked, each name once, before anything is written
    write_service_files(directory, state_dir, systems)  # refuses (exit 2) when any of its files exists
    console.print(f"wrote {safe_text(str(directory))}/config.yml; per-system HMAC keys are in systems.yml (0600)")
    return int(ExitCode.OK)


@cryptosvc_app.command("openapi")
def openapi() -> int:
    """Print the service's OpenAPI description (JSON); no configuration needed.

    Exit codes: 0 printed or written, 2 usage error, 3 the machine failed.
    """
    import json
    import tempfile

    from xzgov.crypto import sm2
    from xzgov.cryptosvc.app import create_app
    from xzgov.cryptosvc.config import ServiceConfig

    with tempfile.TemporaryDirectory() as tmp:  # an empty key store, never served
        document = create_app(ServiceConfig(Path(tmp), bytes(16), sm2.SM2PrivateKey(1), {})).openapi()
    write_stdout(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return int(ExitCode.OK)


@cryptosvc_app.command("wheelhouse")
def wheelhouse(
    directory: Annotated[Path, typer.Argument(help="Where to collect the wheels (created if missing).",
                                              file_okay=False)],
    source: Annotated[Path, typer.Option("--source", help="The xzgov source tree to build the wheel from.")] = Path(),
) -> int:
    """Collect the offline wheelhouse the crypto_service role installs: xzgov plus the service's own dependencies.

    Exit codes: 0 written, 2 usage error, 3 the machine failed (nothing written).
    """
    from xzgov.cryptosvc.wheelhouse import WheelhouseError, build_wheelhouse

    if not (source / "pyproject.toml").is_file():
        raise UsageError(f"{source}: not an xzgov source tree (no pyproject.toml)",
                         [Diagnostic(str(source), 0, 0, "--source", "no pyproject.toml here",
                                     hint="pass --source with the repository's root directory", code="missing")])
    try:
        wheels = build_wheelhouse(directory, source)
    except WheelhouseError as error:
        raise UsageError(str(error)) from error
    console.print(f"wrote {len(wheels)} wheels and requirements.txt to {safe_text(str(directory))}")
    return int(ExitCode.OK)


@cryptosvc_app.command("serve")
def serve(
    config: Annotated[Path, typer.Option("--config", help="The service configuration (config.yml).")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8443,
    ssl_certfile: Annotated[str | None, typer.Option("--ssl-certfile")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option("--ssl-keyfile")] = None,
) -> int:
    """Serve the crypto service with uvicorn (same as python -m xzgov.cryptosvc).

    Exit codes: 0 stopped cleanly, 2 a configuration or key that does not load, or usage error, 3 the machine
    failed (e.g. the audit log cannot be written).
    """
    import signal

    from xzgov.cryptosvc.__main__ import main, serve_options_problem

    problem = serve_options_problem(port, ssl_certfile, ssl_keyfile)
    if problem:
        raise UsageError(problem)

    # a server stops on SIGTERM by its own shutdown (uvicorn drains, then raises the signal again): the default
    # disposition then ends it as `python -m xzgov.cryptosvc` ends, a clean stop for systemd, not the command
    # line's "terminated before it finished" (exit 143)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    argv = ["--config", str(config), "--host", host, "--port", str(port)]
    if ssl_certfile and ssl_keyfile:  # both or neither (serve_options_problem)
        argv += ["--ssl-certfile", ssl_certfile, "--ssl-keyfile", ssl_keyfile]
    return main(argv)


def register(app: typer.Typer) -> None:
    """Add ``cryptosvc`` to ``app``."""
    app.add_typer(cryptosvc_app, name="cryptosvc")

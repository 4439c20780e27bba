"""Entry point of the ``xzgov`` console script.

Command groups live in their own modules; each exposes ``register(app)`` and is imported only when
one of its commands runs (:data:`COMMANDS`). :func:`run` is the only
place that turns exceptions into exit codes, so every command shares the documented codes and no
traceback reaches a user (set ``XZGOV_DEBUG=1`` to see one while developing).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
import typer.core
import typer.main
from rich.text import Text

from xzgov.cli.output import console_err, print_diagnostics, visible_text
from xzgov.core.errors import (
    ExitCode,
    HungUp,
    Terminated,
    XzgovError,
    defer_interrupt,
    is_committed,
    reset_committed,
)

#: The exit code of an interrupted command (Ctrl-C, SIGINT: the shell's 128 + 2), and the one line it prints.
INTERRUPTED = 130
INTERRUPTED_MESSAGE = "interrupted (Ctrl-C): the command stopped before it finished"
TERMINATED = 143
TERMINATED_MESSAGE = "terminated (SIGTERM): the command stopped before it finished"
HUNG_UP = 129
HUNG_UP_MESSAGE = "hung up (SIGHUP: the terminal or session closed): the command stopped before it finished"

#: Top-level command → (module that registers it, one-line help), in help order. ``xzgov --help`` lists
#: this table without importing any command module (they pull in Pulumi, Ansible, the catalogues); a
#: command's module is imported only when that command runs. ``tests/cli`` keeps the help text equal to
#: each command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("xzgov.cli.register_cmds", "Validate manifests against the schema and the whole register; report "
                 "every error."),
    "onboard": ("xzgov.cli.register_cmds", "Validate a manifest against the register, file it under "
                "systems/<department>/<name>.yaml and regenerate the inventories - all or nothing."),
    "inventory": ("xzgov.cli.register_cmds", "Write the Ansible inventory of every site under "
                  "inventories/<site>/hosts.yml."),
    "register": ("xzgov.cli.register_cmds", "Summarise the register: systems by department, tier, zone, level and "
                 "site."),
    "sign": ("xzgov.cli.sign_cmds", "Write a detached signed bundle: SM3 of every file, signed with SM2 (see "
             "docs/crypto.md)."),
    "verify": ("xzgov.cli.sign_cmds", "Verify a bundle: signature, trusted signer, and every file (missing / "
               "added / changed)."),
    "scan": ("xzgov.cli.scan_cmds", "Scan every system against 等保 (GB/T 22239) and 密评 (GB/T 39786): score, "
             "report, sign."),
    "kpi": ("xzgov.cli.kpi_cmds", "Programme KPIs (三年行动指标): per department and tier, against the plan's targets "
            "and deadlines."),
    "attest": ("xzgov.cli.attest_cmds", "Worksheets (核查表) of the items no rule decides, and SM2-signed "
               "attestation sets."),
    "diff": ("xzgov.cli.scan_cmds", "New failures and fixed items between two signed JSON reports (both "
             "signatures verified first)."),
    "plan": ("xzgov.cli.plan_cmds", "Plan the stacks offline: what each site would create, per system (counts by "
             "kind)."),
    "dr": ("xzgov.cli.dr_cmds", "Disaster recovery (灾备): declare a site lost, render the DR-site restores and "
           "tenancies, fail back."),
    "keys": ("xzgov.cli.keys_cmds", "SM2 key pairs: generate, show, fingerprint."),
    "vault": ("xzgov.cli.vault_cmds", "SM4-GCM vaulted YAML values (the SM4 counterpart of ansible-vault)."),
    "cryptosvc": ("xzgov.cli.cryptosvc_cmds", "Crypto service (统一密码服务平台): verify the audit chain, write a "
                  "configuration, package, serve."),
    "logs": ("xzgov.cli.logs_cmds", "Log centre (集中审计): verify the signed daily hash chains, show silent "
             "sources."),
    "standards": ("xzgov.cli.standards_cmds", "等保 (GB/T 22239-2019 / GB/T 28448-2019) 与 密评 (GB/T 39786-2021) "
                  "catalogues."),
}


def load_command(name: str) -> Any:
    """The click command ``name``, built from the module that registers it (imported now, not before)."""
    module_name, _ = COMMANDS[name]
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    importlib.import_module(module_name).register(app)
    from xzgov.cli.helptext import reflow_help  # (with the command's module: `xzgov --help` imports neither)

    built = reflow_help(typer.main.get_command(app))
    if isinstance(built, typer.core.TyperGroup):
        command = built.commands.get(name)
        if command is None:  # pragma: no cover - guarded by tests/cli
            raise RuntimeError(f"{module_name} does not register the command {name!r}")
        return command
    return built  # typer collapses an app of one command into that command


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) while the command line was read or a command ran. Typer turns a
    :class:`KeyboardInterrupt` into a silent ``Exit(130)`` and a prompt turns it into ``Abort`` ("aborted",
    exit 2), so :class:`LazyCommands` carries it past both as this and :func:`_dispatch` reports it."""


@contextmanager
def _interrupts() -> Iterator[None]:
    """Raise :class:`Interrupted` for Ctrl-C, also when a prompt (a passphrase) turned it into ``Abort``."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        raise Interrupted from interrupt
    except typer.Abort as abort:
        if isinstance(abort.__context__, KeyboardInterrupt):
            raise Interrupted from abort
        raise


class LazyCommands(typer.core.TyperGroup):
    """The top-level group: lists :data:`COMMANDS` from the table, imports a command's module on use."""

    _listing = False

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _interrupts():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _interrupts():
            return super().invoke(ctx)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # help needs the name and summary only
            return typer.core.TyperCommand(cmd_name, help=COMMANDS[cmd_name][1])
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def build_app() -> typer.Typer:
    """The ``xzgov`` application: a :class:`LazyCommands` group (no command module is imported yet)."""
    app = typer.Typer(
        name="xzgov",
        cls=LazyCommands,
        help="西藏数字政府 政务云: register, stacks, hardening and 等保/密评 compliance.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_no_global_options)  # a callback makes typer build a group (of our class)
    return app


def _no_global_options() -> None:
    """The group takes no options of its own."""


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return (and exit with) a documented exit code."""
    # the handler only where Python delivers signals (the main thread); the previous one back before exiting,
    # so a SIGTERM while the interpreter shuts down ends it as it would have
    handled = threading.current_thread() is threading.main_thread()
    reset_committed()
    previous = signal.signal(signal.SIGTERM, _terminate) if handled else None
    # Ctrl-C as Python delivers it by default (not where it is ignored, as in a shell's background job)
    interrupts = handled and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if interrupts:
        signal.signal(signal.SIGINT, _interrupt)
    # a hang-up as SIGTERM (Python's default dies where it lands: a vault edit's plaintext copy stayed in
    # /dev/shm), not where it is ignored (nohup)
    hangs_up = handled and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    if hangs_up:
        signal.signal(signal.SIGHUP, _hang_up)
    try:
        code = _dispatch(argv)
    finally:
        reset_committed()
        if handled:  # None: a handler not set from Python, i.e. the default
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if interrupts:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if hangs_up:
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
    sys.exit(int(code))


def program() -> None:
    """The ``xzgov`` program (console script, ``python -m xzgov``): :func:`run`, then the end of the process with the
    exit code it decided. A SIGINT, SIGTERM or SIGHUP from then on ends the process with that code: the interpreter's
    own shutdown puts the default handlers back before it frees every object (half a second after a large plan),
    and a signal then killed it — 130/143/129 after a change that was complete. So the exit handlers (``atexit``,
    the threads' joins) run here under a handler that exits with the code, and the process ends without the
    finalization. In-process callers use :func:`run`, which puts the previous handlers back."""
    try:
        run()
    except SystemExit as done:
        if threading.current_thread() is not threading.main_thread():
            raise
        code = done.code if isinstance(done.code, int) else ExitCode.OK if done.code is None else ExitCode.FAILED

        def finish(signum: int | None = None, frame: object = None) -> None:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing left to say
                    stream.flush()
            os._exit(int(code))

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # ignored stays ignored (nohup, background)
                signal.signal(signum, finish)
        if not isinstance(done.code, int) and done.code is not None:  # sys.exit("message"), as Python prints it
            print(done.code, file=sys.stderr)
        joins = getattr(threading, "_shutdown", None)  # what the interpreter runs first: non-daemon threads joined
        if joins is not None:
            joins()
        atexit._run_exitfuncs()  # then the exit handlers (logging, temporary directories' finalizers)
        finish()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM: unwind as for Ctrl-C (staged output removed, sessions killed) instead of dying where it lands:
    a merge killed at its Job's deadline left its staging folder beside --out every night. Once the command's
    effect is committed (``xzgov.core.errors.committed``) it finishes instead: its change is in place."""
    if not is_committed() and not defer_interrupt(Terminated()):
        raise Terminated


def _hang_up(signum: int, frame: object) -> None:
    """SIGHUP: unwind as for SIGTERM (see :func:`_terminate`)."""
    if not is_committed() and not defer_interrupt(HungUp()):
        raise HungUp


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C: Python's own KeyboardInterrupt, unless the command's effect is committed (see :func:`_terminate`).
    Inside a :func:`xzgov.core.errors.signals_deferred` section (a file being staged) any of the three is raised
    when the section ends."""
    if not is_committed() and not defer_interrupt(KeyboardInterrupt()):
        raise KeyboardInterrupt


#: What ``Path.resolve()`` raises on a symbolic link loop (Python 3.11): ``RuntimeError("Symlink loop from '<path>'")``.
_LINK_LOOP = re.compile(r"Symlink loop from '(.*)'", re.DOTALL)


def _link_loop(path: str) -> int:
    """A symbolic link loop in the inputs (a link to itself, two links to each other): exit 2, naming the path."""
    console_err.print(f"error: {visible_text(path) or 'a path given'}: a symbolic link loop (the link leads back to "
                      "itself); inputs are read from real files only — replace the link with the file or folder "
                      "itself", markup=False)
    return int(ExitCode.USAGE)


def _dispatch(argv: list[str] | None) -> int:
    try:
        command = typer.main.get_command(build_app())
        result = command.main(args=argv, prog_name="xzgov", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except XzgovError as error:
        print_diagnostics(error.diagnostics)
        console_err.print(Text.assemble(("error:", "bold red"), " ", visible_text(error.message)))
        return int(error.exit_code)
    except typer.Exit as done:
        return int(done.exit_code)
    except HungUp:
        console_err.print(HUNG_UP_MESSAGE)
        return HUNG_UP
    except Terminated:
        console_err.print(TERMINATED_MESSAGE)
        return TERMINATED
    except (KeyboardInterrupt, Interrupted):
        # Exit 130 (128 + SIGINT) is documented (docs/compliance.md "Exit codes"); say why there is no result.
        console_err.print(INTERRUPTED_MESSAGE)
        return int(INTERRUPTED)
    except typer.Abort:
        console_err.print("aborted")
        return int(ExitCode.USAGE)
    except typer.TyperException as usage:  # usage errors of the command line (typer's click)
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            console_err.print(f"error: {usage.format_message()}", markup=False)
        return int(ExitCode.USAGE)
    except OSError as failure:  # the machine, not the input: disk full, permissions, ...
        if failure.errno == errno.ENAMETOOLONG:  # a path the user typed: the input (exit 2), not the machine
            console_err.print("error: a path given is too long for the file system (File name too long); "
                              "give a shorter path", markup=False)
            return int(ExitCode.USAGE)
        if failure.errno == errno.ELOOP:  # a link in the inputs that leads back to itself: the input too
            return _link_loop(str(failure.filename or ""))
        where = f" ({failure.filename})" if failure.filename else ""
        console_err.print(f"error: {failure.strerror or failure}{where}; nothing was changed", markup=False)
        return int(ExitCode.INTERNAL)
    except Exception as bug:  # the last line of defence: never show a traceback
        loop = _LINK_LOOP.fullmatch(str(bug)) if type(bug) is RuntimeError else None
        if loop is not None:  # pathlib's resolve() on Python 3.11 (3.13 raises OSError ELOOP): the input, not us
            return _link_loop(loop.group(1))
        if os.environ.get("XZGOV_DEBUG"):
            traceback.print_exc()
        console_err.print(
            f"internal error: {type(bug).__name__}: {bug}\n"
            "This is a defect in xzgov, not in your input; rerun with XZGOV_DEBUG=1 and report it.",
            markup=False,
            highlight=False,
        )
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    run()

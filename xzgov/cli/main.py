"""Entry point of the ``xzgov`` console script.

Command groups live in their own modules; each exposes ``register(app)``. :func:`run` is the only
place that turns exceptions into exit codes, so every command shares the documented codes and no
traceback reaches a user (set ``XZGOV_DEBUG=1`` to see one while developing).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer

from xzgov.cli.output import console_err, print_diagnostics
from xzgov.core.errors import ExitCode, XzgovError

#: Modules that contribute commands, in help order.
COMMAND_MODULES = (
    "xzgov.cli.register_cmds",  # validate, onboard, inventory, register
    "xzgov.cli.crypto_cmds",  # keys, vault, sign, verify
    "xzgov.cli.standards_cmds",  # standards list|show|coverage
    "xzgov.cli.scan_cmds",  # scan, diff
    "xzgov.cli.plan_cmds",  # plan
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="xzgov",
        help="西藏数字政府 政务云: register, stacks, hardening and 等保/密评 compliance.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return (and exit with) a documented exit code."""
    code = _dispatch(argv)
    sys.exit(int(code))


def _dispatch(argv: list[str] | None) -> int:
    try:
        command = typer.main.get_command(build_app())
        result = command.main(args=argv, prog_name="xzgov", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except XzgovError as error:
        print_diagnostics(error.diagnostics)
        console_err.print(f"[bold red]error:[/] {error.message}", highlight=False, markup=True)
        return int(error.exit_code)
    except typer.Exit as done:
        return int(done.exit_code)
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
        where = f" ({failure.filename})" if failure.filename else ""
        console_err.print(f"error: {failure.strerror or failure}{where}; nothing was changed", markup=False)
        return int(ExitCode.INTERNAL)
    except KeyboardInterrupt:
        console_err.print("interrupted")
        return 130
    except Exception as bug:  # the last line of defence: never show a traceback
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

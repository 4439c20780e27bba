"""Shared by the crypto command modules (``keys``, ``vault``, ``sign``/``verify``): output format,
warnings on stderr, passphrases and key loading.

Passphrases come from ``XZGOV_KEY_PASSPHRASE`` or a prompt, never from the command line. The crypto
package is imported inside the functions, so importing a command module stays cheap.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from xzgov.cli.output import console_err, visible_text
from xzgov.core.errors import Diagnostic, UsageError, XzgovError

if TYPE_CHECKING:
    from xzgov.crypto.sm2 import SM2PrivateKey, SM2PublicKey

PASSPHRASE_ENV = "XZGOV_KEY_PASSPHRASE"
SIGNING_KEY_ENV = "XZGOV_SIGNING_KEY"


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """Show the crypto package's warnings (exposed key files, version 1 vault values) as plain
    ``warning:`` lines on stderr, each once."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(str(w.message) for w in caught):
                console_err.print(f"warning: {visible_text(message)}", markup=False, soft_wrap=True)


def with_warnings(command: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import xzgov.crypto  # noqa: F401  # imported before capturing: only the command's own warnings are shown

        with _warnings_to_stderr():
            return command(*args, **kwargs)
    return wrapper


def passphrase(*, confirm: bool, what: str) -> bytes:
    """``$XZGOV_KEY_PASSPHRASE``, else a prompt in a terminal; UsageError when neither is possible."""
    env = os.environb.get(PASSPHRASE_ENV.encode()) if os.supports_bytes_environ else None
    if env:  # the bytes as the environment holds them (a non-UTF-8 passphrase stopped with an internal error)
        return env
    if not sys.stdin.isatty():
        raise UsageError(
            f"{what} needs a passphrase: set {PASSPHRASE_ENV} or run in a terminal to be prompted",
            [Diagnostic("<environment>", 0, 0, PASSPHRASE_ENV, "no passphrase available", code="passphrase")],
        )
    value = typer.prompt(f"Passphrase for {what}", hide_input=True, confirmation_prompt=confirm)
    if not value:
        raise UsageError("an empty passphrase is not allowed")
    return str(value).encode("utf-8")


@with_warnings
def load_private(path: Path) -> SM2PrivateKey:
    """A private key file, asking for its passphrase only when it is encrypted."""
    from xzgov.crypto import keys

    text = keys.read_key_text(path, "private key")  # a FIFO or device is refused, not read (exit 2)
    secret = passphrase(confirm=False, what=str(path)) if keys.is_encrypted_pem(text) else None
    return keys.load_private_key(path, secret)


def from_variable(variable: str, path: Path, load: Callable[[Path], _R], fix: str) -> _R:
    """``load(path)`` for a ``path`` the environment variable ``variable`` gave: an error names the variable
    beside the file (the user typed no path: the file alone does not say where it came from)."""
    try:
        return load(path)
    except XzgovError as error:
        if any(d.code == "passphrase" for d in error.diagnostics):  # the file is right, the passphrase is not
            raise
        error.message = f"{error.message} (the file ${variable} names)"
        error.diagnostics = (*error.diagnostics, Diagnostic(
            "<environment>", 0, 0, variable, f"{variable} names {path}", fix, "environment"))
        raise


def signing_key_path(key: Path | None) -> Path | None:
    """``--key``, else the file ``$XZGOV_SIGNING_KEY`` names; ``None`` when neither is given."""
    named = os.environ.get(SIGNING_KEY_ENV)
    return key if key is not None else Path(named) if named else None


def load_signing_key(key: Path | None) -> SM2PrivateKey:
    """The private key of ``signing_key_path(key)`` (which must be given): a key ``$XZGOV_SIGNING_KEY`` names
    that cannot be read is blamed on the variable."""
    path = signing_key_path(key)
    assert path is not None, "signing_key_path(key) is checked first"
    if key is not None:
        return load_private(path)
    return from_variable(SIGNING_KEY_ENV, path, load_private,
                         f"point {SIGNING_KEY_ENV} at an SM2 private key (`xzgov keys generate`), or give --key")


def load_any_public(path: Path) -> tuple[str, SM2PublicKey]:
    """``("public" | "private", public key)`` of a public or private key file."""
    from xzgov.crypto import keys

    text = keys.read_key_text(path)  # a FIFO or device is refused, not read (exit 2)
    try:
        label = keys.pem_decode(text)[0]
    except keys.KeyFormatError:
        return "public", keys.load_public_key(path)  # raises the located UsageError
    if label == "PUBLIC KEY":
        return "public", keys.load_public_key(path)
    return "private", load_private(path).public_key

"""Running ``xzgov`` in-process in tests, through the entry point's dispatcher (exit codes, no traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from xzgov.cli.main import _dispatch

#: Variables that change what a command does; tests start without them and set what they need.
ENVIRONMENT = ("XZGOV_DEBUG", "XZGOV_SIGNING_KEY", "XZGOV_KEY_PASSPHRASE", "XZGOV_TRUSTED_KEYS", "XZGOV_LOGCENTRE_KEY")


class CliResult(NamedTuple):
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> CliResult:
    capsys.readouterr()
    code = _dispatch([str(a) for a in args])
    captured = capsys.readouterr()
    result = CliResult(code, captured.out, captured.err)
    assert "Traceback" not in result.text, result.text
    return result

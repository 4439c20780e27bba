"""Inputs are read from real files: a symbolic link, a folder, a FIFO at an input's path is refused unread.

``compliance/waivers/w.yaml -> /etc/shadow`` made ``xzgov scan`` print the target's lines in its schema
errors; a dangling link or a folder named ``w.yaml`` made a waiver file vanish without a word; a linked
``compliance/config.yaml`` or ``region.yaml`` was followed. The one reader of input files
(``xzgov.core.yamlio.read_text``) now refuses them all with exit 2, naming the path. A folder *on the way*
may still be a link (a catalogue folder linked in: ``tests/compliance/test_scan_merge.py``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult

Cli = Callable[..., CliResult]
TESTS = Path(__file__).resolve().parents[1]
SECRET = "root:$y$j9T$SECRETHASHVALUE:19000:0:99999:7:::\n"


@pytest.fixture
def register(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(TESTS / "compliance" / "fixtures" / "register", target)
    (target / "compliance" / "waivers").mkdir(parents=True)
    return target


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _refused(result: CliResult, where: str) -> None:
    assert result.code == 2, (result.code, result.out[-500:], result.err[-1500:])
    assert where in result.err
    assert "SECRETHASHVALUE" not in result.out + result.err and "Traceback" not in result.err


@pytest.mark.parametrize("plant", ["link", "dangling", "folder", "fifo"])
def test_a_waiver_entry_that_is_not_a_file_is_refused_unread(cli: Cli, register: Path, secret: Path,
                                                              plant: str) -> None:
    entry = register / "compliance" / "waivers" / "w.yaml"
    if plant == "link":
        entry.symlink_to(secret)
    elif plant == "dangling":
        entry.symlink_to(register / "gone.yaml")
    elif plant == "folder":
        entry.mkdir()
    else:
        os.mkfifo(entry)  # opened without a writer, a blocking read would hang the scan
    result = cli("scan", "--root", register, "--format", "text")
    _refused(result, "compliance/waivers/w.yaml")
    assert ("symbolic link" if plant in ("link", "dangling") else "not a regular file") in result.err


def test_a_linked_scan_configuration_is_refused_unread(cli: Cli, register: Path, secret: Path) -> None:
    (register / "compliance" / "config.yaml").symlink_to(secret)
    _refused(cli("scan", "--root", register, "--format", "text"), "compliance/config.yaml")


def test_a_linked_region_file_is_refused_unread(cli: Cli, register: Path, secret: Path, tmp_path: Path) -> None:
    real = tmp_path / "region.yaml"
    (register / "region.yaml").rename(real)
    (register / "region.yaml").symlink_to(real)  # even to a good region file: the register is real files
    result = cli("validate", "--root", register)
    _refused(result, "region.yaml")
    assert "symbolic link" in result.err
    (register / "region.yaml").unlink()
    (register / "region.yaml").symlink_to(secret)
    _refused(cli("validate", "--root", register), "region.yaml")

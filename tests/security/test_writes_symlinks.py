"""Adversarial review, finding 1: a symbolic link planted where xzgov writes is refused (exit 2), never
followed — reports, plans, inventories, manifests and the shared atomic writer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.core.errors import ExitCode, UsageError
from xzgov.core.fsutil import atomic_write

Cli = Callable[..., CliResult]
TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
VICTIM = "precious: do not overwrite\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM, encoding="utf-8")
    return path


@pytest.fixture
def register(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(TESTS / "register" / "fixtures" / "region", target)
    return target


@pytest.mark.parametrize("name", ["summary.md", "junit.xml"])
def test_scan_out_refuses_a_planted_link(cli: Cli, tmp_path: Path, victim: Path, name: str) -> None:
    root = tmp_path / "scan-register"
    shutil.copytree(TESTS / "compliance" / "fixtures" / "register", root)
    out = tmp_path / "reports"
    out.mkdir()
    (out / name).symlink_to(victim)
    result = cli("scan", "--root", root, "--out", out, "--unsigned", "--system", "clean-l3")
    assert result.code == ExitCode.USAGE, result.text
    assert f"{out / name}" in result.err and "symbolic link" in result.err
    assert victim.read_text(encoding="utf-8") == VICTIM
    assert (out / name).is_symlink()  # reported, left for the user to inspect


def test_scan_out_that_is_a_file_is_refused(cli: Cli, tmp_path: Path, victim: Path) -> None:
    root = tmp_path / "scan-register"
    shutil.copytree(TESTS / "compliance" / "fixtures" / "register", root)
    result = cli("scan", "--root", root, "--out", victim, "--unsigned", "--system", "clean-l3")
    assert result.code == ExitCode.USAGE and "not a directory" in result.err
    assert victim.read_text(encoding="utf-8") == VICTIM


def test_plan_out_refuses_a_planted_link(cli: Cli, tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "plan"
    (out / "dr").mkdir(parents=True)
    (out / "dr" / "segments.yaml").symlink_to(victim)
    result = cli("plan", "--root", REPO, "--site", "dr", "--out", out, "--no-validate")
    assert result.code == ExitCode.USAGE, result.text
    assert "segments.yaml" in result.err and "symbolic link" in result.err
    assert victim.read_text(encoding="utf-8") == VICTIM


def test_plan_out_refuses_a_linked_site_directory(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "dr").symlink_to(elsewhere, target_is_directory=True)
    result = cli("plan", "--root", REPO, "--site", "dr", "--out", out, "--no-validate")
    assert result.code == ExitCode.USAGE and "symbolic link" in result.err
    assert list(elsewhere.iterdir()) == []


def test_inventory_refuses_a_planted_link(cli: Cli, register: Path, victim: Path) -> None:
    (register / "inventories" / "lhasa").mkdir(parents=True)
    (register / "inventories" / "lhasa" / "hosts.yml").symlink_to(victim)
    result = cli("inventory", "--root", register)
    assert result.code == ExitCode.USAGE, result.text
    assert "hosts.yml" in result.err and "symbolic link" in result.err
    assert victim.read_text(encoding="utf-8") == VICTIM
    assert not (register / "inventories" / "dr").exists()  # nothing written, not even the other site


def test_inventory_refuses_a_folder_where_it_writes_a_file(cli: Cli, register: Path) -> None:
    """The error named a file descriptor ("Is a directory (5)", exit 3): the path and a fix, exit 2."""
    (register / "inventories" / "lhasa" / "hosts.yml").mkdir(parents=True)
    result = cli("inventory", "--root", register)
    assert result.code == ExitCode.USAGE, result.text
    assert "inventories/lhasa/hosts.yml" in result.err and "directory" in result.err and "(5)" not in result.err
    assert not (register / "inventories" / "dr").exists()


def test_inventory_refuses_a_linked_directory(cli: Cli, register: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (register / "inventories").symlink_to(elsewhere, target_is_directory=True)
    result = cli("inventory", "--root", register)
    assert result.code == ExitCode.USAGE and "inventories" in result.err and "symbolic link" in result.err
    assert list(elsewhere.iterdir()) == []


def test_onboard_refuses_a_linked_manifest(cli: Cli, register: Path, victim: Path, tmp_path: Path) -> None:
    """An update of a system whose registered manifest is a link: validation and the write both refuse."""
    registered = register / "systems" / "gat" / "case-app.yaml"
    text = registered.read_text(encoding="utf-8")
    registered.unlink()
    registered.symlink_to(victim)
    candidate = tmp_path / "case-app.yaml"
    candidate.write_text(text, encoding="utf-8")
    result = cli("onboard", candidate, "--root", register)
    assert result.code == ExitCode.USAGE and "case-app.yaml" in result.err and "symbolic link" in result.err
    assert victim.read_text(encoding="utf-8") == VICTIM


def test_atomic_write_never_follows_the_final_link(tmp_path: Path, victim: Path) -> None:
    link = tmp_path / "key.pem"
    link.symlink_to(victim)
    with pytest.raises(UsageError) as refused:
        atomic_write(link, b"secret", mode=0o600)
    assert refused.value.exit_code == ExitCode.USAGE and refused.value.diagnostics[0].file == str(link)
    assert victim.read_text(encoding="utf-8") == VICTIM and link.is_symlink()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_write_below_a_base_refuses_linked_directories(tmp_path: Path) -> None:
    base = tmp_path / "out"
    base.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (base / "site").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UsageError, match="symbolic link"):
        atomic_write(base / "site" / "systems" / "a.yaml", b"a: 1\n", base=base)
    assert list(elsewhere.iterdir()) == []
    written = atomic_write(base / "real" / "systems" / "a.yaml", b"a: 1\n", base=base)
    assert written.read_bytes() == b"a: 1\n" and (written.stat().st_mode & 0o777) == 0o644


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_out_that_cannot_be_created_fails_before_the_scan(cli: Cli, tmp_path: Path, victim: Path,
                                                             where: str) -> None:
    """An ``--out`` below a file, or on a file system where no directory can be made (root may write
    anywhere by permission bits, not on /proc), is refused before the work, with exit 2 and nothing written."""
    root = tmp_path / "scan-register"
    shutil.copytree(TESTS / "compliance" / "fixtures" / "register", root)
    out = victim / "reports" if where == "under-a-file" else Path("/proc") / f"xzgov-{tmp_path.name}"
    res = cli("scan", "--root", root, "--out", out, "--unsigned")
    assert res.code == ExitCode.USAGE, res.text
    assert "unsafe-path" not in res.out and f"refusing to write {out}" in res.err
    assert ("is a file, not a directory" if where == "under-a-file" else "no directory can be made") in res.err
    assert "扫描" not in res.out and victim.read_text(encoding="utf-8") == VICTIM
    assert not any(p.name.startswith(".xzgov-probe-") for p in tmp_path.iterdir())

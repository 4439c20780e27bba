"""One rule for an output xzgov cannot write (:func:`xzgov.core.errors.output_error`), in every command.

The machine refuses (read-only or full file system, permission denied, I/O error): exit 3 naming the
path, nothing changed. The path is wrong (its folder is missing or not a folder; it is a folder, exists,
or is a link): exit 2 with a hint. Reproduced on real tmpfs mounts when running as root, skipped otherwise.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import CliResult
from tests.tmpfs import fill, tmpfs
from xzgov.core.errors import ExitCode, output_error, output_path_wrong

Cli = Callable[..., CliResult]
TESTS = Path(__file__).resolve().parents[1]
REGISTER = TESTS / "compliance" / "fixtures" / "register"


# ------------------------------------------------------------------------------- the classifier


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO])
def test_the_machine_refusing_an_output_is_exit_3_naming_the_path(code: int) -> None:
    error = output_error(Path("out/report.json"), OSError(code, os.strerror(code)), field="--out")
    assert error.exit_code == ExitCode.INTERNAL and not output_path_wrong(OSError(code, os.strerror(code)))
    assert str(error) == f"{os.strerror(code)} (out/report.json); nothing was changed"
    assert error.diagnostics[0].file == "out/report.json" and error.diagnostics[0].path == "--out"


@pytest.mark.parametrize(("code", "hint"), [(errno.ENOENT, "create the folder first"),
                                            (errno.ENOTDIR, "create the folder first"),
                                            (errno.EISDIR, "choose another path"),
                                            (errno.EEXIST, "choose another path"),
                                            (errno.ELOOP, "choose another path")])
def test_a_wrong_output_path_is_exit_2_with_a_hint(code: int, hint: str) -> None:
    error = output_error("missing/report.json", OSError(code, os.strerror(code)))
    assert error.exit_code == ExitCode.USAGE and output_path_wrong(OSError(code, os.strerror(code)))
    assert "missing/report.json" in str(error) and hint in error.diagnostics[0].hint


def test_a_file_where_a_folder_should_be_is_not_hinted_with_mkdir(tmp_path: Path, cli: Cli) -> None:
    """``mkdir -p`` cannot create a folder through a file: the hint said to run it."""
    (tmp_path / "notes").write_text("x", encoding="utf-8")
    error = output_error(tmp_path / "notes" / "sub" / "report.json", OSError(errno.ENOTDIR, "Not a directory"))
    assert "is a file, not a folder" in error.diagnostics[0].hint and "mkdir" not in error.diagnostics[0].hint
    result = cli("attest", "template", "clean-l3", "--out", str(tmp_path / "notes" / "ws.yaml"))
    assert result.code == 2 and "mkdir" not in result.err and "is a file, not a folder" in result.err, result.text


# ------------------------------------------------------------------------------- real mounts


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A real read-only tmpfs."""
    with tmpfs(tmp_path / "ro", "ro,size=1m") as point:
        yield point


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, filled to the last byte (its only file is ``fill``)."""
    with tmpfs(tmp_path / "full", "size=64k") as point:
        fill(point)
        yield point


def _machine(result: CliResult, path: Path) -> None:
    assert result.code == ExitCode.INTERNAL, result.text
    assert str(path) in result.err and "nothing was changed" in result.err


def test_keys_generate_on_a_read_only_or_full_file_system_is_exit_3(cli: Cli, read_only: Path, full: Path,
                                                                    tmp_path: Path) -> None:
    _machine(cli("keys", "generate", read_only / "k.pem"), read_only / "k.pub.pem")  # the public half first
    assert "Read-only file system" in cli("keys", "generate", read_only / "k.pem").err
    result = cli("keys", "generate", full / "k.pem")
    _machine(result, full / "k.pub.pem")  # the pair's public half is written first
    assert "No space left on device" in result.err and os.listdir(full) == ["fill"]
    missing = cli("keys", "generate", tmp_path / "nowhere" / "k.pem")
    assert missing.code == ExitCode.USAGE and "create the folder first" in missing.err, missing.text


def test_a_key_pair_is_written_whole_or_not_at_all(cli: Cli, tmp_path: Path) -> None:
    """A tmpfs of one page holds one key file: the private key was written, the public one failed, and the
    command said "nothing was changed" (with --force the old private key was already gone)."""
    with tmpfs(tmp_path / "page", "size=4k") as point:
        result = cli("keys", "generate", point / "k.pem")
        assert result.code == ExitCode.INTERNAL and "nothing was changed" in result.err, result.text
        assert os.listdir(point) == [], os.listdir(point)  # the public half put back: no key left alone


def test_vault_keygen_on_a_full_file_system_is_exit_3(cli: Cli, full: Path) -> None:
    _machine(cli("vault", "keygen", full / "vault.key"), full / "vault.key")
    assert os.listdir(full) == ["fill"]


def test_sign_out_on_a_read_only_file_system_is_exit_3(cli: Cli, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    assert cli("keys", "generate", key).code == ExitCode.OK
    with tmpfs(tmp_path / "signed", "size=1m") as point:
        (point / "a.txt").write_text("hello\n", encoding="utf-8")
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)
        _machine(cli("sign", point / "a.txt", "--key", key, "--out", point / "bundle.json"), point / "bundle.json")
        assert os.listdir(point) == ["a.txt"]


def test_scan_out_on_a_read_only_file_system_is_exit_3_before_the_scan(cli: Cli, read_only: Path) -> None:
    result = cli("scan", "--root", REGISTER, "--out", read_only / "reports", "--unsigned")
    _machine(result, read_only / "reports")
    assert "Read-only file system" in result.err and "扫描" not in result.out


def test_scan_out_on_a_full_file_system_is_exit_3_naming_the_out(cli: Cli, full: Path) -> None:
    result = cli("scan", "--root", REGISTER, "--out", full / "reports", "--unsigned")
    _machine(result, full / "reports")
    assert "No space left on device" in result.err and os.listdir(full) == ["fill"]


def test_attest_template_out_on_a_read_only_file_system_is_exit_3(cli: Cli, read_only: Path) -> None:
    _machine(cli("attest", "template", "clean-l3", "--root", REGISTER, "--out", read_only / "ws.yaml"),
             read_only / "ws.yaml")


def test_onboard_template_path(cli: Cli, read_only: Path, tmp_path: Path) -> None:
    """A folder that does not exist is the user's path (exit 2, hint); a read-only one is the machine (3)."""
    _machine(cli("onboard", "--template", "workload", "--root", REGISTER, read_only / "m.yaml"),
             read_only / "m.yaml")
    missing = tmp_path / "nowhere" / "m.yaml"
    result = cli("onboard", "--template", "workload", "--root", REGISTER, missing)
    assert result.code == ExitCode.USAGE, result.text
    assert str(missing) in result.err and "create the folder first" in result.err
    assert not (tmp_path / "nowhere").exists()


def test_vault_rewrites_on_a_read_only_file_system_are_exit_3_naming_the_file(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vault edit` was exit 2 (a usage error) and `vault encrypt` named its temporary file."""
    key = tmp_path / "vault.key"
    assert cli("vault", "keygen", key).code == ExitCode.OK
    with tmpfs(tmp_path / "vaulted", "size=1m") as point:
        plain, sealed = point / "plain.yml", point / "sealed.sm4vault.yml"
        plain.write_text("token: secret\n", encoding="utf-8")
        sealed.write_text("token: secret\n", encoding="utf-8")
        assert cli("vault", "encrypt", sealed, "--key-file", key).code == ExitCode.OK
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)
        encrypted = cli("vault", "encrypt", plain, "--key-file", key)
        _machine(encrypted, plain)
        assert ".tmp" not in encrypted.err, encrypted.err
        monkeypatch.setenv("EDITOR", "sed -i s/secret/other/")
        monkeypatch.delenv("VISUAL", raising=False)
        _machine(cli("vault", "edit", sealed, "--key-file", key), sealed)
        assert plain.read_text(encoding="utf-8") == "token: secret\n"


def test_inventories_on_a_full_file_system_name_the_inventory_not_its_temporary(cli: Cli, tmp_path: Path) -> None:
    """The error named the hidden staging file (``.hosts.yml.3f2a….tmp``), which no one can find afterwards."""
    import shutil

    root = tmp_path / "register"
    shutil.copytree(REGISTER, root, ignore=shutil.ignore_patterns("inventories"))
    with tmpfs(root / "inventories", "size=64k") as point:
        fill(point)
        result = cli("inventory", "--root", root)
        assert result.code == ExitCode.INTERNAL and "No space left on device" in result.err, result.text
        assert "hosts.yml" in result.err and ".tmp" not in result.err
        assert sorted(os.listdir(point)) == ["fill"]  # nothing half-written, no temporary left


def test_an_existing_folder_that_takes_no_files_is_not_hinted_with_mkdir(cli: Cli, tmp_path: Path) -> None:
    """`keys generate /proc/x.pem` said "create the folder first (mkdir -p /proc)" of a folder that exists, and named
    the derived public-key path rather than the one typed when the folder was missing."""
    result = cli("keys", "generate", "/proc/x.pem")
    assert result.code == ExitCode.USAGE and "mkdir" not in result.err and "takes no new file" in result.err
    missing = tmp_path / "nodir" / "x.pem"
    result = cli("keys", "generate", missing)
    assert result.code == ExitCode.USAGE and f"{missing}: error" in result.err and "pub.pem: error" not in result.err
    assert not (tmp_path / "nodir").exists()


def test_every_command_states_its_exit_codes_in_its_help() -> None:
    """README: each command's --help states its codes; 29 of 39 commands (keys, vault, attest, dr, plan …) did not."""
    from xzgov.cli.main import COMMANDS, load_command

    def leaves(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from leaves(sub, f"{path} {name}")
        else:
            yield path, command

    found = dict(leaf for name in COMMANDS for leaf in leaves(load_command(name), name))
    assert len(found) >= 38
    silent = sorted(path for path, command in found.items() if "Exit codes:" not in (command.help or ""))
    assert silent == [], f"commands whose --help states no exit codes: {silent}"

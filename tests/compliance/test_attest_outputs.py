"""What the ``xzgov attest`` commands write: never over an existing file (exit 2, byte-identical)
unless the command's purpose is to replace it (``attest sign`` in place) or ``--force``; never through a
symbolic link, not even with ``--force`` (its target untouched); atomically: a write that fails half-way
(disk full) is exit 3 naming the file, leaves no partial file, the previous file intact, no temporary
file, and no traceback."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance.attest import worksheet
from xzgov.cli.main import _dispatch
from xzgov.core.errors import ExitCode, UsageError
from xzgov.crypto.sm2 import SM2PrivateKey

from .attest_support import ATTESTATIONS, evidence, pin, system_set
from .conftest import FIXTURE

MANUAL = "GB/T 22239-2019:8.1.9.2.a"  # 安全方案设计 (manual) of clean-l3 (dsjj, level 3)
PRECIOUS = "# a filled-in worksheet / a signed set: must survive\nresult: 符合\n".encode()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("outputs") / "register"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="module")
def xlsx(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A blank XLSX worksheet of clean-l3, the input of ``attest import``."""
    return worksheet.write_xlsx(worksheet.template(root, "clean-l3"), tmp_path_factory.mktemp("in") / "ws.xlsx")


@pytest.fixture
def signable(register_root: Path, signing_key: tuple[Path, SM2PrivateKey]) -> tuple[Path, Path]:
    """(a filled worksheet in compliance/attestations/ with its evidence beside it, the signer's key file)."""
    key_file, key = signing_key
    pin(register_root, key, ["dsjj"])
    evidence(register_root, "evidence/record.pdf.txt")
    path = register_root / ATTESTATIONS / "dsjj.yaml"
    document = system_set("clean-l3", "dsjj", [(MANUAL, "符合", "核查安全设计方案")], expires=None)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, key_file


def _sign(worksheet_file: Path, key_file: Path, *extra: str) -> list[str]:
    """Sign a set of <register>/compliance/attestations/ against its register (--root)."""
    register = worksheet_file.parents[2]
    return ["attest", "sign", str(worksheet_file), "--key", str(key_file), "--today", "2026-02-01",
            "--root", str(register), *extra]


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


# ------------------------------------------------------------------------------------- existing files


@pytest.mark.parametrize("name", ["ws.yaml", "ws.xlsx"])
def test_template_never_replaces_an_existing_worksheet(tmp_path: Path, root: Path, name: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / name
    out.write_bytes(PRECIOUS)
    assert _dispatch(["attest", "template", "clean-l3", "--root", str(root), "--out", str(out)]) == ExitCode.USAGE
    assert out.read_bytes() == PRECIOUS
    err = capsys.readouterr().err
    assert f"{out} exists; refusing to overwrite (use --force)" in err and "[--out]" in err
    _clean(err)
    assert sorted(os.listdir(tmp_path)) == [name]


def test_template_with_force_replaces_and_keeps_the_permissions(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "ws.yaml"
    out.write_bytes(PRECIOUS)
    out.chmod(0o600)
    assert _dispatch(["attest", "template", "clean-l3", "--root", str(root), "--out", str(out), "--force"]) \
        == ExitCode.OK
    assert out.read_text(encoding="utf-8").startswith(worksheet.HEADER)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["ws.yaml"]


def test_import_never_replaces_a_signed_set(tmp_path: Path, xlsx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "medical-insurance.yaml"
    out.write_bytes(PRECIOUS)
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(out)]) == ExitCode.USAGE
    assert out.read_bytes() == PRECIOUS
    err = capsys.readouterr().err
    assert f"{out} exists; refusing to overwrite (use --force)" in err
    _clean(err)
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(out), "--force"]) == ExitCode.OK
    assert out.read_text(encoding="utf-8") == worksheet.render(worksheet.read_xlsx(xlsx))


def test_sign_never_replaces_another_existing_file(signable: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path, key_file = signable
    before = path.read_bytes()
    other = path.with_name("other.yaml")
    other.write_bytes(PRECIOUS)
    assert _dispatch(_sign(path, key_file, "--out", str(other))) == ExitCode.USAGE
    assert other.read_bytes() == PRECIOUS and path.read_bytes() == before
    err = capsys.readouterr().err
    assert f"{other} exists; refusing to overwrite (use --force)" in err
    _clean(err)
    assert _dispatch(_sign(path, key_file, "--out", str(other), "--force")) == ExitCode.OK
    assert yaml.safe_load(other.read_text(encoding="utf-8"))["signature"]["algorithm"] == "SM2-SM3"
    assert path.read_bytes() == before


def test_sign_in_place_still_replaces_its_file(signable: tuple[Path, Path]) -> None:
    path, key_file = signable
    assert _dispatch(_sign(path, key_file, "--out", str(path))) == ExitCode.OK  # --out FILE: in place
    assert "signature" in yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _dispatch(_sign(path, key_file)) == ExitCode.OK  # re-signing in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["dsjj.yaml", "evidence"]


def test_the_library_writers_refuse_an_existing_file(tmp_path: Path, xlsx: Path) -> None:
    document = worksheet.read_xlsx(xlsx)
    for name in ("a.yaml", "a.xlsx"):
        (tmp_path / name).write_bytes(PRECIOUS)
        with pytest.raises(UsageError, match="exists"):
            worksheet.write(document, tmp_path / name)
        assert (tmp_path / name).read_bytes() == PRECIOUS
    with pytest.raises(UsageError, match="exists"):
        worksheet.write_xlsx(document, tmp_path / "a.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == PRECIOUS


# ------------------------------------------------------------------------------------- symbolic links


def _commands(root: Path, xlsx: Path, signable: tuple[Path, Path]) -> dict[str, Callable[[Path], list[str]]]:
    path, key_file = signable
    return {
        "template-yaml": lambda link: ["attest", "template", "clean-l3", "--root", str(root), "--out", str(link)],
        "template-xlsx": lambda link: ["attest", "template", "clean-l3", "--root", str(root), "--out", str(link)],
        "import": lambda link: ["attest", "import", str(xlsx), "--out", str(link)],
        "sign": lambda link: _sign(path, key_file, "--out", str(link)),
    }


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("command", ["template-yaml", "template-xlsx", "import", "sign"])
def test_a_symbolic_link_at_out_is_refused(root: Path, xlsx: Path, signable: tuple[Path, Path], tmp_path: Path,
                                           command: str, force: bool, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    folder = signable[0].parent  # beside the set, so that sign would otherwise succeed
    link = folder / ("link.xlsx" if command == "template-xlsx" else "link.yaml")
    link.symlink_to(victim)
    argv = _commands(root, xlsx, signable)[command](link) + (["--force"] if force else [])
    assert _dispatch(argv) == ExitCode.USAGE
    assert victim.read_bytes() == PRECIOUS and link.is_symlink() and os.readlink(link) == str(victim)
    err = capsys.readouterr().err
    assert f"refusing to write {link}: it is a symbolic link" in err
    _clean(err)


def test_sign_in_place_through_a_symbolic_link_is_refused(signable: tuple[Path, Path], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, key_file = signable
    real = path.with_name("real.yaml")
    path.rename(real)
    path.symlink_to(real)
    before = real.read_bytes()
    assert _dispatch(_sign(path, key_file)) == ExitCode.USAGE
    assert real.read_bytes() == before and path.is_symlink()
    err = capsys.readouterr().err
    assert "is a symbolic link" in err  # refused by the reader already; the writer would refuse it too
    _clean(err)


# ---------------------------------------------------------------------------------------- disk full


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """``disk_full(folder)``: every file written in ``folder`` takes a part of its first block, then ENOSPC."""
    real_write = os.write
    folders: list[str] = []
    started: set[int] = set()

    def write(fd: int, data: Any) -> int:
        try:
            where = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            where = ""
        if any(where.startswith(folder + os.sep) for folder in folders):
            if fd in started:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            started.add(fd)
            return real_write(fd, bytes(data[: max(1, min(len(data), 4096) // 2)]))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    yield lambda folder: folders.append(str(folder.resolve()))


@pytest.mark.parametrize("name", ["ws.yaml", "ws.xlsx"])
def test_a_full_disk_leaves_no_partial_worksheet(tmp_path: Path, root: Path, name: str,
                                                 disk_full: Callable[[Path], None],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "full"
    folder.mkdir()
    disk_full(folder)
    out = folder / name
    assert _dispatch(["attest", "template", "clean-l3", "--root", str(root), "--out", str(out)]) == ExitCode.INTERNAL
    assert os.listdir(folder) == []  # no partial file, no temporary file
    err = capsys.readouterr().err
    assert str(out) in err and "No space left on device" in err and "nothing was changed" in err
    _clean(err)


def test_a_full_disk_keeps_the_previous_file(tmp_path: Path, xlsx: Path, signable: tuple[Path, Path],
                                             disk_full: Callable[[Path], None],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "full"
    folder.mkdir()
    out = folder / "set.yaml"
    out.write_bytes(PRECIOUS)
    path, key_file = signable
    before = path.read_bytes()
    disk_full(folder)
    disk_full(path.parent)
    assert _dispatch(["attest", "import", str(xlsx), "--out", str(out), "--force"]) == ExitCode.INTERNAL
    assert out.read_bytes() == PRECIOUS and os.listdir(folder) == ["set.yaml"]
    assert _dispatch(_sign(path, key_file)) == ExitCode.INTERNAL  # in place
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["dsjj.yaml", "evidence"]
    err = capsys.readouterr().err
    assert f"No space left on device ({out})" in err and f"No space left on device ({path})" in err
    _clean(err)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 100 KiB tmpfs, nearly full (root only; skipped where it cannot be mounted)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


@pytest.mark.parametrize("name", ["ws.yaml", "ws.xlsx"])
def test_a_really_full_file_system_leaves_no_partial_worksheet(tiny_tmpfs: Path, root: Path, name: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tiny_tmpfs / "fill").write_bytes(bytes(92 * 1024))  # a worksheet is ~70 KiB of YAML, ~25 KiB of XLSX
    out = tiny_tmpfs / name
    assert _dispatch(["attest", "template", "clean-l3", "--root", str(root), "--out", str(out)]) == ExitCode.INTERNAL
    assert os.listdir(tiny_tmpfs) == ["fill"]
    err = capsys.readouterr().err
    assert f"No space left on device ({out})" in err
    _clean(err)


def test_a_set_another_signer_holds_is_refused(signable: tuple[Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Two `attest sign` of one set at once: both said "signed", the file kept one signature. The set is held from
    the read to the write; a second signer is refused (exit 2), the set as the first one leaves it."""
    import fcntl
    import os

    path, key_file = signable
    before = path.read_bytes()
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a running `attest sign` holds
        assert _dispatch(_sign(path, key_file)) == ExitCode.USAGE
    finally:
        os.close(fd)
    err = capsys.readouterr().err
    assert "being changed by another command" in err and "attest sign" in err, err
    assert path.read_bytes() == before
    assert _dispatch(_sign(path, key_file)) == ExitCode.OK  # released: signed


def test_import_of_a_fifo_says_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A review: `attest import` of a FIFO said "no such file"."""
    fifo = tmp_path / "ws.xlsx"
    os.mkfifo(fifo)
    assert _dispatch(["attest", "import", str(fifo), "--out", str(tmp_path / "ws.yaml")]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "not a regular file" in err and "no such file" not in err
    assert not (tmp_path / "ws.yaml").exists()

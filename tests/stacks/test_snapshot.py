"""The scanner's register snapshot (``stacks.snapshot``): packed deterministically, unpacked only when the
chunks are the rendered ones and every member is a regular file at a plain relative path."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from stacks import snapshot
from tests.cli import CliResult
from xzgov.core.errors import UsageError
from xzgov.crypto.sm3 import sm3_hex

Cli = Callable[..., CliResult]
REPO = Path(__file__).resolve().parents[2]


def _chunks(directory: Path, data: bytes, size: int = 4096) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(snapshot.chunks(data, size)):
        (directory / snapshot.chunk_name(index)).write_bytes(chunk)
    return sm3_hex(data)


def _archive(*members: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_pack_is_deterministic_and_unpacks_to_the_same_files(cli: Cli, tmp_path: Path) -> None:
    paths = ["region.yaml", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "systems").rglob("*.yaml"))]
    packed = snapshot.pack(REPO, paths)
    assert snapshot.pack(REPO, list(reversed(paths))) == packed  # order and time do not matter
    digest = _chunks(tmp_path / "chunks", packed, 10_000)
    assert len(list((tmp_path / "chunks").iterdir())) > 1
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 0 and f"unpacked {len(paths)} file(s)" in res.err
    for path in paths:
        assert (tmp_path / "register" / path).read_bytes() == (REPO / path).read_bytes()
    assert len(paths) * 1000 < sum(len((REPO / p).read_bytes()) for p in paths)  # worth compressing
    assert len(packed) * 4 < sum(len((REPO / p).read_bytes()) for p in paths)


def test_chunks_of_another_render_or_a_missing_chunk_are_refused(cli: Cli, tmp_path: Path) -> None:
    packed = snapshot.pack(REPO, ["region.yaml"])
    digest = _chunks(tmp_path / "chunks", packed, 1000)
    other = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "a", "--sm3", "0" * 64)
    assert other.code == 2 and "not the one the Job was rendered with" in other.err and "apply the stack" in other.err
    (tmp_path / "chunks" / snapshot.chunk_name(1)).unlink()
    gap = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "b", "--sm3", digest)
    assert gap.code == 2 and "chunks are missing" in gap.err
    none = cli("scan", "unpack", tmp_path / "empty", "--to", tmp_path / "c", "--sm3", digest)
    assert none.code == 2 and "no snapshot chunks" in none.err
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c"))


@pytest.mark.parametrize("member", ["../escape.yaml", "/etc/cron.d/x", "systems/../../x", "a//b", "./a"])
def test_members_outside_the_register_are_refused(cli: Cli, tmp_path: Path, member: str) -> None:
    digest = _chunks(tmp_path / "chunks", _archive(("region.yaml", b"x: 1\n"), (member, b"owned\n")))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "out" / "register", "--sm3", digest)
    assert res.code == 2 and "not a plain relative path" in res.err, res.err
    assert not (tmp_path / "escape.yaml").exists() and not (tmp_path / "out" / "escape.yaml").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.DIRTYPE])
def test_links_devices_and_directories_are_refused(cli: Cli, tmp_path: Path, kind: bytes) -> None:
    link = tarfile.TarInfo("systems/x.yaml")
    link.type, link.linkname = kind, "/etc/shadow"
    digest = _chunks(tmp_path / "chunks", _archive(link))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 2 and "is not a regular file" in res.err
    assert not (tmp_path / "register" / "systems" / "x.yaml").exists()


def test_a_damaged_archive_or_a_used_target_is_refused(cli: Cli, tmp_path: Path) -> None:
    digest = _chunks(tmp_path / "chunks", b"\x1f\x8b not gzip at all")
    damaged = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert damaged.code == 2 and "cannot be unpacked" in damaged.err
    good = _chunks(tmp_path / "good", snapshot.pack(REPO, ["region.yaml"]))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "left-over").write_text("x", encoding="utf-8")
    used = cli("scan", "unpack", tmp_path / "good", "--to", tmp_path / "used", "--sm3", good)
    assert used.code == 2 and "not empty" in used.err


def test_a_bomb_is_stopped_at_the_size_bound(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAX_UNPACKED", 10_000)
    digest = _chunks(tmp_path / "chunks", _archive(("a.yaml", b"0" * 6000), ("b.yaml", b"0" * 6000)))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 2 and "more than 10000 bytes" in res.err
    assert not (tmp_path / "register" / "b.yaml").exists()


@pytest.mark.parametrize("margin", [-1, 0, 1])
def test_what_pack_accepts_unpack_accepts(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          margin: int) -> None:
    """The snapshot's bounds hold at plan time: a register past them is refused when it is packed (exit 2 naming
    the register and what to do), not by the init container of every shard every night; one within them
    unpacks. At the bound exactly, and one byte either side of it."""
    paths = ["region.yaml", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "systems").rglob("*.yaml"))]
    size = len(gzip.decompress(snapshot.pack(REPO, paths)))  # the tar stream unpack reads, headers included
    monkeypatch.setattr(snapshot, "MAX_UNPACKED", size + margin)
    if margin < 0:
        with pytest.raises(UsageError) as refused:
            snapshot.pack(REPO, paths)
        assert "too large" in refused.value.message and str(REPO) in refused.value.message
        problem = refused.value.diagnostics[0]
        assert problem.code == "size" and "xzgov:scannerImage" in problem.hint
        return
    digest = _chunks(tmp_path / "chunks", snapshot.pack(REPO, paths))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 0, res.err


def test_too_many_files_are_refused_when_packed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAX_MEMBERS", 5)
    (tmp_path / "systems").mkdir()
    for index in range(6):
        (tmp_path / "systems" / f"s{index}.yaml").write_text("x: 1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="6 files, more than the 5"):
        snapshot.pack(tmp_path, [f"systems/s{index}.yaml" for index in range(6)])
    assert snapshot.pack(tmp_path, [f"systems/s{index}.yaml" for index in range(5)])


def test_a_target_that_is_a_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    digest = _chunks(tmp_path / "chunks", snapshot.pack(REPO, ["region.yaml"]))
    (tmp_path / "file").write_text("x", encoding="utf-8")
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "file", "--sm3", digest)
    assert res.code == 2 and "not a directory" in res.err
    (tmp_path / "chunks" / snapshot.chunk_name(5)).mkdir()  # a directory among the chunks
    gap = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "out", "--sm3", digest)
    assert gap.code == 2


def test_a_header_bomb_is_stopped_before_it_is_memory(cli: Cli, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A PAX header is read into memory before its member is seen: the bound is on the decompressed stream,
    headers included (a 3-byte member behind a 2 MB header was counted as 3 bytes)."""
    monkeypatch.setattr(snapshot, "MAX_UNPACKED", 1 << 20)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("region.yaml")
        info.size, info.pax_headers = 3, {"comment": "x" * (2 << 20)}
        archive.addfile(info, io.BytesIO(b"x: "))
    digest = _chunks(tmp_path / "chunks", buffer.getvalue(), size=1 << 20)
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 2 and f"more than {1 << 20} bytes" in res.err, res.err
    assert not (tmp_path / "register" / "region.yaml").exists()


def test_too_many_members_are_refused(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "MAX_MEMBERS", 5)
    digest = _chunks(tmp_path / "chunks", _archive(*((f"systems/s{i}.yaml", b"") for i in range(6))))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 2 and "more than 5 files" in res.err
    assert not (tmp_path / "register" / "systems" / "s5.yaml").exists()


@pytest.mark.parametrize("member", ["systems/evil\n\x1b[2J.yaml", "systems/tab\there.yaml", "systems/c1\x9b.yaml"])
def test_control_characters_in_names_are_refused(cli: Cli, tmp_path: Path, member: str) -> None:
    digest = _chunks(tmp_path / "chunks", _archive(("region.yaml", b"x: 1\n"), (member, b"owned\n")))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 2 and "not a plain relative path" in res.err
    assert "\x1b" not in res.err  # the name is shown escaped
    (tmp_path / "root" / "systems").mkdir(parents=True)
    with pytest.raises(UsageError):  # and never packed
        snapshot.pack(tmp_path / "root", [member])


@pytest.mark.parametrize(("members", "why"), [
    ((("systems/a.yaml", b"1\n"), ("systems/a.yaml", b"2\n")), "listed twice"),
    ((("systems", b"1\n"), ("systems/a.yaml", b"2\n")), "both a file and a folder"),
    ((("systems/a/b.yaml", b"1\n"), ("systems/a", b"2\n")), "both a file and a folder"),
    ((("region.yaml", b"1\n"), ("x" * 300, b"2\n")), "a name longer than 255 bytes"),
])
def test_a_member_that_cannot_take_its_place_is_refused_as_the_archives(
        cli: Cli, tmp_path: Path, members: tuple[tuple[str, bytes], ...], why: str) -> None:
    """A second member of one name, a file where a folder is, a name the file system refuses: they were told as
    "cannot write …: File exists; nothing was changed" (a file was written) or exit 3 (the machine's fault)."""
    digest = _chunks(tmp_path / "chunks", _archive(*members))
    res = cli("scan", "unpack", tmp_path / "chunks", "--to", tmp_path / "register", "--sm3", digest)
    assert res.code == 2 and why in res.err and "pulumi up" in res.err, res.text
    assert "nothing was changed" not in res.err

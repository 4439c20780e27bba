"""A log tree's sources are real directories. A symbolic link where a source would be (``DIR/loop -> DIR``,
a link to itself, a link to another host's logs) was taken for a source and read through: ``logs verify``
verified whatever it pointed at ("OK: 1 source(s)") and ``logs status`` counted it. Now verify reports it as
an error naming the link, status leaves it out of the sources, and neither reads through it.

Also: ``logs verify`` of a directory without sources said so with no hint, after a blank line."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.core.errors import UsageError
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey
from xzgov.logchain import source_statuses, verify_tree
from xzgov.logchain.chain import seal_day

KEY = SM2PrivateKey.generate()
AS_OF = dt.date(2026, 11, 3)  # the trees' newest seal is 2026-11-02, the day before


def sealed_source(root: Path, name: str = "web01", *, manifest: bool = True) -> Path:
    """A source with two sealed days (and, with ``manifest``, recorded in the tree's signed manifest)."""
    source = root / name
    source.mkdir(parents=True)
    for day in ("2026-11-01", "2026-11-02"):
        (source / f"{day}.log").write_bytes(f"{day}T10:00:00+08:00 {name} sshd[1]: event\n".encode())
        seal_day(source, day, KEY, manifest=manifest)
    return source


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "centre.pub.pem"
    keys.write_public_key(path, KEY.public_key)
    return path


def test_linked_sources_are_errors_and_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "centre"
    sealed_source(root)
    elsewhere = sealed_source(tmp_path / "other-centre", "db01", manifest=False)  # valid, same key
    links = {"loop": root, "elsewhere": elsewhere, "self": root / "self"}
    for name, target in links.items():
        (root / name).symlink_to(target)
    report = verify_tree(root, [KEY.public_key], as_of=AS_OF)
    by_name = {s.source: s for s in report.sources}
    assert by_name["web01"].ok and by_name["web01"].verified_days == 2
    assert not report.ok
    for name in links:
        linked = by_name[name]
        first = linked.first_break
        assert first is not None and first.kind == "symlink-source", linked.findings
        assert first.file == str(root / name) and "symbolic link" in first.message and first.hint
        assert linked.sealed_days == linked.verified_days == linked.bytes == 0  # nothing read through it
    assert str(elsewhere) in by_name["elsewhere"].first_break.message  # type: ignore[union-attr]
    assert "loop" in by_name["self"].first_break.message  # type: ignore[union-attr]


def test_an_expected_source_replaced_by_a_link_is_not_read_through(tmp_path: Path) -> None:
    """The signed manifest names web01; web01 made a link to another host's (valid) logs."""
    root = tmp_path / "centre"
    source = sealed_source(root)
    assert verify_tree(root, [KEY.public_key], as_of=AS_OF).ok
    impostor = sealed_source(tmp_path / "elsewhere", "web01", manifest=False)
    for day_file in source.iterdir():
        day_file.unlink()
    source.rmdir()
    source.symlink_to(impostor)
    report = verify_tree(root, [KEY.public_key], as_of=AS_OF)
    assert not report.ok
    assert [(s.source, s.first_break.kind if s.first_break else "") for s in report.sources] == [
        ("web01", "symlink-source")]


def test_cli_verify_of_a_tree_holding_only_a_loop_fails_naming_the_link(
        tmp_path: Path, pub: Path, cli: Callable[..., CliResult]) -> None:
    root = tmp_path / "centre"
    root.mkdir()
    (root / "loop").symlink_to(root)
    result = cli("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-11-03", "--no-manifest")
    assert result.code == 1, result.text  # tampering found, not "OK: 1 source(s)"
    assert f"{root / 'loop'}: error" in result.out and "symbolic link" in result.out, result.out
    assert "OK:" not in result.out and "hint:" in result.out


def test_status_neither_counts_nor_follows_a_linked_source(
        tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    root = tmp_path / "centre"
    sealed_source(root)
    (root / "loop").symlink_to(root)
    (root / "self").symlink_to(root / "self")
    result = cli("logs", "status", root, "--silent-minutes", "100000000")
    assert "1 source(s)" in result.out, result.out  # was 2: the loop counted (and read through)
    # named, and the exit code says something is wrong in the tree (as `logs verify` does)
    assert result.code == 1 and f"warning: {root / 'loop'} is a symbolic link" in result.err, result.err
    assert [s.source for s in source_statuses(root)] == ["web01"]
    from xzgov.logchain.status import linked_sources

    assert [(link.source, link.path) for link in linked_sources(root)] == [
        ("loop", str(root / "loop")), ("self", str(root / "self"))]
    assert "symbolic link" in linked_sources(root)[0].message()
    listed = json.loads(cli("logs", "status", root, "--silent-minutes", "100000000", "--format", "json").out)
    assert [link["source"] for link in listed["linked"]] == ["loop", "self"]


def test_cli_verify_of_an_empty_directory_says_what_a_tree_is(
        tmp_path: Path, pub: Path, cli: Callable[..., CliResult]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("logs", "verify", empty, "--trusted-key", pub)
    assert result.code == 2, result.text  # docs: 2 unreadable directory or key, usage error
    assert "" not in result.err.splitlines(), repr(result.err)  # no blank line before the diagnostic
    assert "no source directory found" in result.err and "hint:" in result.err, result.err
    assert "one directory per source" in result.err, result.err


def test_cli_status_of_a_tree_without_sources_is_a_usage_error(
        tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """A monitoring job pointed at an empty (unmounted) or wrong directory must not read "0 silent" as all quiet."""
    empty = tmp_path / "empty"
    empty.mkdir()
    for fmt in ("text", "json"):
        result = cli("logs", "status", empty, "--format", fmt)
        assert result.code == 2 and result.out == "", result.text  # was exit 0: "0 source(s), 0 silent"
        assert "no source directory found" in result.err and "one directory per source" in result.err, result.err
    source = sealed_source(tmp_path / "centre")  # one source's own directory given instead of the tree's
    result = cli("logs", "status", source)
    assert result.code == 2 and "holds day files" in result.err and "the directory above it" in result.err
    assert "--single-source" not in result.err, result.err  # an option `logs verify` has and status has not
    assert cli("logs", "status", source.parent, "--silent-minutes", "100000000").code == 0


def test_cli_verify_of_an_unknown_source_lists_those_there(
        tmp_path: Path, pub: Path, cli: Callable[..., CliResult]) -> None:
    root = tmp_path / "centre"
    sealed_source(root)
    result = cli("logs", "verify", root, "--trusted-key", pub, "--source", "nope", "--as-of", "2026-11-03")
    assert result.code == 2, result.text
    assert "hint:" in result.err and "web01" in result.err, result.err


def test_a_directory_of_day_files_points_at_single_source(tmp_path: Path) -> None:
    source = sealed_source(tmp_path / "centre", manifest=False)
    with pytest.raises(UsageError) as raised:
        verify_tree(source, [KEY.public_key], as_of=AS_OF, require_manifest=False)
    assert "--single-source" in raised.value.message
    assert "--single-source" in raised.value.diagnostics[0].hint

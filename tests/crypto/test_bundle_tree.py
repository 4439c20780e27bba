"""A bundle's directory tree holds what it signs and nothing else: an unsigned file in any subdirectory (not
only beside the bundle) and an empty directory it does not record are ``added``; ``sign`` records the empty
directories of a tree it signs and refuses to write a bundle that could not verify."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.core.errors import UsageError
from xzgov.crypto import bundle, keys, sm2

Cli = Callable[..., CliResult]


def _report_set(root: Path, key: sm2.SM2PrivateKey) -> tuple[Path, list[str]]:
    """A report set as `xzgov scan --out` signs it: files beside the bundle and one directory signed as a tree."""
    (root / "report-pages").mkdir(parents=True)
    (root / "report.html").write_text("<p>符合</p>", encoding="utf-8")
    (root / "compliance-report.json").write_text("{}", encoding="utf-8")
    (root / "report-pages" / "system-a.html").write_text("<p>a</p>", encoding="utf-8")
    out = bundle.sign_files([root / "report.html", root / "compliance-report.json", root / "report-pages"], key,
                            root / "xzgov-bundle.json")
    return out, [keys.fingerprint(key.public_key)]


def test_an_unsigned_subdirectory_beside_the_bundle_fails(tmp_path: Path, key: sm2.SM2PrivateKey, cli: Cli) -> None:
    """The reviewer's case: `mkdir v/old-pages; cp report.html v/old-pages/` verified "OK"."""
    out, trusted = _report_set(tmp_path / "v", key)
    assert bundle.verify_bundle(out, trusted).ok
    (tmp_path / "v" / "old-pages").mkdir()
    shutil.copy(tmp_path / "v" / "report.html", tmp_path / "v" / "old-pages" / "report.html")
    (tmp_path / "v" / "old-pages" / "deeper").mkdir()
    (tmp_path / "v" / "old-pages" / "deeper" / "x.json").write_text("{}")
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.signature_valid and not result.missing and not result.changed
    assert result.added == ["old-pages/deeper/x.json", "old-pages/report.html"]
    assert any("old-pages/report.html: unsigned file" in p for p in result.problems)
    run = cli("verify", out, "--trusted-fingerprint", trusted[0])
    assert run.code == 1 and "old-pages/report.html" in run.err and "OK" not in run.out


@pytest.mark.parametrize("where", ["report-pages/empty", "empty", "report-pages/a/b"])
def test_an_empty_directory_made_after_signing_fails(tmp_path: Path, key: sm2.SM2PrivateKey, where: str) -> None:
    """An empty directory inside the signed `report-pages/` (or beside the bundle) passed: it is reported."""
    out, trusted = _report_set(tmp_path / "v", key)
    (tmp_path / "v" / where).mkdir(parents=True)
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.added == [where]
    assert any(f"{where}/: empty directory" in p for p in result.problems)
    (tmp_path / "v" / where).rmdir()
    if where == "report-pages/a/b":  # its parent, empty now, is reported in turn
        assert bundle.verify_bundle(out, trusted).added == ["report-pages/a"]
        (tmp_path / "v" / "report-pages" / "a").rmdir()
    assert bundle.verify_bundle(out, trusted).ok


def test_an_empty_directory_in_a_signed_tree_is_recorded(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    root = tmp_path / "evidence"
    (root / "records" / "later").mkdir(parents=True)
    (root / "records" / "a.txt").write_text("a")
    out = bundle.sign_files([root / "records"], key, root / "b.json")
    trusted = [keys.fingerprint(key.public_key)]
    signed = bundle.load_bundle(out)[1]["signed"]
    assert signed["directories"] == ["records", "records/later"]
    assert bundle.verify_bundle(out, trusted).ok
    (root / "records" / "later" / "x.txt").write_text("x")  # a file put in it afterwards is unsigned
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.added == ["records/later/x.txt"]
    (root / "records" / "later" / "x.txt").unlink()
    assert bundle.verify_bundle(out, trusted).ok
    (root / "records" / "later").rmdir()  # a signed (empty) directory gone: the tree is not the one signed
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.missing == ["records/later/"] and not result.added
    (root / "records" / "later").write_text("")  # a file in its place: missing, and an unsigned file
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.missing == ["records/later/"] and result.added == ["records/later"]


def test_a_file_signed_in_a_subdirectory_does_not_cover_its_neighbours(
        tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    root = tmp_path / "evidence"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "signed.txt").write_text("s")
    out = bundle.sign_files([root / "sub" / "signed.txt"], key, root / "b.json")
    trusted = [keys.fingerprint(key.public_key)]
    assert bundle.verify_bundle(out, trusted).ok
    (root / "sub" / "stale.txt").write_text("stale")
    assert bundle.verify_bundle(out, trusted).added == ["sub/stale.txt"]


def test_sign_refuses_what_verify_would_report(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    root = tmp_path / "evidence"
    (root / "old").mkdir(parents=True)
    (root / "old" / "report.json").write_text("{}")
    (root / "a.txt").write_text("a")
    with pytest.raises(UsageError, match=r"old/report\.json beside it would not be signed"):
        bundle.sign_files([root / "a.txt"], key, root / "b.json")
    shutil.rmtree(root / "old")
    (root / "empty").mkdir()
    with pytest.raises(UsageError, match="empty/ beside it would not be signed"):
        bundle.sign_files([root / "a.txt"], key, root / "b.json")
    assert not (root / "b.json").exists()
    out = bundle.sign_files([root / "a.txt", root / "empty"], key, root / "b.json")  # signed as a directory
    assert bundle.verify_bundle(out, [keys.fingerprint(key.public_key)]).ok


def test_a_listed_file_replaced_by_a_link_is_changed_once(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    out, trusted = _report_set(tmp_path / "v", key)
    elsewhere = tmp_path / "copy.json"
    shutil.copy(tmp_path / "v" / "compliance-report.json", elsewhere)
    (tmp_path / "v" / "compliance-report.json").unlink()
    (tmp_path / "v" / "compliance-report.json").symlink_to(elsewhere)
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.changed == ["compliance-report.json"] and result.added == []
    assert any("symbolic links are not followed" in p for p in result.problems)


def test_a_subdirectory_that_cannot_be_listed_is_reported(tmp_path: Path, key: sm2.SM2PrivateKey,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """os.walk skipped a directory it could not list (permission denied): unsigned files could hide there."""
    out, trusted = _report_set(tmp_path / "v", key)
    hidden = tmp_path / "v" / "hidden"
    hidden.mkdir()
    (hidden / "x").write_text("x")
    real_walk = os.walk

    def walk(top: str, onerror: Callable[[OSError], object] | None = None, followlinks: bool = False
             ) -> object:
        for root, dirs, files in real_walk(top, onerror=onerror, followlinks=followlinks):
            if "hidden" in dirs and onerror is not None:  # what os.walk does when scandir(hidden) fails
                dirs.remove("hidden")
                onerror(PermissionError(13, "Permission denied", os.path.join(root, "hidden")))
            yield root, dirs, files

    monkeypatch.setattr(os, "walk", walk)
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and result.added == ["hidden"]
    assert any("hidden: directory that cannot be listed" in p for p in result.problems)


def test_a_bundle_in_a_large_unrelated_tree_fails_without_walking_all_of_it(
        tmp_path: Path, key: sm2.SM2PrivateKey, monkeypatch: pytest.MonkeyPatch) -> None:
    from xzgov.crypto.bundle import verify

    out, trusted = _report_set(tmp_path / "v", key)
    (tmp_path / "v" / "home").mkdir()
    for index in range(30):
        (tmp_path / "v" / "home" / f"f{index:02}").write_text("x")
    monkeypatch.setattr(verify, "MAX_ADDED", 10)
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and len(result.added) == 10
    assert any("more than 10 unsigned entries" in p for p in result.problems)


def test_a_file_name_that_is_not_utf8_is_refused_naming_it(tmp_path: Path, key: sm2.SM2PrivateKey, cli: Cli) -> None:
    # `xzgov sign set` crashed (exit 3, UnicodeEncodeError) on such a name; verify already reported it as added
    root = tmp_path / "set"
    root.mkdir()
    (root / "a.txt").write_text("a")
    bad = os.fsencode(root) + b"/bad\xff.txt"
    with open(bad, "wb") as handle:
        handle.write(b"x")
    with pytest.raises(UsageError) as refused:
        bundle.sign_files([root], key, tmp_path / "b.json")
    assert "not valid UTF-8" in refused.value.message and "\\udcff" in refused.value.message
    keys.write_private_key(tmp_path / "k.pem", key)
    run = cli("sign", root, "--key", tmp_path / "k.pem", "--out", tmp_path / "b.json")
    assert run.code == 2 and "not valid UTF-8" in run.err and not (tmp_path / "b.json").exists()

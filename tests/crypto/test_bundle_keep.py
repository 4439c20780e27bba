"""``verify_bundle(..., keep=[...])``: the bytes a caller uses are the bytes whose SM3 the verification checked.

A file verified and then opened again may have been replaced in between (verify-then-re-read): the kept bytes
are read once, digested, compared with the signed digest and size, and handed back by
``VerifyResult.content``; a file that does not match, or a bundle that does not verify, hands back nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

ORIGINAL = b'{"report": "as signed"}\n'


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def _signed(directory: Path, key: SM2PrivateKey, content: bytes = ORIGINAL) -> Path:
    directory.mkdir()
    (directory / "report.json").write_bytes(content)
    (directory / "other.txt").write_bytes(b"not kept\n")
    return bundle.sign_files([directory / "report.json", directory / "other.txt"], key,
                             directory / bundle.DEFAULT_NAME)


def _pinned(key: SM2PrivateKey) -> list[str]:
    return [keys.fingerprint(key.public_key)]


def test_kept_bytes_are_the_verified_ones_even_after_the_file_is_replaced(tmp_path: Path,
                                                                         key: SM2PrivateKey) -> None:
    signed = _signed(tmp_path / "set", key)
    result = bundle.verify_bundle(signed, _pinned(key), keep=["report.json"])
    assert result.ok
    (tmp_path / "set" / "report.json").write_bytes(b'{"report": "swapped after verification"}\n')
    assert result.content("report.json") == ORIGINAL


def test_a_file_not_kept_or_a_failed_verification_hands_back_nothing(tmp_path: Path, key: SM2PrivateKey) -> None:
    signed = _signed(tmp_path / "set", key)
    result = bundle.verify_bundle(signed, _pinned(key), keep=["report.json"])
    with pytest.raises(ValueError, match="not kept"):
        result.content("other.txt")
    untrusted = bundle.verify_bundle(signed, [keys.fingerprint(SM2PrivateKey.generate().public_key)],
                                     keep=["report.json"])
    assert not untrusted.ok
    with pytest.raises(ValueError, match="does not verify"):
        untrusted.content("report.json")


@pytest.mark.parametrize("change", ["edited", "grown", "linked"])
def test_a_kept_file_changed_before_verification_is_changed_and_not_handed_back(
        tmp_path: Path, key: SM2PrivateKey, change: str) -> None:
    signed = _signed(tmp_path / "set", key)
    report = tmp_path / "set" / "report.json"
    if change == "edited":
        report.write_bytes(ORIGINAL.replace(b"as signed", b"as edited"))
    elif change == "grown":  # read up to the signed size and one byte more: the rest is never read
        report.write_bytes(ORIGINAL + b" " * 5_000_000)
    else:
        (tmp_path / "elsewhere.json").write_bytes(ORIGINAL)
        report.unlink()
        os.symlink(tmp_path / "elsewhere.json", report)
    result = bundle.verify_bundle(signed, _pinned(key), keep=["report.json"])
    assert not result.ok and result.changed == ["report.json"]
    assert "report.json" not in result.kept
    with pytest.raises(ValueError):
        result.content("report.json")


def test_keeping_a_file_does_not_change_what_verification_reports(tmp_path: Path, key: SM2PrivateKey) -> None:
    signed = _signed(tmp_path / "set", key)
    (tmp_path / "set" / "report.json").write_bytes(b"changed")
    (tmp_path / "set" / "stale.json").write_bytes(b"{}")
    plain = bundle.verify_bundle(signed, _pinned(key))
    kept = bundle.verify_bundle(signed, _pinned(key), keep=["report.json", "stale.json", "absent.json"])
    assert plain.to_json() == kept.to_json() and not kept.kept

"""Signed evidence bundles: API, exhaustive tamper detection, missing/added/changed reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xzgov.crypto import bundle, keys, sm2
from xzgov.crypto.sm3 import sm3
from xzgov.errors import UsageError


def _evidence(root: Path) -> list[Path]:
    (root / "reports").mkdir(parents=True)
    first = root / "reports" / "dengbao.json"
    first.write_text('{"level": 3, "结论": "符合"}\n', encoding="utf-8")
    second = root / "notes.txt"
    second.write_bytes(b"ok\n")
    return [root / "reports", second]


def test_sign_and_verify(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    paths = _evidence(tmp_path)
    out = bundle.sign_files(paths, key, tmp_path / "evidence.json")
    data = json.loads(out.read_text(encoding="utf-8"))
    signed = data["signed"]
    assert [f["path"] for f in signed["files"]] == ["notes.txt", "reports/dengbao.json"]
    assert signed["files"][0]["sm3"] == sm3(b"ok\n").hex()
    assert signed["signer"]["fingerprint"] == keys.fingerprint(key.public_key)
    assert signed["directories"] == ["reports"] and signed["uid"] == "1234567812345678"
    assert out.read_bytes() == bundle.render_bundle(data)
    result = bundle.verify_bundle(out)
    assert result.ok and result.key_trusted is None and result.files == ["notes.txt", "reports/dengbao.json"]
    trusted = bundle.verify_bundle(out, [keys.fingerprint(key.public_key).upper()])
    assert trusted.ok and trusted.key_trusted is True
    other = bundle.verify_bundle(out, [keys.fingerprint(sm2.SM2PrivateKey.generate().public_key)])
    assert not other.ok and other.key_trusted is False and other.signature_valid
    assert any("not one of the trusted keys" in p for p in other.problems)


def test_missing_added_changed_are_named(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    out = bundle.sign_files(_evidence(tmp_path), key, tmp_path / "b.json")
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "reports" / "new.json").write_text("{}")
    (tmp_path / "reports" / "dengbao.json").write_text("{}")
    result = bundle.verify_bundle(out)
    assert not result.ok and result.signature_valid
    assert (result.missing, result.added, result.changed) == (["notes.txt"], ["reports/new.json"],
                                                              ["reports/dengbao.json"])
    assert {d.code for d in result.diagnostics()} == {"missing", "added", "changed"}


def test_signature_by_another_key_is_rejected(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    out = bundle.sign_files(_evidence(tmp_path), key, tmp_path / "b.json")
    data = json.loads(out.read_text(encoding="utf-8"))
    impostor = sm2.SM2PrivateKey.generate()
    data["signed"]["signer"] = {"fingerprint": keys.fingerprint(impostor.public_key),
                                "public_key": keys.public_key_to_pem(impostor.public_key)}
    out.write_bytes(bundle.render_bundle(data))
    result = bundle.verify_bundle(out)
    assert not result.signature_valid and not result.ok
    resigned = bundle.sign_files(_evidence(tmp_path / "x"), impostor, tmp_path / "x" / "b.json")
    assert not bundle.verify_bundle(resigned, [keys.fingerprint(key.public_key)]).ok


def test_files_outside_bundle_dir_and_unreadable_bundles(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="outside"):
        bundle.sign_files([tmp_path / "f"], key, tmp_path / "a" / "b.json")
    with pytest.raises(UsageError, match="no such file"):
        bundle.sign_files([tmp_path / "nope"], key, tmp_path / "b.json")
    with pytest.raises(UsageError, match="cannot read bundle"):
        bundle.verify_bundle(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(UsageError, match="not an xzgov-signed-bundle"):
        bundle.verify_bundle(tmp_path / "junk.json")


def test_path_traversal_in_bundle_is_refused(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    out = bundle.sign_files(_evidence(tmp_path), key, tmp_path / "b.json")
    data = json.loads(out.read_text(encoding="utf-8"))
    data["signed"]["files"][0]["path"] = "../etc/passwd"
    out.write_bytes(bundle.render_bundle(data))
    result = bundle.verify_bundle(out)
    assert not result.ok and any("leaves" in p for p in result.problems)


def _verdict(path: Path) -> bool:
    try:
        return bundle.verify_bundle(path).ok
    except UsageError:
        return False


def test_every_single_byte_change_is_detected(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    signed_file = tmp_path / "r.txt"
    signed_file.write_bytes(b"level=3;ok")
    out = bundle.sign_files([signed_file], key, tmp_path / "b.json")
    assert _verdict(out)
    original = out.read_bytes()
    for position in range(len(original)):
        tampered = bytearray(original)
        tampered[position] ^= 0x01
        out.write_bytes(bytes(tampered))
        assert not _verdict(out), f"bundle byte {position} change undetected"
    out.write_bytes(original)
    content = signed_file.read_bytes()
    for position in range(len(content)):
        for flip in (0x01, 0x80):
            tampered = bytearray(content)
            tampered[position] ^= flip
            signed_file.write_bytes(bytes(tampered))
            result = bundle.verify_bundle(out)
            assert result.changed == ["r.txt"] and not result.ok
    signed_file.write_bytes(content)
    assert _verdict(out)

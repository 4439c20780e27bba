"""Signed evidence bundles: API, exhaustive tamper detection, missing/added/changed reports."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from xzgov.core.errors import UsageError
from xzgov.crypto import bundle, keys, sm2
from xzgov.crypto.sm3 import sm3


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
    result = bundle.verify_bundle(out, any_signer=True)  # explicit opt-out of signer pinning
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
    result = bundle.verify_bundle(out, [keys.fingerprint(key.public_key)])
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
    result = bundle.verify_bundle(out, any_signer=True)
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
    result = bundle.verify_bundle(out, any_signer=True)
    assert not result.ok and any("leaves" in p for p in result.problems)


def _verdict(path: Path) -> bool:
    try:
        return bundle.verify_bundle(path, any_signer=True).ok
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
            result = bundle.verify_bundle(out, any_signer=True)
            assert result.changed == ["r.txt"] and not result.ok
    signed_file.write_bytes(content)
    assert _verdict(out)


def test_non_canonical_signature_base64_is_rejected(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    """Finding 1: the spare bits of the last base64 character must not be ignored (it made the
    byte-flip test above fail about one run in eleven)."""
    signed_file = tmp_path / "r.txt"
    signed_file.write_bytes(b"x")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for _ in range(200):  # DER signatures are 70-72 bytes: most end in '=' or '=='
        out = bundle.sign_files([signed_file], key, tmp_path / "b.json")
        data = json.loads(out.read_text(encoding="utf-8"))
        text = data["signature"]
        if text.endswith("="):
            break
    else:  # pragma: no cover - probability 2^-200
        pytest.fail("no padded signature in 200 attempts")
    stem = text.rstrip("=")
    sibling = alphabet[alphabet.index(stem[-1]) ^ 1]  # flips a spare bit only
    altered = stem[:-1] + sibling + text[len(stem):]
    assert base64.b64decode(altered) == base64.b64decode(text) and altered != text
    data["signature"] = altered
    out.write_bytes(bundle.render_bundle(data))
    result = bundle.verify_bundle(out, [keys.fingerprint(key.public_key)])
    assert not result.ok and not result.signature_valid


def test_default_requires_a_trusted_signer(tmp_path: Path, key: sm2.SM2PrivateKey,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 5: an attacker's self-signed bundle must not verify just because it is self-consistent."""
    # each bundle in a directory of its own: the trust store and the other bundle's tree below it would be
    # unsigned entries of its directory tree
    out = bundle.sign_files(_evidence(tmp_path / "own"), key, tmp_path / "own" / "b.json")
    attacker = sm2.SM2PrivateKey.generate()
    forged = bundle.sign_files(_evidence(tmp_path / "atk"), attacker, tmp_path / "atk" / "b.json")
    for path in (out, forged):
        result = bundle.verify_bundle(path)  # no trust configured
        assert not result.ok and result.signature_valid and result.key_trusted is False
        assert any(p.startswith(bundle.NOT_TRUSTED) for p in result.problems)
    # trust store: a directory of *.pub.pem
    store = tmp_path / "trusted"
    store.mkdir()
    keys.write_public_key(store / "signer.pub.pem", key.public_key)
    (store / "ignored.txt").write_text("not a key")
    monkeypatch.setenv(bundle.TRUSTED_KEYS_ENV, str(store))
    assert bundle.verify_bundle(out).ok
    assert not bundle.verify_bundle(forged).ok
    # trust store: a file of fingerprints
    listing = store / "fingerprints.txt"  # not in a bundle's directory: that would be an unsigned file there
    listing.write_text(f"# release signers\n\n{keys.fingerprint(attacker.public_key).upper()}  # old\n")
    monkeypatch.setenv(bundle.TRUSTED_KEYS_ENV, str(listing))
    assert bundle.verify_bundle(forged).ok and not bundle.verify_bundle(out).ok
    # an explicit list wins over the environment
    assert bundle.verify_bundle(out, [keys.fingerprint(key.public_key)]).ok
    listing.write_text("not-a-fingerprint\n")
    with pytest.raises(UsageError, match="not a key fingerprint"):
        bundle.verify_bundle(out)
    monkeypatch.setenv(bundle.TRUSTED_KEYS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="cannot read trust store"):
        bundle.verify_bundle(out)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(bundle.TRUSTED_KEYS_ENV, str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="holds no trusted key"):
        bundle.verify_bundle(out)


def _signed_reports(tmp_path: Path, key: sm2.SM2PrivateKey) -> tuple[Path, Path, list[str]]:
    root = tmp_path / "root"
    (root / "reports" / "sub").mkdir(parents=True)
    (root / "reports" / "a.json").write_text("{}")
    (root / "reports" / "sub" / "b.json").write_text("[]")
    out = bundle.sign_files([root / "reports"], key, root / "b.json")
    return root, out, [keys.fingerprint(key.public_key)]


def test_symlinks_and_special_files_in_signed_directory_are_reported(
        tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    """Finding 6 (reviewer's poc2): symbolic links and FIFOs added to a signed directory."""
    root, out, trusted = _signed_reports(tmp_path, key)
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "evil.sh").write_text("rm -rf /")
    (outside / "sub" / "x").write_text("x")
    (root / "reports" / "run.sh").symlink_to(outside / "evil.sh")
    (root / "reports" / "more").symlink_to(outside / "sub", target_is_directory=True)
    (root / "reports" / "dangling").symlink_to(outside / "nothing")
    os.mkfifo(root / "reports" / "fifo")
    result = bundle.verify_bundle(out, trusted)  # must not hang on the FIFO
    assert not result.ok and result.signature_valid and not result.changed and not result.missing
    assert result.added == ["reports/dangling", "reports/fifo", "reports/more", "reports/run.sh"]
    assert any("FIFO" in p for p in result.problems)
    assert any("symbolic link to a directory" in p for p in result.problems)


def test_listed_file_replaced_by_symlink_is_not_followed(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    root, out, trusted = _signed_reports(tmp_path, key)
    assert bundle.verify_bundle(out, trusted).ok
    copy = tmp_path / "copy.json"
    copy.write_text("{}")  # identical content elsewhere
    (root / "reports" / "a.json").unlink()
    (root / "reports" / "a.json").symlink_to(copy)
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and "reports/a.json" in result.changed
    (root / "reports" / "a.json").unlink()
    (root / "reports" / "a.json").write_text("{}")
    assert bundle.verify_bundle(out, trusted).ok
    # a symlinked parent directory with the same content
    mirror = tmp_path / "mirror"
    (mirror).mkdir()
    (mirror / "b.json").write_text("[]")
    (root / "reports" / "sub" / "b.json").unlink()
    (root / "reports" / "sub").rmdir()
    (root / "reports" / "sub").symlink_to(mirror, target_is_directory=True)
    result = bundle.verify_bundle(out, trusted)
    assert not result.ok and "reports/sub/b.json" in result.changed
    assert any("symbolic link" in p for p in result.problems)


def test_signing_refuses_symlinks_and_special_files(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    root = tmp_path / "root"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "a.json").write_text("{}")
    (tmp_path / "secret").write_text("outside")
    (root / "reports" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UsageError, match="symbolic link"):
        bundle.sign_files([root / "reports"], key, root / "b.json")
    with pytest.raises(UsageError, match="symbolic link"):
        bundle.sign_files([root / "reports" / "link"], key, root / "b.json")
    (root / "reports" / "link").unlink()
    os.mkfifo(root / "reports" / "fifo")
    with pytest.raises(UsageError, match="FIFO"):
        bundle.sign_files([root / "reports"], key, root / "b.json")
    with pytest.raises(UsageError, match="FIFO"):
        bundle.sign_files([root / "reports" / "fifo"], key, root / "b.json")
    (root / "reports" / "fifo").unlink()
    (root / "linked").symlink_to(root / "reports", target_is_directory=True)
    with pytest.raises(UsageError, match="symbolic link"):
        bundle.sign_files([root / "linked" / "a.json"], key, root / "b.json")
    assert not (root / "b.json").exists()
    (root / "linked").unlink()  # a link beside the bundle is itself refused (unsigned entry beside it)
    out = bundle.sign_files([root / "reports"], key, root / "b.json")
    assert bundle.verify_bundle(out, [keys.fingerprint(key.public_key)]).ok


def _resigned(out: Path, key: sm2.SM2PrivateKey, change: object) -> Path:
    """The bundle ``out`` with its signed part changed by ``change`` and signed again by ``key`` (a signer who
    is trusted, so only the shape check can refuse it)."""
    data = json.loads(out.read_text(encoding="utf-8"))
    change(data["signed"])  # type: ignore[operator]
    uid = data["signed"]["uid"].encode("ascii")
    data["signature"] = base64.b64encode(sm2.sign(key, bundle.canonical_json(data["signed"]), uid=uid)).decode()
    out.write_bytes(bundle.render_bundle(data))
    return out


@pytest.mark.parametrize(("change", "problem"), [
    (lambda s: s["files"].append(dict(s["files"][0])), "a file listed twice"),
    (lambda s: (s["files"].clear(), s["directories"].clear()), "an empty file list"),
    (lambda s: s["files"][0].update(size=True), "malformed file list"),
    (lambda s: s["files"][0].update(size=-1), "malformed file list"),
    (lambda s: s.update(uid=""), "malformed uid"),
])
def test_a_validly_signed_bundle_of_the_wrong_shape_is_refused(tmp_path: Path, key: sm2.SM2PrivateKey,
                                                               change: object, problem: str) -> None:
    """A trusted signer's bundle listing a file twice (counted twice: "3 files verified" for 2), nothing at
    all, a size of true or -1, or an empty SM2 ID verified; each is refused, naming what is wrong."""
    out = _resigned(bundle.sign_files(_evidence(tmp_path), key, tmp_path / "b.json"), key, change)
    result = bundle.verify_bundle(out, [keys.fingerprint(key.public_key)])
    assert not result.ok and any(problem in p for p in result.problems), result.problems


@pytest.mark.parametrize("where", ["signing key", "other key", "across chunks", "encrypted", "vault key",
                                   "service master key", "service HMAC keys"])
def test_signing_refuses_a_private_key_in_the_set(tmp_path: Path, key: sm2.SM2PrivateKey, where: str) -> None:
    """A private key in what is signed (the signing key kept beside the reports, another one, one inside a large
    file past the first read, an encrypted one) would be handed out with the set: refused, nothing written; a
    public key is fine."""
    from xzgov.crypto.sm3 import DEFAULT_CHUNK

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    (out / "signer.pub.pem").write_text(keys.public_key_to_pem(key.public_key))
    other = sm2.SM2PrivateKey.generate()
    if where == "signing key":
        (out / "signer.pem").write_text(keys.private_key_to_pem(key))
    elif where == "other key":
        (out / "notes.txt").write_text("kept here for now:\n" + keys.private_key_to_pem(other))
    elif where == "across chunks":
        armour = b"-----BEGIN PRIVATE KEY-----"
        (out / "trace.log").write_bytes(b"x" * (DEFAULT_CHUNK - 10) + armour + b"\n" + b"y" * 100)
    elif where == "encrypted":
        (out / "k.pem").write_text(keys.private_key_to_pem(other, b"a long passphrase 123", iterations=1000))
    elif where == "vault key":  # the SM4 master secret of every vaulted value: signed and handed out before
        from xzgov.crypto import vault

        vault.write_vault_key(out / "vault.key", vault.VaultKey.generate())
    else:  # what `xzgov cryptosvc init` writes (xzgov.cryptosvc.setup)
        from xzgov.cryptosvc.setup import write_service_files

        write_service_files(tmp_path / "etc", tmp_path / "state", {"dept-a": "tenant"})
        name = "master.key" if where == "service master key" else "systems.yml"
        (out / name).write_bytes((tmp_path / "etc" / name).read_bytes())
    with pytest.raises(UsageError) as refused:
        bundle.sign_files([out], key, out / "xzgov-bundle.json")
    assert "private key" in refused.value.message
    assert [d.code for d in refused.value.diagnostics] == ["private-key"]
    assert not (out / "xzgov-bundle.json").exists()
    for stray in out.glob("*"):
        if (stray.suffix in (".pem", ".key", ".yml") and "pub" not in stray.name) or \
                stray.name in ("notes.txt", "trace.log"):
            stray.unlink()
    assert bundle.sign_files([out], key, out / "xzgov-bundle.json").exists()

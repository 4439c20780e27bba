"""Adversarial review of the crypto commands: special files, stale files beside a bundle, partial
rekeys, line endings, moved vault files, key outputs that collide, hostile bundles and keys, exit
codes, and terminal output. Each test failed on the code before the fix."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from tests.cli import CliResult
from xzgov.core import fsutil
from xzgov.crypto import bundle, der, keys, sm2, vault
from xzgov.crypto.files import BUNDLE_LIMIT

Cli = Callable[..., CliResult]
KEY = sm2.SM2PrivateKey.generate()
FP = keys.fingerprint(KEY.public_key)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XZGOV_TRUSTED_KEYS", "XZGOV_KEY_PASSPHRASE", "XZGOV_VAULT_KEY_FILE", "XZGOV_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def vault_key_file(tmp_path: Path) -> tuple[vault.VaultKey, Path]:
    key = vault.VaultKey.generate()
    path = tmp_path / "vault.key"
    vault.write_vault_key(path, key)
    return key, path


@contextlib.contextmanager
def deadline(seconds: int = 5) -> Iterator[None]:
    """Interrupt a call that blocks (a FIFO opened for reading) instead of hanging the test run."""
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(errno.ETIMEDOUT, "blocked: the FIFO was opened")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _signed_dir(root: Path) -> Path:
    """``root/ev`` with two signed files and the bundle ``b.json``; returns the bundle."""
    evidence = root / "ev"
    evidence.mkdir(parents=True)
    (evidence / "a.json").write_text("{}\n")
    (evidence / "b.txt").write_text("ok\n")
    return bundle.sign_files([evidence / "a.json", evidence / "b.txt"], KEY, evidence / "b.json")


# ------------------------------------------------------------------ 1. FIFOs, devices, size caps


def test_fifo_as_any_crypto_input_is_a_located_usage_error(tmp_path: Path, cli: Cli,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    signed = _signed_dir(tmp_path)
    runs = {
        "keys show": ("keys", "show", fifo),
        "keys fingerprint": ("keys", "fingerprint", fifo),
        "sign --key": ("sign", signed.parent / "a.json", "--key", fifo, "--out", tmp_path / "x.json"),
        "verify --trusted-key": ("verify", signed, "--trusted-key", fifo),
        "verify bundle": ("verify", fifo, "--any-signer"),
        "vault --key-file": ("vault", "encrypt-string", "--field", "x", "--key-file", fifo),
        "vault view": ("vault", "view", fifo, "--key-file", fifo),
    }
    for name, args in runs.items():
        with deadline():
            result = cli(*args)
        assert result.code == 2, (name, result.text)
        assert "FIFO" in result.err and str(fifo) in result.err, (name, result.text)
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(fifo))  # trust store file
    with deadline():
        result = cli("verify", signed)
    assert result.code == 2 and "FIFO" in result.err and "trust store" in result.err, result.text
    store = tmp_path / "store"
    store.mkdir()
    os.mkfifo(store / "evil.pub.pem")  # trust store directory
    monkeypatch.setenv("XZGOV_TRUSTED_KEYS", str(store))
    with deadline():
        result = cli("verify", signed)
    assert result.code == 2 and "FIFO" in result.err, result.text


def test_devices_and_oversized_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="device"):
        keys.load_public_key("/dev/null")
    with pytest.raises(Exception, match="device"):
        vault.load_vault_key("/dev/zero")  # read to the end before: memory exhausted
    big_key = tmp_path / "big.pem"
    big_key.write_text("-" * (65 * 1024))
    with pytest.raises(Exception, match="too large"):
        keys.load_private_key(big_key)
    big_vault_key = tmp_path / "vault.key"
    big_vault_key.write_text(" " * 5000)
    with pytest.raises(Exception, match="too large"):
        vault.load_vault_key(big_vault_key)
    huge_bundle = tmp_path / "b.json"
    with huge_bundle.open("wb") as handle:
        handle.truncate(BUNDLE_LIMIT + 1)  # sparse
    with pytest.raises(Exception, match="too large"):
        bundle.verify_bundle(huge_bundle, any_signer=True)


# ------------------------------------------------------------------ 2. stale files beside a bundle


def test_unsigned_file_beside_the_bundle_fails_verification(tmp_path: Path, cli: Cli) -> None:
    signed = _signed_dir(tmp_path)
    assert bundle.verify_bundle(signed, [FP]).ok  # the bundle file itself is not "unsigned"
    (signed.parent / "stale-report.json").write_text('{"结论": "符合"}')
    result = bundle.verify_bundle(signed, [FP])
    assert not result.ok and result.added == ["stale-report.json"]
    run = cli("verify", signed, "--trusted-fingerprint", FP)
    assert run.code == 1 and "stale-report.json" in run.err and "OK" not in run.out
    # signing into a directory that holds other files is refused up front (it could not verify)
    (signed.parent / "other.txt").write_text("x")
    with pytest.raises(Exception, match="beside it would not be signed"):
        bundle.sign_files([signed.parent / "a.json"], KEY, signed.parent / "c.json")


# ------------------------------------------------------------------ 3. rekey is all or nothing


@pytest.mark.parametrize("step", ["stage_file", "install_file"])
def test_rekey_of_two_files_is_all_or_nothing(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                             vault_key_file: tuple[vault.VaultKey, Path], step: str) -> None:
    _, key_path = vault_key_file
    first, second = tmp_path / "f1.yml", tmp_path / "f2.yml"
    for path in (first, second):
        path.write_text("password: s3cr3t\n")
    assert cli("vault", "encrypt", first, second, "--key-file", key_path).code == 0
    before = first.read_bytes()
    real = getattr(fsutil, step)

    def failing(*args: object, **kwargs: object) -> object:
        if "f2.yml" in [a for a in args if isinstance(a, str)]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(fsutil, step, failing)
    result = cli("vault", "rekey", first, second, "--key-file", key_path)
    assert result.code != 0 and "No space left" in result.err
    assert first.read_bytes() == before  # F1 untouched (or put back) when F2 fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f1.yml", "f2.yml", "vault.key"]  # no temporaries


# ------------------------------------------------------------------ 4. line endings


def test_vault_encrypt_and_decrypt_keep_crlf_byte_exactly(tmp_path: Path, cli: Cli,
                                                          vault_key_file: tuple[vault.VaultKey, Path]) -> None:
    _, key_path = vault_key_file
    original = b"# secrets\r\ndb:\r\n  password: s3cr3t  # rotate\r\n  port: 5432\r\nmotd: 'hello'\r\n"
    path = tmp_path / "all.yml"
    path.write_bytes(original)
    assert cli("vault", "encrypt", path, "--key-file", key_path, "--field", "db.password").code == 0
    sealed = path.read_bytes()
    assert sealed.count(b"\r\n") == original.count(b"\r\n") == sealed.count(b"\n")
    assert cli("vault", "decrypt", path, "--key-file", key_path).code == 0
    assert path.read_bytes() == original


# ------------------------------------------------------------------ 5. a draft moved into the repository


def test_draft_vaulted_outside_the_repo_is_rescoped_after_onboarding(
    tmp_path: Path, cli: Cli, vault_key_file: tuple[vault.VaultKey, Path]
) -> None:
    key, key_path = vault_key_file
    draft = tmp_path / "drafts" / "idp.yaml"
    draft.parent.mkdir()
    draft.write_text("name: idp\ndb:\n  password: s3cr3t\n")
    assert cli("vault", "encrypt", draft, "--key-file", key_path, "--field", "db.password").code == 0
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "systems" / "dsjj").mkdir(parents=True)
    filed = repo / "systems" / "dsjj" / "idp.yaml"
    filed.write_bytes(draft.read_bytes())  # what onboarding does
    failed = cli("vault", "view", filed, "--key-file", key_path)
    assert failed.code == 1
    assert "moved or copied here" in failed.err and "vault rescope" in failed.err
    assert "--from-scope idp.yaml" in failed.err
    fixed = cli("vault", "rescope", filed, "--from-scope", "idp.yaml", "--key-file", key_path)
    assert fixed.code == 0, fixed.text
    assert "password: s3cr3t" in cli("vault", "view", filed, "--key-file", key_path).out
    # the API onboarding calls, before the target exists and under another name
    text = draft.read_text()
    target = repo / "systems" / "dsjj" / "new-name.yaml"
    assert vault.destination_scope(target) == "systems/dsjj/new-name.yaml"
    moved, count = vault.rescope_text(text, key, old_scope=vault.file_scope(draft),
                                      new_scope=vault.destination_scope(target), source=str(target))
    target.write_text(moved)
    assert count == 1 and vault.load_file_decrypted(target, key)["db"]["password"] == "s3cr3t"


# ------------------------------------------------------------------ 6. key outputs that collide


def test_keys_generate_refuses_the_same_file_for_private_and_public(tmp_path: Path, cli: Cli,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "k.pem"
    assert cli("keys", "generate", out).code == 0
    before = out.read_bytes()
    (tmp_path / "link.pem").symlink_to(out)
    os.link(out, tmp_path / "hard.pem")
    monkeypatch.chdir(tmp_path)
    for public in (out, tmp_path / "link.pem", tmp_path / "hard.pem", Path("k.pem"), tmp_path / "." / "k.pem"):
        result = cli("keys", "generate", out, "--public-out", public, "--force")
        assert result.code == 2 and "same file" in result.err, (public, result.text)
        assert out.read_bytes() == before and "PRIVATE KEY" in out.read_text()
    signing = cli("sign", tmp_path / "k.pub.pem", "--key", out, "--out", Path("k.pem"))
    assert signing.code == 2 and out.read_bytes() == before  # a bundle never replaces the signing key
    report = tmp_path / "ev" / "report.json"
    report.parent.mkdir()
    report.write_text("{}")
    replacing = cli("sign", report.parent, "--key", out, "--out", report)  # was: excluded, then overwritten
    assert replacing.code == 2 and "not a signed bundle" in replacing.err and report.read_text() == "{}"


# ------------------------------------------------------------------ 7. hostile bundles and keys


def _tampered(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    signed = _signed_dir(tmp_path)
    data = json.loads(signed.read_text(encoding="utf-8"))
    change(data)
    signed.write_bytes(bundle.render_bundle(data))
    return signed


def _files(data: dict[str, Any]) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = data["signed"]["files"]
    return files


@pytest.mark.parametrize("change", [
    lambda d: _files(d)[0].update(path="a\x00b"),
    lambda d: _files(d)[0].update(path="."),
    lambda d: _files(d)[0].update(path="./a.json"),
    lambda d: d["signed"].update(uid="1" * 70_000),
], ids=["nul-in-path", "dot-path", "non-normalised-path", "huge-uid"])
def test_hostile_bundle_fields_fail_verification_cleanly(tmp_path: Path, cli: Cli,
                                                         change: Callable[[dict[str, Any]], None]) -> None:
    signed = _tampered(tmp_path, change)
    result = cli("verify", signed, "--trusted-fingerprint", FP)
    assert result.code == 1 and str(signed) in result.err, result.text


def test_unparseable_bundles_are_usage_errors(tmp_path: Path, cli: Cli) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"signed": {"format": "xzgov-signed-bundle", "x": ' + "[" * 200_000 + "]" * 200_000 + "}}")
    surrogate = tmp_path / "surrogate.json"
    surrogate.write_text('{"signature": "", "signed": {"format": "xzgov-signed-bundle", "uid": "\\ud800"}}')
    huge = tmp_path / "huge.json"
    huge.write_text('{"signature": "", "signed": {"format": "xzgov-signed-bundle", "version": ' + "9" * 5000 + "}}")
    for path in (deep, surrogate, huge):
        result = cli("verify", path, "--any-signer")
        assert result.code == 2 and str(path) in result.err, result.text
    # Python's own refusal of a 5,000-digit number told the user to call sys.set_int_max_str_digits()
    result = cli("verify", huge, "--any-signer")
    assert "a number of 5,000 digits" in result.err and "set_int_max_str_digits" not in result.err


def _spki_with_oid(oid_body: bytes) -> bytes:
    algorithm = der.encode_sequence(der.encode_tlv(der.OID, oid_body), der.encode_oid(keys.OID_SM2_CURVE))
    return der.encode_sequence(algorithm, der.encode_bit_string(KEY.public_key.to_bytes()))


def test_public_key_with_a_huge_oid_is_a_clean_error(tmp_path: Path, cli: Cli) -> None:
    huge = b"\x2a" + b"\xff" * 2500 + b"\x7f"  # one arc of ~6,000 decimal digits
    with pytest.raises(der.DerError):
        der.as_oid(der.decode_single(der.encode_tlv(der.OID, huge)))
    pem = tmp_path / "huge.pub.pem"
    pem.write_text(keys.pem_encode("PUBLIC KEY", _spki_with_oid(huge)))
    result = cli("keys", "fingerprint", pem)
    assert result.code == 2 and str(pem) in result.err, result.text
    signed = _tampered(tmp_path, lambda d: d["signed"]["signer"].update(
        public_key=keys.pem_encode("PUBLIC KEY", _spki_with_oid(b"\x2a" + b"\xff" * 600 + b"\x7f"))))
    result = cli("verify", signed, "--trusted-fingerprint", FP)
    assert result.code == 1 and "signer public key unreadable" in result.err, result.text


# ------------------------------------------------------------------ 8. exit codes


def test_malformed_trusted_fingerprint_is_a_usage_error_in_diff_and_verify(tmp_path: Path, cli: Cli) -> None:
    reports = []
    for name in ("old", "new"):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "compliance-report.json").write_text('{"format": "xzgov-compliance-report"}')
        bundle.sign_files([directory / "compliance-report.json"], KEY, directory / "xzgov-bundle.json")
        reports.append(directory)
    for args in (("diff", *reports), ("verify", reports[0] / "xzgov-bundle.json")):
        result = cli(*args, "--trusted-fingerprint", "not-hex")
        assert result.code == 2 and "not a key fingerprint" in result.err, (args, result.text)


# ------------------------------------------------------------------ 9. terminal output


def test_crafted_names_cannot_fake_output_or_crash_rich(tmp_path: Path, cli: Cli) -> None:
    fake = "x\r\x1b[2K\x1b[32mOK: 9 file(s) verified\x1b[0m"
    signed = _tampered(tmp_path, lambda d: _files(d).append({"path": fake, "size": 0, "sm3": "0" * 64}))
    result = cli("verify", signed, "--trusted-fingerprint", FP)
    assert result.code == 1
    assert "\x1b" not in result.text and "\r" not in result.text
    assert "\\x1b[32mOK" in result.err and "OK:" not in result.out
    missing = tmp_path / "a[/]b[red].json"
    result = cli("verify", missing, "--any-signer")  # the error message held "[/]": Rich crashed
    assert result.code == 2 and "a[/]b[red].json" in result.err, result.text
    key = tmp_path / "k\x1b]0;pwned\x07[bold].pem"
    assert cli("keys", "generate", key).code == 0
    shown = cli("keys", "show", key)
    assert shown.code == 0 and "\x1b" not in shown.out and "\\x1b]0;pwned\\x07[bold].pem" in shown.out


def test_safe_text_escapes_markup_and_control_characters() -> None:
    from xzgov.cli.output import console, safe_text, visible_text

    assert visible_text("a\x1b[31m\n\u202e\udc80") == "a\\x1b[31m\\x0a\\u202e\\udc80"
    with console.capture() as captured:
        console.print(safe_text("[/] [bold]x[/bold] \x1b"))
    assert captured.get() == "[/] [bold]x[/bold] \\x1b\n"

"""Interoperability with the OpenSSL 3 command line: signatures and key files both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.crypto.conftest import run
from xzgov.crypto import keys, sm2

DISTID = "distid:1234567812345678"


def _openssl_public_hex(openssl: str, pem_path: Path, *extra: str) -> str:
    text = run(openssl, "pkey", "-in", pem_path, "-noout", "-text", *extra).stdout.decode()
    block = text.split("pub:", 1)[1]
    return re.sub(r"[^0-9a-f]", "", block.split("ASN1 OID", 1)[0])


def _key_with_x_prefix(prefix: str) -> sm2.SM2PrivateKey:
    while True:
        candidate = sm2.SM2PrivateKey.generate()
        if candidate.public_key.to_hex().startswith(prefix):
            return candidate


@pytest.mark.parametrize("prefix", ["", "0", "4"])
def test_openssl_verifies_our_signature(tmp_path: Path, openssl: str, prefix: str) -> None:
    key = _key_with_x_prefix(prefix)
    msg = tmp_path / "msg"
    msg.write_bytes(b"xizang evidence \xe8\x97\x8f" * 10)
    keys.write_public_key(tmp_path / "pub.pem", key.public_key)
    (tmp_path / "sig.der").write_bytes(sm2.sign(key, msg.read_bytes()))
    ok = run(openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", tmp_path / "pub.pem",
             "-sigfile", tmp_path / "sig.der", "-pkeyopt", DISTID, "-in", msg)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert b"Signature Verified Successfully" in ok.stdout
    msg.write_bytes(b"tampered")
    bad = run(openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", tmp_path / "pub.pem",
              "-sigfile", tmp_path / "sig.der", "-pkeyopt", DISTID, "-in", msg)
    assert bad.returncode != 0


def test_we_verify_openssl_signature_and_load_its_keys(tmp_path: Path, openssl: str) -> None:
    key_pem = tmp_path / "key.pem"
    assert run(openssl, "genpkey", "-algorithm", "SM2", "-out", key_pem).returncode == 0
    assert run(openssl, "pkey", "-in", key_pem, "-pubout", "-out", tmp_path / "pub.pem").returncode == 0
    msg = tmp_path / "msg"
    msg.write_bytes(b"signed by openssl")
    signed = run(openssl, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", key_pem,
                 "-pkeyopt", DISTID, "-in", msg, "-out", tmp_path / "sig.der")
    assert signed.returncode == 0, signed.stderr
    private = keys.load_private_key(key_pem)
    public = keys.load_public_key(tmp_path / "pub.pem")
    assert private.public_key == public
    signature = (tmp_path / "sig.der").read_bytes()
    assert sm2.verify(public, msg.read_bytes(), signature)
    assert not sm2.verify(public, b"signed by opensst", signature)
    # our serialisations are byte-identical to OpenSSL's
    assert keys.private_key_to_pem(private) == key_pem.read_text()
    assert keys.public_key_to_pem(public) == (tmp_path / "pub.pem").read_text()
    # fingerprint = SM3 of the DER SubjectPublicKeyInfo as OpenSSL writes it
    der_out = run(openssl, "pkey", "-pubin", "-in", tmp_path / "pub.pem", "-outform", "DER").stdout
    digest = run(openssl, "dgst", "-sm3", "-r", input=der_out).stdout.decode().split()[0]
    assert keys.fingerprint(public) == digest


def test_openssl_loads_our_keys(tmp_path: Path, openssl: str, key: sm2.SM2PrivateKey) -> None:
    keys.write_private_key(tmp_path / "k.pem", key)
    keys.write_public_key(tmp_path / "p.pem", key.public_key)
    assert _openssl_public_hex(openssl, tmp_path / "k.pem") == "04" + key.public_key.to_hex()
    pub = run(openssl, "pkey", "-pubin", "-in", tmp_path / "p.pem", "-noout", "-text").stdout.decode()
    assert "SM2" in pub


def test_encrypted_keys_both_ways(tmp_path: Path, openssl: str, key: sm2.SM2PrivateKey) -> None:
    ours = tmp_path / "enc.pem"
    keys.write_private_key(ours, key, b"pass phrase", iterations=2048)
    assert "ENCRYPTED PRIVATE KEY" in ours.read_text()
    assert _openssl_public_hex(openssl, ours, "-passin", "pass:pass phrase") == "04" + key.public_key.to_hex()
    assert run(openssl, "pkey", "-in", ours, "-passin", "pass:wrong", "-noout").returncode != 0
    theirs = tmp_path / "theirs.pem"
    done = run(openssl, "pkcs8", "-topk8", "-in", tmp_path / "enc.pem", "-passin", "pass:pass phrase",
               "-v2", "sm4-cbc", "-v2prf", "hmacWithSHA256", "-passout", "pass:other", "-out", theirs)
    assert done.returncode == 0, done.stderr
    assert keys.load_private_key(theirs, b"other") == key
    with pytest.raises(Exception, match="wrong passphrase"):
        keys.load_private_key(theirs, b"wrong")


def test_we_read_openssl_sec1_keys_and_compressed_public_keys(tmp_path: Path, openssl: str) -> None:
    """`openssl ec` writes an SM2 key as SEC 1 labelled "SM2 PRIVATE KEY" (OpenSSL 3): read as the same key; a
    public key with a compressed point has the fingerprint the documented command gives with -conv_form
    uncompressed (one fingerprint per key)."""
    key_pem = tmp_path / "key.pem"
    assert run(openssl, "genpkey", "-algorithm", "SM2", "-out", key_pem).returncode == 0
    sec1 = tmp_path / "sec1.pem"
    assert run(openssl, "ec", "-in", key_pem, "-out", sec1).returncode == 0
    label = sec1.read_text().splitlines()[0]
    assert label.startswith("-----BEGIN ") and label.endswith("PRIVATE KEY-----") and "ENCRYPTED" not in label
    assert keys.load_private_key(sec1).public_key == keys.load_private_key(key_pem).public_key
    compressed = tmp_path / "c.pub.pem"
    assert run(openssl, "ec", "-in", key_pem, "-pubout", "-conv_form", "compressed", "-out", compressed
               ).returncode == 0
    public = keys.load_public_key(compressed)
    der_out = run(openssl, "ec", "-pubin", "-in", compressed, "-conv_form", "uncompressed", "-outform", "DER"
                  ).stdout
    assert keys.fingerprint(public) == run(openssl, "dgst", "-sm3", "-r", input=der_out).stdout.decode().split()[0]

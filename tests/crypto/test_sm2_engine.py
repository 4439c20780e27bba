"""The native SM2 engine (OpenSSL 3 through cffi) against gmssl 3.2.2 as an independent implementation.

gmssl is used here directly (not through ``xzgov.crypto.sm2``): its own ``sign``/``verify`` over the
digest ``e`` and its own SM2 encryption, with the public key set on the object (never through its
``lstrip``) and, for signing, a nonce from :mod:`secrets`. Differential over random keys and messages,
both directions; plus OpenSSL's CLI decrypting our SM2 ciphertexts and the other way round.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from gmssl import sm2 as gmssl_sm2
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crypto.conftest import run
from xzgov.crypto import der, keys, sm2, sm2_engine

pytestmark = pytest.mark.skipif(sm2.ENGINE != sm2_engine.NAME, reason="no OpenSSL 3 libcrypto")


def _gmssl(key: sm2.SM2PrivateKey | None, public: sm2.SM2PublicKey, mode: int = 1) -> gmssl_sm2.CryptSM2:
    engine = gmssl_sm2.CryptSM2(private_key=f"{key.d:064x}" if key else "", public_key="", mode=mode)
    engine.public_key = public.to_hex()  # not through gmssl's lstrip("04")
    return engine


def _gmssl_sign(key: sm2.SM2PrivateKey, e: bytes) -> bytes:
    while True:
        result = _gmssl(key, key.public_key).sign(e, f"{secrets.randbelow(sm2.N - 1) + 1:064x}")
        if result is not None:
            return sm2.encode_signature(int(result[:64], 16), int(result[64:], 16))


def _gmssl_verify(public: sm2.SM2PublicKey, e: bytes, signature: bytes) -> bool:
    r, s = sm2.decode_signature(signature)
    return bool(_gmssl(None, public).verify(f"{r:064x}{s:064x}", e))


def _to_asn1(c1c3c2: bytes) -> bytes:
    """gmssl's raw C1(64)||C3(32)||C2 → GM/T 0009 SEQUENCE {x, y, C3, C2}."""
    x, y, c3, c2 = c1c3c2[:32], c1c3c2[32:64], c1c3c2[64:96], c1c3c2[96:]
    return der.encode_sequence(der.encode_integer(int.from_bytes(x, "big")),
                               der.encode_integer(int.from_bytes(y, "big")),
                               der.encode_octet_string(c3), der.encode_octet_string(c2))


def _from_asn1(ciphertext: bytes) -> bytes:
    items = der.sequence(ciphertext)
    x, y = der.as_integer(items[0]), der.as_integer(items[1])
    return x.to_bytes(32, "big") + y.to_bytes(32, "big") + der.as_octet_string(items[2]) + der.as_octet_string(items[3])


keys_st = st.integers(min_value=1, max_value=sm2.N - 2).map(sm2.SM2PrivateKey)


def test_engine_is_native() -> None:
    assert sm2.ENGINE == "openssl3"
    assert sm2_engine.version().startswith("OpenSSL 3.")


@settings(max_examples=25, deadline=None)
@given(key=keys_st)
def test_public_key_derivation_matches_gmssl(key: sm2.SM2PrivateKey) -> None:
    point = gmssl_sm2.CryptSM2(private_key="", public_key="")._kg(key.d, sm2._G_HEX)
    assert key.public_key.to_hex() == point


@settings(max_examples=30, deadline=None)
@given(key=keys_st, message=st.binary(max_size=300), uid=st.binary(min_size=0, max_size=40))
def test_engine_signs_gmssl_verifies(key: sm2.SM2PrivateKey, message: bytes, uid: bytes) -> None:
    signature = sm2.sign(key, message, uid=uid)
    e = sm2.message_digest(key.public_key, message, uid)
    assert _gmssl_verify(key.public_key, e, signature)
    assert not _gmssl_verify(key.public_key, sm2.sm3(e), signature)


@settings(max_examples=30, deadline=None)
@given(key=keys_st, message=st.binary(max_size=300), uid=st.binary(min_size=0, max_size=40))
def test_gmssl_signs_engine_verifies(key: sm2.SM2PrivateKey, message: bytes, uid: bytes) -> None:
    e = sm2.message_digest(key.public_key, message, uid)
    signature = _gmssl_sign(key, e)
    assert sm2.verify(key.public_key, message, signature, uid=uid)
    assert not sm2.verify(key.public_key, message + b"x", signature, uid=uid)
    assert not sm2.verify(key.public_key, message, signature, uid=uid + b"x")


def test_gmssl_sign_with_sm3_default_id_engine_verifies() -> None:
    """gmssl's own Z computation (fixed ID 1234567812345678) agrees with ours and OpenSSL's."""
    key = sm2.SM2PrivateKey.generate()
    g = _gmssl(key, key.public_key)
    result = g.sign_with_sm3(b"evidence", f"{secrets.randbelow(sm2.N - 1) + 1:064x}")
    assert sm2.verify(key.public_key, b"evidence", sm2.encode_signature(int(result[:64], 16), int(result[64:], 16)))


@settings(max_examples=20, deadline=None)
@given(key=keys_st, plaintext=st.binary(min_size=1, max_size=200))
def test_engine_encrypts_gmssl_decrypts(key: sm2.SM2PrivateKey, plaintext: bytes) -> None:
    raw = _from_asn1(sm2.encrypt(key.public_key, plaintext))
    assert _gmssl(key, key.public_key, mode=1).decrypt(raw) == plaintext


@settings(max_examples=20, deadline=None)
@given(key=keys_st, plaintext=st.binary(min_size=1, max_size=200))
def test_gmssl_encrypts_engine_decrypts(key: sm2.SM2PrivateKey, plaintext: bytes) -> None:
    # gmssl returns None where GB/T 32918.4 says "t is all zeros: choose another k" (probability 256^-len, so
    # 1 in 256 for a one-byte message); the retry is the standard's, not a tolerance of ours.
    raw = None
    for _ in range(8):
        raw = _gmssl(None, key.public_key, mode=1).encrypt(plaintext)
        if raw is not None:
            break
    assert raw is not None, "gmssl's KDF output was all zeros eight times in a row"
    assert sm2.decrypt(key, _to_asn1(raw)) == plaintext


def test_decrypt_rejects_tampering_and_wrong_key(key: sm2.SM2PrivateKey) -> None:
    ciphertext = sm2.encrypt(key.public_key, b"tenant data key")
    raw = bytearray(_from_asn1(ciphertext))
    for index in (70, 100):  # C3, C2
        altered = bytearray(raw)
        altered[index] ^= 1
        with pytest.raises(sm2.SM2Error):
            sm2.decrypt(key, _to_asn1(bytes(altered)))
    with pytest.raises(sm2.SM2Error):
        sm2.decrypt(sm2.SM2PrivateKey.generate(), ciphertext)
    with pytest.raises(sm2.SM2Error):
        sm2.decrypt(key, b"\x30\x03\x02\x01\x01")
    with pytest.raises(sm2.SM2Error):
        sm2.encrypt(key.public_key, b"")


def test_engine_rejects_off_curve_and_non_sm2_keys() -> None:
    good = keys.public_key_to_der(sm2.SM2PrivateKey.generate().public_key)
    bad = bytearray(good)
    bad[-1] ^= 1
    with pytest.raises(sm2_engine.EngineError):
        sm2_engine.load_public_spki(bytes(bad))
    with pytest.raises(sm2_engine.EngineError):
        sm2_engine.load_public_spki(b"\x30\x00")


def test_official_vector_verifies_on_engine() -> None:
    public = sm2.SM2PublicKey.from_hex(
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
    r = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
    s = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
    e = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
    assert sm2_engine.verify_digest(public._native, e, sm2.encode_signature(r, s))
    assert sm2.verify(public, b"message digest", sm2.encode_signature(r, s))


def test_openssl_cli_decrypts_our_ciphertext_and_back(tmp_path: Path, openssl: str) -> None:
    key = sm2.SM2PrivateKey.generate()
    keys.write_private_key(tmp_path / "key.pem", key)
    keys.write_public_key(tmp_path / "pub.pem", key.public_key)
    (tmp_path / "ct").write_bytes(sm2.encrypt(key.public_key, b"xizang \xe8\x97\x8f"))
    out = run(openssl, "pkeyutl", "-decrypt", "-inkey", tmp_path / "key.pem", "-in", tmp_path / "ct")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"xizang \xe8\x97\x8f"
    (tmp_path / "pt").write_bytes(b"from openssl")
    enc = run(openssl, "pkeyutl", "-encrypt", "-pubin", "-inkey", tmp_path / "pub.pem", "-in", tmp_path / "pt")
    assert enc.returncode == 0, enc.stderr
    assert sm2.decrypt(key, enc.stdout) == b"from openssl"


def test_repr_never_shows_key_material(key: sm2.SM2PrivateKey) -> None:
    assert "private" in repr(key._native)
    assert f"{key.d:x}" not in repr(key) + repr(key._native)

"""Official test vectors (GB/T 32905 SM3, GB/T 32907 SM4, GM/T 0003.5 SM2) and SM3/SM4 against OpenSSL."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crypto.conftest import run
from xzgov.crypto import sm2, sm3, sm4

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm3_abc() -> None:
    assert sm3.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_512_bit() -> None:
    assert sm3.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm3_incremental_equals_one_shot() -> None:
    ctx = sm3.SM3(b"ab")
    ctx.update(b"c")
    assert ctx.copy().hexdigest() == sm3.sm3_hex(b"abc")
    assert ctx.digest() == sm3.sm3(b"abc")


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=700))
def test_sm3_stream_any_chunking(data: bytes, chunk: int) -> None:
    assert sm3.sm3_stream(io.BytesIO(data), chunk) == sm3.sm3(data)


def test_sm3_file_and_hmac_match_openssl(tmp_path: Path, openssl: str) -> None:
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob"
    path.write_bytes(data)
    out = run(openssl, "dgst", "-sm3", "-r", path).stdout.decode().split()[0]
    assert sm3.sm3_file(path, chunk_size=1 << 20).hex() == out == sm3.sm3(data).hex()
    mac = run(openssl, "dgst", "-sm3", "-hmac", "xzgov-key", "-r", path).stdout.decode().split()[0]
    assert sm3.hmac_sm3(b"xzgov-key", data).hex() == mac
    assert sm3.hmac_sm3_verify(b"xzgov-key", data, bytes.fromhex(mac))
    assert not sm3.hmac_sm3_verify(b"xzgov-kez", data, bytes.fromhex(mac))


def test_hmac_sm3_verify_refuses_every_altered_or_shortened_tag() -> None:
    """A wrong key or message changes the whole tag: a check of part of it passed those. Every byte counts."""
    key, data = secrets.token_bytes(32), b"xzgov hmac"
    tag = sm3.hmac_sm3(key, data)
    assert sm3.hmac_sm3_verify(key, data, tag)
    for index in range(len(tag)):
        altered = bytearray(tag)
        altered[index] ^= 0x01
        assert not sm3.hmac_sm3_verify(key, data, bytes(altered)), index
    for length in (0, 1, 16, 31):
        assert not sm3.hmac_sm3_verify(key, data, tag[:length]), length
    assert not sm3.hmac_sm3_verify(key, data, tag + b"\x00")


def test_sm4_cbc_refuses_bad_padding() -> None:
    """Padding is checked whole: a last block ending ``… 02 01`` is fine (one byte 01), ``… 01 02`` is not, nor
    a pad byte of 0 or above 16 (the inverse of cbc_encrypt, as its docstring promises)."""
    iv = bytes(16)

    def raw(block: bytes) -> bytes:  # one block encrypted without padding: its last bytes are the "padding"
        return Cipher(algorithms.SM4(SM4_KEY), modes.CBC(iv)).encryptor().update(block)

    assert sm4.cbc_decrypt(SM4_KEY, iv, raw(bytes(14) + b"\x02\x01")) == bytes(14) + b"\x02"
    for bad in (bytes(14) + b"\x01\x02", bytes(15) + b"\x00", bytes(15) + b"\x11", bytes(13) + b"\x03\x03\x04"):
        with pytest.raises(ValueError, match="padding"):
            sm4.cbc_decrypt(SM4_KEY, iv, raw(bad))


def test_sm4_single_block() -> None:
    assert sm4.ecb_encrypt_block(SM4_KEY, SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_one_million_iterations() -> None:
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_ctr_matches_openssl(tmp_path: Path, openssl: str) -> None:
    key, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    data = secrets.token_bytes(100_003)
    ours = Cipher(algorithms.SM4(key), modes.CTR(iv)).encryptor().update(data)
    theirs = run(openssl, "enc", "-sm4-ctr", "-K", key.hex(), "-iv", iv.hex(), input=data)
    assert theirs.returncode == 0, theirs.stderr
    assert ours == theirs.stdout


def _gf_mult(x: int, y: int) -> int:
    r = 0xE1 << 120
    z = 0
    for i in range(127, -1, -1):
        if (y >> i) & 1:
            z ^= x
        x = (x >> 1) ^ r if x & 1 else x >> 1
    return z


def _reference_gcm(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """SM4-GCM from the SM4 block function and NIST SP 800-38D, written independently of OpenSSL's GCM."""
    def block(data: bytes) -> bytes:
        return sm4.ecb_encrypt_block(key, data)

    h = int.from_bytes(block(bytes(16)), "big")
    j0 = nonce + b"\x00\x00\x00\x01"
    counter = int.from_bytes(j0, "big")
    out = bytearray()
    for offset in range(0, len(plaintext), 16):
        counter = (counter & ~0xFFFFFFFF) | ((counter + 1) & 0xFFFFFFFF)
        stream = block(counter.to_bytes(16, "big"))
        out += bytes(a ^ b for a, b in zip(plaintext[offset:offset + 16], stream, strict=False))

    def ghash(data: bytes) -> int:
        y = 0
        for offset in range(0, len(data), 16):
            y = _gf_mult(y ^ int.from_bytes(data[offset:offset + 16].ljust(16, b"\0"), "big"), h)
        return y

    def pad(data: bytes) -> bytes:
        return data + bytes(-len(data) % 16)

    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(out) * 8).to_bytes(8, "big")
    s = ghash(pad(aad) + pad(bytes(out)) + lengths)
    tag = bytes(a ^ b for a, b in zip(block(j0), s.to_bytes(16, "big"), strict=True))
    return nonce + bytes(out) + tag


@settings(max_examples=25, deadline=None)
@given(plaintext=st.binary(max_size=80), aad=st.binary(max_size=40))
def test_sm4_gcm_matches_reference(plaintext: bytes, aad: bytes) -> None:
    key, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    sealed = sm4.gcm_encrypt(key, plaintext, aad, nonce=nonce)
    assert sealed == _reference_gcm(key, nonce, plaintext, aad)
    assert sm4.gcm_decrypt(key, sealed, aad) == plaintext


SM2_D = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
SM2_K = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)


def test_sm2_official_signature_example() -> None:
    key = sm2.SM2PrivateKey(SM2_D)
    public = key.public_key
    assert public.to_hex().upper() == (
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )
    assert sm2.compute_z(public, b"1234567812345678").hex().upper() == (
        "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
    )
    e = sm2.message_digest(public, b"message digest")
    assert e.hex().upper() == "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
    r, s = sm2._sign_digest_with_k(key, e, SM2_K)  # the one legitimate fixed-k use
    assert f"{r:064X}" == "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    assert f"{s:064X}" == "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
    assert sm2.verify(public, b"message digest", sm2.encode_signature(r, s))
    assert not sm2.verify(public, b"message digesT", sm2.encode_signature(r, s))

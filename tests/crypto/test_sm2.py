"""SM2 wrapper: round trips, nonce safety (gmssl defect 1), key normalisation (defect 2), strict parsing."""

from __future__ import annotations

import random

import pytest
from gmssl import sm2 as gmssl_sm2
from hypothesis import given, settings
from hypothesis import strategies as st

from xzgov.crypto import der, keys, sm2


def recover_key_from_shared_nonce(sig1: tuple[int, int], sig2: tuple[int, int]) -> int | None:
    """The attack: s = (1+d)^-1 (k + r) - r, so k = (s + r)(1 + d) - r; equal k in two signatures gives
    (1 + d)(s1 + r1 - s2 - r2) = r1 - r2. Works whatever the messages; needs no digest."""
    (r1, s1), (r2, s2) = sig1, sig2
    denominator = (s1 + r1 - s2 - r2) % sm2.N
    if denominator == 0:
        return None
    return ((r1 - r2) * pow(denominator, -1, sm2.N) - 1) % sm2.N


def _key_with_x_prefix(prefix: str) -> sm2.SM2PrivateKey:
    while True:
        candidate = sm2.SM2PrivateKey.generate()
        if candidate.public_key.to_hex().startswith(prefix):
            return candidate


def test_sign_verify_round_trip(key: sm2.SM2PrivateKey) -> None:
    signature = sm2.sign(key, b"evidence")
    assert sm2.verify(key.public_key, b"evidence", signature)
    assert not sm2.verify(key.public_key, b"evidencf", signature)
    assert not sm2.verify(sm2.SM2PrivateKey.generate().public_key, b"evidence", signature)
    assert not sm2.verify(key.public_key, b"evidence", signature, uid=b"another-id")


@pytest.mark.parametrize("mode", ["hedged", "random", "deterministic"])
def test_nonce_modes(key: sm2.SM2PrivateKey, mode: sm2.NonceMode) -> None:
    first = sm2.sign(key, b"m", nonce=mode)
    second = sm2.sign(key, b"m", nonce=mode)
    assert sm2.verify(key.public_key, b"m", first) and sm2.verify(key.public_key, b"m", second)
    assert (first == second) == (mode == "deterministic")


def test_python_random_seed_does_not_repeat_nonces(key: sm2.SM2PrivateKey) -> None:
    random.seed(0)
    r1, s1 = sm2.decode_signature(sm2.sign(key, b"first"))
    random.seed(0)
    r2, s2 = sm2.decode_signature(sm2.sign(key, b"second"))
    assert r1 != r2
    assert recover_key_from_shared_nonce((r1, s1), (r2, s2)) != key.d


def test_attack_recovers_key_when_nonce_reused() -> None:
    victim = sm2.SM2PrivateKey.generate()
    k = 0x1234567890ABCDEF * 3 + 5
    e1 = sm2.message_digest(victim.public_key, b"report A")
    e2 = sm2.message_digest(victim.public_key, b"report B")
    recovered = recover_key_from_shared_nonce(sm2.sign_digest(victim, e1, k=k), sm2.sign_digest(victim, e2, k=k))
    assert recovered == victim.d


def test_attack_recovers_key_from_raw_gmssl_after_random_seed() -> None:
    """The defect this wrapper exists for: gmssl's own nonces repeat after random.seed()."""
    victim = sm2.SM2PrivateKey.generate()
    engine = gmssl_sm2.CryptSM2(private_key=f"{victim.d:064x}", public_key=victim.public_key.to_hex())
    random.seed(0)
    raw1 = engine.sign_with_sm3(b"report A")
    random.seed(0)
    raw2 = engine.sign_with_sm3(b"report B")
    sig1 = (int(raw1[:64], 16), int(raw1[64:], 16))
    sig2 = (int(raw2[:64], 16), int(raw2[64:], 16))
    assert recover_key_from_shared_nonce(sig1, sig2) == victim.d


@pytest.mark.parametrize("prefix", ["0", "4", "04"])
def test_public_keys_with_x_starting_0_or_4_round_trip(prefix: str) -> None:
    victim = _key_with_x_prefix(prefix)
    hex_key = victim.public_key.to_hex()
    assert sm2.SM2PublicKey.from_hex("04" + hex_key) == victim.public_key
    assert sm2.SM2PublicKey.from_hex(hex_key) == victim.public_key
    pem = keys.public_key_to_pem(victim.public_key)
    assert keys.public_key_from_pem(pem) == victim.public_key
    assert keys.private_key_from_pem(keys.private_key_to_pem(victim)).public_key == victim.public_key
    signature = sm2.sign(victim, b"payload")
    assert sm2.verify(keys.public_key_from_pem(pem), b"payload", signature)
    # gmssl's own constructor corrupts such keys (lstrip("04")): the reason for normalising here
    corrupted = gmssl_sm2.CryptSM2(private_key="00", public_key="04" + hex_key).public_key
    assert corrupted != hex_key


def test_public_key_normalisation_rejects_bad_input() -> None:
    good = sm2.SM2PrivateKey.generate().public_key.to_hex()
    for bad in ["", good[:-2], "0404" + good, "05" + good, good[:-1] + "g"]:
        with pytest.raises(sm2.SM2Error):
            sm2.SM2PublicKey.from_hex(bad)
    x, y = int(good[:64], 16), int(good[64:], 16)
    with pytest.raises(sm2.SM2Error):
        sm2.SM2PublicKey(x, (y + 1) % sm2.P)  # not on the curve


def test_compressed_points_decode(key: sm2.SM2PrivateKey) -> None:
    public = key.public_key
    compressed = bytes([2 + (public.y & 1)]) + public.x.to_bytes(32, "big")
    assert sm2.SM2PublicKey.from_bytes(compressed) == public


def test_private_key_range() -> None:
    for bad in (0, sm2.N - 1, sm2.N, -1):
        with pytest.raises(sm2.SM2Error):
            sm2.SM2PrivateKey(bad)
    assert sm2.SM2PrivateKey(1).public_key == sm2.SM2PublicKey(sm2.GX, sm2.GY)
    assert "d=" not in repr(sm2.SM2PrivateKey(12345))


def test_nonce_range_checked(key: sm2.SM2PrivateKey) -> None:
    e = sm2.message_digest(key.public_key, b"x")
    for bad in (0, sm2.N, sm2.N + 1):
        with pytest.raises(sm2.SM2Error):
            sm2.sign_digest(key, e, k=bad)


def test_signature_ranges_and_strict_der(key: sm2.SM2PrivateKey) -> None:
    signature = sm2.sign(key, b"m")
    r, s = sm2.decode_signature(signature)
    pub = key.public_key
    for bad_r, bad_s in ((0, s), (r, 0), (r + sm2.N, s), (r, s + sm2.N), (sm2.N, s)):
        assert not sm2.verify(pub, b"m", sm2.encode_signature(bad_r, bad_s))
    # non-minimal INTEGER, long-form length, trailing byte: each rejected though r and s are intact
    padded_r = der.encode_tlv(der.INTEGER, b"\x00\x00" + r.to_bytes(32, "big"))
    assert not sm2.verify(pub, b"m", der.encode_sequence(padded_r, der.encode_integer(s)))
    body = der.encode_integer(r) + der.encode_integer(s)
    assert not sm2.verify(pub, b"m", b"\x30\x81" + bytes([len(body)]) + body)
    assert not sm2.verify(pub, b"m", signature + b"\x00")
    assert not sm2.verify(pub, b"m", b"")


def test_deterministic_nonces_are_rfc6979_with_hmac_sm3(key: sm2.SM2PrivateKey) -> None:
    e = sm2.message_digest(key.public_key, b"m")
    k = next(sm2.rfc6979_nonces(key.d, e))
    assert sm2.sign_digest(key, e, nonce="deterministic") == sm2.sign_digest(key, e, k=k)
    assert next(sm2.rfc6979_nonces(key.d, e, b"extra")) != k


@settings(max_examples=15, deadline=None)
@given(message=st.binary(max_size=200), flip=st.integers(min_value=0, max_value=10_000))
def test_property_sign_verify_and_any_change_fails(key: sm2.SM2PrivateKey, message: bytes, flip: int) -> None:
    signature = sm2.sign(key, message)
    assert sm2.verify(key.public_key, message, signature)
    if message:
        changed = bytearray(message)
        changed[flip % len(message)] ^= 1 << (flip % 8)
        assert not sm2.verify(key.public_key, bytes(changed), signature)
    broken = bytearray(signature)
    broken[flip % len(signature)] ^= 1 << (flip % 8)
    assert not sm2.verify(key.public_key, message, bytes(broken))

"""SM2 wrapper: round trips, nonce safety (gmssl defect 1), key normalisation (defect 2), strict parsing."""

from __future__ import annotations

import hashlib
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
    recovered = recover_key_from_shared_nonce(sm2._sign_digest_with_k(victim, e1, k),
                                              sm2._sign_digest_with_k(victim, e2, k))
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
            sm2._sign_digest_with_k(key, e, bad)


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
    assert sm2.sign_digest(key, e, nonce="deterministic") == sm2._sign_digest_with_k(key, e, k)
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


def test_fixed_nonce_signing_is_not_public(key: sm2.SM2PrivateKey) -> None:
    """Finding 8: `sign_digest(k=...)` let any caller reuse a nonce (which reveals the key)."""
    e = sm2.message_digest(key.public_key, b"x")
    with pytest.raises(TypeError):
        sm2.sign_digest(key, e, k=12345)  # type: ignore[call-arg]


# RFC 6979 appendix A.2.5: ECDSA, 256 bits (prime field), curve P-256, with SHA-256
P256_Q = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


@pytest.mark.parametrize(("message", "expected_k"), [
    (b"sample", 0xA6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60),
    (b"test", 0xD16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0),
])
def test_rfc6979_derivation_known_answer(message: bytes, expected_k: int) -> None:
    """Finding 9: the nonce derivation is checked against RFC 6979's own vectors (HMAC-SHA256); the
    SM2 nonces use exactly this derivation with HMAC-SM3 and the SM2 order."""
    h1 = hashlib.sha256(message).digest()
    assert next(sm2.rfc6979_generic(P256_Q, P256_X, h1, sm2.hmac_sha256, 32)) == expected_k


def test_sm2_nonces_are_the_generic_derivation_with_hmac_sm3(key: sm2.SM2PrivateKey) -> None:
    e = sm2.message_digest(key.public_key, b"m")
    from xzgov.crypto.sm3 import hmac_sm3
    generic = sm2.rfc6979_generic(sm2.N, key.d, e, hmac_sm3, 32)
    ours = sm2.rfc6979_nonces(key.d, e)
    assert [next(generic) for _ in range(3)] == [next(ours) for _ in range(3)]


def test_compressed_point_without_square_root_is_refused() -> None:
    """Finding 9: an x for which x^3 + ax + b is not a square mod p has no point."""
    x = 1
    while True:
        rhs = (x ** 3 + sm2.A * x + sm2.B) % sm2.P
        if pow(rhs, (sm2.P - 1) // 2, sm2.P) == sm2.P - 1:  # Euler's criterion: a non-residue
            break
        x += 1
    for prefix in (2, 3):
        with pytest.raises(sm2.SM2Error, match="not on the SM2 curve"):
            sm2.SM2PublicKey.from_bytes(bytes([prefix]) + x.to_bytes(32, "big"))
    spki = der.encode_sequence(
        der.encode_sequence(der.encode_oid(keys.OID_EC_PUBLIC_KEY), der.encode_oid(keys.OID_SM2_CURVE)),
        der.encode_bit_string(b"\x02" + x.to_bytes(32, "big")))
    with pytest.raises(keys.KeyFormatError):
        keys.public_key_from_der(spki)


def test_negative_der_integer_in_signature_is_refused(key: sm2.SM2PrivateKey) -> None:
    """Finding 9: r or s encoded as a negative INTEGER (high bit set, no 0x00 pad) must not verify,
    even though its magnitude is the right value."""
    signature = sm2.sign(key, b"m")
    r, s = sm2.decode_signature(signature)
    assert sm2.verify(key.public_key, b"m", signature)

    def raw_integer(value: int) -> bytes:  # minimal big-endian magnitude, without the sign pad
        return der.encode_tlv(der.INTEGER, value.to_bytes((value.bit_length() + 7) // 8, "big"))

    high_r = r if r >> 255 else None
    while high_r is None:  # find a signature whose r has its top bit set
        candidate = sm2.sign(key, b"m")
        r2, s2 = sm2.decode_signature(candidate)
        if r2 >> 255:
            high_r, s = r2, s2
    forged = der.encode_sequence(raw_integer(high_r), der.encode_integer(s))
    assert forged[4] & 0x80  # reads as a negative INTEGER
    with pytest.raises(sm2.SM2Error, match="negative"):
        sm2.decode_signature(forged)
    assert not sm2.verify(key.public_key, b"m", forged)
    negative_one = der.encode_sequence(der.encode_tlv(der.INTEGER, b"\xff"), der.encode_integer(s))
    assert not sm2.verify(key.public_key, b"m", negative_one)

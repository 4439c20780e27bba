"""SM2 (GB/T 32918, GM/T 0003): signatures and public-key encryption.

The engine is native: the system's OpenSSL 3 ``libcrypto`` (:mod:`xzgov.crypto.sm2_engine`) signs,
verifies, derives public keys, encrypts and decrypts. ``ENGINE`` names the engine in use. Where no
OpenSSL 3 can be loaded (e.g. a host with OpenSSL 1.1 only), the gmssl 3.2.2 primitives are used
instead, wrapped so that its known defects stay neutralised (see ``docs/crypto.md``):

* nonces never come from gmssl (which uses :mod:`random`): with OpenSSL, ``k`` comes from OpenSSL's
  DRBG; with gmssl, every ``k`` is chosen here, from :mod:`secrets` or derived RFC 6979 style with
  HMAC-SM3 (hedged with fresh randomness), and checked to lie in ``[1, n-1]``;
* ``nonce="deterministic"`` (pure RFC 6979 with HMAC-SM3) always goes through gmssl's primitive with
  our ``k``: OpenSSL cannot be given a nonce;
* public keys are normalised here (exactly one ``04`` prefix removed, 128 hex digits required,
  point on the curve) and handed to gmssl without going through its ``lstrip("04")``;
* ``Z`` is computed here from an explicit distinguishing ID (default ``1234567812345678``), with
  SM3 from OpenSSL; the engines sign and verify the digest ``e = SM3(Z || M)``;
* verification checks ``r`` and ``s`` ranges (and, under gmssl, handles the point at infinity itself);
* gmssl's SM2 encryption/decryption is never used (its decryption does not check C3): SM2
  encryption needs the OpenSSL engine.

Side channels: the fallback's scalar multiplication (gmssl's Jacobian double-and-add in pure Python,
also used for ``nonce="deterministic"`` signatures and, under the fallback, for public key derivation
and verification) is **not constant-time**: its running time depends on the bits of the scalar (the
private key ``d`` or the nonce ``k``). Where an attacker can time many signatures (a network service),
use the OpenSSL engine, whose SM2 code uses constant-time scalar multiplication for secret scalars.

Signatures travel as DER ``SEQUENCE { r, s }``, SM2 ciphertexts as the GM/T 0009 ASN.1
``SEQUENCE { x, y, C3, C2 }``, as OpenSSL writes them. Both are parsed strictly (one encoding only:
minimal lengths and INTEGERs, no trailing bytes, exactly the fields, C1 a point on the curve with
coordinates below ``p``, C3 32 bytes, C2 non-empty) before OpenSSL sees them: see
:func:`decode_signature` and :func:`decode_ciphertext`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from gmssl import sm2 as _gmssl_sm2

from xzgov.crypto import der, sm2_engine
from xzgov.crypto.sm3 import SM3, hmac_sm3, sm3

_TABLE: dict[str, str] = _gmssl_sm2.default_ecc_table
P = int(_TABLE["p"], 16)
A = int(_TABLE["a"], 16)
B = int(_TABLE["b"], 16)
N = int(_TABLE["n"], 16)
GX = int(_TABLE["g"][:64], 16)
GY = int(_TABLE["g"][64:], 16)
_G_HEX = f"{GX:064x}{GY:064x}"

#: The default distinguishing ID of GM/T 0009 (also OpenSSL's ``distid:1234567812345678``).
DEFAULT_ID = b"1234567812345678"

NonceMode = Literal["hedged", "random", "deterministic"]

#: ``"openssl3"`` (native, the default) or ``"gmssl"`` (fallback where OpenSSL 3 cannot be loaded).
ENGINE: str = sm2_engine.NAME if sm2_engine.available() else "gmssl"
_NATIVE = ENGINE == sm2_engine.NAME

_SM2_ALGORITHM = der.encode_sequence(der.encode_oid("1.2.840.10045.2.1"), der.encode_oid("1.2.156.10197.1.301"))


class SM2Error(ValueError):
    """Invalid SM2 key, signature or parameter."""


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


_Point = tuple[int, int] | None  # None is the point at infinity


def _to_hex(point: tuple[int, int]) -> str:
    return f"{point[0]:064x}{point[1]:064x}"


def _engine(private_hex: str = "0" * 64) -> Any:
    """A gmssl context. Its ``public_key`` attribute is never set through gmssl's lstrip."""
    engine = _gmssl_sm2.CryptSM2(private_key=private_hex, public_key="")
    return engine


_ENGINE = _engine()


def _mul(k: int, point_hex: str) -> _Point:
    """``k · point`` with gmssl's Jacobian double-and-add; ``k`` must be in ``[1, n-1]``."""
    if not 1 <= k < N:
        raise SM2Error("scalar out of range")
    result = _ENGINE._kg(k, point_hex)
    if result is None:
        return None
    return int(result[:64], 16), int(result[64:128], 16)


def _add(p1: _Point, p2: _Point) -> _Point:
    """Affine point addition, including doubling and the point at infinity."""
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _decompress(prefix: int, x: int) -> tuple[int, int]:
    rhs = (x * x * x + A * x + B) % P
    y = pow(rhs, (P + 1) // 4, P)  # p ≡ 3 (mod 4)
    if y * y % P != rhs:
        raise SM2Error("compressed point is not on the SM2 curve")
    if y & 1 != prefix & 1:
        y = P - y
    return x, y


@dataclass(frozen=True)
class SM2PublicKey:
    """A point on the SM2 curve (validated on construction)."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not _on_curve(self.x, self.y):
            raise SM2Error("public key is not a point on the SM2 curve")

    @classmethod
    def from_hex(cls, text: str) -> SM2PublicKey:
        """Parse ``[04]X||Y`` hex: exactly one leading ``04`` is removed (never ``lstrip``)."""
        value = text.strip().lower()
        if len(value) == 130 and value.startswith("04"):
            value = value[2:]
        if len(value) != 128 or any(c not in "0123456789abcdef" for c in value):
            raise SM2Error("an SM2 public key is 128 hex digits (X||Y), optionally prefixed by 04")
        return cls(int(value[:64], 16), int(value[64:], 16))

    @classmethod
    def from_bytes(cls, point: bytes) -> SM2PublicKey:
        """Parse an SEC 1 point: ``04||X||Y`` (65 bytes) or compressed ``02/03||X`` (33 bytes)."""
        if len(point) == 65 and point[0] == 4:
            return cls(int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))
        if len(point) == 33 and point[0] in (2, 3):
            return cls(*_decompress(point[0], int.from_bytes(point[1:], "big")))
        raise SM2Error("unsupported SM2 point encoding (expected 04||X||Y or 02/03||X)")

    def to_hex(self) -> str:
        """128 hex digits X||Y, without the 04 prefix."""
        return _to_hex((self.x, self.y))

    def to_bytes(self) -> bytes:
        """Uncompressed SEC 1 encoding ``04||X||Y`` (65 bytes)."""
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    @cached_property
    def _native(self) -> sm2_engine.Key:
        """This key inside OpenSSL (built once per object)."""
        return sm2_engine.load_public_spki(
            der.encode_sequence(_SM2_ALGORITHM, der.encode_bit_string(self.to_bytes())))


_PRIVATE_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class SM2PrivateKey:
    """A private scalar ``d`` in ``[1, n-2]``. Its ``repr`` never shows ``d``."""

    d: int = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.d <= N - 2:
            raise SM2Error("SM2 private key must satisfy 1 ≤ d ≤ n−2")

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """A fresh key from :mod:`secrets` (uniform in ``[1, n-2]``)."""
        return cls(secrets.randbelow(N - 2) + 1)

    @classmethod
    def from_hex(cls, text: str) -> SM2PrivateKey:
        """Exactly 64 hex digits (surrounding whitespace ignored): no ``0x``, sign or ``_``."""
        value = text.strip()
        if not _PRIVATE_HEX.fullmatch(value):
            raise SM2Error("an SM2 private key is 64 hex digits")
        return cls(int(value, 16))

    def to_bytes(self) -> bytes:
        return self.d.to_bytes(32, "big")

    @cached_property
    def _native(self) -> sm2_engine.Key:
        """This key inside OpenSSL: PKCS#8 without the public point, which OpenSSL derives."""
        inner = der.encode_sequence(der.encode_integer(1), der.encode_octet_string(self.to_bytes()))
        return sm2_engine.load_private_pkcs8(
            der.encode_sequence(der.encode_integer(0), _SM2_ALGORITHM, der.encode_octet_string(inner)))

    @cached_property
    def public_key(self) -> SM2PublicKey:
        if _NATIVE:
            spki = der.sequence(sm2_engine.public_spki(self._native))
            return SM2PublicKey.from_bytes(der.as_bit_string(spki[1]))
        point = _mul(self.d, _G_HEX)
        if point is None:  # pragma: no cover - impossible for d in [1, n-1]
            raise SM2Error("invalid private key")
        return SM2PublicKey(*point)


def compute_z(public_key: SM2PublicKey, uid: bytes = DEFAULT_ID) -> bytes:
    """``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)`` (GB/T 32918.2 §5.5)."""
    bits = len(uid) * 8
    if bits > 0xFFFF:
        raise SM2Error("distinguishing ID longer than 8191 bytes")
    ctx = SM3(bits.to_bytes(2, "big") + uid)
    for value in (A, B, GX, GY, public_key.x, public_key.y):
        ctx.update(value.to_bytes(32, "big"))
    return ctx.digest()


def message_digest(public_key: SM2PublicKey, message: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """``e = SM3(Z || M)`` as bytes."""
    return sm3(compute_z(public_key, uid) + message)


def encode_signature(r: int, s: int) -> bytes:
    """DER ``SEQUENCE { r, s }``."""
    return der.encode_sequence(der.encode_integer(r), der.encode_integer(s))


def decode_signature(signature: bytes) -> tuple[int, int]:
    """Strict DER ``SEQUENCE { r, s }`` (one parser: :func:`sm2_engine.check_signature`) with ``1 ≤ r, s ≤ n-1``."""
    try:
        r, s = sm2_engine.check_signature(signature)
    except sm2_engine.EngineError as error:
        raise SM2Error(str(error)) from error
    if not (1 <= r < N and 1 <= s < N):
        raise SM2Error("signature r or s out of range")
    return r, s


Hmac = Callable[[bytes, bytes], bytes]


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (only to check :func:`rfc6979_generic` against RFC 6979's own test vectors)."""
    return hmac.new(key, data, hashlib.sha256).digest()


def _bits2int(data: bytes, qlen: int) -> int:
    value = int.from_bytes(data, "big")
    blen = len(data) * 8
    return value >> (blen - qlen) if blen > qlen else value


def rfc6979_generic(q: int, x: int, h1: bytes, mac: Hmac, hlen: int, extra: bytes = b"") -> Iterator[int]:
    """RFC 6979 §3.2 candidate nonces for group order ``q``, private key ``x`` and message hash ``h1``,
    with the HMAC ``mac`` (output ``hlen`` bytes). ``extra`` is the additional data of §3.6."""
    qlen = q.bit_length()
    rolen = (qlen + 7) // 8
    x_octets = x.to_bytes(rolen, "big")
    h_octets = (_bits2int(h1, qlen) % q).to_bytes(rolen, "big")  # bits2octets
    v = b"\x01" * hlen
    k = b"\x00" * hlen
    k = mac(k, v + b"\x00" + x_octets + h_octets + extra)
    v = mac(k, v)
    k = mac(k, v + b"\x01" + x_octets + h_octets + extra)
    v = mac(k, v)
    while True:
        t = b""
        while len(t) * 8 < qlen:
            v = mac(k, v)
            t += v
        candidate = _bits2int(t, qlen)
        if 1 <= candidate < q:
            yield candidate
        k = mac(k, v + b"\x00")
        v = mac(k, v)


def rfc6979_nonces(d: int, e: bytes, extra: bytes = b"") -> Iterator[int]:
    """Candidate SM2 nonces derived as in RFC 6979 §3.2 with HMAC-SM3 (qlen = hlen = 256).

    ``extra`` is the optional additional data of §3.6; pass fresh random bytes for hedged nonces.
    The derivation is :func:`rfc6979_generic`, which is tested against RFC 6979 appendix A.2.5.
    """
    return rfc6979_generic(N, d, e, hmac_sm3, 32, extra)


def _random_nonces() -> Iterator[int]:
    while True:
        yield secrets.randbelow(N - 1) + 1


def _sign_with_k(private_key: SM2PrivateKey, e: bytes, k: int) -> tuple[int, int] | None:
    """One signing attempt with the caller's ``k`` (gmssl's primitive); None if k must be redrawn."""
    if not 1 <= k < N:
        raise SM2Error("nonce k out of range 1 ≤ k ≤ n−1")
    engine = _engine(f"{private_key.d:064x}")
    result = engine.sign(e, f"{k:064x}")
    if result is None:
        return None
    r, s = int(result[:64], 16), int(result[64:], 16)
    if not (1 <= r < N and 1 <= s < N):  # pragma: no cover - gmssl already rejects these
        return None
    return r, s


def _sign_digest_with_k(private_key: SM2PrivateKey, e: bytes, k: int) -> tuple[int, int]:
    """Sign with a caller-chosen nonce ``k``: private, for the official test vector (GM/T 0003.5)
    only. A reused ``k`` reveals the private key."""
    if len(e) != 32:
        raise SM2Error("the digest e must be 32 bytes")
    result = _sign_with_k(private_key, e, k)
    if result is None:
        raise SM2Error("this k gives r = 0, r + k = n or s = 0; choose another")
    return result


def sign_digest(private_key: SM2PrivateKey, e: bytes, *, nonce: NonceMode = "hedged") -> tuple[int, int]:
    """Sign the 32-byte digest ``e = SM3(Z || M)``; return ``(r, s)``.

    ``nonce`` picks how ``k`` is made. With the OpenSSL engine, ``hedged`` (the default) and
    ``random`` both take ``k`` from OpenSSL's DRBG. Under the gmssl fallback, ``hedged`` is RFC 6979
    with HMAC-SM3 plus 32 fresh bytes from :mod:`secrets` and ``random`` is :mod:`secrets`.
    ``deterministic`` (pure RFC 6979: the same key and message give the same signature) always uses
    gmssl's primitive with that ``k`` (slower). There is no public way to fix ``k``.
    """
    if len(e) != 32:
        raise SM2Error("the digest e must be 32 bytes")
    if _NATIVE and nonce in ("hedged", "random"):
        return decode_signature(sm2_engine.sign_digest(private_key._native, e))
    if nonce == "random":
        candidates = _random_nonces()
    elif nonce == "deterministic":
        candidates = rfc6979_nonces(private_key.d, e)
    elif nonce == "hedged":
        candidates = rfc6979_nonces(private_key.d, e, secrets.token_bytes(32))
    else:
        raise SM2Error(f"unknown nonce mode {nonce!r}")
    for candidate in candidates:
        result = _sign_with_k(private_key, e, candidate)
        if result is not None:
            return result
    raise AssertionError("unreachable")  # pragma: no cover


def sign(
    private_key: SM2PrivateKey,
    message: bytes,
    *,
    uid: bytes = DEFAULT_ID,
    nonce: NonceMode = "hedged",
) -> bytes:
    """SM2 signature (SM3, ID ``uid``) over ``message`` as DER ``SEQUENCE {r, s}``."""
    e = message_digest(private_key.public_key, message, uid)
    return encode_signature(*sign_digest(private_key, e, nonce=nonce))


def verify_digest(public_key: SM2PublicKey, e: bytes, r: int, s: int) -> bool:
    """Check ``(r, s)`` over the digest ``e`` (GB/T 32918.2 §7.1)."""
    if not (1 <= r < N and 1 <= s < N) or len(e) != 32:
        return False
    t = (r + s) % N
    if t == 0:
        return False
    if _NATIVE:
        return sm2_engine.verify_digest(public_key._native, e, encode_signature(r, s))
    point = _add(_mul(s, _G_HEX), _mul(t, public_key.to_hex()))
    if point is None:
        return False
    return (int.from_bytes(e, "big") + point[0]) % N == r


def verify(public_key: SM2PublicKey, message: bytes, signature: bytes, *, uid: bytes = DEFAULT_ID) -> bool:
    """True when ``signature`` (DER) is a valid SM2 signature of ``message`` by ``public_key``."""
    try:
        r, s = decode_signature(signature)
        e = message_digest(public_key, message, uid)  # SM2Error: an ID too long to be any signer's
    except SM2Error:
        return False
    return verify_digest(public_key, e, r, s)


def encrypt(public_key: SM2PublicKey, plaintext: bytes) -> bytes:
    """SM2 public-key encryption (GB/T 32918.4, SM3) of ``plaintext`` (1 byte or more); the
    ciphertext is the GM/T 0009 ASN.1 ``SEQUENCE {x, y, C3, C2}`` that OpenSSL reads
    (``openssl pkeyutl -decrypt``). Needs the OpenSSL engine."""
    if not _NATIVE:
        raise SM2Error("SM2 encryption needs OpenSSL 3 (gmssl's SM2 encryption is not used)")
    if not plaintext:
        raise SM2Error("SM2 encryption needs at least one byte of plaintext")
    return sm2_engine.encrypt(public_key._native, plaintext)


def decode_ciphertext(ciphertext: bytes) -> tuple[SM2PublicKey, bytes, bytes]:
    """``(C1, C3, C2)`` of a GM/T 0009 ciphertext in strict DER: a SEQUENCE of exactly ``x``, ``y``
    (minimal INTEGERs, ``0 ≤ x, y < p``, a point on the curve), C3 (OCTET STRING of 32 bytes) and C2
    (non-empty OCTET STRING), nothing before or after, and the only encoding of these values (it
    re-encodes to the same bytes). :class:`SM2Error` otherwise."""
    try:
        x, y, c3, c2 = sm2_engine.check_ciphertext(ciphertext)
    except sm2_engine.EngineError as error:
        raise SM2Error(str(error)) from error
    return SM2PublicKey(x, y), c3, c2  # on the curve (check_ciphertext; SM2PublicKey checks it again)


def decrypt(private_key: SM2PrivateKey, ciphertext: bytes) -> bytes:
    """Inverse of :func:`encrypt`: the encoding is checked strictly (:func:`decode_ciphertext`), then
    OpenSSL checks the point C1 and the tag C3; :class:`SM2Error` if the ciphertext is malformed, was
    altered or is for another key."""
    decode_ciphertext(ciphertext)
    if not _NATIVE:
        raise SM2Error("SM2 decryption needs OpenSSL 3 (gmssl's SM2 decryption is not used)")
    try:
        return sm2_engine.decrypt(private_key._native, ciphertext)
    except sm2_engine.EngineError as error:
        raise SM2Error("SM2 decryption failed (malformed, altered or not for this key)") from error

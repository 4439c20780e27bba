"""Native SM2 engine: the system's OpenSSL 3 ``libcrypto`` through cffi (ABI mode).

Why this engine (see ``docs/crypto.md``, "SM2 engine"): ``tongsuopy`` 1.0.1 was evaluated and
rejected (last release February 2023, bundles Tongsuo on an OpenSSL 1.1.1h base, x86_64 wheel only —
no aarch64 wheel and no sdist —, no distinguishing ID, no digest signing and no SM2 encryption in its
public API). ``cryptography`` does not expose SM2. The OpenSSL 3 that Debian 12 ships (and keeps
patched) implements SM2 signatures and SM2 encryption (GB/T 32918, GM/T 0009 ciphertext) and is the
same library as the ``openssl`` command the interop tests run.

This module only declares and calls documented OpenSSL 3.0 EVP functions; no curve arithmetic is
written here. Keys enter OpenSSL as DER (PKCS#8 / SubjectPublicKeyInfo, built by the caller), so
OpenSSL itself checks that a public point lies on the curve. OpenSSL's own DER readers are lenient
(trailing bytes, long-form lengths, non-minimal INTEGERs are accepted), so signatures and ciphertexts
are parsed strictly here first (:func:`check_signature`, :func:`check_ciphertext`: exactly the fields,
minimal encodings, re-encoded and compared byte for byte) and only then handed to OpenSSL. Calls
release the GIL (cffi default), so threads sign in parallel.

Everything returns plain bytes; errors raise :class:`EngineError` (a ``ValueError``). The OpenSSL
error queue is cleared after every failure.
"""

from __future__ import annotations

import ctypes.util
import threading
from typing import Any

import cffi

from xzgov.crypto import der

_CDEF = """
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct pkcs8_priv_key_info_st PKCS8_PRIV_KEY_INFO;

const char *OpenSSL_version(int type);
unsigned long ERR_get_error(void);
void ERR_clear_error(void);
void ERR_error_string_n(unsigned long e, char *buf, size_t len);

EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
int i2d_PUBKEY(const EVP_PKEY *a, unsigned char **pp);
PKCS8_PRIV_KEY_INFO *d2i_PKCS8_PRIV_KEY_INFO(PKCS8_PRIV_KEY_INFO **a, const unsigned char **pp, long length);
void PKCS8_PRIV_KEY_INFO_free(PKCS8_PRIV_KEY_INFO *a);
EVP_PKEY *EVP_PKCS82PKEY(const PKCS8_PRIV_KEY_INFO *p8);
void EVP_PKEY_free(EVP_PKEY *pkey);
int EVP_PKEY_is_a(const EVP_PKEY *pkey, const char *name);

EVP_PKEY_CTX *EVP_PKEY_CTX_new_from_pkey(void *libctx, EVP_PKEY *pkey, const char *propquery);
void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);
int EVP_PKEY_sign_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen, const unsigned char *tbs, size_t tbslen);
int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen,
                    const unsigned char *tbs, size_t tbslen);
int EVP_PKEY_encrypt_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_encrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen, const unsigned char *in, size_t inlen);
int EVP_PKEY_decrypt_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_decrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen, const unsigned char *in, size_t inlen);
"""

NAME = "openssl3"


class EngineError(ValueError):
    """The native engine refused an operation (bad key, bad ciphertext) or is not available."""


class _Lib:
    """The loaded library (lazily, once)."""

    _lock = threading.Lock()
    _instance: tuple[Any, Any] | None = None

    @classmethod
    def get(cls) -> tuple[Any, Any]:
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls._load()
        return cls._instance

    @staticmethod
    def _load() -> tuple[Any, Any]:
        ffi = cffi.FFI()
        ffi.cdef(_CDEF)
        candidates = ["libcrypto.so.3", ctypes.util.find_library("crypto") or ""]
        last: Exception | None = None
        for name in filter(None, candidates):
            try:
                lib = ffi.dlopen(name)
            except OSError as error:
                last = error
                continue
            version = ffi.string(lib.OpenSSL_version(0)).decode()
            if not version.startswith("OpenSSL 3."):
                last = EngineError(f"{name} is {version}, OpenSSL 3 is required")
                continue
            return ffi, lib
        raise EngineError(f"no OpenSSL 3 libcrypto found for the SM2 engine: {last}")


def available() -> bool:
    try:
        _Lib.get()
    except EngineError:
        return False
    return True


def version() -> str:
    ffi, lib = _Lib.get()
    return str(ffi.string(lib.OpenSSL_version(0)).decode())


#: The SM3 tag C3 of an SM2 ciphertext.
C3_SIZE = 32
#: The SM2 recommended curve (GB/T 32918.5): y² = x³ + ax + b over GF(p); checked against gmssl's table
#: by the tests.
CURVE_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
CURVE_A = CURVE_P - 3
CURVE_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93


def check_signature(signature_der: bytes) -> tuple[int, int]:
    """``(r, s)`` of a strict DER ``SEQUENCE {r, s}`` (ranges are the caller's); EngineError otherwise."""
    try:
        items = der.sequence(signature_der)
        if len(items) != 2:
            raise EngineError("a signature is SEQUENCE {r, s}")
        r, s = der.as_integer(items[0]), der.as_integer(items[1])
    except der.DerError as error:
        raise EngineError(f"malformed DER signature: {error}") from error
    if der.encode_sequence(der.encode_integer(r), der.encode_integer(s)) != signature_der:
        raise EngineError("malformed DER signature: not the canonical encoding")
    return r, s


def encode_ciphertext(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    """The GM/T 0009 ASN.1 ciphertext ``SEQUENCE {x, y, C3, C2}`` (DER)."""
    return der.encode_sequence(der.encode_integer(x), der.encode_integer(y), der.encode_octet_string(c3),
                               der.encode_octet_string(c2))


def check_ciphertext(ciphertext: bytes) -> tuple[int, int, bytes, bytes]:
    """``(x, y, C3, C2)`` of a strict DER GM/T 0009 ciphertext: a SEQUENCE of exactly two minimal
    INTEGERs ``0 ≤ x, y < p`` forming a point on the SM2 curve, a 32-byte OCTET STRING and a non-empty
    OCTET STRING, and nothing else (the whole input re-encodes to itself). EngineError otherwise."""
    try:
        items = der.sequence(ciphertext)
        if len(items) != 4:
            raise EngineError("malformed SM2 ciphertext: expected SEQUENCE {x, y, C3, C2}")
        x, y = der.as_integer(items[0]), der.as_integer(items[1])
        c3, c2 = der.as_octet_string(items[2]), der.as_octet_string(items[3])
    except der.DerError as error:
        raise EngineError(f"malformed SM2 ciphertext: {error}") from error
    if not (0 <= x < CURVE_P and 0 <= y < CURVE_P) or (y * y - x * x * x - CURVE_A * x - CURVE_B) % CURVE_P:
        raise EngineError("malformed SM2 ciphertext: C1 is not a point on the SM2 curve")
    if len(c3) != C3_SIZE:
        raise EngineError(f"malformed SM2 ciphertext: C3 is {len(c3)} bytes, not {C3_SIZE}")
    if not c2:
        raise EngineError("malformed SM2 ciphertext: empty C2")
    if encode_ciphertext(x, y, c3, c2) != ciphertext:
        raise EngineError("malformed SM2 ciphertext: not the canonical DER encoding")
    return x, y, c3, c2


def _fail(what: str) -> EngineError:
    ffi, lib = _Lib.get()
    code = lib.ERR_get_error()
    detail = ""
    if code:
        buf = ffi.new("char[]", 256)
        lib.ERR_error_string_n(code, buf, 256)
        detail = ": " + ffi.string(buf).decode(errors="replace")
    lib.ERR_clear_error()
    return EngineError(what + detail)


class Key:
    """An OpenSSL ``EVP_PKEY`` holding an SM2 key (freed with the object). Never printed."""

    __slots__ = ("_pkey", "private")

    def __init__(self, pkey: Any, *, private: bool) -> None:
        self._pkey = pkey
        self.private = private

    def __repr__(self) -> str:
        return f"<sm2_engine.Key {'private' if self.private else 'public'}>"


def _check_sm2(pkey: Any) -> None:
    _, lib = _Lib.get()
    if lib.EVP_PKEY_is_a(pkey, b"SM2") != 1:
        raise EngineError("OpenSSL did not load the key as an SM2 key")


def load_public_spki(spki_der: bytes) -> Key:
    """A public key from DER SubjectPublicKeyInfo (OpenSSL checks the point is on the curve)."""
    ffi, lib = _Lib.get()
    buf = ffi.from_buffer(spki_der)
    pp = ffi.new("const unsigned char **", buf)
    pkey = lib.d2i_PUBKEY(ffi.NULL, pp, len(spki_der))
    if pkey == ffi.NULL:
        raise _fail("invalid SM2 public key")
    pkey = ffi.gc(pkey, lib.EVP_PKEY_free)
    _check_sm2(pkey)
    return Key(pkey, private=False)


def load_private_pkcs8(pkcs8_der: bytes) -> Key:
    """A private key from DER PKCS#8 (the public point may be absent: OpenSSL derives it)."""
    ffi, lib = _Lib.get()
    buf = ffi.from_buffer(pkcs8_der)
    pp = ffi.new("const unsigned char **", buf)
    p8 = lib.d2i_PKCS8_PRIV_KEY_INFO(ffi.NULL, pp, len(pkcs8_der))
    if p8 == ffi.NULL:
        raise _fail("invalid SM2 private key")
    try:
        pkey = lib.EVP_PKCS82PKEY(p8)
    finally:
        lib.PKCS8_PRIV_KEY_INFO_free(p8)
    if pkey == ffi.NULL:
        raise _fail("invalid SM2 private key")
    pkey = ffi.gc(pkey, lib.EVP_PKEY_free)
    _check_sm2(pkey)
    return Key(pkey, private=True)


def public_spki(key: Key) -> bytes:
    """DER SubjectPublicKeyInfo of ``key`` (for a private key: its derived public key)."""
    ffi, lib = _Lib.get()
    size = lib.i2d_PUBKEY(key._pkey, ffi.NULL)
    if size <= 0:
        raise _fail("cannot encode the public key")
    out = ffi.new("unsigned char[]", size)
    pp = ffi.new("unsigned char **", out)
    if lib.i2d_PUBKEY(key._pkey, pp) != size:
        raise _fail("cannot encode the public key")
    return bytes(ffi.buffer(out, size))


def _ctx(key: Key) -> Any:
    ffi, lib = _Lib.get()
    ctx = lib.EVP_PKEY_CTX_new_from_pkey(ffi.NULL, key._pkey, ffi.NULL)
    if ctx == ffi.NULL:
        raise _fail("cannot create an SM2 context")
    return ffi.gc(ctx, lib.EVP_PKEY_CTX_free)


def sign_digest(key: Key, e: bytes) -> bytes:
    """SM2 signature (DER ``SEQUENCE {r, s}``) over the 32-byte digest ``e = SM3(Z || M)``.

    The nonce comes from OpenSSL's DRBG (``BN_priv_rand_range``), fresh for every signature."""
    if not key.private:
        raise EngineError("signing needs a private key")
    if len(e) != 32:
        raise EngineError("the digest e must be 32 bytes")
    ffi, lib = _Lib.get()
    ctx = _ctx(key)
    if lib.EVP_PKEY_sign_init(ctx) != 1:
        raise _fail("SM2 sign init failed")
    out = ffi.new("unsigned char[]", 80)
    outlen = ffi.new("size_t *", 80)
    if lib.EVP_PKEY_sign(ctx, out, outlen, e, 32) != 1:
        raise _fail("SM2 signing failed")
    return bytes(ffi.buffer(out, outlen[0]))


def verify_digest(key: Key, e: bytes, signature_der: bytes) -> bool:
    """True when ``signature_der`` is a valid SM2 signature over the digest ``e``; a signature that is
    not strict DER (:func:`check_signature`) is invalid and never reaches OpenSSL."""
    if len(e) != 32:
        return False
    try:
        check_signature(signature_der)
    except EngineError:
        return False
    _, lib = _Lib.get()
    ctx = _ctx(key)
    if lib.EVP_PKEY_verify_init(ctx) != 1:
        raise _fail("SM2 verify init failed")
    result = lib.EVP_PKEY_verify(ctx, signature_der, len(signature_der), e, 32)
    if result != 1:
        lib.ERR_clear_error()
        return False
    return True


def encrypt(key: Key, plaintext: bytes) -> bytes:
    """SM2 public-key encryption (GB/T 32918.4 with SM3), ciphertext in the GM/T 0009 ASN.1 form
    ``SEQUENCE {x INTEGER, y INTEGER, hash OCTET STRING (C3), ciphertext OCTET STRING (C2)}``."""
    if not plaintext:
        raise EngineError("SM2 encryption needs at least one byte")
    ffi, lib = _Lib.get()
    ctx = _ctx(key)
    if lib.EVP_PKEY_encrypt_init(ctx) != 1:
        raise _fail("SM2 encrypt init failed")
    outlen = ffi.new("size_t *", 0)
    if lib.EVP_PKEY_encrypt(ctx, ffi.NULL, outlen, plaintext, len(plaintext)) != 1:
        raise _fail("SM2 encryption failed")
    out = ffi.new("unsigned char[]", outlen[0])
    if lib.EVP_PKEY_encrypt(ctx, out, outlen, plaintext, len(plaintext)) != 1:
        raise _fail("SM2 encryption failed")
    return bytes(ffi.buffer(out, outlen[0]))


def decrypt(key: Key, ciphertext: bytes) -> bytes:
    """Inverse of :func:`encrypt`; OpenSSL checks C1 on the curve and C3 (the SM3 tag). The ciphertext
    must be strict DER (:func:`check_ciphertext`) before OpenSSL sees it."""
    if not key.private:
        raise EngineError("decryption needs a private key")
    check_ciphertext(ciphertext)
    ffi, lib = _Lib.get()
    ctx = _ctx(key)
    if lib.EVP_PKEY_decrypt_init(ctx) != 1:
        raise _fail("SM2 decrypt init failed")
    outlen = ffi.new("size_t *", 0)
    if lib.EVP_PKEY_decrypt(ctx, ffi.NULL, outlen, ciphertext, len(ciphertext)) != 1:
        raise _fail("SM2 decryption failed")
    out = ffi.new("unsigned char[]", max(outlen[0], 1))
    if lib.EVP_PKEY_decrypt(ctx, out, outlen, ciphertext, len(ciphertext)) != 1:
        raise _fail("SM2 decryption failed")
    return bytes(ffi.buffer(out, outlen[0]))

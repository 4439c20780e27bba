"""SM4 (GB/T 32907-2016) in GCM mode, from OpenSSL via ``cryptography``.

``cryptography``'s AEAD API has no SM4 class, so GCM goes through ``Cipher(algorithms.SM4(key),
modes.GCM(nonce))``: OpenSSL's ``SM4-GCM`` (equal to OpenSSL's own output, see the tests).
Nonces are 96 bits from :mod:`secrets`; tags are the full 128 bits.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
BLOCK_SIZE = 16


class SM4AuthenticationError(ValueError):
    """The tag does not match: wrong key, wrong associated data or tampered ciphertext."""


def generate_key() -> bytes:
    """A fresh 128-bit SM4 key from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"an SM4 key is {KEY_SIZE} bytes, got {len(key)}")


def gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes = b"", nonce: bytes | None = None) -> bytes:
    """SM4-GCM: return ``nonce (12) || ciphertext || tag (16)``.

    ``nonce`` is for test vectors only; leave it ``None`` so a fresh random nonce is used.
    """
    _check_key(key)
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"an SM4-GCM nonce is {NONCE_SIZE} bytes")
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if aad:
        encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def gcm_decrypt(key: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """Open ``nonce || ciphertext || tag`` from :func:`gcm_encrypt`; raise SM4AuthenticationError."""
    _check_key(key)
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        raise SM4AuthenticationError("SM4-GCM message too short")
    nonce, body, tag = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:-TAG_SIZE], sealed[-TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if aad:
        decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag as error:
        raise SM4AuthenticationError("SM4-GCM authentication failed") from error


def ecb_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Raw SM4 of one 16-byte block (for known-answer tests and key ids only)."""
    _check_key(key)
    if len(block) != BLOCK_SIZE:
        raise ValueError("SM4 blocks are 16 bytes")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding (used only inside PKCS#8 PBES2 key files, as OpenSSL expects)."""
    _check_key(key)
    pad = BLOCK_SIZE - len(plaintext) % BLOCK_SIZE
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()


def cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`cbc_encrypt`; padding is checked (ValueError when wrong)."""
    _check_key(key)
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        raise ValueError("SM4-CBC ciphertext is not a whole number of blocks")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= BLOCK_SIZE or padded[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad SM4-CBC padding")
    return padded[:-pad]

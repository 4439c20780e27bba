"""SM2/SM3/SM4 for the whole project (国密: GB/T 32918, GB/T 32905, GB/T 32907).

* :mod:`xzgov.crypto.sm3` — SM3, HMAC-SM3, streaming file digests (OpenSSL via ``cryptography``)
* :mod:`xzgov.crypto.sm4` — SM4-GCM (OpenSSL via ``cryptography``)
* :mod:`xzgov.crypto.sm2` — SM2 signatures (gmssl, wrapped: safe nonces, key normalisation)
* :mod:`xzgov.crypto.keys` — PEM/DER keys compatible with OpenSSL 3, fingerprints
* :mod:`xzgov.crypto.vault` — SM4-GCM vaulted YAML values
* :mod:`xzgov.crypto.bundle` — signed evidence bundles

Submodule names (``sm2``, ``sm3``, ``sm4``) are not shadowed by re-exports. See ``docs/crypto.md``.
"""

from __future__ import annotations

from xzgov.crypto.bundle import VerifyResult, sign_files, verify_bundle
from xzgov.crypto.keys import (
    fingerprint,
    load_private_key,
    load_public_key,
    write_private_key,
    write_public_key,
)
from xzgov.crypto.sm2 import DEFAULT_ID, SM2PrivateKey, SM2PublicKey
from xzgov.crypto.vault import VaultKey, decrypt_value, encrypt_value, is_vaulted, load_vault_key

__all__ = [
    "DEFAULT_ID",
    "SM2PrivateKey",
    "SM2PublicKey",
    "VaultKey",
    "VerifyResult",
    "decrypt_value",
    "encrypt_value",
    "fingerprint",
    "is_vaulted",
    "load_private_key",
    "load_public_key",
    "load_vault_key",
    "sign_files",
    "verify_bundle",
    "write_private_key",
    "write_public_key",
]

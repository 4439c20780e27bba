"""Key files: PEM/DER strictness, encryption, permissions, no overwrite."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from xzgov.core.errors import UsageError
from xzgov.crypto import der, keys, sm2
from xzgov.crypto.sm3 import sm3


def test_pem_round_trips(key: sm2.SM2PrivateKey) -> None:
    assert keys.private_key_from_pem(keys.private_key_to_pem(key)) == key
    assert keys.public_key_from_pem(keys.public_key_to_pem(key.public_key)) == key.public_key
    encrypted = keys.private_key_to_pem(key, b"pw", iterations=1000, prf="sm3")
    assert keys.is_encrypted_pem(encrypted)
    assert keys.private_key_from_pem(encrypted, b"pw") == key
    with pytest.raises(keys.PassphraseError):
        keys.private_key_from_pem(encrypted)
    with pytest.raises(keys.PassphraseError):
        keys.private_key_from_pem(encrypted, b"pW")


def test_default_iterations_are_strong(key: sm2.SM2PrivateKey) -> None:
    data = keys.encrypt_private_key_der(key, b"pw")
    params = der.sequence(der.sequence(der.sequence(der.sequence(data)[0])[1])[0])[1]
    assert der.as_integer(der.sequence(params)[1]) == keys.DEFAULT_ITERATIONS >= 600_000


def test_fingerprint_is_sm3_of_spki(key: sm2.SM2PrivateKey) -> None:
    assert keys.fingerprint(key.public_key) == sm3(keys.public_key_to_der(key.public_key)).hex()
    assert len(keys.fingerprint(key.public_key)) == 64


def test_strict_der_rejects_variants(key: sm2.SM2PrivateKey) -> None:
    good = keys.public_key_to_der(key.public_key)
    with pytest.raises(keys.KeyFormatError):
        keys.public_key_from_der(good + b"\x00")
    wrong_curve = good.replace(der.encode_oid(keys.OID_SM2_CURVE), der.encode_oid("1.2.840.10045.3.1.7"))
    with pytest.raises(keys.KeyFormatError, match="not an SM2 key"):
        keys.public_key_from_der(wrong_curve)
    private = keys.private_key_to_der(key)
    with pytest.raises(keys.KeyFormatError):
        keys.private_key_from_der(private[:-1])
    with pytest.raises(keys.KeyFormatError):
        keys.pem_decode("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n")


def test_embedded_public_key_must_match(key: sm2.SM2PrivateKey) -> None:
    other = sm2.SM2PrivateKey.generate()
    inner = der.encode_sequence(
        der.encode_integer(1), der.encode_octet_string(key.to_bytes()),
        der.encode_context(1, der.encode_bit_string(other.public_key.to_bytes())),
    )
    algorithm = der.encode_sequence(der.encode_oid(keys.OID_EC_PUBLIC_KEY), der.encode_oid(keys.OID_SM2_CURVE))
    pkcs8 = der.encode_sequence(der.encode_integer(0), algorithm, der.encode_octet_string(inner))
    with pytest.raises(keys.KeyFormatError, match="does not match"):
        keys.private_key_from_der(pkcs8)


def test_private_key_file_is_0600_and_never_overwritten(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    path = tmp_path / "k.pem"
    keys.write_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        keys.write_private_key(path, sm2.SM2PrivateKey.generate())
    assert path.read_bytes() == before
    keys.write_private_key(path, sm2.SM2PrivateKey.generate(), force=True)
    assert path.read_bytes() != before and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]  # no temporary files left


def test_unreadable_and_malformed_key_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        keys.load_private_key(tmp_path / "missing.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(UsageError) as caught:
        keys.load_private_key(bad)
    assert caught.value.diagnostics[0].file == str(bad)


def _pbes2(kdf_params: list[bytes], *, kdf_extra: Sequence[bytes] = (), cipher: list[bytes] | None = None,
           pbes2_extra: Sequence[bytes] = (), outer_extra: Sequence[bytes] = ()) -> bytes:
    kdf = der.encode_sequence(der.encode_oid(keys.OID_PBKDF2), der.encode_sequence(*kdf_params), *kdf_extra)
    cipher_seq = der.encode_sequence(*(cipher if cipher is not None else
                                       [der.encode_oid(keys.OID_SM4_CBC), der.encode_octet_string(b"\0" * 16)]))
    alg = der.encode_sequence(der.encode_oid(keys.OID_PBES2), der.encode_sequence(kdf, cipher_seq, *pbes2_extra))
    return der.encode_sequence(alg, der.encode_octet_string(b"\0" * 16), *outer_extra)


SALT = der.encode_octet_string(b"s" * 16)
ITER = der.encode_integer(2048)
PRF = der.encode_sequence(der.encode_oid(keys.OID_HMAC_SHA256), der.encode_null())


@pytest.mark.parametrize(("params", "extra", "message"), [
    ([der.encode_octet_string(b"s")], {}, "PBKDF2 parameters"),                       # poc1: IndexError
    ([], {}, "PBKDF2 parameters"),
    ([SALT, ITER, der.encode_integer(16), PRF, der.encode_null()], {}, "PBKDF2 parameters"),
    ([SALT, der.encode_integer(1)], {}, "iterations"),                                # poc1: 1 iteration
    ([SALT, der.encode_integer(999), PRF], {}, "iterations"),
    ([der.encode_octet_string(b"1234567"), ITER, PRF], {}, "salt"),
    ([der.encode_octet_string(b""), der.encode_integer(1)], {}, "salt"),
    ([SALT, ITER, der.encode_sequence(der.encode_oid(keys.OID_HMAC_SHA256), der.encode_integer(0))], {}, "PRF"),
    ([SALT, ITER, der.encode_sequence(der.encode_oid(keys.OID_HMAC_SHA256), der.encode_null(),
                                      der.encode_null())], {}, "PRF"),
    ([SALT, ITER, der.encode_sequence()], {}, "PRF"),
    ([SALT, ITER, PRF], {"kdf_extra": [der.encode_null()]}, "key derivation"),
    ([SALT, ITER, PRF], {"pbes2_extra": [der.encode_null()]}, "PBES2 parameters"),
    ([SALT, ITER, PRF], {"cipher": [der.encode_oid(keys.OID_SM4_CBC)]}, "SM4-CBC"),
    ([SALT, ITER, PRF], {"cipher": [der.encode_oid(keys.OID_SM4_CBC), der.encode_octet_string(b"\0" * 16),
                                    der.encode_null()]}, "SM4-CBC"),
    ([SALT, ITER, PRF], {"cipher": []}, "SM4-CBC"),
])
def test_malformed_pbes2_is_a_clear_error(tmp_path: Path, params: list[bytes], extra: dict[str, list[bytes]],
                                          message: str) -> None:
    """Finding 8/9: malformed PBES2 structures raised IndexError (an internal error) or were accepted."""
    data = _pbes2(params, **extra)
    with pytest.raises(keys.KeyFormatError, match=message) as caught:
        keys.decrypt_private_key_der(data, b"pw")
    assert not isinstance(caught.value, keys.PassphraseError)
    path = tmp_path / "enc.pem"
    path.write_text(keys.pem_encode("ENCRYPTED PRIVATE KEY", data))
    with pytest.raises(UsageError) as usage:
        keys.load_private_key(path, b"pw")
    assert usage.value.diagnostics[0].file == str(path)


def test_well_formed_pbes2_variants_are_read(key: sm2.SM2PrivateKey) -> None:
    good = keys.encrypt_private_key_der(key, b"pw", iterations=1000)
    assert keys.decrypt_private_key_der(good, b"pw") == key
    with pytest.raises(keys.PassphraseError):
        keys.decrypt_private_key_der(good, b"wrong")
    # PRF parameters absent instead of NULL, and an explicit key length, are both valid PKCS#5
    with pytest.raises(keys.PassphraseError):
        keys.decrypt_private_key_der(_pbes2([SALT, ITER, der.encode_integer(16),
                                             der.encode_sequence(der.encode_oid(keys.OID_HMAC_SHA256))]), b"pw")
    with pytest.raises(keys.KeyFormatError, match="key length"):
        keys.decrypt_private_key_der(_pbes2([SALT, ITER, der.encode_integer(32), PRF]), b"pw")
    with pytest.raises(keys.KeyFormatError, match="PRF"):  # absent PRF = HMAC-SHA1 default: refused
        keys.decrypt_private_key_der(_pbes2([SALT, ITER]), b"pw")

"""SM2 key files: PEM/DER import and export compatible with OpenSSL 3, fingerprints.

Formats (as ``openssl genpkey -algorithm SM2`` writes them):

* private key: PKCS#8 ``PrivateKeyInfo`` (``-----BEGIN PRIVATE KEY-----``) with algorithm
  ``id-ecPublicKey`` (1.2.840.10045.2.1) and parameter the SM2 curve OID 1.2.156.10197.1.301,
  wrapping a SEC 1 ``ECPrivateKey`` (version 1, d, [1] public key). SEC 1
  ``-----BEGIN EC PRIVATE KEY-----`` files with the SM2 curve are read too, and the same labelled
  ``SM2 PRIVATE KEY`` (OpenSSL 3's ``openssl ec`` writes an SM2 key so).
* encrypted private key: PKCS#8 ``EncryptedPrivateKeyInfo`` (``-----BEGIN ENCRYPTED PRIVATE
  KEY-----``), PBES2 = PBKDF2 + SM4-CBC (OID 1.2.156.10197.1.104.2). The PRF is HMAC-SHA256 by
  default because OpenSSL 3.0 reads it (``openssl pkey -passin``); HMAC-SM3
  (OID 1.2.156.10197.1.401.3.1) is available for all-SM deployments and read back here.
* public key: ``SubjectPublicKeyInfo`` (``-----BEGIN PUBLIC KEY-----``), uncompressed point.

The fingerprint of a key is the SM3 of its DER SubjectPublicKeyInfo (point uncompressed), in lowercase hex.
"""

from __future__ import annotations

import base64
import re
import secrets
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from xzgov.core.errors import Diagnostic, UsageError, output_error
from xzgov.core.fsutil import atomic_write, check_secret_file_mode
from xzgov.crypto import der, sm4
from xzgov.crypto.b64 import strict_b64decode
from xzgov.crypto.files import KEY_LIMIT, read_regular_text
from xzgov.crypto.sm2 import SM2Error, SM2PrivateKey, SM2PublicKey
from xzgov.crypto.sm3 import sm3

OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_HMAC_SHA256 = "1.2.840.113549.2.9"
OID_HMAC_SM3 = "1.2.156.10197.1.401.3.1"
OID_SM4_CBC = "1.2.156.10197.1.104.2"

#: PBKDF2 iterations for new encrypted keys (OWASP 2023 guidance for PBKDF2-HMAC-SHA256).
DEFAULT_ITERATIONS = 600_000
_MAX_ITERATIONS = 10_000_000

Prf = Literal["sha256", "sm3"]
_PRFS: dict[str, tuple[str, hashes.HashAlgorithm]] = {
    "sha256": (OID_HMAC_SHA256, hashes.SHA256()),
    "sm3": (OID_HMAC_SM3, hashes.SM3()),
}
_PRF_BY_OID = {oid: algorithm for oid, algorithm in _PRFS.values()}


class KeyFormatError(ValueError):
    """Not an SM2 key in a supported format."""


class PassphraseError(KeyFormatError):
    """An encrypted key needs a passphrase, or the passphrase is wrong."""


# --------------------------------------------------------------------------- PEM


_PEM_BEGIN = "-----BEGIN"
_PEM_DASHES = "-----"
_PEM_LABEL = re.compile(r"[A-Z0-9]+(?: [A-Z0-9]+)*")
_PEM_MAX_LABEL = 64


def pem_encode(label: str, data: bytes) -> str:
    body = base64.b64encode(data).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def pem_decode(text: str) -> tuple[str, bytes]:
    """The label and DER of the one PEM block in ``text``.

    Text outside the block is ignored (as OpenSSL does: ``openssl pkey -text`` output reads back), but
    there must be exactly one block: a second ``-----BEGIN`` anywhere is refused, never silently
    skipped. Lines end with LF or CRLF; the body is base64 in the canonical encoding (what OpenSSL
    writes), in lines of any length; PEM headers (``Proc-Type:``) are not supported. The work is
    linear in the length of ``text`` (a few ``str.find`` scans, no backtracking).
    """
    begin = text.find(_PEM_BEGIN)
    if begin < 0:
        raise KeyFormatError("no PEM block found")
    if text.find(_PEM_BEGIN, begin + 1) >= 0:
        raise KeyFormatError("more than one PEM block where one key is expected (give each key its own file)")
    label_start = begin + len(_PEM_BEGIN) + 1  # "-----BEGIN" and one space
    line_end = text.find("\n", label_start)
    if line_end < 0:
        raise KeyFormatError("no PEM block found (a BEGIN line without a body)")
    line = text[label_start:line_end].removesuffix("\r")
    if (text[label_start - 1 : label_start] != " " or not line.endswith(_PEM_DASHES)
            or len(line) > _PEM_MAX_LABEL + len(_PEM_DASHES) or not _PEM_LABEL.fullmatch(line[: -len(_PEM_DASHES)])):
        raise KeyFormatError("malformed PEM BEGIN line (expected '-----BEGIN LABEL-----')")
    label = line[: -len(_PEM_DASHES)]
    end_marker = f"-----END {label}-----"
    end = text.find(end_marker, line_end + 1)
    if end < 0:
        raise KeyFormatError(f"PEM block {label!r} has no '-----END {label}-----' line")
    body = "".join(text[line_end + 1 : end].split())
    if not body.isascii():  # the file is read as UTF-8 (text outside the block may be anything): the block may not
        raise KeyFormatError("invalid base64 in PEM block: a character that is not ASCII")
    try:
        data = strict_b64decode(body)
    except ValueError as error:
        raise KeyFormatError(f"invalid base64 in PEM block: {error}") from error
    return label, data


# --------------------------------------------------------------------------- DER structures


def _sm2_algorithm() -> bytes:
    return der.encode_sequence(der.encode_oid(OID_EC_PUBLIC_KEY), der.encode_oid(OID_SM2_CURVE))


def _check_sm2_algorithm(element: der.Tlv) -> None:
    items = der.sequence(element)
    if len(items) != 2 or der.as_oid(items[0]) != OID_EC_PUBLIC_KEY:
        raise KeyFormatError("not an elliptic-curve key (algorithm is not id-ecPublicKey)")
    curve = der.as_oid(items[1]) if items[1].tag == der.OID else "explicit parameters"
    if curve != OID_SM2_CURVE:
        raise KeyFormatError(f"not an SM2 key (curve {curve}, expected {OID_SM2_CURVE})")


def public_key_to_der(public_key: SM2PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo."""
    return der.encode_sequence(_sm2_algorithm(), der.encode_bit_string(public_key.to_bytes()))


def public_key_from_der(data: bytes) -> SM2PublicKey:
    try:
        items = der.sequence(data)
        if len(items) != 2:
            raise KeyFormatError("SubjectPublicKeyInfo must have two fields")
        _check_sm2_algorithm(items[0])
        return SM2PublicKey.from_bytes(der.as_bit_string(items[1]))
    except (der.DerError, SM2Error) as error:
        raise KeyFormatError(f"invalid SM2 public key: {error}") from error


def _ec_private_key(private_key: SM2PrivateKey) -> bytes:
    return der.encode_sequence(
        der.encode_integer(1),
        der.encode_octet_string(private_key.to_bytes()),
        der.encode_context(1, der.encode_bit_string(private_key.public_key.to_bytes())),
    )


def _optional_fields(items: list[der.Tlv], allowed: tuple[int, ...], where: str) -> dict[int, der.Tlv]:
    """The trailing optional fields ``items``, by tag: only the ``allowed`` tags, each at most once and
    in the order given (ASN.1 ``[0] ... OPTIONAL, [1] ... OPTIONAL``); KeyFormatError otherwise."""
    found: dict[int, der.Tlv] = {}
    position = 0
    for item in items:
        while position < len(allowed) and allowed[position] != item.tag:
            position += 1
        if position == len(allowed):
            raise KeyFormatError(f"unexpected field (tag 0x{item.tag:02x}) in {where}")
        found[item.tag] = item
        position += 1
    return found


def _parse_ec_private_key(data: bytes, *, require_curve: bool) -> SM2PrivateKey:
    """SEC 1 ``ECPrivateKey {version 1, privateKey, [0] parameters OPTIONAL, [1] publicKey OPTIONAL}``."""
    items = der.sequence(data)
    if len(items) < 2 or der.as_integer(items[0]) != 1:
        raise KeyFormatError("ECPrivateKey must start with version 1")
    scalar = der.as_octet_string(items[1])
    if len(scalar) != 32:
        raise KeyFormatError("SM2 private scalar must be 32 bytes")
    key = SM2PrivateKey(int.from_bytes(scalar, "big"))
    extra = _optional_fields(items[2:], (0xA0, 0xA1), "ECPrivateKey")
    if 0xA0 in extra:
        curve = der.as_oid(der.decode_single(extra[0xA0].value))
        if curve != OID_SM2_CURVE:
            raise KeyFormatError(f"not an SM2 key (curve {curve})")
    if 0xA1 in extra:
        point = SM2PublicKey.from_bytes(der.as_bit_string(der.decode_single(extra[0xA1].value)))
        if point != key.public_key:
            raise KeyFormatError("the embedded public key does not match the private key")
    if require_curve and 0xA0 not in extra:
        raise KeyFormatError("SEC 1 key without curve parameters")
    return key


def private_key_to_der(private_key: SM2PrivateKey) -> bytes:
    """DER PKCS#8 PrivateKeyInfo (unencrypted)."""
    return der.encode_sequence(
        der.encode_integer(0), _sm2_algorithm(), der.encode_octet_string(_ec_private_key(private_key))
    )


def private_key_from_der(data: bytes) -> SM2PrivateKey:
    """Parse PKCS#8 PrivateKeyInfo (or SEC 1 ECPrivateKey with the SM2 curve).

    PKCS#8 (RFC 5958 ``OneAsymmetricKey``): ``{version, privateKeyAlgorithm, privateKey,
    [0] attributes OPTIONAL, [1] publicKey OPTIONAL}`` — nothing else after ``privateKey``; the
    ``[1]`` public key only in version 2 (``1``), and it must match the private key."""
    try:
        items = der.sequence(data)
        if len(items) >= 2 and items[0].tag == der.INTEGER and items[1].tag == der.OCTET_STRING:
            return _parse_ec_private_key(data, require_curve=True)  # SEC 1: version 1, then the scalar
        if len(items) < 3 or der.as_integer(items[0]) not in (0, 1):
            raise KeyFormatError("not a PKCS#8 PrivateKeyInfo")
        version = der.as_integer(items[0])
        _check_sm2_algorithm(items[1])
        key = _parse_ec_private_key(der.as_octet_string(items[2]), require_curve=False)
        extra = _optional_fields(items[3:], (0xA0, 0x81), "PKCS#8 PrivateKeyInfo")
        if 0xA0 in extra:
            der.children(extra[0xA0])  # attributes: well-formed DER, otherwise ignored
        if 0x81 in extra:
            if version != 1:
                raise KeyFormatError("a PKCS#8 public key field needs version 2 (OneAsymmetricKey)")
            point = SM2PublicKey.from_bytes(der.as_bit_string(der.Tlv(der.BIT_STRING, extra[0x81].value)))
            if point != key.public_key:
                raise KeyFormatError("the embedded public key does not match the private key")
        return key
    except (der.DerError, SM2Error) as error:
        raise KeyFormatError(f"invalid SM2 private key: {error}") from error


def _pbkdf2(passphrase: bytes, salt: bytes, iterations: int, prf: hashes.HashAlgorithm) -> bytes:
    return PBKDF2HMAC(prf, sm4.KEY_SIZE, salt, iterations).derive(passphrase)


def encrypt_private_key_der(
    private_key: SM2PrivateKey,
    passphrase: bytes,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    prf: Prf = "sha256",
) -> bytes:
    """PKCS#8 EncryptedPrivateKeyInfo: PBES2 (PBKDF2-HMAC-``prf``, SM4-CBC)."""
    if not passphrase:
        raise PassphraseError("an empty passphrase does not protect a key")
    if not MIN_ITERATIONS <= iterations <= _MAX_ITERATIONS:
        raise ValueError("PBKDF2 iterations must be between 1,000 and 10,000,000")
    prf_oid, prf_hash = _PRFS[prf]
    salt = secrets.token_bytes(16)
    iv = secrets.token_bytes(16)
    key = _pbkdf2(passphrase, salt, iterations, prf_hash)
    ciphertext = sm4.cbc_encrypt(key, iv, private_key_to_der(private_key))
    kdf = der.encode_sequence(
        der.encode_oid(OID_PBKDF2),
        der.encode_sequence(
            der.encode_octet_string(salt),
            der.encode_integer(iterations),
            der.encode_sequence(der.encode_oid(prf_oid), der.encode_null()),
        ),
    )
    cipher = der.encode_sequence(der.encode_oid(OID_SM4_CBC), der.encode_octet_string(iv))
    algorithm = der.encode_sequence(der.encode_oid(OID_PBES2), der.encode_sequence(kdf, cipher))
    return der.encode_sequence(algorithm, der.encode_octet_string(ciphertext))


#: Refused below this: a key file with fewer PBKDF2 iterations or a shorter salt is not protected.
MIN_ITERATIONS = 1000
MIN_SALT = 8


def _parse_pbes2(data: bytes) -> tuple[bytes, int, hashes.HashAlgorithm, bytes, bytes]:
    """Strictly parse EncryptedPrivateKeyInfo with PBES2 = PBKDF2 + SM4-CBC.

    Returns (salt, iterations, PRF hash, IV, ciphertext). Every SEQUENCE must hold exactly the
    fields PKCS#5 v2.1 defines (optional ones in order), nothing more: KeyFormatError otherwise.
    """
    outer = der.sequence(data)
    if len(outer) != 2:
        raise KeyFormatError("EncryptedPrivateKeyInfo must have two fields")
    algorithm = der.sequence(outer[0])
    if len(algorithm) != 2 or der.as_oid(algorithm[0]) != OID_PBES2:
        raise KeyFormatError("only PBES2-encrypted keys are supported")
    pbes2 = der.sequence(algorithm[1])
    if len(pbes2) != 2:
        raise KeyFormatError("PBES2 parameters must be exactly {keyDerivationFunc, encryptionScheme}")
    kdf_items = der.sequence(pbes2[0])
    if len(kdf_items) != 2:
        raise KeyFormatError("PBES2 key derivation must be exactly {algorithm, parameters}")
    if der.as_oid(kdf_items[0]) != OID_PBKDF2:
        raise KeyFormatError("only PBKDF2 is supported as the PBES2 key derivation")
    params = der.sequence(kdf_items[1])
    if not 2 <= len(params) <= 4:
        raise KeyFormatError("PBKDF2 parameters must be {salt, iterationCount, [keyLength], [prf]}")
    salt = der.as_octet_string(params[0])
    if len(salt) < MIN_SALT:
        raise KeyFormatError(f"PBKDF2 salt of {len(salt)} bytes is too short (at least {MIN_SALT})")
    iterations = der.as_integer(params[1])
    if not MIN_ITERATIONS <= iterations <= _MAX_ITERATIONS:
        raise KeyFormatError(f"PBKDF2 iterations {iterations} out of range "
                             f"({MIN_ITERATIONS:,} to {_MAX_ITERATIONS:,})")
    rest = params[2:]
    if rest and rest[0].tag == der.INTEGER:
        if der.as_integer(rest[0]) != sm4.KEY_SIZE:
            raise KeyFormatError("PBKDF2 key length does not match SM4")
        rest = rest[1:]
    prf_oid = "1.2.840.113549.2.7"  # hmacWithSHA1, the PKCS#5 default, refused below
    if rest:
        if len(rest) != 1:
            raise KeyFormatError("PBKDF2 parameters must be {salt, iterationCount, [keyLength], [prf]}")
        prf_items = der.sequence(rest[0])
        if not 1 <= len(prf_items) <= 2:
            raise KeyFormatError("PBKDF2 PRF must be {algorithm, [NULL parameters]}")
        prf_oid = der.as_oid(prf_items[0])
        if len(prf_items) == 2:
            try:
                der.as_null(prf_items[1])
            except der.DerError as error:
                raise KeyFormatError("PBKDF2 PRF parameters must be NULL or absent") from error
    if prf_oid not in _PRF_BY_OID:
        raise KeyFormatError(f"unsupported PBKDF2 PRF {prf_oid} (HMAC-SHA256 or HMAC-SM3 expected)")
    cipher_items = der.sequence(pbes2[1])
    if len(cipher_items) != 2:
        raise KeyFormatError("SM4-CBC encryption scheme must be exactly {algorithm, IV}")
    if der.as_oid(cipher_items[0]) != OID_SM4_CBC:
        raise KeyFormatError(f"unsupported encryption {der.as_oid(cipher_items[0])} (SM4-CBC expected)")
    iv = der.as_octet_string(cipher_items[1])
    if len(iv) != 16:
        raise KeyFormatError("SM4-CBC IV must be 16 bytes")
    return salt, iterations, _PRF_BY_OID[prf_oid], iv, der.as_octet_string(outer[1])


def decrypt_private_key_der(data: bytes, passphrase: bytes) -> SM2PrivateKey:
    """Open a PBES2 (PBKDF2 + SM4-CBC) EncryptedPrivateKeyInfo (strictly parsed: :func:`_parse_pbes2`)."""
    try:
        salt, iterations, prf, iv, ciphertext = _parse_pbes2(data)
    except KeyFormatError:
        raise
    except (der.DerError, ValueError, IndexError) as error:
        raise KeyFormatError(f"malformed encrypted private key: {error}") from error
    key = _pbkdf2(passphrase, salt, iterations, prf)
    try:
        plain = sm4.cbc_decrypt(key, iv, ciphertext)
        return private_key_from_der(plain)
    except ValueError as error:
        raise PassphraseError("wrong passphrase (or corrupted key file)") from error


def private_key_to_pem(
    private_key: SM2PrivateKey,
    passphrase: bytes | None = None,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    prf: Prf = "sha256",
) -> str:
    if passphrase is None:
        return pem_encode("PRIVATE KEY", private_key_to_der(private_key))
    data = encrypt_private_key_der(private_key, passphrase, iterations=iterations, prf=prf)
    return pem_encode("ENCRYPTED PRIVATE KEY", data)


def is_encrypted_pem(text: str) -> bool:
    try:
        return pem_decode(text)[0] == "ENCRYPTED PRIVATE KEY"
    except KeyFormatError:
        return False


def private_key_from_pem(text: str, passphrase: bytes | None = None) -> SM2PrivateKey:
    label, data = pem_decode(text)
    if label == "ENCRYPTED PRIVATE KEY":
        if passphrase is None:
            raise PassphraseError("the private key is encrypted: a passphrase is needed")
        return decrypt_private_key_der(data, passphrase)
    if label in ("PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY"):
        return private_key_from_der(data)
    raise KeyFormatError(f"expected a private key PEM block, found {label!r}")


def public_key_to_pem(public_key: SM2PublicKey) -> str:
    return pem_encode("PUBLIC KEY", public_key_to_der(public_key))


def public_key_from_pem(text: str) -> SM2PublicKey:
    label, data = pem_decode(text)
    if label != "PUBLIC KEY":
        raise KeyFormatError(f"expected a PUBLIC KEY PEM block, found {label!r}")
    return public_key_from_der(data)


def fingerprint(public_key: SM2PublicKey) -> str:
    """SM3 of the DER SubjectPublicKeyInfo, 64 lowercase hex digits."""
    return sm3(public_key_to_der(public_key)).hex()


# --------------------------------------------------------------------------- files


def _key_error(path: Path, error: Exception, hint: str = "", code: str = "key-format") -> UsageError:
    return UsageError(f"{path}: {error}", [Diagnostic(str(path), 0, 0, "", str(error), hint=hint, code=code)])


def read_key_text(path: str | Path, what: str = "key") -> str:
    """The text of a key file: a regular file of at most 64 KiB (a FIFO or device is refused, exit 2), read as UTF-8
    without a leading BOM. Text outside the PEM block is ignored, as OpenSSL ignores it: a comment in Chinese above
    the block, or an editor's BOM, was refused as "not ascii text"; the block itself is checked by the PEM reader."""
    return read_regular_text(path, what, limit=KEY_LIMIT, encoding="utf-8-sig", code="key-file")


def load_private_key(path: str | Path, passphrase: bytes | None = None) -> SM2PrivateKey:
    """Read a PEM private key file (plain or encrypted); errors are :class:`UsageError` naming the file."""
    source = Path(path)
    text = read_key_text(source, "private key")
    check_secret_file_mode(source, "private key file")
    try:
        return private_key_from_pem(text, passphrase)
    except PassphraseError as error:
        raise _key_error(
            source, error, "set XZGOV_KEY_PASSPHRASE or answer the prompt with the right passphrase", "passphrase"
        ) from error
    except KeyFormatError as error:
        raise _key_error(source, error, "expected an SM2 key as written by `xzgov keys generate` "
                         "or `openssl genpkey -algorithm SM2`") from error


def load_public_key(path: str | Path, passphrase: bytes | None = None) -> SM2PublicKey:
    """Read a public key PEM, or derive it from a private key PEM."""
    source = Path(path)
    text = read_key_text(source, "key")
    try:
        label, _ = pem_decode(text)
        if label == "PUBLIC KEY":
            return public_key_from_pem(text)
    except KeyFormatError as error:
        raise _key_error(source, error) from error
    return load_private_key(source, passphrase).public_key


def write_private_key(
    path: str | Path,
    private_key: SM2PrivateKey,
    passphrase: bytes | None = None,
    *,
    force: bool = False,
    iterations: int = DEFAULT_ITERATIONS,
    prf: Prf = "sha256",
) -> Path:
    """Write a PKCS#8 PEM private key atomically with mode 0600; never overwrite unless ``force``."""
    text = private_key_to_pem(private_key, passphrase, iterations=iterations, prf=prf)
    target = Path(path)
    try:
        return atomic_write(target, text.encode("ascii"), mode=0o600, overwrite=force)
    except FileExistsError as error:
        raise UsageError(
            f"{target} exists; refusing to overwrite a key (use --force)",
            [Diagnostic(str(target), 0, 0, "", "file exists", hint="use --force to replace it",
                        code="exists")],
        ) from error
    except OSError as error:
        raise output_error(target, error) from error


def write_public_key(path: str | Path, public_key: SM2PublicKey, *, force: bool = False) -> Path:
    target = Path(path)
    try:
        return atomic_write(target, public_key_to_pem(public_key).encode("ascii"), mode=0o644,
                            overwrite=force)
    except FileExistsError as error:
        raise UsageError(f"{target} exists; refusing to overwrite (use --force)") from error
    except OSError as error:
        raise output_error(target, error) from error


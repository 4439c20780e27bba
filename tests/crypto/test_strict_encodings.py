"""One encoding per value (review findings 1, 3, 4): SM2 ciphertexts and signatures are strict DER before
OpenSSL (whose DER reader is lenient) sees them; PEM has exactly one block, canonical base64, and is parsed
in linear time; PKCS#8 holds only its defined fields; private keys in hex are exactly 64 hex digits."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from xzgov.crypto import der, keys, sm2, sm2_engine

native = pytest.mark.skipif(sm2.ENGINE != sm2_engine.NAME, reason="no OpenSSL 3 libcrypto")


def _parts(ciphertext: bytes) -> tuple[int, int, bytes, bytes]:
    items = der.sequence(ciphertext)
    return der.as_integer(items[0]), der.as_integer(items[1]), items[2].value, items[3].value


def _encode(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    return der.encode_sequence(der.encode_integer(x), der.encode_integer(y), der.encode_octet_string(c3),
                               der.encode_octet_string(c2))


def _sample_ciphertext() -> bytes:
    """A well-formed GM/T 0009 ciphertext (C1 a curve point; C3, C2 random): parsing only, no engine."""
    c1 = sm2.SM2PrivateKey.generate().public_key
    return _encode(c1.x, c1.y, secrets.token_bytes(32), secrets.token_bytes(10))


def _long_form(content: bytes, tag: int) -> bytes:
    return bytes([tag, 0x81, len(content)]) + content  # a length < 128 written in long form


def _variants(ciphertext: bytes) -> dict[str, bytes]:
    """Encodings of the same (or an equivalent) ciphertext that OpenSSL's d2i_SM2_Ciphertext accepts."""
    x, y, c3, c2 = _parts(ciphertext)
    integer, octets = der.encode_integer, der.encode_octet_string
    body = integer(x) + integer(y) + octets(c3) + octets(c2)
    return {
        "trailing bytes": ciphertext + b"\x00\x00",
        "long-form length (C3)": der.encode_sequence(integer(x), integer(y), _long_form(c3, der.OCTET_STRING),
                                                     octets(c2)),
        "long-form length (SEQUENCE)": bytes([0x30, 0x82]) + len(body).to_bytes(2, "big") + body
        if len(body) < 0x80 else bytes([0x30, 0x83]) + len(body).to_bytes(3, "big") + body,
        "non-minimal INTEGER x": der.encode_sequence(der.encode_tlv(der.INTEGER, b"\x00" + integer(x)[2:]),
                                                     integer(y), octets(c3), octets(c2)),
        "x + p": der.encode_sequence(integer(x + sm2.P), integer(y), octets(c3), octets(c2)),
        "y + p": der.encode_sequence(integer(x), integer(y + sm2.P), octets(c3), octets(c2)),
    }


def _malformed(ciphertext: bytes) -> dict[str, bytes]:
    x, y, c3, c2 = _parts(ciphertext)
    integer, octets = der.encode_integer, der.encode_octet_string
    return {
        "C1 off the curve": der.encode_sequence(integer(x), integer(y ^ 1), octets(c3), octets(c2)),
        "C3 of 31 bytes": der.encode_sequence(integer(x), integer(y), octets(c3[:31]), octets(c2)),
        "C3 of 33 bytes": der.encode_sequence(integer(x), integer(y), octets(c3 + b"\x00"), octets(c2)),
        "empty C2": der.encode_sequence(integer(x), integer(y), octets(c3), octets(b"")),
        "five fields": der.encode_sequence(integer(x), integer(y), octets(c3), octets(c2), octets(b"x")),
        "three fields": der.encode_sequence(integer(x), integer(y), octets(c3)),
        "C3 as BIT STRING": der.encode_sequence(integer(x), integer(y), der.encode_bit_string(c3), octets(c2)),
        "negative x": der.encode_sequence(der.encode_tlv(der.INTEGER, b"\xff" + x.to_bytes(32, "big")),
                                          integer(y), octets(c3), octets(c2)),
        "indefinite length": b"\x30\x80" + ciphertext[2 + (ciphertext[1] & 0x7F if ciphertext[1] & 0x80 else 0):]
        + b"\x00\x00",
        "raw C1C3C2": b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2,
        "empty": b"",
    }


# ------------------------------------------------------------------------------- SM2 ciphertexts


def test_engine_curve_constants_are_the_sm2_curve() -> None:
    assert (sm2_engine.CURVE_P, sm2_engine.CURVE_A, sm2_engine.CURVE_B) == (sm2.P, sm2.A, sm2.B)


def test_decode_ciphertext_accepts_the_canonical_form() -> None:
    ciphertext = _sample_ciphertext()
    c1, c3, c2 = sm2.decode_ciphertext(ciphertext)
    assert _encode(c1.x, c1.y, c3, c2) == sm2_engine.encode_ciphertext(c1.x, c1.y, c3, c2) == ciphertext


@pytest.mark.parametrize("name", [*_variants(_sample_ciphertext()), *_malformed(_sample_ciphertext())])
def test_decode_ciphertext_refuses_every_other_encoding(name: str) -> None:
    ciphertext = _sample_ciphertext()
    altered = {**_variants(ciphertext), **_malformed(ciphertext)}[name]
    with pytest.raises(sm2.SM2Error, match="malformed SM2 ciphertext"):
        sm2.decode_ciphertext(altered)


@native
@pytest.mark.parametrize("name", list(_variants(_sample_ciphertext())))
def test_decrypt_refuses_altered_encodings_of_a_valid_ciphertext(key: sm2.SM2PrivateKey, name: str) -> None:
    ciphertext = sm2.encrypt(key.public_key, b"top secret")
    assert sm2.decrypt(key, ciphertext) == b"top secret"
    altered = _variants(ciphertext)[name]
    with pytest.raises(sm2.SM2Error):
        sm2.decrypt(key, altered)
    with pytest.raises(sm2_engine.EngineError):  # the engine itself never hands such bytes to OpenSSL
        sm2_engine.decrypt(key._native, altered)


@native
def test_openssl_ciphertexts_are_canonical(key: sm2.SM2PrivateKey) -> None:
    """What OpenSSL writes is exactly the one encoding accepted (so nothing that worked stops working)."""
    for size in (1, 31, 32, 127, 128, 1000):
        ciphertext = sm2.encrypt(key.public_key, bytes(size))
        sm2.decode_ciphertext(ciphertext)
        assert sm2.decrypt(key, ciphertext) == bytes(size)


# ------------------------------------------------------------------------------- SM2 signatures


@native
def test_engine_verify_refuses_non_canonical_signatures(key: sm2.SM2PrivateKey) -> None:
    e = sm2.message_digest(key.public_key, b"m")
    r, s = sm2.sign_digest(key, e)
    good = sm2.encode_signature(r, s)
    assert sm2_engine.verify_digest(key.public_key._native, e, good)
    body = der.encode_integer(r) + der.encode_integer(s)
    for bad in (good + b"\x00",
                bytes([0x30, 0x81, len(body)]) + body,
                der.encode_sequence(der.encode_tlv(der.INTEGER, b"\x00" + der.encode_integer(r)[2:]),
                                    der.encode_integer(s))):
        assert not sm2_engine.verify_digest(key.public_key._native, e, bad)
        with pytest.raises(sm2_engine.EngineError):
            sm2_engine.check_signature(bad)


# ------------------------------------------------------------------------------- private keys in hex


@pytest.mark.parametrize("shape", [
    lambda h: "0x" + h[2:], lambda h: "0X" + h[2:], lambda h: h[:10] + "_" + h[11:], lambda h: "+" + h[1:],
    lambda h: "-" + h[1:], lambda h: h[:63] + " ", lambda h: h[:32] + " " + h[33:], lambda h: "٣" + h[1:],
    lambda h: h + "0", lambda h: h[:63],
])
def test_private_key_hex_is_exactly_64_hex_digits(shape: Callable[[str], str]) -> None:
    key = sm2.SM2PrivateKey.generate()
    text = f"{key.d:064x}"
    assert sm2.SM2PrivateKey.from_hex(text) == key
    assert sm2.SM2PrivateKey.from_hex(text.upper() + "\n") == key  # surrounding whitespace only
    with pytest.raises(sm2.SM2Error, match="64 hex digits"):
        sm2.SM2PrivateKey.from_hex(shape(text))


# ------------------------------------------------------------------------------- PKCS#8


def _pkcs8(key: sm2.SM2PrivateKey, version: int, *extra: bytes) -> bytes:
    items = der.sequence(keys.private_key_to_der(key))
    head = [der.encode_integer(version), *(der.encode_tlv(item.tag, item.value) for item in items[1:3])]
    return der.encode_sequence(*head, *extra)


def test_pkcs8_allows_only_attributes_and_public_key_after_the_private_key(key: sm2.SM2PrivateKey) -> None:
    attributes = der.encode_context(0, b"")
    public = der.encode_tlv(0x81, b"\x00" + key.public_key.to_bytes())
    assert keys.private_key_from_der(_pkcs8(key, 0)) == key
    assert keys.private_key_from_der(_pkcs8(key, 0, attributes)) == key
    assert keys.private_key_from_der(_pkcs8(key, 1, public)) == key
    assert keys.private_key_from_der(_pkcs8(key, 1, attributes, public)) == key
    other = der.encode_tlv(0x81, b"\x00" + sm2.SM2PrivateKey.generate().public_key.to_bytes())
    refused = {
        "two junk fields": _pkcs8(key, 0, der.encode_octet_string(b"junk"), der.encode_integer(7)),
        "one junk field": _pkcs8(key, 0, der.encode_integer(7)),
        "junk after the public key": _pkcs8(key, 1, public, der.encode_null()),
        "public key before attributes": _pkcs8(key, 1, public, attributes),
        "attributes twice": _pkcs8(key, 0, attributes, attributes),
        "public key in version 1": _pkcs8(key, 0, public),
        "another public key": _pkcs8(key, 1, other),
        "[2]": _pkcs8(key, 1, der.encode_context(2, b"")),
    }
    for name, data in refused.items():
        with pytest.raises(keys.KeyFormatError):
            keys.private_key_from_der(data)
            pytest.fail(f"accepted: {name}")


def test_sec1_optional_fields_are_ordered_and_single(key: sm2.SM2PrivateKey) -> None:
    curve = der.encode_context(0, der.encode_oid(keys.OID_SM2_CURVE))
    public = der.encode_context(1, der.encode_bit_string(key.public_key.to_bytes()))
    scalar = [der.encode_integer(1), der.encode_octet_string(key.to_bytes())]
    assert keys.private_key_from_der(der.encode_sequence(*scalar, curve, public)) == key
    for extra in ((public, curve), (curve, curve, public), (curve, public, public)):
        with pytest.raises(keys.KeyFormatError):
            keys.private_key_from_der(der.encode_sequence(*scalar, *extra))


# ------------------------------------------------------------------------------- PEM


def test_pem_with_two_blocks_is_refused(key: sm2.SM2PrivateKey) -> None:
    other = sm2.SM2PrivateKey.generate()
    two = keys.public_key_to_pem(key.public_key) + keys.public_key_to_pem(other.public_key)
    with pytest.raises(keys.KeyFormatError, match="more than one PEM block"):
        keys.public_key_from_pem(two)
    with pytest.raises(keys.KeyFormatError, match="more than one PEM block"):
        keys.pem_decode(keys.private_key_to_pem(key) + keys.public_key_to_pem(key.public_key))
    params = keys.pem_encode("EC PARAMETERS", der.encode_oid(keys.OID_SM2_CURVE))  # openssl ecparam -genkey
    with pytest.raises(keys.KeyFormatError, match="more than one PEM block"):
        keys.private_key_from_pem(params + keys.private_key_to_pem(key))


def test_pem_accepted_shapes(key: sm2.SM2PrivateKey) -> None:
    pem = keys.public_key_to_pem(key.public_key)
    for text in (pem, pem.replace("\n", "\r\n"), "note: the signer's key\n" + pem + "\nPublic-Key: (256 bit)\n",
                 pem.rstrip("\n"), pem.replace("\n", "\n\n")):
        assert keys.public_key_from_pem(text) == key.public_key
    body = "".join(pem.splitlines()[1:-1])
    assert keys.public_key_from_pem(f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----") == key.public_key


def test_pem_refuses_non_canonical_base64_and_malformed_markers() -> None:
    with pytest.raises(keys.KeyFormatError, match="canonical"):
        keys.pem_decode("-----BEGIN X-----\nZGt=\n-----END X-----\n")
    assert keys.pem_decode("-----BEGIN X-----\nZGs=\n-----END X-----\n") == ("X", b"dk")
    for text in ("-----BEGIN X-----", "-----BEGIN X-----\nZGs=\n", "-----BEGIN x-----\nZGs=\n-----END x-----\n",
                 "-----BEGIN X-----\nZGs=\n-----END Y-----\n", "-----BEGINX-----\nZGs=\n-----END X-----\n",
                 "-----BEGIN " + "A" * 70 + "-----\nZGs=\n-----END " + "A" * 70 + "-----\n", "no pem here"):
        with pytest.raises(keys.KeyFormatError):
            keys.pem_decode(text)


def test_key_files_with_text_openssl_ignores_are_read(tmp_path: Path, key: sm2.SM2PrivateKey) -> None:
    # a comment in Chinese above the block, or an editor's BOM, was refused as "not ascii text" (OpenSSL reads both)
    pem = keys.private_key_to_pem(key)
    for name, data in (("comment.pem", ("# 签名密钥 / signing key\n" + pem).encode()),
                       ("bom.pem", b"\xef\xbb\xbf" + pem.encode())):
        (tmp_path / name).write_bytes(data)
        (tmp_path / name).chmod(0o600)
        assert keys.load_private_key(tmp_path / name).public_key == key.public_key
        found = subprocess.run(["openssl", "pkey", "-in", str(tmp_path / name), "-noout"], capture_output=True)
        assert found.returncode == 0, found.stderr
    lines = pem.splitlines()
    lines[2] = lines[2][:5] + "é" + lines[2][6:]  # inside the block: refused, naming the problem (no traceback)
    with pytest.raises(keys.KeyFormatError, match="not ASCII"):
        keys.pem_decode("\n".join(lines))


def test_pem_parsing_of_64_kib_of_begin_lines_is_fast() -> None:
    """The old lazy regex with a backreference took ≈ 4 s on this (quadratic); linear work takes ≈ 1 ms."""
    text = "-----BEGIN A-----\n" * (64 * 1024 // 18)
    started = time.perf_counter()
    with pytest.raises(keys.KeyFormatError):
        keys.pem_decode(text)
    assert time.perf_counter() - started < 1.0


_SHAPES = '''
import time
from xzgov.crypto import keys
MiB = 1 << 20
shapes = {
    "BEGIN lines": "-----BEGIN A-----\\n" * (MiB // 18),
    "BEGIN lines, END at the end": "-----BEGIN A-----\\n" * (MiB // 18) + "-----END A-----\\n",
    "BEGIN lines, mixed labels": "".join(f"-----BEGIN A{i % 7}-----\\n" for i in range(MiB // 19)),
    "one BEGIN, long body, no END": "-----BEGIN A-----\\n" + "QUFB\\n" * (MiB // 5),
    "END lines": "-----END A-----\\n" * (MiB // 16),
    "dashes": "-" * MiB,
}
worst = 0.0
for name, text in shapes.items():
    started = time.perf_counter()
    try:
        keys.pem_decode(text)
    except keys.KeyFormatError:
        pass
    worst = max(worst, time.perf_counter() - started)
print(worst)
'''


def test_pem_parsing_is_linear_on_1_mib_inputs() -> None:
    """1 MiB shapes that make a backtracking parser quadratic (hours with the old regex): each is refused
    in well under two seconds. Run in a child process so that a quadratic parser fails on the timeout
    instead of hanging the suite; the time measured is the parsing only, not the interpreter's start."""
    root = Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(_SHAPES)], capture_output=True, text=True,
                                cwd=root, timeout=60, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("PEM parsing of 1 MiB inputs did not finish within 60 s (quadratic)")
    assert float(result.stdout) < 2.0

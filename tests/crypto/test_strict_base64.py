"""Every reader of a signature takes canonical base64 only (xzgov.crypto.b64): altered spare bits changed a signed
file's bytes without breaking its signature (an attestation set's ``signature.value`` did)."""

from __future__ import annotations

import base64

import pytest

from compliance.attest.signing import sign_document, verify_signature
from xzgov.crypto import sm2
from xzgov.crypto.b64 import strict_b64decode

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _spare_bits_altered(text: str) -> str:
    """The same bytes under ``validate=True`` decoding, another text: the last character's unused bit flipped."""
    padding = text.count("=")
    assert padding, "only a padded text has spare bits"
    last = text[-padding - 1]
    return text[:-padding - 1] + _ALPHABET[_ALPHABET.index(last) ^ 1] + "=" * padding


def test_canonical_text_only() -> None:
    assert strict_b64decode("ZGs=") == b"dk"
    altered = _spare_bits_altered("ZGs=")
    assert base64.b64decode(altered, validate=True) == b"dk"  # what the lenient reader accepted
    for bad in (altered, "ZGs", "ZG s=", "ZGs=\n", 42, None):
        with pytest.raises(ValueError):
            strict_b64decode(bad)


def test_an_attestation_signature_with_altered_spare_bits_does_not_verify() -> None:
    key = sm2.SM2PrivateKey.generate()
    document = {"metadata": {"id": "a"}, "attestations": []}
    signed = sign_document(document, key)
    while not signed["signature"]["value"].endswith("="):  # a signature whose text has spare bits
        signed = sign_document(document, key)
    assert verify_signature(signed)[0]
    value = _spare_bits_altered(signed["signature"]["value"])
    altered = {**signed, "signature": {**signed["signature"], "value": value}}
    valid, _, problem = verify_signature(altered)
    assert not valid and "canonical" in problem

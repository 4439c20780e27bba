"""Strict base64 for signatures and keys: one text per value.

``base64.b64decode(text, validate=True)`` still accepts altered spare bits (``ZGt=`` decodes as ``ZGs=``): a signed
file's bytes could change and its signature still verify. :func:`strict_b64decode` takes only the canonical text
(standard alphabet, padded, spare bits zero), as the bundle verifier and the crypto service require.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["strict_b64decode"]


def strict_b64decode(text: object) -> bytes:
    """The bytes of canonical base64 ``text``; :class:`ValueError` saying what is wrong otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"not base64 text but {type(text).__name__}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"not base64 ({error})") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64 (altered padding or spare bits)")
    return data

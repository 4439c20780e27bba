"""A small, strict DER codec for the few ASN.1 structures the crypto package exchanges.

Only what SM2 keys (PKCS#8, SEC 1, SubjectPublicKeyInfo), PKCS#5 PBES2 and ``SEQUENCE{r, s}``
signatures need: SEQUENCE, INTEGER, OCTET STRING, BIT STRING, OBJECT IDENTIFIER, NULL and
context-specific tags. Decoding is strict DER (definite minimal lengths, minimal integers, no
trailing bytes), so a signature or key has exactly one encoding and malleated encodings are
rejected instead of being accepted silently.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06


#: Caps for OBJECT IDENTIFIERs: the OIDs used here are < 16 bytes; a UUID arc (2.25.x) is 19 bytes.
_MAX_OID_BYTES = 64
_MAX_ARC_BYTES = 20


class DerError(ValueError):
    """Malformed or non-canonical DER."""


@dataclass(frozen=True)
class Tlv:
    """One decoded element: its tag byte and its content octets."""

    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _encode_length(len(value)) + value


def encode_sequence(*items: bytes) -> bytes:
    return encode_tlv(SEQUENCE, b"".join(items))


def encode_integer(number: int) -> bytes:
    if number < 0:
        raise DerError("negative INTEGER values are not used here")
    body = number.to_bytes(number.bit_length() // 8 + 1, "big")  # leading 0 keeps it positive
    return encode_tlv(INTEGER, body)


def encode_octet_string(data: bytes) -> bytes:
    return encode_tlv(OCTET_STRING, data)


def encode_bit_string(data: bytes) -> bytes:
    return encode_tlv(BIT_STRING, b"\x00" + data)


def encode_null() -> bytes:
    return encode_tlv(NULL, b"")


def encode_oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise DerError(f"invalid OBJECT IDENTIFIER {dotted}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return encode_tlv(OID, bytes(body))


def encode_context(number: int, value: bytes, *, constructed: bool = True) -> bytes:
    return encode_tlv((0xA0 if constructed else 0x80) | number, value)


def read_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """Decode one element at ``offset``; return it and the offset just after it."""
    if offset + 2 > len(data):
        raise DerError("truncated DER element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used here")
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise DerError("indefinite length is not DER")
        if count > 4 or offset + count > len(data):
            raise DerError("truncated or oversized DER length")
        length = int.from_bytes(data[offset : offset + count], "big")
        if length < 0x80 or data[offset] == 0:
            raise DerError("non-minimal DER length")
        offset += count
    end = offset + length
    if end > len(data):
        raise DerError("truncated DER element")
    return Tlv(tag, data[offset:end]), end


def decode_single(data: bytes, tag: int | None = None) -> Tlv:
    """Decode exactly one element that fills ``data``."""
    element, end = read_tlv(data)
    if end != len(data):
        raise DerError("trailing bytes after DER element")
    if tag is not None and element.tag != tag:
        raise DerError(f"expected tag 0x{tag:02x}, found 0x{element.tag:02x}")
    return element


def children(element: Tlv) -> list[Tlv]:
    """The elements inside a constructed element."""
    if not element.constructed:
        raise DerError("expected a constructed element")
    items: list[Tlv] = []
    offset = 0
    while offset < len(element.value):
        item, offset = read_tlv(element.value, offset)
        items.append(item)
    return items


def sequence(data: bytes | Tlv) -> list[Tlv]:
    element = decode_single(data, SEQUENCE) if isinstance(data, bytes) else data
    if element.tag != SEQUENCE:
        raise DerError("expected a SEQUENCE")
    return children(element)


def expect(element: Tlv, tag: int) -> bytes:
    if element.tag != tag:
        raise DerError(f"expected tag 0x{tag:02x}, found 0x{element.tag:02x}")
    return element.value


def as_integer(element: Tlv) -> int:
    body = expect(element, INTEGER)
    if not body:
        raise DerError("empty INTEGER")
    if body[0] & 0x80:
        raise DerError("negative INTEGER")
    if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
        raise DerError("non-minimal INTEGER")
    return int.from_bytes(body, "big")


def as_oid(element: Tlv) -> str:
    body = expect(element, OID)
    if not body or body[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    if len(body) > _MAX_OID_BYTES:  # a huge arc would also fail str() (int digit limit) with a bare ValueError
        raise DerError(f"OBJECT IDENTIFIER longer than {_MAX_OID_BYTES} bytes")
    arcs: list[int] = []
    value = 0
    fresh = True
    arc_bytes = 0
    for byte in body:
        if fresh and byte == 0x80:
            raise DerError("non-minimal OBJECT IDENTIFIER arc")
        arc_bytes = arc_bytes + 1 if not fresh else 1
        if arc_bytes > _MAX_ARC_BYTES:
            raise DerError(f"OBJECT IDENTIFIER arc longer than {_MAX_ARC_BYTES} bytes")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])


def as_bit_string(element: Tlv) -> bytes:
    body = expect(element, BIT_STRING)
    if not body or body[0] != 0:
        raise DerError("BIT STRING with unused bits")
    return body[1:]


def as_octet_string(element: Tlv) -> bytes:
    return expect(element, OCTET_STRING)


def as_null(element: Tlv) -> None:
    if expect(element, NULL):
        raise DerError("NULL with content")

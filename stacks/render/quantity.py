"""Exact Kubernetes quantities for the manifest's formats (CPU ``500m``/``2``/``1.5``, memory ``512Mi``).

Arithmetic is done on integers (millicores, bytes) so quota sums never drift by rounding.
"""

from __future__ import annotations

from decimal import Decimal

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def millicores(value: str) -> int:
    """``500m`` → 500, ``2`` → 2000, ``1.5`` → 1500 (sub-millicore precision is rounded up)."""
    if value.endswith("m"):
        return int(value[:-1])
    scaled = Decimal(value) * 1000
    return int(scaled.to_integral_value(rounding="ROUND_CEILING"))


def bytes_of(value: str) -> int:
    """``512Mi`` → 536870912 (binary suffixes only, as the manifest schema allows)."""
    suffix = value[-2:]
    if suffix not in _BINARY:
        raise ValueError(f"unsupported quantity {value!r}: use Ki, Mi, Gi or Ti")
    return int(value[:-2]) * _BINARY[suffix]


def format_cpu(milli: int) -> str:
    """Millicores as a canonical quantity: whole cores as ``2``, otherwise ``1500m``."""
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def format_bytes(count: int) -> str:
    """Bytes with the largest binary suffix that divides them exactly (``Gi`` … ``Ki``), else plain bytes."""
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if count and count % unit == 0:
            return f"{count // unit}{suffix}"
    return str(count)

"""Signed attestations (人工核查记录) and the platform's inherited record (云平台测评继承记录).

* :mod:`.model`     — the verified records the scan uses (:class:`AttestationIndex`)
* :mod:`.signing`   — canonical payload, SM2 signing and verification of a set (``xzgov attest sign``)
* :mod:`.pins`      — who may attest for which department (region.yaml ``spec.attestation_signers``)
* :mod:`.loader`    — load and verify every set under ``compliance/attestations/`` for the scan
* :mod:`.worksheet` — worksheets of the items no rule decides (YAML and XLSX, ``xzgov attest template``)

A set is one YAML document (schema ``compliance/schemas/attestation.schema.json``). The scan accepts a
set only when its SM2 signature verifies, the signer's fingerprint is pinned for the set's department
and scope, and every evidence file still has the SM3 digest that was signed; otherwise the scan stops
with a located error (exit 2). An expired set is not an error: its items are pending again and the
scan warns.
"""

from __future__ import annotations

from compliance.attest.loader import load_attestations
from compliance.attest.model import AttestationIndex, ItemRecord, PlatformRecord

__all__ = ["AttestationIndex", "ItemRecord", "PlatformRecord", "load_attestations"]

"""Tamper evidence of the log centre (安全管理中心 / 集中审计): daily SM3 hash chains with SM2-signed heads.

The log centre stores what every source sends under ``<root>/<source>/<YYYY-MM-DD>.log`` (one line per
message). Once a day is over, the sealer (``roles/log_centre/files/xzgov-log-seal``, an independent
implementation of the same format that runs on the log centre with OpenSSL) closes it:

* ``<date>.leaves`` — the SM3 of every line (32 bytes each, in order);
* ``<date>.seal``   — JSON: source, date, line count, byte count, the previous day's head, this day's
  head and an SM2 signature (ID ``1234567812345678``) of :func:`chain.seal_message` by the log
  centre's key.

Days are linked: a day's chain starts from the previous sealed day's head (the first from the genesis,
prev = 0), and days without a message are sealed too (0 lines), so a deleted day breaks the chain.
:mod:`xzgov.logchain.chain` computes and verifies (modified, deleted, inserted, reordered or truncated
lines with the first break; missing days; deleted seals at the end, judged against the day of the
verification; deleted first days; logs deleted before their retention; bad signatures);
:mod:`xzgov.logchain.trust` holds the two signed files at the root of the tree — the key-rotation record
(each key trusted for its period only) and the sources manifest (a deleted source is found);
:mod:`xzgov.logchain.status` reports silent sources. Pure functions over files: no network, no subprocess.
"""

from __future__ import annotations

from xzgov.logchain.chain import (
    FORMAT,
    ChainStart,
    Finding,
    SourceReport,
    VerifyReport,
    chain_head,
    leaf_digests,
    seal_day,
    seal_message,
    verify_tree,
)
from xzgov.logchain.status import SourceStatus, source_statuses
from xzgov.logchain.trust import build_keyring, write_manifest, write_rotation

__all__ = [
    "FORMAT",
    "ChainStart",
    "Finding",
    "SourceReport",
    "SourceStatus",
    "VerifyReport",
    "build_keyring",
    "chain_head",
    "leaf_digests",
    "seal_day",
    "seal_message",
    "source_statuses",
    "verify_tree",
    "write_manifest",
    "write_rotation",
]

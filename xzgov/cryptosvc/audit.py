"""Tamper-evident audit log: an SM3 hash chain of JSON lines, with SM2-signed checkpoints.

Each line is one JSON object (canonical: sorted keys, no spaces, UTF-8) with ``seq`` (1, 2, …),
``prev`` (the ``hash`` of the line before; 64 zeros for the first) and ``hash`` =
``SM3(canonical(record without "hash"))``. Every ``checkpoint_every`` records and at shutdown the
service appends a ``checkpoint`` record: ``head`` (the hash it follows), the signer's fingerprint and
``signature`` = SM2 (ID 1234567812345678) over the canonical record without ``signature`` and
``hash``. Editing, inserting, deleting or reordering a line breaks the chain at that line; rewriting
the chain after it is caught by the next signed checkpoint. What follows the last checkpoint is
covered by the chain only (the verifier reports it as ``unsigned_tail``): the copy forwarded to the
log centre is the second witness (each record also goes to the ``xzgov.cryptosvc.audit`` logger →
journald → rsyslog over TLS).

Records never hold key material or request data: system, role, tenant, operation, key id and
version, outcome, error code, request nonce, client address (and, for requests refused before
authentication, ``type: auth``: the claimed system, method and path — never a signature or body).
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import re
import shlex
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xzgov.crypto import keys, sm2
from xzgov.crypto.b64 import strict_b64decode
from xzgov.crypto.sm3 import sm3_hex

GENESIS = "0" * 64
PROCESS_START = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
CUT_SHORT_WARNING = ("possibly cut short: the last record is not the `stop` checkpoint of a clean shutdown "
                     "(a running service, a crash, or a log cut back to an earlier checkpoint): compare with the "
                     "log centre copy")
LOGGER = logging.getLogger("xzgov.cryptosvc.audit")


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def record_hash(record: dict[str, Any]) -> str:
    return sm3_hex(canonical({k: v for k, v in record.items() if k != "hash"}))


def _signed_part(record: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in record.items() if k not in ("hash", "signature")})


def _record(raw: bytes) -> dict[str, Any] | None:
    """The JSON object on one audit line, or ``None`` for anything else (not JSON, not an object, or
    nested deeper than the parser goes: ``RecursionError`` is a bad line, not a crash)."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _ends_with_stop(lines: list[bytes]) -> bool:
    """The last two records are ``stop`` and its checkpoint: the writer shut down cleanly."""
    records = [_record(line) for line in lines[-2:]]
    return (len(records) == 2 and records[0] is not None and records[1] is not None
            and records[0].get("type") == "stop" and records[1].get("type") == "checkpoint")


class AuditError(Exception):
    """The audit log cannot be written: the operation that needed it fails (503)."""


class AuditLog:
    """Appends records to the chain. One process owns the file (an exclusive ``flock`` held open)."""

    def __init__(self, path: Path, signing_key: sm2.SM2PrivateKey, checkpoint_every: int = 100) -> None:
        self.path = path
        self._key = signing_key
        self._fingerprint = keys.fingerprint(signing_key.public_key)
        self._every = checkpoint_every
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(self._fd)
            raise AuditError(f"{path} is in use by another service process") from error
        self._previous_end = "none"  # how the log this process resumes ended: none (new), stop, unclean
        self._broken = ""  # set when a failed write could not be undone: every append refuses (503)
        try:
            self._seq, self._head, self._since_checkpoint = self._resume()
            # the start record says where this process resumed the chain (and whether the previous run ended
            # with its `stop` checkpoint): the log centre's copy of it shows a log that was later cut back
            self.append({"type": "start", "signer": self._fingerprint, "resumed_seq": self._seq,
                         "resumed_head": self._head, "previous_end": self._previous_end,
                         "pid": os.getpid(), "process_start": PROCESS_START}, durable=True)
            # signed at once: every log this service writes carries a checkpoint, so a chain without one (forged
            # with no key, or cut to nothing) is a break for audit-verify, not an "OK" with a warning
            self.checkpoint()
        except BaseException:  # a log it refuses (a torn last line): the lock goes with the descriptor
            os.close(self._fd)
            raise

    def _resume(self) -> tuple[int, str, int]:
        """The last seq and hash, from the tail of the file (a torn last line is reported, not used)."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0, GENESIS, 0
        if not self._ends_with_newline():
            raise AuditError(f"{self.path}: the last line is incomplete; run `xzgov cryptosvc audit-verify`")
        lines = self._tail_lines(size)
        seq, head, since = 0, GENESIS, 0
        for line in reversed(lines):
            last = _record(line)
            if last is None:
                continue
            try:
                seq, head = int(last["seq"]), str(last["hash"])
                break
            except (ValueError, KeyError, TypeError):
                continue
        if seq == 0:  # a file that is not empty and holds no record: never a new chain over it
            raise AuditError(f"{self.path}: no audit record in the file; run `xzgov cryptosvc audit-verify`")
        checkpoint_at = None
        for index in range(len(lines) - 1, -1, -1):
            record = _record(lines[index])
            if record is not None and record.get("type") == "checkpoint":
                checkpoint_at = index
                break
            since += 1
        if checkpoint_at is not None and not self._signed_by_me(lines, checkpoint_at):
            # the checkpoint decides what counts as appended after a stop: one written by hand (no key) would
            # vouch for the records before it, and this start would sign over them
            raise AuditError(f"{self.path}: the last checkpoint is not signed by this service's key; run `xzgov "
                             "cryptosvc audit-verify` and keep the file as evidence")
        appended = ([record for line in lines[checkpoint_at + 1:] if (record := _record(line)) is not None]
                    if checkpoint_at is not None and _ends_with_stop(lines[:checkpoint_at + 1]) else [])
        if appended and all(record.get("type") == "start" for record in appended):
            appended = []  # starts whose checkpoint the process did not live to write (a crash loop): nothing ran
        if appended:
            # this process alone writes the file (flock): after a clean stop nothing runs until the next start,
            # so records there were appended by hand — the checkpoint this start signs would vouch for them (a
            # line that is no record breaks the chain for audit-verify whatever follows: resumed past, as before)
            raise AuditError(f"{self.path}: {len(appended)} record(s) from seq {appended[0].get('seq', '?')!s} on "
                             "follow the service's clean stop: written while no service ran; run `xzgov cryptosvc "
                             "audit-verify` and keep the file as evidence")
        self._previous_end = "stop" if _ends_with_stop(lines) else "unclean"
        return seq, head, since

    def _signed_by_me(self, lines: list[bytes], at: int) -> bool:
        """Whether the checkpoint at ``lines[at]`` is this service's: signed by its key over the record, its
        ``head`` the hash of the line before (when that line was read)."""
        record = _record(lines[at]) or {}
        try:
            signature = strict_b64decode(record.get("signature"))
        except ValueError:
            return False
        before = _record(lines[at - 1]) if at > 0 else None
        if before is not None and record.get("head") != before.get("hash"):
            return False
        return record.get("signer") == self._fingerprint and sm2.verify(self._key.public_key, _signed_part(record),
                                                                        signature)

    def _tail_lines(self, size: int) -> list[bytes]:
        """The file's last lines back to its last checkpoint (read backwards in growing chunks; the whole file
        when it has none): a fixed 64 KiB window missed a clean stop behind one long record, and the refusal of
        records after it with it."""
        chunk, start = 65536, size
        data = b""
        with open(self.path, "rb") as handle:
            while start > 0:
                step = min(chunk, start)
                start -= step
                handle.seek(start)
                data = handle.read(step) + data
                lines = data.splitlines()
                whole = lines if start == 0 else lines[1:]  # the first may begin before the chunk
                # a checkpoint with a whole line before it (the stop it may follow): a chunk's edge inside the
                # stop line hid the clean stop, and the records after it were signed
                if any(b'"type":"checkpoint"' in line and (_record(line) or {}).get("type") == "checkpoint"
                       for line in (whole if start == 0 else whole[1:])):
                    return whole
                chunk *= 2
        return data.splitlines()

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def _write(self, record: dict[str, Any], durable: bool = False) -> dict[str, Any]:
        record["seq"] = self._seq + 1
        record["prev"] = self._head
        record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if record.get("type") == "checkpoint":
            record["head"] = self._head
            record["signer"] = self._fingerprint
            signature = sm2.sign(self._key, _signed_part(record))
            record["signature"] = base64.b64encode(signature).decode("ascii")
        record["hash"] = record_hash(record)
        line = canonical(record) + b"\n"
        if self._broken:
            raise AuditError(self._broken)
        try:
            size = os.fstat(self._fd).st_size
        except OSError as error:
            raise AuditError(f"audit log cannot be examined: {error.strerror}") from error
        try:
            written = os.write(self._fd, line)
            problem = "" if written == len(line) else f"audit log write was short ({written} of {len(line)} bytes)"
        except OSError as error:
            problem = f"audit log write failed: {error.strerror}"
        if problem:
            self._undo(size, problem)
            raise AuditError(problem)
        if durable:
            self._sync()
        self._seq, self._head = record["seq"], record["hash"]
        LOGGER.info("%s", line[:-1].decode("utf-8"))
        return record

    def _undo(self, size: int, problem: str) -> None:
        """Cut a failed write's fragment off (the chain stays whole); if that fails too, refuse every later
        append until an operator repairs the file (docs/crypto-service.md "Audit": repair)."""
        try:
            os.ftruncate(self._fd, size)
            if os.fstat(self._fd).st_size != size:
                raise OSError(0, "the size did not return to the last whole record")
        except OSError as error:
            self._broken = (f"{problem}; the fragment could not be removed ({error.strerror}): the audit log "
                            f"needs repair (last whole record: seq {self._seq}, byte {size})")
            LOGGER.critical("%s", self._broken)

    def _sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as error:  # the record may not be on disk: no later record may claim otherwise
            self._broken = f"audit log fsync failed ({error.strerror}): the audit log needs checking"
            LOGGER.critical("%s", self._broken)
            raise AuditError(self._broken) from error

    @property
    def broken(self) -> str:
        """Why appends are refused until an operator repairs the log ("" while it can be written)."""
        return self._broken

    def append(self, record: dict[str, Any], durable: bool = False) -> dict[str, Any]:
        """Append one record (``seq``, ``prev``, ``time``, ``hash`` are set here); checkpoint if due.

        ``durable``: fsync before returning (records of key changes, start); others reach the disk with
        the next checkpoint's fsync (docs/crypto-service.md "Audit": fsync policy)."""
        with self._lock:
            written = self._write(dict(record), durable)
            self._since_checkpoint += 1
            if self._since_checkpoint >= self._every:
                try:
                    self._checkpoint()
                except AuditError as error:  # the record is written; the checkpoint is tried again next time
                    LOGGER.error("audit checkpoint failed: %s", error)
            return written

    def _checkpoint(self) -> dict[str, Any]:
        written = self._write({"type": "checkpoint"}, durable=True)
        self._since_checkpoint = 0
        return written

    def checkpoint(self) -> dict[str, Any]:
        with self._lock:
            return self._checkpoint()

    def close(self) -> None:
        with self._lock:
            if self._fd < 0:
                return
            try:
                self._write({"type": "stop"})
                self._checkpoint()
            except AuditError as error:  # the log needs repair (or the disk is full): say so, stop anyway
                LOGGER.critical("audit log not closed with a stop checkpoint: %s", error)
            finally:
                os.close(self._fd)
                self._fd = -1


# ---------------------------------------------------------------------------------- verification

#: Said when no anchor is given: a clean end (`stop` + checkpoint) proves nothing about what came after it.
NO_ANCHOR_WARNING = ("the log cannot prove its own end: a cut back to an earlier clean shutdown verifies; give "
                     "--anchor FILE (kept where the service cannot write) so the next run finds a log that ends "
                     "before this one, or compare the last record with the log centre copy")


@dataclass(frozen=True)
class Anchor:
    """How far a log was verified before (``audit-verify --anchor``): the hash of its first record (which log),
    and the seq and hash of its last. It only moves forward: a log that no longer reaches it, or holds another
    record at its seq, was cut back or rewritten — which the log itself cannot show (a cut at an earlier
    ``stop`` checkpoint ends as cleanly as the whole log)."""

    first: str
    seq: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "seq": self.seq, "head": self.head}

    @classmethod
    def from_json(cls, data: Any) -> Anchor:
        """The anchor :meth:`to_json` wrote; ``ValueError`` for anything else (a bad anchor never passes as none)."""
        if (not isinstance(data, dict) or not all(isinstance(data.get(k), str) and _HEX64.fullmatch(data[k])
                                                  for k in ("first", "head"))
                or not isinstance(data.get("seq"), int) or isinstance(data["seq"], bool) or data["seq"] < 1):
            raise ValueError("expected {first: 64 hex, seq: ≥ 1, head: 64 hex}")
        return cls(data["first"], data["seq"], data["head"])


_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class ChainReport:
    """Result of :func:`verify_chain`."""

    path: str
    ok: bool = True
    records: int = 0
    checkpoints: int = 0
    last_signed_seq: int = 0
    unsigned_tail: int = 0
    break_line: int | None = None
    break_seq: int | None = None
    problem: str = ""
    warnings: list[str] = field(default_factory=list)
    #: where the verified log ends (the anchor a later run checks against); ``None`` unless it verified
    reached: Anchor | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "records": self.records, "checkpoints": self.checkpoints,
                "last_signed_seq": self.last_signed_seq, "unsigned_tail": self.unsigned_tail,
                "reached": self.reached.to_json() if self.reached else None,
                "break": None if self.ok else {"line": self.break_line, "seq": self.break_seq,
                                               "problem": self.problem},
                "warnings": self.warnings}


def verify_lines(lines: Iterable[bytes], trusted: dict[str, sm2.SM2PublicKey], path: str = "<audit>",
                 allow_unsigned: bool = False, anchor: Anchor | None = None) -> ChainReport:
    """Check the chain line by line; stop at the first break and say where (line, seq, why).

    ``trusted`` maps fingerprints to public keys of the service signing keys to accept. A log with no record,
    or none a trusted checkpoint signs, is broken (the service signs a checkpoint right after its start record:
    anyone can write a chain of hashes); ``allow_unsigned`` checks the links of one written before it did.
    ``anchor``: how far an earlier verification reached; a log that is not that log, ends before it or holds
    another record at its seq is broken."""
    report = ChainReport(path)
    head, expected = GENESIS, 1
    last_types: list[str] = []
    first = at_anchor = ""
    anchor_line = 0
    one_writer = False  # a file log (its start records say how the run before ended): one process writes it
    started = 0  # the seq of a start whose checkpoint has not come yet

    def broken(number: int, seq: int | None, problem: str) -> ChainReport:
        report.ok, report.break_line, report.break_seq, report.problem = False, number, seq, problem
        return report

    number = 0
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
        except ValueError:
            return broken(number, None, "not a JSON line (truncated or edited)")
        except RecursionError:  # "[[[[…": an audit record is one flat JSON object
            return broken(number, None, "not a JSON line (nested too deeply to be an audit record; edited)")
        if not isinstance(record, dict):
            return broken(number, None, "not a JSON object")
        seq = record.get("seq")
        if record.get("seq") != expected:
            return broken(number, seq if isinstance(seq, int) else None,
                          f"sequence number {seq!r}, expected {expected} (a line was removed, inserted or moved)")
        if record.get("prev") != head:
            return broken(number, expected, "prev does not match the hash of the line before")
        try:
            recanonical = canonical(record)
        except RecursionError:  # parsed, but nested too deeply to serialise again
            return broken(number, expected, "the line is not in canonical form (nested too deeply; edited)")
        if recanonical != raw.rstrip(b"\n"):
            return broken(number, expected, "the line is not in canonical form (edited)")
        if record.get("hash") != record_hash(record):
            return broken(number, expected, "hash does not match the record (edited)")
        kind = record.get("type")
        if one_writer and started and kind not in ("checkpoint", "start"):
            return broken(number, expected, f"a record after the start at seq {started} before its checkpoint: the "
                                             "service signs one right after its start (written by hand)")
        started = 0 if kind == "checkpoint" else started
        if kind == "start":
            one_writer = one_writer or "previous_end" in record
            started = expected
            if one_writer and (record.get("resumed_seq") != expected - 1 or record.get("resumed_head") != head):
                return broken(number, expected, f"a start that resumes seq {record.get('resumed_seq')!r}, not the "
                                                 f"record before it (seq {expected - 1}): written by hand")
            if record.get("previous_end") == "unclean" and report.last_signed_seq < expected - 1:
                report.warnings.append(
                    f"seq {report.last_signed_seq + 1}–{expected - 1}: written after the last checkpoint of a run "
                    f"that did not stop cleanly, signed by the checkpoint after the start at seq {expected}, not by "
                    "the process that wrote them: compare with the log centre copy")
        elif one_writer and last_types == ["stop", "checkpoint"]:
            return broken(number, expected, "a record after the service's clean stop and its checkpoint, before "
                                             "any start: no service was running (appended by hand)")
        if kind == "checkpoint":
            signer = trusted.get(str(record.get("signer")))
            if signer is None:
                return broken(number, expected, f"checkpoint signed by an untrusted key {record.get('signer')!r}")
            try:
                signature = strict_b64decode(record.get("signature"))
            except ValueError as error:
                return broken(number, expected, f"checkpoint signature is {error}")
            if record.get("head") != head or not sm2.verify(signer, _signed_part(record), signature):
                return broken(number, expected, "checkpoint signature does not verify")
            report.checkpoints += 1
            report.last_signed_seq = expected
            report.unsigned_tail = -1
        if expected == 1:
            first = str(record["hash"])
        if anchor is not None and expected == anchor.seq:
            at_anchor, anchor_line = str(record["hash"]), number
        head, expected = record["hash"], expected + 1
        last_types = [*last_types[-1:], str(record.get("type"))]
        report.records += 1
        report.unsigned_tail += 1
    if report.records == 0:
        report.ok, report.break_line, report.break_seq = False, 1, 1
        report.problem = ("no record: the service's log begins with its start record and a signed checkpoint "
                          "(an empty file, or a log cut to nothing)")
        return report
    if report.checkpoints == 0:
        if not allow_unsigned:
            report.ok, report.break_line, report.break_seq = False, report.records + 1, report.records + 1
            report.problem = ("no checkpoint signed by a trusted key: nothing shows the service wrote these "
                              "records (it signs one right after its start record; --allow-unsigned checks only "
                              "the links of a log an older service wrote)")
            return report
        report.warnings.append("no signed checkpoint: the chain proves order, not origin")
    elif report.unsigned_tail:
        report.warnings.append(f"{report.unsigned_tail} record(s) after the last signed checkpoint "
                               "(compare with the copy at the log centre)")
    if anchor is not None:
        if first != anchor.first:
            return broken(1, 1, "not the anchored log: its first record differs from the one verified before "
                                "(--anchor; the log was replaced or rewritten from its start)")
        if report.records < anchor.seq:
            return broken(report.records + 1, report.records + 1,
                          f"cut back: the log ends at seq {report.records}, but seq {anchor.seq} was verified "
                          "before (--anchor); compare with the log centre copy")
        if at_anchor != anchor.head:
            return broken(anchor_line, anchor.seq, f"rewritten: the record at seq {anchor.seq} is not the one "
                                                   "verified before (--anchor)")
    else:
        report.warnings.append(NO_ANCHOR_WARNING)
    if report.records and last_types[-2:] != ["stop", "checkpoint"]:
        report.warnings.append(CUT_SHORT_WARNING)
    report.reached = Anchor(first, report.records, str(head))
    return report


def verify_chain(path: Path, trusted_keys: Iterable[sm2.SM2PublicKey], allow_unsigned: bool = False,
                 anchor: Anchor | None = None) -> ChainReport:
    trusted = {keys.fingerprint(k): k for k in trusted_keys}
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
        return verify_lines(lines, trusted, str(path), allow_unsigned, anchor)
    # no line end after the last line: a write cut short, which the service refuses to resume after (its next
    # record would join the line) — a break at that line, whatever it holds, with the repair that fits it
    report = verify_lines(lines, trusted, str(path), allow_unsigned, anchor)
    whole = len(data) - len(lines[-1])
    if report.ok:
        report.ok, report.break_line, report.break_seq = False, len(lines), report.records
        report.problem = (f"no line end after the last record (a write cut short; the service will not resume "
                          f"after it): the record itself is whole — stop the service, keep a copy and append the "
                          f"line end (printf '\\n' >> {shlex.quote(str(path))})")
        report.reached = None
    elif report.break_line == len(lines):
        report.problem += (f"; the line has no line end (a write cut short): stop the service, keep a copy and cut "
                           f"it off after the last whole line (truncate -s {whole} {shlex.quote(str(path))})")
    return report

"""Records written while no service ran: the file log has one writer (the service holds its ``flock``), so after a
clean stop and its checkpoint nothing is written until the next ``start``. A review appended hash-linked records
there (an ``admin.destroy``) without the signing key: the next start resumed on them and signed a checkpoint over
them, and ``audit-verify`` passed the log. Now the service refuses to start on such a log and ``audit-verify``
names the first such record; records after the last checkpoint of a run that crashed are named in a warning
(the next start's checkpoint signs them, not their writer)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.cryptosvc.test_audit_anchor import one_run, verify
from xzgov.crypto import keys, sm2
from xzgov.cryptosvc import audit


def _append_start(log: Path, **fields: object) -> int:
    """Append a start record resuming the last line, as the service writes one (``fields`` override)."""
    last = json.loads(log.read_bytes().splitlines()[-1])
    return _append_chained(log, {"type": "start", "previous_end": "stop", "resumed_seq": last["seq"],
                                 "resumed_head": last["hash"], "signer": "x", "pid": 1, "process_start": "x",
                                 **fields})


def _append_chained(log: Path, record: dict[str, object]) -> int:
    """Append ``record`` linked to the last line, as anyone who can write the file can (no key needed)."""
    last = json.loads(log.read_bytes().splitlines()[-1])
    seq = int(last["seq"]) + 1
    record = {**record, "seq": seq, "prev": last["hash"], "time": last["time"]}
    record["hash"] = audit.record_hash(record)
    with log.open("ab") as handle:
        handle.write(audit.canonical(record) + b"\n")
    return seq


def test_records_after_a_clean_stop_stop_the_service_and_break_the_chain(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, private, public = one_run(tmp_path)
    forged = _append_chained(log, {"type": "op", "op": "admin.destroy", "key_id": "k1", "outcome": "ok"})
    before = log.read_bytes()
    with pytest.raises(audit.AuditError, match=f"1 record\\(s\\) from seq {forged} on follow the service's clean stop"):
        audit.AuditLog(log, keys.load_private_key(private))
    assert log.read_bytes() == before  # nothing appended, nothing signed over the forged record
    assert verify(log, public) == 1
    out = capsys.readouterr().out
    assert f"BROKEN: {log} line {forged} (seq {forged})" in out and "no service was running" in out


def test_a_start_after_a_clean_stop_is_the_ordinary_case(tmp_path: Path) -> None:
    log, private, public = one_run(tmp_path)
    second = audit.AuditLog(log, keys.load_private_key(private))
    second.append({"type": "op", "op": "admin.rotate", "key_id": "k1", "outcome": "ok"})
    second.close()
    report = audit.verify_chain(log, [keys.load_public_key(public)])
    assert report.ok and not [w for w in report.warnings if "did not stop cleanly" in w], report.warnings


def test_records_after_a_crash_are_named_as_signed_by_the_next_start(tmp_path: Path) -> None:
    log, private, public = one_run(tmp_path)
    crashed = audit.AuditLog(log, keys.load_private_key(private), checkpoint_every=100)
    crashed.append({"type": "op", "op": "sm3.digest", "outcome": "ok"})
    crashed.append({"type": "op", "op": "sm3.digest", "outcome": "ok"})
    unsigned = [json.loads(line)["seq"] for line in log.read_bytes().splitlines()[-2:]]
    os.close(crashed._fd)  # the process dies: no stop record, the lock goes with it
    restarted = audit.AuditLog(log, keys.load_private_key(private))
    restarted.close()
    report = audit.verify_chain(log, [keys.load_public_key(public)])
    assert report.ok
    assert [w for w in report.warnings if w.startswith(f"seq {unsigned[0]}–{unsigned[1]}: written after the last "
                                                       "checkpoint of a run that did not stop cleanly")]


def test_a_postgresql_export_with_several_writers_is_not_held_to_one(tmp_path: Path) -> None:
    """Several processes share the PostgreSQL chain (their start records carry no previous_end): one process's
    stop is followed by another's records."""
    log, private, _ = one_run(tmp_path)
    lines = [json.loads(line) for line in log.read_bytes().splitlines()]
    for record in lines:
        record.pop("previous_end", None)
    chained: list[bytes] = []
    head = audit.GENESIS
    key = keys.load_private_key(private)
    for record in lines:
        record["prev"] = head
        if record["type"] == "checkpoint":
            record["head"] = head
            record["signature"] = base64.b64encode(sm2.sign(key, audit._signed_part(record))).decode()
        record["hash"] = audit.record_hash(record)
        head = record["hash"]
        chained.append(audit.canonical(record))
    log.write_bytes(b"\n".join(chained) + b"\n")
    _append_chained(log, {"type": "op", "op": "sm3.digest", "outcome": "ok"})  # the other worker's record
    report = audit.verify_lines(log.read_bytes().splitlines(), {keys.fingerprint(key.public_key): key.public_key})
    assert report.ok, report.problem


def test_a_long_record_after_the_stop_does_not_hide_it(tmp_path: Path) -> None:
    """The service read the last 64 KiB only: a record padded past that put the clean stop out of sight, and the
    start signed over it (a second reader's case)."""
    log, private, _ = one_run(tmp_path)
    _append_chained(log, {"type": "op", "op": "admin.destroy", "key_id": "k1", "outcome": "ok", "note": "x" * 70_000})
    with pytest.raises(audit.AuditError, match="follow the service's clean stop"):
        audit.AuditLog(log, keys.load_private_key(private))


def test_a_start_written_by_hand_after_the_stop_is_refused_and_breaks_the_chain(tmp_path: Path) -> None:
    """A forged start (claiming a clean previous end) and records after it: the service refuses them and
    audit-verify breaks at the start, which resumes nothing the record before it ends with."""
    log, private, public = one_run(tmp_path)
    forged = _append_start(log, resumed_seq=0, resumed_head=audit.GENESIS)
    _append_chained(log, {"type": "op", "op": "admin.destroy", "key_id": "k1", "outcome": "ok"})
    with pytest.raises(audit.AuditError, match="follow the service's clean stop"):
        audit.AuditLog(log, keys.load_private_key(private))
    report = audit.verify_chain(log, [keys.load_public_key(public)])
    assert not report.ok and report.break_seq == forged and "written by hand" in report.problem
    # a start that resumes the right record, followed by records without its checkpoint, breaks at those records
    log2, _, public2 = one_run(tmp_path / "second")
    _append_start(log2)
    after = _append_chained(log2, {"type": "op", "op": "admin.destroy", "key_id": "k1", "outcome": "ok"})
    report = audit.verify_chain(log2, [keys.load_public_key(public2)])
    assert not report.ok and report.break_seq == after and "before its checkpoint" in report.problem


def test_a_crash_between_a_start_and_its_checkpoint_still_starts(tmp_path: Path) -> None:
    log, private, public = one_run(tmp_path)
    _append_start(log)
    audit.AuditLog(log, keys.load_private_key(private)).close()
    assert audit.verify_chain(log, [keys.load_public_key(public)]).ok


def test_a_file_without_a_record_is_never_a_new_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"x" * 70_000 + b"\n")
    with pytest.raises(audit.AuditError, match="no audit record"):
        audit.AuditLog(log, sm2.SM2PrivateKey.generate())
    assert log.read_bytes() == b"x" * 70_000 + b"\n"


def test_a_crash_loop_of_starts_still_starts(tmp_path: Path) -> None:
    """Starts whose checkpoint failed twice (a full disk): starts only, nothing ran — the service starts."""
    log, private, public = one_run(tmp_path)
    for _ in range(2):
        _append_start(log)
    audit.AuditLog(log, keys.load_private_key(private)).close()
    assert audit.verify_chain(log, [keys.load_public_key(public)]).ok


def test_a_chunk_edge_inside_the_stop_line_does_not_hide_it(tmp_path: Path) -> None:
    """A record padded so that the 64 KiB read back begins inside the stop line: the stop was dropped with the
    partial line, and the start signed over the record."""
    log, private, _ = one_run(tmp_path)
    original = log.read_bytes()
    lines = original.splitlines(keepends=True)
    assert json.loads(lines[-2])["type"] == "stop"
    stop_at = len(original) - len(lines[-1]) - len(lines[-2])
    base: dict[str, object] = {"type": "op", "op": "admin.destroy", "key_id": "k1", "outcome": "ok", "note": ""}
    _append_chained(log, base)
    empty = log.stat().st_size - len(original)
    # the file's end minus 65536 falls in the middle of the stop line
    wanted = 65536 + stop_at + len(lines[-2]) // 2 - len(original)
    log.write_bytes(original)
    _append_chained(log, {**base, "note": "x" * (wanted - empty)})
    assert stop_at < log.stat().st_size - 65536 < stop_at + len(lines[-2])
    with pytest.raises(audit.AuditError, match="follow the service's clean stop"):
        audit.AuditLog(log, keys.load_private_key(private))


def test_a_checkpoint_written_by_hand_is_not_trusted(tmp_path: Path) -> None:
    log, private, _ = one_run(tmp_path)
    _append_chained(log, {"type": "op", "op": "admin.destroy", "key_id": "k1", "outcome": "ok"})
    _append_chained(log, {"type": "stop"})
    _append_chained(log, {"type": "checkpoint", "signature": "AAAA", "signer": "x", "head": "x"})
    before = log.read_bytes()
    with pytest.raises(audit.AuditError, match="not signed by this service's key"):
        audit.AuditLog(log, keys.load_private_key(private))
    assert log.read_bytes() == before

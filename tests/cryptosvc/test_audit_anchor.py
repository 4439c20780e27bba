"""`audit-verify --anchor`: a log cut back to an earlier clean shutdown verified as OK with no warning (a whole
service run, its key operations included, gone); the log cannot prove its own end, so a verification records how
far it reached and the next one refuses a log that ends before that point or differs at it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cryptosvc.conftest import SYSTEMS, Harness, b64
from xzgov.cli.main import _dispatch
from xzgov.crypto import keys
from xzgov.cryptosvc import audit
from xzgov.cryptosvc.config import load_config
from xzgov.cryptosvc.setup import write_service_files


def one_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A log of one clean service run; (log, signing key, public key)."""
    keys_ = write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS, checkpoint_every=5)
    service = Harness(load_config(tmp_path / "etc" / "config.yml"), keys_, tmp_path)
    for index in range(3):
        service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(bytes([index]))})
    service.close()
    etc = service.directory / "etc"
    return service.config.audit_path, etc / "audit-signing.pem", etc / "audit-signing.pub.pem"


def two_runs(tmp_path: Path) -> tuple[Path, Path, int]:
    """A log of two clean service runs; (log, public key, the line count of the first run)."""
    path, private, public = one_run(tmp_path)
    first_run = len(path.read_bytes().splitlines())
    second = audit.AuditLog(path, keys.load_private_key(private))
    for index in range(3):
        second.append({"type": "op", "op": "admin.destroy", "key_id": f"k{index}", "outcome": "ok"})
    second.close()
    return path, public, first_run


def verify(log: Path, public: Path, *extra: str) -> int:
    return _dispatch(["cryptosvc", "audit-verify", str(log), "--trusted-key", str(public), *extra])


def test_a_cut_back_to_an_earlier_clean_stop_is_found_with_the_anchor(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, public, first_run = two_runs(tmp_path)
    lines = log.read_bytes().splitlines()
    assert json.loads(lines[first_run - 2])["type"] == "stop"  # the first run ended cleanly
    anchor = tmp_path / "monitor" / "audit.anchor"
    anchor.parent.mkdir()
    assert verify(log, public, "--anchor", str(anchor)) == 0
    assert f"anchor: created at seq {len(lines)}" in capsys.readouterr().out
    assert json.loads(anchor.read_text())["seq"] == len(lines) and anchor.stat().st_mode & 0o777 == 0o600
    log.write_bytes(b"\n".join(lines[:first_run]) + b"\n")  # the second run is gone
    # without the anchor the cut log ends cleanly: OK, and the report says the end is unproven
    report = audit.verify_chain(log, [keys.load_public_key(public)])
    assert report.ok and audit.CUT_SHORT_WARNING not in report.warnings
    assert audit.NO_ANCHOR_WARNING in report.warnings
    capsys.readouterr()
    assert verify(log, public, "--anchor", str(anchor)) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and f"cut back: the log ends at seq {first_run}, but seq {len(lines)}" in out
    assert json.loads(anchor.read_text())["seq"] == len(lines)  # a broken log never moves the anchor back


def test_the_anchor_moves_forward_and_catches_a_rewrite_or_another_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, public, first_run = two_runs(tmp_path)
    lines = log.read_bytes().splitlines()
    anchor = tmp_path / "audit.anchor"
    log.write_bytes(b"\n".join(lines[:first_run]) + b"\n")
    assert verify(log, public, "--anchor", str(anchor)) == 0  # anchored at the end of the first run
    log.write_bytes(b"\n".join(lines) + b"\n")  # the service went on: the anchor moves forward
    capsys.readouterr()
    assert verify(log, public, "--anchor", str(anchor)) == 0
    assert f"anchor: seq {first_run} → {len(lines)}" in capsys.readouterr().out
    # another log (a fresh one, or one rewritten from its start) at the anchored path
    other, other_public, _ = two_runs(tmp_path / "other")
    assert verify(other, other_public, "--anchor", str(anchor)) == 1
    assert "not the anchored log" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["not json", "{}", '{"first": "00", "seq": 1, "head": "00"}',
                                     json.dumps({"first": "0" * 64, "seq": True, "head": "0" * 64})])
def test_a_bad_anchor_is_a_usage_error_not_no_anchor(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     content: str) -> None:
    log, public, _ = two_runs(tmp_path)
    anchor = tmp_path / "audit.anchor"
    anchor.write_text(content)
    assert verify(log, public, "--anchor", str(anchor)) == 2
    assert "not an audit anchor" in capsys.readouterr().err and anchor.read_text() == content


def test_a_last_line_without_its_line_end_is_broken_with_the_repair_the_service_needs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A log whose last record lost only its line end verified "OK" while the service refused to reopen it
    ("the last line is incomplete; run audit-verify"): the operator was sent back and forth with no fix. Now
    audit-verify breaks at that line and says how to repair it: append the line end to a whole record, cut off
    a fragment; after the repair the service resumes."""
    log, public, _ = two_runs(tmp_path)
    data = log.read_bytes()
    count = len(data.splitlines())
    log.write_bytes(data[:-1])  # only the final "\n" lost
    with pytest.raises(audit.AuditError, match="incomplete"):
        audit.AuditLog(log, keys.load_private_key(public.parent / "audit-signing.pem"))
    capsys.readouterr()
    assert verify(log, public) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "no line end after the last record" in out and "printf" in out, out
    report = audit.verify_chain(log, [keys.load_public_key(public)])
    assert (report.ok, report.break_line, report.break_seq, report.reached) == (False, count, count, None)
    with log.open("ab") as handle:  # the repair it names
        handle.write(b"\n")
    assert verify(log, public) == 0
    # a fragment of a record at the end: cut off at the byte count it names
    whole = len(data)
    log.write_bytes(data + b'{"seq": ')
    report = audit.verify_chain(log, [keys.load_public_key(public)])
    assert not report.ok and report.break_line == count + 1 and f"truncate -s {whole} " in report.problem
    with log.open("r+b") as handle:
        handle.truncate(whole)
    audit.AuditLog(log, keys.load_private_key(public.parent / "audit-signing.pem")).close()  # resumes now
    assert audit.verify_chain(log, [keys.load_public_key(public)]).ok

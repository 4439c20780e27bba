"""Review findings 1-4 and 6 (audit): no key change without its audit record, a failed write leaves no
fragment (or latches the service), a cut-back log is reported, records name the key and version used,
every signed endpoint is audited."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from tests.cryptosvc.conftest import SYSTEMS, Harness, b64
from xzgov.crypto import keys
from xzgov.cryptosvc import audit
from xzgov.cryptosvc.app import PUBLIC_PATHS, Service
from xzgov.cryptosvc.config import load_config
from xzgov.cryptosvc.setup import write_service_files

REAL_WRITE = os.write


def _records(harness: Harness) -> list[dict[str, Any]]:
    return [json.loads(line) for line in harness.config.audit_path.read_bytes().splitlines()]


def _verify(harness: Harness) -> audit.ChainReport:
    signer = keys.load_public_key(harness.directory / "etc" / "audit-signing.pub.pem")
    return audit.verify_chain(harness.config.audit_path, [signer])


def _store_state(harness: Harness, key_id: str) -> tuple[str, int]:
    service: Service = harness.app.state.service
    info = service.store.info("dept-a", key_id)
    return info.state, info.current_version


class _FailingWrites:
    """os.write to the audit log: the next ``fail`` calls fail (ENOSPC, or short: half written)."""

    def __init__(self, short: bool = False) -> None:
        self.fail = 0
        self.skip = 0
        self.short = short

    def __call__(self, fd: int, data: bytes) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl"):  # the key store writes too
            return REAL_WRITE(fd, data)
        if self.skip:
            self.skip -= 1
            return REAL_WRITE(fd, data)
        if self.fail:
            self.fail -= 1
            if self.short:
                return REAL_WRITE(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return REAL_WRITE(fd, data)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> _FailingWrites:
    failing = _FailingWrites()
    monkeypatch.setattr(os, "write", failing)
    return failing


# ------------------------------------------------------------------ finding 1: record before the change


@pytest.mark.parametrize(("method", "suffix", "expected"), [
    ("DELETE", "", ("enabled", 1)), ("POST", "/rotate", ("enabled", 1)), ("POST", "/disable", ("enabled", 1))])
def test_a_key_change_whose_record_cannot_be_written_is_not_made(
        service: Harness, writes: _FailingWrites, method: str, suffix: str, expected: tuple[str, int]) -> None:
    kid = service.create_key("dept-a", "sm4")
    writes.fail = 1
    refused = service.call("kms-admin", method, f"/v1/admin/tenants/dept-a/keys/{kid}{suffix}")
    assert (refused.status, refused.code) == (503, "audit_unavailable")
    assert _store_state(service, kid) == expected  # was: destroyed / rotated / disabled, unaudited
    again = service.call("kms-admin", method, f"/v1/admin/tenants/dept-a/keys/{kid}{suffix}")
    assert again.status == 200, again.body  # the retry does it once (was: 410 key_destroyed after a destroy)
    assert _verify(service).ok


def test_a_change_is_preceded_by_its_intent_record(service: Harness, writes: _FailingWrites) -> None:
    kid = service.create_key("dept-a", "sm4")
    before = len(_records(service))
    writes.skip, writes.fail = 1, 1  # the intent is written, the outcome is not
    answer = service.call("kms-admin", "DELETE", f"/v1/admin/tenants/dept-a/keys/{kid}")
    assert (answer.status, answer.code) == (503, "audit_incomplete")  # not retried by the client
    assert _store_state(service, kid)[0] == "destroyed"
    new = [r for r in _records(service)[before:] if r.get("type") == "op"]
    assert [(r["op"], r["outcome"], r.get("key_id")) for r in new] == [("admin.destroy", "intent", kid)]
    assert _verify(service).ok


def test_key_change_records_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_ = write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS, checkpoint_every=1000)
    harness = Harness(load_config(tmp_path / "etc" / "config.yml"), keys_, tmp_path)
    try:
        kid = harness.create_key("dept-a", "sm4")
        synced: list[int] = []
        real = os.fsync

        def fsync(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl"):  # not the key store's
                synced.append(fd)
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        assert harness.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate").status == 200
        assert len(synced) >= 2  # intent and outcome; was 0 (only checkpoints were fsynced)
        synced.clear()
        assert harness.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"x")}).status == 200
        assert synced == []  # a read-only operation waits for the next checkpoint's fsync
    finally:
        harness.close()


def test_pg_key_change_and_its_record_commit_together(pg_service: Harness,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from xzgov.cryptosvc.pgstore import PgAuditLog, export_lines

    kid = pg_service.create_key("dept-a", "sm4")
    service: Service = pg_service.app.state.service
    assert service.database is not None
    real = PgAuditLog._write

    def failing(self: PgAuditLog, cursor: Any, head: list[Any], record: dict[str, Any]) -> dict[str, Any]:
        if record.get("op") == "admin.rotate" and record.get("outcome") == "ok":
            raise audit.AuditError("injected")
        return real(self, cursor, head, record)

    monkeypatch.setattr(PgAuditLog, "_write", failing)
    refused = pg_service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate")
    assert (refused.status, refused.code) == (503, "audit_unavailable")
    assert _store_state(pg_service, kid) == ("enabled", 1)  # was 2: rotated in its own transaction
    monkeypatch.setattr(PgAuditLog, "_write", real)
    assert pg_service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate").status == 200
    assert _store_state(pg_service, kid) == ("enabled", 2)
    lines = [json.loads(line) for line in export_lines(service.database)]
    rotations = [r for r in lines if r.get("op") == "admin.rotate"]
    assert [(r["outcome"], r.get("key_id"), r.get("key_version")) for r in rotations] == [
        ("refused", kid, None), ("ok", kid, 2)]
    signer = keys.load_public_key(pg_service.directory / "etc" / "audit-signing.pub.pem")
    assert audit.verify_lines(export_lines(service.database), {keys.fingerprint(signer): signer}).ok


# ------------------------------------------------------------------ finding 2: failed and short writes


def test_a_short_write_leaves_no_fragment(service: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = _FailingWrites(short=True)
    monkeypatch.setattr(os, "write", failing)
    failing.fail = 1
    answer = service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"x")})
    assert (answer.status, answer.code) == (503, "audit_unavailable")  # not reported as done
    assert service.config.audit_path.read_bytes().endswith(b"\n")
    assert service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"y")}).status == 200
    report = _verify(service)
    assert report.ok, report.problem  # was: broken at the fragment, forever, while answering 200


def test_a_fragment_that_cannot_be_removed_latches_the_service(service: Harness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    failing = _FailingWrites(short=True)
    monkeypatch.setattr(os, "write", failing)

    real_truncate = os.ftruncate

    def no_truncate(fd: int, size: int) -> None:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("audit.jsonl"):
            return real_truncate(fd, size)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "ftruncate", no_truncate)
    failing.fail = 1
    assert service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"x")}).code == "audit_unavailable"
    # the disk works again, the fragment is still there: nothing more is appended (or answered)
    later = service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"y")})
    assert (later.status, later.code) == (503, "audit_unavailable")  # was 200, appended onto the fragment
    assert service.raw("GET", "/health").status == 503


# ------------------------------------------------------------------ finding 3: a log cut back


def test_a_log_cut_back_to_a_checkpoint_is_reported(tmp_path: Path) -> None:
    keys_ = write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS, checkpoint_every=5)
    service = Harness(load_config(tmp_path / "etc" / "config.yml"), keys_, tmp_path)
    for index in range(8):
        service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(bytes([index]))})
    service.close()
    signer = keys.load_public_key(service.directory / "etc" / "audit-signing.pub.pem")
    path = service.config.audit_path
    whole = audit.verify_chain(path, [signer])
    assert whole.ok and audit.CUT_SHORT_WARNING not in whole.warnings  # ends with stop + checkpoint
    lines = path.read_bytes().splitlines()
    checkpoints = [n for n, line in enumerate(lines) if json.loads(line)["type"] == "checkpoint"]
    cut = lines[: checkpoints[0] + 1]
    path.write_bytes(b"\n".join(cut) + b"\n")
    report = audit.verify_chain(path, [signer])
    assert report.ok and audit.CUT_SHORT_WARNING in report.warnings  # was: OK, no warning
    assert "log centre" in audit.CUT_SHORT_WARNING
    # the next start says where it resumed from, and that the previous run did not end cleanly
    log = audit.AuditLog(path, keys.load_private_key(service.directory / "etc" / "audit-signing.pem"))
    log.close()
    start = next(json.loads(line) for line in path.read_bytes().splitlines()[len(cut):])
    assert start["type"] == "start"
    assert (start["resumed_seq"], start["resumed_head"]) == (len(cut), json.loads(cut[-1])["hash"])
    assert start["previous_end"] == "unclean" and start["pid"] == os.getpid() and start["process_start"]


# ------------------------------------------------------------------ finding 4: which key, which version


def test_records_name_the_key_and_version_used(service: Harness) -> None:
    sm4_key = service.create_key("dept-a", "sm4")
    sm2_key = service.create_key("dept-a", "sm2")
    mac_key = service.create_key("dept-a", "hmac-sm3")
    sealed = service.call("dept-a", "POST", "/v1/sm4/encrypt", {"key_id": sm4_key, "plaintext": b64(b"p")}).body
    assert service.call("dept-a", "POST", "/v1/sm4/decrypt", {"envelope": sealed["envelope"]}).status == 200
    assert service.call("dept-b", "POST", "/v1/sm4/decrypt", {"envelope": sealed["envelope"]}).status == 404
    signed = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": sm2_key, "data": b64(b"d")}).body
    service.call("dept-a", "POST", "/v1/sm2/verify", {"key_id": sm2_key, "data": b64(b"d"),
                                                      "signature": signed["signature"]})
    mac = service.call("dept-a", "POST", "/v1/sm3/hmac", {"key_id": mac_key, "data": b64(b"d")}).body["mac"]
    service.call("dept-a", "POST", "/v1/sm3/hmac-verify", {"key_id": mac_key, "data": b64(b"d"), "mac": mac})
    service.call("dept-a", "POST", "/v1/sm2/verify", {"key_id": sm2_key, "key_version": 7, "data": b64(b"d"),
                                                      "signature": signed["signature"]})
    ops = {(r["op"], r["system"], r["outcome"]): r for r in _records(service) if r.get("type") == "op"}
    for op, key in (("sm4.decrypt", sm4_key), ("sm2.verify", sm2_key), ("sm3.hmac-verify", mac_key)):
        record = ops[(op, "dept-a", "ok")]
        assert (record.get("key_id"), record.get("key_version")) == (key, 1), op
    cross = ops[("sm4.decrypt", "dept-b", "refused")]
    assert (cross["code"], cross.get("key_id"), cross.get("key_version")) == ("key_not_found", sm4_key, 1)
    missing = ops[("sm2.verify", "dept-a", "refused")]
    assert (missing["code"], missing.get("key_id"), missing.get("key_version")) == (
        "key_version_not_found", sm2_key, 7)


# ------------------------------------------------------------------ finding 6: every endpoint audited


def test_a_tenant_refused_a_checkpoint_is_audited(service: Harness) -> None:
    refused = service.call("dept-a", "POST", "/v1/admin/audit/checkpoint")
    assert (refused.status, refused.code) == (403, "forbidden")
    last = [r for r in _records(service) if r.get("type") == "op"][-1]
    assert (last["op"], last["system"], last["outcome"], last["code"]) == (
        "admin.checkpoint", "dept-a", "refused", "forbidden")  # was: no record
    done = service.call("kms-admin", "POST", "/v1/admin/audit/checkpoint")
    assert done.status == 200 and _verify(service).unsigned_tail == 0


def test_every_signed_route_is_audited(service: Harness) -> None:
    routes = [r for r in service.app.routes if isinstance(r, APIRoute) and r.path not in PUBLIC_PATHS]
    assert len(routes) >= 20
    unaudited = [r.path for r in routes if "audit_op" not in vars(r.endpoint)]
    assert unaudited == []
    # and each is audited the same way: a refused call by the wrong role leaves a record naming it
    for route in routes:
        method = sorted(route.methods or ())[0]
        caller = "dept-a" if route.path.startswith("/v1/admin") else "kms-admin"
        path = route.path.replace("{tenant}", "dept-a").replace("{key_id}", "k-00")
        before = len(_records(service))
        body = _minimal_body(route)
        answer = service.call(caller, method, path, body)
        assert answer.status in (200, 403, 404), (route.path, answer.body)
        new = [r for r in _records(service)[before:] if r.get("type") == "op"]
        assert {r["op"] for r in new} == {vars(route.endpoint)["audit_op"]}, route.path
        assert new[-1]["outcome"] in ("ok", "refused") and len(new) <= 2, route.path  # (key changes: intent first)


def _minimal_body(route: APIRoute) -> dict[str, Any] | None:
    """A body the schema accepts, so the request reaches the handler (schema refusals are not audited)."""
    if route.body_field is None:
        return None
    name = route.body_field.field_info.annotation.__name__  # type: ignore[union-attr]
    key, data, hexa = "k-00", b64(b"x"), "00" * 32
    bodies: dict[str, dict[str, Any]] = {
        "SignRequest": {"key_id": key, "data": data},
        "SignDigestRequest": {"key_id": key, "digest": hexa},
        "VerifyRequest": {"key_id": key, "data": data, "signature": data},
        "VerifyDigestRequest": {"key_id": key, "digest": hexa, "signature": data},
        "EncryptRequest": {"key_id": key, "plaintext": data},
        "SM2DecryptRequest": {"key_id": key, "ciphertext": data},
        "SM4DecryptRequest": {"envelope": data},
        "DigestRequest": {"data": data},
        "HmacRequest": {"key_id": key, "data": data},
        "HmacVerifyRequest": {"key_id": key, "data": data, "mac": hexa},
        "CreateKeyRequest": {"type": "sm4"},
    }
    return bodies[name]

"""The PostgreSQL backend (xzgov/cryptosvc/pgstore.py) against a real local PostgreSQL 15.

Same service, same answers as the file backend; plus what replication needs: idempotent key creation by
request id, the audit chain's sequence and hash linkage kept by concurrent writers on separate
connections (as two service processes or two hosts), and a standby (read-only) database answered as a
clean 503 the client retries elsewhere.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cryptosvc.conftest import Harness, LocalPostgres, b64
from xzgov.crypto import keys, sm2
from xzgov.cryptosvc import audit
from xzgov.cryptosvc.app import Service
from xzgov.cryptosvc.errors import ServiceError
from xzgov.cryptosvc.keystore import KeyStore
from xzgov.cryptosvc.pgstore import Database, PgAuditLog, PgKeyStore, PgNonceStore, export_lines


def _verify(harness: Harness, database: Database) -> audit.ChainReport:
    signer = keys.load_public_key(harness.directory / "etc" / "audit-signing.pub.pem")
    return audit.verify_lines(export_lines(database), {keys.fingerprint(signer): signer})


def _database(harness: Harness) -> Database:
    service: Service = harness.app.state.service
    assert service.database is not None
    return service.database


def test_operations_and_the_audit_chain_in_the_database(pg_service: Harness) -> None:
    assert pg_service.raw("GET", "/health").body == {"status": "ok", "engine": sm2.ENGINE, "database": "primary",
                                                     "commits": "local only: no synchronous standby configured"}
    kid = pg_service.create_key("dept-a", "sm2")
    signed = pg_service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"doc")})
    assert signed.status == 200, signed.body
    public = keys.public_key_from_pem(pg_service.call("dept-a", "GET", f"/v1/keys/{kid}/public-key").body["public_key"])
    assert sm2.verify(public, b"doc", base64.b64decode(signed.body["signature"]))
    sm4 = pg_service.create_key("dept-a", "sm4")
    sealed = pg_service.call("dept-a", "POST", "/v1/sm4/encrypt", {"key_id": sm4, "plaintext": b64(b"x" * 4096)})
    opened = pg_service.call("dept-a", "POST", "/v1/sm4/decrypt", {"envelope": sealed.body["envelope"]})
    assert base64.b64decode(opened.body["plaintext"]) == b"x" * 4096
    rotated = pg_service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate")
    assert rotated.body["versions"] == [1, 2]
    stolen = pg_service.call("dept-b", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert (stolen.status, stolen.code) == (404, "key_not_found")
    listed = pg_service.call("dept-a", "GET", "/v1/keys").body["keys"]
    assert sorted(k["key_id"] for k in listed) == sorted([kid, sm4])
    destroyed = pg_service.call("kms-admin", "DELETE", f"/v1/admin/tenants/dept-a/keys/{kid}")
    assert destroyed.body["state"] == "destroyed"
    gone = pg_service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert (gone.status, gone.code) == (410, "key_destroyed")
    pg_service.call("kms-admin", "POST", "/v1/admin/audit/checkpoint")
    database = _database(pg_service)
    report = _verify(pg_service, database)
    assert report.ok and report.checkpoints >= 2 and report.unsigned_tail == 0, report.to_json()
    with database.transaction() as cursor:
        cursor.execute("SELECT record::text FROM cryptosvc_keys")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert "PRIVATE" not in stored and "\"wrapped\"" in stored  # material only wrapped, public keys in clear
    # a tampered row is located, as in the file
    lines = export_lines(database)
    record = json.loads(lines[3])
    record["system"] = "dept-b"
    lines[3] = audit.canonical(record)
    signer = keys.load_public_key(pg_service.directory / "etc" / "audit-signing.pub.pem")
    assert audit.verify_lines(lines, {keys.fingerprint(signer): signer}).break_line == 4


@pytest.mark.parametrize("backend", ["files", "postgresql"])
def test_a_retried_create_returns_the_first_key(backend: str, service: Harness, pg_service: Harness) -> None:
    harness = service if backend == "files" else pg_service
    path = "/v1/admin/tenants/dept-a/keys"
    first = harness.call("kms-admin", "POST", path, {"type": "sm2", "request_id": "req-0123456789abcdef"})
    again = harness.call("kms-admin", "POST", path, {"type": "sm2", "request_id": "req-0123456789abcdef"})
    assert first.status == again.status == 201
    assert first.body["key_id"] == again.body["key_id"]
    other = harness.call("kms-admin", "POST", "/v1/admin/tenants/dept-b/keys",
                         {"type": "sm2", "request_id": "req-0123456789abcdef"})  # ids are per tenant
    assert other.status == 201 and other.body["key_id"] != first.body["key_id"]
    reused = harness.call("kms-admin", "POST", path, {"type": "sm4", "request_id": "req-0123456789abcdef"})
    assert (reused.status, reused.code) == (409, "request_id_reused")
    assert len(harness.call("dept-a", "GET", "/v1/keys").body["keys"]) == 1
    bad = harness.call("kms-admin", "POST", path, {"type": "sm2", "request_id": "short"})
    assert (bad.status, bad.code) == (422, "invalid_request")


def test_concurrent_writers_keep_one_chain_and_lose_no_change(pg_service: Harness,
                                                             local_postgres: LocalPostgres) -> None:
    """Four writers on four connections (as two service processes on two hosts would be) append and rotate."""
    dsn = pg_service.config.database_dsn
    signer = pg_service.config.signing_key
    master = pg_service.config.master_key
    kid = pg_service.create_key("dept-a", "sm4")
    errors: list[BaseException] = []
    rounds = 40

    def writer(index: int) -> None:
        database = Database(dsn)
        log = PgAuditLog(database, signer, checkpoint_every=7)
        store = PgKeyStore(database, master)
        try:
            for number in range(rounds):
                log.append({"type": "op", "op": "test", "writer": index, "n": number})
                if number % 10 == 0:
                    store.rotate("dept-a", kid)
            log.close()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    database = _database(pg_service)
    report = _verify(pg_service, database)
    assert report.ok, report.to_json()
    records = [json.loads(line) for line in export_lines(database)]
    ops = [(r["writer"], r["n"]) for r in records if r.get("op") == "test"]
    assert sorted(ops) == [(w, n) for w in range(4) for n in range(rounds)]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    versions = pg_service.call("dept-a", "GET", "/v1/keys").body["keys"][0]["versions"]
    assert versions == list(range(1, 4 * (rounds // 10) + 2))  # every rotation kept, none lost


def test_a_standby_database_is_a_clean_503(pg_service: Harness, tmp_path: Path) -> None:
    kid = pg_service.create_key("dept-a", "sm2")
    database = _database(pg_service)
    read_only = Database(pg_service.config.database_dsn + " options='-c default_transaction_read_only=on'")
    store = PgKeyStore(read_only, pg_service.config.master_key)
    assert store.info("dept-a", kid).key_id == kid  # reads work on a standby
    with pytest.raises(ServiceError) as refused:
        store.create("dept-a", "sm2")
    assert (refused.value.status, refused.value.code) == (503, "database_read_only")
    log = PgAuditLog(read_only, pg_service.config.signing_key)
    with pytest.raises(ServiceError) as audit_refused:
        log.append({"type": "op", "op": "x"})
    assert audit_refused.value.code == "database_read_only"
    # the database stopped answering: 503 database_unavailable, and the next request reconnects
    with database.transaction() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    with psycopg.connect(pg_service.config.database_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
    dropped = pg_service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert (dropped.status, dropped.code) == (503, "database_unavailable")
    again = pg_service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert again.status == 200, again.body
    assert isinstance(KeyStore, type)


def test_a_request_replayed_to_another_worker_or_host_is_refused(pg_service: Harness) -> None:
    """Two service instances on one database (two workers, or the two hosts after a failover)."""
    from xzgov.cryptosvc.auth import sign_request

    other = Harness(pg_service.config, pg_service.keys, pg_service.directory)
    try:
        path = "/v1/sm3/digest"
        body = json.dumps({"data": b64(b"x")}).encode()
        headers = {"content-type": "application/json",
                   **sign_request("dept-a", pg_service.keys["dept-a"], "POST", path, body)}
        assert pg_service.raw("POST", path, body, headers).status == 200
        replayed = other.raw("POST", path, body, headers)
        assert (replayed.status, replayed.code) == (401, "replayed_request")
        again = pg_service.raw("POST", path, body, headers)
        assert (again.status, again.code) == (401, "replayed_request")
        # the same nonce from another system is that system's own nonce
        theirs = {"content-type": "application/json",
                  **sign_request("dept-b", pg_service.keys["dept-b"], "POST", path, body,
                                 nonce=headers["x-xzgov-nonce"])}
        assert other.raw("POST", path, body, theirs).status == 200
    finally:
        other.close()


def test_the_nonce_table_is_insert_or_reject_and_purged(pg_service: Harness) -> None:
    database = _database(pg_service)
    nonces = PgNonceStore(database, purge_every=10**9)
    assert nonces.add("dept-a", "n" * 16, expires=1_000, now=500)
    assert not nonces.add("dept-a", "n" * 16, expires=1_100, now=600)  # a replay within the window
    assert nonces.add("dept-a", "n" * 16, expires=2_000, now=1_000)  # expired: its timestamp is no longer valid
    assert not nonces.add("dept-a", "n" * 16, expires=2_100, now=1_500)
    # many writers on their own connections, one nonce: exactly one wins
    winners: list[bool] = []

    def racer() -> None:
        own = Database(pg_service.config.database_dsn)
        try:
            winners.append(PgNonceStore(own).add("dept-b", "race-0123456789ab", expires=10**10, now=0))
        finally:
            own.close()

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(winners) == [False] * 5 + [True]
    for number in range(20):
        assert nonces.add("dept-c", f"old-{number:016d}", expires=100, now=50)
    assert nonces.purge(now=100) >= 20
    with database.transaction() as cursor:
        cursor.execute("SELECT count(*) FROM cryptosvc_nonces WHERE expires <= 100")
        assert cursor.fetchone() == (0,)
    # the purge also runs by itself, in the insert's transaction, every purge_every inserts
    often = PgNonceStore(database, purge_every=3)
    for number in range(5):
        often.add("dept-c", f"old2-{number:015d}", expires=100, now=50)
    assert often.add("dept-c", "fresh-0123456789ab", expires=10**10, now=200)
    with database.transaction() as cursor:
        cursor.execute("SELECT count(*) FROM cryptosvc_nonces WHERE system = 'dept-c' AND expires <= 200")
        row = cursor.fetchone()
    assert row is not None and row[0] < 5
    # on a standby (read only) the insert is a clean 503 the client retries on the other host
    read_only = Database(pg_service.config.database_dsn + " options='-c default_transaction_read_only=on'")
    with pytest.raises(ServiceError) as refused:
        PgNonceStore(read_only).add("dept-a", "ro-0123456789abcd", expires=10**10, now=0)
    assert (refused.value.status, refused.value.code) == (503, "database_read_only")
    read_only.close()


def test_a_missing_synchronous_standby_is_reported_and_refused_fast(pg_service: Harness,
                                                                    local_postgres: LocalPostgres) -> None:
    """The local cluster made to wait for a standby that never connects (as a primary whose standby died)."""
    import asyncio
    import time

    from xzgov.cryptosvc.auth import sign_request

    service: Service = pg_service.app.state.service
    service._probe_stop.set()  # probe by hand: the first request below must reach the database
    assert service._probe_thread is not None
    service._probe_thread.join(timeout=10)
    service.replication = None

    def request(path: str, payload: dict[str, str]) -> asyncio.Future[Any]:
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json",
                   **sign_request("dept-a", pg_service.keys["dept-a"], "POST", path, body)}
        return asyncio.ensure_future(pg_service.http.post(path, content=body, headers=headers))

    async def scenario() -> tuple[Any, Any, float, Any]:
        hanging = request("/v1/sm3/digest", {"data": b64(b"waits for the standby")})
        await asyncio.sleep(1.0)
        assert not hanging.done()  # its nonce commit waits for the standby
        started = time.monotonic()
        health = await asyncio.wait_for(pg_service.http.get("/health"), 10)  # the loop still answers
        refused = await asyncio.wait_for(request("/v1/sm3/digest", {"data": b64(b"x")}), 10)
        elapsed = time.monotonic() - started
        with psycopg.connect(local_postgres.dsn(), autocommit=True) as admin:  # the operator degrades
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")
        released = await asyncio.wait_for(hanging, 30)
        return health, refused, elapsed, released

    with psycopg.connect(local_postgres.dsn(), autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'xzgov_standby'")
        admin.execute("SELECT pg_reload_conf()")
    # pg_reload_conf only signals the server: on a loaded machine the first request could commit before the
    # backends reread the file. A fresh session sees the setting once the postmaster has reread it (and signalled
    # the backends, which apply it before their next command)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(local_postgres.dsn(), autocommit=True) as admin:
            row = admin.execute("SHOW synchronous_standby_names").fetchone()
        if row is not None and row[0] == "xzgov_standby":
            break
        time.sleep(0.05)
    time.sleep(0.2)
    try:
        health, refused, elapsed, released = pg_service.loop.run_until_complete(scenario())
    finally:
        with psycopg.connect(local_postgres.dsn(), autocommit=True) as admin:
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")
    assert health.status_code == 200
    assert health.json() == {"status": "blocked", "engine": sm2.ENGINE, "database": "primary",
                             "commits": "blocked: synchronous standby missing"}
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "commits_blocked", refused.text
    assert "同步备库缺失" in refused.json()["error"]["message"]
    assert elapsed < 5, elapsed  # answered, not left waiting
    assert released.status_code == 200, released.text  # the waiting commit completes once degraded
    assert service.probe_replication() is not None and not service.commits_blocked()
    assert pg_service.raw("GET", "/health").body["commits"] == "local only: no synchronous standby configured"


@pytest.mark.parametrize(("settings", "message"), [
    ({"backend": "sqlite"}, "backend must be one of files, postgresql"),
    ({"backend": "postgresql"}, "backend postgresql needs database_dsn"),
    ({"backend": "postgresql", "database_dsn": "host=db password=hunter2"}, "carries a password"),
    # the URI form libpq reads as well (the keyword check alone let these through to a 0644 config.yml)
    ({"backend": "postgresql", "database_dsn": "postgresql://svc:hunter2@localhost/xz"}, "carries a password"),
    ({"backend": "postgresql", "database_dsn": "postgres:///xz?sslmode=disable&password=hunter2"},
     "carries a password"),
    ({"backend": "postgresql", "database_dsn": "host='db password=hunter2"}, "not a libpq connection string"),
    ({"backend": "postgresql", "database_dsn": "dbname=x sslpassword=hunter2"}, "carries a password"),
    ({"backend": "files", "database_dsn": "host=db sslpassword=hunter2"}, "carries a password"),
])
def test_the_backend_setting_is_checked(tmp_path: Path, settings: dict[str, str], message: str) -> None:
    import yaml

    from xzgov.cryptosvc.config import load_config
    from xzgov.cryptosvc.errors import ConfigError
    from xzgov.cryptosvc.setup import write_service_files

    write_service_files(tmp_path / "etc", tmp_path / "state", {"dept-a": "tenant", "kms-admin": "admin"})
    config = tmp_path / "etc" / "config.yml"
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), **settings}))
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(config)
    assert str(config) in str(raised.value) and "hunter2" not in str(raised.value)  # names the file, not the secret


def test_a_dsn_the_files_backend_leaves_unused_need_not_parse(tmp_path: Path) -> None:
    import yaml

    from xzgov.cryptosvc.config import load_config
    from xzgov.cryptosvc.setup import write_service_files

    write_service_files(tmp_path / "etc", tmp_path / "state", {"dept-a": "tenant", "kms-admin": "admin"})
    config = tmp_path / "etc" / "config.yml"
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "database_dsn": "not a dsn"}))
    assert load_config(config).backend == "files"


def test_a_refusal_the_other_host_would_repeat_is_a_500_not_a_failover() -> None:
    # every psycopg.Error was 503 database_unavailable: a defect sent each client round both hosts until its
    # failover time ran out
    from psycopg import errors as pgerrors

    from xzgov.cryptosvc.client import RETRY_CODES
    from xzgov.cryptosvc.pgstore import _unavailable

    refusals: list[psycopg.Error] = [
        pgerrors.UndefinedTable("no table"), pgerrors.InsufficientPrivilege("denied"),
        pgerrors.InvalidTextRepresentation("bad value"), pgerrors.FeatureNotSupported("no")]
    for error in refusals:
        refused = _unavailable(error)
        assert (refused.status, refused.code) == (500, "database_error") and refused.code not in RETRY_CODES
    retried: list[tuple[psycopg.Error, str]] = [
        (pgerrors.ReadOnlySqlTransaction("standby"), "database_read_only"),
        (pgerrors.AdminShutdown("shutting down"), "database_unavailable"),
        (psycopg.OperationalError("connection lost"), "database_unavailable"),
        (pgerrors.SerializationFailure("retry"), "database_unavailable"),
        (pgerrors.UniqueViolation("a concurrent create"), "database_unavailable")]
    for error, code in retried:
        kept = _unavailable(error)
        assert (kept.status, kept.code) == (503, code) and code in RETRY_CODES

"""The service's state in PostgreSQL: tenant keys and the audit chain, replicated to a hot standby.

Chosen for high availability (issue 19; docs/crypto-service.md "High availability"): Debian 12's
PostgreSQL 15 with a streaming replica on the second key-management host and
``synchronous_commit = remote_apply``, so a key or an audit record the service has acknowledged is
already applied on both hosts. The file backend (:mod:`.keystore`, :mod:`.audit`) stays for one host;
``backend: postgresql`` in the configuration chooses this one.

Same guarantees as the files:

* **Keys** are the same JSON records as in ``keystore.json`` (one row per key, ``jsonb``), material only
  wrapped under the master key (SM4-GCM, AAD binds tenant, id, version, type). A change runs in one
  transaction holding the row lock (``SELECT … FOR UPDATE``) of the key it changes, so two service
  processes — or the two hosts after a failover — never lose each other's changes. A create with a
  caller-chosen request id takes a transaction-scoped advisory lock on (tenant, request id) and the unique
  index ``(tenant, request_id)`` backs it: a retried create returns the first key, never a second.
* **Audit records** are rows ``(seq, hash, line)``; each append locks the one ``cryptosvc_audit_head`` row
  (``FOR UPDATE``), so the sequence and the hash linkage are serialised across processes and hosts, and
  the record and the new head commit together. ``seq`` is the primary key: a gap or a fork cannot commit.
  The lines are byte-identical to the file chain's: ``export_lines`` + :func:`.audit.verify_lines` verify it.

A standby (database in recovery) refuses writes: every operation is audited, so the service there answers
503 ``database_read_only`` until the database is promoted; the client retries on the other host.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg.types.json import Jsonb

from xzgov.crypto import keys, sm2, sm4
from xzgov.cryptosvc.audit import (
    GENESIS,
    LOGGER,
    PROCESS_START,
    AuditError,
    _signed_part,
    canonical,
    record_hash,
)
from xzgov.cryptosvc.errors import ServiceError
from xzgov.cryptosvc.keystore import FORMAT, KeyStore

DB_LOGGER = logging.getLogger("xzgov.cryptosvc.db")

# Set by the service around a key change: called with the change's result *inside* the change's transaction,
# so the key change and its audit record commit together or not at all (docs/crypto-service.md "Audit").
CHANGE_JOURNAL: ContextVar[Callable[[Any], None] | None] = ContextVar("xzgov_cryptosvc_change_journal",
                                                                     default=None)

SCHEMA = """
CREATE TABLE IF NOT EXISTS cryptosvc_keys (
    id text PRIMARY KEY,
    tenant text NOT NULL,
    request_id text,
    created text NOT NULL,
    record jsonb NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS cryptosvc_keys_request ON cryptosvc_keys (tenant, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS cryptosvc_keys_tenant ON cryptosvc_keys (tenant, created, id);
CREATE TABLE IF NOT EXISTS cryptosvc_audit (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    hash text NOT NULL,
    line text NOT NULL
);
CREATE TABLE IF NOT EXISTS cryptosvc_audit_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL,
    hash text NOT NULL,
    since_checkpoint integer NOT NULL
);
CREATE TABLE IF NOT EXISTS cryptosvc_nonces (
    system text NOT NULL,
    nonce text NOT NULL,
    expires bigint NOT NULL,
    PRIMARY KEY (system, nonce)
);
CREATE INDEX IF NOT EXISTS cryptosvc_nonces_expires ON cryptosvc_nonces (expires);
INSERT INTO cryptosvc_audit_head (one, seq, hash, since_checkpoint) VALUES (true, 0, '""" + GENESIS + """', 0)
    ON CONFLICT DO NOTHING;
"""


#: Errors the other host would give as well (a statement, a value or a privilege the database refuses): a defect to
#: report, not an outage — a 503 sent every client round the two hosts until its failover time ran out.
_NOT_RETRIED = (psycopg.ProgrammingError, psycopg.DataError, psycopg.NotSupportedError)


def _unavailable(error: psycopg.Error) -> ServiceError:
    """The caller's view of a database failure: 503 with a code a client retries on the other host, or 500 when
    retrying cannot help (:data:`_NOT_RETRIED`)."""
    if isinstance(error, pgerrors.ReadOnlySqlTransaction):
        return ServiceError(503, "database_read_only", "this host's database is a standby (not promoted yet); "
                                                       "use the other crypto-service host")
    if isinstance(error, _NOT_RETRIED):
        return ServiceError(500, "database_error", "the key database refused the operation (a defect of the "
                                                   "service: report it with the time of the request); not retried")
    return ServiceError(503, "database_unavailable", "the key database is unavailable; retry on the other host")


COMMITS_SYNCHRONOUS = "synchronous"
COMMITS_BLOCKED = "blocked: synchronous standby missing"
COMMITS_LOCAL = "local only: no synchronous standby configured"


@dataclass(frozen=True)
class ReplicationState:
    """What the health endpoint and the commit gate need to know about this host's database.

    ``senders`` counts the WAL senders (connected standbys; visible to any role, unlike their details).
    A primary with ``synchronous_standby_names`` set and no standby connected cannot commit: every write
    waits (docs/crypto-service.md "Loss of the standby")."""

    standby: bool
    synchronous_names: str
    senders: int

    @property
    def role(self) -> str:
        return "standby" if self.standby else "primary"

    @property
    def commits(self) -> str:
        if self.standby:
            return "read-only: standby"
        if not self.synchronous_names:
            return COMMITS_LOCAL
        return COMMITS_SYNCHRONOUS if self.senders > 0 else COMMITS_BLOCKED

    @property
    def blocked(self) -> bool:
        return self.commits == COMMITS_BLOCKED


class Database:
    """One connection to PostgreSQL, shared by the store and the audit log (one transaction at a time).

    The service runs its handlers on one event loop, so one connection serialises nothing that was
    parallel. A broken connection is dropped and reopened on the next request."""

    def __init__(self, dsn: str, connect_timeout: int = 5, lock_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.lock_timeout = lock_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()
        self._depth = 0  # open transactions of the thread holding the lock (nested ones are savepoints)
        self._after_commit: list[Callable[[], None]] = []

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, connect_timeout=self.connect_timeout, autocommit=True,
                                         application_name="xzgov-cryptosvc")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in one transaction: committed on success, rolled back on any error (503 to the caller).

        Waits at most ``lock_timeout`` seconds for the connection (another transaction may be held in its
        commit, waiting for a synchronous standby that is gone): 503 ``database_busy`` then, nothing done."""
        if not self._lock.acquire(timeout=self.lock_timeout):
            raise ServiceError(503, "database_busy", "the key database connection is busy (a commit is waiting "
                                                     "for the synchronous standby); retry")
        self._depth += 1
        committed = False
        try:
            try:
                conn = self._connection()
                with conn.transaction(), conn.cursor() as cursor:
                    yield cursor
                committed = True
            except psycopg.Error as error:
                # the first line of the server's message: what failed, never a parameter value
                DB_LOGGER.warning("database: %s: %s", type(error).__name__, (str(error).splitlines() or [""])[0])
                if isinstance(error, psycopg.OperationalError) or self._conn is None or self._conn.broken:
                    self.close()
                raise _unavailable(error) from error
        finally:
            self._depth -= 1
            callbacks: list[Callable[[], None]] = []
            if self._depth == 0:
                callbacks, self._after_commit = (self._after_commit if committed else []), []
            self._lock.release()
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the outermost open transaction of this thread commits (dropped on rollback);
        at once when none is open."""
        if self._depth == 0:
            callback()
        else:
            self._after_commit.append(callback)

    def create_schema(self) -> None:
        with self.transaction() as cursor:
            # committed locally: at the first deployment the standby may not be cloned yet, and a synchronous
            # commit would hold the service's start-up until it is (or for ever); the statements are idempotent
            # and run again by whichever host serves as primary
            cursor.execute("SET LOCAL synchronous_commit = local")
            cursor.execute(SCHEMA)

    def role(self) -> str:
        """``primary`` (writable), ``standby`` (in recovery) — 503 when unreachable."""
        with self.transaction() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            row = cursor.fetchone()
        return "standby" if row and row[0] else "primary"

    def replication(self) -> ReplicationState:
        """This host's database role and whether a commit can complete now (see :class:`ReplicationState`)."""
        with self.transaction() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names'), "
                           "(SELECT count(*) FROM pg_stat_replication)")
            row = cursor.fetchone()
        assert row is not None
        return ReplicationState(standby=bool(row[0]), synchronous_names=str(row[1]).strip(), senders=int(row[2]))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None


class PgKeyStore(KeyStore):
    """:class:`.keystore.KeyStore` with its records in ``cryptosvc_keys`` (same records, same checks)."""

    def __init__(self, database: Database, master_key: bytes) -> None:
        if len(master_key) != sm4.KEY_SIZE:
            raise ValueError("the master key is a 128-bit SM4 key")
        self.db = database
        self._master = master_key
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], Any] = {}

    def _snapshot(self, tenant: str | None = None, key_id: str | None = None) -> dict[str, Any]:
        with self.db.transaction() as cursor:
            if key_id is not None:
                cursor.execute("SELECT record FROM cryptosvc_keys WHERE id = %s", (key_id,))
            elif tenant:
                cursor.execute("SELECT record FROM cryptosvc_keys WHERE tenant = %s ORDER BY created, id", (tenant,))
            else:
                cursor.execute("SELECT record FROM cryptosvc_keys WHERE false")
            rows = cursor.fetchall()
        return {"format": FORMAT, "version": 1, "keys": {row[0]["id"]: row[0] for row in rows}}

    def _mutate(self, change: Any, key_id: str = "", request: tuple[str, str] | None = None) -> Any:
        with self.db.transaction() as cursor:
            if request is not None:
                tenant, request_id = request
                lock = zlib.crc32(f"{tenant}\0{request_id}".encode())
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", (0x78A0, lock - (1 << 31)))
                cursor.execute("SELECT record FROM cryptosvc_keys WHERE (tenant = %s AND request_id = %s) "
                               "OR id = %s FOR UPDATE", (tenant, request_id, key_id))
            else:
                cursor.execute("SELECT record FROM cryptosvc_keys WHERE id = %s FOR UPDATE", (key_id,))
            records: dict[str, Any] = {row[0]["id"]: row[0] for row in cursor.fetchall()}
            data: dict[str, Any] = {"format": FORMAT, "version": 1, "keys": records}
            before = json.dumps(data["keys"], sort_keys=True)
            result = change(data)
            if json.dumps(data["keys"], sort_keys=True) != before:
                for record in data["keys"].values():
                    cursor.execute(
                        "INSERT INTO cryptosvc_keys (id, tenant, request_id, created, record) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                        (record["id"], record["tenant"], record.get("request_id"), record["created"],
                         Jsonb(record)))
            journal = CHANGE_JOURNAL.get()
            if journal is not None:  # the audit record, in this transaction: no change commits without it
                journal(result)
            return result


class PgAuditLog:
    """:class:`.audit.AuditLog` with the chain in ``cryptosvc_audit`` (same lines, same checkpoints).

    The ``start`` record is written with the first append that succeeds, so a service on a standby
    opens without writing and starts its chain segment when its database is promoted."""

    def __init__(self, database: Database, signing_key: sm2.SM2PrivateKey, checkpoint_every: int = 100) -> None:
        self.db = database
        self._key = signing_key
        self._fingerprint = keys.fingerprint(signing_key.public_key)
        self._every = checkpoint_every
        self._started = False
        self._closed = False
        self._append_lock = threading.Lock()  # one append at a time in this process: one start record

    def _write(self, cursor: psycopg.Cursor[Any], head: list[Any], record: dict[str, Any]) -> dict[str, Any]:
        seq, prev = head[0], head[1]
        record["seq"] = seq + 1
        record["prev"] = prev
        record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if record.get("type") == "checkpoint":
            record["head"] = prev
            record["signer"] = self._fingerprint
            record["signature"] = base64.b64encode(sm2.sign(self._key, _signed_part(record))).decode("ascii")
            head[2] = 0
        else:
            head[2] += 1
        record["hash"] = record_hash(record)
        cursor.execute("INSERT INTO cryptosvc_audit (seq, hash, line) VALUES (%s, %s, %s)",
                       (record["seq"], record["hash"], canonical(record).decode("utf-8")))
        head[0], head[1] = record["seq"], record["hash"]
        return record

    def _append(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append in a transaction of its own — or, inside a key change's open transaction (same thread),
        in that one: the records then commit with the change or not at all. Lock order: the database
        connection first, then this log's append lock (a key change already holds the connection)."""
        written: list[dict[str, Any]] = []
        with self.db.transaction() as cursor, self._append_lock:
            cursor.execute("SELECT seq, hash, since_checkpoint FROM cryptosvc_audit_head FOR UPDATE")
            row = cursor.fetchone()
            if row is None:
                raise AuditError("cryptosvc_audit_head is empty: the schema was not created")
            head: list[Any] = [int(row[0]), str(row[1]), int(row[2])]
            # the start record signed at once, as the file log does (a chain without a checkpoint is broken)
            pending = ([{"type": "start", "signer": self._fingerprint, "resumed_seq": head[0],
                         "resumed_head": head[1], "pid": os.getpid(), "process_start": PROCESS_START},
                        {"type": "checkpoint"}]
                       if not self._started else [])
            for record in pending + records:
                written.append(self._write(cursor, head, dict(record)))
                if head[2] >= self._every:
                    written.append(self._write(cursor, head, {"type": "checkpoint"}))
            cursor.execute("UPDATE cryptosvc_audit_head SET seq = %s, hash = %s, since_checkpoint = %s",
                           (head[0], head[1], head[2]))

            def committed() -> None:
                self._started = True
                for record in written:  # the journal copy (→ the log centre), once the records are committed
                    LOGGER.info("%s", canonical(record).decode("utf-8"))

            self.db.after_commit(committed)
        return written

    @property
    def broken(self) -> str:
        """Never latched: a failed append is rolled back with its transaction."""
        return ""

    def append(self, record: dict[str, Any], durable: bool = True) -> dict[str, Any]:
        """Append one record (and a checkpoint if due); committed on the standby before this returns (every
        record is durable here: ``durable`` is for the file log's interface)."""
        written = self._append([record])
        return next(r for r in written if r.get("type") == record.get("type"))

    def checkpoint(self) -> dict[str, Any]:
        return self._append([{"type": "checkpoint"}])[-1]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._started:
            # the database may have gone first (a failover): the chain stays verifiable without the stop line
            with contextlib.suppress(AuditError, ServiceError):
                self._append([{"type": "stop"}, {"type": "checkpoint"}])


class PgNonceStore:
    """The replay-nonce cache in ``cryptosvc_nonces``, shared by every worker of both hosts.

    :meth:`add` inserts ``(system, nonce, expires)`` in one transaction, committed (and, with
    ``synchronous_commit = remote_apply``, applied on the standby) before the operation runs: a request
    replayed to any worker or to the other host afterwards finds the row and is refused. A row whose
    expiry has passed may be taken over (its timestamp can no longer be accepted, so it is no replay).
    Expired rows are purged in the same transaction every ``purge_every`` inserts. On a standby the
    insert fails read-only: 503 ``database_read_only`` (the client retries on the other host)."""

    def __init__(self, database: Database, purge_every: int = 1000) -> None:
        self.db = database
        self._purge_every = purge_every
        self._count = 0
        self._lock = threading.Lock()

    def add(self, system: str, nonce: str, expires: float, now: float) -> bool:
        with self._lock:
            self._count += 1
            purge = self._count >= self._purge_every
            if purge:
                self._count = 0
        with self.db.transaction() as cursor:
            if purge:
                cursor.execute("DELETE FROM cryptosvc_nonces WHERE expires <= %s", (int(now),))
            cursor.execute(
                "INSERT INTO cryptosvc_nonces (system, nonce, expires) VALUES (%s, %s, %s) "
                "ON CONFLICT (system, nonce) DO UPDATE SET expires = EXCLUDED.expires "
                "WHERE cryptosvc_nonces.expires <= %s",
                (system, nonce, int(expires), int(now)))
            return cursor.rowcount == 1

    def purge(self, now: float) -> int:
        """Delete the expired rows now; the number deleted."""
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM cryptosvc_nonces WHERE expires <= %s", (int(now),))
            return cursor.rowcount


def export_lines(database: Database) -> list[bytes]:
    """The audit chain as the file backend would have written it (one canonical JSON line per record)."""
    with database.transaction() as cursor:
        cursor.execute("SELECT line FROM cryptosvc_audit ORDER BY seq")
        return [str(row[0]).encode("utf-8") for row in cursor.fetchall()]

"""The ASGI application of the crypto service (FastAPI; the OpenAPI description is not served — ``xzgov
cryptosvc openapi`` prints it — and there is no ``/docs``).

``create_app(config)`` builds it; ``python -m xzgov.cryptosvc --config FILE`` serves it with uvicorn.
Every request except ``/health`` must be signed (:mod:`.auth`); the body is read (at most
``max_body_bytes``: 413 from Content-Length before reading, or while reading; within
``body_timeout_seconds``: 408 beyond) and authenticated before FastAPI parses it, so an unauthenticated
caller learns nothing about the schema. At most ``limit_concurrency`` requests are in progress (503
``busy`` beyond). Failed authentications are audited (``type: auth``), at most
``audit_auth_failures_per_minute`` per client address (then one ``auth-summary`` record). Errors are
``{"error": {"code": "...", "message": "..."}}`` with a 4xx status (5xx only when the service itself
fails). Every operation — succeeded or refused after authentication — is appended to the audit chain.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import functools
import json
import logging
import re
import secrets
import struct
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from xzgov.crypto import keys, sm2, sm4
from xzgov.crypto.b64 import strict_b64decode
from xzgov.crypto.sm3 import hmac_sm3, hmac_sm3_verify, sm3
from xzgov.cryptosvc.audit import AuditError, AuditLog
from xzgov.cryptosvc.auth import H_NONCE, H_SYSTEM, Authenticator, NonceCache
from xzgov.cryptosvc.config import ServiceConfig, System, is_system_name
from xzgov.cryptosvc.errors import ServiceError, bad_request, not_found
from xzgov.cryptosvc.keystore import KeyStore
from xzgov.cryptosvc.pgstore import (
    CHANGE_JOURNAL,
    Database,
    PgAuditLog,
    PgKeyStore,
    PgNonceStore,
    ReplicationState,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/health"})
ENVELOPE_MAGIC = b"XZE1"
MAX_UID = 1024
MAX_SM2_PLAINTEXT = 64 * 1024
MAX_RANDOM = 4096
REPLICATION_PROBE_SECONDS = 2.0
CONTENT_LENGTH = re.compile(r"^[0-9]{1,20}\Z")
# operations that change the key store: audited before they are made (files: an fsynced intent record;
# postgresql: the record in the change's own transaction) — no key change without its audit record
KEY_CHANGES = frozenset({"admin.create", "admin.rotate", "admin.disable", "admin.enable", "admin.destroy",
                         "admin.usage-sign", "admin.usage-encrypt"})
AUTH_FAILURE_WINDOW = 60.0
AUTH_FAILURE_SOURCES = 10_000  # client addresses tracked at once (the oldest are forgotten beyond)
AUTH_FAILURE_GLOBAL_FACTOR = 20  # all addresses together: at most this many times the per-address limit


# ---------------------------------------------------------------------------------------- models


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable error code")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


B64 = Field(description="base64 (standard alphabet, padded, canonical: unused bits zero)",
            max_length=(64 << 20) // 3 * 4)


class SignRequest(BaseModel):
    key_id: str = Field(max_length=64)
    data: str = B64
    uid: str = Field("1234567812345678", max_length=MAX_UID, description="distinguishing ID (GM/T 0009)")


class SignDigestRequest(BaseModel):
    key_id: str = Field(max_length=64)
    digest: str = Field(description="e = SM3(Z || M), 64 hex digits", pattern=r"^[0-9a-fA-F]{64}$")


class SignResponse(BaseModel):
    key_id: str
    key_version: int
    signature: str = Field(description="base64 DER SEQUENCE {r, s}")


class VerifyRequest(BaseModel):
    key_id: str = Field(max_length=64)
    key_version: int | None = Field(None, ge=1, description="default: the current version")
    data: str = B64
    signature: str = Field(max_length=200)
    uid: str = Field("1234567812345678", max_length=MAX_UID)


class VerifyDigestRequest(BaseModel):
    key_id: str = Field(max_length=64)
    key_version: int | None = Field(None, ge=1)
    digest: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    signature: str = Field(max_length=200)


class VerifyResponse(BaseModel):
    valid: bool


class EncryptRequest(BaseModel):
    key_id: str = Field(max_length=64)
    plaintext: str = B64
    aad: str = Field("", max_length=8192, description="base64 associated data (SM4 only)")


class SM2EncryptResponse(BaseModel):
    key_id: str
    key_version: int
    ciphertext: str = Field(description="base64 GM/T 0009 SEQUENCE {x, y, C3, C2}")


class SM2DecryptRequest(BaseModel):
    key_id: str = Field(max_length=64)
    key_version: int | None = Field(None, ge=1)
    ciphertext: str = B64


class SM4EncryptResponse(BaseModel):
    key_id: str
    key_version: int
    envelope: str = Field(description="base64 envelope: header, wrapped data key, SM4-GCM ciphertext")


class SM4DecryptRequest(BaseModel):
    envelope: str = B64
    aad: str = Field("", max_length=8192)


class PlaintextResponse(BaseModel):
    plaintext: str


class DigestRequest(BaseModel):
    data: str = B64


class DigestResponse(BaseModel):
    digest: str = Field(description="hex")


class HmacRequest(BaseModel):
    key_id: str = Field(max_length=64)
    data: str = B64


class HmacResponse(BaseModel):
    key_id: str
    key_version: int
    mac: str = Field(description="hex HMAC-SM3")


class HmacVerifyRequest(BaseModel):
    key_id: str = Field(max_length=64)
    key_version: int | None = Field(None, ge=1)
    data: str = B64
    mac: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class RandomResponse(BaseModel):
    random: str = Field(description="base64")


class CreateKeyRequest(BaseModel):
    type: Literal["sm2", "sm4", "hmac-sm3"]
    usage: Literal["sign", "encrypt"] | None = Field(
        None, description="sm2 only, fixed for good: sign (sign/verify; the default) or encrypt (SM2 "
                          "encryption/decryption) — separate signing and encryption key pairs (GB/T 39786)")
    label: str = Field("", max_length=200)
    request_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{16,64}$",
                                   description="chosen by the caller, new per intended key: a retried create with "
                                               "the same id returns the key the first attempt made")


class KeyResponse(BaseModel):
    key_id: str
    tenant: str
    type: str
    label: str
    state: str
    current_version: int
    versions: list[int]
    created: str
    public_key: str | None = Field(None, description="PEM SubjectPublicKeyInfo (sm2 keys only)")
    usage: str | None = Field(None, description="sm2 keys only: sign or encrypt")


class KeyListResponse(BaseModel):
    keys: list[KeyResponse]


class PublicKeyResponse(BaseModel):
    key_id: str
    key_version: int
    public_key: str
    fingerprint: str


class CheckpointResponse(BaseModel):
    seq: int
    head: str


class HealthResponse(BaseModel):
    status: str = Field(description="ok (serving), standby (database not promoted: operations answer 503) or "
                                    "blocked (commits wait for a synchronous standby that is missing: operations "
                                    "answer 503 commits_blocked until it returns or an operator degrades)")
    engine: str
    database: str | None = Field(None, description="postgresql backend: primary or standby")
    commits: str | None = Field(None, description="postgresql backend: synchronous | blocked: synchronous standby "
                                                  "missing | local only: no synchronous standby configured | "
                                                  "read-only: standby")


# ---------------------------------------------------------------------------------------- helpers


def b64(text: str, field: str) -> bytes:
    """Strict base64 (standard alphabet, padded, canonical): one text per value, as the bundle verifier
    requires. Non-canonical text (``ZGt=`` for ``ZGs=``: altered spare bits) is 400 ``invalid_base64``."""
    try:
        return strict_b64decode(text)
    except ValueError as error:
        if "canonical" in str(error):
            raise bad_request("invalid_base64", f"{field} is not canonical base64 (altered padding or spare bits)") \
                from None
        raise bad_request("invalid_base64", f"{field} is not valid base64") from None


def enc(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def uid_bytes(uid: str) -> bytes:
    data = uid.encode("utf-8")
    if len(data) > MAX_UID:
        raise bad_request("invalid_uid", f"uid longer than {MAX_UID} bytes")
    return data


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 403, 404, 409, 410, 413, 422)
}


class Service:
    """State shared by the handlers."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.database: Database | None = None
        if config.backend == "postgresql":
            self.database = Database(config.database_dsn)
            self.store: KeyStore = PgKeyStore(self.database, config.master_key)
        else:
            self.store = KeyStore(config.keystore_path, config.master_key)
        # replay nonces: in the database (shared by every worker of both hosts) or, files, in this process —
        # refilled from the audit chain, so that a restart does not open a replay window
        if self.database is not None:
            nonces: PgNonceStore | NonceCache = PgNonceStore(self.database)
        else:
            cache = NonceCache(config.nonce_cache_per_system)
            for system, nonce, expires in reversed(nonces_from_audit(config.audit_path, config.clock_skew_seconds)):
                cache.preload(system, nonce, expires)  # oldest first: the cache purges from its front
            nonces = cache
        self.auth = Authenticator(config.systems, config.clock_skew_seconds, config.nonce_cache_per_system, nonces)
        self.auth_failures = FailureLimiter(config.audit_auth_failures_per_minute)
        self.audit: AuditLog | PgAuditLog | None = None
        # postgresql: the replication state, probed on a connection of its own (never behind a waiting commit)
        self.replication: ReplicationState | None = None
        self._probe_db = Database(config.database_dsn, lock_timeout=10.0) if self.database is not None else None
        self._probe_stop = threading.Event()
        self._probe_thread: threading.Thread | None = None
        self._database_prepared = False

    def probe_replication(self) -> ReplicationState | None:
        """Refresh :attr:`replication` now (None when the database does not answer)."""
        if self._probe_db is None:
            return None
        try:
            self.replication = self._probe_db.replication()
        except ServiceError:
            self.replication = None
        return self.replication

    def commits_blocked(self) -> bool:
        return self.replication is not None and self.replication.blocked

    def start_probe(self) -> None:
        if self._probe_db is None or self._probe_thread is not None:
            return
        self.probe_replication()

        def loop() -> None:
            while not self._probe_stop.wait(REPLICATION_PROBE_SECONDS):
                before = self.commits_blocked()
                self.probe_replication()
                if self.commits_blocked() != before:
                    DB_STATE_LOGGER.warning("commits %s", "unblocked" if before else
                                            "BLOCKED: synchronous standby missing (提交阻塞：同步备库缺失)")

        self._probe_thread = threading.Thread(target=loop, name="xzgov-cryptosvc-replication-probe", daemon=True)
        self._probe_thread.start()

    def stop_probe(self) -> None:
        self._probe_stop.set()
        if self._probe_thread is not None:
            self._probe_thread.join(timeout=REPLICATION_PROBE_SECONDS + 12)
            self._probe_thread = None
        if self._probe_db is not None:
            self._probe_db.close()

    def open_audit(self) -> AuditLog | PgAuditLog:
        if self.audit is None:
            if self.database is not None:
                self.audit = PgAuditLog(self.database, self.config.signing_key, self.config.checkpoint_every)
            else:
                self.audit = AuditLog(self.config.audit_path, self.config.signing_key, self.config.checkpoint_every)
        return self.audit

    def prepare_database(self) -> None:
        """The PostgreSQL backend's start-up, once: the schema on a primary (idempotent; a standby has it by
        replication). ``python -m xzgov.cryptosvc`` runs it before serving, so a database that does not answer
        at start is one error line and exit 3, not a traceback of uvicorn's start-up."""
        if self.database is None or self._database_prepared:
            return
        if self.database_role() == "primary":
            self.database.create_schema()
        self._database_prepared = True

    def database_role(self) -> str | None:
        """``primary``/``standby`` for the PostgreSQL backend (503 when unreachable); None for files."""
        return None if self.database is None else self.database.role()

    def record(self, request: Request, op: str, outcome: str = "ok", code: str = "", *, durable: bool = False,
               **extra: Any) -> None:
        system: System | None = getattr(request.state, "system", None)
        entry: dict[str, Any] = {"type": "op", "op": op, "outcome": outcome,
                                 "system": system.name if system else "", "role": system.role if system else "",
                                 "nonce": getattr(request.state, "nonce", ""),
                                 "client": client_address(request.scope)}
        if code:
            entry["code"] = code
        entry.update({k: v for k, v in extra.items() if v is not None})
        try:
            self.open_audit().append(entry, durable=durable)
        except (AuditError, OSError) as error:
            raise ServiceError(503, "audit_unavailable", "the audit log cannot be written") from error

    def refusal_records(self, scope: Scope, code: str, now: float | None = None) -> list[dict[str, Any]]:
        """The audit records for a request refused before it was authenticated (401, 408, 413, 503 busy):
        outcome, code, the claimed system (when it is a well-formed name), the client address, method and
        path — never the signature, nonce, body or another header. Rate-limited per client address
        (:class:`FailureLimiter`): an attacker cannot flood the chain — usually none."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        claimed = headers.get(H_SYSTEM, "")
        client = client_address(scope)
        entry = {"type": "auth", "outcome": "refused", "code": code,
                 "system": claimed if is_system_name(claimed) else ("(malformed)" if claimed else ""),
                 "known_system": claimed in self.config.systems, "client": client,
                 "method": str(scope.get("method", ""))[:16], "path": str(scope.get("path", ""))[:200]}
        return self.auth_failures.admit(client, entry, time.monotonic() if now is None else now)

    def write_refusals(self, records: list[dict[str, Any]]) -> None:
        """Append :meth:`refusal_records`; a failure is logged, never fails the (already refused) request."""
        for record in records:
            try:
                self.open_audit().append(record)
            except (AuditError, OSError, ServiceError) as error:
                SERVICE_LOGGER.error("refused request not audited: %s", error)
                return


def client_address(scope: Scope) -> str:
    """The peer's address as the server saw it (behind a proxy: the proxy's, unless uvicorn is told to
    trust its forwarded headers)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


class FailureLimiter:
    """At most ``per_source`` audit records of refused requests per client address per minute (and at most
    :data:`AUTH_FAILURE_GLOBAL_FACTOR` times that from all addresses together); the rest are counted and
    reported by one ``auth-summary`` record (``suppressed``: how many, ``since``) with the next refusal after
    the minute."""

    def __init__(self, per_source: int, window: float = AUTH_FAILURE_WINDOW,
                 max_sources: int = AUTH_FAILURE_SOURCES) -> None:
        self.per_source = per_source
        self.window = window
        self.max_sources = max_sources
        self._sources: dict[str, list[float]] = {}  # address -> [window start, count]
        self._global = [0.0, 0.0, 0.0]  # window start, records written, suppressed (over the global cap)
        self._lock = threading.Lock()

    def admit(self, source: str, entry: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """The records to append for one refusal: none, the refusal, or a summary and the refusal."""
        out: list[dict[str, Any]] = []
        with self._lock:
            glob = self._global
            if now - glob[0] >= self.window:
                if glob[2]:
                    out.append({"type": "auth-summary", "client": "*", "suppressed": int(glob[2]),
                                "window_seconds": int(self.window)})
                self._global = glob = [now, 0.0, 0.0]
            state = self._sources.get(source)
            if state is None or now - state[0] >= self.window:
                if state is not None and state[1] > self.per_source:
                    out.append({"type": "auth-summary", "client": source,
                                "suppressed": int(state[1] - self.per_source), "window_seconds": int(self.window)})
                self._sources.pop(source, None)
                if len(self._sources) >= self.max_sources:
                    self._sources.pop(next(iter(self._sources)))
                state = self._sources[source] = [now, 0.0]
            state[1] += 1
            if state[1] > self.per_source:
                return out
            if glob[1] >= self.per_source * AUTH_FAILURE_GLOBAL_FACTOR:
                glob[2] += 1
                return out
            glob[1] += 1
            record = dict(entry)
            if state[1] == self.per_source:
                record["limit_reached"] = True  # further refusals from here this minute: counted, then summed up
            out.append(record)
            return out


def _audit_time(text: object) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ")))
    except (ValueError, OverflowError):
        return None


def nonces_from_audit(path: Path, skew: int, now: float | None = None) -> list[tuple[str, str, float]]:
    """``(system, nonce, expires)`` of the requests audited within the replay window before ``now``.

    A request is accepted with a timestamp within ±skew of the service clock and its nonce is kept until
    timestamp + 2·skew, so a record written at ``t`` covers a nonce that may be replayable until t + 3·skew:
    every ``op`` record newer than now − 3·skew is read (from the end of the file backwards) and kept until
    its time + 3·skew."""
    now = time.time() if now is None else now
    window = 3 * skew
    cutoff = now - window
    found: list[tuple[str, str, float]] = []
    try:
        handle = open(path, "rb")  # noqa: SIM115 - read backwards in blocks
    except OSError:  # none yet; or unreadable — then opening the audit log refuses the start (exit 3)
        return found
    with handle:
        position = handle.seek(0, 2)
        carry = b""
        while position > 0:
            step = min(1 << 20, position)
            position -= step
            handle.seek(position)
            lines = (handle.read(step) + carry).split(b"\n")
            carry = lines.pop(0) if position > 0 else b""
            for raw in reversed(lines):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(record, dict):
                    continue
                stamp = _audit_time(record.get("time"))
                if stamp is None:
                    continue
                if stamp < cutoff:
                    return found
                system, nonce = record.get("system"), record.get("nonce")
                if record.get("type") == "op" and isinstance(system, str) and isinstance(nonce, str) and nonce:
                    found.append((system, nonce, stamp + window))
    return found


DB_STATE_LOGGER = logging.getLogger("xzgov.cryptosvc.db")
SERVICE_LOGGER = logging.getLogger("xzgov.cryptosvc")
COMMITS_BLOCKED_MESSAGE = ("提交被阻塞：同步备库缺失 / commits blocked: synchronous standby missing — retry later or "
                           "on the other host; an operator may degrade (docs/crypto-service.md \"Loss of the "
                           "standby\")")


def _tenant(request: Request) -> str:
    system: System = request.state.system
    if system.role != "tenant":
        raise ServiceError(403, "forbidden", "administrators manage keys; they cannot use tenant keys")
    return system.name


def _admin(request: Request, service: Service, tenant: str | None = None) -> None:
    system: System = request.state.system
    if system.role != "admin":
        raise ServiceError(403, "forbidden", "this operation needs the admin role")
    if tenant is not None:
        known = service.config.systems.get(tenant)
        if known is None or known.role != "tenant":
            raise not_found("unknown_tenant", f"no tenant system {tenant!r}")


def _key_response(info: Any) -> KeyResponse:
    return KeyResponse(**info.to_json())


# ---------------------------------------------------------------------------------------- middleware


class SignedRequests:
    """Pure ASGI middleware: concurrency limit (503), size limit (413), body deadline (408), then HMAC-SM3
    authentication (401), then the app. Every refusal here is audited (rate-limited: :class:`FailureLimiter`)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.active = 0  # requests in progress (one event loop: no lock needed)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str,
                      *, close: bool = False) -> None:
        records = self.service.refusal_records(scope, code)
        if records and self.service.database is None:
            self.service.write_refusals(records)
        elif records:  # a database write: off the event loop
            await asyncio.to_thread(self.service.write_refusals, records)
        response = _error(status, code, message)
        if close:  # the body was not read: the connection cannot carry another request
            response.headers["connection"] = "close"
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if self.active >= self.service.config.limit_concurrency:
            await self._refuse(scope, receive, send, 503, "busy", "too many requests in progress; retry later",
                               close=True)
            return
        self.active += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            self.active -= 1

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The body, or None if it is over ``limit`` (the rest is not read); ``TimeoutError`` past the
        deadline, ``ConnectionResetError`` if the client went away."""
        chunks: list[bytes] = []
        size = 0
        more = True
        async with asyncio.timeout(self.service.config.body_timeout_seconds):
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ConnectionResetError
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
                more = message.get("more_body", False)
        return b"".join(chunks)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.service.config.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        named = [k.decode("latin-1").lower() for k, _ in scope["headers"]]
        repeated = sorted({name for name in named if name.startswith("x-xzgov-") and named.count(name) > 1})
        if repeated:
            # The signature covers one value of each; a proxy's extra copy would be the one another reader takes
            # (the audit record's nonce was the first, authentication the last): refused, never picked.
            await self._refuse(scope, receive, send, 401, "duplicate_header",
                               f"header given more than once: {', '.join(repeated)}", close=True)
            return
        declared = headers.get("content-length", "")
        too_large = f"request body over {limit} bytes"
        if CONTENT_LENGTH.match(declared) and int(declared) > limit:  # str.isdigit() is true for '²' too
            await self._refuse(scope, receive, send, 413, "payload_too_large", too_large, close=True)
            return
        try:
            read = await self._read_body(receive, limit)
        except TimeoutError:
            await self._refuse(scope, receive, send, 408, "request_timeout",
                               f"the body did not arrive within {self.service.config.body_timeout_seconds} s",
                               close=True)
            return
        except ConnectionResetError:
            return
        if read is None:
            await self._refuse(scope, receive, send, 413, "payload_too_large", too_large, close=True)
            return
        body = read
        if self.service.commits_blocked():  # nothing can be audited (or a nonce kept): fail fast, not hang
            await _error(503, "commits_blocked", COMMITS_BLOCKED_MESSAGE)(scope, receive, send)
            return
        arguments = (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), headers, body)
        try:
            if self.service.database is None:
                system = self.service.auth.authenticate(*arguments)
            else:  # the nonce is a database write: off the event loop, which keeps answering /health
                system = await asyncio.to_thread(self.service.auth.authenticate, *arguments)
        except ServiceError as error:
            if error.code in ("database_unavailable", "database_read_only", "database_busy", "commits_blocked"):
                await _error(error.status, error.code, error.message)(scope, receive, send)
            else:
                await self._refuse(scope, receive, send, error.status, error.code, error.message)
            return
        state = scope.setdefault("state", {})
        state["system"] = system
        state["nonce"] = headers[H_NONCE]  # the nonce authentication kept: what the audit record names
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ---------------------------------------------------------------------------------------- the app


def create_app(config: ServiceConfig) -> FastAPI:
    service = Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        service.prepare_database()  # (done already when served by python -m xzgov.cryptosvc)
        service.open_audit()
        service.start_probe()
        yield
        service.stop_probe()
        if service.audit is not None:
            service.audit.close()

    app = FastAPI(
        title="xzgov 统一密码服务平台 (crypto service)",
        version="1",
        description="SM2 / SM3 / SM4 for the region's systems. Requests are signed with HMAC-SM3 "
                    "(headers X-Xzgov-System, -Timestamp, -Nonce, -Signature; see docs/crypto-service.md).",
        lifespan=lifespan,
        # not served: the module docstring's promise (an unauthenticated caller learns nothing of the
        # schema) and no Swagger UI from a CDN; `xzgov cryptosvc openapi` prints the description
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service

    def audited(op: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Run the handler; audit its outcome (ok, or the refusal code) with the key id and version it used
        (``request.state.key_id`` / ``key_version``, set by the handler) — nothing of the data.

        A key change (:data:`KEY_CHANGES`) is never made without its record: with the files an fsynced
        ``intent`` record is written first (if it cannot be, 503 ``audit_unavailable`` and nothing is changed),
        then the outcome (fsynced); with PostgreSQL the record is written in the change's own transaction."""

        def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(handler)
            async def inner(*args: Any, **kwargs: Any) -> Any:
                # run on the event loop: each operation is short (≤ ~1 ms), and a hand-off to a worker
                # thread cost more than the operation itself on a busy machine (see docs)
                request: Request = kwargs["request"]
                body = next((v for v in kwargs.values() if isinstance(v, BaseModel)), None)
                state = request.state
                state.key_id = getattr(body, "key_id", None) or kwargs.get("key_id")
                state.key_version = getattr(body, "key_version", None) or kwargs.get("version")
                tenant = kwargs.get("tenant") or (state.system.name if state.system.role == "tenant" else None)
                changes = op in KEY_CHANGES

                def where() -> dict[str, Any]:
                    return {"tenant": tenant, "key_id": state.key_id, "key_version": state.key_version}

                def learn(result: Any) -> None:
                    state.key_id = getattr(result, "key_id", None) or state.key_id
                    version = getattr(result, "key_version", None) or getattr(result, "current_version", None)
                    state.key_version = version or state.key_version

                journaled: list[bool] = []

                def journal(info: Any) -> None:  # postgresql: inside the key change's transaction
                    version = getattr(info, "current_version", None)
                    service.record(request, op, durable=True, **{**where(), "key_id": info.key_id,
                                                                  "key_version": version})
                    journaled.append(True)

                def run() -> Any:
                    if changes and service.database is None:
                        service.record(request, op, "intent", durable=True, **where())
                    token = CHANGE_JOURNAL.set(journal) if changes and service.database is not None else None
                    try:
                        result = handler(*args, **kwargs)
                    except ServiceError as error:
                        # a rolled-back change took its record with it: the refusal is recorded on its own
                        service.record(request, op, "refused", error.code, durable=changes, **where())
                        raise
                    finally:
                        if token is not None:
                            CHANGE_JOURNAL.reset(token)
                    learn(result)
                    if journaled or getattr(state, "audit_recorded", False):
                        return result
                    try:
                        service.record(request, op, durable=changes, **where())
                    except ServiceError as error:
                        if not changes:
                            raise  # not reported as done: its record is missing
                        raise ServiceError(503, "audit_incomplete",
                                           "the change was made and its intent is in the audit log, but its outcome "
                                           "could not be recorded; do not retry: read the key's state") from error
                    return result

                if service.database is None:
                    return run()
                # postgresql: database work off the event loop — a commit waiting for a lost synchronous
                # standby must not stop the loop answering /health and refusing new requests (503)
                return await asyncio.to_thread(run)

            inner.__dict__["audit_op"] = op  # tests walk the routes: every signed endpoint is audited
            return inner

        return wrap

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        if error.status >= 500 and error.__cause__ is not None:  # the caller gets the code; the operator the cause
            SERVICE_LOGGER.error("%s %s: %s: %s", request.method, request.url.path, error.code, error.__cause__)
        return _error(error.status, error.code, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals in the service's error shape: a body it cannot parse other than as a
        # schema error (JSON nested deeper than the parser goes: 400), an unknown path or method
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(error.status_code,
                                                                                        "http_error")
        message = str(error.detail)
        if message == "There was an error parsing the body":  # FastAPI's words for any parse failure
            message = "the body could not be parsed as JSON (nested too deeply?)"
        response = _error(error.status_code, code, message)
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                             for e in error.errors()[:5])
        return _error(422, "invalid_request", problems or "the request does not match the schema")

    @app.get("/health", response_model=HealthResponse, response_model_exclude_none=True, tags=["service"])
    async def health() -> HealthResponse:
        """Liveness: the key store is readable and the SM2 engine loaded (no authentication).

        With the PostgreSQL backend: ``database`` says whether this host's database is the primary; a
        standby answers 200 with status ``standby`` (the service is up, operations wait for promotion); a
        primary whose synchronous standby is missing answers 200 with status ``blocked`` and ``commits`` =
        ``blocked: synchronous standby missing`` (it cannot acknowledge a write: see the runbook)."""
        if service.database is None:
            if service.audit is not None and service.audit.broken:
                raise ServiceError(503, "audit_unavailable", "the audit log needs repair (see the service log)")
            service.store.list_keys("")
            return HealthResponse(status="ok", engine=sm2.ENGINE, database=None, commits=None)
        state = await asyncio.to_thread(service.probe_replication)
        if state is None:
            raise ServiceError(503, "database_unavailable", "the key database is unavailable")
        status = "standby" if state.standby else "blocked" if state.blocked else "ok"
        return HealthResponse(status=status, engine=sm2.ENGINE, database=state.role, commits=state.commits)

    def _material(request: Request, tenant: str, key_id: str, key_type: str,
                  version: int | None = None, usage: str | None = None) -> tuple[Any, int]:
        """The key for the operation; its id and version go to the audit record (refusals too). SM2
        operations name the usage they need (``sign`` or ``encrypt``): 409 ``key_usage`` otherwise."""
        request.state.key_id, request.state.key_version = key_id, version
        key, number = service.store.material(tenant, key_id, key_type, version, usage)
        request.state.key_version = number
        return key, number

    # ------------------------------------------------------------------ SM2

    @app.post("/v1/sm2/sign", response_model=SignResponse, responses=ERRORS, tags=["sm2"])
    @audited("sm2.sign")
    def sm2_sign(body: SignRequest, request: Request) -> SignResponse:
        """Sign data: SM2 with SM3, over SM3(Z(uid, public key) || data)."""
        key, version = _material(request, _tenant(request), body.key_id, "sm2", usage="sign")
        signature = sm2.sign(key, b64(body.data, "data"), uid=uid_bytes(body.uid))
        return SignResponse(key_id=body.key_id, key_version=version, signature=enc(signature))

    @app.post("/v1/sm2/sign-digest", response_model=SignResponse, responses=ERRORS, tags=["sm2"])
    @audited("sm2.sign-digest")
    def sm2_sign_digest(body: SignDigestRequest, request: Request) -> SignResponse:
        """Sign a digest e = SM3(Z || M) computed by the caller (GB/T 32918.2 §6.1 steps A1–A2)."""
        key, version = _material(request, _tenant(request), body.key_id, "sm2", usage="sign")
        r, s = sm2.sign_digest(key, bytes.fromhex(body.digest))
        return SignResponse(key_id=body.key_id, key_version=version, signature=enc(sm2.encode_signature(r, s)))

    def _public(request: Request, key_id: str, version: int | None,
                usage: str | None) -> tuple[sm2.SM2PublicKey, int]:
        key, number = _material(request, _tenant(request), key_id, "sm2", version, usage)
        return key.public_key, number

    def _decode_signature(text: str) -> tuple[int, int] | None:
        try:
            return sm2.decode_signature(b64(text, "signature"))
        except sm2.SM2Error:
            return None

    @app.post("/v1/sm2/verify", response_model=VerifyResponse, responses=ERRORS, tags=["sm2"])
    @audited("sm2.verify")
    def sm2_verify(body: VerifyRequest, request: Request) -> VerifyResponse:
        """Verify a signature over data with one of the tenant's SM2 keys (any version)."""
        public, _ = _public(request, body.key_id, body.key_version, "sign")
        signature = b64(body.signature, "signature")
        return VerifyResponse(valid=sm2.verify(public, b64(body.data, "data"), signature, uid=uid_bytes(body.uid)))

    @app.post("/v1/sm2/verify-digest", response_model=VerifyResponse, responses=ERRORS, tags=["sm2"])
    @audited("sm2.verify-digest")
    def sm2_verify_digest(body: VerifyDigestRequest, request: Request) -> VerifyResponse:
        """Verify a signature over a digest e = SM3(Z || M)."""
        public, _ = _public(request, body.key_id, body.key_version, "sign")
        decoded = _decode_signature(body.signature)
        valid = decoded is not None and sm2.verify_digest(public, bytes.fromhex(body.digest), *decoded)
        return VerifyResponse(valid=valid)

    @app.post("/v1/sm2/encrypt", response_model=SM2EncryptResponse, responses=ERRORS, tags=["sm2"])
    @audited("sm2.encrypt")
    def sm2_encrypt(body: EncryptRequest, request: Request) -> SM2EncryptResponse:
        """SM2 public-key encryption (GB/T 32918.4) of up to 64 KiB; for keys and small secrets."""
        plaintext = b64(body.plaintext, "plaintext")
        if not 1 <= len(plaintext) <= MAX_SM2_PLAINTEXT:
            raise bad_request("invalid_length", f"SM2 encrypts 1 to {MAX_SM2_PLAINTEXT} bytes; use /v1/sm4/encrypt")
        public, version = _public(request, body.key_id, None, "encrypt")
        return SM2EncryptResponse(key_id=body.key_id, key_version=version,
                                  ciphertext=enc(sm2.encrypt(public, plaintext)))

    @app.post("/v1/sm2/decrypt", response_model=PlaintextResponse, responses=ERRORS, tags=["sm2"])
    @audited("sm2.decrypt")
    def sm2_decrypt(body: SM2DecryptRequest, request: Request) -> PlaintextResponse:
        """SM2 decryption; C1 and C3 are checked (400 decryption_failed otherwise)."""
        key, _ = _material(request, _tenant(request), body.key_id, "sm2", body.key_version, "encrypt")
        try:
            return PlaintextResponse(plaintext=enc(sm2.decrypt(key, b64(body.ciphertext, "ciphertext"))))
        except sm2.SM2Error as error:
            raise bad_request("decryption_failed", "the ciphertext does not decrypt with this key") from error

    # ------------------------------------------------------------------ SM4 envelopes

    def _header(key_id: str, version: int) -> bytes:
        ident = key_id.encode("ascii")
        return ENVELOPE_MAGIC + bytes([len(ident)]) + ident + struct.pack(">I", version)

    @app.post("/v1/sm4/encrypt", response_model=SM4EncryptResponse, responses=ERRORS, tags=["sm4"])
    @audited("sm4.encrypt")
    def sm4_encrypt(body: EncryptRequest, request: Request) -> SM4EncryptResponse:
        """Envelope encryption: a fresh SM4 data key encrypts the data (SM4-GCM) and is itself wrapped
        (SM4-GCM) by the tenant key; both bound to the header (key id, version) and the tenant."""
        tenant = _tenant(request)
        tenant_key, version = _material(request, tenant, body.key_id, "sm4")
        plaintext, aad = b64(body.plaintext, "plaintext"), b64(body.aad, "aad")
        header = _header(body.key_id, version)
        data_key = sm4.generate_key()
        wrapped = sm4.gcm_encrypt(tenant_key, data_key, b"xzgov-cryptosvc/dk|" + tenant.encode() + b"|" + header)
        prefix = header + bytes([len(wrapped)]) + wrapped
        sealed = sm4.gcm_encrypt(data_key, plaintext, prefix + aad)
        return SM4EncryptResponse(key_id=body.key_id, key_version=version, envelope=enc(prefix + sealed))

    @app.post("/v1/sm4/decrypt", response_model=PlaintextResponse, responses=ERRORS, tags=["sm4"])
    @audited("sm4.decrypt")
    def sm4_decrypt(body: SM4DecryptRequest, request: Request) -> PlaintextResponse:
        """Open an envelope made by /v1/sm4/encrypt for this tenant."""
        tenant = _tenant(request)
        envelope, aad = b64(body.envelope, "envelope"), b64(body.aad, "aad")
        try:
            if envelope[:4] != ENVELOPE_MAGIC:
                raise ValueError("magic")
            length = envelope[4]
            key_id = envelope[5:5 + length].decode("ascii")
            (version,) = struct.unpack(">I", envelope[5 + length:9 + length])
            header = envelope[:9 + length]
            wrapped_length = envelope[9 + length]
            wrapped = envelope[10 + length:10 + length + wrapped_length]
            sealed = envelope[10 + length + wrapped_length:]
            if len(wrapped) != wrapped_length or not sealed:
                raise ValueError("short")
        except (ValueError, IndexError, struct.error, UnicodeDecodeError) as error:
            raise bad_request("malformed_envelope", "not an envelope made by /v1/sm4/encrypt") from error
        tenant_key, _ = _material(request, tenant, key_id, "sm4", version)
        try:
            data_key = sm4.gcm_decrypt(tenant_key, wrapped, b"xzgov-cryptosvc/dk|" + tenant.encode() + b"|" + header)
            plaintext = sm4.gcm_decrypt(data_key, sealed, envelope[:10 + length + wrapped_length] + aad)
        except (sm4.SM4AuthenticationError, ValueError) as error:
            raise bad_request("decryption_failed", "the envelope does not authenticate (altered, other aad "
                                                   "or other key)") from error
        return PlaintextResponse(plaintext=enc(plaintext))

    # ------------------------------------------------------------------ SM3, HMAC-SM3, random

    @app.post("/v1/sm3/digest", response_model=DigestResponse, responses=ERRORS, tags=["sm3"])
    @audited("sm3.digest")
    def sm3_digest(body: DigestRequest, request: Request) -> DigestResponse:
        """SM3 (GB/T 32905) of the data."""
        return DigestResponse(digest=sm3(b64(body.data, "data")).hex())

    @app.post("/v1/sm3/hmac", response_model=HmacResponse, responses=ERRORS, tags=["sm3"])
    @audited("sm3.hmac")
    def sm3_hmac(body: HmacRequest, request: Request) -> HmacResponse:
        """HMAC-SM3 with one of the tenant's hmac-sm3 keys (current version)."""
        key, version = _material(request, _tenant(request), body.key_id, "hmac-sm3")
        return HmacResponse(key_id=body.key_id, key_version=version, mac=hmac_sm3(key, b64(body.data, "data")).hex())

    @app.post("/v1/sm3/hmac-verify", response_model=VerifyResponse, responses=ERRORS, tags=["sm3"])
    @audited("sm3.hmac-verify")
    def sm3_hmac_verify(body: HmacVerifyRequest, request: Request) -> VerifyResponse:
        """Check an HMAC-SM3 tag in constant time."""
        key, _ = _material(request, _tenant(request), body.key_id, "hmac-sm3", body.key_version)
        return VerifyResponse(valid=hmac_sm3_verify(key, b64(body.data, "data"), bytes.fromhex(body.mac)))

    @app.get("/v1/random", response_model=RandomResponse, responses=ERRORS, tags=["random"])
    @audited("random")
    def random_bytes(request: Request, length: int = 32) -> RandomResponse:
        """``length`` (1–4096) random bytes from the operating system's CSPRNG."""
        if not 1 <= length <= MAX_RANDOM:
            raise bad_request("invalid_length", f"length must be 1 to {MAX_RANDOM}")
        return RandomResponse(random=enc(secrets.token_bytes(length)))

    # ------------------------------------------------------------------ keys (tenant view)

    @app.get("/v1/keys", response_model=KeyListResponse, responses=ERRORS, tags=["keys"])
    @audited("keys.list")
    def list_keys(request: Request) -> KeyListResponse:
        """The calling system's keys (no material; public keys of SM2 keys)."""
        return KeyListResponse(keys=[_key_response(i) for i in service.store.list_keys(_tenant(request))])

    @app.get("/v1/keys/{key_id}/public-key", response_model=PublicKeyResponse, responses=ERRORS, tags=["keys"])
    @audited("keys.public-key")
    def public_key(key_id: str, request: Request, version: int | None = None) -> PublicKeyResponse:
        """Export the public key (PEM) of one of the calling system's SM2 keys."""
        public, number = _public(request, key_id, version, None)  # either usage
        return PublicKeyResponse(key_id=key_id, key_version=number, public_key=keys.public_key_to_pem(public),
                                 fingerprint=keys.fingerprint(public))

    # ------------------------------------------------------------------ keys (admin)

    @app.post("/v1/admin/tenants/{tenant}/keys", response_model=KeyResponse, status_code=201, responses=ERRORS,
              tags=["admin"])
    @audited("admin.create")
    def admin_create(tenant: str, body: CreateKeyRequest, request: Request) -> KeyResponse:
        """Create a key for a tenant system (admin role)."""
        _admin(request, service, tenant)
        return _key_response(service.store.create(tenant, body.type, body.label, body.request_id, body.usage))

    @app.get("/v1/admin/tenants/{tenant}/keys", response_model=KeyListResponse, responses=ERRORS, tags=["admin"])
    @audited("admin.list")
    def admin_list(tenant: str, request: Request) -> KeyListResponse:
        """A tenant's keys (admin role)."""
        _admin(request, service, tenant)
        return KeyListResponse(keys=[_key_response(i) for i in service.store.list_keys(tenant)])

    def _lifecycle(op: str, method: str, path: str, action: Callable[[str, str], Any], doc: str) -> None:
        @audited(op)
        def handler(tenant: str, key_id: str, request: Request) -> KeyResponse:
            _admin(request, service, tenant)
            return _key_response(action(tenant, key_id))

        handler.__doc__ = doc
        handler.__name__ = op.replace(".", "_")
        app.add_api_route(path, handler, methods=[method], response_model=KeyResponse, responses=ERRORS,
                          tags=["admin"], name=handler.__name__, summary=doc)

    base = "/v1/admin/tenants/{tenant}/keys/{key_id}"
    _lifecycle("admin.rotate", "POST", base + "/rotate", service.store.rotate,
               "Rotate: add a new version (new operations use it; old versions still verify and decrypt).")
    _lifecycle("admin.disable", "POST", base + "/disable",
               lambda t, k: service.store.set_state(t, k, "disabled"), "Disable a key (no use until enabled).")
    _lifecycle("admin.enable", "POST", base + "/enable",
               lambda t, k: service.store.set_state(t, k, "enabled"), "Enable a disabled key.")
    _lifecycle("admin.destroy", "DELETE", base, lambda t, k: service.store.set_state(t, k, "destroyed"),
               "Destroy a key: its material is wiped; the id stays as a tombstone.")
    for usage in ("sign", "encrypt"):
        _lifecycle(f"admin.usage-{usage}", "POST", base + f"/usage/{usage}",
                   functools.partial(lambda u, t, k: service.store.set_usage(t, k, u), usage),
                   f"Fix the usage of an sm2 key stored before usages existed to {usage}, for good "
                   f"(such a key counts as sign-only until then; 409 key_usage_fixed if it has one).")

    @app.post("/v1/admin/audit/checkpoint", response_model=CheckpointResponse, responses=ERRORS, tags=["admin"])
    @audited("admin.checkpoint")
    def audit_checkpoint(request: Request) -> CheckpointResponse:
        """Append a signed checkpoint to the audit chain now (admin role)."""
        _admin(request, service)
        service.record(request, "admin.checkpoint")  # first, so that the checkpoint covers it
        request.state.audit_recorded = True
        record = service.open_audit().checkpoint()
        return CheckpointResponse(seq=record["seq"], head=record["head"])

    app.add_middleware(SignedRequests, service=service)
    return app


def openapi_document(config: ServiceConfig) -> str:
    """The OpenAPI description as JSON text (for docs and schemathesis)."""
    return json.dumps(create_app(config).openapi(), indent=1, ensure_ascii=False)


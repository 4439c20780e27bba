"""HMAC-SM3 signed requests (per-system keys, timestamp + nonce against replay).

A caller sends four headers::

    X-Xzgov-System:    <system name>
    X-Xzgov-Timestamp: <Unix seconds>
    X-Xzgov-Nonce:     <16–64 characters [A-Za-z0-9_-], new for every request>
    X-Xzgov-Signature: <64 lowercase hex digits: HMAC-SM3(system key, string to sign)>

where the string to sign is, joined by ``\\n``::

    XZGOV-HMAC-SM3 / METHOD / path / query string / timestamp / nonce / SM3(body) in hex

The service refuses (401) an unknown system, a bad signature, a timestamp outside ±skew
(``expired_request``) and a nonce it has seen from that system within the window
(``replayed_request``). Nonces are remembered for twice the skew, so a replay is caught for as long
as its timestamp is acceptable.

Where the nonces are kept decides how far replay protection reaches (issue 19):

* ``backend: postgresql`` — :class:`xzgov.cryptosvc.pgstore.PgNonceStore`: one table in the service's
  database, ``(system, nonce)`` primary key, insert-or-reject in its own transaction *before* the
  operation runs, synchronously replicated to the standby. Every worker of both hosts shares it, so a
  request captured on one host and replayed to the other (before or after a failover) is refused.
* ``backend: files`` (one host) — :class:`NonceCache`, in the memory of the one service process: run a
  single worker (the role does) — a second process would not see it. A restart does not forget them: at
  start-up the cache is refilled from the audit chain (every authenticated request's record carries its
  system, nonce and time; :func:`xzgov.cryptosvc.app.nonces_from_audit`).
"""

from __future__ import annotations

import heapq
import hmac
import re
import threading
import time
from typing import Protocol

from xzgov.crypto.sm3 import hmac_sm3, sm3_hex
from xzgov.cryptosvc.config import System
from xzgov.cryptosvc.errors import ServiceError

SCHEME = "XZGOV-HMAC-SM3"
H_SYSTEM, H_TIMESTAMP, H_NONCE, H_SIGNATURE = (
    "x-xzgov-system", "x-xzgov-timestamp", "x-xzgov-nonce", "x-xzgov-signature")
# strict ASCII formats (str.isdigit() accepts '²', int() then fails; hmac.compare_digest refuses non-ASCII str)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}\Z")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}\Z")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}\Z")


def string_to_sign(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([SCHEME, method.upper(), path, query, timestamp, nonce, sm3_hex(body)]).encode("utf-8")


def sign_request(system: str, key: bytes, method: str, path: str, body: bytes = b"", query: str = "",
                 *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers a calling system adds to a request."""
    import secrets

    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    tag = hmac_sm3(key, string_to_sign(method, path, query, stamp, nonce, body)).hex()
    return {H_SYSTEM: system, H_TIMESTAMP: stamp, H_NONCE: nonce, H_SIGNATURE: tag}


def _unauthenticated(code: str, message: str) -> ServiceError:
    return ServiceError(401, code, message)


class NonceStore(Protocol):
    def add(self, system: str, nonce: str, expires: float, now: float) -> bool:
        """Remember ``nonce`` of ``system`` until ``expires``; False if it is already remembered (a replay)."""
        ...


class _Share:
    """One system's nonces: nonce → expiry, and a heap of (expiry, nonce) to drop the expired ones in expiry order
    (a client's timestamp may be up to the skew ahead, so arrival order is not expiry order)."""

    __slots__ = ("expiry", "heap")

    def __init__(self) -> None:
        self.expiry: dict[str, float] = {}
        self.heap: list[tuple[float, str]] = []

    def purge(self, now: float) -> None:
        heap, expiry = self.heap, self.expiry
        while heap and heap[0][0] <= now:
            when, nonce = heapq.heappop(heap)
            if expiry.get(nonce) == when:  # not a superseded entry (preload may extend an expiry)
                del expiry[nonce]

    def put(self, nonce: str, when: float) -> None:
        self.expiry[nonce] = when
        heapq.heappush(self.heap, (when, nonce))


class NonceCache:
    """Nonces seen, each kept until its expiry; bounded **per system** (``nonce_cache_per_system``): a
    system whose share is full gets 503 ``busy`` (never forgets early), every other system — and the
    administrators, each with a share of its own — goes on being served. Every expired nonce leaves the share
    before it counts as full (one client with a clock ahead kept it full of expired nonces behind its own)."""

    def __init__(self, limit: int) -> None:
        self._seen: dict[str, _Share] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, system: str, nonce: str, expires: float, now: float) -> bool:
        """False if ``nonce`` was already used by ``system`` (a replay)."""
        with self._lock:
            share = self._seen.setdefault(system, _Share())
            share.purge(now)
            if nonce in share.expiry:
                return False
            if len(share.expiry) >= self._limit:
                raise ServiceError(503, "busy", "too many requests from this system in the replay window; "
                                                "retry later")
            share.put(nonce, expires)
            return True

    def preload(self, system: str, nonce: str, expires: float) -> None:
        """Remember a nonce used before a restart (from the audit chain); not bounded by the share."""
        with self._lock:
            share = self._seen.setdefault(system, _Share())
            share.put(nonce, max(expires, share.expiry.get(nonce, 0.0)))

    def __len__(self) -> int:
        with self._lock:
            return sum(len(share.expiry) for share in self._seen.values())


class Authenticator:
    def __init__(self, systems: dict[str, System], skew_seconds: int, nonce_limit: int,
                 nonces: NonceStore | None = None) -> None:
        self.systems = systems
        self.skew = skew_seconds
        self.nonces: NonceStore = nonces if nonces is not None else NonceCache(nonce_limit)

    def authenticate(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
                     now: float | None = None) -> System:
        now = time.time() if now is None else now
        name, stamp, nonce, tag = (headers.get(h, "") for h in (H_SYSTEM, H_TIMESTAMP, H_NONCE, H_SIGNATURE))
        if not (name and stamp and nonce and tag):
            raise _unauthenticated("unauthenticated", "missing X-Xzgov-System/-Timestamp/-Nonce/-Signature headers")
        system = self.systems.get(name)
        if system is None:
            raise _unauthenticated("unknown_system", "unknown calling system")
        if not _TIMESTAMP.match(stamp):
            raise _unauthenticated("bad_timestamp", "X-Xzgov-Timestamp must be Unix seconds")
        if not _NONCE.match(nonce):
            raise _unauthenticated("bad_nonce", "X-Xzgov-Nonce must be 16-64 characters of [A-Za-z0-9_-]")
        if not _SIGNATURE.match(tag):
            raise _unauthenticated("bad_signature", "X-Xzgov-Signature must be 64 lowercase hex digits")
        expected = hmac_sm3(system.hmac_key, string_to_sign(method, path, query, stamp, nonce, body))
        if not hmac.compare_digest(expected, bytes.fromhex(tag)):
            raise _unauthenticated("bad_signature", "the request signature does not verify")
        if abs(now - int(stamp)) > self.skew:
            raise _unauthenticated("expired_request", f"timestamp outside ±{self.skew} s of the service clock")
        if not self.nonces.add(name, nonce, int(stamp) + 2 * self.skew, now):
            raise _unauthenticated("replayed_request", "this nonce was already used")
        return system

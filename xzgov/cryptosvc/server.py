"""Serving limits around uvicorn: what the ASGI app cannot see.

* :class:`GuardedH11Protocol` — uvicorn's h11 protocol with a deadline for the request head
  (``header_timeout_seconds``): a connection that has not sent a complete request line and headers within
  it (after connecting, or after its previous response) is closed. uvicorn 0.x has no such timeout of its
  own: ``timeout_keep_alive`` stops at the first byte, so a header sent one byte at a time held the
  connection (and its file descriptor) for ever.
* :class:`RateLimitedLog` — a logging filter letting through at most ``burst`` records per ``period`` per
  logger and message, then one line saying how many were dropped: an accept loop failing with EMFILE, or
  a flood of broken connections, cannot fill the journal.
* :func:`uvicorn_config` — the uvicorn settings from the service configuration (``limit_concurrency``,
  ``timeout_keep_alive_seconds``, ``header_timeout_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from xzgov.cryptosvc.config import ServiceConfig

#: loggers that a hostile or broken peer can make write (accept errors, protocol errors, tracebacks)
NOISY_LOGGERS = ("asyncio", "uvicorn.error", "uvicorn", "uvicorn.access")


class GuardedH11Protocol(H11Protocol):
    """h11 with a request-head deadline (``header_timeout``, seconds; set by :func:`protocol_class`)."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        if getattr(self, "_head_deadline", None) is not None:
            self._head_deadline.cancel()  # type: ignore[union-attr]
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_deadline = None
        waiting_for_head = self.cycle is None or self.cycle.response_complete
        if waiting_for_head and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_head_deadline", None) is not None:
            self._head_deadline.cancel()  # type: ignore[union-attr]
            self._head_deadline = None
        super().connection_lost(exc)


def protocol_class(header_timeout: float) -> type[GuardedH11Protocol]:
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout": float(header_timeout)})


class RateLimitedLog(logging.Filter):
    """At most ``burst`` records per ``period`` seconds for each (logger, message template); the first
    record after a suppressed period says how many were dropped."""

    def __init__(self, burst: int = 20, period: float = 60.0) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self._seen: dict[tuple[str, str], list[float]] = {}  # key -> [period start, count]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:200])
        now = time.monotonic()
        with self._lock:
            state = self._seen.get(key)
            if state is None or now - state[0] >= self.period:
                dropped = int(state[1] - self.burst) if state is not None and state[1] > self.burst else 0
                if len(self._seen) > 1000:
                    self._seen.clear()
                state = self._seen[key] = [now, 0.0]
                if dropped:
                    record.msg = f"{record.msg} [{dropped} similar messages suppressed in the last {self.period:.0f} s]"
            state[1] += 1
            return state[1] <= self.burst


def limit_noisy_logs(burst: int = 20, period: float = 60.0) -> RateLimitedLog:
    """Install :class:`RateLimitedLog` on :data:`NOISY_LOGGERS` (after uvicorn configured its logging)."""
    limiter = RateLimitedLog(burst, period)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(limiter)
    return limiter


def uvicorn_config(app: Any, config: ServiceConfig, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration with the service's serving limits (one worker, h11 with a head deadline)."""
    return uvicorn.Config(app, workers=1, http=protocol_class(config.header_timeout_seconds),
                          limit_concurrency=config.limit_concurrency,
                          timeout_keep_alive=config.timeout_keep_alive_seconds, **options)

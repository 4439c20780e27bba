"""Review finding 5: header formats are checked with strict ASCII patterns — a non-ASCII signature, a
timestamp of '²' or a Content-Length of '²' is a clean 4xx, never a 500 with a traceback."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from tests.cryptosvc.conftest import Harness, b64
from xzgov.cryptosvc.auth import sign_request


def _headers(service: Harness, body: bytes, **override: str) -> dict[str, str]:
    headers = sign_request("dept-a", service.keys["dept-a"], "POST", "/v1/sm3/digest", body)
    headers["content-type"] = "application/json"
    headers.update(override)
    return headers


def _send(service: Harness, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    response = service.loop.run_until_complete(
        service.http.request("POST", "/v1/sm3/digest", content=body, headers=raw))
    data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    return response.status_code, str(data.get("error", {}).get("code", ""))


BODY = json.dumps({"data": b64(b"x")}).encode()


@pytest.mark.parametrize(("header", "value", "code"), [
    ("x-xzgov-signature", "é" * 64, "bad_signature"),          # was 500: compare_digest(str, str) TypeError
    ("x-xzgov-signature", "0" * 63 + "²", "bad_signature"),
    ("x-xzgov-signature", "A" * 64, "bad_signature"),           # the docs: lowercase hex
    ("x-xzgov-signature", "0" * 65, "bad_signature"),
    ("x-xzgov-timestamp", "²", "bad_timestamp"),                # was 500: '²'.isdigit() but int('²') fails
    ("x-xzgov-timestamp", "1" * 13, "bad_timestamp"),
    ("x-xzgov-nonce", "é" * 20, "bad_nonce"),
])
def test_malformed_headers_are_401(service: Harness, header: str, value: str, code: str) -> None:
    status, answer = _send(service, BODY, _headers(service, BODY, **{header: value}))
    assert (status, answer) == (401, code)


def test_a_non_ascii_content_length_is_not_a_500(service: Harness) -> None:
    headers = _headers(service, BODY)
    raw = [(k.encode(), v.encode()) for k, v in headers.items()] + [(b"content-length", "²".encode("latin-1"))]

    async def call() -> list[MutableMapping[str, Any]]:
        sent: list[MutableMapping[str, Any]] = []
        scope = {"type": "http", "method": "POST", "path": "/v1/sm3/digest", "raw_path": b"/v1/sm3/digest",
                 "query_string": b"", "headers": raw, "http_version": "1.1", "scheme": "http",
                 "server": ("svc", 80), "client": ("127.0.0.1", 1), "root_path": ""}
        messages: list[MutableMapping[str, Any]] = [{"type": "http.request", "body": BODY, "more_body": False}]

        async def receive() -> MutableMapping[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await service.app(scope, receive, send)
        return sent

    sent = service.loop.run_until_complete(call())
    assert sent[0]["status"] == 200  # was: ValueError in the middleware (500)


def test_a_well_formed_request_still_passes(service: Harness) -> None:
    assert _send(service, BODY, _headers(service, BODY)) == (200, "")


def test_the_authenticator_refuses_unicode_digits(service: Harness) -> None:
    """Headers reach it decoded as latin-1; called directly, other Unicode digits are refused too."""
    from xzgov.cryptosvc.errors import ServiceError

    auth = service.app.state.service.auth
    for stamp in ("١٢٣", "²", "12 "):
        headers = _headers(service, BODY, **{"x-xzgov-timestamp": stamp})
        with pytest.raises(ServiceError) as refused:
            auth.authenticate("POST", "/v1/sm3/digest", "", headers, BODY)
        assert refused.value.code == "bad_timestamp"


def test_expired_nonces_behind_one_from_a_clock_ahead_leave_the_share() -> None:
    """The share was purged from its front only, in arrival order: a nonce whose client clock ran the skew ahead
    (expiring last) kept the 99 expired ones behind it, and the system got 503 busy with nothing live held."""
    from xzgov.cryptosvc.auth import NonceCache
    from xzgov.cryptosvc.errors import ServiceError

    cache, skew, now = NonceCache(100), 300, 1_000_000.0
    assert cache.add("dept-a", "ahead", now + skew + 2 * skew, now)  # timestamp +300 s: expires at now + 900
    for index in range(99):
        assert cache.add("dept-a", f"n{index}", now + 2 * skew, now)
    with pytest.raises(ServiceError):  # full while every nonce is live
        cache.add("dept-a", "more", now + 2 * skew, now)
    later = now + 2 * skew + 1
    assert cache.add("dept-a", "fresh", later + 2 * skew, later) and len(cache) == 2
    assert not cache.add("dept-a", "ahead", later + 2 * skew, later)  # still remembered: a replay
    cache.preload("dept-a", "n0", later + 5)  # re-remembered from the chain after a restart
    assert not cache.add("dept-a", "n0", later + 2 * skew, later + 1)
    assert cache.add("dept-a", "n0", later + 2 * skew + 10, later + 6)  # expired again: accepted

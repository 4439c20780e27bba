"""Review of the key-management service (/tmp/review-kms): resource exhaustion by unauthenticated clients,
SM2 key usage, replay after a restart, audit of refused requests, the per-system replay cache, and the
OpenAPI description not being served."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cryptosvc.conftest import SYSTEMS, Harness, b64
from xzgov.cryptosvc import audit
from xzgov.cryptosvc.auth import sign_request
from xzgov.cryptosvc.config import ServiceConfig, load_config
from xzgov.cryptosvc.setup import write_service_files


def _harness(tmp_path: Path, **changes: Any) -> Harness:
    if not (tmp_path / "etc" / "config.yml").exists():
        keys = write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS, checkpoint_every=5)
        (tmp_path / "keys.json").write_text(json.dumps({k: v.hex() for k, v in keys.items()}))
    keys = {k: bytes.fromhex(v) for k, v in json.loads((tmp_path / "keys.json").read_text()).items()}
    config = dataclasses.replace(load_config(tmp_path / "etc" / "config.yml"), **changes)
    return Harness(config, keys, tmp_path)


def _records(harness: Harness) -> list[dict[str, Any]]:
    return [json.loads(line) for line in harness.config.audit_path.read_text().splitlines()]


class _Asgi:
    """Drive the app's ASGI callable directly, with a receive the test controls."""

    def __init__(self, harness: Harness) -> None:
        self.app: Any = harness.app
        self.sent: list[dict[str, Any]] = []

    @staticmethod
    def scope(path: str = "/v1/sm3/digest", headers: dict[str, str] | None = None,
              client: tuple[str, int] = ("192.0.2.7", 40000)) -> dict[str, Any]:
        return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
                "client": client, "server": ("127.0.0.1", 8443), "state": {}}

    async def __call__(self, scope: dict[str, Any], receive: Any) -> int:
        async def send(message: dict[str, Any]) -> None:
            self.sent.append(message)

        await self.app(scope, receive, send)
        return int(self.sent[0]["status"])

    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"))


# ---------------------------------------------------------------------------- 1. resource exhaustion


def test_a_declared_oversized_body_is_refused_before_it_is_read(service: Harness) -> None:
    reads: list[int] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    driver = _Asgi(service)
    status = service.loop.run_until_complete(driver(driver.scope(headers={"content-length": "10000000"}), receive))
    assert status == 413 and driver.body()["error"]["code"] == "payload_too_large"
    assert reads == []  # not one byte of it was read
    assert (b"connection", b"close") in driver.sent[0]["headers"]


def test_an_undeclared_oversized_body_is_cut_off_while_read(service: Harness) -> None:
    reads: list[int] = []
    limit = service.config.max_body_bytes

    async def receive() -> dict[str, Any]:  # chunked: no Content-Length, and it never ends
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    driver = _Asgi(service)
    status = service.loop.run_until_complete(driver(driver.scope(), receive))
    assert status == 413
    assert len(reads) == limit // 65536 + 1  # stopped at the first chunk over the limit


def test_a_slow_body_times_out(tmp_path: Path) -> None:
    harness = _harness(tmp_path, body_timeout_seconds=1)
    try:
        sent: list[int] = []

        async def receive() -> dict[str, Any]:  # one byte, then nothing (slowloris)
            if not sent:
                sent.append(1)
                return {"type": "http.request", "body": b"{", "more_body": True}
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

        driver = _Asgi(harness)
        started = time.monotonic()
        status = harness.loop.run_until_complete(
            asyncio.wait_for(driver(driver.scope(headers={"content-length": "1000"}), receive), 10))
        assert status == 408 and driver.body()["error"]["code"] == "request_timeout"
        assert time.monotonic() - started < 5
        assert (b"connection", b"close") in driver.sent[0]["headers"]
    finally:
        harness.close()


def test_requests_beyond_the_concurrency_limit_get_503_and_health_still_answers(tmp_path: Path) -> None:
    harness = _harness(tmp_path, limit_concurrency=2, body_timeout_seconds=30)
    try:
        release = asyncio.Event()

        async def stalled() -> dict[str, Any]:
            await release.wait()
            return {"type": "http.request", "body": b"", "more_body": False}

        async def scenario() -> tuple[list[int], int, int, int]:
            holders = [_Asgi(harness) for _ in range(2)]
            running = [asyncio.ensure_future(d(d.scope(client=("192.0.2.9", 1000 + i)), stalled))
                       for i, d in enumerate(holders)]
            await asyncio.sleep(0.2)
            extra = _Asgi(harness)

            async def empty() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            refused = await extra(extra.scope(), empty)
            code = extra.body()["error"]["code"]
            health = (await harness.http.get("/health")).status_code
            release.set()
            done = [await r for r in running]  # unsigned: 401 once their bodies arrive
            after = await harness.http.post("/v1/sm3/digest", content=b"{}")  # a slot is free again
            return done, refused if code == "busy" else -1, health, after.status_code

        done, refused, health, after = harness.loop.run_until_complete(scenario())
        assert refused == 503 and health == 200 and done == [401, 401] and after == 401
    finally:
        harness.close()


def test_serve_passes_the_limits_to_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from xzgov.cryptosvc import __main__ as entry
    from xzgov.cryptosvc.server import GuardedH11Protocol

    write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS)
    config_file = tmp_path / "etc" / "config.yml"
    config_file.write_text(config_file.read_text() + "limit_concurrency: 33\ntimeout_keep_alive_seconds: 3\n"
                                                      "header_timeout_seconds: 4\n")
    seen: list[uvicorn.Config] = []

    class FakeServer:
        def __init__(self, config: uvicorn.Config) -> None:
            seen.append(config)

        def run(self) -> None:
            app: Any = seen[0].app
            app.state.service.audit.close()

    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    assert entry.main(["--config", str(config_file), "--port", "0"]) == 0
    config = seen[0]
    assert (config.limit_concurrency, config.timeout_keep_alive, config.workers) == (33, 3, 1)
    assert isinstance(config.http, type) and issubclass(config.http, GuardedH11Protocol)
    assert config.http.header_timeout == 4


def _serve(tmp_path: Path, **changes: Any) -> tuple[Any, int, threading.Thread]:
    """The app under a real uvicorn (GuardedH11Protocol, limits from the configuration) on a free port."""
    import uvicorn

    from xzgov.cryptosvc.app import create_app
    from xzgov.cryptosvc.server import uvicorn_config

    write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS)
    config: ServiceConfig = dataclasses.replace(load_config(tmp_path / "etc" / "config.yml"), **changes)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(create_app(config), config, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, port, thread


def _get(port: int, path: str = "/health") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        return data


def test_a_connection_that_never_finishes_its_head_is_closed_and_uvicorn_refuses_beyond_the_limit(
        tmp_path: Path) -> None:
    server, port, thread = _serve(tmp_path, header_timeout_seconds=1, limit_concurrency=2)
    try:
        slow = socket.create_connection(("127.0.0.1", port), timeout=5)
        slow.sendall(b"POST /v1/sm3/digest HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        time.sleep(0.3)
        assert _get(port).startswith(b"HTTP/1.1 503")  # two connections held: a third request is refused
        started = time.monotonic()
        for held in (slow, idle):
            held.sendall(b"X-a: b\r\n") if held is slow else None
            assert held.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 4
        assert _get(port).startswith(b"HTTP/1.1 200")  # slots free again
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_noisy_loggers_are_rate_limited() -> None:
    import logging

    from xzgov.cryptosvc.server import RateLimitedLog

    limiter = RateLimitedLog(burst=5, period=60)
    passed = [limiter.filter(logging.LogRecord("asyncio", logging.ERROR, "x", 1, "socket.accept() out of system "
                                               "resource", None, None)) for _ in range(1000)]
    assert sum(passed) == 5


# ---------------------------------------------------------------------------- 2. key usage


def test_an_sm2_key_signs_or_decrypts_never_both(service: Harness) -> None:
    signing = service.create_key("dept-a", "sm2", usage="sign")
    sealing = service.create_key("dept-a", "sm2", usage="encrypt")
    assert service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": signing, "data": b64(b"d")}).status == 200
    sealed = service.call("dept-a", "POST", "/v1/sm2/encrypt", {"key_id": sealing, "plaintext": b64(b"k")})
    assert sealed.status == 200
    assert service.call("dept-a", "POST", "/v1/sm2/decrypt",
                        {"key_id": sealing, "ciphertext": sealed.body["ciphertext"]}).status == 200
    for path, payload in [("/v1/sm2/encrypt", {"key_id": signing, "plaintext": b64(b"k")}),
                          ("/v1/sm2/decrypt", {"key_id": signing, "ciphertext": sealed.body["ciphertext"]}),
                          ("/v1/sm2/sign", {"key_id": sealing, "data": b64(b"d")}),
                          ("/v1/sm2/sign-digest", {"key_id": sealing, "digest": "00" * 32}),
                          ("/v1/sm2/verify", {"key_id": sealing, "data": b64(b"d"), "signature": "MAA="})]:
        refused = service.call("dept-a", "POST", path, payload)
        assert (refused.status, refused.code) == (409, "key_usage"), (path, refused.body)
    listed = {k["key_id"]: k["usage"] for k in service.call("dept-a", "GET", "/v1/keys").body["keys"]}
    assert listed == {signing: "sign", sealing: "encrypt"}
    for kid in (signing, sealing):  # either public key can be exported
        assert service.call("dept-a", "GET", f"/v1/keys/{kid}/public-key").status == 200
    assert service.create_key("dept-a", "sm2") and _records(service)  # usage sign by default
    wrong = service.call("kms-admin", "POST", "/v1/admin/tenants/dept-a/keys", {"type": "sm4", "usage": "sign"})
    assert (wrong.status, wrong.code) == (400, "unknown_key_usage")


def test_a_legacy_sm2_key_is_sign_only_until_its_usage_is_fixed_once(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    store = service.config.keystore_path
    data = json.loads(store.read_text())
    data["keys"][kid].pop("usage", None)  # as stored before usages existed
    store.write_text(json.dumps(data))
    assert service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"d")}).status == 200
    refused = service.call("dept-a", "POST", "/v1/sm2/encrypt", {"key_id": kid, "plaintext": b64(b"k")})
    assert (refused.status, refused.code) == (409, "key_usage")
    assert service.call("dept-a", "GET", "/v1/keys").body["keys"][0].get("usage") == "sign"
    fixed = service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/usage/encrypt")
    assert fixed.status == 200 and fixed.body["usage"] == "encrypt"
    assert service.call("dept-a", "POST", "/v1/sm2/encrypt", {"key_id": kid, "plaintext": b64(b"k")}).status == 200
    assert service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"d")}).code == "key_usage"
    again = service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/usage/sign")
    assert (again.status, again.code) == (409, "key_usage_fixed")
    ops = [(r.get("op"), r.get("outcome")) for r in _records(service) if r.get("type") == "op"]
    assert ("admin.usage-encrypt", "intent") in ops and ("admin.usage-encrypt", "ok") in ops


# ---------------------------------------------------------------------------- 3. replay after a restart


def test_a_request_captured_before_a_restart_does_not_replay_after_it(tmp_path: Path) -> None:
    first = _harness(tmp_path)
    path = "/v1/admin/tenants/dept-a/keys"
    body = json.dumps({"type": "sm4", "label": "x"}).encode()
    headers = {"content-type": "application/json", **sign_request("kms-admin", first.keys["kms-admin"], "POST",
                                                                  path, body)}
    assert first.raw("POST", path, body, headers).status == 201
    first.close()
    second = _harness(tmp_path)  # the service restarted over the same state
    try:
        replayed = second.raw("POST", path, body, headers)
        assert (replayed.status, replayed.code) == (401, "replayed_request")
        assert len(second.call("kms-admin", "GET", path).body["keys"]) == 1
    finally:
        second.close()


@pytest.mark.parametrize("header", ["x-xzgov-nonce", "x-xzgov-system", "x-xzgov-signature"])
def test_a_repeated_signed_header_is_refused_and_the_audit_names_the_authenticated_nonce(
        tmp_path: Path, header: str) -> None:
    # A proxy put a decoy nonce before the signed one: authentication took the last, the audit record the first,
    # and the restarted service (nonces reloaded from the audit) accepted the captured request once more.
    first = _harness(tmp_path)
    path = "/v1/admin/tenants/dept-a/keys"
    body = json.dumps({"type": "sm4", "label": "x"}).encode()
    signed = {"content-type": "application/json", **sign_request("kms-admin", first.keys["kms-admin"], "POST",
                                                                 path, body)}
    decoy = "decoy-decoy-decoy-0001" if header == "x-xzgov-nonce" else signed[header]
    answer = first.loop.run_until_complete(first.http.request(
        "POST", path, content=body, headers=[(header, decoy), *signed.items()]))
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "duplicate_header")
    assert header in answer.json()["error"]["message"]
    assert first.raw("POST", path, body, signed).status == 201
    first.close()
    created = [r for r in _records(first) if r.get("op") == "admin.create"]
    assert [r["outcome"] for r in created] == ["intent", "ok"]
    assert {r["nonce"] for r in created} == {signed["x-xzgov-nonce"]}
    second = _harness(tmp_path)  # restarted: the nonce the audit names is the one it must refuse
    try:
        assert second.raw("POST", path, body, signed).code == "replayed_request"
    finally:
        second.close()


def test_only_records_within_the_replay_window_are_reloaded(tmp_path: Path) -> None:
    from xzgov.cryptosvc.app import nonces_from_audit

    log = tmp_path / "audit.jsonl"
    now = 2_000_000_000.0

    def line(seconds_ago: float, nonce: str) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - seconds_ago))
        return json.dumps({"type": "op", "system": "dept-a", "nonce": nonce, "time": stamp})

    log.write_text("\n".join([line(5000, "old-0123456789abcdef"), line(800, "recent-0123456789abc"),
                              "not json", line(10, "new-0123456789abcdef")]) + "\n")
    found = nonces_from_audit(log, skew=300, now=now)
    assert sorted(n for _, n, _ in found) == ["new-0123456789abcdef", "recent-0123456789abc"]
    assert all(expires > now for _, _, expires in found)


# ---------------------------------------------------------------------------- 4. audit of refusals


def test_refused_requests_are_audited_with_the_client_address_and_no_secret(service: Harness) -> None:
    path = "/v1/sm3/digest"
    body = b'{"data": ""}'
    headers = {"content-type": "application/json",
               **sign_request("dept-a", service.keys["dept-a"], "POST", path, body)}
    forged = {**headers, "x-xzgov-signature": "ab" * 32}
    assert service.raw("POST", path, body, forged).code == "bad_signature"
    assert service.raw("POST", path, body, headers).status == 200
    assert service.raw("POST", path, body, headers).code == "replayed_request"
    assert service.raw("POST", path, body, {**headers, "x-xzgov-system": "nobody"}).code == "unknown_system"
    records = _records(service)
    refusals = [r for r in records if r.get("type") == "auth"]
    assert [(r["code"], r["system"]) for r in refusals] == [
        ("bad_signature", "dept-a"), ("replayed_request", "dept-a"), ("unknown_system", "nobody")]
    assert all(r["client"] == "127.0.0.1" and r["outcome"] == "refused" for r in refusals)
    text = service.config.audit_path.read_text()
    assert headers["x-xzgov-signature"] not in text and "ab" * 32 not in text
    assert all("signature" not in r and "nonce" not in r for r in refusals)
    assert all(r.get("client") == "127.0.0.1" for r in records if r.get("type") == "op")


def test_refusals_cannot_flood_the_audit_chain(tmp_path: Path) -> None:
    harness = _harness(tmp_path, audit_auth_failures_per_minute=3)
    try:
        before = len(_records(harness))
        forged = {"x-xzgov-system": "dept-a", "x-xzgov-timestamp": str(int(time.time())),
                  "x-xzgov-nonce": "n" * 20, "x-xzgov-signature": "0" * 64}
        for _ in range(50):
            assert harness.raw("POST", "/v1/sm3/digest", b"{}", forged).code == "bad_signature"
        added = _records(harness)[before:]
        assert len(added) <= 4  # 3 refusals (+ a checkpoint)
        assert [r.get("limit_reached") for r in added if r.get("type") == "auth"] == [None, None, True]
    finally:
        harness.close()
    report = audit.verify_chain(harness.config.audit_path, [harness.config.signing_key.public_key])
    assert report.ok, report.problem


def test_the_failure_limiter_sums_up_what_it_suppressed() -> None:
    from xzgov.cryptosvc.app import FailureLimiter

    limiter = FailureLimiter(per_source=2, window=60, max_sources=3)
    out = [limiter.admit("a", {"type": "auth"}, now=t) for t in range(10)]
    assert [len(o) for o in out] == [1, 1] + [0] * 8
    later = limiter.admit("a", {"type": "auth"}, now=100)
    assert later[0] == {"type": "auth-summary", "client": "a", "suppressed": 8, "window_seconds": 60}
    assert later[1] == {"type": "auth"}
    for index in range(100):  # many addresses: bounded memory, and a global cap
        limiter.admit(f"s{index}", {"type": "auth"}, now=100)
    assert len(limiter._sources) <= 3


# ---------------------------------------------------------------------------- 5. replay cache per system


def test_one_tenant_cannot_fill_the_replay_cache_of_the_others(tmp_path: Path) -> None:
    harness = _harness(tmp_path, nonce_cache_per_system=5)
    try:
        ahead = int(time.time()) + harness.config.clock_skew_seconds - 1  # kept for the longest
        answers = [harness.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"x")}, timestamp=ahead)
                   for _ in range(7)]
        assert [a.status for a in answers] == [200] * 5 + [503] * 2 and answers[-1].code == "busy"
        assert harness.call("dept-b", "POST", "/v1/sm3/digest", {"data": b64(b"x")}).status == 200
        assert harness.call("kms-admin", "GET", "/v1/admin/tenants/dept-b/keys").status == 200
    finally:
        harness.close()


def test_the_per_system_share_is_configurable(tmp_path: Path) -> None:
    write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS)
    config_file = tmp_path / "etc" / "config.yml"
    assert load_config(config_file).nonce_cache_per_system == 100_000
    config_file.write_text(config_file.read_text() + "nonce_cache_per_system: 250\n")
    assert load_config(config_file).nonce_cache_per_system == 250


# ---------------------------------------------------------------------------- 6. no public schema


def test_the_schema_and_docs_are_not_served(service: Harness) -> None:
    for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        answer = service.raw("GET", path)
        assert answer.status in (401, 404), (path, answer.status)
        assert "paths" not in json.dumps(answer.body) and "swagger" not in json.dumps(answer.body).lower()
    assert service.raw("GET", "/health").status == 200
    assert "/v1/sm2/sign" in service.app.openapi()["paths"]  # still built in process (xzgov cryptosvc openapi)

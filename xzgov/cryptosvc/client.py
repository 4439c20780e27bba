"""A minimal client of the crypto service: signs each request (HMAC-SM3, fresh nonce).

```python
async with httpx.AsyncClient(base_url="https://kms:8443") as http:
    client = Client(http, "dept-portal", hmac_key)
    signature = (await client.post("/v1/sm2/sign", {"key_id": kid, "data": b64}))["signature"]
```
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from xzgov.cryptosvc.auth import sign_request


class ClientError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Client:
    def __init__(self, http: httpx.AsyncClient, system: str, key: bytes) -> None:
        self.http = http
        self.system = system
        self.key = key

    async def request(self, method: str, path: str, payload: Any = None, query: str = "") -> Any:
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = sign_request(self.system, self.key, method, path, body, query)
        if payload is not None:
            headers["content-type"] = "application/json"
        url = path + (f"?{query}" if query else "")
        response = await self.http.request(method, url, content=body, headers=headers)
        try:
            data = response.json()  # not JSON (a proxy's page, a torn answer): ValueError, as before
        except RecursionError as error:  # nested deeper than the parser goes: a bad answer too, not a crash
            raise ValueError(f"{method} {path}: the answer is not JSON (nested too deeply)") from error
        if response.status_code >= 400:
            raise ClientError(response.status_code, data)
        return data

    async def post(self, path: str, payload: Any) -> Any:
        return await self.request("POST", path, payload)

    async def get(self, path: str, query: str = "") -> Any:
        return await self.request("GET", path, None, query)


# Answers after which the same request may go to the other host: the service could not reach (or write)
# its database — a standby not promoted yet, or a primary going down.
RETRY_CODES = frozenset({"database_read_only", "database_unavailable", "audit_unavailable", "keystore_unavailable",
                         "database_busy", "commits_blocked"})
# Requests that change state in a way a second delivery would repeat (a second rotation).
UNSAFE_SUFFIXES = ("/rotate",)


class FailoverClient:
    """A client of the crypto service on several hosts (primary first): retries elsewhere, safely.

    A request is sent to the endpoint that last answered. When that host cannot be reached, drops the
    connection, times out, or answers 503 with a database code (:data:`RETRY_CODES`), the request is signed
    afresh (new nonce) and sent to the next endpoint, cycling until ``failover_seconds`` have passed.
    Retrying is safe for every operation except a rotation: sign/verify/encrypt/decrypt/digest/HMAC/random
    have no side effect but an audit record, and a key creation carries a ``request_id`` (added here when
    the caller gave none) so the service returns the first attempt's key rather than making a second. A
    rotation is retried only when it certainly was not delivered (connection refused).

    ``attempts`` counts, per request, the endpoints tried — the load test reports it."""

    def __init__(self, endpoints: list[str], system: str, key: bytes, *, verify: Any = True,
                 timeout: float = 5.0, failover_seconds: float = 120.0,
                 transports: list[httpx.AsyncBaseTransport] | None = None) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint")
        if transports is not None and len(transports) != len(endpoints):
            raise ValueError("one transport per endpoint")
        self.endpoints = list(endpoints)
        self.system = system
        self.key = key
        self.failover_seconds = failover_seconds
        self._clients = [httpx.AsyncClient(base_url=url, verify=verify, timeout=timeout,
                                           transport=None if transports is None else transports[index])
                         for index, url in enumerate(self.endpoints)]
        self.current = 0
        self.retries = 0

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> FailoverClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, payload: Any = None, query: str = "") -> Any:
        import asyncio
        import secrets
        import time

        if (method == "POST" and path.startswith("/v1/admin/tenants/") and path.endswith("/keys")
                and isinstance(payload, dict) and not payload.get("request_id")):
            payload = {**payload, "request_id": "rq-" + secrets.token_hex(16)}
        safe = not path.endswith(UNSAFE_SUFFIXES)
        deadline = time.monotonic() + self.failover_seconds
        tried = 0
        while True:
            index = self.current
            client = Client(self._clients[index], self.system, self.key)
            try:
                return await client.request(method, path, payload, query)
            except ClientError as error:
                code = error.body.get("error", {}).get("code") if isinstance(error.body, dict) else None
                if error.status != 503 or code not in RETRY_CODES or not safe:
                    raise
                failure: Exception = error
            except httpx.ConnectError as error:  # not delivered: always safe to send elsewhere
                failure = error
            except (httpx.TransportError, ValueError) as error:  # maybe delivered (timeout, reset, torn answer)
                if not safe:
                    raise
                failure = error
            tried += 1
            self.retries += 1
            self.current = (index + 1) % len(self.endpoints)
            if time.monotonic() >= deadline:
                raise ClientError(503, {"error": {"code": "no_endpoint", "message": f"no crypto-service host "
                                                  f"answered within {self.failover_seconds:.0f} s: {failure}"}})
            if tried % len(self.endpoints) == 0:
                await asyncio.sleep(0.5)  # every host refused: wait for a promotion

    async def post(self, path: str, payload: Any) -> Any:
        return await self.request("POST", path, payload)

    async def get(self, path: str, query: str = "") -> Any:
        return await self.request("GET", path, None, query)

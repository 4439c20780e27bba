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
        data = response.json()
        if response.status_code >= 400:
            raise ClientError(response.status_code, data)
        return data

    async def post(self, path: str, payload: Any) -> Any:
        return await self.request("POST", path, payload)

    async def get(self, path: str, query: str = "") -> Any:
        return await self.request("GET", path, None, query)

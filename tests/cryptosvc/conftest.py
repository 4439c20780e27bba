"""A crypto service on temporary files, driven in process through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from xzgov.cryptosvc.app import create_app
from xzgov.cryptosvc.auth import sign_request
from xzgov.cryptosvc.config import ServiceConfig, load_config
from xzgov.cryptosvc.setup import write_service_files

SYSTEMS = {"dept-a": "tenant", "dept-b": "tenant", "kms-admin": "admin"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Response:
    status: int
    body: Any

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"]) if isinstance(self.body, dict) and "error" in self.body else ""


class Harness:
    """Runs requests against the app (lifespan started) from synchronous tests."""

    def __init__(self, config: ServiceConfig, hmac_keys: dict[str, bytes], directory: Path) -> None:
        self.config = config
        self.keys = hmac_keys
        self.directory = directory
        self.app = create_app(config)
        self.loop = asyncio.new_event_loop()
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self._lifespan.__aenter__())
        transport = httpx.ASGITransport(app=self.app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://svc")

    def raw(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            query: str = "") -> Response:
        url = path + (f"?{query}" if query else "")
        response = self.loop.run_until_complete(
            self.http.request(method, url, content=body, headers=headers or {}))
        try:
            data = response.json()
        except ValueError:
            data = response.text
        return Response(response.status_code, data)

    def call(self, system: str, method: str, path: str, payload: Any = None, query: str = "",
             **sign: Any) -> Response:
        import json

        body = b"" if payload is None else json.dumps(payload).encode()
        headers = sign_request(system, self.keys[system], method, path, body, query, **sign)
        headers["content-type"] = "application/json"
        return self.raw(method, path, body, headers, query)

    def create_key(self, tenant: str, key_type: str) -> str:
        response = self.call("kms-admin", "POST", f"/v1/admin/tenants/{tenant}/keys", {"type": key_type})
        assert response.status == 201, response.body
        return str(response.body["key_id"])

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Harness]:
    keys = write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS, checkpoint_every=5)
    harness = Harness(load_config(tmp_path / "etc" / "config.yml"), keys, tmp_path)
    yield harness
    harness.close()

"""FailoverClient: retries on the other endpoint when it is safe, and never makes a second key.

Endpoint 0 stands for the lost primary (refuses connections, drops answers, or is a standby answering 503);
endpoint 1 is a real service (file backend) behind httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.cryptosvc.conftest import Harness, b64
from xzgov.cryptosvc.client import ClientError, FailoverClient


class Refusing(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


class Standby(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "database_read_only", "message": "standby"}})


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Delivers every request to the service, but the first answer is lost (a timeout after the work was done)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.delivered = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.delivered += 1
        if self.delivered == 1:
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def _run(service: Harness, first: httpx.AsyncBaseTransport, system: str, method: str, path: str,
         payload: Any = None, second: httpx.AsyncBaseTransport | None = None) -> tuple[Any, FailoverClient]:
    live = second or httpx.ASGITransport(app=service.app)
    client = FailoverClient(["http://kms1", "http://kms2"], system, service.keys[system],
                            transports=[first, live], failover_seconds=5)

    async def go() -> Any:
        try:
            return await client.request(method, path, payload)
        finally:
            await client.aclose()

    return service.loop.run_until_complete(go()), client


@pytest.mark.parametrize("lost", [Refusing, Standby])
def test_a_lost_or_standby_primary_is_retried_on_the_other_host(service: Harness,
                                                                lost: type[httpx.AsyncBaseTransport]) -> None:
    kid = service.create_key("dept-a", "sm2")
    answer, client = _run(service, lost(), "dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert answer["key_id"] == kid and client.current == 1 and client.retries == 1


def test_a_create_whose_answer_was_lost_returns_the_same_key(service: Harness) -> None:
    lossy = LosesFirstAnswer(httpx.ASGITransport(app=service.app))
    # both endpoints reach the same service: the first attempt creates the key, its answer is lost
    answer, client = _run(service, lossy, "kms-admin", "POST", "/v1/admin/tenants/dept-a/keys", {"type": "sm4"},
                          second=httpx.ASGITransport(app=service.app))
    assert client.retries == 1 and lossy.delivered == 1
    listed = service.call("dept-a", "GET", "/v1/keys").body["keys"]
    assert [k["key_id"] for k in listed] == [answer["key_id"]]  # one key, not two


def test_a_rotation_is_not_resent_when_it_may_have_been_delivered(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    lossy = LosesFirstAnswer(httpx.ASGITransport(app=service.app))
    with pytest.raises(httpx.ReadTimeout):
        _run(service, lossy, "kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate")
    versions = service.call("kms-admin", "GET", "/v1/admin/tenants/dept-a/keys").body["keys"][0]["versions"]
    assert versions == [1, 2]  # rotated once
    # refused outright (certainly not delivered): resent elsewhere
    _run(service, Refusing(), "kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate")
    versions = service.call("kms-admin", "GET", "/v1/admin/tenants/dept-a/keys").body["keys"][0]["versions"]
    assert versions == [1, 2, 3]


def test_a_refusal_is_not_retried_and_nothing_answering_is_a_clean_error(service: Harness) -> None:
    with pytest.raises(ClientError) as refused:
        _run(service, httpx.ASGITransport(app=service.app), "dept-a", "POST", "/v1/sm2/sign",
             {"key_id": "k-missing", "data": b64(b"x")})
    assert (refused.value.status, refused.value.body["error"]["code"]) == (404, "key_not_found")
    with pytest.raises(ClientError) as nobody:
        _run(service, Standby(), "dept-a", "GET", "/v1/keys", second=Refusing())
    assert nobody.value.body["error"]["code"] == "no_endpoint"
    assert json.dumps(nobody.value.body)  # serialisable for the caller's log
    assert asyncio.iscoroutinefunction(FailoverClient.request)

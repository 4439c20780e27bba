"""A calling system's client, run inside another host's network namespace (`ip netns exec`).

Reads a JSON job on stdin ({base_url, ca_file, keys: {system: hex}}), drives the deployed service over the
peer link like a department system would, and prints one JSON object of observations for the test to judge.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from typing import Any

import httpx

from xzgov.cryptosvc.client import Client, ClientError


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _scenario(job: dict[str, Any]) -> dict[str, Any]:
    keys = {name: bytes.fromhex(value) for name, value in job["keys"].items()}
    seen: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=job["base_url"], verify=job["ca_file"], timeout=20) as http:
        admin = Client(http, "kms-admin", keys["kms-admin"])
        dept_a = Client(http, "dept-a", keys["dept-a"])
        dept_b = Client(http, "dept-b", keys["dept-b"])
        seen["health"] = (await http.get("/health")).status_code
        kid = (await admin.post("/v1/admin/tenants/dept-a/keys", {"type": "sm2"}))["key_id"]
        sm4 = (await admin.post("/v1/admin/tenants/dept-a/keys", {"type": "sm4"}))["key_id"]
        seen["public_key"] = (await dept_a.get(f"/v1/keys/{kid}/public-key"))["public_key"]
        signature = (await dept_a.post("/v1/sm2/sign", {"key_id": kid, "data": _b64(b"doc"), "uid": "ALICE123"}))[
            "signature"]
        seen["signature"] = signature
        seen["verified"] = (await dept_a.post("/v1/sm2/verify", {"key_id": kid, "data": _b64(b"doc"),
                                                                 "signature": signature, "uid": "ALICE123"}))["valid"]
        sealed = await dept_a.post("/v1/sm4/encrypt", {"key_id": sm4, "plaintext": _b64(b"x" * 4096)})
        opened = await dept_a.post("/v1/sm4/decrypt", {"envelope": sealed["envelope"]})
        seen["sm4_roundtrip"] = base64.b64decode(opened["plaintext"]) == b"x" * 4096
        try:
            await dept_b.post("/v1/sm2/sign", {"key_id": kid, "data": _b64(b"stolen")})
            seen["cross_tenant"] = "accepted"
        except ClientError as error:
            seen["cross_tenant"] = [error.status, error.body["error"]["code"]]
        try:
            await dept_a.post("/v1/admin/tenants/dept-a/keys", {"type": "sm4"})
            seen["tenant_admin"] = "accepted"
        except ClientError as error:
            seen["tenant_admin"] = [error.status, error.body["error"]["code"]]
        await admin.request("POST", "/v1/admin/audit/checkpoint")
    return seen


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(asyncio.run(_scenario(job)), sys.stdout)


if __name__ == "__main__":
    main()

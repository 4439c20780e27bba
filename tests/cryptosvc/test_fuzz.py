"""Hostile bodies on every POST operation of the OpenAPI description: always an error object with a 4xx,
never a 5xx or a traceback (a light stand-in for schemathesis, which is not installed)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cryptosvc.conftest import Harness

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=80),
                     st.sampled_from(["", "AAAA", "@@", "0" * 64, "k-nope", "MEQCIA==", "1234567812345678"]))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                                            inner, max_size=3),
                       max_leaves=6)
_fields = st.sampled_from(["key_id", "data", "digest", "signature", "uid", "plaintext", "ciphertext", "aad",
                           "envelope", "mac", "key_version", "type", "label"])
_bodies = st.dictionaries(_fields, _values, max_size=6)


def test_every_post_rejects_garbage_cleanly(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    paths = [p for p, ops in service.app.openapi()["paths"].items() if "post" in ops]
    paths = [p.replace("{tenant}", "dept-a").replace("{key_id}", kid) for p in paths]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(paths), body=_bodies, system=st.sampled_from(["dept-a", "dept-b", "kms-admin"]))
    def check(path: str, body: dict[str, Any], system: str) -> None:
        if "key_id" in body and isinstance(body["key_id"], str) and body["key_id"] == "":
            body["key_id"] = kid
        response = service.call(system, "POST", path, body)
        assert response.status < 500, (path, body, response.body)
        if response.status >= 400:
            assert response.code, response.body

    check()
    raw = service.call("dept-a", "POST", "/v1/sm2/sign", None)
    assert raw.status == 422 and raw.code == "invalid_request"
    assert json.dumps(raw.body)

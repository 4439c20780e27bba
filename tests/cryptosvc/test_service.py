"""The crypto service end to end in process: operations, authentication, tenancy, errors, audit."""

from __future__ import annotations

import base64
import json
import time

from tests.cryptosvc.conftest import Harness, b64
from xzgov.crypto import keys, sm2, sm3, sm4
from xzgov.cryptosvc import audit


def test_health_and_openapi(service: Harness) -> None:
    assert service.raw("GET", "/health").body == {"status": "ok", "engine": sm2.ENGINE}
    document = service.app.openapi()  # built in process: not served (test_limits.py)
    for path in ("/v1/sm2/sign", "/v1/sm2/sign-digest", "/v1/sm2/verify", "/v1/sm2/verify-digest",
                 "/v1/sm2/encrypt", "/v1/sm2/decrypt", "/v1/sm4/encrypt", "/v1/sm4/decrypt", "/v1/sm3/digest",
                 "/v1/sm3/hmac", "/v1/sm3/hmac-verify", "/v1/random", "/v1/keys",
                 "/v1/keys/{key_id}/public-key", "/v1/admin/tenants/{tenant}/keys",
                 "/v1/admin/tenants/{tenant}/keys/{key_id}/rotate", "/v1/admin/tenants/{tenant}/keys/{key_id}"):
        assert path in document["paths"], path


def test_sm2_sign_verify_and_interop(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    signed = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"doc"), "uid": "ALICE123"})
    assert signed.status == 200, signed.body
    pem = service.call("dept-a", "GET", f"/v1/keys/{kid}/public-key").body["public_key"]
    public = keys.public_key_from_pem(pem)
    signature = base64.b64decode(signed.body["signature"])
    assert sm2.verify(public, b"doc", signature, uid=b"ALICE123")  # independent of the service
    ok = service.call("dept-a", "POST", "/v1/sm2/verify",
                      {"key_id": kid, "data": b64(b"doc"), "signature": signed.body["signature"], "uid": "ALICE123"})
    assert ok.body == {"valid": True}
    bad = service.call("dept-a", "POST", "/v1/sm2/verify",
                       {"key_id": kid, "data": b64(b"doc"), "signature": signed.body["signature"]})
    assert bad.body == {"valid": False}
    e = sm2.message_digest(public, b"digest me")
    by_digest = service.call("dept-a", "POST", "/v1/sm2/sign-digest", {"key_id": kid, "digest": e.hex()})
    assert sm2.verify(public, b"digest me", base64.b64decode(by_digest.body["signature"]))
    verified = service.call("dept-a", "POST", "/v1/sm2/verify-digest",
                            {"key_id": kid, "digest": e.hex(), "signature": by_digest.body["signature"]})
    assert verified.body == {"valid": True}
    garbage = service.call("dept-a", "POST", "/v1/sm2/verify-digest",
                           {"key_id": kid, "digest": e.hex(), "signature": b64(b"\x30\x00")})
    assert garbage.body == {"valid": False}


def test_sm2_encrypt_decrypt(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2", usage="encrypt")
    sealed = service.call("dept-a", "POST", "/v1/sm2/encrypt", {"key_id": kid, "plaintext": b64(b"secret")})
    opened = service.call("dept-a", "POST", "/v1/sm2/decrypt", {"key_id": kid, "ciphertext": sealed.body["ciphertext"]})
    assert base64.b64decode(opened.body["plaintext"]) == b"secret"
    altered = bytearray(base64.b64decode(sealed.body["ciphertext"]))
    altered[-1] ^= 1
    refused = service.call("dept-a", "POST", "/v1/sm2/decrypt", {"key_id": kid, "ciphertext": b64(bytes(altered))})
    assert (refused.status, refused.code) == (400, "decryption_failed")
    empty = service.call("dept-a", "POST", "/v1/sm2/encrypt", {"key_id": kid, "plaintext": ""})
    assert (empty.status, empty.code) == (400, "invalid_length")


def test_sm4_envelope(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm4")
    data = bytes(range(256)) * 16
    sealed = service.call("dept-a", "POST", "/v1/sm4/encrypt",
                          {"key_id": kid, "plaintext": b64(data), "aad": b64(b"ctx")})
    assert sealed.status == 200, sealed.body
    envelope = sealed.body["envelope"]
    opened = service.call("dept-a", "POST", "/v1/sm4/decrypt", {"envelope": envelope, "aad": b64(b"ctx")})
    assert base64.b64decode(opened.body["plaintext"]) == data
    wrong_aad = service.call("dept-a", "POST", "/v1/sm4/decrypt", {"envelope": envelope, "aad": b64(b"other")})
    assert (wrong_aad.status, wrong_aad.code) == (400, "decryption_failed")
    raw = bytearray(base64.b64decode(envelope))
    raw[-20] ^= 1
    tampered = service.call("dept-a", "POST", "/v1/sm4/decrypt", {"envelope": b64(bytes(raw)), "aad": b64(b"ctx")})
    assert tampered.code == "decryption_failed"
    malformed = service.call("dept-a", "POST", "/v1/sm4/decrypt", {"envelope": b64(b"nonsense")})
    assert (malformed.status, malformed.code) == (400, "malformed_envelope")
    # another tenant cannot open it, and is told nothing more than "no such key"
    other = service.call("dept-b", "POST", "/v1/sm4/decrypt", {"envelope": envelope, "aad": b64(b"ctx")})
    assert (other.status, other.code) == (404, "key_not_found")


def test_sm3_hmac_random(service: Harness) -> None:
    digest = service.call("dept-a", "POST", "/v1/sm3/digest", {"data": b64(b"abc")})
    assert digest.body["digest"] == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    kid = service.create_key("dept-a", "hmac-sm3")
    mac = service.call("dept-a", "POST", "/v1/sm3/hmac", {"key_id": kid, "data": b64(b"m")}).body["mac"]
    ok = service.call("dept-a", "POST", "/v1/sm3/hmac-verify", {"key_id": kid, "data": b64(b"m"), "mac": mac})
    assert ok.body == {"valid": True}
    no = service.call("dept-a", "POST", "/v1/sm3/hmac-verify", {"key_id": kid, "data": b64(b"n"), "mac": mac})
    assert no.body == {"valid": False}
    rnd = service.call("dept-a", "GET", "/v1/random", query="length=48")
    assert len(base64.b64decode(rnd.body["random"])) == 48
    too_many = service.call("dept-a", "GET", "/v1/random", query="length=100000")
    assert (too_many.status, too_many.code) == (400, "invalid_length")


def test_key_lifecycle_and_roles(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    first = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"v1")}).body
    rotated = service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/rotate")
    assert rotated.body["current_version"] == 2 and rotated.body["versions"] == [1, 2]
    second = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"v2")}).body
    assert (first["key_version"], second["key_version"]) == (1, 2)
    old = service.call("dept-a", "POST", "/v1/sm2/verify", {"key_id": kid, "key_version": 1, "data": b64(b"v1"),
                                                            "signature": first["signature"]})
    assert old.body == {"valid": True}
    listed = service.call("dept-a", "GET", "/v1/keys").body["keys"]
    assert [k["key_id"] for k in listed] == [kid]
    assert "wrapped" not in json.dumps(listed)
    # roles: a tenant cannot administer, an administrator cannot use keys
    assert service.call("dept-a", "POST", "/v1/admin/tenants/dept-a/keys", {"type": "sm4"}).code == "forbidden"
    assert service.call("kms-admin", "POST", "/v1/sm2/sign", {"key_id": kid, "data": ""}).code == "forbidden"
    assert service.call("kms-admin", "POST", "/v1/admin/tenants/nobody/keys", {"type": "sm4"}).code == "unknown_tenant"
    # tenancy: dept-b cannot use or see dept-a's key
    stolen = service.call("dept-b", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert (stolen.status, stolen.code) == (404, "key_not_found")
    assert service.call("dept-b", "GET", "/v1/keys").body == {"keys": []}
    assert service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-b/keys/{kid}/disable").code == "key_not_found"
    # disable, enable, destroy
    service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/disable")
    disabled = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert (disabled.status, disabled.code) == (409, "key_disabled")
    service.call("kms-admin", "POST", f"/v1/admin/tenants/dept-a/keys/{kid}/enable")
    assert service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")}).status == 200
    destroyed = service.call("kms-admin", "DELETE", f"/v1/admin/tenants/dept-a/keys/{kid}")
    assert destroyed.body["state"] == "destroyed"
    gone = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    assert (gone.status, gone.code) == (410, "key_destroyed")
    store = json.loads(service.config.keystore_path.read_text())
    assert all("wrapped" not in v for v in store["keys"][kid]["versions"].values())
    wrong_type = service.call("dept-a", "POST", "/v1/sm4/encrypt", {"key_id": service.create_key("dept-a", "sm2"),
                                                                    "plaintext": ""})
    assert (wrong_type.status, wrong_type.code) == (409, "wrong_key_type")


def test_keystore_holds_no_plain_key_material(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm4")
    record = json.loads(service.config.keystore_path.read_text())["keys"][kid]
    wrapped = base64.b64decode(record["versions"]["1"]["wrapped"])
    secret = sm4.gcm_decrypt(service.config.master_key, wrapped,
                             f"xzgov-cryptosvc/key/v1|dept-a|{kid}|1|sm4".encode())
    assert len(secret) == 16 and secret not in service.config.keystore_path.read_bytes()
    assert oct(service.config.keystore_path.stat().st_mode & 0o777) == "0o600"
    moved = f"xzgov-cryptosvc/key/v1|dept-b|{kid}|1|sm4".encode()
    try:
        sm4.gcm_decrypt(service.config.master_key, wrapped, moved)
        raise AssertionError("a wrapped key moved to another tenant must not unwrap")
    except sm4.SM4AuthenticationError:
        pass


def test_authentication_failures(service: Harness) -> None:
    path = "/v1/sm3/digest"
    body = json.dumps({"data": b64(b"x")}).encode()
    assert service.raw("POST", path, body).code == "unauthenticated"
    from xzgov.cryptosvc.auth import sign_request

    headers = {"content-type": "application/json", **sign_request("dept-a", service.keys["dept-a"], "POST", path, body)}
    assert service.raw("POST", path, body, headers).status == 200
    replay = service.raw("POST", path, body, headers)
    assert (replay.status, replay.code) == (401, "replayed_request")
    altered = sign_request("dept-a", service.keys["dept-a"], "POST", path, body)
    assert service.raw("POST", path, body + b" ", altered).code == "bad_signature"
    old = sign_request("dept-a", service.keys["dept-a"], "POST", path, body, timestamp=int(time.time()) - 3600)
    assert service.raw("POST", path, body, old).code == "expired_request"
    stranger = sign_request("mallory", b"k" * 32, "POST", path, body)
    assert service.raw("POST", path, body, stranger).code == "unknown_system"
    other_key = sign_request("dept-a", service.keys["dept-b"], "POST", path, body)
    assert service.raw("POST", path, body, other_key).code == "bad_signature"
    bad_nonce = sign_request("dept-a", service.keys["dept-a"], "POST", path, body, nonce="short")
    assert service.raw("POST", path, body, bad_nonce).code == "bad_nonce"


def test_bad_input_is_a_clear_4xx(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    not_b64 = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": "@@@"})
    assert (not_b64.status, not_b64.code) == (400, "invalid_base64")
    missing = service.call("dept-a", "POST", "/v1/sm2/sign", {"data": b64(b"x")})
    assert (missing.status, missing.code) == (422, "invalid_request")
    assert "key_id" in missing.body["error"]["message"]
    unknown = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": "k-nope", "data": b64(b"x")})
    assert (unknown.status, unknown.code) == (404, "key_not_found")
    digest = service.call("dept-a", "POST", "/v1/sm2/sign-digest", {"key_id": kid, "digest": "zz"})
    assert digest.status == 422
    big = {"data": b64(b"x" * (service.config.max_body_bytes + 10))}
    too_big = service.call("dept-a", "POST", "/v1/sm3/digest", big)
    assert (too_big.status, too_big.code) == (413, "payload_too_large")
    headers = {"content-type": "application/json"}
    from xzgov.cryptosvc.auth import sign_request

    headers.update(sign_request("dept-a", service.keys["dept-a"], "POST", "/v1/sm3/digest", b"{not json"))
    broken = service.raw("POST", "/v1/sm3/digest", b"{not json", headers)
    assert (broken.status, broken.code) == (422, "invalid_request")


def test_audit_chain_verifies_and_locates_a_break(service: Harness) -> None:
    kid = service.create_key("dept-a", "sm2")
    for index in range(12):
        service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(bytes([index]))})
    service.call("dept-b", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})  # refused, audited
    service.call("kms-admin", "POST", "/v1/admin/audit/checkpoint")
    signer = keys.load_public_key(service.directory / "etc" / "audit-signing.pub.pem")
    path = service.config.audit_path
    report = audit.verify_chain(path, [signer])
    assert report.ok, report.problem
    assert report.checkpoints >= 3 and report.unsigned_tail == 0
    lines = path.read_bytes().splitlines()
    records = [json.loads(line) for line in lines]
    assert any(r.get("code") == "key_not_found" and r.get("system") == "dept-b" for r in records)
    text = path.read_text()
    assert "BEGIN" not in text and b64(b"x") not in text  # no keys, no data
    # a wrong signer is refused
    assert not audit.verify_chain(path, [sm2.SM2PrivateKey.generate().public_key]).ok
    # tamper with line 7: the report names line 7
    record = json.loads(lines[6])
    record["system"] = "dept-b"
    tampered = [*lines[:6], audit.canonical(record), *lines[7:]]
    path.write_bytes(b"\n".join(tampered) + b"\n")
    broken = audit.verify_chain(path, [signer])
    assert (broken.ok, broken.break_line) == (False, 7)
    # recomputing the hash moves the break to the next line
    record["hash"] = audit.record_hash(record)
    tampered[6] = audit.canonical(record)
    path.write_bytes(b"\n".join(tampered) + b"\n")
    assert audit.verify_chain(path, [signer]).break_line == 8
    # a deleted line
    path.write_bytes(b"\n".join(lines[:3] + lines[4:]) + b"\n")
    deleted = audit.verify_chain(path, [signer])
    assert deleted.break_line == 4 and "sequence" in deleted.problem
    assert sm3.sm3_hex(b"") != ""  # keep the import honest


def test_an_administrator_manages_tenants_keys_only(service: Harness) -> None:
    """A review's mutation (the role half of the admin check dropped) went unnoticed: the administrator created keys
    under an administrator system's own name, kept in the store for a system that may later become a tenant."""
    for name in ("kms-admin", "nobody"):
        refused = service.call("kms-admin", "POST", f"/v1/admin/tenants/{name}/keys", {"type": "sm4"})
        assert (refused.status, refused.code) == (404, "unknown_tenant"), name
    assert service.call("kms-admin", "POST", "/v1/admin/tenants/dept-a/keys", {"type": "sm4"}).status == 201


def test_the_documented_limits_are_inclusive(service: Harness) -> None:
    """4,096 random bytes and a 1,024-byte distinguishing ID are allowed; one more is refused (the limits were
    never tested at the edge: an off-by-one passed every test)."""
    most = service.call("dept-a", "GET", "/v1/random", query="length=4096")
    assert len(base64.b64decode(most.body["random"])) == 4096
    assert service.call("dept-a", "GET", "/v1/random", query="length=4097").code == "invalid_length"
    kid = service.create_key("dept-a", "sm2")
    for uid, code in (("中" * 341 + "a", ""), ("a" * 1024, ""), ("中" * 342, "invalid_uid")):
        signed = service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"m"), "uid": uid})
        assert signed.code == code and (signed.status == 200) is (not code), (len(uid.encode()), signed.body)

"""The crypto service's inputs at their worst: JSON (and YAML) nested deeper than the parser goes in
the audit log, the key store, the configuration and an answer; ``init`` with names the service would
later refuse, or the same system twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.cli import CliResult
from tests.cryptosvc.conftest import Harness, b64
from xzgov.core.errors import UsageError
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey
from xzgov.cryptosvc.audit import AuditLog, verify_chain
from xzgov.cryptosvc.client import Client
from xzgov.cryptosvc.config import load_config, parse_systems
from xzgov.cryptosvc.errors import ConfigError, ServiceError
from xzgov.cryptosvc.keystore import KeyStore
from xzgov.cryptosvc.setup import write_service_files

DEEP = b"[" * 100_000


# ------------------------------------------------------------------------------------ audit-verify
def test_audit_verify_deeply_nested_line_is_a_broken_line(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    log = tmp_path / "a.jsonl"
    log.write_bytes(DEEP + b"\n")
    pub = tmp_path / "k.pub.pem"
    keys.write_public_key(pub, SM2PrivateKey.generate().public_key)
    result = cli("cryptosvc", "audit-verify", log, "--trusted-key", pub)
    assert result.code == 1, result.text
    assert "internal error" not in result.text
    assert "line 1" in result.out and "nested too deeply" in result.out
    assert verify_chain(log, []).break_line == 1


def test_audit_verify_names_a_deep_line_inside_a_good_chain(service: Harness, cli: Callable[..., CliResult]) -> None:
    kid = service.create_key("dept-a", "sm2")
    service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(b"x")})
    log = service.config.audit_path
    good = log.read_bytes().splitlines()
    log.write_bytes(b"\n".join([*good[:2], b'{"seq":3,"x":' + DEEP, *good[2:]]) + b"\n")
    pub = service.directory / "etc" / "audit-signing.pub.pem"
    result = cli("cryptosvc", "audit-verify", log, "--trusted-key", pub, "--format", "json")
    assert result.code == 1, result.text
    assert '"line": 3' in result.out and "nested too deeply" in result.out


# --------------------------------------------------------------------------------- request bodies
@pytest.mark.parametrize("body", [DEEP, b'{"data":' + DEEP], ids=["array", "in-a-field"])
def test_a_deeply_nested_signed_body_is_an_error_object(service: Harness, body: bytes) -> None:
    from xzgov.cryptosvc.auth import sign_request

    headers = sign_request("dept-a", service.keys["dept-a"], "POST", "/v1/sm3/digest", body, "")
    headers["content-type"] = "application/json"
    response = service.raw("POST", "/v1/sm3/digest", body, headers)
    assert response.status == 400, response.body
    assert response.code == "invalid_request" and "nested too deeply" in response.body["error"]["message"]


def test_an_unknown_path_is_an_error_object_too(service: Harness) -> None:
    response = service.call("dept-a", "GET", "/v1/nowhere")
    assert response.status == 404 and response.code == "not_found"


# ----------------------------------------------------------------------------- the service's own files
@pytest.mark.parametrize("bad", [DEEP, b"[1]", b"42"], ids=["deep", "array", "number"])
def test_the_audit_log_resumes_past_a_bad_last_line(tmp_path: Path, bad: bytes) -> None:
    key = SM2PrivateKey.generate()
    path = tmp_path / "audit.jsonl"
    AuditLog(path, key, checkpoint_every=3).close()
    with path.open("ab") as handle:
        handle.write(bad + b"\n")
    log = AuditLog(path, key, checkpoint_every=3)  # was RecursionError / AttributeError
    log.close()


def test_a_deeply_nested_key_store_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "keystore.json"
    path.write_bytes(DEEP)
    with pytest.raises(ServiceError) as raised:
        KeyStore(path, bytes(16))
    assert raised.value.status == 503 and raised.value.code == "keystore_unavailable"


def test_deeply_nested_configuration_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_systems(b"[" * 20_000, "systems.yml")
    config = tmp_path / "config.yml"
    config.write_bytes(b"[" * 20_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(config)


def test_a_deeply_nested_answer_is_a_bad_answer(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=DEEP))

    async def ask() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            await Client(http, "dept-a", bytes(32)).get("/v1/keys")

    with pytest.raises(ValueError, match="nested too deeply"):
        asyncio.run(ask())


# ------------------------------------------------------------------------------------------- init
@pytest.mark.parametrize("value", ["Bad Name/..", "../etc", "UPPER", "-dash-first", "", ":admin", "a" * 64,
                                   "dept a", "a:root", "a:"])
def test_init_refuses_what_the_service_would_refuse(
    tmp_path: Path, cli: Callable[..., CliResult], value: str
) -> None:
    etc = tmp_path / "etc"
    result = cli("cryptosvc", "init", etc, "--state-dir", tmp_path / "state", "--system", "dept-a",
                 "--system", value)
    if value == "a:":  # NAME: with an empty role is NAME (a tenant), as before
        assert result.code == 0, result.text
        assert set(load_config(etc / "config.yml").systems) == {"dept-a", "a"}
        return
    assert result.code == 2, result.text
    assert "--system" in result.text and repr(value) in result.text and "hint:" in result.text
    assert not etc.exists()  # nothing written, not even the directory


def test_init_and_the_systems_file_share_one_name_rule() -> None:
    from xzgov.cryptosvc.config import is_system_name
    from xzgov.cryptosvc.setup import parse_system_options

    names = ["a", "dept-portal", "kms-admin", "0x", "a" * 63, "a" * 64, "A", "a_b", "a.b", "-a", "a/b", "", "中文"]
    for name in names:
        document = f"systems:\n  '{name}': {{role: tenant, hmac_key: '{'ab' * 32}'}}\n".encode()
        try:
            parse_systems(document, "systems.yml")
            loads = True
        except ConfigError:
            loads = False
        try:
            parse_system_options([name])
            inits = True
        except UsageError:
            inits = False
        assert loads == inits == is_system_name(name), name


def test_duplicate_systems_are_refused() -> None:
    from xzgov.cryptosvc.setup import parse_system_options

    with pytest.raises(UsageError, match=r"'a:admin'.*given twice.*first as 'a'") as raised:
        parse_system_options(["a", "b", "a:admin"])
    assert raised.value.exit_code == 2
    assert raised.value.diagnostics[0].path == "--system" and raised.value.diagnostics[0].hint
    with pytest.raises(UsageError, match="given twice"):
        parse_system_options(["a", "a"])
    assert parse_system_options(["a", "kms:admin"]) == {"a": "tenant", "kms": "admin"}


def test_write_service_files_checks_before_writing(tmp_path: Path) -> None:
    from xzgov.cryptosvc.setup import check_systems

    with pytest.raises(UsageError, match="bad system name"):
        write_service_files(tmp_path / "etc", tmp_path / "state", {"ok": "tenant", "Bad Name/..": "tenant"})
    with pytest.raises(UsageError, match="role 'root'"):
        write_service_files(tmp_path / "etc", tmp_path / "state", {"ok": "root"})
    with pytest.raises(UsageError, match="no system"):
        check_systems({})
    assert not (tmp_path / "etc").exists()


def test_cli_init_refuses_a_system_given_twice(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    etc = tmp_path / "etc"
    result = cli("cryptosvc", "init", etc, "--state-dir", tmp_path / "state", "--system", "a", "--system", "a:admin")
    assert result.code == 2 and "given twice" in result.text
    assert not etc.exists()


# ------------------------------------------------------------------------------------ unsigned chains
def test_audit_verify_refuses_a_chain_no_trusted_key_signed(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """An empty file, and a chain anyone can compute without the key (a start and an admin.destroy, linked and
    hashed), were "OK", exit 0: both are broken now (the service signs a checkpoint right after its start, so
    its log always has one); --allow-unsigned checks the links of an old service's log, with the warning."""
    from xzgov.cryptosvc import audit

    service_key = SM2PrivateKey.generate()
    pub = tmp_path / "audit-signing.pub.pem"
    keys.write_public_key(pub, service_key.public_key)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = cli("cryptosvc", "audit-verify", empty, "--trusted-key", pub)
    assert result.code == 1, result.text
    assert "BROKEN" in result.out and "no record" in result.out
    forged, head = [], audit.GENESIS
    for seq, fields in enumerate(({"type": "start"}, {"type": "op", "op": "admin.destroy", "outcome": "ok"}), 1):
        record = {**fields, "seq": seq, "prev": head, "time": "2026-12-04T00:00:00Z"}
        record["hash"] = head = audit.record_hash(record)
        forged.append(audit.canonical(record))
    chain = tmp_path / "forged.jsonl"
    chain.write_bytes(b"\n".join(forged) + b"\n")
    assert audit.verify_lines(forged, {}, allow_unsigned=True).ok  # the links hold: only a signature tells
    result = cli("cryptosvc", "audit-verify", chain, "--trusted-key", pub)
    assert result.code == 1, result.text
    assert "line 3" in result.out and "no checkpoint signed by a trusted key" in result.out
    result = cli("cryptosvc", "audit-verify", chain, "--trusted-key", pub, "--allow-unsigned")
    assert result.code == 0 and "no signed checkpoint" in result.out, result.text
    # what the service writes verifies: its start is signed at once, also when it never stops cleanly
    path = tmp_path / "audit.jsonl"
    AuditLog(path, service_key, checkpoint_every=100)  # (killed: no stop record)
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["start", "checkpoint"]
    assert cli("cryptosvc", "audit-verify", path, "--trusted-key", pub).code == 0

"""``xzgov cryptosvc audit-verify``, ``init`` and ``openapi`` through the CLI dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cryptosvc.conftest import Harness, b64
from xzgov.cli.main import _dispatch
from xzgov.cryptosvc.config import load_config


def test_audit_verify_ok_and_break(service: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    kid = service.create_key("dept-a", "sm2")
    for index in range(7):
        service.call("dept-a", "POST", "/v1/sm2/sign", {"key_id": kid, "data": b64(bytes([index]))})
    log = service.config.audit_path
    pub = service.directory / "etc" / "audit-signing.pub.pem"
    assert _dispatch(["cryptosvc", "audit-verify", str(log), "--trusted-key", str(pub)]) == 0
    assert "OK:" in capsys.readouterr().out
    lines = log.read_bytes().splitlines()
    lines[4] = lines[4].replace(b'"outcome":"ok"', b'"outcome":"no"')
    log.write_bytes(b"\n".join(lines) + b"\n")
    assert _dispatch(["cryptosvc", "audit-verify", str(log), "--trusted-key", str(pub), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["break"]["line"] == 5
    assert _dispatch(["cryptosvc", "audit-verify", str(log.with_name("missing")), "--trusted-key", str(pub)]) == 2


def test_init_writes_owner_only_secrets(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    assert _dispatch(["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path / "state"),
                      "--system", "dept-a", "--system", "kms-admin:admin"]) == 0
    for name in ("master.key", "audit-signing.pem", "systems.yml"):
        assert (etc / name).stat().st_mode & 0o077 == 0
    config = load_config(etc / "config.yml")
    assert {s.role for s in config.systems.values()} == {"tenant", "admin"}
    assert _dispatch(["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path), "--system", "x"]) == 2
    (etc / "master.key").chmod(0o644)
    from xzgov.cryptosvc.errors import ConfigError

    with pytest.raises(ConfigError, match="readable by group or others"):
        load_config(etc / "config.yml")


def test_openapi_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["cryptosvc", "openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "/v1/sm4/encrypt" in document["paths"]

"""``xzgov cryptosvc audit-verify``, ``init`` and ``openapi`` through the CLI dispatcher."""

from __future__ import annotations

import json
import os
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
    umask = os.umask(0)  # the modes do not depend on the caller's umask
    try:
        assert _dispatch(["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path / "state"),
                          "--system", "dept-a", "--system", "kms-admin:admin"]) == 0
    finally:
        os.umask(umask)
    # config.yml too: a database_dsn an operator adds is the service's alone (it was 0644)
    for name in ("master.key", "audit-signing.pem", "systems.yml", "config.yml"):
        assert (etc / name).stat().st_mode & 0o077 == 0, name
    config = load_config(etc / "config.yml")
    assert {s.role for s in config.systems.values()} == {"tenant", "admin"}
    assert _dispatch(["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path), "--system", "x"]) == 2
    (etc / "master.key").chmod(0o644)
    from xzgov.cryptosvc.errors import ConfigError

    with pytest.raises(ConfigError, match="readable by group or others"):
        load_config(etc / "config.yml")


@pytest.mark.parametrize("present", ["master.key", "audit-signing.pem", "audit-signing.pub.pem", "systems.yml"])
def test_init_refuses_any_existing_file_and_writes_nothing(tmp_path: Path, present: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # only config.yml was checked: a stray audit-signing.pem gave exit 3 naming a temporary file, after a fresh
    # master.key had been written ("nothing was changed"), and every later init refused that master.key
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / present).write_text("kept\n")
    command = ["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path / "state"), "--system", "dept-a"]
    assert _dispatch(command) == 2
    said = capsys.readouterr().err
    assert f"{etc / present} exists" in said and ".tmp" not in said
    assert sorted(p.name for p in etc.iterdir()) == [present] and (etc / present).read_text() == "kept\n"
    (etc / present).unlink()
    assert _dispatch(command) == 0
    assert sorted(p.name for p in etc.iterdir()) == sorted(
        ["master.key", "audit-signing.pem", "audit-signing.pub.pem", "systems.yml", "config.yml"])


def test_init_that_fails_midway_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xzgov.core import fsutil

    real = fsutil.install_file
    calls: list[str] = []

    def fail_fourth(folder: int, temporary: str, name: str, **kwargs: object) -> None:
        calls.append(name)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real(folder, temporary, name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fsutil, "install_file", fail_fourth)
    etc = tmp_path / "etc"
    assert _dispatch(["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path / "s"), "--system", "a"]) == 3
    assert list(etc.iterdir()) == []


@pytest.mark.parametrize(("given", "said"), [
    (["--ssl-certfile", "c.pem"], "--ssl-certfile needs --ssl-keyfile"),  # one alone: it served plain HTTP
    (["--ssl-keyfile", "k.pem"], "--ssl-keyfile needs --ssl-certfile"),
    (["--ssl-certfile", "/nonexistent.pem", "--ssl-keyfile", "/nonexistent.pem"], "do not load"),  # was exit 3
    (["--port", "99999"], "--port 99999 is not a port"),  # was a uvicorn traceback, exit 3
    (["--port", "-5"], "--port -5 is not a port"),
])
def test_serve_refuses_what_it_cannot_listen_with(given: list[str], said: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["cryptosvc", "serve", "--config", "config.yml", *given]) == 2
    assert said in capsys.readouterr().err
    from xzgov.cryptosvc.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["--config", "config.yml", *given])
    assert stopped.value.code == 2


def test_openapi_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _dispatch(["cryptosvc", "openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "/v1/sm4/encrypt" in document["paths"]


def test_serve_with_a_database_that_does_not_answer_exits_3_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the schema was created in uvicorn's start-up: a database down at start was a traceback, then a restart loop
    import yaml

    from tests.cryptosvc.conftest import SYSTEMS
    from xzgov.cryptosvc.__main__ import main
    from xzgov.cryptosvc.setup import write_service_files

    write_service_files(tmp_path / "etc", tmp_path / "state", SYSTEMS)
    config_file = tmp_path / "etc" / "config.yml"
    document = yaml.safe_load(config_file.read_text())
    document.update(backend="postgresql", database_dsn="host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2")
    config_file.write_text(yaml.safe_dump(document))
    assert main(["--config", str(config_file), "--no-owner-check", "--port", "18443"]) == 3
    err = capsys.readouterr().err
    assert "xzgov-cryptosvc: cannot start: the key database is unavailable" in err and "database_dsn" in err
    assert "Traceback" not in err

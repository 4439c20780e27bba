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

    def create_key(self, tenant: str, key_type: str, usage: str | None = None) -> str:
        """A new key (``usage``: sm2 only, ``sign`` when not given)."""
        payload = {"type": key_type} if usage is None else {"type": key_type, "usage": usage}
        response = self.call("kms-admin", "POST", f"/v1/admin/tenants/{tenant}/keys", payload)
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


# ---------------------------------------------------------------------------------- a local PostgreSQL

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL 15 cluster on a Unix socket (trust authentication), run as user postgres."""

    directory: Path
    socket_dir: Path

    def dsn(self, dbname: str = "postgres", **options: str) -> str:
        extra = "".join(f" {k}={v}" for k, v in options.items())
        return f"host={self.socket_dir} dbname={dbname} user=postgres{extra}"

    def new_database(self) -> str:
        import secrets as _secrets

        import psycopg

        name = "t_" + _secrets.token_hex(6)
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def _local_postgres_unavailable() -> str | None:
    import os
    import pwd

    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL 15 is not installed on the runner (apt-get install postgresql-15)"
    if os.geteuid() != 0:
        return "the local PostgreSQL fixture runs the server as user postgres: needs root"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user on the runner"
    return None


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    import shutil
    import subprocess
    import tempfile

    reason = _local_postgres_unavailable()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="xzgov-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(sockets, "postgres")

    def as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              check=False, timeout=120)

    made = as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8")
    assert made.returncode == 0, made.stderr
    started = as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start", "-o",
                          f"-c listen_addresses='' -c unix_socket_directories={sockets} -c fsync=off")
    assert started.returncode == 0, started.stderr + (root / "log").read_text()
    try:
        yield LocalPostgres(root, sockets)
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_service(tmp_path: Path, local_postgres: LocalPostgres) -> Iterator[Harness]:
    """The service with ``backend: postgresql`` on a fresh database of the local cluster."""
    import yaml

    from xzgov.cryptosvc.pgstore import Database

    dbname = local_postgres.new_database()
    Database(local_postgres.dsn(dbname)).create_schema()
    base = tmp_path / "pg"  # beside the file-backend `service` fixture's tmp_path/etc
    keys = write_service_files(base / "etc", base / "state", SYSTEMS, checkpoint_every=5)
    config_file = base / "etc" / "config.yml"
    document = yaml.safe_load(config_file.read_text())
    document.update(backend="postgresql", database_dsn=local_postgres.dsn(dbname))
    config_file.write_text(yaml.safe_dump(document))
    harness = Harness(load_config(config_file), keys, base)
    yield harness
    harness.close()

"""The replication password reaches PostgreSQL only as a SCRAM-SHA-256 verifier (no host booted).

``ALTER ROLE xzgov_replicator WITH PASSWORD '<plaintext>'`` was sent on every run: with log_statement=ddl/all or
on an error the server log kept the password. tasks/database.yml now sends the verifier computed on the host by
files/scram_verifier.py, and only when the stored verifier does not verify the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.roles.render import role_templar, trust_as_template

ROLE = Path(__file__).resolve().parents[2] / "roles" / "crypto_service"
SCRIPT = ROLE / "files" / "scram_verifier.py"
PASSWORD = "0123456789abcdef0123456789abcdef0123456789abcdef"  # the role's `openssl rand -hex 24`


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("scram_verifier", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _independent(password: str, salt: bytes, iterations: int = 4096) -> str:
    """RFC 5802 section 3 / RFC 7677, written out here, in PostgreSQL's rolpassword format."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    enc = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{enc(salt).decode()}${enc(stored_key).decode()}:{enc(server_key).decode()}"


def test_verifier_matches_the_rfc_algorithm() -> None:
    scram = _module()
    salt = bytes(range(16))
    assert scram.verifier(PASSWORD, salt) == _independent(PASSWORD, salt)
    fresh = scram.verifier(PASSWORD)
    method, iterations_salt, _keys = fresh.split("$")
    assert method == "SCRAM-SHA-256" and iterations_salt.startswith("4096:")
    assert len(base64.b64decode(iterations_salt.split(":")[1])) == 16
    assert fresh != scram.verifier(PASSWORD), "the salt is random"
    assert PASSWORD not in fresh


def test_verifier_against_the_rfc_7677_exchange() -> None:
    """RFC 7677 section 3: user "user", password "pencil"; the keys must reproduce its proof and signature."""
    scram = _module()
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    _, _, keys = scram.verifier("pencil", salt).split("$")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}".encode()
    server_signature = hmac.new(server_key, auth, hashlib.sha256).digest()
    assert base64.b64encode(server_signature).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_key = bytes(a ^ b for a, b in zip(proof, hmac.new(stored_key, auth, hashlib.sha256).digest(), strict=False))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_stored_verifier_is_checked_not_resent() -> None:
    scram = _module()
    stored = _independent(PASSWORD, b"\x01" * 16)
    assert scram.verifies(stored, PASSWORD)
    assert not scram.verifies(stored, PASSWORD + "x")
    assert not scram.verifies("", PASSWORD)
    assert not scram.verifies("md5" + "0" * 32, PASSWORD)
    assert not scram.verifies("SCRAM-SHA-256$4096:!!$x:y", PASSWORD)


def _run(stdin: str) -> subprocess.CompletedProcess[str]:
    """As the task runs it: python3 -I -c <script>, stored verifier and password on stdin."""
    return subprocess.run([sys.executable, "-I", "-c", SCRIPT.read_text(encoding="utf-8")], input=stdin,
                          capture_output=True, text=True, check=False, timeout=60)


def test_script_prints_nothing_when_the_stored_verifier_verifies() -> None:
    assert _run(f"{_independent(PASSWORD, b'x' * 16)}\n{PASSWORD}").stdout == ""
    new = _run(f"\n{PASSWORD}")
    assert new.returncode == 0 and _module().verifies(new.stdout.strip(), PASSWORD)
    assert PASSWORD not in new.stdout + new.stderr
    changed = _run(f"{_independent('old-password', b'x' * 16)}\n{PASSWORD}").stdout.strip()
    assert changed.startswith("SCRAM-SHA-256$4096:") and _module().verifies(changed, PASSWORD)
    assert _run("\n").returncode != 0


def _tasks() -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in yaml.safe_load((ROLE / "tasks" / "database.yml").read_text())}


def _sql(verifier_stdout: str) -> str:
    task = _tasks()["Create the replication role, the service's role and its database (primary)"]
    host = {"crypto_service_db_replication_secret": {"content": base64.b64encode(PASSWORD.encode()).decode()},
            "crypto_service_db_replicator_stored": {"stdout": ""},
            "crypto_service_db_replicator_verifier": {"stdout": verifier_stdout}}
    stdin = task["ansible.builtin.command"]["stdin"]
    return str(role_templar("crypto_service", host).template(trust_as_template(stdin)))


@pytest.mark.parametrize("stdout", ["", "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$c3RvcmVk:c2VydmVy"])
def test_rendered_sql_never_holds_the_password(stdout: str) -> None:
    sql = _sql(stdout)
    assert PASSWORD not in sql
    assert "CREATE ROLE xzgov_replicator" in sql


def test_rendered_sql_sends_the_verifier_only_when_needed() -> None:
    assert "ALTER ROLE xzgov_replicator" not in _sql("")
    verifier = "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$c3RvcmVk:c2VydmVy"
    assert f"ALTER ROLE xzgov_replicator WITH PASSWORD '{verifier}';" in _sql(verifier + "\n")
    assert "ALTER ROLE" not in _sql("oops'; DROP ROLE x; --")


def test_tasks_handling_the_password_are_no_log() -> None:
    tasks = _tasks()
    for name, task in tasks.items():
        text = yaml.safe_dump(task)
        if "replication_secret" in text or "replicator_stored" in text or "replicator_verifier" in text:
            assert task.get("no_log") is True, name

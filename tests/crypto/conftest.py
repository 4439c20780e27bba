"""Fixtures for the crypto tests: OpenSSL CLI, fresh keys, the CLI through ``_dispatch``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from xzgov.crypto import sm2
from xzgov.crypto.vault import VaultKey, write_vault_key


@pytest.fixture(autouse=True)
def _no_ambient_trust_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trust store configured in the developer's environment must not change test outcomes."""
    monkeypatch.delenv("XZGOV_TRUSTED_KEYS", raising=False)


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl") or "/usr/bin/openssl"
    if not Path(path).exists():
        pytest.skip("openssl CLI not installed")
    return path


def run(*args: str | Path, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(a) for a in args], input=input, capture_output=True, check=False)


@pytest.fixture(scope="session")
def key() -> sm2.SM2PrivateKey:
    return sm2.SM2PrivateKey.generate()


@pytest.fixture
def vault_key_file(tmp_path: Path) -> tuple[VaultKey, Path]:
    key = VaultKey.generate()
    path = tmp_path / "vault.key"
    write_vault_key(path, key)
    return key, path



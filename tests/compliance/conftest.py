"""Fixtures for the compliance scan tests: a writable copy of the fixture register and a signing key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey

FIXTURE = Path(__file__).parent / "fixtures" / "register"

#: Every planted violation: system → the rules that must fail or be partial there (and nowhere else).
PLANTED: dict[str, set[str]] = {
    "bad-mfa": {"XZ-MAN-AUTH-MFA"},
    "bad-internet": {"XZ-MAN-INTERNET-ZONE"},
    "bad-flows": {"XZ-MAN-DECLARED-FLOWS"},
    "bad-pi": {"XZ-MAN-PI-STORAGE", "XZ-MAN-DATASET-PROTECTION"},  # its data sets lack integrity too
    "bad-algo": {"XZ-MAN-CRYPTO-ALGORITHMS"},
    "bad-product": {"XZ-MAN-CRYPTO-PRODUCTS"},
    "bad-continuity": {"XZ-MAN-CONTINUITY"},
    "bad-retention": {"XZ-MAN-LOG-RETENTION"},
    "bad-backup": {"XZ-RES-BACKUP-RPO"},
    "bad-filing": {"XZ-MAN-FILING"},
    "clean-l3": set(),
    "clean-l2": set(),
    "crypto-svc": set(),
}


@pytest.fixture
def register_root(tmp_path: Path) -> Path:
    """A writable copy of the fixture register (region.yaml + systems/), standards from the repository."""
    target = tmp_path / "register"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SM2PrivateKey]:
    directory = tmp_path_factory.mktemp("keys")
    key = SM2PrivateKey.generate()
    path = directory / "signer.pem"
    keys.write_private_key(path, key)
    return path, key



"""The key store on a disk that refuses writes (real tmpfs mounts, as root): the service answers 503
``keystore_unavailable`` and keeps the store as it was; it refuses to start with exit 3 naming the file."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tmpfs import fill, tmpfs
from xzgov.cryptosvc.__main__ import main
from xzgov.cryptosvc.errors import ServiceError
from xzgov.cryptosvc.keystore import KeyStore
from xzgov.cryptosvc.setup import write_service_files


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "size=64k") as point:
        yield point


def test_a_full_disk_is_keystore_unavailable_and_the_store_is_kept(small_disk: Path) -> None:
    store = KeyStore(small_disk / "state" / "keystore.json", bytes(16))
    kept = store.create("dept-a", "sm4")
    before = (small_disk / "state" / "keystore.json").read_bytes()
    fill(small_disk)
    with pytest.raises(ServiceError) as raised:  # was an OSError: a 500 without a code
        store.create("dept-a", "sm2")
    assert raised.value.status == 503 and raised.value.code == "keystore_unavailable"
    assert "/" not in raised.value.message  # the caller is not told where the store is
    assert isinstance(raised.value.__cause__, OSError) and raised.value.__cause__.errno == errno.ENOSPC
    assert (small_disk / "state" / "keystore.json").read_bytes() == before
    assert [info.key_id for info in store.list_keys("dept-a")] == [kept.key_id]


def test_the_service_does_not_start_on_a_read_only_state_dir(tmp_path: Path, small_disk: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    write_service_files(tmp_path / "etc", small_disk / "state", {"dept-a": "tenant"})
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code = main(["--config", str(tmp_path / "etc" / "config.yml")])
    err = capsys.readouterr().err
    assert code == 3, err  # was a traceback from KeyStore's mkdir
    assert "cannot start" in err and str(small_disk / "state" / "keystore.json") in err
    assert "Read-only file system" in err and "Traceback" not in err


def test_the_service_does_not_start_when_its_audit_log_cannot_be_opened(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The key store opened, the audit log (a folder here; a full or read-only disk alike) did not: uvicorn's
    start-up logged a traceback."""
    write_service_files(tmp_path / "etc", tmp_path / "state", {"dept-a": "tenant"})
    (tmp_path / "state" / "audit.jsonl").mkdir(parents=True)
    code = main(["--config", str(tmp_path / "etc" / "config.yml"), "--no-owner-check"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "audit log cannot be opened" in err and str(tmp_path / "state" / "audit.jsonl") in err
    assert "Traceback" not in err

"""Commands that verify a signed bundle use the bytes the verification checked, never the file read again.

Each test replaces the covered file right after ``verify_bundle`` returns — the race between verifying and
reading, made deterministic — and shows the command uses only the verified content: ``xzgov diff`` (its
reports), ``xzgov scan merge`` (:func:`compliance.merge.load_part`, its parts) and ``kpi --since`` /
``--kpi-since`` (:func:`xzgov.cli.kpi_cmds.earlier_kpi_of`, the earlier ``report.html``). And ``xzgov diff``
reads each system of each report once (the check hands the diff what it read).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.merge import load_part, part_bytes
from compliance.reports import FILES, PART_NAME, ReportFormat, formats, publish_reports
from compliance.scan.shard import Shard
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from tests.compliance.report_support import restate
from xzgov.cli.kpi_cmds import earlier_kpi_of
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .conftest import FIXTURE

Cli = Callable[..., CliResult]
JSON_NAME = FILES[ReportFormat.json]


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture(scope="module")
def signed_report(tmp_path_factory: pytest.TempPathFactory, key: SM2PrivateKey) -> Path:
    """A signed JSON report set of the fixture register."""
    out = tmp_path_factory.mktemp("report") / "out"
    publish_reports(scan(ScanOptions(root=FIXTURE)), out, [ReportFormat.json], key)
    return out


def _swap_after_verifying(monkeypatch: pytest.MonkeyPatch, target: Path, replacement: bytes) -> list[Path]:
    """Replace ``target`` right after the verification of the bundle beside it returns; the bundles verified
    are recorded (the swap must have happened for the test to mean anything)."""
    verify = bundle.verify_bundle
    verified: list[Path] = []

    def verify_then_swap(path: str | Path, *args: Any, **kwargs: Any) -> bundle.VerifyResult:
        result = verify(path, *args, **kwargs)
        if Path(path).parent.resolve() == target.parent.resolve():
            target.write_bytes(replacement)
            verified.append(Path(path))
        return result

    monkeypatch.setattr(bundle, "verify_bundle", verify_then_swap)
    return verified


def test_diff_uses_the_verified_report_not_one_swapped_in_after_verification(
        signed_report: Path, key: SM2PrivateKey, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(signed_report, old)
    shutil.copytree(signed_report, new)
    report = json.loads((new / JSON_NAME).read_text(encoding="utf-8"))
    failing = next(s for s in report["systems"] if "p" in s["states"])
    restate(failing, failing["states"].replace("p", "f", 1))  # a new failure, were the swapped file read
    verified = _swap_after_verifying(monkeypatch, new / JSON_NAME, json.dumps(report).encode())
    done = cli("diff", old, new, "--format", "json", "--trusted-fingerprint", keys.fingerprint(key.public_key))
    assert verified, "the swap did not happen"
    assert json.loads((new / JSON_NAME).read_text(encoding="utf-8")) == report  # the file now is the swapped one
    assert done.code == 0, done.out + done.err
    assert json.loads(done.out)["new_failures"] == []


def test_merge_loads_the_verified_part_not_one_swapped_in_after_verification(
        key: SM2PrivateKey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shard = tmp_path / "part-1"
    shard.mkdir()
    written = part_bytes(scan(ScanOptions(root=FIXTURE, shard=Shard(1, 2))), Shard(1, 2))  # a real part
    signed_part = json.loads(written)
    (shard / PART_NAME).write_bytes(written)
    bundle.sign_files([shard / PART_NAME], key, shard / bundle.DEFAULT_NAME)
    forged = {**signed_part, "shard": {"index": 2, "count": 2, "by": "name"}}  # another shard's place
    verified = _swap_after_verifying(monkeypatch, shard / PART_NAME, json.dumps(forged).encode())
    part = load_part(shard, [keys.fingerprint(key.public_key)])
    assert verified, "the swap did not happen"
    assert part.data == signed_part


def test_kpi_since_reads_the_verified_page_not_one_swapped_in_after_verification(
        key: SM2PrivateKey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()

    def page(kpis: dict[str, Any]) -> bytes:
        return (f'<html><script type="application/json" id="xzgov-kpi">{json.dumps(kpis)}</script></html>\n'
                ).encode()

    (earlier / "report.html").write_bytes(page({"as_of": "2026-01-01"}))
    bundle.sign_files([earlier / "report.html"], key, earlier / bundle.DEFAULT_NAME)
    public = tmp_path / "signer.pub.pem"
    public.write_text(keys.public_key_to_pem(key.public_key), encoding="ascii")
    verified = _swap_after_verifying(monkeypatch, earlier / "report.html", page({"as_of": "forged"}))
    assert earlier_kpi_of(earlier, [public]) == {"as_of": "2026-01-01"}
    assert verified, "the swap did not happen"


def test_diff_reads_each_system_of_each_report_once(
        signed_report: Path, key: SM2PrivateKey, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check of a report reads every system (items and findings); the diff compares what it read."""
    readings: list[object] = []

    class CountingReader(formats._Reader):
        def __init__(self, report: Any, system: Any = None) -> None:
            super().__init__(report, system)
            if system is not None:
                readings.append(system)

    monkeypatch.setattr(formats, "_Reader", CountingReader)
    done = cli("diff", signed_report, signed_report, "--trusted-fingerprint", keys.fingerprint(key.public_key))
    assert done.code == 0, done.out + done.err
    systems = json.loads((signed_report / JSON_NAME).read_text(encoding="utf-8"))["systems"]
    assert len(readings) == 2 * len(systems)

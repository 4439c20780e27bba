"""Adversarial review, finding 2: report sets and plans are replaced whole or not at all.

A full disk, a defect or a SIGTERM while a new report set is written must leave the previous signed
set at ``--out`` byte-identical and verifiable: the set is written and signed in a staging directory
beside ``--out`` and swapped in at once.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import compliance.reports as reports
from compliance.reports import FILES, ReportFormat, publish_reports
from compliance.results import ScanResult
from compliance.scanner import ScanOptions, scan
from stacks.plan import plan_site, write_manifests
from stacks.settings import Settings
from tests.cli import CliResult
from xzgov.core import fsutil
from xzgov.core.errors import ExitCode, XzgovError
from xzgov.core.register import load_register
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

Cli = Callable[..., CliResult]
TESTS = Path(__file__).resolve().parents[1]
SCAN_FIXTURE = TESTS / "compliance" / "fixtures" / "register"
REPO = TESTS.parent


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(ScanOptions(root=SCAN_FIXTURE, systems=("clean-l3",)))


def contents(directory: Path) -> dict[str, bytes]:
    """Every file of the set, its per-system pages included, by path relative to the set."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def signed_set(result: ScanResult, out: Path, key: SM2PrivateKey) -> dict[str, bytes]:
    published = publish_reports(result, out, key=key)
    assert published.bundle is not None and bundle.verify_bundle(published.bundle, [_fp(key)]).ok
    return contents(out)


def _fp(key: SM2PrivateKey) -> str:
    return keys.fingerprint(key.public_key)


def _intact(out: Path, before: dict[str, bytes], key: SM2PrivateKey) -> None:
    assert contents(out) == before
    assert bundle.verify_bundle(out / reports.BUNDLE_NAME, [_fp(key)]).ok
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.mark.parametrize("failing_call", [1, 3, 7])
def test_disk_full_while_writing_keeps_the_previous_signed_set(
    result: ScanResult, key: SM2PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    out = tmp_path / "reports"
    before = signed_set(result, out, key)
    real = os.fsync
    calls = {"n": 0}

    def full(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(XzgovError, match="No space left") as failed:
        publish_reports(result, out, key=key)
    assert failed.value.exit_code == ExitCode.INTERNAL  # the machine, named at the output: exit 3
    monkeypatch.undo()
    _intact(out, before, key)


def test_failed_signing_keeps_the_previous_signed_set(
    result: ScanResult, key: SM2PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    before = signed_set(result, out, key)

    def full(*args: object, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle, "sign_files", full)
    with pytest.raises(XzgovError) as failed:
        publish_reports(result, out, key=key)
    assert failed.value.exit_code == ExitCode.INTERNAL  # the machine, named at the output: exit 3
    monkeypatch.undo()
    _intact(out, before, key)


def test_failed_swap_keeps_the_previous_signed_set(
    result: ScanResult, key: SM2PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    before = signed_set(result, out, key)

    def broken(first: Path, second: Path) -> bool:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(fsutil, "_exchange", broken)
    with pytest.raises(XzgovError) as failed:
        publish_reports(result, out, key=key)
    assert failed.value.exit_code == ExitCode.INTERNAL  # the machine, named at the output: exit 3
    _intact(out, before, key)


def test_two_rename_fallback_replaces_the_set(
    result: ScanResult, key: SM2PrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where renameat2(RENAME_EXCHANGE) is missing the set is still replaced whole."""
    out = tmp_path / "reports"
    signed_set(result, out, key)
    monkeypatch.setattr(fsutil, "_exchange", lambda first, second: False)
    published = publish_reports(result, out, [ReportFormat.json])
    assert sorted(p.name for p in out.iterdir()) == [FILES[ReportFormat.json]] and published.bundle is None
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


#: Makes the report writer print each report it wrote into staging, then stall: a signal lands mid-write.
SLOW_WRITES = """
import sys, time
import compliance.reports as reports
real = reports.atomic_write
def slow(*args, **kwargs):
    written = real(*args, **kwargs)
    print("written", written, flush=True)
    time.sleep(60)
    return written
reports.atomic_write = slow
"""
KILLED_WRITER = SLOW_WRITES + """
from pathlib import Path
from compliance.scanner import ScanOptions, scan
from xzgov.crypto.sm2 import SM2PrivateKey
result = scan(ScanOptions(root=Path(sys.argv[1]), systems=("clean-l3",)))
reports.publish_reports(result, Path(sys.argv[2]), key=SM2PrivateKey.generate())
"""


def test_sigterm_mid_write_keeps_the_previous_signed_set(result: ScanResult, key: SM2PrivateKey,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "reports"
    before = signed_set(result, out, key)
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(SCAN_FIXTURE), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()  # one report of the new set is on disk (in staging)
        assert line.startswith("written"), writer.stderr.read() if writer.stderr else ""
        writer.send_signal(signal.SIGTERM)
        assert writer.wait(timeout=30) == -signal.SIGTERM
    finally:
        writer.kill()
        writer.communicate()
    assert contents(out) == before
    assert bundle.verify_bundle(out / reports.BUNDLE_NAME, [_fp(key)]).ok


TERMINATED_SCAN = SLOW_WRITES + """
from xzgov.cli.main import run
run(["scan", "--root", sys.argv[1], "--out", sys.argv[2], "--key", sys.argv[3], "--system", "clean-l3"])
"""


def _scan_process(script: str, out: Path, key: SM2PrivateKey, tmp_path: Path) -> subprocess.Popen[str]:
    """``script`` (an `xzgov scan` of the fixture into ``out``, signed with ``key``) in a process of its own."""
    key_path = tmp_path / "keys" / "signer.pem"
    key_path.parent.mkdir()
    keys.write_private_key(key_path, key)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XZGOV_")} | {"COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-c", script, str(SCAN_FIXTURE), str(out), str(key_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_sigterm_to_the_command_unwinds_and_exits_143(result: ScanResult, key: SM2PrivateKey,
                                                      tmp_path: Path) -> None:
    """SIGTERM (a Kubernetes Job's deadline) killed the command where it stood: the previous set stayed, but the
    staging folder stayed beside it too, one more every night. The entry point unwinds as for Ctrl-C: nothing
    is left beside --out, exit 143 (128 + 15, what a killed process reports) with one line saying why."""
    from xzgov.cli.main import TERMINATED_MESSAGE

    out = tmp_path / "reports"
    before = signed_set(result, out, key)
    writer = _scan_process(TERMINATED_SCAN, out, key, tmp_path)
    try:
        assert writer.stdout is not None and writer.stderr is not None
        line = writer.stdout.readline()  # one report of the new set is on disk (in staging)
        assert line.startswith("written"), writer.stderr.read()
        writer.send_signal(signal.SIGTERM)
        assert writer.wait(timeout=30) == 143
        err = writer.stderr.read()
    finally:
        writer.kill()
        writer.communicate()
    assert err.strip().splitlines()[-1] == TERMINATED_MESSAGE and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "reports"]  # no staging folder left
    assert contents(out) == before


SWAP_THEN_SIGNAL = """
import sys, time
from xzgov.core import fsutil
real = fsutil._swap_in
def swap(staging, target, recheck):
    print("swapping", flush=True)
    time.sleep(3)  # the test's SIGTERM arrives here, as the set goes in
    real(staging, target, recheck)
fsutil._swap_in = swap
from xzgov.cli.main import run
run(["scan", "--root", sys.argv[1], "--out", sys.argv[2], "--key", sys.argv[3], "--system", "clean-l3", "--no-gate"])
"""


def test_a_sigterm_once_the_new_set_goes_in_lets_the_command_finish(result: ScanResult, key: SM2PrivateKey,
                                                                    tmp_path: Path) -> None:
    """A SIGTERM as the new set was swapped in made the command say "stopped before it finished" (exit 143) with
    the new set in place, or cut the previous set's removal short (left half-deleted beside --out). From the swap
    on the change is committed: the command finishes with its own exit code, nothing is left beside --out."""
    out = tmp_path / "reports"
    before = signed_set(result, out, key)
    writer = _scan_process(SWAP_THEN_SIGNAL, out, key, tmp_path)
    try:
        assert writer.stdout is not None and writer.stderr is not None
        line = writer.stdout.readline()
        assert line.startswith("swapping"), writer.stderr.read()
        writer.send_signal(signal.SIGTERM)
        code = writer.wait(timeout=60)
        err = writer.stderr.read()
    finally:
        writer.kill()
        writer.communicate()
    assert code == ExitCode.OK, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "reports"]  # nothing half-deleted beside it
    after = contents(out)
    assert after != before and bundle.verify_bundle(out / reports.BUNDLE_NAME, [_fp(key)]).ok


def test_report_directory_with_other_files_is_not_replaced(result: ScanResult, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(reports.XzgovError) as refused:
        publish_reports(result, tmp_path)
    assert refused.value.exit_code == ExitCode.USAGE and "notes.txt" in refused.value.message
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_scan_disk_full_exits_3_and_keeps_the_previous_signed_set(
    cli: Cli, key: SM2PrivateKey, result: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    before = signed_set(result, out, key)
    key_path = tmp_path / "signer.pem"
    keys.write_private_key(key_path, key)
    real = os.replace

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    res = cli("scan", "--root", SCAN_FIXTURE, "--out", out, "--key", key_path, "--system", "clean-l3")
    monkeypatch.setattr(os, "replace", real)
    assert res.code == ExitCode.INTERNAL and "No space left on device" in res.err
    _intact(out, before, key)


def test_scan_failed_signing_keeps_the_previous_signed_set(
    cli: Cli, key: SM2PrivateKey, result: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    before = signed_set(result, out, key)
    key_path = tmp_path / "signer.pem"
    keys.write_private_key(key_path, key)

    def full(*args: object, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle, "sign_files", full)
    res = cli("scan", "--root", SCAN_FIXTURE, "--out", out, "--key", key_path, "--system", "clean-l3")
    assert res.code in (ExitCode.USAGE, ExitCode.INTERNAL)
    _intact(out, before, key)


def test_scan_out_that_is_a_file_fails_before_the_scan(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xzgov.cli.scan_cmds as scan_cmds

    def must_not_run(options: ScanOptions) -> ScanResult:
        raise AssertionError("the scan ran although --out is a file")

    monkeypatch.setattr(scan_cmds, "scan", must_not_run)
    afile = tmp_path / "report.json"
    afile.write_text("{}", encoding="utf-8")
    res = cli("scan", "--root", SCAN_FIXTURE, "--out", afile, "--unsigned")
    assert res.code == ExitCode.USAGE and "not a directory" in res.err


def test_plan_failure_keeps_the_previous_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_site(load_register(REPO), Settings(site="dr"))
    out = tmp_path / "plan"
    write_manifests(plan, out)
    before = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    real = os.replace
    calls = {"n": 0}

    def full(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(XzgovError) as failed:
        write_manifests(plan, out)
    assert failed.value.exit_code == ExitCode.INTERNAL  # the machine, named at the output: exit 3
    monkeypatch.undo()
    after = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before and [p.name for p in out.iterdir()] == ["dr"]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, OSError(errno.ENOSPC, "No space left on device")])
def test_an_interrupted_first_plan_leaves_no_empty_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       interruption: BaseException | type[BaseException]) -> None:
    """``plan --out new/dir`` interrupted (Ctrl-C, disk full) before its swap left new/dir behind, empty."""
    plan = plan_site(load_register(REPO), Settings(site="dr"))
    out = tmp_path / "new" / "plan"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise interruption

    monkeypatch.setattr(fsutil, "_swap_in", interrupted)
    with pytest.raises((KeyboardInterrupt, XzgovError)):
        write_manifests(plan, out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_run_that_finds_its_new_out_taken_meanwhile_replaces_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  exchange: bool) -> None:
    """Two runs into one --out that did not exist: the second found it absent, the first then put its set there,
    and the second's rename failed with ENOTEMPTY — exit 3 "the environment failed". It replaces the other run's
    set as when that set was there before it started (last writer wins, one whole set, nothing left beside)."""
    out = tmp_path / "reports"
    if not exchange:
        monkeypatch.setattr(fsutil, "_exchange", lambda first, second: False)
    with fsutil.staged_directory(out) as staging:
        (staging / "mine.txt").write_text("second run\n", encoding="utf-8")
        out.mkdir()  # the first run's set goes in while this one fills its staging directory
        (out / "theirs.txt").write_text("first run\n", encoding="utf-8")
        real = os.path.lexists
        monkeypatch.setattr(os.path, "lexists", lambda path: False if Path(path) == out else real(path))
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]


def test_a_directory_of_other_files_that_appears_meanwhile_is_never_replaced(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race, but what appeared at --out holds someone's other files: refused as when it was there before
    (nothing replaced, nothing deleted), not exchanged and removed."""
    out = tmp_path / "reports"
    real = os.rename

    def appears_first(source: object, destination: object, **kwargs: object) -> None:
        if Path(str(destination)) == out and not out.exists():  # after every check, just before the swap
            out.mkdir()
            (out / "thesis.docx").write_text("years of work\n", encoding="utf-8")
        real(source, destination, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(XzgovError), fsutil.staged_directory(out, expected={"index.html"}) as staging:
        (staging / "index.html").write_text("new\n", encoding="utf-8")
        monkeypatch.setattr(os, "rename", appears_first)
    monkeypatch.undo()
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]


@pytest.mark.parametrize("given", [".", "", "..", "sub/..", "{cwd}"])
def test_the_current_directory_or_one_holding_it_is_refused_as_an_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str,
) -> None:
    # its staging folder "beside" "." was inside it: the whole scan or merge ran, then the swap refused the
    # output for holding a folder xzgov did not write (its own staging folder)
    here = tmp_path / "work"
    (here / "sub").mkdir(parents=True)
    monkeypatch.chdir(here)
    with pytest.raises(XzgovError) as refused:
        fsutil.check_output_directory(Path(given.format(cwd=here)), {"x"})
    assert refused.value.exit_code == ExitCode.USAGE
    assert "it is the current directory or a folder holding it" in refused.value.message
    fsutil.check_output_directory(Path("sub"), {"x"})  # a folder below it is fine
    fsutil.check_output_directory(Path(given.format(cwd=here)), None)  # a folder written into (plan, dr): fine


def test_an_output_name_too_long_to_stage_beside_is_refused_before_the_work(tmp_path: Path) -> None:
    # 240 bytes is a valid name, but the staging folder's name (18 bytes more) is not: refused after the work
    fsutil.check_output_directory(tmp_path / ("a" * 236), set())
    with pytest.raises(XzgovError) as refused:
        fsutil.check_output_directory(tmp_path / ("a" * 237), set())
    assert refused.value.exit_code == ExitCode.USAGE and "longer than 236 bytes" in refused.value.message
    with pytest.raises(XzgovError):
        fsutil.check_output_directory(tmp_path / ("藏" * 79), set())  # 237 bytes in UTF-8
    fsutil.check_output_directory(tmp_path / ("a" * 240), None)  # a folder written into (plan, dr) is not renamed
    longest = tmp_path / ("b" * 236)
    for _ in range(2):  # the longest accepted name stages, and is replaced (the second time: a previous set)
        with fsutil.staged_directory(longest, {"f"}) as staging:
            (staging / "f").write_text("x", encoding="utf-8")
    assert (longest / "f").is_file()


def test_the_two_rename_fallback_takes_the_longest_accepted_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # without renameat2's exchange the previous set is renamed to ".<name>.previous-XXXXXXXX" (19 bytes more)
    monkeypatch.setattr(fsutil, "_exchange", lambda first, second: False)
    longest = tmp_path / ("c" * 236)
    for _ in range(2):
        with fsutil.staged_directory(longest, {"f"}) as staging:
            (staging / "f").write_text("x", encoding="utf-8")
    assert (longest / "f").is_file()

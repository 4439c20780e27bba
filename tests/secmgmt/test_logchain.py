"""The log centre's daily SM3 hash chains (xzgov.logchain): every kind of tampering is found, at the
right line, and the sealer that runs on the log centre writes what the verifier expects."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey
from xzgov.logchain import chain, verify_tree
from xzgov.logchain.chain import seal_day

SEALER = Path(__file__).resolve().parents[2] / "roles/log_centre/files/xzgov-log-seal"
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")
#: The day the trees are verified: 2026-03-03 (yesterday) must be sealed, 2026-03-04 is open.
AS_OF = dt.date(2026, 3, 4)
KEY = SM2PrivateKey.generate()


def lines_of(day: str, count: int = 10) -> list[bytes]:
    return [f"2026-03-0{day[-1]}T10:00:{i:02d}+08:00 web-01 sshd[42]: event {i} of {day}".encode()
            for i in range(1, count + 1)]


@pytest.fixture
def centre(tmp_path: Path) -> Path:
    """A log-centre tree: source web-01 with three sealed days (day 2 without messages: sealed empty)
    and today's open file."""
    source = tmp_path / "centre" / "web-01"
    source.mkdir(parents=True)
    for day in DAYS:
        if day != "2026-03-02":
            (source / f"{day}.log").write_bytes(b"".join(line + b"\n" for line in lines_of(day)))
        seal_day(source, day, KEY)
    (source / "2026-03-04.log").write_bytes(b"open day\n")
    return tmp_path / "centre"


def verify(root: Path, key: SM2PrivateKey = KEY, **options: int) -> chain.SourceReport:
    report = verify_tree(root, [key.public_key], as_of=AS_OF, **options)
    assert len(report.sources) == 1
    return report.sources[0]


def errors(report: chain.SourceReport) -> list[tuple[str, str, int]]:
    return [(f.kind, f.date, f.line) for f in report.findings if f.severity == "error"]


def edit(path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    path.chmod(0o640)
    path.write_bytes(b"".join(line + b"\n" for line in change(path.read_bytes().split(b"\n")[:-1])))


def test_an_untouched_tree_verifies(centre: Path) -> None:
    report = verify(centre)
    assert report.ok, report.findings
    assert (report.sealed_days, report.verified_days, report.lines) == (3, 3, 20)
    assert report.open_days == ["2026-03-04"]
    assert [f.kind for f in report.findings] == ["open"]


def test_the_chain_links_days(centre: Path) -> None:
    seals = [json.loads((centre / "web-01" / f"{d}.seal").read_text()) for d in DAYS]
    assert seals[0]["prev"] == "00" * 32
    assert seals[1]["prev"] == seals[0]["head"] and seals[2]["prev"] == seals[1]["head"]
    assert seals[1]["lines"] == 0 and seals[1]["head"] == chain.genesis("web-01", DAYS[1],
                                                                       bytes.fromhex(seals[0]["head"])).hex()
    head = chain.chain_head("web-01", DAYS[0], bytes(32), lines_of(DAYS[0]))
    assert seals[0]["head"] == head.hex()


@pytest.mark.parametrize(
    ("change", "kind", "line"),
    [
        (lambda ls: [*ls[:4], ls[4].replace(b"event 5", b"event 6"), *ls[5:]], "modified", 5),
        (lambda ls: [*ls[:4], *ls[5:]], "deleted", 5),
        (lambda ls: [*ls[:4], ls[5], ls[4], *ls[6:]], "reordered", 5),
        (lambda ls: [*ls[:2], ls[8], *ls[2:8], ls[9]], "reordered", 3),
        (lambda ls: [*ls[:6], b"forged line", *ls[6:]], "inserted", 7),
        (lambda ls: ls[:7], "truncated", 8),
        (lambda ls: [*ls, b"late line"], "appended", 11),
        (lambda ls: [b"", *ls[1:]], "modified", 1),
    ],
    ids=["modified", "deleted", "swapped", "moved", "inserted", "truncated-lines", "appended", "emptied-first"],
)
def test_tampering_is_found_at_the_first_break(
    centre: Path, change: Callable[[list[bytes]], list[bytes]], kind: str, line: int
) -> None:
    edit(centre / "web-01" / "2026-03-03.log", change)
    report = verify(centre)
    assert not report.ok
    assert errors(report) == [(kind, "2026-03-03", line)]
    first = report.first_break
    assert first is not None and first.file.endswith("web-01/2026-03-03.log") and first.hint


def test_a_line_cut_in_the_middle_is_a_truncation_at_that_line(centre: Path) -> None:
    log = centre / "web-01" / "2026-03-01.log"
    data = log.read_bytes()
    cut = data.index(b"event 7") + 3
    log.chmod(0o640)
    log.write_bytes(data[:cut])
    report = verify(centre)
    assert errors(report)[0] == ("truncated", "2026-03-01", 7)
    # the damage on day 1 is reported first; the later days still verify on their own
    assert report.verified_days == 2


def test_only_the_final_newline_removed(centre: Path) -> None:
    log = centre / "web-01" / "2026-03-03.log"
    log.chmod(0o640)
    log.write_bytes(log.read_bytes()[:-1])
    assert errors(verify(centre)) == [("truncated", "2026-03-03", 10)]


def test_a_deleted_day_is_a_missing_day(centre: Path) -> None:
    for ext in ("log", "chain", "seal"):
        (centre / "web-01" / f"2026-03-02.{ext}").unlink(missing_ok=True)
    assert errors(verify(centre)) == [("missing-day", "2026-03-02", 0)]


def test_a_deleted_log_with_its_seal_kept(centre: Path) -> None:
    (centre / "web-01" / "2026-03-03.log").unlink()
    assert errors(verify(centre)) == [("missing-log", "2026-03-03", 0)]


def test_a_replaced_day_breaks_the_link(centre: Path, tmp_path: Path) -> None:
    """Re-sealing day 2 with a forged prev (the attacker holds no key → signed by another key)."""
    source = centre / "web-01"
    other = SM2PrivateKey.generate()
    seal_day(source, "2026-03-02", other, prev=bytes(32))
    found = errors(verify(centre))
    assert ("untrusted-signer", "2026-03-02", 0) in found
    assert ("chain-break", "2026-03-02", 0) in found


def test_a_re_signed_seal_with_the_real_key_still_breaks_the_chain(centre: Path) -> None:
    """Even the key holder cannot rewrite a past day without the next day's link showing it."""
    source = centre / "web-01"
    edit(source / "2026-03-01.log", lambda ls: ls[:5])
    seal_day(source, "2026-03-01", KEY)
    assert errors(verify(centre)) == [("chain-break", "2026-03-02", 0)]


def test_an_altered_seal_fails_its_signature(centre: Path) -> None:
    path = centre / "web-01" / "2026-03-01.seal"
    seal = json.loads(path.read_text())
    seal["lines"] = 9
    path.write_text(json.dumps(seal))
    kinds = [kind for kind, _, _ in errors(verify(centre))]
    assert kinds[0] == "bad-signature"


def test_garbage_seal_is_reported_not_raised(centre: Path) -> None:
    (centre / "web-01" / "2026-03-02.seal").write_text("{not json")
    assert errors(verify(centre))[0][:2] == ("bad-seal", "2026-03-02")


def test_a_wrong_trusted_key_trusts_nothing(centre: Path) -> None:
    found = errors(verify(centre, SM2PrivateKey.generate()))
    assert [k for k, _, _ in found] == ["untrusted-signer"] * 3


def test_a_forged_chain_file_does_not_hide_tampering(centre: Path) -> None:
    source = centre / "web-01"
    edit(source / "2026-03-03.log", lambda ls: [*ls[:2], b"forged", *ls[3:]])
    (source / "2026-03-03.chain").chmod(0o640)
    (source / "2026-03-03.chain").write_bytes(b"".join(chain.leaf_digests(
        source / "2026-03-03.log", "web-01", "2026-03-03", bytes.fromhex(
            json.loads((source / "2026-03-02.seal").read_text())["head"]))))
    found = errors(verify(centre))
    assert found and found[0][0] == "modified"


def test_pruned_days_at_the_start_are_retention_not_loss(centre: Path) -> None:
    for ext in ("log", "chain"):
        (centre / "web-01" / f"2026-03-01.{ext}").unlink()
    report = verify(centre, retention_days=2)  # as of 03-04, days before 03-02 are past the retention
    assert report.ok and report.pruned_days == 1
    # within the retention (180 days by default) the same deletion is a deleted log
    assert errors(verify(centre)) == [("missing-log", "2026-03-01", 0)]


def test_an_unsealed_day_before_the_chain_is_an_error(centre: Path) -> None:
    (centre / "web-01" / "2026-02-27.log").write_bytes(b"planted\n")
    assert errors(verify(centre)) == [("unsealed", "2026-02-27", 0)]


def test_hostile_lines_are_just_bytes(tmp_path: Path) -> None:
    source = tmp_path / "c" / "odd-host"
    source.mkdir(parents=True)
    (source / "2026-03-01.log").write_bytes(b"ctl \x00\x1b[31m\r\x7f end\n" + b"A" * 65536 + b"\n\xff\xfe\n")
    seal_day(source, "2026-03-01", KEY)
    report = verify_tree(tmp_path / "c", [KEY.public_key], as_of=dt.date(2026, 3, 2)).sources[0]
    assert report.ok and report.lines == 3


# ----------------------------------------------------------------- the sealer on the log centre
def openssl_key(directory: Path) -> tuple[Path, Path]:
    private, public = directory / "seal.key", directory / "seal.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(private)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)
    return private, public


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_log_centre_sealer_writes_what_the_verifier_checks(tmp_path: Path) -> None:
    private, public = openssl_key(tmp_path)
    root = tmp_path / "centre"
    for host in ("web-01", "db-01"):
        (root / host).mkdir(parents=True)
        for day in ("2026-03-01", "2026-03-03"):
            (root / host / f"{day}.log").write_bytes(b"".join(line + b"\n" for line in lines_of(day, 25)))
    (root / "web-01" / "2026-03-04.log").write_bytes(b"still open\n")
    status_file = tmp_path / "status"
    run = subprocess.run([sys.executable, str(SEALER), "--root", str(root), "--key", str(private),
                          "--through", "2026-03-03", "--status", str(status_file)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    pub = keys.load_public_key(public)
    report = verify_tree(root, [pub], as_of=AS_OF)
    assert report.ok, report.findings
    assert [(s.source, s.sealed_days, s.verified_days, s.lines) for s in report.sources] == [
        ("db-01", 3, 3, 50), ("web-01", 3, 3, 50)]
    # same chain as the reference implementation
    seal = json.loads((root / "web-01" / "2026-03-01.seal").read_text())
    assert seal["head"] == chain.chain_head("web-01", "2026-03-01", bytes(32), lines_of("2026-03-01", 25)).hex()
    assert seal["signer"] == keys.fingerprint(pub)
    assert "source=web-01 silent=no" in status_file.read_text()
    # a second run seals nothing new; tampering after it is found
    again = subprocess.run([sys.executable, str(SEALER), "--root", str(root), "--key", str(private),
                            "--through", "2026-03-03"], capture_output=True, text=True, check=False)
    assert again.returncode == 0 and again.stdout == ""
    edit(root / "db-01" / "2026-03-03.log", lambda ls: [*ls[:11], *ls[12:]])
    assert errors(verify_tree(root, [pub], as_of=AS_OF).sources[0]) == [("deleted", "2026-03-03", 12)]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_sealer_prunes_old_logs_and_keeps_their_seals(tmp_path: Path) -> None:
    private, public = openssl_key(tmp_path)
    source = tmp_path / "centre" / "web-01"
    source.mkdir(parents=True)
    (source / "2020-01-01.log").write_bytes(b"old\n")
    run = subprocess.run([sys.executable, str(SEALER), "--root", str(source.parent), "--key", str(private),
                          "--through", "2020-01-03", "--retention-days", "180"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in source.iterdir()) == ["2020-01-01.seal", "2020-01-02.seal", "2020-01-03.seal"]
    # as of today (the sealer pruned by today's date), the chain last sealed on 2020-01-03 by this test
    today = dt.date.today()
    report = verify_tree(source.parent, [keys.load_public_key(public)], as_of=today,
                         max_unsealed_days=(today - dt.date(2020, 1, 3)).days).sources[0]
    assert report.ok and report.pruned_days == 3


# ----------------------------------------------------------------------------------- the CLI
def test_cli_verify_exit_codes(centre: Path, tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    pub = tmp_path / "centre.pub.pem"
    keys.write_public_key(pub, KEY.public_key)
    ok = cli("logs", "verify", centre, "--trusted-key", pub, "--as-of", "2026-03-04")
    assert ok.code == 0, ok.err
    assert "OK: 1 source(s)" in ok.out
    edit(centre / "web-01" / "2026-03-01.log", lambda ls: [*ls[:1], *ls[2:]])
    bad = cli("logs", "verify", centre, "--trusted-key", pub, "--as-of", "2026-03-04", "--format", "json")
    assert bad.code == 1
    data = json.loads(bad.out)
    assert data["sources"][0]["first_break"]["kind"] == "deleted"
    assert data["sources"][0]["first_break"]["line"] == 2
    text = cli("logs", "verify", centre, "--trusted-key", pub, "--as-of", "2026-03-04")
    assert text.code == 1 and "2026-03-01.log:2" in text.out
    assert cli("logs", "verify", tmp_path / "nowhere", "--trusted-key", pub).code == 2
    assert cli("logs", "verify", centre).code == 2  # no trusted key


def test_cli_verify_blames_a_bad_key_variable_on_the_variable(centre: Path, tmp_path: Path,
                                                             cli: Callable[..., CliResult],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``$XZGOV_LOGCENTRE_KEY`` names the key when no --trusted-key is given (keys separated by white space, as
    click split it); a file it names that cannot be read is an error naming the variable, not only a path the
    user never typed."""
    pub = tmp_path / "centre.pub.pem"
    keys.write_public_key(pub, KEY.public_key)
    monkeypatch.setenv("XZGOV_LOGCENTRE_KEY", f" {pub}\n")
    assert cli("logs", "verify", centre, "--as-of", "2026-03-04").code == 0
    monkeypatch.setenv("XZGOV_LOGCENTRE_KEY", str(tmp_path / "gone.pem"))
    bad = cli("logs", "verify", centre, "--as-of", "2026-03-04")
    assert bad.code == 2 and "XZGOV_LOGCENTRE_KEY" in bad.err and "gone.pem" in bad.err and "--trusted-key" in bad.err
    typed = cli("logs", "verify", centre, "--trusted-key", tmp_path / "gone.pem", "--as-of", "2026-03-04")
    assert typed.code == 2 and "gone.pem" in typed.err and "XZGOV_LOGCENTRE_KEY" not in typed.err


def test_cli_status_reports_silent_sources(centre: Path, cli: Callable[..., CliResult]) -> None:
    import os
    import time

    fresh = cli("logs", "status", centre, "--format", "json")
    assert fresh.code == 0, fresh.out
    assert json.loads(fresh.out)["silent"] == []
    old = time.time() - 3600
    for path in (centre / "web-01").iterdir():
        os.utime(path, (old, old))
    silent = cli("logs", "status", centre, "--silent-minutes", "30")
    assert silent.code == 1 and "SILENT" in silent.out


def test_a_storage_path_that_is_a_link_to_nothing_says_so(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """A link loop (or a link to a missing folder) was reported as a path that "does not exist"."""
    loop = tmp_path / "centre"
    loop.symlink_to(loop)
    looped = cli("logs", "status", loop)
    assert looped.code == 2 and "is a symbolic link to" in looped.err and "loop of links" in looped.err
    missing = cli("logs", "status", tmp_path / "absent")
    assert missing.code == 2 and "does not exist" in missing.err

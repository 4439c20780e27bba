"""The log chain against what a reviewer did to it (tests/logchain, the verifier and the sealer):

* a day file dropped at the root of the tree made the whole tree one source and every real source unread;
* deletions at the end (the last days, or only their seals with the logs rewritten), at the start (the
  first days) and of a whole source verified OK — the verifier had no notion of today, of where a chain
  starts, of which sources there are; the sealer extended whatever newest seal was left;
* recently deleted logs counted as retention pruning;
* a retired signing key stayed valid for every day.

Each test names the attack it stands for; each failed on the code before the fix."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli import CliResult
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey
from xzgov.logchain import chain, trust, verify_tree
from xzgov.logchain.chain import ChainStart, seal_day

SEALER = Path(__file__).resolve().parents[2] / "roles/log_centre/files/xzgov-log-seal"
KEY = SM2PrivateKey.generate()
OLD = SM2PrivateKey.generate()  # the key before KEY: retired on 2026-03-01
DAYS = [f"2026-03-{d:02d}" for d in range(1, 11)]
AS_OF = dt.date(2026, 3, 11)  # the day after the newest sealed day: the chains must reach 2026-03-10
SOURCES = ("db-01", "web-01")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def build(tmp_path: Path, key: SM2PrivateKey = KEY) -> Path:
    root = tmp_path / "centre"
    for name in SOURCES:
        source = root / name
        source.mkdir(parents=True)
        for day in DAYS:
            (source / f"{day}.log").write_bytes(b"".join(f"{day} {name} sshd: event {i}\n".encode() for i in range(5)))
            seal_day(source, day, key)
    return root


def verify(root: Path, *public: SM2PrivateKey, **options: Any) -> chain.VerifyReport:
    options.setdefault("as_of", AS_OF)
    return verify_tree(root, [k.public_key for k in public or (KEY,)], **options)


def errors(report: chain.VerifyReport) -> list[tuple[str, str, str]]:
    return [(f.source, f.kind, f.date) for f in report.findings if f.severity == "error"]


def rewrite(path: Path, data: bytes) -> None:
    path.chmod(0o640)
    path.write_bytes(data)


def drop(source: Path, days: list[str], exts: tuple[str, ...] = ("log", "chain", "seal")) -> None:
    for day in days:
        for ext in exts:
            (source / f"{day}.{ext}").unlink(missing_ok=True)


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    return keys.write_public_key(tmp_path / "centre.pub.pem", KEY.public_key)


def test_an_untouched_tree_verifies_as_of_the_next_day(tmp_path: Path, pub: Path,
                                                       cli: Callable[..., CliResult]) -> None:
    root = build(tmp_path)
    report = verify(root)
    assert report.ok, errors(report)
    assert [s.source for s in report.sources] == list(SOURCES)
    assert cli("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-03-11").code == 0
    # one day later the newest seals are a day late: the sealer stopped, or the last day was deleted
    late = verify(root, as_of=dt.date(2026, 3, 12))
    assert errors(late) == [("", "stale-manifest", "2026-03-10"), *((s, "missing-seal", "2026-03-11") for s in SOURCES)]
    # now (no --as-of): the slack of the 00:10 timer lets the day before yesterday do before 03:00
    assert chain.sealed_through(dt.datetime(2026, 3, 12, 1, 0)) == ("2026-03-12", "2026-03-10")
    assert chain.sealed_through(dt.datetime(2026, 3, 12, 4, 0)) == ("2026-03-12", "2026-03-11")
    assert chain.sealed_through(dt.date(2026, 3, 12)) == ("2026-03-12", "2026-03-11")


# ------------------------------------------------------------- 1. a day file at the root of the tree
def test_attack_f_a_stray_day_file_at_the_root_does_not_make_the_tree_one_source(
    tmp_path: Path, pub: Path, cli: Callable[..., CliResult]
) -> None:
    root = build(tmp_path)
    for day in DAYS:
        rewrite(root / "web-01" / f"{day}.log", b"rewritten\n")
    (root / "2026-03-11.log").write_bytes(b"x\n")
    report = verify(root)
    assert not report.ok
    assert [s.source for s in report.sources] == list(SOURCES)  # the real sources are read
    found = errors(report)
    assert ("", "stray-file", "2026-03-11") in found
    assert [(k, d) for s, k, d in found if s == "web-01"] == [("modified", day) for day in DAYS]
    stray = report.tree[0]
    assert stray.file.endswith("centre/2026-03-11.log") and "--single-source" in stray.hint
    result = cli("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-03-11")
    assert result.code == 1, result.text
    assert "stray-file" in result.out and "(tree)" in result.out


def test_one_source_directory_is_verified_only_when_asked(tmp_path: Path, pub: Path,
                                                          cli: Callable[..., CliResult]) -> None:
    root = build(tmp_path)
    single = verify(root / "web-01", single_source=True)
    assert single.ok and [s.source for s in single.sources] == ["web-01"]
    # without --single-source a source's directory is not a tree: usage error (2) that says what to pass
    result = cli("logs", "verify", root / "web-01", "--trusted-key", pub, "--as-of", "2026-03-11")
    assert result.code == 2 and "--single-source" in result.text
    assert cli("logs", "verify", root / "web-01", "--trusted-key", pub, "--as-of", "2026-03-11",
               "--single-source").code == 0


# ------------------------------------------------------------- 2a. deletions at the end
def test_attack_a_the_last_days_deleted_are_missing_seals(tmp_path: Path) -> None:
    root = build(tmp_path)
    drop(root / "web-01", DAYS[-3:])
    report = verify(root)
    assert errors(report) == [("web-01", "missing-seal", "2026-03-08")]
    finding = next(f for f in report.findings if f.kind == "missing-seal")
    assert (finding.last_date, finding.days) == ("2026-03-10", 3)
    assert finding.file.endswith("web-01/2026-03-08.seal") and "recent seals missing" in finding.hint
    # the signed manifest says web-01 was sealed through 03-10: found even with a lax --max-unsealed-days
    lax = verify(root, max_unsealed_days=30)
    assert errors(lax) == [("web-01", "missing-seal", "2026-03-08")]
    # and without the manifest, by the day alone
    bare = verify(root, require_manifest=False)
    assert errors(bare) == [("web-01", "missing-seal", "2026-03-08")]


def test_attack_b_the_last_seals_deleted_and_logs_rewritten_are_errors_not_open_days(
    tmp_path: Path, pub: Path, cli: Callable[..., CliResult]
) -> None:
    root = build(tmp_path)
    source = root / "web-01"
    drop(source, DAYS[-2:], ("seal", "chain"))
    for day in DAYS[-2:]:
        rewrite(source / f"{day}.log", b"nothing happened\n")
    report = verify(root)
    assert errors(report) == [("web-01", "missing-seal", "2026-03-09")]
    result = cli("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-03-11", "--format", "json")
    assert result.code == 1
    first = {s["source"]: s["first_break"] for s in json.loads(result.out)["sources"]}["web-01"]
    assert (first["kind"], first["date"], first["days"]) == ("missing-seal", "2026-03-09", 2)


def test_a_source_whose_seals_were_all_deleted_is_not_merely_unsealed(tmp_path: Path) -> None:
    root = build(tmp_path)
    drop(root / "web-01", DAYS, ("seal", "chain"))
    assert errors(verify(root, require_manifest=False)) == [("web-01", "missing-seal", "2026-03-01")]
    # a new source whose only day is today is still just open
    (root / "new-01").mkdir()
    (root / "new-01" / "2026-03-11.log").write_bytes(b"hello\n")
    assert not [e for e in errors(verify(root)) if e[0] == "new-01"]


# ------------------------------------------------------------- 2b. deletions at the start
def test_attack_d_the_first_days_deleted_are_a_missing_start(tmp_path: Path) -> None:
    root = build(tmp_path)
    drop(root / "web-01", DAYS[:4])
    report = verify(root)
    assert errors(report) == [("web-01", "missing-start", "2026-03-05")]
    finding = next(f for f in report.findings if f.kind == "missing-start")
    assert finding.file.endswith("web-01/2026-03-05.seal") and "--chain-start" in finding.hint
    # the early seals archived on purpose: the recorded start is given, and only that start is accepted
    prev = bytes.fromhex(json.loads((root / "web-01" / "2026-03-05.seal").read_text())["prev"])
    assert verify(root, chain_starts={"web-01": ChainStart("2026-03-05", prev)}).ok
    wrong = verify(root, chain_starts={"web-01": ChainStart("2026-03-04", prev)})
    assert errors(wrong) == [("web-01", "missing-start", "2026-03-05")]


def test_cli_chain_start(tmp_path: Path, pub: Path, cli: Callable[..., CliResult]) -> None:
    root = build(tmp_path)
    drop(root / "web-01", DAYS[:4])
    prev = json.loads((root / "web-01" / "2026-03-05.seal").read_text())["prev"]
    base = ("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-03-11")
    assert cli(*base).code == 1
    assert cli(*base, "--chain-start", f"web-01=2026-03-05:{prev}").code == 0
    assert cli(*base, "--chain-start", "web-01=2026-03-05").code == 2


# ------------------------------------------------------------- 2c. a whole source deleted
def test_attack_e_a_deleted_source_is_missing(tmp_path: Path, pub: Path, cli: Callable[..., CliResult]) -> None:
    root = build(tmp_path)
    shutil.rmtree(root / "db-01")
    report = verify(root)
    assert errors(report) == [("db-01", "missing-source", "2026-03-10")]
    result = cli("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-03-11")
    assert result.code == 1 and "missing-source" in result.out
    # the manifest deleted as well: that is an error of its own, and --expect-source still names the source
    (root / trust.MANIFEST_NAME).unlink()
    assert errors(verify(root)) == [("", "missing-manifest", "")]
    assert errors(verify(root, require_manifest=False, expected_sources=["db-01", "web-01"])) == [
        ("db-01", "missing-source", "2026-03-10")]
    listed = tmp_path / "sources.txt"
    listed.write_text("# the hosts that send here\nweb-01\ndb-01\n")
    result = cli("logs", "verify", root, "--trusted-key", pub, "--as-of", "2026-03-11", "--no-manifest",
                 "--expect-sources", listed)
    assert result.code == 1 and "missing-source" in result.out


def test_a_replayed_or_forged_manifest_is_an_error(tmp_path: Path) -> None:
    root = build(tmp_path)
    manifest = root / trust.MANIFEST_NAME
    trust.write_manifest(root, KEY, {"web-01": "2026-03-05"})  # an older one, without db-01
    assert ("", "stale-manifest", "2026-03-05") in errors(verify(root))
    trust.write_manifest(root, SM2PrivateKey.generate(), {"web-01": "2026-03-10", "db-01": "2026-03-10"})
    assert errors(verify(root)) == [("", "bad-manifest", "")]
    manifest.write_text("[" * 50000)
    assert errors(verify(root)) == [("", "bad-manifest", "")]


def test_a_retired_source_may_be_gone(tmp_path: Path) -> None:
    root = build(tmp_path)
    trust.write_manifest(root, KEY, {"web-01": "2026-03-10"}, retired={"db-01": "2026-03-10"})
    shutil.rmtree(root / "db-01")
    assert verify(root).ok


# ------------------------------------------------------------- 3. recent deletions are not pruning
def test_attack_c_recently_deleted_logs_are_missing_not_pruned(tmp_path: Path) -> None:
    root = build(tmp_path)
    drop(root / "web-01", DAYS[:-1], ("log", "chain"))
    report = verify(root)
    assert errors(report) == [("web-01", "missing-log", day) for day in DAYS[:-1]]
    web = next(s for s in report.sources if s.source == "web-01")
    assert web.pruned_days == 0
    assert "180-day retention" in next(f for f in report.findings if f.kind == "missing-log").message


def test_days_older_than_the_retention_are_pruned(tmp_path: Path) -> None:
    root = build(tmp_path)
    drop(root / "web-01", DAYS[:7], ("log", "chain"))
    # retention 5 days as of 03-11: days before 03-06 may be pruned, 03-06 and 03-07 may not
    report = verify(root, retention_days=5)
    assert errors(report) == [("web-01", "missing-log", "2026-03-06"), ("web-01", "missing-log", "2026-03-07")]
    assert next(s for s in report.sources if s.source == "web-01").pruned_days == 5
    # the retention the sealer records in the signed manifest is what the verifier applies by default
    trust.write_manifest(root, KEY, {s: "2026-03-10" for s in SOURCES}, retention_days=3)
    assert verify(root).ok


# ------------------------------------------------------------- 4. keys with a period
def test_attack_g_a_retired_key_cannot_re_sign_the_chain(tmp_path: Path, pub: Path,
                                                       cli: Callable[..., CliResult]) -> None:
    root = build(tmp_path)
    trust.write_rotation(root, OLD, KEY, "2026-03-01")  # OLD sealed the days before 03-01
    assert verify(root).ok  # the record is read from the root; KEY pinned
    source = root / "web-01"
    drop(source, DAYS, ("chain", "seal"))
    for day in DAYS:
        rewrite(source / f"{day}.log", b"forged\n")
        seal_day(source, day, OLD, manifest=False)
    report = verify(root)
    assert errors(report) == [("web-01", "key-period", day) for day in DAYS]
    finding = next(f for f in report.findings if f.kind == "key-period")
    assert "…" in finding.message and "2026-02-28" in finding.message and finding.hint
    # pinning both keys is the same: the record bounds OLD
    assert errors(verify(root, OLD, KEY)) == errors(report)
    # pinning both keys without a record: refused (exit 2), never a flat set valid on every day
    (root / trust.KEYS_NAME).unlink()
    with pytest.raises(ValueError, match="both valid on the same days"):
        verify(root, OLD, KEY)
    old_pub = keys.write_public_key(tmp_path / "old.pub.pem", OLD.public_key)
    result = cli("logs", "verify", root, "--trusted-key", pub, "--trusted-key", old_pub, "--as-of", "2026-03-11")
    assert result.code == 2 and "rotation record" in result.text


def test_a_rotation_mid_chain_verifies_and_a_forked_record_does_not(tmp_path: Path) -> None:
    root = tmp_path / "centre"
    source = root / "web-01"
    source.mkdir(parents=True)
    for day in DAYS:
        (source / f"{day}.log").write_bytes(f"{day} event\n".encode())
        seal_day(source, day, OLD if day < "2026-03-06" else KEY)
    trust.write_rotation(root, OLD, KEY, "2026-03-06")
    assert verify(root).ok  # only the current key pinned
    assert verify(root, OLD).ok  # or only the old one: the record links them both ways
    # a stolen OLD endorses a key of the attacker's: OLD rotated away twice is a fork, nothing it vouches for
    evil = SM2PrivateKey.generate()
    trust.write_rotation(root, OLD, evil, "2026-03-08")
    forked = errors(verify(root))
    assert ("", "key-record", "") in forked
    assert ("web-01", "untrusted-signer", "2026-03-01") in forked
    # a record that was altered: its statement is refused
    record = json.loads((root / trust.KEYS_NAME).read_text())
    record["rotations"] = record["rotations"][:1]
    record["rotations"][0]["from"] = "2026-03-01"
    (root / trust.KEYS_NAME).write_text(json.dumps(record))
    assert ("", "key-record", "") in errors(verify(root))


# ------------------------------------------------------------- 2d. the sealer on the log centre
def openssl_key(path: Path) -> tuple[Path, Path]:
    public = path.with_suffix(".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(path)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout", "-out", str(public)], check=True)
    return path, public


def seal(root: Path, key: Path, through: str, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SEALER), "--root", str(root), "--key", str(key), "--through", through,
                           *map(str, extra)], capture_output=True, text=True, check=False)


def sealed_centre(tmp_path: Path, *extra: str | Path) -> tuple[Path, Path, Path]:
    private, public = openssl_key(tmp_path / "seal.key")
    root = tmp_path / "centre"
    for name in SOURCES:
        (root / name).mkdir(parents=True)
        for day in DAYS:
            (root / name / f"{day}.log").write_bytes(f"{day} {name} event\n".encode())
    run = seal(root, private, DAYS[-1], *extra)
    assert run.returncode == 0, run.stderr
    return root, private, public


@needs_openssl
def test_the_sealer_does_not_extend_a_chain_whose_last_seals_were_deleted(tmp_path: Path) -> None:
    root, private, public = sealed_centre(tmp_path)
    assert verify_tree(root, [keys.load_public_key(public)], as_of=AS_OF).ok
    source = root / "web-01"
    drop(source, DAYS[-2:], ("seal", "chain"))
    for day in DAYS[-2:]:
        rewrite(source / f"{day}.log", b"nothing happened\n")
    run = seal(root, private, "2026-03-11")
    assert run.returncode == 1
    assert "web-01: not sealed" in run.stderr and "sealed through 2026-03-10" in run.stderr
    assert not (source / "2026-03-09.seal").exists()  # the rewritten logs were not signed
    assert (root / "db-01" / "2026-03-11.seal").exists()  # the other source was sealed
    # the refusal sticks: the manifest keeps web-01 at 03-10 and the next run refuses again
    assert json.loads((root / trust.MANIFEST_NAME).read_text())["sources"]["web-01"] == "2026-03-10"
    assert seal(root, private, "2026-03-11").returncode == 1
    found = errors(verify_tree(root, [keys.load_public_key(public)], as_of=dt.date(2026, 3, 12)))
    assert ("web-01", "missing-seal", "2026-03-09") in found


@needs_openssl
def test_the_sealer_state_file_catches_a_replayed_manifest(tmp_path: Path) -> None:
    root, private, _ = sealed_centre(tmp_path, "--state", tmp_path / "seal.state")
    old_manifest = (root / trust.MANIFEST_NAME).read_bytes()
    for day in ("2026-03-11", "2026-03-12"):
        (root / "web-01" / f"{day}.log").write_bytes(b"event\n")
    assert seal(root, private, "2026-03-12", "--state", tmp_path / "seal.state").returncode == 0
    drop(root / "web-01", ["2026-03-11", "2026-03-12"], ("seal", "chain"))
    manifest = root / trust.MANIFEST_NAME
    manifest.chmod(0o640)
    manifest.write_bytes(old_manifest)  # signed, but from before the last run
    run = seal(root, private, "2026-03-12", "--state", tmp_path / "seal.state")
    assert run.returncode == 1 and "state file records 2026-03-12" in run.stderr
    assert not (root / "web-01" / "2026-03-11.seal").exists()


@needs_openssl
def test_the_sealer_never_seals_a_day_twice(tmp_path: Path) -> None:
    root, private, _ = sealed_centre(tmp_path)
    source = root / "web-01"
    (source / "2026-03-11.log").write_bytes(b"event\n")
    (source / "2026-03-11.chain").write_bytes(b"")  # left by a seal that was deleted
    run = seal(root, private, "2026-03-11")
    assert run.returncode == 1 and "2026-03-11.chain exists after the newest seal" in run.stderr
    assert not (source / "2026-03-11.seal").exists()


@needs_openssl
def test_the_sealer_reports_a_deleted_source_and_keeps_it_listed(tmp_path: Path) -> None:
    root, private, public = sealed_centre(tmp_path)
    shutil.rmtree(root / "db-01")
    run = seal(root, private, "2026-03-11")
    assert run.returncode == 1 and "source db-01" in run.stderr and "is gone" in run.stderr
    assert "db-01" in json.loads((root / trust.MANIFEST_NAME).read_text())["sources"]
    found = errors(verify_tree(root, [keys.load_public_key(public)], as_of=dt.date(2026, 3, 12)))
    assert found == [("db-01", "missing-source", "2026-03-11")]
    # taken out of service on purpose
    assert seal(root, private, "2026-03-11", "--retire-source", "db-01").returncode == 0
    assert verify_tree(root, [keys.load_public_key(public)], as_of=dt.date(2026, 3, 12)).ok


@needs_openssl
def test_the_sealer_refuses_a_tree_whose_manifest_was_deleted(tmp_path: Path) -> None:
    root, private, public = sealed_centre(tmp_path)
    (root / trust.MANIFEST_NAME).unlink()
    run = seal(root, private, "2026-03-11")
    assert run.returncode == 1 and "--adopt-sources" in run.stderr
    assert not (root / "web-01" / "2026-03-11.seal").exists()
    assert seal(root, private, "2026-03-11", "--adopt-sources").returncode == 0
    assert verify_tree(root, [keys.load_public_key(public)], as_of=dt.date(2026, 3, 12)).ok


@needs_openssl
def test_the_sealer_rotates_its_key(tmp_path: Path) -> None:
    root, private, public = sealed_centre(tmp_path)
    new_private, new_public = openssl_key(tmp_path / "new.key")
    run = subprocess.run([sys.executable, str(SEALER), "--root", str(root), "--key", str(private),
                          "--rotate-key", str(new_private), "--rotate-from", "2026-03-12"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    # the old key may still seal 03-11, not 03-12
    refused = seal(root, private, "2026-03-12")
    assert refused.returncode == 1 and "outside this key's period" in refused.stderr
    assert seal(root, new_private, "2026-03-12").returncode == 0
    new_only = verify_tree(root, [keys.load_public_key(new_public)], as_of=dt.date(2026, 3, 13))
    assert new_only.ok, errors(new_only)
    seals = {json.loads((root / "web-01" / f"{d}.seal").read_text())["signer"] for d in ("2026-03-11", "2026-03-12")}
    assert seals == {keys.fingerprint(keys.load_public_key(public)), keys.fingerprint(keys.load_public_key(new_public))}


@needs_openssl
@pytest.mark.parametrize("tamper", ["insert", "spare-bits"])
def test_the_sealer_reads_signatures_as_the_verifier_does(tmp_path: Path, tamper: str) -> None:
    """The sealer decoded seal signatures leniently (characters outside the alphabet skipped, spare bits
    ignored): a seal whose text was altered still extended the chain, while `xzgov logs verify` refuses it."""
    root, private, public = sealed_centre(tmp_path)
    newest = root / "web-01" / f"{DAYS[-1]}.seal"
    record = json.loads(newest.read_text())
    text = record["signature"]
    if tamper == "insert":
        record["signature"] = text[:10] + "*" + text[10:]
    else:  # a signature ending in padding has spare bits; else damage the padding the same way a proxy might
        last = text.rstrip("=")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        record["signature"] = (last[:-1] + alphabet[alphabet.index(last[-1]) ^ 1] + text[len(last):]
                               if text.endswith("=") else text + "=")
    newest.chmod(0o640)
    newest.write_text(json.dumps(record))
    assert not verify_tree(root, [keys.load_public_key(public)], as_of=AS_OF).ok  # the controller refuses it
    (root / "web-01" / "2026-03-11.log").write_bytes(b"event\n")
    run = seal(root, private, "2026-03-11")
    assert run.returncode == 1 and "web-01: not sealed" in run.stderr and "not canonical base64" in run.stderr
    assert not (root / "web-01" / "2026-03-11.seal").exists()
    assert (root / "db-01" / "2026-03-11.seal").exists()


def test_a_source_name_that_folds_two_manifest_lines_into_one_is_refused(tmp_path: Path) -> None:
    """The manifest signs `source=<name> <date>` lines: {"web-01 2026-03-10\\nsource=db-01": "2026-03-10"} signs the
    same bytes as the real {db-01, web-01}. The forged manifest verified; a deleted web-01 then showed as a source
    that never existed (and `--source web-01` as a usage error) instead of tampering."""
    root = build(tmp_path)
    manifest = root / trust.MANIFEST_NAME
    data = json.loads(manifest.read_text())
    assert data["sources"] == {"db-01": "2026-03-10", "web-01": "2026-03-10"}
    data["sources"] = {"db-01 2026-03-10\nsource=web-01": "2026-03-10"}
    genuine, _ = trust.read_manifest(manifest)
    assert genuine is not None
    assert trust.manifest_message(genuine.retention_days, data["sources"], {}) == genuine.message()  # same bytes
    rewrite(manifest, json.dumps(data).encode())
    assert errors(verify(root)) == [("", "bad-manifest", "")]
    assert "not a host name or address" in trust.read_manifest(manifest)[1]


@needs_openssl
def test_the_sealer_refuses_odd_source_names(tmp_path: Path) -> None:
    root, private, _ = sealed_centre(tmp_path)
    (root / "web 01").mkdir()
    (root / "web 01" / f"{DAYS[-1]}.log").write_bytes(b"x\n")
    run = seal(root, private, DAYS[-1])
    assert run.returncode == 1 and "not named after a host name or address" in run.stderr
    assert "web 01" not in json.loads((root / trust.MANIFEST_NAME).read_text())["sources"]
    data = json.loads((root / trust.MANIFEST_NAME).read_text())
    data["sources"]["db-01 x\nsource=y"] = data["sources"].pop("db-01")
    rewrite(root / trust.MANIFEST_NAME, json.dumps(data).encode())
    run = seal(root, private, DAYS[-1])
    assert run.returncode == 1 and "not a host name or address" in run.stderr


@pytest.mark.parametrize("name", ["2026-02-30.log", "9999-12-31.log", "2026-03-13.chain"])
def test_a_day_file_no_sealer_writes_is_a_stray_file_not_ignored(tmp_path: Path, name: str) -> None:
    """A day the calendar lacks, or one after the verification day, was skipped without a word: the tree verified
    OK with files nobody could place in the chain."""
    root = build(tmp_path)
    assert verify(root).ok
    (root / "web-01" / name).write_bytes(b"planted\n")
    report = verify(root)
    assert not report.ok and [f for f in errors(report) if f[0] == "web-01"] == [
        ("web-01", "stray-file", "" if name.startswith("2026-02-30") else name.split(".")[0])]

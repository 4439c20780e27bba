"""``xzgov logs verify`` on hostile trees: seals nested deeper than the JSON parser goes, a seal
renamed to a far-away date (the gap is one finding, however long), a flood of errors in one source.

The tampering kinds themselves are in ``tests/secmgmt/test_logchain.py``."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import CliResult
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey
from xzgov.logchain import chain, verify_tree
from xzgov.logchain.chain import seal_day

KEY = SM2PrivateKey.generate()


def two_sealed_days(root: Path) -> Path:
    source = root / "web01"
    source.mkdir(parents=True)
    for day in ("2026-11-01", "2026-11-02"):
        (source / f"{day}.log").write_bytes(f"{day}T10:00:00+08:00 web01 sshd[1]: event\n".encode())
        seal_day(source, day, KEY)
    return source


#: The day the trees of these tests are verified (their newest seal: 2026-11-02, the day before).
AS_OF = dt.date(2026, 11, 3)


def verify(root: Path, key: SM2PrivateKey = KEY, as_of: dt.date = AS_OF) -> chain.SourceReport:
    report = verify_tree(root, [key.public_key], as_of=as_of)
    assert len(report.sources) == 1
    return report.sources[0]


def errors(report: chain.SourceReport) -> list[chain.Finding]:
    return [f for f in report.findings if f.severity == "error"]


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "centre.pub.pem"
    keys.write_public_key(path, KEY.public_key)
    return path


# ------------------------------------------------------------------------- JSON nested too deeply
@pytest.mark.parametrize("content", ["[" * 60000, '{"a":' * 10000, "[" * 2000 + "]" * 2000],
                         ids=["open-arrays", "open-objects", "closed-arrays"])
def test_a_deeply_nested_seal_is_a_bad_seal_not_a_crash(tmp_path: Path, content: str) -> None:
    assert len(content) < chain.MAX_SEAL_BYTES  # under the size guard: the parser must cope
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    (source / "2026-11-01.log").write_bytes(b"x\n")
    (source / "2026-11-01.seal").write_text(content)
    found = errors(verify(tmp_path / "logs", as_of=dt.date(2026, 11, 2)))
    assert [(f.kind, f.date) for f in found] == [("bad-seal", "2026-11-01")]
    assert found[0].file.endswith("web01/2026-11-01.seal") and found[0].hint


def test_cli_deeply_nested_seal_exits_1_with_the_file_named(
    tmp_path: Path, pub: Path, cli: Callable[..., CliResult]
) -> None:
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    (source / "2026-11-01.log").write_bytes(b"x\n")
    (source / "2026-11-01.seal").write_text("[" * 60000 + "\n")
    result = cli("logs", "verify", tmp_path / "logs", "--trusted-key", pub, "--as-of", "2026-11-02")
    assert result.code == 1, result.text
    assert "internal error" not in result.text
    assert "2026-11-01.seal" in result.out and "bad-seal" in result.out and "nested too deeply" in result.out


def test_sealing_onto_a_deeply_nested_seal_names_it(tmp_path: Path) -> None:
    source = tmp_path / "web01"
    source.mkdir()
    (source / "2026-11-01.seal").write_text("[" * 60000)
    with pytest.raises(ValueError, match=r"2026-11-01\.seal.*nested too deeply"):
        seal_day(source, "2026-11-02", KEY)


# ------------------------------------------------------------------- a seal renamed to a far-away date
@pytest.mark.parametrize(("renamed", "first", "days"), [("1990-01-01", "1990-01-02", 13_452),
                                                        ("0001-01-01", "0001-01-02", 739_919)])
def test_a_misdated_seal_is_one_run_of_missing_days(tmp_path: Path, renamed: str, first: str, days: int) -> None:
    source = two_sealed_days(tmp_path / "logs")
    (source / "2026-11-02.seal").rename(source / f"{renamed}.seal")
    started = time.process_time()
    report = verify(tmp_path / "logs")
    assert time.process_time() - started < 5  # was 105 s CPU for 0001-01-01: one finding per missing day
    found = errors(report)
    assert len(found) <= 4, [(f.kind, f.date) for f in found]
    runs = [f for f in found if f.kind == "missing-day"]
    assert len(runs) == 1
    run = runs[0]
    assert (run.date, run.last_date, run.days) == (first, "2026-10-31", days)
    assert f"{days} days are missing, {first} … 2026-10-31" in run.message
    assert f"{renamed}.seal" in run.hint
    # the renamed seal itself is the first break: it says which day it belongs to
    assert report.first_break is not None and report.first_break.kind == "bad-seal"
    assert report.first_break.date == renamed and "2026-11-02" in report.first_break.message
    as_json = report.to_json()["findings"]
    assert {"last_date": "2026-10-31", "days": days}.items() <= next(
        f for f in as_json if f["kind"] == "missing-day").items()


def test_cli_misdated_seal_output_stays_small(tmp_path: Path, pub: Path, cli: Callable[..., CliResult]) -> None:
    source = two_sealed_days(tmp_path / "logs")
    (source / "2026-11-02.seal").rename(source / "1990-01-01.seal")
    text = cli("logs", "verify", tmp_path / "logs", "--trusted-key", pub, "--as-of", AS_OF.isoformat())
    assert text.code == 1
    assert len(text.out.splitlines()) < 40, len(text.out.splitlines())  # was 26,924 lines (0001-01-01: 1.48 M)
    as_json = cli("logs", "verify", tmp_path / "logs", "--trusted-key", pub, "--as-of", AS_OF.isoformat(),
                  "--format", "json")
    assert as_json.code == 1 and len(as_json.out) < 20_000  # was 5.9 MB (0001-01-01: 324 MB)
    data = json.loads(as_json.out)["sources"][0]
    assert data["first_break"]["kind"] == "bad-seal"
    assert sum(f["kind"] == "missing-day" for f in data["findings"]) == 1


def test_a_short_gap_is_one_finding_with_its_count(tmp_path: Path) -> None:
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    for day in ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"):
        seal_day(source, day, KEY)
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        for ext in ("seal", "chain"):
            (source / f"{day}.{ext}").unlink(missing_ok=True)
    found = errors(verify(tmp_path / "logs", as_of=dt.date(2026, 3, 6)))
    assert [(f.kind, f.date, f.last_date, f.days) for f in found] == [
        ("missing-day", "2026-03-02", "2026-03-04", 3)]
    assert found[0].file.endswith("web01/2026-03-02.seal")


def test_one_missing_day_keeps_its_single_day_shape(tmp_path: Path) -> None:
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        seal_day(source, day, KEY)
    (source / "2026-03-02.seal").unlink()
    found = errors(verify(tmp_path / "logs", as_of=dt.date(2026, 3, 4)))
    assert [(f.kind, f.date) for f in found] == [("missing-day", "2026-03-02")]
    assert "last_date" not in found[0].to_json() and "days" not in found[0].to_json()


# ------------------------------------------------------------------------------- a flood in one source
def test_errors_listed_per_source_are_capped_after_the_first_break(tmp_path: Path) -> None:
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    limit = chain.MAX_LISTED_PER_SOURCE
    start = dt.date(2026, 1, 1)
    for index in range(limit + 10):  # every seal by a key that is not trusted: limit + 10 errors
        seal_day(source, (start + dt.timedelta(days=index)).isoformat(), KEY)
    report = verify(tmp_path / "logs", SM2PrivateKey.generate(), as_of=start + dt.timedelta(days=limit + 10))
    found = errors(report)
    assert len(found) == limit + 1
    assert all(f.kind == "untrusted-signer" for f in found[:limit])
    assert found[-1].kind == "more" and "10 more problem(s)" in found[-1].message
    assert report.first_break is found[0] and report.sealed_days == limit + 10


def test_the_problem_count_counts_the_unlisted_ones(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    """Capped, the listing says how many it left out; the total ("FAILED: N problem(s)", ``errors`` in JSON)
    is every problem, not the listed ones plus the "more" line."""
    source = tmp_path / "logs" / "web01"
    source.mkdir(parents=True)
    extra = 7
    start = dt.date(2026, 1, 1)
    for index in range(chain.MAX_LISTED_PER_SOURCE + extra):  # sealed by a key the verifier does not trust
        seal_day(source, (start + dt.timedelta(days=index)).isoformat(), KEY)
    as_of = start + dt.timedelta(days=chain.MAX_LISTED_PER_SOURCE + extra)
    report = verify(tmp_path / "logs", SM2PrivateKey.generate(), as_of=as_of)
    total = chain.MAX_LISTED_PER_SOURCE + extra
    assert report.unlisted == extra and report.errors == total
    other = keys.write_public_key(tmp_path / "other.pub.pem", SM2PrivateKey.generate().public_key)
    shown = cli("logs", "verify", tmp_path / "logs", "--trusted-key", other, "--as-of", as_of.isoformat())
    assert shown.code == 1 and f"FAILED: {total} problem(s)" in shown.out, shown.out[-300:]
    as_json = cli("logs", "verify", tmp_path / "logs", "--trusted-key", other, "--as-of", as_of.isoformat(),
                  "--format", "json")
    assert json.loads(as_json.out)["sources"][0]["errors"] == total


# ------------------------------------------------------------------------- the calendar's ends
@pytest.mark.parametrize("extra", [
    ["--as-of", "0001-01-01"], ["--retention-days", "1000000000"], ["--max-unsealed-days", "1000000000"], []],
    ids=["as-of-day-one", "huge-retention", "huge-unsealed", "planted-day-one"])
def test_days_at_the_calendars_ends_are_findings_not_a_crash(tmp_path: Path, pub: Path, extra: list[str],
                                                            cli: Callable[..., CliResult]) -> None:
    """A planted ``0001-01-01.log`` in a second source, or an --as-of / --retention-days / --max-unsealed-days at
    the calendar's end, stopped the whole tree's verification with "internal error: OverflowError" (exit 3):
    now every source is verified and reported (exit 0 or 1)."""
    two_sealed_days(tmp_path / "logs")
    planted = tmp_path / "logs" / "new01"
    planted.mkdir()
    (planted / "0001-01-01.log").write_bytes(b"hi\n")
    (planted / "9999-12-31.log").write_bytes(b"hi\n")
    result = cli("logs", "verify", tmp_path / "logs", "--trusted-key", pub, "--as-of", AS_OF.isoformat(), *extra,
                 "--format", "json")
    assert result.code in (0, 1), result.text
    assert "internal error" not in result.text and "Traceback" not in result.text
    sources = {source["source"]: source for source in json.loads(result.out)["sources"]}
    assert set(sources) == {"web01", "new01"}


# ------------------------------------------------------------------------- directory names no sealer writes
@pytest.mark.parametrize("name", [b"w\xffb", b"web 01", b"-web01"], ids=["non-utf8", "space", "dash-first"])
def test_a_directory_no_sealer_writes_is_a_finding_the_other_sources_verified(
    tmp_path: Path, pub: Path, name: bytes, cli: Callable[..., CliResult]
) -> None:
    """A directory whose name cannot be a source (a planted copy named with an undecodable byte) stopped the
    whole verification with exit 2 blaming --trusted-key ("surrogates not allowed"), every real finding
    hidden: now it is a finding of the tree (exit 1) and the real sources are still verified and reported."""
    source = two_sealed_days(tmp_path / "logs")
    (source / "2026-11-02.log").write_bytes(b"rewritten\n")  # a real tampering the planted directory hid
    planted = Path(tmp_path / "logs").joinpath(name.decode("utf-8", "surrogateescape"))
    planted.mkdir()
    (planted / "2026-11-01.log").write_bytes(b"x\n")
    (planted / "2026-11-01.seal").write_text(json.dumps({"source": "x", "sig": "AAAA"}) + "\n")
    report = verify_tree(tmp_path / "logs", [KEY.public_key], as_of=AS_OF)
    assert [s.source for s in report.sources] == ["web01"]
    assert [(f.kind, f.date) for f in errors(report.sources[0])] == [("modified", "2026-11-02")]
    assert [f.kind for f in report.tree] == ["bad-source-name"] and report.tree[0].file == str(planted)
    result = cli("logs", "verify", tmp_path / "logs", "--trusted-key", pub, "--as-of", AS_OF.isoformat())
    assert result.code == 1, result.text
    assert "bad-source-name" in result.out and "modified" in result.out and "internal error" not in result.text
    # one source's directory under such a name cannot verify (the seals chain on the name): a usage error
    single = cli("logs", "verify", planted, "--single-source", "--trusted-key", pub, "--as-of", AS_OF.isoformat())
    assert single.code == 2 and "is not a source name" in single.text and "--trusted-key" not in single.text

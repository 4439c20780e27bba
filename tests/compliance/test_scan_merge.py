"""Sharded scans (``xzgov scan --shard K/N``) and ``xzgov scan merge``.

The example region (``region.yaml`` and ``systems/`` at the repository root) is cut several ways; the
merged report equals the single scan: byte for byte in every format when the clock is frozen, and
apart from the timing fields when the shards run at their own times (the CLI test). Parts that overlap,
leave a gap, were changed after signing, were signed by an unpinned key or come from another catalogue
or register are refused with exit 2 and the part and field named.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import compliance.scanner as scanner
from compliance.merge import Part, load_part, merge_parts, merge_register, part_bytes
from compliance.reports import DEFAULT_FORMATS, PART_NAME, ReportFormat, publish_reports, render
from compliance.results import ScanResult
from compliance.scan.shard import Shard, ShardBy, shard_systems
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from xzgov.cli.scan_cmds import JOB_INDEX_ENV
from xzgov.core.register import load_register
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "register"
FROZEN = "2026-06-01T08:00:00Z"
TIMING = {"started", "finished", "at"}


@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[None]:
    """Every scan of this module starts and finishes at :data:`FROZEN`: merged and single reports compare
    byte for byte."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner, "utc_now", lambda: FROZEN)
        yield


@pytest.fixture(scope="module")
def single(frozen_clock: None) -> ScanResult:
    return scan(ScanOptions(root=ROOT))


@pytest.fixture(scope="module")
def part_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[SM2PrivateKey, str]:
    key = SM2PrivateKey.generate()
    return key, keys.fingerprint(key.public_key)


def _write_parts(root: Path, count: int, by: ShardBy, directory: Path, key: SM2PrivateKey) -> list[Path]:
    """Scan every shard of ``root`` and write each one's signed part, as the CLI does (the CLI test writes
    the reports beside it too; here they would only cost time)."""
    written = []
    for index in range(1, count + 1):
        shard = Shard(index, count, by)
        result = scan(ScanOptions(root=root, shard=shard))
        out = directory / f"part-{index}"
        publish_reports(result, out, [], key, {PART_NAME: part_bytes(result, shard)})
        written.append(out)
    return written


def _merged(paths: list[Path], fingerprint: str, root: Path | None = None) -> ScanResult:
    parts = [load_part(path, [fingerprint]) for path in paths]
    register, register_root = merge_register(parts, root)
    return merge_parts(parts, register, register_root)


def _zones() -> int:
    return len({system.zone for system in load_register(ROOT).systems.values()})


_RENDERED: dict[ReportFormat, str] = {}


def _single(result: ScanResult, fmt: ReportFormat) -> str:
    if fmt not in _RENDERED:
        _RENDERED[fmt] = render(result, fmt)[0]
    return _RENDERED[fmt]


@pytest.mark.parametrize(("count", "by"), [(1, ShardBy.name), (2, ShardBy.name), (3, ShardBy.name),
                                           (5, ShardBy.name), (0, ShardBy.zone)])
def test_merged_shards_equal_the_single_scan(count: int, by: ShardBy, single: ScanResult,
                                             part_key: tuple[SM2PrivateKey, str], tmp_path: Path) -> None:
    count = count or _zones()  # by zone: one shard per zone
    key, fingerprint = part_key
    paths = _write_parts(ROOT, count, by, tmp_path, key)
    merged = _merged(paths, fingerprint)
    assert [s.name for s in merged.systems] == [s.name for s in single.systems]
    formats = DEFAULT_FORMATS if (count, by) == (3, ShardBy.name) else (ReportFormat.json,)
    for fmt in formats:
        assert render(merged, fmt)[0] == _single(single, fmt), f"{fmt} differs after merging {count} shards by {by}"


def test_shards_partition_the_register() -> None:
    register = load_register(ROOT)
    for by in ShardBy:
        for count in (1, 2, 3, 5, 7, len(register.systems) + 2):
            cut = [shard_systems(register, Shard(k, count, by)) for k in range(1, count + 1)]
            flat = [name for part in cut for name in part]
            assert sorted(flat) == sorted(register.systems) and len(flat) == len(set(flat)), (by, count)
            for part in cut:  # each part keeps the register's order
                assert list(part) == [name for name in register.systems if name in part]
            if by is ShardBy.zone:  # a zone is never split
                zones = [{register.systems[name].zone for name in part} for part in cut]
                assert sum(len(z) for z in zones) == len(set().union(*zones))
    sizes = [len(shard_systems(register, Shard(k, 5))) for k in range(1, 6)]
    assert max(sizes) - min(sizes) <= 1


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / "compliance-report.json").read_text(encoding="utf-8"))
    return data


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _comparable(report: dict[str, Any]) -> Any:
    """A JSON report apart from its times. Its findings and item details are read back as records first
    (:func:`compliance.reports.formats.expand_system`): an evidence's ``at`` is a column of an array there, left
    out when it is the report's start, so shards that ran in other seconds than the single scan write it."""
    from compliance.reports.formats import expand_system

    systems = []
    for system in report["systems"]:
        items, findings = expand_system(report, system)
        rest = {k: v for k, v in system.items() if k not in ("findings", "details")}
        systems.append({**rest, "items": items, "findings": findings})
    return _untimed({**{k: v for k, v in report.items() if k not in ("systems", "details", "texts")},
                     "systems": systems})


def test_cli_shards_and_merge(cli: Cli, register_root: Path, signing_key: tuple[Path, SM2PrivateKey],
                              tmp_path: Path) -> None:
    key_path, key = signing_key
    public = tmp_path / "signer.pub.pem"
    keys.write_public_key(public, key.public_key)
    waivers = register_root / "compliance" / "waivers"
    waivers.mkdir(parents=True)
    (waivers / "w.yaml").write_text(USED_WAIVER.replace("W-USED", "W-IDLE").replace("bad-mfa", "clean-l3"),
                                    encoding="utf-8")  # a waiver no result uses: a warning of the scan
    whole = cli("scan", "--root", register_root, "--out", tmp_path / "single", "--key", key_path)
    assert whole.code == 1, whole.err  # the fixture register has planted findings
    for index in (1, 2):
        shard = cli("scan", "--root", register_root, "--shard", f"{index}/2", "--shard-by", "zone",
                    "--out", tmp_path / f"p{index}", "--key", key_path)
        assert shard.code in (0, 1), shard.err
        assert (tmp_path / f"p{index}" / PART_NAME).is_file()
        assert PART_NAME in bundle.verify_bundle(tmp_path / f"p{index}" / "xzgov-bundle.json",
                                                 [keys.fingerprint(key.public_key)]).files
    merged = cli("scan", "merge", tmp_path / "p1", tmp_path / "p2", "--out", tmp_path / "merged",
                 "--key", key_path, "--trusted-key", public, "--root", register_root)
    assert merged.code == 1, merged.err  # the same gate as the single scan
    assert "merged 2 part(s)" in merged.err and "XZ-MAN-INTERNET-ZONE [critical] bad-internet" in merged.err
    # the warnings on stderr, as the single scan prints them
    warned = [line for line in whole.err.splitlines() if line.startswith("warning: ")]
    assert warned and "W-IDLE matched no failing result" in warned[0]
    assert [line for line in merged.err.splitlines() if line.startswith("warning: ")] == warned
    assert cli("verify", tmp_path / "merged" / "xzgov-bundle.json", "--trusted-key", public).code == 0
    assert _comparable(_json(tmp_path / "merged")) == _comparable(_json(tmp_path / "single"))


def test_shard_usage_errors(cli: Cli, register_root: Path, signing_key: tuple[Path, SM2PrivateKey],
                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_path, _ = signing_key
    # 10,001 shards: a cut no merge accepts; digits beyond ASCII or beyond int()'s 4,300 were exit 3 (ValueError)
    for bad in ("0/3", "4/3", "x/3", "3", "1/10001", "1/" + "9" * 5000, "\u00b2/3", "1/\u0663"):
        res = cli("scan", "--root", register_root, "--shard", bad, "--out", tmp_path / "o", "--key", key_path)
        assert res.code == 2 and "--shard" in res.err, (bad, res.err)
    for big in ("1/999999999999", "1/0" + "9" * 5000):  # named for what they are, not "not a shard"
        res = cli("scan", "--root", register_root, "--shard", big, "--out", tmp_path / "o", "--key", key_path)
        assert res.code == 2 and "at most 10,000" in res.err and "not a shard" not in res.err, (big, res.err)
    for index in ("\u00b2", "9" * 5000):  # an Indexed Job's index that is no 0-based number
        monkeypatch.setenv(JOB_INDEX_ENV, index)
        res = cli("scan", "--root", register_root, "--shard", "auto/3", "--out", tmp_path / "o", "--key", key_path)
        assert res.code == 2 and JOB_INDEX_ENV in res.err, (index, res.err)
    assert not (tmp_path / "o").exists()
    assert cli("scan", "--root", register_root, "--shard", "1/2").code == 2  # no --out: no part to merge
    both = cli("scan", "--root", register_root, "--shard", "1/2", "--system", "clean-l3",
               "--out", tmp_path / "o", "--key", key_path)
    assert both.code == 2 and "--system" in both.err
    # refused before the register is read (it was refused after a load of minutes): here a register that is none
    early = cli("scan", "--root", tmp_path / "no-register", "--shard", "1/2", "--system", "clean-l3",
                "--out", tmp_path / "o", "--key", key_path)
    assert early.code == 2 and "--shard and --system cannot be combined" in early.err, early.err
    cut = cli("scan", "--root", register_root, "--shard", "1/2", "--shard-by", "department",
              "--out", tmp_path / "o", "--key", key_path)
    assert cut.code == 2 and "--shard-by" in cut.err


def test_a_format_that_would_be_ignored_is_refused(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    """--format text with --out wrote every report format; two formats without --out printed the first only."""
    written = cli("scan", "--root", register_root, "--out", tmp_path / "o", "--unsigned", "--format", "text")
    assert written.code == 2 and "--format" in written.err and "summary" in written.err, written.err
    assert not (tmp_path / "o").exists()
    printed = cli("scan", "--root", register_root, "--format", "json", "--format", "sarif")
    assert printed.code == 2 and "--format" in printed.err and "--out" in printed.err, printed.err
    assert cli("scan", "merge", tmp_path, "--out", tmp_path / "m", "--format", "text").code == 2
    for extra in (("--out", tmp_path / "lr"), ("--format", "sarif"), ("--format", "json", "--format", "text")):
        listed = cli("scan", "--list-rules", *extra)  # --out was ignored, sarif printed the table
        assert listed.code == 2 and "--list-rules" in listed.err, (extra, listed.err)
    assert not (tmp_path / "lr").exists()
    assert cli("scan", "--list-rules", "--format", "json").code == 0
    one = cli("scan", "--root", register_root, "--out", tmp_path / "j", "--unsigned", "--format", "json")
    assert one.code in (0, 1) and sorted(p.name for p in (tmp_path / "j").iterdir()) == ["compliance-report.json"]


# ---------------------------------------------------------------------------------------- refusals


@pytest.fixture(scope="module")
def fixture_parts(tmp_path_factory: pytest.TempPathFactory,
                  part_key: tuple[SM2PrivateKey, str]) -> tuple[list[Path], Path, Path]:
    """Three signed parts of the fixture register, its root, and the signer's public key file."""
    directory = tmp_path_factory.mktemp("parts")
    root = directory / "register"
    shutil.copytree(FIXTURE, root)
    key, _ = part_key
    public = directory / "parts.pub.pem"
    keys.write_public_key(public, key.public_key)
    return _write_parts(root, 3, ShardBy.name, directory, key), root, public


def _merge(cli: Cli, parts: list[Path], out: Path, key: Path, trusted: Path, root: Path) -> CliResult:
    return cli("scan", "merge", *parts, "--out", out, "--key", key, "--trusted-key", trusted, "--root", root)


def test_overlapping_parts_are_refused(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                       signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    twin = tmp_path / "twin"  # shard 1 again, from another directory
    shutil.copytree(parts[0], twin)
    res = _merge(cli, [twin, *parts], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2
    assert f"overlap: shard 1/3 is also {parts[0] / PART_NAME}" in res.err and f"{twin / PART_NAME}" in res.err \
        and "shard.index" in res.err
    assert "systems[" not in res.err  # the shard overlap is named once, not once per system it holds
    assert not (tmp_path / "out").exists()
    again = _merge(cli, [parts[0], *parts], tmp_path / "out", signing_key[0], public, root)
    assert again.code == 2 and "shard 1/3 is given twice" in again.err and "systems[" not in again.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("inside", ["systems/merged", "compliance/waivers/merged"])
def test_the_merged_set_is_not_written_inside_the_register(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                                           signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path,
                                                           inside: str) -> None:
    """`scan --out` refused the register's own folders; `scan merge --out` wrote and signed its set there."""
    parts, root, public = fixture_parts
    register = tmp_path / "register"
    shutil.copytree(root, register)
    res = _merge(cli, parts, register / inside, signing_key[0], public, register)
    assert res.code == 2 and "inside the register's" in res.err, res.err
    assert not (register / inside).exists()


def test_a_missing_shard_is_a_gap(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                  signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    res = _merge(cli, [parts[0], parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "gap: shard(s) 2/3 not given" in res.err and "--shard K/N" in res.err


def test_a_tampered_part_is_refused(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                    signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    forged = tmp_path / "forged"
    shutil.copytree(parts[1], forged)
    text = (forged / PART_NAME).read_text(encoding="utf-8")
    assert '"state":"fail"' in text
    (forged / PART_NAME).write_text(text.replace('"state":"fail"', '"state":"pass"'), encoding="utf-8")
    res = _merge(cli, [parts[0], forged, parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "changed" in res.err and str(forged / PART_NAME) in res.err


def test_an_untrusted_signer_is_refused(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                        signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, _ = fixture_parts
    other = tmp_path / "other.pub.pem"
    keys.write_public_key(other, SM2PrivateKey.generate().public_key)
    res = _merge(cli, parts, tmp_path / "out", signing_key[0], other, root)
    assert res.code == 2 and "signer not trusted" in res.err and str(parts[0] / PART_NAME) in res.err


def _resign(part: Path, edit: Callable[[dict[str, Any]], None], key: SM2PrivateKey) -> None:
    """Edit a part's JSON and sign its set again with the pinned key (a shard run with other inputs)."""
    data = json.loads((part / PART_NAME).read_text(encoding="utf-8"))
    edit(data)
    (part / PART_NAME).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (part / "xzgov-bundle.json").unlink()
    bundle.sign_files(sorted(part.iterdir()), key, part / "xzgov-bundle.json")


def test_mixed_catalogue_versions_are_refused(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                              part_key: tuple[SM2PrivateKey, str],
                                              signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    older = tmp_path / "older"
    shutil.copytree(parts[2], older)
    _resign(older, lambda data: data.update(catalogue_version="2019-draft"), part_key[0])
    res = _merge(cli, [parts[0], parts[1], older], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2
    assert "catalogue version differs: 2019-draft here" in res.err and "catalogue_version" in res.err
    assert str(older / PART_NAME) in res.err


def test_the_part_that_differs_from_the_others_is_the_one_named(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """The first part in shard order was everyone's reference: when it was the odd one out, the two parts that
    agreed were named as differing, and the odd one as the reference (a review's merge of 1/2 with 2/3, 3/3)."""
    parts, root, public = fixture_parts
    older = tmp_path / "older"
    shutil.copytree(parts[0], older)
    _resign(older, lambda data: data.update(catalogue_version="2019-draft"), part_key[0])
    res = _merge(cli, [older, parts[1], parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2
    current = json.loads((parts[1] / PART_NAME).read_text(encoding="utf-8"))["catalogue_version"]
    assert f"catalogue version differs: 2019-draft here, {current} in {parts[1] / PART_NAME}" in res.err, res.err
    assert res.err.count("catalogue version differs") == 1


def test_a_changed_file_of_a_part_is_named_with_its_part(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], signing_key: tuple[Path, SM2PrivateKey],
        tmp_path: Path) -> None:
    """Each line names the changed file by its path beside its part's bundle (it said ``scan-part.json: file
    changed since signing``, the same for every part)."""
    parts, root, public = fixture_parts
    forged = tmp_path / "forged"
    shutil.copytree(parts[1], forged)
    with (forged / PART_NAME).open("a", encoding="utf-8") as handle:
        handle.write(" ")
    res = _merge(cli, [parts[0], forged, parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2
    changed = [line for line in res.err.splitlines() if "file changed since signing" in line]
    assert changed and all(line.startswith(str(forged / PART_NAME)) for line in changed), res.err


def test_a_device_given_as_a_part_is_told_to_give_a_shards_folder(cli: Cli, fixture_parts: tuple[
        list[Path], Path, Path], signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    res = _merge(cli, [parts[0], Path("/dev/null"), parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "not a scan part" in res.err and "--out directory of `xzgov scan --shard" in res.err
    assert "give the directory (/dev)" not in res.err


def test_a_trusted_part_describing_a_system_otherwise_than_the_register_is_refused(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """A part signed by a pinned key whose system had another level (or department) merged without a word:
    a level-2 card was signed as the verdict of a level-3 system. The merge reloads the register anyway."""
    parts, root, public = fixture_parts
    edited = tmp_path / "edited"
    shutil.copytree(parts[1], edited)
    named: list[str] = []

    def relevel(data: dict[str, Any]) -> None:
        entry = data["reports"][0]
        named.append(entry["name"])
        entry["level"] = 2 if entry["level"] != 2 else 3
        entry["department"] = "nobody"

    _resign(edited, relevel, part_key[0])
    res = _merge(cli, [parts[0], edited, parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "otherwise than the register" in res.err, res.err
    assert f"systems.{named[0]}.level" in res.err and f"systems.{named[0]}.department" in res.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_parts_judged_on_different_as_of_days_are_refused(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    day = json.loads((parts[0] / PART_NAME).read_text(encoding="utf-8"))["as_of"]
    assert day == "2026-12-01"  # the suite's pinned day ($XZGOV_AS_OF)
    later = tmp_path / "later"
    shutil.copytree(parts[1], later)
    _resign(later, lambda data: data.update(as_of="2026-12-20"), part_key[0])
    res = _merge(cli, [parts[0], later, parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2, res.text
    assert f"{later / PART_NAME}:1" in res.err and "[as_of]" in res.err
    assert (f"the as-of day differs: 2026-12-20 here, 2026-12-01 in {parts[0] / PART_NAME}, "
            f"{parts[2] / PART_NAME}") in res.err
    assert "--as-of 2026-12-01" in res.err
    assert not (tmp_path / "out").exists()


def test_parts_of_another_register_are_refused(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                               part_key: tuple[SM2PrivateKey, str],
                                               signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    edited = tmp_path / "register"
    shutil.copytree(root, edited)
    manifest = edited / "systems" / "fx" / "clean-l2.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "# edited after shard 1 ran\n", encoding="utf-8")
    other = _write_parts(edited, 3, ShardBy.name, tmp_path, part_key[0])
    res = _merge(cli, [parts[0], other[1], parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "register.digest" in res.err and "the register (region.yaml and manifests) differs" \
        in res.err and str(other[1] / PART_NAME) in res.err
    # the whole set of the edited register merges, but not against the unedited register's root
    stale = _merge(cli, other, tmp_path / "out", signing_key[0], public, root)
    assert stale.code == 2 and "is not the one the parts scanned" in stale.err


def test_systems_judged_twice_or_never_are_named() -> None:
    names = ["a", "b", "c"]

    def part(index: int, systems: list[str]) -> Part:
        data = {"shard": {"index": index, "count": 2, "by": "name"}, "register": {"digest": "d", "systems": names},
                "catalogue_version": "v", "rules_version": "r", "fail_on": "high", "modes": ["static"],
                "systems": systems}
        return Part(Path(f"p{index}/{PART_NAME}"), data)

    from compliance.merge import check_parts

    problems = check_parts([part(1, ["a", "b"]), part(2, ["b"])])
    assert [(p.file, p.path, p.code) for p in problems] == [
        (f"p2/{PART_NAME}", "systems[0]", "overlap"), ("<parts>", "systems", "gap")]
    assert "b is also judged by p1" in problems[0].message and "no part judged c" in problems[1].message


#: A waiver the fixture's bad-mfa uses (its MFA finding)
USED_WAIVER = """apiVersion: xzgov.io/v1
kind: Waivers
waivers:
  - id: W-USED
    system: bad-mfa
    rule: XZ-MAN-AUTH-MFA
    reason: 补偿措施为堡垒机二次认证, 本期内整改
    approver: {name: 赵六, role: 安全负责人}
    approved: "2026-01-01"
    expires: "2026-12-31"
"""


def test_warnings_name_only_waivers_no_part_used(frozen_clock: None, register_root: Path,
                                                 part_key: tuple[SM2PrivateKey, str], tmp_path: Path) -> None:
    directory = register_root / "compliance" / "waivers"
    directory.mkdir(parents=True)
    (directory / "w.yaml").write_text(USED_WAIVER + """  - id: W-IDLE
    system: clean-l3
    rule: XZ-MAN-AUTH-MFA
    reason: 该系统没有这一问题, 豁免不会被使用
    approver: {name: 赵六, role: 安全负责人}
    approved: "2026-01-01"
    expires: "2026-12-31"
""", encoding="utf-8")
    whole = scan(ScanOptions(root=register_root))
    assert [w for w in whole.warnings if "W-" in w] == ["compliance/waivers/w.yaml:11: waiver W-IDLE matched no "
                                                        "failing result"], whole.warnings
    key, fingerprint = part_key
    paths = _write_parts(register_root, 2, ShardBy.name, tmp_path, key)
    shards = [json.loads((path / PART_NAME).read_text(encoding="utf-8")) for path in paths]
    assert any("W-USED" in part["unused_waivers"] for part in shards)  # the shard without bad-mfa
    merged = _merged(paths, fingerprint, register_root)
    assert merged.warnings == whole.warnings
    assert render(merged, ReportFormat.json)[0] == render(whole, ReportFormat.json)[0]


def test_an_empty_shard_keeps_the_high_risk_tables_warning_apart_from_the_unused_waivers(
        frozen_clock: None, register_root: Path, part_key: tuple[SM2PrivateKey, str], tmp_path: Path) -> None:
    """A shard that judged no system loaded the guide's case table (and warned about it) only as it built its
    result, after the unused waivers were listed: the part cut its warnings at the wrong place, and the merge said
    a waiver another part used "matched no failing result" and lost the table's warning."""
    standards = register_root / "standards"
    shutil.copytree(ROOT / "standards", standards)
    table = standards / "high-risk-2025.yaml"
    table.write_text(table.read_text(encoding="utf-8").replace("'4': L4-PES1-03", "'4': L4-ZZZ9-99", 1),
                     encoding="utf-8")
    directory = register_root / "compliance" / "waivers"
    directory.mkdir(parents=True)
    (directory / "w.yaml").write_text(USED_WAIVER, encoding="utf-8")
    whole = scan(ScanOptions(root=register_root))
    assert any("high-risk case table not used" in warning for warning in whole.warnings), whole.warnings
    assert not any("W-USED" in warning for warning in whole.warnings)
    zones = len({system.zone for system in load_register(register_root).systems.values()})
    key, fingerprint = part_key
    paths = _write_parts(register_root, zones + 2, ShardBy.zone, tmp_path, key)  # two shards judge no system
    merged = _merged(paths, fingerprint, register_root)
    assert merged.warnings == whole.warnings


def test_parts_judged_with_other_inputs_are_refused(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """A shard run from a checkout with other thresholds (the same register digest) is refused: its verdicts
    are not those a single scan of the register gives."""
    parts, root, public = fixture_parts
    other = tmp_path / "register"
    shutil.copytree(root, other)
    (other / "compliance").mkdir()
    (other / "compliance" / "config.yaml").write_text("thresholds:\n  min_log_retention_days: 60\n",
                                                    encoding="utf-8")
    lowered = _write_parts(other, 3, ShardBy.name, tmp_path, part_key[0])
    res = _merge(cli, [parts[0], lowered[1], parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2, res.text
    assert "inputs.config" in res.err and "the thresholds (compliance/config.yaml) differs" in res.err
    assert str(lowered[1] / PART_NAME) in res.err and "register.digest" not in res.err
    assert not (tmp_path / "out").exists()


def test_scan_inputs_digest_content_not_location(tmp_path: Path) -> None:
    from compliance.scan.context import scan_inputs

    standards = tmp_path / "a" / "standards"
    shutil.copytree(ROOT / "standards", standards, ignore=shutil.ignore_patterns("__pycache__"))
    moved = tmp_path / "b" / "标准 副本"
    shutil.copytree(standards, moved)
    (moved / "__pycache__").mkdir(exist_ok=True)
    (moved / "__pycache__" / "x.pyc").write_bytes(b"cache")
    (moved / ".swp").write_text("editor", encoding="utf-8")
    first = scan_inputs(ScanOptions(root=FIXTURE, standards_dir=standards))
    assert scan_inputs(ScanOptions(root=FIXTURE, standards_dir=moved)) == first
    assert scan_inputs(ScanOptions(root=FIXTURE)) == first  # the packaged catalogue: the same files
    level3 = moved / "gbt22239-2019" / "level3-general.yaml"
    level3.write_text(level3.read_text(encoding="utf-8").replace("title: 网络带宽", "title: 网络带宽（改）"),
                      encoding="utf-8")
    edited = scan_inputs(ScanOptions(root=FIXTURE, standards_dir=moved))
    assert edited["standards"] != first["standards"] and {k: v for k, v in edited.items() if k != "standards"} \
        == {k: v for k, v in first.items() if k != "standards"}
    assert scan_inputs(ScanOptions(root=FIXTURE, use_attestations=False))["attestations"] == "off"
    assert "inventory" in scan_inputs(ScanOptions(root=FIXTURE, live=True))


def test_the_merge_does_not_depend_on_the_order_of_the_parts(
        frozen_clock: None, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        tmp_path: Path) -> None:
    """Shards run from checkouts at different paths (same register): shard 1's recorded root names the
    merged report whatever order the parts come in."""
    parts, root, _ = fixture_parts
    elsewhere = tmp_path / "另一 checkout"
    shutil.copytree(root, elsewhere)
    moved = _write_parts(elsewhere, 3, ShardBy.name, tmp_path, part_key[0])
    fingerprint = part_key[1]
    given = [moved[1], parts[0], parts[2]]
    merged = [render(_merged(order, fingerprint), ReportFormat.json)[0]
              for order in (given, list(reversed(given)), [parts[2], moved[1], parts[0]])]
    assert merged[0] == merged[1] == merged[2]
    assert json.loads(merged[0])["register_root"] == str(root)


def test_merge_output_and_part_paths_are_checked_first(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], signing_key: tuple[Path, SM2PrivateKey],
        tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    before = {p.name: p.read_bytes() for p in parts[0].iterdir() if p.is_file()}
    into_part = _merge(cli, parts, parts[0], signing_key[0], public, root)
    assert into_part.code == 2 and "holds a scan part" in into_part.err and "new directory" in into_part.err
    assert {p.name: p.read_bytes() for p in parts[0].iterdir() if p.is_file()} == before
    # parts in a folder below --out (its report-pages/ too): the swap into --out would delete what it just read
    around = tmp_path / "around"
    (around / "report-pages").mkdir(parents=True)
    nested = [Path(shutil.copytree(part, around / "report-pages" / part.name)) for part in parts]
    enclosing = _merge(cli, nested, around, signing_key[0], public, root)
    assert enclosing.code == 2 and "holds a scan part" in enclosing.err, enclosing.text
    assert all((part / "scan-part.json").is_file() for part in nested)
    under_file = _merge(cli, parts, parts[0] / "scan-part.json" / "merged", signing_key[0], public, root)
    assert under_file.code == 2 and "is a file, not a directory" in under_file.err
    missing = _merge(cli, [*parts, tmp_path / "nope"], tmp_path / "out", signing_key[0], public, root)
    assert missing.code == 2 and f"{tmp_path / 'nope'}: no such file or directory" in missing.err
    report = tmp_path / "shard-3" / "summary.md"  # a report file of a shard's set instead of its directory
    report.parent.mkdir()
    report.write_text("# 摘要\n", encoding="utf-8")
    inside = _merge(cli, [parts[0], parts[1] / "xzgov-bundle.json", report], tmp_path / "out", signing_key[0],
                    public, root)
    assert inside.code == 2 and "not a scan part" in inside.err and f"give the directory ({report.parent})" \
        in inside.err
    assert not (tmp_path / "out").exists()
    fingerprint = keys.fingerprint(keys.load_public_key(public))
    pinned = cli("scan", "merge", *parts, "--out", tmp_path / "by-fingerprint", "--key", signing_key[0],
                 "--trusted-fingerprint", fingerprint, "--root", root)
    assert pinned.code == 1, pinned.err  # merged (the fixture register has planted findings)


def test_the_merged_report_names_the_root_the_parts_scanned_not_another_checkout(
        frozen_clock: None, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        tmp_path: Path) -> None:
    # --root names where to read the register; the results are the parts', judged with the inputs they read: the
    # report named the other checkout (and OSCAL's uuids, made from the root, differed from the single scan's)
    parts, root, _ = fixture_parts
    other = tmp_path / "another checkout"
    shutil.copytree(root, other)
    assert _merged(parts, part_key[1], other).register_root == str(root)


def test_options_of_scan_given_before_merge_are_refused(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], signing_key: tuple[Path, SM2PrivateKey],
        tmp_path: Path) -> None:
    # `xzgov scan --no-gate merge …` dropped --no-gate (exit 1 on findings) and never read --root or --as-of
    parts, root, public = fixture_parts
    res = cli("scan", "--no-gate", "--as-of", "not-a-date", "merge", *parts, "--out", tmp_path / "out", "--key",
              signing_key[0], "--trusted-key", public, "--root", root)
    assert res.code == 2, res.text
    assert "--no-gate, --as-of before `merge`" in res.err and "give the options after `merge`" in res.err
    assert not (tmp_path / "out").exists()
    after = cli("scan", "merge", *parts, "--no-gate", "--out", tmp_path / "out", "--key", signing_key[0],
                "--trusted-key", public, "--root", root)
    assert after.code == 0, after.text


def test_merge_option_errors_come_before_the_parts_are_read(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], signing_key: tuple[Path, SM2PrivateKey],
        tmp_path: Path) -> None:
    _, root, public = fixture_parts
    args = ("scan", "merge", tmp_path / "no-such-part", "--out", tmp_path / "out", "--key", signing_key[0],
            "--trusted-key", public, "--root", root)
    # a bad --kpi-since was found after every part was verified and the register reloaded (minutes at scale)
    kpi = cli(*args, "--kpi-since", tmp_path / "no-earlier-report")
    assert kpi.code == 2 and "no signed report at" in kpi.err and "no-such-part" not in kpi.err, kpi.text
    # a duration of 5,000 digits: int() refuses it with ValueError, which ended as an internal error (exit 3)
    long = cli(*args, "--max-age", "9" * 5000 + "d")
    assert long.code == 2 and "is too long" in long.err and len(long.err) < 1000, long.text[:2000]


def test_an_empty_shard_cut_is_refused(cli: Cli, register_root: Path, signing_key: tuple[Path, SM2PrivateKey],
                                       tmp_path: Path) -> None:
    res = cli("scan", "--root", register_root, "--shard", "1/2", "--shard-by", "", "--out", tmp_path / "o",
              "--key", signing_key[0])
    assert res.code == 2 and "--shard-by" in res.err and "use --shard-by name or zone" in res.err, res.text
    assert not (tmp_path / "o").exists()


def test_auto_shard_index_beyond_the_shards() -> None:
    from xzgov.cli.scan_cmds import shard_from_index
    from xzgov.core.errors import UsageError

    assert shard_from_index("auto/3", {"JOB_COMPLETION_INDEX": "2"}) == "3/3"
    with pytest.raises(UsageError) as beyond:
        shard_from_index("auto/3", {"JOB_COMPLETION_INDEX": "3"})
    assert "beyond the 3 shard(s)" in beyond.value.message and "completions: 3" in beyond.value.diagnostics[0].hint


def test_a_shard_without_a_key_is_told_it_must_sign(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    res = cli("scan", "--root", register_root, "--shard", "1/2", "--out", tmp_path / "o")
    assert res.code == 2 and "--key" in res.err and "--unsigned" not in res.err


def test_parts_older_than_max_age_are_refused(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                              part_key: tuple[SM2PrivateKey, str],
                                              signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """A scheduled merge given the parts an earlier night left (its shard did not run this time) refuses them
    instead of signing them again as new."""
    parts, root, public = fixture_parts
    now = dt.datetime.now(dt.UTC)
    tonight = []  # the module's parts may carry the frozen clock's times: these finished an hour ago
    for index, part in enumerate(parts):
        copy = tmp_path / f"tonight-{index + 1}"
        shutil.copytree(part, copy)
        _resign(copy, lambda data: data.update(finished=f"{now - dt.timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"),
                part_key[0])
        tonight.append(copy)
    old = tmp_path / "last-night"
    shutil.copytree(parts[1], old)
    _resign(old, lambda data: data.update(finished=f"{now - dt.timedelta(hours=23):%Y-%m-%dT%H:%M:%SZ}"),
            part_key[0])
    args = ("scan", "merge", tonight[0], old, tonight[2], "--key", signing_key[0], "--trusted-key", public,
            "--root", root)
    stale = cli(*args, "--out", tmp_path / "out", "--max-age", "6h15m")
    assert stale.code == 2, stale.text
    assert f"{old / PART_NAME}:1" in stale.err and "[finished]" in stale.err and "stale" in stale.err
    assert "23h00m ago, more than --max-age 6h15m" in stale.err and str(tonight[0]) not in stale.err
    assert not (tmp_path / "out").exists()
    fresh = cli("scan", "merge", *tonight, "--key", signing_key[0], "--trusted-key", public, "--root", root,
                "--out", tmp_path / "out", "--max-age", "6h15m")
    assert fresh.code == 1, fresh.err  # this run's parts merge (the fixture register has planted findings)
    for bad in ("6x", "", "h", "-1h"):
        res = cli(*args, "--out", tmp_path / "bad", "--max-age", bad)
        assert res.code == 2 and "--max-age" in res.err and "90m, 6h" in res.err, (bad, res.err)
    # a part that finished ahead of this machine's clock was never stale: it would pass every later night
    ahead = tmp_path / "ahead"
    shutil.copytree(parts[1], ahead)
    _resign(ahead, lambda data: data.update(finished=f"{now + dt.timedelta(hours=3):%Y-%m-%dT%H:%M:%SZ}"),
            part_key[0])
    future = cli("scan", "merge", tonight[0], ahead, tonight[2], "--key", signing_key[0], "--trusted-key", public,
                 "--root", root, "--out", tmp_path / "future", "--max-age", "6h15m")
    assert future.code == 2 and f"{ahead / PART_NAME}:1" in future.err, future.text
    assert "from the future" in future.err and "NTP" in future.err and not (tmp_path / "future").exists()


def test_scan_inputs_are_the_files_the_loaders_read(tmp_path: Path) -> None:
    """Only what the scan reads counts: a README beside the waivers neither changes the digest nor (when
    unreadable) fails the scan; a catalogue folder behind a symbolic link is read, so it counts."""
    from compliance.scan.context import scan_inputs

    root = tmp_path / "register"
    shutil.copytree(FIXTURE, root)
    (root / "compliance" / "waivers").mkdir(parents=True)
    before = scan_inputs(ScanOptions(root=root))
    (root / "compliance" / "waivers" / "README.md").write_text("说明\n", encoding="utf-8")
    assert scan_inputs(ScanOptions(root=root)) == before
    standards = tmp_path / "standards"
    shutil.copytree(ROOT / "standards", standards, ignore=shutil.ignore_patterns("__pycache__", "gbt22239-2019"))
    (standards / "gbt22239-2019").symlink_to(tmp_path / "linked")
    shutil.copytree(ROOT / "standards" / "gbt22239-2019", tmp_path / "linked")
    linked = scan_inputs(ScanOptions(root=root, standards_dir=standards))["standards"]
    assert linked == scan_inputs(ScanOptions(root=root))["standards"]  # the same files as the packaged ones
    level3 = tmp_path / "linked" / "level3-general.yaml"
    level3.write_text(level3.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert scan_inputs(ScanOptions(root=root, standards_dir=standards))["standards"] != linked


def test_merge_argument_edge_cases(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                   part_key: tuple[SM2PrivateKey, str], signing_key: tuple[Path, SM2PrivateKey],
                                   tmp_path: Path) -> None:
    parts, root, public = fixture_parts
    too_long = cli("scan", "merge", *parts, "--out", tmp_path / "o2", "--key", signing_key[0], "--trusted-key",
                   public, "--root", root, "--max-age", "99999999999d")
    assert too_long.code == 2 and "is too long" in too_long.err
    older = tmp_path / "older-release"
    shutil.copytree(parts[1], older)
    _resign(older, lambda data: data.update(version=1), part_key[0])
    res = _merge(cli, [parts[0], older, parts[2]], tmp_path / "o3", signing_key[0], public, root)
    assert res.code == 2 and "another xzgov release (part version 1)" in res.err and "re-run every shard" in res.err


@pytest.mark.parametrize(("index", "said"), [("", "not a 0-based index"), ("²", "not a 0-based index"),
                                             ("-1", "not a 0-based index"), ("x" * 5000, "not a 0-based index"),
                                             ("3", "beyond the 3 shard(s)"), ("9" * 5000, "beyond the 3 shard(s)")])
def test_a_completion_index_is_read_as_a_shard_number_is(index: str, said: str) -> None:
    """The Indexed Job's completion index is read by the one reader of shard numbers: non-ASCII digits and
    numbers beyond Python's int() limit are located usage errors, not tracebacks."""
    from xzgov.cli.scan_cmds import shard_from_index
    from xzgov.core.errors import UsageError

    with pytest.raises(UsageError) as raised:
        shard_from_index("auto/3", {"JOB_COMPLETION_INDEX": index})
    assert said in raised.value.message and raised.value.diagnostics[0].path == "JOB_COMPLETION_INDEX"
    assert len(raised.value.message) < 200  # a 5,000-digit index is not echoed whole
    assert shard_from_index("auto/3", {"JOB_COMPLETION_INDEX": "002"}) == "3/3"


def test_a_live_merge_lists_each_systems_warnings_in_register_order(
        frozen_clock: None, register_root: Path, part_key: tuple[SM2PrivateKey, str], tmp_path: Path) -> None:
    """A live scan warns of every system's hosts the inventory lacks, in the register's order; the merge
    listed them shard by shard (name shards interleave the register), so its reports differed from the
    whole scan's in more than timing."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text("all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.0.9\n"
                                         "      xzgov_system: nosuch\n", encoding="utf-8")
    whole = scan(ScanOptions(root=register_root, live=True, inventory=inventory))
    missing = [w for w in whole.warnings if "is not in the inventory" in w]
    assert len({w.split(":", 1)[0] for w in missing}) >= 3  # several systems: a cut by name interleaves them
    key, fingerprint = part_key
    paths = []
    for index in (1, 2, 3):
        shard = Shard(index, 3, ShardBy.name)
        result = scan(ScanOptions(root=register_root, live=True, inventory=inventory, shard=shard))
        publish_reports(result, tmp_path / f"part-{index}", [], key, {PART_NAME: part_bytes(result, shard)})
        paths.append(tmp_path / f"part-{index}")
    merged = _merged(paths, fingerprint, register_root)
    assert merged.warnings == whole.warnings
    for fmt in (ReportFormat.json, ReportFormat.markdown, ReportFormat.html):
        assert render(merged, fmt)[0] == render(whole, fmt)[0], fmt


def test_a_register_edited_between_shards_is_the_parts_problem_not_the_roots(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], part_key: tuple[SM2PrivateKey, str],
        signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """Two shards ran before a manifest was edited, one after, and the merge ran on the edited checkout: it
    blamed --root (the first part's register is not the checkout) and hid that the parts disagree."""
    parts, root, public = fixture_parts
    edited = tmp_path / "register"
    shutil.copytree(root, edited)
    manifest = edited / "systems" / "fx" / "clean-l2.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "# edited before shard 3 ran\n", encoding="utf-8")
    other = _write_parts(edited, 3, ShardBy.name, tmp_path, part_key[0])
    res = _merge(cli, [parts[0], parts[1], other[2]], tmp_path / "out", signing_key[0], public, edited)
    assert res.code == 2 and "the register (region.yaml and manifests) differs" in res.err, res.err
    assert str(other[2] / PART_NAME) in res.err and "is not the one the parts scanned" not in res.err


def test_a_file_beside_a_part_is_named_as_such(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                               signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """A note put in a part's folder was reported as a signature that does not verify ("re-run the shard")."""
    parts, root, public = fixture_parts
    noted = tmp_path / "noted"
    shutil.copytree(parts[1], noted)
    (noted / "notes.txt").write_text("hi\n", encoding="utf-8")
    for index in range(30):
        (noted / f"extra-{index:02d}.txt").write_text("x\n", encoding="utf-8")
    res = _merge(cli, [parts[0], noted, parts[2]], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "files the part's bundle does not sign" in res.err and "extra-00.txt" in res.err, res.err
    assert "signature does not verify" not in res.err and "(31 in all)" in res.err and "move them out" in res.err
    assert not (tmp_path / "out").exists()


def test_a_gap_of_many_shards_is_one_short_line(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                                part_key: tuple[SM2PrivateKey, str],
                                                signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path) -> None:
    """One part of 10,000 named the 9,999 missing shards one by one (a 119 KB line)."""
    _, root, public = fixture_parts
    shard = Shard(1, 10_000, ShardBy.name)
    result = scan(ScanOptions(root=root, shard=shard))
    publish_reports(result, tmp_path / "part", [], part_key[0], {PART_NAME: part_bytes(result, shard)})
    res = _merge(cli, [tmp_path / "part"], tmp_path / "out", signing_key[0], public, root)
    assert res.code == 2 and "gap: shard(s) 2–10000/10000 not given" in res.err, res.err
    assert len(res.err) < 4000


def test_reports_are_never_written_inside_a_signed_set(cli: Cli, fixture_parts: tuple[list[Path], Path, Path],
                                                       signing_key: tuple[Path, SM2PrivateKey],
                                                       tmp_path: Path) -> None:
    """A merge's --out (or a shard's) inside a part's folder succeeded, and that part no longer verified."""
    parts, root, public = fixture_parts
    own = tmp_path / "p1"
    shutil.copytree(parts[0], own)
    res = _merge(cli, [own, parts[1], parts[2]], own / "merged", signing_key[0], public, root)
    assert res.code == 2 and "inside the signed report set" in res.err and "--out" in res.err, res.text
    assert not (own / "merged").exists()
    nested = cli("scan", "--root", root, "--shard", "2/3", "--out", own / "deeper" / "s2", "--key", signing_key[0])
    assert nested.code == 2 and "inside the signed report set" in nested.err, nested.text
    assert _merge(cli, [own, parts[1], parts[2]], tmp_path / "merged", signing_key[0], public, root).code in (0, 1)


def test_shard_by_without_a_shard_is_refused(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    """`--shard-by bogus` without --shard was ignored: a whole scan, no part, exit 0."""
    for cut in ("bogus", "zone", "name"):
        res = cli("scan", "--root", register_root, "--shard-by", cut, "--out", tmp_path / "o", "--unsigned")
        assert res.code == 2 and "--shard-by" in res.err and "without --shard" in res.err, res.text
    assert not (tmp_path / "o").exists()


def test_the_release_is_its_code_not_a_checkouts_tooling(tmp_path: Path) -> None:
    """A part records the SM3 of its release's files and the merge refuses another: a virtual environment
    ``pulumi preview --policy-pack policies`` leaves in ``policies/venv`` (its ``bin/python`` a link to the
    machine's), an editor's leftover or a cache made two checkouts of one commit refuse each other's parts."""
    from compliance.merge import RELEASE_PACKAGES, release_files
    from compliance.scan.shard import files_digest

    for package in RELEASE_PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))

    def digest() -> str:
        return files_digest(tmp_path, release_files(tmp_path), "release")

    before = digest()
    venv = tmp_path / "policies" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (venv / "lib.py").write_text("x = 1\n", encoding="utf-8")
    (venv / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "stacks" / "render.py.orig").write_text("old\n", encoding="utf-8")
    (tmp_path / "xzgov" / ".idea").mkdir()
    (tmp_path / "xzgov" / ".idea" / "x.json").write_text("{}", encoding="utf-8")
    (tmp_path / "compliance" / "waivers" / "w.yaml").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "compliance" / "waivers" / "w.yaml").write_text("waivers: []\n", encoding="utf-8")
    (tmp_path / "policies" / "linked.py").symlink_to(ROOT / "policies" / "__init__.py")
    assert digest() == before
    rule = tmp_path / "policies" / "registry.py"
    rule.write_text(rule.read_text(encoding="utf-8") + "\n# patched\n", encoding="utf-8")
    assert digest() != before, "a changed module is another release"


def test_a_part_written_at_the_merges_out_meanwhile_is_not_replaced(
        cli: Cli, fixture_parts: tuple[list[Path], Path, Path], signing_key: tuple[Path, SM2PrivateKey],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out` held no part when the merge started; a shard then wrote its part there while the merge ran. The check
    just before the swap took scan-part.json for a report and the merged set replaced the part. Refused (exit 2),
    the part kept."""
    import compliance.merge as merge

    parts, root, public = fixture_parts
    out = tmp_path / "race"
    real = merge.merge_parts

    def then_a_shard_writes_there(*args: object, **kwargs: object) -> object:
        shutil.copytree(parts[0], out)  # the shard's run lands while the merge works
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(merge, "merge_parts", then_a_shard_writes_there)
    res = _merge(cli, parts, out, signing_key[0], public, root)
    assert res.code == 2 and "scan-part.json" in res.err, res.text
    assert (out / "scan-part.json").read_bytes() == (parts[0] / "scan-part.json").read_bytes()


@pytest.mark.parametrize(("ahead", "refused"), [
    (dt.timedelta(minutes=4), False), (dt.timedelta(minutes=5), False), (dt.timedelta(minutes=5, seconds=1), True),
    (dt.timedelta(minutes=6), True), (dt.timedelta(0), False),
], ids=["4m", "5m", "5m01s", "6m", "now"])
def test_a_part_ahead_of_the_clock_is_allowed_five_minutes_only(ahead: dt.timedelta, refused: bool) -> None:
    """The documented bound (docs: NTP-synchronised nodes, 5 minutes): a tolerance grown to an hour let a part
    whose node's clock ran ahead pass as fresh on later nights."""
    from compliance.merge import stale_parts

    now = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
    part = Part(Path("part"), {"finished": f"{now + ahead:%Y-%m-%dT%H:%M:%SZ}"})
    problems = stale_parts([part], dt.timedelta(hours=6), now)
    assert bool(problems) is refused, problems
    assert all("from the future" in p.message for p in problems)

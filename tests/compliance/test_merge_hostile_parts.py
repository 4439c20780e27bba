"""``xzgov scan merge`` given signed parts that do not hold what a shard writes.

A part's signature says who vouches for it, not that its content is well formed: a part edited and signed
again (or written by another program holding a pinned key) crashed the merge (``outcomes[0] = null``:
exit 3 "internal error: AttributeError"; ``cards[0].steps = null``: TypeError; ``reports[0].dengbao =
10**6``: IndexError), made a report that failed its own schema check (``level: 99``, a bad ``finished``:
exit 3), or was merged and signed as it was (an evidence ``at`` that is no time). Every such part is refused
with exit 2 naming ``<part dir>/scan-part.json`` and the field (docs/compliance.md), and whatever the merge
accepts renders into reports that pass their schemas.
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compliance.merge import Part, in_shard_order, load_part, merge_parts, merge_register, part_bytes, rules_version
from compliance.reports import DEFAULT_FORMATS, PART_NAME, SCHEMA_OF, ReportFormat, publish_reports, render, validate
from compliance.reports.html import render_site
from compliance.results import ScanResult
from compliance.scan.shard import Shard, ShardBy
from compliance.scanner import ScanOptions, scan
from tests.cli import CliResult
from xzgov.core.errors import ExitCode, UsageError
from xzgov.crypto import bundle, keys
from xzgov.crypto.sm2 import SM2PrivateKey

from .report_support import mutate

Cli = Callable[..., CliResult]
FIXTURE = Path(__file__).parent / "fixtures" / "register"
SHARDS = 3


class Parts:
    """Signed parts of the fixture register (one per shard), their JSON, the register and the signer."""

    def __init__(self, directory: Path) -> None:
        self.root = directory / "register"
        shutil.copytree(FIXTURE, self.root)
        self.key = SM2PrivateKey.generate()
        self.fingerprint = keys.fingerprint(self.key.public_key)
        self.public = directory / "parts.pub.pem"
        keys.write_public_key(self.public, self.key.public_key)
        self.paths: list[Path] = []
        for index in range(1, SHARDS + 1):
            shard = Shard(index, SHARDS, ShardBy.name)
            result = scan(ScanOptions(root=self.root, shard=shard))
            out = directory / f"part-{index}"
            publish_reports(result, out, [], self.key, {PART_NAME: part_bytes(result, shard)})
            self.paths.append(out)
        self.data: list[dict[str, Any]] = [json.loads((p / PART_NAME).read_bytes()) for p in self.paths]
        self.loaded: list[Part] = [load_part(p, [self.fingerprint]) for p in self.paths]
        self._registers: dict[str, Any] = {}

    def forged(self, index: int, directory: Path, text: str) -> Path:
        """Part ``index`` with ``text`` as its ``scan-part.json``, signed again with the pinned key, in
        ``directory``."""
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        (directory / PART_NAME).write_text(text, encoding="utf-8")
        bundle.sign_files([directory / PART_NAME], self.key, directory / bundle.DEFAULT_NAME)
        return directory

    def merge(self, parts: list[Part]) -> ScanResult:
        """What ``xzgov scan merge`` does with loaded ``parts`` before rendering (the register read once per
        distinct first part's register: it is the slow step and the same every time)."""
        key = json.dumps(in_shard_order(parts)[0].data["register"], sort_keys=True)
        if key not in self._registers:
            try:
                self._registers[key] = merge_register(parts, self.root)
            except UsageError as refused:
                self._registers[key] = refused
        found = self._registers[key]
        if isinstance(found, UsageError):
            raise found
        register, register_root = found
        return merge_parts(parts, register, register_root)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Parts:
    return Parts(tmp_path_factory.mktemp("hostile-parts"))


def _rendered(result: ScanResult) -> None:
    """Every format of the merged set, as ``publish_reports`` writes it: the JSON, SARIF and OSCAL reports
    valid against their schemas (the merge would stop there with exit 3) and JSON as JSON is (no NaN)."""
    for fmt in DEFAULT_FORMATS:
        if fmt is ReportFormat.html:
            render_site(result)
            continue
        text, data = render(result, fmt)
        if fmt in SCHEMA_OF:
            problems = validate.errors(SCHEMA_OF[fmt], data, size=len(text))
            assert not problems, f"the merged {fmt} report does not match its schema: {problems[:3]}"
            json.loads(text, parse_constant=_not_json)


def _not_json(token: str) -> Any:
    raise AssertionError(f"{token} in a JSON report")


def _assert_located(refusal: UsageError, files: set[str]) -> None:
    """The documented refusal: exit 2, each problem at one of ``files`` (the parts) or ``<parts>`` (a gap)."""
    assert refusal.exit_code == ExitCode.USAGE
    assert refusal.diagnostics, refusal.message
    for diagnostic in refusal.diagnostics:
        assert diagnostic.file in files | {"<parts>"}, diagnostic.render()
        assert diagnostic.path or diagnostic.code in ("unreadable", "signature"), diagnostic.render()


#: The part's sections, the large ones more often.
SECTIONS = ["reports"] * 6 + ["outcomes"] * 4 + ["statics", "cards"] * 2 + [
    "rules", "shard", "register", "systems", "started", "finished", "as_of", "warnings", "unused_waivers", "modes",
    "inputs", "fail_on", "catalogue_version"]


def test_no_malformed_part_escapes_as_another_exception(parts: Parts, tmp_path: Path) -> None:
    """Random edits of real parts, signed again by the pinned key: each merges into reports that pass their
    schemas, or is refused with exit 2 at the part file and a field — never AttributeError, TypeError,
    IndexError, KeyError, ValueError or a report failing its schema (exit 3)."""
    rng = random.Random(20261202)
    files = {str(path / PART_NAME) for path in parts.paths}
    refused = merged = 0
    for attempt in range(150):
        which = rng.randrange(SHARDS)
        data = copy.deepcopy(parts.data[which])
        for _ in range(rng.choice([1, 1, 2, 3])):
            section = rng.choice(SECTIONS)
            data[section] = mutate(data.get(section), rng)
        text = json.dumps(data, ensure_ascii=False)
        forged = parts.forged(which, tmp_path / "forged", text)
        try:
            part = load_part(forged, [parts.fingerprint])
            merged_parts = [*parts.loaded[:which], part, *parts.loaded[which + 1:]]
            _rendered(parts.merge(merged_parts))
            merged += 1
        except UsageError as refusal:
            _assert_located(refusal, files | {str(forged / PART_NAME)})
            refused += 1
        except Exception as error:  # pragma: no cover - the defect this test is for
            pytest.fail(f"attempt {attempt}: {type(error).__name__}: {error}\n{text[:1500]}")
    assert refused > 100 and merged > 0, (refused, merged)


def _outcome_with_evidence(data: dict[str, Any]) -> str:
    """The path of a piece of evidence written out in an outcome, else of a finding's."""
    for index, outcome in enumerate(data["outcomes"]):
        if outcome.get("evidence") and not outcome.get("refs"):
            return f"outcomes[{index}].evidence[0].at"
    for number, report in enumerate(data["reports"]):
        for position, finding in enumerate(report["findings"]):
            if finding["evidence"]:
                return f"reports[{number}].findings[{position}].evidence[0].at"
    raise AssertionError("no evidence in the part")


def _set(data: Any, path: str, value: Any) -> None:
    keys_ = [int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")]
    for key in keys_[:-1]:
        data = data[key]
    data[keys_[-1]] = value


def _other_release(data: dict[str, Any]) -> None:
    """The part as a release with one rule less writes it (rules and their version agree)."""
    data["rules"].pop()
    data["rules_version"] = rules_version(data["rules"])


def _refs_outcome(data: dict[str, Any]) -> int:
    return next(i for i, o in enumerate(data["outcomes"]) if o.get("refs"))


#: (what is edited, the field the refusal names): the reviewer's cases, then what only the cross-checks find.
EDITS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("outcome null", lambda d: _set(d, "outcomes.0", None), "[outcomes[0]]"),
    ("steps null", lambda d: _set(d, "cards.0.steps", None), "[cards[0].steps]"),
    ("card out of range", lambda d: _set(d, "reports.0.dengbao", 10**6), "[reports[0].dengbao]"),
    ("level 99", lambda d: _set(d, "reports.0.level", 99), "[reports[0].level]"),
    ("finished no time", lambda d: _set(d, "finished", "yesterday"), "[finished]"),
    ("evidence at no time", lambda d: _set(d, _outcome_with_evidence(d), "not-a-time"), ".evidence[0].at]"),
    ("item out of range", lambda d: d["reports"][0]["items"].append(len(d["outcomes"])), "[reports[0].items["),
    ("item 1.0", lambda d: _set(d, "reports.0.items.0", 1.0), "[reports[0].items[0]]"),
    ("static out of range", lambda d: _set(d, "outcomes.0.s", len(d["statics"])), "[outcomes[0].s]"),
    ("evidence of no finding", lambda d: _set(d, f"outcomes.{_refs_outcome(d)}.evidence.0", [999, 0]), "].items["),
    ("evidence named twice", lambda d: d["outcomes"][_refs_outcome(d)]["evidence"].append(
        d["outcomes"][_refs_outcome(d)]["evidence"][0]), "].evidence["),
    ("a 等保 card for 密评", lambda d: _set(d, "reports.0.miping", d["reports"][0]["dengbao"]), "[reports[0].miping]"),
    ("systems not the reports'", lambda d: d["systems"].reverse(), "[systems]"),
    ("item of another standard", lambda d: _set(d, "statics.0.standard", "GB/T 39786-2021"), "[statics[0].item]"),
    ("unknown rule", lambda d: _set(d, "reports.0.findings.0.rule", "XZ-NO-SUCH-RULE"),
     "[reports[0].findings[0].rule]"),
    ("rules of another release", _other_release, "[rules_version]"),
    # the same rules' JSON, another code (a rule's body or the judging code patched): the merge renders with its own
    ("code of another release", lambda d: _set(d, "release.code", "0" * 64), "[release.code]"),
    ("shard beyond N", lambda d: _set(d, "shard.index", 7), "[shard.index]"),
    ("score beyond any", lambda d: _set(d, "cards.0.value_range.1", 10**400), "[cards[0].value_range[1]]"),
]


@pytest.mark.parametrize(("edit", "field"), [(e, f) for _, e, f in EDITS], ids=[name for name, _, _ in EDITS])
def test_a_malformed_part_is_refused_at_its_file_and_field(
        cli: Cli, parts: Parts, signing_key: tuple[Path, SM2PrivateKey], tmp_path: Path,
        edit: Callable[[dict[str, Any]], Any], field: str) -> None:
    data = copy.deepcopy(parts.data[0])
    edit(data)
    forged = parts.forged(0, tmp_path / "forged", json.dumps(data, ensure_ascii=False))
    out = tmp_path / "merged"
    done = cli("scan", "merge", forged, *parts.paths[1:], "--out", out, "--key", signing_key[0], "--trusted-key",
               parts.public, "--root", parts.root, "--no-gate")
    assert done.code == 2, done.text  # was exit 3, or 0 for the evidence time
    assert f"{forged / PART_NAME}:1" in done.err and field in done.err, done.err
    assert "internal error" not in done.err and not out.exists()


@pytest.mark.parametrize("edit", [_other_release, lambda d: _set(d, "release.code", "0" * 64)])
def test_a_part_of_another_release_is_told_so(cli: Cli, parts: Parts, signing_key: tuple[Path, SM2PrivateKey],
                                              tmp_path: Path, edit: Callable[[dict[str, Any]], Any]) -> None:
    """A part of another release is not "edited, or written by another program": the refusal says which
    release wrote it and to re-run the shards with the merge's."""
    data = copy.deepcopy(parts.data[0])
    edit(data)
    forged = parts.forged(0, tmp_path / "forged", json.dumps(data, ensure_ascii=False))
    done = cli("scan", "merge", forged, *parts.paths[1:], "--out", tmp_path / "merged", "--key", signing_key[0],
               "--trusted-key", parts.public, "--root", parts.root, "--no-gate")
    assert done.code == 2 and "another xzgov release" in done.err and "image digest" in done.err, done.err
    assert "edited" not in done.err


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_part_holding_nan_or_infinity_is_refused(cli: Cli, parts: Parts, signing_key: tuple[Path, SM2PrivateKey],
                                                   tmp_path: Path, token: str) -> None:
    """Python's JSON reader takes NaN and Infinity, which no JSON holds (a score card's value was one)."""
    data = copy.deepcopy(parts.data[0])
    data["cards"][0]["value"] = math.pi
    text = json.dumps(data, ensure_ascii=False).replace(repr(math.pi), token)
    forged = parts.forged(0, tmp_path / "forged", text)
    done = cli("scan", "merge", forged, *parts.paths[1:], "--out", tmp_path / "merged", "--key", signing_key[0],
               "--trusted-key", parts.public, "--root", parts.root, "--no-gate")
    assert done.code == 2 and str(forged / PART_NAME) in done.err and token in done.err, done.text


def test_the_parts_as_written_still_merge(parts: Parts) -> None:
    _rendered(parts.merge(parts.loaded))


@pytest.mark.parametrize(("odd", "told"), [("directory", "not a regular file"),
                                           ("broken link", "broken symbolic link")])
def test_a_part_whose_scan_part_is_no_file_is_told_so(parts: Parts, tmp_path: Path, odd: str, told: str) -> None:
    """A shard folder whose ``scan-part.json`` is a directory was refused as "file not found" beside that name."""
    folder = tmp_path / "odd-part"
    shutil.copytree(parts.paths[0], folder)
    (folder / PART_NAME).unlink()
    if odd == "directory":
        (folder / PART_NAME).mkdir()
    else:
        (folder / PART_NAME).symlink_to(tmp_path / "gone.json")
    with pytest.raises(UsageError) as refused:
        load_part(folder, [parts.fingerprint])
    said = str(refused.value) + " ".join(d.message for d in refused.value.diagnostics)
    assert told in said and "file not found" not in said
    assert refused.value.exit_code == ExitCode.USAGE

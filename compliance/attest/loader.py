"""Load and verify every attestation set under ``compliance/attestations/`` (any sub-folder) for the scan.

Each ``*.yaml`` there is one signed set. Checked, in order, each problem a located diagnostic and the
whole a :class:`UsageError` (exit 2): schema; signature (SM2 over the canonical set, see
:mod:`.signing`); the signer's fingerprint pinned in region.yaml for the set's department and scope;
the system, its department and the items known to the register and catalogue; every evidence file
present, inside the set's folder, with the signed SM3 digest; no item attested twice. An expired set
is not an error: its items go back to pending and the scan warns (the reason is shown on the items).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from compliance.attest.model import AttestationIndex, EvidenceFile, ItemRecord, PlatformRecord, SetInfo
from compliance.attest.pins import Pin, load_pins
from compliance.attest.signing import evidence_path, period_problems, verify_signature
from xzgov.core.clock import Period, Standing
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.schema import explain, type_mismatch
from xzgov.core.yamlio import LocatedDocument, input_folder, iter_yaml_files, load_file
from xzgov.crypto.sm3 import sm3_file
from xzgov.facts.thresholds import threshold_at

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "attestation.schema.json"
#: Evidence lives in ``evidence/`` folders beside the sets: YAML there is evidence, never a set.
EVIDENCE_FOLDER = "evidence"
DIRECTORY = Path("compliance") / "attestations"


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def schema_problems(doc: LocatedDocument) -> list[Diagnostic]:
    """Located schema errors of a set or worksheet (empty when valid), in the manifests' words
    (``xzgov.core.schema.explain``)."""
    return explain(doc, schema(), _special)


def _special(document: LocatedDocument, error: jsonschema.ValidationError) -> Diagnostic | None:
    """A field of the wrong shape the worksheet's prose names loosely gets that shape as its hint."""
    path = tuple(error.absolute_path)
    hint = _field_hint(path) if error.validator == "type" else ""
    return document.diagnostic(path, type_mismatch(error.validator_value, error.instance), hint,
                               code="type") if hint else None


#: The shape of a field a worksheet's prose names loosely (a header said "evidence (证据文件)"): the hint for a
#: value of the wrong type at or below it.
_FIELD_SHAPES = {
    "evidence": "list each file as {file: path relative to this set}, e.g. evidence: [{file: 证据/制度.pdf}] "
                "(`xzgov attest sign` adds each file's sm3)",
    "attested_by": "attested_by: {name: 姓名, role: 岗位, organisation: 单位}",
}


def _field_hint(path: tuple[Any, ...]) -> str:
    for part in reversed(path):
        if isinstance(part, str) and part in _FIELD_SHAPES:
            return _FIELD_SHAPES[part]
    return ""


def read_set(path: Path, display: str) -> tuple[LocatedDocument | None, list[Diagnostic]]:
    """One set or worksheet, schema-checked (legacy unsigned ``kind: Attestations`` files are refused)."""
    document, problems = load_file(path, display)
    if document is None:
        return None, problems
    if isinstance(document.data, Mapping) and document.data.get("kind") == "Attestations":
        return None, [document.diagnostic(("kind",), "unsigned attestation records (kind: Attestations) are no "
                                          "longer accepted: the scan verifies signed sets only",
                                          "rewrite it as an AttestationSet (`xzgov attest template`) and sign it "
                                          "with `xzgov attest sign` (see compliance/attestations/README.md)",
                                          code="unsigned")]
    problems = schema_problems(document)
    return (None if problems else document), problems


def load_attestations(
    root: Path,
    *,
    today: dt.date,
    systems: Mapping[str, str],
    departments: Mapping[str, str],
    platform_departments: Collection[str],
    known_item: Callable[[str], bool],
    directory: Path | None = None,
    described: Callable[[str], tuple[str, str] | None] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    inherited: Callable[[str], bool] | None = None,
) -> AttestationIndex:
    """Every verified set under ``directory`` (default ``compliance/attestations``). ``systems`` maps
    each system to its department, ``departments`` each department id to its name; ``platform_departments``
    are the departments that may hold the platform's assessment record (``Region.platform_departments``);
    ``thresholds``: ``compliance/config.yaml``'s overrides (the platform record's age limit); ``inherited``:
    whether the platform's record decides an item for its tenants (a row of the record for another item is
    said to be unused: no tenant inherits it)."""
    folder = directory or root / DIRECTORY
    if not input_folder(folder, _display(folder, root)):
        return AttestationIndex()
    pins = load_pins(root)
    sink: list[Diagnostic] = []
    warnings: list[str] = []
    items: dict[tuple[str, str], ItemRecord] = {}
    expired: dict[tuple[str, str], str] = {}
    platforms: list[PlatformRecord] = []
    platform_problem = ""
    ids: dict[str, str] = {}
    # an evidence file (a config export in YAML) is not a set: the walk leaves the evidence folders out
    for path in iter_yaml_files(folder, evidence=EVIDENCE_FOLDER):
        display = _display(path, root)
        doc, problems = read_set(path, display)
        sink.extend(problems)
        if doc is None:
            continue
        data = doc.data
        meta = data["metadata"]
        info = _verify(doc, pins, departments, platform_departments, systems, sink)
        if info is None:
            continue
        if meta["id"] in ids:
            sink.append(doc.diagnostic(("metadata", "id"), f"set id {meta['id']} is already used in {ids[meta['id']]}",
                                       "give every set its own id", code="duplicate"))
        ids[meta["id"]] = display
        base = path.parent
        entries: list[tuple[int, dict[str, Any], tuple[EvidenceFile, ...]]] = []
        for index, row in enumerate(data["attestations"]):
            where = ("attestations", index)
            sink.extend(item_reference_problems(doc, index, row, known_item, described))
            if row.get("result") is None:
                sink.append(doc.diagnostic((*where, "result"), f"{row['item']}: signed without a result",
                                           "sign only filled rows (`xzgov attest sign` drops empty ones)",
                                           code="required"))
                continue
            entries.append((index, row, _evidence(doc, base, where, row.get("evidence") or [], sink)))
        set_evidence: tuple[EvidenceFile, ...] = ()
        if meta["scope"] == "platform" and isinstance(data.get("assessment"), Mapping):
            set_evidence = _evidence(doc, base, ("assessment",), data["assessment"].get("evidence") or [], sink)
        standing = Period(info.date, info.expires).standing(today)
        lapsed = standing is not Standing.IN_FORCE
        if standing is Standing.LAPSED:
            until = info.expires.isoformat() if info.expires else ""
            reason = (f"{display}: 证明 {info.id} 已于 {until} 过期, 该项重新待核查 / attestation set {info.id} "
                      f"expired on {until}; its items are pending again")
            warnings.append(reason)
        elif standing is Standing.AHEAD:  # a scan judging an earlier day (XZGOV_AS_OF): the set did not exist yet
            warnings.append(f"{display}: 证明 {info.id} 签于 {info.date}, 晚于扫描判定日 {today}, 不计入 / attestation "
                            f"set {info.id} is dated {info.date}, after the day judged ({today}): not applied")
        if meta["scope"] == "platform":
            assessment = data["assessment"]
            assessed = doc.calendar_day(("assessment", "date"), assessment["date"], sink) or info.date
            # the region's own limit where compliance/config.yaml sets one (as the tenants' assessments are judged)
            limit = threshold_at(thresholds, "max_dengbao_assessment_age_days", int(assessment["level"]))
            if not lapsed and limit is not None and (today - assessed).days > limit:
                lapsed = True
                warnings.append(f"{display}: 云平台测评 ({assessment['report']}, {assessed}) 已超过 {limit} 天, 继承项"
                                f"重新待核查 / the platform assessment of {assessed} is older than {limit} days (level "
                                f"{assessment['level']}): its inherited items are untested again")
            if inherited is not None:
                warnings.extend(f"{doc.file}:{doc.position(('attestations', i))[0]}: 云平台测评记录 {info.id} 对 "
                                f"{row['item']} 的结果未采用: 该项由租户系统负责 / the platform record's row for "
                                f"{row['item']} is not used: the tenant's side decides that item (an attestation "
                                "set of each system does)" for i, row, _ in entries if not inherited(row["item"]))
            record = PlatformRecord(
                info, assessment["platform"], int(assessment["level"]), assessment["agency"], assessment["report"],
                assessed, assessment["conclusion"], assessment.get("score"), assessment["default_result"],
                {row["item"]: (row["result"], str(row.get("reason") or ""), doc.position(("attestations", i))[0])
                 for i, row, _ in entries}, set_evidence, doc.position(("assessment",))[0],
                {row["item"]: row["high_risk"] for _, row, _ in entries if isinstance(row.get("high_risk"), bool)})
            if lapsed:
                platform_problem = (f"云平台测评记录 {info.id} ({record.report}) 不在有效期内 / the platform "
                                    f"assessment record is not in force on {today} ({warnings[-1]})")
            else:
                platforms.append(record)
            continue
        system = meta["system"]
        for index, row, evidence in entries:
            key = (system, row["item"])
            if lapsed:
                expired[key] = warnings[-1]
                continue
            if key in items:
                sink.append(doc.diagnostic(("attestations", index, "item"),
                                           f"{row['item']} of {system} is already attested in {items[key].location}",
                                           "keep one attestation per item (withdraw the older set)", code="duplicate"))
                continue
            items[key] = ItemRecord(system, row["item"], row["result"], str(row.get("reason") or ""), evidence, info,
                                    doc.position(("attestations", index))[0], row.get("high_risk"))
    if len(platforms) > 1:
        sink.append(Diagnostic(platforms[1].info.source, 1, 1, "metadata.scope",
                               f"two valid platform records: {platforms[0].info.id} and {platforms[1].info.id}",
                               "keep only the current platform assessment (let the older one expire or remove it)",
                               "duplicate"))
    if sink:
        count = len(sink)
        raise UsageError(f"{count} problem{'s' * (count != 1)} in compliance/attestations (signed attestation sets)",
                         sorted(set(sink)))
    return AttestationIndex(items, platforms[0] if platforms else None, platform_problem, expired, tuple(warnings))


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def set_reference_problems(doc: LocatedDocument, systems: Mapping[str, str], departments: Mapping[str, str],
                           platform_departments: Collection[str]) -> list[Diagnostic]:
    """The set's references to the register: its department, for a system set its system, of that
    department, and for a platform set a department that operates the platform (``Region.platform_departments``:
    a key pinned with scope platform for any other department would otherwise sign the record every tenant
    inherits). Checked when a set is signed (``xzgov attest sign``) and whenever it is loaded."""
    meta = doc.data["metadata"]
    found: list[Diagnostic] = []
    if meta["department"] not in departments:
        found.append(doc.diagnostic(("metadata", "department"), f"unknown department '{meta['department']}'",
                                    "name a department of region.yaml spec.departments", code="reference"))
    elif meta["scope"] == "platform" and meta["department"] not in platform_departments:
        operators = ", ".join(platform_departments) or "无 / none"
        found.append(doc.diagnostic(
            ("metadata", "department"), f"{meta['department']} 不运营政务云平台, 不能签署云平台测评记录 / "
            f"{meta['department']} does not operate the cloud platform (departments holding region.yaml "
            f"spec.operators.groups: {operators})",
            "a platform set is the platform operator's: sign it for that department, with a key pinned for it",
            code="reference"))
    if meta["scope"] == "system":
        system = meta.get("system")
        if meta.get("level") is None:  # without it a set judged at another level counted (unit ids are level-free)
            found.append(doc.diagnostic(("metadata",), "a system set names the 等保 level it was judged at",
                                        "add metadata.level (and metadata.crypto_level when the 密评 level differs); "
                                        "`xzgov attest template` writes both", code="required"))
        if not system:
            found.append(doc.diagnostic(("metadata",), "a system set names its system", "add metadata.system",
                                        code="required"))
        elif system not in systems:
            found.append(doc.diagnostic(("metadata", "system"), f"unknown system '{system}'",
                                        "name a registered system (`xzgov register`)", code="reference"))
        elif systems[system] != meta["department"]:
            found.append(doc.diagnostic(("metadata", "department"), f"{system} belongs to {systems[system]}, not "
                                        f"{meta['department']}", "attest a system for its own department",
                                        code="reference"))
    return found


def item_reference_problems(doc: LocatedDocument, index: int, row: Mapping[str, Any],
                            known_item: Callable[[str], bool],
                            described: Callable[[str], tuple[str, str] | None] | None = None) -> list[Diagnostic]:
    """Row ``index`` names an item of the catalogue, and its ``unit`` and ``title`` (when given: a worksheet writes
    both) are that item's (``described``: the catalogue's unit id and title start; signing and loading check it
    alike). An id cell swapped or sorted apart from its row put the assessor's 不符合 on another item."""
    if not known_item(row["item"]):
        return [doc.diagnostic(("attestations", index, "item"), f"unknown catalogue item '{row['item']}'",
                               "use an id from `xzgov standards list`", code="reference")]
    expected = described(row["item"]) if described is not None else None
    if expected is None:
        return []
    unit, title = expected
    for key, wanted in (("unit", unit), ("title", title)):
        given = row.get(key)
        # a 密评 unit's title ends with its strength at the system's level: the start is the catalogue's
        if isinstance(given, str) and given and not (given == wanted if key == "unit" else given.startswith(wanted)):
            what = "测评单元" if key == "unit" else "标题"
            return [doc.diagnostic(("attestations", index, key),
                                   f"行的条目与其{what}不符 / item '{row['item']}' is {key} '{wanted}' in the "
                                   f"catalogue, but the row says '{given}': the row's id does not belong to its "
                                   "text (a column sorted on its own, or an id edited)",
                                   "restore the row's item id (or make a new worksheet with `xzgov attest template`); "
                                   "a result is recorded against its id",
                                   code="reference")]
    return []


def catalogue_text(entry: object) -> tuple[str, str] | None:
    """What a worksheet row of ``entry`` (a 等保 item or a GB/T 39786 unit) writes as its unit and title start
    (``compliance.attest.worksheet``); ``None`` for no entry."""
    if entry is None:
        return None
    if hasattr(entry, "assessment_unit"):
        return str(entry.assessment_unit), f"{entry.control_point}: {entry.title}"  # type: ignore[attr-defined]
    return str(entry.short_id), f"{entry.aspect_name}: {entry.name}"  # type: ignore[attr-defined]


def _verify(doc: LocatedDocument, pins: Mapping[str, Pin], departments: Mapping[str, str],
            platform_departments: Collection[str], systems: Mapping[str, str],
            sink: list[Diagnostic]) -> SetInfo | None:
    """Signature, signer authority and references of one set; None when it cannot be trusted."""
    data = doc.data
    meta = data["metadata"]
    before = len(sink)
    if "signature" not in data:
        sink.append(doc.diagnostic((), "the set is not signed", "run `xzgov attest sign FILE --key KEY`",
                                   code="unsigned"))
        return None
    valid, fingerprint, problem = verify_signature(data)
    if not valid:
        sink.append(doc.diagnostic(("signature",), problem, "re-sign the set with `xzgov attest sign` after "
                                   "checking every change (a signed set is never edited by hand)", code="signature"))
        return None
    pin = pins.get(fingerprint)
    if pin is None:
        sink.append(doc.diagnostic(("signature", "signer"), f"signer {fingerprint[:16]}… is not pinned in region.yaml "
                                   "spec.attestation_signers", "have an authorised person sign it, or pin this key "
                                   "(reviewed change to region.yaml)", code="signer"))
    elif not pin.allows(meta["department"], meta["scope"]):
        sink.append(doc.diagnostic(("metadata", "department"), f"signer {pin.name} ({fingerprint[:16]}…) may not "
                                   f"attest {meta['scope']} sets for department {meta['department']} (pinned for "
                                   f"{', '.join(pin.departments)}: {', '.join(pin.scopes)}; region.yaml:{pin.line})",
                                   "have a signer of that department sign it", code="signer"))
    sink.extend(set_reference_problems(doc, systems, departments, platform_departments))
    if meta["scope"] != "system" and "assessment" not in data:
        sink.append(doc.diagnostic(("metadata", "scope"), "a platform set carries its assessment",
                                   "add assessment: {platform, level, agency, report, date, conclusion, "
                                   "default_result}", code="required"))
    person = data.get("attested_by")
    if not isinstance(person, Mapping) or not data.get("date") or not data.get("expires"):
        sink.append(doc.diagnostic((), "a signed set names attested_by, date and expires",
                                   "sign with `xzgov attest sign`, which fills them in", code="required"))
        return None
    if pin is not None and str(person.get("name")) != pin.name:
        sink.append(doc.diagnostic(("attested_by", "name"), f"attested_by names {person.get('name')}, but the key "
                                   f"that signed is {pin.name}'s (region.yaml:{pin.line})",
                                   "each person signs with their own key", code="signer"))
    date = doc.calendar_day(("date",), data["date"], sink)
    expires = doc.calendar_day(("expires",), data["expires"], sink)
    if date is not None and expires is not None:
        sink.extend(period_problems(doc, date, expires))
    if len(sink) > before or date is None:
        return None
    system_set = meta["scope"] == "system"
    return SetInfo(meta["id"], meta["scope"], meta["department"], doc.file, str(person["name"]), str(person["role"]),
                   fingerprint, date, expires, meta.get("level") if system_set else None,
                   meta.get("crypto_level", meta.get("level")) if system_set else None)


def _evidence(doc: LocatedDocument, base: Path, where: tuple[str | int, ...], entries: list[Mapping[str, Any]],
              sink: list[Diagnostic]) -> tuple[EvidenceFile, ...]:
    found: list[EvidenceFile] = []
    for number, entry in enumerate(entries):
        at = (*where, "evidence", number)
        target = evidence_path(base, entry["file"])
        if target is None:
            sink.append(doc.diagnostic((*at, "file"), f"evidence {entry['file']} lies outside the set's folder",
                                       "store evidence beside the set", code="path"))
            continue
        if not entry.get("sm3"):
            sink.append(doc.diagnostic((*at, "sm3"), f"evidence {entry['file']} has no SM3 digest",
                                       "sign with `xzgov attest sign`, which records it", code="required"))
            continue
        if not target.is_file():
            sink.append(doc.diagnostic((*at, "file"), f"evidence file {entry['file']} not found",
                                       "store the evidence beside the set (path relative to its folder)",
                                       code="missing"))
            continue
        digest = sm3_file(target).hex()
        if digest != entry["sm3"]:
            sink.append(doc.diagnostic((*at, "sm3"), f"SM3 of {entry['file']} is {digest}, the signed set says "
                                       f"{entry['sm3']}: the evidence changed after attestation",
                                       "re-attest the new evidence (new digest, date, signature)", code="digest"))
            continue
        found.append(EvidenceFile(entry["file"], digest))
    return tuple(found)

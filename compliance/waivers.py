"""Waivers (``compliance/waivers/*.yaml``) and attestations (``compliance/attestations/*.yaml``).

Both are validated against their JSON Schema (``compliance/schemas/``) with located diagnostics.
The scan fails loudly (:class:`~xzgov.core.errors.UsageError`, exit 2) when a record is malformed, a
waiver has expired, a record names an unknown system, item or rule, or an attestation's evidence
file is missing or its SM3 digest does not match. An expired attestation is not an error: it stops
counting (the items become ``manual-pending`` again) and the scan says so in its warnings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from xzgov.core.clock import Period, Standing, region_today
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.fsutil import display_path
from xzgov.core.schema import explain, type_mismatch
from xzgov.core.yamlio import LocatedDocument, input_folder, load_documents, read_text
from xzgov.crypto.sm3 import sm3_file
from xzgov.facts.thresholds import threshold

SCHEMA_DIR = Path(__file__).parent / "schemas"


@dataclass(frozen=True)
class Waiver:
    id: str
    system: str
    item: str | None
    rule: str | None
    reason: str
    approver: str
    approved: dt.date
    expires: dt.date
    source: str

    def covers(self, system: str, *, item: str | None = None, rule: str | None = None) -> bool:
        if self.system not in ("*", system):
            return False
        return (item is not None and self.item == item) or (rule is not None and self.rule == rule)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "system": self.system, "item": self.item, "rule": self.rule, "reason": self.reason,
                "approver": self.approver, "approved": self.approved.isoformat(),
                "expires": self.expires.isoformat(), "source": self.source}


@dataclass(frozen=True)
class Attestation:
    id: str
    scope: str  #: "system" or "platform"
    system: str
    items: tuple[str, ...] | None  #: None = every inherited item ("inherited")
    status: str  #: 符合 / 部分符合 / 不符合 / 不适用
    attested_by: str
    date: dt.date
    expires: dt.date | None
    evidence_file: str
    evidence_sm3: str
    source: str
    report: str = ""

    def covers(self, system: str, item: str, *, inherited: bool) -> bool:
        if self.system not in ("*", system):
            return False
        if self.items is None:
            return inherited and self.scope == "platform"
        return item in self.items

    @property
    def period(self) -> Period:
        return Period(self.date, self.expires)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "scope": self.scope, "system": self.system,
                "items": list(self.items) if self.items is not None else "inherited", "status": self.status,
                "attested_by": self.attested_by, "date": self.date.isoformat(),
                "expires": self.expires.isoformat() if self.expires else None,
                "evidence": {"file": self.evidence_file, "sm3": self.evidence_sm3}, "report": self.report,
                "source": self.source}


@dataclass(frozen=True)
class Records:
    waivers: tuple[Waiver, ...]
    attestations: tuple[Attestation, ...]
    warnings: tuple[str, ...] = ()

    def waiver_for(self, system: str, *, item: str | None = None, rule: str | None = None) -> Waiver | None:
        if not self.waivers:
            return None
        return next((w for w in self.waivers if w.covers(system, item=item, rule=rule)), None)

    def __post_init__(self) -> None:
        # A system-scope record beats the platform's general record; a named system beats "*".
        ordered = tuple(sorted(self.attestations, key=lambda a: (a.scope != "system", a.system == "*")))
        object.__setattr__(self, "attestations", ordered)

    def attestation_for(self, system: str, item: str, *, inherited: bool) -> Attestation | None:
        return next((a for a in self.attestations if a.covers(system, item, inherited=inherited)), None)


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


#: A folder argument that names no folder: the records of that kind are not read (the scan reads attestation
#: sets through ``compliance.attest``, never this unsigned format; the worksheet reads no waivers).
NO_FOLDER = Path(os.devnull)


def record_files(directory: Path) -> list[Path]:
    """The record files of ``directory``: the YAML entries directly in it, not hidden, in name order (sub-folders
    hold evidence, in any format); none when it is absent. The scan part's input digest reads the same. An
    entry that is a link, a folder or a FIFO is listed too: reading it refuses it by name (it was skipped in
    silence — a waiver file replaced by a dangling link simply vanished)."""
    if not directory.is_dir():
        return []
    entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    for path in entries:
        if path.suffix.lower() in (".yaml", ".yml") and path.suffix not in (".yaml", ".yml"):
            # W.YAML was skipped in silence, its waivers (or an unknown rule in them) never read
            raise UsageError(f"{path}: a record's name ends in .yaml or .yml (lower case)",
                             [Diagnostic(str(path), 0, 0, "", f"'{path.suffix}' is not read as a record",
                                         f"rename it to {path.with_suffix(path.suffix.lower()).name}", "io")])
    return [p for p in entries if p.suffix in (".yaml", ".yml")]


def _documents(directory: Path, kind: str, sink: list[Diagnostic], base: Path) -> list[LocatedDocument]:
    found: list[LocatedDocument] = []
    if directory == NO_FOLDER or not input_folder(directory, display_path(directory, base)):
        return found
    for path in record_files(directory):
        display = display_path(path, base)
        text, problem = read_text(path, display)
        if problem is not None or text is None:
            sink.append(problem or Diagnostic(display, 0, 0, "", "cannot read", code="io"))
            continue
        documents, errors = load_documents(text, display)
        sink.extend(errors)
        if errors:
            continue
        if len(documents) != 1:
            sink.append(Diagnostic(display, 1, 1, "", f"expected one YAML document, found {len(documents)}",
                                   "put one record list per file", "document-count"))
            continue
        document = documents[0]
        problems = explain(document, schema(kind), _special)
        sink.extend(problems)
        if not problems:
            found.append(document)
    return found


#: What a waiver file and its list look like (the hint for a value of the wrong type at the top or at `waivers`)
_SHAPE = ("a waiver file is a mapping: `apiVersion: xzgov.io/v1`, `kind: Waivers`, `waivers:` followed by a list "
          "of records (`- id: W-2026-001`, `rule:` or `item:`, `system:`, `reason:`, `approver: {name, role}`, "
          "`approved:`, `expires:`); see compliance/waivers/README.md")


def _special(document: LocatedDocument, error: jsonschema.ValidationError) -> Diagnostic | None:
    """A record's own words for the errors the common explanation (``xzgov.core.schema.explain``) words for
    any schema: the file's shape, and a record naming neither or both of ``item`` and ``rule``."""
    path = tuple(error.absolute_path)
    if error.validator == "type" and len(path) <= 1:
        return document.diagnostic(path, type_mismatch(error.validator_value, error.instance), _SHAPE,
                                   code="type")
    if error.validator == "oneOf":
        several = "valid under each of" in error.message  # both `item` and `rule`, not neither
        return document.diagnostic(path, f"the record matches {'more than one' if several else 'none'} of the "
                                   "allowed forms",
                                   "name exactly one of `item` or `rule`" if "item" in str(error.schema)
                                   else "check the allowed forms", code="schema")
    return None


def load_records(
    root: Path,
    *,
    today: dt.date | None = None,
    known_systems: Iterable[str] = (),
    known_item: Callable[[str], bool] | None = None,
    known_rules: Iterable[str] = (),
    waivers_dir: Path | None = None,
    attestations_dir: Path | None = None,
    max_waiver_days: int | None = None,
) -> Records:
    """Load and check every waiver and attestation under ``root`` (``compliance/waivers``,
    ``compliance/attestations``). Raises :class:`UsageError` (exit 2) listing every problem. A waiver in force
    longer than ``max_waiver_days`` (default: the ``max_waiver_days`` threshold's default) is one of them."""
    longest = max_waiver_days if max_waiver_days is not None else int(threshold(None, "max_waiver_days"))
    today = today or region_today()
    systems = set(known_systems)
    rules = set(known_rules)
    sink: list[Diagnostic] = []
    warnings: list[str] = []
    waivers: list[Waiver] = []
    attestations: list[Attestation] = []
    seen: dict[str, str] = {}
    w_dir = waivers_dir or root / "compliance" / "waivers"
    a_dir = attestations_dir or root / "compliance" / "attestations"

    def check_refs(doc: LocatedDocument, path: tuple[str | int, ...], record: Mapping[str, Any]) -> None:
        ident = record["id"]
        if ident in seen:
            sink.append(doc.diagnostic((*path, "id"), f"record id {ident} is already used in {seen[ident]}",
                                       "give every record its own id", code="duplicate"))
        seen[ident] = doc.file
        if systems and record["system"] != "*" and record["system"] not in systems:
            sink.append(doc.diagnostic((*path, "system"), f"unknown system '{record['system']}'",
                                       "name a registered system or *", code="reference"))
        if rules and record.get("rule") and record["rule"] not in rules:
            sink.append(doc.diagnostic((*path, "rule"), f"unknown rule '{record['rule']}'",
                                       "see `xzgov scan --list-rules` or docs/compliance.md", code="reference"))
        raw_items = record.get("items")
        items: list[Any] = list(raw_items) if isinstance(raw_items, list) else (
            [record["item"]] if record.get("item") else [])
        for index, item in enumerate(items):
            if known_item is not None and not known_item(item):
                where = (*path, "items", index) if "items" in record else (*path, "item")
                sink.append(doc.diagnostic(where, f"unknown catalogue item '{item}'",
                                           "use an id from `xzgov standards list`", code="reference"))

    for doc in _documents(w_dir, "waiver", sink, root):
        for index, raw in enumerate(doc.data["waivers"]):
            path = ("waivers", index)
            check_refs(doc, path, raw)
            # The schema checks dates first; a day the calendar lacks is still a located error, not a traceback.
            approved = doc.calendar_day((*path, "approved"), raw["approved"], sink) or dt.date.min
            expires = doc.calendar_day((*path, "expires"), raw["expires"], sink) or dt.date.max
            standing = Period(approved, expires).standing(today)
            if standing is Standing.LAPSED:
                sink.append(doc.diagnostic((*path, "expires"), f"waiver {raw['id']} expired on {expires.isoformat()}",
                                           "renew it with a new approval, or fix the finding and delete the waiver",
                                           code="expired"))
            if approved > expires:
                sink.append(doc.diagnostic((*path, "approved"), "approved after it expires", "check the dates",
                                           code="range"))
            elif (days := (expires - approved).days) > longest:
                sink.append(doc.diagnostic(
                    (*path, "expires"), f"豁免 {raw['id']} 到期日在批准日后 {days} 天 ({approved.isoformat()} → "
                    f"{expires.isoformat()}), 超过 {longest} 天 / waiver {raw['id']} expires {days} days after its "
                    f"approval, more than max_waiver_days ({longest})",
                    f"expires at most {longest} days after approved: the accepted risk is approved again when it "
                    "ends (the limit: thresholds.max_waiver_days in compliance/config.yaml)", code="range"))
            line, _ = doc.position(path)
            if standing is Standing.AHEAD:  # a scan of an earlier day (as-of), or an approval dated ahead
                warnings.append(f"{doc.file}:{line}: 豁免 {raw['id']} 批准于 {approved.isoformat()}, 晚于判定日 "
                                f"{today.isoformat()}, 不计入 / waiver {raw['id']} is approved on "
                                f"{approved.isoformat()}, after the day judged: not applied")
                continue
            waivers.append(Waiver(raw["id"], raw["system"], raw.get("item"), raw.get("rule"), raw["reason"],
                                  f"{raw['approver']['name']} ({raw['approver']['role']})", approved, expires,
                                  f"{doc.file}:{line}"))
    for doc in _documents(a_dir, "attestation", sink, root):
        for index, raw in enumerate(doc.data["attestations"]):
            path = ("attestations", index)
            check_refs(doc, path, raw)
            evidence = Path(root, doc.file).parent / raw["evidence"]["file"]
            where = (*path, "evidence", "file")
            if not evidence.is_file():
                sink.append(doc.diagnostic(where, f"evidence file {raw['evidence']['file']} not found",
                                           "store the evidence beside the record", code="missing"))
            else:
                digest = sm3_file(evidence).hex()
                if digest != raw["evidence"]["sm3"]:
                    sink.append(doc.diagnostic((*path, "evidence", "sm3"),
                                               f"SM3 of {raw['evidence']['file']} is {digest}, the record says "
                                               f"{raw['evidence']['sm3']}: the evidence changed after attestation",
                                               "re-attest the new evidence (new digest, date, signer)", code="digest"))
            until = ((doc.calendar_day((*path, "expires"), raw["expires"], sink) or dt.date.max)
                     if raw.get("expires") else None)
            line, _ = doc.position(path)
            record = Attestation(
                raw["id"], raw["scope"], raw["system"],
                None if raw["items"] == "inherited" else tuple(raw["items"]), raw["status"],
                f"{raw['attested_by']['name']} ({raw['attested_by']['role']})",
                doc.calendar_day((*path, "date"), raw["date"], sink) or dt.date.min,
                until, raw["evidence"]["file"], raw["evidence"]["sm3"], f"{doc.file}:{line}", raw.get("report", ""))
            standing = record.period.standing(today)
            if standing is Standing.LAPSED:
                warnings.append(f"{record.source}: attestation {record.id} expired on "
                                f"{until.isoformat() if until else ''}; its items are pending again")
                continue
            if standing is Standing.AHEAD:
                warnings.append(f"{record.source}: attestation {record.id} is dated {record.date.isoformat()}, after "
                                f"the day judged ({today.isoformat()}): not applied")
                continue
            attestations.append(record)
    if sink:
        count = len(sink)
        raise UsageError(f"{count} problem{'s' * (count != 1)} in waivers/attestations", sorted(set(sink)))
    return Records(tuple(waivers), tuple(attestations), tuple(warnings))


"""Scan parts (``xzgov scan --shard K/N``) and their merge into one report set (``xzgov scan merge``).

A shard scans a deterministic part of the register (:mod:`compliance.scan.shard`) and writes its usual
signed report set plus ``scan-part.json`` (:data:`compliance.reports.PART_NAME`), signed in the same
bundle. The part records:

* ``shard``: ``{index, count, by}`` (K/N and how the register was cut);
* ``register``: the register root it scanned, the digest of the register (region.yaml and every
  manifest, :func:`compliance.scan.shard.register_digest`) and the names of **all** its systems in
  register order, so a missing shard or system is found and named;
* ``release``: the xzgov version and the SM3 of its code (:func:`release_code`): the merge refuses a part of
  another code than its own, as it refuses one of other rules;
* ``catalogue_version``, ``rules_version`` (SM3 of the rules' JSON), ``fail_on``, ``modes``;
* ``inputs``: digests of what else the shard read (catalogue and scoring files, waivers, attestations,
  thresholds, the live inventory: :func:`compliance.scan.context.scan_inputs`);
* ``figure_tables``: the scoring credits and major-risk cases the shard judged with, which the reports'
  figures are computed from (:class:`~compliance.results.FigureTables`: the merge renders with the shards'
  tables, not the merging machine's);
* ``systems``: the systems it judged, and ``reports``: their results — every field the report formats
  read, in the shapes of ``to_json`` of :mod:`compliance.results` with static item text, item outcomes
  shared between systems and score cards each written once (``statics``, ``outcomes``, ``cards``), and an
  item's evidence named by its finding (``[finding, evidence]``) rather than repeated;
* ``warnings`` (of its inputs), ``system_warnings`` (about one of its systems: the merge lists them in the
  register's order, as the whole scan does) and ``unused_waivers`` (waivers that matched nothing in this part).

:func:`merge_parts` refuses (exit 2, located at the part file and field) parts whose bundle does not
verify against the pinned keys, parts of different registers or of different catalogue / rule versions,
inputs, modes, severity thresholds or as-of days, shards given twice or missing, and systems judged twice or
by no part. Parts are merged in shard order, whatever the order they are given in.
The merged :class:`~compliance.results.ScanResult` lists the systems in register order, starts with the
earliest part and finishes with the latest; the reports rendered from it are those of one scan of the
whole register, apart from those times (the same code renders them).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.reports import BUNDLE_NAME, PART_NAME
from compliance.reports.figures import figure_tables
from compliance.reports.formats import shown
from compliance.reports.validate import describe, explained, refused
from compliance.results import FigureTables, Finding, ItemOutcome, ScanResult, ScoreCard, SystemReport
from compliance.scan.shard import MAX_SHARDS, Shard, files_digest, recording, register_digest
from policies.registry import RULES
from xzgov import __version__
from xzgov.core import model as m
from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.register import load_register
from xzgov.core.schema import full_match_validator, screen_rejection
from xzgov.crypto import bundle
from xzgov.crypto.sm3 import sm3_hex

PART_FORMAT = "xzgov-scan-part"
PART_VERSION = 5  # 2: ``inputs``; 3: ``system_warnings``; 4: ``figure_tables``; 5: no platform-only cases
#: The static attributes of an item (its catalogue text), written once per part in ``statics``.
_STATIC = ("item", "standard", "title", "check_type", "responsibility", "assessment_unit", "category", "strength")
#: Keys of ``ItemOutcome.to_json`` that are recomputed on reading.
_COMPUTED = ("state_label", "score_status", "decided_by")
#: Values ``ItemOutcome.to_json`` writes for an outcome that has none: left out of a part.
_DEFAULTS: Mapping[str, Any] = {"rules": [], "evidence": [], "note": "", "high_risk": False, "severity": None,
                                "waiver": None, "attestation": None}


def _canonical(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def rules_version(rules: Sequence[Mapping[str, Any]]) -> str:
    """SM3 (hex) of the rules' JSON (ids, items, severities, remediations, levels): the rules version."""
    return sm3_hex(_canonical(list(rules)).encode("utf-8"))


# --------------------------------------------------------------------------------------------- writing


def encode_part(result: ScanResult, shard: Shard) -> dict[str, Any]:
    """The ``scan-part.json`` of a shard's scan (``result.register`` is the register it scanned)."""
    register = result.register
    if register is None:  # pragma: no cover - the scanner always sets it
        raise XzgovError("internal error: a scan part needs the scanned register", exit_code=ExitCode.INTERNAL)
    statics: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    shared: dict[int, int] = {}  # id(ItemOutcome) -> outcome index, for outcomes the scan shares
    cards: dict[str, int] = {}
    card_of: dict[int, int] = {}

    def card_index(card: ScoreCard | None) -> int | None:
        if card is None:
            return None
        found = card_of.get(id(card))
        if found is None:
            found = card_of[id(card)] = cards.setdefault(_canonical(card.to_json()), len(cards))
        return found

    def item_index(item: ItemOutcome, owner: Mapping[int, tuple[int, int]]) -> int:
        data = item.to_json()
        for key in _COMPUTED:
            data.pop(key, None)
        static = {key: data.pop(key, "") for key in _STATIC}
        for key, default in _DEFAULTS.items():
            if data.get(key, default) == default:
                data.pop(key, None)
        if data["underlying"] == data["state"]:
            del data["underlying"]
        data["s"] = statics.setdefault(_canonical(static), len(statics))
        refs = [owner.get(id(e)) for e in item.evidence] if item.rules else []
        if refs and all(ref is not None for ref in refs):
            data["evidence"] = [list(ref) for ref in refs if ref is not None]
            data["refs"] = True
        return outcomes.setdefault(_canonical(data), len(outcomes))

    reports: list[dict[str, Any]] = []
    for system in result.systems:
        owner = {id(e): (fi, ei) for fi, f in reversed(list(enumerate(system.findings)))
                 for ei, e in enumerate(f.result.evidence)}
        items: list[int] = []
        for item in system.items:
            index = shared.get(id(item))
            if index is None:
                index = item_index(item, owner)
                if not item.evidence:  # no evidence of its own: the same outcome may serve other systems
                    shared[id(item)] = index
            items.append(index)
        reports.append({
            "name": system.name, "title": system.title, "department": system.department,
            "department_name": system.department_name, "tier": system.tier, "level": system.level,
            "crypto_level": system.crypto_level, "source": system.source, "hosts": dict(system.hosts),
            "cases_not_applying": list(system.cases_not_applying),
            "dengbao": card_index(system.dengbao), "miping": card_index(system.miping),
            "findings": [_finding_json(f, result.started) for f in system.findings], "items": items,
        })
    unused = dict(result.unused_waivers)
    per_system = {name: list(said) for name, said in result.system_warnings.items()}
    # warnings = the general ones, then each system's (register order), then the unused waivers' (scanner)
    base_warnings = list(result.warnings[: len(result.warnings) - len(unused) - sum(map(len, per_system.values()))])
    return {
        "format": PART_FORMAT, "version": PART_VERSION,
        "shard": {"index": shard.index, "count": shard.count, "by": str(shard.by)},
        "register": {"root": result.register_root, "digest": result.register_digest or register_digest(register),
                     "systems": list(register.systems)},
        "release": {"version": __version__, "code": release_code()},
        "catalogue_version": result.catalogue_version, "rules_version": rules_version(result.rules),
        "inputs": dict(result.inputs), "figure_tables": figure_tables(result).to_json(),
        "fail_on": str(result.fail_on), "modes": list(result.modes), "started": result.started,
        "finished": result.finished, "as_of": result.as_of,
        "systems": [system.name for system in result.systems],
        "warnings": base_warnings, "system_warnings": per_system, "unused_waivers": unused, "rules": result.rules,
        "statics": [json.loads(key) for key in statics], "outcomes": [json.loads(key) for key in outcomes],
        "cards": [json.loads(key) for key in cards], "reports": reports,
    }


def _finding_json(finding: Finding, started: str) -> dict[str, Any]:
    data = finding.to_json()
    for evidence in data["evidence"]:  # most evidence is stamped with the scan's start: written once
        if evidence.get("at") == started:
            del evidence["at"]
    return data


def part_bytes(result: ScanResult, shard: Shard) -> bytes:
    """``scan-part.json`` as written (compact JSON, UTF-8)."""
    return (json.dumps(encode_part(result, shard), ensure_ascii=False, separators=(",", ":")) + "\n").encode()


# --------------------------------------------------------------------------------------------- the part's schema

#: A day as the reports write one (the OSCAL date, 1900–2999, that exists).
_DAY = (r"(((2000|2400|2800|(19|2[0-9](0[48]|[2468][048]|[13579][26])))-02-29)|(((19|2[0-9])[0-9]{2})-02-(0[1-9]|"
        r"1[0-9]|2[0-8]))|(((19|2[0-9])[0-9]{2})-(0[13578]|10|12)-(0[1-9]|[12][0-9]|3[01]))|(((19|2[0-9])[0-9]{2})-"
        r"(0[469]|11)-(0[1-9]|[12][0-9]|30)))")
#: A time as the scanner stamps one (:func:`xzgov.facts.contract.utc_now`: ISO-8601 UTC, seconds).
_STAMP = f"{_DAY}T(2[0-3]|[01][0-9]):[0-5][0-9]:[0-5][0-9]Z"
_TIME: dict[str, Any] = {"type": "string", "pattern": f"^{_STAMP}$"}
_TEXT: dict[str, Any] = {"type": "string"}
#: A value the OSCAL results write as a string property: not empty, no white space at either end, one line
#: (no ``anyOf`` with ``""`` or ``null`` for the optional ones: the screen tries each branch by raising).
_ONE_LINE = r"\S(.*\S)?"
_LINE: dict[str, Any] = {"type": "string", "pattern": f"^{_ONE_LINE}$"}
_LINE_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "pattern": f"^{_ONE_LINE}$"}
_NAME: dict[str, Any] = {"type": "string", "pattern": "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"}  # a system (manifest)
_TEXTS: dict[str, Any] = {"type": "array", "items": _TEXT}
_INDEX: dict[str, Any] = {"type": "integer", "minimum": 0}
_LEVEL: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 4}
_SEVERITY: dict[str, Any] = {"enum": ["low", "medium", "high", "critical"]}
_ITEM_STATE: dict[str, Any] = {"enum": ["pass", "fail", "partial", "not-applicable", "manual-pending", "inherited",
                                        "waived", "error"]}
_RULE_STATUS: dict[str, Any] = {"enum": ["pass", "fail", "partial", "not-applicable", "error"]}
_POINT: dict[str, Any] = {"enum": ["manifest", "resources", "host"]}
_RULE_ID: dict[str, Any] = {"type": "string", "pattern": "^XZ-[A-Z0-9][A-Z0-9-]*$"}
_STANDARDS = ["GB/T 22239-2019", "GB/T 39786-2021"]


def _record(required: Sequence[str], properties: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": list(required),
            "properties": dict(properties), **more}


def _strings(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, _TEXT)


_EVIDENCE = _record(("observed", "location"), {
    "observed": _TEXT, "location": {"type": "string", "pattern": f"^({_ONE_LINE})?$"},
    "at": {"type": "string", "pattern": f"^({_STAMP})?$"}})
#: A piece of an item's evidence: written out, or (``refs``) named by its finding as ``[finding, evidence]``
#: (positions in the system's findings). One schema for both (each keyword applies to its type: the screen
#: tries an ``if`` or ``anyOf`` by raising, for every outcome); :func:`_reference_problems` checks which.
_EVIDENCE_OR_REF: dict[str, Any] = {**_EVIDENCE, "type": ["object", "array"], "items": _INDEX, "minItems": 2,
                                    "maxItems": 2}
_TRAIL = _record(("by", "set", "file", "signer", "signer_fingerprint"), {
    "by": {"enum": ["attestation", "platform-record"]},
    **_strings("set", "file", "signer", "signer_fingerprint", "date", "result", "report", "agency", "assessed",
               "conclusion", "reason"),
    "evidence": {"type": "array", "items": _record(("file", "sm3"), _strings("file", "sm3"))}})
_STATIC_ITEM = _record(_STATIC, {
    "item": {"type": "string", "pattern": r"^GB/T (22239-2019|39786-2021):\S+$"}, "standard": {"enum": _STANDARDS},
    **_strings("title", "check_type", "responsibility", "assessment_unit", "category", "strength")})
_OUTCOME = _record(("s", "state"), {
    "s": _INDEX, "state": _ITEM_STATE, "underlying": _ITEM_STATE, "rules": {"type": "array", "items": _RULE_ID},
    "evidence": {"type": "array", "items": _EVIDENCE_OR_REF}, "refs": {"const": True}, "note": _TEXT,
    "high_risk": {"type": "boolean"},
    "severity": {"enum": [None, *_SEVERITY["enum"]]}, "waiver": _LINE_OR_NULL,
    "attestation": {"type": ["string", "null"]}, "trail": _TRAIL})
_SCORE = {"type": "number", "minimum": 0, "maximum": 100}  # a rate 0..1 (等保) or a score 0..100 (密评)
_CARD = _record(("scheme", "verdict", "verdict_range", "value", "value_range", "final", "high_risk", "error",
                 "steps"), {
    "scheme": {"enum": ["等保", "密评"]}, "measure": {"enum": ["rate", "score"]},
    "verdict": {"type": ["string", "null"]},
    "verdict_range": {"type": ["array", "null"], "items": _TEXT, "minItems": 2, "maxItems": 2},
    "value": {**_SCORE, "type": ["number", "null"]}, "value_range": {"type": "array", "items": _SCORE,
                                                                     "minItems": 2, "maxItems": 2},
    "final": {"type": "boolean"}, "high_risk": _TEXTS, "error": _TEXT,
    "steps": {"type": "array", "items": _record(("label", "formula", "value"), _strings("label", "formula", "value"))}})
_FINDING = _record(("rule", "subject", "target", "point", "status", "severity", "message", "controls", "evidence",
                    "waiver"), {
    "rule": _RULE_ID, **_strings("subject", "target", "message"), "point": _POINT, "status": _RULE_STATUS,
    "severity": _SEVERITY, "controls": {"type": "object", "additionalProperties": _RULE_STATUS},
    "evidence": {"type": "array", "items": _EVIDENCE}, "waiver": _LINE_OR_NULL})
_REPORT = _record(("name", "title", "department", "department_name", "tier", "level", "crypto_level", "source", "hosts",
                   "dengbao", "miping", "findings", "items"), {
    "name": _NAME, **_strings("title", "department_name", "source"),
    "department": {"type": "string", "pattern": "^[a-z][-a-z0-9]{0,62}$"},  # a department id (region.yaml)
    "tier": {"enum": ["自治区", "地市", "县区", "乡镇"]}, "level": _LEVEL, "crypto_level": _LEVEL,
    "hosts": {"type": "object", "additionalProperties": _TEXT},
    "cases_not_applying": {"type": "array", "items": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)*$"}},
    "dengbao": {**_INDEX, "type": ["integer", "null"]}, "miping": {**_INDEX, "type": ["integer", "null"]},
    "findings": {"type": "array", "items": _FINDING}, "items": {"type": "array", "items": _INDEX}})
_RULE = _record(("id", "title", "title_en", "severity", "controls", "levels", "crypto_levels", "remediation", "facts",
                 "points", "description"), {
    "id": _RULE_ID, **_strings("title", "title_en", "remediation", "description"), "severity": _SEVERITY,
    "controls": _TEXTS, "facts": _TEXTS, "levels": {"type": "array", "items": _LEVEL},
    "crypto_levels": {"type": "array", "items": _LEVEL}, "points": {"type": "array", "items": _POINT, "minItems": 1}})
_SYSTEM_NAMES: dict[str, Any] = {"type": "array", "items": _NAME, "uniqueItems": True}
_CREDIT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
_FIGURE_TABLES = _record(("credits", "guide", "cases"), {
    "credits": {"type": "array", "prefixItems": [_CREDIT, _CREDIT, _CREDIT], "minItems": 3, "maxItems": 3},
    "guide": _TEXT,
    "cases": {"type": "array", "items": _record(("case", "title", "scope", "conditions", "conditional", "units"), {
        "case": _LINE, **_strings("title", "scope", "conditions"), "conditional": {"type": "boolean"},
        "units": {"type": "array", "items": {"type": "array", "prefixItems": [_LEVEL, _LINE], "minItems": 2,
                                             "maxItems": 2}}})}})

#: What a part (:func:`encode_part`) holds, every field: :func:`load_part` refuses a part that does not match it
#: (and :func:`part_problems` checks the indices between its tables), so what the merge decodes and renders is
#: what a shard writes.
PART_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://xzgov.io/schemas/compliance/scan-part.schema.json",
    "title": f"xzgov scan part ({PART_NAME}, version {PART_VERSION})",
    **_record(("format", "version", "shard", "register", "release", "catalogue_version", "rules_version", "inputs",
               "figure_tables", "fail_on", "modes", "started", "finished", "as_of", "systems", "warnings",
               "system_warnings", "unused_waivers", "rules", "statics", "outcomes", "cards", "reports"), {
        "format": {"const": PART_FORMAT}, "version": {"const": PART_VERSION},
        "shard": _record(("index", "count", "by"), {"index": {"type": "integer", "minimum": 1},
                                                    "count": {"type": "integer", "minimum": 1, "maximum": MAX_SHARDS},
                                                    "by": {"enum": ["name", "zone"]}}),
        "register": _record(("root", "digest", "systems"), {
            "root": _TEXT, "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "systems": _SYSTEM_NAMES}),
        "release": _record(("version", "code"), {"version": _LINE, "code": {"type": "string",
                                                                            "pattern": "^[0-9a-f]{64}$"}}),
        "catalogue_version": _TEXT, "rules_version": _TEXT, "inputs": {"type": "object", "additionalProperties": _TEXT},
        "figure_tables": _FIGURE_TABLES, "fail_on": _SEVERITY,
        "modes": {"type": "array", "items": {"enum": ["static", "plan", "live"]}, "minItems": 1, "uniqueItems": True},
        "started": _TIME, "finished": _TIME, "as_of": {"type": "string", "pattern": f"^{_DAY}$"},
        "systems": _SYSTEM_NAMES, "warnings": _TEXTS,
        "system_warnings": {"type": "object", "additionalProperties": _TEXTS},
        "unused_waivers": {"type": "object", "additionalProperties": _TEXT},
        "rules": {"type": "array", "items": _RULE}, "statics": {"type": "array", "items": _STATIC_ITEM},
        "outcomes": {"type": "array", "items": _OUTCOME}, "cards": {"type": "array", "items": _CARD},
        "reports": {"type": "array", "items": _REPORT}}),
}
#: What the part's patterns stand for, in its error messages.
_PATTERNS: Mapping[str, str] = {
    _TIME["pattern"]: "a time as the scanner writes one (UTC: YYYY-MM-DDTHH:MM:SSZ)",
    _EVIDENCE["properties"]["at"]["pattern"]: "a time as the scanner writes one (UTC: YYYY-MM-DDTHH:MM:SSZ) or empty",
    _LINE["pattern"]: "one line of text without white space at either end",
    _EVIDENCE["properties"]["location"]["pattern"]: "one line of text without white space at either end, or empty",
    PART_SCHEMA["properties"]["as_of"]["pattern"]: "a day (YYYY-MM-DD)",
}
#: Problems of a part listed at most (the first of them is what to fix).
PART_PROBLEMS_SHOWN = 20
#: Pieces of one rule result's evidence an item keeps (:meth:`policies.engine.RuleResult.evidence_of`).
_PIECES_PER_RESULT = 5


def part_problems(data: Any, limit: int = PART_PROBLEMS_SHOWN) -> list[tuple[str, str]]:
    """What keeps ``data`` from being a part a shard writes, as (field path, message); empty when it is one.
    First :data:`PART_SCHEMA` (screened by the compiled validator, explained by jsonschema as the reports are:
    :func:`compliance.reports.validate.problems`), then what a schema cannot say (:func:`_reference_problems`):
    every index between the part's tables in range, each system's evidence within its findings."""
    rejection = screen_rejection(data, PART_SCHEMA, document=True)
    if rejection is None:
        return _reference_problems(data)[:limit]
    return refused(explained(full_match_validator(PART_SCHEMA), data, limit, _describe), rejection)


@functools.cache
def release_rules_version() -> str:
    """The :func:`rules_version` of this release's rules (what a shard of this release records)."""
    return rules_version([rule.to_json() for rule in RULES])


#: The packages whose code and data judge a scan and render its reports.
RELEASE_PACKAGES = ("xzgov", "compliance", "policies", "stacks")
#: The files of a release in them: code, schemas and tables (not notes, caches or an editor's leftovers).
RELEASE_SUFFIXES = frozenset({".py", ".json", ".yaml", ".yml"})
#: A register's own files inside those packages in a checkout (its waivers, attestations and thresholds: the
#: parts' input digests cover them), not the release.
REGISTER_DATA = ("compliance/waivers", "compliance/attestations", "compliance/config.yaml")


@functools.cache
def release_code() -> str:
    """SM3 over the release's files in :data:`RELEASE_PACKAGES` as installed (:func:`release_files`): what a
    part records as its release. Two releases — or one patched — differ here though their rules' JSON
    (:func:`rules_version`) may not, and the merge renders what the parts hold with its own code: parts of
    another code than the merge's are refused."""
    import xzgov

    base = Path(xzgov.__file__).resolve().parent.parent
    return files_digest(base, release_files(base), "release")


def release_files(base: Path) -> list[Path]:
    """The code, schema and table files (:data:`RELEASE_SUFFIXES`) of :data:`RELEASE_PACKAGES` under ``base``.
    Left out: the register's own files there (:data:`REGISTER_DATA`), links (a virtual environment's
    ``bin/python`` would be the machine's), hidden and cache folders, and any virtual environment
    (``pyvenv.cfg``; ``pulumi preview --policy-pack policies`` makes ``policies/venv``): a checkout's untracked
    tooling is no part of the release."""
    data = {base / folder for folder in REGISTER_DATA}
    files: list[Path] = []
    for package in RELEASE_PACKAGES:
        for folder, subfolders, names in os.walk(base / package):  # links to folders are listed, not entered
            here = Path(folder)
            subfolders[:] = sorted(
                name for name in subfolders
                if not name.startswith(".") and name != "__pycache__" and here / name not in data
                and not (here / name).is_symlink() and not (here / name / "pyvenv.cfg").exists())
            files += [here / name for name in names
                      if Path(name).suffix in RELEASE_SUFFIXES and here / name not in data
                      and not (here / name).is_symlink()]
    return files


def _describe(error: Any) -> str:
    """A schema error as :func:`compliance.reports.validate.describe` gives it; a pattern of the part's by what
    it stands for (the time pattern is 300 characters long)."""
    meant = _PATTERNS.get(error.validator_value) if error.validator == "pattern" else None
    if meant is None:
        return describe(error)
    return f"{shown(error.instance)} is not {meant} (schema pattern)"


def _whole(value: Any) -> bool:
    """An index as a shard writes one (JSON Schema's ``integer`` also admits ``1.0``)."""
    return type(value) is int


def _reference_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The cross-references of a part valid against :data:`PART_SCHEMA`."""
    problems: list[tuple[str, str]] = []
    shard = data["shard"]
    if not (_whole(shard["index"]) and _whole(shard["count"])) or shard["index"] > shard["count"]:
        problems.append(("shard.index", f"shard {shard['index']!r} of {shard['count']!r}: expected K/N with whole "
                                        "numbers 1 ≤ K ≤ N"))
    if rules_version(data["rules"]) != data["rules_version"]:
        problems.append(("rules_version", "not the SM3 of the part's rules"))
    judged = set(data["systems"])
    problems += [(f"system_warnings.{name}", f"{name}: not a system this part judged")
                 for name in data["system_warnings"] if name not in judged]
    known = {rule["id"] for rule in data["rules"]}
    statics, outcomes, cards = data["statics"], data["outcomes"], data["cards"]
    for index, static in enumerate(statics):
        if not static["item"].startswith(f"{static['standard']}:"):
            problems.append((f"statics[{index}].item", f"{static['item']!r} is not an item of {static['standard']}"))
    for index, outcome in enumerate(outcomes):
        if not _whole(outcome["s"]) or outcome["s"] >= len(statics):
            problems.append((f"outcomes[{index}].s", f"{outcome['s']!r}: no such entry of statics "
                                                      f"({len(statics)} entries)"))
        problems += [(f"outcomes[{index}].rules[{position}]", f"{rule}: not a rule of the part's rules")
                     for position, rule in enumerate(outcome.get("rules", ())) if rule not in known]
        refs = bool(outcome.get("refs"))
        per_result: dict[Any, int] = {}
        seen: set[tuple[Any, ...]] = set()
        for position, piece in enumerate(outcome.get("evidence", ())):
            where = f"outcomes[{index}].evidence[{position}]"
            if isinstance(piece, dict) == refs:
                problems.append((where, "expected [finding, evidence] (the outcome has refs)" if refs else
                                 "expected {observed, location, at} (the outcome has no refs)"))
                continue
            if not refs:
                continue
            if not all(_whole(number) for number in piece):
                problems.append((where, "expected [finding, evidence] as whole numbers"))
            elif tuple(piece) in seen:
                problems.append((where, f"{piece} is named twice"))
            seen.add(tuple(piece))
            per_result[piece[0]] = per_result.get(piece[0], 0) + 1
            if per_result[piece[0]] == _PIECES_PER_RESULT + 1:
                problems.append((where, f"more than {_PIECES_PER_RESULT} pieces of finding {piece[0]}"))
    names = [report["name"] for report in data["reports"]]
    if names != data["systems"]:
        problems.append(("systems", "not the names of the systems in reports, in their order"))
    for number, report in enumerate(data["reports"]):
        where = f"reports[{number}]"
        for scheme, label in (("dengbao", "等保"), ("miping", "密评")):
            card = report[scheme]
            if card is None:
                continue
            if not _whole(card) or card >= len(cards):
                problems.append((f"{where}.{scheme}", f"{card!r}: no such entry of cards ({len(cards)} entries)"))
            elif cards[card]["scheme"] != label:
                problems.append((f"{where}.{scheme}", f"cards[{card}] is a {cards[card]['scheme']} card, not {label}"))
        problems += [(f"{where}.findings[{position}].rule", f"{finding['rule']}: not a rule of the part's rules")
                     for position, finding in enumerate(report["findings"]) if finding["rule"] not in known]
        pieces = [len(finding["evidence"]) for finding in report["findings"]]
        for position, item in enumerate(report["items"]):
            if not _whole(item) or item >= len(outcomes):
                problems.append((f"{where}.items[{position}]", f"{item!r}: no such entry of outcomes "
                                                               f"({len(outcomes)} entries)"))
                continue
            outcome = outcomes[item]
            if outcome.get("refs") and not all(
                    _whole(finding) and _whole(piece) and finding < len(pieces) and piece < pieces[finding]
                    for finding, piece in outcome.get("evidence", ())):
                problems.append((f"{where}.items[{position}]", f"outcomes[{item}] names evidence of a finding "
                                                               f"{report['name']} does not have"))
        if len(problems) > PART_PROBLEMS_SHOWN:
            break
    return problems


# --------------------------------------------------------------------------------------------- reading


@dataclass
class Part:
    """One verified part: where it was read from, what it says, and the signer that vouched for it."""

    path: Path
    data: Mapping[str, Any]
    signer: str = ""

    @property
    def where(self) -> str:
        return str(self.path)


def _refuse(message: str, diagnostics: list[Diagnostic]) -> UsageError:
    return UsageError(message, diagnostics)


def load_part(path: Path, trusted: Iterable[str] | None) -> Part:
    """A part (its report directory, its bundle or its ``scan-part.json``), after verifying its bundle against
    the ``trusted`` fingerprints (``None``: the trust store ``$XZGOV_TRUSTED_KEYS``); exit 2 otherwise."""
    if not path.exists():
        raise _refuse(f"{path}: no such file or directory", [Diagnostic(
            str(path), 0, 0, "PARTS", "not found",
            "give the --out directory of `xzgov scan --shard K/N --key KEY` (check the path)", "unreadable")])
    if path.is_dir():
        signed, part = path / BUNDLE_NAME, path / PART_NAME
    elif path.name == PART_NAME:
        signed, part = path.parent / BUNDLE_NAME, path
    elif path.name == BUNDLE_NAME:
        signed, part = path, path.parent / PART_NAME
    else:
        fix = (f"give the directory ({path.parent}) rather than a file in it" if path.is_file() else
               "give the --out directory of `xzgov scan --shard K/N --key KEY`")
        raise _refuse(f"{path}: not a scan part", [Diagnostic(
            str(path), 0, 0, "PARTS", f"a part is a shard's report directory, its {BUNDLE_NAME} or its {PART_NAME}",
            fix, "usage")])
    for needed, what in ((part, "no scan part"), (signed, "no signed bundle")):
        if not needed.is_file():
            found = ("not a regular file (a directory or a special file)" if needed.exists() else
                     "a broken symbolic link" if needed.is_symlink() else "file not found")
            raise _refuse(f"{path}: {what} ({needed.name}: {found})", [Diagnostic(
                str(needed), 0, 0, "", f"{what}: {found}",
                "give the --out directory of `xzgov scan --shard K/N --key KEY`", "unreadable")])
    # the part is read once, by the verification: the file may be replaced after it
    check = bundle.verify_bundle(signed, trusted, keep=[PART_NAME])
    if check.added and check.signature_valid and check.key_trusted is not False and not (
            check.changed or check.missing):  # signed as it was: something was put beside it since
        shown = _listed(check.added, len(check.added), 10)
        raise _refuse(f"{path}: files the part's bundle does not sign are in its folder: {shown}", [Diagnostic(
            str(signed.parent), 0, 0, "PARTS", f"not part of the signed part: {shown}",
            "move them out of the part's folder (a merge reads a shard's --out folder as the shard wrote it; "
            "write a merge's --out elsewhere)", "added")])
    if not check.ok or PART_NAME not in check.files:
        reason = ("the scan part is not listed in its bundle" if check.ok else
                  "; ".join([*check.problems, *(f"{p}: changed" for p in check.changed),
                             *(f"{p}: missing" for p in check.missing), *(f"{p}: added" for p in check.added)])
                  or "signature verification failed")
        raise _refuse(f"{part}: the part's signature does not verify: {reason}", [
            *check.diagnostics(),
            Diagnostic(str(part), 0, 0, "signature", reason,
                       "merge only parts signed by a pinned key (--trusted-key); re-run the shard if it changed",
                       "signature")])
    return read_part(part, check.content(PART_NAME), check.signer_fingerprint)


def read_part(part: Path, content: bytes, signer: str = "") -> Part:
    """The part ``content`` (``scan-part.json`` at ``part``, its bundle verified by :func:`load_part`), after
    checking that it is a part as a shard writes one: JSON, this release's format and version, and
    :func:`part_problems` (the schema and the indices between its tables); exit 2 naming the file and the
    field otherwise. What it accepts decodes and renders as a shard's scan does."""
    try:
        data = json.loads(content, parse_constant=_not_a_number)
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested past Python's stack
        raise _refuse(f"{part}: not JSON: {error}", [Diagnostic(str(part), 1, 1, "", str(error),
                                                                "re-run the shard", "unreadable")]) from error
    if isinstance(data, dict) and data.get("format") == PART_FORMAT and data.get("version") != PART_VERSION:
        raise _refuse(f"{part}: a scan part of another xzgov release (part version {data.get('version')!r})", [
            Diagnostic(str(part), 1, 1, "version", f"part version {data.get('version')!r}, this release reads "
                       f"{PART_VERSION}", "re-run every shard with this release, then merge", "format")])
    if not isinstance(data, dict) or data.get("format") != PART_FORMAT:
        raise _refuse(f"{part}: not an xzgov scan part (version {PART_VERSION})", [Diagnostic(
            str(part), 1, 1, "format", f"expected format {PART_FORMAT!r} version {PART_VERSION}",
            "give the --out directory of `xzgov scan --shard K/N`", "format")])
    problems = part_problems(data)
    if problems:
        where, message = problems[0]
        raise _refuse(f"{part}: not a scan part as xzgov writes one: {where}: {message}", [
            Diagnostic(str(part), 1, 0, path, problem,
                       "the part does not hold what `xzgov scan --shard K/N` writes (a part edited, or written by "
                       "another program, and signed): re-run the shard, then merge", "schema")
            for path, problem in problems])
    other = _other_release(data)
    if other:
        raise _refuse(f"{part}: a scan part of another xzgov release", [
            Diagnostic(str(part), 1, 0, path, problem, "re-run every shard with the release the merge runs (the "
                       "same image digest; from checkouts, the same commit with no other .py/.json/.yaml file under "
                       "xzgov/, compliance/, policies/, stacks/), then merge: the merge renders the parts with its "
                       "own code", "release")
            for path, problem in other])
    return Part(part, data, signer)


def _other_release(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """How a well-formed part's release differs from this one's (empty when it does not)."""
    problems: list[tuple[str, str]] = []
    release = data["release"]
    if release["code"] != release_code():
        problems.append(("release.code", f"xzgov {release['version']}, code SM3 {release['code'][:16]}…; this "
                                         f"release: xzgov {__version__}, code SM3 {release_code()[:16]}…"))
    if data["rules_version"] != release_rules_version():  # the reports are rendered with this release's rules
        problems.append(("rules_version", f"the rules of another xzgov release ({data['rules_version'][:16]}…; "
                                          f"this release's are {release_rules_version()[:16]}…)"))
    return problems


def _not_a_number(token: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (Python's reader takes them): a part holding one is refused."""
    raise ValueError(f"{token} is not a JSON number")


def _decode_reports(part: Part) -> list[SystemReport]:
    data = part.data
    statics: list[Mapping[str, Any]] = data["statics"]
    outcomes: list[dict[str, Any]] = data["outcomes"]
    cards = [ScoreCard.from_json(card) for card in data["cards"]]
    shared: dict[int, ItemOutcome] = {}
    templates: dict[int, ItemOutcome] = {}
    reports: list[SystemReport] = []
    started = str(data["started"])
    for entry in data["reports"]:
        for finding in entry["findings"]:
            for stamped in finding["evidence"]:
                stamped.setdefault("at", started)
        findings = [Finding.from_json(f) for f in entry["findings"]]
        owned = [finding.result.evidence for finding in findings]
        items: list[ItemOutcome] = []
        for index in entry["items"]:
            item = shared.get(index)
            if item is None:
                raw = outcomes[index]
                if raw.get("refs"):  # the same outcome as another system's, with this system's evidence
                    template = templates.get(index)
                    if template is None:
                        full = {**_DEFAULTS, **statics[raw["s"]], "underlying": raw["state"], **raw}
                        template = templates[index] = ItemOutcome.from_json(full, ())
                    item = object.__new__(ItemOutcome)
                    item.__dict__.update(template.__dict__)
                    item.evidence = tuple(owned[fi][ei] for fi, ei in raw["evidence"])
                else:
                    full = {**_DEFAULTS, **statics[raw["s"]], "underlying": raw["state"], **raw}
                    item = shared[index] = ItemOutcome.from_json(full)
            items.append(item)
        dengbao, miping = entry["dengbao"], entry["miping"]
        reports.append(SystemReport(
            str(entry["name"]), str(entry["title"]), str(entry["department"]), str(entry["department_name"]),
            str(entry["tier"]), int(entry["level"]), int(entry["crypto_level"]), str(entry["source"]), items,
            findings, cards[dengbao] if dengbao is not None else None, cards[miping] if miping is not None else None,
            {str(k): str(v) for k, v in entry["hosts"].items()},
            tuple(str(case) for case in entry.get("cases_not_applying", ()))))
    return reports


# --------------------------------------------------------------------------------------------- merging


#: What every part must agree on: (field path, what it is, how to fix a mismatch).
_SAME: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("register", "digest"), "the register (region.yaml and manifests)",
     "scan every shard from the same register (one commit); parts of another register do not merge"),
    (("register", "systems"), "the register's systems",
     "scan every shard from the same register (one commit); parts of another register do not merge"),
    (("catalogue_version",), "the catalogue version", "scan every shard with the same standards/ catalogue"),
    (("rules_version",), "the rules version", "scan every shard with the same xzgov release (image digest)"),
    (("inputs", "standards"), "the catalogue and scoring files (standards/)",
     "scan every shard with the same standards/ directory (the register's <root>/standards, else "
     "$XZGOV_STANDARDS_DIR or the installed catalogue)"),
    (("inputs", "waivers"), "the waivers (compliance/waivers/)",
     "scan every shard from one checkout: the same waiver files"),
    (("inputs", "attestations"), "the attestations (compliance/attestations/)",
     "scan every shard from one checkout: the same signed attestation sets (or none in every shard)"),
    (("inputs", "config"), "the thresholds (compliance/config.yaml)",
     "scan every shard from one checkout: the same compliance/config.yaml"),
    (("inputs", "inventory"), "the inventory of the live scan",
     "scan every shard with the same --inventory"),
    (("inputs", "connection"), "the live scan's connection options (--ssh-user, --ssh-key, --host-timeout)",
     "scan every shard of a live scan with the same --ssh-user, --ssh-key and --host-timeout"),
    # the case table a standards/ copy without one falls back to is the installed one: not in inputs.standards
    (("figure_tables",), "the scoring credits and 2025 high-risk case table the figures are computed with",
     "scan every shard with the same standards/ directory and the same xzgov release (image digest)"),
    (("fail_on",), "--fail-on", "scan every shard with the same --fail-on"),
    (("modes",), "the scan modes (--plan / --live)", "scan every shard with the same --plan / --live"),
    (("shard", "count"), "the number of shards N", "merge the N parts of one --shard K/N run"),
    (("shard", "by"), "how the register was cut (--shard-by)", "merge parts cut the same way"),
)


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def in_shard_order(parts: Sequence[Part]) -> list[Part]:
    """``parts`` by shard index (then path): a merge reads the shared fields from the first shard's part, so
    its result does not depend on the order the parts are given in."""
    def index(part: Part) -> int:
        value = _get(part.data, ("shard", "index"))
        return value if isinstance(value, int) else 0
    return sorted(parts, key=lambda part: (index(part), str(part.path)))


def check_parts(parts: Sequence[Part]) -> list[Diagnostic]:
    """Everything that keeps ``parts`` from being one scan of one register (empty when they merge)."""
    parts = in_shard_order(parts)
    problems: list[Diagnostic] = []
    first = parts[0]
    for path, what, fix in _SAME:
        # the value most parts hold is the reference (the first in shard order on a tie): the part that differs
        # is named, not every part that agrees with each other against it
        values = [_get(part.data, path) for part in parts]
        keys = [json.dumps(value, sort_keys=True, default=str) for value in values]
        # counted once (not keys.count per part: quadratic in parts, each key a register's system list)
        first_at: dict[str, int] = {}
        for position, key in enumerate(keys):
            first_at.setdefault(key, position)
        counts = Counter(keys)
        common = max(first_at, key=lambda key: (counts[key], -first_at[key]))
        holder = parts[first_at[common]]
        reference = values[first_at[common]]
        for part, value, key in zip(parts, values, keys, strict=True):
            if key != common:
                problems.append(Diagnostic(
                    part.where, 1, 0, ".".join(path),
                    f"{what} differs: {_shown(value)} here, {_shown(reference)} in {holder.where}", fix, "mismatch"))
    problems += _mixed_days(parts)
    if problems:
        return problems
    count = int(first.data["shard"]["count"])
    seen: dict[int, Part] = {}
    repeated: set[int] = set()  # id() of parts whose shard came earlier: their systems are not listed again
    for part in parts:
        index = int(part.data["shard"]["index"])
        if index in seen:
            earlier = seen[index]
            twice = part.path.resolve() == earlier.path.resolve()
            problems.append(Diagnostic(part.where, 1, 0, "shard.index",
                                       f"shard {index}/{count} is given twice" if twice else
                                       f"overlap: shard {index}/{count} is also {earlier.where}",
                                       "give each shard's part once", "overlap"))
            repeated.add(id(part))
            continue
        seen[index] = part
    missing = [index for index in range(1, count + 1) if index not in seen]
    if missing:
        problems.append(Diagnostic("<parts>", 0, 0, "shard.index",
                                   f"gap: shard(s) {_ranges(missing, f'/{count}')} not given",
                                   "run the missing shard(s) (xzgov scan --shard K/N) and merge every part",
                                   "gap"))
    register: list[str] = list(first.data["register"]["systems"])
    known = set(register)
    judged: dict[str, Part] = {}
    for part in parts:
        if id(part) in repeated:
            continue
        for position, name in enumerate(part.data["systems"]):
            if name not in known:
                problems.append(Diagnostic(part.where, 1, 0, f"systems[{position}]",
                                           f"{name} is not a system of the register the part names",
                                           "re-run the shard from an unmodified register", "unknown"))
            elif name in judged:
                problems.append(Diagnostic(part.where, 1, 0, f"systems[{position}]",
                                           f"overlap: {name} is also judged by {judged[name].where}",
                                           "merge parts of one --shard K/N run (each system in one shard)",
                                           "overlap"))
            else:
                judged[name] = part
    absent = [name for name in register if name not in judged]
    if absent and not missing:
        shown = _listed(absent, len(absent))
        problems.append(Diagnostic("<parts>", 0, 0, "systems", f"gap: no part judged {shown}",
                                   "merge every shard's part of one --shard K/N run", "gap"))
    return problems


def _ranges(numbers: Sequence[int], suffix: str = "", shown: int = 20) -> str:
    """Ascending ``numbers`` as runs, each followed by ``suffix`` (``2–5/9, 7/9``), at most ``shown`` runs: a
    gap in 10,000 shards is one short line."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return _listed([f"{low}–{high}{suffix}" if high > low else f"{low}{suffix}" for low, high in runs],
                   len(numbers), shown)


def _listed(names: Sequence[str], total: int, shown: int = 20) -> str:
    """The first ``shown`` of ``names``, and how many there are in all (``total``) when some are left out."""
    return ", ".join(names[:shown]) + (f" … ({total:,} in all)" if len(names) > shown else "")


def _mixed_days(parts: Sequence[Part]) -> list[Diagnostic]:
    """Parts judged on different as-of days (``--as-of`` / ``$XZGOV_AS_OF``, else the day each shard ran)
    give verdicts of different days: each part off the first part's day is named with its day and the
    others'. A merged report states one as-of day, so no day is picked for them."""
    days: dict[str, list[str]] = {}
    for part in parts:
        days.setdefault(str(part.data.get("as_of") or "?"), []).append(part.where)
    if len(days) < 2:
        return []
    reference = str(parts[0].data.get("as_of") or "?")
    problems = []
    for part in parts:
        day = str(part.data.get("as_of") or "?")
        if day == reference:
            continue
        others = "; ".join(f"{other} in {', '.join(where)}" for other, where in days.items() if other != day)
        problems.append(Diagnostic(
            part.where, 1, 0, "as_of", f"the as-of day differs: {day} here, {others} (评估基准日不一致)",
            f"scan every shard with the same --as-of (e.g. --as-of {reference}); without it each shard judges the "
            "day it runs, and dates of waivers, attestations and records would be judged on different days",
            "mismatch"))
    return problems


#: How far a part's finishing time may be ahead of the merging machine's clock (NTP-synchronised nodes).
CLOCK_SKEW = dt.timedelta(minutes=5)


def stale_parts(parts: Sequence[Part], max_age: dt.timedelta, now: dt.datetime) -> list[Diagnostic]:
    """Parts that finished more than ``max_age`` before ``now`` (``xzgov scan merge --max-age``): a scheduled
    merge given the parts a failed or late night left from the night before would otherwise sign them
    again as if new. Each is named with its age; a part that finished ahead of ``now`` (beyond
    :data:`CLOCK_SKEW`) is refused too, or it would never grow stale."""
    problems = []
    for part in parts:
        finished = str(part.data.get("finished", ""))
        try:
            at = dt.datetime.fromisoformat(finished.replace("Z", "+00:00"))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            problems.append(Diagnostic(part.where, 1, 0, "finished", f"no time the shard finished: {finished!r}",
                                       "re-run the shard", "format"))
            continue
        age = now - at
        if age < -CLOCK_SKEW:  # never stale by age: a clock ahead would let this part pass every later night
            problems.append(Diagnostic(
                part.where, 1, 0, "finished", f"from the future: the shard finished {finished}, "
                f"{_duration(-age)} after this machine's time (分片完成时间晚于当前时间)",
                "check the clocks of the scan's nodes and of this machine (NTP), re-run the shards, then merge",
                "stale"))
        elif age > max_age:
            problems.append(Diagnostic(
                part.where, 1, 0, "finished", f"stale: the shard finished {finished}, {_duration(age)} ago, more "
                f"than --max-age {_duration(max_age)} (分片结果过期: 本次扫描未生成该分片)",
                "this run's shard did not write its part (see the scan Job's pods); re-run the shards, then merge",
                "stale"))
    return problems


def parse_duration(text: str, source: str = "--max-age") -> dt.timedelta:
    """``90m``, ``6h``, ``6h15m``, ``1d`` → a duration (exit 2 on anything else)."""
    match = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?", text.strip())
    shown = repr(_shown(text))
    if not text.strip() or match is None:
        raise UsageError(f"{source} {shown} is not a duration", [Diagnostic(
            "<command line>", 0, 0, source, f"not a duration: {shown}", "write e.g. 90m, 6h, 6h15m or 1d",
            "usage")])
    try:  # int() refuses more than 4,300 digits (ValueError), timedelta more than 999,999,999 days
        days, hours, minutes = (int(group or 0) for group in match.groups())
        return dt.timedelta(days=days, hours=hours, minutes=minutes)
    except (OverflowError, ValueError):
        raise UsageError(f"{source} {shown} is too long", [Diagnostic(
            "<command line>", 0, 0, source, f"beyond any date: {shown}", "write e.g. 6h or 30d", "usage")]) from None


def _duration(value: dt.timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:16] + "…"


def merge_register(parts: Sequence[Part], root: Path | None) -> tuple[m.Register, str]:
    """The register the parts scanned (from ``root``, else the first part's recorded root) and the root as
    the report names it: the parts' recorded one, whatever checkout ``root`` is — the results are the parts',
    judged with the waivers and attestations the shards read there (a ``--root`` naming another checkout
    made the report name inputs it was not judged with). Exit 2 when the register cannot be read or is not
    the one the parts name. Check the parts against each other first (:func:`require_one_scan`): a register
    edited between two shards is the parts' problem, not ``--root``'s."""
    first = in_shard_order(parts)[0]
    recorded = str(first.data["register"]["root"])
    where = root if root is not None else Path(recorded)
    try:
        with recording() as read:  # the digest of the bytes loaded, not of the files as they are after
            register = load_register(where)
    except XzgovError as error:
        raise _refuse(f"cannot read the register at {where}: {error.message}", [*error.diagnostics, Diagnostic(
            str(where), 0, 0, "--root", "the register the parts scanned is needed for the KPI page",
            "pass --root with a checkout of the register the shards scanned", "register")]) from None
    digest = register_digest(register, read)
    if digest != first.data["register"]["digest"]:
        raise _refuse(f"the register at {where} is not the one the parts scanned", [Diagnostic(
            str(where), 0, 0, "--root", f"register digest {digest[:16]}…, the parts name "
            f"{str(first.data['register']['digest'])[:16]}… ({first.where})",
            "pass --root with the register (commit) the shards scanned", "mismatch")])
    if list(register.systems) != list(first.data["register"]["systems"]):  # the digest names them: a forged list
        raise _refuse(f"{first.where}: the systems the part lists are not those of the register at {where}", [
            Diagnostic(first.where, 1, 0, "register.systems", "not the systems of the register, in its order",
                       "re-run the shards from the register they name, then merge", "mismatch")])
    return register, recorded


@dataclass(frozen=True)
class OneScan:
    """Parts :func:`require_one_scan` found to make one scan of one register, in shard order."""

    parts: tuple[Part, ...]


def require_one_scan(parts: Sequence[Part]) -> OneScan:
    """The parts as one scan; exit 2 when there are none, or naming every problem :func:`check_parts` finds."""
    if not parts:
        raise _refuse("no parts to merge", [Diagnostic("<command line>", 0, 0, "PARTS", "no part given",
                                                       "give the --out directory of every shard", "usage")])
    problems = check_parts(parts)
    if problems:
        raise _refuse(f"the {len(parts)} part(s) do not make one scan of one register", problems)
    return OneScan(tuple(in_shard_order(parts)))


def _misstated(part: Part, report: SystemReport, register: m.Register) -> list[Diagnostic]:
    """Where a part's system differs from the register's in what its verdict depends on (department, tier,
    等保 and 密评 levels, title): a part signed by a trusted key but built otherwise (edited, or by another
    release) would put a level-2 card on a level-3 system."""
    system = register.systems.get(report.name)
    if system is None:  # check_parts named it
        return []
    said = {"department": report.department, "tier": report.tier, "level": report.level,
            "crypto_level": report.crypto_level, "title": report.title}
    known = {"department": system.department, "tier": system.tier, "level": system.level,
             "crypto_level": system.crypto_level, "title": system.title}
    return [Diagnostic(part.where, 1, 0, f"systems.{report.name}.{key}",
                       f"{report.name}: {key} {said[key]!r} in the part, {known[key]!r} in the register",
                       "re-run the shard from the register it names, with this release, then merge", "mismatch")
            for key in said if said[key] != known[key]]


def merge_parts(scan: OneScan | Sequence[Part], register: m.Register | None = None,
                register_root: str | None = None, kpi_since: Mapping[str, Any] | None = None) -> ScanResult:
    """One scan result from verified parts (:func:`load_part`); exit 2 when they do not make one scan (parts
    given as a :class:`OneScan` were checked already)."""
    parts = (scan if isinstance(scan, OneScan) else require_one_scan(scan)).parts
    first = parts[0].data
    by_name: dict[str, SystemReport] = {}
    misstated: list[Diagnostic] = []
    for part in parts:
        for report in _decode_reports(part):
            by_name[report.name] = report
            if register is not None:
                misstated += _misstated(part, report, register)
    if misstated:
        raise _refuse("the parts describe systems otherwise than the register does", misstated)
    systems = [by_name[name] for name in first["register"]["systems"]]
    warnings: dict[str, None] = {}
    for part in parts:
        warnings.update(dict.fromkeys(part.data["warnings"]))
    per_system = {name: list(said) for part in parts for name, said in part.data["system_warnings"].items()}
    warnings.update(dict.fromkeys(said for name in first["register"]["systems"] for said in per_system.get(name, ())))
    unused = {waiver: text for waiver, text in first["unused_waivers"].items()
              if all(waiver in part.data["unused_waivers"] for part in parts)}
    result = ScanResult.from_json({
        "modes": first["modes"], "started": min(str(p.data["started"]) for p in parts),
        "finished": max(str(p.data["finished"]) for p in parts),
        "register_root": register_root if register_root is not None else first["register"]["root"],
        "rules": first["rules"], "warnings": [*warnings, *unused.values()],
        "catalogue_version": first["catalogue_version"], "fail_on": first["fail_on"],
        "as_of": str(first.get("as_of", "")),  # one day: check_parts refuses mixed days
    }, systems)
    result.unused_waivers = unused
    result.figure_tables = FigureTables.from_json(first["figure_tables"])
    result.kpi_since = kpi_since
    result.register = register
    return result

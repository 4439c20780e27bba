"""Machine formats of a scan: JSON (own schema), SARIF 2.1.0, JUnit XML, OSCAL assessment-results, Markdown.

Every function is pure: ``ScanResult`` (or its JSON) in, text/data out. The HTML report is in
:mod:`compliance.reports.html`.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from compliance.reports.figures import (
    MARKDOWN_FIGURES_HEAD,
    ReportFigures,
    figure_tables,
    figure_text,
    figures_markdown_row,
    system_figures,
)
from compliance.reports.texts import Texts, default_note, shared_texts, text
from compliance.results import (
    ATTESTED_SEVERITY,
    NOTE_INHERITED,
    NOTE_MANUAL,
    SCORE_STATUS,
    FigureTables,
    Finding,
    ItemOutcome,
    ItemState,
    ScanResult,
    ScoreCard,
    SystemReport,
    attested_gating,
    pair_text,
    verdict_text,
)
from policies.engine import Evidence, Severity, Status
from policies.registry import RULES_BY_ID
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.text import printable_text, visible_text

TOOL = "xzgov"
TOOL_VERSION = "0.1.0"
_NAMESPACE = uuid.UUID("5f1c3a52-6d7e-4c1b-9a55-8e0f3c2b7a10")  # xzgov compliance namespace for uuid5
_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
_FILE_LINE = re.compile(r"^(?P<file>[^\s:][^:]*\.(?:ya?ml|json)):(?P<line>\d+)$")
#: a register file as a whole: a relative path (no leading ``/`` or space, no ``..`` segment, no ``:``), spaces and
#: ``#`` or a line break allowed (quoted in the URI): ``systems/czt/a b/e-invoice.yaml`` lost its physical location
_FILE = re.compile(r"^(?![\s/])(?!(?:.*/)?\.\.(?:/|$))[^:]*\.(?:ya?ml|json)\Z", re.DOTALL)


REPORT_FORMAT = "xzgov-compliance-report"
REPORT_VERSION = 9
#: One character per item state in a system's ``states`` string (also given in the report's catalogue).
STATE_CODES: Mapping[ItemState, str] = {
    ItemState.PASS: "p", ItemState.FAIL: "f", ItemState.PARTIAL: "a", ItemState.NOT_APPLICABLE: "n",
    ItemState.MANUAL_PENDING: "m", ItemState.INHERITED: "i", ItemState.WAIVED: "w", ItemState.ERROR: "e",
}
_STATE_OF_CODE = {code: state for state, code in STATE_CODES.items()}
_STATE_NAMES = frozenset(str(state) for state in ItemState)
#: One character per rule-result status in a finding (version 5; also given in ``catalogue.rule_statuses``).
RULE_STATUS_CODES: Mapping[str, str] = {"pass": "p", "fail": "f", "partial": "a", "not-applicable": "n",
                                        "error": "e"}
_RULE_STATUS_OF_CODE = {code: status for status, code in RULE_STATUS_CODES.items()}


def report_json(result: ScanResult) -> dict[str, Any]:
    """The JSON report (schema: ``compliance/reports/schemas/report.schema.json``, version 9).

    Static text is written once: the ``catalogue`` section holds every item's title and attributes (title,
    check type, responsibility and category by index in ``catalogue.values``), the state labels and the
    notes of unchecked items, and the ordered item sets (one per 等保 / 密评 level pair); ``rules`` holds
    the titles and remediations of the rules the scan's findings and items name; an attestation's or
    inherited item's note is ``[head, rest]`` (the shared head once, in ``texts``); ``score_cards`` holds
    each distinct score card.
    A system names its item set, gives every item's state as one character per item in that order
    (``states``; codes in ``catalogue.states``), and ``details`` for the items with more to say (rules,
    the findings carrying their evidence — by index, as ``[index, count]`` when the item keeps only the
    first ``count`` pieces of that finding's evidence (version 8), or as ``[index, [position, ...]]`` when it
    keeps the pieces the rule gave for it (version 9) —, notes, waivers, attestations, high risk).
    Item details are written once per report in ``details`` (inherited items of many systems share one)
    and a system's ``details`` maps an item id to its index there; the static text of the 2025 major-risk
    cases (title, scope, conditions) is in ``catalogue.major_risks``, a system's ``figures`` keep only
    each case's unit, item, status and whether it is triggered.
    :func:`expand_items` gives the items back as one record each.
    """
    header, systems = _report_parts(result)
    return {**header, "systems": systems}


def report_lines(result: ScanResult) -> str:
    """JSON lines for pipelines: the header (the report without ``systems``, with ``"lines": true``)
    on the first line, then one line per system (as in ``systems`` of the JSON report)."""
    header, systems = _report_parts(result)
    out = [_compact({**header, "lines": True})]
    out += [_compact(system) for system in systems]
    return "\n".join(out) + "\n"


def parse_lines(text: str) -> dict[str, Any]:
    """The JSON report of :func:`report_lines` output (header plus the systems of every later line).

    Raises :class:`ValueError` naming the line (``line 3: …``) when a line is not JSON, the header is not an
    object marked ``"lines": true`` or holds the systems itself (a JSON report written on one line), a system's
    line is not an object or the lines are not as many as the header's summary counts, and when there is no line
    at all (:class:`RecursionError` for a line nested too deeply)."""
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not numbered:  # not splitlines() above: U+2028 is no record end
        raise ValueError("no header line: the file is empty")
    parsed = []
    for number, line in numbered:
        try:
            parsed.append(json.loads(line))
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from error
    header = parsed[0]
    if not isinstance(header, dict):
        raise ValueError(f"line {numbered[0][0]}: the header is not a JSON object")
    if header.pop("lines", None) is not True or "systems" in header:
        raise ValueError(f'line {numbered[0][0]}: not a JSON-lines report header (no "lines": true, or the systems '
                         "are in it: a JSON report, whose name should end in .json)")
    for (number, _), system in zip(numbered[1:], parsed[1:], strict=True):
        if not isinstance(system, dict):
            raise ValueError(f"line {number}: a system's line is not a JSON object")
    summary = header.get("summary")
    counted = summary.get("systems") if isinstance(summary, dict) else None
    if isinstance(counted, int) and counted != len(parsed) - 1:  # lines lost (a `head`, a cut transfer)
        raise ValueError(f"line {numbered[-1][0]}: the header counts {counted} systems, {len(parsed) - 1} lines "
                         "follow it (the file is cut short or lines were added)")
    return {**header, "systems": parsed[1:]}


#: Characters that end a line for some readers (str.splitlines, JavaScript, some line-oriented tools) and
#: that json.dumps leaves raw (it escapes every control character below U+0020 itself): escaped, so that
#: a JSON-lines record is exactly one line for every reader.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_LINE_BREAKS)


def _report_parts(result: ScanResult) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    items: dict[str, list[Any]] = {}
    item_sets: dict[str, list[str]] = {}
    cards: dict[int, str] = {}  # id(card) -> its key; cards are shared objects (memoised by the scan)
    card_json: dict[str, dict[str, Any]] = {}
    card_keys: dict[str, str] = {}  # canonical JSON -> key, for equal cards that are distinct objects
    systems: list[dict[str, Any]] = []
    detail_index: dict[str, int] = {}  # canonical JSON of a detail -> its index in ``details``
    risks: dict[str, dict[str, str]] = {}
    risk_sets: dict[str, list[list[str]]] = {}
    risk_keys: dict[str, str] = {}
    texts = Texts(shared_texts(result, pages=False))
    rules = report_rules(result)
    values: dict[str, dict[str, int]] = {field: {} for field in CODED_ITEM_FIELDS}  # value -> index, per field
    rule_index = {str(rule.get("id")): index for index, rule in enumerate(rules)}

    def card_ref(card: ScoreCard | None, prefix: str) -> str | None:
        if card is None:
            return None
        key = cards.get(id(card))
        if key is None:
            data = card.to_json()
            data["steps"] = [[texts.ref(label), texts.ref(formula), texts.ref(value)]
                             for label, formula, value in card.steps]
            canonical = _compact(data)
            key = card_keys.get(canonical)
            if key is None:
                key = card_keys[canonical] = f"{prefix}{len(card_keys) + 1}"
                card_json[key] = data
            cards[id(card)] = key
        return key

    set_keys = item_set_keys(result, item_sets)
    tables = figure_tables(result)
    for system, set_key in zip(result.systems, set_keys, strict=True):
        findings_of: dict[str, list[int]] = {}
        for index, finding in enumerate(system.findings):
            findings_of.setdefault(finding.result.rule_id, []).append(index)
        details: list[int] = []
        for item in system.items:
            entry = items.get(item.item_id)
            if entry is None:
                entry = items[item.item_id] = _catalogue_entry(item, values)
            if item.strength:
                if len(entry) < len(FIELDS["item"]):
                    entry.append({})
                entry[-1][str(system.crypto_level)] = item.strength
            detail = _item_detail(item, system.findings, findings_of, result.started, texts)
            details.append(-1 if detail is None else detail_index.setdefault(_compact(detail), len(detail_index)))
        systems.append({
            "name": system.name, "title": system.title, "department": system.department,
            "department_name": system.department_name, "tier": system.tier, "level": system.level,
            "crypto_level": system.crypto_level, "source": system.source, "counts": system.counts(),
            "dengbao": card_ref(system.dengbao, "D"), "miping": card_ref(system.miping, "M"),
            "hosts": dict(system.hosts), "item_set": set_key,
            "states": "".join(STATE_CODES[item.state] for item in system.items),
            "details": details if any(ref >= 0 for ref in details) else [],
            "findings": [_finding_json(f, result.started, system.source, texts, rules, rule_index)
                         for f in system.findings],
            "figures": _figures_json(system, tables, risks, risk_sets, risk_keys),
        })
    header = {
        "format": REPORT_FORMAT, "version": REPORT_VERSION, "modes": list(result.modes), "started": result.started,
        "finished": result.finished, "as_of": result.as_of, "register_root": result.register_root,
        "catalogue_version": result.catalogue_version, "fail_on": str(result.fail_on),
        "warnings": list(result.warnings), "rules": rules,
        **({"scope": {"systems": scope[0], "registered": scope[1]}} if (scope := result.partial_scope()) else {}),
        "catalogue": {
            "states": {str(state): {"code": STATE_CODES[state], "label": state.label,
                                    "score_status": SCORE_STATUS[state]} for state in ItemState},
            "notes": {str(ItemState.MANUAL_PENDING): NOTE_MANUAL, str(ItemState.INHERITED): NOTE_INHERITED},
            "items": items, "item_sets": _positions(items, item_sets), "major_risks": risks, "risk_sets": risk_sets,
            "risk_codes": RISK_CODES, "rule_statuses": RULE_STATUS_CODES, "fields": FIELDS,
            "values": {field: list(coded) for field, coded in values.items()},
        },
        "texts": texts.table,
        "details": [json.loads(text) for text in detail_index],
        "score_cards": card_json,
        "summary": {"departments": result.summary("department"), "tiers": result.summary("tier"),
                    "systems": len(result.systems), "blocking_findings": result.blocking_count()},
    }
    return header, systems


#: Rule fields the JSON report leaves out (version 6): ``description`` restates ``title_en`` (it is in the
#: SARIF rules and ``xzgov rules``).
RULE_FIELDS_LEFT_OUT = frozenset({"description"})


def report_rules(result: ScanResult) -> list[dict[str, Any]]:
    """The rules the JSON report lists (version 6): those a finding or an item of the scan names (a static
    scan does not run the live rules), in the scan's order, without :data:`RULE_FIELDS_LEFT_OUT`."""
    used = {f.result.rule_id for system in result.systems for f in system.findings}
    used.update(rule for system in result.systems for item in system.items for rule in item.rules)
    return [{key: value for key, value in rule.items() if key not in RULE_FIELDS_LEFT_OUT}
            for rule in result.rules if str(rule.get("id")) in used]


def _positions(items: Mapping[str, Any], item_sets: Mapping[str, list[str]]) -> dict[str, list[int]]:
    """Each item set as the positions of its items in ``catalogue.items`` (in the set's order)."""
    position = {item_id: index for index, item_id in enumerate(items)}
    return {key: [position[item_id] for item_id in ids] for key, ids in item_sets.items()}


def item_set_keys(result: ScanResult, item_sets: dict[str, list[str]] | None = None) -> list[str]:
    """Each system's item set key (``L3-C3``: the ordered item ids its level pair gives; a suffix when two
    systems of one pair have different sets), filling ``item_sets`` (key → item ids) when given."""
    sets = {} if item_sets is None else item_sets
    set_of: dict[tuple[str, ...], str] = {}
    keys: list[str] = []
    for system in result.systems:
        ids = tuple(item.item_id for item in system.items)
        set_key = set_of.get(ids)
        if set_key is None:
            set_key = f"L{system.level}-C{system.crypto_level}"
            if set_key in sets:
                set_key = f"{set_key}-{len(sets) + 1}"
            set_of[ids] = set_key
            sets[set_key] = list(ids)
        keys.append(set_key)
    return keys


_RISK_TEXT = ("title", "scope", "conditions")
#: The columns of the array-valued records of the JSON report (findings as of version 5), in ``catalogue.fields``.
FIELDS: Mapping[str, list[str]] = {
    "finding": ["rule", "status", "message", "evidence", "more"],
    "evidence": ["observed", "location", "at"],
    "step": ["label", "formula", "value"],
    "case": ["case", "unit", "item"],
    "category": ["category", "kind", "counts", "applicable", "rate_range"],
    "item": ["title", "check_type", "responsibility", "assessment_unit", "category", "strength"],
}


#: One character per major-risk case: its item's 等保 result and whether it triggered (``catalogue.risk_codes``).
RISK_CODES: Mapping[str, Mapping[str, str]] = {
    "status": {"符合": "p", "部分符合": "a", "不符合": "f", "不适用": "n", "未测": "u"},
    "triggered": {"是": "y", "否": "n", "待定": "u"},
}


def risk_set_key(figures: ReportFigures, risk_sets: dict[str, list[list[str]]], keys: dict[str, str]) -> str:
    """The key of a system's major-risk case list (``[case, unit, item]`` each, in ``risk_sets``; ``figures``:
    the system's): the cases at its level whose item is in its item set, the same list for every system of
    one item set."""
    cases = [[row.case, row.unit, row.item] for row in figures.triggers]
    canonical = _compact(cases)
    key = keys.get(canonical)
    if key is None:
        key = keys[canonical] = f"R{len(keys) + 1}"
        risk_sets[key] = cases
    return key


def _figures_json(system: SystemReport, tables: FigureTables, risks: dict[str, dict[str, str]],
                  risk_sets: dict[str, list[list[str]]], risk_keys: dict[str, str]) -> dict[str, Any]:
    """The system's report-template figures with each major-risk case's static text moved to ``risks``, its
    case list (case, unit, item) to ``risk_sets`` (named by ``major_risks.set``) and each case's result and
    trigger given as one character each (``results``, ``triggers``; codes in ``catalogue.risk_codes``); each
    category as an array (``catalogue.fields.category``: its counts in the order of the system's ``counts``;
    its rate is the range's when both ends agree)."""
    figures = system_figures(system, tables)
    data = figures.to_json()
    major = data["major_risks"]
    for case in major["cases"]:
        risks.setdefault(case["case"], {key: case[key] for key in _RISK_TEXT})
    data["major_risks"] = {
        "guide": major["guide"], "triggered": major["triggered"], "pending": major["pending"],
        "set": risk_set_key(figures, risk_sets, risk_keys),
        "results": "".join(RISK_CODES["status"][case["status"]] for case in major["cases"]),
        "triggers": "".join(RISK_CODES["triggered"][case["triggered"]] for case in major["cases"]),
    }
    statuses = list(data["counts"])  # 符合, 部分符合, 不符合, 不适用, 未测: the order of each category's counts
    data["categories"] = [[c["category"], c["kind"], [c["counts"][name] for name in statuses], c["applicable"],
                           c["rate_range"]] for c in data["categories"]]
    return data


#: Item attributes written (version 6) as the index of their value in ``catalogue.values[field]``: those
#: of a few values each, and the title (the items of the 等保 levels share their titles).
CODED_ITEM_FIELDS = ("title", "check_type", "responsibility", "category")


def _catalogue_entry(item: ItemOutcome, values: Mapping[str, dict[str, int]]) -> list[Any]:
    """``[title, check_type, responsibility, assessment_unit, category]`` (``catalogue.fields.item``; the
    standard is the id's part before ``:``; title, check type, responsibility and category as the index of
    their value in ``catalogue.values``, filling ``values``) and, when the item's strength depends on the 密评
    level, a sixth member: 密评 level → 宜 / 应 / 可."""
    title = item.title
    suffix = f" ({item.strength})"
    if item.strength and title.endswith(suffix):
        title = title[: -len(suffix)]

    def code(field: str, value: str) -> int:
        coded = values[field]
        return coded.setdefault(value, len(coded))

    return [code("title", title), code("check_type", item.check_type), code("responsibility", item.responsibility),
            item.assessment_unit, code("category", item.category)]


def _evidence_json(evidence: Evidence, started: str, source: str | None, texts: Texts) -> list[Any]:
    """``[observed, location, at]`` (``catalogue.fields.evidence``; strings by reference to ``texts``):
    ``at`` is left out when it is the scan's start, then ``location`` when it is the system's manifest."""
    data: list[Any] = [texts.ref(evidence.observed), texts.ref(evidence.location)]
    if evidence.at != started:  # most evidence is stamped with the scan's start: then "at" is left out
        data.append(evidence.at)
    elif evidence.location == source:
        data.pop()
    return data


def _finding_json(finding: Finding, started: str, source: str, texts: Texts, rules: Sequence[Mapping[str, Any]],
                  rule_index: Mapping[str, int]) -> list[Any]:
    """A rule result of a system (the system is the subject) as ``[rule, status, message, evidence]``
    (``catalogue.fields.finding``): the rule by its position in ``rules`` (its id when it is not there), the
    status as one character (``catalogue.rule_statuses``) and, when there is more, a fifth member: ``point``
    and ``severity`` (only when not the rule's first point and its severity), ``target`` (when not the
    system's manifest), ``controls`` (only the controls whose status differs from the result's; the rule's
    controls are in ``rules``), ``waiver``. :func:`expand_findings` writes every field out."""
    rr = finding.result
    index = rule_index.get(rr.rule_id)
    rule: Mapping[str, Any] = rules[index] if index is not None else {}
    data: list[Any] = [rr.rule_id if index is None else index, RULE_STATUS_CODES[str(rr.status)],
                       texts.ref(rr.message), [_evidence_json(e, started, source, texts) for e in rr.evidence]]
    more: dict[str, Any] = {}
    if str(rr.point) != (rule.get("points") or [None])[0]:
        more["point"] = str(rr.point)
    if str(rr.severity) != rule.get("severity"):
        more["severity"] = str(rr.severity)
    if rr.target != source:
        more["target"] = rr.target
    differing = {c: str(rr.status_of(c)) for c in rr.controls if rr.status_of(c) is not rr.status}
    if differing:
        more["controls"] = differing
    if finding.waiver is not None:
        more["waiver"] = finding.waiver
    if more:
        data.append(more)
    return data


# --------------------------------------------------------------------------------------------- reading

#: The oldest JSON report version this release reads (version 1 wrote every item out; ``xzgov diff``).
OLDEST_READABLE_VERSION = 1
#: Which pieces of a finding's evidence an item keeps: all (``None``), the first ``count``, or those at these
#: positions (version 9).
Kept = int | list[int] | None
#: What to do about a report that does not hold what its version says.
REPORT_HINT = ("use the report exactly as `xzgov scan --out` wrote and signed it (an edited or cut copy cannot "
               "be read), or scan again")
#: The keys an item detail may have (every version).
DETAIL_KEYS = frozenset({"score_status", "underlying", "findings", "evidence", "note", "high_risk", "severity",
                         "waiver", "attestation"})
#: A finding's members before version 4 (an object) and in version 4 (an array, then ``more``).
_FINDING_KEYS = ("rule", "point", "status", "severity", "message", "evidence")
_MISSING: Any = object()
_KINDS: Mapping[Any, str] = {str: "字符串 string", int: "整数 integer", list: "数组 array", Mapping: "对象 object",
                             bool: "布尔值 boolean"}


class ReportError(UsageError):
    """A JSON report that does not hold what its version says (exit 2): each problem is located by its field
    path (``systems[3].states``) and says which system; :meth:`located` names the file."""

    def __init__(self, problems: Sequence[tuple[str, str]], hint: str = REPORT_HINT,
                 source: str = "compliance-report.json") -> None:
        self.problems, self.hint, self.source = list(problems), hint, source
        field, problem = self.problems[0]
        more = f" (+{len(self.problems) - 1})" if len(self.problems) > 1 else ""
        super().__init__(f"{source}: 合规报告无法读取 / not a readable compliance report: {field}: {problem}{more}",
                         [Diagnostic(source, 0, 0, where, what, hint, "report") for where, what in self.problems])

    def located(self, source: str) -> ReportError:
        """The same problems, in the file ``source``."""
        return ReportError(self.problems, self.hint, source)


def _is(value: Any, kind: Any) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


class _Reader:
    """Checked reading of a JSON report (and of one of its systems): a missing member, a value of another
    type, an index outside its table raises :class:`ReportError` naming the system and the field."""

    def __init__(self, report: Any, system: Any = None) -> None:
        if not isinstance(report, Mapping):
            raise ReportError([("(root)", "不是 JSON 对象 / not a JSON object")])
        self.report, self.system = report, system
        if system is not None and not isinstance(system, Mapping):
            raise self.error("", "不是 JSON 对象 / not a JSON object")
        version = report.get("version", REPORT_VERSION)
        if not _is(version, int):
            raise self.error("version", f"{version!r} 不是整数 / not an integer", top=True)
        self.version: int = version
        self.table: list[Any] = self.get(report, "texts", list, "texts", top=True, default=[])

    def error(self, field: str, problem: str, *, top: bool = False) -> ReportError:
        """The error of ``field`` (of the system, or of the report when ``top``)."""
        system = self.system
        if system is None:
            return ReportError([(field, problem)])
        systems = self.report.get("systems")
        index = next((i for i, s in enumerate(systems) if s is system), None) if isinstance(systems, list) else None
        name = system.get("name") if isinstance(system, Mapping) else None
        named = f"系统 system {name!r}: " if isinstance(name, str) else ""
        if top:
            return ReportError([(field, f"{named}{problem}")])
        prefix = f"systems[{index if index is not None else '?'}]"
        return ReportError([(f"{prefix}.{field}" if field else prefix, f"{named}{problem}")])

    def value(self, value: Any, kind: Any, field: str, *, top: bool = False) -> Any:
        if not _is(value, kind):
            article = "an" if kind in (int, list, Mapping) else "a"
            raise self.error(field, f"应为{_KINDS[kind]}, 实为 {shown(value)} / not {article} "
                             f"{_KINDS[kind].split()[-1]}", top=top)
        return value

    def get(self, container: Mapping[str, Any], key: str, kind: Any, field: str, *, top: bool = False,
            default: Any = _MISSING) -> Any:
        if key not in container:
            if default is not _MISSING:
                return default
            raise self.error(field, "缺少 / missing", top=top)
        return self.value(container[key], kind, field, top=top)

    def own(self, key: str, kind: Any, default: Any = _MISSING) -> Any:
        """Member ``key`` of the system."""
        return self.get(self.system, key, kind, key, default=default)

    def text(self, value: Any, field: str, *, top: bool = False) -> str:
        """The string a field holds: itself, or by its index in ``texts``."""
        if isinstance(value, str):
            return value
        if _is(value, int):
            if 0 <= value < len(self.table) and isinstance(self.table[value], str):
                return str(self.table[value])
            raise self.error(field, f"texts 中没有下标 {value} 的字符串 / index {value} is not a string of texts "
                             f"({len(self.table)} strings)", top=top)
        raise self.error(field, f"应为字符串或 texts 下标, 实为 {shown(value)} / not a string or an index in texts",
                         top=top)

    def note(self, value: Any, field: str, *, top: bool = False) -> str:
        """A note: a text, or (version 6) ``[head, rest]`` joined."""
        if isinstance(value, list):
            return "".join(self.text(part, f"{field}[{index}]", top=top) for index, part in enumerate(value))
        return self.text(value, field, top=top)

    def evidence(self, entry: Any, source: str | None, started: str, field: str, *, top: bool = False
                 ) -> dict[str, Any]:
        """One piece of evidence as ``{observed, location, at}`` (``location`` defaults to ``source``, ``at`` to
        the report's ``started``)."""
        if isinstance(entry, Mapping):  # versions 2 and 3
            observed = self.get(entry, "observed", str, f"{field}.observed", top=top)
            location = entry.get("location", source)
            if location is not None:
                self.value(location, str, f"{field}.location", top=top)
            at = self.get(entry, "at", str, f"{field}.at", top=top, default=started)
            return {**entry, "observed": observed, "location": location, "at": at}
        if not isinstance(entry, list) or not 1 <= len(entry) <= 3:
            raise self.error(field, f"应为 [observed, location?, at?], 实为 {shown(entry)} / not an [observed, "
                             "location?, at?] array (catalogue.fields.evidence)", top=top)
        return {"observed": self.text(entry[0], f"{field}[0]", top=top),
                "location": self.text(entry[1], f"{field}[1]", top=top) if len(entry) > 1 else source,
                "at": self.value(entry[2], str, f"{field}[2]", top=top) if len(entry) > 2 else started}


def shown(value: Any) -> str:
    """A value for an error message about a report, cut to 60 characters (also :mod:`validate`)."""
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, int, float, bool, type(None))) else (
        "数组 array" if isinstance(value, list) else "对象 object" if isinstance(value, Mapping) else repr(value))
    return text if len(text) <= 60 else text[:57] + "…"


def expand_findings(report: Mapping[str, Any], system: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A system's findings of a JSON report (versions 2 to 9) as records with every field written out:
    ``rule``, ``point``, ``status``, ``severity``, ``message``, ``target``, ``controls``, ``waiver`` and
    ``evidence`` (``observed``, ``location``, ``at``), strings of ``texts`` put back. A finding that does not
    hold what the report's version says (a member missing or of another type, an index outside ``rules`` or
    ``texts``, an unknown status code) raises :class:`ReportError` naming the system and the field."""
    return _findings(_Reader(report, system))


def _findings(read: _Reader) -> list[dict[str, Any]]:
    source: str = read.own("source", str)
    started: str = read.get(read.report, "started", str, "started", top=True)
    rules: list[Any] = read.get(read.report, "rules", list, "rules", top=True, default=[])
    records = []
    for position, finding in enumerate(read.own("findings", list)):
        at = f"findings[{position}]"
        if isinstance(finding, Mapping):  # versions 2 and 3
            fields = dict(finding)
            for key in _FINDING_KEYS:
                read.get(fields, key, object, f"{at}.{key}")
        elif not isinstance(finding, list):
            raise read.error(at, f"应为数组, 实为 {shown(finding)} / not an array (catalogue.fields.finding)")
        elif read.version < 5:  # version 4: [rule, point, status, severity, message, evidence, more?]
            if not 6 <= len(finding) <= 7:
                raise read.error(at, f"有 {len(finding)} 项, 版本 4 的结果有 6 或 7 项 / {len(finding)} members: a "
                                 "version 4 finding has 6 or 7")
            fields = dict(zip(_FINDING_KEYS, finding[:6], strict=True))
            if len(finding) == 7:
                fields.update(read.value(finding[6], Mapping, f"{at}[6]"))
        else:  # version 5: [rule (position in rules), status code, message, evidence, more?]
            if not 4 <= len(finding) <= 5:
                raise read.error(at, f"有 {len(finding)} 项, 应为 4 或 5 项 [rule, status, message, evidence, more?] / "
                                 f"{len(finding)} members, not 4 or 5")
            rule_ref, code, message, evidence = finding[:4]
            rule = _rule(read, rules, rule_ref, f"{at}[0]")
            status = _RULE_STATUS_OF_CODE.get(code) if isinstance(code, str) else None
            if status is None:
                raise read.error(f"{at}[1]", f"未知的状态码 {shown(code)} / unknown status code (codes: "
                                 f"{', '.join(_RULE_STATUS_OF_CODE)}; catalogue.rule_statuses)")
            points = rule.get("points")
            fields = {"rule": rule["id"], "point": points[0] if isinstance(points, list) and points else None,
                      "status": status, "severity": rule.get("severity"), "message": message, "evidence": evidence}
            if len(finding) == 5:
                fields.update(read.value(finding[4], Mapping, f"{at}[4]"))
        if not isinstance(fields["status"], str) or fields["status"] not in RULE_STATUS_CODES:
            raise read.error(f"{at}.status", f"未知的状态 {shown(fields['status'])} / unknown status (one of "
                             f"{', '.join(RULE_STATUS_CODES)})")
        if fields["point"] is None:
            raise read.error(f"{at}.point", "没有检查点: 规则 (rules[].points) 与结果都未给出 / no check point: "
                             "neither the rule (rules[].points) nor the finding gives one")
        waiver = fields.get("waiver")
        records.append({
            **fields,
            "rule": read.value(fields["rule"], str, f"{at}.rule"),
            "point": read.value(fields["point"], str, f"{at}.point"),
            "severity": read.value(fields["severity"], str, f"{at}.severity"),
            "message": read.text(fields["message"], f"{at}.message"),
            "target": read.value(fields.get("target", source), str, f"{at}.target"),
            "controls": read.value(fields.get("controls", {}), Mapping, f"{at}.controls"),
            "waiver": waiver if waiver is None else read.value(waiver, str, f"{at}.waiver"),
            "evidence": [read.evidence(entry, source, started, f"{at}.evidence[{index}]")
                         for index, entry in enumerate(read.value(fields["evidence"], list, f"{at}.evidence"))],
        })
    return records


def _rule(read: _Reader, rules: Sequence[Any], ref: Any, field: str) -> Mapping[str, Any]:
    """The rule a finding names: by its position in ``rules``, or by its id when ``rules`` does not list it."""
    if isinstance(ref, str):
        return {"id": ref}
    if not _is(ref, int) or not 0 <= ref < len(rules):
        raise read.error(field, f"规则 {shown(ref)} 不在 rules 中 (共 {len(rules)} 条) / rule {shown(ref)} is not a "
                         f"position in rules ({len(rules)} rules) nor a rule id")
    rule: Mapping[str, Any] = read.value(rules[ref], Mapping, f"rules[{ref}]", top=True)
    read.get(rule, "id", str, f"rules[{ref}].id", top=True)
    return rule


def expand_figures(report: Mapping[str, Any], system: Mapping[str, Any]) -> dict[str, Any]:
    """A system's figures with each category and each major-risk case as a record (``case``, ``unit``,
    ``item``, ``status``, ``triggered`` and the case's ``title``, ``scope``, ``conditions`` from
    ``catalogue.major_risks``)."""
    figures = dict(system["figures"])
    risks = report["catalogue"].get("major_risks", {})
    major = dict(figures["major_risks"])
    if "set" in major:  # version 4
        status = {code: name for name, code in RISK_CODES["status"].items()}
        triggered = {code: name for name, code in RISK_CODES["triggered"].items()}
        listed = report["catalogue"]["risk_sets"][major.pop("set")]
        major["cases"] = [{"case": case, "unit": unit, "item": item, "status": status[result],
                           "triggered": triggered[trigger]}
                          for (case, unit, item), result, trigger in zip(
                              listed, major.pop("results"), major.pop("triggers"), strict=True)]
    major["cases"] = [{**risks.get(case["case"], {}), **case} for case in major["cases"]]
    figures["major_risks"] = major
    statuses = list(figures["counts"])
    categories = []
    for category in figures["categories"]:
        if isinstance(category, Mapping):  # version 3
            categories.append(dict(category))
            continue
        record = dict(zip(FIELDS["category"], category, strict=True))
        record["counts"] = dict(zip(statuses, record["counts"], strict=True))
        low, high = record["rate_range"]
        record["rate"] = low if low == high and record["applicable"] else None
        categories.append(record)
    figures["categories"] = categories
    return figures


def expand_card(report: Mapping[str, Any], key: str | None) -> dict[str, Any] | None:
    """A score card of a JSON report with its steps as records (``label``, ``formula``, ``value``)."""
    if key is None:
        return None
    table: Sequence[str] = report.get("texts", [])
    card = dict(report["score_cards"][key])
    card["steps"] = [dict(step) if isinstance(step, Mapping) else
                     {name: text(table, value) for name, value in zip(FIELDS["step"], step, strict=True)}
                     for step in card.get("steps", [])]
    return card


def _item_detail(item: ItemOutcome, findings: Sequence[Finding], findings_of: Mapping[str, list[int]],
                 started: str, texts: Texts) -> dict[str, Any] | None:
    """What an item says beyond its state and catalogue entry (None when nothing). The rule results
    that decided it are named by their index in the system's ``findings`` (:func:`decided_json`: their
    evidence, or the first pieces of it, is the item's; else the item's evidence is written out)."""
    default_underlying = ItemState.MANUAL_PENDING if item.state is ItemState.INHERITED else item.state
    plain = (not item.rules and not item.evidence and item.waiver is None and item.attestation is None
             and not item.high_risk and item.severity is None and item.underlying is default_underlying
             and item.note == (default_note(item) or ""))
    if plain:
        return None
    detail: dict[str, Any] = {}
    if item.score_status != SCORE_STATUS[item.state]:
        detail["score_status"] = item.score_status
    if item.underlying is not default_underlying:
        detail["underlying"] = str(item.underlying)
    decided = sorted(index for rule in item.rules for index in findings_of.get(rule, ()))
    pieces = decided_json(item.evidence, decided, findings)
    if decided:
        detail["findings"] = pieces if pieces is not None else decided
    if pieces is None:
        detail["evidence"] = [_evidence_json(e, started, None, texts) for e in item.evidence]
    if item.note and item.note != default_note(item):
        detail["note"] = texts.note(item)
    if item.high_risk:
        detail["high_risk"] = True
    if item.severity is not None:
        detail["severity"] = str(item.severity)
    if item.waiver is not None:
        detail["waiver"] = item.waiver
    if item.attestation is not None:
        detail["attestation"] = item.attestation
    return detail


def decided_json(evidence: Sequence[Evidence], decided: Sequence[int], findings: Sequence[Finding]
                 ) -> list[int | list[Any]] | None:
    """An item detail's ``findings`` (version 9): per deciding rule result (``decided``: indices in the
    system's ``findings``, in order) its index when the item keeps all its evidence, ``[index, count]`` when
    the item keeps its first ``count`` pieces (the scanner keeps at most 5 per result and 20 per item),
    ``[index, [position, ...]]`` when it keeps other pieces (those the rule gave for this item). ``None`` when
    the item's ``evidence`` is not pieces of these results in this order (an attestation's, a platform
    record's): the detail then writes the evidence out."""
    taken = 0
    out: list[int | list[Any]] = []
    for index in decided:
        own = findings[index].result.evidence
        count = 0
        while count < len(own) and taken + count < len(evidence) and evidence[taken + count] is own[count]:
            count += 1
        positions: list[int] | None = None
        if count < len(own) and taken + count < len(evidence):  # more of this result's pieces, not its first
            at = {id(piece): position for position, piece in enumerate(own)}
            positions = list(range(count))
            while taken + len(positions) < len(evidence) and id(evidence[taken + len(positions)]) in at:
                positions.append(at[id(evidence[taken + len(positions)])])
            if len(positions) == count:
                positions = None
        if positions is not None:
            out.append([index, positions])
            taken += len(positions)
        else:
            out.append(index if count == len(own) else [index, count])
            taken += count
    return out if taken == len(evidence) else None


def expand_items(report: Mapping[str, Any], system: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every item of a system of a JSON report (versions 2 to 9) as one record: id, catalogue attributes,
    state, label, and its details (the note of an unchecked item from ``catalogue.notes``, its literal
    ``{check_type}`` placeholder filled in; the title of a GB/T 39786 unit as ``title (strength)``, its
    strength at the system's 密评 level). ``findings`` are the indices of the rule results that decided the
    item, ``rules`` their rules, ``evidence`` the item's own: as of version 8 exactly the pieces the item
    kept (the detail's ``[index, count]``, as of version 9 also ``[index, [position, ...]]``); before, every
    piece of every deciding result.

    A report that does not hold what its version says — a state code or item set the catalogue lacks,
    ``states`` and the item set of different lengths, an index outside ``texts``, ``rules``, ``details`` or
    the system's findings, a member missing or of another type — raises :class:`ReportError` naming the
    system and the field. :func:`expand_system` gives the system's findings with its items.
    """
    return expand_system(report, system)[0]


def expand_system(report: Mapping[str, Any], system: Mapping[str, Any]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A system's items (:func:`expand_items`) and findings (:func:`expand_findings`) from one reading of it: the
    items are read from the findings, so a caller that needs both reads the system once."""
    read = _Reader(report, system)
    findings = _findings(read)
    catalogue = read.get(report, "catalogue", Mapping, "catalogue", top=True)
    states = read.get(catalogue, "states", Mapping, "catalogue.states", top=True)
    items = read.get(catalogue, "items", Mapping, "catalogue.items", top=True)
    notes = read.get(catalogue, "notes", Mapping, "catalogue.notes", top=True, default={})
    values = read.get(catalogue, "values", Mapping, "catalogue.values", top=True, default={})
    item_sets = read.get(catalogue, "item_sets", Mapping, "catalogue.item_sets", top=True)
    set_key: str = read.own("item_set", str)
    ids = _item_ids(read, item_sets, set_key, items)
    codes: str = read.own("states", str)
    if len(codes) != len(ids):
        raise read.error("states", f"{len(codes)} 个状态码, 而项目集 {set_key} 有 {len(ids)} 项 / {len(codes)} state "
                         f"codes for the {len(ids)} items of item set {set_key}")
    details = system.get("details") or []  # version 3: item id -> index; version 4: one index per item
    if not isinstance(details, (list, Mapping)):
        raise read.error("details", f"应为数组, 实为 {shown(details)} / not an array")
    if isinstance(details, list) and len(details) != len(ids):
        raise read.error("details", f"{len(details)} 项, 而项目集 {set_key} 有 {len(ids)} 项 (没有详情时为 []) / "
                         f"{len(details)} entries for the {len(ids)} items of item set {set_key} ([] when none "
                         "has one)")
    shared: list[Any] = read.get(report, "details", list, "details", top=True, default=[])
    crypto_level = str(read.own("crypto_level", int))
    of_state: dict[ItemState, tuple[str, str, str, str]] = {}  # label, score status, note, underlying
    of_ref: dict[int, tuple[dict[str, Any], list[tuple[int, Kept]]]] = {}  # a shared detail, checked once
    records: list[dict[str, Any]] = []
    for position, (item_id, code) in enumerate(zip(ids, codes, strict=True)):
        state = _STATE_OF_CODE.get(code)
        if state is None:
            raise read.error(f"states[{position}]", f"未知的状态码 {code!r} / unknown state code (codes: "
                             f"{''.join(_STATE_OF_CODE)}; catalogue.states)")
        known = of_state.get(state)
        if known is None:
            info = read.get(states, str(state), Mapping, f"catalogue.states.{state}", top=True)
            known = of_state[state] = (
                read.get(info, "label", str, f"catalogue.states.{state}.label", top=True),
                read.get(info, "score_status", str, f"catalogue.states.{state}.score_status", top=True),
                read.get(notes, str(state), str, f"catalogue.notes.{state}", top=True, default=""),
                str(ItemState.MANUAL_PENDING if state is ItemState.INHERITED else state))
        entry = _catalogue_item(read, items, values, item_id)
        label, score_status, note, underlying = known
        record: dict[str, Any] = {"item": item_id, **entry, "state": str(state), "state_label": label,
                                  "score_status": score_status}
        strengths = record.pop("strength", None)
        strength = strengths.get(crypto_level) if strengths else None
        if strength:
            record["strength"] = read.value(strength, str, f"catalogue.items[{item_id!r}].strength.{crypto_level}",
                                            top=True)
            record["title"] = f"{entry['title']} ({strength})"
        # catalogue.notes holds a literal {check_type}: replaced as text (str.format would read any brace)
        record["note"] = note.replace("{check_type}", entry["check_type"]) if note else ""
        record["underlying"] = underlying
        if isinstance(details, Mapping):  # version 3: item id -> index in details; version 2: the detail itself
            ref, field = details.get(item_id, -1), f"details[{item_id!r}]"
        else:  # version 4: one index per item (-1: none)
            ref, field = (details[position] if details else -1), f"details[{position}]"
        if type(ref) is int and ref in of_ref:
            detail, decided = of_ref[ref]
        else:
            detail, decided = _detail(read, ref, field, shared, findings)
            if type(ref) is int:
                of_ref[ref] = detail, decided
        record.update(detail)
        if "evidence" in detail:  # a shared detail's: each record its own list
            record["evidence"] = list(detail["evidence"])
        if decided:
            record["findings"] = [index for index, _ in decided]
        record["rules"] = list(dict.fromkeys(findings[index]["rule"] for index, _ in decided))
        if "evidence" not in detail:
            record["evidence"] = [e for index, kept in decided for e in _kept(findings[index]["evidence"], kept)]
        records.append(record)
    return records, findings


def _item_ids(read: _Reader, item_sets: Mapping[str, Any], set_key: str, items: Mapping[str, Any]) -> list[str]:
    """The item ids of item set ``set_key`` (version 4 on: positions in ``catalogue.items``)."""
    listed = item_sets.get(set_key)
    if listed is None:
        raise read.error("item_set", f"项目集 {set_key!r} 不在 catalogue.item_sets 中 / item set {set_key!r} is not in "
                         "catalogue.item_sets")
    read.value(listed, list, f"catalogue.item_sets.{set_key}", top=True)
    if not listed or not _is(listed[0], int):  # versions 2 and 3: item ids
        return [read.value(item_id, str, f"catalogue.item_sets.{set_key}[{index}]", top=True)
                for index, item_id in enumerate(listed)]
    every = list(items)
    ids = []
    for index, position in enumerate(listed):
        if not _is(position, int) or not 0 <= position < len(every):
            raise read.error(f"catalogue.item_sets.{set_key}[{index}]", f"{shown(position)} 不是 catalogue.items 中的"
                             f"位置 (共 {len(every)} 项) / not a position in catalogue.items ({len(every)} items)",
                             top=True)
        ids.append(every[position])
    return ids


#: The string members of a catalogue item (version 3: object keys; version 4 on: ``catalogue.fields.item``).
_ITEM_TEXTS = ("standard", *FIELDS["item"][:5])


def _catalogue_item(read: _Reader, items: Mapping[str, Any], values: Mapping[str, Any], item_id: str
                    ) -> dict[str, Any]:
    """An item's catalogue attributes (``standard``, ``title``, ``check_type``, ``responsibility``,
    ``assessment_unit``, ``category`` and, for a GB/T 39786 unit, ``strength``: 密评 level → 宜 / 应 / 可)."""
    raw = items.get(item_id)
    if type(raw) is list and 5 <= len(raw) <= 6:  # version 4 on: an array (version 6: coded by index)
        entry = {"standard": item_id.split(":", 1)[0], "title": raw[0], "check_type": raw[1],
                 "responsibility": raw[2], "assessment_unit": raw[3], "category": raw[4]}
        if len(raw) == 6:
            entry["strength"] = raw[5]
        for name in CODED_ITEM_FIELDS:
            index = entry[name]
            if type(index) is int:
                listed = values.get(name)
                if type(listed) is not list or not 0 <= index < len(listed):
                    raise _bad_value(read, values, name, index, f"catalogue.items[{item_id!r}]"
                                     f"[{FIELDS['item'].index(name)}]")
                entry[name] = listed[index]
    elif isinstance(raw, Mapping):  # versions 2 and 3: an object
        entry = dict(raw)
    elif raw is None:
        raise read.error("catalogue.items", f"项目 {item_id} 不在 catalogue.items 中 / item {item_id} is not in "
                         "catalogue.items", top=True)
    else:
        raise read.error(f"catalogue.items[{item_id!r}]", f"应为 [title, check_type, responsibility, assessment_unit, "
                         f"category, strength?], 实为 {shown(raw)} / not such an array (catalogue.fields.item)",
                         top=True)
    for name in _ITEM_TEXTS:
        if type(entry.get(name)) is not str:
            read.get(entry, name, str, f"catalogue.items[{item_id!r}].{name}", top=True)  # raises, naming it
    strength = entry.get("strength")
    if strength is not None and not isinstance(strength, Mapping):
        read.value(strength, Mapping, f"catalogue.items[{item_id!r}].strength", top=True)
    return entry


def _bad_value(read: _Reader, values: Mapping[str, Any], name: str, index: int, field: str) -> ReportError:
    """The error of a coded item field whose index is not in ``catalogue.values[name]``."""
    listed = values.get(name)
    if type(listed) is not list:
        return read.error(f"catalogue.values.{name}", f"缺少或不是数组 / missing or not an array ({name} is coded "
                          "by index)", top=True)
    return read.error(field, f"{name} 下标 {index} 不在 catalogue.values.{name} 中 (共 {len(listed)} 项) / index "
                      f"{index} is not in catalogue.values.{name} ({len(listed)} values)", top=True)


def _detail(read: _Reader, ref: Any, field: str, shared: Sequence[Any], findings: Sequence[Mapping[str, Any]]
            ) -> tuple[dict[str, Any], list[tuple[int, Kept]]]:
    """An item's detail — ``ref``: an index in the report's ``details`` (``-1``: none) or, in version 2, the
    detail itself; ``field``: where ``ref`` is — checked, without its ``findings``; and those findings as
    (index, pieces kept: ``None`` for all)."""
    top = False
    if _is(ref, int):
        if ref == -1:
            return {}, []
        if not 0 <= ref < len(shared):
            raise read.error(field, f"下标 {ref} 不在报告的 details 中 (共 {len(shared)} 条) / index {ref} is not "
                             f"in the report's details ({len(shared)} entries)")
        ref, field, top = shared[ref], f"details[{ref}]", True
    raw = read.value(ref, Mapping, field, top=top)
    unknown = sorted(set(raw) - DETAIL_KEYS)
    if unknown:
        raise read.error(f"{field}.{unknown[0]}", f"详情没有此项 / not a member of an item detail (members: "
                         f"{', '.join(sorted(DETAIL_KEYS))})", top=top)
    detail = dict(raw)
    for name in ("score_status", "severity", "waiver", "attestation"):
        if name in detail and detail[name] is not None:
            read.value(detail[name], str, f"{field}.{name}", top=top)
    if "underlying" in detail and (not isinstance(detail["underlying"], str)
                                   or detail["underlying"] not in _STATE_NAMES):
        raise read.error(f"{field}.underlying", f"未知的状态 {shown(detail['underlying'])} / unknown state", top=top)
    if "high_risk" in detail:
        read.value(detail["high_risk"], bool, f"{field}.high_risk", top=top)
    if "note" in detail:
        detail["note"] = read.note(detail["note"], f"{field}.note", top=top)
    if "evidence" in detail:
        detail["evidence"] = [read.evidence(e, None, read.report["started"], f"{field}.evidence[{index}]", top=top)
                              for index, e in enumerate(read.value(detail["evidence"], list, f"{field}.evidence",
                                                                   top=top))]
    decided = [_decided(read, entry, findings, f"{field}.findings[{index}]", top)
               for index, entry in enumerate(read.value(detail.pop("findings", []), list, f"{field}.findings",
                                                        top=top))]
    return detail, decided


def _decided(read: _Reader, entry: Any, findings: Sequence[Mapping[str, Any]], field: str, top: bool
             ) -> tuple[int, Kept]:
    """A detail's ``findings`` entry: an index in the system's findings (the item keeps all its evidence), as
    of version 8 ``[index, count]`` (the item keeps its first ``count`` pieces), as of version 9
    ``[index, [position, ...]]`` (the item keeps the pieces at these positions, in this order)."""
    listed = isinstance(entry, list) and len(entry) == 2
    index, kept = (entry[0], entry[1]) if listed else (entry, None)
    if not _is(index, int) or not 0 <= index < len(findings):
        raise read.error(field, f"{shown(entry)} 不是本系统 findings 的下标 (共 {len(findings)} 条) / not an index in "
                         f"the system's findings ({len(findings)}), nor [index, count]", top=top)
    pieces = len(findings[index]["evidence"])
    if isinstance(kept, list) and read.version >= 9:
        # 1 to 5 positions: the scanner keeps at most 5 pieces of a result for an item
        if not 0 < len(kept) <= 5 or len(set(map(repr, kept))) != len(kept) or not all(
                _is(at, int) and 0 <= at < pieces for at in kept):
            raise read.error(field, f"证据位置 {shown(kept)} 不是 0–{pieces - 1} 之间互不相同的 1–5 个下标 / evidence "
                             f"positions not 1 to 5 distinct indices of the finding's {pieces} pieces", top=top)
        return index, kept
    if listed and (kept is None or not _is(kept, int) or not 0 <= kept <= pieces):
        raise read.error(field, f"证据条数 {shown(kept)} 不在 0–{pieces} 之间 / evidence count not between 0 and the "
                         f"finding's {pieces} pieces", top=top)
    return index, kept


def _kept(evidence: Sequence[Any], kept: Kept) -> Sequence[Any]:
    """The pieces of a finding's ``evidence`` an item keeps (:func:`_decided`'s answer: all, the first ones, or
    those at the given positions)."""
    return [evidence[at] for at in kept] if isinstance(kept, list) else evidence[:kept]


# --------------------------------------------------------------------------------------------- SARIF


def _location(location: str) -> dict[str, Any]:
    """A SARIF location: a register file with its line, a register file as a whole (no region: code scanning
    still places it on the file; it was a logical location only), else a logical one (a host, a URN)."""
    found = _FILE_LINE.match(location)
    if found:
        return {"physicalLocation": {"artifactLocation": {"uri": quote(found["file"], safe="/"),
                                                          "uriBaseId": "REGISTER_ROOT"},
                                     "region": {"startLine": int(found["line"])}}}
    if _FILE.match(location):
        return {"physicalLocation": {"artifactLocation": {"uri": quote(location, safe="/"),
                                                          "uriBaseId": "REGISTER_ROOT"}}}
    return {"logicalLocations": [{"name": location[:500], "kind": "resource"}]}


#: A result or item status that fails (wholly or in part): what SARIF lists (and the HTML's 需处理).
_FAILED = (Status.FAIL, Status.PARTIAL)
#: Said of a result or an item the verdict flags 高风险 (it vetoes, or its open case condition may make it veto).
HIGH_RISK_NOTE = "高风险项 (见结论) / high-risk items (see the verdict)"
#: The SARIF rule of an item an assessor (a signed attestation set, the platform's record) found failing: no rule
#: of ours decided it, but the verdict counts it as every other failure.
ATTESTED_RULE = "XZ-ATTESTED"


def failing_items(finding: Finding) -> list[str]:
    """The items a result fails or fails in part (its own status or its say per item): a rule that passes may
    still fail some of its items (a 宜 密评 unit not implemented lowers the score without failing the rule)."""
    rr = finding.result
    return [control for control in rr.controls if rr.status_of(control) in _FAILED]


def advisory_items(finding: Finding) -> list[str]:
    """The items a result that passed (or was not applicable) fails all the same; none for a failing result."""
    return failing_items(finding) if finding.result.status in (Status.PASS, Status.NOT_APPLICABLE) else []


def high_risk_items(system: SystemReport) -> list[str]:
    """The system's items its verdicts flag 高风险 (``ItemOutcome.high_risk``), in row order."""
    return [item.item_id for item in system.items if item.high_risk]


def needs_action(finding: Finding) -> bool:
    """A result that failed, failed in part or errored — or passed while failing some of its items."""
    status = finding.result.status
    return status not in (Status.PASS, Status.NOT_APPLICABLE) or bool(failing_items(finding))


def attested_failures(system: SystemReport) -> list[ItemOutcome]:
    """Items no rule decided that an assessor's record fails (不符合 / 部分符合, waived or not)."""
    return [item for item in system.items if not item.rules and item.trail is not None
            and item.score_status in ("不符合", "部分符合")]


def partial_text(scope: tuple[int, int]) -> str:
    """What every format of a partial set says of it (:meth:`ScanResult.partial_scope`: systems judged, registered):
    CI pages and viewers show a shard's SARIF or JUnit as they show the region's, so each says it is a part."""
    return (f"部分扫描 partial scan: {scope[0]} / {scope[1]} 个已登记系统 (一个分片或 --system 的结果, 不是全区报告 / "
            "one shard's or a --system scan's set, not the region's report: `xzgov scan merge` gives the whole)")


def sarif(result: ScanResult) -> dict[str, Any]:
    """SARIF 2.1.0: one run; every failing, partial or errored rule result as a result, and every result that
    passed while failing some of its items (level ``note``, ``properties.advisory``: a 宜 unit the score counts);
    every item an assessor's record fails (rule ``XZ-ATTESTED``). A waived result carries an external
    suppression — unless an item of it is one the verdict vetoes on (``properties.high_risk``): the waiver does
    not lift that veto, so the result is not shown as accepted. The rules of those results are reporting
    descriptors (every rule's text is in ``compliance-report.json`` ``rules``)."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    reported = {f.result.rule_id for system in result.systems for f in system.findings if needs_action(f)}
    for rule in RULES_BY_ID.values():
        if rule.id not in reported:
            continue
        index[rule.id] = len(rules)
        rules.append({
            "id": rule.id,
            "name": rule.id.replace("-", "_"),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": f"{rule.title} / {rule.title_en}. {rule.description}".strip()},
            "help": {"text": rule.remediation},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            "properties": {"severity": str(rule.severity), "controls": list(rule.controls),
                           "points": [str(p) for p in rule.points], "tags": ["等保", "密评", "compliance"]},
        })
    attested = {system.name: attested_failures(system) for system in result.systems}
    if any(attested.values()):
        index[ATTESTED_RULE] = len(rules)
        rules.append({
            "id": ATTESTED_RULE, "name": "XZ_ATTESTED",
            "shortDescription": {"text": "测评师核查结论: 不符合 / 部分符合"},
            "fullDescription": {"text": "测评师核查结论: 不符合 / 部分符合 / an item no rule decides, failed by a "
                                        "signed attestation set or the platform's assessment record"},
            "help": {"text": "按测评报告整改后重新核查, 重签核查记录 / remediate, then have the item re-attested"},
            "defaultConfiguration": {"level": "warning"},
            "properties": {"tags": ["等保", "密评", "compliance", "attestation"]},
        })
    results: list[dict[str, Any]] = []
    for system in result.systems:
        vetoed = set(high_risk_items(system))
        for finding in system.findings:
            if not needs_action(finding):
                continue
            results.append(_sarif_result(system, finding, index, vetoed))
        for item in attested[system.name]:
            results.append(_sarif_attested(system, item, index[ATTESTED_RULE]))
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "version": TOOL_VERSION, "semanticVersion": TOOL_VERSION,
                                "rules": rules}},
            "originalUriBaseIds": {"REGISTER_ROOT": {"description": {"text": "the register root (region.yaml)"}}},
            "invocations": [{"executionSuccessful": True, "startTimeUtc": result.started,
                             "endTimeUtc": result.finished}],
            "results": results,
            "properties": {"modes": list(result.modes), "fail_on": str(result.fail_on),
                           **({"scope": {"systems": scope[0], "registered": scope[1], "note": partial_text(scope)}}
                              if (scope := result.partial_scope()) else {})},
        }],
    }


def _sarif_result(system: SystemReport, finding: Finding, index: Mapping[str, int],
                  vetoed: set[str]) -> dict[str, Any]:
    rr = finding.result
    advisory = rr.status in (Status.PASS, Status.NOT_APPLICABLE)  # passed, some of its items failing
    failing = advisory_items(finding)
    if advisory:  # what the failing items show (as the items record it: a merged result keeps that)
        evidence = [e for item in system.items if item.item_id in failing for e in item.evidence][:10]
        message = (f"[{system.name}] {RULES_BY_ID[rr.rule_id].title}: 本规则通过, 但以下项不符合 (计入评分) / the rule "
                   f"passes, these items fail (scored): {', '.join(failing)}")
    else:
        evidence = list(rr.evidence[:10])
        message = f"[{system.name}] {rr.message}"
    # each place once (several pieces of evidence often point at one manifest line)
    locations = [_location(where) for where in dict.fromkeys(e.location for e in evidence)] \
        or [_location(system.source)]
    high_risk = sorted(vetoed.intersection(rr.controls))
    entry: dict[str, Any] = {
        "ruleId": rr.rule_id,
        "ruleIndex": index[rr.rule_id],
        # a check that could not run decided nothing: kind "open" (SARIF 2.1.0 §3.27.9), whose level
        # must be "none" (§3.27.10: a level other than none only with kind fail)
        **({"kind": "fail", "level": "error" if high_risk else "note" if advisory else _SARIF_LEVEL[rr.severity]}
           if advisory or rr.status in _FAILED else {"kind": "open", "level": "none"}),
        "message": {"text": _sarif_text(message + (f"\n{HIGH_RISK_NOTE}: {', '.join(high_risk)}" if high_risk else "")
                                        + "".join(f"\n- {e.observed} ({e.location})" for e in evidence))},
        "locations": locations,
        "partialFingerprints": {"xzgov/v1": f"{system.name}|{rr.rule_id}|{rr.point}|{rr.target}"},
        "properties": {"system": system.name, "department": system.department, "point": str(rr.point),
                       "target": rr.target, "status": str(rr.status), "severity": str(rr.severity),
                       "controls": {c: str(rr.status_of(c)) for c in rr.controls},
                       **({"advisory": True} if advisory else {}),
                       **({"high_risk": high_risk} if high_risk else {}),
                       **({"waiver": finding.waiver} if finding.waiver else {})},
    }
    if finding.waiver and not high_risk:  # a waiver does not lift a veto: such a result stays shown
        entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                  "justification": f"waiver {finding.waiver}"}]
    return entry


def _sarif_attested(system: SystemReport, item: ItemOutcome, rule_index: int) -> dict[str, Any]:
    trail = item.trail or {}
    where = str(trail.get("file") or system.source)
    entry: dict[str, Any] = {
        "ruleId": ATTESTED_RULE, "ruleIndex": rule_index, "kind": "fail",
        "level": "error" if item.high_risk else "warning",
        "message": {"text": _sarif_text(f"[{system.name}] {item.item_id} {item.title}: {item.score_status} — "
                                        f"{item.note}" + (f"\n{HIGH_RISK_NOTE}" if item.high_risk else ""))},
        "locations": [_location(where)],
        "partialFingerprints": {"xzgov/v1": f"{system.name}|{ATTESTED_RULE}|{item.item_id}"},
        "properties": {"system": system.name, "department": system.department, "item": item.item_id,
                       "status": item.score_status, "decided_by": item.decided_by,
                       "record": str(trail.get("set", "")),
                       **({"high_risk": [item.item_id]} if item.high_risk else {}),
                       **({"waiver": item.waiver} if item.waiver else {})},
    }
    if item.waiver and not item.high_risk:
        entry["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f"waiver {item.waiver}"}]
    return entry


# --------------------------------------------------------------------------------------------- JUnit


#: The longest JUnit suite name written (the system's name and the start of its title).
SUITE_NAME = 200


def junit(result: ScanResult) -> str:
    """JUnit XML for CI gating: one testsuite per system, one testcase per rule result (class: the system;
    named by rule id, its check point when not the manifest (``[host]``) and target, and for a result that
    is neither passed nor not applicable also by the rule's title; every title is in
    ``compliance-report.json`` ``rules`` and the SARIF rules), one line per test case. Unwaived failing,
    partial or errored results at or above ``--fail-on`` are failures / errors; waived or lower ones pass
    with the reason in ``system-out`` (and the items the verdict flags 高风险: a waiver does not lift a veto);
    not-applicable ones are skipped; a passed result failing some of its items says which in ``system-out``.
    Each suite's ``properties`` give the 等保 and 密评 verdicts, the 高风险 items and the items an assessor
    failed (none of which the gate reads)."""
    scope = result.partial_scope()
    root = ET.Element("testsuites", name="xzgov compliance scan" + (f" — {partial_text(scope)}" if scope else ""))
    total = failures = errors = 0
    for system in result.systems:
        # one line, as CI pages list suites (a manifest title may span lines and run long)
        suite = ET.SubElement(root, "testsuite", name=_one_line(f"{system.name} {system.title}")[:SUITE_NAME])
        suite.text = suite.tail = root.text = "\n"
        s_total = s_fail = s_err = s_skip = 0
        vetoed = set(high_risk_items(system))
        # the verdicts, and what the gate does not see: items an assessor failed, items the verdict flags 高风险
        properties = ET.SubElement(suite, "properties")
        for name, value in (("等保", _card_text(system.dengbao)), ("密评", _card_text(system.miping)),
                            ("high_risk", ", ".join(sorted(vetoed))),
                            ("attested_failures", ", ".join(f"{item.item_id} {item.score_status}"
                                                            for item in attested_failures(system)))):
            if value:
                ET.SubElement(properties, "property", name=name, value=_one_line(value))
        for finding in system.findings:
            rr = finding.result
            target = f"@{rr.target}" if rr.target and rr.point.value == "host" else ""
            title = "" if rr.status in (Status.PASS, Status.NOT_APPLICABLE) else f" {RULES_BY_ID[rr.rule_id].title}"
            point = "" if rr.point.value == "manifest" else f" [{rr.point}]"
            case = ET.SubElement(suite, "testcase", classname=system.name, name=f"{rr.rule_id}{point}{target}{title}")
            case.tail = "\n"  # one line per test case, no indentation
            s_total += 1
            detail = "\n".join(f"{e.observed} ({e.location})" for e in rr.evidence[:20])
            gating = finding.gates(result.fail_on)
            if rr.status is Status.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=rr.message)
                s_skip += 1
            elif gating and rr.status is Status.ERROR:
                ET.SubElement(case, "error", message=rr.message, type=str(rr.severity)).text = detail
                s_err += 1
            elif gating:
                ET.SubElement(case, "failure", message=rr.message, type=str(rr.severity)).text = detail
                s_fail += 1
            elif rr.status is not Status.PASS:
                why = f"waiver {finding.waiver}" if finding.waiver else f"severity {rr.severity} < {result.fail_on}"
                flagged = sorted(vetoed.intersection(rr.controls))
                said = f"\n{HIGH_RISK_NOTE}: {', '.join(flagged)}" if flagged else ""
                ET.SubElement(case, "system-out").text = f"{rr.status}: {rr.message} ({why}){said}\n{detail}"
            elif failing := advisory_items(finding):  # passed, some of its items failing (scored, no gate)
                ET.SubElement(case, "system-out").text = (f"pass; 以下项不符合 (计入评分) / items failing (scored): "
                                                          f"{', '.join(failing)}")
        for item in attested_gating(system, result.fail_on):  # the gate counts them: so does the JUnit report
            case = ET.SubElement(suite, "testcase", classname=system.name, name=f"{ATTESTED_RULE} {item.item_id}")
            case.tail = "\n"
            s_total += 1
            ET.SubElement(case, "failure", message=f"{item.state.label} 高风险 (记录 {item.attestation})",
                          type=str(ATTESTED_SEVERITY)).text = "\n".join(
                f"{e.observed} ({e.location})" for e in item.evidence[:20])
            s_fail += 1
        suite.set("tests", str(s_total))
        suite.set("failures", str(s_fail))
        suite.set("errors", str(s_err))
        suite.set("skipped", str(s_skip))
        total, failures, errors = total + s_total, failures + s_fail, errors + s_err
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    # (no `skipped` on <testsuites>: Jenkins' junit-10.xsd allows it on each <testsuite> only)
    return xml_document(root)


#: ``text`` as people and XML parsers may be shown it: invisible and control characters (those XML 1.0 forbids —
#: YAML escapes such as "\x07" put them into titles, U+FFFE — and those it allows but a CI page would obey:
#: bidirectional overrides, line separators) as visible escapes (``\x07``, ``\u202e``), never dropped silently;
#: line breaks and tabs kept. :func:`~xzgov.core.text.printable_text` escapes all of them.
xml_safe = printable_text


def xml_document(root: ET.Element) -> str:
    """Serialise ``root`` as a well-formed XML 1.0 document: every attribute and text made XML-safe first."""
    for element in root.iter():
        element.attrib = {key: xml_safe(value) for key, value in element.attrib.items()}
        if element.text:
            element.text = xml_safe(element.text)
        if element.tail:
            element.tail = xml_safe(element.tail)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------------------------- OSCAL


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def token(text: str) -> str:
    """An OSCAL token (NCName) for a namespaced id: ``GB/T 22239-2019:8.1.4.1.a`` → ``gbt22239-2019_8.1.4.1.a``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("GB/T ", "gbt").replace(":", "_")).strip("_")
    return cleaned if cleaned and (cleaned[0].isalpha() or cleaned[0] == "_") else f"_{cleaned}"


def _timestamp(value: str) -> str:
    return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


_OSCAL_STATE = {ItemState.PASS: ("satisfied", "pass"), ItemState.NOT_APPLICABLE: ("satisfied", "other"),
                ItemState.FAIL: ("not-satisfied", "fail"), ItemState.PARTIAL: ("not-satisfied", "other"),
                ItemState.ERROR: ("not-satisfied", "other"), ItemState.WAIVED: ("not-satisfied", "other")}


#: Item states written as OSCAL findings: those that need action. Every item's state is in the result's
#: ``item-states`` prop (one character per item of ``item-set``, codes as in the JSON report).
_OSCAL_FINDING_STATES = frozenset({ItemState.FAIL, ItemState.PARTIAL, ItemState.ERROR, ItemState.WAIVED})
#: Pieces of evidence an OSCAL observation lists (every piece is in ``compliance-report.json``).
OSCAL_EVIDENCE = 5


class _Observations:
    """The observations of one system's OSCAL result, each written once (keyed by the rule result's index
    in the system's findings; ``(position, index)`` for the pieces of that result about the item at
    ``position`` when the rule gave the item its own; ``-1 - position`` for the item's evidence no rule result
    carries)."""

    def __init__(self, system: str, started: str) -> None:
        self.system, self.started = system, started
        self.observations: list[dict[str, Any]] = []
        self._uuids: dict[int | tuple[int, int], str] = {}

    def add(self, key: int | tuple[int, int], title: str, evidence: Sequence[Evidence], *uuid_parts: str) -> str:
        """The uuid of observation ``key``, written (``title``, the first :data:`OSCAL_EVIDENCE` pieces of
        ``evidence``) when first asked for."""
        obs_uuid = self._uuids.get(key)
        if obs_uuid is None:
            obs_uuid = self._uuids[key] = _uuid(self.system, "obs", *uuid_parts)
            shown = evidence[:OSCAL_EVIDENCE]
            entry: dict[str, Any] = {
                "uuid": obs_uuid, "description": _markup(title), "methods": ["TEST"],
                "collected": _timestamp(min((e.at for e in shown if e.at), default=self.started)),
            }
            if shown:
                entry["relevant-evidence"] = [_oscal_evidence(e) for e in shown]
            self.observations.append(entry)
        return obs_uuid


def _sarif_text(text: str) -> str:
    """``text`` as a SARIF plain-text message: its square brackets escaped (``\\[``, ``\\]``), since a plain-text
    message may embed links (SARIF 2.1.0 §3.11.6: ``[text](target)``) and data quoted in it — a department's
    ``[l](http://…)`` — must stay text."""
    return _SARIF_BRACKETS.sub(r"\\\g<0>", text)


_SARIF_BRACKETS = re.compile(r"[\[\]]")


def _markup(text: str) -> str:
    """``text`` for an OSCAL markup-line or markup-multiline field (Markdown): as literal text on one line
    (:func:`md`: a department's ``[link](…)``, ``**`` or ``<img …>`` is shown, never made markup), ``observed``
    when empty (OSCAL fields may not be)."""
    return md(text) or "observed"


def _oscal_evidence(evidence: Evidence) -> dict[str, Any]:
    """One ``relevant-evidence`` entry: what was observed, and where: a ``file:line`` location as ``href``
    (``file#L<line>``, relative to the register root), a file as a whole (a system's manifest) as its
    ``href``, any other location as the ``location`` prop."""
    entry: dict[str, Any] = {"description": _markup(evidence.observed)}
    found = _FILE_LINE.match(evidence.location)
    if found:
        entry["href"] = f"{quote(found['file'], safe='/')}#L{found['line']}"
    elif _FILE.match(evidence.location):  # a register file as a whole (a system's manifest)
        entry["href"] = quote(evidence.location, safe="/")
    elif evidence.location:
        # a prop value is one line without edge spaces (OSCAL's string type): a folder named with a line break made
        # the report fail its schema and the scan exit 3
        entry["props"] = [{"name": "location", "ns": "https://xzgov.io/ns/oscal",
                           "value": _one_line(evidence.location) or "?"}]
    return entry


def oscal(result: ScanResult, companions: Collection[str] | None = None) -> dict[str, Any]:
    """OSCAL 1.2.3 assessment-results: one result per system. Every item's state is in the result's props
    (``item-set``: the catalogue item set of ``compliance-report.json``; ``item-states``: one state code per
    item of it); the reviewed controls are all controls of the system's item set (``include-all``); the
    back-matter names where the catalogue is (``companions``: the report set's file names, :func:`json_pointer`). A
    finding is written per item that needs action (fail, partial, error, waived; an inherited item the platform's
    record fails). Its evidence is in
    observations: one per rule result that decided such an item (its message, and its first
    :data:`OSCAL_EVIDENCE` pieces of evidence as ``relevant-evidence``, shared by every finding it decided);
    where the item keeps other pieces of a result than those the shared observation shows, or the rule judged
    the item otherwise than itself (the pieces the rule gave for the item), one per item and result with those
    pieces, described by them; and one per item for evidence no rule result carries (attestations, platform records)."""
    results: list[dict[str, Any]] = []
    register = _uuid("register", result.register_root)
    set_keys = item_set_keys(result)
    for system, set_key in zip(result.systems, set_keys, strict=True):
        findings: list[dict[str, Any]] = []
        written = _Observations(system.name, result.started)
        owner = {id(e): index for index, f in enumerate(system.findings) for e in f.result.evidence}
        for position, item in enumerate(system.items):
            if item.state in _OSCAL_FINDING_STATES:
                state, reason = _OSCAL_STATE[item.state]
            elif item.platform_failure is not None:
                # a finding too, as SARIF's XZ-ATTESTED result and JUnit's ``attested_failures`` show it
                state, reason = _OSCAL_STATE[item.platform_failure]
            else:
                continue
            related: list[str] = []
            own: list[Evidence] = []
            kept: dict[int, list[Evidence]] = {}  # per deciding result, its pieces the item keeps
            for evidence in item.evidence:
                index = owner.get(id(evidence))
                if index is None:
                    own.append(evidence)
                else:
                    kept.setdefault(index, []).append(evidence)
            for index, pieces in kept.items():
                rr = system.findings[index].result
                shared = rr.evidence[:OSCAL_EVIDENCE]  # what the result's shared observation shows
                if rr.status_of(item.item_id) is rr.status and len(pieces) == len(shared) and all(
                        piece is first for piece, first in zip(pieces, shared, strict=True)):
                    related.append(written.add(index, rr.message, rr.evidence, rr.rule_id, str(rr.point),
                                               rr.target))
                else:  # the rule's pieces about this item: its own observation, described by them
                    related.append(written.add((position, index), "; ".join(piece.observed for piece in pieces),
                                               pieces, rr.rule_id, str(rr.point), rr.target, item.item_id))
            if own:
                related.append(written.add(-1 - position, item.note or item.item_id, own, item.item_id))
            props = [{"name": "item-state", "ns": "https://xzgov.io/ns/oscal", "value": str(item.state)}]
            if item.waiver:
                props.append({"name": "waiver", "ns": "https://xzgov.io/ns/oscal", "value": item.waiver})
            if item.high_risk:  # the verdict vetoes on it (or may): a waiver does not make it an accepted risk
                props.append({"name": "high-risk", "ns": "https://xzgov.io/ns/oscal", "value": "true"})
            finding: dict[str, Any] = {
                "uuid": _uuid(system.name, item.item_id, "finding"),
                "title": item.item_id,  # the item's text: the catalogue (and compliance-report.json)
                "description": _markup(item.note or f"{item.state.label} ({', '.join(item.rules) or 'attested'})"),
                "props": props,
                "target": {"type": "objective-id", "target-id": token(item.item_id),
                           "status": {"state": state, "reason": reason}},
            }
            if related:
                finding["related-observations"] = [{"observation-uuid": u} for u in dict.fromkeys(related)]
            findings.append(finding)
        entry: dict[str, Any] = {
            "uuid": _uuid(system.name, result.started, "result"),
            # OSCAL titles are one line (markup-line): a manifest title may span several
            "title": _markup(f"{system.title} ({system.name}) 等保 {system.level} 级 / 密评 {system.crypto_level} 级"),
            "description": _markup(f"xzgov scan ({', '.join(result.modes)}) of {system.name}; 等保: "
                                   f"{_card_text(system.dengbao)}; 密评: {_card_text(system.miping)}"
                                   + (f"; {HIGH_RISK_NOTE}: {', '.join(flagged)}"
                                      if (flagged := high_risk_items(system)) else "")),
            "start": _timestamp(result.started),
            "end": _timestamp(result.finished),
            "props": [{"name": "department", "ns": "https://xzgov.io/ns/oscal", "value": system.department},
                      {"name": "tier", "ns": "https://xzgov.io/ns/oscal", "value": system.tier},
                      {"name": "item-set", "ns": "https://xzgov.io/ns/oscal", "value": set_key},
                      {"name": "item-states", "ns": "https://xzgov.io/ns/oscal",
                       "value": "".join(STATE_CODES[item.state] for item in system.items) or "-"}],
            "reviewed-controls": {"control-selections": [{"include-all": {}}]},
        }
        if written.observations:
            entry["observations"] = written.observations
        if findings:
            entry["findings"] = findings
        results.append(entry)
    return {"assessment-results": {
        "uuid": _uuid("assessment-results", result.started, result.register_root),
        "metadata": {"title": "西藏自治区数字政府 政务云 等保/密评 合规扫描结果" + (
                         f" (部分扫描 partial: {scope[0]} / {scope[1]})" if (scope := result.partial_scope()) else ""),
                     "last-modified": _timestamp(result.finished), "version": result.finished,
                     "oscal-version": "1.2.3", **({"remarks": partial_text(scope)} if scope else {})},
        # no separate assessment plan: the register's manifests and the catalogue are the plan; the reference
        # resolves to a back-matter resource naming the register (a bare "#xzgov-register" resolved to nothing)
        "import-ap": {"href": f"#{register}"},
        "results": results or [{"uuid": _uuid("empty", result.started), "title": "no systems",
                                "description": "the register has no systems", "start": _timestamp(result.started),
                                "reviewed-controls": {"control-selections": [{"include-all": {}}]}}],
        "back-matter": {"resources": [{
            "uuid": register, "title": "xzgov 登记册 / the scanned register",
            "description": _markup(f"region.yaml and systems/ at {result.register_root}: the manifests and the "
                                   f"catalogue ({json_pointer(companions)}) are the assessment plan")}]},
    }}


def _card_text(card: ScoreCard | None) -> str:
    """The card's headline with its value (or the range of values while items are untested)."""
    text = verdict_text(card)
    if card is None or card.error:
        return text
    if card.verdict or card.verdict_range:  # the figure as every report shows it (cut, not rounded)
        return f"{text} ({figure_text(card.value_range, percent=card.percent)})"
    return text


# --------------------------------------------------------------------------------------------- Markdown


def dept_label(name: str, dept: str) -> str:
    """A department as the reports show it: its name and, so that two of one name stay apart, its id (the
    id alone when it has no name)."""
    return f"{name} ({dept})" if name.strip() else dept


def _one_line(text: object) -> str:
    """``text`` on one line (whitespace runs, line breaks included, as one space), control characters shown."""
    return visible_text(" ".join(str(text).split()))


def md(text: object) -> str:
    """``text`` as literal text in a Markdown table cell or list item: one line (whitespace runs collapsed),
    control characters shown as escapes (a terminal showing the file obeys them) and every character that
    could start Markdown there escaped — no link, image, HTML, entity, code span, emphasis, strikethrough,
    math or web-address autolink can form, and ``|`` cannot end the cell (an e-mail address or ``@name`` is left
    as written: GFM may link it, showing the address itself). Characters that mean nothing where they stand
    (``[`` not closing into a link, ``_`` inside a word, ``&`` starting no entity) stay as they are, so the
    file stays readable."""
    line = _one_line(text)
    escaped = _MD_SPECIAL.sub(lambda match: _md_escape(match, line), line)
    # block syntax counts only at the start of a list item (the warnings): a heading, list, thematic break,
    # link reference definition or task box there would restructure the summary
    return _MD_BLOCK_START.sub(lambda match: f"{match.group()[:-1]}\\{match.group()[-1]}", escaped, count=1)


#: Characters with inline meaning (always: backslash, code span, emphasis, strikethrough, GitHub math, table
#: cell, HTML / autolink) and sequences that have it in context: a ``]`` a link's target or label may follow,
#: ``_`` (not inside a word), ``&`` starting an entity, ``://`` and ``www.`` (GFM autolinks).
_MD_SPECIAL = re.compile(r"[\\`*~$|<>]|\](?=[(\[]|$)|_|&(?=#?\w+;)|://|(?<![^\W_])www\.", re.IGNORECASE)
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MD_BLOCK_START = re.compile(r"^(?:\d{1,9}[.)]|[#+\-=\[])")


def _md_escape(match: re.Match[str], line: str) -> str:
    found, start, end = match.group(), match.start(), match.end()
    if found in _MD_ENTITIES:  # entities, not backslashes: the raw file then holds no "<tag" at all
        return _MD_ENTITIES[found]
    if found == "://":
        return ":\\/\\/"
    if found[:3].lower() == "www":
        return found[:3] + "\\."
    if found == "_" and start and line[start - 1].isalnum() and end < len(line) and line[end].isalnum():
        return found  # inside a word "_" neither opens nor closes emphasis
    return "\\" + found


def md_code(text: object, *, cell: bool = False) -> str:
    """``text`` as one Markdown code span showing it literally: one line, control characters as escapes,
    fenced by more backticks than its longest run of them (padded with a space, which the span drops, when
    it starts or ends with one). Nothing inside a span is escaped — backslashes and entities show as
    written — except ``|`` in a table cell (``cell=True``): GFM ends the cell at a bare one and removes the
    backslash of ``\\|`` before it reads the span."""
    line = _one_line(text)
    if cell:
        line = line.replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", line)), default=0) + 1)
    pad = " " if line[:1] == "`" or line[-1:] == "`" else ""
    return f"{fence}{pad}{line or ' '}{pad}{fence}"


#: How many blocking or waived findings the summary lists (the JSON report has every one).
MARKDOWN_FINDINGS = 200
_FAILING = frozenset({Status.FAIL, Status.PARTIAL, Status.ERROR})


def _finding_line(system: SystemReport, finding: Finding, waived: bool) -> str:
    """One finding as a list item: rule, severity, system, target, (waiver,) message, where."""
    rr = finding.result
    where = rr.evidence[0].location if rr.evidence else system.source
    target = f"@{md(rr.target)} " if rr.target else ""
    waiver = f"豁免 waiver {md(finding.waiver)} — " if waived else ""
    return (f"- **{md(rr.rule_id)}** ({md(rr.severity)}) {md_code(system.name)} {target}— {waiver}{md(rr.message)}"
            f" — {md_code(where)}")


def _findings_markdown(listed: Sequence[tuple[SystemReport, Finding]], more_in: str, waived: bool = False
                       ) -> list[str]:
    lines = [_finding_line(system, finding, waived) for system, finding in listed[:MARKDOWN_FINDINGS]]
    if len(listed) > MARKDOWN_FINDINGS:
        lines.append(f"- … {len(listed) - MARKDOWN_FINDINGS} more (see {more_in})")
    return lines or ["无 / none"]


#: The JSON report's file (and as JSON lines) and the HTML report's folder of pages: the other formats point a
#: reader to them
JSON_REPORT = "compliance-report.json"
JSON_LINES_REPORT = "compliance-report.jsonl"
PAGES_DIR = "report-pages"
#: Where the full detail is when the set holds no JSON report: the option that writes it (a set is written
#: whole, so it is added to the formats of the scan or merge that writes the set)
JSON_NOT_WRITTEN = "JSON 报告 (本报告集未含: 扫描或合并时加 --format json) / the JSON report (not in this set: add " \
                   "--format json to the scan or merge)"


def in_set(companions: Collection[str] | None, name: str) -> bool:
    """The report set holds ``name`` (``companions``: the set's file names; ``None``: the default set, which holds
    every format but JSON lines; ``()``: printed alone)."""
    return name != JSON_LINES_REPORT if companions is None else name in companions


def json_pointer(companions: Collection[str] | None) -> str:
    """Where a reader finds what a report leaves out: the JSON report (or its JSON lines) when the report set
    holds it (:func:`in_set`), else :data:`JSON_NOT_WRITTEN`."""
    return next((name for name in (JSON_REPORT, JSON_LINES_REPORT) if in_set(companions, name)), JSON_NOT_WRITTEN)


def markdown(result: ScanResult, companions: Collection[str] | None = None) -> str:
    """A short Markdown summary (CI job summaries, merge requests). Text from the register and the signed
    records goes through :func:`md` (code spans through :func:`md_code`). ``companions``: the file names of the
    report set it is written in (``()``: printed alone; ``None``: the default set), which it points a reader to."""
    more_in = json_pointer(companions)
    blocking = result.blocking()
    attested = result.attested_blocking()  # an assessor's 高风险 不符合: gates as a high finding
    # a waiver names a rule: a result it covers that did not fail (not applicable) was no finding to waive
    waived = [(system, finding) for system in result.systems for finding in system.findings
              if finding.waiver and finding.result.status in _FAILING]
    scope = result.partial_scope()
    lines = [
        "# 等保 / 密评 合规扫描摘要", "",
        *([f"- {partial_text(scope)}"] if scope else []),  # our text: its `code` stays a code span
        f"- 扫描模式 modes: {md(', '.join(result.modes))}; 时间 {md(result.started)} – {md(result.finished)}"
        + (f"; 判定基准日 as-of {md(result.as_of)}" if result.as_of else ""),
        f"- 系统 systems: {len(result.systems)}; 阻断问题 blocking findings (≥ {result.fail_on}): "
        f"{len(blocking) + len(attested)}; "
        f"豁免 waived findings: {len(waived)}",
        "", "计数列为 等保 / 密评 两个数 (each count: 等保 / 密评 items)", "",
        "| 系统 | 部门 | 层级 | 等保 | 等保结论 | 密评结论 | 不符合 | 部分 | 出错 | 豁免 | 待核查 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system in result.systems:
        pairs = system.summary_counts()
        counts = " | ".join(pair_text(pairs[key]) for key in ("fail", "partial", "error", "waived", "pending"))
        lines.append(f"| {md(system.name)} | {md(dept_label(system.department_name, system.department))} | "
                     f"{md(system.tier)} | {system.level} | {md(_card_text(system.dengbao))} | "
                     f"{md(_card_text(system.miping))} | {counts} |")
    lines += ["", "## 阻断问题 blocking findings", "", *_findings_markdown(blocking, more_in)]
    if attested:
        if lines[-1] == "无 / none":
            lines.pop()
        lines += [f"- `{ATTESTED_RULE}` [{ATTESTED_SEVERITY}] {md(system.name)}: {md(item.item_id)} "
                  f"{md(item.state.label)} 高风险 (记录 {md(item.attestation or '')})" for system, item in attested]
    # a waived finding no longer blocks: listed here so that the drop in blocking findings has its reason
    lines += ["", "## 豁免 waived findings", "", *_findings_markdown(waived, more_in, waived=True)]
    lines += ["", "## 报告模板指标 2025 report-template figures", "", *MARKDOWN_FIGURES_HEAD]
    tables = figure_tables(result)
    lines += [figures_markdown_row(system, system_figures(system, tables)) for system in result.systems]
    lines.append("")
    pages = in_set(companions, PAGES_DIR)
    lines.append(f"各安全类的符合率见{'各系统页面 (' + PAGES_DIR + '/) 与 ' if pages else ''}{more_in} / by category: "
                 f"{'the system pages and ' if pages else ''}the JSON report")
    lines += audit_markdown(result)
    lines += ["", "## 部门汇总 by department", "", "| 部门 | 系统数 | 阻断 | 等保结论 |", "|---|---|---|---|"]
    for dept, row in result.summary("department").items():
        verdicts = ", ".join(f"{k} {v}" for k, v in row["dengbao"].items())
        lines.append(f"| {md(dept_label(row['name'], dept))} | {row['systems']} | {row['blocking']} | "
                     f"{md(verdicts)} |")
    if result.warnings:
        lines += ["", "## 警告 warnings", ""] + [f"- {md(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def audit_markdown(result: ScanResult) -> list[str]:
    """判定依据: per system, how many items a rule, a signed attestation or the platform record decided,
    which signed records (file, signer, key fingerprint) and whether the conclusion is definite."""
    lines = ["", "## 判定依据 audit trail", "",
             "| 系统 | 结论 | 规则 | 签名证明 | 云平台记录 | 待核查 | 签名记录 (文件, 签名人, 指纹) |",
             "|---|---|---|---|---|---|---|"]
    for system in result.systems:
        trail = system.audit_trail()
        by = trail["by"]
        records = "; ".join(f"{md(ident)} {md_code(entry['file'], cell=True)} {md(entry['signer'])} "
                            f"{md(str(entry['signer_fingerprint']))}"
                            for ident, entry in trail["records"].items()) or "—"
        conclusion = f"确定 {md(_card_text(system.dengbao))}" if trail["definite"] else "未定 (有待核查项)"
        lines.append(f"| {md(system.name)} | {conclusion} | {by.get('rule', 0)} | {by.get('attestation', 0)} | "
                     f"{by.get('platform-record', 0)} | {by.get('pending', 0)} | {records} |")
    return lines


def counts_by_state(result: ScanResult) -> Mapping[str, int]:
    totals = {str(state): 0 for state in ItemState}
    for system in result.systems:
        for state, count in system.counts().items():
            totals[state] += count
    return totals

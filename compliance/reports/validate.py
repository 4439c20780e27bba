"""Validate reports against their schemas (the vendored official ones for SARIF and OSCAL), and check that a JSON
report read back (``xzgov diff``) holds what its version says (:func:`check_report`; :func:`read_report` also
hands back what the check read)."""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import validators
from jsonschema.exceptions import best_match

from compliance.reports import formats
from compliance.reports.formats import ReportError, shown
from xzgov.core.schema import screen_problem, screen_rejection

SCHEMAS = Path(__file__).parent / "schemas"
REPORT_SCHEMA = "report.schema.json"
SARIF_SCHEMA = "sarif-schema-2.1.0.json"
OSCAL_SCHEMA = "oscal_complete_schema.json"


def _translate(pattern: str) -> str:
    """OSCAL uses the Unicode classes ``\\p{L}`` and ``\\p{N}`` that Python's ``re`` lacks."""
    return pattern.replace("\\p{L}", "[^\\W\\d_]").replace("\\p{N}", "\\d")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    if isinstance(instance, str) and not re.search(_translate(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


@cache
def _formats(name: str) -> dict[str, Callable[[Any], bool]]:
    """Each ``format`` schema ``name`` uses, checked as jsonschema checks it (not at all when it has no checker,
    e.g. ``uri`` here): the screen then decides formats exactly as the explainer does."""
    checker = validator(name).format_checker
    used = set(re.findall(r'"format"\s*:\s*"([^"]+)"', json.dumps(schema(name))))
    return {format_name: functools.partial(_conforms, checker, format_name) for format_name in sorted(used)}


def _conforms(checker: Any, format_name: str, value: Any) -> bool:
    return bool(checker.conforms(value, format_name))


@cache
def validator(name: str) -> Any:
    document = schema(name)
    base = validators.validator_for(document)
    cls = validators.extend(base, {"pattern": _pattern})
    return cls(document, format_checker=base.FORMAT_CHECKER)


def errors(name: str, instance: Any, limit: int = 20, size: int | None = None) -> list[str]:
    """Up to ``limit`` validation errors of ``instance`` against schema ``name`` (empty when valid), each as
    ``path: message (schema keyword: expected)``; a long value is cut in the message, never the keyword."""
    return [f"{where}: {message}" for where, message in problems(name, instance, limit, size)]


#: Size (characters of JSON text) from which a document is screened first (:func:`xzgov.core.schema.screen_rejection`):
#: the compiled screen checks a valid document 8-12x faster than jsonschema but is built once per process, in
#: 0.08 s (report), 0.5 s (SARIF) and 1.3 s (the whole OSCAL model) — measured on a 500-system set, where
#: jsonschema took 6.6 s (3.0 MB report), 0.5 s (2.6 MB SARIF) and 1.9 s (4.2 MB OSCAL) and the screen 0.5,
#: 0.06 and 0.2 s. Below these sizes building the screen costs more than it saves.
SCREEN_FROM = {REPORT_SCHEMA: 0, SARIF_SCHEMA: 2 << 20, OSCAL_SCHEMA: 3 << 20}


def problems(name: str, instance: Any, limit: int = 20, size: int | None = None) -> list[tuple[str, str]]:
    """Up to ``limit`` validation errors of ``instance`` against schema ``name`` as (field path, message).
    ``size`` (characters of its JSON text): from :data:`SCREEN_FROM` on (always when not given) a document the
    compiled screen accepts is valid without more; one it rejects is explained by jsonschema, and refused at
    the field the screen names should jsonschema find nothing (the two are checked to agree)."""
    rejection = None
    if size is None or size >= SCREEN_FROM.get(name, 0):
        rejection = screened(name, instance)
        if rejection is None:
            return []
    return refused(_explained(name, instance, limit), rejection)


def screened(name: str, instance: Any) -> Any:
    """Why the compiled screen of schema ``name`` rejects ``instance`` (``None``: it is valid)."""
    return screen_rejection(instance, schema(name), _translate, _formats(name), document=True)


def _explained(name: str, instance: Any, limit: int) -> list[tuple[str, str]]:
    return explained(validator(name), instance, limit)


def explained(checker: Any, instance: Any, limit: int,
              describe_error: Callable[[Any], str] | None = None) -> list[tuple[str, str]]:
    """Up to ``limit`` errors the jsonschema validator ``checker`` finds in ``instance``, as (field path,
    message by ``describe_error``, :func:`describe` by default)."""
    found: list[tuple[str, str]] = []
    for error in checker.iter_errors(instance):
        if error.context:  # a oneOf/anyOf at the top: name the field the likeliest branch failed on
            error = best_match(error.context)
        found.append((field_path(error.absolute_path), (describe_error or describe)(error)))
        if len(found) >= limit:
            break
    return found


def refused(found: list[tuple[str, str]], rejection: Any) -> list[tuple[str, str]]:
    """``found`` (jsonschema's explanation of what the screen rejected) or, should jsonschema find nothing, the
    screen's own word at the field it names: a document is never accepted on the explainer's word."""
    if not found and rejection is not None:
        path, message = screen_problem(rejection)
        found.append((field_path(path), message))
    return found


def field_path(parts: Iterable[str | int]) -> str:
    """A JSON path as the diagnostics write it: ``systems[0].states``, ``catalogue.items['GB/T 22239-2019:8.1.1.1.a']``
    (``(root)`` for the document)."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _NAME.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{part!r}]"
    return path or "(root)"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


#: Characters of a value shown in a schema error (the rest is cut; the path and keyword are always shown).
VALUE_SHOWN = 80


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text):,} characters)"


def describe(error: jsonschema.ValidationError) -> str:
    """One schema error: its message with the failing value cut to :data:`VALUE_SHOWN` characters, then the
    schema keyword that failed and what it expects (a pattern, a type, an enum …)."""
    full = repr(error.instance)
    if len(full) > VALUE_SHOWN:
        size = len(error.instance) if isinstance(error.instance, str) else len(full)
        message = error.message.replace(full, f"{full[:VALUE_SHOWN - 1]}… ({size:,} characters)")
    else:
        message = error.message
    expected = json.dumps(error.validator_value, ensure_ascii=False, default=str)
    return f"{_cut(message, 400)} (schema {error.validator}: {_cut(expected, 200)})"


#: Report versions validated against ``report.schema.json`` before they are read: it describes version 9
#: and, through the differences it names (``allOf``), versions 7 and 8.
SCHEMA_VERSIONS = frozenset({7, 8, 9})
#: What to do about a report of a version this release does not read.
UPGRADE_HINT = "upgrade xzgov to the release that wrote the report (or a later one) and run the command again"
BAD_VERSION_HINT = ("every report xzgov writes gives its version as an integer: use the report as it was written; "
                    "a report of another release needs that release or a later one (upgrade xzgov)")
NOT_A_REPORT_HINT = ("pass the compliance-report.json (or compliance-report.jsonl) that `xzgov scan --out DIR` "
                     "writes, or that directory")


@dataclass(frozen=True)
class ReadSystem:
    """One system of a checked report as the check read it: its item and finding records (those of
    :func:`~compliance.reports.formats.expand_items` and :func:`~compliance.reports.formats.expand_findings`; a
    version 1 report's as it wrote them out)."""

    name: str
    items: Sequence[Mapping[str, Any]]
    findings: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class CheckedReport:
    """A JSON report :func:`read_report` checked, with what the check read: every system in report order, so
    that nothing reads the systems a second time (``xzgov diff``)."""

    data: Mapping[str, Any]
    version: int
    systems: tuple[ReadSystem, ...]


def check_report(report: Any, limit: int = 20) -> int:
    """The version of ``report``, a JSON report this release reads completely (:func:`read_report`)."""
    return read_report(report, limit).version


def read_report(report: Any, limit: int = 20) -> CheckedReport:
    """``report``, a JSON report this release reads completely, with every system's items and findings as read
    when checking them; else :class:`~compliance.reports.formats.ReportError` (exit 2) naming each field: the
    ``format``; a ``version``
    that is an integer from 1 to :data:`~compliance.reports.formats.REPORT_VERSION` (a newer one: upgrade
    xzgov); versions 7 to 9 valid against ``report.schema.json``; ``systems`` a list of systems with unique
    names; every system's items and findings readable (:func:`~compliance.reports.formats.expand_items`; a
    version 1 report: the records it wrote out). ``xzgov diff`` reads both reports with it.
    """
    if not isinstance(report, Mapping):
        raise ReportError([("(root)", "不是 JSON 对象 / not a JSON object")], NOT_A_REPORT_HINT)
    if report.get("format") != formats.REPORT_FORMAT:
        raise ReportError([("format", f"应为 \"{formats.REPORT_FORMAT}\", 实为 {shown(report.get('format'))} / not an "
                                      "xzgov compliance report")], NOT_A_REPORT_HINT)
    version = report.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < formats.OLDEST_READABLE_VERSION:
        raise ReportError([("version", f"{shown(version)} 不是报告版本 (整数 {formats.OLDEST_READABLE_VERSION}–"
                                       f"{formats.REPORT_VERSION}) / not a report version (an integer from "
                                       f"{formats.OLDEST_READABLE_VERSION} to {formats.REPORT_VERSION})")],
                          BAD_VERSION_HINT)
    if version > formats.REPORT_VERSION:
        raise ReportError([("version", f"报告版本 {version}, 本版 xzgov 只读版本 {formats.OLDEST_READABLE_VERSION}–"
                                       f"{formats.REPORT_VERSION} / report version {version}: this xzgov reads "
                                       f"versions {formats.OLDEST_READABLE_VERSION} to {formats.REPORT_VERSION}")],
                          UPGRADE_HINT)
    if version in SCHEMA_VERSIONS:
        found = problems(REPORT_SCHEMA, report, limit)
        if found:
            raise ReportError([(where, f"不符合报告模式 / not as report.schema.json says: {message}")
                               for where, message in found])
    systems = report.get("systems")
    if not isinstance(systems, list):
        raise ReportError([("systems", f"应为数组, 实为 {shown(systems)} / not an array")])
    first: dict[str, int] = {}
    for index, system in enumerate(systems):
        name = system.get("name") if isinstance(system, Mapping) else None
        if not isinstance(name, str):
            raise ReportError([(f"systems[{index}].name", "缺少系统名称 / no system name")])
        if name in first:
            raise ReportError([(f"systems[{index}].name", f"系统 {name!r} 已在 systems[{first[name]}] / system "
                                                          f"{name!r} is also systems[{first[name]}]: a report "
                                                          "holds each system once")])
        first[name] = index
    read: list[ReadSystem] = []
    for index, system in enumerate(systems):
        if version not in SCHEMA_VERSIONS:
            _check_cards(system, index)
        if version == 1:
            _check_written_out(system, index)
            read.append(ReadSystem(system["name"], system["items"], system["findings"]))
            continue
        if "items" in system:
            raise ReportError([(f"systems[{index}].items", f"版本 {version} 的报告不逐项写出 / a version {version} "
                                                           "report writes no items (only version 1 does)")])
        items, findings = formats.expand_system(report, system)
        _check_summary(report, system, index, items)
        read.append(ReadSystem(system["name"], items, findings))
    return CheckedReport(report, version, tuple(read))


def _check_summary(report: Mapping[str, Any], system: Mapping[str, Any], index: int,
                   items: list[dict[str, Any]]) -> None:
    """What a system says of itself besides its items agrees with them: its score cards are in the report's
    ``score_cards`` (versions that name them) and its ``counts`` are its items' states. A signed report whose
    cards resolve to nothing or whose counts contradict its states is not what its version says."""
    cards = report.get("score_cards")
    for key in ("dengbao", "miping"):
        ref = system.get(key)
        if isinstance(ref, str) and not (isinstance(cards, Mapping) and ref in cards):
            raise ReportError([(f"systems[{index}].{key}", f"评分卡 {ref!r} 不在 score_cards 中 / score card {ref!r} "
                                                           "is not in score_cards")])
    counts = system.get("counts")
    if isinstance(counts, Mapping):
        found = Counter(str(item["state"]) for item in items)
        for state, said in counts.items():
            if said != found.get(str(state), 0):
                raise ReportError([(f"systems[{index}].counts.{state}", f"{shown(said)} 与条目状态不符 (条目中 "
                                    f"{found.get(str(state), 0)} 项) / disagrees with the items' states "
                                    f"({found.get(str(state), 0)})")])


def _check_written_out(system: Mapping[str, Any], index: int) -> None:
    """A version 1 system: its items and findings written out as records (what ``xzgov diff`` reads of them)."""
    for key, members in (("items", ("item", "state", "title", "note")),
                         ("findings", ("rule", "point", "target", "status", "severity", "message"))):
        records = system.get(key)
        if not isinstance(records, list):
            raise ReportError([(f"systems[{index}].{key}", f"应为数组, 实为 {shown(records)} / not an array")])
        for position, record in enumerate(records):
            where = f"systems[{index}].{key}[{position}]"
            if not isinstance(record, Mapping):
                raise ReportError([(where, f"应为对象, 实为 {shown(record)} / not an object")])
            for member in members:
                if not isinstance(record.get(member), str):
                    raise ReportError([(f"{where}.{member}", f"应为字符串, 实为 {shown(record.get(member))} / "
                                                             "not a string")])
            for member in ("waiver", "underlying"):  # what the diff compares, when written
                value = record.get(member)
                if value is not None and not isinstance(value, str):
                    raise ReportError([(f"{where}.{member}", f"应为字符串, 实为 {shown(value)} / not a string")])


def _check_cards(system: Mapping[str, Any], index: int) -> None:
    """A system's score cards written inline (the versions before the schema) as the diff reads them: a verdict
    text, a range of two, a list of 高风险 items — a malformed one stopped ``xzgov diff`` with an internal error."""
    for name in ("dengbao", "miping"):
        card = system.get(name)
        if card is None or isinstance(card, str):  # absent, or a key of score_cards (checked with the summary)
            continue
        where = f"systems[{index}].{name}"
        if not isinstance(card, Mapping):
            raise ReportError([(where, f"应为对象, 实为 {shown(card)} / not an object")])
        verdict, span, risks = card.get("verdict"), card.get("verdict_range"), card.get("high_risk")
        if verdict is not None and not isinstance(verdict, str):
            raise ReportError([(f"{where}.verdict", f"应为字符串, 实为 {shown(verdict)} / not a string")])
        if span is not None and not (isinstance(span, list) and len(span) == 2
                                     and all(isinstance(v, str) for v in span)):
            raise ReportError([(f"{where}.verdict_range", f"应为两个字符串, 实为 {shown(span)} / not two strings")])
        if risks is not None and not (isinstance(risks, list) and all(isinstance(r, str) for r in risks)):
            raise ReportError([(f"{where}.high_risk", f"应为字符串数组, 实为 {shown(risks)} / not a list of strings")])


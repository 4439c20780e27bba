"""Machine formats of a scan: JSON (own schema), SARIF 2.1.0, JUnit XML, OSCAL assessment-results, Markdown.

Every function is pure: ``ScanResult`` (or its JSON) in, text/data out. The HTML report is in
:mod:`compliance.reports.html`.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from compliance.results import ItemState, ScanResult, ScoreCard, verdict_text
from policies.engine import Severity, Status
from policies.registry import RULES_BY_ID

TOOL = "xzgov"
TOOL_VERSION = "0.1.0"
_NAMESPACE = uuid.UUID("5f1c3a52-6d7e-4c1b-9a55-8e0f3c2b7a10")  # xzgov compliance namespace for uuid5
_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
_FILE_LINE = re.compile(r"^(?P<file>[^\s:][^:]*\.(?:ya?ml|json)):(?P<line>\d+)$")


def report_json(result: ScanResult) -> dict[str, Any]:
    """The JSON report (schema: ``compliance/reports/schemas/report.schema.json``)."""
    return result.to_json()


# --------------------------------------------------------------------------------------------- SARIF


def _location(location: str) -> dict[str, Any]:
    found = _FILE_LINE.match(location)
    if found:
        return {"physicalLocation": {"artifactLocation": {"uri": found["file"], "uriBaseId": "REGISTER_ROOT"},
                                     "region": {"startLine": int(found["line"])}}}
    return {"logicalLocations": [{"name": location[:500], "kind": "resource"}]}


def sarif(result: ScanResult) -> dict[str, Any]:
    """SARIF 2.1.0: one run; every rule as a reporting descriptor; every failing, partial or errored
    rule result as a result (waived ones carry an external suppression)."""
    rules = []
    index: dict[str, int] = {}
    for position, rule in enumerate(RULES_BY_ID.values()):
        index[rule.id] = position
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
    results: list[dict[str, Any]] = []
    for system in result.systems:
        for finding in system.findings:
            rr = finding.result
            if rr.status in (Status.PASS, Status.NOT_APPLICABLE):
                continue
            locations = [_location(e.location) for e in rr.evidence[:10]] or [_location(system.source)]
            entry: dict[str, Any] = {
                "ruleId": rr.rule_id,
                "ruleIndex": index[rr.rule_id],
                "kind": "fail" if rr.status in (Status.FAIL, Status.PARTIAL) else "review",
                "level": _SARIF_LEVEL[rr.severity] if rr.status is not Status.ERROR else "error",
                "message": {"text": f"[{system.name}] {rr.message}"
                                    + "".join(f"\n- {e.observed} ({e.location})" for e in rr.evidence[:10])},
                "locations": locations,
                "partialFingerprints": {"xzgov/v1": f"{system.name}|{rr.rule_id}|{rr.point}|{rr.target}"},
                "properties": {"system": system.name, "department": system.department, "point": str(rr.point),
                               "target": rr.target, "status": str(rr.status), "severity": str(rr.severity),
                               "controls": {c: str(rr.status_of(c)) for c in rr.controls}},
            }
            if finding.waiver:
                entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                          "justification": f"waiver {finding.waiver}"}]
            results.append(entry)
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
            "properties": {"modes": list(result.modes), "fail_on": str(result.fail_on)},
        }],
    }


# --------------------------------------------------------------------------------------------- JUnit


def junit(result: ScanResult) -> str:
    """JUnit XML for CI gating: one testsuite per system, one testcase per rule result. Unwaived failing,
    partial or errored results at or above ``--fail-on`` are failures / errors; waived or lower ones pass
    with the reason in ``system-out``; not-applicable ones are skipped."""
    root = ET.Element("testsuites", name="xzgov compliance scan")
    total = failures = errors = skipped = 0
    for system in result.systems:
        suite = ET.SubElement(root, "testsuite", name=f"{system.name} {system.title}")
        s_total = s_fail = s_err = s_skip = 0
        for finding in system.findings:
            rr = finding.result
            target = f"@{rr.target}" if rr.target and rr.point.value == "host" else ""
            case = ET.SubElement(suite, "testcase", classname=f"{system.name}.{rr.point}",
                                 name=f"{rr.rule_id}{target} {RULES_BY_ID[rr.rule_id].title}")
            s_total += 1
            detail = "\n".join(f"{e.observed} ({e.location})" for e in rr.evidence[:20])
            gating = finding.blocking and rr.severity >= result.fail_on
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
                ET.SubElement(case, "system-out").text = f"{rr.status}: {rr.message} ({why})\n{detail}"
        suite.set("tests", str(s_total))
        suite.set("failures", str(s_fail))
        suite.set("errors", str(s_err))
        suite.set("skipped", str(s_skip))
        total, failures, errors, skipped = total + s_total, failures + s_fail, errors + s_err, skipped + s_skip
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return xml_document(root)


#: Characters XML 1.0 forbids (C0 controls other than tab, LF, CR; surrogates; U+FFFE/U+FFFF). YAML escapes
#: such as "\x07" put them into titles and messages; ElementTree would write them and break every parser.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with characters XML 1.0 forbids shown as visible escapes (``\\x07``), never dropped silently."""
    return _XML_FORBIDDEN.sub(lambda match: f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100
                              else f"\\u{ord(match.group()):04x}", text)


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


def oscal(result: ScanResult) -> dict[str, Any]:
    """OSCAL 1.2.3 assessment-results: one result per system; a finding per judged item (manual-pending
    and inherited items are listed as reviewed controls only), observations carry the evidence."""
    results: list[dict[str, Any]] = []
    for system in result.systems:
        observations: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        for item in system.items:
            if item.state in (ItemState.MANUAL_PENDING, ItemState.INHERITED):
                continue
            state, reason = _OSCAL_STATE[item.state]
            related: list[dict[str, str]] = []
            for n, evidence in enumerate(item.evidence[:5]):
                obs_uuid = _uuid(system.name, item.item_id, "obs", str(n), evidence.location, evidence.observed)
                observations.append({
                    "uuid": obs_uuid,
                    "description": (evidence.observed or "observed").strip() or "observed",
                    "methods": ["TEST"],
                    "types": ["finding"],
                    "props": [{"name": "location", "ns": "https://xzgov.io/ns/oscal", "value": evidence.location}],
                    "collected": _timestamp(evidence.at or result.started),
                })
                related.append({"observation-uuid": obs_uuid})
            props = [{"name": "item-state", "ns": "https://xzgov.io/ns/oscal", "value": str(item.state)},
                     {"name": "item-id", "ns": "https://xzgov.io/ns/oscal", "value": item.item_id}]
            if item.waiver:
                props.append({"name": "waiver", "ns": "https://xzgov.io/ns/oscal", "value": item.waiver})
            finding: dict[str, Any] = {
                "uuid": _uuid(system.name, item.item_id, "finding"),
                "title": f"{item.item_id} {item.title}",
                "description": item.note or f"{item.state.label} ({', '.join(item.rules) or 'attested'})",
                "props": props,
                "target": {"type": "objective-id", "target-id": token(item.item_id),
                           "status": {"state": state, "reason": reason}},
            }
            if related:
                finding["related-observations"] = related
            findings.append(finding)
        entry: dict[str, Any] = {
            "uuid": _uuid(system.name, result.started, "result"),
            "title": f"{system.title} ({system.name}) 等保 {system.level} 级 / 密评 {system.crypto_level} 级",
            "description": f"xzgov scan ({', '.join(result.modes)}) of {system.name}; 等保: "
                           f"{_card_text(system.dengbao)}; 密评: {_card_text(system.miping)}",
            "start": _timestamp(result.started),
            "end": _timestamp(result.finished),
            "props": [{"name": "department", "ns": "https://xzgov.io/ns/oscal", "value": system.department},
                      {"name": "tier", "ns": "https://xzgov.io/ns/oscal", "value": system.tier}],
            "reviewed-controls": {"control-selections": [{
                "include-controls": [{"control-id": token(item.item_id)} for item in system.items]}]},
        }
        if observations:
            entry["observations"] = observations
        if findings:
            entry["findings"] = findings
        results.append(entry)
    return {"assessment-results": {
        "uuid": _uuid("assessment-results", result.started, result.register_root),
        "metadata": {"title": "西藏自治区数字政府 政务云 等保/密评 合规扫描结果",
                     "last-modified": _timestamp(result.finished), "version": result.finished,
                     "oscal-version": "1.2.3"},
        "import-ap": {"href": "#xzgov-register"},
        "results": results or [{"uuid": _uuid("empty", result.started), "title": "no systems",
                                "description": "the register has no systems", "start": _timestamp(result.started),
                                "reviewed-controls": {"control-selections": [{"include-all": {}}]}}],
    }}


def _card_text(card: ScoreCard | None) -> str:
    """The card's headline with its value (or the range of values while items are untested)."""
    text = verdict_text(card)
    if card is None or card.error:
        return text
    if card.verdict:
        return f"{text} ({card.value:.4g})" if card.value is not None else text
    if card.verdict_range:
        low, high = card.value_range
        return f"{text} ({low:.4g}–{high:.4g})"
    return text


# --------------------------------------------------------------------------------------------- Markdown


def markdown(result: ScanResult) -> str:
    """A short Markdown summary (CI job summaries, merge requests)."""
    blocking = result.blocking()
    lines = [
        "# 等保 / 密评 合规扫描摘要", "",
        f"- 扫描模式 modes: {', '.join(result.modes)}; 时间 {result.started} – {result.finished}",
        f"- 系统 systems: {len(result.systems)}; 阻断问题 blocking findings (≥ {result.fail_on}): {len(blocking)}",
        "", "| 系统 | 部门 | 层级 | 等保 | 等保结论 | 密评结论 | 不符合 | 部分 | 出错 | 待核查 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system in result.systems:
        counts = system.counts()
        lines.append(f"| {system.name} | {system.department_name} | {system.tier} | {system.level} | "
                     f"{_card_text(system.dengbao)} | {_card_text(system.miping)} | {counts['fail']} | "
                     f"{counts['partial']} | {counts['error']} | {counts['manual-pending']} |")
    lines += ["", "## 阻断问题 blocking findings", ""]
    if not blocking:
        lines.append("无 / none")
    for system, finding in blocking[:200]:
        rr = finding.result
        where = rr.evidence[0].location if rr.evidence else system.source
        lines.append(f"- **{rr.rule_id}** ({rr.severity}) `{system.name}` {rr.target and f'@{rr.target} '}"
                     f"— {rr.message} — `{where}`")
    if len(blocking) > 200:
        lines.append(f"- … {len(blocking) - 200} more (see compliance-report.json)")
    lines += ["", "## 部门汇总 by department", "", "| 部门 | 系统数 | 阻断 | 等保结论 |", "|---|---|---|---|"]
    for name, row in result.summary("department").items():
        verdicts = ", ".join(f"{k} {v}" for k, v in row["dengbao"].items())
        lines.append(f"| {name} | {row['systems']} | {row['blocking']} | {verdicts} |")
    if result.warnings:
        lines += ["", "## 警告 warnings", ""] + [f"- {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def counts_by_state(result: ScanResult) -> Mapping[str, int]:
    totals = {str(state): 0 for state in ItemState}
    for system in result.systems:
        for state, count in system.counts().items():
            totals[state] += count
    return totals

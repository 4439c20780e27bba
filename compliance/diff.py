"""Differences between two JSON reports: new failures and fixed items (``xzgov diff OLD NEW``).

Reports are compared per (system, catalogue item) and per (system, rule, point, target). An item
*fails* when its state is ``fail``, ``partial`` or ``error``; ``waived`` is not a failure. Both
reports' signed bundles are verified by the CLI before anything is compared, and each report's systems are
read once, by the check of what it holds (:func:`compliance.reports.validate.read_report`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compliance.reports.formats import expand_system
from compliance.reports.validate import CheckedReport, ReadSystem

FAILING = frozenset({"fail", "partial", "error"})


@dataclass
class ReportDiff:
    new_failures: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    new_findings: list[dict[str, Any]] = field(default_factory=list)
    resolved_findings: list[dict[str, Any]] = field(default_factory=list)
    systems_added: list[str] = field(default_factory=list)
    systems_removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"new_failures": self.new_failures, "fixed": self.fixed, "new_findings": self.new_findings,
                "resolved_findings": self.resolved_findings, "systems_added": self.systems_added,
                "systems_removed": self.systems_removed}


def _systems(report: CheckedReport | Mapping[str, Any]) -> Sequence[ReadSystem]:
    """The systems of ``report`` with their item and finding records: as its check read them, or read here from
    a report nobody checked (a version 1 system's records as written out)."""
    if isinstance(report, CheckedReport):
        return report.systems
    return [ReadSystem(s["name"], s["items"], s["findings"]) if "items" in s else
            ReadSystem(s["name"], *expand_system(report, s)) for s in report["systems"]]


def _items(systems: Sequence[ReadSystem]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(s.name, i["item"]): i for s in systems for i in s.items}


def _findings(systems: Sequence[ReadSystem]) -> dict[tuple[str, str, str, str], Mapping[str, Any]]:
    return {(s.name, f["rule"], f["point"], f["target"]): f for s in systems for f in s.findings
            if f["status"] in FAILING and not f.get("waiver")}


def diff_reports(old: CheckedReport | Mapping[str, Any], new: CheckedReport | Mapping[str, Any]) -> ReportDiff:
    """What failed in ``new`` and not in ``old`` (new failures) and the reverse (fixed). A
    :class:`~compliance.reports.validate.CheckedReport` is compared as its check read it (``xzgov diff``)."""
    result = ReportDiff()
    old_systems, new_systems = _systems(old), _systems(new)
    old_names = {s.name for s in old_systems}
    new_names = {s.name for s in new_systems}
    result.systems_added = sorted(new_names - old_names)
    result.systems_removed = sorted(old_names - new_names)
    before, after = _items(old_systems), _items(new_systems)
    for key, item in sorted(after.items()):
        was = before.get(key)
        if item["state"] in FAILING and (was is None or was["state"] not in FAILING):
            result.new_failures.append({"system": key[0], "item": key[1], "title": item["title"],
                                        "state": item["state"], "was": was["state"] if was else None,
                                        "note": item["note"]})
    for key, item in sorted(before.items()):
        now = after.get(key)
        if item["state"] in FAILING and now is not None and now["state"] not in FAILING:
            result.fixed.append({"system": key[0], "item": key[1], "title": item["title"], "was": item["state"],
                                 "state": now["state"]})
    old_f, new_f = _findings(old_systems), _findings(new_systems)
    for fkey in sorted(set(new_f) - set(old_f)):
        finding = new_f[fkey]
        result.new_findings.append({"system": fkey[0], "rule": fkey[1], "point": fkey[2], "target": fkey[3],
                                    "severity": finding["severity"], "message": finding["message"]})
    for fkey in sorted(set(old_f) - set(new_f)):
        finding = old_f[fkey]
        result.resolved_findings.append({"system": fkey[0], "rule": fkey[1], "point": fkey[2], "target": fkey[3],
                                         "severity": finding["severity"], "message": finding["message"]})
    return result

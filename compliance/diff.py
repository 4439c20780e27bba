"""Differences between two JSON reports: new failures and fixed items (``xzgov diff OLD NEW``).

Reports are compared per (system, catalogue item) and per (system, rule, point, target). An item
*fails* when its state is ``fail``, ``partial`` or ``error``; ``waived`` is not a failure. Both
reports' signed bundles are verified by the CLI before anything is compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.reports.formats import expand_findings, expand_items

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


def _items(report: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    if "items" in (report["systems"][0] if report["systems"] else {}):  # version 1: items written out
        return {(s["name"], i["item"]): i for s in report["systems"] for i in s["items"]}
    return {(s["name"], i["item"]): i for s in report["systems"] for i in expand_items(report, s)}


def _findings(report: Mapping[str, Any]) -> dict[tuple[str, str, str, str], Mapping[str, Any]]:
    return {(s["name"], f["rule"], f["point"], f["target"]): f for s in report["systems"]
            for f in (expand_findings(report, s) if "items" not in s else s["findings"])
            if f["status"] in FAILING and not f.get("waiver")}


def diff_reports(old: Mapping[str, Any], new: Mapping[str, Any]) -> ReportDiff:
    """What failed in ``new`` and not in ``old`` (new failures) and the reverse (fixed)."""
    result = ReportDiff()
    old_names = {s["name"] for s in old["systems"]}
    new_names = {s["name"] for s in new["systems"]}
    result.systems_added = sorted(new_names - old_names)
    result.systems_removed = sorted(old_names - new_names)
    before, after = _items(old), _items(new)
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
    old_f, new_f = _findings(old), _findings(new)
    for fkey in sorted(set(new_f) - set(old_f)):
        finding = new_f[fkey]
        result.new_findings.append({"system": fkey[0], "rule": fkey[1], "point": fkey[2], "target": fkey[3],
                                    "severity": finding["severity"], "message": finding["message"]})
    for fkey in sorted(set(old_f) - set(new_f)):
        finding = old_f[fkey]
        result.resolved_findings.append({"system": fkey[0], "rule": fkey[1], "point": fkey[2], "target": fkey[3],
                                         "severity": finding["severity"], "message": finding["message"]})
    return result

"""Differences between two JSON reports: new failures, fixed items and changed waivers (``xzgov diff OLD NEW``).

Reports are compared per (system, catalogue item) and per (system, rule, point, target). An item
*fails* when its state is ``fail``, ``partial`` or ``error``; ``waived`` is not a failure, and not a fix
either: the risk is accepted, the deficiency remains. So an item going from failing to waived is listed as
waived, not fixed; one whose waiver no longer covers it (waived to failing) fails anew — a new failure, as
before waivers were listed, so that a pipeline gating on ``new_failures`` still stops — and is also listed as
no longer waived; findings likewise. An item failing (or waived) before and ``manual-pending`` now (no rule
decides it any more, no attestation yet) is not known to pass: it is listed as now pending, not fixed; so is
one that passed (or was not applicable or inherited) before: its attestation lapsed, or no rule decides it now.
Both reports' signed bundles are verified by the CLI before anything is compared, and each report's
systems are read once, by the check of what it holds (:func:`compliance.reports.validate.read_report`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compliance.reports.formats import ATTESTED_RULE, expand_system
from compliance.reports.validate import CheckedReport, ReadSystem
from compliance.results import ATTESTED_SEVERITY
from policies.engine import Severity

FAILING = frozenset({"fail", "partial", "error"})
WAIVED = "waived"
#: Not known either way: no rule decides the item and its attestation is still to come (待人工核查).
PENDING = "manual-pending"
INHERITED = "inherited"
#: How bad a conclusion is (GB/T 22239 / GB/T 39786 and the older 优/良/中/差 grades): higher is worse.
_WORSE = {"符合": 0, "优": 0, "基本符合": 1, "良": 1, "中": 2, "不符合": 3, "差": 3}


@dataclass
class ReportDiff:
    """The differences; every list sorted by system, then item or rule. The lists of waivers were added after
    the others: ``new_failures`` / ``new_findings`` still hold what fails now and did not (a waiver's end
    included: ``no_longer_waived`` names those), while ``fixed`` / ``resolved_findings`` no longer hold what a
    waiver now covers (``waived``): accepted risk is no fix."""

    new_failures: list[dict[str, Any]] = field(default_factory=list)  #: now failing, was not (waived is not)
    fixed: list[dict[str, Any]] = field(default_factory=list)  #: failing or waived before, decided and neither now
    new_findings: list[dict[str, Any]] = field(default_factory=list)
    resolved_findings: list[dict[str, Any]] = field(default_factory=list)  #: failing before (waived or not), not now
    systems_added: list[str] = field(default_factory=list)
    systems_removed: list[str] = field(default_factory=list)
    waived: list[dict[str, Any]] = field(default_factory=list)  #: now waived, was not: accepted, not fixed
    no_longer_waived: list[dict[str, Any]] = field(default_factory=list)  #: waived before, failing now (also new)
    waived_findings: list[dict[str, Any]] = field(default_factory=list)
    no_longer_waived_findings: list[dict[str, Any]] = field(default_factory=list)
    #: decided before (failing, waived — not fixed — or passing: a lapsed attestation), ``manual-pending`` now
    now_pending: list[dict[str, Any]] = field(default_factory=list)
    #: a system whose 等保 or 密评 conclusion got worse (its worst case), or gained 高风险 items: what an
    #: assessor's changed judgement or the platform's record does through items whose state stays the same
    #: (an inherited item's underlying result, an attested row's high_risk)
    verdicts_worse: list[dict[str, Any]] = field(default_factory=list)
    #: the new findings (a waiver's end included) that block the new report's gate: unwaived, at or above its
    #: ``fail_on``. A second rule failing an item already failing changes no item's state: it gates here. Also
    #: the items an assessor's record fails with a 高风险 a score card vetoes on that did not gate before (rule
    #: ``XZ-ATTESTED``, point the item, target the attestation set: as the scan's gate counts them)
    blocking_findings: list[dict[str, Any]] = field(default_factory=list)
    #: what makes the comparison doubtful (the "new" report scanned before the "old" one: swapped, or an
    #: older signed report replayed as new)
    warnings: list[str] = field(default_factory=list)

    @property
    def gates(self) -> bool:
        """Something blocks now that did not: a new failure, a failure whose waiver no longer covers it, a new
        blocking finding (:attr:`blocking_findings`) or a conclusion that got worse."""
        return bool(self.new_failures or self.no_longer_waived or self.verdicts_worse or self.blocking_findings)

    def to_json(self) -> dict[str, Any]:
        return {"new_failures": self.new_failures, "fixed": self.fixed, "new_findings": self.new_findings,
                "resolved_findings": self.resolved_findings, "systems_added": self.systems_added,
                "systems_removed": self.systems_removed, "waived": self.waived,
                "no_longer_waived": self.no_longer_waived, "waived_findings": self.waived_findings,
                "no_longer_waived_findings": self.no_longer_waived_findings, "now_pending": self.now_pending,
                "verdicts_worse": self.verdicts_worse, "blocking_findings": self.blocking_findings,
                "warnings": self.warnings}


def _systems(report: CheckedReport | Mapping[str, Any]) -> Sequence[ReadSystem]:
    """The systems of ``report`` with their item and finding records: as its check read them, or read here from
    a report nobody checked (a version 1 system's records as written out)."""
    if isinstance(report, CheckedReport):
        return report.systems
    return [ReadSystem(s["name"], s["items"], s["findings"]) if "items" in s else
            ReadSystem(s["name"], *expand_system(report, s)) for s in report["systems"]]


def _data(report: CheckedReport | Mapping[str, Any]) -> Mapping[str, Any]:
    return report.data if isinstance(report, CheckedReport) else report


def _items(systems: Sequence[ReadSystem]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(s.name, i["item"]): i for s in systems for i in s.items}


#: a finding's target when it is the system's own manifest (``_findings``): moved to another folder, the file is
#: the same system's, and its findings are not new
OWN_MANIFEST = "<manifest>"


def _findings(systems: Sequence[ReadSystem], sources: Mapping[str, str]) -> dict[tuple[str, str, str, str],
                                                                                 Mapping[str, Any]]:
    """The failing findings, waived or not, by (system, rule, point, target) — the target :data:`OWN_MANIFEST`
    where it is the system's manifest (``sources``: system name → its manifest path in that report)."""
    return {(s.name, f["rule"], f["point"], OWN_MANIFEST if f["target"] == sources.get(s.name) else f["target"]): f
            for s in systems for f in s.findings if f["status"] in FAILING}


def _sources(report: Mapping[str, Any]) -> dict[str, str]:
    """System name → the manifest it was read from, as the report records it."""
    return {str(entry["name"]): str(entry["source"]) for entry in report.get("systems", ())
            if isinstance(entry, Mapping) and entry.get("source")}


def _failing(item: Mapping[str, Any] | None) -> bool:
    """A failing item: its state, or an inherited item the platform's record fails (:func:`_inherited_failing`)."""
    return item is not None and (item.get("state") in FAILING or _inherited_failing(item))


def _item_entry(key: tuple[str, str], item: Mapping[str, Any], was: Mapping[str, Any] | None,
                now: Mapping[str, Any]) -> dict[str, Any]:
    return {"system": key[0], "item": key[1], "title": item["title"], "was": was["state"] if was else None,
            "state": now["state"]}


def _finding_entry(key: tuple[str, str, str, str], finding: Mapping[str, Any]) -> dict[str, Any]:
    return {"system": key[0], "rule": key[1], "point": key[2], "target": finding["target"],
            "severity": finding["severity"], "message": finding["message"]}


def diff_reports(old: CheckedReport | Mapping[str, Any], new: CheckedReport | Mapping[str, Any]) -> ReportDiff:
    """What failed in ``new`` and not in ``old`` (new failures), the reverse (fixed), what a waiver now
    covers (waived) and what one covered but no longer does (no longer waived). A
    :class:`~compliance.reports.validate.CheckedReport` is compared as its check read it (``xzgov diff``)."""
    result = ReportDiff()
    old_started, new_started = (_data(report).get("started") for report in (old, new))
    if isinstance(old_started, str) and isinstance(new_started, str) and new_started < old_started:
        # ISO 8601 UTC times (Z) compare as text; a pipeline comparing "latest" with the last accepted
        # report would otherwise take an older signed report as the new state
        result.warnings.append(f"the new report's scan started {new_started}, before the old one's "
                               f"({old_started}): are they swapped, or is an older report given as new?")
    # (not register_root: it is the path the scan was given, "." or a checkout's, not what the register holds)
    old_version, new_version = (_data(report).get("catalogue_version") for report in (old, new))
    if old_version and new_version and old_version != new_version:
        # an item renumbered or added by another catalogue reads as a new failure or a fix
        result.warnings.append(f"the reports differ in catalogue version ({old_version} → {new_version}): changes "
                               "may be the catalogue's, not the systems'")
    old_day, new_day = (_data(report).get("as_of") for report in (old, new))
    if old_day and new_day and old_day != new_day:
        result.warnings.append(f"the reports judge recorded dates on different days ({old_day} → {new_day}): a "
                               "lapsed record or attestation is a change of the day, not of the system")
    old_systems, new_systems = _systems(old), _systems(new)
    old_names = {s.name for s in old_systems}
    new_names = {s.name for s in new_systems}
    result.systems_added = sorted(new_names - old_names)
    result.systems_removed = sorted(old_names - new_names)
    before, after = _items(old_systems), _items(new_systems)
    for key, item in sorted(after.items()):
        was = before.get(key)
        was_state = was["state"] if was else None
        if item["state"] == WAIVED and was_state != WAIVED:
            result.waived.append({**_item_entry(key, item, was, item), "waiver": item.get("waiver")})
        elif _failing(item) and not _failing(was):
            # an inherited item the platform's record fails now (it stays `inherited`) whatever it was before
            entry = {**_item_entry(key, item, was, item), "note": item["note"]}
            if _inherited_failing(item):
                entry["underlying"] = item.get("underlying")
            result.new_failures.append(entry)
            if was is not None and was_state == WAIVED:
                result.no_longer_waived.append({**_item_entry(key, item, was, item), "waiver": was.get("waiver"),
                                                "note": item["note"]})
    for key, item in sorted(before.items()):
        now = after.get(key)
        # a waived item whose deficiency is gone is fixed too; one still waived, or waived now, is not; one
        # awaiting a manual check is not known to pass; one the platform's record fails (inherited) is not fixed
        if now is None or _failing(now) or now["state"] == WAIVED:
            continue
        entry = {"system": key[0], "item": key[1], "title": item["title"], "was": item["state"],
                 "state": now["state"]}
        if now["state"] == PENDING:
            if item["state"] != PENDING:  # decided before (an attestation lapsed, a rule no longer checks it)
                result.now_pending.append(entry)
        elif _failing(item) or item["state"] == WAIVED:
            result.fixed.append(entry)
    result.verdicts_worse = _verdicts_worse(_data(old), _data(new))
    old_f, new_f = _findings(old_systems, _sources(_data(old))), _findings(new_systems, _sources(_data(new)))
    threshold = _threshold(_data(new))
    for fkey, finding in sorted(new_f.items()):
        prior = old_f.get(fkey)
        waived_now, waived_before = bool(finding.get("waiver")), bool(prior and prior.get("waiver"))
        if waived_now and not waived_before:
            result.waived_findings.append({**_finding_entry(fkey, finding), "waiver": finding["waiver"]})
        elif not waived_now and (prior is None or waived_before):  # unwaived now, and absent or waived before
            result.new_findings.append(_finding_entry(fkey, finding))
            if prior is not None:
                result.no_longer_waived_findings.append({**_finding_entry(fkey, finding),
                                                         "waiver": prior["waiver"]})
            if _rank(finding["severity"]) >= threshold:
                result.blocking_findings.append(result.new_findings[-1])
    old_gating = _attested_gating(_data(old), old_systems, threshold)
    for (system, item_id), item in sorted(_attested_gating(_data(new), new_systems, threshold).items()):
        if (system, item_id) not in old_gating:
            result.blocking_findings.append({
                "system": system, "rule": ATTESTED_RULE, "point": item_id, "target": item.get("attestation") or "",
                "severity": str(ATTESTED_SEVERITY), "message": f"{item_id} {item.get('title', '')}: "
                f"{item.get('score_status', item.get('state'))} 高风险 — {item.get('note', '')}"})
    result.blocking_findings.sort(key=lambda e: (e["system"], e["rule"], e["point"], e["target"]))
    removed = set(result.systems_removed)  # a removed system's findings are not resolved (its items not fixed)
    for fkey in sorted(set(old_f) - set(new_f)):
        finding = old_f[fkey]
        if fkey[0] not in removed:
            result.resolved_findings.append({**_finding_entry(fkey, finding), "waiver": finding.get("waiver")})
    return result


def _rank(severity: object) -> int:
    try:
        return Severity(str(severity)).rank
    except ValueError:
        return 0


def _threshold(report: Mapping[str, Any]) -> int:
    """The rank of the report's gate (``fail_on``, ``high`` when it names none or ``none``: nothing blocks)."""
    fail_on = str(report.get("fail_on") or "high")
    return 99 if fail_on == "none" else _rank(fail_on) or _rank("high")


def _attested_gating(report: Mapping[str, Any], systems: Sequence[ReadSystem], threshold: int
                     ) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(system, item) → the items an assessor's record fails with a 高风险 the system's 等保 or 密评 card vetoes on,
    unwaived: they gate as findings at :data:`~compliance.results.ATTESTED_SEVERITY` when ``threshold`` (a gate's
    rank) admits it (:func:`compliance.results.attested_gating`, read from a report)."""
    if ATTESTED_SEVERITY.rank < threshold:
        return {}
    entries = {entry["name"]: entry for entry in report.get("systems", ()) if isinstance(entry, Mapping)}
    gating: dict[tuple[str, str], Mapping[str, Any]] = {}
    for system in systems:
        entry = entries.get(system.name)
        cards = [_card(report, entry, name) for name in ("dengbao", "miping")] if entry is not None else []
        vetoed = {str(unit) for card in cards if card is not None for unit in card.get("high_risk") or ()}
        if not vetoed:
            continue
        for item in system.items:
            if (item.get("attestation") and not item.get("rules") and item.get("state") != WAIVED
                    and (item.get("item") in vetoed or item.get("assessment_unit") in vetoed)):
                gating[(system.name, str(item["item"]))] = item
    return gating


def _inherited_failing(item: Mapping[str, Any]) -> bool:
    """An inherited item the platform's record fails (its state stays ``inherited``; its underlying result)."""
    return item.get("state") == INHERITED and item.get("underlying") in FAILING


def _card(report: Mapping[str, Any], entry: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """A system's score card as the report holds it: a key of ``score_cards`` (version 6 on), or the card."""
    value = entry.get(name)
    if isinstance(value, str) and isinstance(report.get("score_cards"), Mapping):
        card = report["score_cards"].get(value)
        return card if isinstance(card, Mapping) else None
    return value if isinstance(value, Mapping) else None


def _worst(card: Mapping[str, Any] | None) -> int | None:
    """How bad the card's conclusion is at worst (its range's worse end while items are untested)."""
    if card is None:
        return None
    verdict = card.get("verdict")
    if verdict is None and isinstance(card.get("verdict_range"), Sequence) and card["verdict_range"]:
        verdict = card["verdict_range"][0]
    return _WORSE.get(str(verdict)) if verdict is not None else None


def _verdicts_worse(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per system in both reports and per standard, a conclusion worse at its worst, or 高风险 items added."""
    before = {entry["name"]: entry for entry in old.get("systems", []) if isinstance(entry, Mapping)}
    worse: list[dict[str, Any]] = []
    for entry in sorted((e for e in new.get("systems", []) if isinstance(e, Mapping)), key=lambda e: e["name"]):
        prior = before.get(entry["name"])
        if prior is None:
            continue
        for name, standard in (("dengbao", "等保"), ("miping", "密评")):
            was, now = _card(old, prior, name), _card(new, entry, name)
            if was is None or now is None:
                continue
            low, high = _worst(was), _worst(now)
            added = sorted(set(now.get("high_risk") or ()) - set(was.get("high_risk") or ()))
            if (low is not None and high is not None and high > low) or added:
                worse.append({"system": entry["name"], "standard": standard,
                              "was": was.get("verdict") or list(was.get("verdict_range") or ()),
                              "now": now.get("verdict") or list(now.get("verdict_range") or ()),
                              "high_risk_added": added})
    return worse

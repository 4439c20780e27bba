"""Scan results: per system × catalogue item, with evidence, scores and summaries.

Result states of an item (:class:`ItemState`):

======================  ==========================================================================
``pass``                every rule that checks the item passed
``fail``                the rules that check it failed
``partial``             some checks passed and some failed (or a rule judged it partial)
``not-applicable``      every rule judged the item not applicable to this system
``manual-pending``      no rule checks it (manual / semi-automated item) and no attestation exists
``inherited``           a platform-responsibility item: the platform's own assessment applies
``waived``              failing, but covered by an unexpired, approved waiver
``error``               a check could not run (host unreachable, fact missing, rule defect)
======================  ==========================================================================

Each item maps to the scorer's 符合 / 部分符合 / 不符合 / 不适用 / 未测 by :data:`SCORE_STATUS` (a
waived item is scored by its underlying state, without the high-risk veto: the waiver records the
compensating measure; an inherited or attested item by the attested status).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.engine import Evidence, RuleResult, Severity, Status
from xzgov.core import model as m


class ItemState(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    PARTIAL = "partial"
    NOT_APPLICABLE = "not-applicable"
    MANUAL_PENDING = "manual-pending"
    INHERITED = "inherited"
    WAIVED = "waived"
    ERROR = "error"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS: Mapping[ItemState, str] = {
    ItemState.PASS: "符合", ItemState.FAIL: "不符合", ItemState.PARTIAL: "部分符合",
    ItemState.NOT_APPLICABLE: "不适用", ItemState.MANUAL_PENDING: "待人工核查", ItemState.INHERITED: "继承",
    ItemState.WAIVED: "已豁免", ItemState.ERROR: "检查出错",
}

#: Scorer status of a state (waived / inherited / attested items use their underlying status instead).
SCORE_STATUS: Mapping[ItemState, str] = {
    ItemState.PASS: "符合", ItemState.FAIL: "不符合", ItemState.PARTIAL: "部分符合",
    ItemState.NOT_APPLICABLE: "不适用", ItemState.MANUAL_PENDING: "未测", ItemState.INHERITED: "未测",
    ItemState.WAIVED: "不符合", ItemState.ERROR: "未测",
}

#: The notes of unchecked items (the JSON report gives them once, in its catalogue section).
NOTE_MANUAL = ("无自动化规则 ({check_type}); 待人工核查或登记证明 / no rule checks this item: attest it in "
               "compliance/attestations")
NOTE_INHERITED = "平台责任项; 未登记云平台测评记录 / no platform assessment record in compliance/attestations"

_FROM_RULE = {Status.PASS: ItemState.PASS, Status.FAIL: ItemState.FAIL, Status.PARTIAL: ItemState.PARTIAL,
              Status.NOT_APPLICABLE: ItemState.NOT_APPLICABLE, Status.ERROR: ItemState.ERROR}


def combine(statuses: Iterable[Status]) -> ItemState:
    """One item's state from the statuses its checks gave (see the module table)."""
    found = set(statuses)
    judged = found - {Status.NOT_APPLICABLE}
    if not found:
        return ItemState.MANUAL_PENDING
    if not judged:
        return ItemState.NOT_APPLICABLE
    if Status.ERROR in judged and Status.FAIL not in judged:
        return ItemState.ERROR
    judged.discard(Status.ERROR)
    if judged == {Status.PASS}:
        return ItemState.PASS
    if judged == {Status.FAIL}:
        return ItemState.FAIL
    return ItemState.PARTIAL


@dataclass(frozen=True)
class Finding:
    """One rule result inside a system's report (a :class:`RuleResult` plus its waiver, if any)."""

    result: RuleResult
    waiver: str | None = None

    @property
    def blocking(self) -> bool:
        """A failing, partial or errored result not covered by a waiver."""
        return self.waiver is None and self.result.status in (Status.FAIL, Status.PARTIAL, Status.ERROR)

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "waiver": self.waiver}


@dataclass
class ItemOutcome:
    """The result of one catalogue item for one system."""

    item_id: str
    standard: str
    title: str
    state: ItemState
    underlying: ItemState  #: the state before a waiver / the attested state of inherited items
    rules: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    note: str = ""
    high_risk: bool = False
    severity: Severity | None = None
    waiver: str | None = None
    attestation: str | None = None
    check_type: str = ""
    responsibility: str = ""
    assessment_unit: str = ""
    category: str = ""
    strength: str = ""  #: a GB/T 39786 unit's strength at the system's 密评 level (应/宜/可); "" for items

    @functools.cached_property
    def score_status(self) -> str:
        """The scorer's status: waived and inherited items are scored by their underlying state
        (computed once, when the outcome is complete)."""
        if self.state in (ItemState.WAIVED, ItemState.INHERITED):
            if self.underlying in (ItemState.WAIVED, ItemState.INHERITED):
                return "未测"
            return SCORE_STATUS[self.underlying]
        return SCORE_STATUS[self.state]

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item_id, "standard": self.standard, "title": self.title, "state": str(self.state),
            "state_label": self.state.label, "underlying": str(self.underlying), "score_status": self.score_status,
            "rules": list(self.rules), "evidence": [e.to_json() for e in self.evidence], "note": self.note,
            "high_risk": self.high_risk, "severity": str(self.severity) if self.severity else None,
            "waiver": self.waiver, "attestation": self.attestation, "check_type": self.check_type,
            "responsibility": self.responsibility, "assessment_unit": self.assessment_unit,
            "category": self.category,
        }


@dataclass
class ScoreCard:
    """A scorer's headline and its derivation steps (label, formula, value)."""

    scheme: str  #: "等保" or "密评"
    verdict: str | None
    verdict_range: tuple[str, str] | None
    value: float | None  #: rate 0..1 (等保) or score 0..100 (密评)
    value_range: tuple[float, float]
    final: bool
    high_risk: tuple[str, ...]
    steps: tuple[tuple[str, str, str], ...]
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme, "verdict": self.verdict,
            "verdict_range": list(self.verdict_range) if self.verdict_range else None,
            "value": self.value, "value_range": list(self.value_range), "final": self.final,
            "high_risk": list(self.high_risk), "error": self.error,
            "steps": [{"label": label, "formula": formula, "value": value} for label, formula, value in self.steps],
        }


@dataclass
class SystemReport:
    """Everything the scan found about one system."""

    name: str
    title: str
    department: str
    department_name: str
    tier: str
    level: int
    crypto_level: int
    source: str
    items: list[ItemOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    dengbao: ScoreCard | None = None
    miping: ScoreCard | None = None
    hosts: dict[str, str] = field(default_factory=dict)  #: host name → "ok" or the gathering error

    def counts(self) -> dict[str, int]:
        counts = {str(state): 0 for state in ItemState}
        for item in self.items:
            counts[str(item.state)] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "department": self.department,
            "department_name": self.department_name, "tier": self.tier, "level": self.level,
            "crypto_level": self.crypto_level, "source": self.source, "counts": self.counts(),
            "dengbao": self.dengbao.to_json() if self.dengbao else None,
            "miping": self.miping.to_json() if self.miping else None, "hosts": dict(self.hosts),
            "items": [item.to_json() for item in self.items], "findings": [f.to_json() for f in self.findings],
        }


@dataclass
class ScanResult:
    """A whole scan: every system's report, summaries and what was scanned."""

    modes: Sequence[str]
    started: str
    finished: str
    register_root: str
    systems: list[SystemReport]
    rules: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    catalogue_version: str = ""
    fail_on: Severity = Severity.HIGH
    #: The KPIs of an earlier signed report, for the trend on the HTML report's KPI page.
    kpi_since: Mapping[str, Any] | None = None
    #: The register the scan judged (not serialised): reports read it instead of loading it again.
    register: m.Register | None = field(default=None, repr=False, compare=False)

    def blocking(self, fail_on: Severity | None = None) -> list[tuple[SystemReport, Finding]]:
        """Unwaived failing / partial / errored findings at or above ``fail_on``."""
        threshold = fail_on or self.fail_on
        return [(system, finding) for system in self.systems for finding in system.findings
                if finding.blocking and finding.result.severity >= threshold]

    def summary(self, key: str) -> dict[str, dict[str, Any]]:
        """Per department (``key="department"``) or tier (``key="tier"``): systems, verdicts, items by state."""
        table: dict[str, dict[str, Any]] = {}
        for system in self.systems:
            name = system.department_name if key == "department" else system.tier
            row = table.setdefault(name, {"systems": 0, "dengbao": {}, "miping": {},
                                          "items": {str(state): 0 for state in ItemState}, "blocking": 0})
            row["systems"] += 1
            for scheme, card in (("dengbao", system.dengbao), ("miping", system.miping)):
                verdict = verdict_text(card)
                row[scheme][verdict] = row[scheme].get(verdict, 0) + 1
            for state, count in system.counts().items():
                row["items"][state] += count
            row["blocking"] += sum(1 for f in system.findings if f.blocking and f.result.severity >= self.fail_on)
        return dict(sorted(table.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "xzgov-compliance-report", "version": 1, "modes": list(self.modes), "started": self.started,
            "finished": self.finished, "register_root": self.register_root,
            "catalogue_version": self.catalogue_version, "fail_on": str(self.fail_on),
            "warnings": list(self.warnings), "rules": self.rules,
            "summary": {"departments": self.summary("department"), "tiers": self.summary("tier"),
                        "systems": len(self.systems),
                        "blocking_findings": len(self.blocking())},
            "systems": [system.to_json() for system in self.systems],
        }



#: The headline of a card that could not be scored.
UNSCORED = "未评分"


def settled_verdict(verdict: str | None, verdict_range: tuple[str, str] | None) -> str | None:
    """The verdict, or the only possible one while items are untested (e.g. a high-risk veto)."""
    if verdict is None and verdict_range is not None and verdict_range[0] == verdict_range[1]:
        return verdict_range[0]
    return verdict


def verdict_text(card: ScoreCard | None) -> str:
    """A card's headline in every report and table: its verdict, the range of verdicts still possible
    while items are untested (``低–高``), or 未评分."""
    if card is None or card.error:
        return UNSCORED
    if card.verdict:
        return card.verdict
    if card.verdict_range:
        return f"{card.verdict_range[0]}–{card.verdict_range[1]}"
    return UNSCORED

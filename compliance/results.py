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
waived item is scored by its underlying state; the waiver records a compensating measure, which lifts the
high-risk veto where the 2025 guide lists a mitigation for the item's case and not where it lists none —
``compliance.scan.dengbao.high_risk_veto``; an inherited or attested item by the attested status).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from compliance.catalogue.names import DENGBAO, MIPING
from policies.engine import Evidence, Point, RuleResult, Severity, Status, evidence_from_json
from xzgov.core import model as m

if TYPE_CHECKING:
    from compliance.catalogue.high_risk import HighRiskTable
    from compliance.scoring import DengbaoConfig

#: The severity a 高风险 an assessor's record finds gates at (it forces 不符合 as a rule's high finding does).
ATTESTED_SEVERITY = Severity.HIGH


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
#: the head of every inherited item's note: what follows says why it is not (yet) the platform record's result
NOTE_PLATFORM_ITEM = "平台责任项"
NOTE_INHERITED = (f"{NOTE_PLATFORM_ITEM}; 未登记云平台测评记录 / no platform assessment record in "
                  "compliance/attestations")


def note_head(trail: Mapping[str, Any] | None) -> str:
    """The head of the note of an item its ``trail`` decides (``ItemOutcome.trail``): "人工核查 / attested by
    <signer> on <date>: " for an attestation, "继承云平台测评 / inherited from the platform's assessment <report>
    (<agency>, <date>, <conclusion>): " for the platform's record; "" without a trail (or one lacking a part).
    The scanner writes such a note as this head and the record's own text; reports write the head once."""
    if trail is None:
        return ""
    try:
        if trail.get("by") == "platform-record":
            return (f"继承云平台测评 / inherited from the platform's assessment {trail['report']} "
                    f"({trail['agency']}, {trail['assessed']}, {trail['conclusion']}): ")
        return f"人工核查 / attested by {trail['signer']} on {trail['date']}: "
    except KeyError:  # a trail another version wrote without these parts: no head to share
        return ""


_FROM_RULE = {Status.PASS: ItemState.PASS, Status.FAIL: ItemState.FAIL, Status.PARTIAL: ItemState.PARTIAL,
              Status.NOT_APPLICABLE: ItemState.NOT_APPLICABLE, Status.ERROR: ItemState.ERROR}


def combine(statuses: Iterable[Status]) -> ItemState:
    """One item's state from the statuses its checks gave (see the module table)."""
    # Flags, not a set: hashing enum members is a Python-level call, and every checked item of every
    # system comes here.
    found = passed = failed = errored = other = False
    for status in statuses:
        found = True
        if status == Status.NOT_APPLICABLE:
            continue
        if status == Status.PASS:
            passed = True
        elif status == Status.FAIL:
            failed = True
        elif status == Status.ERROR:
            errored = True
        else:
            other = True
    if not found:
        return ItemState.MANUAL_PENDING
    if not (passed or failed or errored or other):
        return ItemState.NOT_APPLICABLE
    if errored and not failed:
        return ItemState.ERROR
    if passed and not failed and not other:
        return ItemState.PASS
    if failed and not passed and not other:
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

    def gates(self, fail_on: Severity) -> bool:
        """Blocking at or above ``fail_on``: what fails the scan's gate (``--fail-on``)."""
        return self.blocking and self.result.severity >= fail_on

    def to_json(self) -> dict[str, Any]:
        return {**self.result.to_json(), "waiver": self.waiver}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """The finding :meth:`to_json` wrote."""
        waiver = data.get("waiver")
        return cls(RuleResult.from_json(data), str(waiver) if waiver is not None else None)


_new = object.__new__


def finding_of(result: RuleResult, waiver: str | None = None) -> Finding:
    """``Finding(result, waiver)`` without the frozen dataclass's ``__init__`` (an ``object.__setattr__`` per
    field; the scanner builds one per rule result, 440,000 at 10,000 systems): the same fields in the same
    ``__dict__``, so an equal Finding with the same repr."""
    finding: Finding = _new(Finding)
    fields = finding.__dict__
    fields["result"] = result
    fields["waiver"] = waiver
    return finding


class _computed_once:  # a decorator, like functools.cached_property
    """``functools.cached_property`` without the per-instance lock Python 3.11 takes on every first read:
    the value is stored in the instance's ``__dict__``, which later reads find before this descriptor.
    Every item outcome of every system is scored, so the lock was a measurable part of the scan."""

    def __init__(self, compute: Callable[[ItemOutcome], str]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _computed_once: ...

    @overload
    def __get__(self, instance: ItemOutcome, owner: type | None = None) -> str: ...

    def __get__(self, instance: ItemOutcome | None, owner: type | None = None) -> str | _computed_once:
        if instance is None:
            return self
        value = instance.__dict__[self._name] = self._compute(instance)
        return value


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
    #: 高风险 as the verdicts judge it (compliance.scanner._settle_high_risk): a 等保 item's unwaived high-risk grade
    #: failure whose 2025-guide case applies (the card vetoes) or may apply (its condition left open); a GB/T 39786
    #: unit the 密评 card vetoes on
    high_risk: bool = False
    severity: Severity | None = None
    waiver: str | None = None
    attestation: str | None = None
    check_type: str = ""
    responsibility: str = ""
    assessment_unit: str = ""
    category: str = ""
    strength: str = ""  #: a GB/T 39786 unit's strength at the system's 密评 level (应/宜/可); "" for items
    #: where an item's result comes from when no rule decides it: the signed attestation set or the platform
    #: record (file:line, signer, fingerprint, evidence files with SM3), set by compliance.scan.items
    trail: Mapping[str, Any] | None = None
    #: a rule failed (not partial, not errored) the item at severity ≥ high, waived or not: the grade of a
    #: rule-found high-risk finding (compliance.scan.dengbao.high_risk_veto), also when another rule passed it
    #: (a 部分符合 item). Set by compliance.scan.items; not in the reports (the findings there carry it).
    severe_failure: bool = False

    @property
    def decided_by(self) -> str:
        """``rule``, ``attestation``, ``platform-record`` or ``pending`` (nothing decides it yet)."""
        if self.score_status == "未测":
            return "pending"
        if self.trail is not None and not self.rules:
            return str(self.trail.get("by", "attestation"))
        return "rule"

    @_computed_once
    def score_status(self) -> str:
        """The scorer's status: waived and inherited items are scored by their underlying state
        (computed once, when the outcome is complete)."""
        if self.state in (ItemState.WAIVED, ItemState.INHERITED):
            if self.underlying in (ItemState.WAIVED, ItemState.INHERITED):
                return "未测"
            return SCORE_STATUS[self.underlying]
        return SCORE_STATUS[self.state]

    @property
    def platform_failure(self) -> ItemState | None:
        """An inherited item the platform's record fails (``FAIL``) or fails in part (``PARTIAL``): its state stays
        继承, while the score, SARIF, JUnit, OSCAL and the summaries' 不符合/部分 columns count it as failing;
        ``None`` for every other item."""
        if self.state is ItemState.INHERITED and self.underlying in (ItemState.FAIL, ItemState.PARTIAL):
            return self.underlying
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item_id, "standard": self.standard, "title": self.title, "state": str(self.state),
            "state_label": self.state.label, "underlying": str(self.underlying), "score_status": self.score_status,
            "rules": list(self.rules), "evidence": [e.to_json() for e in self.evidence], "note": self.note,
            "high_risk": self.high_risk, "severity": str(self.severity) if self.severity else None,
            "waiver": self.waiver, "attestation": self.attestation, "check_type": self.check_type,
            "responsibility": self.responsibility, "assessment_unit": self.assessment_unit,
            "category": self.category, "decided_by": self.decided_by,
            **({"trail": dict(self.trail)} if self.trail is not None else {}),
            **({"strength": self.strength} if self.strength else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], evidence: tuple[Evidence, ...] | None = None) -> ItemOutcome:
        """The outcome :meth:`to_json` wrote (computed keys such as ``score_status`` are recomputed);
        ``evidence`` replaces the written evidence (a reader that shares it with the findings' objects)."""
        severity, trail = data.get("severity"), data.get("trail")
        return cls(
            str(data["item"]), str(data["standard"]), str(data["title"]), ItemState(data["state"]),
            ItemState(data["underlying"]), tuple(data.get("rules", ())),
            evidence if evidence is not None else tuple(evidence_from_json(e) for e in data.get("evidence", ())),
            str(data.get("note", "")), bool(data.get("high_risk", False)),
            Severity(severity) if severity is not None else None, _opt(data.get("waiver")),
            _opt(data.get("attestation")), str(data.get("check_type", "")), str(data.get("responsibility", "")),
            str(data.get("assessment_unit", "")), str(data.get("category", "")), str(data.get("strength", "")),
            dict(trail) if trail is not None else None,
        )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class RiskCase:
    """A case of the 2025 major-risk guide as a report's trigger table shows it (``compliance.reports.figures``)."""

    case: str  #: the guide's case number, ``6.4.1.1``
    title: str
    scope: str  #: 适用范围
    conditions: str  #: the conditions in Chinese, ``无`` when none
    conditional: bool  #: the case applies only under a condition the manifest may leave undecided
    units: tuple[tuple[int, str], ...]  #: (level, GB/T 28448 unit)

    def unit_at(self, level: int) -> str | None:
        return dict(self.units).get(level)

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "title": self.title, "scope": self.scope, "conditions": self.conditions,
                "conditional": self.conditional, "units": [[level, unit] for level, unit in self.units]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RiskCase:
        return cls(str(data["case"]), str(data["title"]), str(data["scope"]), str(data["conditions"]),
                   bool(data["conditional"]), tuple((int(level), str(unit)) for level, unit in data["units"]))


@dataclass(frozen=True)
class FigureTables:
    """What a scan's report-template figures are computed with: the 等保 credits of 符合 / 部分符合 / 不符合
    and the major-risk cases. They are the scan's own (read from the standards directory it judged by), so a
    report's rates and trigger table agree with its score cards; a scan part carries them to the merge."""

    credits: tuple[float, float, float]
    guide: str  #: the high-risk guide, 公网安〔2025〕2391号 ("" without a case table)
    cases: tuple[RiskCase, ...]

    def to_json(self) -> dict[str, Any]:
        return {"credits": list(self.credits), "guide": self.guide, "cases": [c.to_json() for c in self.cases]}

    @classmethod
    def of(cls, scoring: DengbaoConfig, table: HighRiskTable | None) -> FigureTables:
        """The tables of a scan judged with ``scoring`` and the case ``table`` (``None``: no case table). The
        cases are those a tenant system can have: a case of the cloud platform alone (7.2.1.1 云计算平台承载高于其
        安全保护等级的业务系统) is judged in the platform's own assessment — listed as 否 on a tenant's page, it
        said the case was examined there and not found, beside the item left to the platform."""
        credits = (scoring.credit_for("符合"), scoring.credit_for("部分符合"), scoring.credit_for("不符合"))
        cases = () if table is None else tuple(
            RiskCase(c.case, c.title, c.scope, c.condition_text(), bool(c.conditions), c.items) for c in table.cases
            if c.tenant_case)
        return cls(credits, table.document if table is not None else "", cases)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FigureTables:
        ok, part, fail = (float(value) for value in data["credits"])
        return cls((ok, part, fail), str(data["guide"]), tuple(RiskCase.from_json(c) for c in data["cases"]))


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
    #: ``rate``: ``value`` is a compliance rate (0..1, shown as a percentage: 等保's 2025 rule); ``score``: a 0..100
    #: score (密评, 等保's legacy rule); empty in a report written before the field: by the scheme
    measure: str = ""

    @property
    def percent(self) -> bool:
        """Whether ``value`` is a rate shown as a percentage (the legacy 等保 score was shown ×100 as one)."""
        return self.measure == "rate" if self.measure else self.scheme == "等保"

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme, "measure": "rate" if self.percent else "score", "verdict": self.verdict,
            "verdict_range": list(self.verdict_range) if self.verdict_range else None,
            "value": self.value, "value_range": list(self.value_range), "final": self.final,
            "high_risk": list(self.high_risk), "error": self.error,
            "steps": [{"label": label, "formula": formula, "value": value} for label, formula, value in self.steps],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoreCard:
        """The card :meth:`to_json` wrote."""
        verdict_range, value_range = data.get("verdict_range"), data["value_range"]
        return cls(
            str(data["scheme"]), _opt(data.get("verdict")),
            (str(verdict_range[0]), str(verdict_range[1])) if verdict_range else None,
            data.get("value"), (value_range[0], value_range[1]), bool(data["final"]),
            tuple(data.get("high_risk", ())),
            tuple((str(s["label"]), str(s["formula"]), str(s["value"])) for s in data.get("steps", ())),
            str(data.get("error", "")), str(data.get("measure", "")),
        )


_INHERITED = str(ItemState.INHERITED)


@dataclass
class ItemTally:
    """Items per state (every :class:`ItemState`, zero included) and how many await a check."""

    states: dict[str, int] = field(default_factory=lambda: {str(state): 0 for state in ItemState})
    pending: int = 0


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
    #: the 2025 guide's cases at the system's level that cannot apply to it (a condition decided false, a case of
    #: the cloud platform's own assessment): the trigger table's 否, never 待定
    cases_not_applying: tuple[str, ...] = ()

    def tally(self) -> dict[str | None, ItemTally]:
        """One walk of the items: per standard (``GB/T 22239-2019``, ``GB/T 39786-2021``) and for all of them
        (``None``), the items per state and the items awaiting a check."""
        tallies: dict[str | None, ItemTally] = {None: ItemTally(), DENGBAO: ItemTally(), MIPING: ItemTally()}
        for item in self.items:
            pending = item.decided_by == "pending"
            for key in (None, item.standard):
                tally = tallies.get(key)
                if tally is None:
                    tally = tallies[key] = ItemTally()
                tally.states[str(item.state)] += 1
                tally.pending += pending
        return tallies

    def counts(self, standard: str | None = None) -> dict[str, int]:
        """Items per state: all of them, or one standard's (``GB/T 22239-2019`` or ``GB/T 39786-2021``)."""
        tally = self.tally().get(standard)
        return dict(tally.states) if tally else ItemTally().states

    def pending(self, standard: str | None = None) -> int:
        """Items awaiting a check (scored 未测: the verdict stays a range until each is decided): manual items
        without an attestation, and platform items without the platform's record (state 继承); all of them, or
        one standard's."""
        tally = self.tally().get(standard)
        return tally.pending if tally else 0

    def summary_counts(self, tallies: Mapping[str | None, ItemTally] | None = None) -> dict[str, tuple[int, int]]:
        """The summary tables' figures, each as (等保, 密评): a system's 不符合 are two figures, not one (a 等保
        符合 system showed "不符合 3" for three 密评 units). Keys: ``fail``, ``partial``, ``error``, ``waived``,
        ``pending``; ``fail`` and ``partial`` count the inherited items the platform's record fails as well (their
        state stays 继承; the score, SARIF, JUnit and OSCAL count them as failing). ``tallies``: this system's
        :meth:`tally`, when the caller has it."""
        tallies = tallies if tallies is not None else self.tally()
        dengbao, miping = tallies[DENGBAO], tallies[MIPING]
        counts = {key: [dengbao.states[key], miping.states[key]] for key in ("fail", "partial", "error", "waived")}
        if dengbao.states[_INHERITED] or miping.states[_INHERITED]:
            for item in self.items:
                failure = item.platform_failure
                if failure is not None:
                    counts[str(failure)][item.standard != DENGBAO] += 1
        pairs = {key: (pair[0], pair[1]) for key, pair in counts.items()}
        pairs["pending"] = (dengbao.pending, miping.pending)
        return pairs

    @property
    def definite(self) -> bool:
        """Every applicable item is decided (rule, attestation or platform record): one 等保 conclusion and
        score, not an interval."""
        return self.dengbao is not None and self.dengbao.final and not self.dengbao.error

    def audit_trail(self) -> dict[str, Any]:
        """How each item was decided: counts per source, the signed records used (set id → file, signer,
        fingerprint, items) and the items still pending."""
        by: dict[str, int] = {}
        records: dict[str, dict[str, Any]] = {}
        for item in self.items:
            source = item.decided_by
            by[source] = by.get(source, 0) + 1
            if source in ("attestation", "platform-record") and item.trail is not None:
                entry = records.setdefault(str(item.trail["set"]), {
                    "by": source, "file": str(item.trail["file"]).rsplit(":", 1)[0],
                    "signer": item.trail["signer"], "signer_fingerprint": item.trail["signer_fingerprint"],
                    "items": 0})
                entry["items"] += 1
        return {"definite": self.definite, "by": by, "records": records,
                "pending": [item.item_id for item in self.items if item.decided_by == "pending"]}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "department": self.department,
            "department_name": self.department_name, "tier": self.tier, "level": self.level,
            "crypto_level": self.crypto_level, "source": self.source, "counts": self.counts(),
            "dengbao": self.dengbao.to_json() if self.dengbao else None,
            "miping": self.miping.to_json() if self.miping else None, "hosts": dict(self.hosts),
            "cases_not_applying": list(self.cases_not_applying),
            "items": [item.to_json() for item in self.items], "findings": [f.to_json() for f in self.findings],
            "audit_trail": self.audit_trail(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SystemReport:
        """The report :meth:`to_json` wrote (counts and the audit trail are recomputed). An item decided by
        rules shares its evidence objects with the findings, as the scanner builds it (the reports name
        the finding that carries an item's evidence instead of repeating it)."""
        findings = [Finding.from_json(f) for f in data.get("findings", ())]
        own = {e: e for f in findings for e in f.result.evidence}
        items = []
        for item in data.get("items", ()):
            evidence = tuple(evidence_from_json(e) for e in item.get("evidence", ()))
            if item.get("rules"):
                evidence = tuple(own.get(e, e) for e in evidence)
            items.append(ItemOutcome.from_json(item, evidence))
        cards = {key: ScoreCard.from_json(data[key]) if data.get(key) is not None else None
                 for key in ("dengbao", "miping")}
        return cls(str(data["name"]), str(data["title"]), str(data["department"]), str(data["department_name"]),
                   str(data["tier"]), int(data["level"]), int(data["crypto_level"]), str(data["source"]), items,
                   findings, cards["dengbao"], cards["miping"], {str(k): str(v) for k, v in data["hosts"].items()},
                   tuple(str(case) for case in data.get("cases_not_applying", ())))


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
    #: Waiver id → the warning that it matched no failing result (the last of ``warnings``): a merge of
    #: scan parts keeps the waivers no part used (``compliance.merge``).
    unused_waivers: Mapping[str, str] = field(default_factory=dict)
    #: The day recorded dates were judged against (``xzgov scan --as-of``; the scan's own day by default).
    as_of: str = ""
    #: Digests of what the scan read besides the register (``compliance.scan.context.scan_inputs``; a shard's
    #: only): its scan part records them and a merge refuses parts that differ. Not in the reports.
    inputs: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: The digest of the register as the scan loaded it (``compliance.scan.shard.register_digest``; a
    #: shard's only): its scan part records it. Not in the reports.
    register_digest: str = field(default="", repr=False, compare=False)
    #: The warnings about one system (system → its warnings), also in ``warnings`` after the others, in the
    #: register's order: a scan part records them apart, so that a merge lists them as the whole scan does.
    system_warnings: Mapping[str, Sequence[str]] = field(default_factory=dict, repr=False, compare=False)
    #: The tables the report figures are computed with (the scan's own; ``None``: the installed ones). Not
    #: serialised in the reports; a scan part records them.
    figure_tables: FigureTables | None = field(default=None, repr=False, compare=False)

    def partial_scope(self) -> tuple[int, int] | None:
        """(systems judged, systems registered) when the scan judged part of the register — one shard's own set,
        a ``--system`` scan — else None. Such a set is signed and verifies like the region's report: every format
        says it is partial, so it is not handed on as the whole (``xzgov scan merge`` gives the whole)."""
        if self.register is None or len(self.systems) >= len(self.register.systems):
            return None
        return len(self.systems), len(self.register.systems)

    def blocking(self, fail_on: Severity | None = None) -> list[tuple[SystemReport, Finding]]:
        """Unwaived failing / partial / errored findings at or above ``fail_on``."""
        threshold = fail_on or self.fail_on
        return [(system, finding) for system in self.systems for finding in system.findings
                if finding.gates(threshold)]

    def attested_blocking(self, fail_on: Severity | None = None) -> list[tuple[SystemReport, ItemOutcome]]:
        """Items an assessor's record (a signed set, the platform's record) fails with a 高风险 the verdict counts,
        unwaived (:func:`attested_gating`): high findings, though no rule gives them — the gate counts them with
        :meth:`blocking`, and so does every report (the scan exited 0 beside a 等保 不符合 they forced)."""
        threshold = fail_on or self.fail_on
        return [(system, outcome) for system in self.systems for outcome in attested_gating(system, threshold)]

    def blocking_count(self) -> int:
        """What the gate counts: :meth:`blocking` and :meth:`attested_blocking`."""
        return len(self.blocking()) + len(self.attested_blocking())

    def summary(self, key: str) -> dict[str, dict[str, Any]]:
        """Per department (``key="department"``: by its id, the row naming it, in the order of the names)
        or tier (``key="tier"``): systems, verdicts, items by state. Departments are told apart by id: two
        may share a display name, and one may have none."""
        table: dict[str, dict[str, Any]] = {}
        for system in self.systems:
            group = system.department if key == "department" else system.tier
            row = table.get(group)
            if row is None:
                row = table[group] = {"systems": 0, "dengbao": {}, "miping": {},
                                      "items": {str(state): 0 for state in ItemState}, "blocking": 0}
                if key == "department":
                    row["name"] = system.department_name
            row["systems"] += 1
            for scheme, card in (("dengbao", system.dengbao), ("miping", system.miping)):
                verdict = verdict_text(card)
                row[scheme][verdict] = row[scheme].get(verdict, 0) + 1
            for state, count in system.counts().items():
                row["items"][state] += count
            row["blocking"] += system_blocking(system, self.fail_on)
        return dict(sorted(table.items(), key=lambda entry: (entry[1].get("name", ""), entry[0])))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "xzgov-compliance-report", "version": 1, "modes": list(self.modes), "started": self.started,
            "finished": self.finished, "as_of": self.as_of, "register_root": self.register_root,
            "catalogue_version": self.catalogue_version, "fail_on": str(self.fail_on),
            "warnings": list(self.warnings), "rules": self.rules,
            "summary": {"departments": self.summary("department"), "tiers": self.summary("tier"),
                        "systems": len(self.systems),
                        "blocking_findings": self.blocking_count()},
            "systems": [system.to_json() for system in self.systems],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], systems: list[SystemReport] | None = None) -> ScanResult:
        """The result :meth:`to_json` wrote (summaries are recomputed; ``kpi_since`` and the register are
        not part of it); ``systems`` replaces the written systems (a reader that decoded them itself)."""
        return cls(
            list(data["modes"]), str(data["started"]), str(data["finished"]), str(data["register_root"]),
            systems if systems is not None else [SystemReport.from_json(s) for s in data["systems"]],
            list(data["rules"]), list(data.get("warnings", ())), str(data.get("catalogue_version", "")),
            Severity(data.get("fail_on", Severity.HIGH)), as_of=str(data.get("as_of", "")),
        )



#: The headline of a card that could not be scored.
UNSCORED = "未评分"


def settled_verdict(verdict: str | None, verdict_range: tuple[str, str] | None) -> str | None:
    """The verdict, or the only possible one while items are untested (e.g. a high-risk veto)."""
    if verdict is None and verdict_range is not None and verdict_range[0] == verdict_range[1]:
        return verdict_range[0]
    return verdict


#: The enforcement point each scan mode runs rules at.
MODE_POINTS: Mapping[str, Point] = {"static": Point.MANIFEST, "plan": Point.RESOURCES, "live": Point.HOST}
_POINT_LABELS = ((Point.MANIFEST, "清单声明"), (Point.RESOURCES, "部署计划"), (Point.HOST, "主机实测"))
#: The codes of the rules' enforcement points, alone or together.
_BASIS_OF_POINTS: Mapping[frozenset[Point], str] = {frozenset(points): code for code, points in (
    ("m", {Point.MANIFEST}), ("p", {Point.RESOURCES}), ("h", {Point.HOST}), ("q", {Point.MANIFEST, Point.RESOURCES}),
    ("x", {Point.MANIFEST, Point.HOST}), ("y", {Point.RESOURCES, Point.HOST}),
    ("z", {Point.MANIFEST, Point.RESOURCES, Point.HOST}))}
#: An item's 依据 (what decided it) as the reports show it, by code: the enforcement points of the rules that
#: judged it (the manifest's declarations, the planned resources, the live hosts), a signed attestation (an
#: operator's self-assessment or an assessor's record), the platform's own record, or nothing yet. An assessor
#: reads a 符合 on a declaration differently from one measured on a host.
BASIS_LABELS: Mapping[str, str] = {
    **{code: "、".join(label for point, label in _POINT_LABELS if point in points)
       for points, code in _BASIS_OF_POINTS.items()},
    "a": "签名证明", "c": "云平台测评记录", "n": "待核查", "-": "—"}


@functools.lru_cache(maxsize=4096)
def _rules_basis(rules: tuple[str, ...], modes: tuple[str, ...]) -> str:
    from policies.registry import RULES_BY_ID  # the rule table, loaded once the reports need it

    ran = {MODE_POINTS[mode] for mode in modes if mode in MODE_POINTS}
    points = frozenset(point for rule_id in rules if (rule := RULES_BY_ID.get(rule_id)) is not None
                       for point in rule.points if point in ran)
    return _BASIS_OF_POINTS.get(points, "-")


def item_basis(item: ItemOutcome, modes: Sequence[str]) -> str:
    """The item's :data:`BASIS_LABELS` code in a scan of ``modes`` (``static``, ``plan``, ``live``)."""
    decided = item.decided_by
    if decided == "pending":
        return "n"
    if decided == "platform-record":
        return "c"
    if decided != "rule":
        return "a"
    return _rules_basis(item.rules, tuple(modes))


def pair_text(pair: tuple[int, int], blank_zero: bool = False) -> str:
    """A (等保, 密评) figure of :meth:`SystemReport.summary_counts` as ``"等保 / 密评"`` (blank when both are 0 and
    ``blank_zero``)."""
    return "" if blank_zero and not any(pair) else f"{pair[0]} / {pair[1]}"


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


def attested_gating(system: SystemReport, fail_on: Severity) -> list[ItemOutcome]:
    """The system's items an assessor's record fails with a 高风险 a score card vetoes on (not a 可能高风险 left open:
    its worst case is shown, its gate is the assessor's), unwaived — gating as :data:`ATTESTED_SEVERITY` findings
    (none when ``fail_on`` is above it)."""
    if fail_on > ATTESTED_SEVERITY:
        return []
    vetoed = {*(system.dengbao.high_risk if system.dengbao else ()),
              *(system.miping.high_risk if system.miping else ())}
    if not vetoed:
        return []
    # the attestation test first: few items carry one, and every report format asks once per system
    return [outcome for outcome in system.items
            if outcome.attestation is not None and not outcome.rules and outcome.state is not ItemState.WAIVED
            and (outcome.item_id in vetoed or outcome.assessment_unit in vetoed)]  # (密评 cards name units: NC-1 …)


def system_blocking(system: SystemReport, fail_on: Severity) -> int:
    """How many blocking findings the system has, as the gate counts them: its rule findings at or above
    ``fail_on`` and its :func:`attested_gating` items."""
    return sum(1 for f in system.findings if f.gates(fail_on)) + len(attested_gating(system, fail_on))

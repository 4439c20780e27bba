"""The rule engine: pure rules over named facts, run at every enforcement point where the facts exist.

A **rule** (:class:`Rule`) is a small pure function ``check(facts) -> Outcome`` with an id, a Chinese
title (English alongside), a severity, the catalogue items it checks (namespaced ids such as
``GB/T 22239-2019:8.1.4.1.d``, level-dependent through the ``{L}`` chapter placeholder), a remediation
hint and the **fact keys** it needs. Rules never read files, the network or the clock.

**Facts** (:class:`Facts`) are produced per *enforcement point* (:class:`Point`) by fact extractors:

* ``manifest``  — the register (``xzgov.facts.manifest.manifest_facts(register, system)``)
* ``resources`` — planned Kubernetes resources (``xzgov.facts.resources.resource_facts(...)``)
* ``host``      — a live host over SSH (``xzgov.facts.host.gather_host_facts(...)``)

A rule runs at a point exactly when **every** fact key it names is present there, so a rule written
once (e.g. ``XZ-RES-IMAGE-DIGEST`` over ``workload_images``) runs on the manifest and on the planned
pods alike. The vocabulary of fact keys is :data:`FACT_KEYS`.

Stable API (used by the scanner and by the CrossGuard pack in ``policies/crossguard.py``)::

    from policies.engine import Facts, Point, Status, Severity, run_rules
    from policies.registry import RULES, rules_for_point
    from xzgov.facts.resources import resource_facts

    for facts in resource_facts(resources):            # one Facts per namespace (system)
        for result in run_rules(rules_for_point(Point.RESOURCES), facts):
            if result.status is Status.FAIL and result.severity >= Severity.HIGH:
                ...  # report a mandatory violation: result.rule_id, result.message, result.evidence

Each :class:`RuleResult` is JSON-ready through :meth:`RuleResult.to_json`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xzgov.facts.contract import FACT_KEYS, POINT_FACTS, Evidence, Facts, Point, utc_now

__all__ = [
    "FACT_KEYS",
    "Evidence",
    "Facts",
    "Outcome",
    "Point",
    "Rule",
    "RuleResult",
    "RuleSet",
    "Severity",
    "Status",
    "evaluate",
    "failed",
    "levels_of",
    "not_applicable",
    "partial",
    "passed",
    "project_control",
    "run_rules",
    "utc_now",
]


class Status(enum.StrEnum):
    """The result of one rule on one subject."""

    PASS = "pass"
    FAIL = "fail"
    PARTIAL = "partial"
    NOT_APPLICABLE = "not-applicable"
    ERROR = "error"


class Severity(enum.StrEnum):
    """How much a failure matters; ordered ``low < medium < high < critical``.

    ``critical`` marks what an 等保 assessment treats as 高风险 (a high-risk finding forces 不符合).
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @property
    def label(self) -> str:
        """Chinese label: 低 / 中 / 高 / 严重 (高风险)."""
        return _SEVERITY_LABEL[self]

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank >= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank > other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank <= other.rank
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank < other.rank
        return NotImplemented


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
_SEVERITY_LABEL = {Severity.LOW: "低", Severity.MEDIUM: "中", Severity.HIGH: "高", Severity.CRITICAL: "严重 (高风险)"}


@dataclass(frozen=True)
class Outcome:
    """What a rule's check returns. Build it with :func:`passed`, :func:`failed`, :func:`partial`,
    :func:`not_applicable`."""

    status: Status
    message: str
    evidence: tuple[Evidence, ...] = ()
    #: Optional per-control statuses (control id as written in the rule, ``{L}``/``{C}`` included) when
    #: one rule judges several items differently; controls not named here take ``status``.
    per_control: Mapping[str, Status] = field(default_factory=dict)


def passed(message: str, *evidence: Evidence) -> Outcome:
    return Outcome(Status.PASS, message, evidence)


def failed(message: str, *evidence: Evidence) -> Outcome:
    return Outcome(Status.FAIL, message, evidence)


def partial(message: str, *evidence: Evidence) -> Outcome:
    return Outcome(Status.PARTIAL, message, evidence)


def not_applicable(message: str, *evidence: Evidence) -> Outcome:
    return Outcome(Status.NOT_APPLICABLE, message, evidence)


def errored(message: str, *evidence: Evidence) -> Outcome:
    """The rule could not verify what it checks (e.g. the kernel lacks a feature): never a pass."""
    return Outcome(Status.ERROR, message, evidence)


Check = Callable[[Facts], Outcome]


@dataclass(frozen=True)
class Rule:
    """One policy rule.

    ``controls`` are namespaced catalogue ids; ``{L}`` is replaced by the chapter of the system's 等保
    level and ``{C}`` by the chapter of its 密评 level (GB/T 22239 and GB/T 39786 both put level *n* in
    chapter *n + 5*). ``levels`` / ``crypto_levels`` limit the levels at which the ``{L}`` / ``{C}``
    items exist (e.g. two-factor authentication, 8.1.4.1.d, is a level-3+ item).
    """

    id: str
    title: str
    title_en: str
    severity: Severity
    controls: tuple[str, ...]
    remediation: str
    facts: tuple[str, ...]
    check: Check
    description: str = ""
    levels: frozenset[int] = frozenset({1, 2, 3, 4})
    crypto_levels: frozenset[int] = frozenset({1, 2, 3, 4})

    _needed: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())
    _pairs: dict[tuple[int | None, int | None], list[tuple[str, str]]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [key for key in self.facts if key not in FACT_KEYS]
        if unknown:
            raise ValueError(f"rule {self.id} names unknown fact keys {unknown}; add them to FACT_KEYS")
        object.__setattr__(self, "_needed", frozenset(self.facts))

    def runs_on(self, facts: Facts) -> bool:
        """True when every fact this rule needs is present."""
        return self._needed <= facts.values.keys()

    def controls_for(self, level: int | None, crypto_level: int | None = None) -> tuple[str, ...]:
        """The namespaced catalogue ids this rule checks for a system at ``level`` / ``crypto_level``
        (``crypto_level`` defaults to ``level``). Templates whose level is unknown stay unprojected."""
        return tuple(projected for _, projected in self.control_pairs(level, crypto_level))

    def control_pairs(self, level: int | None, crypto_level: int | None = None) -> list[tuple[str, str]]:
        """``(template, projected id)`` for each control that exists at these levels (memoised)."""
        key = (level, crypto_level)
        if key not in self._pairs:
            self._pairs[key] = self._control_pairs(level, crypto_level)
        return self._pairs[key]

    def _control_pairs(self, level: int | None, crypto_level: int | None) -> list[tuple[str, str]]:
        crypto = crypto_level if crypto_level is not None else level
        pairs: list[tuple[str, str]] = []
        for control in self.controls:
            if "{L}" in control and level is not None and level not in self.levels:
                continue
            if "{C}" in control and crypto is not None and crypto not in self.crypto_levels:
                continue
            pairs.append((control, project_control(control, level, crypto)))
        return pairs

    @property
    def points(self) -> tuple[Point, ...]:
        """The enforcement points whose extractors produce every fact this rule needs."""
        return tuple(point for point in Point if set(self.facts) <= POINT_FACTS[point])

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "title_en": self.title_en, "severity": str(self.severity),
            "controls": list(self.controls), "levels": sorted(self.levels),
            "crypto_levels": sorted(self.crypto_levels),
            "remediation": self.remediation, "facts": list(self.facts),
            "points": [str(point) for point in self.points], "description": self.description,
        }


def project_control(control: str, level: int | None, crypto_level: int | None = None) -> str:
    """Replace ``{L}`` by the chapter of the 等保 ``level`` and ``{C}`` by that of the 密评 ``crypto_level``
    (chapter = level + 5). An unknown level leaves its placeholder in place."""
    crypto = crypto_level if crypto_level is not None else level
    if level is not None:
        control = control.replace("{L}", str(level + 5))
    if crypto is not None:
        control = control.replace("{C}", str(crypto + 5))
    return control


@dataclass(frozen=True)
class RuleResult:
    """The result of one rule on one subject at one point."""

    rule_id: str
    subject: str
    point: Point
    status: Status
    message: str
    severity: Severity
    controls: tuple[str, ...]
    evidence: tuple[Evidence, ...] = ()
    target: str = ""
    #: Per projected control id, when the rule judged items differently (else every control has ``status``).
    per_control: Mapping[str, Status] = field(default_factory=dict)

    def status_of(self, control: str) -> Status:
        """This result's status for one of its (projected) controls."""
        return self.per_control.get(control, self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id, "subject": self.subject, "target": self.target, "point": str(self.point),
            "status": str(self.status), "severity": str(self.severity), "message": self.message,
            "controls": {control: str(self.status_of(control)) for control in self.controls},
            "evidence": [e.to_json() for e in self.evidence],
        }


def levels_of(facts: Facts) -> tuple[int | None, int | None]:
    """(等保 level, 密评 level) of the subject: the :class:`Facts` fields, else the ``classification`` fact."""
    if facts.level is not None:
        return facts.level, facts.crypto_level if facts.crypto_level is not None else facts.level
    classification = facts.get("classification")
    if not isinstance(classification, Mapping):
        return None, None
    level = classification.get("level")
    crypto = classification.get("crypto_level", level)
    return (level if isinstance(level, int) else None, crypto if isinstance(crypto, int) else None)


def evaluate(rule: Rule, facts: Facts) -> RuleResult | None:
    """Run ``rule`` on ``facts``. ``None`` when the point lacks a fact the rule needs (the rule does not
    run there). A rule that raises yields an ``error`` result naming the exception — never a pass."""
    if not rule.runs_on(facts):
        return None
    level, crypto_level = levels_of(facts)
    pairs = rule.control_pairs(level, crypto_level)
    try:
        outcome = rule.check(facts)
    except Exception as problem:  # a defect or unexpected fact shape: reported, not hidden
        outcome = Outcome(Status.ERROR, f"规则执行出错 / rule raised {type(problem).__name__}: {problem}",
                          (Evidence(f"{type(problem).__name__}: {problem}", facts.target or facts.subject,
                                    facts.gathered_at),))
    if not isinstance(outcome, Outcome):
        outcome = Outcome(Status.ERROR, f"rule returned {type(outcome).__name__}, not Outcome")
    evidence = tuple(e if e.at else Evidence(e.observed, e.location, facts.gathered_at) for e in outcome.evidence)
    per_control = {projected: outcome.per_control[template] for template, projected in pairs
                   if template in outcome.per_control and outcome.status is not Status.ERROR}
    return RuleResult(rule.id, facts.subject, facts.point, outcome.status, outcome.message, rule.severity,
                      tuple(projected for _, projected in pairs), evidence, facts.target, per_control)


def run_rules(rules: Iterable[Rule], facts: Facts) -> list[RuleResult]:
    """Run every rule that can run on ``facts``; results in rule order."""
    results: list[RuleResult] = []
    for rule in rules:
        result = evaluate(rule, facts)
        if result is not None:
            results.append(result)
    return results


def run_all(rules: Sequence[Rule], facts: Iterable[Facts]) -> Iterator[RuleResult]:
    """Run ``rules`` over many subjects lazily."""
    for one in facts:
        yield from run_rules(rules, one)


class RuleSet:
    """A collection of rules declared with the :meth:`rule` decorator (one per rules module).

    The decorated function *becomes* the :class:`Rule` (call ``RULE.check(facts)`` in tests)::

        manifest = RuleSet()

        @manifest.rule(id="XZ-MAN-FILING", title="二级及以上系统具有备案编号", title_en="...",
                       severity=Severity.HIGH, controls=("GB/T 22239-2019:{L}.1.9.1.d",),
                       remediation="...", facts=("classification",), levels=frozenset({2, 3, 4}))
        def filing(facts: Facts) -> Outcome: ...
    """

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def rule(
        self, *, id: str, title: str, title_en: str, severity: Severity, controls: Sequence[str],
        remediation: str, facts: Sequence[str], levels: Iterable[int] = (1, 2, 3, 4),
        crypto_levels: Iterable[int] = (1, 2, 3, 4), description: str = "",
    ) -> Callable[[Check], Rule]:
        def declare(check: Check) -> Rule:
            if any(existing.id == id for existing in self.rules):
                raise ValueError(f"rule id {id} declared twice")
            declared = Rule(
                id=id, title=title, title_en=title_en, severity=severity, controls=tuple(controls),
                remediation=remediation, facts=tuple(facts), check=check,
                description=description or " ".join((check.__doc__ or "").split()),
                levels=frozenset(levels), crypto_levels=frozenset(crypto_levels),
            )
            self.rules.append(declared)
            return declared

        return declare

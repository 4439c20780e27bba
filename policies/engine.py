"""The rule engine: pure rules over named facts, run at every enforcement point where the facts exist.

A **rule** (:class:`Rule`) is a small pure function ``check(facts) -> Outcome`` with an id, a Chinese
title (English alongside), a severity, the catalogue items it checks (namespaced ids such as
``GB/T 22239-2019:8.1.4.1.d``, named in level-3 numbering with ``{L}`` for the chapter and mapped to each
level through the catalogue's equivalents, :mod:`policies.crosswalk`), a remediation
hint and the **fact keys** it needs. Rules never read files, the network or the clock.

**Facts** (:class:`Facts`) are produced per *enforcement point* (:class:`Point`) by fact extractors:

* ``manifest``  — the register (``xzgov.facts.manifest.manifest_facts(register, system)``)
* ``resources`` — planned Kubernetes resources (``xzgov.facts.resources.resource_facts(...)``)
* ``host``      — a live host over SSH (``xzgov.facts.host.gather_host_facts(...)``)

A rule runs at a point exactly when **every** fact key it names is present there, so a rule written
once (e.g. ``XZ-RES-IMAGE-DIGEST`` over ``workload_images``) runs on the manifest and on the planned
pods alike: :attr:`Rule.points` says where; the id names only the rule's home (``XZ-MAN-``, ``XZ-RES-``,
``XZ-HOST-``, see :data:`ID_PREFIXES`). The vocabulary of fact keys is :data:`FACT_KEYS`.

A rule runs only at the levels it declares: on a subject whose 等保 level is outside ``levels`` (or, for a
rule whose items are all 密评 ``{C}`` items, whose 密评 level is outside ``crypto_levels``) :func:`evaluate`
answers ``not-applicable`` without calling the check, so checks need no level guards of their own.

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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.crosswalk import CROSSWALK
from xzgov.facts.contract import FACT_KEYS, POINT_FACTS, Evidence, Facts, Point, utc_now
from xzgov.facts.thresholds import threshold_at

__all__ = [
    "FACT_KEYS",
    "ID_PREFIXES",
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
    "evidence_from_json",
    "failed",
    "item_at_level",
    "levels_of",
    "not_applicable",
    "nothing_to_judge",
    "outcome_of",
    "partial",
    "passed",
    "project_control",
    "render_thresholds",
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
        """Chinese label: 低 / 中 / 高 / 严重 (高风险 is what a verdict says of an item, never a severity)."""
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
_SEVERITY_LABEL = {Severity.LOW: "低", Severity.MEDIUM: "中", Severity.HIGH: "高", Severity.CRITICAL: "严重"}


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
    #: Optional per-control evidence (pieces of ``evidence``, the same objects) when the pieces speak to
    #: different items: an item then shows the pieces about it, not the rule's first ones (which may be about
    #: another item, and say the opposite of the item's state).
    per_control_evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)
    #: Controls (templates as the rule names them; :data:`EVERY_CONTROL`: all of them) the check found nothing to
    #: judge of here — the rule's question does not arise for this subject (no published endpoint, not
    #: internet-facing) while the item still applies. The result says nothing of those items: they stay 未测
    #: (manual review or an assessor's attestation decides), where a not-applicable control makes its item 不适用.
    silent: frozenset[str] = frozenset()


#: :attr:`Outcome.silent` of an outcome that judges none of the rule's controls (:func:`nothing_to_judge`).
EVERY_CONTROL: frozenset[str] = frozenset({"*"})

_new = object.__new__
_PASS, _FAIL, _PARTIAL = Status.PASS, Status.FAIL, Status.PARTIAL  # (a member read through its class costs)


def outcome_of(status: Status, message: str, evidence: tuple[Evidence, ...],
               per_control: Mapping[str, Status] | None = None,
               per_control_evidence: Mapping[str, tuple[Evidence, ...]] | None = None,
               silent: frozenset[str] = frozenset()) -> Outcome:
    """``Outcome(status, message, evidence, per_control or {}, per_control_evidence or {}, silent)``, built without the
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field: most of the construction, and every
    rule on every system returns one). The same fields in the same ``__dict__``: an equal Outcome."""
    outcome: Outcome = _new(Outcome)
    fields = outcome.__dict__
    fields["status"] = status
    fields["message"] = message
    fields["evidence"] = evidence
    fields["per_control"] = {} if per_control is None else per_control
    fields["per_control_evidence"] = {} if per_control_evidence is None else per_control_evidence
    fields["silent"] = silent
    return outcome


def passed(message: str, *evidence: Evidence) -> Outcome:
    return outcome_of(_PASS, message, evidence)


def failed(message: str, *evidence: Evidence) -> Outcome:
    return outcome_of(_FAIL, message, evidence)


def partial(message: str, *evidence: Evidence) -> Outcome:
    return outcome_of(_PARTIAL, message, evidence)


def not_applicable(message: str, *evidence: Evidence) -> Outcome:
    """The rule's items do not apply to the subject (no personal information: 个人信息保护 is 不适用)."""
    return outcome_of(Status.NOT_APPLICABLE, message, evidence)


def nothing_to_judge(message: str, *evidence: Evidence) -> Outcome:
    """The rule's question does not arise here (a system without a published endpoint has no endpoint TLS to
    check) but its items still apply: the result is not applicable and says nothing of the items, which stay
    未测 unless another rule or an assessor decides them (:attr:`Outcome.silent`)."""
    return outcome_of(Status.NOT_APPLICABLE, message, evidence, silent=EVERY_CONTROL)


def errored(message: str, *evidence: Evidence) -> Outcome:
    """The rule could not verify what it checks (e.g. the kernel lacks a feature): never a pass."""
    return Outcome(Status.ERROR, message, evidence)


Check = Callable[[Facts], Outcome]

#: Rule id prefix per home point: a rule is named after the point whose module declares it, even when its
#: facts let it run at other points too (``Rule.points`` is the metadata that says so).
ID_PREFIXES: Mapping[Point, str] = {Point.MANIFEST: "XZ-MAN-", Point.RESOURCES: "XZ-RES-", Point.HOST: "XZ-HOST-"}

#: ``${threshold_name}`` in a remediation hint: filled from :mod:`xzgov.facts.thresholds` (``{...}`` is left
#: alone: hints quote YAML such as ``podSelector: {}`` and the ``{L}`` placeholder means something else).
_THRESHOLD = re.compile(r"\$\{([a-z0-9_]+)\}")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, tuple | list):
        return " 或 ".join(map(str, value))
    return str(value)


def _level_span(levels: Sequence[int]) -> str:
    if len(levels) > 1 and list(levels) == list(range(levels[0], levels[-1] + 1)):
        return f"{levels[0]}–{levels[-1]} 级"
    return "、".join(map(str, levels)) + " 级"


def render_thresholds(text: str, levels: Iterable[int], overrides: Mapping[str, Any] | None = None) -> str:
    """Fill each ``${name}`` of ``text`` with the threshold's value at ``levels``: one value when they agree,
    else per level (``6/6/5/3 (1–4 级)``; values that are lists are grouped: ``a 或 b (1–2 级); a (3–4 级)``).
    ``KeyError`` names an unknown threshold."""
    chosen = sorted(set(levels))

    def fill(match: re.Match[str]) -> str:
        values = [_shown(threshold_at(overrides, match.group(1), level)) for level in chosen]
        if len(set(values)) == 1:
            return values[0]
        if not any(" " in value for value in values):
            return "/".join(values) + f" ({_level_span(chosen)})"
        groups: dict[str, list[int]] = {}
        for level, value in zip(chosen, values, strict=True):
            groups.setdefault(value, []).append(level)
        return "; ".join(f"{value} ({_level_span(group)})" for value, group in groups.items())

    return _THRESHOLD.sub(fill, text)


@dataclass(frozen=True)
class Rule:
    """One policy rule.

    ``controls`` are namespaced catalogue ids; ``{L}`` marks a GB/T 22239 item named in level-3 numbering and
    mapped to the system's 等保 level through the generated crosswalk (:func:`item_at_level`; an item absent
    at a level is dropped there), and ``{C}`` is replaced by the chapter of its 密评 level (GB/T 39786 puts
    level *n* in chapter *n + 5*). ``levels`` / ``crypto_levels`` limit the levels at which the ``{L}`` / ``{C}``
    items exist (e.g. two-factor authentication, 8.1.4.1.d, is a level-3+ item) and so where the rule runs.

    ``remediation`` may name thresholds as ``${name}`` (:func:`render_thresholds`): the attribute holds the
    text rendered for the rule's levels (what rule lists and reports show); :meth:`remediation_for` renders
    it for one level and the configured overrides.
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
    _projected: dict[tuple[int | None, int | None], tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    _inapplicable: dict[tuple[int | None, int | None], str | None] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    _remediation_template: str = field(init=False, repr=False, compare=False, default="")
    #: (level, 密评 level) -> (control pairs, projected controls, why inapplicable): :func:`evaluate`'s memo
    _placed: dict[tuple[int | None, int | None], tuple[list[tuple[str, str]], tuple[str, ...], str | None]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [key for key in self.facts if key not in FACT_KEYS]
        if unknown:
            raise ValueError(f"rule {self.id} names unknown fact keys {unknown}; add them to FACT_KEYS")
        object.__setattr__(self, "_needed", frozenset(self.facts))
        # Render once here so every reader of ``remediation`` sees values, and a misspelt threshold name
        # fails at import rather than in a report.
        object.__setattr__(self, "_remediation_template", self.remediation)
        try:
            object.__setattr__(self, "remediation", render_thresholds(self.remediation, self.levels))
        except KeyError as problem:
            raise ValueError(f"rule {self.id}: remediation names unknown threshold {problem}") from None

    def remediation_for(self, level: int | None = None, overrides: Mapping[str, Any] | None = None) -> str:
        """The remediation hint with threshold values for ``level`` (all the rule's levels when ``None``)
        under the configured ``overrides``."""
        return render_thresholds(self._remediation_template, self.levels if level is None else (level,), overrides)

    @property
    def crypto_only(self) -> bool:
        """True when every item is a ``{C}`` (密评-level) item, so the 密评 level decides applicability."""
        return bool(self.controls) and all("{C}" in control for control in self.controls)

    def inapplicable_at(self, level: int | None, crypto_level: int | None) -> str | None:
        """Why the rule does not apply to a subject at these levels (``None`` when it does or a level is
        unknown); memoised: every evaluation of the rule asks."""
        key = (level, crypto_level)
        try:
            return self._inapplicable[key]
        except KeyError:
            found = self._inapplicable[key] = self._inapplicable_at(level, crypto_level)
            return found

    def _inapplicable_at(self, level: int | None, crypto_level: int | None) -> str | None:
        crypto = crypto_level if crypto_level is not None else level
        if level is not None and level not in self.levels:
            return (f"等保 {level} 级不适用: 本规则适用于 {_level_span(sorted(self.levels))} / not applicable at "
                    f"等保 level {level} (rule levels {sorted(self.levels)})")
        if self.crypto_only and crypto is not None and crypto not in self.crypto_levels:
            return (f"密评 {crypto} 级不适用: 本规则适用于 {_level_span(sorted(self.crypto_levels))} / not applicable "
                    f"at 密评 level {crypto} (rule crypto levels {sorted(self.crypto_levels)})")
        return None

    def runs_on(self, facts: Facts) -> bool:
        """True when every fact this rule needs is present."""
        return self._needed <= facts.values.keys()

    def controls_for(self, level: int | None, crypto_level: int | None = None) -> tuple[str, ...]:
        """The namespaced catalogue ids this rule checks for a system at ``level`` / ``crypto_level``
        (``crypto_level`` defaults to ``level``). Templates whose level is unknown stay unprojected."""
        key = (level, crypto_level)
        found = self._projected.get(key)
        if found is None:  # memoised: every evaluation of the rule asks
            found = self._projected[key] = tuple(projected for _, projected in self.control_pairs(level, crypto_level))
        return found

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
            projected = project_control(control, level, crypto)
            if projected is not None:  # the item does not exist at this level
                pairs.append((control, projected))
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


_DENGBAO_PREFIX = "GB/T 22239-2019:"


def item_at_level(control: str, level: int) -> str | None:
    """The id of a ``{L}`` GB/T 22239 control (level-3 numbering) at ``level``, from the generated
    :data:`policies.crosswalk.CROSSWALK` (the catalogue's ``equivalents``); ``None`` when the requirement does
    not exist at that level. A template the table does not know (not a level-3 catalogue item) is projected by
    its chapter, so :func:`compliance.coverage.consistency_problems` can name it."""
    if control.startswith(_DENGBAO_PREFIX):
        clause = control.removeprefix(_DENGBAO_PREFIX).replace("{L}", "8")
        row = CROSSWALK.get(clause)
        if row is not None:
            found = row[level - 1] if 1 <= level <= len(row) else None
            return None if found is None else _DENGBAO_PREFIX + found
    return control.replace("{L}", str(level + 5))


def project_control(control: str, level: int | None, crypto_level: int | None = None) -> str | None:
    """The catalogue id of ``control`` for a subject at these levels: a GB/T 22239 ``{L}`` control is mapped
    from its level-3 item through :data:`policies.crosswalk.CROSSWALK` (clause numbers differ between levels:
    never by rewriting the chapter digit), ``None`` when the item does not exist at ``level``; ``{C}`` is
    replaced by the chapter of the 密评 ``crypto_level`` (chapter = level + 5). An unknown level leaves its
    placeholder in place."""
    crypto = crypto_level if crypto_level is not None else level
    if level is not None and "{L}" in control:
        mapped = item_at_level(control, level)
        if mapped is None:
            return None
        control = mapped
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
    #: Per projected control id, the pieces of ``evidence`` about that item (:attr:`Outcome.per_control_evidence`).
    #: Not part of the result's identity or JSON: the items a scan part keeps name their own pieces.
    per_control_evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict, compare=False,
                                                                     repr=False)
    #: Projected ids of the rule's controls the result says nothing of (:attr:`Outcome.silent`; not in
    #: ``controls``): the scan leaves their items to other rules, an attestation or manual review. Not part of
    #: the result's identity or JSON (a scan part keeps the items it decided).
    silent: frozenset[str] = field(default_factory=frozenset, compare=False, repr=False)

    def status_of(self, control: str) -> Status:
        """This result's status for one of its (projected) controls."""
        return self.per_control.get(control, self.status)

    def evidence_of(self, control: str) -> tuple[Evidence, ...]:
        """The evidence an item (projected ``control``) shows from this result: when the rule gave pieces per
        item, the pieces it gave for this one (none: the others' are about other items); else, when the rule
        judged the item as it judged itself, its first five; else none (the result's evidence is then about
        other items and may say the opposite of this item's state)."""
        if self.per_control_evidence:
            return self.per_control_evidence.get(control, ())[:5]
        if self.per_control and self.per_control.get(control, self.status) is not self.status:
            return ()
        return self.evidence[:5]

    def message_of(self, control: str) -> str:
        """What this result says of one item (projected ``control``): its message, unless the rule judged
        the item otherwise than itself — then the pieces it gave for the item (a rule that passes while one of
        its items fails must not describe the failing item with its passing message), or, without any, that
        the rule judged the item so."""
        said = self.per_control.get(control, self.status) if self.per_control else self.status
        if said is self.status:
            return self.message
        own = self.per_control_evidence.get(control) if self.per_control_evidence else None
        if own:
            return "; ".join(piece.observed for piece in own)
        return f"规则 {self.rule_id} 判定本项为 {said} / {self.rule_id} judged this item {said}"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleResult:
        """The result :meth:`to_json` wrote (``KeyError`` / ``ValueError`` on another shape): a scan part
        read back by ``xzgov scan merge``. Controls whose status is the result's own are not kept in
        ``per_control`` (:meth:`status_of` answers the same)."""
        status = Status(data["status"])
        controls: Mapping[str, str] = data["controls"]
        return cls(str(data["rule"]), str(data["subject"]), Point(data["point"]), status, str(data["message"]),
                   Severity(data["severity"]), tuple(controls),
                   tuple(evidence_from_json(e) for e in data["evidence"]), str(data.get("target", "")),
                   {control: Status(value) for control, value in controls.items() if value != status})

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id, "subject": self.subject, "target": self.target, "point": str(self.point),
            "status": str(self.status), "severity": str(self.severity), "message": self.message,
            "controls": {control: str(self.status_of(control)) for control in self.controls},
            "evidence": [e.to_json() for e in self.evidence],
        }


def _result(rule_id: str, subject: str, point: Point, status: Status, message: str, severity: Severity,
            controls: tuple[str, ...], evidence: tuple[Evidence, ...], target: str,
            per_control: Mapping[str, Status],
            per_control_evidence: Mapping[str, tuple[Evidence, ...]] | None = None,
            silent: frozenset[str] = frozenset()) -> RuleResult:
    """``RuleResult(...)`` with every field given, built without the frozen dataclass's ``__init__``: it sets
    each of the eleven fields through ``object.__setattr__`` (measured: 60 % of the construction, a tenth of a
    manifest rule's evaluation; a scan of 10,000 systems builds 450,000). The same fields in the same
    ``__dict__``, so the same equality, hash, repr and pickle (``tests/policies/test_engine_speed.py``)."""
    result: RuleResult = _new(RuleResult)
    fields = result.__dict__
    fields["rule_id"] = rule_id
    fields["subject"] = subject
    fields["point"] = point
    fields["status"] = status
    fields["message"] = message
    fields["severity"] = severity
    fields["controls"] = controls
    fields["evidence"] = evidence
    fields["target"] = target
    fields["per_control"] = per_control
    fields["per_control_evidence"] = {} if per_control_evidence is None else per_control_evidence
    fields["silent"] = silent
    return result


def evidence_from_json(data: Mapping[str, Any]) -> Evidence:
    """The :class:`Evidence` its ``to_json`` wrote (``at`` may be absent: then empty)."""
    return Evidence(str(data["observed"]), str(data["location"]), str(data.get("at", "")))


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
    return _evaluate(rule, facts, levels_of(facts))


_ERROR, _NOT_APPLICABLE = Status.ERROR, Status.NOT_APPLICABLE  # (an enum member read through its class costs)


def _evaluate(rule: Rule, facts: Facts, levels: tuple[int | None, int | None]) -> RuleResult:
    """:func:`evaluate` of a rule that runs on ``facts``, whose levels (:func:`levels_of`) are ``levels``."""
    placed = rule._placed.get(levels)
    if placed is None:  # what every evaluation at these levels asks, memoised together
        level, crypto_level = levels
        placed = rule._placed[levels] = (rule.control_pairs(level, crypto_level),
                                         rule.controls_for(level, crypto_level),
                                         rule.inapplicable_at(level, crypto_level))
    pairs, controls, outside = placed
    if outside is not None:
        # The check is not called: a rule judged outside its levels would report a finding with no item.
        level, crypto_level = levels
        where = facts.target or facts.subject
        return RuleResult(rule.id, facts.subject, facts.point, _NOT_APPLICABLE, outside, rule.severity,
                          controls,
                          (Evidence(f"等保 level={level}, 密评 level={crypto_level}", where, facts.gathered_at),),
                          facts.target)
    try:
        outcome = rule.check(facts)
    except Exception as problem:  # a defect or unexpected fact shape: reported, not hidden
        outcome = Outcome(_ERROR, f"规则执行出错 / rule raised {type(problem).__name__}: {problem}",
                          (Evidence(f"{type(problem).__name__}: {problem}", facts.target or facts.subject,
                                    facts.gathered_at),))
    if type(outcome) is not Outcome and not isinstance(outcome, Outcome):
        outcome = Outcome(_ERROR, f"rule returned {type(outcome).__name__}, not Outcome")
    evidence = outcome.evidence if type(outcome.evidence) is tuple else tuple(outcome.evidence)
    about = outcome.per_control_evidence
    for stamped in evidence:
        if not stamped.at:  # stamp what the check left unstamped (facts.evidence stamps already)
            restamped = {id(e): e if e.at else Evidence(e.observed, e.location, facts.gathered_at) for e in evidence}
            evidence = tuple(restamped[id(e)] for e in evidence)
            about = {control: tuple(restamped.get(id(e), e) for e in own) for control, own in about.items()}
            break
    if outcome.status is _ERROR:
        return _result(rule.id, facts.subject, facts.point, _ERROR, outcome.message, rule.severity, controls,
                       evidence, facts.target, {})
    judged = outcome.per_control
    silent: frozenset[str] = frozenset()
    if outcome.silent:  # the controls it found nothing to judge of leave the result (and it leaves their items)
        every = "*" in outcome.silent
        silent = frozenset(projected for template, projected in pairs if every or template in outcome.silent)
        pairs = [(template, projected) for template, projected in pairs if projected not in silent]
        controls = tuple(projected for _, projected in pairs)
    # one lookup per control (a status or a tuple of pieces is never None)
    per_control = {projected: said for template, projected in pairs if (said := judged.get(template)) is not None} \
        if judged else {}
    own = {projected: pieces for template, projected in pairs if (pieces := about.get(template)) is not None} \
        if about else None
    return _result(rule.id, facts.subject, facts.point, outcome.status, outcome.message, rule.severity,
                   controls, evidence, facts.target, per_control, own, silent)


def run_rules(rules: Iterable[Rule], facts: Facts) -> list[RuleResult]:
    """Run every rule that can run on ``facts``; results in rule order."""
    levels = levels_of(facts)  # the same for every rule
    keys = facts.values.keys()
    return [_evaluate(rule, facts, levels) for rule in rules if rule._needed <= keys]  # Rule.runs_on, inlined


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

"""The CrossGuard adapter: the compliance engine's resource-level rules as Pulumi policies.

``policies/__main__.py`` builds the pack from :func:`build_policies`. Each resource-level rule
(``policies.registry.rules_for_point(Point.RESOURCES)``) becomes two ``StackValidationPolicy``s:

* ``<rule id>`` — enforcement **MANDATORY**, reporting failures of systems at 等保 level ≥ 3
  (:data:`MANDATORY_FROM_LEVEL`): a level-3+ item that fails blocks ``pulumi up``;
* ``<rule id>-advisory`` — enforcement **ADVISORY**, reporting failures of lower or unknown levels,
  partial results and rule errors.

A stack policy (not a per-resource one) because the rules judge a system's objects together (a
namespace *and* its default-deny policy, quotas *and* pods). The props the Pulumi runtime hands over
(``unknown_checking_proxy`` wrappers around the camelCase inputs, numbers as floats) are turned back
into plain data by ``xzgov.facts.resources.plain`` (as ``stacks.plan`` does), grouped by
``xzgov.facts.resources`` and run
through ``policies.engine.run_rules`` — the same code path as ``xzgov scan`` over a plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policies.engine import Facts, Point, Rule, RuleResult, Status, levels_of, run_rules
from policies.registry import rules_for_point
from xzgov.facts.resources import plain, resource_facts
from xzgov.facts.thresholds import load_thresholds

PACK_NAME = "xzgov-dengbao"
#: Failures of systems at this 等保 level or above are mandatory violations.
MANDATORY_FROM_LEVEL = 3
ADVISORY_SUFFIX = "-advisory"
#: The advisory policy naming each resource the preview could not judge (a value unknown until ``up``): without
#: it a Namespace with one unknown annotation took its system's facts along, and every violation of the system
#: vanished from the preview without a word.
UNKNOWN_POLICY = "XZ-PREVIEW-UNKNOWN"
#: The Pulumi project the pack guards (``policies/..``): its ``compliance/config.yaml`` thresholds are the region's.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Violation:
    """One failed (or partial/errored) rule result, with where to report it."""

    rule_id: str
    subject: str
    level: int | None
    status: Status
    message: str
    urn: str | None

    @property
    def mandatory(self) -> bool:
        return self.status is Status.FAIL and self.level is not None and self.level >= MANDATORY_FROM_LEVEL

    def text(self) -> str:
        level = f"等保{self.level}级" if self.level is not None else "等级未知"
        return f"[{self.rule_id}] {self.subject} ({level}, {self.status}): {self.message}"


def _wrap(resources: Iterable[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Policy resources → ``{type, urn, name, props}`` wrappers; resources with unknown values are skipped
    (and named) because nothing can be judged about them before ``up``."""
    wrapped: list[dict[str, Any]] = []
    unknown: list[str] = []
    for resource in resources:
        try:
            props = plain(resource.props)
        except UnknownValueError:
            unknown.append(str(resource.urn))
            continue
        if str(resource.resource_type).startswith("kubernetes:"):
            wrapped.append({"type": resource.resource_type, "urn": resource.urn, "name": resource.name,
                            "props": props})
    return wrapped, unknown


def _urn_for(result: RuleResult, facts: Facts, urns: set[str]) -> str | None:
    for evidence in result.evidence:
        if evidence.location in urns:
            return evidence.location
    for location in facts.locations.values():
        if location in urns:
            return location
    return None


def evaluate_rules(rules: Sequence[Rule], resources: Iterable[Any],
                   thresholds: Mapping[str, Any] | None = None) -> list[Violation]:
    """Run ``rules`` over the stack's resources; every non-passing result as a :class:`Violation`.
    ``thresholds``: the region's overrides (default: the project's ``compliance/config.yaml``, as ``xzgov scan``
    reads them — a preview judging the defaults while the scan judged the region's figures disagreed)."""
    wrapped, _ = _wrap(resources)
    urns = {str(r["urn"]) for r in wrapped}
    violations: list[Violation] = []
    if thresholds is None:
        thresholds = load_thresholds(PROJECT_ROOT)
    for facts in resource_facts(wrapped, source="pulumi", thresholds=thresholds):
        level = facts.level if facts.level is not None else levels_of(facts)[0]
        for result in run_rules(rules, facts):
            if result.status in (Status.FAIL, Status.PARTIAL, Status.ERROR):
                violations.append(Violation(result.rule_id, result.subject, level, result.status, result.message,
                                            _urn_for(result, facts, urns)))
    return violations


def _report_unknown(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for urn in _wrap(args.resources)[1]:
        report_violation("预览时取值未知, 本资源 (及其所属系统的事实) 未判定, 在 pulumi up 时判定 / a value is "
                         "unknown at preview: this resource (and the facts of its system) is not judged before "
                         "pulumi up", urn)


def _validator(rule: Rule, mandatory: bool) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in evaluate_rules([rule], args.resources):
            if violation.mandatory == mandatory:
                report_violation(violation.text(), violation.urn)

    return validate


def build_policies(rules: Sequence[Rule] | None = None) -> list[Policy]:
    """A mandatory and an advisory stack policy per resource-level rule, and :data:`UNKNOWN_POLICY`."""
    chosen = list(rules if rules is not None else rules_for_point(Point.RESOURCES))
    policies: list[Policy] = []
    for rule in chosen:
        description = f"{rule.title} / {rule.title_en}. 整改: {rule.remediation}"
        policies.append(StackValidationPolicy(
            name=rule.id, description=description, enforcement_level=EnforcementLevel.MANDATORY,
            validate=_validator(rule, mandatory=True)))
        policies.append(StackValidationPolicy(
            name=f"{rule.id}{ADVISORY_SUFFIX}", description=f"{description} (等保三级以下或未判定 / advisory)",
            enforcement_level=EnforcementLevel.ADVISORY, validate=_validator(rule, mandatory=False)))
    policies.append(StackValidationPolicy(
        name=UNKNOWN_POLICY, description="预览时取值未知的资源未判定 / resources with values unknown at preview are "
        "not judged (named, advisory)", enforcement_level=EnforcementLevel.ADVISORY, validate=_report_unknown))
    return policies

"""The rule engine: facts gating, error isolation, control projection, severity order."""

from __future__ import annotations

import pytest

from policies.engine import (
    FACT_KEYS,
    Evidence,
    Facts,
    Outcome,
    Point,
    Rule,
    RuleSet,
    Severity,
    Status,
    evaluate,
    passed,
    project_control,
    run_rules,
)
from policies.registry import RULES, RULES_BY_ID, get_rule, rules_for_control, rules_for_point


def _facts(**values: object) -> Facts:
    return Facts("sys", Point.MANIFEST, values, {"audit": "systems/a.yaml:7"}, "2026-01-01T00:00:00Z", level=3)


def test_rule_does_not_run_without_its_facts() -> None:
    rule = get_rule("XZ-MAN-LOG-RETENTION")
    assert evaluate(rule, _facts(classification={"level": 3})) is None


def test_a_raising_rule_is_an_error_result_never_a_pass() -> None:
    def broken(facts: Facts) -> Outcome:
        raise KeyError("retention_days")

    rule = Rule("XZ-TEST-BROKEN", "坏规则", "broken", Severity.HIGH, ("GB/T 22239-2019:{L}.1.4.3.c",), "fix",
                ("audit",), broken)
    result = evaluate(rule, _facts(audit={}))
    assert result is not None
    assert result.status is Status.ERROR
    assert "KeyError" in result.message
    assert result.controls == ("GB/T 22239-2019:8.1.4.3.c",)


def test_evidence_is_stamped_with_the_gathering_time_and_location() -> None:
    result = evaluate(get_rule("XZ-MAN-LOG-RETENTION"), _facts(audit={"retention_days": 90, "destination": "x"}))
    assert result is not None and result.status is Status.FAIL
    assert result.evidence[0].location == "systems/a.yaml:7"
    assert result.evidence[0].at == "2026-01-01T00:00:00Z"


def test_control_projection_by_level() -> None:
    assert project_control("GB/T 22239-2019:{L}.1.4.1.a", 2) == "GB/T 22239-2019:7.1.4.1.a"
    assert project_control("GB/T 39786-2021:8.4.a", 1) == "GB/T 39786-2021:8.4.a"
    mfa = get_rule("XZ-MAN-AUTH-MFA")
    assert mfa.controls_for(2) == ()  # 8.1.4.1.d exists from level 3 on
    assert mfa.controls_for(4) == ("GB/T 22239-2019:9.1.4.1.d",)


def test_severity_order() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW
    assert Severity.HIGH >= Severity.HIGH
    assert max([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM], key=lambda s: s.rank) is Severity.CRITICAL


def test_duplicate_rule_ids_and_unknown_facts_are_refused() -> None:
    rules = RuleSet()

    def check(facts: Facts) -> Outcome:
        return passed("ok", Evidence("x", "y"))

    rules.rule(id="XZ-T-1", title="t", title_en="t", severity=Severity.LOW, controls=(), remediation="r",
               facts=("audit",))(check)
    with pytest.raises(ValueError, match="declared twice"):
        rules.rule(id="XZ-T-1", title="t", title_en="t", severity=Severity.LOW, controls=(), remediation="r",
                   facts=("audit",))(check)
    with pytest.raises(ValueError, match="unknown fact keys"):
        rules.rule(id="XZ-T-2", title="t", title_en="t", severity=Severity.LOW, controls=(), remediation="r",
                   facts=("no_such_fact",))(check)


def test_every_rule_is_complete() -> None:
    assert len(RULES) == len(RULES_BY_ID) >= 25
    for rule in RULES:
        assert rule.id.startswith("XZ-")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.title), rule.id  # Chinese title
        assert rule.title_en and rule.remediation and rule.description, rule.id
        assert rule.controls and rule.facts and rule.points, rule.id
        assert set(rule.facts) <= set(FACT_KEYS), rule.id


def test_shared_rules_run_at_several_points() -> None:
    assert set(get_rule("XZ-IMAGE-DIGEST").points) == {Point.MANIFEST, Point.RESOURCES}
    assert set(get_rule("XZ-BACKUP-RPO").points) == {Point.MANIFEST, Point.RESOURCES}
    assert all(rule.points == (Point.HOST,) for rule in rules_for_point(Point.HOST))
    assert get_rule("XZ-HOST-LOCKOUT") in rules_for_control("GB/T 22239-2019:8.1.4.1.b", 3)


def test_run_rules_keeps_rule_order() -> None:
    facts = _facts(audit={"retention_days": 200, "destination": "x"}, classification={"level": 1, "crypto_level": 1,
                                                                                       "filing_number": None})
    ids = [r.rule_id for r in run_rules(RULES, facts)]
    assert ids == ["XZ-MAN-LOG-RETENTION", "XZ-MAN-FILING"]

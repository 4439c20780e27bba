"""The rule engine: facts gating, error isolation, control projection, severity order."""

from __future__ import annotations

import pytest

from policies.engine import (
    FACT_KEYS,
    ID_PREFIXES,
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
from policies.rules.hosts import hosts
from policies.rules.manifest import manifest
from policies.rules.resources import resources


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


def test_projection_follows_the_catalogue_not_the_chapter_digit() -> None:
    # Level 2 has no 数据保密性: 数据备份恢复 is 7.1.4.8 there, and 7.1.4.9.a is 剩余信息保护 (issue 12).
    assert project_control("GB/T 22239-2019:{L}.1.4.9.a", 2) == "GB/T 22239-2019:7.1.4.8.a"
    assert project_control("GB/T 22239-2019:{L}.1.4.9.c", 2) is None  # 异地灾备 only from level 3
    assert project_control("GB/T 22239-2019:{L}.1.4.9.a", 1) == "GB/T 22239-2019:6.1.4.7.a"
    continuity = get_rule("XZ-MAN-CONTINUITY")
    assert continuity.controls_for(2) == ("GB/T 22239-2019:7.1.4.8.a", "GB/T 22239-2019:7.1.4.8.b")
    result = evaluate(continuity, Facts("s", Point.MANIFEST, {
        "classification": {"level": 2, "crypto_level": 2},
        "continuity": {"rpo_minutes": 5000, "rto_minutes": 60, "backup_retention_days": 30, "dr_tier": 2}}))
    assert result is not None and "GB/T 22239-2019:7.1.4.8.a" in result.controls
    assert result.status_of("GB/T 22239-2019:7.1.4.8.a") is Status.FAIL
    assert get_rule("XZ-RES-IMAGE-DIGEST").controls_for(2) == ("GB/T 22239-2019:7.2.4.2.b",)


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
    assert set(get_rule("XZ-RES-IMAGE-DIGEST").points) == {Point.MANIFEST, Point.RESOURCES}
    assert set(get_rule("XZ-RES-BACKUP-RPO").points) == {Point.MANIFEST, Point.RESOURCES}
    assert all(rule.points == (Point.HOST,) for rule in rules_for_point(Point.HOST))
    assert get_rule("XZ-HOST-LOCKOUT") in rules_for_control("GB/T 22239-2019:8.1.4.1.b", 3)


def test_run_rules_keeps_rule_order() -> None:
    facts = _facts(audit={"retention_days": 200, "destination": "x"}, classification={"level": 1, "crypto_level": 1,
                                                                                       "filing_number": None},
                   lifecycle={"status": "running"}, as_of="2026-01-01")
    ids = [r.rule_id for r in run_rules(RULES, facts)]
    assert ids == ["XZ-MAN-LOG-RETENTION", "XZ-MAN-FILING", "XZ-MAN-CRYPTO-LEVEL"]


def _raises(facts: Facts) -> Outcome:
    raise AssertionError("the check must not run outside the rule's levels")


def test_a_level_outside_the_rule_is_not_applicable_without_running_the_check() -> None:
    # Before: XZ-RES-PSS-RESTRICTED on a level-1 namespace was a blocking fail that named no item.
    level1 = Facts("ns", Point.RESOURCES, {"namespaces": []}, {}, "2026-01-01T00:00:00Z", "namespace:x", level=1)
    result = evaluate(get_rule("XZ-RES-PSS-RESTRICTED"), level1)
    assert result is not None and result.status is Status.NOT_APPLICABLE
    assert result.controls == ()
    assert "不适用" in result.message and "not applicable" in result.message
    rule = Rule("XZ-MAN-TEST", "测试", "test", Severity.HIGH, ("GB/T 22239-2019:{L}.1.4.1.d",), "fix",
                ("audit",), _raises, levels=frozenset({3, 4}))
    gated = evaluate(rule, Facts("sys", Point.MANIFEST, {"audit": {}}, level=2))
    assert gated is not None and gated.status is Status.NOT_APPLICABLE
    inside = evaluate(rule, _facts(audit={}))  # inside its levels the check runs (and raises here)
    assert inside is not None and inside.status is Status.ERROR


def test_level_from_the_classification_fact_gates_too() -> None:
    facts = Facts("sys", Point.MANIFEST, {"classification": {"level": 1, "crypto_level": 1},
                                          "lifecycle": {"status": "running"}, "as_of": "2026-01-01"})
    result = evaluate(get_rule("XZ-MAN-FILING"), facts)
    assert result is not None and result.status is Status.NOT_APPLICABLE and result.controls == ()
    mfa = evaluate(get_rule("XZ-MAN-AUTH-MFA"), Facts("sys", Point.MANIFEST, {
        "classification": {"level": 2}, "authentication": {"factors": ["password"], "admin_factors": []}}))
    assert mfa is not None and mfa.status is Status.NOT_APPLICABLE


def test_crypto_level_gates_rules_whose_items_are_all_crypto_items() -> None:
    crypto = Rule("XZ-MAN-TEST-C", "测试", "test", Severity.HIGH, ("GB/T 39786-2021:{C}.4.a",), "fix",
                  ("audit",), _raises, crypto_levels=frozenset({3, 4}))
    facts = Facts("sys", Point.MANIFEST, {"audit": {}}, level=3, crypto_level=2)
    result = evaluate(crypto, facts)
    assert result is not None and result.status is Status.NOT_APPLICABLE and "密评 2 级" in result.message
    mixed = Rule("XZ-MAN-TEST-M", "测试", "test", Severity.HIGH,
                 ("GB/T 39786-2021:{C}.4.a", "GB/T 22239-2019:{L}.1.4.1.a"), "fix", ("audit",), _raises,
                 crypto_levels=frozenset({3, 4}))
    ran = evaluate(mixed, facts)  # an {L} item still exists: the check runs (and raises here)
    assert ran is not None and ran.status is Status.ERROR
    assert ran.controls == ("GB/T 22239-2019:8.1.4.1.a",)


def test_remediation_is_rendered_from_the_thresholds() -> None:
    lockout = get_rule("XZ-HOST-LOCKOUT")
    assert "deny ≤ 6/6/5/3 (1–4 级)" in lockout.remediation
    assert "deny ≤ 3," in lockout.remediation_for(4)
    assert "deny ≤ 4," in lockout.remediation_for(3, {"faillock_max_deny": 4})
    assert "${" not in " ".join(rule.remediation for rule in RULES)
    assert "≥ 200" in get_rule("XZ-MAN-LOG-RETENTION").remediation_for(3, {"min_log_retention_days": 200})
    with pytest.raises(ValueError, match="unknown threshold"):
        Rule("XZ-MAN-TEST", "测试", "test", Severity.LOW, (), "deny ≤ ${no_such_threshold}", ("audit",), _raises)


def test_rule_ids_name_their_home_point() -> None:
    for rule_set, point in ((manifest, Point.MANIFEST), (resources, Point.RESOURCES), (hosts, Point.HOST)):
        for rule in rule_set.rules:
            assert rule.id.startswith(ID_PREFIXES[point]), rule.id
            assert point in rule.points, rule.id  # other points are metadata (``points``), not part of the id

"""The static (and plan) scan over the fixture register: each rule fires exactly where planted, items
and scores are derived, waivers and attestations are honoured or fail the scan loudly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from compliance.results import ItemState, ScanResult
from compliance.scanner import ScanOptions, scan
from policies.engine import Point, Status
from xzgov.core.errors import ExitCode, XzgovError

from .conftest import PLANTED
from .waiver_support import RULE_WAIVER, write_waiver


def _failing(result: ScanResult, point: Point | None = None) -> dict[str, set[str]]:
    return {s.name: {f.result.rule_id for f in s.findings
                     if f.result.status in (Status.FAIL, Status.PARTIAL, Status.ERROR)
                     and (point is None or f.result.point is point)} for s in result.systems}


@pytest.fixture(scope="module")
def static(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    from .conftest import FIXTURE

    return scan(ScanOptions(root=FIXTURE))


def test_each_rule_fires_exactly_where_planted(static: ScanResult) -> None:
    assert _failing(static) == PLANTED


def test_every_manifest_rule_ran_on_every_system(static: ScanResult) -> None:
    from policies.registry import rules_for_point

    expected = {rule.id for rule in rules_for_point(Point.MANIFEST)}
    for system in static.systems:
        assert {f.result.rule_id for f in system.findings} == expected, system.name


def test_item_states_evidence_and_high_risk(static: ScanResult) -> None:
    bad = next(s for s in static.systems if s.name == "bad-mfa")
    item = next(i for i in bad.items if i.item_id == "GB/T 22239-2019:8.1.4.1.d")
    assert item.state is ItemState.FAIL and item.rules == ("XZ-MAN-AUTH-MFA",)
    assert item.high_risk  # a catalogue high-risk item failed by a high-severity rule
    assert item.evidence[0].location.startswith("systems/fx/bad-mfa.yaml:")
    clean = next(s for s in static.systems if s.name == "clean-l3")
    states = {i.item_id: i.state for i in clean.items}
    assert states["GB/T 22239-2019:8.1.4.1.d"] is ItemState.PASS
    assert states["GB/T 22239-2019:8.1.1.1.a"] is ItemState.INHERITED  # platform's physical environment
    assert states["GB/T 22239-2019:8.1.9.2.a"] is ItemState.MANUAL_PENDING  # manual, no attestation
    assert states["GB/T 39786-2021:8.2.c"] is ItemState.PASS  # 应 at level 3, TLCP + SM4
    level2 = next(s for s in static.systems if s.name == "clean-l2")
    assert all(i.item_id.startswith(("GB/T 22239-2019:7.", "GB/T 39786-2021:")) for i in level2.items)


def test_scores_and_summaries(static: ScanResult) -> None:
    clean = next(s for s in static.systems if s.name == "clean-l3")
    assert clean.dengbao is not None and not clean.dengbao.error
    low, high = clean.dengbao.value_range
    assert 0 < low < high <= 1  # manual items are still untested: an interval
    assert clean.dengbao.steps and clean.miping is not None and clean.miping.steps
    bad = next(s for s in static.systems if s.name == "bad-mfa")
    assert bad.dengbao is not None and bad.dengbao.verdict == "不符合"  # high-risk veto
    assert "GB/T 22239-2019:8.1.4.1.d" in bad.dengbao.high_risk
    algo = next(s for s in static.systems if s.name == "bad-algo")
    assert algo.miping is not None and algo.miping.value_range[1] < clean.miping.value_range[1]
    departments = static.summary("department")
    assert sum(row["systems"] for row in departments.values()) == len(static.systems)
    assert set(static.summary("tier")) == {"自治区"}


def test_plan_scan_runs_resource_rules_on_the_rendered_stacks(register_root: Path) -> None:
    result = scan(ScanOptions(root=register_root, plan=True))
    resources = _failing(result, Point.RESOURCES)
    assert resources == {name: set() for name in PLANTED}  # the stacks render compliant tenancies
    ran = {f.result.rule_id for s in result.systems for f in s.findings if f.result.point is Point.RESOURCES}
    assert {"XZ-RES-PSS-RESTRICTED", "XZ-RES-DEFAULT-DENY", "XZ-RES-QUOTAS", "XZ-RES-BACKUP-RPO"} <= ran


def test_plan_scan_with_given_resources_finds_planted_resource_violations(register_root: Path) -> None:
    resources = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "clean-l3", "labels": {"xzgov.io/system": "clean-l3"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "clean-l3"},
         "spec": {"template": {"spec": {"hostPID": True, "containers": [{"name": "c", "image": "nginx:1"}]}}}},
    ]
    result = scan(ScanOptions(root=register_root, plan=True, resources=resources, systems=("clean-l3",)))
    # no PSS label, no network policy, no quota, host PID, a tag, and no backup schedule at all
    assert _failing(result, Point.RESOURCES)["clean-l3"] == {
        "XZ-RES-PSS-RESTRICTED", "XZ-RES-DEFAULT-DENY", "XZ-RES-QUOTAS", "XZ-RES-NO-PRIVILEGED", "XZ-RES-IMAGE-DIGEST",
        "XZ-RES-BACKUP-RPO", "XZ-RES-IMAGE-REGISTRY",  # nginx:1 is a Docker Hub image
        "XZ-RES-ASSET-LABELS"}  # the namespace names its system only (no department, levels)


# ------------------------------------------------------------------------------------------ waivers




def test_a_waiver_removes_the_blocking_finding_and_marks_the_item(register_root: Path) -> None:
    write_waiver(register_root)
    result = scan(ScanOptions(root=register_root))
    system = next(s for s in result.systems if s.name == "bad-retention")
    assert not [f for f in system.findings if f.blocking]
    item = next(i for i in system.items if i.item_id == "GB/T 22239-2019:8.1.5.4.d")
    assert item.state is ItemState.WAIVED and item.underlying is ItemState.FAIL and item.waiver == "W-2026-001"
    assert item.score_status == "不符合"
    # the waiver lifts the gate, not the veto: case 6.5.1.2 (审计记录存储时间不满足要求) lists no mitigation, so the
    # 等保 card still vetoes on the item, and the item says so (it was unmarked beside the veto)
    assert item.item_id in system.dengbao.high_risk and item.high_risk
    assert all(s.name != "bad-retention" for s, _ in result.blocking())


def test_item_waiver(register_root: Path) -> None:
    write_waiver(register_root, """  - id: W-2026-002
    system: bad-mfa
    item: "GB/T 22239-2019:8.1.4.1.d"
    reason: 统一身份认证改造中, 临时以堡垒机双因素替代
    approver: {name: 李四, role: 网络安全负责人}
    approved: "2026-01-05"
    expires: "2026-12-31"
""")
    result = scan(ScanOptions(root=register_root))
    assert all(s.name != "bad-mfa" for s, _ in result.blocking())


@pytest.mark.parametrize(("body", "message"), [
    (RULE_WAIVER.replace('"2026-12-31"', '"2025-01-01"'), "expired on 2025-01-01"),
    (RULE_WAIVER.replace("    approver: {name: 张三, role: 网络安全负责人}\n", ""),
     "missing required field 'approver'"),
    (RULE_WAIVER.replace("rule: XZ-MAN-LOG-RETENTION", "rule: XZ-NO-SUCH-RULE"), "unknown rule"),
    (RULE_WAIVER.replace("system: bad-retention", "system: nowhere"), "unknown system"),
    (RULE_WAIVER.replace("    rule: XZ-MAN-LOG-RETENTION\n", ""), "matches none of the allowed forms"),
    # a waiver "until 2099" accepted the risk for ever
    (RULE_WAIVER.replace('"2026-12-31"', '"2099-12-31"'),
     "expires 27023 days after its approval, more than max_waiver_days (366)"),
])
def test_expired_or_malformed_waivers_fail_loudly(register_root: Path, body: str, message: str) -> None:
    write_waiver(register_root, body)
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=register_root, today=dt.date(2026, 6, 1)))
    assert caught.value.exit_code is ExitCode.USAGE
    text = "\n".join(d.render() for d in caught.value.diagnostics)
    assert message in text
    assert "compliance/waivers/w.yaml:" in text  # located
    assert "{'" not in text and "None is not" not in text  # no Python spelling of the record


def test_the_longest_a_waiver_stays_in_force_is_the_regions_threshold(register_root: Path) -> None:
    """max_waiver_days (compliance/config.yaml) bounds approved → expires: shorter refuses the 360-day waiver at its
    expires line, longer accepts a waiver of 13 months."""
    write_waiver(register_root, RULE_WAIVER)
    config = register_root / "compliance" / "config.yaml"
    config.write_text("thresholds:\n  max_waiver_days: 180\n", encoding="utf-8")
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=register_root, today=dt.date(2026, 6, 1)))
    (problem,) = caught.value.diagnostics
    assert problem.path == "waivers[0].expires" and "more than max_waiver_days (180)" in problem.message, problem
    assert problem.line == RULE_WAIVER.splitlines().index('    expires: "2026-12-31"') + 4  # below the 3-line head
    config.write_text("thresholds:\n  max_waiver_days: 400\n", encoding="utf-8")
    write_waiver(register_root, RULE_WAIVER.replace('"2026-12-31"', '"2027-02-05"'))
    result = scan(ScanOptions(root=register_root, today=dt.date(2026, 6, 1)))
    assert all(s.name != "bad-retention" for s, _ in result.blocking())


#: The validator's own spellings (Python reprs, its phrasing): a record's errors are worded as the manifests' are.
VALIDATOR_WORDS = ("is a required property", "is not of type", "does not match", "is not one of",
                   "Additional properties", "is not valid under", "is valid under each of", "{'", "None")


@pytest.mark.parametrize(("body", "message", "hint"), [
    (RULE_WAIVER.replace("    approver: {name: 张三, role: 网络安全负责人}\n", ""), "missing required field 'approver'",
     "approver: {name: 姓名, role: 岗位}"),
    (RULE_WAIVER.replace('approved: "2026-01-05"', 'approved: "5 Jan 2026"'), "has the wrong format", "YYYY-MM-DD"),
    (RULE_WAIVER.replace("    reason:", "    reasons: x\n    reason:"), "unknown field 'reasons'", "reason"),
    (RULE_WAIVER.replace("approver: {name: 张三, role: 网络安全负责人}", "approver: [张三]"),
     "must be a mapping, found a list", "approver: {name"),
    (RULE_WAIVER.replace("    rule: XZ-MAN-LOG-RETENTION\n",
                         '    rule: XZ-MAN-LOG-RETENTION\n    item: "GB/T 22239-2019:8.1.4.1.d"\n'),
     "matches more than one of the allowed forms", "exactly one of `item` or `rule`"),
])
def test_waiver_schema_errors_use_the_manifests_words(register_root: Path, body: str, message: str,
                                                      hint: str) -> None:
    """The waiver loader passed the validator's messages on ("'approver' is a required property", a oneOf failure
    with both `item` and `rule` said "matches none"): one wording for every YAML record (xzgov.core.schema.explain)."""
    write_waiver(register_root, body)
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=register_root, today=dt.date(2026, 6, 1)))
    (problem,) = caught.value.diagnostics
    assert message in problem.message and hint in problem.hint, problem
    assert problem.file == "compliance/waivers/w.yaml" and problem.line > 3
    assert not any(words in problem.message for words in VALIDATOR_WORDS), problem


@pytest.mark.parametrize(("text", "message"), [("- a\n", "must be a mapping, found a list"),
                                               ("apiVersion: xzgov.io/v1\nkind: Waivers\nwaivers:\n",
                                                "must be a list, found null (no value)")])
def test_a_waiver_file_of_the_wrong_shape_says_what_shape(register_root: Path, text: str, message: str) -> None:
    """"['a'] is not of type 'object'" and "None is not of type 'array'", without a hint: the validator's words."""
    folder = register_root / "compliance" / "waivers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "w.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=register_root, today=dt.date(2026, 6, 1)))
    (problem,) = caught.value.diagnostics
    assert problem.message == message and "kind: Waivers" in problem.hint and "approver:" in problem.hint


# ------------------------------------------------------------------------------------------ attestations


def _attest(root: Path, items: str, *, scope: str = "system", system: str = "clean-l3",
            digest: str | None = None, status: str = "符合") -> Path:
    # A signed attestation set (compliance.attest; tests/compliance/test_attest_*.py cover it in depth).
    from xzgov.crypto.sm2 import SM2PrivateKey

    from .attest_support import evidence as write_evidence
    from .attest_support import pin, platform_set, system_set, write_signed

    key = SM2PrivateKey.generate()
    pin(root, key, ["dsjj"], ["system", "platform"])
    evidence = write_evidence(root, "evidence/record.pdf.txt" if scope == "system" else "evidence/report.txt")
    if scope == "platform":
        write_signed(root, "a.yaml", platform_set(default=status), key)
    else:
        rows = [(item, status, "核查定级报告与专家评审意见") for item in items.strip("[]").replace('"', "").split(", ")]
        write_signed(root, "a.yaml", system_set(system, "dsjj", rows), key)
    return evidence


def test_attestation_satisfies_a_manual_item(register_root: Path) -> None:
    _attest(register_root, '["GB/T 22239-2019:8.1.9.2.a"]')
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",)))
    item = next(i for i in result.systems[0].items if i.item_id == "GB/T 22239-2019:8.1.9.2.a")
    assert item.state is ItemState.PASS and item.attestation == "A-2026-001"
    assert item.evidence[0].location.startswith("compliance/attestations/a.yaml:")


def test_platform_attestation_backs_inherited_items(register_root: Path) -> None:
    _attest(register_root, "inherited", scope="platform", system="*")
    result = scan(ScanOptions(root=register_root, systems=("clean-l3",)))
    item = next(i for i in result.systems[0].items if i.item_id == "GB/T 22239-2019:8.1.1.1.a")
    assert item.state is ItemState.INHERITED and item.underlying is ItemState.PASS
    assert item.score_status == "符合" and "DJCP-2026-0001" in item.note


def test_attestation_digest_mismatch_is_detected(register_root: Path) -> None:
    evidence = _attest(register_root, '["GB/T 22239-2019:8.1.9.2.a"]')
    evidence.write_text("被替换的证据\n", encoding="utf-8")  # changed after attestation
    with pytest.raises(XzgovError) as caught:
        scan(ScanOptions(root=register_root))
    assert caught.value.exit_code is ExitCode.USAGE
    assert any(d.code == "digest" and "changed after attestation" in d.message for d in caught.value.diagnostics)


def test_attestation_for_an_unknown_item_is_refused(register_root: Path) -> None:
    _attest(register_root, '["GB/T 22239-2019:8.1.99.1.a"]')
    with pytest.raises(XzgovError, match="compliance/attestations"):
        scan(ScanOptions(root=register_root))

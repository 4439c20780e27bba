"""The CrossGuard pack: policies' validate functions called directly on mock-captured resources, with
props wrapped exactly as the policy runtime wraps them (protobuf Struct → ``MessageToDict`` →
``deserialize_properties`` → ``unknown_checking_proxy``, as ``_PolicyAnalyzerServicer.AnalyzeStack`` does)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi_policy import EnforcementLevel, StackValidationArgs, StackValidationPolicy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policies import crossguard
from policies.crossguard import ADVISORY_SUFFIX, UNKNOWN_POLICY, build_policies, evaluate_rules
from policies.engine import Point
from policies.registry import rules_for_point
from stacks.mocks import Registration, evaluate
from stacks.program import build
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.errors import UsageError
from xzgov.facts.resources import plain


def runtime_props(inputs: Mapping[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    struct.update(dict(inputs))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def policy_resources(registrations: list[Registration]) -> list[PolicyResource]:
    resources = []
    for r in registrations:
        opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], r.parent or None)
        resources.append(PolicyResource(r.type, runtime_props(r.inputs), r.urn, r.name, opts, None, None, [], {}))
    return resources


def captured(register: m.Register, site: str = "lhasa") -> list[Registration]:
    recording = evaluate(lambda: build(register, Settings(site=site)), stack=site)
    return recording.custom()


def run_pack(resources: list[PolicyResource]) -> dict[str, list[tuple[str, str | None]]]:
    """policy name → reported (message, urn)."""
    reported: dict[str, list[tuple[str, str | None]]] = {}
    for policy in build_policies():
        assert isinstance(policy, StackValidationPolicy)
        found: list[tuple[str, str | None]] = []

        def report(message: str, urn: str | None = None, sink: list[tuple[str, str | None]] = found) -> None:
            sink.append((message, urn))

        policy.validate(StackValidationArgs(resources, {}), report)
        reported[policy.name] = found
    return reported


def test_pack_has_a_mandatory_and_an_advisory_policy_per_resource_rule() -> None:
    policies = {p.name: p for p in build_policies()}
    rules = rules_for_point("resources")
    assert rules
    for rule in rules:
        assert policies[rule.id].enforcement_level is EnforcementLevel.MANDATORY
        assert policies[f"{rule.id}{ADVISORY_SUFFIX}"].enforcement_level is EnforcementLevel.ADVISORY


def test_props_arrive_wrapped_and_are_unwrapped_to_plain_data(standard: m.Register) -> None:
    registration = next(r for r in captured(standard) if r.name.endswith("networkpolicy/allow-dns"))
    props = runtime_props(registration.inputs)
    assert not isinstance(props, dict) and isinstance(props, Mapping)
    port = props["spec"]["egress"][0]["ports"][0]["port"]
    assert isinstance(port, float)  # numbers arrive as protobuf doubles
    unwrapped = plain(props)
    assert unwrapped["spec"]["egress"][0]["ports"][0] == {"protocol": "UDP", "port": 53}
    assert type(unwrapped["spec"]["egress"][0]["ports"][0]["port"]) is int


def test_the_rendered_stack_passes_every_mandatory_policy(standard: m.Register) -> None:
    reported = run_pack(policy_resources(captured(standard)))
    mandatory = {name: found for name, found in reported.items() if not name.endswith(ADVISORY_SUFFIX) and found}
    assert mandatory == {}


def test_missing_default_deny_is_mandatory_at_level_3_and_advisory_below(standard: m.Register) -> None:
    registrations = [r for r in captured(standard)
                     if r.name not in ("health-records/networkpolicy/default-deny",
                                       "low-tier/networkpolicy/default-deny")]
    reported = run_pack(policy_resources(registrations))
    mandatory = reported["XZ-RES-DEFAULT-DENY"]
    assert [message for message, _ in mandatory if "health-records" in message]
    assert not [message for message, _ in mandatory if "low-tier" in message]
    advisory = reported[f"XZ-RES-DEFAULT-DENY{ADVISORY_SUFFIX}"]
    assert [message for message, _ in advisory if "low-tier" in message]
    urns = {r.urn for r in registrations}
    assert all(urn is None or urn in urns for _, urn in mandatory + advisory)


def test_weakened_pod_security_is_reported(standard: m.Register) -> None:
    registrations = captured(standard)
    tampered = []
    for r in registrations:
        if r.name == "namespace/police-intel":
            labels = dict(r.inputs["metadata"]["labels"])
            labels["pod-security.kubernetes.io/enforce"] = "privileged"
            inputs = {**r.inputs, "metadata": {**r.inputs["metadata"], "labels": labels}}
            r = Registration(r.type, r.name, r.urn, r.parent, r.custom, inputs, r.dependencies)
        tampered.append(r)
    violations = evaluate_rules(rules_for_point("resources"), policy_resources(tampered))
    found = [v for v in violations if v.subject == "police-intel" and v.rule_id == "XZ-RES-PSS-RESTRICTED"]
    assert found and all(v.mandatory for v in found)  # level 4


def test_unknown_values_are_skipped_not_judged(standard: m.Register) -> None:
    registrations = captured(standard)
    resources = policy_resources(registrations)
    first = registrations[0]
    unknown_inputs = {**first.inputs, "metadata": {**first.inputs["metadata"], "name": UNKNOWN_STRING_VALUE}}
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    resources[0] = PolicyResource(first.type, runtime_props(unknown_inputs), first.urn, first.name, opts, None,
                                  None, [], {})
    with pytest.raises(UnknownValueError):
        plain(resources[0].props)
    evaluate_rules(rules_for_point("resources"), resources)  # does not raise
    # a review: the skipped resource was named nowhere (its system's facts went with it): an advisory says so
    reported = run_pack(resources)
    assert reported[UNKNOWN_POLICY] == [(reported[UNKNOWN_POLICY][0][0], first.urn)]
    assert "unknown at preview" in reported[UNKNOWN_POLICY][0][0]
    assert run_pack(policy_resources(registrations))[UNKNOWN_POLICY] == []


def test_the_pack_judges_with_the_regions_configured_thresholds(example_register: m.Register, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The pack reads the project's compliance/config.yaml as `xzgov scan --plan` does: a region whose registry is
    configured as trusted is not a violation at preview while the scan passes it."""
    registry = "harbor.xizang.gov.cn"
    settings = Settings(site="lhasa", image_registry=registry,
                        scanner_image=f"{registry}/xzgov/xzgov@sha256:{'a' * 64}",
                        scanner_trusted_fingerprint="b" * 64)
    resources = policy_resources(evaluate(lambda: build(example_register, settings), stack="lhasa").custom())
    rule = [r for r in rules_for_point(Point.RESOURCES) if r.id == "XZ-RES-IMAGE-REGISTRY"]
    monkeypatch.setattr(crossguard, "PROJECT_ROOT", tmp_path)  # no compliance/config.yaml: the defaults
    assert evaluate_rules(rule, resources)  # the scanner's image is not from the default trusted registry
    (tmp_path / "compliance").mkdir()
    (tmp_path / "compliance" / "config.yaml").write_text(f"thresholds:\n  trusted_registries: [{registry}]\n",
                                                          encoding="utf-8")
    assert evaluate_rules(rule, resources) == []
    (tmp_path / "compliance" / "config.yaml").write_text("thresholds:\n  trusted_registries: 7\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"compliance/config\.yaml"):
        evaluate_rules(rule, resources)

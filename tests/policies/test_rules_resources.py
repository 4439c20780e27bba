"""Resource rules over hand-built Kubernetes objects: a compliant tenancy passes, each planted
violation fires exactly its rule (and the same rule objects run on Pulumi-style wrappers)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies.engine import Point, Status, run_rules
from policies.registry import rules_for_point
from xzgov.facts.resources import resource_facts

DIGEST = "registry.xzgov.internal/t/app@sha256:" + "a" * 64
SYSTEM = {"xzgov.io/system": "demo", "xzgov.io/level": "3"}


def tenancy() -> list[dict[str, Any]]:
    container = {
        "name": "app", "image": DIGEST,
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "demo", "labels": {**SYSTEM, "pod-security.kubernetes.io/enforce": "restricted",
                                                 "xzgov.io/department": "dsjj", "xzgov.io/crypto-level": "3"}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "default-deny", "namespace": "demo", "labels": SYSTEM},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "demo"},
         "spec": {"hard": {"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi"}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": "demo"},
         "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "demo"},
         "spec": {"template": {"spec": {"containers": [container]}}}},
        {"apiVersion": "velero.io/v1", "kind": "Schedule",
         "metadata": {"name": "demo-backup", "namespace": "velero", "labels": SYSTEM,
                      "annotations": {"xzgov.io/rpo-minutes": "60"}},
         "spec": {"schedule": "*/30 * * * *"}},
    ]


def failing(objects: list[dict[str, Any]]) -> set[str]:
    facts = [f for f in resource_facts(objects) if f.subject == "demo"]
    assert len(facts) == 1
    return {r.rule_id for r in run_rules(rules_for_point(Point.RESOURCES), facts[0])
            if r.status in (Status.FAIL, Status.PARTIAL, Status.ERROR)}


def _deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment")


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = _deployment(objects)["spec"]["template"]["spec"]
    return spec


def test_compliant_tenancy_passes_every_resource_rule() -> None:
    facts = next(f for f in resource_facts(tenancy()) if f.subject == "demo")
    results = run_rules(rules_for_point(Point.RESOURCES), facts)
    assert {r.rule_id for r in results} == {rule.id for rule in rules_for_point(Point.RESOURCES)}
    assert all(r.status is Status.PASS for r in results), [(r.rule_id, r.message) for r in results]
    assert facts.level == 3


def _mutate(name: str) -> Callable[[list[dict[str, Any]]], None]:
    def privileged(o: list[dict[str, Any]]) -> None:
        _pod(o)["containers"][0]["securityContext"]["privileged"] = True

    def host_network(o: list[dict[str, Any]]) -> None:
        _pod(o)["hostNetwork"] = True

    def tag(o: list[dict[str, Any]]) -> None:
        _pod(o)["containers"][0]["image"] = "registry.xzgov.internal/t/app:latest"

    def no_deny(o: list[dict[str, Any]]) -> None:
        o[:] = [x for x in o if x["kind"] != "NetworkPolicy"]

    def baseline(o: list[dict[str, Any]]) -> None:
        o[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"

    def no_quota(o: list[dict[str, Any]]) -> None:
        o[:] = [x for x in o if x["kind"] != "ResourceQuota"]

    def no_limits(o: list[dict[str, Any]]) -> None:
        del _pod(o)["containers"][0]["resources"]["limits"]

    def slow_backup(o: list[dict[str, Any]]) -> None:
        o[-1]["spec"]["schedule"] = "0 2 * * *"

    return {"privileged": privileged, "host-network": host_network, "tag": tag, "no-deny": no_deny,
            "baseline": baseline, "no-quota": no_quota, "no-limits": no_limits, "slow-backup": slow_backup}[name]


@pytest.mark.parametrize(("planted", "rule"), [
    ("privileged", "XZ-RES-NO-PRIVILEGED"),
    ("host-network", "XZ-RES-NO-PRIVILEGED"),
    ("tag", "XZ-RES-IMAGE-DIGEST"),
    ("no-deny", "XZ-RES-DEFAULT-DENY"),
    ("baseline", "XZ-RES-PSS-RESTRICTED"),
    ("no-quota", "XZ-RES-QUOTAS"),
    ("no-limits", "XZ-RES-QUOTAS"),
    ("slow-backup", "XZ-RES-BACKUP-RPO"),
])
def test_each_violation_fires_exactly_its_rule(planted: str, rule: str) -> None:
    objects = copy.deepcopy(tenancy())
    _mutate(planted)(objects)
    assert failing(objects) == {rule}


def test_ingress_only_deny_is_partial() -> None:
    objects = copy.deepcopy(tenancy())
    objects[1]["spec"]["policyTypes"] = ["Ingress"]
    facts = next(f for f in resource_facts(objects) if f.subject == "demo")
    result = next(r for r in run_rules(rules_for_point(Point.RESOURCES), facts) if r.rule_id == "XZ-RES-DEFAULT-DENY")
    assert result.status is Status.PARTIAL


def test_pulumi_wrappers_are_understood_and_located_by_urn() -> None:
    wrapped = [{"type": f"kubernetes:x:{o['kind']}", "urn": f"urn:pulumi:s::p::{o['kind']}::{i}", "props": o}
               for i, o in enumerate(copy.deepcopy(tenancy()))]
    _pod([w["props"] for w in wrapped])["containers"][0]["image"] = "app:1.0"
    facts = next(f for f in resource_facts(wrapped) if f.subject == "demo")
    result = next(r for r in run_rules(rules_for_point(Point.RESOURCES), facts) if r.rule_id == "XZ-RES-IMAGE-DIGEST")
    assert result.status is Status.FAIL
    assert result.evidence[0].location == "urn:pulumi:s::p::Deployment::4"


def test_objects_without_a_system_label_are_grouped_by_namespace() -> None:
    objects = copy.deepcopy(tenancy())
    objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "segment-x", "labels": {}}})
    subjects = {f.subject for f in resource_facts(objects)}
    assert subjects == {"demo", "namespace:segment-x"}

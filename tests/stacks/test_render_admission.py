"""Admission policies: images from the region's registry by digest; the zone label is the platform's."""

from __future__ import annotations

import re
from typing import Any

from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render.admission import IMAGES_POLICY, ZONE_LABEL_POLICY
from stacks.settings import Settings
from stacks.validate import validate_objects, validate_with_library
from xzgov.core import model as m


def admission(register: m.Register, **settings: Any) -> dict[tuple[str, str], dict[str, Any]]:
    rendered = render_site(register, Settings(site="lhasa", **settings))
    return {(o["kind"], o["metadata"]["name"]): o for o in rendered.admission}


def test_policies_and_bindings_validate_against_kubernetes_1_30(standard: m.Register) -> None:
    objects = admission(standard)
    assert set(objects) == {("ValidatingAdmissionPolicy", IMAGES_POLICY),
                            ("ValidatingAdmissionPolicyBinding", IMAGES_POLICY),
                            ("ValidatingAdmissionPolicy", ZONE_LABEL_POLICY),
                            ("ValidatingAdmissionPolicyBinding", ZONE_LABEL_POLICY)}
    assert validate_objects(objects.values(), "1.30") == []
    for obj in objects.values():
        validate_with_library(obj, "1.30")  # kubernetes-validate's own entry point, strict
    for (kind, _), obj in objects.items():
        if kind == "ValidatingAdmissionPolicyBinding":
            assert obj["spec"]["validationActions"] == ["Deny"]
        else:
            assert obj["spec"]["failurePolicy"] == "Fail"


def test_image_rule_pins_the_registry_and_a_digest(standard: m.Register) -> None:
    policy = admission(standard, image_registry="registry.example.internal:5000")[
        ("ValidatingAdmissionPolicy", IMAGES_POLICY)]
    expression = policy["spec"]["validations"][0]["expression"]
    pattern = re.search(r"matches\('(.+)'\)\)$", expression)
    assert pattern is not None
    regex = pattern.group(1).replace("\\\\", "\\")  # CEL string escapes → RE2
    digest = "a" * 64
    assert re.match(regex, f"registry.example.internal:5000/dsjj/app@sha256:{digest}")
    assert not re.match(regex, "registry.example.internal:5000/dsjj/app:1.0")  # a tag can move
    assert not re.match(regex, f"docker.io/library/app@sha256:{digest}")
    assert not re.match(regex, f"registryXexample.internal:5000/app@sha256:{digest}")  # dots are literal
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert {r for rule in rules for r in rule["resources"]} >= {"pods", "deployments", "statefulsets", "cronjobs"}


def test_only_the_platform_may_touch_the_zone_label(standard: m.Register) -> None:
    policy = admission(standard)[("ValidatingAdmissionPolicy", ZONE_LABEL_POLICY)]
    spec = policy["spec"]
    condition = spec["matchConditions"][0]["expression"]
    assert '"platform-ops"' in condition and '"system:masters"' in condition and condition.startswith("!")
    expression = spec["validations"][0]["expression"]
    assert lb.ZONE in expression and "oldObject" in expression and "request.operation == 'CREATE'" in expression

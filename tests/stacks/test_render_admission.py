"""Admission policies: images from the region's registry by digest; the zone label is the platform's."""

from __future__ import annotations

import re
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

from stacks.render import labels as lb
from stacks.render import render_site
from stacks.render.admission import IMAGES_POLICY, SERVICES_POLICY, ZONE_LABEL_POLICY
from stacks.settings import Settings
from stacks.validate import validate_objects, validate_with_library
from xzgov.core import model as m


def admission(register: m.Register, **settings: Any) -> dict[tuple[str, str], dict[str, Any]]:
    rendered = render_site(register, Settings(site="lhasa", **settings))
    return {(o["kind"], o["metadata"]["name"]): o for o in rendered.admission}


def test_policies_and_bindings_validate_against_kubernetes_1_30(standard: m.Register) -> None:
    objects = admission(standard)
    assert set(objects) == {(kind, name) for name in (IMAGES_POLICY, ZONE_LABEL_POLICY, SERVICES_POLICY)
                            for kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")}
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


# --- the CEL itself, evaluated (cel-python, with RE2 for ``matches`` as the API server uses) ------------------
# kubernetes-validate checks the objects' shape only; these tests run the policies' expressions on admission
# requests as the API server would: matchConditions, then variables in order, then every validation.

def admit(policy: dict[str, Any], obj: dict[str, Any], old: dict[str, Any] | None = None, *,
          operation: str = "CREATE", groups: tuple[str, ...] = ("dsjj-ops", "system:authenticated"),
          username: str = "someone") -> bool:
    """Whether the API server admits ``obj`` under ``policy`` (a request the matchConditions skip is admitted)."""
    env = celpy.Environment()

    def run(expression: str, activation: dict[str, Any]) -> Any:
        return env.program(env.compile(expression)).evaluate(activation)

    activation: dict[str, Any] = {
        "object": json_to_cel(obj), "oldObject": json_to_cel(old),
        "request": json_to_cel({"operation": operation,
                                      "userInfo": {"username": username, "groups": list(groups)}})}
    spec = policy["spec"]
    if not all(bool(run(c["expression"], activation)) for c in spec.get("matchConditions", [])):
        return True
    variables = celtypes.MapType({})
    activation["variables"] = variables
    for variable in spec.get("variables", []):
        variables[celtypes.StringType(variable["name"])] = run(variable["expression"], activation)
    return all(bool(run(v["expression"], activation)) for v in spec["validations"])


def _deployment(*images: str, init: str | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}
    if init:
        pod["initContainers"] = [{"name": "init", "image": init}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "app"},
            "spec": {"template": {"spec": pod}}}


def test_image_policy_admits_only_the_registry_by_digest_when_evaluated(standard: m.Register) -> None:
    policy = admission(standard)[("ValidatingAdmissionPolicy", IMAGES_POLICY)]
    registry = Settings(site="lhasa").image_registry
    good = f"{registry}/dsjj/app@sha256:{'0123456789abcdef' * 4}"
    assert admit(policy, _deployment(good, good))
    assert not admit(policy, _deployment(good, f"{registry}/dsjj/app:1.0"))  # a tag can be moved
    assert not admit(policy, _deployment(f"docker.io/library/app@sha256:{'a' * 64}"))
    assert not admit(policy, _deployment(good, init=f"{registry}/dsjj/init:latest"))  # init containers too
    assert not admit(policy, _deployment(f"{registry.replace('.', 'x', 1)}/app@sha256:{'a' * 64}"))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": good}]}}
    assert admit(policy, pod)
    assert not admit(policy, {**pod, "spec": {"containers": [{"image": "busybox"}]}})
    cron: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                                "containers": [{"image": "busybox@sha256:" + "b" * 64}]}}}}}}
    assert not admit(policy, cron)
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] = good
    assert admit(policy, cron)


def test_zone_label_policy_stops_tenants_and_lets_the_platform_when_evaluated(standard: m.Register) -> None:
    policy = admission(standard)[("ValidatingAdmissionPolicy", ZONE_LABEL_POLICY)]

    def namespace(**labels: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app", "labels": labels}}

    zoned = namespace(**{lb.ZONE: "department", "team": "a"})
    # a tenant: may not add, change or remove the label, may change others
    assert not admit(policy, namespace(**{lb.ZONE: "shared-services", "team": "a"}), zoned, operation="UPDATE")
    assert not admit(policy, namespace(team="a"), zoned, operation="UPDATE")
    assert not admit(policy, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}, zoned,
                     operation="UPDATE")
    assert admit(policy, namespace(**{lb.ZONE: "department", "team": "b"}), zoned, operation="UPDATE")
    assert not admit(policy, namespace(**{lb.ZONE: "department"}))
    assert admit(policy, namespace(team="a"))
    # the platform (the region's operator groups, system:masters) may
    for group in ("platform-ops", "system:masters"):
        assert admit(policy, namespace(**{lb.ZONE: "shared-services"}), zoned, operation="UPDATE", groups=(group,))
        assert admit(policy, namespace(**{lb.ZONE: "department"}), groups=(group,))


def _service(kind: str = "ClusterIP", *, external: list[str] | None = None,
             managed: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "selector": {"app": "x"}, "ports": [{"port": 443, "targetPort": 8443}]}
    if external is not None:
        spec["externalIPs"] = external
    metadata: dict[str, Any] = {"name": "svc", "namespace": "app"}
    if managed:
        metadata["labels"] = {lb.MANAGED_BY: lb.MANAGER}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def test_service_policy_refuses_external_ips_and_keeps_the_entry_paths_the_platforms(
        standard: m.Register, example_register: m.Register) -> None:
    """A review: every department operator could create a Service with externalIPs (another system's address:
    kube-proxy sends that address's traffic to the tenant's pods, CVE-2020-8554) or edit the rendered site-entry
    load balancers' loadBalancerSourceRanges; nothing refused either."""
    objects = admission(standard)
    policy = objects[("ValidatingAdmissionPolicy", SERVICES_POLICY)]
    managed = {"namespaceSelector": {"matchLabels": {lb.MANAGED_BY: lb.MANAGER}}}
    assert objects[("ValidatingAdmissionPolicyBinding", SERVICES_POLICY)]["spec"]["matchResources"] == managed
    assert policy["spec"]["matchConstraints"]["namespaceSelector"] == managed["namespaceSelector"]
    platform = ("platform-ops",)
    # externalIPs: nobody, the platform neither
    for groups in (("dsjj-ops",), platform):
        assert not admit(policy, _service(external=["10.67.8.11"]), groups=groups)
        assert not admit(policy, _service(external=["10.67.8.11"]), _service(), operation="UPDATE", groups=groups)
        assert admit(policy, _service(external=[]), groups=groups)
    # a tenant: ClusterIP Services of its own, no load balancer or node port, none of the platform's touched
    assert admit(policy, _service())
    assert admit(policy, _service(), _service(), operation="UPDATE")
    assert admit(policy, None, _service(), operation="DELETE")  # type: ignore[arg-type]
    assert not admit(policy, _service("LoadBalancer"))
    assert not admit(policy, _service("NodePort"), _service(), operation="UPDATE")
    assert not admit(policy, _service("LoadBalancer", managed=True), _service("LoadBalancer", managed=True),
                     operation="UPDATE")
    assert not admit(policy, None, _service("LoadBalancer", managed=True), operation="DELETE")  # type: ignore[arg-type]
    assert not admit(policy, _service(managed=True))  # nor labelled so (it would pass for the platform's)
    # the platform renders its entry load balancers
    assert admit(policy, _service("LoadBalancer", managed=True), groups=platform)
    assert admit(policy, _service("LoadBalancer", managed=True), _service("LoadBalancer", managed=True),
                 operation="UPDATE", groups=platform)
    # the namespace controller deletes a terminating namespace's Services, the platform's too (second reading:
    # refused, the namespace hung in Terminating); a tenant's service account named like it is not it
    for username in ("system:kube-controller-manager", "system:serviceaccount:kube-system:namespace-controller"):
        assert admit(policy, None, _service("LoadBalancer", managed=True), operation="DELETE",  # type: ignore[arg-type]
                     groups=("system:serviceaccounts", "system:serviceaccounts:kube-system"), username=username)
    assert not admit(policy, None, _service("LoadBalancer", managed=True), operation="DELETE",  # type: ignore[arg-type]
                     username="system:serviceaccount:e-invoice:kube-system")
    # the cloud controller patches its finalizer onto the platform's load balancer; no controller creates one
    managed_lb = _service("LoadBalancer", managed=True)
    assert admit(policy, managed_lb, managed_lb, operation="UPDATE", username="system:cloud-controller-manager")
    assert not admit(policy, _service("LoadBalancer"), username="system:serviceaccount:kube-system:generic")
    # every Service the render itself writes (the example's internet and site entries) passes as the platform's
    services = [o for site in ("lhasa", "dr") for o in render_site(example_register, Settings(site=site)).objects()
                if o["kind"] == "Service"]
    assert len(services) > 10 and all(admit(policy, s, groups=platform) for s in services)

"""Extranet segments and the zones' own tenancies."""

from __future__ import annotations

from typing import Any

from stacks.render import labels as lb
from stacks.render import render_site
from stacks.settings import Settings
from xzgov.core import model as m


def segment(standard: m.Register, zone: str, site: str = "lhasa") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rendered = render_site(standard, Settings(site=site))
    found = next(s for s in rendered.segments if s.zone == zone)
    return {o["metadata"]["name"]: o for o in found.objects}, found.tenancy


def ingress_zones(policy: dict[str, Any]) -> list[str]:
    selector = policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]
    return list(selector["values"])


def test_every_zone_has_a_restricted_segment_namespace(standard: m.Register) -> None:
    rendered = render_site(standard, Settings(site="lhasa"))
    assert {s.zone for s in rendered.segments} == set(standard.region.zones)
    objects, _ = segment(standard, "department")
    labels = objects["zone-department"]["metadata"]["labels"]
    assert labels[lb.ZONE] == "department" and labels[lb.ZONE_KIND] == "department"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert objects["zone-department"]["metadata"]["annotations"][lb.ZONE_NAME] == "部门业务专区"
    assert objects["default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_segment_is_reachable_only_from_its_reachable_from_zones(standard: m.Register) -> None:
    objects, _ = segment(standard, "shared-services")
    policy = objects["ingress-reachable-from"]
    assert ingress_zones(policy) == ["big-data", "department", "public-service", "shared-services"]
    cidrs = [p["ipBlock"]["cidr"] for p in policy["spec"]["ingress"][0]["from"][1:]]
    assert cidrs == ["10.66.0.0/16", "10.65.0.0/16", "10.67.0.0/16", "10.68.0.0/16"]
    objects, _ = segment(standard, "department", site="dr")
    assert ingress_zones(objects["ingress-reachable-from"]) == ["department", "public-service"]
    assert objects["ingress-reachable-from"]["spec"]["ingress"][0]["from"][1] == {"ipBlock": {"cidr": "10.167.0.0/16"}}


def test_security_management_reaches_every_zone(standard: m.Register) -> None:
    for zone in standard.region.zones:
        objects, _ = segment(standard, zone)
        if zone != "security-management":
            assert ingress_zones(objects["ingress-security-management"]) == ["security-management"]
    objects, _ = segment(standard, "security-management")
    egress = objects["egress-monitoring"]["spec"]["egress"][0]["to"]
    assert egress[0] == {"namespaceSelector": {"matchExpressions": [{"key": lb.ZONE, "operator": "Exists"}]}}
    assert sorted(p["ipBlock"]["cidr"] for p in egress[1:]) == sorted(
        str(z.cidr("lhasa")) for z in standard.region.zones.values())
    assert objects["ingress-log-collection"]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 6514}]


def test_internet_access_ingress_path(standard: m.Register) -> None:
    objects, tenancy = segment(standard, "internet-access")
    public = objects["ingress-from-internet"]["spec"]["ingress"][0]
    assert public["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0",
                                           "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}]
    assert public["ports"] == [{"protocol": "TCP", "port": 443}]
    to_systems = objects["egress-internet-facing-systems"]["spec"]["egress"]
    assert to_systems == [{"to": [{"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "health-portal"}}}],
                           "ports": [{"protocol": "TCP", "port": 8443}, {"protocol": "TCP", "port": 9090}]}]
    assert tenancy == []


def test_zone_tenancies_for_shared_services_and_security_management(standard: m.Register) -> None:
    rendered = render_site(standard, Settings(site="lhasa"))
    with_tenancy = {s.zone for s in rendered.segments if s.tenancy}
    assert with_tenancy == {"shared-services", "security-management"}
    _, tenancy = segment(standard, "security-management")
    kinds = sorted(o["kind"] for o in tenancy)
    assert kinds == ["LimitRange", "ResourceQuota", "Role", "RoleBinding", "ServiceAccount"]
    binding = next(o for o in tenancy if o["kind"] == "RoleBinding")
    assert binding["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "platform-ops"}]
    assert all(o["metadata"]["namespace"] == "zone-security-management" for o in tenancy)
    quota = next(o for o in tenancy if o["kind"] == "ResourceQuota")["spec"]["hard"]
    assert quota["requests.cpu"] == "16" and quota["pods"] == "200"

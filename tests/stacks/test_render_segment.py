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


def test_every_zone_has_a_restricted_segment_namespace(standard: m.Register) -> None:
    rendered = render_site(standard, Settings(site="lhasa"))
    assert {s.zone for s in rendered.segments} == set(standard.region.zones)
    objects, _ = segment(standard, "department")
    labels = objects["zone-department"]["metadata"]["labels"]
    assert labels[lb.ZONE] == "department" and labels[lb.ZONE_KIND] == "department"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert objects["zone-department"]["metadata"]["annotations"][lb.ZONE_NAME] == "部门业务专区"
    assert objects["default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_segments_hold_no_inert_boundary_rules(standard: m.Register) -> None:
    """A NetworkPolicy governs only its own namespace's pods: the zone boundary lives in the tenancies.
    Segments keep deny-all and DNS; nothing selects their empty namespaces, allows all ports, or matches
    zone ranges against pod addresses."""
    for site in ("lhasa", "dr"):
        for zone in standard.region.zones:
            objects, _ = segment(standard, zone, site)
            policies = {name for name, o in objects.items() if o["kind"] == "NetworkPolicy"}
            assert policies == {"default-deny", "allow-dns"}, (site, zone)


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


def test_segments_without_a_tenancy_admit_no_pods(standard: m.Register) -> None:
    for zone in ("internet-access", "public-service", "department", "big-data"):
        objects, tenancy = segment(standard, zone)
        assert tenancy == []
        assert objects["tenant-quota"]["spec"]["hard"]["pods"] == "0"
        assert objects["tenant-limits"]["spec"]["limits"] == [{"type": "Container", "max": {"cpu": "0", "memory": "0"}}]
    objects, _ = segment(standard, "shared-services")
    assert "tenant-quota" not in objects  # its ZoneTenancy carries the quota

"""Pure render of tenancies: no Pulumi involved."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import Any

import pytest

from stacks.failover import declare
from stacks.render import labels as lb
from stacks.render import render_site, site_context
from stacks.render.tenant import (
    PURPOSE_CHARACTERS,
    SENDERS_PER_PART,
    TENANT_RULES,
    purpose_annotation,
    quota_hard,
    render_tenant,
)
from stacks.settings import Settings
from tests.stacks import builders
from xzgov.core import model as m
from xzgov.core.errors import UsageError
from xzgov.core.inventory import public_flows


def tenant(register: m.Register, name: str, site: str = "lhasa", **settings: Any) -> dict[tuple[str, str], Any]:
    ctx = site_context(register, Settings(site=site, **settings))
    placement = ctx.placements[name]
    objects = render_tenant(ctx, placement.system, placement.replica)
    keyed = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert len(keyed) == len(objects), "object names must be unique per kind"
    return keyed


def policies(objects: dict[tuple[str, str], Any]) -> dict[str, Any]:
    return {name: o["spec"] for (kind, name), o in objects.items() if kind == "NetworkPolicy"}


def test_namespace_enforces_restricted_pod_security_and_labels(standard: m.Register) -> None:
    ns = tenant(standard, "health-portal", kubernetes_version="1.31")[("Namespace", "health-portal")]
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.31"
    assert labels[lb.DEPARTMENT] == "wjw"
    assert labels[lb.LEVEL] == "3"
    assert labels[lb.ZONE] == "public-service"
    assert labels[lb.TIER] == "region"
    assert labels[lb.SITE] == "lhasa"
    assert all(value.isascii() for value in labels.values())
    annotations = ns["metadata"]["annotations"]
    assert annotations[lb.TITLE] == "health-portal 系统"
    assert annotations[lb.TIER_NAME] == "自治区"
    assert annotations[lb.DEPARTMENT_NAME] == "西藏自治区卫生健康委员会"


def test_quota_sums_requests_and_limits_with_surge_headroom(standard: m.Register) -> None:
    records = standard.systems["health-records"]
    # api: 2 replicas + ceil(2*25%)=1 → 3 pods of 500m/2 CPU, 1Gi/4Gi
    # db:  1 replica + ceil(1*25%)=1 → 2 pods of 1/4 CPU, 2Gi/8Gi; 1 PVC of 100Gi
    assert quota_hard(records, 25) == {
        "requests.cpu": "3500m", "limits.cpu": "14", "requests.memory": "7Gi", "limits.memory": "28Gi",
        "pods": "5", "persistentvolumeclaims": "1", "requests.storage": "100Gi",
        "services.loadbalancers": "0", "services.nodeports": "0",
    }
    no_surge = quota_hard(records, 0)
    assert no_surge["pods"] == "3" and no_surge["requests.cpu"] == "2"
    quota = tenant(standard, "health-records")[("ResourceQuota", "tenant-quota")]
    assert quota["spec"]["hard"] == quota_hard(records, 25)


def test_limit_range_defaults_smallest_declared_and_caps_at_largest(standard: m.Register) -> None:
    limits = tenant(standard, "health-records")[("LimitRange", "tenant-limits")]["spec"]["limits"]
    container = next(item for item in limits if item["type"] == "Container")
    assert container["max"] == {"cpu": "4", "memory": "8Gi"}
    assert container["default"] == {"cpu": "2", "memory": "4Gi"}
    assert container["defaultRequest"] == {"cpu": "500m", "memory": "1Gi"}
    assert {"type": "PersistentVolumeClaim", "max": {"storage": "100Gi"}} in limits


def test_vm_only_system_gets_zero_quota_and_zero_limits(standard: m.Register) -> None:
    objects = tenant(standard, "crypto-platform")
    assert objects[("ResourceQuota", "tenant-quota")]["spec"]["hard"]["pods"] == "0"
    assert objects[("LimitRange", "tenant-limits")]["spec"]["limits"] == [
        {"type": "Container", "max": {"cpu": "0", "memory": "0"}}]


def test_service_account_does_not_automount_tokens(standard: m.Register) -> None:
    objects = tenant(standard, "health-portal")
    assert objects[("ServiceAccount", "health-portal")]["automountServiceAccountToken"] is False
    # the namespace's own "default" account too (pods that name no account)
    assert objects[("ServiceAccount", "default")]["automountServiceAccountToken"] is False


def test_role_bindings_only_for_the_departments_groups(standard: m.Register) -> None:
    objects = tenant(standard, "identity-platform")
    bindings = [o for (kind, _), o in objects.items() if kind == "RoleBinding"]
    subjects = sorted(s["name"] for b in bindings for s in b["subjects"])
    assert subjects == ["dsjj-ops", "platform-ops"]
    assert all(b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": "tenant-operator"} for b in bindings)
    wjw = [o for (kind, _), o in tenant(standard, "health-portal").items() if kind == "RoleBinding"]
    assert [s["name"] for b in wjw for s in b["subjects"]] == ["wjw-ops"]


def test_tenant_role_is_least_privilege() -> None:
    granted = {(group, resource, verb) for rule in TENANT_RULES for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    for forbidden in [("", "pods/exec", "create"), ("", "pods/attach", "create"), ("", "pods/portforward", "create"),
                      ("", "namespaces", "update"),
                      ("networking.k8s.io", "networkpolicies", "create"), ("", "resourcequotas", "update"),
                      ("rbac.authorization.k8s.io", "roles", "create"), ("rbac.authorization.k8s.io", "rolebindings",
                                                                          "create")]:
        assert forbidden not in granted, forbidden
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in TENANT_RULES)
    assert ("apps", "deployments", "update") in granted
    # kubectl apply / Helm read back the Secrets they write (their own namespace only: a Role)
    assert {("", "secrets", verb) for verb in ("get", "list", "create", "update")} <= granted


def test_default_deny_and_dns(standard: m.Register) -> None:
    specs = policies(tenant(standard, "police-intel"))
    assert specs["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = specs["allow-dns"]
    assert dns["policyTypes"] == ["Egress"]
    assert dns["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert dns["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"] == {lb.NAMESPACE_NAME: "kube-system"}


def test_egress_only_for_declared_flows(standard: m.Register) -> None:
    specs = policies(tenant(standard, "health-portal"))
    egress = {name: spec for name, spec in specs.items() if name.startswith("egress-")}
    assert set(egress) == {"egress-service-identity-tcp-443", "egress-system-health-records-tcp-8443",
                           "egress-zone-security-management-tcp-6514"}
    # the Service port 443 is translated before policy: the allow is on the pod port 8443 (named identity)
    assert egress["egress-service-identity-tcp-443"]["egress"] == [{
        "to": [{"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "identity-platform"}}}],
        "ports": [{"protocol": "TCP", "port": 8443}]}]
    assert egress["egress-system-health-records-tcp-8443"]["egress"][0]["to"] == [
        {"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "health-records"}}}]
    # a zone: its tenancies by zone label (pods) and its network at this site (hosts)
    assert egress["egress-zone-security-management-tcp-6514"]["egress"] == [{
        "to": [{"namespaceSelector": {"matchExpressions": [{"key": lb.ZONE, "operator": "In",
                                                            "values": ["security-management"]}]}},
               {"ipBlock": {"cidr": "10.69.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 6514}]}]


def test_service_call_is_not_opened_to_the_providers_database_hosts() -> None:
    provider = builders.system("identity-platform", department="dsjj", zone="shared-services",
                               workloads=[builders.workload("auth", ports=(8443,), names={8443: "identity"})],
                               hosts=[builders.host("db01", "10.66.1.11")])
    caller = builders.system("caller", flows=[builders.flow("service", "identity", 443)])
    spec = policies(tenant(builders.register(provider, caller), "caller"))["egress-service-identity-tcp-443"]
    assert spec["egress"][0]["to"] == [{"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME:
                                                                              "identity-platform"}}}]
    # without a named target port the call cannot be placed: no allow, and a warning
    unnamed = replace(provider, workloads=(builders.workload("auth", ports=(8443,)),))
    register = builders.register(unnamed, caller)
    ctx = site_context(register, Settings(site="lhasa"))
    names = {o["metadata"]["name"] for o in render_tenant(ctx, caller) if o["kind"] == "NetworkPolicy"}
    assert "egress-service-identity-tcp-443" not in names
    assert any("no target port" in w for w in ctx.warnings)


def test_egress_to_vm_only_provider_targets_its_hosts(standard: m.Register) -> None:
    spec = policies(tenant(standard, "identity-platform"))["egress-service-crypto-service-tcp-8443"]
    assert spec["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.66.8.11/32"}}, {"ipBlock": {"cidr": "10.66.8.12/32"}}]


def test_zone_flow_uses_the_cidr_of_the_stacks_site(standard: m.Register) -> None:
    register = builders.register(*standard.systems.values())
    specs = policies(tenant(register, "identity-platform", site="dr"))  # a DR replica (tier 5)
    assert "egress-service-crypto-service-tcp-8443" in specs
    portal = builders.with_flows(standard.systems["dr-native"], builders.flow("zone", "security-management", 6514))
    specs = policies(tenant(builders.register(portal), "dr-native", site="dr"))
    assert specs["egress-zone-security-management-tcp-6514"]["egress"][0]["to"][1] == {"ipBlock": {"cidr":
                                                                                               "10.169.0.0/16"}}


def test_cross_site_target_gets_no_whole_zone_network(standard: m.Register) -> None:
    caller = builders.with_flows(standard.systems["dr-native"], builders.flow("system", "health-records", 8443))
    register = builders.register(*(s for s in standard.systems.values() if s.name != "dr-native"), caller)
    specs = policies(tenant(register, "dr-native", site="dr"))
    # health-records (tier 3) is replicated at the DR site too, so the namespace is present there
    assert specs["egress-system-health-records-tcp-8443"]["egress"][0]["to"] == [
        {"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "health-records"}}}]
    # not replicated: pods at another site have no address here; never the remote zone's whole /16
    ctx = site_context(register, Settings(site="dr", dr_tenancy_min_tier=6))
    objects = render_tenant(ctx, register.systems["dr-native"])
    assert "egress-system-health-records-tcp-8443" not in {o["metadata"]["name"] for o in objects}
    assert any("dr-native: flow to system 'health-records'" in w for w in ctx.warnings)


def with_cluster_ranges(register: m.Register) -> m.Register:
    """``register`` with every zone's cross-site entry (x.254.0/24) and pod egress (x.255.0/26) ranges declared."""
    def ranges(zone: m.Zone, third: int, prefix: int) -> dict[str, ipaddress.IPv4Network]:
        return {site: ipaddress.IPv4Network(f"{'.'.join(str(n.network_address).split('.')[:2])}.{third}.0/{prefix}")
                for site, n in zone.cidrs.items()}
    zones = {zid: replace(z, entry_cidrs=ranges(z, 254, 24), egress_cidrs=ranges(z, 255, 26))
             for zid, z in register.region.zones.items()}
    return replace(register, region=replace(register.region, zones=zones))


def rendered(register: m.Register, site: str, **settings: Any) -> tuple[dict[str, dict[tuple[str, str], Any]],
                                                                         list[str]]:
    """Every tenancy at ``site`` (system → (kind, name) → object), and the plan's warnings."""
    ctx = site_context(register, Settings(site=site, **settings))
    objects = {name: {(o["kind"], o["metadata"]["name"]): o for o in render_tenant(ctx, p.system, p.replica)}
               for name, p in ctx.placements.items()}
    return objects, ctx.warnings


def test_a_call_to_pods_at_another_site_goes_through_its_entry_range_both_ways(standard: m.Register) -> None:
    """dr-native (DR) calls health-records (Lhasa; tier 6 threshold: no DR tenancy) and the identity service
    (Service port 443 → pod port 8443): the DR side sends to the department and shared-services zones' entry
    ranges at Lhasa on the called port; Lhasa admits the DR department zone's egress range on the pod port, and
    its site-entry Services (a load balancer keeping the caller's address) publish the called port."""
    caller = builders.with_flows(standard.systems["dr-native"], builders.flow("system", "health-records", 8443),
                                 builders.flow("service", "identity", 443))
    register = with_cluster_ranges(builders.register(*(s for s in standard.systems.values()
                                                       if s.name != "dr-native"), caller))
    dr, warnings = rendered(register, "dr", dr_tenancy_min_tier=6)
    egress = policies(dr["dr-native"])
    assert egress["egress-system-health-records-tcp-8443"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.67.254.0/24"}}], "ports": [{"protocol": "TCP", "port": 8443}]}]
    assert egress["egress-service-identity-tcp-443"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.66.254.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}]
    assert not any("dr-native" in w for w in warnings), warnings

    lhasa, _ = rendered(register, "lhasa", dr_tenancy_min_tier=6)
    records = policies(lhasa["health-records"])
    assert records["ingress-system-tcp-8443"]["ingress"] == [{
        "from": [names_peer("health-portal"), {"ipBlock": {"cidr": "10.167.255.0/26"}}],
        "ports": [{"protocol": "TCP", "port": 8443}]}]
    entry = lhasa["health-records"][("Service", "site-entry-api")]
    assert entry["spec"] == {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                             "allocateLoadBalancerNodePorts": False,
                             "selector": {"app.kubernetes.io/name": "api"},
                             "loadBalancerSourceRanges": ["10.167.255.0/26"],
                             "ports": [{"name": "tcp-8443", "protocol": "TCP", "port": 8443, "targetPort": 8443}]}
    assert entry["metadata"]["annotations"][lb.ADDRESS_RANGE] == "10.67.254.0/24"
    assert lhasa["health-records"][("ResourceQuota", "tenant-quota")]["spec"]["hard"]["services.loadbalancers"] == "1"
    identity = lhasa["identity-platform"]
    assert identity[("Service", "site-entry-auth")]["spec"]["ports"] == [
        {"name": "tcp-443", "protocol": "TCP", "port": 443, "targetPort": 8443}]
    assert {"ipBlock": {"cidr": "10.167.255.0/26"}} in policies(identity)[
        "ingress-service-identity-tcp-8443"]["ingress"][0]["from"]
    # the database takes no call from outside: no entry for it, and the portal (same site) needs none
    assert ("Service", "site-entry-db") not in lhasa["health-records"]
    assert not any(kind == "Service" for kind, _ in lhasa["health-portal"])


def test_a_standby_tenancy_is_called_here_and_at_home(standard: m.Register) -> None:
    """health-records has a DR tenancy (tier 3), which runs no pods in peace: dr-native's call goes to it and to
    Lhasa's entry range. During a declared disaster the failed-over tenancy alone serves (Lhasa is lost)."""
    caller = builders.with_flows(standard.systems["dr-native"], builders.flow("system", "health-records", 8443))
    register = with_cluster_ranges(builders.register(*(s for s in standard.systems.values()
                                                       if s.name != "dr-native"), caller))
    dr, _ = rendered(register, "dr")
    assert policies(dr["dr-native"])["egress-system-health-records-tcp-8443"]["egress"] == [
        {"to": [{"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "health-records"}}}],
         "ports": [{"protocol": "TCP", "port": 8443}]},
        {"to": [{"ipBlock": {"cidr": "10.67.254.0/24"}}], "ports": [{"protocol": "TCP", "port": 8443}]}]
    # the standby itself calls only what it finds here: health-portal's DR tenancy gets no Lhasa entry
    portal = policies(dr["health-portal"])["egress-system-health-records-tcp-8443"]["egress"]
    assert all("ipBlock" not in peer for rule in portal for peer in rule["to"])
    declared, warnings = rendered(register, "dr", disaster_declared=("lhasa",))
    assert policies(declared["dr-native"])["egress-system-health-records-tcp-8443"]["egress"] == [
        {"to": [{"namespaceSelector": {"matchLabels": {lb.NAMESPACE_NAME: "health-records"}}}],
         "ports": [{"protocol": "TCP", "port": 8443}]}]
    assert not any("health-records" in w and "not reachable" in w for w in warnings)


def test_the_plan_warns_when_a_zones_site_entries_outnumber_its_entry_range(standard: m.Register) -> None:
    """Each site-entry Service takes one load-balancer address of the zone's entry range: three Services of
    the department zone at Lhasa (a VM calling three systems' pods) do not fit in a /30 (two addresses)."""
    caller = builders.system("vm-caller", workloads=[], hosts=[builders.host("caller01", "10.67.9.9")],
                             flows=[builders.flow("system", name, 8443)
                                    for name in ("health-records", "police-intel", "low-tier")])
    register = with_cluster_ranges(builders.register(*standard.systems.values(), caller))
    department = register.region.zones["department"]
    narrow = replace(department, entry_cidrs={"lhasa": ipaddress.IPv4Network("10.67.254.0/30")})
    register = replace(register, region=replace(register.region, zones={**register.region.zones,
                                                                        "department": narrow}))
    render = render_site(register, Settings(site="lhasa"))
    entries = [o for o in render.objects() if o["kind"] == "Service" and o["metadata"]["name"].startswith(
        "site-entry-")]
    assert len(entries) == 3
    assert ("zone 'department' needs 3 load-balancer addresses at 'lhasa' for its site-entry Services, but its "
            "entry_cidrs.lhasa (10.67.254.0/30) has 2: widen the range in region.yaml") in render.warnings
    wide = render_site(with_cluster_ranges(builders.register(*standard.systems.values(), caller)),
                       Settings(site="lhasa"))
    assert not any("load-balancer addresses" in w for w in wide.warnings)


def test_without_declared_ranges_a_remote_call_is_not_opened_and_the_plan_says_why(standard: m.Register) -> None:
    caller = builders.with_flows(standard.systems["dr-native"], builders.flow("system", "health-records", 8443))
    register = builders.register(*(s for s in standard.systems.values() if s.name != "dr-native"), caller)
    dr, warnings = rendered(register, "dr", dr_tenancy_min_tier=6)
    assert "egress-system-health-records-tcp-8443" not in policies(dr["dr-native"])
    assert any("health-records: its pods are not reachable from 'dr'" in w and "entry_cidrs.lhasa" in w
               for w in warnings), warnings
    lhasa, warnings = rendered(register, "lhasa", dr_tenancy_min_tier=6)
    assert policies(lhasa["health-records"])["ingress-system-tcp-8443"]["ingress"][0]["from"] == [
        names_peer("health-portal")]
    assert any("dr-native: its pods at 'dr' have no source address 'lhasa' can admit" in w for w in warnings)


def test_ingress_only_from_declared_sources_internet_access_and_monitoring(standard: m.Register) -> None:
    records = policies(tenant(standard, "health-records"))
    ingress = {name: spec for name, spec in records.items() if name.startswith("ingress-")}
    assert set(ingress) == {"ingress-system-tcp-8443", "ingress-security-management"}
    # one policy per receiving port; its senders by their namespaces' immutable names
    assert ingress["ingress-system-tcp-8443"]["ingress"] == [{
        "from": [names_peer("health-portal")], "ports": [{"protocol": "TCP", "port": 8443}]}]
    monitoring = ingress["ingress-security-management"]["ingress"][0]
    # the zone's network (its monitoring hosts) only: a namespace peer would admit nothing, since the
    # zone's pods have DNS-only egress until they declare flows
    assert monitoring["from"] == [{"ipBlock": {"cidr": "10.69.0.0/16"}}]
    # monitoring reaches the application port, not the database (the workload with a volume)
    assert monitoring["ports"] == [{"protocol": "TCP", "port": 8443}]
    # the internet reaches an internet-facing system only through the gateway's declared flows
    portal = policies(tenant(standard, "health-portal"))
    assert not any("internet" in name for name in portal)


def test_monitoring_comes_only_from_the_declared_monitoring_ranges(standard: m.Register) -> None:
    """region.yaml ``monitoring_cidrs``: the site's monitoring platform, not the security-management zone's
    whole network (its bastion, directory and log centre included)."""
    region = replace(standard.region, monitoring_cidrs={"lhasa": (ipaddress.IPv4Network("10.69.4.0/28"),)})
    register = replace(standard, region=region)
    monitoring = policies(tenant(register, "health-records"))["ingress-security-management"]["ingress"][0]
    assert monitoring["from"] == [{"ipBlock": {"cidr": "10.69.4.0/28"}}]
    assert monitoring["ports"] == [{"protocol": "TCP", "port": 8443}]
    # the DR site declares none: its zone network, as before
    dr = policies(tenant(register, "health-records", site="dr"))["ingress-security-management"]["ingress"][0]
    assert dr["from"] == [{"ipBlock": {"cidr": "10.169.0.0/16"}}]


def test_shared_service_provider_receives_ingress_from_service_consumers(standard: m.Register) -> None:
    specs = policies(tenant(standard, "identity-platform"))
    # consumers name the service port (443); the policy allows the provider's target port behind it
    assert specs["ingress-service-identity-tcp-8443"]["ingress"] == [{
        "from": [names_peer("health-portal")], "ports": [{"protocol": "TCP", "port": 8443}]}]


def test_isolated_system_has_nothing_but_deny_dns_and_monitoring(standard: m.Register) -> None:
    assert set(policies(tenant(standard, "police-intel"))) == {"default-deny", "allow-dns", "allow-within-system",
                                                                "ingress-security-management"}


@pytest.mark.parametrize("site", ["lhasa", "dr"])
def test_example_register_renders_every_system_with_unique_names(example_register: m.Register, site: str) -> None:
    rendered = render_site(example_register, Settings(site=site))
    keys = [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in rendered.objects()]
    assert len(keys) == len(set(keys))
    native = {s.name for s in example_register if s.site == site}
    assert native <= {t.system for t in rendered.tenants}


def _quota_charge(service: dict[str, Any]) -> tuple[int, int]:
    """(services.loadbalancers, services.nodeports) the API server's quota evaluator charges a Service (kubernetes
    pkg/quota/v1/evaluator/core/services.go): a NodePort one node port per port; a LoadBalancer one balancer and,
    unless allocateLoadBalancerNodePorts is false, one node port per port (else only explicit nodePort values)."""
    spec = service["spec"]
    kind, ports = spec.get("type", "ClusterIP"), spec.get("ports", [])
    if kind == "NodePort":
        return 0, len(ports)
    if kind == "LoadBalancer":
        explicit = sum(1 for port in ports if port.get("nodePort"))
        return 1, explicit if spec.get("allocateLoadBalancerNodePorts") is False else len(ports)
    return 0, 0


@pytest.mark.parametrize("site", ["lhasa", "dr"])
def test_every_namespace_admits_the_services_it_renders(example_register: m.Register, site: str) -> None:
    """The quota's services.nodeports 0 refused every LoadBalancer the stack rendered (the internet entry, 40
    site entries): the evaluator charges node ports to a LoadBalancer that allocates them."""
    rendered = list(render_site(example_register, Settings(site=site)).objects())
    hard = {o["metadata"]["namespace"]: o["spec"]["hard"] for o in rendered if o["kind"] == "ResourceQuota"}
    charged: dict[str, list[int]] = {}
    for service in (o for o in rendered if o["kind"] == "Service"):
        balancers, node_ports = _quota_charge(service)
        total = charged.setdefault(service["metadata"]["namespace"], [0, 0])
        total[0] += balancers
        total[1] += node_ports
    assert any(balancers for balancers, _ in charged.values())  # the example renders load balancers
    for namespace, (balancers, node_ports) in charged.items():
        if namespace in hard:
            assert balancers <= int(hard[namespace].get("services.loadbalancers", balancers)), namespace
            assert node_ports <= int(hard[namespace].get("services.nodeports", node_ports)), namespace


def _published(name: str, number: int, exposure: str | None = "public") -> m.Workload:
    return replace(builders.workload(name, ports=(number,)), ports=(m.Port(number, "TCP", None, exposure),))


def test_internet_entry_is_a_load_balancer_in_front_of_the_gateway_only() -> None:
    gateway = builders.system("internet-gateway", department="dsjj", zone="internet-access",
                              workloads=[_published("waf", 443),
                                         builders.workload("offload", ports=(8443,))],
                              flows=[builders.flow("system", "portal", 8443, purpose="反向代理")])
    portal = builders.system("portal", internet_facing=True, zone="public-service",
                             workloads=[builders.workload("web", ports=(8443, 9090))])
    register = builders.register(gateway, portal)
    objects = tenant(register, "internet-gateway")
    service = objects[("Service", "internet-waf")]
    assert service["spec"] == {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                               "allocateLoadBalancerNodePorts": False,
                               "selector": {"app.kubernetes.io/name": "waf"},
                               "ports": [{"name": "tcp-443", "protocol": "TCP", "port": 443, "targetPort": 443}]}
    assert objects[("ResourceQuota", "tenant-quota")]["spec"]["hard"]["services.loadbalancers"] == "1"
    public = policies(objects)["ingress-from-internet"]["ingress"][0]
    # not the internet either: shared address space (pods and nodes of clusters use it), loopback, link-local
    assert public["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0",
                                           "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                      "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"]}}]
    assert public["ports"] == [{"protocol": "TCP", "port": 443}]
    assert policies(objects)["ingress-from-internet"]["podSelector"] == {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["waf"]}]}  # not the offload's pods
    # the published system admits the gateway on the declared port only, nothing from the internet zone
    published = policies(tenant(register, "portal"))
    assert published["ingress-system-tcp-8443"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8443}]
    assert not any("internet" in name and "gateway" not in name for name in published)
    # every other tenancy keeps its load-balancer quota at 0
    assert tenant(register, "portal")[("ResourceQuota", "tenant-quota")]["spec"]["hard"][
        "services.loadbalancers"] == "0"


@pytest.mark.parametrize("case", ["lhasa", "dr", "dr-declared"])
def test_no_rule_admits_every_port_or_every_namespace(example_register: m.Register, case: str) -> None:
    """Issue 14, item 11: every ingress/egress rule of every NetworkPolicy (tenancies, segments, the scanner,
    and the DR site after a declared disaster) names its ports and selects specific peers."""
    if case == "dr-declared":
        rendered = declare(example_register, Settings(site="dr"), "lhasa").render
    else:
        rendered = render_site(example_register, Settings(site=case))
    rules = 0
    rendered_here = {obj["metadata"]["name"] for obj in rendered.objects() if obj["kind"] == "Namespace"}
    for obj in rendered.objects():
        if obj["kind"] != "NetworkPolicy":
            continue
        where = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        for direction in ("ingress", "egress"):
            for rule in obj["spec"].get(direction, []):
                rules += 1
                assert rule.get("ports") and all("port" in p and "endPort" not in p for p in rule["ports"]), where
                peers = [*rule.get("from", []), *rule.get("to", [])]
                assert peers, where  # no peers = every source/destination
                for peer in peers:
                    # {} = everything; an empty namespaceSelector = every namespace (a bare podSelector stays
                    # in the policy's own namespace: the system's own pods)
                    assert peer and peer.get("namespaceSelector", {"unset": True}) != {}, (where, peer)
                    # senders named: each is a namespace rendered here
                    for expression in peer.get("namespaceSelector", {}).get("matchExpressions", []):
                        if expression["key"] == lb.NAMESPACE_NAME:
                            assert expression["values"] and set(expression["values"]) <= rendered_here, (where, peer)
    # every tenancy has at least its DNS egress and its own workloads' ingress and egress
    assert rules >= 3 * len(rendered.tenants) > 90


def names_peer(*namespaces: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchExpressions": [
        {"key": lb.NAMESPACE_NAME, "operator": "In", "values": list(namespaces)}]}}


def ingress_parts(specs: dict[str, Any], prefix: str) -> dict[str, list[dict[str, Any]]]:
    return {name: spec["ingress"] for name, spec in specs.items() if name.startswith(prefix)}


def whole_parts(register: m.Register, receiver: str, prefix: str = "ingress-zone-") -> dict[str, Any]:
    return {name: obj for (kind, name), obj in tenant(register, receiver).items()
            if kind == "NetworkPolicy" and name.startswith(prefix)}


def part_names(policy: dict[str, Any]) -> set[str]:
    """The namespaces a part names and the hosts it lists."""
    found: set[str] = set()
    for peer in policy["spec"]["ingress"][0]["from"]:
        if "ipBlock" in peer:
            found.add(peer["ipBlock"]["cidr"])
        else:
            found.update(peer["namespaceSelector"]["matchExpressions"][0]["values"])
    return found


def test_many_senders_to_a_zone_make_one_policy_per_receiving_port_not_per_sender() -> None:
    """Issue 16: one ingress policy per sender made every receiver of a zone hold one policy per sending system
    (a synthetic region of 3,000 rendered 248,841). Now one per receiving port, split in parts past
    SENDERS_PER_PART; every sender in exactly one part, named or by its hosts."""
    collectors = [builders.system(f"log-collector-{i}", department="dsjj", zone="security-management",
                                  workloads=[builders.workload("collector", ports=(6514,))]) for i in range(2)]
    count = SENDERS_PER_PART * 3 + 17
    senders = [builders.system(f"sender-{i:04d}", workloads=[builders.workload("app")] if i % 2 else [],
                               hosts=[builders.host(f"s{i}", f"10.70.{i // 200}.{i % 200 + 1}")] if i % 3 else [],
                               flows=[builders.flow("zone", "security-management", 6514, purpose=f"日志上送 {i % 40}")])
               for i in range(count)]
    register = builders.register(*collectors, *senders)
    for collector in collectors:
        objects = tenant(register, collector.name)
        parts = ingress_parts(policies(objects), "ingress-zone-")
        assert set(parts) == {"ingress-zone-tcp-6514", *(f"ingress-zone-tcp-6514-{i}" for i in (2, 3, 4))}
        named: list[str] = []
        hosts: list[str] = []
        for rules in parts.values():
            assert len(rules) == 1 and rules[0]["ports"] == [{"protocol": "TCP", "port": 6514}]
            for peer in rules[0]["from"]:
                if "ipBlock" in peer:
                    hosts.append(peer["ipBlock"]["cidr"])
                else:
                    (expression,) = peer["namespaceSelector"]["matchExpressions"]
                    assert expression["key"] == lb.NAMESPACE_NAME and expression["operator"] == "In"
                    named += expression["values"]
        # pods of the senders that run them, hosts of those that have them: each once, nobody else
        assert sorted(named) == sorted(s.namespace for s in senders if s.workloads)
        assert sorted(hosts) == sorted(f"{h.address}/32" for s in senders for h in s.hosts)
        assert max(len(rules[0]["from"]) for rules in parts.values()) <= 2 * SENDERS_PER_PART
        # each part names the purposes of the senders it admits (not of sender-0000: no pods, no hosts), once
        by_peer = {s.namespace: s for s in senders if s.workloads} | {
            f"{h.address}/32": s for s in senders for h in s.hosts}
        for name in parts:
            metadata = objects[("NetworkPolicy", name)]["metadata"]
            admitted = sorted({by_peer[peer].name for peer in part_names(objects[("NetworkPolicy", name)])})
            purposes = [f.purpose for s in senders if s.name in admitted for f in s.flows]
            assert metadata["annotations"][lb.PURPOSE] == "; ".join(dict.fromkeys(purposes))
            assert metadata["annotations"][lb.PARTS_OF] == "ingress-zone-tcp-6514"
    # a sender joining (with a purpose of its own) changes its own part only — spec and metadata
    before = whole_parts(register, collectors[0].name)
    joined = builders.system("sender-new", workloads=[builders.workload("app")],
                             flows=[builders.flow("zone", "security-management", 6514, purpose="新用途")])
    after = whole_parts(builders.register(*collectors, *senders, joined), collectors[0].name)
    assert set(after) == set(before)
    changed = [name for name in before if after[name] != before[name]]
    assert len(changed) == 1 and "新用途" in after[changed[0]]["metadata"]["annotations"][lb.PURPOSE]
    # few senders: one policy, not marked as a part
    few = whole_parts(builders.register(*collectors, *senders[:40]), collectors[0].name)
    assert list(few) == ["ingress-zone-tcp-6514"]
    assert lb.PARTS_OF not in few["ingress-zone-tcp-6514"]["metadata"]["annotations"]
    # no sender with pods here or hosts: nothing rendered (a policy would admit nothing)
    nothing = [replace(s, workloads=(), hosts=()) for s in senders[:40]]
    assert not ingress_parts(policies(tenant(builders.register(*collectors, *nothing), collectors[0].name)),
                             "ingress-zone-")


def test_purposes_are_named_once_and_bounded() -> None:
    assert purpose_annotation(["日志上送", "对时", "日志上送"]) == "日志上送; 对时"
    many = purpose_annotation([f"用途 {i:03d}" for i in range(1000)])
    assert many.startswith("用途 000; 用途 001") and many.endswith(" more") and len(many) <= PURPOSE_CHARACTERS + 40
    assert int(many.split("另 ")[1].split(" ")[0]) + many.count("用途") == 1000
    huge = purpose_annotation(["长" * 5000, "短"])
    assert huge.startswith("长" * 100) and huge.endswith("另 1 项 / 1 more") and len(huge) <= PURPOSE_CHARACTERS + 40


def test_when_the_parts_double_a_sender_moves_from_place_b_to_b_plus_count() -> None:
    """Crossing 250 × 2ᵏ senders doubles the places and moves about half the senders — each from part b to part
    b + count (what the components' make-before-break ordering relies on), nobody anywhere else."""
    collector = builders.system("log-collector", department="dsjj", zone="security-management",
                                workloads=[builders.workload("collector", ports=(6514,))])
    senders = [builders.system(f"sender-{i:04d}", flows=[builders.flow("zone", "security-management", 6514)])
               for i in range(SENDERS_PER_PART * 2 + 1)]

    def places(count: int) -> dict[str, int]:
        parts = whole_parts(builders.register(collector, *senders[:count]), collector.name)
        return {sender: int(name.rsplit("-", 1)[1]) - 1 if name != "ingress-zone-tcp-6514" else 0
                for name, policy in parts.items() for sender in part_names(policy)}

    for count, places_before in ((SENDERS_PER_PART, 1), (SENDERS_PER_PART * 2, 2)):
        before, after = places(count), places(count + 1)
        assert len(before) == count and len(after) == count + 1
        assert max(before.values()) < places_before and max(after.values()) < places_before * 2
        moved = {name for name in before if after[name] != before[name]}
        assert 0 < len(moved) < count
        assert all(after[name] == before[name] + places_before for name in moved)


def test_a_system_named_like_the_configured_backup_namespace_is_refused(example_register: m.Register) -> None:
    """Validation reserves the default backup namespace (``velero``); a site that runs Velero elsewhere names it in
    xzgov:veleroNamespace, and a system of that name would put its default-deny policy and its department's Role
    over the backup system and its storage credentials: the plan refuses it, at the system's file."""
    name = next(iter(example_register.systems))
    settings = Settings(site="lhasa", velero_namespace=name)
    with pytest.raises(UsageError) as raised:
        site_context(example_register, settings)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.file == example_register.systems[name].source and diagnostic.path == "metadata.name"
    assert "xzgov:veleroNamespace" in diagnostic.message and "rename the system" in diagnostic.hint
    site_context(example_register, Settings(site="lhasa"))  # the default namespace: no system may take it anyway


def test_names_past_the_limit_stay_distinct() -> None:
    """Two workloads whose 52-character names differ only at the end made two Services site-entry-<name> cut to
    the same 63 characters: one object on apply, the other workload's cross-site entry lost."""
    first, second = lb.dns_name("site-entry", "x" * 52 + "-alpha"), lb.dns_name("site-entry", "x" * 52 + "-bravo")
    assert first != second and len(first) == len(second) == 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", first)
    assert lb.dns_name("egress", "system", "records", "tcp", "8443") == "egress-system-records-tcp-8443"  # short: kept
    assert lb.dns_name("a" * 300, limit=253) != lb.dns_name("a" * 299 + "b", limit=253)


def test_the_internet_entry_publishes_only_ports_marked_public() -> None:
    """An admin console the gateway keeps ``exposure: internal`` on 443 got a load balancer and the internet
    policy (which selected the whole namespace); a port left unmarked is the scan's 多余端口, not a published
    entry: neither is published, the second with a plan warning. Two published workloads get a policy each."""
    gateway = builders.system("internet-gateway", department="dsjj", zone="internet-access",
                              workloads=[_published("waf", 443), _published("console", 443, "internal"),
                                         _published("legacy", 443, None), _published("api", 443)])
    register = builders.register(gateway)
    ctx = site_context(register, Settings(site="lhasa"))
    placement = ctx.placements["internet-gateway"]
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render_tenant(ctx, placement.system, placement.replica)}
    assert {name for kind, name in objects if kind == "Service" and name.startswith("internet-")} == {
        "internet-waf", "internet-api"}
    published = {name: spec for name, spec in policies(objects).items() if name.startswith("ingress-from-internet")}
    assert {name: spec["podSelector"]["matchExpressions"][0]["values"] for name, spec in published.items()} == {
        "ingress-from-internet-waf": ["waf"], "ingress-from-internet-api": ["api"]}
    assert any("'legacy' listens on internet ingress port 443 without exposure: public" in w
               for w in ctx.warnings), ctx.warnings
    assert not any("'console'" in w for w in ctx.warnings)


@pytest.mark.parametrize(("name", "says"), [
    ("internet-gatway", "no system 'internet-gatway' in the register"),
    ("medical-insurance", "'medical-insurance' is in zone 'department', not an internet-access zone")])
def test_an_internet_gateway_that_is_not_one_is_refused(example_register: m.Register, name: str, says: str) -> None:
    """A typo cut every published system off without a word; a department system named there took the internet's
    0.0.0.0/0 ingress on its ports. Both are refused at xzgov:internetGateway."""
    with pytest.raises(UsageError) as refused:
        site_context(example_register, Settings(site="lhasa", internet_gateway=name))
    (problem,) = refused.value.diagnostics
    assert problem.path == "xzgov:internetGateway" and says in problem.message, problem.message
    assert "internet-access zone" in problem.hint


def test_a_register_without_the_default_gateway_warns_only_when_a_system_faces_the_internet() -> None:
    portal = builders.system("portal", internet_facing=True, zone="public-service",
                             workloads=[builders.workload("web", ports=(8443,))])
    quiet = site_context(builders.register(builders.system("records")), Settings(site="lhasa"))
    assert not [w for w in quiet.warnings if "internetGateway" in w]
    facing = site_context(builders.register(portal), Settings(site="lhasa"))
    assert any("no system 'internet-gateway' (xzgov:internetGateway)" in w and "portal" in w
               for w in facing.warnings), facing.warnings


def test_an_extranet_zone_in_public_address_space_is_not_the_internet() -> None:
    """The internet was 0.0.0.0/0 except RFC 1918 only: a zone addressed in public space (the e-government
    extranet's 59.255.0.0/16) reached the gateway's public entry, on the cloud and on the hosts' firewalls, although
    the zone graph forbids it. The region's own networks are excepted wherever "the internet" is written."""
    gateway = builders.system("internet-gateway", department="dsjj", zone="internet-access",
                              workloads=[_published("waf", 443)],
                              hosts=[replace(builders.host("waf-vm01", "10.64.0.11"),
                                             ports=(m.Port(443, "TCP", None, "public"),))])
    register = builders.register(gateway)
    zones = dict(register.region.zones)
    zones["department"] = replace(zones["department"], cidrs={"lhasa": ipaddress.IPv4Network("59.255.0.0/17"),
                                                              "dr": ipaddress.IPv4Network("59.255.128.0/17")})
    register = replace(register, region=replace(register.region, zones=zones))
    excepted = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                "59.255.0.0/16"]  # the two halves, collapsed
    public = policies(tenant(register, "internet-gateway"))["ingress-from-internet"]["ingress"][0]
    assert public["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepted}}]
    (flow,) = [f for f in public_flows(register.region, gateway.hosts[0]) if f["peer"] == "internet"]
    assert flow["except_cidrs"] == excepted and flow["peer_cidrs"] == ["0.0.0.0/0"]

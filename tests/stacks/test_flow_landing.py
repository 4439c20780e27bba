"""A declared flow is allowed exactly where it lands: on the port the target declares, never on its other hosts.

The oracle here is the manifests' own declarations (a shared service's port in region.yaml, the ports the
target's workloads and hosts list), not the resolution the render uses (``xzgov.core.ports``): a flow to a
shared service on another port or protocol is refused when the register is checked; a flow to a system on a
port none of its workloads declares opens only the hosts declaring that port, and nothing (with a plan warning)
when none does — it opened every host of the system, database hosts included."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.render.context import site_context
from stacks.render.tenant import render_tenant
from stacks.settings import Settings
from tests.stacks import builders
from xzgov.core import model as m
from xzgov.core.ports import port_reach
from xzgov.core.register import check_register

REPO = Path(__file__).resolve().parents[2]


def _egress(register: m.Register, name: str) -> tuple[dict[str, Any], list[str]]:
    ctx = site_context(register, Settings(site="lhasa"))
    placement = ctx.placements[name]
    specs = {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
             if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("egress-")}
    return specs, ctx.warnings


def _records(*, db_port: int = 5432) -> m.System:
    """An application on pods (8443) with a database host serving ``db_port`` and an application host
    declaring nothing."""
    return builders.system("records", workloads=[builders.workload("api", ports=(8443,))],
                           hosts=[builders.host("records-app01", "10.66.2.31"),
                                  builders.host("records-db01", "10.66.2.32", (db_port,))])


def test_a_flow_to_a_systems_service_port_opens_no_host() -> None:
    """The consumer named 443 (a Service port); the pods listen on 8443 and no host declares 443: it opened
    both hosts, the database's included."""
    caller = builders.system("caller", flows=[builders.flow("system", "records", 443)])
    specs, warnings = _egress(builders.register(_records(), caller), "caller")
    assert "egress-system-records-tcp-443" not in specs
    assert any("records: nothing listens on 443/TCP" in w for w in warnings), warnings


def test_a_flow_to_a_host_port_opens_only_the_hosts_declaring_it() -> None:
    caller = builders.system("caller", flows=[builders.flow("system", "records", 5432),
                                              builders.flow("system", "records", 8443)])
    specs, _ = _egress(builders.register(_records(), caller), "caller")
    assert specs["egress-system-records-tcp-5432"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.66.2.32/32"}}]
    to_pods = specs["egress-system-records-tcp-8443"]["egress"][0]["to"]
    assert to_pods and all("ipBlock" not in peer for peer in to_pods)  # the pods, not a host


def test_a_vm_served_service_is_reached_on_its_port_whatever_the_flow_says() -> None:
    """A register built in code skips validation: even so, the allow is for the service's port (8443), on the
    hosts serving it — the flow's own port 22 (SSH) is never opened on the provider's hosts."""
    standard = builders.standard()
    caller = builders.system("caller", flows=[builders.flow("service", "crypto-service", 22)])
    specs, _ = _egress(builders.register(*standard.systems.values(), caller), "caller")
    rule = specs["egress-service-crypto-service-tcp-22"]["egress"][0]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert rule["to"] == [{"ipBlock": {"cidr": "10.66.8.11/32"}}, {"ipBlock": {"cidr": "10.66.8.12/32"}}]


def test_a_service_a_provider_serves_from_its_hosts_is_reached_there_though_it_runs_workloads() -> None:
    """The provider runs a console on pods (8080, internal) and serves crypto-service (8443) from its VM: the
    flow lands on the VM — so the register, the scan's port model and the VM's firewall said — but the
    consumer's egress was dropped ("no target port") because the provider has workloads."""
    provider = builders.system("crypto-platform", zone="shared-services",
                               workloads=[builders.workload("console", ports=(8080,))],
                               hosts=[builders.host("cp-app01", "10.66.8.11", (8443,))])
    caller = builders.system("caller", flows=[builders.flow("service", "crypto-service", 8443)])
    register = builders.register(provider, caller)
    specs, warnings = _egress(register, "caller")
    rule = specs["egress-service-crypto-service-tcp-8443"]["egress"][0]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert rule["to"] == [{"ipBlock": {"cidr": "10.66.8.11/32"}}]
    assert not [w for w in warnings if "crypto-service" in w], warnings
    # the port model agrees: the host's 8443 is reached by the caller through the service
    (reach,) = [r for r in port_reach(register, provider) if r.kind == "host"]
    assert any(by.startswith("caller") for by in reach.reached_by), reach
    # and a provider serving it from nothing is still unserved: no egress, a warning
    idle = builders.system("crypto-platform", zone="shared-services",
                           workloads=[builders.workload("console", ports=(8080,))],
                           hosts=[builders.host("cp-app01", "10.66.8.11")])
    specs, warnings = _egress(builders.register(idle, caller), "caller")
    assert "egress-service-crypto-service-tcp-8443" not in specs
    assert any("crypto-service' has no target port" in w for w in warnings), warnings


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"port": 5432}, "port", "not port 5432"),
    ({"protocol": "udp"}, "protocol", "not protocol udp"),
])
def test_a_flow_to_a_shared_service_on_another_port_is_refused(tmp_path: Path, change: dict[str, object],
                                                               field: str, message: str) -> None:
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    manifest = tmp_path / "systems" / "ybj" / "medical-insurance.yaml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    index = next(i for i, flow in enumerate(data["spec"]["flows"]) if flow["to"].get("service") == "payment")
    data["spec"]["flows"][index].update(change)
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loaded = check_register(tmp_path)
    found = [d for d in loaded.diagnostics if d.path == f"spec.flows[{index}].{field}"]
    assert len(found) == 1 and message in found[0].message and "payment" in found[0].message, loaded.diagnostics
    assert found[0].file.endswith("medical-insurance.yaml") and found[0].line > 0
    assert "port: 443" in found[0].hint


def test_the_example_regions_flows_all_land() -> None:
    """Every declared flow of the example region to a system or service lands on a declared port (so the
    stricter render opens what it opened before)."""
    loaded = check_register(REPO)
    assert loaded.ok and loaded.register is not None
    specs_warned = []
    for site in ("lhasa", "dr"):
        ctx = site_context(loaded.register, Settings(site=site))
        for placement in ctx.placements.values():
            render_tenant(ctx, placement.system, placement.replica)
        specs_warned += [w for w in ctx.warnings if "nothing listens on" in w]
    assert specs_warned == []


def _ingress(register: m.Register, name: str) -> dict[str, Any]:
    ctx = site_context(register, Settings(site="lhasa"))
    placement = ctx.placements[name]
    return {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
            if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("ingress-")}


def test_a_service_is_admitted_only_to_the_pods_serving_it() -> None:
    """The provider's admin console listens on the same port as the service's own workload: every consumer of
    the service reached the console (the allow selected the whole namespace)."""
    standard = builders.standard()
    provider = standard.systems["identity-platform"]
    admin = dataclasses.replace(builders.workload("admin", ports=(8443,)),
                                ports=(m.Port(8443, "TCP", None, "internal"),))
    provider = dataclasses.replace(provider, workloads=(*provider.workloads, admin))
    register = builders.register(*{**standard.systems, provider.name: provider}.values())
    specs = _ingress(register, "identity-platform")
    selector = specs["ingress-service-identity-tcp-8443"]["podSelector"]
    assert selector == {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                              "values": ["auth"]}]}
    # monitoring: the service's pods, not the console's internal port (only the system itself reaches it)
    monitored = specs["ingress-security-management"]
    assert monitored["podSelector"]["matchExpressions"][0]["values"] == ["auth"]
    assert not [name for name in specs if name.startswith("ingress-security-management-")]
    records = builders.system("records", workloads=[
        builders.workload("api", ports=(8443,)),
        dataclasses.replace(builders.workload("console", ports=(9443,)), ports=(m.Port(9443, "TCP", None,
                                                                                       "internal"),)),
        builders.workload("db", ports=(5432,), storage="10Gi")])
    specs = _ingress(builders.register(records), "records")
    monitored = specs["ingress-security-management"]
    assert monitored["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert monitored["podSelector"]["matchExpressions"][0]["values"] == ["api"]
    assert [name for name in specs if name.startswith("ingress-security-management")] == [
        "ingress-security-management"]


def test_a_flow_to_a_system_port_never_admits_a_workload_keeping_that_port_internal() -> None:
    """api listens on 8443; admin listens on 8443 too, marked internal (its own system's only): a caller's flow to
    8443 selected the whole namespace, admin included (the service case above already kept it out)."""
    admin = dataclasses.replace(builders.workload("admin", ports=(8443,)),
                                ports=(m.Port(8443, "TCP", None, "internal"),))
    shared = builders.system("records", workloads=[builders.workload("api", ports=(8443,)), admin])
    caller = builders.system("caller", flows=[builders.flow("system", "records", 8443)])
    specs = _ingress(builders.register(shared, caller), "records")
    assert specs["ingress-system-tcp-8443"]["podSelector"] == {
        "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["api"]}]}


def test_a_flow_to_a_port_admits_every_workload_listening_there() -> None:
    records = builders.system("records", workloads=[builders.workload("api", ports=(8443,)),
                                                    builders.workload("db", ports=(5432,), storage="10Gi")])
    caller = builders.system("caller", flows=[builders.flow("system", "records", 8443)])
    specs = _ingress(builders.register(records, caller), "records")
    assert specs["ingress-system-tcp-8443"]["podSelector"]["matchExpressions"][0]["values"] == ["api"]


def test_monitoring_opens_each_workload_only_its_own_ports() -> None:
    records = builders.system("records", workloads=[builders.workload("api", ports=(8443,)),
                                                    builders.workload("worker", ports=(9090,))])
    specs = _ingress(builders.register(records), "records")
    api, worker = specs["ingress-security-management"], specs["ingress-security-management-worker"]
    assert (api["ingress"][0]["ports"], api["podSelector"]["matchExpressions"][0]["values"]) == (
        [{"protocol": "TCP", "port": 8443}], ["api"])
    assert (worker["ingress"][0]["ports"], worker["podSelector"]["matchExpressions"][0]["values"]) == (
        [{"protocol": "TCP", "port": 9090}], ["worker"])


def _archive(*, host_port: int | None) -> m.System:
    """A receiver placed at the DR site: pods listening on 6514, and a host declaring it (or not)."""
    return builders.system("archive", site="dr", dr_tier=1, workloads=[builders.workload("receiver", ports=(6514,))],
                           hosts=[builders.host("archive-log01", "10.169.1.10", (host_port,) if host_port else ()),
                                  builders.host("archive-db01", "10.169.1.11", (5432,))])


def test_a_flow_to_pods_at_another_site_goes_to_the_hosts_declaring_the_port() -> None:
    """The receiver's pods run in the other site's cluster, which this cluster cannot name: the flow was
    dropped (a plan warning only) although the receiver's host serves the port — the primary's log copy to the
    DR log centre never flowed. Now it reaches that host, and only it."""
    caller = builders.system("caller", flows=[builders.flow("system", "archive", 6514)])
    specs, warnings = _egress(builders.register(_archive(host_port=6514), caller), "caller")
    assert specs["egress-system-archive-tcp-6514"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.169.1.10/32"}}]
    assert not [w for w in warnings if "archive" in w], warnings


def test_a_flow_to_pods_at_another_site_without_a_serving_host_is_not_allowed() -> None:
    caller = builders.system("caller", flows=[builders.flow("system", "archive", 6514)])
    specs, warnings = _egress(builders.register(_archive(host_port=None), caller), "caller")
    assert "egress-system-archive-tcp-6514" not in specs
    assert any("flow to system 'archive' has no address reachable from site 'lhasa'" in w for w in warnings), warnings
    assert not any("nothing listens on" in w for w in warnings), warnings  # its pods do listen, elsewhere


def test_the_pods_are_reached_where_they_run() -> None:
    """At the receiver's own site the same flow (from a DR replica of the caller) reaches its pods, not its host."""
    caller = builders.system("caller", dr_tier=4, flows=[builders.flow("system", "archive", 6514)])
    register = builders.register(_archive(host_port=6514), caller)
    ctx = site_context(register, Settings(site="dr"))
    placement = ctx.placements["caller"]
    specs = {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
             if o["kind"] == "NetworkPolicy"}
    assert specs["egress-system-archive-tcp-6514"]["egress"][0]["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "archive"}}}]


def test_a_host_port_shadowed_by_pods_is_reached_from_another_site_only() -> None:
    """The port model says the same as the render: the host's 6514 is reached by the flow from the other site
    (XZ-MAN-INBOUND-PORTS and the live scan read this), the flow from the receiver's own site reaches the pods."""
    remote = builders.system("remote", flows=[builders.flow("system", "archive", 6514, purpose="异地日志复制")])
    local = builders.system("local", site="dr", flows=[builders.flow("system", "archive", 6514, purpose="本地日志")])
    register = builders.register(_archive(host_port=6514), remote, local)
    reach = {(r.kind, r.owner, r.port.port): r.reached_by for r in port_reach(register, register.systems["archive"])}
    assert reach[("host", "archive-log01", 6514)] == ("remote: 异地日志复制",)
    assert reach[("workload", "receiver", 6514)] == ("local: 本地日志", "remote: 异地日志复制")  # sorted


# ----------------------------------------------------------------- what the zone graph or the receiver forbids


def _policies(register: m.Register, name: str) -> tuple[dict[str, Any], list[str]]:
    ctx = site_context(register, Settings(site="lhasa"))
    placement = ctx.placements[name]
    specs = {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
             if o["kind"] == "NetworkPolicy"}
    return specs, ctx.warnings


def test_a_flow_the_zone_graph_forbids_is_neither_sent_nor_received() -> None:
    """A system in the internet-access zone declared a flow to the department zone (whose reachable_from names
    public-service only): the scan reported XZ-MAN-DECLARED-FLOWS, yet the render allowed its egress and every
    department tenancy admitted it — to a zone, and to a system of that zone directly."""
    sender = builders.system("trade-monitor", zone="internet-access",
                             flows=[builders.flow("zone", "department", 8443),
                                    builders.flow("system", "records", 8443)])
    allowed = builders.system("portal", zone="public-service", flows=[builders.flow("system", "records", 8443)])
    register = builders.register(_records(), sender, allowed)
    egress, warnings = _policies(register, "trade-monitor")
    assert not [name for name in egress if name.startswith("egress-") and "dns" not in name]
    assert sum("crosses a zone boundary region.yaml does not declare" in w for w in warnings) == 2, warnings
    ingress, _ = _policies(register, "records")
    admitted = [peer for name, spec in ingress.items() if name.startswith("ingress-system")
                for rule in spec["ingress"] for peer in rule["from"]]
    names = [value for peer in admitted for e in peer.get("namespaceSelector", {}).get("matchExpressions", [])
             for value in e["values"]]
    assert "portal" in names and "trade-monitor" not in names  # the declared path is honoured
    assert not [name for name in ingress if name.startswith("ingress-zone")]


def test_a_flow_to_a_port_every_serving_workload_marks_internal_is_not_admitted() -> None:
    """``exposure: internal`` says only the system itself reaches the port: a caller's declaration alone opened
    it (the scan's XZ-MAN-INBOUND-PORTS is critical on the receiver)."""
    records = builders.system("records", workloads=[dataclasses.replace(
        builders.workload("console", ports=(8080,)), ports=(m.Port(8080, "TCP", None, "internal"),)),
        builders.workload("api", ports=(8443,))])
    caller = builders.system("caller", flows=[builders.flow("system", "records", 8080),
                                              builders.flow("system", "records", 8443)])
    ingress, warnings = _policies(builders.register(records, caller), "records")
    assert "ingress-system-tcp-8443" in ingress and "ingress-system-tcp-8080" not in ingress
    assert any("caller's flow to 8080/TCP arrives at a port every serving workload marks exposure: internal" in w
               for w in warnings), warnings


def test_the_host_firewalls_follow_the_same_zone_graph() -> None:
    """``xzgov inventory``: the forbidden flow opens neither the sender's output nor the receiver's input; the
    declared path does."""
    from xzgov.core.inventory import allowed_flows

    sender = builders.system("trade-monitor", zone="internet-access", workloads=[],
                             hosts=[builders.host("trade-01", "10.64.3.11")],
                             flows=[builders.flow("system", "records", 5432)])
    allowed = builders.system("portal", zone="public-service", workloads=[],
                              hosts=[builders.host("portal-01", "10.65.3.11")],
                              flows=[builders.flow("system", "records", 5432)])
    register = builders.register(_records(), sender, allowed)
    records = register.systems["records"]
    database = records.hosts[1]
    inbound = [(f["peer"], f["port"]) for f in allowed_flows(register, records, database) if f["direction"] == "in"]
    assert inbound == [("system:portal", 5432)]
    assert not [f for f in allowed_flows(register, sender, sender.hosts[0]) if f["direction"] == "out"]
    assert [f["peer_cidrs"] for f in allowed_flows(register, allowed, allowed.hosts[0])
            if f["direction"] == "out"] == [["10.66.2.32/32"]]


def test_ntp_to_the_security_management_zone_goes_to_the_regions_time_sources_at_every_site() -> None:
    """Systems of the example declare NTP to the security-management zone: at the DR site the egress went to that
    zone's network there (10.169.0.0/16), where no time source is — the region's time sources (lhasa) were
    unreachable from eco-bigdata and every standby. Now: the time sources themselves, at every site."""
    from xzgov.core.register import load_register

    register = load_register(REPO)
    sources = [{"ipBlock": {"cidr": f"{source}/32"}} for source in register.region.time_sources]
    checked = 0
    for site in ("lhasa", "dr"):
        ctx = site_context(register, Settings(site=site))
        for name, placement in ctx.placements.items():
            if not any(f.to.kind == "zone" and (f.protocol, f.port) == ("udp", 123) for f in placement.system.flows):
                continue
            specs = {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system,
                                                                            placement.replica)
                     if o["kind"] == "NetworkPolicy"}
            (rule,) = specs["egress-zone-security-management-udp-123"]["egress"]
            assert rule["to"] == sources and rule["ports"] == [{"protocol": "UDP", "port": 123}], (site, name)
            checked += 1
    assert checked >= 30  # 16 at lhasa, 15 at dr


def _records_with_internal_db() -> m.System:
    """:func:`_records` whose database host keeps 5432 ``exposure: internal`` (its own application only)."""
    records = _records()
    app, db = records.hosts
    return dataclasses.replace(records, hosts=(app, dataclasses.replace(
        db, ports=(m.Port(5432, "TCP", None, "internal"),))))


def test_a_flow_to_a_host_port_marked_internal_opens_nothing() -> None:
    """A host port marked ``exposure: internal`` is the system's own: another system's flow there was rendered
    as an allow to the database host (and its firewall admitted the sender), with no word; now neither side
    opens it, and the plan says why (the scan's XZ-MAN-INBOUND-PORTS fails the receiver)."""
    from xzgov.core.inventory import allowed_flows

    records = _records_with_internal_db()
    caller = builders.system("caller", flows=[builders.flow("system", "records", 5432)],
                             hosts=[builders.host("caller-app01", "10.66.8.11")])
    register = builders.register(records, caller)
    specs, warnings = _egress(register, "caller")
    assert "egress-system-records-tcp-5432" not in specs
    assert any("records: 5432/TCP is a host port marked exposure: internal" in w for w in warnings), warnings
    out = [f for f in allowed_flows(register, caller, caller.hosts[0]) if f["peer"] == "system:records"]
    assert [f["peer_cidrs"] for f in out] == [[]]  # the sender's firewall opens nothing either


def test_a_systems_own_pods_reach_its_hosts_internal_ports() -> None:
    """The other half: its own application's pods reach the database host's internal port (allow-own-hosts), and
    nothing else of the host."""
    ctx = site_context(builders.register(_records_with_internal_db()), Settings(site="lhasa"))
    placement = ctx.placements["records"]
    policies = {o["metadata"]["name"]: o["spec"] for o in render_tenant(ctx, placement.system, placement.replica)
                if o["kind"] == "NetworkPolicy"}
    assert policies["allow-own-hosts"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.66.2.32/32"}}], "ports": [{"protocol": "TCP", "port": 5432}]}]
    assert policies["allow-own-hosts"]["policyTypes"] == ["Egress"]


@pytest.mark.parametrize(("port", "refused"), [(9443, True), (8443, False), ("8443-internal", True)])
def test_a_shared_service_is_served_on_one_pod_port(tmp_path: Path, port: int | str, refused: bool) -> None:
    """A review: a second workload naming its port after the identity service on another number (a v2 beside the
    first) was reached by the Service while the NetworkPolicies admitted 8443 and the first workload only — every
    call landing on the v2 pods dropped, validate and the plan's connectivity check silent. The same number is
    fine (both workloads are admitted)."""
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    manifest = tmp_path / "systems" / "dsjj" / "unified-identity.yaml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    entry: dict[str, object] = ({"port": 8443, "name": "identity", "exposure": "internal"} if port == "8443-internal"
                                else {"port": port, "name": "identity"})  # (internal: the Service reaches it too)
    v2 = dict(data["spec"]["workloads"][0], name="auth-server-v2", ports=[entry])
    data["spec"]["workloads"].append(v2)
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loaded = check_register(tmp_path)
    found = [d for d in loaded.diagnostics if "the port named 'identity'" in d.message]
    if not refused:
        assert not found and loaded.ok, loaded.diagnostics
        return
    (problem,) = found
    index = len(data["spec"]["workloads"]) - 1
    field = "exposure" if port == "8443-internal" else "port"
    assert problem.path == f"spec.workloads[{index}].ports[0].{field}", problem
    assert ("8443/TCP internal" if port == "8443-internal" else "9443/TCP") in problem.message
    assert "8443/TCP on 'auth-server'" in problem.message and problem.file.endswith("unified-identity.yaml")

"""Inbound ports in the typed model (``xzgov.core.ports``): host ports and ``exposure`` are read with located
errors, flows resolve to the port they arrive at (pod port behind a shared service, host port otherwise), and
every listening port of the example region is reached by a declared flow or marked."""

from __future__ import annotations

from pathlib import Path

from tests.register.conftest import REPO, edit, line_of
from xzgov.core import model as m
from xzgov.core import ports
from xzgov.core.register import check_register, load_register


def _errors(region: Path, file: str) -> list[tuple[str, int, str]]:
    return [(d.path, d.line, d.code) for d in check_register(region).diagnostics if d.file.endswith(file)]


def test_host_ports_and_exposure_are_read(region: Path) -> None:
    idp = region / "systems/dsjj/idp.yaml"
    edit(idp, "      data: postgresql\n",
         "      data: postgresql\n      ports: [{port: 5432, name: postgresql, exposure: internal}]\n")
    edit(idp, "ports: [{port: 8443}]", "ports: [{port: 8443, name: identity}]")
    system = load_register(region).systems["idp"]
    assert system.hosts[0].ports == (m.Port(5432, "TCP", "postgresql", "internal"),)
    assert system.workloads[0].ports == (m.Port(8443, "TCP", "identity", None),)


def test_public_outside_an_internet_access_zone_is_a_located_error(region: Path) -> None:
    idp = region / "systems/dsjj/idp.yaml"  # shared-services zone
    edit(idp, "ports: [{port: 8443}]", "ports: [{port: 8443, exposure: public}]")
    errors = [d for d in check_register(region).diagnostics if d.file.endswith("systems/dsjj/idp.yaml")]
    assert [(d.path, d.line, d.code) for d in errors] == [
        ("spec.workloads[0].ports[0].exposure", line_of(idp, "exposure: public"), "reference")]
    assert "shared-services" in errors[0].message and "exposure: internal" in errors[0].hint


def test_an_unknown_exposure_and_a_port_listed_twice_are_located_errors(region: Path) -> None:
    idp = region / "systems/dsjj/idp.yaml"
    edit(idp, "      data: postgresql\n", "      data: postgresql\n      ports: [{port: 5432}, {port: 5432}]\n")
    assert _errors(region, "systems/dsjj/idp.yaml") == [
        ("spec.hosts[0].ports[1].port", line_of(idp, "ports: [{port: 5432}"), "duplicate")]
    edit(idp, "ports: [{port: 5432}, {port: 5432}]", "ports: [{port: 5432, exposure: private}]")
    (path, line, code), = _errors(region, "systems/dsjj/idp.yaml")
    assert (path, line, code) == ("spec.hosts[0].ports[0].exposure", line_of(idp, "exposure: private"), "enum")


def test_flows_resolve_to_the_port_they_arrive_at() -> None:
    register = load_register(REPO)
    identity = register.systems["unified-identity"]
    consumer = register.systems["e-seal"]
    flow = next(f for f in consumer.flows if f.to == m.FlowTarget("service", "identity"))
    arrived = ports.arrival(register, flow)
    # the service's port 443 arrives at the provider's workload port named after the service
    assert arrived.system is identity and arrived.service is not None and not arrived.unserved
    assert arrived.port == ports.service_target_port(identity, arrived.service) != flow.port
    into = ports.inbound(register, identity)
    assert any(i.source is consumer and i.via == "identity" and i.port == arrived.port for i in into)
    # NTP to the security-management zone reaches the time-source hosts' declared port
    ntp = next(r for r in ports.port_reach(register, register.systems["security-ops"])
               if r.owner == "ntp01")
    assert ntp.kind == "host" and (ntp.port.protocol, ntp.port.port) == ("UDP", 123)
    assert any("to zone security-management" in text for text in ntp.reached_by)
    assert any("region contract" in text for text in ntp.reached_by)


def test_every_example_port_is_reached_or_marked() -> None:
    register = load_register(REPO)
    unmarked = [(s.name, r.label) for s in register for r in ports.port_reach(register, s)
                if not r.reached_by and r.port.exposure is None]
    # crypto-service.yaml is edited with the crypto-service work (issue 19), which marks its two internal ports
    # (the signing proxy behind the KMS API, the console); nothing else may be left unmarked
    assert set(unmarked) <= {("crypto-service", "workload sign-proxy 8444/TCP"),
                             ("crypto-service", "workload crypto-console 8080/TCP")}, unmarked
    assert not [s.name for s in register if ports.unlanded(register, s)]
    marked = [r for s in register for r in ports.port_reach(register, s) if r.port.exposure is not None]
    assert {r.port.exposure for r in marked} == {"internal", "public"}
    public = sorted(f"{s.name}:{r.owner}" for s in register for r in ports.port_reach(register, s)
                    if r.port.exposure == "public")
    assert public == ["internet-gateway:hlwjr-lb01", "internet-gateway:hlwjr-lb02", "internet-gateway:waf"]

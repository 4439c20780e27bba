"""Connectivity of a rendered site, computed by a real NetworkPolicy analyser (IBM np-guard's
``network-config-analyzer``, ``nca``), over pods synthesised from each system's workloads.

Schema validity says nothing about which traffic flows: NetworkPolicy ports are pod ports, peers are
label selectors and ``ipBlock``s. So the rendered Namespaces and NetworkPolicies are handed to the
analyser together with one Pod per workload (the labels and container ports the workload runs with),
the cluster DNS (``kube-system/coredns``) and the internet as a source, and its connectivity map is
read back. A *connection* is (source, destination pod, protocol, port) where the destination listens
on that port: what a client could actually reach.

The analyser runs in a subprocess (``python -m nca``; ``XZGOV_NCA_PYTHON`` names another interpreter)
so that its exact dependency pins never meet this package's imports.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stacks.render import SiteRender
from stacks.render import labels as lb
from stacks.render.network import WORKLOAD_LABEL, service_target_port, serving_workloads
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.ports import zone_permits

Obj = dict[str, Any]

#: the source standing for "the internet" (any public address)
INTERNET = "internet"
DNS = "kube-system/coredns"
#: a public address: an ip range holding it is the internet
_PUBLIC_PROBE = ipaddress.IPv4Address("8.8.8.8")
_LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conns>.+)$")
_BLOCK = re.compile(r"\{protocols:(?P<protocols>[A-Z, ]+?)(?:,dst_ports:(?P<ports>[0-9,\-]+))?\}")


class AnalyserUnavailable(RuntimeError):
    """``network-config-analyzer`` is not installed (``pip install network-config-analyzer``)."""


@dataclass(frozen=True, order=True)
class Listener:
    """A destination that accepts connections: ``namespace/pod`` on ``protocol``/``port``."""

    pod: str
    protocol: str
    port: int


@dataclass(frozen=True, order=True)
class Connection:
    source: str  # "namespace/pod", INTERNET, or an address range the analyser reported
    target: Listener


@dataclass(frozen=True)
class Connectivity:
    """What the analyser found for one site."""

    site: str
    pods: tuple[str, ...]
    listeners: tuple[Listener, ...]
    allowed: frozenset[Connection]
    #: raw analyser lines with address ranges other than the internet as source or destination
    ip_rules: tuple[str, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        return (*self.pods, INTERNET)

    @property
    def possible(self) -> int:
        """Every (source, listener) pair except a pod to itself."""
        return sum(1 for s in self.sources for t in self.listeners if s != t.pod)

    @property
    def denied(self) -> int:
        return self.possible - len(self.allowed)

    def allows(self, source: str, pod: str, protocol: str, port: int) -> bool:
        return Connection(source, Listener(pod, protocol.upper(), port)) in self.allowed

    def against(self, declared: Mapping[Connection, str]) -> tuple[list[Connection], list[Connection]]:
        """``(missing, undeclared)``: what :func:`declared_connections` calls for and the analyser finds blocked,
        and what it finds allowed that nothing declares (the cluster DNS's own traffic aside)."""
        allowed = {c for c in self.allowed if _ours(c)}
        return sorted(set(declared) - allowed), sorted(allowed - set(declared))

    def summary(self) -> dict[str, int]:
        # the internet reaching the cluster DNS pod is the cluster's business (no load balancer publishes it),
        # so it is not counted as a path from the internet (_ours)
        from_internet = sum(1 for c in self.allowed if c.source == INTERNET and _ours(c))
        dns = sum(1 for c in self.allowed if c.target.pod == DNS and c.source != INTERNET)
        return {"endpoints": len(self.pods), "listeners": len(self.listeners), "possible": self.possible,
                "allowed": len(self.allowed), "denied": self.denied, "dns": dns, "from_internet": from_internet}


def _ours(connection: Connection) -> bool:
    """kube-system carries no policy of ours (the cluster's DNS): only tenants' calls to it are judged."""
    return not connection.source.startswith("kube-system/") and not (
        connection.target.pod.startswith("kube-system/") and connection.source == INTERNET)


def declared_connections(register: m.Register, render: SiteRender, settings: Settings) -> dict[Connection, str]:
    """Every pod-to-pod connection the declarations call for at the site, from the register alone (not from the
    rendered policies), with the reason for each: **dns** (every tenant pod → the cluster DNS on UDP/TCP 53; the
    platform's CronJobs — the compliance scanner — read and write volumes only and are declared nothing),
    **within-system** (a system's pods → its own other pods on their ports), **flow** (a declared flow's sender
    pods → the receiver's pods serving the flow's pod port: a shared service's named target port, else every
    workload listening there that does not keep the port ``internal``; a zone flow → those pods of the zone's
    other systems; a flow the zone graph forbids calls for nothing: the plan warns of it) and **internet** (the
    internet → the gateway's pods on the ``internetIngressPorts`` they mark ``exposure: public``). Flows to and
    from addresses (hosts, zone networks, monitoring) are ``ipBlock`` rules, outside this set."""
    present = {t.system: [(f"{register.systems[t.system].namespace}/{w.name}", w)
                          for w in register.systems[t.system].workloads] for t in render.tenants}
    result: dict[Connection, str] = {}

    def serving(system: m.System, protocol: str, number: int, service: str = "") -> list[Listener]:
        names = {w.name for w in serving_workloads(system, protocol, number, service)}
        return [Listener(pod, protocol.upper(), number) for pod, w in present.get(system.name, []) if w.name in names]

    for name, entries in present.items():
        for pod, _ in entries:
            for protocol in ("UDP", "TCP"):
                result[Connection(pod, Listener(DNS, protocol, 53))] = "dns"
            for other, workload in entries:
                for p in workload.ports:
                    if other != pod:
                        result[Connection(pod, Listener(other, p.protocol.upper(), p.port))] = "within-system"
        source = register.systems[name]
        for flow in source.flows:
            if not zone_permits(register, source, flow):
                continue
            targets: list[Listener] = []
            if flow.to.kind == "zone":
                for receiver in (register.systems[n] for n in present if n != name):
                    if receiver.zone == flow.to.name:
                        targets += serving(receiver, flow.protocol, flow.port)
            else:
                destination = m.resolve_flow_target(register, flow.to)
                if destination.system is None or destination.system.name not in present:
                    continue
                number = flow.port
                if destination.service is not None:
                    number = service_target_port(destination.system, destination.service) or flow.port
                targets = serving(destination.system, flow.protocol, number,
                                  destination.service.id if destination.service is not None else "")
            for pod, _ in entries:
                for target in targets:
                    if target.pod != pod:  # a pod calling itself (a service it provides) is never a policy's say
                        result.setdefault(Connection(pod, target), f"flow {name} → {flow.to.kind} {flow.to.name}")
    for pod, workload in present.get(settings.internet_gateway, []):
        for p in workload.ports:
            if p.protocol.upper() == "TCP" and p.port in settings.internet_ingress_ports and p.exposure == "public":
                result[Connection(INTERNET, Listener(pod, "TCP", p.port))] = "internet → gateway"
    return result


def synthesise_pods(register: m.Register, render: SiteRender) -> list[Obj]:
    """One Pod per workload of every tenancy at the site (labels and ports as the workload runs), plus
    the cluster DNS. Namespaces get ``kubernetes.io/metadata.name`` as the API server sets it."""
    pods: list[Obj] = [_namespace("kube-system", {}),
                       _pod("kube-system", "coredns", {"k8s-app": "kube-dns"},
                            [m.Port(53, "UDP"), m.Port(53, "TCP")], "registry.k8s.io/coredns")]
    for tenant in render.tenants:
        system = register.systems[tenant.system]
        for workload in system.workloads:
            pods.append(_pod(system.namespace, workload.name,
                             {lb.SYSTEM: system.name, WORKLOAD_LABEL: workload.name}, workload.ports,
                             workload.image))
    for obj in render.objects():  # the platform's own rendered workloads (the scanner's CronJobs)
        if obj["kind"] == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            container = template["spec"]["containers"][0]
            ports = [m.Port(p["containerPort"], p.get("protocol", "TCP")) for p in container.get("ports", [])]
            pods.append(_pod(obj["metadata"]["namespace"], obj["metadata"]["name"],
                             template["metadata"].get("labels", {}), ports, container["image"]))
    return pods


def _namespace(name: str, labels: Mapping[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {**labels, lb.NAMESPACE_NAME: name}}}


def _pod(namespace: str, name: str, labels: Mapping[str, str], ports: Iterable[m.Port], image: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"containers": [{"name": name, "image": image, "ports": [
                {"containerPort": p.port, "protocol": p.protocol.upper()} for p in ports]}]},
            # the analyser needs addresses; any private ones do (policies select pods by label)
            "status": {"hostIP": "192.168.0.1", "podIP": "192.168.0.2"}}


def analyser_input(register: m.Register, render: SiteRender) -> list[Obj]:
    """Namespaces (with the API server's name label) and NetworkPolicies as rendered, plus the pods."""
    documents: list[Obj] = []
    for obj in render.objects():
        if obj["kind"] == "Namespace":
            documents.append(_namespace(obj["metadata"]["name"], obj["metadata"].get("labels", {})))
        elif obj["kind"] == "NetworkPolicy":
            documents.append(obj)
    return documents + synthesise_pods(register, render)


def _listeners(pods: Iterable[Obj]) -> list[Listener]:
    result = []
    for pod in pods:
        if pod["kind"] != "Pod":
            continue
        name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for container in pod["spec"]["containers"]:
            for p in container.get("ports", []):
                result.append(Listener(name, p["protocol"], p["containerPort"]))
    return sorted(set(result))


def _parse_conns(text: str) -> list[tuple[str, tuple[int, int] | None]]:
    """``All connections`` / ``{protocols:TCP,dst_ports:80-81,443};{…}`` → (protocol, port range | None)."""
    if text.strip() == "All connections":
        return [("*", None)]
    result: list[tuple[str, tuple[int, int] | None]] = []
    for block in _BLOCK.finditer(text):
        for protocol in (p.strip() for p in block["protocols"].split(",")):
            if not block["ports"]:
                result.append((protocol, None))
                continue
            for part in block["ports"].split(","):
                low, _, high = part.partition("-")
                result.append((protocol, (int(low), int(high or low))))
    return result


def _is_internet(endpoint: str) -> bool:
    for part in endpoint.split(","):
        low, _, high = part.partition("-")
        try:
            if "/" in low:
                if _PUBLIC_PROBE in ipaddress.IPv4Network(low, strict=False):
                    return True
            elif ipaddress.IPv4Address(low) <= _PUBLIC_PROBE <= ipaddress.IPv4Address(high or low):
                return True
        except ValueError:
            return False
    return False


def _pod_name(endpoint: str) -> str | None:
    return endpoint.removesuffix("[Pod]") if endpoint.endswith("[Pod]") else None


def parse_report(report: str, listeners: Iterable[Listener]) -> tuple[set[Connection], list[str]]:
    """The analyser's ``txt_no_fw_rules`` report → allowed connections to listeners, and other lines."""
    by_pod: dict[str, list[Listener]] = {}
    for listener in listeners:
        by_pod.setdefault(listener.pod, []).append(listener)
    allowed: set[Connection] = set()
    ip_rules: list[str] = []
    for line in report.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        src_pod, dst_pod = _pod_name(match["src"]), _pod_name(match["dst"])
        if dst_pod is None:
            ip_rules.append(line.strip())
            continue
        if src_pod is None:
            if not _is_internet(match["src"]):
                ip_rules.append(line.strip())
                continue
            source = INTERNET
        else:
            source = src_pod
        for protocol, ports in _parse_conns(match["conns"]):
            for listener in by_pod.get(dst_pod, []):
                if protocol not in ("*", listener.protocol):
                    continue
                if ports is None or ports[0] <= listener.port <= ports[1]:
                    allowed.add(Connection(source, listener))
    return allowed, ip_rules


#: Where `make setup` installs the analyser: its own venv, because every release of network-config-analyzer
#: pins PyYAML to an exact version that differs from this project's pin.
ANALYSER_VENV = Path(__file__).resolve().parents[1] / ".venv-nca"


def _analyser_command() -> list[str]:
    """``$XZGOV_NCA_PYTHON``, else the analyser's venv from `make setup`, else this interpreter."""
    bundled = ANALYSER_VENV / "bin" / "python"
    default = str(bundled) if bundled.is_file() else sys.executable
    return [os.environ.get("XZGOV_NCA_PYTHON", default), "-m", "nca"]


def run_analyser(documents: list[Obj]) -> str:
    """Run ``nca --connectivity`` over ``documents``; its per-pair report (``txt_no_fw_rules``)."""
    with tempfile.TemporaryDirectory(prefix="xzgov-nca-") as tmp:
        resources = Path(tmp) / "resources.yaml"
        report = Path(tmp) / "connectivity.txt"
        resources.write_text(yaml.safe_dump_all(documents, allow_unicode=True, sort_keys=False), "utf-8")
        command = [*_analyser_command(), "--connectivity", "-r", str(resources), "-o", "txt_no_fw_rules",
                   "-f", str(report), "--return_0"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=tmp, timeout=600, check=False)
        except FileNotFoundError as exc:
            raise AnalyserUnavailable(str(exc)) from exc
        if not report.exists():
            if "No module named nca" in done.stderr:
                raise AnalyserUnavailable("network-config-analyzer is not installed")
            raise RuntimeError(f"network-config-analyzer failed ({done.returncode}): {done.stderr[-2000:]}")
        return report.read_text("utf-8")


def analyse(register: m.Register, render: SiteRender) -> Connectivity:
    """The connectivity of one rendered site, as the analyser computes it."""
    documents = analyser_input(register, render)
    listeners = _listeners(documents)
    allowed, ip_rules = parse_report(run_analyser(documents), listeners)
    pods = tuple(sorted(f"{d['metadata']['namespace']}/{d['metadata']['name']}"
                        for d in documents if d["kind"] == "Pod"))
    # a pod reaching itself is not a network connection
    allowed = {c for c in allowed if c.source != c.target.pod}
    return Connectivity(render.site, pods, tuple(listeners), frozenset(allowed), tuple(ip_rules))

"""Random valid registers for property tests of the network: the example region with systems removed and added.

Each new system takes a random zone, site, workloads and hosts (ports of every exposure, protocols, shared service
names) and random flows (to systems, shared services and zones, crossing boundaries the zone graph may forbid); a
shared service may move to a new provider; a few example systems call the new ones. The result is written as
manifests and read by the real loader, so a register the loader refuses is a defect of this generator (the test
says so), never a silently smaller case.
"""

from __future__ import annotations

import copy
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "systems" / "lzs" / "nyingchi-tourism.yaml"
#: the second octet of each zone's network at the primary site (the DR site's is 100 more)
ZONE_OCTETS = {"internet-access": 64, "public-service": 65, "shared-services": 66, "department": 67,
               "big-data": 68, "security-management": 69}
DEPARTMENTS = ("jxt", "fgw", "gat", "scjgj", "wjw", "jyt", "rst", "czt", "zrzyt", "lhs", "lzs", "nqs", "ybj")
PORTS = (443, 8443, 8080, 5432, 9000, 53, 123, 6514, 5671, 1, 65535, 3000, 3001)
IMAGE = "registry.xzgov.internal/x/app@sha256:" + "a" * 64
#: providers, the gateway and the security-management systems stay: the region contract names them
KEEP = frozenset({"unified-identity", "e-license", "e-seal", "public-payment", "e-invoice", "credit-sharing",
                  "local-credit", "crypto-service", "info-publishing", "ai-platform", "tianditu-xizang",
                  "internet-gateway", "security-ops", "security-ops-dr", "data-exchange"})


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(document: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _protocol(port: dict[str, Any]) -> str:
    return str(port.get("protocol", "TCP")).lower()


def _open_ports(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every port of the system another system may call (workloads' and hosts', not ``internal``)."""
    spec = document["spec"]
    return [p for owner in [*spec.get("workloads", []), *spec.get("hosts", [])] for p in owner.get("ports", [])
            if p.get("exposure") != "internal"]


def _ports(rng: random.Random, count: int, zone: str, *, host: bool) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for _ in range(count):
        number, protocol = rng.choice(PORTS), rng.choice(["TCP", "TCP", "UDP"])
        if (protocol, number) in seen:
            continue
        seen.add((protocol, number))
        entry: dict[str, Any] = {"port": number}
        if protocol == "UDP" or (not host and rng.random() < .2):
            entry["protocol"] = protocol
        draw = rng.random()
        if draw < .25:
            entry["exposure"] = "internal"
        elif draw < .35 and zone == "internet-access":
            entry["exposure"] = "public"
        if not host and rng.random() < .2:
            entry["name"] = rng.choice(["identity", "e-license", "messaging", "ai", "gis", "crypto-service"])
        ports.append(entry)
    return ports


def _new_system(rng: random.Random, seed: int, index: int, template: dict[str, Any],
                used: set[str]) -> dict[str, Any]:
    document = copy.deepcopy(template)
    name = f"rs{seed}-sys{index}"
    department = rng.choice(DEPARTMENTS)
    zone = rng.choice(list(ZONE_OCTETS))
    site = rng.choice(["lhasa", "lhasa", "dr"])
    spec = document["spec"]
    document["metadata"].update(name=name, department=department, title=f"随机系统 {name}")
    spec["owner"]["department"] = department
    spec["placement"] = {"zone": zone, "site": site}
    spec["classification"]["level"] = rng.choice([2, 3, 4])
    spec["classification"]["filing_number"] = f"5409{seed % 10000:04d}{index:03d}-{rng.randint(10000, 99999)}"
    spec["continuity"]["dr_tier"] = rng.choice([0, 2, 3, 4, 5])
    spec["assessments"]["dengbao"]["report"] = f"DJCP-R{seed}-{index}"
    spec["assessments"]["miping"]["report"] = f"MP-R{seed}-{index}"
    spec.pop("data_sets", None)
    workloads = []
    for number in range(rng.choice([0, 1, 1, 2, 3])):
        workload: dict[str, Any] = {
            "name": f"w{number}", "image": IMAGE, "ports": _ports(rng, rng.choice([1, 1, 2, 3]), zone, host=False),
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
        if workload["ports"]:
            workloads.append(workload)
    if workloads:
        spec["workloads"] = workloads
    else:
        spec.pop("workloads", None)
    if rng.random() < .55 or not workloads:
        hosts = []
        octet = ZONE_OCTETS[zone] + (100 if site == "dr" else 0)
        for number in range(rng.choice([1, 2])):
            while (address := f"10.{octet}.{rng.randint(100, 199)}.{rng.randint(10, 250)}") in used:
                pass
            used.add(address)
            hosts.append({"hostname": f"{name}-h{number}", "address": address,
                          "os": {"family": "debian", "version": "12"}, "purpose": "随机主机", "data": "none",
                          "ports": _ports(rng, rng.choice([1, 2]), zone, host=True) or [{"port": 9000}]})
        spec["hosts"] = hosts
    return document


def _flows(rng: random.Random, document: dict[str, Any], documents: dict[str, dict[str, Any]],
           services: dict[str, int]) -> None:
    name = document["metadata"]["name"]
    flows: list[dict[str, Any]] = []
    used: list[str] = []
    for _ in range(rng.randint(0, 6)):
        draw = rng.random()
        if draw < .35:
            service = rng.choice(sorted(services))
            flows.append({"to": {"service": service}, "protocol": "tcp", "port": services[service],
                          "purpose": f"服务 {service}"})
            used += [] if service in used else [service]
        elif draw < .75:
            target = rng.choice(sorted(n for n in documents if n != name))
            candidates = _open_ports(documents[target])
            if candidates:
                port = rng.choice(candidates)
                flows.append({"to": {"system": target}, "protocol": _protocol(port), "port": port["port"],
                              "purpose": f"调用 {target}"})
        else:
            zone = rng.choice(list(ZONE_OCTETS))
            served = [(_protocol(p), p["port"]) for d in documents.values() if d["spec"]["placement"]["zone"] == zone
                      for owner in [*d["spec"].get("hosts", []), *d["spec"].get("workloads", [])]
                      for p in owner.get("ports", []) if p.get("exposure") is None]
            protocol, number = rng.choice([*served, *served, ("tcp", 6514), ("udp", 123),
                                           ("tcp", rng.choice(PORTS)), ("udp", rng.choice(PORTS))])
            flows.append({"to": {"zone": zone}, "protocol": protocol, "port": number, "purpose": f"区域 {zone}"})
    if rng.random() < .3:
        document["spec"]["exposure"]["internet_facing"] = True
    document["spec"]["flows"] = flows
    if used:
        document["spec"]["services"] = used
    else:
        document["spec"].pop("services", None)


def _host_flows(rng: random.Random, fresh: list[dict[str, Any]], documents: dict[str, dict[str, Any]],
                region: dict[str, Any]) -> None:
    """Flows the zone graph permits to other systems' host ports (public ones too): the paths that must open on
    a receiver's firewall, which random targets seldom give (their own stream, so the flows above stay as the
    seeds made them)."""
    reachable = {z["id"]: {z["id"], *z.get("reachable_from", [])} for z in region["spec"]["zones"]}
    for document in fresh:
        name, zone = document["metadata"]["name"], document["spec"]["placement"]["zone"]
        targets = [(other, port) for other, d in sorted(documents.items()) if other != name
                   and zone in reachable[d["spec"]["placement"]["zone"]]
                   for host in d["spec"].get("hosts", []) for port in host.get("ports", [])
                   if port.get("exposure") != "internal"]
        for _ in range(rng.randint(0, 3) if targets else 0):
            other, port = rng.choice(targets)
            document["spec"]["flows"].append({"to": {"system": other}, "protocol": _protocol(port),
                                              "port": port["port"], "purpose": f"调用主机 {other}"})


def make_register(seed: int, root: Path, *, new: int = 6, removed: int = 3) -> Path:
    """Write a random register under ``root`` (replaced) from the example region and ``seed``; return ``root``."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copy(REPO / "region.yaml", root / "region.yaml")
    files = {path: _load(path) for path in sorted((REPO / "systems").glob("*/*.yaml"))}
    documents = {d["metadata"]["name"]: d for d in files.values()}
    paths = {d["metadata"]["name"]: root / "systems" / p.parent.name / p.name for p, d in files.items()}
    referenced = {f["to"].get("system") for d in documents.values() for f in d["spec"].get("flows", [])}
    for name in rng.sample(sorted(n for n in documents if n not in KEEP), removed):
        if name not in referenced:
            del documents[name], paths[name]
    region = _load(root / "region.yaml")
    services = {s["id"]: int(s["port"]) for s in region["spec"]["shared_services"]}
    template = _load(TEMPLATE)
    used = {str(h["address"]) for d in documents.values() for h in d["spec"].get("hosts", [])}
    originals = sorted(documents)
    fresh = [_new_system(rng, seed, index, template, used) for index in range(new)]
    for document in fresh:
        documents[document["metadata"]["name"]] = document
        paths[document["metadata"]["name"]] = (root / "systems" / document["metadata"]["department"]
                                               / f"{document['metadata']['name']}.yaml")
    for document in fresh:
        _flows(rng, document, documents, services)
    _host_flows(random.Random(f"{seed}-hosts"), fresh, documents, region)
    hosting = [d for d in fresh if d["spec"].get("hosts") and not d["spec"].get("workloads")]
    if hosting and rng.random() < .5:  # a shared service moves to a new provider's VMs, on its service port
        provider, service = rng.choice(hosting), rng.choice(["e-seal", "credit"])
        entry = next(e for e in region["spec"]["shared_services"] if e["id"] == service)
        entry["provider"] = provider["metadata"]["name"]
        host = rng.choice(provider["spec"]["hosts"])
        if not any(p["port"] == entry["port"] and _protocol(p) == "tcp" for p in host["ports"]):
            host["ports"].append({"port": entry["port"]})
        _dump(region, root / "region.yaml")
    providers = [d for d in fresh if d["spec"].get("workloads")]
    if providers and rng.random() < .7:  # a shared service moves to a new provider, by a named workload port
        provider, service = rng.choice(providers), rng.choice(["ai", "gis", "messaging"])
        for entry in region["spec"]["shared_services"]:
            if entry["id"] == service:
                entry["provider"] = provider["metadata"]["name"]
        workload = rng.choice(provider["spec"]["workloads"])
        port: dict[str, Any] = {"port": rng.choice([8443, 443, 9000]), "name": service}
        if rng.random() < .3:
            port["exposure"] = "internal"
        if not any(p["port"] == port["port"] and _protocol(p) == "tcp" for p in workload["ports"]):
            workload["ports"].append(port)
        _dump(region, root / "region.yaml")
    for name in rng.sample(originals, 4):  # example systems calling the new ones
        target = rng.choice(fresh)
        candidates = _open_ports(target)
        if candidates:
            port = rng.choice(candidates)
            documents[name]["spec"].setdefault("flows", []).append(
                {"to": {"system": target["metadata"]["name"]}, "protocol": _protocol(port), "port": port["port"],
                 "purpose": "新增调用"})
    for name, document in documents.items():
        _dump(document, paths[name])
    return root

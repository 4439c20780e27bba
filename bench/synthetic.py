"""Synthetic registers for benchmarks: N valid systems cloned from one template manifest
(:func:`write_synthetic_register`: the same system N times, for the loader), or the example region grown to N
systems by perturbed copies of all its manifests (:func:`build_region_register`: for the scan, its parts and
its reports, whose figures depend on how much the systems differ)."""

from __future__ import annotations

import copy
import ipaddress
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "systems" / "dsjj" / "unified-identity.yaml"


def write_synthetic_register(target: Path, count: int) -> Path:
    """Write region.yaml plus ``count`` valid manifests under ``target``; return ``target``.

    Each clone gets its own name, hostnames and addresses inside the shared-services zone, so the
    cross-register checks (uniqueness, CIDR membership, references) do their full work.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "region.yaml", target / "region.yaml")
    region = yaml.safe_load((ROOT / "region.yaml").read_text(encoding="utf-8"))
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    network = ipaddress.IPv4Network(
        next(z for z in region["spec"]["zones"] if z["id"] == "shared-services")["cidrs"]["lhasa"]
    )
    providers = {service["provider"] for service in region["spec"]["shared_services"]}
    exchange = region["spec"].get("programme", {}).get("exchange_platform")
    if exchange:  # the programme's data-exchange platform must be a registered system too
        providers.add(exchange)
    hosts = network.hosts()
    next(hosts)  # leave .1 for the gateway
    folder = target / "systems" / "synthetic"
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(providers) + [f"sys-{index:05d}" for index in range(max(0, count - len(providers)))]
    for index, name in enumerate(names[:max(count, len(providers))]):
        document = yaml.safe_load(yaml.safe_dump(template))
        document["metadata"]["name"] = name
        document["metadata"]["department"] = "dsjj"
        document["spec"]["classification"]["level"] = 2 + index % 3
        _own_numbers(document["spec"], index)
        renamed: dict[str, str] = {}
        for number, host in enumerate(document["spec"]["hosts"]):
            renamed[host["hostname"]] = f"{name}-h{number}"
            host["hostname"] = f"{name}-h{number}"
            host["address"] = str(next(hosts))
        for data_set in document["spec"].get("data_sets", []):  # a data set stored on a host follows its name
            data_set["stored_in"] = renamed.get(data_set.get("stored_in"), data_set.get("stored_in"))
        text = "# yaml-language-server: $schema=../../xzgov/core/schemas/system.schema.json\n" + yaml.safe_dump(
            document, allow_unicode=True, sort_keys=False
        )
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return target


def _own_numbers(spec: dict[str, Any], index: int) -> None:
    """A copy's own 公安备案编号 and report numbers (each identifies one system: the register refuses a second)."""
    classification = spec["classification"]
    if "filing_number" in classification:
        classification["filing_number"] = f"5499{index:07d}-{index % 100000:05d}"
    for assessment in (spec.get("assessments") or {}).values():
        if isinstance(assessment, dict) and assessment.get("report"):
            assessment["report"] = f"{assessment['report']}-S{index:05d}"


FACTOR_SETS = (["password", "sm2-certificate"], ["password", "ukey"], ["password", "sms-otp"], ["password"])


def _perturb(doc: dict[str, Any], index: int, addresses: dict[Any, Any], exchange: str | None = None) -> dict[str, Any]:
    new = copy.deepcopy(doc)
    name = f"{doc['metadata']['name'][:40]}-s{index:05d}"
    new["metadata"]["name"] = name
    spec = new["spec"]
    _own_numbers(spec, index)
    renamed: dict[str, str] = {}
    for host_index, host in enumerate(spec.get("hosts", [])):
        zone = spec["placement"]["zone"]
        address = next(addresses[(zone, spec["placement"]["site"])])
        host["address"] = str(address)
        renamed[host["hostname"]] = f"h{index:05d}-{host_index}"
        host["hostname"] = renamed[host["hostname"]]
        host.pop("role", None)  # one log centre, directory, time source per site: the examples keep those roles
    for data_set in spec.get("data_sets", []):  # a data set stored on a host follows the host's new name
        data_set["stored_in"] = renamed.get(data_set.get("stored_in"), data_set.get("stored_in"))
    # Perturbations keep the examples' mix (about a third carry a planted gap) and add a few more gaps:
    # every 10th copy loses its cryptographic factor, every 13th keeps logs 90 days, every 17th has a
    # daily backup for a 60-minute RPO; retention and RPO otherwise vary within the level's limits.
    # A copy of the exchange platform is another system: when it counts as connected (region.yaml
    # spec.programme), it declares its flow to the platform like every other connected system.
    flows = spec.get("flows", [])
    if exchange and spec.get("programme", {}).get("connected") and not any(
            flow.get("to", {}).get("system") == exchange for flow in flows):
        spec["flows"] = [*flows, {"to": {"system": exchange}, "protocol": "tcp", "port": 8443,
                                  "purpose": "数据同步至共享交换平台"}]
    continuity = spec["continuity"]
    level = int(spec["classification"]["level"])
    continuity["backup"]["retention_days"] = max(continuity["backup"].get("retention_days", 30),
                                                 [7, 30, 90, 180][level - 1]) + index % 30
    if index % 10 == 0:
        spec["authentication"]["factors"] = FACTOR_SETS[2]
    elif index % 10 == 5:
        spec["authentication"]["factors"] = FACTOR_SETS[index // 10 % 2]
    if index % 13 == 0:
        spec["audit"]["retention_days"] = 90
    if index % 17 == 0:
        continuity["rpo_minutes"], continuity["backup"]["schedule"] = 60, "0 3 * * *"
    return new


def _free(network: ipaddress.IPv4Network, used: set[str], taken: list[ipaddress.IPv4Network]) -> Iterator[Any]:
    """The host addresses of ``network`` neither ``used`` nor in a ``taken`` range, in order."""
    return (a for a in network.hosts() if str(a) not in used and not any(a in n for n in taken))


def build_region_register(target: Path, count: int) -> int:
    """Write a register of ``count`` systems under ``target`` (an empty or missing folder): the example region's
    manifests as they are, then copies of them perturbed per index (:func:`_perturb`); returns the number written.
    Unlike :func:`write_synthetic_register`, the systems keep the examples' departments, zones, levels, hosts and
    workloads and their mix of planted gaps: a register whose reports and results vary as a region's do."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "region.yaml", target / "region.yaml")
    (target / "systems").mkdir()
    region = yaml.safe_load((ROOT / "region.yaml").read_text(encoding="utf-8"))
    bases: list[dict[str, Any]] = []
    used: set[str] = set()
    for path in sorted((ROOT / "systems").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        bases.append(doc)
        department = target / "systems" / doc["metadata"]["department"]
        department.mkdir(exist_ok=True)
        (department / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        used.update(h["address"] for h in doc["spec"].get("hosts", []))
    addresses: dict[Any, Any] = {}
    exchange = region["spec"].get("programme", {}).get("exchange_platform")
    for zone in region["spec"]["zones"]:
        for site, cidr in zone["cidrs"].items():
            network = ipaddress.IPv4Network(cidr)
            # synthetic hosts take the upper half of each zone's network, away from the examples
            half = list(network.subnets(prefixlen_diff=1))[1]
            # never an address the site's cluster hands out (the zone's entry and egress ranges)
            taken = [ipaddress.IPv4Network(zone[key][site]) for key in ("entry_cidrs", "egress_cidrs")
                     if site in zone.get(key, {})]
            addresses[(zone["id"], site)] = _free(half, used, taken)
    written = len(bases)
    index = 0
    while written < count:
        base = bases[index % len(bases)]
        doc = _perturb(base, index, addresses, exchange)
        department = target / "systems" / doc["metadata"]["department"]
        (department / f"{doc['metadata']['name']}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        written += 1
        index += 1
    return written

"""Synthetic registers for benchmarks: N valid systems cloned from one template manifest."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

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

"""Benchmark: evaluate the stacks program for 1,000 synthetic systems under Pulumi's runtime mocks.

Prints resources per second of the full program (render + components + registrations) and the ratio
of its time to constructing the same resources as bare pulumi-kubernetes resources (no components,
no render) under the same recording mocks. Target: ratio ≤ 1.3.

    .venv/bin/python bench/bench_stacks.py [--systems 1000] [--site lhasa] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time
from pathlib import Path
from typing import Any

import pulumi

from stacks.components import create
from stacks.mocks import evaluate
from stacks.program import build
from stacks.render import render_site
from stacks.settings import Settings
from xzgov.core import model as m
from xzgov.core.register import load_register

ROOT = Path(__file__).resolve().parents[1]

DIGEST = "0" * 64


def synthetic_register(count: int, seed: int = 20240101) -> m.Register:
    """The example region with ``count`` generated systems: workloads, hosts, flows to systems, shared
    services and zones, internet-facing ones, mixed DR tiers and sites."""
    rng = random.Random(seed)
    region = load_register(ROOT).region
    zones = [z for z in region.zones.values() if z.kind not in ("internet-access", "security-management")]
    departments = list(region.departments)
    names = [f"sys-{index:04d}" for index in range(count)]
    providers = {svc.provider for svc in region.shared_services.values()}
    names[: len(providers)] = sorted(providers)
    host_counter = 0
    systems: dict[str, m.System] = {}
    for index, name in enumerate(names):
        zone = rng.choice(zones)
        site = "dr" if index % 20 == 19 else "lhasa"
        level = rng.choice((2, 3, 3, 4))
        workloads = tuple(
            m.Workload(f"w{w}", f"registry.xzgov.internal/bench/{name}-w{w}@sha256:{DIGEST}",
                       (m.Port(8443), m.Port(9090)) if w == 0 else (m.Port(5432),), rng.randint(1, 4),
                       m.Resources(f"{rng.choice((100, 250, 500))}m", f"{rng.choice((256, 512, 1024))}Mi"),
                       m.Resources(str(rng.choice((1, 2))), f"{rng.choice((2, 4))}Gi"),
                       "50Gi" if w == 1 else None, "csi-ssd" if w == 1 else None)
            for w in range(rng.randint(1, 3)))
        network = zone.cidrs[site]
        hosts = []
        for _ in range(rng.choice((0, 0, 1, 2))):
            host_counter += 1
            address = ipaddress.IPv4Address(int(network.network_address) + 1000 + host_counter)
            hosts.append(m.Host(f"{name}-h{host_counter}", address, "debian", "12", "数据库", "postgresql"))
        flows = [m.Flow(m.FlowTarget("zone", "security-management"), "tcp", 6514, "日志上送")]
        for target in rng.sample(names[:index] or names[1:2], k=min(2, max(1, index))):
            if target != name:
                flows.append(m.Flow(m.FlowTarget("system", target), "tcp", 8443, "业务调用"))
        flows.append(m.Flow(m.FlowTarget("service", rng.choice(list(region.shared_services))), "tcp", 443, "共享服务"))
        systems[name] = m.System(
            name=name, department=rng.choice(departments), title=f"基准系统 {index}", labels={},
            owner=m.Owner("dsjj", "负责人", "ops@example.gov.cn"), tier="自治区", locality=m.Locality(),
            classification=m.Classification(level, level, "一般数据", False, False), zone=zone.id, site=site,
            internet_facing=rng.random() < 0.2, endpoints=(), workloads=workloads, hosts=tuple(hosts),
            flows=tuple(flows), services=(),
            continuity=m.Continuity(rng.choice((5, 15, 60, 240, 1440)), 240, "0 2 * * *", 90, rng.randint(0, 5)),
            crypto=m.CryptoPlan({}, {}), authentication=m.Authentication(("password",), ("password",)),
            audit=m.Audit("log-centre", 180), lifecycle=m.Lifecycle("running", "CHG-0", "bench"),
            source=f"bench/{name}.yaml")
    return m.Register(region, systems)


def bare(objects: list[dict[str, Any]]) -> None:
    """The same resources, constructed directly (top-level, no components)."""
    for obj in objects:
        create(obj, pulumi.ResourceOptions())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1000)
    parser.add_argument("--site", default="lhasa")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    register = synthetic_register(args.systems)
    settings = Settings(site=args.site)
    objects = list(render_site(register, settings).objects())
    program_times: list[float] = []
    bare_times: list[float] = []
    resources = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        recording = evaluate(lambda: build(register, settings), stack=args.site)
        program_times.append(time.perf_counter() - start)
        resources = len(recording.custom())
        start = time.perf_counter()
        baseline = evaluate(lambda: bare(objects), stack=args.site)
        bare_times.append(time.perf_counter() - start)
        assert len(baseline.custom()) == resources == len(objects)
    program, baseline_time = min(program_times), min(bare_times)
    ratio = program / baseline_time
    print(f"systems: {args.systems} (site {args.site}), resources: {resources}, "
          f"components: {len(recording.components())}")
    print(f"program (render + components + registrations): {program:.2f} s, {resources / program:.0f} resources/s")
    print(f"bare pulumi-kubernetes resources:               {baseline_time:.2f} s, "
          f"{resources / baseline_time:.0f} resources/s")
    print(f"ratio program/bare: {ratio:.2f} (target ≤ 1.3) — best of {args.repeat}")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())

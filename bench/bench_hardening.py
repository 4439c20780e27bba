"""Benchmark: wall time of site.yml on one fresh Debian 12 host, and of the second (no-change) run.

    sudo .venv/bin/python bench/bench_hardening.py [--level 3] [--baseline-first SECONDS] [--no-scan]

Boots a host with the same machinery as the tests (tests/hosts), runs the full hardening, runs it
again, prints both times and their ratio, and checks that the second run changed nothing.
With --baseline-first (the first-run time measured on the roles before a change, e.g. before issue 17's
added hardening depth) it prints the ratio to it and fails above --max-ratio (1.5).
Then boots 5 more hosts and times the live compliance scan of 1 host and of all 5 in parallel.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compliance.scanner import ScanOptions, scan  # noqa: E402
from tests.hosts.pool import HostPool, HostSpec, ansible_playbook, parse_recap, unavailable_reason  # noqa: E402


def timed_run(inventory: Path) -> tuple[float, dict[str, dict[str, int]], int]:
    start = time.monotonic()
    result = ansible_playbook(inventory)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-2000:])
    return seconds, parse_recap(result.stdout), result.returncode


def bench_live_scan(hosts: int = 5) -> None:
    """Live compliance scan (`xzgov scan --live` machinery) of 1 host and of `hosts` hosts in parallel."""
    register_src = ROOT / "tests" / "compliance" / "fixtures" / "register"
    with HostPool([HostSpec(f"scan-{index}", 3) for index in range(hosts)]) as pool, \
            tempfile.TemporaryDirectory() as tmp:
        register = Path(tmp) / "register"
        shutil.copytree(register_src, register)
        timings = {}
        for count in (1, hosts):
            chosen = pool.hosts[:count]
            inventory = pool.write_inventory(Path(tmp) / f"inv-{count}" / "hosts.yml", chosen,
                                             extra_host_vars={h.name: {"xzgov_system": "clean-l3"} for h in chosen})
            start = time.monotonic()
            result = scan(ScanOptions(root=register, live=True, inventory=inventory.parent,
                                      systems=("clean-l3",), host_timeout=300, workers=8))
            timings[count] = time.monotonic() - start
            states = result.systems[0].hosts
            if set(states.values()) != {"ok"}:
                print(f"live scan of {count}: unexpected host states {states}")
    print(f"live scan, 1 host:              {timings[1]:.1f} s")
    print(f"live scan, {hosts} hosts in parallel: {timings[hosts]:.1f} s")
    print(f"ratio {hosts} hosts / 1 host: {timings[hosts] / timings[1]:.2f} (serial would be {hosts:.0f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--level", type=int, default=3, choices=[1, 2, 3, 4])
    parser.add_argument("--baseline-first", type=float, default=None,
                        help="first-run seconds measured before the change, to compare against")
    parser.add_argument("--max-ratio", type=float, default=1.5, help="largest accepted first-run / baseline ratio")
    parser.add_argument("--no-scan", action="store_true", help="skip the live-scan part")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    boot_start = time.monotonic()
    with HostPool([HostSpec(f"bench-l{args.level}", args.level)]) as pool:
        boot = time.monotonic() - boot_start
        with tempfile.TemporaryDirectory() as tmp:
            inventory = pool.write_inventory(Path(tmp) / "hosts.yml")
            first, recap1, rc1 = timed_run(inventory)
            second, recap2, rc2 = timed_run(inventory)
    name = f"bench-l{args.level}"
    changed1 = recap1.get(name, {}).get("changed", -1)
    changed2 = recap2.get(name, {}).get("changed", -1)
    print(f"host boot (incl. cached rootfs copy): {boot:.1f} s")
    print(f"first run (full hardening, level {args.level}): {first:.1f} s  rc={rc1} changed={changed1}")
    print(f"second run (no change expected):        {second:.1f} s  rc={rc2} changed={changed2}")
    print(f"ratio first/second: {first / second:.2f}")
    within = True
    if args.baseline_first:
        ratio = first / args.baseline_first
        within = ratio <= args.max_ratio
        print(f"first run / baseline first run ({args.baseline_first:.1f} s): {ratio:.2f} "
              f"({'within' if within else 'ABOVE'} {args.max_ratio:.2f})")
    if not args.no_scan:
        bench_live_scan()
    return 0 if rc1 == 0 and rc2 == 0 and changed2 == 0 and within else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: `xzgov scan --live` of 1, 5 and 10 booted hosts — per-host cost and parallel speed-up.

    sudo .venv/bin/python bench/bench_live_scan_fleet.py [--sizes 1,5,10] [--repeat 2] [--host-timeout 300]

Boots max(sizes) level-3 Debian 12 hosts with the test machinery (tests/hosts, systemd-nspawn, SSH like
production). The hosts are scanned as booted, i.e. NOT hardened (every host rule gathers its facts and most
fail; the gathering over SSH is the cost measured, which hardening does not change much).
For each size N it times the real command (`xzgov scan --root R --live --inventory I --system clean-l3`)
with `--workers N` (parallel) and `--workers 1` (serial), and without `--live` (the static part, the
same for every N), after one untimed warm-up; each figure is the fastest of --repeat runs (shared
machine). Printed: wall times, per-host cost (serial live part / N), the speed-up (serial live part /
parallel live part) and the controller CPU per host. A last, untimed check through the scanner API confirms that
every host answered ("ok"), so that an unreachable host cannot pass for a fast one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compliance.scan.hosts import inventory_hosts  # noqa: E402
from compliance.scanner import ScanOptions, scan  # noqa: E402
from tests.hosts.pool import HostPool, HostSpec, booted, unavailable_reason  # noqa: E402

REGISTER = ROOT / "tests" / "compliance" / "fixtures" / "register"
SYSTEM = "clean-l3"


def xzgov_scan(register: Path, inventory: Path | None, workers: int, host_timeout: float) -> tuple[float, float]:
    """(wall, controller CPU) seconds of one `xzgov scan` (exit 0/1 = scanned; 2+ = error, aborts the benchmark).
    Every live run must have reached every host: a run where hosts failed is faster and would flatter the
    figures (the fastest run counts), so it aborts the benchmark instead."""
    exe = ROOT / ".venv" / "bin" / "xzgov"
    cmd = [str(exe) if exe.exists() else "xzgov", "scan", "--root", str(register), "--system", SYSTEM,
           "--workers", str(workers), "--host-timeout", str(host_timeout), "--format", "json"]
    if inventory is not None:
        cmd += ["--live", "--inventory", str(inventory)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"xzgov scan failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    if inventory is not None:
        systems = json.loads(proc.stdout)["systems"]
        hosts = {name: state for system in systems for name, state in system["hosts"].items()}
        expected = len(inventory_hosts(inventory))
        if len(hosts) != expected or any(state != "ok" for state in hosts.values()):
            sys.exit(f"a timed run did not reach every host ({expected} in the inventory): {hosts}")
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def best(repeat: int, register: Path, inventory: Path | None, workers: int, host_timeout: float) -> tuple[float, float]:
    """The fastest of `repeat` runs (the machine is shared: the minimum is the least disturbed run)."""
    runs = [xzgov_scan(register, inventory, workers, host_timeout) for _ in range(repeat)]
    return min(runs)


def inventory_for(pool: HostPool, count: int, base: Path) -> Path:
    chosen = pool.hosts[:count]
    path = pool.write_inventory(base / f"inv-{count}" / "hosts.yml", chosen,
                                extra_host_vars={h.name: {"xzgov_system": SYSTEM} for h in chosen})
    return path.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,10", help="host counts to scan (comma-separated)")
    parser.add_argument("--host-timeout", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure; the fastest counts")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    reason = unavailable_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    boot_start = time.monotonic()
    with booted([HostSpec(f"fleet-{i}", 3) for i in range(max(sizes))]) as pool, \
            tempfile.TemporaryDirectory() as tmp:
        boot = time.monotonic() - boot_start
        register = Path(tmp) / "register"
        shutil.copytree(REGISTER, register)
        xzgov_scan(register, inventory_for(pool, 1, Path(tmp)), 1, args.host_timeout)  # warm-up, not counted
        static, static_cpu = best(args.repeat + 1, register, None, 1, args.host_timeout)
        rows = []
        for n in sizes:
            inventory = inventory_for(pool, n, Path(tmp))
            parallel, cpu = best(args.repeat, register, inventory, n, args.host_timeout)
            serial = parallel if n == 1 else best(args.repeat, register, inventory, 1, args.host_timeout)[0]
            rows.append((n, parallel, serial, cpu))
        largest = inventory_for(pool, max(sizes), Path(tmp))
        states = scan(ScanOptions(root=register, live=True, inventory=largest, systems=(SYSTEM,),
                                  host_timeout=args.host_timeout, workers=max(sizes))).systems[0].hosts
    print(f"booted {max(sizes)} level-3 hosts (not hardened) in {boot:.1f} s; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"static part (xzgov scan without --live, {SYSTEM}): {static:.2f} s wall, {static_cpu:.2f} s CPU "
          f"(fastest of {args.repeat + 1}; every figure below is the fastest of {args.repeat})")
    print(f"{'hosts':>5} {'parallel s':>10} {'serial s':>9} {'per-host s':>10} {'speed-up':>8} {'efficiency':>10} "
          f"{'CPU/host s':>10}")
    for n, parallel, serial, cpu in rows:
        live_par, live_ser = max(parallel - static, 1e-3), max(serial - static, 1e-3)
        per_host = live_ser / n
        speedup = live_ser / live_par
        print(f"{n:>5} {parallel:>10.2f} {serial:>9.2f} {per_host:>10.2f} {speedup:>8.2f} {speedup / n:>10.2f} "
              f"{max(cpu - static_cpu, 0.0) / n:>10.2f}")
    print("per-host s = (serial wall - static) / hosts; speed-up = (serial - static) / (parallel - static); "
          "CPU/host = controller CPU (xzgov + ssh) of the parallel run beyond the static part, per host")
    bad = {name: state for name, state in states.items() if state != "ok"}
    if bad or len(states) != max(sizes):
        print(f"hosts that did not answer: {bad or 'missing from the scan'}")
        return 1
    print(f"all {len(states)} hosts answered (ok)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

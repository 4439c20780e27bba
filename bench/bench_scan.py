"""Benchmark the static compliance scan on a large synthetic register.

Builds a temporary register of N systems (default 10,000): the repository's example manifests kept as
they are, plus copies perturbed per index (name, hostnames and addresses made unique; RPO, retention,
authentication factors and audit retention varied so rules take both branches). Then it measures:

* bare YAML parsing of the same files (``yaml.load`` with libyaml), best of ``--repeat``;
* load + validate of that register (``xzgov.core.register.check_register``, what ``xzgov register check``
  runs), best of ``--repeat``; and the same with CPython's default collector thresholds (the loader's own
  ``xzgov.core.gctune.bulk`` switched off), the reference of runs before the loader tuned the collector;
* the full static scan (``compliance.scanner.scan``: its own load, catalogue, every manifest rule,
  every catalogue item of every system, 等保 and 密评 scoring), best of ``--repeat``;

and prints items evaluated per second (system × catalogue item outcomes), rule evaluations per second,
peak memory (``resource.getrusage`` max RSS; ``--tracemalloc`` adds the Python-heap peak of one more scan,
traced and not timed: the tracer slows a scan many times over), and
the ratios validation / parse and scan / (load + validate) — total, and with the scan's own load
subtracted — in wall-clock and in CPU time (the steadier figure when the machine is shared).

    .venv/bin/python bench/bench_scan.py [--systems 10000] [--repeat 1] [--tracemalloc] [--register DIR] [--as-of DAY]

``--register DIR`` reuses a register written by an earlier run's generator
(``bench.synthetic.build_region_register``) instead of generating one (generation takes minutes at 10,000
systems and is not measured).

``--as-of DAY`` judges recorded dates on that day, as ``xzgov scan --as-of`` does (default: ``$XZGOV_AS_OF``, else
today). The copies keep the example region's recorded dates, so the later the day, the more assessments, patch
and review records have lapsed, the more items fail and the more findings the scan builds: figures of runs on
different days compare only at one pinned day (the demo's is 2026-12-01). The day and the blocking count are
printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import build_region_register  # noqa: E402
from compliance.scanner import ScanOptions, scan  # noqa: E402
from xzgov.core import gctune  # noqa: E402
from xzgov.core.register import check_register  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report the Python heap peak of one more, untimed scan (slow)")
    parser.add_argument("--register", type=Path, help="reuse this generated register (region.yaml, systems/)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                        help="judge recorded dates on this day (YYYY-MM-DD; default $XZGOV_AS_OF, else today)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xzgov-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        if args.register is not None:
            root = args.register
            count = sum(1 for _ in (root / "systems").rglob("*.yaml"))
            print(f"register: {count} systems reused ({root})")
        else:
            count = build_region_register(root, args.systems)
            print(f"register: {count} systems generated in {time.perf_counter() - started:.1f} s ({root})")
        files = sorted((root / "systems").rglob("*.yaml"))
        yaml_loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        parse_times: list[tuple[float, float]] = []
        load_times: list[tuple[float, float]] = []
        default_times: list[tuple[float, float]] = []
        # One untimed load first: the validators' compilation, lazy imports and the page cache are paid once per
        # process, and without it the first timed load (the baseline) paid them while the scan's own load reused
        # them — a cold baseline flattered the scan's ratio.
        if not check_register(root).ok:
            print("the register does not validate: run xzgov register check on it")
            return 1
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            for path in files:  # bare parsing: what any YAML consumer pays, no checks at all
                yaml.load(path.read_text(encoding="utf-8"), Loader=yaml_loader)
            parse_times.append((time.perf_counter() - t0, time.process_time() - c0))
            t0, c0 = time.perf_counter(), time.process_time()
            loaded = check_register(root)  # exactly what `xzgov register check` runs
            load_times.append((time.perf_counter() - t0, time.process_time() - c0))
            if not loaded.ok:
                for diagnostic in loaded.diagnostics[:10]:
                    print(diagnostic.render())
                return 1
            del loaded
            # The same load with CPython's default collector thresholds (the loader's xzgov.core.gctune.bulk
            # switched off): the reference earlier runs of this benchmark measured, printed alongside.
            gctune.BULK_THRESHOLD, kept = 0, gctune.BULK_THRESHOLD
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                check_register(root)
                default_times.append((time.perf_counter() - t0, time.process_time() - c0))
            finally:
                gctune.BULK_THRESHOLD = kept
        scan_times: list[tuple[float, float]] = []
        result = None
        for _ in range(args.repeat):
            result = None
            t0, c0 = time.perf_counter(), time.process_time()
            result = scan(ScanOptions(root=root, as_of=args.as_of))
            scan_times.append((time.perf_counter() - t0, time.process_time() - c0))
        assert result is not None
        parse, parse_cpu = min(t for t, _ in parse_times), min(c for _, c in parse_times)
        load, load_cpu = min(t for t, _ in load_times), min(c for _, c in load_times)
        total, total_cpu = min(t for t, _ in scan_times), min(c for _, c in scan_times)
        plain, plain_cpu = min(t for t, _ in default_times), min(c for _, c in default_times)
        items = sum(len(system.items) for system in result.systems)
        rule_results = sum(len(system.findings) for system in result.systems)
        blocking = len(result.blocking())
        scan_day = result.as_of
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"systems:                  {len(result.systems):,}")
        print(f"bare YAML parse:          {parse:8.2f} s wall {parse_cpu:8.2f} s CPU")
        print(f"load + validate:          {load:8.2f} s wall {load_cpu:8.2f} s CPU")
        print(f"  … default GC thresholds:{plain:8.2f} s wall {plain_cpu:8.2f} s CPU  (loader's gctune.bulk off)")
        print(f"scan (incl. its load):    {total:8.2f} s wall {total_cpu:8.2f} s CPU")
        print(f"items evaluated:          {items:,} ({items / total:,.0f} items/s)")
        print(f"rule evaluations:         {rule_results:,} ({rule_results / total:,.0f} rules/s)")
        print(f"blocking findings:        {blocking:,} (recorded dates judged on {scan_day})")
        print(f"peak memory (max RSS):    {peak_rss:,.0f} MiB")
        # how alike the systems are: the scan memoises score cards and item rows per pattern, so a register whose
        # systems differ more pays more per system than this one (the example region: 39 systems, 39 patterns)
        from compliance.reports.formats import STATE_CODES

        patterns = len({"".join(STATE_CODES[item.state] for item in system.items) for system in result.systems})
        cards = len({id(system.dengbao) for system in result.systems if system.dengbao is not None})
        crypto_cards = len({id(system.miping) for system in result.systems if system.miping is not None})
        print(f"distinct results:         {patterns:,} item-state patterns, {cards:,} 等保 and {crypto_cards:,} 密评 "
              f"score cards computed for {len(result.systems):,} systems")
        if args.tracemalloc:  # one more scan, traced and not timed: the tracer slows a scan many times over
            del result
            tracemalloc.start()
            scan(ScanOptions(root=root, as_of=args.as_of))
            _, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak Python heap:         {heap_peak / 2**20:,.0f} MiB (tracemalloc, one extra untimed scan)")
        # CPU time is the steadier figure on a shared machine (wall time includes waiting for a CPU).
        print(f"ratio validation / parse: {load / parse:8.2f} wall {load_cpu / parse_cpu:8.2f} CPU  (target <= 1.5)")
        print(f"ratio scan / load:        {total / load:8.2f} wall {total_cpu / load_cpu:8.2f} CPU  (target <= 1.5)")
        print(f"ratio (scan - load)/load: {(total - load) / load:8.2f} wall "
              f"{(total_cpu - load_cpu) / load_cpu:8.2f} CPU  (compliance work alone)")
        print(f"ratio scan / load, default GC thresholds in the reference load (as measured before the loader's "
              f"own tuning): {total / plain:.2f} wall {total_cpu / plain_cpu:.2f} CPU; validation / parse "
              f"{plain / parse:.2f} wall {plain_cpu / parse_cpu:.2f} CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())

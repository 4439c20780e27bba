"""Benchmark: load + full validation of a synthetic register vs bare YAML parsing of the same files.

Prints systems per second and the ratio (target ≤ 3×). Usage: python -m bench.bench_register [COUNT]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.synthetic import write_synthetic_register
from xzgov.core.register import check_register


def best_of(runs: int, action: object) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(count: int = 10_000) -> None:
    with tempfile.TemporaryDirectory(prefix="xzgov-bench-") as folder:
        root = write_synthetic_register(Path(folder), count)
        files = sorted((root / "systems").rglob("*.yaml"))
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        def bare() -> None:
            for path in files:
                yaml.load(path.read_text(encoding="utf-8"), Loader=loader)

        def full() -> None:
            loaded = check_register(root)
            assert loaded.ok, loaded.diagnostics[:3]

        bare_seconds = best_of(3, bare)
        full_seconds = best_of(3, full)
    print(f"systems: {len(files)} (YAML parser: {loader.__name__})")
    print(f"bare YAML parsing:         {bare_seconds:8.3f} s  ({len(files) / bare_seconds:8.0f} files/s)")
    print(f"load + full validation:    {full_seconds:8.3f} s  ({len(files) / full_seconds:8.0f} systems/s)")
    print(f"ratio validation / parsing: {full_seconds / bare_seconds:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

"""Benchmark: start-up of the `xzgov` command (``xzgov --help``), best of N fresh processes, against a bare
``python -c pass`` start and the 0.3 s target.

Usage: python -m bench.bench_cli_help [RUNS]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.3


def best_of(runs: int, argv: list[str]) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(runs: int = 10) -> None:
    xzgov = str(Path(sys.executable).with_name("xzgov"))
    bare = best_of(runs, [sys.executable, "-c", "pass"])
    help_time = best_of(runs, [xzgov, "--help"])
    print(f"python start-up       {bare:.3f} s")
    print(f"xzgov --help          {help_time:.3f} s  (target ≤ {TARGET_SECONDS} s: "
          f"{help_time / TARGET_SECONDS:.2f}× the target, {help_time / bare:.1f}× a bare interpreter)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)

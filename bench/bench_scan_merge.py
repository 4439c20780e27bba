"""Benchmark ``xzgov scan merge``: N shards of a synthetic register, merged into one scan result.

Writes a synthetic register (``bench.synthetic.build_region_register``, as ``bench/bench_scan.py`` does: the
example region grown by perturbed copies of its manifests; not measured), then:

* the single static scan of the whole register (``compliance.scanner.scan``);
* every shard's scan (``--shard K/N``) and its signed part (``scan-part.json`` signed with SM2 as the CLI
  writes it; part bytes are reported);
* the **merge**: verify every part's bundle against the pinned key, parse and check the parts, reload
  and digest the register, decode and merge (``compliance.merge``) — what ``xzgov scan merge`` does
  before it renders the reports;
* the merged result is checked against the single scan (system order, item states per system, 等保 /
  密评 verdicts, findings); ``--reports`` also renders, validates and signs the merged report set
  (slow at thousands of systems: the report formats themselves are another item of the issue).

Prints the times and the ratios merge / single scan, slowest shard / single scan (the wall time of the
sharded scan when the shards run in parallel) and the sum of the shards / single scan (the cost of
sharding: every shard loads the whole register). The scans run in this process after one untimed warm-up scan
(imports, catalogue, compiled validators): the single scan is not charged for what the shards then reuse. A
shard of the CronJob is its own process and pays that start-up too: it is measured in a fresh process (a scan of
a one-system shard) and the shard ratios are printed with it added as well.

    .venv/bin/python bench/bench_scan_merge.py [--systems 2000] [--shards 10] [--register DIR] [--reports]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import build_region_register  # noqa: E402
from compliance.merge import load_part, merge_parts, merge_register, part_bytes  # noqa: E402
from compliance.reports import DEFAULT_FORMATS, PART_NAME, publish_reports  # noqa: E402
from compliance.results import ScanResult, verdict_text  # noqa: E402
from compliance.scan.shard import MAX_SHARDS, Shard  # noqa: E402
from compliance.scanner import ScanOptions, scan  # noqa: E402
from xzgov.crypto import keys  # noqa: E402
from xzgov.crypto.sm2 import SM2PrivateKey  # noqa: E402


def _signature(result: ScanResult) -> list[tuple[object, ...]]:
    return [(s.name, "".join(str(i.state)[0] for i in s.items), verdict_text(s.dengbao), verdict_text(s.miping),
             tuple((f.result.rule_id, str(f.result.status), f.waiver) for f in s.findings)) for s in result.systems]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--register", type=Path,
                        help="reuse a register written by bench.synthetic.build_region_register")
    parser.add_argument("--reports", action="store_true", help="also render and sign the merged report set")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xzgov-merge-") as scratch:
        work = Path(scratch)
        root = args.register
        if root is None:
            root = work / "register"
            build_region_register(root, args.systems)
        key = SM2PrivateKey.generate()
        fingerprint = keys.fingerprint(key.public_key)

        scan(ScanOptions(root=root, shard=Shard(1, MAX_SHARDS)))  # warm-up, untimed (one system at most)
        startup = _process_start_up(root)
        started = time.perf_counter()
        single = scan(ScanOptions(root=root))
        single_s = time.perf_counter() - started
        print(f"register: {len(single.systems)} systems; single scan {single_s:.2f} s")

        shard_times: list[float] = []
        part_sizes: list[int] = []
        parts_dirs: list[Path] = []
        for index in range(1, args.shards + 1):
            shard = Shard(index, args.shards)
            started = time.perf_counter()
            result = scan(ScanOptions(root=root, shard=shard))
            data = part_bytes(result, shard)
            out = work / f"part-{index}"
            publish_reports(result, out, [], key, {PART_NAME: data})  # the part alone, signed
            shard_times.append(time.perf_counter() - started)
            part_sizes.append(len(data))
            parts_dirs.append(out)
        print(f"{args.shards} shards: slowest {max(shard_times):.2f} s, sum {sum(shard_times):.2f} s; parts "
              f"{sum(part_sizes) / 1e6:.1f} MB ({sum(part_sizes) / len(single.systems) / 1024:.1f} KiB per system)")

        started = time.perf_counter()
        parts = [load_part(path, [fingerprint]) for path in parts_dirs]
        verified = time.perf_counter()
        register, register_root = merge_register(parts, root)
        reloaded = time.perf_counter()
        merged = merge_parts(parts, register, register_root)
        merge_s = time.perf_counter() - started
        print(f"merge of {args.shards} parts: {merge_s:.2f} s (verify + parse {verified - started:.2f} s, register "
              f"reload + digest {reloaded - verified:.2f} s, check + decode {merge_s - (reloaded - started):.2f} s)")
        same = _signature(merged) == _signature(single)
        print(f"merged result equals the single scan (states, verdicts, findings): {same}")
        if args.reports:
            started = time.perf_counter()
            publish_reports(merged, work / "merged", DEFAULT_FORMATS, key)
            print(f"merged report set rendered, validated and signed: {time.perf_counter() - started:.2f} s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"ratios: merge / single scan {merge_s / single_s:.3f}; slowest shard / single scan "
              f"{max(shard_times) / single_s:.3f}; sum of shards / single scan {sum(shard_times) / single_s:.3f}; "
              f"peak RSS {peak:.0f} MiB")
        print(f"a shard's process start-up (fresh process: imports, catalogue, validators, a one-system shard): "
              f"{startup:.2f} s; with it, slowest shard / single scan {(max(shard_times) + startup) / single_s:.3f}, "
              f"sum of shards / single scan {(sum(shard_times) + args.shards * startup) / single_s:.3f}")
        return 0 if same else 1


def _process_start_up(root: Path) -> float:
    """Wall seconds of a fresh interpreter importing the scanner and scanning a one-system shard of ``root``
    (what every shard process pays besides its share of the systems)."""
    code = ("from pathlib import Path; "
            "from compliance.scanner import ScanOptions, scan; from compliance.scan.shard import MAX_SHARDS, Shard; "
            f"scan(ScanOptions(root=Path({str(root)!r}), shard=Shard(1, MAX_SHARDS)))")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: the log centre's hash chains, and (with --live) end-to-end log latency and ingest rate.

    .venv/bin/python bench/bench_logs.py [--mib 256]          # chain sealing / verification per GiB
    sudo .venv/bin/python bench/bench_logs.py --live          # + a booted log centre and host

Chain: writes a synthetic day of syslog lines (≈ 150 bytes each), seals it with the log centre's
sealer (roles/log_centre/files/xzgov-log-seal, OpenSSL SM2) and verifies it with `xzgov.logchain`;
prints seconds per GiB and the ratio to plain SM3 streaming of the same file (the floor).
Live: boots a log centre and one level-3 host (tests/secmgmt/zone.py), converges site.yml, then
- latency: a script on the host logs a message every 20 ms with its send time (the containers share
  the runner's clock); the runner watches the centre's file and prints p50 / p99 from send to stored;
- ingest: the runner sends N messages over mutual TLS (1 and 4 connections) and times until all are
  stored; prints messages/s and MiB/s.
bench/bench_log_centre.py measures latency from `logger` itself (2,000 probes), a burst from the host and the
centre's ingest rate, with every line counted, on a focused converge (≈ 2 min instead of a full site.yml).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xzgov.crypto import keys  # noqa: E402
from xzgov.crypto.sm3 import sm3_file  # noqa: E402
from xzgov.logchain import verify_tree  # noqa: E402

SEALER = ROOT / "roles/log_centre/files/xzgov-log-seal"
GIB = 1024**3


def synthetic_day(path: Path, mib: int) -> int:
    line = "2026-03-01T10:00:00.123456+08:00 10.250.0.11 web-01 sshd[4242]: Accepted publickey for xzops from " \
           "10.250.0.1 port 51234 ssh2: ED25519 SHA256:{:08d}\n"
    block = "".join(line.format(i) for i in range(10_000)).encode()
    written = 0
    with path.open("wb") as out:
        while written < mib * 1024 * 1024:
            out.write(block)
            written += len(block)
    return written


def bench_chain(mib: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        key, pub = base / "seal.key", base / "seal.pub"
        subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)], check=True)
        subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
        source = base / "centre" / "web-01"
        source.mkdir(parents=True)
        size = synthetic_day(source / "2026-03-01.log", mib)
        start = time.perf_counter()
        sm3_file(source / "2026-03-01.log")
        floor = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, str(SEALER), "--root", str(source.parent), "--key", str(key),
                        "--through", "2026-03-01"], check=True, capture_output=True)
        sealing = time.perf_counter() - start
        start = time.perf_counter()
        report = verify_tree(source.parent, [keys.load_public_key(pub)], as_of=dt.date(2026, 3, 2))
        verifying = time.perf_counter() - start
        assert report.ok, report.findings
        lines = report.sources[0].lines
    per_gib = GIB / size
    print(f"chain: {size / 2**20:.0f} MiB, {lines} lines ({size / lines:.0f} B/line)")
    print(f"  plain SM3 of the file:        {floor * per_gib:7.1f} s/GiB")
    print(f"  seal (xzgov-log-seal):        {sealing * per_gib:7.1f} s/GiB  ({sealing / floor:.1f}x plain SM3)")
    print(f"  verify (xzgov logs verify):   {verifying * per_gib:7.1f} s/GiB  ({verifying / floor:.1f}x plain SM3)")


# ----------------------------------------------------------------------------------------------- live
def bench_live(messages: int) -> None:
    from tests.hosts.pool import HostPool, HostSpec, ansible_playbook, parse_recap, unavailable_reason
    from tests.secmgmt.test_log_centre_live import today_log
    from tests.secmgmt.zone import Zone, frame, tls_client

    reason = unavailable_reason()
    if reason:
        print(f"live part skipped: {reason}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        pool = HostPool([HostSpec("logc", 3), HostSpec("src-l3", 3)])
        zone = Zone(pool, Path(tmp), centre="logc")
        try:
            pool.start()
            zone.start()
            inventory = zone.write_inventory(Path(tmp) / "hosts.yml")
            start = time.monotonic()
            result = ansible_playbook(inventory)
            print(f"converge (log centre + 1 host): {time.monotonic() - start:.0f} s, rc={result.returncode}, "
                  f"recap={parse_recap(result.stdout)}")
            if result.returncode != 0:
                sys.stderr.write(result.stdout[-4000:])
                return
            latency(zone, today_log)
            ingest(zone, messages, frame, tls_client, today_log)
        finally:
            zone.close()
            pool.close()


def latency(zone, today_log, host_name: str = "src-l3", count: int = 300) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds from send to stored for `count` messages from `host_name`; prints p50 / p99."""
    host = zone.pool.host(host_name)
    script = ("import socket,time\n"
              "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM);s.connect('/dev/log')\n"
              f"for i in range({count}):\n"
              "    s.send(('<14>lat: lat-%d %.6f' % (i, time.time())).encode()); time.sleep(0.02)\n")
    arrivals: dict[int, float] = {}
    sent: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:
        offset = 0
        while not done.is_set() or len(arrivals) < count:
            log = today_log(zone, host_name)
            if log is not None:
                with log.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
                now = time.time()
                cut = data.rfind(b"\n") + 1
                offset += cut
                for line in data[:cut].decode(errors="replace").splitlines():
                    if " lat-" in line:
                        index, stamp = line.split(" lat-", 1)[1].split()[:2]
                        arrivals.setdefault(int(index), now)
                        sent[int(index)] = float(stamp)
            if done.is_set() and time.time() > deadline:
                break
            time.sleep(0.002)

    deadline = time.time() + 120
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    host.ssh(f"python3 -c {subprocess.list2cmdline([script])}", check=True, timeout=120)
    deadline = time.time() + 30
    done.set()
    watcher.join(timeout=40)
    delays = sorted((arrivals[i] - sent[i]) * 1000 for i in arrivals if i in sent)
    if len(delays) < count:
        print(f"latency: only {len(delays)} of {count} messages arrived")
    if delays:
        p50 = statistics.median(delays)
        p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
        print(f"latency logger→stored (journald → rsyslog → TLS → log centre file), {len(delays)} messages: "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (includes ≤ 2 ms polling)")
    return delays


def ingest(zone, messages: int, frame, tls_client, today_log) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """Messages per second stored by the log centre, sent over 1 and 4 mutual-TLS connections."""
    rates: dict[int, float] = {}
    # the centre files a message under the name of its sending address and quarantines one whose HOSTNAME is
    # another's: the runner sends as itself (runner-client), and its lines are told apart by their tag
    source = "runner-client"
    for connections in (1, 4):
        tag = f"ing{connections}-{os.getpid()}-{time.monotonic_ns()}"
        per = messages // connections
        payload = [b"".join(frame(source, f"{tag} {c}-{i} " + "x" * 80) for i in range(per))
                   for c in range(connections)]
        size = sum(len(p) for p in payload)

        def send(data: bytes) -> None:
            with tls_client(zone, zone.certs["runner"]) as conn:
                conn.sendall(data)

        start = time.monotonic()
        threads = [threading.Thread(target=send, args=(p,)) for p in payload]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = per * connections
        stored = 0
        while time.monotonic() - start < 300:
            log = today_log(zone, source)
            stored = log.read_bytes().count(f" {tag} ".encode()) if log is not None else 0
            if stored >= total:
                break
            time.sleep(0.05)
        seconds = time.monotonic() - start
        print(f"ingest, {connections} TLS connection(s): {stored}/{total} stored in {seconds:.2f} s = "
              f"{stored / seconds:,.0f} msg/s, {size / seconds / 2**20:.1f} MiB/s on the wire")
        rates[connections] = stored / seconds if stored >= total else 0.0
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=256, help="size of the synthetic day (MiB)")
    parser.add_argument("--live", action="store_true", help="also boot a log centre and measure latency/ingest")
    parser.add_argument("--messages", type=int, default=100_000, help="messages for the ingest rate")
    args = parser.parse_args()
    bench_chain(args.mib)
    if args.live:
        bench_live(args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())

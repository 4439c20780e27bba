"""Benchmark: end-to-end log latency and the log centre's ingest rate, on booted hosts (needs root).

    sudo .venv/bin/python bench/bench_log_centre.py [--probes 2000] [--interval-ms 10] [--burst 50000]
                                                    [--direct 200000] [--connections 4]

Boots a log centre and one level-3 host forwarding to it (tests/secmgmt/zone.py: the region's PKI, a LAN
between the hosts; the centre converged by playbooks/security_management.yml, the host by roles/log_forwarding
with its client certificate), then measures, each with every line counted at the centre (nothing lost):

- latency: on the host, `logger` is run ``--probes`` times, one every ``--interval-ms``, each line carrying
  the time just before `logger` started (hosts share the runner's clock); the runner follows the centre's
  file for that host and takes the time each line is stored. Path: logger → /dev/log (journald) → rsyslog
  → RFC 5425 TLS → the centre's rsyslog → /var/log/xzgov-centre/HOST/DAY.log. Prints p50 / p99 / max ms.
- burst: ``--burst`` lines written at once into the host's rsyslog socket; lines/s from the first send to
  the last line stored at the centre (the host's forwarding queue and one TLS connection included).
- direct ingest: ``--direct`` lines sent by the runner over ``--connections`` mutual-TLS connections with
  a certificate of the region's CA; lines/s until all are stored (the centre alone).

Exit status: 0 when every line arrived, 1 when lines were lost, 2 when the hosts could not be set up.
"""

from __future__ import annotations

import argparse
import shlex
import ssl
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hosts.pool import HostPool, HostSpec, parse_recap, unavailable_reason  # noqa: E402
from tests.secmgmt.zone import Zone, converge_centre, frame, tls_client  # noqa: E402

CENTRE, SOURCE = "blc", "bfw-l3"


@dataclass
class Follower:
    """Follows the centre's files for one source and notes when each line containing ``needle`` is stored."""

    zone: Zone
    source: str
    needle: str
    arrivals: dict[str, float] = field(default_factory=dict)  # the rest of the line after the needle → time
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Follower:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        offsets: dict[Path, int] = {}
        needle = self.needle.encode()
        directory = self.zone.storage() / self.source
        while not self._stop.is_set():
            for log in sorted(directory.glob("*.log")) if directory.is_dir() else []:
                offset = offsets.get(log, 0)
                with log.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
                now = time.time()
                cut = data.rfind(b"\n") + 1
                offsets[log] = offset + cut
                for line in data[:cut].split(b"\n"):
                    at = line.find(needle)
                    if at >= 0:
                        self.arrivals.setdefault(line[at + len(needle):].decode(errors="replace").strip(), now)
            time.sleep(0.002)

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_latency(zone: Zone, probes: int, interval_ms: float) -> bool:
    host = zone.pool.host(SOURCE)
    tag = f"lat-{uuid.uuid4().hex[:8]}"
    follower = Follower(zone, SOURCE, f"{tag} ").start()
    script = ("import subprocess,time\n"
              f"step={interval_ms / 1000!r}\n"
              "nxt=time.monotonic()\n"
              f"for i in range({probes}):\n"
              f"    subprocess.run(['logger','-t','lat','{tag} %d %.6f' % (i, time.time())],check=True)\n"
              "    nxt+=step\n"
              "    time.sleep(max(0.0,nxt-time.monotonic()))\n")
    host.ssh(f"python3 -c {shlex.quote(script)}", check=True, timeout=probes * interval_ms / 1000 * 4 + 120)
    follower.wait(probes, timeout=60)
    delays = []
    for rest, stored in follower.arrivals.items():
        _index, sent = rest.split()[:2]
        delays.append((stored - float(sent)) * 1000)
    lost = probes - len(delays)
    if delays:
        p50, p99 = statistics.median(delays), percentile(delays, 0.99)
        print(f"latency logger → stored at the centre, {len(delays)}/{probes} probes every {interval_ms:g} ms: "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(delays):.1f} ms (p99/p50 {p99 / p50:.1f}x; "
              f"follower polls every 2 ms); lost {lost}")
    else:
        print(f"latency: none of {probes} probes arrived")
    return lost == 0


def bench_burst(zone: Zone, lines: int) -> tuple[bool, float]:
    host = zone.pool.host(SOURCE)
    tag = f"burst-{uuid.uuid4().hex[:8]}"
    follower = Follower(zone, SOURCE, f"{tag} ").start()
    # into rsyslog's own socket: journald's rate limit is the host's policy, not the centre's capacity
    command = (f"seq 1 {lines} | sed 's/^/{tag} /' > /tmp/{tag} && date +%s.%N && "
               f"logger --socket /run/systemd/journal/syslog -t burst -f /tmp/{tag} && rm /tmp/{tag}")
    sent = host.ssh(command, check=True, timeout=600)
    started = float(sent.stdout.split()[0])
    follower.wait(lines, timeout=600)
    got = {int(k) for k in follower.arrivals if k.isdigit()}
    lost = lines - len(got & set(range(1, lines + 1)))
    last = max(follower.arrivals.values(), default=started)
    rate = len(got) / (last - started) if last > started else 0.0
    print(f"burst host → centre (host rsyslog queue + 1 TLS connection): {len(got)}/{lines} lines stored in "
          f"{last - started:.2f} s = {rate:,.0f} lines/s; lost {lost}")
    return lost == 0, rate


def bench_direct(zone: Zone, lines: int, connections: int) -> tuple[bool, float]:
    source = f"bench-{uuid.uuid4().hex[:6]}"
    tag = "ing"
    per = lines // connections
    total = per * connections
    payloads = [b"".join(frame(source, f"{tag} {c * per + i} " + "x" * 80) for i in range(per))
                for c in range(connections)]
    follower = Follower(zone, source, f"{tag} ").start()
    errors: list[BaseException] = []

    def send(data: bytes) -> None:
        try:
            with tls_client(zone, zone.certs["runner"], timeout=30) as conn:
                conn.sendall(data)
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    started = time.time()
    threads = [threading.Thread(target=send, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    follower.wait(total, timeout=600)
    got = {int(k.split()[0]) for k in follower.arrivals}
    lost = total - len(got & set(range(total)))
    last = max(follower.arrivals.values(), default=started)
    rate = len(got) / (last - started) if last > started else 0.0
    size = sum(len(p) for p in payloads)
    print(f"direct ingest runner → centre, {connections} mutual-TLS connection(s): {len(got)}/{total} lines stored "
          f"in {last - started:.2f} s = {rate:,.0f} lines/s ({size / max(last - started, 1e-9) / 2**20:.1f} MiB/s "
          f"on the wire); lost {lost}{'; send errors: ' + repr(errors) if errors else ''}")
    return lost == 0 and not errors, rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=2000, help="latency probes (one `logger` each)")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="pace of the latency probes")
    parser.add_argument("--burst", type=int, default=50_000, help="lines of the burst from the host (0: skip)")
    parser.add_argument("--direct", type=int, default=200_000, help="lines sent by the runner (0: skip)")
    parser.add_argument("--connections", type=int, default=4, help="TLS connections for the direct ingest")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"bench_log_centre: cannot boot hosts here: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-log-centre-") as tmp:
        pool = HostPool([HostSpec(CENTRE, 3), HostSpec(SOURCE, 3)])
        zone = Zone(pool, Path(tmp), centre=CENTRE)
        try:
            started = time.monotonic()
            pool.start()
            zone.start()
            print(f"booted 2 hosts in {time.monotonic() - started:.0f} s")
            run, seconds = converge_centre(zone, Path(tmp), (SOURCE,))
            print(f"converged log centre + forwarder in {seconds:.0f} s: rc={run.returncode} "
                  f"recap={parse_recap(run.stdout)}")
            if run.returncode != 0:
                sys.stderr.write(run.stdout[-6000:] + run.stderr[-2000:])
                return 2
            warm = Follower(zone, SOURCE, "warm-").start()
            pool.host(SOURCE).ssh("logger -t bench warm-up", check=True)
            warm.wait(1, timeout=60)
            if not warm.arrivals:
                print("bench_log_centre: the host's first line never reached the centre", file=sys.stderr)
                return 2
            ok = bench_latency(zone, args.probes, args.interval_ms)
            burst_rate = direct_rate = 0.0
            if args.burst:
                burst_ok, burst_rate = bench_burst(zone, args.burst)
                ok = ok and burst_ok
            if args.direct:
                direct_ok, direct_rate = bench_direct(zone, args.direct, args.connections)
                ok = ok and direct_ok
            if burst_rate and direct_rate:
                print(f"ratio: centre alone / through one forwarder = {direct_rate / burst_rate:.2f}x")
            with open("/proc/loadavg") as handle:
                print(f"load average at the end: {' '.join(handle.read().split()[:3])} (2 CPUs)")
            return 0 if ok else 1
        finally:
            zone.close()
            pool.close()


if __name__ == "__main__":
    sys.exit(main())

"""Load figures of the crypto service on loopback: requests/s and p50/p99 latency, beside the raw engine.

    .venv/bin/python bench/bench_cryptosvc_load.py [--seconds 5] [--max-requests 20000] [--concurrency 1 8 64]
                                                   [--backend files|postgresql|both]

Starts ``python -m xzgov.cryptosvc`` (uvicorn, one worker) in a subprocess on 127.0.0.1 with a fresh
temporary configuration, creates an SM2 and an SM4 key for a tenant, then for each operation (SM2 sign,
SM2 verify, SM4-GCM envelope encryption of 4 KiB) and each number of concurrent clients runs an
asyncio client (httpx, one connection per client, every request HMAC-SM3 signed with a fresh nonce)
for at most ``--seconds`` seconds and ``--max-requests`` requests. Loopback only; bounded; it stops by
itself. Every answer is checked: status 200, and afterwards every signature is verified locally, every
``verify`` answer must be ``valid: true``, and a sample of envelopes is decrypted by the service and
compared. The raw engine rate (in-process, one thread) and ``openssl speed sm2`` are printed as the
ceiling; then the ratio service / raw engine, and the server's CPU time per request (from /proc: what
one core can serve, 1000 / that, whatever else the machine is doing). Client and server share this
machine's cores.

``--backend postgresql`` keeps the keys and the audit chain in a throwaway local PostgreSQL 15 cluster
(``initdb`` as user postgres, Unix socket only; needs root and Debian's postgresql-15) instead of the files:
the cost of the HA backend on one host (no replica: a synchronous standby adds a network round trip per
commit). Each request commits twice there: its replay nonce (shared by both hosts, before the operation)
and its audit record, both on a worker thread off the event loop. ``--backend both`` runs both and prints
the ratio postgresql / files per cell.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from xzgov.crypto import keys, sm2, sm4
from xzgov.cryptosvc.auth import sign_request
from xzgov.cryptosvc.setup import write_service_files

TENANT, ADMIN = "bench-tenant", "bench-admin"
DATA = b"xzgov crypto service load test" * 4
BLOCK = secrets.token_bytes(4096)


def _transport() -> httpx.AsyncHTTPTransport:
    """TCP_NODELAY: httpx writes headers and body separately; Nagle would hold the body for an ACK."""
    return httpx.AsyncHTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _raw_rate(action: Callable[[], object], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        action()
        count += 1
    return count / (time.perf_counter() - start)


async def _call(http: httpx.AsyncClient, system: str, key: bytes, method: str, path: str, payload: Any = None) -> Any:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = sign_request(system, key, method, path, body)
    headers["content-type"] = "application/json"
    response = await http.request(method, path, content=body, headers=headers)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


async def _run_cell(base: str, key: bytes, path: str, payload: dict[str, Any], clients: int, seconds: float,
                    max_requests: int) -> tuple[list[float], list[Any], int, float]:
    """``clients`` connections, opened and warmed up before the clock starts (making an httpx client
    loads a CA bundle: 64 of them inside the window would measure the client, not the service)."""
    latencies: list[float] = []
    answers: list[Any] = []
    failures = 0
    budget = max_requests
    https = [httpx.AsyncClient(base_url=base, timeout=30.0, transport=_transport()) for _ in range(clients)]
    try:
        await asyncio.gather(*(http.get("/health") for http in https))
        deadline = time.perf_counter() + seconds

        async def worker(http: httpx.AsyncClient) -> None:
            nonlocal budget, failures
            while budget > 0 and time.perf_counter() < deadline:
                budget -= 1
                start = time.perf_counter()
                try:
                    answers.append(await _call(http, TENANT, key, "POST", path, payload))
                except (RuntimeError, httpx.HTTPError):
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for http in https))
        return latencies, answers, failures, time.perf_counter() - start
    finally:
        await asyncio.gather(*(http.aclose() for http in https))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), independent of how busy the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def _bench(args: argparse.Namespace, base: str, hmac_keys: dict[str, bytes], server_pid: int,
                 rates: dict[tuple[str, int], float]) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30.0, transport=_transport()) as http:
        sm2_id = (await _call(http, ADMIN, hmac_keys[ADMIN], "POST", f"/v1/admin/tenants/{TENANT}/keys",
                              {"type": "sm2"}))["key_id"]
        sm4_id = (await _call(http, ADMIN, hmac_keys[ADMIN], "POST", f"/v1/admin/tenants/{TENANT}/keys",
                              {"type": "sm4"}))["key_id"]
        pem = (await _call(http, TENANT, hmac_keys[TENANT], "GET", f"/v1/keys/{sm2_id}/public-key"))["public_key"]
        public = keys.public_key_from_pem(pem)
        data64 = base64.b64encode(DATA).decode()
        signature = (await _call(http, TENANT, hmac_keys[TENANT], "POST", "/v1/sm2/sign",
                                 {"key_id": sm2_id, "data": data64}))["signature"]
    key = hmac_keys[TENANT]
    cells = {
        "sign": ("/v1/sm2/sign", {"key_id": sm2_id, "data": data64}),
        "verify": ("/v1/sm2/verify", {"key_id": sm2_id, "data": data64, "signature": signature}),
        "sm4-4KiB": ("/v1/sm4/encrypt", {"key_id": sm4_id, "plaintext": base64.b64encode(BLOCK).decode()}),
    }
    local = sm2.SM2PrivateKey.generate()
    local_sig = sm2.sign(local, DATA)
    local_sm4 = sm4.generate_key()
    raw = {
        "sign": _raw_rate(lambda: sm2.sign(local, DATA), 2.0),
        "verify": _raw_rate(lambda: sm2.verify(local.public_key, DATA, local_sig), 2.0),
        "sm4-4KiB": _raw_rate(lambda: sm4.gcm_encrypt(sm4.gcm_encrypt(local_sm4, sm4.generate_key()) and local_sm4,
                                                      BLOCK), 2.0),
    }
    speed = subprocess.run(["openssl", "speed", "-seconds", "2", "sm2"], capture_output=True, text=True,
                           check=False).stdout.strip().splitlines()
    print(f"engine: {sm2.ENGINE}; raw in-process (1 thread): sign {raw['sign']:.0f}/s, verify {raw['verify']:.0f}/s, "
          f"SM4-GCM envelope 4 KiB {raw['sm4-4KiB']:.0f}/s")
    if speed:
        print(f"openssl speed sm2: {' '.join(speed[-1].split()[-2:])} (sign/s verify/s)")
    print(f"{'operation':10} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'failed':>6} {'wrong':>6} {'service/raw':>11} {'srv CPU ms/req':>14}")
    bad_total = 0
    for name, (path, payload) in cells.items():
        for clients in args.concurrency:
            cpu_before = _cpu_seconds(server_pid)
            latencies, answers, failures, elapsed = await _run_cell(base, key, path, payload, clients, args.seconds,
                                                                     args.max_requests)
            cpu_ms = (_cpu_seconds(server_pid) - cpu_before) * 1e3 / max(1, len(latencies) + failures)
            wrong = 0
            if name == "sign":
                wrong = sum(not sm2.verify(public, DATA, base64.b64decode(a["signature"])) for a in answers)
            elif name == "verify":
                wrong = sum(a != {"valid": True} for a in answers)
            else:
                async with httpx.AsyncClient(base_url=base, timeout=30.0, transport=_transport()) as http:
                    for answer in answers[:: max(1, len(answers) // 20)]:
                        opened = await _call(http, TENANT, key, "POST", "/v1/sm4/decrypt",
                                             {"envelope": answer["envelope"]})
                        wrong += base64.b64decode(opened["plaintext"]) != BLOCK
            rate = len(latencies) / elapsed
            rates[(name, clients)] = rate
            bad_total += failures + wrong
            print(f"{name:10} {clients:7d} {len(latencies):8d} {rate:8.0f} {_percentile(latencies, 0.5) * 1e3:8.2f} "
                  f"{_percentile(latencies, 0.99) * 1e3:8.2f} {failures:6d} {wrong:6d} {rate / raw[name]:11.2f} "
                  f"{cpu_ms:14.2f}")
    return 1 if bad_total else 0


PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _start_postgres(directory: Path) -> str:
    """A throwaway PostgreSQL 15 cluster on a Unix socket (run as postgres); returns the service's DSN."""
    import shutil

    directory.chmod(0o755)  # the secrets beside it stay 0600/0700 in their own directory
    root = directory / "pg"
    root.mkdir()
    shutil.chown(root, "postgres")
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    shutil.chown(sockets, "postgres")

    def as_postgres(*command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)

    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8")
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(sockets / "log"), "-w", "start", "-o",
                f"-c listen_addresses='' -c unix_socket_directories={sockets}")
    return f"host={sockets} dbname=postgres user=postgres"


def _stop_postgres(directory: Path) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(directory / "pg" / "data"),
                    "-m", "fast", "stop"], check=False, capture_output=True, timeout=120)


def _run_backend(args: argparse.Namespace, backend: str, rates: dict[tuple[str, int], float]) -> int:
    import yaml

    print(f"== backend: {backend}")
    with tempfile.TemporaryDirectory(prefix="xzgov-cryptosvc-bench-") as tmp:
        etc = Path(tmp) / "etc"
        hmac_keys = write_service_files(etc, Path(tmp) / "state", {TENANT: "tenant", ADMIN: "admin"},
                                        checkpoint_every=1000)
        if backend == "postgresql":
            document = yaml.safe_load((etc / "config.yml").read_text())
            document.update(backend="postgresql", database_dsn=_start_postgres(Path(tmp)))
            (etc / "config.yml").write_text(yaml.safe_dump(document))
        port = _free_port()
        server_log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115  # closed below; a pipe would fill up
        server = subprocess.Popen(
            [sys.executable, "-m", "xzgov.cryptosvc", "--config", str(etc / "config.yml"), "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=Path(__file__).resolve().parents[1], stdout=server_log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(base + "/health", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                print("the service did not start", file=sys.stderr)
                return 2
            return asyncio.run(_bench(args, base, hmac_keys, server.pid, rates))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            server_log.close()
            if backend == "postgresql":
                _stop_postgres(Path(tmp))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each cell (bounded)")
    parser.add_argument("--max-requests", type=int, default=20000, help="requests per cell at most")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--backend", choices=["files", "postgresql", "both"], default="files")
    args = parser.parse_args()
    backends = ["files", "postgresql"] if args.backend == "both" else [args.backend]
    rates: dict[str, dict[tuple[str, int], float]] = {}
    worst = 0
    for backend in backends:
        rates[backend] = {}
        worst = max(worst, _run_backend(args, backend, rates[backend]))
    if len(backends) == 2:
        print("ratio postgresql / files (req/s):")
        for cell, files_rate in rates["files"].items():
            ratio = rates["postgresql"].get(cell, float("nan")) / files_rate if files_rate else float("nan")
            print(f"  {cell[0]:10} {cell[1]:3d} clients: {ratio:.2f}")
    return worst


if __name__ == "__main__":
    raise SystemExit(main())

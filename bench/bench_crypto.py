"""Crypto throughput on this machine: xzgov.crypto vs the OpenSSL CLI, on the same data in one run.

    .venv/bin/python bench/bench_crypto.py [--size-mib 256] [--seconds 2]

Prints SM3 MB/s (module, streamed in 4 MiB chunks, vs ``openssl dgst -sm3``), SM4 MB/s (module's
SM4-GCM vs ``openssl enc -sm4-ctr``), and SM2 signatures and verifications per second. Target:
SM3 ratio (openssl speed / module speed) ≤ 1.3.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xzgov.crypto import sm2, sm3, sm4

MIB = 1024 * 1024


def _best(runs: int, action: Callable[[], object]) -> float:
    """Best wall time of ``runs`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each SM2 measurement")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each throughput measurement")
    args = parser.parse_args()
    if not shutil.which("openssl"):
        print("openssl CLI not found", file=sys.stderr)
        return 2
    size = args.size_mib * MIB
    print(f"openssl: {_openssl('version').decode().strip()}; data: {args.size_mib} MiB random, best of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="xzgov-bench-") as tmp:
        path = Path(tmp) / "data.bin"
        with open(path, "wb") as handle:
            for _ in range(args.size_mib):
                handle.write(secrets.token_bytes(MIB))

        ours_digest = sm3.sm3_file(path).hex()
        theirs_digest = _openssl("dgst", "-sm3", "-r", str(path)).decode().split()[0]
        if ours_digest != theirs_digest:
            print("SM3 MISMATCH between module and openssl", file=sys.stderr)
            return 1
        t_ours = _best(args.runs, lambda: sm3.sm3_file(path))
        t_ssl = _best(args.runs, lambda: _openssl("dgst", "-sm3", str(path)))
        ours, theirs = size / t_ours / 1e6, size / t_ssl / 1e6
        print(f"SM3  module (sm3_file, 4 MiB chunks): {ours:8.1f} MB/s")
        print(f"SM3  openssl dgst -sm3              : {theirs:8.1f} MB/s")
        print(f"SM3  ratio openssl/module           : {theirs / ours:8.2f}  (target <= 1.30) "
              f"{'OK' if theirs / ours <= 1.3 else 'ABOVE TARGET'}")

        data = path.read_bytes()
        key, iv = secrets.token_bytes(16), secrets.token_bytes(16)
        t_gcm = _best(args.runs, lambda: sm4.gcm_encrypt(key, data))
        t_ctr = _best(args.runs, lambda: _openssl("enc", "-sm4-ctr", "-K", key.hex(), "-iv", iv.hex(),
                                                  "-in", str(path), "-out", os.devnull))
        gcm, ctr = size / t_gcm / 1e6, size / t_ctr / 1e6
        print(f"SM4  module SM4-GCM (gcm_encrypt)   : {gcm:8.1f} MB/s")
        print(f"SM4  openssl enc -sm4-ctr           : {ctr:8.1f} MB/s")
        print(f"SM4  ratio openssl-CTR/module-GCM   : {ctr / gcm:8.2f}  (GCM also authenticates)")

    signer = sm2.SM2PrivateKey.generate()
    message = b"xzgov signed evidence bundle manifest" * 8
    signatures = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        signature = sm2.sign(signer, message)
        signatures += 1
    sign_rate = signatures / (time.perf_counter() - start)
    verifications = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        assert sm2.verify(signer.public_key, message, signature)
        verifications += 1
    verify_rate = verifications / (time.perf_counter() - start)
    print(f"SM2  module sign (hedged nonce)     : {sign_rate:8.1f} /s")
    print(f"SM2  module verify                  : {verify_rate:8.1f} /s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

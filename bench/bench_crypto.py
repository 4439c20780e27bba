"""Crypto throughput on this machine: xzgov.crypto vs the OpenSSL CLI, on the same data in one run.

    .venv/bin/python bench/bench_crypto.py [--size-mib 256] [--seconds 2]

Prints SM3 MB/s (module, streamed in 4 MiB chunks, vs ``openssl dgst -sm3``), SM4 MB/s (module's
SM4-GCM vs ``openssl enc -sm4-ctr``), and SM2 signatures and verifications per second: the module's
engine (OpenSSL 3 via cffi) beside gmssl 3.2.2 (pure Python), with ``openssl speed sm2`` for reference. Target:
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


def _module_sign(key: sm2.SM2PrivateKey, message: bytes) -> bytes:
    return sm2.sign(key, message)


def _module_verify(key: sm2.SM2PrivateKey, message: bytes, signature: bytes) -> bool:
    return sm2.verify(key.public_key, message, signature)


def _gmssl_pair(key: sm2.SM2PrivateKey) -> tuple[Callable[[sm2.SM2PrivateKey, bytes], bytes],
                                                  Callable[[sm2.SM2PrivateKey, bytes, bytes], bool]]:
    """gmssl's own sign/verify over e = SM3(Z || M) (Z and e by the module, nonce from secrets)."""
    from gmssl import sm2 as gmssl_sm2

    engine = gmssl_sm2.CryptSM2(private_key=f"{key.d:064x}", public_key="")
    engine.public_key = key.public_key.to_hex()  # not through gmssl's lstrip("04")

    def sign(k: sm2.SM2PrivateKey, message: bytes) -> bytes:
        e = sm2.message_digest(k.public_key, message)
        result = engine.sign(e, f"{secrets.randbelow(sm2.N - 1) + 1:064x}")
        return bytes.fromhex(result)

    def verify(k: sm2.SM2PrivateKey, message: bytes, signature: bytes) -> bool:
        return bool(engine.verify(signature.hex(), sm2.message_digest(k.public_key, message)))

    return sign, verify


def _sm2_rates(key: sm2.SM2PrivateKey, message: bytes, seconds: float,
               sign: Callable[[sm2.SM2PrivateKey, bytes], bytes],
               verify: Callable[[sm2.SM2PrivateKey, bytes, bytes], bool]) -> tuple[float, float]:
    signatures = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        signature = sign(key, message)
        signatures += 1
    sign_rate = signatures / (time.perf_counter() - start)
    verifications = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if not verify(key, message, signature):
            raise SystemExit("SM2 verification failed in the benchmark")
        verifications += 1
    return sign_rate, verifications / (time.perf_counter() - start)


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
    rates = {name: _sm2_rates(signer, message, args.seconds, sign, verify) for name, (sign, verify) in
             {f"module ({sm2.ENGINE})": (_module_sign, _module_verify), "gmssl 3.2.2": _gmssl_pair(signer)}.items()}
    for name, (sign_rate, verify_rate) in rates.items():
        print(f"SM2  {name + ' sign':31}: {sign_rate:8.1f} /s")
        print(f"SM2  {name + ' verify':31}: {verify_rate:8.1f} /s")
    (ours_s, ours_v), (g_s, g_v) = rates.values()
    print(f"SM2  ratio module/gmssl             : sign {ours_s / g_s:5.1f}x, verify {ours_v / g_v:5.1f}x")
    speed = subprocess.run(["openssl", "speed", "-seconds", str(max(1, int(args.seconds))), "sm2"],
                           capture_output=True, text=True, check=False).stdout.strip().splitlines()
    if speed:
        print(f"SM2  openssl speed sm2 (reference)  : {' '.join(speed[-1].split()[-2:])} (sign/s verify/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

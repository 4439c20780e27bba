#!/usr/bin/python3
"""Load sysctl values that this kernel has; report the ones it does not have (xzgov os_hardening).

    xzgov-sysctl-apply.py '<json {key: value}>' [--dry-run]

Unlike `sysctl -p`, a key missing from the running kernel (kernel.sysrq, kernel.yama.ptrace_scope or
net.core.bpf_jit_harden on some kernels, per-namespace views) is not an error: it is listed under
"missing" and the others are still applied. Prints one JSON object {written, missing, failed}; exit 0.
Only values that differ are written, so a second run writes nothing.
"""
import json
import os
import sys


def proc_path(key: str) -> str:
    """The key's path under /proc/sys as sysctl(8) and systemd-sysctl read it: when its first separator is a dot,
    dots and slashes swap (net.ipv4.conf.eth0/100.rp_filter is the VLAN eth0.100); else the slashes are the path."""
    first = min((key.find(c) for c in "./" if c in key), default=-1)
    if first < 0 or key[first] == "/":
        return key
    return key.translate(str.maketrans("./", "/."))


def main() -> int:
    wanted = json.loads(sys.argv[1])
    dry_run = "--dry-run" in sys.argv[2:]
    result = {"written": [], "missing": [], "failed": []}
    for key in sorted(wanted):
        value = " ".join(str(wanted[key]).split())
        path = "/proc/sys/" + proc_path(key)
        if not os.path.exists(path):
            result["missing"].append(key)
            continue
        try:
            with open(path, encoding="ascii") as handle:
                current = " ".join(handle.read().split())
        except OSError as error:
            result["failed"].append(f"{key}: {error.strerror}")
            continue
        if current == value:
            continue
        if not dry_run:
            try:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(value)
            except OSError as error:
                result["failed"].append(f"{key}: {error.strerror} (wanted {value}, is {current})")
                continue
        result["written"].append(key)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A VM-like run: kernel-wide sysctls applied on a kernel that lacks some keys (issue 17, defect 2).

`sysctl -p` exits 1 on the first key the running kernel lacks (kernel.sysrq, kernel.yama.ptrace_scope,
net.core.bpf_jit_harden on some kernels), which failed run 1 before the firewall and SSH roles, and run 2
hid it. The roles now load what exists, report what does not, and leave no failed handler behind.

The test host is a container: its kernel-wide values belong to the runner's kernel (read-only), so the run
applies a kernel set made of keys that are real but per network namespace (writable in the container),
one key that genuinely does not exist in a network namespace (net.core.bpf_jit_harden) and one simulated
absent key. Afterwards the host gets its normal configuration back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, ansible_playbook, parse_recap

pytestmark = pytest.mark.hosts

SIMULATED_ABSENT = "kernel.xzgov_simulated_absent_key"
VM_LIKE = {
    "os_hardening_sysctl_apply_kernel": True,
    "os_hardening_sysctl_kernel": {
        "net.core.somaxconn": 1024,  # per network namespace: writable inside the container
        "net.ipv4.tcp_rfc1337": 1,
        "net.core.bpf_jit_harden": 2,  # exists only in the initial network namespace
        SIMULATED_ABSENT: 1,
    },
}


@pytest.fixture(scope="module")
def vm_host(host_pool: HostPool, hosts_inventory: Path) -> Iterator[TestHost]:
    host = host_pool.hosts[0]
    host.sudo("sysctl -w net.core.somaxconn=4000", check=True)  # so that the run has something to write
    yield host
    # restore the normal kernel file (the container does not load kernel-wide values)
    restored = ansible_playbook(hosts_inventory, "--limit", host.name, "--tags", "sysctl")
    assert restored.returncode == 0, restored.stdout[-3000:]


def _run(inventory: Path, host: TestHost) -> tuple[int, str, dict[str, int]]:
    result = ansible_playbook(inventory, "--limit", host.name, "--tags", "sysctl", "-e", json.dumps(VM_LIKE))
    return result.returncode, result.stdout, parse_recap(result.stdout).get(host.name, {})


def test_kernel_sysctls_load_on_a_kernel_missing_keys(vm_host: TestHost, hosts_inventory: Path) -> None:
    rc, out, recap = _run(hosts_inventory, vm_host)
    assert rc == 0 and recap.get("failed") == 0, out[-4000:]
    flat = " ".join(out.split())
    # what exists was applied ...
    assert vm_host.sudo("sysctl -n net.core.somaxconn").stdout.strip() == "1024"
    assert re.search(r"changed: \[[^\]]+\] => \(item=kernel\)", out), out[-4000:]
    # ... what does not is reported as not applicable, and the file keeps it for kernels that have it
    assert "the running kernel has no" in flat and SIMULATED_ABSENT in flat, flat[-3000:]
    assert "net.core.bpf_jit_harden" in flat.split("the running kernel has no", 1)[1][:300]
    conf = vm_host.sudo("cat /etc/sysctl.d/60-xzgov-kernel.conf").stdout
    assert f"{SIMULATED_ABSENT} = 1" in conf
    # no handler is left to fail or to be hidden by run 2: the loader runs and checks on every run
    assert "RUNNING HANDLER [os_hardening : Load kernel sysctls]" not in out

    rc2, out2, recap2 = _run(hosts_inventory, vm_host)
    assert rc2 == 0 and recap2.get("changed") == 0 and recap2.get("failed") == 0, out2[-4000:]
    assert "the running kernel has no" in " ".join(out2.split())


def test_a_key_that_cannot_be_written_fails_the_run(vm_host: TestHost, hosts_inventory: Path) -> None:
    # kernel.randomize_va_space exists but belongs to the runner's kernel (read-only in the container):
    # a real write failure must still fail, with the key named, rather than be skipped like a missing key.
    current = vm_host.sudo("cat /proc/sys/kernel/randomize_va_space").stdout.strip()
    wanted = "1" if current != "1" else "0"
    extra = {"os_hardening_sysctl_apply_kernel": True,
             "os_hardening_sysctl_kernel": {"kernel.randomize_va_space": int(wanted)}}
    result = ansible_playbook(hosts_inventory, "--limit", vm_host.name, "--tags", "sysctl", "-e", json.dumps(extra))
    assert result.returncode != 0
    assert "kernel.randomize_va_space: " in result.stdout, result.stdout[-3000:]
    assert vm_host.sudo("cat /proc/sys/kernel/randomize_va_space").stdout.strip() == current

"""site.yml rolls out in batches: a host that fails in batch 2 stops the rollout before batch 3 (issue 16).

Four level-3 hosts, batches of 1, 1 and 2 (`xzgov_rollout_batches`), `max_fail_percentage` at its default 0.
The failure is real, not a switch in the playbook: on the batch-2 host the directory the os_hardening role
must write (/etc/sysctl.d) is made immutable from the runner (`chattr +i`, which the container cannot undo),
as a locked configuration directory on a production host would be. To stay inside the time budget only the
quick `sysctl` part of os_hardening runs (plus the `always` tasks: contract check, apt index, operator guard,
argument specs).

Checked on the hosts themselves: the batch-1 host is converged, the batch-2 host failed, the batch-3 hosts
got nothing (no task of the level play ran on them, no file was written) and the run exits non-zero. Then
the cause is removed and the same command converges every host, with nothing left to change on batch 1.
Last, the batch-2 host cannot be reached (its SSH port is wrong in the inventory): Ansible counts unreachable
hosts apart from failed ones and ``max_fail_percentage`` sees only the failed, so the level plays reach each
host in a task of their own (``wait_for_connection``) — the rollout stops there too.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, HostSpec, ansible_playbook, booted, parse_recap, unavailable_reason

pytestmark = pytest.mark.hosts

NAMES = ("rb-1", "rb-2", "rb-3", "rb-4")
BATCHES = {"xzgov_rollout_batches": [1, 1, 2]}
LEVEL3_PLAY = "PLAY [Harden 等保 level 3 hosts"
LATER_PLAY = "PLAY [Deploy the crypto service"  # imported last by site.yml: must not start after a stop
WRITTEN = "/etc/sysctl.d/60-xzgov-network.conf"
LOCKED_DIR = "etc/sysctl.d"


@dataclass
class Run:
    returncode: int
    out: str
    recap: dict[str, dict[str, int]]

    def batches(self) -> list[set[str]]:
        """Hosts that ran tasks in each batch of the level-3 play (one `PLAY [...]` header per batch)."""
        segments = self.out.split(LEVEL3_PLAY)[1:]
        result = []
        for segment in segments:
            segment = segment.split("PLAY [", 1)[0].split("PLAY RECAP", 1)[0]
            result.append(set(re.findall(r"^(?:ok|changed|fatal|failed|skipping): \[([^\]\s]+)", segment, re.M)))
        return result


def _run(inventory: Path) -> Run:
    result = ansible_playbook(inventory, "--tags", "sysctl", "-e", json.dumps(BATCHES), timeout=1200)
    out = result.stdout + result.stderr
    return Run(result.returncode, out, parse_recap(result.stdout))


def _has(host: TestHost, path: str) -> bool:
    return host.sudo(f"test -e {path}").returncode == 0


def _chattr(host: TestHost, flag: str) -> None:
    subprocess.run(["chattr", flag, str(host.root / LOCKED_DIR)], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def rollout_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostPool, Path]]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with booted([HostSpec(name, 3) for name in NAMES]) as pool:
        inventory = pool.write_inventory(tmp_path_factory.mktemp("rollout") / "hosts.yml")
        yield pool, inventory
        for host in pool.hosts:  # never leave an immutable directory behind (rmtree of the copy)
            subprocess.run(["chattr", "-i", str(host.root / LOCKED_DIR)], capture_output=True)


@pytest.fixture(scope="module")
def failed_run(rollout_pool: tuple[HostPool, Path]) -> Run:
    pool, inventory = rollout_pool
    broken = pool.host("rb-2")
    (broken.root / LOCKED_DIR).mkdir(exist_ok=True)
    _chattr(broken, "+i")
    for host in pool.hosts:
        assert not _has(host, WRITTEN), f"{host.name}: {WRITTEN} exists before the rollout"
    return _run(inventory)


def test_a_failed_host_in_batch_2_stops_batch_3(rollout_pool: tuple[HostPool, Path], failed_run: Run) -> None:
    pool, _ = rollout_pool
    run, tail = failed_run, failed_run.out[-5000:]
    assert run.returncode != 0, tail
    # batch 1 = the canary, batch 2 = the broken host, and no third batch started
    assert run.batches() == [{"rb-1"}, {"rb-2"}], (run.batches(), tail)
    assert LATER_PLAY not in run.out, tail  # the rest of site.yml did not run either
    # batch 1: converged
    assert run.recap["rb-1"]["failed"] == 0 and run.recap["rb-1"]["changed"] > 0, run.recap
    assert _has(pool.host("rb-1"), WRITTEN)
    assert "net.ipv4.conf.all.accept_redirects = 0" in pool.host("rb-1").sudo(f"cat {WRITTEN}").stdout
    # batch 2: failed on the write it could not do ("Destination /etc/sysctl.d not writable")
    assert run.recap["rb-2"]["failed"] == 1, run.recap
    assert "fatal: [rb-2]" in run.out, tail
    assert "/etc/sysctl.d not writable" in run.out.split("fatal: [rb-2]", 1)[1][:1000], tail
    assert not _has(pool.host("rb-2"), WRITTEN)
    # batch 3: untouched; only the read-only contract check (gather_facts off, before the level plays) ran
    for name in ("rb-3", "rb-4"):
        counts = run.recap[name]
        assert (counts["ok"], counts["changed"], counts["failed"]) == (1, 0, 0), run.recap  # the contract check only
        assert not _has(pool.host(name), WRITTEN)
        assert not _has(pool.host(name), "/usr/local/sbin/xzgov-sysctl-apply")


def test_after_the_fix_the_same_rollout_converges_every_host(
    rollout_pool: tuple[HostPool, Path], failed_run: Run
) -> None:
    pool, inventory = rollout_pool
    _chattr(pool.host("rb-2"), "-i")  # the operator removes the cause
    run = _run(inventory)
    tail = run.out[-5000:]
    assert run.returncode == 0, tail
    assert run.batches() == [{"rb-1"}, {"rb-2"}, {"rb-3", "rb-4"}], (run.batches(), tail)
    assert LATER_PLAY in run.out, tail
    assert all(run.recap[name]["failed"] == 0 for name in NAMES), run.recap
    assert run.recap["rb-1"]["changed"] == 0, run.recap  # batch 1 was left consistent: nothing to redo
    for name in NAMES:
        assert _has(pool.host(name), WRITTEN), name


def test_an_unreachable_host_in_batch_2_stops_batch_3(
    rollout_pool: tuple[HostPool, Path], failed_run: Run, tmp_path: Path
) -> None:
    pool, _ = rollout_pool
    # the same hosts, rb-2 behind a closed port (an SSH daemon down, a host switched off)
    inventory = pool.write_inventory(tmp_path / "hosts.yml", extra_host_vars={"rb-2": {"ansible_port": 1}})
    result = ansible_playbook(inventory, "--tags", "sysctl", "-e", json.dumps(BATCHES),
                              "-e", "xzgov_rollout_connect_timeout=10", timeout=1200)
    run = Run(result.returncode, result.stdout + result.stderr, parse_recap(result.stdout))
    tail = run.out[-5000:]
    assert run.returncode != 0, tail
    assert run.batches() == [{"rb-1"}, {"rb-2"}], (run.batches(), tail)  # no third batch
    assert LATER_PLAY not in run.out, tail
    assert run.recap["rb-2"]["failed"] == 1 and run.recap["rb-2"]["unreachable"] == 0, run.recap
    assert "fatal: [rb-2]" in run.out and "timed out waiting for ping module test" in run.out, tail
    for name in ("rb-3", "rb-4"):  # the contract check only
        counts = run.recap[name]
        assert (counts["ok"], counts["changed"], counts["failed"]) == (1, 0, 0), run.recap

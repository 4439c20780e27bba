"""site.yml rolls out in batches: a host that fails in batch 2 stops the rollout before batch 3 (issue 16).

Four level-3 hosts, batches of 1, 2 and 1 (`xzgov_rollout_batches`), the failure tolerance at its default 0.
The failure is real, not a switch in the playbook: on the batch-2 host rb-2 the directory the os_hardening role
must write (/etc/sysctl.d) is made immutable from the runner (`chattr +i`, which the container cannot undo),
as a locked configuration directory on a production host would be. To stay inside the time budget only the
quick `journald` part of log_forwarding and the `sysctl` part of os_hardening run (plus the `always` tasks:
contract check, apt index, operator guard, argument specs, the batch gate).

The journald part writes a drop-in and notifies a handler (restart journald) before the sysctl write fails: a
failed host with a handler pending is the case Ansible's own ``max_fail_percentage`` does not count when
``force_handlers`` is on (ansible/ansible#36308) — with it the rollout went on into batch 3 — and when it does
count, it leaves the batch's other hosts with their handlers never run. Checked on the hosts themselves: the
batch-1 host is converged; in batch 2 rb-2 failed and rb-3 finished the play, and both ran their handler
(journald restarted: a new invocation id); the batch-3 host got nothing (no task of the level play ran on it,
no file was written, journald untouched) and the run exits non-zero. Then the cause is removed and the same
command converges every host, with nothing left to change on batch 1 or on rb-3. Last, the batch-2 host cannot
be reached (its SSH port is wrong in the inventory): the level plays reach each host in a task of their own
(``wait_for_connection``), so it fails like any other host — the rollout stops there too.
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
BATCHES = {"xzgov_rollout_batches": [1, 2, 1]}
LEVEL3_PLAY = "PLAY [Harden 等保 level 3 hosts"
LATER_PLAY = "PLAY [Deploy the crypto service"  # imported last by site.yml: must not start after a stop
WRITTEN = "/etc/sysctl.d/60-xzgov-network.conf"
JOURNALD_DROP_IN = "/etc/systemd/journald.conf.d/60-xzgov.conf"  # its handler restarts journald
GATE = "Rollout stopped: 1 of 2 hosts of this batch failed or could not be reached (rb-2)"
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
    result = ansible_playbook(inventory, "--tags", "journald,sysctl", "-e", json.dumps(BATCHES), timeout=1200)
    out = result.stdout + result.stderr
    return Run(result.returncode, out, parse_recap(result.stdout))


def _has(host: TestHost, path: str) -> bool:
    return host.sudo(f"test -e {path}").returncode == 0


def _journald_run(host: TestHost) -> str:
    """The invocation id of the running journald: a new one after each restart."""
    return host.sudo("systemctl show -p InvocationID --value systemd-journald").stdout.strip()


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


@dataclass
class FailedRun:
    run: Run
    journald_before: dict[str, str]
    journald_after: dict[str, str]


@pytest.fixture(scope="module")
def failed_run(rollout_pool: tuple[HostPool, Path]) -> FailedRun:
    pool, inventory = rollout_pool
    broken = pool.host("rb-2")
    (broken.root / LOCKED_DIR).mkdir(exist_ok=True)
    _chattr(broken, "+i")
    for host in pool.hosts:
        assert not _has(host, WRITTEN), f"{host.name}: {WRITTEN} exists before the rollout"
        assert not _has(host, JOURNALD_DROP_IN), f"{host.name}: {JOURNALD_DROP_IN} exists before the rollout"
    before = {host.name: _journald_run(host) for host in pool.hosts}
    assert all(before.values()), before
    run = _run(inventory)
    return FailedRun(run, before, {host.name: _journald_run(host) for host in pool.hosts})


def test_a_failed_host_in_batch_2_stops_batch_3(rollout_pool: tuple[HostPool, Path], failed_run: FailedRun) -> None:
    pool, _ = rollout_pool
    run, tail = failed_run.run, failed_run.run.out[-5000:]
    assert run.returncode != 0, tail
    # batch 1 = the canary, batch 2 = the broken host and rb-3, and no third batch started
    assert run.batches() == [{"rb-1"}, {"rb-2", "rb-3"}], (run.batches(), tail)
    assert LATER_PLAY not in run.out, tail  # the rest of site.yml did not run either
    assert GATE in run.out, tail  # the batch gate names the failed host
    # batch 1: converged, its handler ran
    assert run.recap["rb-1"]["failed"] == 0 and run.recap["rb-1"]["changed"] > 0, run.recap
    assert _has(pool.host("rb-1"), WRITTEN)
    assert "net.ipv4.conf.all.accept_redirects = 0" in pool.host("rb-1").sudo(f"cat {WRITTEN}").stdout
    # batch 2: rb-2 failed on the write it could not do ("Destination /etc/sysctl.d not writable")
    assert "fatal: [rb-2]" in run.out, tail
    assert "/etc/sysctl.d not writable" in run.out.split("fatal: [rb-2]", 1)[1][:1000], tail
    assert not _has(pool.host("rb-2"), WRITTEN)
    # ... and rb-3 finished the play (the gate that stopped the run is its only failure)
    assert _has(pool.host("rb-3"), WRITTEN)
    assert run.recap["rb-2"]["failed"] == 1 and run.recap["rb-3"]["failed"] == 1, run.recap
    # every host that changed its journald drop-in ran the handler, the failed one included: none is left with a
    # written configuration its service never loaded
    for name in ("rb-1", "rb-2", "rb-3"):
        assert _has(pool.host(name), JOURNALD_DROP_IN), name
        assert failed_run.journald_after[name] != failed_run.journald_before[name], (name, tail)
    # batch 3: untouched; only the read-only contract check (gather_facts off, before the level plays) ran
    counts = run.recap["rb-4"]
    assert (counts["ok"], counts["changed"], counts["failed"]) == (1, 0, 0), run.recap  # the contract check only
    rb4 = pool.host("rb-4")
    assert not _has(rb4, WRITTEN) and not _has(rb4, JOURNALD_DROP_IN)
    assert not _has(rb4, "/usr/local/sbin/xzgov-sysctl-apply")
    assert failed_run.journald_after["rb-4"] == failed_run.journald_before["rb-4"]


def test_after_the_fix_the_same_rollout_converges_every_host(
    rollout_pool: tuple[HostPool, Path], failed_run: FailedRun
) -> None:
    pool, inventory = rollout_pool
    _chattr(pool.host("rb-2"), "-i")  # the operator removes the cause
    run = _run(inventory)
    tail = run.out[-5000:]
    assert run.returncode == 0, tail
    assert run.batches() == [{"rb-1"}, {"rb-2", "rb-3"}, {"rb-4"}], (run.batches(), tail)
    assert LATER_PLAY in run.out, tail
    assert all(run.recap[name]["failed"] == 0 for name in NAMES), run.recap
    # batch 1 and the host of the stopped batch that did not fail were left consistent: nothing to redo
    assert run.recap["rb-1"]["changed"] == 0 and run.recap["rb-3"]["changed"] == 0, run.recap
    for name in NAMES:
        assert _has(pool.host(name), WRITTEN), name


def test_an_unreachable_host_in_batch_2_stops_batch_3(
    rollout_pool: tuple[HostPool, Path], failed_run: FailedRun, tmp_path: Path
) -> None:
    pool, _ = rollout_pool
    # the same hosts, rb-2 behind a closed port (an SSH daemon down, a host switched off)
    inventory = pool.write_inventory(tmp_path / "hosts.yml", extra_host_vars={"rb-2": {"ansible_port": 1}})
    result = ansible_playbook(inventory, "--tags", "journald,sysctl", "-e", json.dumps(BATCHES),
                              "-e", "xzgov_rollout_connect_timeout=10", timeout=1200)
    run = Run(result.returncode, result.stdout + result.stderr, parse_recap(result.stdout))
    tail = run.out[-5000:]
    assert run.returncode != 0, tail
    assert run.batches() == [{"rb-1"}, {"rb-2", "rb-3"}], (run.batches(), tail)  # no third batch
    assert LATER_PLAY not in run.out, tail
    assert GATE in run.out, tail
    assert run.recap["rb-2"]["failed"] == 1 and run.recap["rb-2"]["unreachable"] == 0, run.recap
    assert "fatal: [rb-2]" in run.out and "timed out waiting for ping module test" in run.out, tail
    counts = run.recap["rb-4"]  # the contract check only
    assert (counts["ok"], counts["changed"], counts["failed"]) == (1, 0, 0), run.recap

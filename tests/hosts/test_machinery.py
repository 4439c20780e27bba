"""The test-host machinery itself: boot, SSH, apt through the runner-side proxy, isolation, cleanup."""

from __future__ import annotations

import http.client
import subprocess

import pytest

from tests.hosts import netns, nspawn
from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, HostSpec, unavailable_reason

pytestmark = pytest.mark.hosts


def test_hosts_answer_over_ssh_as_the_operator(booted_hosts: list[TestHost]) -> None:
    for host in booted_hosts:
        result = host.ssh("id -un; hostname; systemctl is-system-running --wait || true")
        assert result.returncode == 0, result.stderr
        user, hostname, *_ = result.stdout.split()
        assert (user, hostname) == (host.ssh_user, host.name)
        assert host.sudo("id -u").stdout.strip() == "0"


def test_hosts_have_no_route_beyond_their_veth(booted_hosts: list[TestHost]) -> None:
    for host in booted_hosts:
        routes = host.ssh("ip -4 route show").stdout
        assert "default" not in routes
        assert host.link.subnet in routes


def test_apt_works_through_the_runner_proxy(host_pool: HostPool, booted_hosts: list[TestHost]) -> None:
    host = booted_hosts[0]
    result = host.sudo("apt-get update -q && apt-get install -y -q --no-install-recommends file", timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert host.ssh("command -v file").returncode == 0
    assert host_pool.apt_proxy is not None
    hits, misses = host_pool.apt_proxy.stats
    assert hits + misses > 0


def test_apt_proxy_forwards_only_to_debian_mirrors(booted_hosts: list[TestHost]) -> None:
    host = booted_hosts[0]
    conn = http.client.HTTPConnection(host.runner_address, 3142, timeout=10)
    conn.request("GET", "http://example.org/")
    response = conn.getresponse()
    assert response.status == 403
    conn.close()


def test_pool_teardown_leaves_nothing_behind() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    pool = HostPool([HostSpec("cleanup-probe", 2)])
    try:
        (host,) = pool.start()
        assert host.ssh("true").returncode == 0
        process, link, workdir = host.process, host.link, pool.workdir
    finally:
        pool.close()
    assert process is not None and process.poll() is not None
    assert link.netns not in netns.leftover_namespaces(pool.session)
    links = subprocess.run(["ip", "-o", "link", "show"], text=True, capture_output=True, check=True).stdout
    assert link.runner_if not in links
    assert not workdir.exists()


def test_a_host_that_went_down_is_booted_again_and_the_failure_is_explained() -> None:
    """The pool's second boot: the first wait fails (container powered off), with its console in the error."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    pool = HostPool([HostSpec("reboot-probe", 2)])
    try:
        (host,) = pool.start()
        nspawn.shutdown(host)
        with pytest.raises(nspawn.BootError, match=r"(?s)reboot-probe: systemd-nspawn exited early.*console"):
            nspawn.wait_for_ssh(host, timeout=5)
        nspawn.boot_and_wait(host, timeout=120, attempts=2)
        assert host.ssh("hostname").stdout.strip() == "reboot-probe"
    finally:
        pool.close()


def test_a_host_whose_power_off_hangs_is_killed_whole() -> None:
    """SIGKILL of systemd-nspawn alone leaves the container's init running with no parent (leaked per run).

    A unit whose stop never ends holds the power-off past the grace period; after `shutdown` nothing may be
    left in the host's network namespace (the orphaned init was).
    """
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    pool = HostPool([HostSpec("hang-probe", 2)])
    try:
        (host,) = pool.start()
        hang = (
            "systemd-run --unit=xz-hang-on-stop --property=TimeoutStopSec=infinity"
            " --property=ExecStop='/bin/sleep 600' /bin/sleep infinity"
        )
        assert host.sudo(hang).returncode == 0
        nspawn.shutdown(host, grace=3)
        assert host.process is not None and host.process.poll() is not None
        assert nspawn.processes_in_namespace(host.link.netns) == []
    finally:
        pool.close()

